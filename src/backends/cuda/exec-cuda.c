/* The CUDA executor (model: cuda_op.h, API: exec-cuda.h).
 *
 * The host side of every value lives in a CPU execution state (kiln_exec), so host-placed nodes run the CPU
 * kernels unchanged, including control flow whose subgraphs refer to outer values by name. The device side of a
 * value is its slot in the context's arena (mem-plan.h), or, for values the plan could not bound or data larger than
 * the slot, a buffer grown on demand and kept across runs. Validity flags per run decide the copies: a device node
 * uploads host-only inputs, a host node downloads device-only inputs (synchronizing the stream: the builder reports
 * where that happens). */
#include "backends/cuda/exec-cuda-impl.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/cuda/mem-plan.h"
#include "core/dtype.h"
#include "core/log.h"
#include "core/status.h"



/* cudaMalloc calls made by executors (debug counter: tests check that warm runs allocate nothing). */
static _Atomic unsigned long long n_device_mallocs;

unsigned long long kiln_cuda_malloc_count(void) { return n_device_mallocs; }

/* cudaMalloc with the numbers in the error: what was asked, what the device has free. */
static kiln_status device_malloc(void **ptr, size_t bytes, const char *what) {
    n_device_mallocs++;
    cudaError_t rc = cudaMalloc(ptr, bytes ? bytes : 1);
    if (rc == cudaSuccess) return KILN_OK;
    *ptr = NULL;
    size_t free_b = 0, total = 0;
    cudaGetLastError();
    cudaMemGetInfo(&free_b, &total);
    return kiln_error(rc == cudaErrorMemoryAllocation ? KILN_ERR_OUT_OF_MEMORY : KILN_ERR_DEVICE,
                      "GPU out of memory for %s: %zu bytes requested, %zu of %zu bytes free (%s)", what, bytes, free_b,
                      total, cudaGetErrorString(rc));
}


/* ------------------------------------------------------------------------------------------ placement */

static int is_op(const kiln_node *n, const char *op) {
    return (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, op);
}

static int has_subgraph(const kiln_node *n) {
    for (int j = 0; j < n->n_attrs; j++)
        if (n->attrs[j].g || n->attrs[j].graphs) return 1;
    return 0;
}

/* Small integer initializers are shape arguments: they stay on the host. */
static int small_host_init(const kiln_ir_value *v) {
    if (!v->init) return 0;
    int64_t n = kiln_tensor_numel(v->init);
    return n >= 0 && n <= 64 && (v->init->dtype == KILN_INT64 || v->init->dtype == KILN_INT32);
}

static kiln_status set_why(kiln_cuda_program *p, int i, const char *fmt, const char *arg) {
    char buf[512];
    snprintf(buf, sizeof buf, fmt, arg);
    p->why[i] = strdup(buf);
    KILN_FAIL_IF(!p->why[i], KILN_ERR_OUT_OF_MEMORY, "out of memory");
    return KILN_OK;
}

/* Collects the root-graph values that subgraph `sg` (and its own subgraphs) read as outer-scope names: a host
 * node's subgraph sees them without them being node inputs, so they must be host-valid before it runs. */
