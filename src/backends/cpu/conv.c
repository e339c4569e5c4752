/* CPU kernels: conv family (see registry.h). Conv and ConvTranspose live here; ConvInteger / QLinearConv in
 * conv-quant.c, DeformConv / Col2Im in conv-deform.c, im2col / col2im and geometry in conv-im2col.c.
 *
 * Conv strategy: 1x1 stride-1 unpadded convs are one batched GEMM straight on the input; depthwise 2-D convs
 * (one input channel per group) run a direct kernel; everything else is an implicit GEMM whose B panels are
 * packed straight from the image (conv-pack.c), batched over images and groups. float16/bfloat16 compute
 * through float; double uses im2col + the double GEMM. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/conv-internal.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/linalg-common.h"
#include "backends/cpu/registry.h"
#include "core/broadcast.h"
#include "core/dtype.h"
#include "core/parallel.h"

/* ---- Conv ---- */

typedef struct conv_shape {
    int64_t n, c, m, group, cg, mg;
    conv_geom g;
} conv_shape;

static kiln_status conv_check(const conv_attrs *a, const kiln_tensor *x, const kiln_tensor *w, const kiln_tensor *b,
                              conv_shape *cs, const char *op) {
    char sx[256], sw[256];
    KILN_FAIL_IF(x->rank < 3 || w->rank != x->rank, KILN_ERR_SHAPE, "%s: X %s and W %s must both have rank >= 3", op,
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx), kiln_shape_str(w->rank, w->dims, sw, sizeof sw));
    cs->n = x->dims[0];
    cs->c = x->dims[1];
    cs->m = w->dims[0];
    cs->group = a->group;
    KILN_FAIL_IF(cs->c % cs->group || cs->m % cs->group || w->dims[1] * cs->group != cs->c, KILN_ERR_SHAPE,
                 "%s: X %s, W %s and group %lld do not fit (W must be [M, C/group, k...])", op,
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx), kiln_shape_str(w->rank, w->dims, sw, sizeof sw),
                 (long long)cs->group);
    cs->cg = cs->c / cs->group;
    cs->mg = cs->m / cs->group;
    KILN_FAIL_IF(b && (b->rank != 1 || b->dims[0] != cs->m), KILN_ERR_SHAPE, "%s: bias must be [%lld]", op,
                 (long long)cs->m);
    KILN_TRY(conv_geom_forward(a, x->rank - 2, x->dims + 2, w->dims + 2, &cs->g));
    return KILN_OK;
}

typedef struct dw_job {
    const conv_shape *cs;
    const float *x, *w, *b;
    float *y;
} dw_job;

/* Depthwise 2-D: output channel m reads input channel m / mg only; loops keep the last dim innermost. Built twice
 * (baseline and AVX2+FMA) and picked at run time like the GEMM kernels. */
