/* MatMul with a constant weight (prepacked at prepare), through the executor: BERT-base projection shapes.
 * Usage: bench_cpu_matmul [filter-substring]. KILN_BENCH_CPUTIME=1: thread CPU time (with KILN_NUM_THREADS=1);
 * 2: process CPU time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/parallel.h"
#include "oneop.h"

static int use_cpu_time;

static double now(void) {
    struct timespec t;
    clockid_t id = use_cpu_time == 2 ? CLOCK_PROCESS_CPUTIME_ID : use_cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    static const struct {
        const char *name;
        int64_t batch, seq, k, n;
    } shapes[] = {
        {"bert-base qkv bs1", 1, 128, 768, 2304},     {"bert-base attn out bs1", 1, 128, 768, 768},
        {"bert-base ffn up bs1", 1, 128, 768, 3072},  {"bert-base ffn down bs1", 1, 128, 3072, 768},
        {"bert-base ffn up bs8", 8, 128, 768, 3072},  {"resnet50 fc bs1", 1, 1, 2048, 1000},
    };
    use_cpu_time = getenv("KILN_BENCH_CPUTIME") ? atoi(getenv("KILN_BENCH_CPUTIME")) : 0;
    printf("%d threads%s\n", kiln_num_threads(),
           use_cpu_time == 2 ? " (process CPU time)" : use_cpu_time ? " (thread CPU time)" : "");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        if (argc > 1 && !strstr(shapes[i].name, argv[1])) continue;
        int64_t xd[3] = {shapes[i].batch, shapes[i].seq, shapes[i].k}, wd[2] = {shapes[i].k, shapes[i].n};
        int64_t nx = xd[0] * xd[1] * xd[2], nw = wd[0] * wd[1];
        float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw);
        for (int64_t j = 0; j < nx; j++) x[j] = (float)(j % 13) * 0.1f - 0.6f;
        for (int64_t j = 0; j < nw; j++) w[j] = (float)(j % 7) * 0.01f - 0.03f;
        oneop o;
        oneop_begin(&o, "MatMul", "", 13, 2, 1);
        kiln_tensor in[2] = {oneop_tensor(KILN_FLOAT, 3, xd, x), oneop_tensor(KILN_FLOAT, 2, wd, w)};
        if (oneop_run_consts(&o, in, 2u) != KILN_OK) {
            printf("%s: failed\n", shapes[i].name);
            continue;
        }
        double flop = 2.0 * (double)(xd[0] * xd[1]) * (double)wd[0] * (double)wd[1];
        int reps = (int)(1e8 / flop) + 1;
        double best = 1e30;
        for (int r = 0; r < 25; r++) {
            double t0 = now();
            for (int q = 0; q < reps; q++) oneop_run_consts(&o, in, 2u);
            double dt = (now() - t0) / reps;
            if (dt < best) best = dt;
        }
        printf("%-26s M=%-5lld N=%-5lld K=%-5lld %8.3f ms  %7.2f GFLOP/s\n", shapes[i].name,
               (long long)(xd[0] * xd[1]), (long long)wd[1], (long long)wd[0], best * 1e3, flop / best * 1e-9);
        oneop_end(&o);
        free(x), free(w);
    }
    return 0;
}
