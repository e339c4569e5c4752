/* Layer API end to end: small networks built layer by layer, built into plans, run through an engine and context,
 * and compared with values computed here directly from the op definitions. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kiln.h"
#include "passes/fuse.h"
#include "runtime/op.h"

static char log_text[16384];
static void capture(void *user, kiln_severity sev, const char *msg) {
    (void)user;
    size_t k = strlen(log_text);
    if (sev <= KILN_SEV_INFO) snprintf(log_text + k, sizeof log_text - k, "%s\n", msg);
}
static const kiln_logger lg = {capture, NULL};

typedef struct harness {
    kiln_builder *b;
    kiln_network *n;
    kiln_blob *blob;
    kiln_runtime *rt;
    kiln_engine *e;
    kiln_context *c;
} harness;

static void begin(harness *h) {
    memset(h, 0, sizeof *h);
    kiln_builder_create(&lg, &h->b);
    kiln_network_create(h->b, &h->n);
    log_text[0] = 0;
}

/* Builds, loads and makes a context; 0 on failure (reported). */
static int load(harness *h) {
    kiln_status st = kiln_build_serialized(h->b, h->n, NULL, &h->blob);
    if (st != KILN_OK) {
        fprintf(stderr, "build: %s\n", kiln_last_error(h->b));
        return 0;
    }
    kiln_runtime_create(&lg, &h->rt);
    st = kiln_engine_deserialize(h->rt, kiln_blob_data(h->blob), kiln_blob_size(h->blob), &h->e);
    if (st == KILN_OK) st = kiln_context_create(h->e, &h->c);
    if (st != KILN_OK) fprintf(stderr, "load: %s\n", kiln_last_error(NULL));
    return st == KILN_OK;
}

static void end(harness *h) {
    kiln_context_destroy(h->c);
    kiln_engine_destroy(h->e);
    kiln_runtime_destroy(h->rt);
    kiln_blob_destroy(h->blob);
    kiln_network_destroy(h->n);
    kiln_builder_destroy(h->b);
}

static const float *output(harness *h, const char *name, int64_t numel) {
    kiln_value_kind kind;
    kiln_tensor_view tv;
    if (kiln_context_get_output(h->c, name, &kind, &tv) != KILN_OK || kind != KILN_KIND_TENSOR ||
        tv.dtype != KILN_FLOAT || tv.size_bytes != (size_t)numel * 4) {
        fprintf(stderr, "output '%s' missing or of the wrong size: %s\n", name, kiln_last_error(h->c));
        return NULL;
    }
    return tv.data;
}

static int close_all(const float *got, const double *want, int64_t n, double tol) {
    if (!got) return 0;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])))) {
            fprintf(stderr, "  element %lld: got %.7g, want %.7g\n", (long long)i, got[i], want[i]);
            return 0;
        }
    return 1;
}

typedef struct worker {
    kiln_engine *e;
    const float *x;
    size_t x_bytes;
    int64_t batch;
    const double *want;
    int ok;
} worker;

static void *run_worker(void *arg) {
    worker *w = arg;
    kiln_context *c = NULL;
    if (kiln_context_create(w->e, &c) != KILN_OK) return NULL;
    int64_t shape[] = {w->batch, 1, 5, 5};
    float out[2 * 3];
    kiln_context_set_input_shape(c, "x", 4, shape);
    kiln_context_set_tensor_address(c, "x", (void *)w->x, w->x_bytes);
    kiln_context_set_tensor_address(c, "probs", out, sizeof out);
    for (int it = 0; it < 20; it++) {
        memset(out, 0, sizeof out);
        if (kiln_context_execute(c) != KILN_OK) break;
        int same = 1;
        for (int i = 0; i < 6; i++) same &= fabs(out[i] - w->want[i]) <= 1e-5 * (1 + fabs(w->want[i]));
        w->ok += same;
    }
    kiln_context_destroy(c);
    return NULL;
}