#define DEFINE_DW(name, ATTR)                                                                                    \
    ATTR static void name(void *ctx, int64_t t0, int64_t t1) {                                                   \
        const dw_job *j = ctx;                                                                                   \
        const conv_geom *g = &j->cs->g;                                                                          \
        const int64_t oh_n = g->grid[0], ow_n = g->grid[1], ih_n = g->img[0], iw_n = g->img[1];                  \
        const int64_t kh_n = g->k[0], kw_n = g->k[1], sh = g->s[0], sw = g->s[1];                                \
        for (int64_t t = t0; t < t1; t++) {                                                                      \
            int64_t n = t / j->cs->m, m = t % j->cs->m, c = m / j->cs->mg;                                       \
            const float *xp = j->x + (n * j->cs->c + c) * g->img_size, *wp = j->w + m * g->k_size;               \
            float *yp = j->y + t * g->grid_size;                                                                 \
            float bias = j->b ? j->b[m] : 0.0f;                                                                  \
            for (int64_t oh = 0; oh < oh_n; oh++) {                                                              \
                float *restrict yr = yp + oh * ow_n;                                                             \
                for (int64_t x = 0; x < ow_n; x++) yr[x] = bias;                                                 \
                for (int64_t kh = 0; kh < kh_n; kh++) {                                                          \
                    int64_t ih = oh * sh - g->pb[0] + kh * g->d[0];                                              \
                    if (ih < 0 || ih >= ih_n) continue;                                                          \
                    const float *restrict xr = xp + ih * iw_n;                                                   \
                    for (int64_t kw = 0; kw < kw_n; kw++) {                                                      \
                        const float wv = wp[kh * kw_n + kw];                                                     \
                        int64_t off = kw * g->d[1] - g->pb[1];                                                   \
                        int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;                                        \
                        int64_t hi = iw_n - 1 - off < 0 ? 0 : (iw_n - 1 - off) / sw + 1;                         \
                        if (hi > ow_n) hi = ow_n;                                                                \
                        if (sw == 1)                                                                             \
                            for (int64_t x = lo; x < hi; x++) yr[x] += wv * xr[x + off];                         \
                        else                                                                                     \
                            for (int64_t x = lo; x < hi; x++) yr[x] += wv * xr[x * sw + off];                    \
                    }                                                                                            \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
    }

DEFINE_DW(dw_plain, )
#if defined(__x86_64__) && defined(__GNUC__)
DEFINE_DW(dw_avx2, __attribute__((target("avx2,fma"))))
#endif

static kiln_range_fn dw_fn(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (kiln_sgemm_level() >= 1) return dw_avx2;
#endif
    return dw_plain;
}

/* y = conv(x, w) + b in float; shapes already checked. */
static kiln_status conv_f32(const conv_shape *cs, const float *x, const float *w, const float *b, float *y) {
    const conv_geom *g = &cs->g;
    const int64_t P = g->grid_size, K = cs->cg * g->k_size;
    if (cs->n == 0 || cs->m == 0 || P == 0) return KILN_OK;
    if (cs->cg == 1 && g->nsp == 2) {
        dw_job j = {cs, x, w, b, y};
        int64_t work = P * g->k_size;
        kiln_parallel_for(cs->n * cs->m, work >= 16384 ? 1 : 16384 / (work ? work : 1), dw_fn(), &j);
        return KILN_OK;
    }
    int pointwise = 1;
    for (int i = 0; i < g->nsp; i++)
        pointwise &= g->k[i] == 1 && g->s[i] == 1 && g->pb[i] == 0 && g->pe[i] == 0;
    if (b) conv_fill_bias(y, b, cs->n, cs->m, P);
    const float beta = b ? 1.0f : 0.0f;
    if (pointwise) {
        /* Y[n, g] = W_g [mg, cg] x X[n, g] [cg, P]: every (image, group) in one batched call. */
        int64_t items = cs->n * cs->group;
        int64_t *off = malloc(sizeof(int64_t) * (size_t)(3 * items));
        KILN_FAIL_IF(!off, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (int64_t i = 0; i < items; i++) {
            int64_t n = i / cs->group, gi = i % cs->group;
            off[i] = gi * cs->mg * K;
            off[items + i] = (n * cs->c + gi * cs->cg) * P;
            off[2 * items + i] = (n * cs->m + gi * cs->mg) * P;
        }
        kiln_sgemm_args ga = {cs->mg, P, K, 1.0f, beta, w, K, 1, x, P, 1, y, P, 1, NULL, NULL};
        kiln_sgemm_batch(&ga, items, off, off + items, off + 2 * items);
        free(off);
        return KILN_OK;
    }
    /* Implicit GEMM: Y[n, g] = W_g [mg, cg*k] x patches [cg*k, P], B panels packed from the image directly;
     * every (image, group) is an item of one batched call. */
    int64_t items = cs->n * cs->group;
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(2 * items));
    KILN_FAIL_IF(!off, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < items; i++) {
        int64_t n = i / cs->group, gi = i % cs->group;
        off[i] = gi * cs->mg * K;
        off[items + i] = (n * cs->m + gi * cs->mg) * P;
    }
    conv_pack_ctx pc = {g, x, cs->c, cs->cg, cs->group};
    kiln_sgemm_args ga = {cs->mg, P, K, 1.0f, beta, w, K, 1, NULL, 0, 0, y, P, 1, conv_pack_fn(), &pc};
    kiln_sgemm_batch(&ga, items, off, NULL, off + items);
    free(off);
    return KILN_OK;
}

static kiln_status conv_f64(const conv_shape *cs, const double *x, const double *w, const double *b, double *y) {
    const conv_geom *g = &cs->g;
    const int64_t P = g->grid_size, K = cs->cg * g->k_size;
    if (cs->n == 0 || cs->m == 0 || P == 0) return KILN_OK;
    double *col = lin_alloc(sizeof(double) * (size_t)(cs->c * g->k_size * P));
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(3 * cs->group));
    if (!col || !off) {
        free(col);
        free(off);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory for conv scratch");
    }
    for (int64_t n = 0; n < cs->n; n++) {
        conv_im2col(g, 8, x + n * cs->c * g->img_size, cs->c, 0, g->grid[0], col);
        for (int64_t gi = 0; gi < cs->group; gi++) {
            off[gi] = gi * cs->mg * K;
            off[cs->group + gi] = gi * K * P;
            off[2 * cs->group + gi] = (n * cs->m + gi * cs->mg) * P;
        }
        kiln_tgemm_args ga = {cs->mg, P, K, w, K, 1, col, P, 1, y, P, 0};
        kiln_dgemm_batch(&ga, cs->group, off, off + cs->group, off + 2 * cs->group);
        for (int64_t m = 0; b && m < cs->m; m++)
            for (int64_t p = 0; p < P; p++) y[(n * cs->m + m) * P + p] += b[m];
    }
    free(col);
    free(off);
    return KILN_OK;
}

static kiln_status conv_run(kiln_kctx *k) {
    const conv_attrs *a = k->params;
    const kiln_tensor *x, *w, *b = kiln_kin(k, 2);
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &w));
    kiln_dtype dt = x->dtype;
    KILN_FAIL_IF(w->dtype != dt || (b && b->dtype != dt), KILN_ERR_TYPE, "Conv input dtypes differ");
    KILN_FAIL_IF(dt != KILN_FLOAT && dt != KILN_DOUBLE && !lin_is_half(dt), KILN_ERR_TYPE,
                 "Conv does not support dtype %s", kiln_dtype_name(dt));
    conv_shape cs;
    KILN_TRY(conv_check(a, x, w, b, &cs, "Conv"));
    int64_t dims[KILN_MAX_DIMS] = {cs.n, cs.m};
    for (int i = 0; i < cs.g.nsp; i++) dims[2 + i] = cs.g.grid[i];
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, dt, x->rank, dims, &y));
    if (dt == KILN_DOUBLE) return conv_f64(&cs, x->data, w->data, b ? b->data : NULL, y->data);
    if (dt == KILN_FLOAT) return conv_f32(&cs, x->data, w->data, b ? b->data : NULL, y->data);
    const float *fx, *fw, *fb = NULL;
    float *ox = NULL, *ow = NULL, *ob = NULL, *fy = NULL;
    int64_t ny = kiln_tensor_numel(y);
    kiln_status st = lin_as_float(x, &fx, &ox);
    if (st == KILN_OK) st = lin_as_float(w, &fw, &ow);
    if (st == KILN_OK && b) st = lin_as_float(b, &fb, &ob);
    if (st == KILN_OK && !(fy = lin_alloc(sizeof(float) * (size_t)ny)))
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == KILN_OK) st = conv_f32(&cs, fx, fw, fb, fy);
    if (st == KILN_OK) lin_store_float(dt, fy, y->data, ny);
    free(ox), free(ow), free(ob), free(fy);
    return st;
}

