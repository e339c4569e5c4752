/* Depthwise 2-D convolution (one input channel per group), direct. Each input plane is first copied into a
 * zero-bordered scratch plane wide enough that every tap of every (rounded-up) group of 8 output columns reads in
 * bounds; output rows are then computed 8 or 16 columns at a time in registers, all kh x kw taps accumulated
 * before one store. Built twice (baseline C and AVX2+FMA intrinsics) and chosen at run time. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/conv-internal.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/linalg-common.h"
#include "core/parallel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

typedef struct dw_job {
    const conv_dw_args *a;
    int64_t ow_r;   /* output columns rounded up to 8 */
    int64_t hp, wp; /* scratch plane: rows (input + begin/end pads), row length */
} dw_job;

/* Zero-bordered copy of one input plane: scratch row r, column q holds x[r - pb0][q - pb1] (0 outside). */
static void pad_plane(const conv_geom *g, const dw_job *j, const float *x, float *p) {
    const int64_t h = g->img[0], w = g->img[1], pt = g->pb[0], pl = g->pb[1];
    memset(p, 0, sizeof(float) * (size_t)(j->hp * j->wp));
    for (int64_t r = 0; r < h; r++) memcpy(p + (r + pt) * j->wp + pl, x + r * w, sizeof(float) * (size_t)w);
}

/* Scratch geometry: rows reached by the last output row, columns by the last rounded-up output column (+8 floats
 * so stride-2 vector loads of 16 stay inside). */
static void scratch_dims(const conv_geom *g, dw_job *j) {
    j->ow_r = (g->grid[1] + 7) / 8 * 8;
    int64_t rows = (g->grid[0] - 1) * g->s[0] + (g->k[0] - 1) * g->d[0] + 1;
    int64_t cols = (j->ow_r - 1) * g->s[1] + (g->k[1] - 1) * g->d[1] + 1 + 8;
    int64_t need_r = g->img[0] + g->pb[0], need_c = g->img[1] + g->pb[1];
    j->hp = rows > need_r ? rows : need_r;
    j->wp = cols > need_c ? cols : need_c;
}

#define DW_PROLOGUE                                                                                              \
    const dw_job *j = ctx;                                                                                       \
    const conv_dw_args *a = j->a;                                                                                \
    const conv_geom *g = a->g;                                                                                   \
    const int64_t ow_n = g->grid[1], s = g->s[1], kh_n = g->k[0], kw_n = g->k[1], wp_ = j->wp;                   \
    float *pad = lin_alloc(sizeof(float) * (size_t)(j->hp * j->wp + j->ow_r));                                   \
    if (!pad) return; /* checked up front by conv_depthwise2d */                                                 \
    float *row = pad + j->hp * j->wp;

static void dw_plain(void *ctx, int64_t t0, int64_t t1) {
    DW_PROLOGUE
    for (int64_t t = t0; t < t1; t++) {
        int64_t n = t / a->m, m = t % a->m, c = m / a->mg;
        const float *wt = a->w + m * g->k_size;
        float *yp = a->y + t * g->grid_size, bias = a->b ? a->b[m] : 0.0f;
        pad_plane(g, j, a->x + (n * a->c + c) * g->img_size, pad);
        for (int64_t oh = 0; oh < g->grid[0]; oh++) {
            for (int64_t x = 0; x < j->ow_r; x += 8) {
                float acc[8];
                for (int q = 0; q < 8; q++) acc[q] = bias;
                for (int64_t kh = 0; kh < kh_n; kh++) {
                    const float *src = pad + (oh * g->s[0] + kh * g->d[0]) * wp_ + x * s;
                    for (int64_t kw = 0; kw < kw_n; kw++) {
                        const float wv = wt[kh * kw_n + kw], *p = src + kw * g->d[1];
                        for (int q = 0; q < 8; q++) acc[q] += wv * p[q * s];
                    }
                }
                memcpy(row + x, acc, sizeof acc);
            }
            memcpy(yp + oh * ow_n, row, sizeof(float) * (size_t)ow_n);
        }
    }
    free(pad);
}

