/* 2-D float pooling. Tap ranges are separable, so the in-bounds taps [lo, hi) and the padded counts are computed
 * once per output row and per output column, not per output. Columns whose taps are all in bounds take an 8-wide
 * AVX2 path (MaxPool without Indices, AveragePool); the rest, and everything on CPUs without AVX2, take the
 * scalar path, which also produces MaxPool indices and LpPool. */
#include <math.h>
#include <stdlib.h>

#include "backends/cpu/gemm.h"
#include "backends/cpu/pool-internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

/* Per output coordinate along one dim: in-bounds taps [lo, hi) and taps inside the padded extent [0, cnt). */
static void ranges(int64_t n_out, int64_t n_in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe,
                   int64_t *lo, int64_t *hi, int64_t *cnt) {
    for (int64_t o = 0; o < n_out; o++) {
        int64_t st = o * s - pb;
        int64_t l = st >= 0 ? 0 : (-st + d - 1) / d;
        int64_t last = n_in - 1 - st;
        int64_t h = last < 0 ? 0 : last / d + 1;
        if (h > k) h = k;
        if (l > h) l = h;
        int64_t lastp = n_in + pe - 1 - st;
        int64_t c = lastp < 0 ? 0 : lastp / d + 1;
        lo[o] = l;
        hi[o] = h;
        cnt[o] = c > k ? k : c;
    }
}

typedef struct p2 {
    const pool_job *j;
    const conv_geom *g;
    int64_t *lo_h, *hi_h, *cnt_h, *lo_w, *hi_w, *cnt_w;
    int64_t xl, xr; /* columns whose taps are all in bounds */
} p2;

/* Scalar output (oh, ow) of plane x; writes the MaxPool index (within the plane) to *at. */
static inline __attribute__((always_inline)) float one(const p2 *c, const float *x, int64_t oh, int64_t ow,
                                                       int64_t *at) {
    const conv_geom *g = c->g;
    const pool_params *pp = c->j->pp;
    const int64_t w = g->img[1];
    int64_t lh = c->lo_h[oh], hh = c->hi_h[oh], lw = c->lo_w[ow], hw = c->hi_w[ow];
    int64_t ih0 = oh * g->s[0] - g->pb[0], iw0 = ow * g->s[1] - g->pb[1];
    if (pp->kind == POOL_MAX) {
        float best = -INFINITY;
        int64_t bi = -1;
        for (int64_t kh = lh; kh < hh; kh++) {
            int64_t row = (ih0 + kh * g->d[0]) * w;
            for (int64_t kw = lw; kw < hw; kw++) {
                int64_t off = row + iw0 + kw * g->d[1];
                if (bi < 0 || x[off] > best) best = x[off], bi = off;
            }
        }
        *at = bi < 0 ? 0 : bi;
        return best;
    }
    double acc = 0.0;
    for (int64_t kh = lh; kh < hh; kh++) {
        const float *row = x + (ih0 + kh * g->d[0]) * w + iw0;
        for (int64_t kw = lw; kw < hw; kw++) {
            double v = row[kw * g->d[1]];
            acc += pp->kind == POOL_AVG ? v : pp->p == 2.0 ? v * v : pow(fabs(v), pp->p);
        }
    }
    if (pp->kind == POOL_LP) return (float)(pp->p == 2.0 ? sqrt(acc) : pp->p == 1.0 ? acc : pow(acc, 1.0 / pp->p));
    int64_t den = pp->count_include_pad ? c->cnt_h[oh] * c->cnt_w[ow] : (hh - lh) * (hw - lw);
    return den > 0 ? (float)(acc / (double)den) : NAN;
}

static void plane_indices(const p2 *c, int64_t t, int64_t oh, int64_t ow, int64_t at) {
    const conv_geom *g = c->g;
    int64_t idx = at;
    if (c->j->pp->storage_order == 1) idx = (at % g->img[1]) * g->img[0] + at / g->img[1];
    c->j->ind[t * g->grid_size + oh * g->grid[1] + ow] = t * g->img_size + idx;
}

static void scalar_row(const p2 *c, int64_t t, const float *x, float *yr, int64_t oh, int64_t x0, int64_t x1) {
    for (int64_t ow = x0; ow < x1; ow++) {
        int64_t at = 0;
        yr[ow] = one(c, x, oh, ow, &at);
        if (c->j->ind) plane_indices(c, t, oh, ow, at);
    }
}

