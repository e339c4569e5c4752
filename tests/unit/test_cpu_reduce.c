/* Reduce* kernels against a double reference: every op over every axis subset of several shapes (size-1 and
 * empty dims included), keepdims on and off, axes as attribute (old opsets) and as input (new ones), negative
 * axes, noop_with_empty_axes, and the float16 / bfloat16 / double / integer / bool dtypes. */
#include "reduce_testutil.h"

typedef enum top { OP_SUM, OP_MEAN, OP_MAX, OP_MIN, OP_PROD, OP_L1, OP_L2, OP_LOGSUM, OP_LSE, OP_SUMSQ, OP_COUNT } top;
static const char *const op_names[OP_COUNT] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                               "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                                               "ReduceSumSquare"};

/* Reference: y (one per kept position) and tol (the error a float implementation may make). */
static void ref_reduce(top op, const rt_tensor *x, const int *red, double *y, double *tol, int64_t ny) {
    int rank = x->t.rank;
    const int64_t *dims = x->t.dims;
    int64_t ost[KILN_MAX_DIMS], s = 1, R = 1;
    for (int d = rank - 1; d >= 0; d--) {
        ost[d] = red[d] ? 0 : s;
        if (red[d]) R *= dims[d];
        else s *= dims[d];
    }
    double *mx = calloc((size_t)ny + 1, sizeof(double)), *mag = calloc((size_t)ny + 1, sizeof(double));
    for (int64_t o = 0; o < ny; o++) {
        y[o] = op == OP_PROD ? 1 : op == OP_MAX ? -INFINITY : op == OP_MIN ? INFINITY : 0;
        mx[o] = -INFINITY;
    }
    for (int pass = op == OP_LSE ? 0 : 1; pass < 2; pass++) {
        int64_t idx[KILN_MAX_DIMS] = {0};
        for (int64_t i = 0; i < x->n; i++) {
            int64_t o = 0;
            for (int d = 0; d < rank; d++) o += idx[d] * ost[d];
            double v = x->v[i], m = 0;
            if (pass == 0) {
                mx[o] = v > mx[o] ? v : mx[o];
            } else {
                switch (op) {
                case OP_MAX: y[o] = v > y[o] ? v : y[o]; break;
                case OP_MIN: y[o] = v < y[o] ? v : y[o]; break;
                case OP_PROD: y[o] *= v; break;
                case OP_L1: m = fabs(v); break;
                case OP_L2: case OP_SUMSQ: m = v * v; break;
                case OP_LSE: m = exp(v - (isfinite(mx[o]) ? mx[o] : 0)); break;
                default: m = v; break;
                }
                y[o] += m;
                mag[o] += fabs(m);
            }
            rt_next(rank, dims, idx);
        }
    }
    double eps = rt_eps(x->t.dtype), grow = eps * (4 + 2 * sqrt((double)R));
    for (int64_t o = 0; o < ny; o++) {
        double t = 0;
        switch (op) {
        case OP_SUM: case OP_L1: case OP_SUMSQ: t = grow * mag[o]; break;
        case OP_MEAN: y[o] /= (double)R, t = grow * mag[o] / (double)R; break;
        case OP_L2: y[o] = sqrt(y[o]), t = grow * y[o]; break;
        case OP_LOGSUM: t = grow * mag[o] / fabs(y[o]), y[o] = log(y[o]); break;
        case OP_LSE: y[o] = log(y[o]) + (isfinite(mx[o]) ? mx[o] : 0), t = grow * 4; break;
        case OP_PROD: t = eps * (4 + (double)R) * fabs(y[o]); break;
        default: break;
        }
        if (!kiln_dtype_is_float(x->t.dtype)) { /* numpy: compute, then cast (truncate) to the input type */
            t = 0;
            if (op == OP_MEAN) y[o] = trunc(y[o]);
            if (op == OP_L2) y[o] = trunc(y[o]);
        }
        tol[o] = t + eps * fabs(y[o]) + 1e-300;
    }
    free(mx);
    free(mag);
}

