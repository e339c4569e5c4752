/* CPU kernels: activation family (see registry.h). Float ops compute in float (halves through float tiles) or
 * double; Relu and Shrink also take integers, PRelu broadcasts its slope. */
#include <math.h>
#include <string.h>

#include "backends/cpu/eltwise-core.h"
#include "backends/cpu/eltwise-vmath.h"
#include "backends/cpu/registry.h"
#include "core/status.h"

/* Numerically stable forms: no overflow to inf/NaN for large |x|. */
static inline double sigmoid_(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static inline float softplusf_(float x) { return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)); }
static inline double softplus_(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

#define SQRT_2_OVER_PI 0.79788456080286535588
static inline double gelu_(double x, int approx) {
    if (approx) return 0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1.0 + erf(x * M_SQRT1_2));
}

EW_UNARY_FLOAT(sigmoid, ew_vsigmoidf(x), sigmoid_(x))
EW_UNARY_FLOAT(tanh, ew_vtanhf(x), tanh(x))
EW_UNARY_FLOAT(leaky, x < 0 ? p->alpha * x : x, x < 0 ? (double)p->alpha * x : x)
EW_UNARY_FLOAT(elu, x < 0 ? p->alpha * (ew_vexpf(x) - 1.0f) : x, x < 0 ? (double)p->alpha * expm1(x) : x)
EW_UNARY_FLOAT(selu, x > 0 ? p->gamma * x : p->gamma * p->alpha * (ew_vexpf(x) - 1.0f),
               x > 0 ? (double)p->gamma * x : (double)p->gamma * (double)p->alpha * expm1(x))
EW_UNARY_FLOAT(celu, fmaxf(0.0f, x) + fminf(0.0f, p->alpha * (ew_vexpf(x / p->alpha) - 1.0f)),
               fmax(0.0, x) + fmin(0.0, (double)p->alpha * expm1(x / (double)p->alpha)))
EW_UNARY_FLOAT(hsig, fmaxf(0.0f, fminf(1.0f, p->alpha * x + p->beta)),
               fmax(0.0, fmin(1.0, (double)p->alpha * x + (double)p->beta)))
EW_UNARY_FLOAT(hswish, x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f)), x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5)))
EW_UNARY_FLOAT(softplus, softplusf_(x), softplus_(x))
EW_UNARY_FLOAT(softsign, x / (1.0f + fabsf(x)), x / (1.0 + fabs(x)))
EW_UNARY_FLOAT(threlu, x > p->alpha ? x : 0.0f, x > (double)p->alpha ? x : 0.0)
/* Gelu's two forms are separate loops (picked at prepare) so neither evaluates the other's function. */
EW_UNARY_FLOAT(gelu, 0.5f * x * (1.0f + ew_verff(x * (float)M_SQRT1_2)), gelu_(x, 0))
EW_UNARY_FLOAT(gelu_tanh, 0.5f * x * (1.0f + ew_vtanhf((float)SQRT_2_OVER_PI * (x + 0.044715f * x * x * x))),
               gelu_(x, 1))
EW_UNARY_FLOAT(mish, x * ew_vtanhf(softplusf_(x)), x * tanh(softplus_(x)))
EW_UNARY_FLOAT(swish, x * ew_vsigmoidf(p->alpha * x), x * sigmoid_((double)p->alpha * x))

/* Relu: float (max with 0 keeps NaN) and the signed integers. */
#define irelu_EXPR (x > 0 ? x : 0)
EW_SINT_LIST(EW_UDEF_SAME, irelu)
EW_UN_LOOP(frelu_f32, float, float, float, x < 0 ? 0.0f : x)
EW_UN_LOOP(frelu_f64, double, double, double, x < 0 ? 0.0 : x)
static const ew_unary_impl relu_impl = {
    EW_SINTS | EW_FLOATS, KILN_UNDEFINED,
    {EW_SINT_LIST(EW_REF, irelu)[KILN_FLOAT] = frelu_f32, [KILN_DOUBLE] = frelu_f64}};

/* Shrink on every numeric type: integers compute in double and truncate back (exact for |x| < 2^53). */
#define shrink_EXPR                                                                                                \
    ((double)x < -(double)p->alpha ? (double)x + (double)p->beta                                                    \
                                   : ((double)x > (double)p->alpha ? (double)x - (double)p->beta : 0.0))
EW_NUM_LIST(EW_UDEF_SAME, shrink)
static const ew_unary_impl shrink_impl = {EW_NUMERIC, KILN_UNDEFINED, {EW_NUM_LIST(EW_REF, shrink)}};

typedef struct act_entry {
    const char *op;
    const ew_unary_impl *impl;
} act_entry;

static const act_entry act_ops[] = {
    {"Relu", &relu_impl},         {"LeakyRelu", &leaky_impl}, {"Elu", &elu_impl},
    {"Selu", &selu_impl},         {"Celu", &celu_impl},       {"Sigmoid", &sigmoid_impl},
    {"HardSigmoid", &hsig_impl},  {"HardSwish", &hswish_impl}, {"Tanh", &tanh_impl},
    {"Softplus", &softplus_impl}, {"Softsign", &softsign_impl}, {"ThresholdedRelu", &threlu_impl},
    {"Gelu", &gelu_impl},         {"Mish", &mish_impl},       {"Swish", &swish_impl},
    {"Shrink", &shrink_impl},
};