static kiln_status collect_outer(kiln_cuda_program *p, int node, const kiln_graph *sg, int depth) {
    KILN_FAIL_IF(depth > 64, KILN_ERR_UNSUPPORTED, "subgraphs nested deeper than 64 levels");
    for (int v = 0; v < sg->n_values; v++) {
        if (!sg->values[v].is_outer) continue;
        int id = kiln_graph_find_value(p->g, sg->values[v].name);
        if (id < 0) continue; /* defined by an intermediate subgraph: host-only anyway */
        int *nb = realloc(p->outer[node], sizeof(int) * (size_t)(p->n_outer[node] + 1));
        KILN_FAIL_IF(!nb, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        p->outer[node] = nb;
        nb[p->n_outer[node]++] = id;
    }
    for (int i = 0; i < sg->n_nodes; i++)
        for (int j = 0; j < sg->nodes[i].n_attrs; j++) {
            const kiln_attr *a = &sg->nodes[i].attrs[j];
            if (a->g) KILN_TRY(collect_outer(p, node, a->g, depth + 1));
            for (int q = 0; a->graphs && q < a->n; q++) KILN_TRY(collect_outer(p, node, a->graphs[q], depth + 1));
        }
    return KILN_OK;
}

static kiln_status place_nodes(kiln_cuda_program *p) {
    const kiln_graph *g = p->g;
    uint8_t *host_origin = calloc((size_t)g->n_values + 1, 1);
    KILN_FAIL_IF(!host_origin, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int v = 0; v < g->n_values; v++) host_origin[v] = (uint8_t)small_host_init(&g->values[v]);
    kiln_status st = KILN_OK;
    for (int i = 0; i < g->n_nodes && st == KILN_OK; i++) {
        const kiln_node *n = &g->nodes[i];
        const kiln_cuda_op_def *d = NULL;
        if (is_op(n, "Shape") || is_op(n, "Size")) {
            p->place[i] = KILN_PLACE_META;
        } else if (has_subgraph(n)) {
            p->place[i] = KILN_PLACE_HOST;
            st = set_why(p, i, "%s has subgraphs: control flow runs on the host", n->op_type);
            for (int j = 0; j < n->n_attrs && st == KILN_OK; j++) {
                if (n->attrs[j].g) st = collect_outer(p, i, n->attrs[j].g, 0);
                for (int q = 0; n->attrs[j].graphs && q < n->attrs[j].n && st == KILN_OK; q++)
                    st = collect_outer(p, i, n->attrs[j].graphs[q], 0);
            }
        } else if (!(d = kiln_cuda_find_op(n->op_type, n->domain, n->opset))) {
            p->place[i] = KILN_PLACE_HOST;
            st = set_why(p, i, "no CUDA kernel for %s", n->op_type);
        } else if (d->supports && d->supports(n, g) != KILN_OK) {
            p->place[i] = KILN_PLACE_HOST;
            st = set_why(p, i, "CUDA kernel refuses this node: %s", kiln_error_text());
            d = NULL;
        } else {
            /* a computation over host values only (a shape chain) stays on the host: no round trip */
            int all_host = 1;
            for (int j = 0; j < n->n_in; j++)
                if (n->in[j] >= 0 && !host_origin[n->in[j]]) all_host = 0;
            if (all_host) {
                p->place[i] = KILN_PLACE_HOST;
                st = set_why(p, i, "%s computes on host values only (shape computation)", n->op_type);
                d = NULL;
            } else {
                p->place[i] = KILN_PLACE_DEVICE;
            }
        }
        p->defs[i] = d;
        if (p->place[i] != KILN_PLACE_DEVICE)
            for (int j = 0; j < n->n_out; j++)
                if (n->out[j] >= 0) host_origin[n->out[j]] = 1;
        if (st == KILN_OK && d && d->prepare) {
            st = d->prepare(n, g, &p->params[i]);
            if (st != KILN_OK) kiln_error_wrap(st, "node %d ('%s', %s): CUDA prepare", i, n->name, n->op_type);
        }
    }
    free(host_origin);
    return st;
}

static kiln_status upload_weights(kiln_cuda_program *p) {
    const kiln_graph *g = p->g;
    for (int i = 0; i < g->n_nodes; i++) {
        if (p->place[i] != KILN_PLACE_DEVICE) continue;
        const kiln_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0 || !g->values[v].init || p->dev_init[v] || (p->defs[i]->host_inputs >> j & 1u)) continue;
            const kiln_tensor *t = g->values[v].init;
            KILN_FAIL_IF(t->dtype == KILN_STRING, KILN_ERR_UNSUPPORTED, "string initializer '%s' cannot go to the GPU",
                         g->values[v].name);
            size_t bytes = kiln_tensor_nbytes(t);
            KILN_TRY(device_malloc(&p->dev_init[v], bytes, "weights"));
            if (bytes) KILN_CUDA_CHECK(cudaMemcpy(p->dev_init[v], t->data, bytes, cudaMemcpyHostToDevice));
        }
    }
    return KILN_OK;
}

kiln_status kiln_cuda_program_create(const kiln_graph *g, int upload, kiln_cuda_program **out) {
    *out = NULL;
    kiln_cuda_program *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->g = g;
    size_t nn = (size_t)g->n_nodes + 1, nv = (size_t)g->n_values + 1;
    p->defs = calloc(nn, sizeof *p->defs);
    p->params = calloc(nn, sizeof *p->params);
    p->place = calloc(nn, 1);
    p->why = calloc(nn, sizeof *p->why);
    p->dev_init = calloc(nv, sizeof *p->dev_init);
    p->outer = calloc(nn, sizeof *p->outer);
    p->n_outer = calloc(nn, sizeof *p->n_outer);
    kiln_status st = KILN_OK;
    if (!p->defs || !p->params || !p->place || !p->why || !p->dev_init || !p->outer || !p->n_outer)
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == KILN_OK) st = kiln_program_create(g, &p->cpu);
    if (st == KILN_OK) st = place_nodes(p);
    if (st == KILN_OK && upload) st = upload_weights(p);
    p->capturable = 1;
    for (int i = 0; st == KILN_OK && i < g->n_nodes; i++)
        if (p->place[i] == KILN_PLACE_HOST && !(p->why[i] && strstr(p->why[i], "shape computation")))
            p->capturable = 0;
    if (st != KILN_OK) {
        kiln_cuda_program_destroy(p);
        return st;
    }
    *out = p;
    return KILN_OK;
}

