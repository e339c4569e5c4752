/* Graph deep copy, so that building never changes the caller's network (passes rewrite the copy). Tensor storage
 * is borrowed, not copied: the network outlives the build. */
#include <stdlib.h>
#include <string.h>

#include "build/build.h"

static char *dup_str(kiln_graph *g, const char *s) { return s ? kiln_arena_strdup(&g->arena, s) : NULL; }

static void *dup_mem(kiln_graph *g, const void *src, size_t n) {
    void *p = kiln_arena_alloc(&g->arena, n ? n : 1);
    if (p && n) memcpy(p, src, n);
    return p;
}

static kiln_status clone_tensor(const kiln_tensor *src, kiln_tensor **out) {
    *out = NULL;
    if (!src) return KILN_OK;
    kiln_tensor *t = calloc(1, sizeof *t);
    KILN_FAIL_IF(!t, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (src->dtype == KILN_STRING) { /* string tensors own their strings: copy */
        kiln_status st = kiln_tensor_copy(t, src);
        if (st != KILN_OK) {
            kiln_tensor_release(t);
            free(t);
            return st;
        }
    } else {
        kiln_tensor_borrow(t, src);
    }
    *out = t;
    return KILN_OK;
}

static kiln_status clone_type(kiln_graph *g, kiln_type *dst, const kiln_type *src) {
    *dst = *src;
    for (int i = 0; i < src->rank && i < KILN_MAX_DIMS; i++)
        if (src->dims[i].sym && !(dst->dims[i].sym = dup_str(g, src->dims[i].sym)))
            return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    return KILN_OK;
}

static kiln_status clone_attr(kiln_graph *g, kiln_attr *d, const kiln_attr *s) {
    *d = *s;
    /* pointers are re-made below; clear the owned ones first so a failure part-way frees only new objects */
    d->t = NULL, d->g = NULL, d->tensors = NULL, d->graphs = NULL;
    int oom = 0;
    d->name = dup_str(g, s->name);
    oom |= !d->name;
    if (s->s) oom |= !(d->s = dup_mem(g, s->s, s->s_len + 1));
    if (s->ints) oom |= !(d->ints = dup_mem(g, s->ints, sizeof(int64_t) * (size_t)s->n));
    if (s->floats) oom |= !(d->floats = dup_mem(g, s->floats, sizeof(float) * (size_t)s->n));
    if (s->strings) {
        oom |= !(d->strings = kiln_arena_alloc(&g->arena, sizeof(char *) * (size_t)(s->n + 1)));
        oom |= !(d->string_lens = kiln_arena_alloc(&g->arena, sizeof(size_t) * (size_t)(s->n + 1)));
        for (int i = 0; !oom && i < s->n; i++) {
            size_t len = s->string_lens ? s->string_lens[i] : (s->strings[i] ? strlen(s->strings[i]) : 0);
            d->string_lens[i] = len;
            oom |= !(((const char **)d->strings)[i] = dup_mem(g, s->strings[i] ? s->strings[i] : "", len + 1));
        }
    }
    if (s->tp) {
        oom |= !(d->tp = kiln_arena_alloc(&g->arena, sizeof(kiln_type)));
        if (!oom) KILN_TRY(clone_type(g, d->tp, s->tp));
    }
    if (s->tps) {
        oom |= !(d->tps = kiln_arena_alloc(&g->arena, sizeof(kiln_type) * (size_t)(s->n + 1)));
        for (int i = 0; !oom && i < s->n; i++) KILN_TRY(clone_type(g, &d->tps[i], &s->tps[i]));
    }
    KILN_FAIL_IF(oom, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    KILN_TRY(clone_tensor(s->t, &d->t));
    if (s->g) KILN_TRY(kiln_graph_clone(s->g, g, &d->g));
    if (s->tensors) {
        d->tensors = kiln_arena_alloc(&g->arena, sizeof(kiln_tensor *) * (size_t)(s->n + 1));
        KILN_FAIL_IF(!d->tensors, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (int i = 0; i < s->n; i++) KILN_TRY(clone_tensor(s->tensors[i], &d->tensors[i]));
    }
    if (s->graphs) {
        d->graphs = kiln_arena_alloc(&g->arena, sizeof(kiln_graph *) * (size_t)(s->n + 1));
        KILN_FAIL_IF(!d->graphs, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (int i = 0; i < s->n; i++)
            if (s->graphs[i]) KILN_TRY(kiln_graph_clone(s->graphs[i], g, &d->graphs[i]));
    }
    return KILN_OK;
}

static kiln_status clone_body(kiln_graph *g, const kiln_graph *src) {
    KILN_FAIL_IF(!(g->name = dup_str(g, src->name ? src->name : "")), KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < src->n_values; i++) {
        const kiln_ir_value *sv = &src->values[i];
        int id = kiln_graph_add_value(g, sv->name);
        if (id < 0) return KILN_ERR_OUT_OF_MEMORY;
        kiln_ir_value *v = &g->values[id];
        KILN_TRY(clone_type(g, &v->type, &sv->type));
        v->producer = sv->producer;
        v->is_input = sv->is_input;
        v->is_output = sv->is_output;
        v->is_outer = sv->is_outer;
        KILN_TRY(clone_tensor(sv->init, &v->init));
    }
    for (int i = 0; i < src->n_nodes; i++) {
        const kiln_node *sn = &src->nodes[i];
        int id = kiln_graph_add_node(g, sn->name ? sn->name : "", sn->op_type, sn->domain ? sn->domain : "",
                                     sn->opset, sn->n_in, sn->n_out);
        if (id < 0) return KILN_ERR_OUT_OF_MEMORY;
        kiln_node *n = &g->nodes[id];
        memcpy(n->in, sn->in, sizeof(int) * (size_t)sn->n_in);
        memcpy(n->out, sn->out, sizeof(int) * (size_t)sn->n_out);
        if (sn->n_attrs) {
            kiln_attr *a = kiln_graph_node_alloc_attrs(g, id, sn->n_attrs);
            if (!a) return KILN_ERR_OUT_OF_MEMORY;
            for (int j = 0; j < sn->n_attrs; j++) KILN_TRY(clone_attr(g, &a[j], &sn->attrs[j]));
        }
    }
    for (int i = 0; i < src->n_inputs; i++) KILN_TRY(kiln_graph_add_input(g, src->inputs[i]));
    for (int i = 0; i < src->n_outputs; i++) KILN_TRY(kiln_graph_add_output(g, src->outputs[i]));
    if (src->n_opsets) {
        g->opsets = kiln_arena_alloc(&g->arena, sizeof(kiln_opset) * (size_t)src->n_opsets);
        KILN_FAIL_IF(!g->opsets, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (int i = 0; i < src->n_opsets; i++) {
            g->opsets[i].version = src->opsets[i].version;
            g->opsets[i].domain = dup_str(g, src->opsets[i].domain ? src->opsets[i].domain : "");
            KILN_FAIL_IF(!g->opsets[i].domain, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        }
        g->n_opsets = src->n_opsets;
    }
    return KILN_OK;
}

kiln_status kiln_graph_clone(const kiln_graph *src, kiln_graph *parent, kiln_graph **out) {
    *out = NULL;
    kiln_graph *g = kiln_graph_create(parent);
    if (!g) return KILN_ERR_OUT_OF_MEMORY;
    kiln_status st = clone_body(g, src);
    if (st != KILN_OK) {
        kiln_graph_destroy(g);
        return st;
    }
    *out = g;
    return KILN_OK;
}
