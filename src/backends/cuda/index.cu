// CUDA kernels: index family (see registry.h): GatherElements, GatherND, Scatter / ScatterElements, ScatterND
// (reduction none / add / mul / max / min) and OneHot.
//
// Indices are read on the device. As in Gather (movement-index.cu), an out-of-range index is clamped into the axis
// so that nothing is read or written out of bounds, and recorded (index-record.cuh); kiln_cuda_take_kernel_errors()
// reports it after the stream has synchronized. Scatters start from a copy of the data and apply updates with
// atomics, so with reduction none and duplicate indices the winner is unspecified (the ONNX spec leaves that case
// undefined too).
#include <stdlib.h>

#include "backends/cuda/common.cuh"
#include "backends/cuda/index-record.cuh"

namespace kc {

__device__ __forceinline__ int64_t ix_load(const void *p, bool i64, int64_t i) {
    return i64 ? ((const int64_t *)p)[i] : (int64_t)((const int32_t *)p)[i];
}

static inline int is_index_dtype(kiln_dtype t) { return t == KILN_INT32 || t == KILN_INT64; }

// ---------------------------------------------------------------- element-wise index geometry -------------------
// For GatherElements / ScatterElements: iterate over the indices' shape; the data offset is the same multi-index
// with the axis coordinate replaced by the index value.
struct el_geom {
    int rank, axis, op; // op: index_op, for the out-of-range report
    int64_t idims[KILN_MAX_DIMS], xst[KILN_MAX_DIMS], len;
};

__device__ __forceinline__ int64_t el_offset(const el_geom &g, int64_t t, int64_t v) {
    int64_t off = 0;
    for (int d = g.rank - 1; d >= 0; d--) {
        int64_t q = t / g.idims[d], c = t - q * g.idims[d];
        off += (d == g.axis ? v : c) * g.xst[d];
        t = q;
    }
    return off;
}

template <typename B>
__global__ void gather_el_k(int64_t total, el_geom g, const B *x, const void *idx, bool i64, B *y) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t v = index_resolve(ix_load(idx, i64, t), g.len, g.op, g.axis);
        y[t] = v < 0 ? B(0) : x[el_offset(g, t, v)];
    }
}

static kiln_status el_setup(const kiln_cuda_kctx *k, const kiln_cuda_tensor *x, const kiln_cuda_tensor *ix,
                            const kiln_cuda_tensor *up, el_geom *g) {
    const char *op = k->node->op_type;
    int r = x->rank;
    int64_t axis = kiln_attr_int(k->node, "axis", 0);
    if (axis < 0) axis += r;
    KILN_FAIL_IF(axis < 0 || axis >= r, KILN_ERR_SHAPE, "%s: axis out of range for rank %d", op, r);
    char b1[256], b2[256];
    int ok = ix->rank == r && (!up || up->rank == r);
    for (int d = 0; ok && d < r; d++)
        ok = (d == axis || ix->dims[d] <= x->dims[d]) && (!up || up->dims[d] == ix->dims[d]);
    KILN_FAIL_IF(!ok, KILN_ERR_SHAPE, "%s: indices %s do not fit data %s", op, shape_str(ix, b1, sizeof b1),
                 shape_str(x, b2, sizeof b2));
    memset(g, 0, sizeof *g);
    g->rank = r;
    g->axis = (int)axis;
    g->op = index_op_of(op);
    g->len = x->dims[axis];
    contiguous_strides(r, x->dims, g->xst);
    for (int d = 0; d < r; d++) g->idims[d] = ix->dims[d];
    return KILN_OK;
}

static kiln_status gather_el_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, is_bits_dtype, "fixed-size dtypes"));
    return need_dtype(n, g, 1, is_index_dtype, "int32/int64 indices");
}

