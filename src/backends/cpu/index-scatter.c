/* CPU kernels: Scatter (deprecated), ScatterElements, ScatterND with reduction none/add/mul/max/min
 * (index family, listed in index.c). Updates apply in index order, so with duplicate indices and reduction none the
 * last update wins (as the reference implementation does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/index-common.h"
#include "backends/cpu/movement-common.h"
#include "core/dtype.h"

enum { RED_NONE = 0, RED_ADD = 1, RED_MUL = 2, RED_MAX = 3, RED_MIN = 4 };

typedef struct scatter_params {
    int64_t axis;
    int reduction;
} scatter_params;

kiln_status kiln_ix_scatter_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    scatter_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->axis = kiln_attr_int(n, "axis", 0);
    const char *red = kiln_attr_string(n, "reduction", "none");
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    p->reduction = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(red, names[i])) p->reduction = i;
    KILN_FAIL_IF(p->reduction < 0 || (p->reduction >= RED_MAX && n->opset < 18), KILN_ERR_UNSUPPORTED,
                 "%s reduction '%s' is not supported at opset %d", n->op_type, red, n->opset);
    return KILN_OK;
}

/* Integer arithmetic goes through the unsigned type: wraps instead of overflowing. */
#define RED_INT(NAME, T, U)                                                                                      \
    static void NAME(int red, T *d, const T *s, int64_t n) {                                                     \
        for (int64_t i = 0; i < n; i++) {                                                                        \
            switch (red) {                                                                                       \
            case RED_ADD: d[i] = (T)((U)d[i] + (U)s[i]); break;                                                  \
            case RED_MUL: d[i] = (T)((U)d[i] * (U)s[i]); break;                                                  \
            case RED_MAX: d[i] = s[i] > d[i] ? s[i] : d[i]; break;                                               \
            default: d[i] = s[i] < d[i] ? s[i] : d[i]; break;                                                    \
            }                                                                                                    \
        }                                                                                                        \
    }
#define RED_FLT(NAME, T)                                                                                         \
    static void NAME(int red, T *d, const T *s, int64_t n) {                                                     \
        for (int64_t i = 0; i < n; i++) {                                                                        \
            switch (red) {                                                                                       \
            case RED_ADD: d[i] += s[i]; break;                                                                   \
            case RED_MUL: d[i] *= s[i]; break;                                                                   \
            case RED_MAX: d[i] = s[i] > d[i] ? s[i] : d[i]; break;                                               \
            default: d[i] = s[i] < d[i] ? s[i] : d[i]; break;                                                    \
            }                                                                                                    \
        }                                                                                                        \
    }
RED_INT(red_i8, int8_t, uint8_t)
RED_INT(red_u8, uint8_t, uint8_t)
RED_INT(red_i16, int16_t, uint16_t)
RED_INT(red_u16, uint16_t, uint16_t)
RED_INT(red_i32, int32_t, uint32_t)
RED_INT(red_u32, uint32_t, uint32_t)
RED_INT(red_i64, int64_t, uint64_t)
RED_INT(red_u64, uint64_t, uint64_t)
RED_FLT(red_f32, float)
RED_FLT(red_f64, double)

static int red_supported(kiln_dtype dt) {
    switch (dt) {
    case KILN_INT8: case KILN_UINT8: case KILN_INT16: case KILN_UINT16: case KILN_INT32: case KILN_UINT32:
    case KILN_INT64: case KILN_UINT64: case KILN_FLOAT: case KILN_DOUBLE: case KILN_FLOAT16: case KILN_BFLOAT16:
    case KILN_BOOL:
        return 1;
    default:
        return 0;
    }
}

/* dst[0..n) = dst (reduction) src; RED_NONE copies (strings deep-copied). */
static kiln_status apply(kiln_dtype dt, int red, void *d, const void *s, int64_t n) {
    if (red == RED_NONE) return kiln_mv_copy(dt, d, s, n);
    switch (dt) {
    case KILN_INT8: red_i8(red, d, s, n); break;
    case KILN_UINT8: red_u8(red, d, s, n); break;
    case KILN_INT16: red_i16(red, d, s, n); break;
    case KILN_UINT16: red_u16(red, d, s, n); break;
    case KILN_INT32: red_i32(red, d, s, n); break;
    case KILN_UINT32: red_u32(red, d, s, n); break;
    case KILN_INT64: red_i64(red, d, s, n); break;
    case KILN_UINT64: red_u64(red, d, s, n); break;
    case KILN_FLOAT: red_f32(red, d, s, n); break;
    case KILN_DOUBLE: red_f64(red, d, s, n); break;
    case KILN_BOOL: { /* add/max: or; mul/min: and */
        uint8_t *db = d;
        const uint8_t *sb = s;
        for (int64_t i = 0; i < n; i++)
            db[i] = (red == RED_ADD || red == RED_MAX) ? (db[i] || sb[i]) : (db[i] && sb[i]);
        break;
    }
    default: /* FLOAT16 / BFLOAT16 through float */
        for (int64_t i = 0; i < n; i++) {
            float a = (float)kiln_load_f64(dt, d, i), b = (float)kiln_load_f64(dt, s, i);
            float v = red == RED_ADD ? a + b : red == RED_MUL ? a * b : red == RED_MAX ? (b > a ? b : a) : (b < a ? b : a);
            kiln_store_f64(dt, d, i, v);
        }
        break;
    }
    return KILN_OK;
}

