/* Helpers shared by the CPU norm family files (norm.c, norm-layer.c). */
#ifndef KILN_CPU_NORM_COMMON_H
#define KILN_CPU_NORM_COMMON_H

#include "runtime/op.h"

/* Loads parameter tensor p, unidirectionally broadcastable to x's shape, as the values it takes over x's dims
 * [from, rank) in row-major order: a malloc'd array (caller frees) of float (as_double = 0) or double. When p
 * also varies along x's dims [0, from), *per_row is set and the array covers all of x instead. `what` names
 * the parameter in errors. */
kiln_status kn_param_load(const kiln_tensor *p, const kiln_tensor *x, int from, const char *what, int as_double,
                          void **out, int *per_row);

/* Loads a 1-D per-channel parameter of exactly c elements (float tensor of any float dtype) into a malloc'd
 * double array. */
kiln_status kn_channel_load(const kiln_tensor *p, int64_t c, const char *what, double **out);

/* The dtype a node declares for output i (KILN_UNDEFINED when unknown or absent). */
kiln_dtype kn_declared_dtype(const kiln_kctx *k, int i);

/* Whether output i is connected to a graph value (optional outputs may be left out). */
int kn_has_output(const kiln_kctx *k, int i);

/* Entry points of norm-layer.c, listed in norm.c's table. */
kiln_status kn_layer_prepare(const kiln_node *node, const kiln_graph *graph, void **params);
kiln_status kn_layer_run(kiln_kctx *k);

#endif
