/* x86 SGEMM micro-kernels, compiled for their ISA with target attributes and chosen at run time, so the library
 * still runs on CPUs without AVX2 / AVX-512 (gemm.c falls back to its portable kernel). */
#include "backends/cpu/gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* 6x16: 12 accumulators + 2 B vectors + 1 broadcast A = 15 of the 16 ymm registers. */
#define AVX2_ROW(r)                                                                                              \
    do {                                                                                                         \
        __m256 av_ = _mm256_broadcast_ss(a + (r));                                                               \
        c##r##0 = _mm256_fmadd_ps(av_, b0, c##r##0);                                                             \
        c##r##1 = _mm256_fmadd_ps(av_, b1, c##r##1);                                                             \
    } while (0)

#define AVX2_STORE(r)                                                                                            \
    do {                                                                                                         \
        float *cr_ = c + (r) * ldc;                                                                              \
        __m256 x0_ = _mm256_mul_ps(va, c##r##0), x1_ = _mm256_mul_ps(va, c##r##1);                               \
        if (beta != 0.0f) {                                                                                      \
            x0_ = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr_), x0_);                                                \
            x1_ = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr_ + 8), x1_);                                            \
        }                                                                                                        \
        if (rbias) {                                                                                             \
            __m256 rb_ = _mm256_set1_ps(rbias[r]);                                                               \
            x0_ = _mm256_add_ps(x0_, rb_);                                                                       \
            x1_ = _mm256_add_ps(x1_, rb_);                                                                       \
        }                                                                                                        \
        _mm256_storeu_ps(cr_, x0_);                                                                              \
        _mm256_storeu_ps(cr_ + 8, x1_);                                                                          \
    } while (0)

__attribute__((target("avx2,fma"))) static void ukr_avx2_6x16(int64_t kc, const float *a, const float *b, float *c,
                                                              int64_t ldc, float alpha, float beta,
                                                              const float *rbias) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int r = 0; r < 6; r++) _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        AVX2_ROW(0);
        AVX2_ROW(1);
        AVX2_ROW(2);
        AVX2_ROW(3);
        AVX2_ROW(4);
        AVX2_ROW(5);
        a += 6;
        b += 16;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    AVX2_STORE(0);
    AVX2_STORE(1);
    AVX2_STORE(2);
    AVX2_STORE(3);
    AVX2_STORE(4);
    AVX2_STORE(5);
}

static const kiln_sgemm_kernel k_avx2 = {"avx2-fma-6x16", 6, 16, ukr_avx2_6x16};

const kiln_sgemm_kernel *kiln_sgemm_kernel_avx2(void) {
    static int ok = -1;
    if (ok < 0) {
        __builtin_cpu_init();
        ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return ok ? &k_avx2 : NULL;
}

/* 12x32: 24 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers. */
#define AVX512_ROW(r)                                                                                            \
    do {                                                                                                         \
        __m512 av_ = _mm512_set1_ps(a[r]);                                                                       \
        c##r##_0 = _mm512_fmadd_ps(av_, b0, c##r##_0);                                                           \
        c##r##_1 = _mm512_fmadd_ps(av_, b1, c##r##_1);                                                           \
    } while (0)

#define AVX512_STORE(r)                                                                                          \
    do {                                                                                                         \
        float *cr_ = c + (r) * ldc;                                                                              \
        __m512 x0_ = _mm512_mul_ps(va, c##r##_0), x1_ = _mm512_mul_ps(va, c##r##_1);                             \
        if (beta != 0.0f) {                                                                                      \
            x0_ = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr_), x0_);                                                \
            x1_ = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr_ + 16), x1_);                                           \
        }                                                                                                        \
        if (rbias) {                                                                                             \
            __m512 rb_ = _mm512_set1_ps(rbias[r]);                                                               \
            x0_ = _mm512_add_ps(x0_, rb_);                                                                       \
            x1_ = _mm512_add_ps(x1_, rb_);                                                                       \
        }                                                                                                        \
        _mm512_storeu_ps(cr_, x0_);                                                                              \
        _mm512_storeu_ps(cr_ + 16, x1_);                                                                         \
    } while (0)

__attribute__((target("avx512f"))) static void ukr_avx512_12x32(int64_t kc, const float *a, const float *b,
                                                                float *c, int64_t ldc, float alpha, float beta,
                                                                const float *rbias) {
    __m512 c0_0 = _mm512_setzero_ps(), c0_1 = c0_0, c1_0 = c0_0, c1_1 = c0_0, c2_0 = c0_0, c2_1 = c0_0;
    __m512 c3_0 = c0_0, c3_1 = c0_0, c4_0 = c0_0, c4_1 = c0_0, c5_0 = c0_0, c5_1 = c0_0;
    __m512 c6_0 = c0_0, c6_1 = c0_0, c7_0 = c0_0, c7_1 = c0_0, c8_0 = c0_0, c8_1 = c0_0;
    __m512 c9_0 = c0_0, c9_1 = c0_0, c10_0 = c0_0, c10_1 = c0_0, c11_0 = c0_0, c11_1 = c0_0;
    for (int r = 0; r < 12; r++) _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        AVX512_ROW(0);
        AVX512_ROW(1);
        AVX512_ROW(2);
        AVX512_ROW(3);
        AVX512_ROW(4);
        AVX512_ROW(5);
        AVX512_ROW(6);
        AVX512_ROW(7);
        AVX512_ROW(8);
        AVX512_ROW(9);
        AVX512_ROW(10);
        AVX512_ROW(11);
        a += 12;
        b += 32;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    AVX512_STORE(0);
    AVX512_STORE(1);
    AVX512_STORE(2);
    AVX512_STORE(3);
    AVX512_STORE(4);
    AVX512_STORE(5);
    AVX512_STORE(6);
    AVX512_STORE(7);
    AVX512_STORE(8);
    AVX512_STORE(9);
    AVX512_STORE(10);
    AVX512_STORE(11);
}

static const kiln_sgemm_kernel k_avx512 = {"avx512f-12x32", 12, 32, ukr_avx512_12x32};

const kiln_sgemm_kernel *kiln_sgemm_kernel_avx512(void) {
    static int ok = -1;
    if (ok < 0) {
        __builtin_cpu_init();
        ok = __builtin_cpu_supports("avx512f");
    }
    return ok ? &k_avx512 : NULL;
}

#else

const kiln_sgemm_kernel *kiln_sgemm_kernel_avx2(void) { return 0; }
const kiln_sgemm_kernel *kiln_sgemm_kernel_avx512(void) { return 0; }

#endif
