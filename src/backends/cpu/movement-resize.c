/* CPU kernels: Resize (opsets 10-19) and Upsample (7, 9) (movement family, listed in movement.c).
 *
 * Interpolation is separable, so an N-D resize is one 1-D pass per resized axis. Each pass precomputes, per output
 * position, its taps (input indices + weights) exactly as the ONNX reference does: the source coordinate from the
 * coordinate transformation mode, then a window of n neighbours (edge-clamped) weighted by the nearest / linear /
 * cubic kernel, widened by 1/scale when antialiasing a downscale. Nearest mode needs no arithmetic on the data:
 * it is an index-map gather, so it works for every dtype. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/movement-common.h"
#include "core/dtype.h"
#include "core/parallel.h"
#include "runtime/op.h"

#define COORD_LIMIT 4.0e15

enum { R_NEAREST = 0, R_LINEAR = 1, R_CUBIC = 2 };
enum { C_HALF_PIXEL, C_HALF_PIXEL_SYM, C_PYTORCH_HALF_PIXEL, C_ALIGN_CORNERS, C_ASYMMETRIC, C_TF_HALF_PIXEL_NN,
       C_TF_CROP_AND_RESIZE };
enum { N_ROUND_PREFER_FLOOR, N_ROUND_PREFER_CEIL, N_FLOOR, N_CEIL, N_SIMPLE };
enum { K_STRETCH, K_NOT_LARGER, K_NOT_SMALLER };

typedef struct resize_params {
    int upsample; /* Upsample (7: scales attribute; 9: scales input) */
    int mode, coord, nearest, keep;
    double cubic_a, extrapolation;
    int exclude_outside, antialias;
    int n_axes; /* -1: all axes */
    int64_t axes[KILN_MAX_DIMS];
    int n_attr_scales;
    float attr_scales[KILN_MAX_DIMS];
} resize_params;