static kiln_status gather_el_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *ix;
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &ix));
    KILN_FAIL_IF(!is_bits_dtype(x->dtype) || !is_index_dtype(ix->dtype), KILN_ERR_TYPE,
                 "GatherElements: %s data with %s indices not supported on CUDA", kiln_dtype_name(x->dtype),
                 kiln_dtype_name(ix->dtype));
    el_geom g;
    KILN_TRY(el_setup(k, x, ix, NULL, &g));
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, ix->rank, ix->dims, &y));
    int64_t total = numel(ix);
    if (total == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    bool i64 = ix->dtype == KILN_INT64;
    with_bits(x->dtype, [&](auto t) {
        typedef decltype(t) B;
        gather_el_k<B><<<grid_for(total, 256), 256, 0, st>>>(total, g, (const B *)x->data, ix->data, i64,
                                                             (B *)y->data);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- scatter reductions -----------------------------
enum { RED_NONE = 0, RED_ADD = 1, RED_MUL = 2, RED_MAX = 3, RED_MIN = 4 };

static int scatter_reduction(const kiln_node *n) {
    const char *red = kiln_attr_string(n, "reduction", "none");
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(red, names[i])) return i >= RED_MAX && n->opset < 18 ? -1 : i;
    return -1;
}

// The combined value as the CPU computes it (integers wrap through the unsigned type; float max/min keep the
// destination when either side is NaN in the CPU's comparison order).
template <typename T> __device__ __forceinline__ T red_apply(int red, T d, T s) {
    switch (red) {
    case RED_ADD: return d + s;
    case RED_MUL: return d * s;
    case RED_MAX: return s > d ? s : d;
    default: return s < d ? s : d;
    }
}
template <> __device__ __forceinline__ int32_t red_apply<int32_t>(int red, int32_t d, int32_t s) {
    switch (red) {
    case RED_ADD: return (int32_t)((uint32_t)d + (uint32_t)s);
    case RED_MUL: return (int32_t)((uint32_t)d * (uint32_t)s);
    case RED_MAX: return s > d ? s : d;
    default: return s < d ? s : d;
    }
}
template <> __device__ __forceinline__ int64_t red_apply<int64_t>(int red, int64_t d, int64_t s) {
    switch (red) {
    case RED_ADD: return (int64_t)((uint64_t)d + (uint64_t)s);
    case RED_MUL: return (int64_t)((uint64_t)d * (uint64_t)s);
    case RED_MAX: return s > d ? s : d;
    default: return s < d ? s : d;
    }
}

// Atomic read-modify-write through a compare-and-swap on the element's bits.
template <typename T> __device__ __forceinline__ void atomic_red(T *p, T v, int red) {
    if (red == RED_NONE) {
        *p = v;
        return;
    }
    if constexpr (sizeof(T) == 4) {
        unsigned int *a = (unsigned int *)p, old = *a, seen;
        do {
            seen = old;
            T cur;
            memcpy(&cur, &seen, 4);
            T nv = red_apply<T>(red, cur, v);
            unsigned int nb;
            memcpy(&nb, &nv, 4);
            old = atomicCAS(a, seen, nb);
        } while (old != seen);
    } else if constexpr (sizeof(T) == 8) {
        unsigned long long *a = (unsigned long long *)p, old = *a, seen;
        do {
            seen = old;
            T cur;
            memcpy(&cur, &seen, 8);
            T nv = red_apply<T>(red, cur, v);
            unsigned long long nb;
            memcpy(&nb, &nv, 8);
            old = atomicCAS(a, seen, nb);
        } while (old != seen);
    }
}

template <typename T>
__global__ void scatter_el_k(int64_t total, el_geom g, const void *idx, bool i64, const T *u, T *y, int red) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t v = index_resolve(ix_load(idx, i64, t), g.len, g.op, g.axis);
        if (v >= 0) atomic_red<T>(y + el_offset(g, t, v), u[t], red);
    }
}

static int red_dtype_ok(kiln_dtype t) { return t == KILN_FLOAT || t == KILN_INT32 || t == KILN_INT64; }

// Calls f(T()) with the element type a scatter runs in: any fixed-size dtype for reduction none (bits), float /
// int32 / int64 otherwise.
template <typename F> static bool with_scatter(kiln_dtype dt, int red, F &&f) {
    if (red == RED_NONE) return with_bits(dt, f);
    switch (dt) {
    case KILN_FLOAT: f(float()); return true;
    case KILN_INT32: f(int32_t()); return true;
    case KILN_INT64: f(int64_t()); return true;
    default: return false;
    }
}

static kiln_status scatter_supports(const kiln_node *n, const kiln_graph *g) {
    int red = scatter_reduction(n);
    KILN_FAIL_IF(red < 0, KILN_ERR_UNSUPPORTED, "%s reduction '%s' is not supported at opset %d", n->op_type,
                 kiln_attr_string(n, "reduction", "none"), n->opset);
    if (red == RED_NONE) KILN_TRY(need_dtype(n, g, 0, is_bits_dtype, "fixed-size dtypes"));
    else KILN_TRY(need_dtype(n, g, 0, red_dtype_ok, "reductions on float32 / int32 / int64"));
    KILN_TRY(need_same_dtype(n, g, 0, 2));
    return need_dtype(n, g, 1, is_index_dtype, "int32/int64 indices");
}