void kiln_cuda_program_destroy(kiln_cuda_program *p) {
    if (!p) return;
    for (int i = 0; p->g && i < p->g->n_nodes; i++) {
        if (p->defs && p->defs[i] && p->defs[i]->release && p->params[i]) p->defs[i]->release(p->params[i]);
        if (p->why) free(p->why[i]);
        if (p->outer) free(p->outer[i]);
    }
    for (int v = 0; p->dev_init && v < p->g->n_values; v++)
        if (p->dev_init[v]) cudaFree(p->dev_init[v]);
    kiln_program_destroy(p->cpu);
    kiln_cuda_mem_plan_free(&p->mem);
    free(p->defs), free(p->params), free(p->place), free(p->why), free(p->dev_init), free(p->outer), free(p->n_outer);
    free(p);
}

kiln_cuda_place kiln_cuda_program_place(const kiln_cuda_program *p, int i, const char **why) {
    if (why) *why = p->why[i];
    return (kiln_cuda_place)p->place[i];
}

const kiln_cuda_op_def *kiln_cuda_program_op(const kiln_cuda_program *p, int i) { return p->defs[i]; }

/* Output 0 of these kernels may be input 0 under a new shape (kiln_cuda_kout_alias). */
static int aliasing_op(const kiln_node *n) {
    static const char *const ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (is_op(n, ops[k])) return 1;
    return 0;
}

kiln_status kiln_cuda_program_plan_memory(kiln_cuda_program *p, const kiln_profile_data *profiles, int n_profiles,
                                          const kiln_logger *lg) {
    const kiln_graph *g = p->g;
    kiln_cuda_plan_node *nodes = calloc((size_t)g->n_nodes + 1, sizeof *nodes);
    KILN_FAIL_IF(!nodes, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < g->n_nodes; i++) {
        nodes[i].device = p->place[i] == KILN_PLACE_DEVICE;
        nodes[i].aliases = nodes[i].device && aliasing_op(&g->nodes[i]);
        nodes[i].host_inputs = p->defs[i] ? p->defs[i]->host_inputs : 0;
        nodes[i].outer = p->outer[i];
        nodes[i].n_outer = p->n_outer[i];
        nodes[i].op = nodes[i].device ? p->defs[i] : NULL;
    }
    kiln_cuda_mem_plan_free(&p->mem);
    /* KILN_CUDA_ARENA=0: every value on an on-demand buffer, for A/B comparisons of the planner */
    const char *env = getenv("KILN_CUDA_ARENA");
    int off = env && !strcmp(env, "0");
    kiln_status st = kiln_cuda_mem_plan_build(g, nodes, profiles, n_profiles, &p->mem);
    for (int v = 0; st == KILN_OK && off && v < g->n_values; v++) {
        p->mem.offset[v] = -1;
        p->mem.alias[v] = 0;
        p->mem.arena_size = 0;
        p->mem.n_planned = 0;
    }
    free(nodes);
    KILN_TRY(st);
    const kiln_cuda_mem_plan *m = &p->mem;
    kiln_log(lg, KILN_SEV_INFO, "device memory plan: %d values in a %zu-byte activation arena, %zu bytes of kernel "
             "scratch, %d values with on-demand buffers", m->n_planned, m->arena_size, m->scratch_size,
             m->n_unbounded);
    if (m->n_unbounded)
        kiln_log(lg, KILN_SEV_VERBOSE, "device memory plan: sizes not bounded by the profiles (on-demand buffers): %s%s",
                 m->unbounded ? m->unbounded : "", m->n_unbounded > 1 && m->unbounded && strlen(m->unbounded) > 400
                                                       ? ", ..." : "");
    return KILN_OK;
}

size_t kiln_cuda_program_device_memory(const kiln_cuda_program *p) {
    return p->mem.arena_size + p->mem.scratch_size;
}

/* ------------------------------------------------------------------------------------------ execution state */

/* Points every planned value and the scratch into arena memory of `size` bytes at `base`. */
static void layout_arena(kiln_cuda_exec *e, void *base) {
    const kiln_cuda_mem_plan *m = &e->p->mem;
    for (int v = 0; v < e->p->g->n_values; v++) {
        dev_slot *s = &e->dv[v];
        s->planned = base && m->offset && m->offset[v] >= 0 ? (char *)base + m->offset[v] : NULL;
        s->planned_cap = s->planned ? m->size[v] : 0;
    }
    e->scratch = base && m->scratch_size ? (char *)base + m->arena_size : NULL;
    e->scratch_cap = e->scratch ? m->scratch_size : 0;
    e->generation++;
}

