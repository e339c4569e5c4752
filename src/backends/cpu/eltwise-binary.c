/* Binary elementwise ops with multidirectional broadcasting: arithmetic, Pow, Mod, Max/Min, comparisons, logical,
 * bitwise and shifts, plus the variadic Sum/Mean/Max/Min. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/eltwise-ops.h"
#include "core/broadcast.h"
#include "core/status.h"

/* ---------------------------------------------------------------- scalar helpers -------------------------------- */

/* Integer division/remainder never trap: x/0 gives 0 (as numpy does) and MIN/-1 wraps. */
static inline int64_t sdiv64(int64_t x, int64_t w) {
    if (w == 0) return 0;
    if (w == -1) return (int64_t)(0 - (uint64_t)x);
    return x / w;
}
static inline int64_t srem64(int64_t x, int64_t w) { return (w == 0 || w == -1) ? 0 : x % w; }
/* Remainder with the sign of the divisor (Mod fmod=0). */
static inline int64_t smod64(int64_t x, int64_t w) {
    int64_t r = srem64(x, w);
    return (r != 0 && ((r < 0) != (w < 0))) ? r + w : r;
}
static inline float pymodf(float x, float w) {
    float r = fmodf(x, w);
    if (r != 0) {
        if ((r < 0) != (w < 0)) r += w;
    } else {
        r = copysignf(0.0f, w);
    }
    return r;
}
static inline double pymod(double x, double w) {
    double r = fmod(x, w);
    if (r != 0) {
        if ((r < 0) != (w < 0)) r += w;
    } else {
        r = copysign(0.0, w);
    }
    return r;
}

/* ---------------------------------------------------------------- loops ----------------------------------------- */

#define add_EXPR ((ew_t)((ew_u)x + (ew_u)w))
#define sub_EXPR ((ew_t)((ew_u)x - (ew_u)w))
#define mul_EXPR ((ew_t)((ew_u)x * (ew_u)w))
EW_NUM_LIST(EW_DEF_SAME, add)
EW_NUM_LIST(EW_DEF_SAME, sub)
EW_NUM_LIST(EW_DEF_SAME, mul)

#define sdiv_EXPR ((ew_t)sdiv64(x, w))
#define udiv_EXPR (w == 0 ? (ew_t)0 : (ew_t)(x / w))
#define fdiv_EXPR (x / w)
EW_SINT_LIST(EW_DEF_SAME, sdiv)
EW_UINT_LIST(EW_DEF_SAME, udiv)
EW_FLT_LIST(EW_DEF_SAME, fdiv)

#define smod_EXPR ((ew_t)smod64(x, w))
#define srem_EXPR ((ew_t)srem64(x, w))
#define urem_EXPR (w == 0 ? (ew_t)0 : (ew_t)(x % w))
EW_SINT_LIST(EW_DEF_SAME, smod)
EW_SINT_LIST(EW_DEF_SAME, srem)
EW_UINT_LIST(EW_DEF_SAME, urem)
EW_BIN_LOOP(fmod_f32, float, float, float, float, fmodf(x, w))
EW_BIN_LOOP(fmod_f64, double, double, double, double, fmod(x, w))
EW_BIN_LOOP(pymod_f32, float, float, float, float, pymodf(x, w))
EW_BIN_LOOP(pymod_f64, double, double, double, double, pymod(x, w))

/* Max/Min propagate NaN (as numpy's maximum/minimum do). */
#define imax_EXPR (x > w ? x : w)
#define imin_EXPR (x < w ? x : w)
#define fmax_EXPR ((x > w || x != x) ? x : w)
#define fmin_EXPR ((x < w || x != x) ? x : w)
EW_INT_LIST(EW_DEF_SAME, imax)
EW_INT_LIST(EW_DEF_SAME, imin)
EW_FLT_LIST(EW_DEF_SAME, fmax)
EW_FLT_LIST(EW_DEF_SAME, fmin)

#define eq_EXPR (x == w)
#define lt_EXPR (x < w)
#define gt_EXPR (x > w)
#define le_EXPR (x <= w)
#define ge_EXPR (x >= w)
EW_NUM_LIST(EW_DEF_CMP, eq)
EW_NUM_LIST(EW_DEF_CMP, lt)
EW_NUM_LIST(EW_DEF_CMP, gt)
EW_NUM_LIST(EW_DEF_CMP, le)
EW_NUM_LIST(EW_DEF_CMP, ge)
EW_BIN_LOOP(eq_b8, uint8_t, uint8_t, uint8_t, unsigned, (x != 0) == (w != 0))

