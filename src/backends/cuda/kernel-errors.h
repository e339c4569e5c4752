/* Errors that device kernels can only detect while running (data-dependent), recorded in device memory instead
 * of stopping the stream. Gather and the index family (GatherElements, GatherND, the scatters) clamp an
 * out-of-range index (so they never read or write out of bounds) and record it here. The record is process-wide
 * (shared by every context); read it after the stream has synchronized. */
#ifndef KILN_CUDA_KERNEL_ERRORS_H
#define KILN_CUDA_KERNEL_ERRORS_H

#include "kiln.h"

#ifdef __cplusplus
extern "C" {
#endif

/* KILN_OK when no kernel recorded an error since the last call; otherwise KILN_ERR_RUNTIME with a message naming
 * the op, the first bad index and the axis size, and the record is cleared. Synchronous: call after the stream
 * the kernels ran on has finished. */
kiln_status kiln_cuda_take_kernel_errors(void);
/* The same for the index family alone (GatherElements, GatherND, scatters); kiln_cuda_take_kernel_errors calls it. */
kiln_status kiln_cuda_take_index_errors(void);

#ifdef __cplusplus
}
#endif
#endif
