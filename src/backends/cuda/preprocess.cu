// CUDA kernel of kiln_preprocess_image: 8-bit HWC pixels -> float32/float16 CHW planes, bilinear resize
// (half-pixel centers) and per-channel normalization in one pass. One thread per output pixel: it reads the 2x2
// source neighbourhood once and writes every channel, so consecutive threads write consecutive elements of each
// plane (coalesced) while the byte reads hit the same cache lines. The arithmetic is the CPU reference's
// (image/preprocess-internal.h).
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "core/status.h"
}
#include "backends/cuda/cuda_op.h"
#include "image/preprocess-internal.h"

namespace {

template <bool HALF> __global__ void preprocess_kernel(kiln_pp_params p) {
    int64_t plane = (int64_t)p.dst_h * p.dst_w;
    int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= plane) return;
    int y = (int)(o / p.dst_w), x = (int)(o - (int64_t)y * p.dst_w);
    int y0, y1, x0, x1;
    float wy, wx;
    kiln_pp_coord(y, p.scale_y, p.src_h, &y0, &y1, &wy);
    kiln_pp_coord(x, p.scale_x, p.src_w, &x0, &x1, &wx);
    const uint8_t *r0 = p.src + (size_t)y0 * p.src_stride, *r1 = p.src + (size_t)y1 * p.src_stride;
    size_t a = (size_t)x0 * p.src_c, b = (size_t)x1 * p.src_c;
    for (int c = 0; c < p.dst_c; c++) {
        int k = p.chan[c];
        float v = kiln_pp_value(r0[a + k], r0[b + k], r1[a + k], r1[b + k], wx, wy, p.vscale, p.mean[c], p.std[c]);
        if (HALF)
            ((__half *)p.dst)[c * plane + o] = __float2half_rn(v);
        else
            ((float *)p.dst)[c * plane + o] = v;
    }
}

// A host pointer handed to the kernel would fault on the device and poison the context: refuse it up front.
kiln_status check_device_pointer(const void *ptr, const char *what) {
    cudaPointerAttributes attr;
    cudaError_t rc = cudaPointerGetAttributes(&attr, ptr);
    if (rc != cudaSuccess) {
        cudaGetLastError();
        return kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_preprocess_image: cannot query %s (%p): %s", what, ptr,
                          cudaGetErrorString(rc));
    }
    if (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged) return KILN_OK;
    if (attr.type == cudaMemoryTypeHost && attr.devicePointer) return KILN_OK; // mapped pinned memory
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_preprocess_image: %s (%p) is host memory; the CUDA target reads and writes device memory "
                      "(copy the pixels with kiln_device_copy first)", what, ptr);
}

} // namespace

extern "C" kiln_status kiln_cuda_preprocess(const kiln_pp_params *p, void *stream) {
    KILN_TRY(check_device_pointer(p->src, "src"));
    KILN_TRY(check_device_pointer(p->dst, "dst"));
    int64_t plane = (int64_t)p->dst_h * p->dst_w;
    const int threads = 256;
    unsigned blocks = (unsigned)((plane + threads - 1) / threads);
    cudaStream_t s = (cudaStream_t)stream;
    if (p->dst_half)
        preprocess_kernel<true><<<blocks, threads, 0, s>>>(*p);
    else
        preprocess_kernel<false><<<blocks, threads, 0, s>>>(*p);
    KILN_CUDA_CHECK(cudaGetLastError());
    return KILN_OK;
}
