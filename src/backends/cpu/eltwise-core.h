/* Shared machinery of the elementwise kernel families (eltwise, activation, cast): multidirectional broadcast
 * iteration split across the thread pool, dtype dispatch tables, and the loop-generating macros.
 *
 * Kernels are plain loops over contiguous runs ("segments"): every input either advances one element per output
 * element or stays put (a broadcast scalar within the run), so the four (advance, stay) combinations each get their
 * own loop that the compiler vectorizes. FLOAT16 and BFLOAT16 compute through the FLOAT loop on small tiles. */
#ifndef KILN_CPU_ELTWISE_CORE_H
#define KILN_CPU_ELTWISE_CORE_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "kiln.h"

#define EW_MAX_IN 3
/* Elements per parallel chunk: big enough that the pool's hand-off cost is noise. */
#define EW_GRAIN 32768
/* Elements converted at a time when a half type computes through float. */
#define EW_TILE 256

#define EW_BIT(t) (1u << (t))
#define EW_SINTS (EW_BIT(KILN_INT8) | EW_BIT(KILN_INT16) | EW_BIT(KILN_INT32) | EW_BIT(KILN_INT64))
#define EW_UINTS (EW_BIT(KILN_UINT8) | EW_BIT(KILN_UINT16) | EW_BIT(KILN_UINT32) | EW_BIT(KILN_UINT64))
#define EW_INTS (EW_SINTS | EW_UINTS)
#define EW_HALVES (EW_BIT(KILN_FLOAT16) | EW_BIT(KILN_BFLOAT16))
#define EW_FLOATS (EW_BIT(KILN_FLOAT) | EW_BIT(KILN_DOUBLE) | EW_HALVES)
#define EW_NUMERIC (EW_INTS | EW_FLOATS)

/* ---------------------------------------------------------------- broadcast iteration ---------------------------- */

/* An output shape and up to EW_MAX_IN inputs read as that shape, with dims of size 1 dropped and adjacent dims
 * merged wherever every input stays contiguous across them (so same-shape inputs become one flat run). */
typedef struct ew_iter {
    int rank;                               /* >= 1 */
    int n_in;
    int64_t numel;
    int64_t dims[KILN_MAX_DIMS];
    int64_t st[EW_MAX_IN][KILN_MAX_DIMS];   /* element strides; 0 where broadcast */
} ew_iter;

/* Each input's shape must broadcast to (rank, dims); fails with KILN_ERR_SHAPE naming the input otherwise. */
kiln_status ew_iter_init(ew_iter *it, int rank, const int64_t *dims, int n_in, const kiln_tensor *const *ins);

/* One run of `len` output elements starting at flat output index y0; input k starts at element off[k] and moves
 * inner[k] (0 or 1) elements per output element. */
typedef void (*ew_seg_fn)(void *ctx, int64_t y0, const int64_t *off, const int64_t *inner, int64_t len);

/* Calls fn over every segment, across the thread pool when `parallel` and the tensor is large. */
void ew_iter_for(const ew_iter *it, int parallel, ew_seg_fn fn, void *ctx);

/* kiln_parallel_for over [0, n) with the elementwise grain. */
void ew_parallel(int64_t n, void (*fn)(void *ctx, int64_t b, int64_t e), void *ctx);

/* ---------------------------------------------------------------- unary ----------------------------------------- */

/* Parameters of a unary op, parsed at prepare. Shared by every unary op so one run function serves them all. */
struct ew_unary_impl;
typedef struct ew_uparams {
    const struct ew_unary_impl *impl;
    const char *op;          /* op_type, for messages (points into the graph) */
    float alpha, beta, gamma;
    int i0, i1;              /* integer switches (IsInf's detect_negative/positive, Gelu's approximation) */
} ew_uparams;

/* y[i] = f(x[i]) for n contiguous elements. */
typedef void (*ew_un_fn)(const void *x, void *y, int64_t n, const ew_uparams *p);

typedef struct ew_unary_impl {
    uint32_t types;                 /* accepted input dtypes (EW_BIT mask) */
    kiln_dtype out;                 /* output dtype; KILN_UNDEFINED = same as the input */
    ew_un_fn fn[KILN_DTYPE_COUNT];  /* FLOAT16/BFLOAT16 left NULL compute through fn[KILN_FLOAT] */
} ew_unary_impl;

