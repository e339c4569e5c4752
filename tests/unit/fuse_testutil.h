/* Helpers for the fusion-pass tests: build small graphs, run a graph on the CPU executor, and compare a graph
 * before and after a pass on the same random inputs. */
#ifndef KILN_TEST_FUSE_TESTUTIL_H
#define KILN_TEST_FUSE_TESTUTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "check.h"
#include "core/status.h"
#include "ir/graph.h"
#include "passes/fuse.h"
#include "passes/passes.h"
#include "runtime/exec.h"

static uint64_t ft_seed = 12345;

static inline float ft_rand(void) { /* uniform in [-1, 1) */
    ft_seed = ft_seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(ft_seed >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
}

static inline kiln_graph *ft_graph(int opset) {
    kiln_graph *g = kiln_graph_create(NULL);
    g->opsets = kiln_arena_alloc(&g->arena, sizeof(kiln_opset));
    g->opsets[0].domain = "";
    g->opsets[0].version = opset;
    g->n_opsets = 1;
    return g;
}

/* A value of known float32 type (rank -1: unknown). dims may hold -1 for a dynamic dim. */
static inline int ft_value(kiln_graph *g, const char *name, int rank, const int64_t *dims) {
    int v = kiln_graph_add_value(g, name);
    g->values[v].type.rank = rank;
    if (rank >= 0) g->values[v].type.dtype = KILN_FLOAT;
    for (int i = 0; i < rank; i++) g->values[v].type.dims[i].v = dims[i];
    return v;
}

static inline int ft_input(kiln_graph *g, const char *name, int rank, const int64_t *dims) {
    int v = ft_value(g, name, rank, dims);
    kiln_graph_add_input(g, v);
    return v;
}

/* An intermediate value: type left to inference. */
static inline int ft_tmp(kiln_graph *g, const char *name) { return kiln_graph_add_value(g, name); }

/* A float32 initializer with random values scaled by `scale` and shifted by `shift`. */
static inline int ft_const(kiln_graph *g, const char *name, int rank, const int64_t *dims, float scale, float shift) {
    int v = ft_value(g, name, rank, dims);
    kiln_tensor *t = calloc(1, sizeof *t);
    kiln_tensor_alloc(t, KILN_FLOAT, rank, dims);
    float *p = t->data;
    for (int64_t i = 0; i < kiln_tensor_numel(t); i++) p[i] = ft_rand() * scale + shift;
    g->values[v].init = t;
    return v;
}

static inline int ft_scalar(kiln_graph *g, const char *name, float x) {
    int v = ft_value(g, name, 0, NULL);
    kiln_tensor *t = calloc(1, sizeof *t);
    kiln_tensor_alloc(t, KILN_FLOAT, 0, NULL);
    *(float *)t->data = x;
    g->values[v].init = t;
    return v;
}

static inline int ft_node(kiln_graph *g, const char *name, const char *op, int n_in, const int *in, int out) {
    int k = kiln_graph_add_node(g, name, op, "", g->opsets[0].version, n_in, 1);
    for (int j = 0; j < n_in; j++) g->nodes[k].in[j] = in[j];
    g->nodes[k].out[0] = out;
    return k;
}

static inline void ft_attr_int(kiln_graph *g, int node, const char *name, int64_t v) {
    kiln_node *n = &g->nodes[node];
    kiln_attr *old = n->attrs;
    kiln_attr *a = kiln_arena_alloc(&g->arena, sizeof(kiln_attr) * (size_t)(n->n_attrs + 1));
    if (old) memcpy(a, old, sizeof(kiln_attr) * (size_t)n->n_attrs);
    memset(&a[n->n_attrs], 0, sizeof *a);
    a[n->n_attrs].name = name;
    a[n->n_attrs].type = KILN_ATTR_INT;
    a[n->n_attrs].i = v;
    n->attrs = a;
    n->n_attrs++;
}

static inline void ft_attr_ints(kiln_graph *g, int node, const char *name, int n_v, const int64_t *v) {
    kiln_node *n = &g->nodes[node];
    kiln_attr *old = n->attrs;
    kiln_attr *a = kiln_arena_alloc(&g->arena, sizeof(kiln_attr) * (size_t)(n->n_attrs + 1));
    if (old) memcpy(a, old, sizeof(kiln_attr) * (size_t)n->n_attrs);
    memset(&a[n->n_attrs], 0, sizeof *a);
    a[n->n_attrs].name = name;
    a[n->n_attrs].type = KILN_ATTR_INTS;
    a[n->n_attrs].n = n_v;
    a[n->n_attrs].ints = kiln_arena_alloc(&g->arena, sizeof(int64_t) * (size_t)n_v);
    memcpy(a[n->n_attrs].ints, v, sizeof(int64_t) * (size_t)n_v);
    n->attrs = a;
    n->n_attrs++;
}

static inline void ft_attr_float(kiln_graph *g, int node, const char *name, float v) {
    kiln_node *n = &g->nodes[node];
    kiln_attr *old = n->attrs;
    kiln_attr *a = kiln_arena_alloc(&g->arena, sizeof(kiln_attr) * (size_t)(n->n_attrs + 1));
    if (old) memcpy(a, old, sizeof(kiln_attr) * (size_t)n->n_attrs);
    memset(&a[n->n_attrs], 0, sizeof *a);
    a[n->n_attrs].name = name;
    a[n->n_attrs].type = KILN_ATTR_FLOAT;
    a[n->n_attrs].f = v;
    n->attrs = a;
    n->n_attrs++;
}

static inline int ft_count_op(const kiln_graph *g, const char *op) {
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) k += !strcmp(g->nodes[i].op_type, op);
    return k;
}

