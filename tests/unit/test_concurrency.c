/* Many threads, one engine: each thread owns a context on a shared engine and runs the digits CNN
 * (demo/digits_cnn.onnx: Conv, MaxPool, Gemm, dynamic batch) for a bounded time on random inputs of random batch
 * sizes. Every output must be bit-identical to what a single-threaded run gave for the same input, and no run may
 * fail. Also: contexts created and destroyed concurrently, and engines deserialized concurrently from one blob.
 *
 * KILN_CONCURRENCY_SECONDS (default 3) and KILN_CONCURRENCY_THREADS (default 8) change the load. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"
#include "robust_util.h"

#define MODEL "demo/digits_cnn.onnx"
#define N_SAMPLES 24
#define MAX_BATCH 16
#define N_CLASSES 10
#define IMG (1 * 8 * 8)

typedef struct sample {
    int batch;
    float x[MAX_BATCH * IMG];
    float y[MAX_BATCH * N_CLASSES];
} sample;

static sample samples[N_SAMPLES];
static kiln_engine *engine;
static double run_seconds = 3.0;
static atomic_int stop_flag;
static atomic_long total_runs, total_mismatches, total_errors;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static kiln_status run_once(kiln_context *ctx, const sample *sm, float *y) {
    int64_t dims[4] = {sm->batch, 1, 8, 8};
    kiln_status s = kiln_context_set_input_shape(ctx, "input", 4, dims);
    if (s == KILN_OK) s = kiln_context_set_tensor_address(ctx, "input", (void *)sm->x, sizeof(float) * sm->batch * IMG);
    if (s == KILN_OK) s = kiln_context_set_tensor_address(ctx, "logits", y, sizeof(float) * sm->batch * N_CLASSES);
    if (s == KILN_OK) s = kiln_context_execute(ctx);
    return s;
}

static kiln_blob *build_plan(void) {
    kiln_builder *b = NULL;
    kiln_network *net = NULL;
    kiln_onnx_parser *p = NULL;
    kiln_config *cfg = NULL;
    kiln_profile *prof = NULL;
    kiln_blob *blob = NULL;
    int64_t lo[4] = {1, 1, 8, 8}, opt[4] = {4, 1, 8, 8}, hi[4] = {MAX_BATCH, 1, 8, 8};
    CHECK(kiln_builder_create(&robust_quiet, &b) == KILN_OK);
    CHECK(kiln_network_create(b, &net) == KILN_OK);
    CHECK(kiln_onnx_parser_create(net, &p) == KILN_OK);
    CHECK(kiln_onnx_parse_file(p, MODEL) == KILN_OK);
    CHECK(kiln_config_create(b, &cfg) == KILN_OK);
    CHECK(kiln_config_set_backend(cfg, KILN_BACKEND_CPU) == KILN_OK);
    CHECK(kiln_profile_create(b, &prof) == KILN_OK);
    CHECK(kiln_profile_set_shape(prof, "input", KILN_PROFILE_MIN, 4, lo) == KILN_OK);
    CHECK(kiln_profile_set_shape(prof, "input", KILN_PROFILE_OPT, 4, opt) == KILN_OK);
    CHECK(kiln_profile_set_shape(prof, "input", KILN_PROFILE_MAX, 4, hi) == KILN_OK);
    CHECK(kiln_config_add_profile(cfg, prof) == KILN_OK);
    CHECK(kiln_build_serialized(b, net, cfg, &blob) == KILN_OK);
    kiln_profile_destroy(prof);
    kiln_config_destroy(cfg);
    kiln_onnx_parser_destroy(p);
    kiln_network_destroy(net);
    kiln_builder_destroy(b);
    return blob;
}

static void *worker(void *arg) {
    uint64_t seed = 0x2545f4914f6cdd1dull * (uint64_t)(uintptr_t)arg + 1;
    kiln_context *ctx = NULL;
    if (kiln_context_create(engine, &ctx) != KILN_OK) {
        atomic_fetch_add(&total_errors, 1);
        return NULL;
    }
    float y[MAX_BATCH * N_CLASSES];
    long runs = 0;
    while (!atomic_load(&stop_flag)) {
        const sample *sm = &samples[rng_next(&seed) % N_SAMPLES];
        memset(y, 0xff, sizeof y);
        kiln_status s = run_once(ctx, sm, y);
        if (s != KILN_OK) {
            if (atomic_fetch_add(&total_errors, 1) < 5)
                fprintf(stderr, "thread run failed: %s: %s\n", robust_status_name(s), kiln_last_error(ctx));
        } else if (memcmp(y, sm->y, sizeof(float) * sm->batch * N_CLASSES) != 0) {
            if (atomic_fetch_add(&total_mismatches, 1) < 5)
                fprintf(stderr, "thread output differs from the single-threaded run (batch %d)\n", sm->batch);
        }
        runs++;
    }
    atomic_fetch_add(&total_runs, runs);
    kiln_context_destroy(ctx);
    return NULL;
}

/* Contexts come and go on several threads while others run: creation and destruction share nothing mutable. */
static void *churn(void *arg) {
    uint64_t seed = (uint64_t)(uintptr_t)arg * 7919 + 3;
    float y[MAX_BATCH * N_CLASSES];
    while (!atomic_load(&stop_flag)) {
        kiln_context *ctx = NULL;
        if (kiln_context_create(engine, &ctx) != KILN_OK) {
            atomic_fetch_add(&total_errors, 1);
            continue;
        }
        const sample *sm = &samples[rng_next(&seed) % N_SAMPLES];
        if (run_once(ctx, sm, y) != KILN_OK) atomic_fetch_add(&total_errors, 1);
        else if (memcmp(y, sm->y, sizeof(float) * sm->batch * N_CLASSES) != 0) atomic_fetch_add(&total_mismatches, 1);
        atomic_fetch_add(&total_runs, 1);
        kiln_context_destroy(ctx);
    }
    return NULL;
}

