/* Image pre-processing (kiln_preprocess_image) shared by the CPU reference (image/preprocess.c) and the CUDA
 * kernel (backends/cuda/preprocess.cu): the validated parameters and the per-sample arithmetic, written once so
 * that both targets evaluate the same float32 operations in the same order. In CUDA the operations are the _rn
 * intrinsics, which nvcc never contracts into fused multiply-adds, so a GPU result matches the CPU one exactly
 * wherever the host compiler does not contract either (x86-64 without -mfma does not). */
#ifndef KILN_IMAGE_PREPROCESS_INTERNAL_H
#define KILN_IMAGE_PREPROCESS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A descriptor after validation, with the defaults filled in. */
typedef struct kiln_pp_params {
    const uint8_t *src;
    size_t src_stride;
    int src_h, src_w, src_c;
    void *dst;
    int dst_h, dst_w, dst_c;
    int dst_half;       /* 1: float16, 0: float32 */
    int chan[3];        /* source channel of each dst channel */
    float scale_y, scale_x; /* src_size / dst_size */
    float vscale;
    float mean[3], std[3];
} kiln_pp_params;

#ifdef KILN_HAVE_CUDA
/* Launches the kernel on `stream` (cudaStream_t; NULL is the legacy default stream). src and dst must be device
 * memory: checked here, since a host pointer would fault inside the kernel. */
kiln_status kiln_cuda_preprocess(const kiln_pp_params *p, void *stream);
#endif

#ifdef __cplusplus
}
#endif

#ifdef __CUDACC__
#define KILN_PP_FN static __device__ __forceinline__
#define KILN_PP_ADD(a, b) __fadd_rn((a), (b))
#define KILN_PP_SUB(a, b) __fsub_rn((a), (b))
#define KILN_PP_MUL(a, b) __fmul_rn((a), (b))
#define KILN_PP_DIV(a, b) __fdiv_rn((a), (b))
#else
#define KILN_PP_FN static inline
#define KILN_PP_ADD(a, b) ((a) + (b))
#define KILN_PP_SUB(a, b) ((a) - (b))
#define KILN_PP_MUL(a, b) ((a) * (b))
#define KILN_PP_DIV(a, b) ((a) / (b))
#endif

/* Source sample for destination index d along an axis of n source elements: half-pixel centers, clamped into
 * [0, n - 1] (so the edges replicate); i0/i1 the neighbours, w the weight of i1. */
KILN_PP_FN void kiln_pp_coord(int d, float scale, int n, int *i0, int *i1, float *w) {
    float s = KILN_PP_SUB(KILN_PP_MUL(KILN_PP_ADD((float)d, 0.5f), scale), 0.5f);
    if (s < 0.0f) s = 0.0f;
    if (s > (float)(n - 1)) s = (float)(n - 1);
    int i = (int)s;
    *i0 = i;
    *i1 = i + 1 < n ? i + 1 : i;
    *w = KILN_PP_SUB(s, (float)i);
}

/* Bilinear blend of a (top left), b (top right), c (bottom left), e (bottom right), then the value transform. */
KILN_PP_FN float kiln_pp_value(float a, float b, float c, float e, float wx, float wy, float vscale, float mean,
                               float std) {
    float top = KILN_PP_ADD(KILN_PP_MUL(KILN_PP_SUB(1.0f, wx), a), KILN_PP_MUL(wx, b));
    float bot = KILN_PP_ADD(KILN_PP_MUL(KILN_PP_SUB(1.0f, wx), c), KILN_PP_MUL(wx, e));
    float v = KILN_PP_ADD(KILN_PP_MUL(KILN_PP_SUB(1.0f, wy), top), KILN_PP_MUL(wy, bot));
    return KILN_PP_DIV(KILN_PP_SUB(KILN_PP_MUL(v, vscale), mean), std);
}

#endif
