/* CPU kernels of the reduce family: ArgMax, ArgMin and TopK (table in reduce.c).
 *
 * Ordering follows numpy, which the ONNX reference uses: NaN compares above every number, so ArgMax and ArgMin
 * both pick the first NaN (the last with select_last_index), and TopK puts NaN first when largest=1 and last
 * otherwise. Ties go to the lower index, as the TopK spec requires. */
#include <math.h>
#include <stdlib.h>

#include "backends/cpu/reduce-common.h"
#include "core/parallel.h"

typedef struct arg_params {
    int64_t axis;
    int keepdims, select_last;
} arg_params;

kiln_status kr_arg_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    arg_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->axis = kiln_attr_int(node, "axis", 0);
    p->keepdims = kiln_attr_int(node, "keepdims", 1) != 0;
    p->select_last = kiln_attr_int(node, "select_last_index", 0) != 0;
    *params = p;
    return KILN_OK;
}

#define LOAD_PLAIN(v) (v)
#define LOAD_HALF(v) kiln_half_to_float(v)
#define LOAD_BF16(v) kiln_bf16_to_float(v)

/* out[o * inner + i] = index along the axis of the best element of slice (o, i). */
#define DEF_ARG(SUF, T, K, LOAD)                                                                                 \
    static void arg_##SUF(const void *data, int64_t outer, int64_t n, int64_t inner, int is_max, int last,       \
                          int64_t *out) {                                                                        \
        const T *x = data;                                                                                       \
        for (int64_t o = 0; o < outer; o++)                                                                      \
            for (int64_t i = 0; i < inner; i++) {                                                                \
                const T *p = x + o * n * inner + i;                                                              \
                K best = LOAD(p[0]);                                                                             \
                int64_t bi = 0;                                                                                  \
                for (int64_t j = 1; j < n; j++) {                                                                \
                    K v = LOAD(p[j * inner]);                                                                    \
                    int take;                                                                                    \
                    if (best != best) take = last && v != v;                                                     \
                    else if (v != v) take = 1;                                                                   \
                    else take = (is_max ? v > best : v < best) || (last && v == best);                          \
                    if (take) {                                                                                  \
                        best = v;                                                                                \
                        bi = j;                                                                                  \
                    }                                                                                            \
                }                                                                                                \
                out[o * inner + i] = bi;                                                                         \
            }                                                                                                    \
    }

DEF_ARG(f32, float, float, LOAD_PLAIN)
DEF_ARG(f64, double, double, LOAD_PLAIN)
DEF_ARG(f16, uint16_t, float, LOAD_HALF)
DEF_ARG(bf16, uint16_t, float, LOAD_BF16)
DEF_ARG(i8, int8_t, int8_t, LOAD_PLAIN)
DEF_ARG(u8, uint8_t, uint8_t, LOAD_PLAIN)
DEF_ARG(i16, int16_t, int16_t, LOAD_PLAIN)
DEF_ARG(u16, uint16_t, uint16_t, LOAD_PLAIN)
DEF_ARG(i32, int32_t, int32_t, LOAD_PLAIN)
DEF_ARG(u32, uint32_t, uint32_t, LOAD_PLAIN)
DEF_ARG(i64, int64_t, int64_t, LOAD_PLAIN)
DEF_ARG(u64, uint64_t, uint64_t, LOAD_PLAIN)

typedef void (*arg_fn)(const void *, int64_t, int64_t, int64_t, int, int, int64_t *);

static arg_fn arg_for(kiln_dtype dt) {
    switch (dt) {
    case KILN_FLOAT: return arg_f32;
    case KILN_DOUBLE: return arg_f64;
    case KILN_FLOAT16: return arg_f16;
    case KILN_BFLOAT16: return arg_bf16;
    case KILN_INT8: return arg_i8;
    case KILN_UINT8: return arg_u8;
    case KILN_INT16: return arg_i16;
    case KILN_UINT16: return arg_u16;
    case KILN_INT32: return arg_i32;
    case KILN_UINT32: return arg_u32;
    case KILN_INT64: return arg_i64;
    case KILN_UINT64: return arg_u64;
    default: return NULL;
    }
}

