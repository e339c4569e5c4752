/* CPU kernels: shape family (see registry.h). Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Identity,
 * Constant, ConstantOfShape, Range, EyeLike, Expand, Dropout.
 *
 * The pure re-shaping ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity, inference Dropout) never copy: their
 * output is a view of the input's storage (kiln_kout_alias). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/cpu/movement-common.h"
#include "backends/cpu/registry.h"
#include "core/broadcast.h"
#include "core/dtype.h"

/* ---------------------------------------------------------------- Shape / Size --------------------------------- */

typedef struct shape_params {
    int64_t start, end;
    int has_end;
} shape_params;

static kiln_status shape_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    shape_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->start = kiln_attr_int(n, "start", 0);
    p->has_end = kiln_node_attr(n, "end") != NULL;
    p->end = kiln_attr_int(n, "end", 0);
    return KILN_OK;
}

static int64_t clamp_dim_index(int64_t v, int rank) {
    if (v < 0) v += rank;
    return v < 0 ? 0 : v > rank ? rank : v;
}

static kiln_status shape_run(kiln_kctx *k) {
    const shape_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int64_t s = clamp_dim_index(p->start, x->rank);
    int64_t e = p->has_end ? clamp_dim_index(p->end, x->rank) : x->rank;
    int64_t n = e > s ? e - s : 0;
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, KILN_INT64, 1, &n, &y));
    for (int64_t i = 0; i < n; i++) ((int64_t *)y->data)[i] = x->dims[s + i];
    return KILN_OK;
}

static kiln_status size_run(kiln_kctx *k) {
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, KILN_INT64, 0, NULL, &y));
    *(int64_t *)y->data = kiln_tensor_numel(x);
    return KILN_OK;
}

/* ---------------------------------------------------------------- Reshape --------------------------------------- */

typedef struct reshape_params {
    int allowzero;
    int from_attr; /* opset 1: the shape is an attribute */
    int n;
    int64_t shape[KILN_MAX_DIMS];
} reshape_params;

static kiln_status reshape_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    reshape_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->allowzero = (int)kiln_attr_int(n, "allowzero", 0);
    if (n->opset < 5) {
        p->from_attr = 1;
        KILN_TRY(kiln_mv_attr_ints(n, "shape", p->shape, KILN_MAX_DIMS, &p->n));
    }
    return KILN_OK;
}

static kiln_status reshape_dims(const kiln_tensor *x, const int64_t *shape, int n, int allowzero, int64_t *out) {
    char b1[256], b2[256];
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        int64_t d = shape[i];
        if (d == 0 && !allowzero) {
            KILN_FAIL_IF(i >= x->rank, KILN_ERR_SHAPE,
                         "shape %s copies dim %d (0) from input %s, which has no such dim",
                         kiln_mv_shape_str(n, shape, b1, sizeof b1), i, kiln_mv_shape_str(x->rank, x->dims, b2, sizeof b2));
            d = x->dims[i];
        } else if (d == -1) {
            KILN_FAIL_IF(infer >= 0, KILN_ERR_SHAPE, "shape %s has more than one -1",
                         kiln_mv_shape_str(n, shape, b1, sizeof b1));
            infer = i;
            continue;
        } else {
            KILN_FAIL_IF(d < 0, KILN_ERR_SHAPE, "shape %s has the invalid dim %lld",
                         kiln_mv_shape_str(n, shape, b1, sizeof b1), (long long)d);
        }
        out[i] = d;
        KILN_FAIL_IF(d != 0 && known > INT64_MAX / d, KILN_ERR_SHAPE, "shape %s overflows",
                     kiln_mv_shape_str(n, shape, b1, sizeof b1));
        known *= d;
    }
    int64_t total = kiln_tensor_numel(x);
    if (infer >= 0) {
        KILN_FAIL_IF(known == 0 || total % known != 0, KILN_ERR_SHAPE, "cannot reshape %s to %s: -1 cannot be inferred",
                     kiln_mv_shape_str(x->rank, x->dims, b2, sizeof b2), kiln_mv_shape_str(n, shape, b1, sizeof b1));
        out[infer] = total / known;
        known = total;
    }
    KILN_FAIL_IF(known != total, KILN_ERR_SHAPE, "cannot reshape %s (%lld elements) to %s (%lld elements)",
                 kiln_mv_shape_str(x->rank, x->dims, b2, sizeof b2), (long long)total,
                 kiln_mv_shape_str(n, out, b1, sizeof b1), (long long)known);
    return KILN_OK;
}

