/* Cast / CastLike / BitCast. The narrow float formats are checked against a brute-force reference: decode every
 * bit pattern from the format's definition, pick the nearest one (ties to even mantissa) and apply the ONNX
 * saturation table. Numeric pairs, strings, E8M0, int4/int2 and bit reinterpretation have their own checks. */
#include <stdlib.h>

#include "test_cpu_eltwise_util.h"

static trng rng = {99};

/* ---------------------------------------------------------------- running a cast -------------------------------- */

/* Casts x to `to`; the result is copied into *y (caller releases). */
static kiln_status cast(const kiln_tensor *x, kiln_dtype to, int saturate, const char *round_mode, kiln_tensor *y) {
    oneop o;
    oneop_begin(&o, "Cast", "", 25, 1, 1);
    oneop_attr_int(&o, "to", to);
    if (saturate >= 0) oneop_attr_int(&o, "saturate", saturate);
    if (round_mode) oneop_attr_string(&o, "round_mode", round_mode);
    kiln_status st = oneop_run(&o, x);
    if (st == KILN_OK) kiln_tensor_copy(y, oneop_out(&o, 0));
    oneop_end(&o);
    return st;
}

/* ---------------------------------------------------------------- narrow float reference ------------------------ */

typedef struct fmt {
    kiln_dtype t;
    int e, m, bias;
    int kind; /* 0 IEEE-like (inf + NaNs at top exponent), 1 FN, 2 FNUZ, 3 no inf/NaN */
} fmt;

static const fmt fmts[] = {
    {KILN_FLOAT8E4M3FN, 4, 3, 7, 1},    {KILN_FLOAT8E4M3FNUZ, 4, 3, 8, 2}, {KILN_FLOAT8E5M2, 5, 2, 15, 0},
    {KILN_FLOAT8E5M2FNUZ, 5, 2, 16, 2}, {KILN_FLOAT4E2M1, 2, 1, 1, 3},     {KILN_FLOAT6E2M3, 2, 3, 1, 3},
    {KILN_FLOAT6E3M2, 3, 2, 3, 3},      {KILN_FLOAT16, 5, 10, 15, 0},
};

/* Value of bit pattern b, from the definition: (-1)^s * 2^(e-bias) * 1.m, or 2^(1-bias) * 0.m when e == 0. */
static double fdecode(const fmt *f, uint32_t b) {
    uint32_t s = (b >> (f->e + f->m)) & 1, e = (b >> f->m) & ((1u << f->e) - 1), m = b & ((1u << f->m) - 1);
    uint32_t top = (1u << f->e) - 1;
    if (f->kind == 2 && s && !e && !m) return NAN;
    if (f->kind == 1 && e == top && m == (1u << f->m) - 1) return NAN;
    if (f->kind == 0 && e == top) return m ? NAN : (s ? -INFINITY : INFINITY);
    double v = e ? ldexp(1 + m / (double)(1u << f->m), (int)e - f->bias) : ldexp(m / (double)(1u << f->m), 1 - f->bias);
    return s ? -v : v;
}

static int fbits(const fmt *f) {
    return 1 + f->e + f->m;
}

/* The non-negative finite values of a format in increasing order, with their bit patterns. */
typedef struct ftable {
    int n;
    double v[40000];
    uint32_t b[40000];
} ftable;

static ftable tab;

static void build_table(const fmt *f) {
    tab.n = 0;
    for (uint32_t b = 0; b < (1u << (f->e + f->m)); b++) { /* sign bit clear: increasing with b */
        double v = fdecode(f, b);
        if (!isfinite(v)) continue;
        tab.v[tab.n] = v;
        tab.b[tab.n++] = b;
    }
}

