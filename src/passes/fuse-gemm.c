/* MatMul + Add(bias) -> Gemm: the bias goes into the GEMM's C operand, which saves a full pass over the product
 * (read it back, add, write a second buffer) and a node. Transformer exports write every projection this way,
 * x[b, s, h] @ W[h, o] + bias[o]; A of rank > 2 is viewed as [b*s, h] for the Gemm and the result viewed back as
 * [b, s, o] (Reshape outputs alias their input, so the views cost nothing). The leading dims must be known from
 * shape inference (one of them may be dynamic: it becomes -1 in both Reshapes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"
#include "passes/fuse.h"
#include "passes/passes.h"
#include "runtime/op.h"

typedef struct mm_match {
    int mm, add;      /* node indices */
    int a, b, bias;   /* value ids */
    int64_t k, n;
    int rank;         /* of A (and of the result) */
    int64_t lead[KILN_MAX_DIMS]; /* A's leading dims, -1 for the one dynamic dim */
} mm_match;

/* Matches Add node `ai` against MatMul(A, const B[K, N]) + const bias[N]. */
static int match(const kiln_graph *g, const int *uses, const kiln_type *types, int ai, mm_match *m,
                 const char **why) {
    const kiln_node *add = &g->nodes[ai];
    if (add->n_in != 2 || add->n_out != 1 || add->out[0] < 0) return 0;
    for (int side = 0; side < 2; side++) {
        int p = add->in[side], q = add->in[1 - side];
        int mi = kiln_fuse_producer(g, p);
        if (mi < 0 || strcmp(g->nodes[mi].op_type, "MatMul") || g->nodes[mi].domain[0]) continue;
        const kiln_node *mm = &g->nodes[mi];
        const kiln_tensor *bias = kiln_fuse_const_f32(g, q);
        if (!bias) return *why = "the other Add input is not a float32 constant", 0;
        if (uses[p] != 1) return *why = "the MatMul output has other readers", 0;
        if (mm->n_in != 2 || mm->n_out != 1) return 0;
        const kiln_tensor *b = kiln_fuse_const_f32(g, mm->in[1]);
        if (!b || b->rank != 2) return *why = "MatMul B is not a 2-D float32 constant", 0;
        if (mm->opset < 11) return *why = "opset below 11 (Gemm's C broadcasting differs)", 0;
        memset(m, 0, sizeof *m);
        m->mm = mi, m->add = ai, m->a = mm->in[0], m->b = mm->in[1], m->bias = q;
        m->k = b->dims[0], m->n = b->dims[1];
        if (m->k < 1 || m->n < 1) return *why = "empty B", 0;
        if (kiln_tensor_numel(bias) != m->n || bias->rank < 1 || bias->dims[bias->rank - 1] != m->n)
            return *why = "the Add's constant is not a bias along the last axis", 0;
        const kiln_type *ta = types ? &types[m->a] : NULL;
        if (!ta || ta->kind != KILN_KIND_TENSOR || ta->rank < 2 || ta->rank > KILN_MAX_DIMS)
            return *why = "the rank of A is unknown or below 2", 0;
        if (ta->dtype != KILN_UNDEFINED && ta->dtype != KILN_FLOAT) return *why = "A is not float32", 0;
        if (bias->rank > ta->rank) return *why = "the bias has a higher rank than the product", 0;
        if (ta->dims[ta->rank - 1].v >= 0 && ta->dims[ta->rank - 1].v != m->k)
            return *why = "A's last dim differs from B's rows", 0;
        m->rank = ta->rank;
        int unknown = 0;
        for (int d = 0; d < ta->rank - 1; d++) {
            m->lead[d] = ta->dims[d].v;
            if (m->lead[d] == 0) return *why = "A is empty", 0;
            unknown += m->lead[d] < 0;
            if (m->lead[d] < 0) m->lead[d] = -1;
        }
        if (unknown > 1) return *why = "more than one leading dim of A is unknown", 0;
        return 1;
    }
    return 0;
}

static int shape_init(kiln_graph *g, const char *base, const char *suffix, int n, const int64_t *v) {
    int64_t len = n;
    kiln_tensor t = {0};
    if (kiln_tensor_alloc(&t, KILN_INT64, 1, &len) != KILN_OK) return -1;
    memcpy(t.data, v, sizeof(int64_t) * (size_t)n);
    return kiln_fuse_add_init(g, base, suffix, &t);
}

static int add_node(kiln_graph *g, const char *name, const char *op, int opset, int n_in, const int *in, int out) {
    int k = kiln_graph_add_node(g, name, op, "", opset, n_in, 1);
    if (k < 0) return -1;
    for (int j = 0; j < n_in; j++) g->nodes[k].in[j] = in[j];
    g->nodes[k].out[0] = out;
    return k;
}

