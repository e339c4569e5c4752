#include "shape/infer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"
#include "shape/infer-internal.h"

/* Interprets a shape vector as a shape; returns rank or -1. */
static int sv_as_dims(const shape_vec *v, kiln_dim *dims) {
    if (!v || v->rank != 1 || v->len > KILN_MAX_DIMS) return -1;
    for (int i = 0; i < v->len; i++) dims[i] = v->e[i];
    return v->len;
}

/* ---- per-op rules ---- */

static kiln_status broadcast(infer_state *s, const kiln_node *n, int first, int count, kiln_dim *out, int *rout) {
    int r = 0;
    for (int i = first; i < first + count && i < n->n_in; i++) {
        const kiln_type *t = vtype(s, n->in[i]);
        if (!has_rank(t)) return *rout = -1, KILN_OK;
        if (t->rank > r) r = t->rank;
    }
    for (int d = 0; d < r; d++) out[d] = known_dim(1);
    for (int i = first; i < first + count && i < n->n_in; i++) {
        const kiln_type *t = vtype(s, n->in[i]);
        for (int d = 0; d < t->rank; d++) {
            kiln_dim *o = &out[r - t->rank + d];
            kiln_dim x = t->dims[d];
            if (x.v == 1) continue;
            if (o->v == 1) {
                *o = x;
            } else if (dim_eq(*o, x)) {
                continue;
            } else if (o->v >= 0 && x.v >= 0) {
                return kiln_error(KILN_ERR_SHAPE, "node '%s' (%s): input dims %lld and %lld cannot be broadcast",
                                  n->name, n->op_type, (long long)o->v, (long long)x.v);
            } else if (x.v >= 0) {
                *o = x; /* the symbol must equal the number (or be 1) */
            } else if (o->v < 0) {
                *o = UNKNOWN_DIM;
            }
        }
    }
    *rout = r;
    return KILN_OK;
}

static int in_matches(const char *op, const char *const *list) {
    for (; *list; list++)
        if (strcmp(op, *list) == 0) return 1;
    return 0;
}

static const char *const same_type_ops[] = {
    "Abs", "Neg", "Reciprocal", "Sqrt", "Exp", "Log", "Ceil", "Floor", "Round", "Sign", "Sin", "Cos", "Tan",
    "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Erf", "Relu", "LeakyRelu", "Elu",
    "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus", "Softsign", "ThresholdedRelu",
    "Gelu", "Mish", "Swish", "Shrink", "Identity", "Softmax", "LogSoftmax", "Hardmax", "LayerNormalization",
    "BatchNormalization", "InstanceNormalization", "GroupNormalization", "RMSNormalization", "LpNormalization",
    "MeanVarianceNormalization", "Clip", "Dropout", "Not", "BitwiseNot", "CumSum", "CumProd", "Trilu",
    "LRN", "Bernoulli", NULL};
static const char *const broadcast_ops[] = {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum",
                                            "Mean", "PRelu", "BitShift", "BitwiseAnd", "BitwiseOr",
                                            "BitwiseXor", NULL};
static const char *const compare_ops[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And",
                                          "Or", "Xor", NULL};