/* Up to 4 inputs / outputs per test graph. */
typedef struct ft_io {
    int n_in;
    int rank[4];
    int64_t dims[4][KILN_MAX_DIMS];
    float *data[4];
} ft_io;

static inline void ft_io_add(ft_io *io, int rank, const int64_t *dims) {
    int i = io->n_in++;
    io->rank[i] = rank;
    int64_t n = 1;
    for (int d = 0; d < rank; d++) n *= (io->dims[i][d] = dims[d]);
    io->data[i] = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t k = 0; k < n; k++) io->data[i][k] = ft_rand() * 2.0f;
}

static inline void ft_io_free(ft_io *io) {
    for (int i = 0; i < io->n_in; i++) free(io->data[i]);
}

/* Runs g on the inputs; out[j] gets a copy of output j (caller releases). Returns the status. */
static inline kiln_status ft_run(const kiln_graph *g, const ft_io *io, kiln_tensor *out, int n_out) {
    memset(out, 0, sizeof *out * (size_t)n_out);
    kiln_program *p = NULL;
    kiln_exec *e = NULL;
    kiln_status st = kiln_program_create(g, &p);
    if (st == KILN_OK) st = kiln_exec_create(p, NULL, &e);
    for (int i = 0; st == KILN_OK && i < io->n_in; i++) {
        kiln_value *v = kiln_exec_input(e, i);
        st = kiln_tensor_alloc(&v->t, KILN_FLOAT, io->rank[i], io->dims[i]);
        if (st == KILN_OK) {
            memcpy(v->t.data, io->data[i], kiln_tensor_nbytes(&v->t));
            v->kind = KILN_V_TENSOR;
        }
    }
    if (st == KILN_OK) st = kiln_exec_run(e);
    for (int j = 0; st == KILN_OK && j < n_out; j++) {
        st = kiln_tensor_copy(&out[j], &kiln_exec_output(e, j)->t);
    }
    if (st != KILN_OK) fprintf(stderr, "run failed: %s\n", kiln_error_text());
    kiln_exec_destroy(e);
    kiln_program_destroy(p);
    return st;
}

/* Max |a - b| / (1 + |b|) over two float tensors of the same shape; INFINITY when the shapes differ. */
static inline double ft_max_err(const kiln_tensor *a, const kiln_tensor *b) {
    if (a->rank != b->rank || a->dtype != KILN_FLOAT || b->dtype != KILN_FLOAT) return INFINITY;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return INFINITY;
    double m = 0;
    const float *x = a->data, *y = b->data;
    for (int64_t i = 0; i < kiln_tensor_numel(a); i++) {
        double e = fabs((double)x[i] - (double)y[i]) / (1.0 + fabs((double)y[i]));
        if (!(e <= m)) m = e; /* NaN propagates as a failure */
    }
    return m;
}

/* Everything the passes log, so tests can assert why a pattern was left alone. */
static char ft_log_text[16384];
static inline void ft_capture(void *user, kiln_severity sev, const char *msg) {
    (void)user, (void)sev;
    size_t k = strlen(ft_log_text);
    snprintf(ft_log_text + k, sizeof ft_log_text - k, "%s\n", msg);
}
static const kiln_logger ft_logger = {ft_capture, NULL};
static const kiln_logger ft_quiet = {NULL, NULL};

typedef kiln_status (*ft_pass_fn)(kiln_graph *g, const kiln_logger *lg, int *n);

/* Runs `pass` on a copy of g (then DCE, as the builder does) and compares the copy's outputs with g's on the
 * inputs in io. Returns the number of rewrites the pass reported (-1 on failure); *after gets the optimized copy
 * (caller destroys) when non-NULL. */
static inline int ft_check_pass(const kiln_graph *g, ft_pass_fn pass, const ft_io *io, int n_out, double tol,
                         kiln_graph **after) {
    kiln_graph *c = NULL;
    int n = -1, dn = 0, di = 0;
    CHECK(kiln_graph_toposort((kiln_graph *)g) == KILN_OK);
    CHECK(kiln_graph_clone(g, NULL, &c) == KILN_OK);
    if (!c) return -1;
    ft_log_text[0] = 0;
    kiln_status st = pass(c, &ft_logger, &n);
    CHECK(st == KILN_OK);
    if (st != KILN_OK) fprintf(stderr, "pass failed: %s\n", kiln_error_text());
    CHECK(kiln_pass_dce(c, &ft_quiet, &dn, &di) == KILN_OK);
    CHECK(kiln_graph_toposort(c) == KILN_OK);
    kiln_tensor ref[4], got[4];
    CHECK(ft_run(g, io, ref, n_out) == KILN_OK);
    CHECK(ft_run(c, io, got, n_out) == KILN_OK);
    for (int j = 0; j < n_out; j++) {
        double e = ft_max_err(&got[j], &ref[j]);
        if (!(e <= tol)) fprintf(stderr, "output %d: max relative error %g > %g\n", j, e, tol);
        CHECK(e <= tol);
        kiln_tensor_release(&ref[j]);
        kiln_tensor_release(&got[j]);
    }
    if (after)
        *after = c;
    else
        kiln_graph_destroy(c);
    return n;
}

#endif
