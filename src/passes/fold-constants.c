/* Constant folding: a node whose inputs are all initializers is run once at build time, on the same CPU kernels
 * the runtime uses (a one-node graph through kiln_program / kiln_exec), and its outputs become initializers.
 * Nodes are visited in topological order, so chains of constant nodes fold in one pass. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"
#include "passes/passes.h"
#include "runtime/exec.h"

/* Random ops must draw fresh values per run; ops with subgraphs are left whole. */
static int any_removed(const unsigned char *removed, int n) {
    for (int i = 0; i < n; i++)
        if (removed[i]) return 1;
    return 0;
}

static int never_fold(const kiln_node *n) {
    if (!strncmp(n->op_type, "Random", 6) || !strcmp(n->op_type, "Bernoulli") ||
        !strcmp(n->op_type, "Multinomial"))
        return 1;
    /* Dropout with a training_mode input may be random */
    if (!strcmp(n->op_type, "Dropout") && n->n_in >= 3 && n->in[2] >= 0) return 1;
    for (int j = 0; j < n->n_attrs; j++)
        if (n->attrs[j].type == KILN_ATTR_GRAPH || n->attrs[j].type == KILN_ATTR_GRAPHS) return 1;
    return 0;
}

static int inputs_constant(const kiln_graph *g, const kiln_node *n) {
    for (int j = 0; j < n->n_in; j++) {
        int v = n->in[j];
        if (v < 0) continue;
        const kiln_ir_value *val = &g->values[v];
        /* a graph input with an initializer is only a default: the caller may override it */
        if (!val->init || val->is_input) return 0;
    }
    return 1;
}

typedef struct folder {
    kiln_graph *t;    /* the one-node graph */
    kiln_program *p;
    kiln_exec *e;
} folder;

static void folder_free(folder *f) {
    kiln_exec_destroy(f->e);
    kiln_program_destroy(f->p);
    if (f->t && f->t->n_nodes) f->t->nodes[0].n_attrs = 0; /* the attributes are borrowed from the real node */
    kiln_graph_destroy(f->t);
    memset(f, 0, sizeof *f);
}

/* Builds and runs a graph holding only node `ni`, whose inputs are borrowed views of the initializers. The opset
 * imports are the root graph's (subgraphs have none of their own). */
