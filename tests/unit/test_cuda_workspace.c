/* The workspace limit and the tactics of CUDA engines (needs a GPU; exit 77 = skip without one): the builder times
 * cuDNN's algorithms for each convolution and records the choice in the plan; under kiln_config_set_workspace every
 * node's scratch at the profile's max shapes fits the limit (the engine reserves no more), a node that cannot fit
 * fails the build with the node and the numbers, and engines built under a limit compute what the CPU backend does
 * with no device allocation in warm runs. */
#ifdef KILN_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backends/cuda/cuda_op.h"
#include "backends/cuda/exec-cuda-impl.h"
#include "check.h"
#include "kiln.h"
#include "plan/plan.h"

#define C_IN 4
#define HW 16
#define MAXB 8
#define N_OUT 10

static char g_log[16384];
static void grab(void *user, kiln_severity sev, const char *msg) {
    (void)user;
    if (sev <= KILN_SEV_VERBOSE && strlen(g_log) + strlen(msg) + 2 < sizeof g_log)
        strcat(g_log, msg), strcat(g_log, "\n");
}

static float rnd(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* x [N, 4, 16, 16] (N in 1..8, opt 4) -> Conv 3x3 (8 channels; pads 1 all round, or asymmetric 0 / 1) -> Relu ->
 * Reshape [0, -1] -> MatMul -> y [N, 10]. */
static kiln_status build(kiln_backend backend, int asym, size_t limit, kiln_blob **blob) {
    static float w[8 * C_IN * 9], bias[8], fc[8 * HW * HW * N_OUT];
    unsigned seed = 5;
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) w[i] = rnd(&seed);
    for (size_t i = 0; i < sizeof bias / sizeof bias[0]; i++) bias[i] = rnd(&seed);
    for (size_t i = 0; i < sizeof fc / sizeof fc[0]; i++) fc[i] = rnd(&seed) * 0.1f;
    int64_t side = asym ? HW - 1 : HW; /* (16 + 0 + 1 - 3) + 1 */
    int64_t xd[4] = {-1, C_IN, HW, HW}, wd[4] = {8, C_IN, 3, 3}, bd[1] = {8}, fd[2] = {8 * side * side, N_OUT},
            rs[2] = {0, -1};
    kiln_conv_desc cd;
    memset(&cd, 0, sizeof cd);
    cd.n_spatial = 2, cd.out_channels = 8, cd.kernel[0] = cd.kernel[1] = 3;
    cd.pads_begin[0] = cd.pads_begin[1] = asym ? 0 : 1;
    cd.pads_end[0] = cd.pads_end[1] = 1;
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_config *cfg = NULL;
    kiln_profile *p = NULL;
    kiln_logger lg = {grab, NULL};
    int x, tw, tb, conv, relu, flat, tfc, mm;
    kiln_status st = kiln_builder_create(&lg, &b);
    if (st == KILN_OK) st = kiln_network_create(b, &n);
    if (st == KILN_OK) st = kiln_network_add_input(n, "x", KILN_FLOAT, 4, xd, &x);
    if (st == KILN_OK) st = kiln_network_add_constant(n, KILN_FLOAT, 4, wd, w, &tw);
    if (st == KILN_OK) st = kiln_network_add_constant(n, KILN_FLOAT, 1, bd, bias, &tb);
    if (st == KILN_OK) st = kiln_network_add_conv(n, x, tw, tb, &cd, &conv);
    if (st == KILN_OK) st = kiln_network_add_activation(n, KILN_ACT_RELU, conv, 0, 0, &relu);
    if (st == KILN_OK) st = kiln_network_add_reshape(n, relu, 2, rs, &flat);
    if (st == KILN_OK) st = kiln_network_add_constant(n, KILN_FLOAT, 2, fd, fc, &tfc);
    if (st == KILN_OK) st = kiln_network_add_matmul(n, flat, tfc, &mm);
    if (st == KILN_OK) st = kiln_network_mark_output(n, mm, "y");
    if (st == KILN_OK) st = kiln_config_create(b, &cfg);
    if (st == KILN_OK) st = kiln_config_set_backend(cfg, backend);
    if (st == KILN_OK && limit) st = kiln_config_set_workspace(cfg, limit);
    if (st == KILN_OK) st = kiln_profile_create(b, &p);
    int64_t mn[4] = {1, C_IN, HW, HW}, op[4] = {4, C_IN, HW, HW}, mx[4] = {MAXB, C_IN, HW, HW};
    if (st == KILN_OK) st = kiln_profile_set_shape(p, "x", KILN_PROFILE_MIN, 4, mn);
    if (st == KILN_OK) st = kiln_profile_set_shape(p, "x", KILN_PROFILE_OPT, 4, op);
    if (st == KILN_OK) st = kiln_profile_set_shape(p, "x", KILN_PROFILE_MAX, 4, mx);
    if (st == KILN_OK) st = kiln_config_add_profile(cfg, p);
    g_log[0] = 0;
    if (st == KILN_OK) st = kiln_build_serialized(b, n, cfg, blob);
    kiln_profile_destroy(p);
    kiln_config_destroy(cfg);
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
    return st;
}