static kiln_status reshape_run(kiln_kctx *k) {
    const reshape_params *p = k->params;
    const kiln_tensor *x, *s;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int64_t shape[KILN_MAX_DIMS], dims[KILN_MAX_DIMS];
    int n = p->n;
    if (p->from_attr) {
        memcpy(shape, p->shape, sizeof shape);
    } else {
        KILN_TRY(kiln_kin_req(k, 1, &s));
        KILN_TRY(kiln_mv_read_ints(s, "Reshape 'shape' input", shape, KILN_MAX_DIMS, &n));
    }
    KILN_TRY(reshape_dims(x, shape, n, p->allowzero, dims));
    return kiln_kout_alias(k, 0, x, n, dims);
}

/* ---------------------------------------------------------------- Flatten --------------------------------------- */

typedef struct axis_params {
    int64_t axis;
} axis_params;

static kiln_status flatten_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    axis_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->axis = kiln_attr_int(n, "axis", 1);
    return KILN_OK;
}

static kiln_status flatten_run(kiln_kctx *k) {
    const axis_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int64_t axis = p->axis;
    KILN_FAIL_IF(axis < -x->rank || axis > x->rank, KILN_ERR_INVALID_ARGUMENT,
                 "Flatten axis %lld is out of range for rank %d (valid: [%d, %d])", (long long)axis, x->rank, -x->rank,
                 x->rank);
    if (axis < 0) axis += x->rank;
    int64_t dims[2] = {kiln_numel((int)axis, x->dims), kiln_numel(x->rank - (int)axis, x->dims + axis)};
    return kiln_kout_alias(k, 0, x, 2, dims);
}

/* ---------------------------------------------------------------- Squeeze / Unsqueeze --------------------------- */

typedef struct axes_params {
    int from_attr; /* before opset 13 the axes are an attribute */
    int n;         /* -1: no axes attribute */
    int64_t axes[2 * KILN_MAX_DIMS];
} axes_params;

static kiln_status axes_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    axes_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    if (n->opset < 13) {
        p->from_attr = 1;
        KILN_TRY(kiln_mv_attr_ints(n, "axes", p->axes, 2 * KILN_MAX_DIMS, &p->n));
        if (!kiln_node_attr(n, "axes")) p->n = -1;
    }
    return KILN_OK;
}

/* Axes from the attribute or the optional second input; *n = -1 when none are given. */
static kiln_status get_axes(const kiln_kctx *k, int64_t *axes, int *n) {
    const axes_params *p = k->params;
    if (p->from_attr) {
        *n = p->n;
        memcpy(axes, p->axes, sizeof p->axes);
        return KILN_OK;
    }
    const kiln_tensor *a = kiln_kin(k, 1);
    *n = -1;
    if (a) KILN_TRY(kiln_mv_read_ints(a, "'axes' input", axes, 2 * KILN_MAX_DIMS, n));
    return KILN_OK;
}

static kiln_status squeeze_run(kiln_kctx *k) {
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int64_t axes[2 * KILN_MAX_DIMS], dims[KILN_MAX_DIMS];
    int n, drop[KILN_MAX_DIMS] = {0};
    KILN_TRY(get_axes(k, axes, &n));
    char b[256];
    if (n < 0) {
        for (int d = 0; d < x->rank; d++) drop[d] = x->dims[d] == 1;
    }
    for (int i = 0; i < n; i++) {
        int a;
        KILN_TRY(kiln_mv_axis(axes[i], x->rank, "Squeeze axis", &a));
        KILN_FAIL_IF(x->dims[a] != 1, KILN_ERR_SHAPE, "cannot squeeze axis %d of shape %s: its size is not 1", a,
                     kiln_mv_shape_str(x->rank, x->dims, b, sizeof b));
        drop[a] = 1;
    }
    int r = 0;
    for (int d = 0; d < x->rank; d++)
        if (!drop[d]) dims[r++] = x->dims[d];
    return kiln_kout_alias(k, 0, x, r, dims);
}

