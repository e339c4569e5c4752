/* Per-layer profile of a kiln plan on the CPU backend: where an inference spends its time, by op type and by layer.
 * Feeds the same kind of seeded random inputs as `kiln run` (floats uniform in [-1, 1), integers 0..3).
 *
 * Build (from the repository root, after the library is built):
 *   cc -O2 -Iinclude bench/kiln_profile.c build/libkiln.a -lpthread -lm -o build/kiln-profile
 * Usage: kiln-profile MODEL.plan [iterations (default 10)] [top layers (default 25)]
 * bench/cpu_bench.py --profile builds and runs it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln.h"

typedef struct op_stat {
    char op[64];
    double ms, cpu;
    int count;
} op_stat;

typedef struct layer_stat {
    char name[160], op[64];
    double ms, cpu;
} layer_stat;

typedef struct profile {
    op_stat ops[256];
    int n_ops;
    layer_stat *layers;
    int n_layers, cap_layers, cursor;
    int recording;
    double last_cpu; /* process CPU time at the end of the previous layer (or the start of the run) */
} profile;

static double cpu_ms(void);

/* Layers run in the same order every time, so the k-th callback of a run is layer k. */
static void on_layer(void *user, const char *layer, const char *op, double ms) {
    profile *p = user;
    if (!p->recording) return;
    int k = p->cursor++;
    if (k >= p->n_layers) {
        if (p->n_layers == p->cap_layers) {
            int cap = p->cap_layers ? 2 * p->cap_layers : 256;
            layer_stat *g = realloc(p->layers, sizeof *g * (size_t)cap);
            if (!g) return;
            p->layers = g;
            p->cap_layers = cap;
        }
        layer_stat *l = &p->layers[p->n_layers++];
        snprintf(l->name, sizeof l->name, "%s", layer ? layer : "");
        snprintf(l->op, sizeof l->op, "%s", op ? op : "");
        l->ms = 0;
        k = p->n_layers - 1;
    }
    /* The pool's threads sleep between layers, so the process CPU time spent since the previous layer ended is
     * this layer's work on all threads. */
    double now = cpu_ms(), cpu = now - p->last_cpu;
    p->last_cpu = now;
    p->layers[k].ms += ms;
    p->layers[k].cpu += cpu;
    int j = 0;
    while (j < p->n_ops && strcmp(p->ops[j].op, op ? op : "")) j++;
    if (j == p->n_ops) {
        if (p->n_ops == (int)(sizeof p->ops / sizeof p->ops[0])) return;
        snprintf(p->ops[p->n_ops++].op, sizeof p->ops[0].op, "%s", op ? op : "");
    }
    p->ops[j].ms += ms;
    p->ops[j].cpu += cpu;
    p->ops[j].count++;
}

