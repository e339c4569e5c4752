/* CPU kernels of the norm family: LayerNormalization and RMSNormalization (table in norm.c).
 *
 * Both normalize the contiguous tail X.shape[axis:], so X is a (rows, cols) matrix and each row is one task:
 * one pass for the statistics, one for the output, rows spread over threads. fp16/bf16 and stash_type = 1
 * compute in float; double inputs (or stash_type = 11) compute in double. */
#include <math.h>
#include <stdlib.h>

#include "backends/cpu/norm-common.h"
#include "backends/cpu/reduce-common.h"
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

typedef struct ln_params {
    int64_t axis;
    double eps;
    int rms;
    int stash_double;
} ln_params;

kiln_status kn_layer_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    ln_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->axis = kiln_attr_int(node, "axis", -1);
    p->eps = kiln_attr_float(node, "epsilon", 1e-5f);
    p->rms = !strcmp(node->op_type, "RMSNormalization");
    p->stash_double = kiln_attr_int(node, "stash_type", 1) == KILN_DOUBLE;
    *params = p;
    return KILN_OK;
}

typedef struct ln_job {
    const void *x;
    void *y;
    int64_t cols;
    double eps;
    int rms, per_row;
    const void *scale, *bias; /* cols values each, or rows * cols when per_row */
    double *mean, *inv;       /* per row, or NULL when not wanted */
} ln_job;

#define DEF_LN_RANGE(NS, NT)                                                                                     \
    static void ln_range_##NS(void *ctx, int64_t b, int64_t e) {                                                 \
        const ln_job *j = ctx;                                                                                   \
        int64_t n = j->cols;                                                                                     \
        for (int64_t r = b; r < e; r++) {                                                                        \
            const NT *x = (const NT *)j->x + r * n;                                                              \
            NT *y = (NT *)j->y + r * n;                                                                          \
            int64_t po = j->per_row ? r * n : 0;                                                                 \
            const NT *sc = (const NT *)j->scale + po, *bi = j->bias ? (const NT *)j->bias + po : NULL;           \
            double mean = 0, var;                                                                                \
            if (j->rms) var = row_msq_##NS(x, n);                                                                \
            else row_stats_##NS(x, n, &mean, &var);                                                              \
            double inv = 1.0 / sqrt(var + j->eps);                                                               \
            scale_shift_##NS(x, y, n, (NT)mean, (NT)inv, sc, bi);                                                \
            if (j->mean) j->mean[r] = mean;                                                                      \
            if (j->inv) j->inv[r] = inv;                                                                         \
        }                                                                                                        \
    }
DEF_LN_RANGE(f32, float)
DEF_LN_RANGE(f64, double)

/* Mean / InvStdDev dtype: the declared one, else double for double input and float otherwise. */
static kiln_dtype stat_dtype(const kiln_kctx *k, int i, kiln_dtype xt) {
    kiln_dtype d = kn_declared_dtype(k, i);
    if (d == KILN_FLOAT || d == KILN_DOUBLE || d == KILN_FLOAT16 || d == KILN_BFLOAT16) return d;
    return xt == KILN_DOUBLE ? KILN_DOUBLE : KILN_FLOAT;
}

static int float_dtype(kiln_dtype dt) { return kr_is_f32ish(dt) || dt == KILN_DOUBLE; }