/* conv(3x3, pad 1) -> relu -> maxpool(2x2, stride 2) -> global average pool -> reshape [0,-1] -> matmul -> add
 * bias -> softmax */
static void test_cnn(void) {
    harness h;
    begin(&h);
    enum { N = 2, C = 1, H = 5, W = 5, K = 2, O = 3 };
    float x[N * C * H * W], w[K * C * 3 * 3], bias[K], w2[K * O], b2[O];
    for (int i = 0; i < N * C * H * W; i++) x[i] = (float)((i * 37) % 11) / 5.0f - 1.0f;
    for (int i = 0; i < K * 9; i++) w[i] = (float)((i * 5) % 7) / 4.0f - 0.7f;
    bias[0] = 0.1f, bias[1] = -0.2f;
    for (int i = 0; i < K * O; i++) w2[i] = (float)i * 0.3f - 0.8f;
    b2[0] = 0.05f, b2[1] = -0.1f, b2[2] = 0.2f;

    int xi, wi, bi, t, w2i, b2i;
    int64_t xd[] = {-1, C, H, W}, wd[] = {K, C, 3, 3}, bd[] = {K}, w2d[] = {K, O}, b2d[] = {O};
    CHECK(kiln_network_add_input(h.n, "x", KILN_FLOAT, 4, xd, &xi) == KILN_OK);
    CHECK(kiln_network_add_constant(h.n, KILN_FLOAT, 4, wd, w, &wi) == KILN_OK);
    CHECK(kiln_network_add_constant(h.n, KILN_FLOAT, 1, bd, bias, &bi) == KILN_OK);
    CHECK(kiln_network_add_constant(h.n, KILN_FLOAT, 2, w2d, w2, &w2i) == KILN_OK);
    CHECK(kiln_network_add_constant(h.n, KILN_FLOAT, 1, b2d, b2, &b2i) == KILN_OK);
    kiln_conv_desc cd = {.n_spatial = 2, .out_channels = K, .kernel = {3, 3}, .pads_begin = {1, 1},
                         .pads_end = {1, 1}};
    CHECK(kiln_network_add_conv(h.n, xi, wi, bi, &cd, &t) == KILN_OK);
    CHECK(kiln_network_add_activation(h.n, KILN_ACT_RELU, t, 0, 0, &t) == KILN_OK);
    kiln_pool_desc mp = {.n_spatial = 2, .kernel = {2, 2}, .strides = {2, 2}};
    CHECK(kiln_network_add_pooling(h.n, KILN_POOL_MAX, t, &mp, &t) == KILN_OK);
    int pooled = t;
    kiln_pool_desc gp = {.global = 1};
    CHECK(kiln_network_add_pooling(h.n, KILN_POOL_AVERAGE, t, &gp, &t) == KILN_OK);
    int64_t rs[] = {0, -1};
    CHECK(kiln_network_add_reshape(h.n, t, 2, rs, &t) == KILN_OK);
    CHECK(kiln_network_add_matmul(h.n, t, w2i, &t) == KILN_OK);
    CHECK(kiln_network_add_elementwise(h.n, KILN_ELTWISE_ADD, t, b2i, &t) == KILN_OK);
    CHECK(kiln_network_add_softmax(h.n, t, -1, &t) == KILN_OK);
    CHECK(kiln_network_mark_output(h.n, t, "probs") == KILN_OK);
    CHECK(kiln_network_mark_output(h.n, pooled, "pooled") == KILN_OK);
    if (!load(&h)) {
        CHECK(0);
        end(&h);
        return;
    }
    /* output types were inferred through the layers */
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    CHECK(kiln_engine_io_info(h.e, "probs", NULL, NULL, NULL, &rank, dims) == KILN_OK && rank == 2 &&
          dims[0] == -1 && dims[1] == O);
    CHECK(kiln_engine_io_info(h.e, "pooled", NULL, NULL, NULL, &rank, dims) == KILN_OK && rank == 4 &&
          dims[1] == K && dims[2] == 2 && dims[3] == 2);
    /* fuse-gemm turns the matmul + bias add into one Gemm */
    CHECK(kiln_engine_layer_count(h.e) == (kiln_pass_enabled("fuse-gemm") ? 7 : 8));
    int64_t shape[] = {N, C, H, W};
    CHECK(kiln_context_set_input_shape(h.c, "x", 4, shape) == KILN_OK);
    CHECK(kiln_context_set_tensor_address(h.c, "x", x, sizeof x) == KILN_OK);
    CHECK(kiln_context_execute(h.c) == KILN_OK);

    /* reference */
    double conv[N][K][H][W], pool[N][K][2][2], feat[N][K], probs[N * O];
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    double s = bias[k];
                    for (int di = 0; di < 3; di++)
                        for (int dj = 0; dj < 3; dj++) {
                            int ii = i + di - 1, jj = j + dj - 1;
                            if (ii >= 0 && ii < H && jj >= 0 && jj < W) s += x[(n * H + ii) * W + jj] * w[k * 9 + di * 3 + dj];
                        }
                    conv[n][k][i][j] = s > 0 ? s : 0;
                }
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            feat[n][k] = 0;
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) {
                    double m = -INFINITY;
                    for (int di = 0; di < 2; di++)
                        for (int dj = 0; dj < 2; dj++) m = fmax(m, conv[n][k][2 * i + di][2 * j + dj]);
                    pool[n][k][i][j] = m;
                    feat[n][k] += m / 4;
                }
        }
    for (int n = 0; n < N; n++) {
        double z[O], mx = -INFINITY, sum = 0;
        for (int o = 0; o < O; o++) {
            z[o] = b2[o];
            for (int k = 0; k < K; k++) z[o] += feat[n][k] * w2[k * O + o];
            mx = fmax(mx, z[o]);
        }
        for (int o = 0; o < O; o++) sum += exp(z[o] - mx);
        for (int o = 0; o < O; o++) probs[n * O + o] = exp(z[o] - mx) / sum;
    }
    CHECK(close_all(output(&h, "probs", N * O), probs, N * O, 1e-5));
    CHECK(close_all(output(&h, "pooled", N * K * 4), &pool[0][0][0][0], N * K * 4, 1e-5));

    /* building the same network again gives the same bytes */
    kiln_blob *again = NULL;
    CHECK(kiln_build_serialized(h.b, h.n, NULL, &again) == KILN_OK);
    CHECK(again && kiln_blob_size(again) == kiln_blob_size(h.blob) &&
          memcmp(kiln_blob_data(again), kiln_blob_data(h.blob), kiln_blob_size(h.blob)) == 0);
    kiln_blob_destroy(again);

    /* contexts on several threads share the engine; each gets the single-threaded answer */
    enum { T = 4, ITERS = 20 };
    worker ws[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        ws[i] = (worker){h.e, x, sizeof x, N, probs, 0};
        CHECK(pthread_create(&th[i], NULL, run_worker, &ws[i]) == 0);
    }
    int good = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        good += ws[i].ok == ITERS;
    }
    CHECK(good == T);
    end(&h);
}

