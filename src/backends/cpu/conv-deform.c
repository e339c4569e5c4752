/* DeformConv (N-D: multilinear sampling at offset tap positions, optional mask, into an im2col buffer, then a
 * GEMM per group) and Col2Im (N-D, the inverse of im2col: overlapping blocks are summed). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/conv-internal.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/linalg-common.h"
#include "core/broadcast.h"
#include "core/dtype.h"
#include "core/parallel.h"

typedef struct deform_job {
    const conv_geom *g;
    const double *x;      /* one image [C, img...] */
    const double *offset; /* [og, k..., nsp, grid...] */
    const double *mask;   /* [og, k..., grid...] or NULL */
    int64_t c_per_og;
    double *col; /* [C * k_size, P] */
} deform_job;

/* Value of plane x at real coordinates pos (multilinear; taps outside the plane read 0). */
static double sample(const conv_geom *g, const double *x, const double *pos) {
    int nsp = g->nsp;
    int64_t base[KILN_MAX_DIMS];
    double frac[KILN_MAX_DIMS];
    for (int q = 0; q < nsp; q++) {
        double f = floor(pos[q]);
        if (!(f > -2.0 && f < (double)g->img[q] + 1.0)) return 0.0; /* far outside (or NaN) */
        base[q] = (int64_t)f;
        frac[q] = pos[q] - f;
    }
    double sum = 0.0;
    for (int corner = 0; corner < (1 << nsp); corner++) {
        double wgt = 1.0;
        int64_t off = 0;
        int inside = 1;
        for (int q = 0; q < nsp && inside; q++) {
            int hi = (corner >> (nsp - 1 - q)) & 1;
            int64_t c = base[q] + hi;
            wgt *= hi ? frac[q] : 1.0 - frac[q];
            inside = c >= 0 && c < g->img[q];
            off = off * g->img[q] + c;
        }
        if (inside && wgt != 0.0) sum += wgt * x[off];
    }
    return sum;
}

static void deform_rows(void *ctx, int64_t r0, int64_t r1) {
    const deform_job *j = ctx;
    const conv_geom *g = j->g;
    const int64_t P = g->grid_size;
    for (int64_t row = r0; row < r1; row++) {
        int64_t c = row / g->k_size, kk = row % g->k_size, og = c / j->c_per_og;
        int64_t kidx[KILN_MAX_DIMS], rem = kk;
        for (int q = g->nsp - 1; q >= 0; q--) kidx[q] = rem % g->k[q], rem /= g->k[q];
        const double *xp = j->x + c * g->img_size;
        const double *offp = j->offset + (og * g->k_size + kk) * g->nsp * P;
        const double *mp = j->mask ? j->mask + (og * g->k_size + kk) * P : NULL;
        double *dst = j->col + row * P;
        int64_t o[KILN_MAX_DIMS] = {0};
        for (int64_t p = 0; p < P; p++) {
            double pos[KILN_MAX_DIMS];
            for (int q = 0; q < g->nsp; q++)
                pos[q] = (double)(o[q] * g->s[q] - g->pb[q] + kidx[q] * g->d[q]) + offp[q * P + p];
            double v = sample(g, xp, pos);
            dst[p] = mp ? v * mp[p] : v;
            for (int q = g->nsp - 1; q >= 0; q--) {
                if (++o[q] < g->grid[q]) break;
                o[q] = 0;
            }
        }
    }
}

/* Input as double (all real float dtypes). */
static kiln_status as_double(const kiln_tensor *t, double **out) {
    int64_t n = kiln_tensor_numel(t);
    *out = malloc(sizeof(double) * (size_t)(n + 1));
    KILN_FAIL_IF(!*out, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < n; i++) (*out)[i] = kiln_load_f64(t->dtype, t->data, i);
    return KILN_OK;
}

