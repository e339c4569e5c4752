/* Shared helpers for the data-movement kernel tests (shape, movement, index families): random tensors, index
 * arithmetic for the naive references, exact comparison. */
#ifndef KILN_TEST_CPU_MOVEMENT_UTIL_H
#define KILN_TEST_CPU_MOVEMENT_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "oneop.h"

static uint64_t mvt_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t mvt_next(void) {
    mvt_state ^= mvt_state << 13;
    mvt_state ^= mvt_state >> 7;
    mvt_state ^= mvt_state << 17;
    return mvt_state;
}
/* Uniform in [lo, hi] (inclusive). */
static inline int64_t mvt_int(int64_t lo, int64_t hi) { return lo + (int64_t)(mvt_next() % (uint64_t)(hi - lo + 1)); }
static inline float mvt_float(void) { return (float)((double)(mvt_next() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }

/* An owned tensor of the given shape filled with random values (strings: "s<number>"; bool: 0/1). */
static inline kiln_tensor mvt_random(kiln_dtype dt, int rank, const int64_t *dims) {
    kiln_tensor t;
    memset(&t, 0, sizeof t);
    kiln_tensor_alloc(&t, dt, rank, dims);
    int64_t n = kiln_tensor_numel(&t);
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case KILN_FLOAT: ((float *)t.data)[i] = mvt_float(); break;
        case KILN_STRING: {
            char b[32];
            int len = snprintf(b, sizeof b, "s%lld", (long long)mvt_int(0, 999));
            kiln_tensor_set_string(&t, i, b, (size_t)len);
            break;
        }
        case KILN_BOOL: ((uint8_t *)t.data)[i] = (uint8_t)mvt_int(0, 1); break;
        default: kiln_store_i64(dt, t.data, i, mvt_int(-100, 100)); break;
        }
    }
    return t;
}

static inline kiln_tensor mvt_ints(int rank, const int64_t *dims, const int64_t *v) {
    kiln_tensor t;
    memset(&t, 0, sizeof t);
    kiln_tensor_alloc(&t, KILN_INT64, rank, dims);
    if (v) memcpy(t.data, v, sizeof(int64_t) * (size_t)kiln_tensor_numel(&t));
    return t;
}

static inline kiln_tensor mvt_vec(int64_t n, const int64_t *v) { return mvt_ints(1, &n, v); }
static inline kiln_tensor mvt_scalar_i64(int64_t v) { return mvt_ints(0, NULL, &v); }

static inline kiln_tensor mvt_absent(void) {
    kiln_tensor t;
    memset(&t, 0, sizeof t);
    return t; /* dtype UNDEFINED: oneop leaves the input out */
}

static inline void mvt_unravel(int64_t i, int rank, const int64_t *dims, int64_t *idx) {
    for (int d = rank - 1; d >= 0; d--) {
        idx[d] = dims[d] ? i % dims[d] : 0;
        i = dims[d] ? i / dims[d] : 0;
    }
}

static inline int64_t mvt_ravel(int rank, const int64_t *dims, const int64_t *idx) {
    int64_t o = 0;
    for (int d = 0; d < rank; d++) o = o * dims[d] + idx[d];
    return o;
}

/* Element equality (bytes, or string contents). */
static inline int mvt_elem_eq(const kiln_tensor *a, int64_t i, const kiln_tensor *b, int64_t j) {
    if (a->dtype == KILN_STRING) {
        const char *x = ((char *const *)a->data)[i], *y = ((char *const *)b->data)[j];
        return x && y && !strcmp(x, y);
    }
    size_t es = kiln_dtype_size(a->dtype);
    return !memcmp((const char *)a->data + (size_t)i * es, (const char *)b->data + (size_t)j * es, es);
}

static inline int mvt_same_shape(const kiln_tensor *t, int rank, const int64_t *dims) {
    if (t->rank != rank) return 0;
    for (int d = 0; d < rank; d++)
        if (t->dims[d] != dims[d]) return 0;
    return 1;
}

/* Exact equality of dtype, shape and contents. */
static inline int mvt_equal(const kiln_tensor *a, const kiln_tensor *b) {
    if (a->dtype != b->dtype || !mvt_same_shape(a, b->rank, b->dims)) return 0;
    int64_t n = kiln_tensor_numel(a);
    for (int64_t i = 0; i < n; i++)
        if (!mvt_elem_eq(a, i, b, i)) return 0;
    return 1;
}

/* Copies element j of src into element i of dst (dst owned; strings duplicated). */
static inline void mvt_set(kiln_tensor *dst, int64_t i, const kiln_tensor *src, int64_t j) {
    if (src->dtype == KILN_STRING) {
        const char *s = ((char *const *)src->data)[j];
        kiln_tensor_set_string(dst, i, s, strlen(s));
        return;
    }
    size_t es = kiln_dtype_size(src->dtype);
    memcpy((char *)dst->data + (size_t)i * es, (const char *)src->data + (size_t)j * es, es);
}

static inline kiln_tensor mvt_alloc(kiln_dtype dt, int rank, const int64_t *dims) {
    kiln_tensor t;
    memset(&t, 0, sizeof t);
    kiln_tensor_alloc(&t, dt, rank, dims);
    return t;
}

#endif
