// The eltwise family is split over two files; eltwise.cu holds the table, eltwise-unary.cu exports these.
#ifndef KILN_CUDA_ELTWISE_CUH
#define KILN_CUDA_ELTWISE_CUH

#include "backends/cuda/common.cuh"

namespace kc {
kiln_status unary_supports(const kiln_node *n, const kiln_graph *g);
kiln_status unary_prepare(const kiln_node *n, const kiln_graph *g, void **params);
void unary_release(void *params);
kiln_status unary_run(kiln_cuda_kctx *k);
kiln_status clip_supports(const kiln_node *n, const kiln_graph *g);
kiln_status clip_prepare(const kiln_node *n, const kiln_graph *g, void **params);
kiln_status clip_run(kiln_cuda_kctx *k);
kiln_status cast_supports(const kiln_node *n, const kiln_graph *g);
kiln_status cast_prepare(const kiln_node *n, const kiln_graph *g, void **params);
kiln_status cast_run(kiln_cuda_kctx *k);
kiln_status identity_supports(const kiln_node *n, const kiln_graph *g);
kiln_status identity_run(kiln_cuda_kctx *k);
kiln_status dropout_supports(const kiln_node *n, const kiln_graph *g);
kiln_status dropout_run(kiln_cuda_kctx *k);
kiln_status isclass_supports(const kiln_node *n, const kiln_graph *g);
kiln_status isclass_run(kiln_cuda_kctx *k);
} // namespace kc

#define KC_UN(name, since)                                                                                        \
    {name, "", since, 0, kc::unary_supports, kc::unary_prepare, kc::unary_release, kc::unary_run},
#define KC_ELTWISE_UNARY_ENTRIES                                                                                  \
    KC_UN("Abs", 6) KC_UN("Neg", 6) KC_UN("Sqrt", 6) KC_UN("Exp", 6) KC_UN("Log", 6) KC_UN("Reciprocal", 6)       \
    KC_UN("Erf", 9) KC_UN("Tanh", 6) KC_UN("Sigmoid", 6) KC_UN("Relu", 6) KC_UN("LeakyRelu", 6)                   \
    KC_UN("Gelu", 20) KC_UN("HardSigmoid", 6) KC_UN("HardSwish", 14) KC_UN("Softplus", 1) KC_UN("Elu", 6)         \
    KC_UN("Selu", 6) KC_UN("Celu", 12) KC_UN("Softsign", 1) KC_UN("ThresholdedRelu", 10) KC_UN("Mish", 18)        \
    KC_UN("Swish", 24) KC_UN("Floor", 6) KC_UN("Ceil", 6) KC_UN("Round", 11) KC_UN("Sign", 9) KC_UN("Sin", 7)     \
    KC_UN("Cos", 7) KC_UN("Not", 1)                                                                               \
    {"Clip", "", 6, 0, kc::clip_supports, kc::clip_prepare, free, kc::clip_run},                                  \
    {"Clip", "", 11, (1u << 1) | (1u << 2), kc::clip_supports, kc::clip_prepare, free, kc::clip_run},             \
    {"Cast", "", 6, 0, kc::cast_supports, kc::cast_prepare, nullptr, kc::cast_run},                               \
    {"Identity", "", 1, 0, kc::identity_supports, nullptr, nullptr, kc::identity_run},                            \
    {"Dropout", "", 7, 1u << 2, kc::dropout_supports, nullptr, nullptr, kc::dropout_run},                         \
    {"IsNaN", "", 9, 0, kc::isclass_supports, nullptr, nullptr, kc::isclass_run},                                 \
    {"IsInf", "", 10, 0, kc::isclass_supports, nullptr, nullptr, kc::isclass_run},

#endif
