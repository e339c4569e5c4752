// CUDA kernels: resize family (see registry.h): Resize (opsets 10-19) and Upsample (7, 9).
//
// The output shape comes from host metadata (scales / sizes / roi are host inputs), exactly as the CPU kernel
// computes it. Each output position's source coordinate and taps are recomputed on the device in double precision
// with the CPU kernel's formulas, so that nearest-mode rounding decisions agree bit for bit (the coordinate
// arithmetic uses the _rn intrinsics where nvcc could otherwise contract a multiply-add into an fma, which
// rounds differently from the host).
//
// Nearest is one N-D gather and moves bits, so every fixed-size dtype works. Linear and cubic are separable: one
// pass per resized axis, intermediate results in float (scratch), as the CPU kernel does, for the float formats.
#include <math.h>
#include <stdlib.h>

#include "backends/cuda/common.cuh"

namespace kc {

enum { R_NEAREST = 0, R_LINEAR = 1, R_CUBIC = 2 };
enum { C_HALF_PIXEL, C_HALF_PIXEL_SYM, C_PYTORCH_HALF_PIXEL, C_ALIGN_CORNERS, C_ASYMMETRIC, C_TF_HALF_PIXEL_NN,
       C_TF_CROP_AND_RESIZE };
enum { N_ROUND_PREFER_FLOOR, N_ROUND_PREFER_CEIL, N_FLOOR, N_CEIL, N_SIMPLE };
enum { K_STRETCH, K_NOT_LARGER, K_NOT_SMALLER };

#define RZ_COORD_LIMIT 4.0e15

struct rz_cfg {
    int mode, coord, nearest, exclude, antialias;
    double cubic_a;
};

struct rz_params {
    int upsample;
    rz_cfg c;
    int keep;
    double extrapolation;
    int n_axes; // -1: all axes
    int64_t axes[KILN_MAX_DIMS];
    int n_attr_scales;
    float attr_scales[KILN_MAX_DIMS];
};

// One resized axis.
struct rz_axis {
    int64_t in, out;
    double scale, r0, r1;
};

static int rz_pick(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

// Parses the attributes as the CPU kernel does; also the build-time check (supports).
static kiln_status rz_parse(const kiln_node *n, rz_params *p) {
    memset(p, 0, sizeof *p);
    p->upsample = !strcmp(n->op_type, "Upsample");
    int old = p->upsample || n->opset < 11; // before 11: asymmetric coordinates, legacy nearest rounding
    const char *mode = kiln_attr_string(n, "mode", "nearest");
    static const char *const modes[] = {"nearest", "linear", "cubic", "bilinear"};
    p->c.mode = rz_pick(mode, modes, 4);
    if (p->c.mode == 3 && p->upsample) p->c.mode = R_LINEAR;
    KILN_FAIL_IF(p->c.mode < 0 || p->c.mode > 2 || (old && p->c.mode == R_CUBIC), KILN_ERR_UNSUPPORTED,
                 "%s mode '%s' is not supported", n->op_type, mode);
    static const char *const coords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                         "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    const char *coord = kiln_attr_string(n, "coordinate_transformation_mode", old ? "asymmetric" : "half_pixel");
    p->c.coord = rz_pick(coord, coords, 7);
    KILN_FAIL_IF(p->c.coord < 0, KILN_ERR_UNSUPPORTED, "Resize coordinate_transformation_mode '%s' is not supported",
                 coord);
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const char *nm = kiln_attr_string(n, "nearest_mode", "round_prefer_floor");
    p->c.nearest = old ? N_SIMPLE : rz_pick(nm, nms, 4);
    KILN_FAIL_IF(p->c.nearest < 0, KILN_ERR_UNSUPPORTED, "Resize nearest_mode '%s' is not supported", nm);
    static const char *const keeps[] = {"stretch", "not_larger", "not_smaller"};
    const char *keep = kiln_attr_string(n, "keep_aspect_ratio_policy", "stretch");
    p->keep = rz_pick(keep, keeps, 3);
    KILN_FAIL_IF(p->keep < 0, KILN_ERR_UNSUPPORTED, "Resize keep_aspect_ratio_policy '%s' is not supported", keep);
    p->c.cubic_a = kiln_attr_float(n, "cubic_coeff_a", -0.75f);
    p->extrapolation = kiln_attr_float(n, "extrapolation_value", 0.0f);
    p->c.exclude = kiln_attr_int(n, "exclude_outside", 0) != 0;
    p->c.antialias = kiln_attr_int(n, "antialias", 0) != 0;
    KILN_FAIL_IF(p->c.antialias && p->c.mode == R_NEAREST, KILN_ERR_INVALID_GRAPH,
                 "Resize antialias needs linear or cubic");
    p->n_axes = -1;
    if (kiln_node_attr(n, "axes")) {
        const int64_t *a = kiln_attr_ints(n, "axes", &p->n_axes);
        KILN_FAIL_IF(p->n_axes > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "Resize has %d axes", p->n_axes);
        for (int i = 0; i < p->n_axes; i++) p->axes[i] = a[i];
    }
    if (p->upsample && n->opset < 9) {
        int c = 0;
        const float *s = kiln_attr_floats(n, "scales", &c);
        KILN_FAIL_IF(!s || c > KILN_MAX_DIMS, KILN_ERR_INVALID_GRAPH, "Upsample needs a 'scales' attribute");
        memcpy(p->attr_scales, s, sizeof(float) * (size_t)c);
        p->n_attr_scales = c;
    }
    return KILN_OK;
}

// ---------------------------------------------------------------- coordinates and taps (device) --------------------
__device__ double rz_src(const rz_cfg &c, const rz_axis &a, int64_t o) {
    double od = (double)o, scale = a.scale, in = (double)a.in;
    double outw = __dmul_rn(scale, in); // the reference uses the unrounded output length
    double in1 = (double)(a.in - 1);
    switch (c.coord) {
    case C_ALIGN_CORNERS: return outw == 1 ? 0.0 : __dmul_rn(od, in1) / (outw - 1);
    case C_ASYMMETRIC: return od / scale;
    case C_TF_HALF_PIXEL_NN: return (od + 0.5) / scale;
    case C_TF_CROP_AND_RESIZE: {
        double d = a.r1 - a.r0;
        double q = outw == 1 ? __dmul_rn(d, in1) / 2 : __dmul_rn(__dmul_rn(od, d), in1) / (outw - 1);
        return __dadd_rn(q, __dmul_rn(a.r0, in1));
    }
    case C_PYTORCH_HALF_PIXEL: return outw == 1 ? -0.5 : (od + 0.5) / scale - 0.5;
    case C_HALF_PIXEL_SYM: {
        double adj = (double)a.out / outw, center = in / 2;
        return __dadd_rn(__dmul_rn(center, 1 - adj), (od + 0.5) / scale) - 0.5;
    }
    default: return (od + 0.5) / scale - 0.5;
    }
}

__device__ double rz_cubic_w(double x, double a) {
    x = fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

static __host__ __device__ int rz_window(const rz_cfg &c, double scale) {
    double s = scale < 1 ? scale : 1;
    if (c.mode == R_NEAREST) return 2;
    if (!c.antialias) return c.mode == R_LINEAR ? 2 : 4;
    if (c.mode == R_LINEAR) return 2 - 2 * (int)(floor(-1 / s) + 1);
    return 2 - 2 * (int)(floor(-2 / s) + 1);
}

struct rz_tap {
    int64_t base; // input index of tap 0 (before clamping)
    double ratio;
    bool extrap;  // tf_crop_and_resize outside the input
    bool integral;
};

__device__ rz_tap rz_setup(const rz_cfg &c, const rz_axis &a, int64_t o, int n) {
    rz_tap t;
    double xo = rz_src(c, a, o);
    xo = xo < -RZ_COORD_LIMIT ? -RZ_COORD_LIMIT : xo > RZ_COORD_LIMIT ? RZ_COORD_LIMIT : xo;
    t.extrap = c.coord == C_TF_CROP_AND_RESIZE && (xo < 0 || xo > (double)(a.in - 1));
    double xi = floor(xo);
    t.integral = xo == xi;
    t.ratio = xo == xi ? 1.0 : xo - xi;
    t.base = (int64_t)xi + (xo == xi ? -n / 2 : -n / 2 + 1);
    return t;
}

// Source index along the axis for output position o in nearest mode; -1: the extrapolation value.
__device__ int64_t rz_nearest_src(const rz_cfg &c, const rz_axis &a, int64_t o) {
    rz_tap t = rz_setup(c, a, o, 2);
    if (t.extrap) return -1;
    int up = 1; // the second neighbour (x itself when x is an integer)
    if (!t.integral) {
        switch (c.nearest) {
        case N_ROUND_PREFER_FLOOR: up = t.ratio > 0.5; break;
        case N_ROUND_PREFER_CEIL: up = t.ratio >= 0.5; break;
        case N_FLOOR: up = 0; break;
        case N_CEIL: up = 1; break;
        default: up = a.scale < 1; break; // legacy: ceil when downscaling, truncate otherwise
        }
    }
    if (up && c.exclude && (t.base + 1 < 0 || t.base + 1 >= a.in)) up = 0; // its weight was excluded
    int64_t i = t.base + up;
    return i < 0 ? 0 : i >= a.in ? a.in - 1 : i;
}

// Unnormalized weight of tap k.
__device__ double rz_raw_w(const rz_cfg &c, const rz_tap &t, int k, int n, double s) {
    if (!c.antialias && c.mode == R_LINEAR) return k == 0 ? 1 - t.ratio : t.ratio;
    if (!c.antialias) return rz_cubic_w(t.ratio + 1 - k, c.cubic_a);
    double a = ((double)(1 - n / 2 + k) - t.ratio) * s;
    return c.mode == R_LINEAR ? fmax(0.0, fmin(1.0, 1 - fabs(a))) : rz_cubic_w(a, c.cubic_a);
}

// ---------------------------------------------------------------- kernels ------------------------------------------
struct rz_nd {
    int rank;
    int64_t odims[KILN_MAX_DIMS], ist[KILN_MAX_DIMS];
    int todo[KILN_MAX_DIMS];
    rz_axis ax[KILN_MAX_DIMS];
};

template <typename B> __global__ void rz_nearest_k(int64_t total, rz_cfg c, rz_nd g, const B *x, B *y, B fill) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = t, src = 0;
        bool inside = true;
        for (int d = g.rank - 1; d >= 0; d--) {
            int64_t o = rem % g.odims[d];
            rem /= g.odims[d];
            int64_t s = g.todo[d] ? rz_nearest_src(c, g.ax[d], o) : o;
            inside &= s >= 0;
            src += s * g.ist[d];
        }
        y[t] = inside ? x[src] : fill;
    }
}

// One separable pass over axis a of a tensor viewed as (outer, a.in, inner) -> (outer, a.out, inner).
template <typename TI, typename TO>
__global__ void rz_pass_k(int64_t total, int64_t inner, rz_cfg c, rz_axis a, int n, const TI *src, TO *dst,
                          float extrap) {
    double s = a.scale < 1 ? a.scale : 1;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t j = t % inner, r = t / inner, o = r % a.out, oo = r / a.out;
        rz_tap tp = rz_setup(c, a, o, n);
        if (tp.extrap) {
            dst[t] = from_f<TO>(extrap);
            continue;
        }
        double sum = 1, kept = 1;
        if (c.antialias) {
            sum = 0;
            for (int k = 0; k < n; k++) sum += rz_raw_w(c, tp, k, n, s);
        }
        if (c.exclude) {
            kept = 0;
            for (int k = 0; k < n; k++) {
                int64_t i = tp.base + k;
                double w = rz_raw_w(c, tp, k, n, s);
                if (c.antialias) w /= sum;
                if (i >= 0 && i < a.in) kept += w;
            }
        }
        const TI *row = src + oo * a.in * inner + j;
        float acc = 0;
        for (int k = 0; k < n; k++) {
            int64_t i = tp.base + k;
            double w = rz_raw_w(c, tp, k, n, s);
            if (c.antialias) w /= sum;
            if (c.exclude) {
                if (i < 0 || i >= a.in) w = 0;
                if (kept != 0) w /= kept;
            }
            float wf = (float)w;
            if (wf == 0) continue;
            i = i < 0 ? 0 : i >= a.in ? a.in - 1 : i;
            acc += wf * to_f<TI>(row[i * inner]);
        }
        dst[t] = from_f<TO>(acc);
    }
}

