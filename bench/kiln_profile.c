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
#include <time.h>

#include "kiln.h"

#define BENCH_PROG "kiln-profile"
#include "bench_plan.h"

typedef struct cpu_profile {
    bench_profile p;
    int recording;
    double last_cpu; /* process CPU time at the end of the previous layer (or the start of the run) */
} cpu_profile;

/* CPU time of the whole process (all pool threads): the work done, which other load on a shared machine
 * disturbs far less than wall time (kiln's pool threads block rather than spin while idle). */
static double cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static void on_layer(void *user, const char *layer, const char *op, double ms) {
    cpu_profile *c = user;
    if (!c->recording) return;
    /* The pool's threads sleep between layers, so the process CPU time spent since the previous layer ended is
     * this layer's work on all threads. */
    double now = cpu_ms(), cpu = now - c->last_cpu;
    c->last_cpu = now;
    bench_profile_add(&c->p, layer, op, ms, cpu);
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
    if (bench_open_plan(argv[1], KILN_BACKEND_AUTO, &rt, &eng, &ctx)) return 1;
    int n_io = kiln_engine_io_count(eng);
    void **bufs = calloc((size_t)n_io + 1, sizeof *bufs);
    if (!bufs) return bench_failf("memory", "out of memory");
    uint64_t seed = 1;
    for (int i = 0; i < n_io; i++) {
        bench_io io;
        int64_t n;
        if (bench_io_get(eng, i, &io)) return 1;
        if (io.mode != KILN_IO_INPUT) continue;
        if (bench_input_shape(&io, &n)) return 1;
        size_t bytes = (size_t)n * kiln_dtype_size(io.dt);
        bufs[i] = malloc(bytes ? bytes : 1);
        if (!bufs[i]) return bench_failf(io.name, "out of memory");
        bench_fill_random(bufs[i], io.dt, n, &seed);
        if ((s = kiln_context_set_input_shape(ctx, io.name, io.rank, io.dims)) != KILN_OK)
            return bench_fail(io.name, s, kiln_last_error(ctx));
        if ((s = kiln_context_set_tensor_address(ctx, io.name, bufs[i], bytes)) != KILN_OK)
            return bench_fail(io.name, s, kiln_last_error(ctx));
    }
    cpu_profile c = {0};
    bench_profile *p = &c.p;
    if ((s = kiln_context_set_profiler(ctx, on_layer, &c)) != KILN_OK)
        return bench_fail("profiler", s, kiln_last_error(ctx));
    for (int w = 0; w < 2; w++)
        if ((s = kiln_context_execute(ctx)) != KILN_OK) return bench_fail("warm-up", s, kiln_last_error(ctx));
    double wall = 0, cpu0 = cpu_ms();
    c.recording = 1;
    for (int it = 0; it < iters; it++) {
        p->cursor = 0;
        c.last_cpu = cpu_ms();
        double t0 = bench_now_ms();
        if ((s = kiln_context_execute(ctx)) != KILN_OK) return bench_fail("run", s, kiln_last_error(ctx));
        wall += bench_now_ms() - t0;
    }
    double cpu = cpu_ms() - cpu0, total = bench_profile_sort(p);
    printf("%s: %d layers, %.3f ms per run (layers sum %.3f ms), process CPU %.3f ms per run, %d runs\n", argv[1],
           p->n_layers, wall / iters, total / iters, cpu / iters, iters);
    printf("\n%-24s %6s %10s %7s %12s\n", "op type", "count", "ms/run", "share", "CPU ms/run");
    for (int j = 0; j < p->n_ops; j++)
        printf("%-24s %6d %10.3f %6.1f%% %12.3f\n", p->ops[j].op, p->ops[j].count / iters, p->ops[j].ms / iters,
               100.0 * p->ops[j].ms / (total > 0 ? total : 1), p->ops[j].cpu / iters);
    if (top > 0) printf("\n%-48s %-20s %10s %12s\n", "layer", "op type", "ms/run", "CPU ms/run");
    for (int j = 0; j < p->n_layers && j < top; j++)
        printf("%-48s %-20s %10.3f %12.3f\n", p->layers[j].name, p->layers[j].op, p->layers[j].ms / iters,
               p->layers[j].cpu / iters);
    bench_profile_free(p);
    kiln_context_destroy(ctx);
    kiln_engine_destroy(eng);
    kiln_runtime_destroy(rt);
    for (int i = 0; i < n_io; i++) free(bufs[i]);
    free(bufs);
    return 0;
}
