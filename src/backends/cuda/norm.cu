// CUDA kernels: norm family (see registry.h): BatchNormalization (inference), LayerNormalization,
// RMSNormalization, InstanceNormalization, GroupNormalization, Softmax and LogSoftmax.
//
// Statistics are two-pass in float (mean, then the centred sum of squares) with one block per normalized row, so
// they stay accurate for long rows; 16-bit inputs compute in float. Softmax along the last (contiguous) axis uses
// one warp per row up to 1024 elements and one block per row beyond; other axes use one thread per column, which
// keeps loads coalesced across the inner dimension.
#include <math.h>
#include <stdlib.h>

#include "backends/cuda/common.cuh"

namespace kc {

// ---------------------------------------------------------------- BatchNormalization ------------------------------
template <typename T, typename P>
__global__ void batchnorm_k(int64_t total, int64_t c, int64_t plane, const T *x, const P *scale, const P *bias,
                            const P *mean, const P *var, float eps, T *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t ch = (i / plane) % c;
        float inv = load(scale, ch) / sqrtf(load(var, ch) + eps);
        y[i] = store_as<T>((load(x, i) - load(mean, ch)) * inv + load(bias, ch));
    }
}

static kiln_status bn_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, is_float3, "float, float16 or bfloat16"));
    kiln_dtype xt = in_dtype(n, g, 0);
    for (int i = 1; i < 5; i++) {
        kiln_dtype t = in_dtype(n, g, i);
        KILN_FAIL_IF(t != xt && t != KILN_FLOAT, KILN_ERR_UNSUPPORTED,
                     "BatchNormalization: input %d dtype %s (the input's dtype or float on CUDA)", i,
                     kiln_dtype_name(t));
    }
    KILN_FAIL_IF(in_dtype(n, g, 1) != in_dtype(n, g, 2) || in_dtype(n, g, 3) != in_dtype(n, g, 4),
                 KILN_ERR_UNSUPPORTED, "BatchNormalization: scale/B and mean/var dtypes must agree pairwise");
    KILN_FAIL_IF(kiln_attr_int(n, "training_mode", 0) != 0, KILN_ERR_UNSUPPORTED,
                 "BatchNormalization: training_mode is not supported on CUDA");
    KILN_FAIL_IF(n->opset < 7 && kiln_attr_int(n, "spatial", 1) == 0, KILN_ERR_UNSUPPORTED,
                 "BatchNormalization: spatial = 0 is not supported on CUDA");
    for (int i = 1; i < n->n_out; i++)
        KILN_FAIL_IF(has_out(n, i), KILN_ERR_UNSUPPORTED, "BatchNormalization: output %d is not supported on CUDA", i);
    return KILN_OK;
}

