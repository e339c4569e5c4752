/* Row statistics and affine loops over one floating type, included by norm.c and norm-layer.c once per type:
 *   NT  the type (float or double), NS a name suffix, NFAST 1 to use the dispatched float row kernels
 *   (kr_row_kernels, which compute the same way; NT must be float).
 *
 * Row statistics take one pass: sums of (x - x[0]) and its square, shifted by the first element so the variance
 * does not cancel catastrophically when |mean| >> stddev. Partial sums run in NT lanes over blocks of
 * NM_BLOCK elements (vectorizable) and are folded into double per block, which bounds float rounding growth
 * on long rows. */

#define NM_CAT2(a, b) a##_##b
#define NM_CAT(a, b) NM_CAT2(a, b)
#define NM(name) NM_CAT(name, NS)

#define NM_LANES 8
#define NM_BLOCK 1024

/* Mean and (population) variance of n > 0 contiguous values. */
static inline void NM(row_stats)(const NT *restrict x, int64_t n, double *mean, double *var) {
#if NFAST
    kr_row_kernels()->stats(x, n, mean, var);
    return;
#endif
    const NT c = x[0];
    double s1 = 0, s2 = 0;
    for (int64_t b = 0; b < n; b += NM_BLOCK) {
        int64_t e = b + NM_BLOCK < n ? b + NM_BLOCK : n, i = b;
        NT a1[NM_LANES] = {0}, a2[NM_LANES] = {0};
        for (; i + NM_LANES <= e; i += NM_LANES)
            for (int j = 0; j < NM_LANES; j++) {
                NT d = x[i + j] - c;
                a1[j] += d;
                a2[j] += d * d;
            }
        for (; i < e; i++) {
            NT d = x[i] - c;
            s1 += d;
            s2 += (double)d * d;
        }
        for (int j = 0; j < NM_LANES; j++) s1 += a1[j], s2 += a2[j];
    }
    double m1 = s1 / (double)n, v = s2 / (double)n - m1 * m1;
    *mean = (double)c + m1;
    *var = v > 0 ? v : 0;
}

/* Mean of squares of n > 0 contiguous values. */
static inline double NM(row_msq)(const NT *restrict x, int64_t n) {
#if NFAST
    return kr_row_kernels()->msq(x, n);
#endif
    double s = 0;
    for (int64_t b = 0; b < n; b += NM_BLOCK) {
        int64_t e = b + NM_BLOCK < n ? b + NM_BLOCK : n, i = b;
        NT a[NM_LANES] = {0};
        for (; i + NM_LANES <= e; i += NM_LANES)
            for (int j = 0; j < NM_LANES; j++) a[j] += x[i + j] * x[i + j];
        for (; i < e; i++) s += (double)x[i] * x[i];
        for (int j = 0; j < NM_LANES; j++) s += a[j];
    }
    return s / (double)n;
}

/* y = x * a + b */
static inline void NM(affine)(const NT *restrict x, NT *restrict y, int64_t n, NT a, NT b) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * a + b;
}

/* y = (x - mean) * a + b */
static inline void NM(center_affine)(const NT *restrict x, NT *restrict y, int64_t n, NT mean, NT a, NT b) {
#if NFAST
    kr_row_kernels()->center_affine(x, y, n, mean, a, b);
    return;
#endif
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * a + b;
}

/* y = (x - mean) * inv * scale + bias (bias may be NULL) */
static inline void NM(scale_shift)(const NT *restrict x, NT *restrict y, int64_t n, NT mean, NT inv,
                            const NT *restrict scale, const NT *restrict bias) {
#if NFAST
    kr_row_kernels()->norm(x, y, n, mean, inv, scale, bias);
    return;
#endif
    if (bias)
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * scale[i] + bias[i];
    else
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * scale[i];
}

#undef NM_LANES
#undef NM_BLOCK
#undef NM
#undef NM_CAT
#undef NM_CAT2
