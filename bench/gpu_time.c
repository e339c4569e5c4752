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
#include <time.h>

#include "kiln.h"

#ifndef KILN_HAVE_CUDA
int main(void) {
    fprintf(stderr, "kiln-gpu-time: kiln was built without CUDA\n");
    return 1;
}
#else
#include <cuda_runtime_api.h>

#define MAX_IO 64

typedef struct io_buf {
    const char *name;
    void *host, *dev;
    size_t bytes;
} io_buf;

typedef struct op_stat {
    char op[64];
    double ms;
    int count;
} op_stat;

typedef struct layer_stat {
    char name[160], op[64];
    double ms;
} layer_stat;

typedef struct profile {
    op_stat ops[256];
    int n_ops;
    layer_stat *layers;
    int n_layers, cap_layers, cursor;
} profile;

static int failf(const char *what, const char *detail) {
    fprintf(stderr, "kiln-gpu-time: %s: %s\n", what, detail);
    return 1;
}

static int fail(const char *what, kiln_status s, const char *last) {
    fprintf(stderr, "kiln-gpu-time: %s: %s%s%s\n", what, kiln_status_string(s), last && *last ? ": " : "",
            last ? last : "");
    return 1;
}

#define CU(call, what)                                                                                             \
    do {                                                                                                           \
        cudaError_t rc_ = (call);                                                                                  \
        if (rc_ != cudaSuccess) return failf(what, cudaGetErrorString(rc_));                                      \
    } while (0)

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

/* Layers run in the same order every time, so the k-th callback of a run is layer k. */
static void on_layer(void *user, const char *layer, const char *op, double ms) {
    profile *p = user;
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
    p->layers[k].ms += ms;
    int j = 0;
    while (j < p->n_ops && strcmp(p->ops[j].op, op ? op : "")) j++;
    if (j == p->n_ops) {
        if (p->n_ops == (int)(sizeof p->ops / sizeof p->ops[0])) return;
        snprintf(p->ops[p->n_ops++].op, sizeof p->ops[0].op, "%s", op ? op : "");
    }
    p->ops[j].ms += ms;
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

static int read_file(const char *path, void *dst, size_t bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) return failf(path, "cannot open");
    size_t got = fread(dst, 1, bytes, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != bytes || extra) {
        char msg[96];
        snprintf(msg, sizeof msg, "expected exactly %zu bytes for the input", bytes);
        return failf(path, msg);
    }
    return 0;
}

static void fill_random(void *dst, kiln_dtype dt, int64_t n, uint64_t *seed) {
    for (int64_t k = 0; k < n; k++) {
        uint64_t r = rng_next(seed);
        if (dt == KILN_FLOAT) ((float *)dst)[k] = (float)((double)(r >> 11) * 0x1.0p-53 * 2.0 - 1.0);
        else if (dt == KILN_INT64) ((int64_t *)dst)[k] = (int64_t)(r % 4u);
        else ((int32_t *)dst)[k] = (int32_t)(r % 4u);
    }
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
            if (!eq) return failf("--input", "expected NAME=FILE");
            *eq = 0;
            o->files[o->n_files][0] = spec;
            o->files[o->n_files++][1] = eq + 1;
        } else if (a[0] != '-' && !o->plan) o->plan = a;
        else return failf("usage", "kiln-gpu-time PLAN [--iterations N] [--warmup W] [--input NAME=FILE ...] "
                                   "[--profile N]");
    }
    if (!o->plan) return failf("usage", "no plan given");
    if (o->iterations < 1) o->iterations = 1;
    if (o->warmup < 0) o->warmup = 0;
    return 0;
}

