// CUDA kernels: pool family (see registry.h): MaxPool, AveragePool (1-D to 3-D windows, pads, strides, dilations,
// ceil_mode, count_include_pad, auto_pad), GlobalAveragePool / GlobalMaxPool and LRN. Geometry follows the CPU
// reference exactly (including ceil_mode's "last window starts inside the input or its begin padding" rule).
// One thread per output element; global pools use one warp (small planes) or one block per plane.
#include <math.h>
#include <stdlib.h>

#include "backends/cuda/common.cuh"
extern "C" {
#include "backends/cpu/conv-internal.h"
}

namespace kc {

enum { POOL_MAX = 0, POOL_AVG = 1 };

struct pool_params {
    int kind;
    conv_attrs a;
    int ceil_mode, count_include_pad;
};

struct pgeom {
    int nsp;
    int64_t img[3], grid[3], k[3], s[3], d[3], pb[3], pe[3];
    int64_t img_size, grid_size;
};

static kiln_status pool_geom(const pool_params *pp, int nsp, const int64_t *in, pgeom *g) {
    const conv_attrs *a = &pp->a;
    memset(g, 0, sizeof *g);
    KILN_FAIL_IF(a->n_k != nsp, KILN_ERR_SHAPE, "kernel_shape has %d values for %d spatial dims", a->n_k, nsp);
    KILN_FAIL_IF((a->n_s && a->n_s != nsp) || (a->n_d && a->n_d != nsp) || (a->n_p && a->n_p != 2 * nsp),
                 KILN_ERR_INVALID_GRAPH, "pool attributes do not match %d spatial dims", nsp);
    g->nsp = nsp;
    g->img_size = g->grid_size = 1;
    for (int i = 0; i < nsp; i++) {
        int64_t k = a->k[i], s = a->n_s ? a->s[i] : 1, d = a->n_d ? a->d[i] : 1, dk = (k - 1) * d + 1;
        int64_t pb = 0, pe = 0, out;
        if (a->auto_pad == PAD_NOTSET) {
            pb = a->n_p ? a->pads[i] : 0;
            pe = a->n_p ? a->pads[nsp + i] : 0;
            KILN_FAIL_IF(pb < 0 || pe < 0, KILN_ERR_INVALID_GRAPH, "negative pads are not supported");
            int64_t span = in[i] + pb + pe - dk;
            KILN_FAIL_IF(span < 0, KILN_ERR_SHAPE, "spatial dim %d: input %lld + pads is smaller than the kernel %lld",
                         i, (long long)in[i], (long long)dk);
            out = (pp->ceil_mode ? (span + s - 1) / s : span / s) + 1;
            if (pp->ceil_mode && (out - 1) * s >= in[i] + pb) out--;
        } else if (a->auto_pad == PAD_VALID) {
            KILN_FAIL_IF(in[i] < dk, KILN_ERR_SHAPE, "spatial dim %d: input %lld is smaller than the kernel %lld", i,
                         (long long)in[i], (long long)dk);
            out = (in[i] - dk) / s + 1;
        } else {
            out = (in[i] + s - 1) / s;
            int64_t total = (out - 1) * s + dk - in[i];
            if (total < 0) total = 0;
            pb = a->auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
        }
        g->img[i] = in[i], g->grid[i] = out, g->k[i] = k, g->s[i] = s, g->d[i] = d, g->pb[i] = pb, g->pe[i] = pe;
        g->img_size *= in[i], g->grid_size *= out;
    }
    return KILN_OK;
}

template <typename T, int KIND, bool INCLUDE_PAD> __global__ void pool_k(int64_t total, pgeom g, const T *x, T *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t plane = i / g.grid_size, r = i - plane * g.grid_size;
        int64_t start[3], lo[3], hi[3], istr[3];
        int64_t taps = 1, padded = 1, s_ = 1;
        for (int q = g.nsp - 1; q >= 0; q--) {
            int64_t o = r % g.grid[q];
            r /= g.grid[q];
            int64_t st = o * g.s[q] - g.pb[q], d = g.d[q];
            start[q] = st;
            lo[q] = st >= 0 ? 0 : (-st + d - 1) / d;
            int64_t last = g.img[q] - 1 - st;
            hi[q] = last < 0 ? 0 : last / d + 1;
            if (hi[q] > g.k[q]) hi[q] = g.k[q];
            if (lo[q] > hi[q]) lo[q] = hi[q];
            int64_t lastp = g.img[q] + g.pe[q] - 1 - st;
            int64_t cnt = lastp < 0 ? 0 : lastp / d + 1;
            if (cnt > g.k[q]) cnt = g.k[q];
            taps *= hi[q] - lo[q];
            padded *= cnt;
            istr[q] = s_;
            s_ *= g.img[q];
        }
        const T *xp = x + plane * g.img_size;
        float acc = KIND == POOL_MAX ? -INFINITY : 0.0f;
        bool first = true;
        if (taps > 0) {
            // Up to three nested window dims; unused outer dims iterate once.
            int nsp = g.nsp;
            int64_t lo0 = nsp > 2 ? lo[nsp - 3] : 0, hi0 = nsp > 2 ? hi[nsp - 3] : 1;
            int64_t lo1 = nsp > 1 ? lo[nsp - 2] : 0, hi1 = nsp > 1 ? hi[nsp - 2] : 1;
            for (int64_t j0 = lo0; j0 < hi0; j0++) {
                int64_t off0 = nsp > 2 ? (start[nsp - 3] + j0 * g.d[nsp - 3]) * istr[nsp - 3] : 0;
                for (int64_t j1 = lo1; j1 < hi1; j1++) {
                    int64_t off1 = off0 + (nsp > 1 ? (start[nsp - 2] + j1 * g.d[nsp - 2]) * istr[nsp - 2] : 0);
                    for (int64_t j2 = lo[nsp - 1]; j2 < hi[nsp - 1]; j2++) {
                        float v = load(xp, off1 + start[nsp - 1] + j2 * g.d[nsp - 1]);
                        if (KIND == POOL_MAX) {
                            if (first || v > acc) acc = v;
                            first = false;
                        } else {
                            acc += v;
                        }
                    }
                }
            }
        }
        if (KIND == POOL_AVG) {
            int64_t den = INCLUDE_PAD ? padded : taps;
            acc = den > 0 ? acc / (float)den : NAN;
        }
        y[i] = store_as<T>(acc);
    }
}

