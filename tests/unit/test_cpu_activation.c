/* Activation kernels against the ONNX formulas evaluated here in double, with random attributes, on float, double,
 * float16 and bfloat16 (Relu and Shrink also on integers), and PRelu with broadcast slopes. */
#include "test_cpu_eltwise_util.h"

static trng rng = {4242};

typedef struct act_case {
    const char *op;
    const char *a1; /* attribute names (NULL: none) */
    const char *a2;
    double v1, v2; /* attribute values */
} act_case;

static double sigm(double x) {
    return 1 / (1 + exp(-x));
}
static double softplus(double x) {
    return log(exp(x) + 1);
}

/* The formulas as the ONNX operator docs write them. */
static double ref(const act_case *c, double x, const char *approx) {
    const char *op = c->op;
    double a = c->v1, b = c->v2;
    if (!strcmp(op, "Relu")) return x > 0 ? x : 0;
    if (!strcmp(op, "LeakyRelu")) return x >= 0 ? x : a * x;
    if (!strcmp(op, "Elu")) return x >= 0 ? x : a * (exp(x) - 1);
    if (!strcmp(op, "Selu")) return x > 0 ? b * x : b * (a * exp(x) - a); /* v1 alpha, v2 gamma */
    if (!strcmp(op, "Celu")) return fmax(0, x) + fmin(0, a * (exp(x / a) - 1));
    if (!strcmp(op, "Sigmoid")) return sigm(x);
    if (!strcmp(op, "HardSigmoid")) return fmax(0, fmin(1, a * x + b));
    if (!strcmp(op, "HardSwish")) return x * fmax(0, fmin(1, x / 6 + 0.5));
    if (!strcmp(op, "Tanh")) return tanh(x);
    if (!strcmp(op, "Softplus")) return softplus(x);
    if (!strcmp(op, "Softsign")) return x / (1 + fabs(x));
    if (!strcmp(op, "ThresholdedRelu")) return x > a ? x : 0;
    if (!strcmp(op, "Gelu")) {
        if (!strcmp(approx, "tanh")) return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        return 0.5 * x * (1 + erf(x / sqrt(2)));
    }
    if (!strcmp(op, "Mish")) return x * tanh(softplus(x));
    if (!strcmp(op, "Swish")) return x * sigm(a * x);
    if (!strcmp(op, "Shrink")) return x < -a ? x + b : x > a ? x - b : 0; /* v1 lambd, v2 bias */
    return NAN;
}

static const kiln_dtype floats[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16};

static void run_case(const act_case *c, kiln_dtype t, int use_attrs, const char *approx, int64_t n_elems) {
    int64_t dims[] = {n_elems};
    kiln_tensor x = tmake(t, 1, dims);
    tfill(&x, &rng, kiln_dtype_is_int(t) ? -50 : -6, kiln_dtype_is_int(t) ? 50 : 6);
    act_case eff = *c;
    if (!use_attrs) { /* the schema defaults */
        const char *op = c->op;
        eff.v1 = !strcmp(op, "LeakyRelu") ? 0.01f : !strcmp(op, "HardSigmoid") ? 0.2f : !strcmp(op, "Shrink") ? 0.5 : 1;
        eff.v2 = !strcmp(op, "HardSigmoid") ? 0.5 : 0;
        if (!strcmp(op, "Selu")) {
            eff.v1 = 1.67326319217681884765625;
            eff.v2 = 1.05070102214813232421875;
        }
    } else { /* attributes are floats: use what the kernel sees. (Through volatile: GCC 12.2's IPA-CP drops the
              * float rounding of the constant here at -O3.) */
        volatile float f1 = (float)c->v1, f2 = (float)c->v2;
        eff.v1 = f1;
        eff.v2 = f2;
    }
    oneop o;
    oneop_begin(&o, c->op, "", 24, 1, 1);
    if (use_attrs && c->a1) oneop_attr_float(&o, c->a1, (float)c->v1);
    if (use_attrs && c->a2) oneop_attr_float(&o, c->a2, (float)c->v2);
    if (approx) oneop_attr_string(&o, "approximate", approx);
    kiln_status st = oneop_run(&o, &x);
    CHECK(st == KILN_OK);
    if (st != KILN_OK) {
        fprintf(stderr, "  %s %s: %s\n", c->op, kiln_dtype_name(t), kiln_error_text());
    } else {
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(y->dtype == t && y->rank == 1 && y->dims[0] == n_elems);
        int64_t bad = 0;
        for (int64_t i = 0; i < n_elems; i++) {
            double xv = tget(&x, i), want = ref(&eff, xv, approx ? approx : "none"), got = tget(y, i);
            if (kiln_dtype_is_int(t))
                want = trunc(want);
            else
                want = t_round(t, want);
            double atol = t == KILN_FLOAT ? 2e-6 : t == KILN_DOUBLE ? 1e-12 : t == KILN_FLOAT16 ? 2e-3 : 1.6e-2;
            if (kiln_dtype_is_int(t)) atol = 0;
            if (!t_close(t, got, want, atol)) {
                if (bad++ < 3)
                    fprintf(stderr, "  %s %s attrs %d x %.17g: got %.17g want %.17g\n", c->op, kiln_dtype_name(t),
                            use_attrs, xv, got, want);
            }
        }
        CHECK(bad == 0);
    }
    oneop_end(&o);
    kiln_tensor_release(&x);
}

