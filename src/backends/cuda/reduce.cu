// CUDA kernels: reduce family (see registry.h): ReduceSum / Mean / Max / Min / Prod / SumSquare / L1 / L2 (axes as
// attribute or host input, keepdims, noop_with_empty_axes) and ArgMax / ArgMin.
//
// The reduced axes are collapsed with their neighbours first. When they end up trailing (the common "reduce the
// last dims" case) one warp or block reduces each contiguous row; otherwise one thread per output walks its
// reduced elements (adjacent threads read adjacent inner elements, so loads stay coalesced). Floats accumulate in
// float, integers in int64 with wrap-around.
#include <math.h>
#include <stdlib.h>

#include <climits>

#include "backends/cuda/common.cuh"

namespace kc {

enum rop { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_SUMSQ, R_L1, R_L2 };

static const struct {
    const char *name;
    int op;
} red_names[] = {
    {"ReduceSum", R_SUM}, {"ReduceMean", R_MEAN}, {"ReduceMax", R_MAX}, {"ReduceMin", R_MIN},
    {"ReduceProd", R_PROD}, {"ReduceSumSquare", R_SUMSQ}, {"ReduceL1", R_L1}, {"ReduceL2", R_L2},
};

template <int OP, typename A> __device__ __forceinline__ A r_init() {
    if constexpr (OP == R_PROD) return (A)1;
    else if constexpr (OP == R_MAX) {
        if constexpr (std::is_integral<A>::value) return (A)LLONG_MIN; // integer accumulators are long long
        else return -INFINITY;
    } else if constexpr (OP == R_MIN) {
        if constexpr (std::is_integral<A>::value) return (A)LLONG_MAX;
        else return INFINITY;
    } else return (A)0;
}
template <int OP, typename A> __device__ __forceinline__ A r_pre(A v) {
    if constexpr (OP == R_SUMSQ || OP == R_L2) return v * v;
    else if constexpr (OP == R_L1) return v < 0 ? -v : v;
    else return v;
}
template <int OP, typename A> __device__ __forceinline__ A r_comb(A a, A b) {
    if constexpr (OP == R_MAX) {
        if constexpr (std::is_integral<A>::value) return a > b ? a : b;
        else return (b > a || b != b) ? b : a;
    } else if constexpr (OP == R_MIN) {
        if constexpr (std::is_integral<A>::value) return a < b ? a : b;
        else return (b < a || b != b) ? b : a;
    } else if constexpr (OP == R_PROD) {
        if constexpr (std::is_integral<A>::value) return (A)((unsigned long long)a * (unsigned long long)b);
        else return a * b;
    } else {
        if constexpr (std::is_integral<A>::value) return (A)((unsigned long long)a + (unsigned long long)b);
        else return a + b;
    }
}
template <int OP, typename A> __device__ __forceinline__ A r_post(A a, int64_t count) {
    if constexpr (OP == R_MEAN) return a / (A)count;
    else if constexpr (OP == R_L2) return sqrtf(a);
    else return a;
}

// Accumulator: float for the float formats, int64 for integers.
template <typename T> struct racc { typedef float type; };
template <> struct racc<int32_t> { typedef long long type; };
template <> struct racc<int64_t> { typedef long long type; };

template <int OP, typename A> __device__ __forceinline__ A warp_comb(A v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = r_comb<OP>(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Rows of `len` contiguous elements: one warp per row (8 rows per block) ...
template <int OP, typename T> __global__ void red_row_warp_k(int64_t rows, int64_t len, const T *x, T *y) {
    typedef typename racc<T>::type A;
    int64_t r = blockIdx.x * 8LL + threadIdx.x / 32;
    if (r >= rows) return;
    int lane = threadIdx.x % 32;
    const T *xr = x + r * len;
    A acc = r_init<OP, A>();
    for (int64_t j = lane; j < len; j += 32) acc = r_comb<OP>(acc, r_pre<OP>((A)load(xr, j)));
    acc = warp_comb<OP>(acc);
    if (lane == 0) y[r] = store_as<T>(r_post<OP>(acc, len));
}

// ... or one block (256 threads) per row for long rows.
template <int OP, typename T> __global__ void red_row_block_k(int64_t len, const T *x, T *y) {
    typedef typename racc<T>::type A;
    __shared__ A sh[8];
    const T *xr = x + blockIdx.x * len;
    A acc = r_init<OP, A>();
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) acc = r_comb<OP>(acc, r_pre<OP>((A)load(xr, j)));
    acc = warp_comb<OP>(acc);
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = acc;
    __syncthreads();
    if (threadIdx.x < 32) {
        acc = threadIdx.x < 8 ? sh[threadIdx.x] : r_init<OP, A>();
        acc = warp_comb<OP>(acc);
        if (threadIdx.x == 0) y[blockIdx.x] = store_as<T>(r_post<OP>(acc, len));
    }
}

// General: output o's kept coordinates give a base offset; the reduced coordinates walk `red`.
struct red_geom {
    strided<1> kept; // output iteration shape, input strides
    strided<1> red;  // reduced shape, input strides
    int64_t count;   // reduced elements per output
};

template <int OP, typename T> __global__ void red_gen_k(int64_t n_out, red_geom g, const T *x, T *y) {
    typedef typename racc<T>::type A;
    for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < n_out; o += (int64_t)gridDim.x * blockDim.x) {
        int64_t base;
        strided_offsets(g.kept, o, &base);
        A acc = r_init<OP, A>();
        for (int64_t j = 0; j < g.count; j++) {
            int64_t off;
            strided_offsets(g.red, j, &off);
            acc = r_comb<OP>(acc, r_pre<OP>((A)load(x, base + off)));
        }
        y[o] = store_as<T>(r_post<OP>(acc, g.count));
    }
}

struct red_params {
    int op;
    int keepdims, noop_empty, axes_from_input;
    int n_axes;
    int64_t axes[KILN_MAX_DIMS];
};

static int rop_of(const char *name) {
    for (size_t i = 0; i < sizeof red_names / sizeof red_names[0]; i++)
        if (!strcmp(red_names[i].name, name)) return red_names[i].op;
    return -1;
}
static bool rop_accepts(int op, kiln_dtype t) {
    if (is_float3(t)) return true;
    return (t == KILN_INT32 || t == KILN_INT64) && (op == R_SUM || op == R_MAX || op == R_MIN || op == R_PROD);
}

static kiln_status red_supports(const kiln_node *n, const kiln_graph *g) {
    int op = rop_of(n->op_type);
    KILN_FAIL_IF(op < 0, KILN_ERR_INTERNAL, "%s is not a reduction", n->op_type);
    return need_dtype(n, g, 0, [&](kiln_dtype t) { return rop_accepts(op, t); }, "reduction dtypes");
}

static kiln_status red_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    red_params *p = (red_params *)calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->op = rop_of(n->op_type);
    p->keepdims = kiln_attr_int(n, "keepdims", 1) != 0;
    p->noop_empty = kiln_attr_int(n, "noop_with_empty_axes", 0) != 0;
    p->axes_from_input = n->opset >= (p->op == R_SUM ? 13 : 18);
    int na = 0;
    const int64_t *ax = kiln_attr_ints(n, "axes", &na);
    if (na > KILN_MAX_DIMS || p->op < 0) {
        free(p);
        return kiln_error(KILN_ERR_INVALID_GRAPH, "%s: %d axes", n->op_type, na);
    }
    p->n_axes = na;
    for (int i = 0; i < na; i++) p->axes[i] = ax[i];
    *params = p;
    return KILN_OK;
}

