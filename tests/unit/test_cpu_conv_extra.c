/* ConvInteger, QLinearConv, DeformConv and Col2Im against naive double references (2-D). */
#include "linalg_testutil.h"

/* Plain 2-D conv in double over pre-shifted values: x [N,C,H,W], w [M,C/g,KH,KW]. */
static void ref_conv2d(const double *x, const double *w, int64_t n_, int64_t c_, int64_t h, int64_t wd, int64_t m_,
                       int64_t g, int64_t kh, int64_t kw, int64_t s, int64_t pad, int64_t oh, int64_t ow,
                       double *y) {
    int64_t cg = c_ / g, mg = m_ / g;
    for (int64_t n = 0; n < n_; n++)
        for (int64_t m = 0; m < m_; m++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double acc = 0;
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t a = 0; a < kh; a++)
                            for (int64_t b = 0; b < kw; b++) {
                                int64_t ih = i * s - pad + a, iw = j * s - pad + b;
                                if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                                int64_t cin = (m / mg) * cg + ci;
                                acc += x[((n * c_ + cin) * h + ih) * wd + iw] * w[((m * cg + ci) * kh + a) * kw + b];
                            }
                    y[((n * m_ + m) * oh + i) * ow + j] = acc;
                }
}

static void check_quant(int qlinear, kiln_dtype xt, kiln_dtype wt, int per_channel, int64_t group) {
    int64_t n = 2, c = 4, h = 7, wd = 6, m = 6, k = 3, s = 2, pad = 1;
    int64_t oh = (h + 2 * pad - k) / s + 1, ow = (wd + 2 * pad - k) / s + 1;
    int64_t xd[4] = {n, c, h, wd}, wdims[4] = {m, c / group, k, k}, one = 1, md = m;
    lt_tensor x = lt_rand(xt, 4, xd, xt == KILN_UINT8 ? 0 : -128, xt == KILN_UINT8 ? 255 : 127);
    lt_tensor w = lt_rand(wt, 4, wdims, wt == KILN_UINT8 ? 0 : -128, wt == KILN_UINT8 ? 255 : 127);
    lt_tensor xzp = lt_rand(xt, 0, &one, xt == KILN_UINT8 ? 100 : -10, xt == KILN_UINT8 ? 150 : 10);
    lt_tensor wzp = per_channel ? lt_rand(wt, 1, &md, 0, 20) : lt_rand(wt, 0, &one, 0, 20);
    lt_tensor xs = lt_rand(KILN_FLOAT, 0, &one, 0.01, 0.02), ys = lt_rand(KILN_FLOAT, 0, &one, 2, 4);
    lt_tensor ws = per_channel ? lt_rand(KILN_FLOAT, 1, &md, 0.001, 0.01) : lt_rand(KILN_FLOAT, 0, &one, 0.001, 0.01);
    lt_tensor yzp = lt_rand(KILN_INT8, 0, &one, -5, 5), b = lt_rand(KILN_INT32, 1, &md, -1000, 1000);
    int64_t nx = x.n, nw = w.n, ny = n * m * oh * ow;
    double *xs_v = malloc(sizeof(double) * (size_t)nx), *ws_v = malloc(sizeof(double) * (size_t)nw);
    double *ref = malloc(sizeof(double) * (size_t)ny);
    for (int64_t i = 0; i < nx; i++) xs_v[i] = x.v[i] - xzp.v[0];
    for (int64_t i = 0; i < nw; i++) ws_v[i] = w.v[i] - wzp.v[per_channel ? i / (nw / m) : 0];
    ref_conv2d(xs_v, ws_v, n, c, h, wd, m, group, k, k, s, pad, oh, ow, ref);
    if (qlinear)
        for (int64_t i = 0; i < ny; i++) {
            int64_t mm = (i / (oh * ow)) % m;
            float f = (float)xs.v[0] * (float)ws.v[per_channel ? mm : 0] / (float)ys.v[0];
            double r = nearbyint((ref[i] + b.v[mm]) * f + yzp.v[0]);
            ref[i] = r < -128 ? -128 : r > 127 ? 127 : r;
        }
    oneop o;
    kiln_status st;
    int64_t pads[4] = {pad, pad, pad, pad}, strides[2] = {s, s};
    if (qlinear) {
        oneop_begin(&o, "QLinearConv", "", 10, 9, 1);
        oneop_attr_ints(&o, "pads", pads, 4);
        oneop_attr_ints(&o, "strides", strides, 2);
        oneop_attr_int(&o, "group", group);
        kiln_tensor in[9] = {x.t, xs.t, xzp.t, w.t, ws.t, wzp.t, ys.t, yzp.t, b.t};
        st = oneop_run(&o, in);
    } else {
        oneop_begin(&o, "ConvInteger", "", 10, 4, 1);
        oneop_attr_ints(&o, "pads", pads, 4);
        oneop_attr_ints(&o, "strides", strides, 2);
        oneop_attr_int(&o, "group", group);
        kiln_tensor in[4] = {x.t, w.t, xzp.t, wzp.t};
        st = oneop_run(&o, in);
    }
    const char *what = qlinear ? "QLinearConv" : "ConvInteger";
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        const kiln_tensor *y = oneop_out(&o, 0);
        int64_t yd[4] = {n, m, oh, ow};
        CHECK(lt_same_shape(y, 4, yd, what));
        CHECK(y->dtype == (qlinear ? KILN_INT8 : KILN_INT32));
        CHECK(lt_close(y, ref, ny, 0, qlinear ? 1 : 0, what));
    } else {
        fprintf(stderr, "%s failed: %s\n", what, kiln_error_text());
    }
    oneop_end(&o);
    free(xs_v), free(ws_v), free(ref);
    lt_free(&x), lt_free(&w), lt_free(&xzp), lt_free(&wzp), lt_free(&xs), lt_free(&ys), lt_free(&ws), lt_free(&yzp);
    lt_free(&b);
}

