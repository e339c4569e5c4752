/* Every public call of include/kiln.h that takes a handle, given a NULL handle, a destroyed one, a pointer to
 * arbitrary bytes, and a live handle of each other type, in each handle slot: refused with
 * KILN_ERR_INVALID_ARGUMENT (or the call's documented sentinel: -1, NULL, 0, KILN_BACKEND_AUTO) and a message saying
 * which handle is wrong and how, with no effect on the live handles (used for a full build and run at the end).
 * Destroy calls ignore all of those. Then NULL pointers for every other pointer argument of a live handle's calls. */
#include "check.h"
#include "robust_util.h"

enum { H_BUILDER, H_NETWORK, H_CONFIG, H_PROFILE, H_PARSER, H_BLOB, H_RUNTIME, H_ENGINE, H_CONTEXT, H_COUNT };
static const char *const kind_names[H_COUNT] = {"builder", "network", "config", "profile", "ONNX parser",
                                                "blob", "runtime", "engine", "context"};
static void *live[H_COUNT];

/* The calls, by index: the handle slot being probed gets `h`, every other argument is valid. *kind receives the
 * handle type the slot wants; *nullable whether NULL is a legal value there. Returns 0 past the last call. */
static int api_call(int i, void *h, int *kind, int *nullable, kiln_status *st, const char **name) {
    int n = 0;
    int64_t d2[2] = {1, 3};
    float f6[6] = {0};
    kiln_conv_desc cd = {.n_spatial = 1, .out_channels = 1, .kernel = {1}};
    kiln_pool_desc pd = {.n_spatial = 1, .kernel = {1}};
    kiln_tensor_view tv;
    kiln_parser_error pe;
    kiln_io_mode mode;
    int id = 0, rank, cnt;
    int64_t dims[KILN_MAX_DIMS];
    const kiln_tensor_view *items;
    void *outp = NULL;
    *nullable = 0;
#define CALL(k, expr)                                                                                            \
    if (i == n++) {                                                                                              \
        *kind = (k);                                                                                             \
        *name = #expr;                                                                                           \
        *st = (expr);                                                                                            \
        return 1;                                                                                                \
    }
#define CALL_NULLABLE(k, expr)                                                                                   \
    if (i == n++) {                                                                                              \
        *kind = (k);                                                                                             \
        *nullable = 1;                                                                                           \
        *name = #expr;                                                                                           \
        *st = (expr);                                                                                            \
        return 1;                                                                                                \
    }
/* Calls without a status: their sentinel for a bad handle counts as INVALID_ARGUMENT. */
#define SENTINEL(k, expr, bad) CALL(k, (expr) == (bad) ? KILN_ERR_INVALID_ARGUMENT : KILN_OK)
    kiln_builder *b = live[H_BUILDER];
    kiln_network *net = live[H_NETWORK];
    kiln_config *cfg = live[H_CONFIG];
    kiln_profile *prof = live[H_PROFILE];
    kiln_onnx_parser *ps = live[H_PARSER];
    kiln_context *ctx = live[H_CONTEXT];
    kiln_engine *e = live[H_ENGINE];
    (void)ps, (void)ctx;
    CALL(H_BUILDER, kiln_network_create(h, (kiln_network **)&outp));
    CALL(H_BUILDER, kiln_config_create(h, (kiln_config **)&outp));
    CALL(H_BUILDER, kiln_profile_create(h, (kiln_profile **)&outp));
    CALL(H_BUILDER, kiln_build_serialized(h, net, cfg, (kiln_blob **)&outp));
    CALL(H_NETWORK, kiln_build_serialized(b, h, cfg, (kiln_blob **)&outp));
    CALL_NULLABLE(H_CONFIG, kiln_build_serialized(b, net, h, (kiln_blob **)&outp));
    CALL(H_NETWORK, kiln_onnx_parser_create(h, (kiln_onnx_parser **)&outp));
    CALL(H_NETWORK, kiln_network_add_input(h, "x", KILN_FLOAT, 2, d2, &id));
    CALL(H_NETWORK, kiln_network_add_constant(h, KILN_FLOAT, 2, d2, f6, &id));
    CALL(H_NETWORK, kiln_network_add_conv(h, 0, 1, -1, &cd, &id));
    CALL(H_NETWORK, kiln_network_add_matmul(h, 0, 1, &id));
    CALL(H_NETWORK, kiln_network_add_elementwise(h, KILN_ELTWISE_ADD, 0, 1, &id));
    CALL(H_NETWORK, kiln_network_add_activation(h, KILN_ACT_RELU, 0, 0, 0, &id));
    CALL(H_NETWORK, kiln_network_add_pooling(h, KILN_POOL_MAX, 0, &pd, &id));
    CALL(H_NETWORK, kiln_network_add_softmax(h, 0, 1, &id));
    CALL(H_NETWORK, kiln_network_add_reshape(h, 0, 2, d2, &id));
    CALL(H_NETWORK, kiln_network_add_concat(h, &id, 1, 0, &id));
    CALL(H_NETWORK, kiln_network_mark_output(h, 0, "y"));
    CALL(H_NETWORK, kiln_network_input_count(h, &cnt));
    CALL(H_NETWORK, kiln_network_output_count(h, &cnt));
    CALL(H_NETWORK, kiln_network_node_count(h, &cnt));
    CALL(H_PARSER, kiln_onnx_parse_file(h, "tests/malformed/onnx/valid_dynamic.onnx"));
    CALL(H_PARSER, kiln_onnx_parse_memory(h, f6, sizeof f6, NULL));
    SENTINEL(H_PARSER, kiln_onnx_parser_error_count(h), 0);
    CALL(H_PARSER, kiln_onnx_parser_get_error(h, 0, &pe));
    CALL(H_CONFIG, kiln_config_set_backend(h, KILN_BACKEND_CPU));
    CALL(H_CONFIG, kiln_config_set_flag(h, KILN_FLAG_FP16, 1));
    CALL(H_CONFIG, kiln_config_set_workspace(h, 1 << 20));
    CALL(H_CONFIG, kiln_config_set_optimization_level(h, 2));
    CALL(H_CONFIG, kiln_config_add_profile(h, prof));
    CALL(H_PROFILE, kiln_config_add_profile(cfg, h));
    CALL(H_PROFILE, kiln_profile_set_shape(h, "x", KILN_PROFILE_MIN, 2, d2));
    SENTINEL(H_BLOB, kiln_blob_data(h), NULL);
    SENTINEL(H_BLOB, kiln_blob_size(h), 0);
    CALL(H_BLOB, kiln_blob_write_file(h, "never-written.plan"));
    CALL(H_RUNTIME, kiln_engine_deserialize(h, f6, sizeof f6, (kiln_engine **)&outp));
    CALL(H_RUNTIME, kiln_engine_load_file(h, "never-read.plan", (kiln_engine **)&outp));
    SENTINEL(H_ENGINE, kiln_engine_backend(h), KILN_BACKEND_AUTO);
    SENTINEL(H_ENGINE, kiln_engine_io_count(h), -1);
    SENTINEL(H_ENGINE, kiln_engine_io_name(h, 0), NULL);
    CALL(H_ENGINE, kiln_engine_io_info(h, "x", &mode, NULL, NULL, &rank, dims));
    CALL(H_ENGINE, kiln_engine_profile_shape(h, "x", KILN_PROFILE_MIN, &rank, dims));
    SENTINEL(H_ENGINE, kiln_engine_layer_count(h), -1);
    SENTINEL(H_ENGINE, kiln_engine_layer_info(h, 0), NULL);
    CALL(H_ENGINE, kiln_context_create(h, (kiln_context **)&outp));
    CALL(H_CONTEXT, kiln_context_set_input_shape(h, "x", 2, d2));
    CALL(H_CONTEXT, kiln_context_set_tensor_address(h, "x", f6, sizeof f6));
    CALL(H_CONTEXT, kiln_context_set_input_sequence(h, "x", NULL, 0, KILN_FLOAT));
    CALL(H_CONTEXT, kiln_context_set_input_none(h, "x"));
    CALL(H_CONTEXT, kiln_context_enqueue(h, NULL));
    CALL(H_CONTEXT, kiln_context_execute(h));
    CALL(H_CONTEXT, kiln_context_get_output(h, "y", NULL, &tv));
    CALL(H_CONTEXT, kiln_context_get_output_sequence(h, "y", &cnt, &items));
    CALL(H_CONTEXT, kiln_context_set_profiler(h, NULL, NULL));
    CALL(H_CONTEXT, kiln_context_copy_output(h, "y", f6, sizeof f6));
    (void)e;
    return 0;
#undef CALL
#undef CALL_NULLABLE
#undef SENTINEL
}

