/* CPU kernels: linear quantization (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear; see registry.h).
 *
 * Scales and zero points are per tensor, per axis (1-D along `axis`) or blocked (same rank as x, `block_size`
 * elements of x along `axis` share one entry). x is walked as [outer, A, inner] around the quantization axis. */
#include <math.h>
#include <stdlib.h>

#include "backends/cpu/registry.h"
#include "core/dtype.h"

typedef struct quant_params {
    int64_t axis;
    int64_t block;
    int saturate;
    kiln_dtype out_dtype; /* 0: from zero point / default */
} quant_params;

static kiln_status quant_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    quant_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->axis = kiln_attr_int(n, "axis", 1);
    p->block = kiln_attr_int(n, "block_size", 0);
    p->saturate = (int)kiln_attr_int(n, "saturate", 1);
    p->out_dtype = (kiln_dtype)kiln_attr_int(n, "output_dtype", 0);
    *out = p;
    KILN_FAIL_IF(p->block < 0, KILN_ERR_INVALID_GRAPH, "block_size %lld is negative", (long long)p->block);
    return KILN_OK;
}

/* Integer range of a quantized type; 0 when the type is not an integer quantization type. */
static int int_range(kiln_dtype t, int64_t *lo, int64_t *hi) {
    switch (t) {
    case KILN_UINT8: *lo = 0, *hi = 255; return 1;
    case KILN_INT8: *lo = -128, *hi = 127; return 1;
    case KILN_UINT16: *lo = 0, *hi = 65535; return 1;
    case KILN_INT16: *lo = -32768, *hi = 32767; return 1;
    case KILN_UINT4: *lo = 0, *hi = 15; return 1;
    case KILN_INT4: *lo = -8, *hi = 7; return 1;
    case KILN_UINT2: *lo = 0, *hi = 3; return 1;
    case KILN_INT2: *lo = -2, *hi = 1; return 1;
    case KILN_INT32: *lo = INT32_MIN, *hi = INT32_MAX; return 1;
    default: return 0;
    }
}

/* Layout of the scale relative to x: returns a function-free description used by param_index. */
typedef struct qlayout {
    int64_t outer, A, inner, block, nb;
    int mode; /* 0 per tensor, 1 per axis, 2 blocked */
} qlayout;

static kiln_status make_layout(const kiln_tensor *x, const kiln_tensor *scale, const quant_params *p, qlayout *L) {
    int64_t ns = kiln_tensor_numel(scale);
    L->outer = 1, L->A = 1, L->inner = 1, L->block = 1, L->nb = 1;
    if (scale->rank == 0 || (ns == 1 && p->block == 0)) {
        L->mode = 0;
        L->A = kiln_tensor_numel(x);
        return KILN_OK;
    }
    int64_t axis = p->axis < 0 ? p->axis + x->rank : p->axis;
    KILN_FAIL_IF(axis < 0 || axis >= x->rank, KILN_ERR_INVALID_GRAPH, "quantization axis %lld out of range for rank %d",
                 (long long)p->axis, x->rank);
    for (int i = 0; i < x->rank; i++) {
        if (i < axis) L->outer *= x->dims[i];
        if (i > axis) L->inner *= x->dims[i];
    }
    L->A = x->dims[axis];
    if (p->block == 0) {
        KILN_FAIL_IF(scale->rank != 1 || scale->dims[0] != L->A, KILN_ERR_SHAPE,
                     "per-axis scale must be 1-D with %lld entries (x dim %lld)", (long long)L->A, (long long)axis);
        L->mode = 1;
        return KILN_OK;
    }
    L->mode = 2;
    L->block = p->block;
    L->nb = (L->A + p->block - 1) / p->block;
    KILN_FAIL_IF(scale->rank != x->rank, KILN_ERR_SHAPE, "blocked scale must have x's rank %d", x->rank);
    for (int i = 0; i < x->rank; i++)
        KILN_FAIL_IF(scale->dims[i] != (i == axis ? L->nb : x->dims[i]), KILN_ERR_SHAPE,
                     "blocked scale dim %d is %lld, expected %lld", i, (long long)scale->dims[i],
                     (long long)(i == axis ? L->nb : x->dims[i]));
    return KILN_OK;
}

static int64_t param_index(const qlayout *L, int64_t o, int64_t a, int64_t i) {
    switch (L->mode) {
    case 0: return 0;
    case 1: return a;
    default: return (o * L->nb + a / L->block) * L->inner + i;
    }
}

static kiln_status check_zp(const kiln_tensor *zp, const kiln_tensor *scale) {
    if (!zp) return KILN_OK;
    int same = zp->rank == scale->rank || kiln_tensor_numel(zp) == kiln_tensor_numel(scale);
    KILN_FAIL_IF(!same || kiln_tensor_numel(zp) != kiln_tensor_numel(scale), KILN_ERR_SHAPE,
                 "zero point and scale shapes differ");
    return KILN_OK;
}

