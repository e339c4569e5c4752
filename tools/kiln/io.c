/* Input and output values of `kiln run`: ONNX test-data files (input_<j>.pb / output_<j>.pb), random inputs, and
 * binding them to a context. */
#include <stdlib.h>
#include <string.h>

#include "cli_io.h"
#include "core/dtype.h"
#include "core/file.h"
#include "onnx/value_io.h"
#include "onnx/wire.h"
#include "runtime/engine.h"

int cli_io_list(const char *cmd, const kiln_engine *e, cli_io_list_t *out) {
    memset(out, 0, sizeof *out);
    int n = kiln_engine_io_count(e);
    if (n < 0) n = 0;
    out->items = calloc((size_t)(n ? n : 1), sizeof *out->items);
    if (!out->items) {
        cli_errorf(cmd, "out of memory");
        return CLI_FAIL;
    }
    for (int i = 0; i < n; i++) {
        cli_io *io = &out->items[i];
        io->name = kiln_engine_io_name(e, i);
        if (!io->name) return cli_api_fail(cmd, "listing the engine's inputs and outputs", KILN_ERR_INTERNAL, e);
        kiln_status s = kiln_engine_io_info(e, io->name, &io->mode, &io->kind, &io->dtype, &io->rank, io->dims);
        if (s != KILN_OK) {
            char what[512];
            snprintf(what, sizeof what, "querying tensor '%s'", io->name);
            return cli_api_fail(cmd, what, s, e);
        }
        /* The public API does not say what an optional holds; the engine's graph does. */
        io->elem_kind = KILN_KIND_TENSOR;
        const kiln_engine_io *eio = kiln_engine_find_io(e, io->name);
        if (eio && e->plan.graph && eio->value >= 0 && eio->value < e->plan.graph->n_values)
            io->elem_kind = e->plan.graph->values[eio->value].type.elem_kind;
        if (io->mode == KILN_IO_INPUT)
            out->n_inputs++;
        else
            out->n_outputs++;
    }
    out->n = n;
    return CLI_OK;
}

