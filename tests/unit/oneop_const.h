/* oneop (oneop.h) with constant inputs: shared by the linalg kernel tests and benchmarks. */
#ifndef KILN_TEST_ONEOP_CONST_H
#define KILN_TEST_ONEOP_CONST_H

#include <stdlib.h>

#include "oneop.h"

/* oneop_run, except that inputs whose bit is set in const_mask become initializers (constant weights), which lets
 * kernels prepack them at prepare time. */
static inline kiln_status lt_run_consts(oneop *o, const kiln_tensor *inputs, unsigned const_mask) {
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

#endif
