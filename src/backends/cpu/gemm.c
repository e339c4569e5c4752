/* SGEMM driver: blocking, packing, threading, GEMV special cases. Micro-kernels live in gemm-x86.c (AVX2,
 * AVX-512) and here (portable C). See gemm.h for the conventions. */
#include "backends/cpu/gemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"

/* Blocking: a KC x NR panel of B (16 KiB for NR=16) stays in L1 while the MC x KC block of A (~128 KiB) streams
 * from L2; NC bounds the packed B block (KC x NC, ~2 MiB) that lives in L2/L3. */
#define KC_MAX 512
static int64_t blk_kc = 256, blk_mc = 144, blk_nc = 2048;

void kiln_sgemm_set_blocking(int64_t kc, int64_t mc, int64_t nc) {
    if (kc > 0) blk_kc = kc < KC_MAX ? kc : KC_MAX;
    if (mc > 0) blk_mc = mc;
    if (nc > 0) blk_nc = nc;
}

/* ---- portable micro-kernels in plain C, written so the compiler keeps the tile in vector registers. The 4x16
 * one is the fallback; the 12x32 one has the AVX-512 kernel's shape, so tests can drive the panel-width-32 paths
 * of the driver on any CPU. ---- */

#define DEFINE_PORTABLE(name, MR, NR)                                                                            \
    static void name(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, float beta, \
                     const float *rbias) {                                                                       \
        float acc[MR][NR];                                                                                       \
        memset(acc, 0, sizeof acc);                                                                              \
        for (int64_t p = 0; p < kc; p++) {                                                                       \
            for (int r = 0; r < MR; r++) {                                                                       \
                float av = a[r];                                                                                 \
                for (int j = 0; j < NR; j++) acc[r][j] += av * b[j];                                             \
            }                                                                                                    \
            a += MR;                                                                                             \
            b += NR;                                                                                             \
        }                                                                                                        \
        for (int r = 0; r < MR; r++) {                                                                           \
            float *cr = c + r * ldc, rb = rbias ? rbias[r] : 0.0f;                                               \
            if (beta == 0.0f)                                                                                    \
                for (int j = 0; j < NR; j++) cr[j] = alpha * acc[r][j] + rb;                                     \
            else                                                                                                 \
                for (int j = 0; j < NR; j++) cr[j] = alpha * acc[r][j] + beta * cr[j] + rb;                      \
        }                                                                                                        \
    }

DEFINE_PORTABLE(ukr_portable, 4, 16)
DEFINE_PORTABLE(ukr_portable_wide, 12, 32)

static const kiln_sgemm_kernel k_portable = {"portable-4x16", 4, 16, ukr_portable};
static const kiln_sgemm_kernel k_portable_wide = {"portable-12x32", 12, 32, ukr_portable_wide};
static int use_wide_test_kernel;

void kiln_sgemm_test_wide_kernel(int on) { use_wide_test_kernel = on; }

/* ---- kernel selection ---- */

static int detected_level(void) {
    static int level = -1;
    if (level < 0) {
        int l = 0;
        if (kiln_sgemm_kernel_avx2()) l = 1;
        if (kiln_sgemm_kernel_avx512()) l = 2;
        level = l;
    }
    return level;
}

static int level_cap = 99;

static int current_level(void) {
    int d = detected_level();
    return d < level_cap ? d : level_cap;
}

static const kiln_sgemm_kernel *pick_kernel(void) {
    if (use_wide_test_kernel) return &k_portable_wide;
    int l = current_level();
    if (l >= 2) return kiln_sgemm_kernel_avx512();
    if (l >= 1) return kiln_sgemm_kernel_avx2();
    return &k_portable;
}

int kiln_sgemm_set_level(int max_level) {
    level_cap = max_level < 0 ? 0 : max_level;
    return current_level();
}

int kiln_sgemm_level(void) { return current_level(); }

const char *kiln_sgemm_kernel_name(void) { return pick_kernel()->name; }

/* ---- packing ---- */

