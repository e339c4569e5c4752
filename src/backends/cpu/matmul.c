/* CPU kernels: matmul family (see registry.h): MatMul, Gemm, MatMulInteger, QLinearMatMul, Einsum.
 * Float work goes through the SGEMM core (gemm.h); float16/bfloat16 compute through float. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/gemm.h"
#include "backends/cpu/linalg-common.h"
#include "backends/cpu/matmul-internal.h"
#include "backends/cpu/registry.h"
#include "core/broadcast.h"
#include "core/dtype.h"

/* ---- numpy matmul shapes ---- */

kiln_status mm_plan_shapes(const kiln_tensor *a, const kiln_tensor *b, mm_plan *p) {
    char sa[256], sb[256];
    memset(p, 0, sizeof *p);
    KILN_FAIL_IF(a->rank < 1 || b->rank < 1, KILN_ERR_SHAPE, "MatMul inputs must have rank >= 1, got %s and %s",
                 kiln_shape_str(a->rank, a->dims, sa, sizeof sa), kiln_shape_str(b->rank, b->dims, sb, sizeof sb));
    int ra = a->rank, rb = b->rank;
    p->m = ra >= 2 ? a->dims[ra - 2] : 1;
    p->k = a->dims[ra - 1];
    int64_t kb = rb >= 2 ? b->dims[rb - 2] : b->dims[0];
    p->n = rb >= 2 ? b->dims[rb - 1] : 1;
    KILN_FAIL_IF(p->k != kb, KILN_ERR_SHAPE, "MatMul inner dimensions differ: A %s, B %s",
                 kiln_shape_str(ra, a->dims, sa, sizeof sa), kiln_shape_str(rb, b->dims, sb, sizeof sb));
    int rab = ra > 2 ? ra - 2 : 0, rbb = rb > 2 ? rb - 2 : 0;
    KILN_TRY(kiln_broadcast_shape(rab, a->dims, rbb, b->dims, &p->rbatch, p->batch_dims));
    p->batch = 1;
    for (int i = 0; i < p->rbatch; i++) p->batch *= p->batch_dims[i];
    p->rank = 0;
    for (int i = 0; i < p->rbatch; i++) p->dims[p->rank++] = p->batch_dims[i];
    if (ra >= 2) p->dims[p->rank++] = p->m;
    if (rb >= 2) p->dims[p->rank++] = p->n;
    p->a_off = malloc(sizeof(int64_t) * (size_t)(p->batch + 1) * 3);
    KILN_FAIL_IF(!p->a_off, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->b_off = p->a_off + p->batch;
    p->c_off = p->b_off + p->batch;
    lin_batch_offsets(rab, a->dims, p->rbatch, p->batch_dims, p->m * p->k, p->a_off);
    lin_batch_offsets(rbb, b->dims, p->rbatch, p->batch_dims, p->k * p->n, p->b_off);
    for (int64_t i = 0; i < p->batch; i++) p->c_off[i] = i * p->m * p->n;
    /* B shared by every item and A's items contiguous: one tall GEMM (x[b,s,h] @ W[h,o], the transformer case). */
    int fold = p->batch > 1;
    for (int64_t i = 0; i < p->batch && fold; i++) fold = p->b_off[i] == 0 && p->a_off[i] == i * p->m * p->k;
    if (fold) {
        p->m *= p->batch;
        p->batch = 1;
    }
    return KILN_OK;
}

void mm_plan_free(mm_plan *p) {
    free(p->a_off);
    p->a_off = NULL;
}

void mm_compute_f32(const mm_plan *p, const float *a, const float *b, const kiln_sgemm_packed *bpack, float *c) {
    kiln_sgemm_args g = {.m = p->m, .n = p->n, .k = p->k, .alpha = 1.0f, .a = a, .a_rs = p->k, .a_cs = 1, .b = b,
                         .b_rs = p->n, .b_cs = 1, .c = c, .c_rs = p->n, .c_cs = 1, .b_packed = bpack};
    kiln_sgemm_batch(&g, p->batch, p->a_off, p->b_off, p->c_off);
}

kiln_status mm_compute(kiln_dtype dt, const mm_plan *p, const void *a, const void *b, void *c) {
    if (dt == KILN_FLOAT) {
        mm_compute_f32(p, a, b, NULL, c);
        return KILN_OK;
    }
    kiln_tgemm_args g = {p->m, p->n, p->k, a, p->k, 1, b, p->n, 1, c, p->n, 0};
    switch (dt) {
    case KILN_DOUBLE: kiln_dgemm_batch(&g, p->batch, p->a_off, p->b_off, p->c_off); return KILN_OK;
    case KILN_INT32:
    case KILN_UINT32: kiln_i32gemm_batch(&g, p->batch, p->a_off, p->b_off, p->c_off); return KILN_OK;
    case KILN_INT64:
    case KILN_UINT64: kiln_i64gemm_batch(&g, p->batch, p->a_off, p->b_off, p->c_off); return KILN_OK;
    default: return kiln_error(KILN_ERR_TYPE, "MatMul does not support dtype %s", kiln_dtype_name(dt));
    }
}

/* A constant 2-D float/half B (a weight matrix) is packed once here; every run then skips packing it. */
typedef struct matmul_params {
    kiln_sgemm_packed *bpack;
} matmul_params;

static kiln_status matmul_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    matmul_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    const kiln_tensor *b = lin_const_input(n, g, 1);
    if (b && b->rank == 2 && (b->dtype == KILN_FLOAT || lin_is_half(b->dtype)) && b->dims[0] > 0 && b->dims[1] > 1) {
        const float *fb;
        float *owned = NULL;
        if (lin_as_float(b, &fb, &owned) == KILN_OK)
            p->bpack = kiln_sgemm_pack(1, b->dims[1], b->dims[0], fb, b->dims[1], 1, 1, 0);
        free(owned);
        kiln_error_clear();
    }
    *params = p;
    return KILN_OK;
}

