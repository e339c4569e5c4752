// CUDA kernels: attention family (see registry.h): Attention (ai.onnx opset 23/24), the non-fused reference
// semantics: 3-D [B, S, H*D] or 4-D [B, H, S, D] inputs, grouped-query heads, past key / value caches with present
// outputs, boolean or additive masks (right-aligned, last dim possibly shorter than the keys), is_causal, sliding
// windows, softcap, nonpad_kv_seqlen and the four qk_matmul_output modes.
//
// The keys and values (past cache followed by the new ones) are first laid out as [B, Hkv, S_kv, D] in the present
// outputs (or scratch; 4-D inputs without a cache are read in place). Then one block per query row runs an online
// softmax over chunks of keys and the weighted sum of values, one thread per output channel. Everything
// accumulates in float. A row whose keys are all masked yields zeros, as the CPU reference does.
#include <math.h>
#include <stdlib.h>

#include "backends/cuda/common.cuh"
extern "C" {
#include "backends/cpu/attention-internal.h"
}

namespace kc {

typedef attn_attrs at_params;

// A [B, H, S, D] view of a 3-D [B, S, H*D] or 4-D [B, H, S, D] tensor.
struct at_view {
    int64_t b, h, s, d;
    int from3d;
};

__device__ __forceinline__ int64_t at_off(const at_view &v, int64_t b, int64_t h, int64_t s, int64_t d) {
    return v.from3d ? ((b * v.s + s) * v.h + h) * v.d + d : ((b * v.h + h) * v.s + s) * v.d + d;
}

// out[b, h, s, d] over S_past + S positions: the cache, then the new keys / values.
template <typename T>
__global__ void at_concat_k(int64_t total, at_view cur, int64_t sp, const T *past, const T *x, T *out) {
    int64_t st = sp + cur.s;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t d = t % cur.d, r = t / cur.d, s = r % st, bh = r / st, h = bh % cur.h, b = bh / cur.h;
        out[t] = s < sp ? past[(bh * sp + s) * cur.d + d] : x[at_off(cur, b, h, s - sp, d)];
    }
}

struct at_geom {
    int64_t B, Hq, Hkv, Sq, Skv, D, Dv, past;
    at_view q;
    int out3d, causal, qk_mode, want_qk;
    float scale, softcap;
    int64_t lw, rw;
    int mask_kind; // 0: none, 1: bool, 2: f32, 3: f16, 4: bf16
    int64_t md[4];
    int nonpad_kind; // 0: none, 1: int32, 2: int64
};

__device__ __forceinline__ float at_mask(const at_geom &g, const void *m, int64_t b, int64_t h, int64_t i, int64_t j) {
    if (j >= g.md[3]) return -INFINITY;
    int64_t mi = (((b % g.md[0]) * g.md[1] + (h % g.md[1])) * g.md[2] + (i % g.md[2])) * g.md[3] + j;
    switch (g.mask_kind) {
    case 1: return ((const uint8_t *)m)[mi] ? 0.0f : -INFINITY;
    case 2: return ((const float *)m)[mi];
    case 3: return __half2float(((const half *)m)[mi]);
    default: return __bfloat162float(((const bf16 *)m)[mi]);
    }
}

#define AT_CHUNK 256

// Scaled (and soft-capped) score of key j for query row (b, h, i), plus its bias (mask, causal, windows, padding).
template <typename T>
__device__ __forceinline__ float at_score(const at_geom &g, const T *q, const T *kb, const void *mask, int64_t b,
                                          int64_t h, int64_t i, int64_t j, int64_t offset, int64_t npk, float *bias) {
    float bv = g.mask_kind ? at_mask(g, mask, b, h, i, j) : 0.0f;
    if (g.causal && j > i + offset) bv = -INFINITY;
    int64_t diff = i + offset - j;
    if (g.lw >= 0 && diff > g.lw) bv = -INFINITY;
    if (g.rw >= 0 && -diff > g.rw) bv = -INFINITY;
    if (j >= npk) bv = -INFINITY;
    float dot = 0;
    for (int64_t d = 0; d < g.D; d++) dot += to_f<T>(q[at_off(g.q, b, h, i, d)]) * to_f<T>(kb[j * g.D + d]);
    dot *= g.scale;
    if (g.softcap > 0) dot = tanhf(dot / g.softcap) * g.softcap;
    *bias = bv;
    return dot;
}

