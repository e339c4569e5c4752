/* CPU kernels: pool family (see registry.h): MaxPool (with Indices), AveragePool, LpPool, their Global forms,
 * MaxUnpool and LRN. Windows are N-D; each (image, channel) plane is one parallel task. For every output
 * position the in-bounds taps per dim are computed once, so padding costs nothing inside the loops. float16,
 * bfloat16 and 8-bit inputs compute through float (exact for the 8-bit types), double in double. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/conv-internal.h"
#include "backends/cpu/linalg-common.h"
#include "backends/cpu/pool-internal.h"
#include "backends/cpu/registry.h"
#include "core/broadcast.h"
#include "core/dtype.h"
#include "core/parallel.h"


static kiln_status pool_prepare_kind(const kiln_node *n, void **params, pool_kind kind) {
    pool_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = conv_attrs_parse(n, &p->a);
    p->kind = kind;
    p->ceil_mode = kiln_attr_int(n, "ceil_mode", 0) != 0;
    p->count_include_pad = kiln_attr_int(n, "count_include_pad", 0) != 0;
    p->storage_order = (int)kiln_attr_int(n, "storage_order", 0);
    p->p = kiln_attr_float(n, "p", 2.0f);
    if (st == KILN_OK && !p->a.n_k && strcmp(n->op_type, "MaxUnpool") != 0 && strncmp(n->op_type, "Global", 6) != 0)
        st = kiln_error(KILN_ERR_INVALID_GRAPH, "%s needs a kernel_shape attribute", n->op_type);
    if (st == KILN_OK && (p->storage_order < 0 || p->storage_order > 1))
        st = kiln_error(KILN_ERR_INVALID_GRAPH, "storage_order must be 0 or 1, got %d", p->storage_order);
    if (st == KILN_OK && kind == POOL_LP && !(p->p > 0))
        st = kiln_error(KILN_ERR_INVALID_GRAPH, "LpPool p must be positive, got %g", p->p);
    if (st != KILN_OK) {
        free(p);
        return st;
    }
    *params = p;
    return KILN_OK;
}

static kiln_status max_prepare(const kiln_node *n, const kiln_graph *g, void **p) {
    return pool_prepare_kind(n, p, POOL_MAX);
}
static kiln_status avg_prepare(const kiln_node *n, const kiln_graph *g, void **p) {
    return pool_prepare_kind(n, p, POOL_AVG);
}
static kiln_status lp_prepare(const kiln_node *n, const kiln_graph *g, void **p) {
    return pool_prepare_kind(n, p, POOL_LP);
}

/* Output geometry. pe keeps the explicit (or auto) end pad: ceil_mode may extend windows past it, and those
 * extra positions never count as padding. */
static kiln_status pool_geom(const pool_params *pp, int nsp, const int64_t *in, conv_geom *g) {
    const conv_attrs *a = &pp->a;
    memset(g, 0, sizeof *g);
    KILN_FAIL_IF(a->n_k != nsp, KILN_ERR_SHAPE, "kernel_shape has %d values for %d spatial dims", a->n_k, nsp);
    KILN_FAIL_IF(a->n_s && a->n_s != nsp, KILN_ERR_INVALID_GRAPH, "strides has %d values for %d spatial dims", a->n_s,
                 nsp);
    KILN_FAIL_IF(a->n_d && a->n_d != nsp, KILN_ERR_INVALID_GRAPH, "dilations has %d values for %d spatial dims",
                 a->n_d, nsp);
    KILN_FAIL_IF(a->n_p && a->n_p != 2 * nsp, KILN_ERR_INVALID_GRAPH, "pads has %d values for %d spatial dims",
                 a->n_p, nsp);
    g->nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        int64_t k = a->k[i], s = a->n_s ? a->s[i] : 1, d = a->n_d ? a->d[i] : 1;
        KILN_TRY(conv_check_dim(i, in[i], k, s, d, a->n_p ? a->pads[i] : 0, a->n_p ? a->pads[nsp + i] : 0));
        int64_t dk = (k - 1) * d + 1;
        int64_t pb = 0, pe = 0, out;
        if (a->auto_pad == PAD_NOTSET) {
            pb = a->n_p ? a->pads[i] : 0;
            pe = a->n_p ? a->pads[nsp + i] : 0;
            KILN_FAIL_IF(pb < 0 || pe < 0, KILN_ERR_INVALID_GRAPH, "negative pads are not supported");
            int64_t span = in[i] + pb + pe - dk;
            KILN_FAIL_IF(span < 0, KILN_ERR_SHAPE,
                         "spatial dim %d: input %lld + pads %lld+%lld is smaller than the dilated kernel %lld", i,
                         (long long)in[i], (long long)pb, (long long)pe, (long long)dk);
            out = (pp->ceil_mode ? (span + s - 1) / s : span / s) + 1;
            /* The last window must start inside the input or its begin padding. */
            if (pp->ceil_mode && (out - 1) * s >= in[i] + pb) out--;
        } else if (a->auto_pad == PAD_VALID) {
            KILN_FAIL_IF(in[i] < dk, KILN_ERR_SHAPE, "spatial dim %d: input %lld is smaller than the kernel %lld", i,
                         (long long)in[i], (long long)dk);
            out = (in[i] - dk) / s + 1;
        } else {
            out = (in[i] + s - 1) / s;
            int64_t total = (out - 1) * s + dk - in[i];
            if (total < 0) total = 0;
            pb = a->auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
        }
        g->img[i] = in[i];
        g->grid[i] = out;
        g->k[i] = k;
        g->s[i] = s;
        g->d[i] = d;
        g->pb[i] = pb;
        g->pe[i] = pe;
    }
    return conv_geom_finish(g);
}


