/* CPU kernels: movement family (see registry.h). Transpose, Concat, Split, Slice, Tile, DepthToSpace,
 * SpaceToDepth, Trilu, ReverseSequence here; Pad and CenterCropPad in movement-pad.c; Resize and Upsample in
 * movement-resize.c; GridSample and AffineGrid in movement-grid.c.
 *
 * Most of these are one strided copy (kiln_mv_copy_nd) of the input viewed with permuted / scaled strides. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/movement-common.h"
#include "backends/cpu/registry.h"
#include "core/dtype.h"

void kiln_mv_free_params(void *p) { free(p); }

kiln_status kiln_mv_alloc_params(void **out, size_t size) {
    *out = calloc(1, size);
    KILN_FAIL_IF(!*out, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    return KILN_OK;
}

/* ---------------------------------------------------------------- Transpose ------------------------------------- */

typedef struct transpose_params {
    int n; /* 0: reverse the dims */
    int64_t perm[KILN_MAX_DIMS];
} transpose_params;

static kiln_status transpose_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    transpose_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    return kiln_mv_attr_ints(n, "perm", p->perm, KILN_MAX_DIMS, &p->n);
}

static kiln_status transpose_run(kiln_kctx *k) {
    const transpose_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int r = x->rank, seen[KILN_MAX_DIMS] = {0};
    int64_t perm[KILN_MAX_DIMS], dims[KILN_MAX_DIMS], ist[KILN_MAX_DIMS], sst[KILN_MAX_DIMS], dst[KILN_MAX_DIMS];
    char b[256];
    KILN_FAIL_IF(p->n && p->n != r, KILN_ERR_SHAPE, "Transpose perm has %d entries for an input of rank %d", p->n, r);
    for (int i = 0; i < r; i++) {
        perm[i] = p->n ? p->perm[i] : r - 1 - i;
        if (perm[i] < 0) perm[i] += r; /* tolerated by several runtimes */
        KILN_FAIL_IF(perm[i] < 0 || perm[i] >= r || seen[perm[i]], KILN_ERR_INVALID_ARGUMENT,
                     "Transpose perm %s is not a permutation of %d dims", kiln_mv_shape_str(p->n, p->perm, b, sizeof b),
                     r);
        seen[perm[i]] = 1;
    }
    kiln_mv_strides(r, x->dims, ist);
    for (int i = 0; i < r; i++) {
        dims[i] = x->dims[perm[i]];
        sst[i] = ist[perm[i]];
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, dims, &y));
    kiln_mv_strides(r, dims, dst);
    return kiln_mv_copy_nd(x->dtype, y->data, dst, x->data, sst, r, dims);
}

/* ---------------------------------------------------------------- Concat ---------------------------------------- */

typedef struct axis_params {
    int64_t axis;
} axis_params;

static kiln_status concat_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    axis_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    KILN_FAIL_IF(n->opset >= 4 && !kiln_node_attr(n, "axis"), KILN_ERR_INVALID_GRAPH, "Concat needs an 'axis'");
    p->axis = kiln_attr_int(n, "axis", 1);
    return KILN_OK;
}