static kiln_status unsqueeze_run(kiln_kctx *k) {
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int64_t axes[2 * KILN_MAX_DIMS], dims[KILN_MAX_DIMS];
    int n, ins[KILN_MAX_DIMS] = {0};
    KILN_TRY(get_axes(k, axes, &n));
    KILN_FAIL_IF(n < 0, KILN_ERR_INVALID_GRAPH, "Unsqueeze needs axes");
    int r = x->rank + n;
    KILN_FAIL_IF(r > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "Unsqueeze output rank %d exceeds kiln's limit of %d", r,
                 KILN_MAX_DIMS);
    for (int i = 0; i < n; i++) {
        int a;
        KILN_TRY(kiln_mv_axis(axes[i], r, "Unsqueeze axis", &a));
        KILN_FAIL_IF(ins[a], KILN_ERR_INVALID_ARGUMENT, "Unsqueeze axis %lld is given twice", (long long)axes[i]);
        ins[a] = 1;
    }
    for (int d = 0, j = 0; d < r; d++) dims[d] = ins[d] ? 1 : x->dims[j++];
    return kiln_kout_alias(k, 0, x, r, dims);
}

/* ---------------------------------------------------------------- Identity -------------------------------------- */

static kiln_status identity_run(kiln_kctx *k) {
    const kiln_value *v = k->n_in > 0 ? k->in[0] : NULL;
    KILN_FAIL_IF(!v, KILN_ERR_INVALID_GRAPH, "Identity needs an input");
    if (v->kind == KILN_V_TENSOR) return kiln_kout_alias(k, 0, &v->t, v->t.rank, v->t.dims);
    /* sequences and optionals: a deep copy (their items are owned per value) */
    kiln_value *o = kiln_kout_value(k, 0);
    if (v->kind == KILN_V_NONE) {
        kiln_value_release(o);
        o->kind = KILN_V_NONE;
        o->elem_dtype = v->elem_dtype;
        return KILN_OK;
    }
    return kiln_value_copy(o, v);
}

/* ---------------------------------------------------------------- Constant -------------------------------------- */

typedef struct constant_params {
    kiln_tensor t; /* owned, or a view of the node's TENSOR attribute (the graph outlives the program) */
} constant_params;

static void constant_release(void *pp) {
    constant_params *p = pp;
    kiln_tensor_release(&p->t);
    free(p);
}

