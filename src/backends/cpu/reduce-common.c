/* Helpers shared by the CPU norm, softmax and reduce families (see reduce-common.h). */
#include "backends/cpu/reduce-common.h"

#include <math.h>
#include <stdlib.h>

kiln_status kr_axis(int64_t axis, int rank, const char *what, int *out) {
    KILN_FAIL_IF(axis < -(int64_t)rank || axis >= (int64_t)rank || (rank == 0 && axis != 0), KILN_ERR_INVALID_GRAPH,
                 "%s %lld is out of range for a rank-%d input", what, (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return KILN_OK;
}

int64_t kr_prod(const int64_t *dims, int b, int e) {
    int64_t p = 1;
    for (int i = b; i < e; i++) p *= dims[i];
    return p;
}

const float *kr_float_view(const kiln_tensor *t, int64_t n, float **owned) {
    *owned = NULL;
    if (t->dtype == KILN_FLOAT) return (const float *)t->data;
    float *f = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!f) {
        kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory converting %lld %s elements to float", (long long)n,
                   kiln_dtype_name(t->dtype));
        return NULL;
    }
    const uint16_t *h = (const uint16_t *)t->data;
    if (t->dtype == KILN_FLOAT16)
        for (int64_t i = 0; i < n; i++) f[i] = kiln_half_to_float(h[i]);
    else
        for (int64_t i = 0; i < n; i++) f[i] = kiln_bf16_to_float(h[i]);
    *owned = f;
    return f;
}

void kr_float_store(kiln_dtype dt, void *dst, const float *src, int64_t n) {
    if (dt == KILN_FLOAT) {
        if (dst != src) memcpy(dst, src, sizeof(float) * (size_t)n);
        return;
    }
    uint16_t *h = dst;
    if (dt == KILN_FLOAT16)
        for (int64_t i = 0; i < n; i++) h[i] = kiln_float_to_half(src[i]);
    else
        for (int64_t i = 0; i < n; i++) h[i] = kiln_float_to_bf16(src[i]);
}

kiln_status kr_read_ints(const kiln_tensor *t, const char *what, int64_t *out, int max, int *n) {
    KILN_FAIL_IF(t->dtype != KILN_INT64 && t->dtype != KILN_INT32, KILN_ERR_TYPE, "%s must be int64 or int32, got %s",
                 what, kiln_dtype_name(t->dtype));
    KILN_FAIL_IF(t->rank > 1, KILN_ERR_SHAPE, "%s must be a scalar or 1-D tensor, got rank %d", what, t->rank);
    int64_t cnt = kiln_tensor_numel(t);
    KILN_FAIL_IF(cnt > max, KILN_ERR_SHAPE, "%s has %lld elements (at most %d allowed)", what, (long long)cnt, max);
    for (int64_t i = 0; i < cnt; i++)
        out[i] = t->dtype == KILN_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
    *n = (int)cnt;
    return KILN_OK;
}

int64_t kr_int_min(kiln_dtype dt) {
    switch (dt) {
    case KILN_INT8: return INT8_MIN;
    case KILN_INT16: return INT16_MIN;
    case KILN_INT32: return INT32_MIN;
    case KILN_INT64: return INT64_MIN;
    default: return 0; /* unsigned and bool */
    }
}

int64_t kr_int_max(kiln_dtype dt) {
    switch (dt) {
    case KILN_INT8: return INT8_MAX;
    case KILN_INT16: return INT16_MAX;
    case KILN_INT32: return INT32_MAX;
    case KILN_UINT8: return UINT8_MAX;
    case KILN_UINT16: return UINT16_MAX;
    case KILN_UINT32: return UINT32_MAX;
    case KILN_BOOL: return 1;
    default: return INT64_MAX;
    }
}