kiln_status kiln_cuda_exec_set_memory(kiln_cuda_exec *e, void *ptr, size_t size) {
    size_t need = kiln_cuda_program_device_memory(e->p);
    KILN_FAIL_IF(!ptr && need, KILN_ERR_INVALID_ARGUMENT, "device memory is NULL; the engine needs %zu bytes", need);
    KILN_FAIL_IF(size < need, KILN_ERR_OUT_OF_MEMORY,
                 "device memory of %zu bytes is too small: the engine needs %zu (%zu for activations, %zu for kernel "
                 "scratch)", size, need, e->p->mem.arena_size, e->p->mem.scratch_size);
    KILN_FAIL_IF((uintptr_t)ptr % KILN_CUDA_ARENA_ALIGN, KILN_ERR_INVALID_ARGUMENT,
                 "device memory at %p is not %d-byte aligned", ptr, KILN_CUDA_ARENA_ALIGN);
    if (ptr) KILN_TRY(kiln_cuda_check_device_pointer(ptr, "context device memory"));
    if (e->stream) KILN_CUDA_CHECK(cudaStreamSynchronize(e->stream)); /* the old arena may still be in use */
    if (e->arena_owned) cudaFree(e->arena);
    e->arena = ptr;
    e->arena_cap = size;
    e->arena_owned = 0;
    e->need_memory = 0;
    layout_arena(e, ptr);
    return KILN_OK;
}

