// Conv family internals shared by conv.cu (running Conv / ConvTranspose through cuDNN) and conv-tune.cu (choosing
// the cuDNN algorithm at build time): the params, and the cuDNN problem of one call worked out from the shapes.
#pragma once

#include <cudnn.h>

#include <mutex>

#include "backends/cuda/common.cuh"
extern "C" {
#include "backends/cpu/conv-internal.h"
}

namespace kc {

// No algorithm may take more workspace than this, tactic or not; without a tactic (shapes unknown at build time)
// a convolution reserves CONV_WS_DEFAULT and only the run that needs more grows the scratch.
static const size_t CONV_WS_LIMIT = (size_t)256 << 20;
static const size_t CONV_WS_DEFAULT = (size_t)64 << 20;

// The builder's choice for the node (KILN_CUDA_ATTR_TACTIC): tried first; ws_cap bounds every algorithm's workspace.
struct conv_tactic {
    bool set;
    int algo, math;
    size_t ws_cap;
};

struct conv_choice {
    int rank;
    int64_t xd[KILN_MAX_DIMS];
    int algo, math;
};

struct conv_params {
    conv_attrs a;
    int transpose;
    conv_tactic tactic;
    std::mutex mu;
    static const int CACHE = 8;
    int n_cached, next;
    conv_choice cache[CACHE];
};

// The four descriptors of one convolution, destroyed with the struct.
struct dnn_descs {
    cudnnTensorDescriptor_t x = NULL, y = NULL;
    cudnnFilterDescriptor_t w = NULL;
    cudnnConvolutionDescriptor_t c = NULL;
    dnn_descs() = default;
    dnn_descs(const dnn_descs &) = delete;
    dnn_descs &operator=(const dnn_descs &) = delete;
    ~dnn_descs() {
        if (x) cudnnDestroyTensorDescriptor(x);
        if (y) cudnnDestroyTensorDescriptor(y);
        if (w) cudnnDestroyFilterDescriptor(w);
        if (c) cudnnDestroyConvolutionDescriptor(c);
    }
};

// Window copy over planes: out[p, o...] = in[p, o... + shift...] where inside, else 0 (pads and crops).
struct window {
    int nsp;
    int64_t in[3], out[3], shift[3];
    int64_t in_size, out_size;
};

// One Conv / ConvTranspose call as cuDNN sees it. cuDNN pads symmetrically only: otherwise a Conv convolves a
// zero-padded copy of its input (in scratch) and a ConvTranspose computes the uncropped image into scratch and
// copies the window out. For ConvTranspose cuDNN runs the data gradient of the forward convolution that maps the
// output image to the input grid, so d.x describes the ONNX output and d.y the ONNX input.
struct conv_setup {
    bool transpose;
    kiln_dtype dt;
    int nsp, rank;
    int64_t n, c, m, group;         // batch, input channels, output channels, groups
    conv_geom g;
    int64_t ydims[KILN_MAX_DIMS];   // ONNX output dims
    int64_t ny;                     // output elements
    bool direct;                    // cuDNN's padding gives the ONNX result: no copy
    window win;                     // the pad copy (Conv) / crop (ConvTranspose) when not direct
    size_t copy_bytes;              // scratch for that copy, 256-byte aligned
    int64_t img[3], pad[3];         // the image cuDNN sees (padded or uncropped) and its symmetric pads
    dnn_descs d;                    // by conv_setup_descs
};

// Checks dtypes and shapes (messages name the op and the shapes) and works out the geometry. b may be NULL.
kiln_status conv_setup_make(const conv_params *p, const kiln_cuda_tensor *x, const kiln_cuda_tensor *w,
                            const kiln_cuda_tensor *b, conv_setup &s);
// Fills s.d (needs s.ny > 0). The math type is set per algorithm by conv_set_math.
kiln_status conv_setup_descs(conv_setup &s, const int64_t *wdims);

// An algorithm of the forward (Conv) or backward-data (ConvTranspose) family, with its math type.
struct conv_algo {
    int algo;
    cudnnMathType_t math;
};

// FP32 must not silently use TF32 tensor cores: only FMA math is acceptable for float.
bool conv_math_ok(kiln_dtype dt, cudnnMathType_t m);
// Whether a may run s: an acceptable math type, and no FFT algorithm (their error grows with the image size: up to
// 1e-4 absolute on outputs that should be 0 in the ONNX ConvTranspose tests).
bool conv_algo_ok(const conv_setup &s, conv_algo a);
cudnnMathType_t conv_math_for(kiln_dtype dt, cudnnMathType_t m);
// Sets the math type on s.d.c and returns the workspace a's algorithm needs for s (false: cuDNN refuses it).
bool conv_workspace(cudnnHandle_t h, conv_setup &s, conv_algo a, size_t *bytes);
// cuDNN's heuristic order of the algorithms acceptable for s's dtype.
kiln_status conv_heuristic(cudnnHandle_t h, conv_setup &s, conv_algo *out, int cap, int *got);

// The node's params for build-time use (tune, scratch hooks).
kiln_status conv_params_make(const kiln_node *n, conv_params **out);
// A tensor of `type` (shape and dtype; data NULL); false when a dim is unknown.
bool conv_tensor_of(const kiln_type *type, kiln_cuda_tensor *t);
// The op table's tune hook (conv-tune.cu).
kiln_status conv_tune(kiln_graph *g, int node, const kiln_type *opt, const kiln_type *max,
                      const kiln_cuda_tune_env *env, char *choice, size_t choice_cap);

} // namespace kc
