/* Activation memory plan of a CUDA engine: one arena per context, with a fixed offset for every value whose size is
 * bounded by the optimization profiles' max shapes.
 *
 * Sizes come from shape inference on a copy of the graph whose inputs are bound to the profiles' max dims. Lifetimes
 * are intervals over the node order: a value lives from its producer to its last reader (graph outputs to the end);
 * the outputs of aliasing kernels (Reshape, Squeeze, ...) share their source's memory, so the source lives as long
 * as any alias does. Offsets are assigned best-fit, 256-byte aligned, so values alive at the same node never
 * overlap. Values without a bound (data-dependent shapes, e.g. NonZero) are left to on-demand buffers.
 *
 * The plan is a pure function of the graph, the node placement and the profiles: the builder computes it to report
 * it, and the runtime recomputes it at engine load, then validates every offset + size against the arena size. */
#ifndef KILN_CUDA_MEM_PLAN_H
#define KILN_CUDA_MEM_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "backends/cuda/cuda_op.h"
#include "ir/graph.h"
#include "plan/plan.h"

#define KILN_CUDA_ARENA_ALIGN 256

typedef struct kiln_cuda_mem_plan {
    int n_values;
    int64_t *offset;     /* per value: byte offset in the arena, -1 when the value has no planned slot */
    size_t *size;        /* per value: planned bytes (aligned) */
    uint8_t *alias;      /* per value: output of an aliasing kernel whose source's lifetime was extended */
    int *first, *last;   /* per planned value: the node interval it is alive in (inclusive) */
    size_t arena_size;   /* activations */
    size_t scratch_size; /* kernel scratch (the largest scratch hook at the max shapes) reserved after them */
    int n_planned, n_unbounded;
    char *unbounded;     /* names of the first unbounded values, for the log (owned) */
} kiln_cuda_mem_plan;

/* Per-node facts the planner needs from the placement. */
typedef struct kiln_cuda_plan_node {
    int device;          /* node runs a CUDA kernel */
    int aliases;         /* its output 0 may alias its input 0 (kiln_cuda_kout_alias) */
    uint32_t host_inputs;
    const int *outer;    /* root values its subgraphs read */
    int n_outer;
    const kiln_cuda_op_def *op; /* its kernel (scratch hook), NULL on the host */
} kiln_cuda_plan_node;

/* Types of g's values (indexed by value id) with every graph input bound to the largest shape any profile allows
 * (opt = 0), or to the first profile's opt shape (opt = 1, what the builder tunes kernels at). */
kiln_status kiln_cuda_profile_types(const kiln_graph *g, const kiln_profile_data *profiles, int n_profiles, int opt,
                                    kiln_type *types);

/* Plans g's activations. A failure of shape inference is not an error: the plan then holds no slots. */
kiln_status kiln_cuda_mem_plan_build(const kiln_graph *g, const kiln_cuda_plan_node *nodes,
                                     const kiln_profile_data *profiles, int n_profiles, kiln_cuda_mem_plan *out);
/* Checks that every slot lies inside the arena and that slots of values alive at once do not overlap. */
kiln_status kiln_cuda_mem_plan_validate(const kiln_cuda_mem_plan *m);
void kiln_cuda_mem_plan_free(kiln_cuda_mem_plan *m);

#endif
