/* What the plan benchmarks (kiln_profile.c, gpu_time.c) share: opening a plan, describing and seeding its inputs
 * like `kiln run` does, and adding up kiln's per-layer profiler callbacks by layer and by op type.
 *
 * Header-only, because CMake builds every C file of bench/ as a program of its own. Define BENCH_PROG (the program's
 * name, a string literal that starts every message) before including it. */
#ifndef KILN_BENCH_PLAN_H
#define KILN_BENCH_PLAN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln.h"

#ifndef BENCH_PROG
#error "define BENCH_PROG before including bench_plan.h"
#endif

static inline int bench_failf(const char *what, const char *detail) {
    fprintf(stderr, BENCH_PROG ": %s: %s\n", what, detail);
    return 1;
}

/* last: the handle's kiln_last_error text, or NULL. */
static inline int bench_fail(const char *what, kiln_status s, const char *last) {
    fprintf(stderr, BENCH_PROG ": %s: %s%s%s\n", what, kiln_status_string(s), last && *last ? ": " : "",
            last ? last : "");
    return 1;
}

static inline uint64_t bench_rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline double bench_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* The values `kiln run` feeds an input without a file: floats uniform in [-1, 1), integers 0..3 (valid indices
 * and token ids for the models benchmarked). */
static inline void bench_fill_random(void *dst, kiln_dtype dt, int64_t n, uint64_t *seed) {
    for (int64_t k = 0; k < n; k++) {
        uint64_t r = bench_rng_next(seed);
        if (dt == KILN_FLOAT) ((float *)dst)[k] = (float)((double)(r >> 11) * 0x1.0p-53 * 2.0 - 1.0);
        else if (dt == KILN_INT64) ((int64_t *)dst)[k] = (int64_t)(r % 4u);
        else ((int32_t *)dst)[k] = (int32_t)(r % 4u);
    }
}

/* A runtime, the plan's engine and one context. want: the backend the plan must target (KILN_BACKEND_AUTO: any).
 * On failure says why and returns 1; what was created is the caller's to destroy. */
static inline int bench_open_plan(const char *path, kiln_backend want, kiln_runtime **rt, kiln_engine **eng,
                                  kiln_context **ctx) {
    kiln_status s;
    if ((s = kiln_runtime_create(NULL, rt)) != KILN_OK) return bench_fail("runtime", s, NULL);
    if ((s = kiln_engine_load_file(*rt, path, eng)) != KILN_OK) return bench_fail(path, s, kiln_last_error(*rt));
    if (want != KILN_BACKEND_AUTO && kiln_engine_backend(*eng) != want) {
        char msg[64];
        snprintf(msg, sizeof msg, "not a %s plan", kiln_backend_name(want));
        return bench_failf(path, msg);
    }
    if ((s = kiln_context_create(*eng, ctx)) != KILN_OK) return bench_fail("context", s, kiln_last_error(*eng));
    return 0;
}

/* One I/O tensor of an engine, as kiln_engine_io_info tells it. */
typedef struct bench_io {
    const char *name;
    kiln_io_mode mode;
    kiln_value_kind kind;
    kiln_dtype dt;
    int rank;
    int64_t dims[KILN_MAX_DIMS];
} bench_io;

static inline int bench_io_get(const kiln_engine *eng, int index, bench_io *io) {
    io->name = kiln_engine_io_name(eng, index);
    kiln_status s = kiln_engine_io_info(eng, io->name, &io->mode, &io->kind, &io->dt, &io->rank, io->dims);
    return s != KILN_OK ? bench_fail(io->name ? io->name : "I/O tensor", s, kiln_last_error(eng)) : 0;
}

/* Checks that an input is one bench_fill_random can seed and fixes its dynamic dims at 1 (the smallest shape; the
 * benchmarked models are static). *n: its element count. */
static inline int bench_input_shape(bench_io *io, int64_t *n) {
    if (io->kind != KILN_KIND_TENSOR || (io->dt != KILN_FLOAT && io->dt != KILN_INT64 && io->dt != KILN_INT32))
        return bench_failf(io->name, "only float32/int32/int64 tensor inputs are supported");
    *n = 1;
    for (int d = 0; d < io->rank; d++) {
        if (io->dims[d] < 0) io->dims[d] = 1;
        *n *= io->dims[d];
    }
    return 0;
}

/* Per-layer profile. cpu: CPU time, where the program measures it (0 elsewhere). */
typedef struct bench_op_stat {
    char op[64];
    double ms, cpu;
    int count;
} bench_op_stat;

typedef struct bench_layer_stat {
    char name[160], op[64];
    double ms, cpu;
} bench_layer_stat;

typedef struct bench_profile {
    bench_op_stat ops[256];
    int n_ops;
    bench_layer_stat *layers; /* owned: bench_profile_free */
    int n_layers, cap_layers;
    int cursor; /* the next callback's layer: reset to 0 before each run */
} bench_profile;

/* One profiler callback. Layers run in the same order every time, so the k-th callback of a run is layer k. */
static inline void bench_profile_add(bench_profile *p, const char *layer, const char *op, double ms, double cpu) {
    if (!op) op = "";
    int k = p->cursor++;
    if (k >= p->n_layers) {
        if (p->n_layers == p->cap_layers) {
            int cap = p->cap_layers ? 2 * p->cap_layers : 256;
            bench_layer_stat *g = realloc(p->layers, sizeof *g * (size_t)cap);
            if (!g) return;
            p->layers = g;
            p->cap_layers = cap;
        }
        bench_layer_stat *l = &p->layers[p->n_layers++];
        snprintf(l->name, sizeof l->name, "%s", layer ? layer : "");
        snprintf(l->op, sizeof l->op, "%s", op);
        l->ms = l->cpu = 0;
        k = p->n_layers - 1;
    }
    p->layers[k].ms += ms;
    p->layers[k].cpu += cpu;
    int j = 0;
    while (j < p->n_ops && strcmp(p->ops[j].op, op)) j++;
    if (j == p->n_ops) {
        if (p->n_ops == (int)(sizeof p->ops / sizeof p->ops[0])) return;
        snprintf(p->ops[p->n_ops++].op, sizeof p->ops[0].op, "%s", op);
    }
    p->ops[j].ms += ms;
    p->ops[j].cpu += cpu;
    p->ops[j].count++;
}

static inline int bench_by_op_ms(const void *a, const void *b) {
    double x = ((const bench_op_stat *)a)->ms, y = ((const bench_op_stat *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

static inline int bench_by_layer_ms(const void *a, const void *b) {
    double x = ((const bench_layer_stat *)a)->ms, y = ((const bench_layer_stat *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Op types and layers, slowest first; returns the op types' total ms. */
static inline double bench_profile_sort(bench_profile *p) {
    double total = 0;
    for (int j = 0; j < p->n_ops; j++) total += p->ops[j].ms;
    qsort(p->ops, (size_t)p->n_ops, sizeof p->ops[0], bench_by_op_ms);
    qsort(p->layers, (size_t)p->n_layers, sizeof p->layers[0], bench_by_layer_ms);
    return total;
}

static inline void bench_profile_free(bench_profile *p) {
    free(p->layers);
    p->layers = NULL;
    p->n_layers = p->cap_layers = 0;
}

#endif