kiln_status kiln_cuda_exec_create(const kiln_cuda_program *p, int own_memory, kiln_cuda_exec **out) {
    *out = NULL;
    kiln_cuda_exec *e = calloc(1, sizeof *e);
    KILN_FAIL_IF(!e, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    e->p = p;
    size_t nv = (size_t)p->g->n_values + 1;
    e->dv = calloc(nv, sizeof *e->dv);
    e->hvalid = calloc(nv, 1);
    kiln_status st = !e->dv || !e->hvalid ? kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory") : KILN_OK;
    if (st == KILN_OK) st = kiln_exec_create(p->cpu, NULL, &e->host);
    /* A blocking stream: work the caller queued on the legacy default stream (input copies) completes before a
     * run on the context's own stream starts. */
    if (st == KILN_OK && cudaStreamCreateWithFlags(&e->own_stream, cudaStreamDefault) != cudaSuccess)
        st = kiln_error(KILN_ERR_DEVICE, "cannot create a CUDA stream: %s", cudaGetErrorString(cudaGetLastError()));
    if (st == KILN_OK && cublasLtCreate(&e->lt) != CUBLAS_STATUS_SUCCESS)
        st = kiln_error(KILN_ERR_DEVICE, "cannot create a cuBLASLt handle");
    if (st == KILN_OK && cudnnCreate(&e->dnn) != CUDNN_STATUS_SUCCESS)
        st = kiln_error(KILN_ERR_DEVICE, "cannot create a cuDNN handle");
    size_t need = kiln_cuda_program_device_memory(p);
    if (st == KILN_OK && own_memory && need) {
        st = device_malloc(&e->arena, need, "a context's activations and kernel scratch");
        if (st == KILN_OK) {
            e->arena_cap = need;
            e->arena_owned = 1;
            layout_arena(e, e->arena);
        }
    }
    e->need_memory = !own_memory && need;
    e->graphs_on = kiln_cuda_graphs_default();
    if (st != KILN_OK) {
        kiln_cuda_exec_destroy(e);
        return st;
    }
    e->stream = e->own_stream;
    *out = e;
    return KILN_OK;
}

void kiln_cuda_exec_destroy(kiln_cuda_exec *e) {
    if (!e) return;
    if (e->stream) cudaStreamSynchronize(e->stream);
    for (int v = 0; e->dv && v < e->p->g->n_values; v++)
        if (e->dv[v].buf) cudaFree(e->dv[v].buf);
    for (size_t i = 0; i < sizeof e->sink / sizeof e->sink[0]; i++)
        if (e->sink[i].buf) cudaFree(e->sink[i].buf);
    if (e->scratch_own) cudaFree(e->scratch_own);
    if (e->arena_owned) cudaFree(e->arena);
    kiln_cuda_graph_free(e);
    if (e->lt) cublasLtDestroy(e->lt);
    if (e->dnn) cudnnDestroy(e->dnn);
    if (e->own_stream) cudaStreamDestroy(e->own_stream);
    kiln_exec_destroy(e->host);
    free(e->dv);
    free(e->hvalid);
    free(e);
}

void kiln_cuda_exec_set_profiler(kiln_cuda_exec *e, kiln_profiler_fn fn, void *user) {
    e->prof = fn;
    e->prof_user = user;
}

/* Host metadata of value v without data (the device side holds it). */
static void set_host_meta(kiln_cuda_exec *e, int v, kiln_dtype dt, int rank, const int64_t *dims) {
    kiln_value *h = kiln_exec_value(e->host, v);
    if (h->kind == KILN_V_SEQUENCE) kiln_value_release(h);
    h->kind = KILN_V_TENSOR;
    h->t.dtype = dt;
    h->t.rank = rank;
    for (int d = 0; d < rank; d++) h->t.dims[d] = dims[d];
}

/* The memory a value's data goes to: its arena slot when the data fits (always, within the profiles, for planned
 * values), else an own buffer grown on demand. */
static kiln_status slot_buffer(kiln_cuda_exec *e, dev_slot *s, size_t bytes, void **ptr) {
    if (s->planned && bytes <= s->planned_cap) {
        *ptr = s->planned;
        return KILN_OK;
    }
    if (!s->buf || s->cap < bytes) {
        if (s->buf) {
            /* kernels queued earlier may still read the old buffer */
            KILN_CUDA_CHECK(cudaStreamSynchronize(e->stream));
            cudaFree(s->buf);
            s->buf = NULL;
            s->cap = 0;
        }
        KILN_TRY(device_malloc(&s->buf, bytes, "an activation"));
        s->cap = bytes ? bytes : 1;
        e->generation++;
        e->run_allocs++;
    }
    *ptr = s->buf;
    return KILN_OK;
}

static size_t view_bytes(const kiln_cuda_tensor *t) {
    int64_t n = kiln_numel(t->rank, t->dims);
    return n > 0 ? (size_t)n * kiln_dtype_size(t->dtype) : 0;
}

static kiln_status ensure_device(kiln_cuda_exec *e, int v) {
    dev_slot *s = &e->dv[v];
    if (s->valid) return KILN_OK;
    const kiln_ir_value *iv = &e->p->g->values[v];
    if (e->p->dev_init[v]) {
        const kiln_tensor *t = iv->init;
        s->view.dtype = t->dtype;
        s->view.rank = t->rank;
        memcpy(s->view.dims, t->dims, sizeof s->view.dims);
        s->view.data = e->p->dev_init[v];
        s->valid = 1;
        return KILN_OK;
    }
    KILN_FAIL_IF(!e->hvalid[v], KILN_ERR_INTERNAL, "value '%s' has no data on either side", iv->name);
    const kiln_value *h = kiln_exec_value(e->host, v);
    KILN_FAIL_IF(h->kind != KILN_V_TENSOR, KILN_ERR_UNSUPPORTED, "value '%s' is not a tensor and cannot go to the GPU",
                 iv->name);
    KILN_FAIL_IF(h->t.dtype == KILN_STRING, KILN_ERR_UNSUPPORTED, "string tensor '%s' cannot go to the GPU", iv->name);
    size_t bytes = kiln_tensor_nbytes(&h->t);
    void *dst;
    KILN_TRY(slot_buffer(e, s, bytes, &dst));
    if (bytes) KILN_CUDA_CHECK(cudaMemcpyAsync(dst, h->t.data, bytes, cudaMemcpyHostToDevice, e->stream));
    e->run_transfers++;
    s->view.dtype = h->t.dtype;
    s->view.rank = h->t.rank;
    memcpy(s->view.dims, h->t.dims, sizeof s->view.dims);
    s->view.data = dst;
    s->valid = 1;
    return KILN_OK;
}

static kiln_status ensure_host(kiln_cuda_exec *e, int v) {
    if (e->hvalid[v]) return KILN_OK;
    dev_slot *s = &e->dv[v];
    KILN_FAIL_IF(!s->valid, KILN_ERR_INTERNAL, "value '%s' has no data on either side", e->p->g->values[v].name);
    kiln_value *h = kiln_exec_value(e->host, v);
    if (h->kind == KILN_V_SEQUENCE) kiln_value_release(h);
    KILN_TRY(kiln_tensor_alloc(&h->t, s->view.dtype, s->view.rank, s->view.dims));
    h->kind = KILN_V_TENSOR;
    size_t bytes = view_bytes(&s->view);
    KILN_CUDA_CHECK(cudaStreamSynchronize(e->stream));
    if (bytes) KILN_CUDA_CHECK(cudaMemcpy(h->t.data, s->view.data, bytes, cudaMemcpyDeviceToHost));
    e->run_transfers++;
    e->hvalid[v] = 1;
    return KILN_OK;
}

kiln_status kiln_cuda_exec_bind_device(kiln_cuda_exec *e, int i, kiln_dtype dtype, int rank, const int64_t *dims,
                                       const void *dev) {
    int v = e->p->g->inputs[i];
    dev_slot *s = &e->dv[v];
    s->view.dtype = dtype;
    s->view.rank = rank;
    for (int d = 0; d < rank; d++) s->view.dims[d] = dims[d];
    s->view.data = (void *)dev; /* borrowed for the run; kernels never write their inputs */
    s->valid = 1;
    e->hvalid[v] = 0;
    set_host_meta(e, v, dtype, rank, dims);
    return KILN_OK;
}

kiln_status kiln_cuda_exec_bind_host(kiln_cuda_exec *e, int i, const kiln_value *val) {
    int v = e->p->g->inputs[i];
    KILN_TRY(kiln_value_copy(kiln_exec_value(e->host, v), val));
    kiln_exec_value(e->host, v)->kind = val->kind;
    e->hvalid[v] = 1;
    e->dv[v].valid = 0;
    return KILN_OK;
}

/* ------------------------------------------------------------------------------------------ kernel helpers */

static dev_slot *out_slot(kiln_cuda_kctx *k, int i, int *v) {
    kiln_cuda_exec *e = k->exec;
    *v = k->node->out[i];
    if (*v >= 0) return &e->dv[*v];
    return i < (int)(sizeof e->sink / sizeof e->sink[0]) ? &e->sink[i] : NULL;
}

kiln_status kiln_cuda_kout(kiln_cuda_kctx *k, int i, kiln_dtype dtype, int rank, const int64_t *dims,
                           kiln_cuda_tensor **out) {
    KILN_FAIL_IF(i < 0 || i >= k->n_out || rank < 0 || rank > KILN_MAX_DIMS, KILN_ERR_INTERNAL,
                 "kiln_cuda_kout: bad output index or rank");
    int v;
    dev_slot *s = out_slot(k, i, &v);
    KILN_FAIL_IF(!s, KILN_ERR_UNSUPPORTED, "node has too many unused outputs");
    int64_t n = kiln_numel(rank, dims);
    size_t es = kiln_dtype_size(dtype);
    KILN_FAIL_IF(n < 0 || es == 0 || (uint64_t)n > SIZE_MAX / es, KILN_ERR_SHAPE, "output %d has an invalid shape", i);
    void *dst;
    KILN_TRY(slot_buffer(k->exec, s, (size_t)n * es, &dst));
    s->view.dtype = dtype;
    s->view.rank = rank;
    for (int d = 0; d < rank; d++) s->view.dims[d] = dims[d];
    s->view.data = dst;
    s->valid = 1;
    if (v >= 0) {
        set_host_meta(k->exec, v, dtype, rank, dims);
        k->exec->hvalid[v] = 0;
    }
    *out = &s->view;
    return KILN_OK;
}

kiln_status kiln_cuda_kout_alias(kiln_cuda_kctx *k, int i, const kiln_cuda_tensor *src, int rank,
                                 const int64_t *dims) {
    KILN_FAIL_IF(i < 0 || i >= k->n_out || rank < 0 || rank > KILN_MAX_DIMS, KILN_ERR_INTERNAL,
                 "kiln_cuda_kout_alias: bad output index or rank");
    KILN_FAIL_IF(kiln_numel(rank, dims) != kiln_numel(src->rank, src->dims), KILN_ERR_SHAPE,
                 "alias changes the element count");
    int v;
    dev_slot *s = out_slot(k, i, &v);
    KILN_FAIL_IF(!s, KILN_ERR_UNSUPPORTED, "node has too many unused outputs");
    kiln_cuda_exec *e = k->exec;
    const char *sd = (const char *)src->data, *base = (const char *)e->arena;
    if (base && sd >= base && sd < base + e->arena_cap && (v < 0 || !e->p->mem.alias || !e->p->mem.alias[v])) {
        /* the memory plan did not extend the source's lifetime for this output: a copy keeps the plan sound */
        kiln_cuda_tensor *y;
        KILN_TRY(kiln_cuda_kout(k, i, src->dtype, rank, dims, &y));
        size_t bytes = view_bytes(y);
        if (bytes) KILN_CUDA_CHECK(cudaMemcpyAsync(y->data, src->data, bytes, cudaMemcpyDeviceToDevice, e->stream));
        return KILN_OK;
    }
    s->view.dtype = src->dtype;
    s->view.rank = rank;
    for (int d = 0; d < rank; d++) s->view.dims[d] = dims[d];
    s->view.data = src->data;
    s->valid = 1;
    if (v >= 0) {
        set_host_meta(k->exec, v, src->dtype, rank, dims);
        k->exec->hvalid[v] = 0;
    }
    return KILN_OK;
}

kiln_status kiln_cuda_scratch(kiln_cuda_kctx *k, size_t bytes, void **ptr) {
    kiln_cuda_exec *e = k->exec;
    if (bytes > e->scratch_cap) {
        /* more than the plan reserved: an own block, grown once; freeing the old one waits for its readers */
        if (e->scratch_own) {
            KILN_CUDA_CHECK(cudaStreamSynchronize(e->stream));
            cudaFree(e->scratch_own);
            e->scratch_own = NULL;
        }
        e->scratch = NULL;
        e->scratch_cap = 0;
        KILN_TRY(device_malloc(&e->scratch_own, bytes, "kernel scratch"));
        e->scratch = e->scratch_own;
        e->scratch_cap = bytes;
        e->generation++;
        e->run_allocs++;
    }
    *ptr = e->scratch;
    return KILN_OK;
}

/* ------------------------------------------------------------------------------------------ running */

#define MAX_DEV_IO 64

static kiln_status run_device_node(kiln_cuda_exec *e, int i) {
    const kiln_graph *g = e->p->g;
    const kiln_node *n = &g->nodes[i];
    const kiln_cuda_op_def *d = e->p->defs[i];
    KILN_FAIL_IF(n->n_in > MAX_DEV_IO, KILN_ERR_UNSUPPORTED, "too many inputs for a device node");
    kiln_cuda_tensor hostv[MAX_DEV_IO];
    const kiln_cuda_tensor *ins[MAX_DEV_IO];
    for (int j = 0; j < n->n_in; j++) {
        int v = n->in[j];
        ins[j] = NULL;
        if (v < 0) continue;
        if (d->host_inputs >> j & 1u) {
            KILN_TRY(ensure_host(e, v));
            const kiln_value *h = kiln_exec_value(e->host, v);
            KILN_FAIL_IF(h->kind != KILN_V_TENSOR, KILN_ERR_TYPE, "input %d is not a tensor", j);
            hostv[j].dtype = h->t.dtype;
            hostv[j].rank = h->t.rank;
            memcpy(hostv[j].dims, h->t.dims, sizeof hostv[j].dims);
            hostv[j].data = h->t.data;
            ins[j] = &hostv[j];
        } else {
            KILN_TRY(ensure_device(e, v));
            ins[j] = &e->dv[v].view;
        }
    }
    kiln_cuda_kctx k = {n, e->p->params[i], n->n_in, n->n_out, ins, e->stream, e->lt, e->dnn, e};
    return d->run(&k);
}

static kiln_status run_host_node(kiln_cuda_exec *e, int i, int meta_only) {
    const kiln_node *n = &e->p->g->nodes[i];
    if (!meta_only)
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) KILN_TRY(ensure_host(e, n->in[j]));
    for (int j = 0; j < e->p->n_outer[i]; j++) KILN_TRY(ensure_host(e, e->p->outer[i][j]));
    KILN_TRY(kiln_exec_run_node(e->host, i));
    for (int j = 0; j < n->n_out; j++) {
        int v = n->out[j];
        if (v < 0) continue;
        e->hvalid[v] = 1;
        e->dv[v].valid = 0;
    }
    return KILN_OK;
}

