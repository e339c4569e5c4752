/* Public API end to end: layer API -> kiln_build_serialized -> engine (memory and file) -> context -> outputs,
 * compared with hand-computed values; I/O and profile queries; binding errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "build/network.h"
#include "kiln.h"
#include "runtime/engine.h"
#include "runtime/op.h"

typedef struct log_capture {
    char text[16384];
    int n_warnings;
} log_capture;

static void capture(void *user, kiln_severity sev, const char *msg) {
    log_capture *c = user;
    size_t k = strlen(c->text);
    snprintf(c->text + k, sizeof c->text - k, "[%d] %s\n", (int)sev, msg);
    if (sev == KILN_SEV_WARNING) c->n_warnings++;
}

static int has_kernel(const char *op) { return kiln_cpu_find_op(op, "", 17) != NULL; }

static int n_layers_seen;
static void on_layer(void *user, const char *name, const char *op, double ms) {
    (void)user, (void)name, (void)op;
    if (ms >= 0) n_layers_seen++;
}

/* Every non-string initializer of the engine's graph points into [lo, lo + n): nothing was copied. */
static int weights_in_place(const kiln_engine *e, const void *lo, size_t n) {
    const kiln_graph *g = e->plan.graph;
    int n_init = 0;
    for (int i = 0; i < g->n_values; i++) {
        const kiln_tensor *t = g->values[i].init;
        if (!t || t->dtype == KILN_STRING) continue;
        n_init++;
        if (t->owned || (const char *)t->data < (const char *)lo || (const char *)t->data >= (const char *)lo + n)
            return 0;
    }
    return n_init > 0;
}

