/* SGEMM throughput on this machine: GFLOP/s for square and network-shaped problems, per micro-kernel level.
 * Usage: bench_cpu_gemm [max_level [kc mc nc]]   (level 0 portable, 1 AVX2+FMA, 2 AVX-512; default: best) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backends/cpu/gemm.h"
#include "core/parallel.h"

static int use_cpu_time;

/* Wall time, or this thread's CPU time with KILN_BENCH_CPUTIME=1 (steadier on a shared machine, single-thread
 * runs only: it ignores time spent by the pool's other threads). */
static double now(void) {
    struct timespec t;
    clockid_t id = use_cpu_time == 2 ? CLOCK_PROCESS_CPUTIME_ID : use_cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct shape {
    const char *what;
    int64_t m, n, k;
} shape;

int main(int argc, char **argv) {
    use_cpu_time = getenv("KILN_BENCH_CPUTIME") ? atoi(getenv("KILN_BENCH_CPUTIME")) : 0;
    int level = kiln_sgemm_set_level(argc > 1 ? atoi(argv[1]) : 99);
    if (argc > 4) kiln_sgemm_set_blocking(atoll(argv[2]), atoll(argv[3]), atoll(argv[4]));
    static const shape shapes[] = {
        {"square 512", 512, 512, 512},
        {"square 1024", 1024, 1024, 1024},
        {"resnet50 conv2_x 3x3 (im2col, bs1)", 64, 3136, 576},
        {"resnet50 conv3_x 1x1 expand (bs1)", 512, 784, 128},
        {"resnet50 conv5_x 3x3 (im2col, bs1)", 512, 49, 4608},
        {"resnet50 fc (bs1)", 1, 1000, 2048},
        {"bert-base qkv (seq128 bs1)", 128, 2304, 768},
        {"bert-base ffn up (seq128 bs1)", 128, 3072, 768},
        {"bert-base ffn down (seq128 bs1)", 128, 768, 3072},
        {"bert-base attn scores (per head)", 128, 128, 64},
    };
    printf("kernel %s (level %d), %d threads%s\n", kiln_sgemm_kernel_name(), level, kiln_num_threads(),
           use_cpu_time == 2 ? " (process CPU time)" : use_cpu_time ? " (thread CPU time)" : "");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        float *a = malloc(sizeof(float) * (size_t)(sh->m * sh->k));
        float *b = malloc(sizeof(float) * (size_t)(sh->k * sh->n));
        float *c = malloc(sizeof(float) * (size_t)(sh->m * sh->n));
        for (int64_t i = 0; i < sh->m * sh->k; i++) a[i] = (float)(i % 7) * 0.1f;
        for (int64_t i = 0; i < sh->k * sh->n; i++) b[i] = (float)(i % 5) * 0.1f;
        kiln_sgemm_args g = {.m = sh->m, .n = sh->n, .k = sh->k, .alpha = 1.0f, .a = a, .a_rs = sh->k, .a_cs = 1,
                             .b = b, .b_rs = sh->n, .b_cs = 1, .c = c, .c_rs = sh->n, .c_cs = 1};
        double flop = 2.0 * (double)sh->m * (double)sh->n * (double)sh->k;
        int reps = (int)(2e8 / flop) + 1;
        kiln_sgemm(&g);
        double best = 1e30;
        for (int round = 0; round < 25; round++) {
            double t0 = now();
            for (int r = 0; r < reps; r++) kiln_sgemm(&g);
            double dt = (now() - t0) / reps;
            if (dt < best) best = dt;
        }
        printf("%-40s M=%-5lld N=%-5lld K=%-5lld %8.2f GFLOP/s  (%.3f ms)\n", sh->what, (long long)sh->m,
               (long long)sh->n, (long long)sh->k, flop / best * 1e-9, best * 1e3);
        free(a);
        free(b);
        free(c);
    }
    return 0;
}
