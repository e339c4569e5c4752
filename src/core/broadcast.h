/* ONNX multidirectional (numpy-style) broadcasting helpers. */
#ifndef KILN_CORE_BROADCAST_H
#define KILN_CORE_BROADCAST_H

#include <stdint.h>

#include "kiln.h"

/* out = broadcast of (a, b). Fails with KILN_ERR_SHAPE naming both shapes when incompatible. */
kiln_status kiln_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int *rout, int64_t *out);
/* Element strides of an input of shape (r, dims) read as the broadcast shape (rout, out): 0 where broadcast.
 * strides has rout entries. */
void kiln_broadcast_strides(int r, const int64_t *dims, int rout, const int64_t *out, int64_t *strides);
/* Formats "[2,3,4]" into buf. Returns buf. */
const char *kiln_shape_str(int rank, const int64_t *dims, char *buf, size_t n);

#endif
