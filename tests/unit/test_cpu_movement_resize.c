/* Resize / Upsample, GridSample and AffineGrid against references written here.
 *
 * The Resize reference is deliberately not separable: every output element sums over the full tensor product of
 * its per-axis taps in double precision, with the taps taken straight from the spec's formulas. */
#include <math.h>

#include "test_cpu_movement_util.h"

enum { M_NEAREST, M_LINEAR, M_CUBIC };
static const char *const mode_names[] = {"nearest", "linear", "cubic"};
static const char *const coord_names[] = {"half_pixel",    "half_pixel_symmetric", "pytorch_half_pixel",
                                          "align_corners", "asymmetric",           "tf_crop_and_resize"};
static const char *const nearest_names[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};

typedef struct ref_cfg {
    int mode, coord, nearest, exclude, antialias;
    double a, extrap;
} ref_cfg;

static double ref_coord(const ref_cfg *c, int64_t o, double s, int64_t in, int64_t out, double r0, double r1) {
    double ow = s * (double)in;
    switch (c->coord) {
    case 0: return (o + 0.5) / s - 0.5;
    case 1: return (double)in / 2 * (1 - (double)out / ow) + (o + 0.5) / s - 0.5;
    case 2: return ow == 1 ? -0.5 : (o + 0.5) / s - 0.5;
    case 3: return ow == 1 ? 0 : (double)o * (double)(in - 1) / (ow - 1);
    case 4: return o / s;
    default:
        return ow == 1 ? (r1 - r0) * (double)(in - 1) / 2 + r0 * (double)(in - 1)
                       : (double)o * (r1 - r0) * (double)(in - 1) / (ow - 1) + r0 * (double)(in - 1);
    }
}