static int pick(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

kiln_status kiln_mv_resize_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    resize_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->upsample = !strcmp(n->op_type, "Upsample");
    int old = p->upsample || n->opset < 11; /* before 11: asymmetric coordinates, legacy nearest rounding */
    const char *mode = kiln_attr_string(n, "mode", "nearest");
    static const char *const modes[] = {"nearest", "linear", "cubic", "bilinear"};
    p->mode = pick(mode, modes, 4);
    if (p->mode == 3 && p->upsample) p->mode = R_LINEAR;
    KILN_FAIL_IF(p->mode < 0 || p->mode > 2 || (old && p->mode == R_CUBIC), KILN_ERR_UNSUPPORTED,
                 "%s mode '%s' is not supported", n->op_type, mode);
    static const char *const coords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                         "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    const char *coord = kiln_attr_string(n, "coordinate_transformation_mode", old ? "asymmetric" : "half_pixel");
    p->coord = pick(coord, coords, 7);
    KILN_FAIL_IF(p->coord < 0, KILN_ERR_UNSUPPORTED, "Resize coordinate_transformation_mode '%s' is not supported",
                 coord);
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const char *nm = kiln_attr_string(n, "nearest_mode", "round_prefer_floor");
    p->nearest = old ? N_SIMPLE : pick(nm, nms, 4);
    KILN_FAIL_IF(p->nearest < 0, KILN_ERR_UNSUPPORTED, "Resize nearest_mode '%s' is not supported", nm);
    static const char *const keeps[] = {"stretch", "not_larger", "not_smaller"};
    const char *keep = kiln_attr_string(n, "keep_aspect_ratio_policy", "stretch");
    p->keep = pick(keep, keeps, 3);
    KILN_FAIL_IF(p->keep < 0, KILN_ERR_UNSUPPORTED, "Resize keep_aspect_ratio_policy '%s' is not supported", keep);
    p->cubic_a = kiln_attr_float(n, "cubic_coeff_a", -0.75f);
    p->extrapolation = kiln_attr_float(n, "extrapolation_value", 0.0f);
    p->exclude_outside = kiln_attr_int(n, "exclude_outside", 0) != 0;
    p->antialias = kiln_attr_int(n, "antialias", 0) != 0;
    KILN_FAIL_IF(p->antialias && p->mode == R_NEAREST, KILN_ERR_INVALID_GRAPH, "Resize antialias needs linear or cubic");
    KILN_TRY(kiln_mv_attr_ints(n, "axes", p->axes, KILN_MAX_DIMS, &p->n_axes));
    if (!kiln_node_attr(n, "axes")) p->n_axes = -1;
    if (p->upsample && n->opset < 9) {
        int c = 0;
        const float *s = kiln_attr_floats(n, "scales", &c);
        KILN_FAIL_IF(!s || c > KILN_MAX_DIMS, KILN_ERR_INVALID_GRAPH, "Upsample needs a 'scales' attribute");
        memcpy(p->attr_scales, s, sizeof(float) * (size_t)c);
        p->n_attr_scales = c;
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- taps ------------------------------------------ */

typedef struct axis_taps {
    int n;            /* taps per output position */
    int64_t *idx;     /* [out][n], clamped into the input */
    float *w;         /* [out][n] */
    unsigned char *x; /* [out]: extrapolated (tf_crop_and_resize outside the input) */
} axis_taps;

static void taps_free(axis_taps *t) {
    free(t->idx);
    free(t->w);
    free(t->x);
}

static double src_coord(const resize_params *p, double o, double scale, int64_t in, int64_t out, double r0, double r1) {
    double outw = scale * (double)in; /* the reference uses the unrounded output length */
    switch (p->coord) {
    case C_ALIGN_CORNERS: return outw == 1 ? 0.0 : o * (double)(in - 1) / (outw - 1);
    case C_ASYMMETRIC: return o / scale;
    case C_TF_HALF_PIXEL_NN: return (o + 0.5) / scale;
    case C_TF_CROP_AND_RESIZE:
        return (outw == 1 ? (r1 - r0) * (double)(in - 1) / 2 : o * (r1 - r0) * (double)(in - 1) / (outw - 1)) +
               r0 * (double)(in - 1);
    case C_PYTORCH_HALF_PIXEL: return outw == 1 ? -0.5 : (o + 0.5) / scale - 0.5;
    case C_HALF_PIXEL_SYM: {
        double adj = (double)out / outw, center = (double)in / 2;
        return center * (1 - adj) + (o + 0.5) / scale - 0.5;
    }
    default: return (o + 0.5) / scale - 0.5;
    }
}

static double cubic_w(double x, double a) {
    x = fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

/* The kernel's window size for this axis. */
static int window(const resize_params *p, double scale) {
    double s = scale < 1 ? scale : 1;
    if (p->mode == R_NEAREST) return 2;
    if (!p->antialias) return p->mode == R_LINEAR ? 2 : 4;
    if (p->mode == R_LINEAR) return 2 - 2 * (int)(floor(-1 / s) + 1);
    return 2 - 2 * (int)(floor(-2 / s) + 1);
}

static kiln_status make_taps(const resize_params *p, int64_t in, int64_t out, double scale, double r0, double r1,
                             axis_taps *t) {
    int n = window(p, scale);
    KILN_FAIL_IF(n <= 0 || n > 1 << 20, KILN_ERR_UNSUPPORTED, "Resize scale %g needs an unsupported window", scale);
    t->n = n;
    t->idx = malloc(sizeof(int64_t) * (size_t)(out * n + 1));
    t->w = malloc(sizeof(float) * (size_t)(out * n + 1));
    t->x = calloc((size_t)out + 1, 1);
    double *cw = malloc(sizeof(double) * (size_t)n);
    if (!t->idx || !t->w || !t->x || !cw) {
        free(cw);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    double s = scale < 1 ? scale : 1;
    for (int64_t o = 0; o < out; o++) {
        double xo = src_coord(p, (double)o, scale, in, out, r0, r1);
        /* far outside the input every tap clamps to an edge anyway; keeps the integer conversion defined */
        xo = xo < -COORD_LIMIT ? -COORD_LIMIT : xo > COORD_LIMIT ? COORD_LIMIT : xo;
        if (p->coord == C_TF_CROP_AND_RESIZE && (xo < 0 || xo > (double)(in - 1))) t->x[o] = 1;
        double xi = floor(xo);
        double ratio = xo == xi ? 1.0 : xo - xi;
        int64_t base = (int64_t)xi + (xo == xi ? -n / 2 : -n / 2 + 1);
        if (p->mode == R_NEAREST) {
            int up = 1; /* pick the second neighbour (x itself when x is an integer) */
            if (xo != xi) {
                switch (p->nearest) {
                case N_ROUND_PREFER_FLOOR: up = ratio > 0.5; break;
                case N_ROUND_PREFER_CEIL: up = ratio >= 0.5; break;
                case N_FLOOR: up = 0; break;
                case N_CEIL: up = 1; break;
                default: up = scale < 1; break; /* legacy: ceil when downscaling, truncate otherwise */
                }
            }
            cw[0] = !up;
            cw[1] = up;
        } else if (!p->antialias && p->mode == R_LINEAR) {
            cw[0] = 1 - ratio;
            cw[1] = ratio;
        } else if (!p->antialias) {
            cw[0] = cubic_w(ratio + 1, p->cubic_a);
            cw[1] = cubic_w(ratio, p->cubic_a);
            cw[2] = cubic_w(1 - ratio, p->cubic_a);
            cw[3] = cubic_w(2 - ratio, p->cubic_a);
        } else {
            int start = 1 - n / 2;
            double sum = 0;
            for (int k = 0; k < n; k++) {
                double a = ((double)(start + k) - ratio) * s;
                cw[k] = p->mode == R_LINEAR ? fmax(0.0, fmin(1.0, 1 - fabs(a))) : cubic_w(a, p->cubic_a);
                sum += cw[k];
            }
            for (int k = 0; k < n; k++) cw[k] /= sum;
        }
        if (p->exclude_outside) {
            double sum = 0;
            for (int k = 0; k < n; k++) {
                int64_t i = base + k;
                if (i < 0 || i >= in) cw[k] = 0;
                sum += cw[k];
            }
            for (int k = 0; sum != 0 && k < n; k++) cw[k] /= sum;
        }
        for (int k = 0; k < n; k++) {
            int64_t i = base + k;
            t->idx[o * n + k] = i < 0 ? 0 : i >= in ? in - 1 : i;
            t->w[o * n + k] = (float)cw[k];
        }
    }
    free(cw);
    return KILN_OK;
}

/* ---------------------------------------------------------------- one separable pass ---------------------------- */

typedef struct pass_ctx {
    const float *src;
    float *dst;
    int64_t in, out, inner;
    const axis_taps *t;
    float extrap;
} pass_ctx;

static void pass_range(void *ctx, int64_t b, int64_t e) {
    const pass_ctx *c = ctx;
    int n = c->t->n;
    for (int64_t r = b; r < e; r++) {
        int64_t oo = r / c->out, o = r % c->out;
        float *d = c->dst + r * c->inner;
        if (c->t->x[o]) {
            for (int64_t j = 0; j < c->inner; j++) d[j] = c->extrap;
            continue;
        }
        const int64_t *idx = c->t->idx + o * n;
        const float *w = c->t->w + o * n;
        if (c->inner == 1) {
            const float *s = c->src + oo * c->in;
            float acc = 0;
            for (int k = 0; k < n; k++) acc += w[k] * s[idx[k]];
            d[0] = acc;
            continue;
        }
        for (int64_t j = 0; j < c->inner; j++) d[j] = 0;
        for (int k = 0; k < n; k++) {
            if (w[k] == 0) continue;
            const float *s = c->src + (oo * c->in + idx[k]) * c->inner;
            float wk = w[k];
            for (int64_t j = 0; j < c->inner; j++) d[j] += wk * s[j];
        }
    }
}

/* The innermost axis: one unit per outer row, taps gathered per element. */
static void pass_last_range(void *ctx, int64_t b, int64_t e) {
    const pass_ctx *c = ctx;
    int n = c->t->n;
    const int64_t *idx = c->t->idx;
    const float *w = c->t->w;
    for (int64_t oo = b; oo < e; oo++) {
        const float *s = c->src + oo * c->in;
        float *d = c->dst + oo * c->out;
        if (n == 2) {
            for (int64_t o = 0; o < c->out; o++) d[o] = w[2 * o] * s[idx[2 * o]] + w[2 * o + 1] * s[idx[2 * o + 1]];
        } else {
            for (int64_t o = 0; o < c->out; o++) {
                float acc = 0;
                for (int k = 0; k < n; k++) acc += w[o * n + k] * s[idx[o * n + k]];
                d[o] = acc;
            }
        }
        for (int64_t o = 0; o < c->out; o++)
            if (c->t->x[o]) d[o] = c->extrap;
    }
}

static void store_result(kiln_dtype dt, void *dst, const float *v, int64_t n) {
    double lo = 0, hi = 0;
    int integer = kiln_dtype_is_int(dt) && dt != KILN_INT64 && dt != KILN_UINT64;
    switch (dt) {
    case KILN_INT8: lo = -128, hi = 127; break;
    case KILN_UINT8: lo = 0, hi = 255; break;
    case KILN_INT16: lo = -32768, hi = 32767; break;
    case KILN_UINT16: lo = 0, hi = 65535; break;
    case KILN_INT32: lo = -2147483648.0, hi = 2147483647.0; break;
    case KILN_UINT32: lo = 0, hi = 4294967295.0; break;
    default: break;
    }
    for (int64_t i = 0; i < n; i++) {
        double x = v[i];
        if (kiln_dtype_is_int(dt)) {
            x = nearbyint(x); /* round half to even, as numpy */
            if (integer) x = x < lo ? lo : x > hi ? hi : x;
        }
        kiln_store_f64(dt, dst, i, x);
    }
}

/* ---------------------------------------------------------------- run ------------------------------------------- */

static const kiln_tensor *present(const kiln_kctx *k, int i) {
    const kiln_tensor *t = kiln_kin(k, i);
    return t && kiln_tensor_numel(t) > 0 ? t : NULL;
}

kiln_status kiln_mv_resize_run(kiln_kctx *k) {
    const resize_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    int r = x->rank, na = p->n_axes < 0 ? r : p->n_axes;
    int axes[KILN_MAX_DIMS], is_axis[KILN_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) {
        if (p->n_axes < 0)
            axes[i] = i;
        else
            KILN_TRY(kiln_mv_axis(p->axes[i], r, "Resize axis", &axes[i]));
        KILN_FAIL_IF(is_axis[axes[i]], KILN_ERR_INVALID_ARGUMENT, "Resize axis %d is given twice", axes[i]);
        is_axis[axes[i]] = 1;
    }
    const kiln_tensor *troi = NULL, *tsc = NULL, *tsz = NULL;
    if (p->upsample || k->node->opset < 11) {
        tsc = p->n_attr_scales ? NULL : present(k, 1);
    } else {
        troi = present(k, 1);
        tsc = present(k, 2);
        tsz = present(k, 3);
    }
    double scale[KILN_MAX_DIMS], r0[KILN_MAX_DIMS], r1[KILN_MAX_DIMS];
    int64_t dims[KILN_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        scale[d] = 1;
        dims[d] = x->dims[d];
        r0[d] = 0;
        r1[d] = 1;
    }
    if (tsz) {
        KILN_FAIL_IF(tsz->dtype != KILN_INT64, KILN_ERR_TYPE, "Resize sizes must be int64");
        KILN_FAIL_IF(kiln_tensor_numel(tsz) != na, KILN_ERR_SHAPE, "Resize has %lld sizes for %d axes",
                     (long long)kiln_tensor_numel(tsz), na);
        double s_min = INFINITY, s_max = 0;
        for (int i = 0; i < na; i++) {
            int a = axes[i];
            int64_t v = ((const int64_t *)tsz->data)[i];
            KILN_FAIL_IF(v < 0, KILN_ERR_SHAPE, "Resize size %lld for axis %d is negative", (long long)v, a);
            KILN_FAIL_IF(x->dims[a] == 0 && v > 0, KILN_ERR_SHAPE, "Resize cannot enlarge the empty axis %d", a);
            dims[a] = v;
            scale[a] = x->dims[a] ? (double)v / (double)x->dims[a] : 1;
            s_min = fmin(s_min, scale[a]);
            s_max = fmax(s_max, scale[a]);
        }
        if (p->keep != K_STRETCH) {
            double s = p->keep == K_NOT_LARGER ? s_min : s_max;
            for (int i = 0; i < na; i++) {
                scale[axes[i]] = s;
                dims[axes[i]] = (int64_t)(s * (double)x->dims[axes[i]] + 0.5);
            }
        }
    } else {
        int ns = p->n_attr_scales;
        KILN_FAIL_IF(!tsc && !ns, KILN_ERR_INVALID_GRAPH, "%s needs scales or sizes", k->node->op_type);
        if (tsc) {
            KILN_FAIL_IF(!kiln_dtype_is_float(tsc->dtype), KILN_ERR_TYPE, "Resize scales must be float");
            ns = (int)kiln_tensor_numel(tsc);
        }
        KILN_FAIL_IF(ns != na, KILN_ERR_SHAPE, "%s has %d scales for %d axes", k->node->op_type, ns, na);
        for (int i = 0; i < na; i++) {
            int a = axes[i];
            double s = tsc ? kiln_load_f64(tsc->dtype, tsc->data, i) : p->attr_scales[i];
            KILN_FAIL_IF(!(s > 0) || s * (double)x->dims[a] > 4.0e18, KILN_ERR_INVALID_ARGUMENT,
                         "Resize scale %g for axis %d is not positive or too large", s, a);
            scale[a] = s;
            dims[a] = (int64_t)floor(s * (double)x->dims[a]);
        }
    }
    if (troi && p->coord == C_TF_CROP_AND_RESIZE) {
        KILN_FAIL_IF(kiln_tensor_numel(troi) != 2 * na, KILN_ERR_SHAPE, "Resize roi has %lld values for %d axes",
                     (long long)kiln_tensor_numel(troi), na);
        for (int i = 0; i < na; i++) {
            r0[axes[i]] = kiln_load_f64(troi->dtype, troi->data, i);
            r1[axes[i]] = kiln_load_f64(troi->dtype, troi->data, na + i);
            KILN_FAIL_IF(!isfinite(r0[axes[i]]) || !isfinite(r1[axes[i]]), KILN_ERR_INVALID_ARGUMENT,
                         "Resize roi for axis %d is not finite", axes[i]);
        }
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, dims, &y));
    if (kiln_tensor_numel(y) == 0) return KILN_OK;

    int todo[KILN_MAX_DIMS], n_todo = 0;
    for (int i = 0; i < na; i++) {
        int a = axes[i];
        int same = scale[a] == 1 && dims[a] == x->dims[a] && r0[a] == 0 && r1[a] == 1;
        if (!same) todo[n_todo++] = a;
    }
    if (p->mode == R_NEAREST) {
        unsigned char fill[16] = {0};
        if (x->dtype != KILN_STRING) kiln_store_f64(x->dtype, fill, 0, p->extrapolation);
        int64_t sum = 0, *maps[KILN_MAX_DIMS];
        for (int d = 0; d < r; d++) sum += dims[d];
        int64_t *buf = malloc(sizeof(int64_t) * (size_t)(sum + 1));
        KILN_FAIL_IF(!buf, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        kiln_status st = KILN_OK;
        int64_t at = 0;
        for (int d = 0; d < r && st == KILN_OK; d++) {
            maps[d] = buf + at;
            at += dims[d];
            int done = 0;
            for (int i = 0; i < n_todo; i++) done |= todo[i] == d;
            if (!done) {
                for (int64_t o = 0; o < dims[d]; o++) maps[d][o] = o;
                continue;
            }
            axis_taps t = {0};
            st = make_taps(p, x->dims[d], dims[d], scale[d], r0[d], r1[d], &t);
            for (int64_t o = 0; st == KILN_OK && o < dims[d]; o++)
                maps[d][o] = t.x[o] ? -1 : t.w[o * 2 + 1] != 0 ? t.idx[o * 2 + 1] : t.idx[o * 2];
            taps_free(&t);
        }
        if (st == KILN_OK) st = kiln_mv_gather_maps(x->dtype, y->data, dims, x->data, x->dims, r, maps, fill);
        free(buf);
        return st;
    }

    KILN_FAIL_IF(!kiln_dtype_is_float(x->dtype) && !kiln_dtype_is_int(x->dtype), KILN_ERR_TYPE,
                 "Resize %s mode needs a numeric input, got %s", p->mode == R_LINEAR ? "linear" : "cubic",
                 kiln_dtype_name(x->dtype));
    if (n_todo == 0) return kiln_mv_copy(x->dtype, y->data, x->data, kiln_tensor_numel(x));
    int64_t cur[KILN_MAX_DIMS];
    memcpy(cur, x->dims, sizeof cur);
    int64_t n_in = kiln_tensor_numel(x);
    float *in_buf = NULL, *a = NULL, *b = NULL;
    kiln_status st = KILN_OK;
    const float *src = x->data;
    if (x->dtype != KILN_FLOAT) {
        in_buf = malloc(sizeof(float) * (size_t)(n_in + 1));
        KILN_FAIL_IF(!in_buf, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (int64_t i = 0; i < n_in; i++) in_buf[i] = (float)kiln_load_f64(x->dtype, x->data, i);
        src = in_buf;
    }
    for (int q = 0; q < n_todo && st == KILN_OK; q++) {
        int d = todo[q];
        int64_t outer = kiln_numel(d, cur), inner = kiln_numel(r - d - 1, cur + d + 1);
        int64_t n_out = outer * dims[d] * inner;
        float *dst;
        if (q == n_todo - 1 && x->dtype == KILN_FLOAT) {
            dst = y->data;
        } else {
            float **slot = src == a ? &b : &a;
            free(*slot);
            *slot = malloc(sizeof(float) * (size_t)(n_out + 1));
            if (!*slot) {
                st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
                break;
            }
            dst = *slot;
        }
        axis_taps t = {0};
        st = make_taps(p, cur[d], dims[d], scale[d], r0[d], r1[d], &t);
        if (st == KILN_OK) {
            pass_ctx c = {src, dst, cur[d], dims[d], inner, &t, (float)p->extrapolation};
            if (inner == 1)
                kiln_parallel_for(outer, 16384 / (dims[d] * t.n) + 1, pass_last_range, &c);
            else
                kiln_parallel_for(outer * dims[d], 16384 / (inner * t.n) + 1, pass_range, &c);
        }
        taps_free(&t);
        cur[d] = dims[d];
        src = dst;
    }
    if (st == KILN_OK && x->dtype != KILN_FLOAT) store_result(x->dtype, y->data, src, kiln_tensor_numel(y));
    free(in_buf);
    free(a);
    free(b);
    return st;
}