static kiln_status pool_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, is_float3, "float, float16 or bfloat16"));
    KILN_FAIL_IF(has_out(n, 1), KILN_ERR_UNSUPPORTED, "MaxPool: the Indices output is not supported on CUDA");
    int r = in_rank(n, g, 0);
    KILN_FAIL_IF(r >= 0 && (r < 3 || r > 5), KILN_ERR_UNSUPPORTED, "%s: rank %d (1-D to 3-D windows on CUDA)",
                 n->op_type, r);
    int nk = 0;
    kiln_attr_ints(n, "kernel_shape", &nk);
    KILN_FAIL_IF(nk < 1 || nk > 3, KILN_ERR_UNSUPPORTED, "%s: kernel_shape with %d dims", n->op_type, nk);
    conv_attrs a;
    return conv_attrs_parse(n, &a);
}

static kiln_status pool_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    pool_params *p = (pool_params *)calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = conv_attrs_parse(n, &p->a);
    if (st != KILN_OK) {
        free(p);
        return st;
    }
    p->kind = !strcmp(n->op_type, "MaxPool") ? POOL_MAX : POOL_AVG;
    p->ceil_mode = kiln_attr_int(n, "ceil_mode", 0) != 0;
    p->count_include_pad = kiln_attr_int(n, "count_include_pad", 0) != 0;
    *params = p;
    return KILN_OK;
}