/* Expected decoded result of casting x (NaN expected as NaN, compared by value). */
static double fref(const fmt *f, double x, int saturate) {
    if (f->kind == 3) saturate = 1;
    double mx = tab.v[tab.n - 1];
    uint32_t maxbits = tab.b[tab.n - 1];
    /* no NaN in the format: a zero of the opposite sign, as the ONNX reference data has it */
    if (isnan(x)) return f->kind == 3 ? (signbit(x) ? 0.0 : -0.0) : NAN;
    if (isinf(x)) return saturate ? copysign(mx, x) : f->kind == 0 ? x : NAN;
    /* overflow when x rounds (with an unbounded exponent) above max: beyond max + half an ulp, or at it when max's
     * mantissa is odd (ties to even go up) */
    int ex;
    frexp(mx, &ex);
    double ulp = ldexp(1, ex - 1 - f->m), lim = mx + ulp / 2, a = fabs(x);
    if (a > lim || (a == lim && (maxbits & 1)))
        return saturate ? copysign(mx, x) : f->kind == 0 ? copysign(INFINITY, x) : NAN;
    if (a >= mx) return copysign(mx, x);
    int lo = 0, hi = tab.n - 1; /* tab.v[lo] <= a < tab.v[hi] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (tab.v[mid] <= a)
            lo = mid;
        else
            hi = mid;
    }
    double dl = a - tab.v[lo], dh = tab.v[hi] - a;
    int pick = dl < dh ? lo : dh < dl ? hi : (tab.b[lo] & 1) ? hi : lo;
    double best = tab.v[pick];
    if (best == 0) return f->kind == 2 ? 0.0 : copysign(0.0, x);
    return copysign(best, x);
}

static void test_narrow_floats(void) {
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        const fmt *f = &fmts[fi];
        int nb = fbits(f), n_pat = 1 << nb;
        /* decode: every pattern, via Cast to double */
        if (f->t != KILN_FLOAT16) {
            int64_t dn[] = {n_pat};
            kiln_tensor x = tmake(f->t, 1, dn), y = {0};
            for (int b = 0; b < n_pat; b++) ((uint8_t *)x.data)[b] = (uint8_t)b;
            CHECK(cast(&x, KILN_DOUBLE, -1, NULL, &y) == KILN_OK);
            int bad = 0;
            for (int b = 0; b < n_pat; b++) {
                double want = fdecode(f, (uint32_t)b), got = ((double *)y.data)[b];
                if (!(isnan(want) ? isnan(got) : got == want && !signbit(got) == !signbit(want))) bad++;
            }
            CHECK(bad == 0);
            if (bad) fprintf(stderr, "  decode %s: %d bad\n", kiln_dtype_name(f->t), bad);
            kiln_tensor_release(&x);
            kiln_tensor_release(&y);
        }
        /* encode: exact midpoints, just around them, random values, specials; from double and from float */
        build_table(f);
        double mx = tab.v[tab.n - 1];
        int cap = 4 * n_pat + 1100;
        double *vals = malloc(sizeof(double) * (size_t)cap);
        int nv = 0;
        for (int b = 0; b + 1 < n_pat / 2; b += f->t == KILN_FLOAT16 ? 7 : 1) {
            double lo = fdecode(f, (uint32_t)b), hi = fdecode(f, (uint32_t)b + 1);
            if (!isfinite(lo) || !isfinite(hi)) continue;
            double mid = (lo + hi) / 2;
            vals[nv++] = mid;
            vals[nv++] = -mid;
            vals[nv++] = nextafter(mid, INFINITY);
            vals[nv++] = -nextafter(mid, 0);
        }
        for (int i = 0; i < 1000; i++) vals[nv++] = trng_uniform(&rng, -1.5 * mx, 1.5 * mx);
        double specials[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, mx, -mx, mx * 1.02, mx * 1.2, 1e-30, -1e-30, 1e6};
        for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) vals[nv++] = specials[i];
        int64_t dn[] = {nv};
        kiln_tensor xd = tmake(KILN_DOUBLE, 1, dn), xf = tmake(KILN_FLOAT, 1, dn);
        for (int i = 0; i < nv; i++) {
            ((double *)xd.data)[i] = vals[i];
            ((float *)xf.data)[i] = (float)vals[i];
        }
        for (int sat = 0; sat < 2; sat++) {
            for (int src = 0; src < 2; src++) {
                kiln_tensor y = {0}, back = {0};
                const kiln_tensor *x = src ? &xf : &xd;
                CHECK(cast(x, f->t, sat, NULL, &y) == KILN_OK);
                CHECK(cast(&y, KILN_DOUBLE, -1, NULL, &back) == KILN_OK);
                int bad = 0;
                for (int i = 0; i < nv; i++) {
                    double in = src ? (double)((float *)xf.data)[i] : vals[i];
                    double want = fref(f, in, f->t == KILN_FLOAT16 ? 0 : sat), got = ((double *)back.data)[i];
                    int ok = isnan(want) ? isnan(got) : (got == want && !signbit(got) == !signbit(want));
                    if (!ok && bad++ < 3)
                        fprintf(stderr, "  %s sat %d src %s: %.17g -> %.17g, want %.17g\n", kiln_dtype_name(f->t), sat,
                                src ? "float" : "double", in, got, want);
                }
                CHECK(bad == 0);
                kiln_tensor_release(&y);
                kiln_tensor_release(&back);
            }
        }
        free(vals);
        kiln_tensor_release(&xd);
        kiln_tensor_release(&xf);
    }
}

