/* Internal interface between the eltwise family's files (eltwise.c holds the op table). */
#ifndef KILN_CPU_ELTWISE_OPS_H
#define KILN_CPU_ELTWISE_OPS_H

#include "backends/cpu/eltwise-core.h"
#include "runtime/op.h"

/* Binary and variadic ops (eltwise-binary.c). Params: an ew_bparams. */
typedef struct ew_bparams {
    const ew_bin_impl *impl;
    const char *op;
    int legacy;          /* opset < 7 broadcast attribute: 1 = b aligns to a at `axis` */
    int64_t axis;        /* legacy axis; -1 = align trailing dims */
    int kind;            /* EW_K_* */
} ew_bparams;

enum { EW_K_PLAIN = 0, EW_K_POW = 1, EW_K_EQUAL = 2, EW_K_SUM = 3, EW_K_MEAN = 4, EW_K_VARIADIC = 5 };

kiln_status ew_binary_prepare(const kiln_node *node, const kiln_graph *graph, void **params);
kiln_status ew_binary_run(kiln_kctx *k);
/* Sum, Mean, Max, Min: any number of inputs broadcast together. */
kiln_status ew_variadic_run(kiln_kctx *k);

/* Unary math (eltwise-unary.c): fills p->impl and attributes for the op named by node->op_type. */
kiln_status ew_math_setup(const kiln_node *node, ew_uparams *p);
kiln_status ew_math_prepare(const kiln_node *node, const kiln_graph *graph, void **params);

/* Clip (eltwise-unary.c). */
kiln_status ew_clip_prepare(const kiln_node *node, const kiln_graph *graph, void **params);
kiln_status ew_clip_run(kiln_kctx *k);

#endif
