/* Norm-family kernels against double references: LayerNormalization (every axis, broadcast Scale/B, optional
 * Mean/InvStdDev outputs), RMSNormalization (scale of another dtype), GroupNormalization (opset 18 per-group and
 * opset 21 per-channel scale), InstanceNormalization, BatchNormalization (inference and training_mode),
 * LpNormalization and MeanVarianceNormalization, over float / double / float16 / bfloat16. */
#include "reduce_testutil.h"

static double tol_of(kiln_dtype dt) {
    switch (dt) {
    case KILN_FLOAT16: return 4e-3;
    case KILN_BFLOAT16: return 3e-2;
    case KILN_DOUBLE: return 1e-11;
    default: return 2e-5;
    }
}

static void describe(char *what, size_t n, const char *op, const rt_tensor *x, const char *extra) {
    char s[160];
    snprintf(what, n, "%s %s x%s %s", op, kiln_dtype_name(x->t.dtype),
             kiln_shape_str(x->t.rank, x->t.dims, s, sizeof s), extra);
}

/* Value of parameter p (broadcast to x's shape) at x's flat index i. */
static double bcast_at(const rt_tensor *p, const rt_tensor *x, int64_t i) {
    int64_t off = 0, stride = 1;
    for (int d = x->t.rank - 1; d >= 0; d--) {
        int64_t id = i % x->t.dims[d];
        i /= x->t.dims[d];
        int pd = d - (x->t.rank - p->t.rank);
        if (pd >= 0) {
            if (p->t.dims[pd] != 1) off += id * stride;
            stride *= p->t.dims[pd];
        }
    }
    return p->v[off];
}

/* ---- LayerNormalization / RMSNormalization ---- */

static void check_layer(int rms, const rt_tensor *x, int64_t axis, const rt_tensor *s, const rt_tensor *b, float eps,
                        int want_stats) {
    int rank = x->t.rank, a = (int)(axis < 0 ? axis + rank : axis);
    int64_t rows = 1, cols = 1;
    for (int d = 0; d < rank; d++) *(d < a ? &rows : &cols) *= x->t.dims[d];
    int n_out = rms ? 1 : want_stats ? 3 : 1;
    oneop o;
    oneop_begin(&o, rms ? "RMSNormalization" : "LayerNormalization", "", rms ? 23 : 17, b ? 3 : 2, n_out);
    oneop_attr_int(&o, "axis", axis);
    oneop_attr_float(&o, "epsilon", eps);
    kiln_tensor in[3] = {x->t, s->t};
    if (b) in[2] = b->t;
    char what[200], extra[64];
    snprintf(extra, sizeof extra, "axis %lld scale rank %d%s", (long long)axis, s->t.rank, b ? " +bias" : "");
    describe(what, sizeof what, rms ? "RMSNormalization" : "LayerNormalization", x, extra);
    kiln_status st = oneop_run(&o, in);
    CHECK(st == KILN_OK);
    if (st != KILN_OK) {
        fprintf(stderr, "%s: %s\n", what, kiln_error_text());
        oneop_end(&o);
        return;
    }
    double *ref = calloc((size_t)x->n + 1, sizeof(double)), *mean = calloc((size_t)rows + 1, sizeof(double)),
           *inv = calloc((size_t)rows + 1, sizeof(double));
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x->v + r * cols;
        double m = 0, v = 0;
        for (int64_t c = 0; c < cols; c++) m += xr[c];
        m = rms ? 0 : m / (double)cols;
        for (int64_t c = 0; c < cols; c++) v += (xr[c] - m) * (xr[c] - m);
        v /= (double)cols;
        mean[r] = m;
        inv[r] = 1 / sqrt(v + (double)eps);
        for (int64_t c = 0; c < cols; c++) {
            int64_t i = r * cols + c;
            ref[i] = (xr[c] - m) * inv[r] * bcast_at(s, x, i) + (b ? bcast_at(b, x, i) : 0);
        }
    }
    const kiln_tensor *y = oneop_out(&o, 0);
    kiln_dtype yt = rms ? s->t.dtype : x->t.dtype;
    double t = tol_of(yt) > tol_of(x->t.dtype) ? tol_of(yt) : tol_of(x->t.dtype);
    CHECK(y->dtype == yt);
    CHECK(rt_shape_is(y, rank, x->t.dims, what));
    CHECK(rt_close(y, ref, NULL, x->n, t, t, what));
    if (n_out == 3) {
        int64_t sd[KILN_MAX_DIMS];
        for (int d = 0; d < rank; d++) sd[d] = d < a ? x->t.dims[d] : 1;
        const kiln_tensor *ym = oneop_out(&o, 1), *yi = oneop_out(&o, 2);
        CHECK(ym->dtype == (x->t.dtype == KILN_DOUBLE ? KILN_DOUBLE : KILN_FLOAT));
        CHECK(rt_shape_is(ym, rank, sd, what) && rt_shape_is(yi, rank, sd, what));
        CHECK(rt_close(ym, mean, NULL, rows, 1e-5, 1e-5, what));
        CHECK(rt_close(yi, inv, NULL, rows, 1e-4, 1e-5, what));
    }
    free(ref);
    free(mean);
    free(inv);
    oneop_end(&o);
}

