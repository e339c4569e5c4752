/* Execution contexts: per-thread state over a shared engine (an executor, input shapes and bindings). Inputs are
 * borrowed zero-copy for the run; outputs bound by the caller are copied out after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/broadcast.h"
#include "core/dtype.h"
#include "runtime/engine.h"
#ifdef KILN_HAVE_CUDA
#include "backends/cuda/exec-cuda.h"
#endif

typedef enum bind_kind { BIND_NONE = 0, BIND_TENSOR, BIND_SEQUENCE, BIND_EMPTY_OPTIONAL } bind_kind;

typedef struct ctx_input {
    bind_kind bound;
    const void *data;
    size_t size;
    int has_shape;
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    kiln_value seq; /* BIND_SEQUENCE: the copied items */
} ctx_input;

typedef struct ctx_output {
    void *data;
    size_t cap;
    kiln_tensor_view *views; /* get_output_sequence results, valid until the next run */
    int cap_views;
} ctx_output;

struct kiln_context {
    kiln_handle_hdr hdr;
    kiln_engine *e;
    kiln_exec *exec;          /* CPU engines */
    struct kiln_cuda_exec *cexec; /* CUDA engines */
    ctx_input *in;   /* per engine input (io index) */
    ctx_output *out; /* per engine output (io index - n_inputs) */
    int ran;
};

static const kiln_type *io_type(const kiln_engine *e, const kiln_engine_io *io) {
    return &e->plan.graph->values[io->value].type;
}

/* A tensor input's static shape, when every dim is known. */
static int static_shape(const kiln_type *t) {
    if (t->rank < 0) return 0;
    for (int d = 0; d < t->rank; d++)
        if (t->dims[d].v < 0) return 0;
    return 1;
}

static kiln_status context_create(kiln_engine *e, int own_memory, kiln_context **out) {
    KILN_CHECK_HANDLE(e, KILN_MAGIC_ENGINE, "engine");
    if (!out) return kiln_handle_fail(e, kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_context_create: out is NULL"));
    *out = NULL;
    kiln_context *c = calloc(1, sizeof *c);
    if (!c) return kiln_handle_fail(e, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory creating a context"));
    c->hdr.magic = KILN_MAGIC_CONTEXT;
    c->e = e;
    c->in = calloc((size_t)e->n_inputs + 1, sizeof *c->in);
    c->out = calloc((size_t)(e->n_io - e->n_inputs) + 1, sizeof *c->out);
    kiln_status st = !c->in || !c->out ? kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory") : KILN_OK;
#ifdef KILN_HAVE_CUDA
    if (st == KILN_OK && e->cuda) st = kiln_cuda_exec_create(e->cuda, own_memory, &c->cexec);
    if (st == KILN_OK && c->cexec) kiln_cuda_exec_set_logger(c->cexec, &e->logger);
#endif
    if (st == KILN_OK && e->prog) st = kiln_exec_create(e->prog, NULL, &c->exec);
    if (st != KILN_OK) {
        kiln_context_destroy(c);
        return kiln_handle_fail(e, st);
    }
    for (int i = 0; i < e->n_inputs; i++) {
        const kiln_type *t = io_type(e, &e->io[i]);
        int tensorish = t->kind == KILN_KIND_TENSOR || (t->kind == KILN_KIND_OPTIONAL && t->elem_kind == KILN_KIND_TENSOR);
        if (tensorish && static_shape(t)) {
            c->in[i].has_shape = 1;
            c->in[i].rank = t->rank;
            for (int d = 0; d < t->rank; d++) c->in[i].dims[d] = t->dims[d].v;
        }
    }
    *out = c;
    return KILN_OK;
}

kiln_status kiln_context_create(kiln_engine *e, kiln_context **out) { return context_create(e, 1, out); }

kiln_status kiln_context_create_without_device_memory(kiln_engine *e, kiln_context **out) {
    return context_create(e, 0, out);
}

kiln_status kiln_context_set_device_memory(kiln_context *c, void *ptr, size_t size_bytes) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONTEXT, "context");
#ifdef KILN_HAVE_CUDA
    if (c->cexec) {
        kiln_status st = kiln_cuda_exec_set_memory(c->cexec, ptr, size_bytes);
        return st == KILN_OK ? st : kiln_handle_fail(c, st);
    }
#endif
    (void)ptr, (void)size_bytes; /* CPU engines keep their activations in host memory */
    return KILN_OK;
}

