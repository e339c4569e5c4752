/* Body of the float row kernels (see reduce-simd.c), included once per ISA with SIMD_SUF naming the variant;
 * inside a `#pragma GCC target` region the ISA macros (__AVX2__) say what may be used. */

/* The vector form of kr_expf (same constants, same clamping, same results up to FMA contraction). */
AI void SB(vexp)(v8f *px) {
    const v8f hi = SPLAT(KR_EXP_HI), lo = SPLAT(KR_EXP_LO);
    v8f x = *px;
#ifdef __AVX2__
    /* min/max return their second operand when either is NaN: x second keeps NaN. */
    x = (v8f)_mm256_min_ps((__m256)hi, (__m256)x);
    x = (v8f)_mm256_max_ps((__m256)lo, (__m256)x);
#else
    x = SEL(x > hi, hi, x);
    x = SEL(x < lo, lo, x);
#endif
    v8f t = x * 1.44269504088896341f + 12582912.0f;
    v8f n = t - 12582912.0f;
    v8u tb = (v8u)t;
    v8f r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    v8f p = r * 8.29031505e-3f + 4.18979302e-2f;
    p = p * r + 1.66676357e-1f;
    p = p * r + 4.99991506e-1f;
    p = p * r + 9.99999702e-1f;
    p = p * r + 1.0f;
    v8u eb = (tb - 0x4b400000u + 127u) << 23;
    *px = p * (v8f)eb;
}

AI float SB(hsum)(const v8f *v) {
    float s = 0;
    for (int j = 0; j < 8; j++) s += (*v)[j];
    return s;
}

AI float SB(body_max)(const float *x, int64_t n) {
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

AI float SB(body_exp_sum)(const float *x, float *y, int64_t n, float shift) {
    v8f a0 = SPLAT(0.0f), a1 = SPLAT(0.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v8f u, v;
        vload(&u, x + i);
        vload(&v, x + i + 8);
        u -= shift;
        v -= shift;
        SB(vexp)(&u);
        SB(vexp)(&v);
        if (y) vstore(y + i, &u), vstore(y + i + 8, &v);
        a0 += u;
        a1 += v;
    }
    for (; i + 8 <= n; i += 8) {
        v8f u;
        vload(&u, x + i);
        u -= shift;
        SB(vexp)(&u);
        if (y) vstore(y + i, &u);
        a0 += u;
    }
    a0 += a1;
    float s = SB(hsum)(&a0);
    for (; i < n; i++) {
        float e = kr_expf(x[i] - shift);
        if (y) y[i] = e;
        s += e;
    }
    return s;
}

AI void SB(body_scale)(float *y, int64_t n, float a) {
    for (int64_t i = 0; i < n; i++) y[i] *= a;
}

AI void SB(body_sub)(const float *x, float *y, int64_t n, float b) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] - b;
}

#define BLOCK 1024