/* Per output position: in-bounds taps [lo, hi) per dim and, for count_include_pad, taps inside the padded
 * extent [0, cnt). */
static void window(const conv_geom *g, const int64_t *o, int64_t *start, int64_t *lo, int64_t *hi, int64_t *cnt) {
    for (int q = 0; q < g->nsp; q++) {
        int64_t st = o[q] * g->s[q] - g->pb[q], d = g->d[q];
        start[q] = st;
        lo[q] = st >= 0 ? 0 : (-st + d - 1) / d;
        int64_t last = g->img[q] - 1 - st;
        hi[q] = last < 0 ? 0 : last / d + 1;
        if (hi[q] > g->k[q]) hi[q] = g->k[q];
        if (lo[q] > hi[q]) lo[q] = hi[q];
        int64_t lastp = g->img[q] + g->pe[q] - 1 - st;
        cnt[q] = lastp < 0 ? 0 : lastp / d + 1;
        if (cnt[q] > g->k[q]) cnt[q] = g->k[q];
    }
}

#define DEFINE_POOL(name, T, LOWEST)                                                                             \
    static void name(void *ctx, int64_t t0, int64_t t1) {                                                        \
        const pool_job *j = ctx;                                                                                 \
        const conv_geom *g = j->g;                                                                               \
        const int nsp = g->nsp;                                                                                  \
        const pool_kind kind = j->pp->kind;                                                                      \
        const double p = j->pp->p;                                                                               \
        int64_t istr[KILN_MAX_DIMS], cstr[KILN_MAX_DIMS];                                                        \
        int64_t s_ = 1, c_ = 1;                                                                                  \
        for (int q = nsp - 1; q >= 0; q--) istr[q] = s_, s_ *= g->img[q];                                        \
        for (int q = 0; q < nsp; q++) cstr[q] = c_, c_ *= g->img[q];                                             \
        for (int64_t t = t0; t < t1; t++) {                                                                      \
            const T *x = (const T *)j->x + t * g->img_size;                                                      \
            T *y = (T *)j->y + t * g->grid_size;                                                                 \
            int64_t o[KILN_MAX_DIMS] = {0};                                                                      \
            for (int64_t op = 0; op < g->grid_size; op++) {                                                      \
                int64_t start[KILN_MAX_DIMS], lo[KILN_MAX_DIMS], hi[KILN_MAX_DIMS], cnt[KILN_MAX_DIMS];          \
                window(g, o, start, lo, hi, cnt);                                                                \
                int empty = 0;                                                                                   \
                int64_t taps = 1, padded = 1;                                                                    \
                for (int q = 0; q < nsp; q++) {                                                                  \
                    empty |= lo[q] >= hi[q];                                                                     \
                    taps *= hi[q] - lo[q];                                                                       \
                    padded *= cnt[q];                                                                            \
                }                                                                                                \
                double acc = kind == POOL_MAX ? (double)(LOWEST) : 0.0;                                          \
                T best = (LOWEST);                                                                               \
                int64_t best_at = -1;                                                                            \
                if (!empty) {                                                                                    \
                    int64_t jj[KILN_MAX_DIMS];                                                                   \
                    for (int q = 0; q < nsp; q++) jj[q] = lo[q];                                                 \
                    for (;;) {                                                                                   \
                        int64_t off = 0;                                                                         \
                        for (int q = 0; q < nsp; q++) off += (start[q] + jj[q] * g->d[q]) * istr[q];             \
                        T v = x[off];                                                                            \
                        if (kind == POOL_MAX) {                                                                  \
                            if (best_at < 0 || v > best) best = v, best_at = off;                                \
                        } else if (kind == POOL_AVG) {                                                           \
                            acc += v;                                                                            \
                        } else {                                                                                 \
                            acc += p == 2.0 ? (double)v * v : pow(fabs((double)v), p);                           \
                        }                                                                                        \
                        int q = nsp - 1;                                                                         \
                        for (; q >= 0; q--) {                                                                    \
                            if (++jj[q] < hi[q]) break;                                                          \
                            jj[q] = lo[q];                                                                       \
                        }                                                                                        \
                        if (q < 0) break;                                                                        \
                    }                                                                                            \
                }                                                                                                \
                if (kind == POOL_MAX) {                                                                          \
                    y[op] = best;                                                                                \
                    if (j->ind) {                                                                                \
                        int64_t idx = 0;                                                                         \
                        if (best_at >= 0 && j->pp->storage_order == 1) {                                         \
                            int64_t rem = best_at;                                                               \
                            for (int q = nsp - 1; q >= 0; q--) idx += (rem % g->img[q]) * cstr[q], rem /= g->img[q]; \
                        } else {                                                                                 \
                            idx = best_at < 0 ? 0 : best_at;                                                     \
                        }                                                                                        \
                        j->ind[t * g->grid_size + op] = t * g->img_size + idx;                                   \
                    }                                                                                            \
                } else if (kind == POOL_AVG) {                                                                   \
                    int64_t den = j->pp->count_include_pad ? padded : taps;                                      \
                    y[op] = (T)(den > 0 ? acc / (double)den : NAN);                                              \
                } else {                                                                                         \
                    y[op] = (T)(p == 2.0 ? sqrt(acc) : p == 1.0 ? acc : pow(acc, 1.0 / p));                      \
                }                                                                                                \
                for (int q = nsp - 1; q >= 0; q--) {                                                             \
                    if (++o[q] < g->grid[q]) break;                                                              \
                    o[q] = 0;                                                                                    \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
    }

DEFINE_POOL(pool_f32, float, -INFINITY)
DEFINE_POOL(pool_f64, double, -INFINITY)

static int pool_dtype_ok(pool_kind kind, kiln_dtype dt) {
    if (dt == KILN_FLOAT || dt == KILN_DOUBLE || lin_is_half(dt)) return 1;
    return kind == POOL_MAX && (dt == KILN_INT8 || dt == KILN_UINT8);
}

/* Runs fn over n*c planes of x (dtype dt) into y (same dtype); non-float/double dtypes go through float. */
/* f2d (may be NULL): a whole-call float kernel used instead of f32 (the 2-D pools). */
static kiln_status run_planes(kiln_dtype dt, const kiln_tensor *x, kiln_tensor *y, int64_t planes,
                              int64_t work_per_plane, kiln_range_fn f32, kiln_range_fn f64,
                              kiln_status (*f2d)(const pool_job *, int64_t), pool_job *j) {
    int64_t grain = work_per_plane >= 8192 ? 1 : 8192 / (work_per_plane ? work_per_plane : 1);
    if (dt == KILN_FLOAT || dt == KILN_DOUBLE) {
        j->x = x->data;
        j->y = y->data;
        if (dt == KILN_FLOAT && f2d) return f2d(j, planes);
        kiln_parallel_for(planes, grain, dt == KILN_DOUBLE ? f64 : f32, j);
        return KILN_OK;
    }
    int64_t nx = kiln_tensor_numel(x), ny = kiln_tensor_numel(y);
    float *fx = lin_alloc(sizeof(float) * (size_t)nx), *fy = lin_alloc(sizeof(float) * (size_t)ny);
    if (!fx || !fy) {
        free(fx);
        free(fy);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    lin_load_float(dt, x->data, fx, nx);
    j->x = fx;
    j->y = fy;
    kiln_status st = KILN_OK;
    if (f2d)
        st = f2d(j, planes);
    else
        kiln_parallel_for(planes, grain, f32, j);
    if (kiln_dtype_is_float(dt))
        lin_store_float(dt, fy, y->data, ny);
    else
        for (int64_t i = 0; i < ny; i++) /* empty windows give -inf: clamp before the integer cast */
            kiln_store_i64(dt, y->data, i, (int64_t)(fy[i] < -1e9f ? -1e9f : fy[i]));
    free(fx);
    free(fy);
    return st;
}

static kiln_status pool_run(kiln_kctx *k) {
    const pool_params *pp = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    char sx[256];
    KILN_FAIL_IF(x->rank < 3, KILN_ERR_SHAPE, "%s: input %s must be [N, C, spatial...]", k->node->op_type,
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx));
    KILN_FAIL_IF(!pool_dtype_ok(pp->kind, x->dtype), KILN_ERR_TYPE, "%s does not support dtype %s", k->node->op_type,
                 kiln_dtype_name(x->dtype));
    conv_geom g;
    KILN_TRY(pool_geom(pp, x->rank - 2, x->dims + 2, &g));
    int64_t dims[KILN_MAX_DIMS] = {x->dims[0], x->dims[1]};
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.grid[i];
    kiln_tensor *y, *ind = NULL;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, dims, &y));
    if (pp->kind == POOL_MAX && k->n_out > 1 && k->node->out[1] >= 0)
        KILN_TRY(kiln_kout(k, 1, KILN_INT64, x->rank, dims, &ind));
    pool_job j = {pp, &g, NULL, NULL, ind ? ind->data : NULL};
    return run_planes(x->dtype, x, y, x->dims[0] * x->dims[1], g.grid_size * g.k_size, pool_f32, pool_f64,
                      g.nsp == 2 ? pool2d_f32 : NULL, &j);
}

/* ---- Global pools: one window covering the whole plane ---- */

static kiln_status global_prepare(const kiln_node *n, const kiln_graph *g, void **params, pool_kind kind) {
    pool_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->kind = kind;
    p->p = kiln_attr_float(n, "p", 2.0f);
    *params = p;
    return KILN_OK;
}
static kiln_status gmax_prepare(const kiln_node *n, const kiln_graph *g, void **p) {
    return global_prepare(n, g, p, POOL_MAX);
}
static kiln_status gavg_prepare(const kiln_node *n, const kiln_graph *g, void **p) {
    return global_prepare(n, g, p, POOL_AVG);
}
static kiln_status glp_prepare(const kiln_node *n, const kiln_graph *g, void **p) {
    return global_prepare(n, g, p, POOL_LP);
}

#define DEFINE_GLOBAL(name, T)                                                                                   \
    static void name(void *ctx, int64_t t0, int64_t t1) {                                                        \
        const pool_job *j = ctx;                                                                                 \
        const int64_t n = j->g->img_size;                                                                        \
        const pool_kind kind = j->pp->kind;                                                                      \
        const double p = j->pp->p;                                                                               \
        for (int64_t t = t0; t < t1; t++) {                                                                      \
            const T *x = (const T *)j->x + t * n;                                                                \
            T *y = (T *)j->y + t;                                                                                \
            if (kind == POOL_MAX) {                                                                              \
                T best = n > 0 ? x[0] : (T)-INFINITY;                                                            \
                for (int64_t i = 1; i < n; i++)                                                                  \
                    if (x[i] > best) best = x[i];                                                                \
                *y = best;                                                                                       \
            } else if (kind == POOL_AVG) {                                                                       \
                double acc = 0.0;                                                                                \
                T part[8] = {0};                                                                                 \
                int64_t i = 0;                                                                                   \
                for (; i + 8 <= n; i += 8)                                                                       \
                    for (int q = 0; q < 8; q++) part[q] += x[i + q];                                             \
                for (int q = 0; q < 8; q++) acc += part[q];                                                      \
                for (; i < n; i++) acc += x[i];                                                                  \
                *y = (T)(acc / (double)n);                                                                       \
            } else {                                                                                             \
                double acc = 0.0;                                                                                \
                for (int64_t i = 0; i < n; i++) acc += p == 2.0 ? (double)x[i] * x[i] : pow(fabs((double)x[i]), p); \
                *y = (T)(p == 2.0 ? sqrt(acc) : pow(acc, 1.0 / p));                                              \
            }                                                                                                    \
        }                                                                                                        \
    }

DEFINE_GLOBAL(global_f32, float)
DEFINE_GLOBAL(global_f64, double)

static kiln_status global_run(kiln_kctx *k) {
    const pool_params *pp = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    char sx[256];
    KILN_FAIL_IF(x->rank < 2, KILN_ERR_SHAPE, "%s: input %s must be [N, C, spatial...]", k->node->op_type,
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx));
    KILN_FAIL_IF(!pool_dtype_ok(pp->kind, x->dtype), KILN_ERR_TYPE, "%s does not support dtype %s", k->node->op_type,
                 kiln_dtype_name(x->dtype));
    conv_geom g;
    memset(&g, 0, sizeof g);
    g.img_size = 1;
    for (int i = 2; i < x->rank; i++) g.img_size *= x->dims[i];
    int64_t dims[KILN_MAX_DIMS] = {x->dims[0], x->dims[1]};
    for (int i = 2; i < x->rank; i++) dims[i] = 1;
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, dims, &y));
    pool_job j = {pp, &g, NULL, NULL, NULL};
    return run_planes(x->dtype, x, y, x->dims[0] * x->dims[1], g.img_size, global_f32, global_f64, NULL, &j);
}

