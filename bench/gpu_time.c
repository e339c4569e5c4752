/* GPU latency of a kiln CUDA plan, split the way an application sees it: host-to-device copies of the inputs,
 * the engine's work, device-to-host copies of the outputs. Each part is timed with CUDA events on one stream
 * (pinned host buffers, so the copies are asynchronous DMA), per iteration after a warm-up; reports min, mean,
 * median and p90 of each part, of their sum, of the host wall time of the whole iteration, and of the host time
 * kiln_context_enqueue takes to queue the work (near the compute time: the run is bound by the host), as one JSON
 * object.
 *
 * Inputs are raw files (--input NAME=FILE, the tensor's bytes in row-major order, shape from the plan) so the
 * timing runs on the same values as an accuracy check; an input without a file gets seeded random values (floats
 * uniform in [-1, 1), integers 0..3), like `kiln run`.
 *
 * CMake builds it with the other microbenchmarks, as build/bench_gpu_time (a stub that says so when kiln is built
 * without CUDA). bench/gpu.sh expects it as kiln-gpu-time next to the kiln binary.
 * Usage: kiln-gpu-time PLAN [--iterations N] [--warmup W] [--input NAME=FILE ...] [--profile N]
 *   --profile N: afterwards N more runs with kiln's per-layer profiler (synchronizes after every layer, so the
 *                numbers include launch gaps): time by op type and the slowest layers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"

#ifndef KILN_HAVE_CUDA
int main(void) {
    fprintf(stderr, "kiln-gpu-time: kiln was built without CUDA\n");
    return 1;
}
#else
#include <cuda_runtime_api.h>

#define BENCH_PROG "kiln-gpu-time"
#include "bench_plan.h"

#define MAX_IO 64

typedef struct io_buf {
    const char *name;
    void *host, *dev;
    size_t bytes;
} io_buf;

#define CU(call, what)                                                                                             \
    do {                                                                                                           \
        cudaError_t rc_ = (call);                                                                                  \
        if (rc_ != cudaSuccess) return bench_failf(what, cudaGetErrorString(rc_));                                 \
    } while (0)

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile, as kiln run reports it. */
static double percentile(const double *sorted, int n, double q) {
    int k = (int)(q * n + 0.999999);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return sorted[k - 1];
}

static void print_stats(const char *name, double *v, int n, int last) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    printf("\"%s\": {\"min\": %.6f, \"mean\": %.6f, \"median\": %.6f, \"p90\": %.6f, \"max\": %.6f}%s", name, v[0],
           sum / n, percentile(v, n, 0.5), percentile(v, n, 0.9), v[n - 1], last ? "" : ", ");
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

static void on_layer(void *user, const char *layer, const char *op, double ms) {
    bench_profile_add(user, layer, op, ms, 0);
}

static int read_file(const char *path, void *dst, size_t bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) return bench_failf(path, "cannot open");
    size_t got = fread(dst, 1, bytes, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != bytes || extra) {
        char msg[96];
        snprintf(msg, sizeof msg, "expected exactly %zu bytes for the input", bytes);
        return bench_failf(path, msg);
    }
    return 0;
}

typedef struct opts {
    const char *plan;
    int iterations, warmup, profile_runs;
    const char *files[MAX_IO][2]; /* name, path */
    int n_files;
} opts;

static int parse(int argc, char **argv, opts *o) {
    o->iterations = 200;
    o->warmup = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--iterations") == 0 && more) o->iterations = atoi(argv[++i]);
        else if (strcmp(a, "--warmup") == 0 && more) o->warmup = atoi(argv[++i]);
        else if (strcmp(a, "--profile") == 0 && more) o->profile_runs = atoi(argv[++i]);
        else if (strcmp(a, "--input") == 0 && more && o->n_files < MAX_IO) {
            char *spec = argv[++i], *eq = strchr(spec, '=');
            if (!eq) return bench_failf("--input", "expected NAME=FILE");
            *eq = 0;
            o->files[o->n_files][0] = spec;
            o->files[o->n_files++][1] = eq + 1;
        } else if (a[0] != '-' && !o->plan) o->plan = a;
        else return bench_failf("usage", "kiln-gpu-time PLAN [--iterations N] [--warmup W] [--input NAME=FILE ...] "
                                   "[--profile N]");
    }
    if (!o->plan) return bench_failf("usage", "no plan given");
    if (o->iterations < 1) o->iterations = 1;
    if (o->warmup < 0) o->warmup = 0;
    return 0;
}