#if HAVE_X86
/* 8 output columns from scratch columns base[0], base[s], ..., base[7s]. */
__attribute__((target("avx2,fma"))) static inline __m256 load_cols(const float *base, int64_t s) {
    if (s == 1) return _mm256_loadu_ps(base);
    if (s == 2) {
        __m256 v0 = _mm256_loadu_ps(base), v1 = _mm256_loadu_ps(base + 8);
        __m256 ev = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));
        return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xd8));
    }
    return _mm256_set_ps(base[7 * s], base[6 * s], base[5 * s], base[4 * s], base[3 * s], base[2 * s], base[s],
                         base[0]);
}

__attribute__((target("avx2,fma"))) static void dw_avx2(void *ctx, int64_t t0, int64_t t1) {
    DW_PROLOGUE
    for (int64_t t = t0; t < t1; t++) {
        int64_t n = t / a->m, m = t % a->m, c = m / a->mg;
        const float *wt = a->w + m * g->k_size;
        float *yp = a->y + t * g->grid_size, bias = a->b ? a->b[m] : 0.0f;
        pad_plane(g, j, a->x + (n * a->c + c) * g->img_size, pad);
        /* Output rows straight into y when a full vector fits; the ragged last group goes through `row`. */
        for (int64_t oh = 0; oh < g->grid[0]; oh++) {
            const float *src0 = pad + oh * g->s[0] * wp_;
            int64_t x = 0, tail = ow_n; /* columns from `tail` on were stored in `row` */
            for (; x + 16 <= j->ow_r; x += 16) {
                __m256 acc0 = _mm256_set1_ps(bias), acc1 = acc0;
                for (int64_t kh = 0; kh < kh_n; kh++) {
                    const float *src = src0 + kh * g->d[0] * wp_ + x * s;
                    for (int64_t kw = 0; kw < kw_n; kw++) {
                        __m256 wv = _mm256_set1_ps(wt[kh * kw_n + kw]);
                        const float *p = src + kw * g->d[1];
                        acc0 = _mm256_fmadd_ps(wv, load_cols(p, s), acc0);
                        acc1 = _mm256_fmadd_ps(wv, load_cols(p + 8 * s, s), acc1);
                    }
                }
                float *dst = yp + oh * ow_n;
                if (x + 16 > ow_n) dst = row, tail = tail < x ? tail : x;
                _mm256_storeu_ps(dst + x, acc0);
                _mm256_storeu_ps(dst + x + 8, acc1);
            }
            if (x < j->ow_r) { /* one 8-wide group left (narrow maps: 7x7 needs just this) */
                __m256 acc = _mm256_set1_ps(bias);
                for (int64_t kh = 0; kh < kh_n; kh++) {
                    const float *src = src0 + kh * g->d[0] * wp_ + x * s;
                    for (int64_t kw = 0; kw < kw_n; kw++)
                        acc = _mm256_fmadd_ps(_mm256_set1_ps(wt[kh * kw_n + kw]), load_cols(src + kw * g->d[1], s), acc);
                }
                float *dst = yp + oh * ow_n;
                if (x + 8 > ow_n) dst = row, tail = tail < x ? tail : x;
                _mm256_storeu_ps(dst + x, acc);
            }
            if (tail < ow_n) memcpy(yp + oh * ow_n + tail, row + tail, sizeof(float) * (size_t)(ow_n - tail));
        }
    }
    free(pad);
}
#endif

kiln_status conv_depthwise2d(const conv_dw_args *a) {
    dw_job j = {a, 0, 0, 0};
    scratch_dims(a->g, &j);
    /* Each worker allocates its own scratch; fail here rather than silently inside a worker. */
    float *probe = lin_alloc(sizeof(float) * (size_t)(j.hp * j.wp + j.ow_r));
    KILN_FAIL_IF(!probe, KILN_ERR_OUT_OF_MEMORY, "out of memory for depthwise conv scratch");
    free(probe);
    kiln_range_fn fn = dw_plain;
#if HAVE_X86
    if (kiln_sgemm_level() >= 1) fn = dw_avx2;
#endif
    int64_t work = a->g->grid_size * a->g->k_size;
    kiln_parallel_for(a->n * a->m, work >= 16384 ? 1 : 16384 / (work ? work : 1), fn, &j);
    return KILN_OK;
}
