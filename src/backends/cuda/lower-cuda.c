#include "backends/cuda/lower-cuda.h"

#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/cuda/device.h"
#include "backends/cuda/exec-cuda.h"
#include "backends/cuda/mem-plan.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/fuse.h"

static void to_record(const kiln_cuda_device_info *d, kiln_plan_device *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", d->name);
    r->cc_major = (uint32_t)d->cc_major;
    r->cc_minor = (uint32_t)d->cc_minor;
    memcpy(r->uuid, d->uuid, 16);
    r->cuda_runtime_version = (uint32_t)d->cuda_runtime_version;
    r->cuda_driver_version = (uint32_t)d->cuda_driver_version;
    r->cudnn_version = (uint32_t)d->cudnn_version;
    r->cublaslt_version = (uint32_t)d->cublaslt_version;
}

static void from_record(const kiln_plan_device *r, kiln_cuda_device_info *d) {
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", r->name);
    d->cc_major = (int)r->cc_major;
    d->cc_minor = (int)r->cc_minor;
    memcpy(d->uuid, r->uuid, 16);
    d->cuda_runtime_version = (int)r->cuda_runtime_version;
    d->cuda_driver_version = (int)r->cuda_driver_version;
    d->cudnn_version = (int)r->cudnn_version;
    d->cublaslt_version = (int)r->cublaslt_version;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Tactic attributes come from this builder only: whatever a model carries under those names is dropped. */
static kiln_status drop_annotations(kiln_graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        KILN_TRY(kiln_graph_node_set_ints(g, i, KILN_CUDA_ATTR_TACTIC, NULL, -1));
        KILN_TRY(kiln_graph_node_set_ints(g, i, KILN_CUDA_ATTR_WORKSPACE, NULL, -1));
    }
    return KILN_OK;
}

/* Handles for the tune hooks, made only when a node has one. */
typedef struct tune_handles {
    cudnnHandle_t dnn;
    cudaStream_t stream;
    void *flush;
    size_t flush_bytes;
} tune_handles;

static kiln_status handles_open(tune_handles *h) {
    KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&h->stream, cudaStreamNonBlocking));
    KILN_CUDA_CHECK(cudnnCreate(&h->dnn));
    KILN_CUDA_CHECK(cudnnSetStream(h->dnn, h->stream));
    /* In a run each layer's weights come from device memory, read once: timings with them in the L2 cache favour
     * algorithms that read them many times. */
    int dev = 0, l2 = 0;
    if (cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev) == cudaSuccess &&
        l2 > 0 && cudaMalloc(&h->flush, 2 * (size_t)l2) == cudaSuccess)
        h->flush_bytes = 2 * (size_t)l2;
    else
        h->flush = NULL, cudaGetLastError();
    return KILN_OK;
}

static void handles_close(tune_handles *h) {
    if (h->flush) cudaFree(h->flush);
    if (h->dnn) cudnnDestroy(h->dnn);
    if (h->stream) cudaStreamDestroy(h->stream);
}

/* Kernel auto-tuning and the workspace limit: every device node with a tune hook chooses its tactic within the
 * limit (timed at the first profile's opt shapes), then every node's scratch at the profiles' max shapes is checked
 * against the limit. */