/* Packs rows [0,mc) x cols [0,kc) of A (already offset) into MR-row panels, zero-padding the last panel. */
static void pack_a(int mr, int64_t mc, int64_t kc, const float *a, int64_t rs, int64_t cs, float *dst) {
    for (int64_t i0 = 0; i0 < mc; i0 += mr) {
        int rows = mc - i0 < mr ? (int)(mc - i0) : mr;
        const float *src = a + i0 * rs;
        if (cs == 1) {
            for (int r = 0; r < rows; r++) {
                const float *s = src + r * rs;
                for (int64_t p = 0; p < kc; p++) dst[p * mr + r] = s[p];
            }
        } else if (rs == 1 && rows == mr) {
            for (int64_t p = 0; p < kc; p++) memcpy(dst + p * mr, src + p * cs, sizeof(float) * (size_t)mr);
        } else {
            for (int64_t p = 0; p < kc; p++)
                for (int r = 0; r < rows; r++) dst[p * mr + r] = src[r * rs + p * cs];
        }
        for (int r = rows; r < mr; r++)
            for (int64_t p = 0; p < kc; p++) dst[p * mr + r] = 0.0f;
        dst += (int64_t)mr * kc;
    }
}

/* Packs rows [0,kc) x cols [0,nc) of B into NR-column panels, zero-padding the last panel. A row-major B is
 * walked row by row across all panels: long sequential reads that the hardware prefetcher follows, instead of
 * one short strided read per (panel, row). */
static void pack_b(int nr, int64_t kc, int64_t nc, const float *b, int64_t rs, int64_t cs, float *dst) {
    const int64_t full = nc / nr, rem = nc % nr, pstride = (int64_t)nr * kc;
    if (cs == 1) {
        for (int64_t p = 0; p < kc; p++) {
            const float *src = b + p * rs;
            float *d = dst + p * nr;
            if (nr == 16) {
                for (int64_t q = 0; q < full; q++)
                    for (int j = 0; j < 16; j++) d[q * pstride + j] = src[q * 16 + j];
            } else if (nr == 32) {
                for (int64_t q = 0; q < full; q++)
                    for (int j = 0; j < 32; j++) d[q * pstride + j] = src[q * 32 + j];
            } else {
                for (int64_t q = 0; q < full; q++)
                    for (int j = 0; j < nr; j++) d[q * pstride + j] = src[q * nr + j];
            }
            if (rem) {
                float *t = d + full * pstride;
                for (int j = 0; j < rem; j++) t[j] = src[full * nr + j];
                for (int j = (int)rem; j < nr; j++) t[j] = 0.0f;
            }
        }
        return;
    }
    for (int64_t j0 = 0; j0 < nc; j0 += nr) {
        int cols = nc - j0 < nr ? (int)(nc - j0) : nr;
        const float *src = b + j0 * cs;
        if (rs == 1) {
            for (int j = 0; j < cols; j++) {
                const float *s = src + j * cs;
                for (int64_t p = 0; p < kc; p++) dst[p * nr + j] = s[p];
            }
            for (int64_t p = 0; p < kc; p++)
                for (int j = cols; j < nr; j++) dst[p * nr + j] = 0.0f;
        } else {
            for (int64_t p = 0; p < kc; p++) {
                for (int j = 0; j < cols; j++) dst[p * nr + j] = src[p * rs + j * cs];
                for (int j = cols; j < nr; j++) dst[p * nr + j] = 0.0f;
            }
        }
        dst += pstride;
    }
}

/* ---- prepacked constant operands ---- */

struct kiln_sgemm_packed {
    const kiln_sgemm_kernel *kr;
    int side;
    int64_t rows, k, kc, pad_rows, count, item_stride, size; /* size: floats per packed matrix */
    int by_item; /* matrix i serves batch item i (the driver's shared per-call packs), not offset i*item_stride */
    float *data;
};

