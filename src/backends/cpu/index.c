/* CPU kernels: index family (see registry.h). Gather, GatherElements, GatherND, OneHot, NonZero, Compress here;
 * Scatter, ScatterElements, ScatterND in index-scatter.c; Unique in index-unique.c.
 *
 * Every index is checked before anything is read or written through it: an index outside [-dim, dim) fails with
 * KILN_ERR_RUNTIME naming the index, its position, the axis and the valid range. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/index-common.h"
#include "backends/cpu/movement-common.h"
#include "backends/cpu/registry.h"
#include "core/dtype.h"
#include "core/parallel.h"

kiln_status kiln_ix_check_indices(const kiln_tensor *t, const char *what) {
    KILN_FAIL_IF(t->dtype != KILN_INT64 && t->dtype != KILN_INT32, KILN_ERR_TYPE, "%s must be int32 or int64, got %s",
                 what, kiln_dtype_name(t->dtype));
    return KILN_OK;
}

kiln_status kiln_ix_resolve(const char *op, int64_t v, int64_t pos, int axis, int64_t dim, int64_t *out) {
    if (v < -dim || v >= dim)
        return kiln_error(KILN_ERR_RUNTIME,
                          "%s index %lld (at position %lld of the indices) is out of range for axis %d of size %lld "
                          "(valid range [%lld, %lld])",
                          op, (long long)v, (long long)pos, axis, (long long)dim, (long long)-dim, (long long)(dim - 1));
    *out = v < 0 ? v + dim : v;
    return KILN_OK;
}

typedef struct axis_params {
    int64_t axis;
} axis_params;

static kiln_status axis_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    axis_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->axis = kiln_attr_int(n, "axis", !strcmp(n->op_type, "OneHot") ? -1 : 0);
    return KILN_OK;
}

/* ---------------------------------------------------------------- Gather ---------------------------------------- */

typedef struct gather_ctx {
    const char *src;
    char *dst;
    const int64_t *idx;
    int64_t n_idx, dim, inner;
    size_t es;
} gather_ctx;

static void gather_range(void *ctx, int64_t b, int64_t e) {
    const gather_ctx *c = ctx;
    size_t row = (size_t)c->inner * c->es;
    for (int64_t q = b; q < e; q++) {
        int64_t o = q / c->n_idx, j = q % c->n_idx;
        memcpy(c->dst + (size_t)q * row, c->src + (size_t)(o * c->dim + c->idx[j]) * row, row);
    }
}

static kiln_status gather_run(kiln_kctx *k) {
    const axis_params *p = k->params;
    const kiln_tensor *x, *ti;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &ti));
    KILN_TRY(kiln_ix_check_indices(ti, "Gather indices"));
    int axis;
    KILN_TRY(kiln_mv_axis(p->axis, x->rank, "Gather axis", &axis));
    int r = x->rank - 1 + ti->rank;
    KILN_FAIL_IF(r > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "Gather output rank %d exceeds kiln's limit", r);
    int64_t dims[KILN_MAX_DIMS], n_idx = kiln_tensor_numel(ti), dim = x->dims[axis];
    int q = 0;
    for (int d = 0; d < axis; d++) dims[q++] = x->dims[d];
    for (int d = 0; d < ti->rank; d++) dims[q++] = ti->dims[d];
    for (int d = axis + 1; d < x->rank; d++) dims[q++] = x->dims[d];
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(n_idx + 1));
    KILN_FAIL_IF(!idx, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = KILN_OK;
    for (int64_t j = 0; j < n_idx && st == KILN_OK; j++)
        st = kiln_ix_resolve("Gather", kiln_ix_index(ti, j), j, axis, dim, &idx[j]);
    kiln_tensor *y = NULL;
    if (st == KILN_OK) st = kiln_kout(k, 0, x->dtype, r, dims, &y);
    if (st == KILN_OK && kiln_tensor_numel(y) > 0) {
        gather_ctx c = {x->data, y->data, idx, n_idx, dim, kiln_numel(x->rank - axis - 1, x->dims + axis + 1),
                        kiln_dtype_size(x->dtype)};
        int64_t outer = kiln_numel(axis, x->dims);
        if (x->dtype == KILN_STRING) {
            for (int64_t o = 0; o < outer && st == KILN_OK; o++)
                for (int64_t j = 0; j < n_idx && st == KILN_OK; j++)
                    st = kiln_mv_copy(KILN_STRING, (char **)y->data + (o * n_idx + j) * c.inner,
                                      (char *const *)x->data + (o * dim + idx[j]) * c.inner, c.inner);
        } else {
            kiln_parallel_for(outer * n_idx, 8192 / (c.inner + 1) + 1, gather_range, &c);
        }
    }
    free(idx);
    return st;
}

