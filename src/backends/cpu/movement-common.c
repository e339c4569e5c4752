/* Helpers shared by the data-movement kernel families: strided copies, index-map gathers, input parsing. */
#include "backends/cpu/movement-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/parallel.h"

/* Tile repeats a rank-r tensor through a rank-2r view, so copies may exceed KILN_MAX_DIMS. */
#define ND_MAX (2 * KILN_MAX_DIMS + 2)
/* Elements per parallel chunk: below this the pool costs more than it saves. */
#define PAR_GRAIN 32768
#define CHUNK_BYTES ((size_t)64 << 10)

void kiln_mv_strides(int rank, const int64_t *dims, int64_t *st) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i] > 0 ? dims[i] : 1;
    }
}

const char *kiln_mv_shape_str(int rank, const int64_t *dims, char *buf, size_t n) {
    size_t o = 0;
    if (n == 0) return buf;
    o += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
    return buf;
}

static int set_str(char **slot, const char *s) {
    size_t len = s ? strlen(s) : 0;
    char *c = malloc(len + 1);
    if (!c) return 0;
    if (len) memcpy(c, s, len);
    c[len] = 0;
    free(*slot);
    *slot = c;
    return 1;
}

/* ---------------------------------------------------------------- strided N-D copy ------------------------------ */

enum { K_ROWS = 0, K_ELEMS = 1, K_TILE = 2 };

typedef struct nd_plan {
    int rank;
    int64_t dims[ND_MAX], ss[ND_MAX], ds[ND_MAX];
    int kind, ta;
    int n_outer, outer[ND_MAX];
    int64_t chunks; /* K_ROWS split into CHUNK_BYTES pieces */
    size_t es;
    char *dst;
    const char *src;
} nd_plan;

static void copy_elems(char *d, const char *s, int64_t n, int64_t dstr, int64_t sstr, size_t es) {
    switch (es) {
    case 1:
        for (int64_t i = 0; i < n; i++) d[i * dstr] = s[i * sstr];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)(void *)d)[i * dstr] = ((const uint16_t *)(const void *)s)[i * sstr];
        break;
    case 4:
        for (int64_t i = 0; i < n; i++) ((uint32_t *)(void *)d)[i * dstr] = ((const uint32_t *)(const void *)s)[i * sstr];
        break;
    case 8:
        for (int64_t i = 0; i < n; i++) ((uint64_t *)(void *)d)[i * dstr] = ((const uint64_t *)(const void *)s)[i * sstr];
        break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * dstr * (int64_t)es, s + i * sstr * (int64_t)es, es);
        break;
    }
}

/* Transposing copies: the innermost destination dim b reads the source with a large stride, while the source is
 * contiguous along another dim a. Work goes in units of (outer row, TILE_A-wide slab of a); each slab is copied in
 * 8x8 blocks through a small buffer, so both sides touch only 8 cache lines per block (large power-of-two strides
 * would otherwise evict each other from L1). */
#define TILE_A 64

#define TILE8(NAME, T)                                                                                           \
    static void NAME(char *d, const char *s, int64_t dsa, int64_t ssb) {                                          \
        const T *S = (const T *)(const void *)s;                                                                 \
        T *D = (T *)(void *)d, t[8][8];                                                                          \
        for (int j = 0; j < 8; j++)                                                                              \
            for (int i = 0; i < 8; i++) t[i][j] = S[i + j * ssb];                                                \
        for (int i = 0; i < 8; i++)                                                                              \
            for (int j = 0; j < 8; j++) D[i * dsa + j] = t[i][j];                                                \
    }
TILE8(tile8_1, uint8_t)
TILE8(tile8_2, uint16_t)
TILE8(tile8_4, uint32_t)
TILE8(tile8_8, uint64_t)

#if defined(__x86_64__)
#include <immintrin.h>

/* In-register 8x8 transposes (the portable kernels above go through memory). SSE2 is part of x86-64; AVX is
 * checked at run time. */