static void matmul_release(void *params) {
    matmul_params *p = params;
    if (!p) return;
    kiln_sgemm_packed_free(p->bpack);
    free(p);
}

static kiln_status matmul_run(kiln_kctx *k) {
    const matmul_params *mp = k->params;
    const kiln_tensor *a, *b;
    KILN_TRY(kiln_kin_req(k, 0, &a));
    KILN_TRY(kiln_kin_req(k, 1, &b));
    KILN_FAIL_IF(a->dtype != b->dtype, KILN_ERR_TYPE, "MatMul input dtypes differ: %s and %s",
                 kiln_dtype_name(a->dtype), kiln_dtype_name(b->dtype));
    kiln_dtype dt = a->dtype;
    KILN_FAIL_IF(dt != KILN_FLOAT && dt != KILN_DOUBLE && !lin_is_half(dt) && dt != KILN_INT32 && dt != KILN_UINT32 &&
                     dt != KILN_INT64 && dt != KILN_UINT64,
                 KILN_ERR_TYPE, "MatMul does not support dtype %s", kiln_dtype_name(dt));
    mm_plan p;
    KILN_TRY(mm_plan_shapes(a, b, &p));
    kiln_tensor *y;
    kiln_status st = kiln_kout(k, 0, dt, p.rank, p.dims, &y);
    if (st == KILN_OK && lin_is_half(dt)) {
        const float *fa, *fb;
        float *oa = NULL, *ob = NULL, *fy = NULL;
        int64_t ny = kiln_tensor_numel(y);
        st = lin_as_float(a, &fa, &oa);
        if (st == KILN_OK) st = lin_as_float(b, &fb, &ob);
        if (st == KILN_OK && !(fy = lin_alloc(sizeof(float) * (size_t)ny)))
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        if (st == KILN_OK) mm_compute_f32(&p, fa, fb, mp ? mp->bpack : NULL, fy);
        if (st == KILN_OK) lin_store_float(dt, fy, y->data, ny);
        free(oa), free(ob), free(fy);
    } else if (st == KILN_OK && dt == KILN_FLOAT) {
        mm_compute_f32(&p, a->data, b->data, mp ? mp->bpack : NULL, y->data);
    } else if (st == KILN_OK) {
        st = mm_compute(dt, &p, a->data, b->data, y->data);
    }
    mm_plan_free(&p);
    return st;
}