// ---------------------------------------------------------------- ops -------------------------------------------
static kiln_status rz_supports(const kiln_node *n, const kiln_graph *g) {
    rz_params p;
    KILN_TRY(rz_parse(n, &p));
    if (p.c.mode == R_NEAREST) return need_dtype(n, g, 0, is_bits_dtype, "fixed-size dtypes");
    return need_dtype(n, g, 0, is_float3, "linear / cubic modes on the float formats");
}

static kiln_status rz_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    rz_params *p = (rz_params *)calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = rz_parse(n, p);
    if (st != KILN_OK) {
        free(p);
        return st;
    }
    *params = p;
    return KILN_OK;
}

static const kiln_cuda_tensor *present(const kiln_cuda_kctx *k, int i) {
    const kiln_cuda_tensor *t = in(k, i);
    return t && numel(t) > 0 ? t : NULL;
}

static double host_f64(const kiln_cuda_tensor *t, int64_t i) { return kiln_load_f64(t->dtype, t->data, i); }

static kiln_status rz_run(kiln_cuda_kctx *k) {
    const rz_params *p = (const rz_params *)k->params;
    const char *op = k->node->op_type;
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    int r = x->rank, na = p->n_axes < 0 ? r : p->n_axes;
    int axes[KILN_MAX_DIMS], is_axis[KILN_MAX_DIMS] = {0};
    KILN_FAIL_IF(na > r, KILN_ERR_SHAPE, "%s has %d axes for rank %d", op, na, r);
    for (int i = 0; i < na; i++) {
        int64_t a = p->n_axes < 0 ? i : p->axes[i] < 0 ? p->axes[i] + r : p->axes[i];
        KILN_FAIL_IF(a < 0 || a >= r, KILN_ERR_INVALID_ARGUMENT, "%s axis %lld is out of range for rank %d", op,
                     (long long)(p->n_axes < 0 ? i : p->axes[i]), r);
        KILN_FAIL_IF(is_axis[a], KILN_ERR_INVALID_ARGUMENT, "%s axis %d is given twice", op, (int)a);
        axes[i] = (int)a;
        is_axis[a] = 1;
    }
    const kiln_cuda_tensor *troi = NULL, *tsc = NULL, *tsz = NULL;
    if (p->upsample || k->node->opset < 11) {
        tsc = p->n_attr_scales ? NULL : present(k, 1);
    } else {
        troi = present(k, 1);
        tsc = present(k, 2);
        tsz = present(k, 3);
    }
    rz_axis ax[KILN_MAX_DIMS];
    int64_t dims[KILN_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        ax[d].in = x->dims[d];
        ax[d].scale = 1;
        ax[d].r0 = 0;
        ax[d].r1 = 1;
        dims[d] = x->dims[d];
    }
    if (tsz) {
        KILN_FAIL_IF(tsz->dtype != KILN_INT64, KILN_ERR_TYPE, "%s sizes must be int64", op);
        KILN_FAIL_IF(numel(tsz) != na, KILN_ERR_SHAPE, "%s has %lld sizes for %d axes", op, (long long)numel(tsz), na);
        double s_min = INFINITY, s_max = 0;
        for (int i = 0; i < na; i++) {
            int a = axes[i];
            int64_t v = ((const int64_t *)tsz->data)[i];
            KILN_FAIL_IF(v < 0, KILN_ERR_SHAPE, "%s size %lld for axis %d is negative", op, (long long)v, a);
            KILN_FAIL_IF(x->dims[a] == 0 && v > 0, KILN_ERR_SHAPE, "%s cannot enlarge the empty axis %d", op, a);
            dims[a] = v;
            ax[a].scale = x->dims[a] ? (double)v / (double)x->dims[a] : 1;
            s_min = fmin(s_min, ax[a].scale);
            s_max = fmax(s_max, ax[a].scale);
        }
        if (p->keep != K_STRETCH) {
            double s = p->keep == K_NOT_LARGER ? s_min : s_max;
            for (int i = 0; i < na; i++) {
                ax[axes[i]].scale = s;
                dims[axes[i]] = (int64_t)(s * (double)x->dims[axes[i]] + 0.5);
            }
        }
    } else {
        int ns = p->n_attr_scales;
        KILN_FAIL_IF(!tsc && !ns, KILN_ERR_INVALID_GRAPH, "%s needs scales or sizes", op);
        if (tsc) {
            KILN_FAIL_IF(!kiln_dtype_is_float(tsc->dtype), KILN_ERR_TYPE, "%s scales must be float", op);
            ns = (int)numel(tsc);
        }
        KILN_FAIL_IF(ns != na, KILN_ERR_SHAPE, "%s has %d scales for %d axes", op, ns, na);
        for (int i = 0; i < na; i++) {
            int a = axes[i];
            double s = tsc ? host_f64(tsc, i) : p->attr_scales[i];
            KILN_FAIL_IF(!(s > 0) || s * (double)x->dims[a] > 4.0e18, KILN_ERR_INVALID_ARGUMENT,
                         "%s scale %g for axis %d is not positive or too large", op, s, a);
            ax[a].scale = s;
            dims[a] = (int64_t)floor(s * (double)x->dims[a]);
        }
    }
    if (troi && p->c.coord == C_TF_CROP_AND_RESIZE) {
        KILN_FAIL_IF(numel(troi) != 2 * na, KILN_ERR_SHAPE, "%s roi has %lld values for %d axes", op,
                     (long long)numel(troi), na);
        KILN_FAIL_IF(!kiln_dtype_is_float(troi->dtype), KILN_ERR_TYPE, "%s roi must be float", op);
        for (int i = 0; i < na; i++) {
            ax[axes[i]].r0 = host_f64(troi, i);
            ax[axes[i]].r1 = host_f64(troi, na + i);
            KILN_FAIL_IF(!isfinite(ax[axes[i]].r0) || !isfinite(ax[axes[i]].r1), KILN_ERR_INVALID_ARGUMENT,
                         "%s roi for axis %d is not finite", op, axes[i]);
        }
    }
    for (int d = 0; d < r; d++) ax[d].out = dims[d];
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, r, dims, &y));
    int64_t total = numel(y);
    if (total == 0) return KILN_OK;

    int todo[KILN_MAX_DIMS], n_todo = 0, is_todo[KILN_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) {
        int a = axes[i];
        int same = ax[a].scale == 1 && dims[a] == x->dims[a] && ax[a].r0 == 0 && ax[a].r1 == 1;
        if (!same) todo[n_todo++] = a, is_todo[a] = 1;
    }
    cudaStream_t st = stream(k);
    if (n_todo == 0) {
        KILN_CUDA_CHECK(cudaMemcpyAsync(y->data, x->data, (size_t)total * kiln_dtype_size(x->dtype),
                                        cudaMemcpyDeviceToDevice, st));
        return KILN_OK;
    }
    if (p->c.mode == R_NEAREST) {
        KILN_FAIL_IF(!is_bits_dtype(x->dtype), KILN_ERR_TYPE, "%s: dtype %s not supported on CUDA", op,
                     kiln_dtype_name(x->dtype));
        unsigned char fill[8] = {0};
        kiln_store_f64(x->dtype, fill, 0, p->extrapolation);
        rz_nd g;
        memset(&g, 0, sizeof g);
        g.rank = r;
        contiguous_strides(r, x->dims, g.ist);
        for (int d = 0; d < r; d++) g.odims[d] = dims[d], g.todo[d] = is_todo[d], g.ax[d] = ax[d];
        rz_cfg c = p->c;
        with_bits(x->dtype, [&](auto t) {
            typedef decltype(t) B;
            B fv;
            memcpy(&fv, fill, sizeof fv);
            rz_nearest_k<B><<<grid_for(total, 256), 256, 0, st>>>(total, c, g, (const B *)x->data, (B *)y->data, fv);
        });
        KC_LAUNCHED();
        return KILN_OK;
    }

    KILN_FAIL_IF(!is_float3(x->dtype), KILN_ERR_TYPE, "%s %s mode: dtype %s not supported on CUDA", op,
                 p->c.mode == R_LINEAR ? "linear" : "cubic", kiln_dtype_name(x->dtype));
    for (int q = 0; q < n_todo; q++)
        KILN_FAIL_IF(rz_window(p->c, ax[todo[q]].scale) > 4096, KILN_ERR_UNSUPPORTED,
                     "%s: scale %g needs a window of more than 4096 taps", op, ax[todo[q]].scale);
    // Intermediate results (all passes but the last) go to two float buffers in one scratch block.
    int64_t cur[KILN_MAX_DIMS], biggest = 0;
    memcpy(cur, x->dims, sizeof cur);
    for (int q = 0; q + 1 < n_todo; q++) {
        cur[todo[q]] = dims[todo[q]];
        int64_t m = 1;
        for (int d = 0; d < r; d++) m *= cur[d];
        if (m > biggest) biggest = m;
    }
    float *buf[2] = {NULL, NULL};
    if (n_todo > 1) {
        void *scr;
        size_t half_bytes = ((size_t)biggest * sizeof(float) + 255) & ~(size_t)255;
        KILN_TRY(kiln_cuda_scratch(k, 2 * half_bytes, &scr));
        buf[0] = (float *)scr;
        buf[1] = (float *)((char *)scr + half_bytes);
    }
    memcpy(cur, x->dims, sizeof cur);
    const void *src = x->data;
    float extrap = (float)p->extrapolation;
    for (int q = 0; q < n_todo; q++) {
        int d = todo[q];
        int64_t outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= cur[i];
        for (int i = d + 1; i < r; i++) inner *= cur[i];
        rz_axis a = ax[d];
        a.in = cur[d];
        int64_t n_out = outer * dims[d] * inner;
        int nt = rz_window(p->c, a.scale);
        bool first = q == 0, last = q == n_todo - 1;
        void *dst = last ? y->data : (void *)buf[q & 1];
        unsigned grid = grid_for(n_out, 256);
        with_float(x->dtype, [&](auto t) {
            typedef decltype(t) T;
            if (first && last)
                rz_pass_k<T, T><<<grid, 256, 0, st>>>(n_out, inner, p->c, a, nt, (const T *)src, (T *)dst, extrap);
            else if (first)
                rz_pass_k<T, float><<<grid, 256, 0, st>>>(n_out, inner, p->c, a, nt, (const T *)src, (float *)dst,
                                                          extrap);
            else if (last)
                rz_pass_k<float, T><<<grid, 256, 0, st>>>(n_out, inner, p->c, a, nt, (const float *)src, (T *)dst,
                                                          extrap);
            else
                rz_pass_k<float, float><<<grid, 256, 0, st>>>(n_out, inner, p->c, a, nt, (const float *)src,
                                                              (float *)dst, extrap);
        });
        KC_LAUNCHED();
        cur[d] = dims[d];
        src = dst;
    }
    return KILN_OK;
}