/* ---- ConvTranspose ---- */

static kiln_status convt_geom(const conv_attrs *a, int nsp, const int64_t *x_sp, const int64_t *w_sp, conv_geom *g) {
    memset(g, 0, sizeof *g);
    KILN_FAIL_IF(a->n_k && a->n_k != nsp, KILN_ERR_INVALID_GRAPH, "kernel_shape has %d values for %d spatial dims",
                 a->n_k, nsp);
    KILN_FAIL_IF(a->n_s && a->n_s != nsp, KILN_ERR_INVALID_GRAPH, "strides has %d values for %d spatial dims", a->n_s,
                 nsp);
    KILN_FAIL_IF(a->n_d && a->n_d != nsp, KILN_ERR_INVALID_GRAPH, "dilations has %d values for %d spatial dims",
                 a->n_d, nsp);
    KILN_FAIL_IF(a->n_p && a->n_p != 2 * nsp, KILN_ERR_INVALID_GRAPH, "pads has %d values for %d spatial dims",
                 a->n_p, nsp);
    KILN_FAIL_IF(a->n_op && a->n_op != nsp, KILN_ERR_INVALID_GRAPH,
                 "output_padding has %d values for %d spatial dims", a->n_op, nsp);
    KILN_FAIL_IF(a->n_os && a->n_os != nsp && a->n_os != nsp + 2, KILN_ERR_INVALID_GRAPH,
                 "output_shape has %d values for %d spatial dims", a->n_os, nsp);
    g->nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        int64_t in = x_sp[i], k = a->n_k ? a->k[i] : w_sp[i];
        KILN_FAIL_IF(w_sp[i] != k, KILN_ERR_SHAPE, "kernel_shape[%d] = %lld but W has %lld there", i, (long long)k,
                     (long long)w_sp[i]);
        int64_t s = a->n_s ? a->s[i] : 1, d = a->n_d ? a->d[i] : 1, op = a->n_op ? a->output_padding[i] : 0;
        int64_t full = s * (in - 1) + op + (k - 1) * d + 1, out, pb, pe;
        if (a->auto_pad != PAD_SAME_UPPER && a->auto_pad != PAD_SAME_LOWER) {
            /* Explicit pads (or none). A given output_shape then crops / extends the image at the end, as the
             * reference evaluator does. */
            pb = a->auto_pad == PAD_NOTSET && a->n_p ? a->pads[i] : 0;
            pe = a->auto_pad == PAD_NOTSET && a->n_p ? a->pads[nsp + i] : 0;
            out = a->n_os ? a->output_shape[a->n_os - nsp + i] : full - pb - pe;
        } else {
            out = a->n_os ? a->output_shape[a->n_os - nsp + i] : in * s;
            int64_t total = full - out;
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2); /* floor division */
            pb = a->auto_pad == PAD_SAME_UPPER ? half : total - half;
            pe = total - pb;
        }
        KILN_FAIL_IF(out < 0, KILN_ERR_SHAPE, "ConvTranspose output dim %d would be %lld", i, (long long)out);
        g->img[i] = out;
        g->grid[i] = in;
        g->k[i] = k;
        g->s[i] = s;
        g->d[i] = d;
        g->pb[i] = pb;
        g->pe[i] = pe;
    }
    conv_geom_finish(g);
    return KILN_OK;
}

