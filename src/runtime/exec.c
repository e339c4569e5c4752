#include "runtime/exec.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dtype.h"

typedef struct sub_program {
    const kiln_graph *g;
    kiln_program *p;
} sub_program;

struct kiln_program {
    const kiln_graph *g;
    const kiln_op_def **defs;  /* per node */
    void **params;             /* per node */
    sub_program *subs;         /* every subgraph attribute of every node */
    int n_subs;
};

struct kiln_exec {
    const kiln_program *p;
    kiln_exec *parent;
    kiln_value *own;           /* per value: storage for values this execution produces or receives */
    kiln_value **slot;         /* per value: own[i], or the enclosing execution's value for outer refs */
    kiln_value scratch;        /* sink for outputs the graph does not use */
    kiln_exec **children;      /* per sub program: cached execution state */
    kiln_profiler_fn prof;
    void *prof_user;
};

static kiln_status add_sub(kiln_program *p, const kiln_graph *sg) {
    sub_program *ns = realloc(p->subs, sizeof *ns * (size_t)(p->n_subs + 1));
    KILN_FAIL_IF(!ns, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->subs = ns;
    ns[p->n_subs].g = sg;
    ns[p->n_subs].p = NULL;
    p->n_subs++;
    return kiln_program_create(sg, &ns[p->n_subs - 1].p);
}

kiln_status kiln_program_create(const kiln_graph *g, kiln_program **out) {
    *out = NULL;
    kiln_program *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->g = g;
    p->defs = calloc((size_t)g->n_nodes + 1, sizeof *p->defs);
    p->params = calloc((size_t)g->n_nodes + 1, sizeof *p->params);
    kiln_status st = KILN_OK;
    if (!p->defs || !p->params) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < g->n_nodes && st == KILN_OK; i++) {
        const kiln_node *n = &g->nodes[i];
        const kiln_op_def *d = kiln_cpu_find_op(n->op_type, n->domain, n->opset);
        if (!d) {
            st = kiln_error(KILN_ERR_UNSUPPORTED, "node %d ('%s'): no CPU kernel for op %s (domain '%s', opset %d)",
                            i, n->name, n->op_type, n->domain[0] ? n->domain : "ai.onnx", n->opset);
            break;
        }
        p->defs[i] = d;
        if (d->prepare) {
            char why[256];
            kiln_attr_mismatch(NULL, 0);
            st = d->prepare(n, g, &p->params[i]);
            if (st == KILN_OK && kiln_attr_mismatch(why, sizeof why))
                st = kiln_error(KILN_ERR_INVALID_GRAPH, "%s", why);
            if (st != KILN_OK) {
                kiln_error_wrap(st, "node %d ('%s', %s)", i, n->name, n->op_type);
                break;
            }
        }
        for (int j = 0; j < n->n_attrs && st == KILN_OK; j++) {
            const kiln_attr *a = &n->attrs[j];
            if (a->g) st = add_sub(p, a->g);
            for (int q = 0; a->graphs && q < a->n && st == KILN_OK; q++) st = add_sub(p, a->graphs[q]);
        }
    }
    if (st != KILN_OK) {
        kiln_program_destroy(p);
        return st;
    }
    *out = p;
    return KILN_OK;
}

void kiln_program_destroy(kiln_program *p) {
    if (!p) return;
    for (int i = 0; p->g && i < p->g->n_nodes; i++)
        if (p->defs && p->defs[i] && p->defs[i]->release && p->params[i]) p->defs[i]->release(p->params[i]);
    for (int i = 0; i < p->n_subs; i++) kiln_program_destroy(p->subs[i].p);
    free(p->subs);
    free(p->defs);
    free(p->params);
    free(p);
}

const kiln_graph *kiln_program_graph(const kiln_program *p) { return p->g; }

const kiln_op_def *kiln_program_def(const kiln_program *p, int i) { return p->defs[i]; }

/* Finds the value named `name` in the nearest enclosing execution. */
static kiln_value *resolve_outer(kiln_exec *parent, const char *name) {
    for (kiln_exec *e = parent; e; e = e->parent) {
        const kiln_graph *g = e->p->g;
        int id = kiln_graph_find_value(g, name);
        if (id >= 0 && !g->values[id].is_outer) return e->slot[id];
        if (id >= 0 && g->values[id].is_outer) return e->slot[id]; /* already bound to its own outer */
    }
    return NULL;
}

