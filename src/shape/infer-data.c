/* Shape rules for the index, padding and tiling ops and the extra outputs infer.c leaves alone, and the data
 * propagation of shape vectors (after ONNX's data propagation): integer arithmetic, Size, ReduceProd and Range over
 * elements known as numbers or symbols, so that shape computations exporters write as Shape -> Gather ->
 * Mul/Add -> Concat -> Reshape (or Range -> Expand -> GatherND) give bounded shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "shape/infer-internal.h"

void kiln_infer_sv_from_tensor(shape_vec *o, const kiln_tensor *t) {
    if (!t || (t->dtype != KILN_INT64 && t->dtype != KILN_INT32) || t->rank > 1) return;
    int64_t n = kiln_tensor_numel(t);
    if (n < 0 || n > SV_MAX) return;
    memset(o, 0, sizeof *o);
    o->known = 1;
    o->rank = t->rank;
    o->len = (int)n;
    for (int64_t i = 0; i < n; i++) sv_put_num(o, (int)i, kiln_load_i64(t->dtype, t->data, i));
}

static int is_int(kiln_dtype t) {
    return t == KILN_INT64 || t == KILN_INT32 || t == KILN_INT16 || t == KILN_INT8 || t == KILN_UINT64 ||
           t == KILN_UINT32 || t == KILN_UINT16 || t == KILN_UINT8;
}

/* A scalar (or one-element vector) input's element: its dim and, when exact, its value. */
static int scalar_of(infer_state *s, int v, kiln_dim *d, int64_t *num, int *exact) {
    const shape_vec *sv = sv_of(s, v);
    if (!sv || sv->len != 1) return 0;
    *d = sv->e[0];
    *num = sv->num[0];
    *exact = (int)(sv->exact & 1u);
    return 1;
}

/* ---- rules ---- */

static void gather_nd(infer_state *s, const kiln_node *n, kiln_dtype dt) {
    const kiln_type *x = vtype(s, n->in[0]), *ix = n->n_in > 1 ? vtype(s, n->in[1]) : NULL;
    int64_t b = kiln_attr_int(n, "batch_dims", 0);
    if (!has_rank(x) || !has_rank(ix) || ix->rank < 1 || b < 0) return set_out(s, n, 0, dt, -1, NULL);
    int64_t k = ix->dims[ix->rank - 1].v;
    if (k < 0 || b + k > x->rank || b >= ix->rank) return set_out(s, n, 0, dt, -1, NULL);
    int r = ix->rank - 1 + x->rank - (int)k - (int)b;
    if (r > KILN_MAX_DIMS) return set_out(s, n, 0, dt, -1, NULL);
    kiln_dim out[KILN_MAX_DIMS];
    int o = 0;
    for (int i = 0; i < ix->rank - 1; i++) out[o++] = ix->dims[i];
    for (int i = (int)(b + k); i < x->rank; i++) out[o++] = x->dims[i];
    set_out(s, n, 0, dt, r, out);
}

static void tile(infer_state *s, const kiln_node *n, const kiln_type *x, kiln_dtype dt) {
    int64_t rep[KILN_MAX_DIMS];
    int nr = n->n_in > 1 ? const_signed(s, n->in[1], rep, KILN_MAX_DIMS) : -1;
    if (!has_rank(x)) return set_out(s, n, 0, dt, -1, NULL);
    kiln_dim out[KILN_MAX_DIMS];
    for (int i = 0; nr != x->rank && i < x->rank; i++) out[i] = UNKNOWN_DIM;
    if (nr != x->rank) return set_out(s, n, 0, dt, x->rank, out);
    for (int i = 0; i < x->rank; i++)
        out[i] = rep[i] == 1 ? x->dims[i] : x->dims[i].v >= 0 && rep[i] >= 0 ? known_dim(x->dims[i].v * rep[i])
                                                                               : UNKNOWN_DIM;
    set_out(s, n, 0, dt, x->rank, out);
}

