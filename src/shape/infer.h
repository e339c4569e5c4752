/* Build-time type and shape inference over the IR, with symbolic dimensions.
 *
 * Each value's kiln_type is refined from its producer: dtype, rank and dims, where a dim is a number, a symbol
 * (ONNX dim_param, e.g. "batch", carried through broadcasting, MatMul, Reshape-from-Shape chains, ...) or unknown.
 * Small integer "shape tensors" (Shape outputs, constant shape initializers and Constant nodes, and Gather/Concat/
 * Slice/Unsqueeze/Squeeze/Cast/Identity, integer Add/Sub/Mul/Div/Max/Min, Size, ReduceProd and Range of them) are
 * tracked element by element, as numbers, symbols or unknown (infer-data.c), so that Reshape/Expand/
 * ConstantOfShape/Range/Slice/Tile/Pad/TopK get symbolic outputs.
 *
 * Inference never rejects an op it does not know: that op's outputs keep the type the model declared (or stay
 * unknown) and the run-time kernels compute concrete shapes. It fails only on provable contradictions between known
 * dims (e.g. Add of [2,3] and [4,3]), naming the node. */
#ifndef KILN_SHAPE_INFER_H
#define KILN_SHAPE_INFER_H

#include "ir/graph.h"

/* Infers types for g and, recursively, its subgraphs' top-level values where possible. */
kiln_status kiln_infer_shapes(kiln_graph *g);

/* Formats a type as e.g. "float32[batch,3,224,224]", "seq(int64)", "float32[?]" into buf. */
const char *kiln_type_str(const kiln_type *t, char *buf, size_t n);

#endif