static kiln_status constant_build(const kiln_node *n, kiln_tensor *t) {
    int found = 0;
    for (int i = 0; i < n->n_attrs; i++) {
        const kiln_attr *a = &n->attrs[i];
        const char *nm = a->name;
        int64_t cnt = a->n;
        if (!strcmp(nm, "value") || !strcmp(nm, "sparse_value")) {
            KILN_FAIL_IF(!a->t, KILN_ERR_INVALID_GRAPH, "Constant attribute '%s' holds no tensor", nm);
            kiln_tensor_borrow(t, a->t);
            if (a->t->dtype == KILN_STRING) KILN_TRY(kiln_tensor_copy(t, a->t));
        } else if (!strcmp(nm, "value_float")) {
            KILN_TRY(kiln_tensor_alloc(t, KILN_FLOAT, 0, NULL));
            *(float *)t->data = a->f;
        } else if (!strcmp(nm, "value_floats")) {
            KILN_TRY(kiln_tensor_alloc(t, KILN_FLOAT, 1, &cnt));
            if (cnt) memcpy(t->data, a->floats, sizeof(float) * (size_t)cnt);
        } else if (!strcmp(nm, "value_int")) {
            KILN_TRY(kiln_tensor_alloc(t, KILN_INT64, 0, NULL));
            *(int64_t *)t->data = a->i;
        } else if (!strcmp(nm, "value_ints")) {
            KILN_TRY(kiln_tensor_alloc(t, KILN_INT64, 1, &cnt));
            if (cnt) memcpy(t->data, a->ints, sizeof(int64_t) * (size_t)cnt);
        } else if (!strcmp(nm, "value_string")) {
            KILN_TRY(kiln_tensor_alloc(t, KILN_STRING, 0, NULL));
            KILN_TRY(kiln_tensor_set_string(t, 0, a->s ? a->s : "", a->s_len));
        } else if (!strcmp(nm, "value_strings")) {
            KILN_TRY(kiln_tensor_alloc(t, KILN_STRING, 1, &cnt));
            for (int64_t j = 0; j < cnt; j++)
                KILN_TRY(kiln_tensor_set_string(t, j, a->strings[j],
                                                a->string_lens ? a->string_lens[j] : strlen(a->strings[j])));
        } else {
            continue;
        }
        KILN_FAIL_IF(found, KILN_ERR_INVALID_GRAPH, "Constant has more than one value attribute");
        found = 1;
    }
    KILN_FAIL_IF(!found, KILN_ERR_INVALID_GRAPH, "Constant has no value attribute");
    return KILN_OK;
}

static kiln_status constant_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    constant_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    kiln_status st = constant_build(n, &p->t);
    if (st != KILN_OK) {
        constant_release(p);
        *out = NULL;
    }
    return st;
}

static kiln_status constant_run(kiln_kctx *k) {
    const constant_params *p = k->params;
    return kiln_kout_alias(k, 0, &p->t, p->t.rank, p->t.dims);
}

/* ---------------------------------------------------------------- ConstantOfShape ------------------------------- */

typedef struct cos_params {
    kiln_dtype dtype;
    unsigned char value[16];
    const kiln_tensor *str; /* a STRING value attribute (borrowed from the graph) */
} cos_params;

static kiln_status cos_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    cos_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->dtype = KILN_FLOAT;
    const kiln_attr *a = kiln_node_attr(n, "value");
    if (a && a->t) {
        KILN_FAIL_IF(kiln_tensor_numel(a->t) != 1, KILN_ERR_INVALID_GRAPH,
                     "ConstantOfShape 'value' must hold one element, has %lld", (long long)kiln_tensor_numel(a->t));
        p->dtype = a->t->dtype;
        if (p->dtype == KILN_STRING)
            p->str = a->t;
        else
            memcpy(p->value, a->t->data, kiln_dtype_size(p->dtype));
    }
    return KILN_OK;
}

static kiln_status cos_run(kiln_kctx *k) {
    const cos_params *p = k->params;
    const kiln_tensor *s;
    KILN_TRY(kiln_kin_req(k, 0, &s));
    int64_t dims[KILN_MAX_DIMS];
    int n;
    KILN_TRY(kiln_mv_read_ints(s, "ConstantOfShape input", dims, KILN_MAX_DIMS, &n));
    for (int i = 0; i < n; i++)
        KILN_FAIL_IF(dims[i] < 0, KILN_ERR_SHAPE, "ConstantOfShape dim %d is negative (%lld)", i, (long long)dims[i]);
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, p->dtype, n, dims, &y));
    return kiln_mv_fill(p->dtype, y->data, kiln_tensor_numel(y), p->str ? p->str->data : p->value);
}

/* ---------------------------------------------------------------- Range ----------------------------------------- */

typedef struct range_params {
    int stash; /* fp16/bf16: compute in float (1) or in the type itself (0) */
} range_params;

static kiln_status range_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    range_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->stash = (int)kiln_attr_int(n, "stash_type", 1);
    return KILN_OK;
}

static double round_to(kiln_dtype t, double v) {
    if (t == KILN_FLOAT16) return kiln_half_to_float(kiln_float_to_half((float)v));
    if (t == KILN_BFLOAT16) return kiln_bf16_to_float(kiln_float_to_bf16((float)v));
    return v;
}

