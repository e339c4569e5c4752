/* Damaged and foreign plans, and bad run-time requests, through the public API (kiln_engine_deserialize,
 * kiln_engine_load_file, contexts): every byte flipped, every truncation, another format version, another kiln
 * version, another backend, foreign files; then flips behind a recomputed checksum that reach the decoder and the
 * executor; then input shapes outside the optimization profile, wrong ranks, fixed dims, short buffers and unbound
 * inputs. Each must give a status and a message naming what and where; none may crash. */
#include <unistd.h>

#include "check.h"
#include "plan/format.h"
#include "plan/plan.h"
#include "robust_util.h"
#ifdef KILN_HAVE_CUDA
#include "backends/cuda/device.h"
#include "core/status.h"
#endif

#define MODEL "tests/malformed/onnx/valid_dynamic.onnx" /* x[batch, 3] -> Relu, Add -> y[batch, 3] */

static int n_cases;

static kiln_blob *build_plan(void) {
    kiln_builder *b = NULL;
    kiln_network *net = NULL;
    kiln_onnx_parser *p = NULL;
    kiln_config *cfg = NULL;
    kiln_profile *prof = NULL;
    kiln_blob *blob = NULL;
    int64_t lo[2] = {1, 3}, opt[2] = {2, 3}, hi[2] = {8, 3};
    CHECK(kiln_builder_create(&robust_quiet, &b) == KILN_OK && kiln_network_create(b, &net) == KILN_OK);
    CHECK(kiln_onnx_parser_create(net, &p) == KILN_OK && kiln_onnx_parse_file(p, MODEL) == KILN_OK);
    CHECK(kiln_config_create(b, &cfg) == KILN_OK && kiln_config_set_backend(cfg, KILN_BACKEND_CPU) == KILN_OK);
    CHECK(kiln_profile_create(b, &prof) == KILN_OK);
    CHECK(kiln_profile_set_shape(prof, "x", KILN_PROFILE_MIN, 2, lo) == KILN_OK);
    CHECK(kiln_profile_set_shape(prof, "x", KILN_PROFILE_OPT, 2, opt) == KILN_OK);
    CHECK(kiln_profile_set_shape(prof, "x", KILN_PROFILE_MAX, 2, hi) == KILN_OK);
    CHECK(kiln_config_add_profile(cfg, prof) == KILN_OK);
    CHECK(kiln_build_serialized(b, net, cfg, &blob) == KILN_OK);
    kiln_profile_destroy(prof);
    kiln_config_destroy(cfg);
    kiln_onnx_parser_destroy(p);
    kiln_network_destroy(net);
    kiln_builder_destroy(b);
    return blob;
}

/* Deserializes bytes; on success runs them once with zero inputs. Returns the status and leaves the message in
 * msg: the load's when it failed, else the run's. */
static kiln_status load_run(const uint8_t *data, size_t size, char *msg, size_t cap, int *loaded) {
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    kiln_context *ctx = NULL;
    void *bufs[8];
    int n_bufs = 0;
    kiln_runtime_create(&robust_quiet, &rt);
    kiln_status s = kiln_engine_deserialize(rt, data, size, &e);
    *loaded = s == KILN_OK;
    snprintf(msg, cap, "%s", s == KILN_OK ? "" : kiln_last_error(rt));
    if (s == KILN_OK && (s = kiln_context_create(e, &ctx)) != KILN_OK) snprintf(msg, cap, "%s", kiln_last_error(e));
    if (s == KILN_OK && kiln_engine_io_count(e) <= 8) {
        s = robust_bind_zeros(e, ctx, bufs, &n_bufs);
        if (s != KILN_OK) snprintf(msg, cap, "%s", kiln_last_error(NULL));
        if (s == KILN_OK && (s = kiln_context_execute(ctx)) != KILN_OK) snprintf(msg, cap, "%s", kiln_last_error(ctx));
    }
    kiln_context_destroy(ctx);
    for (int i = 0; i < n_bufs; i++) free(bufs[i]);
    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
    return s;
}

