#include "backends/cpu/linalg-common.h"

#include <math.h>
#include <stdlib.h>

#include "core/broadcast.h"
#include "core/dtype.h"
#include "ir/graph.h"

int lin_is_half(kiln_dtype dt) { return dt == KILN_FLOAT16 || dt == KILN_BFLOAT16; }

void *lin_alloc(size_t n) { return aligned_alloc(64, ((n ? n : 1) + 63) & ~(size_t)63); }

void lin_load_float(kiln_dtype dt, const void *src, float *dst, int64_t n) {
    switch (dt) {
    case KILN_FLOAT:
        for (int64_t i = 0; i < n; i++) dst[i] = ((const float *)src)[i];
        break;
    case KILN_FLOAT16:
        for (int64_t i = 0; i < n; i++) dst[i] = kiln_half_to_float(((const uint16_t *)src)[i]);
        break;
    case KILN_BFLOAT16:
        for (int64_t i = 0; i < n; i++) dst[i] = kiln_bf16_to_float(((const uint16_t *)src)[i]);
        break;
    default:
        for (int64_t i = 0; i < n; i++) dst[i] = (float)kiln_load_f64(dt, src, i);
        break;
    }
}

void lin_store_float(kiln_dtype dt, const float *src, void *dst, int64_t n) {
    switch (dt) {
    case KILN_FLOAT:
        for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = src[i];
        break;
    case KILN_FLOAT16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = kiln_float_to_half(src[i]);
        break;
    case KILN_BFLOAT16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = kiln_float_to_bf16(src[i]);
        break;
    default:
        for (int64_t i = 0; i < n; i++) kiln_store_f64(dt, dst, i, src[i]);
        break;
    }
}

kiln_status lin_as_float(const kiln_tensor *t, const float **out, float **owned) {
    *owned = NULL;
    if (t->dtype == KILN_FLOAT) {
        *out = t->data;
        return KILN_OK;
    }
    int64_t n = kiln_tensor_numel(t);
    KILN_FAIL_IF(n < 0, KILN_ERR_SHAPE, "invalid tensor shape");
    float *buf = lin_alloc(sizeof(float) * (size_t)n);
    KILN_FAIL_IF(!buf, KILN_ERR_OUT_OF_MEMORY, "out of memory converting %lld elements to float", (long long)n);
    lin_load_float(t->dtype, t->data, buf, n);
    *out = buf;
    *owned = buf;
    return KILN_OK;
}

void lin_batch_offsets(int r, const int64_t *dims, int rout, const int64_t *out, int64_t item, int64_t *off) {
    int64_t strides[KILN_MAX_DIMS], idx[KILN_MAX_DIMS] = {0};
    kiln_broadcast_strides(r, dims, rout, out, strides);
    int64_t n = 1;
    for (int i = 0; i < rout; i++) n *= out[i];
    int64_t cur = 0;
    for (int64_t b = 0; b < n; b++) {
        off[b] = cur * item;
        for (int d = rout - 1; d >= 0; d--) {
            cur += strides[d];
            if (++idx[d] < out[d]) break;
            cur -= strides[d] * out[d];
            idx[d] = 0;
        }
    }
}

void lin_broadcast_map(int rank, const int64_t *dims, const int64_t *strides, int64_t n, int64_t *map) {
    int64_t idx[KILN_MAX_DIMS] = {0};
    int64_t cur = 0;
    for (int64_t i = 0; i < n; i++) {
        map[i] = cur;
        for (int d = rank - 1; d >= 0; d--) {
            cur += strides[d];
            if (++idx[d] < dims[d]) break;
            cur -= strides[d] * dims[d];
            idx[d] = 0;
        }
    }
}

void lin_q_store(kiln_dtype dt, void *p, int64_t i, double v, int32_t zp) {
    double r = nearbyint(v + zp); /* half to even, after the zero point as the reference rounds */
    double lo = 0, hi = 255;
    switch (dt) {
    case KILN_INT8: lo = -128, hi = 127; break;
    case KILN_UINT16: lo = 0, hi = 65535; break;
    case KILN_INT16: lo = -32768, hi = 32767; break;
    case KILN_INT32: lo = -2147483648.0, hi = 2147483647.0; break;
    default: break;
    }
    if (!(r >= lo)) r = lo; /* NaN saturates low, as a cast of NaN would be undefined */
    if (r > hi) r = hi;
    switch (dt) {
    case KILN_UINT8: ((uint8_t *)p)[i] = (uint8_t)r; break;
    case KILN_INT8: ((int8_t *)p)[i] = (int8_t)r; break;
    case KILN_UINT16: ((uint16_t *)p)[i] = (uint16_t)r; break;
    case KILN_INT16: ((int16_t *)p)[i] = (int16_t)r; break;
    case KILN_INT32: ((int32_t *)p)[i] = (int32_t)r; break;
    default: break;
    }
}

double lin_q_factor(kiln_dtype dt, double a, double b, double y) {
    if (dt == KILN_FLOAT16) {
        float ab = kiln_half_to_float(kiln_float_to_half((float)(a * b)));
        return kiln_half_to_float(kiln_float_to_half(ab / (float)y));
    }
    if (dt == KILN_BFLOAT16) {
        float ab = kiln_bf16_to_float(kiln_float_to_bf16((float)(a * b)));
        return kiln_bf16_to_float(kiln_float_to_bf16(ab / (float)y));
    }
    if (dt == KILN_DOUBLE) return a * b / y;
    float ab = (float)a * (float)b;
    return (double)(ab / (float)y);
}

const kiln_tensor *lin_const_input(const kiln_node *n, const kiln_graph *g, int i) {
    if (i >= n->n_in || n->in[i] < 0 || n->in[i] >= g->n_values) return NULL;
    const kiln_tensor *t = g->values[n->in[i]].init;
    return t && t->data && kiln_tensor_numel(t) >= 0 ? t : NULL;
}
