/* MaxPool (with indices, storage_order), AveragePool (count_include_pad), LpPool, ceil_mode, dilations,
 * auto_pad, the Global pools, MaxUnpool and LRN against naive double references. */
#include "backends/cpu/gemm.h"
#include "linalg_testutil.h"

typedef struct pspec {
    const char *op;
    int nsp;
    int64_t n, c, in[3], k[3], s[3], d[3], pads[6];
    const char *auto_pad;
    int ceil_mode, count_include_pad, storage_order;
    double p;
    kiln_dtype dt;
} pspec;

static void out_dim(const pspec *c, int i, int64_t *out, int64_t *pb, int64_t *pe) {
    int64_t dk = (c->k[i] - 1) * c->d[i] + 1, s = c->s[i], in = c->in[i];
    if (c->auto_pad && !strcmp(c->auto_pad, "VALID")) {
        *pb = *pe = 0;
        *out = (in - dk) / s + 1;
    } else if (c->auto_pad) {
        *out = (in + s - 1) / s;
        int64_t total = (*out - 1) * s + dk - in;
        if (total < 0) total = 0;
        *pb = !strcmp(c->auto_pad, "SAME_UPPER") ? total / 2 : total - total / 2;
        *pe = total - *pb;
    } else {
        *pb = c->pads[i];
        *pe = c->pads[c->nsp + i];
        double f = (double)(in + *pb + *pe - dk) / (double)s + 1;
        *out = c->ceil_mode ? (int64_t)ceil(f) : (int64_t)floor(f);
        if (c->ceil_mode && (*out - 1) * s >= in + *pb) (*out)--;
    }
}

static int no_indices; /* run MaxPool with the Y output only (its vector path) */

static void check_pool(const pspec *c) {
    int rank = c->nsp + 2;
    int64_t xd[5] = {c->n, c->c}, yd[5] = {c->n, c->c}, pb[3], pe[3];
    for (int i = 0; i < c->nsp; i++) {
        xd[2 + i] = c->in[i];
        out_dim(c, i, &yd[2 + i], &pb[i], &pe[i]);
    }
    int is_max = !strcmp(c->op, "MaxPool"), is_lp = !strcmp(c->op, "LpPool"), want_ind = is_max && !no_indices;
    lt_tensor x = kiln_dtype_is_float(c->dt) ? lt_rand(c->dt, rank, xd, -2, 2) : lt_rand(c->dt, rank, xd, 0, 255);
    int64_t ny = kiln_numel(rank, yd), plane = ny / (c->n * c->c), isz = 1, ksz = 1;
    for (int i = 0; i < c->nsp; i++) isz *= c->in[i], ksz *= c->k[i];
    double *ref = malloc(sizeof(double) * (size_t)ny), *iref = malloc(sizeof(double) * (size_t)ny);
    for (int64_t nc = 0; nc < c->n * c->c; nc++)
        for (int64_t op = 0; op < plane; op++) {
            int64_t o[3], r = op;
            for (int i = c->nsp - 1; i >= 0; i--) o[i] = r % yd[2 + i], r /= yd[2 + i];
            double best = -INFINITY, sum = 0;
            int64_t taps = 0, padded = 0, best_at = -1, best_col = -1;
            for (int64_t kk = 0; kk < ksz; kk++) {
                int64_t kidx[3], q = kk, off = 0, coff = 0, mul = 1;
                int inside = 1, in_padded = 1;
                for (int i = c->nsp - 1; i >= 0; i--) kidx[i] = q % c->k[i], q /= c->k[i];
                for (int i = 0; i < c->nsp; i++) {
                    int64_t pos = o[i] * c->s[i] - pb[i] + kidx[i] * c->d[i];
                    inside &= pos >= 0 && pos < c->in[i];
                    in_padded &= pos < c->in[i] + pe[i];
                    off = off * c->in[i] + pos;
                }
                for (int i = 0; i < c->nsp; i++) {
                    int64_t pos = o[i] * c->s[i] - pb[i] + kidx[i] * c->d[i];
                    coff += pos * mul;
                    mul *= c->in[i];
                }
                padded += in_padded;
                if (!inside) continue;
                double v = x.v[nc * isz + off];
                taps++;
                if (v > best) best = v, best_at = off, best_col = coff;
                sum += is_lp ? pow(fabs(v), c->p) : v;
            }
            double y = is_max ? best : is_lp ? pow(sum, 1.0 / c->p) : sum / (double)(c->count_include_pad ? padded : taps);
            ref[nc * plane + op] = y;
            iref[nc * plane + op] = (double)(nc * isz + (c->storage_order ? best_col : best_at));
        }
    oneop o;
    oneop_begin(&o, c->op, "", 19, 1, want_ind ? 2 : 1);
    oneop_attr_ints(&o, "kernel_shape", c->k, c->nsp);
    oneop_attr_ints(&o, "strides", c->s, c->nsp);
    if (!is_lp || c->d[0] != 1) oneop_attr_ints(&o, "dilations", c->d, c->nsp);
    if (c->auto_pad)
        oneop_attr_string(&o, "auto_pad", c->auto_pad);
    else
        oneop_attr_ints(&o, "pads", c->pads, 2 * c->nsp);
    if (c->ceil_mode) oneop_attr_int(&o, "ceil_mode", 1);
    if (c->count_include_pad) oneop_attr_int(&o, "count_include_pad", 1);
    if (c->storage_order) oneop_attr_int(&o, "storage_order", 1);
    if (is_lp) oneop_attr_int(&o, "p", (int64_t)c->p);
    kiln_status st = oneop_run(&o, &x.t);
    char what[200];
    snprintf(what, sizeof what, "%s %dD %s k=%lld s=%lld d=%lld pads=%s ceil=%d cip=%d", c->op, c->nsp,
             kiln_dtype_name(c->dt), (long long)c->k[0], (long long)c->s[0], (long long)c->d[0],
             c->auto_pad ? c->auto_pad : "explicit", c->ceil_mode, c->count_include_pad);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(lt_same_shape(y, rank, yd, what));
        double tol = lt_tol(c->dt, ksz);
        CHECK(lt_close(y, ref, ny, tol, tol, what));
        if (want_ind) {
            CHECK(oneop_out(&o, 1)->dtype == KILN_INT64);
            CHECK(lt_close(oneop_out(&o, 1), iref, ny, 0, 0, "MaxPool indices"));
        }
    } else {
        fprintf(stderr, "%s failed: %s\n", what, kiln_error_text());
    }
    oneop_end(&o);
    free(ref), free(iref);
    lt_free(&x);
}

