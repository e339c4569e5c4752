/* Shared helpers for the reduce / softmax / norm kernel tests: random tensors of any dtype together with the
 * double values they hold, node runs through oneop, and comparison against double references.
 *
 * Inputs are fresh on every run: the seed comes from the clock unless KILN_TEST_SEED is set, and is printed so a
 * failure can be replayed. */
#ifndef KILN_TEST_REDUCE_TESTUTIL_H
#define KILN_TEST_REDUCE_TESTUTIL_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "core/broadcast.h"
#include "core/dtype.h"
#include "oneop.h"

static uint64_t rt_rng = 1;

static inline void rt_seed(void) {
    const char *s = getenv("KILN_TEST_SEED");
    rt_rng = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL) * 2654435761u + (uint64_t)clock();
    if (!rt_rng) rt_rng = 1;
    fprintf(stderr, "KILN_TEST_SEED=%llu\n", (unsigned long long)rt_rng);
}

static inline double rt_unit(void) { /* [0, 1) */
    rt_rng ^= rt_rng << 13;
    rt_rng ^= rt_rng >> 7;
    rt_rng ^= rt_rng << 17;
    return (double)(rt_rng >> 11) / 9007199254740992.0;
}
static inline double rt_uniform(double lo, double hi) { return lo + rt_unit() * (hi - lo); }
static inline int64_t rt_int(int64_t lo, int64_t hi) { /* inclusive */
    int64_t r = lo + (int64_t)(rt_unit() * (double)(hi - lo + 1));
    return r > hi ? hi : r;
}

/* A tensor owning its storage, plus the double values it holds (after rounding to its dtype). */
typedef struct rt_tensor {
    kiln_tensor t;
    double *v;
    int64_t n;
} rt_tensor;

static inline rt_tensor rt_make(kiln_dtype dt, int rank, const int64_t *dims) {
    rt_tensor r;
    memset(&r, 0, sizeof r);
    r.t.dtype = dt;
    r.t.rank = rank;
    r.n = 1;
    for (int i = 0; i < rank; i++) r.t.dims[i] = dims[i], r.n *= dims[i];
    r.t.data = calloc((size_t)(r.n + 1), kiln_dtype_size(dt));
    r.v = calloc((size_t)(r.n + 1), sizeof(double));
    return r;
}

static inline void rt_set(rt_tensor *r, int64_t i, double v) {
    kiln_store_f64(r->t.dtype, r->t.data, i, v);
    r->v[i] = kiln_load_f64(r->t.dtype, r->t.data, i);
}

/* Uniform values in [lo, hi): rounded to the dtype; integers drawn from [lo, hi] inclusive. */
static inline rt_tensor rt_rand(kiln_dtype dt, int rank, const int64_t *dims, double lo, double hi) {
    rt_tensor r = rt_make(dt, rank, dims);
    for (int64_t i = 0; i < r.n; i++) {
        if (kiln_dtype_is_float(dt)) rt_set(&r, i, rt_uniform(lo, hi));
        else if (dt == KILN_BOOL) rt_set(&r, i, (double)rt_int(0, 1));
        else rt_set(&r, i, (double)rt_int((int64_t)lo, (int64_t)hi));
    }
    return r;
}

/* An int64 tensor from values. */
static inline rt_tensor rt_ints(int rank, const int64_t *dims, const int64_t *vals) {
    rt_tensor r = rt_make(KILN_INT64, rank, dims);
    for (int64_t i = 0; i < r.n; i++) ((int64_t *)r.t.data)[i] = vals[i], r.v[i] = (double)vals[i];
    return r;
}

static inline void rt_free(rt_tensor *r) {
    free(r->t.data);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* Relative precision of a dtype (float types) or 0 (exact types). */
static inline double rt_eps(kiln_dtype dt) {
    switch (dt) {
    case KILN_FLOAT16: return 1e-3;
    case KILN_BFLOAT16: return 8e-3;
    case KILN_FLOAT: return 1.2e-7;
    case KILN_DOUBLE: return 2.3e-16;
    default: return 0;
    }
}

static inline int rt_shape_is(const kiln_tensor *y, int rank, const int64_t *dims, const char *what) {
    int ok = y->rank == rank;
    for (int i = 0; ok && i < rank; i++) ok = y->dims[i] == dims[i];
    if (!ok) {
        char a[160], b[160];
        fprintf(stderr, "%s: output shape %s, expected %s\n", what, kiln_shape_str(y->rank, y->dims, a, sizeof a),
                kiln_shape_str(rank, dims, b, sizeof b));
    }
    return ok;
}

/* |y[i] - ref[i]| <= tol[i] (tol may be NULL: then atol + rtol * |ref|). NaN matches NaN, inf matches inf. */
static inline int rt_close(const kiln_tensor *y, const double *ref, const double *tol, int64_t n, double rtol,
                           double atol, const char *what) {
    if (kiln_tensor_numel(y) != n) {
        fprintf(stderr, "%s: %lld elements, expected %lld\n", what, (long long)kiln_tensor_numel(y), (long long)n);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = kiln_load_f64(y->dtype, y->data, i), r = ref[i];
        if (y->dtype == KILN_UINT64) v = (double)((const uint64_t *)y->data)[i];
        if (isnan(v) && isnan(r)) continue;
        if (isinf(r) && v == r) continue;
        double t = tol ? tol[i] : atol + rtol * fabs(r);
        if (!(fabs(v - r) <= t)) {
            fprintf(stderr, "%s: element %lld is %.9g, expected %.9g (tolerance %.3g)\n", what, (long long)i, v, r, t);
            return 0;
        }
    }
    return 1;
}

/* Row-major odometer step over dims; returns 0 after the last index. */
static inline int rt_next(int rank, const int64_t *dims, int64_t *idx) {
    for (int d = rank - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) return 1;
        idx[d] = 0;
    }
    return 0;
}

#endif
