/* Conv and ConvTranspose against naive double references: 1-D/2-D/3-D, groups, depthwise, pointwise, strides,
 * dilations, asymmetric pads, auto_pad, bias, float/double/float16, odd sizes, a chunked im2col. */
#include "backends/cpu/gemm.h"
#include "linalg_testutil.h"

typedef struct cspec {
    int nsp;
    int64_t n, c, m, group;
    int64_t in[3], k[3], s[3], d[3], pads[6];
    const char *auto_pad; /* NULL: explicit pads */
    int bias;
    kiln_dtype dt;
} cspec;

/* Expected output size and begin pad for one dim (the test's own reading of the spec). */
static void ref_dim(const cspec *c, int i, int64_t *out, int64_t *pb) {
    int64_t dk = (c->k[i] - 1) * c->d[i] + 1;
    if (!c->auto_pad) {
        *pb = c->pads[i];
        *out = (c->in[i] + c->pads[i] + c->pads[c->nsp + i] - dk) / c->s[i] + 1;
    } else if (!strcmp(c->auto_pad, "VALID")) {
        *pb = 0;
        *out = (c->in[i] - dk) / c->s[i] + 1;
    } else {
        *out = (c->in[i] + c->s[i] - 1) / c->s[i];
        int64_t total = (*out - 1) * c->s[i] + dk - c->in[i];
        if (total < 0) total = 0;
        *pb = !strcmp(c->auto_pad, "SAME_UPPER") ? total / 2 : (total + 1) / 2;
    }
}

static void set_conv_attrs(oneop *o, const cspec *c) {
    oneop_attr_ints(o, "kernel_shape", c->k, c->nsp);
    oneop_attr_ints(o, "strides", c->s, c->nsp);
    oneop_attr_ints(o, "dilations", c->d, c->nsp);
    if (c->auto_pad)
        oneop_attr_string(o, "auto_pad", c->auto_pad);
    else
        oneop_attr_ints(o, "pads", c->pads, 2 * c->nsp);
    oneop_attr_int(o, "group", c->group);
}

