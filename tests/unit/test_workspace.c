/* The CPU workspace limit (kiln_config_set_workspace): a limit below what a node's kernel scratch needs at the
 * profile's maximum shapes fails the build with KILN_ERR_OUT_OF_MEMORY naming the node, the bytes and the limit; a
 * limit at the figure builds, and the plan runs; kernels without growing scratch pass any limit; a node whose
 * shapes have no profile maximum is named in a warning. The expected figures follow the kernels' buffers (see
 * src/build/workspace.c): a double Conv's im2col columns are C * k * P * 8 bytes per image, a float16 MatMul's
 * float32 staging copies (M*K + K*N + M*N) * 4 bytes. */
#include <stdint.h>

#include "check.h"
#include "robust_util.h"

static char warnings[4096];

static void keep_warnings(void *user, kiln_severity sev, const char *msg) {
    (void)user;
    if (sev != KILN_SEV_WARNING) return;
    size_t len = strlen(warnings);
    snprintf(warnings + len, sizeof warnings - len, "%s\n", msg);
}
static const kiln_logger logger = {keep_warnings, NULL};

typedef enum model_kind { CONV_F64, CONV_F32, MATMUL_F16 } model_kind;

/* Builds a one-node network of the given kind with dynamic dims, a profile whose maximum is `max` (NULL: no
 * profile), and the workspace `limit`. Returns the build status, the message in msg, the plan in *blob (when
 * blob is not NULL and the build succeeded). */
static kiln_status build(model_kind kind, const int64_t *max, size_t limit, char *msg, size_t cap, kiln_blob **blob) {
    kiln_builder *b = NULL;
    kiln_network *net = NULL;
    kiln_config *cfg = NULL;
    kiln_profile *prof = NULL;
    kiln_blob *out = NULL;
    CHECK(kiln_builder_create(&logger, &b) == KILN_OK && kiln_network_create(b, &net) == KILN_OK);
    int x = -1, w = -1, y = -1, rank = 0;
    if (kind == MATMUL_F16) {
        int64_t xd[2] = {-1, 64}, wd[2] = {64, 32};
        uint16_t wdata[64 * 32];
        for (int i = 0; i < 64 * 32; i++) wdata[i] = (uint16_t)(0x3c00 ^ (i & 0x3ff)); /* around 1.0 */
        CHECK(kiln_network_add_input(net, "x", KILN_FLOAT16, 2, xd, &x) == KILN_OK);
        CHECK(kiln_network_add_constant(net, KILN_FLOAT16, 2, wd, wdata, &w) == KILN_OK);
        CHECK(kiln_network_add_matmul(net, x, w, &y) == KILN_OK);
        rank = 2;
    } else {
        kiln_dtype dt = kind == CONV_F64 ? KILN_DOUBLE : KILN_FLOAT;
        int64_t xd[4] = {1, 4, -1, -1}, wd[4] = {8, 4, 3, 3};
        double wdata64[8 * 4 * 9];
        float wdata32[8 * 4 * 9];
        for (int i = 0; i < 8 * 4 * 9; i++) wdata64[i] = wdata32[i] = (float)(i % 7) * 0.125f;
        CHECK(kiln_network_add_input(net, "x", dt, 4, xd, &x) == KILN_OK);
        CHECK(kiln_network_add_constant(net, dt, 4, wd, dt == KILN_DOUBLE ? (void *)wdata64 : (void *)wdata32, &w) ==
              KILN_OK);
        kiln_conv_desc d = {.n_spatial = 2, .out_channels = 8, .kernel = {3, 3}, .pads_begin = {1, 1},
                            .pads_end = {1, 1}};
        CHECK(kiln_network_add_conv(net, x, w, -1, &d, &y) == KILN_OK);
        rank = 4;
    }
    CHECK(kiln_network_mark_output(net, y, "y") == KILN_OK);
    CHECK(kiln_config_create(b, &cfg) == KILN_OK && kiln_config_set_backend(cfg, KILN_BACKEND_CPU) == KILN_OK);
    CHECK(kiln_config_set_workspace(cfg, limit) == KILN_OK);
    if (max) {
        int64_t lo[4] = {1, 4, 1, 1}, lo2[2] = {1, 64};
        CHECK(kiln_profile_create(b, &prof) == KILN_OK);
        CHECK(kiln_profile_set_shape(prof, "x", KILN_PROFILE_MIN, rank, rank == 2 ? lo2 : lo) == KILN_OK);
        CHECK(kiln_profile_set_shape(prof, "x", KILN_PROFILE_OPT, rank, max) == KILN_OK);
        CHECK(kiln_profile_set_shape(prof, "x", KILN_PROFILE_MAX, rank, max) == KILN_OK);
        CHECK(kiln_config_add_profile(cfg, prof) == KILN_OK);
    }
    warnings[0] = 0;
    kiln_status s = kiln_build_serialized(b, net, cfg, &out);
    snprintf(msg, cap, "%s", s == KILN_OK ? "" : kiln_last_error(b));
    if (blob)
        *blob = out;
    else
        kiln_blob_destroy(out);
    kiln_profile_destroy(prof);
    kiln_config_destroy(cfg);
    kiln_network_destroy(net);
    kiln_builder_destroy(b);
    return s;
}

