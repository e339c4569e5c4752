/* The CUDA executor: places each node on the device or the host, keeps every value's host and device sides
 * coherent, and runs an engine's graph on a CUDA stream (execution model: cuda_op.h). */
#ifndef KILN_CUDA_EXEC_H
#define KILN_CUDA_EXEC_H

#include "backends/cuda/cuda_op.h"
#include "ir/graph.h"
#include "plan/plan.h"
#include "runtime/exec.h"

typedef struct kiln_cuda_program kiln_cuda_program;
typedef struct kiln_cuda_exec kiln_cuda_exec;

typedef enum kiln_cuda_place {
    KILN_PLACE_DEVICE = 0, /* a CUDA kernel */
    KILN_PLACE_HOST = 1,   /* the CPU kernel (fallback or shape computation) */
    KILN_PLACE_META = 2,   /* the CPU kernel, reading only shapes (Shape, Size): no data moves */
} kiln_cuda_place;

/* Places and prepares every node of g (borrowed: must outlive the program). With upload=1 the weights that
 * device nodes read are copied to the GPU now (engine load); the builder passes 0 to place without a GPU. */
kiln_status kiln_cuda_program_create(const kiln_graph *g, int upload, kiln_cuda_program **out);
void kiln_cuda_program_destroy(kiln_cuda_program *p);
/* Where node i runs, and why it is not on the device (NULL when it is). */
kiln_cuda_place kiln_cuda_program_place(const kiln_cuda_program *p, int i, const char **why);
/* Node i's device kernel (NULL when it runs on the host). */
const kiln_cuda_op_def *kiln_cuda_program_op(const kiln_cuda_program *p, int i);

/* Plans the activation memory of p's graph for these optimization profiles (engine load) and logs the outcome at
 * INFO (sizes) and VERBOSE (values left to on-demand buffers). */
kiln_status kiln_cuda_program_plan_memory(kiln_cuda_program *p, const kiln_profile_data *profiles, int n_profiles,
                                          const kiln_logger *lg);
/* Device memory one context needs: the activation arena plus the kernel scratch. */
size_t kiln_cuda_program_device_memory(const kiln_cuda_program *p);

/* With own_memory the context's device memory is allocated now (an out-of-memory error gives the numbers);
 * without, kiln_cuda_exec_set_memory must give it before the first run. */
kiln_status kiln_cuda_exec_create(const kiln_cuda_program *p, int own_memory, kiln_cuda_exec **out);
/* Uses caller device memory (borrowed until destroy or the next call) as the context's arena, replacing its own. */
kiln_status kiln_cuda_exec_set_memory(kiln_cuda_exec *e, void *ptr, size_t size);
/* CUDA graph capture and replay of runs at repeated shapes (default on; KILN_CUDA_GRAPHS=0 turns the default off).
 * A context keeps one graph per key (input shapes and addresses), at most this many, least recently used evicted. */
#define KILN_CUDA_GRAPHS_PER_CONTEXT 8
void kiln_cuda_exec_set_graphs(kiln_cuda_exec *e, int on);
/* Where VERBOSE notes (capture fallbacks) go; borrowed. */
void kiln_cuda_exec_set_logger(kiln_cuda_exec *e, const kiln_logger *lg);
/* Debug counters over the process: device allocations made by executors and programs, CUDA graphs captured and
 * replayed. Tests use them to check that warm runs allocate nothing and that replays happen. */
unsigned long long kiln_cuda_malloc_count(void);
void kiln_cuda_graph_counts(unsigned long long *captures, unsigned long long *replays);
/* Captured graphs alive now over all contexts, and graphs destroyed to make room for another key. */
void kiln_cuda_graph_cache_counts(unsigned long long *live, unsigned long long *evictions);
void kiln_cuda_exec_destroy(kiln_cuda_exec *e);
/* Graph input i as device memory (borrowed for the run). */
kiln_status kiln_cuda_exec_bind_device(kiln_cuda_exec *e, int i, kiln_dtype dtype, int rank, const int64_t *dims,
                                       const void *dev);
/* Graph input i as a host value (sequences, optionals, or host data): copied into the executor. */
kiln_status kiln_cuda_exec_bind_host(kiln_cuda_exec *e, int i, const kiln_value *v);
/* Runs every node on `stream` (cudaStream_t; NULL = the context's own stream). Host-placed nodes that need device
 * data synchronize the stream first; a graph whose device nodes only feed device nodes never waits. */
kiln_status kiln_cuda_exec_run(kiln_cuda_exec *e, void *stream);
/* Graph output i after a run: its host value (kind, dtype, shape always; data when *on_device is 0) and, when
 * *on_device is 1, its device pointer in *dev. */
kiln_status kiln_cuda_exec_output(kiln_cuda_exec *e, int i, const kiln_value **host, const void **dev,
                                  int *on_device);
/* Copies output i's data (device or host side) to caller memory: dst_on_device selects cudaMemcpy direction.
 * Stream-ordered on the run's stream; the caller synchronizes before reading host memory. */
kiln_status kiln_cuda_exec_copy_output(kiln_cuda_exec *e, int i, void *dst, size_t cap, int dst_on_device);
void kiln_cuda_exec_set_profiler(kiln_cuda_exec *e, kiln_profiler_fn fn, void *user);
/* Checks that `ptr` is memory a kernel can address: device, managed or registered host memory. Plain host memory
 * (malloc, the stack) is refused with an error naming `what` (e.g. "input 'x'"). */
kiln_status kiln_cuda_check_device_pointer(const void *ptr, const char *what);
/* Synchronizes the stream of the last run. */
kiln_status kiln_cuda_exec_sync(kiln_cuda_exec *e);

#endif