// One block per query row (b, h, i). Keys go in chunks through shared memory with an online softmax (running max
// and sum, the accumulators rescaled when the max grows), so no buffer of S_kv scores per row is needed.
// Dynamic shared memory: AT_CHUNK + Dv floats.
template <typename T>
__global__ void at_row_k(at_geom g, const T *q, const T *kf, const T *vf, const void *mask, const void *nonpad,
                         T *y, T *qk) {
    extern __shared__ float smem[];
    __shared__ float sh[33];
    float *sc = smem, *acc = smem + AT_CHUNK;
    int64_t r = blockIdx.x, i = r % g.Sq, bh = r / g.Sq, h = bh % g.Hq, b = bh / g.Hq;
    int64_t hk = h / (g.Hq / g.Hkv), offset = g.past, npk = g.Skv;
    if (g.nonpad_kind) {
        npk = g.nonpad_kind == 2 ? ((const int64_t *)nonpad)[b] : ((const int32_t *)nonpad)[b];
        offset = npk - g.Sq;
    }
    T *qo = g.want_qk ? qk + r * g.Skv : nullptr;
    const T *kb = kf + (b * g.Hkv + hk) * g.Skv * g.D, *vb = vf + (b * g.Hkv + hk) * g.Skv * g.Dv;
    for (int64_t d = threadIdx.x; d < g.Dv; d += blockDim.x) acc[d] = 0;
    float m = -INFINITY, l = 0, bmax = -INFINITY;
    for (int64_t c0 = 0; c0 < g.Skv; c0 += AT_CHUNK) {
        int64_t n = g.Skv - c0 < AT_CHUNK ? g.Skv - c0 : AT_CHUNK;
        float lmax = -INFINITY, lbmax = -INFINITY;
        for (int64_t jj = threadIdx.x; jj < n; jj += blockDim.x) {
            float bv, dot = at_score(g, q, kb, mask, b, h, i, c0 + jj, offset, npk, &bv);
            float s = dot + bv;
            if (qo && g.qk_mode <= 1) qo[c0 + jj] = from_f<T>(dot);
            if (qo && g.qk_mode == 2) qo[c0 + jj] = from_f<T>(s);
            sc[jj] = s;
            lmax = fmaxf(lmax, s);
            lbmax = fmaxf(lbmax, bv);
        }
        float cmax = block_reduce<true>(lmax, sh); // its barriers also publish sc[] to the whole block
        bmax = fmaxf(bmax, block_reduce<true>(lbmax, sh));
        float m_new = fmaxf(m, cmax);
        if (m_new == -INFINITY) continue; // nothing attendable yet: sc[] is all -inf
        float alpha = expf(m - m_new), lsum = 0;
        for (int64_t jj = threadIdx.x; jj < n; jj += blockDim.x) {
            float e = expf(sc[jj] - m_new);
            sc[jj] = e;
            lsum += e;
        }
        l = l * alpha + block_reduce<false>(lsum, sh);
        for (int64_t d = threadIdx.x; d < g.Dv; d += blockDim.x) {
            float a = 0;
            for (int64_t jj = 0; jj < n; jj++) a += sc[jj] * to_f<T>(vb[(c0 + jj) * g.Dv + d]);
            acc[d] = acc[d] * alpha + a;
        }
        m = m_new;
        __syncthreads(); // sc[] is rewritten by the next chunk
    }
    int64_t yrow = g.out3d ? ((b * g.Sq + i) * g.Hq + h) * g.Dv : r * g.Dv;
    bool none = bmax == -INFINITY; // no attendable key: zeros, as the CPU reference
    for (int64_t d = threadIdx.x; d < g.Dv; d += blockDim.x) y[yrow + d] = from_f<T>(none ? 0.0f : acc[d] / l);
    if (qo && g.qk_mode == 3)
        for (int64_t j = threadIdx.x; j < g.Skv; j += blockDim.x) {
            float bv, dot = at_score(g, q, kb, mask, b, h, i, j, offset, npk, &bv);
            qo[j] = from_f<T>(none ? 0.0f : expf(dot + bv - m) / l);
        }
}

