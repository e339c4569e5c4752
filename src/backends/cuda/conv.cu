// CUDA kernels: conv family (see registry.h): Conv and ConvTranspose (1-D to 3-D) through cuDNN's convolution API.
//
// Geometry (auto_pad, pads, output_shape) is resolved exactly as the CPU reference does; what cuDNN cannot pad goes
// through a copy in scratch (conv.cuh). FP32 runs with CUDNN_FMA_MATH (no TF32), so results match the CPU reference
// to ~1e-5 relative; FP16/BF16 accumulate in FP32. The algorithm is the builder's tactic (conv-tune.cu: measured on
// the plan's GPU) when the node has one and it fits the workspace cap at this shape, else the first of cuDNN's
// heuristic order (cudnnGet*_v7) that fits; the working choice is cached per input shape in the params.
#include <stdlib.h>

#include "backends/cuda/conv.cuh"

namespace kc {

#define KC_DNN(call)                                                                                              \
    do {                                                                                                          \
        cudnnStatus_t kc_s_ = (call);                                                                             \
        if (kc_s_ != CUDNN_STATUS_SUCCESS) return kiln_cuda_error(__FILE__, __LINE__, #call, (int)kc_s_, NULL);   \
    } while (0)

static cudnnDataType_t dnn_type(kiln_dtype t) {
    return t == KILN_FLOAT16 ? CUDNN_DATA_HALF : t == KILN_BFLOAT16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

// cuDNN wants at least 4 dims: a 1-D problem becomes 2-D with H = 1.
static int to_dnn_dims(int nsp, int64_t n, int64_t c, const int64_t *sp, int *out) {
    int nd = nsp == 1 ? 4 : nsp + 2;
    out[0] = (int)n, out[1] = (int)c;
    if (nsp == 1) out[2] = 1, out[3] = (int)sp[0];
    else
        for (int i = 0; i < nsp; i++) out[2 + i] = (int)sp[i];
    return nd;
}

static kiln_status tensor_desc(cudnnTensorDescriptor_t *d, kiln_dtype dt, int nsp, int64_t n, int64_t c,
                               const int64_t *sp) {
    int dims[5], st[5];
    int nd = to_dnn_dims(nsp, n, c, sp, dims);
    int s = 1;
    for (int i = nd - 1; i >= 0; i--) st[i] = s, s *= dims[i];
    KC_DNN(cudnnCreateTensorDescriptor(d));
    KC_DNN(cudnnSetTensorNdDescriptor(*d, dnn_type(dt), nd, dims, st));
    return KILN_OK;
}

// x: the image the filter slides over (Conv input / ConvTranspose output); y: the grid (the other side).
static kiln_status make_descs(dnn_descs &d, kiln_dtype dt, int nsp, int64_t n, int64_t cx, const int64_t *xsp,
                              int64_t cy, const int64_t *ysp, const int64_t *wdims, const int64_t *pad,
                              const int64_t *stride, const int64_t *dil, int64_t group) {
    int wd[5], pd[3], sd[3], dd[3];
    int nd = to_dnn_dims(nsp, wdims[0], wdims[1], wdims + 2, wd);
    for (int i = 0, j = nsp == 1 ? 1 : 0; i < nsp; i++, j++)
        pd[j] = (int)pad[i], sd[j] = (int)stride[i], dd[j] = (int)dil[i];
    if (nsp == 1) pd[0] = 0, sd[0] = 1, dd[0] = 1;
    KILN_TRY(tensor_desc(&d.x, dt, nsp, n, cx, xsp));
    KILN_TRY(tensor_desc(&d.y, dt, nsp, n, cy, ysp));
    KC_DNN(cudnnCreateFilterDescriptor(&d.w));
    KC_DNN(cudnnSetFilterNdDescriptor(d.w, dnn_type(dt), CUDNN_TENSOR_NCHW, nd, wd));
    KC_DNN(cudnnCreateConvolutionDescriptor(&d.c));
    KC_DNN(cudnnSetConvolutionNdDescriptor(d.c, nd - 2, pd, sd, dd, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    KC_DNN(cudnnSetConvolutionGroupCount(d.c, (int)group));
    return KILN_OK;
}

// ---------------------------------------------------------------- helper kernels ----------------------------------
template <typename B> __global__ void window_k(int64_t total, window w, const B *x, B *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t p = i / w.out_size, r = i - p * w.out_size, src = 0, mul = 1;
        bool inside = true;
        for (int d = w.nsp - 1; d >= 0; d--) {
            int64_t o = r % w.out[d], s = o + w.shift[d];
            r /= w.out[d];
            inside &= s >= 0 && s < w.in[d];
            src += s * mul;
            mul *= w.in[d];
        }
        y[i] = inside ? x[p * w.in_size + src] : B(0);
    }
}

static kiln_status window_copy(kiln_dtype dt, int64_t planes, const window &w, const void *x, void *y,
                               cudaStream_t st) {
    int64_t total = planes * w.out_size;
    if (total == 0) return KILN_OK;
    with_bits(dt, [&](auto t) {
        typedef decltype(t) B;
        window_k<B><<<grid_for(total, 256), 256, 0, st>>>(total, w, (const B *)x, (B *)y);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

template <typename T> __global__ void bias_k(int64_t total, int64_t m, int64_t plane, const T *b, T *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = store_as<T>(load(y, i) + load(b, (i / plane) % m));
}

static kiln_status add_bias(kiln_dtype dt, int64_t total, int64_t m, int64_t plane, const void *b, void *y,
                            cudaStream_t st) {
    if (total == 0) return KILN_OK;
    with_float(dt, [&](auto t) {
        typedef decltype(t) T;
        bias_k<T><<<grid_for(total, 256), 256, 0, st>>>(total, m, plane, (const T *)b, (T *)y);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- the cuDNN problem -------------------------------
static kiln_status forward_setup(const conv_params *p, const kiln_cuda_tensor *x, const kiln_cuda_tensor *w,
                                 const kiln_cuda_tensor *b, conv_setup &s) {
    char sx[256], sw[256];
    int64_t n = x->dims[0], c = x->dims[1], m = w->dims[0], group = p->a.group;
    KILN_FAIL_IF(c % group || m % group || w->dims[1] * group != c, KILN_ERR_SHAPE,
                 "Conv: X %s, W %s and group %lld do not fit", shape_str(x, sx, sizeof sx),
                 shape_str(w, sw, sizeof sw), (long long)group);
    KILN_FAIL_IF(b && (b->rank != 1 || b->dims[0] != m), KILN_ERR_SHAPE, "Conv: bias must be [%lld]", (long long)m);
    KILN_TRY(conv_geom_forward(&p->a, s.nsp, x->dims + 2, w->dims + 2, &s.g));
    s.n = n, s.c = c, s.m = m;
    s.ydims[0] = n, s.ydims[1] = m;
    for (int i = 0; i < s.nsp; i++) s.ydims[2 + i] = s.g.grid[i];
    s.direct = true;
    for (int i = 0; i < s.nsp; i++) s.direct &= s.g.pb[i] == s.g.pe[i];
    s.win.nsp = s.nsp, s.win.in_size = s.win.out_size = 1;
    for (int i = 0; i < s.nsp; i++) {
        s.img[i] = s.direct ? s.g.img[i] : s.g.img[i] + s.g.pb[i] + s.g.pe[i];
        s.pad[i] = s.direct ? s.g.pb[i] : 0;
        s.win.in[i] = s.g.img[i], s.win.out[i] = s.img[i], s.win.shift[i] = -s.g.pb[i];
        s.win.in_size *= s.win.in[i], s.win.out_size *= s.win.out[i];
    }
    if (!s.direct) s.copy_bytes = (size_t)(n * c * s.win.out_size) * kiln_dtype_size(s.dt);
    return KILN_OK;
}

static kiln_status transpose_setup(const conv_params *p, const kiln_cuda_tensor *x, const kiln_cuda_tensor *w,
                                   const kiln_cuda_tensor *b, conv_setup &s) {
    char sx[256], sw[256];
    int64_t n = x->dims[0], c = x->dims[1], group = p->a.group, m = w->dims[1] * group;
    KILN_FAIL_IF(w->dims[0] != c || c % group, KILN_ERR_SHAPE, "ConvTranspose: X %s, W %s and group %lld do not fit",
                 shape_str(x, sx, sizeof sx), shape_str(w, sw, sizeof sw), (long long)group);
    KILN_FAIL_IF(b && (b->rank != 1 || b->dims[0] != m), KILN_ERR_SHAPE, "ConvTranspose: bias must be [%lld]",
                 (long long)m);
    KILN_TRY(conv_geom_transpose(&p->a, s.nsp, x->dims + 2, w->dims + 2, &s.g));
    s.n = n, s.c = c, s.m = m;
    s.ydims[0] = n, s.ydims[1] = m;
    for (int i = 0; i < s.nsp; i++) s.ydims[2 + i] = s.g.img[i];
    // Direct when cuDNN's symmetric pad gives exactly the ONNX output: floor((out + 2p - dk) / s) + 1 == in.
    s.direct = true;
    s.win.nsp = s.nsp, s.win.in_size = s.win.out_size = 1;
    int64_t full[3];
    for (int i = 0; i < s.nsp; i++) {
        int64_t dk = (s.g.k[i] - 1) * s.g.d[i] + 1, base = s.g.s[i] * (s.g.grid[i] - 1) + dk;
        full[i] = base; // every position an input touches
        int64_t extra = s.g.img[i] - (base - 2 * s.g.pb[i]);
        s.direct &= s.g.pb[i] == s.g.pe[i] && s.g.pb[i] >= 0 && extra >= 0 && extra < s.g.s[i];
        s.win.in[i] = base, s.win.out[i] = s.g.img[i], s.win.shift[i] = s.g.pb[i];
        s.win.in_size *= base, s.win.out_size *= s.g.img[i];
    }
    for (int i = 0; i < s.nsp; i++) {
        s.img[i] = s.direct ? s.g.img[i] : full[i];
        s.pad[i] = s.direct ? s.g.pb[i] : 0;
    }
    if (!s.direct) s.copy_bytes = (size_t)(n * m * s.win.in_size) * kiln_dtype_size(s.dt);
    return KILN_OK;
}

kiln_status conv_setup_make(const conv_params *p, const kiln_cuda_tensor *x, const kiln_cuda_tensor *w,
                            const kiln_cuda_tensor *b, conv_setup &s) {
    const char *op = p->transpose ? "ConvTranspose" : "Conv";
    char sx[256], sw[256];
    s.transpose = p->transpose;
    s.dt = x->dtype;
    s.group = p->a.group;
    s.copy_bytes = 0;
    KILN_FAIL_IF(!is_float3(s.dt) || w->dtype != s.dt || (b && b->dtype != s.dt), KILN_ERR_TYPE,
                 "%s: dtypes must be float, float16 or bfloat16 and agree", op);
    KILN_FAIL_IF(x->rank < 3 || x->rank > 5 || w->rank != x->rank, KILN_ERR_SHAPE,
                 "%s: X %s and W %s (1-D to 3-D on CUDA)", op, shape_str(x, sx, sizeof sx),
                 shape_str(w, sw, sizeof sw));
    s.rank = x->rank, s.nsp = x->rank - 2;
    memset(&s.win, 0, sizeof s.win);
    KILN_TRY(p->transpose ? transpose_setup(p, x, w, b, s) : forward_setup(p, x, w, b, s));
    s.copy_bytes = (s.copy_bytes + 255) & ~(size_t)255;
    s.ny = 1;
    for (int i = 0; i < s.rank; i++) s.ny *= s.ydims[i];
    // cuDNN takes int dims; the transposed form's uncropped image may be larger than either side
    int64_t most = p->transpose ? INT32_MAX / 4 : INT32_MAX / 2;
    for (int i = 0; i < s.rank; i++)
        KILN_FAIL_IF(x->dims[i] > most || s.ydims[i] > most, KILN_ERR_UNSUPPORTED, "%s: dims too large", op);
    return KILN_OK;
}

kiln_status conv_setup_descs(conv_setup &s, const int64_t *wdims) {
    if (s.transpose) // the forward convolution this is the data gradient of: output image (m) -> input grid (c)
        return make_descs(s.d, s.dt, s.nsp, s.n, s.m, s.img, s.c, s.g.grid, wdims, s.pad, s.g.s, s.g.d, s.group);
    return make_descs(s.d, s.dt, s.nsp, s.n, s.c, s.img, s.m, s.g.grid, wdims, s.pad, s.g.s, s.g.d, s.group);
}

// ---------------------------------------------------------------- algorithms --------------------------------------
bool conv_math_ok(kiln_dtype dt, cudnnMathType_t m) {
    return dt != KILN_FLOAT || m == CUDNN_DEFAULT_MATH || m == CUDNN_FMA_MATH;
}
cudnnMathType_t conv_math_for(kiln_dtype dt, cudnnMathType_t m) { return dt == KILN_FLOAT ? CUDNN_FMA_MATH : m; }

bool conv_algo_ok(const conv_setup &s, conv_algo a) {
    if (!conv_math_ok(s.dt, a.math)) return false;
    if (s.transpose)
        return a.algo != CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT && a.algo != CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING;
    return a.algo != CUDNN_CONVOLUTION_FWD_ALGO_FFT && a.algo != CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING;
}

bool conv_workspace(cudnnHandle_t h, conv_setup &s, conv_algo a, size_t *bytes) {
    *bytes = 0;
    if (cudnnSetConvolutionMathType(s.d.c, conv_math_for(s.dt, a.math)) != CUDNN_STATUS_SUCCESS) return false;
    cudnnStatus_t st =
        s.transpose ? cudnnGetConvolutionBackwardDataWorkspaceSize(h, s.d.w, s.d.y, s.d.c, s.d.x,
                                                                    (cudnnConvolutionBwdDataAlgo_t)a.algo, bytes)
                    : cudnnGetConvolutionForwardWorkspaceSize(h, s.d.x, s.d.w, s.d.c, s.d.y,
                                                              (cudnnConvolutionFwdAlgo_t)a.algo, bytes);
    return st == CUDNN_STATUS_SUCCESS;
}

kiln_status conv_heuristic(cudnnHandle_t h, conv_setup &s, conv_algo *out, int cap, int *got) {
    *got = 0;
    int n = 0;
    if (s.dt == KILN_FLOAT) KC_DNN(cudnnSetConvolutionMathType(s.d.c, CUDNN_FMA_MATH));
    if (s.transpose) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        KC_DNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, s.d.w, s.d.y, s.d.c, s.d.x,
                                                           CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf));
        for (int i = 0; i < n && *got < cap; i++) {
            conv_algo a{(int)perf[i].algo, perf[i].mathType};
            if (perf[i].status == CUDNN_STATUS_SUCCESS && conv_algo_ok(s, a)) out[(*got)++] = a;
        }
    } else {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        KC_DNN(cudnnGetConvolutionForwardAlgorithm_v7(h, s.d.x, s.d.w, s.d.c, s.d.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                      &n, perf));
        for (int i = 0; i < n && *got < cap; i++) {
            conv_algo a{(int)perf[i].algo, perf[i].mathType};
            if (perf[i].status == CUDNN_STATUS_SUCCESS && conv_algo_ok(s, a)) out[(*got)++] = a;
        }
    }
    return KILN_OK;
}

// ---------------------------------------------------------------- params ------------------------------------------
static kiln_status conv_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, is_float3, "float, float16 or bfloat16"));
    KILN_TRY(need_same_dtype(n, g, 0, 1));
    if (has_in(n, 2)) KILN_TRY(need_same_dtype(n, g, 0, 2));
    int r = in_rank(n, g, 0);
    KILN_FAIL_IF(r >= 0 && (r < 3 || r > 5), KILN_ERR_UNSUPPORTED, "%s: rank %d input (1-D to 3-D convolutions only)",
                 n->op_type, r);
    conv_attrs a;
    KILN_TRY(conv_attrs_parse(n, &a));
    return KILN_OK;
}

kiln_status conv_params_make(const kiln_node *n, conv_params **out) {
    *out = NULL;
    conv_params *p = new (std::nothrow) conv_params();
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = conv_attrs_parse(n, &p->a);
    if (st != KILN_OK) {
        delete p;
        return st;
    }
    p->transpose = !strcmp(n->op_type, "ConvTranspose");
    int nt = 0;
    const int64_t *t = kiln_attr_ints(n, KILN_CUDA_ATTR_TACTIC, &nt);
    if (t && nt == 3 && t[0] >= 0 && t[0] < 64 && t[1] >= 0 && t[1] < 16 && t[2] >= 0 &&
        (uint64_t)t[2] <= CONV_WS_LIMIT) {
        p->tactic.set = true;
        p->tactic.algo = (int)t[0], p->tactic.math = (int)t[1], p->tactic.ws_cap = (size_t)t[2];
    } else if (t) {
        delete p;
        return kiln_error(KILN_ERR_INVALID_GRAPH, "%s: %s attribute must be [algorithm, math type, workspace bytes "
                          "<= %zu]", n->op_type, KILN_CUDA_ATTR_TACTIC, CONV_WS_LIMIT);
    }
    *out = p;
    return KILN_OK;
}

static kiln_status conv_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    conv_params *p = NULL;
    KILN_TRY(conv_params_make(n, &p));
    *params = p;
    return KILN_OK;
}

static void conv_release(void *params) { delete (conv_params *)params; }

static bool cache_find(conv_params *p, const kiln_cuda_tensor *x, conv_algo *a) {
    std::lock_guard<std::mutex> lock(p->mu);
    for (int i = 0; i < p->n_cached; i++) {
        const conv_choice &c = p->cache[i];
        if (c.rank == x->rank && !memcmp(c.xd, x->dims, sizeof(int64_t) * (size_t)x->rank)) {
            *a = conv_algo{c.algo, (cudnnMathType_t)c.math};
            return true;
        }
    }
    return false;
}
static void cache_put(conv_params *p, const kiln_cuda_tensor *x, conv_algo a) {
    std::lock_guard<std::mutex> lock(p->mu);
    int slot = p->n_cached < conv_params::CACHE ? p->n_cached++ : (p->next++ % conv_params::CACHE);
    conv_choice &c = p->cache[slot];
    c.rank = x->rank;
    memcpy(c.xd, x->dims, sizeof(int64_t) * (size_t)x->rank);
    c.algo = a.algo, c.math = (int)a.math;
}

// ---------------------------------------------------------------- running -----------------------------------------
// Conv: pad copy (when not direct) -> cudnnConvolutionForward -> bias. ConvTranspose: cudnnConvolutionBackwardData
// into y or the uncropped image in scratch -> crop copy -> bias.
static kiln_status conv_family_run(kiln_cuda_kctx *k) {
    conv_params *p = (conv_params *)k->params;
    const char *op = p->transpose ? "ConvTranspose" : "Conv";
    const kiln_cuda_tensor *x, *w, *b = in(k, 2);
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &w));
    conv_setup s;
    KILN_TRY(conv_setup_make(p, x, w, b, s));
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, s.dt, s.rank, s.ydims, &y));
    if (s.ny == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    int64_t plane = s.transpose ? s.g.img_size : s.g.grid_size;
    if (s.transpose && s.n * s.c == 0) { // no input: the output is the bias alone
        KILN_CUDA_CHECK(cudaMemsetAsync(y->data, 0, (size_t)s.ny * kiln_dtype_size(s.dt), st));
        return b ? add_bias(s.dt, s.ny, s.m, plane, b->data, y->data, st) : KILN_OK;
    }
    cudnnHandle_t h = (cudnnHandle_t)k->cudnn;
    KILN_FAIL_IF(!h, KILN_ERR_INTERNAL, "%s: no cuDNN handle in the context", op);
    KILN_TRY(conv_setup_descs(s, w->dims));

    // Candidates: the cached choice for this shape; else the tactic, then cuDNN's heuristic order.
    conv_algo cand[CUDNN_CONVOLUTION_FWD_ALGO_COUNT + CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT + 1];
    int got = 0;
    bool cached = cache_find(p, x, &cand[0]);
    if (cached) {
        got = 1;
    } else {
        if (p->tactic.set) cand[got++] = conv_algo{p->tactic.algo, (cudnnMathType_t)p->tactic.math};
        int more = 0;
        KILN_TRY(conv_heuristic(h, s, cand + got, (int)(sizeof cand / sizeof cand[0]) - got, &more));
        got += more;
    }
    size_t cap = p->tactic.set ? p->tactic.ws_cap : CONV_WS_LIMIT;
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
    size_t smallest = SIZE_MAX;
    for (int i = 0; i < got; i++) {
        size_t ws_bytes = 0;
        if (!conv_workspace(h, s, cand[i], &ws_bytes)) continue;
        if (ws_bytes < smallest) smallest = ws_bytes;
        if (ws_bytes > cap) continue;
        void *scratch = NULL;
        KILN_TRY(kiln_cuda_scratch(k, s.copy_bytes + ws_bytes + 256, &scratch));
        void *ws = (char *)scratch + s.copy_bytes;
        if (s.transpose) {
            void *dst = s.direct ? y->data : scratch;
            last = cudnnConvolutionBackwardData(h, &one, s.d.w, w->data, s.d.y, x->data, s.d.c,
                                                (cudnnConvolutionBwdDataAlgo_t)cand[i].algo, ws_bytes ? ws : NULL,
                                                ws_bytes, &zero, s.d.x, dst);
            if (last == CUDNN_STATUS_SUCCESS && !s.direct)
                KILN_TRY(window_copy(s.dt, s.n * s.m, s.win, scratch, y->data, st));
        } else {
            const void *xin = x->data;
            if (!s.direct) {
                KILN_TRY(window_copy(s.dt, s.n * s.c, s.win, x->data, scratch, st));
                xin = scratch;
            }
            last = cudnnConvolutionForward(h, &one, s.d.x, xin, s.d.w, w->data, s.d.c,
                                           (cudnnConvolutionFwdAlgo_t)cand[i].algo, ws_bytes ? ws : NULL, ws_bytes,
                                           &zero, s.d.y, y->data);
        }
        if (last == CUDNN_STATUS_SUCCESS) {
            if (!cached) cache_put(p, x, cand[i]);
            if (b) KILN_TRY(add_bias(s.dt, s.ny, s.m, plane, b->data, y->data, st));
            return KILN_OK;
        }
    }
    char sx[256];
    if (last == CUDNN_STATUS_NOT_SUPPORTED && smallest != SIZE_MAX && smallest > cap)
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "%s: X %s needs %zu bytes of cuDNN workspace, more than the %zu the "
                          "plan allows this node (workspace limit)", op, shape_str(x, sx, sizeof sx), smallest, cap);
    return kiln_cuda_error(__FILE__, __LINE__,
                           s.transpose ? "cudnnConvolutionBackwardData (every candidate algorithm)"
                                       : "cudnnConvolutionForward (every candidate algorithm)",
                           (int)last, NULL);
}

