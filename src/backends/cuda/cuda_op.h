/* The CUDA backend's kernel interface (C, usable from .c host code and from .cu files).
 *
 * Execution model (see exec-cuda.c):
 *  - Every IR value has a host side (a kiln_value: kind, dtype, shape, and host data when host-valid) and a device
 *    side (a buffer). Shapes and dtypes are always known on the host, so a kernel computes its output shape from
 *    host metadata, never by reading device memory.
 *  - A node runs either on the device (a kiln_cuda_op_def below, launched on the context's stream) or on the host
 *    (the CPU kernel: fallback for ops the GPU does not run, and small shape computations such as
 *    Shape -> Gather -> Concat -> Reshape, which stay on the host so that enqueue never waits for the device).
 *    The builder reports every fallback node and why; a GPU engine never computes on the CPU silently.
 *  - Inputs a device kernel must read on the host (shape, axes, pads, scales, k of TopK, ...) are flagged in
 *    `host_inputs`; the executor provides them host-valid. All other inputs are device pointers.
 *  - Weights consumed by device nodes are uploaded once per engine and shared by all its contexts.
 *  - Output buffers come from kiln_cuda_kout: the value's slot in the context's arena, planned at the profiles'
 *    max shapes and allocated at context creation (mem-plan.h), or an on-demand buffer kept across runs for values
 *    the plan could not bound. Within the profiles, a run allocates nothing.
 *
 * Kernels never synchronize the stream and never allocate with cudaMalloc themselves (scratch memory comes from
 * kiln_cuda_scratch). Errors are returned as kiln_status with a message (KILN_CUDA_TRY), never abort. */
#ifndef KILN_CUDA_OP_H
#define KILN_CUDA_OP_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kiln_node;
struct kiln_graph;
struct kiln_cuda_exec;

/* A tensor as a device kernel sees it: shape and dtype on the host, data on the device (or on the host for inputs
 * flagged in host_inputs). */
typedef struct kiln_cuda_tensor {
    kiln_dtype dtype;
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    void *data;
} kiln_cuda_tensor;

typedef struct kiln_cuda_kctx {
    const struct kiln_node *node;
    const void *params;                  /* from prepare */
    int n_in, n_out;
    const kiln_cuda_tensor *const *in;   /* in[i] == NULL when the optional input is absent */
    void *stream;                        /* cudaStream_t */
    void *cublaslt;                      /* cublasLtHandle_t, per context */
    void *cudnn;                         /* cudnnHandle_t, per context (bound to stream) */
    struct kiln_cuda_exec *exec;
} kiln_cuda_kctx;

typedef struct kiln_cuda_op_def {
    const char *op_type;
    const char *domain;                  /* "" for ai.onnx */
    int since_version;
    uint32_t host_inputs;                /* bit i: input i is read on the host */
    /* Build/load-time check of dtypes and attributes this kernel handles (NULL: all). Returns KILN_OK or
     * KILN_ERR_UNSUPPORTED with the reason, which the builder reports for the CPU fallback. */
    kiln_status (*supports)(const struct kiln_node *node, const struct kiln_graph *graph);
    kiln_status (*prepare)(const struct kiln_node *node, const struct kiln_graph *graph, void **params);
    void (*release)(void *params);
    kiln_status (*run)(kiln_cuda_kctx *k);
} kiln_cuda_op_def;

/* Allocates (or reuses) device output i with the given dtype/shape; *out receives the tensor (data = device). */
kiln_status kiln_cuda_kout(kiln_cuda_kctx *k, int i, kiln_dtype dtype, int rank, const int64_t *dims,
                           kiln_cuda_tensor **out);
/* Output i aliases input `src` with a new shape (Reshape/Squeeze/Unsqueeze/Flatten/Identity: no copy). */
kiln_status kiln_cuda_kout_alias(kiln_cuda_kctx *k, int i, const kiln_cuda_tensor *src, int rank,
                                 const int64_t *dims);
/* Device scratch memory valid until the kernel returns (stream-ordered reuse by later kernels). */
kiln_status kiln_cuda_scratch(kiln_cuda_kctx *k, size_t bytes, void **ptr);

/* The device implementation of (op_type, domain) at `opset`, or NULL. */
const kiln_cuda_op_def *kiln_cuda_find_op(const char *op_type, const char *domain, int opset);

/* Records a CUDA / cuBLAS / cuDNN failure as a kiln error naming the call; returns KILN_ERR_DEVICE. */
kiln_status kiln_cuda_error(const char *file, int line, const char *what, int code, const char *detail);
#define KILN_CUDA_CHECK(call)                                                                                      \
    do {                                                                                                           \
        int kiln_cu_rc_ = (int)(call);                                                                             \
        if (kiln_cu_rc_ != 0) return kiln_cuda_error(__FILE__, __LINE__, #call, kiln_cu_rc_, NULL);                \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