/* ---- Gemm ---- */

typedef struct gemm_params {
    int trans_a, trans_b;
    float alpha, beta;
    kiln_sgemm_packed *bpack; /* constant B packed at prepare (float / half), or NULL */
} gemm_params;

static void gemm_release(void *params) {
    gemm_params *p = params;
    if (!p) return;
    kiln_sgemm_packed_free(p->bpack);
    free(p);
}

static kiln_status gemm_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    gemm_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->trans_a = kiln_attr_int(n, "transA", 0) != 0;
    p->trans_b = kiln_attr_int(n, "transB", 0) != 0;
    p->alpha = kiln_attr_float(n, "alpha", 1.0f);
    p->beta = kiln_attr_float(n, "beta", 1.0f);
    const kiln_tensor *b = lin_const_input(n, g, 1);
    if (b && b->rank == 2 && (b->dtype == KILN_FLOAT || lin_is_half(b->dtype)) && b->dims[0] > 0 && b->dims[1] > 0) {
        int64_t k = p->trans_b ? b->dims[1] : b->dims[0], nn = p->trans_b ? b->dims[0] : b->dims[1];
        const float *fb;
        float *owned = NULL;
        if (nn > 1 && lin_as_float(b, &fb, &owned) == KILN_OK)
            p->bpack = kiln_sgemm_pack(1, nn, k, fb, p->trans_b ? 1 : nn, p->trans_b ? k : 1, 1, 0);
        free(owned);
        kiln_error_clear();
    }
    *params = p;
    return KILN_OK;
}

/* Fills dst (M x N, dtype double) with C broadcast unidirectionally to [M, N]. */
static kiln_status gemm_bias_map(const kiln_tensor *c, int64_t m, int64_t n, int64_t *st_m, int64_t *st_n) {
    char sc[256];
    int64_t full[2] = {m, n};
    KILN_FAIL_IF(c->rank > 2, KILN_ERR_SHAPE, "Gemm input C %s has rank > 2",
                 kiln_shape_str(c->rank, c->dims, sc, sizeof sc));
    for (int i = 0; i < c->rank; i++) {
        int64_t d = c->dims[i], want = full[2 - c->rank + i];
        KILN_FAIL_IF(d != 1 && d != want, KILN_ERR_SHAPE, "Gemm input C %s cannot broadcast to [%lld,%lld]",
                     kiln_shape_str(c->rank, c->dims, sc, sizeof sc), (long long)m, (long long)n);
    }
    int64_t s[2];
    kiln_broadcast_strides(c->rank, c->dims, 2, full, s);
    *st_m = s[0];
    *st_n = s[1];
    return KILN_OK;
}