/* Runs op on x reducing `axes` (n_axes < 0: no axes at all); checks against the reference. */
static void check_reduce(top op, int opset, const rt_tensor *x, const int64_t *axes, int n_axes, int keepdims,
                         int noop) {
    int rank = x->t.rank, red[KILN_MAX_DIMS] = {0}, any = 0;
    for (int i = 0; i < n_axes; i++) red[axes[i] < 0 ? axes[i] + rank : axes[i]] = 1, any = 1;
    if (!any && !noop)
        for (int d = 0; d < rank; d++) red[d] = 1;
    int64_t od[KILN_MAX_DIMS], ny = 1;
    int orank = 0;
    for (int d = 0; d < rank; d++) {
        if (!red[d]) od[orank++] = x->t.dims[d], ny *= x->t.dims[d];
        else if (keepdims) od[orank++] = 1;
    }
    int axes_input = opset >= 18 || (op == OP_SUM && opset >= 13);
    oneop o;
    oneop_begin(&o, op_names[op], "", opset, axes_input ? 2 : 1, 1);
    oneop_attr_int(&o, "keepdims", keepdims);
    if (noop) oneop_attr_int(&o, "noop_with_empty_axes", 1);
    kiln_tensor in[2];
    memset(in, 0, sizeof in);
    in[0] = x->t;
    rt_tensor at = {0};
    if (n_axes >= 0) {
        int64_t ad[1] = {n_axes};
        at = rt_ints(1, ad, axes);
        if (axes_input) in[1] = at.t;
        else oneop_attr_ints(&o, "axes", axes, n_axes);
    }
    char what[256], xs[160], as[160];
    snprintf(what, sizeof what, "%s opset %d %s x%s axes %s keepdims %d noop %d", op_names[op], opset,
             kiln_dtype_name(x->t.dtype), kiln_shape_str(rank, x->t.dims, xs, sizeof xs),
             n_axes >= 0 ? kiln_shape_str(n_axes, axes, as, sizeof as) : "(none)", keepdims, noop);

    kiln_status st = oneop_run(&o, in);
    CHECK(st == KILN_OK);
    if (st != KILN_OK) {
        fprintf(stderr, "%s: %s\n", what, kiln_error_text());
    } else {
        const kiln_tensor *y = oneop_out(&o, 0);
        double *ref = calloc((size_t)ny + 1, sizeof(double)), *tol = calloc((size_t)ny + 1, sizeof(double));
        ref_reduce(op, x, red, ref, tol, ny);
        CHECK(y->dtype == x->t.dtype);
        CHECK(rt_shape_is(y, orank, od, what));
        CHECK(rt_close(y, ref, tol, ny, 0, 0, what));
        free(ref);
        free(tol);
    }
    oneop_end(&o);
    rt_free(&at);
}

static void value_range(top op, kiln_dtype dt, double *lo, double *hi) {
    *lo = -2, *hi = 2;
    if (op == OP_PROD) *lo = 0.8, *hi = 1.25;
    if (op == OP_LOGSUM) *lo = 0.1, *hi = 2;
    if (!kiln_dtype_is_float(dt)) {
        *lo = op == OP_PROD ? 1 : -9, *hi = op == OP_PROD ? 2 : 9;
        if (!kiln_dtype_is_signed(dt)) *lo = op == OP_PROD ? 1 : 0;
    }
}

/* Every axis subset of a few shapes, every op, float32. */
static void test_all_axes(void) {
    static const int64_t shapes[][5] = {{3, 2, 3, 4}, {1, 5}, {1, 4, 1, 3, 1}, {7}, {2, 1, 5, 6}};
    static const int ranks[] = {3, 2, 5, 1, 4};
    for (size_t s = 0; s < sizeof ranks / sizeof ranks[0]; s++) {
        int rank = ranks[s];
        for (int op = 0; op < OP_COUNT; op++) {
            double lo, hi;
            value_range((top)op, KILN_FLOAT, &lo, &hi);
            rt_tensor x = rt_rand(KILN_FLOAT, rank, shapes[s], lo, hi);
            for (int mask = 0; mask < (1 << rank); mask++) {
                int64_t axes[KILN_MAX_DIMS];
                int n = 0;
                for (int d = 0; d < rank; d++)
                    if (mask & (1 << d)) axes[n++] = rt_unit() < 0.5 ? d : d - rank; /* negative half the time */
                int opset = (mask & 1) ? 18 : 11;
                check_reduce((top)op, opset, &x, axes, n, mask & 2 ? 0 : 1, 0);
                if (mask == 0) check_reduce((top)op, 18, &x, axes, -1, 1, 0); /* no axes input at all */
            }
            rt_free(&x);
        }
    }
}