static kiln_status at_supports(const kiln_node *n, const kiln_graph *g) {
    at_params p;
    KILN_TRY(attn_attrs_parse(n, &p));
    KILN_TRY(need_dtype(n, g, 0, is_float3, "float formats"));
    KILN_TRY(need_same_dtype(n, g, 0, 1));
    KILN_TRY(need_same_dtype(n, g, 0, 2));
    KILN_FAIL_IF(has_in(n, 4) != has_in(n, 5), KILN_ERR_INVALID_GRAPH,
                 "Attention: past_key and past_value must be given together");
    if (has_in(n, 4)) KILN_TRY(need_same_dtype(n, g, 0, 4));
    if (has_in(n, 3))
        KILN_TRY(need_dtype(n, g, 3, [](kiln_dtype t) { return t == KILN_BOOL || is_float3(t); },
                            "bool or float masks"));
    if (has_in(n, 6))
        KILN_TRY(need_dtype(n, g, 6, [](kiln_dtype t) { return t == KILN_INT32 || t == KILN_INT64; },
                            "int32/int64 nonpad_kv_seqlen"));
    return KILN_OK;
}

static kiln_status at_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    at_params *p = (at_params *)calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = attn_attrs_parse(n, p);
    if (st != KILN_OK) {
        free(p);
        return st;
    }
    *params = p;
    return KILN_OK;
}

static kiln_status at_view_of(const kiln_cuda_tensor *t, int64_t heads, const char *what, at_view *v) {
    v->b = t->dims[0];
    if (t->rank == 3) {
        KILN_FAIL_IF(heads <= 0, KILN_ERR_INVALID_GRAPH, "Attention: 3-D %s needs q_num_heads/kv_num_heads", what);
        KILN_FAIL_IF(t->dims[2] % heads, KILN_ERR_SHAPE, "Attention: %s hidden size %lld is not divisible by %lld heads",
                     what, (long long)t->dims[2], (long long)heads);
        v->s = t->dims[1], v->h = heads, v->d = t->dims[2] / heads, v->from3d = 1;
        return KILN_OK;
    }
    KILN_FAIL_IF(t->rank != 4, KILN_ERR_SHAPE, "Attention: %s must be 3-D or 4-D, got rank %d", what, t->rank);
    v->h = t->dims[1], v->s = t->dims[2], v->d = t->dims[3], v->from3d = 0;
    return KILN_OK;
}

static int wants(const kiln_cuda_kctx *k, int i) { return i < k->n_out && k->node->out[i] >= 0; }

