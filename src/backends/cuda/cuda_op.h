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
struct kiln_type;
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

/* What a build-time tune hook gets besides the node: the workspace limit and handles on the plan's GPU. */
typedef struct kiln_cuda_tune_env {
    size_t limit;                        /* kiln_config_set_workspace bytes; 0: no limit */
    void *cudnn;                         /* cudnnHandle_t */
    void *stream;                        /* cudaStream_t the handle is bound to */
    int timed;                           /* 0: choose without timing (KILN_PASSES_OFF=tactics, for comparisons) */
    void *l2_flush;                      /* device buffer of l2_flush_bytes (twice the L2 cache) written between
                                          * timed runs, so that no candidate finds its weights in the cache; NULL:
                                          * none could be had */
    size_t l2_flush_bytes;
} kiln_cuda_tune_env;

/* Attributes the builder adds to nodes (carried by the plan, read by prepare()): a convolution's tactic
 * [cuDNN algorithm, math type, workspace bytes at the profiles' max shapes], a GEMM's workspace cap [bytes]. */
#define KILN_CUDA_ATTR_TACTIC "kiln_tactic"
#define KILN_CUDA_ATTR_WORKSPACE "kiln_workspace"

/* Kernel tables list the members up to `run`; the build-time hooks after it are optional (left NULL). */
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
    /* Most bytes run() asks kiln_cuda_scratch for when g's values have the types `types` (indexed by value id: the
     * profiles' max shapes), with the node's recorded tactic. *what names the buffers for messages; *known = 0 when
     * a dim it depends on is not a number. NULL: the kernel uses no scratch. */
    size_t (*scratch)(const struct kiln_node *node, const struct kiln_graph *graph, const struct kiln_type *types,
                      const char **what, int *known);
    /* Build time, on the GPU the plan is for (NULL: nothing to choose): picks how node `node` of g runs within
     * env->limit bytes of scratch, timing candidates at the `opt` types and checking them at the `max` types, and
     * records the choice as attributes of the node. Fails with the numbers when the kernel cannot run within the
     * limit; writes a line for the build log into choice (empty: nothing was chosen, e.g. unknown shapes). */
    kiln_status (*tune)(struct kiln_graph *g, int node, const struct kiln_type *opt, const struct kiln_type *max,
                        const kiln_cuda_tune_env *env, char *choice, size_t choice_cap);
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