/* Shapes big enough to take the threaded and split paths, innermost and outermost axes. */
static void test_large(void) {
    int64_t d1[] = {300, 257}, d2[] = {2, 70000}, d3[] = {131072}, d4[] = {5000, 3}, d5[] = {3, 4000, 7};
    const int64_t *ds[] = {d1, d2, d3, d4, d5};
    const int rk[] = {2, 2, 1, 2, 3};
    static const top ops[] = {OP_SUM, OP_MEAN, OP_MAX, OP_MIN, OP_L2, OP_LSE, OP_SUMSQ, OP_PROD, OP_L1};
    for (int s = 0; s < 5; s++)
        for (size_t q = 0; q < sizeof ops / sizeof ops[0]; q++) {
            double lo, hi;
            value_range(ops[q], KILN_FLOAT, &lo, &hi);
            if (ops[q] == OP_PROD) lo = 0.9999, hi = 1.0001;
            rt_tensor x = rt_rand(KILN_FLOAT, rk[s], ds[s], lo, hi);
            int64_t a0[] = {0}, al[] = {rk[s] - 1}, am[] = {1};
            check_reduce(ops[q], 18, &x, a0, 1, 1, 0);
            check_reduce(ops[q], 18, &x, al, 1, 0, 0);
            check_reduce(ops[q], 18, &x, al, 0, 0, 0);
            if (rk[s] == 3) check_reduce(ops[q], 18, &x, am, 1, 1, 0);
            rt_free(&x);
        }
}

static void test_dtypes(void) {
    static const kiln_dtype types[] = {KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16, KILN_INT32, KILN_INT64,
                                       KILN_UINT8, KILN_UINT32, KILN_UINT64, KILN_INT8};
    int64_t dims[] = {4, 3, 5};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (int op = 0; op < OP_COUNT; op++) {
            kiln_dtype dt = types[t];
            if (!kiln_dtype_is_float(dt) && (op == OP_LOGSUM || op == OP_LSE)) continue;
            if ((dt == KILN_UINT8 || dt == KILN_INT8) && op != OP_MAX && op != OP_MIN) continue;
            double lo, hi;
            value_range((top)op, dt, &lo, &hi);
            rt_tensor x = rt_rand(dt, 3, dims, lo, hi);
            int64_t a1[] = {1}, a02[] = {0, -1};
            check_reduce((top)op, 18, &x, a1, 1, 1, 0);
            check_reduce((top)op, 18, &x, a02, 2, 0, 0);
            check_reduce((top)op, 13, &x, a02, 2, 1, 0);
            rt_free(&x);
        }
    /* bool ReduceMax / ReduceMin (opset 20) */
    int64_t bd[] = {6, 5};
    rt_tensor b = rt_rand(KILN_BOOL, 2, bd, 0, 1);
    int64_t a1[] = {1};
    check_reduce(OP_MAX, 20, &b, a1, 1, 1, 0);
    check_reduce(OP_MIN, 20, &b, a1, 1, 0, 0);
    rt_free(&b);
}