static kiln_status at_run(kiln_cuda_kctx *k) {
    const at_params *p = (const at_params *)k->params;
    const kiln_cuda_tensor *q, *kk, *v;
    KILN_TRY(in_req(k, 0, &q));
    KILN_TRY(in_req(k, 1, &kk));
    KILN_TRY(in_req(k, 2, &v));
    const kiln_cuda_tensor *mask = in(k, 3), *pk = in(k, 4), *pv = in(k, 5), *nonpad = in(k, 6);
    KILN_FAIL_IF(!is_float3(q->dtype) || kk->dtype != q->dtype || v->dtype != q->dtype ||
                     (pk && (pk->dtype != q->dtype || !pv || pv->dtype != q->dtype)),
                 KILN_ERR_TYPE, "Attention: Q/K/V/past dtypes not supported on CUDA");
    KILN_FAIL_IF(q->rank != kk->rank || q->rank != v->rank, KILN_ERR_SHAPE, "Attention: Q, K, V ranks differ");
    KILN_FAIL_IF(!pk != !pv, KILN_ERR_INVALID_GRAPH, "Attention: past_key and past_value must be given together");
    KILN_FAIL_IF(pk && nonpad, KILN_ERR_INVALID_GRAPH, "Attention: nonpad_kv_seqlen cannot be combined with a cache");
    at_view Q, K, V;
    KILN_TRY(at_view_of(q, p->q_heads, "Q", &Q));
    KILN_TRY(at_view_of(kk, p->kv_heads, "K", &K));
    KILN_TRY(at_view_of(v, p->kv_heads, "V", &V));
    KILN_FAIL_IF(K.b != Q.b || V.b != Q.b || K.h != V.h || K.d != Q.d || K.s != V.s || K.h == 0 || Q.h % K.h,
                 KILN_ERR_SHAPE, "Attention: Q/K/V batch, heads, lengths or head sizes are inconsistent");
    int64_t sp = pk ? pk->dims[2] : 0;
    KILN_FAIL_IF(pk && (pk->rank != 4 || pk->dims[0] != K.b || pk->dims[1] != K.h || pk->dims[3] != K.d ||
                        pv->rank != 4 || pv->dims[0] != V.b || pv->dims[1] != V.h || pv->dims[3] != V.d ||
                        pv->dims[2] != sp),
                 KILN_ERR_SHAPE, "Attention: past_key/past_value shapes do not match K/V");
    at_geom g;
    memset(&g, 0, sizeof g);
    g.B = Q.b, g.Hq = Q.h, g.Hkv = K.h, g.Sq = Q.s, g.Skv = sp + K.s, g.D = Q.d, g.Dv = V.d, g.past = sp;
    g.q = Q;
    g.out3d = q->rank == 3;
    g.causal = p->is_causal;
    g.qk_mode = p->qk_mode;
    g.scale = p->has_scale ? p->scale : (float)(1.0 / sqrt((double)g.D));
    g.softcap = p->softcap;
    g.lw = p->left_window, g.rw = p->right_window;
    for (int i = 0; i < 4; i++) g.md[i] = 1;
    if (mask) {
        KILN_FAIL_IF(mask->rank > 4 || mask->rank < 1, KILN_ERR_SHAPE, "Attention: attn_mask rank %d is not 1..4",
                     mask->rank);
        for (int i = 0; i < mask->rank; i++) g.md[4 - mask->rank + i] = mask->dims[i];
        KILN_FAIL_IF((g.md[0] != 1 && g.md[0] != g.B) || (g.md[1] != 1 && g.md[1] != g.Hq) ||
                         (g.md[2] != 1 && g.md[2] != g.Sq) || g.md[3] > g.Skv,
                     KILN_ERR_SHAPE, "Attention: attn_mask does not broadcast to the scores");
        switch (mask->dtype) {
        case KILN_BOOL: g.mask_kind = 1; break;
        case KILN_FLOAT: g.mask_kind = 2; break;
        case KILN_FLOAT16: g.mask_kind = 3; break;
        case KILN_BFLOAT16: g.mask_kind = 4; break;
        default:
            return kiln_error(KILN_ERR_TYPE, "Attention: %s mask not supported on CUDA", kiln_dtype_name(mask->dtype));
        }
    }
    if (nonpad) {
        KILN_FAIL_IF(numel(nonpad) != g.B || (nonpad->dtype != KILN_INT64 && nonpad->dtype != KILN_INT32),
                     KILN_ERR_SHAPE, "Attention: nonpad_kv_seqlen must hold one int per batch (%lld)",
                     (long long)g.B);
        g.nonpad_kind = nonpad->dtype == KILN_INT64 ? 2 : 1;
    }
    g.want_qk = wants(k, 3);

    int64_t ydims[4] = {g.B, g.Hq, g.Sq, g.Dv};
    if (g.out3d) ydims[1] = g.Sq, ydims[2] = g.Hq * g.Dv;
    kiln_cuda_tensor *y, *ko = NULL, *vo = NULL, *qko = NULL;
    KILN_TRY(kiln_cuda_kout(k, 0, q->dtype, g.out3d ? 3 : 4, ydims, &y));
    int64_t kd[4] = {g.B, g.Hkv, g.Skv, g.D}, vd[4] = {g.B, g.Hkv, g.Skv, g.Dv}, qd[4] = {g.B, g.Hq, g.Sq, g.Skv};
    if (wants(k, 1)) KILN_TRY(kiln_cuda_kout(k, 1, q->dtype, 4, kd, &ko));
    if (wants(k, 2)) KILN_TRY(kiln_cuda_kout(k, 2, q->dtype, 4, vd, &vo));
    if (g.want_qk) KILN_TRY(kiln_cuda_kout(k, 3, q->dtype, 4, qd, &qko));
    size_t es = kiln_dtype_size(q->dtype);
    int64_t nk = kiln_numel(4, kd), nv = kiln_numel(4, vd), rows = g.B * g.Hq * g.Sq;
    // The 4-D keys / values can be read in place when there is no cache; otherwise they go to the present outputs
    // or to scratch.
    bool k_direct = !pk && !K.from3d, v_direct = !pv && !V.from3d;
    size_t a = 256;
    size_t k_bytes = ko || k_direct ? 0 : ((size_t)nk * es + a - 1) / a * a;
    size_t v_bytes = vo || v_direct ? 0 : ((size_t)nv * es + a - 1) / a * a;
    size_t smem = (size_t)(AT_CHUNK + g.Dv) * sizeof(float);
    KILN_FAIL_IF(smem > 48 * 1024, KILN_ERR_UNSUPPORTED, "Attention: value head size %lld is too large for CUDA",
                 (long long)g.Dv);
    void *scr = NULL;
    if (k_bytes + v_bytes > 0) KILN_TRY(kiln_cuda_scratch(k, k_bytes + v_bytes, &scr));
    void *kf = ko ? ko->data : k_direct ? kk->data : scr;
    void *vf = vo ? vo->data : v_direct ? v->data : (char *)scr + k_bytes;
    cudaStream_t st = stream(k);
    with_float(q->dtype, [&](auto t) {
        typedef decltype(t) T;
        if (kf != kk->data && nk > 0)
            at_concat_k<T><<<grid_for(nk, 256), 256, 0, st>>>(nk, K, sp, pk ? (const T *)pk->data : nullptr,
                                                              (const T *)kk->data, (T *)kf);
        if (vf != v->data && nv > 0)
            at_concat_k<T><<<grid_for(nv, 256), 256, 0, st>>>(nv, V, sp, pv ? (const T *)pv->data : nullptr,
                                                              (const T *)v->data, (T *)vf);
        if (rows > 0)
            at_row_k<T><<<(unsigned)rows, 128, smem, st>>>(g, (const T *)q->data, (const T *)kf, (const T *)vf,
                                                           mask ? mask->data : nullptr,
                                                           nonpad ? nonpad->data : nullptr, (T *)y->data,
                                                           qko ? (T *)qko->data : nullptr);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

// Bytes of a value's type, 0 when absent; *known = 0 when a dim is not a number.
static size_t at_bytes(const kiln_node *n, const kiln_type *types, int i, int *known) {
    if (!has_in(n, i)) return 0;
    const kiln_type *t = &types[n->in[i]];
    if (t->kind != KILN_KIND_TENSOR || t->rank < 0) return *known = 0, 0;
    size_t b = kiln_dtype_size(t->dtype);
    for (int d = 0; d < t->rank; d++) {
        if (t->dims[d].v < 0) return *known = 0, 0;
        b *= (size_t)t->dims[d].v;
    }
    return b;
}

// The keys / values run() gathers into scratch: past + new, when neither the present output nor the input itself
// can hold them (see at_run).
static size_t at_scratch(const kiln_node *n, const kiln_graph *g, const kiln_type *types, const char **what,
                         int *known) {
    *what = "concatenated keys and values";
    size_t total = 0;
    for (int kv = 0; kv < 2; kv++) {
        int in_new = 1 + kv, in_past = 4 + kv, out_present = 1 + kv;
        if (has_out(n, out_present) || !has_in(n, in_new)) continue;
        const kiln_type *t = &types[n->in[in_new]];
        if (!has_in(n, in_past) && t->rank == 4) continue; // read in place
        size_t b = at_bytes(n, types, in_new, known) + at_bytes(n, types, in_past, known);
        total += (b + 255) / 256 * 256;
    }
    return total;
}

} // namespace kc

extern "C" const kiln_cuda_op_def kiln_cuda_ops_attention[] = {
    {"Attention", "", 23, 0, kc::at_supports, kc::at_prepare, free, kc::at_run, kc::at_scratch},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