kiln_status kiln_context_set_cuda_graphs(kiln_context *c, int on) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONTEXT, "context");
#ifdef KILN_HAVE_CUDA
    if (c->cexec) kiln_cuda_exec_set_graphs(c->cexec, on);
#endif
    (void)on;
    return KILN_OK;
}

void kiln_context_destroy(kiln_context *c) {
    if (!c || c->hdr.magic != KILN_MAGIC_CONTEXT) return;
    c->hdr.magic = KILN_MAGIC_DEAD;
    kiln_exec_destroy(c->exec);
#ifdef KILN_HAVE_CUDA
    kiln_cuda_exec_destroy(c->cexec);
#endif
    for (int i = 0; c->in && i < c->e->n_inputs; i++) kiln_value_release(&c->in[i].seq);
    for (int i = 0; c->out && i < c->e->n_io - c->e->n_inputs; i++) free(c->out[i].views);
    free(c->in);
    free(c->out);
    free(c);
}

static kiln_status find_input(kiln_context *c, const char *name, int *index) {
    KILN_FAIL_IF(!name, KILN_ERR_INVALID_ARGUMENT, "tensor name is NULL");
    const kiln_engine_io *io = kiln_engine_find_io(c->e, name);
    KILN_FAIL_IF(!io, KILN_ERR_INVALID_ARGUMENT, "the engine has no input '%s'", name);
    KILN_FAIL_IF(io->mode != KILN_IO_INPUT, KILN_ERR_INVALID_ARGUMENT, "'%s' is an output, not an input", name);
    *index = (int)(io - c->e->io);
    return KILN_OK;
}

static int fits(const kiln_shape_range *r, int rank, const int64_t *dims) {
    if (r->rank != rank) return 0;
    for (int d = 0; d < rank; d++)
        if (dims[d] < r->min[d] || dims[d] > r->max[d]) return 0;
    return 1;
}

static kiln_status check_shape(const kiln_engine *e, const kiln_engine_io *io, int rank, const int64_t *dims) {
    const kiln_type *t = io_type(e, io);
    KILN_FAIL_IF(t->kind == KILN_KIND_SEQUENCE, KILN_ERR_INVALID_ARGUMENT,
                 "input '%s' is a sequence: bind it with kiln_context_set_input_sequence", io->name);
    KILN_FAIL_IF(rank < 0 || rank > KILN_MAX_DIMS, KILN_ERR_SHAPE, "input '%s': rank %d is outside 0..%d", io->name,
                 rank, KILN_MAX_DIMS);
    KILN_FAIL_IF(rank > 0 && !dims, KILN_ERR_INVALID_ARGUMENT, "input '%s': dims is NULL", io->name);
    for (int d = 0; d < rank; d++)
        KILN_FAIL_IF(dims[d] < 0, KILN_ERR_SHAPE, "input '%s' dim %d = %lld is negative", io->name, d,
                     (long long)dims[d]);
    KILN_FAIL_IF(kiln_numel(rank, dims) < 0, KILN_ERR_SHAPE, "input '%s': the element count overflows", io->name);
    if (t->rank >= 0) {
        KILN_FAIL_IF(rank != t->rank, KILN_ERR_SHAPE, "input '%s' has rank %d, given a shape of rank %d", io->name,
                     t->rank, rank);
        for (int d = 0; d < rank; d++)
            KILN_FAIL_IF(t->dims[d].v >= 0 && dims[d] != t->dims[d].v, KILN_ERR_SHAPE,
                         "input '%s' dim %d is fixed to %lld, given %lld", io->name, d, (long long)t->dims[d].v,
                         (long long)dims[d]);
    }
    int n_ranges = 0;
    const kiln_shape_range *first = NULL;
    for (int p = 0; p < e->plan.n_profiles; p++) {
        const kiln_shape_range *r = kiln_profile_data_find(&e->plan.profiles[p], io->name);
        if (!r) continue;
        if (fits(r, rank, dims)) return KILN_OK;
        if (!first) first = r;
        n_ranges++;
    }
    if (!first) return KILN_OK;
    KILN_FAIL_IF(first->rank != rank, KILN_ERR_SHAPE, "input '%s': the profile has rank %d, given rank %d", io->name,
                 first->rank, rank);
    for (int d = 0; d < rank; d++)
        if (dims[d] < first->min[d] || dims[d] > first->max[d])
            return kiln_error(KILN_ERR_SHAPE, "input '%s' dim %d = %lld is outside the profile range [%lld, %lld]%s",
                              io->name, d, (long long)dims[d], (long long)first->min[d], (long long)first->max[d],
                              n_ranges > 1 ? " (and outside every other profile's range)" : "");
    return kiln_error(KILN_ERR_SHAPE, "input '%s': the shape fits no optimization profile", io->name);
}

