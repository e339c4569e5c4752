/* Elementwise kernels (eltwise, activation, cast families) on 4M-element float tensors: milliseconds per call,
 * median of 21 runs after a warm-up, through the executor (one node per graph). Compare with the onnxruntime
 * side: bench/cpu_eltwise_ort.py prints the same rows.
 * Usage: cpu_eltwise   (threads: KILN_NUM_THREADS; KILN_BENCH_CPUTIME=1 times process CPU instead of wall) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dtype.h"
#include "core/parallel.h"
#include "oneop.h"

static int use_cpu_time;

static double now(void) {
    struct timespec t;
    clock_gettime(use_cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static kiln_tensor make(kiln_dtype t, int rank, const int64_t *dims) {
    kiln_tensor x = {0};
    kiln_tensor_alloc(&x, t, rank, dims);
    int64_t n = kiln_tensor_numel(&x);
    for (int64_t i = 0; i < n; i++) kiln_store_f64(t, x.data, i, (double)((i * 7919) % 1000) / 500.0 - 1.0);
    return x;
}

static void bench(const char *name, const char *op, int opset, int n_in, const kiln_tensor *in, const char *attr,
                  int64_t attr_v) {
    oneop o;
    oneop_begin(&o, op, "", opset, n_in, 1);
    if (attr) oneop_attr_int(&o, attr, attr_v);
    if (oneop_run(&o, in) != KILN_OK) {
        printf("%-30s failed: %s\n", name, kiln_error_text());
        oneop_end(&o);
        return;
    }
    double t[21];
    for (int r = 0; r < 21; r++) {
        double t0 = now();
        oneop_run(&o, in);
        t[r] = now() - t0;
    }
    qsort(t, 21, sizeof t[0], cmp_double);
    printf("%-30s %9.3f ms\n", name, t[10] * 1e3);
    oneop_end(&o);
}

int main(void) {
    use_cpu_time = getenv("KILN_BENCH_CPUTIME") && atoi(getenv("KILN_BENCH_CPUTIME")) == 1;
    printf("kiln elementwise, %d threads\n", kiln_num_threads());
    int64_t big[] = {1 << 22}, mat[] = {4096, 1024}, row[] = {1024}, one[] = {1}, col[] = {4096, 1};
    kiln_tensor a = make(KILN_FLOAT, 1, big), b = make(KILN_FLOAT, 1, big), m = make(KILN_FLOAT, 2, mat),
                r = make(KILN_FLOAT, 1, row), s = make(KILN_FLOAT, 1, one), c = make(KILN_FLOAT, 2, col),
                ah = make(KILN_FLOAT16, 1, big), bh = make(KILN_FLOAT16, 1, big), ai = make(KILN_INT64, 1, big),
                cond = make(KILN_BOOL, 1, big);
    kiln_tensor in[3];
    in[0] = a, in[1] = b;
    bench("Add f32 same 4M", "Add", 14, 2, in, NULL, 0);
    in[0] = m, in[1] = r;
    bench("Add f32 [4096,1024]+[1024]", "Add", 14, 2, in, NULL, 0);
    in[1] = c;
    bench("Add f32 [4096,1024]+[4096,1]", "Add", 14, 2, in, NULL, 0);
    in[0] = a, in[1] = s;
    bench("Mul f32 4M * scalar", "Mul", 14, 2, in, NULL, 0);
    in[0] = ah, in[1] = bh;
    bench("Add f16 same 4M", "Add", 14, 2, in, NULL, 0);
    in[0] = a, in[1] = b;
    bench("Less f32 4M", "Less", 13, 2, in, NULL, 0);
    bench("Div f32 4M", "Div", 14, 2, in, NULL, 0);
    const char *un[] = {"Relu", "Sigmoid", "Tanh", "Exp", "Erf", "Sqrt", "Abs", "Gelu"};
    for (int i = 0; i < 8; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s f32 4M", un[i]);
        bench(name, un[i], i == 7 ? 20 : 14, 1, in, NULL, 0);
    }
    bench("Cast f32->f16 4M", "Cast", 19, 1, in, "to", KILN_FLOAT16);
    bench("Cast f32->i64 4M", "Cast", 19, 1, in, "to", KILN_INT64);
    in[0] = ah;
    bench("Cast f16->f32 4M", "Cast", 19, 1, in, "to", KILN_FLOAT);
    in[0] = ai;
    bench("Cast i64->f32 4M", "Cast", 19, 1, in, "to", KILN_FLOAT);
    in[0] = cond, in[1] = a, in[2] = b;
    bench("Where f32 4M", "Where", 16, 3, in, NULL, 0);
    in[0] = a, in[1] = s, in[2] = s;
    bench("Clip f32 4M", "Clip", 13, 3, in, NULL, 0);
    in[0] = a, in[1] = b, in[2] = a;
    bench("Sum 3 f32 4M", "Sum", 13, 3, in, NULL, 0);
    kiln_tensor *all[] = {&a, &b, &m, &r, &s, &c, &ah, &bh, &ai, &cond};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) kiln_tensor_release(all[i]);
    return 0;
}
