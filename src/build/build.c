/* kiln_build_serialized: validate the network, resolve optimization profiles, run the passes on a private copy of
 * the graph, and write the plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "build/workspace.h"
#ifdef KILN_HAVE_CUDA
#include "backends/cuda/device.h"
#include "backends/cuda/lower-cuda.h"
#endif
#include "core/log.h"
#include "passes/fuse.h"
#include "shape/infer.h"
#include "passes/passes.h"
#include "runtime/exec.h"

/* Every node, in subgraphs too, must have a kernel on the chosen backend. `where` names the enclosing nodes. */
static kiln_status check_kernels(const kiln_graph *g, const char *where) {
    for (int i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = &g->nodes[i];
        if (!kiln_cpu_find_op(n->op_type, n->domain, n->opset))
            return kiln_error(KILN_ERR_UNSUPPORTED,
                              "%snode %d ('%s'): op %s (domain '%s', opset %d) has no CPU kernel in this build",
                              where, i, n->name, n->op_type, n->domain[0] ? n->domain : "ai.onnx", n->opset);
        for (int j = 0; j < n->n_attrs; j++) {
            const kiln_attr *a = &n->attrs[j];
            char sub[512];
            snprintf(sub, sizeof sub, "%snode %d ('%s', %s) attribute '%s': ", where, i, n->name, n->op_type,
                     a->name);
            if (a->g) KILN_TRY(check_kernels(a->g, sub));
            for (int k = 0; a->graphs && k < a->n; k++)
                if (a->graphs[k]) KILN_TRY(check_kernels(a->graphs[k], sub));
        }
    }
    return KILN_OK;
}

static kiln_status check_outputs(const kiln_graph *g) {
    KILN_FAIL_IF(g->n_outputs == 0, KILN_ERR_INVALID_GRAPH,
                 "the network has no outputs (mark at least one with kiln_network_mark_output)");
    for (int i = 0; i < g->n_outputs; i++) {
        const kiln_ir_value *v = &g->values[g->outputs[i]];
        KILN_FAIL_IF(v->producer < 0 && !v->init && !v->is_input, KILN_ERR_INVALID_GRAPH,
                     "graph output %d '%s' is not produced by any node, input or initializer", i, v->name);
    }
    return KILN_OK;
}

static int is_bindable_input(const kiln_ir_value *v) { return v->is_input && !v->init; }

static int has_dynamic_dim(const kiln_type *t) {
    if (t->kind != KILN_KIND_TENSOR || t->rank < 0) return 0;
    for (int d = 0; d < t->rank; d++)
        if (t->dims[d].v < 0) return 1;
    return 0;
}

