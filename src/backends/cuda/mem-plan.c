/* Activation memory planning for CUDA engines (see mem-plan.h). */
#include "backends/cuda/mem-plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "core/dtype.h"
#include "core/status.h"
#include "shape/infer.h"

static size_t align_up(size_t n) { return (n + KILN_CUDA_ARENA_ALIGN - 1) / KILN_CUDA_ARENA_ALIGN * KILN_CUDA_ARENA_ALIGN; }

/* Bytes of a fully known tensor type, 0 when unbounded. */
static size_t type_bytes(const kiln_type *t) {
    if (t->kind != KILN_KIND_TENSOR || t->rank < 0 || t->dtype == KILN_STRING) return 0;
    size_t es = kiln_dtype_size(t->dtype);
    if (!es) return 0;
    uint64_t n = 1;
    for (int d = 0; d < t->rank; d++) {
        if (t->dims[d].v < 0) return 0;
        if (t->dims[d].v && n > (UINT64_MAX / 2) / (uint64_t)t->dims[d].v) return 0;
        n *= (uint64_t)t->dims[d].v;
    }
    if (n > (SIZE_MAX / 2) / es) return 0;
    return (size_t)n * es;
}

kiln_status kiln_cuda_profile_types(const kiln_graph *g, const kiln_profile_data *profiles, int n_profiles, int opt,
                                    kiln_type *types) {
    /* Inference runs on a copy (it rewrites types); intermediate types are cleared first so that shapes declared in
     * the model for another batch size cannot contradict the bound ones. */
    kiln_graph *c = NULL;
    KILN_TRY(kiln_graph_clone(g, NULL, &c));
    for (int v = 0; v < c->n_values; v++) {
        kiln_ir_value *iv = &c->values[v];
        if (iv->init || iv->is_input) continue;
        if (iv->type.kind == KILN_KIND_TENSOR) iv->type.dtype = KILN_UNDEFINED;
        iv->type.rank = -1;
    }
    for (int i = 0; i < c->n_inputs; i++) {
        kiln_ir_value *iv = &c->values[c->inputs[i]];
        if (iv->init || iv->type.rank < 0) continue;
        for (int d = 0; d < iv->type.rank; d++) {
            int64_t want = -1;
            for (int p = 0; p < (opt ? (n_profiles > 0) : n_profiles); p++) {
                const kiln_shape_range *r = kiln_profile_data_find(&profiles[p], iv->name);
                if (!r || r->rank != iv->type.rank) continue;
                int64_t x = opt ? r->opt[d] : r->max[d];
                if (x > want) want = x;
            }
            if (want >= 0) iv->type.dims[d].v = want;
            if (iv->type.dims[d].v >= 0) iv->type.dims[d].sym = NULL;
        }
    }
    kiln_status st = kiln_infer_shapes(c);
    if (st == KILN_OK)
        for (int v = 0; v < g->n_values; v++) types[v] = c->values[v].type;
    kiln_graph_destroy(c);
    return st;
}

typedef struct placed {
    int64_t off;
    size_t size;
} placed;

static int by_offset(const void *a, const void *b) {
    int64_t x = ((const placed *)a)->off, y = ((const placed *)b)->off;
    return x < y ? -1 : x > y;
}

