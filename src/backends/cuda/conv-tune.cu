// Build-time tactic choice for Conv and ConvTranspose (the conv op table's tune hook).
//
// cuDNN times its algorithms on the plan's GPU at the first profile's opt shapes (cudnnFind*AlgorithmEx on buffers
// of our own); every candidate is then timed again the way a run executes it (retime: a replayed CUDA graph with a
// cold L2 cache), and the builder keeps the fastest deterministic one whose workspace, at the profiles' max shapes,
// fits the workspace limit together with the node's pad / crop copy. FFT algorithms are left out (conv_algo_ok):
// their rounding error grows with the image, well past FP32's. The choice and its workspace go into the node's
// KILN_CUDA_ATTR_TACTIC attribute, which the plan carries; conv.cu runs it and reserves that workspace.
// Measured on an H100 (bench/results/gpu-tactics-2026-11-25.txt): ResNet-50 1.94 ms with tactics, 2.21 ms with
// cuDNN's untimed heuristic order.
#include <stdio.h>

#include <memory>
#include <utility>

#include "backends/cuda/conv.cuh"

namespace kc {

namespace {

struct dev_buf {
    void *p = NULL;
    ~dev_buf() {
        if (p) cudaFree(p);
    }
};

// Timing buffers: a failure is not an error of the build (the tactic is then chosen untimed).
bool alloc_filled(dev_buf &b, size_t bytes) {
    if (cudaMalloc(&b.p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError();
        b.p = NULL;
        return false;
    }
    // small non-zero values in every float format (0x3c3c...: about 0.0115 as float and bfloat16, 1.06 as half)
    return cudaMemset(b.p, 0x3c, bytes) == cudaSuccess;
}

const char *fwd_name(int a) {
    static const char *const names[] = {"implicit_gemm", "implicit_precomp_gemm", "gemm",     "direct",
                                        "fft",           "fft_tiling",            "winograd", "winograd_nonfused"};
    return a >= 0 && a < (int)(sizeof names / sizeof names[0]) ? names[a] : "algo";
}

struct timed {
    conv_algo a;
    float ms;        // < 0: not timed
    size_t memory;   // workspace at the timed shapes
};

// The operands of one convolution at the timed shapes, and the largest workspace the GPU grants up to the cap.
struct operands {
    dev_buf x, y, w, ws;
    size_t ws_bytes = 0;
};

bool operands_make(const conv_setup &s, const int64_t *wdims, size_t ws_cap, operands &o) {
    size_t es = kiln_dtype_size(s.dt);
    int64_t img = 1, grid = 1, wn = 1;
    for (int i = 0; i < s.nsp; i++) img *= s.img[i], grid *= s.g.grid[i];
    for (int i = 0; i < s.rank; i++) wn *= wdims[i];
    // forward reads the image (c channels) and writes the grid (m); the data gradient reads the grid (c) and
    // writes the image (m)
    size_t xb = (size_t)(s.n * (s.transpose ? s.m : s.c) * img) * es;
    size_t yb = (size_t)(s.n * (s.transpose ? s.c : s.m) * grid) * es;
    if (!alloc_filled(o.x, xb) || !alloc_filled(o.y, yb) || !alloc_filled(o.w, (size_t)wn * es)) return false;
    o.ws_bytes = ws_cap;
    while (o.ws_bytes && cudaMalloc(&o.ws.p, o.ws_bytes) != cudaSuccess) {
        cudaGetLastError();
        o.ws.p = NULL;
        o.ws_bytes /= 2;
    }
    return true;
}

cudnnStatus_t launch(cudnnHandle_t h, conv_setup &s, conv_algo a, size_t ws_bytes, operands &o) {
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t st = cudnnSetConvolutionMathType(s.d.c, conv_math_for(s.dt, a.math));
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (s.transpose)
        return cudnnConvolutionBackwardData(h, &one, s.d.w, o.w.p, s.d.y, o.y.p, s.d.c,
                                            (cudnnConvolutionBwdDataAlgo_t)a.algo, o.ws.p, ws_bytes, &zero, s.d.x,
                                            o.x.p);
    return cudnnConvolutionForward(h, &one, s.d.x, o.x.p, s.d.w, o.w.p, s.d.c, (cudnnConvolutionFwdAlgo_t)a.algo,
                                   o.ws.p, ws_bytes, &zero, s.d.y, o.y.p);
}

// cuDNN's timed results, fastest first, for the algorithms a tactic may use.
int find_timed(cudnnHandle_t h, conv_setup &s, operands &o, timed *out, int cap, const char **why) {
    if (cudnnSetConvolutionMathType(s.d.c, conv_math_for(s.dt, CUDNN_DEFAULT_MATH)) != CUDNN_STATUS_SUCCESS) {
        *why = "cudnnSetConvolutionMathType failed";
        return 0;
    }
    int n = 0, got = 0;
    cudnnStatus_t st;
    if (s.transpose) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        st = cudnnFindConvolutionBackwardDataAlgorithmEx(h, s.d.w, o.w.p, s.d.y, o.y.p, s.d.c, s.d.x, o.x.p,
                                                         CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf, o.ws.p,
                                                         o.ws_bytes);
        for (int i = 0; st == CUDNN_STATUS_SUCCESS && i < n && got < cap; i++) {
            conv_algo a{(int)perf[i].algo, perf[i].mathType};
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
                conv_algo_ok(s, a))
                out[got++] = timed{a, perf[i].time, perf[i].memory};
        }
    } else {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        st = cudnnFindConvolutionForwardAlgorithmEx(h, s.d.x, o.x.p, s.d.w, o.w.p, s.d.c, s.d.y, o.y.p,
                                                    CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf, o.ws.p, o.ws_bytes);
        for (int i = 0; st == CUDNN_STATUS_SUCCESS && i < n && got < cap; i++) {
            conv_algo a{(int)perf[i].algo, perf[i].mathType};
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
                conv_algo_ok(s, a))
                out[got++] = timed{a, perf[i].time, perf[i].memory};
        }
    }
    if (st != CUDNN_STATUS_SUCCESS) *why = cudnnGetErrorString(st);
    return got;
}