static kiln_status scatter_common(kiln_kctx *k, const char *op, const kiln_tensor **x, const kiln_tensor **ti,
                                  const kiln_tensor **tu, kiln_tensor **y) {
    const scatter_params *p = k->params;
    KILN_TRY(kiln_kin_req(k, 0, x));
    KILN_TRY(kiln_kin_req(k, 1, ti));
    KILN_TRY(kiln_kin_req(k, 2, tu));
    char what[64];
    snprintf(what, sizeof what, "%s indices", op);
    KILN_TRY(kiln_ix_check_indices(*ti, what));
    KILN_FAIL_IF((*tu)->dtype != (*x)->dtype, KILN_ERR_TYPE, "%s updates are %s but the data is %s", op,
                 kiln_dtype_name((*tu)->dtype), kiln_dtype_name((*x)->dtype));
    KILN_FAIL_IF(p->reduction != RED_NONE && !red_supported((*x)->dtype), KILN_ERR_UNSUPPORTED,
                 "%s reduction does not support dtype %s", op, kiln_dtype_name((*x)->dtype));
    KILN_TRY(kiln_kout(k, 0, (*x)->dtype, (*x)->rank, (*x)->dims, y));
    return kiln_mv_copy((*x)->dtype, (*y)->data, (*x)->data, kiln_tensor_numel(*x));
}

kiln_status kiln_ix_scatter_elements_run(kiln_kctx *k) {
    const scatter_params *p = k->params;
    const char *op = k->node->op_type;
    const kiln_tensor *x, *ti, *tu;
    kiln_tensor *y;
    KILN_TRY(scatter_common(k, op, &x, &ti, &tu, &y));
    int axis, r = x->rank;
    KILN_TRY(kiln_mv_axis(p->axis, r, "Scatter axis", &axis));
    char b1[256], b2[256], b3[256];
    int ok = ti->rank == r && tu->rank == r;
    for (int d = 0; ok && d < r; d++) ok = tu->dims[d] == ti->dims[d] && (d == axis || ti->dims[d] <= x->dims[d]);
    KILN_FAIL_IF(!ok, KILN_ERR_SHAPE, "%s indices %s / updates %s do not fit data %s", op,
                 kiln_mv_shape_str(ti->rank, ti->dims, b1, sizeof b1),
                 kiln_mv_shape_str(tu->rank, tu->dims, b2, sizeof b2), kiln_mv_shape_str(r, x->dims, b3, sizeof b3));
    int64_t n = kiln_tensor_numel(ti), st[KILN_MAX_DIMS], ix[KILN_MAX_DIMS] = {0};
    kiln_mv_strides(r, x->dims, st);
    size_t es = kiln_dtype_size(x->dtype);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = 0, off = 0;
        KILN_TRY(kiln_ix_resolve(op, kiln_ix_index(ti, i), i, axis, x->dims[axis], &v));
        for (int d = 0; d < r; d++) off += (d == axis ? v : ix[d]) * st[d];
        KILN_TRY(apply(x->dtype, p->reduction, (char *)y->data + (size_t)off * es,
                       (const char *)tu->data + (size_t)i * es, 1));
        for (int d = r - 1; d >= 0; d--) {
            if (++ix[d] < ti->dims[d]) break;
            ix[d] = 0;
        }
    }
    return KILN_OK;
}

kiln_status kiln_ix_scatter_nd_run(kiln_kctx *k) {
    const scatter_params *p = k->params;
    const kiln_tensor *x, *ti, *tu;
    kiln_tensor *y;
    KILN_TRY(scatter_common(k, "ScatterND", &x, &ti, &tu, &y));
    kiln_ix_nd L;
    KILN_TRY(kiln_ix_nd_layout("ScatterND", x, ti, 0, &L));
    /* updates must be indices.shape[:-1] + data.shape[k:] */
    char b1[256], b2[256];
    int ur = ti->rank - 1 + x->rank - L.k, ok = tu->rank == ur;
    for (int d = 0; ok && d < ti->rank - 1; d++) ok = tu->dims[d] == ti->dims[d];
    for (int d = 0; ok && d < x->rank - L.k; d++) ok = tu->dims[ti->rank - 1 + d] == x->dims[L.k + d];
    KILN_FAIL_IF(!ok, KILN_ERR_SHAPE, "ScatterND updates %s do not match indices %s and the data",
                 kiln_mv_shape_str(tu->rank, tu->dims, b1, sizeof b1),
                 kiln_mv_shape_str(ti->rank, ti->dims, b2, sizeof b2));
    size_t es = kiln_dtype_size(x->dtype);
    int64_t tuples = L.batches * L.per_batch;
    for (int64_t t = 0; t < tuples && L.inner > 0; t++) {
        int64_t off;
        KILN_TRY(kiln_ix_nd_offset("ScatterND", ti, &L, t, &off));
        KILN_TRY(apply(x->dtype, p->reduction, (char *)y->data + (size_t)off * es,
                       (const char *)tu->data + (size_t)(t * L.inner) * es, L.inner));
    }
    return KILN_OK;
}