/* ---- MaxUnpool ---- */

static kiln_status unpool_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    return pool_prepare_kind(n, params, POOL_MAX);
}

static kiln_status unpool_run(kiln_kctx *k) {
    const pool_params *pp = k->params;
    const conv_attrs *a = &pp->a;
    const kiln_tensor *x, *ind, *oshape = kiln_kin(k, 2);
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &ind));
    char sx[256], si[256];
    int nsp = x->rank - 2;
    KILN_FAIL_IF(nsp < 1 || ind->rank != x->rank || kiln_tensor_numel(ind) != kiln_tensor_numel(x), KILN_ERR_SHAPE,
                 "MaxUnpool: X %s and indices %s must have the same shape [N, C, spatial...]",
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx), kiln_shape_str(ind->rank, ind->dims, si, sizeof si));
    KILN_FAIL_IF(ind->dtype != KILN_INT64, KILN_ERR_TYPE, "MaxUnpool: indices must be int64");
    KILN_FAIL_IF(a->n_k != nsp, KILN_ERR_INVALID_GRAPH, "MaxUnpool: kernel_shape has %d values for %d spatial dims",
                 a->n_k, nsp);
    /* Indices address the shape inferred from the pooling attributes; an explicit output_shape places that block
     * at its origin (as the reference evaluator does). */
    int64_t inf[KILN_MAX_DIMS] = {x->dims[0], x->dims[1]}, out[KILN_MAX_DIMS];
    for (int i = 0; i < nsp; i++) {
        int64_t s = a->n_s ? a->s[i] : 1, pads = a->n_p ? a->pads[i] + a->pads[nsp + i] : 0;
        inf[2 + i] = (x->dims[2 + i] - 1) * s - pads + a->k[i];
        KILN_FAIL_IF(inf[2 + i] < 0, KILN_ERR_SHAPE, "MaxUnpool: negative inferred output dim");
    }
    memcpy(out, inf, sizeof out);
    if (oshape) {
        KILN_FAIL_IF(oshape->rank != 1 || oshape->dims[0] != x->rank || !kiln_dtype_is_int(oshape->dtype),
                     KILN_ERR_SHAPE, "MaxUnpool: output_shape must be an integer vector of %d values", x->rank);
        for (int i = 0; i < x->rank; i++) out[i] = kiln_load_i64(oshape->dtype, oshape->data, i);
        for (int i = 0; i < x->rank; i++)
            KILN_FAIL_IF(out[i] < inf[i], KILN_ERR_SHAPE,
                         "MaxUnpool: output_shape dim %d (%lld) is smaller than the inferred %lld", i,
                         (long long)out[i], (long long)inf[i]);
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, out, &y));
    size_t es = kiln_dtype_size(x->dtype);
    int64_t ny = kiln_tensor_numel(y), ninf = kiln_numel(x->rank, inf), nx = kiln_tensor_numel(x);
    memset(y->data, 0, es * (size_t)ny);
    const int64_t *iv = ind->data;
    for (int64_t i = 0; i < nx; i++) {
        int64_t idx = iv[i];
        KILN_FAIL_IF(idx < 0 || idx >= ninf, KILN_ERR_RUNTIME, "MaxUnpool: index %lld at %lld is out of range [0, %lld)",
                     (long long)idx, (long long)i, (long long)ninf);
        int64_t o = 0, rem = idx, mul = 1;
        for (int d = x->rank - 1; d >= 0; d--) {
            o += (rem % inf[d]) * mul;
            rem /= inf[d];
            mul *= out[d];
        }
        memcpy((char *)y->data + es * (size_t)o, (const char *)x->data + es * (size_t)i, es);
    }
    return KILN_OK;
}