static double bilinear(const double *img, int64_t h, int64_t w, double y, double x) {
    double y0 = floor(y), x0 = floor(x), acc = 0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int64_t yy = (int64_t)y0 + dy, xx = (int64_t)x0 + dx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            double wy = dy ? y - y0 : 1 - (y - y0), wx = dx ? x - x0 : 1 - (x - x0);
            acc += wy * wx * img[yy * w + xx];
        }
    return acc;
}

static void check_deform(int use_mask, int64_t group, int64_t og) {
    int64_t n = 2, c = 4, h = 6, wd = 5, m = 4, kh = 3, kw = 2, s = 1, pad = 1, dil = 1;
    int64_t oh = (h + 2 * pad - (kh - 1) * dil - 1) / s + 1, ow = (wd + 2 * pad - (kw - 1) * dil - 1) / s + 1;
    int64_t xd[4] = {n, c, h, wd}, wdims[4] = {m, c / group, kh, kw};
    int64_t od[4] = {n, og * kh * kw * 2, oh, ow}, mdims[4] = {n, og * kh * kw, oh, ow}, bd = m;
    lt_tensor x = lt_rand(KILN_FLOAT, 4, xd, -1, 1), w = lt_rand(KILN_FLOAT, 4, wdims, -1, 1);
    lt_tensor off = lt_rand(KILN_FLOAT, 4, od, -2, 2), b = lt_rand(KILN_FLOAT, 1, &bd, -1, 1);
    lt_tensor mask = use_mask ? lt_rand(KILN_FLOAT, 4, mdims, 0, 1) : lt_make(KILN_UNDEFINED, 0, NULL);
    int64_t ny = n * m * oh * ow, cg = c / group, mg = m / group, cpo = c / og;
    double *ref = malloc(sizeof(double) * (size_t)ny);
    for (int64_t in = 0; in < n; in++)
        for (int64_t mm = 0; mm < m; mm++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double acc = b.v[mm];
                    for (int64_t ci = 0; ci < cg; ci++) {
                        int64_t cin = (mm / mg) * cg + ci, g_o = cin / cpo;
                        for (int64_t a = 0; a < kh; a++)
                            for (int64_t bb = 0; bb < kw; bb++) {
                                int64_t kk = a * kw + bb;
                                double dy = off.v[(((in * og + g_o) * kh * kw + kk) * 2 + 0) * oh * ow + i * ow + j];
                                double dx = off.v[(((in * og + g_o) * kh * kw + kk) * 2 + 1) * oh * ow + i * ow + j];
                                double py = (double)(i * s - pad + a * dil) + dy, px = (double)(j * s - pad + bb * dil) + dx;
                                double v = bilinear(x.v + (in * c + cin) * h * wd, h, wd, py, px);
                                if (use_mask) v *= mask.v[((in * og + g_o) * kh * kw + kk) * oh * ow + i * ow + j];
                                acc += v * w.v[((mm * cg + ci) * kh + a) * kw + bb];
                            }
                    }
                    ref[((in * m + mm) * oh + i) * ow + j] = acc;
                }
    oneop o;
    oneop_begin(&o, "DeformConv", "", 19, 5, 1);
    int64_t pads[4] = {pad, pad, pad, pad};
    oneop_attr_ints(&o, "pads", pads, 4);
    oneop_attr_int(&o, "group", group);
    oneop_attr_int(&o, "offset_group", og);
    kiln_tensor in[5] = {x.t, w.t, off.t, b.t, mask.t};
    kiln_status st = oneop_run(&o, in);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        int64_t yd[4] = {n, m, oh, ow};
        CHECK(lt_same_shape(oneop_out(&o, 0), 4, yd, "DeformConv"));
        CHECK(lt_close(oneop_out(&o, 0), ref, ny, 1e-5, 1e-5, "DeformConv"));
    } else {
        fprintf(stderr, "DeformConv failed: %s\n", kiln_error_text());
    }
    oneop_end(&o);
    free(ref);
    lt_free(&x), lt_free(&w), lt_free(&off), lt_free(&b), lt_free(&mask);
}

