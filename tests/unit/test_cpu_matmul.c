/* MatMul, Gemm, MatMulInteger, QLinearMatMul against naive double references on random inputs. */
#include "backends/cpu/gemm.h"
#include "core/broadcast.h"
#include "linalg_testutil.h"

/* numpy matmul reference in double (integer dtypes: exact in int64 with wrap to the dtype on store). */
static void ref_matmul(const lt_tensor *a, const lt_tensor *b, int *rank, int64_t *dims, double **out) {
    int ra = a->t.rank, rb = b->t.rank;
    int64_t m = ra >= 2 ? a->t.dims[ra - 2] : 1, k = a->t.dims[ra - 1], n = rb >= 2 ? b->t.dims[rb - 1] : 1;
    int rab = ra > 2 ? ra - 2 : 0, rbb = rb > 2 ? rb - 2 : 0, rout;
    int64_t bd[KILN_MAX_DIMS], sa[KILN_MAX_DIMS], sb[KILN_MAX_DIMS];
    kiln_broadcast_shape(rab, a->t.dims, rbb, b->t.dims, &rout, bd);
    kiln_broadcast_strides(rab, a->t.dims, rout, bd, sa);
    kiln_broadcast_strides(rbb, b->t.dims, rout, bd, sb);
    int64_t batch = 1;
    *rank = 0;
    for (int i = 0; i < rout; i++) batch *= bd[i], dims[(*rank)++] = bd[i];
    if (ra >= 2) dims[(*rank)++] = m;
    if (rb >= 2) dims[(*rank)++] = n;
    double *y = calloc((size_t)(batch * m * n + 1), sizeof(double));
    for (int64_t it = 0; it < batch; it++) {
        int64_t rem = it, oa = 0, ob = 0;
        for (int d = rout - 1; d >= 0; d--) {
            int64_t id = rem % bd[d];
            rem /= bd[d];
            oa += id * sa[d];
            ob += id * sb[d];
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++) s += a->v[oa * m * k + i * k + p] * b->v[ob * k * n + p * n + j];
                y[it * m * n + i * n + j] = s;
            }
    }
    *out = y;
}

static unsigned const_b; /* 2: B is a constant initializer (prepacked) */

static void check_matmul(kiln_dtype dt, int ra, const int64_t *da, int rb, const int64_t *db) {
    double lo = kiln_dtype_is_float(dt) ? -1 : -50, hi = kiln_dtype_is_float(dt) ? 1 : 50;
    if (dt == KILN_UINT32 || dt == KILN_UINT64) lo = 0;
    lt_tensor a = lt_rand(dt, ra, da, lo, hi), b = lt_rand(dt, rb, db, lo, hi);
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    double *ref;
    ref_matmul(&a, &b, &rank, dims, &ref);
    oneop o;
    oneop_begin(&o, "MatMul", "", 13, 2, 1);
    kiln_tensor in[2] = {a.t, b.t};
    kiln_status st = oneop_run_consts(&o, in, const_b);
    if (st == KILN_OK && const_b) st = oneop_run_consts(&o, in, const_b); /* second run reuses the packed weights */
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        const kiln_tensor *y = oneop_out(&o, 0);
        char what[128];
        snprintf(what, sizeof what, "MatMul %s rank %d x rank %d", kiln_dtype_name(dt), ra, rb);
        CHECK(lt_same_shape(y, rank, dims, what));
        CHECK(y->dtype == dt);
        CHECK(lt_close(y, ref, kiln_numel(rank, dims), lt_tol(dt, da[ra - 1]), lt_tol(dt, da[ra - 1]), what));
    } else {
        fprintf(stderr, "MatMul failed: %s\n", kiln_error_text());
    }
    oneop_end(&o);
    free(ref);
    lt_free(&a);
    lt_free(&b);
}