static kiln_status quantize_run(kiln_kctx *k) {
    const quant_params *p = k->params;
    const kiln_tensor *x, *scale;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &scale));
    const kiln_tensor *zp = kiln_kin(k, 2);
    KILN_TRY(check_zp(zp, scale));
    kiln_dtype ot = zp ? zp->dtype : (p->out_dtype ? p->out_dtype : KILN_UINT8);
    KILN_FAIL_IF(zp && p->out_dtype && p->out_dtype != zp->dtype, KILN_ERR_TYPE,
                 "output_dtype %s differs from the zero point's %s", kiln_dtype_name(p->out_dtype),
                 kiln_dtype_name(zp->dtype));
    int64_t lo, hi;
    KILN_FAIL_IF(!int_range(ot, &lo, &hi) || ot == KILN_INT32, KILN_ERR_UNSUPPORTED,
                 "QuantizeLinear to %s is not supported on the CPU backend yet", kiln_dtype_name(ot));
    qlayout L;
    KILN_TRY(make_layout(x, scale, p, &L));
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, ot, x->rank, x->dims, &y));
    for (int64_t o = 0; o < L.outer; o++)
        for (int64_t a = 0; a < L.A; a++)
            for (int64_t i = 0; i < L.inner; i++) {
                int64_t xi = (o * L.A + a) * L.inner + i, pi = param_index(&L, o, a, i);
                double s = kiln_load_f64(scale->dtype, scale->data, pi), xv = kiln_load_f64(x->dtype, x->data, xi);
                /* divide in the input's precision: a float32 quotient can round to the other side of .5 */
                double v = nearbyint(x->dtype == KILN_DOUBLE ? xv / s : (double)((float)xv / (float)s));
                if (zp) v += (double)kiln_load_i64(zp->dtype, zp->data, pi);
                if (v < (double)lo) v = (double)lo;
                if (v > (double)hi) v = (double)hi;
                if (v != v) v = 0;
                kiln_store_i64(ot, y->data, xi, (int64_t)v);
            }
    return KILN_OK;
}

static kiln_status dequantize_run(kiln_kctx *k) {
    const quant_params *p = k->params;
    const kiln_tensor *x, *scale;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &scale));
    const kiln_tensor *zp = kiln_kin(k, 2);
    KILN_TRY(check_zp(zp, scale));
    int64_t lo, hi;
    KILN_FAIL_IF(!int_range(x->dtype, &lo, &hi), KILN_ERR_UNSUPPORTED,
                 "DequantizeLinear from %s is not supported on the CPU backend yet", kiln_dtype_name(x->dtype));
    KILN_FAIL_IF(zp && zp->dtype != x->dtype, KILN_ERR_TYPE, "zero point dtype %s differs from x's %s",
                 kiln_dtype_name(zp->dtype), kiln_dtype_name(x->dtype));
    kiln_dtype ot = p->out_dtype ? p->out_dtype : scale->dtype;
    qlayout L;
    KILN_TRY(make_layout(x, scale, p, &L));
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, ot, x->rank, x->dims, &y));
    for (int64_t o = 0; o < L.outer; o++)
        for (int64_t a = 0; a < L.A; a++)
            for (int64_t i = 0; i < L.inner; i++) {
                int64_t xi = (o * L.A + a) * L.inner + i, pi = param_index(&L, o, a, i);
                int64_t q = kiln_load_i64(x->dtype, x->data, xi) - (zp ? kiln_load_i64(zp->dtype, zp->data, pi) : 0);
                /* float32 arithmetic, as the spec's reference computes it */
                float s = (float)kiln_load_f64(scale->dtype, scale->data, pi);
                kiln_store_f64(ot, y->data, xi, (double)((float)q * s));
            }
    return KILN_OK;
}

static kiln_status dynamic_quant_run(kiln_kctx *k) {
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(x->dtype != KILN_FLOAT, KILN_ERR_TYPE, "DynamicQuantizeLinear takes float32, got %s",
                 kiln_dtype_name(x->dtype));
    int64_t n = kiln_tensor_numel(x);
    const float *xd = x->data;
    float mn = 0, mx = 0; /* the range always includes 0 so that 0 is exactly representable */
    for (int64_t i = 0; i < n; i++) {
        if (xd[i] < mn) mn = xd[i];
        if (xd[i] > mx) mx = xd[i];
    }
    float scale = (mx - mn) / 255.0f;
    float zpf = scale != 0 ? nearbyintf(0 - mn / scale) : 0;
    zpf = zpf < 0 ? 0 : zpf > 255 ? 255 : zpf;
    kiln_tensor *y, *ys, *yz;
    KILN_TRY(kiln_kout(k, 0, KILN_UINT8, x->rank, x->dims, &y));
    KILN_TRY(kiln_kout(k, 1, KILN_FLOAT, 0, NULL, &ys));
    KILN_TRY(kiln_kout(k, 2, KILN_UINT8, 0, NULL, &yz));
    uint8_t *yd = y->data;
    for (int64_t i = 0; i < n; i++) {
        float v = scale != 0 ? nearbyintf(xd[i] / scale) + zpf : zpf;
        yd[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    ((float *)ys->data)[0] = scale;
    ((uint8_t *)yz->data)[0] = (uint8_t)zpf;
    return KILN_OK;
}

const kiln_op_def kiln_cpu_ops_quant[] = {
    {"QuantizeLinear", "", 10, quant_prepare, free, quantize_run},
    {"DequantizeLinear", "", 10, quant_prepare, free, dequantize_run},
    {"DynamicQuantizeLinear", "", 11, NULL, NULL, dynamic_quant_run},
    {0},
};