static void check_col2im(kiln_dtype dt) {
    int64_t n = 2, c = 3, h = 7, wd = 6, bh = 2, bw = 3, sh = 2, sw = 1, dh = 2, dw = 1;
    int64_t pads[4] = {1, 0, 2, 1};
    int64_t lh = (h + pads[0] + pads[2] - (bh - 1) * dh - 1) / sh + 1;
    int64_t lw = (wd + pads[1] + pads[3] - (bw - 1) * dw - 1) / sw + 1;
    int64_t xd[3] = {n, c * bh * bw, lh * lw}, two = 2;
    lt_tensor x = lt_rand(dt, 3, xd, -1, 1);
    lt_tensor ishape = lt_make(KILN_INT64, 1, &two), bshape = lt_make(KILN_INT64, 1, &two);
    lt_set(&ishape, 0, (double)h), lt_set(&ishape, 1, (double)wd);
    lt_set(&bshape, 0, (double)bh), lt_set(&bshape, 1, (double)bw);
    int64_t ny = n * c * h * wd;
    double *ref = calloc((size_t)ny, sizeof(double));
    for (int64_t in = 0; in < n; in++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t a = 0; a < bh; a++)
                for (int64_t b = 0; b < bw; b++)
                    for (int64_t i = 0; i < lh; i++)
                        for (int64_t j = 0; j < lw; j++) {
                            int64_t y = i * sh - pads[0] + a * dh, xx = j * sw - pads[1] + b * dw;
                            if (y < 0 || y >= h || xx < 0 || xx >= wd) continue;
                            ref[((in * c + ch) * h + y) * wd + xx] +=
                                x.v[((in * c * bh * bw) + (ch * bh + a) * bw + b) * lh * lw + i * lw + j];
                        }
    oneop o;
    oneop_begin(&o, "Col2Im", "", 18, 3, 1);
    oneop_attr_ints(&o, "pads", pads, 4);
    oneop_attr_ints(&o, "strides", (int64_t[]){sh, sw}, 2);
    oneop_attr_ints(&o, "dilations", (int64_t[]){dh, dw}, 2);
    kiln_tensor in[3] = {x.t, ishape.t, bshape.t};
    kiln_status st = oneop_run(&o, in);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        int64_t yd[4] = {n, c, h, wd};
        CHECK(lt_same_shape(oneop_out(&o, 0), 4, yd, "Col2Im"));
        double tol = lt_tol(dt, 6);
        CHECK(lt_close(oneop_out(&o, 0), ref, ny, tol, tol, "Col2Im"));
    } else {
        fprintf(stderr, "Col2Im failed: %s\n", kiln_error_text());
    }
    oneop_end(&o);
    free(ref);
    lt_free(&x), lt_free(&ishape), lt_free(&bshape);
}

int main(void) {
    check_quant(0, KILN_UINT8, KILN_UINT8, 0, 1);
    check_quant(0, KILN_INT8, KILN_UINT8, 1, 2);
    check_quant(1, KILN_UINT8, KILN_INT8, 0, 1);
    check_quant(1, KILN_INT8, KILN_INT8, 1, 2);
    check_deform(0, 1, 1);
    check_deform(1, 2, 2);
    check_deform(1, 1, 4);
    check_col2im(KILN_FLOAT);
    check_col2im(KILN_DOUBLE);
    check_col2im(KILN_FLOAT16);
    return CHECK_DONE();
}