static void test_layer(void) {
    static const int64_t shapes[][4] = {{2, 3, 5}, {4, 768}, {3, 1, 4, 7}, {9}, {37, 1031}};
    static const int ranks[] = {3, 2, 4, 1, 2};
    for (int s = 0; s < 5; s++) {
        int rank = ranks[s];
        rt_tensor x = rt_rand(KILN_FLOAT, rank, shapes[s], 3, 5); /* mean far from 0: tests the variance */
        for (int a = -rank; a < rank; a++) {
            int ax = a < 0 ? a + rank : a;
            rt_tensor sc = rt_rand(KILN_FLOAT, rank - ax, shapes[s] + ax, -2, 2);
            rt_tensor bi = rt_rand(KILN_FLOAT, rank - ax, shapes[s] + ax, -1, 1);
            check_layer(0, &x, a, &sc, &bi, 1e-5f, 1);
            check_layer(0, &x, a, &sc, NULL, 0.1f, 0);
            check_layer(1, &x, a, &sc, NULL, 1e-6f, 0);
            rt_free(&sc);
            rt_free(&bi);
        }
        rt_free(&x);
    }
    /* Scale broadcast along the normalized dims; bias varying per row (full shape). */
    int64_t xd[] = {3, 4, 6}, sd[] = {1, 6}, bd[] = {3, 4, 6};
    rt_tensor x = rt_rand(KILN_FLOAT, 3, xd, -1, 1), sc = rt_rand(KILN_FLOAT, 2, sd, -1, 1),
              bi = rt_rand(KILN_FLOAT, 3, bd, -1, 1);
    check_layer(0, &x, 1, &sc, &bi, 1e-5f, 1);
    check_layer(0, &x, -1, &sc, NULL, 1e-5f, 1);
    check_layer(1, &x, 1, &sc, NULL, 1e-5f, 0);
    rt_free(&x);
    rt_free(&sc);
    rt_free(&bi);
    /* other dtypes; RMSNormalization with a float scale on float16 input */
    static const kiln_dtype types[] = {KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16};
    int64_t d2[] = {5, 64};
    for (int t = 0; t < 3; t++) {
        rt_tensor xx = rt_rand(types[t], 2, d2, -2, 2), s1 = rt_rand(types[t], 1, d2 + 1, -1, 1),
                  b1 = rt_rand(types[t], 1, d2 + 1, -1, 1), sf = rt_rand(KILN_FLOAT, 1, d2 + 1, -1, 1);
        check_layer(0, &xx, -1, &s1, &b1, 1e-5f, 1);
        check_layer(1, &xx, -1, &s1, NULL, 1e-5f, 0);
        check_layer(1, &xx, 0, &sf, NULL, 1e-5f, 0);
        rt_free(&xx), rt_free(&s1), rt_free(&b1), rt_free(&sf);
    }
    /* A scale that does not broadcast is refused with both shapes named. */
    int64_t bad[] = {5};
    rt_tensor xx = rt_rand(KILN_FLOAT, 2, d2, -1, 1), sb = rt_rand(KILN_FLOAT, 1, bad, -1, 1);
    oneop o;
    oneop_begin(&o, "LayerNormalization", "", 17, 2, 1);
    kiln_tensor in[2] = {xx.t, sb.t};
    CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_error_text(), "[5]") && strstr(kiln_error_text(), "[5,64]"));
    oneop_end(&o);
    rt_free(&xx), rt_free(&sb);
}

