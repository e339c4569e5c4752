#include "backends/cpu/eltwise-core.h"

#include <stdlib.h>
#include <string.h>

#include "core/broadcast.h"
#include "core/parallel.h"
#include "core/status.h"
#include "runtime/op.h"

/* ---------------------------------------------------------------- broadcast iteration ---------------------------- */

kiln_status ew_iter_init(ew_iter *it, int rank, const int64_t *dims, int n_in, const kiln_tensor *const *ins) {
    char s1[256], s2[256];
    int64_t st[EW_MAX_IN][KILN_MAX_DIMS];
    memset(it, 0, sizeof *it);
    it->n_in = n_in;
    it->numel = kiln_numel(rank, dims);
    KILN_FAIL_IF(it->numel < 0, KILN_ERR_SHAPE, "output shape %s is invalid",
                 kiln_shape_str(rank, dims, s1, sizeof s1));
    for (int k = 0; k < n_in; k++) {
        const kiln_tensor *t = ins[k];
        KILN_FAIL_IF(t->rank > rank, KILN_ERR_SHAPE, "input %d of shape %s does not broadcast to %s", k,
                     kiln_shape_str(t->rank, t->dims, s1, sizeof s1), kiln_shape_str(rank, dims, s2, sizeof s2));
        for (int d = 0; d < t->rank; d++) {
            int64_t od = dims[rank - t->rank + d];
            KILN_FAIL_IF(t->dims[d] != od && t->dims[d] != 1, KILN_ERR_SHAPE,
                         "input %d of shape %s does not broadcast to %s", k,
                         kiln_shape_str(t->rank, t->dims, s1, sizeof s1), kiln_shape_str(rank, dims, s2, sizeof s2));
        }
        kiln_broadcast_strides(t->rank, t->dims, rank, dims, st[k]);
    }
    /* Keep dims > 1, innermost first, merging a dim into the one inside it when every input is contiguous across
     * the pair (stride_outer == stride_inner * dim_inner; true of two broadcast dims too). */
    int64_t rd[KILN_MAX_DIMS], rs[EW_MAX_IN][KILN_MAX_DIMS];
    int r = 0;
    for (int d = rank - 1; d >= 0; d--) {
        if (dims[d] == 1) continue;
        int merge = r > 0;
        for (int k = 0; k < n_in && merge; k++) merge = st[k][d] == rs[k][r - 1] * rd[r - 1];
        if (merge) {
            rd[r - 1] *= dims[d];
        } else {
            rd[r] = dims[d];
            for (int k = 0; k < n_in; k++) rs[k][r] = st[k][d];
            r++;
        }
    }
    if (r == 0) { /* scalar output (or all dims 1) */
        rd[0] = 1;
        for (int k = 0; k < n_in; k++) rs[k][0] = 0;
        r = 1;
    }
    it->rank = r;
    for (int d = 0; d < r; d++) {
        it->dims[d] = rd[r - 1 - d];
        for (int k = 0; k < n_in; k++) it->st[k][d] = rs[k][r - 1 - d];
    }
    return KILN_OK;
}

typedef struct iter_job {
    const ew_iter *it;
    ew_seg_fn fn;
    void *ctx;
} iter_job;

static void iter_range(void *c, int64_t b, int64_t e) {
    const iter_job *j = c;
    const ew_iter *it = j->it;
    const int r = it->rank, n_in = it->n_in, last = r - 1;
    int64_t idx[KILN_MAX_DIMS], off[EW_MAX_IN] = {0}, inner[EW_MAX_IN] = {0};
    int64_t rem = b;
    for (int d = last; d >= 0; d--) {
        idx[d] = rem % it->dims[d];
        rem /= it->dims[d];
    }
    for (int k = 0; k < n_in; k++) {
        for (int d = 0; d < r; d++) off[k] += idx[d] * it->st[k][d];
        inner[k] = it->st[k][last];
    }
    int64_t pos = b;
    while (pos < e) {
        int64_t len = it->dims[last] - idx[last];
        if (len > e - pos) len = e - pos;
        j->fn(j->ctx, pos, off, inner, len);
        pos += len;
        idx[last] += len;
        for (int k = 0; k < n_in; k++) off[k] += len * inner[k];
        if (idx[last] < it->dims[last]) break; /* only possible when pos == e */
        for (int k = 0; k < n_in; k++) off[k] -= it->dims[last] * inner[k];
        idx[last] = 0;
        for (int d = last - 1; d >= 0; d--) {
            idx[d]++;
            for (int k = 0; k < n_in; k++) off[k] += it->st[k][d];
            if (idx[d] < it->dims[d]) break;
            for (int k = 0; k < n_in; k++) off[k] -= it->dims[d] * it->st[k][d];
            idx[d] = 0;
        }
    }
}

void ew_iter_for(const ew_iter *it, int parallel, ew_seg_fn fn, void *ctx) {
    if (it->numel <= 0) return;
    iter_job j = {it, fn, ctx};
    if (parallel)
        kiln_parallel_for(it->numel, EW_GRAIN, iter_range, &j);
    else
        iter_range(&j, 0, it->numel);
}