/* Shifted one-pass sums (see norm-core.h): vector lanes per block, folded into double per block. */
AI void SB(body_stats)(const float *x, int64_t n, double *mean, double *var) {
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

AI double SB(body_msq)(const float *x, int64_t n) {
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

AI void SB(body_norm)(const float *restrict x, float *restrict y, int64_t n, float mean, float inv,
                  const float *restrict scale, const float *restrict bias) {
    if (bias)
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * scale[i] + bias[i];
    else
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * scale[i];
}

AI void SB(body_center_affine)(const float *restrict x, float *restrict y, int64_t n, float mean, float a,
                               float b) {
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * a + b;
}

/* Vector combine / map per kind (NaN propagates through max and min, as in the scalar paths). */
#define V_ADD(a, v) ((a) + (v))
#define V_MUL(a, v) ((a) * (v))
#define V_MAX(a, v) SEL(((v) > (a)) | ((v) != (v)), v, a)
#define V_MIN(a, v) SEL(((v) < (a)) | ((v) != (v)), v, a)
#define V_ABS(v) ((v8f)((v8i)(v) & 0x7fffffff))
#define S_ADD(a, v) ((a) + (v))
#define S_MUL(a, v) ((a) * (v))
#define S_MAX(a, v) (((v) > (a) || (v) != (v)) ? (v) : (a))
#define S_MIN(a, v) (((v) < (a) || (v) != (v)) ? (v) : (a))

#define ROW_LOOP(VCOMB, VMAP, SCOMB, SMAP, INIT)                                                                 \
    do {                                                                                                         \
        v8f a0 = SPLAT(INIT), a1 = SPLAT(INIT);                                                                  \
        int64_t i = 0;                                                                                           \
        for (; i + 16 <= n; i += 16) {                                                                           \
            v8f v, w;                                                                                            \
            vload(&v, x + i);                                                                                    \
            vload(&w, x + i + 8);                                                                                \
            VMAP(v);                                                                                             \
            VMAP(w);                                                                                             \
            a0 = VCOMB(a0, v);                                                                                   \
            a1 = VCOMB(a1, w);                                                                                   \
        }                                                                                                        \
        a0 = VCOMB(a0, a1);                                                                                      \
        for (int j = 0; j < 8; j++) r = SCOMB(r, a0[j]);                                                         \
        for (; i < n; i++) {                                                                                     \
            float v = x[i];                                                                                      \
            SMAP(v);                                                                                             \
            r = SCOMB(r, v);                                                                                     \
        }                                                                                                        \
    } while (0)

#define M_ID(v) (void)0
#define M_VABS(v) (v) = V_ABS(v)
#define M_SABS(v) (v) = fabsf(v)
#define M_SQ(v) (v) = (v) * (v)
#define M_VEXP(v) ((v) -= shift, SB(vexp)(&(v)))
#define M_SEXP(v) (v) = kr_expf((v) - shift)

AI float SB(body_reduce)(kr_kind kind, const float *x, int64_t n, float shift) {
    float r;
    switch (kind) {
    case KR_PROD: r = 1; ROW_LOOP(V_MUL, M_ID, S_MUL, M_ID, 1.0f); break;
    case KR_MAX: r = x[0]; ROW_LOOP(V_MAX, M_ID, S_MAX, M_ID, x[0]); break;
    case KR_MIN: r = x[0]; ROW_LOOP(V_MIN, M_ID, S_MIN, M_ID, x[0]); break;
    case KR_ASUM: r = 0; ROW_LOOP(V_ADD, M_VABS, S_ADD, M_SABS, 0.0f); break;
    case KR_SQSUM: r = 0; ROW_LOOP(V_ADD, M_SQ, S_ADD, M_SQ, 0.0f); break;
    case KR_EXPSUM: r = 0; ROW_LOOP(V_ADD, M_VEXP, S_ADD, M_SEXP, 0.0f); break;
    default: r = 0; ROW_LOOP(V_ADD, M_ID, S_ADD, M_ID, 0.0f); break;
    }
    return r;
}

#define ACC_LOOP(VCOMB, VMAP, SCOMB, SMAP)                                                                       \
    do {                                                                                                         \
        int64_t i = 0;                                                                                           \
        for (; i + 8 <= n; i += 8) {                                                                             \
            v8f a, v;                                                                                            \
            vload(&a, acc + i);                                                                                  \
            vload(&v, x + i);                                                                                    \
            VMAP;                                                                                                \
            a = VCOMB(a, v);                                                                                     \
            vstore(acc + i, &a);                                                                                 \
        }                                                                                                        \
        for (; i < n; i++) {                                                                                     \
            float v = x[i];                                                                                      \
            SMAP;                                                                                                \
            acc[i] = SCOMB(acc[i], v);                                                                           \
        }                                                                                                        \
    } while (0)

AI void SB(body_accum)(kr_kind kind, float *acc, const float *x, int64_t n, const float *shift) {
    switch (kind) {
    case KR_PROD: ACC_LOOP(V_MUL, (void)0, S_MUL, (void)0); break;
    case KR_MAX: ACC_LOOP(V_MAX, (void)0, S_MAX, (void)0); break;
    case KR_MIN: ACC_LOOP(V_MIN, (void)0, S_MIN, (void)0); break;
    case KR_ASUM: ACC_LOOP(V_ADD, v = V_ABS(v), S_ADD, v = fabsf(v)); break;
    case KR_SQSUM: ACC_LOOP(V_ADD, v = v * v, S_ADD, v = v * v); break;
    case KR_EXPSUM: {
        v8f s;
        ACC_LOOP(V_ADD, (vload(&s, shift + i), v -= s, SB(vexp)(&v)), S_ADD, v = kr_expf(v - shift[i]));
        break;
    }
    default: ACC_LOOP(V_ADD, (void)0, S_ADD, (void)0); break;
    }
}

/* Four rows per pass over acc: a quarter of the acc loads and stores of four body_accum calls. */
#define ACC4_LOOP(VCOMB, VMAP, SCOMB, SMAP)                                                                      \
    do {                                                                                                         \
        int64_t i = 0;                                                                                           \
        for (; i + 8 <= n; i += 8) {                                                                             \
            v8f a, v;                                                                                            \
            vload(&a, acc + i);                                                                                  \
            for (int q = 0; q < 4; q++) {                                                                        \
                vload(&v, xs[q] + i);                                                                            \
                VMAP;                                                                                            \
                a = VCOMB(a, v);                                                                                 \
            }                                                                                                    \
            vstore(acc + i, &a);                                                                                 \
        }                                                                                                        \
        for (; i < n; i++)                                                                                       \
            for (int q = 0; q < 4; q++) {                                                                        \
                float v = xs[q][i];                                                                              \
                SMAP;                                                                                            \
                acc[i] = SCOMB(acc[i], v);                                                                       \
            }                                                                                                    \
    } while (0)

AI void SB(body_accum_rows)(kr_kind kind, float *acc, const float *x, const int64_t *roff, int64_t nr, int64_t n,
                            const float *shift) {
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) {
        const float *xs[4] = {x + roff[r], x + roff[r + 1], x + roff[r + 2], x + roff[r + 3]};
        switch (kind) {
        case KR_PROD: ACC4_LOOP(V_MUL, (void)0, S_MUL, (void)0); break;
        case KR_MAX: ACC4_LOOP(V_MAX, (void)0, S_MAX, (void)0); break;
        case KR_MIN: ACC4_LOOP(V_MIN, (void)0, S_MIN, (void)0); break;
        case KR_ASUM: ACC4_LOOP(V_ADD, v = V_ABS(v), S_ADD, v = fabsf(v)); break;
        case KR_SQSUM: ACC4_LOOP(V_ADD, v = v * v, S_ADD, v = v * v); break;
        case KR_EXPSUM: {
            v8f s;
            ACC4_LOOP(V_ADD, (vload(&s, shift + i), v -= s, SB(vexp)(&v)), S_ADD, v = kr_expf(v - shift[i]));
            break;
        }
        default: ACC4_LOOP(V_ADD, (void)0, S_ADD, (void)0); break;
        }
    }
    for (; r < nr; r++) SB(body_accum)(kind, acc, x + roff[r], n, shift);
}

AI void SB(body_exp_store_acc)(const float *x, const float *m, float *y, float *s, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f v, mv, sv;
        vload(&v, x + i);
        vload(&mv, m + i);
        vload(&sv, s + i);
        v -= mv;
        SB(vexp)(&v);
        sv += v;
        vstore(y + i, &v);
        vstore(s + i, &sv);
    }
    for (; i < n; i++) {
        y[i] = kr_expf(x[i] - m[i]);
        s[i] += y[i];
    }
}

