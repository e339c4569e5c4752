/* Unary eltwise kernels (Abs ... Erf, IsNaN/IsInf incl. float8, Not, BitwiseNot) against double references on
 * fresh random inputs, over several dtypes and shapes (scalar, empty, odd, large enough to run in parallel). */
#include "test_cpu_eltwise_util.h"

static trng rng = {777};

typedef struct uop {
    const char *op;
    double lo, hi; /* input domain */
    double (*ref)(double);
    int ints; /* also test integer dtypes */
} uop;

static double r_abs(double x) {
    return fabs(x);
}
static double r_neg(double x) {
    return -x;
}
static double r_sign(double x) {
    return x > 0 ? 1 : x < 0 ? -1 : 0;
}
static double r_recip(double x) {
    return 1 / x;
}
/* Round half to even, spelled out. */
static double r_round(double x) {
    double f = floor(x), d = x - f;
    if (d > 0.5) return f + 1;
    if (d < 0.5) return f;
    return fmod(f, 2) == 0 ? f : f + 1;
}

static const uop uops[] = {
    {"Abs", -50, 50, r_abs, 1},       {"Neg", -50, 50, r_neg, 1},
    {"Sign", -5, 5, r_sign, 1},       {"Reciprocal", 0.5, 8, r_recip, 0},
    {"Sqrt", 0, 100, sqrt, 0},        {"Exp", -10, 10, exp, 0},
    {"Log", 0.01, 100, log, 0},       {"Ceil", -10, 10, ceil, 0},
    {"Floor", -10, 10, floor, 0},     {"Round", -10, 10, r_round, 0},
    {"Sin", -6, 6, sin, 0},           {"Cos", -6, 6, cos, 0},
    {"Tan", -1.4, 1.4, tan, 0},       {"Asin", -0.99, 0.99, asin, 0},
    {"Acos", -0.99, 0.99, acos, 0},   {"Atan", -10, 10, atan, 0},
    {"Sinh", -5, 5, sinh, 0},         {"Cosh", -5, 5, cosh, 0},
    {"Asinh", -10, 10, asinh, 0},     {"Acosh", 1, 10, acosh, 0},
    {"Atanh", -0.99, 0.99, atanh, 0}, {"Erf", -3, 3, erf, 0},
};

static const kiln_dtype floats[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16};
static const kiln_dtype ints[] = {KILN_INT8,  KILN_INT16,  KILN_INT32,  KILN_INT64,
                                  KILN_UINT8, KILN_UINT16, KILN_UINT32, KILN_UINT64};

static const struct {
    int rank;
    int64_t d[3];
} shapes[] = {{3, {2, 3, 4}}, {1, {0}}, {0, {0}}, {1, {37}}, {1, {70001}}, {3, {3, 0, 2}}};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

static void check_uop(const uop *u, kiln_dtype t) {
    int is_int = kiln_dtype_is_int(t), is_uns = is_int && !kiln_dtype_is_signed(t);
    for (int s = 0; s < N_SHAPES; s++) {
        kiln_tensor x = tmake(t, shapes[s].rank, shapes[s].d);
        double lo = is_uns && u->lo < 0 ? 0 : u->lo;
        tfill(&x, &rng, lo, u->hi);
        int64_t n = kiln_tensor_numel(&x);
        if (!strcmp(u->op, "Round")) /* plenty of exact halves to check ties-to-even */
            for (int64_t i = 0; i < n; i += 2) kiln_store_f64(t, x.data, i, (double)llround(tget(&x, i) * 2) / 2);
        if (!strcmp(u->op, "Sign") && n > 1) kiln_store_f64(t, x.data, 1, 0);
        oneop o;
        oneop_begin(&o, u->op, "", 22, 1, 1);
        kiln_status st = oneop_run(&o, &x);
        CHECK(st == KILN_OK);
        if (st != KILN_OK) {
            fprintf(stderr, "  %s %s: %s\n", u->op, kiln_dtype_name(t), kiln_error_text());
        } else {
            const kiln_tensor *y = oneop_out(&o, 0);
            CHECK(y->dtype == t && y->rank == x.rank);
            int64_t bad = 0;
            for (int64_t i = 0; i < n; i++) {
                double want = u->ref(tget(&x, i)), got = tget(y, i);
                if (is_int) {
                    int64_t buf = 0; /* wrap (e.g. Neg of unsigned is not tested; Abs(INT_MIN) wraps) */
                    kiln_store_i64(t, &buf, 0, (int64_t)want);
                    want = kiln_load_f64(t, &buf, 0);
                } else {
                    want = t_round(t, want);
                }
                double atol = t == KILN_FLOAT ? 2e-6 : t == KILN_DOUBLE ? 1e-12 : 2e-3;
                if (!t_close(t, got, want, is_int ? 0 : atol)) {
                    if (bad++ < 3)
                        fprintf(stderr, "  %s %s elem %lld: x %.9g got %.9g want %.9g\n", u->op, kiln_dtype_name(t),
                                (long long)i, tget(&x, i), got, want);
                }
            }
            CHECK(bad == 0);
        }
        oneop_end(&o);
        kiln_tensor_release(&x);
    }
}