static void test_matmul(void) {
    static const kiln_dtype types[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16,
                                       KILN_INT32, KILN_INT64,  KILN_UINT32,  KILN_UINT64};
    static const int64_t sizes[] = {1, 7, 33, 129};
    for (int x = 0; x < 4; x++)
        for (int y = 0; y < 4; y++)
            for (int z = 0; z < 4; z++) {
                int64_t da[2] = {sizes[x], sizes[z]}, db[2] = {sizes[z], sizes[y]};
                check_matmul(KILN_FLOAT, 2, da, 2, db);
            }
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        kiln_dtype dt = types[t];
        int64_t a2[] = {17, 35}, b2[] = {35, 19};
        check_matmul(dt, 2, a2, 2, b2);
        int64_t a1[] = {35}, b1[] = {35}; /* 1-D . 1-D -> scalar */
        check_matmul(dt, 1, a1, 1, b1);
        int64_t a3[] = {3, 5, 8}, b3[] = {8, 6}; /* batch x shared matrix (folded into one GEMM) */
        check_matmul(dt, 3, a3, 2, b3);
        int64_t a4[] = {2, 1, 4, 9}, b4[] = {3, 9, 5}; /* broadcast [2,1] with [3] */
        check_matmul(dt, 4, a4, 3, b4);
    }
    int64_t v[] = {9}, m3[] = {4, 9, 7}, m3b[] = {4, 7, 9};
    check_matmul(KILN_FLOAT, 1, v, 3, m3);  /* vector x batch of matrices */
    check_matmul(KILN_FLOAT, 3, m3b, 1, v); /* batch of matrices x vector */
    int64_t e1[] = {0, 5}, e2[] = {5, 3};
    check_matmul(KILN_FLOAT, 2, e1, 2, e2); /* empty M */
    int64_t k0a[] = {4, 0}, k0b[] = {0, 3};
    check_matmul(KILN_FLOAT, 2, k0a, 2, k0b); /* K = 0: zeros */
    int64_t big_a[] = {2, 3, 70, 129}, big_b[] = {2, 1, 129, 65};
    check_matmul(KILN_FLOAT, 4, big_a, 4, big_b);
    /* constant 2-D B: packed once at prepare, for each kernel level the CPU has (and a stale pack after a level
     * change must fall back to packing at run time) */
    const_b = 2;
    int top = kiln_sgemm_set_level(99);
    for (int level = 0; level <= top; level++) {
        kiln_sgemm_set_level(level);
        int64_t wa[] = {3, 37, 300}, wb[] = {300, 77};
        check_matmul(KILN_FLOAT, 3, wa, 2, wb);
        check_matmul(KILN_FLOAT16, 3, wa, 2, wb);
        int64_t va[] = {300}, vb[] = {300, 77};
        check_matmul(KILN_FLOAT, 1, va, 2, vb);
    }
    kiln_sgemm_set_level(99);
    kiln_sgemm_test_wide_kernel(1);
    {
        int64_t wa[] = {3, 37, 300}, wb[] = {300, 77};
        check_matmul(KILN_FLOAT, 3, wa, 2, wb);
    }
    kiln_sgemm_test_wide_kernel(0);
    const_b = 0;

    /* Shape errors are reported, not crashed on. */
    lt_tensor a = lt_rand(KILN_FLOAT, 2, (int64_t[]){3, 4}, -1, 1), b = lt_rand(KILN_FLOAT, 2, (int64_t[]){5, 2}, -1, 1);
    oneop o;
    oneop_begin(&o, "MatMul", "", 13, 2, 1);
    kiln_tensor in[2] = {a.t, b.t};
    CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_error_text(), "inner dimensions") != NULL);
    oneop_end(&o);
    lt_free(&a);
    lt_free(&b);
}