EW_BIN_LOOP(and_b8, uint8_t, uint8_t, uint8_t, unsigned, (x != 0) & (w != 0))
EW_BIN_LOOP(or_b8, uint8_t, uint8_t, uint8_t, unsigned, (x != 0) | (w != 0))
EW_BIN_LOOP(xor_b8, uint8_t, uint8_t, uint8_t, unsigned, (x != 0) ^ (w != 0))

#define band_EXPR ((ew_t)(x & w))
#define bor_EXPR ((ew_t)(x | w))
#define bxor_EXPR ((ew_t)(x ^ w))
EW_INT_LIST(EW_DEF_SAME, band)
EW_INT_LIST(EW_DEF_SAME, bor)
EW_INT_LIST(EW_DEF_SAME, bxor)

/* A shift by a negative amount or by the width or more leaves only the sign fill (spec, opset 28). Casting the
 * amount to uint64 makes negative amounts huge, so one comparison covers both. */
#define shl_EXPR ((uint64_t)w >= sizeof(ew_t) * 8 ? (ew_t)0 : (ew_t)((ew_u)x << w))
#define sshr_EXPR ((uint64_t)w >= sizeof(ew_t) * 8 ? (ew_t)(x < 0 ? -1 : 0) : (ew_t)(x >> w))
#define ushr_EXPR ((uint64_t)w >= sizeof(ew_t) * 8 ? (ew_t)0 : (ew_t)(x >> w))
EW_INT_LIST(EW_DEF_SAME, shl)
EW_SINT_LIST(EW_DEF_SAME, sshr)
EW_UINT_LIST(EW_DEF_SAME, ushr)

EW_BIN_LOOP(pow_f32, float, float, float, float, powf(x, w))
EW_BIN_LOOP(pow_f64, double, double, double, double, pow(x, w))

/* ---------------------------------------------------------------- impls ----------------------------------------- */

static const ew_bin_impl add_impl = {EW_NUMERIC, 0, {EW_NUM_LIST(EW_REF, add)}};
static const ew_bin_impl sub_impl = {EW_NUMERIC, 0, {EW_NUM_LIST(EW_REF, sub)}};
static const ew_bin_impl mul_impl = {EW_NUMERIC, 0, {EW_NUM_LIST(EW_REF, mul)}};
static const ew_bin_impl div_impl = {
    EW_NUMERIC, 0, {EW_SINT_LIST(EW_REF, sdiv) EW_UINT_LIST(EW_REF, udiv) EW_FLT_LIST(EW_REF, fdiv)}};
static const ew_bin_impl mod_impl = {EW_NUMERIC,
                                     0,
                                     {EW_SINT_LIST(EW_REF, smod) EW_UINT_LIST(EW_REF, urem)[KILN_FLOAT] = pymod_f32,
                                      [KILN_DOUBLE] = pymod_f64}};
static const ew_bin_impl fmod_impl = {EW_NUMERIC,
                                      0,
                                      {EW_SINT_LIST(EW_REF, srem) EW_UINT_LIST(EW_REF, urem)[KILN_FLOAT] = fmod_f32,
                                       [KILN_DOUBLE] = fmod_f64}};
static const ew_bin_impl max_impl = {EW_NUMERIC, 0, {EW_INT_LIST(EW_REF, imax) EW_FLT_LIST(EW_REF, fmax)}};
static const ew_bin_impl min_impl = {EW_NUMERIC, 0, {EW_INT_LIST(EW_REF, imin) EW_FLT_LIST(EW_REF, fmin)}};
static const ew_bin_impl eq_impl = {EW_NUMERIC | EW_BIT(KILN_BOOL), 1,
                                    {EW_NUM_LIST(EW_REF, eq)[KILN_BOOL] = eq_b8}};
