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

/* Conv params: the attributes plus, for a constant weight, W packed once as SGEMM A panels per group. */
typedef struct conv_params {
    conv_attrs a; /* first: conv_attrs helpers read params as conv_attrs */
    kiln_sgemm_packed *wpack;
} conv_params;

static kiln_status conv_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    conv_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = conv_attrs_parse(n, &p->a);
    if (st != KILN_OK) {
        free(p);
        return st;
    }
    const kiln_tensor *w = lin_const_input(n, g, 1);
    int64_t group = p->a.group;
    /* Depthwise 2-D convs run a direct kernel and never read packed weights. */
    if (w && w->rank >= 3 && (w->dtype == KILN_FLOAT || lin_is_half(w->dtype)) && w->dims[0] % group == 0 &&
        !(w->rank == 4 && w->dims[1] == 1) && w->dims[0] > 0) {
        int64_t m = w->dims[0], mg = m / group, kk = kiln_tensor_numel(w) / m;
        const float *fw;
        float *owned = NULL;
        if (kk > 0 && lin_as_float(w, &fw, &owned) == KILN_OK)
            p->wpack = kiln_sgemm_pack(0, mg, kk, fw, kk, 1, group, mg * kk);
        free(owned);
        kiln_error_clear();
    }
    *params = p;
    return KILN_OK;
}

static void conv_release(void *params) {
    conv_params *p = params;
    if (!p) return;
    kiln_sgemm_packed_free(p->wpack);
    free(p);
}

/* y = conv(x, w) + b in float; shapes already checked. wpack: prepacked W or NULL. */
static kiln_status conv_f32(const conv_shape *cs, const float *x, const float *w, const kiln_sgemm_packed *wpack,
                            const float *b, float *y) {
    const conv_geom *g = &cs->g;
    const int64_t P = g->grid_size, K = cs->cg * g->k_size;
    if (cs->n == 0 || cs->m == 0 || P == 0) return KILN_OK;
    if (cs->cg == 1 && g->nsp == 2) {
        conv_dw_args da = {g, x, w, b, y, cs->n, cs->c, cs->m, cs->mg};
        return conv_depthwise2d(&da);
    }
    int pointwise = 1;
    for (int i = 0; i < g->nsp; i++)
        pointwise &= g->k[i] == 1 && g->s[i] == 1 && g->pb[i] == 0 && g->pe[i] == 0;
    /* The bias rides in the GEMM epilogue (per output channel = per row of C). */
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
        kiln_sgemm_args ga = {.m = cs->mg, .n = P, .k = K, .alpha = 1.0f, .a = w, .a_rs = K, .a_cs = 1,
                              .b = x, .b_rs = P, .b_cs = 1, .c = y, .c_rs = P, .c_cs = 1, .a_packed = wpack,
                              .row_bias = b, .bias_mod = cs->group, .bias_stride = cs->mg};
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
    kiln_sgemm_args ga = {.m = cs->mg, .n = P, .k = K, .alpha = 1.0f, .a = w, .a_rs = K, .a_cs = 1,
                          .c = y, .c_rs = P, .c_cs = 1, .pack_b = conv_pack_fn(), .pack_ctx = &pc, .a_packed = wpack,
                          .row_bias = b, .bias_mod = cs->group, .bias_stride = cs->mg};
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
    const kiln_sgemm_packed *wpack = ((const conv_params *)k->params)->wpack;
    if (dt == KILN_FLOAT) return conv_f32(&cs, x->data, w->data, wpack, b ? b->data : NULL, y->data);
    const float *fx, *fw, *fb = NULL;
    float *ox = NULL, *ow = NULL, *ob = NULL, *fy = NULL;
    int64_t ny = kiln_tensor_numel(y);
    kiln_status st = lin_as_float(x, &fx, &ox);
    if (st == KILN_OK) st = lin_as_float(w, &fw, &ow);
    if (st == KILN_OK && b) st = lin_as_float(b, &fb, &ob);
    if (st == KILN_OK && !(fy = lin_alloc(sizeof(float) * (size_t)ny)))
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == KILN_OK) st = conv_f32(&cs, fx, fw, wpack, fb, fy);
    if (st == KILN_OK) lin_store_float(dt, fy, y->data, ny);
    free(ox), free(ow), free(ob), free(fy);
    return st;
}

/* ---- ConvTranspose ---- */

kiln_status conv_geom_transpose(const conv_attrs *a, int nsp, const int64_t *x_sp, const int64_t *w_sp, conv_geom *g) {
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
        KILN_TRY(conv_check_dim(i, in, k, s, d, op, a->n_os ? a->output_shape[a->n_os - nsp + i] : 0));
        KILN_TRY(conv_check_dim(i, in, k, s, d, a->n_p ? a->pads[i] : 0, a->n_p ? a->pads[nsp + i] : 0));
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
    return conv_geom_finish(g);
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
    KILN_TRY(conv_geom_transpose(a, x->rank - 2, x->dims + 2, w->dims + 2, &g));
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
            kiln_sgemm_args ga = {.m = rows, .n = pin, .k = cg, .alpha = 1.0f, .a = fw, .a_rs = 1, .a_cs = rows,
                                  .b = fx, .b_rs = pin, .b_cs = 1, .c = col, .c_rs = pin, .c_cs = 1};
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
    {"Conv", "", 1, conv_prepare, conv_release, conv_run},
    {"ConvTranspose", "", 1, conv_attrs_prepare, free, convt_run},
    {"ConvInteger", "", 10, conv_attrs_prepare, free, conv_integer_run},
    {"QLinearConv", "", 10, conv_attrs_prepare, free, qlinear_conv_run},
    {"DeformConv", "", 19, conv_attrs_prepare, free, conv_deform_run},
    {"Col2Im", "", 18, conv_attrs_prepare, free, col2im_run},
    {0},
};