static double ref_act(kiln_activation a, double x, double alpha, double beta) {
    switch (a) {
    case KILN_ACT_RELU: return x > 0 ? x : 0;
    case KILN_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case KILN_ACT_TANH: return tanh(x);
    case KILN_ACT_LEAKY_RELU: return x >= 0 ? x : alpha * x;
    case KILN_ACT_ELU: return x >= 0 ? x : alpha * (exp(x) - 1);
    case KILN_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case KILN_ACT_HARD_SIGMOID: return fmax(0, fmin(1, alpha * x + beta));
    case KILN_ACT_HARD_SWISH: return x * fmax(0, fmin(1, x / 6 + 0.5));
    case KILN_ACT_SOFTPLUS: return log(1 + exp(x));
    case KILN_ACT_CLIP: return fmin(beta, fmax(alpha, x));
    default: return NAN;
    }
}

static double ref_eltwise(kiln_eltwise_op op, double a, double b) {
    switch (op) {
    case KILN_ELTWISE_ADD: return a + b;
    case KILN_ELTWISE_SUB: return a - b;
    case KILN_ELTWISE_MUL: return a * b;
    case KILN_ELTWISE_DIV: return a / b;
    case KILN_ELTWISE_MAX: return fmax(a, b);
    case KILN_ELTWISE_MIN: return fmin(a, b);
    case KILN_ELTWISE_POW: return pow(a, b);
    default: return NAN;
    }
}