/* ---------------------------------------------------------------- GatherElements -------------------------------- */

static kiln_status gather_elements_run(kiln_kctx *k) {
    const axis_params *p = k->params;
    const kiln_tensor *x, *ti;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &ti));
    KILN_TRY(kiln_ix_check_indices(ti, "GatherElements indices"));
    int axis, r = x->rank;
    KILN_TRY(kiln_mv_axis(p->axis, r, "GatherElements axis", &axis));
    char b1[256], b2[256];
    int ok = ti->rank == r;
    for (int d = 0; ok && d < r; d++) ok = d == axis || ti->dims[d] <= x->dims[d];
    KILN_FAIL_IF(!ok, KILN_ERR_SHAPE, "GatherElements indices %s do not fit data %s",
                 kiln_mv_shape_str(ti->rank, ti->dims, b1, sizeof b1), kiln_mv_shape_str(r, x->dims, b2, sizeof b2));
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, ti->dims, &y));
    int64_t n = kiln_tensor_numel(ti), st[KILN_MAX_DIMS], ix[KILN_MAX_DIMS] = {0};
    kiln_mv_strides(r, x->dims, st);
    size_t es = kiln_dtype_size(x->dtype);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = 0, off = 0;
        KILN_TRY(kiln_ix_resolve("GatherElements", kiln_ix_index(ti, i), i, axis, x->dims[axis], &v));
        for (int d = 0; d < r; d++) off += (d == axis ? v : ix[d]) * st[d];
        if (x->dtype == KILN_STRING)
            KILN_TRY(kiln_mv_copy(KILN_STRING, (char **)y->data + i, (char *const *)x->data + off, 1));
        else
            memcpy((char *)y->data + (size_t)i * es, (const char *)x->data + (size_t)off * es, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++ix[d] < ti->dims[d]) break;
            ix[d] = 0;
        }
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- GatherND -------------------------------------- */

typedef struct gathernd_params {
    int64_t batch_dims;
} gathernd_params;

static kiln_status gathernd_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    gathernd_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->batch_dims = kiln_attr_int(n, "batch_dims", 0);
    return KILN_OK;
}

kiln_status kiln_ix_nd_layout(const char *op, const kiln_tensor *data, const kiln_tensor *ti, int64_t b,
                              kiln_ix_nd *L) {
    char b1[256], b2[256];
    int q = ti->rank, r = data->rank;
    KILN_FAIL_IF(q < 1, KILN_ERR_SHAPE, "%s indices must have rank >= 1", op);
    int64_t kk = ti->dims[q - 1];
    KILN_FAIL_IF(b < 0 || b >= q || b >= r || kk > r - b || kk < 0, KILN_ERR_SHAPE,
                 "%s indices %s do not fit data %s with batch_dims %lld", op,
                 kiln_mv_shape_str(q, ti->dims, b1, sizeof b1), kiln_mv_shape_str(r, data->dims, b2, sizeof b2),
                 (long long)b);
    for (int d = 0; d < b; d++)
        KILN_FAIL_IF(ti->dims[d] != data->dims[d], KILN_ERR_SHAPE, "%s batch dim %d differs: indices %s, data %s", op,
                     d, kiln_mv_shape_str(q, ti->dims, b1, sizeof b1), kiln_mv_shape_str(r, data->dims, b2, sizeof b2));
    L->k = (int)kk;
    L->b = (int)b;
    L->batches = kiln_numel((int)b, data->dims);
    L->per_batch = kiln_numel(q - 1 - (int)b, ti->dims + b);
    L->inner = kiln_numel(r - (int)b - (int)kk, data->dims + b + kk);
    L->batch_stride = kiln_numel(r - (int)b, data->dims + b);
    int64_t st[KILN_MAX_DIMS];
    kiln_mv_strides(r, data->dims, st);
    for (int j = 0; j < kk; j++) {
        L->stride[j] = st[b + j];
        L->dim[j] = data->dims[b + j];
    }
    return KILN_OK;
}

