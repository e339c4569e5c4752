/* Helpers shared by the index family files (index.c, index-scatter.c, index-unique.c). */
#ifndef KILN_CPU_INDEX_COMMON_H
#define KILN_CPU_INDEX_COMMON_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "runtime/op.h"

/* Element i of an INT32 / INT64 index tensor (checked by kiln_ix_check_indices). */
static inline int64_t kiln_ix_index(const kiln_tensor *t, int64_t i) {
    return t->dtype == KILN_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
}

kiln_status kiln_ix_check_indices(const kiln_tensor *t, const char *what);

/* Resolves index v (negative counts from the end) against an axis of size dim; fails with KILN_ERR_RUNTIME
 * naming op, the index, its position `pos` in the indices, the axis and the valid range. */
kiln_status kiln_ix_resolve(const char *op, int64_t v, int64_t pos, int axis, int64_t dim, int64_t *out);

/* GatherND / ScatterND addressing: indices [batch..., tuples..., k] select slices of `inner` elements. */
typedef struct kiln_ix_nd {
    int k, b;
    int64_t batches, per_batch, inner, batch_stride;
    int64_t stride[KILN_MAX_DIMS], dim[KILN_MAX_DIMS];
} kiln_ix_nd;

kiln_status kiln_ix_nd_layout(const char *op, const kiln_tensor *data, const kiln_tensor *indices, int64_t batch_dims,
                              kiln_ix_nd *layout);
/* Element offset in data of index tuple number `tuple` (0 .. batches * per_batch). */
kiln_status kiln_ix_nd_offset(const char *op, const kiln_tensor *indices, const kiln_ix_nd *layout, int64_t tuple,
                              int64_t *off);

kiln_status kiln_ix_scatter_prepare(const kiln_node *n, const kiln_graph *g, void **out);
kiln_status kiln_ix_scatter_elements_run(kiln_kctx *k);
kiln_status kiln_ix_scatter_nd_run(kiln_kctx *k);
kiln_status kiln_ix_unique_prepare(const kiln_node *n, const kiln_graph *g, void **out);
kiln_status kiln_ix_unique_run(kiln_kctx *k);

#endif