/* y = x @ W (x: [batch, 4] dynamic batch), passthrough = x; W is a constant. */
static void test_matmul_model(void) {
    log_capture lc = {{0}, 0};
    kiln_logger lg = {capture, &lc};
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    CHECK(kiln_builder_create(&lg, &b) == KILN_OK);
    CHECK(kiln_network_create(b, &n) == KILN_OK);
    int x, w, y;
    int64_t xd[] = {-1, 4}, wd[] = {4, 3};
    float wv[12];
    for (int i = 0; i < 12; i++) wv[i] = (float)(i % 5) - 1.5f;
    CHECK(kiln_network_add_input(n, "x", KILN_FLOAT, 2, xd, &x) == KILN_OK);
    CHECK(kiln_network_add_constant(n, KILN_FLOAT, 2, wd, wv, &w) == KILN_OK);
    CHECK(kiln_network_add_matmul(n, x, w, &y) == KILN_OK);
    CHECK(kiln_network_mark_output(n, y, "y") == KILN_OK);
    CHECK(kiln_network_mark_output(n, x, NULL) == KILN_OK);
    int cnt;
    CHECK(kiln_network_input_count(n, &cnt) == KILN_OK && cnt == 1);
    CHECK(kiln_network_output_count(n, &cnt) == KILN_OK && cnt == 2);
    CHECK(kiln_network_node_count(n, &cnt) == KILN_OK && cnt == 1);

    kiln_config *cfg = NULL;
    kiln_profile *p = NULL;
    CHECK(kiln_config_create(b, &cfg) == KILN_OK);
    CHECK(kiln_profile_create(b, &p) == KILN_OK);
    int64_t mn[] = {1, 4}, op[] = {8, 4}, mx[] = {32, 4};
    CHECK(kiln_profile_set_shape(p, "x", KILN_PROFILE_MIN, 2, mn) == KILN_OK);
    CHECK(kiln_profile_set_shape(p, "x", KILN_PROFILE_OPT, 2, op) == KILN_OK);
    CHECK(kiln_profile_set_shape(p, "x", KILN_PROFILE_MAX, 2, mx) == KILN_OK);
    CHECK(kiln_config_add_profile(cfg, p) == KILN_OK);

    kiln_blob *blob = NULL;
    if (!has_kernel("MatMul")) {
        fprintf(stderr, "MatMul kernel not available: skipping the MatMul model\n");
        goto done;
    }
    CHECK(kiln_build_serialized(b, n, cfg, &blob) == KILN_OK);
    CHECK(lc.n_warnings == 0);
    CHECK(strstr(lc.text, "fold-constants: folded 0 nodes") != NULL);
    CHECK(kiln_blob_size(blob) > 64 && kiln_blob_data(blob) != NULL);

    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    CHECK(kiln_runtime_create(&lg, &rt) == KILN_OK);
    CHECK(kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e) == KILN_OK);
    if (!e) goto done;
    CHECK(weights_in_place(e, kiln_blob_data(blob), kiln_blob_size(blob)));
    CHECK(kiln_engine_backend(e) == KILN_BACKEND_CPU);
    CHECK(kiln_engine_io_count(e) == 3);
    CHECK(strcmp(kiln_engine_io_name(e, 0), "x") == 0 && strcmp(kiln_engine_io_name(e, 1), "y") == 0);
    CHECK(kiln_engine_io_name(e, 3) == NULL && kiln_engine_io_name(e, -1) == NULL);
    kiln_io_mode mode;
    kiln_value_kind kind;
    kiln_dtype dt;
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    CHECK(kiln_engine_io_info(e, "y", &mode, &kind, &dt, &rank, dims) == KILN_OK);
    CHECK(mode == KILN_IO_OUTPUT && kind == KILN_KIND_TENSOR && dt == KILN_FLOAT && rank == 2 && dims[0] == -1 &&
          dims[1] == 3);
    CHECK(kiln_engine_io_info(e, "nope", &mode, &kind, &dt, &rank, dims) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(kiln_last_error(e), "'nope'") != NULL);
    CHECK(kiln_engine_profile_shape(e, "x", KILN_PROFILE_MAX, &rank, dims) == KILN_OK && rank == 2 &&
          dims[0] == 32 && dims[1] == 4);
    CHECK(kiln_engine_layer_count(e) == 1);
    CHECK(strstr(kiln_engine_layer_info(e, 0), "MatMul") != NULL);
    CHECK(strstr(kiln_engine_layer_info(e, 0), "x, const_") != NULL);

    kiln_context *c = NULL;
    CHECK(kiln_context_create(e, &c) == KILN_OK);
    float xv[3 * 4], yv[3 * 3] = {0};
    for (int i = 0; i < 12; i++) xv[i] = (float)i * 0.25f - 1.0f;
    int64_t s64[] = {64, 4};
    CHECK(kiln_context_set_input_shape(c, "x", 2, s64) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_last_error(c), "input 'x' dim 0 = 64 is outside the profile range [1, 32]") != NULL);
    int64_t s35[] = {3, 5};
    CHECK(kiln_context_set_input_shape(c, "x", 2, s35) == KILN_ERR_SHAPE);
    CHECK(kiln_context_set_input_shape(c, "x", 1, s35) == KILN_ERR_SHAPE);
    CHECK(kiln_context_execute(c) != KILN_OK); /* nothing bound */
    CHECK(strstr(kiln_last_error(c), "'x' is not bound") != NULL);
    CHECK(kiln_context_set_tensor_address(c, "x", xv, sizeof xv) == KILN_OK);
    CHECK(kiln_context_execute(c) == KILN_ERR_SHAPE); /* no shape for the dynamic dim */
    int64_t s3[] = {3, 4};
    CHECK(kiln_context_set_input_shape(c, "x", 2, s3) == KILN_OK);
    CHECK(kiln_context_set_tensor_address(c, "y", yv, 8) == KILN_OK); /* too small */
    CHECK(kiln_context_execute(c) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_last_error(c), "output 'y'") != NULL);
    CHECK(kiln_context_set_tensor_address(c, "y", yv, sizeof yv) == KILN_OK);
    CHECK(kiln_context_enqueue(c, (void *)c) == KILN_ERR_INVALID_ARGUMENT); /* CPU: stream must be NULL */
    CHECK(kiln_context_set_profiler(c, on_layer, NULL) == KILN_OK);
    CHECK(kiln_context_execute(c) == KILN_OK);
    CHECK(n_layers_seen == 1);
    int bad = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            float ref = 0;
            for (int k = 0; k < 4; k++) ref += xv[i * 4 + k] * wv[k * 3 + j];
            bad += fabsf(yv[i * 3 + j] - ref) > 1e-5f;
        }
    CHECK(bad == 0);
    kiln_tensor_view tv;
    CHECK(kiln_context_get_output(c, "y", &kind, &tv) == KILN_OK);
    CHECK(kind == KILN_KIND_TENSOR && tv.rank == 2 && tv.dims[0] == 3 && tv.dims[1] == 3 && tv.size_bytes == 36);
    CHECK(memcmp(tv.data, yv, sizeof yv) == 0);
    CHECK(kiln_context_get_output(c, "x", &kind, &tv) == KILN_OK); /* input passed through */
    CHECK(tv.dims[0] == 3 && memcmp(tv.data, xv, sizeof xv) == 0);
    /* a smaller input buffer than the shape needs */
    CHECK(kiln_context_set_tensor_address(c, "x", xv, 8) == KILN_OK);
    CHECK(kiln_context_execute(c) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_last_error(c), "needs 48") != NULL);
    CHECK(kiln_context_get_output(c, "y", &kind, &tv) == KILN_ERR_INVALID_ARGUMENT); /* no valid results */
    kiln_context_destroy(c);

    /* from a file: mapped, weights used in place */
    char path[256];
    snprintf(path, sizeof path, "%s/kiln-test-api-%d.plan", P_tmpdir, (int)getpid());
    CHECK(kiln_blob_write_file(blob, path) == KILN_OK);
    kiln_engine *e2 = NULL;
    CHECK(kiln_engine_load_file(rt, path, &e2) == KILN_OK);
    CHECK(e2 && e2->map.is_mmap && weights_in_place(e2, e2->map.data, e2->map.size));
    CHECK(kiln_context_create(e2, &c) == KILN_OK);
    CHECK(kiln_context_set_input_shape(c, "x", 2, s3) == KILN_OK);
    CHECK(kiln_context_set_tensor_address(c, "x", xv, sizeof xv) == KILN_OK);
    CHECK(kiln_context_execute(c) == KILN_OK);
    CHECK(kiln_context_get_output(c, "y", &kind, &tv) == KILN_OK && memcmp(tv.data, yv, sizeof yv) == 0);
    kiln_context_destroy(c);
    kiln_engine_destroy(e2);
    remove(path);
    CHECK(kiln_engine_load_file(rt, path, &e2) == KILN_ERR_IO);

    /* misaligned caller bytes still load (copied once) */
    size_t sz = kiln_blob_size(blob);
    unsigned char *mis = malloc(sz + 1);
    memcpy(mis + 1, kiln_blob_data(blob), sz);
    CHECK(kiln_engine_deserialize(rt, mis + 1, sz, &e2) == KILN_OK);
    kiln_engine_destroy(e2);
    free(mis);

    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
