/* CPU kernels: control flow (If, Loop, Scan) and the sequence / optional ops (see registry.h).
 *
 * Subgraphs run through kiln_krun_graph, which keeps one cached execution state per subgraph, so a Loop body's
 * intermediate buffers are reused from one iteration to the next. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/registry.h"
#include "core/dtype.h"

/* ---- small helpers ---- */

static kiln_status scalar_i64(const kiln_tensor *t, const char *what, int64_t *out) {
    KILN_FAIL_IF(kiln_tensor_numel(t) != 1, KILN_ERR_SHAPE, "%s must hold exactly one element", what);
    KILN_FAIL_IF(!kiln_dtype_is_int(t->dtype), KILN_ERR_TYPE, "%s must be an integer, got %s", what,
                 kiln_dtype_name(t->dtype));
    *out = kiln_load_i64(t->dtype, t->data, 0);
    return KILN_OK;
}

static kiln_status scalar_bool(const kiln_tensor *t, const char *what, int *out) {
    KILN_FAIL_IF(kiln_tensor_numel(t) != 1, KILN_ERR_SHAPE, "%s must hold exactly one element", what);
    KILN_FAIL_IF(t->dtype != KILN_BOOL, KILN_ERR_TYPE, "%s must be bool, got %s", what, kiln_dtype_name(t->dtype));
    *out = ((const uint8_t *)t->data)[0] != 0;
    return KILN_OK;
}

static const kiln_graph *graph_attr(const kiln_node *n, const char *name) {
    const kiln_attr *a = kiln_node_attr(n, name);
    return a && a->type == KILN_ATTR_GRAPH ? a->g : NULL;
}

static kiln_value *values_new(int n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(kiln_value)); }

static void values_free(kiln_value *v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) kiln_value_release(&v[i]);
    free(v);
}

/* Copies element range: dst[dst_off .. +n) = src[src_off .. +n), deep for strings. */
static kiln_status copy_elems(kiln_tensor *dst, int64_t dst_off, const kiln_tensor *src, int64_t src_off, int64_t n) {
    if (src->dtype == KILN_STRING) {
        char *const *s = src->data;
        for (int64_t i = 0; i < n; i++) {
            const char *c = s[src_off + i] ? s[src_off + i] : "";
            KILN_TRY(kiln_tensor_set_string(dst, dst_off + i, c, strlen(c)));
        }
        return KILN_OK;
    }
    size_t es = kiln_dtype_size(src->dtype);
    if (n) memcpy((char *)dst->data + (size_t)dst_off * es, (const char *)src->data + (size_t)src_off * es, (size_t)n * es);
    return KILN_OK;
}

/* dst = src[..., idx, ...] along `axis` (the axis removed). */
static kiln_status take_along(const kiln_tensor *src, int axis, int64_t idx, kiln_tensor *dst) {
    int64_t dims[KILN_MAX_DIMS] = {0}, outer = 1, inner = 1;
    int r = 0;
    for (int i = 0; i < src->rank; i++) {
        if (i < axis) outer *= src->dims[i];
        if (i > axis) inner *= src->dims[i];
        if (i != axis) dims[r++] = src->dims[i];
    }
    KILN_TRY(kiln_tensor_alloc(dst, src->dtype, r, dims));
    int64_t len = src->dims[axis];
    for (int64_t o = 0; o < outer; o++) KILN_TRY(copy_elems(dst, o * inner, src, (o * len + idx) * inner, inner));
    return KILN_OK;
}

/* Stacks items (all the same shape) along a new `axis` into out. reverse: items in reverse order. When there are no
 * items, the shape comes from `empty_like` (the body's declared output type) when fully known. */
static kiln_status stack_items(kiln_value *dst, const kiln_tensor *items, int n, int axis, int reverse,
                               const kiln_type *empty_like) {
    kiln_tensor *out = &dst->t;
    int64_t dims[KILN_MAX_DIMS];
    if (dst->kind == KILN_V_SEQUENCE) kiln_value_set_sequence(dst, KILN_UNDEFINED);
    dst->kind = KILN_V_TENSOR;
    if (n == 0) {
        int r = 1;
        dims[0] = 0;
        kiln_dtype dt = empty_like && empty_like->dtype ? empty_like->dtype : KILN_FLOAT;
        if (empty_like && empty_like->rank >= 0 && empty_like->rank < KILN_MAX_DIMS) {
            int known = 1;
            for (int i = 0; i < empty_like->rank; i++) known &= empty_like->dims[i].v >= 0;
            if (known) {
                for (int i = 0; i < empty_like->rank; i++) dims[1 + i] = empty_like->dims[i].v;
                r = 1 + empty_like->rank;
            }
        }
        return kiln_tensor_alloc(out, dt, r, dims);
    }
    const kiln_tensor *f = &items[0];
    KILN_FAIL_IF(f->rank + 1 > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "stacked output rank exceeds %d", KILN_MAX_DIMS);
    if (axis < 0) axis += f->rank + 1;
    KILN_FAIL_IF(axis < 0 || axis > f->rank, KILN_ERR_INVALID_GRAPH, "scan output axis out of range");
    for (int i = 1; i < n; i++) {
        int same = items[i].rank == f->rank && items[i].dtype == f->dtype;
        for (int d = 0; same && d < f->rank; d++) same = items[i].dims[d] == f->dims[d];
        KILN_FAIL_IF(!same, KILN_ERR_SHAPE, "iteration %d produced a scan output of another shape or type than "
                     "iteration 0", i);
    }
    int64_t outer = 1, inner = 1;
    for (int d = 0, o = 0; d <= f->rank; d++) {
        if (d == axis) {
            dims[d] = n;
            continue;
        }
        dims[d] = f->dims[o];
        if (d < axis) outer *= f->dims[o];
        else inner *= f->dims[o];
        o++;
    }
    KILN_TRY(kiln_tensor_alloc(out, f->dtype, f->rank + 1, dims));
    for (int i = 0; i < n; i++) {
        const kiln_tensor *it = &items[reverse ? n - 1 - i : i];
        for (int64_t o = 0; o < outer; o++) KILN_TRY(copy_elems(out, (o * n + i) * inner, it, o * inner, inner));
    }
    return KILN_OK;
}

