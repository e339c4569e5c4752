/* Shared state of shape inference (infer.c: the per-op type rules; infer-data.c: more rules and the data
 * propagation of small integer "shape tensors"). Internal to src/shape. */
#ifndef KILN_SHAPE_INFER_INTERNAL_H
#define KILN_SHAPE_INFER_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "core/dtype.h"
#include "ir/graph.h"

/* A small integer tensor whose elements are known as dims (numbers or symbols): "shape tensors". Elements also
 * carry their exact value where it is known, negative ones included (a -1 in a Reshape shape, an axis, a start),
 * which the dims cannot hold apart from "unknown". */
#define SV_MAX (2 * KILN_MAX_DIMS)
typedef struct shape_vec {
    int known;   /* 1 when every element below is meaningful */
    int rank;    /* 0 (scalar) or 1 */
    int len;
    kiln_dim e[SV_MAX];
    int64_t num[SV_MAX]; /* the element's value where bit k of `exact` is set */
    uint32_t exact;
} shape_vec;

typedef struct infer_state {
    kiln_graph *g;
    shape_vec *sv; /* per value */
} infer_state;

static const kiln_dim UNKNOWN_DIM = {-1, NULL};

static inline int dim_eq(kiln_dim a, kiln_dim b) {
    if (a.v >= 0 || b.v >= 0) return a.v == b.v;
    return a.sym && b.sym && strcmp(a.sym, b.sym) == 0;
}

static inline kiln_dim known_dim(int64_t v) {
    kiln_dim d = {v, NULL};
    return d;
}

static inline kiln_type *vtype(infer_state *s, int v) { return v >= 0 ? &s->g->values[v].type : NULL; }

static inline int has_rank(const kiln_type *t) { return t && t->kind == KILN_KIND_TENSOR && t->rank >= 0; }

/* Writes an inferred tensor type to output `i` of node n. Keeps the model's declared dims where inference knows
 * less (a declared number or symbol beats an unknown). */
static inline void set_out(infer_state *s, const kiln_node *n, int i, kiln_dtype dt, int rank, const kiln_dim *dims) {
    if (i >= n->n_out || n->out[i] < 0) return;
    kiln_type *t = vtype(s, n->out[i]);
    if (t->kind != KILN_KIND_TENSOR) return; /* declared sequence / optional: not modelled here */
    kiln_type old = *t;
    if (dt != KILN_UNDEFINED) t->dtype = dt;
    if (rank < 0) return; /* nothing known about the shape: keep what was declared */
    if (old.rank != rank) {
        t->rank = rank;
        for (int d = 0; d < rank; d++) t->dims[d] = dims[d];
        return;
    }
    for (int d = 0; d < rank; d++)
        if (dims[d].v >= 0 || dims[d].sym || (old.dims[d].v < 0 && !old.dims[d].sym)) t->dims[d] = dims[d];
}

static inline void set_out_like(infer_state *s, const kiln_node *n, int i, kiln_dtype dt, const kiln_type *like) {
    if (has_rank(like))
        set_out(s, n, i, dt, like->rank, like->dims);
    else
        set_out(s, n, i, dt, -1, NULL);
}

static inline int norm_axis(int64_t a, int rank) { return (int)(a < 0 ? a + rank : a); }

/* ---- shape vectors ---- */

static inline const shape_vec *sv_of(infer_state *s, int v) {
    return v >= 0 && s->sv[v].known ? &s->sv[v] : NULL;
}

/* Element k of o is the number x (exact). */
static inline void sv_put_num(shape_vec *o, int k, int64_t x) {
    o->e[k] = known_dim(x);
    o->num[k] = x;
    o->exact |= 1u << k;
}

/* Element k of o is the dim d (exact when d is a number). */
static inline void sv_put_dim(shape_vec *o, int k, kiln_dim d) {
    o->e[k] = d;
    o->num[k] = d.v;
    if (d.v >= 0) o->exact |= 1u << k;
    else o->exact &= ~(1u << k);
}

/* Element k of o is element j of src. */
static inline void sv_put_from(shape_vec *o, int k, const shape_vec *src, int j) {
    o->e[k] = src->e[j];
    o->num[k] = src->num[j];
    if (src->exact >> j & 1u) o->exact |= 1u << k;
    else o->exact &= ~(1u << k);
}

static inline void sv_store(infer_state *s, const kiln_node *n, int i, const shape_vec *v) {
    if (i >= n->n_out || n->out[i] < 0 || !v->known || v->len > SV_MAX) return;
    s->sv[n->out[i]] = *v;
}

/* Output i of n is the shape vector of these dims (exact where they are numbers). */
static inline void sv_set(infer_state *s, const kiln_node *n, int i, int rank, int len, const kiln_dim *e) {
    if (len > SV_MAX) return;
    shape_vec o = {1, rank, len, {{0, NULL}}, {0}, 0};
    for (int k = 0; k < len; k++) sv_put_dim(&o, k, e[k]);
    sv_store(s, n, i, &o);
}

/* The values of integer vector v where every element is exactly known (an initializer, or a shape vector whose
 * elements are all numbers: axes, starts, indices, repeats); returns the count or -1. */
static inline int const_signed(infer_state *s, int v, int64_t *out, int max) {
    if (v < 0) return -1;
    const kiln_tensor *t = s->g->values[v].init;
    if (t) {
        if (t->dtype != KILN_INT64 && t->dtype != KILN_INT32) return -1;
        int64_t n = kiln_tensor_numel(t);
        if (n < 0 || n > max) return -1;
        for (int64_t i = 0; i < n; i++) out[i] = kiln_load_i64(t->dtype, t->data, i);
        return (int)n;
    }
    const shape_vec *sv = sv_of(s, v);
    if (!sv || sv->len > max) return -1;
    for (int i = 0; i < sv->len; i++) {
        if (!(sv->exact >> i & 1u)) return -1;
        out[i] = sv->num[i];
    }
    return sv->len;
}

/* infer-data.c: rules for ops infer.c does not model (returns 1 when it handled n), and the data propagation of
 * shape vectors through integer arithmetic (Add/Sub/Mul/Div/...), Size and Range. */
int kiln_infer_rules_more(infer_state *s, const kiln_node *n);
void kiln_infer_data(infer_state *s, const kiln_node *n);
void kiln_infer_sv_from_tensor(shape_vec *o, const kiln_tensor *t);

#endif