static kiln_status pool_run(kiln_cuda_kctx *k) {
    const pool_params *p = (const pool_params *)k->params;
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    char sx[256];
    KILN_FAIL_IF(!is_float3(x->dtype), KILN_ERR_TYPE, "%s: dtype %s not supported on CUDA", k->node->op_type,
                 kiln_dtype_name(x->dtype));
    KILN_FAIL_IF(x->rank < 3 || x->rank > 5, KILN_ERR_SHAPE, "%s: input %s (1-D to 3-D windows on CUDA)",
                 k->node->op_type, shape_str(x, sx, sizeof sx));
    pgeom g;
    KILN_TRY(pool_geom(p, x->rank - 2, x->dims + 2, &g));
    int64_t dims[KILN_MAX_DIMS] = {x->dims[0], x->dims[1]};
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.grid[i];
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, dims, &y));
    int64_t total = numel(y);
    if (total == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    unsigned grid = grid_for(total, 256);
    with_float(x->dtype, [&](auto t) {
        typedef decltype(t) T;
        const T *xd = (const T *)x->data;
        T *yd = (T *)y->data;
        if (p->kind == POOL_MAX) pool_k<T, POOL_MAX, false><<<grid, 256, 0, st>>>(total, g, xd, yd);
        else if (p->count_include_pad) pool_k<T, POOL_AVG, true><<<grid, 256, 0, st>>>(total, g, xd, yd);
        else pool_k<T, POOL_AVG, false><<<grid, 256, 0, st>>>(total, g, xd, yd);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- Global pools ------------------------------------
template <int KIND> __device__ __forceinline__ float pool_combine(float a, float b) {
    return KIND == POOL_MAX ? (b > a || b != b ? b : a) : a + b;
}
template <int KIND> __device__ __forceinline__ float warp_pool(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = pool_combine<KIND>(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// One warp per plane (blockDim = 256: 8 planes per block).
template <typename T, int KIND> __global__ void gpool_warp_k(int64_t planes, int64_t size, const T *x, T *y) {
    int64_t plane = blockIdx.x * 8LL + threadIdx.x / 32;
    if (plane >= planes) return;
    int lane = threadIdx.x % 32;
    const T *xp = x + plane * size;
    float acc = KIND == POOL_MAX ? -INFINITY : 0.0f;
    for (int64_t i = lane; i < size; i += 32) acc = pool_combine<KIND>(acc, load(xp, i));
    acc = warp_pool<KIND>(acc);
    if (lane == 0) y[plane] = store_as<T>(KIND == POOL_MAX ? acc : acc / (float)size);
}

// One block (256 threads) per plane, for large planes.
template <typename T, int KIND> __global__ void gpool_block_k(int64_t size, const T *x, T *y) {
    __shared__ float part[8];
    const T *xp = x + blockIdx.x * size;
    float acc = KIND == POOL_MAX ? -INFINITY : 0.0f;
    for (int64_t i = threadIdx.x; i < size; i += blockDim.x) acc = pool_combine<KIND>(acc, load(xp, i));
    acc = warp_pool<KIND>(acc);
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = acc;
    __syncthreads();
    if (threadIdx.x < 32) {
        acc = threadIdx.x < 8 ? part[threadIdx.x] : (KIND == POOL_MAX ? -INFINITY : 0.0f);
        acc = warp_pool<KIND>(acc);
        if (threadIdx.x == 0) y[blockIdx.x] = store_as<T>(KIND == POOL_MAX ? acc : acc / (float)size);
    }
}

static kiln_status gpool_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, is_float3, "float, float16 or bfloat16"));
    int r = in_rank(n, g, 0);
    KILN_FAIL_IF(r >= 0 && r < 3, KILN_ERR_UNSUPPORTED, "%s: rank %d input", n->op_type, r);
    return KILN_OK;
}

static kiln_status gpool_run(kiln_cuda_kctx *k) {
    int kind = strcmp(k->node->op_type, "GlobalMaxPool") ? POOL_AVG : POOL_MAX;
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    KILN_FAIL_IF(!is_float3(x->dtype) || x->rank < 3, KILN_ERR_TYPE, "%s: dtype %s / rank %d not supported on CUDA",
                 k->node->op_type, kiln_dtype_name(x->dtype), x->rank);
    int64_t dims[KILN_MAX_DIMS];
    for (int i = 0; i < x->rank; i++) dims[i] = i < 2 ? x->dims[i] : 1;
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, dims, &y));
    int64_t planes = x->dims[0] * x->dims[1], size = 1;
    for (int i = 2; i < x->rank; i++) size *= x->dims[i];
    if (planes == 0) return KILN_OK;
    KILN_FAIL_IF(size == 0, KILN_ERR_SHAPE, "%s: empty spatial extent", k->node->op_type);
    KILN_FAIL_IF(planes > INT32_MAX, KILN_ERR_UNSUPPORTED, "%s: too many planes", k->node->op_type);
    cudaStream_t st = stream(k);
    with_float(x->dtype, [&](auto t) {
        typedef decltype(t) T;
        const T *xd = (const T *)x->data;
        T *yd = (T *)y->data;
        if (size <= 2048) {
            unsigned grid = (unsigned)((planes + 7) / 8);
            if (kind == POOL_MAX) gpool_warp_k<T, POOL_MAX><<<grid, 256, 0, st>>>(planes, size, xd, yd);
            else gpool_warp_k<T, POOL_AVG><<<grid, 256, 0, st>>>(planes, size, xd, yd);
        } else {
            if (kind == POOL_MAX) gpool_block_k<T, POOL_MAX><<<(unsigned)planes, 256, 0, st>>>(size, xd, yd);
            else gpool_block_k<T, POOL_AVG><<<(unsigned)planes, 256, 0, st>>>(size, xd, yd);
        }
    });
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- LRN -----------------------------------------------
// y = x / (bias + alpha / size * sum of x^2 over the channel window)^beta, the window [c - (size-1)/2,
// c + size-1 - (size-1)/2] clipped to the channels; computed in double as the CPU reference does.
template <typename T>
__global__ void lrn_k(int64_t total, int64_t c, int64_t plane, int64_t lo, int64_t hi, double scale, double bias,
                      double beta, const T *x, T *y) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = t % plane, r = t / plane, ch = r % c, n = r / c;
        int64_t c0 = ch - lo < 0 ? 0 : ch - lo, c1 = ch + hi >= c ? c - 1 : ch + hi;
        const T *xn = x + n * c * plane + i;
        double ss = 0;
        for (int64_t q = c0; q <= c1; q++) {
            double v = (double)to_f<T>(xn[q * plane]);
            ss += v * v;
        }
        y[t] = from_f<T>((float)((double)to_f<T>(x[t]) / pow(bias + scale * ss, beta)));
    }
}