static void check_global(const char *op, kiln_dtype dt, int rank, const int64_t *xd, double p) {
    lt_tensor x = lt_rand(dt, rank, xd, -2, 2);
    int64_t planes = xd[0] * xd[1], psz = x.n / planes, yd[5] = {xd[0], xd[1], 1, 1, 1};
    double *ref = malloc(sizeof(double) * (size_t)planes);
    for (int64_t t = 0; t < planes; t++) {
        double best = -INFINITY, sum = 0;
        for (int64_t i = 0; i < psz; i++) {
            double v = x.v[t * psz + i];
            best = v > best ? v : best;
            sum += !strcmp(op, "GlobalLpPool") ? pow(fabs(v), p) : v;
        }
        ref[t] = !strcmp(op, "GlobalMaxPool") ? best : !strcmp(op, "GlobalLpPool") ? pow(sum, 1 / p) : sum / (double)psz;
    }
    oneop o;
    oneop_begin(&o, op, "", 2, 1, 1);
    if (!strcmp(op, "GlobalLpPool")) oneop_attr_int(&o, "p", (int64_t)p);
    kiln_status st = oneop_run(&o, &x.t);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        CHECK(lt_same_shape(oneop_out(&o, 0), rank, yd, op));
        double tol = lt_tol(dt, psz);
        CHECK(lt_close(oneop_out(&o, 0), ref, planes, tol, tol, op));
    }
    oneop_end(&o);
    free(ref);
    lt_free(&x);
}

/* MaxPool then MaxUnpool: every max lands back at its argmax, everything else is zero. */
static void check_unpool(void) {
    int64_t xd[4] = {2, 3, 6, 8}, k[2] = {2, 2}, s[2] = {2, 2};
    lt_tensor x = lt_rand(KILN_FLOAT, 4, xd, -1, 1);
    oneop mp;
    oneop_begin(&mp, "MaxPool", "", 12, 1, 2);
    oneop_attr_ints(&mp, "kernel_shape", k, 2);
    oneop_attr_ints(&mp, "strides", s, 2);
    CHECK(oneop_run(&mp, &x.t) == KILN_OK);
    kiln_tensor in[2] = {*oneop_out(&mp, 0), *oneop_out(&mp, 1)};
    oneop up;
    oneop_begin(&up, "MaxUnpool", "", 11, 2, 1);
    oneop_attr_ints(&up, "kernel_shape", k, 2);
    oneop_attr_ints(&up, "strides", s, 2);
    kiln_status st = oneop_run(&up, in);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        double *ref = calloc((size_t)x.n, sizeof(double));
        for (int64_t t = 0; t < 6; t++)
            for (int64_t i = 0; i < 3; i++)
                for (int64_t j = 0; j < 4; j++) {
                    int64_t bi = 0, bj = 0;
                    double best = -INFINITY;
                    for (int a = 0; a < 2; a++)
                        for (int b = 0; b < 2; b++) {
                            double v = x.v[t * 48 + (2 * i + a) * 8 + 2 * j + b];
                            if (v > best) best = v, bi = 2 * i + a, bj = 2 * j + b;
                        }
                    ref[t * 48 + bi * 8 + bj] = best;
                }
        CHECK(lt_same_shape(oneop_out(&up, 0), 4, xd, "MaxUnpool"));
        CHECK(lt_close(oneop_out(&up, 0), ref, x.n, 0, 0, "MaxUnpool"));
        free(ref);
    }
    oneop_end(&up);
    oneop_end(&mp);
    lt_free(&x);
}

