// The movement family is split over movement.cu (table, reshape-likes, Transpose, Concat, Split, Slice, Expand,
// Tile) and movement-index.cu (Gather, Pad), which exports these.
#ifndef KILN_CUDA_MOVEMENT_CUH
#define KILN_CUDA_MOVEMENT_CUH

#include "backends/cuda/common.cuh"

namespace kc {
kiln_status gather_supports(const kiln_node *n, const kiln_graph *g);
kiln_status gather_run(kiln_cuda_kctx *k);
kiln_status pad_supports(const kiln_node *n, const kiln_graph *g);
kiln_status pad_prepare(const kiln_node *n, const kiln_graph *g, void **params);
kiln_status pad_run(kiln_cuda_kctx *k);
} // namespace kc

#define KC_MOVEMENT_INDEX_ENTRIES                                                                                 \
    {"Gather", "", 1, 0, kc::gather_supports, nullptr, nullptr, kc::gather_run},                                  \
    {"Pad", "", 2, 0, kc::pad_supports, kc::pad_prepare, free, kc::pad_run},                                      \
    {"Pad", "", 11, (1u << 1) | (1u << 2) | (1u << 3), kc::pad_supports, kc::pad_prepare, free, kc::pad_run},

#endif