/* Copies a value into node output i (tensor, sequence or none). */
static kiln_status output_value(kiln_kctx *k, int i, const kiln_value *v) {
    if (i >= k->n_out) return KILN_OK;
    return kiln_value_copy(kiln_kout_value(k, i), v);
}

/* ---- If ---- */

static kiln_status if_run(kiln_kctx *k) {
    const kiln_tensor *c;
    KILN_TRY(kiln_kin_req(k, 0, &c));
    int cond = 0;
    KILN_TRY(scalar_bool(c, "If condition", &cond));
    const kiln_graph *g = graph_attr(k->node, cond ? "then_branch" : "else_branch");
    KILN_FAIL_IF(!g, KILN_ERR_INVALID_GRAPH, "If has no %s attribute", cond ? "then_branch" : "else_branch");
    KILN_FAIL_IF(g->n_outputs < k->n_out, KILN_ERR_INVALID_GRAPH, "If branch has %d outputs, the node %d",
                 g->n_outputs, k->n_out);
    return kiln_krun_graph(k, g, 0, NULL, k->n_out, k->out);
}

/* ---- Loop ---- */

static kiln_status loop_run(kiln_kctx *k) {
    const kiln_graph *body = graph_attr(k->node, "body");
    KILN_FAIL_IF(!body, KILN_ERR_INVALID_GRAPH, "Loop has no body");
    int n_carried = k->n_in - 2;
    KILN_FAIL_IF(n_carried < 0, KILN_ERR_INVALID_GRAPH, "Loop needs at least 2 inputs (M, cond)");
    KILN_FAIL_IF(body->n_inputs != n_carried + 2, KILN_ERR_INVALID_GRAPH,
                 "Loop body takes %d inputs; expected %d (iteration, condition, %d carried)", body->n_inputs,
                 n_carried + 2, n_carried);
    int n_scan = body->n_outputs - 1 - n_carried;
    KILN_FAIL_IF(n_scan < 0, KILN_ERR_INVALID_GRAPH, "Loop body has %d outputs, fewer than 1 + %d carried",
                 body->n_outputs, n_carried);
    int64_t max_trip = INT64_MAX;
    int cond = 1;
    const kiln_tensor *t;
    if ((t = kiln_kin(k, 0))) KILN_TRY(scalar_i64(t, "Loop trip count M", &max_trip));
    if ((t = kiln_kin(k, 1))) KILN_TRY(scalar_bool(t, "Loop condition", &cond));

    int n_body_in = 2 + n_carried, n_body_out = 1 + n_carried + n_scan;
    kiln_value *state = values_new(n_body_in), *res = values_new(n_body_out), *acc = values_new(n_scan);
    const kiln_value **ins = calloc((size_t)n_body_in, sizeof *ins);
    kiln_value **outs = calloc((size_t)n_body_out, sizeof *outs);
    kiln_status st = KILN_OK;
    if (!state || !res || !acc || !ins || !outs) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    int64_t one = 1;
    for (int i = 0; i < n_carried && st == KILN_OK; i++) {
        const kiln_value *v = k->in[2 + i];
        if (v) st = kiln_value_copy(&state[2 + i], v);
        else state[2 + i].kind = KILN_V_NONE;
    }
    for (int i = 0; i < n_scan; i++) kiln_value_set_sequence(&acc[i], KILN_UNDEFINED);
    if (st == KILN_OK) {
        st = kiln_tensor_alloc(&state[0].t, KILN_INT64, 0, &one);
        state[0].kind = KILN_V_TENSOR;
    }
    if (st == KILN_OK) {
        st = kiln_tensor_alloc(&state[1].t, KILN_BOOL, 0, &one);
        state[1].kind = KILN_V_TENSOR;
    }
    for (int i = 0; i < n_body_in; i++) ins[i] = &state[i];
    for (int i = 0; i < n_body_out; i++) outs[i] = &res[i];
    for (int64_t it = 0; st == KILN_OK && cond && it < max_trip; it++) {
        ((int64_t *)state[0].t.data)[0] = it;
        ((uint8_t *)state[1].t.data)[0] = (uint8_t)cond;
        st = kiln_krun_graph(k, body, n_body_in, ins, n_body_out, outs);
        if (st != KILN_OK) {
            kiln_error_wrap(st, "Loop iteration %lld", (long long)it);
            break;
        }
        KILN_FAIL_IF(res[0].kind != KILN_V_TENSOR, KILN_ERR_INVALID_GRAPH, "Loop body condition is not a tensor");
        st = scalar_bool(&res[0].t, "Loop body condition output", &cond);
        for (int i = 0; i < n_carried && st == KILN_OK; i++) st = kiln_value_copy(&state[2 + i], &res[1 + i]);
        for (int i = 0; i < n_scan && st == KILN_OK; i++) {
            KILN_FAIL_IF(res[1 + n_carried + i].kind != KILN_V_TENSOR, KILN_ERR_UNSUPPORTED,
                         "Loop scan output %d is not a tensor", i);
            st = kiln_value_seq_append(&acc[i], &res[1 + n_carried + i].t);
        }
    }
    for (int i = 0; i < n_carried && st == KILN_OK; i++) st = output_value(k, i, &state[2 + i]);
    for (int i = 0; i < n_scan && st == KILN_OK; i++) {
        if (n_carried + i >= k->n_out) break;
        const kiln_type *ty = &body->values[body->outputs[1 + n_carried + i]].type;
        st = stack_items(kiln_kout_value(k, n_carried + i), acc[i].items, acc[i].n_items, 0, 0, ty);
    }
    values_free(state, n_body_in);
    values_free(res, n_body_out);
    values_free(acc, n_scan);
    free(ins);
    free(outs);
    return st;
}