kiln_status kiln_context_set_input_shape(kiln_context *c, const char *name, int rank, const int64_t *dims) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONTEXT, "context");
    int i;
    kiln_status st = find_input(c, name, &i);
    if (st == KILN_OK) st = check_shape(c->e, &c->e->io[i], rank, dims);
    if (st != KILN_OK) return kiln_handle_fail(c, st);
    ctx_input *in = &c->in[i];
    in->has_shape = 1;
    in->rank = rank;
    for (int d = 0; d < rank; d++) in->dims[d] = dims[d];
    return KILN_OK;
}

#ifdef KILN_HAVE_CUDA
/* CUDA engines: a tensor address must be memory the GPU can address, and large enough for the shape bound now
 * (inputs: the shape set or declared; outputs: a fully static declared shape). Enqueue checks sizes again, since a
 * later set_input_shape may change what is needed. */
static kiln_status check_cuda_address(kiln_context *c, const kiln_engine_io *io, const void *data, size_t size) {
    const kiln_type *t = io_type(c->e, io);
    if (t->kind != KILN_KIND_TENSOR || t->dtype == KILN_STRING) return KILN_OK; /* host values */
    const char *mode = io->mode == KILN_IO_INPUT ? "input" : "output";
    char what[320];
    snprintf(what, sizeof what, "%s '%s'", mode, io->name);
    KILN_TRY(kiln_cuda_check_device_pointer(data, what));
    int rank = -1;
    const int64_t *dims = NULL;
    int64_t sdims[KILN_MAX_DIMS];
    if (io->mode == KILN_IO_INPUT && c->in[io - c->e->io].has_shape) {
        rank = c->in[io - c->e->io].rank;
        dims = c->in[io - c->e->io].dims;
    } else if (io->mode == KILN_IO_OUTPUT && static_shape(t)) {
        rank = t->rank;
        for (int d = 0; d < rank; d++) sdims[d] = t->dims[d].v;
        dims = sdims;
    }
    size_t es = kiln_dtype_size(t->dtype);
    if (rank < 0 || !es) return KILN_OK;
    int64_t n = kiln_numel(rank, dims);
    if (n < 0 || (uint64_t)n > SIZE_MAX / es) return KILN_OK; /* enqueue reports the overflow */
    char shape[256];
    KILN_FAIL_IF(size < (size_t)n * es, KILN_ERR_SHAPE, "%s: the buffer has %zu bytes, shape %s of %s needs %zu", what,
                 size, kiln_shape_str(rank, dims, shape, sizeof shape), kiln_dtype_name(t->dtype), (size_t)n * es);
    return KILN_OK;
}
#endif

kiln_status kiln_context_set_tensor_address(kiln_context *c, const char *name, void *data, size_t size_bytes) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONTEXT, "context");
    const kiln_engine_io *io = name ? kiln_engine_find_io(c->e, name) : NULL;
    if (!io)
        return kiln_handle_fail(c, kiln_error(KILN_ERR_INVALID_ARGUMENT, "the engine has no input or output '%s'",
                                              name ? name : "(NULL)"));
#ifdef KILN_HAVE_CUDA
    if (c->cexec && data) {
        kiln_status cst = check_cuda_address(c, io, data, size_bytes);
        if (cst != KILN_OK) return kiln_handle_fail(c, cst);
    }
