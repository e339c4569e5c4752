/* Dead-code elimination: walks the (topologically sorted) graph backwards from its outputs; a node is live when
 * one of its outputs is used. Then drops initializers and values nothing refers to, renumbering value ids. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"
#include "passes/passes.h"

typedef struct mark_ctx {
    kiln_graph *g;
    unsigned char *used;
} mark_ctx;

static void mark_name(void *user, const char *name) {
    mark_ctx *m = user;
    int id = kiln_graph_find_value(m->g, name);
    if (id >= 0) m->used[id] = 1;
}

static void free_tensor(kiln_tensor *t) {
    kiln_tensor_release(t);
    free(t);
}

/* Subgraphs first: what a body stops reading from its enclosing graph may make nodes there dead too. Subgraph
 * inputs and outputs are positional (Loop, Scan), so they stay like a root graph's. */
static kiln_status dce_graph(kiln_graph *g, int *n_nodes_removed, int *n_inits_removed) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_attrs; j++) {
            kiln_attr *a = &g->nodes[i].attrs[j];
            if (a->g) KILN_TRY(dce_graph(a->g, n_nodes_removed, n_inits_removed));
            for (int k = 0; a->graphs && k < a->n; k++)
                if (a->graphs[k]) KILN_TRY(dce_graph(a->graphs[k], n_nodes_removed, n_inits_removed));
        }
    int nv = g->n_values, nn = g->n_nodes;
    unsigned char *used = calloc((size_t)nv + 1, 1);
    unsigned char *dead = calloc((size_t)nn + 1, 1);
    int *remap = malloc(sizeof(int) * ((size_t)nv + 1));
    if (!used || !dead || !remap) {
        free(used), free(dead), free(remap);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < g->n_outputs; i++) used[g->outputs[i]] = 1;
    mark_ctx m = {g, used};
    int n_dead = 0;
    for (int i = nn - 1; i >= 0; i--) {
        const kiln_node *n = &g->nodes[i];
        int live = 0;
        for (int j = 0; j < n->n_out; j++) live |= n->out[j] >= 0 && used[n->out[j]];
        if (!live) {
            dead[i] = 1;
            n_dead++;
            continue;
        }
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) used[n->in[j]] = 1;
        kiln_pass_outer_refs(n, mark_name, &m); /* subgraphs read enclosing values by name */
    }
    if (n_dead) kiln_pass_remove_nodes(g, dead);
    *n_nodes_removed += n_dead;

    /* Keep: graph inputs/outputs, values a node reads or writes. Everything else goes, initializers included. */
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_out; j++)
            if (g->nodes[i].out[j] >= 0) used[g->nodes[i].out[j]] = 1;
    int k = 0;
    for (int i = 0; i < nv; i++) {
        kiln_ir_value *v = &g->values[i];
        if (used[i] || v->is_input || v->is_output) {
            remap[i] = k;
            g->values[k++] = *v;
        } else {
            remap[i] = -1;
            if (v->init) {
                free_tensor(v->init);
                (*n_inits_removed)++;
            }
        }
    }
    g->n_values = k;
    for (int i = 0; i < g->n_nodes; i++) {
        kiln_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) n->in[j] = remap[n->in[j]];
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0) n->out[j] = remap[n->out[j]];
    }
    for (int i = 0; i < g->n_inputs; i++) g->inputs[i] = remap[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++) g->outputs[i] = remap[g->outputs[i]];
    free(used), free(dead), free(remap);
    return KILN_OK;
}

kiln_status kiln_pass_dce(kiln_graph *g, const kiln_logger *lg, int *n_nodes_removed, int *n_inits_removed) {
    *n_nodes_removed = 0;
    *n_inits_removed = 0;
    KILN_TRY(dce_graph(g, n_nodes_removed, n_inits_removed));
    kiln_log(lg, KILN_SEV_INFO, "dce: removed %d node%s and %d initializer%s", *n_nodes_removed,
             *n_nodes_removed == 1 ? "" : "s", *n_inits_removed, *n_inits_removed == 1 ? "" : "s");
    return KILN_OK;
}
