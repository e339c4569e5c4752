// Shared by the CUDA kernel family files: dtype traits, build-time type queries for supports(), launch helpers
// and the strided-index machinery that broadcasting and data movement kernels use.
#ifndef KILN_CUDA_COMMON_CUH
#define KILN_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

extern "C" {
#include "core/broadcast.h"
#include "core/dtype.h"
#include "core/status.h"
#include "ir/graph.h"
}
#include "backends/cuda/registry.h"

namespace kc {

typedef __half half;
typedef __nv_bfloat16 bf16;

// ---------------------------------------------------------------- element conversions (device) --------------------
template <typename T> __device__ __forceinline__ float to_f(T v) { return (float)v; }
template <> __device__ __forceinline__ float to_f<half>(half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f<bf16>(bf16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_f(float v) { return (T)v; }
template <> __device__ __forceinline__ half from_f<half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ bf16 from_f<bf16>(float v) { return __float2bfloat16_rn(v); }

// The arithmetic type an element computes in: float for the 16-bit formats, itself otherwise.
template <typename T> struct acc_of { typedef T type; };
template <> struct acc_of<half> { typedef float type; };
template <> struct acc_of<bf16> { typedef float type; };

template <typename T> __device__ __forceinline__ typename acc_of<T>::type load(const T *p, int64_t i) { return p[i]; }
template <> __device__ __forceinline__ float load<half>(const half *p, int64_t i) { return __half2float(p[i]); }
template <> __device__ __forceinline__ float load<bf16>(const bf16 *p, int64_t i) { return __bfloat162float(p[i]); }

template <typename T> __device__ __forceinline__ T store_as(typename acc_of<T>::type v) { return v; }
template <> __device__ __forceinline__ half store_as<half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ bf16 store_as<bf16>(float v) { return __float2bfloat16_rn(v); }

// Unsigned storage type of an element size, for ops that only move bits (any dtype of that size).
template <int S> struct bits_of;
template <> struct bits_of<1> { typedef uint8_t type; };
template <> struct bits_of<2> { typedef uint16_t type; };
template <> struct bits_of<4> { typedef uint32_t type; };
template <> struct bits_of<8> { typedef uint64_t type; };

// ---------------------------------------------------------------- host-side dtype dispatch -----------------------
static inline int is_float3(kiln_dtype t) { return t == KILN_FLOAT || t == KILN_FLOAT16 || t == KILN_BFLOAT16; }

// Calls f(T()) for the three float formats; returns false for any other dtype.
template <typename F> static inline bool with_float(kiln_dtype t, F &&f) {
    switch (t) {
    case KILN_FLOAT: f(float()); return true;
    case KILN_FLOAT16: f(half()); return true;
    case KILN_BFLOAT16: f(bf16()); return true;
    default: return false;
    }
}
// The float formats plus int32 / int64.
template <typename F> static inline bool with_numeric(kiln_dtype t, F &&f) {
    switch (t) {
    case KILN_INT32: f(int32_t()); return true;
    case KILN_INT64: f(int64_t()); return true;
    default: return with_float(t, f);
    }
}
// Bit movers: an unsigned type of the element's size (every fixed-size dtype but STRING).
template <typename F> static inline bool with_bits(kiln_dtype t, F &&f) {
    if (t == KILN_STRING) return false;
    switch (kiln_dtype_size(t)) {
    case 1: f(uint8_t()); return true;
    case 2: f(uint16_t()); return true;
    case 4: f(uint32_t()); return true;
    case 8: f(uint64_t()); return true;
    default: return false;
    }
}
static inline int is_bits_dtype(kiln_dtype t) {
    size_t s = kiln_dtype_size(t);
    return t != KILN_STRING && (s == 1 || s == 2 || s == 4 || s == 8);
}

// ---------------------------------------------------------------- build-time queries (supports / prepare) -------
// dtype of a node's input i as the graph knows it at build time (UNDEFINED when absent or not inferred).
static inline kiln_dtype graph_dtype(const kiln_graph *g, int value) {
    if (!g || value < 0 || value >= g->n_values) return KILN_UNDEFINED;
    const kiln_ir_value *v = &g->values[value];
    return v->init ? v->init->dtype : v->type.dtype;
}
static inline kiln_dtype in_dtype(const kiln_node *n, const kiln_graph *g, int i) {
    return i < n->n_in ? graph_dtype(g, n->in[i]) : KILN_UNDEFINED;
}
static inline int has_in(const kiln_node *n, int i) { return i < n->n_in && n->in[i] >= 0; }
static inline int has_out(const kiln_node *n, int i) { return i < n->n_out && n->out[i] >= 0; }
// Rank as known at build time (-1 when unknown).
static inline int in_rank(const kiln_node *n, const kiln_graph *g, int i) {
    if (!has_in(n, i) || !g) return -1;
    const kiln_ir_value *v = &g->values[n->in[i]];
    return v->init ? v->init->rank : v->type.rank;
}

// Refuses unless input i's dtype is known and accepted by ok().
template <typename P>
static inline kiln_status need_dtype(const kiln_node *n, const kiln_graph *g, int i, P &&ok, const char *what) {
    kiln_dtype t = in_dtype(n, g, i);
    KILN_FAIL_IF(t == KILN_UNDEFINED, KILN_ERR_UNSUPPORTED, "%s: dtype of input %d is not known at build time",
                 n->op_type, i);
    KILN_FAIL_IF(!ok(t), KILN_ERR_UNSUPPORTED, "%s: input %d dtype %s is not supported on CUDA (%s)", n->op_type, i,
                 kiln_dtype_name(t), what);
    return KILN_OK;
}
static inline kiln_status need_same_dtype(const kiln_node *n, const kiln_graph *g, int a, int b) {
    kiln_dtype ta = in_dtype(n, g, a), tb = in_dtype(n, g, b);
    KILN_FAIL_IF(ta != tb, KILN_ERR_UNSUPPORTED, "%s: inputs %d (%s) and %d (%s) differ in dtype", n->op_type, a,
                 kiln_dtype_name(ta), b, kiln_dtype_name(tb));
    return KILN_OK;
}

// ---------------------------------------------------------------- run-time helpers ---------------------------------
static inline const kiln_cuda_tensor *in(const kiln_cuda_kctx *k, int i) { return i < k->n_in ? k->in[i] : NULL; }
static inline kiln_status in_req(const kiln_cuda_kctx *k, int i, const kiln_cuda_tensor **t) {
    *t = in(k, i);
    KILN_FAIL_IF(!*t, KILN_ERR_INVALID_GRAPH, "%s: required input %d is missing", k->node->op_type, i);
    return KILN_OK;
}
static inline int64_t numel(const kiln_cuda_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}
static inline cudaStream_t stream(const kiln_cuda_kctx *k) { return (cudaStream_t)k->stream; }
static inline const char *shape_str(const kiln_cuda_tensor *t, char *buf, size_t n) {
    return kiln_shape_str(t->rank, t->dims, buf, n);
}

// Reads a host-side int32/int64 tensor (an input flagged in host_inputs) into out[0..max).
static inline kiln_status host_ints(const kiln_cuda_kctx *k, const kiln_cuda_tensor *t, const char *what,
                                    int64_t *out, int max, int *n) {
    int64_t c = numel(t);
    KILN_FAIL_IF(t->dtype != KILN_INT64 && t->dtype != KILN_INT32, KILN_ERR_TYPE, "%s: %s must be int32 or int64",
                 k->node->op_type, what);
    KILN_FAIL_IF(c > max, KILN_ERR_UNSUPPORTED, "%s: %s has %lld values (at most %d supported)", k->node->op_type, what,
                 (long long)c, max);
    for (int64_t i = 0; i < c; i++)
        out[i] = t->dtype == KILN_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
    *n = (int)c;
    return KILN_OK;
}

// Grid for a grid-stride loop over n items (capped: each thread then loops).
static inline unsigned grid_for(int64_t n, int block) {
    int64_t g = (n + block - 1) / block;
    if (g > 65535LL * 8) g = 65535LL * 8;
    return (unsigned)(g < 1 ? 1 : g);
}
#define KC_LAUNCHED() KILN_CUDA_CHECK(cudaGetLastError())

// ---------------------------------------------------------------- strided index machinery -------------------------
// Up to NOP operands read through per-operand element strides over a common (collapsed) iteration shape. Dims are
// ordered outermost first; a stride of 0 broadcasts.
template <int NOP> struct strided {
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    int64_t st[NOP][KILN_MAX_DIMS];
};

// Offsets of every operand for linear index i of the iteration shape.
template <int NOP> __device__ __forceinline__ void strided_offsets(const strided<NOP> &s, int64_t i, int64_t *off) {
#pragma unroll
    for (int o = 0; o < NOP; o++) off[o] = 0;
    for (int d = s.rank - 1; d >= 0; d--) {
        int64_t q = i / s.dims[d], r = i - q * s.dims[d];
#pragma unroll
        for (int o = 0; o < NOP; o++) off[o] += r * s.st[o][d];
        i = q;
    }
}

// Drops size-1 dims and merges neighbours that are contiguous for every operand, so most broadcasts become rank 1-3.
template <int NOP> static inline void strided_collapse(strided<NOP> &s) {
    int r = 0;
    for (int d = 0; d < s.rank; d++) {
        if (s.dims[d] == 1) continue;
        if (r > 0) {
            bool merge = true;
            for (int o = 0; o < NOP; o++) merge &= s.st[o][r - 1] == s.st[o][d] * s.dims[d];
            if (merge) {
                s.dims[r - 1] *= s.dims[d];
                for (int o = 0; o < NOP; o++) s.st[o][r - 1] = s.st[o][d];
                continue;
            }
        }
        s.dims[r] = s.dims[d];
        for (int o = 0; o < NOP; o++) s.st[o][r] = s.st[o][d];
        r++;
    }
    if (r == 0) {
        s.dims[0] = 1;
        for (int o = 0; o < NOP; o++) s.st[o][0] = 0;
        r = 1;
    }
    s.rank = r;
}

// Contiguous strides of a shape.
static inline void contiguous_strides(int rank, const int64_t *dims, int64_t *st) {
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) st[d] = s, s *= dims[d];
}

// ---------------------------------------------------------------- reductions in a warp / block ---------------------
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
// Every thread of the block gets the result; blockDim.x is a multiple of 32 (at most 1024). `sh` holds 33 floats.
template <bool MAX> __device__ __forceinline__ float block_reduce(float v, float *sh) {
    v = MAX ? warp_max(v) : warp_sum(v);
    int w = threadIdx.x / 32, lane = threadIdx.x % 32, nw = blockDim.x / 32;
    __syncthreads(); // sh may still be read from a previous call
    if (lane == 0) sh[w] = v;
    __syncthreads();
    if (w == 0) {
        float r = lane < nw ? sh[lane] : (MAX ? -INFINITY : 0.0f);
        r = MAX ? warp_max(r) : warp_sum(r);
        if (lane == 0) sh[32] = r;
    }
    __syncthreads();
    return sh[32];
}

} // namespace kc

#endif