kiln_sgemm_packed *kiln_sgemm_pack(int side, int64_t rows, int64_t k, const float *src, int64_t rs, int64_t cs,
                                   int64_t count, int64_t item_stride) {
    if (rows <= 0 || k <= 0 || count <= 0) return NULL;
    kiln_sgemm_packed *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->kr = pick_kernel();
    p->side = side;
    p->rows = rows;
    p->k = k;
    p->kc = blk_kc;
    int unit = side == 0 ? p->kr->mr : p->kr->nr;
    p->pad_rows = (rows + unit - 1) / unit * unit;
    p->count = count;
    p->item_stride = item_stride;
    p->size = p->pad_rows * k;
    p->data = aligned_alloc(64, ((size_t)(p->size * count) * sizeof(float) + 63) & ~(size_t)63);
    if (!p->data) {
        free(p);
        return NULL;
    }
    for (int64_t i = 0; i < count; i++) {
        const float *m = src + i * item_stride;
        for (int64_t pc = 0; pc < k; pc += p->kc) {
            int64_t kc = k - pc < p->kc ? k - pc : p->kc;
            float *dst = p->data + i * p->size + pc * p->pad_rows;
            if (side == 0)
                pack_a(unit, rows, kc, m + pc * cs, rs, cs, dst);
            else
                pack_b(unit, kc, rows, m + pc * rs, rs, cs, dst);
        }
    }
    return p;
}

void kiln_sgemm_packed_free(kiln_sgemm_packed *p) {
    if (!p) return;
    free(p->data);
    free(p);
}

/* The packed panel block starting at row/col `at` (a multiple of the panel width) of k block pc, or NULL when
 * the pack does not fit the kernel / blocking in use. */
static const float *packed_at(const kiln_sgemm_packed *p, int64_t item, int64_t off, int64_t pc, int64_t at,
                              int64_t kc) {
    int64_t idx = p->by_item ? item : p->item_stride ? off / p->item_stride : 0;
    return p->data + idx * p->size + pc * p->pad_rows + at * kc;
}

static int packed_ok(const kiln_sgemm_packed *p, const kiln_sgemm_kernel *kr, int side, int64_t rows, int64_t k) {
    return p && p->kr == kr && p->kc == blk_kc && p->side == side && p->rows == rows && p->k == k;
}

/* ---- the blocked algorithm on one tile of C ---- */

typedef struct sg_job {
    const kiln_sgemm_args *g;
    const kiln_sgemm_kernel *kr;
    const int64_t *a_off, *b_off, *c_off;
    int64_t tm, tn;         /* tiles per item along m and n */
    int64_t tile_m, tile_n; /* tile sizes (multiples of mr / nr except the last) */
    int64_t mc_blk, nc_blk;
    int gemv;
    kiln_sgemm_pack_fn pack_a; /* swapped problems: A comes from the caller's B packer */
    const kiln_sgemm_packed *a_packed, *b_packed; /* validated prepacked operands, or NULL */
} sg_job;

typedef struct sg_bufs {
    float *ap, *bp;
} sg_bufs;

/* C(i,j) = alpha*tmp(i,j) + beta*C(i,j) for an edge tile or a strided C, walking C's unit-stride dim inside. */
static void merge_tile(const float *tmp, int nr, float *cc, int64_t rs, int64_t cs, int mm, int nn, float alpha,
                       float beta, const float *rbias) {
    if (rs == 1 && cs != 1) {
        for (int j = 0; j < nn; j++)
            for (int r = 0; r < mm; r++) {
                float *d = cc + j * cs + r;
                float v = alpha * tmp[r * nr + j] + (rbias ? rbias[r] : 0.0f);
                *d = beta == 0.0f ? v : v + beta * *d;
            }
        return;
    }
    for (int r = 0; r < mm; r++)
        for (int j = 0; j < nn; j++) {
            float *d = cc + r * rs + j * cs;
            float v = alpha * tmp[r * nr + j] + (rbias ? rbias[r] : 0.0f);
            *d = beta == 0.0f ? v : v + beta * *d;
        }
}

