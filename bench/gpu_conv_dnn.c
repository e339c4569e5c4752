/* Where the time of an FP32 cuDNN convolution goes at batch 1 (ResNet-50's shapes), the way kiln's CUDA Conv calls
 * it (src/backends/cuda/conv.cu) and alternatives, to tell host overhead from GPU time:
 *   per-call   every call creates and sets the four descriptors, sets FMA math (no TF32), asks the workspace size,
 *              runs cudnnConvolutionForward with the cached algorithm and destroys the descriptors (kiln today);
 *   persistent the same algorithm on descriptors made once: only cudnnConvolutionForward per call;
 * each reported as host time to issue one call and GPU time per call (CUDA events around a batch of calls). Then
 * the GPU time of every algorithm cudnnGetConvolutionForwardAlgorithm_v7 lists (FMA math), and the measured best
 * of cudnnFindConvolutionForwardAlgorithm. One JSON object per shape on stdout.
 *
 * CMake builds it with the other microbenchmarks (build/bench_gpu_conv_dnn; a stub without CUDA).
 * Usage: bench_gpu_conv_dnn [calls per measurement, default 200] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef KILN_HAVE_CUDA
int main(void) {
    fprintf(stderr, "bench_gpu_conv_dnn: kiln was built without CUDA\n");
    return 1;
}
#else
#include <cuda_runtime_api.h>
#include <cudnn.h>

typedef struct shape {
    const char *name;
    int c, h, w, m, k, stride, pad;
} shape;

/* ResNet-50 at batch 1: the stem, and one of each bottleneck conv per stage */
static const shape SHAPES[] = {
    {"stem 7x7/2", 3, 224, 224, 64, 7, 2, 3},      {"s1 1x1 64->64", 64, 56, 56, 64, 1, 1, 0},
    {"s1 3x3 64", 64, 56, 56, 64, 3, 1, 1},        {"s1 1x1 64->256", 64, 56, 56, 256, 1, 1, 0},
    {"s2 3x3 128", 128, 28, 28, 128, 3, 1, 1},     {"s3 3x3 256", 256, 14, 14, 256, 3, 1, 1},
    {"s3 1x1 1024->256", 1024, 14, 14, 256, 1, 1, 0}, {"s4 3x3 512", 512, 7, 7, 512, 3, 1, 1},
    {"s4 1x1 512->2048", 512, 7, 7, 2048, 1, 1, 0},
};

typedef struct descs {
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t c;
} descs;

static int ok_dnn(cudnnStatus_t s, const char *what) {
    if (s == CUDNN_STATUS_SUCCESS) return 1;
    fprintf(stderr, "bench_gpu_conv_dnn: %s: %s\n", what, cudnnGetErrorString(s));
    return 0;
}