static void check_lrn(kiln_dtype dt, int64_t size) {
    int64_t xd[4] = {2, 7, 3, 5};
    double alpha = 2e-3, beta = 0.6, bias = 1.5;
    lt_tensor x = lt_rand(dt, 4, xd, -3, 3);
    double *ref = malloc(sizeof(double) * (size_t)x.n);
    for (int64_t n = 0; n < 2; n++)
        for (int64_t c = 0; c < 7; c++)
            for (int64_t i = 0; i < 15; i++) {
                double ss = 0;
                for (int64_t q = c - (size - 1) / 2; q <= c + size / 2; q++)
                    if (q >= 0 && q < 7) ss += x.v[(n * 7 + q) * 15 + i] * x.v[(n * 7 + q) * 15 + i];
                ref[(n * 7 + c) * 15 + i] = x.v[(n * 7 + c) * 15 + i] / pow(bias + alpha / (double)size * ss, beta);
            }
    oneop o;
    oneop_begin(&o, "LRN", "", 13, 1, 1);
    oneop_attr_float(&o, "alpha", (float)alpha);
    oneop_attr_float(&o, "beta", (float)beta);
    oneop_attr_float(&o, "bias", (float)bias);
    oneop_attr_int(&o, "size", size);
    kiln_status st = oneop_run(&o, &x.t);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) CHECK(lt_close(oneop_out(&o, 0), ref, x.n, lt_tol(dt, 1) + 1e-5, 1e-5, "LRN"));
    oneop_end(&o);
    free(ref);
    lt_free(&x);
}