/* ---- Group / Instance normalization ---- */

static void check_group(const char *op, int opset, const rt_tensor *x, int64_t groups, const rt_tensor *s,
                        const rt_tensor *b, float eps) {
    int64_t N = x->t.dims[0], C = x->t.dims[1], S = x->n / (N * C), cpg = C / groups;
    int per_group = s->n == groups && opset < 21;
    oneop o;
    oneop_begin(&o, op, "", opset, 3, 1);
    if (!strcmp(op, "GroupNormalization")) oneop_attr_int(&o, "num_groups", groups);
    oneop_attr_float(&o, "epsilon", eps);
    kiln_tensor in[3] = {x->t, s->t, b->t};
    char what[200], extra[64];
    snprintf(extra, sizeof extra, "opset %d groups %lld", opset, (long long)groups);
    describe(what, sizeof what, op, x, extra);
    kiln_status st = oneop_run(&o, in);
    CHECK(st == KILN_OK);
    if (st != KILN_OK) {
        fprintf(stderr, "%s: %s\n", what, kiln_error_text());
        oneop_end(&o);
        return;
    }
    double *ref = calloc((size_t)x->n + 1, sizeof(double));
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < groups; g++) {
            int64_t base = (n * C + g * cpg) * S, len = cpg * S;
            double m = 0, v = 0;
            for (int64_t i = 0; i < len; i++) m += x->v[base + i];
            m /= (double)len;
            for (int64_t i = 0; i < len; i++) v += (x->v[base + i] - m) * (x->v[base + i] - m);
            v /= (double)len;
            for (int64_t i = 0; i < len; i++) {
                int64_t c = g * cpg + i / S, si = per_group ? g : c;
                ref[base + i] = (x->v[base + i] - m) / sqrt(v + eps) * s->v[si] + b->v[si];
            }
        }
    const kiln_tensor *y = oneop_out(&o, 0);
    CHECK(rt_shape_is(y, x->t.rank, x->t.dims, what));
    CHECK(rt_close(y, ref, NULL, x->n, tol_of(x->t.dtype), tol_of(x->t.dtype), what));
    free(ref);
    oneop_end(&o);
}

static void test_group(void) {
    static const kiln_dtype types[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16};
    int64_t d1[] = {3, 4, 2, 2}, d2[] = {2, 6, 33}, d3[] = {2, 32, 16, 16}, d4[] = {5, 3};
    const int64_t *ds[] = {d1, d2, d3, d4};
    const int rk[] = {4, 3, 4, 2};
    for (int t = 0; t < 4; t++)
        for (int s = 0; s < 4; s++) {
            if (t > 0 && s == 2) continue;
            rt_tensor x = rt_rand(types[t], rk[s], ds[s], -3, 7);
            int64_t C = ds[s][1];
            rt_tensor sc = rt_rand(types[t], 1, &C, -2, 2), bi = rt_rand(types[t], 1, &C, -1, 1);
            check_group("InstanceNormalization", 6, &x, C, &sc, &bi, 1e-5f);
            for (int64_t g = 1; g <= C; g++) {
                if (C % g) continue;
                check_group("GroupNormalization", 21, &x, g, &sc, &bi, 1e-3f);
                rt_tensor sg = rt_rand(types[t], 1, &g, -2, 2), bg = rt_rand(types[t], 1, &g, -1, 1);
                check_group("GroupNormalization", 18, &x, g, &sg, &bg, 1e-5f);
                rt_free(&sg), rt_free(&bg);
            }
            rt_free(&x), rt_free(&sc), rt_free(&bi);
        }
    /* groups that do not divide the channels */
    rt_tensor x = rt_rand(KILN_FLOAT, 4, d1, -1, 1);
    int64_t c4 = 4;
    rt_tensor sc = rt_rand(KILN_FLOAT, 1, &c4, -1, 1);
    oneop o;
    oneop_begin(&o, "GroupNormalization", "", 21, 3, 1);
    oneop_attr_int(&o, "num_groups", 3);
    kiln_tensor in[3] = {x.t, sc.t, sc.t};
    CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
    oneop_end(&o);
    rt_free(&x), rt_free(&sc);
}

