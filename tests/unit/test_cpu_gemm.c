/* SGEMM core and typed GEMMs against a double-precision reference: odd sizes around the tile sizes, transposed
 * (strided) operands, alpha/beta, batches with broadcast offsets, every micro-kernel level the CPU has. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/gemm.h"
#include "check.h"

static uint64_t rng = 88172645463325252ull;
static double urand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static float *rand_f(int64_t n) {
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) p[i] = (float)urand();
    return p;
}

/* Checks one sgemm call against the reference; ta/tb pick transposed storage; cs picks a column-strided C. */
static void check_sgemm(int64_t m, int64_t n, int64_t k, int ta, int tb, int ct, float alpha, float beta) {
    float *a = rand_f(m * k), *b = rand_f(k * n), *c = rand_f(m * n);
    double *ref = malloc(sizeof(double) * (size_t)(m * n + 1));
    kiln_sgemm_args g = {.m = m, .n = n, .k = k, .alpha = alpha, .beta = beta, .a = a, .a_rs = ta ? 1 : k,
                         .a_cs = ta ? m : 1, .b = b, .b_rs = tb ? 1 : n, .b_cs = tb ? k : 1, .c = c, .c_rs = ct ? 1 : n,
                         .c_cs = ct ? m : 1};
    if (beta == 0.0f)
        for (int64_t i = 0; i < m * n; i++) c[i] = i % 3 ? NAN : c[i]; /* beta == 0 must ignore C */
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++) s += (double)a[i * g.a_rs + p * g.a_cs] * b[p * g.b_rs + j * g.b_cs];
            double old = c[i * g.c_rs + j * g.c_cs];
            ref[i * n + j] = alpha * s + (beta == 0.0f ? 0.0 : beta * old);
        }
    kiln_sgemm(&g);
    double worst = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double d = fabs(c[i * g.c_rs + j * g.c_cs] - ref[i * n + j]) / (1.0 + fabs(ref[i * n + j]));
            if (!(d <= worst)) worst = d; /* NaN-propagating */
        }
    if (!(worst < 1e-5 * (1 + sqrt((double)k))))
        fprintf(stderr, "sgemm m=%lld n=%lld k=%lld ta=%d tb=%d ct=%d alpha=%g beta=%g: rel err %g (%s)\n",
                (long long)m, (long long)n, (long long)k, ta, tb, ct, alpha, beta, worst, kiln_sgemm_kernel_name());
    CHECK(worst < 1e-5 * (1 + sqrt((double)k)));
    free(a);
    free(b);
    free(c);
    free(ref);
}

static void check_batch(void) {
    /* 3 items; A broadcast (offset 0 for all), B per item, C per item. */
    int64_t m = 37, n = 29, k = 41, batch = 3;
    float *a = rand_f(m * k), *b = rand_f(batch * k * n), *c = rand_f(batch * m * n);
    int64_t boff[3], coff[3];
    for (int i = 0; i < 3; i++) boff[i] = i * k * n, coff[i] = i * m * n;
    kiln_sgemm_args g = {.m = m, .n = n, .k = k, .alpha = 1.0f, .a = a, .a_rs = k, .a_cs = 1, .b = b, .b_rs = n,
                         .b_cs = 1, .c = c, .c_rs = n, .c_cs = 1};
    kiln_sgemm_batch(&g, batch, NULL, boff, coff);
    int ok = 1;
    for (int it = 0; it < batch; it++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++) s += (double)a[i * k + p] * b[boff[it] + p * n + j];
                ok &= fabs(c[coff[it] + i * n + j] - s) < 1e-4;
            }
    CHECK(ok);
    free(a);
    free(b);
    free(c);
}

/* Row bias in the epilogue: 4 items cycling over 2 bias vectors (a conv's groups), C strided for some tiles. */
static void check_row_bias(int64_t m, int64_t n, int64_t k) {
    int64_t batch = 4;
    float *a = rand_f(m * k), *b = rand_f(batch * k * n), *c = rand_f(batch * m * n), *bias = rand_f(2 * m);
    int64_t boff[4], coff[4];
    for (int i = 0; i < 4; i++) boff[i] = i * k * n, coff[i] = i * m * n;
    kiln_sgemm_args g = {.m = m, .n = n, .k = k, .alpha = 1.0f, .a = a, .a_rs = k, .a_cs = 1, .b = b, .b_rs = n,
                         .b_cs = 1, .c = c, .c_rs = n, .c_cs = 1, .row_bias = bias, .bias_mod = 2, .bias_stride = m};
    kiln_sgemm_batch(&g, batch, NULL, boff, coff);
    int ok = 1;
    for (int it = 0; it < batch; it++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = bias[(it % 2) * m + i];
                for (int64_t p = 0; p < k; p++) s += (double)a[i * k + p] * b[boff[it] + p * n + j];
                ok &= fabs(c[coff[it] + i * n + j] - s) < 1e-4 * (1 + sqrt((double)k));
            }
    CHECK(ok);
    free(a), free(b), free(c), free(bias);
}