/* A range accepting any size in the dynamic dims. */
static kiln_status unbounded_range(const kiln_ir_value *v, kiln_shape_range *r) {
    memset(r, 0, sizeof *r);
    r->input = strdup(v->name);
    KILN_FAIL_IF(!r->input, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    r->rank = v->type.rank;
    for (int d = 0; d < r->rank; d++) {
        int64_t fixed = v->type.dims[d].v;
        r->min[d] = fixed >= 0 ? fixed : 0;
        r->opt[d] = fixed >= 0 ? fixed : 1;
        r->max[d] = fixed >= 0 ? fixed : INT64_MAX;
    }
    return KILN_OK;
}

static kiln_status append_range(kiln_profile_data *p, const kiln_shape_range *r) {
    kiln_shape_range *nr = realloc(p->ranges, sizeof *nr * (size_t)(p->n + 1));
    if (!nr) {
        free(r->input);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    p->ranges = nr;
    p->ranges[p->n++] = *r;
    return KILN_OK;
}

static kiln_status check_range(const kiln_graph *g, int pi, const kiln_shape_range *r) {
    int id = kiln_graph_find_value(g, r->input);
    KILN_FAIL_IF(id < 0 || !is_bindable_input(&g->values[id]), KILN_ERR_INVALID_ARGUMENT,
                 "optimization profile %d gives shapes for '%s', which is not an input of the network", pi, r->input);
    const kiln_type *t = &g->values[id].type;
    KILN_FAIL_IF(t->kind != KILN_KIND_TENSOR, KILN_ERR_INVALID_ARGUMENT,
                 "optimization profile %d gives shapes for '%s', which is not a tensor input", pi, r->input);
    if (t->rank < 0) return KILN_OK;
    KILN_FAIL_IF(t->rank != r->rank, KILN_ERR_SHAPE,
                 "optimization profile %d: input '%s' has rank %d in the profile but rank %d in the network", pi,
                 r->input, r->rank, t->rank);
    for (int d = 0; d < r->rank; d++) {
        KILN_FAIL_IF(r->min[d] > r->opt[d] || r->opt[d] > r->max[d], KILN_ERR_SHAPE,
                     "optimization profile %d: input '%s' dim %d has min %lld > opt %lld or opt > max %lld", pi,
                     r->input, d, (long long)r->min[d], (long long)r->opt[d], (long long)r->max[d]);
        int64_t fixed = t->dims[d].v;
        KILN_FAIL_IF(fixed >= 0 && (r->min[d] != fixed || r->max[d] != fixed || r->opt[d] != fixed), KILN_ERR_SHAPE,
                     "optimization profile %d: input '%s' dim %d is fixed to %lld by the network, but the profile "
                     "gives min %lld, opt %lld, max %lld",
                     pi, r->input, d, (long long)fixed, (long long)r->min[d], (long long)r->opt[d],
                     (long long)r->max[d]);
    }
    return KILN_OK;
}

/* The config's profiles, checked against the network and completed with unbounded ranges for dynamic inputs they
 * do not mention (with a warning: unbounded ranges give the optimizer nothing to tune for). */
static kiln_status resolve_profiles(const kiln_graph *g, const kiln_config *c, const kiln_logger *lg,
                                    kiln_profile_data **out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    int n_dynamic = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        const kiln_ir_value *v = &g->values[g->inputs[i]];
        n_dynamic += is_bindable_input(v) && has_dynamic_dim(&v->type);
    }
    int np = c ? c->n_profiles : 0;
    if (np == 0 && n_dynamic == 0) return KILN_OK;
    int n_alloc = np ? np : 1;
    kiln_profile_data *ps = calloc((size_t)n_alloc, sizeof *ps);
    KILN_FAIL_IF(!ps, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = KILN_OK;
    for (int p = 0; p < n_alloc && st == KILN_OK; p++) {
        if (np) {
            st = kiln_profile_data_copy(&ps[p], &c->profiles[p]);
            for (int i = 0; i < ps[p].n && st == KILN_OK; i++) st = check_range(g, p, &ps[p].ranges[i]);
        }
        for (int i = 0; i < g->n_inputs && st == KILN_OK; i++) {
            const kiln_ir_value *v = &g->values[g->inputs[i]];
            if (!is_bindable_input(v) || !has_dynamic_dim(&v->type) || kiln_profile_data_find(&ps[p], v->name))
                continue;
            if (np)
                kiln_log(lg, KILN_SEV_WARNING,
                         "input '%s' has dynamic dims but optimization profile %d gives no shapes for it: "
                         "using an unbounded range",
                         v->name, p);
            else
                kiln_log(lg, KILN_SEV_WARNING,
                         "input '%s' has dynamic dims and no optimization profile was given: using an unbounded "
                         "range (add one with kiln_config_add_profile)",
                         v->name);
            kiln_shape_range r;
            st = unbounded_range(v, &r);
            if (st == KILN_OK) st = append_range(&ps[p], &r);
        }
    }
    if (st != KILN_OK) {
        for (int p = 0; p < n_alloc; p++) kiln_profile_data_free(&ps[p]);
        free(ps);
        return st;
    }
    *out = ps;
    *n_out = n_alloc;
    return KILN_OK;
}

static kiln_status resolve_backend(const kiln_config *c, const kiln_logger *lg, kiln_backend *out) {
    kiln_backend want = c ? c->backend : KILN_BACKEND_AUTO;
#ifdef KILN_HAVE_CUDA
    if (want == KILN_BACKEND_AUTO) want = kiln_cuda_device_count() > 0 ? KILN_BACKEND_CUDA : KILN_BACKEND_CPU;
    KILN_FAIL_IF(want == KILN_BACKEND_CUDA && kiln_cuda_device_count() == 0, KILN_ERR_DEVICE,
                 "a CUDA plan was requested but this machine has no usable CUDA device (build for the CPU instead)");
#else
    if (want == KILN_BACKEND_AUTO) want = KILN_BACKEND_CPU;
    KILN_FAIL_IF(want == KILN_BACKEND_CUDA, KILN_ERR_UNSUPPORTED,
                 "CUDA backend not built (kiln was built without CUDA)");
#endif
    if (c && c->flags)
        kiln_log(lg, KILN_SEV_INFO, "precision flags 0x%x are recorded in the plan; the CPU backend runs the model's "
                 "own precision", c->flags);
    *out = want;
    return KILN_OK;
}

static void weight_stats(const kiln_graph *g, int *n_init, size_t *bytes) {
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].init) {
            (*n_init)++;
            *bytes += kiln_tensor_nbytes(g->values[i].init);
        }
}