/* Binds the inputs (pinned host copy + device buffer each) and returns how many there are. */
static int setup_inputs(const opts *o, kiln_engine *eng, kiln_context *ctx, io_buf *in, int *n_in) {
    uint64_t seed = 1;
    kiln_status s;
    for (int i = 0; i < kiln_engine_io_count(eng); i++) {
        const char *name = kiln_engine_io_name(eng, i);
        kiln_io_mode mode;
        kiln_value_kind kind;
        kiln_dtype dt;
        int rank;
        int64_t dims[KILN_MAX_DIMS];
        if ((s = kiln_engine_io_info(eng, name, &mode, &kind, &dt, &rank, dims)) != KILN_OK)
            return fail(name, s, kiln_last_error(eng));
        if (mode != KILN_IO_INPUT) continue;
        if (*n_in == MAX_IO) return failf(name, "too many inputs");
        if (kind != KILN_KIND_TENSOR || (dt != KILN_FLOAT && dt != KILN_INT64 && dt != KILN_INT32))
            return failf(name, "only float32/int32/int64 tensor inputs are supported");
        int64_t n = 1;
        for (int d = 0; d < rank; d++) {
            if (dims[d] < 0) dims[d] = 1; /* dynamic: the smallest shape; these models are static */
            n *= dims[d];
        }
        io_buf *b = &in[(*n_in)++];
        b->name = name;
        b->bytes = (size_t)n * kiln_dtype_size(dt);
        CU(cudaMallocHost(&b->host, b->bytes ? b->bytes : 1), "cudaMallocHost");
        CU(cudaMalloc(&b->dev, b->bytes ? b->bytes : 1), "cudaMalloc");
        const char *path = NULL;
        for (int f = 0; f < o->n_files; f++)
            if (strcmp(o->files[f][0], name) == 0) path = o->files[f][1];
        if (path) {
            if (read_file(path, b->host, b->bytes)) return 1;
        } else {
            fill_random(b->host, dt, n, &seed);
        }
        CU(cudaMemcpy(b->dev, b->host, b->bytes, cudaMemcpyHostToDevice), "copying an input");
        if ((s = kiln_context_set_input_shape(ctx, name, rank, dims)) != KILN_OK)
            return fail(name, s, kiln_last_error(ctx));
        if ((s = kiln_context_set_tensor_address(ctx, name, b->dev, b->bytes)) != KILN_OK)
            return fail(name, s, kiln_last_error(ctx));
    }
    return 0;
}

/* One run with the outputs held by the context tells their sizes; then they are bound to our device buffers. */
static int setup_outputs(kiln_engine *eng, kiln_context *ctx, io_buf *out, int *n_out) {
    kiln_status s;
    if ((s = kiln_context_execute(ctx)) != KILN_OK) return fail("first run", s, kiln_last_error(ctx));
    for (int i = 0; i < kiln_engine_io_count(eng); i++) {
        const char *name = kiln_engine_io_name(eng, i);
        kiln_io_mode mode;
        kiln_value_kind kind;
        kiln_dtype dt;
        int rank;
        int64_t dims[KILN_MAX_DIMS];
        if ((s = kiln_engine_io_info(eng, name, &mode, &kind, &dt, &rank, dims)) != KILN_OK)
            return fail(name, s, kiln_last_error(eng));
        if (mode != KILN_IO_OUTPUT) continue;
        if (*n_out == MAX_IO) return failf(name, "too many outputs");
        kiln_tensor_view tv;
        if ((s = kiln_context_get_output(ctx, name, &kind, &tv)) != KILN_OK)
            return fail(name, s, kiln_last_error(ctx));
        if (kind != KILN_KIND_TENSOR) return failf(name, "only tensor outputs are supported");
        io_buf *b = &out[(*n_out)++];
        b->name = name;
        b->bytes = tv.size_bytes;
        CU(cudaMallocHost(&b->host, b->bytes ? b->bytes : 1), "cudaMallocHost");
        CU(cudaMalloc(&b->dev, b->bytes ? b->bytes : 1), "cudaMalloc");
        if ((s = kiln_context_set_tensor_address(ctx, name, b->dev, b->bytes)) != KILN_OK)
            return fail(name, s, kiln_last_error(ctx));
    }
    return 0;
}

