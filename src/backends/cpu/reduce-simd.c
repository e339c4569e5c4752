/* Float row kernels for the hot paths (softmax over the last axis, layer / RMS / group norm rows), written with
 * GCC vector extensions so they vectorize regardless of the auto-vectorizer's mood, and compiled twice: for the
 * baseline ISA and for AVX2+FMA, picked once at first use by CPU detection (see reduce-common.h).
 *
 * Helpers take vectors through pointers: a 32-byte vector passed by value would change the ABI on the
 * baseline ISA (and gcc warns about it), while always_inline helpers through pointers compile to registers. */
#include <math.h>
#include <pthread.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "backends/cpu/reduce-common.h"

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));

#define AI static inline __attribute__((always_inline))
#define SEL(m, a, b) ((v8f)(((m) & (v8i)(a)) | (~(m) & (v8i)(b))))
#define SPLAT(s) ((v8f){0} + (s))

AI void vload(v8f *v, const float *p) { memcpy(v, p, sizeof *v); }
AI void vstore(float *p, const v8f *v) { memcpy(p, v, sizeof *v); }

#define SB_CAT2(a, b) a##_##b
#define SB_CAT(a, b) SB_CAT2(a, b)
#define SB(name) SB_CAT(name, SIMD_SUF)

#define SIMD_SUF base
#include "backends/cpu/reduce-simd-body.h"
#undef SIMD_SUF
#if defined(__x86_64__) || defined(__i386__)
/* clang (the fuzz build) has no "#pragma GCC target"; its attribute pragma does the same for every function */
#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define SIMD_SUF avx2
#include "backends/cpu/reduce-simd-body.h"
#undef SIMD_SUF
#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

static const kr_rowk *chosen = &rowk_base;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void choose(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) chosen = &rowk_avx2;
#endif
}

const kr_rowk *kr_row_kernels(void) {
    pthread_once(&choose_once, choose);
    return chosen;
}
