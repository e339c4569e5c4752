/* ArgMax / ArgMin, TopK, CumSum / CumProd and the loss ops (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss)
 * against references written here: every axis, ties (first / last index, TopK's index order), NaN, several
 * dtypes, exclusive / reverse scans, weights, ignore_index and the three reductions. */
#include "reduce_testutil.h"

static void shape_text(char *buf, size_t n, const char *op, const rt_tensor *x, const char *extra) {
    char s[160];
    snprintf(buf, n, "%s %s x%s %s", op, kiln_dtype_name(x->t.dtype), kiln_shape_str(x->t.rank, x->t.dims, s, sizeof s),
             extra);
}

/* (outer, n, inner) around axis a */
static void split3(const rt_tensor *x, int a, int64_t *outer, int64_t *n, int64_t *inner) {
    *outer = *inner = 1;
    for (int d = 0; d < a; d++) *outer *= x->t.dims[d];
    for (int d = a + 1; d < x->t.rank; d++) *inner *= x->t.dims[d];
    *n = x->t.dims[a];
}

/* ---- ArgMax / ArgMin ---- */

static void check_arg(int is_max, const rt_tensor *x, int64_t axis, int keepdims, int last) {
    int rank = x->t.rank, a = (int)(axis < 0 ? axis + rank : axis);
    int64_t outer, n, inner, od[KILN_MAX_DIMS];
    split3(x, a, &outer, &n, &inner);
    int orank = 0;
    for (int d = 0; d < rank; d++)
        if (d != a) od[orank++] = x->t.dims[d];
        else if (keepdims) od[orank++] = 1;
    oneop o;
    oneop_begin(&o, is_max ? "ArgMax" : "ArgMin", "", 13, 1, 1);
    oneop_attr_int(&o, "axis", axis);
    oneop_attr_int(&o, "keepdims", keepdims);
    oneop_attr_int(&o, "select_last_index", last);
    char what[200], extra[80];
    snprintf(extra, sizeof extra, "axis %lld keepdims %d last %d", (long long)axis, keepdims, last);
    shape_text(what, sizeof what, is_max ? "ArgMax" : "ArgMin", x, extra);
    kiln_status st = oneop_run(&o, &x->t);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        double *ref = calloc((size_t)(outer * inner) + 1, sizeof(double));
        for (int64_t p = 0; p < outer; p++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t best = 0;
                for (int64_t j = 1; j < n; j++) {
                    double v = x->v[(p * n + j) * inner + i], b = x->v[(p * n + best) * inner + i];
                    if (isnan(b)) {
                        if (last && isnan(v)) best = j;
                    } else if (isnan(v) || (is_max ? v > b : v < b) || (last && v == b)) {
                        best = j;
                    }
                }
                ref[p * inner + i] = (double)best;
            }
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(y->dtype == KILN_INT64);
        CHECK(rt_shape_is(y, orank, od, what));
        CHECK(rt_close(y, ref, NULL, outer * inner, 0, 0, what));
        free(ref);
    } else {
        fprintf(stderr, "%s: %s\n", what, kiln_error_text());
    }
    oneop_end(&o);
}

static void test_arg(void) {
    static const kiln_dtype types[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16, KILN_INT32,
                                       KILN_INT64, KILN_UINT8,  KILN_INT8,    KILN_UINT64};
    int64_t dims[] = {3, 4, 5};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        /* few distinct values: plenty of ties */
        int fl = kiln_dtype_is_float(types[t]);
        rt_tensor x = rt_rand(types[t], 3, dims, fl ? -2 : 0, fl ? 2 : 3);
        if (kiln_dtype_is_float(types[t]))
            for (int64_t i = 0; i < x.n; i++) rt_set(&x, i, round(x.v[i] * 2) / 2);
        for (int a = -3; a < 3; a++)
            for (int k = 0; k < 4; k++) {
                check_arg(1, &x, a, k & 1, k >> 1);
                check_arg(0, &x, a, k & 1, k >> 1);
            }
        rt_free(&x);
    }
    int64_t d2[] = {4, 6};
    rt_tensor x = rt_rand(KILN_FLOAT, 2, d2, -1, 1);
    rt_set(&x, 2, NAN), rt_set(&x, 4, NAN), rt_set(&x, 13, NAN);
    for (int k = 0; k < 4; k++) {
        check_arg(1, &x, 1, k & 1, k >> 1);
        check_arg(0, &x, 1, k & 1, k >> 1);
        check_arg(1, &x, 0, k & 1, k >> 1);
    }
    rt_free(&x);
}

/* ---- TopK ---- */

