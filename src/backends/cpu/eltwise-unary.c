/* Unary elementwise math (Abs, Neg, Sqrt, Exp, trig, Round, Sign, IsNaN/IsInf, Not, BitwiseNot, ...) and Clip. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/eltwise-minifloat.h"
#include "backends/cpu/eltwise-ops.h"
#include "backends/cpu/eltwise-vmath.h"
#include "core/status.h"

/* ---------------------------------------------------------------- loops ----------------------------------------- */

#define sabs_EXPR (x < 0 ? (ew_t)(0 - (ew_u)x) : x)
#define uabs_EXPR (x)
#define sneg_EXPR ((ew_t)(0 - (ew_u)x))
#define ssign_EXPR ((x > 0) - (x < 0))
#define usign_EXPR (x > 0)
#define bnot_EXPR ((ew_t)~x)
EW_SINT_LIST(EW_UDEF_SAME, sabs)
EW_UINT_LIST(EW_UDEF_SAME, uabs)
EW_SINT_LIST(EW_UDEF_SAME, sneg)
EW_SINT_LIST(EW_UDEF_SAME, ssign)
EW_UINT_LIST(EW_UDEF_SAME, usign)
EW_INT_LIST(EW_UDEF_SAME, bnot)
EW_UN_LOOP(not_b8, uint8_t, uint8_t, unsigned, x == 0)

EW_UNARY_FLOAT_LOOPS(fabs, fabsf(x), fabs(x))
EW_UNARY_FLOAT_LOOPS(fneg, -x, -x)
/* Sign keeps zeros and NaN as they are. */
EW_UNARY_FLOAT_LOOPS(fsign, x > 0 ? 1.0f : (x < 0 ? -1.0f : x), x > 0 ? 1.0 : (x < 0 ? -1.0 : x))
EW_UNARY_FLOAT(recip, 1.0f / x, 1.0 / x)
EW_UNARY_FLOAT(sqrt, sqrtf(x), sqrt(x))
EW_UNARY_FLOAT(exp, ew_vexpf(x), exp(x))
EW_UNARY_FLOAT(log, logf(x), log(x))
EW_UNARY_FLOAT(ceil, ceilf(x), ceil(x))
EW_UNARY_FLOAT(floor, floorf(x), floor(x))
/* rint rounds halfway cases to even in the default rounding mode, as ONNX Round requires. */
EW_UNARY_FLOAT(round, rintf(x), rint(x))
EW_UNARY_FLOAT(sin, sinf(x), sin(x))
EW_UNARY_FLOAT(cos, cosf(x), cos(x))
EW_UNARY_FLOAT(tan, tanf(x), tan(x))
EW_UNARY_FLOAT(asin, asinf(x), asin(x))
EW_UNARY_FLOAT(acos, acosf(x), acos(x))
EW_UNARY_FLOAT(atan, atanf(x), atan(x))
EW_UNARY_FLOAT(sinh, sinhf(x), sinh(x))
EW_UNARY_FLOAT(cosh, coshf(x), cosh(x))
EW_UNARY_FLOAT(asinh, asinhf(x), asinh(x))
EW_UNARY_FLOAT(acosh, acoshf(x), acosh(x))
EW_UNARY_FLOAT(atanh, atanhf(x), atanh(x))
EW_UNARY_FLOAT(erf, ew_verff(x), erf(x))

EW_UN_LOOP(isnan_f32, float, uint8_t, float, x != x)
EW_UN_LOOP(isnan_f64, double, uint8_t, double, x != x)
#define isinf_EXPR (isinf(x) && (x > 0 ? p->i1 : p->i0))
EW_UN_LOOP(isinf_f32, float, uint8_t, float, isinf_EXPR)
EW_UN_LOOP(isinf_f64, double, uint8_t, double, isinf_EXPR)

