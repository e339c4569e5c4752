/* Public device-memory helpers (kiln.h "device memory"): thin wrappers over the CUDA runtime so that applications
 * feeding a CUDA engine need no CUDA headers. In a build without CUDA they exist too and refuse, so an application
 * compiles the same either way and learns at run time that there is no GPU. */
#include "kiln.h"

#include "core/status.h"

#ifdef KILN_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backends/cuda/cuda_op.h"
#include "backends/cuda/device.h"

int kiln_device_count(void) { return kiln_cuda_device_count(); }

kiln_status kiln_device_alloc(size_t bytes, void **ptr) {
    KILN_FAIL_IF(!ptr, KILN_ERR_INVALID_ARGUMENT, "kiln_device_alloc: ptr is NULL");
    *ptr = NULL;
    if (bytes == 0) return KILN_OK;
    KILN_FAIL_IF(kiln_cuda_device_count() == 0, KILN_ERR_DEVICE, "kiln_device_alloc: no CUDA device is available");
    cudaError_t rc = cudaMalloc(ptr, bytes);
    if (rc != cudaSuccess) {
        *ptr = NULL;
        cudaGetLastError(); /* an allocation failure is not sticky: later calls may still succeed */
        return kiln_error(rc == cudaErrorMemoryAllocation ? KILN_ERR_OUT_OF_MEMORY : KILN_ERR_DEVICE,
                          "kiln_device_alloc: cudaMalloc of %zu bytes failed: %s", bytes, cudaGetErrorString(rc));
    }
    return KILN_OK;
}

void kiln_device_free(void *ptr) {
    if (ptr) cudaFree(ptr);
}

kiln_status kiln_device_copy(void *dst, const void *src, size_t bytes, kiln_copy_kind kind, void *stream) {
    if (bytes == 0) return KILN_OK;
    KILN_FAIL_IF(!dst || !src, KILN_ERR_INVALID_ARGUMENT, "kiln_device_copy: %s pointer is NULL",
                 !dst ? "destination" : "source");
    enum cudaMemcpyKind k;
    switch (kind) {
    case KILN_COPY_HOST_TO_DEVICE: k = cudaMemcpyHostToDevice; break;
    case KILN_COPY_DEVICE_TO_HOST: k = cudaMemcpyDeviceToHost; break;
    case KILN_COPY_DEVICE_TO_DEVICE: k = cudaMemcpyDeviceToDevice; break;
    default: return kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_device_copy: unknown copy kind %d", (int)kind);
    }
    if (stream)
        KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, k, (cudaStream_t)stream));
    else
        KILN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, k));
    return KILN_OK;
}

kiln_status kiln_stream_create(void **stream) {
    KILN_FAIL_IF(!stream, KILN_ERR_INVALID_ARGUMENT, "kiln_stream_create: stream is NULL");
    *stream = NULL;
    KILN_FAIL_IF(kiln_cuda_device_count() == 0, KILN_ERR_DEVICE, "kiln_stream_create: no CUDA device is available");
    cudaStream_t s = NULL;
    KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    *stream = s;
    return KILN_OK;
}

void kiln_stream_destroy(void *stream) {
    if (stream) cudaStreamDestroy((cudaStream_t)stream);
}

kiln_status kiln_stream_synchronize(void *stream) {
    KILN_FAIL_IF(!stream, KILN_ERR_INVALID_ARGUMENT, "kiln_stream_synchronize: stream is NULL");
    KILN_CUDA_CHECK(cudaStreamSynchronize((cudaStream_t)stream));
    return KILN_OK;
}

#else /* no CUDA in this build */

#define KILN_NO_CUDA(fn) kiln_error(KILN_ERR_UNSUPPORTED, "%s: kiln was built without CUDA (no GPU support)", fn)

int kiln_device_count(void) { return 0; }

kiln_status kiln_device_alloc(size_t bytes, void **ptr) {
    if (ptr) *ptr = NULL;
    return KILN_NO_CUDA("kiln_device_alloc");
}

void kiln_device_free(void *ptr) {}

kiln_status kiln_device_copy(void *dst, const void *src, size_t bytes, kiln_copy_kind kind, void *stream) {
    return KILN_NO_CUDA("kiln_device_copy");
}

kiln_status kiln_stream_create(void **stream) {
    if (stream) *stream = NULL;
    return KILN_NO_CUDA("kiln_stream_create");
}

void kiln_stream_destroy(void *stream) {}

kiln_status kiln_stream_synchronize(void *stream) { return KILN_NO_CUDA("kiln_stream_synchronize"); }

#endif