static int run_profile(kiln_context *ctx, int runs, int top) {
    profile p = {0};
    kiln_status s;
    if ((s = kiln_context_set_profiler(ctx, on_layer, &p)) != KILN_OK) return fail("profiler", s, kiln_last_error(ctx));
    for (int it = 0; it < runs; it++) {
        p.cursor = 0;
        if ((s = kiln_context_execute(ctx)) != KILN_OK) return fail("profiled run", s, kiln_last_error(ctx));
    }
    kiln_context_set_profiler(ctx, NULL, NULL);
    double total = 0;
    for (int j = 0; j < p.n_ops; j++) total += p.ops[j].ms;
    qsort(p.ops, (size_t)p.n_ops, sizeof p.ops[0], by_op_ms);
    printf(", \"profile\": {\"runs\": %d, \"layers\": %d, \"layers_sum_ms\": %.6f, \"by_op\": [", runs, p.n_layers,
           total / runs);
    for (int j = 0; j < p.n_ops; j++) {
        printf("%s{\"op\": ", j ? ", " : "");
        json_str(p.ops[j].op);
        printf(", \"count\": %d, \"ms\": %.6f}", p.ops[j].count / runs, p.ops[j].ms / runs);
    }
    qsort(p.layers, (size_t)p.n_layers, sizeof p.layers[0], by_layer_ms);
    printf("], \"top_layers\": [");
    for (int j = 0; j < p.n_layers && j < top; j++) {
        printf("%s{\"layer\": ", j ? ", " : "");
        json_str(p.layers[j].name);
        printf(", \"op\": ");
        json_str(p.layers[j].op);
        printf(", \"ms\": %.6f}", p.layers[j].ms / runs);
    }
    printf("]}");
    free(p.layers);
    return 0;
}

int main(int argc, char **argv) {
    opts o = {0};
    if (parse(argc, argv, &o)) return 2;
    kiln_runtime *rt = NULL;
    kiln_engine *eng = NULL;
    kiln_context *ctx = NULL;
    kiln_status s;
    if ((s = kiln_runtime_create(NULL, &rt)) != KILN_OK) return fail("runtime", s, NULL);
    double t0 = now_ms();
    if ((s = kiln_engine_load_file(rt, o.plan, &eng)) != KILN_OK) return fail(o.plan, s, kiln_last_error(rt));
    if (kiln_engine_backend(eng) != KILN_BACKEND_CUDA) return failf(o.plan, "not a CUDA plan");
    if ((s = kiln_context_create(eng, &ctx)) != KILN_OK) return fail("context", s, kiln_last_error(eng));
    double load_ms = now_ms() - t0;
    static io_buf in[MAX_IO], out[MAX_IO];
    int n_in = 0, n_out = 0;
    if (setup_inputs(&o, eng, ctx, in, &n_in)) return 1;
    t0 = now_ms();
    if (setup_outputs(eng, ctx, out, &n_out)) return 1;
    double first_ms = now_ms() - t0;

    cudaStream_t st;
    cudaEvent_t ev[4];
    CU(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "cudaStreamCreate");
    for (int k = 0; k < 4; k++) CU(cudaEventCreate(&ev[k]), "cudaEventCreate");
    int n = o.iterations;
    double *h2d = malloc(sizeof(double) * (size_t)n * 6), *comp = h2d + n, *d2h = comp + n, *tot = d2h + n,
           *wall = tot + n, *enq = wall + n;
    if (!h2d) return failf("memory", "out of memory");
    size_t in_bytes = 0, out_bytes = 0;
    for (int i = 0; i < n_in; i++) in_bytes += in[i].bytes;
    for (int i = 0; i < n_out; i++) out_bytes += out[i].bytes;
    for (int it = -o.warmup; it < n; it++) {
        double w0 = now_ms();
        CU(cudaEventRecord(ev[0], st), "cudaEventRecord");
        for (int i = 0; i < n_in; i++)
            CU(cudaMemcpyAsync(in[i].dev, in[i].host, in[i].bytes, cudaMemcpyHostToDevice, st), "H2D");
        CU(cudaEventRecord(ev[1], st), "cudaEventRecord");
        double q0 = now_ms();
        if ((s = kiln_context_enqueue(ctx, st)) != KILN_OK) return fail("run", s, kiln_last_error(ctx));
        double q1 = now_ms();
        CU(cudaEventRecord(ev[2], st), "cudaEventRecord");
        for (int i = 0; i < n_out; i++)
            CU(cudaMemcpyAsync(out[i].host, out[i].dev, out[i].bytes, cudaMemcpyDeviceToHost, st), "D2H");
        CU(cudaEventRecord(ev[3], st), "cudaEventRecord");
        CU(cudaEventSynchronize(ev[3]), "cudaEventSynchronize");
        double w1 = now_ms();
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
    if ((s = kiln_context_execute(ctx)) != KILN_OK) return fail("final run", s, kiln_last_error(ctx));

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