static void test_activations_and_eltwise(void) {
    harness h;
    begin(&h);
    enum { L = 7 };
    float x[L] = {-2.0f, -0.5f, 0.0f, 0.3f, 1.0f, 2.5f, 4.0f};
    float y[L] = {1.5f, 0.25f, 2.0f, 3.0f, 0.5f, 1.0f, 2.0f}; /* positive: Div and Pow are defined */
    const float alpha[KILN_ACTIVATION_COUNT] = {0, 0, 0, 0.1f, 0.7f, 0, 0.25f, 0, 0, -0.4f};
    const float beta[KILN_ACTIVATION_COUNT] = {0, 0, 0, 0, 0, 0, 0.4f, 0, 0, 1.2f};
    int xi, yi, t;
    int64_t d[] = {L};
    CHECK(kiln_network_add_input(h.n, "x", KILN_FLOAT, 1, d, &xi) == KILN_OK);
    CHECK(kiln_network_add_constant(h.n, KILN_FLOAT, 1, d, y, &yi) == KILN_OK);
    char name[32];
    for (int a = 0; a < KILN_ACTIVATION_COUNT; a++) {
        CHECK(kiln_network_add_activation(h.n, (kiln_activation)a, xi, alpha[a], beta[a], &t) == KILN_OK);
        snprintf(name, sizeof name, "act%d", a);
        CHECK(kiln_network_mark_output(h.n, t, name) == KILN_OK);
    }
    for (int op = 0; op < KILN_ELTWISE_OP_COUNT; op++) {
        /* Pow of negative bases is NaN for fractional exponents: use |x| + 0.5 there */
        int base = xi;
        if (op == KILN_ELTWISE_POW) {
            CHECK(kiln_network_add_elementwise(h.n, KILN_ELTWISE_MAX, xi, yi, &base) == KILN_OK);
        }
        CHECK(kiln_network_add_elementwise(h.n, (kiln_eltwise_op)op, base, yi, &t) == KILN_OK);
        snprintf(name, sizeof name, "elt%d", op);
        CHECK(kiln_network_mark_output(h.n, t, name) == KILN_OK);
    }
    if (!load(&h)) {
        CHECK(0);
        end(&h);
        return;
    }
    CHECK(kiln_context_set_tensor_address(h.c, "x", x, sizeof x) == KILN_OK); /* static shape: no shape call */
    CHECK(kiln_context_execute(h.c) == KILN_OK);
    for (int a = 0; a < KILN_ACTIVATION_COUNT; a++) {
        double want[L];
        for (int i = 0; i < L; i++) want[i] = ref_act((kiln_activation)a, x[i], alpha[a], beta[a]);
        snprintf(name, sizeof name, "act%d", a);
        int ok = close_all(output(&h, name, L), want, L, 1e-5);
        if (!ok) fprintf(stderr, "activation %d differs\n", a);
        CHECK(ok);
    }
    for (int op = 0; op < KILN_ELTWISE_OP_COUNT; op++) {
        double want[L];
        for (int i = 0; i < L; i++) {
            double base = op == KILN_ELTWISE_POW ? fmax(x[i], y[i]) : x[i];
            want[i] = ref_eltwise((kiln_eltwise_op)op, base, y[i]);
        }
        snprintf(name, sizeof name, "elt%d", op);
        int ok = close_all(output(&h, name, L), want, L, 1e-5);
        if (!ok) fprintf(stderr, "eltwise op %d differs\n", op);
        CHECK(ok);
    }
    end(&h);
}