/* One tile: rows [0,m) of a, columns [0,n) of b (both already offset; NULL when a packer supplies them);
 * item / i_abs / j_abs locate the tile for caller-supplied packers. */
static void gemm_tile(const sg_job *job, const float *a, const float *b, float *c, int64_t m, int64_t n, sg_bufs *buf,
                      int64_t mc_blk, int64_t nc_blk, int64_t item, int64_t i_abs, int64_t j_abs) {
    const int64_t a_off = job->a_off ? job->a_off[item] : 0, b_off = job->b_off ? job->b_off[item] : 0;
    const kiln_sgemm_kernel *kr = job->kr;
    const kiln_sgemm_args *g = job->g;
    const int mr = kr->mr, nr = kr->nr;
    const float *bias = NULL;
    if (g->row_bias) bias = g->row_bias + (g->bias_mod > 0 ? item % g->bias_mod : 0) * g->bias_stride + i_abs;
    float tmp[32 * 32] __attribute__((aligned(64)));
    for (int64_t jc = 0; jc < n; jc += nc_blk) {
        int64_t nc = n - jc < nc_blk ? n - jc : nc_blk;
        for (int64_t pc = 0; pc < g->k; pc += blk_kc) {
            int64_t kc = g->k - pc < blk_kc ? g->k - pc : blk_kc;
            float beta = pc == 0 ? g->beta : 1.0f;
            const float *bblk = buf->bp;
            if (job->b_packed)
                bblk = packed_at(job->b_packed, item, b_off, pc, j_abs + jc, kc);
            else if (g->pack_b)
                g->pack_b(g->pack_ctx, item, pc, kc, j_abs + jc, nc, nr, buf->bp);
            else
                pack_b(nr, kc, nc, b + pc * g->b_rs + jc * g->b_cs, g->b_rs, g->b_cs, buf->bp);
            for (int64_t ic = 0; ic < m; ic += mc_blk) {
                int64_t mc = m - ic < mc_blk ? m - ic : mc_blk;
                const float *ablk = buf->ap;
                if (job->a_packed)
                    ablk = packed_at(job->a_packed, item, a_off, pc, i_abs + ic, kc);
                else if (job->pack_a)
                    job->pack_a(g->pack_ctx, item, pc, kc, i_abs + ic, mc, mr, buf->ap);
                else
                    pack_a(mr, mc, kc, a + ic * g->a_rs + pc * g->a_cs, g->a_rs, g->a_cs, buf->ap);
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int nn = nc - jr < nr ? (int)(nc - jr) : nr;
                    const float *bpan = bblk + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        int mm = mc - ir < mr ? (int)(mc - ir) : mr;
                        const float *apan = ablk + ir * kc;
                        float *cc = c + (ic + ir) * g->c_rs + (jc + jr) * g->c_cs;
                        const float *rb = bias && pc == 0 ? bias + ic + ir : NULL;
                        if (mm == mr && nn == nr && g->c_cs == 1) {
                            kr->fn(kc, apan, bpan, cc, g->c_rs, g->alpha, beta, rb);
                            continue;
                        }
                        kr->fn(kc, apan, bpan, tmp, nr, 1.0f, 0.0f, NULL);
                        merge_tile(tmp, nr, cc, g->c_rs, g->c_cs, mm, nn, g->alpha, beta, rb);
                    }
                }
            }
        }
    }
}

/* ---- GEMV (m == 1 after an optional transpose): memory-bound, so no packing ---- */

/* y(j) = alpha * sum_p x(p) * W(p,j) + beta*y(j), for j in [j0, j1). */
typedef struct gemv_args {
    int64_t k;
    float alpha, beta;
    const float *x;
    int64_t x_s;
    const float *w;
    int64_t w_rs, w_cs;
    float *y;
    int64_t y_s;
} gemv_args;

#define GEMV_SEG 1024

