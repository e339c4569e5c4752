/* Runtime and engine handles: deserialize a plan (borrowing its bytes), compile it once, answer I/O queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "runtime/engine.h"
#ifdef KILN_HAVE_CUDA
#include "backends/cuda/exec-cuda.h"
#include "backends/cuda/lower-cuda.h"
#endif

static kiln_status rt_fail(const kiln_logger *lg, void *h, kiln_status s) {
    if (h) kiln_handle_fail(h, s);
    kiln_log(lg, KILN_SEV_ERROR, "%s", kiln_error_text());
    return s;
}

kiln_status kiln_runtime_create(const kiln_logger *logger, kiln_runtime **out) {
    KILN_FAIL_IF(!out, KILN_ERR_INVALID_ARGUMENT, "kiln_runtime_create: out is NULL");
    *out = NULL;
    kiln_runtime *r = calloc(1, sizeof *r);
    KILN_FAIL_IF(!r, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a runtime");
    r->hdr.magic = KILN_MAGIC_RUNTIME;
    r->logger = logger ? *logger : *kiln_default_logger();
    *out = r;
    return KILN_OK;
}

void kiln_runtime_destroy(kiln_runtime *r) {
    if (!r || r->hdr.magic != KILN_MAGIC_RUNTIME) return;
    r->hdr.magic = KILN_MAGIC_DEAD;
    free(r);
}

static void engine_free(kiln_engine *e) {
    if (!e) return;
    e->hdr.magic = KILN_MAGIC_DEAD;
    kiln_program_destroy(e->prog);
#ifdef KILN_HAVE_CUDA
    kiln_cuda_program_destroy(e->cuda);
#endif
    for (int i = 0; e->layer_info && i < e->plan.graph->n_nodes; i++) free(e->layer_info[i]);
    free(e->layer_info);
    free(e->io);
    kiln_plan_release(&e->plan); /* before the bytes it borrows */
    kiln_file_unmap(&e->map);
    free(e->copy);
    free(e);
}