/* A pinned host buffer and a device buffer of `bytes` for tensor `name`, the device one bound to the context. */
static int bind_buf(kiln_context *ctx, io_buf *b, const char *name, size_t bytes) {
    b->name = name;
    b->bytes = bytes;
    CU(cudaMallocHost(&b->host, b->bytes ? b->bytes : 1), "cudaMallocHost");
    CU(cudaMalloc(&b->dev, b->bytes ? b->bytes : 1), "cudaMalloc");
    kiln_status s = kiln_context_set_tensor_address(ctx, name, b->dev, b->bytes);
    return s != KILN_OK ? bench_fail(name, s, kiln_last_error(ctx)) : 0;
}

/* Binds the inputs (pinned host copy + device buffer each, filled from its file or seeded) and counts them. */
static int setup_inputs(const opts *o, kiln_engine *eng, kiln_context *ctx, io_buf *in, int *n_in) {
    uint64_t seed = 1;
    kiln_status s;
    for (int i = 0; i < kiln_engine_io_count(eng); i++) {
        bench_io io;
        int64_t n;
        if (bench_io_get(eng, i, &io)) return 1;
        if (io.mode != KILN_IO_INPUT) continue;
        if (*n_in == MAX_IO) return bench_failf(io.name, "too many inputs");
        if (bench_input_shape(&io, &n)) return 1;
        if ((s = kiln_context_set_input_shape(ctx, io.name, io.rank, io.dims)) != KILN_OK)
            return bench_fail(io.name, s, kiln_last_error(ctx));
        io_buf *b = &in[(*n_in)++];
        if (bind_buf(ctx, b, io.name, (size_t)n * kiln_dtype_size(io.dt))) return 1;
        const char *path = NULL;
        for (int f = 0; f < o->n_files; f++)
            if (strcmp(o->files[f][0], io.name) == 0) path = o->files[f][1];
        if (path) {
            if (read_file(path, b->host, b->bytes)) return 1;
        } else {
            bench_fill_random(b->host, io.dt, n, &seed);
        }
        CU(cudaMemcpy(b->dev, b->host, b->bytes, cudaMemcpyHostToDevice), "copying an input");
    }
    return 0;
}

/* One run with the outputs held by the context tells their sizes; then they are bound to our device buffers. */
static int setup_outputs(kiln_engine *eng, kiln_context *ctx, io_buf *out, int *n_out) {
    kiln_status s;
    if ((s = kiln_context_execute(ctx)) != KILN_OK) return bench_fail("first run", s, kiln_last_error(ctx));
    for (int i = 0; i < kiln_engine_io_count(eng); i++) {
        bench_io io;
        if (bench_io_get(eng, i, &io)) return 1;
        if (io.mode != KILN_IO_OUTPUT) continue;
        if (*n_out == MAX_IO) return bench_failf(io.name, "too many outputs");
        kiln_tensor_view tv;
        if ((s = kiln_context_get_output(ctx, io.name, &io.kind, &tv)) != KILN_OK)
            return bench_fail(io.name, s, kiln_last_error(ctx));
        if (io.kind != KILN_KIND_TENSOR) return bench_failf(io.name, "only tensor outputs are supported");
        if (bind_buf(ctx, &out[(*n_out)++], io.name, tv.size_bytes)) return 1;
    }
    return 0;
}

static int run_profile(kiln_context *ctx, int runs, int top) {
    bench_profile p = {0};
    kiln_status s;
    if ((s = kiln_context_set_profiler(ctx, on_layer, &p)) != KILN_OK)
        return bench_fail("profiler", s, kiln_last_error(ctx));
    for (int it = 0; it < runs; it++) {
        p.cursor = 0;
        if ((s = kiln_context_execute(ctx)) != KILN_OK) return bench_fail("profiled run", s, kiln_last_error(ctx));
    }
    kiln_context_set_profiler(ctx, NULL, NULL);
    double total = bench_profile_sort(&p);
    printf(", \"profile\": {\"runs\": %d, \"layers\": %d, \"layers_sum_ms\": %.6f, \"by_op\": [", runs, p.n_layers,
           total / runs);
    for (int j = 0; j < p.n_ops; j++) {
        printf("%s{\"op\": ", j ? ", " : "");
        json_str(p.ops[j].op);
        printf(", \"count\": %d, \"ms\": %.6f}", p.ops[j].count / runs, p.ops[j].ms / runs);
    }
    printf("], \"top_layers\": [");
    for (int j = 0; j < p.n_layers && j < top; j++) {
        printf("%s{\"layer\": ", j ? ", " : "");
        json_str(p.layers[j].name);
        printf(", \"op\": ");
        json_str(p.layers[j].op);
        printf(", \"ms\": %.6f}", p.layers[j].ms / runs);
    }
    printf("]}");
    bench_profile_free(&p);
    return 0;
}