template <int OP, typename T>
static void red_launch(bool row, int64_t n_out, int64_t len, const red_geom &g, const void *x, void *y,
                       cudaStream_t st) {
    if (row && (len <= 1024 || n_out >= 2048))
        red_row_warp_k<OP, T><<<(unsigned)((n_out + 7) / 8), 256, 0, st>>>(n_out, len, (const T *)x, (T *)y);
    else if (row)
        red_row_block_k<OP, T><<<(unsigned)n_out, 256, 0, st>>>(len, (const T *)x, (T *)y);
    else
        red_gen_k<OP, T><<<grid_for(n_out, 256), 256, 0, st>>>(n_out, g, (const T *)x, (T *)y);
}

#define KC_RED_CASE(OP)                                                                                           \
    case OP:                                                                                                      \
        red_launch<OP, T>(row, n_out, len, g, x, y, st);                                                          \
        break;
template <typename T>
static void red_dispatch(int op, bool row, int64_t n_out, int64_t len, const red_geom &g, const void *x, void *y,
                         cudaStream_t st) {
    if constexpr (std::is_integral<T>::value) {
        switch (op) { KC_RED_CASE(R_SUM) KC_RED_CASE(R_MAX) KC_RED_CASE(R_MIN) KC_RED_CASE(R_PROD) default: break; }
    } else {
        switch (op) {
            KC_RED_CASE(R_SUM) KC_RED_CASE(R_MEAN) KC_RED_CASE(R_MAX) KC_RED_CASE(R_MIN) KC_RED_CASE(R_PROD)
            KC_RED_CASE(R_SUMSQ) KC_RED_CASE(R_L1) KC_RED_CASE(R_L2)
        default: break;
        }
    }
}
#undef KC_RED_CASE