static void check_gemm(kiln_dtype dt, int64_t m, int64_t n, int64_t k, int ta, int tb, float alpha, float beta,
                       int c_rank, const int64_t *c_dims) {
    const unsigned consts = (unsigned)(m * 7 + n) % 2 ? 2u : 0u; /* B constant (prepacked) in about half the cases */
    int64_t da[2] = {ta ? k : m, ta ? m : k}, db[2] = {tb ? n : k, tb ? k : n};
    double lo = kiln_dtype_is_float(dt) ? -1 : -20;
    lt_tensor a = lt_rand(dt, 2, da, lo, -lo), b = lt_rand(dt, 2, db, lo, -lo);
    lt_tensor c = c_rank >= 0 ? lt_rand(dt, c_rank, c_dims, lo, -lo) : lt_make(KILN_UNDEFINED, 0, NULL);
    double *ref = calloc((size_t)(m * n + 1), sizeof(double));
    int64_t cs[2] = {0, 0}, full[2] = {m, n};
    if (c_rank >= 0) kiln_broadcast_strides(c_rank, c_dims, 2, full, cs);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += a.v[ta ? p * m + i : i * k + p] * b.v[tb ? j * k + p : p * n + j];
            ref[i * n + j] = alpha * s + (c_rank >= 0 ? beta * c.v[i * cs[0] + j * cs[1]] : 0);
        }
    oneop o;
    oneop_begin(&o, "Gemm", "", 13, 3, 1);
    oneop_attr_int(&o, "transA", ta);
    oneop_attr_int(&o, "transB", tb);
    oneop_attr_float(&o, "alpha", alpha);
    oneop_attr_float(&o, "beta", beta);
    kiln_tensor in[3] = {a.t, b.t, c.t};
    kiln_status st = oneop_run_consts(&o, in, consts);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        const kiln_tensor *y = oneop_out(&o, 0);
        char what[160];
        snprintf(what, sizeof what, "Gemm %s %lldx%lldx%lld ta=%d tb=%d c_rank=%d", kiln_dtype_name(dt),
                 (long long)m, (long long)n, (long long)k, ta, tb, c_rank);
        CHECK(lt_same_shape(y, 2, full, what));
        double tol = lt_tol(dt, k) * (fabs(alpha) + fabs(beta) + 1);
        CHECK(lt_close(y, ref, m * n, tol, tol, what));
    } else {
        fprintf(stderr, "Gemm failed: %s\n", kiln_error_text());
    }
    oneop_end(&o);
    free(ref);
    lt_free(&a);
    lt_free(&b);
    lt_free(&c);
}

static void test_gemm(void) {
    int64_t full[2] = {33, 17}, row[1] = {17}, col[2] = {33, 1}, one[1] = {1};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_gemm(KILN_FLOAT, 33, 17, 65, ta, tb, 1.0f, 1.0f, 2, full);
            check_gemm(KILN_FLOAT, 7, 129, 33, ta, tb, 0.25f, -2.0f, -1, NULL);
            check_gemm(KILN_DOUBLE, 33, 17, 9, ta, tb, 0.5f, 2.0f, 1, row);
            check_gemm(KILN_FLOAT16, 33, 17, 9, ta, tb, 1.0f, 1.0f, 2, col);
        }
    check_gemm(KILN_FLOAT, 33, 17, 65, 0, 0, 1.5f, 0.5f, 2, col);
    check_gemm(KILN_FLOAT, 33, 17, 65, 1, 0, 1.0f, 3.0f, 1, one);
    check_gemm(KILN_FLOAT, 33, 17, 65, 0, 1, 1.0f, 0.0f, 2, full);
    check_gemm(KILN_FLOAT, 1, 1000, 300, 0, 1, 1.0f, 1.0f, 1, (int64_t[]){1000}); /* FC layer, batch 1 */
    check_gemm(KILN_BFLOAT16, 5, 6, 7, 0, 0, 1.0f, 1.0f, 0, NULL);               /* scalar C */
    check_gemm(KILN_INT32, 9, 11, 13, 0, 1, 1.0f, 1.0f, 1, (int64_t[]){11});
    check_gemm(KILN_INT64, 9, 11, 13, 1, 0, 1.0f, 1.0f, 2, (int64_t[]){9, 11});
}

