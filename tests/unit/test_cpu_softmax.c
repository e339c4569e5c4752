/* Softmax, LogSoftmax and Hardmax against a double reference: every axis (negative too) of several shapes, the
 * opset < 13 "coerce to 2-D" semantics and the opset 13 single-axis semantics, float16 / bfloat16 / double, and
 * the numerically hard cases (large values, -inf masks, ties). */
#include "reduce_testutil.h"

enum { SOFTMAX, LOGSOFTMAX, HARDMAX };
static const char *const names[] = {"Softmax", "LogSoftmax", "Hardmax"};

static void ref_softmax(int op, int opset, const rt_tensor *x, int axis, double *y) {
    int rank = x->t.rank;
    int64_t outer = 1, n = 1, inner = 1;
    for (int d = 0; d < rank; d++) {
        if (d < axis) outer *= x->t.dims[d];
        else if (d == axis || opset < 13) n *= x->t.dims[d];
        else inner *= x->t.dims[d];
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const double *xs = x->v + o * n * inner + i;
            double *ys = y + o * n * inner + i, m = -INFINITY, s = 0;
            int64_t am = 0;
            for (int64_t j = 0; j < n; j++)
                if (xs[j * inner] > m) m = xs[j * inner], am = j;
            for (int64_t j = 0; j < n; j++) s += exp(xs[j * inner] - m);
            for (int64_t j = 0; j < n; j++) {
                double v = xs[j * inner];
                ys[j * inner] = op == SOFTMAX ? exp(v - m) / s : op == LOGSOFTMAX ? v - m - log(s) : (j == am);
            }
        }
}

static void check_sm(int op, int opset, const rt_tensor *x, int64_t axis, int set_axis) {
    int rank = x->t.rank;
    int a = (int)(axis < 0 ? axis + rank : axis);
    if (a > rank) a = rank;
    oneop o;
    oneop_begin(&o, names[op], "", opset, 1, 1);
    if (set_axis) oneop_attr_int(&o, "axis", axis);
    char what[200], s[160];
    snprintf(what, sizeof what, "%s opset %d %s x%s axis %lld%s", names[op], opset, kiln_dtype_name(x->t.dtype),
             kiln_shape_str(rank, x->t.dims, s, sizeof s), (long long)axis, set_axis ? "" : " (default)");
    kiln_status st = oneop_run(&o, &x->t);
    CHECK(st == KILN_OK);
    if (st != KILN_OK) {
        fprintf(stderr, "%s: %s\n", what, kiln_error_text());
    } else {
        const kiln_tensor *y = oneop_out(&o, 0);
        double *ref = calloc((size_t)x->n + 1, sizeof(double));
        ref_softmax(op, opset, x, a, ref);
        int64_t n = 1; /* the axis length: float sums of n terms round by about sqrt(n) ulps */
        for (int d = a; d < rank && (d == a || opset < 13); d++) n *= x->t.dims[d];
        double eps = rt_eps(x->t.dtype) * (4 + 2 * sqrt((double)n));
        double *tol = calloc((size_t)x->n + 1, sizeof(double));
        for (int64_t i = 0; i < x->n; i++) {
            /* float computes exp with a few ulp; log-softmax is off by about eps times the inputs' size */
            if (op == LOGSOFTMAX) tol[i] = 8 * eps * (1 + fabs(ref[i]) + fabs(x->v[i]));
            else tol[i] = 8 * eps * fabs(ref[i]) + (x->t.dtype == KILN_FLOAT ? 1e-9 : eps * 1e-3);
            if (x->t.dtype == KILN_FLOAT16 || x->t.dtype == KILN_BFLOAT16) tol[i] += eps * fabs(ref[i]);
        }
        CHECK(y->dtype == x->t.dtype);
        CHECK(rt_shape_is(y, rank, x->t.dims, what));
        CHECK(rt_close(y, ref, tol, x->n, 0, 0, what));
        free(ref);
        free(tol);
    }
    oneop_end(&o);
}

static void test_axes(void) {
    static const int64_t shapes[][4] = {{3, 4, 5}, {2, 17, 33}, {5, 1, 1, 9}, {7}, {4, 1}};
    static const int ranks[] = {3, 3, 4, 1, 2};
    for (size_t s = 0; s < sizeof ranks / sizeof ranks[0]; s++) {
        rt_tensor x = rt_rand(KILN_FLOAT, ranks[s], shapes[s], -4, 4);
        for (int op = 0; op < 3; op++)
            for (int a = -ranks[s]; a < ranks[s]; a++) {
                check_sm(op, 13, &x, a, 1);
                check_sm(op, 11, &x, a, 1);
            }
        for (int op = 0; op < 3; op++) {
            check_sm(op, 13, &x, -1, 0);
            check_sm(op, 1, &x, 1, 0); /* default axis 1 before opset 13 */
        }
        rt_free(&x);
    }
}