static kiln_status lrn_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_FAIL_IF(kiln_attr_int(n, "size", 0) < 1, KILN_ERR_UNSUPPORTED, "LRN needs a positive 'size' attribute");
    return need_dtype(n, g, 0, is_float3, "float formats");
}

static kiln_status lrn_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    char buf[256];
    KILN_FAIL_IF(x->rank < 2, KILN_ERR_SHAPE, "LRN: input %s must be [N, C, ...]", shape_str(x, buf, sizeof buf));
    KILN_FAIL_IF(!is_float3(x->dtype), KILN_ERR_TYPE, "LRN: dtype %s not supported on CUDA",
                 kiln_dtype_name(x->dtype));
    int64_t size = kiln_attr_int(k->node, "size", 0);
    KILN_FAIL_IF(size < 1, KILN_ERR_INVALID_GRAPH, "LRN needs a positive 'size' attribute");
    double alpha = kiln_attr_float(k->node, "alpha", 1e-4f), beta = kiln_attr_float(k->node, "beta", 0.75f),
           bias = kiln_attr_float(k->node, "bias", 1.0f);
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t total = numel(x), plane = 1;
    for (int i = 2; i < x->rank; i++) plane *= x->dims[i];
    if (total == 0) return KILN_OK;
    int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
    cudaStream_t st = stream(k);
    with_float(x->dtype, [&](auto t) {
        typedef decltype(t) T;
        lrn_k<T><<<grid_for(total, 256), 256, 0, st>>>(total, x->dims[1], plane, lo, hi, alpha / (double)size, bias,
                                                       beta, (const T *)x->data, (T *)y->data);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

} // namespace kc

using namespace kc;

extern "C" const kiln_cuda_op_def kiln_cuda_ops_pool[] = {
    {"MaxPool", "", 1, 0, pool_supports, pool_prepare, free, pool_run},
    {"AveragePool", "", 1, 0, pool_supports, pool_prepare, free, pool_run},
    {"GlobalAveragePool", "", 1, 0, gpool_supports, nullptr, nullptr, gpool_run},
    {"GlobalMaxPool", "", 1, 0, gpool_supports, nullptr, nullptr, gpool_run},
    {"LRN", "", 1, 0, lrn_supports, nullptr, nullptr, lrn_run},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