static kiln_status red_run(kiln_cuda_kctx *k) {
    const red_params *p = (const red_params *)k->params;
    const kiln_cuda_tensor *x, *ai = p->axes_from_input ? in(k, 1) : NULL;
    KILN_TRY(in_req(k, 0, &x));
    KILN_FAIL_IF(!rop_accepts(p->op, x->dtype), KILN_ERR_TYPE, "%s: dtype %s not supported on CUDA",
                 k->node->op_type, kiln_dtype_name(x->dtype));
    int64_t axes[KILN_MAX_DIMS];
    int na = p->n_axes;
    memcpy(axes, p->axes, sizeof axes);
    if (p->axes_from_input) {
        na = 0;
        if (ai) KILN_TRY(host_ints(k, ai, "axes (input 1)", axes, KILN_MAX_DIMS, &na));
    }
    int r = x->rank;
    bool red[KILN_MAX_DIMS] = {false};
    if (na == 0 && p->noop_empty) { // identity
        kiln_cuda_tensor *y;
        KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, r, x->dims, &y));
        if (numel(x))
            KILN_CUDA_CHECK(cudaMemcpyAsync(y->data, x->data, (size_t)numel(x) * kiln_dtype_size(x->dtype),
                                            cudaMemcpyDeviceToDevice, stream(k)));
        return KILN_OK;
    }
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        KILN_FAIL_IF(a < 0 || a >= r, KILN_ERR_SHAPE, "%s: axis %lld out of range for rank %d", k->node->op_type,
                     (long long)axes[i], r);
        red[a] = true;
    }
    if (na == 0)
        for (int i = 0; i < r; i++) red[i] = true;
    int64_t od[KILN_MAX_DIMS], count = 1, n_out = 1;
    int orank = 0;
    for (int i = 0; i < r; i++) {
        if (red[i]) count *= x->dims[i];
        else n_out *= x->dims[i];
        if (!red[i]) od[orank++] = x->dims[i];
        else if (p->keepdims) od[orank++] = 1;
    }
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, orank, od, &y));
    if (n_out == 0) return KILN_OK;
    KILN_FAIL_IF(count == 0 && p->op != R_SUM && p->op != R_PROD && p->op != R_SUMSQ && p->op != R_L1 &&
                     p->op != R_L2,
                 KILN_ERR_UNSUPPORTED, "%s over an empty set on CUDA", k->node->op_type);
    KILN_FAIL_IF(n_out > INT32_MAX, KILN_ERR_UNSUPPORTED, "%s: too many outputs", k->node->op_type);

    // Kept and reduced dims with their input strides, each collapsed.
    red_geom g;
    int64_t st[KILN_MAX_DIMS];
    contiguous_strides(r, x->dims, st);
    g.kept.rank = g.red.rank = 0;
    bool row = true, seen_red = false;
    for (int i = 0; i < r; i++) {
        if (x->dims[i] == 1) continue;
        strided<1> &s = red[i] ? g.red : g.kept;
        s.dims[s.rank] = x->dims[i], s.st[0][s.rank] = st[i], s.rank++;
        if (red[i]) seen_red = true;
        else if (seen_red) row = false; // a kept dim after a reduced one
    }
    strided_collapse(g.kept);
    strided_collapse(g.red);
    g.count = count;
    cudaStream_t s = stream(k);
    with_numeric(x->dtype, [&](auto t) { red_dispatch<decltype(t)>(p->op, row, n_out, count, g, x->data, y->data, s); });
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- ArgMax / ArgMin ---------------------------------
// numpy's order: NaN above every number (for both ops), ties to the lower index (the higher with select_last).
template <bool MAX> __device__ __forceinline__ bool arg_better(float v, int64_t i, float b, int64_t bi, bool last) {
    bool vn = v != v, bn = b != b;
    if (vn || bn) return vn && (!bn || (last ? i > bi : i < bi));
    if (v != b) return MAX ? v > b : v < b;
    return last ? i > bi : i < bi;
}
template <bool MAX, typename V> __device__ __forceinline__ bool arg_better_i(V v, int64_t i, V b, int64_t bi, bool last) {
    if (v != b) return MAX ? v > b : v < b;
    return last ? i > bi : i < bi;
}
template <bool MAX, typename T>
__device__ __forceinline__ bool better(typename racc<T>::type v, int64_t i, typename racc<T>::type b, int64_t bi,
                                       bool last) {
    if constexpr (std::is_integral<T>::value) return arg_better_i<MAX>(v, i, b, bi, last);
    else return arg_better<MAX>(v, i, b, bi, last);
}