kiln_status kiln_exec_create(const kiln_program *p, kiln_exec *parent, kiln_exec **out) {
    *out = NULL;
    const kiln_graph *g = p->g;
    kiln_exec *e = calloc(1, sizeof *e);
    KILN_FAIL_IF(!e, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    e->p = p;
    e->parent = parent;
    e->own = calloc((size_t)g->n_values + 1, sizeof *e->own);
    e->slot = calloc((size_t)g->n_values + 1, sizeof *e->slot);
    e->children = calloc((size_t)p->n_subs + 1, sizeof *e->children);
    if (!e->own || !e->slot || !e->children) {
        kiln_exec_destroy(e);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < g->n_values; i++) {
        const kiln_ir_value *v = &g->values[i];
        e->slot[i] = &e->own[i];
        if (v->is_outer) {
            kiln_value *o = resolve_outer(parent, v->name);
            if (!o) {
                kiln_exec_destroy(e);
                return kiln_error(KILN_ERR_INVALID_GRAPH, "subgraph '%s' refers to '%s', which no enclosing graph "
                                  "defines", g->name, v->name);
            }
            e->slot[i] = o;
        } else if (v->init) {
            kiln_tensor_borrow(&e->own[i].t, v->init);
            e->own[i].kind = KILN_V_TENSOR;
        }
    }
    *out = e;
    return KILN_OK;
}

void kiln_exec_destroy(kiln_exec *e) {
    if (!e) return;
    for (int i = 0; e->children && i < e->p->n_subs; i++) kiln_exec_destroy(e->children[i]);
    for (int i = 0; e->own && i < e->p->g->n_values; i++) kiln_value_release(&e->own[i]);
    kiln_value_release(&e->scratch);
    free(e->own);
    free(e->slot);
    free(e->children);
    free(e);
}

kiln_value *kiln_exec_input(kiln_exec *e, int i) { return e->slot[e->p->g->inputs[i]]; }
kiln_value *kiln_exec_output(kiln_exec *e, int i) { return e->slot[e->p->g->outputs[i]]; }

void kiln_exec_set_profiler(kiln_exec *e, kiln_profiler_fn fn, void *user) {
    e->prof = fn;
    e->prof_user = user;
}

#define MAX_NODE_IO 1024

kiln_value *kiln_exec_value(kiln_exec *e, int id) { return e->slot[id]; }

kiln_status kiln_exec_run_node(kiln_exec *e, int i) {
    const kiln_graph *g = e->p->g;
    const kiln_node *n = &g->nodes[i];
    KILN_FAIL_IF(n->n_in > MAX_NODE_IO || n->n_out > MAX_NODE_IO, KILN_ERR_UNSUPPORTED,
                 "node %d ('%s', %s) has more than %d inputs or outputs", i, n->name, n->op_type, MAX_NODE_IO);
    kiln_value *ins_small[16], *outs_small[16];
    kiln_value **ins = n->n_in <= 16 ? ins_small : malloc(sizeof(kiln_value *) * (size_t)n->n_in);
    kiln_value **outs = n->n_out <= 16 ? outs_small : malloc(sizeof(kiln_value *) * (size_t)n->n_out);
    if (!ins || !outs) {
        if (ins != ins_small) free(ins);
        if (outs != outs_small) free(outs);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int j = 0; j < n->n_in; j++) {
        int v = n->in[j];
        ins[j] = v >= 0 ? e->slot[v] : NULL;
    }
    for (int j = 0; j < n->n_out; j++) {
        int v = n->out[j];
        outs[j] = v >= 0 ? e->slot[v] : &e->scratch;
    }
    kiln_kctx k = {n, g, e->p->params[i], n->n_in, n->n_out, ins, outs, e};
    struct timespec t0, t1;
    if (e->prof) clock_gettime(CLOCK_MONOTONIC, &t0);
    kiln_attr_mismatch(NULL, 0);
    kiln_status st = e->p->defs[i]->run(&k);
    char why[256];
    if (st == KILN_OK && kiln_attr_mismatch(why, sizeof why)) st = kiln_error(KILN_ERR_INVALID_GRAPH, "%s", why);
    if (ins != ins_small) free(ins);
    if (outs != outs_small) free(outs);
    if (st != KILN_OK) return kiln_error_wrap(st, "node %d ('%s', %s)", i, n->name, n->op_type);
    if (e->prof) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
        e->prof(e->prof_user, n->name, n->op_type, ms);
    }
    return KILN_OK;
}