static int ok_cuda(cudaError_t s, const char *what) {
    if (s == cudaSuccess) return 1;
    fprintf(stderr, "bench_gpu_conv_dnn: %s: %s\n", what, cudaGetErrorString(s));
    return 0;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int out_hw(const shape *s, int x) { return (x + 2 * s->pad - s->k) / s->stride + 1; }

static int make(descs *d, const shape *s) {
    int oh = out_hw(s, s->h), ow = out_hw(s, s->w), pad[2] = {s->pad, s->pad}, st[2] = {s->stride, s->stride},
        dil[2] = {1, 1};
    return ok_dnn(cudnnCreateTensorDescriptor(&d->x), "x") && ok_dnn(cudnnCreateTensorDescriptor(&d->y), "y") &&
           ok_dnn(cudnnCreateFilterDescriptor(&d->w), "w") && ok_dnn(cudnnCreateConvolutionDescriptor(&d->c), "c") &&
           ok_dnn(cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, s->c, s->h, s->w), "x") &&
           ok_dnn(cudnnSetTensor4dDescriptor(d->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, s->m, oh, ow), "y") &&
           ok_dnn(cudnnSetFilter4dDescriptor(d->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s->m, s->c, s->k, s->k),
                  "w") &&
           ok_dnn(cudnnSetConvolutionNdDescriptor(d->c, 2, pad, st, dil, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                  "c") &&
           ok_dnn(cudnnSetConvolutionGroupCount(d->c, 1), "group") &&
           ok_dnn(cudnnSetConvolutionMathType(d->c, CUDNN_FMA_MATH), "math");
}

static void destroy(descs *d) {
    cudnnDestroyTensorDescriptor(d->x);
    cudnnDestroyTensorDescriptor(d->y);
    cudnnDestroyFilterDescriptor(d->w);
    cudnnDestroyConvolutionDescriptor(d->c);
}

typedef struct bufs {
    void *x, *w, *y, *ws;
    size_t ws_cap;
} bufs;

/* Runs `calls` convolutions; host issue time and GPU time per call. per_call: descriptors made every call. */
static int measure(cudnnHandle_t h, cudaStream_t st, const shape *s, const descs *pd, cudnnConvolutionFwdAlgo_t algo,
                   const bufs *b, int calls, int per_call, double *host_ms, double *gpu_ms) {
    const float one = 1.0f, zero = 0.0f;
    cudaEvent_t e0, e1;
    if (!ok_cuda(cudaEventCreate(&e0), "event") || !ok_cuda(cudaEventCreate(&e1), "event")) return 0;
    int good = 1;
    for (int rep = 0; rep < 2 && good; rep++) { /* the first pass warms up */
        if (!ok_cuda(cudaStreamSynchronize(st), "sync")) return 0;
        double t0 = now_ms();
        cudaEventRecord(e0, st);
        for (int i = 0; i < calls && good; i++) {
            descs local, *d = (descs *)pd;
            size_t ws = 0;
            if (per_call) {
                if (!make(&local, s)) return 0;
                d = &local;
                good = ok_dnn(cudnnGetConvolutionForwardWorkspaceSize(h, d->x, d->w, d->c, d->y, algo, &ws), "ws");
            } else {
                good = ok_dnn(cudnnGetConvolutionForwardWorkspaceSize(h, d->x, d->w, d->c, d->y, algo, &ws), "ws");
            }
            good = good && ws <= b->ws_cap &&
                   ok_dnn(cudnnConvolutionForward(h, &one, d->x, b->x, d->w, b->w, d->c, algo, ws ? b->ws : NULL, ws,
                                                  &zero, d->y, b->y),
                          "forward");
            if (per_call) destroy(&local);
        }
        double t1 = now_ms();
        cudaEventRecord(e1, st);
        if (!ok_cuda(cudaEventSynchronize(e1), "sync")) return 0;
        float g = 0;
        cudaEventElapsedTime(&g, e0, e1);
        *host_ms = (t1 - t0) / calls;
        *gpu_ms = g / calls;
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return good;
}

int main(int argc, char **argv) {
    int calls = argc > 1 ? atoi(argv[1]) : 200;
    if (calls < 1) calls = 1;
    cudnnHandle_t h;
    cudaStream_t st;
    if (!ok_cuda(cudaStreamCreate(&st), "stream") || !ok_dnn(cudnnCreate(&h), "cudnnCreate") ||
        !ok_dnn(cudnnSetStream(h, st), "cudnnSetStream"))
        return 1;
    bufs b = {0};
    b.ws_cap = (size_t)256 << 20;
    size_t big = (size_t)64 << 20;
    if (!ok_cuda(cudaMalloc(&b.x, big), "x") || !ok_cuda(cudaMalloc(&b.w, big), "w") ||
        !ok_cuda(cudaMalloc(&b.y, big), "y") || !ok_cuda(cudaMalloc(&b.ws, b.ws_cap), "ws"))
        return 1;
    cudaMemset(b.x, 0, big);
    cudaMemset(b.w, 0, big);
    printf("{\"cudnn\": %zu, \"calls\": %d, \"shapes\": [\n", cudnnGetVersion(), calls);
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++) {
        const shape *s = &SHAPES[i];
        descs d;
        if (!make(&d, s)) return 1;
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int got = 0;
        if (!ok_dnn(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.c, d.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                           &got, perf),
                    "v7"))
            return 1;
        int first = -1;
        printf("%s{\"shape\": \"%s\", \"gflop\": %.4f, \"v7\": [", i ? ",\n" : "", s->name,
               2e-9 * s->m * out_hw(s, s->h) * out_hw(s, s->w) * s->c * s->k * s->k);
        int printed = 0;
        for (int j = 0; j < got; j++) {
            if (perf[j].status != CUDNN_STATUS_SUCCESS || perf[j].mathType == CUDNN_TENSOR_OP_MATH ||
                perf[j].memory > b.ws_cap)
                continue;
            double hm = 0, gm = 0;
            if (!measure(h, st, s, &d, perf[j].algo, &b, calls / 4 + 1, 0, &hm, &gm)) continue;
            if (first < 0) first = j;
            printf("%s{\"algo\": %d, \"gpu_ms\": %.5f, \"ws_mib\": %.2f}", printed++ ? ", " : "", (int)perf[j].algo,
                   gm, perf[j].memory / 1048576.0);
        }
        printf("]");
        if (first >= 0) {
            double ph = 0, pg = 0, kh = 0, kg = 0;
            measure(h, st, s, &d, perf[first].algo, &b, calls, 0, &ph, &pg);
            measure(h, st, s, &d, perf[first].algo, &b, calls, 1, &kh, &kg);
            printf(", \"heuristic_algo\": %d, \"per_call\": {\"host_ms\": %.5f, \"gpu_ms\": %.5f}, "
                   "\"persistent\": {\"host_ms\": %.5f, \"gpu_ms\": %.5f}",
                   (int)perf[first].algo, kh, kg, ph, pg);
        }
        cudnnConvolutionFwdAlgoPerf_t fp[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int nf = 0;
        if (ok_dnn(cudnnFindConvolutionForwardAlgorithmEx(h, d.x, b.x, d.w, b.w, d.c, d.y, b.y,
                                                          CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &nf, fp, b.ws, b.ws_cap),
                   "find")) {
            for (int j = 0; j < nf; j++)
                if (fp[j].status == CUDNN_STATUS_SUCCESS && fp[j].mathType != CUDNN_TENSOR_OP_MATH) {
                    printf(", \"find_best\": {\"algo\": %d, \"ms\": %.5f}", (int)fp[j].algo, fp[j].time);
                    break;
                }
        }
        printf("}");
        fflush(stdout);
        destroy(&d);
    }
    printf("\n]}\n");
    cudaFree(b.x);
    cudaFree(b.w);
    cudaFree(b.y);
    cudaFree(b.ws);
    cudnnDestroy(h);
    cudaStreamDestroy(st);
    return 0;
}
#endif /* KILN_HAVE_CUDA */
