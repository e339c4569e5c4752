/* Single-precision exp, tanh, erf and sigmoid written without branches or library calls, so that loops calling
 * them vectorize (glibc's expf/tanhf/erff are scalar calls). Accuracy: a few ulp (relative error below 3e-7 over
 * the whole range; exp flushes results below 2^-126 to 0). NaN propagates, infinities give the limits.
 *
 * The polynomial coefficients were fitted for kiln (least squares on Chebyshev nodes, then checked in float
 * arithmetic against double references): tanh(x)/x in x^2 on [0, 0.625]; erf(x)/x in x^2 on [0, 1];
 * erfc(x) exp(x^2) in t = 1 / (1 + x/2) on [0.9, 4]. */
#ifndef KILN_CPU_ELTWISE_VMATH_H
#define KILN_CPU_ELTWISE_VMATH_H

#include <stdint.h>
#include <string.h>

static inline float ew_bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint32_t ew_f_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* e^x: x = n ln2 + r (Cody-Waite split of ln2), e^r by its Taylor polynomial (|r| <= ln2/2, degree 6),
 * times 2^n built in the exponent field. */
static inline float ew_vexpf(float x) {
    const float hi = 88.3762626647949f, lo = -87.3365478515625f;
    float xc = x > hi ? hi : x;
    xc = xc < lo ? lo : xc;
    xc = x != x ? 0.0f : xc; /* keep the integer conversion below defined */
    /* round to nearest integer by the 1.5 * 2^23 trick (no SSE4.1 round instruction needed) */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    float s = ew_bits_f((uint32_t)((int32_t)n + 127) << 23);
    float y = p * s;
    y = x > hi ? __builtin_inff() : y;
    y = x < lo ? 0.0f : y;
    return x != x ? x : y;
}

static inline float ew_vsigmoidf(float x) { return 1.0f / (1.0f + ew_vexpf(-x)); }

/* tanh: odd polynomial near 0, 1 - 2 / (e^2|x| + 1) beyond (where the subtraction loses at most one bit). */
static inline float ew_vtanhf(float x) {
    float a = x < 0 ? -x : x;
    float a2 = a * a;
    float p = 0.0021469229832291603f;
    p = p * a2 - 0.008181583136320114f;
    p = p * a2 + 0.02170223370194435f;
    p = p * a2 - 0.05394696816802025f;
    p = p * a2 + 0.1333320587873459f;
    p = p * a2 - 0.3333333134651184f;
    p = p * a2 + 1.0f;
    float small = a * p;
    float ac = a > 10.0f ? 10.0f : a; /* tanh(10) rounds to 1 in float */
    float big = 1.0f - 2.0f / (ew_vexpf(2.0f * ac) + 1.0f);
    float t = a < 0.625f ? small : big;
    t = a != a ? a : t; /* NaN */
    return x < 0 ? -t : t;
}

/* erf: x P(x^2) below 0.9; 1 - e^-x^2 Q(1 / (1 + x/2)) up to 4, where erf rounds to 1. */
static inline float ew_verff(float x) {
    float a = x < 0 ? -x : x;
    float a2 = a * a;
    float p = -9.728410077514127e-06f;
    p = p * a2 + 0.00011288175301160663f;
    p = p * a2 - 0.000848726776894182f;
    p = p * a2 + 0.005221261642873287f;
    p = p * a2 - 0.0268655177205801f;
    p = p * a2 + 0.11283784359693527f;
    p = p * a2 - 0.37612637877464294f;
    p = p * a2 + 1.128379225730896f;
    float small = a * p;
    float ac = a > 4.0f ? 4.0f : a;
    float t = 1.0f / (1.0f + 0.5f * ac);
    float q = -0.04577432945370674f;
    q = q * t - 0.08000313490629196f;
    q = q * t + 0.4310855567455292f;
    q = q * t + 0.08399887382984161f;
    q = q * t + 0.33692610263824463f;
    q = q * t + 0.27248772978782654f;
    q = q * t + 0.0006928947987034917f;
    float big = 1.0f - ew_vexpf(-ac * ac) * q;
    float r = a < 0.9f ? small : big;
    r = a != a ? a : r;
    return x < 0 ? -r : r;
}

#endif