int main(void) {
    const kiln_dtype F = KILN_FLOAT;
    pspec cases[] = {
        /* op nsp n c in k s d pads auto ceil cip so p dt */
        {"MaxPool", 2, 2, 3, {9, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 0, 0, 0, 0, F},
        {"MaxPool", 2, 1, 4, {40, 45}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 0, 0, 0, 0, F},
        {"MaxPool", 2, 1, 2, {12, 50}, {3, 4}, {1, 1}, {1, 2}, {1, 2, 0, 1}, NULL, 0, 0, 0, 0, F},
        {"MaxPool", 2, 1, 2, {12, 60}, {2, 3}, {3, 3}, {1, 1}, {0, 1, 1, 0}, NULL, 1, 0, 0, 0, F},
        {"AveragePool", 2, 1, 4, {40, 45}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 0, 1, 0, 0, F},
        {"AveragePool", 2, 1, 4, {40, 45}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, 0, 0, F},
        {"AveragePool", 2, 1, 2, {12, 50}, {3, 4}, {1, 1}, {1, 2}, {2, 2, 0, 1}, NULL, 0, 1, 0, 0, F},        {"MaxPool", 2, 1, 2, {8, 11}, {3, 2}, {2, 3}, {1, 1}, {0, 1, 2, 0}, NULL, 1, 0, 1, 0, F},
        {"MaxPool", 2, 1, 2, {10, 10}, {2, 3}, {1, 2}, {2, 2}, {1, 1, 1, 1}, NULL, 0, 0, 0, 0, F},
        {"MaxPool", 2, 1, 2, {7, 7}, {3, 3}, {2, 2}, {1, 1}, {0}, "SAME_UPPER", 0, 0, 0, 0, F},
        {"MaxPool", 2, 1, 2, {7, 8}, {3, 2}, {2, 3}, {1, 1}, {0}, "SAME_LOWER", 0, 0, 0, 0, F},
        {"MaxPool", 1, 2, 3, {17}, {4}, {3}, {1}, {2, 1}, NULL, 1, 0, 0, 0, F},
        {"MaxPool", 3, 1, 2, {5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {1, 2, 1}, {0, 1, 1, 1, 0, 0}, NULL, 0, 0, 0, 0, F},
        {"MaxPool", 3, 1, 2, {5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {1, 1, 1}, {0, 1, 1, 1, 0, 0}, NULL, 0, 0, 1, 0, F},
        {"MaxPool", 2, 1, 3, {9, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 0, 0, 0, 0, KILN_UINT8},
        {"MaxPool", 2, 1, 3, {9, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, 0, 0, KILN_DOUBLE},
        {"MaxPool", 2, 1, 3, {9, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 0, 0, 0, 0, KILN_FLOAT16},
        {"AveragePool", 2, 2, 3, {9, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 0, 0, 0, 0, F},
        {"AveragePool", 2, 2, 3, {9, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 0, 1, 0, 0, F},
        {"AveragePool", 2, 1, 2, {8, 11}, {3, 2}, {2, 3}, {1, 1}, {0, 1, 2, 0}, NULL, 1, 1, 0, 0, F},
        {"AveragePool", 2, 1, 2, {8, 11}, {3, 2}, {2, 3}, {1, 1}, {0, 1, 2, 0}, NULL, 1, 0, 0, 0, F},
        {"AveragePool", 2, 1, 2, {10, 10}, {2, 3}, {1, 2}, {3, 2}, {2, 1, 1, 2}, NULL, 1, 1, 0, 0, F},
        {"AveragePool", 2, 1, 2, {7, 7}, {3, 3}, {2, 2}, {1, 1}, {0}, "SAME_UPPER", 0, 1, 0, 0, F},
        {"AveragePool", 2, 1, 2, {7, 7}, {4, 3}, {3, 2}, {1, 1}, {0}, "SAME_LOWER", 0, 0, 0, 0, F},
        {"AveragePool", 2, 1, 2, {7, 7}, {3, 3}, {2, 2}, {1, 1}, {0}, "VALID", 0, 0, 0, 0, F},
        {"AveragePool", 1, 2, 3, {17}, {4}, {3}, {1}, {2, 1}, NULL, 1, 1, 0, 0, KILN_DOUBLE},
        {"AveragePool", 3, 1, 2, {5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {2, 1, 1}, {0, 1, 1, 1, 0, 0}, NULL, 1, 1, 0, 0, F},
        {"AveragePool", 2, 1, 2, {6, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 0, 1, 0, 0, KILN_BFLOAT16},
        {"LpPool", 2, 1, 3, {9, 8}, {3, 2}, {2, 2}, {1, 1}, {1, 0, 1, 1}, NULL, 0, 0, 0, 2, F},
        {"LpPool", 2, 1, 3, {9, 8}, {3, 2}, {2, 2}, {2, 1}, {1, 0, 1, 1}, NULL, 1, 0, 0, 3, F},
        {"LpPool", 1, 1, 3, {9}, {3}, {1}, {1}, {1, 1}, NULL, 0, 0, 0, 1, KILN_DOUBLE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_pool(&cases[i]);
    no_indices = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_pool(&cases[i]);
    kiln_sgemm_set_level(0); /* the portable 2-D path */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_pool(&cases[i]);
    kiln_sgemm_set_level(99);
    no_indices = 0;
    check_global("GlobalMaxPool", F, 4, (int64_t[]){2, 3, 5, 7}, 0);
    check_global("GlobalAveragePool", F, 4, (int64_t[]){2, 3, 5, 7}, 0);
    check_global("GlobalAveragePool", KILN_FLOAT16, 3, (int64_t[]){2, 3, 33}, 0);
    check_global("GlobalAveragePool", KILN_DOUBLE, 5, (int64_t[]){1, 2, 3, 4, 5}, 0);
    check_global("GlobalLpPool", F, 4, (int64_t[]){2, 3, 5, 7}, 2);
    check_global("GlobalLpPool", F, 4, (int64_t[]){2, 3, 5, 7}, 3);
    check_global("GlobalMaxPool", KILN_DOUBLE, 3, (int64_t[]){2, 3, 1}, 0);
    check_unpool();
    check_lrn(F, 3);
    check_lrn(F, 4);
    check_lrn(KILN_DOUBLE, 5);
    check_lrn(KILN_FLOAT16, 1);

    /* kernel larger than the input is a shape error, not a crash */
    lt_tensor x = lt_rand(F, 4, (int64_t[]){1, 1, 2, 2}, -1, 1);
    oneop o;
    oneop_begin(&o, "MaxPool", "", 12, 1, 1);
    oneop_attr_ints(&o, "kernel_shape", (int64_t[]){3, 3}, 2);
    CHECK(oneop_run(&o, &x.t) == KILN_ERR_SHAPE);
    oneop_end(&o);
    lt_free(&x);
    return CHECK_DONE();
}
