/* CUDA graph cache of a context (needs a GPU; exit 77 = skip without one): a context whose input shapes alternate
 * inside a dynamic profile keeps one captured graph per key (shapes, input addresses) and replays each of them,
 * bit-identical to plain launches and close to the CPU backend, with no device allocation after warm-up; the
 * cache is bounded (least recently used evicted), dropped when the arena moves or graphs are turned off, and
 * destroyed with the context; outputs the host computes (Shape) come back right after replays at another key. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kiln.h"

/* Without the CUDA backend the test only reports the skip: the helpers below would be unused (-Werror). */
#ifdef KILN_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backends/cuda/exec-cuda.h"
#include "check.h"
#include "cuda_testnet.h"
#include "onnx/wire.h"

#define IN_ELEMS(b) ((size_t)(b) * TN_C * TN_HW * TN_HW)
#define OUT_ELEMS(b) ((size_t)(b) * TN_OUT)
#define N_KEYS (TN_MAXB + 1) /* batch 1..8 on input A, and batch 1 on input B (same shape, other address) */

static void *g_in_dev[2];                        /* inputs A and B on the GPU, max batch each */
static float *g_in_host[2];
static float g_ref[N_KEYS][OUT_ELEMS(TN_MAXB)];  /* plain launches, per key */

static int key_batch(int k) { return k < TN_MAXB ? k + 1 : 1; }
static int key_input(int k) { return k < TN_MAXB ? 0 : 1; }

typedef struct counts {
    unsigned long long captures, replays, live, evictions, mallocs;
} counts;

static counts now_counts(void) {
    counts c;
    kiln_cuda_graph_counts(&c.captures, &c.replays);
    kiln_cuda_graph_cache_counts(&c.live, &c.evictions);
    c.mallocs = kiln_cuda_malloc_count();
    return c;
}

static void quiet(void *user, kiln_severity sev, const char *msg) { (void)user, (void)sev, (void)msg; }
static const kiln_logger quiet_logger = {quiet, NULL};

/* One synchronous run at key k on stream s; the whole max-batch output buffer comes back in y, whose rows past the
 * batch must keep the 0xff fill (a replay that copied an output of another shape would overwrite them). */
static kiln_status run_key(kiln_context *c, int k, void *y_dev, float *y, cudaStream_t s) {
    int b = key_batch(k);
    int64_t dims[4] = {b, TN_C, TN_HW, TN_HW};
    kiln_status st = kiln_context_set_input_shape(c, "x", 4, dims);
    if (st == KILN_OK) st = kiln_context_set_tensor_address(c, "x", g_in_dev[key_input(k)], IN_ELEMS(b) * 4);
    if (st == KILN_OK) st = kiln_context_set_tensor_address(c, "y", y_dev, OUT_ELEMS(TN_MAXB) * 4);
    if (st == KILN_OK && cudaMemsetAsync(y_dev, 0xff, OUT_ELEMS(TN_MAXB) * 4, s) != cudaSuccess) st = KILN_ERR_DEVICE;
    if (st == KILN_OK) st = kiln_context_enqueue(c, s);
    if (st == KILN_OK && cudaMemcpyAsync(y, y_dev, OUT_ELEMS(TN_MAXB) * 4, cudaMemcpyDeviceToHost, s) != cudaSuccess)
        st = KILN_ERR_DEVICE;
    if (st == KILN_OK && cudaStreamSynchronize(s) != cudaSuccess) st = KILN_ERR_DEVICE;
    kiln_value_kind kind;
    kiln_tensor_view v;
    if (st == KILN_OK) st = kiln_context_get_output(c, "y", &kind, &v);
    if (st == KILN_OK && (kind != KILN_KIND_TENSOR || v.rank != 2 || v.dims[0] != b || v.dims[1] != TN_OUT))
        st = KILN_ERR_SHAPE;
    return st;
}

/* One plain run at each of the keys, so that whatever a kernel allocates on its first run at a shape (more scratch
 * than planned) happens before the counts start: the runs after it must allocate nothing. */