static void check_topk(const rt_tensor *x, int64_t axis, int64_t k, int largest, int opset) {
    int rank = x->t.rank, a = (int)(axis < 0 ? axis + rank : axis);
    int64_t outer, n, inner, od[KILN_MAX_DIMS];
    split3(x, a, &outer, &n, &inner);
    memcpy(od, x->t.dims, sizeof(int64_t) * (size_t)rank);
    od[a] = k;
    oneop o;
    oneop_begin(&o, "TopK", "", opset, opset >= 10 ? 2 : 1, 2);
    oneop_attr_int(&o, "axis", axis);
    if (opset >= 11) oneop_attr_int(&o, "largest", largest);
    if (opset < 10) oneop_attr_int(&o, "k", k);
    int64_t one = 1;
    rt_tensor kt = rt_ints(1, &one, &k);
    kiln_tensor in[2] = {x->t, kt.t};
    char what[200], extra[80];
    snprintf(extra, sizeof extra, "axis %lld k %lld largest %d opset %d", (long long)axis, (long long)k, largest,
             opset);
    shape_text(what, sizeof what, "TopK", x, extra);
    kiln_status st = oneop_run(&o, in);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        int64_t m = outer * k * inner;
        double *rv = calloc((size_t)m + 1, sizeof(double)), *ri = calloc((size_t)m + 1, sizeof(double));
        int64_t *used = calloc((size_t)n + 1, sizeof(int64_t));
        for (int64_t p = 0; p < outer; p++)
            for (int64_t i = 0; i < inner; i++) {
                memset(used, 0, sizeof(int64_t) * (size_t)n);
                for (int64_t q = 0; q < k; q++) { /* selection: best unused, lower index on ties, NaN largest */
                    int64_t b = -1;
                    for (int64_t j = 0; j < n; j++) {
                        if (used[j]) continue;
                        if (b < 0) {
                            b = j;
                            continue;
                        }
                        double v = x->v[(p * n + j) * inner + i], bv = x->v[(p * n + b) * inner + i];
                        int gt = (isnan(v) && !isnan(bv)) || v > bv, lt = (!isnan(v) && isnan(bv)) || v < bv;
                        if (largest ? gt : lt) b = j;
                    }
                    used[b] = 1;
                    rv[(p * k + q) * inner + i] = x->v[(p * n + b) * inner + i];
                    ri[(p * k + q) * inner + i] = (double)b;
                }
            }
        const kiln_tensor *yv = oneop_out(&o, 0), *yi = oneop_out(&o, 1);
        CHECK(yv->dtype == x->t.dtype && yi->dtype == KILN_INT64);
        CHECK(rt_shape_is(yv, rank, od, what) && rt_shape_is(yi, rank, od, what));
        CHECK(rt_close(yv, rv, NULL, m, 0, 0, what));
        CHECK(rt_close(yi, ri, NULL, m, 0, 0, what));
        free(rv), free(ri), free(used);
    } else {
        fprintf(stderr, "%s: %s\n", what, kiln_error_text());
    }
    oneop_end(&o);
    rt_free(&kt);
}

static void test_topk(void) {
    static const kiln_dtype types[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_INT64, KILN_INT32, KILN_UINT64,
                                       KILN_UINT8};
    int64_t dims[] = {3, 9, 4};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        rt_tensor x = rt_rand(types[t], 3, dims, 0, 5); /* integers 0..5 and floats: ties in the int types */
        for (int a = -3; a < 3; a++) {
            int64_t n = dims[a < 0 ? a + 3 : a];
            for (int64_t k = 0; k <= n; k += (n > 4 ? 2 : 1)) {
                check_topk(&x, a, k, 1, 11);
                check_topk(&x, a, k, 0, 11);
            }
        }
        check_topk(&x, 1, 3, 1, 1);
        check_topk(&x, -1, 2, 1, 10);
        rt_free(&x);
    }
    /* long rows (heap selection), NaN, and k out of range */
    int64_t d2[] = {5, 1000};
    rt_tensor x = rt_rand(KILN_FLOAT, 2, d2, -3, 3);
    for (int64_t i = 0; i < x.n; i += 97) rt_set(&x, i, round(x.v[i]));
    rt_set(&x, 10, NAN);
    check_topk(&x, 1, 7, 1, 11);
    check_topk(&x, 1, 7, 0, 11);
    check_topk(&x, 1, 1000, 1, 11);
    check_topk(&x, 0, 3, 0, 11);
    oneop o;
    oneop_begin(&o, "TopK", "", 11, 2, 2);
    int64_t one = 1, big = 1001;
    rt_tensor kt = rt_ints(1, &one, &big);
    kiln_tensor in[2] = {x.t, kt.t};
    CHECK(oneop_run(&o, in) == KILN_ERR_RUNTIME && strstr(kiln_error_text(), "1001") != NULL);
    oneop_end(&o);
    rt_free(&kt);
    rt_free(&x);
}

/* ---- CumSum / CumProd ---- */

