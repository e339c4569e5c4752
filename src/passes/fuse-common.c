/* Helpers shared by the fuse passes, and the switch that turns passes off for measurements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "core/status.h"
#include "passes/fuse.h"
#include "passes/passes.h"
#include "shape/infer.h"

int kiln_pass_enabled(const char *name) {
    const char *off = getenv("KILN_PASSES_OFF");
    if (!off || !*off) return 1;
    size_t len = strlen(name);
    for (const char *p = off; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && *p == ' ') p++, n--;
        while (n && p[n - 1] == ' ') n--;
        if ((n == len && !strncmp(p, name, n)) || (n == 3 && !strncmp(p, "all", 3))) return 0;
        if (!end) break;
        p = end + 1;
    }
    return 1;
}

typedef struct outer_ctx {
    const kiln_graph *g;
    int *uses;
} outer_ctx;

static void outer_use(void *user, const char *name) {
    outer_ctx *c = user;
    int id = kiln_graph_find_value(c->g, name);
    if (id >= 0) c->uses[id] += 2; /* never single-use: a subgraph reads it by name */
}

int *kiln_fuse_use_counts(const kiln_graph *g) {
    int *uses = calloc((size_t)g->n_values + 1, sizeof *uses);
    if (!uses) return NULL;
    outer_ctx oc = {g, uses};
    for (int i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) uses[n->in[j]]++;
        kiln_pass_outer_refs(n, outer_use, &oc);
    }
    for (int i = 0; i < g->n_outputs; i++) uses[g->outputs[i]]++;
    return uses;
}

const kiln_tensor *kiln_fuse_const_f32(const kiln_graph *g, int v) {
    if (v < 0 || v >= g->n_values) return NULL;
    const kiln_ir_value *val = &g->values[v];
    /* a graph input with an initializer is only a default: the caller may override it */
    if (!val->init || val->is_input || val->init->dtype != KILN_FLOAT || !val->init->data) return NULL;
    if (kiln_tensor_numel(val->init) < 0) return NULL;
    return val->init;
}

int kiln_fuse_const_scalar(const kiln_graph *g, int v, float *x) {
    const kiln_tensor *t = kiln_fuse_const_f32(g, v);
    if (!t || kiln_tensor_numel(t) != 1) return 0;
    *x = ((const float *)t->data)[0];
    return 1;
}

int kiln_fuse_new_value(kiln_graph *g, const char *base, const char *suffix) {
    char name[512];
    snprintf(name, sizeof name, "%s%s", base ? base : "", suffix);
    for (int k = 1; kiln_graph_find_value(g, name) >= 0 && k < 1000000; k++)
        snprintf(name, sizeof name, "%s%s_%d", base ? base : "", suffix, k);
    return kiln_graph_add_value(g, name);
}

int kiln_fuse_add_init(kiln_graph *g, const char *base, const char *suffix, kiln_tensor *t) {
    int v = kiln_fuse_new_value(g, base, suffix);
    kiln_tensor *h = v >= 0 ? malloc(sizeof *h) : NULL;
    if (!h) {
        kiln_tensor_release(t);
        return -1;
    }
    *h = *t;
    memset(t, 0, sizeof *t);
    kiln_ir_value *val = &g->values[v];
    val->init = h;
    val->producer = -1;
    val->type.kind = KILN_KIND_TENSOR;
    val->type.dtype = h->dtype;
    val->type.rank = h->rank;
    for (int d = 0; d < h->rank; d++) {
        val->type.dims[d].v = h->dims[d];
        val->type.dims[d].sym = NULL;
    }
    return v;
}

int kiln_fuse_grow_inputs(kiln_graph *g, int node, int n_in) {
    kiln_node *n = &g->nodes[node];
    if (n->n_in >= n_in) return 1;
    int *in = kiln_arena_alloc(&g->arena, sizeof(int) * (size_t)n_in);
    if (!in) return 0;
    for (int j = 0; j < n_in; j++) in[j] = j < n->n_in ? n->in[j] : -1;
    n->in = in;
    n->n_in = n_in;
    return 1;
}

int kiln_fuse_producer(const kiln_graph *g, int v) {
    if (v < 0) return -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_out; j++)
            if (g->nodes[i].out[j] == v) return i;
    return -1;
}

kiln_type *kiln_fuse_infer_types(const kiln_graph *g) {
    kiln_graph *c = NULL;
    kiln_type *types = NULL;
    if (kiln_graph_clone(g, NULL, &c) == KILN_OK && kiln_infer_shapes(c) == KILN_OK && c->n_values == g->n_values)
        types = malloc(sizeof *types * ((size_t)g->n_values + 1));
    for (int i = 0; types && i < g->n_values; i++) {
        types[i] = c->values[i].type;
        /* symbol names live in the copy's arena, which goes away below */
        for (int d = 0; d < types[i].rank && d < KILN_MAX_DIMS; d++) types[i].dims[d].sym = NULL;
    }
    kiln_error_clear(); /* a failed inference only means fewer rewrites */
    kiln_graph_destroy(c);
    return types;
}