#endif
    if (io->mode == KILN_IO_OUTPUT) {
        ctx_output *o = &c->out[io - c->e->io - c->e->n_inputs];
        o->data = data; /* NULL unbinds: the context holds the output */
        o->cap = data ? size_bytes : 0;
        return KILN_OK;
    }
    const kiln_type *t = io_type(c->e, io);
    kiln_status st = KILN_OK;
    if (t->kind == KILN_KIND_SEQUENCE || (t->kind == KILN_KIND_OPTIONAL && t->elem_kind == KILN_KIND_SEQUENCE))
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "input '%s' is a sequence: bind it with kiln_context_set_input_sequence", name);
    else if (!data && size_bytes)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "input '%s': data is NULL but size is %zu bytes", name, size_bytes);
    if (st != KILN_OK) return kiln_handle_fail(c, st);
    ctx_input *in = &c->in[io - c->e->io];
    kiln_value_release(&in->seq);
    in->bound = BIND_TENSOR;
    in->data = data;
    in->size = size_bytes;
    return KILN_OK;
}

kiln_status kiln_context_set_input_sequence(kiln_context *c, const char *name, const kiln_tensor_view *items,
                                            int n_items, kiln_dtype elem_dtype) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONTEXT, "context");
    int i;
    kiln_status st = find_input(c, name, &i);
    const kiln_type *t = st == KILN_OK ? io_type(c->e, &c->e->io[i]) : NULL;
    if (st == KILN_OK && t->kind != KILN_KIND_SEQUENCE &&
        !(t->kind == KILN_KIND_OPTIONAL && t->elem_kind == KILN_KIND_SEQUENCE))
        st = kiln_error(KILN_ERR_TYPE, "input '%s' is not a sequence", name);
    else if (st == KILN_OK && (n_items < 0 || (n_items > 0 && !items)))
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "input '%s': %d items at %p", name, n_items, (const void *)items);
    else if (st == KILN_OK && !kiln_dtype_is_valid(elem_dtype))
        st = kiln_error(KILN_ERR_TYPE, "input '%s': invalid element dtype %d", name, (int)elem_dtype);
    else if (st == KILN_OK && t->dtype != KILN_UNDEFINED && elem_dtype != t->dtype)
        st = kiln_error(KILN_ERR_TYPE, "input '%s' is a sequence of %s, given %s", name, kiln_dtype_name(t->dtype),
                        kiln_dtype_name(elem_dtype));
    for (int k = 0; st == KILN_OK && k < n_items; k++) {
        const kiln_tensor_view *v = &items[k];
        if (v->dtype != elem_dtype)
            st = kiln_error(KILN_ERR_TYPE, "input '%s' item %d is %s, the sequence holds %s", name, k,
                            kiln_dtype_name(v->dtype), kiln_dtype_name(elem_dtype));
        else if (v->rank < 0 || v->rank > KILN_MAX_DIMS || kiln_numel(v->rank, v->dims) < 0)
            st = kiln_error(KILN_ERR_SHAPE, "input '%s' item %d has an invalid shape", name, k);
        else if (v->size_bytes < (size_t)kiln_numel(v->rank, v->dims) * kiln_dtype_size(v->dtype) ||
                 (!v->data && kiln_numel(v->rank, v->dims) > 0))
            st = kiln_error(KILN_ERR_SHAPE, "input '%s' item %d: %zu bytes given, its shape needs %zu", name, k,
                            v->size_bytes, (size_t)kiln_numel(v->rank, v->dims) * kiln_dtype_size(v->dtype));
    }
    if (st != KILN_OK) return kiln_handle_fail(c, st);
    ctx_input *in = &c->in[i];
    kiln_value_set_sequence(&in->seq, elem_dtype);
    for (int k = 0; k < n_items && st == KILN_OK; k++) {
        kiln_tensor tv = {0};
        tv.dtype = items[k].dtype;
        tv.rank = items[k].rank;
        memcpy(tv.dims, items[k].dims, sizeof tv.dims);
        tv.data = items[k].data;
        st = kiln_value_seq_append(&in->seq, &tv); /* deep copy: the caller's items may go away */
    }
    if (st != KILN_OK) {
        kiln_value_release(&in->seq);
        in->bound = BIND_NONE;
        return kiln_handle_fail(c, st);
    }
    in->bound = BIND_SEQUENCE;
    return KILN_OK;
}