static void test_math(void) {
    for (size_t i = 0; i < sizeof uops / sizeof uops[0]; i++) {
        for (int f = 0; f < 4; f++) check_uop(&uops[i], floats[f]);
        if (uops[i].ints)
            for (int k = 0; k < 8; k++) {
                if (!strcmp(uops[i].op, "Neg") && !kiln_dtype_is_signed(ints[k])) continue;
                check_uop(&uops[i], ints[k]);
            }
    }
    /* Neg of an unsigned type is not in the spec: refused with a clear error. */
    int64_t d1[] = {1};
    uint8_t v = 3;
    kiln_tensor x = oneop_tensor(KILN_UINT8, 1, d1, &v);
    oneop o;
    oneop_begin(&o, "Neg", "", 13, 1, 1);
    CHECK(oneop_run(&o, &x) == KILN_ERR_UNSUPPORTED);
    CHECK(strstr(kiln_error_text(), "uint8") != NULL);
    oneop_end(&o);
    /* Abs(INT8_MIN) wraps; Sign of signed zero and NaN */
    int8_t m = -128;
    kiln_tensor xm = oneop_tensor(KILN_INT8, 1, d1, &m);
    oneop_begin(&o, "Abs", "", 13, 1, 1);
    CHECK(oneop_run(&o, &xm) == KILN_OK && ((int8_t *)oneop_out(&o, 0)->data)[0] == -128);
    oneop_end(&o);
    float sv[] = {-0.0f, NAN, INFINITY};
    int64_t d3[] = {3};
    kiln_tensor xs = oneop_tensor(KILN_FLOAT, 1, d3, sv);
    oneop_begin(&o, "Sign", "", 13, 1, 1);
    CHECK(oneop_run(&o, &xs) == KILN_OK);
    const float *r = oneop_out(&o, 0)->data;
    CHECK(r[0] == 0 && isnan(r[1]) && r[2] == 1);
    oneop_end(&o);
}