static void warm_up(kiln_context *c, const int *keys, int n, void *y_dev, cudaStream_t s) {
    float y[OUT_ELEMS(TN_MAXB)];
    CHECK(kiln_context_set_cuda_graphs(c, 0) == KILN_OK);
    for (int i = 0; i < n; i++) CHECK(run_key(c, keys[i], y_dev, y, s) == KILN_OK);
    CHECK(kiln_context_set_cuda_graphs(c, 1) == KILN_OK);
}

static const int all_keys[N_KEYS] = {0, 1, 2, 3, 4, 5, 6, 7, 8};

/* Output of key k equal to its plain-launch reference, bit for bit, and nothing written past its rows. */
static int same_as_ref(const float *y, int k) {
    size_t n = OUT_ELEMS(key_batch(k));
    if (memcmp(y, g_ref[k], n * 4)) return 0;
    const unsigned char *rest = (const unsigned char *)(y + n);
    for (size_t i = 0; i < (OUT_ELEMS(TN_MAXB) - n) * 4; i++)
        if (rest[i] != 0xff) return 0;
    return 1;
}

/* References: plain launches on the CUDA engine, each against the CPU backend. */
static void test_references(kiln_engine *cuda, kiln_engine *cpu, cudaStream_t s, void *y_dev) {
    kiln_context *c = NULL, *h = NULL;
    CHECK(kiln_context_create(cuda, &c) == KILN_OK);
    CHECK(kiln_context_create(cpu, &h) == KILN_OK);
    CHECK(kiln_context_set_cuda_graphs(c, 0) == KILN_OK);
    float *y_cpu = malloc(OUT_ELEMS(TN_MAXB) * 4), y[OUT_ELEMS(TN_MAXB)];
    double worst = 0;
    for (int k = 0; k < N_KEYS; k++) {
        CHECK(run_key(c, k, y_dev, y, s) == KILN_OK);
        memcpy(g_ref[k], y, sizeof y);
        int b = key_batch(k);
        int64_t dims[4] = {b, TN_C, TN_HW, TN_HW};
        CHECK(kiln_context_set_input_shape(h, "x", 4, dims) == KILN_OK);
        CHECK(kiln_context_set_tensor_address(h, "x", g_in_host[key_input(k)], IN_ELEMS(b) * 4) == KILN_OK);
        CHECK(kiln_context_set_tensor_address(h, "y", y_cpu, OUT_ELEMS(TN_MAXB) * 4) == KILN_OK);
        CHECK(kiln_context_execute(h) == KILN_OK);
        double sum = 0;
        for (size_t i = 0; i < OUT_ELEMS(b); i++) {
            double d = fabs((double)y[i] - (double)y_cpu[i]);
            if (d > worst) worst = d;
            sum += y[i];
        }
        CHECK(fabs(sum - b) < 1e-3); /* softmax rows sum to 1 */
    }
    printf("plain CUDA launches vs the CPU backend over %d keys: max abs difference %.3g\n", N_KEYS, worst);
    CHECK(worst < 2e-3); /* cuDNN may convolve in TF32 */
    CHECK(memcmp(g_ref[0], g_ref[TN_MAXB], OUT_ELEMS(1) * 4) != 0); /* inputs A and B really differ */
    free(y_cpu);
    kiln_context_destroy(h);
    kiln_context_destroy(c);
}

/* Batch 1 and 8 alternating, then a pseudo-random walk over every batch 1..8: each key is captured once and
 * replayed ever after; nothing is allocated; destroying the context destroys its graphs. */
