/* Helpers shared by the matmul, conv and pool kernel families: dtype staging through float, broadcast batch
 * offsets, quantization parameters. Internal to the CPU backend. */
#ifndef KILN_CPU_LINALG_COMMON_H
#define KILN_CPU_LINALG_COMMON_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

/* float16 / bfloat16 tensors compute through float: *out points at t's data when it is FLOAT already, else at a
 * converted copy returned in *owned (free() it; NULL when nothing was allocated). */
kiln_status lin_as_float(const kiln_tensor *t, const float **out, float **owned);
/* Converts n floats into dst of dtype dt (FLOAT, FLOAT16, BFLOAT16). */
void lin_store_float(kiln_dtype dt, const float *src, void *dst, int64_t n);
/* Reads n elements of src (dtype dt: any real float or integer type) as float into dst. */
void lin_load_float(kiln_dtype dt, const void *src, float *dst, int64_t n);
int lin_is_half(kiln_dtype dt); /* FLOAT16 or BFLOAT16 */

/* For a broadcast batch shape out[0..rout) and an operand whose batch dims are dims[0..r) (right-aligned), the
 * element offset of each batch item (row-major over out) given the operand's per-item size `item`. */
void lin_batch_offsets(int r, const int64_t *dims, int rout, const int64_t *out, int64_t item, int64_t *off);

/* Element-index walk: for each i in [0, n) of a row-major tensor of shape (rank, dims), idx_b = the index into a
 * tensor that broadcasts to it with the given strides (from kiln_broadcast_strides). Fills map[0..n). */
void lin_broadcast_map(int rank, const int64_t *dims, const int64_t *strides, int64_t n, int64_t *map);

/* Integer value of an 8-bit (or int32) quantized element. */
static inline int32_t lin_q_load(kiln_dtype dt, const void *p, int64_t i) {
    switch (dt) {
    case KILN_UINT8: return ((const uint8_t *)p)[i];
    case KILN_INT8: return ((const int8_t *)p)[i];
    case KILN_INT32: return ((const int32_t *)p)[i];
    case KILN_UINT16: return ((const uint16_t *)p)[i];
    case KILN_INT16: return ((const int16_t *)p)[i];
    default: return 0;
    }
}

/* Requantizes: saturate(round_half_even(v + zp)) into dt (UINT8/INT8/UINT16/INT16). */
void lin_q_store(kiln_dtype dt, void *p, int64_t i, double v, int32_t zp);

/* The product a_scale*b_scale/y_scale evaluated in the scales' own dtype (float16 rounds each step), as the
 * reference computes it. */
double lin_q_factor(kiln_dtype scale_dt, double a_scale, double b_scale, double y_scale);

/* The constant (initializer) tensor feeding input i of node n, or NULL. For prepare-time weight packing. */
struct kiln_node;
struct kiln_graph;
const kiln_tensor *lin_const_input(const struct kiln_node *n, const struct kiln_graph *g, int i);

/* 64-byte aligned allocation of n bytes (n rounded up); NULL on failure. */
void *lin_alloc(size_t n);

#endif
