/* CPU kernels: attention family (Attention, RotaryEmbedding, SwiGLU, TensorScatter, LinearAttention,
 * CausalConvWithState, FlexAttention; see registry.h).
 *
 * These are reference kernels: inputs are widened to double, computed, and narrowed to the input dtype, which
 * keeps float16/bfloat16/float/double on one code path. The fast paths for transformer inference belong to the
 * fused GPU kernels; on the CPU, exported models mostly spell attention out as MatMul/Softmax anyway. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/attention-internal.h"
#include "backends/cpu/registry.h"
#include "core/dtype.h"

static int float_like(kiln_dtype t) {
    return t == KILN_FLOAT || t == KILN_DOUBLE || t == KILN_FLOAT16 || t == KILN_BFLOAT16;
}

static double *load_all(const kiln_tensor *t) {
    int64_t n = kiln_tensor_numel(t);
    double *d = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!d) return NULL;
    for (int64_t i = 0; i < n; i++) d[i] = kiln_load_f64(t->dtype, t->data, i);
    return d;
}

/* ---------------------------------------------------------------- Attention ---------------------------------- */

typedef attn_attrs attn_params;

kiln_status attn_attrs_parse(const kiln_node *n, attn_attrs *a) {
    memset(a, 0, sizeof *a);
    const kiln_attr *s = kiln_node_attr(n, "scale");
    a->has_scale = s != NULL;
    a->scale = s ? s->f : 0;
    a->is_causal = (int)kiln_attr_int(n, "is_causal", 0);
    a->q_heads = kiln_attr_int(n, "q_num_heads", 0);
    a->kv_heads = kiln_attr_int(n, "kv_num_heads", 0);
    a->softcap = kiln_attr_float(n, "softcap", 0);
    a->qk_mode = (int)kiln_attr_int(n, "qk_matmul_output_mode", 0);
    a->left_window = kiln_attr_int(n, "left_window_size", -1);
    a->right_window = kiln_attr_int(n, "right_window_size", -1);
    KILN_FAIL_IF(a->qk_mode < 0 || a->qk_mode > 3, KILN_ERR_INVALID_GRAPH,
                 "Attention: qk_matmul_output_mode %d is not 0..3", a->qk_mode);
    return KILN_OK;
}

static kiln_status attn_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    attn_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    return attn_attrs_parse(n, p);
}

/* A [B, H, S, D] view of a 3-D [B, S, H*D] or 4-D [B, H, S, D] input. */
typedef struct bhsd {
    const double *d;
    int64_t b, h, s, dim;
    int from3d;
} bhsd;

static double bhsd_at(const bhsd *t, int64_t b, int64_t h, int64_t s, int64_t d) {
    if (t->from3d) return t->d[((b * t->s + s) * t->h + h) * t->dim + d];
    return t->d[((b * t->h + h) * t->s + s) * t->dim + d];
}

static kiln_status make_bhsd(const kiln_tensor *t, const double *d, int64_t heads, const char *what, bhsd *out) {
    out->d = d;
    out->b = t->dims[0];
    if (t->rank == 3) {
        KILN_FAIL_IF(heads <= 0, KILN_ERR_INVALID_GRAPH, "3-D Attention input %s needs q_num_heads/kv_num_heads", what);
        KILN_FAIL_IF(t->dims[2] % heads, KILN_ERR_SHAPE, "Attention %s hidden size %lld is not divisible by %lld heads",
                     what, (long long)t->dims[2], (long long)heads);
        out->s = t->dims[1];
        out->h = heads;
        out->dim = t->dims[2] / heads;
        out->from3d = 1;
    } else {
        KILN_FAIL_IF(t->rank != 4, KILN_ERR_SHAPE, "Attention %s must be 3-D or 4-D, got rank %d", what, t->rank);
        out->h = t->dims[1];
        out->s = t->dims[2];
        out->dim = t->dims[3];
        out->from3d = 0;
    }
    return KILN_OK;
}

/* Writes cache ‖ new along the sequence axis as a [B, H, S_past + S, D] tensor (present_key / present_value). */
static double *concat_cache(const kiln_tensor *past, const double *pd, const bhsd *cur, int64_t *total) {
    int64_t sp = past ? past->dims[2] : 0, st = sp + cur->s;
    double *o = malloc(sizeof(double) * (size_t)(cur->b * cur->h * st * cur->dim + 1));
    if (!o) return NULL;
    for (int64_t b = 0; b < cur->b; b++)
        for (int64_t h = 0; h < cur->h; h++)
            for (int64_t s = 0; s < st; s++)
                for (int64_t d = 0; d < cur->dim; d++)
                    o[((b * cur->h + h) * st + s) * cur->dim + d] =
                        s < sp ? pd[((b * cur->h + h) * sp + s) * cur->dim + d] : bhsd_at(cur, b, h, s - sp, d);
    *total = st;
    return o;
}

static kiln_status store_all(kiln_kctx *k, int idx, kiln_dtype dt, int rank, const int64_t *dims, const double *v) {
    if (idx >= k->n_out || k->node->out[idx] < 0) return KILN_OK;
    kiln_tensor *o;
    KILN_TRY(kiln_kout(k, idx, dt, rank, dims, &o));
    int64_t n = kiln_numel(rank, dims);
    for (int64_t i = 0; i < n; i++) kiln_store_f64(dt, o->data, i, v[i]);
    return KILN_OK;
}