/* ---- Scan ---- */

typedef struct scan_params {
    int n_scan_in;
    int64_t in_axes[64], in_dirs[64], out_axes[64], out_dirs[64];
    int n_in_axes, n_in_dirs, n_out_axes, n_out_dirs;
} scan_params;

static kiln_status scan_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    scan_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    p->n_scan_in = (int)kiln_attr_int(n, "num_scan_inputs", -1);
    KILN_FAIL_IF(p->n_scan_in < 1, KILN_ERR_INVALID_GRAPH, "Scan needs num_scan_inputs >= 1");
    struct { const char *name; int64_t *dst; int *cnt; } lists[] = {
        {"scan_input_axes", p->in_axes, &p->n_in_axes}, {"scan_input_directions", p->in_dirs, &p->n_in_dirs},
        {"scan_output_axes", p->out_axes, &p->n_out_axes}, {"scan_output_directions", p->out_dirs, &p->n_out_dirs},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        int c;
        const int64_t *v = kiln_attr_ints(n, lists[i].name, &c);
        KILN_FAIL_IF(c > 64, KILN_ERR_UNSUPPORTED, "Scan %s has more than 64 entries", lists[i].name);
        if (c) memcpy(lists[i].dst, v, sizeof(int64_t) * (size_t)c);
        *lists[i].cnt = c;
    }
    return KILN_OK;
}

/* One Scan over states[0..n_state) and scan inputs xs[0..n_scan_in) (opset 9 semantics). Results: final states in
 * fin[0..n_state), per-iteration scan outputs appended to acc[0..n_scan_out). */