static double ref_cubic(double x, double a) {
    x = fabs(x);
    if (x <= 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
    if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
    return 0;
}

/* Taps of one axis for output position o: returns the count; *extrap set when outside (tf_crop_and_resize). */
static int ref_taps(const ref_cfg *c, int64_t o, double s, int64_t in, int64_t out, double r0, double r1,
                    int64_t *idx, double *w, int *extrap) {
    double x = ref_coord(c, o, s, in, out, r0, r1);
    if (c->coord == 5 && (x < 0 || x > (double)(in - 1))) *extrap = 1;
    int n = 0;
    if (c->mode == M_NEAREST) {
        double f = floor(x), fr = x - f;
        int64_t i = (int64_t)f;
        if (fr != 0) {
            int up = c->nearest == 0 ? fr > 0.5 : c->nearest == 1 ? fr >= 0.5 : c->nearest == 3;
            i += up;
        }
        idx[0] = i < 0 ? 0 : i >= in ? in - 1 : i;
        w[0] = 1;
        return 1;
    }
    double sc = c->antialias && s < 1 ? s : 1, support = (c->mode == M_LINEAR ? 1.0 : 2.0) / sc, sum = 0;
    for (int64_t i = (int64_t)floor(x - support) - 1; i <= (int64_t)ceil(x + support) + 1; i++) {
        double d = ((double)i - x) * sc;
        double wt = c->mode == M_LINEAR ? fmax(0.0, 1 - fabs(d)) : ref_cubic(d, c->a);
        if (fabs(d) >= (c->mode == M_LINEAR ? 1.0 : 2.0)) continue;
        if (c->exclude && (i < 0 || i >= in)) wt = 0;
        idx[n] = i < 0 ? 0 : i >= in ? in - 1 : i;
        w[n++] = wt;
        sum += wt;
    }
    if (c->antialias || c->exclude)
        for (int k = 0; k < n; k++) w[k] /= sum;
    return n;
}

/* out[i] for every output element; x is float. */
static void ref_resize(const ref_cfg *c, const kiln_tensor *x, const int64_t *od, const double *scale,
                       const double *r0, const double *r1, double *out) {
    int r = x->rank;
    int64_t total = kiln_numel(r, od), oi[KILN_MAX_DIMS], ii[KILN_MAX_DIMS];
    int64_t tidx[KILN_MAX_DIMS][64];
    double tw[KILN_MAX_DIMS][64];
    int tn[KILN_MAX_DIMS];
    for (int64_t e = 0; e < total; e++) {
        mvt_unravel(e, r, od, oi);
        int extrap = 0;
        int64_t combos = 1;
        for (int d = 0; d < r; d++) {
            if (scale[d] == 1 && od[d] == x->dims[d] && r0[d] == 0 && r1[d] == 1) {
                tn[d] = 1, tidx[d][0] = oi[d], tw[d][0] = 1;
            } else {
                tn[d] = ref_taps(c, oi[d], scale[d], x->dims[d], od[d], r0[d], r1[d], tidx[d], tw[d], &extrap);
            }
            combos *= tn[d];
        }
        if (extrap) {
            out[e] = c->extrap;
            continue;
        }
        double acc = 0;
        for (int64_t m = 0; m < combos; m++) {
            int64_t rem = m;
            double wt = 1;
            for (int d = r - 1; d >= 0; d--) {
                int k = (int)(rem % tn[d]);
                rem /= tn[d];
                ii[d] = tidx[d][k];
                wt *= tw[d][k];
            }
            acc += wt * kiln_load_f64(x->dtype, x->data, mvt_ravel(r, x->dims, ii));
        }
        out[e] = acc;
    }
}

static void test_resize_random(void) {
    static const double scales[] = {0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 2.7, 3.0};
    for (int iter = 0; iter < 220; iter++) {
        ref_cfg c = {0};
        c.mode = iter % 3;
        c.coord = (iter / 3) % 6;
        c.nearest = (iter / 18) % 4;
        c.a = c.mode == M_CUBIC && iter % 2 ? -0.5 : -0.75;
        c.exclude = c.mode == M_CUBIC && iter % 4 == 1;
        c.antialias = c.mode != M_NEAREST && iter % 5 == 0;
        c.extrap = c.coord == 5 ? 10.0 : 0;
        int64_t dims[4] = {mvt_int(1, 2), mvt_int(1, 3), mvt_int(1, 6), mvt_int(1, 6)}, od[4];
        double sc[4] = {1, 1, 1, 1}, r0[4] = {0, 0, 0, 0}, r1[4] = {1, 1, 1, 1};
        int use_sizes = iter % 2;
        int64_t sizes[4];
        float fsc[4];
        for (int d = 0; d < 4; d++) {
            if (d >= 2) sc[d] = scales[mvt_int(0, 7)];
            od[d] = (int64_t)floor(sc[d] * (double)dims[d]);
            if (use_sizes) {
                sizes[d] = d >= 2 ? mvt_int(1, 9) : dims[d];
                od[d] = sizes[d];
                sc[d] = (double)sizes[d] / (double)dims[d];
            } else {
                fsc[d] = (float)sc[d];
                sc[d] = fsc[d];
            }
        }
        float roi[8] = {0, 0, 0, 0, 1, 1, 1, 1};
        if (c.coord == 5)
            for (int d = 2; d < 4; d++) {
                roi[d] = (float)(mvt_float() * 0.4);
                roi[4 + d] = (float)(0.8 + mvt_float() * 0.4);
                r0[d] = roi[d];
                r1[d] = roi[4 + d];
            }
        kiln_dtype dt = c.mode == M_NEAREST && iter % 4 == 2 ? KILN_INT64 : iter % 7 == 3 ? KILN_DOUBLE : KILN_FLOAT;
        kiln_tensor in[4] = {mvt_random(dt, 4, dims), mvt_alloc(KILN_FLOAT, 1, (int64_t[]){8}), mvt_absent(),
                             mvt_absent()};
        memcpy(in[1].data, roi, sizeof roi);
        if (use_sizes)
            in[3] = mvt_vec(4, sizes);
        else {
            in[2] = mvt_alloc(KILN_FLOAT, 1, (int64_t[]){4});
            memcpy(in[2].data, fsc, sizeof fsc);
        }
        oneop o;
        oneop_begin(&o, "Resize", "", 19, 4, 1);
        oneop_attr_string(&o, "mode", mode_names[c.mode]);
        oneop_attr_string(&o, "coordinate_transformation_mode", coord_names[c.coord]);
        oneop_attr_string(&o, "nearest_mode", nearest_names[c.nearest]);
        oneop_attr_float(&o, "cubic_coeff_a", (float)c.a);
        oneop_attr_int(&o, "exclude_outside", c.exclude);
        oneop_attr_int(&o, "antialias", c.antialias);
        oneop_attr_float(&o, "extrapolation_value", (float)c.extrap);
        kiln_status st = oneop_run(&o, in);
        CHECK(st == KILN_OK);
        if (st != KILN_OK) fprintf(stderr, "%s\n", kiln_error_text());
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(mvt_same_shape(y, 4, od) && y->dtype == dt);
        int64_t total = kiln_numel(4, od);
        double *want = malloc(sizeof(double) * (size_t)(total + 1));
        ref_resize(&c, &in[0], od, sc, r0, r1, want);
        int ok = 1;
        for (int64_t e = 0; ok && st == KILN_OK && e < total; e++) {
            double got = kiln_load_f64(dt, y->data, e);
            ok = fabs(got - want[e]) <= 1e-4 * (1 + fabs(want[e]));
            if (!ok)
                fprintf(stderr, "resize iter %d (%s, %s) element %lld: got %g want %g\n", iter, mode_names[c.mode],
                        coord_names[c.coord], (long long)e, got, want[e]);
        }
        CHECK(ok);
        free(want);
        oneop_end(&o);
        for (int i = 0; i < 4; i++) kiln_tensor_release(&in[i]);
    }
}

static void test_resize_forms(void) {
    /* axes + keep_aspect_ratio_policy: one scale for both axes, sizes rounded half up */
    int64_t dims[4] = {1, 2, 4, 6}, sizes[2] = {7, 7}, axes[2] = {-1, 2};
    for (int policy = 0; policy < 2; policy++) {
        kiln_tensor in[4] = {mvt_random(KILN_FLOAT, 4, dims), mvt_absent(), mvt_absent(), mvt_vec(2, sizes)};
        oneop o;
        oneop_begin(&o, "Resize", "", 18, 4, 1);
        oneop_attr_ints(&o, "axes", axes, 2);
        oneop_attr_string(&o, "keep_aspect_ratio_policy", policy ? "not_smaller" : "not_larger");
        CHECK(oneop_run(&o, in) == KILN_OK);
        double s = policy ? 7.0 / 4 : 7.0 / 6;
        int64_t od[4] = {1, 2, (int64_t)(s * 4 + 0.5), (int64_t)(s * 6 + 0.5)};
        CHECK(mvt_same_shape(oneop_out(&o, 0), 4, od));
        oneop_end(&o);
        kiln_tensor_release(&in[0]);
        kiln_tensor_release(&in[3]);
    }
    /* nearest moves any dtype, strings included: an integer upscale repeats each element */
    int64_t sd[2] = {2, 3};
    kiln_tensor s = mvt_random(KILN_STRING, 2, sd);
    kiln_tensor in[3] = {s, mvt_absent(), mvt_alloc(KILN_FLOAT, 1, (int64_t[]){2})};
    ((float *)in[2].data)[0] = 2;
    ((float *)in[2].data)[1] = 3;
    oneop o;
    oneop_begin(&o, "Resize", "", 13, 3, 1);
    oneop_attr_string(&o, "coordinate_transformation_mode", "asymmetric");
    oneop_attr_string(&o, "nearest_mode", "floor");
    CHECK(oneop_run(&o, in) == KILN_OK);
    const kiln_tensor *y = oneop_out(&o, 0);
    int ok = y->dims[0] == 4 && y->dims[1] == 9;
    for (int64_t i = 0; ok && i < 36; i++) ok = mvt_elem_eq(y, i, &s, (i / 9 / 2) * 3 + (i % 9) / 3);
    CHECK(ok);
    oneop_end(&o);
    /* Upsample-9 and Resize-10: asymmetric, floor when enlarging */
    for (int v = 0; v < 2; v++) {
        oneop_begin(&o, v ? "Resize" : "Upsample", "", v ? 10 : 9, 2, 1);
        kiln_tensor in2[2] = {s, in[2]};
        CHECK(oneop_run(&o, in2) == KILN_OK);
        y = oneop_out(&o, 0);
        ok = y->dims[0] == 4 && y->dims[1] == 9;
        for (int64_t i = 0; ok && i < 36; i++) ok = mvt_elem_eq(y, i, &s, (i / 9 / 2) * 3 + (i % 9) / 3);
        CHECK(ok);
        oneop_end(&o);
    }
    /* Upsample-7: scales attribute, bilinear on uint8 rounds to nearest */
    int64_t ud[2] = {1, 2};
    kiln_tensor u = mvt_alloc(KILN_UINT8, 2, ud);
    ((uint8_t *)u.data)[0] = 10;
    ((uint8_t *)u.data)[1] = 13;
    float usc[2] = {1, 4};
    oneop_begin(&o, "Upsample", "", 7, 1, 1);
    oneop_attr_string(&o, "mode", "linear");
    oneop_attr_floats(&o, "scales", usc, 2);
    CHECK(oneop_run(&o, &u) == KILN_OK);
    y = oneop_out(&o, 0);
    uint8_t want[8] = {10, 11, 12, 12, 13, 13, 13, 13}; /* 10.75 -> 11, 11.5 -> 12 (half to even), 12.25 -> 12 */
    CHECK(y->dims[1] == 8 && !memcmp(y->data, want, 8));
    oneop_end(&o);
    kiln_tensor_release(&u);
    kiln_tensor_release(&s);
    kiln_tensor_release(&in[2]);
    /* neither scales nor sizes */
    kiln_tensor x = mvt_random(KILN_FLOAT, 2, sd), none[3] = {x, mvt_absent(), mvt_absent()};
    oneop_begin(&o, "Resize", "", 13, 3, 1);
    CHECK(oneop_run(&o, none) == KILN_ERR_INVALID_GRAPH);
    oneop_end(&o);
    kiln_tensor_release(&x);
}

/* ---------------------------------------------------------------- GridSample / AffineGrid ----------------------- */

static double gs_reflect(double x, double lo, double hi) {
    if (hi <= lo) return lo;
    while (x < lo || x > hi) x = x < lo ? 2 * lo - x : 2 * hi - x;
    return x;
}

/* 2-D reference for linear and nearest: pixel values outside read as 0 (zeros), clamped or mirrored. */
static double gs_pixel(const kiln_tensor *x, int64_t n, int64_t c, int64_t i, int64_t j, int pad, int align) {
    int64_t H = x->dims[2], W = x->dims[3];
    if (pad == 0 && (i < 0 || i >= H || j < 0 || j >= W)) return 0;
    if (pad == 1) {
        i = i < 0 ? 0 : i >= H ? H - 1 : i;
        j = j < 0 ? 0 : j >= W ? W - 1 : j;
    }
    if (pad == 2) {
        i = (int64_t)gs_reflect((double)i, align ? 0 : -0.5, align ? H - 1 : H - 0.5);
        j = (int64_t)gs_reflect((double)j, align ? 0 : -0.5, align ? W - 1 : W - 0.5);
        i = i < 0 ? 0 : i >= H ? H - 1 : i;
        j = j < 0 ? 0 : j >= W ? W - 1 : j;
    }
    return ((float *)x->data)[((n * x->dims[1] + c) * H + i) * W + j];
}

static double gs_unnorm(double v, int64_t D, int align, int mode, int pad) {
    double x = align ? (v + 1) / 2 * (double)(D - 1) : ((v + 1) * (double)D - 1) / 2;
    if (mode == 1) x = nearbyint(x);
    double lo = align ? 0 : -0.5, hi = align ? (double)D - 1 : (double)D - 0.5;
    if (pad == 1) x = x < 0 ? 0 : x > (double)D - 1 ? (double)D - 1 : x;
    if (pad == 2 && (x < lo || x > hi)) x = gs_reflect(x, lo, hi);
    return x;
}

static void test_grid_sample(void) {
    static const char *const pads[] = {"zeros", "border", "reflection"};
    for (int iter = 0; iter < 36; iter++) {
        int mode = iter % 2, pad = (iter / 2) % 3, align = (iter / 6) % 2; /* mode 0 linear, 1 nearest */
        int64_t N = mvt_int(1, 2), C = mvt_int(1, 3), H = mvt_int(1, 5), W = mvt_int(1, 5), OH = mvt_int(1, 4),
                OW = mvt_int(1, 4);
        int64_t xd[4] = {N, C, H, W}, gd[4] = {N, OH, OW, 2};
        kiln_tensor in[2] = {mvt_random(KILN_FLOAT, 4, xd), mvt_random(KILN_FLOAT, 4, gd)};
        for (int64_t i = 0; i < kiln_tensor_numel(&in[1]); i++) ((float *)in[1].data)[i] *= 1.6f;
        oneop o;
        oneop_begin(&o, "GridSample", "", iter % 3 ? 20 : 16, 2, 1);
        oneop_attr_string(&o, "mode", mode ? "nearest" : iter % 3 ? "linear" : "bilinear");
        oneop_attr_string(&o, "padding_mode", pads[pad]);
        oneop_attr_int(&o, "align_corners", align);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        int64_t yd[4] = {N, C, OH, OW};
        CHECK(mvt_same_shape(y, 4, yd));
        int ok = 1;
        for (int64_t n = 0; n < N; n++)
            for (int64_t p = 0; p < OH * OW; p++) {
                const float *g = (const float *)in[1].data + (n * OH * OW + p) * 2;
                double gx = gs_unnorm(g[0], W, align, mode, pad), gy = gs_unnorm(g[1], H, align, mode, pad);
                for (int64_t c = 0; c < C; c++) {
                    double want;
                    if (mode) {
                        want = gs_pixel(&in[0], n, c, (int64_t)gy, (int64_t)gx, pad, align);
                    } else {
                        double fx = floor(gx), fy = floor(gy), tx = gx - fx, ty = gy - fy;
                        int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
                        want = (1 - ty) * ((1 - tx) * gs_pixel(&in[0], n, c, y0, x0, pad, align) +
                                           tx * gs_pixel(&in[0], n, c, y0, x0 + 1, pad, align)) +
                               ty * ((1 - tx) * gs_pixel(&in[0], n, c, y0 + 1, x0, pad, align) +
                                     tx * gs_pixel(&in[0], n, c, y0 + 1, x0 + 1, pad, align));
                    }
                    double got = ((float *)y->data)[(n * C + c) * OH * OW + p];
                    ok &= fabs(got - want) <= 1e-4;
                }
            }
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&in[0]);
        kiln_tensor_release(&in[1]);
    }
    /* AffineGrid(identity, align_corners) + GridSample reproduces the input in every mode, 2-D and 3-D */
    for (int vol = 0; vol < 2; vol++) {
        int64_t xd[5] = {2, 3, 4, 5, 6}, sz[5];
        int r = vol ? 5 : 4, ns = r - 2;
        if (!vol) xd[2] = 5, xd[3] = 6;
        for (int d = 0; d < r; d++) sz[d] = xd[d];
        int64_t td[3] = {2, ns, ns + 1};
        kiln_tensor theta = mvt_alloc(KILN_FLOAT, 3, td), x = mvt_random(KILN_FLOAT, r, xd);
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < ns; i++) ((float *)theta.data)[(b * ns + i) * (ns + 1) + i] = 1;
        kiln_tensor ain[2] = {theta, mvt_vec(r, sz)};
        oneop ag;
        oneop_begin(&ag, "AffineGrid", "", 20, 2, 1);
        oneop_attr_int(&ag, "align_corners", 1);
        CHECK(oneop_run(&ag, ain) == KILN_OK);
        const kiln_tensor *grid = oneop_out(&ag, 0);
        CHECK(grid->rank == r && grid->dims[r - 1] == ns);
        for (int m = 0; m < 3; m++) {
            if (vol && m == 2) continue; /* cubic is 2-D only */
            oneop o;
            oneop_begin(&o, "GridSample", "", 20, 2, 1);
            oneop_attr_string(&o, "mode", m == 0 ? "linear" : m == 1 ? "nearest" : "cubic");
            oneop_attr_int(&o, "align_corners", 1);
            kiln_tensor gin[2] = {x, *grid};
            CHECK(oneop_run(&o, gin) == KILN_OK);
            const kiln_tensor *y = oneop_out(&o, 0);
            int ok = mvt_same_shape(y, r, xd);
            for (int64_t i = 0; ok && i < kiln_tensor_numel(&x); i++)
                ok = fabsf(((float *)y->data)[i] - ((float *)x.data)[i]) < 1e-4f;
            CHECK(ok);
            oneop_end(&o);
        }
        oneop_end(&ag);
        /* AffineGrid against the formula: theta @ (x, y[, z], 1) on the pixel-center grid */
        for (int i = 0; i < kiln_tensor_numel(&theta); i++) ((float *)theta.data)[i] = mvt_float();
        oneop_begin(&ag, "AffineGrid", "", 20, 2, 1);
        CHECK(oneop_run(&ag, ain) == KILN_OK);
        grid = oneop_out(&ag, 0);
        int64_t pts = kiln_numel(ns, sz + 2), idx[3];
        int ok = 1;
        for (int64_t b = 0; b < 2; b++)
            for (int64_t q = 0; q < pts; q++) {
                mvt_unravel(q, ns, sz + 2, idx);
                double v[4];
                for (int d = 0; d < ns; d++) v[ns - 1 - d] = (2.0 * (double)idx[d] + 1) / (double)sz[2 + d] - 1;
                v[ns] = 1;
                for (int k = 0; k < ns; k++) {
                    double want = 0;
                    for (int c = 0; c <= ns; c++) want += ((float *)theta.data)[(b * ns + k) * (ns + 1) + c] * v[c];
                    ok &= fabs(((float *)grid->data)[(b * pts + q) * ns + k] - want) < 1e-5;
                }
            }
        CHECK(ok);
        oneop_end(&ag);
        kiln_tensor_release(&ain[1]);
        kiln_tensor_release(&theta);
        kiln_tensor_release(&x);
    }
}

