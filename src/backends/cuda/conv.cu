// CUDA kernels: conv family (see registry.h): Conv and ConvTranspose (1-D to 3-D) through cuDNN's convolution API.
//
// Geometry (auto_pad, pads, output_shape) is resolved exactly as the CPU reference does. cuDNN only pads
// symmetrically, so an asymmetric Conv copies its input into a zero-padded scratch image first, and a ConvTranspose
// whose crop is not symmetric computes the full (uncropped) image into scratch and copies the window out. FP32
// runs with CUDNN_FMA_MATH (no TF32), so results match the CPU reference to ~1e-5 relative; FP16/BF16 accumulate
// in FP32. The algorithm comes from cuDNN's heuristic (cudnnGet*_v7) and is cached per input shape in the params.
#include <cudnn.h>
#include <stdlib.h>

#include <mutex>

#include "backends/cuda/common.cuh"
extern "C" {
#include "backends/cpu/conv-internal.h"
}

namespace kc {

static const size_t CONV_WS_LIMIT = (size_t)256 << 20;

struct conv_choice {
    int rank;
    int64_t xd[KILN_MAX_DIMS];
    int algo, math;
};

struct conv_params {
    conv_attrs a;
    int transpose;
    std::mutex mu;
    static const int CACHE = 8;
    int n_cached, next;
    conv_choice cache[CACHE];
};

#define KC_DNN(call)                                                                                              \
    do {                                                                                                          \
        cudnnStatus_t kc_s_ = (call);                                                                             \
        if (kc_s_ != CUDNN_STATUS_SUCCESS) return kiln_cuda_error(__FILE__, __LINE__, #call, (int)kc_s_, NULL);   \
    } while (0)

// The four descriptors of one convolution, destroyed with the struct.
struct dnn_descs {
    cudnnTensorDescriptor_t x = NULL, y = NULL;
    cudnnFilterDescriptor_t w = NULL;
    cudnnConvolutionDescriptor_t c = NULL;
    ~dnn_descs() {
        if (x) cudnnDestroyTensorDescriptor(x);
        if (y) cudnnDestroyTensorDescriptor(y);
        if (w) cudnnDestroyFilterDescriptor(w);
        if (c) cudnnDestroyConvolutionDescriptor(c);
    }
};

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
    for (int i = 0, j = nsp == 1 ? 1 : 0; i < nsp; i++, j++) pd[j] = (int)pad[i], sd[j] = (int)stride[i], dd[j] = (int)dil[i];
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
// Window copy over planes: out[p, o...] = in[p, o... + shift...] where inside, else 0 (pads and crops).
struct window {
    int nsp;
    int64_t in[3], out[3], shift[3];
    int64_t in_size, out_size;
};

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

// ---------------------------------------------------------------- supports / prepare ------------------------------
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

static kiln_status conv_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    conv_params *p = new (std::nothrow) conv_params();
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = conv_attrs_parse(n, &p->a);
    if (st != KILN_OK) {
        delete p;
        return st;
    }
    p->transpose = !strcmp(n->op_type, "ConvTranspose");
    *params = p;
    return KILN_OK;
}

static void conv_release(void *params) { delete (conv_params *)params; }

static bool cache_find(conv_params *p, const kiln_cuda_tensor *x, int *algo, int *math) {
    std::lock_guard<std::mutex> lock(p->mu);
    for (int i = 0; i < p->n_cached; i++) {
        const conv_choice &c = p->cache[i];
        if (c.rank == x->rank && !memcmp(c.xd, x->dims, sizeof(int64_t) * (size_t)x->rank)) {
            *algo = c.algo, *math = c.math;
            return true;
        }
    }
    return false;
}
static void cache_put(conv_params *p, const kiln_cuda_tensor *x, int algo, int math) {
    std::lock_guard<std::mutex> lock(p->mu);
    int slot = p->n_cached < conv_params::CACHE ? p->n_cached++ : (p->next++ % conv_params::CACHE);
    conv_choice &c = p->cache[slot];
    c.rank = x->rank;
    memcpy(c.xd, x->dims, sizeof(int64_t) * (size_t)x->rank);
    c.algo = algo, c.math = math;
}

// FP32 must not silently use TF32 tensor cores.
static bool math_ok(kiln_dtype dt, cudnnMathType_t m) {
    return dt != KILN_FLOAT || m == CUDNN_DEFAULT_MATH || m == CUDNN_FMA_MATH;
}
static cudnnMathType_t math_for(kiln_dtype dt, cudnnMathType_t m) { return dt == KILN_FLOAT ? CUDNN_FMA_MATH : m; }

// ---------------------------------------------------------------- Conv --------------------------------------------
static kiln_status conv_run(kiln_cuda_kctx *k) {
    conv_params *p = (conv_params *)k->params;
    const conv_attrs *a = &p->a;
    const kiln_cuda_tensor *x, *w, *b = in(k, 2);
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &w));
    char sx[256], sw[256];
    kiln_dtype dt = x->dtype;
    KILN_FAIL_IF(!is_float3(dt) || w->dtype != dt || (b && b->dtype != dt), KILN_ERR_TYPE,
                 "Conv: dtypes must be float, float16 or bfloat16 and agree");
    KILN_FAIL_IF(x->rank < 3 || x->rank > 5 || w->rank != x->rank, KILN_ERR_SHAPE,
                 "Conv: X %s and W %s (1-D to 3-D on CUDA)", shape_str(x, sx, sizeof sx), shape_str(w, sw, sizeof sw));
    int64_t n = x->dims[0], c = x->dims[1], m = w->dims[0], group = a->group;
    KILN_FAIL_IF(c % group || m % group || w->dims[1] * group != c, KILN_ERR_SHAPE,
                 "Conv: X %s, W %s and group %lld do not fit", shape_str(x, sx, sizeof sx),
                 shape_str(w, sw, sizeof sw), (long long)group);
    KILN_FAIL_IF(b && (b->rank != 1 || b->dims[0] != m), KILN_ERR_SHAPE, "Conv: bias must be [%lld]", (long long)m);
    int nsp = x->rank - 2;
    conv_geom g;
    KILN_TRY(conv_geom_forward(a, nsp, x->dims + 2, w->dims + 2, &g));
    int64_t dims[KILN_MAX_DIMS] = {n, m};
    for (int i = 0; i < nsp; i++) dims[2 + i] = g.grid[i];
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, dt, x->rank, dims, &y));
    int64_t ny = numel(y);
    if (ny == 0) return KILN_OK;
    for (int i = 0; i < x->rank; i++)
        KILN_FAIL_IF(x->dims[i] > INT32_MAX / 2 || dims[i] > INT32_MAX / 2, KILN_ERR_UNSUPPORTED, "Conv: dims too large");

    // Symmetric pads go to cuDNN; otherwise pad into scratch and convolve that with no padding.
    bool sym = true;
    for (int i = 0; i < nsp; i++) sym &= g.pb[i] == g.pe[i];
    int64_t xsp[3], pad[3];
    window win;
    memset(&win, 0, sizeof win);
    win.nsp = nsp, win.in_size = win.out_size = 1;
    for (int i = 0; i < nsp; i++) {
        xsp[i] = sym ? g.img[i] : g.img[i] + g.pb[i] + g.pe[i];
        pad[i] = sym ? g.pb[i] : 0;
        win.in[i] = g.img[i], win.out[i] = xsp[i], win.shift[i] = -g.pb[i];
        win.in_size *= win.in[i], win.out_size *= win.out[i];
    }
    size_t es = kiln_dtype_size(dt), pad_bytes = sym ? 0 : (((size_t)(n * c * win.out_size) * es + 255) & ~(size_t)255);

    cudnnHandle_t h = (cudnnHandle_t)k->cudnn;
    KILN_FAIL_IF(!h, KILN_ERR_INTERNAL, "Conv: no cuDNN handle in the context");
    dnn_descs d;
    KILN_TRY(make_descs(d, dt, nsp, n, c, xsp, m, g.grid, w->dims, pad, g.s, g.d, group));

    int algo, math;
    bool cached = cache_find(p, x, &algo, &math);
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int got = 0;
    if (cached) {
        perf[0].algo = (cudnnConvolutionFwdAlgo_t)algo, perf[0].mathType = (cudnnMathType_t)math;
        perf[0].status = CUDNN_STATUS_SUCCESS, perf[0].memory = 0;
        got = 1;
    } else {
        if (dt == KILN_FLOAT) KC_DNN(cudnnSetConvolutionMathType(d.c, CUDNN_FMA_MATH));
        KC_DNN(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.c, d.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got,
                                                      perf));
    }
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
    for (int i = 0; i < got; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || !math_ok(dt, perf[i].mathType)) continue;
        cudnnMathType_t mt = math_for(dt, perf[i].mathType);
        KC_DNN(cudnnSetConvolutionMathType(d.c, mt));
        size_t ws_bytes = 0;
        if (cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.c, d.y, perf[i].algo, &ws_bytes) !=
                CUDNN_STATUS_SUCCESS ||
            ws_bytes > CONV_WS_LIMIT)
            continue;
        void *scratch = NULL;
        KILN_TRY(kiln_cuda_scratch(k, pad_bytes + ws_bytes + 256, &scratch));
        const void *xin = x->data;
        if (!sym) {
            KILN_TRY(window_copy(dt, n * c, win, x->data, scratch, stream(k)));
            xin = scratch;
        }
        void *ws = (char *)scratch + pad_bytes;
        last = cudnnConvolutionForward(h, &one, d.x, xin, d.w, w->data, d.c, perf[i].algo, ws_bytes ? ws : NULL,
                                       ws_bytes, &zero, d.y, y->data);
        if (last == CUDNN_STATUS_SUCCESS) {
            if (!cached) cache_put(p, x, perf[i].algo, mt);
            if (b) KILN_TRY(add_bias(dt, ny, m, g.grid_size, b->data, y->data, stream(k)));
            return KILN_OK;
        }
    }
    return kiln_cuda_error(__FILE__, __LINE__, "cudnnConvolutionForward (every candidate algorithm)", (int)last, NULL);
}