// y = x, then the updates; checks the dtypes.
static kiln_status scatter_begin(kiln_cuda_kctx *k, const kiln_cuda_tensor **x, const kiln_cuda_tensor **ix,
                                 const kiln_cuda_tensor **up, kiln_cuda_tensor **y, int *red) {
    const char *op = k->node->op_type;
    KILN_TRY(in_req(k, 0, x));
    KILN_TRY(in_req(k, 1, ix));
    KILN_TRY(in_req(k, 2, up));
    *red = scatter_reduction(k->node);
    KILN_FAIL_IF(*red < 0 || !is_index_dtype((*ix)->dtype) || (*up)->dtype != (*x)->dtype ||
                     !(*red == RED_NONE ? is_bits_dtype((*x)->dtype) : red_dtype_ok((*x)->dtype)),
                 KILN_ERR_TYPE, "%s: %s data, %s updates, %s indices not supported on CUDA", op,
                 kiln_dtype_name((*x)->dtype), kiln_dtype_name((*up)->dtype), kiln_dtype_name((*ix)->dtype));
    KILN_TRY(kiln_cuda_kout(k, 0, (*x)->dtype, (*x)->rank, (*x)->dims, y));
    size_t bytes = (size_t)numel(*x) * kiln_dtype_size((*x)->dtype);
    if (bytes) KILN_CUDA_CHECK(cudaMemcpyAsync((*y)->data, (*x)->data, bytes, cudaMemcpyDeviceToDevice, stream(k)));
    return KILN_OK;
}

static kiln_status scatter_el_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *ix, *up;
    kiln_cuda_tensor *y;
    int red;
    KILN_TRY(scatter_begin(k, &x, &ix, &up, &y, &red));
    el_geom g;
    KILN_TRY(el_setup(k, x, ix, up, &g));
    int64_t total = numel(ix);
    if (total == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    bool i64 = ix->dtype == KILN_INT64;
    with_scatter(x->dtype, red, [&](auto t) {
        typedef decltype(t) T;
        scatter_el_k<T><<<grid_for(total, 256), 256, 0, st>>>(total, g, ix->data, i64, (const T *)up->data,
                                                              (T *)y->data, red);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- GatherND / ScatterND -------------------------
// Index tuples of length k address data[b..., i0, ..., ik-1, :] (b: the batch_dims leading dims, shared).
struct nd_geom {
    int k, b, op; // b: batch_dims, the data axis of a tuple's first index; op: index_op
    int64_t per_batch, batch_stride, inner;
    int64_t dim[KILN_MAX_DIMS], stride[KILN_MAX_DIMS];
};

__device__ __forceinline__ int64_t nd_offset(const nd_geom &g, const void *idx, bool i64, int64_t tuple) {
    int64_t off = (tuple / g.per_batch) * g.batch_stride;
    for (int j = 0; j < g.k; j++) {
        int64_t v = index_resolve(ix_load(idx, i64, tuple * g.k + j), g.dim[j], g.op, g.b + j);
        if (v < 0) return -1;
        off += v * g.stride[j];
    }
    return off;
}

template <typename B>
__global__ void gather_nd_k(int64_t total, nd_geom g, const B *x, const void *idx, bool i64, B *y) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t tuple = t / g.inner, j = t - tuple * g.inner;
        int64_t off = nd_offset(g, idx, i64, tuple);
        y[t] = off < 0 ? B(0) : x[off + j];
    }
}

template <typename T>
__global__ void scatter_nd_k(int64_t total, nd_geom g, const void *idx, bool i64, const T *u, T *y, int red) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t tuple = t / g.inner, j = t - tuple * g.inner;
        int64_t off = nd_offset(g, idx, i64, tuple);
        if (off >= 0) atomic_red<T>(y + off + j, u[t], red);
    }
}

