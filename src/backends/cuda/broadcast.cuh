// Multidirectional broadcasting for elementwise kernels: a launch plan that picks, per shape combination, the
// cheapest way to turn an output index into operand offsets.
//   SAME:    every operand has the output's shape: offset = index.
//   DIVMOD:  every operand is one contiguous block of the output's dims (scalar, row [.., N] over [M, N], channel
//            [C, 1, 1] over [N, C, H, W], ...): offset = (index / div) % mod in 32-bit arithmetic.
//   STRIDED: anything else (or more than 2^31 elements): per-dim strides over the collapsed shape.
// The functor f(int64_t i, const int64_t *off) does the work for one element.
#ifndef KILN_CUDA_BROADCAST_CUH
#define KILN_CUDA_BROADCAST_CUH

#include "backends/cuda/common.cuh"

namespace kc {

enum bmode { BM_SAME = 0, BM_DIVMOD = 1, BM_STRIDED = 2 };

template <int NOP> struct bplan {
    int mode;
    int64_t n;
    uint32_t div[NOP], mod[NOP];
    strided<NOP> s;
};

// Builds the plan for NOP operands of shapes (ranks[o], dims[o]) read as the output shape (out_rank, out_dims),
// which must be their broadcast (the caller checked).
template <int NOP>
static inline void bplan_make(bplan<NOP> &p, int out_rank, const int64_t *out_dims, const int *ranks,
                              const int64_t *const *dims) {
    p.n = kiln_numel(out_rank, out_dims);
    p.s.rank = out_rank;
    for (int d = 0; d < out_rank; d++) p.s.dims[d] = out_dims[d];
    bool same = true;
    for (int o = 0; o < NOP; o++) {
        kiln_broadcast_strides(ranks[o], dims[o], out_rank, out_dims, p.s.st[o]);
        same &= kiln_numel(ranks[o], dims[o]) == p.n;
    }
    strided_collapse(p.s);
    if (same) {
        p.mode = BM_SAME;
        return;
    }
    p.mode = p.n < (1LL << 31) ? BM_DIVMOD : BM_STRIDED;
    for (int o = 0; o < NOP && p.mode == BM_DIVMOD; o++) {
        // The operand's non-broadcast dims must be one run [a, b) with contiguous strides ending in 1.
        int a = -1, b = -1;
        bool ok = true;
        for (int d = 0; d < p.s.rank; d++) {
            if (p.s.st[o][d] == 0) continue;
            if (a < 0) a = d;
            else if (b != d) ok = false;
            b = d + 1;
        }
        if (a < 0) { // scalar
            p.div[o] = 1;
            p.mod[o] = 1;
            continue;
        }
        int64_t expect = 1;
        for (int d = b - 1; d >= a && ok; d--) {
            ok &= p.s.st[o][d] == expect;
            expect *= p.s.dims[d];
        }
        int64_t div = 1;
        for (int d = b; d < p.s.rank; d++) div *= p.s.dims[d];
        if (!ok) {
            p.mode = BM_STRIDED;
            break;
        }
        p.div[o] = (uint32_t)div;
        p.mod[o] = (uint32_t)expect;
    }
}

template <int NOP, typename F> __global__ void bk_same(int64_t n, F f) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[NOP];
#pragma unroll
        for (int o = 0; o < NOP; o++) off[o] = i;
        f(i, off);
    }
}

template <int NOP, typename F> __global__ void bk_divmod(uint32_t n, bplan<NOP> p, F f) {
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int64_t off[NOP];
#pragma unroll
        for (int o = 0; o < NOP; o++) off[o] = (int64_t)((i / p.div[o]) % p.mod[o]);
        f((int64_t)i, off);
    }
}

template <int NOP, typename F> __global__ void bk_strided(int64_t n, strided<NOP> s, F f) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[NOP];
        strided_offsets(s, i, off);
        f(i, off);
    }
}

template <int NOP, typename F> static inline kiln_status bplan_launch(const bplan<NOP> &p, F f, cudaStream_t st) {
    if (p.n <= 0) return KILN_OK;
    const int block = 256;
    unsigned grid = grid_for(p.n, block);
    if (p.mode == BM_SAME) bk_same<NOP><<<grid, block, 0, st>>>(p.n, f);
    else if (p.mode == BM_DIVMOD) bk_divmod<NOP><<<grid, block, 0, st>>>((uint32_t)p.n, p, f);
    else bk_strided<NOP><<<grid, block, 0, st>>>(p.n, p.s, f);
    KC_LAUNCHED();
    return KILN_OK;
}

// Copies src (any bit-movable dtype) broadcast to the shape (rank, dims) into dst.
template <typename B> struct bcopy_f {
    const B *x;
    B *y;
    __device__ __forceinline__ void operator()(int64_t i, const int64_t *off) const { y[i] = x[off[0]]; }
};
static inline kiln_status broadcast_copy(kiln_dtype dt, const void *src, int src_rank, const int64_t *src_dims,
                                         void *dst, int rank, const int64_t *dims, cudaStream_t st) {
    bplan<1> p;
    const int64_t *d[1] = {src_dims};
    bplan_make<1>(p, rank, dims, &src_rank, d);
    kiln_status s = KILN_OK;
    if (!with_bits(dt, [&](auto t) {
            typedef decltype(t) B;
            s = bplan_launch<1>(p, bcopy_f<B>{(const B *)src, (B *)dst}, st);
        }))
        return kiln_error(KILN_ERR_UNSUPPORTED, "broadcast copy of dtype %s", kiln_dtype_name(dt));
    return s;
}

} // namespace kc

#endif