/* Hostile values: NaN / infinite grid coordinates read as outside; a NaN roi is refused. */
static void test_hostile(void) {
    int64_t xd[4] = {1, 1, 3, 3}, gd[4] = {1, 1, 3, 2};
    kiln_tensor in[2] = {mvt_random(KILN_FLOAT, 4, xd), mvt_alloc(KILN_FLOAT, 4, gd)};
    float g[6] = {NAN, 0, INFINITY, -INFINITY, 1e30f, NAN};
    memcpy(in[1].data, g, sizeof g);
    static const char *const pads[] = {"zeros", "border", "reflection"};
    for (int m = 0; m < 3; m++)
        for (int p = 0; p < 3; p++) {
            oneop o;
            oneop_begin(&o, "GridSample", "", 20, 2, 1);
            oneop_attr_string(&o, "mode", m == 0 ? "linear" : m == 1 ? "nearest" : "cubic");
            oneop_attr_string(&o, "padding_mode", pads[p]);
            CHECK(oneop_run(&o, in) == KILN_OK);
            oneop_end(&o);
        }
    kiln_tensor_release(&in[0]);
    kiln_tensor_release(&in[1]);
    int64_t d[2] = {2, 2};
    kiln_tensor r[4] = {mvt_random(KILN_FLOAT, 2, d), mvt_alloc(KILN_FLOAT, 1, (int64_t[]){4}), mvt_absent(),
                        mvt_vec(2, (int64_t[]){3, 3})};
    ((float *)r[1].data)[0] = NAN;
    oneop o;
    oneop_begin(&o, "Resize", "", 19, 4, 1);
    oneop_attr_string(&o, "coordinate_transformation_mode", "tf_crop_and_resize");
    CHECK(oneop_run(&o, r) == KILN_ERR_INVALID_ARGUMENT);
    oneop_end(&o);
    for (int i = 0; i < 4; i++) kiln_tensor_release(&r[i]);
}

int main(void) {
    test_hostile();
    test_resize_random();
    test_resize_forms();
    test_grid_sample();
    return CHECK_DONE();
}