/* The 8-bit float formats: classify the byte directly. */
static void isnan_f8(kiln_dtype t, const uint8_t *x, uint8_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = ew_mf_isnan(t, x[i]);
}
static void isinf_f8(kiln_dtype t, const uint8_t *x, uint8_t *y, int64_t n, const ew_uparams *p) {
    for (int64_t i = 0; i < n; i++) {
        int s = ew_mf_isinf(t, x[i]);
        y[i] = s > 0 ? (uint8_t)(p->i1 != 0) : s < 0 ? (uint8_t)(p->i0 != 0) : 0;
    }
}
#define F8_LOOPS(FMT, DT)                                                                                          \
    static void isnan_##FMT(const void *x, void *y, int64_t n, const ew_uparams *p) {                              \
        (void)p;                                                                                                   \
        isnan_f8(DT, x, y, n);                                                                                     \
    }                                                                                                              \
    static void isinf_##FMT(const void *x, void *y, int64_t n, const ew_uparams *p) { isinf_f8(DT, x, y, n, p); }
F8_LOOPS(e4m3fn, KILN_FLOAT8E4M3FN)
F8_LOOPS(e4m3fnuz, KILN_FLOAT8E4M3FNUZ)
F8_LOOPS(e5m2, KILN_FLOAT8E5M2)
F8_LOOPS(e5m2fnuz, KILN_FLOAT8E5M2FNUZ)

#define EW_F8S                                                                                                     \
    (EW_BIT(KILN_FLOAT8E4M3FN) | EW_BIT(KILN_FLOAT8E4M3FNUZ) | EW_BIT(KILN_FLOAT8E5M2) | EW_BIT(KILN_FLOAT8E5M2FNUZ))

static const ew_unary_impl abs_impl = {
    EW_NUMERIC, KILN_UNDEFINED,
    {EW_SINT_LIST(EW_REF, sabs) EW_UINT_LIST(EW_REF, uabs)[KILN_FLOAT] = fabs_f32, [KILN_DOUBLE] = fabs_f64}};
static const ew_unary_impl neg_impl = {
    EW_SINTS | EW_FLOATS, KILN_UNDEFINED,
    {EW_SINT_LIST(EW_REF, sneg)[KILN_FLOAT] = fneg_f32, [KILN_DOUBLE] = fneg_f64}};
static const ew_unary_impl sign_impl = {
    EW_NUMERIC, KILN_UNDEFINED,
    {EW_SINT_LIST(EW_REF, ssign) EW_UINT_LIST(EW_REF, usign)[KILN_FLOAT] = fsign_f32, [KILN_DOUBLE] = fsign_f64}};
static const ew_unary_impl not_impl = {EW_BIT(KILN_BOOL), KILN_UNDEFINED, {[KILN_BOOL] = not_b8}};
static const ew_unary_impl bnot_impl = {EW_INTS, KILN_UNDEFINED, {EW_INT_LIST(EW_REF, bnot)}};
static const ew_unary_impl isnan_impl = {EW_FLOATS | EW_F8S,
                                         KILN_BOOL,
                                         {[KILN_FLOAT] = isnan_f32, [KILN_DOUBLE] = isnan_f64,
                                          [KILN_FLOAT8E4M3FN] = isnan_e4m3fn, [KILN_FLOAT8E4M3FNUZ] = isnan_e4m3fnuz,
                                          [KILN_FLOAT8E5M2] = isnan_e5m2, [KILN_FLOAT8E5M2FNUZ] = isnan_e5m2fnuz}};
static const ew_unary_impl isinf_impl = {EW_FLOATS | EW_F8S,
                                         KILN_BOOL,
                                         {[KILN_FLOAT] = isinf_f32, [KILN_DOUBLE] = isinf_f64,
                                          [KILN_FLOAT8E4M3FN] = isinf_e4m3fn, [KILN_FLOAT8E4M3FNUZ] = isinf_e4m3fnuz,
                                          [KILN_FLOAT8E5M2] = isinf_e5m2, [KILN_FLOAT8E5M2FNUZ] = isinf_e5m2fnuz}};

typedef struct un_entry {
    const char *op;
    const ew_unary_impl *impl;
} un_entry;