static const char *const reduce_ops[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                         "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                                         "ReduceSumSquare", NULL};

static void infer_matmul(infer_state *s, const kiln_node *n, kiln_dtype dt) {
    const kiln_type *a = vtype(s, n->in[0]), *b = n->n_in > 1 ? vtype(s, n->in[1]) : NULL;
    if (!has_rank(a) || !has_rank(b) || a->rank == 0 || b->rank == 0) return set_out(s, n, 0, dt, -1, NULL);
    /* numpy semantics: batch dims broadcast; a 1-D operand contributes no row/column dim */
    int ba = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
    int rb = ba > bb ? ba : bb;
    kiln_dim out[KILN_MAX_DIMS + 2];
    for (int d = 0; d < rb; d++) {
        int ia = d - (rb - ba), ib = d - (rb - bb);
        kiln_dim x = ia >= 0 ? a->dims[ia] : known_dim(1), y = ib >= 0 ? b->dims[ib] : known_dim(1);
        out[d] = x.v == 1 ? y : (y.v == 1 || dim_eq(x, y)) ? x : (x.v >= 0 ? x : y.v >= 0 ? y : UNKNOWN_DIM);
    }
    int r = rb;
    if (a->rank > 1) out[r++] = a->dims[a->rank - 2];
    if (b->rank > 1) out[r++] = b->dims[b->rank - 1];
    if (r > KILN_MAX_DIMS) return set_out(s, n, 0, dt, -1, NULL);
    set_out(s, n, 0, dt, r, out);
}

/* Output size of one spatial axis of a conv / pool window. */
static kiln_dim window_out(kiln_dim in, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad, int64_t dil,
                           int ceil_mode, const char *auto_pad) {
    if (in.v < 0 || k <= 0 || stride <= 0) return UNKNOWN_DIM;
    if (auto_pad && (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER")))
        return known_dim((in.v + stride - 1) / stride);
    int64_t eff = (k - 1) * dil + 1;
    if (auto_pad && !strcmp(auto_pad, "VALID")) return known_dim((in.v - eff) / stride + 1);
    int64_t num = in.v + pad - eff;
    if (num < 0) return UNKNOWN_DIM;
    int64_t o = ceil_mode ? (num + stride - 1) / stride + 1 : num / stride + 1;
    if (ceil_mode && (o - 1) * stride >= in.v + pad_begin) o--; /* last window must start inside */
    return known_dim(o);
}

static void infer_window(infer_state *s, const kiln_node *n, int is_conv) {
    const kiln_type *x = vtype(s, n->in[0]);
    kiln_dtype dt = x ? x->dtype : KILN_UNDEFINED;
    if (!has_rank(x) || x->rank < 3) return set_out(s, n, 0, dt, -1, NULL);
    int sp = x->rank - 2, cnt;
    kiln_dim out[KILN_MAX_DIMS];
    out[0] = x->dims[0];
    int64_t k[KILN_MAX_DIMS];
    const int64_t *ks = kiln_attr_ints(n, "kernel_shape", &cnt);
    if (ks && cnt == sp) {
        memcpy(k, ks, sizeof(int64_t) * (size_t)sp);
    } else if (is_conv && n->n_in > 1 && has_rank(vtype(s, n->in[1])) && vtype(s, n->in[1])->rank == x->rank) {
        for (int i = 0; i < sp; i++) k[i] = vtype(s, n->in[1])->dims[2 + i].v;
    } else {
        return set_out(s, n, 0, dt, -1, NULL);
    }
    if (is_conv) {
        const kiln_type *w = n->n_in > 1 ? vtype(s, n->in[1]) : NULL;
        out[1] = has_rank(w) ? w->dims[0] : UNKNOWN_DIM;
    } else {
        out[1] = x->dims[1];
    }
    int ns, np, nd;
    const int64_t *st = kiln_attr_ints(n, "strides", &ns);
    const int64_t *pd = kiln_attr_ints(n, "pads", &np);
    const int64_t *dl = kiln_attr_ints(n, "dilations", &nd);
    const char *ap = kiln_attr_string(n, "auto_pad", "NOTSET");
    int ceil_mode = (int)kiln_attr_int(n, "ceil_mode", 0);
    for (int i = 0; i < sp; i++) {
        int64_t stride = ns == sp ? st[i] : 1, dil = nd == sp ? dl[i] : 1;
        int64_t pb = np == 2 * sp ? pd[i] : 0, pad = np == 2 * sp ? pd[i] + pd[i + sp] : 0;
        out[2 + i] = window_out(x->dims[2 + i], k[i], stride, pb, pad, dil, ceil_mode, ap);
    }
    set_out(s, n, 0, dt, x->rank, out);
    if (!is_conv && n->n_out > 1) set_out(s, n, 1, KILN_INT64, x->rank, out); /* MaxPool indices */
}

static void infer_reduce(infer_state *s, const kiln_node *n, kiln_dtype dt, int arg) {
    const kiln_type *x = vtype(s, n->in[0]);
    if (!has_rank(x)) return set_out(s, n, 0, dt, -1, NULL);
    int keep = (int)kiln_attr_int(n, "keepdims", 1);
    int64_t axes[KILN_MAX_DIMS];
    int na = 0, cnt;
    if (arg) {
        axes[0] = kiln_attr_int(n, "axis", 0);
        na = 1;
    } else {
        const int64_t *a = kiln_attr_ints(n, "axes", &cnt);
        if (a) {
            if (cnt > KILN_MAX_DIMS) return set_out(s, n, 0, dt, -1, NULL);
            memcpy(axes, a, sizeof(int64_t) * (size_t)cnt);
            na = cnt;
        } else if (n->n_in > 1 && n->in[1] >= 0) {
            na = const_signed(s, n->in[1], axes, KILN_MAX_DIMS);
            if (na < 0) return set_out(s, n, 0, dt, -1, NULL);
        }
        if (na == 0 && kiln_attr_int(n, "noop_with_empty_axes", 0)) return set_out_like(s, n, 0, dt, x);
    }
    int red[KILN_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) {
        int a = norm_axis(axes[i], x->rank);
        if (a < 0 || a >= x->rank) return set_out(s, n, 0, dt, -1, NULL);
        red[a] = 1;
    }
    if (na == 0)
        for (int i = 0; i < x->rank; i++) red[i] = 1;
    kiln_dim out[KILN_MAX_DIMS];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!red[i])
            out[r++] = x->dims[i];
        else if (keep)
            out[r++] = known_dim(1);
    }
    set_out(s, n, 0, dt, r, out);
}

static void infer_reshape(infer_state *s, const kiln_node *n) {
    const kiln_type *x = vtype(s, n->in[0]);
    kiln_dtype dt = x ? x->dtype : KILN_UNDEFINED;
    kiln_dim dims[KILN_MAX_DIMS];
    int r = n->n_in > 1 ? sv_as_dims(sv_of(s, n->in[1]), dims) : -1;
    if (r < 0) return set_out(s, n, 0, dt, -1, NULL);
    int allowzero = (int)kiln_attr_int(n, "allowzero", 0);
    int infer_at = -1;
    for (int i = 0; i < r; i++) {
        if (dims[i].v == 0 && !dims[i].sym && !allowzero) dims[i] = has_rank(x) && i < x->rank ? x->dims[i] : UNKNOWN_DIM;
        else if (dims[i].v == -1 && !dims[i].sym) infer_at = i;
    }
    if (infer_at >= 0) {
        dims[infer_at] = UNKNOWN_DIM;
        int64_t total = 1, rest = 1;
        int ok = has_rank(x);
        for (int i = 0; ok && i < x->rank; i++) ok = x->dims[i].v >= 0, total *= ok ? x->dims[i].v : 1;
        for (int i = 0; ok && i < r; i++)
            if (i != infer_at) ok = dims[i].v >= 0, rest *= ok ? dims[i].v : 1;
        if (ok && rest > 0 && total % rest == 0) dims[infer_at] = known_dim(total / rest);
        /* symbolic: [batch, s, 12, 64] -> [batch, s, -1] keeps 768 when the other dims match symbol for symbol */
        if (!ok && has_rank(x)) {
            int64_t kx = 1, kd = 1;
            int used[KILN_MAX_DIMS] = {0}, fine = 1;
            for (int i = 0; i < x->rank; i++) {
                if (x->dims[i].v >= 0) { kx *= x->dims[i].v; continue; }
                int found = 0;
                for (int j = 0; j < r && !found; j++)
                    if (j != infer_at && !used[j] && x->dims[i].sym && dims[j].sym && dim_eq(dims[j], x->dims[i]))
                        used[j] = found = 1;
                fine &= found;
            }
            for (int j = 0; j < r; j++)
                if (j != infer_at && !used[j]) {
                    if (dims[j].v < 0) fine = 0;
                    else kd *= dims[j].v;
                }
            if (fine && kd > 0 && kx % kd == 0) dims[infer_at] = known_dim(kx / kd);
        }
    }
    set_out(s, n, 0, dt, r, dims);
}

static void infer_node(infer_state *s, kiln_graph *g, const kiln_node *n, kiln_status *st) {
    const char *op = n->op_type;
    const kiln_type *x = n->n_in > 0 ? vtype(s, n->in[0]) : NULL;
    kiln_dtype dt = x ? x->dtype : KILN_UNDEFINED;
    kiln_dim out[KILN_MAX_DIMS];
    int r = -1;
    if (n->domain[0] && strcmp(n->domain, "ai.onnx")) return; /* only the default domain is modelled */
    for (int j = 0; j < n->n_in; j++) /* sequences and optionals flow through untouched */
        if (n->in[j] >= 0 && vtype(s, n->in[j])->kind != KILN_KIND_TENSOR) return;
    if (kiln_infer_rules_more(s, n)) {
        return;
    } else if (in_matches(op, same_type_ops)) {
        set_out_like(s, n, 0, dt, x);
    } else if (!strcmp(op, "Cast")) {
        set_out_like(s, n, 0, (kiln_dtype)kiln_attr_int(n, "to", 0), x);
        const shape_vec *v = sv_of(s, n->in[0]);
        if (v) sv_store(s, n, 0, v);
    } else if (!strcmp(op, "CastLike")) {
        const kiln_type *y = n->n_in > 1 ? vtype(s, n->in[1]) : NULL;
        set_out_like(s, n, 0, y ? y->dtype : KILN_UNDEFINED, x);
    } else if (in_matches(op, broadcast_ops) || in_matches(op, compare_ops) || !strcmp(op, "Where")) {
        int first = !strcmp(op, "Where") ? 0 : 0;
        *st = broadcast(s, n, first, n->n_in, out, &r);
        if (*st) return;
        kiln_dtype odt = in_matches(op, compare_ops) ? KILN_BOOL : dt;
        if (!strcmp(op, "Where")) odt = n->n_in > 1 && vtype(s, n->in[1]) ? vtype(s, n->in[1])->dtype : KILN_UNDEFINED;
        set_out(s, n, 0, odt, r, out);
    } else if (!strcmp(op, "IsNaN") || !strcmp(op, "IsInf")) {
        set_out_like(s, n, 0, KILN_BOOL, x);
    } else if (!strcmp(op, "MatMul")) {
        infer_matmul(s, n, dt);
    } else if (!strcmp(op, "Gemm")) {
        const kiln_type *b = n->n_in > 1 ? vtype(s, n->in[1]) : NULL;
        if (!has_rank(x) || !has_rank(b) || x->rank != 2 || b->rank != 2) return set_out(s, n, 0, dt, -1, NULL);
        out[0] = kiln_attr_int(n, "transA", 0) ? x->dims[1] : x->dims[0];
        out[1] = kiln_attr_int(n, "transB", 0) ? b->dims[0] : b->dims[1];
        set_out(s, n, 0, dt, 2, out);
    } else if (!strcmp(op, "Conv")) {
        infer_window(s, n, 1);
    } else if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool") || !strcmp(op, "LpPool")) {
        infer_window(s, n, 0);
    } else if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "GlobalMaxPool") || !strcmp(op, "GlobalLpPool")) {
        if (!has_rank(x)) return set_out(s, n, 0, dt, -1, NULL);
        for (int i = 0; i < x->rank; i++) out[i] = i < 2 ? x->dims[i] : known_dim(1);
        set_out(s, n, 0, dt, x->rank, out);
    } else if (in_matches(op, reduce_ops)) {
        infer_reduce(s, n, dt, 0);
    } else if (!strcmp(op, "ArgMax") || !strcmp(op, "ArgMin")) {
        infer_reduce(s, n, KILN_INT64, 1);
    } else if (!strcmp(op, "Shape")) {
        if (!has_rank(x)) return set_out(s, n, 0, KILN_INT64, 1, &UNKNOWN_DIM);
        int64_t b = kiln_attr_int(n, "start", 0), e = kiln_attr_int(n, "end", x->rank);
        if (b < 0) b += x->rank;
        if (e < 0) e += x->rank;
        b = b < 0 ? 0 : b > x->rank ? x->rank : b;
        e = e < 0 ? 0 : e > x->rank ? x->rank : e;
        int len = e > b ? (int)(e - b) : 0;
        kiln_dim d = known_dim(len);
        set_out(s, n, 0, KILN_INT64, 1, &d);
        sv_set(s, n, 0, 1, len, x->dims + b);
    } else if (!strcmp(op, "Size")) {
        set_out(s, n, 0, KILN_INT64, 0, NULL);
    } else if (!strcmp(op, "Reshape")) {
        infer_reshape(s, n);
    } else if (!strcmp(op, "Flatten")) {
        if (!has_rank(x)) return set_out(s, n, 0, dt, -1, NULL);
        int a = norm_axis(kiln_attr_int(n, "axis", 1), x->rank);
        int64_t p0 = 1, p1 = 1;
        int k0 = 1, k1 = 1;
        for (int i = 0; i < x->rank; i++) {
            if (i < a) k0 &= x->dims[i].v >= 0, p0 *= x->dims[i].v >= 0 ? x->dims[i].v : 1;
            else k1 &= x->dims[i].v >= 0, p1 *= x->dims[i].v >= 0 ? x->dims[i].v : 1;
        }
        out[0] = k0 ? known_dim(p0) : (a == 1 ? x->dims[0] : UNKNOWN_DIM);
        out[1] = k1 ? known_dim(p1) : (a == x->rank - 1 ? x->dims[a] : UNKNOWN_DIM);
        set_out(s, n, 0, dt, 2, out);
    } else if (!strcmp(op, "Transpose")) {
        if (!has_rank(x)) return set_out(s, n, 0, dt, -1, NULL);
        int cnt;
        const int64_t *perm = kiln_attr_ints(n, "perm", &cnt);
        for (int i = 0; i < x->rank; i++) {
            int64_t p = perm && cnt == x->rank ? perm[i] : x->rank - 1 - i;
            out[i] = p >= 0 && p < x->rank ? x->dims[p] : UNKNOWN_DIM;
        }
        set_out(s, n, 0, dt, x->rank, out);
    } else if (!strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze")) {
        int64_t axes[KILN_MAX_DIMS];
        int na, cnt;
        const int64_t *a = kiln_attr_ints(n, "axes", &cnt);
        if (a && cnt <= KILN_MAX_DIMS) memcpy(axes, a, sizeof(int64_t) * (size_t)cnt), na = cnt;
        else na = n->n_in > 1 ? const_signed(s, n->in[1], axes, KILN_MAX_DIMS) : (a ? -1 : 0);
        if (!has_rank(x) || na < 0) return set_out(s, n, 0, dt, -1, NULL);
        const shape_vec *v = sv_of(s, n->in[0]);
        if (!strcmp(op, "Unsqueeze")) {
            int ro = x->rank + na, mark[KILN_MAX_DIMS * 2] = {0};
            if (ro > KILN_MAX_DIMS) return set_out(s, n, 0, dt, -1, NULL);
            for (int i = 0; i < na; i++) {
                int ax = norm_axis(axes[i], ro);
                if (ax < 0 || ax >= ro) return set_out(s, n, 0, dt, -1, NULL);
                mark[ax] = 1;
            }
            for (int i = 0, k = 0; i < ro; i++) out[i] = mark[i] ? known_dim(1) : x->dims[k++];
            set_out(s, n, 0, dt, ro, out);
            if (v && v->rank == 0 && ro == 1) {
                shape_vec u = *v;
                u.rank = 1;
                sv_store(s, n, 0, &u);
            }
        } else {
            int mark[KILN_MAX_DIMS] = {0}, ro = 0;
            for (int i = 0; i < na; i++) {
                int ax = norm_axis(axes[i], x->rank);
                if (ax < 0 || ax >= x->rank) return set_out(s, n, 0, dt, -1, NULL);
                mark[ax] = 1;
            }
            for (int i = 0; i < x->rank; i++) {
                if (na == 0 && x->dims[i].v < 0) return set_out(s, n, 0, dt, -1, NULL);
                if (!(mark[i] || (na == 0 && x->dims[i].v == 1))) out[ro++] = x->dims[i];
            }
            set_out(s, n, 0, dt, ro, out);
            if (v && v->rank == 1 && v->len == 1 && ro == 0) {
                shape_vec u = *v;
                u.rank = 0;
                sv_store(s, n, 0, &u);
            }
        }
    } else if (!strcmp(op, "Concat")) {
        if (!has_rank(x)) return set_out(s, n, 0, dt, -1, NULL);
        int a = norm_axis(kiln_attr_int(n, "axis", 0), x->rank);
        if (a < 0 || a >= x->rank) return set_out(s, n, 0, dt, -1, NULL);
        memcpy(out, x->dims, sizeof(kiln_dim) * (size_t)x->rank);
        int64_t sum = 0;
        int known = 1;
        shape_vec cat = {1, 1, 0, {{0, NULL}}, {0}, 0};
        for (int i = 0; i < n->n_in; i++) {
            const kiln_type *t = vtype(s, n->in[i]);
            if (!has_rank(t) || t->rank != x->rank) return set_out(s, n, 0, dt, -1, NULL);
            known &= t->dims[a].v >= 0;
            sum += t->dims[a].v;
            const shape_vec *v = sv_of(s, n->in[i]);
            if (!v || v->rank != 1 || cat.len + v->len > SV_MAX) cat.known = 0;
            else for (int k = 0; k < v->len; k++) sv_put_from(&cat, cat.len++, v, k);
        }
        out[a] = known ? known_dim(sum) : UNKNOWN_DIM;
        set_out(s, n, 0, dt, x->rank, out);
        if (cat.known) sv_store(s, n, 0, &cat);
    } else if (!strcmp(op, "Gather")) {
        const kiln_type *ix = n->n_in > 1 ? vtype(s, n->in[1]) : NULL;
        if (!has_rank(x) || !has_rank(ix) || x->rank + ix->rank - 1 > KILN_MAX_DIMS)
            return set_out(s, n, 0, dt, -1, NULL);
        int a = norm_axis(kiln_attr_int(n, "axis", 0), x->rank);
        if (a < 0 || a >= x->rank) return set_out(s, n, 0, dt, -1, NULL);
        int k = 0;
        for (int i = 0; i < a; i++) out[k++] = x->dims[i];
        for (int i = 0; i < ix->rank; i++) out[k++] = ix->dims[i];
        for (int i = a + 1; i < x->rank; i++) out[k++] = x->dims[i];
        set_out(s, n, 0, dt, k, out);
        const shape_vec *v = sv_of(s, n->in[0]);
        int64_t idx[SV_MAX];
        int ni = const_signed(s, n->in[1], idx, SV_MAX);
        if (v && v->rank == 1 && a == 0 && ni >= 0 && ix->rank <= 1) {
            shape_vec o = {1, ix->rank, ni, {{0, NULL}}, {0}, 0};
            for (int i = 0; i < ni; i++) {
                int64_t j = idx[i] < 0 ? idx[i] + v->len : idx[i];
                if (j < 0 || j >= v->len) return;
                sv_put_from(&o, i, v, (int)j);
            }
            sv_store(s, n, 0, &o);
        }
    } else if (!strcmp(op, "Slice") && n->opset >= 10) {
        int64_t st_[KILN_MAX_DIMS], en[KILN_MAX_DIMS], ax[KILN_MAX_DIMS], sp[KILN_MAX_DIMS];
        int ns = n->n_in > 1 ? const_signed(s, n->in[1], st_, KILN_MAX_DIMS) : -1;
        int ne = n->n_in > 2 ? const_signed(s, n->in[2], en, KILN_MAX_DIMS) : -1;
        int na = n->n_in > 3 && n->in[3] >= 0 ? const_signed(s, n->in[3], ax, KILN_MAX_DIMS) : -2;
        int np = n->n_in > 4 && n->in[4] >= 0 ? const_signed(s, n->in[4], sp, KILN_MAX_DIMS) : -2;
        /* ends known only as dims (x[:, :seq] with seq from a Shape): a slice from 0 by 1 has that many */
        const shape_vec *ev = ne < 0 && n->n_in > 2 ? sv_of(s, n->in[2]) : NULL;
        if (ev && ev->len == ns && ns >= 0) ne = ns;
        else ev = NULL;
        if (!has_rank(x) || ns < 0 || ne != ns || na == -1 || np == -1) return set_out(s, n, 0, dt, -1, NULL);
        memcpy(out, x->dims, sizeof(kiln_dim) * (size_t)x->rank);
        for (int i = 0; i < ns; i++) {
            int a = na >= 0 ? norm_axis(ax[i], x->rank) : i;
            int64_t step = np >= 0 ? sp[i] : 1;
            if (a < 0 || a >= x->rank || step == 0) return set_out(s, n, 0, dt, -1, NULL);
            int64_t d = x->dims[a].v;
            if (ev && (ev->exact >> i & 1u)) en[i] = ev->num[i];
            if (ev && !(ev->exact >> i & 1u)) {
                out[a] = st_[i] == 0 && step == 1 && ev->e[i].sym ? ev->e[i] : UNKNOWN_DIM;
                continue;
            }
            if (d < 0) { /* x[0:] keeps the dim */
                out[a] = st_[i] == 0 && step == 1 && en[i] >= INT32_MAX ? x->dims[a] : UNKNOWN_DIM;
                continue;
            }
            int64_t b = st_[i] < 0 ? st_[i] + d : st_[i], e = en[i] < 0 ? en[i] + d : en[i];
            if (step > 0) {
                b = b < 0 ? 0 : b > d ? d : b;
                e = e < 0 ? 0 : e > d ? d : e;
                out[a] = known_dim(e > b ? (e - b + step - 1) / step : 0);
            } else {
                b = b < 0 ? -1 : b > d - 1 ? d - 1 : b;
                e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
                out[a] = known_dim(b > e ? (b - e + (-step) - 1) / (-step) : 0);
            }
        }
        set_out(s, n, 0, dt, x->rank, out);
        const shape_vec *v = sv_of(s, n->in[0]);
        if (v && !ev && v->rank == 1 && ns == 1 && (na < 0 || norm_axis(ax[0], 1) == 0) && (np < 0 || sp[0] == 1)) {
            int64_t b = st_[0] < 0 ? st_[0] + v->len : st_[0], e = en[0] < 0 ? en[0] + v->len : en[0];
            b = b < 0 ? 0 : b > v->len ? v->len : b;
            e = e < 0 ? 0 : e > v->len ? v->len : e;
            shape_vec o = {1, 1, 0, {{0, NULL}}, {0}, 0};
            for (int64_t k = b; k < e; k++) sv_put_from(&o, o.len++, v, (int)k);
            if (e >= b) sv_store(s, n, 0, &o);
        }
    } else if (!strcmp(op, "Expand")) {
        kiln_dim sh[KILN_MAX_DIMS];
        int rs = n->n_in > 1 ? sv_as_dims(sv_of(s, n->in[1]), sh) : -1;
        if (!has_rank(x) || rs < 0) return set_out(s, n, 0, dt, -1, NULL);
        int ro = rs > x->rank ? rs : x->rank;
        for (int i = 0; i < ro; i++) {
            int ix = i - (ro - x->rank), is = i - (ro - rs);
            kiln_dim a = ix >= 0 ? x->dims[ix] : known_dim(1), b = is >= 0 ? sh[is] : known_dim(1);
            out[i] = a.v == 1 ? b : (b.v == 1 || dim_eq(a, b)) ? a : (a.v >= 0 ? a : b.v >= 0 ? b : UNKNOWN_DIM);
        }
        set_out(s, n, 0, dt, ro, out);
    } else if (!strcmp(op, "ConstantOfShape")) {
        const kiln_attr *v = kiln_node_attr(n, "value");
        kiln_dtype odt = v && v->t ? v->t->dtype : KILN_FLOAT;
        r = sv_as_dims(sv_of(s, n->in[0]), out);
        set_out(s, n, 0, odt, r, out);
    } else if (!strcmp(op, "Constant")) {
        const kiln_attr *v = n->n_attrs > 0 ? &n->attrs[0] : NULL;
        if (v && v->t) {
            kiln_dim d[KILN_MAX_DIMS];
            for (int i = 0; i < v->t->rank; i++) d[i] = known_dim(v->t->dims[i]);
            set_out(s, n, 0, v->t->dtype, v->t->rank, d);
            if (n->out[0] >= 0) kiln_infer_sv_from_tensor(&s->sv[n->out[0]], v->t);
        } else if (v && (v->type == KILN_ATTR_INT || v->type == KILN_ATTR_FLOAT)) {
            set_out(s, n, 0, v->type == KILN_ATTR_INT ? KILN_INT64 : KILN_FLOAT, 0, NULL);
            if (v->type == KILN_ATTR_INT) {
                shape_vec o = {1, 0, 1, {{0, NULL}}, {0}, 0};
                sv_put_num(&o, 0, v->i);
                sv_store(s, n, 0, &o);
            }
        } else if (v && (v->type == KILN_ATTR_INTS || v->type == KILN_ATTR_FLOATS)) {
            kiln_dim d = known_dim(v->n);
            set_out(s, n, 0, v->type == KILN_ATTR_INTS ? KILN_INT64 : KILN_FLOAT, 1, &d);
            if (v->type == KILN_ATTR_INTS && v->n <= SV_MAX) { /* torchlib's op.Constant(value_ints=[...]) */
                shape_vec o = {1, 1, v->n, {{0, NULL}}, {0}, 0};
                for (int k = 0; k < v->n; k++) sv_put_num(&o, k, v->ints[k]);
                sv_store(s, n, 0, &o);
            }
        }
    } else if (!strcmp(op, "Split")) {
        if (!has_rank(x)) return;
        int a = norm_axis(kiln_attr_int(n, "axis", 0), x->rank);
        if (a < 0 || a >= x->rank) return;
        int64_t parts[64];
        int cnt, np = -1;
        const int64_t *sa = kiln_attr_ints(n, "split", &cnt);
        if (sa && cnt <= 64) memcpy(parts, sa, sizeof(int64_t) * (size_t)cnt), np = cnt;
        else if (n->n_in > 1 && n->in[1] >= 0) np = const_signed(s, n->in[1], parts, 64);
        for (int i = 0; i < n->n_out; i++) {
            memcpy(out, x->dims, sizeof(kiln_dim) * (size_t)x->rank);
            if (np == n->n_out) out[a] = known_dim(parts[i]);
            else if (np < 0 && x->dims[a].v >= 0 && x->dims[a].v % n->n_out == 0) out[a] = known_dim(x->dims[a].v / n->n_out);
            else out[a] = UNKNOWN_DIM;
            set_out(s, n, i, dt, x->rank, out);
        }
    } else if (!strcmp(op, "NonZero")) {
        out[0] = has_rank(x) ? known_dim(x->rank) : UNKNOWN_DIM;
        out[1] = UNKNOWN_DIM;
        set_out(s, n, 0, KILN_INT64, 2, out);
    }
    (void)g;
}

