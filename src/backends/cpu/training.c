/* CPU kernels: ai.onnx.preview.training optimizers (Adagrad, Adam, Momentum; see registry.h).
 *
 * Each takes the learning rate R and step count T, then n tensors to optimize followed by their gradients and
 * state tensors, and returns the updated tensors and states in the same grouping. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/registry.h"
#include "core/dtype.h"

typedef struct opt_params {
    int kind; /* 0 adagrad, 1 adam, 2 momentum */
    double decay, eps, norm, norm_post, alpha, beta;
    int nesterov;
} opt_params;

static kiln_status opt_prepare_kind(const kiln_node *n, int kind, void **out) {
    opt_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    p->kind = kind;
    p->decay = kiln_attr_float(n, "decay_factor", 0);
    p->eps = kiln_attr_float(n, "epsilon", 1e-6f);
    p->norm = kiln_attr_float(n, "norm_coefficient", 0);
    p->norm_post = kiln_attr_float(n, "norm_coefficient_post", 0);
    p->alpha = kiln_attr_float(n, "alpha", kind == 1 ? 0.9f : 0);
    p->beta = kiln_attr_float(n, "beta", kind == 1 ? 0.999f : 0);
    if (kind == 2) {
        const char *mode = kiln_attr_string(n, "mode", "standard");
        KILN_FAIL_IF(strcmp(mode, "standard") && strcmp(mode, "nesterov"), KILN_ERR_INVALID_GRAPH,
                     "Momentum mode '%s' is not standard or nesterov", mode);
        p->nesterov = !strcmp(mode, "nesterov");
    }
    return KILN_OK;
}

static kiln_status adagrad_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return opt_prepare_kind(n, 0, o); }
static kiln_status adam_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return opt_prepare_kind(n, 1, o); }
static kiln_status momentum_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return opt_prepare_kind(n, 2, o); }

static int is_real(kiln_dtype t) { return t == KILN_FLOAT || t == KILN_DOUBLE; }

static kiln_status opt_run(kiln_kctx *k) {
    const opt_params *p = k->params;
    int groups = p->kind == 1 ? 4 : 3; /* x, g, then one (h or v) or two (v, h) state tensors */
    KILN_FAIL_IF((k->n_in - 2) % groups || k->n_in < 2 + groups, KILN_ERR_INVALID_GRAPH,
                 "optimizer needs R, T and %d tensors per optimized tensor", groups);
    int nt = (k->n_in - 2) / groups;
    const kiln_tensor *rt, *tt;
    KILN_TRY(kiln_kin_req(k, 0, &rt));
    KILN_TRY(kiln_kin_req(k, 1, &tt));
    KILN_FAIL_IF(kiln_tensor_numel(rt) != 1 || kiln_tensor_numel(tt) != 1, KILN_ERR_SHAPE,
                 "optimizer: R and T must be scalars (got %lld and %lld elements)", (long long)kiln_tensor_numel(rt),
                 (long long)kiln_tensor_numel(tt));
    KILN_FAIL_IF(!is_real(rt->dtype) || tt->dtype != KILN_INT64, KILN_ERR_TYPE,
                 "optimizer: R must be float or double and T int64 (got %s and %s)", kiln_dtype_name(rt->dtype),
                 kiln_dtype_name(tt->dtype));
    double r = kiln_load_f64(rt->dtype, rt->data, 0);
    int64_t t = kiln_load_i64(tt->dtype, tt->data, 0);
    for (int i = 0; i < nt; i++) {
        const kiln_tensor *in[4];
        for (int q = 0; q < groups; q++) {
            KILN_TRY(kiln_kin_req(k, 2 + q * nt + i, &in[q]));
            KILN_FAIL_IF(!is_real(in[q]->dtype), KILN_ERR_TYPE, "optimizer: tensors must be float or double, input %d "
                         "is %s", 2 + q * nt + i, kiln_dtype_name(in[q]->dtype));
        }
        int64_t n = kiln_tensor_numel(in[0]);
        for (int q = 1; q < groups; q++)
            KILN_FAIL_IF(kiln_tensor_numel(in[q]) != n, KILN_ERR_SHAPE, "optimizer inputs of tensor %d differ in size", i);
        kiln_tensor *out[3] = {NULL, NULL, NULL};
        for (int q = 0; q < groups - 1; q++) {
            int oi = q * nt + i;
            if (oi < k->n_out) KILN_TRY(kiln_kout(k, oi, in[q == 0 ? 0 : q + 1]->dtype, in[0]->rank, in[0]->dims, &out[q]));
        }
        for (int64_t e = 0; e < n; e++) {
            double x = kiln_load_f64(in[0]->dtype, in[0]->data, e), g = kiln_load_f64(in[1]->dtype, in[1]->data, e);
            double s1 = kiln_load_f64(in[2]->dtype, in[2]->data, e), gr = p->norm * x + g, xn, a, b = 0;
            if (p->kind == 0) { /* Adagrad: s1 = accumulated squared gradient */
                double rr = r / (1 + (double)t * p->decay);
                a = s1 + gr * gr;
                xn = x - rr * gr / (sqrt(a) + p->eps);
            } else if (p->kind == 1) { /* Adam: s1 = first moment v, in[3] = second moment h */
                double h = kiln_load_f64(in[3]->dtype, in[3]->data, e);
                a = p->alpha * s1 + (1 - p->alpha) * gr;
                b = p->beta * h + (1 - p->beta) * gr * gr;
                double ra = t > 0 ? r * sqrt(1 - pow(p->beta, (double)t)) / (1 - pow(p->alpha, (double)t)) : r;
                xn = (1 - p->norm_post) * (x - ra * (a / (sqrt(b) + p->eps)));
            } else { /* Momentum: s1 = velocity */
                double bb = t > 0 ? p->beta : 1;
                a = p->alpha * s1 + bb * gr;
                xn = p->nesterov ? x - r * (gr + p->alpha * a) : x - r * a;
            }
            if (out[0]) kiln_store_f64(out[0]->dtype, out[0]->data, e, xn);
            if (out[1]) kiln_store_f64(out[1]->dtype, out[1]->data, e, a);
            if (out[2]) kiln_store_f64(out[2]->dtype, out[2]->data, e, b);
        }
    }
    return KILN_OK;
}

const kiln_op_def kiln_cpu_ops_training[] = {
    {"Adagrad", "ai.onnx.preview.training", 1, adagrad_prepare, free, opt_run},
    {"Adam", "ai.onnx.preview.training", 1, adam_prepare, free, opt_run},
    {"Momentum", "ai.onnx.preview.training", 1, momentum_prepare, free, opt_run},
    {0},
};