static void expect(const uint8_t *data, size_t size, kiln_status want, const char *needle, const char *what) {
    char msg[1024];
    int loaded;
    kiln_status s = load_run(data, size, msg, sizeof msg, &loaded);
    n_cases++;
    int ok = s == want && !loaded && msg[0] && strstr(msg, needle);
    if (!ok) fprintf(stderr, "%s: want %s '%s', got %s '%s'\n", what, robust_status_name(want), needle,
                     robust_status_name(s), msg);
    CHECK(ok);
}

static void refresh_crc(uint8_t *p, size_t n) { plan_put_u32(p + n - PLAN_TRAILER, kiln_crc32c(0, p, n - PLAN_TRAILER)); }

static void damaged(const uint8_t *plan, size_t size) {
    uint8_t *c = aligned_alloc(64, (size + 64) / 64 * 64);
    char msg[1024];
    int loaded;
    /* Every byte flipped (one bit, then all bits): caught by the magic, the size field or the checksum. */
    int flips = 0, flips_ok = 0;
    for (size_t i = 0; i < size; i++)
        for (int v = 0; v < 2; v++) {
            memcpy(c, plan, size);
            c[i] ^= v ? 0xff : (uint8_t)(1u << (i % 8));
            kiln_status s = load_run(c, size, msg, sizeof msg, &loaded);
            flips++;
            int ok = s == KILN_ERR_CORRUPT_PLAN && !loaded &&
                     (strstr(msg, "checksum mismatch") || strstr(msg, "not a kiln plan") ||
                      strstr(msg, "its header says"));
            flips_ok += ok;
            if (!ok) fprintf(stderr, "flip at byte %zu: %s '%s'\n", i, robust_status_name(s), msg);
        }
    CHECK(flips_ok == flips);
    /* Every truncation. */
    int cuts_ok = 0;
    for (size_t n = 0; n < size; n++) {
        uint8_t *t = malloc(n ? n : 1);
        memcpy(t, plan, n);
        kiln_status s = load_run(t, n, msg, sizeof msg, &loaded);
        free(t);
        int ok = s == KILN_ERR_CORRUPT_PLAN && (strstr(msg, "truncated") || strstr(msg, "not a kiln plan"));
        cuts_ok += ok;
        if (!ok) fprintf(stderr, "cut to %zu bytes: %s '%s'\n", n, robust_status_name(s), msg);
    }
    CHECK(cuts_ok == (int)size);
    n_cases += flips + (int)size;
    fprintf(stderr, "plan: %d single-byte flips and %zu truncations of a %zu-byte plan, all refused\n", flips, size,
            size);

    /* Intact but foreign. */
    memcpy(c, plan, size);
    plan_put_u32(c + PLAN_OFF_FORMAT, KILN_PLAN_FORMAT_VERSION + 1);
    refresh_crc(c, size);
    char want[128];
    snprintf(want, sizeof want, "incompatible plan: plan format v%u, this kiln (%s) reads v%u",
             KILN_PLAN_FORMAT_VERSION + 1, kiln_version(), KILN_PLAN_FORMAT_VERSION);
    expect(c, size, KILN_ERR_INCOMPATIBLE_PLAN, want, "newer format");
    memcpy(c, plan, size);
    plan_put_u32(c + PLAN_OFF_FORMAT, 0);
    refresh_crc(c, size);
    expect(c, size, KILN_ERR_INCOMPATIBLE_PLAN, "plan format v0", "older format");
    memcpy(c, plan, size);
    plan_put_u32(c + PLAN_OFF_KILN_VERSION_NUMBER, 9999);
    memcpy(c + PLAN_OFF_KILN_VERSION, "0.99.99\0\0\0\0\0\0\0\0\0", PLAN_VERSION_CHARS);
    refresh_crc(c, size);
    expect(c, size, KILN_ERR_INCOMPATIBLE_PLAN, "built by kiln 0.99.99 (9999)", "other kiln version");
    memcpy(c, plan, size);
    plan_put_u32(c + PLAN_OFF_BACKEND, 7);
    refresh_crc(c, size);
    expect(c, size, KILN_ERR_CORRUPT_PLAN, "unknown backend 7", "unknown backend");
    if (!kiln_backend_available(KILN_BACKEND_CUDA)) {
        memcpy(c, plan, size);
        plan_put_u32(c + PLAN_OFF_BACKEND, KILN_BACKEND_CUDA);
        refresh_crc(c, size);
        expect(c, size, KILN_ERR_INCOMPATIBLE_PLAN, "built for CUDA", "CUDA plan on a CPU-only kiln");
    }
    /* Not plans at all. */
    size_t onnx_size = 0;
    uint8_t *onnx = robust_read_file(MODEL, &onnx_size);
    expect(onnx, onnx_size, KILN_ERR_CORRUPT_PLAN, "not a kiln plan", "an ONNX model");
    free(onnx);
    expect((const uint8_t *)"", 0, KILN_ERR_CORRUPT_PLAN, "not a kiln plan: 0 bytes", "empty");
    expect((const uint8_t *)"KILNPLAN", 8, KILN_ERR_CORRUPT_PLAN, "truncated kiln plan: 8 bytes", "magic only");
    memcpy(c, plan, size);
    memcpy(c, "KILNPLAM", 8);
    expect(c, size, KILN_ERR_CORRUPT_PLAN, "does not start with \"KILNPLAN\"", "wrong magic");
    /* Extra bytes after the trailer. */
    uint8_t *longer = aligned_alloc(64, (size + 64 + 63) / 64 * 64);
    memcpy(longer, plan, size);
    memset(longer + size, 0, 64);
    expect(longer, size + 64, KILN_ERR_CORRUPT_PLAN, "corrupted or extra bytes", "trailing bytes");
    free(longer);

    /* Behind a recomputed checksum, damage reaches the section decoder and the executor: refused or run, but never
     * a crash, and every refusal explains itself. */
    int refused = 0, ran = 0, silent = 0;
    for (size_t i = 0; i + PLAN_TRAILER < size; i++)
        for (int v = 0; v < 4; v++) {
            memcpy(c, plan, size);
            c[i] = v == 0 ? (uint8_t)~c[i] : v == 1 ? (uint8_t)(c[i] + 1) : v == 2 ? 0x80 : 0xff;
            refresh_crc(c, size);
            kiln_status s = load_run(c, size, msg, sizeof msg, &loaded);
            if (s == KILN_OK) {
                ran++;
            } else {
                refused++;
                if (!msg[0] || s == KILN_ERR_INTERNAL) {
                    silent++;
                    fprintf(stderr, "byte %zu = 0x%02x behind a fixed checksum: %s '%s'\n", i, c[i],
                            robust_status_name(s), msg);
                }
            }
        }
    fprintf(stderr, "plan: %d damaged plans behind a valid checksum: %d refused, %d loaded and ran\n", refused + ran,
            refused, ran);
    CHECK(silent == 0);
    CHECK(refused > 0);
    n_cases += refused + ran;
    free(c);
}