kiln_status kiln_ix_nd_offset(const char *op, const kiln_tensor *ti, const kiln_ix_nd *L, int64_t tuple,
                              int64_t *off) {
    int64_t o = (tuple / L->per_batch) * L->batch_stride;
    for (int j = 0; j < L->k; j++) {
        int64_t v = 0;
        KILN_TRY(kiln_ix_resolve(op, kiln_ix_index(ti, tuple * L->k + j), tuple * L->k + j, L->b + j, L->dim[j], &v));
        o += v * L->stride[j];
    }
    *off = o;
    return KILN_OK;
}

static kiln_status gathernd_run(kiln_kctx *k) {
    const gathernd_params *p = k->params;
    const kiln_tensor *x, *ti;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &ti));
    KILN_TRY(kiln_ix_check_indices(ti, "GatherND indices"));
    kiln_ix_nd L;
    KILN_TRY(kiln_ix_nd_layout("GatherND", x, ti, p->batch_dims, &L));
    int64_t dims[KILN_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < ti->rank - 1; d++) dims[r++] = ti->dims[d];
    for (int d = L.b + L.k; d < x->rank; d++) {
        KILN_FAIL_IF(r >= KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "GatherND output rank exceeds kiln's limit");
        dims[r++] = x->dims[d];
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, dims, &y));
    int64_t tuples = L.batches * L.per_batch;
    size_t es = kiln_dtype_size(x->dtype);
    for (int64_t t = 0; t < tuples && L.inner > 0; t++) {
        int64_t off;
        KILN_TRY(kiln_ix_nd_offset("GatherND", ti, &L, t, &off));
        KILN_TRY(kiln_mv_copy(x->dtype, (char *)y->data + (size_t)(t * L.inner) * es,
                              (const char *)x->data + (size_t)off * es, L.inner));
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- OneHot ---------------------------------------- */

static kiln_status onehot_run(kiln_kctx *k) {
    const axis_params *p = k->params;
    const kiln_tensor *ti, *td, *tv;
    KILN_TRY(kiln_kin_req(k, 0, &ti));
    KILN_TRY(kiln_kin_req(k, 1, &td));
    KILN_TRY(kiln_kin_req(k, 2, &tv));
    KILN_FAIL_IF(kiln_tensor_numel(tv) != 2, KILN_ERR_SHAPE, "OneHot values must hold [off, on], got %lld values",
                 (long long)kiln_tensor_numel(tv));
    KILN_FAIL_IF(!kiln_dtype_is_int(ti->dtype) && !kiln_dtype_is_float(ti->dtype), KILN_ERR_TYPE,
                 "OneHot indices must be numeric, got %s", kiln_dtype_name(ti->dtype));
    double dd;
    KILN_TRY(kiln_mv_scalar_f64(td, "OneHot depth", &dd));
    KILN_FAIL_IF(!(dd >= 1) || dd > 1e12, KILN_ERR_RUNTIME, "OneHot depth %g must be positive", dd);
    int64_t depth = (int64_t)dd;
    int r = ti->rank + 1, axis;
    KILN_FAIL_IF(r > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "OneHot output rank %d exceeds kiln's limit", r);
    KILN_TRY(kiln_mv_axis(p->axis, r, "OneHot axis", &axis));
    int64_t dims[KILN_MAX_DIMS];
    for (int d = 0, j = 0; d < r; d++) dims[d] = d == axis ? depth : ti->dims[j++];
    kiln_tensor *y;
    size_t es = kiln_dtype_size(tv->dtype);
    KILN_TRY(kiln_kout(k, 0, tv->dtype, r, dims, &y));
    KILN_TRY(kiln_mv_fill(tv->dtype, y->data, kiln_tensor_numel(y), tv->data));
    int64_t outer = kiln_numel(axis, ti->dims), inner = kiln_numel(ti->rank - axis, ti->dims + axis);
    const char *on = (const char *)tv->data + es;
    int exact = ti->dtype == KILN_INT64 || ti->dtype == KILN_INT32;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t pos = o * inner + i, v;
            if (exact) {
                v = kiln_ix_index(ti, pos);
            } else {
                double f = kiln_load_f64(ti->dtype, ti->data, pos);
                if (f != floor(f) || fabs(f) > 1e15) continue; /* never equals an integer position */
                v = (int64_t)f;
            }
            if (v < 0) v += depth;
            if (v < 0 || v >= depth) continue; /* out of range: all off, per the spec */
            KILN_TRY(kiln_mv_copy(tv->dtype, (char *)y->data + (size_t)((o * depth + v) * inner + i) * es, on, 1));
        }
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- NonZero --------------------------------------- */

static kiln_status nonzero_run(kiln_kctx *k) {
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int64_t n = kiln_tensor_numel(x), nnz = 0;
    for (int64_t i = 0; i < n; i++) nnz += kiln_mv_is_nonzero(x->dtype, x->data, i);
    int r = x->rank ? x->rank : 1; /* a scalar reads as a 1-element vector */
    int64_t dims[2] = {r, nnz}, one = 1;
    const int64_t *xd = x->rank ? x->dims : &one;
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, KILN_INT64, 2, dims, &y));
    int64_t *o = y->data, ix[KILN_MAX_DIMS] = {0}, at = 0;
    for (int64_t i = 0; i < n; i++) {
        if (kiln_mv_is_nonzero(x->dtype, x->data, i)) {
            for (int d = 0; d < r; d++) o[d * nnz + at] = ix[d];
            at++;
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++ix[d] < xd[d]) break;
            ix[d] = 0;
        }
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- Compress -------------------------------------- */