static void pad(infer_state *s, const kiln_node *n, const kiln_type *x, kiln_dtype dt) {
    if (!has_rank(x)) return set_out(s, n, 0, dt, -1, NULL);
    int64_t pads[2 * KILN_MAX_DIMS], axes[KILN_MAX_DIMS];
    int np, cnt, na = -2;
    const int64_t *pa = kiln_attr_ints(n, "pads", &cnt);
    if (n->opset < 11 && pa && cnt <= 2 * KILN_MAX_DIMS) memcpy(pads, pa, sizeof(int64_t) * (size_t)cnt), np = cnt;
    else np = n->n_in > 1 ? const_signed(s, n->in[1], pads, 2 * KILN_MAX_DIMS) : -1;
    if (n->n_in > 3 && n->in[3] >= 0) na = const_signed(s, n->in[3], axes, KILN_MAX_DIMS);
    kiln_dim out[KILN_MAX_DIMS];
    memcpy(out, x->dims, sizeof(kiln_dim) * (size_t)x->rank);
    int nax = na >= 0 ? na : x->rank;
    if (na == -1 || np != 2 * nax) {
        for (int i = 0; i < x->rank; i++) out[i] = UNKNOWN_DIM;
        return set_out(s, n, 0, dt, x->rank, out);
    }
    for (int i = 0; i < nax; i++) {
        int a = na >= 0 ? norm_axis(axes[i], x->rank) : i;
        if (a < 0 || a >= x->rank) return set_out(s, n, 0, dt, -1, NULL);
        int64_t add = pads[i] + pads[i + nax];
        if (add == 0) continue;
        out[a] = x->dims[a].v >= 0 && x->dims[a].v + add >= 0 ? known_dim(x->dims[a].v + add) : UNKNOWN_DIM;
    }
    set_out(s, n, 0, dt, x->rank, out);
}

static void topk(infer_state *s, const kiln_node *n, const kiln_type *x, kiln_dtype dt) {
    int64_t k[1] = {-1};
    int nk = -1;
    if (n->opset < 10) k[0] = kiln_attr_int(n, "k", -1), nk = k[0] >= 0;
    else if (n->n_in > 1) nk = const_signed(s, n->in[1], k, 1);
    if (!has_rank(x) || x->rank < 1) {
        set_out(s, n, 0, dt, -1, NULL);
        return set_out(s, n, 1, KILN_INT64, -1, NULL);
    }
    int a = norm_axis(kiln_attr_int(n, "axis", -1), x->rank);
    if (a < 0 || a >= x->rank) return;
    kiln_dim out[KILN_MAX_DIMS];
    memcpy(out, x->dims, sizeof(kiln_dim) * (size_t)x->rank);
    out[a] = nk == 1 && k[0] >= 0 ? known_dim(k[0]) : UNKNOWN_DIM;
    set_out(s, n, 0, dt, x->rank, out);
    set_out(s, n, 1, KILN_INT64, x->rank, out);
}

static void one_hot(infer_state *s, const kiln_node *n, const kiln_type *x) {
    const kiln_type *vals = n->n_in > 2 ? vtype(s, n->in[2]) : NULL;
    kiln_dtype dt = vals ? vals->dtype : KILN_UNDEFINED;
    if (!has_rank(x) || x->rank + 1 > KILN_MAX_DIMS) return set_out(s, n, 0, dt, -1, NULL);
    kiln_dim depth = UNKNOWN_DIM;
    const kiln_tensor *t = n->n_in > 1 && n->in[1] >= 0 ? s->g->values[n->in[1]].init : NULL;
    if (t && kiln_tensor_numel(t) == 1 && t->dtype != KILN_STRING) {
        double v = kiln_load_f64(t->dtype, t->data, 0);
        if (v >= 0 && v < 1e15) depth = known_dim((int64_t)v);
    } else {
        kiln_dim d;
        int64_t num;
        int ex;
        if (n->n_in > 1 && scalar_of(s, n->in[1], &d, &num, &ex)) depth = d;
    }
    int r = x->rank + 1, a = norm_axis(kiln_attr_int(n, "axis", -1), r);
    if (a < 0 || a >= r) return set_out(s, n, 0, dt, -1, NULL);
    kiln_dim out[KILN_MAX_DIMS];
    for (int i = 0, k = 0; i < r; i++) out[i] = i == a ? depth : x->dims[k++];
    set_out(s, n, 0, dt, r, out);
}