static kiln_status build(kiln_builder *b, kiln_network *n, const kiln_config *c, kiln_blob **out) {
    const kiln_logger *lg = &b->logger;
    kiln_plan_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.backend = KILN_BACKEND_CPU;
    meta.build_flags = c ? c->flags : 0;
    meta.opt_level = c ? (uint32_t)c->opt_level : 3;
    KILN_TRY(resolve_backend(c, lg, &meta.backend));

    kiln_graph *g = NULL;
    kiln_profile_data *profiles = NULL;
    int n_profiles = 0;
    uint8_t *bytes = NULL;
    size_t size = 0;
    kiln_status st = kiln_graph_clone(n->graph, NULL, &g);
    if (st == KILN_OK && g->n_opsets == 0 && g->n_nodes > 0)
        st = kiln_error(KILN_ERR_INVALID_GRAPH, "the network imports no opset");
    if (st == KILN_OK && (st = kiln_graph_toposort(g)) != KILN_OK) kiln_error_wrap(st, "invalid network");
    if (st == KILN_OK) st = check_outputs(g);
    if (st == KILN_OK) st = check_kernels(g, "");
    if (st == KILN_OK) st = resolve_profiles(g, c, lg, &profiles, &n_profiles);
    int nodes_before = g ? g->n_nodes : 0;
    if (st == KILN_OK && meta.opt_level >= 1) {
        int folded = 0, dead_nodes = 0, dead_inits = 0, fused = 0;
        if (kiln_pass_enabled("fold-constants")) st = kiln_pass_fold_constants(g, lg, &folded);
        if (st == KILN_OK && kiln_pass_enabled("fuse-conv-bn")) st = kiln_pass_fuse_conv_bn(g, lg, &fused);
        if (st == KILN_OK && kiln_pass_enabled("fuse-gemm")) st = kiln_pass_fuse_gemm(g, lg, &fused);
        if (st == KILN_OK && kiln_pass_enabled("fuse-gelu")) st = kiln_pass_fuse_gelu(g, lg, &fused);
        if (st == KILN_OK && kiln_pass_enabled("dce")) st = kiln_pass_dce(g, lg, &dead_nodes, &dead_inits);
    }
    if (st == KILN_OK && kiln_infer_shapes(g) != KILN_OK) {
        /* types and shapes feed placement and the I/O report; a contradiction the kernels would also meet at run
         * time is reported now, and the build goes on with what was inferred */
        kiln_log(lg, KILN_SEV_WARNING, "shape inference: %s", kiln_error_text());
    }
    if (st == KILN_OK && c && c->workspace && meta.backend == KILN_BACKEND_CPU)
        st = kiln_check_workspace(g, profiles, n_profiles, c->workspace, lg);
    if (st == KILN_OK) { /* compile once so attribute errors surface now rather than at load */
        kiln_program *p = NULL;
        st = kiln_program_create(g, &p);
        kiln_program_destroy(p);
    }
#ifdef KILN_HAVE_CUDA
    if (st == KILN_OK && meta.backend == KILN_BACKEND_CUDA)
        st = kiln_cuda_lower(g, profiles, n_profiles, c ? c->workspace : 0, lg, &meta);
#endif
    if (st == KILN_OK) st = kiln_plan_write(g, &meta, profiles, n_profiles, &bytes, &size);
    if (st == KILN_OK) {
        int n_init = 0;
        size_t wbytes = 0;
        weight_stats(g, &n_init, &wbytes);
        kiln_log(lg, KILN_SEV_INFO,
                 "built %s plan: %d nodes (%d before optimization), %d initializers (%zu bytes), %d profile%s, "
                 "%zu bytes",
                 kiln_backend_name(meta.backend), g->n_nodes, nodes_before, n_init, wbytes, n_profiles,
                 n_profiles == 1 ? "" : "s", size);
        st = kiln_blob_wrap(bytes, size, out);
    }
    for (int i = 0; i < n_profiles; i++) kiln_profile_data_free(&profiles[i]);
    free(profiles);
    kiln_graph_destroy(g);
    return st;
}

kiln_status kiln_build_serialized(kiln_builder *b, kiln_network *n, const kiln_config *c, kiln_blob **out) {
    KILN_CHECK_HANDLE(b, KILN_MAGIC_BUILDER, "builder");
    kiln_status st = kiln_handle_check(n, KILN_MAGIC_NETWORK, "network");
    if (st == KILN_OK && c) st = kiln_handle_check(c, KILN_MAGIC_CONFIG, "config");
    if (st == KILN_OK && !out) st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_build_serialized: out is NULL");
    if (st != KILN_OK) return kiln_build_fail(b, b, st);
    *out = NULL;
    st = build(b, n, c, out);
    if (st != KILN_OK) {
        kiln_error_wrap(st, "build failed");
        kiln_handle_fail(n, st);
        return kiln_build_fail(b, b, st);
    }
    return KILN_OK;
}
