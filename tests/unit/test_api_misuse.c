/* API misuse: NULL handles, handles of the wrong type, destroyed handles, bad arguments to every layer call,
 * bad profiles, unsupported ops. Each must fail with a status and a message, never crash. */
#include <stdio.h>
#include <string.h>

#include "build/network.h"
#include "check.h"
#include "core/status.h"
#include "kiln.h"

static int n_errors_logged;
static void count_errors(void *user, kiln_severity sev, const char *msg) {
    (void)user, (void)msg;
    if (sev <= KILN_SEV_ERROR) n_errors_logged++;
}

#define BAD(expr, status, needle)                                                                                \
    do {                                                                                                         \
        kiln_status bad_s_ = (expr);                                                                             \
        CHECK(bad_s_ == (status));                                                                               \
        if (bad_s_ != (status)) fprintf(stderr, "  %s -> %d: %s\n", #expr, (int)bad_s_, kiln_last_error(NULL));  \
        if ((needle) && !strstr(kiln_last_error(NULL), (needle) ? (needle) : ""))                                \
            fprintf(stderr, "  %s: message '%s' lacks '%s'\n", #expr, kiln_last_error(NULL), (needle) ? (needle) : ""), \
                check_failures++;                                                                                \
    } while (0)

static void null_handles(void) {
    int i;
    int64_t d[2] = {1, 2};
    kiln_conv_desc cd = {0};
    kiln_pool_desc pd = {0};
    BAD(kiln_network_create(NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "builder handle is NULL");
    BAD(kiln_config_create(NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_profile_create(NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_add_input(NULL, "x", KILN_FLOAT, 2, d, &i), KILN_ERR_INVALID_ARGUMENT, "network handle is NULL");
    BAD(kiln_network_add_constant(NULL, KILN_FLOAT, 2, d, d, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_add_conv(NULL, 0, 1, -1, &cd, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_add_matmul(NULL, 0, 1, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_add_elementwise(NULL, KILN_ELTWISE_ADD, 0, 1, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_add_activation(NULL, KILN_ACT_RELU, 0, 0, 0, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_add_pooling(NULL, KILN_POOL_MAX, 0, &pd, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_add_softmax(NULL, 0, 0, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_add_reshape(NULL, 0, 2, d, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_add_concat(NULL, &i, 1, 0, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_mark_output(NULL, 0, "y"), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_input_count(NULL, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_output_count(NULL, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_network_node_count(NULL, &i), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_config_set_backend(NULL, KILN_BACKEND_CPU), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_config_set_flag(NULL, KILN_FLAG_FP16, 1), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_config_set_workspace(NULL, 1), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_config_set_optimization_level(NULL, 1), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_config_add_profile(NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_profile_set_shape(NULL, "x", KILN_PROFILE_MIN, 2, d), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_blob_write_file(NULL, "p"), KILN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK(kiln_blob_data(NULL) == NULL && kiln_blob_size(NULL) == 0);
    BAD(kiln_build_serialized(NULL, NULL, NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_engine_deserialize(NULL, d, 8, NULL), KILN_ERR_INVALID_ARGUMENT, "runtime handle is NULL");
    BAD(kiln_engine_load_file(NULL, "p", NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    CHECK(kiln_engine_backend(NULL) == KILN_BACKEND_AUTO);
    CHECK(kiln_engine_io_count(NULL) == -1 && kiln_engine_io_name(NULL, 0) == NULL);
    CHECK(kiln_engine_layer_count(NULL) == -1 && kiln_engine_layer_info(NULL, 0) == NULL);
    BAD(kiln_engine_io_info(NULL, "x", NULL, NULL, NULL, NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_engine_profile_shape(NULL, "x", KILN_PROFILE_MIN, &i, d), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_context_create(NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "engine handle is NULL");
    BAD(kiln_context_set_input_shape(NULL, "x", 2, d), KILN_ERR_INVALID_ARGUMENT, "context handle is NULL");
    BAD(kiln_context_set_tensor_address(NULL, "x", d, 16), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_context_set_input_sequence(NULL, "x", NULL, 0, KILN_FLOAT), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_context_set_input_none(NULL, "x"), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_context_enqueue(NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_context_execute(NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_context_get_output(NULL, "y", NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_context_get_output_sequence(NULL, "y", &i, NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    BAD(kiln_context_set_profiler(NULL, NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "NULL");
    /* destroying NULL is a no-op */
    kiln_builder_destroy(NULL), kiln_network_destroy(NULL), kiln_config_destroy(NULL), kiln_profile_destroy(NULL);
    kiln_blob_destroy(NULL), kiln_runtime_destroy(NULL), kiln_engine_destroy(NULL), kiln_context_destroy(NULL);
}

static void wrong_and_dead_handles(void) {
    kiln_builder *b = NULL;
    kiln_config *cfg = NULL;
    kiln_runtime *rt = NULL;
    CHECK(kiln_builder_create(NULL, &b) == KILN_OK);
    CHECK(kiln_config_create(b, &cfg) == KILN_OK);
    CHECK(kiln_runtime_create(NULL, &rt) == KILN_OK);
    int i;
    int64_t d[1] = {1};
    /* a config where a network is expected, a runtime where a builder is */
    BAD(kiln_network_add_input((kiln_network *)cfg, "x", KILN_FLOAT, 1, d, &i), KILN_ERR_INVALID_ARGUMENT,
        "handle is not a network");
    BAD(kiln_network_create((kiln_builder *)rt, NULL), KILN_ERR_INVALID_ARGUMENT, "handle is not a builder");
    BAD(kiln_context_create((kiln_engine *)b, NULL), KILN_ERR_INVALID_ARGUMENT, "handle is not a engine");
    BAD(kiln_build_serialized(b, (kiln_network *)cfg, NULL, NULL), KILN_ERR_INVALID_ARGUMENT, "not a network");
    CHECK(kiln_engine_io_count((kiln_engine *)rt) == -1);
    /* destroying a handle of another type does nothing */
    kiln_engine_destroy((kiln_engine *)cfg);
    CHECK(kiln_config_set_workspace(cfg, 1 << 20) == KILN_OK);
    /* A destroyed handle: destroy marks the header dead before freeing; a header in that state is refused.
     * (Reading freed memory would be undefined, so the dead state is shown on a header kept alive here.) */
    kiln_handle_hdr dead = {.magic = KILN_MAGIC_DEAD};
    BAD(kiln_network_add_input((kiln_network *)&dead, "x", KILN_FLOAT, 1, d, &i), KILN_ERR_INVALID_ARGUMENT,
        "already destroyed");
    BAD(kiln_context_execute((kiln_context *)&dead), KILN_ERR_INVALID_ARGUMENT, "already destroyed");
    BAD(kiln_engine_io_info((kiln_engine *)&dead, "x", NULL, NULL, NULL, NULL, NULL), KILN_ERR_INVALID_ARGUMENT,
        "already destroyed");
    kiln_engine_destroy((kiln_engine *)&dead); /* ignored: already dead */
    CHECK(strcmp(kiln_last_error(&dead), "not a kiln handle") == 0);
    kiln_runtime_destroy(rt);
    kiln_config_destroy(cfg);
    kiln_builder_destroy(b);
}

static void layer_arguments(void) {
    kiln_logger lg = {count_errors, NULL};
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_builder_create(&lg, &b);
    kiln_network_create(b, &n);
    int x, w, i;
    int64_t xd[4] = {1, 3, 8, 8}, wd[4] = {4, 3, 3, 3}, big[KILN_MAX_DIMS + 1] = {0};
    float wv[4 * 3 * 3 * 3] = {0};
    CHECK(kiln_network_add_input(n, "x", KILN_FLOAT, 4, xd, &x) == KILN_OK);
    CHECK(kiln_network_add_constant(n, KILN_FLOAT, 4, wd, wv, &w) == KILN_OK);
    int before = n_errors_logged;
    BAD(kiln_network_add_input(n, "x", KILN_FLOAT, 4, xd, &i), KILN_ERR_INVALID_ARGUMENT, "already has a tensor");
    CHECK(n_errors_logged == before + 1); /* errors go through the logger too */
    CHECK(strstr(kiln_last_error(n), "already has a tensor") != NULL);
    BAD(kiln_network_add_input(n, NULL, KILN_FLOAT, 4, xd, &i), KILN_ERR_INVALID_ARGUMENT, "name");
    BAD(kiln_network_add_input(n, "y", (kiln_dtype)99, 4, xd, &i), KILN_ERR_INVALID_ARGUMENT, "dtype");
    BAD(kiln_network_add_input(n, "y", KILN_FLOAT, KILN_MAX_DIMS + 1, big, &i), KILN_ERR_INVALID_ARGUMENT, "rank");
    BAD(kiln_network_add_input(n, "y", KILN_FLOAT, 2, NULL, &i), KILN_ERR_INVALID_ARGUMENT, "dims is NULL");
    BAD(kiln_network_add_input(n, "y", KILN_FLOAT, 4, xd, NULL), KILN_ERR_INVALID_ARGUMENT, "out_tensor is NULL");
    BAD(kiln_network_add_constant(n, KILN_FLOAT, 2, xd, NULL, &i), KILN_ERR_INVALID_ARGUMENT, "data is NULL");
    BAD(kiln_network_add_constant(n, KILN_FLOAT, -1, xd, wv, &i), KILN_ERR_INVALID_ARGUMENT, "rank");
    BAD(kiln_network_add_matmul(n, x, 1000, &i), KILN_ERR_INVALID_ARGUMENT, "tensor id 1000");
    BAD(kiln_network_add_matmul(n, -1, x, &i), KILN_ERR_INVALID_ARGUMENT, "tensor id -1");
    BAD(kiln_network_add_matmul(n, x, w, &i), KILN_ERR_SHAPE, "inner dims differ");
    BAD(kiln_network_add_elementwise(n, KILN_ELTWISE_OP_COUNT, x, x, &i), KILN_ERR_INVALID_ARGUMENT, "unknown");
    int64_t od[2] = {2, 2};
    int32_t ov[4] = {0};
    int other;
    CHECK(kiln_network_add_constant(n, KILN_INT32, 2, od, ov, &other) == KILN_OK);
    BAD(kiln_network_add_elementwise(n, KILN_ELTWISE_ADD, x, other, &i), KILN_ERR_TYPE, "same dtype");
    BAD(kiln_network_add_activation(n, KILN_ACTIVATION_COUNT, x, 0, 0, &i), KILN_ERR_INVALID_ARGUMENT, "unknown");
    BAD(kiln_network_add_activation(n, KILN_ACT_RELU, 77, 0, 0, &i), KILN_ERR_INVALID_ARGUMENT, "tensor id 77");
    kiln_conv_desc cd = {.n_spatial = 2, .out_channels = 4, .kernel = {3, 3}};
    BAD(kiln_network_add_conv(n, x, w, -1, NULL, &i), KILN_ERR_INVALID_ARGUMENT, "desc is NULL");
    BAD(kiln_network_add_conv(n, x, w, 99, &cd, &i), KILN_ERR_INVALID_ARGUMENT, "conv bias");
    cd.n_spatial = 4;
    BAD(kiln_network_add_conv(n, x, w, -1, &cd, &i), KILN_ERR_INVALID_ARGUMENT, "n_spatial");
    cd.n_spatial = 2, cd.out_channels = 5;
    BAD(kiln_network_add_conv(n, x, w, -1, &cd, &i), KILN_ERR_SHAPE, "out_channels");
    cd.out_channels = 4, cd.kernel[0] = 0;
    BAD(kiln_network_add_conv(n, x, w, -1, &cd, &i), KILN_ERR_INVALID_ARGUMENT, "kernel[0]");
    cd.kernel[0] = 3, cd.strides[1] = -2;
    BAD(kiln_network_add_conv(n, x, w, -1, &cd, &i), KILN_ERR_INVALID_ARGUMENT, "negative");
    cd.strides[1] = 0;
    CHECK(kiln_network_add_conv(n, x, w, -1, &cd, &i) == KILN_OK);
    kiln_pool_desc pd = {.n_spatial = 2, .kernel = {2, 0}};
    BAD(kiln_network_add_pooling(n, KILN_POOL_MAX, x, &pd, &i), KILN_ERR_INVALID_ARGUMENT, "kernel[1]");
    BAD(kiln_network_add_pooling(n, KILN_POOL_TYPE_COUNT, x, &pd, &i), KILN_ERR_INVALID_ARGUMENT, "pooling type");
    BAD(kiln_network_add_softmax(n, x, 4, &i), KILN_ERR_INVALID_ARGUMENT, "axis 4");
    int64_t rs[3] = {-1, -1, 2};
    BAD(kiln_network_add_reshape(n, x, 3, rs, &i), KILN_ERR_INVALID_ARGUMENT, "more than one -1");
    int64_t rs2[2] = {5, -1};
    BAD(kiln_network_add_reshape(n, x, 2, rs2, &i), KILN_ERR_SHAPE, "cannot be split");
    BAD(kiln_network_add_reshape(n, x, KILN_MAX_DIMS + 1, big, &i), KILN_ERR_INVALID_ARGUMENT, "rank");
    BAD(kiln_network_add_concat(n, NULL, 2, 0, &i), KILN_ERR_INVALID_ARGUMENT, "at least one");
    int cin[2] = {x, other};
    BAD(kiln_network_add_concat(n, cin, 2, 0, &i), KILN_ERR_TYPE, "concat");
    cin[1] = w;
    BAD(kiln_network_add_concat(n, cin, 2, 5, &i), KILN_ERR_INVALID_ARGUMENT, "axis 5");
    BAD(kiln_network_add_concat(n, cin, 2, 2, &i), KILN_ERR_SHAPE, "dim");
    BAD(kiln_network_mark_output(n, 555, "y"), KILN_ERR_INVALID_ARGUMENT, "tensor id 555");
    BAD(kiln_network_mark_output(n, x, "renamed"), KILN_ERR_INVALID_ARGUMENT, "keeps its name");
    CHECK(kiln_network_mark_output(n, w, "out") == KILN_OK);
    BAD(kiln_network_mark_output(n, w, "out"), KILN_ERR_INVALID_ARGUMENT, "already an output");
    BAD(kiln_network_mark_output(n, other, "x"), KILN_ERR_INVALID_ARGUMENT, "already has a tensor 'x'");
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
}

static void config_and_profiles(void) {
    kiln_builder *b = NULL;
    kiln_logger quiet = {NULL, NULL};
    kiln_builder_create(&quiet, &b);
    kiln_config *c = NULL;
    kiln_profile *p = NULL;
    kiln_config_create(b, &c);
    kiln_profile_create(b, &p);
    BAD(kiln_config_set_backend(c, (kiln_backend)7), KILN_ERR_INVALID_ARGUMENT, "backend");
    BAD(kiln_config_set_flag(c, KILN_BUILDER_FLAG_COUNT, 1), KILN_ERR_INVALID_ARGUMENT, "flag");
    BAD(kiln_config_set_optimization_level(c, 6), KILN_ERR_INVALID_ARGUMENT, "0..5");
    BAD(kiln_config_add_profile(c, NULL), KILN_ERR_INVALID_ARGUMENT, "profile handle is NULL");
    BAD(kiln_config_add_profile(c, p), KILN_ERR_INVALID_ARGUMENT, "no input shapes");
    int64_t a[2] = {4, 3}, bb[2] = {2, 3}, cc[2] = {8, 3};
    BAD(kiln_profile_set_shape(p, NULL, KILN_PROFILE_MIN, 2, a), KILN_ERR_INVALID_ARGUMENT, "name");
    BAD(kiln_profile_set_shape(p, "x", (kiln_profile_selector)3, 2, a), KILN_ERR_INVALID_ARGUMENT, "selector");
    BAD(kiln_profile_set_shape(p, "x", KILN_PROFILE_MIN, KILN_MAX_DIMS + 1, a), KILN_ERR_INVALID_ARGUMENT, "rank");
    int64_t neg[2] = {-1, 3};
    BAD(kiln_profile_set_shape(p, "x", KILN_PROFILE_MIN, 2, neg), KILN_ERR_INVALID_ARGUMENT, ">= 0");
    CHECK(kiln_profile_set_shape(p, "x", KILN_PROFILE_MIN, 2, a) == KILN_OK);
    BAD(kiln_profile_set_shape(p, "x", KILN_PROFILE_OPT, 1, a), KILN_ERR_INVALID_ARGUMENT, "rank 1");
    CHECK(kiln_profile_set_shape(p, "x", KILN_PROFILE_OPT, 2, bb) == KILN_OK);
    BAD(kiln_config_add_profile(c, p), KILN_ERR_INVALID_ARGUMENT, "no max shape");
    CHECK(kiln_profile_set_shape(p, "x", KILN_PROFILE_MAX, 2, cc) == KILN_OK);
    BAD(kiln_config_add_profile(c, p), KILN_ERR_INVALID_ARGUMENT, "min <= opt <= max"); /* min 4 > opt 2 */

    /* profiles that do not match the network are refused at build time */
    kiln_network *n = NULL;
    kiln_network_create(b, &n);
    int x, y;
    int64_t xd[2] = {-1, 3};
    kiln_network_add_input(n, "x", KILN_FLOAT, 2, xd, &x);
    kiln_network_mark_output(n, x, NULL);
    (void)y;
    struct {
        const char *input;
        int rank;
        int64_t mn[3], op[3], mx[3];
        kiln_status want;
        const char *needle;
    } cases[] = {
        {"x", 3, {1, 3, 1}, {2, 3, 1}, {4, 3, 1}, KILN_ERR_SHAPE, "rank 3 in the profile but rank 2"},
        {"x", 2, {1, 2}, {2, 2}, {4, 2}, KILN_ERR_SHAPE, "fixed to 3"},
        {"zz", 2, {1, 3}, {2, 3}, {4, 3}, KILN_ERR_INVALID_ARGUMENT, "'zz', which is not an input"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        kiln_config *c2 = NULL;
        kiln_profile *p2 = NULL;
        kiln_config_create(b, &c2);
        kiln_profile_create(b, &p2);
        kiln_profile_set_shape(p2, cases[k].input, KILN_PROFILE_MIN, cases[k].rank, cases[k].mn);
        kiln_profile_set_shape(p2, cases[k].input, KILN_PROFILE_OPT, cases[k].rank, cases[k].op);
        kiln_profile_set_shape(p2, cases[k].input, KILN_PROFILE_MAX, cases[k].rank, cases[k].mx);
        CHECK(kiln_config_add_profile(c2, p2) == KILN_OK);
        kiln_blob *blob = (kiln_blob *)&blob; /* must be reset to NULL on failure */
        BAD(kiln_build_serialized(b, n, c2, &blob), cases[k].want, cases[k].needle);
        CHECK(blob == NULL);
        CHECK(strstr(kiln_last_error(b), cases[k].needle) != NULL);
        kiln_profile_destroy(p2);
        kiln_config_destroy(c2);
    }
    /* CUDA is not built here */
#ifndef KILN_HAVE_CUDA
    kiln_config *cu = NULL;
    kiln_config_create(b, &cu);
    kiln_config_set_backend(cu, KILN_BACKEND_CUDA);
    kiln_blob *blob = NULL;
    BAD(kiln_build_serialized(b, n, cu, &blob), KILN_ERR_UNSUPPORTED, "CUDA backend not built");
    kiln_config_destroy(cu);
#endif
    kiln_network_destroy(n);

    /* an op without a kernel is named with its node index, name, op, domain and opset */
    kiln_network_create(b, &n);
    kiln_network_add_input(n, "x", KILN_FLOAT, 2, cc, &x);
    kiln_graph *g = n->graph; /* as the ONNX parser would fill it */
    int v = kiln_graph_add_value(g, "fz");
    int k = kiln_graph_add_node(g, "frob0", "Frobnicate", "com.example", 2, 1, 1);
    g->nodes[k].in[0] = x;
    g->nodes[k].out[0] = v;
    CHECK(kiln_network_mark_output(n, v, NULL) == KILN_OK);
    kiln_blob *blob2 = NULL;
    BAD(kiln_build_serialized(b, n, NULL, &blob2), KILN_ERR_UNSUPPORTED,
        "node 0 ('frob0'): op Frobnicate (domain 'com.example', opset 2) has no CPU kernel");
    kiln_network_destroy(n);
    /* a graph output nothing produces */
    kiln_network_create(b, &n);
    v = kiln_graph_add_value(n->graph, "ghost");
    CHECK(kiln_network_mark_output(n, v, NULL) == KILN_OK);
    BAD(kiln_build_serialized(b, n, NULL, &blob2), KILN_ERR_INVALID_GRAPH, "'ghost' is not produced");
    kiln_network_destroy(n);
    /* no outputs at all */
    kiln_network_create(b, &n);
    BAD(kiln_build_serialized(b, n, NULL, &blob2), KILN_ERR_INVALID_GRAPH, "no outputs");
    kiln_network_destroy(n);
    kiln_profile_destroy(p);
    kiln_config_destroy(c);
    kiln_builder_destroy(b);
}

int main(void) {
    null_handles();
    wrong_and_dead_handles();
    layer_arguments();
    config_and_profiles();
    return CHECK_DONE();
}