static void check_cum(int prod, const rt_tensor *x, int64_t axis, int exclusive, int reverse, int axis_i32) {
    int rank = x->t.rank, a = (int)(axis < 0 ? axis + rank : axis);
    int64_t outer, n, inner;
    split3(x, a, &outer, &n, &inner);
    oneop o;
    oneop_begin(&o, prod ? "CumProd" : "CumSum", "", prod ? 26 : 14, 2, 1);
    oneop_attr_int(&o, "exclusive", exclusive);
    oneop_attr_int(&o, "reverse", reverse);
    rt_tensor at = rt_make(axis_i32 ? KILN_INT32 : KILN_INT64, 0, NULL);
    rt_set(&at, 0, (double)axis);
    kiln_tensor in[2] = {x->t, at.t};
    char what[200], extra[80];
    snprintf(extra, sizeof extra, "axis %lld exclusive %d reverse %d", (long long)axis, exclusive, reverse);
    shape_text(what, sizeof what, prod ? "CumProd" : "CumSum", x, extra);
    kiln_status st = oneop_run(&o, in);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        double *ref = calloc((size_t)x->n + 1, sizeof(double)), *tol = calloc((size_t)x->n + 1, sizeof(double));
        double eps = rt_eps(x->t.dtype);
        for (int64_t p = 0; p < outer; p++)
            for (int64_t i = 0; i < inner; i++) {
                double acc = prod ? 1 : 0, mag = prod ? 1 : 0;
                for (int64_t q = 0; q < n; q++) {
                    int64_t j = reverse ? n - 1 - q : q, e = (p * n + j) * inner + i;
                    double v = x->v[e];
                    if (!exclusive) acc = prod ? acc * v : acc + v, mag = prod ? mag * fabs(v) : mag + fabs(v);
                    ref[e] = acc;
                    tol[e] = eps * (2 + (double)q) * mag;
                    if (exclusive) acc = prod ? acc * v : acc + v, mag = prod ? mag * fabs(v) : mag + fabs(v);
                }
            }
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(y->dtype == x->t.dtype);
        CHECK(rt_shape_is(y, rank, x->t.dims, what));
        CHECK(rt_close(y, ref, tol, x->n, 0, 0, what));
        free(ref), free(tol);
    } else {
        fprintf(stderr, "%s: %s\n", what, kiln_error_text());
    }
    oneop_end(&o);
    rt_free(&at);
}

static void test_cum(void) {
    static const kiln_dtype types[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16,
                                       KILN_INT32, KILN_INT64,  KILN_UINT32,  KILN_UINT64};
    int64_t d1[] = {3, 4, 5}, d2[] = {2, 600}, d3[] = {7}, d4[] = {3, 200, 300};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (int prod = 0; prod < 2; prod++) {
            double lo = prod ? 0.8 : -2, hi = prod ? 1.25 : 2;
            if (!kiln_dtype_is_float(types[t])) lo = prod ? 1 : 0, hi = prod ? 2 : 9;
            rt_tensor x = rt_rand(types[t], 3, d1, lo, hi);
            for (int a = -3; a < 3; a++)
                for (int f = 0; f < 4; f++) check_cum(prod, &x, a, f & 1, f >> 1, a & 1);
            rt_free(&x);
            x = rt_rand(types[t], 1, d3, lo, hi);
            for (int f = 0; f < 4; f++) check_cum(prod, &x, 0, f & 1, f >> 1, 0);
            rt_free(&x);
            if (types[t] != KILN_FLOAT) continue;
            if (prod) lo = 0.999, hi = 1.001;
            x = rt_rand(types[t], 2, d2, lo, hi);
            for (int f = 0; f < 4; f++) {
                check_cum(prod, &x, 1, f & 1, f >> 1, 0);
                check_cum(prod, &x, 0, f & 1, f >> 1, 0);
            }
            rt_free(&x);
            x = rt_rand(types[t], 3, d4, lo, hi);
            check_cum(prod, &x, 1, 0, 0, 0);
            check_cum(prod, &x, 0, 1, 1, 0);
            rt_free(&x);
        }
}

/* ---- NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss ---- */

