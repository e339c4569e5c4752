#include "backends/cuda/lower-cuda.h"

#include <stdio.h>
#include <string.h>

#include "backends/cuda/device.h"
#include "backends/cuda/exec-cuda.h"
#include "core/log.h"
#include "core/status.h"

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

kiln_status kiln_cuda_lower(const kiln_graph *g, const kiln_profile_data *profiles, int n_profiles,
                            const kiln_logger *lg, kiln_plan_meta *meta) {
    kiln_cuda_device_info info;
    KILN_TRY(kiln_cuda_device_query(-1, &info));
    to_record(&info, &meta->device);
    meta->has_device = 1;
    char desc[512];
    kiln_log(lg, KILN_SEV_INFO, "CUDA plan for %s", kiln_cuda_device_describe(&info, desc, sizeof desc));
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
    kiln_status st = kiln_cuda_program_plan_memory(p, profiles, n_profiles, lg);
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