/* bfloat16 from double: one rounding (a double just above a bfloat16 midpoint rounds up even where rounding to
 * float first would land on the midpoint and round to even). */
static void test_bf16_rounding(void) {
    int64_t d[] = {4};
    double v[] = {1.0 + 1.0 / 256 + 1e-12, 1.0 + 1.0 / 256, 1.0 + 3.0 / 256, -(1.0 + 1.0 / 256 + 1e-12)};
    kiln_tensor x = oneop_tensor(KILN_DOUBLE, 1, d, v), y = {0};
    CHECK(cast(&x, KILN_BFLOAT16, -1, NULL, &y) == KILN_OK);
    const uint16_t *r = y.data;
    CHECK(r[0] == 0x3f81 && r[1] == 0x3f80 && r[2] == 0x3f82 && r[3] == 0xbf81);
    kiln_tensor_release(&y);
}

/* ---------------------------------------------------------------- numeric pairs --------------------------------- */

static const kiln_dtype num[] = {KILN_INT8,   KILN_INT16,   KILN_INT32,   KILN_INT64, KILN_UINT8,
                                 KILN_UINT16, KILN_UINT32,  KILN_UINT64,  KILN_BOOL,  KILN_FLOAT,
                                 KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16};

static void test_numeric_pairs(void) {
    const int n_types = (int)(sizeof num / sizeof num[0]);
    int64_t dims[] = {3, 347};
    for (int a = 0; a < n_types; a++) {
        kiln_dtype from = num[a];
        kiln_tensor x = tmake(from, 2, dims);
        int64_t n = kiln_tensor_numel(&x);
        if (kiln_dtype_is_float(from)) {
            tfill(&x, &rng, -300, 300);
        } else if (from == KILN_BOOL) {
            tfill(&x, &rng, 0, 1);
        } else {
            for (int64_t i = 0; i < n; i++) kiln_store_i64(from, x.data, i, (int64_t)trng_next(&rng));
            for (int64_t i = 0; i < n; i += 7) kiln_store_i64(from, x.data, i, 0);
        }
        for (int b = 0; b < n_types; b++) {
            kiln_dtype to = num[b];
            kiln_tensor y = {0};
            CHECK(cast(&x, to, -1, NULL, &y) == KILN_OK);
            CHECK(y.dtype == to && y.rank == 2 && y.dims[1] == 347);
            int bad = 0;
            for (int64_t i = 0; i < n && y.dtype == to; i++) {
                int ok;
                if (to == KILN_BOOL) {
                    ok = tget(&y, i) == (tget(&x, i) != 0);
                } else if (kiln_dtype_is_int(to)) {
                    /* ints keep the low bits; floats truncate toward zero first */
                    int64_t src = kiln_dtype_is_float(from) ? (int64_t)trunc(tget(&x, i)) : tgeti(&x, i);
                    int64_t buf = 0;
                    kiln_store_i64(to, &buf, 0, src);
                    ok = memcmp(&buf, (char *)y.data + (size_t)i * kiln_dtype_size(to), kiln_dtype_size(to)) == 0;
                } else {
                    double src = from == KILN_UINT64 ? (double)(uint64_t)tgeti(&x, i) : tget(&x, i);
                    if (from == KILN_INT64) src = (double)tgeti(&x, i);
                    double want = to == KILN_DOUBLE ? src : t_round(to, src);
                    ok = t_close(to, tget(&y, i), want, 0);
                }
                if (!ok && bad++ < 2)
                    fprintf(stderr, "  %s -> %s elem %lld: %.17g -> %.17g\n", kiln_dtype_name(from),
                            kiln_dtype_name(to), (long long)i, tget(&x, i), tget(&y, i));
            }
            CHECK(bad == 0);
            kiln_tensor_release(&y);
        }
        kiln_tensor_release(&x);
    }
    /* a large float -> float16 -> float round trip runs in parallel and is exact for values that fit */
    int64_t big[] = {100003};
    kiln_tensor x = tmake(KILN_FLOAT, 1, big), h = {0}, back = {0};
    for (int64_t i = 0; i < big[0]; i++) ((float *)x.data)[i] = (float)((i % 2048) - 1024) / 8.0f;
    CHECK(cast(&x, KILN_FLOAT16, -1, NULL, &h) == KILN_OK);
    CHECK(cast(&h, KILN_FLOAT, -1, NULL, &back) == KILN_OK);
    CHECK(memcmp(x.data, back.data, sizeof(float) * (size_t)big[0]) == 0);
    kiln_tensor_release(&x);
    kiln_tensor_release(&h);
    kiln_tensor_release(&back);
}