void ew_parallel(int64_t n, void (*fn)(void *ctx, int64_t b, int64_t e), void *ctx) {
    kiln_parallel_for(n, EW_GRAIN, fn, ctx);
}

/* ---------------------------------------------------------------- helpers --------------------------------------- */

/* float16 <-> float: the F16C instructions where the CPU has them (one instruction per 8 values), else the
 * bit-exact scalar conversions of core/dtype.c. bfloat16 is a shift / a rounding add that vectorizes as is. */
#if defined(__GNUC__) && defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define EW_HAVE_F16C_PATH 1
__attribute__((target("avx,f16c"))) static void h2f_f16c(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) y[i] = kiln_half_to_float(x[i]);
}
__attribute__((target("avx,f16c"))) static void f2h_f16c(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = kiln_float_to_half(x[i]);
}
/* F16C from CPUID leaf 1 (ECX bit 29): older clang (14) has no "f16c" for __builtin_cpu_supports. */
static int have_f16c(void) {
    unsigned a, b, c, d;
    return __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#endif

EW_CLONES static void bf16_to_float(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)x[i] << 16;
        memcpy(&y[i], &bits, 4);
    }
}

EW_CLONES static void float_to_bf16(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) { /* round to nearest even; NaN stays a (quiet) NaN */
        uint32_t b;
        memcpy(&b, &x[i], 4);
        uint32_t r = (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;
        y[i] = (uint16_t)((b & 0x7fffffffu) > 0x7f800000u ? (b >> 16) | 0x40u : r);
    }
}