#define DEFINE_GEMV(suffix, attr)                                                                                \
    attr static void gemv_##suffix(const gemv_args *v, int64_t j0, int64_t j1) {                                \
        float acc[GEMV_SEG];                                                                                     \
        for (int64_t s = j0; s < j1; s += GEMV_SEG) {                                                            \
            int64_t e = j1 - s < GEMV_SEG ? j1 : s + GEMV_SEG;                                                   \
            int len = (int)(e - s);                                                                              \
            if (v->w_cs == 1) {                                                                                  \
                for (int j = 0; j < len; j++) acc[j] = 0.0f;                                                     \
                for (int64_t p = 0; p < v->k; p++) {                                                             \
                    const float xv = v->x[p * v->x_s];                                                           \
                    const float *wr = v->w + p * v->w_rs + s;                                                    \
                    for (int j = 0; j < len; j++) acc[j] += xv * wr[j];                                          \
                }                                                                                                \
            } else {                                                                                             \
                for (int j = 0; j < len; j++) {                                                                  \
                    const float *wc = v->w + (s + j) * v->w_cs;                                                  \
                    float sum = 0.0f;                                                                            \
                    if (v->w_rs == 1 && v->x_s == 1) {                                                           \
                        float part[8] = {0};                                                                     \
                        int64_t p = 0;                                                                           \
                        for (; p + 8 <= v->k; p += 8)                                                            \
                            for (int q = 0; q < 8; q++) part[q] += v->x[p + q] * wc[p + q];                      \
                        for (; p < v->k; p++) sum += v->x[p] * wc[p];                                            \
                        for (int q = 0; q < 8; q++) sum += part[q];                                              \
                    } else {                                                                                     \
                        for (int64_t p = 0; p < v->k; p++) sum += v->x[p * v->x_s] * wc[p * v->w_rs];            \
                    }                                                                                            \
                    acc[j] = sum;                                                                                \
                }                                                                                                \
            }                                                                                                    \
            for (int j = 0; j < len; j++) {                                                                      \
                float *d = v->y + (s + j) * v->y_s;                                                              \
                *d = v->beta == 0.0f ? v->alpha * acc[j] : v->alpha * acc[j] + v->beta * *d;                     \
            }                                                                                                    \
        }                                                                                                        \
    }

DEFINE_GEMV(portable, )
#if defined(__x86_64__) || defined(__i386__)
DEFINE_GEMV(avx2, __attribute__((target("avx2,fma"))))
#endif

static void gemv_run(const gemv_args *v, int64_t j0, int64_t j1) {
#if defined(__x86_64__) || defined(__i386__)
    if (current_level() >= 1) {
        gemv_avx2(v, j0, j1);
        return;
    }
#endif
    gemv_portable(v, j0, j1);
}

/* Rewrites item-level GEMM g (m == 1 or n == 1) as a GEMV over the longer dimension. */
static void as_gemv(const kiln_sgemm_args *g, const float *a, const float *b, float *c, gemv_args *v, int64_t *len) {
    v->k = g->k;
    v->alpha = g->alpha;
    v->beta = g->beta;
    if (g->m == 1) { /* y(j) = sum_p A(0,p) B(p,j) */
        v->x = a, v->x_s = g->a_cs;
        v->w = b, v->w_rs = g->b_rs, v->w_cs = g->b_cs;
        v->y = c, v->y_s = g->c_cs;
        *len = g->n;
    } else { /* n == 1: y(i) = sum_p B(p,0) A(i,p) */
        v->x = b, v->x_s = g->b_rs;
        v->w = a, v->w_rs = g->a_cs, v->w_cs = g->a_rs;
        v->y = c, v->y_s = g->c_rs;
        *len = g->m;
    }
}

/* ---- threading ---- */


/* Packing buffers are cached per thread and only grow: fresh multi-MiB allocations on every call would come
 * from mmap and pay page faults and zeroing each time. Slot 0: a worker's A/B panels; slot 1: the B block a
 * caller packs once for all tiles (alive while the same thread also works on tiles). */
static _Thread_local struct scratch {
    float *p;
    size_t cap; /* floats */
} tl_scratch[2];

/* The buffers of a thread that ends are freed by a key destructor (a _Thread_local pointer alone would leak them:
 * every application thread that ever ran a GEMM would leave its blocks behind). */