/* ---- LRN ---- */

typedef struct lrn_params {
    double alpha, beta, bias;
    int64_t size;
} lrn_params;

static kiln_status lrn_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    lrn_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->alpha = kiln_attr_float(n, "alpha", 1e-4f);
    p->beta = kiln_attr_float(n, "beta", 0.75f);
    p->bias = kiln_attr_float(n, "bias", 1.0f);
    p->size = kiln_attr_int(n, "size", 0);
    if (p->size < 1) {
        free(p);
        return kiln_error(KILN_ERR_INVALID_GRAPH, "LRN needs a positive 'size' attribute");
    }
    *params = p;
    return KILN_OK;
}

typedef struct lrn_job {
    const lrn_params *p;
    const double *x;
    double *y;
    int64_t c, plane;
} lrn_job;

static void lrn_range(void *ctx, int64_t t0, int64_t t1) {
    const lrn_job *j = ctx;
    const int64_t lo_off = (j->p->size - 1) / 2, hi_off = j->p->size - 1 - lo_off;
    const double scale = j->p->alpha / (double)j->p->size;
    for (int64_t t = t0; t < t1; t++) { /* t = (n, c) */
        int64_t n = t / j->c, c = t % j->c;
        int64_t c0 = c - lo_off < 0 ? 0 : c - lo_off, c1 = c + hi_off >= j->c ? j->c - 1 : c + hi_off;
        const double *xn = j->x + n * j->c * j->plane;
        double *y = j->y + t * j->plane;
        for (int64_t i = 0; i < j->plane; i++) {
            double ss = 0;
            for (int64_t q = c0; q <= c1; q++) ss += xn[q * j->plane + i] * xn[q * j->plane + i];
            y[i] = xn[c * j->plane + i] / pow(j->p->bias + scale * ss, j->p->beta);
        }
    }
}