static kiln_status nd_setup(const char *op, const kiln_cuda_tensor *x, const kiln_cuda_tensor *ix, int64_t b,
                            nd_geom *g) {
    char b1[256], b2[256];
    int q = ix->rank, r = x->rank;
    KILN_FAIL_IF(q < 1, KILN_ERR_SHAPE, "%s: indices must have rank >= 1", op);
    int64_t kk = ix->dims[q - 1];
    KILN_FAIL_IF(b < 0 || b >= q || b >= r || kk > r - b || kk < 0, KILN_ERR_SHAPE,
                 "%s: indices %s do not fit data %s with batch_dims %lld", op, shape_str(ix, b1, sizeof b1),
                 shape_str(x, b2, sizeof b2), (long long)b);
    for (int d = 0; d < b; d++)
        KILN_FAIL_IF(ix->dims[d] != x->dims[d], KILN_ERR_SHAPE, "%s: batch dim %d differs: indices %s, data %s", op, d,
                     shape_str(ix, b1, sizeof b1), shape_str(x, b2, sizeof b2));
    memset(g, 0, sizeof *g);
    g->k = (int)kk;
    g->b = (int)b;
    g->op = index_op_of(op);
    g->per_batch = kiln_numel(q - 1 - (int)b, ix->dims + b);
    g->inner = kiln_numel(r - (int)b - (int)kk, x->dims + b + kk);
    g->batch_stride = kiln_numel(r - (int)b, x->dims + b);
    if (g->per_batch == 0) g->per_batch = 1; // no tuples at all: never divided by
    int64_t st[KILN_MAX_DIMS];
    contiguous_strides(r, x->dims, st);
    for (int j = 0; j < kk; j++) g->stride[j] = st[b + j], g->dim[j] = x->dims[b + j];
    return KILN_OK;
}