static kiln_status concat_run(kiln_kctx *k) {
    const axis_params *p = k->params;
    const kiln_tensor *x0;
    KILN_TRY(kiln_kin_req(k, 0, &x0));
    int r = x0->rank, axis;
    KILN_TRY(kiln_mv_axis(p->axis, r, "Concat axis", &axis));
    int64_t dims[KILN_MAX_DIMS];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    char b1[256], b2[256];
    for (int i = 0; i < k->n_in; i++) {
        const kiln_tensor *x;
        KILN_TRY(kiln_kin_req(k, i, &x));
        KILN_FAIL_IF(x->dtype != x0->dtype, KILN_ERR_TYPE, "Concat input %d is %s, input 0 is %s", i,
                     kiln_dtype_name(x->dtype), kiln_dtype_name(x0->dtype));
        int ok = x->rank == r;
        for (int d = 0; ok && d < r; d++) ok = d == axis || x->dims[d] == x0->dims[d];
        KILN_FAIL_IF(!ok, KILN_ERR_SHAPE, "Concat input %d has shape %s, incompatible with input 0 %s on axis %d", i,
                     kiln_mv_shape_str(x->rank, x->dims, b1, sizeof b1),
                     kiln_mv_shape_str(r, x0->dims, b2, sizeof b2), axis);
        dims[axis] += x->dims[axis];
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x0->dtype, r, dims, &y));
    int64_t outer = kiln_numel(axis, dims), inner = kiln_numel(r - axis - 1, dims + axis + 1), at = 0;
    size_t es = kiln_dtype_size(x0->dtype);
    for (int i = 0; i < k->n_in; i++) {
        const kiln_tensor *x = kiln_kin(k, i);
        int64_t row = x->dims[axis] * inner;
        int64_t cd[2] = {outer, row}, ss[2] = {row, 1}, ds[2] = {dims[axis] * inner, 1};
        KILN_TRY(kiln_mv_copy_nd(x0->dtype, (char *)y->data + (size_t)(at * inner) * es, ds, x->data, ss, 2, cd));
        at += x->dims[axis];
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- Split ----------------------------------------- */

typedef struct split_params {
    int64_t axis;
    int64_t num_outputs; /* opset 18; 0 when absent */
    int n_split;         /* split attribute (before opset 13); -1 when absent */
    int64_t *split;
} split_params;

static void split_release(void *pp) {
    split_params *p = pp;
    if (p) free(p->split);
    free(p);
}

static kiln_status split_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    split_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->axis = kiln_attr_int(n, "axis", 0);
    p->num_outputs = kiln_attr_int(n, "num_outputs", 0);
    p->n_split = -1;
    int c = 0;
    const int64_t *s = kiln_attr_ints(n, "split", &c);
    if (n->opset < 13 && s) {
        p->split = malloc(sizeof(int64_t) * (size_t)(c + 1));
        KILN_FAIL_IF(!p->split, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        memcpy(p->split, s, sizeof(int64_t) * (size_t)c);
        p->n_split = c;
    }
    KILN_FAIL_IF(p->num_outputs && p->num_outputs != n->n_out, KILN_ERR_INVALID_GRAPH,
                 "Split num_outputs is %lld but the node has %d outputs", (long long)p->num_outputs, n->n_out);
    return KILN_OK;
}

static kiln_status split_run(kiln_kctx *k) {
    const split_params *p = k->params;
    const kiln_tensor *x, *ts = kiln_kin(k, 1);
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int axis, n = k->n_out;
    KILN_TRY(kiln_mv_axis(p->axis, x->rank, "Split axis", &axis));
    int64_t dim = x->dims[axis];
    int64_t small[16], *sizes = n <= 16 ? small : malloc(sizeof(int64_t) * (size_t)n);
    KILN_FAIL_IF(!sizes, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = KILN_OK;
    if (ts || p->n_split >= 0) {
        int64_t cnt = ts ? kiln_tensor_numel(ts) : p->n_split, sum = 0;
        if (ts && ts->dtype != KILN_INT64 && ts->dtype != KILN_INT32)
            st = kiln_error(KILN_ERR_TYPE, "Split 'split' input must be int64");
        else if (cnt != n)
            st = kiln_error(KILN_ERR_SHAPE, "Split has %lld sizes for %d outputs", (long long)cnt, n);
        for (int i = 0; st == KILN_OK && i < n; i++) {
            sizes[i] = !ts ? p->split[i] : ts->dtype == KILN_INT64 ? ((const int64_t *)ts->data)[i]
                                                                    : ((const int32_t *)ts->data)[i];
            if (sizes[i] < 0) st = kiln_error(KILN_ERR_SHAPE, "Split size %d is negative (%lld)", i, (long long)sizes[i]);
            sum += sizes[i];
        }
        if (st == KILN_OK && sum != dim)
            st = kiln_error(KILN_ERR_SHAPE, "Split sizes sum to %lld, but axis %d has %lld elements", (long long)sum,
                            axis, (long long)dim);
    } else if (p->num_outputs) {
        int64_t chunk = (dim + n - 1) / n;
        for (int i = 0; i < n; i++) {
            int64_t left = dim - chunk * i;
            sizes[i] = left < 0 ? 0 : left < chunk ? left : chunk;
        }
    } else {
        if (dim % n != 0)
            st = kiln_error(KILN_ERR_SHAPE, "Split cannot divide axis %d of size %lld into %d equal parts", axis,
                            (long long)dim, n);
        for (int i = 0; i < n; i++) sizes[i] = dim / n;
    }
    int64_t outer = kiln_numel(axis, x->dims), inner = kiln_numel(x->rank - axis - 1, x->dims + axis + 1), at = 0;
    size_t es = kiln_dtype_size(x->dtype);
    for (int i = 0; st == KILN_OK && i < n; i++) {
        int64_t dims[KILN_MAX_DIMS];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = sizes[i];
        kiln_tensor *y;
        st = kiln_kout(k, i, x->dtype, x->rank, dims, &y);
        if (st != KILN_OK) break;
        int64_t row = sizes[i] * inner;
        int64_t cd[2] = {outer, row}, ss[2] = {dim * inner, 1}, ds[2] = {row, 1};
        st = kiln_mv_copy_nd(x->dtype, y->data, ds, (const char *)x->data + (size_t)(at * inner) * es, ss, 2, cd);
        at += sizes[i];
    }
    if (sizes != small) free(sizes);
    return st;
}

/* ---------------------------------------------------------------- Slice ----------------------------------------- */

typedef struct slice_params {
    int from_attr; /* opset 1: starts/ends/axes are attributes */
    int n, n_axes;
    int64_t starts[KILN_MAX_DIMS], ends[KILN_MAX_DIMS], axes[KILN_MAX_DIMS];
} slice_params;

static kiln_status slice_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    slice_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    if (n->opset >= 10) return KILN_OK;
    p->from_attr = 1;
    int ne;
    KILN_TRY(kiln_mv_attr_ints(n, "starts", p->starts, KILN_MAX_DIMS, &p->n));
    KILN_TRY(kiln_mv_attr_ints(n, "ends", p->ends, KILN_MAX_DIMS, &ne));
    KILN_TRY(kiln_mv_attr_ints(n, "axes", p->axes, KILN_MAX_DIMS, &p->n_axes));
    KILN_FAIL_IF(ne != p->n, KILN_ERR_INVALID_GRAPH, "Slice has %d starts but %d ends", p->n, ne);
    if (!kiln_node_attr(n, "axes")) p->n_axes = -1;
    return KILN_OK;
}

static kiln_status slice_run(kiln_kctx *k) {
    const slice_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int r = x->rank, n, na = -1, ns = -1;
    int64_t starts[KILN_MAX_DIMS], ends[KILN_MAX_DIMS], axes[KILN_MAX_DIMS], steps[KILN_MAX_DIMS];
    if (p->from_attr) {
        n = p->n;
        na = p->n_axes;
        memcpy(starts, p->starts, sizeof starts);
        memcpy(ends, p->ends, sizeof ends);
        memcpy(axes, p->axes, sizeof axes);
    } else {
        const kiln_tensor *ts, *te, *ta = kiln_kin(k, 3), *tp = kiln_kin(k, 4);
        int ne;
        KILN_TRY(kiln_kin_req(k, 1, &ts));
        KILN_TRY(kiln_kin_req(k, 2, &te));
        KILN_TRY(kiln_mv_read_ints(ts, "Slice starts", starts, KILN_MAX_DIMS, &n));
        KILN_TRY(kiln_mv_read_ints(te, "Slice ends", ends, KILN_MAX_DIMS, &ne));
        KILN_FAIL_IF(ne != n, KILN_ERR_SHAPE, "Slice has %d starts but %d ends", n, ne);
        if (ta) KILN_TRY(kiln_mv_read_ints(ta, "Slice axes", axes, KILN_MAX_DIMS, &na));
        if (tp) KILN_TRY(kiln_mv_read_ints(tp, "Slice steps", steps, KILN_MAX_DIMS, &ns));
    }
    KILN_FAIL_IF(na >= 0 && na != n, KILN_ERR_SHAPE, "Slice has %d starts but %d axes", n, na);
    KILN_FAIL_IF(ns >= 0 && ns != n, KILN_ERR_SHAPE, "Slice has %d starts but %d steps", n, ns);
    KILN_FAIL_IF(na < 0 && n > r, KILN_ERR_SHAPE, "Slice has %d starts for an input of rank %d", n, r);
    int64_t b[KILN_MAX_DIMS], step[KILN_MAX_DIMS], dims[KILN_MAX_DIMS], ist[KILN_MAX_DIMS], sst[KILN_MAX_DIMS],
        dst[KILN_MAX_DIMS];
    int seen[KILN_MAX_DIMS] = {0};
    for (int d = 0; d < r; d++) {
        b[d] = 0;
        step[d] = 1;
        dims[d] = x->dims[d];
    }
    for (int i = 0; i < n; i++) {
        int a = i;
        if (na >= 0) KILN_TRY(kiln_mv_axis(axes[i], r, "Slice axis", &a));
        KILN_FAIL_IF(seen[a], KILN_ERR_INVALID_ARGUMENT, "Slice axis %d is given twice", a);
        seen[a] = 1;
        int64_t d = x->dims[a], s = starts[i], e = ends[i], st = ns >= 0 ? steps[i] : 1;
        KILN_FAIL_IF(st == 0, KILN_ERR_INVALID_ARGUMENT, "Slice step for axis %d is 0", a);
        if (st == INT64_MIN) st = -INT64_MAX;
        if (s < 0) s += d;
        if (e < 0) e += d;
        if (st > 0) {
            s = s < 0 ? 0 : s > d ? d : s;
            e = e < 0 ? 0 : e > d ? d : e;
            dims[a] = e > s ? 1 + (e - s - 1) / st : 0;
        } else {
            s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            dims[a] = s > e && d > 0 ? 1 + (s - e - 1) / -st : 0;
        }
        b[a] = dims[a] ? s : 0;
        step[a] = st;
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, dims, &y));
    kiln_mv_strides(r, x->dims, ist);
    int64_t off = 0;
    for (int d = 0; d < r; d++) {
        off += b[d] * ist[d];
        sst[d] = step[d] * ist[d];
    }
    kiln_mv_strides(r, dims, dst);
    if (kiln_numel(r, dims) == 0) return KILN_OK;
    return kiln_mv_copy_nd(x->dtype, y->data, dst, (const char *)x->data + (size_t)off * kiln_dtype_size(x->dtype),
                           sst, r, dims);
}