static void test_isnan_isinf(void) {
    float v[] = {1.0f, NAN, INFINITY, -INFINITY, 0.0f, -NAN, -3.0f};
    int64_t d7[] = {7};
    for (int f = 0; f < 4; f++) {
        kiln_dtype t = floats[f];
        kiln_tensor x = tmake(t, 1, d7);
        for (int i = 0; i < 7; i++) kiln_store_f64(t, x.data, i, v[i]);
        for (int mode = 0; mode < 4; mode++) {
            int neg = mode & 1, pos = (mode >> 1) & 1;
            oneop o;
            oneop_begin(&o, "IsInf", "", 20, 1, 1);
            oneop_attr_int(&o, "detect_negative", neg);
            oneop_attr_int(&o, "detect_positive", pos);
            CHECK(oneop_run(&o, &x) == KILN_OK);
            const kiln_tensor *y = oneop_out(&o, 0);
            CHECK(y->dtype == KILN_BOOL);
            const uint8_t *r = y->data;
            for (int i = 0; i < 7; i++) CHECK(r[i] == (isinf(v[i]) && (v[i] > 0 ? pos : neg)));
            oneop_end(&o);
        }
        oneop o;
        oneop_begin(&o, "IsNaN", "", 20, 1, 1);
        CHECK(oneop_run(&o, &x) == KILN_OK);
        const uint8_t *r = oneop_out(&o, 0)->data;
        for (int i = 0; i < 7; i++) CHECK(r[i] == (isnan(v[i]) != 0));
        oneop_end(&o);
        kiln_tensor_release(&x);
    }
    /* float8: every byte, against the bit layouts in the ONNX spec */
    const kiln_dtype f8[] = {KILN_FLOAT8E4M3FN, KILN_FLOAT8E4M3FNUZ, KILN_FLOAT8E5M2, KILN_FLOAT8E5M2FNUZ};
    uint8_t all[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    int64_t d256[] = {256};
    for (int f = 0; f < 4; f++) {
        kiln_tensor x = oneop_tensor(f8[f], 1, d256, all);
        oneop o, q;
        oneop_begin(&o, "IsNaN", "", 20, 1, 1);
        oneop_begin(&q, "IsInf", "", 20, 1, 1);
        CHECK(oneop_run(&o, &x) == KILN_OK && oneop_run(&q, &x) == KILN_OK);
        const uint8_t *rn = oneop_out(&o, 0)->data, *ri = oneop_out(&q, 0)->data;
        int bad = 0;
        for (int b = 0; b < 256; b++) {
            int e5 = (b >> 2) & 0x1f, m2 = b & 3;
            int want_nan = f == 0 ? (b & 0x7f) == 0x7f : f == 2 ? (e5 == 31 && m2 != 0) : b == 0x80;
            int want_inf = f == 2 && e5 == 31 && m2 == 0;
            bad += rn[b] != want_nan || ri[b] != want_inf;
        }
        CHECK(bad == 0);
        oneop_end(&o);
        oneop_end(&q);
    }
}

static void test_logic_bits(void) {
    int64_t d[] = {5, 13};
    kiln_tensor b = tmake(KILN_BOOL, 2, d);
    tfill(&b, &rng, 0, 1);
    oneop o;
    oneop_begin(&o, "Not", "", 1, 1, 1);
    CHECK(oneop_run(&o, &b) == KILN_OK);
    int bad = 0;
    for (int i = 0; i < 65; i++) bad += tget(oneop_out(&o, 0), i) != !tget(&b, i);
    CHECK(bad == 0);
    oneop_end(&o);
    kiln_tensor_release(&b);
    for (int k = 0; k < 8; k++) {
        kiln_tensor x = tmake(ints[k], 2, d);
        int64_t n = kiln_tensor_numel(&x);
        for (int64_t i = 0; i < n; i++) kiln_store_i64(ints[k], x.data, i, (int64_t)trng_next(&rng));
        oneop_begin(&o, "BitwiseNot", "", 18, 1, 1);
        CHECK(oneop_run(&o, &x) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        bad = 0;
        size_t es = kiln_dtype_size(ints[k]);
        const uint8_t *yb = y->data, *xb = x.data;
        for (size_t q = 0; q < (size_t)n * es; q++) bad += (yb[q] ^ xb[q]) != 0xff;
        CHECK(bad == 0);
        oneop_end(&o);
        kiln_tensor_release(&x);
    }
}

/* Exp, Tanh, Erf and Sigmoid over the whole float range (float32 kernels use their own vectorizable code):
 * +-m 2^k for many exponents, against double. Exp below the smallest normal float may flush to 0. */
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }

static void test_wide_range(void) {
    const struct {
        const char *op;
        double (*ref)(double);
    } ops[] = {{"Exp", exp}, {"Tanh", tanh}, {"Erf", erf}, {"Sigmoid", r_sigmoid}};
    const double ms[] = {1.0, 1.1, 1.37, 1.5, 1.99};
    float v[2 * 5 * 70 + 8];
    int n = 0;
    for (int k = -60; k < 10; k++)
        for (int m = 0; m < 5; m++) {
            v[n++] = (float)ldexp(ms[m], k);
            v[n++] = (float)-ldexp(ms[m], k);
        }
    const float sp[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 88.7f, -87.0f, -104.0f};
    for (int i = 0; i < 8; i++) v[n++] = sp[i];
    int64_t d[] = {n};
    kiln_tensor x = oneop_tensor(KILN_FLOAT, 1, d, v);
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        oneop q;
        oneop_begin(&q, ops[o].op, "", 13, 1, 1);
        CHECK(oneop_run(&q, &x) == KILN_OK);
        const float *y = oneop_out(&q, 0)->data;
        int bad = 0;
        for (int i = 0; i < n; i++) {
            double want = ops[o].ref(v[i]);
            if (want > 3.4028234663852886e38) want = INFINITY;
            if (!t_close(KILN_FLOAT, y[i], want, 1.2e-38) || (want == 0 && !signbit(want) != !signbit(y[i]))) {
                if (bad++ < 3) fprintf(stderr, "  %s(%.9g) = %.9g, want %.9g\n", ops[o].op, v[i], y[i], want);
            }
        }
        CHECK(bad == 0);
        oneop_end(&q);
    }
}

int main(void) {
    test_math();
    test_isnan_isinf();
    test_logic_bits();
    test_wide_range();
    return CHECK_DONE();
}
