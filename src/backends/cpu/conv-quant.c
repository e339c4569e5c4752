/* ConvInteger and QLinearConv: zero points are subtracted up front (int32 copies of X and W), then the conv is an
 * int32 im2col + integer GEMM per group; QLinearConv requantizes the int32 accumulator (plus int32 bias). */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/conv-internal.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/linalg-common.h"
#include "core/broadcast.h"
#include "core/dtype.h"

static int is_q8(kiln_dtype dt) { return dt == KILN_UINT8 || dt == KILN_INT8; }

typedef struct qconv {
    int64_t n, c, m, group, cg, mg;
    conv_geom g;
    int32_t *x, *w; /* zero-point-shifted copies */
} qconv;

static void qconv_free(qconv *q) {
    free(q->x);
    free(q->w);
}

/* Shapes, then X - x_zp and W - w_zp (scalar or one per output channel) as int32. */
static kiln_status qconv_setup(const conv_attrs *a, const kiln_tensor *x, const kiln_tensor *xzp,
                               const kiln_tensor *w, const kiln_tensor *wzp, qconv *q, const char *op) {
    memset(q, 0, sizeof *q);
    char sx[256], sw[256];
    KILN_FAIL_IF(!is_q8(x->dtype) || !is_q8(w->dtype), KILN_ERR_TYPE, "%s needs int8/uint8 X and W, got %s and %s",
                 op, kiln_dtype_name(x->dtype), kiln_dtype_name(w->dtype));
    KILN_FAIL_IF(x->rank < 3 || w->rank != x->rank, KILN_ERR_SHAPE, "%s: X %s and W %s must both have rank >= 3", op,
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx), kiln_shape_str(w->rank, w->dims, sw, sizeof sw));
    q->n = x->dims[0], q->c = x->dims[1], q->m = w->dims[0], q->group = a->group;
    KILN_FAIL_IF(q->c % q->group || q->m % q->group || w->dims[1] * q->group != q->c, KILN_ERR_SHAPE,
                 "%s: X %s, W %s and group %lld do not fit", op, kiln_shape_str(x->rank, x->dims, sx, sizeof sx),
                 kiln_shape_str(w->rank, w->dims, sw, sizeof sw), (long long)q->group);
    q->cg = q->c / q->group, q->mg = q->m / q->group;
    KILN_TRY(conv_geom_forward(a, x->rank - 2, x->dims + 2, w->dims + 2, &q->g));
    KILN_FAIL_IF(xzp && kiln_tensor_numel(xzp) != 1, KILN_ERR_UNSUPPORTED, "%s: x_zero_point must be a scalar", op);
    int64_t nwz = wzp ? kiln_tensor_numel(wzp) : 1;
    KILN_FAIL_IF(nwz != 1 && nwz != q->m, KILN_ERR_SHAPE, "%s: w_zero_point has %lld values for %lld output channels",
                 op, (long long)nwz, (long long)q->m);
    int64_t nx = kiln_tensor_numel(x), nw = kiln_tensor_numel(w), per = q->m ? nw / q->m : 0;
    q->x = malloc(sizeof(int32_t) * (size_t)(nx + 1));
    q->w = malloc(sizeof(int32_t) * (size_t)(nw + 1));
    if (!q->x || !q->w) {
        qconv_free(q);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    int32_t xz = xzp ? lin_q_load(xzp->dtype, xzp->data, 0) : 0;
    for (int64_t i = 0; i < nx; i++) q->x[i] = lin_q_load(x->dtype, x->data, i) - xz;
    for (int64_t i = 0; i < nw; i++) {
        int32_t wz = wzp ? lin_q_load(wzp->dtype, wzp->data, nwz == 1 ? 0 : i / per) : 0;
        q->w[i] = lin_q_load(w->dtype, w->data, i) - wz;
    }
    return KILN_OK;
}

/* acc [N, M, P] = conv of the shifted int32 copies (wrapping int32 arithmetic). */
static kiln_status qconv_acc(const qconv *q, int32_t *acc) {
    const conv_geom *g = &q->g;
    const int64_t P = g->grid_size, K = q->cg * g->k_size;
    if (q->n == 0 || q->m == 0 || P == 0) return KILN_OK;
    int32_t *col = lin_alloc(sizeof(int32_t) * (size_t)(q->c * g->k_size * P));
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(3 * q->group));
    if (!col || !off) {
        free(col);
        free(off);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory for conv scratch");
    }
    for (int64_t n = 0; n < q->n; n++) {
        conv_im2col(g, 4, q->x + n * q->c * g->img_size, q->c, 0, g->grid[0], col);
        for (int64_t gi = 0; gi < q->group; gi++) {
            off[gi] = gi * q->mg * K;
            off[q->group + gi] = gi * K * P;
            off[2 * q->group + gi] = (n * q->m + gi * q->mg) * P;
        }
        kiln_tgemm_args ga = {q->mg, P, K, q->w, K, 1, col, P, 1, acc, P, 0};
        kiln_i32gemm_batch(&ga, q->group, off, off + q->group, off + 2 * q->group);
    }
    free(col);
    free(off);
    return KILN_OK;
}