/* One pass over the nodes on e->stream. */
kiln_status kiln_cuda_exec_run_nodes(kiln_cuda_exec *e) {
    const kiln_graph *g = e->p->g;
    e->run_allocs = e->run_transfers = 0;
    if (cudnnSetStream(e->dnn, e->stream) != CUDNN_STATUS_SUCCESS)
        return kiln_error(KILN_ERR_DEVICE, "cudnnSetStream failed");
    /* this run's validity: initializers are host-valid (and device-valid when uploaded); inputs were bound */
    for (int v = 0; v < g->n_values; v++) {
        if (g->values[v].is_input && !g->values[v].init) continue;
        e->hvalid[v] = g->values[v].init != NULL;
        e->dv[v].valid = 0;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = &g->nodes[i];
        struct timespec t0, t1;
        if (e->prof) clock_gettime(CLOCK_MONOTONIC, &t0);
        kiln_status st = e->p->place[i] == KILN_PLACE_DEVICE ? run_device_node(e, i)
                                                              : run_host_node(e, i, e->p->place[i] == KILN_PLACE_META);
        if (st == KILN_OK && e->p->place[i] == KILN_PLACE_DEVICE) {
            cudaError_t rc = cudaPeekAtLastError();
            if (rc != cudaSuccess) {
                cudaGetLastError();
                st = kiln_error(KILN_ERR_DEVICE, "kernel launch failed: %s", cudaGetErrorString(rc));
            }
        }
        if (st != KILN_OK) return kiln_error_wrap(st, "node %d ('%s', %s) on the %s", i, n->name, n->op_type,
                                                  e->p->place[i] == KILN_PLACE_DEVICE ? "GPU" : "host");
        if (e->prof) {
            KILN_CUDA_CHECK(cudaStreamSynchronize(e->stream));
            clock_gettime(CLOCK_MONOTONIC, &t1);
            e->prof(e->prof_user, n->name, n->op_type,
                    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6);
        }
    }
    return KILN_OK;
}