template <bool MAX, typename T>
__global__ void arg_col_k(int64_t n_out, int64_t len, int64_t inner, bool last, const T *x, int64_t *y) {
    typedef typename racc<T>::type A;
    for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < n_out; o += (int64_t)gridDim.x * blockDim.x) {
        int64_t ou = o / inner, i = o - ou * inner;
        const T *p = x + ou * len * inner + i;
        A best = (A)load(p, 0);
        int64_t bi = 0;
        for (int64_t j = 1; j < len; j++) {
            A v = (A)load(p, j * inner);
            if (better<MAX, T>(v, j, best, bi, last)) best = v, bi = j;
        }
        y[o] = bi;
    }
}

template <bool MAX, typename T>
__global__ void arg_row_warp_k(int64_t rows, int64_t len, bool last, const T *x, int64_t *y) {
    typedef typename racc<T>::type A;
    int64_t r = blockIdx.x * 8LL + threadIdx.x / 32;
    if (r >= rows) return;
    int lane = threadIdx.x % 32;
    const T *xr = x + r * len;
    A best = (A)load(xr, 0);
    int64_t bi = 0;
    for (int64_t j = lane; j < len; j += 32) {
        A v = (A)load(xr, j);
        if (better<MAX, T>(v, j, best, bi, last)) best = v, bi = j;
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        A v = __shfl_xor_sync(0xffffffffu, best, o);
        int64_t vi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (better<MAX, T>(v, vi, best, bi, last)) best = v, bi = vi;
    }
    if (lane == 0) y[r] = bi;
}

static kiln_status arg_supports(const kiln_node *n, const kiln_graph *g) {
    return need_dtype(n, g, 0, [](kiln_dtype t) { return is_float3(t) || t == KILN_INT32 || t == KILN_INT64; },
                      "float, float16, bfloat16, int32 or int64");
}