static void depth_space(infer_state *s, const kiln_node *n, const kiln_type *x, kiln_dtype dt, int to_space) {
    int64_t b = kiln_attr_int(n, "blocksize", 0);
    if (!has_rank(x) || x->rank != 4 || b <= 0) return set_out(s, n, 0, dt, -1, NULL);
    kiln_dim out[4] = {x->dims[0], UNKNOWN_DIM, UNKNOWN_DIM, UNKNOWN_DIM};
    int64_t c = x->dims[1].v, h = x->dims[2].v, w = x->dims[3].v;
    if (to_space) {
        if (c >= 0) out[1] = known_dim(c / (b * b));
        if (h >= 0) out[2] = known_dim(h * b);
        if (w >= 0) out[3] = known_dim(w * b);
    } else {
        if (c >= 0) out[1] = known_dim(c * b * b);
        if (h >= 0) out[2] = known_dim(h / b);
        if (w >= 0) out[3] = known_dim(w / b);
    }
    set_out(s, n, 0, dt, 4, out);
}

static void resize(infer_state *s, const kiln_node *n, const kiln_type *x, kiln_dtype dt) {
    if (!has_rank(x)) return set_out(s, n, 0, dt, -1, NULL);
    kiln_dim out[KILN_MAX_DIMS];
    for (int i = 0; i < x->rank; i++) out[i] = UNKNOWN_DIM;
    int64_t ax[KILN_MAX_DIMS], sz[KILN_MAX_DIMS];
    int cnt, na = x->rank;
    const int64_t *axes = n->opset >= 18 ? kiln_attr_ints(n, "axes", &cnt) : NULL;
    if (axes && cnt <= KILN_MAX_DIMS) memcpy(ax, axes, sizeof(int64_t) * (size_t)cnt), na = cnt;
    else for (int i = 0; i < x->rank; i++) ax[i] = i;
    const char *policy = kiln_attr_string(n, "keep_aspect_ratio_policy", "stretch");
    int si = n->opset >= 11 ? 3 : -1, ci = n->opset >= 11 ? 2 : 1;
    int ns = si >= 0 && n->n_in > si && n->in[si] >= 0 ? const_signed(s, n->in[si], sz, KILN_MAX_DIMS) : -1;
    const kiln_tensor *sc = n->n_in > ci && n->in[ci] >= 0 ? s->g->values[n->in[ci]].init : NULL;
    if (strcmp(policy, "stretch")) {
        /* the other policies derive every axis from one scale: left unknown */
    } else if (ns == na) {
        for (int i = 0; i < na; i++) {
            int a = norm_axis(ax[i], x->rank);
            if (a >= 0 && a < x->rank && sz[i] >= 0) out[a] = known_dim(sz[i]);
        }
    } else if (sc && kiln_tensor_numel(sc) == na && (sc->dtype == KILN_FLOAT || sc->dtype == KILN_DOUBLE)) {
        for (int i = 0; i < na; i++) {
            int a = norm_axis(ax[i], x->rank);
            double f = kiln_load_f64(sc->dtype, sc->data, i);
            if (a < 0 || a >= x->rank || x->dims[a].v < 0 || !(f > 0)) continue;
            out[a] = f == 1.0 ? x->dims[a] : known_dim((int64_t)floor((double)x->dims[a].v * f));
        }
    }
    for (int i = 0; i < x->rank; i++) /* axes not listed keep their size */
        if (axes) {
            int listed = 0;
            for (int k = 0; k < na; k++) listed |= norm_axis(ax[k], x->rank) == i;
            if (!listed) out[i] = x->dims[i];
        }
    set_out(s, n, 0, dt, x->rank, out);
}