static kiln_status arg_run(kiln_kctx *k, int is_max) {
    const arg_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    arg_fn fn = arg_for(x->dtype);
    KILN_FAIL_IF(!fn, KILN_ERR_UNSUPPORTED, "%s does not support %s input", is_max ? "ArgMax" : "ArgMin",
                 kiln_dtype_name(x->dtype));
    int axis;
    KILN_TRY(kr_axis(p->axis, x->rank, "axis", &axis));
    int64_t od[KILN_MAX_DIMS];
    int orank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d != axis) od[orank++] = x->dims[d];
        else if (p->keepdims) od[orank++] = 1;
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, KILN_INT64, orank, od, &y));
    int64_t outer = kr_prod(x->dims, 0, axis), n = x->dims[axis], inner = kr_prod(x->dims, axis + 1, x->rank);
    if (outer * inner == 0) return KILN_OK;
    KILN_FAIL_IF(n == 0, KILN_ERR_SHAPE, "%s over an empty axis %d", is_max ? "ArgMax" : "ArgMin", axis);
    fn(x->data, outer, n, inner, is_max, p->select_last, y->data);
    return KILN_OK;
}

kiln_status kr_argmax_run(kiln_kctx *k) { return arg_run(k, 1); }
kiln_status kr_argmin_run(kiln_kctx *k) { return arg_run(k, 0); }

/* ---- TopK ---- */

typedef struct topk_params {
    int64_t axis, k_attr;
    int largest, has_k_attr;
} topk_params;

kiln_status kr_topk_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    topk_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->axis = kiln_attr_int(node, "axis", -1);
    p->largest = kiln_attr_int(node, "largest", 1) != 0;
    p->has_k_attr = kiln_node_attr(node, "k") != NULL; /* opset 1 */
    p->k_attr = kiln_attr_int(node, "k", 0);
    /* `sorted` = 0 allows any order; sorted output is one of them. */
    *params = p;
    return KILN_OK;
}

typedef struct topk_item {
    union {
        double f;
        int64_t i;
        uint64_t u;
    } key;
    int64_t idx;
} topk_item;

typedef enum key_class { KEY_F, KEY_I, KEY_U } key_class;

static key_class class_of(kiln_dtype dt) {
    if (kiln_dtype_is_float(dt)) return KEY_F;
    return kiln_dtype_is_signed(dt) ? KEY_I : KEY_U;
}

/* Whether a goes before b in the output (a strict total order: ties fall to the index). */
static inline int topk_before(key_class c, int largest, const topk_item *a, const topk_item *b) {
    int gt, eq;
    switch (c) {
    case KEY_F: {
        double x = a->key.f, y = b->key.f;
        int xn = x != x, yn = y != y;
        gt = (xn && !yn) || x > y;
        eq = (xn && yn) || x == y;
        break;
    }
    case KEY_I: gt = a->key.i > b->key.i, eq = a->key.i == b->key.i; break;
    default: gt = a->key.u > b->key.u, eq = a->key.u == b->key.u; break;
    }
    if (eq) return a->idx < b->idx;
    return largest ? gt : !gt;
}

/* Max-heap by "goes later": the root is the worst item kept so far. */
static void sift_down(topk_item *h, int64_t n, int64_t i, key_class c, int largest) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && topk_before(c, largest, &h[w], &h[l])) w = l;
        if (r < n && topk_before(c, largest, &h[w], &h[r])) w = r;
        if (w == i) return;
        topk_item t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

typedef struct topk_job {
    const kiln_tensor *x;
    kiln_tensor *v, *ix;
    int64_t n, inner, kk;
    key_class c;
    int largest;
    size_t esz;
    _Atomic int failed;
} topk_job;

static void load_keys(const kiln_tensor *x, key_class c, int64_t base, int64_t n, int64_t stride, topk_item *it) {
    if (x->dtype == KILN_FLOAT) {
        const float *p = (const float *)x->data + base;
        for (int64_t j = 0; j < n; j++) it[j].key.f = p[j * stride], it[j].idx = j;
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        int64_t e = base + j * stride;
        if (c == KEY_F) it[j].key.f = kiln_load_f64(x->dtype, x->data, e);
        else if (x->dtype == KILN_UINT64) it[j].key.u = ((const uint64_t *)x->data)[e];
        else it[j].key.i = kiln_load_i64(x->dtype, x->data, e);
        it[j].idx = j;
    }
}