static void check_conv(const cspec *c) {
    int rank = c->nsp + 2;
    int64_t xd[5] = {c->n, c->c}, wd[5] = {c->m, c->c / c->group}, yd[5] = {c->n, c->m}, pb[3];
    for (int i = 0; i < c->nsp; i++) {
        xd[2 + i] = c->in[i];
        wd[2 + i] = c->k[i];
        ref_dim(c, i, &yd[2 + i], &pb[i]);
    }
    lt_tensor x = lt_rand(c->dt, rank, xd, -1, 1), w = lt_rand(c->dt, rank, wd, -1, 1);
    int64_t bd[1] = {c->m};
    lt_tensor b = c->bias ? lt_rand(c->dt, 1, bd, -1, 1) : lt_make(KILN_UNDEFINED, 0, NULL);
    int64_t ny = kiln_numel(rank, yd), P = ny / (c->n * c->m), ksz = 1, isz = 1;
    for (int i = 0; i < c->nsp; i++) ksz *= c->k[i], isz *= c->in[i];
    double *ref = calloc((size_t)ny + 1, sizeof(double));
    int64_t cg = c->c / c->group, mg = c->m / c->group;
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t m = 0; m < c->m; m++)
            for (int64_t p = 0; p < P; p++) {
                int64_t o[3], rem = p;
                for (int i = c->nsp - 1; i >= 0; i--) o[i] = rem % yd[2 + i], rem /= yd[2 + i];
                double s = c->bias ? b.v[m] : 0;
                for (int64_t ci = 0; ci < cg; ci++)
                    for (int64_t kk = 0; kk < ksz; kk++) {
                        int64_t kidx[3], r = kk, xoff = 0;
                        int inside = 1;
                        for (int i = c->nsp - 1; i >= 0; i--) kidx[i] = r % c->k[i], r /= c->k[i];
                        for (int i = 0; i < c->nsp; i++) {
                            int64_t pos = o[i] * c->s[i] - pb[i] + kidx[i] * c->d[i];
                            inside &= pos >= 0 && pos < c->in[i];
                            xoff = xoff * c->in[i] + pos;
                        }
                        if (!inside) continue;
                        int64_t cin = (m / mg) * cg + ci;
                        s += x.v[(n * c->c + cin) * isz + xoff] * w.v[(m * cg + ci) * ksz + kk];
                    }
                ref[(n * c->m + m) * P + p] = s;
            }
    oneop o;
    oneop_begin(&o, "Conv", "", 11, 3, 1);
    set_conv_attrs(&o, c);
    kiln_tensor in[3] = {x.t, w.t, b.t};
    /* Constant weights (prepacked at prepare) in about half the cases; two runs reuse the packed weights. */
    unsigned consts = (unsigned)(c->c * 3 + c->m + c->in[0]) % 2 ? 2u : 0u;
    kiln_status st = oneop_run_consts(&o, in, consts);
    if (st == KILN_OK) st = oneop_run_consts(&o, in, consts);
    char what[200];
    snprintf(what, sizeof what, "Conv %dD %s n=%lld c=%lld m=%lld g=%lld k=%lld s=%lld d=%lld pad=%s", c->nsp,
             kiln_dtype_name(c->dt), (long long)c->n, (long long)c->c, (long long)c->m, (long long)c->group,
             (long long)c->k[0], (long long)c->s[0], (long long)c->d[0], c->auto_pad ? c->auto_pad : "explicit");
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(lt_same_shape(y, rank, yd, what));
        double tol = lt_tol(c->dt, cg * ksz);
        CHECK(lt_close(y, ref, ny, tol, tol, what));
    } else {
        fprintf(stderr, "%s failed: %s\n", what, kiln_error_text());
    }
    oneop_end(&o);
    free(ref);
    lt_free(&x), lt_free(&w), lt_free(&b);
}