/* ---------------------------------------------------------------- Tile ------------------------------------------ */

static kiln_status tile_run(kiln_kctx *k) {
    const kiln_tensor *x, *tr;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &tr));
    int r = x->rank, n;
    int64_t reps[KILN_MAX_DIMS], dims[KILN_MAX_DIMS], ist[KILN_MAX_DIMS];
    if (k->node->opset < 6) { /* Tile-1: a scalar repeat count along one axis */
        const kiln_tensor *tx;
        int64_t t, a;
        int axis;
        KILN_TRY(kiln_kin_req(k, 2, &tx));
        KILN_TRY(kiln_mv_scalar_i64(tr, "Tile tiles", &t));
        KILN_TRY(kiln_mv_scalar_i64(tx, "Tile axis", &a));
        KILN_TRY(kiln_mv_axis(a, r, "Tile axis", &axis));
        for (int d = 0; d < r; d++) reps[d] = d == axis ? t : 1;
        n = r;
    } else {
        KILN_TRY(kiln_mv_read_ints(tr, "Tile repeats", reps, KILN_MAX_DIMS, &n));
    }
    KILN_FAIL_IF(n != r, KILN_ERR_SHAPE, "Tile has %d repeats for an input of rank %d", n, r);
    for (int d = 0; d < r; d++) {
        KILN_FAIL_IF(reps[d] < 0, KILN_ERR_INVALID_ARGUMENT, "Tile repeat %d is negative (%lld)", d,
                     (long long)reps[d]);
        KILN_FAIL_IF(reps[d] && x->dims[d] > INT64_MAX / reps[d], KILN_ERR_SHAPE,
                     "Tile output dim %d overflows (%lld x %lld)", d, (long long)x->dims[d], (long long)reps[d]);
        dims[d] = x->dims[d] * reps[d];
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, dims, &y));
    /* The output viewed as [reps0, d0, reps1, d1, ...]: a rank-2r copy reading the input with stride 0 on reps. */
    int64_t vd[2 * KILN_MAX_DIMS], vs[2 * KILN_MAX_DIMS], vo[2 * KILN_MAX_DIMS];
    kiln_mv_strides(r, x->dims, ist);
    for (int d = 0; d < r; d++) {
        vd[2 * d] = reps[d];
        vd[2 * d + 1] = x->dims[d];
        vs[2 * d] = 0;
        vs[2 * d + 1] = ist[d];
    }
    kiln_mv_strides(2 * r, vd, vo);
    return kiln_mv_copy_nd(x->dtype, y->data, vo, x->data, vs, 2 * r, vd);
}