static void out_dims(const qconv *q, int rank, int64_t *dims) {
    dims[0] = q->n;
    dims[1] = q->m;
    for (int i = 0; i < rank - 2; i++) dims[2 + i] = q->g.grid[i];
}

kiln_status conv_integer_run(kiln_kctx *k) {
    const conv_attrs *a = k->params;
    const kiln_tensor *x, *w;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &w));
    qconv q;
    KILN_TRY(qconv_setup(a, x, kiln_kin(k, 2), w, kiln_kin(k, 3), &q, "ConvInteger"));
    int64_t dims[KILN_MAX_DIMS];
    out_dims(&q, x->rank, dims);
    kiln_tensor *y;
    kiln_status st = kiln_kout(k, 0, KILN_INT32, x->rank, dims, &y);
    if (st == KILN_OK) st = qconv_acc(&q, y->data);
    qconv_free(&q);
    return st;
}

kiln_status qlinear_conv_run(kiln_kctx *k) {
    const conv_attrs *a = k->params;
    const kiln_tensor *x, *xs, *w, *ws, *ys, *xzp = kiln_kin(k, 2), *wzp = kiln_kin(k, 5), *yzp = kiln_kin(k, 7);
    const kiln_tensor *b = kiln_kin(k, 8);
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &xs));
    KILN_TRY(kiln_kin_req(k, 3, &w));
    KILN_TRY(kiln_kin_req(k, 4, &ws));
    KILN_TRY(kiln_kin_req(k, 6, &ys));
    kiln_dtype ydt = yzp ? yzp->dtype : x->dtype;
    KILN_FAIL_IF(!is_q8(ydt), KILN_ERR_TYPE, "QLinearConv output dtype %s is not int8/uint8", kiln_dtype_name(ydt));
    KILN_FAIL_IF(kiln_tensor_numel(xs) != 1 || kiln_tensor_numel(ys) != 1 || (yzp && kiln_tensor_numel(yzp) != 1),
                 KILN_ERR_SHAPE, "QLinearConv: x_scale, y_scale and y_zero_point must be scalars");
    qconv q;
    KILN_TRY(qconv_setup(a, x, xzp, w, wzp, &q, "QLinearConv"));
    int64_t nws = kiln_tensor_numel(ws);
    kiln_status st = KILN_OK;
    if (nws != 1 && nws != q.m)
        st = kiln_error(KILN_ERR_SHAPE, "QLinearConv: w_scale has %lld values for %lld output channels",
                        (long long)nws, (long long)q.m);
    if (st == KILN_OK && b && (b->dtype != KILN_INT32 || kiln_tensor_numel(b) != q.m))
        st = kiln_error(KILN_ERR_SHAPE, "QLinearConv: bias must be int32 [%lld]", (long long)q.m);
    int64_t dims[KILN_MAX_DIMS];
    out_dims(&q, x->rank, dims);
    int64_t P = q.g.grid_size, total = q.n * q.m * P;
    int32_t *acc = st == KILN_OK ? malloc(sizeof(int32_t) * (size_t)(total + 1)) : NULL;
    if (st == KILN_OK && !acc) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_tensor *y = NULL;
    if (st == KILN_OK) st = kiln_kout(k, 0, ydt, x->rank, dims, &y);
    if (st == KILN_OK) st = qconv_acc(&q, acc);
    if (st == KILN_OK) {
        int32_t zp = yzp ? lin_q_load(yzp->dtype, yzp->data, 0) : 0;
        double xsv = kiln_load_f64(xs->dtype, xs->data, 0), ysv = kiln_load_f64(ys->dtype, ys->data, 0);
        for (int64_t n = 0; n < q.n; n++)
            for (int64_t m = 0; m < q.m; m++) {
                double f = lin_q_factor(xs->dtype, xsv, kiln_load_f64(ws->dtype, ws->data, nws == 1 ? 0 : m), ysv);
                int32_t bias = b ? ((const int32_t *)b->data)[m] : 0;
                int64_t o = (n * q.m + m) * P;
                for (int64_t p = 0; p < P; p++)
                    lin_q_store(ydt, y->data, o + p, (double)(int32_t)((uint32_t)acc[o + p] + (uint32_t)bias) * f,
                                zp);
            }
    }
    free(acc);
    qconv_free(&q);
    return st;
}
