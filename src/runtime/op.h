/* The kernel interface: how an op's implementation plugs into the executor.
 *
 * An op implementation is a kiln_op_def: `prepare` runs once per node when an engine is loaded (parse
 * attributes into a typed param struct: no string lookups at run time), `run` runs per execution. `run` must not
 * modify its params or its inputs (params are shared by all contexts of an engine, which may run concurrently).
 *
 * Outputs are allocated by the kernel through kiln_kout*, which reuse the value's buffer across executions. */
#ifndef KILN_RUNTIME_OP_H
#define KILN_RUNTIME_OP_H

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

struct kiln_exec;

typedef struct kiln_kctx {
    const kiln_node *node;
    const kiln_graph *graph;   /* the graph the node belongs to */
    const void *params;        /* from prepare (NULL when prepare is NULL) */
    int n_in, n_out;
    kiln_value *const *in;     /* in[i] == NULL when the optional input is absent */
    kiln_value *const *out;    /* out[i] is never NULL (a scratch value for unused outputs) */
    struct kiln_exec *exec;
} kiln_kctx;

typedef struct kiln_op_def {
    const char *op_type;
    const char *domain;        /* "" for ai.onnx; "ai.onnx.ml", "ai.onnx.preview.training", ... */
    int since_version;         /* this def serves opsets >= since_version (until a later def of the same op) */
    kiln_status (*prepare)(const kiln_node *node, const kiln_graph *graph, void **params);
    void (*release)(void *params);
    kiln_status (*run)(kiln_kctx *k);
} kiln_op_def;

/* Input i as a tensor: NULL when absent (optional) or when it is not a tensor. */
const kiln_tensor *kiln_kin(const kiln_kctx *k, int i);
/* Input i as a tensor, failing with a clear error when absent. */
kiln_status kiln_kin_req(const kiln_kctx *k, int i, const kiln_tensor **t);
/* Allocates output i as a tensor of dtype/shape (buffer reused across runs; contents unspecified). */
kiln_status kiln_kout(kiln_kctx *k, int i, kiln_dtype dtype, int rank, const int64_t *dims, kiln_tensor **out);
/* Output i is a view of `src` storage with a new shape (same element count): Reshape/Squeeze/Identity. */
kiln_status kiln_kout_alias(kiln_kctx *k, int i, const kiln_tensor *src, int rank, const int64_t *dims);
/* Output value i, for sequence / optional outputs (set kind yourself). */
kiln_value *kiln_kout_value(kiln_kctx *k, int i);

/* Runs subgraph `sub` (a GRAPH attribute of k->node) with the given input values; fills outs[0..n_out) with
 * copies of its outputs. Outer-scope names resolve to the enclosing graphs' current values. */
kiln_status kiln_krun_graph(kiln_kctx *k, const kiln_graph *sub, int n_in, const kiln_value *const *ins, int n_out,
                            kiln_value *const *outs);

/* Looks up the CPU implementation of (op_type, domain) for the given opset; NULL if none. */
const kiln_op_def *kiln_cpu_find_op(const char *op_type, const char *domain, int opset);

/* Convenience for kernels: fail with the node named. */
#define KILN_KFAIL_IF(k, cond, s, ...) KILN_FAIL_IF(cond, s, __VA_ARGS__)

#endif
