/* Helpers shared by the data-movement kernel families (shape, movement, index).
 *
 * These ops are type-agnostic: they move elements by size. STRING elements are `char *` owned by their tensor,
 * so every helper that writes into an output deep-copies strings (and frees what the slot held before). */
#ifndef KILN_CPU_MOVEMENT_COMMON_H
#define KILN_CPU_MOVEMENT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

/* Row-major element strides of a contiguous tensor of shape dims. */
void kiln_mv_strides(int rank, const int64_t *dims, int64_t *st);

/* Copies an N-D strided region element by element:
 *   dst[sum_k i_k * dst_st[k]] = src[sum_k i_k * src_st[k]]   for every index i < dims.
 * Strides are in elements; src strides may be negative or zero (broadcast). Dims may be 0 (nothing happens).
 * Coalesces contiguous dims, uses memcpy for contiguous rows, a cache-blocked 2-D tile when the innermost
 * source and destination dims differ (transposes), and the thread pool for large copies. */
kiln_status kiln_mv_copy_nd(kiln_dtype dt, void *dst, const int64_t *dst_st, const void *src, const int64_t *src_st,
                            int rank, const int64_t *dims);

/* Gathers with per-axis index maps: out[i_0..i_{r-1}] = in[maps[0][i_0], ..., maps[r-1][i_{r-1}]], where a map
 * entry < 0 selects `fill` (one element of dtype dt; NULL means zero / empty string). in and out are contiguous
 * with shapes in_dims / out_dims. */
kiln_status kiln_mv_gather_maps(kiln_dtype dt, void *out, const int64_t *out_dims, const void *in,
                                const int64_t *in_dims, int rank, int64_t *const *maps, const void *fill);

/* Sets n elements starting at dst to the element `one` (NULL: zero bytes / empty strings). */
kiln_status kiln_mv_fill(kiln_dtype dt, void *dst, int64_t n, const void *one);

/* Copies n contiguous elements (strings deep-copied). */
kiln_status kiln_mv_copy(kiln_dtype dt, void *dst, const void *src, int64_t n);

/* Reads an INT32/INT64 tensor of rank 0 or 1 into out[0..*n); fails naming `what` when it has more than max
 * values or another dtype. */
kiln_status kiln_mv_read_ints(const kiln_tensor *t, const char *what, int64_t *out, int max, int *n);
/* Reads the single value of a one-element tensor of any integer or float dtype. */
kiln_status kiln_mv_scalar_i64(const kiln_tensor *t, const char *what, int64_t *v);
kiln_status kiln_mv_scalar_f64(const kiln_tensor *t, const char *what, double *v);

/* Normalizes an axis in [-rank, rank) to [0, rank); fails naming `what` otherwise. */
kiln_status kiln_mv_axis(int64_t axis, int rank, const char *what, int *out);

/* Reads the integer list `name` of node (attribute), with the count; 0 values when absent. Fails when more than
 * max values are given. */
kiln_status kiln_mv_attr_ints(const kiln_node *n, const char *name, int64_t *out, int max, int *count);

/* "[2,3,4]" formatting for error messages (buf must hold ~ 24 * rank bytes). */
const char *kiln_mv_shape_str(int rank, const int64_t *dims, char *buf, size_t n);

/* Nonzero test for one element of any dtype (float -0 is zero, NaN is not; strings: non-empty). */
int kiln_mv_is_nonzero(kiln_dtype dt, const void *data, int64_t i);

/* Params allocation shared by the family files (calloc'd; released with kiln_mv_free_params). */
kiln_status kiln_mv_alloc_params(void **out, size_t size);
void kiln_mv_free_params(void *p);

/* Movement kernels that live in their own files (listed in movement.c's table). */
struct kiln_kctx;
kiln_status kiln_mv_pad_prepare(const kiln_node *n, const kiln_graph *g, void **out);
kiln_status kiln_mv_pad_run(struct kiln_kctx *k);
kiln_status kiln_mv_ccp_prepare(const kiln_node *n, const kiln_graph *g, void **out);
kiln_status kiln_mv_ccp_run(struct kiln_kctx *k);
kiln_status kiln_mv_resize_prepare(const kiln_node *n, const kiln_graph *g, void **out);
kiln_status kiln_mv_resize_run(struct kiln_kctx *k);
kiln_status kiln_mv_grid_sample_prepare(const kiln_node *n, const kiln_graph *g, void **out);
kiln_status kiln_mv_grid_sample_run(struct kiln_kctx *k);
kiln_status kiln_mv_affine_grid_prepare(const kiln_node *n, const kiln_graph *g, void **out);
kiln_status kiln_mv_affine_grid_run(struct kiln_kctx *k);

#endif