// Linear and cubic modes resizing more than one axis keep the passes between in two float buffers, each at most
// the elementwise larger of input and output.
static size_t rz_scratch(const kiln_node *n, const kiln_graph *g, const kiln_type *types, const char **what,
                         int *known) {
    *what = "float buffers between the per-axis passes";
    void *params = NULL;
    if (rz_prepare(n, g, &params) != KILN_OK) return *known = 0, 0;
    bool nearest = ((rz_params *)params)->c.mode == R_NEAREST;
    free(params);
    if (nearest || n->n_out < 1 || n->out[0] < 0) return 0;
    const kiln_type *x = &types[n->in[0]], *y = &types[n->out[0]];
    if (x->rank < 0 || x->rank != y->rank) return *known = 0, 0;
    size_t most = sizeof(float);
    for (int d = 0; d < x->rank; d++) {
        int64_t a = x->dims[d].v, b = y->dims[d].v;
        if (a < 0 || b < 0) return *known = 0, 0;
        most *= (size_t)(a > b ? a : b);
    }
    return 2 * ((most + 255) & ~(size_t)255);
}

} // namespace kc

// Scales / sizes / roi are host inputs: Resize-10 and Upsample-9 take scales as input 1; Resize-11+ takes roi,
// scales, sizes as inputs 1-3; Upsample-7 has its scales as an attribute.
extern "C" const kiln_cuda_op_def kiln_cuda_ops_resize[] = {
    {"Resize", "", 10, 1u << 1, kc::rz_supports, kc::rz_prepare, free, kc::rz_run, kc::rz_scratch},
    {"Resize", "", 11, (1u << 1) | (1u << 2) | (1u << 3), kc::rz_supports, kc::rz_prepare, free, kc::rz_run,
     kc::rz_scratch},
    {"Upsample", "", 7, 0, kc::rz_supports, kc::rz_prepare, free, kc::rz_run, kc::rz_scratch},
    {"Upsample", "", 9, 1u << 1, kc::rz_supports, kc::rz_prepare, free, kc::rz_run, kc::rz_scratch},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