static void topk_range(void *ctx, int64_t b, int64_t e) {
    topk_job *j = ctx;
    int64_t n = j->n, kk = j->kk, inner = j->inner;
    topk_item *it = malloc(sizeof *it * (size_t)n);
    if (!it) {
        j->failed = 1;
        return;
    }
    for (int64_t s = b; s < e; s++) {
        int64_t o = s / inner, i = s % inner;
        load_keys(j->x, j->c, o * n * inner + i, n, inner, it);
        /* Keep the best kk in a heap (root = worst kept), then heap-sort them into order. */
        int64_t h = 0;
        for (int64_t q = 0; q < n; q++) {
            if (h < kk) {
                it[h] = it[q];
                for (int64_t c = h++; c > 0;) {
                    int64_t pa = (c - 1) / 2;
                    if (!topk_before(j->c, j->largest, &it[pa], &it[c])) break;
                    topk_item t = it[pa];
                    it[pa] = it[c];
                    it[c] = t;
                    c = pa;
                }
            } else if (topk_before(j->c, j->largest, &it[q], &it[0])) {
                it[0] = it[q];
                sift_down(it, h, 0, j->c, j->largest);
            }
        }
        for (int64_t m = h - 1; m > 0; m--) {
            topk_item t = it[0];
            it[0] = it[m];
            it[m] = t;
            sift_down(it, m, 0, j->c, j->largest);
        }
        int64_t ob = o * kk * inner + i, ib = o * n * inner + i;
        for (int64_t q = 0; q < kk; q++) {
            memcpy((char *)j->v->data + (size_t)(ob + q * inner) * j->esz,
                   (const char *)j->x->data + (size_t)(ib + it[q].idx * inner) * j->esz, j->esz);
            ((int64_t *)j->ix->data)[ob + q * inner] = it[q].idx;
        }
    }
    free(it);
}

kiln_status kr_topk_run(kiln_kctx *k) {
    const topk_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(!kiln_dtype_is_float(x->dtype) && !kiln_dtype_is_int(x->dtype), KILN_ERR_UNSUPPORTED,
                 "TopK does not support %s input", kiln_dtype_name(x->dtype));
    KILN_FAIL_IF(kiln_dtype_is_float(x->dtype) && x->dtype != KILN_FLOAT && x->dtype != KILN_DOUBLE &&
                     x->dtype != KILN_FLOAT16 && x->dtype != KILN_BFLOAT16,
                 KILN_ERR_UNSUPPORTED, "TopK does not support %s input", kiln_dtype_name(x->dtype));
    int axis;
    KILN_TRY(kr_axis(p->axis, x->rank, "axis", &axis));
    int64_t kk = p->k_attr;
    if (!p->has_k_attr) {
        const kiln_tensor *kt;
        KILN_TRY(kiln_kin_req(k, 1, &kt));
        int64_t kv[1];
        int nk;
        KILN_TRY(kr_read_ints(kt, "K (input 1)", kv, 1, &nk));
        KILN_FAIL_IF(nk != 1, KILN_ERR_SHAPE, "K (input 1) must hold one value, has %d", nk);
        kk = kv[0];
    }
    int64_t n = x->dims[axis];
    KILN_FAIL_IF(kk < 0 || kk > n, KILN_ERR_RUNTIME, "TopK: k = %lld is outside [0, %lld] (axis %d)", (long long)kk,
                 (long long)n, axis);
    int64_t od[KILN_MAX_DIMS];
    memcpy(od, x->dims, sizeof(int64_t) * (size_t)x->rank);
    od[axis] = kk;
    kiln_tensor *v, *ix;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, od, &v));
    KILN_TRY(kiln_kout(k, 1, KILN_INT64, x->rank, od, &ix));
    int64_t outer = kr_prod(x->dims, 0, axis), inner = kr_prod(x->dims, axis + 1, x->rank);
    if (outer * inner * kk == 0) return KILN_OK;
    topk_job j = {x, v, ix, n, inner, kk, class_of(x->dtype), p->largest, kiln_dtype_size(x->dtype), 0};
    int64_t grain = 16384 / n;
    kiln_parallel_for(outer * inner, grain > 0 ? grain : 1, topk_range, &j);
    KILN_FAIL_IF(j.failed, KILN_ERR_OUT_OF_MEMORY, "out of memory in TopK (axis length %lld)", (long long)n);
    return KILN_OK;
}
