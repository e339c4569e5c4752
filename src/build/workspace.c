/* The CPU workspace limit (kiln_config_set_workspace): what it bounds and the build-time check.
 *
 * On the CPU backend the workspace is the scratch memory one node's kernel allocates at run time beyond the node's
 * inputs and outputs and that grows with the tensor sizes: im2col / column buffers (double Conv, ConvTranspose,
 * ConvInteger, QLinearConv, DeformConv), float32 staging copies of half-precision operands (Conv, ConvTranspose,
 * MatMul, Gemm), the int32 copies of quantized conv operands and accumulators, and the product buffer of
 * double / integer Gemm. The formulas below follow those kernels (src/backends/cpu/conv*.c, matmul.c). Working
 * buffers of a fixed size (GEMM packing blocks) or of one image plane per thread (depthwise padding) are not
 * counted: they do not grow with the batch and the GEMM falls back to static blocks when they cannot be had.
 *
 * The check runs at build time with every dynamic dim at its optimization profile's maximum: run-time shapes are
 * held inside the profile, and every formula grows with every dim, so the figure at the maxima bounds every run.
 * A node whose scratch cannot be bounded (a dim with no profile maximum, or one shape inference cannot resolve) is
 * named in a warning; the limit cannot hold for it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/workspace.h"
#include "build/build.h"
#include "core/log.h"
#include "core/status.h"
#include "shape/infer.h"

/* Saturating arithmetic: an absurd profile must give an absurd figure, not a wrapped small one. */
static uint64_t mul_sat(uint64_t a, uint64_t b) { return a && b > UINT64_MAX / a ? UINT64_MAX : a * b; }
static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* Element count of value id from its inferred type; 0 and *known = 0 when a dim is not a number. An absent value
 * (id < 0) counts 0 and is known. */
static uint64_t numel(const kiln_graph *g, int id, int *known) {
    if (id < 0) return 0;
    const kiln_type *t = &g->values[id].type;
    if (t->kind != KILN_KIND_TENSOR || t->rank < 0) return *known = 0, 0;
    uint64_t n = 1;
    for (int d = 0; d < t->rank; d++) {
        if (t->dims[d].v < 0) return *known = 0, 0;
        n = mul_sat(n, (uint64_t)t->dims[d].v);
    }
    return n;
}

/* Product of dims [from, rank) of value id (the spatial size of an NC... tensor). */
static uint64_t tail(const kiln_graph *g, int id, int from, int *known) {
    if (id < 0) return *known = 0, 0;
    const kiln_type *t = &g->values[id].type;
    if (t->kind != KILN_KIND_TENSOR || t->rank < from) return *known = 0, 0;
    uint64_t n = 1;
    for (int d = from; d < t->rank; d++) {
        if (t->dims[d].v < 0) return *known = 0, 0;
        n = mul_sat(n, (uint64_t)t->dims[d].v);
    }
    return n;
}

static uint64_t dim(const kiln_graph *g, int id, int d, int *known) {
    if (id < 0) return *known = 0, 0;
    const kiln_type *t = &g->values[id].type;
    if (t->kind != KILN_KIND_TENSOR || t->rank <= d || t->dims[d].v < 0) return *known = 0, 0;
    return (uint64_t)t->dims[d].v;
}

static kiln_dtype dtype_of(const kiln_graph *g, int id) { return id >= 0 ? g->values[id].type.dtype : KILN_UNDEFINED; }
static int is_half(kiln_dtype dt) { return dt == KILN_FLOAT16 || dt == KILN_BFLOAT16; }
static int in_id(const kiln_node *n, int i) { return i < n->n_in ? n->in[i] : -1; }
static int out_id(const kiln_node *n, int i) { return i < n->n_out ? n->out[i] : -1; }

/* Float copies of the inputs [0, n_in) and the output, as lin_as_float + a float result buffer do for half types. */
static uint64_t half_staging(const kiln_graph *g, const kiln_node *n, int n_in, int *known) {
    uint64_t e = numel(g, out_id(n, 0), known);
    for (int i = 0; i < n_in; i++) e = add_sat(e, numel(g, in_id(n, i), known));
    return mul_sat(e, 4);
}