static kiln_status scan_core(kiln_kctx *k, const scan_params *p, const kiln_graph *body, int n_state,
                             const kiln_value *const *states, const kiln_tensor *const *xs, kiln_value *fin,
                             kiln_value *acc, int n_scan_out) {
    int n_body_in = n_state + p->n_scan_in, n_body_out = n_state + n_scan_out;
    int64_t len = -1;
    int axes[64];
    for (int j = 0; j < p->n_scan_in; j++) {
        int r = xs[j]->rank;
        int64_t a = j < p->n_in_axes ? p->in_axes[j] : 0;
        if (a < 0) a += r;
        KILN_FAIL_IF(a < 0 || a >= r, KILN_ERR_INVALID_GRAPH, "Scan input %d axis out of range for rank %d", j, r);
        axes[j] = (int)a;
        KILN_FAIL_IF(len >= 0 && xs[j]->dims[a] != len, KILN_ERR_SHAPE,
                     "Scan inputs have different sequence lengths (%lld and %lld)", (long long)len,
                     (long long)xs[j]->dims[a]);
        len = xs[j]->dims[a];
    }
    kiln_value *in = values_new(n_body_in), *res = values_new(n_body_out);
    const kiln_value **ins = calloc((size_t)n_body_in, sizeof *ins);
    kiln_value **outs = calloc((size_t)n_body_out, sizeof *outs);
    kiln_status st = KILN_OK;
    if (!in || !res || !ins || !outs) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < n_state && st == KILN_OK; i++) st = kiln_value_copy(&in[i], states[i]);
    for (int i = 0; i < n_body_in; i++) ins[i] = &in[i];
    for (int i = 0; i < n_body_out; i++) outs[i] = &res[i];
    for (int64_t t = 0; st == KILN_OK && t < len; t++) {
        for (int j = 0; j < p->n_scan_in && st == KILN_OK; j++) {
            int rev = j < p->n_in_dirs && p->in_dirs[j];
            st = take_along(xs[j], axes[j], rev ? len - 1 - t : t, &in[n_state + j].t);
            in[n_state + j].kind = KILN_V_TENSOR;
        }
        if (st == KILN_OK) st = kiln_krun_graph(k, body, n_body_in, ins, n_body_out, outs);
        for (int i = 0; i < n_state && st == KILN_OK; i++) st = kiln_value_copy(&in[i], &res[i]);
        for (int i = 0; i < n_scan_out && st == KILN_OK; i++) {
            KILN_FAIL_IF(res[n_state + i].kind != KILN_V_TENSOR, KILN_ERR_INVALID_GRAPH, "Scan output is not a tensor");
            st = kiln_value_seq_append(&acc[i], &res[n_state + i].t);
        }
    }
    for (int i = 0; i < n_state && st == KILN_OK; i++) st = kiln_value_copy(&fin[i], &in[i]);
    values_free(in, n_body_in);
    values_free(res, n_body_out);
    free(ins);
    free(outs);
    return st;
}

static kiln_status scan_run(kiln_kctx *k) {
    const scan_params *p = k->params;
    const kiln_graph *body = graph_attr(k->node, "body");
    KILN_FAIL_IF(!body, KILN_ERR_INVALID_GRAPH, "Scan has no body");
    int legacy = k->node->opset < 9; /* opset 8: optional sequence_lens first, batch axis 0 on everything */
    int first = legacy ? 1 : 0;
    int n_state = k->n_in - first - p->n_scan_in;
    int n_scan_out = k->n_out - n_state;
    KILN_FAIL_IF(n_state < 0 || n_scan_out < 0, KILN_ERR_INVALID_GRAPH, "Scan has %d inputs for %d scan inputs",
                 k->n_in, p->n_scan_in);
    KILN_FAIL_IF(body->n_inputs != n_state + p->n_scan_in || body->n_outputs != n_state + n_scan_out,
                 KILN_ERR_INVALID_GRAPH, "Scan body signature does not match the node");
    KILN_FAIL_IF(legacy && kiln_kin(k, 0), KILN_ERR_UNSUPPORTED, "Scan-8 sequence_lens is not supported");
    kiln_value *fin = values_new(n_state), *acc = values_new(n_scan_out);
    const kiln_value **states = calloc((size_t)n_state + 1, sizeof *states);
    const kiln_tensor **xs = calloc((size_t)p->n_scan_in + 1, sizeof *xs);
    kiln_status st = KILN_OK;
    if (!fin || !acc || !states || !xs) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int j = 0; j < p->n_scan_in && st == KILN_OK; j++) {
        xs[j] = kiln_kin(k, first + n_state + j);
        if (!xs[j]) st = kiln_error(KILN_ERR_INVALID_GRAPH, "Scan input %d is missing", j);
    }
    for (int i = 0; i < n_state && st == KILN_OK; i++) {
        states[i] = k->in[first + i];
        if (!states[i]) st = kiln_error(KILN_ERR_INVALID_GRAPH, "Scan state %d is missing", i);
    }
    if (st == KILN_OK && !legacy) {
        for (int i = 0; i < n_scan_out; i++) kiln_value_set_sequence(&acc[i], KILN_UNDEFINED);
        st = scan_core(k, p, body, n_state, states, xs, fin, acc, n_scan_out);
        for (int i = 0; i < n_state && st == KILN_OK; i++) st = output_value(k, i, &fin[i]);
        for (int i = 0; i < n_scan_out && st == KILN_OK; i++) {
            int64_t ax = i < p->n_out_axes ? p->out_axes[i] : 0;
            int rev = i < p->n_out_dirs && p->out_dirs[i];
            const kiln_type *ty = &body->values[body->outputs[n_state + i]].type;
            st = stack_items(kiln_kout_value(k, n_state + i), acc[i].items, acc[i].n_items, (int)ax, rev, ty);
        }
    } else if (st == KILN_OK) {
        /* Batched form: run the opset-9 core once per batch entry, then stack along axis 0. */
        int64_t batch = xs[0]->rank > 0 ? xs[0]->dims[0] : 0;
        kiln_value *bstate = values_new(n_state), *bfin = values_new(n_state), *bacc = values_new(n_scan_out);
        kiln_value *fin_seq = values_new(n_state), *out_seq = values_new(n_scan_out);
        kiln_tensor *bx = calloc((size_t)p->n_scan_in + 1, sizeof *bx);
        const kiln_value **bs = calloc((size_t)n_state + 1, sizeof *bs);
        const kiln_tensor **bxs = calloc((size_t)p->n_scan_in + 1, sizeof *bxs);
        if (!bstate || !bfin || !bacc || !fin_seq || !out_seq || !bx || !bs || !bxs)
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        scan_params q = *p;
        for (int j = 0; j < q.n_in_axes; j++) q.in_axes[j] = 0; /* time axis is 0 in opset 8 after the batch */
        for (int i = 0; i < n_state; i++) kiln_value_set_sequence(&fin_seq[i], KILN_UNDEFINED);
        for (int i = 0; i < n_scan_out; i++) kiln_value_set_sequence(&out_seq[i], KILN_UNDEFINED);
        for (int64_t b = 0; b < batch && st == KILN_OK; b++) {
            for (int i = 0; i < n_state && st == KILN_OK; i++) {
                KILN_FAIL_IF(states[i]->kind != KILN_V_TENSOR, KILN_ERR_UNSUPPORTED, "Scan-8 state is not a tensor");
                st = take_along(&states[i]->t, 0, b, &bstate[i].t);
                bstate[i].kind = KILN_V_TENSOR;
                bs[i] = &bstate[i];
            }
            for (int j = 0; j < p->n_scan_in && st == KILN_OK; j++) {
                st = take_along(xs[j], 0, b, &bx[j]);
                bxs[j] = &bx[j];
            }
            for (int i = 0; i < n_scan_out; i++) kiln_value_set_sequence(&bacc[i], KILN_UNDEFINED);
            if (st == KILN_OK) st = scan_core(k, &q, body, n_state, bs, bxs, bfin, bacc, n_scan_out);
            for (int i = 0; i < n_state && st == KILN_OK; i++) st = kiln_value_seq_append(&fin_seq[i], &bfin[i].t);
            for (int i = 0; i < n_scan_out && st == KILN_OK; i++) {
                /* stack this batch entry's per-step outputs into one tensor, via a scratch output slot */
                kiln_value tmp = {0};
                const kiln_type *ty = &body->values[body->outputs[n_state + i]].type;
                st = stack_items(&tmp, bacc[i].items, bacc[i].n_items, 0, 0, ty);
                if (st == KILN_OK) st = kiln_value_seq_append(&out_seq[i], &tmp.t);
                kiln_value_release(&tmp);
            }
        }
        for (int i = 0; i < n_state && st == KILN_OK; i++)
            st = stack_items(kiln_kout_value(k, i), fin_seq[i].items, fin_seq[i].n_items, 0, 0, NULL);
        for (int i = 0; i < n_scan_out && st == KILN_OK; i++)
            st = stack_items(kiln_kout_value(k, n_state + i), out_seq[i].items, out_seq[i].n_items, 0, 0, NULL);
        values_free(bstate, n_state);
        values_free(bfin, n_state);
        values_free(bacc, n_scan_out);
        values_free(fin_seq, n_state);
        values_free(out_seq, n_scan_out);
        for (int j = 0; bx && j < p->n_scan_in; j++) kiln_tensor_release(&bx[j]);
        free(bx);
        free(bs);
        free(bxs);
    }
    values_free(fin, n_state);
    values_free(acc, n_scan_out);
    free(states);
    free(xs);
    return st;
}

