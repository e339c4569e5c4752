/* Matrix-multiply cores shared by the matmul and conv families.
 *
 * kiln_sgemm is the fast path: BLIS-style blocking (B packed into KCxNC panels, A into MCxKC panels), a
 * register-tiled micro-kernel picked at run time (AVX-512, AVX2+FMA or portable C), and threads over tiles of C.
 * Matrices are described by element strides so transposes and batched views need no copies:
 *   A(i,p) = a[i*a_rs + p*a_cs],  B(p,j) = b[p*b_rs + j*b_cs],  C(i,j) = c[i*c_rs + j*c_cs].
 *
 * The typed GEMMs (double, 32/64-bit integers) are simpler blocked loops: correct everywhere, fast enough for the
 * rarer types. Integer products wrap modulo 2^32 / 2^64 (two's complement), as ONNX allows. */
#ifndef KILN_CPU_GEMM_H
#define KILN_CPU_GEMM_H

#include <stdint.h>

/* Packs rows [p0, p0+kc) x columns [j0, j0+nc) of batch item `item`'s B into NR-column panels: panel q holds
 * dst[q*nr*kc + p*nr + j] for columns j0 + q*nr + j, zero-filled past nc. Lets callers feed B from a layout
 * that is not a strided matrix (implicit-GEMM convolution reads the image directly). Called from pool threads. */
typedef void (*kiln_sgemm_pack_fn)(const void *ctx, int64_t item, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                                   int nr, float *dst);

/* A constant operand packed once (weights): A in MR-row panels or B in NR-column panels, per k block, for the
 * kernel and k blocking in use when packed. `count` matrices are packed; matrix i is the original at element
 * offset i*item_stride, so batch offsets (a_off / b_off) select the packed matrix. Read-only once built: safe to
 * share between threads. */
typedef struct kiln_sgemm_packed kiln_sgemm_packed;

/* side 0 packs A (rows = m), side 1 packs B (cols = n). src(i,p) / src(p,j) follow the strides as in
 * kiln_sgemm_args. Returns NULL on out of memory (callers then simply do not use a packed operand). */
kiln_sgemm_packed *kiln_sgemm_pack(int side, int64_t rows, int64_t k, const float *src, int64_t rs, int64_t cs,
                                   int64_t count, int64_t item_stride);
void kiln_sgemm_packed_free(kiln_sgemm_packed *p);

typedef struct kiln_sgemm_args {
    int64_t m, n, k;
    float alpha, beta; /* C = alpha*A*B + beta*C; beta == 0 ignores C's old contents (NaN included) */
    const float *a;
    int64_t a_rs, a_cs;
    const float *b;
    int64_t b_rs, b_cs;
    float *c;
    int64_t c_rs, c_cs;
    kiln_sgemm_pack_fn pack_b; /* when set, B comes from pack_b(pack_ctx, ...) and b, b_rs, b_cs, b_off are unused */
    const void *pack_ctx;
    /* Optional prepacked A / B (from kiln_sgemm_pack, matching m/k or k/n). Used when still valid for the current
     * kernel and blocking; a, b and their strides must stay valid as the fallback. */
    const kiln_sgemm_packed *a_packed, *b_packed;
    /* Optional per-row bias added once: C(i,j) += row_bias[i] for item it uses row_bias + (it % bias_mod) *
     * bias_stride (a conv's bias per group). Saves a separate pass that fills C and a read of it. */
    const float *row_bias;
    int64_t bias_mod, bias_stride;
} kiln_sgemm_args;

/* One GEMM, multi-threaded over the pool (runs inline when called from a pool worker). */
void kiln_sgemm(const kiln_sgemm_args *g);
/* `batch` GEMMs of the same shape; item b uses a + a_off[b], b + b_off[b], c + c_off[b] (element offsets; a NULL
 * array means offset 0 for every item). Threads split items and tiles of C together. */
void kiln_sgemm_batch(const kiln_sgemm_args *g, int64_t batch, const int64_t *a_off, const int64_t *b_off,
                      const int64_t *c_off);

/* Micro-kernel choice: 0 portable C, 1 AVX2+FMA, 2 AVX-512F. kiln_sgemm_set_level caps the level (for tests and
 * benchmarks; the default is the best the CPU supports) and returns the level now in use. Not thread-safe. */
int kiln_sgemm_set_level(int max_level);
int kiln_sgemm_level(void); /* the level in use */
/* Tests only: on != 0 swaps in a portable kernel with the AVX-512 kernel's 12x32 tile. Not thread-safe. */
void kiln_sgemm_test_wide_kernel(int on);
const char *kiln_sgemm_kernel_name(void);
/* Cache blocking (k depth, rows of A, columns of B per packed block); <= 0 keeps a value. For tuning runs. */
void kiln_sgemm_set_blocking(int64_t kc, int64_t mc, int64_t nc);

/* Typed GEMMs: row-major C with unit column stride (c_cs must be 1), general strides for A and B.
 * accumulate=0: C = A*B; accumulate=1: C += A*B. Multi-threaded over batch items and rows of C. */
typedef struct kiln_tgemm_args {
    int64_t m, n, k;
    const void *a;
    int64_t a_rs, a_cs;
    const void *b;
    int64_t b_rs, b_cs;
    void *c;
    int64_t c_rs;
    int accumulate;
} kiln_tgemm_args;

void kiln_dgemm_batch(const kiln_tgemm_args *g, int64_t batch, const int64_t *a_off, const int64_t *b_off,
                      const int64_t *c_off);
/* 32-bit (int32 or uint32: same bits) and 64-bit integer GEMMs with wrap-around arithmetic. */
void kiln_i32gemm_batch(const kiln_tgemm_args *g, int64_t batch, const int64_t *a_off, const int64_t *b_off,
                        const int64_t *c_off);
void kiln_i64gemm_batch(const kiln_tgemm_args *g, int64_t batch, const int64_t *a_off, const int64_t *b_off,
                        const int64_t *c_off);

/* Internal: micro-kernels. A packed panel holds kc columns of MR rows (a[p*MR + r]); a B panel holds kc rows of
 * NR columns (b[p*NR + j]). The kernel computes the full MRxNR tile: C = alpha*A*B + beta*C (+ rbias[r] on row
 * r when rbias is not NULL) with unit column stride and row stride ldc (beta == 0: C is not read). */
typedef void (*kiln_sgemm_ukr)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha,
                               float beta, const float *rbias);
typedef struct kiln_sgemm_kernel {
    const char *name;
    int mr, nr;
    kiln_sgemm_ukr fn;
} kiln_sgemm_kernel;

/* The x86 kernels (gemm-x86.c); NULL where the build or CPU lacks them. */
const kiln_sgemm_kernel *kiln_sgemm_kernel_avx2(void);
const kiln_sgemm_kernel *kiln_sgemm_kernel_avx512(void);

#endif