int main(int argc, char **argv) {
    opts o = {0};
    if (parse(argc, argv, &o)) return 2;
    kiln_runtime *rt = NULL;
    kiln_engine *eng = NULL;
    kiln_context *ctx = NULL;
    kiln_status s;
    double t0 = bench_now_ms();
    if (bench_open_plan(o.plan, KILN_BACKEND_CUDA, &rt, &eng, &ctx)) return 1;
    double load_ms = bench_now_ms() - t0;
    static io_buf in[MAX_IO], out[MAX_IO];
    int n_in = 0, n_out = 0;
    if (setup_inputs(&o, eng, ctx, in, &n_in)) return 1;
    t0 = bench_now_ms();
    if (setup_outputs(eng, ctx, out, &n_out)) return 1;
    double first_ms = bench_now_ms() - t0;

    cudaStream_t st;
    cudaEvent_t ev[4];
    CU(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "cudaStreamCreate");
    for (int k = 0; k < 4; k++) CU(cudaEventCreate(&ev[k]), "cudaEventCreate");
    int n = o.iterations;
    double *h2d = malloc(sizeof(double) * (size_t)n * 6), *comp = h2d + n, *d2h = comp + n, *tot = d2h + n,
           *wall = tot + n, *enq = wall + n;
    if (!h2d) return bench_failf("memory", "out of memory");
    size_t in_bytes = 0, out_bytes = 0;
    for (int i = 0; i < n_in; i++) in_bytes += in[i].bytes;
    for (int i = 0; i < n_out; i++) out_bytes += out[i].bytes;
    for (int it = -o.warmup; it < n; it++) {
        double w0 = bench_now_ms();
        CU(cudaEventRecord(ev[0], st), "cudaEventRecord");
        for (int i = 0; i < n_in; i++)
            CU(cudaMemcpyAsync(in[i].dev, in[i].host, in[i].bytes, cudaMemcpyHostToDevice, st), "H2D");
        CU(cudaEventRecord(ev[1], st), "cudaEventRecord");
        double q0 = bench_now_ms();
        if ((s = kiln_context_enqueue(ctx, st)) != KILN_OK) return bench_fail("run", s, kiln_last_error(ctx));
        double q1 = bench_now_ms();
        CU(cudaEventRecord(ev[2], st), "cudaEventRecord");
        for (int i = 0; i < n_out; i++)
            CU(cudaMemcpyAsync(out[i].host, out[i].dev, out[i].bytes, cudaMemcpyDeviceToHost, st), "D2H");
        CU(cudaEventRecord(ev[3], st), "cudaEventRecord");
        CU(cudaEventSynchronize(ev[3]), "cudaEventSynchronize");
        double w1 = bench_now_ms();
        if (it < 0) continue;
        float a, b, c;
        CU(cudaEventElapsedTime(&a, ev[0], ev[1]), "cudaEventElapsedTime");
        CU(cudaEventElapsedTime(&b, ev[1], ev[2]), "cudaEventElapsedTime");
        CU(cudaEventElapsedTime(&c, ev[2], ev[3]), "cudaEventElapsedTime");
        h2d[it] = a;
        comp[it] = b;
        d2h[it] = c;
        tot[it] = (double)a + b + c;
        wall[it] = w1 - w0;
        enq[it] = q1 - q0;
    }
    /* the engine reports device-side errors (e.g. clamped Gather indices) at the next synchronizing call */
    if ((s = kiln_context_execute(ctx)) != KILN_OK) return bench_fail("final run", s, kiln_last_error(ctx));

    printf("{\"plan\": ");
    json_str(o.plan);
    printf(", \"load_ms\": %.3f, \"first_run_ms\": %.3f, \"warmup\": %d, \"iterations\": %d, \"input_bytes\": %zu, "
           "\"output_bytes\": %zu, \"timing\": \"CUDA events on one stream; pinned host buffers\", ",
           load_ms, first_ms, o.warmup, n, in_bytes, out_bytes);
    print_stats("h2d_ms", h2d, n, 0);
    print_stats("compute_ms", comp, n, 0);
    print_stats("d2h_ms", d2h, n, 0);
    print_stats("total_ms", tot, n, 0);
    print_stats("wall_ms", wall, n, 0);
    /* host time of kiln_context_enqueue: close to compute_ms means the GPU waits for the host (launch-bound) */
    print_stats("enqueue_host_ms", enq, n, 1);
    int rc = o.profile_runs > 0 ? run_profile(ctx, o.profile_runs, 15) : 0;
    printf("}\n");

    for (int k = 0; k < 4; k++) cudaEventDestroy(ev[k]);
    cudaStreamDestroy(st);
    free(h2d);
    kiln_context_destroy(ctx);
    for (int i = 0; i < n_in; i++) cudaFreeHost(in[i].host), cudaFree(in[i].dev);
    for (int i = 0; i < n_out; i++) cudaFreeHost(out[i].host), cudaFree(out[i].dev);
    kiln_engine_destroy(eng);
    kiln_runtime_destroy(rt);
    return rc;
}
#endif /* KILN_HAVE_CUDA */