uint64_t kiln_cpu_node_workspace(const kiln_graph *g, const kiln_node *n, const char **what, int *known) {
    *known = 1;
    *what = "";
    if (n->domain[0]) return 0;
    const char *op = n->op_type;
    int x = in_id(n, 0), w = in_id(n, 1), y = out_id(n, 0);
    kiln_dtype dt = dtype_of(g, x);
    if (!strcmp(op, "Conv")) {
        if (dt == KILN_DOUBLE) { /* col [C * k, P] per image */
            *what = "im2col columns";
            return mul_sat(mul_sat(mul_sat(dim(g, x, 1, known), tail(g, w, 2, known)), tail(g, y, 2, known)), 8);
        }
        if (is_half(dt)) {
            *what = "float32 copies of the half-precision operands";
            return half_staging(g, n, 3, known);
        }
        return 0; /* float32: implicit GEMM, packing blocks only */
    }
    if (!strcmp(op, "ConvTranspose")) {
        /* col [M * k, P_in] (M = output channels), plus float copies for half types */
        uint64_t es = dt == KILN_DOUBLE ? 8 : 4;
        uint64_t col = mul_sat(mul_sat(mul_sat(dim(g, y, 1, known), tail(g, w, 2, known)), tail(g, x, 2, known)), es);
        *what = is_half(dt) ? "columns and float32 copies of the half-precision operands" : "columns";
        return is_half(dt) ? add_sat(col, half_staging(g, n, 3, known)) : col;
    }
    if (!strcmp(op, "ConvInteger") || !strcmp(op, "QLinearConv")) {
        /* int32 copies of X and W, col [C * k, P] and, for QLinearConv, the int32 accumulator [N, M, P] */
        int wi = !strcmp(op, "QLinearConv") ? 3 : 1;
        uint64_t e = add_sat(numel(g, x, known), numel(g, in_id(n, wi), known));
        e = add_sat(e, mul_sat(mul_sat(dim(g, x, 1, known), tail(g, in_id(n, wi), 2, known)), tail(g, y, 2, known)));
        if (wi == 3) e = add_sat(e, numel(g, y, known));
        *what = "int32 operand copies and columns";
        return mul_sat(e, 4);
    }
    if (!strcmp(op, "DeformConv")) {
        /* double copies of every input, col [C * k, P] and the double result [N, M, P] */
        uint64_t e = 0;
        for (int i = 0; i < n->n_in; i++) e = add_sat(e, numel(g, in_id(n, i), known));
        e = add_sat(e, mul_sat(mul_sat(dim(g, x, 1, known), tail(g, w, 2, known)), tail(g, y, 2, known)));
        e = add_sat(e, numel(g, y, known));
        *what = "float64 operand copies and columns";
        return mul_sat(e, 8);
    }
    if (!strcmp(op, "MatMul") || !strcmp(op, "Gemm")) {
        if (is_half(dt)) {
            *what = "float32 copies of the half-precision operands";
            return half_staging(g, n, !strcmp(op, "Gemm") ? 3 : 2, known);
        }
        if (!strcmp(op, "Gemm") && dt != KILN_FLOAT && dt != KILN_UNDEFINED) {
            *what = "the product buffer";
            return mul_sat(numel(g, y, known), kiln_dtype_size(dt));
        }
        if (dt == KILN_UNDEFINED) *known = 0;
        return 0;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ the build-time check ---- */

typedef struct sym_max {
    const char *sym;
    int64_t max;
} sym_max;

typedef struct ws_scan {
    uint64_t limit;
    int profile;        /* for messages; -1 when the graph has no profile */
    const char *shapes; /* the inputs' max shapes, for messages */
    int n_unbounded;
    char unbounded[256]; /* the first nodes that could not be bounded */
} ws_scan;

static kiln_status scan_graph(const kiln_graph *g, ws_scan *s, const char *where) {
    for (int i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = &g->nodes[i];
        const char *what;
        int known;
        uint64_t need = kiln_cpu_node_workspace(g, n, &what, &known);
        if (!known) {
            if (s->n_unbounded++ < 4) {
                size_t len = strlen(s->unbounded);
                snprintf(s->unbounded + len, sizeof s->unbounded - len, "%s%snode %d ('%s', %s)",
                         len ? ", " : "", where, i, n->name, n->op_type);
            }
        } else if (need > s->limit) {
            char prof[64] = "";
            if (s->profile >= 0) snprintf(prof, sizeof prof, " of optimization profile %d", s->profile);
            return kiln_error(KILN_ERR_OUT_OF_MEMORY,
                              "%snode %d ('%s', %s) needs %llu bytes of CPU workspace (%s) at the maximum shapes%s "
                              "(%s), more than the workspace limit of %llu bytes (kiln_config_set_workspace)",
                              where, i, n->name, n->op_type, (unsigned long long)need, what, prof, s->shapes,
                              (unsigned long long)s->limit);
        }
        for (int j = 0; j < n->n_attrs; j++) {
            const kiln_attr *a = &n->attrs[j];
            char sub[256];
            snprintf(sub, sizeof sub, "%snode %d ('%s', %s) attribute '%s': ", where, i, n->name, n->op_type, a->name);
            if (a->g) KILN_TRY(scan_graph(a->g, s, sub));
            for (int k = 0; a->graphs && k < a->n; k++)
                if (a->graphs[k]) KILN_TRY(scan_graph(a->graphs[k], s, sub));
        }
    }
    return KILN_OK;
}

/* Puts profile p's maxima into the inputs of c (a clone of the built graph), and every dim that shares a symbol
 * with one of them; writes the shapes used to `shapes`. */
static kiln_status apply_maxima(kiln_graph *c, const kiln_profile_data *p, char *shapes, size_t cap) {
    sym_max *syms = calloc((size_t)(p->n * KILN_MAX_DIMS) + 1, sizeof *syms);
    KILN_FAIL_IF(!syms, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    int n_syms = 0;
    size_t len = 0;
    shapes[0] = 0;
    for (int r = 0; r < p->n; r++) {
        const kiln_shape_range *rg = &p->ranges[r];
        int id = kiln_graph_find_value(c, rg->input);
        if (id < 0) continue;
        kiln_type *t = &c->values[id].type;
        if (t->kind != KILN_KIND_TENSOR || t->rank != rg->rank) continue;
        if (len < cap) len += (size_t)snprintf(shapes + len, cap - len, "%s%s [", len ? ", " : "", rg->input);
        for (int d = 0; d < rg->rank; d++) {
            int64_t mx = rg->max[d];
            if (len < cap)
                len += mx == INT64_MAX ? (size_t)snprintf(shapes + len, cap - len, "%s?", d ? "," : "")
                                       : (size_t)snprintf(shapes + len, cap - len, "%s%lld", d ? "," : "", (long long)mx);
            if (mx == INT64_MAX || t->dims[d].v >= 0) continue;
            if (t->dims[d].sym) {
                int k = 0;
                while (k < n_syms && strcmp(syms[k].sym, t->dims[d].sym)) k++;
                if (k == n_syms) syms[n_syms++] = (sym_max){t->dims[d].sym, mx};
                else if (syms[k].max < mx) syms[k].max = mx;
            }
            t->dims[d] = (kiln_dim){mx, NULL};
        }
        if (len < cap) len += (size_t)snprintf(shapes + len, cap - len, "]");
    }
    for (int v = 0; v < c->n_values && n_syms; v++) {
        kiln_type *t = &c->values[v].type;
        if (t->kind != KILN_KIND_TENSOR) continue;
        for (int d = 0; d < t->rank; d++)
            for (int k = 0; t->dims[d].sym && k < n_syms; k++)
                if (!strcmp(t->dims[d].sym, syms[k].sym)) t->dims[d] = (kiln_dim){syms[k].max, NULL};
    }
    free(syms);
    return KILN_OK;
}

kiln_status kiln_check_workspace(const kiln_graph *g, const kiln_profile_data *profiles, int n_profiles,
                                 size_t limit, const kiln_logger *lg) {
    if (limit == 0) return KILN_OK;
    ws_scan s = {.limit = limit, .profile = -1, .shapes = "fixed input shapes"};
    if (n_profiles == 0) {
        KILN_TRY(scan_graph(g, &s, ""));
    }
    for (int p = 0; p < n_profiles; p++) {
        kiln_graph *c = NULL;
        KILN_TRY(kiln_graph_clone(g, NULL, &c));
        char shapes[512];
        kiln_status st = apply_maxima(c, &profiles[p], shapes, sizeof shapes);
        /* a contradiction at the maxima is the run's to report; what was inferred is still a bound */
        if (st == KILN_OK) (void)kiln_infer_shapes(c);
        s.profile = p;
        s.shapes = shapes;
        s.n_unbounded = 0;
        s.unbounded[0] = 0;
        if (st == KILN_OK) st = scan_graph(c, &s, "");
        kiln_graph_destroy(c);
        KILN_TRY(st);
        if (s.n_unbounded)
            kiln_log(lg, KILN_SEV_WARNING,
                     "workspace limit: the CPU scratch of %d node%s (%s%s) cannot be bounded at the maximum shapes of "
                     "optimization profile %d (a dim without a profile maximum); the limit of %zu bytes may not hold "
                     "for %s",
                     s.n_unbounded, s.n_unbounded == 1 ? "" : "s", s.unbounded, s.n_unbounded > 4 ? ", ..." : "", p,
                     limit, s.n_unbounded == 1 ? "it" : "them");
    }
    if (n_profiles == 0 && s.n_unbounded)
        kiln_log(lg, KILN_SEV_WARNING,
                 "workspace limit: the CPU scratch of %d node%s (%s%s) cannot be bounded (unknown shapes); the limit "
                 "of %zu bytes may not hold for %s",
                 s.n_unbounded, s.n_unbounded == 1 ? "" : "s", s.unbounded, s.n_unbounded > 4 ? ", ..." : "", limit,
                 s.n_unbounded == 1 ? "it" : "them");
    return KILN_OK;
}