/* ---------------------------------------------------------------- sub-byte ints, E8M0 ---------------------------- */

static void test_subbyte_ints(void) {
    int64_t d25[] = {25};
    kiln_tensor x = tmake(KILN_FLOAT, 1, d25), y = {0};
    for (int i = 0; i < 25; i++) ((float *)x.data)[i] = (float)(i - 9);
    const kiln_dtype ts[] = {KILN_INT4, KILN_UINT4, KILN_INT2, KILN_UINT2};
    for (int k = 0; k < 4; k++) {
        CHECK(cast(&x, ts[k], -1, NULL, &y) == KILN_OK);
        int bits = k < 2 ? 4 : 2, sgn = !(k & 1), bad = 0;
        for (int i = 0; i < 25; i++) {
            int v = (i - 9) & ((1 << bits) - 1);
            if (sgn && v >= 1 << (bits - 1)) v -= 1 << bits;
            int got = sgn ? ((int8_t *)y.data)[i] : ((uint8_t *)y.data)[i];
            bad += got != v;
        }
        CHECK(bad == 0);
        kiln_tensor back = {0};
        CHECK(cast(&y, KILN_FLOAT, -1, NULL, &back) == KILN_OK);
        for (int i = 0; i < 25; i++)
            CHECK(((float *)back.data)[i] == (float)(sgn ? ((int8_t *)y.data)[i] : ((uint8_t *)y.data)[i]));
        kiln_tensor_release(&back);
    }
    float fr[] = {2.7f, -2.7f};
    int64_t d2[] = {2};
    kiln_tensor xf = oneop_tensor(KILN_FLOAT, 1, d2, fr);
    CHECK(cast(&xf, KILN_INT4, -1, NULL, &y) == KILN_OK);
    CHECK(((int8_t *)y.data)[0] == 2 && ((int8_t *)y.data)[1] == -2);
    int8_t i8[] = {100, -100};
    kiln_tensor x8 = oneop_tensor(KILN_INT8, 1, d2, i8);
    CHECK(cast(&x8, KILN_INT4, -1, NULL, &y) == KILN_OK);
    CHECK(((int8_t *)y.data)[0] == 4 && ((int8_t *)y.data)[1] == -4);
    kiln_tensor_release(&x);
    kiln_tensor_release(&y);
}

static void test_e8m0(void) {
    float v[] = {0.0f, 0.124f, 0.25f, 1.1f, 2.0f, 3.0f, 2.5f, INFINITY, NAN, 3e38f, -2.0f, 1e-40f};
    int64_t d[] = {12};
    kiln_tensor x = oneop_tensor(KILN_FLOAT, 1, d, v), y = {0};
    /* up (default), saturating */
    const uint8_t up[] = {0, 124, 125, 128, 128, 129, 129, 255, 255, 254, 128, 1};
    CHECK(cast(&x, KILN_FLOAT8E8M0, -1, NULL, &y) == KILN_OK);
    for (int i = 0; i < 12; i++) CHECK(((uint8_t *)y.data)[i] == up[i]);
    const uint8_t nearest[] = {0, 124, 125, 127, 128, 129, 128, 255, 255, 254, 128, 0};
    CHECK(cast(&x, KILN_FLOAT8E8M0, 1, "nearest", &y) == KILN_OK);
    for (int i = 0; i < 12; i++) CHECK(((uint8_t *)y.data)[i] == nearest[i]);
    const uint8_t down[] = {0, 123, 125, 127, 128, 128, 128, 255, 255, 254, 128, 0};
    CHECK(cast(&x, KILN_FLOAT8E8M0, 1, "down", &y) == KILN_OK);
    for (int i = 0; i < 12; i++) CHECK(((uint8_t *)y.data)[i] == down[i]);
    CHECK(cast(&x, KILN_FLOAT8E8M0, 0, "up", &y) == KILN_OK);
    CHECK(((uint8_t *)y.data)[9] == 255); /* 3e38 rounds past the largest exponent without saturation */
    CHECK(cast(&x, KILN_FLOAT8E8M0, 1, "sideways", &y) == KILN_ERR_INVALID_GRAPH);
    uint8_t e[] = {127, 0, 255, 254, 130};
    int64_t d5[] = {5};
    kiln_tensor xe = oneop_tensor(KILN_FLOAT8E8M0, 1, d5, e);
    CHECK(cast(&xe, KILN_FLOAT, -1, NULL, &y) == KILN_OK);
    const float *r = y.data;
    CHECK(r[0] == 1.0f && r[1] == ldexpf(1, -127) && isnan(r[2]) && r[3] == ldexpf(1, 127) && r[4] == 8.0f);
    kiln_tensor_release(&y);
}