static void test_unary_activations(void) {
    const act_case cases[] = {
        {"Relu", NULL, NULL, 0, 0},
        {"LeakyRelu", "alpha", NULL, 0.37, 0},
        {"Elu", "alpha", NULL, 0.8, 0},
        {"Selu", "alpha", "gamma", 1.3, 0.9},
        {"Celu", "alpha", NULL, 1.7, 0},
        {"Sigmoid", NULL, NULL, 0, 0},
        {"HardSigmoid", "alpha", "beta", 0.3, 0.4},
        {"HardSwish", NULL, NULL, 0, 0},
        {"Tanh", NULL, NULL, 0, 0},
        {"Softplus", NULL, NULL, 0, 0},
        {"Softsign", NULL, NULL, 0, 0},
        {"ThresholdedRelu", "alpha", NULL, 0.6, 0},
        {"Gelu", NULL, NULL, 0, 0},
        {"Mish", NULL, NULL, 0, 0},
        {"Swish", "alpha", NULL, 1.25, 0},
        {"Shrink", "lambd", "bias", 1.5, 0.25},
    };
    const int64_t sizes[] = {0, 1, 37, 70001};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int f = 0; f < 4; f++) {
            for (int s = 0; s < 4; s++) run_case(&cases[c], floats[f], 1, NULL, sizes[s]);
            run_case(&cases[c], floats[f], 0, NULL, 100);
        }
    }
    for (int f = 0; f < 4; f++) run_case(&cases[12], floats[f], 0, "tanh", 1000);
    const kiln_dtype relu_ints[] = {KILN_INT8, KILN_INT16, KILN_INT32, KILN_INT64};
    for (int i = 0; i < 4; i++) run_case(&cases[0], relu_ints[i], 0, NULL, 1000);
    const act_case shrink_int = {"Shrink", "lambd", "bias", 3, 2};
    const kiln_dtype shrink_ints[] = {KILN_INT8, KILN_INT32, KILN_INT64, KILN_UINT8, KILN_UINT16};
    for (int i = 0; i < 5; i++) run_case(&shrink_int, shrink_ints[i], 1, NULL, 1000);
    /* unsupported dtype and a bad attribute fail cleanly */
    int64_t d1[] = {1};
    uint8_t u = 1;
    kiln_tensor xu = oneop_tensor(KILN_UINT8, 1, d1, &u);
    oneop o;
    oneop_begin(&o, "Sigmoid", "", 13, 1, 1);
    CHECK(oneop_run(&o, &xu) == KILN_ERR_UNSUPPORTED);
    oneop_end(&o);
    float fx = 1;
    kiln_tensor xf = oneop_tensor(KILN_FLOAT, 1, d1, &fx);
    oneop_begin(&o, "Gelu", "", 20, 1, 1);
    oneop_attr_string(&o, "approximate", "cubic");
    CHECK(oneop_run(&o, &xf) == KILN_ERR_INVALID_GRAPH);
    CHECK(strstr(kiln_error_text(), "cubic") != NULL);
    oneop_end(&o);
}

static void test_extremes(void) {
    /* Sigmoid/Softplus/Mish stay finite and saturate correctly far from 0 */
    float x[] = {-100.0f, 100.0f, -1000.0f, 1000.0f};
    int64_t d4[] = {4};
    kiln_tensor t = oneop_tensor(KILN_FLOAT, 1, d4, x);
    const char *ops[] = {"Sigmoid", "Softplus", "Mish"};
    for (int i = 0; i < 3; i++) {
        oneop o;
        oneop_begin(&o, ops[i], "", 22, 1, 1);
        CHECK(oneop_run(&o, &t) == KILN_OK);
        const float *r = oneop_out(&o, 0)->data;
        for (int k = 0; k < 4; k++) CHECK(isfinite(r[k]));
        if (i == 0) CHECK(r[0] >= 0 && r[0] < 1e-40 && r[1] == 1.0f);
        if (i == 1) CHECK(r[1] == 100.0f && r[3] == 1000.0f && r[2] == 0.0f);
        if (i == 2) CHECK(r[1] == 100.0f && fabsf(r[0]) < 1e-30f);
        oneop_end(&o);
    }
}

static void test_prelu(void) {
    const kiln_dtype types[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16,
                                KILN_INT32, KILN_INT64,  KILN_UINT32,  KILN_UINT64};
    const struct {
        int rank;
        int64_t d[3];
    } slopes[] = {{2, {3, 1}}, {1, {4}}, {1, {1}}, {0, {0}}, {3, {2, 3, 4}}};
    int64_t xd[] = {2, 3, 4};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        kiln_dtype t = types[ti];
        for (size_t s = 0; s < sizeof slopes / sizeof slopes[0]; s++) {
            kiln_tensor in[2] = {tmake(t, 3, xd), tmake(t, slopes[s].rank, slopes[s].d)};
            int uns = kiln_dtype_is_int(t) && !kiln_dtype_is_signed(t);
            tfill(&in[0], &rng, uns ? 0 : -20, 20);
            tfill(&in[1], &rng, uns ? 0 : -3, 3);
            oneop o;
            oneop_begin(&o, "PRelu", "", 16, 2, 1);
            CHECK(oneop_run(&o, in) == KILN_OK);
            const kiln_tensor *y = oneop_out(&o, 0);
            CHECK(y->dtype == t && y->rank == 3);
            int bad = 0;
            for (int64_t i = 0; i < 24; i++) {
                double xv = tget(&in[0], i), sv = tget(&in[1], bc_index(&in[1], 3, xd, i));
                double want = t_round(t, xv < 0 ? xv * sv : xv);
                if (!t_close(t, tget(y, i), want, 1e-6)) bad++;
            }
            CHECK(bad == 0);
            oneop_end(&o);
            kiln_tensor_release(&in[0]);
            kiln_tensor_release(&in[1]);
        }
    }
}

int main(void) {
    test_unary_activations();
    test_extremes();
    test_prelu();
    return CHECK_DONE();
}