kiln_status kiln_context_set_input_none(kiln_context *c, const char *name) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONTEXT, "context");
    int i;
    kiln_status st = find_input(c, name, &i);
    if (st == KILN_OK && io_type(c->e, &c->e->io[i])->kind != KILN_KIND_OPTIONAL)
        st = kiln_error(KILN_ERR_TYPE, "input '%s' is not optional: it cannot be None", name);
    if (st != KILN_OK) return kiln_handle_fail(c, st);
    kiln_value_release(&c->in[i].seq);
    c->in[i].bound = BIND_EMPTY_OPTIONAL;
    return KILN_OK;
}

/* Dims that share a symbolic name (ONNX dim_param) are one size, across all inputs. */
static kiln_status check_symbols(kiln_context *c) {
    const kiln_engine *e = c->e;
    for (int i = 0; i < e->n_inputs; i++) {
        if (c->in[i].bound != BIND_TENSOR) continue;
        const kiln_type *ti = io_type(e, &e->io[i]);
        for (int d = 0; d < ti->rank && d < c->in[i].rank; d++) {
            const char *sym = ti->dims[d].sym;
            if (!sym || !*sym) continue;
            for (int j = i; j < e->n_inputs; j++) {
                if (c->in[j].bound != BIND_TENSOR) continue;
                const kiln_type *tj = io_type(e, &e->io[j]);
                for (int q = j == i ? d + 1 : 0; q < tj->rank && q < c->in[j].rank; q++)
                    KILN_FAIL_IF(tj->dims[q].sym && !strcmp(tj->dims[q].sym, sym) &&
                                     c->in[j].dims[q] != c->in[i].dims[d],
                                 KILN_ERR_SHAPE,
                                 "input '%s' dim %d = %lld and input '%s' dim %d = %lld are both '%s': they must be "
                                 "equal",
                                 e->io[i].name, d, (long long)c->in[i].dims[d], e->io[j].name, q,
                                 (long long)c->in[j].dims[q], sym);
            }
        }
    }
    return KILN_OK;
}

/* With several profiles, the input shapes together must fit one of them. */
static kiln_status check_profiles_jointly(kiln_context *c) {
    const kiln_engine *e = c->e;
    if (e->plan.n_profiles <= 1) return KILN_OK;
    for (int p = 0; p < e->plan.n_profiles; p++) {
        int ok = 1;
        for (int i = 0; i < e->n_inputs && ok; i++) {
            const kiln_shape_range *r = kiln_profile_data_find(&e->plan.profiles[p], e->io[i].name);
            if (r && c->in[i].bound == BIND_TENSOR) ok = fits(r, c->in[i].rank, c->in[i].dims);
        }
        if (ok) return KILN_OK;
    }
    return kiln_error(KILN_ERR_SHAPE, "the input shapes fit no single optimization profile (each fits one, but not "
                      "the same one)");
}