static void files(const kiln_blob *blob) {
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    CHECK(kiln_runtime_create(&robust_quiet, &rt) == KILN_OK);
    CHECK(kiln_engine_load_file(rt, "tests/malformed/no-such-file.plan", &e) == KILN_ERR_IO && !e);
    CHECK(strstr(kiln_last_error(rt), "no-such-file.plan") != NULL);
    CHECK(kiln_engine_load_file(rt, "tests/malformed", &e) == KILN_ERR_IO && !e); /* a directory */
    CHECK(strstr(kiln_last_error(rt), "tests/malformed") != NULL);
    CHECK(kiln_engine_load_file(rt, MODEL, &e) == KILN_ERR_CORRUPT_PLAN && !e);
    CHECK(strstr(kiln_last_error(rt), "not a kiln plan") && strstr(kiln_last_error(rt), "valid_dynamic.onnx"));
    /* A plan cut short on disk. */
    char path[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/kiln-robust-plan-%d.plan", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(kiln_blob_data(blob), 1, kiln_blob_size(blob) - 10, f) == kiln_blob_size(blob) - 10);
    if (f) fclose(f);
    CHECK(kiln_engine_load_file(rt, path, &e) == KILN_ERR_CORRUPT_PLAN && !e);
    CHECK(strstr(kiln_last_error(rt), "truncated") != NULL);
    unlink(path);
    CHECK(kiln_engine_deserialize(rt, NULL, 100, &e) == KILN_ERR_INVALID_ARGUMENT && !e);
    CHECK(strstr(kiln_last_error(rt), "data is NULL") != NULL);
    kiln_runtime_destroy(rt);
    n_cases += 5;
}

#define BAD(expr, status, needle)                                                                                \
    do {                                                                                                         \
        kiln_status bad_s_ = (expr);                                                                             \
        const char *bad_m_ = kiln_last_error(ctx);                                                               \
        n_cases++;                                                                                               \
        CHECK(bad_s_ == (status) && strstr(bad_m_, needle) != NULL);                                             \
        if (bad_s_ != (status) || !strstr(bad_m_, needle))                                                       \
            fprintf(stderr, "  %s -> %s '%s' (want '%s')\n", #expr, robust_status_name(bad_s_), bad_m_, needle); \
    } while (0)

/* Input shapes outside the profile [1..8, 3], and other bad run-time requests. */
static void run_requests(const kiln_blob *blob) {
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    kiln_context *ctx = NULL;
    CHECK(kiln_runtime_create(&robust_quiet, &rt) == KILN_OK);
    CHECK(kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e) == KILN_OK);
    CHECK(kiln_context_create(e, &ctx) == KILN_OK);
    if (!ctx) return;
    float x[9 * 3] = {0}, y[9 * 3];
    int64_t d9[2] = {9, 3}, d0[2] = {0, 3}, d2x4[2] = {2, 4}, dneg[2] = {-1, 3}, d2[2] = {2, 3}, dhuge[2] = {INT64_MAX, 3};
    BAD(kiln_context_set_input_shape(ctx, "x", 2, d9), KILN_ERR_SHAPE,
        "input 'x' dim 0 = 9 is outside the profile range [1, 8]");
    BAD(kiln_context_set_input_shape(ctx, "x", 2, d0), KILN_ERR_SHAPE,
        "input 'x' dim 0 = 0 is outside the profile range [1, 8]");
    BAD(kiln_context_set_input_shape(ctx, "x", 2, dhuge), KILN_ERR_SHAPE, "input 'x'");
    BAD(kiln_context_set_input_shape(ctx, "x", 2, d2x4), KILN_ERR_SHAPE, "input 'x' dim 1 is fixed to 3, given 4");
    BAD(kiln_context_set_input_shape(ctx, "x", 2, dneg), KILN_ERR_SHAPE, "input 'x' dim 0 = -1 is negative");
    BAD(kiln_context_set_input_shape(ctx, "x", 1, d2), KILN_ERR_SHAPE, "input 'x' has rank 2, given a shape of rank 1");
    int64_t d13[KILN_MAX_DIMS + 1] = {2, 3};
    BAD(kiln_context_set_input_shape(ctx, "x", KILN_MAX_DIMS + 1, d13), KILN_ERR_SHAPE, "rank");
    BAD(kiln_context_set_input_shape(ctx, "x", 2, NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_context_set_input_shape(ctx, "nope", 2, d2), KILN_ERR_INVALID_ARGUMENT, "'nope'");
    BAD(kiln_context_set_input_shape(ctx, "y", 2, d2), KILN_ERR_INVALID_ARGUMENT, "'y'");
    BAD(kiln_context_set_input_shape(ctx, NULL, 2, d2), KILN_ERR_INVALID_ARGUMENT, "NULL");
    /* nothing bound yet */
    BAD(kiln_context_execute(ctx), KILN_ERR_INVALID_ARGUMENT, "input 'x' is not bound");
    BAD(kiln_context_get_output(ctx, "y", NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "no results");
    CHECK(kiln_context_set_input_shape(ctx, "x", 2, d2) == KILN_OK);
    BAD(kiln_context_set_tensor_address(ctx, "x", NULL, 24), KILN_ERR_INVALID_ARGUMENT, "data is NULL but size is 24");
    BAD(kiln_context_set_tensor_address(ctx, "nope", x, 24), KILN_ERR_INVALID_ARGUMENT, "'nope'");
    /* a buffer too small for the shape */
    CHECK(kiln_context_set_tensor_address(ctx, "x", x, 5 * sizeof(float)) == KILN_OK);
    BAD(kiln_context_execute(ctx), KILN_ERR_SHAPE, "input 'x': the bound buffer has 20 bytes, shape [2,3] of float32 needs 24");
    CHECK(kiln_context_set_tensor_address(ctx, "x", x, sizeof x) == KILN_OK);
    CHECK(kiln_context_set_tensor_address(ctx, "y", y, 5 * sizeof(float)) == KILN_OK);
    BAD(kiln_context_execute(ctx), KILN_ERR_SHAPE, "output 'y': the bound buffer has 20 bytes");
    BAD(kiln_context_get_output(ctx, "y", NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "no results"); /* the run failed */
    CHECK(kiln_context_set_tensor_address(ctx, "y", y, sizeof y) == KILN_OK);
    BAD(kiln_context_enqueue(ctx, (void *)ctx), KILN_ERR_INVALID_ARGUMENT, "the stream must be NULL");
    BAD(kiln_context_set_input_sequence(ctx, "x", NULL, 0, KILN_FLOAT), KILN_ERR_TYPE, "input 'x' is not a sequence");
    BAD(kiln_context_set_input_none(ctx, "x"), KILN_ERR_TYPE, "input 'x' is not optional");
    BAD(kiln_context_get_output(ctx, "x", NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "no output 'x'");
    /* and after all that, the context still works */
    CHECK(kiln_context_execute(ctx) == KILN_OK);
    kiln_tensor_view tv;
    kiln_value_kind kind;
    CHECK(kiln_context_get_output(ctx, "y", &kind, &tv) == KILN_OK && kind == KILN_KIND_TENSOR && tv.rank == 2 &&
          tv.dims[0] == 2 && tv.dims[1] == 3);
    BAD(kiln_context_get_output_sequence(ctx, "y", &(int){0}, &(const kiln_tensor_view *){NULL}), KILN_ERR_TYPE,
        "output 'y' is not a sequence");
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    CHECK(kiln_engine_profile_shape(e, "x", KILN_PROFILE_MAX, &rank, dims) == KILN_OK && rank == 2 && dims[0] == 8);
    CHECK(kiln_engine_profile_shape(e, "x", (kiln_profile_selector)7, &rank, dims) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(kiln_engine_profile_shape(e, "y", KILN_PROFILE_MIN, &rank, dims) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(kiln_last_error(e), "'y' is not an input") != NULL);
    CHECK(kiln_engine_io_info(e, "zz", NULL, NULL, NULL, NULL, NULL) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(kiln_last_error(e), "no input or output 'zz' (it has 'x', 'y')") != NULL);
    CHECK(kiln_engine_io_name(e, -1) == NULL && kiln_engine_io_name(e, 2) == NULL);
    CHECK(kiln_engine_layer_info(e, -1) == NULL && kiln_engine_layer_info(e, 1000) == NULL);
    kiln_context_destroy(ctx);
    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
}

/* Without a profile the dynamic dim is unbounded: shapes whose element or byte count overflows, or that need far
 * more than the bound buffer, are refused at execute naming the input, never wrapped around into a small size. */
static void unbounded_requests(void) {
    kiln_builder *b = NULL;
    kiln_network *net = NULL;
    kiln_onnx_parser *p = NULL;
    kiln_blob *blob = NULL;
    CHECK(kiln_builder_create(&robust_quiet, &b) == KILN_OK && kiln_network_create(b, &net) == KILN_OK);
    CHECK(kiln_onnx_parser_create(net, &p) == KILN_OK && kiln_onnx_parse_file(p, MODEL) == KILN_OK);
    CHECK(kiln_build_serialized(b, net, NULL, &blob) == KILN_OK);
    kiln_onnx_parser_destroy(p);
    kiln_network_destroy(net);
    kiln_builder_destroy(b);
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    kiln_context *ctx = NULL;
    CHECK(kiln_runtime_create(&robust_quiet, &rt) == KILN_OK);
    CHECK(blob && kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e) == KILN_OK);
    CHECK(e && kiln_context_create(e, &ctx) == KILN_OK);
    if (ctx) {
        float x[6] = {0}, y[6];
        int64_t count_overflow[2] = {INT64_MAX / 2, 3}, bytes_overflow[2] = {INT64_MAX / 8, 3},
                huge[2] = {(int64_t)1 << 40, 3};
        CHECK(kiln_context_set_tensor_address(ctx, "x", x, sizeof x) == KILN_OK);
        CHECK(kiln_context_set_tensor_address(ctx, "y", y, sizeof y) == KILN_OK);
        const int64_t *shapes[3] = {count_overflow, bytes_overflow, huge};
        const char *needles[3] = {"input 'x'", "input 'x'", "input 'x': the bound buffer has 24 bytes"};
        for (int i = 0; i < 3; i++) {
            kiln_status s = kiln_context_set_input_shape(ctx, "x", 2, shapes[i]);
            if (s == KILN_OK) s = kiln_context_execute(ctx);
            const char *m = kiln_last_error(ctx);
            int ok = s == KILN_ERR_SHAPE && strstr(m, needles[i]);
            if (!ok) fprintf(stderr, "unbounded shape %d: %s '%s'\n", i, robust_status_name(s), m);
            CHECK(ok);
            n_cases++;
        }
        int64_t d2[2] = {2, 3};
        CHECK(kiln_context_set_input_shape(ctx, "x", 2, d2) == KILN_OK && kiln_context_execute(ctx) == KILN_OK);
    }
    kiln_context_destroy(ctx);
    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
    kiln_blob_destroy(blob);
}

#ifdef KILN_HAVE_CUDA
/* A CUDA plan records the GPU and library versions it was built with; loading it anywhere else must say what
 * differs. The comparison is checked on made-up devices, so it runs on machines without a GPU too. */
static void foreign_gpu(void) {
    kiln_cuda_device_info built = {.name = "NVIDIA H100 80GB HBM3", .cc_major = 9, .cc_minor = 0,
                                   .cuda_runtime_version = 13000, .cudnn_version = 91900, .cublaslt_version = 130100};
    kiln_cuda_device_info here = built;
    here.uuid[0] = 1; /* another card of the same model: fine */
    CHECK(kiln_cuda_device_check(&built, &here) == KILN_OK);
    here = built;
    snprintf(here.name, sizeof here.name, "NVIDIA A100-SXM4-40GB");
    here.cc_major = 8;
    CHECK(kiln_cuda_device_check(&built, &here) == KILN_ERR_INCOMPATIBLE_PLAN);
    const char *m = kiln_error_text();
    CHECK(strstr(m, "plan was built for another GPU") && strstr(m, "GPU: plan 'NVIDIA H100 80GB HBM3', this machine "
                                                                   "'NVIDIA A100-SXM4-40GB'") &&
          strstr(m, "compute capability: plan sm_90, this GPU sm_80"));
    here = built;
    here.cudnn_version = 90100;
    here.cublaslt_version = 120400;
    CHECK(kiln_cuda_device_check(&built, &here) == KILN_ERR_INCOMPATIBLE_PLAN);
    m = kiln_error_text();
    CHECK(strstr(m, "cuDNN: plan 91900, here 90100") && strstr(m, "cuBLASLt: plan 130100, here 120400") &&
          !strstr(m, "GPU: plan"));
    n_cases += 3;
}
#endif

int main(void) {
    kiln_blob *blob = build_plan();
    if (!blob) return CHECK_DONE();
    const uint8_t *plan = kiln_blob_data(blob);
    size_t size = kiln_blob_size(blob);
    char msg[1024];
    int loaded;
    CHECK(load_run(plan, size, msg, sizeof msg, &loaded) == KILN_OK && loaded); /* the control */
    damaged(plan, size);
    files(blob);
    run_requests(blob);
    unbounded_requests();
#ifdef KILN_HAVE_CUDA
    foreign_gpu();
#endif
    fprintf(stderr, "plan robustness: %d cases\n", n_cases);
    kiln_blob_destroy(blob);
    return CHECK_DONE();
}