/* MatMulInteger / QLinearMatMul reference: int32 accumulate of zero-point-shifted values. */
static void check_qmm(int qlinear, kiln_dtype ta, kiln_dtype tb, int64_t m, int64_t k, int64_t n, int batch,
                      int per_channel) {
    int64_t da[3] = {batch, m, k}, db[2] = {k, n};
    lt_tensor a = lt_rand(ta, 3, da, ta == KILN_UINT8 ? 0 : -128, ta == KILN_UINT8 ? 255 : 127);
    lt_tensor b = lt_rand(tb, 2, db, tb == KILN_UINT8 ? 0 : -128, tb == KILN_UINT8 ? 255 : 127);
    int64_t one = 1, nn = n;
    lt_tensor azp = lt_rand(ta, 0, &one, ta == KILN_UINT8 ? 100 : -20, ta == KILN_UINT8 ? 150 : 20);
    lt_tensor bzp = per_channel ? lt_rand(tb, 1, &nn, 0, 60) : lt_rand(tb, 0, &one, 0, 60);
    lt_tensor as = lt_rand(KILN_FLOAT, 0, &one, 0.01, 0.02), ys = lt_rand(KILN_FLOAT, 0, &one, 5, 10);
    lt_tensor bs = per_channel ? lt_rand(KILN_FLOAT, 1, &nn, 0.01, 0.05) : lt_rand(KILN_FLOAT, 0, &one, 0.01, 0.05);
    lt_tensor yzp = lt_rand(KILN_UINT8, 0, &one, 100, 140);
    int64_t total = batch * m * n;
    double *ref = calloc((size_t)total, sizeof(double));
    for (int64_t it = 0; it < batch; it++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                int64_t s = 0;
                for (int64_t p = 0; p < k; p++)
                    s += (int64_t)(a.v[it * m * k + i * k + p] - azp.v[0]) *
                         (int64_t)(b.v[p * n + j] - bzp.v[per_channel ? j : 0]);
                double r = (double)s;
                if (qlinear) {
                    float f = (float)as.v[0] * (float)bs.v[per_channel ? j : 0] / (float)ys.v[0];
                    r = nearbyint(r * f) + yzp.v[0];
                    r = r < 0 ? 0 : r > 255 ? 255 : r;
                }
                ref[it * m * n + i * n + j] = r;
            }
    oneop o;
    kiln_status st;
    if (qlinear) {
        oneop_begin(&o, "QLinearMatMul", "", 21, 8, 1);
        kiln_tensor in[8] = {a.t, as.t, azp.t, b.t, bs.t, bzp.t, ys.t, yzp.t};
        st = oneop_run(&o, in);
    } else {
        oneop_begin(&o, "MatMulInteger", "", 10, 4, 1);
        kiln_tensor in[4] = {a.t, b.t, azp.t, bzp.t};
        st = oneop_run(&o, in);
    }
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        const kiln_tensor *y = oneop_out(&o, 0);
        int64_t dims[3] = {batch, m, n};
        CHECK(lt_same_shape(y, 3, dims, qlinear ? "QLinearMatMul" : "MatMulInteger"));
        CHECK(y->dtype == (qlinear ? KILN_UINT8 : KILN_INT32));
        /* QLinear: float rounding of the scale product may move a value sitting on .5 by one step. */
        CHECK(lt_close(y, ref, total, 0, qlinear ? 1.0 : 0.0, qlinear ? "QLinearMatMul" : "MatMulInteger"));
    } else {
        fprintf(stderr, "failed: %s\n", kiln_error_text());
    }
    oneop_end(&o);
    free(ref);
    lt_free(&a), lt_free(&b), lt_free(&azp), lt_free(&bzp), lt_free(&as), lt_free(&bs), lt_free(&ys), lt_free(&yzp);
}

int main(void) {
    test_matmul();
    test_gemm();
    check_qmm(0, KILN_UINT8, KILN_UINT8, 7, 33, 9, 2, 0);
    check_qmm(0, KILN_INT8, KILN_UINT8, 16, 129, 17, 1, 1);
    check_qmm(0, KILN_UINT8, KILN_INT8, 1, 5, 3, 3, 1);
    check_qmm(1, KILN_UINT8, KILN_UINT8, 7, 33, 9, 2, 0);
    check_qmm(1, KILN_INT8, KILN_INT8, 16, 64, 17, 1, 1);
    return CHECK_DONE();
}