done:
    kiln_blob_destroy(blob);
    kiln_profile_destroy(p);
    kiln_config_destroy(cfg);
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
}

/* A network without nodes: outputs are an input and a constant. No kernels involved. */
static void test_passthrough(void) {
    log_capture lc = {{0}, 0};
    kiln_logger lg = {capture, &lc};
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_builder_create(&lg, &b);
    kiln_network_create(b, &n);
    int x, k;
    int64_t xd[] = {2, -1};
    int32_t kv[] = {7, 8, 9};
    int64_t kd[] = {3};
    CHECK(kiln_network_add_input(n, "in", KILN_INT32, 2, xd, &x) == KILN_OK);
    CHECK(kiln_network_add_constant(n, KILN_INT32, 1, kd, kv, &k) == KILN_OK);
    CHECK(kiln_network_mark_output(n, x, NULL) == KILN_OK);
    CHECK(kiln_network_mark_output(n, k, "k") == KILN_OK);
    kiln_blob *blob = NULL;
    CHECK(kiln_build_serialized(b, n, NULL, &blob) == KILN_OK); /* no config: defaults, unbounded profile */
    CHECK(lc.n_warnings == 1 && strstr(lc.text, "input 'in' has dynamic dims") != NULL);
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    kiln_runtime_create(&lg, &rt);
    CHECK(kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e) == KILN_OK);
    kiln_context *c = NULL;
    CHECK(kiln_context_create(e, &c) == KILN_OK);
    int32_t in[2 * 5];
    for (int i = 0; i < 10; i++) in[i] = i * i;
    int64_t s[] = {2, 5};
    CHECK(kiln_context_set_input_shape(c, "in", 2, s) == KILN_OK);
    CHECK(kiln_context_set_tensor_address(c, "in", in, sizeof in) == KILN_OK);
    int32_t out[10] = {0}, kout[3] = {0};
    CHECK(kiln_context_set_tensor_address(c, "k", kout, sizeof kout) == KILN_OK);
    CHECK(kiln_context_execute(c) == KILN_OK);
    CHECK(kout[0] == 7 && kout[1] == 8 && kout[2] == 9);
    kiln_value_kind kind;
    kiln_tensor_view tv;
    CHECK(kiln_context_get_output(c, "in", &kind, &tv) == KILN_OK);
    CHECK(tv.dtype == KILN_INT32 && tv.rank == 2 && tv.dims[1] == 5);
    memcpy(out, tv.data, sizeof out);
    CHECK(memcmp(out, in, sizeof in) == 0);
    int64_t s0[] = {2, 0}; /* empty tensors are fine */
    CHECK(kiln_context_set_input_shape(c, "in", 2, s0) == KILN_OK);
    CHECK(kiln_context_set_tensor_address(c, "in", NULL, 0) == KILN_OK);
    CHECK(kiln_context_execute(c) == KILN_OK);
    kiln_context_destroy(c);
    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
    kiln_blob_destroy(blob);
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
}

