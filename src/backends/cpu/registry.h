/* CPU kernel families. Each family file defines one table, terminated by an entry with op_type == NULL.
 * Adding a family: declare it here and list it in registry.c. */
#ifndef KILN_CPU_REGISTRY_H
#define KILN_CPU_REGISTRY_H

#include "runtime/op.h"

#define KILN_CPU_FAMILIES(X)                                                                                     \
    X(eltwise)    /* unary/binary math, comparison, logical, bitwise, Where, Clip, variadic Sum/Max/... */        \
    X(activation) /* Relu, Sigmoid, Gelu, HardSwish, Elu, ... */                                                \
    X(cast)       /* Cast, CastLike, BitCast and the float8/4/6 formats */                                      \
    X(matmul)     /* MatMul, Gemm, Einsum, MatMulInteger, QLinearMatMul */                                      \
    X(conv)       /* Conv, ConvTranspose, ConvInteger, QLinearConv, DeformConv, Col2Im */                        \
    X(pool)       /* MaxPool, AveragePool, Global*, LpPool, MaxUnpool, LRN */                                   \
    X(norm)       /* BatchNorm, LayerNorm, InstanceNorm, GroupNorm, RMSNorm, LpNorm, MVN */                      \
    X(softmax)    /* Softmax, LogSoftmax, Hardmax */                                                            \
    X(reduce)     /* Reduce*, ArgMax/ArgMin, TopK, CumSum/CumProd */                                            \
    X(shape)      /* Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Identity, Expand, Constant* , Range */   \
    X(movement)   /* Transpose, Concat, Split, Slice, Tile, Pad, DepthToSpace, Trilu, Resize, ... */             \
    X(index)      /* Gather*, Scatter*, OneHot, NonZero, Compress, Unique, ... */                               \
    X(control)    /* If, Loop, Scan, Sequence*, Optional* */                                                    \
    X(attention)  /* Attention, RotaryEmbedding, SwiGLU, TensorScatter */                                         \
    X(rnn)        /* RNN, GRU, LSTM */                                                                          \
    X(quant)      /* QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear */                                 \
    X(signal)     /* DFT, STFT, window functions, MelWeightMatrix */                                            \
    X(detection)  /* NonMaxSuppression, RoiAlign */                                                             \
    X(strings)    /* StringNormalizer, StringSplit, StringConcat, RegexFullMatch, TfIdfVectorizer */             \
    X(random)     /* RandomUniform/Normal(+Like), Bernoulli, Multinomial */                                     \
    X(ml)         /* ai.onnx.ml: LabelEncoder, ArrayFeatureExtractor, Binarizer, TreeEnsemble */                 \
    X(training)   /* ai.onnx.preview.training: Adagrad, Adam, Momentum */                                       \
    X(image)      /* ImageDecoder (decoders in src/image) */                                                   \
    X(misc)       /* Det, and what belongs to no larger family */

#define KILN_DECLARE_FAMILY(name) extern const kiln_op_def kiln_cpu_ops_##name[];
KILN_CPU_FAMILIES(KILN_DECLARE_FAMILY)
#undef KILN_DECLARE_FAMILY

#endif
