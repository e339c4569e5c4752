/* CPU kernels: norm family (see registry.h). This file holds the family table, BatchNormalization,
 * InstanceNormalization, GroupNormalization, LpNormalization and MeanVarianceNormalization; LayerNormalization
 * and RMSNormalization live in norm-layer.c.
 *
 * The channel norms view X (N, C, spatial...) as rows of contiguous spatial runs: BatchNormalization applies a
 * per-channel affine map to each (n, c) row, Instance/GroupNormalization normalize each (n, group) row (a
 * group is C / num_groups consecutive channels, so its elements are contiguous) and then scale per channel. */
#include <math.h>
#include <stdlib.h>

#include "backends/cpu/norm-common.h"
#include "backends/cpu/reduce-common.h"
#include "backends/cpu/registry.h"
#include "core/parallel.h"

#define NT float
#define NS f32
#define NFAST 1
#include "backends/cpu/norm-core.h"
#undef NT
#undef NS
#undef NFAST
#define NT double
#define NS f64
#define NFAST 0
#include "backends/cpu/norm-core.h"
#undef NT
#undef NS
#undef NFAST

typedef enum norm_kind { NK_BATCH, NK_INSTANCE, NK_GROUP, NK_LP, NK_MVN } norm_kind;

typedef struct norm_params {
    norm_kind kind;
    double eps, momentum;
    int training;              /* BatchNormalization training_mode */
    int64_t num_groups;
    int group_scale_per_group; /* GroupNormalization before opset 21: scale/bias per group */
    int64_t axis, p;           /* LpNormalization */
    int n_axes;                /* MeanVarianceNormalization */
    int64_t axes[KILN_MAX_DIMS];
} norm_params;

static kiln_status norm_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    norm_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    const char *op = node->op_type;
    p->kind = !strcmp(op, "BatchNormalization")      ? NK_BATCH
              : !strcmp(op, "InstanceNormalization") ? NK_INSTANCE
              : !strcmp(op, "GroupNormalization")    ? NK_GROUP
              : !strcmp(op, "LpNormalization")       ? NK_LP
                                                     : NK_MVN;
    p->eps = kiln_attr_float(node, "epsilon", 1e-5f);
    p->momentum = kiln_attr_float(node, "momentum", 0.9f);
    p->training = kiln_attr_int(node, "training_mode", 0) != 0;
    p->num_groups = kiln_attr_int(node, "num_groups", 0);
    p->group_scale_per_group = node->opset > 0 && node->opset < 21;
    p->axis = kiln_attr_int(node, "axis", -1);
    p->p = kiln_attr_int(node, "p", 2);
    kiln_status st = KILN_OK;
    if (p->kind == NK_GROUP && (!kiln_node_attr(node, "num_groups") || p->num_groups <= 0))
        st = kiln_error(KILN_ERR_INVALID_GRAPH, "GroupNormalization needs a positive num_groups attribute");
    if (p->kind == NK_LP && p->p != 1 && p->p != 2)
        st = kiln_error(KILN_ERR_UNSUPPORTED, "LpNormalization supports p = 1 or 2, got %lld", (long long)p->p);
    if (p->kind == NK_MVN) {
        int n = 0;
        const int64_t *axes = kiln_attr_ints(node, "axes", &n);
        if (!kiln_node_attr(node, "axes")) {
            static const int64_t def[] = {0, 2, 3};
            axes = def;
            n = 3;
        }
        if (n > KILN_MAX_DIMS) st = kiln_error(KILN_ERR_INVALID_GRAPH, "MeanVarianceNormalization: too many axes");
        else memcpy(p->axes, axes, sizeof(int64_t) * (size_t)n), p->n_axes = n;
    }
    if (st != KILN_OK) {
        free(p);
        return st;
    }
    *params = p;
    return KILN_OK;
}

static int float_dtype(kiln_dtype dt) { return kr_is_f32ish(dt) || dt == KILN_DOUBLE; }

/* A float (or double) working copy of X and an output buffer in the same type: the tensors' own storage when X
 * already has the working type. */
typedef struct work_io {
    const void *x;
    void *y;
    void *xbuf, *ybuf;
    int dbl;
} work_io;

static kiln_status work_begin(const kiln_tensor *x, kiln_tensor *y, int64_t n, work_io *w) {
    memset(w, 0, sizeof *w);
    w->dbl = x->dtype == KILN_DOUBLE;
    w->x = x->data;
    w->y = y->data;
    if (x->dtype == KILN_FLOAT16 || x->dtype == KILN_BFLOAT16) {
        float *xo = NULL;
        w->x = kr_float_view(x, n, &xo);
        w->xbuf = xo;
        w->y = w->ybuf = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
        if (!w->x || !w->ybuf) {
            free(w->xbuf);
            free(w->ybuf);
            return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory (%lld elements)", (long long)n);
        }
    }
    return KILN_OK;
}

