/* Exact GELU as exporters without a Gelu op write it (torch's opset <= 19 export, transformers' BERT):
 *     t = x / sqrt(2)  (or x * (1 / sqrt(2)));  e = Erf(t);  u = e + 1;  y = (x * u) * 0.5  (or (x * 0.5) * u)
 * Five elementwise passes over the FFN activation become one Gelu node (opset 20 op; the node carries its own
 * opset, so the model's imports do not matter). The intermediates must have no other readers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"
#include "passes/fuse.h"
#include "passes/passes.h"
#include "runtime/op.h"

#define GELU_OPSET 20

static int is_op(const kiln_node *n, const char *op) { return !strcmp(n->op_type, op) && !n->domain[0]; }

static int near(float v, double want) { return fabs((double)v - want) <= 1e-6 * fabs(want) + 1e-7; }

/* If node ni is a binary op `op` with one input a float scalar constant near `c`, returns the other input. */
static int binary_with_const(const kiln_graph *g, int ni, const char *op, double c, int commutes) {
    if (ni < 0) return -1;
    const kiln_node *n = &g->nodes[ni];
    if (!is_op(n, op) || n->n_in != 2 || n->n_out != 1) return -1;
    float v;
    if (kiln_fuse_const_scalar(g, n->in[1], &v) && near(v, c)) return n->in[0];
    if (commutes && kiln_fuse_const_scalar(g, n->in[0], &v) && near(v, c)) return n->in[1];
    return -1;
}

/* x when value e is Erf(x / sqrt 2) (or Erf(x * 1/sqrt 2)); also the Div/Mul node in *scale_node. */
static int erf_input(const kiln_graph *g, const int *uses, int e, int *erf_node, int *scale_node) {
    int ei = kiln_fuse_producer(g, e);
    if (ei < 0 || !is_op(&g->nodes[ei], "Erf") || g->nodes[ei].n_in != 1 || uses[e] != 1) return -1;
    int t = g->nodes[ei].in[0];
    int si = kiln_fuse_producer(g, t);
    if (si < 0 || uses[t] != 1) return -1;
    int x = binary_with_const(g, si, "Div", M_SQRT2, 0);
    if (x < 0) x = binary_with_const(g, si, "Mul", M_SQRT1_2, 1);
    *erf_node = ei;
    *scale_node = si;
    return x;
}

/* Matches the final Mul `yi`; fills the pattern's nodes (5) and returns x, or -1. */
static int match(const kiln_graph *g, const int *uses, int yi, int nodes[5]) {
    const kiln_node *y = &g->nodes[yi];
    if (!is_op(y, "Mul") || y->n_in != 2 || y->n_out != 1 || y->out[0] < 0) return -1;
    for (int side = 0; side < 2; side++) {
        int p = y->in[side], q = y->in[1 - side];
        int pi = kiln_fuse_producer(g, p);
        if (pi < 0 || uses[p] != 1 || !is_op(&g->nodes[pi], "Mul") || g->nodes[pi].n_in != 2) continue;
        const kiln_node *inner = &g->nodes[pi];
        float half;
        int x = -1, u = -1;
        if (kiln_fuse_const_scalar(g, q, &half) && near(half, 0.5)) {
            /* y = (x * u) * 0.5: u is the operand of the inner Mul that comes from Add(e, 1) */
            for (int s2 = 0; s2 < 2 && x < 0; s2++) {
                int cand_u = inner->in[s2], cand_x = inner->in[1 - s2];
                int ai = kiln_fuse_producer(g, cand_u);
                if (ai >= 0 && uses[cand_u] == 1 && binary_with_const(g, ai, "Add", 1.0, 1) >= 0)
                    x = cand_x, u = cand_u;
            }
        } else {
            /* y = (x * 0.5) * u with u = q */
            int hx = binary_with_const(g, pi, "Mul", 0.5, 1);
            int ai = kiln_fuse_producer(g, q);
            if (hx >= 0 && ai >= 0 && uses[q] == 1 && binary_with_const(g, ai, "Add", 1.0, 1) >= 0) x = hx, u = q;
        }
        if (x < 0) continue;
        int ai = kiln_fuse_producer(g, u);
        int e = binary_with_const(g, ai, "Add", 1.0, 1);
        int ei, si;
        if (erf_input(g, uses, e, &ei, &si) != x) continue;
        nodes[0] = si, nodes[1] = ei, nodes[2] = ai, nodes[3] = pi, nodes[4] = yi;
        return x;
    }
    return -1;
}

kiln_status kiln_pass_fuse_gelu(kiln_graph *g, const kiln_logger *lg, int *n_fused) {
    *n_fused = 0;
    if (!kiln_cpu_find_op("Gelu", "", GELU_OPSET)) {
        kiln_log(lg, KILN_SEV_INFO, "fuse-gelu: no Gelu kernel: skipped");
        return KILN_OK;
    }
    int *uses = kiln_fuse_use_counts(g);
    int n0 = g->n_nodes;
    unsigned char *removed = calloc((size_t)n0 + 1, 1);
    if (!uses || !removed) {
        free(uses), free(removed);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < n0; i++) {
        int nodes[5];
        int x = match(g, uses, i, nodes);
        if (x < 0) continue;
        int dup = 0;
        for (int k = 0; k < 5; k++) dup |= removed[nodes[k]];
        if (dup) continue;
        int k = kiln_graph_add_node(g, g->nodes[i].name, "Gelu", "", GELU_OPSET, 1, 1);
        if (k < 0) {
            free(uses), free(removed);
            return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        }
        g->nodes[k].in[0] = x;
        g->nodes[k].out[0] = g->nodes[i].out[0];
        for (int j = 0; j < 5; j++) removed[nodes[j]] = 1;
        (*n_fused)++;
    }
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
    kiln_log(lg, KILN_SEV_INFO, "fuse-gelu: fused %d exact-GELU subgraph%s into Gelu", *n_fused,
             *n_fused == 1 ? "" : "s");
    return st;
}