static kiln_status act_setup(const kiln_node *node, ew_uparams *p) {
    const char *op = node->op_type;
    for (size_t i = 0; i < sizeof act_ops / sizeof act_ops[0]; i++)
        if (!strcmp(act_ops[i].op, op)) p->impl = act_ops[i].impl;
    KILN_FAIL_IF(!p->impl, KILN_ERR_INTERNAL, "%s is not an activation", op);
    /* Defaults from the ONNX schemas. */
    float alpha = 0, beta = 0, gamma = 0;
    if (!strcmp(op, "LeakyRelu")) alpha = 0.01f;
    if (!strcmp(op, "Elu") || !strcmp(op, "Celu") || !strcmp(op, "ThresholdedRelu") || !strcmp(op, "Swish"))
        alpha = 1.0f;
    if (!strcmp(op, "Selu")) {
        alpha = 1.67326319217681884765625f;
        gamma = 1.05070102214813232421875f;
    }
    if (!strcmp(op, "HardSigmoid")) {
        alpha = 0.2f;
        beta = 0.5f;
    }
    p->alpha = kiln_attr_float(node, "alpha", alpha);
    p->beta = kiln_attr_float(node, "beta", beta);
    p->gamma = kiln_attr_float(node, "gamma", gamma);
    if (!strcmp(op, "Shrink")) { /* alpha = lambd, beta = bias */
        p->alpha = kiln_attr_float(node, "lambd", 0.5f);
        p->beta = kiln_attr_float(node, "bias", 0.0f);
    }
    if (!strcmp(op, "Gelu")) {
        const char *a = kiln_attr_string(node, "approximate", "none");
        KILN_FAIL_IF(strcmp(a, "none") && strcmp(a, "tanh"), KILN_ERR_INVALID_GRAPH,
                     "Gelu: approximate must be 'none' or 'tanh', got '%s'", a);
        if (!strcmp(a, "tanh")) p->impl = &gelu_tanh_impl;
    }
    KILN_FAIL_IF(!strcmp(op, "Celu") && p->alpha == 0, KILN_ERR_INVALID_GRAPH, "Celu: alpha must not be 0");
    return KILN_OK;
}

static kiln_status act_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    return ew_unary_prepare_with(node, params, act_setup);
}

/* PRelu: y = x < 0 ? slope * x : x, slope broadcast to x (unidirectionally in the spec; multidirectional here
 * gives the same result whenever the spec's condition holds). */
#define fprelu_EXPR (x < 0 ? x * w : x)
#define sprelu_EXPR (x < 0 ? (ew_t)((ew_u)x * (ew_u)w) : x)
#define uprelu_EXPR ((void)w, x) /* never negative */
EW_FLT_LIST(EW_DEF_SAME, fprelu)
EW_BIN_LOOP(sprelu_i32, int32_t, int32_t, int32_t, uint32_t, sprelu_EXPR)
EW_BIN_LOOP(sprelu_i64, int64_t, int64_t, int64_t, uint64_t, sprelu_EXPR)
EW_BIN_LOOP(uprelu_u32, uint32_t, uint32_t, uint32_t, uint32_t, uprelu_EXPR)
EW_BIN_LOOP(uprelu_u64, uint64_t, uint64_t, uint64_t, uint64_t, uprelu_EXPR)
static const ew_bin_impl prelu_impl = {
    EW_FLOATS | EW_BIT(KILN_INT32) | EW_BIT(KILN_INT64) | EW_BIT(KILN_UINT32) | EW_BIT(KILN_UINT64),
    0,
    {EW_FLT_LIST(EW_REF, fprelu)[KILN_INT32] = sprelu_i32, [KILN_INT64] = sprelu_i64, [KILN_UINT32] = uprelu_u32,
     [KILN_UINT64] = uprelu_u64}};

static kiln_status prelu_run(kiln_kctx *k) { return ew_binary_run_impl(k, &prelu_impl); }

#define ACT(op, since) {op, "", since, act_prepare, ew_params_release, ew_unary_run}

const kiln_op_def kiln_cpu_ops_activation[] = {
    ACT("Relu", 1), ACT("LeakyRelu", 1), ACT("Elu", 1), ACT("Selu", 1), ACT("Celu", 12), ACT("Sigmoid", 1),
    ACT("HardSigmoid", 1), ACT("HardSwish", 14), ACT("Tanh", 1), ACT("Softplus", 1), ACT("Softsign", 1),
    ACT("ThresholdedRelu", 10), ACT("Gelu", 20), ACT("Mish", 18), ACT("Swish", 24), ACT("Shrink", 9),
    {"PRelu", "", 1, NULL, NULL, prelu_run},
    {0},
};