static const un_entry un_ops[] = {
    {"Abs", &abs_impl},     {"Neg", &neg_impl},       {"Sign", &sign_impl},   {"Reciprocal", &recip_impl},
    {"Sqrt", &sqrt_impl},   {"Exp", &exp_impl},       {"Log", &log_impl},     {"Ceil", &ceil_impl},
    {"Floor", &floor_impl}, {"Round", &round_impl},   {"Sin", &sin_impl},     {"Cos", &cos_impl},
    {"Tan", &tan_impl},     {"Asin", &asin_impl},     {"Acos", &acos_impl},   {"Atan", &atan_impl},
    {"Sinh", &sinh_impl},   {"Cosh", &cosh_impl},     {"Asinh", &asinh_impl}, {"Acosh", &acosh_impl},
    {"Atanh", &atanh_impl}, {"Erf", &erf_impl},       {"IsNaN", &isnan_impl}, {"IsInf", &isinf_impl},
    {"Not", &not_impl},     {"BitwiseNot", &bnot_impl},
};

kiln_status ew_math_setup(const kiln_node *node, ew_uparams *p) {
    for (size_t i = 0; i < sizeof un_ops / sizeof un_ops[0]; i++)
        if (!strcmp(un_ops[i].op, node->op_type)) p->impl = un_ops[i].impl;
    KILN_FAIL_IF(!p->impl, KILN_ERR_INTERNAL, "%s is not a unary eltwise op", node->op_type);
    if (p->impl == &isinf_impl) {
        p->i0 = kiln_attr_int(node, "detect_negative", 1) != 0;
        p->i1 = kiln_attr_int(node, "detect_positive", 1) != 0;
    }
    return KILN_OK;
}

kiln_status ew_math_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    return ew_unary_prepare_with(node, params, ew_math_setup);
}

/* ---------------------------------------------------------------- Clip ------------------------------------------ */

/* Bounds are stored as the input's element type; NaN in x propagates. lo > hi gives hi, as numpy.clip. */
typedef struct clip_job {
    kiln_dtype t;
    const void *x;
    void *y;
    unsigned char lo[8], hi[8];
} clip_job;

#define CLIP_DEF(A, DT, T, S, U)                                                                                   \
    static void clip_##S(const clip_job *j, int64_t b, int64_t e) {                                               \
        const T *x = j->x;                                                                                         \
        T *y = j->y, lo, hi;                                                                                       \
        memcpy(&lo, j->lo, sizeof lo);                                                                             \
        memcpy(&hi, j->hi, sizeof hi);                                                                             \
        for (int64_t i = b; i < e; i++) {                                                                          \
            T v = x[i] < lo ? lo : x[i];                                                                           \
            y[i] = v > hi ? hi : v;                                                                                \
        }                                                                                                          \
    }
EW_NUM_LIST(CLIP_DEF, 0)

static void clip_range(void *c, int64_t b, int64_t e) {
    const clip_job *j = c;
    switch (j->t) {
#define CLIP_CASE(A, DT, T, S, U)                                                                                  \
    case DT: clip_##S(j, b, e); break;
        EW_NUM_LIST(CLIP_CASE, 0)
#undef CLIP_CASE
    case KILN_FLOAT16: case KILN_BFLOAT16: {
        float lo, hi, t[EW_TILE];
        memcpy(&lo, j->lo, 4);
        memcpy(&hi, j->hi, 4);
        for (int64_t i = b; i < e; i += EW_TILE) {
            int64_t m = e - i < EW_TILE ? e - i : EW_TILE;
            ew_half_to_float(j->t, (const uint16_t *)j->x + i, t, m);
            for (int64_t q = 0; q < m; q++) {
                float v = t[q] < lo ? lo : t[q];
                t[q] = v > hi ? hi : v;
            }
            ew_float_to_half(j->t, t, (uint16_t *)j->y + i, m);
        }
        break;
    }
    default: break;
    }
}