void ew_half_to_float(kiln_dtype t, const uint16_t *x, float *y, int64_t n) {
    if (t == KILN_BFLOAT16) {
        bf16_to_float(x, y, n);
        return;
    }
#ifdef EW_HAVE_F16C_PATH
    if (have_f16c()) {
        h2f_f16c(x, y, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) y[i] = kiln_half_to_float(x[i]);
}

void ew_float_to_half(kiln_dtype t, const float *x, uint16_t *y, int64_t n) {
    if (t == KILN_BFLOAT16) {
        float_to_bf16(x, y, n);
        return;
    }
#ifdef EW_HAVE_F16C_PATH
    if (have_f16c()) {
        f2h_f16c(x, y, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) y[i] = kiln_float_to_half(x[i]);
}

kiln_status ew_check_type(const char *op, int input, kiln_dtype t, uint32_t mask) {
    KILN_FAIL_IF((unsigned)t >= KILN_DTYPE_COUNT || !(mask & EW_BIT(t)), KILN_ERR_UNSUPPORTED,
                 "%s: input %d has dtype %s, which this op does not support", op, input, kiln_dtype_name(t));
    return KILN_OK;
}

static int is_half(kiln_dtype t) { return t == KILN_FLOAT16 || t == KILN_BFLOAT16; }

/* ---------------------------------------------------------------- unary ----------------------------------------- */

typedef struct unary_job {
    const ew_uparams *p;
    ew_un_fn fn;
    kiln_dtype xt, yt;
    const char *x;
    char *y;
    size_t xs, ys;
    int via_float;
} unary_job;

static void unary_range(void *c, int64_t b, int64_t e) {
    const unary_job *j = c;
    if (!j->via_float) {
        j->fn(j->x + (size_t)b * j->xs, j->y + (size_t)b * j->ys, e - b, j->p);
        return;
    }
    float tx[EW_TILE], ty[EW_TILE];
    const int out_half = is_half(j->yt);
    for (int64_t i = b; i < e; i += EW_TILE) {
        int64_t m = e - i < EW_TILE ? e - i : EW_TILE;
        ew_half_to_float(j->xt, (const uint16_t *)j->x + i, tx, m);
        if (out_half) {
            j->fn(tx, ty, m, j->p);
            ew_float_to_half(j->yt, ty, (uint16_t *)j->y + i, m);
        } else {
            j->fn(tx, j->y + (size_t)i * j->ys, m, j->p);
        }
    }
}

kiln_status ew_unary_apply(const ew_uparams *p, const kiln_tensor *x, kiln_tensor *y) {
    const ew_unary_impl *u = p->impl;
    KILN_TRY(ew_check_type(p->op, 0, x->dtype, u->types));
    unary_job j = {p, u->fn[x->dtype], x->dtype, y->dtype, x->data, y->data, kiln_dtype_size(x->dtype),
                   kiln_dtype_size(y->dtype), 0};
    if (!j.fn && is_half(x->dtype)) {
        j.fn = u->fn[KILN_FLOAT];
        j.via_float = 1;
    }
    KILN_FAIL_IF(!j.fn, KILN_ERR_INTERNAL, "%s: no loop for dtype %s", p->op, kiln_dtype_name(x->dtype));
    ew_parallel(kiln_tensor_numel(x), unary_range, &j);
    return KILN_OK;
}

kiln_status ew_unary_prepare_with(const kiln_node *node, void **params, ew_unary_setup_fn setup) {
    ew_uparams *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->op = node->op_type;
    kiln_status st = setup(node, p);
    if (st != KILN_OK) {
        free(p);
        return st;
    }
    *params = p;
    return KILN_OK;
}

void ew_params_release(void *params) { free(params); }

kiln_status ew_unary_run(kiln_kctx *k) {
    const ew_uparams *p = k->params;
    const kiln_tensor *x;
    kiln_tensor *y;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    kiln_dtype yt = p->impl->out != KILN_UNDEFINED ? p->impl->out : x->dtype;
    KILN_TRY(ew_check_type(p->op, 0, x->dtype, p->impl->types));
    KILN_TRY(kiln_kout(k, 0, yt, x->rank, x->dims, &y));
    return ew_unary_apply(p, x, y);
}

/* ---------------------------------------------------------------- binary ---------------------------------------- */

typedef struct bin_job {
    ew_bin_fn fn;
    kiln_dtype t, yt;
    const char *a, *b;
    char *y;
    size_t es, ys;
    int via_float;
} bin_job;

static void bin_seg(void *c, int64_t y0, const int64_t *off, const int64_t *inner, int64_t len) {
    const bin_job *j = c;
    if (!j->via_float) {
        j->fn(j->a + (size_t)off[0] * j->es, j->b + (size_t)off[1] * j->es, j->y + (size_t)y0 * j->ys, len,
              (int)inner[0], (int)inner[1]);
        return;
    }
    float ta[EW_TILE], tb[EW_TILE], ty[EW_TILE];
    const uint16_t *a = (const uint16_t *)j->a + off[0], *b = (const uint16_t *)j->b + off[1];
    const int out_half = is_half(j->yt);
    if (!inner[0]) ew_half_to_float(j->t, a, ta, 1);
    if (!inner[1]) ew_half_to_float(j->t, b, tb, 1);
    for (int64_t i = 0; i < len; i += EW_TILE) {
        int64_t m = len - i < EW_TILE ? len - i : EW_TILE;
        if (inner[0]) ew_half_to_float(j->t, a + i, ta, m);
        if (inner[1]) ew_half_to_float(j->t, b + i, tb, m);
        if (out_half) {
            j->fn(ta, tb, ty, m, (int)inner[0], (int)inner[1]);
            ew_float_to_half(j->yt, ty, (uint16_t *)j->y + y0 + i, m);
        } else {
            j->fn(ta, tb, j->y + (size_t)(y0 + i) * j->ys, m, (int)inner[0], (int)inner[1]);
        }
    }
}

kiln_status ew_binary_apply(const ew_bin_impl *impl, const char *op, const kiln_tensor *a, const kiln_tensor *b,
                            kiln_tensor *y) {
    KILN_TRY(ew_check_type(op, 0, a->dtype, impl->types));
    KILN_FAIL_IF(b->dtype != a->dtype, KILN_ERR_TYPE, "%s: input 1 has dtype %s but input 0 has %s", op,
                 kiln_dtype_name(b->dtype), kiln_dtype_name(a->dtype));
    const kiln_tensor *ins[2] = {a, b};
    ew_iter it;
    KILN_TRY(ew_iter_init(&it, y->rank, y->dims, 2, ins));
    bin_job j = {impl->fn[a->dtype], a->dtype, y->dtype, a->data, b->data, y->data, kiln_dtype_size(a->dtype),
                 kiln_dtype_size(y->dtype), 0};
    if (!j.fn && is_half(a->dtype)) {
        j.fn = impl->fn[KILN_FLOAT];
        j.via_float = 1;
    }
    KILN_FAIL_IF(!j.fn, KILN_ERR_INTERNAL, "%s: no loop for dtype %s", op, kiln_dtype_name(a->dtype));
    ew_iter_for(&it, 1, bin_seg, &j);
    return KILN_OK;
}

kiln_status ew_binary_run_impl(kiln_kctx *k, const ew_bin_impl *impl) {
    const kiln_tensor *a, *b;
    KILN_TRY(kiln_kin_req(k, 0, &a));
    KILN_TRY(kiln_kin_req(k, 1, &b));
    return ew_binary_run_on(k, impl, a, b);
}

kiln_status ew_binary_run_on(kiln_kctx *k, const ew_bin_impl *impl, const kiln_tensor *a, const kiln_tensor *b) {
    kiln_tensor *y;
    KILN_TRY(ew_check_type(k->node->op_type, 0, a->dtype, impl->types));
    KILN_FAIL_IF(b->dtype != a->dtype, KILN_ERR_TYPE, "%s: input 1 has dtype %s but input 0 has %s",
                 k->node->op_type, kiln_dtype_name(b->dtype), kiln_dtype_name(a->dtype));
    int r;
    int64_t dims[KILN_MAX_DIMS];
    KILN_TRY(kiln_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &r, dims));
    KILN_TRY(kiln_kout(k, 0, impl->out_bool ? KILN_BOOL : a->dtype, r, dims, &y));
    return ew_binary_apply(impl, k->node->op_type, a, b, y);
}