kiln_status kiln_infer_shapes(kiln_graph *g) {
    infer_state s = {g, calloc((size_t)g->n_values + 1, sizeof(shape_vec))};
    KILN_FAIL_IF(!s.sv, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < g->n_values; i++) {
        kiln_ir_value *v = &g->values[i];
        if (v->init) {
            v->type.kind = KILN_KIND_TENSOR;
            v->type.dtype = v->init->dtype;
            v->type.rank = v->init->rank;
            for (int d = 0; d < v->init->rank; d++) v->type.dims[d] = known_dim(v->init->dims[d]);
            kiln_infer_sv_from_tensor(&s.sv[i], v->init);
        }
    }
    kiln_status st = KILN_OK;
    for (int i = 0; i < g->n_nodes && st == KILN_OK; i++) {
        const kiln_node *n = &g->nodes[i];
        infer_node(&s, g, n, &st);
        if (st == KILN_OK && (!n->domain[0] || !strcmp(n->domain, "ai.onnx"))) kiln_infer_data(&s, n);
        for (int j = 0; j < n->n_attrs && st == KILN_OK; j++) {
            if (n->attrs[j].g) st = kiln_infer_shapes(n->attrs[j].g);
            for (int k = 0; n->attrs[j].graphs && k < n->attrs[j].n && st == KILN_OK; k++)
                st = kiln_infer_shapes(n->attrs[j].graphs[k]);
        }
    }
    free(s.sv);
    return st;
}

const char *kiln_type_str(const kiln_type *t, char *buf, size_t n) {
    if (!n) return buf;
    if (t->kind == KILN_KIND_SEQUENCE) {
        snprintf(buf, n, "seq(%s)", kiln_dtype_name(t->dtype));
        return buf;
    }
    size_t o = (size_t)snprintf(buf, n, "%s%s", t->kind == KILN_KIND_OPTIONAL ? "optional " : "",
                                t->dtype ? kiln_dtype_name(t->dtype) : "?");
    if (o >= n) return buf;
    if (t->rank < 0) {
        snprintf(buf + o, n - o, "[?]");
        return buf;
    }
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int i = 0; i < t->rank && o < n; i++) {
        const char *sep = i ? "," : "";
        if (t->dims[i].v >= 0)
            o += (size_t)snprintf(buf + o, n - o, "%s%lld", sep, (long long)t->dims[i].v);
        else
            o += (size_t)snprintf(buf + o, n - o, "%s%s", sep, t->dims[i].sym ? t->dims[i].sym : "?");
    }
    if (o < n) snprintf(buf + o, n - o, "]");
    return buf;
}