kiln_status kn_layer_run(kiln_kctx *k) {
    const ln_params *p = k->params;
    const char *op = p->rms ? "RMSNormalization" : "LayerNormalization";
    const kiln_tensor *x, *s, *b = p->rms ? NULL : kiln_kin(k, 2);
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &s));
    KILN_FAIL_IF(!float_dtype(x->dtype), KILN_ERR_UNSUPPORTED, "%s does not support %s input", op,
                 kiln_dtype_name(x->dtype));
    /* RMSNormalization's output takes the scale's type (V); LayerNormalization's the input's. */
    kiln_dtype yt = p->rms ? s->dtype : x->dtype;
    KILN_FAIL_IF(!float_dtype(yt), KILN_ERR_UNSUPPORTED, "%s does not support %s scale", op, kiln_dtype_name(yt));
    int axis;
    KILN_TRY(kr_axis(p->axis, x->rank, "axis", &axis));
    int64_t rows = kr_prod(x->dims, 0, axis), cols = kr_prod(x->dims, axis, x->rank), numel = rows * cols;
    int dbl = x->dtype == KILN_DOUBLE || yt == KILN_DOUBLE || p->stash_double;

    kiln_tensor *y, *mo = NULL, *io = NULL;
    KILN_TRY(kiln_kout(k, 0, yt, x->rank, x->dims, &y));
    int64_t sd[KILN_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) sd[d] = d < axis ? x->dims[d] : 1;
    if (!p->rms && kn_has_output(k, 1)) KILN_TRY(kiln_kout(k, 1, stat_dtype(k, 1, x->dtype), x->rank, sd, &mo));
    if (!p->rms && kn_has_output(k, 2)) KILN_TRY(kiln_kout(k, 2, stat_dtype(k, 2, x->dtype), x->rank, sd, &io));
    if (rows == 0) return KILN_OK;
    if (cols == 0) { /* statistics of an empty set */
        for (int64_t r = 0; mo && r < rows; r++) kiln_store_f64(mo->dtype, mo->data, r, NAN);
        for (int64_t r = 0; io && r < rows; r++) kiln_store_f64(io->dtype, io->data, r, NAN);
        return KILN_OK;
    }

    ln_job j = {NULL, NULL, cols, p->eps, p->rms, 0, NULL, NULL, NULL, NULL};
    void *sbuf = NULL, *bbuf = NULL, *xbuf = NULL, *ybuf = NULL;
    kiln_status st = kn_param_load(s, x, axis, "Scale (input 1)", dbl, &sbuf, &j.per_row);
    if (st == KILN_OK && b) {
        int bias_per_row = 0;
        st = kn_param_load(b, x, axis, "B (input 2)", dbl, &bbuf, &bias_per_row);
        if (st == KILN_OK && bias_per_row != j.per_row) {
            /* One indexing scheme for both: reload the per-column one over all of X. */
            int all;
            if (j.per_row) {
                free(bbuf);
                bbuf = NULL;
                st = kn_param_load(b, x, 0, "B (input 2)", dbl, &bbuf, &all);
            } else {
                free(sbuf);
                sbuf = NULL;
                st = kn_param_load(s, x, 0, "Scale (input 1)", dbl, &sbuf, &all);
                j.per_row = 1;
            }
        }
    }
    if (st == KILN_OK && (mo || io)) {
        j.mean = malloc(sizeof(double) * (size_t)rows);
        j.inv = malloc(sizeof(double) * (size_t)rows);
        if (!j.mean || !j.inv) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    }
    if (st == KILN_OK) {
        j.scale = sbuf;
        j.bias = bbuf;
        size_t esz = dbl ? sizeof(double) : sizeof(float);
        kiln_dtype work = dbl ? KILN_DOUBLE : KILN_FLOAT;
        j.x = x->data;
        j.y = y->data;
        if (x->dtype != work) {
            j.x = xbuf = malloc(esz * (size_t)numel);
            for (int64_t i = 0; xbuf && i < numel; i++) {
                double v = kiln_load_f64(x->dtype, x->data, i);
                if (dbl) ((double *)xbuf)[i] = v;
                else ((float *)xbuf)[i] = (float)v;
            }
        }
        if (yt != work) j.y = ybuf = malloc(esz * (size_t)numel);
        if ((x->dtype != work && !xbuf) || (yt != work && !ybuf)) {
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory (%lld elements)", op, (long long)numel);
        } else {
            int64_t grain = 16384 / cols;
            kiln_parallel_for(rows, grain > 0 ? grain : 1, dbl ? ln_range_f64 : ln_range_f32, &j);
            if (ybuf && dbl)
                for (int64_t i = 0; i < numel; i++) kiln_store_f64(yt, y->data, i, ((double *)ybuf)[i]);
            else if (ybuf)
                kr_float_store(yt, y->data, ybuf, numel);
            for (int64_t r = 0; mo && r < rows; r++) kiln_store_f64(mo->dtype, mo->data, r, j.mean[r]);
            for (int64_t r = 0; io && r < rows; r++) kiln_store_f64(io->dtype, io->data, r, j.inv[r]);
        }
    }
    free(sbuf);
    free(bbuf);
    free(xbuf);
    free(ybuf);
    free(j.mean);
    free(j.inv);
    return st;
}