static const ew_bin_impl lt_impl = {EW_NUMERIC, 1, {EW_NUM_LIST(EW_REF, lt)}};
static const ew_bin_impl gt_impl = {EW_NUMERIC, 1, {EW_NUM_LIST(EW_REF, gt)}};
static const ew_bin_impl le_impl = {EW_NUMERIC, 1, {EW_NUM_LIST(EW_REF, le)}};
static const ew_bin_impl ge_impl = {EW_NUMERIC, 1, {EW_NUM_LIST(EW_REF, ge)}};
static const ew_bin_impl and_impl = {EW_BIT(KILN_BOOL), 1, {[KILN_BOOL] = and_b8}};
static const ew_bin_impl or_impl = {EW_BIT(KILN_BOOL), 1, {[KILN_BOOL] = or_b8}};
static const ew_bin_impl xor_impl = {EW_BIT(KILN_BOOL), 1, {[KILN_BOOL] = xor_b8}};
static const ew_bin_impl band_impl = {EW_INTS | EW_BIT(KILN_BOOL), 0,
                                      {EW_INT_LIST(EW_REF, band)[KILN_BOOL] = band_u8}};
static const ew_bin_impl bor_impl = {EW_INTS | EW_BIT(KILN_BOOL), 0, {EW_INT_LIST(EW_REF, bor)[KILN_BOOL] = bor_u8}};
static const ew_bin_impl bxor_impl = {EW_INTS | EW_BIT(KILN_BOOL), 0,
                                      {EW_INT_LIST(EW_REF, bxor)[KILN_BOOL] = bxor_u8}};
static const ew_bin_impl shl_impl = {EW_INTS, 0, {EW_INT_LIST(EW_REF, shl)}};
static const ew_bin_impl shr_impl = {EW_INTS, 0, {EW_SINT_LIST(EW_REF, sshr) EW_UINT_LIST(EW_REF, ushr)}};
/* Same-type float Pow; every other type pair goes through pow_generic. */
static const ew_bin_impl pow_impl = {EW_FLOATS, 0, {[KILN_FLOAT] = pow_f32, [KILN_DOUBLE] = pow_f64}};

typedef struct bin_entry {
    const char *op;
    const ew_bin_impl *impl;
    int kind;
} bin_entry;

static const bin_entry bin_ops[] = {
    {"Add", &add_impl, EW_K_PLAIN},        {"Sub", &sub_impl, EW_K_PLAIN},
    {"Mul", &mul_impl, EW_K_PLAIN},        {"Div", &div_impl, EW_K_PLAIN},
    {"Mod", &mod_impl, EW_K_PLAIN},        {"Pow", &pow_impl, EW_K_POW},
    {"Equal", &eq_impl, EW_K_EQUAL},       {"Less", &lt_impl, EW_K_PLAIN},
    {"Greater", &gt_impl, EW_K_PLAIN},     {"LessOrEqual", &le_impl, EW_K_PLAIN},
    {"GreaterOrEqual", &ge_impl, EW_K_PLAIN}, {"And", &and_impl, EW_K_PLAIN},
    {"Or", &or_impl, EW_K_PLAIN},          {"Xor", &xor_impl, EW_K_PLAIN},
    {"BitwiseAnd", &band_impl, EW_K_PLAIN}, {"BitwiseOr", &bor_impl, EW_K_PLAIN},
    {"BitwiseXor", &bxor_impl, EW_K_PLAIN}, {"BitShift", &shl_impl, EW_K_PLAIN},
    {"Sum", &add_impl, EW_K_SUM},          {"Mean", &add_impl, EW_K_MEAN},
    {"Max", &max_impl, EW_K_VARIADIC},     {"Min", &min_impl, EW_K_VARIADIC},
};

kiln_status ew_binary_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    const bin_entry *e = NULL;
    for (size_t i = 0; i < sizeof bin_ops / sizeof bin_ops[0]; i++)
        if (!strcmp(bin_ops[i].op, node->op_type)) e = &bin_ops[i];
    KILN_FAIL_IF(!e, KILN_ERR_INTERNAL, "%s is not a binary eltwise op", node->op_type);
    ew_bparams *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->impl = e->impl;
    p->op = node->op_type;
    p->kind = e->kind;
    p->axis = -1;
    if (e->impl == &mod_impl && kiln_attr_int(node, "fmod", 0) != 0) p->impl = &fmod_impl;
    if (e->impl == &shl_impl) {
        const char *dir = kiln_attr_string(node, "direction", "");
        if (!strcmp(dir, "RIGHT")) {
            p->impl = &shr_impl;
        } else if (strcmp(dir, "LEFT") != 0) {
            free(p);
            return kiln_error(KILN_ERR_INVALID_GRAPH, "BitShift: direction must be LEFT or RIGHT, got '%s'", dir);
        }
    }
    /* Before opset 7, broadcasting was opt-in (broadcast=1) and aligned b to a at `axis`. */
    if (node->opset < 7 && kiln_attr_int(node, "broadcast", 0)) {
        p->legacy = 1;
        p->axis = kiln_attr_int(node, "axis", -1);
    }
    *params = p;
    return KILN_OK;
}