/* Shared prepare/release/run for ops whose kiln_op_def params are an ew_uparams. `find` maps op_type to its impl
 * and fills the attribute fields. */
typedef kiln_status (*ew_unary_setup_fn)(const kiln_node *node, ew_uparams *p);
kiln_status ew_unary_prepare_with(const kiln_node *node, void **params, ew_unary_setup_fn setup);
void ew_params_release(void *params);
struct kiln_kctx;
kiln_status ew_unary_run(struct kiln_kctx *k);
/* y (allocated by the caller with x's shape and the impl's output dtype) = f(x). */
kiln_status ew_unary_apply(const ew_uparams *p, const kiln_tensor *x, kiln_tensor *y);

/* ---------------------------------------------------------------- binary ---------------------------------------- */

/* y[i] = f(a[i*sa], b[i*sb]) for n elements; sa, sb are 0 (broadcast) or 1. */
typedef void (*ew_bin_fn)(const void *a, const void *b, void *y, int64_t n, int sa, int sb);

typedef struct ew_bin_impl {
    uint32_t types;                 /* accepted input dtypes (both inputs share it) */
    int out_bool;                   /* output BOOL rather than the input dtype */
    ew_bin_fn fn[KILN_DTYPE_COUNT]; /* FLOAT16/BFLOAT16 left NULL compute through fn[KILN_FLOAT] */
} ew_bin_impl;

/* y = f(a, b), broadcasting both to y's shape (y allocated by the caller; y may be a when shapes match). */
kiln_status ew_binary_apply(const ew_bin_impl *impl, const char *op, const kiln_tensor *a, const kiln_tensor *b,
                            kiln_tensor *y);
/* Allocates output 0 of k as the broadcast of inputs 0 and 1, and runs impl on them. */
kiln_status ew_binary_run_impl(struct kiln_kctx *k, const ew_bin_impl *impl);
/* Same on given input tensors (e.g. a reshaped view of input 1). */
kiln_status ew_binary_run_on(struct kiln_kctx *k, const ew_bin_impl *impl, const kiln_tensor *a,
                             const kiln_tensor *b);

/* ---------------------------------------------------------------- helpers --------------------------------------- */

/* Loads n halves (FLOAT16 or BFLOAT16) as floats / stores floats as halves (round to nearest even). */
void ew_half_to_float(kiln_dtype t, const uint16_t *x, float *y, int64_t n);
void ew_float_to_half(kiln_dtype t, const float *x, uint16_t *y, int64_t n);

/* "Add: input 1 has dtype int32, expected ..." style type check: fails unless t is in mask. */
kiln_status ew_check_type(const char *op, int input, kiln_dtype t, uint32_t mask);

/* ---------------------------------------------------------------- loop generators ------------------------------- */

/* Hot loops are compiled twice on x86-64 with GCC: for the baseline and for x86-64-v3 (AVX2, FMA, F16C), picked
 * once at load time by the CPU (ifunc). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(KILN_NO_CLONES)
#define EW_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define EW_CLONES
#endif

/* Type lists: X(ARG, dtype enum, C type, name suffix, wide unsigned type for wrapping arithmetic). Arithmetic on
 * signed values goes through the unsigned type so overflow wraps (two's complement) instead of being undefined. */
#define EW_SINT_LIST(X, A)                                                                                         \
    X(A, KILN_INT8, int8_t, i8, unsigned) X(A, KILN_INT16, int16_t, i16, unsigned)                                 \
    X(A, KILN_INT32, int32_t, i32, unsigned) X(A, KILN_INT64, int64_t, i64, uint64_t)
#define EW_UINT_LIST(X, A)                                                                                         \
    X(A, KILN_UINT8, uint8_t, u8, unsigned) X(A, KILN_UINT16, uint16_t, u16, unsigned)                             \
    X(A, KILN_UINT32, uint32_t, u32, unsigned) X(A, KILN_UINT64, uint64_t, u64, uint64_t)
#define EW_FLT_LIST(X, A) X(A, KILN_FLOAT, float, f32, float) X(A, KILN_DOUBLE, double, f64, double)
#define EW_INT_LIST(X, A) EW_SINT_LIST(X, A) EW_UINT_LIST(X, A)
#define EW_NUM_LIST(X, A) EW_INT_LIST(X, A) EW_FLT_LIST(X, A)

/* Binary loop NAME over (TA, TB) -> TY. EXPR reads `x` (from a) and `w` (from b); inside it `ew_t` is TA and
 * `ew_u` the wide unsigned type. */
