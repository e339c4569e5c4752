/* Helpers for the elementwise kernel tests: random tensors, generic element access through the core dtype helpers
 * (independent of the kernels under test), broadcast index math done the slow obvious way, and tolerant compare. */
#ifndef KILN_TEST_CPU_ELTWISE_UTIL_H
#define KILN_TEST_CPU_ELTWISE_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "oneop.h"

typedef struct trng {
    uint64_t s;
} trng;

static inline uint64_t trng_next(trng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline double trng_uniform(trng *r, double lo, double hi) {
    return lo + (hi - lo) * ((double)(trng_next(r) >> 11) / 9007199254740992.0);
}

static inline kiln_tensor tmake(kiln_dtype t, int rank, const int64_t *dims) {
    kiln_tensor x;
    memset(&x, 0, sizeof x);
    kiln_tensor_alloc(&x, t, rank, dims);
    return x;
}

static inline int t_is_float(kiln_dtype t) {
    return kiln_dtype_is_float(t);
}

/* Fills with uniform values in [lo, hi]; integers rounded; bools 0/1. */
static inline void tfill(kiln_tensor *x, trng *r, double lo, double hi) {
    int64_t n = kiln_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        double v = trng_uniform(r, lo, hi);
        if (x->dtype == KILN_BOOL)
            kiln_store_f64(x->dtype, x->data, i, v < (lo + hi) / 2 ? 0 : 1);
        else if (t_is_float(x->dtype))
            kiln_store_f64(x->dtype, x->data, i, v);
        else
            kiln_store_i64(x->dtype, x->data, i, (int64_t)llround(v));
    }
}

static inline double tget(const kiln_tensor *x, int64_t i) {
    return kiln_load_f64(x->dtype, x->data, i);
}
static inline int64_t tgeti(const kiln_tensor *x, int64_t i) {
    return kiln_load_i64(x->dtype, x->data, i);
}

/* Element of `in` that output element `flat` of shape (orank, odims) reads under numpy broadcasting. */
static inline int64_t bc_index(const kiln_tensor *in, int orank, const int64_t *odims, int64_t flat) {
    int64_t idx[KILN_MAX_DIMS];
    for (int d = orank - 1; d >= 0; d--) {
        idx[d] = odims[d] ? flat % odims[d] : 0;
        flat = odims[d] ? flat / odims[d] : 0;
    }
    int64_t off = 0, stride = 1;
    for (int d = in->rank - 1; d >= 0; d--) {
        int od = d + orank - in->rank;
        if (in->dims[d] != 1) off += idx[od] * stride;
        stride *= in->dims[d];
    }
    return off;
}

/* Relative tolerance suited to the dtype's precision (results computed in float for the half types). */
static inline double t_rtol(kiln_dtype t) {
    switch (t) {
    case KILN_DOUBLE:
        return 1e-12;
    case KILN_FLOAT:
        return 2e-6;
    case KILN_FLOAT16:
        return 2e-3;
    case KILN_BFLOAT16:
        return 1.6e-2;
    default:
        return 0;
    }
}

/* Rounds a double to what dtype t can hold (for expectations in narrow types). */
static inline double t_round(kiln_dtype t, double v) {
    if (t == KILN_FLOAT16 || t == KILN_BFLOAT16 || t == KILN_FLOAT) {
        uint32_t buf = 0;
        kiln_store_f64(t, &buf, 0, v);
        return kiln_load_f64(t, &buf, 0);
    }
    return v;
}

static inline int t_close(kiln_dtype t, double got, double want, double atol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= atol + t_rtol(t) * fabs(want);
}

static inline const char *tshape(const kiln_tensor *x, char *buf, size_t n) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < x->rank && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, i ? ",%lld" : "%lld", (long long)x->dims[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
    return buf;
}

#endif
