/* CUDA runtime discipline (needs a GPU; exit 77 = skip without one): planned device memory (no cudaMalloc in warm
 * runs, caller memory, too-small memory and out-of-memory errors with the numbers, memory back to its baseline
 * after destroy), host pointers refused at binding, CUDA graph replay equal to plain launches, and several
 * contexts of one engine running concurrently on their own threads and streams with bit-identical outputs. */
#ifdef KILN_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backends/cuda/exec-cuda.h"
#include "check.h"
#include "cuda_testnet.h"
#include "kiln.h"

#define IN_ELEMS(b) ((size_t)(b) * TN_C * TN_HW * TN_HW)
#define OUT_ELEMS(b) ((size_t)(b) * TN_OUT)

static const void *g_blob;
static size_t g_blob_size;
static float *g_x_host;
static void *g_x_dev;            /* the max batch of inputs on the GPU, shared read-only by every context */
static float g_ref[2][OUT_ELEMS(TN_MAXB)]; /* reference outputs at batch 8 and 3, single context, plain launches */
static const int g_batch[2] = {TN_MAXB, 3};

static char g_log[8192];
static void grab(void *user, kiln_severity sev, const char *msg) {
    (void)user;
    if (sev <= KILN_SEV_INFO && strlen(g_log) + strlen(msg) + 2 < sizeof g_log) strcat(g_log, msg), strcat(g_log, "\n");
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static size_t free_bytes(void) {
    size_t f = 0, t = 0;
    cudaDeviceSynchronize();
    cudaMemGetInfo(&f, &t);
    return f;
}

/* One run at batch b on `stream` (NULL: the context's stream, synchronous); the output lands in host `y`. */
static kiln_status run_once(kiln_context *c, int b, void *y_dev, float *y, void *stream) {
    int64_t dims[4] = {b, TN_C, TN_HW, TN_HW};
    kiln_status st = kiln_context_set_input_shape(c, "x", 4, dims);
    if (st == KILN_OK) st = kiln_context_set_tensor_address(c, "x", g_x_dev, IN_ELEMS(b) * 4);
    if (st == KILN_OK) st = kiln_context_set_tensor_address(c, "y", y_dev, OUT_ELEMS(TN_MAXB) * 4);
    if (st == KILN_OK) st = kiln_context_enqueue(c, stream);
    if (st == KILN_OK && cudaMemcpyAsync(y, y_dev, OUT_ELEMS(b) * 4, cudaMemcpyDeviceToHost,
                                         (cudaStream_t)stream) != cudaSuccess)
        st = KILN_ERR_DEVICE;
    if (st == KILN_OK && cudaStreamSynchronize((cudaStream_t)stream) != cudaSuccess) st = KILN_ERR_DEVICE;
    return st;
}

static void test_reference_and_allocs(kiln_engine *e) {
    kiln_context *c = NULL;
    void *y_dev = NULL;
    CHECK(cudaMalloc(&y_dev, OUT_ELEMS(TN_MAXB) * 4) == cudaSuccess);
    CHECK(kiln_context_create(e, &c) == KILN_OK);
    CHECK(kiln_context_set_cuda_graphs(c, 0) == KILN_OK);
    unsigned long long m0 = kiln_cuda_malloc_count();
    for (int k = 0; k < 2; k++) CHECK(run_once(c, g_batch[k], y_dev, g_ref[k], NULL) == KILN_OK);
    unsigned long long m1 = kiln_cuda_malloc_count();
    printf("first runs at batch 8 and 3: %llu device allocations\n", m1 - m0);
    CHECK(m1 == m0); /* within the profile everything was planned at context creation */
    float y[OUT_ELEMS(TN_MAXB)];
    for (int it = 0; it < 20; it++) {
        int k = it & 1;
        CHECK(run_once(c, g_batch[k], y_dev, y, NULL) == KILN_OK);
        CHECK(memcmp(y, g_ref[k], OUT_ELEMS(g_batch[k]) * 4) == 0);
    }
    CHECK(kiln_cuda_malloc_count() == m1);
    double s = 0;
    for (size_t i = 0; i < OUT_ELEMS(3); i++) s += g_ref[1][i];
    CHECK(s > 2.99 && s < 3.01); /* softmax rows sum to 1 */
    kiln_context_destroy(c);
    cudaFree(y_dev);
}

static void test_cuda_graphs(kiln_engine *e) {
    kiln_context *c = NULL;
    void *y_dev = NULL;
    cudaStream_t s;
    CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
    CHECK(cudaMalloc(&y_dev, OUT_ELEMS(TN_MAXB) * 4) == cudaSuccess);
    CHECK(kiln_context_create(e, &c) == KILN_OK);
    unsigned long long cap0, rep0, cap1, rep1;
    kiln_cuda_graph_counts(&cap0, &rep0);
    float y[OUT_ELEMS(TN_MAXB)];
    unsigned long long m0 = kiln_cuda_malloc_count();
    for (int k = 0; k < 2; k++)
        for (int it = 0; it < 6; it++) {
            memset(y, 0, sizeof y);
            CHECK(run_once(c, g_batch[k], y_dev, y, s) == KILN_OK);
            CHECK(memcmp(y, g_ref[k], OUT_ELEMS(g_batch[k]) * 4) == 0);
        }
    kiln_cuda_graph_counts(&cap1, &rep1);
    printf("CUDA graphs: %llu captures, %llu replays over 12 runs at 2 shapes\n", cap1 - cap0, rep1 - rep0);
    CHECK(cap1 - cap0 == 2);
    CHECK(rep1 - rep0 >= 8);
    CHECK(kiln_cuda_malloc_count() == m0);
    /* replay speed against plain launches, for the report */
    for (int mode = 0; mode < 2; mode++) {
        kiln_context_set_cuda_graphs(c, mode == 0);
        int64_t dims[4] = {1, TN_C, TN_HW, TN_HW};
        kiln_context_set_input_shape(c, "x", 4, dims);
        for (int it = 0; it < 5; it++) kiln_context_enqueue(c, s);
        cudaStreamSynchronize(s);
        double t0 = now_s();
        for (int it = 0; it < 200; it++) kiln_context_enqueue(c, s);
        cudaStreamSynchronize(s);
        printf("batch 1, %s: %.1f us per enqueue\n", mode == 0 ? "CUDA graph" : "plain launches",
               (now_s() - t0) / 200 * 1e6);
    }
    kiln_context_destroy(c);
    cudaFree(y_dev);
    cudaStreamDestroy(s);
}

static void test_caller_memory(kiln_engine *e) {
    size_t need = 0;
    CHECK(kiln_engine_get_device_memory_size(e, &need) == KILN_OK);
    printf("engine device memory: %zu bytes per context\n", need);
    CHECK(need > 0);
    kiln_context *c = NULL;
    void *mem = NULL, *y_dev = NULL;
    CHECK(cudaMalloc(&mem, need) == cudaSuccess);
    CHECK(cudaMalloc(&y_dev, OUT_ELEMS(TN_MAXB) * 4) == cudaSuccess);
    CHECK(kiln_context_create_without_device_memory(e, &c) == KILN_OK);
    float y[OUT_ELEMS(TN_MAXB)];
    CHECK(run_once(c, TN_MAXB, y_dev, y, NULL) == KILN_ERR_INVALID_ARGUMENT); /* no memory given yet */
    CHECK(strstr(kiln_last_error(c), "kiln_context_set_device_memory") != NULL);
    CHECK(kiln_context_set_device_memory(c, mem, need - 256) == KILN_ERR_OUT_OF_MEMORY);
    char want[64];
    snprintf(want, sizeof want, "needs %zu", need);
    CHECK(strstr(kiln_last_error(c), want) != NULL);
    printf("too small: %s\n", kiln_last_error(c));
    CHECK(kiln_context_set_device_memory(c, g_x_host, need) != KILN_OK); /* host memory */
    CHECK(kiln_context_set_device_memory(c, mem, need) == KILN_OK);
    unsigned long long m0 = kiln_cuda_malloc_count();
    for (int k = 0; k < 2; k++) {
        CHECK(run_once(c, g_batch[k], y_dev, y, NULL) == KILN_OK);
        CHECK(memcmp(y, g_ref[k], OUT_ELEMS(g_batch[k]) * 4) == 0);
    }
    CHECK(kiln_cuda_malloc_count() == m0);
    kiln_context_destroy(c);
    cudaFree(mem);
    cudaFree(y_dev);
}

static void test_bindings(kiln_engine *e) {
    kiln_context *c = NULL;
    CHECK(kiln_context_create(e, &c) == KILN_OK);
    int64_t dims[4] = {2, TN_C, TN_HW, TN_HW};
    CHECK(kiln_context_set_input_shape(c, "x", 4, dims) == KILN_OK);
    CHECK(kiln_context_set_tensor_address(c, "x", g_x_host, IN_ELEMS(2) * 4) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(kiln_last_error(c), "input 'x'") && strstr(kiln_last_error(c), "host memory"));
    printf("host pointer: %s\n", kiln_last_error(c));
    CHECK(kiln_context_set_tensor_address(c, "x", g_x_dev, IN_ELEMS(2) * 4 - 4) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_last_error(c), "input 'x'") != NULL);
    printf("too small: %s\n", kiln_last_error(c));
    float *pinned = NULL;
    CHECK(cudaMallocHost((void **)&pinned, 64) == cudaSuccess);
    CHECK(kiln_context_set_tensor_address(c, "y", g_x_host, 64) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(kiln_context_set_tensor_address(c, "x", g_x_dev, IN_ELEMS(2) * 4) == KILN_OK);
    cudaFreeHost(pinned);
    kiln_context_destroy(c);
}

/* A context creation that cannot get its memory is an error with the numbers, and leaks nothing. The GPU is filled
 * (one big block, then 1 MiB blocks: what cudaMemGetInfo calls free is not all grantable in one piece), then 1 MiB
 * blocks are given back until about half of what the context needs is free. */
static void test_out_of_memory(kiln_engine *e) {
    size_t need = 0;
    kiln_engine_get_device_memory_size(e, &need);
    void *big = NULL;
    size_t take = free_bytes();
    while (take > ((size_t)64 << 20) && cudaMalloc(&big, take) != cudaSuccess) cudaGetLastError(), take -= 64 << 20;
    enum { MAX_SMALL = 8192 };
    static void *small[MAX_SMALL];
    int n_small = 0;
    while (n_small < MAX_SMALL && cudaMalloc(&small[n_small], 1 << 20) == cudaSuccess) n_small++;
    cudaGetLastError();
    for (size_t give = need / 2 >> 20; give > 0 && n_small > 0; give--) cudaFree(small[--n_small]);
    kiln_context *c = NULL;
    kiln_status st = kiln_context_create(e, &c);
    printf("context creation (needs %zu bytes) with %zu bytes free: %s: %s\n", need, free_bytes(),
           kiln_status_string(st), st == KILN_OK ? "" : kiln_last_error(e));
    CHECK(st == KILN_ERR_OUT_OF_MEMORY || st == KILN_ERR_DEVICE);
    if (st == KILN_ERR_OUT_OF_MEMORY) CHECK(strstr(kiln_last_error(e), "bytes requested") != NULL);
    CHECK(c == NULL);
    kiln_context_destroy(c);
    while (n_small > 0) cudaFree(small[--n_small]);
    cudaFree(big);
}

typedef struct worker {
    kiln_engine *e;
    int id;
    double seconds;
    long runs, mismatches, failures;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    kiln_context *c = NULL;
    cudaStream_t s = NULL;
    void *y_dev = NULL;
    float y[OUT_ELEMS(TN_MAXB)];
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess ||
        cudaMalloc(&y_dev, OUT_ELEMS(TN_MAXB) * 4) != cudaSuccess || kiln_context_create(w->e, &c) != KILN_OK) {
        w->failures++;
        goto out;
    }
    double t0 = now_s();
    for (long it = 0; now_s() - t0 < w->seconds; it++) {
        int k = (int)((it / 16 + w->id) & 1); /* each thread alternates shapes, out of phase with its neighbours */
        if (run_once(c, g_batch[k], y_dev, y, s) != KILN_OK) {
            w->failures++;
            break;
        }
        w->runs++;
        if (memcmp(y, g_ref[k], OUT_ELEMS(g_batch[k]) * 4)) w->mismatches++;
    }
out:
    kiln_context_destroy(c);
    if (y_dev) cudaFree(y_dev);
    if (s) cudaStreamDestroy(s);
    return NULL;
}