/* ---- sequences ---- */

static kiln_status seq_in(const kiln_kctx *k, int i, const kiln_value **out) {
    const kiln_value *v = i < k->n_in ? k->in[i] : NULL;
    KILN_FAIL_IF(!v || v->kind != KILN_V_SEQUENCE, KILN_ERR_TYPE, "input %d must be a sequence", i);
    *out = v;
    return KILN_OK;
}

static kiln_status seq_position(const kiln_kctx *k, int i, int n, int allow_end, int64_t def, int64_t *pos) {
    const kiln_tensor *t = kiln_kin(k, i);
    int64_t p = def;
    if (t) KILN_TRY(scalar_i64(t, "sequence position", &p));
    int64_t hi = allow_end ? n : n - 1;
    KILN_FAIL_IF(p < -n || p > hi, KILN_ERR_RUNTIME, "sequence position %lld is out of range [%d, %lld]",
                 (long long)p, -n, (long long)hi);
    *pos = p < 0 ? p + n : p;
    return KILN_OK;
}

static kiln_status seq_empty_run(kiln_kctx *k) {
    kiln_value_set_sequence(kiln_kout_value(k, 0), (kiln_dtype)(intptr_t)k->params);
    return KILN_OK;
}

static kiln_status seq_empty_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    *out = (void *)(intptr_t)kiln_attr_int(n, "dtype", KILN_FLOAT);
    return KILN_OK;
}

