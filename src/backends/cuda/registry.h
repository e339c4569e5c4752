/* CUDA kernel families: one table per .cu family file, terminated by an entry with op_type == NULL.
 * Adding a family: declare it here, define its table in <family>.cu (extern "C"). */
#ifndef KILN_CUDA_REGISTRY_H
#define KILN_CUDA_REGISTRY_H

#include "backends/cuda/cuda_op.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_CUDA_FAMILIES(X)                                                                                    \
    X(eltwise)    /* binary/unary math, comparison, Where, Clip, activations, Cast */                           \
    X(matmul)     /* MatMul, Gemm (cuBLASLt) */                                                                 \
    X(conv)       /* Conv, ConvTranspose (cuDNN) */                                                             \
    X(pool)       /* MaxPool, AveragePool, Global*, LRN */                                                      \
    X(norm)       /* BatchNorm, LayerNorm, InstanceNorm, GroupNorm, RMSNorm, Softmax family */                  \
    X(reduce)     /* Reduce*, ArgMax/ArgMin */                                                                  \
    X(movement)   /* Reshape-likes, Transpose, Concat, Split, Slice, Gather, Expand, Pad, ... */                \
    X(resize)     /* Resize, Upsample */                                                                        \
    X(index)      /* GatherElements, GatherND, Scatter*, OneHot */                                              \
    X(layout)     /* DepthToSpace, SpaceToDepth, Trilu */                                                       \
    X(scan)       /* CumSum, CumProd, TopK */                                                                   \
    X(einsum)     /* Einsum (one or two operands) */                                                            \
    X(attention)  /* Attention (opset 23/24) */

#define KILN_CUDA_DECLARE_FAMILY(name) extern const kiln_cuda_op_def kiln_cuda_ops_##name[];
KILN_CUDA_FAMILIES(KILN_CUDA_DECLARE_FAMILY)
#undef KILN_CUDA_DECLARE_FAMILY

#ifdef __cplusplus
}
#endif
#endif