static kiln_status bn_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *p[4];
    KILN_TRY(in_req(k, 0, &x));
    for (int i = 0; i < 4; i++) KILN_TRY(in_req(k, i + 1, &p[i]));
    KILN_FAIL_IF(!is_float3(x->dtype) || x->rank < 2, KILN_ERR_TYPE,
                 "BatchNormalization: input must be (N, C, ...) of float, float16 or bfloat16");
    int64_t c = x->dims[1], plane = 1;
    for (int i = 2; i < x->rank; i++) plane *= x->dims[i];
    for (int i = 0; i < 4; i++) {
        KILN_FAIL_IF(numel(p[i]) != c, KILN_ERR_SHAPE, "BatchNormalization: input %d must have %lld values", i + 1,
                     (long long)c);
        KILN_FAIL_IF(p[i]->dtype != x->dtype && p[i]->dtype != KILN_FLOAT, KILN_ERR_TYPE,
                     "BatchNormalization: input %d dtype %s", i + 1, kiln_dtype_name(p[i]->dtype));
    }
    KILN_FAIL_IF(p[0]->dtype != p[1]->dtype || p[2]->dtype != p[3]->dtype, KILN_ERR_TYPE,
                 "BatchNormalization: scale/B and mean/var dtypes must agree pairwise");
    float eps = kiln_attr_float(k->node, "epsilon", 1e-5f);
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t total = numel(x);
    if (total == 0) return KILN_OK;
    KILN_FAIL_IF(p[0]->dtype != p[2]->dtype, KILN_ERR_UNSUPPORTED,
                 "BatchNormalization: scale and mean dtypes differ (%s, %s)", kiln_dtype_name(p[0]->dtype),
                 kiln_dtype_name(p[2]->dtype));
    cudaStream_t st = stream(k);
    unsigned grid = grid_for(total, 256);
    with_float(x->dtype, [&](auto t) {
        typedef decltype(t) T;
        if (p[0]->dtype == KILN_FLOAT)
            batchnorm_k<T, float><<<grid, 256, 0, st>>>(total, c, plane, (const T *)x->data, (const float *)p[0]->data,
                                                        (const float *)p[1]->data, (const float *)p[2]->data,
                                                        (const float *)p[3]->data, eps, (T *)y->data);
        else
            batchnorm_k<T, T><<<grid, 256, 0, st>>>(total, c, plane, (const T *)x->data, (const T *)p[0]->data,
                                                    (const T *)p[1]->data, (const T *)p[2]->data,
                                                    (const T *)p[3]->data, eps, (T *)y->data);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- row norms (Layer / RMS / Instance / Group) --------
// Row r of length len normalizes x[r*len ..]; the affine parameter of element j is scale[pidx(r, j)].
struct rownorm {
    int64_t len;
    float eps;
    int rms;
    // Parameter index: per column (layer norms: j), or per channel of a group norm: channel = (r % G) * cpg + j / S,
    // or per group: r % G.
    int mode; // 0: column, 1: channel, 2: group
    int64_t G, cpg, S;
};

__device__ __forceinline__ int64_t param_index(const rownorm &q, int64_t r, int64_t j) {
    if (q.mode == 0) return j;
    int64_t g = r % q.G;
    return q.mode == 2 ? g : g * q.cpg + j / q.S;
}

template <typename T, typename P>
__global__ void rownorm_k(rownorm q, const T *x, const P *scale, const P *bias, T *y, float *mean_out,
                          float *inv_out) {
    __shared__ float sh[33];
    int64_t r = blockIdx.x;
    const T *xr = x + r * q.len;
    T *yr = y + r * q.len;
    float mean = 0.0f;
    if (!q.rms) {
        float s = 0.0f;
        for (int64_t j = threadIdx.x; j < q.len; j += blockDim.x) s += load(xr, j);
        mean = block_reduce<false>(s, sh) / (float)q.len;
    }
    float ss = 0.0f;
    for (int64_t j = threadIdx.x; j < q.len; j += blockDim.x) {
        float d = load(xr, j) - mean;
        ss += d * d;
    }
    float inv = 1.0f / sqrtf(block_reduce<false>(ss, sh) / (float)q.len + q.eps);
    for (int64_t j = threadIdx.x; j < q.len; j += blockDim.x) {
        int64_t pi = param_index(q, r, j);
        float v = (load(xr, j) - mean) * inv * load(scale, pi);
        if (bias) v += load(bias, pi);
        yr[j] = store_as<T>(v);
    }
    if (threadIdx.x == 0) {
        if (mean_out) mean_out[r] = mean;
        if (inv_out) inv_out[r] = inv;
    }
}

static int rownorm_block(int64_t len) { return len >= 4096 ? 1024 : len >= 1024 ? 512 : len >= 256 ? 256 : 128; }

template <typename T>
static kiln_status rownorm_launch(int64_t rows, const rownorm &q, const void *x, const kiln_cuda_tensor *scale,
                                  const kiln_cuda_tensor *bias, void *y, float *mo, float *io, cudaStream_t st) {
    KILN_FAIL_IF(rows > INT32_MAX, KILN_ERR_UNSUPPORTED, "too many rows to normalize (%lld)", (long long)rows);
    if (rows == 0) return KILN_OK;
    int block = rownorm_block(q.len);
    if (scale->dtype == KILN_FLOAT && !std::is_same<T, float>::value)
        rownorm_k<T, float><<<(unsigned)rows, block, 0, st>>>(q, (const T *)x, (const float *)scale->data,
                                                              bias ? (const float *)bias->data : NULL, (T *)y, mo, io);
    else
        rownorm_k<T, T><<<(unsigned)rows, block, 0, st>>>(q, (const T *)x, (const T *)scale->data,
                                                          bias ? (const T *)bias->data : NULL, (T *)y, mo, io);
    KC_LAUNCHED();
    return KILN_OK;
}

// Declared dtype of output i (UNDEFINED when unknown).
static kiln_dtype out_dtype(const kiln_node *n, const kiln_graph *g, int i) {
    return has_out(n, i) ? graph_dtype(g, n->out[i]) : KILN_UNDEFINED;
}

static kiln_status ln_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, is_float3, "float, float16 or bfloat16"));
    KILN_TRY(need_same_dtype(n, g, 0, 1));
    if (has_in(n, 2) && strcmp(n->op_type, "RMSNormalization")) KILN_TRY(need_same_dtype(n, g, 0, 2));
    KILN_FAIL_IF(kiln_attr_int(n, "stash_type", 1) != KILN_FLOAT, KILN_ERR_UNSUPPORTED,
                 "%s: stash_type other than float", n->op_type);
    for (int i = 1; i < 3; i++) {
        kiln_dtype t = out_dtype(n, g, i);
        KILN_FAIL_IF(has_out(n, i) && t != KILN_UNDEFINED && t != KILN_FLOAT, KILN_ERR_UNSUPPORTED,
                     "%s: output %d declared %s (float only on CUDA)", n->op_type, i, kiln_dtype_name(t));
    }
    return KILN_OK;
}

