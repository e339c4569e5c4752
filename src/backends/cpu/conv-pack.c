/* Implicit-GEMM convolution: packs SGEMM B panels (rows = (channel, tap), columns = output positions) straight
 * from the image, so no im2col buffer is written and read back. Columns of a panel are split into runs along the
 * last output dim; each (row, run) is then one bounds check plus a contiguous (stride 1) or strided copy. */
#include <string.h>

#include "backends/cpu/conv-internal.h"
#include "backends/cpu/gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

typedef struct run {
    int64_t o[KILN_MAX_DIMS]; /* output coords of the outer dims */
    int64_t ow0;              /* first position along the last dim */
    int len, dcol;            /* run length, first column within the panel */
} run;

#define DEFINE_CONV_PACK(name, ATTR, COPY)                                                                       \
    ATTR static void name(const void *vctx, int64_t item, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr, \
                          float *dst) {                                                                          \
        const conv_pack_ctx *cx = vctx;                                                                          \
        const conv_geom *g = cx->g;                                                                              \
        const float *img = cx->x + ((item / cx->group) * cx->c_total + (item % cx->group) * cx->cg) * g->img_size; \
        const int nsp = g->nsp, last = nsp - 1;                                                                  \
        const int64_t ow_n = g->grid[last], w = g->img[last], s = g->s[last];                                    \
        int64_t istr[KILN_MAX_DIMS];                                                                             \
        int64_t st = 1;                                                                                          \
        for (int q = nsp - 1; q >= 0; q--) istr[q] = st, st *= g->img[q];                                        \
        run runs[64]; /* a run has at least one column, so nr (<= 32) bounds their number */                     \
        for (int64_t jb = 0; jb < nc; jb += nr) {                                                                \
            int cols = nc - jb < nr ? (int)(nc - jb) : nr, nrun = 0;                                             \
            for (int done = 0; done < cols;) {                                                                   \
                int64_t j = j0 + jb + done, outer = j / ow_n;                                                    \
                run *r = &runs[nrun++];                                                                          \
                r->ow0 = j % ow_n;                                                                               \
                r->len = (int)(ow_n - r->ow0 < cols - done ? ow_n - r->ow0 : cols - done);                       \
                r->dcol = done;                                                                                  \
                for (int q = last - 1; q >= 0; q--) r->o[q] = outer % g->grid[q], outer /= g->grid[q];           \
                done += r->len;                                                                                  \
            }                                                                                                    \
            int64_t c = p0 / g->k_size, kidx[KILN_MAX_DIMS], rem = p0 % g->k_size;                               \
            for (int q = nsp - 1; q >= 0; q--) kidx[q] = rem % g->k[q], rem /= g->k[q];                          \
            int64_t rbase[64];                                                                                   \
            int refresh = 1;                                                                                     \
            for (int64_t p = 0; p < kc; p++) {                                                                   \
                float *d = dst + p * nr;                                                                         \
                const float *plane = img + c * g->img_size;                                                      \
                if (refresh) { /* outer-dim offsets change only with the channel or an outer tap */              \
                    for (int ri = 0; ri < nrun; ri++) {                                                          \
                        int64_t base = 0;                                                                        \
                        for (int q = 0; q < last && base >= 0; q++) {                                            \
                            int64_t ci = runs[ri].o[q] * g->s[q] - g->pb[q] + kidx[q] * g->d[q];                 \
                            base = ci < 0 || ci >= g->img[q] ? -1 : base + ci * istr[q];                         \
                        }                                                                                        \
                        rbase[ri] = base;                                                                        \
                    }                                                                                            \
                    refresh = 0;                                                                                 \
                }                                                                                                \
                const int64_t off = kidx[last] * g->d[last] - g->pb[last];                                       \
                int64_t vlo, vhi;                                                                                \
                if (s == 1) {                                                                                    \
                    vlo = off >= 0 ? 0 : -off;                                                                   \
                    vhi = w - off < 0 ? 0 : w - off;                                                             \
                } else {                                                                                         \
                    vlo = off >= 0 ? 0 : (-off + s - 1) / s;                                                     \
                    vhi = w - 1 - off < 0 ? 0 : (w - 1 - off) / s + 1;                                           \
                }                                                                                                \
                for (int ri = 0; ri < nrun; ri++) {                                                              \
                    const run *r = &runs[ri];                                                                    \
                    float *dd = d + r->dcol;                                                                     \
                    int64_t e = r->ow0 + r->len;                                                                 \
                    int64_t lo = vlo < r->ow0 ? r->ow0 : vlo > e ? e : vlo;                                      \
                    int64_t hi = vhi > e ? e : vhi < lo ? lo : vhi;                                              \
                    if (rbase[ri] < 0) lo = hi = r->ow0;                                                         \
                    for (int64_t x = r->ow0; x < lo; x++) dd[x - r->ow0] = 0.0f;                                 \
                    if (hi > lo) {                                                                               \
                        const float *sp = plane + rbase[ri] + off;                                               \
                        COPY;                                                                                    \
                    }                                                                                            \
                    for (int64_t x = hi; x < e; x++) dd[x - r->ow0] = 0.0f;                                      \
                }                                                                                                \
                for (int x = cols; x < nr; x++) d[x] = 0.0f;                                                     \
                for (int q = nsp - 1; q >= 0; q--) {                                                             \
                    if (++kidx[q] < g->k[q]) break;                                                              \
                    kidx[q] = 0;                                                                                 \
                    refresh = 1;                                                                                 \
                    if (q == 0) c++;                                                                             \
                }                                                                                                \
            }                                                                                                    \
            dst += (int64_t)nr * kc;                                                                             \
        }                                                                                                        \
    }