static int by_op_ms(const void *a, const void *b) {
    double x = ((const op_stat *)a)->ms, y = ((const op_stat *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int by_layer_ms(const void *a, const void *b) {
    double x = ((const layer_stat *)a)->ms, y = ((const layer_stat *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* CPU time of the whole process (all pool threads): the work done, which other load on a shared machine
 * disturbs far less than wall time (kiln's pool threads block rather than spin while idle). */
static double cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int fail(const char *what, kiln_status s) {
    fprintf(stderr, "kiln-profile: %s: %s\n", what, kiln_status_string(s));
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: kiln-profile MODEL.plan [iterations] [top layers]\n");
        return 2;
    }
    int iters = argc > 2 ? atoi(argv[2]) : 10, top = argc > 3 ? atoi(argv[3]) : 25;
    if (iters < 1) iters = 1;
    kiln_runtime *rt = NULL;
    kiln_engine *eng = NULL;
    kiln_context *ctx = NULL;
    kiln_status s;
    if ((s = kiln_runtime_create(NULL, &rt)) != KILN_OK) return fail("runtime", s);
    if ((s = kiln_engine_load_file(rt, argv[1], &eng)) != KILN_OK) return fail(argv[1], s);
    if ((s = kiln_context_create(eng, &ctx)) != KILN_OK) return fail("context", s);
    int n_io = kiln_engine_io_count(eng);
    void **bufs = calloc((size_t)n_io + 1, sizeof *bufs);
    uint64_t seed = 1;
    for (int i = 0; i < n_io; i++) {
        const char *name = kiln_engine_io_name(eng, i);
        kiln_io_mode mode;
        kiln_value_kind kind;
        kiln_dtype dt;
        int rank;
        int64_t dims[KILN_MAX_DIMS];
        if ((s = kiln_engine_io_info(eng, name, &mode, &kind, &dt, &rank, dims)) != KILN_OK) return fail(name, s);
        if (mode != KILN_IO_INPUT) continue;
        if (kind != KILN_KIND_TENSOR || (dt != KILN_FLOAT && dt != KILN_INT64 && dt != KILN_INT32)) {
            fprintf(stderr, "kiln-profile: input '%s': only float32/int32/int64 tensors are supported\n", name);
            return 1;
        }
        int64_t n = 1;
        for (int d = 0; d < rank; d++) n *= dims[d] < 0 ? 1 : (dims[d] = dims[d] < 0 ? 1 : dims[d]);
        size_t bytes = (size_t)n * kiln_dtype_size(dt);
        bufs[i] = malloc(bytes ? bytes : 1);
        for (int64_t k = 0; k < n; k++) {
            uint64_t r = rng_next(&seed);
            if (dt == KILN_FLOAT) ((float *)bufs[i])[k] = (float)((double)(r >> 11) * 0x1.0p-53 * 2.0 - 1.0);
            else if (dt == KILN_INT64) ((int64_t *)bufs[i])[k] = (int64_t)(r % 4u);
            else ((int32_t *)bufs[i])[k] = (int32_t)(r % 4u);
        }
        if ((s = kiln_context_set_input_shape(ctx, name, rank, dims)) != KILN_OK) return fail(name, s);
        if ((s = kiln_context_set_tensor_address(ctx, name, bufs[i], bytes)) != KILN_OK) return fail(name, s);
    }
    profile p = {0};
    if ((s = kiln_context_set_profiler(ctx, on_layer, &p)) != KILN_OK) return fail("profiler", s);
    for (int w = 0; w < 2; w++)
        if ((s = kiln_context_execute(ctx)) != KILN_OK) return fail("warm-up", s);
    double wall = 0, cpu0 = cpu_ms();
    p.recording = 1;
    for (int it = 0; it < iters; it++) {
        p.cursor = 0;
        p.last_cpu = cpu_ms();
        double t0 = now_ms();
        if ((s = kiln_context_execute(ctx)) != KILN_OK) return fail("run", s);
        wall += now_ms() - t0;
    }
    double cpu = cpu_ms() - cpu0, total = 0;
    for (int j = 0; j < p.n_ops; j++) total += p.ops[j].ms;
    printf("%s: %d layers, %.3f ms per run (layers sum %.3f ms), process CPU %.3f ms per run, %d runs\n", argv[1],
           p.n_layers, wall / iters, total / iters, cpu / iters, iters);
    qsort(p.ops, (size_t)p.n_ops, sizeof p.ops[0], by_op_ms);
    printf("\n%-24s %6s %10s %7s %12s\n", "op type", "count", "ms/run", "share", "CPU ms/run");
    for (int j = 0; j < p.n_ops; j++)
        printf("%-24s %6d %10.3f %6.1f%% %12.3f\n", p.ops[j].op, p.ops[j].count / iters, p.ops[j].ms / iters,
               100.0 * p.ops[j].ms / (total > 0 ? total : 1), p.ops[j].cpu / iters);
    qsort(p.layers, (size_t)p.n_layers, sizeof p.layers[0], by_layer_ms);
    if (top > 0) printf("\n%-48s %-20s %10s %12s\n", "layer", "op type", "ms/run", "CPU ms/run");
    for (int j = 0; j < p.n_layers && j < top; j++)
        printf("%-48s %-20s %10.3f %12.3f\n", p.layers[j].name, p.layers[j].op, p.layers[j].ms / iters,
               p.layers[j].cpu / iters);
    free(p.layers);
    kiln_context_destroy(ctx);
    kiln_engine_destroy(eng);
    kiln_runtime_destroy(rt);
    for (int i = 0; i < n_io; i++) free(bufs[i]);
    free(bufs);
    return 0;
}
