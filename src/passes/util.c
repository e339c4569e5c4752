/* Helpers shared by the passes. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

static void free_tensor(kiln_tensor *t) {
    if (!t) return;
    kiln_tensor_release(t);
    free(t);
}

/* Attribute tensors and subgraphs are heap objects the graph frees only for nodes it still holds. */
static void free_node_objects(kiln_node *n) {
    for (int j = 0; j < n->n_attrs; j++) {
        kiln_attr *a = &n->attrs[j];
        kiln_graph_destroy(a->g);
        free_tensor(a->t);
        for (int i = 0; a->graphs && i < a->n; i++) kiln_graph_destroy(a->graphs[i]);
        for (int i = 0; a->tensors && i < a->n; i++) free_tensor(a->tensors[i]);
        a->g = NULL, a->t = NULL, a->graphs = NULL, a->tensors = NULL;
    }
    n->n_attrs = 0;
}

void kiln_pass_remove_nodes(kiln_graph *g, const unsigned char *remove) {
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (remove[i]) {
            free_node_objects(&g->nodes[i]);
            continue;
        }
        g->nodes[k++] = g->nodes[i];
    }
    g->n_nodes = k;
    for (int i = 0; i < g->n_values; i++) g->values[i].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_out; j++)
            if (g->nodes[i].out[j] >= 0) g->values[g->nodes[i].out[j]].producer = i;
}

static void graph_outer_refs(const kiln_graph *g, void (*fn)(void *, const char *), void *user) {
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].is_outer) fn(user, g->values[i].name);
    for (int i = 0; i < g->n_nodes; i++) kiln_pass_outer_refs(&g->nodes[i], fn, user);
}

void kiln_pass_outer_refs(const kiln_node *n, void (*fn)(void *user, const char *name), void *user) {
    for (int j = 0; j < n->n_attrs; j++) {
        const kiln_attr *a = &n->attrs[j];
        if (a->g) graph_outer_refs(a->g, fn, user);
        for (int i = 0; a->graphs && i < a->n; i++)
            if (a->graphs[i]) graph_outer_refs(a->graphs[i], fn, user);
    }
}