static kiln_status arg_run(kiln_cuda_kctx *k) {
    bool is_max = !strcmp(k->node->op_type, "ArgMax");
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    KILN_FAIL_IF(!(is_float3(x->dtype) || x->dtype == KILN_INT32 || x->dtype == KILN_INT64), KILN_ERR_TYPE,
                 "%s: dtype %s not supported on CUDA", k->node->op_type, kiln_dtype_name(x->dtype));
    int64_t axis = kiln_attr_int(k->node, "axis", 0);
    bool keep = kiln_attr_int(k->node, "keepdims", 1) != 0, last = kiln_attr_int(k->node, "select_last_index", 0) != 0;
    int r = x->rank;
    if (axis < 0) axis += r;
    KILN_FAIL_IF(axis < 0 || axis >= r, KILN_ERR_SHAPE, "%s: axis out of range for rank %d", k->node->op_type, r);
    int64_t od[KILN_MAX_DIMS], outer = 1, inner = 1, len = x->dims[axis];
    int orank = 0;
    for (int i = 0; i < r; i++) {
        if (i < axis) outer *= x->dims[i];
        if (i > axis) inner *= x->dims[i];
        if (i != axis) od[orank++] = x->dims[i];
        else if (keep) od[orank++] = 1;
    }
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, KILN_INT64, orank, od, &y));
    int64_t n_out = outer * inner;
    if (n_out == 0) return KILN_OK;
    KILN_FAIL_IF(len == 0, KILN_ERR_SHAPE, "%s: empty axis", k->node->op_type);
    cudaStream_t st = stream(k);
    int64_t *yd = (int64_t *)y->data;
    with_numeric(x->dtype, [&](auto t) {
        typedef decltype(t) T;
        const T *xd = (const T *)x->data;
        if (inner == 1 && len >= 64) {
            unsigned grid = (unsigned)((n_out + 7) / 8);
            if (is_max) arg_row_warp_k<true, T><<<grid, 256, 0, st>>>(n_out, len, last, xd, yd);
            else arg_row_warp_k<false, T><<<grid, 256, 0, st>>>(n_out, len, last, xd, yd);
        } else {
            unsigned grid = grid_for(n_out, 256);
            if (is_max) arg_col_k<true, T><<<grid, 256, 0, st>>>(n_out, len, inner, last, xd, yd);
            else arg_col_k<false, T><<<grid, 256, 0, st>>>(n_out, len, inner, last, xd, yd);
        }
    });
    KC_LAUNCHED();
    return KILN_OK;
}

} // namespace kc

using namespace kc;

#define KC_RED(name, since, host) {name, "", since, host, red_supports, red_prepare, free, red_run}
extern "C" const kiln_cuda_op_def kiln_cuda_ops_reduce[] = {
    KC_RED("ReduceSum", 1, 0), KC_RED("ReduceSum", 13, 1u << 1),
    KC_RED("ReduceMean", 1, 0), KC_RED("ReduceMean", 18, 1u << 1),
    KC_RED("ReduceMax", 1, 0), KC_RED("ReduceMax", 18, 1u << 1),
    KC_RED("ReduceMin", 1, 0), KC_RED("ReduceMin", 18, 1u << 1),
    KC_RED("ReduceProd", 1, 0), KC_RED("ReduceProd", 18, 1u << 1),
    KC_RED("ReduceSumSquare", 1, 0), KC_RED("ReduceSumSquare", 18, 1u << 1),
    KC_RED("ReduceL1", 1, 0), KC_RED("ReduceL1", 18, 1u << 1),
    KC_RED("ReduceL2", 1, 0), KC_RED("ReduceL2", 18, 1u << 1),
    {"ArgMax", "", 1, 0, arg_supports, nullptr, nullptr, arg_run},
    {"ArgMin", "", 1, 0, arg_supports, nullptr, nullptr, arg_run},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
#undef KC_RED