static void test_alternating(kiln_engine *e, cudaStream_t s, void *y_dev) {
    kiln_context *c = NULL;
    CHECK(kiln_context_create(e, &c) == KILN_OK);
    warm_up(c, all_keys, TN_MAXB, y_dev, s);
    float y[OUT_ELEMS(TN_MAXB)];
    counts a = now_counts();
    int bad = 0;
    for (int it = 0; it < 40; it++) {
        int k = it & 1 ? TN_MAXB - 1 : 0;
        CHECK(run_key(c, k, y_dev, y, s) == KILN_OK);
        bad += !same_as_ref(y, k);
    }
    counts m = now_counts();
    printf("batch 1/8 alternating, 40 runs: %llu captures, %llu replays, %llu device allocations, %d differ\n",
           m.captures - a.captures, m.replays - a.replays, m.mallocs - a.mallocs, bad);
    CHECK(bad == 0);
    CHECK(m.captures - a.captures == 2); /* run 1 and 2 plain, 3 and 4 capture (and replay), the rest replay */
    CHECK(m.replays - a.replays == 38);
    CHECK(m.live - a.live == 2);
    CHECK(m.mallocs == a.mallocs);
    unsigned seed = 5, visited = 0;
    int runs = 240;
    for (int it = 0; it < runs; it++) {
        seed = seed * 1664525u + 1013904223u;
        int k = (int)(seed >> 24) % TN_MAXB;
        visited |= 1u << k;
        CHECK(run_key(c, k, y_dev, y, s) == KILN_OK);
        bad += !same_as_ref(y, k);
    }
    counts z = now_counts();
    printf("random walk over batch 1..8, %d runs: %llu captures, %llu replays, %llu evictions, %llu graphs alive, "
           "%llu device allocations, %d differ\n", runs, z.captures - m.captures, z.replays - m.replays,
           z.evictions - m.evictions, z.live - a.live, z.mallocs - m.mallocs, bad);
    CHECK(visited == (1u << TN_MAXB) - 1);
    CHECK(bad == 0);
    CHECK(z.captures - m.captures == TN_MAXB - 2);
    CHECK(z.replays - m.replays == (unsigned long long)runs - (TN_MAXB - 2)); /* one plain run per new key */
    CHECK(z.evictions == m.evictions);
    CHECK(z.live - a.live == TN_MAXB);
    CHECK(z.mallocs == a.mallocs);
    kiln_context_destroy(c);
    counts d = now_counts();
    CHECK(d.live == a.live);
}

/* Nine keys through a cache of eight: the least recently used graph goes, the others keep replaying, and a key
 * that differs only in the input address never replays another key's graph. */
static void test_lru(kiln_engine *e, cudaStream_t s, void *y_dev) {
    CHECK(KILN_CUDA_GRAPHS_PER_CONTEXT == TN_MAXB);
    kiln_context *c = NULL;
    CHECK(kiln_context_create(e, &c) == KILN_OK);
    warm_up(c, all_keys, N_KEYS, y_dev, s);
    float y[OUT_ELEMS(TN_MAXB)];
    counts a = now_counts();
    int bad = 0;
    /* keys 0..7 (batch 1..8 on A): plain, capture, replay */
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < TN_MAXB; k++) {
            CHECK(run_key(c, k, y_dev, y, s) == KILN_OK);
            bad += !same_as_ref(y, k);
        }
    counts m = now_counts();
    CHECK(m.captures - a.captures == TN_MAXB && m.replays - a.replays == 2 * TN_MAXB && m.evictions == a.evictions);
    /* key 8 (batch 1 on B) evicts key 0, the least recently used, and is captured on its second run */
    for (int r = 0; r < 2; r++) {
        CHECK(run_key(c, TN_MAXB, y_dev, y, s) == KILN_OK);
        bad += !same_as_ref(y, TN_MAXB);
    }
    counts n = now_counts();
    CHECK(n.evictions - m.evictions == 1 && n.captures - m.captures == 1 && n.live - a.live == TN_MAXB);
    /* keys 1..7 still replay */
    for (int k = 1; k < TN_MAXB; k++) {
        CHECK(run_key(c, k, y_dev, y, s) == KILN_OK);
        bad += !same_as_ref(y, k);
    }
    counts o = now_counts();
    CHECK(o.captures == n.captures && o.replays - n.replays == TN_MAXB - 1);
    /* key 0 comes back: plain, evicting key 8 (now the least recently used), then captured again */
    for (int r = 0; r < 3; r++) {
        CHECK(run_key(c, 0, y_dev, y, s) == KILN_OK);
        bad += !same_as_ref(y, 0);
    }
    counts p = now_counts();
    CHECK(p.evictions - o.evictions == 1 && p.captures - o.captures == 1 && p.replays - o.replays == 2);
    printf("9 keys through %d slots: %llu evictions, %llu captures, %llu replays, %d differ\n",
           KILN_CUDA_GRAPHS_PER_CONTEXT, p.evictions - a.evictions, p.captures - a.captures, p.replays - a.replays,
           bad);
    CHECK(bad == 0);
    CHECK(p.mallocs == a.mallocs);
    kiln_context_destroy(c);
    CHECK(now_counts().live == a.live);
}

