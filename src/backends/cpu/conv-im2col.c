/* Conv attribute parsing, sliding-window geometry, and the N-D im2col / col2im transforms (see conv-internal.h).
 * Both transforms walk the last spatial dim as a run whose in-bounds part is computed once, so the inner loop is
 * a plain (possibly strided) copy or add. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/conv-internal.h"
#include "core/parallel.h"

static kiln_status get_ints(const kiln_node *n, const char *name, int64_t *dst, int max, int *count) {
    int c = 0;
    const int64_t *v = kiln_attr_ints(n, name, &c);
    KILN_FAIL_IF(c > max, KILN_ERR_UNSUPPORTED, "attribute '%s' has %d values; at most %d supported", name, c, max);
    for (int i = 0; i < c; i++) dst[i] = v[i];
    *count = v ? c : 0;
    return KILN_OK;
}

kiln_status conv_attrs_parse(const kiln_node *n, conv_attrs *a) {
    memset(a, 0, sizeof *a);
    const char *ap = kiln_attr_string(n, "auto_pad", "NOTSET");
    if (!strcmp(ap, "NOTSET") || !ap[0])
        a->auto_pad = PAD_NOTSET;
    else if (!strcmp(ap, "SAME_UPPER"))
        a->auto_pad = PAD_SAME_UPPER;
    else if (!strcmp(ap, "SAME_LOWER"))
        a->auto_pad = PAD_SAME_LOWER;
    else if (!strcmp(ap, "VALID"))
        a->auto_pad = PAD_VALID;
    else
        return kiln_error(KILN_ERR_INVALID_GRAPH, "unknown auto_pad '%s'", ap);
    KILN_TRY(get_ints(n, "kernel_shape", a->k, KILN_MAX_DIMS, &a->n_k));
    KILN_TRY(get_ints(n, "strides", a->s, KILN_MAX_DIMS, &a->n_s));
    KILN_TRY(get_ints(n, "dilations", a->d, KILN_MAX_DIMS, &a->n_d));
    KILN_TRY(get_ints(n, "pads", a->pads, 2 * KILN_MAX_DIMS, &a->n_p));
    KILN_TRY(get_ints(n, "output_padding", a->output_padding, KILN_MAX_DIMS, &a->n_op));
    KILN_TRY(get_ints(n, "output_shape", a->output_shape, KILN_MAX_DIMS, &a->n_os));
    a->group = kiln_attr_int(n, "group", 1);
    a->offset_group = kiln_attr_int(n, "offset_group", 1);
    KILN_FAIL_IF(a->group < 1, KILN_ERR_INVALID_GRAPH, "group must be >= 1, got %lld", (long long)a->group);
    KILN_FAIL_IF(a->offset_group < 1, KILN_ERR_INVALID_GRAPH, "offset_group must be >= 1, got %lld",
                 (long long)a->offset_group);
    for (int i = 0; i < a->n_s; i++)
        KILN_FAIL_IF(a->s[i] < 1, KILN_ERR_INVALID_GRAPH, "strides must be >= 1");
    for (int i = 0; i < a->n_d; i++)
        KILN_FAIL_IF(a->d[i] < 1, KILN_ERR_INVALID_GRAPH, "dilations must be >= 1");
    for (int i = 0; i < a->n_k; i++)
        KILN_FAIL_IF(a->k[i] < 1, KILN_ERR_INVALID_GRAPH, "kernel_shape must be >= 1");
    return KILN_OK;
}

kiln_status conv_attrs_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    conv_attrs *a = malloc(sizeof *a);
    KILN_FAIL_IF(!a, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = conv_attrs_parse(n, a);
    if (st != KILN_OK) {
        free(a);
        return st;
    }
    *params = a;
    return KILN_OK;
}

kiln_status conv_geom_finish(conv_geom *g) {
    g->img_size = g->grid_size = g->k_size = 1;
    for (int i = 0; i < g->nsp; i++) {
        KILN_FAIL_IF(__builtin_mul_overflow(g->img_size, g->img[i], &g->img_size) ||
                         __builtin_mul_overflow(g->grid_size, g->grid[i], &g->grid_size) ||
                         __builtin_mul_overflow(g->k_size, g->k[i], &g->k_size),
                     KILN_ERR_SHAPE, "window geometry overflows int64 at spatial dim %d (image %lld, grid %lld, "
                     "kernel %lld)", i, (long long)g->img[i], (long long)g->grid[i], (long long)g->k[i]);
    }
    return KILN_OK;
}

kiln_status conv_check_dim(int i, int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
    const int64_t lim = (int64_t)1 << 31;
    KILN_FAIL_IF(in < 0 || in >= lim || k < 0 || k >= lim || s < 0 || s >= lim || d < 0 || d >= lim || pb < -lim ||
                     pb >= lim || pe < -lim || pe >= lim,
                 KILN_ERR_UNSUPPORTED,
                 "spatial dim %d: size %lld, kernel %lld, stride %lld, dilation %lld, pads %lld+%lld: values of 2^31 "
                 "or more are not supported",
                 i, (long long)in, (long long)k, (long long)s, (long long)d, (long long)pb, (long long)pe);
    return KILN_OK;
}

kiln_status conv_geom_forward(const conv_attrs *a, int nsp, const int64_t *x_sp, const int64_t *w_sp, conv_geom *g) {
    memset(g, 0, sizeof *g);
    KILN_FAIL_IF(nsp < 1, KILN_ERR_SHAPE, "convolution input needs at least one spatial dim");
    KILN_FAIL_IF(a->n_k && a->n_k != nsp, KILN_ERR_INVALID_GRAPH, "kernel_shape has %d values for %d spatial dims",
                 a->n_k, nsp);
    KILN_FAIL_IF(a->n_s && a->n_s != nsp, KILN_ERR_INVALID_GRAPH, "strides has %d values for %d spatial dims", a->n_s,
                 nsp);
    KILN_FAIL_IF(a->n_d && a->n_d != nsp, KILN_ERR_INVALID_GRAPH, "dilations has %d values for %d spatial dims",
                 a->n_d, nsp);
    KILN_FAIL_IF(a->n_p && a->n_p != 2 * nsp, KILN_ERR_INVALID_GRAPH, "pads has %d values for %d spatial dims",
                 a->n_p, nsp);
    g->nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        int64_t in = x_sp[i], k = a->n_k ? a->k[i] : w_sp[i];
        KILN_FAIL_IF(w_sp && w_sp[i] != k, KILN_ERR_SHAPE, "kernel_shape[%d] = %lld but W has %lld there", i,
                     (long long)k, (long long)w_sp[i]);
        int64_t s = a->n_s ? a->s[i] : 1, d = a->n_d ? a->d[i] : 1, out, pb = 0, pe = 0;
        KILN_TRY(conv_check_dim(i, in, k, s, d, a->n_p ? a->pads[i] : 0, a->n_p ? a->pads[nsp + i] : 0));
        int64_t dk = (k - 1) * d + 1;
        switch (a->auto_pad) {
        case PAD_NOTSET:
            pb = a->n_p ? a->pads[i] : 0;
            pe = a->n_p ? a->pads[nsp + i] : 0;
            KILN_FAIL_IF(pb < 0 || pe < 0, KILN_ERR_INVALID_GRAPH, "negative pads are not supported");
            KILN_FAIL_IF(in + pb + pe < dk, KILN_ERR_SHAPE,
                         "spatial dim %d: input %lld + pads %lld+%lld is smaller than the dilated kernel %lld", i,
                         (long long)in, (long long)pb, (long long)pe, (long long)dk);
            out = (in + pb + pe - dk) / s + 1;
            break;
        case PAD_VALID:
            KILN_FAIL_IF(in < dk, KILN_ERR_SHAPE, "spatial dim %d: input %lld is smaller than the dilated kernel %lld",
                         i, (long long)in, (long long)dk);
            out = (in - dk) / s + 1;
            break;
        default: {
            out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + dk - in;
            if (total < 0) total = 0;
            pb = a->auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
            break;
        }
        }
        g->img[i] = in;
        g->grid[i] = out;
        g->k[i] = k;
        g->s[i] = s;
        g->d[i] = d;
        g->pb[i] = pb;
        g->pe[i] = pe;
    }
    return conv_geom_finish(g);
}

/* Window positions [lo, hi) of the last dim whose tap at offset `off` (= k*d - pb) lands inside [0, w). */
static void run_range(int64_t off, int64_t s, int64_t w, int64_t n, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = w - 1 - off < 0 ? 0 : (w - 1 - off) / s + 1;
    if (h > n) h = n;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

typedef struct xform_job {
    const conv_geom *g;
    const void *src;
    void *dst;
    int64_t channels, r0, r1, cols;
} xform_job;

/* Visits each outer grid position (all dims but the last; the first limited to [r0, r1) when nsp >= 2) for tap
 * kidx: calls body with the image offset of the row (or -1 when the tap falls in padding) and the run index. */
#define FOR_EACH_RUN(g, kidx, r0, r1, BODY)                                                                     \
    do {                                                                                                         \
        int64_t o_[KILN_MAX_DIMS] = {0}, istr_[KILN_MAX_DIMS];                                                   \
        int nsp_ = (g)->nsp, outer_ = nsp_ - 1;                                                                  \
        int64_t st_ = 1;                                                                                         \
        for (int q_ = nsp_ - 1; q_ >= 0; q_--) {                                                                 \
            istr_[q_] = st_;                                                                                     \
            st_ *= (g)->img[q_];                                                                                 \
        }                                                                                                        \
        if (outer_ > 0) o_[0] = (r0);                                                                            \
        for (int64_t run_ = 0;; run_++) {                                                                        \
            int64_t base_ = 0;                                                                                   \
            for (int q_ = 0; q_ < outer_ && base_ >= 0; q_++) {                                                  \
                int64_t c_ = o_[q_] * (g)->s[q_] - (g)->pb[q_] + (kidx)[q_] * (g)->d[q_];                        \
                base_ = c_ < 0 || c_ >= (g)->img[q_] ? -1 : base_ + c_ * istr_[q_];                              \
            }                                                                                                    \
            {                                                                                                    \
                const int64_t row_base = base_, run_idx = run_;                                                  \
                BODY;                                                                                            \
            }                                                                                                    \
            int q_ = outer_ - 1;                                                                                 \
            for (; q_ >= 0; q_--) {                                                                              \
                if (++o_[q_] < (q_ == 0 ? (r1) : (g)->grid[q_])) break;                                          \
                o_[q_] = q_ == 0 ? (r0) : 0;                                                                     \
            }                                                                                                    \
            if (q_ < 0) break;                                                                                   \
        }                                                                                                        \
    } while (0)

static void tap_index(const conv_geom *g, int64_t kk, int64_t *kidx) {
    for (int q = g->nsp - 1; q >= 0; q--) {
        kidx[q] = kk % g->k[q];
        kk /= g->k[q];
    }
}

#define DEFINE_IM2COL(name, T)                                                                                   \
    static void name(void *ctx, int64_t b, int64_t e) {                                                          \
        const xform_job *j = ctx;                                                                                \
        const conv_geom *g = j->g;                                                                               \
        const int last = g->nsp - 1;                                                                             \
        const int64_t ow = g->grid[last], w = g->img[last], s = g->s[last];                                      \
        for (int64_t row = b; row < e; row++) {                                                                  \
            int64_t c = row / g->k_size, kidx[KILN_MAX_DIMS];                                                    \
            tap_index(g, row % g->k_size, kidx);                                                                 \
            const T *src = (const T *)j->src + c * g->img_size;                                                  \
            T *dst = (T *)j->dst + row * j->cols;                                                                \
            int64_t off = kidx[last] * g->d[last] - g->pb[last], lo, hi;                                         \
            run_range(off, s, w, ow, &lo, &hi);                                                                  \
            FOR_EACH_RUN(g, kidx, j->r0, j->r1, {                                                                \
                T *d = dst + run_idx * ow;                                                                       \
                if (row_base < 0) {                                                                              \
                    memset(d, 0, sizeof(T) * (size_t)ow);                                                        \
                } else {                                                                                         \
                    const T *sp = src + row_base + off;                                                          \
                    if (lo > 0) memset(d, 0, sizeof(T) * (size_t)lo);                                            \
                    if (s == 1)                                                                                  \
                        memcpy(d + lo, sp + lo, sizeof(T) * (size_t)(hi - lo));                                  \
                    else                                                                                         \
                        for (int64_t x = lo; x < hi; x++) d[x] = sp[x * s];                                      \
                    if (hi < ow) memset(d + hi, 0, sizeof(T) * (size_t)(ow - hi));                               \
                }                                                                                                \
            });                                                                                                  \
        }                                                                                                        \
    }

DEFINE_IM2COL(im2col_32, uint32_t)
DEFINE_IM2COL(im2col_64, uint64_t)

void conv_im2col(const conv_geom *g, size_t es, const void *img, int64_t channels, int64_t r0, int64_t r1,
                 void *col) {
    if (g->nsp == 1) r0 = 0, r1 = g->grid[0];
    xform_job j = {g, img, col, channels, r0, r1, (r1 - r0) * (g->grid_size / (g->grid[0] ? g->grid[0] : 1))};
    if (g->grid[0] == 0 || j.cols == 0) return;
    int64_t rows = channels * g->k_size;
    int64_t grain = j.cols >= 4096 ? 1 : 4096 / j.cols;
    kiln_parallel_for(rows, grain, es == 8 ? im2col_64 : im2col_32, &j);
}

#define DEFINE_COL2IM(name, T)                                                                                   \
    static void name(void *ctx, int64_t b, int64_t e) {                                                          \
        const xform_job *j = ctx;                                                                                \
        const conv_geom *g = j->g;                                                                               \
        const int last = g->nsp - 1;                                                                             \
        const int64_t ow = g->grid[last], w = g->img[last], s = g->s[last];                                      \
        for (int64_t c = b; c < e; c++) {                                                                        \
            T *dst = (T *)j->dst + c * g->img_size;                                                              \
            for (int64_t kk = 0; kk < g->k_size; kk++) {                                                         \
                int64_t kidx[KILN_MAX_DIMS];                                                                     \
                tap_index(g, kk, kidx);                                                                          \
                const T *src = (const T *)j->src + (c * g->k_size + kk) * g->grid_size;                          \
                int64_t off = kidx[last] * g->d[last] - g->pb[last], lo, hi;                                     \
                run_range(off, s, w, ow, &lo, &hi);                                                              \
                FOR_EACH_RUN(g, kidx, 0, g->grid[0], {                                                           \
                    if (row_base >= 0) {                                                                         \
                        const T *sp = src + run_idx * ow;                                                        \
                        T *dp = dst + row_base + off;                                                            \
                        for (int64_t x = lo; x < hi; x++) dp[x * s] += sp[x];                                    \
                    }                                                                                            \
                });                                                                                              \
            }                                                                                                    \
        }                                                                                                        \
    }

DEFINE_COL2IM(col2im_f32, float)
DEFINE_COL2IM(col2im_f64, double)

void conv_col2im(const conv_geom *g, size_t es, const void *col, int64_t channels, void *img) {
    if (g->grid_size == 0 || g->img_size == 0) return;
    xform_job j = {g, col, img, channels, 0, g->grid[0], g->grid_size};
    int64_t per = g->k_size * g->grid_size;
    kiln_parallel_for(channels, per >= 4096 ? 1 : 4096 / (per ? per : 1), es == 8 ? col2im_f64 : col2im_f32, &j);
}

void conv_fill_bias(float *y, const float *b, int64_t n, int64_t m, int64_t plane) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < m; c++) {
            float v = b ? b[c] : 0.0f;
            float *p = y + (i * m + c) * plane;
            for (int64_t q = 0; q < plane; q++) p[q] = v;
        }
}
