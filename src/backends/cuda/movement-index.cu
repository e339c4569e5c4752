// CUDA kernels: movement family, data-indexed half (see movement.cu for the table): Gather and Pad.
//
// Gather reads its indices on the device. An out-of-range index is clamped into the axis (so no read goes out of
// bounds) and recorded (index-record.cuh) for kiln_cuda_take_kernel_errors() (kernel-errors.h) to report; the
// output element is then the clamped one's value, which the run must not trust.
#include <stdlib.h>

#include "backends/cuda/index-record.cuh"
#include "backends/cuda/kernel-errors.h"
#include "backends/cuda/movement.cuh"

namespace kc {

// ---------------------------------------------------------------- Gather -------------------------------------------
// y[o, p, i] = x[o, idx[p], i] for o < outer, p < n_idx, i < inner.
template <typename B, typename I>
__global__ void gather_k(int64_t total, int64_t n_idx, int64_t inner, int64_t len, int axis, const B *x, const I *idx,
                         B *y) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t o = t / (n_idx * inner), rem = t - o * n_idx * inner, p = rem / inner, i = rem - p * inner;
        int64_t jj = index_resolve((int64_t)idx[p], len, IX_GATHER, axis);
        y[t] = jj < 0 ? B(0) : x[(o * len + jj) * inner + i];
    }
}

kiln_status gather_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, is_bits_dtype, "fixed-size dtypes"));
    return need_dtype(n, g, 1, [](kiln_dtype t) { return t == KILN_INT32 || t == KILN_INT64; }, "int32/int64 indices");
}

kiln_status gather_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *ix;
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &ix));
    KILN_FAIL_IF(!is_bits_dtype(x->dtype) || (ix->dtype != KILN_INT32 && ix->dtype != KILN_INT64), KILN_ERR_TYPE,
                 "Gather: data %s with %s indices not supported on CUDA", kiln_dtype_name(x->dtype),
                 kiln_dtype_name(ix->dtype));
    int64_t axis = kiln_attr_int(k->node, "axis", 0);
    if (axis < 0) axis += x->rank;
    KILN_FAIL_IF(axis < 0 || axis >= x->rank, KILN_ERR_SHAPE, "Gather: axis out of range for rank %d", x->rank);
    KILN_FAIL_IF(x->rank - 1 + ix->rank > KILN_MAX_DIMS, KILN_ERR_SHAPE, "Gather: output rank too large");
    int64_t dims[KILN_MAX_DIMS], outer = 1, inner = 1, len = x->dims[axis];
    int r = 0;
    for (int i = 0; i < axis; i++) dims[r++] = x->dims[i], outer *= x->dims[i];
    for (int i = 0; i < ix->rank; i++) dims[r++] = ix->dims[i];
    for (int i = (int)axis + 1; i < x->rank; i++) dims[r++] = x->dims[i], inner *= x->dims[i];
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, r, dims, &y));
    int64_t n_idx = numel(ix), total = outer * n_idx * inner;
    if (total == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    with_bits(x->dtype, [&](auto t) {
        typedef decltype(t) B;
        if (ix->dtype == KILN_INT64)
            gather_k<B, int64_t><<<grid_for(total, 256), 256, 0, st>>>(total, n_idx, inner, len, (int)axis,
                                                                        (const B *)x->data, (const int64_t *)ix->data,
                                                                        (B *)y->data);
        else
            gather_k<B, int32_t><<<grid_for(total, 256), 256, 0, st>>>(total, n_idx, inner, len, (int)axis,
                                                                        (const B *)x->data, (const int32_t *)ix->data,
                                                                        (B *)y->data);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- Pad ----------------------------------------------
enum { PAD_CONSTANT = 0, PAD_REFLECT = 1, PAD_EDGE = 2, PAD_WRAP = 3 };

struct pad_params {
    int mode;
    int from_attr; // before opset 11: pads and value are attributes
    int n_pads;
    int64_t pads[2 * KILN_MAX_DIMS];
    double value;
};

struct pad_geom {
    int rank, mode;
    int64_t odims[KILN_MAX_DIMS], idims[KILN_MAX_DIMS], pb[KILN_MAX_DIMS], ist[KILN_MAX_DIMS];
};

// Source index along an axis of size d for output position i (in input coordinates: i - pad_begin); -1: fill.
__device__ __forceinline__ int64_t pad_source(int mode, int64_t i, int64_t d) {
    if (i >= 0 && i < d) return i;
    if (mode == PAD_EDGE) return i < 0 ? 0 : d - 1;
    if (mode == PAD_WRAP) return ((i % d) + d) % d;
    if (mode == PAD_REFLECT) {
        if (d == 1) return 0;
        int64_t period = 2 * (d - 1), m = ((i % period) + period) % period;
        return m >= d ? period - m : m;
    }
    return -1;
}

template <typename B> __global__ void pad_k(int64_t total, pad_geom g, const B *x, B *y, B fill) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = t, src = 0;
        bool inside = true;
        for (int d = g.rank - 1; d >= 0; d--) {
            int64_t o = rem % g.odims[d];
            rem /= g.odims[d];
            int64_t s = pad_source(g.mode, o - g.pb[d], g.idims[d]);
            inside &= s >= 0;
            src += s * g.ist[d];
        }
        y[t] = inside ? x[src] : fill;
    }
}

static int pad_mode(const kiln_node *n) {
    const char *m = kiln_attr_string(n, "mode", "constant");
    if (!strcmp(m, "constant")) return PAD_CONSTANT;
    if (!strcmp(m, "reflect")) return PAD_REFLECT;
    if (!strcmp(m, "edge")) return PAD_EDGE;
    if (!strcmp(m, "wrap") && n->opset >= 19) return PAD_WRAP;
    return -1;
}

kiln_status pad_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_FAIL_IF(pad_mode(n) < 0, KILN_ERR_UNSUPPORTED, "Pad mode '%s' (opset %d)",
                 kiln_attr_string(n, "mode", "constant"), n->opset);
    return need_dtype(n, g, 0, is_bits_dtype, "fixed-size dtypes");
}