#define COPY_PLAIN                                                                                               \
    do {                                                                                                         \
        float *dp = dd - r->ow0;                                                                                 \
        if (s == 1)                                                                                              \
            for (int64_t x = lo; x < hi; x++) dp[x] = sp[x];                                                     \
        else                                                                                                     \
            for (int64_t x = lo; x < hi; x++) dp[x] = sp[x * s];                                                 \
    } while (0)

DEFINE_CONV_PACK(pack_plain, , COPY_PLAIN)

#if HAVE_X86
/* Unit-stride runs move 8 floats per instruction; the common full 16-wide run is two loads and two stores. */
#define COPY_AVX2                                                                                                \
    do {                                                                                                         \
        float *dp = dd - r->ow0;                                                                                 \
        int64_t x = lo;                                                                                          \
        if (s == 1) {                                                                                            \
            for (; x + 8 <= hi; x += 8) _mm256_storeu_ps(dp + x, _mm256_loadu_ps(sp + x));                       \
            for (; x < hi; x++) dp[x] = sp[x];                                                                   \
        } else if (s == 2) {                                                                                     \
            for (; x + 8 <= hi; x += 8) {                                                                        \
                __m256 v0 = _mm256_loadu_ps(sp + 2 * x), v1 = _mm256_loadu_ps(sp + 2 * x + 8);                   \
                __m256 ev = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));                                  \
                _mm256_storeu_ps(dp + x, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xd8)));  \
            }                                                                                                    \
            for (; x < hi; x++) dp[x] = sp[2 * x];                                                               \
        } else {                                                                                                 \
            for (; x < hi; x++) dp[x] = sp[x * s];                                                               \
        }                                                                                                        \
    } while (0)

DEFINE_CONV_PACK(pack_avx2, __attribute__((target("avx2,fma"))), COPY_AVX2)
#endif

kiln_sgemm_pack_fn conv_pack_fn(void) {
#if HAVE_X86
    if (kiln_sgemm_level() >= 1) return pack_avx2;
#endif
    return pack_plain;
}