/* Inputs that share a symbolic dim must agree on its size. */
static void test_symbolic_dims(void) {
    kiln_logger quiet = {NULL, NULL};
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_builder_create(&quiet, &b);
    kiln_network_create(b, &n);
    int a, c;
    int64_t ad[] = {-1, 2}, cd[] = {-1};
    CHECK(kiln_network_add_input(n, "a", KILN_FLOAT, 2, ad, &a) == KILN_OK);
    CHECK(kiln_network_add_input(n, "c", KILN_FLOAT, 1, cd, &c) == KILN_OK);
    n->graph->values[a].type.dims[0].sym = "batch"; /* as an ONNX dim_param (arena/static strings are fine) */
    n->graph->values[c].type.dims[0].sym = "batch";
    kiln_network_mark_output(n, a, NULL);
    kiln_network_mark_output(n, c, NULL);
    kiln_blob *blob = NULL;
    CHECK(kiln_build_serialized(b, n, NULL, &blob) == KILN_OK);
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    kiln_context *ctx = NULL;
    kiln_runtime_create(&quiet, &rt);
    CHECK(kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e) == KILN_OK);
    CHECK(kiln_context_create(e, &ctx) == KILN_OK);
    float av[6] = {0}, cv[3] = {0};
    int64_t s_a[] = {3, 2}, s_c[] = {2};
    kiln_context_set_input_shape(ctx, "a", 2, s_a);
    kiln_context_set_input_shape(ctx, "c", 1, s_c);
    kiln_context_set_tensor_address(ctx, "a", av, sizeof av);
    kiln_context_set_tensor_address(ctx, "c", cv, sizeof cv);
    CHECK(kiln_context_execute(ctx) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_last_error(ctx), "input 'a' dim 0 = 3 and input 'c' dim 0 = 2 are both 'batch'") != NULL);
    s_c[0] = 3;
    kiln_context_set_input_shape(ctx, "c", 1, s_c);
    CHECK(kiln_context_execute(ctx) == KILN_OK);
    kiln_context_destroy(ctx);
    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
    kiln_blob_destroy(blob);
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
}

int main(void) {
    test_symbolic_dims();
    test_passthrough();
    test_matmul_model();
    return CHECK_DONE();
}