/* ---------------------------------------------------------------- strings --------------------------------------- */

static void check_strings(kiln_dtype t, const double *v, const char *const *want, int n) {
    int64_t d[] = {n};
    kiln_tensor x = tmake(t, 1, d), y = {0};
    for (int i = 0; i < n; i++) kiln_store_f64(t, x.data, i, v[i]);
    CHECK(cast(&x, KILN_STRING, -1, NULL, &y) == KILN_OK);
    for (int i = 0; i < n; i++) {
        const char *got = ((char **)y.data)[i];
        if (strcmp(got, want[i]))
            fprintf(stderr, "  %s %.17g -> '%s', want '%s'\n", kiln_dtype_name(t), v[i], got, want[i]);
        CHECK(!strcmp(got, want[i]));
    }
    kiln_tensor_release(&x);
    kiln_tensor_release(&y);
}

static void test_strings(void) {
    /* what numpy's astype(str) prints, which the ONNX reference uses */
    const double f[] = {0.47892547, 1e6, 1e-7, 1e16, 123456789, NAN,    INFINITY, -INFINITY, 100.5,
                        3.0,        0.0, -0.0, 1e-4, 0.0001234, 1.5e-5, 999999.0, -12.25};
    const char *fs[] = {"0.47892547", "1e+06",     "1e-07",   "1e+16",    "1.2345679e+08", "nan",
                        "inf",        "-inf",      "100.5",   "3.0",      "0.0",           "-0.0",
                        "1e-04",      "0.0001234", "1.5e-05", "999999.0", "-12.25"};
    check_strings(KILN_FLOAT, f, fs, 17);
    const double d[] = {0.1, 1e15, 1e16, 123456789, (double)(float)1e-7, 1e-4};
    const char *ds[] = {"0.1", "1000000000000000.0", "1e+16", "123456789.0", "1.0000000116860974e-07", "0.0001"};
    check_strings(KILN_DOUBLE, d, ds, 6);
    const double h[] = {0.47892547, 100, 1000, 65504, 2048, 0.0001, 6e-5};
    const char *hs[] = {"0.479", "100.0", "1e+03", "6.55e+04", "2.048e+03", "0.0001", "6e-05"};
    check_strings(KILN_FLOAT16, h, hs, 7);
    const double iv[] = {-5, 0, 123456789};
    const char *is[] = {"-5", "0", "123456789"};
    check_strings(KILN_INT64, iv, is, 3);
    const double bv[] = {1, 0};
    const char *bs[] = {"True", "False"};
    check_strings(KILN_BOOL, bv, bs, 2);

    /* parsing */
    const char *in[] = {"1.5", "-3", "INF", "+INF", "-inf", "NaN", "1e3", "1E-5", " 7", "100.5"};
    int64_t dn[] = {10};
    kiln_tensor x = oneop_tensor(KILN_STRING, 1, dn, in), y = {0};
    CHECK(cast(&x, KILN_FLOAT, -1, NULL, &y) == KILN_OK);
    const float *r = y.data;
    CHECK(r[0] == 1.5f && r[1] == -3 && r[2] == INFINITY && r[3] == INFINITY && r[4] == -INFINITY && isnan(r[5]) &&
          r[6] == 1000 && r[7] == 1e-5f && r[8] == 7 && r[9] == 100.5f);
    CHECK(cast(&x, KILN_INT32, -1, NULL, &y) == KILN_OK);
    CHECK(((int32_t *)y.data)[0] == 1 && ((int32_t *)y.data)[1] == -3 && ((int32_t *)y.data)[9] == 100);
    const char *big[] = {"9007199254740993", "18446744073709551615"};
    int64_t d2[] = {2};
    kiln_tensor xb = oneop_tensor(KILN_STRING, 1, d2, big);
    CHECK(cast(&xb, KILN_INT64, -1, NULL, &y) == KILN_OK);
    CHECK(((int64_t *)y.data)[0] == 9007199254740993LL);
    CHECK(cast(&xb, KILN_UINT64, -1, NULL, &y) == KILN_OK);
    CHECK(((uint64_t *)y.data)[1] == UINT64_MAX);
    CHECK(cast(&x, KILN_STRING, -1, NULL, &y) == KILN_OK);
    CHECK(!strcmp(((char **)y.data)[8], " 7"));
    kiln_tensor_release(&y);
}