#ifdef KILN_HAVE_CUDA
/* CUDA engines: tensors are device memory bound by the caller; sequences and optionals live on the host. */
static kiln_status bind_inputs_cuda(kiln_context *c) {
    const kiln_engine *e = c->e;
    for (int i = 0; i < e->n_inputs; i++) {
        const kiln_engine_io *io = &e->io[i];
        const kiln_type *t = io_type(e, io);
        ctx_input *in = &c->in[i];
        kiln_value none = {0};
        none.kind = KILN_V_NONE;
        none.elem_dtype = t->dtype;
        switch (in->bound) {
        case BIND_NONE:
            KILN_FAIL_IF(t->kind != KILN_KIND_OPTIONAL, KILN_ERR_INVALID_ARGUMENT,
                         "input '%s' is not bound (kiln_context_set_tensor_address)", io->name);
            KILN_TRY(kiln_cuda_exec_bind_host(c->cexec, io->slot, &none));
            break;
        case BIND_EMPTY_OPTIONAL: KILN_TRY(kiln_cuda_exec_bind_host(c->cexec, io->slot, &none)); break;
        case BIND_SEQUENCE: KILN_TRY(kiln_cuda_exec_bind_host(c->cexec, io->slot, &in->seq)); break;
        case BIND_TENSOR: {
            KILN_FAIL_IF(!in->has_shape, KILN_ERR_SHAPE, "input '%s' has dynamic dims and no shape "
                         "(kiln_context_set_input_shape)", io->name);
            int64_t n = kiln_numel(in->rank, in->dims);
            KILN_FAIL_IF(n < 0 || (uint64_t)n > SIZE_MAX / kiln_dtype_size(t->dtype), KILN_ERR_SHAPE,
                         "input '%s': the shape's byte size overflows", io->name);
            size_t need = (size_t)n * kiln_dtype_size(t->dtype);
            KILN_FAIL_IF(in->size < need, KILN_ERR_SHAPE, "input '%s': the bound GPU buffer has %zu bytes, %zu needed",
                         io->name, in->size, need);
            if (t->dtype == KILN_STRING) { /* strings never live on the GPU: the bound address is host memory */
                kiln_value sv = {0};
                sv.kind = KILN_V_TENSOR;
                sv.t.dtype = t->dtype;
                sv.t.rank = in->rank;
                memcpy(sv.t.dims, in->dims, sizeof sv.t.dims);
                sv.t.data = (void *)in->data;
                KILN_TRY(kiln_cuda_exec_bind_host(c->cexec, io->slot, &sv));
                break;
            }
            KILN_TRY(kiln_cuda_exec_bind_device(c->cexec, io->slot, t->dtype, in->rank, in->dims, in->data));
            break;
        }
        }
    }
    return check_profiles_jointly(c);
}

static kiln_status run_cuda(kiln_context *c, void *stream) {
    const kiln_engine *e = c->e;
    KILN_TRY(bind_inputs_cuda(c));
    KILN_TRY(kiln_cuda_exec_run(c->cexec, stream));
    for (int k = 0; k < e->n_io - e->n_inputs; k++) {
        const kiln_engine_io *io = &e->io[e->n_inputs + k];
        if (c->out[k].data) KILN_TRY(kiln_cuda_exec_copy_output(c->cexec, io->slot, c->out[k].data, c->out[k].cap, 1));
    }
    /* without a caller stream the call is synchronous, as kiln_context_execute promises */
    if (!stream) KILN_TRY(kiln_cuda_exec_sync(c->cexec));
    return KILN_OK;
}
#endif

static kiln_status bind_inputs(kiln_context *c) {
    const kiln_engine *e = c->e;
    for (int i = 0; i < e->n_inputs; i++) {
        const kiln_engine_io *io = &e->io[i];
        const kiln_type *t = io_type(e, io);
        ctx_input *in = &c->in[i];
        kiln_value *v = kiln_exec_input(c->exec, io->slot);
        switch (in->bound) {
        case BIND_NONE:
            KILN_FAIL_IF(t->kind != KILN_KIND_OPTIONAL, KILN_ERR_INVALID_ARGUMENT,
                         "input '%s' is not bound (kiln_context_set_tensor_address)", io->name);
            kiln_value_release(v);
            v->kind = KILN_V_NONE;
            break;
        case BIND_EMPTY_OPTIONAL:
            kiln_value_release(v);
            v->kind = KILN_V_NONE;
            v->elem_dtype = t->dtype;
            break;
        case BIND_SEQUENCE: KILN_TRY(kiln_value_copy(v, &in->seq)); break;
        case BIND_TENSOR: {
            KILN_FAIL_IF(!in->has_shape, KILN_ERR_SHAPE, "input '%s' has dynamic dims and no shape "
                         "(kiln_context_set_input_shape)", io->name);
            KILN_FAIL_IF(t->dtype == KILN_UNDEFINED, KILN_ERR_TYPE, "input '%s' has no declared dtype", io->name);
            int64_t n = kiln_numel(in->rank, in->dims);
            KILN_FAIL_IF(n < 0 || (uint64_t)n > SIZE_MAX / kiln_dtype_size(t->dtype), KILN_ERR_SHAPE,
                         "input '%s': the shape's byte size overflows", io->name);
            size_t need = (size_t)n * kiln_dtype_size(t->dtype);
            char shape[256];
            KILN_FAIL_IF(in->size < need, KILN_ERR_SHAPE,
                         "input '%s': the bound buffer has %zu bytes, shape %s of %s needs %zu", io->name, in->size,
                         kiln_shape_str(in->rank, in->dims, shape, sizeof shape), kiln_dtype_name(t->dtype), need);
            if (v->kind == KILN_V_SEQUENCE) kiln_value_release(v);
            kiln_tensor view = {0};
            view.dtype = t->dtype;
            view.rank = in->rank;
            memcpy(view.dims, in->dims, sizeof view.dims);
            view.data = (void *)in->data; /* borrowed for the run; kernels never write their inputs */
            kiln_tensor_borrow(&v->t, &view);
            v->kind = KILN_V_TENSOR;
            break;
        }
        }
    }
    KILN_TRY(check_symbols(c));
    return check_profiles_jointly(c);
}