static pthread_key_t scratch_key;
static pthread_once_t scratch_key_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_release(void *arg) {
    struct scratch *s = arg;
    for (int i = 0; i < 2; i++) {
        free(s[i].p);
        s[i].p = NULL;
        s[i].cap = 0;
    }
}

static void scratch_key_create(void) {
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_release) == 0;
}

static float *scratch_get(int slot, size_t floats) {
    struct scratch *s = &tl_scratch[slot];
    if (s->cap < floats) {
        pthread_once(&scratch_key_once, scratch_key_create);
        if (!tl_scratch[0].p && !tl_scratch[1].p && scratch_key_ok)
            pthread_setspecific(scratch_key, tl_scratch);
        free(s->p);
        s->cap = 0;
        s->p = aligned_alloc(64, (floats * sizeof(float) + 63) & ~(size_t)63);
        if (!s->p) return NULL;
        s->cap = floats;
    }
    return s->p;
}

/* Last-resort packing space when the per-chunk buffers cannot be allocated: minimal blocks (one micro-panel of
 * each operand) still work. One process-wide pair, taken under a lock, so it costs no per-thread memory. */
static float fallback_a[16 * KC_MAX] __attribute__((aligned(64)));
static float fallback_b[32 * KC_MAX] __attribute__((aligned(64)));
static pthread_mutex_t fallback_lock = PTHREAD_MUTEX_INITIALIZER;

static void sg_range(void *ctx, int64_t t0, int64_t t1) {
    const sg_job *j = ctx;
    const kiln_sgemm_args *g = j->g;
    sg_bufs buf = {NULL, NULL};
    int64_t mc_blk = j->mc_blk, nc_blk = j->nc_blk;
    int locked = 0;
    if (!j->gemv) {
        size_t a_sz = (size_t)(mc_blk * blk_kc + 15) / 16 * 16, b_sz = (size_t)(nc_blk * blk_kc);
        float *p = scratch_get(0, a_sz + b_sz);
        buf.ap = p;
        buf.bp = p ? p + a_sz : NULL;
        if (!p) {
            pthread_mutex_lock(&fallback_lock);
            locked = 1;
            buf.ap = fallback_a;
            buf.bp = fallback_b;
            mc_blk = j->kr->mr;
            nc_blk = j->kr->nr;
        }
    }
    for (int64_t t = t0; t < t1; t++) {
        int64_t per = j->tm * j->tn;
        int64_t item = t / per, r = t % per;
        int64_t ti = r / j->tn, tj = r % j->tn;
        const float *a = j->pack_a ? NULL : g->a + (j->a_off ? j->a_off[item] : 0);
        const float *b = g->pack_b ? NULL : g->b + (j->b_off ? j->b_off[item] : 0);
        float *c = g->c + (j->c_off ? j->c_off[item] : 0);
        if (j->gemv) {
            gemv_args v;
            int64_t len;
            as_gemv(g, a, b, c, &v, &len);
            int64_t s = tj * j->tile_n, e = s + j->tile_n < len ? s + j->tile_n : len;
            gemv_run(&v, s, e);
            continue;
        }
        int64_t i0 = ti * j->tile_m, j0 = tj * j->tile_n;
        int64_t m = g->m - i0 < j->tile_m ? g->m - i0 : j->tile_m;
        int64_t n = g->n - j0 < j->tile_n ? g->n - j0 : j->tile_n;
        if (a) a += i0 * g->a_rs;
        if (b) b += j0 * g->b_cs;
        c += i0 * g->c_rs + j0 * g->c_cs;
        gemm_tile(j, a, b, c, m, n, &buf, mc_blk, nc_blk, item, i0, j0);
    }
    if (locked) pthread_mutex_unlock(&fallback_lock);
}

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* Parallel packing of a whole B (every item, k block and column range) into a by-item packed operand. */
#define SB_COLS 256 /* columns per packing task (a multiple of every kernel's nr) */
typedef struct sb_job {
    const kiln_sgemm_args *g;
    const kiln_sgemm_packed *p;
    const int64_t *b_off;
    int64_t n_pc, n_col;
} sb_job;

