/* CPU kernels: Pad and CenterCropPad (movement family, listed in movement.c). */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/movement-common.h"
#include "core/dtype.h"
#include "runtime/op.h"

/* Pads beyond this cannot describe an allocatable tensor; rejecting them keeps the dim arithmetic in range. */
#define PAD_LIMIT ((int64_t)1 << 48)

enum { PAD_CONSTANT = 0, PAD_REFLECT = 1, PAD_EDGE = 2, PAD_WRAP = 3 };

typedef struct pad_params {
    int mode;
    int from_attr; /* before opset 11: pads and value are attributes */
    int n_pads;
    int64_t pads[2 * KILN_MAX_DIMS];
    double value;
} pad_params;

kiln_status kiln_mv_pad_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    pad_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    const char *mode = kiln_attr_string(n, "mode", "constant");
    if (!strcmp(mode, "constant"))
        p->mode = PAD_CONSTANT;
    else if (!strcmp(mode, "reflect"))
        p->mode = PAD_REFLECT;
    else if (!strcmp(mode, "edge"))
        p->mode = PAD_EDGE;
    else if (!strcmp(mode, "wrap") && n->opset >= 19)
        p->mode = PAD_WRAP;
    else
        return kiln_error(KILN_ERR_UNSUPPORTED, "Pad mode '%s' is not supported (opset %d)", mode, n->opset);
    if (n->opset < 11) {
        p->from_attr = 1;
        KILN_TRY(kiln_mv_attr_ints(n, n->opset < 2 ? "paddings" : "pads", p->pads, 2 * KILN_MAX_DIMS, &p->n_pads));
        p->value = kiln_attr_float(n, "value", 0.0f);
    }
    return KILN_OK;
}

/* Source index for output position i (in input coordinates: i - pad_begin) of an axis of size d; -1: fill. */
static int64_t pad_source(int mode, int64_t i, int64_t d) {
    if (i >= 0 && i < d) return i;
    switch (mode) {
    case PAD_EDGE: return i < 0 ? 0 : d - 1;
    case PAD_WRAP: return ((i % d) + d) % d;
    case PAD_REFLECT: {
        if (d == 1) return 0;
        int64_t period = 2 * (d - 1), m = ((i % period) + period) % period;
        return m >= d ? period - m : m;
    }
    default: return -1;
    }
}

kiln_status kiln_mv_pad_run(kiln_kctx *k) {
    const pad_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int r = x->rank, n_pads = p->n_pads, n_axes = r;
    int64_t pads[2 * KILN_MAX_DIMS], axes[KILN_MAX_DIMS];
    unsigned char fill[16] = {0};
    const void *fillp = fill;
    if (p->from_attr) {
        memcpy(pads, p->pads, sizeof pads);
        if (x->dtype != KILN_STRING) kiln_store_f64(x->dtype, fill, 0, p->value);
    } else {
        const kiln_tensor *tp, *tv = kiln_kin(k, 2), *ta = kiln_kin(k, 3);
        KILN_TRY(kiln_kin_req(k, 1, &tp));
        KILN_TRY(kiln_mv_read_ints(tp, "Pad pads", pads, 2 * KILN_MAX_DIMS, &n_pads));
        if (tv && kiln_tensor_numel(tv) > 0) {
            KILN_FAIL_IF(tv->dtype != x->dtype, KILN_ERR_TYPE, "Pad constant_value is %s but the data is %s",
                         kiln_dtype_name(tv->dtype), kiln_dtype_name(x->dtype));
            fillp = tv->data;
        }
        if (ta) KILN_TRY(kiln_mv_read_ints(ta, "Pad axes", axes, KILN_MAX_DIMS, &n_axes));
    }
    if (n_axes == r && !kiln_kin(k, 3))
        for (int i = 0; i < r; i++) axes[i] = i;
    KILN_FAIL_IF(n_pads != 2 * n_axes, KILN_ERR_SHAPE, "Pad has %d pads for %d axes (need %d)", n_pads, n_axes,
                 2 * n_axes);
    int64_t pb[KILN_MAX_DIMS] = {0}, pe[KILN_MAX_DIMS] = {0}, dims[KILN_MAX_DIMS];
    int seen[KILN_MAX_DIMS] = {0};
    for (int i = 0; i < n_axes; i++) {
        int a;
        KILN_TRY(kiln_mv_axis(axes[i], r, "Pad axis", &a));
        KILN_FAIL_IF(seen[a], KILN_ERR_INVALID_ARGUMENT, "Pad axis %d is given twice", a);
        seen[a] = 1;
        pb[a] = pads[i];
        pe[a] = pads[n_axes + i];
        KILN_FAIL_IF(pb[a] < -PAD_LIMIT || pb[a] > PAD_LIMIT || pe[a] < -PAD_LIMIT || pe[a] > PAD_LIMIT,
                     KILN_ERR_SHAPE, "Pad amounts %lld, %lld for axis %d are out of range", (long long)pb[a],
                     (long long)pe[a], a);
    }
    char buf[256];
    for (int d = 0; d < r; d++) {
        dims[d] = x->dims[d] + pb[d] + pe[d];
        KILN_FAIL_IF(dims[d] < 0, KILN_ERR_SHAPE, "Pad makes axis %d of %s negative (pads %lld, %lld)", d,
                     kiln_mv_shape_str(r, x->dims, buf, sizeof buf), (long long)pb[d], (long long)pe[d]);
        KILN_FAIL_IF(p->mode != PAD_CONSTANT && x->dims[d] == 0 && dims[d] > 0, KILN_ERR_SHAPE,
                     "Pad cannot extend the empty axis %d in a non-constant mode", d);
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, dims, &y));
    int64_t total = kiln_tensor_numel(y);
    if (total == 0) return KILN_OK;
    if (p->mode == PAD_CONSTANT) {
        KILN_TRY(kiln_mv_fill(x->dtype, y->data, total, fillp));
        int64_t cnt[KILN_MAX_DIMS], ist[KILN_MAX_DIMS], ost[KILN_MAX_DIMS], soff = 0, doff = 0;
        kiln_mv_strides(r, x->dims, ist);
        kiln_mv_strides(r, dims, ost);
        for (int d = 0; d < r; d++) {
            int64_t o0 = pb[d] > 0 ? pb[d] : 0, o1 = pb[d] + x->dims[d] < dims[d] ? pb[d] + x->dims[d] : dims[d];
            cnt[d] = o1 > o0 ? o1 - o0 : 0;
            if (!cnt[d]) return KILN_OK;
            doff += o0 * ost[d];
            soff += (o0 - pb[d]) * ist[d];
        }
        size_t es = kiln_dtype_size(x->dtype);
        return kiln_mv_copy_nd(x->dtype, (char *)y->data + (size_t)doff * es, ost,
                               (const char *)x->data + (size_t)soff * es, ist, r, cnt);
    }
    int64_t sum = 0, *maps[KILN_MAX_DIMS];
    for (int d = 0; d < r; d++) sum += dims[d];
    int64_t *buf_maps = malloc(sizeof(int64_t) * (size_t)(sum + 1));
    KILN_FAIL_IF(!buf_maps, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    int64_t at = 0;
    for (int d = 0; d < r; d++) {
        maps[d] = buf_maps + at;
        for (int64_t o = 0; o < dims[d]; o++) maps[d][o] = pad_source(p->mode, o - pb[d], x->dims[d]);
        at += dims[d];
    }
    kiln_status st = kiln_mv_gather_maps(x->dtype, y->data, dims, x->data, x->dims, r, maps, fillp);
    free(buf_maps);
    return st;
}