/* ---------------------------------------------------------------- DepthToSpace / SpaceToDepth ------------------- */

typedef struct d2s_params {
    int64_t b;
    int crd;
} d2s_params;

static kiln_status d2s_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    d2s_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->b = kiln_attr_int(n, "blocksize", 0);
    KILN_FAIL_IF(p->b <= 0 || p->b > (1 << 20), KILN_ERR_INVALID_GRAPH, "%s needs a blocksize in [1, 2^20], got %lld", n->op_type,
                 (long long)p->b);
    const char *mode = kiln_attr_string(n, "mode", "DCR");
    KILN_FAIL_IF(strcmp(mode, "DCR") && strcmp(mode, "CRD"), KILN_ERR_UNSUPPORTED, "%s mode '%s' is not supported",
                 n->op_type, mode);
    p->crd = !strcmp(mode, "CRD");
    return KILN_OK;
}

static kiln_status d2s_run(kiln_kctx *k) {
    const d2s_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    char buf[256];
    KILN_FAIL_IF(x->rank != 4, KILN_ERR_SHAPE, "DepthToSpace input must be 4-D, got %s",
                 kiln_mv_shape_str(x->rank, x->dims, buf, sizeof buf));
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], b = p->b;
    KILN_FAIL_IF(C % (b * b) != 0, KILN_ERR_SHAPE, "DepthToSpace channels %lld are not a multiple of blocksize^2 = %lld",
                 (long long)C, (long long)(b * b));
    int64_t c = C / (b * b), HW = H * W;
    int64_t od[4] = {N, c, H * b, W * b};
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, 4, od, &y));
    /* output viewed as [N, c, H, b1, W, b2] (contiguous); source strides per mode */
    int64_t vd[6] = {N, c, H, b, W, b}, vo[6];
    int64_t dcr[6] = {C * HW, HW, W, b * c * HW, 1, c * HW}, crd[6] = {C * HW, b * b * HW, W, b * HW, 1, HW};
    kiln_mv_strides(6, vd, vo);
    return kiln_mv_copy_nd(x->dtype, y->data, vo, x->data, p->crd ? crd : dcr, 6, vd);
}