static kiln_status attn_run(kiln_kctx *k) {
    const attn_params *p = k->params;
    const kiln_tensor *q, *kk, *v;
    KILN_TRY(kiln_kin_req(k, 0, &q));
    KILN_TRY(kiln_kin_req(k, 1, &kk));
    KILN_TRY(kiln_kin_req(k, 2, &v));
    const kiln_tensor *mask = kiln_kin(k, 3), *pk = kiln_kin(k, 4), *pv = kiln_kin(k, 5), *nonpad = kiln_kin(k, 6);
    KILN_FAIL_IF(!float_like(q->dtype), KILN_ERR_TYPE, "Attention Q dtype %s is not a float type",
                 kiln_dtype_name(q->dtype));
    KILN_FAIL_IF(q->rank != kk->rank || q->rank != v->rank, KILN_ERR_SHAPE, "Attention Q, K, V ranks differ");
    KILN_FAIL_IF(!pk != !pv, KILN_ERR_INVALID_GRAPH, "past_key and past_value must be given together");
    KILN_FAIL_IF(pk && nonpad, KILN_ERR_INVALID_GRAPH, "nonpad_kv_seqlen cannot be combined with a past cache");
    double *qd = load_all(q), *kd = load_all(kk), *vd = load_all(v);
    double *pkd = pk ? load_all(pk) : NULL, *pvd = pv ? load_all(pv) : NULL, *md = mask ? load_all(mask) : NULL;
    double *K = NULL, *V = NULL, *scores = NULL, *y = NULL, *qkout = NULL;
    kiln_status st = KILN_OK;
    if (!qd || !kd || !vd || (pk && (!pkd || !pvd)) || (mask && !md)) {
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    bhsd Q, Kc, Vc;
    if ((st = make_bhsd(q, qd, p->q_heads, "Q", &Q)) || (st = make_bhsd(kk, kd, p->kv_heads, "K", &Kc)) ||
        (st = make_bhsd(v, vd, p->kv_heads, "V", &Vc)))
        goto done;
    if (pk && (pk->rank != 4 || pk->dims[0] != Kc.b || pk->dims[1] != Kc.h || pk->dims[3] != Kc.dim ||
               pv->rank != 4 || pv->dims[0] != Vc.b || pv->dims[1] != Vc.h || pv->dims[3] != Vc.dim ||
               pv->dims[2] != pk->dims[2])) {
        st = kiln_error(KILN_ERR_SHAPE, "past_key/past_value shapes do not match K/V");
        goto done;
    }
    /* keys and values must have one sequence length: V is read at every key position (a mismatch read past V) */
    if (Kc.b != Q.b || Vc.b != Q.b || Kc.h != Vc.h || Kc.dim != Q.dim || Kc.s != Vc.s || Kc.h == 0 || Q.h % Kc.h) {
        st = kiln_error(KILN_ERR_SHAPE, "Attention: Q/K/V batch, heads, head sizes or key/value lengths are "
                        "inconsistent (q heads %lld, kv heads %lld, q head size %lld, k head size %lld, k length "
                        "%lld, v length %lld)", (long long)Q.h, (long long)Kc.h, (long long)Q.dim, (long long)Kc.dim,
                        (long long)Kc.s, (long long)Vc.s);
        goto done;
    }
    int64_t S_kv, S_v;
    K = concat_cache(pk, pkd, &Kc, &S_kv);
    V = concat_cache(pv, pvd, &Vc, &S_v);
    if (!K || !V) {
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    int64_t B = Q.b, Hq = Q.h, Hkv = Kc.h, Sq = Q.s, D = Q.dim, Dv = Vc.dim, past = pk ? pk->dims[2] : 0;
    double scale = p->has_scale ? p->scale : 1.0 / sqrt((double)D);
    /* the mask is right-aligned onto [B, Hq, Sq, kv]; its last dim may be shorter than kv (padded with -inf) */
    int64_t mdims[4] = {1, 1, 1, 1};
    if (mask) {
        if (mask->rank > 4 || mask->rank < 1) {
            st = kiln_error(KILN_ERR_SHAPE, "attn_mask rank %d is not 1..4", mask->rank);
            goto done;
        }
        for (int i = 0; i < mask->rank; i++) mdims[4 - mask->rank + i] = mask->dims[i];
        if ((mdims[0] != 1 && mdims[0] != B) || (mdims[1] != 1 && mdims[1] != Hq) || (mdims[2] != 1 && mdims[2] != Sq) ||
            mdims[3] > S_kv) {
            st = kiln_error(KILN_ERR_SHAPE, "attn_mask shape does not broadcast to [%lld,%lld,%lld,%lld]",
                            (long long)B, (long long)Hq, (long long)Sq, (long long)S_kv);
            goto done;
        }
    }
    if (nonpad && kiln_tensor_numel(nonpad) != B) {
        st = kiln_error(KILN_ERR_SHAPE, "nonpad_kv_seqlen must have one entry per batch (%lld)", (long long)B);
        goto done;
    }
    scores = malloc(sizeof(double) * (size_t)(S_kv + 1) * 2);
    y = calloc((size_t)(B * Hq * Sq * Dv + 1), sizeof(double));
    qkout = calloc((size_t)(B * Hq * Sq * S_kv + 1), sizeof(double));
    if (!scores || !y || !qkout) {
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    double *bias = scores + S_kv;
    for (int64_t b = 0; b < B; b++) {
        int64_t offset = past;
        if (nonpad) offset = kiln_load_i64(nonpad->dtype, nonpad->data, b) - Sq;
        int64_t npk = nonpad ? kiln_load_i64(nonpad->dtype, nonpad->data, b) : S_kv;
        for (int64_t h = 0; h < Hq; h++) {
            int64_t hk = h / (Hq / Hkv);
            for (int64_t i = 0; i < Sq; i++) {
                double bmax = -INFINITY;
                for (int64_t j = 0; j < S_kv; j++) {
                    double bv = 0;
                    if (mask) {
                        if (j >= mdims[3]) {
                            bv = -INFINITY;
                        } else {
                            int64_t mi = (((b % mdims[0]) * mdims[1] + (h % mdims[1])) * mdims[2] + (i % mdims[2])) *
                                             mdims[3] + j;
                            bv = mask->dtype == KILN_BOOL ? (md[mi] != 0 ? 0 : -INFINITY) : md[mi];
                        }
                    }
                    if (p->is_causal && j > i + offset) bv = -INFINITY;
                    int64_t diff = i + offset - j;
                    if (p->left_window >= 0 && diff > p->left_window) bv = -INFINITY;
                    if (p->right_window >= 0 && -diff > p->right_window) bv = -INFINITY;
                    if (j >= npk) bv = -INFINITY;
                    bias[j] = bv;
                    if (bv > bmax) bmax = bv;
                    double dot = 0;
                    for (int64_t d = 0; d < D; d++)
                        dot += bhsd_at(&Q, b, h, i, d) * K[((b * Hkv + hk) * S_kv + j) * D + d];
                    dot *= scale;
                    if (p->softcap > 0) dot = tanh(dot / p->softcap) * p->softcap;
                    scores[j] = dot;
                }
                double *qo = qkout + ((b * Hq + h) * Sq + i) * S_kv;
                double smax = -INFINITY;
                for (int64_t j = 0; j < S_kv; j++) {
                    if (p->qk_mode <= 1) qo[j] = scores[j];
                    scores[j] += bias[j];
                    if (p->qk_mode == 2) qo[j] = scores[j];
                    if (scores[j] > smax) smax = scores[j];
                }
                double *yo = y + ((b * Hq + h) * Sq + i) * Dv;
                if (bmax == -INFINITY) { /* fully masked row: no attendable key, output 0 */
                    if (p->qk_mode == 3)
                        for (int64_t j = 0; j < S_kv; j++) qo[j] = 0;
                    continue;
                }
                double sum = 0;
                for (int64_t j = 0; j < S_kv; j++) sum += scores[j] = exp(scores[j] - smax);
                for (int64_t j = 0; j < S_kv; j++) {
                    double pj = scores[j] / sum;
                    if (p->qk_mode == 3) qo[j] = pj;
                    for (int64_t d = 0; d < Dv; d++) yo[d] += pj * V[((b * Hkv + hk) * S_kv + j) * Dv + d];
                }
            }
        }
    }
    {
        int64_t dims[4];
        if (q->rank == 3) { /* back to [B, Sq, Hq*Dv] */
            double *t = malloc(sizeof(double) * (size_t)(B * Hq * Sq * Dv + 1));
            if (!t) {
                st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
                goto done;
            }
            for (int64_t b = 0; b < B; b++)
                for (int64_t h = 0; h < Hq; h++)
                    for (int64_t i = 0; i < Sq; i++)
                        for (int64_t d = 0; d < Dv; d++)
                            t[((b * Sq + i) * Hq + h) * Dv + d] = y[((b * Hq + h) * Sq + i) * Dv + d];
            dims[0] = B, dims[1] = Sq, dims[2] = Hq * Dv;
            st = store_all(k, 0, q->dtype, 3, dims, t);
            free(t);
        } else {
            dims[0] = B, dims[1] = Hq, dims[2] = Sq, dims[3] = Dv;
            st = store_all(k, 0, q->dtype, 4, dims, y);
        }
        int64_t kdims[4] = {B, Hkv, S_kv, D}, vdims[4] = {B, Hkv, S_v, Dv}, qdims[4] = {B, Hq, Sq, S_kv};
        if (st == KILN_OK) st = store_all(k, 1, kk->dtype, 4, kdims, K);
        if (st == KILN_OK) st = store_all(k, 2, v->dtype, 4, vdims, V);
        if (st == KILN_OK) st = store_all(k, 3, q->dtype, 4, qdims, qkout);
    }
done:
    free(qd), free(kd), free(vd), free(pkd), free(pvd), free(md);
    free(K), free(V), free(scores), free(y), free(qkout);
    return st;
}

/* ---------------------------------------------------------------- RotaryEmbedding ----------------------------- */

typedef struct rope_params {
    int interleaved;
    int64_t rot_dim, num_heads;
} rope_params;

static kiln_status rope_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    rope_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->interleaved = (int)kiln_attr_int(n, "interleaved", 0);
    p->rot_dim = kiln_attr_int(n, "rotary_embedding_dim", 0);
    p->num_heads = kiln_attr_int(n, "num_heads", 0);
    *out = p;
    return KILN_OK;
}

static kiln_status rope_run(kiln_kctx *k) {
    const rope_params *p = k->params;
    const kiln_tensor *x, *cs, *sn;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &cs));
    KILN_TRY(kiln_kin_req(k, 2, &sn));
    const kiln_tensor *pos = kiln_kin(k, 3);
    KILN_FAIL_IF(!float_like(x->dtype), KILN_ERR_TYPE, "RotaryEmbedding input must be a float type");
    KILN_FAIL_IF(x->rank != 3 && x->rank != 4, KILN_ERR_SHAPE, "RotaryEmbedding input must be 3-D or 4-D");
    /* logical layout [B, S, H, D]; 4-D inputs are [B, H, S, D] */
    int64_t B = x->dims[0], S, H, D;
    if (x->rank == 4) {
        H = x->dims[1], S = x->dims[2], D = x->dims[3];
    } else {
        KILN_FAIL_IF(p->num_heads <= 0 || x->dims[2] % p->num_heads, KILN_ERR_INVALID_GRAPH,
                     "3-D RotaryEmbedding input needs num_heads dividing the hidden size");
        S = x->dims[1], H = p->num_heads, D = x->dims[2] / H;
    }
    int64_t R = p->rot_dim ? p->rot_dim : D, half = R / 2;
    KILN_FAIL_IF(R > D || R % 2, KILN_ERR_INVALID_GRAPH, "rotary_embedding_dim %lld must be even and <= head size %lld",
                 (long long)R, (long long)D);
    KILN_FAIL_IF(cs->dims[cs->rank - 1] != half || sn->dims[sn->rank - 1] != half, KILN_ERR_SHAPE,
                 "cos/sin cache last dim must be rotary_embedding_dim/2 = %lld", (long long)half);
    int64_t cache_rows = cs->rank >= 2 ? cs->dims[cs->rank - 2] : 1;
    if (pos) KILN_FAIL_IF(kiln_tensor_numel(pos) != B * S, KILN_ERR_SHAPE, "position_ids must be [batch, seq]");
    else KILN_FAIL_IF(cs->rank != 3 || cs->dims[0] != B || cs->dims[1] != S, KILN_ERR_SHAPE,
                      "without position_ids the caches must be [batch, seq, dim/2]");
    kiln_tensor *o;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &o));
    for (int64_t b = 0; b < B; b++)
        for (int64_t s = 0; s < S; s++) {
            int64_t row;
            if (pos) {
                row = kiln_load_i64(pos->dtype, pos->data, b * S + s);
                KILN_FAIL_IF(row < 0 || row >= cache_rows, KILN_ERR_RUNTIME, "position id %lld outside the cache "
                             "(%lld rows)", (long long)row, (long long)cache_rows);
                row *= half;
            } else {
                row = (b * S + s) * half;
            }
            for (int64_t h = 0; h < H; h++) {
                int64_t base = x->rank == 4 ? ((b * H + h) * S + s) * D : ((b * S + s) * H + h) * D;
                for (int64_t i = 0; i < half; i++) {
                    int64_t i1 = p->interleaved ? 2 * i : i, i2 = p->interleaved ? 2 * i + 1 : i + half;
                    double c = kiln_load_f64(cs->dtype, cs->data, row + i), sv = kiln_load_f64(sn->dtype, sn->data, row + i);
                    double x1 = kiln_load_f64(x->dtype, x->data, base + i1), x2 = kiln_load_f64(x->dtype, x->data, base + i2);
                    kiln_store_f64(x->dtype, o->data, base + i1, c * x1 - sv * x2);
                    kiln_store_f64(x->dtype, o->data, base + i2, sv * x1 + c * x2);
                }
                for (int64_t i = R; i < D; i++)
                    kiln_store_f64(x->dtype, o->data, base + i, kiln_load_f64(x->dtype, x->data, base + i));
            }
        }
    return KILN_OK;
}