static kiln_status tune_nodes(kiln_graph *g, const kiln_cuda_program *p, const kiln_profile_data *profiles,
                              int n_profiles, size_t limit, const kiln_logger *lg) {
    kiln_type *opt = calloc((size_t)g->n_values + 1, sizeof *opt), *max = calloc((size_t)g->n_values + 1, sizeof *max);
    tune_handles h;
    memset(&h, 0, sizeof h);
    kiln_status st = opt && max ? KILN_OK : kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    int have_max = st == KILN_OK && kiln_cuda_profile_types(g, profiles, n_profiles, 0, max) == KILN_OK;
    if (st == KILN_OK && !have_max)
        kiln_log(lg, KILN_SEV_WARNING, "tactics: shapes at the profile maxima could not be inferred (%s); kernels "
                 "keep cuDNN's untimed choice%s", kiln_error_text(), limit ? " and the workspace limit cannot be "
                 "checked" : "");
    int have_opt = have_max && kiln_cuda_profile_types(g, profiles, n_profiles, 1, opt) == KILN_OK;
    if (have_max && !have_opt) memcpy(opt, max, sizeof *opt * (size_t)g->n_values);
    int want = 0;
    for (int i = 0; have_max && i < g->n_nodes; i++) {
        const kiln_cuda_op_def *d = kiln_cuda_program_op(p, i);
        if (d && d->tune) want = 1;
    }
    if (st == KILN_OK && want) st = handles_open(&h);
    kiln_cuda_tune_env env = {limit, h.dnn, h.stream, kiln_pass_enabled("tactics"), h.flush, h.flush_bytes};
    int n_tuned = 0;
    double t0 = now_ms();
    for (int i = 0; st == KILN_OK && want && i < g->n_nodes; i++) {
        const kiln_cuda_op_def *d = kiln_cuda_program_op(p, i);
        if (!d || !d->tune) continue;
        char choice[512];
        st = d->tune(g, i, opt, max, &env, choice, sizeof choice);
        kiln_attr_mismatch(NULL, 0);
        const kiln_node *n = &g->nodes[i];
        if (st != KILN_OK) {
            kiln_error_wrap(st, "node %d ('%s', %s)", i, n->name, n->op_type);
        } else if (choice[0]) {
            n_tuned++;
            kiln_log(lg, KILN_SEV_VERBOSE, "tactic: node %d ('%s', %s): %s", i, n->name, n->op_type, choice);
        }
    }
    if (st == KILN_OK && want)
        kiln_log(lg, KILN_SEV_INFO, "tactics: %d node%s tuned on the GPU in %.0f ms%s", n_tuned,
                 n_tuned == 1 ? "" : "s", now_ms() - t0, env.timed ? "" : " (untimed: KILN_PASSES_OFF=tactics)");
    /* the limit: every kernel's scratch at the maxima, with the tactics just chosen */
    size_t most = 0;
    int most_node = -1, n_unknown = 0;
    for (int i = 0; st == KILN_OK && have_max && i < g->n_nodes; i++) {
        const kiln_cuda_op_def *d = kiln_cuda_program_op(p, i);
        if (!d || !d->scratch) continue;
        const kiln_node *n = &g->nodes[i];
        const char *what = "";
        int known = 1;
        size_t need = d->scratch(n, g, max, &what, &known);
        kiln_attr_mismatch(NULL, 0);
        if (!known) {
            n_unknown++;
            continue;
        }
        if (need > most) most = need, most_node = i;
        if (limit && need > limit)
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "node %d ('%s', %s) needs %zu bytes of GPU scratch (%s) at the "
                            "maximum shapes, more than the workspace limit of %zu bytes (kiln_config_set_workspace)",
                            i, n->name, n->op_type, need, what, limit);
    }
    if (st == KILN_OK && most_node >= 0)
        kiln_log(lg, KILN_SEV_INFO, "kernel scratch: %zu bytes at the maximum shapes (largest: node %d ('%s', %s))%s",
                 most, most_node, g->nodes[most_node].name, g->nodes[most_node].op_type,
                 limit ? "" : "; no workspace limit set");
    if (st == KILN_OK && limit && n_unknown)
        kiln_log(lg, KILN_SEV_WARNING, "workspace limit: the GPU scratch of %d node%s cannot be bounded (unknown "
                 "shapes); the limit is not guaranteed for them", n_unknown, n_unknown == 1 ? "" : "s");
    handles_close(&h);
    free(opt);
    free(max);
    return st;
}

kiln_status kiln_cuda_lower(kiln_graph *g, const kiln_profile_data *profiles, int n_profiles, size_t workspace,
                            const kiln_logger *lg, kiln_plan_meta *meta) {
    kiln_cuda_device_info info;
    KILN_TRY(kiln_cuda_device_query(-1, &info));
    to_record(&info, &meta->device);
    meta->has_device = 1;
    char desc[512];
    kiln_log(lg, KILN_SEV_INFO, "CUDA plan for %s", kiln_cuda_device_describe(&info, desc, sizeof desc));
    KILN_TRY(drop_annotations(g));
    kiln_cuda_program *p = NULL;
    KILN_TRY(kiln_cuda_program_create(g, 0, &p));
    int n_dev = 0, n_fallback = 0, n_shape = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const char *why = NULL;
        kiln_cuda_place pl = kiln_cuda_program_place(p, i, &why);
        const kiln_node *n = &g->nodes[i];
        if (pl == KILN_PLACE_DEVICE) {
            n_dev++;
        } else if (pl == KILN_PLACE_META || (why && strstr(why, "shape computation"))) {
            n_shape++;
            kiln_log(lg, KILN_SEV_VERBOSE, "node %d ('%s', %s) runs on the host: %s", i, n->name, n->op_type,
                     why ? why : "reads only shapes");
        } else {
            n_fallback++;
            kiln_log(lg, KILN_SEV_WARNING, "node %d ('%s', %s) falls back to the CPU: %s", i, n->name, n->op_type,
                     why ? why : "");
        }
    }
    kiln_log(lg, KILN_SEV_INFO, "placement: %d nodes on the GPU, %d shape computations on the host, %d CPU "
             "fallbacks", n_dev, n_shape, n_fallback);
    kiln_status st = tune_nodes(g, p, profiles, n_profiles, workspace, lg);
    if (st == KILN_OK) st = kiln_cuda_program_plan_memory(p, profiles, n_profiles, lg);
    kiln_cuda_program_destroy(p);
    return st;
}

kiln_status kiln_cuda_check_plan_device(const kiln_plan_device *recorded) {
    kiln_cuda_device_info here, plan;
    KILN_FAIL_IF(kiln_cuda_device_count() == 0, KILN_ERR_INCOMPATIBLE_PLAN,
                 "incompatible plan: built for CUDA on %s, and this machine has no usable CUDA device", recorded->name);
    KILN_TRY(kiln_cuda_device_query(-1, &here));
    from_record(recorded, &plan);
    return kiln_cuda_device_check(&plan, &here);
}