static kiln_status make_layer_info(kiln_engine *e) {
    const kiln_graph *g = e->plan.graph;
    e->layer_info = calloc((size_t)g->n_nodes + 1, sizeof(char *));
    KILN_FAIL_IF(!e->layer_info, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = &g->nodes[i];
        size_t len = strlen(n->name) + strlen(n->op_type) + 16;
        for (int j = 0; j < n->n_in; j++) len += (n->in[j] >= 0 ? strlen(g->values[n->in[j]].name) : 2) + 2;
        for (int j = 0; j < n->n_out; j++) len += (n->out[j] >= 0 ? strlen(g->values[n->out[j]].name) : 2) + 2;
        char *s = malloc(len);
        KILN_FAIL_IF(!s, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        size_t k = (size_t)snprintf(s, len, "%s  %s  ", n->name, n->op_type);
        for (int j = 0; j < n->n_in; j++)
            k += (size_t)snprintf(s + k, len - k, "%s%s", j ? ", " : "", n->in[j] >= 0 ? g->values[n->in[j]].name : "-");
        k += (size_t)snprintf(s + k, len - k, " -> ");
        for (int j = 0; j < n->n_out; j++)
            k += (size_t)snprintf(s + k, len - k, "%s%s", j ? ", " : "",
                                  n->out[j] >= 0 ? g->values[n->out[j]].name : "-");
        e->layer_info[i] = s;
#ifdef KILN_HAVE_CUDA
        if (e->cuda) { /* where the node runs, and why when not on the GPU */
            const char *why = NULL;
            kiln_cuda_place pl = kiln_cuda_program_place(e->cuda, i, &why);
            const char *where = pl == KILN_PLACE_DEVICE ? "  [GPU]" : pl == KILN_PLACE_META ? "  [host: reads shapes only]"
                                                                                            : "  [host: ";
            size_t extra = strlen(where) + (pl == KILN_PLACE_HOST && why ? strlen(why) + 2 : 0) + 1;
            char *t = realloc(s, k + extra);
            KILN_FAIL_IF(!t, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            snprintf(t + k, extra, "%s%s%s", where, pl == KILN_PLACE_HOST && why ? why : "",
                     pl == KILN_PLACE_HOST ? "]" : "");
            e->layer_info[i] = t;
        }
#endif
    }
    return KILN_OK;
}

static kiln_status make_io(kiln_engine *e) {
    const kiln_graph *g = e->plan.graph;
    e->io = calloc((size_t)(g->n_inputs + g->n_outputs) + 1, sizeof *e->io);
    KILN_FAIL_IF(!e->io, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < g->n_inputs; i++) {
        const kiln_ir_value *v = &g->values[g->inputs[i]];
        if (v->init) continue; /* an input with an initializer is a constant here, as in other engine builders */
        e->io[e->n_io++] = (kiln_engine_io){v->name, KILN_IO_INPUT, g->inputs[i], i};
    }
    e->n_inputs = e->n_io;
    for (int i = 0; i < g->n_outputs; i++)
        e->io[e->n_io++] = (kiln_engine_io){g->values[g->outputs[i]].name, KILN_IO_OUTPUT, g->outputs[i], i};
    return KILN_OK;
}

/* Takes ownership of *map (when non-NULL) in every case. */
static kiln_status engine_create(kiln_runtime *r, const void *data, size_t size, kiln_mapped_file *map,
                                 kiln_engine **out) {
    kiln_engine *e = calloc(1, sizeof *e);
    if (!e) {
        kiln_file_unmap(map);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory creating an engine");
    }
    e->hdr.magic = KILN_MAGIC_ENGINE;
    e->logger = r->logger;
    if (map) e->map = *map;
    if (data && ((uintptr_t)data % KILN_PLAN_WEIGHT_ALIGN) != 0) {
        /* Weights are laid out 64-byte aligned relative to the plan start; kernels may rely on natural alignment,
         * so misaligned caller bytes are copied once (mapped files and blobs are always aligned). */
        size_t alloc = (size + KILN_PLAN_WEIGHT_ALIGN - 1) / KILN_PLAN_WEIGHT_ALIGN * KILN_PLAN_WEIGHT_ALIGN;
        e->copy = aligned_alloc(KILN_PLAN_WEIGHT_ALIGN, alloc ? alloc : KILN_PLAN_WEIGHT_ALIGN);
        if (!e->copy) {
            engine_free(e);
            return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory copying a misaligned %zu-byte plan", size);
        }
        memcpy(e->copy, data, size);
        data = e->copy;
        kiln_log(&r->logger, KILN_SEV_VERBOSE, "plan bytes are not %d-byte aligned: copied", KILN_PLAN_WEIGHT_ALIGN);
    }
    kiln_status st = kiln_plan_read(data, size, &e->plan);
    if (st == KILN_OK && e->plan.meta.backend == KILN_BACKEND_CUDA) {
#ifdef KILN_HAVE_CUDA
        st = kiln_cuda_check_plan_device(&e->plan.meta.device);
        if (st == KILN_OK) st = kiln_cuda_program_create(e->plan.graph, 1, &e->cuda);
        if (st == KILN_OK)
            st = kiln_cuda_program_plan_memory(e->cuda, e->plan.profiles, e->plan.n_profiles, &e->logger);
        if (st != KILN_OK) kiln_error_wrap(st, "cannot load the CUDA plan");
#else
        st = kiln_error(KILN_ERR_INCOMPATIBLE_PLAN, "incompatible plan: built for CUDA, this kiln has no CUDA backend");
#endif
    } else if (st == KILN_OK) {
        st = kiln_program_create(e->plan.graph, &e->prog);
        if (st != KILN_OK) kiln_error_wrap(st, "cannot load the plan's graph");
    }
    if (st == KILN_OK) st = make_io(e);
    if (st == KILN_OK) st = make_layer_info(e);
    if (st != KILN_OK) {
        engine_free(e);
        return st;
    }
    kiln_log(&r->logger, KILN_SEV_INFO, "loaded %s plan (kiln %s): %d layers, %d inputs, %d outputs",
             kiln_backend_name(e->plan.meta.backend), e->plan.kiln_version, e->plan.graph->n_nodes, e->n_inputs,
             e->n_io - e->n_inputs);
    *out = e;
    return KILN_OK;
}

kiln_status kiln_engine_deserialize(kiln_runtime *r, const void *data, size_t size, kiln_engine **out) {
    KILN_CHECK_HANDLE(r, KILN_MAGIC_RUNTIME, "runtime");
    if (!out) return rt_fail(&r->logger, r, kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_engine_deserialize: out is NULL"));
    *out = NULL;
    if (!data)
        return rt_fail(&r->logger, r, kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_engine_deserialize: data is NULL"));
    kiln_status st = engine_create(r, data, size, NULL, out);
    return st == KILN_OK ? st : rt_fail(&r->logger, r, st);
}

kiln_status kiln_engine_load_file(kiln_runtime *r, const char *path, kiln_engine **out) {
    KILN_CHECK_HANDLE(r, KILN_MAGIC_RUNTIME, "runtime");
    if (!out) return rt_fail(&r->logger, r, kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_engine_load_file: out is NULL"));
    *out = NULL;
    kiln_mapped_file m;
    kiln_status st = kiln_file_map(path, &m);
    if (st == KILN_OK) {
        st = engine_create(r, m.data, m.size, &m, out);
        if (st != KILN_OK) kiln_error_wrap(st, "'%s'", path);
    }
    return st == KILN_OK ? st : rt_fail(&r->logger, r, st);
}

void kiln_engine_destroy(kiln_engine *e) {
    if (!e || e->hdr.magic != KILN_MAGIC_ENGINE) return;
    engine_free(e);
}

kiln_backend kiln_engine_backend(const kiln_engine *e) {
    if (kiln_handle_check(e, KILN_MAGIC_ENGINE, "engine") != KILN_OK) return KILN_BACKEND_AUTO;
    return e->plan.meta.backend;
}

int kiln_engine_io_count(const kiln_engine *e) {
    if (kiln_handle_check(e, KILN_MAGIC_ENGINE, "engine") != KILN_OK) return -1;
    return e->n_io;
}

const char *kiln_engine_io_name(const kiln_engine *e, int index) {
    if (kiln_handle_check(e, KILN_MAGIC_ENGINE, "engine") != KILN_OK) return NULL;
    if (index < 0 || index >= e->n_io) return NULL;
    return e->io[index].name;
}

const kiln_engine_io *kiln_engine_find_io(const kiln_engine *e, const char *name) {
    for (int i = 0; i < e->n_io; i++)
        if (strcmp(e->io[i].name, name) == 0) return &e->io[i];
    return NULL;
}

static kiln_status no_such_io(const kiln_engine *e, const char *name) {
    char list[512];
    size_t k = 0;
    list[0] = 0;
    for (int i = 0; i < e->n_io && k + 4 < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s'%s'", i ? ", " : "", e->io[i].name);
    return kiln_error(KILN_ERR_INVALID_ARGUMENT, "the engine has no input or output '%s' (it has %s)", name, list);
}

kiln_status kiln_engine_io_info(const kiln_engine *e, const char *name, kiln_io_mode *mode, kiln_value_kind *kind,
                                kiln_dtype *dtype, int *rank, int64_t *dims) {
    KILN_CHECK_HANDLE(e, KILN_MAGIC_ENGINE, "engine");
    if (!name) return kiln_handle_fail((void *)e, kiln_error(KILN_ERR_INVALID_ARGUMENT, "tensor name is NULL"));
    const kiln_engine_io *io = kiln_engine_find_io(e, name);
    if (!io) return kiln_handle_fail((void *)e, no_such_io(e, name));
    const kiln_type *t = &e->plan.graph->values[io->value].type;
    if (mode) *mode = io->mode;
    if (kind) *kind = t->kind;
    if (dtype) *dtype = t->dtype;
    if (rank) *rank = t->rank;
    if (dims)
        for (int d = 0; d < t->rank; d++) dims[d] = t->dims[d].v >= 0 ? t->dims[d].v : -1;
    return KILN_OK;
}

kiln_status kiln_engine_profile_shape(const kiln_engine *e, const char *input, kiln_profile_selector which,
                                      int *rank, int64_t *dims) {
    KILN_CHECK_HANDLE(e, KILN_MAGIC_ENGINE, "engine");
    kiln_status st = KILN_OK;
    const kiln_engine_io *io = input ? kiln_engine_find_io(e, input) : NULL;
    if (!input || !rank || !dims)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_engine_profile_shape: NULL argument");
    else if ((unsigned)which > KILN_PROFILE_MAX)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "profile selector %d is not MIN, OPT or MAX", (int)which);
    else if (!io || io->mode != KILN_IO_INPUT)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "'%s' is not an input of the engine", input);
    if (st != KILN_OK) return kiln_handle_fail((void *)e, st);
    const kiln_shape_range *r = e->plan.n_profiles ? kiln_profile_data_find(&e->plan.profiles[0], input) : NULL;
    if (r) {
        const int64_t *src = which == KILN_PROFILE_MIN ? r->min : which == KILN_PROFILE_OPT ? r->opt : r->max;
        *rank = r->rank;
        for (int d = 0; d < r->rank; d++) dims[d] = src[d];
        return KILN_OK;
    }
    /* no range: the input's shape is fixed (or not a tensor / of unknown rank) */
    const kiln_type *t = &e->plan.graph->values[io->value].type;
    if (t->kind != KILN_KIND_TENSOR || t->rank < 0)
        return kiln_handle_fail((void *)e, kiln_error(KILN_ERR_INVALID_ARGUMENT,
                                                      "input '%s' has no shape range (it is not a tensor of known "
                                                      "rank)",
                                                      input));
    *rank = t->rank;
    for (int d = 0; d < t->rank; d++) dims[d] = t->dims[d].v;
    return KILN_OK;
}

int kiln_engine_layer_count(const kiln_engine *e) {
    if (kiln_handle_check(e, KILN_MAGIC_ENGINE, "engine") != KILN_OK) return -1;
    return e->plan.graph->n_nodes;
}

const char *kiln_engine_layer_info(const kiln_engine *e, int index) {
    if (kiln_handle_check(e, KILN_MAGIC_ENGINE, "engine") != KILN_OK) return NULL;
    if (index < 0 || index >= e->plan.graph->n_nodes) return NULL;
    return e->layer_info[index];
}

kiln_status kiln_engine_get_device_memory_size(const kiln_engine *e, size_t *bytes) {
    KILN_CHECK_HANDLE(e, KILN_MAGIC_ENGINE, "engine");
    if (!bytes)
        return kiln_handle_fail((kiln_engine *)e, kiln_error(KILN_ERR_INVALID_ARGUMENT,
                                                             "kiln_engine_get_device_memory_size: bytes "
                                              "is NULL"));
    *bytes = 0;
#ifdef KILN_HAVE_CUDA
    if (e->cuda) *bytes = kiln_cuda_program_device_memory(e->cuda);
#endif
    return KILN_OK;
}