/* ---------------------------------------------------------------- SwiGLU -------------------------------------- */

static kiln_status swiglu_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    float *alpha = malloc(sizeof *alpha);
    KILN_FAIL_IF(!alpha, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *alpha = kiln_attr_float(n, "alpha", 1.0f);
    *out = alpha;
    return KILN_OK;
}

static kiln_status swiglu_run(kiln_kctx *k) {
    double alpha = *(const float *)k->params;
    const kiln_tensor *a, *b;
    KILN_TRY(kiln_kin_req(k, 0, &a));
    KILN_TRY(kiln_kin_req(k, 1, &b));
    KILN_FAIL_IF(!float_like(a->dtype) || a->dtype != b->dtype, KILN_ERR_TYPE, "SwiGLU inputs must share a float dtype");
    int same = a->rank == b->rank;
    for (int i = 0; same && i < a->rank; i++) same = a->dims[i] == b->dims[i];
    KILN_FAIL_IF(!same, KILN_ERR_SHAPE, "SwiGLU inputs must have identical shapes (no broadcasting)");
    kiln_tensor *o;
    KILN_TRY(kiln_kout(k, 0, a->dtype, a->rank, a->dims, &o));
    int64_t n = kiln_tensor_numel(a);
    for (int64_t i = 0; i < n; i++) {
        double x = kiln_load_f64(a->dtype, a->data, i);
        kiln_store_f64(a->dtype, o->data, i, x / (1 + exp(-alpha * x)) * kiln_load_f64(b->dtype, b->data, i));
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- TensorScatter ------------------------------- */

typedef struct tscatter_params {
    int64_t axis;
    int circular;
} tscatter_params;

static kiln_status tscatter_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    tscatter_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    p->axis = kiln_attr_int(n, "axis", -2);
    const char *mode = kiln_attr_string(n, "mode", "linear");
    KILN_FAIL_IF(strcmp(mode, "linear") && strcmp(mode, "circular"), KILN_ERR_INVALID_GRAPH,
                 "TensorScatter mode '%s' is not linear or circular", mode);
    p->circular = !strcmp(mode, "circular");
    return KILN_OK;
}

static kiln_status tscatter_run(kiln_kctx *k) {
    const tscatter_params *p = k->params;
    const kiln_tensor *cache, *upd;
    KILN_TRY(kiln_kin_req(k, 0, &cache));
    KILN_TRY(kiln_kin_req(k, 1, &upd));
    const kiln_tensor *wi = kiln_kin(k, 2);
    int r = cache->rank;
    int64_t axis = p->axis < 0 ? p->axis + r : p->axis;
    KILN_FAIL_IF(axis < 1 || axis >= r, KILN_ERR_INVALID_GRAPH, "TensorScatter axis must be a non-batch axis");
    KILN_FAIL_IF(upd->rank != r || upd->dtype != cache->dtype, KILN_ERR_SHAPE, "update must match the cache's rank and dtype");
    for (int i = 0; i < r; i++)
        KILN_FAIL_IF(i != axis ? upd->dims[i] != cache->dims[i] : upd->dims[i] > cache->dims[i], KILN_ERR_SHAPE,
                     "update dim %d (%lld) does not fit the cache (%lld)", i, (long long)upd->dims[i],
                     (long long)cache->dims[i]);
    KILN_FAIL_IF(wi && kiln_tensor_numel(wi) != cache->dims[0], KILN_ERR_SHAPE, "write_indices needs one entry per batch");
    kiln_tensor *o;
    KILN_TRY(kiln_kout(k, 0, cache->dtype, r, cache->dims, &o));
    size_t es = kiln_dtype_size(cache->dtype);
    memcpy(o->data, cache->data, kiln_tensor_nbytes(cache));
    int64_t outer = 1, inner = 1, maxlen = cache->dims[axis], len = upd->dims[axis];
    for (int i = 1; i < axis; i++) outer *= cache->dims[i];
    for (int i = (int)axis + 1; i < r; i++) inner *= cache->dims[i];
    for (int64_t b = 0; b < cache->dims[0]; b++) {
        int64_t w = wi ? kiln_load_i64(wi->dtype, wi->data, b) : 0;
        for (int64_t m = 0; m < outer; m++)
            for (int64_t s = 0; s < len; s++) {
                int64_t dst = w + s;
                if (p->circular) dst %= maxlen;
                KILN_FAIL_IF(dst < 0 || dst >= maxlen, KILN_ERR_RUNTIME, "TensorScatter writes position %lld of %lld",
                             (long long)dst, (long long)maxlen);
                memcpy((char *)o->data + (size_t)(((b * outer + m) * maxlen + dst) * inner) * es,
                       (const char *)upd->data + (size_t)(((b * outer + m) * len + s) * inner) * es, (size_t)inner * es);
            }
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- LinearAttention ----------------------------- */

typedef struct linattn_params {
    int gating, delta;
    int64_t q_heads, kv_heads;
    double scale;
} linattn_params;

static kiln_status linattn_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    linattn_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    const char *rule = kiln_attr_string(n, "update_rule", "gated_delta");
    KILN_FAIL_IF(strcmp(rule, "linear") && strcmp(rule, "gated") && strcmp(rule, "delta") && strcmp(rule, "gated_delta"),
                 KILN_ERR_INVALID_GRAPH, "LinearAttention update_rule '%s'", rule);
    p->gating = !strcmp(rule, "gated") || !strcmp(rule, "gated_delta");
    p->delta = !strcmp(rule, "delta") || !strcmp(rule, "gated_delta");
    p->q_heads = kiln_attr_int(n, "q_num_heads", 0);
    p->kv_heads = kiln_attr_int(n, "kv_num_heads", 0);
    p->scale = kiln_attr_float(n, "scale", 0);
    KILN_FAIL_IF(p->q_heads <= 0 || p->kv_heads <= 0 || p->q_heads % p->kv_heads, KILN_ERR_INVALID_GRAPH,
                 "q_num_heads must be a positive multiple of kv_num_heads");
    return KILN_OK;
}

static kiln_status linattn_run(kiln_kctx *k) {
    const linattn_params *p = k->params;
    const kiln_tensor *q, *kk, *v;
    KILN_TRY(kiln_kin_req(k, 0, &q));
    KILN_TRY(kiln_kin_req(k, 1, &kk));
    KILN_TRY(kiln_kin_req(k, 2, &v));
    const kiln_tensor *past = kiln_kin(k, 3), *decay = kiln_kin(k, 4), *beta = kiln_kin(k, 5);
    KILN_FAIL_IF(q->rank != 3 || kk->rank != 3 || v->rank != 3, KILN_ERR_SHAPE, "query, key, value must be (B, T, H*D)");
    KILN_FAIL_IF(p->gating != (decay != NULL), KILN_ERR_INVALID_GRAPH, "the update rule %s a decay input",
                 p->gating ? "requires" : "forbids");
    KILN_FAIL_IF(p->delta != (beta != NULL), KILN_ERR_INVALID_GRAPH, "the update rule %s a beta input",
                 p->delta ? "requires" : "forbids");
    int64_t B = q->dims[0], T = q->dims[1], Hq = p->q_heads, Hk = p->kv_heads;
    KILN_FAIL_IF(q->dims[2] % Hq || kk->dims[2] % Hk || v->dims[2] % Hk, KILN_ERR_SHAPE,
                 "hidden sizes are not divisible by the head counts");
    int64_t Dk = q->dims[2] / Hq, Dv = v->dims[2] / Hk, G = Hq / Hk;
    KILN_FAIL_IF(kk->dims[2] / Hk != Dk || kk->dims[0] != B || v->dims[0] != B || kk->dims[1] != T || v->dims[1] != T,
                 KILN_ERR_SHAPE, "query/key/value shapes are inconsistent");
    int64_t dlast = decay ? decay->dims[decay->rank - 1] : 0, blast = beta ? beta->dims[beta->rank - 1] : 0;
    KILN_FAIL_IF(decay && (decay->rank != 3 || (dlast != Hk && dlast != Hk * Dk)), KILN_ERR_SHAPE,
                 "decay must be (B, T, kv_heads) or (B, T, kv_heads*d_k)");
    KILN_FAIL_IF(beta && (beta->rank != 3 || (blast != Hk && blast != 1)), KILN_ERR_SHAPE,
                 "beta must be (B, T, kv_heads) or (B, T, 1)");
    KILN_FAIL_IF(past && (past->rank != 4 || past->dims[0] != B || past->dims[1] != Hk || past->dims[2] != Dk ||
                          past->dims[3] != Dv), KILN_ERR_SHAPE, "past_state must be (B, kv_heads, d_k, d_v)");
    double scale = p->scale != 0 ? p->scale : 1.0 / sqrt((double)Dk);
    int64_t ssz = B * Hk * Dk * Dv;
    double *st = calloc((size_t)(ssz + 1), sizeof(double)), *retr = malloc(sizeof(double) * (size_t)(Dv + 1) * 2);
    double *vt = retr ? retr + Dv : NULL;
    int64_t odims[3] = {B, T, Hq * Dv}, sdims[4] = {B, Hk, Dk, Dv};
    kiln_tensor *y, *ps = NULL;
    kiln_status s = KILN_OK;
    if (!st || !retr) s = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (s == KILN_OK) s = kiln_kout(k, 0, q->dtype, 3, odims, &y);
    if (s == KILN_OK && k->n_out > 1 && k->node->out[1] >= 0)
        s = kiln_kout(k, 1, past ? past->dtype : q->dtype, 4, sdims, &ps);
    if (s == KILN_OK && past)
        for (int64_t i = 0; i < ssz; i++) st[i] = (float)kiln_load_f64(past->dtype, past->data, i);
    for (int64_t t = 0; t < T && s == KILN_OK; t++)
        for (int64_t b = 0; b < B; b++) {
            for (int64_t h = 0; h < Hk; h++) {
                double *S = st + (b * Hk + h) * Dk * Dv;
                int64_t kb = (b * T + t) * Hk * Dk + h * Dk, vb = (b * T + t) * Hk * Dv + h * Dv;
                if (p->gating)
                    for (int64_t d = 0; d < Dk; d++) {
                        double g = exp((float)kiln_load_f64(decay->dtype, decay->data,
                                                           dlast == Hk ? (b * T + t) * Hk + h : kb + d));
                        for (int64_t m = 0; m < Dv; m++) S[d * Dv + m] *= g;
                    }
                for (int64_t m = 0; m < Dv; m++) vt[m] = (float)kiln_load_f64(v->dtype, v->data, vb + m);
                if (p->delta) {
                    double bt = (float)kiln_load_f64(beta->dtype, beta->data, (b * T + t) * blast + (blast == 1 ? 0 : h));
                    for (int64_t m = 0; m < Dv; m++) {
                        double r = 0;
                        for (int64_t d = 0; d < Dk; d++) r += S[d * Dv + m] * (float)kiln_load_f64(kk->dtype, kk->data, kb + d);
                        retr[m] = r;
                    }
                    for (int64_t m = 0; m < Dv; m++) vt[m] = bt * (vt[m] - retr[m]);
                }
                for (int64_t d = 0; d < Dk; d++) {
                    double kd = (float)kiln_load_f64(kk->dtype, kk->data, kb + d);
                    for (int64_t m = 0; m < Dv; m++) S[d * Dv + m] += kd * vt[m];
                }
            }
            for (int64_t h = 0; h < Hq; h++) {
                const double *S = st + (b * Hk + h / G) * Dk * Dv;
                int64_t qb = (b * T + t) * Hq * Dk + h * Dk;
                for (int64_t m = 0; m < Dv; m++) {
                    double acc = 0;
                    for (int64_t d = 0; d < Dk; d++) acc += (float)kiln_load_f64(q->dtype, q->data, qb + d) * S[d * Dv + m];
                    kiln_store_f64(q->dtype, y->data, (b * T + t) * Hq * Dv + h * Dv + m, scale * acc);
                }
            }
        }
    if (s == KILN_OK && ps)
        for (int64_t i = 0; i < ssz; i++) kiln_store_f64(ps->dtype, ps->data, i, st[i]);
    free(st), free(retr);
    return s;
}

/* ---------------------------------------------------------------- CausalConvWithState ------------------------- */

static kiln_status cconv_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    const char *act = kiln_attr_string(n, "activation", "none");
    KILN_FAIL_IF(strcmp(act, "none") && strcmp(act, "silu") && strcmp(act, "swish"), KILN_ERR_INVALID_GRAPH,
                 "CausalConvWithState activation '%s' is not none, silu or swish", act);
    *out = (void *)(intptr_t)(strcmp(act, "none") != 0);
    return KILN_OK;
}

/* Depthwise causal 1-D conv over [state ‖ input]; the last k-1 columns become the new state. */
static kiln_status cconv_run(kiln_kctx *k) {
    int silu = (int)(intptr_t)k->params;
    const kiln_tensor *x, *w;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &w));
    const kiln_tensor *bias = kiln_kin(k, 2), *past = kiln_kin(k, 3);
    KILN_FAIL_IF(x->rank != 3 || w->rank != 3 || w->dims[0] != x->dims[1] || w->dims[1] != 1, KILN_ERR_SHAPE,
                 "input must be (B, C, L) and weight (C, 1, k)");
    int64_t B = x->dims[0], C = x->dims[1], L = x->dims[2], K = w->dims[2], P = K - 1;
    KILN_FAIL_IF(K < 1, KILN_ERR_SHAPE, "kernel size must be >= 1");
    KILN_FAIL_IF(past && (past->rank != 3 || past->dims[0] != B || past->dims[1] != C || past->dims[2] != P),
                 KILN_ERR_SHAPE, "past_state must be (B, C, k-1)");
    KILN_FAIL_IF(bias && kiln_tensor_numel(bias) != C, KILN_ERR_SHAPE, "bias must have C entries");
    int64_t sdims[3] = {B, C, P};
    kiln_tensor *y, *ps = NULL;
    KILN_TRY(kiln_kout(k, 0, x->dtype, 3, x->dims, &y));
    if (k->n_out > 1 && k->node->out[1] >= 0) KILN_TRY(kiln_kout(k, 1, x->dtype, 3, sdims, &ps));
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++) {
            /* padded column j: j < P from the state, else input column j - P */
            for (int64_t o = 0; o < L; o++) {
                double acc = bias ? kiln_load_f64(bias->dtype, bias->data, c) : 0;
                for (int64_t t = 0; t < K; t++) {
                    int64_t j = o + t;
                    double xv = j < P ? (past ? kiln_load_f64(past->dtype, past->data, (b * C + c) * P + j) : 0)
                                      : kiln_load_f64(x->dtype, x->data, (b * C + c) * L + j - P);
                    acc += xv * kiln_load_f64(w->dtype, w->data, c * K + t);
                }
                if (x->dtype != KILN_DOUBLE) acc = (float)acc;
                if (silu) acc = acc / (1 + exp(-acc));
                kiln_store_f64(x->dtype, y->data, (b * C + c) * L + o, acc);
            }
            for (int64_t j = 0; ps && j < P; j++) {
                int64_t src = L + j; /* padded index of the state column */
                double v = src < P ? (past ? kiln_load_f64(past->dtype, past->data, (b * C + c) * P + src) : 0)
                                   : kiln_load_f64(x->dtype, x->data, (b * C + c) * L + src - P);
                kiln_store_f64(x->dtype, ps->data, (b * C + c) * P + j, v);
            }
        }
    return KILN_OK;
}