/* Best fit: the smallest gap between slots alive at the same time that holds `size`, else past the last one. */
static kiln_status assign_offsets(kiln_cuda_mem_plan *m, const int *order, int n) {
    placed *busy = malloc(sizeof *busy * (size_t)(n + 1));
    KILN_FAIL_IF(!busy, KILN_ERR_OUT_OF_MEMORY, "out of memory planning device memory");
    for (int a = 0; a < n; a++) {
        int v = order[a], nb = 0;
        for (int b = 0; b < a; b++) {
            int u = order[b];
            if (m->first[u] <= m->last[v] && m->first[v] <= m->last[u]) busy[nb++] = (placed){m->offset[u], m->size[u]};
        }
        qsort(busy, (size_t)nb, sizeof *busy, by_offset);
        int64_t best = -1, at = 0;
        size_t best_gap = SIZE_MAX;
        for (int b = 0; b < nb; b++) {
            if (busy[b].off > at && (size_t)(busy[b].off - at) >= m->size[v] && (size_t)(busy[b].off - at) < best_gap)
                best = at, best_gap = (size_t)(busy[b].off - at);
            int64_t end = busy[b].off + (int64_t)busy[b].size;
            if (end > at) at = end;
        }
        m->offset[v] = best >= 0 ? best : at;
        size_t end = (size_t)m->offset[v] + m->size[v];
        if (end > m->arena_size) m->arena_size = end;
    }
    free(busy);
    return KILN_OK;
}

static int by_size_desc(const void *a, const void *b, void *ctx) {
    const kiln_cuda_mem_plan *m = ctx;
    int x = *(const int *)a, y = *(const int *)b;
    if (m->size[x] != m->size[y]) return m->size[x] > m->size[y] ? -1 : 1;
    return m->first[x] - m->first[y];
}

/* qsort has no context argument in C11: a small insertion sort keeps this portable (graphs have few thousand
 * values at most, and it runs once per engine). */
static void sort_order(int *order, int n, const kiln_cuda_mem_plan *m) {
    for (int i = 1; i < n; i++) {
        int x = order[i], j = i - 1;
        while (j >= 0 && by_size_desc(&order[j], &x, (void *)m) > 0) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = x;
    }
}

static void note_unbounded(kiln_cuda_mem_plan *m, const char *name) {
    m->n_unbounded++;
    size_t have = m->unbounded ? strlen(m->unbounded) : 0;
    if (have > 400) return;
    size_t add = strlen(name) + 4; /* ", " and the quotes */
    char *s = realloc(m->unbounded, have + add + 1);
    if (!s) return;
    snprintf(s + have, add + 1, "%s'%s'", have ? ", " : "", name);
    m->unbounded = s;
}