static void work_end(work_io *w, kiln_tensor *y, int64_t n) {
    if (w->ybuf) kr_float_store(y->dtype, y->data, w->ybuf, n);
    free(w->xbuf);
    free(w->ybuf);
}

/* ---- BatchNormalization ---- */

typedef struct bn_job {
    const void *x;
    void *y;
    int64_t N, C, S;
    const double *a, *b;  /* y = x * a[c] + b[c] */
    double *mean, *var;   /* training statistics per channel */
} bn_job;

#define DEF_BN(NS, NT)                                                                                           \
    static void bn_apply_##NS(void *ctx, int64_t b, int64_t e) {                                                 \
        const bn_job *j = ctx;                                                                                   \
        for (int64_t r = b; r < e; r++) {                                                                        \
            int64_t c = r % j->C;                                                                                \
            affine_##NS((const NT *)j->x + r * j->S, (NT *)j->y + r * j->S, j->S, (NT)j->a[c], (NT)j->b[c]);     \
        }                                                                                                        \
    }                                                                                                            \
    /* Per channel: combine the rows' means and variances (equal counts) into the batch's. */                   \
    static void bn_stats_##NS(void *ctx, int64_t b, int64_t e) {                                                 \
        const bn_job *j = ctx;                                                                                   \
        int64_t N = j->N;                                                                                        \
        for (int64_t c = b; c < e; c++) {                                                                        \
            double sm = 0, sv = 0, smm = 0;                                                                      \
            for (int64_t n = 0; n < N; n++) {                                                                    \
                double m, v;                                                                                     \
                row_stats_##NS((const NT *)j->x + (n * j->C + c) * j->S, j->S, &m, &v);                          \
                sm += m, sv += v, smm += m * m;                                                                  \
            }                                                                                                    \
            double mean = sm / (double)N, var = sv / (double)N + smm / (double)N - mean * mean;                  \
            j->mean[c] = mean;                                                                                   \
            j->var[c] = var > 0 ? var : 0;                                                                       \
        }                                                                                                        \
    }
DEF_BN(f32, float)
DEF_BN(f64, double)