static kiln_status range_run(kiln_kctx *k) {
    const range_params *p = k->params;
    const kiln_tensor *ts, *tl, *td;
    KILN_TRY(kiln_kin_req(k, 0, &ts));
    KILN_TRY(kiln_kin_req(k, 1, &tl));
    KILN_TRY(kiln_kin_req(k, 2, &td));
    kiln_dtype t = ts->dtype;
    KILN_FAIL_IF(tl->dtype != t || td->dtype != t, KILN_ERR_TYPE, "Range inputs must share one dtype (%s, %s, %s)",
                 kiln_dtype_name(t), kiln_dtype_name(tl->dtype), kiln_dtype_name(td->dtype));
    kiln_tensor *y;
    if (kiln_dtype_is_int(t)) {
        int64_t s, l, d;
        KILN_TRY(kiln_mv_scalar_i64(ts, "Range start", &s));
        KILN_TRY(kiln_mv_scalar_i64(tl, "Range limit", &l));
        KILN_TRY(kiln_mv_scalar_i64(td, "Range delta", &d));
        KILN_FAIL_IF(d == 0, KILN_ERR_RUNTIME, "Range delta is 0");
        __int128 span = (__int128)l - s, q = span / d;
        if (q * d != span && (span > 0) == (d > 0)) q++; /* ceil for same-sign division */
        int64_t n = q > 0 ? (int64_t)q : 0;
        KILN_FAIL_IF(q > INT64_MAX, KILN_ERR_RUNTIME, "Range produces too many elements");
        KILN_TRY(kiln_kout(k, 0, t, 1, &n, &y));
        for (int64_t i = 0; i < n; i++) kiln_store_i64(t, y->data, i, s + i * d);
        return KILN_OK;
    }
    KILN_FAIL_IF(!kiln_dtype_is_float(t), KILN_ERR_TYPE, "Range does not support dtype %s", kiln_dtype_name(t));
    double s, l, d;
    KILN_TRY(kiln_mv_scalar_f64(ts, "Range start", &s));
    KILN_TRY(kiln_mv_scalar_f64(tl, "Range limit", &l));
    KILN_TRY(kiln_mv_scalar_f64(td, "Range delta", &d));
    KILN_FAIL_IF(d == 0 || isnan(d) || isnan(s) || isnan(l), KILN_ERR_RUNTIME, "Range delta is 0 or NaN");
    double cnt = ceil((l - s) / d);
    KILN_FAIL_IF(cnt > 9.0e15, KILN_ERR_RUNTIME, "Range produces too many elements (%g)", cnt);
    int64_t n = cnt > 0 ? (int64_t)cnt : 0;
    KILN_TRY(kiln_kout(k, 0, t, 1, &n, &y));
    if (t == KILN_FLOAT) { /* match float arithmetic exactly */
        float fs = (float)s, fd = (float)d;
        for (int64_t i = 0; i < n; i++) ((float *)y->data)[i] = fs + (float)i * fd;
    } else {
        int low = (t == KILN_FLOAT16 || t == KILN_BFLOAT16) && !p->stash;
        for (int64_t i = 0; i < n; i++) {
            double v = low ? round_to(t, s + round_to(t, (double)i * d)) : s + (double)i * d;
            if (t != KILN_DOUBLE && !low) v = (float)s + (float)i * (float)d;
            kiln_store_f64(t, y->data, i, v);
        }
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- EyeLike --------------------------------------- */

typedef struct eyelike_params {
    int dtype; /* 0: the input's */
    int64_t k;
} eyelike_params;

static kiln_status eyelike_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    eyelike_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->dtype = (int)kiln_attr_int(n, "dtype", 0);
    p->k = kiln_attr_int(n, "k", 0);
    KILN_FAIL_IF(p->dtype && (!kiln_dtype_is_valid(p->dtype) || p->dtype == KILN_STRING), KILN_ERR_UNSUPPORTED,
                 "EyeLike dtype %d is not supported", p->dtype);
    return KILN_OK;
}

static kiln_status eyelike_run(kiln_kctx *k) {
    const eyelike_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(x->rank != 2, KILN_ERR_SHAPE, "EyeLike input must be 2-D, got rank %d", x->rank);
    kiln_dtype dt = p->dtype ? (kiln_dtype)p->dtype : x->dtype;
    KILN_FAIL_IF(dt == KILN_STRING, KILN_ERR_TYPE, "EyeLike cannot make a string tensor");
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, dt, 2, x->dims, &y));
    memset(y->data, 0, kiln_tensor_nbytes(y));
    int64_t kk = p->k, lim = x->dims[0] + x->dims[1];
    kk = kk > lim ? lim : kk < -lim ? -lim : kk;
    for (int64_t i = 0; i < x->dims[0]; i++) {
        int64_t j = i + kk;
        if (j >= 0 && j < x->dims[1]) kiln_store_f64(dt, y->data, i * x->dims[1] + j, 1.0);
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- Expand ---------------------------------------- */

static kiln_status expand_run(kiln_kctx *k) {
    const kiln_tensor *x, *s;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &s));
    int64_t shape[KILN_MAX_DIMS], dims[KILN_MAX_DIMS], st[KILN_MAX_DIMS], dst[KILN_MAX_DIMS];
    int n, r;
    KILN_TRY(kiln_mv_read_ints(s, "Expand 'shape' input", shape, KILN_MAX_DIMS, &n));
    for (int i = 0; i < n; i++)
        KILN_FAIL_IF(shape[i] < 0, KILN_ERR_SHAPE, "Expand shape dim %d is negative (%lld)", i, (long long)shape[i]);
    KILN_TRY(kiln_broadcast_shape(x->rank, x->dims, n, shape, &r, dims));
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, dims, &y));
    kiln_broadcast_strides(x->rank, x->dims, r, dims, st);
    kiln_mv_strides(r, dims, dst);
    return kiln_mv_copy_nd(x->dtype, y->data, dst, x->data, st, r, dims);
}