static kiln_status copy_outputs(kiln_context *c) {
    const kiln_engine *e = c->e;
    for (int k = 0; k < e->n_io - e->n_inputs; k++) {
        const kiln_engine_io *io = &e->io[e->n_inputs + k];
        ctx_output *o = &c->out[k];
        if (!o->data) continue;
        const kiln_value *v = kiln_exec_output(c->exec, io->slot);
        KILN_FAIL_IF(v->kind != KILN_V_TENSOR, KILN_ERR_TYPE,
                     "output '%s' is not a tensor this run: read it with kiln_context_get_output", io->name);
        size_t need = kiln_tensor_nbytes(&v->t);
        char shape[256];
        KILN_FAIL_IF(need > o->cap, KILN_ERR_SHAPE,
                     "output '%s': the bound buffer has %zu bytes, the result (shape %s of %s) needs %zu", io->name,
                     o->cap, kiln_shape_str(v->t.rank, v->t.dims, shape, sizeof shape), kiln_dtype_name(v->t.dtype),
                     need);
        if (need && o->data != v->t.data) memcpy(o->data, v->t.data, need);
    }
    return KILN_OK;
}

kiln_status kiln_context_enqueue(kiln_context *c, void *stream) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONTEXT, "context");
    if (stream && c->e->plan.meta.backend == KILN_BACKEND_CPU)
        return kiln_handle_fail(c, kiln_error(KILN_ERR_INVALID_ARGUMENT,
                                              "this engine runs on the CPU: the stream must be NULL"));
    c->ran = 0;
    kiln_status st;
#ifdef KILN_HAVE_CUDA
    if (c->cexec) {
        st = run_cuda(c, stream);
        if (st != KILN_OK) return kiln_handle_fail(c, st);
        c->ran = 1;
        return KILN_OK;
    }
#endif
    st = bind_inputs(c);
    if (st == KILN_OK) st = kiln_exec_run(c->exec);
    if (st == KILN_OK) st = copy_outputs(c);
    if (st != KILN_OK) return kiln_handle_fail(c, st);
    c->ran = 1;
    return KILN_OK;
}

kiln_status kiln_context_execute(kiln_context *c) { return kiln_context_enqueue(c, NULL); }

static kiln_status find_output(kiln_context *c, const char *name, const kiln_value **v, int *k) {
    KILN_FAIL_IF(!name, KILN_ERR_INVALID_ARGUMENT, "tensor name is NULL");
    const kiln_engine_io *io = NULL;
    for (int i = c->e->n_inputs; i < c->e->n_io && !io; i++)
        if (!strcmp(c->e->io[i].name, name)) io = &c->e->io[i];
    KILN_FAIL_IF(!io, KILN_ERR_INVALID_ARGUMENT, "the engine has no output '%s'", name);
    KILN_FAIL_IF(!c->ran, KILN_ERR_INVALID_ARGUMENT, "no results: the last execution failed or none ran yet");
    *k = (int)(io - c->e->io) - c->e->n_inputs;
#ifdef KILN_HAVE_CUDA
    if (c->cexec) {
        const void *dev;
        int on_device;
        return kiln_cuda_exec_output(c->cexec, io->slot, v, &dev, &on_device);
    }
#endif
    *v = kiln_exec_output(c->exec, io->slot);
    return KILN_OK;
}

static void view_of(const kiln_tensor *t, kiln_tensor_view *out) {
    memset(out, 0, sizeof *out);
    out->dtype = t->dtype;
    out->rank = t->rank;
    memcpy(out->dims, t->dims, sizeof out->dims);
    out->data = t->data;
    out->size_bytes = kiln_tensor_nbytes(t);
}