kiln_status kiln_cuda_exec_run(kiln_cuda_exec *e, void *stream) {
    KILN_FAIL_IF(e->need_memory, KILN_ERR_INVALID_ARGUMENT,
                 "the context was created without device memory: give it %zu bytes with kiln_context_set_device_memory",
                 kiln_cuda_program_device_memory(e->p));
    e->stream = stream ? (cudaStream_t)stream : e->own_stream;
    int mode = kiln_cuda_graph_mode(e);
    if (mode == KILN_GRAPH_REPLAY) return kiln_cuda_graph_replay(e);
    if (mode == KILN_GRAPH_CAPTURE) return kiln_cuda_graph_capture_run(e);
    kiln_status st = kiln_cuda_exec_run_nodes(e);
    kiln_cuda_graph_after_plain_run(e, st);
    return st;
}

kiln_status kiln_cuda_exec_output(kiln_cuda_exec *e, int i, const kiln_value **host, const void **dev,
                                  int *on_device) {
    int v = e->p->g->outputs[i];
    *host = kiln_exec_value(e->host, v);
    *on_device = e->dv[v].valid && !e->hvalid[v];
    *dev = *on_device ? e->dv[v].view.data : NULL;
    KILN_FAIL_IF(!e->dv[v].valid && !e->hvalid[v], KILN_ERR_RUNTIME, "graph output '%s' was not produced",
                 e->p->g->values[v].name);
    return KILN_OK;
}