static void check_convt(const cspec *c, const int64_t *out_pad, const int64_t *out_shape) {
    int rank = c->nsp + 2;
    int64_t mg = c->m / c->group, cg = c->c / c->group;
    int64_t xd[5] = {c->n, c->c}, wd[5] = {c->c, mg}, yd[5] = {c->n, c->m}, pb[3];
    for (int i = 0; i < c->nsp; i++) {
        xd[2 + i] = c->in[i];
        wd[2 + i] = c->k[i];
        int64_t full = c->s[i] * (c->in[i] - 1) + (out_pad ? out_pad[i] : 0) + (c->k[i] - 1) * c->d[i] + 1;
        if (c->auto_pad) { /* SAME_*: output = in * stride, pads split per the spec */
            yd[2 + i] = out_shape ? out_shape[i] : c->in[i] * c->s[i];
            int64_t total = full - yd[2 + i];
            pb[i] = !strcmp(c->auto_pad, "SAME_UPPER") ? total / 2 : total - total / 2;
        } else {
            pb[i] = c->pads[i];
            yd[2 + i] = out_shape ? out_shape[i] : full - c->pads[i] - c->pads[c->nsp + i];
        }
    }
    lt_tensor x = lt_rand(c->dt, rank, xd, -1, 1), w = lt_rand(c->dt, rank, wd, -1, 1);
    int64_t bd[1] = {c->m};
    lt_tensor b = c->bias ? lt_rand(c->dt, 1, bd, -1, 1) : lt_make(KILN_UNDEFINED, 0, NULL);
    int64_t ny = kiln_numel(rank, yd), P = ny / (c->n * c->m), ksz = 1, isz = 1;
    for (int i = 0; i < c->nsp; i++) ksz *= c->k[i], isz *= c->in[i];
    double *ref = calloc((size_t)ny + 1, sizeof(double));
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t m = 0; m < c->m; m++)
            for (int64_t p = 0; p < P; p++) ref[(n * c->m + m) * P + p] = c->bias ? b.v[m] : 0;
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t ci = 0; ci < c->c; ci++)
            for (int64_t ip = 0; ip < isz; ip++) {
                int64_t iidx[3], r = ip;
                for (int i = c->nsp - 1; i >= 0; i--) iidx[i] = r % c->in[i], r /= c->in[i];
                for (int64_t mm = 0; mm < mg; mm++)
                    for (int64_t kk = 0; kk < ksz; kk++) {
                        int64_t kidx[3], q = kk, yoff = 0;
                        int inside = 1;
                        for (int i = c->nsp - 1; i >= 0; i--) kidx[i] = q % c->k[i], q /= c->k[i];
                        for (int i = 0; i < c->nsp; i++) {
                            int64_t pos = iidx[i] * c->s[i] - pb[i] + kidx[i] * c->d[i];
                            inside &= pos >= 0 && pos < yd[2 + i];
                            yoff = yoff * yd[2 + i] + pos;
                        }
                        if (!inside) continue;
                        int64_t m = (ci / cg) * mg + mm;
                        ref[(n * c->m + m) * P + yoff] +=
                            x.v[(n * c->c + ci) * isz + ip] * w.v[(ci * mg + mm) * ksz + kk];
                    }
            }
    oneop o;
    oneop_begin(&o, "ConvTranspose", "", 11, 3, 1);
    set_conv_attrs(&o, c);
    if (out_pad) oneop_attr_ints(&o, "output_padding", out_pad, c->nsp);
    if (out_shape) oneop_attr_ints(&o, "output_shape", out_shape, c->nsp);
    kiln_tensor in[3] = {x.t, w.t, b.t};
    kiln_status st = oneop_run(&o, in);
    char what[200];
    snprintf(what, sizeof what, "ConvTranspose %dD %s c=%lld m=%lld g=%lld k=%lld s=%lld d=%lld pad=%s", c->nsp,
             kiln_dtype_name(c->dt), (long long)c->c, (long long)c->m, (long long)c->group, (long long)c->k[0],
             (long long)c->s[0], (long long)c->d[0], c->auto_pad ? c->auto_pad : "explicit");
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(lt_same_shape(y, rank, yd, what));
        double tol = lt_tol(c->dt, cg * ksz);
        CHECK(lt_close(y, ref, ny, tol, tol, what));
    } else {
        fprintf(stderr, "%s failed: %s\n", what, kiln_error_text());
    }
    oneop_end(&o);
    free(ref);
    lt_free(&x), lt_free(&w), lt_free(&b);
}

