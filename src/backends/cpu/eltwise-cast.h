/* Element type conversion with ONNX Cast semantics, for kernels that need to convert a whole tensor. */
#ifndef KILN_CPU_ELTWISE_CAST_H
#define KILN_CPU_ELTWISE_CAST_H

#include "backends/cpu/eltwise-minifloat.h"
#include "core/tensor.h"

/* Converts x into y (allocated by the caller with x's shape and the target dtype; a STRING y must be owned).
 * saturate and round_mode as Cast's attributes (defaults: 1, EW_E8M0_UP). */
kiln_status ew_cast_tensor(const kiln_tensor *x, kiln_tensor *y, int saturate, ew_e8m0_round round_mode);

#endif