// cuDNN's Find runs each algorithm about once, with everything in the L2 cache, and its figure includes the host
// work of the call. A run replays a CUDA graph (no host work between kernels) and reads each layer's weights from
// device memory. So every candidate that fits is timed again the way a run executes it: captured into a CUDA graph,
// the graph replayed with the L2 cache flushed (env->l2_flush written) before each replay, median of RETIME_RUNS
// after a warm-up. (Timing plain launches instead ranks algorithms with more host work, such as
// implicit_precomp_gemm, several times too slow.) Returns < 0 when capture or a launch fails.
enum { RETIME_RUNS = 9 };

float retime(cudnnHandle_t h, conv_setup &s, conv_algo a, size_t ws_bytes, operands &o,
             const kiln_cuda_tune_env *env) {
    cudaStream_t st = (cudaStream_t)env->stream;
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    cudaEvent_t ev[2 * RETIME_RUNS];
    int made = 0;
    float ms[RETIME_RUNS], result = -1;
    for (; made < 2 * RETIME_RUNS; made++)
        if (cudaEventCreate(&ev[made]) != cudaSuccess) break;
    bool ok = made == 2 * RETIME_RUNS && cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
    if (ok) {
        bool launched = launch(h, s, a, ws_bytes, o) == CUDNN_STATUS_SUCCESS;
        ok = cudaStreamEndCapture(st, &graph) == cudaSuccess && launched &&
             cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
    }
    for (int w = 0; ok && w < 2; w++) ok = cudaGraphLaunch(exec, st) == cudaSuccess;
    for (int r = 0; ok && r < RETIME_RUNS; r++) {
        if (env->l2_flush) ok = cudaMemsetAsync(env->l2_flush, r & 1, env->l2_flush_bytes, st) == cudaSuccess;
        ok = ok && cudaEventRecord(ev[2 * r], st) == cudaSuccess && cudaGraphLaunch(exec, st) == cudaSuccess &&
             cudaEventRecord(ev[2 * r + 1], st) == cudaSuccess;
    }
    if (ok) ok = cudaEventSynchronize(ev[2 * RETIME_RUNS - 1]) == cudaSuccess;
    for (int r = 0; ok && r < RETIME_RUNS; r++)
        ok = cudaEventElapsedTime(&ms[r], ev[2 * r], ev[2 * r + 1]) == cudaSuccess;
    if (ok) {
        for (int i = 1; i < RETIME_RUNS; i++) // insertion sort: nine values
            for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) std::swap(ms[j], ms[j - 1]);
        result = ms[RETIME_RUNS / 2];
    }
    cudaStreamSynchronize(st);
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
    for (int i = 0; i < made; i++) cudaEventDestroy(ev[i]);
    cudaGetLastError();
    return result;
}

} // namespace

