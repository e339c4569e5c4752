/* Fusion passes (one file each: fuse-conv-bn.c, fuse-gemm.c, fuse-gelu.c) and the helpers they share
 * (fuse-common.c). Each rewrites a small pattern into fewer, equivalent nodes, leaving the values that feed and
 * leave the pattern as they were; the old nodes are removed and the graph re-sorted, and DCE afterwards drops the
 * initializers nothing reads any more. Every pass is conservative: a pattern whose shapes, dtypes, attributes or
 * uses are unusual is left alone (logged at VERBOSE), never rejected. Each logs at INFO what it rewrote. */
#ifndef KILN_PASSES_FUSE_H
#define KILN_PASSES_FUSE_H

#include "ir/graph.h"
#include "kiln.h"

/* Conv -> BatchNormalization (inference form, constant parameters) becomes one Conv with rescaled weights and a
 * bias: W'[m] = W[m] * s[m], b'[m] = (b[m] - mean[m]) * s[m] + beta[m], s = scale / sqrt(var + epsilon). */
kiln_status kiln_pass_fuse_conv_bn(kiln_graph *g, const kiln_logger *lg, int *n_fused);

/* MatMul(A, B) -> Add(bias), with B a constant 2-D matrix [K, N] and bias a constant holding N values along the
 * last axis, becomes Gemm(A, B, bias). An A of rank > 2 with known leading dims is viewed as 2-D around the Gemm
 * (Reshape to [-1, K] before, back to the original leading dims after: both are free views). */
kiln_status kiln_pass_fuse_gemm(kiln_graph *g, const kiln_logger *lg, int *n_fused);

/* The exact-GELU subgraph exporters write, x * 0.5 * (1 + erf(x / sqrt(2))) as Div/Mul, Erf, Add, Mul, Mul,
 * becomes one Gelu node (the opset-20 op, which the CPU backend runs in one vectorized pass). */
kiln_status kiln_pass_fuse_gelu(kiln_graph *g, const kiln_logger *lg, int *n_fused);

/* Whether pass `name` ("fold-constants", "dce", "fuse-conv-bn", ...) should run: all do unless the environment
 * variable KILN_PASSES_OFF lists it (comma-separated; "all" turns every pass off). For measuring what each pass
 * buys and for bisecting a miscompile; plans built with a pass off are still correct, only slower. */
int kiln_pass_enabled(const char *name);

/* ---- helpers shared by the fuse passes (fuse-common.c) ---- */

/* How many times each value is read: node inputs, graph outputs (counted once each) and outer-scope reads by
 * subgraphs (counted as many uses, so such values never look single-use). Caller frees. NULL on out of memory. */
int *kiln_fuse_use_counts(const kiln_graph *g);
/* The float32 initializer behind value v (a constant the caller cannot override), or NULL. */
const kiln_tensor *kiln_fuse_const_f32(const kiln_graph *g, int v);
/* If value v is a float32 constant with exactly one element, stores it in *x and returns 1. */
int kiln_fuse_const_scalar(const kiln_graph *g, int v, float *x);
/* Adds a value named "<base><suffix>" (made unique) and returns its id, or -1 on out of memory. */
int kiln_fuse_new_value(kiln_graph *g, const char *base, const char *suffix);
/* Adds an initializer value that owns `t` (moved in: *t is emptied). Returns its id or -1 on out of memory (t is
 * released then). */
int kiln_fuse_add_init(kiln_graph *g, const char *base, const char *suffix, kiln_tensor *t);
/* Gives node `node` room for n_in inputs (new slots -1); returns 0 on out of memory. */
int kiln_fuse_grow_inputs(kiln_graph *g, int node, int n_in);
/* The producing node of value v, found by scanning (producers may be stale mid-pass), or -1. */
int kiln_fuse_producer(const kiln_graph *g, int v);
/* Types of g's values after shape inference on a copy of g (g's own types are left as the model declared them).
 * Indexed by value id; caller frees. NULL when inference fails or memory runs out: callers then skip rewrites
 * that need shapes. */
kiln_type *kiln_fuse_infer_types(const kiln_graph *g);

#endif