typedef struct load_job {
    const kiln_blob *blob;
    int ok;
} load_job;

/* Engines deserialized from the same bytes on several threads at once (the bytes are only read). */
static void *load_engines(void *arg) {
    load_job *j = arg;
    kiln_runtime *rt = NULL;
    j->ok = kiln_runtime_create(&robust_quiet, &rt) == KILN_OK;
    for (int i = 0; i < 20 && j->ok; i++) {
        kiln_engine *e = NULL;
        kiln_context *ctx = NULL;
        float y[MAX_BATCH * N_CLASSES];
        j->ok = kiln_engine_deserialize(rt, kiln_blob_data(j->blob), kiln_blob_size(j->blob), &e) == KILN_OK &&
                kiln_context_create(e, &ctx) == KILN_OK && run_once(ctx, &samples[i % N_SAMPLES], y) == KILN_OK &&
                memcmp(y, samples[i % N_SAMPLES].y, sizeof(float) * samples[i % N_SAMPLES].batch * N_CLASSES) == 0;
        kiln_context_destroy(ctx);
        kiln_engine_destroy(e);
    }
    kiln_runtime_destroy(rt);
    return NULL;
}

int main(void) {
    const char *env = getenv("KILN_CONCURRENCY_SECONDS");
    if (env && atof(env) > 0) run_seconds = atof(env);
    int n_threads = 8;
    env = getenv("KILN_CONCURRENCY_THREADS");
    if (env && atoi(env) > 0 && atoi(env) <= 256) n_threads = atoi(env);

    kiln_blob *blob = build_plan();
    kiln_runtime *rt = NULL;
    CHECK(blob && kiln_runtime_create(&robust_quiet, &rt) == KILN_OK);
    CHECK(kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &engine) == KILN_OK);
    if (!engine) return CHECK_DONE();

    /* References: one context, one thread. */
    uint64_t seed = 12345;
    kiln_context *ref = NULL;
    CHECK(kiln_context_create(engine, &ref) == KILN_OK);
    for (int i = 0; i < N_SAMPLES; i++) {
        samples[i].batch = 1 + (int)(rng_next(&seed) % MAX_BATCH);
        for (int k = 0; k < samples[i].batch * IMG; k++)
            samples[i].x[k] = (float)(rng_next(&seed) % 1700) / 100.0f; /* the digits data range, 0..16 */
        CHECK(run_once(ref, &samples[i], samples[i].y) == KILN_OK);
    }
    /* The same context again, in another order: results do not depend on what ran before. */
    for (int i = N_SAMPLES - 1; i >= 0; i--) {
        float y[MAX_BATCH * N_CLASSES];
        CHECK(run_once(ref, &samples[i], y) == KILN_OK);
        CHECK(memcmp(y, samples[i].y, sizeof(float) * samples[i].batch * N_CLASSES) == 0);
    }
    kiln_context_destroy(ref);

    int n_churn = 2;
    pthread_t *th = calloc((size_t)(n_threads + n_churn), sizeof *th);
    double t0 = now();
    for (int i = 0; i < n_threads; i++) CHECK(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0);
    for (int i = 0; i < n_churn; i++)
        CHECK(pthread_create(&th[n_threads + i], NULL, churn, (void *)(uintptr_t)(i + 1)) == 0);
    while (now() - t0 < run_seconds) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop_flag, 1);
    for (int i = 0; i < n_threads + n_churn; i++) pthread_join(th[i], NULL);
    double dt = now() - t0;
    fprintf(stderr, "concurrency: %d threads + %d churning contexts, %.1f s, %ld runs (%.0f/s), %ld mismatches, "
            "%ld errors\n", n_threads, n_churn, dt, atomic_load(&total_runs), atomic_load(&total_runs) / dt,
            atomic_load(&total_mismatches), atomic_load(&total_errors));
    CHECK(atomic_load(&total_runs) >= n_threads);
    CHECK(atomic_load(&total_mismatches) == 0);
    CHECK(atomic_load(&total_errors) == 0);

    load_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (load_job){blob, 0};
        CHECK(pthread_create(&th[i], NULL, load_engines, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].ok);
    }
    free(th);
    kiln_engine_destroy(engine);
    kiln_runtime_destroy(rt);
    kiln_blob_destroy(blob);
    return CHECK_DONE();
}
