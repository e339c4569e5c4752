#include "backends/cuda/device.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <stdio.h>
#include <string.h>

#include "backends/cuda/cuda_op.h"
#include "core/status.h"

kiln_status kiln_cuda_error(const char *file, int line, const char *what, int code, const char *detail) {
    const char *msg = detail;
    if (!msg && strncmp(what, "cuda", 4) == 0 && strncmp(what, "cudnn", 5) != 0)
        msg = cudaGetErrorString((cudaError_t)code);
    if (!msg && strncmp(what, "cudnn", 5) == 0) msg = cudnnGetErrorString((cudnnStatus_t)code);
    return kiln_error_at(file, line, KILN_ERR_DEVICE, "%s failed with code %d%s%s", what, code, msg ? ": " : "",
                         msg ? msg : "");
}

int kiln_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky "no driver" error */
        return 0;
    }
    return n;
}

kiln_status kiln_cuda_device_query(int ordinal, kiln_cuda_device_info *out) {
    memset(out, 0, sizeof *out);
    KILN_FAIL_IF(kiln_cuda_device_count() == 0, KILN_ERR_DEVICE, "no CUDA device is available");
    if (ordinal < 0) KILN_CUDA_CHECK(cudaGetDevice(&ordinal));
    struct cudaDeviceProp p;
    KILN_CUDA_CHECK(cudaGetDeviceProperties(&p, ordinal));
    snprintf(out->name, sizeof out->name, "%s", p.name);
    out->cc_major = p.major;
    out->cc_minor = p.minor;
    memcpy(out->uuid, p.uuid.bytes, 16);
    out->total_memory = p.totalGlobalMem;
    out->sm_count = p.multiProcessorCount;
    KILN_CUDA_CHECK(cudaRuntimeGetVersion(&out->cuda_runtime_version));
    KILN_CUDA_CHECK(cudaDriverGetVersion(&out->cuda_driver_version));
    out->cudnn_version = (int)cudnnGetVersion();
    out->cublaslt_version = (int)cublasLtGetVersion();
    return KILN_OK;
}

const char *kiln_cuda_device_describe(const kiln_cuda_device_info *d, char *buf, size_t n) {
    snprintf(buf, n, "%s (sm_%d%d, CUDA %d.%d, cuDNN %d.%d.%d, cuBLASLt %d.%d.%d)", d->name, d->cc_major, d->cc_minor,
             d->cuda_runtime_version / 1000, d->cuda_runtime_version % 1000 / 10, d->cudnn_version / 10000,
             d->cudnn_version % 10000 / 100, d->cudnn_version % 100, d->cublaslt_version / 10000,
             d->cublaslt_version % 10000 / 100, d->cublaslt_version % 100);
    return buf;
}

kiln_status kiln_cuda_device_check(const kiln_cuda_device_info *plan, const kiln_cuda_device_info *here) {
    char diff[900] = "";
    size_t o = 0;
#define KILN_DIFF(cond, ...)                                                                                     \
    if ((cond) && o < sizeof diff) o += (size_t)snprintf(diff + o, sizeof diff - o, __VA_ARGS__)
    KILN_DIFF(strcmp(plan->name, here->name), "; GPU: plan '%s', this machine '%s'", plan->name, here->name);
    KILN_DIFF(plan->cc_major != here->cc_major || plan->cc_minor != here->cc_minor,
              "; compute capability: plan sm_%d%d, this GPU sm_%d%d", plan->cc_major, plan->cc_minor, here->cc_major,
              here->cc_minor);
    KILN_DIFF(plan->cuda_runtime_version != here->cuda_runtime_version, "; CUDA runtime: plan %d, here %d",
              plan->cuda_runtime_version, here->cuda_runtime_version);
    KILN_DIFF(plan->cudnn_version != here->cudnn_version, "; cuDNN: plan %d, here %d", plan->cudnn_version,
              here->cudnn_version);
    KILN_DIFF(plan->cublaslt_version != here->cublaslt_version, "; cuBLASLt: plan %d, here %d",
              plan->cublaslt_version, here->cublaslt_version);
#undef KILN_DIFF
    KILN_FAIL_IF(o > 0, KILN_ERR_INCOMPATIBLE_PLAN, "plan was built for another GPU or library version%s", diff);
    return KILN_OK;
}
