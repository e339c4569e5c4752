/* CPU kernels of the reduce family: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (table in reduce.c).
 *
 * Both work in double on the (N, C, D) view of the input, D being the product of the dims after C. The mean
 * reduction divides by the sum of the weights of the targets that count (ignored targets weigh 0), as the spec
 * defines it. */
#include <math.h>
#include <stdlib.h>

#include "backends/cpu/reduce-common.h"
#include "core/broadcast.h"

typedef enum loss_reduction { LOSS_NONE = 0, LOSS_SUM = 1, LOSS_MEAN = 2 } loss_reduction;

typedef struct loss_params {
    loss_reduction reduction;
    int has_ii;
    int64_t ii;
} loss_params;

kiln_status kr_loss_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    const char *r = kiln_attr_string(node, "reduction", "mean");
    loss_reduction red;
    if (!strcmp(r, "none")) red = LOSS_NONE;
    else if (!strcmp(r, "sum")) red = LOSS_SUM;
    else if (!strcmp(r, "mean")) red = LOSS_MEAN;
    else return kiln_error(KILN_ERR_INVALID_GRAPH, "%s: unknown reduction '%s' (none, sum or mean)", node->op_type, r);
    loss_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->reduction = red;
    p->has_ii = kiln_node_attr(node, "ignore_index") != NULL;
    p->ii = kiln_attr_int(node, "ignore_index", 0);
    *params = p;
    return KILN_OK;
}

static int loss_float_type(kiln_dtype dt) {
    return dt == KILN_FLOAT || dt == KILN_DOUBLE || dt == KILN_FLOAT16 || dt == KILN_BFLOAT16;
}

/* Checks the shapes of (input, target, weight) and returns N, C, D. */
static kiln_status loss_shapes(const char *op, const kiln_tensor *x, const kiln_tensor *t, const kiln_tensor *w,
                               int64_t *N, int64_t *C, int64_t *D) {
    char b1[128], b2[128];
    KILN_FAIL_IF(!loss_float_type(x->dtype), KILN_ERR_UNSUPPORTED, "%s does not support %s input", op,
                 kiln_dtype_name(x->dtype));
    KILN_FAIL_IF(t->dtype != KILN_INT32 && t->dtype != KILN_INT64, KILN_ERR_TYPE,
                 "%s: target must be int32 or int64, got %s", op, kiln_dtype_name(t->dtype));
    KILN_FAIL_IF(x->rank < 2, KILN_ERR_SHAPE, "%s: input must have rank >= 2 (N, C, ...), got rank %d", op, x->rank);
    int ok = t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
    for (int d = 1; ok && d < t->rank; d++) ok = t->dims[d] == x->dims[d + 1];
    KILN_FAIL_IF(!ok, KILN_ERR_SHAPE, "%s: target shape %s does not match input shape %s (N, C, d1, ...)", op,
                 kiln_shape_str(t->rank, t->dims, b2, sizeof b2), kiln_shape_str(x->rank, x->dims, b1, sizeof b1));
    *N = x->dims[0];
    *C = x->dims[1];
    *D = kr_prod(x->dims, 2, x->rank);
    if (w) {
        KILN_FAIL_IF(!loss_float_type(w->dtype), KILN_ERR_TYPE, "%s: weight must be a float tensor, got %s", op,
                     kiln_dtype_name(w->dtype));
        KILN_FAIL_IF(w->rank != 1 || w->dims[0] != *C, KILN_ERR_SHAPE, "%s: weight shape %s, expected [%lld]", op,
                     kiln_shape_str(w->rank, w->dims, b1, sizeof b1), (long long)*C);
    }
    return KILN_OK;
}

/* loss(n, d) = -lp[n, target, d] * weight[target]; writes output 0 (per element or reduced). */
static kiln_status loss_finish(kiln_kctx *k, const char *op, const loss_params *p, const double *lp,
                               const kiln_tensor *x, const kiln_tensor *t, const kiln_tensor *w, int64_t N, int64_t C,
                               int64_t D) {
    kiln_tensor *y;
    if (p->reduction == LOSS_NONE) KILN_TRY(kiln_kout(k, 0, x->dtype, t->rank, t->dims, &y));
    else KILN_TRY(kiln_kout(k, 0, x->dtype, 0, NULL, &y));
    double sum = 0, wsum = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) {
            int64_t e = n * D + d;
            int64_t c = t->dtype == KILN_INT64 ? ((const int64_t *)t->data)[e] : ((const int32_t *)t->data)[e];
            double l = 0, wt = 0;
            if (!(p->has_ii && c == p->ii)) {
                KILN_FAIL_IF(c < 0 || c >= C, KILN_ERR_RUNTIME,
                             "%s: target %lld at position %lld is outside [0, %lld) and is not ignore_index", op,
                             (long long)c, (long long)e, (long long)C);
                wt = w ? kiln_load_f64(w->dtype, w->data, c) : 1.0;
                l = -lp[(n * C + c) * D + d] * wt;
            }
            if (p->reduction == LOSS_NONE) kiln_store_f64(y->dtype, y->data, e, l);
            sum += l;
            wsum += wt;
        }
    if (p->reduction == LOSS_SUM) kiln_store_f64(y->dtype, y->data, 0, sum);
    if (p->reduction == LOSS_MEAN) kiln_store_f64(y->dtype, y->data, 0, sum / wsum);
    return KILN_OK;
}

static kiln_status loss_run(kiln_kctx *k, int softmax) {
    const loss_params *p = k->params;
    const char *op = softmax ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss";
    const kiln_tensor *x, *t, *w = kiln_kin(k, 2);
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &t));
    int64_t N = 0, C = 0, D = 0;
    KILN_TRY(loss_shapes(op, x, t, w, &N, &C, &D));
    int64_t numel = N * C * D;
    double *lp = malloc(sizeof(double) * (size_t)(numel > 0 ? numel : 1));
    KILN_FAIL_IF(!lp, KILN_ERR_OUT_OF_MEMORY, "%s: out of memory (%lld elements)", op, (long long)numel);
    for (int64_t i = 0; i < numel; i++) lp[i] = kiln_load_f64(x->dtype, x->data, i);
    if (softmax) {
        /* log_softmax over C, stable: x - max - log(sum(exp(x - max))). */
        for (int64_t n = 0; n < N; n++)
            for (int64_t d = 0; d < D; d++) {
                double *r = lp + n * C * D + d, m = -INFINITY, s = 0;
                for (int64_t c = 0; c < C; c++) m = r[c * D] > m ? r[c * D] : m;
                for (int64_t c = 0; c < C; c++) s += exp(r[c * D] - m);
                double ls = log(s) + m;
                for (int64_t c = 0; c < C; c++) r[c * D] -= ls;
            }
        if (k->n_out > 1 && k->node->out[1] >= 0) {
            kiln_tensor *lpo;
            kiln_status st = kiln_kout(k, 1, x->dtype, x->rank, x->dims, &lpo);
            if (st != KILN_OK) {
                free(lp);
                return st;
            }
            for (int64_t i = 0; i < numel; i++) kiln_store_f64(x->dtype, lpo->data, i, lp[i]);
        }
    }
    kiln_status st = loss_finish(k, op, p, lp, x, t, w, N, C, D);
    free(lp);
    return st;
}

kiln_status kr_nll_run(kiln_kctx *k) { return loss_run(k, 0); }
kiln_status kr_sce_run(kiln_kctx *k) { return loss_run(k, 1); }