static void conv_f64(void) {
    char msg[1024], want[256];
    int64_t big[4] = {1, 4, 32, 32}, small[4] = {1, 4, 16, 16};
    /* 4 channels x 9 taps x 32*32 outputs x 8 bytes = 294912 */
    kiln_status s = build(CONV_F64, big, 100000, msg, sizeof msg, NULL);
    CHECK(s == KILN_ERR_OUT_OF_MEMORY);
    snprintf(want, sizeof want, "needs %d bytes of CPU workspace (im2col columns)", 294912);
    CHECK(strstr(msg, want) != NULL);
    CHECK(strstr(msg, "Conv)") != NULL && strstr(msg, "node 0") != NULL);
    CHECK(strstr(msg, "workspace limit of 100000 bytes") != NULL);
    CHECK(strstr(msg, "optimization profile 0 (x [1,4,32,32])") != NULL);
    fprintf(stderr, "too small: %s\n", msg);
    /* exactly enough, and a smaller profile under the same limit, build */
    CHECK(build(CONV_F64, big, 294912, msg, sizeof msg, NULL) == KILN_OK);
    CHECK(build(CONV_F64, big, 294911, msg, sizeof msg, NULL) == KILN_ERR_OUT_OF_MEMORY);
    kiln_blob *blob = NULL;
    CHECK(build(CONV_F64, small, 100000, msg, sizeof msg, &blob) == KILN_OK && blob); /* 73728 bytes */
    CHECK(warnings[0] == 0);
    /* the plan built under the limit runs at its profile's maximum */
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    kiln_context *ctx = NULL;
    static double x[4 * 16 * 16], y[8 * 16 * 16];
    for (int i = 0; i < 4 * 16 * 16; i++) x[i] = 1.0;
    CHECK(kiln_runtime_create(&robust_quiet, &rt) == KILN_OK);
    CHECK(blob && kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e) == KILN_OK);
    CHECK(e && kiln_context_create(e, &ctx) == KILN_OK);
    if (ctx) {
        CHECK(kiln_context_set_input_shape(ctx, "x", 4, small) == KILN_OK);
        CHECK(kiln_context_set_tensor_address(ctx, "x", x, sizeof x) == KILN_OK);
        CHECK(kiln_context_set_tensor_address(ctx, "y", y, sizeof y) == KILN_OK);
        CHECK(kiln_context_execute(ctx) == KILN_OK);
        /* an interior output sees all 4 x 9 taps of ones: sum of the weights of output channel 0 */
        double want0 = 0;
        for (int i = 0; i < 36; i++) want0 += (double)(float)((i % 7) * 0.125f);
        CHECK_NEAR(y[17], want0, 1e-12);
    }
    kiln_context_destroy(ctx);
    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
    kiln_blob_destroy(blob);
    /* limit 0: no limit */
    CHECK(build(CONV_F64, big, 0, msg, sizeof msg, NULL) == KILN_OK);
}

static void conv_f32(void) {
    char msg[1024];
    int64_t big[4] = {1, 4, 256, 256};
    /* implicit GEMM: no scratch that grows with the image, so even a 1-byte limit holds */
    CHECK(build(CONV_F32, big, 1, msg, sizeof msg, NULL) == KILN_OK);
    CHECK(warnings[0] == 0);
}

static void matmul_f16(void) {
    char msg[1024], want[256];
    int64_t max[2] = {128, 64};
    /* (128*64 + 64*32 + 128*32) * 4 = 57344 */
    CHECK(build(MATMUL_F16, max, 57343, msg, sizeof msg, NULL) == KILN_ERR_OUT_OF_MEMORY);
    snprintf(want, sizeof want, "MatMul) needs %d bytes of CPU workspace (float32 copies of the half-precision", 57344);
    CHECK(strstr(msg, want) != NULL && strstr(msg, "limit of 57343 bytes") != NULL);
    if (!strstr(msg, want)) fprintf(stderr, "matmul: %s\n", msg);
    CHECK(build(MATMUL_F16, max, 57344, msg, sizeof msg, NULL) == KILN_OK);
}

static void unbounded(void) {
    char msg[1024];
    /* no profile: the spatial dims are unbounded, so the double conv cannot be checked: a warning names it */
    CHECK(build(CONV_F64, NULL, 1000, msg, sizeof msg, NULL) == KILN_OK);
    CHECK(strstr(warnings, "workspace limit: the CPU scratch of 1 node (node 0 (") != NULL);
    CHECK(strstr(warnings, "Conv)) cannot be bounded") != NULL && strstr(warnings, "limit of 1000 bytes") != NULL);
    fprintf(stderr, "unbounded: %s", warnings);
}

int main(void) {
    conv_f64();
    conv_f32();
    matmul_f16();
    unbounded();
    return CHECK_DONE();
}