static kiln_status run_one(const kiln_graph *g, int ni, folder *f) {
    const kiln_node *n = &g->nodes[ni];
    const kiln_graph *root = g;
    while (root->parent) root = root->parent;
    memset(f, 0, sizeof *f);
    f->t = kiln_graph_create(NULL);
    if (!f->t) return KILN_ERR_OUT_OF_MEMORY;
    kiln_graph *t = f->t;
    t->opsets = root->n_opsets ? kiln_arena_alloc(&t->arena, sizeof(kiln_opset) * (size_t)root->n_opsets) : NULL;
    KILN_FAIL_IF(root->n_opsets && !t->opsets, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < root->n_opsets; i++) t->opsets[i] = root->opsets[i]; /* strings outlive t */
    t->n_opsets = root->n_opsets;
    int node = kiln_graph_add_node(t, n->name, n->op_type, n->domain, n->opset, n->n_in, n->n_out);
    if (node < 0) return KILN_ERR_OUT_OF_MEMORY;
    for (int j = 0; j < n->n_in; j++) {
        int v = n->in[j];
        if (v < 0) continue;
        int id = kiln_graph_find_value(t, g->values[v].name);
        if (id < 0) {
            id = kiln_graph_add_value(t, g->values[v].name);
            if (id < 0) return KILN_ERR_OUT_OF_MEMORY;
            t->values[id].type = g->values[v].type;
            t->values[id].init = calloc(1, sizeof(kiln_tensor));
            KILN_FAIL_IF(!t->values[id].init, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            kiln_tensor_borrow(t->values[id].init, g->values[v].init);
        }
        t->nodes[node].in[j] = id;
    }
    for (int j = 0; j < n->n_out; j++) {
        int v = n->out[j];
        if (v < 0) continue;
        int id = kiln_graph_add_value(t, g->values[v].name);
        if (id < 0) return KILN_ERR_OUT_OF_MEMORY;
        t->values[id].type = g->values[v].type;
        t->nodes[node].out[j] = id;
        KILN_TRY(kiln_graph_add_output(t, id));
    }
    t->nodes[node].attrs = n->attrs;
    t->nodes[node].n_attrs = n->n_attrs;
    KILN_TRY(kiln_graph_toposort(t));
    KILN_TRY(kiln_program_create(t, &f->p));
    KILN_TRY(kiln_exec_create(f->p, NULL, &f->e));
    return kiln_exec_run(f->e);
}

/* Moves the folded outputs into g as initializers. Returns 0 (and changes nothing) when an output is not a
 * tensor or is too large. */
static int commit(kiln_graph *g, int ni, folder *f, const kiln_logger *lg) {
    const kiln_node *n = &g->nodes[ni];
    int k = 0;
    for (int j = 0; j < n->n_out; j++) {
        if (n->out[j] < 0) continue;
        const kiln_value *v = kiln_exec_output(f->e, k++);
        if (v->kind != KILN_V_TENSOR) return 0;
        size_t nb = kiln_tensor_nbytes(&v->t);
        if (nb > KILN_FOLD_MAX_BYTES || (nb == 0 && kiln_tensor_numel(&v->t) != 0)) {
            kiln_log(lg, KILN_SEV_VERBOSE, "fold-constants: node '%s' (%s) not folded: output %d is %zu bytes", n->name,
                     n->op_type, j, nb);
            return 0;
        }
    }
    kiln_tensor *made[64] = {0}; /* callers skip nodes with more outputs */
    k = 0;
    for (int j = 0; j < n->n_out; j++) {
        if (n->out[j] < 0) continue;
        kiln_value *v = kiln_exec_output(f->e, k++);
        kiln_tensor *t = calloc(1, sizeof *t);
        int ok = t != NULL;
        if (ok && v->t.owned) { /* steal the kernel's buffer */
            *t = v->t;
            memset(&v->t, 0, sizeof v->t);
            v->kind = KILN_V_EMPTY;
        } else if (ok) { /* an alias of an input or attribute: copy, since DCE may free what it points at */
            ok = kiln_tensor_copy(t, &v->t) == KILN_OK;
        }
        if (!ok) {
            if (t) kiln_tensor_release(t);
            free(t);
            for (int q = 0; q < j; q++)
                if (made[q]) kiln_tensor_release(made[q]), free(made[q]);
            return 0;
        }
        made[j] = t;
    }
    for (int j = 0; j < n->n_out; j++) {
        if (n->out[j] < 0) continue;
        kiln_ir_value *val = &g->values[n->out[j]];
        val->init = made[j];
        val->producer = -1;
        val->type.kind = KILN_KIND_TENSOR;
        val->type.dtype = made[j]->dtype;
        val->type.rank = made[j]->rank;
        for (int d = 0; d < made[j]->rank; d++) {
            val->type.dims[d].v = made[j]->dims[d];
            val->type.dims[d].sym = NULL;
        }
    }
    return 1;
}

/* Folds g's own nodes, then those of the subgraphs of the nodes that remain (a body's constants fold inside it;
 * values of enclosing graphs are never treated as constant there). */
static kiln_status fold_graph(kiln_graph *g, const kiln_logger *lg, int *n_folded) {
    unsigned char *removed = calloc((size_t)g->n_nodes + 1, 1);
    KILN_FAIL_IF(!removed, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = &g->nodes[i];
        if (never_fold(n) || !inputs_constant(g, n) || n->n_out > 64) continue;
        if (!kiln_cpu_find_op(n->op_type, n->domain, n->opset)) continue;
        folder f;
        kiln_status st = run_one(g, i, &f);
        if (st != KILN_OK) {
            /* not fatal: the node stays and fails (or not) at run time with the same message */
            kiln_log(lg, KILN_SEV_VERBOSE, "fold-constants: node '%s' (%s) not folded: %s", n->name, n->op_type,
                     kiln_error_text());
            kiln_error_clear();
        } else if (commit(g, i, &f, lg)) {
            removed[i] = 1;
            (*n_folded)++;
        }
        folder_free(&f);
    }
    if (any_removed(removed, g->n_nodes)) kiln_pass_remove_nodes(g, removed);
    free(removed);
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_attrs; j++) {
            kiln_attr *a = &g->nodes[i].attrs[j];
            if (a->g) KILN_TRY(fold_graph(a->g, lg, n_folded));
            for (int k = 0; a->graphs && k < a->n; k++)
                if (a->graphs[k]) KILN_TRY(fold_graph(a->graphs[k], lg, n_folded));
        }
    return KILN_OK;
}

kiln_status kiln_pass_fold_constants(kiln_graph *g, const kiln_logger *lg, int *n_folded) {
    *n_folded = 0;
    KILN_TRY(fold_graph(g, lg, n_folded));
    kiln_log(lg, KILN_SEV_INFO, "fold-constants: folded %d node%s", *n_folded, *n_folded == 1 ? "" : "s");
    return KILN_OK;
}