kiln_status pad_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    pad_params *p = (pad_params *)calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->mode = pad_mode(n);
    if (n->opset < 11) {
        p->from_attr = 1;
        const int64_t *pads = kiln_attr_ints(n, "pads", &p->n_pads);
        if (p->n_pads > 2 * KILN_MAX_DIMS) p->n_pads = -1;
        for (int i = 0; i < p->n_pads; i++) p->pads[i] = pads[i];
        p->value = kiln_attr_float(n, "value", 0.0f);
    }
    if (p->mode < 0 || p->n_pads < 0) {
        free(p);
        return kiln_error(KILN_ERR_UNSUPPORTED, "Pad: mode or pads not supported on CUDA");
    }
    *params = p;
    return KILN_OK;
}

kiln_status pad_run(kiln_cuda_kctx *k) {
    const pad_params *p = (const pad_params *)k->params;
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    KILN_FAIL_IF(!is_bits_dtype(x->dtype), KILN_ERR_TYPE, "Pad: dtype %s not supported on CUDA",
                 kiln_dtype_name(x->dtype));
    int r = x->rank, n_pads = p->n_pads, n_axes = r;
    int64_t pads[2 * KILN_MAX_DIMS], axes[KILN_MAX_DIMS];
    unsigned char fill[8] = {0};
    if (p->from_attr) {
        memcpy(pads, p->pads, sizeof pads);
        kiln_store_f64(x->dtype, fill, 0, p->value);
    } else {
        const kiln_cuda_tensor *tp, *tv = in(k, 2), *ta = in(k, 3);
        KILN_TRY(in_req(k, 1, &tp));
        KILN_TRY(host_ints(k, tp, "pads (input 1)", pads, 2 * KILN_MAX_DIMS, &n_pads));
        if (tv && numel(tv) > 0) {
            KILN_FAIL_IF(tv->dtype != x->dtype, KILN_ERR_TYPE, "Pad: constant_value is %s but the data is %s",
                         kiln_dtype_name(tv->dtype), kiln_dtype_name(x->dtype));
            memcpy(fill, tv->data, kiln_dtype_size(x->dtype));
        }
        if (ta) KILN_TRY(host_ints(k, ta, "axes (input 3)", axes, KILN_MAX_DIMS, &n_axes));
        else n_axes = r;
    }
    if (p->from_attr || !in(k, 3))
        for (int i = 0; i < r; i++) axes[i] = i;
    KILN_FAIL_IF(n_pads != 2 * n_axes, KILN_ERR_SHAPE, "Pad: %d pads for %d axes", n_pads, n_axes);
    pad_geom g;
    memset(&g, 0, sizeof g);
    g.rank = r, g.mode = p->mode;
    bool seen[KILN_MAX_DIMS] = {false};
    int64_t pe[KILN_MAX_DIMS] = {0};
    for (int i = 0; i < n_axes; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        KILN_FAIL_IF(a < 0 || a >= r || seen[a], KILN_ERR_SHAPE, "Pad: bad or repeated axis %lld", (long long)axes[i]);
        seen[a] = true;
        g.pb[a] = pads[i];
        pe[a] = pads[n_axes + i];
    }
    contiguous_strides(r, x->dims, g.ist);
    for (int d = 0; d < r; d++) {
        g.idims[d] = x->dims[d];
        g.odims[d] = x->dims[d] + g.pb[d] + pe[d];
        KILN_FAIL_IF(g.odims[d] < 0, KILN_ERR_SHAPE, "Pad makes axis %d negative", d);
        KILN_FAIL_IF(p->mode != PAD_CONSTANT && x->dims[d] == 0 && g.odims[d] > 0, KILN_ERR_SHAPE,
                     "Pad cannot extend the empty axis %d in a non-constant mode", d);
    }
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, r, g.odims, &y));
    int64_t total = numel(y);
    if (total == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    with_bits(x->dtype, [&](auto t) {
        typedef decltype(t) B;
        B fv;
        memcpy(&fv, fill, sizeof fv);
        pad_k<B><<<grid_for(total, 256), 256, 0, st>>>(total, g, (const B *)x->data, (B *)y->data, fv);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

} // namespace kc

extern "C" kiln_status kiln_cuda_take_kernel_errors(void) {
    kiln_status other = kiln_cuda_take_index_errors(); // the index family's record (index.cu)
    kiln_status gather = kc::index_record_take("clamped");
    return gather != KILN_OK ? gather : other;
}
