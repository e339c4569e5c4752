/* The Attention node's attributes, parsed the same way by the CPU reference (attention.c) and the CUDA kernel
 * (cuda/attention.cu). Internal to the backends. */
#ifndef KILN_CPU_ATTENTION_INTERNAL_H
#define KILN_CPU_ATTENTION_INTERNAL_H

#include <stdint.h>

#include "ir/graph.h"
#include "kiln.h"

typedef struct attn_attrs {
    int has_scale, is_causal, qk_mode;
    float scale, softcap;
    int64_t q_heads, kv_heads, left_window, right_window;
} attn_attrs;

/* Fills *a (absent attributes take the spec's defaults); fails when qk_matmul_output_mode is not 0..3. */
kiln_status attn_attrs_parse(const kiln_node *n, attn_attrs *a);

#endif