static kiln_status convt_run(kiln_kctx *k) {
    const conv_attrs *a = k->params;
    const kiln_tensor *x, *w, *b = kiln_kin(k, 2);
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &w));
    kiln_dtype dt = x->dtype;
    char sx[256], sw[256];
    KILN_FAIL_IF(w->dtype != dt || (b && b->dtype != dt), KILN_ERR_TYPE, "ConvTranspose input dtypes differ");
    KILN_FAIL_IF(dt != KILN_FLOAT && dt != KILN_DOUBLE && !lin_is_half(dt), KILN_ERR_TYPE,
                 "ConvTranspose does not support dtype %s", kiln_dtype_name(dt));
    KILN_FAIL_IF(x->rank < 3 || w->rank != x->rank, KILN_ERR_SHAPE, "ConvTranspose: X %s and W %s must have rank >= 3",
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx), kiln_shape_str(w->rank, w->dims, sw, sizeof sw));
    int64_t n = x->dims[0], c = x->dims[1], group = a->group, mg = w->dims[1], m = mg * group;
    KILN_FAIL_IF(w->dims[0] != c || c % group, KILN_ERR_SHAPE,
                 "ConvTranspose: X %s, W %s and group %lld do not fit (W must be [C, M/group, k...])",
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx), kiln_shape_str(w->rank, w->dims, sw, sizeof sw),
                 (long long)group);
    KILN_FAIL_IF(b && (b->rank != 1 || b->dims[0] != m), KILN_ERR_SHAPE, "ConvTranspose: bias must be [%lld]",
                 (long long)m);
    conv_geom g;
    KILN_TRY(convt_geom(a, x->rank - 2, x->dims + 2, w->dims + 2, &g));
    int64_t dims[KILN_MAX_DIMS] = {n, m};
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.img[i];
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, dt, x->rank, dims, &y));
    const int64_t cg = c / group, rows = mg * g.k_size, pin = g.grid_size, pout = g.img_size;
    size_t es = dt == KILN_DOUBLE ? 8 : 4;
    const void *fx = x->data, *fw = w->data, *fb = b ? b->data : NULL;
    float *ox = NULL, *ow = NULL, *ob = NULL;
    void *fy = y->data;
    kiln_status st = KILN_OK;
    if (lin_is_half(dt)) {
        const float *px = NULL, *pw = NULL, *pb = NULL;
        st = lin_as_float(x, &px, &ox);
        if (st == KILN_OK) st = lin_as_float(w, &pw, &ow);
        if (st == KILN_OK && b) st = lin_as_float(b, &pb, &ob);
        fx = px, fw = pw, fb = pb;
        if (st == KILN_OK && !(fy = lin_alloc(sizeof(float) * (size_t)(n * m * pout))))
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    void *col = st == KILN_OK ? lin_alloc(es * (size_t)(group * rows * pin)) : NULL;
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(3 * group));
    if (st == KILN_OK && (!col || !off)) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory for scratch");
    for (int64_t i = 0; i < n && st == KILN_OK; i++) {
        /* col_g [mg*k, Pin] = W_g^T x X[i, g]; W_g is [cg, mg*k] row-major. */
        for (int64_t gi = 0; gi < group; gi++) {
            off[gi] = gi * cg * rows;
            off[group + gi] = (i * c + gi * cg) * pin;
            off[2 * group + gi] = gi * rows * pin;
        }
        if (es == 4) {
            kiln_sgemm_args ga = {rows, pin, cg, 1.0f, 0.0f, fw, 1, rows, fx, pin, 1, col, pin, 1, NULL, NULL};
            kiln_sgemm_batch(&ga, group, off, off + group, off + 2 * group);
            float *yi = (float *)fy + i * m * pout;
            conv_fill_bias(yi, fb, 1, m, pout);
        } else {
            kiln_tgemm_args ga = {rows, pin, cg, fw, 1, rows, fx, pin, 1, col, pin, 0};
            kiln_dgemm_batch(&ga, group, off, off + group, off + 2 * group);
            double *yi = (double *)fy + i * m * pout;
            for (int64_t q = 0; q < m; q++)
                for (int64_t p = 0; p < pout; p++) yi[q * pout + p] = fb ? ((const double *)fb)[q] : 0.0;
        }
        conv_col2im(&g, es, col, m, (char *)fy + es * (size_t)(i * m * pout));
    }
    if (st == KILN_OK && lin_is_half(dt)) lin_store_float(dt, fy, y->data, n * m * pout);
    free(col);
    free(off);
    free(ox), free(ow), free(ob);
    if (fy != y->data) free(fy);
    return st;
}

const kiln_op_def kiln_cpu_ops_conv[] = {
    {"Conv", "", 1, conv_attrs_prepare, free, conv_run},
    {"ConvTranspose", "", 1, conv_attrs_prepare, free, convt_run},
    {"ConvInteger", "", 10, conv_attrs_prepare, free, conv_integer_run},
    {"QLinearConv", "", 10, conv_attrs_prepare, free, qlinear_conv_run},
    {"DeformConv", "", 19, conv_attrs_prepare, free, conv_deform_run},
    {"Col2Im", "", 18, conv_attrs_prepare, free, col2im_run},
    {0},
};