static void check_typed(void) {
    int64_t m = 19, n = 23, k = 35;
    double *a = malloc(sizeof(double) * (size_t)(m * k)), *b = malloc(sizeof(double) * (size_t)(k * n));
    double *c = malloc(sizeof(double) * (size_t)(m * n));
    int64_t *ia = malloc(sizeof(int64_t) * (size_t)(m * k)), *ib = malloc(sizeof(int64_t) * (size_t)(k * n));
    int64_t *ic = malloc(sizeof(int64_t) * (size_t)(m * n));
    int32_t *ja = malloc(sizeof(int32_t) * (size_t)(m * k)), *jb = malloc(sizeof(int32_t) * (size_t)(k * n));
    int32_t *jc = malloc(sizeof(int32_t) * (size_t)(m * n));
    for (int64_t i = 0; i < m * k; i++) a[i] = urand(), ia[i] = (int64_t)(urand() * 1e6), ja[i] = (int32_t)(urand() * 7e4);
    for (int64_t i = 0; i < k * n; i++) b[i] = urand(), ib[i] = (int64_t)(urand() * 1e6), jb[i] = (int32_t)(urand() * 7e4);
    /* B transposed for double: B(p,j) at b[j*k + p]. */
    kiln_tgemm_args g = {m, n, k, a, k, 1, b, 1, k, c, n, 0};
    kiln_dgemm_batch(&g, 1, NULL, NULL, NULL);
    kiln_tgemm_args gi = {m, n, k, ia, k, 1, ib, n, 1, ic, n, 0};
    kiln_i64gemm_batch(&gi, 1, NULL, NULL, NULL);
    kiln_tgemm_args gj = {m, n, k, ja, k, 1, jb, n, 1, jc, n, 0};
    kiln_i32gemm_batch(&gj, 1, NULL, NULL, NULL);
    int okd = 1, oki = 1, okj = 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            int64_t si = 0;
            uint32_t sj = 0;
            for (int64_t p = 0; p < k; p++) {
                s += a[i * k + p] * b[j * k + p];
                si += ia[i * k + p] * ib[p * n + j];
                sj += (uint32_t)ja[i * k + p] * (uint32_t)jb[p * n + j]; /* wraps, like int32 MatMul */
            }
            okd &= fabs(c[i * n + j] - s) < 1e-12;
            oki &= ic[i * n + j] == si;
            okj &= (uint32_t)jc[i * n + j] == sj;
        }
    CHECK(okd);
    CHECK(oki);
    CHECK(okj);
    free(a), free(b), free(c), free(ia), free(ib), free(ic), free(ja), free(jb), free(jc);
}

int main(void) {
    static const int64_t sizes[] = {1, 2, 5, 7, 16, 17, 33, 64, 129};
    int top = kiln_sgemm_set_level(99);
    for (int level = 0; level <= top; level++) {
        kiln_sgemm_set_level(level);
        fprintf(stderr, "kernel: %s\n", kiln_sgemm_kernel_name());
        for (int x = 0; x < 9; x++)
            for (int y = 0; y < 9; y += 2)
                for (int z = 0; z < 9; z += 3) check_sgemm(sizes[x], sizes[y], sizes[z], 0, 0, 0, 1.0f, 0.0f);
        check_sgemm(129, 65, 300, 1, 0, 0, 0.5f, 2.0f);
        check_sgemm(129, 65, 300, 0, 1, 0, 1.0f, 1.0f);
        check_sgemm(70, 260, 513, 1, 1, 1, -1.5f, 0.0f);
        check_sgemm(1, 300, 77, 0, 0, 0, 2.0f, 0.5f);  /* GEMV along n */
        check_sgemm(300, 1, 77, 0, 1, 0, 1.0f, 0.0f);  /* GEMV along m */
        check_sgemm(1, 300, 77, 1, 1, 1, 1.0f, 0.0f);
        check_sgemm(1, 1, 1000, 0, 0, 0, 1.0f, 0.0f);
        check_sgemm(33, 40, 0, 0, 0, 0, 1.0f, 0.5f);   /* k == 0: C = beta*C */
        check_sgemm(300, 310, 320, 0, 0, 0, 1.0f, 0.0f); /* several tiles, threads */
        check_batch();
        check_row_bias(37, 29, 41);
        check_row_bias(130, 300, 600);
        check_row_bias(1, 50, 7);
        check_row_bias(20, 1, 0);
    }
    kiln_sgemm_set_level(99);
    kiln_sgemm_test_wide_kernel(1); /* 12x32 panels, as the AVX-512 kernel uses */
    fprintf(stderr, "kernel: %s\n", kiln_sgemm_kernel_name());
    for (int x = 0; x < 9; x++)
        for (int y = 0; y < 9; y += 2) check_sgemm(sizes[x], sizes[y], 33, 0, 0, 0, 1.0f, 0.0f);
    check_sgemm(129, 65, 300, 1, 0, 0, 0.5f, 2.0f);
    check_sgemm(70, 260, 513, 1, 1, 1, -1.5f, 0.0f);
    check_sgemm(300, 310, 320, 0, 0, 0, 1.0f, 0.0f);
    check_batch();
    kiln_sgemm_test_wide_kernel(0);
    check_typed();
    return CHECK_DONE();
}