static void range(infer_state *s, const kiln_node *n) {
    const kiln_type *x = vtype(s, n->in[0]);
    kiln_dtype dt = x ? x->dtype : KILN_UNDEFINED;
    kiln_dim d[3];
    int64_t v[3];
    int ex[3], ok = n->n_in == 3;
    for (int i = 0; ok && i < 3; i++) ok = scalar_of(s, n->in[i], &d[i], &v[i], &ex[i]);
    kiln_dim len = UNKNOWN_DIM;
    if (ok && ex[0] && ex[1] && ex[2] && v[2] != 0) {
        int64_t span = v[1] - v[0], q = span / v[2] + (span % v[2] != 0 && ((span < 0) == (v[2] < 0)));
        len = known_dim(q > 0 ? q : 0);
    } else if (ok && ex[0] && v[0] == 0 && ex[2] && v[2] == 1 && (d[1].v >= 0 || d[1].sym)) {
        len = d[1]; /* Range(0, n, 1): n elements */
    }
    set_out(s, n, 0, dt, 1, &len);
    if (len.v >= 0 && len.v <= SV_MAX && is_int(dt)) {
        shape_vec o = {1, 1, (int)len.v, {{0, NULL}}, {0}, 0};
        for (int i = 0; i < o.len; i++) sv_put_num(&o, i, v[0] + i * v[2]);
        sv_store(s, n, 0, &o);
    }
}

int kiln_infer_rules_more(infer_state *s, const kiln_node *n) {
    const char *op = n->op_type;
    const kiln_type *x = n->n_in > 0 ? vtype(s, n->in[0]) : NULL;
    kiln_dtype dt = x ? x->dtype : KILN_UNDEFINED;
    if (!strcmp(op, "GatherND")) {
        gather_nd(s, n, dt);
    } else if (!strcmp(op, "GatherElements")) {
        set_out_like(s, n, 0, dt, n->n_in > 1 ? vtype(s, n->in[1]) : NULL);
    } else if (!strcmp(op, "ScatterND") || !strcmp(op, "ScatterElements") || !strcmp(op, "Scatter")) {
        set_out_like(s, n, 0, dt, x);
    } else if (!strcmp(op, "Tile")) {
        tile(s, n, x, dt);
    } else if (!strcmp(op, "Pad")) {
        pad(s, n, x, dt);
    } else if (!strcmp(op, "TopK")) {
        topk(s, n, x, dt);
    } else if (!strcmp(op, "OneHot")) {
        one_hot(s, n, x);
    } else if (!strcmp(op, "DepthToSpace") || !strcmp(op, "SpaceToDepth")) {
        depth_space(s, n, x, dt, !strcmp(op, "DepthToSpace"));
    } else if (!strcmp(op, "Resize") || (!strcmp(op, "Upsample") && n->opset >= 9)) {
        resize(s, n, x, dt);
    } else if (!strcmp(op, "Range")) {
        range(s, n);
    } else if (!strcmp(op, "EyeLike")) {
        int64_t to = kiln_attr_int(n, "dtype", 0);
        set_out_like(s, n, 0, to ? (kiln_dtype)to : dt, x);
    } else if (!strcmp(op, "LayerNormalization") && n->n_out > 1) {
        set_out_like(s, n, 0, dt, x);
        if (!has_rank(x)) return 1;
        kiln_dim out[KILN_MAX_DIMS];
        int a = norm_axis(kiln_attr_int(n, "axis", -1), x->rank);
        for (int i = 0; i < x->rank; i++) out[i] = i < a ? x->dims[i] : known_dim(1);
        kiln_dtype u = kiln_attr_int(n, "stash_type", 1) == 16 ? KILN_BFLOAT16 : KILN_FLOAT;
        set_out(s, n, 1, u, x->rank, out);
        set_out(s, n, 2, u, x->rank, out);
    } else if (!strcmp(op, "Dropout") && n->n_out > 1) {
        set_out_like(s, n, 0, dt, x);
        set_out_like(s, n, 1, n->opset >= 12 ? KILN_BOOL : dt, x);
    } else {
        return 0;
    }
    return 1;
}

/* ---- data propagation ---- */

