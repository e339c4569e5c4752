/* Test helper: build a graph with a single node, run it on the CPU executor, read its outputs.
 *
 *   oneop o;
 *   oneop_begin(&o, "Gather", "", 13, 2, 1);
 *   oneop_attr_int(&o, "axis", 1);
 *   kiln_tensor in[2] = {...};               // dtype KILN_UNDEFINED marks an absent optional input
 *   CHECK(oneop_run(&o, in) == KILN_OK);      // oneop_run_consts(&o, in, mask): masked inputs become weights
 *   const kiln_tensor *y = oneop_out(&o, 0);
 *   oneop_end(&o);
 */
#ifndef KILN_TEST_ONEOP_H
#define KILN_TEST_ONEOP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "runtime/exec.h"

typedef struct oneop {
    kiln_graph *g;
    int node;
    int n_in, n_out;
    kiln_program *p;
    kiln_exec *e;
    kiln_attr attrs[32];
    int n_attrs;
} oneop;

static inline void oneop_begin(oneop *o, const char *op, const char *domain, int opset, int n_in, int n_out) {
    memset(o, 0, sizeof *o);
    o->g = kiln_graph_create(NULL);
    o->n_in = n_in;
    o->n_out = n_out;
    o->g->opsets = kiln_arena_alloc(&o->g->arena, sizeof(kiln_opset));
    o->g->opsets[0].domain = kiln_arena_strdup(&o->g->arena, domain);
    o->g->opsets[0].version = opset;
    o->g->n_opsets = 1;
    o->node = kiln_graph_add_node(o->g, "n0", op, domain, opset, n_in, n_out);
}

static inline kiln_attr *oneop_new_attr(oneop *o, const char *name, kiln_attr_type t) {
    kiln_attr *a = &o->attrs[o->n_attrs++];
    memset(a, 0, sizeof *a);
    a->name = kiln_arena_strdup(&o->g->arena, name);
    a->type = t;
    return a;
}
static inline void oneop_attr_int(oneop *o, const char *name, int64_t v) { oneop_new_attr(o, name, KILN_ATTR_INT)->i = v; }
static inline void oneop_attr_float(oneop *o, const char *name, float v) { oneop_new_attr(o, name, KILN_ATTR_FLOAT)->f = v; }
static inline void oneop_attr_string(oneop *o, const char *name, const char *s) {
    kiln_attr *a = oneop_new_attr(o, name, KILN_ATTR_STRING);
    a->s = kiln_arena_strdup(&o->g->arena, s);
    a->s_len = strlen(s);
}
static inline void oneop_attr_ints(oneop *o, const char *name, const int64_t *v, int n) {
    kiln_attr *a = oneop_new_attr(o, name, KILN_ATTR_INTS);
    a->n = n;
    a->ints = kiln_arena_alloc(&o->g->arena, sizeof(int64_t) * (size_t)(n + 1));
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
}
static inline void oneop_attr_floats(oneop *o, const char *name, const float *v, int n) {
    kiln_attr *a = oneop_new_attr(o, name, KILN_ATTR_FLOATS);
    a->n = n;
    a->floats = kiln_arena_alloc(&o->g->arena, sizeof(float) * (size_t)(n + 1));
    memcpy(a->floats, v, sizeof(float) * (size_t)n);
}

/* Wires values, compiles and runs. Inputs are borrowed for the run, except those whose bit is set in const_mask:
 * on the first run they are copied into initializers (constant weights), which lets kernels prepack them at prepare
 * time; later runs ignore them. */
static inline kiln_status oneop_run_consts(oneop *o, const kiln_tensor *inputs, unsigned const_mask) {
    char name[32];
    if (!o->p) {
        kiln_attr *a = kiln_graph_node_alloc_attrs(o->g, o->node, o->n_attrs);
        memcpy(a, o->attrs, sizeof(kiln_attr) * (size_t)o->n_attrs);
        for (int i = 0; i < o->n_in; i++) {
            if (inputs[i].dtype == KILN_UNDEFINED) continue;
            snprintf(name, sizeof name, "x%d", i);
            int v = kiln_graph_add_value(o->g, name);
            o->g->nodes[o->node].in[i] = v;
            if (const_mask >> i & 1) {
                kiln_tensor *t = calloc(1, sizeof *t);
                KILN_TRY(kiln_tensor_copy(t, &inputs[i]));
                o->g->values[v].init = t;
            } else {
                kiln_graph_add_input(o->g, v);
            }
        }
        for (int i = 0; i < o->n_out; i++) {
            snprintf(name, sizeof name, "y%d", i);
            int v = kiln_graph_add_value(o->g, name);
            o->g->nodes[o->node].out[i] = v;
            kiln_graph_add_output(o->g, v);
        }
        KILN_TRY(kiln_graph_toposort(o->g));
        KILN_TRY(kiln_program_create(o->g, &o->p));
        KILN_TRY(kiln_exec_create(o->p, NULL, &o->e));
    }
    int k = 0;
    for (int i = 0; i < o->n_in; i++) {
        if (inputs[i].dtype == KILN_UNDEFINED || (const_mask >> i & 1)) continue;
        kiln_value *v = kiln_exec_input(o->e, k++);
        kiln_tensor_borrow(&v->t, &inputs[i]);
        v->kind = KILN_V_TENSOR;
    }
    return kiln_exec_run(o->e);
}

static inline kiln_status oneop_run(oneop *o, const kiln_tensor *inputs) { return oneop_run_consts(o, inputs, 0); }

static inline const kiln_tensor *oneop_out(oneop *o, int i) { return &kiln_exec_output(o->e, i)->t; }

static inline void oneop_end(oneop *o) {
    kiln_exec_destroy(o->e);
    kiln_program_destroy(o->p);
    kiln_graph_destroy(o->g);
    memset(o, 0, sizeof *o);
}

/* A borrowed tensor view over a C array. */
static inline kiln_tensor oneop_tensor(kiln_dtype dt, int rank, const int64_t *dims, const void *data) {
    kiln_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.rank = rank;
    for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
    t.data = (void *)data;
    return t;
}

#endif