/* ---------------------------------------------------------------- Dropout --------------------------------------- */

typedef struct dropout_params {
    float ratio;     /* before opset 12 */
    int has_seed;
    uint64_t seed;
    kiln_dtype mask_dtype;
} dropout_params;

static kiln_status dropout_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    dropout_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->ratio = kiln_attr_float(n, "ratio", 0.5f);
    p->has_seed = kiln_node_attr(n, "seed") != NULL;
    p->seed = (uint64_t)kiln_attr_int(n, "seed", 0);
    p->mask_dtype = n->opset >= 10 ? KILN_BOOL : KILN_UNDEFINED; /* before 10 the mask has the input's dtype */
    if (n->n_out > 1 && n->out[1] >= 0 && g->values[n->out[1]].type.dtype != KILN_UNDEFINED)
        p->mask_dtype = g->values[n->out[1]].type.dtype;
    return KILN_OK;
}

/* MT19937 + numpy's random_sample: with a seed, training-mode masks match numpy.random.RandomState(seed), which
 * the ONNX reference uses. */
typedef struct mt19937 {
    uint32_t s[624];
    int i;
} mt19937;

static void mt_seed(mt19937 *m, uint32_t seed) {
    m->s[0] = seed;
    for (int i = 1; i < 624; i++) m->s[i] = 1812433253u * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + (uint32_t)i;
    m->i = 624;
}

