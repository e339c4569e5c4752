/* Executor: a compiled program (per engine, shared) and its executions (per context).
 *
 * kiln_program resolves every node of a graph to a kernel and prepares its params, recursively for subgraphs.
 * kiln_exec holds the run-time values of one execution state; a context owns one. */
#ifndef KILN_RUNTIME_EXEC_H
#define KILN_RUNTIME_EXEC_H

#include "ir/graph.h"
#include "runtime/op.h"

typedef struct kiln_program kiln_program;
typedef struct kiln_exec kiln_exec;

/* Compiles g (borrowed: must outlive the program). Fails naming the first node without a CPU kernel. */
kiln_status kiln_program_create(const kiln_graph *g, kiln_program **out);
void kiln_program_destroy(kiln_program *p);
const kiln_graph *kiln_program_graph(const kiln_program *p);

/* parent: enclosing execution for subgraphs (NULL for the root). */
kiln_status kiln_exec_create(const kiln_program *p, kiln_exec *parent, kiln_exec **out);
void kiln_exec_destroy(kiln_exec *e);
/* The value slot of graph input / output i (inputs: the caller fills it before kiln_exec_run). */
kiln_value *kiln_exec_input(kiln_exec *e, int i);
kiln_value *kiln_exec_output(kiln_exec *e, int i);
/* Per-layer timing hook (may be NULL). */
void kiln_exec_set_profiler(kiln_exec *e, kiln_profiler_fn fn, void *user);
/* Runs all nodes in order. Errors are prefixed with the failing node's index, name and op. */
kiln_status kiln_exec_run(kiln_exec *e);
/* Runs node i alone (the caller provides its inputs in the value slots): the CUDA executor's host fallback. */
kiln_status kiln_exec_run_node(kiln_exec *e, int i);
/* The value slot of value id (root graph numbering). */
kiln_value *kiln_exec_value(kiln_exec *e, int id);
/* The kernel chosen for node i (never NULL once the program was created). */
const kiln_op_def *kiln_program_def(const kiln_program *p, int i);

#endif