static const kiln_node *node_of(const kiln_graph *g, const char *op) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].op_type, op)) return &g->nodes[i];
    return NULL;
}

/* What the plan records: the Conv's tactic and the MatMul's workspace cap, and the scratch the engine reserves. */
static void check_plan(const kiln_blob *blob, size_t limit, const char *label) {
    kiln_plan plan;
    CHECK(kiln_plan_read(kiln_blob_data(blob), kiln_blob_size(blob), &plan) == KILN_OK);
    const kiln_node *conv = node_of(plan.graph, "Conv"), *mm = node_of(plan.graph, "MatMul");
    CHECK(conv && mm);
    if (!conv || !mm) return;
    int nt = 0, nw = 0;
    const int64_t *t = kiln_attr_ints(conv, KILN_CUDA_ATTR_TACTIC, &nt);
    const int64_t *w = kiln_attr_ints(mm, KILN_CUDA_ATTR_WORKSPACE, &nw);
    CHECK(t && nt == 3);
    if (t && nt == 3) {
        printf("%s: conv tactic algorithm %lld, math %lld, workspace %lld bytes\n", label, (long long)t[0],
               (long long)t[1], (long long)t[2]);
        CHECK(t[0] >= 0 && t[2] >= 0);
        if (limit) CHECK((size_t)t[2] + 256 <= limit);
    }
    if (limit && limit < ((size_t)32 << 20)) CHECK(w && nw == 1 && (size_t)w[0] == limit);
    else CHECK(!w);
    kiln_cuda_program *p = NULL;
    CHECK(kiln_cuda_program_create(plan.graph, 0, &p) == KILN_OK);
    if (p) {
        CHECK(kiln_cuda_program_plan_memory(p, plan.profiles, plan.n_profiles, NULL) == KILN_OK);
        printf("%s: arena %zu bytes, scratch %zu bytes (limit %zu)\n", label, p->mem.arena_size, p->mem.scratch_size,
               limit);
        CHECK(p->mem.scratch_size > 0);
        if (limit) CHECK(p->mem.scratch_size <= limit);
        kiln_cuda_program_destroy(p);
    }
    kiln_plan_release(&plan);
}

/* Runs blob at batch b on input x (host) into y (host). */
static kiln_status run(kiln_runtime *rt, const kiln_blob *blob, int on_gpu, int b, const float *x, float *y) {
    kiln_engine *e = NULL;
    kiln_context *c = NULL;
    void *xd = NULL, *yd = NULL;
    size_t xb = (size_t)b * C_IN * HW * HW * 4, yb = (size_t)b * N_OUT * 4;
    int64_t dims[4] = {b, C_IN, HW, HW};
    kiln_status st = kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e);
    if (st == KILN_OK) st = kiln_context_create(e, &c);
    if (st == KILN_OK && on_gpu && (cudaMalloc(&xd, xb) != cudaSuccess || cudaMalloc(&yd, yb) != cudaSuccess))
        st = KILN_ERR_DEVICE;
    if (st == KILN_OK && on_gpu && cudaMemcpy(xd, x, xb, cudaMemcpyHostToDevice) != cudaSuccess) st = KILN_ERR_DEVICE;
    if (st == KILN_OK) st = kiln_context_set_input_shape(c, "x", 4, dims);
    if (st == KILN_OK) st = kiln_context_set_tensor_address(c, "x", on_gpu ? xd : (void *)x, xb);
    if (st == KILN_OK) st = kiln_context_set_tensor_address(c, "y", on_gpu ? yd : (void *)y, yb);
    if (st == KILN_OK) st = kiln_context_enqueue(c, NULL);
    unsigned long long allocs = kiln_cuda_malloc_count();
    for (int rep = 0; st == KILN_OK && on_gpu && rep < 3; rep++) st = kiln_context_enqueue(c, NULL); /* warm */
    if (st == KILN_OK && on_gpu) {
        CHECK(kiln_cuda_malloc_count() == allocs);
        if (cudaMemcpy(y, yd, yb, cudaMemcpyDeviceToHost) != cudaSuccess) st = KILN_ERR_DEVICE;
    }
    if (xd) cudaFree(xd);
    if (yd) cudaFree(yd);
    kiln_context_destroy(c);
    kiln_engine_destroy(e);
    return st;
}