/* ---------------------------------------------------------------- FlexAttention ------------------------------- */

typedef struct flex_params {
    int has_scale;
    double scale;
    kiln_dtype softmax_dtype; /* 0: float32 for half types, else the input type */
    const kiln_graph *score_mod, *prob_mod;
} flex_params;

static kiln_status flex_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    flex_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    const kiln_attr *s = kiln_node_attr(n, "scale");
    p->has_scale = s != NULL;
    p->scale = s ? s->f : 0;
    p->softmax_dtype = (kiln_dtype)kiln_attr_int(n, "softmax_precision", 0);
    KILN_FAIL_IF(p->softmax_dtype && p->softmax_dtype != KILN_FLOAT && p->softmax_dtype != KILN_DOUBLE &&
                     p->softmax_dtype != KILN_FLOAT16 && p->softmax_dtype != KILN_BFLOAT16,
                 KILN_ERR_INVALID_GRAPH, "FlexAttention: softmax_precision %d is not a float type",
                 (int)p->softmax_dtype);
    const kiln_attr *a = kiln_node_attr(n, "score_mod");
    p->score_mod = a ? a->g : NULL;
    a = kiln_node_attr(n, "prob_mod");
    p->prob_mod = a ? a->g : NULL;
    return KILN_OK;
}

