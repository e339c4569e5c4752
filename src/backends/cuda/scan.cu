// CUDA kernels: scan family (see registry.h): CumSum, CumProd and TopK. The axis of CumSum / CumProd and TopK's k
// are host inputs.
//
// A cumulative op runs one thread per column (outer x inner) along the axis, in the CPU kernel's order (float
// accumulation for the 16-bit formats, integer arithmetic wrapping through the unsigned type), so results agree
// exactly. TopK ranks every element by counting the elements of its row that go before it in a strict total order
// (the CPU's: larger / smaller first, NaN counts as the largest, ties go to the lower index) and writes it to that
// position when the rank is below k; a thread stops counting as soon as its rank reaches k, so the cost is far
// below n^2 per row for the small k of classification and sampling heads.
#include <stdlib.h>

#include "backends/cuda/common.cuh"

namespace kc {

// ---------------------------------------------------------------- CumSum / CumProd -------------------------------
template <typename T> struct cum_acc { typedef T type; };
template <> struct cum_acc<half> { typedef float type; };
template <> struct cum_acc<bf16> { typedef float type; };
template <> struct cum_acc<int32_t> { typedef uint32_t type; };
template <> struct cum_acc<int64_t> { typedef uint64_t type; };

template <typename A, typename T> __device__ __forceinline__ A cum_in(T v) { return (A)v; }
template <> __device__ __forceinline__ float cum_in<float, half>(half v) { return __half2float(v); }
template <> __device__ __forceinline__ float cum_in<float, bf16>(bf16 v) { return __bfloat162float(v); }
template <typename T, typename A> __device__ __forceinline__ T cum_out(A v) { return (T)v; }
template <> __device__ __forceinline__ half cum_out<half, float>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ bf16 cum_out<bf16, float>(float v) { return __float2bfloat16_rn(v); }

template <typename T>
__global__ void cum_k(int64_t cols, int64_t n, int64_t inner, int prod, int exclusive, int reverse, const T *x, T *y) {
    typedef typename cum_acc<T>::type A;
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x) {
        int64_t o = c / inner, i = c - o * inner, base = o * n * inner + i;
        int64_t step = reverse ? -inner : inner, first = base + (reverse ? (n - 1) * inner : 0);
        A acc = exclusive ? (A)(prod ? 1 : 0) : cum_in<A, T>(x[first]);
        y[first] = cum_out<T, A>(acc);
        for (int64_t r = 1; r < n; r++) {
            A v = cum_in<A, T>(x[first + (exclusive ? (r - 1) : r) * step]);
            acc = prod ? (A)(acc * v) : (A)(acc + v);
            y[first + r * step] = cum_out<T, A>(acc);
        }
    }
}

static kiln_status cum_supports(const kiln_node *n, const kiln_graph *g) {
    return need_dtype(n, g, 0, [](kiln_dtype t) { return is_float3(t) || t == KILN_INT32 || t == KILN_INT64; },
                      "float formats / int32 / int64");
}

static kiln_status cum_run(kiln_cuda_kctx *k) {
    const char *op = k->node->op_type;
    int prod = !strcmp(op, "CumProd");
    const kiln_cuda_tensor *x, *ta;
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &ta));
    int64_t av[1] = {0};
    int na = 0;
    KILN_TRY(host_ints(k, ta, "axis (input 1)", av, 1, &na));
    KILN_FAIL_IF(na != 1, KILN_ERR_SHAPE, "%s: axis (input 1) must hold one value, has %d", op, na);
    int64_t axis = av[0] < 0 ? av[0] + x->rank : av[0];
    KILN_FAIL_IF(axis < 0 || axis >= x->rank, KILN_ERR_SHAPE, "%s: axis %lld is out of range for rank %d", op,
                 (long long)av[0], x->rank);
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t n = x->dims[axis], outer = kiln_numel((int)axis, x->dims),
            inner = kiln_numel(x->rank - (int)axis - 1, x->dims + axis + 1);
    if (n * outer * inner == 0) return KILN_OK;
    int exclusive = kiln_attr_int(k->node, "exclusive", 0) != 0, reverse = kiln_attr_int(k->node, "reverse", 0) != 0;
    cudaStream_t st = stream(k);
    int64_t cols = outer * inner;
    bool ok = with_numeric(x->dtype, [&](auto t) {
        typedef decltype(t) T;
        cum_k<T><<<grid_for(cols, 128), 128, 0, st>>>(cols, n, inner, prod, exclusive, reverse, (const T *)x->data,
                                                      (T *)y->data);
    });
    KILN_FAIL_IF(!ok, KILN_ERR_TYPE, "%s: dtype %s not supported on CUDA", op, kiln_dtype_name(x->dtype));
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- TopK -------------------------------------------
template <typename T> struct topk_key {
    __device__ static float get(T v) { return to_f<T>(v); }
};
template <> struct topk_key<int32_t> {
    __device__ static int64_t get(int32_t v) { return v; }
};
template <> struct topk_key<int64_t> {
    __device__ static int64_t get(int64_t v) { return v; }
};