static kiln_status seq_construct_run(kiln_kctx *k) {
    kiln_value *o = kiln_kout_value(k, 0);
    const kiln_tensor *f = kiln_kin(k, 0);
    kiln_value_set_sequence(o, f ? f->dtype : KILN_UNDEFINED);
    for (int i = 0; i < k->n_in; i++) {
        const kiln_tensor *t;
        KILN_TRY(kiln_kin_req(k, i, &t));
        KILN_FAIL_IF(t->dtype != f->dtype, KILN_ERR_TYPE, "SequenceConstruct inputs have different dtypes");
        KILN_TRY(kiln_value_seq_append(o, t));
    }
    return KILN_OK;
}

static kiln_status seq_at_run(kiln_kctx *k) {
    const kiln_value *s = NULL;
    KILN_TRY(seq_in(k, 0, &s));
    KILN_FAIL_IF(!kiln_kin(k, 1), KILN_ERR_INVALID_GRAPH, "SequenceAt needs a position");
    int64_t p = 0;
    KILN_TRY(seq_position(k, 1, s->n_items, 0, 0, &p));
    kiln_value *o = kiln_kout_value(k, 0);
    KILN_TRY(kiln_tensor_copy(&o->t, &s->items[p]));
    o->kind = KILN_V_TENSOR;
    return KILN_OK;
}

static kiln_status seq_insert_run(kiln_kctx *k) {
    const kiln_value *s = NULL;
    const kiln_tensor *t;
    KILN_TRY(seq_in(k, 0, &s));
    KILN_TRY(kiln_kin_req(k, 1, &t));
    KILN_FAIL_IF(s->n_items && t->dtype != s->items[0].dtype, KILN_ERR_TYPE,
                 "SequenceInsert: tensor dtype %s differs from the sequence's %s", kiln_dtype_name(t->dtype),
                 kiln_dtype_name(s->items[0].dtype));
    int64_t p = 0;
    KILN_TRY(seq_position(k, 2, s->n_items, 1, s->n_items, &p));
    kiln_value tmp = {0};
    kiln_value_set_sequence(&tmp, t->dtype);
    kiln_status st = KILN_OK;
    for (int i = 0; i <= s->n_items && st == KILN_OK; i++) {
        if (i == p) st = kiln_value_seq_append(&tmp, t);
        if (i < s->n_items && st == KILN_OK) st = kiln_value_seq_append(&tmp, &s->items[i]);
    }
    if (st == KILN_OK) st = kiln_value_copy(kiln_kout_value(k, 0), &tmp);
    kiln_value_release(&tmp);
    return st;
}

static kiln_status seq_erase_run(kiln_kctx *k) {
    const kiln_value *s = NULL;
    KILN_TRY(seq_in(k, 0, &s));
    KILN_FAIL_IF(s->n_items == 0, KILN_ERR_RUNTIME, "SequenceErase on an empty sequence");
    int64_t p = 0;
    KILN_TRY(seq_position(k, 1, s->n_items, 0, s->n_items - 1, &p));
    kiln_value tmp = {0};
    kiln_value_set_sequence(&tmp, s->elem_dtype);
    kiln_status st = KILN_OK;
    for (int i = 0; i < s->n_items && st == KILN_OK; i++)
        if (i != p) st = kiln_value_seq_append(&tmp, &s->items[i]);
    if (st == KILN_OK) st = kiln_value_copy(kiln_kout_value(k, 0), &tmp);
    kiln_value_release(&tmp);
    return st;
}

static kiln_status seq_length_run(kiln_kctx *k) {
    const kiln_value *s = NULL;
    KILN_TRY(seq_in(k, 0, &s));
    kiln_tensor *o;
    KILN_TRY(kiln_kout(k, 0, KILN_INT64, 0, NULL, &o));
    ((int64_t *)o->data)[0] = s->n_items;
    return KILN_OK;
}

typedef struct split_seq_params {
    int64_t axis;
    int keepdims;
} split_seq_params;

static kiln_status split_seq_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    split_seq_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->axis = kiln_attr_int(n, "axis", 0);
    p->keepdims = (int)kiln_attr_int(n, "keepdims", 1);
    *out = p;
    return KILN_OK;
}