/* ---------------------------------------------------------------- Pow over mixed types -------------------------- */

/* Integer power with wrap-around; negative exponents give 1/x^n truncated toward zero. */
static int64_t ipow64(int64_t x, int64_t e) {
    if (e < 0) return x == 1 ? 1 : x == -1 ? ((e & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)x;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

/* Float to integer for int results of Pow: truncates toward zero, saturating (NaN gives 0) to stay defined. */
static int64_t f64_to_i64_sat(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

typedef struct pow_job {
    const kiln_tensor *a, *b;
    kiln_tensor *y;
} pow_job;

static void pow_seg(void *c, int64_t y0, const int64_t *off, const int64_t *inner, int64_t len) {
    const pow_job *j = c;
    kiln_dtype ta = j->a->dtype, tb = j->b->dtype;
    int base_int = kiln_dtype_is_int(ta), exp_int = kiln_dtype_is_int(tb);
    for (int64_t i = 0; i < len; i++) {
        int64_t ia = off[0] + i * inner[0], ib = off[1] + i * inner[1];
        if (base_int && exp_int) {
            kiln_store_i64(j->y->dtype, j->y->data, y0 + i,
                           ipow64(kiln_load_i64(ta, j->a->data, ia), kiln_load_i64(tb, j->b->data, ib)));
        } else {
            double r = pow(kiln_load_f64(ta, j->a->data, ia), kiln_load_f64(tb, j->b->data, ib));
            if (base_int)
                kiln_store_i64(j->y->dtype, j->y->data, y0 + i, f64_to_i64_sat(r));
            else
                kiln_store_f64(j->y->dtype, j->y->data, y0 + i, r);
        }
    }
}

/* ---------------------------------------------------------------- strings --------------------------------------- */

typedef struct streq_job {
    const char *const *a, *const *b;
    uint8_t *y;
} streq_job;

static void streq_seg(void *c, int64_t y0, const int64_t *off, const int64_t *inner, int64_t len) {
    const streq_job *j = c;
    for (int64_t i = 0; i < len; i++) {
        const char *x = j->a[off[0] + i * inner[0]], *w = j->b[off[1] + i * inner[1]];
        j->y[y0 + i] = !strcmp(x ? x : "", w ? w : "");
    }
}

/* ---------------------------------------------------------------- run ------------------------------------------- */

kiln_status ew_binary_run(kiln_kctx *k) {
    const ew_bparams *p = k->params;
    const kiln_tensor *a, *b;
    kiln_tensor *y, bl;
    KILN_TRY(kiln_kin_req(k, 0, &a));
    KILN_TRY(kiln_kin_req(k, 1, &b));
    if (p->legacy) { /* view b with a's rank, its dims placed at axis */
        int64_t axis = p->axis < 0 ? a->rank - b->rank : p->axis;
        char s1[256], s2[256];
        KILN_FAIL_IF(axis < 0 || axis + b->rank > a->rank, KILN_ERR_SHAPE,
                     "%s: legacy broadcast of %s onto %s at axis %lld is out of range", p->op,
                     kiln_shape_str(b->rank, b->dims, s1, sizeof s1), kiln_shape_str(a->rank, a->dims, s2, sizeof s2),
                     (long long)axis);
        bl = *b;
        bl.rank = a->rank;
        for (int d = 0; d < a->rank; d++) bl.dims[d] = (d >= axis && d < axis + b->rank) ? b->dims[d - axis] : 1;
        b = &bl;
    }
    if (p->kind == EW_K_PLAIN || (p->kind == EW_K_POW && a->dtype == b->dtype && (p->impl->types & EW_BIT(a->dtype))) ||
        (p->kind == EW_K_EQUAL && a->dtype != KILN_STRING))
        return ew_binary_run_on(k, p->impl, a, b);

    int r;
    int64_t dims[KILN_MAX_DIMS];
    KILN_TRY(kiln_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &r, dims));
    const kiln_tensor *ins[2] = {a, b};
    ew_iter it;
    KILN_TRY(ew_iter_init(&it, r, dims, 2, ins));
    if (p->kind == EW_K_EQUAL) {
        KILN_FAIL_IF(b->dtype != KILN_STRING, KILN_ERR_TYPE, "Equal: input 1 has dtype %s but input 0 has string",
                     kiln_dtype_name(b->dtype));
        KILN_TRY(kiln_kout(k, 0, KILN_BOOL, r, dims, &y));
        streq_job j = {a->data, b->data, y->data};
        ew_iter_for(&it, 0, streq_seg, &j);
        return KILN_OK;
    }
    KILN_TRY(ew_check_type("Pow", 0, a->dtype, EW_NUMERIC));
    KILN_TRY(ew_check_type("Pow", 1, b->dtype, EW_NUMERIC));
    KILN_TRY(kiln_kout(k, 0, a->dtype, r, dims, &y));
    pow_job j = {a, b, y};
    ew_iter_for(&it, 1, pow_seg, &j);
    return KILN_OK;
}

/* ---------------------------------------------------------------- variadic -------------------------------------- */

typedef struct scale_job {
    kiln_tensor *y;
    double s;
} scale_job;

static void scale_range(void *c, int64_t b, int64_t e) {
    const scale_job *j = c;
    switch (j->y->dtype) {
    case KILN_FLOAT: {
        float *y = j->y->data, s = (float)j->s;
        for (int64_t i = b; i < e; i++) y[i] /= s;
        break;
    }
    case KILN_DOUBLE: {
        double *y = j->y->data;
        for (int64_t i = b; i < e; i++) y[i] /= j->s;
        break;
    }
    default:
        for (int64_t i = b; i < e; i++)
            kiln_store_f64(j->y->dtype, j->y->data, i, kiln_load_f64(j->y->dtype, j->y->data, i) / j->s);
        break;
    }
}

kiln_status ew_variadic_run(kiln_kctx *k) {
    const ew_bparams *p = k->params;
    KILN_FAIL_IF(k->n_in < 1, KILN_ERR_INVALID_GRAPH, "%s needs at least one input", p->op);
    int r = 0;
    int64_t dims[KILN_MAX_DIMS];
    const kiln_tensor *x0;
    KILN_TRY(kiln_kin_req(k, 0, &x0));
    if (p->kind == EW_K_MEAN || p->kind == EW_K_SUM) KILN_TRY(ew_check_type(p->op, 0, x0->dtype, EW_NUMERIC));
    r = x0->rank;
    memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)r);
    for (int i = 1; i < k->n_in; i++) {
        const kiln_tensor *x;
        KILN_TRY(kiln_kin_req(k, i, &x));
        KILN_FAIL_IF(x->dtype != x0->dtype, KILN_ERR_TYPE, "%s: input %d has dtype %s but input 0 has %s", p->op, i,
                     kiln_dtype_name(x->dtype), kiln_dtype_name(x0->dtype));
        int64_t nd[KILN_MAX_DIMS];
        int nr;
        KILN_TRY(kiln_broadcast_shape(r, dims, x->rank, x->dims, &nr, nd));
        r = nr;
        memcpy(dims, nd, sizeof(int64_t) * (size_t)r);
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x0->dtype, r, dims, &y));
    if (k->n_in == 1) {
        KILN_TRY(ew_check_type(p->op, 0, x0->dtype, p->impl->types));
        memcpy(y->data, x0->data, kiln_tensor_nbytes(y));
        return KILN_OK;
    }
    /* y = in0 op in1 (both broadcast to the final shape), then y = y op in_i in place. */
    KILN_TRY(ew_binary_apply(p->impl, p->op, x0, kiln_kin(k, 1), y));
    for (int i = 2; i < k->n_in; i++) KILN_TRY(ew_binary_apply(p->impl, p->op, y, kiln_kin(k, i), y));
    if (p->kind == EW_K_MEAN) {
        scale_job j = {y, (double)k->n_in};
        ew_parallel(kiln_tensor_numel(y), scale_range, &j);
    }
    return KILN_OK;
}