static kiln_status gather_nd_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *ix;
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &ix));
    KILN_FAIL_IF(!is_bits_dtype(x->dtype) || !is_index_dtype(ix->dtype), KILN_ERR_TYPE,
                 "GatherND: %s data with %s indices not supported on CUDA", kiln_dtype_name(x->dtype),
                 kiln_dtype_name(ix->dtype));
    int64_t b = kiln_attr_int(k->node, "batch_dims", 0);
    nd_geom g;
    KILN_TRY(nd_setup("GatherND", x, ix, b, &g));
    int64_t dims[KILN_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < ix->rank - 1; d++) dims[r++] = ix->dims[d];
    for (int d = (int)b + g.k; d < x->rank; d++) {
        KILN_FAIL_IF(r >= KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "GatherND: output rank exceeds kiln's limit");
        dims[r++] = x->dims[d];
    }
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, r, dims, &y));
    int64_t total = numel(y);
    if (total == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    bool i64 = ix->dtype == KILN_INT64;
    with_bits(x->dtype, [&](auto t) {
        typedef decltype(t) B;
        gather_nd_k<B><<<grid_for(total, 256), 256, 0, st>>>(total, g, (const B *)x->data, ix->data, i64,
                                                             (B *)y->data);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

static kiln_status gather_nd_supports(const kiln_node *n, const kiln_graph *g) { return gather_el_supports(n, g); }

static kiln_status scatter_nd_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *ix, *up;
    kiln_cuda_tensor *y;
    int red;
    KILN_TRY(scatter_begin(k, &x, &ix, &up, &y, &red));
    nd_geom g;
    KILN_TRY(nd_setup("ScatterND", x, ix, 0, &g));
    char b1[256], b2[256];
    int ur = ix->rank - 1 + x->rank - g.k, ok = up->rank == ur;
    for (int d = 0; ok && d < ix->rank - 1; d++) ok = up->dims[d] == ix->dims[d];
    for (int d = 0; ok && d < x->rank - g.k; d++) ok = up->dims[ix->rank - 1 + d] == x->dims[g.k + d];
    KILN_FAIL_IF(!ok, KILN_ERR_SHAPE, "ScatterND: updates %s do not match indices %s and the data",
                 shape_str(up, b1, sizeof b1), shape_str(ix, b2, sizeof b2));
    int64_t total = numel(up);
    if (total == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    bool i64 = ix->dtype == KILN_INT64;
    with_scatter(x->dtype, red, [&](auto t) {
        typedef decltype(t) T;
        scatter_nd_k<T><<<grid_for(total, 256), 256, 0, st>>>(total, g, ix->data, i64, (const T *)up->data,
                                                              (T *)y->data, red);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- OneHot -----------------------------------------
// y[o, p, i] = values[idx[o, i] == p] (negative indices count from depth; out of range: all off).
template <typename I, typename B>
__global__ void onehot_k(int64_t total, int64_t depth, int64_t inner, const I *idx, const B *vals, B *y) {
    B off = vals[0], on = vals[1];
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = t % inner, r = t / inner, p = r % depth, o = r / depth;
        double f = (double)to_f<I>(idx[o * inner + i]);
        bool hit = false;
        if (f == floor(f) && fabs(f) <= 1e15) {
            int64_t v = (int64_t)f;
            if (v < 0) v += depth;
            hit = v == p;
        }
        y[t] = hit ? on : off;
    }
}
// Integer indices compare exactly (no trip through float).
template <typename B>
__global__ void onehot_int_k(int64_t total, int64_t depth, int64_t inner, const void *idx, bool i64, const B *vals,
                             B *y) {
    B off = vals[0], on = vals[1];
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = t % inner, r = t / inner, p = r % depth, o = r / depth;
        int64_t v = ix_load(idx, i64, o * inner + i);
        if (v < 0) v += depth;
        y[t] = v == p ? on : off;
    }
}

static kiln_status onehot_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, [](kiln_dtype t) { return is_index_dtype(t) || is_float3(t); },
                        "int32/int64/float indices"));
    return need_dtype(n, g, 2, is_bits_dtype, "fixed-size values");
}

static kiln_status onehot_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *ix, *td, *tv;
    KILN_TRY(in_req(k, 0, &ix));
    KILN_TRY(in_req(k, 1, &td));
    KILN_TRY(in_req(k, 2, &tv));
    KILN_FAIL_IF(numel(tv) != 2, KILN_ERR_SHAPE, "OneHot: values must hold [off, on], got %lld values",
                 (long long)numel(tv));
    KILN_FAIL_IF(numel(td) != 1 || (!kiln_dtype_is_float(td->dtype) && !kiln_dtype_is_int(td->dtype)), KILN_ERR_SHAPE,
                 "OneHot: depth must be one number");
    double dd = kiln_load_f64(td->dtype, td->data, 0);
    KILN_FAIL_IF(!(dd >= 1) || dd > 1e12, KILN_ERR_RUNTIME, "OneHot: depth %g must be positive", dd);
    int64_t depth = (int64_t)dd;
    int r = ix->rank + 1;
    KILN_FAIL_IF(r > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "OneHot: output rank %d exceeds kiln's limit", r);
    int64_t axis = kiln_attr_int(k->node, "axis", -1);
    if (axis < 0) axis += r;
    KILN_FAIL_IF(axis < 0 || axis >= r, KILN_ERR_SHAPE, "OneHot: axis out of range for rank %d", r);
    int64_t dims[KILN_MAX_DIMS];
    for (int d = 0, j = 0; d < r; d++) dims[d] = d == axis ? depth : ix->dims[j++];
    KILN_FAIL_IF(!is_bits_dtype(tv->dtype), KILN_ERR_TYPE, "OneHot: values dtype %s not supported on CUDA",
                 kiln_dtype_name(tv->dtype));
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, tv->dtype, r, dims, &y));
    int64_t total = numel(y), inner = kiln_numel(ix->rank - (int)axis, ix->dims + axis);
    if (total == 0) return KILN_OK;
    if (inner == 0) inner = 1;
    cudaStream_t st = stream(k);
    unsigned grid = grid_for(total, 256);
    bool ok = with_bits(tv->dtype, [&](auto t) {
        typedef decltype(t) B;
        if (is_index_dtype(ix->dtype))
            onehot_int_k<B><<<grid, 256, 0, st>>>(total, depth, inner, ix->data, ix->dtype == KILN_INT64,
                                                  (const B *)tv->data, (B *)y->data);
        else
            with_float(ix->dtype, [&](auto u) {
                typedef decltype(u) I;
                onehot_k<I, B><<<grid, 256, 0, st>>>(total, depth, inner, (const I *)ix->data, (const B *)tv->data,
                                                     (B *)y->data);
            });
    });
    KILN_FAIL_IF(!ok || (!is_index_dtype(ix->dtype) && !is_float3(ix->dtype)), KILN_ERR_TYPE,
                 "OneHot: %s indices not supported on CUDA", kiln_dtype_name(ix->dtype));
    KC_LAUNCHED();
    return KILN_OK;
}

} // namespace kc

// Reads and clears this family's out-of-range index record (called by kiln_cuda_take_kernel_errors).
extern "C" kiln_status kiln_cuda_take_index_errors(void) { return kc::index_record_take("clamped or skipped"); }

// OneHot's depth (input 1) is read on the host.
extern "C" const kiln_cuda_op_def kiln_cuda_ops_index[] = {
    {"GatherElements", "", 11, 0, kc::gather_el_supports, nullptr, nullptr, kc::gather_el_run},
    {"GatherND", "", 11, 0, kc::gather_nd_supports, nullptr, nullptr, kc::gather_nd_run},
    {"Scatter", "", 9, 0, kc::scatter_supports, nullptr, nullptr, kc::scatter_el_run},
    {"ScatterElements", "", 11, 0, kc::scatter_supports, nullptr, nullptr, kc::scatter_el_run},
    {"ScatterND", "", 11, 0, kc::scatter_supports, nullptr, nullptr, kc::scatter_nd_run},
    {"OneHot", "", 9, 1u << 1, kc::onehot_supports, nullptr, nullptr, kc::onehot_run},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