static kiln_status ln_run(kiln_cuda_kctx *k) {
    int rms = !strcmp(k->node->op_type, "RMSNormalization");
    const kiln_cuda_tensor *x, *s, *b = rms ? NULL : in(k, 2);
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &s));
    KILN_FAIL_IF(!is_float3(x->dtype) || s->dtype != x->dtype || (b && b->dtype != x->dtype), KILN_ERR_TYPE,
                 "%s: X, Scale and B must share one of float, float16, bfloat16", k->node->op_type);
    int64_t axis = kiln_attr_int(k->node, "axis", -1);
    if (axis < 0) axis += x->rank;
    KILN_FAIL_IF(axis < 0 || axis >= x->rank, KILN_ERR_SHAPE, "%s: axis out of range for rank %d", k->node->op_type,
                 x->rank);
    int64_t rows = 1, cols = 1;
    for (int i = 0; i < x->rank; i++) (i < axis ? rows : cols) *= x->dims[i];
    KILN_FAIL_IF(numel(s) != cols || (b && numel(b) != cols), KILN_ERR_UNSUPPORTED,
                 "%s: Scale / B must have the %lld normalized values (broadcast parameters are not supported on CUDA)",
                 k->node->op_type, (long long)cols);
    kiln_cuda_tensor *y, *mo = NULL, *io = NULL;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t sd[KILN_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) sd[d] = d < axis ? x->dims[d] : 1;
    if (!rms && k->n_out > 1 && has_out(k->node, 1)) KILN_TRY(kiln_cuda_kout(k, 1, KILN_FLOAT, x->rank, sd, &mo));
    if (!rms && k->n_out > 2 && has_out(k->node, 2)) KILN_TRY(kiln_cuda_kout(k, 2, KILN_FLOAT, x->rank, sd, &io));
    KILN_FAIL_IF(cols == 0 && rows > 0, KILN_ERR_UNSUPPORTED, "%s: empty normalized extent", k->node->op_type);
    rownorm q = {cols, kiln_attr_float(k->node, "epsilon", 1e-5f), rms, 0, 1, 1, 1};
    kiln_status st = KILN_OK;
    with_float(x->dtype, [&](auto t) {
        st = rownorm_launch<decltype(t)>(rows, q, x->data, s, b, y->data, mo ? (float *)mo->data : NULL,
                                         io ? (float *)io->data : NULL, stream(k));
    });
    return st;
}