kiln_status kiln_cuda_mem_plan_build(const kiln_graph *g, const kiln_cuda_plan_node *nodes,
                                     const kiln_profile_data *profiles, int n_profiles, kiln_cuda_mem_plan *out) {
    memset(out, 0, sizeof *out);
    size_t nv = (size_t)g->n_values + 1;
    kiln_cuda_mem_plan *m = out;
    m->n_values = g->n_values;
    m->offset = malloc(sizeof *m->offset * nv);
    m->size = calloc(nv, sizeof *m->size);
    m->alias = calloc(nv, 1);
    m->first = malloc(sizeof *m->first * nv);
    m->last = malloc(sizeof *m->last * nv);
    kiln_type *types = calloc(nv, sizeof *types);
    int *root = malloc(sizeof *root * nv), *order = malloc(sizeof *order * nv);
    kiln_status st = KILN_OK;
    if (!m->offset || !m->size || !m->alias || !m->first || !m->last || !types || !root || !order) {
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory planning device memory");
        goto done;
    }
    for (int v = 0; v < g->n_values; v++) m->offset[v] = -1, m->first[v] = m->last[v] = -1, root[v] = v;
    if (kiln_cuda_profile_types(g, profiles, n_profiles, 0, types) != KILN_OK) {
        kiln_error_clear();
        goto done; /* nothing planned: every value gets an on-demand buffer */
    }
    /* which values get a slot: node outputs that ever live on the device */
    uint8_t *on_dev = (uint8_t *)order; /* reused as a flag array before the order is built */
    memset(on_dev, 0, nv);
    for (int i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = &g->nodes[i];
        if (!nodes[i].device) continue;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0) on_dev[n->out[j]] = 1;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && !(nodes[i].host_inputs >> j & 1u)) on_dev[n->in[j]] = 1;
    }
    for (int v = 0; v < g->n_values; v++) {
        const kiln_ir_value *iv = &g->values[v];
        if (!on_dev[v] || iv->init || iv->is_input || iv->producer < 0) continue;
        size_t b = type_bytes(&types[v]);
        if (!b) {
            note_unbounded(m, iv->name);
            continue;
        }
        m->size[v] = align_up(b);
        m->first[v] = iv->producer;
        m->last[v] = iv->producer;
    }
    /* lifetimes: readers (and subgraph outer reads) extend their value's, through aliases to the source's */
    for (int i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = &g->nodes[i];
        if (nodes[i].device && nodes[i].aliases && n->n_in > 0 && n->in[0] >= 0 && n->n_out > 0 && n->out[0] >= 0) {
            int src = root[n->in[0]], y = n->out[0];
            if (m->size[src] && m->first[src] >= 0) {
                root[y] = src;
                m->alias[y] = 1;
                m->size[y] = 0; /* shares the source's slot */
                m->first[y] = m->last[y] = -1;
            }
        }
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j] >= 0 ? root[n->in[j]] : -1;
            if (v >= 0 && m->first[v] >= 0 && m->last[v] < i) m->last[v] = i;
        }
        for (int j = 0; j < nodes[i].n_outer; j++) {
            int v = root[nodes[i].outer[j]];
            if (m->first[v] >= 0 && m->last[v] < i) m->last[v] = i;
        }
        if (nodes[i].device && nodes[i].op && nodes[i].op->scratch) {
            const char *what = "";
            int known = 1;
            size_t s = nodes[i].op->scratch(n, g, types, &what, &known);
            kiln_attr_mismatch(NULL, 0); /* a hook's attribute probing is not a run's */
            if (known && s > m->scratch_size) m->scratch_size = s;
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int v = root[g->outputs[k]];
        if (m->first[v] >= 0) m->last[v] = g->n_nodes; /* read after the run */
    }
    int n = 0;
    for (int v = 0; v < g->n_values; v++)
        if (m->first[v] >= 0) order[n++] = v;
    m->n_planned = n;
    sort_order(order, n, m);
    st = assign_offsets(m, order, n);
    if (st == KILN_OK) st = kiln_cuda_mem_plan_validate(m);
done:
    free(types);
    free(root);
    free(order);
    if (st != KILN_OK) kiln_cuda_mem_plan_free(m);
    return st;
}

kiln_status kiln_cuda_mem_plan_validate(const kiln_cuda_mem_plan *m) {
    for (int v = 0; v < m->n_values; v++) {
        if (m->offset[v] < 0) continue;
        KILN_FAIL_IF(m->first[v] < 0 || m->last[v] < m->first[v] || m->size[v] == 0, KILN_ERR_INTERNAL,
                     "memory plan: value %d has a slot but no lifetime", v);
        KILN_FAIL_IF((uint64_t)m->offset[v] > m->arena_size || m->size[v] > m->arena_size - (size_t)m->offset[v] ||
                         m->offset[v] % KILN_CUDA_ARENA_ALIGN,
                     KILN_ERR_INTERNAL, "memory plan: value %d's slot [%lld, +%zu) is outside the %zu-byte arena", v,
                     (long long)m->offset[v], m->size[v], m->arena_size);
        for (int u = 0; u < v; u++) {
            if (m->offset[u] < 0 || m->first[u] > m->last[v] || m->first[v] > m->last[u]) continue;
            KILN_FAIL_IF(m->offset[u] < m->offset[v] + (int64_t)m->size[v] &&
                             m->offset[v] < m->offset[u] + (int64_t)m->size[u],
                         KILN_ERR_INTERNAL, "memory plan: values %d and %d are alive together and overlap", u, v);
        }
    }
    return KILN_OK;
}

void kiln_cuda_mem_plan_free(kiln_cuda_mem_plan *m) {
    if (!m) return;
    free(m->offset), free(m->size), free(m->alias), free(m->first), free(m->last), free(m->unbounded);
    memset(m, 0, sizeof *m);
}