static kiln_status lrn_run(kiln_kctx *k) {
    const lrn_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    char sx[256];
    KILN_FAIL_IF(x->rank < 2, KILN_ERR_SHAPE, "LRN: input %s must be [N, C, ...]",
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx));
    KILN_FAIL_IF(x->dtype != KILN_FLOAT && x->dtype != KILN_DOUBLE && !lin_is_half(x->dtype), KILN_ERR_TYPE,
                 "LRN does not support dtype %s", kiln_dtype_name(x->dtype));
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t n = kiln_tensor_numel(x), plane = 1;
    for (int i = 2; i < x->rank; i++) plane *= x->dims[i];
    double *dx = malloc(sizeof(double) * (size_t)(n + 1)), *dy = malloc(sizeof(double) * (size_t)(n + 1));
    if (!dx || !dy) {
        free(dx);
        free(dy);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int64_t i = 0; i < n; i++) dx[i] = kiln_load_f64(x->dtype, x->data, i);
    lrn_job j = {p, dx, dy, x->dims[1], plane};
    int64_t work = plane * p->size;
    kiln_parallel_for(x->dims[0] * x->dims[1], work >= 8192 ? 1 : 8192 / (work ? work : 1), lrn_range, &j);
    for (int64_t i = 0; i < n; i++) kiln_store_f64(x->dtype, y->data, i, dy[i]);
    free(dx);
    free(dy);
    return KILN_OK;
}

const kiln_op_def kiln_cpu_ops_pool[] = {
    {"MaxPool", "", 1, max_prepare, free, pool_run},
    {"AveragePool", "", 1, avg_prepare, free, pool_run},
    {"LpPool", "", 1, lp_prepare, free, pool_run},
    {"GlobalMaxPool", "", 1, gmax_prepare, free, global_run},
    {"GlobalAveragePool", "", 1, gavg_prepare, free, global_run},
    {"GlobalLpPool", "", 1, glp_prepare, free, global_run},
    {"MaxUnpool", "", 9, unpool_prepare, free, unpool_run},
    {"LRN", "", 1, lrn_prepare, free, lrn_run},
    {0},
};
