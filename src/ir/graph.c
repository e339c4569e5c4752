#include "ir/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

kiln_graph *kiln_graph_create(kiln_graph *parent) {
    kiln_graph *g = calloc(1, sizeof *g);
    if (!g) {
        kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory creating a graph");
        return NULL;
    }
    g->parent = parent;
    g->name = "";
    return g;
}

static void free_attr_graphs(kiln_attr *a);

void kiln_graph_destroy(kiln_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_attrs; j++) free_attr_graphs(&g->nodes[i].attrs[j]);
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].init) {
            kiln_tensor_release(g->values[i].init);
            free(g->values[i].init);
        }
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    kiln_arena_free(&g->arena);
    free(g);
}

/* Attribute tensors and graphs are heap objects owned by the node's graph. */
static void free_attr_graphs(kiln_attr *a) {
    if (a->g) kiln_graph_destroy(a->g);
    for (int i = 0; a->graphs && i < a->n; i++) kiln_graph_destroy(a->graphs[i]);
    if (a->t) {
        kiln_tensor_release(a->t);
        free(a->t);
    }
    for (int i = 0; a->tensors && i < a->n; i++) {
        if (a->tensors[i]) {
            kiln_tensor_release(a->tensors[i]);
            free(a->tensors[i]);
        }
    }
}

int kiln_graph_find_value(const kiln_graph *g, const char *name) {
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0) return i;
    return -1;
}

static int grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 1;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return 0;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *arr = p;
    *cap = nc;
    return 1;
}

int kiln_graph_add_value(kiln_graph *g, const char *name) {
    if (!grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof *g->values)) {
        kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory adding value '%s'", name);
        return -1;
    }
    kiln_ir_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = kiln_arena_strdup(&g->arena, name);
    if (!v->name) {
        kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory adding value '%s'", name);
        return -1;
    }
    v->producer = -1;
    v->type.rank = -1;
    v->type.kind = KILN_KIND_TENSOR;
    return g->n_values++;
}

int kiln_graph_add_node(kiln_graph *g, const char *name, const char *op_type, const char *domain, int opset,
                        int n_in, int n_out) {
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes)) goto oom;
    kiln_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = kiln_arena_strdup(&g->arena, name);
    n->op_type = kiln_arena_strdup(&g->arena, op_type);
    n->domain = kiln_arena_strdup(&g->arena, domain);
    n->opset = opset;
    n->n_in = n_in;
    n->n_out = n_out;
    n->in = kiln_arena_alloc(&g->arena, sizeof(int) * (size_t)(n_in + 1));
    n->out = kiln_arena_alloc(&g->arena, sizeof(int) * (size_t)(n_out + 1));
    if (!n->name || !n->op_type || !n->domain || !n->in || !n->out) goto oom;
    for (int i = 0; i < n_in; i++) n->in[i] = -1;
    for (int i = 0; i < n_out; i++) n->out[i] = -1;
    return g->n_nodes++;
oom:
    kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory adding node '%s'", name ? name : "");
    return -1;
}