/* New caller memory moves the arena: every graph is dropped and recaptured at the new addresses. Turning graphs off
 * destroys them at once; the runs in between are plain launches with the same results. */
static void test_invalidation(kiln_engine *e, cudaStream_t s, void *y_dev) {
    size_t need = 0;
    CHECK(kiln_engine_get_device_memory_size(e, &need) == KILN_OK);
    void *mem[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) CHECK(cudaMalloc(&mem[i], need) == cudaSuccess);
    kiln_context *c = NULL;
    CHECK(kiln_context_create_without_device_memory(e, &c) == KILN_OK);
    CHECK(kiln_context_set_device_memory(c, mem[0], need) == KILN_OK);
    float y[OUT_ELEMS(TN_MAXB)];
    const int keys[2] = {1, 4}; /* batch 2 and 5 */
    warm_up(c, keys, 2, y_dev, s);
    counts a = now_counts();
    int bad = 0;
    for (int it = 0; it < 10; it++) {
        CHECK(run_key(c, keys[it & 1], y_dev, y, s) == KILN_OK);
        bad += !same_as_ref(y, keys[it & 1]);
    }
    counts m = now_counts();
    CHECK(m.captures - a.captures == 2 && m.live - a.live == 2);
    CHECK(kiln_context_set_device_memory(c, mem[1], need) == KILN_OK);
    cudaMemset(mem[0], 0xff, need); /* the old arena holds garbage now: a stale graph would not be noticed otherwise */
    for (int it = 0; it < 10; it++) {
        CHECK(run_key(c, keys[it & 1], y_dev, y, s) == KILN_OK);
        bad += !same_as_ref(y, keys[it & 1]);
        if (it == 0) CHECK(now_counts().live == a.live); /* both old graphs went before the first run */
    }
    counts n = now_counts();
    CHECK(n.captures - m.captures == 2 && n.live - a.live == 2 && n.replays - m.replays == 8);
    CHECK(kiln_context_set_cuda_graphs(c, 0) == KILN_OK);
    CHECK(now_counts().live == a.live);
    for (int it = 0; it < 6; it++) {
        CHECK(run_key(c, keys[it & 1], y_dev, y, s) == KILN_OK);
        bad += !same_as_ref(y, keys[it & 1]);
    }
    counts o = now_counts();
    CHECK(o.replays == n.replays && o.captures == n.captures);
    CHECK(kiln_context_set_cuda_graphs(c, 1) == KILN_OK);
    for (int it = 0; it < 6; it++) {
        CHECK(run_key(c, keys[it & 1], y_dev, y, s) == KILN_OK);
        bad += !same_as_ref(y, keys[it & 1]);
    }
    counts p = now_counts();
    printf("arena moved / graphs toggled: %llu captures, %llu replays, %d differ\n", p.captures - a.captures,
           p.replays - a.replays, bad);
    CHECK(p.captures - o.captures == 2 && p.replays - o.replays == 4);
    CHECK(bad == 0);
    CHECK(p.mallocs == a.mallocs);
    kiln_context_destroy(c);
    CHECK(now_counts().live == a.live);
    for (int i = 0; i < 2; i++) cudaFree(mem[i]);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* For the report: enqueue cost with batch 1 and 8 alternating, graphs replayed vs plain launches (before a context
 * kept several graphs, alternating shapes always ran plain). */
static void time_alternating(kiln_engine *e, cudaStream_t s, void *y_dev) {
    kiln_context *c = NULL;
    CHECK(kiln_context_create(e, &c) == KILN_OK);
    double us[2] = {0, 0};
    for (int mode = 0; c && mode < 2; mode++) {
        CHECK(kiln_context_set_cuda_graphs(c, mode == 0) == KILN_OK);
        double t0 = 0;
        for (int it = 0; it < 220; it++) {
            if (it == 20) cudaStreamSynchronize(s), t0 = now_s();
            int b = it & 1 ? TN_MAXB : 1;
            int64_t dims[4] = {b, TN_C, TN_HW, TN_HW};
            kiln_context_set_input_shape(c, "x", 4, dims);
            kiln_context_set_tensor_address(c, "x", g_in_dev[0], IN_ELEMS(b) * 4);
            kiln_context_set_tensor_address(c, "y", y_dev, OUT_ELEMS(TN_MAXB) * 4);
            CHECK(kiln_context_enqueue(c, s) == KILN_OK);
        }
        cudaStreamSynchronize(s);
        us[mode] = (now_s() - t0) / 200 * 1e6;
    }
    printf("batch 1/8 alternating, 200 enqueues: %.1f us per run with CUDA graphs, %.1f us with plain launches\n",
           us[0], us[1]);
    kiln_context_destroy(c);
}

/* ---- a model with an output the host computes: x [N,4] -> y = Relu(x), s = Shape(x), z = Reshape(y, s) */

static void put_vi(kiln_pb_buf *b, int field, const char *name, kiln_dtype dt, int rank, const int64_t *dims) {
    size_t vi = kiln_pb_begin(b, (uint32_t)field);
    kiln_pb_put_bytes(b, 1, name, strlen(name));
    size_t tp = kiln_pb_begin(b, 2);
    size_t tt = kiln_pb_begin(b, 1);
    kiln_pb_put_uint(b, 1, (uint64_t)dt);
    size_t sh = kiln_pb_begin(b, 2);
    for (int i = 0; i < rank; i++) {
        size_t d = kiln_pb_begin(b, 1);
        if (dims[i] < 0) kiln_pb_put_bytes(b, 2, "N", 1);
        else kiln_pb_put_uint(b, 1, (uint64_t)dims[i]);
        kiln_pb_end(b, d);
    }
    kiln_pb_end(b, sh);
    kiln_pb_end(b, tt);
    kiln_pb_end(b, tp);
    kiln_pb_end(b, vi);
}

static void put_node(kiln_pb_buf *b, const char *op, const char *in0, const char *in1, const char *out) {
    size_t n = kiln_pb_begin(b, 1);
    kiln_pb_put_bytes(b, 1, in0, strlen(in0));
    if (in1) kiln_pb_put_bytes(b, 1, in1, strlen(in1));
    kiln_pb_put_bytes(b, 2, out, strlen(out));
    kiln_pb_put_bytes(b, 3, out, strlen(out));
    kiln_pb_put_bytes(b, 4, op, strlen(op));
    kiln_pb_end(b, n);
}

static kiln_status build_shape_model(kiln_blob **blob) {
    kiln_pb_buf m;
    memset(&m, 0, sizeof m);
    kiln_pb_put_uint(&m, 1, 9);
    size_t op = kiln_pb_begin(&m, 8);
    kiln_pb_put_uint(&m, 2, 17);
    kiln_pb_end(&m, op);
    size_t g = kiln_pb_begin(&m, 7);
    put_node(&m, "Relu", "x", NULL, "y");
    put_node(&m, "Shape", "x", NULL, "s");
    put_node(&m, "Reshape", "y", "s", "z");
    kiln_pb_put_bytes(&m, 2, "graphs", 6);
    int64_t xd[2] = {-1, 4}, sd[1] = {2};
    put_vi(&m, 11, "x", KILN_FLOAT, 2, xd);
    put_vi(&m, 12, "y", KILN_FLOAT, 2, xd);
    put_vi(&m, 12, "s", KILN_INT64, 1, sd);
    put_vi(&m, 12, "z", KILN_FLOAT, 2, xd);
    kiln_pb_end(&m, g);
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_onnx_parser *ps = NULL;
    kiln_config *cfg = NULL;
    kiln_profile *p = NULL;
    int64_t mn[2] = {1, 4}, mx[2] = {TN_MAXB, 4};
    kiln_status st = kiln_builder_create(&quiet_logger, &b);
    if (st == KILN_OK) st = kiln_network_create(b, &n);
    if (st == KILN_OK) st = kiln_onnx_parser_create(n, &ps);
    if (st == KILN_OK) st = kiln_onnx_parse_memory(ps, m.data, m.len, NULL);
    if (st == KILN_OK) st = kiln_config_create(b, &cfg);
    if (st == KILN_OK) st = kiln_config_set_backend(cfg, KILN_BACKEND_CUDA);
    if (st == KILN_OK) st = kiln_profile_create(b, &p);
    if (st == KILN_OK) st = kiln_profile_set_shape(p, "x", KILN_PROFILE_MIN, 2, mn);
    if (st == KILN_OK) st = kiln_profile_set_shape(p, "x", KILN_PROFILE_OPT, 2, mx);
    if (st == KILN_OK) st = kiln_profile_set_shape(p, "x", KILN_PROFILE_MAX, 2, mx);
    if (st == KILN_OK) st = kiln_config_add_profile(cfg, p);
    if (st == KILN_OK) st = kiln_build_serialized(b, n, cfg, blob);
    if (st != KILN_OK) fprintf(stderr, "shape model: %s\n", kiln_last_error(NULL));
    kiln_profile_destroy(p);
    kiln_config_destroy(cfg);
    kiln_onnx_parser_destroy(ps);
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
    kiln_pb_buf_free(&m);
    return st;
}

/* One run of the shape model at batch nb on input i: 1 when y, s and z are right, 0 when wrong, -1 on an error. */
static int shape_run(kiln_context *c, int nb, int i, void *y_dev, void *z_dev, cudaStream_t s) {
    int64_t dims[2] = {nb, 4}, sh[2] = {0, 0};
    float y[TN_MAXB * 4], z[TN_MAXB * 4];
    kiln_status st = kiln_context_set_input_shape(c, "x", 2, dims);
    if (st == KILN_OK) st = kiln_context_set_tensor_address(c, "x", g_in_dev[i], (size_t)nb * 16);
    if (st == KILN_OK) st = kiln_context_set_tensor_address(c, "y", y_dev, TN_MAXB * 16);
    if (st == KILN_OK) st = kiln_context_set_tensor_address(c, "z", z_dev, TN_MAXB * 16);
    if (st == KILN_OK) st = kiln_context_enqueue(c, s);
    if (st == KILN_OK) st = kiln_context_copy_output(c, "s", sh, sizeof sh);
    if (st == KILN_OK && cudaMemcpyAsync(y, y_dev, (size_t)nb * 16, cudaMemcpyDeviceToHost, s)) st = KILN_ERR_DEVICE;
    if (st == KILN_OK && cudaMemcpyAsync(z, z_dev, (size_t)nb * 16, cudaMemcpyDeviceToHost, s)) st = KILN_ERR_DEVICE;
    if (st == KILN_OK && cudaStreamSynchronize(s)) st = KILN_ERR_DEVICE;
    if (st != KILN_OK) {
        fprintf(stderr, "shape model at batch %d: %s\n", nb, kiln_last_error(c));
        return -1;
    }
    const float *x = g_in_host[i];
    int ok = sh[0] == nb && sh[1] == 4;
    for (int j = 0; j < nb * 4; j++) ok &= y[j] == (x[j] > 0 ? x[j] : 0.0f) && z[j] == y[j];
    return ok;
}

static void test_host_output(kiln_runtime *rt, cudaStream_t s) {
    kiln_blob *blob = NULL;
    kiln_engine *e = NULL;
    kiln_context *c = NULL;
    CHECK(build_shape_model(&blob) == KILN_OK);
    if (!blob) return;
    CHECK(kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e) == KILN_OK);
    if (e) CHECK(kiln_context_create(e, &c) == KILN_OK);
    void *y_dev = NULL, *z_dev = NULL;
    CHECK(cudaMalloc(&y_dev, TN_MAXB * 4 * 4) == cudaSuccess);
    CHECK(cudaMalloc(&z_dev, TN_MAXB * 4 * 4) == cudaSuccess);
    /* batch 3 and 7 alternate every run, inputs A and B every second run: four keys, each seen every fourth run */
    int bad = 0, runs = 24;
    if (c) {
        CHECK(kiln_context_set_cuda_graphs(c, 0) == KILN_OK);
        for (int it = 0; it < 4; it++) CHECK(shape_run(c, it & 1 ? 7 : 3, it / 2 & 1, y_dev, z_dev, s) == 1);
        CHECK(kiln_context_set_cuda_graphs(c, 1) == KILN_OK);
    }
    counts a = now_counts();
    for (int it = 0; c && it < runs; it++) {
        int r = shape_run(c, it & 1 ? 7 : 3, it / 2 & 1, y_dev, z_dev, s);
        CHECK(r >= 0);
        if (r < 0) break;
        bad += !r;
    }
    counts m = now_counts();
    printf("Shape output at batch 3/7 alternating, %d runs: %llu captures, %llu replays, %d wrong\n", runs,
           m.captures - a.captures, m.replays - a.replays, bad);
    CHECK(bad == 0);
    CHECK(m.captures - a.captures == 4);
    CHECK(m.replays - a.replays == (unsigned long long)runs - 4);
    CHECK(m.mallocs == a.mallocs);
    kiln_context_destroy(c);
    kiln_engine_destroy(e);
    kiln_blob_destroy(blob);
    cudaFree(y_dev);
    cudaFree(z_dev);
}