// ---------------------------------------------------------------- build-time bound --------------------------------
bool conv_tensor_of(const kiln_type *type, kiln_cuda_tensor *t) {
    memset(t, 0, sizeof *t);
    if (type->kind != KILN_KIND_TENSOR || type->rank < 0 || type->rank > KILN_MAX_DIMS) return false;
    t->dtype = type->dtype;
    t->rank = type->rank;
    for (int d = 0; d < type->rank; d++) {
        if (type->dims[d].v < 0) return false;
        t->dims[d] = type->dims[d].v;
    }
    return true;
}

// Scratch at the max shapes: the copy plus the tactic's workspace (CONV_WS_DEFAULT without a tactic).
static size_t conv_scratch(const kiln_node *n, const kiln_graph *g, const kiln_type *types, const char **what,
                           int *known) {
    *what = "cuDNN workspace";
    conv_params *p = NULL;
    if (conv_params_make(n, &p) != KILN_OK) return *known = 0, 0;
    kiln_cuda_tensor x, w, b;
    bool have_b = has_in(n, 2);
    conv_setup s;
    size_t bytes = 0;
    if (!conv_tensor_of(&types[n->in[0]], &x) || !conv_tensor_of(&types[n->in[1]], &w) ||
        (have_b && !conv_tensor_of(&types[n->in[2]], &b)) ||
        conv_setup_make(p, &x, &w, have_b ? &b : NULL, s) != KILN_OK) {
        *known = 0;
    } else {
        if (s.copy_bytes) *what = p->transpose ? "uncropped output image and cuDNN workspace"
                                               : "zero-padded input copy and cuDNN workspace";
        bytes = s.ny ? s.copy_bytes + (p->tactic.set ? p->tactic.ws_cap : CONV_WS_DEFAULT) + 256 : 0;
    }
    delete p;
    return bytes;
}

} // namespace kc

using namespace kc;

extern "C" const kiln_cuda_op_def kiln_cuda_ops_conv[] = {
    {"Conv", "", 1, 0, conv_supports, conv_prepare, conv_release, conv_family_run, conv_scratch, conv_tune},
    {"ConvTranspose", "", 1, 0, conv_supports, conv_prepare, conv_release, conv_family_run, conv_scratch, conv_tune},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
