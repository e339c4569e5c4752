/* The GPU kiln runs on: detection and the identity a CUDA plan records. */
#ifndef KILN_CUDA_DEVICE_H
#define KILN_CUDA_DEVICE_H

#include <stdint.h>

#include "kiln.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_cuda_device_info {
    char name[256];
    int cc_major, cc_minor;
    uint8_t uuid[16];
    int cuda_runtime_version;   /* e.g. 13000 */
    int cuda_driver_version;
    int cudnn_version;          /* e.g. 91900 */
    int cublaslt_version;       /* e.g. 130100 */
    size_t total_memory;
    int sm_count;
} kiln_cuda_device_info;

/* Number of usable GPUs (0 when there is no driver or no device; never an error). */
int kiln_cuda_device_count(void);
/* Identity of device `ordinal` (the current device when -1). */
kiln_status kiln_cuda_device_query(int ordinal, kiln_cuda_device_info *out);
/* "NVIDIA H100 80GB HBM3 (sm_90, CUDA 13.0, cuDNN 9.19.0, cuBLASLt 13.1.0)" into buf. */
const char *kiln_cuda_device_describe(const kiln_cuda_device_info *d, char *buf, size_t n);
/* Compares a plan's recorded device with the running one; KILN_ERR_INCOMPATIBLE_PLAN naming every field that
 * differs (GPU model, compute capability, CUDA/cuDNN/cuBLASLt versions). The UUID is informative only: plans move
 * between cards of the same model. */
kiln_status kiln_cuda_device_check(const kiln_cuda_device_info *plan, const kiln_cuda_device_info *here);

#ifdef __cplusplus
}
#endif
#endif