kiln_attr *kiln_graph_node_alloc_attrs(kiln_graph *g, int node, int n) {
    kiln_attr *a = kiln_arena_alloc(&g->arena, sizeof(kiln_attr) * (size_t)(n + 1));
    if (!a) {
        kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    g->nodes[node].attrs = a;
    g->nodes[node].n_attrs = n;
    return a;
}

kiln_status kiln_graph_node_set_ints(kiln_graph *g, int node, const char *name, const int64_t *v, int n) {
    kiln_node *nd = &g->nodes[node];
    int at = -1;
    for (int i = 0; i < nd->n_attrs && at < 0; i++)
        if (!strcmp(nd->attrs[i].name, name)) at = i;
    if (n < 0) { /* removal: the array shrinks in place (it lives in the arena) */
        if (at >= 0) {
            memmove(&nd->attrs[at], &nd->attrs[at + 1], sizeof *nd->attrs * (size_t)(nd->n_attrs - at - 1));
            nd->n_attrs--;
        }
        return KILN_OK;
    }
    kiln_attr a;
    memset(&a, 0, sizeof a);
    a.name = kiln_arena_strdup(&g->arena, name);
    a.type = KILN_ATTR_INTS;
    a.n = n;
    a.ints = kiln_arena_alloc(&g->arena, sizeof(int64_t) * (size_t)(n + 1));
    KILN_FAIL_IF(!a.name || !a.ints, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (n) memcpy(a.ints, v, sizeof(int64_t) * (size_t)n);
    if (at >= 0) {
        nd->attrs[at] = a;
        return KILN_OK;
    }
    kiln_attr *grown = kiln_arena_alloc(&g->arena, sizeof(kiln_attr) * (size_t)(nd->n_attrs + 2));
    KILN_FAIL_IF(!grown, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (nd->n_attrs) memcpy(grown, nd->attrs, sizeof(kiln_attr) * (size_t)nd->n_attrs);
    grown[nd->n_attrs] = a;
    nd->attrs = grown;
    nd->n_attrs++;
    return KILN_OK;
}

kiln_status kiln_graph_add_input(kiln_graph *g, int value) {
    KILN_FAIL_IF(!grow((void **)&g->inputs, &g->cap_inputs, g->n_inputs + 1, sizeof(int)), KILN_ERR_OUT_OF_MEMORY,
                 "out of memory");
    g->inputs[g->n_inputs++] = value;
    g->values[value].is_input = 1;
    return KILN_OK;
}

kiln_status kiln_graph_add_output(kiln_graph *g, int value) {
    KILN_FAIL_IF(!grow((void **)&g->outputs, &g->cap_outputs, g->n_outputs + 1, sizeof(int)),
                 KILN_ERR_OUT_OF_MEMORY, "out of memory");
    g->outputs[g->n_outputs++] = value;
    g->values[value].is_output = 1;
    return KILN_OK;
}

int kiln_graph_opset(const kiln_graph *g, const char *domain) {
    while (g->parent) g = g->parent;
    if (!domain) domain = "";
    for (int i = 0; i < g->n_opsets; i++) {
        const char *d = g->opsets[i].domain;
        if (strcmp(d, domain) == 0 || ((!*d || !strcmp(d, "ai.onnx")) && (!*domain || !strcmp(domain, "ai.onnx"))))
            return g->opsets[i].version;
    }
    return 0;
}

kiln_status kiln_graph_toposort(kiln_graph *g) {
    int nv = g->n_values, nn = g->n_nodes;
    for (int i = 0; i < nv; i++) g->values[i].producer = -1;
    for (int i = 0; i < nn; i++) {
        const kiln_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_out; j++) {
            int v = n->out[j];
            if (v < 0) continue;
            KILN_FAIL_IF(v >= nv, KILN_ERR_INTERNAL, "node '%s' output id out of range", n->name);
            kiln_ir_value *val = &g->values[v];
            KILN_FAIL_IF(val->producer >= 0, KILN_ERR_INVALID_GRAPH,
                         "value '%s' is produced twice: by node %d ('%s', %s) and node %d ('%s', %s)", val->name,
                         val->producer, g->nodes[val->producer].name, g->nodes[val->producer].op_type, i, n->name,
                         n->op_type);
            KILN_FAIL_IF(val->is_input || val->init, KILN_ERR_INVALID_GRAPH,
                         "node %d ('%s', %s) writes '%s', which is a graph input or initializer", i, n->name,
                         n->op_type, val->name);
            val->producer = i;
        }
    }
    /* Kahn's algorithm, stable: keeps the model's order where it is already valid. */
    int *indeg = calloc((size_t)nn + 1, sizeof(int));
    int *order = calloc((size_t)nn + 1, sizeof(int));
    int *done = calloc((size_t)nn + 1, sizeof(int));
    if (!indeg || !order || !done) {
        free(indeg), free(order), free(done);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    kiln_status st = KILN_OK;
    for (int i = 0; i < nn && st == KILN_OK; i++) {
        const kiln_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0) continue;
            const kiln_ir_value *val = &g->values[v];
            if (val->producer >= 0) {
                indeg[i]++;
            } else if (!val->is_input && !val->init && !val->is_outer) {
                st = kiln_error(KILN_ERR_INVALID_GRAPH,
                                "node %d ('%s', %s) input %d '%s' is not produced by any node, graph input or "
                                "initializer",
                                i, n->name, n->op_type, j, val->name);
            }
        }
    }
    /* Always taking the lowest-numbered ready node (a min-heap) keeps the order stable; consumer lists make it
     * O((N + E) log N), which matters for models with tens of thousands of nodes. */
    int n_order = 0;
    int *cstart = calloc((size_t)nv + 2, sizeof(int)), *cons = NULL, *heap = malloc(sizeof(int) * ((size_t)nn + 1));
    if (!cstart || !heap) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < nn && st == KILN_OK; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++) {
            int v = g->nodes[i].in[j];
            if (v >= 0 && v < nv && g->values[v].producer >= 0) cstart[v + 2]++;
        }
    if (st == KILN_OK) {
        for (int v = 0; v < nv; v++) cstart[v + 2] += cstart[v + 1];
        cons = malloc(sizeof(int) * ((size_t)cstart[nv + 1] + 1));
        if (!cons) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < nn && st == KILN_OK; i++) /* cstart[v + 1] runs as the fill cursor of value v */
        for (int j = 0; j < g->nodes[i].n_in; j++) {
            int v = g->nodes[i].in[j];
            if (v >= 0 && v < nv && g->values[v].producer >= 0) cons[cstart[v + 1]++] = i;
        }
    int n_heap = 0;
    for (int i = 0; i < nn && st == KILN_OK; i++)
        if (indeg[i] == 0) heap[n_heap++] = i; /* ascending: already a valid min-heap */
    while (st == KILN_OK && n_heap > 0) {
        int i = heap[0], last = heap[--n_heap], pos = 0;
        for (;;) { /* sift `last` down from the root */
            int c = 2 * pos + 1;
            if (c >= n_heap) break;
            if (c + 1 < n_heap && heap[c + 1] < heap[c]) c++;
            if (heap[c] >= last) break;
            heap[pos] = heap[c];
            pos = c;
        }
        if (n_heap > 0) heap[pos] = last;
        done[i] = 1;
        order[n_order++] = i;
        const kiln_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_out; j++) {
            int v = n->out[j];
            if (v < 0) continue;
            for (int e = cstart[v]; e < cstart[v + 1]; e++) {
                int k = cons[e];
                if (--indeg[k] != 0) continue;
                int q = n_heap++; /* sift k up */
                while (q > 0 && heap[(q - 1) / 2] > k) {
                    heap[q] = heap[(q - 1) / 2];
                    q = (q - 1) / 2;
                }
                heap[q] = k;
            }
        }
    }
    free(cstart), free(cons), free(heap);
    if (st == KILN_OK && n_order < nn) {
        for (int i = 0; i < nn; i++)
            if (!done[i]) {
                st = kiln_error(KILN_ERR_INVALID_GRAPH, "graph has a cycle through node %d ('%s', %s)", i,
                                g->nodes[i].name, g->nodes[i].op_type);
                break;
            }
    }
    if (st == KILN_OK) {
        kiln_node *sorted = malloc(sizeof(kiln_node) * ((size_t)nn + 1));
        if (!sorted) {
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        } else {
            for (int i = 0; i < nn; i++) sorted[i] = g->nodes[order[i]];
            if (nn > 0) memcpy(g->nodes, sorted, sizeof(kiln_node) * (size_t)nn); /* nodes is NULL when empty */
            free(sorted);
            for (int i = 0; i < nn; i++)
                for (int j = 0; j < g->nodes[i].n_out; j++)
                    if (g->nodes[i].out[j] >= 0) g->values[g->nodes[i].out[j]].producer = i;
        }
    }
    free(indeg), free(order), free(done);
    for (int i = 0; i < nn && st == KILN_OK; i++) {
        const kiln_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_attrs && st == KILN_OK; j++) {
            const kiln_attr *a = &n->attrs[j];
            if (a->g) st = kiln_graph_toposort(a->g);
            for (int k = 0; a->graphs && k < a->n && st == KILN_OK; k++) st = kiln_graph_toposort(a->graphs[k]);
        }
    }
    return st;
}