static void shared_b_range(void *ctx, int64_t t0, int64_t t1) {
    const sb_job *sj = ctx;
    const kiln_sgemm_args *g = sj->g;
    const kiln_sgemm_packed *p = sj->p;
    const int nr = p->kr->nr;
    for (int64_t t = t0; t < t1; t++) {
        int64_t item = t / (sj->n_pc * sj->n_col), r = t % (sj->n_pc * sj->n_col);
        int64_t pc = (r / sj->n_col) * p->kc, j0 = (r % sj->n_col) * SB_COLS;
        int64_t kc = g->k - pc < p->kc ? g->k - pc : p->kc, nc = g->n - j0 < SB_COLS ? g->n - j0 : SB_COLS;
        float *dst = p->data + item * p->size + pc * p->pad_rows + j0 * kc;
        if (g->pack_b) {
            g->pack_b(g->pack_ctx, item, pc, kc, j0, nc, nr, dst);
        } else {
            const float *b = g->b + (sj->b_off ? sj->b_off[item] : 0);
            pack_b(nr, kc, nc, b + pc * g->b_rs + j0 * g->b_cs, g->b_rs, g->b_cs, dst);
        }
    }
}

static void scale_c(const kiln_sgemm_args *g, int64_t batch, const int64_t *c_off) {
    for (int64_t it = 0; it < batch; it++) {
        float *c = g->c + (c_off ? c_off[it] : 0);
        const float *bias =
            g->row_bias ? g->row_bias + (g->bias_mod > 0 ? it % g->bias_mod : 0) * g->bias_stride : NULL;
        for (int64_t i = 0; i < g->m; i++)
            for (int64_t j = 0; j < g->n; j++) {
                float *d = c + i * g->c_rs + j * g->c_cs;
                *d = (g->beta == 0.0f ? 0.0f : g->beta * *d) + (bias ? bias[i] : 0.0f);
            }
    }
}