static kiln_status gn_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, is_float3, "float, float16 or bfloat16"));
    KILN_TRY(need_same_dtype(n, g, 0, 1));
    KILN_TRY(need_same_dtype(n, g, 0, 2));
    KILN_FAIL_IF(!strcmp(n->op_type, "GroupNormalization") && kiln_attr_int(n, "num_groups", 0) <= 0,
                 KILN_ERR_UNSUPPORTED, "GroupNormalization needs a positive num_groups");
    KILN_FAIL_IF(kiln_attr_int(n, "stash_type", 1) != KILN_FLOAT, KILN_ERR_UNSUPPORTED,
                 "%s: stash_type other than float", n->op_type);
    return KILN_OK;
}

static kiln_status gn_run(kiln_cuda_kctx *k) {
    int group = !strcmp(k->node->op_type, "GroupNormalization");
    const kiln_cuda_tensor *x, *s, *b;
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &s));
    KILN_TRY(in_req(k, 2, &b));
    KILN_FAIL_IF(!is_float3(x->dtype) || s->dtype != x->dtype || b->dtype != x->dtype || x->rank < 2, KILN_ERR_TYPE,
                 "%s: (N, C, ...) input with scale and bias of one float dtype", k->node->op_type);
    int64_t N = x->dims[0], C = x->dims[1], S = 1;
    for (int i = 2; i < x->rank; i++) S *= x->dims[i];
    int64_t G = group ? kiln_attr_int(k->node, "num_groups", 0) : C;
    KILN_FAIL_IF(G <= 0 || C % G, KILN_ERR_SHAPE, "%s: %lld channels do not split into %lld groups", k->node->op_type,
                 (long long)C, (long long)G);
    // Scale and bias are per channel, except GroupNormalization-18's, which are per group.
    int64_t ns = numel(s);
    int per_group = group && ns == G && (ns != C || k->node->opset < 21);
    int64_t np = per_group ? G : C;
    KILN_FAIL_IF(ns != np || numel(b) != np, KILN_ERR_SHAPE, "%s: scale and bias must have %lld values",
                 k->node->op_type, (long long)np);
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    if (N * C * S == 0) return KILN_OK;
    rownorm q = {C / G * S, kiln_attr_float(k->node, "epsilon", 1e-5f), 0, per_group ? 2 : 1, G, C / G, S};
    kiln_status st = KILN_OK;
    with_float(x->dtype, [&](auto t) {
        st = rownorm_launch<decltype(t)>(N * G, q, x->data, s, b, y->data, NULL, NULL, stream(k));
    });
    return st;
}

// ---------------------------------------------------------------- Softmax / LogSoftmax ----------------------------
// One warp per row (8 rows per 256-thread block).
template <typename T, bool LOG> __global__ void softmax_warp_k(int64_t rows, int64_t len, const T *x, T *y) {
    int64_t r = blockIdx.x * 8LL + threadIdx.x / 32;
    if (r >= rows) return;
    int lane = threadIdx.x % 32;
    const T *xr = x + r * len;
    T *yr = y + r * len;
    float m = -INFINITY;
    for (int64_t j = lane; j < len; j += 32) m = fmaxf(m, load(xr, j));
    m = warp_max(m);
    float s = 0.0f;
    for (int64_t j = lane; j < len; j += 32) s += expf(load(xr, j) - m);
    s = warp_sum(s);
    float ls = logf(s), is = 1.0f / s;
    for (int64_t j = lane; j < len; j += 32) {
        float v = load(xr, j) - m;
        yr[j] = store_as<T>(LOG ? v - ls : expf(v) * is);
    }
}

template <typename T, bool LOG> __global__ void softmax_block_k(int64_t len, const T *x, T *y) {
    __shared__ float sh[33];
    const T *xr = x + blockIdx.x * len;
    T *yr = y + blockIdx.x * len;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) m = fmaxf(m, load(xr, j));
    m = block_reduce<true>(m, sh);
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) s += expf(load(xr, j) - m);
    s = block_reduce<false>(s, sh);
    float ls = logf(s), is = 1.0f / s;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
        float v = load(xr, j) - m;
        yr[j] = store_as<T>(LOG ? v - ls : expf(v) * is);
    }
}

