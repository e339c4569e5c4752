/* CPU kernels: reduce family (see registry.h). This file holds the family table and the Reduce* ops;
 * ArgMax/ArgMin/TopK, CumSum/CumProd and the loss ops live in reduce-arg.c, reduce-cum.c and reduce-loss.c.
 *
 * A reduction is planned by dropping size-1 dims and merging neighbouring dims that are both reduced or both
 * kept. The last merged dim decides the loop shape: when it is reduced ("row mode") every output reduces
 * contiguous runs; when it is kept ("vector mode") every output row accumulates whole contiguous rows, which
 * vectorizes across the kept dim. */
#include <math.h>
#include <stdlib.h>

#include "backends/cpu/reduce-common.h"
#include "backends/cpu/registry.h"
#include "core/broadcast.h"
#include "core/parallel.h"

typedef enum rop {
    R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQ, R_OP_COUNT
} rop;

typedef struct rlayout {
    int row_mode;
    int64_t inner;          /* row mode: contiguous reduced run; vector mode: contiguous kept run */
    int64_t n_out, n_red;   /* outer kept positions / outer reduced positions */
    int64_t *ooff, *roff;   /* their element offsets into the input (owned) */
    int64_t count;          /* input elements per output */
} rlayout;

#define R_GRAIN 32768       /* elements of work per parallel task */
#define R_SPLIT_MIN 65536   /* a single output reducing at least this many elements is split across threads */
#define R_VEC_MIN_COLS 64
#define R_VSPLIT_MAX (1 << 20) /* largest output (elements) worth one partial copy per thread */

#define RT float
#define RS f32
#define RK 0
#define RFAST 1
#define REXP(v) kr_expf(v)
#include "backends/cpu/reduce-core.h"
#undef RT
#undef RS
#undef RK
#undef REXP
#undef RFAST
#define RT double
#define RS f64
#define RK 0
#define RFAST 0
#define REXP(v) exp(v)
#include "backends/cpu/reduce-core.h"
#undef RT
#undef RS
#undef RK
#undef REXP
#undef RFAST
#define RT int64_t
#define RS i64
#define RK 1
#define RFAST 0
#include "backends/cpu/reduce-core.h"
#undef RT
#undef RS
#undef RK
#undef RFAST
#define RT uint64_t
#define RS u64
#define RK 2
#define RFAST 0
#include "backends/cpu/reduce-core.h"
#undef RT
#undef RS
#undef RK
#undef RFAST

static void fill_offsets(int nd, const int64_t *len, const int64_t *st, int64_t *off, int64_t n) {
    int64_t idx[KILN_MAX_DIMS] = {0};
    int64_t cur = 0;
    for (int64_t i = 0; i < n; i++) {
        off[i] = cur;
        for (int d = nd - 1; d >= 0; d--) {
            cur += st[d];
            if (++idx[d] < len[d]) break;
            cur -= st[d] * len[d];
            idx[d] = 0;
        }
    }
}

static void layout_free(rlayout *l) {
    free(l->ooff);
    free(l->roff);
    l->ooff = l->roff = NULL;
}

/* dims must all be positive here (empty tensors are handled before planning). */
static kiln_status layout_build(int rank, const int64_t *dims, const int *red, rlayout *l) {
    int64_t len[KILN_MAX_DIMS], st[KILN_MAX_DIMS];
    int fl[KILN_MAX_DIMS], m = 0;
    for (int d = 0; d < rank; d++) {
        if (dims[d] == 1) continue;
        if (m > 0 && fl[m - 1] == red[d]) {
            len[m - 1] *= dims[d];
        } else {
            len[m] = dims[d];
            fl[m] = red[d];
            m++;
        }
    }
    memset(l, 0, sizeof *l);
    l->row_mode = 1;
    l->inner = 1;
    int64_t klen[KILN_MAX_DIMS], kst[KILN_MAX_DIMS], rlen[KILN_MAX_DIMS], rst[KILN_MAX_DIMS];
    int nk = 0, nr = 0;
    if (m > 0) {
        l->row_mode = fl[m - 1];
        l->inner = len[m - 1];
        st[m - 1] = 1;
        for (int i = m - 2; i >= 0; i--) st[i] = st[i + 1] * len[i + 1];
        for (int i = 0; i < m - 1; i++) {
            if (fl[i]) {
                rlen[nr] = len[i];
                rst[nr++] = st[i];
            } else {
                klen[nk] = len[i];
                kst[nk++] = st[i];
            }
        }
    }
    l->n_out = kr_prod(klen, 0, nk);
    l->n_red = kr_prod(rlen, 0, nr);
    l->count = l->n_red * (l->row_mode ? l->inner : 1);
    l->ooff = malloc(sizeof(int64_t) * (size_t)l->n_out);
    l->roff = malloc(sizeof(int64_t) * (size_t)l->n_red);
    if (!l->ooff || !l->roff) {
        layout_free(l);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory planning a reduction");
    }
    fill_offsets(nk, klen, kst, l->ooff, l->n_out);
    fill_offsets(nr, rlen, rst, l->roff, l->n_red);
    return KILN_OK;
}