/* ---------------------------------------------------------------- CastLike, BitCast ----------------------------- */

static void test_castlike_bitcast(void) {
    int64_t d2[] = {2}, d1[] = {1};
    float f[] = {1.0f, -2.5f};
    int32_t like = 0;
    kiln_tensor in[2] = {oneop_tensor(KILN_FLOAT, 1, d2, f), oneop_tensor(KILN_INT32, 1, d1, &like)};
    oneop o;
    oneop_begin(&o, "CastLike", "", 21, 2, 1);
    CHECK(oneop_run(&o, in) == KILN_OK);
    const kiln_tensor *y = oneop_out(&o, 0);
    CHECK(y->dtype == KILN_INT32 && ((int32_t *)y->data)[0] == 1 && ((int32_t *)y->data)[1] == -2);
    oneop_end(&o);

    struct {
        kiln_dtype from, to;
        uint8_t in[8];
        uint8_t want[8];
        int n, es;
    } cases[] = {
        {KILN_FLOAT, KILN_INT32, {0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0}, {0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0}, 2, 4},
        {KILN_INT4, KILN_UINT4, {0xff, 7, 0xf8, 0}, {15, 7, 8, 0}, 4, 1},
        {KILN_UINT4, KILN_INT4, {15, 7, 8, 0}, {0xff, 7, 0xf8, 0}, 4, 1},
        {KILN_UINT2, KILN_INT2, {3, 2, 1, 0}, {0xff, 0xfe, 1, 0}, 4, 1},
        {KILN_BOOL, KILN_UINT8, {1, 0, 1}, {1, 0, 1}, 3, 1},
        {KILN_UINT8, KILN_BOOL, {2, 0, 1}, {1, 0, 1}, 3, 1},
        {KILN_FLOAT16, KILN_BFLOAT16, {0x00, 0x3c, 0x01, 0x80}, {0x00, 0x3c, 0x01, 0x80}, 2, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t dn[] = {cases[c].n};
        kiln_tensor x = oneop_tensor(cases[c].from, 1, dn, cases[c].in);
        oneop_begin(&o, "BitCast", "", 26, 1, 1);
        oneop_attr_int(&o, "to", cases[c].to);
        CHECK(oneop_run(&o, &x) == KILN_OK);
        y = oneop_out(&o, 0);
        CHECK(y->dtype == cases[c].to && y->rank == 1 && y->dims[0] == cases[c].n);
        CHECK(memcmp(y->data, cases[c].want, (size_t)(cases[c].n * cases[c].es)) == 0);
        oneop_end(&o);
    }
    /* opset 1 named the target type */
    kiln_tensor x = oneop_tensor(KILN_FLOAT, 1, d2, f);
    oneop_begin(&o, "Cast", "", 1, 1, 1);
    oneop_attr_string(&o, "to", "INT64");
    CHECK(oneop_run(&o, &x) == KILN_OK);
    y = oneop_out(&o, 0);
    CHECK(y->dtype == KILN_INT64 && ((int64_t *)y->data)[0] == 1 && ((int64_t *)y->data)[1] == -2);
    oneop_end(&o);
    oneop_begin(&o, "BitCast", "", 26, 1, 1);
    oneop_attr_int(&o, "to", KILN_INT64);
    CHECK(oneop_run(&o, &x) == KILN_ERR_TYPE);
    CHECK(strstr(kiln_error_text(), "int64") != NULL);
    oneop_end(&o);
    oneop_begin(&o, "Cast", "", 25, 1, 1);
    oneop_attr_int(&o, "to", 99);
    CHECK(oneop_run(&o, &x) == KILN_ERR_UNSUPPORTED);
    oneop_end(&o);
}

int main(void) {
    test_narrow_floats();
    test_bf16_rounding();
    test_numeric_pairs();
    test_subbyte_ints();
    test_e8m0();
    test_strings();
    test_castlike_bitcast();
    return CHECK_DONE();
}