static kiln_status s2d_run(kiln_kctx *k) {
    const d2s_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    char buf[256];
    KILN_FAIL_IF(x->rank != 4, KILN_ERR_SHAPE, "SpaceToDepth input must be 4-D, got %s",
                 kiln_mv_shape_str(x->rank, x->dims, buf, sizeof buf));
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], b = p->b;
    KILN_FAIL_IF(H % b || W % b, KILN_ERR_SHAPE, "SpaceToDepth spatial dims %s are not multiples of blocksize %lld",
                 kiln_mv_shape_str(x->rank, x->dims, buf, sizeof buf), (long long)b);
    int64_t h = H / b, w = W / b, HW = H * W;
    int64_t od[4] = {N, C * b * b, h, w};
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, 4, od, &y));
    /* DCR output viewed as [N, b1, b2, C, h, w]; CRD as [N, C, b1, b2, h, w] */
    int64_t vo[6];
    int64_t dcr_d[6] = {N, b, b, C, h, w}, dcr_s[6] = {C * HW, W, 1, HW, b * W, b};
    int64_t crd_d[6] = {N, C, b, b, h, w}, crd_s[6] = {C * HW, HW, W, 1, b * W, b};
    const int64_t *vd = p->crd ? crd_d : dcr_d;
    kiln_mv_strides(6, vd, vo);
    return kiln_mv_copy_nd(x->dtype, y->data, vo, x->data, p->crd ? crd_s : dcr_s, 6, vd);
}

