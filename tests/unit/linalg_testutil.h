/* Shared helpers for the linalg kernel tests (matmul, conv, pool): random tensors of any dtype built from double
 * values, and comparison of an output against a double reference. */
#ifndef KILN_TEST_LINALG_TESTUTIL_H
#define KILN_TEST_LINALG_TESTUTIL_H

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "oneop.h"

static uint64_t lt_rng = 0x9e3779b97f4a7c15ull;
static double lt_urand(void) { /* uniform in [-1, 1) */
    lt_rng ^= lt_rng << 13;
    lt_rng ^= lt_rng >> 7;
    lt_rng ^= lt_rng << 17;
    return (double)(lt_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}
static int64_t lt_irand(int64_t lo, int64_t hi) { /* inclusive */
    return lo + (int64_t)((lt_urand() + 1.0) * 0.5 * (double)(hi - lo + 1)) % (hi - lo + 1);
}

/* A tensor owning its storage (freed with lt_free), plus the double values it holds (after rounding to dtype). */
typedef struct lt_tensor {
    kiln_tensor t;
    double *v;
    int64_t n;
} lt_tensor;

static lt_tensor lt_make(kiln_dtype dt, int rank, const int64_t *dims) {
    lt_tensor r;
    memset(&r, 0, sizeof r);
    r.t.dtype = dt;
    r.t.rank = rank;
    r.n = 1;
    for (int i = 0; i < rank; i++) r.t.dims[i] = dims[i], r.n *= dims[i];
    r.t.data = calloc((size_t)(r.n + 1), kiln_dtype_size(dt));
    r.v = calloc((size_t)(r.n + 1), sizeof(double));
    return r;
}

static void lt_set(lt_tensor *r, int64_t i, double v) {
    kiln_store_f64(r->t.dtype, r->t.data, i, v);
    r->v[i] = kiln_load_f64(r->t.dtype, r->t.data, i);
}

/* Random values: floats in [-scale, scale); integers in [lo, hi]. */
static lt_tensor lt_rand(kiln_dtype dt, int rank, const int64_t *dims, double lo, double hi) {
    lt_tensor r = lt_make(dt, rank, dims);
    for (int64_t i = 0; i < r.n; i++) {
        if (kiln_dtype_is_float(dt))
            lt_set(&r, i, lo + (lt_urand() + 1.0) * 0.5 * (hi - lo));
        else
            lt_set(&r, i, (double)lt_irand((int64_t)lo, (int64_t)hi));
    }
    return r;
}

static void lt_free(lt_tensor *r) {
    free(r->t.data);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* Compares y to ref (n values, shape checked by the caller): |y - ref| <= atol + rtol*|ref| everywhere. */
static int lt_close(const kiln_tensor *y, const double *ref, int64_t n, double rtol, double atol, const char *what) {
    if (kiln_tensor_numel(y) != n) {
        fprintf(stderr, "%s: %lld elements, expected %lld\n", what, (long long)kiln_tensor_numel(y), (long long)n);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = kiln_load_f64(y->dtype, y->data, i);
        if (!(fabs(v - ref[i]) <= atol + rtol * fabs(ref[i])) && !(isnan(v) && isnan(ref[i]))) {
            fprintf(stderr, "%s: element %lld is %.9g, expected %.9g\n", what, (long long)i, v, ref[i]);
            return 0;
        }
    }
    return 1;
}

static int lt_same_shape(const kiln_tensor *y, int rank, const int64_t *dims, const char *what) {
    int ok = y->rank == rank;
    for (int i = 0; ok && i < rank; i++) ok = y->dims[i] == dims[i];
    if (!ok) {
        fprintf(stderr, "%s: output rank %d dims", what, y->rank);
        for (int i = 0; i < y->rank; i++) fprintf(stderr, " %lld", (long long)y->dims[i]);
        fprintf(stderr, ", expected rank %d\n", rank);
    }
    return ok;
}

/* Tolerance suited to the dtype's precision for a sum of k products of values in [-1, 1). */
static double lt_tol(kiln_dtype dt, int64_t k) {
    double eps = dt == KILN_FLOAT16 ? 1e-3 : dt == KILN_BFLOAT16 ? 8e-3 : dt == KILN_FLOAT ? 1e-6 : 1e-12;
    if (!kiln_dtype_is_float(dt)) return 0;
    return eps * (4.0 + 2.0 * sqrt((double)k + 1.0));
}

#endif
