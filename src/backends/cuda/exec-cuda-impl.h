/* Internals of the CUDA executor shared by exec-cuda.c (placement, values, running) and exec-cuda-graph.c (CUDA
 * graph capture and replay). Not part of the backend's interface: see exec-cuda.h. */
#ifndef KILN_CUDA_EXEC_IMPL_H
#define KILN_CUDA_EXEC_IMPL_H

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "backends/cuda/exec-cuda.h"
#include "backends/cuda/mem-plan.h"

struct kiln_cuda_program {
    const kiln_graph *g;
    kiln_program *cpu;                  /* CPU kernels for host-placed nodes (all nodes are prepared) */
    const kiln_cuda_op_def **defs;      /* per node: the device kernel, NULL when placed on the host */
    void **params;                      /* per node: the device kernel's params */
    uint8_t *place;                     /* per node: kiln_cuda_place */
    char **why;                         /* per node: reason for host placement */
    int **outer;                        /* per node with subgraphs: root values its subgraphs read by name */
    int *n_outer;
    void **dev_init;                    /* per value: device copy of an initializer read by device nodes */
    kiln_cuda_mem_plan mem;             /* activation arena layout (empty until kiln_cuda_program_plan_memory) */
    int capturable;                     /* every node runs on the device or reads only shapes: CUDA graphs apply */
};

typedef struct dev_slot {
    kiln_cuda_tensor view; /* what kernels see: shape + device data (own buffer, an alias, or a bound input) */
    void *planned;         /* the value's slot in the context's arena (NULL: not planned) */
    size_t planned_cap;
    void *buf;             /* owned buffer for data larger than the slot or unplanned values, kept across runs */
    size_t cap;
    int valid;             /* device side holds this run's data */
} dev_slot;

struct kiln_cuda_exec {
    const kiln_cuda_program *p;
    kiln_exec *host;
    dev_slot *dv;
    uint8_t *hvalid;
    dev_slot sink[8];      /* outputs the graph does not use */
    cudaStream_t own_stream, stream;
    cublasLtHandle_t lt;
    cudnnHandle_t dnn;
    void *arena;           /* activations then kernel scratch: the plan's layout */
    size_t arena_cap;
    int arena_owned;       /* allocated by the executor (else caller memory) */
    int need_memory;       /* created without device memory and none set yet */
    void *scratch;         /* the arena's scratch part, or scratch_own once a kernel asked for more */
    size_t scratch_cap;
    void *scratch_own;
    unsigned generation;   /* bumped whenever a buffer address changes: captured CUDA graphs are stale then */
    int graphs_on;
    struct cuda_graph_state *cg;
    unsigned run_allocs;    /* this run's buffer allocations ... */
    unsigned run_transfers; /* ... and host <-> device copies: either keeps a run out of a CUDA graph */
    const kiln_logger *lg;
    kiln_profiler_fn prof;
    void *prof_user;
    int node;              /* node being run (for kiln_cuda_kout) */
};

/* One pass over the nodes on e->stream (exec-cuda.c). */
kiln_status kiln_cuda_exec_run_nodes(kiln_cuda_exec *e);

/* exec-cuda-graph.c */
enum { KILN_GRAPH_PLAIN = 0, KILN_GRAPH_CAPTURE = 1, KILN_GRAPH_REPLAY = 2 };
int kiln_cuda_graphs_default(void);
void kiln_cuda_graph_free(kiln_cuda_exec *e);
/* How the next run goes: plain launches, capture, or replay of the captured graph. */
int kiln_cuda_graph_mode(kiln_cuda_exec *e);
kiln_status kiln_cuda_graph_replay(kiln_cuda_exec *e);
kiln_status kiln_cuda_graph_capture_run(kiln_cuda_exec *e);
/* Records the key and whether the plain run just made was clean enough to capture next time. */
void kiln_cuda_graph_after_plain_run(kiln_cuda_exec *e, kiln_status st);

#endif