const kiln_attr *kiln_node_attr(const kiln_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

/* Attributes an accessor found with the wrong type since the last kiln_attr_mismatch() (per thread). A later
 * access of the same attribute with a type it has clears its entry: kernels may probe one name with several
 * accessors (Cast-1's "to" is a string, later an int). */
#define MAX_MISMATCHES 8
static _Thread_local struct {
    const kiln_attr *a[MAX_MISMATCHES];
    kiln_attr_type want[MAX_MISMATCHES];
    int n;
} mismatches;

static const char *attr_type_name(kiln_attr_type t) {
    static const char *const names[] = {"undefined", "a float", "an int", "a string", "a tensor", "a graph",
                                        "floats", "ints", "strings", "tensors", "graphs", "a sparse tensor",
                                        "sparse tensors", "a type", "types"};
    _Static_assert(sizeof names / sizeof names[0] == KILN_ATTR_TYPE_COUNT, "attribute type names");
    return (unsigned)t < KILN_ATTR_TYPE_COUNT ? names[t] : "of an unknown type";
}

/* a is present; returns whether it has one of the wanted types, noting a mismatch (or clearing one) as it goes. */
static int attr_is(const kiln_attr *a, kiln_attr_type want, kiln_attr_type also) {
    int ok = a->type == want || a->type == also;
    int i = 0;
    while (i < mismatches.n && mismatches.a[i] != a) i++;
    if (ok && i < mismatches.n) {
        mismatches.n--;
        mismatches.a[i] = mismatches.a[mismatches.n];
        mismatches.want[i] = mismatches.want[mismatches.n];
    } else if (!ok && i == mismatches.n && i < MAX_MISMATCHES) {
        mismatches.a[i] = a;
        mismatches.want[i] = want;
        mismatches.n++;
    }
    return ok;
}

int kiln_attr_mismatch(char *buf, size_t n) {
    int had = mismatches.n > 0;
    if (had && buf && n)
        snprintf(buf, n, "attribute '%.100s' is %s where %s is expected", mismatches.a[0]->name,
                 attr_type_name(mismatches.a[0]->type), attr_type_name(mismatches.want[0]));
    mismatches.n = 0;
    return had;
}

int64_t kiln_attr_int(const kiln_node *n, const char *name, int64_t def) {
    const kiln_attr *a = kiln_node_attr(n, name);
    return a && attr_is(a, KILN_ATTR_INT, KILN_ATTR_INT) ? a->i : def;
}

float kiln_attr_float(const kiln_node *n, const char *name, float def) {
    const kiln_attr *a = kiln_node_attr(n, name);
    if (!a || !attr_is(a, KILN_ATTR_FLOAT, KILN_ATTR_INT)) return def;
    return a->type == KILN_ATTR_FLOAT ? a->f : (float)a->i;
}

const char *kiln_attr_string(const kiln_node *n, const char *name, const char *def) {
    const kiln_attr *a = kiln_node_attr(n, name);
    return a && attr_is(a, KILN_ATTR_STRING, KILN_ATTR_STRING) ? a->s : def;
}

const int64_t *kiln_attr_ints(const kiln_node *n, const char *name, int *count) {
    const kiln_attr *a = kiln_node_attr(n, name);
    if (!a || !attr_is(a, KILN_ATTR_INTS, KILN_ATTR_INTS)) {
        *count = 0;
        return NULL;
    }
    *count = a->n;
    return a->ints;
}

const float *kiln_attr_floats(const kiln_node *n, const char *name, int *count) {
    const kiln_attr *a = kiln_node_attr(n, name);
    if (!a || !attr_is(a, KILN_ATTR_FLOATS, KILN_ATTR_FLOATS)) {
        *count = 0;
        return NULL;
    }
    *count = a->n;
    return a->floats;
}