static void pool2d_plain(void *ctx, int64_t t0, int64_t t1) {
    const p2 *c = ctx;
    const conv_geom *g = c->g;
    for (int64_t t = t0; t < t1; t++) {
        const float *x = (const float *)c->j->x + t * g->img_size;
        float *y = (float *)c->j->y + t * g->grid_size;
        for (int64_t oh = 0; oh < g->grid[0]; oh++) scalar_row(c, t, x, y + oh * g->grid[1], oh, 0, g->grid[1]);
    }
}

#if HAVE_X86
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

__attribute__((target("avx2,fma"))) static void pool2d_avx2(void *ctx, int64_t t0, int64_t t1) {
    const p2 *c = ctx;
    const conv_geom *g = c->g;
    const pool_params *pp = c->j->pp;
    const int is_max = pp->kind == POOL_MAX;
    const int64_t w = g->img[1], s = g->s[1], kw_n = g->k[1];
    /* stride-2 loads read one float past the last tap: keep one column of margin */
    const int64_t vec_end = s == 2 ? c->xr - 1 : c->xr;
    for (int64_t t = t0; t < t1; t++) {
        const float *x = (const float *)c->j->x + t * g->img_size;
        float *y = (float *)c->j->y + t * g->grid_size;
        for (int64_t oh = 0; oh < g->grid[0]; oh++) {
            float *yr = y + oh * g->grid[1];
            const int64_t lh = c->lo_h[oh], hh = c->hi_h[oh], ih0 = oh * g->s[0] - g->pb[0];
            scalar_row(c, t, x, yr, oh, 0, c->xl);
            int64_t ow = c->xl;
            if (hh > lh) {
                float den = (float)((pp->count_include_pad ? c->cnt_h[oh] : hh - lh) * kw_n);
                __m256 inv = _mm256_set1_ps(1.0f / den);
                for (; ow + 8 <= vec_end; ow += 8) {
                    __m256 acc = is_max ? _mm256_set1_ps(-INFINITY) : _mm256_setzero_ps();
                    for (int64_t kh = lh; kh < hh; kh++) {
                        const float *row = x + (ih0 + kh * g->d[0]) * w + ow * s - g->pb[1];
                        for (int64_t kw = 0; kw < kw_n; kw++) {
                            __m256 v = load_cols(row + kw * g->d[1], s);
                            acc = is_max ? _mm256_max_ps(acc, v) : _mm256_add_ps(acc, v);
                        }
                    }
                    _mm256_storeu_ps(yr + ow, is_max ? acc : _mm256_mul_ps(acc, inv));
                }
            }
            scalar_row(c, t, x, yr, oh, ow, g->grid[1]);
        }
    }
}
#endif

kiln_status pool2d_f32(const pool_job *j, int64_t planes) {
    const conv_geom *g = j->g;
    const int64_t oh = g->grid[0], ow = g->grid[1];
    int64_t *buf = malloc(sizeof(int64_t) * (size_t)(3 * (oh + ow) + 1));
    KILN_FAIL_IF(!buf, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p2 c = {j, g, buf, buf + oh, buf + 2 * oh, buf + 3 * oh, buf + 3 * oh + ow, buf + 3 * oh + 2 * ow, 0, 0};
    ranges(oh, g->img[0], g->k[0], g->s[0], g->d[0], g->pb[0], g->pe[0], c.lo_h, c.hi_h, c.cnt_h);
    ranges(ow, g->img[1], g->k[1], g->s[1], g->d[1], g->pb[1], g->pe[1], c.lo_w, c.hi_w, c.cnt_w);
    int64_t xl = 0;
    while (xl < ow && !(c.lo_w[xl] == 0 && c.hi_w[xl] == g->k[1])) xl++;
    int64_t xr = xl;
    while (xr < ow && c.lo_w[xr] == 0 && c.hi_w[xr] == g->k[1]) xr++;
    c.xl = xl, c.xr = xr;
    kiln_range_fn fn = pool2d_plain;
#if HAVE_X86
    if (kiln_sgemm_level() >= 1 && !j->ind && j->pp->kind != POOL_LP) fn = pool2d_avx2;
#endif
    int64_t work = g->grid_size * g->k_size;
    kiln_parallel_for(planes, work >= 8192 ? 1 : 8192 / (work ? work : 1), fn, &c);
    free(buf);
    return KILN_OK;
}
