/* Helpers shared by the CPU norm, softmax and reduce families: axis handling, float working copies of the
 * 16-bit float formats, a vectorizable expf, and the entry points the reduce family's helper files export to
 * the family table in reduce.c. */
#ifndef KILN_CPU_REDUCE_COMMON_H
#define KILN_CPU_REDUCE_COMMON_H

#include <stdint.h>
#include <string.h>

#include "core/dtype.h"
#include "runtime/op.h"

/* Normalizes axis (which may be negative) against rank; fails naming `what` when out of range. */
kiln_status kr_axis(int64_t axis, int rank, const char *what, int *out);

/* Product of dims[b..e). */
int64_t kr_prod(const int64_t *dims, int b, int e);

/* A float view of a FLOAT / FLOAT16 / BFLOAT16 tensor's n elements: the data itself for FLOAT, else a malloc'd
 * converted copy (caller frees *owned when non-NULL). Returns NULL on out of memory (error recorded). */
const float *kr_float_view(const kiln_tensor *t, int64_t n, float **owned);
/* Writes n floats into dst of dtype FLOAT / FLOAT16 / BFLOAT16 (round to nearest even). */
void kr_float_store(kiln_dtype dt, void *dst, const float *src, int64_t n);
/* dt is FLOAT, FLOAT16 or BFLOAT16: the types that compute through a float working copy. */
static inline int kr_is_f32ish(kiln_dtype dt) {
    return dt == KILN_FLOAT || dt == KILN_FLOAT16 || dt == KILN_BFLOAT16;
}

/* Reads a 1-D (or scalar) int32/int64 tensor into out[0..max); *n gets the element count. */
kiln_status kr_read_ints(const kiln_tensor *t, const char *what, int64_t *out, int max, int *n);

/* Smallest / largest finite value of an integer dtype, as int64 (UINT64's max saturates to INT64_MAX: callers
 * that need it store through the uint64 path). */
int64_t kr_int_min(kiln_dtype dt);
int64_t kr_int_max(kiln_dtype dt);

/* expf with ~4 ulp error, written without calls or branches so loops over it vectorize. The input is clamped
 * to [-127 ln2, 128 ln2], where the 2^n scale built from exponent bits reaches 0 and +inf by itself, so very
 * negative inputs give exactly 0 (results below ~1e-38 flush to 0) and large ones +inf; NaN propagates. */
#define KR_EXP_LO (-88.02969193111305f)
#define KR_EXP_HI 88.72283905206835f
static inline float kr_expf(float x) {
    float xc = x > KR_EXP_HI ? KR_EXP_HI : x;
    xc = xc < KR_EXP_LO ? KR_EXP_LO : xc;
    /* round(xc / ln2) with the 1.5 * 2^23 trick: the integer lands in the low mantissa bits of t. */
    float t = xc * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    uint32_t tb;
    memcpy(&tb, &t, 4);
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    /* degree-5 fit of exp on [-ln2/2, ln2/2] with p(0) = 1 exactly; relative error 1.7e-7 */
    float p = 8.29031505e-3f;
    p = p * r + 4.18979302e-2f;
    p = p * r + 1.66676357e-1f;
    p = p * r + 4.99991506e-1f;
    p = p * r + 9.99999702e-1f;
    p = p * r + 1.0f;
    uint32_t eb = (tb - 0x4b400000u + 127u) << 23; /* n = -127: 0; n = 128: +inf */
    float s;
    memcpy(&s, &eb, 4);
    return p * s;
}

/* The accumulations the reductions perform (kr_rowk's reduce / accum, and reduce.c). */
typedef enum kr_kind { KR_SUM, KR_ASUM, KR_SQSUM, KR_EXPSUM, KR_PROD, KR_MAX, KR_MIN } kr_kind;

/* Float row kernels, vectorized for the baseline ISA and for AVX2+FMA (chosen once by CPU detection). The
 * statistics follow norm-core.h: shifted one-pass sums folded into double per block. */
typedef struct kr_rowk {
    float (*max)(const float *x, int64_t n);                                    /* NaN propagates; n > 0 */
    float (*exp_sum)(const float *x, float *y, int64_t n, float shift);         /* y = exp(x - shift) unless y is
                                                                                   NULL; returns the sum */
    void (*scale)(float *y, int64_t n, float a);                                /* y *= a */
    void (*sub)(const float *x, float *y, int64_t n, float b);                  /* y = x - b */
    void (*stats)(const float *x, int64_t n, double *mean, double *var);        /* n > 0; population variance */
    double (*msq)(const float *x, int64_t n);                                   /* mean of squares; n > 0 */
    void (*norm)(const float *x, float *y, int64_t n, float mean, float inv, const float *scale,
                 const float *bias);                                            /* (x - mean) * inv * scale + bias;
                                                                                   bias may be NULL */
    void (*center_affine)(const float *x, float *y, int64_t n, float mean, float a, float b); /* (x - mean) * a + b */
    /* Combination of kind over n > 0 values (KR_EXPSUM: of exp(x - shift)); max / min propagate NaN. */
    float (*reduce)(kr_kind kind, const float *x, int64_t n, float shift);
    /* y[r] = reduce(x + r * n, n, shift ? shift[r] : 0) for r < rows */
    void (*reduce_rows)(kr_kind kind, const float *x, int64_t n, int64_t rows, float *y, const float *shift);
    /* acc[i] = combine(acc[i], map(x[i])) (KR_EXPSUM maps exp(x[i] - shift[i])). */
    void (*accum)(kr_kind kind, float *acc, const float *x, int64_t n, const float *shift);
    /* accum of the nr rows x + roff[r] (n elements each) into acc */
    void (*accum_rows)(kr_kind kind, float *acc, const float *x, const int64_t *roff, int64_t nr, int64_t n,
                       const float *shift);
    /* y[i] = exp(x[i] - m[i]); s[i] += y[i] */
    void (*exp_store_acc)(const float *x, const float *m, float *y, float *s, int64_t n);
} kr_rowk;
const kr_rowk *kr_row_kernels(void);

/* Reduce-family entry points defined in the reduce-*.c helper files (listed in reduce.c's table). */
kiln_status kr_arg_prepare(const kiln_node *node, const kiln_graph *graph, void **params);
kiln_status kr_argmax_run(kiln_kctx *k);
kiln_status kr_argmin_run(kiln_kctx *k);
kiln_status kr_topk_prepare(const kiln_node *node, const kiln_graph *graph, void **params);
kiln_status kr_topk_run(kiln_kctx *k);
kiln_status kr_cum_prepare(const kiln_node *node, const kiln_graph *graph, void **params);
kiln_status kr_cumsum_run(kiln_kctx *k);
kiln_status kr_cumprod_run(kiln_kctx *k);
kiln_status kr_loss_prepare(const kiln_node *node, const kiln_graph *graph, void **params);
kiln_status kr_nll_run(kiln_kctx *k);
kiln_status kr_sce_run(kiln_kctx *k);

#endif