kiln_status conv_tune(kiln_graph *g, int node, const kiln_type *opt, const kiln_type *max,
                      const kiln_cuda_tune_env *env, char *choice, size_t choice_cap) {
    choice[0] = 0;
    const kiln_node *n = &g->nodes[node];
    conv_params *raw = NULL;
    KILN_TRY(conv_params_make(n, &raw));
    std::unique_ptr<conv_params> p(raw);
    p->tactic.set = false; // a tactic the model brought along is not ours: choose afresh
    bool hb = has_in(n, 2);
    kiln_cuda_tensor xm, wm, bm, xo, wo, bo;
    if (!conv_tensor_of(&max[n->in[0]], &xm) || !conv_tensor_of(&max[n->in[1]], &wm) ||
        (hb && !conv_tensor_of(&max[n->in[2]], &bm))) {
        snprintf(choice, choice_cap, "not tuned: shapes at the profile maxima unknown");
        return KILN_OK;
    }
    conv_setup sm;
    KILN_TRY(conv_setup_make(p.get(), &xm, &wm, hb ? &bm : NULL, sm));
    if (sm.ny == 0 || (sm.transpose && sm.n * sm.c == 0)) return KILN_OK; // nothing for cuDNN to do
    size_t fixed = sm.copy_bytes + 256;
    char sx[256];
    KILN_FAIL_IF(env->limit && fixed > env->limit, KILN_ERR_OUT_OF_MEMORY,
                 "needs %zu bytes of GPU scratch for X %s at the maximum shapes (the %s), more than the workspace "
                 "limit of %zu bytes (kiln_config_set_workspace)",
                 fixed, shape_str(&xm, sx, sizeof sx),
                 sm.transpose ? "uncropped output image cuDNN computes" : "zero-padded copy of the input cuDNN reads",
                 env->limit);
    size_t ws_cap = CONV_WS_LIMIT;
    if (env->limit && env->limit - fixed < ws_cap) ws_cap = env->limit - fixed;
    KILN_TRY(conv_setup_descs(sm, wm.dims));

    // timed at the opt shapes when they are known, else at the maxima
    bool have_opt = conv_tensor_of(&opt[n->in[0]], &xo) && conv_tensor_of(&opt[n->in[1]], &wo) &&
                    (!hb || conv_tensor_of(&opt[n->in[2]], &bo));
    conv_setup so;
    conv_setup *ts = &sm;
    const int64_t *tw = wm.dims;
    if (have_opt) {
        KILN_TRY(conv_setup_make(p.get(), &xo, &wo, hb ? &bo : NULL, so));
        if (so.ny && !(so.transpose && so.n * so.c == 0)) {
            KILN_TRY(conv_setup_descs(so, wo.dims));
            ts = &so, tw = wo.dims;
        }
    }
    cudnnHandle_t h = (cudnnHandle_t)env->cudnn;
    enum { CAP = CUDNN_CONVOLUTION_FWD_ALGO_COUNT + CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT };
    timed cand[CAP];
    const char *why = "timing turned off (KILN_PASSES_OFF=tactics)";
    operands o;
    int got = 0;
    if (env->timed && !operands_make(*ts, tw, ws_cap, o)) why = "no GPU memory for the timing buffers";
    else if (env->timed) got = find_timed(h, *ts, o, cand, CAP, &why);
    bool was_timed = got > 0;
    // cuDNN's heuristic order: what a run without a tactic would try; the candidates when timing failed
    conv_algo order[CAP];
    int n_order = 0;
    KILN_TRY(conv_heuristic(h, sm, order, CAP, &n_order));
    if (!was_timed) {
        for (int i = 0; i < n_order; i++) cand[i] = timed{order[i], -1.0f, 0};
        got = n_order;
    }
    // the candidates that fit the cap at the maxima, in cuDNN's order, each timed again
    size_t smallest = SIZE_MAX, at_max[CAP];
    int fit[CAP], n_fit = 0, best = -1;
    for (int i = 0; i < got; i++) {
        if (cand[i].memory > ws_cap || !conv_workspace(h, sm, cand[i].a, &at_max[i])) continue;
        if (at_max[i] < smallest) smallest = at_max[i];
        if (at_max[i] <= ws_cap) fit[n_fit++] = i;
    }
    float best_ms = -1, first_ms = -1;
    for (int k = 0; was_timed && k < n_fit; k++) {
        int i = fit[k];
        if (cand[i].memory > o.ws_bytes) continue;
        float ms = retime(h, *ts, cand[i].a, cand[i].memory, o, env);
        if (ms < 0) continue;
        cand[i].ms = ms;
        if (best < 0 || ms < best_ms) best = i, best_ms = ms;
    }
    if (best < 0 && n_fit) best = fit[0];
    if (best >= 0) {
        int64_t t[3] = {cand[best].a.algo, (int64_t)cand[best].a.math, (int64_t)at_max[best]};
        KILN_TRY(kiln_graph_node_set_ints(g, node, KILN_CUDA_ATTR_TACTIC, t, 3));
        const char *kind = sm.transpose ? "backward-data" : "forward";
        const char *name = sm.transpose ? "data gradient" : fwd_name(cand[best].a.algo);
        if (!was_timed) {
            snprintf(choice, choice_cap, "%s algorithm %d (%s), workspace %zu bytes at the maxima; untimed: %s", kind,
                     cand[best].a.algo, name, at_max[best], why);
            return KILN_OK;
        }
        for (int j = 0; n_order && j < got; j++)
            if (cand[j].a.algo == order[0].algo) first_ms = cand[j].ms;
        snprintf(choice, choice_cap, "%s algorithm %d (%s) %.4f ms at the opt shapes, workspace %zu bytes at the "
                 "maxima; cuDNN's heuristic first: algorithm %d, %.4f ms", kind, cand[best].a.algo, name,
                 cand[best].ms, at_max[best], n_order ? order[0].algo : -1, first_ms);
        return KILN_OK;
    }
    if (smallest == SIZE_MAX)
        return kiln_error(KILN_ERR_UNSUPPORTED, "cuDNN has no algorithm for X %s", shape_str(&xm, sx, sizeof sx));
    return kiln_error(KILN_ERR_OUT_OF_MEMORY,
                      "no cuDNN algorithm for X %s runs within the workspace limit: the smallest needs %zu bytes of "
                      "workspace + %zu of copies, the limit is %zu bytes (kiln_config_set_workspace)",
                      shape_str(&xm, sx, sizeof sx), smallest, fixed, env->limit);
}

} // namespace kc