// ---------------------------------------------------------------- ConvTranspose -----------------------------------
// ONNX geometry as in the CPU reference: img = output, grid = input, pads may be negative with output_shape.
static kiln_status convt_geom(const conv_attrs *a, int nsp, const int64_t *x_sp, const int64_t *w_sp, conv_geom *g) {
    memset(g, 0, sizeof *g);
    KILN_FAIL_IF((a->n_k && a->n_k != nsp) || (a->n_s && a->n_s != nsp) || (a->n_d && a->n_d != nsp) ||
                     (a->n_p && a->n_p != 2 * nsp) || (a->n_op && a->n_op != nsp) ||
                     (a->n_os && a->n_os != nsp && a->n_os != nsp + 2),
                 KILN_ERR_INVALID_GRAPH, "ConvTranspose: attribute lengths do not match %d spatial dims", nsp);
    g->nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        int64_t in = x_sp[i], kk = a->n_k ? a->k[i] : w_sp[i];
        KILN_FAIL_IF(w_sp[i] != kk, KILN_ERR_SHAPE, "kernel_shape[%d] = %lld but W has %lld there", i, (long long)kk,
                     (long long)w_sp[i]);
        int64_t s = a->n_s ? a->s[i] : 1, d = a->n_d ? a->d[i] : 1, op = a->n_op ? a->output_padding[i] : 0;
        int64_t full = s * (in - 1) + op + (kk - 1) * d + 1, out, pb, pe;
        if (a->auto_pad != PAD_SAME_UPPER && a->auto_pad != PAD_SAME_LOWER) {
            pb = a->auto_pad == PAD_NOTSET && a->n_p ? a->pads[i] : 0;
            pe = a->auto_pad == PAD_NOTSET && a->n_p ? a->pads[nsp + i] : 0;
            out = a->n_os ? a->output_shape[a->n_os - nsp + i] : full - pb - pe;
        } else {
            out = a->n_os ? a->output_shape[a->n_os - nsp + i] : in * s;
            int64_t total = full - out;
            int64_t half_ = total >= 0 ? total / 2 : -((-total + 1) / 2);
            pb = a->auto_pad == PAD_SAME_UPPER ? half_ : total - half_;
            pe = total - pb;
        }
        KILN_FAIL_IF(out < 0, KILN_ERR_SHAPE, "ConvTranspose output dim %d would be %lld", i, (long long)out);
        g->img[i] = out, g->grid[i] = in, g->k[i] = kk, g->s[i] = s, g->d[i] = d, g->pb[i] = pb, g->pe[i] = pe;
    }
    conv_geom_finish(g);
    return KILN_OK;
}