static void destroy_everything_wrong(void *h) {
    kiln_builder_destroy(h), kiln_network_destroy(h), kiln_config_destroy(h), kiln_profile_destroy(h);
    kiln_onnx_parser_destroy(h), kiln_blob_destroy(h), kiln_runtime_destroy(h), kiln_engine_destroy(h);
    kiln_context_destroy(h);
}

int main(void) {
    CHECK(kiln_builder_create(&robust_quiet, (kiln_builder **)&live[H_BUILDER]) == KILN_OK);
    CHECK(kiln_network_create(live[H_BUILDER], (kiln_network **)&live[H_NETWORK]) == KILN_OK);
    CHECK(kiln_config_create(live[H_BUILDER], (kiln_config **)&live[H_CONFIG]) == KILN_OK);
    CHECK(kiln_profile_create(live[H_BUILDER], (kiln_profile **)&live[H_PROFILE]) == KILN_OK);
    CHECK(kiln_onnx_parser_create(live[H_NETWORK], (kiln_onnx_parser **)&live[H_PARSER]) == KILN_OK);
    CHECK(kiln_runtime_create(&robust_quiet, (kiln_runtime **)&live[H_RUNTIME]) == KILN_OK);
    {
        /* A blob, an engine and a context from a separate network, so the probed network stays empty. */
        kiln_network *n2 = NULL;
        kiln_onnx_parser *p2 = NULL;
        CHECK(kiln_network_create(live[H_BUILDER], &n2) == KILN_OK && kiln_onnx_parser_create(n2, &p2) == KILN_OK);
        CHECK(kiln_onnx_parse_file(p2, "tests/malformed/onnx/valid_dynamic.onnx") == KILN_OK);
        CHECK(kiln_build_serialized(live[H_BUILDER], n2, NULL, (kiln_blob **)&live[H_BLOB]) == KILN_OK);
        CHECK(kiln_engine_deserialize(live[H_RUNTIME], kiln_blob_data(live[H_BLOB]), kiln_blob_size(live[H_BLOB]),
                                      (kiln_engine **)&live[H_ENGINE]) == KILN_OK);
        CHECK(kiln_context_create(live[H_ENGINE], (kiln_context **)&live[H_CONTEXT]) == KILN_OK);
        kiln_onnx_parser_destroy(p2);
        kiln_network_destroy(n2);
    }
    for (int k = 0; k < H_COUNT; k++) CHECK(live[k] != NULL);

    /* Probes: NULL, a destroyed handle, bytes that are no handle, and every live handle. */
    uint32_t dead[300] = {0xdeadbeefu};
    uint64_t junk[300];
    for (int i = 0; i < 300; i++) junk[i] = 0x0123456789abcdefull * (uint64_t)(i + 1);
    int calls = 0, probes = 0;
    kiln_status st;
    int kind, nullable;
    const char *name;
    /* The first call of each index only learns its handle kind: a destroyed handle, so that nothing is created. */
    for (int i = 0; api_call(i, dead, &kind, &nullable, &st, &name); i++) {
        calls++;
        void *bad[3 + H_COUNT] = {NULL, dead, junk};
        const char *why[3 + H_COUNT] = {"handle is NULL", "handle was already destroyed", "handle is not a"};
        int n_bad = 3;
        for (int k = 0; k < H_COUNT; k++)
            if (k != kind) bad[n_bad] = live[k], why[n_bad++] = "handle is not a";
        for (int j = 0; j < n_bad; j++) {
            if (!bad[j] && nullable) continue;
            api_call(i, bad[j], &kind, &nullable, &st, &name);
            probes++;
            const char *msg = kiln_last_error(NULL);
            char want[64];
            snprintf(want, sizeof want, "%s", kind_names[kind]);
            int ok = st == KILN_ERR_INVALID_ARGUMENT && strstr(msg, why[j]) && strstr(msg, want);
            if (!ok)
                fprintf(stderr, "%s with probe %d: %s '%s' (want '%s' about the %s)\n", name, j,
                        robust_status_name(st), msg, why[j], want);
            CHECK(ok);
        }
    }
    fprintf(stderr, "api: %d calls x wrong handles = %d refused calls\n", calls, probes);
    CHECK(calls >= 54);

    /* Destroying anything that is not a live handle of the right type does nothing. */
    destroy_everything_wrong(NULL);
    destroy_everything_wrong(dead);
    destroy_everything_wrong(junk);
    for (int k = 0; k < H_COUNT; k++) {
        void *h = live[k];
        void (*const destroyers[H_COUNT])(void *) = {
            (void (*)(void *))kiln_builder_destroy, (void (*)(void *))kiln_network_destroy,
            (void (*)(void *))kiln_config_destroy, (void (*)(void *))kiln_profile_destroy,
            (void (*)(void *))kiln_onnx_parser_destroy, (void (*)(void *))kiln_blob_destroy,
            (void (*)(void *))kiln_runtime_destroy, (void (*)(void *))kiln_engine_destroy,
            (void (*)(void *))kiln_context_destroy};
        for (int j = 0; j < H_COUNT; j++)
            if (j != k) destroyers[j](h);
    }
    CHECK(strcmp(kiln_last_error(junk), "not a kiln handle") == 0);
    CHECK(strcmp(kiln_last_error(dead), "not a kiln handle") == 0);

    /* NULL for the other pointer arguments, on live handles. */
    kiln_builder *b = live[H_BUILDER];
    kiln_network *net = live[H_NETWORK];
    kiln_onnx_parser *ps = live[H_PARSER];
    kiln_config *cfg = live[H_CONFIG];
    kiln_profile *prof = live[H_PROFILE];
    kiln_engine *e = live[H_ENGINE];
    kiln_context *ctx = live[H_CONTEXT];
    kiln_runtime *rt = live[H_RUNTIME];
    int64_t d2[2] = {1, 3};
    int id = 0, rank;
    /* Checked right after each call: the message is the handle's (or the thread's, for calls without one). */
#define NULLARG(expr, h, needle)                                                                                 \
    do {                                                                                                         \
        kiln_status na_s_ = (expr);                                                                              \
        const char *na_m_ = kiln_last_error(h);                                                                  \
        int na_ok_ = na_s_ == KILN_ERR_INVALID_ARGUMENT && strstr(na_m_, needle) != NULL;                        \
        if (!na_ok_) fprintf(stderr, "%s: %s '%s' (want '%s')\n", #expr, robust_status_name(na_s_), na_m_, needle); \
        CHECK(na_ok_);                                                                                           \
    } while (0)
    NULLARG(kiln_builder_create(NULL, NULL), NULL, "out is NULL");
    NULLARG(kiln_runtime_create(NULL, NULL), NULL, "out is NULL");
    NULLARG(kiln_network_create(b, NULL), b, "out is NULL");
    NULLARG(kiln_config_create(b, NULL), b, "out is NULL");
    NULLARG(kiln_profile_create(b, NULL), b, "out is NULL");
    NULLARG(kiln_onnx_parser_create(net, NULL), NULL, "out is NULL");
    NULLARG(kiln_onnx_parse_file(ps, NULL), ps, "path is NULL");
    NULLARG(kiln_onnx_parse_memory(ps, NULL, 10, NULL), ps, "data is NULL");
    NULLARG(kiln_onnx_parser_get_error(ps, 0, NULL), ps, "out is NULL");
    NULLARG(kiln_network_add_input(net, NULL, KILN_FLOAT, 2, d2, &id), net, "name");
    NULLARG(kiln_network_add_input(net, "x", KILN_FLOAT, 2, NULL, &id), net, "dims");
    NULLARG(kiln_network_add_input(net, "x", KILN_FLOAT, 2, d2, NULL), net, "NULL");
    NULLARG(kiln_network_add_constant(net, KILN_FLOAT, 2, d2, NULL, &id), net, "NULL");
    NULLARG(kiln_network_add_conv(net, 0, 1, -1, NULL, &id), net, "NULL");
    NULLARG(kiln_network_add_pooling(net, KILN_POOL_MAX, 0, NULL, &id), net, "NULL");
    {
        kiln_network *n3 = NULL; /* one with a tensor, so the NULL is what gets refused */
        int x3 = -1;
        CHECK(kiln_network_create(b, &n3) == KILN_OK);
        CHECK(kiln_network_add_input(n3, "x", KILN_FLOAT, 2, d2, &x3) == KILN_OK);
        NULLARG(kiln_network_add_reshape(n3, x3, 2, NULL, &id), n3, "reshape: dims is NULL");
        NULLARG(kiln_network_add_concat(n3, NULL, 2, 0, &id), n3, "(inputs is NULL)");
        NULLARG(kiln_network_add_elementwise(n3, KILN_ELTWISE_ADD, x3, x3, NULL), n3, "NULL");
        kiln_network_destroy(n3);
    }
    NULLARG(kiln_network_input_count(net, NULL), net, "count is NULL");
    NULLARG(kiln_config_add_profile(cfg, NULL), cfg, "profile handle is NULL");
    NULLARG(kiln_profile_set_shape(prof, NULL, KILN_PROFILE_MIN, 2, d2), prof, "name is NULL");
    NULLARG(kiln_profile_set_shape(prof, "x", KILN_PROFILE_MIN, 2, NULL), prof, "dims is NULL");
    NULLARG(kiln_build_serialized(b, net, NULL, NULL), b, "out is NULL");
    NULLARG(kiln_blob_write_file(live[H_BLOB], NULL), live[H_BLOB], "path is NULL");
    kiln_engine *no_engine = NULL; /* an engine slot, not an int: the call clears *out before it checks data */
    NULLARG(kiln_engine_deserialize(rt, NULL, 10, &no_engine), rt, "data is NULL");
    CHECK(no_engine == NULL);
    NULLARG(kiln_engine_deserialize(rt, d2, sizeof d2, NULL), rt, "out is NULL");
    NULLARG(kiln_engine_load_file(rt, "x.plan", NULL), rt, "out is NULL");
    NULLARG(kiln_engine_io_info(e, NULL, NULL, NULL, NULL, NULL, NULL), e, "name is NULL");
    NULLARG(kiln_engine_profile_shape(e, "x", KILN_PROFILE_MIN, NULL, NULL), e, "NULL argument");
    NULLARG(kiln_engine_profile_shape(e, NULL, KILN_PROFILE_MIN, &rank, d2), e, "NULL argument");
    NULLARG(kiln_context_create(e, NULL), e, "out is NULL");
    NULLARG(kiln_context_set_tensor_address(ctx, NULL, d2, 8), ctx, "(NULL)");
    NULLARG(kiln_context_set_input_sequence(ctx, NULL, NULL, 0, KILN_FLOAT), ctx, "NULL");
    NULLARG(kiln_context_set_input_none(ctx, NULL), ctx, "NULL");
    NULLARG(kiln_context_get_output(ctx, NULL, NULL, NULL), ctx, "name is NULL");
    NULLARG(kiln_context_get_output_sequence(ctx, "y", NULL, NULL), ctx, "no results");
    NULLARG(kiln_context_copy_output(ctx, NULL, d2, sizeof d2), ctx, "NULL");
    CHECK(kiln_network_input_count(net, &id) == KILN_OK && id == 0); /* the probes left the network empty */

    /* The live handles still do their job. */
    CHECK(kiln_onnx_parse_file(ps, "tests/malformed/onnx/valid_dynamic.onnx") == KILN_OK);
    kiln_blob *blob = NULL;
    CHECK(kiln_build_serialized(b, net, cfg, &blob) == KILN_OK);
    kiln_blob_destroy(blob);
    float x[3] = {-1, 0, 2}, y[3];
    int64_t d13[2] = {1, 3};
    CHECK(kiln_context_set_input_shape(ctx, "x", 2, d13) == KILN_OK);
    CHECK(kiln_context_set_tensor_address(ctx, "x", x, sizeof x) == KILN_OK);
    CHECK(kiln_context_set_tensor_address(ctx, "y", y, sizeof y) == KILN_OK);
    CHECK(kiln_context_execute(ctx) == KILN_OK);
    CHECK(y[0] == -1 && y[1] == 0 && y[2] == 4); /* relu(x) + x */
    /* copy_output: the result, then a NULL destination, a short one and an unknown name */
    float y2[3] = {0};
    CHECK(kiln_context_copy_output(ctx, "y", y2, sizeof y2) == KILN_OK && memcmp(y, y2, sizeof y) == 0);
    NULLARG(kiln_context_copy_output(ctx, "y", NULL, sizeof y2), ctx, "dst is NULL");
    CHECK(kiln_context_copy_output(ctx, "y", y2, 8) == KILN_ERR_SHAPE &&
          strstr(kiln_last_error(ctx), "output 'y' needs 12 bytes, the buffer has 8"));
    CHECK(kiln_context_copy_output(ctx, "nope", y2, sizeof y2) == KILN_ERR_INVALID_ARGUMENT &&
          strstr(kiln_last_error(ctx), "'nope'"));
    /* calls without a handle: out-of-range enums give a name that says so, never NULL or a read past a table */
    CHECK(kiln_status_string((kiln_status)KILN_STATUS_COUNT) && kiln_status_string((kiln_status)-1));
    CHECK(kiln_dtype_name((kiln_dtype)KILN_DTYPE_COUNT) && kiln_dtype_name((kiln_dtype)-5));
    CHECK(kiln_dtype_size((kiln_dtype)KILN_DTYPE_COUNT) == 0 && kiln_dtype_size((kiln_dtype)-5) == 0);
    CHECK(kiln_backend_name((kiln_backend)KILN_BACKEND_COUNT) && kiln_backend_name((kiln_backend)-1));
    CHECK(kiln_default_logger() && kiln_default_logger()->log);
    /* device memory, streams, images: NULL or impossible arguments are refused naming the call (CPU-only builds
     * refuse the device calls as unsupported, also by name) */
#define NOHANDLE(expr, needle)                                                                                   \
    do {                                                                                                         \
        kiln_status nh_s_ = (expr);                                                                              \
        const char *nh_m_ = kiln_last_error(NULL);                                                               \
        int nh_ok_ = (nh_s_ == KILN_ERR_INVALID_ARGUMENT || nh_s_ == KILN_ERR_UNSUPPORTED ||                     \
                      nh_s_ == KILN_ERR_DEVICE || nh_s_ == KILN_ERR_RUNTIME) && strstr(nh_m_, needle) != NULL;   \
        if (!nh_ok_) fprintf(stderr, "%s: %s '%s' (want '%s')\n", #expr, robust_status_name(nh_s_), nh_m_, needle); \
        CHECK(nh_ok_);                                                                                           \
    } while (0)
    NOHANDLE(kiln_device_alloc(64, NULL), "kiln_device_alloc");
    NOHANDLE(kiln_device_copy(NULL, y, sizeof y, KILN_COPY_HOST_TO_DEVICE, NULL), "kiln_device_copy");
    NOHANDLE(kiln_device_copy(y2, y, sizeof y, (kiln_copy_kind)9, NULL), "kiln_device_copy");
    NOHANDLE(kiln_stream_create(NULL), "kiln_stream_create");
    NOHANDLE(kiln_stream_synchronize(NULL), "kiln_stream_synchronize");
    kiln_device_free(NULL);
    kiln_stream_destroy(NULL);
    NOHANDLE(kiln_preprocess_image(NULL, KILN_BACKEND_CPU, NULL), "kiln_preprocess_image: descriptor is NULL");
    {
        uint8_t px[12] = {0};
        float out[12];
        kiln_preprocess_desc pd = {.src = px, .src_height = 2, .src_width = 2, .src_channels = 3, .dst = out,
                                   .dst_dtype = KILN_FLOAT, .dst_height = 2, .dst_width = 2, .dst_channels = 3};
        CHECK(kiln_preprocess_image(&pd, KILN_BACKEND_CPU, NULL) == KILN_OK);
        pd.src_height = -1;
        NOHANDLE(kiln_preprocess_image(&pd, KILN_BACKEND_CPU, NULL), "source size -1 x 2");
        pd.src_height = 2;
        NOHANDLE(kiln_preprocess_image(&pd, (kiln_backend)77, NULL), "unknown target 77");
        uint8_t *pixels = (uint8_t *)1;
        int h = -1, w = -1;
        NOHANDLE(kiln_decode_image(px, sizeof px, 3, 0, NULL, &h, &w), "kiln_decode_image");
        NOHANDLE(kiln_decode_image(px, sizeof px, 2, 0, &pixels, &h, &w), "channels is 2");
        NOHANDLE(kiln_decode_image(NULL, 0, 3, 0, &pixels, &h, &w), "empty");
        CHECK(pixels == NULL && h == 0 && w == 0);
        NOHANDLE(kiln_decode_image(px, sizeof px, 3, 0, &pixels, &h, &w), "");
        CHECK(pixels == NULL);
        kiln_image_pixels_free(NULL);
    }
#undef NOHANDLE

    kiln_context_destroy(ctx);
    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
    kiln_blob_destroy(live[H_BLOB]);
    kiln_onnx_parser_destroy(ps);
    kiln_profile_destroy(prof);
    kiln_config_destroy(cfg);
    kiln_network_destroy(net);
    kiln_builder_destroy(b);
    return CHECK_DONE();
}
