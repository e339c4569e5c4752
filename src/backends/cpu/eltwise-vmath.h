/* Single-precision exp, tanh, erf and sigmoid written without branches or library calls, so that loops calling
 * them vectorize (glibc's expf/tanhf/erff are scalar calls). Accuracy: a few ulp (relative error below 6e-7 over
 * the whole range; exp flushes results below 2^-126 to 0). NaN propagates, infinities give the limits.
 *
 * The rational coefficients were fitted for kiln (weighted least squares with Loeb iterations for relative error,
 * then checked with float32 coefficients and float arithmetic against double references on a dense grid):
 * tanh(x) ~ x P6(x^2) / Q4(x^2) on [0, 9]; erf(x) ~ x P6(x^2) / Q6(x^2) on [0, 4]. */
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
 * times 2^n built in the exponent field (as 2^(n-1) * 2 when n > 0, so that n = 128 still fits). */
static inline float ew_vexpf(float x) {
    const float hi = 88.72283935546875f, lo = -87.3365478515625f; /* ~ln(FLT_MAX), ~ln(FLT_MIN) */
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
    int32_t ni = (int32_t)n, up = ni > 0;
    float s = ew_bits_f((uint32_t)(ni - up + 127) << 23);
    float y = (p * s) * (float)(1 + up);
    y = x > hi ? __builtin_inff() : y;
    y = x < lo ? 0.0f : y;
    return x != x ? x : y;
}

static inline float ew_vsigmoidf(float x) { return 1.0f / (1.0f + ew_vexpf(-x)); }

/* tanh: x P(x^2) / Q(x^2) on |x| <= 9 (relative error <= 5.3e-7), clamped to [-1, 1]; 1 beyond. */
static inline float ew_vtanhf(float x) {
    float a = x < 0 ? -x : x;
    float ac = a > 9.0f ? 9.0f : a;
    float a2 = ac * ac;
    float p = 2.1913415526597646e-11f;
    p = p * a2 - 1.4271951620514756e-08f;
    p = p * a2 + 9.779306310520042e-06f;
    p = p * a2 + 0.0029775970615446568f;
    p = p * a2 + 0.12972253561019897f;
    p = p * a2 + 1.0f;
    float q = 0.0002359182108193636f;
    q = q * a2 + 0.023996373638510704f;
    q = q * a2 + 0.4630557596683502f;
    q = q * a2 + 1.0f;
    float t = ac * p / q;
    t = t > 1.0f ? 1.0f : t;
    t = a > 9.0f ? 1.0f : t;
    t = a != a ? a : t; /* NaN */
    return x < 0 ? -t : t;
}

/* erf: x P(x^2) / Q(x^2) on |x| <= 4 (relative error <= 3.4e-7), clamped to [-1, 1]; erf rounds to 1 beyond. */
static inline float ew_verff(float x) {
    float a = x < 0 ? -x : x;
    float ac = a > 4.0f ? 4.0f : a;
    float a2 = ac * ac;
    float p = 2.0165896330581745e-06f;
    p = p * a2 + 0.00028315468807704747f;
    p = p * a2 + 0.0037813009694218636f;
    p = p * a2 + 0.05278526619076729f;
    p = p * a2 + 0.1910439431667328f;
    p = p * a2 + 1.1283791065216064f;
    float q = 3.765764267882332e-05f;
    q = q * a2 + 0.0011625840561464429f;
    q = q * a2 + 0.015000525861978531f;
    q = q * a2 + 0.11432947218418121f;
    q = q * a2 + 0.5026411414146423f;
    q = q * a2 + 1.0f;
    float r = ac * p / q;
    r = r > 1.0f ? 1.0f : r;
    r = a != a ? a : r;
    return x < 0 ? -r : r;
}

#endif
