/* Shared between the matmul family files (matmul.c, matmul-einsum.c). Internal to the CPU backend. */
#ifndef KILN_CPU_MATMUL_INTERNAL_H
#define KILN_CPU_MATMUL_INTERNAL_H

#include "runtime/op.h"

/* numpy matmul of A [..., M, K] and B [..., K, N] (1-D operands promoted and their dim dropped): batched GEMM
 * of `batch` items with element offsets per item (c_off: row-major over the broadcast batch shape). */
typedef struct mm_plan {
    int64_t m, n, k, batch;
    int rbatch;
    int64_t batch_dims[KILN_MAX_DIMS];
    int rank; /* output */
    int64_t dims[KILN_MAX_DIMS];
    int64_t *a_off, *b_off, *c_off; /* one allocation, freed by mm_plan_free */
} mm_plan;

kiln_status mm_plan_shapes(const kiln_tensor *a, const kiln_tensor *b, mm_plan *p);
void mm_plan_free(mm_plan *p);
/* C = A*B per the plan for FLOAT, DOUBLE, and 32/64-bit integer dtypes (a, b, c of that dtype). */
struct kiln_sgemm_packed;
kiln_status mm_compute(kiln_dtype dt, const mm_plan *p, const void *a, const void *b, void *c);
/* The FLOAT case with an optional prepacked B (a constant 2-D weight; NULL for none). */
void mm_compute_f32(const mm_plan *p, const float *a, const float *b, const struct kiln_sgemm_packed *bpack,
                    float *c);

kiln_status einsum_prepare(const kiln_node *n, const kiln_graph *g, void **params);
void einsum_release(void *params);
kiln_status einsum_run(kiln_kctx *k);

#endif