/* ---- BatchNormalization ---- */

static void check_batch(int opset, int training, const rt_tensor *x, const rt_tensor *p, float eps, float momentum) {
    int64_t N = x->t.dims[0], C = x->t.dims[1], S = x->n / (N * C);
    /* p holds scale, B, mean, var (4 x C values) */
    rt_tensor prm[4];
    for (int i = 0; i < 4; i++) {
        prm[i] = rt_make(p->t.dtype, 1, &C);
        for (int64_t c = 0; c < C; c++) rt_set(&prm[i], c, p->v[i * C + c]);
    }
    oneop o;
    oneop_begin(&o, "BatchNormalization", "", opset, 5, training ? 3 : 1);
    oneop_attr_float(&o, "epsilon", eps);
    oneop_attr_float(&o, "momentum", momentum);
    if (training) oneop_attr_int(&o, "training_mode", 1);
    kiln_tensor in[5] = {x->t, prm[0].t, prm[1].t, prm[2].t, prm[3].t};
    char what[200], extra[64];
    snprintf(extra, sizeof extra, "opset %d training %d", opset, training);
    describe(what, sizeof what, "BatchNormalization", x, extra);
    kiln_status st = oneop_run(&o, in);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        double *ref = calloc((size_t)x->n + 1, sizeof(double)), *rm = calloc((size_t)C, sizeof(double)),
               *rv = calloc((size_t)C, sizeof(double));
        for (int64_t c = 0; c < C; c++) {
            double m = prm[2].v[c], v = prm[3].v[c];
            if (training) {
                double bm = 0, bv = 0;
                for (int64_t n = 0; n < N; n++)
                    for (int64_t s = 0; s < S; s++) bm += x->v[(n * C + c) * S + s];
                bm /= (double)(N * S);
                for (int64_t n = 0; n < N; n++)
                    for (int64_t s = 0; s < S; s++) bv += pow(x->v[(n * C + c) * S + s] - bm, 2);
                bv /= (double)(N * S);
                rm[c] = m * momentum + bm * (1 - momentum);
                rv[c] = v * momentum + bv * (1 - momentum);
                m = bm, v = bv;
            }
            for (int64_t n = 0; n < N; n++)
                for (int64_t s = 0; s < S; s++) {
                    int64_t i = (n * C + c) * S + s;
                    ref[i] = prm[0].v[c] * (x->v[i] - m) / sqrt(v + eps) + prm[1].v[c];
                }
        }
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(rt_shape_is(y, x->t.rank, x->t.dims, what));
        CHECK(rt_close(y, ref, NULL, x->n, tol_of(x->t.dtype), tol_of(x->t.dtype), what));
        if (training) {
            CHECK(rt_shape_is(oneop_out(&o, 1), 1, &C, what) && rt_shape_is(oneop_out(&o, 2), 1, &C, what));
            CHECK(rt_close(oneop_out(&o, 1), rm, NULL, C, tol_of(x->t.dtype), 1e-6, what));
            CHECK(rt_close(oneop_out(&o, 2), rv, NULL, C, tol_of(x->t.dtype), 1e-6, what));
        }
        free(ref), free(rm), free(rv);
    } else {
        fprintf(stderr, "%s: %s\n", what, kiln_error_text());
    }
    oneop_end(&o);
    for (int i = 0; i < 4; i++) rt_free(&prm[i]);
}