static void check_loss(int sce, const rt_tensor *x, const rt_tensor *t, const rt_tensor *w, const char *reduction,
                       int has_ii, int64_t ii, int want_log_prob) {
    int64_t N = x->t.dims[0], C = x->t.dims[1], D = x->n / (N * C);
    oneop o;
    oneop_begin(&o, sce ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss", "", 13, w ? 3 : 2,
                want_log_prob ? 2 : 1);
    oneop_attr_string(&o, "reduction", reduction);
    if (has_ii) oneop_attr_int(&o, "ignore_index", ii);
    kiln_tensor in[3] = {x->t, t->t};
    if (w) in[2] = w->t;
    char what[200], extra[80];
    snprintf(extra, sizeof extra, "%s weight %d ii %d", reduction, w != NULL, has_ii);
    shape_text(what, sizeof what, sce ? "SCE" : "NLL", x, extra);
    kiln_status st = oneop_run(&o, in);
    CHECK(st == KILN_OK);
    if (st != KILN_OK) {
        fprintf(stderr, "%s: %s\n", what, kiln_error_text());
        oneop_end(&o);
        return;
    }
    double *lp = calloc((size_t)x->n + 1, sizeof(double)), *loss = calloc((size_t)(N * D) + 1, sizeof(double));
    memcpy(lp, x->v, sizeof(double) * (size_t)x->n);
    if (sce)
        for (int64_t n = 0; n < N; n++)
            for (int64_t d = 0; d < D; d++) {
                double m = -INFINITY, s = 0;
                for (int64_t c = 0; c < C; c++) m = fmax(m, x->v[(n * C + c) * D + d]);
                for (int64_t c = 0; c < C; c++) s += exp(x->v[(n * C + c) * D + d] - m);
                for (int64_t c = 0; c < C; c++) lp[(n * C + c) * D + d] = x->v[(n * C + c) * D + d] - m - log(s);
            }
    double sum = 0, wsum = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) {
            int64_t c = (int64_t)t->v[n * D + d];
            double wt = (has_ii && c == ii) ? 0 : w ? w->v[c] : 1;
            loss[n * D + d] = wt == 0 ? 0 : -lp[(n * C + c) * D + d] * wt;
            sum += loss[n * D + d], wsum += wt;
        }
    const kiln_tensor *y = oneop_out(&o, 0);
    double tl = x->t.dtype == KILN_FLOAT ? 1e-5 : 1e-2;
    if (!strcmp(reduction, "none")) {
        CHECK(rt_shape_is(y, t->t.rank, t->t.dims, what));
        CHECK(rt_close(y, loss, NULL, N * D, tl, tl, what));
    } else {
        double r = !strcmp(reduction, "sum") ? sum : sum / wsum;
        CHECK(rt_shape_is(y, 0, NULL, what));
        CHECK(rt_close(y, &r, NULL, 1, tl, tl, what));
    }
    if (want_log_prob) {
        CHECK(rt_shape_is(oneop_out(&o, 1), x->t.rank, x->t.dims, what));
        CHECK(rt_close(oneop_out(&o, 1), lp, NULL, x->n, tl, tl, what));
    }
    free(lp), free(loss);
    oneop_end(&o);
}

static void test_loss(void) {
    int64_t d2[] = {5, 4}, d4[] = {2, 3, 4, 5};
    const int64_t *ds[] = {d2, d4};
    const int rk[] = {2, 4};
    static const char *const reds[] = {"none", "sum", "mean"};
    for (int s = 0; s < 2; s++)
        for (int ft = 0; ft < 2; ft++) {
            kiln_dtype dt = ft ? KILN_FLOAT16 : KILN_FLOAT;
            rt_tensor x = rt_rand(dt, rk[s], ds[s], -3, 3);
            int64_t C = ds[s][1], td[KILN_MAX_DIMS];
            td[0] = ds[s][0];
            for (int d = 2; d < rk[s]; d++) td[d - 1] = ds[s][d];
            rt_tensor t = rt_rand(ft ? KILN_INT32 : KILN_INT64, rk[s] - 1, td, 0, (double)C - 1);
            for (int64_t i = 0; i < t.n; i += 4) rt_set(&t, i, -1); /* ignored where ignore_index = -1 */
            rt_tensor w = rt_rand(dt, 1, &C, 0.2, 2);
            for (int sce = 0; sce < 2; sce++)
                for (int r = 0; r < 3; r++) {
                    check_loss(sce, &x, &t, &w, reds[r], 1, -1, sce);
                    check_loss(sce, &x, &t, NULL, reds[r], 1, -1, 0);
                }
            /* without ignore_index every target must be a class */
            for (int64_t i = 0; i < t.n; i += 4) rt_set(&t, i, (double)(i % C));
            for (int sce = 0; sce < 2; sce++)
                for (int r = 0; r < 3; r++) check_loss(sce, &x, &t, r == 1 ? &w : NULL, reds[r], 0, 0, 0);
            rt_set(&t, 1, (double)C); /* out of range: a run-time error naming the position */
            oneop o;
            oneop_begin(&o, "NegativeLogLikelihoodLoss", "", 13, 2, 1);
            kiln_tensor in[2] = {x.t, t.t};
            CHECK(oneop_run(&o, in) == KILN_ERR_RUNTIME && strstr(kiln_error_text(), "target") != NULL);
            oneop_end(&o);
            rt_free(&x), rt_free(&t), rt_free(&w);
        }
}

int main(void) {
    rt_seed();
    test_arg();
    test_topk();
    test_cum();
    test_loss();
    return CHECK_DONE();
}