/* Runs a 1-in 1-out modifier graph on t in place (t's dtype and shape must survive). */
static kiln_status flex_mod(kiln_kctx *k, const kiln_graph *g, kiln_tensor *t, const char *what) {
    kiln_value in = {0}, res = {0};
    in.kind = KILN_V_TENSOR;
    kiln_tensor_borrow(&in.t, t);
    const kiln_value *ins[1] = {&in};
    kiln_value *outs[1] = {&res};
    kiln_status st = kiln_krun_graph(k, g, 1, ins, 1, outs);
    if (st == KILN_OK && (res.kind != KILN_V_TENSOR || kiln_tensor_numel(&res.t) != kiln_tensor_numel(t)))
        st = kiln_error(KILN_ERR_SHAPE, "%s must return a tensor of the scores' shape", what);
    int64_t n = kiln_tensor_numel(t);
    for (int64_t i = 0; st == KILN_OK && i < n; i++)
        kiln_store_f64(t->dtype, t->data, i, kiln_load_f64(res.t.dtype, res.t.data, i));
    kiln_value_release(&in);
    kiln_value_release(&res);
    return st;
}

static kiln_status flex_run(kiln_kctx *k) {
    const flex_params *p = k->params;
    const kiln_tensor *q, *kk, *v;
    KILN_TRY(kiln_kin_req(k, 0, &q));
    KILN_TRY(kiln_kin_req(k, 1, &kk));
    KILN_TRY(kiln_kin_req(k, 2, &v));
    KILN_FAIL_IF(q->rank != 4 || kk->rank != 4 || v->rank != 4, KILN_ERR_SHAPE, "FlexAttention needs 4-D Q, K, V");
    int64_t B = q->dims[0], Hq = q->dims[1], L = q->dims[2], E = q->dims[3];
    int64_t Hk = kk->dims[1], S = kk->dims[2], Ev = v->dims[3];
    KILN_FAIL_IF(kk->dims[0] != B || v->dims[0] != B || kk->dims[3] != E || v->dims[1] != Hk || v->dims[2] != S ||
                     Hk <= 0 || Hq % Hk, KILN_ERR_SHAPE, "FlexAttention Q/K/V shapes are inconsistent");
    kiln_dtype cdt = p->softmax_dtype ? p->softmax_dtype
                     : (q->dtype == KILN_DOUBLE ? KILN_DOUBLE : KILN_FLOAT);
    double scale = p->has_scale ? p->scale : 1.0 / sqrt((double)E);
    double ss = sqrt((float)scale);
    if (q->dtype != KILN_DOUBLE) ss = (float)ss;
    int64_t sdims[4] = {B, Hq, L, S};
    kiln_tensor scores = {0};
    KILN_TRY(kiln_tensor_alloc(&scores, cdt, 4, sdims));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < L; i++)
                for (int64_t j = 0; j < S; j++) {
                    double acc = 0;
                    for (int64_t e = 0; e < E; e++)
                        acc += kiln_load_f64(q->dtype, q->data, ((b * Hq + h) * L + i) * E + e) * ss *
                               (kiln_load_f64(kk->dtype, kk->data, ((b * Hk + h / (Hq / Hk)) * S + j) * E + e) * ss);
                    kiln_store_f64(cdt, scores.data, ((b * Hq + h) * L + i) * S + j, acc);
                }
    kiln_status st = KILN_OK;
    if (p->score_mod) st = flex_mod(k, p->score_mod, &scores, "score_mod");
    for (int64_t r = 0; r < B * Hq * L && st == KILN_OK; r++) {
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < S; j++) mx = fmax(mx, kiln_load_f64(cdt, scores.data, r * S + j));
        for (int64_t j = 0; j < S; j++) {
            double e = exp(kiln_load_f64(cdt, scores.data, r * S + j) - mx);
            kiln_store_f64(cdt, scores.data, r * S + j, e);
            sum += e;
        }
        for (int64_t j = 0; j < S; j++) kiln_store_f64(cdt, scores.data, r * S + j, kiln_load_f64(cdt, scores.data, r * S + j) / sum);
    }
    if (st == KILN_OK && p->prob_mod) st = flex_mod(k, p->prob_mod, &scores, "prob_mod");
    int64_t odims[4] = {B, Hq, L, Ev};
    kiln_tensor *y = NULL;
    if (st == KILN_OK) st = kiln_kout(k, 0, v->dtype, 4, odims, &y);
    for (int64_t b = 0; b < B && st == KILN_OK; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < L; i++)
                for (int64_t e = 0; e < Ev; e++) {
                    double acc = 0;
                    for (int64_t j = 0; j < S; j++)
                        acc += kiln_load_f64(cdt, scores.data, ((b * Hq + h) * L + i) * S + j) *
                               kiln_load_f64(v->dtype, v->data, ((b * Hk + h / (Hq / Hk)) * S + j) * Ev + e);
                    kiln_store_f64(v->dtype, y->data, ((b * Hq + h) * L + i) * Ev + e, acc);
                }
    kiln_tensor_release(&scores);
    return st;
}

const kiln_op_def kiln_cpu_ops_attention[] = {
    {"Attention", "", 23, attn_prepare, free, attn_run},
    {"RotaryEmbedding", "", 23, rope_prepare, free, rope_run},
    {"SwiGLU", "", 1, swiglu_prepare, free, swiglu_run},
    {"TensorScatter", "", 24, tscatter_prepare, free, tscatter_run},
    {"LinearAttention", "", 1, linattn_prepare, free, linattn_run},
    {"CausalConvWithState", "", 1, cconv_prepare, NULL, cconv_run},
    {"FlexAttention", "ai.onnx.preview", 1, flex_prepare, free, flex_run},
    {0},
};