static kiln_status gemm_run(kiln_kctx *k) {
    const gemm_params *p = k->params;
    const kiln_tensor *a, *b, *c = kiln_kin(k, 2);
    KILN_TRY(kiln_kin_req(k, 0, &a));
    KILN_TRY(kiln_kin_req(k, 1, &b));
    char sa[256], sb[256];
    KILN_FAIL_IF(a->rank != 2 || b->rank != 2, KILN_ERR_SHAPE, "Gemm needs 2-D inputs, got A %s and B %s",
                 kiln_shape_str(a->rank, a->dims, sa, sizeof sa), kiln_shape_str(b->rank, b->dims, sb, sizeof sb));
    KILN_FAIL_IF(a->dtype != b->dtype || (c && c->dtype != a->dtype), KILN_ERR_TYPE, "Gemm input dtypes differ");
    int64_t m = p->trans_a ? a->dims[1] : a->dims[0], ka = p->trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = p->trans_b ? b->dims[1] : b->dims[0], n = p->trans_b ? b->dims[0] : b->dims[1];
    KILN_FAIL_IF(ka != kb, KILN_ERR_SHAPE, "Gemm inner dimensions differ: A %s (transA=%d), B %s (transB=%d)",
                 kiln_shape_str(2, a->dims, sa, sizeof sa), p->trans_a, kiln_shape_str(2, b->dims, sb, sizeof sb),
                 p->trans_b);
    int64_t cs_m = 0, cs_n = 0;
    if (c) KILN_TRY(gemm_bias_map(c, m, n, &cs_m, &cs_n));
    kiln_dtype dt = a->dtype;
    int64_t dims[2] = {m, n};
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, dt, 2, dims, &y));
    int64_t a_rs = p->trans_a ? 1 : ka, a_cs = p->trans_a ? m : 1;
    int64_t b_rs = p->trans_b ? 1 : n, b_cs = p->trans_b ? kb : 1;
    float beta = c ? p->beta : 0.0f;
    if (dt == KILN_FLOAT || lin_is_half(dt)) {
        const float *fa, *fb, *fc = NULL;
        float *oa = NULL, *ob = NULL, *oc = NULL, *fy = dt == KILN_FLOAT ? y->data : NULL;
        kiln_status st = lin_as_float(a, &fa, &oa);
        if (st == KILN_OK) st = lin_as_float(b, &fb, &ob);
        if (st == KILN_OK && c) st = lin_as_float(c, &fc, &oc);
        if (st == KILN_OK && !fy && !(fy = lin_alloc(sizeof(float) * (size_t)(m * n))))
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        if (st == KILN_OK) {
            if (c && beta != 0.0f)
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++) fy[i * n + j] = fc[i * cs_m + j * cs_n];
            kiln_sgemm_args g = {.m = m, .n = n, .k = ka, .alpha = p->alpha, .beta = c ? beta : 0.0f, .a = fa,
                                 .a_rs = a_rs, .a_cs = a_cs, .b = fb, .b_rs = b_rs, .b_cs = b_cs, .c = fy, .c_rs = n,
                                 .c_cs = 1, .b_packed = p->bpack};
            kiln_sgemm(&g);
            if (dt != KILN_FLOAT) lin_store_float(dt, fy, y->data, m * n);
        }
        free(oa), free(ob), free(oc);
        if (fy != y->data) free(fy);
        return st;
    }
    /* double and integer types: product with the typed GEMM, then combine in double. */
    size_t es = kiln_dtype_size(dt);
    KILN_FAIL_IF(dt != KILN_DOUBLE && dt != KILN_INT32 && dt != KILN_UINT32 && dt != KILN_INT64 && dt != KILN_UINT64,
                 KILN_ERR_TYPE, "Gemm does not support dtype %s", kiln_dtype_name(dt));
    void *t = lin_alloc(es * (size_t)(m * n));
    KILN_FAIL_IF(!t, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_tgemm_args g = {m, n, ka, a->data, a_rs, a_cs, b->data, b_rs, b_cs, t, n, 0};
    if (dt == KILN_DOUBLE)
        kiln_dgemm_batch(&g, 1, NULL, NULL, NULL);
    else if (es == 4)
        kiln_i32gemm_batch(&g, 1, NULL, NULL, NULL);
    else
        kiln_i64gemm_batch(&g, 1, NULL, NULL, NULL);
    int exact_int = dt != KILN_DOUBLE && p->alpha == 1.0f && (beta == 0.0f || beta == 1.0f);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            int64_t o = i * n + j;
            if (exact_int) {
                int64_t v = kiln_load_i64(dt, t, o);
                if (beta != 0.0f) v = (int64_t)((uint64_t)v + (uint64_t)kiln_load_i64(dt, c->data, i * cs_m + j * cs_n));
                kiln_store_i64(dt, y->data, o, v);
            } else {
                double v = p->alpha * kiln_load_f64(dt, t, o);
                if (beta != 0.0f) v += beta * kiln_load_f64(dt, c->data, i * cs_m + j * cs_n);
                kiln_store_f64(dt, y->data, o, v);
            }
        }
    free(t);
    return KILN_OK;
}

/* ---- MatMulInteger / QLinearMatMul ---- */

/* x - zero_point as int32 in dst (x's shape). Per spec a 1-D zero point of A has one entry per row (M); any other
 * shape broadcasts numpy-style against x (B's [N] or [..,1,N] per column, A's [..,M,1] per row). */