// Whether (a, ia) goes before (b, ib).
__device__ __forceinline__ bool topk_before(float a, int64_t ia, float b, int64_t ib, bool largest) {
    bool an = a != a, bn = b != b;
    bool gt = (an && !bn) || a > b, eq = (an && bn) || a == b;
    if (eq) return ia < ib;
    return largest ? gt : !gt;
}
__device__ __forceinline__ bool topk_before(int64_t a, int64_t ia, int64_t b, int64_t ib, bool largest) {
    if (a == b) return ia < ib;
    return largest ? a > b : a < b;
}

template <typename T>
__global__ void topk_k(int64_t total, int64_t n, int64_t inner, int64_t kk, bool largest, const T *x, T *v,
                       int64_t *ix) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        // t enumerates (o, i, in) with the axis position i in the middle
        int64_t in_ = t % inner, r = t / inner, i = r % n, o = r / n;
        const T *row = x + o * n * inner + in_;
        auto me = topk_key<T>::get(row[i * inner]);
        int64_t rank = 0;
        for (int64_t j = 0; j < n && rank < kk; j++)
            if (j != i && topk_before(topk_key<T>::get(row[j * inner]), j, me, i, largest)) rank++;
        if (rank < kk) {
            int64_t dst = (o * kk + rank) * inner + in_;
            v[dst] = row[i * inner];
            ix[dst] = i;
        }
    }
}

static kiln_status topk_supports(const kiln_node *n, const kiln_graph *g) {
    return need_dtype(n, g, 0, [](kiln_dtype t) { return is_float3(t) || t == KILN_INT32 || t == KILN_INT64; },
                      "float formats / int32 / int64");
}

static kiln_status topk_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    int64_t axis = kiln_attr_int(k->node, "axis", -1);
    if (axis < 0) axis += x->rank;
    KILN_FAIL_IF(axis < 0 || axis >= x->rank, KILN_ERR_SHAPE, "TopK: axis out of range for rank %d", x->rank);
    int64_t kk;
    if (kiln_node_attr(k->node, "k")) {
        kk = kiln_attr_int(k->node, "k", 0); // opset 1
    } else {
        const kiln_cuda_tensor *kt;
        KILN_TRY(in_req(k, 1, &kt));
        int64_t kv[1] = {0};
        int nk = 0;
        KILN_TRY(host_ints(k, kt, "K (input 1)", kv, 1, &nk));
        KILN_FAIL_IF(nk != 1, KILN_ERR_SHAPE, "TopK: K (input 1) must hold one value, has %d", nk);
        kk = kv[0];
    }
    int64_t n = x->dims[axis];
    KILN_FAIL_IF(kk < 0 || kk > n, KILN_ERR_RUNTIME, "TopK: k = %lld is outside [0, %lld] (axis %d)", (long long)kk,
                 (long long)n, (int)axis);
    int64_t od[KILN_MAX_DIMS];
    memcpy(od, x->dims, sizeof(int64_t) * (size_t)x->rank);
    od[axis] = kk;
    kiln_cuda_tensor *v, *ix;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, od, &v));
    KILN_TRY(kiln_cuda_kout(k, 1, KILN_INT64, x->rank, od, &ix));
    int64_t outer = kiln_numel((int)axis, x->dims), inner = kiln_numel(x->rank - (int)axis - 1, x->dims + axis + 1);
    int64_t total = outer * n * inner;
    if (total == 0 || kk == 0) return KILN_OK;
    bool largest = kiln_attr_int(k->node, "largest", 1) != 0;
    cudaStream_t st = stream(k);
    bool ok = with_numeric(x->dtype, [&](auto t) {
        typedef decltype(t) T;
        topk_k<T><<<grid_for(total, 256), 256, 0, st>>>(total, n, inner, kk, largest, (const T *)x->data,
                                                        (T *)v->data, (int64_t *)ix->data);
    });
    KILN_FAIL_IF(!ok, KILN_ERR_TYPE, "TopK: dtype %s not supported on CUDA", kiln_dtype_name(x->dtype));
    KC_LAUNCHED();
    return KILN_OK;
}

} // namespace kc

extern "C" const kiln_cuda_op_def kiln_cuda_ops_scan[] = {
    {"CumSum", "", 11, 1u << 1, kc::cum_supports, nullptr, nullptr, kc::cum_run},
    {"CumProd", "", 26, 1u << 1, kc::cum_supports, nullptr, nullptr, kc::cum_run},
    {"TopK", "", 1, 0, kc::topk_supports, nullptr, nullptr, kc::topk_run},
    {"TopK", "", 10, 1u << 1, kc::topk_supports, nullptr, nullptr, kc::topk_run},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