static kiln_status split_seq_run(kiln_kctx *k) {
    const split_seq_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int64_t axis = p->axis < 0 ? p->axis + x->rank : p->axis;
    KILN_FAIL_IF(axis < 0 || axis >= x->rank, KILN_ERR_INVALID_GRAPH, "SplitToSequence axis %lld out of range for "
                 "rank %d", (long long)p->axis, x->rank);
    int64_t len = x->dims[axis];
    const kiln_tensor *sp = kiln_kin(k, 1);
    int64_t sizes_small[64], *sizes = sizes_small, n_parts;
    int keep = 1;
    if (!sp) { /* one element per part, axis dropped unless keepdims */
        n_parts = len;
        keep = p->keepdims;
        sizes = malloc(sizeof(int64_t) * (size_t)(len + 1));
        KILN_FAIL_IF(!sizes, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (int64_t i = 0; i < len; i++) sizes[i] = 1;
    } else if (sp->rank == 0) {
        int64_t chunk = kiln_load_i64(sp->dtype, sp->data, 0);
        KILN_FAIL_IF(chunk <= 0, KILN_ERR_RUNTIME, "SplitToSequence split size %lld must be positive", (long long)chunk);
        n_parts = (len + chunk - 1) / chunk;
        sizes = malloc(sizeof(int64_t) * (size_t)(n_parts + 1));
        KILN_FAIL_IF(!sizes, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (int64_t i = 0; i < n_parts; i++) sizes[i] = i == n_parts - 1 ? len - chunk * i : chunk;
    } else {
        n_parts = kiln_tensor_numel(sp);
        KILN_FAIL_IF(n_parts > 64, KILN_ERR_UNSUPPORTED, "SplitToSequence with more than 64 explicit parts");
        int64_t tot = 0;
        for (int64_t i = 0; i < n_parts; i++) tot += sizes[i] = kiln_load_i64(sp->dtype, sp->data, i);
        KILN_FAIL_IF(tot != len, KILN_ERR_RUNTIME, "SplitToSequence sizes sum to %lld, axis has %lld", (long long)tot,
                     (long long)len);
    }
    kiln_value *o = kiln_kout_value(k, 0);
    kiln_value_set_sequence(o, x->dtype);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis) outer *= x->dims[i];
        if (i > axis) inner *= x->dims[i];
    }
    kiln_status st = KILN_OK;
    kiln_tensor part = {0};
    for (int64_t q = 0, off = 0; q < n_parts && st == KILN_OK; off += sizes[q], q++) {
        int64_t dims[KILN_MAX_DIMS];
        int r = 0;
        for (int i = 0; i < x->rank; i++) {
            if (i == axis) {
                if (keep) dims[r++] = sizes[q];
            } else {
                dims[r++] = x->dims[i];
            }
        }
        st = kiln_tensor_alloc(&part, x->dtype, r, dims);
        for (int64_t oo = 0; oo < outer && st == KILN_OK; oo++)
            st = copy_elems(&part, oo * sizes[q] * inner, x, (oo * len + off) * inner, sizes[q] * inner);
        if (st == KILN_OK) st = kiln_value_seq_append(o, &part);
    }
    kiln_tensor_release(&part);
    if (sizes != sizes_small) free(sizes);
    return st;
}

typedef struct concat_seq_params {
    int64_t axis;
    int new_axis;
} concat_seq_params;

static kiln_status concat_seq_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    concat_seq_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->axis = kiln_attr_int(n, "axis", 0);
    p->new_axis = (int)kiln_attr_int(n, "new_axis", 0);
    *out = p;
    return KILN_OK;
}

static kiln_status concat_seq_run(kiln_kctx *k) {
    const concat_seq_params *p = k->params;
    const kiln_value *s = NULL;
    KILN_TRY(seq_in(k, 0, &s));
    KILN_FAIL_IF(s->n_items == 0, KILN_ERR_RUNTIME, "ConcatFromSequence on an empty sequence");
    const kiln_tensor *f = &s->items[0];
    if (p->new_axis) {
        int64_t ax = p->axis < 0 ? p->axis + f->rank + 1 : p->axis;
        return stack_items(kiln_kout_value(k, 0), s->items, s->n_items, (int)ax, 0, NULL);
    }
    int64_t ax = p->axis < 0 ? p->axis + f->rank : p->axis;
    KILN_FAIL_IF(ax < 0 || ax >= f->rank, KILN_ERR_INVALID_GRAPH, "ConcatFromSequence axis out of range");
    int64_t dims[KILN_MAX_DIMS], total = 0, outer = 1, inner = 1;
    for (int i = 0; i < s->n_items; i++) {
        const kiln_tensor *t = &s->items[i];
        KILN_FAIL_IF(t->rank != f->rank || t->dtype != f->dtype, KILN_ERR_SHAPE,
                     "ConcatFromSequence item %d differs in rank or dtype", i);
        for (int d = 0; d < f->rank; d++)
            KILN_FAIL_IF(d != ax && t->dims[d] != f->dims[d], KILN_ERR_SHAPE,
                         "ConcatFromSequence item %d differs in dim %d", i, d);
        total += t->dims[ax];
    }
    for (int d = 0; d < f->rank; d++) {
        dims[d] = d == ax ? total : f->dims[d];
        if (d < ax) outer *= f->dims[d];
        if (d > ax) inner *= f->dims[d];
    }
    kiln_tensor *o;
    KILN_TRY(kiln_kout(k, 0, f->dtype, f->rank, dims, &o));
    int64_t off = 0;
    for (int i = 0; i < s->n_items; i++) {
        const kiln_tensor *t = &s->items[i];
        int64_t blk = t->dims[ax] * inner;
        for (int64_t oo = 0; oo < outer; oo++) KILN_TRY(copy_elems(o, oo * total * inner + off, t, oo * blk, blk));
        off += blk;
    }
    return KILN_OK;
}

