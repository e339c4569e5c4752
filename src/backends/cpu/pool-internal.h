/* Shared by pool.c and pool-2d.c. Internal to the CPU backend. */
#ifndef KILN_CPU_POOL_INTERNAL_H
#define KILN_CPU_POOL_INTERNAL_H

#include "backends/cpu/conv-internal.h"
#include "core/parallel.h"

typedef enum pool_kind { POOL_MAX = 0, POOL_AVG = 1, POOL_LP = 2 } pool_kind;

typedef struct pool_params {
    pool_kind kind;
    conv_attrs a;
    int ceil_mode, count_include_pad, storage_order;
    double p;
} pool_params;

typedef struct pool_job {
    const pool_params *pp;
    const conv_geom *g;
    const void *x;
    void *y;
    int64_t *ind; /* MaxPool indices or NULL */
} pool_job;

/* 2-D MaxPool / AveragePool / LpPool over `planes` float planes of j (x, y: float; pool-2d.c). */
kiln_status pool2d_f32(const pool_job *j, int64_t planes);

#endif