/* Rows long enough for the vector loops and tails, many rows (threads), a strided axis with many columns. */
static void test_large(void) {
    int64_t d1[] = {64, 768}, d2[] = {3, 1003}, d3[] = {2, 300, 300}, d4[] = {1, 70001}, d5[] = {4, 50, 5};
    const int64_t *ds[] = {d1, d2, d3, d4, d5};
    const int rk[] = {2, 2, 3, 2, 3};
    for (int s = 0; s < 5; s++) {
        rt_tensor x = rt_rand(KILN_FLOAT, rk[s], ds[s], -10, 10);
        for (int op = 0; op < 2; op++) {
            check_sm(op, 13, &x, -1, 1);
            check_sm(op, 13, &x, 1, 1);
            check_sm(op, 13, &x, 0, 1);
        }
        check_sm(HARDMAX, 13, &x, 1, 1);
        rt_free(&x);
    }
}

static void test_dtypes(void) {
    static const kiln_dtype types[] = {KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16};
    int64_t dims[] = {3, 20, 6};
    for (int t = 0; t < 3; t++) {
        rt_tensor x = rt_rand(types[t], 3, dims, -3, 3);
        for (int op = 0; op < 3; op++) {
            check_sm(op, 13, &x, -1, 1);
            check_sm(op, 13, &x, 1, 1);
            check_sm(op, 11, &x, 1, 1);
        }
        rt_free(&x);
    }
}

static void test_numerics(void) {
    /* Large inputs: exp(x) overflows unless the max is subtracted first. */
    int64_t dims[] = {3, 40};
    rt_tensor x = rt_rand(KILN_FLOAT, 2, dims, 1000, 1010);
    for (int op = 0; op < 3; op++) check_sm(op, 13, &x, -1, 1);
    /* -inf masks give exact zeros (softmax) and -inf (log-softmax). */
    for (int64_t i = 0; i < x.n; i += 3) rt_set(&x, i, -INFINITY);
    for (int op = 0; op < 3; op++) check_sm(op, 13, &x, -1, 1);
    oneop o;
    oneop_begin(&o, "Softmax", "", 13, 1, 1);
    CHECK(oneop_run(&o, &x.t) == KILN_OK);
    const float *y = oneop_out(&o, 0)->data;
    int zeros = 1;
    for (int64_t i = 0; i < x.n; i += 3) zeros &= y[i] == 0.0f;
    CHECK(zeros);
    oneop_end(&o);
    rt_free(&x);

    /* Hardmax ties: the first maximum wins. */
    int64_t hd[] = {2, 5};
    rt_tensor h = rt_make(KILN_FLOAT, 2, hd);
    static const double hv[] = {1, 3, 3, 0, 3, -1, -1, -2, -1, -5};
    for (int i = 0; i < 10; i++) rt_set(&h, i, hv[i]);
    oneop_begin(&o, "Hardmax", "", 13, 1, 1);
    CHECK(oneop_run(&o, &h.t) == KILN_OK);
    const float *hy = oneop_out(&o, 0)->data;
    static const float expect[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    for (int i = 0; i < 10; i++) CHECK(hy[i] == expect[i]);
    oneop_end(&o);
    rt_free(&h);

    /* empty input, out-of-range axis, unsupported dtype */
    int64_t ed[] = {0, 4};
    rt_tensor e = rt_make(KILN_FLOAT, 2, ed);
    check_sm(SOFTMAX, 13, &e, 1, 1);
    check_sm(LOGSOFTMAX, 11, &e, 1, 1);
    oneop_begin(&o, "Softmax", "", 13, 1, 1);
    oneop_attr_int(&o, "axis", 2);
    CHECK(oneop_run(&o, &e.t) == KILN_ERR_INVALID_GRAPH && strstr(kiln_error_text(), "axis") != NULL);
    oneop_end(&o);
    rt_free(&e);
    rt_tensor xi = rt_make(KILN_INT32, 2, hd);
    oneop_begin(&o, "Softmax", "", 13, 1, 1);
    CHECK(oneop_run(&o, &xi.t) == KILN_ERR_UNSUPPORTED);
    oneop_end(&o);
    rt_free(&xi);
}

int main(void) {
    rt_seed();
    test_axes();
    test_large();
    test_dtypes();
    test_numerics();
    return CHECK_DONE();
}