kiln_status conv_deform_run(kiln_kctx *k) {
    const conv_attrs *a = k->params;
    const kiln_tensor *x, *w, *offset, *b = kiln_kin(k, 3), *mask = kiln_kin(k, 4);
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &w));
    KILN_TRY(kiln_kin_req(k, 2, &offset));
    kiln_dtype dt = x->dtype;
    KILN_FAIL_IF(dt != KILN_FLOAT && dt != KILN_DOUBLE && !lin_is_half(dt), KILN_ERR_TYPE,
                 "DeformConv does not support dtype %s", kiln_dtype_name(dt));
    KILN_FAIL_IF(w->dtype != dt || offset->dtype != dt || (b && b->dtype != dt) || (mask && mask->dtype != dt),
                 KILN_ERR_TYPE, "DeformConv input dtypes differ");
    char sx[256], sw[256], so[256];
    KILN_FAIL_IF(x->rank < 3 || w->rank != x->rank || offset->rank != x->rank, KILN_ERR_SHAPE,
                 "DeformConv: X %s, W %s, offset %s must have the same rank >= 3",
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx), kiln_shape_str(w->rank, w->dims, sw, sizeof sw),
                 kiln_shape_str(offset->rank, offset->dims, so, sizeof so));
    int64_t n = x->dims[0], c = x->dims[1], m = w->dims[0], group = a->group, og = a->offset_group;
    KILN_FAIL_IF(c % group || m % group || w->dims[1] * group != c || c % og, KILN_ERR_SHAPE,
                 "DeformConv: X %s, W %s, group %lld, offset_group %lld do not fit",
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx), kiln_shape_str(w->rank, w->dims, sw, sizeof sw),
                 (long long)group, (long long)og);
    conv_geom g;
    KILN_TRY(conv_geom_forward(a, x->rank - 2, x->dims + 2, w->dims + 2, &g));
    int nsp = g.nsp;
    int ok = offset->dims[0] == n && offset->dims[1] == og * g.k_size * nsp;
    for (int i = 0; i < nsp; i++) ok = ok && offset->dims[2 + i] == g.grid[i];
    KILN_FAIL_IF(!ok, KILN_ERR_SHAPE, "DeformConv: offset %s does not match [N, offset_group*k*%d, output...]",
                 kiln_shape_str(offset->rank, offset->dims, so, sizeof so), nsp);
    if (mask) {
        ok = mask->rank == x->rank && mask->dims[0] == n && mask->dims[1] == og * g.k_size;
        for (int i = 0; ok && i < nsp; i++) ok = mask->dims[2 + i] == g.grid[i];
        KILN_FAIL_IF(!ok, KILN_ERR_SHAPE, "DeformConv: mask %s does not match [N, offset_group*k, output...]",
                     kiln_shape_str(mask->rank, mask->dims, so, sizeof so));
    }
    KILN_FAIL_IF(b && (b->rank != 1 || b->dims[0] != m), KILN_ERR_SHAPE, "DeformConv: bias must be [%lld]",
                 (long long)m);
    int64_t dims[KILN_MAX_DIMS] = {n, m};
    for (int i = 0; i < nsp; i++) dims[2 + i] = g.grid[i];
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, dt, x->rank, dims, &y));
    const int64_t P = g.grid_size, cg = c / group, mg = m / group, K = cg * g.k_size;
    double *dx = NULL, *dw = NULL, *doff = NULL, *dmask = NULL, *col = NULL, *dy = NULL;
    kiln_status st = as_double(x, &dx);
    if (st == KILN_OK) st = as_double(w, &dw);
    if (st == KILN_OK) st = as_double(offset, &doff);
    if (st == KILN_OK && mask) st = as_double(mask, &dmask);
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(3 * group));
    if (st == KILN_OK) {
        col = malloc(sizeof(double) * (size_t)(c * g.k_size * P + 1));
        dy = malloc(sizeof(double) * (size_t)(n * m * P + 1));
        if (!col || !dy || !off) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory for DeformConv scratch");
    }
    for (int64_t i = 0; i < n && st == KILN_OK; i++) {
        deform_job j = {&g, dx + i * c * g.img_size, doff + i * og * g.k_size * nsp * P,
                        dmask ? dmask + i * og * g.k_size * P : NULL, c / og, col};
        kiln_parallel_for(c * g.k_size, 1, deform_rows, &j);
        for (int64_t gi = 0; gi < group; gi++) {
            off[gi] = gi * mg * K;
            off[group + gi] = gi * K * P;
            off[2 * group + gi] = (i * m + gi * mg) * P;
        }
        kiln_tgemm_args ga = {mg, P, K, dw, K, 1, col, P, 1, dy, P, 0};
        kiln_dgemm_batch(&ga, group, off, off + group, off + 2 * group);
    }
    if (st == KILN_OK) {
        for (int64_t i = 0; i < n * m; i++) {
            double bias = b ? kiln_load_f64(b->dtype, b->data, i % m) : 0.0;
            for (int64_t p = 0; p < P; p++) kiln_store_f64(dt, y->data, i * P + p, dy[i * P + p] + bias);
        }
    }
    free(dx), free(dw), free(doff), free(dmask), free(col), free(dy), free(off);
    return st;
}