static kiln_status bn_run(kiln_kctx *k, const norm_params *p) {
    static const char *const names[] = {"scale (input 1)", "B (input 2)", "input_mean (input 3)",
                                        "input_var (input 4)"};
    const kiln_tensor *x, *in[4];
    KILN_TRY(kiln_kin_req(k, 0, &x));
    for (int i = 0; i < 4; i++) KILN_TRY(kiln_kin_req(k, i + 1, &in[i]));
    KILN_FAIL_IF(!float_dtype(x->dtype), KILN_ERR_UNSUPPORTED, "BatchNormalization does not support %s input",
                 kiln_dtype_name(x->dtype));
    KILN_FAIL_IF(x->rank < 2, KILN_ERR_SHAPE, "BatchNormalization input must be (N, C, ...), got rank %d", x->rank);
    int64_t N = x->dims[0], C = x->dims[1], S = kr_prod(x->dims, 2, x->rank), numel = N * C * S;
    /* Opset 14+: training_mode outputs running mean / var. Before: optional outputs mean, var, saved_mean,
     * saved_var, while Y always uses the given statistics. */
    int want_stats = p->training;
    for (int i = 1; i < k->n_out; i++) want_stats |= kn_has_output(k, i);
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    double *prm[4] = {0}, *a = NULL, *b = NULL, *bm = NULL, *bv = NULL;
    kiln_status st = KILN_OK;
    for (int i = 0; i < 4 && st == KILN_OK; i++) st = kn_channel_load(in[i], C, names[i], &prm[i]);
    if (st == KILN_OK) {
        a = malloc(sizeof(double) * (size_t)(C + 1));
        b = malloc(sizeof(double) * (size_t)(C + 1));
        bm = malloc(sizeof(double) * (size_t)(C + 1));
        bv = malloc(sizeof(double) * (size_t)(C + 1));
        if (!a || !b || !bm || !bv) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    work_io w;
    int have_io = 0;
    if (st == KILN_OK) {
        st = work_begin(x, y, numel, &w);
        have_io = st == KILN_OK;
    }
    if (st == KILN_OK) {
        bn_job j = {w.x, w.y, N, C, S, a, b, bm, bv};
        if (want_stats && numel > 0) {
            int64_t grain = 16384 / (N * S > 0 ? N * S : 1);
            kiln_parallel_for(C, grain > 0 ? grain : 1, w.dbl ? bn_stats_f64 : bn_stats_f32, &j);
        } else {
            for (int64_t c = 0; c < C; c++) bm[c] = NAN, bv[c] = NAN;
        }
        const double *um = p->training ? bm : prm[2], *uv = p->training ? bv : prm[3];
        for (int64_t c = 0; c < C; c++) {
            a[c] = prm[0][c] / sqrt(uv[c] + p->eps);
            b[c] = prm[1][c] - um[c] * a[c];
        }
        if (numel > 0) {
            int64_t grain = 16384 / (S > 0 ? S : 1);
            kiln_parallel_for(N * C, grain > 0 ? grain : 1, w.dbl ? bn_apply_f64 : bn_apply_f32, &j);
        }
        work_end(&w, y, numel);
        have_io = 0;
        /* Extra outputs: 1 and 2 are the running statistics; (before opset 14) 3 and 4 the batch's. */
        for (int i = 1; i < k->n_out && i <= 4 && st == KILN_OK; i++) {
            if (!kn_has_output(k, i)) continue;
            kiln_tensor *o;
            int64_t cd[1] = {C};
            kiln_dtype ot = in[i <= 2 ? i + 1 : 2]->dtype;
            st = kiln_kout(k, i, ot, 1, cd, &o);
            for (int64_t c = 0; c < C && st == KILN_OK; c++) {
                double v;
                if (i == 1) v = prm[2][c] * p->momentum + bm[c] * (1 - p->momentum);
                else if (i == 2) v = prm[3][c] * p->momentum + bv[c] * (1 - p->momentum);
                else v = i == 3 ? bm[c] : bv[c];
                kiln_store_f64(ot, o->data, c, v);
            }
        }
    }
    if (have_io) work_end(&w, y, 0);
    for (int i = 0; i < 4; i++) free(prm[i]);
    free(a);
    free(b);
    free(bm);
    free(bv);
    return st;
}

/* ---- InstanceNormalization / GroupNormalization ---- */

typedef struct gn_job {
    const void *x;
    void *y;
    int64_t G, cpg, S; /* groups, channels per group, spatial size */
    double eps;
    const double *scale, *bias;
    int per_group;
} gn_job;

#define DEF_GN(NS, NT)                                                                                           \
    static void gn_range_##NS(void *ctx, int64_t b, int64_t e) {                                                 \
        const gn_job *j = ctx;                                                                                   \
        int64_t len = j->cpg * j->S;                                                                             \
        for (int64_t r = b; r < e; r++) {                                                                        \
            int64_t g = r % j->G;                                                                                \
            const NT *xr = (const NT *)j->x + r * len;                                                           \
            NT *yr = (NT *)j->y + r * len;                                                                       \
            double m, v;                                                                                         \
            row_stats_##NS(xr, len, &m, &v);                                                                     \
            double inv = 1.0 / sqrt(v + j->eps);                                                                 \
            for (int64_t ci = 0; ci < j->cpg; ci++) {                                                            \
                int64_t si = j->per_group ? g : g * j->cpg + ci;                                                 \
                center_affine_##NS(xr + ci * j->S, yr + ci * j->S, j->S, (NT)m, (NT)(inv * j->scale[si]),        \
                                   (NT)j->bias[si]);                                                             \
            }                                                                                                    \
        }                                                                                                        \
    }
DEF_GN(f32, float)
DEF_GN(f64, double)

static kiln_status gn_run(kiln_kctx *k, const norm_params *p) {
    const char *op = p->kind == NK_GROUP ? "GroupNormalization" : "InstanceNormalization";
    const kiln_tensor *x, *s, *b;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &s));
    KILN_TRY(kiln_kin_req(k, 2, &b));
    KILN_FAIL_IF(!float_dtype(x->dtype), KILN_ERR_UNSUPPORTED, "%s does not support %s input", op,
                 kiln_dtype_name(x->dtype));
    KILN_FAIL_IF(x->rank < 2, KILN_ERR_SHAPE, "%s input must be (N, C, ...), got rank %d", op, x->rank);
    int64_t N = x->dims[0], C = x->dims[1], S = kr_prod(x->dims, 2, x->rank), numel = N * C * S;
    int64_t G = p->kind == NK_GROUP ? p->num_groups : C;
    KILN_FAIL_IF(G <= 0 || C % G != 0, KILN_ERR_SHAPE, "%s: %lld channels do not split into %lld groups", op,
                 (long long)C, (long long)G);
    /* Scale and bias are per channel, except GroupNormalization-18's, which are per group. */
    int64_t ns = kiln_tensor_numel(s);
    int per_group = p->kind == NK_GROUP && ns == G && (ns != C || p->group_scale_per_group);
    int64_t np = per_group ? G : C;
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    double *sc = NULL, *bi = NULL;
    kiln_status st = kn_channel_load(s, np, "scale (input 1)", &sc);
    if (st == KILN_OK) st = kn_channel_load(b, np, "bias (input 2)", &bi);
    work_io w;
    if (st == KILN_OK && numel > 0) st = work_begin(x, y, numel, &w);
    if (st == KILN_OK && numel > 0) {
        gn_job j = {w.x, w.y, G, C / G, S, p->eps, sc, bi, per_group};
        int64_t grain = 16384 / (C / G * S);
        kiln_parallel_for(N * G, grain > 0 ? grain : 1, w.dbl ? gn_range_f64 : gn_range_f32, &j);
        work_end(&w, y, numel);
    }
    free(sc);
    free(bi);
    return st;
}