static void test_concurrent(kiln_engine *e, double seconds) {
    enum { N = 4 };
    worker w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].e = e, w[i].id = i, w[i].seconds = seconds;
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    long runs = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        runs += w[i].runs;
        CHECK(w[i].failures == 0);
        CHECK(w[i].mismatches == 0);
        CHECK(w[i].runs > 10);
    }
    printf("%d contexts on %d threads for %.1f s: %ld runs, all bit-identical to the single-context run\n", N, N,
           seconds, runs);
}

/* --corpus DIR: every node-test model of DIR whose inputs are all float and static runs three times with plain
 * launches and three times with CUDA graphs on (the third a replay); the outputs must be bit-identical. Models whose
 * plain runs differ between two contexts (non-deterministic kernels) are skipped. */
static int run_model(kiln_runtime *rt, const char *path, int graphs, int runs, void **outs, size_t *out_sizes,
                     int *n_outs) {
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_onnx_parser *ps = NULL;
    kiln_config *cfg = NULL;
    kiln_blob *blob = NULL;
    kiln_engine *e = NULL;
    kiln_context *c = NULL;
    void *dev[16] = {0};
    int rc = -1, nio = 0;
    kiln_builder_create(NULL, &b);
    if (kiln_network_create(b, &n) || kiln_onnx_parser_create(n, &ps) || kiln_onnx_parse_file(ps, path) ||
        kiln_config_create(b, &cfg) || kiln_config_set_backend(cfg, KILN_BACKEND_CUDA) ||
        kiln_build_serialized(b, n, cfg, &blob) ||
        kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e) || kiln_context_create(e, &c))
        goto out;
    kiln_context_set_cuda_graphs(c, graphs);
    nio = kiln_engine_io_count(e);
    if (nio > 16) goto out;
    *n_outs = 0;
    unsigned seed = 3;
    for (int i = 0; i < nio; i++) {
        const char *name = kiln_engine_io_name(e, i);
        kiln_io_mode mode;
        kiln_value_kind kind;
        kiln_dtype dt;
        int rank;
        int64_t dims[KILN_MAX_DIMS];
        if (kiln_engine_io_info(e, name, &mode, &kind, &dt, &rank, dims) || kind != KILN_KIND_TENSOR) goto out;
        if (mode == KILN_IO_OUTPUT) continue;
        if (dt != KILN_FLOAT || rank < 0) { rc = 1; goto out; }
        size_t cnt = 1;
        for (int d = 0; d < rank; d++) {
            if (dims[d] < 0) { rc = 1; goto out; }
            cnt *= (size_t)dims[d];
        }
        float *h = malloc(cnt * 4 + 4);
        for (size_t k = 0; k < cnt; k++) h[k] = tn_rand(&seed) * 3;
        if (cudaMalloc(&dev[i], cnt * 4 + 4) != cudaSuccess) { free(h); goto out; }
        cudaMemcpy(dev[i], h, cnt * 4, cudaMemcpyHostToDevice);
        free(h);
        if (kiln_context_set_tensor_address(c, name, dev[i], cnt * 4)) goto out;
    }
    for (int r = 0; r < runs; r++)
        if (kiln_context_execute(c)) goto out;
    for (int i = 0; i < nio; i++) {
        const char *name = kiln_engine_io_name(e, i);
        kiln_value_kind kind;
        kiln_tensor_view v;
        kiln_io_mode mode;
        kiln_dtype dt;
        int rank;
        int64_t dims[KILN_MAX_DIMS];
        kiln_engine_io_info(e, name, &mode, &kind, &dt, &rank, dims);
        if (mode != KILN_IO_OUTPUT) continue;
        if (kiln_context_get_output(c, name, &kind, &v) || kind != KILN_KIND_TENSOR || v.dtype == KILN_STRING ||
            *n_outs >= 16) { rc = 1; goto out; }
        outs[*n_outs] = malloc(v.size_bytes + 1);
        out_sizes[*n_outs] = v.size_bytes;
        if (kiln_context_copy_output(c, name, outs[*n_outs], v.size_bytes + 1)) goto out;
        (*n_outs)++;
    }
    rc = 0;