/* ---- Col2Im ---- */

kiln_status col2im_run(kiln_kctx *k) {
    const conv_attrs *a = k->params;
    const kiln_tensor *x, *ishape, *bshape;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &ishape));
    KILN_TRY(kiln_kin_req(k, 2, &bshape));
    char sx[256];
    KILN_FAIL_IF(ishape->rank != 1 || bshape->rank != 1 || ishape->dims[0] != bshape->dims[0] ||
                     ishape->dims[0] < 1 || ishape->dims[0] > KILN_MAX_DIMS - 2,
                 KILN_ERR_SHAPE, "Col2Im: image_shape and block_shape must be 1-D of the same length (1..%d)",
                 KILN_MAX_DIMS - 2);
    KILN_FAIL_IF(!kiln_dtype_is_int(ishape->dtype) || !kiln_dtype_is_int(bshape->dtype), KILN_ERR_TYPE,
                 "Col2Im: image_shape and block_shape must be integer tensors");
    int nsp = (int)ishape->dims[0];
    int64_t img[KILN_MAX_DIMS], blk[KILN_MAX_DIMS];
    for (int i = 0; i < nsp; i++) {
        img[i] = kiln_load_i64(ishape->dtype, ishape->data, i);
        blk[i] = kiln_load_i64(bshape->dtype, bshape->data, i);
        KILN_FAIL_IF(img[i] < 0 || blk[i] < 1, KILN_ERR_SHAPE, "Col2Im: bad image_shape / block_shape value");
    }
    KILN_FAIL_IF(x->rank != 3, KILN_ERR_SHAPE, "Col2Im: input %s must be [N, C*prod(block_shape), L]",
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx));
    conv_attrs at = *a;
    at.auto_pad = PAD_NOTSET;
    at.n_k = 0;
    conv_geom g;
    KILN_TRY(conv_geom_forward(&at, nsp, img, blk, &g));
    int64_t ck = x->dims[1];
    KILN_FAIL_IF(ck % g.k_size || x->dims[2] != g.grid_size, KILN_ERR_SHAPE,
                 "Col2Im: input %s does not match block_shape (product %lld) and %lld sliding blocks",
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx), (long long)g.k_size, (long long)g.grid_size);
    int64_t n = x->dims[0], c = ck / g.k_size;
    int64_t dims[KILN_MAX_DIMS] = {n, c};
    for (int i = 0; i < nsp; i++) dims[2 + i] = img[i];
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, nsp + 2, dims, &y));
    int64_t ny = kiln_tensor_numel(y);
    if (x->dtype == KILN_FLOAT || x->dtype == KILN_DOUBLE) {
        size_t es = kiln_dtype_size(x->dtype);
        memset(y->data, 0, es * (size_t)ny);
        for (int64_t i = 0; i < n; i++)
            conv_col2im(&g, es, (const char *)x->data + es * (size_t)(i * ck * g.grid_size), c,
                        (char *)y->data + es * (size_t)(i * c * g.img_size));
        return KILN_OK;
    }
    /* Other dtypes: sum in double (exact for integers below 2^53). */
    double *dx = NULL, *dy = calloc((size_t)(ny + 1), sizeof(double));
    kiln_status st = dy ? as_double(x, &dx) : kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < n && st == KILN_OK; i++)
        conv_col2im(&g, 8, dx + i * ck * g.grid_size, c, dy + i * c * g.img_size);
    for (int64_t i = 0; i < ny && st == KILN_OK; i++) kiln_store_f64(x->dtype, y->data, i, dy[i]);
    free(dx);
    free(dy);
    return st;
}