/* The variant's entry points (kr_rowk), each one out-of-line copy of the inlined bodies above. */
static float SB(max)(const float *x, int64_t n) { return SB(body_max)(x, n); }
static float SB(exp_sum)(const float *x, float *y, int64_t n, float s) { return SB(body_exp_sum)(x, y, n, s); }
static void SB(scale)(float *y, int64_t n, float a) { SB(body_scale)(y, n, a); }
static void SB(sub)(const float *x, float *y, int64_t n, float b) { SB(body_sub)(x, y, n, b); }
static void SB(stats)(const float *x, int64_t n, double *m, double *v) { SB(body_stats)(x, n, m, v); }
static double SB(msq)(const float *x, int64_t n) { return SB(body_msq)(x, n); }
static void SB(norm)(const float *x, float *y, int64_t n, float m, float inv, const float *sc, const float *bi) {
    SB(body_norm)(x, y, n, m, inv, sc, bi);
}
static void SB(center_affine)(const float *x, float *y, int64_t n, float m, float a, float b) {
    SB(body_center_affine)(x, y, n, m, a, b);
}
static float SB(reduce)(kr_kind k, const float *x, int64_t n, float s) { return SB(body_reduce)(k, x, n, s); }
static void SB(reduce_rows)(kr_kind k, const float *x, int64_t n, int64_t rows, float *y, const float *s) {
    for (int64_t r = 0; r < rows; r++) y[r] = SB(body_reduce)(k, x + r * n, n, s ? s[r] : 0.0f);
}
static void SB(accum)(kr_kind k, float *acc, const float *x, int64_t n, const float *s) {
    SB(body_accum)(k, acc, x, n, s);
}
static void SB(accum_rows)(kr_kind k, float *acc, const float *x, const int64_t *roff, int64_t nr, int64_t n,
                           const float *s) {
    SB(body_accum_rows)(k, acc, x, roff, nr, n, s);
}
static void SB(exp_store_acc)(const float *x, const float *m, float *y, float *s, int64_t n) {
    SB(body_exp_store_acc)(x, m, y, s, n);
}
static const kr_rowk SB(rowk) = {SB(max),    SB(exp_sum),     SB(scale), SB(sub),          SB(stats),
                                 SB(msq),    SB(norm),        SB(center_affine),           SB(reduce),
                                 SB(reduce_rows), SB(accum),  SB(accum_rows),  SB(exp_store_acc)};

#undef BLOCK
#undef V_ADD
#undef V_MUL
#undef V_MAX
#undef V_MIN
#undef V_ABS
#undef S_ADD
#undef S_MUL
#undef S_MAX
#undef S_MIN
#undef ROW_LOOP
#undef ACC4_LOOP
#undef M_ID
#undef M_VABS
#undef M_SABS
#undef M_SQ
#undef M_VEXP
#undef M_SEXP
#undef ACC_LOOP
