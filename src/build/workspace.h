/* The CPU workspace limit: per-node scratch of the CPU kernels, checked at build time (see workspace.c). */
#ifndef KILN_BUILD_WORKSPACE_H
#define KILN_BUILD_WORKSPACE_H

#include <stdint.h>

#include "ir/graph.h"
#include "kiln.h"
#include "plan/plan.h"

/* Bytes of scratch node n's CPU kernel allocates beyond its inputs and outputs, from the inferred types in g.
 * *what names the buffers (for messages); *known = 0 when a dim it depends on is not a number. */
uint64_t kiln_cpu_node_workspace(const kiln_graph *g, const kiln_node *n, const char **what, int *known);

/* Fails with KILN_ERR_OUT_OF_MEMORY, naming the node, the bytes it needs and the limit, when a node of g (its
 * subgraphs too) needs more than `limit` bytes at the maximum shapes of any profile. limit 0: no limit. Nodes that
 * cannot be bounded are named in a warning on lg. */
kiln_status kiln_check_workspace(const kiln_graph *g, const kiln_profile_data *profiles, int n_profiles,
                                 size_t limit, const kiln_logger *lg);

#endif