static uint32_t mt_next(mt19937 *m) {
    if (m->i >= 624) {
        for (int i = 0; i < 624; i++) {
            uint32_t y = (m->s[i] & 0x80000000u) | (m->s[(i + 1) % 624] & 0x7fffffffu);
            m->s[i] = m->s[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) ? 0x9908b0dfu : 0);
        }
        m->i = 0;
    }
    uint32_t y = m->s[m->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

static double mt_uniform(mt19937 *m) {
    uint32_t a = mt_next(m) >> 5, b = mt_next(m) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

static kiln_status dropout_run(kiln_kctx *k) {
    const dropout_params *p = k->params;
    const kiln_tensor *x, *tr;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    double ratio = p->ratio;
    int training = 0;
    if (k->node->opset >= 12) {
        const kiln_tensor *tratio = kiln_kin(k, 1);
        ratio = 0.5;
        if (tratio) KILN_TRY(kiln_mv_scalar_f64(tratio, "Dropout ratio", &ratio));
        if ((tr = kiln_kin(k, 2)) != NULL) {
            int64_t v;
            KILN_TRY(kiln_mv_scalar_i64(tr, "Dropout training_mode", &v));
            training = v != 0;
        }
    }
    int want_mask = k->n_out > 1 && k->node->out[1] >= 0;
    kiln_dtype mdt = p->mask_dtype != KILN_UNDEFINED ? p->mask_dtype : x->dtype;
    kiln_tensor *mask = NULL;
    if (want_mask) KILN_TRY(kiln_kout(k, 1, mdt, x->rank, x->dims, &mask));
    int64_t n = kiln_tensor_numel(x);
    if (!training || ratio == 0) {
        if (mask)
            for (int64_t i = 0; i < n; i++) kiln_store_f64(mdt, mask->data, i, 1.0);
        return kiln_kout_alias(k, 0, x, x->rank, x->dims);
    }
    KILN_FAIL_IF(!(ratio > 0 && ratio < 1), KILN_ERR_RUNTIME, "Dropout ratio %g is outside [0, 1)", ratio);
    KILN_FAIL_IF(!kiln_dtype_is_float(x->dtype), KILN_ERR_TYPE, "training Dropout needs a float input, got %s",
                 kiln_dtype_name(x->dtype));
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    mt19937 *rng = malloc(sizeof *rng);
    KILN_FAIL_IF(!rng, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    mt_seed(rng, p->has_seed ? (uint32_t)p->seed : (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)y);
    double scale = 1.0 / (1.0 - ratio);
    for (int64_t i = 0; i < n; i++) {
        int keep = mt_uniform(rng) >= ratio;
        kiln_store_f64(x->dtype, y->data, i, keep ? kiln_load_f64(x->dtype, x->data, i) * scale : 0.0);
        if (mask) kiln_store_f64(mdt, mask->data, i, keep);
    }
    free(rng);
    return KILN_OK;
}

/* ---------------------------------------------------------------- table ----------------------------------------- */

const kiln_op_def kiln_cpu_ops_shape[] = {
    {"Shape", "", 1, shape_prepare, kiln_mv_free_params, shape_run},
    {"Size", "", 1, NULL, NULL, size_run},
    {"Reshape", "", 1, reshape_prepare, kiln_mv_free_params, reshape_run},
    {"Reshape", "", 5, reshape_prepare, kiln_mv_free_params, reshape_run},
    {"Flatten", "", 1, flatten_prepare, kiln_mv_free_params, flatten_run},
    {"Squeeze", "", 1, axes_prepare, kiln_mv_free_params, squeeze_run},
    {"Squeeze", "", 13, axes_prepare, kiln_mv_free_params, squeeze_run},
    {"Unsqueeze", "", 1, axes_prepare, kiln_mv_free_params, unsqueeze_run},
    {"Unsqueeze", "", 13, axes_prepare, kiln_mv_free_params, unsqueeze_run},
    {"Identity", "", 1, NULL, NULL, identity_run},
    {"Constant", "", 1, constant_prepare, constant_release, constant_run},
    {"ConstantOfShape", "", 9, cos_prepare, kiln_mv_free_params, cos_run},
    {"Range", "", 11, range_prepare, kiln_mv_free_params, range_run},
    {"EyeLike", "", 9, eyelike_prepare, kiln_mv_free_params, eyelike_run},
    {"Expand", "", 8, NULL, NULL, expand_run},
    {"Dropout", "", 1, dropout_prepare, kiln_mv_free_params, dropout_run},
    {0},
};