out:
    for (int i = 0; i < 16; i++) if (dev[i]) cudaFree(dev[i]);
    kiln_context_destroy(c);
    kiln_engine_destroy(e);
    kiln_blob_destroy(blob);
    kiln_config_destroy(cfg);
    kiln_onnx_parser_destroy(ps);
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
    return rc;
}

/* Whether `name` contains one of the comma-separated words of `filter`. */
static int matches(const char *name, const char *filter) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", filter);
    for (char *w = strtok(buf, ","); w; w = strtok(NULL, ","))
        if (strstr(name, w)) return 1;
    return 0;
}

static int corpus(const char *dir, const char *filter) {
    kiln_runtime *rt = NULL;
    kiln_runtime_create(NULL, &rt);
    char cmd[1024], line[1024];
    snprintf(cmd, sizeof cmd, "ls -d %s/test_*/ | sort", dir);
    FILE *ls = popen(cmd, "r");
    int compared = 0, differ = 0, skipped = 0;
    unsigned long long cap0, rep0, cap1, rep1;
    kiln_cuda_graph_counts(&cap0, &rep0);
    while (ls && fgets(line, sizeof line, ls)) {
        line[strcspn(line, "\n")] = 0;
        if (filter && !matches(line, filter)) continue;
        char path[1200];
        snprintf(path, sizeof path, "%smodel.onnx", line);
        void *a[16] = {0}, *g[16] = {0}, *a2[16] = {0};
        size_t as[16], gs[16], as2[16];
        int na = 0, ng = 0, na2 = 0;
        /* three runs each, so that stateful ops (random generators) are at the same step */
        int ra = run_model(rt, path, 0, 3, a, as, &na), ra2 = ra ? -1 : run_model(rt, path, 0, 3, a2, as2, &na2);
        int rg = ra ? -1 : run_model(rt, path, 1, 3, g, gs, &ng);
        if (ra || ra2 || rg || na != ng || na != na2) {
            skipped++;
        } else {
            int det = 1, same = 1;
            for (int i = 0; i < na; i++) {
                det &= as[i] == as2[i] && !memcmp(a[i], a2[i], as[i]);
                same &= as[i] == gs[i] && !memcmp(a[i], g[i], as[i]);
            }
            if (!det) {
                skipped++;
            } else {
                compared++;
                if (!same) {
                    differ++;
                    printf("DIFFER %s\n", line);
                }
            }
        }
        for (int i = 0; i < 16; i++) free(a[i]), free(g[i]), free(a2[i]);
    }
    if (ls) pclose(ls);
    kiln_cuda_graph_counts(&cap1, &rep1);
    printf("corpus: %d models compared (plain launches vs CUDA graph replay), %d differ, %d skipped; %llu captures, "
           "%llu replays\n", compared, differ, skipped, cap1 - cap0, rep1 - rep0);
    kiln_runtime_destroy(rt);
    return differ ? 1 : 0;
}