// One thread per (outer, inner) column, stepping over the axis with stride inner.
template <typename T, bool LOG>
__global__ void softmax_col_k(int64_t cols, int64_t len, int64_t inner, const T *x, T *y) {
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x) {
        int64_t o = c / inner, i = c - o * inner, base = o * len * inner + i;
        float m = -INFINITY;
        for (int64_t j = 0; j < len; j++) m = fmaxf(m, load(x, base + j * inner));
        float s = 0.0f;
        for (int64_t j = 0; j < len; j++) s += expf(load(x, base + j * inner) - m);
        float ls = logf(s), is = 1.0f / s;
        for (int64_t j = 0; j < len; j++) {
            float v = load(x, base + j * inner) - m;
            y[base + j * inner] = store_as<T>(LOG ? v - ls : expf(v) * is);
        }
    }
}

static kiln_status softmax_supports(const kiln_node *n, const kiln_graph *g) {
    return need_dtype(n, g, 0, is_float3, "float, float16 or bfloat16");
}

template <typename T, bool LOG>
static void softmax_launch(int64_t outer, int64_t len, int64_t inner, const void *x, void *y, cudaStream_t st) {
    if (inner == 1 && len <= 1024)
        softmax_warp_k<T, LOG><<<(unsigned)((outer + 7) / 8), 256, 0, st>>>(outer, len, (const T *)x, (T *)y);
    else if (inner == 1)
        softmax_block_k<T, LOG><<<(unsigned)outer, len >= 8192 ? 1024 : 256, 0, st>>>(len, (const T *)x, (T *)y);
    else
        softmax_col_k<T, LOG><<<grid_for(outer * inner, 256), 256, 0, st>>>(outer * inner, len, inner, (const T *)x,
                                                                            (T *)y);
}

static kiln_status softmax_run(kiln_cuda_kctx *k) {
    bool lg = !strcmp(k->node->op_type, "LogSoftmax");
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    KILN_FAIL_IF(!is_float3(x->dtype), KILN_ERR_TYPE, "%s: dtype %s not supported on CUDA", k->node->op_type,
                 kiln_dtype_name(x->dtype));
    // Before opset 13: coerce to 2-D at axis (default 1); from 13: normalize along axis (default -1).
    int coerce = k->node->opset > 0 && k->node->opset < 13;
    int64_t axis = kiln_attr_int(k->node, "axis", coerce ? 1 : -1);
    int r = x->rank;
    if (axis < 0) axis += r;
    KILN_FAIL_IF(axis < 0 || axis > r || (axis == r && !(coerce && r > 0)) || (r == 0 && axis != 0), KILN_ERR_SHAPE,
                 "%s: axis out of range for rank %d", k->node->op_type, r);
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < axis) outer *= x->dims[i];
        else if (coerce || i == axis) len *= x->dims[i];
        else inner *= x->dims[i];
    }
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    if (outer * len * inner == 0) return KILN_OK;
    KILN_FAIL_IF(outer > INT32_MAX, KILN_ERR_UNSUPPORTED, "%s: too many rows", k->node->op_type);
    cudaStream_t st = stream(k);
    with_float(x->dtype, [&](auto t) {
        typedef decltype(t) T;
        if (lg) softmax_launch<T, true>(outer, len, inner, x->data, y->data, st);
        else softmax_launch<T, false>(outer, len, inner, x->data, y->data, st);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

} // namespace kc

using namespace kc;

extern "C" const kiln_cuda_op_def kiln_cuda_ops_norm[] = {
    {"BatchNormalization", "", 1, 0, bn_supports, nullptr, nullptr, bn_run},
    {"LayerNormalization", "", 17, 0, ln_supports, nullptr, nullptr, ln_run},
    {"RMSNormalization", "", 23, 0, ln_supports, nullptr, nullptr, ln_run},
    {"InstanceNormalization", "", 1, 0, gn_supports, nullptr, nullptr, gn_run},
    {"GroupNormalization", "", 18, 0, gn_supports, nullptr, nullptr, gn_run},
    {"Softmax", "", 1, 0, softmax_supports, nullptr, nullptr, softmax_run},
    {"LogSoftmax", "", 1, 0, softmax_supports, nullptr, nullptr, softmax_run},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