typedef struct reduce_params {
    rop op;
    int keepdims, noop_empty;
    int has_axes_attr, n_axes;
    int64_t axes[KILN_MAX_DIMS];
} reduce_params;

static const char *const op_names[R_OP_COUNT] = {
    "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
    "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
};

static kiln_status reduce_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    reduce_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < R_OP_COUNT; i++)
        if (!strcmp(node->op_type, op_names[i])) p->op = (rop)i;
    p->keepdims = kiln_attr_int(node, "keepdims", 1) != 0;
    p->noop_empty = kiln_attr_int(node, "noop_with_empty_axes", 0) != 0;
    int n = 0;
    const int64_t *axes = kiln_attr_ints(node, "axes", &n);
    if (kiln_node_attr(node, "axes")) {
        if (n > KILN_MAX_DIMS) {
            free(p);
            return kiln_error(KILN_ERR_INVALID_GRAPH, "%s: %d axes given, at most %d allowed", node->op_type, n,
                              KILN_MAX_DIMS);
        }
        p->has_axes_attr = 1;
        p->n_axes = n;
        memcpy(p->axes, axes, sizeof(int64_t) * (size_t)n);
    }
    *params = p;
    return KILN_OK;
}

/* The value an empty reduction yields in the output's dtype. */
static void fill_empty(rop op, kiln_tensor *y, int64_t n) {
    kiln_dtype dt = y->dtype;
    int fl = kiln_dtype_is_float(dt);
    for (int64_t i = 0; i < n; i++) {
        switch (op) {
        case R_PROD: kiln_store_f64(dt, y->data, i, 1.0); break;
        case R_MAX:
            if (fl) kiln_store_f64(dt, y->data, i, -INFINITY);
            else kiln_store_i64(dt, y->data, i, kr_int_min(dt));
            break;
        case R_MIN:
            if (dt == KILN_UINT64) ((uint64_t *)y->data)[i] = UINT64_MAX;
            else if (fl) kiln_store_f64(dt, y->data, i, INFINITY);
            else kiln_store_i64(dt, y->data, i, kr_int_max(dt));
            break;
        case R_MEAN: /* 0 / 0 */
            if (fl) kiln_store_f64(dt, y->data, i, NAN);
            else kiln_store_i64(dt, y->data, i, 0);
            break;
        case R_LOGSUM: case R_LOGSUMEXP: /* log(0) */
            if (fl) kiln_store_f64(dt, y->data, i, -INFINITY);
            else kiln_store_i64(dt, y->data, i, kr_int_min(dt));
            break;
        default: kiln_store_i64(dt, y->data, i, 0); break;
        }
    }
}

static int supported_dtype(rop op, kiln_dtype dt) {
    switch (dt) {
    case KILN_FLOAT: case KILN_DOUBLE: case KILN_FLOAT16: case KILN_BFLOAT16: case KILN_INT8: case KILN_UINT8:
    case KILN_INT16: case KILN_UINT16: case KILN_INT32: case KILN_UINT32: case KILN_INT64: case KILN_UINT64:
        return 1;
    case KILN_BOOL: return op == R_MAX || op == R_MIN;
    default: return 0;
    }
}

/* Computes through a working copy in the compute type (int64/uint64/double) for the integer dtypes. */
static kiln_status reduce_ints(const rlayout *l, rop op, const kiln_tensor *x, int64_t nx, kiln_tensor *y,
                               int64_t ny) {
    kiln_dtype dt = x->dtype;
    int via_double = op == R_L2 || op == R_LOGSUM || op == R_LOGSUMEXP;
    int is_unsigned = !kiln_dtype_is_signed(dt);
    int direct = (dt == KILN_INT64 || dt == KILN_UINT64) && !via_double;
    void *wx = direct ? NULL : malloc(8 * (size_t)nx);
    void *wy = malloc(8 * (size_t)ny);
    kiln_status st = KILN_OK;
    if ((!direct && !wx) || !wy) {
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory reducing %lld elements", (long long)nx);
        goto done;
    }
    if (via_double) {
        double *d = wx;
        for (int64_t i = 0; i < nx; i++) d[i] = kiln_load_f64(dt, x->data, i);
        st = reduce_f64(l, op, d, wy, ny);
        const double *r = wy;
        for (int64_t i = 0; i < ny && st == KILN_OK; i++) {
            /* Cast semantics: truncate; non-finite results saturate instead of being undefined. */
            double v = r[i];
            if (isnan(v)) v = 0;
            if (v <= (double)kr_int_min(dt)) kiln_store_i64(dt, y->data, i, kr_int_min(dt));
            else if (dt == KILN_UINT64 && v >= 18446744073709551615.0) ((uint64_t *)y->data)[i] = UINT64_MAX;
            else if (dt != KILN_UINT64 && v >= (double)kr_int_max(dt)) kiln_store_i64(dt, y->data, i, kr_int_max(dt));
            else if (dt == KILN_UINT64) ((uint64_t *)y->data)[i] = (uint64_t)v;
            else kiln_store_i64(dt, y->data, i, (int64_t)v);
        }
    } else if (is_unsigned) {
        const uint64_t *src = direct ? x->data : wx;
        if (!direct)
            for (int64_t i = 0; i < nx; i++) ((uint64_t *)wx)[i] = (uint64_t)kiln_load_i64(dt, x->data, i);
        st = reduce_u64(l, op, src, wy, ny);
        for (int64_t i = 0; i < ny && st == KILN_OK; i++) kiln_store_i64(dt, y->data, i, (int64_t)((uint64_t *)wy)[i]);
    } else {
        const int64_t *src = direct ? x->data : wx;
        if (!direct)
            for (int64_t i = 0; i < nx; i++) ((int64_t *)wx)[i] = kiln_load_i64(dt, x->data, i);
        st = reduce_i64(l, op, src, wy, ny);
        for (int64_t i = 0; i < ny && st == KILN_OK; i++) kiln_store_i64(dt, y->data, i, ((int64_t *)wy)[i]);
    }
done:
    free(wx);
    free(wy);
    return st;
}