typedef struct clip_params {
    int from_attrs; /* opset < 11: bounds are the float attributes min/max */
    float amin, amax;
} clip_params;

kiln_status ew_clip_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    clip_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->from_attrs = node->opset < 11;
    p->amin = kiln_attr_float(node, "min", -INFINITY);
    p->amax = kiln_attr_float(node, "max", INFINITY);
    *params = p;
    return KILN_OK;
}

/* Writes the lowest/highest value of type t (halves: as float) into lo/hi. */
static void type_limits(kiln_dtype t, unsigned char *lo, unsigned char *hi) {
    switch (t) {
#define LIM_CASE(A, DT, T, S, U)                                                                                   \
    case DT: {                                                                                                     \
        T l = (T)0 < (T)-1 ? (T)0 : (T)((U)1 << (sizeof(T) * 8 - 1)), h = (T)~l;                                   \
        memcpy(lo, &l, sizeof l);                                                                                  \
        memcpy(hi, &h, sizeof h);                                                                                  \
        break;                                                                                                     \
    }
        EW_INT_LIST(LIM_CASE, 0)
#undef LIM_CASE
    case KILN_DOUBLE: {
        double l = -INFINITY, h = INFINITY;
        memcpy(lo, &l, 8);
        memcpy(hi, &h, 8);
        break;
    }
    default: {
        float l = -INFINITY, h = INFINITY;
        memcpy(lo, &l, 4);
        memcpy(hi, &h, 4);
        break;
    }
    }
}

/* Reads a 1-element bound tensor into dst as type t (halves as float). */
static kiln_status read_bound(const kiln_tensor *b, kiln_dtype t, int input, unsigned char *dst) {
    KILN_FAIL_IF(b->dtype != t, KILN_ERR_TYPE, "Clip: input %d has dtype %s but input 0 has %s", input,
                 kiln_dtype_name(b->dtype), kiln_dtype_name(t));
    int64_t n = kiln_tensor_numel(b);
    if (n == 0) return KILN_OK; /* an empty bound means no bound */
    KILN_FAIL_IF(n != 1, KILN_ERR_SHAPE, "Clip: input %d must be a scalar, got %lld elements", input, (long long)n);
    if (t == KILN_FLOAT16 || t == KILN_BFLOAT16) {
        float f;
        ew_half_to_float(t, b->data, &f, 1);
        memcpy(dst, &f, 4);
    } else {
        memcpy(dst, b->data, kiln_dtype_size(t));
    }
    return KILN_OK;
}

kiln_status ew_clip_run(kiln_kctx *k) {
    const clip_params *p = k->params;
    const kiln_tensor *x;
    kiln_tensor *y;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(ew_check_type("Clip", 0, x->dtype, EW_NUMERIC));
    clip_job j = {x->dtype, x->data, NULL, {0}, {0}};
    type_limits(x->dtype, j.lo, j.hi);
    if (p->from_attrs) {
        KILN_FAIL_IF(x->dtype != KILN_FLOAT && x->dtype != KILN_DOUBLE && x->dtype != KILN_FLOAT16 &&
                         x->dtype != KILN_BFLOAT16,
                     KILN_ERR_UNSUPPORTED, "Clip (opset < 11) supports float types only, got %s",
                     kiln_dtype_name(x->dtype));
        if (x->dtype == KILN_DOUBLE) {
            double l = p->amin, h = p->amax;
            memcpy(j.lo, &l, 8);
            memcpy(j.hi, &h, 8);
        } else {
            memcpy(j.lo, &p->amin, 4);
            memcpy(j.hi, &p->amax, 4);
        }
    } else {
        if (kiln_kin(k, 1)) KILN_TRY(read_bound(kiln_kin(k, 1), x->dtype, 1, j.lo));
        if (kiln_kin(k, 2)) KILN_TRY(read_bound(kiln_kin(k, 2), x->dtype, 2, j.hi));
    }
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    j.y = y->data;
    ew_parallel(kiln_tensor_numel(x), clip_range, &j);
    return KILN_OK;
}