static kiln_status sub_zero_point(const kiln_tensor *x, const kiln_tensor *zp, int is_a, int32_t *dst,
                                  const char *what) {
    int64_t n = kiln_tensor_numel(x);
    if (!zp || kiln_tensor_numel(zp) == 1) {
        int32_t z = zp ? lin_q_load(zp->dtype, zp->data, 0) : 0;
        for (int64_t i = 0; i < n; i++) dst[i] = lin_q_load(x->dtype, x->data, i) - z;
        return KILN_OK;
    }
    char sx[256], sz[256];
    KILN_FAIL_IF(zp->dtype != x->dtype, KILN_ERR_TYPE, "%s zero point dtype %s differs from its input's %s", what,
                 kiln_dtype_name(zp->dtype), kiln_dtype_name(x->dtype));
    int zr = zp->rank;
    int64_t zd[KILN_MAX_DIMS];
    for (int i = 0; i < zr; i++) zd[i] = zp->dims[i];
    if (is_a && zr == 1 && x->rank >= 2) { /* [M] -> [M, 1] */
        zd[1] = 1;
        zr = 2;
    }
    int rout;
    int64_t out[KILN_MAX_DIMS], strides[KILN_MAX_DIMS];
    kiln_status st = kiln_broadcast_shape(x->rank, x->dims, zr, zd, &rout, out);
    KILN_FAIL_IF(st != KILN_OK || rout != x->rank || kiln_numel(rout, out) != n, KILN_ERR_SHAPE,
                 "%s zero point %s does not fit input %s", what, kiln_shape_str(zp->rank, zp->dims, sz, sizeof sz),
                 kiln_shape_str(x->rank, x->dims, sx, sizeof sx));
    kiln_broadcast_strides(zr, zd, x->rank, x->dims, strides);
    int64_t idx[KILN_MAX_DIMS] = {0}, cur = 0;
    for (int64_t i = 0; i < n; i++) {
        dst[i] = lin_q_load(x->dtype, x->data, i) - lin_q_load(zp->dtype, zp->data, cur);
        for (int d = x->rank - 1; d >= 0; d--) {
            cur += strides[d];
            if (++idx[d] < x->dims[d]) break;
            cur -= strides[d] * x->dims[d];
            idx[d] = 0;
        }
    }
    return KILN_OK;
}

static int is_q8(kiln_dtype dt) { return dt == KILN_UINT8 || dt == KILN_INT8; }

/* Shared by MatMulInteger and QLinearMatMul: int32 product of (a - a_zp) and (b - b_zp) into acc (plan shape). */
static kiln_status int_matmul(const kiln_tensor *a, const kiln_tensor *azp, const kiln_tensor *b,
                              const kiln_tensor *bzp, mm_plan *p, int32_t **acc) {
    *acc = NULL;
    KILN_FAIL_IF(!is_q8(a->dtype) || !is_q8(b->dtype), KILN_ERR_TYPE,
                 "quantized matmul needs int8/uint8 inputs, got %s and %s", kiln_dtype_name(a->dtype),
                 kiln_dtype_name(b->dtype));
    KILN_TRY(mm_plan_shapes(a, b, p));
    int64_t na = kiln_tensor_numel(a), nb = kiln_tensor_numel(b), nc = p->batch * p->m * p->n;
    int32_t *a32 = malloc(sizeof(int32_t) * (size_t)(na + 1)), *b32 = malloc(sizeof(int32_t) * (size_t)(nb + 1));
    int32_t *c = malloc(sizeof(int32_t) * (size_t)(nc + 1));
    kiln_status st = KILN_OK;
    if (!a32 || !b32 || !c) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == KILN_OK) st = sub_zero_point(a, azp, 1, a32, "A");
    if (st == KILN_OK) st = sub_zero_point(b, bzp, 0, b32, "B");
    if (st == KILN_OK) st = mm_compute(KILN_INT32, p, a32, b32, c);
    free(a32);
    free(b32);
    if (st != KILN_OK) {
        free(c);
        mm_plan_free(p);
        return st;
    }
    *acc = c;
    return KILN_OK;
}