static void test_batch(void) {
    int64_t d1[] = {2, 3, 4, 5}, d2[] = {8, 16}, d3[] = {4, 64, 28, 28}, d4[] = {1, 2, 3, 2, 2};
    const int64_t *ds[] = {d1, d2, d3, d4};
    const int rk[] = {4, 2, 4, 5};
    static const kiln_dtype types[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16};
    for (int t = 0; t < 3; t++)
        for (int s = 0; s < 4; s++) {
            rt_tensor x = rt_rand(types[t], rk[s], ds[s], -2, 4);
            int64_t pc = 4 * ds[s][1];
            rt_tensor p = rt_rand(KILN_FLOAT, 1, &pc, 0.5, 1.5); /* positive: var must be */
            rt_tensor pt = rt_make(types[t], 1, &pc);
            for (int64_t i = 0; i < pc; i++) rt_set(&pt, i, p.v[i]);
            check_batch(15, 0, &x, &pt, 1e-5f, 0.9f);
            check_batch(9, 0, &x, &pt, 1e-2f, 0.9f);
            check_batch(15, 1, &x, &pt, 1e-5f, 0.8f);
            rt_free(&x), rt_free(&p), rt_free(&pt);
        }
}

/* ---- LpNormalization, MeanVarianceNormalization ---- */

static void test_lp_mvn(void) {
    int64_t dims[] = {3, 4, 5};
    rt_tensor x = rt_rand(KILN_FLOAT, 3, dims, -2, 2);
    for (int p = 1; p <= 2; p++)
        for (int a = -3; a < 3; a++) {
            int ax = a < 0 ? a + 3 : a;
            int64_t inner = 1, n = dims[ax];
            for (int d = ax + 1; d < 3; d++) inner *= dims[d];
            double *ref = calloc((size_t)x.n, sizeof(double));
            for (int64_t i = 0; i < x.n; i++) {
                int64_t base = i / (n * inner) * n * inner + i % inner;
                double s = 0;
                for (int64_t q = 0; q < n; q++) {
                    double v = x.v[base + q * inner];
                    s += p == 1 ? fabs(v) : v * v;
                }
                ref[i] = x.v[i] / (p == 1 ? s : sqrt(s));
            }
            oneop o;
            oneop_begin(&o, "LpNormalization", "", 22, 1, 1);
            oneop_attr_int(&o, "axis", a);
            oneop_attr_int(&o, "p", p);
            CHECK(oneop_run(&o, &x.t) == KILN_OK);
            CHECK(rt_close(oneop_out(&o, 0), ref, NULL, x.n, 1e-6, 1e-7, "LpNormalization"));
            oneop_end(&o);
            free(ref);
        }
    rt_free(&x);

    int64_t md[] = {3, 3, 3, 2};
    rt_tensor m = rt_rand(KILN_FLOAT, 4, md, 1, 3);
    static const int64_t axsets[][3] = {{0, 2, 3}, {1, 0, 0}, {-1, 0, 0}};
    static const int nax[] = {3, 1, 1};
    for (int k = 0; k < 4; k++) {
        int red[4] = {0};
        if (k < 3)
            for (int i = 0; i < nax[k]; i++) red[(axsets[k][i] + 4) % 4] = 1;
        else
            red[0] = red[2] = red[3] = 1; /* default axes */
        double *ref = calloc((size_t)m.n, sizeof(double));
        int64_t idx[4] = {0}, jdx[4];
        for (int64_t i = 0; i < m.n; i++, rt_next(4, md, idx)) {
            double s = 0, s2 = 0, cnt = 0;
            memset(jdx, 0, sizeof jdx);
            for (int64_t j = 0; j < m.n; j++, rt_next(4, md, jdx)) {
                int same = 1;
                for (int d = 0; d < 4; d++) same &= red[d] || jdx[d] == idx[d];
                if (same) s += m.v[j], s2 += m.v[j] * m.v[j], cnt++;
            }
            double mean = s / cnt;
            ref[i] = (m.v[i] - mean) / (sqrt(s2 / cnt - mean * mean) + 1e-9);
        }
        oneop o;
        oneop_begin(&o, "MeanVarianceNormalization", "", 13, 1, 1);
        if (k < 3) oneop_attr_ints(&o, "axes", axsets[k], nax[k]);
        CHECK(oneop_run(&o, &m.t) == KILN_OK);
        CHECK(rt_close(oneop_out(&o, 0), ref, NULL, m.n, 1e-4, 1e-5, "MeanVarianceNormalization"));
        oneop_end(&o);
        free(ref);
    }
    rt_free(&m);
}

int main(void) {
    rt_seed();
    test_layer();
    test_group();
    test_batch();
    test_lp_mvn();
    return CHECK_DONE();
}