void cli_io_list_free(cli_io_list_t *l) {
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* The j-th input or output (inputs come first in the engine's I/O order). */
const cli_io *cli_io_at(const cli_io_list_t *l, kiln_io_mode mode, int j) {
    for (int i = 0, k = 0; i < l->n; i++) {
        if (l->items[i].mode != mode) continue;
        if (k++ == j) return &l->items[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------------ files */
int cli_value_read(const char *cmd, const char *path, const cli_io *io, kiln_value *v) {
    kiln_mapped_file f;
    kiln_status s = kiln_file_map(path, &f);
    if (s != KILN_OK) {
        char what[1200];
        snprintf(what, sizeof what, "reading input '%s' for '%s'", path, io->name);
        return cli_api_fail(cmd, what, s, NULL);
    }
    s = kiln_onnx_read_value(f.data, f.size, io->kind, io->dtype, v, NULL);
    kiln_file_unmap(&f);
    if (s != KILN_OK) {
        char what[1200];
        snprintf(what, sizeof what, "decoding '%s' (input '%s')", path, io->name);
        return cli_api_fail(cmd, what, s, NULL);
    }
    return CLI_OK;
}

int cli_value_write(const char *cmd, const char *path, const cli_io *io, const kiln_value *v) {
    kiln_pb_buf buf = {0};
    kiln_status s = kiln_onnx_write_value(v, io->kind, io->name, &buf);
    if (s == KILN_OK && buf.oom) s = KILN_ERR_OUT_OF_MEMORY;
    if (s == KILN_OK) s = kiln_file_write(path, buf.data, buf.len);
    kiln_pb_buf_free(&buf);
    if (s != KILN_OK) {
        char what[1200];
        snprintf(what, sizeof what, "writing output '%s' to '%s'", io->name, path);
        return cli_api_fail(cmd, what, s, NULL);
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------------------------------------ binding */
#ifdef KILN_HAVE_CUDA
#include <cuda_runtime_api.h>

/* GPU engines take GPU memory: the CLI stages tensors there, as any application would (the copies are the
 * caller's, outside the engine's timing). */
static void **dev_bufs;
static const void **dev_src; /* the host data each staged input was copied from (kept alive by the caller) */
static size_t *dev_size;
static int n_dev_bufs;

static void *to_device(const char *cmd, const kiln_tensor_view *tv) {
    void *d = NULL;
    size_t n = tv->size_bytes ? tv->size_bytes : 1;
    if (cudaMalloc(&d, n) != cudaSuccess) {
        cudaGetLastError();
        cli_errorf(cmd, "cannot allocate %zu bytes of GPU memory for an input", n);
        return NULL;
    }
    /* cudaMemcpy from pageable memory may return before the DMA lands: wait for it */
    if (tv->size_bytes && (cudaMemcpy(d, tv->data, tv->size_bytes, cudaMemcpyHostToDevice) != cudaSuccess ||
                           cudaDeviceSynchronize() != cudaSuccess)) {
        cudaGetLastError();
        cudaFree(d);
        cli_errorf(cmd, "cannot copy an input to the GPU");
        return NULL;
    }
    void **nb = realloc(dev_bufs, sizeof *nb * (size_t)(n_dev_bufs + 1));
    if (nb) dev_bufs = nb;
    const void **ns = nb ? realloc(dev_src, sizeof *ns * (size_t)(n_dev_bufs + 1)) : NULL;
    if (ns) dev_src = ns;
    size_t *nz = ns ? realloc(dev_size, sizeof *nz * (size_t)(n_dev_bufs + 1)) : NULL;
    if (!nz) {
        cudaFree(d);
        cli_errorf(cmd, "out of memory");
        return NULL;
    }
    dev_size = nz;
    dev_bufs[n_dev_bufs] = d;
    dev_src[n_dev_bufs] = tv->data;
    dev_size[n_dev_bufs++] = tv->size_bytes;
    return d;
}

int cli_restage_inputs(const char *cmd) {
    for (int i = 0; i < n_dev_bufs; i++)
        if (dev_size[i] && cudaMemcpy(dev_bufs[i], dev_src[i], dev_size[i], cudaMemcpyHostToDevice) != cudaSuccess) {
            cli_errorf(cmd, "cannot copy an input to the GPU: %s", cudaGetErrorString(cudaGetLastError()));
            return CLI_FAIL;
        }
    if (cudaDeviceSynchronize() != cudaSuccess) {
        cli_errorf(cmd, "GPU error after the input copies: %s", cudaGetErrorString(cudaGetLastError()));
        return CLI_FAIL;
    }
    return CLI_OK;
}

void cli_free_device_buffers(void) {
    for (int i = 0; i < n_dev_bufs; i++) cudaFree(dev_bufs[i]);
    free(dev_bufs);
    free(dev_src);
    free(dev_size);
    dev_bufs = NULL;
    dev_src = NULL;
    dev_size = NULL;
    n_dev_bufs = 0;
}
#else
int cli_restage_inputs(const char *cmd) {
    (void)cmd;
    return CLI_OK;
}
void cli_free_device_buffers(void) {}
#endif

kiln_backend cli_current_backend = KILN_BACKEND_CPU;

#ifdef KILN_HAVE_CUDA
static int engine_on_gpu(void) { return cli_current_backend == KILN_BACKEND_CUDA; }
#endif
static void view_from_tensor(kiln_tensor_view *dst, const kiln_tensor *t) {
    static char empty_storage[8];
    memset(dst, 0, sizeof *dst);
    dst->dtype = t->dtype;
    dst->rank = t->rank;
    memcpy(dst->dims, t->dims, sizeof dst->dims);
    dst->size_bytes = kiln_tensor_nbytes(t);
    /* A zero-element tensor has no storage; the context still wants a non-NULL address. */
    dst->data = t->data ? t->data : empty_storage;
}

int cli_bind_input(const char *cmd, kiln_context *ctx, const cli_io *io, const kiln_value *v) {
    kiln_status s = KILN_OK;
    const char *what = "binding";
    char buf[64];
    if (v->kind == KILN_V_TENSOR) {
        kiln_tensor_view tv;
        view_from_tensor(&tv, &v->t);
        what = "setting the shape of";
        s = kiln_context_set_input_shape(ctx, io->name, tv.rank, tv.dims);
        if (s == KILN_OK) {
            what = "binding";
            void *addr = tv.data;
#ifdef KILN_HAVE_CUDA
            if (engine_on_gpu() && tv.dtype != KILN_STRING && !(addr = to_device(cmd, &tv))) return CLI_FAIL;
#endif
            s = kiln_context_set_tensor_address(ctx, io->name, addr, tv.size_bytes);
        }
    } else if (v->kind == KILN_V_SEQUENCE) {
        kiln_tensor_view *items = calloc((size_t)(v->n_items ? v->n_items : 1), sizeof *items);
        if (!items) {
            cli_errorf(cmd, "out of memory");
            return CLI_FAIL;
        }
        for (int k = 0; k < v->n_items; k++) view_from_tensor(&items[k], &v->items[k]);
        s = kiln_context_set_input_sequence(ctx, io->name, items, v->n_items, v->elem_dtype);
        free(items);
    } else if (v->kind == KILN_V_NONE) {
        s = kiln_context_set_input_none(ctx, io->name);
    } else {
        cli_errorf(cmd, "input '%s' has no value", io->name);
        return CLI_FAIL;
    }
    if (s != KILN_OK) {
        char msg[1200];
        if (v->kind == KILN_V_TENSOR)
            snprintf(msg, sizeof msg, "%s input '%s' (%s %s)", what, io->name, kiln_dtype_name(v->t.dtype),
                     cli_dims_str(v->t.rank, v->t.dims, buf, sizeof buf));
        else
            snprintf(msg, sizeof msg, "%s input '%s'", what, io->name);
        return cli_api_fail(cmd, msg, s, ctx);
    }
    return CLI_OK;
}

int cli_fetch_output(const char *cmd, kiln_context *ctx, const cli_io *io, cli_output *out) {
    memset(out, 0, sizeof *out);
    kiln_value_kind kind;
    kiln_tensor_view tv;
    memset(&tv, 0, sizeof tv);
    char what[600];
    kiln_status s = kiln_context_get_output(ctx, io->name, &kind, &tv);
    if (s != KILN_OK) {
        snprintf(what, sizeof what, "fetching output '%s'", io->name);
        return cli_api_fail(cmd, what, s, ctx);
    }
    kiln_value *v = &out->value;
    if (kind == KILN_KIND_TENSOR) {
        v->kind = KILN_V_TENSOR;
        v->t.dtype = tv.dtype;
        v->t.rank = tv.rank;
        memcpy(v->t.dims, tv.dims, sizeof v->t.dims);
        v->t.data = tv.data;
        v->t.cap = tv.size_bytes;
        v->t.owned = 0;
        if (!tv.data && tv.size_bytes) { /* a GPU engine's output: copy it to the host */
            out->host_copy = malloc(tv.size_bytes);
            if (!out->host_copy) {
                cli_errorf(cmd, "out of memory");
                return CLI_FAIL;
            }
            s = kiln_context_copy_output(ctx, io->name, out->host_copy, tv.size_bytes);
            if (s != KILN_OK) {
                snprintf(what, sizeof what, "copying output '%s' to the host", io->name);
                return cli_api_fail(cmd, what, s, ctx);
            }
            v->t.data = out->host_copy;
        }
    } else if (kind == KILN_KIND_SEQUENCE) {
        int n = 0;
        const kiln_tensor_view *items = NULL;
        s = kiln_context_get_output_sequence(ctx, io->name, &n, &items);
        if (s != KILN_OK) {
            snprintf(what, sizeof what, "fetching output sequence '%s'", io->name);
            return cli_api_fail(cmd, what, s, ctx);
        }
        v->kind = KILN_V_SEQUENCE;
        v->elem_dtype = io->dtype;
        v->n_items = n;
        /* Borrowed item tensors: only the array is ours (cli_output_free), never the storage. */
        v->items = calloc((size_t)(n ? n : 1), sizeof *v->items);
        if (!v->items) {
            cli_errorf(cmd, "out of memory");
            return CLI_FAIL;
        }
        for (int k = 0; k < n; k++) {
            kiln_tensor *t = &v->items[k];
            t->dtype = items[k].dtype;
            t->rank = items[k].rank;
            memcpy(t->dims, items[k].dims, sizeof t->dims);
            t->data = items[k].data;
            t->cap = items[k].size_bytes;
            t->owned = 0;
            if (k == 0 && v->elem_dtype == KILN_UNDEFINED) v->elem_dtype = t->dtype;
        }
    } else if (kind == KILN_KIND_NONE) {
        v->kind = KILN_V_NONE;
        v->elem_dtype = io->dtype;
    } else {
        cli_errorf(cmd, "output '%s' came back as value kind %d, which kiln run cannot write", io->name, (int)kind);
        return CLI_FAIL;
    }
    return CLI_OK;
}

void cli_output_free(cli_output *o) {
    if (o->value.kind == KILN_V_SEQUENCE) free(o->value.items);
    free(o->host_copy);
    memset(o, 0, sizeof *o);
}

/* ------------------------------------------------------------------------------------------------ random */
static uint64_t rng_next(uint64_t *s) {
    /* splitmix64: tiny, seedable, and good enough for benchmark inputs. */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

int cli_random_tensor(const char *cmd, const char *name, kiln_dtype dtype, int rank, const int64_t *dims,
                      uint64_t *seed, kiln_tensor *t) {
    kiln_status s = kiln_tensor_alloc(t, dtype, rank, dims);
    if (s != KILN_OK) {
        char what[600], buf[64];
        snprintf(what, sizeof what, "allocating a random %s %s input '%s'", kiln_dtype_name(dtype),
                 cli_dims_str(rank, dims, buf, sizeof buf), name);
        return cli_api_fail(cmd, what, s, NULL);
    }
    int64_t n = kiln_tensor_numel(t);
    if (dtype == KILN_STRING) {
        for (int64_t i = 0; i < n; i++) {
            char sbuf[16];
            int len = snprintf(sbuf, sizeof sbuf, "s%u", (unsigned)(rng_next(seed) % 1000u));
            if (kiln_tensor_set_string(t, i, sbuf, (size_t)len) != KILN_OK) {
                cli_errorf(cmd, "out of memory");
                return CLI_FAIL;
            }
        }
        return CLI_OK;
    }
    /* Floats uniform in [-1, 1); integers small and non-negative so index-like inputs stay in range for most
     * shapes; bools 0/1. */
    for (int64_t i = 0; i < n; i++) {
        if (kiln_dtype_is_float(dtype))
            kiln_store_f64(dtype, t->data, i, rng_unit(seed) * 2.0 - 1.0);
        else if (dtype == KILN_BOOL)
            ((uint8_t *)t->data)[i] = (uint8_t)(rng_next(seed) & 1u);
        else if (kiln_dtype_is_int(dtype))
            kiln_store_i64(dtype, t->data, i, (int64_t)(rng_next(seed) % 4u));
        else if (dtype == KILN_COMPLEX64 || dtype == KILN_COMPLEX128) {
            /* Two float parts per element. */
            for (int k = 0; k < 2; k++) {
                if (dtype == KILN_COMPLEX64)
                    ((float *)t->data)[2 * i + k] = (float)(rng_unit(seed) * 2.0 - 1.0);
                else
                    ((double *)t->data)[2 * i + k] = rng_unit(seed) * 2.0 - 1.0;
            }
        }
    }
    return CLI_OK;
}