static kiln_status matmul_integer_run(kiln_kctx *k) {
    const kiln_tensor *a, *b;
    KILN_TRY(kiln_kin_req(k, 0, &a));
    KILN_TRY(kiln_kin_req(k, 1, &b));
    mm_plan p;
    int32_t *acc;
    KILN_TRY(int_matmul(a, kiln_kin(k, 2), b, kiln_kin(k, 3), &p, &acc));
    kiln_tensor *y;
    kiln_status st = kiln_kout(k, 0, KILN_INT32, p.rank, p.dims, &y);
    if (st == KILN_OK) memcpy(y->data, acc, sizeof(int32_t) * (size_t)kiln_tensor_numel(y));
    free(acc);
    mm_plan_free(&p);
    return st;
}

/* Per-tensor or per-row/per-column quantization parameter: value for row/column i. */
static kiln_status q_param_check(const kiln_tensor *t, int64_t len, const char *what) {
    int64_t n = kiln_tensor_numel(t);
    KILN_FAIL_IF(n != 1 && n != len, KILN_ERR_UNSUPPORTED,
                 "QLinearMatMul %s has %lld elements: only per-tensor or one per %s (%lld) is supported", what,
                 (long long)n, len ? "row/column" : "", (long long)len);
    return KILN_OK;
}

static double q_param(const kiln_tensor *t, int64_t i) {
    return kiln_load_f64(t->dtype, t->data, kiln_tensor_numel(t) == 1 ? 0 : i);
}

static kiln_status qlinear_matmul_run(kiln_kctx *k) {
    const kiln_tensor *a, *as, *b, *bs, *ys, *azp = kiln_kin(k, 2), *bzp = kiln_kin(k, 5), *yzp = kiln_kin(k, 7);
    KILN_TRY(kiln_kin_req(k, 0, &a));
    KILN_TRY(kiln_kin_req(k, 1, &as));
    KILN_TRY(kiln_kin_req(k, 3, &b));
    KILN_TRY(kiln_kin_req(k, 4, &bs));
    KILN_TRY(kiln_kin_req(k, 6, &ys));
    kiln_dtype ydt = yzp ? yzp->dtype : a->dtype;
    KILN_FAIL_IF(!is_q8(ydt), KILN_ERR_TYPE, "QLinearMatMul output dtype %s is not int8/uint8", kiln_dtype_name(ydt));
    KILN_FAIL_IF(kiln_tensor_numel(ys) != 1 || (yzp && kiln_tensor_numel(yzp) != 1), KILN_ERR_UNSUPPORTED,
                 "QLinearMatMul: y_scale / y_zero_point must be scalars");
    mm_plan p;
    int32_t *acc;
    KILN_TRY(int_matmul(a, azp, b, bzp, &p, &acc));
    int64_t m = p.rank >= 2 && a->rank >= 2 ? a->dims[a->rank - 2] : 1, n = p.n;
    kiln_status st = q_param_check(as, m, "a_scale");
    if (st == KILN_OK) st = q_param_check(bs, n, "b_scale");
    kiln_tensor *y = NULL;
    if (st == KILN_OK) st = kiln_kout(k, 0, ydt, p.rank, p.dims, &y);
    if (st == KILN_OK) {
        int32_t zp = yzp ? lin_q_load(yzp->dtype, yzp->data, 0) : 0;
        double ysv = kiln_load_f64(ys->dtype, ys->data, 0);
        int64_t total = kiln_tensor_numel(y);
        for (int64_t o = 0; o < total; o++) {
            int64_t j = o % n, i = (o / n) % m;
            double f = lin_q_factor(as->dtype, q_param(as, i), q_param(bs, j), ysv);
            lin_q_store(ydt, y->data, o, (double)acc[o] * f, zp);
        }
    }
    free(acc);
    mm_plan_free(&p);
    return st;
}

const kiln_op_def kiln_cpu_ops_matmul[] = {
    {"MatMul", "", 1, matmul_prepare, matmul_release, matmul_run},
    {"Gemm", "", 1, gemm_prepare, gemm_release, gemm_run},
    {"MatMulInteger", "", 10, NULL, NULL, matmul_integer_run},
    {"QLinearMatMul", "", 10, NULL, NULL, qlinear_matmul_run},
    {"Einsum", "", 12, einsum_prepare, einsum_release, einsum_run},
    {0},
};