/* Element of a op b for the arithmetic ops; exact when both are, else a dim when the other side is an identity. */
static int arith(const char *op, const shape_vec *a, int i, const shape_vec *b, int j, shape_vec *o, int k) {
    int ea = (int)(a->exact >> i & 1u), eb = (int)(b->exact >> j & 1u);
    int64_t x = a->num[i], y = b->num[j];
    if (ea && eb) {
        int64_t r;
        if (!strcmp(op, "Add")) r = x + y;
        else if (!strcmp(op, "Sub")) r = x - y;
        else if (!strcmp(op, "Mul")) r = x * y;
        else if (!strcmp(op, "Div")) { if (x < 0 || y <= 0) return 0; r = x / y; } /* no rounding question */
        else if (!strcmp(op, "Max")) r = x > y ? x : y;
        else if (!strcmp(op, "Min")) r = x < y ? x : y;
        else return 0;
        sv_put_num(o, k, r);
        return 1;
    }
    kiln_dim d = UNKNOWN_DIM;
    if ((!strcmp(op, "Add") && ea && x == 0) || (!strcmp(op, "Mul") && ea && x == 1)) d = b->e[j];
    else if ((!strcmp(op, "Add") || !strcmp(op, "Sub")) && eb && y == 0) d = a->e[i];
    else if ((!strcmp(op, "Mul") || !strcmp(op, "Div")) && eb && y == 1) d = a->e[i];
    else if (!strcmp(op, "Mul") && ((ea && x == 0) || (eb && y == 0))) d = known_dim(0);
    else if ((!strcmp(op, "Max") || !strcmp(op, "Min")) && dim_eq(a->e[i], b->e[j])) d = a->e[i];
    sv_put_dim(o, k, d);
    return 1;
}

void kiln_infer_data(infer_state *s, const kiln_node *n) {
    const char *op = n->op_type;
    if (n->n_out < 1 || n->out[0] < 0 || s->sv[n->out[0]].known) return;
    const kiln_type *ot = vtype(s, n->out[0]);
    if (ot->kind != KILN_KIND_TENSOR || !is_int(ot->dtype)) return;
    shape_vec o = {1, 0, 0, {{0, NULL}}, {0}, 0};
    if (!strcmp(op, "Identity")) {
        const shape_vec *a = sv_of(s, n->in[0]);
        if (a) sv_store(s, n, 0, a);
    } else if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div") ||
               !strcmp(op, "Max") || !strcmp(op, "Min")) {
        if (n->n_in != 2) return;
        const shape_vec *a = sv_of(s, n->in[0]), *b = sv_of(s, n->in[1]);
        if (!a || !b || (a->len != b->len && a->len != 1 && b->len != 1)) return;
        o.rank = a->rank > b->rank ? a->rank : b->rank;
        o.len = a->len > b->len ? a->len : b->len;
        if (o.rank == 0 && o.len != 1) return;
        for (int k = 0; k < o.len; k++)
            if (!arith(op, a, a->len == 1 ? 0 : k, b, b->len == 1 ? 0 : k, &o, k)) return;
        sv_store(s, n, 0, &o);
    } else if (!strcmp(op, "Size") || (!strcmp(op, "ReduceProd") && n->n_in == 1)) {
        /* Size(x): the product of x's dims; ReduceProd of a whole shape vector: its elements' product */
        const kiln_type *x = vtype(s, n->in[0]);
        const shape_vec *a = !strcmp(op, "ReduceProd") ? sv_of(s, n->in[0]) : NULL;
        if (!strcmp(op, "ReduceProd") && (!a || a->rank != 1 || kiln_node_attr(n, "axes"))) return;
        o.rank = a && kiln_attr_int(n, "keepdims", 1) ? 1 : 0;
        if (!strcmp(op, "Size") && !has_rank(x)) return;
        int len = a ? a->len : x->rank;
        int64_t p = 1;
        int ok = 1;
        for (int k = 0; k < len && ok; k++) {
            int64_t v = a ? (a->exact >> k & 1u ? a->num[k] : -1) : x->dims[k].v;
            ok = v >= 0;
            p *= ok ? v : 1;
        }
        o.len = 1;
        if (ok) sv_put_num(&o, 0, p);
        else sv_put_dim(&o, 0, len == 1 ? (a ? a->e[0] : x->dims[0]) : UNKNOWN_DIM);
        sv_store(s, n, 0, &o);
    }
}