void kiln_sgemm_batch(const kiln_sgemm_args *g, int64_t batch, const int64_t *a_off, const int64_t *b_off,
                      const int64_t *c_off) {
    if (batch <= 0 || g->m <= 0 || g->n <= 0) return;
    if (g->k <= 0) {
        scale_c(g, batch, c_off);
        return;
    }
    sg_job j;
    memset(&j, 0, sizeof j);
    j.g = g;
    j.kr = pick_kernel();
    j.a_off = a_off, j.b_off = b_off, j.c_off = c_off;
    const int nt = kiln_num_threads();
    const double flops = 2.0 * (double)g->m * (double)g->n * (double)g->k;
    const double total = flops * (double)batch;
    /* Enough tasks for dynamic balance on a shared machine, each big enough (~2 MFLOP) to amortize packing. */
    int64_t want = (int64_t)(total / 2e6);
    if (want > (int64_t)nt * 3) want = (int64_t)nt * 3;
    if (want < 1) want = 1;
    if ((g->m == 1 || g->n == 1) && !g->pack_b && !g->row_bias) {
        int64_t len = g->m == 1 ? g->n : g->m;
        j.gemv = 1;
        j.tm = 1;
        j.tn = 1;
        if (batch < want) {
            j.tn = (want + batch - 1) / batch;
            int64_t max_tn = (len + 63) / 64;
            if (j.tn > max_tn) j.tn = max_tn;
        }
        j.tile_n = (len + j.tn - 1) / j.tn;
        j.tn = (len + j.tile_n - 1) / j.tile_n;
        kiln_parallel_for(batch * j.tn, 1, sg_range, &j);
        return;
    }
    const int mr = j.kr->mr, nr = j.kr->nr;
    /* Register tiles waste the padding of partial panels: with a narrow N (e.g. 7x7 feature maps, N = 49) the
     * transposed problem C^T = B^T A^T pads less, even though every tile of C^T is then stored through the
     * strided merge (the 0.9 factor). */
    double eff = (double)g->m / (double)round_up(g->m, mr) * (double)g->n / (double)round_up(g->n, nr);
    double eff_t = 0.9 * (double)g->n / (double)round_up(g->n, mr) * (double)g->m / (double)round_up(g->m, nr);
    j.a_packed = packed_ok(g->a_packed, j.kr, 0, g->m, g->k) ? g->a_packed : NULL;
    j.b_packed = packed_ok(g->b_packed, j.kr, 1, g->n, g->k) ? g->b_packed : NULL;
    kiln_sgemm_args sw;
    if (eff_t > eff && !j.a_packed && !j.b_packed && !g->row_bias) {
        sw = *g;
        sw.m = g->n, sw.n = g->m;
        sw.a = g->b, sw.a_rs = g->b_cs, sw.a_cs = g->b_rs;
        sw.b = g->a, sw.b_rs = g->a_cs, sw.b_cs = g->a_rs;
        sw.c_rs = g->c_cs, sw.c_cs = g->c_rs;
        sw.pack_b = NULL;
        j.pack_a = g->pack_b;
        j.g = g = &sw;
        j.a_off = b_off, j.b_off = a_off;
    }
    j.tm = j.tn = 1;
    j.tile_m = g->m;
    j.tile_n = g->n;
    while (batch * j.tm * j.tn < want) {
        int64_t bm = (g->m + j.tm * mr - 1) / (j.tm * mr); /* micro-rows per tile now */
        int64_t bn = (g->n + j.tn * nr - 1) / (j.tn * nr);
        /* Split the dimension with more micro-tiles per tile; stop when tiles would get too thin. */
        if (bm * mr >= bn * nr && bm >= 4)
            j.tm++;
        else if (bn >= 4)
            j.tn++;
        else if (bm >= 2)
            j.tm++;
        else
            break;
    }
    j.tile_m = round_up((g->m + j.tm - 1) / j.tm, mr);
    j.tile_n = round_up((g->n + j.tn - 1) / j.tn, nr);
    j.tm = (g->m + j.tile_m - 1) / j.tile_m;
    j.tn = (g->n + j.tile_n - 1) / j.tile_n;
    int64_t mc_t = blk_mc / mr * mr > 0 ? blk_mc / mr * mr : mr;
    j.mc_blk = j.tile_m < mc_t ? round_up(j.tile_m, mr) : mc_t;
    int64_t nc_t = blk_nc / nr * nr > 0 ? blk_nc / nr * nr : nr;
    j.nc_blk = j.tile_n < nc_t ? round_up(j.tile_n, nr) : nc_t;
    /* Tiles stacked along M would each pack the same B columns: pack B once for all of them (in parallel),
     * when that copy stays reasonably small. */
    kiln_sgemm_packed shared;
    memset(&shared, 0, sizeof shared);
    if (j.tm > 1 && !j.b_packed) {
        shared.kr = j.kr;
        shared.side = 1;
        shared.rows = g->n;
        shared.k = g->k;
        shared.kc = blk_kc;
        shared.pad_rows = round_up(g->n, nr);
        shared.count = batch;
        shared.size = shared.pad_rows * g->k;
        shared.by_item = 1;
        if (shared.size * batch <= ((int64_t)8 << 20)) /* 32 MiB of floats */
            shared.data = scratch_get(1, (size_t)(shared.size * batch));
        if (shared.data) {
            sb_job sj = {g, &shared, b_off, (g->k + blk_kc - 1) / blk_kc, (g->n + SB_COLS - 1) / SB_COLS};
            kiln_parallel_for(batch * sj.n_pc * sj.n_col, 1, shared_b_range, &sj);
            j.b_packed = &shared;
        }
    }
    kiln_parallel_for(batch * j.tm * j.tn, 1, sg_range, &j);
}

void kiln_sgemm(const kiln_sgemm_args *g) { kiln_sgemm_batch(g, 1, NULL, NULL, NULL); }