/* ---- LpNormalization ---- */

static kiln_status lp_run(kiln_kctx *k, const norm_params *p) {
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(!float_dtype(x->dtype), KILN_ERR_UNSUPPORTED, "LpNormalization does not support %s input",
                 kiln_dtype_name(x->dtype));
    int axis;
    KILN_TRY(kr_axis(p->axis, x->rank, "axis", &axis));
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t outer = kr_prod(x->dims, 0, axis), n = x->dims[axis], inner = kr_prod(x->dims, axis + 1, x->rank);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * n * inner + i;
            double s = 0;
            for (int64_t q = 0; q < n; q++) {
                double v = kiln_load_f64(x->dtype, x->data, base + q * inner);
                s += p->p == 1 ? fabs(v) : v * v;
            }
            double norm = p->p == 1 ? s : sqrt(s);
            for (int64_t q = 0; q < n; q++) {
                double v = kiln_load_f64(x->dtype, x->data, base + q * inner);
                kiln_store_f64(y->dtype, y->data, base + q * inner, norm == 0 ? 0.0 : v / norm);
            }
        }
    return KILN_OK;
}

/* ---- MeanVarianceNormalization: (X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9) over `axes` ---- */

static kiln_status mvn_run(kiln_kctx *k, const norm_params *p) {
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(!float_dtype(x->dtype), KILN_ERR_UNSUPPORTED, "MeanVarianceNormalization does not support %s input",
                 kiln_dtype_name(x->dtype));
    int red[KILN_MAX_DIMS] = {0};
    for (int i = 0; i < p->n_axes; i++) {
        int a;
        KILN_TRY(kr_axis(p->axes[i], x->rank, "axes entry", &a));
        red[a] = 1;
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t numel = kiln_tensor_numel(x);
    if (numel == 0) return KILN_OK;
    /* Statistics are indexed by the kept dims: stride 0 along reduced dims. */
    int64_t sst[KILN_MAX_DIMS], ns = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        sst[d] = red[d] ? 0 : ns;
        if (!red[d]) ns *= x->dims[d];
    }
    double cnt = (double)(numel / ns);
    double *st = calloc((size_t)ns * 2, sizeof(double));
    KILN_FAIL_IF(!st, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int pass = 0; pass < 2; pass++) {
        int64_t idx[KILN_MAX_DIMS] = {0}, so = 0;
        for (int64_t i = 0; i < numel; i++) {
            double v = kiln_load_f64(x->dtype, x->data, i);
            if (pass == 0) {
                st[2 * so] += v;
                st[2 * so + 1] += v * v;
            } else {
                kiln_store_f64(y->dtype, y->data, i, (v - st[2 * so]) / (st[2 * so + 1] + 1e-9));
            }
            for (int d = x->rank - 1; d >= 0; d--) {
                so += sst[d];
                if (++idx[d] < x->dims[d]) break;
                so -= sst[d] * x->dims[d];
                idx[d] = 0;
            }
        }
        for (int64_t s = 0; pass == 0 && s < ns; s++) {
            double m = st[2 * s] / cnt, var = st[2 * s + 1] / cnt - m * m;
            st[2 * s] = m;
            st[2 * s + 1] = sqrt(var > 0 ? var : 0);
        }
    }
    free(st);
    return KILN_OK;
}

static kiln_status norm_run(kiln_kctx *k) {
    const norm_params *p = k->params;
    switch (p->kind) {
    case NK_BATCH: return bn_run(k, p);
    case NK_INSTANCE: case NK_GROUP: return gn_run(k, p);
    case NK_LP: return lp_run(k, p);
    default: return mvn_run(k, p);
    }
}

const kiln_op_def kiln_cpu_ops_norm[] = {
    {"BatchNormalization", "", 1, norm_prepare, free, norm_run},
    {"InstanceNormalization", "", 1, norm_prepare, free, norm_run},
    {"GroupNormalization", "", 18, norm_prepare, free, norm_run},
    {"LpNormalization", "", 1, norm_prepare, free, norm_run},
    {"MeanVarianceNormalization", "", 1, norm_prepare, free, norm_run},
    {"LayerNormalization", "", 17, kn_layer_prepare, free, kn_layer_run},
    {"RMSNormalization", "", 23, kn_layer_prepare, free, kn_layer_run},
    {0},
};