/* The GPU engine of `gpu` against the CPU engine of the same network at batches 8 and 3. */
static void check_outputs(kiln_runtime *rt, const kiln_blob *gpu, const kiln_blob *cpu, const char *label) {
    static float x[MAXB * C_IN * HW * HW], yg[MAXB * N_OUT], yc[MAXB * N_OUT];
    unsigned seed = 17;
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = rnd(&seed) * 4;
    const int batches[2] = {MAXB, 3};
    for (int k = 0; k < 2; k++) {
        int b = batches[k];
        CHECK(run(rt, gpu, 1, b, x, yg) == KILN_OK);
        CHECK(run(rt, cpu, 0, b, x, yc) == KILN_OK);
        double worst = 0, scale = 0;
        for (int i = 0; i < b * N_OUT; i++) {
            double d = fabs((double)yg[i] - (double)yc[i]);
            if (d > worst) worst = d;
            if (fabs(yc[i]) > scale) scale = fabs(yc[i]);
        }
        printf("%s: batch %d, max |GPU - CPU| %.3g (outputs up to %.3g)\n", label, b, worst, scale);
        CHECK(worst <= 1e-4 * (scale > 1 ? scale : 1));
    }
}

static void test_limits(kiln_runtime *rt) {
    for (int asym = 0; asym < 2; asym++) {
        kiln_blob *cpu = NULL;
        CHECK(build(KILN_BACKEND_CPU, asym, 0, &cpu) == KILN_OK);
        /* no limit, a roomy one, and one just above the padded copy (8 x 4 x 17 x 17 floats = 36,992 bytes) */
        const size_t limits[3] = {0, (size_t)1 << 20, 40 * 1024};
        for (int l = 0; l < 3 && cpu; l++) {
            char label[96];
            snprintf(label, sizeof label, "%s pads, limit %zu", asym ? "asymmetric" : "symmetric", limits[l]);
            kiln_blob *gpu = NULL;
            kiln_status st = build(KILN_BACKEND_CUDA, asym, limits[l], &gpu);
            CHECK(st == KILN_OK);
            if (st != KILN_OK) {
                fprintf(stderr, "%s: %s\n", label, kiln_last_error(NULL));
                continue;
            }
            CHECK(strstr(g_log, "tactic: node") != NULL);
            if (l == 0) {
                const char *t = strstr(g_log, "tactic: node");
                printf("%.*s\n", (int)(strchr(t, '\n') ? strchr(t, '\n') - t : 200), t);
            }
            check_plan(gpu, limits[l], label);
            check_outputs(rt, gpu, cpu, label);
            kiln_blob_destroy(gpu);
        }
        kiln_blob_destroy(cpu);
    }
}

/* Too small: the asymmetric Conv's padded copy alone exceeds 16 KiB; the symmetric one fits with a zero-workspace
 * algorithm, and a limit below even that fails naming the node. */
static void test_too_small(void) {
    kiln_blob *blob = NULL;
    kiln_status st = build(KILN_BACKEND_CUDA, 1, 16 * 1024, &blob);
    const char *msg = kiln_last_error(NULL);
    printf("asymmetric pads, limit 16384: %s\n", st == KILN_OK ? "built" : msg);
    CHECK(st == KILN_ERR_OUT_OF_MEMORY);
    CHECK(strstr(msg, "Conv") && strstr(msg, "workspace limit of 16384 bytes") && strstr(msg, "37376"));
    kiln_blob_destroy(blob);
    blob = NULL;
    st = build(KILN_BACKEND_CUDA, 0, 16 * 1024, &blob);
    CHECK(st == KILN_OK);
    if (blob) check_plan(blob, 16 * 1024, "symmetric pads, limit 16384");
    kiln_blob_destroy(blob);
    blob = NULL;
    st = build(KILN_BACKEND_CUDA, 0, 100, &blob);
    msg = kiln_last_error(NULL);
    printf("symmetric pads, limit 100: %s\n", st == KILN_OK ? "built" : msg);
    CHECK(st == KILN_ERR_OUT_OF_MEMORY && strstr(msg, "workspace limit of 100 bytes"));
    kiln_blob_destroy(blob);
}

int main(void) {
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        printf("skipped: no CUDA device\n");
        return 77;
    }
    kiln_runtime *rt = NULL;
    CHECK(kiln_runtime_create(NULL, &rt) == KILN_OK);
    test_limits(rt);
    test_too_small();
    kiln_runtime_destroy(rt);
    return CHECK_DONE();
}
#else
#include <stdio.h>

int main(void) {
    printf("skipped: this build has no CUDA backend\n");
    return 77;
}
#endif