int main(int argc, char **argv) {
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        printf("skipped: no CUDA device\n");
        return 77;
    }
    if (argc > 2 && !strcmp(argv[1], "--corpus")) return corpus(argv[2], argc > 3 ? argv[3] : NULL);
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    cudaFree(0);
    kiln_blob *blob = NULL;
    CHECK(tn_build(KILN_BACKEND_CUDA, &blob) == KILN_OK);
    if (!blob) {
        fprintf(stderr, "build failed: %s\n", kiln_last_error(NULL));
        return CHECK_DONE();
    }
    g_blob = kiln_blob_data(blob), g_blob_size = kiln_blob_size(blob);
    g_x_host = malloc(IN_ELEMS(TN_MAXB) * 4);
    unsigned seed = 11;
    for (size_t i = 0; i < IN_ELEMS(TN_MAXB); i++) g_x_host[i] = tn_rand(&seed) * 4;
    CHECK(cudaMalloc(&g_x_dev, IN_ELEMS(TN_MAXB) * 4) == cudaSuccess);
    CHECK(cudaMemcpy(g_x_dev, g_x_host, IN_ELEMS(TN_MAXB) * 4, cudaMemcpyHostToDevice) == cudaSuccess);

    kiln_logger lg = {grab, NULL};
    kiln_runtime *rt = NULL;
    CHECK(kiln_runtime_create(&lg, &rt) == KILN_OK);
    /* warm the libraries once so that the baseline below excludes their one-time state */
    /* Two cycles of engine + every test + destroy. The first loads CUDA modules and library kernels lazily (memory
     * the driver keeps for the process); after the second, free memory must be back at the first's end. */
    size_t ends[2] = {0, 0}, start = free_bytes();
    for (int cycle = 0; cycle < 2; cycle++) {
        kiln_engine *e = NULL;
        CHECK(kiln_engine_deserialize(rt, g_blob, g_blob_size, &e) == KILN_OK);
        if (!e) return CHECK_DONE();
        if (!cycle) printf("%s", strstr(g_log, "device memory plan") ? strstr(g_log, "device memory plan") : g_log);
        test_reference_and_allocs(e);
        test_bindings(e);
        test_caller_memory(e);
        test_cuda_graphs(e);
        test_concurrent(e, cycle ? seconds / 2 : seconds);
        test_out_of_memory(e);
        kiln_engine_destroy(e);
        ends[cycle] = free_bytes();
    }
    printf("free device memory: %zu at start, %zu after the first cycle (lazy module loading: %lld bytes), %zu after "
           "the second (difference to the first %lld)\n", start, ends[0], (long long)start - (long long)ends[0],
           ends[1], (long long)ends[0] - (long long)ends[1]);
    CHECK(ends[1] >= ends[0]);

    cudaFree(g_x_dev);
    free(g_x_host);
    kiln_runtime_destroy(rt);
    kiln_blob_destroy(blob);
    return CHECK_DONE();
}
#else
#include <stdio.h>

int main(void) {
    printf("skipped: this build has no CUDA backend\n");
    return 77;
}
#endif
