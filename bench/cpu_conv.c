/* Conv / pool kernel timings on ResNet-50 and MobileNetV2 layer shapes (batch 1), through the executor.
 * Usage: bench_cpu_conv [filter-substring]. Prints ms per call (best of 25 rounds) and GFLOP/s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/parallel.h"
#include "oneop.h"

static int use_cpu_time;

/* Wall time, or this thread's CPU time with KILN_BENCH_CPUTIME=1 (steadier on a shared machine; meaningful with
 * KILN_NUM_THREADS=1 only). */
static double now(void) {
    struct timespec t;
    clockid_t id = use_cpu_time == 2 ? CLOCK_PROCESS_CPUTIME_ID : use_cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct layer {
    const char *name;
    int64_t c, m, hw, k, s, group;
} layer;

int main(int argc, char **argv) {
    static const layer layers[] = {
        {"resnet50 conv1 7x7/2", 3, 64, 224, 7, 2, 1},
        {"resnet50 l1 1x1 64->64", 64, 64, 56, 1, 1, 1},
        {"resnet50 l1 3x3 64->64", 64, 64, 56, 3, 1, 1},
        {"resnet50 l1 1x1 64->256", 64, 256, 56, 1, 1, 1},
        {"resnet50 l2 3x3/2 128->128", 128, 128, 56, 3, 2, 1},
        {"resnet50 l2 1x1 128->512", 128, 512, 28, 1, 1, 1},
        {"resnet50 l3 3x3 256->256", 256, 256, 14, 3, 1, 1},
        {"resnet50 l3 1x1 1024->256", 1024, 256, 14, 1, 1, 1},
        {"resnet50 l4 3x3 512->512", 512, 512, 7, 3, 1, 1},
        {"resnet50 l4 1x1 512->2048", 512, 2048, 7, 1, 1, 1},
        {"mobilenetv2 dw 3x3 144", 144, 144, 56, 3, 1, 144},
        {"mobilenetv2 dw 3x3/2 144", 144, 144, 56, 3, 2, 144},
        {"mobilenetv2 dw 3x3 960", 960, 960, 7, 3, 1, 960},
    };
    use_cpu_time = getenv("KILN_BENCH_CPUTIME") ? atoi(getenv("KILN_BENCH_CPUTIME")) : 0;
    printf("%d threads%s\n", kiln_num_threads(),
           use_cpu_time == 2 ? " (process CPU time)" : use_cpu_time ? " (thread CPU time)" : "");
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const layer *l = &layers[i];
        if (argc > 1 && !strstr(l->name, argv[1])) continue;
        int64_t xd[4] = {1, l->c, l->hw, l->hw}, wd[4] = {l->m, l->c / l->group, l->k, l->k}, bd[1] = {l->m};
        int64_t nx = l->c * l->hw * l->hw, nw = wd[0] * wd[1] * l->k * l->k;
        float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw);
        float *b = malloc(sizeof(float) * (size_t)l->m);
        for (int64_t j = 0; j < nx; j++) x[j] = (float)(j % 13) * 0.1f - 0.6f;
        for (int64_t j = 0; j < nw; j++) w[j] = (float)(j % 7) * 0.01f - 0.03f;
        for (int64_t j = 0; j < l->m; j++) b[j] = 0.1f;
        oneop o;
        oneop_begin(&o, "Conv", "", 13, 3, 1);
        int64_t ks[2] = {l->k, l->k}, st[2] = {l->s, l->s}, p = l->k / 2, pads[4] = {p, p, p, p};
        oneop_attr_ints(&o, "kernel_shape", ks, 2);
        oneop_attr_ints(&o, "strides", st, 2);
        oneop_attr_ints(&o, "pads", pads, 4);
        oneop_attr_int(&o, "group", l->group);
        kiln_tensor in[3] = {oneop_tensor(KILN_FLOAT, 4, xd, x), oneop_tensor(KILN_FLOAT, 4, wd, w),
                             oneop_tensor(KILN_FLOAT, 1, bd, b)};
        /* W and B are initializers, as in a real model (the kernel prepacks W at prepare time). */
        if (oneop_run_consts(&o, in, 6u) != KILN_OK) {
            printf("%s: failed\n", l->name);
            continue;
        }
        int64_t oh = (l->hw + 2 * p - l->k) / l->s + 1;
        double flop = 2.0 * (double)l->m * (double)(l->c / l->group) * (double)(l->k * l->k) * (double)(oh * oh);
        int reps = (int)(1e8 / flop) + 1;
        double best = 1e30;
        for (int r = 0; r < 25; r++) {
            double t0 = now();
            for (int q = 0; q < reps; q++) oneop_run_consts(&o, in, 6u);
            double dt = (now() - t0) / reps;
            if (dt < best) best = dt;
        }
        printf("%-30s %8.3f ms  %7.2f GFLOP/s\n", l->name, best * 1e3, flop / best * 1e-9);
        oneop_end(&o);
        free(x), free(w), free(b);
    }
    /* Pools: ResNet-50's stem max pool and a 2x2 average pool. */
    static const struct {
        const char *name, *op;
        int64_t c, hw, k, s, p;
    } pools[] = {
        {"resnet50 maxpool 3x3/2", "MaxPool", 64, 112, 3, 2, 1},
        {"avgpool 2x2/2", "AveragePool", 256, 56, 2, 2, 0},
        {"global avgpool 2048x7x7", "GlobalAveragePool", 2048, 7, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
        if (argc > 1 && !strstr(pools[i].name, argv[1])) continue;
        int64_t xd[4] = {1, pools[i].c, pools[i].hw, pools[i].hw}, n = pools[i].c * pools[i].hw * pools[i].hw;
        float *x = malloc(sizeof(float) * (size_t)n);
        for (int64_t j = 0; j < n; j++) x[j] = (float)(j % 17) * 0.1f;
        oneop o;
        oneop_begin(&o, pools[i].op, "", 13, 1, 1);
        if (pools[i].k) {
            int64_t ks[2] = {pools[i].k, pools[i].k}, st[2] = {pools[i].s, pools[i].s}, p = pools[i].p;
            int64_t pads[4] = {p, p, p, p};
            oneop_attr_ints(&o, "kernel_shape", ks, 2);
            oneop_attr_ints(&o, "strides", st, 2);
            oneop_attr_ints(&o, "pads", pads, 4);
        }
        kiln_tensor in[1] = {oneop_tensor(KILN_FLOAT, 4, xd, x)};
        oneop_run(&o, in);
        int reps = (int)(2e7 / (double)n) + 1;
        double best = 1e30;
        for (int r = 0; r < 25; r++) {
            double t0 = now();
            for (int q = 0; q < reps; q++) oneop_run(&o, in);
            double dt = (now() - t0) / reps;
            if (dt < best) best = dt;
        }
        printf("%-30s %8.3f ms  %7.2f GB/s in\n", pools[i].name, best * 1e3, (double)n * 4.0 / best * 1e-9);
        oneop_end(&o);
        free(x);
    }
    return 0;
}
