/* Float row kernels for the hot paths (softmax over the last axis, layer / RMS / group norm rows), written with
 * GCC vector extensions so they vectorize regardless of the auto-vectorizer's mood, and compiled twice: for the
 * baseline ISA and for AVX2+FMA, picked once at first use by CPU detection (see reduce-common.h).
 *
 * Helpers take vectors through pointers: a 32-byte vector passed by value would change the ABI on the
 * baseline ISA (and gcc warns about it), while always_inline helpers through pointers compile to registers. */
#include <math.h>
#include <pthread.h>

#include "backends/cpu/reduce-common.h"

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));

#define AI static inline __attribute__((always_inline))
#define SEL(m, a, b) ((v8f)(((m) & (v8i)(a)) | (~(m) & (v8i)(b))))
#define SPLAT(s) ((v8f){0} + (s))

AI void vload(v8f *v, const float *p) { memcpy(v, p, sizeof *v); }
AI void vstore(float *p, const v8f *v) { memcpy(p, v, sizeof *v); }

/* The vector form of kr_expf (same constants, same results). */
AI void vexp(v8f *px) {
    const v8f x = *px, hi = SPLAT(88.3762626647949f), lo = SPLAT(-87.3365447505531f);
    v8f xc = SEL(x > hi, hi, x);
    xc = SEL(xc < lo, lo, xc);
    v8f t = xc * 1.44269504088896341f + 12582912.0f;
    v8f n = t - 12582912.0f;
    v8u tb = (v8u)t;
    v8f r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    v8f p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    v8u eb = (tb - 0x4b400000u + 127u) << 23;
    v8f y = p * (v8f)eb;
    y = SEL(x < lo, SPLAT(0.0f), y);
    *px = SEL(x > hi, SPLAT(__builtin_inff()), y);
}

AI float hsum(const v8f *v) {
    float s = 0;
    for (int j = 0; j < 8; j++) s += (*v)[j];
    return s;
}

AI float body_max(const float *x, int64_t n) {
    if (n <= 0) return -INFINITY;
    v8f acc = SPLAT(x[0]);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f v;
        vload(&v, x + i);
        v8i take = (v > acc) | (v != v);
        acc = SEL(take, v, acc);
    }
    float m = x[0];
    for (; i < n; i++) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
    for (int j = 0; j < 8; j++) m = (acc[j] > m || acc[j] != acc[j]) ? acc[j] : m;
    return m;
}

AI float body_exp_sum(const float *x, float *y, int64_t n, float shift) {
    v8f a0 = SPLAT(0.0f), a1 = SPLAT(0.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v8f u, v;
        vload(&u, x + i);
        vload(&v, x + i + 8);
        u -= shift;
        v -= shift;
        vexp(&u);
        vexp(&v);
        if (y) vstore(y + i, &u), vstore(y + i + 8, &v);
        a0 += u;
        a1 += v;
    }
    for (; i + 8 <= n; i += 8) {
        v8f u;
        vload(&u, x + i);
        u -= shift;
        vexp(&u);
        if (y) vstore(y + i, &u);
        a0 += u;
    }
    a0 += a1;
    float s = hsum(&a0);
    for (; i < n; i++) {
        float e = kr_expf(x[i] - shift);
        if (y) y[i] = e;
        s += e;
    }
    return s;
}

AI void body_scale(float *y, int64_t n, float a) {
    for (int64_t i = 0; i < n; i++) y[i] *= a;
}

AI void body_sub(const float *x, float *y, int64_t n, float b) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] - b;
}

#define BLOCK 1024

/* Shifted one-pass sums (see norm-core.h): vector lanes per block, folded into double per block. */
AI void body_stats(const float *x, int64_t n, double *mean, double *var) {
    const float c = x[0];
    double s1 = 0, s2 = 0;
    for (int64_t b = 0; b < n; b += BLOCK) {
        int64_t e = b + BLOCK < n ? b + BLOCK : n, i = b;
        v8f a1 = SPLAT(0.0f), a2 = SPLAT(0.0f);
        for (; i + 8 <= e; i += 8) {
            v8f d;
            vload(&d, x + i);
            d -= c;
            a1 += d;
            a2 += d * d;
        }
        for (; i < e; i++) {
            double d = (double)(x[i] - c);
            s1 += d;
            s2 += d * d;
        }
        for (int j = 0; j < 8; j++) s1 += a1[j], s2 += a2[j];
    }
    double m1 = s1 / (double)n, v = s2 / (double)n - m1 * m1;
    *mean = (double)c + m1;
    *var = v > 0 ? v : 0;
}

AI double body_msq(const float *x, int64_t n) {
    double s = 0;
    for (int64_t b = 0; b < n; b += BLOCK) {
        int64_t e = b + BLOCK < n ? b + BLOCK : n, i = b;
        v8f a = SPLAT(0.0f);
        for (; i + 8 <= e; i += 8) {
            v8f v;
            vload(&v, x + i);
            a += v * v;
        }
        for (; i < e; i++) s += (double)x[i] * x[i];
        for (int j = 0; j < 8; j++) s += a[j];
    }
    return s / (double)n;
}

AI void body_norm(const float *restrict x, float *restrict y, int64_t n, float mean, float inv,
                  const float *restrict scale, const float *restrict bias) {
    if (bias)
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * scale[i] + bias[i];
    else
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * scale[i];
}

AI void body_center_affine(const float *restrict x, float *restrict y, int64_t n, float mean, float a, float b) {
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * a + b;
}

#define DEFINE_ROWK(SUF, ATTR)                                                                                   \
    ATTR static float max_##SUF(const float *x, int64_t n) { return body_max(x, n); }                            \
    ATTR static float exp_sum_##SUF(const float *x, float *y, int64_t n, float s) {                              \
        return body_exp_sum(x, y, n, s);                                                                         \
    }                                                                                                            \
    ATTR static void scale_##SUF(float *y, int64_t n, float a) { body_scale(y, n, a); }                          \
    ATTR static void sub_##SUF(const float *x, float *y, int64_t n, float b) { body_sub(x, y, n, b); }           \
    ATTR static void stats_##SUF(const float *x, int64_t n, double *m, double *v) { body_stats(x, n, m, v); }     \
    ATTR static double msq_##SUF(const float *x, int64_t n) { return body_msq(x, n); }                           \
    ATTR static void norm_##SUF(const float *x, float *y, int64_t n, float m, float inv, const float *sc,        \
                                const float *bi) {                                                               \
        body_norm(x, y, n, m, inv, sc, bi);                                                                      \
    }                                                                                                            \
    ATTR static void center_affine_##SUF(const float *x, float *y, int64_t n, float m, float a, float b) {        \
        body_center_affine(x, y, n, m, a, b);                                                                    \
    }                                                                                                            \
    static const kr_rowk rowk_##SUF = {max_##SUF,   exp_sum_##SUF, scale_##SUF, sub_##SUF,                       \
                                       stats_##SUF, msq_##SUF,     norm_##SUF,  center_affine_##SUF};

DEFINE_ROWK(base, )
#if defined(__x86_64__) || defined(__i386__)
DEFINE_ROWK(avx2, __attribute__((target("avx2,fma"))))
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
