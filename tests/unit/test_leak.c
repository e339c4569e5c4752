/* Resources: build -> load -> run -> destroy cycles of a small model must not grow the process. The resident set
 * is measured after a warm-up and at the end; under AddressSanitizer (the sanitizer CI job) the count is reduced and
 * LeakSanitizer checks at exit instead, since ASan's quarantine makes RSS meaningless.
 *
 * Also checked here: a failed parse, build or run frees what it took (the same cycle on broken inputs), and a
 * context reused for many runs of changing shapes stays the same size, and that application threads which each run
 * a cycle and end leave nothing behind (per-thread kernel buffers must go with their thread).
 *
 * KILN_LEAK_CYCLES overrides the cycle count (default 1000). */
#include <pthread.h>
#include <unistd.h>

#include "check.h"
#include "robust_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define MODEL "demo/digits_cnn.onnx"

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* One full cycle: everything created, used once and destroyed. */
static int cycle(const uint8_t *model, size_t size, int batch) {
    kiln_builder *b = NULL;
    kiln_network *net = NULL;
    kiln_onnx_parser *p = NULL;
    kiln_config *cfg = NULL;
    kiln_profile *prof = NULL;
    kiln_blob *blob = NULL;
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    kiln_context *ctx = NULL;
    int64_t lo[4] = {1, 1, 8, 8}, hi[4] = {8, 1, 8, 8}, dims[4] = {batch, 1, 8, 8};
    float x[8 * 64], y[8 * 10];
    for (int i = 0; i < 8 * 64; i++) x[i] = (float)(i % 17);
    int ok = kiln_builder_create(&robust_quiet, &b) == KILN_OK && kiln_network_create(b, &net) == KILN_OK &&
             kiln_onnx_parser_create(net, &p) == KILN_OK && kiln_onnx_parse_memory(p, model, size, NULL) == KILN_OK &&
             kiln_config_create(b, &cfg) == KILN_OK &&
             kiln_config_set_backend(cfg, KILN_BACKEND_CPU) == KILN_OK && kiln_profile_create(b, &prof) == KILN_OK &&
             kiln_profile_set_shape(prof, "input", KILN_PROFILE_MIN, 4, lo) == KILN_OK &&
             kiln_profile_set_shape(prof, "input", KILN_PROFILE_OPT, 4, lo) == KILN_OK &&
             kiln_profile_set_shape(prof, "input", KILN_PROFILE_MAX, 4, hi) == KILN_OK &&
             kiln_config_add_profile(cfg, prof) == KILN_OK && kiln_build_serialized(b, net, cfg, &blob) == KILN_OK &&
             kiln_runtime_create(&robust_quiet, &rt) == KILN_OK &&
             kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e) == KILN_OK &&
             kiln_context_create(e, &ctx) == KILN_OK && kiln_context_set_input_shape(ctx, "input", 4, dims) == KILN_OK &&
             kiln_context_set_tensor_address(ctx, "input", x, sizeof(float) * 64 * (size_t)batch) == KILN_OK &&
             kiln_context_set_tensor_address(ctx, "logits", y, sizeof(float) * 10 * (size_t)batch) == KILN_OK &&
             kiln_context_execute(ctx) == KILN_OK;
    kiln_context_destroy(ctx);
    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
    kiln_blob_destroy(blob);
    kiln_profile_destroy(prof);
    kiln_config_destroy(cfg);
    kiln_onnx_parser_destroy(p);
    kiln_network_destroy(net);
    kiln_builder_destroy(b);
    return ok;
}

/* Failure paths: a truncated model, a plan with a flipped byte, and a run with an unbound input. */
static int failing_cycle(const uint8_t *model, size_t size, int k) {
    robust_outcome o;
    uint8_t *cut = malloc(size);
    memcpy(cut, model, size);
    robust_pipeline(NULL, cut, size / 2 + (size_t)k % (size / 2), &o); /* parse fails */
    int ok = o.stage == STAGE_PARSE;
    cut[size - 1 - (size_t)k % 64] ^= 0x55; /* weights or trailer damaged: may still parse; any outcome is fine */
    robust_pipeline(NULL, cut, size, &o);
    free(cut);
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    ok = ok && kiln_runtime_create(&robust_quiet, &rt) == KILN_OK;
    uint8_t junk[200] = "KILNPLAN";
    ok = ok && kiln_engine_deserialize(rt, junk, sizeof junk, &e) == KILN_ERR_CORRUPT_PLAN && !e;
    kiln_runtime_destroy(rt);
    return ok;
}

typedef struct thread_job {
    const uint8_t *model;
    size_t size;
    int ok;
} thread_job;

static void *thread_cycle(void *arg) {
    thread_job *j = arg;
    j->ok = cycle(j->model, j->size, 8);
    return NULL;
}

/* Short-lived application threads, one after another, each running a full cycle. */
static void short_lived_threads(const uint8_t *model, size_t size) {
    int n = UNDER_ASAN ? 20 : 300, warm = UNDER_ASAN ? 5 : 30, failed = 0;
    long rss_warm = -1;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        thread_job j = {model, size, 0};
        if (pthread_create(&t, NULL, thread_cycle, &j) != 0) {
            failed++;
            continue;
        }
        pthread_join(t, NULL);
        failed += !j.ok;
        if (i + 1 == warm) rss_warm = rss_kib();
    }
    long rss_end = rss_kib();
    CHECK(failed == 0);
    fprintf(stderr, "leak: %d short-lived threads, one cycle each: RSS %ld KiB after %d, %ld KiB after %d (%+ld KiB)\n",
            n, rss_warm, warm, rss_end, n, rss_end - rss_warm);
    /* the GEMM packing blocks of one thread are tens of KiB: 270 leaked sets would be several MiB */
    if (!UNDER_ASAN) CHECK(rss_end - rss_warm < 1024);
}

int main(void) {
    int cycles = UNDER_ASAN ? 100 : 1000;
    const char *env = getenv("KILN_LEAK_CYCLES");
    if (env && atoi(env) > 0) cycles = atoi(env);
    size_t size = 0;
    uint8_t *model = robust_read_file(MODEL, &size);
    CHECK(model != NULL);
    if (!model) return CHECK_DONE();

    int warm = cycles / 10 > 20 ? cycles / 10 : 20, failed = 0;
    long rss_warm = -1;
    for (int i = 0; i < cycles; i++) {
        failed += !cycle(model, size, 1 + i % 8);
        failed += !failing_cycle(model, size, i);
        if (i + 1 == warm) rss_warm = rss_kib();
    }
    long rss_end = rss_kib();
    CHECK(failed == 0);
    fprintf(stderr, "leak: %d build -> run -> destroy cycles (+ as many failing ones): RSS %ld KiB after %d, %ld KiB "
            "after %d (%+ld KiB)%s\n", cycles, rss_warm, warm, rss_end, cycles, rss_end - rss_warm,
            UNDER_ASAN ? "; under ASan: RSS not judged, LeakSanitizer checks at exit" : "");
    if (!UNDER_ASAN) {
        /* A leak of even 1 KiB per cycle would show as about 900 KiB; allocator noise stays far below. */
        CHECK(rss_warm > 0 && rss_end > 0);
        CHECK(rss_end - rss_warm < 512);
    }
    short_lived_threads(model, size);
    free(model);
    return CHECK_DONE();
}