/* ---------------------------------------------------------------- CenterCropPad --------------------------------- */

typedef struct ccp_params {
    int n_axes; /* -1: all axes */
    int64_t axes[KILN_MAX_DIMS];
} ccp_params;

kiln_status kiln_mv_ccp_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    ccp_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    KILN_TRY(kiln_mv_attr_ints(n, "axes", p->axes, KILN_MAX_DIMS, &p->n_axes));
    if (!kiln_node_attr(n, "axes")) p->n_axes = -1;
    return KILN_OK;
}

kiln_status kiln_mv_ccp_run(kiln_kctx *k) {
    const ccp_params *p = k->params;
    const kiln_tensor *x, *ts;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &ts));
    int r = x->rank, n, n_axes = p->n_axes < 0 ? r : p->n_axes;
    int64_t shape[KILN_MAX_DIMS], dims[KILN_MAX_DIMS], shift[KILN_MAX_DIMS] = {0};
    KILN_TRY(kiln_mv_read_ints(ts, "CenterCropPad shape", shape, KILN_MAX_DIMS, &n));
    KILN_FAIL_IF(n != n_axes, KILN_ERR_SHAPE, "CenterCropPad has %d target sizes for %d axes", n, n_axes);
    memcpy(dims, x->dims, sizeof dims);
    int seen[KILN_MAX_DIMS] = {0};
    for (int i = 0; i < n; i++) {
        int a = i;
        if (p->n_axes >= 0) KILN_TRY(kiln_mv_axis(p->axes[i], r, "CenterCropPad axis", &a));
        KILN_FAIL_IF(seen[a], KILN_ERR_INVALID_ARGUMENT, "CenterCropPad axis %d is given twice", a);
        seen[a] = 1;
        KILN_FAIL_IF(shape[i] < 0, KILN_ERR_SHAPE, "CenterCropPad target size %lld is negative", (long long)shape[i]);
        dims[a] = shape[i];
        /* cropping starts (d - s) / 2 into the input; padding puts the input (s - d) / 2 into the output */
        shift[a] = shape[i] < x->dims[a] ? (x->dims[a] - shape[i]) / 2 : -((shape[i] - x->dims[a]) / 2);
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, dims, &y));
    if (kiln_tensor_numel(y) == 0) return KILN_OK;
    int64_t sum = 0, *maps[KILN_MAX_DIMS];
    for (int d = 0; d < r; d++) sum += dims[d];
    int64_t *buf = malloc(sizeof(int64_t) * (size_t)(sum + 1));
    KILN_FAIL_IF(!buf, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    int64_t at = 0;
    for (int d = 0; d < r; d++) {
        maps[d] = buf + at;
        for (int64_t o = 0; o < dims[d]; o++) {
            int64_t i = o + shift[d];
            maps[d][o] = i >= 0 && i < x->dims[d] ? i : -1;
        }
        at += dims[d];
    }
    kiln_status st = kiln_mv_gather_maps(x->dtype, y->data, dims, x->data, x->dims, r, maps, NULL);
    free(buf);
    return st;
}