typedef struct compress_params {
    int has_axis;
    int64_t axis;
} compress_params;

static kiln_status compress_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    compress_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->has_axis = kiln_node_attr(n, "axis") != NULL;
    p->axis = kiln_attr_int(n, "axis", 0);
    return KILN_OK;
}

static kiln_status compress_run(kiln_kctx *k) {
    const compress_params *p = k->params;
    const kiln_tensor *x, *tc;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &tc));
    KILN_FAIL_IF(tc->rank != 1, KILN_ERR_SHAPE, "Compress condition must be 1-D, got rank %d", tc->rank);
    int axis = 0;
    int64_t outer = 1, dim = kiln_tensor_numel(x), inner = 1;
    if (p->has_axis) {
        KILN_TRY(kiln_mv_axis(p->axis, x->rank, "Compress axis", &axis));
        outer = kiln_numel(axis, x->dims);
        dim = x->dims[axis];
        inner = kiln_numel(x->rank - axis - 1, x->dims + axis + 1);
    }
    int64_t clen = tc->dims[0], cnt = 0;
    for (int64_t i = 0; i < clen; i++) {
        if (!kiln_mv_is_nonzero(tc->dtype, tc->data, i)) continue;
        KILN_FAIL_IF(i >= dim, KILN_ERR_RUNTIME,
                     "Compress condition selects position %lld, outside the axis of size %lld", (long long)i,
                     (long long)dim);
        cnt++;
    }
    int64_t dims[KILN_MAX_DIMS];
    int r = 1;
    if (p->has_axis) {
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = cnt;
        r = x->rank;
    } else {
        dims[0] = cnt;
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, dims, &y));
    size_t es = kiln_dtype_size(x->dtype);
    int64_t at = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < clen && i < dim; i++) {
            if (!kiln_mv_is_nonzero(tc->dtype, tc->data, i)) continue;
            KILN_TRY(kiln_mv_copy(x->dtype, (char *)y->data + (size_t)(at * inner) * es,
                                  (const char *)x->data + (size_t)((o * dim + i) * inner) * es, inner));
            at++;
        }
    return KILN_OK;
}

/* ---------------------------------------------------------------- table ----------------------------------------- */

const kiln_op_def kiln_cpu_ops_index[] = {
    {"Gather", "", 1, axis_prepare, kiln_mv_free_params, gather_run},
    {"GatherElements", "", 11, axis_prepare, kiln_mv_free_params, gather_elements_run},
    {"GatherND", "", 11, gathernd_prepare, kiln_mv_free_params, gathernd_run},
    {"Scatter", "", 9, kiln_ix_scatter_prepare, kiln_mv_free_params, kiln_ix_scatter_elements_run},
    {"ScatterElements", "", 11, kiln_ix_scatter_prepare, kiln_mv_free_params, kiln_ix_scatter_elements_run},
    {"ScatterND", "", 11, kiln_ix_scatter_prepare, kiln_mv_free_params, kiln_ix_scatter_nd_run},
    {"OneHot", "", 9, axis_prepare, kiln_mv_free_params, onehot_run},
    {"NonZero", "", 9, NULL, NULL, nonzero_run},
    {"Compress", "", 9, compress_prepare, kiln_mv_free_params, compress_run},
    {"Unique", "", 11, kiln_ix_unique_prepare, kiln_mv_free_params, kiln_ix_unique_run},
    {0},
};