static kiln_status convt_run(kiln_cuda_kctx *k) {
    conv_params *p = (conv_params *)k->params;
    const conv_attrs *a = &p->a;
    const kiln_cuda_tensor *x, *w, *b = in(k, 2);
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &w));
    char sx[256], sw[256];
    kiln_dtype dt = x->dtype;
    KILN_FAIL_IF(!is_float3(dt) || w->dtype != dt || (b && b->dtype != dt), KILN_ERR_TYPE,
                 "ConvTranspose: dtypes must be float, float16 or bfloat16 and agree");
    KILN_FAIL_IF(x->rank < 3 || x->rank > 5 || w->rank != x->rank, KILN_ERR_SHAPE,
                 "ConvTranspose: X %s and W %s (1-D to 3-D on CUDA)", shape_str(x, sx, sizeof sx),
                 shape_str(w, sw, sizeof sw));
    int64_t n = x->dims[0], c = x->dims[1], group = a->group, mg = w->dims[1], m = mg * group;
    KILN_FAIL_IF(w->dims[0] != c || c % group, KILN_ERR_SHAPE, "ConvTranspose: X %s, W %s and group %lld do not fit",
                 shape_str(x, sx, sizeof sx), shape_str(w, sw, sizeof sw), (long long)group);
    KILN_FAIL_IF(b && (b->rank != 1 || b->dims[0] != m), KILN_ERR_SHAPE, "ConvTranspose: bias must be [%lld]",
                 (long long)m);
    int nsp = x->rank - 2;
    conv_geom g;
    KILN_TRY(convt_geom(a, nsp, x->dims + 2, w->dims + 2, &g));
    int64_t dims[KILN_MAX_DIMS] = {n, m};
    for (int i = 0; i < nsp; i++) dims[2 + i] = g.img[i];
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, dt, x->rank, dims, &y));
    int64_t ny = numel(y);
    if (ny == 0) return KILN_OK;
    for (int i = 0; i < x->rank; i++)
        KILN_FAIL_IF(x->dims[i] > INT32_MAX / 4 || dims[i] > INT32_MAX / 4, KILN_ERR_UNSUPPORTED,
                     "ConvTranspose: dims too large");
    cudaStream_t st = stream(k);
    if (n * c == 0) { // no input: the output is the bias alone
        KILN_CUDA_CHECK(cudaMemsetAsync(y->data, 0, (size_t)ny * kiln_dtype_size(dt), st));
        return b ? add_bias(dt, ny, m, g.img_size, b->data, y->data, st) : KILN_OK;
    }
    // Direct when cuDNN's symmetric pad gives exactly the ONNX output: floor((out + 2p - dk) / s) + 1 == in.
    bool direct = true;
    int64_t full0[3], pad[3], zero3[3] = {0, 0, 0};
    window win;
    memset(&win, 0, sizeof win);
    win.nsp = nsp, win.in_size = win.out_size = 1;
    for (int i = 0; i < nsp; i++) {
        int64_t dk = (g.k[i] - 1) * g.d[i] + 1, base = g.s[i] * (g.grid[i] - 1) + dk;
        full0[i] = base; // every position an input touches
        int64_t extra = g.img[i] - (base - 2 * g.pb[i]);
        direct &= g.pb[i] == g.pe[i] && g.pb[i] >= 0 && extra >= 0 && extra < g.s[i];
        pad[i] = g.pb[i];
        win.in[i] = base, win.out[i] = g.img[i], win.shift[i] = g.pb[i];
        win.in_size *= base, win.out_size *= g.img[i];
    }
    size_t es = kiln_dtype_size(dt);
    size_t full_bytes = direct ? 0 : (((size_t)(n * m * win.in_size) * es + 255) & ~(size_t)255);

    cudnnHandle_t h = (cudnnHandle_t)k->cudnn;
    KILN_FAIL_IF(!h, KILN_ERR_INTERNAL, "ConvTranspose: no cuDNN handle in the context");
    dnn_descs d;
    // The forward convolution this is the data gradient of maps the output image (m channels) to the input grid.
    KILN_TRY(make_descs(d, dt, nsp, n, m, direct ? g.img : full0, c, g.grid, w->dims, direct ? pad : zero3, g.s, g.d,
                        group));
    int algo, math;
    bool cached = cache_find(p, x, &algo, &math);
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int got = 0;
    if (cached) {
        perf[0].algo = (cudnnConvolutionBwdDataAlgo_t)algo, perf[0].mathType = (cudnnMathType_t)math;
        perf[0].status = CUDNN_STATUS_SUCCESS, perf[0].memory = 0;
        got = 1;
    } else {
        if (dt == KILN_FLOAT) KC_DNN(cudnnSetConvolutionMathType(d.c, CUDNN_FMA_MATH));
        KC_DNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.c, d.x,
                                                           CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf));
    }
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
    for (int i = 0; i < got; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || !math_ok(dt, perf[i].mathType)) continue;
        cudnnMathType_t mt = math_for(dt, perf[i].mathType);
        KC_DNN(cudnnSetConvolutionMathType(d.c, mt));
        size_t ws_bytes = 0;
        if (cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y, d.c, d.x, perf[i].algo, &ws_bytes) !=
                CUDNN_STATUS_SUCCESS ||
            ws_bytes > CONV_WS_LIMIT)
            continue;
        void *scratch = NULL;
        KILN_TRY(kiln_cuda_scratch(k, full_bytes + ws_bytes + 256, &scratch));
        void *dst = direct ? y->data : scratch, *ws = (char *)scratch + full_bytes;
        last = cudnnConvolutionBackwardData(h, &one, d.w, w->data, d.y, x->data, d.c, perf[i].algo,
                                            ws_bytes ? ws : NULL, ws_bytes, &zero, d.x, dst);
        if (last == CUDNN_STATUS_SUCCESS) {
            if (!cached) cache_put(p, x, perf[i].algo, mt);
            if (!direct) KILN_TRY(window_copy(dt, n * m, win, scratch, y->data, st));
            if (b) KILN_TRY(add_bias(dt, ny, m, g.img_size, b->data, y->data, st));
            return KILN_OK;
        }
    }
    return kiln_cuda_error(__FILE__, __LINE__, "cudnnConvolutionBackwardData (every candidate algorithm)", (int)last,
                           NULL);
}

} // namespace kc

using namespace kc;

extern "C" const kiln_cuda_op_def kiln_cuda_ops_conv[] = {
    {"Conv", "", 1, 0, conv_supports, conv_prepare, conv_release, conv_run},
    {"ConvTranspose", "", 1, 0, conv_supports, conv_prepare, conv_release, convt_run},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