#define EW_BIN_LOOP(NAME, TA, TB, TY, UW, EXPR)                                                                    \
    EW_CLONES static void NAME(const void *pa, const void *pb, void *py, int64_t n, int sa, int sb) {            \
        typedef TA ew_t;                                                                                           \
        typedef UW ew_u;                                                                                           \
        (void)sizeof(ew_t);                                                                                        \
        (void)sizeof(ew_u);                                                                                        \
        const TA *a = pa;                                                                                          \
        const TB *b = pb;                                                                                          \
        TY *y = py;                                                                                                \
        if (sa && sb) {                                                                                            \
            for (int64_t i = 0; i < n; i++) {                                                                      \
                const TA x = a[i];                                                                                 \
                const TB w = b[i];                                                                                 \
                y[i] = (TY)(EXPR);                                                                                 \
            }                                                                                                      \
        } else if (sa) {                                                                                           \
            const TB w = b[0];                                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                                      \
                const TA x = a[i];                                                                                 \
                y[i] = (TY)(EXPR);                                                                                 \
            }                                                                                                      \
        } else if (sb) {                                                                                           \
            const TA x = a[0];                                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                                      \
                const TB w = b[i];                                                                                 \
                y[i] = (TY)(EXPR);                                                                                 \
            }                                                                                                      \
        } else {                                                                                                   \
            const TA x = a[0];                                                                                     \
            const TB w = b[0];                                                                                     \
            const TY v = (TY)(EXPR);                                                                               \
            for (int64_t i = 0; i < n; i++) y[i] = v;                                                              \
        }                                                                                                          \
    }

/* Per-op definitions from a type list: OP##_##suffix loops computing OP##_EXPR. */
#define EW_DEF_SAME(OP, DT, T, S, U) EW_BIN_LOOP(OP##_##S, T, T, T, U, OP##_EXPR)
#define EW_DEF_CMP(OP, DT, T, S, U) EW_BIN_LOOP(OP##_##S, T, T, uint8_t, U, OP##_EXPR)
#define EW_REF(OP, DT, T, S, U) [DT] = OP##_##S,

/* Unary loop NAME over TX -> TY; EXPR reads `x` and may read the params `p`. */
#define EW_UN_LOOP(NAME, TX, TY, UW, EXPR)                                                                         \
    EW_CLONES static void NAME(const void *px, void *py, int64_t n, const ew_uparams *pp) {                      \
        typedef TX ew_t;                                                                                           \
        typedef UW ew_u;                                                                                           \
        (void)sizeof(ew_t);                                                                                        \
        (void)sizeof(ew_u);                                                                                        \
        const TX *xs = px;                                                                                         \
        TY *y = py;                                                                                                \
        /* a local copy: reads of it cannot fault, so selects over them vectorize */                                \
        const ew_uparams pv = *pp, *p = &pv;                                                                       \
        (void)p;                                                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                                          \
            const TX x = xs[i];                                                                                    \
            y[i] = (TY)(EXPR);                                                                                     \
        }                                                                                                          \
    }
#define EW_UDEF_SAME(OP, DT, T, S, U) EW_UN_LOOP(OP##_##S, T, T, U, OP##_EXPR)
#define EW_UDEF_BOOL(OP, DT, T, S, U) EW_UN_LOOP(OP##_##S, T, uint8_t, U, OP##_EXPR)

/* A float-only unary op: NAME_f32 computes EXPR_F on float x, NAME_f64 EXPR_D on double x; halves go through
 * float. Defines `NAME_impl` (EW_UNARY_FLOAT_LOOPS: the loops only). */
#define EW_UNARY_FLOAT_LOOPS(NAME, EXPR_F, EXPR_D)                                                                 \
    EW_UN_LOOP(NAME##_f32, float, float, float, EXPR_F)                                                            \
    EW_UN_LOOP(NAME##_f64, double, double, double, EXPR_D)
#define EW_UNARY_FLOAT(NAME, EXPR_F, EXPR_D)                                                                       \
    EW_UNARY_FLOAT_LOOPS(NAME, EXPR_F, EXPR_D)                                                                     \
    static const ew_unary_impl NAME##_impl = {EW_FLOATS, KILN_UNDEFINED,                                           \
                                              {[KILN_FLOAT] = NAME##_f32, [KILN_DOUBLE] = NAME##_f64}};

#endif