kiln_status kiln_cuda_exec_copy_output(kiln_cuda_exec *e, int i, void *dst, size_t cap, int dst_on_device) {
    int v = e->p->g->outputs[i];
    const kiln_value *h = kiln_exec_value(e->host, v);
    KILN_FAIL_IF(h->kind != KILN_V_TENSOR, KILN_ERR_TYPE, "output '%s' is not a tensor", e->p->g->values[v].name);
    KILN_FAIL_IF(h->t.dtype == KILN_STRING && dst_on_device, KILN_ERR_UNSUPPORTED,
                 "string output '%s' cannot be copied to GPU memory", e->p->g->values[v].name);
    size_t bytes = kiln_tensor_nbytes(&h->t);
    KILN_FAIL_IF(bytes > cap, KILN_ERR_SHAPE, "output '%s' needs %zu bytes, the buffer has %zu",
                 e->p->g->values[v].name, bytes, cap);
    if (!bytes) return KILN_OK;
    if (e->dv[v].valid) {
        KILN_CUDA_CHECK(cudaMemcpyAsync(dst, e->dv[v].view.data, bytes,
                                        dst_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost, e->stream));
    } else if (dst_on_device) {
        KILN_CUDA_CHECK(cudaMemcpyAsync(dst, h->t.data, bytes, cudaMemcpyHostToDevice, e->stream));
    } else {
        memcpy(dst, h->t.data, bytes);
    }
    return KILN_OK;
}

kiln_status kiln_cuda_exec_sync(kiln_cuda_exec *e) {
    KILN_CUDA_CHECK(cudaStreamSynchronize(e->stream));
    return KILN_OK;
}

kiln_status kiln_cuda_check_device_pointer(const void *ptr, const char *what) {
    struct cudaPointerAttributes a;
    memset(&a, 0, sizeof a);
    cudaError_t rc = cudaPointerGetAttributes(&a, ptr);
    if (rc != cudaSuccess) {
        cudaGetLastError();
        return kiln_error(KILN_ERR_INVALID_ARGUMENT, "%s: cannot query the address %p: %s", what, ptr,
                          cudaGetErrorString(rc));
    }
    /* unregistered host memory faults inside kernels and cuDNN (illegal address) long after this call */
    KILN_FAIL_IF(a.type == cudaMemoryTypeUnregistered, KILN_ERR_INVALID_ARGUMENT,
                 "%s: %p is host memory; a CUDA engine reads and writes GPU memory (cudaMalloc), managed or "
                 "registered host memory: copy the data to the GPU first", what, ptr);
    return KILN_OK;
}