/* ---------------------------------------------------------------- Trilu ----------------------------------------- */

typedef struct trilu_params {
    int upper;
} trilu_params;

static kiln_status trilu_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    trilu_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->upper = kiln_attr_int(n, "upper", 1) != 0;
    return KILN_OK;
}

static kiln_status trilu_run(kiln_kctx *k) {
    const trilu_params *p = k->params;
    const kiln_tensor *x, *tk = kiln_kin(k, 1);
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(x->rank < 2, KILN_ERR_SHAPE, "Trilu input must have rank >= 2, got %d", x->rank);
    int64_t kk = 0;
    if (tk) KILN_TRY(kiln_mv_scalar_i64(tk, "Trilu k", &kk));
    int64_t R = x->dims[x->rank - 2], C = x->dims[x->rank - 1];
    int64_t mats = kiln_numel(x->rank - 2, x->dims);
    if (kk > R + C) kk = R + C;
    if (kk < -(R + C)) kk = -(R + C);
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    size_t es = kiln_dtype_size(x->dtype);
    for (int64_t m = 0; m < mats; m++) {
        for (int64_t i = 0; i < R; i++) {
            int64_t off = (m * R + i) * C;
            char *yr = (char *)y->data + (size_t)off * es;
            const char *xr = (const char *)x->data + (size_t)off * es;
            /* upper keeps j >= i + k; lower keeps j <= i + k */
            int64_t cut = p->upper ? i + kk : i + kk + 1;
            cut = cut < 0 ? 0 : cut > C ? C : cut;
            if (p->upper) {
                KILN_TRY(kiln_mv_fill(x->dtype, yr, cut, NULL));
                KILN_TRY(kiln_mv_copy(x->dtype, yr + (size_t)cut * es, xr + (size_t)cut * es, C - cut));
            } else {
                KILN_TRY(kiln_mv_copy(x->dtype, yr, xr, cut));
                KILN_TRY(kiln_mv_fill(x->dtype, yr + (size_t)cut * es, C - cut, NULL));
            }
        }
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- ReverseSequence ------------------------------- */

typedef struct revseq_params {
    int time_axis, batch_axis;
} revseq_params;

static kiln_status revseq_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    revseq_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    int64_t t = kiln_attr_int(n, "time_axis", 0), b = kiln_attr_int(n, "batch_axis", 1);
    KILN_FAIL_IF(!((t == 0 && b == 1) || (t == 1 && b == 0)), KILN_ERR_INVALID_GRAPH,
                 "ReverseSequence needs time_axis and batch_axis to be 0 and 1 (got %lld and %lld)", (long long)t,
                 (long long)b);
    p->time_axis = (int)t;
    p->batch_axis = (int)b;
    return KILN_OK;
}

static kiln_status revseq_run(kiln_kctx *k) {
    const revseq_params *p = k->params;
    const kiln_tensor *x, *tl;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &tl));
    KILN_FAIL_IF(x->rank < 2, KILN_ERR_SHAPE, "ReverseSequence input must have rank >= 2, got %d", x->rank);
    int64_t B = x->dims[p->batch_axis], T = x->dims[p->time_axis];
    KILN_FAIL_IF(tl->dtype != KILN_INT64 && tl->dtype != KILN_INT32, KILN_ERR_TYPE,
                 "ReverseSequence sequence_lens must be int64");
    KILN_FAIL_IF(kiln_tensor_numel(tl) != B, KILN_ERR_SHAPE,
                 "ReverseSequence has %lld sequence lengths for a batch of %lld", (long long)kiln_tensor_numel(tl),
                 (long long)B);
    int64_t st[KILN_MAX_DIMS];
    kiln_mv_strides(x->rank, x->dims, st);
    int64_t inner = kiln_numel(x->rank - 2, x->dims + 2);
    size_t es = kiln_dtype_size(x->dtype);
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    for (int64_t bi = 0; bi < B; bi++) {
        int64_t len = kiln_load_i64(tl->dtype, tl->data, bi);
        KILN_FAIL_IF(len < 0 || len > T, KILN_ERR_RUNTIME,
                     "ReverseSequence sequence_lens[%lld] = %lld is outside the valid range [0, %lld]", (long long)bi,
                     (long long)len, (long long)T);
        for (int64_t t = 0; t < T; t++) {
            int64_t ts = t < len ? len - 1 - t : t;
            size_t doff = (size_t)(bi * st[p->batch_axis] + t * st[p->time_axis]) * es;
            size_t soff = (size_t)(bi * st[p->batch_axis] + ts * st[p->time_axis]) * es;
            KILN_TRY(kiln_mv_copy(x->dtype, (char *)y->data + doff, (const char *)x->data + soff, inner));
        }
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- table ----------------------------------------- */

const kiln_op_def kiln_cpu_ops_movement[] = {
    {"Transpose", "", 1, transpose_prepare, kiln_mv_free_params, transpose_run},
    {"Concat", "", 1, concat_prepare, kiln_mv_free_params, concat_run},
    {"Split", "", 1, split_prepare, split_release, split_run},
    {"Slice", "", 1, slice_prepare, kiln_mv_free_params, slice_run},
    {"Slice", "", 10, slice_prepare, kiln_mv_free_params, slice_run},
    {"Tile", "", 1, NULL, NULL, tile_run},
    {"DepthToSpace", "", 1, d2s_prepare, kiln_mv_free_params, d2s_run},
    {"SpaceToDepth", "", 1, d2s_prepare, kiln_mv_free_params, s2d_run},
    {"Trilu", "", 14, trilu_prepare, kiln_mv_free_params, trilu_run},
    {"ReverseSequence", "", 10, revseq_prepare, kiln_mv_free_params, revseq_run},
    {"Pad", "", 1, kiln_mv_pad_prepare, kiln_mv_free_params, kiln_mv_pad_run},
    {"CenterCropPad", "", 18, kiln_mv_ccp_prepare, kiln_mv_free_params, kiln_mv_ccp_run},
    {"Resize", "", 10, kiln_mv_resize_prepare, kiln_mv_free_params, kiln_mv_resize_run},
    {"Upsample", "", 7, kiln_mv_resize_prepare, kiln_mv_free_params, kiln_mv_resize_run},
    {"GridSample", "", 16, kiln_mv_grid_sample_prepare, kiln_mv_free_params, kiln_mv_grid_sample_run},
    {"AffineGrid", "", 20, kiln_mv_affine_grid_prepare, kiln_mv_free_params, kiln_mv_affine_grid_run},
    {0},
};