int main(void) {
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        printf("skipped: no CUDA device\n");
        return 77;
    }
    const char *env = getenv("KILN_CUDA_GRAPHS");
    if (env && (!strcmp(env, "0") || !strcmp(env, "off") || !strcmp(env, "false"))) {
        printf("skipped: KILN_CUDA_GRAPHS turns CUDA graphs off\n");
        return 77;
    }
    cudaFree(0);
    kiln_blob *blob_cuda = NULL, *blob_cpu = NULL;
    CHECK(tn_build(KILN_BACKEND_CUDA, &blob_cuda) == KILN_OK);
    CHECK(tn_build(KILN_BACKEND_CPU, &blob_cpu) == KILN_OK);
    if (!blob_cuda || !blob_cpu) {
        fprintf(stderr, "build failed: %s\n", kiln_last_error(NULL));
        return CHECK_DONE();
    }
    unsigned seed = 11;
    for (int i = 0; i < 2; i++) {
        g_in_host[i] = malloc(IN_ELEMS(TN_MAXB) * 4);
        for (size_t j = 0; j < IN_ELEMS(TN_MAXB); j++) g_in_host[i][j] = tn_rand(&seed) * 4;
        CHECK(cudaMalloc(&g_in_dev[i], IN_ELEMS(TN_MAXB) * 4) == cudaSuccess);
        CHECK(cudaMemcpy(g_in_dev[i], g_in_host[i], IN_ELEMS(TN_MAXB) * 4, cudaMemcpyHostToDevice) == cudaSuccess);
    }
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL, *e_cpu = NULL;
    CHECK(kiln_runtime_create(&quiet_logger, &rt) == KILN_OK);
    CHECK(kiln_engine_deserialize(rt, kiln_blob_data(blob_cuda), kiln_blob_size(blob_cuda), &e) == KILN_OK);
    CHECK(kiln_engine_deserialize(rt, kiln_blob_data(blob_cpu), kiln_blob_size(blob_cpu), &e_cpu) == KILN_OK);
    cudaStream_t s;
    void *y_dev = NULL;
    CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
    CHECK(cudaMalloc(&y_dev, OUT_ELEMS(TN_MAXB) * 4) == cudaSuccess);
    if (e && e_cpu) {
        test_references(e, e_cpu, s, y_dev);
        test_alternating(e, s, y_dev);
        test_lru(e, s, y_dev);
        test_invalidation(e, s, y_dev);
        test_host_output(rt, s);
        time_alternating(e, s, y_dev);
    }
    cudaFree(y_dev);
    cudaStreamDestroy(s);
    kiln_engine_destroy(e);
    kiln_engine_destroy(e_cpu);
    kiln_runtime_destroy(rt);
    for (int i = 0; i < 2; i++) cudaFree(g_in_dev[i]), free(g_in_host[i]);
    kiln_blob_destroy(blob_cuda);
    kiln_blob_destroy(blob_cpu);
    return CHECK_DONE();
}
#else
int main(void) {
    printf("skipped: this build has no CUDA backend\n");
    return 77;
}
#endif