__attribute__((target("avx"))) static void tile8_4_avx(char *d, const char *s, int64_t dsa, int64_t ssb) {
    const float *S = (const float *)(const void *)s;
    float *D = (float *)(void *)d;
    __m256 r[8], t[8], u[8];
    for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(S + j * ssb);
    for (int j = 0; j < 8; j += 2) {
        t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
    }
    for (int j = 0; j < 8; j += 4) {
        u[j] = _mm256_shuffle_ps(t[j], t[j + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(D + i * dsa, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(D + (i + 4) * dsa, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}

static void tile8_2_sse2(char *d, const char *s, int64_t dsa, int64_t ssb) {
    const uint16_t *S = (const uint16_t *)(const void *)s;
    uint16_t *D = (uint16_t *)(void *)d;
    __m128i a[8], b[8], c[8];
    for (int j = 0; j < 8; j++) a[j] = _mm_loadu_si128((const __m128i *)(const void *)(S + j * ssb));
    for (int j = 0; j < 8; j += 2) {
        b[j] = _mm_unpacklo_epi16(a[j], a[j + 1]);
        b[j + 1] = _mm_unpackhi_epi16(a[j], a[j + 1]);
    }
    for (int j = 0; j < 8; j += 4) {
        c[j] = _mm_unpacklo_epi32(b[j], b[j + 2]);
        c[j + 1] = _mm_unpackhi_epi32(b[j], b[j + 2]);
        c[j + 2] = _mm_unpacklo_epi32(b[j + 1], b[j + 3]);
        c[j + 3] = _mm_unpackhi_epi32(b[j + 1], b[j + 3]);
    }
    for (int i = 0; i < 4; i++) {
        _mm_storeu_si128((__m128i *)(void *)(D + (2 * i) * dsa), _mm_unpacklo_epi64(c[i], c[i + 4]));
        _mm_storeu_si128((__m128i *)(void *)(D + (2 * i + 1) * dsa), _mm_unpackhi_epi64(c[i], c[i + 4]));
    }
}

static int have_avx(void) {
    static int v = -1;
    if (v < 0) v = __builtin_cpu_supports("avx") ? 1 : 0;
    return v;
}
#endif

static void copy_slab(const nd_plan *p, char *d, const char *s, int64_t i0, int64_t i1) {
    int last = p->rank - 1, a = p->ta;
    int64_t nb = p->dims[last], dsa = p->ds[a], ssb = p->ss[last], es = (int64_t)p->es;
    void (*k8)(char *, const char *, int64_t, int64_t) = es == 1 ? tile8_1 : es == 2 ? tile8_2 : es == 4 ? tile8_4
                                                                                      : es == 8 ? tile8_8 : NULL;
#if defined(__x86_64__)
    if (es == 4 && have_avx()) k8 = tile8_4_avx;
    if (es == 2) k8 = tile8_2_sse2;
#endif
    /* a column strip of one destination cache line per row, so each line is written completely at once */
    int64_t jb = es < 8 ? 64 / es : 8;
    for (int64_t js = 0; js < nb; js += jb) {
        int64_t je = js + jb < nb ? js + jb : nb;
        for (int64_t i = i0; i < i1; i += 8) {
            for (int64_t j0 = js; j0 < je; j0 += 8) {
                int64_t j1 = j0 + 8 < je ? j0 + 8 : je;
                char *dd = d + (i * dsa + j0) * es;
                const char *ss = s + (i + j0 * ssb) * es;
                if (k8 && i + 8 <= i1 && j1 - j0 == 8) {
                    k8(dd, ss, dsa, ssb);
                    continue;
                }
                for (int64_t ii = 0; ii < 8 && i + ii < i1; ii++)
                    copy_elems(dd + ii * dsa * es, ss + ii * es, j1 - j0, 1, ssb, p->es);
            }
        }
    }
}

static void tile_range(void *ctx, int64_t b, int64_t e) {
    const nd_plan *p = ctx;
    int64_t na = p->dims[p->ta], nblk = (na + TILE_A - 1) / TILE_A, es = (int64_t)p->es;
    for (int64_t q = b; q < e; q++) {
        int64_t rem = q / nblk, blk = q % nblk, so = 0, dof = 0;
        for (int k = p->n_outer - 1; k >= 0; k--) {
            int d = p->outer[k];
            int64_t i = rem % p->dims[d];
            rem /= p->dims[d];
            so += i * p->ss[d];
            dof += i * p->ds[d];
        }
        int64_t i0 = blk * TILE_A, i1 = i0 + TILE_A < na ? i0 + TILE_A : na;
        copy_slab(p, p->dst + dof * es, p->src + so * es, i0, i1);
    }
}

static void nd_row(const nd_plan *p, char *d, const char *s) {
    int last = p->rank - 1;
    switch (p->kind) {
    case K_ROWS: memcpy(d, s, (size_t)p->dims[last] * p->es); break;
    case K_ELEMS: copy_elems(d, s, p->dims[last], p->ds[last], p->ss[last], p->es); break;
    }
}

static void nd_range(void *ctx, int64_t b, int64_t e) {
    const nd_plan *p = ctx;
    int64_t idx[ND_MAX], so = 0, dof = 0, rem = b;
    for (int q = p->n_outer - 1; q >= 0; q--) {
        int k = p->outer[q];
        idx[q] = rem % p->dims[k];
        rem /= p->dims[k];
        so += idx[q] * p->ss[k];
        dof += idx[q] * p->ds[k];
    }
    int64_t es = (int64_t)p->es;
    for (int64_t r = b; r < e; r++) {
        nd_row(p, p->dst + dof * es, p->src + so * es);
        for (int q = p->n_outer - 1; q >= 0; q--) {
            int k = p->outer[q];
            so += p->ss[k];
            dof += p->ds[k];
            if (++idx[q] < p->dims[k]) break;
            so -= p->ss[k] * p->dims[k];
            dof -= p->ds[k] * p->dims[k];
            idx[q] = 0;
        }
    }
}

/* Units of (row, piece of CHUNK_BYTES) for copies of a few very long contiguous rows (Concat of large inputs). */
static void chunk_range(void *ctx, int64_t b, int64_t e) {
    const nd_plan *p = ctx;
    size_t row_bytes = (size_t)p->dims[p->rank - 1] * p->es;
    for (int64_t q = b; q < e; q++) {
        int64_t rem = q / p->chunks, c = q % p->chunks, so = 0, dof = 0;
        for (int k = p->n_outer - 1; k >= 0; k--) {
            int d = p->outer[k];
            int64_t i = rem % p->dims[d];
            rem /= p->dims[d];
            so += i * p->ss[d];
            dof += i * p->ds[d];
        }
        size_t off = (size_t)c * CHUNK_BYTES, n = row_bytes - off < CHUNK_BYTES ? row_bytes - off : CHUNK_BYTES;
        memcpy(p->dst + dof * (int64_t)p->es + off, p->src + so * (int64_t)p->es + off, n);
    }
}

static kiln_status nd_strings(const nd_plan *p) {
    int64_t idx[ND_MAX] = {0}, so = 0, dof = 0, total = 1;
    for (int k = 0; k < p->rank; k++) total *= p->dims[k];
    char **d = (char **)(void *)p->dst;
    const char *const *s = (const char *const *)(const void *)p->src;
    for (int64_t i = 0; i < total; i++) {
        KILN_FAIL_IF(!set_str(&d[dof], s[so]), KILN_ERR_OUT_OF_MEMORY, "out of memory copying strings");
        for (int k = p->rank - 1; k >= 0; k--) {
            so += p->ss[k];
            dof += p->ds[k];
            if (++idx[k] < p->dims[k]) break;
            so -= p->ss[k] * p->dims[k];
            dof -= p->ds[k] * p->dims[k];
            idx[k] = 0;
        }
    }
    return KILN_OK;
}

kiln_status kiln_mv_copy_nd(kiln_dtype dt, void *dst, const int64_t *dst_st, const void *src, const int64_t *src_st,
                            int rank, const int64_t *dims) {
    KILN_FAIL_IF(rank < 0 || rank > ND_MAX, KILN_ERR_INTERNAL, "strided copy of rank %d", rank);
    nd_plan p;
    p.es = kiln_dtype_size(dt);
    p.dst = dst;
    p.src = src;
    int m = 0;
    for (int k = 0; k < rank; k++) {
        if (dims[k] == 0) return KILN_OK;
        if (dims[k] == 1) continue;
        if (m > 0 && p.ss[m - 1] == src_st[k] * dims[k] && p.ds[m - 1] == dst_st[k] * dims[k]) {
            p.dims[m - 1] *= dims[k];
            p.ss[m - 1] = src_st[k];
            p.ds[m - 1] = dst_st[k];
            continue;
        }
        p.dims[m] = dims[k];
        p.ss[m] = src_st[k];
        p.ds[m] = dst_st[k];
        m++;
    }
    if (m == 0) { /* a single element */
        p.dims[0] = 1;
        p.ss[0] = p.ds[0] = 1;
        m = 1;
    }
    p.rank = m;
    if (dt == KILN_STRING) return nd_strings(&p);
    int last = m - 1;
    p.kind = K_ELEMS;
    p.ta = -1;
    if (p.ss[last] == 1 && p.ds[last] == 1) {
        p.kind = K_ROWS;
    } else if (p.ds[last] == 1 && p.ss[last] > 1 && p.dims[last] >= 4) {
        for (int k = 0; k < last; k++)
            if (p.ss[k] == 1 && p.dims[k] >= 4) p.ta = k;
        if (p.ta >= 0) p.kind = K_TILE;
    }
    p.n_outer = 0;
    int64_t rows = 1, inner = p.dims[last];
    for (int k = 0; k < last; k++) {
        if (k == p.ta) {
            inner *= p.dims[k];
            continue;
        }
        p.outer[p.n_outer++] = k;
        rows *= p.dims[k];
    }
    /* Walk the outer dims in the source's memory order: sequential reads matter more than sequential writes. */
    for (int i = 1; i < p.n_outer; i++)
        for (int j = i; j > 0; j--) {
            int64_t a = p.ss[p.outer[j - 1]], b = p.ss[p.outer[j]];
            if ((a < 0 ? -a : a) >= (b < 0 ? -b : b)) break;
            int t = p.outer[j];
            p.outer[j] = p.outer[j - 1];
            p.outer[j - 1] = t;
        }
    if (p.kind == K_TILE) {
        int64_t nblk = (p.dims[p.ta] + TILE_A - 1) / TILE_A, per = TILE_A * p.dims[last];
        kiln_parallel_for(rows * nblk, PAR_GRAIN / per + 1, tile_range, &p);
        return KILN_OK;
    }
    size_t row_bytes = (size_t)inner * p.es;
    if (p.kind == K_ROWS && rows < 16 && row_bytes >= 2 * CHUNK_BYTES) { /* few huge rows: split them */
        p.chunks = (int64_t)((row_bytes + CHUNK_BYTES - 1) / CHUNK_BYTES);
        kiln_parallel_for(rows * p.chunks, 1, chunk_range, &p);
        return KILN_OK;
    }
    int64_t grain = PAR_GRAIN / (inner > 0 ? inner : 1);
    kiln_parallel_for(rows, grain > 0 ? grain : 1, nd_range, &p);
    return KILN_OK;
}

/* ---------------------------------------------------------------- index-map gather ------------------------------ */

typedef struct gm_plan {
    int rank;
    const int64_t *out_dims;
    int64_t in_st[KILN_MAX_DIMS];
    int64_t *const *maps;
    size_t es;
    char *out;
    const char *in;
    const char *fill; /* es bytes */
    const int64_t *runs; /* when the last map is mostly consecutive: (start, length, source or -1) triples */
    int64_t n_runs;
} gm_plan;

static void gm_range(void *ctx, int64_t b, int64_t e) {
    const gm_plan *p = ctx;
    int last = p->rank - 1;
    int64_t n = p->out_dims[last], es = (int64_t)p->es;
    const int64_t *ml = p->maps[last];
    int64_t idx[KILN_MAX_DIMS], rem = b;
    for (int k = last - 1; k >= 0; k--) {
        idx[k] = rem % p->out_dims[k];
        rem /= p->out_dims[k];
    }
    for (int64_t r = b; r < e; r++) {
        char *d = p->out + r * n * es;
        int64_t so = 0;
        int outside = 0;
        for (int k = 0; k < last; k++) {
            int64_t m = p->maps[k][idx[k]];
            if (m < 0) outside = 1;
            so += m * p->in_st[k];
        }
        if (outside) {
            for (int64_t j = 0; j < n; j++) memcpy(d + j * es, p->fill, (size_t)es);
        } else if (p->runs) {
            const char *s = p->in + so * es;
            for (int64_t q = 0; q < p->n_runs; q++) {
                const int64_t *rn = p->runs + 3 * q;
                if (rn[2] >= 0)
                    memcpy(d + rn[0] * es, s + rn[2] * es, (size_t)(rn[1] * es));
                else
                    for (int64_t j = 0; j < rn[1]; j++) memcpy(d + (rn[0] + j) * es, p->fill, (size_t)es);
            }
        } else {
            const char *s = p->in + so * es;
            switch (es) {
            case 1:
                for (int64_t j = 0; j < n; j++) d[j] = ml[j] < 0 ? p->fill[0] : s[ml[j]];
                break;
            case 4: {
                uint32_t f, *d4 = (uint32_t *)(void *)d;
                const uint32_t *s4 = (const uint32_t *)(const void *)s;
                memcpy(&f, p->fill, 4);
                for (int64_t j = 0; j < n; j++) d4[j] = ml[j] < 0 ? f : s4[ml[j]];
                break;
            }
            default:
                for (int64_t j = 0; j < n; j++) memcpy(d + j * es, ml[j] < 0 ? p->fill : s + ml[j] * es, (size_t)es);
                break;
            }
        }
        for (int k = last - 1; k >= 0; k--) {
            if (++idx[k] < p->out_dims[k]) break;
            idx[k] = 0;
        }
    }
}

kiln_status kiln_mv_gather_maps(kiln_dtype dt, void *out, const int64_t *out_dims, const void *in,
                                const int64_t *in_dims, int rank, int64_t *const *maps, const void *fill) {
    int64_t total = kiln_numel(rank, out_dims);
    if (total <= 0) return KILN_OK;
    if (rank == 0) return kiln_mv_copy(dt, out, in, 1);
    char zero[16] = {0};
    gm_plan p;
    p.rank = rank;
    p.out_dims = out_dims;
    kiln_mv_strides(rank, in_dims, p.in_st);
    p.maps = maps;
    p.es = kiln_dtype_size(dt);
    p.out = out;
    p.in = in;
    p.fill = fill ? fill : zero;
    if (dt == KILN_STRING) {
        int64_t idx[KILN_MAX_DIMS] = {0};
        char **o = out;
        const char *const *s = in;
        const char *f = fill ? *(const char *const *)fill : "";
        for (int64_t i = 0; i < total; i++) {
            int64_t so = 0;
            int outside = 0;
            for (int k = 0; k < rank; k++) {
                int64_t m = maps[k][idx[k]];
                if (m < 0) outside = 1;
                so += m * p.in_st[k];
            }
            KILN_FAIL_IF(!set_str(&o[i], outside ? f : s[so]), KILN_ERR_OUT_OF_MEMORY, "out of memory");
            for (int k = rank - 1; k >= 0; k--) {
                if (++idx[k] < out_dims[k]) break;
                idx[k] = 0;
            }
        }
        return KILN_OK;
    }
    /* Pad / crop maps are long consecutive runs: copy those with memcpy. */
    int64_t n = out_dims[rank - 1], n_runs = 0, *runs = NULL;
    const int64_t *ml = maps[rank - 1];
    for (int64_t j = 0; j < n; j++)
        if (j == 0 || (ml[j] < 0) != (ml[j - 1] < 0) || (ml[j] >= 0 && ml[j] != ml[j - 1] + 1)) n_runs++;
    if (n_runs * 4 <= n) {
        runs = malloc(sizeof(int64_t) * 3 * (size_t)n_runs);
        KILN_FAIL_IF(!runs, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        int64_t q = -1;
        for (int64_t j = 0; j < n; j++) {
            if (j == 0 || (ml[j] < 0) != (ml[j - 1] < 0) || (ml[j] >= 0 && ml[j] != ml[j - 1] + 1)) {
                q++;
                runs[3 * q] = j;
                runs[3 * q + 1] = 0;
                runs[3 * q + 2] = ml[j] < 0 ? -1 : ml[j];
            }
            runs[3 * q + 1]++;
        }
        p.runs = runs;
        p.n_runs = n_runs;
    } else {
        p.runs = NULL;
        p.n_runs = 0;
    }
    int64_t rows = total / n;
    int64_t grain = PAR_GRAIN / n;
    kiln_parallel_for(rows, grain > 0 ? grain : 1, gm_range, &p);
    free(runs);
    return KILN_OK;
}

/* ---------------------------------------------------------------- fill / copy ----------------------------------- */

kiln_status kiln_mv_fill(kiln_dtype dt, void *dst, int64_t n, const void *one) {
    if (n <= 0) return KILN_OK;
    if (dt == KILN_STRING) {
        char **d = dst;
        const char *s = one ? *(const char *const *)one : "";
        for (int64_t i = 0; i < n; i++) KILN_FAIL_IF(!set_str(&d[i], s), KILN_ERR_OUT_OF_MEMORY, "out of memory");
        return KILN_OK;
    }
    size_t es = kiln_dtype_size(dt), total = (size_t)n * es;
    int zero = 1;
    for (size_t b = 0; one && b < es; b++) zero &= ((const char *)one)[b] == 0;
    if (zero) {
        memset(dst, 0, total);
        return KILN_OK;
    }
    memcpy(dst, one, es);
    for (size_t have = es; have < total;) { /* doubling copies */
        size_t c = have < total - have ? have : total - have;
        memcpy((char *)dst + have, dst, c);
        have += c;
    }
    return KILN_OK;
}

kiln_status kiln_mv_copy(kiln_dtype dt, void *dst, const void *src, int64_t n) {
    if (n <= 0 || dst == src) return KILN_OK;
    if (dt == KILN_STRING) {
        char **d = dst;
        const char *const *s = src;
        for (int64_t i = 0; i < n; i++) KILN_FAIL_IF(!set_str(&d[i], s[i]), KILN_ERR_OUT_OF_MEMORY, "out of memory");
        return KILN_OK;
    }
    memcpy(dst, src, (size_t)n * kiln_dtype_size(dt));
    return KILN_OK;
}

/* ---------------------------------------------------------------- input parsing --------------------------------- */

kiln_status kiln_mv_read_ints(const kiln_tensor *t, const char *what, int64_t *out, int max, int *n) {
    KILN_FAIL_IF(t->dtype != KILN_INT64 && t->dtype != KILN_INT32, KILN_ERR_TYPE, "%s must be int64 or int32, got %s",
                 what, kiln_dtype_name(t->dtype));
    KILN_FAIL_IF(t->rank > 1, KILN_ERR_SHAPE, "%s must be a scalar or 1-D tensor, got rank %d", what, t->rank);
    int64_t cnt = kiln_tensor_numel(t);
    KILN_FAIL_IF(cnt < 0 || cnt > max, KILN_ERR_UNSUPPORTED, "%s has %lld values; at most %d are supported", what,
                 (long long)cnt, max);
    for (int64_t i = 0; i < cnt; i++)
        out[i] = t->dtype == KILN_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
    *n = (int)cnt;
    return KILN_OK;
}

kiln_status kiln_mv_scalar_i64(const kiln_tensor *t, const char *what, int64_t *v) {
    KILN_FAIL_IF(kiln_tensor_numel(t) != 1, KILN_ERR_SHAPE, "%s must hold exactly one value, got %lld", what,
                 (long long)kiln_tensor_numel(t));
    KILN_FAIL_IF(!kiln_dtype_is_int(t->dtype) && !kiln_dtype_is_float(t->dtype) && t->dtype != KILN_BOOL,
                 KILN_ERR_TYPE, "%s must be numeric, got %s", what, kiln_dtype_name(t->dtype));
    *v = kiln_load_i64(t->dtype, t->data, 0);
    return KILN_OK;
}

kiln_status kiln_mv_scalar_f64(const kiln_tensor *t, const char *what, double *v) {
    KILN_FAIL_IF(kiln_tensor_numel(t) != 1, KILN_ERR_SHAPE, "%s must hold exactly one value, got %lld", what,
                 (long long)kiln_tensor_numel(t));
    KILN_FAIL_IF(!kiln_dtype_is_int(t->dtype) && !kiln_dtype_is_float(t->dtype) && t->dtype != KILN_BOOL,
                 KILN_ERR_TYPE, "%s must be numeric, got %s", what, kiln_dtype_name(t->dtype));
    *v = kiln_load_f64(t->dtype, t->data, 0);
    return KILN_OK;
}

kiln_status kiln_mv_axis(int64_t axis, int rank, const char *what, int *out) {
    KILN_FAIL_IF(axis < -rank || axis >= rank || (rank == 0 && axis != 0), KILN_ERR_INVALID_ARGUMENT,
                 "%s %lld is out of range for rank %d (valid: [%d, %d])", what, (long long)axis, rank, -rank,
                 rank - 1);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return KILN_OK;
}

kiln_status kiln_mv_attr_ints(const kiln_node *n, const char *name, int64_t *out, int max, int *count) {
    int c = 0;
    const int64_t *v = kiln_attr_ints(n, name, &c);
    KILN_FAIL_IF(c > max, KILN_ERR_UNSUPPORTED, "attribute '%s' has %d values; at most %d are supported", name, c,
                 max);
    for (int i = 0; i < c; i++) out[i] = v[i];
    *count = c;
    return KILN_OK;
}

int kiln_mv_is_nonzero(kiln_dtype dt, const void *data, int64_t i) {
    const uint8_t *b = data;
    switch (dt) {
    case KILN_FLOAT: return ((const float *)data)[i] != 0.0f;
    case KILN_DOUBLE: return ((const double *)data)[i] != 0.0;
    case KILN_FLOAT16: case KILN_BFLOAT16: return (((const uint16_t *)data)[i] & 0x7fff) != 0;
    case KILN_FLOAT8E4M3FN: case KILN_FLOAT8E5M2: return (b[i] & 0x7f) != 0;
    case KILN_FLOAT4E2M1: return (b[i] & 0x07) != 0;
    case KILN_FLOAT6E2M3: case KILN_FLOAT6E3M2: return (b[i] & 0x1f) != 0;
    case KILN_FLOAT8E8M0: return 1; /* no zero encoding */
    case KILN_COMPLEX64: return ((const float *)data)[2 * i] != 0.0f || ((const float *)data)[2 * i + 1] != 0.0f;
    case KILN_COMPLEX128: return ((const double *)data)[2 * i] != 0.0 || ((const double *)data)[2 * i + 1] != 0.0;
    case KILN_STRING: {
        const char *s = ((const char *const *)data)[i];
        return s && s[0];
    }
    default: {
        size_t es = kiln_dtype_size(dt);
        for (size_t k = 0; k < es; k++)
            if (b[(size_t)i * es + k]) return 1;
        return 0;
    }
    }
}