kiln_status kiln_exec_run(kiln_exec *e) {
    const kiln_graph *g = e->p->g;
    for (int i = 0; i < g->n_nodes; i++) KILN_TRY(kiln_exec_run_node(e, i));
    for (int i = 0; i < g->n_outputs; i++) {
        const kiln_value *v = e->slot[g->outputs[i]];
        KILN_FAIL_IF(v->kind == KILN_V_EMPTY, KILN_ERR_RUNTIME, "graph output '%s' was not produced",
                     g->values[g->outputs[i]].name);
    }
    return KILN_OK;
}

/* ---- kernel helpers ---- */

const kiln_tensor *kiln_kin(const kiln_kctx *k, int i) {
    if (i < 0 || i >= k->n_in || !k->in[i] || k->in[i]->kind != KILN_V_TENSOR) return NULL;
    return &k->in[i]->t;
}

kiln_status kiln_kin_req(const kiln_kctx *k, int i, const kiln_tensor **t) {
    *t = kiln_kin(k, i);
    KILN_FAIL_IF(!*t, KILN_ERR_INVALID_GRAPH, "required input %d is missing or not a tensor", i);
    return KILN_OK;
}

kiln_status kiln_kout(kiln_kctx *k, int i, kiln_dtype dtype, int rank, const int64_t *dims, kiln_tensor **out) {
    KILN_FAIL_IF(i < 0 || i >= k->n_out, KILN_ERR_INTERNAL, "output index %d out of range", i);
    kiln_value *v = k->out[i];
    if (v->kind == KILN_V_SEQUENCE) kiln_value_set_sequence(v, KILN_UNDEFINED);
    KILN_TRY(kiln_tensor_alloc(&v->t, dtype, rank, dims));
    v->kind = KILN_V_TENSOR;
    *out = &v->t;
    return KILN_OK;
}

kiln_status kiln_kout_alias(kiln_kctx *k, int i, const kiln_tensor *src, int rank, const int64_t *dims) {
    KILN_FAIL_IF(i < 0 || i >= k->n_out, KILN_ERR_INTERNAL, "output index %d out of range", i);
    int64_t n = kiln_numel(rank, dims);
    KILN_FAIL_IF(n != kiln_tensor_numel(src), KILN_ERR_SHAPE, "alias changes the element count");
    kiln_value *v = k->out[i];
    if (src->dtype == KILN_STRING) { /* strings are owned per tensor: copy */
        KILN_TRY(kiln_tensor_copy(&v->t, src));
    } else {
        kiln_tensor_borrow(&v->t, src);
    }
    v->t.rank = rank;
    for (int d = 0; d < rank; d++) v->t.dims[d] = dims[d];
    v->kind = KILN_V_TENSOR;
    return KILN_OK;
}

kiln_value *kiln_kout_value(kiln_kctx *k, int i) { return k->out[i]; }

kiln_status kiln_krun_graph(kiln_kctx *k, const kiln_graph *sub, int n_in, const kiln_value *const *ins, int n_out,
                            kiln_value *const *outs) {
    kiln_exec *e = k->exec;
    int idx = -1;
    for (int i = 0; i < e->p->n_subs; i++)
        if (e->p->subs[i].g == sub) idx = i;
    KILN_FAIL_IF(idx < 0, KILN_ERR_INTERNAL, "subgraph is not an attribute of this graph's nodes");
    KILN_FAIL_IF(n_in != sub->n_inputs, KILN_ERR_INVALID_GRAPH, "subgraph '%s' takes %d inputs, given %d", sub->name,
                 sub->n_inputs, n_in);
    KILN_FAIL_IF(n_out > sub->n_outputs, KILN_ERR_INVALID_GRAPH, "subgraph '%s' has %d outputs, %d wanted",
                 sub->name, sub->n_outputs, n_out);
    if (!e->children[idx]) KILN_TRY(kiln_exec_create(e->p->subs[idx].p, e, &e->children[idx]));
    kiln_exec *c = e->children[idx];
    for (int i = 0; i < n_in; i++) KILN_TRY(kiln_value_copy(kiln_exec_input(c, i), ins[i]));
    KILN_TRY(kiln_exec_run(c));
    for (int i = 0; i < n_out; i++) KILN_TRY(kiln_value_copy(outs[i], kiln_exec_output(c, i)));
    return KILN_OK;
}