static int rewrite(kiln_graph *g, const mm_match *m) {
    const kiln_node *mm = &g->nodes[m->mm];
    int opset = mm->opset;
    char name[512];
    snprintf(name, sizeof name, "%s", mm->name && mm->name[0] ? mm->name : g->values[mm->out[0]].name);
    /* C as [N]: a copy, because the Add's constant may be freed by DCE while a view would outlive it */
    kiln_tensor c = {0};
    if (kiln_tensor_copy(&c, g->values[m->bias].init) != KILN_OK) return 0;
    c.rank = 1;
    c.dims[0] = m->n;
    int cid = kiln_fuse_add_init(g, name, "/gemm_C", &c);
    if (cid < 0) return 0;
    int y = g->nodes[m->add].out[0];
    if (m->rank == 2) {
        int in[3] = {m->a, m->b, cid};
        return add_node(g, name, "Gemm", opset, 3, in, y) >= 0;
    }
    int64_t s1[2] = {-1, m->k}, s2[KILN_MAX_DIMS];
    for (int d = 0; d < m->rank - 1; d++) s2[d] = m->lead[d];
    s2[m->rank - 1] = m->n;
    int s1v = shape_init(g, name, "/gemm_A_shape", 2, s1);
    int s2v = s1v >= 0 ? shape_init(g, name, "/gemm_Y_shape", m->rank, s2) : -1;
    int a2 = s2v >= 0 ? kiln_fuse_new_value(g, name, "/gemm_A2d") : -1;
    int y2 = a2 >= 0 ? kiln_fuse_new_value(g, name, "/gemm_Y2d") : -1;
    if (y2 < 0) return 0;
    g->values[a2].type.kind = g->values[y2].type.kind = KILN_KIND_TENSOR;
    g->values[a2].type.dtype = g->values[y2].type.dtype = KILN_FLOAT;
    g->values[a2].type.rank = g->values[y2].type.rank = -1;
    char nm[600];
    int r1[2] = {m->a, s1v}, gi[3] = {a2, m->b, cid}, r2[2] = {y2, s2v};
    snprintf(nm, sizeof nm, "%s/gemm_view_A", name);
    if (add_node(g, nm, "Reshape", opset, 2, r1, a2) < 0) return 0;
    if (add_node(g, name, "Gemm", opset, 3, gi, y2) < 0) return 0;
    snprintf(nm, sizeof nm, "%s/gemm_view_Y", name);
    return add_node(g, nm, "Reshape", opset, 2, r2, y) >= 0;
}

kiln_status kiln_pass_fuse_gemm(kiln_graph *g, const kiln_logger *lg, int *n_fused) {
    *n_fused = 0;
    int any = 0, opset = 0;
    for (int i = 0; i < g->n_nodes && !any; i++)
        if (!strcmp(g->nodes[i].op_type, "MatMul") && !g->nodes[i].domain[0]) any = 1, opset = g->nodes[i].opset;
    if (!any || !kiln_cpu_find_op("Gemm", "", opset) || !kiln_cpu_find_op("Reshape", "", opset)) {
        kiln_log(lg, KILN_SEV_INFO, "fuse-gemm: fused 0 MatMul+Add pairs");
        return KILN_OK;
    }
    kiln_type *types = kiln_fuse_infer_types(g);
    if (!types) kiln_log(lg, KILN_SEV_VERBOSE, "fuse-gemm: shape inference failed: only 2-D products can fuse");
    int *uses = kiln_fuse_use_counts(g);
    int n0 = g->n_nodes;
    unsigned char *removed = calloc((size_t)n0 + 1, 1);
    if (!uses || !removed) {
        free(types), free(uses), free(removed);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < n0; i++) {
        if (strcmp(g->nodes[i].op_type, "Add") || g->nodes[i].domain[0]) continue;
        mm_match m;
        const char *why = NULL;
        if (!match(g, uses, types, i, &m, &why)) {
            if (why)
                kiln_log(lg, KILN_SEV_VERBOSE, "fuse-gemm: Add '%s' left alone: %s", g->nodes[i].name, why);
            continue;
        }
        if (!rewrite(g, &m)) {
            free(types), free(uses), free(removed);
            return kiln_error(KILN_ERR_OUT_OF_MEMORY, "fuse-gemm: out of memory rewriting '%s'", g->nodes[i].name);
        }
        removed[m.mm] = removed[m.add] = 1;
        (*n_fused)++;
    }
    free(types);
    free(uses);
    kiln_status st = KILN_OK;
    if (*n_fused) {
        unsigned char *r = realloc(removed, (size_t)g->n_nodes + 1);
        if (!r) {
            free(removed);
            return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        }
        removed = r;
        memset(removed + n0, 0, (size_t)(g->n_nodes - n0) + 1);
        kiln_pass_remove_nodes(g, removed);
        st = kiln_graph_toposort(g);
    }
    free(removed);
    kiln_log(lg, KILN_SEV_INFO, "fuse-gemm: fused %d MatMul+Add pair%s into Gemm", *n_fused, *n_fused == 1 ? "" : "s");
    return st;
}