/* concat + reshape + average pooling with padding; constant subexpressions fold at build time. */
static void test_concat_reshape_fold(void) {
    harness h;
    begin(&h);
    float a[6] = {1, 2, 3, 4, 5, 6}, c1[2] = {10, 20}, c2[2] = {0.5f, 0.25f};
    int ai, c1i, c2i, s, cat, r, p;
    int64_t ad[] = {2, 3}, cd[] = {2, 1};
    CHECK(kiln_network_add_input(h.n, "a", KILN_FLOAT, 2, ad, &ai) == KILN_OK);
    CHECK(kiln_network_add_constant(h.n, KILN_FLOAT, 2, cd, c1, &c1i) == KILN_OK);
    CHECK(kiln_network_add_constant(h.n, KILN_FLOAT, 2, cd, c2, &c2i) == KILN_OK);
    CHECK(kiln_network_add_elementwise(h.n, KILN_ELTWISE_MUL, c1i, c2i, &s) == KILN_OK); /* constant: folds */
    int ins[2] = {ai, s};
    CHECK(kiln_network_add_concat(h.n, ins, 2, 1, &cat) == KILN_OK); /* [[1,2,3,5],[4,5,6,5]] */
    int64_t rd[] = {1, 1, 2, -1};
    CHECK(kiln_network_add_reshape(h.n, cat, 4, rd, &r) == KILN_OK); /* [1,1,2,4] */
    kiln_pool_desc pd = {.n_spatial = 2, .kernel = {2, 2}, .strides = {1, 2}, .pads_begin = {0, 1},
                         .pads_end = {0, 1}, .count_include_pad = 1};
    CHECK(kiln_network_add_pooling(h.n, KILN_POOL_AVERAGE, r, &pd, &p) == KILN_OK); /* [1,1,1,3] */
    CHECK(kiln_network_mark_output(h.n, cat, "cat") == KILN_OK);
    CHECK(kiln_network_mark_output(h.n, p, "pool") == KILN_OK);
    int nodes;
    CHECK(kiln_network_node_count(h.n, &nodes) == KILN_OK && nodes == 4);
    if (!load(&h)) {
        CHECK(0);
        end(&h);
        return;
    }
    CHECK(strstr(log_text, "fold-constants: folded 1 node") != NULL);
    CHECK(strstr(log_text, "dce: removed 0 nodes and 2 initializers") != NULL); /* c1, c2 */
    CHECK(kiln_engine_layer_count(h.e) == 3);
    CHECK(kiln_network_node_count(h.n, &nodes) == KILN_OK && nodes == 4); /* the network itself is unchanged */
    CHECK(kiln_context_set_tensor_address(h.c, "a", a, sizeof a) == KILN_OK);
    CHECK(kiln_context_execute(h.c) == KILN_OK);
    const double cat_want[8] = {1, 2, 3, 5, 4, 5, 6, 5};
    CHECK(close_all(output(&h, "cat", 8), cat_want, 8, 0));
    /* windows over cols [-1,0], [1,2], [3,4] of the padded 2x4 grid, divided by 4 (pads counted) */
    const double pool_want[3] = {(1 + 4) / 4.0, (2 + 3 + 5 + 6) / 4.0, (5 + 5) / 4.0};
    CHECK(close_all(output(&h, "pool", 3), pool_want, 3, 1e-6));
    end(&h);
}

int main(void) {
    const char *need[] = {"Conv", "Relu", "MaxPool", "GlobalAveragePool", "Reshape", "MatMul", "Add", "Softmax",
                          "Concat", "AveragePool", "Erf", "Clip", "HardSwish", "Softplus", "Pow"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!kiln_cpu_find_op(need[i], "", 17)) {
            fprintf(stderr, "kernel %s missing\n", need[i]);
            CHECK(0);
        }
    test_cnn();
    test_activations_and_eltwise();
    test_concat_reshape_fold();
    return CHECK_DONE();
}