static kiln_status reduce_run(kiln_kctx *k) {
    const reduce_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(!supported_dtype(p->op, x->dtype), KILN_ERR_UNSUPPORTED, "%s does not support %s input",
                 op_names[p->op], kiln_dtype_name(x->dtype));
    int64_t axes[KILN_MAX_DIMS];
    int n_axes = 0;
    if (p->has_axes_attr) {
        n_axes = p->n_axes;
        memcpy(axes, p->axes, sizeof(int64_t) * (size_t)n_axes);
    } else if (kiln_kin(k, 1)) {
        KILN_TRY(kr_read_ints(kiln_kin(k, 1), "axes (input 1)", axes, KILN_MAX_DIMS, &n_axes));
    }
    int red[KILN_MAX_DIMS] = {0};
    if (n_axes == 0) {
        for (int d = 0; d < x->rank; d++) red[d] = !p->noop_empty;
    }
    for (int i = 0; i < n_axes; i++) {
        int a;
        KILN_TRY(kr_axis(axes[i], x->rank, "axes entry", &a));
        KILN_FAIL_IF(red[a], KILN_ERR_INVALID_GRAPH, "axis %lld appears twice in axes", (long long)axes[i]);
        red[a] = 1;
    }
    int64_t od[KILN_MAX_DIMS];
    int orank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!red[d]) od[orank++] = x->dims[d];
        else if (p->keepdims) od[orank++] = 1;
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, orank, od, &y));
    int64_t ny = kiln_tensor_numel(y), nx = kiln_tensor_numel(x);
    if (ny == 0) return KILN_OK;
    if (nx == 0) {
        fill_empty(p->op, y, ny);
        return KILN_OK;
    }
    rlayout l;
    KILN_TRY(layout_build(x->rank, x->dims, red, &l));
    kiln_status st = KILN_OK;
    switch (x->dtype) {
    case KILN_FLOAT: st = reduce_f32(&l, p->op, x->data, y->data, ny); break;
    case KILN_DOUBLE: st = reduce_f64(&l, p->op, x->data, y->data, ny); break;
    case KILN_FLOAT16: case KILN_BFLOAT16: {
        float *xo = NULL, *yf = malloc(sizeof(float) * (size_t)ny);
        const float *xf = kr_float_view(x, nx, &xo);
        if (!xf || !yf) {
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory reducing %lld elements", (long long)nx);
        } else {
            st = reduce_f32(&l, p->op, xf, yf, ny);
            if (st == KILN_OK) kr_float_store(x->dtype, y->data, yf, ny);
        }
        free(xo);
        free(yf);
        break;
    }
    default: st = reduce_ints(&l, p->op, x, nx, y, ny); break;
    }
    layout_free(&l);
    return st;
}

#define REDUCE_DEF(name) {name, "", 1, reduce_prepare, free, reduce_run}

const kiln_op_def kiln_cpu_ops_reduce[] = {
    REDUCE_DEF("ReduceSum"),
    REDUCE_DEF("ReduceMean"),
    REDUCE_DEF("ReduceMax"),
    REDUCE_DEF("ReduceMin"),
    REDUCE_DEF("ReduceProd"),
    REDUCE_DEF("ReduceL1"),
    REDUCE_DEF("ReduceL2"),
    REDUCE_DEF("ReduceLogSum"),
    REDUCE_DEF("ReduceLogSumExp"),
    REDUCE_DEF("ReduceSumSquare"),
    {"ArgMax", "", 1, kr_arg_prepare, free, kr_argmax_run},
    {"ArgMin", "", 1, kr_arg_prepare, free, kr_argmin_run},
    {"TopK", "", 1, kr_topk_prepare, free, kr_topk_run},
    {"CumSum", "", 11, kr_cum_prepare, free, kr_cumsum_run},
    {"CumProd", "", 26, kr_cum_prepare, free, kr_cumprod_run},
    {"NegativeLogLikelihoodLoss", "", 12, kr_loss_prepare, free, kr_nll_run},
    {"SoftmaxCrossEntropyLoss", "", 12, kr_loss_prepare, free, kr_sce_run},
    {0},
};