int main(void) {
    const kiln_dtype F = KILN_FLOAT;
    cspec cases[] = {
        /* nsp n c m g  in         k        s        d        pads                auto  bias dt */
        {2, 2, 3, 4, 1, {9, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, F},
        {2, 1, 4, 6, 2, {11, 7}, {3, 2}, {2, 1}, {2, 1}, {0, 1, 2, 0}, NULL, 1, F},
        {2, 2, 8, 8, 8, {10, 13}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 1, F},   /* depthwise s2 */
        {2, 1, 8, 16, 8, {9, 9}, {3, 3}, {1, 1}, {2, 2}, {2, 2, 2, 2}, NULL, 0, F},    /* depthwise x2, dilated */
        {2, 1, 6, 6, 6, {7, 33}, {5, 5}, {1, 3}, {1, 1}, {2, 0, 1, 3}, NULL, 1, F},    /* depthwise odd */
        {2, 2, 16, 33, 1, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, NULL, 1, F},   /* pointwise */
        {2, 2, 16, 8, 4, {7, 9}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, NULL, 0, F},    /* grouped pointwise */
        {2, 1, 16, 8, 1, {9, 9}, {1, 1}, {2, 2}, {1, 1}, {0, 0, 0, 0}, NULL, 1, F},    /* 1x1 stride 2 */
        {2, 1, 3, 5, 1, {8, 8}, {3, 3}, {2, 2}, {1, 1}, {0}, "SAME_UPPER", 1, F},
        {2, 1, 3, 5, 1, {8, 9}, {4, 3}, {3, 2}, {1, 1}, {0}, "SAME_LOWER", 0, F},
        {2, 1, 3, 5, 1, {8, 9}, {3, 3}, {2, 2}, {1, 1}, {0}, "VALID", 1, F},
        {1, 2, 4, 6, 2, {29}, {5}, {2}, {3}, {2, 1}, NULL, 1, F},
        {3, 1, 3, 4, 1, {5, 6, 7}, {3, 2, 3}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1, 1, 1, 2}, NULL, 1, F},
        {2, 1, 1, 1, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, NULL, 0, F},     /* trivial */
        {2, 2, 5, 7, 1, {6, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, KILN_DOUBLE},
        {2, 2, 4, 4, 2, {6, 7}, {3, 3}, {2, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, KILN_FLOAT16},
        {2, 1, 4, 8, 4, {6, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, KILN_BFLOAT16},
        {2, 1, 256, 2, 1, {3, 700}, {5, 5}, {1, 1}, {1, 1}, {2, 0, 2, 0}, NULL, 1, F}, /* chunked im2col */
        {2, 1, 64, 96, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, F}, /* resnet-like */
        {2, 2, 32, 64, 2, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, F},   /* narrow N: transposed GEMM */
        {2, 1, 48, 70, 1, {3, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 0, F},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_conv(&cases[i]);
    /* The portable (non-AVX) kernels: GEMM micro-kernel, depthwise, implicit-GEMM packing. */
    kiln_sgemm_set_level(0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (cases[i].dt == F) check_conv(&cases[i]);
    kiln_sgemm_set_level(99);
    kiln_sgemm_test_wide_kernel(1); /* the AVX-512 kernel's 12x32 panels (prepacked weights, implicit GEMM) */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (cases[i].dt == F) check_conv(&cases[i]);
    kiln_sgemm_test_wide_kernel(0);

    cspec tcases[] = {
        {2, 2, 3, 4, 1, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {0, 0, 0, 0}, NULL, 1, F},
        {2, 1, 4, 6, 2, {4, 5}, {3, 2}, {2, 3}, {1, 2}, {1, 0, 0, 1}, NULL, 1, F},
        {2, 1, 3, 2, 1, {3, 3}, {3, 3}, {2, 2}, {1, 1}, {0}, "SAME_UPPER", 0, F},
        {2, 1, 3, 2, 1, {3, 4}, {3, 3}, {2, 2}, {1, 1}, {0}, "SAME_LOWER", 1, F},
        {1, 2, 4, 6, 2, {9}, {4}, {3}, {2}, {1, 2}, NULL, 1, F},
        {3, 1, 2, 3, 1, {3, 4, 2}, {2, 3, 2}, {2, 1, 2}, {1, 1, 1}, {0, 1, 0, 1, 0, 0}, NULL, 1, F},
        {2, 1, 3, 4, 1, {4, 4}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 1, KILN_DOUBLE},
        {2, 1, 3, 4, 1, {4, 4}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, NULL, 1, KILN_FLOAT16},
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) check_convt(&tcases[i], NULL, NULL);
    int64_t op[2] = {1, 1}, os[2] = {10, 8};
    check_convt(&tcases[1], op, NULL);
    check_convt(&tcases[0], NULL, os);

    /* Mismatched channels are an error naming the shapes. */
    lt_tensor x = lt_rand(F, 4, (int64_t[]){1, 3, 5, 5}, -1, 1), w = lt_rand(F, 4, (int64_t[]){2, 2, 3, 3}, -1, 1);
    oneop o;
    oneop_begin(&o, "Conv", "", 11, 2, 1);
    kiln_tensor in[2] = {x.t, w.t};
    CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_error_text(), "[1,3,5,5]") != NULL);
    oneop_end(&o);
    lt_free(&x), lt_free(&w);
    return CHECK_DONE();
}