kiln_status kiln_context_get_output(kiln_context *c, const char *name, kiln_value_kind *kind,
                                    kiln_tensor_view *tensor) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONTEXT, "context");
    const kiln_value *v;
    int k;
    kiln_status st = find_output(c, name, &v, &k);
    if (st != KILN_OK) return kiln_handle_fail(c, st);
    kiln_value_kind kd = v->kind == KILN_V_TENSOR ? KILN_KIND_TENSOR
                         : v->kind == KILN_V_SEQUENCE ? KILN_KIND_SEQUENCE
                                                      : KILN_KIND_NONE;
    if (kind) *kind = kd;
    if (tensor) {
        if (kd == KILN_KIND_TENSOR) {
            view_of(&v->t, tensor);
            /* CUDA engines: tensor data is read with kiln_context_copy_output; the view gives dtype and shape */
            if (c->cexec) tensor->data = NULL;
        } else {
            memset(tensor, 0, sizeof *tensor);
            tensor->dtype = v->elem_dtype;
        }
    }
    return KILN_OK;
}

kiln_status kiln_context_get_output_sequence(kiln_context *c, const char *name, int *n_items,
                                             const kiln_tensor_view **items) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONTEXT, "context");
    const kiln_value *v;
    int k;
    kiln_status st = find_output(c, name, &v, &k);
    if (st == KILN_OK && (!n_items || !items)) st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "n_items or items is NULL");
    if (st == KILN_OK && v->kind != KILN_V_SEQUENCE)
        st = kiln_error(KILN_ERR_TYPE, "output '%s' is not a sequence this run", name);
    ctx_output *o = st == KILN_OK ? &c->out[k] : NULL;
    if (st == KILN_OK && v->n_items > o->cap_views) {
        kiln_tensor_view *nv = realloc(o->views, sizeof *nv * (size_t)v->n_items);
        if (!nv)
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        else
            o->views = nv, o->cap_views = v->n_items;
    }
    if (st != KILN_OK) return kiln_handle_fail(c, st);
    for (int i = 0; i < v->n_items; i++) view_of(&v->items[i], &o->views[i]);
    *n_items = v->n_items;
    *items = o->views;
    return KILN_OK;
}

kiln_status kiln_context_set_profiler(kiln_context *c, kiln_profiler_fn fn, void *user) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONTEXT, "context");
#ifdef KILN_HAVE_CUDA
    if (c->cexec) {
        kiln_cuda_exec_set_profiler(c->cexec, fn, user);
        return KILN_OK;
    }
#endif
    kiln_exec_set_profiler(c->exec, fn, user);
    return KILN_OK;
}

kiln_status kiln_context_copy_output(kiln_context *c, const char *name, void *dst, size_t size_bytes) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONTEXT, "context");
    const kiln_value *v;
    int k;
    kiln_status st = find_output(c, name, &v, &k);
    if (st == KILN_OK && !dst) st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_context_copy_output: dst is NULL");
    if (st == KILN_OK && v->kind != KILN_V_TENSOR) st = kiln_error(KILN_ERR_TYPE, "output '%s' is not a tensor", name);
    if (st != KILN_OK) return kiln_handle_fail(c, st);
#ifdef KILN_HAVE_CUDA
    if (c->cexec) {
        st = kiln_cuda_exec_copy_output(c->cexec, c->e->io[c->e->n_inputs + k].slot, dst, size_bytes, 0);
        if (st == KILN_OK) st = kiln_cuda_exec_sync(c->cexec);
        return st == KILN_OK ? st : kiln_handle_fail(c, st);
    }
#endif
    size_t need = kiln_tensor_nbytes(&v->t);
    if (need > size_bytes)
        return kiln_handle_fail(c, kiln_error(KILN_ERR_SHAPE, "output '%s' needs %zu bytes, the buffer has %zu", name,
                                              need, size_bytes));
    if (v->t.dtype == KILN_STRING)
        return kiln_handle_fail(c, kiln_error(KILN_ERR_TYPE, "output '%s' holds strings: read them through "
                                              "kiln_context_get_output", name));
    if (need) memcpy(dst, v->t.data, need);
    return KILN_OK;
}
