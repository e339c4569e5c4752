/* Graph optimization passes, run by the builder on its private copy of the network's graph (one file per pass).
 * Each pass logs what it did at INFO through the given logger. */
#ifndef KILN_PASSES_PASSES_H
#define KILN_PASSES_PASSES_H

#include "ir/graph.h"
#include "kiln.h"

/* Folded outputs larger than this stay computed at run time (plans should not balloon). */
#define KILN_FOLD_MAX_BYTES ((size_t)64 << 20)

/* Evaluates nodes whose inputs are all initializers on the CPU executor and turns their outputs into
 * initializers. Never folds random ops or ops with subgraphs. The folded nodes are removed. */
kiln_status kiln_pass_fold_constants(kiln_graph *g, const kiln_logger *lg, int *n_folded);

/* Removes nodes none of whose outputs are used (by a node, a subgraph, or as a graph output), then initializers
 * and values nothing refers to. Graph inputs are kept. */
kiln_status kiln_pass_dce(kiln_graph *g, const kiln_logger *lg, int *n_nodes_removed, int *n_inits_removed);

/* Shared helpers (util.c). */
/* Removes the nodes with remove[i] != 0 (freeing their attribute tensors and subgraphs), keeping the order of the
 * rest, and recomputes producers. */
void kiln_pass_remove_nodes(kiln_graph *g, const unsigned char *remove);
/* Calls fn(user, name) for every outer-scope name that the subgraphs of node n (recursively) read. */
void kiln_pass_outer_refs(const kiln_node *n, void (*fn)(void *user, const char *name), void *user);

#endif
