/* CPU kernels of the reduce family: CumSum and CumProd (table in reduce.c).
 *
 * The input is viewed as (outer, n, inner) around the axis; each output row along the axis is the previous
 * output row combined with one input row, so the loop runs across `inner` and vectorizes when inner > 1. */
#include <stdlib.h>

#include "backends/cpu/reduce-common.h"
#include "core/parallel.h"

typedef struct cum_params {
    int exclusive, reverse;
} cum_params;

kiln_status kr_cum_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    cum_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->exclusive = kiln_attr_int(node, "exclusive", 0) != 0;
    p->reverse = kiln_attr_int(node, "reverse", 0) != 0;
    *params = p;
    return KILN_OK;
}

typedef struct cum_job {
    const void *x;
    void *y;
    int64_t n, inner, kc, nk;
    int prod, exclusive, reverse;
} cum_job;

/* Integer arithmetic goes through the unsigned type UT so that overflow wraps. */
#define DEF_CUM(SUF, T, UT)                                                                                      \
    static void cum_##SUF(void *ctx, int64_t b, int64_t e) {                                                     \
        const cum_job *j = ctx;                                                                                  \
        const T *x = j->x;                                                                                       \
        T *y = j->y;                                                                                             \
        int64_t n = j->n, inner = j->inner;                                                                      \
        for (int64_t t = b; t < e; t++) {                                                                        \
            int64_t o = t / j->nk, c0 = (t % j->nk) * j->kc;                                                     \
            int64_t m = inner - c0 < j->kc ? inner - c0 : j->kc;                                                 \
            const T *xb = x + o * n * inner + c0;                                                                \
            T *yb = y + o * n * inner + c0;                                                                      \
            int64_t step = j->reverse ? -inner : inner;                                                          \
            int64_t first = j->reverse ? (n - 1) * inner : 0;                                                    \
            T *prev = yb + first;                                                                                \
            if (j->exclusive)                                                                                    \
                for (int64_t i = 0; i < m; i++) prev[i] = (T)(j->prod ? 1 : 0);                                  \
            else                                                                                                 \
                for (int64_t i = 0; i < m; i++) prev[i] = xb[first + i];                                         \
            for (int64_t r = 1; r < n; r++) {                                                                    \
                T *cur = prev + step;                                                                            \
                const T *in = xb + first + (j->exclusive ? (r - 1) * step : r * step);                           \
                if (j->prod)                                                                                     \
                    for (int64_t i = 0; i < m; i++) cur[i] = (T)((UT)prev[i] * (UT)in[i]);                       \
                else                                                                                             \
                    for (int64_t i = 0; i < m; i++) cur[i] = (T)((UT)prev[i] + (UT)in[i]);                       \
                prev = cur;                                                                                      \
            }                                                                                                    \
        }                                                                                                        \
    }

DEF_CUM(f32, float, float)
DEF_CUM(f64, double, double)
DEF_CUM(i32, int32_t, uint32_t)
DEF_CUM(u32, uint32_t, uint32_t)
DEF_CUM(i64, int64_t, uint64_t)
DEF_CUM(u64, uint64_t, uint64_t)

static kiln_status cum_run(kiln_kctx *k, int prod) {
    const cum_params *p = k->params;
    const char *name = prod ? "CumProd" : "CumSum";
    const kiln_tensor *x, *at;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &at));
    int64_t av[1];
    int na;
    KILN_TRY(kr_read_ints(at, "axis (input 1)", av, 1, &na));
    KILN_FAIL_IF(na != 1, KILN_ERR_SHAPE, "%s: axis (input 1) must hold one value, has %d", name, na);
    int axis;
    KILN_TRY(kr_axis(av[0], x->rank, "axis", &axis));
    kiln_range_fn fn;
    switch (x->dtype) {
    case KILN_FLOAT: case KILN_FLOAT16: case KILN_BFLOAT16: fn = cum_f32; break;
    case KILN_DOUBLE: fn = cum_f64; break;
    case KILN_INT32: fn = cum_i32; break;
    case KILN_UINT32: fn = cum_u32; break;
    case KILN_INT64: fn = cum_i64; break;
    case KILN_UINT64: fn = cum_u64; break;
    default: return kiln_error(KILN_ERR_UNSUPPORTED, "%s does not support %s input", name, kiln_dtype_name(x->dtype));
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t numel = kiln_tensor_numel(x);
    if (numel == 0) return KILN_OK;
    int64_t outer = kr_prod(x->dims, 0, axis), n = x->dims[axis], inner = kr_prod(x->dims, axis + 1, x->rank);
    float *xo = NULL, *yo = NULL;
    cum_job j = {x->data, y->data, n, inner, inner, 1, prod, p->exclusive, p->reverse};
    if (x->dtype != KILN_FLOAT && kr_is_f32ish(x->dtype)) {
        j.x = kr_float_view(x, numel, &xo);
        j.y = yo = malloc(sizeof(float) * (size_t)numel);
        if (!j.x || !yo) {
            free(xo);
            free(yo);
            return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory in %s (%lld elements)", name, (long long)numel);
        }
    }
    /* Few outer blocks: split the columns so every thread gets some. */
    int64_t nt = kiln_num_threads();
    if (outer < 4 * nt && inner >= 128) {
        j.kc = (inner + 4 * nt - 1) / (4 * nt);
        if (j.kc < 64) j.kc = 64;
        j.nk = (inner + j.kc - 1) / j.kc;
    }
    int64_t grain = 32768 / (n * j.kc);
    kiln_parallel_for(outer * j.nk, grain > 0 ? grain : 1, fn, &j);
    if (yo) kr_float_store(x->dtype, y->data, yo, numel);
    free(xo);
    free(yo);
    return KILN_OK;
}

kiln_status kr_cumsum_run(kiln_kctx *k) { return cum_run(k, 0); }
kiln_status kr_cumprod_run(kiln_kctx *k) { return cum_run(k, 1); }
