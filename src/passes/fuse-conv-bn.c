/* Folds an inference-mode BatchNormalization into the Conv that feeds it. The BN is a per-channel affine map
 * y = (x - mean) * s + beta with s = scale / sqrt(var + epsilon), and a Conv's output channel m is linear in W[m]
 * and b[m], so the pair is one Conv with W'[m] = W[m] * s[m] and b'[m] = (b[m] - mean[m]) * s[m] + beta[m]
 * (computed in double). New initializers are made, since W may be shared with other nodes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"
#include "passes/fuse.h"
#include "passes/passes.h"
#include "runtime/op.h"

/* The per-channel parameters of BN node `bn` when it is a plain inference BN over `m` channels; else 0. */
static int bn_params(const kiln_graph *g, const kiln_node *bn, int64_t m, const float *p[4], double *eps,
                     const char **why) {
    if (bn->n_in != 5) return *why = "BatchNormalization does not have 5 inputs", 0;
    for (int j = 1; j < bn->n_out; j++)
        if (bn->out[j] >= 0) return *why = "BatchNormalization has running-statistics outputs", 0;
    if (kiln_attr_int(bn, "training_mode", 0) != 0) return *why = "BatchNormalization is in training mode", 0;
    if (bn->opset < 9 && kiln_attr_int(bn, "spatial", 1) != 1) return *why = "BatchNormalization spatial=0", 0;
    if (bn->opset < 7 && kiln_attr_int(bn, "is_test", 0) == 0 && bn->n_out > 1)
        return *why = "BatchNormalization is not in test mode", 0;
    for (int j = 0; j < 4; j++) {
        const kiln_tensor *t = kiln_fuse_const_f32(g, bn->in[j + 1]);
        if (!t) return *why = "a BatchNormalization parameter is not a float32 constant", 0;
        if (kiln_tensor_numel(t) != m || t->rank != 1)
            return *why = "BatchNormalization parameters do not match the Conv's output channels", 0;
        p[j] = t->data;
    }
    *eps = kiln_attr_float(bn, "epsilon", 1e-5f);
    if (!(*eps >= 0)) return *why = "BatchNormalization epsilon is negative", 0;
    for (int64_t c = 0; c < m; c++)
        if (!(p[3][c] + *eps > 0)) return *why = "a BatchNormalization variance plus epsilon is not positive", 0;
    return 1;
}

/* The Conv feeding BN's input when the pair can fuse (a Conv that already absorbed a BN earlier in this pass
 * writes that BN's output, and so is found here for the next BN of a chain): float32 constant W [M, C/g, k...], optional constant bias
 * [M], its output read by the BN alone. Returns the Conv's node index or -1. */
static int fusable_conv(const kiln_graph *g, const int *uses, const kiln_node *bn, const char **why) {
    int x = bn->n_in > 0 ? bn->in[0] : -1;
    int ci = kiln_fuse_producer(g, x);
    if (ci < 0) return -1;
    const kiln_node *c = &g->nodes[ci];
    if (strcmp(c->op_type, "Conv") || c->domain[0]) return -1;
    if (uses[x] != 1) return *why = "the Conv output has other readers", -1;
    if (c->n_out != 1 || c->n_in < 2 || c->n_in > 3) return *why = "unusual Conv arity", -1;
    const kiln_tensor *w = kiln_fuse_const_f32(g, c->in[1]);
    if (!w || w->rank < 3 || w->dims[0] < 1) return *why = "Conv weights are not a float32 constant of rank >= 3", -1;
    if (c->n_in == 3 && c->in[2] >= 0) {
        const kiln_tensor *b = kiln_fuse_const_f32(g, c->in[2]);
        if (!b || b->rank != 1 || b->dims[0] != w->dims[0]) return *why = "Conv bias is not a float32 constant [M]", -1;
    }
    return ci;
}

/* Rewrites Conv `ci` to compute BN `bi`'s output. Returns 0 (graph unchanged but for unused new values) when
 * memory runs out. */
static int fuse_one(kiln_graph *g, int ci, int bi, const float *p[4], double eps) {
    kiln_node *c = &g->nodes[ci];
    const kiln_tensor *w = g->values[c->in[1]].init;
    const float *b = c->n_in == 3 && c->in[2] >= 0 ? g->values[c->in[2]].init->data : NULL;
    int64_t m = w->dims[0], per = kiln_tensor_numel(w) / m;
    kiln_tensor nw = {0}, nb = {0};
    if (kiln_tensor_alloc(&nw, KILN_FLOAT, w->rank, w->dims) != KILN_OK ||
        kiln_tensor_alloc(&nb, KILN_FLOAT, 1, &m) != KILN_OK) {
        kiln_tensor_release(&nw);
        kiln_tensor_release(&nb);
        return 0;
    }
    const float *wv = w->data;
    float *nwv = nw.data, *nbv = nb.data;
    for (int64_t o = 0; o < m; o++) {
        double s = (double)p[0][o] / sqrt((double)p[3][o] + eps);
        for (int64_t i = 0; i < per; i++) nwv[o * per + i] = (float)((double)wv[o * per + i] * s);
        nbv[o] = (float)(((b ? (double)b[o] : 0.0) - (double)p[2][o]) * s + (double)p[1][o]);
    }
    const char *base = c->name && c->name[0] ? c->name : g->values[c->out[0]].name;
    int wid = kiln_fuse_add_init(g, base, "/bn_folded_W", &nw);
    int bid = wid >= 0 ? kiln_fuse_add_init(g, base, "/bn_folded_B", &nb) : -1;
    if (bid < 0 || !kiln_fuse_grow_inputs(g, ci, 3)) {
        kiln_tensor_release(&nb);
        return 0; /* the values added stay unused; DCE drops them */
    }
    c = &g->nodes[ci]; /* adding values never moves nodes, but keep the pointer fresh anyway */
    c->in[1] = wid;
    c->in[2] = bid;
    c->out[0] = g->nodes[bi].out[0];
    return 1;
}

kiln_status kiln_pass_fuse_conv_bn(kiln_graph *g, const kiln_logger *lg, int *n_fused) {
    *n_fused = 0;
    int *uses = kiln_fuse_use_counts(g);
    unsigned char *removed = calloc((size_t)g->n_nodes + 1, 1);
    if (!uses || !removed) {
        free(uses), free(removed);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const kiln_node *bn = &g->nodes[i];
        if (strcmp(bn->op_type, "BatchNormalization") || bn->domain[0] || bn->n_out < 1 || bn->out[0] < 0) continue;
        const char *why = NULL;
        int ci = fusable_conv(g, uses, bn, &why);
        const float *p[4];
        double eps = 0;
        if (ci >= 0 &&
            bn_params(g, bn, g->values[g->nodes[ci].in[1]].init->dims[0], p, &eps, &why)) {
            if (fuse_one(g, ci, i, p, eps)) {
                removed[i] = 1;
                (*n_fused)++;
                continue;
            }
            why = "out of memory";
        }
        if (why)
            kiln_log(lg, KILN_SEV_VERBOSE, "fuse-conv-bn: BatchNormalization '%s' left alone: %s", bn->name, why);
    }
    free(uses);
    kiln_status st = KILN_OK;
    if (*n_fused) {
        kiln_pass_remove_nodes(g, removed);
        st = kiln_graph_toposort(g);
    }
    free(removed);
    kiln_log(lg, KILN_SEV_INFO, "fuse-conv-bn: folded %d BatchNormalization node%s into Conv", *n_fused,
             *n_fused == 1 ? "" : "s");
    return st;
}