static kiln_status seq_map_run(kiln_kctx *k) {
    const kiln_graph *body = graph_attr(k->node, "body");
    KILN_FAIL_IF(!body, KILN_ERR_INVALID_GRAPH, "SequenceMap has no body");
    const kiln_value *s = NULL;
    KILN_TRY(seq_in(k, 0, &s));
    int n = s->n_items;
    KILN_FAIL_IF(body->n_inputs != k->n_in || body->n_outputs != k->n_out, KILN_ERR_INVALID_GRAPH,
                 "SequenceMap body signature does not match the node");
    for (int i = 1; i < k->n_in; i++)
        KILN_FAIL_IF(k->in[i] && k->in[i]->kind == KILN_V_SEQUENCE && k->in[i]->n_items != n, KILN_ERR_SHAPE,
                     "SequenceMap input %d has %d items, the first sequence %d", i, k->in[i]->n_items, n);
    kiln_value *in = values_new(k->n_in), *res = values_new(k->n_out);
    const kiln_value **ins = calloc((size_t)k->n_in, sizeof *ins);
    kiln_value **outs = calloc((size_t)k->n_out, sizeof *outs);
    kiln_status st = KILN_OK;
    if (!in || !res || !ins || !outs) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int j = 0; j < k->n_out && st == KILN_OK; j++) {
        const kiln_type *ty = &body->values[body->outputs[j]].type;
        kiln_value_set_sequence(kiln_kout_value(k, j), ty->dtype);
        outs[j] = &res[j];
    }
    for (int i = 0; i < n && st == KILN_OK; i++) {
        for (int j = 0; j < k->n_in && st == KILN_OK; j++) {
            const kiln_value *v = k->in[j];
            if (v && v->kind == KILN_V_SEQUENCE) {
                in[j].kind = KILN_V_TENSOR;
                kiln_tensor_borrow(&in[j].t, &v->items[i]);
            } else if (v) {
                in[j].kind = v->kind;
                kiln_tensor_borrow(&in[j].t, &v->t);
            }
            ins[j] = &in[j];
        }
        if (st == KILN_OK) st = kiln_krun_graph(k, body, k->n_in, ins, k->n_out, outs);
        for (int j = 0; j < k->n_out && st == KILN_OK; j++)
            st = kiln_value_seq_append(kiln_kout_value(k, j), &res[j].t);
    }
    values_free(in, k->n_in);
    values_free(res, k->n_out);
    free(ins);
    free(outs);
    return st;
}

/* ---- optionals ---- */

static kiln_status optional_run(kiln_kctx *k) {
    const kiln_value *v = k->n_in > 0 ? k->in[0] : NULL;
    kiln_value *o = kiln_kout_value(k, 0);
    if (!v || v->kind == KILN_V_NONE) {
        kiln_value_release(o);
        o->kind = KILN_V_NONE;
        return KILN_OK;
    }
    return kiln_value_copy(o, v);
}

static kiln_status optional_has_run(kiln_kctx *k) {
    const kiln_value *v = k->n_in > 0 ? k->in[0] : NULL;
    kiln_tensor *o;
    KILN_TRY(kiln_kout(k, 0, KILN_BOOL, 0, NULL, &o));
    ((uint8_t *)o->data)[0] = v && v->kind != KILN_V_NONE && v->kind != KILN_V_EMPTY;
    return KILN_OK;
}

static kiln_status optional_get_run(kiln_kctx *k) {
    const kiln_value *v = k->n_in > 0 ? k->in[0] : NULL;
    KILN_FAIL_IF(!v || v->kind == KILN_V_NONE || v->kind == KILN_V_EMPTY, KILN_ERR_RUNTIME,
                 "OptionalGetElement on an optional without a value");
    return kiln_value_copy(kiln_kout_value(k, 0), v);
}

const kiln_op_def kiln_cpu_ops_control[] = {
    {"If", "", 1, NULL, NULL, if_run},
    {"Loop", "", 1, NULL, NULL, loop_run},
    {"Scan", "", 8, scan_prepare, free, scan_run},
    {"SequenceEmpty", "", 11, seq_empty_prepare, NULL, seq_empty_run},
    {"SequenceConstruct", "", 11, NULL, NULL, seq_construct_run},
    {"SequenceAt", "", 11, NULL, NULL, seq_at_run},
    {"SequenceInsert", "", 11, NULL, NULL, seq_insert_run},
    {"SequenceErase", "", 11, NULL, NULL, seq_erase_run},
    {"SequenceLength", "", 11, NULL, NULL, seq_length_run},
    {"SplitToSequence", "", 11, split_seq_prepare, free, split_seq_run},
    {"ConcatFromSequence", "", 11, concat_seq_prepare, free, concat_seq_run},
    {"SequenceMap", "", 17, NULL, NULL, seq_map_run},
    {"Optional", "", 15, NULL, NULL, optional_run},
    {"OptionalHasElement", "", 15, NULL, NULL, optional_has_run},
    {"OptionalGetElement", "", 15, NULL, NULL, optional_get_run},
    {0},
};