/* Empty inputs: reducing an empty axis gives the op's identity; an empty kept axis gives an empty output. */
static void test_empty(void) {
    int64_t dims[] = {3, 0, 2};
    rt_tensor x = rt_rand(KILN_FLOAT, 3, dims, -1, 1);
    int64_t a1[] = {1}, a0[] = {0};
    for (int op = 0; op < OP_COUNT; op++) {
        if (op == OP_MEAN) continue; /* 0 / 0: not specified */
        check_reduce((top)op, 18, &x, a1, 1, 1, 0);
        check_reduce((top)op, 18, &x, a0, 1, 1, 0);
        check_reduce((top)op, 18, &x, a1, 0, 0, 0);
    }
    rt_free(&x);
    /* integer max/min of nothing: the type's minimum / maximum */
    rt_tensor xi = rt_make(KILN_INT32, 3, dims);
    for (int op = OP_MAX; op <= OP_MIN; op++) {
        oneop o;
        oneop_begin(&o, op_names[op], "", 18, 2, 1);
        rt_tensor at = rt_ints(1, (int64_t[]){1}, a1);
        kiln_tensor in[2] = {xi.t, at.t};
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(kiln_tensor_numel(y) == 6);
        for (int i = 0; i < 6 && kiln_tensor_numel(y) == 6; i++)
            CHECK(((const int32_t *)y->data)[i] == (op == OP_MAX ? INT32_MIN : INT32_MAX));
        oneop_end(&o);
        rt_free(&at);
    }
    rt_free(&xi);
}

/* noop_with_empty_axes: an empty axes list leaves the input unreduced (the op's map still applies). */
static void test_noop(void) {
    int64_t dims[] = {2, 3};
    for (int op = 0; op < OP_COUNT; op++) {
        double lo, hi;
        value_range((top)op, KILN_FLOAT, &lo, &hi);
        rt_tensor x = rt_rand(KILN_FLOAT, 2, dims, lo, hi);
        check_reduce((top)op, 18, &x, NULL, 0, 1, 1);
        check_reduce((top)op, 18, &x, NULL, -1, 0, 1);
        rt_free(&x);
    }
}

/* Scalars, NaN propagation and the error paths. */
static void test_edges(void) {
    rt_tensor s = rt_rand(KILN_FLOAT, 0, NULL, -1, 1);
    for (int op = 0; op < OP_COUNT; op++) {
        if (op == OP_LOGSUM) rt_set(&s, 0, 0.75);
        check_reduce((top)op, 18, &s, NULL, 0, 0, 0);
        check_reduce((top)op, 11, &s, NULL, -1, 1, 0);
    }
    rt_free(&s);

    int64_t dims[] = {2, 4};
    rt_tensor x = rt_rand(KILN_FLOAT, 2, dims, -1, 1);
    rt_set(&x, 5, NAN);
    int64_t a1[] = {1};
    for (int op = OP_MAX; op <= OP_MIN; op++) {
        oneop o;
        oneop_begin(&o, op_names[op], "", 18, 2, 1);
        rt_tensor at = rt_ints(1, (int64_t[]){1}, a1);
        kiln_tensor in[2] = {x.t, at.t};
        CHECK(oneop_run(&o, in) == KILN_OK);
        const float *y = oneop_out(&o, 0)->data;
        CHECK(!isnan(y[0]) && isnan(y[1]));
        oneop_end(&o);
        rt_free(&at);
    }

    /* bad axes: out of range, repeated */
    int64_t bad[][2] = {{2, 0}, {-3, 0}, {1, -1}};
    for (int b = 0; b < 3; b++) {
        oneop o;
        oneop_begin(&o, "ReduceSum", "", 13, 2, 1);
        int n = b == 2 ? 2 : 1;
        rt_tensor at = rt_ints(1, (int64_t[]){n}, bad[b]);
        kiln_tensor in[2] = {x.t, at.t};
        kiln_status st = oneop_run(&o, in);
        CHECK(st != KILN_OK && strstr(kiln_error_text(), "ReduceSum") != NULL);
        oneop_end(&o);
        rt_free(&at);
    }
    /* unsupported dtype */
    rt_tensor bx = rt_rand(KILN_BOOL, 2, dims, 0, 1);
    oneop o;
    oneop_begin(&o, "ReduceSum", "", 13, 1, 1);
    kiln_tensor in[1] = {bx.t};
    CHECK(oneop_run(&o, in) == KILN_ERR_UNSUPPORTED);
    oneop_end(&o);
    rt_free(&bx);
    rt_free(&x);
}

int main(void) {
    rt_seed();
    test_all_axes();
    test_large();
    test_dtypes();
    test_empty();
    test_noop();
    test_edges();
    return CHECK_DONE();
}
