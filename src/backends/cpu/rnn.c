/* CPU kernels: recurrent layers RNN, GRU, LSTM (see registry.h).
 *
 * One driver walks directions, batch entries and time steps; the cell kind decides the gate math. Reference
 * precision: inputs are widened to double. Recurrent models are small per step; the time loop is inherently
 * sequential, and batch entries are independent, which is where a faster version would parallelize. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backends/cpu/registry.h"
#include "core/dtype.h"

typedef enum cell_kind { CELL_RNN = 0, CELL_GRU = 1, CELL_LSTM = 2 } cell_kind;

typedef enum act_kind {
    ACT_SIGMOID, ACT_TANH, ACT_RELU, ACT_AFFINE, ACT_LEAKY_RELU, ACT_THRESHOLDED_RELU, ACT_SCALED_TANH,
    ACT_HARD_SIGMOID, ACT_ELU, ACT_SOFTSIGN, ACT_SOFTPLUS
} act_kind;

typedef struct act {
    act_kind kind;
    double alpha, beta;
} act;

#define MAX_ACTS 6

typedef struct rnn_params {
    cell_kind cell;
    int64_t hidden;
    int n_dirs, reverse_only;
    int layout;
    double clip; /* 0: none */
    int linear_before_reset, input_forget;
    act acts[MAX_ACTS]; /* per direction: RNN f; GRU f,g; LSTM f,g,h */
} rnn_params;

static const int acts_per_cell[] = {1, 2, 3};

static kiln_status parse_act(const char *name, act *a, const float *alphas, int n_alpha, int *ia, const float *betas,
                             int n_beta, int *ib) {
    static const struct { const char *name; act_kind kind; int n_params; double da, db; } table[] = {
        {"Sigmoid", ACT_SIGMOID, 0, 0, 0},           {"Tanh", ACT_TANH, 0, 0, 0},
        {"Relu", ACT_RELU, 0, 0, 0},                 {"Affine", ACT_AFFINE, 2, 1, 0},
        {"LeakyRelu", ACT_LEAKY_RELU, 1, 0.01, 0},   {"ThresholdedRelu", ACT_THRESHOLDED_RELU, 1, 1, 0},
        {"ScaledTanh", ACT_SCALED_TANH, 2, 1, 1},    {"HardSigmoid", ACT_HARD_SIGMOID, 2, 0.2, 0.5},
        {"Elu", ACT_ELU, 1, 1, 0},                   {"Softsign", ACT_SOFTSIGN, 0, 0, 0},
        {"Softplus", ACT_SOFTPLUS, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcasecmp(name, table[i].name) != 0) continue;
        a->kind = table[i].kind;
        a->alpha = table[i].da;
        a->beta = table[i].db;
        if (table[i].n_params >= 1 && *ia < n_alpha) a->alpha = alphas[(*ia)++];
        if (table[i].n_params >= 2 && *ib < n_beta) a->beta = betas[(*ib)++];
        return KILN_OK;
    }
    return kiln_error(KILN_ERR_UNSUPPORTED, "recurrent activation '%s' is not supported", name);
}

static double apply_act(const act *a, double x) {
    switch (a->kind) {
    case ACT_SIGMOID: return 1 / (1 + exp(-x));
    case ACT_TANH: return tanh(x);
    case ACT_RELU: return x > 0 ? x : 0;
    case ACT_AFFINE: return a->alpha * x + a->beta;
    case ACT_LEAKY_RELU: return x >= 0 ? x : a->alpha * x;
    case ACT_THRESHOLDED_RELU: return x > a->alpha ? x : 0;
    case ACT_SCALED_TANH: return a->alpha * tanh(a->beta * x);
    case ACT_HARD_SIGMOID: return fmax(0, fmin(1, a->alpha * x + a->beta));
    case ACT_ELU: return x >= 0 ? x : a->alpha * (exp(x) - 1);
    case ACT_SOFTSIGN: return x / (1 + fabs(x));
    case ACT_SOFTPLUS: return log1p(exp(x));
    }
    return x;
}

static kiln_status rnn_prepare_kind(const kiln_node *n, cell_kind cell, void **out) {
    rnn_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    p->cell = cell;
    p->hidden = kiln_attr_int(n, "hidden_size", 0);
    KILN_FAIL_IF(p->hidden <= 0, KILN_ERR_INVALID_GRAPH, "hidden_size attribute is required and must be positive");
    const char *dir = kiln_attr_string(n, "direction", "forward");
    if (!strcmp(dir, "forward")) p->n_dirs = 1;
    else if (!strcmp(dir, "reverse")) p->n_dirs = 1, p->reverse_only = 1;
    else if (!strcmp(dir, "bidirectional")) p->n_dirs = 2;
    else return kiln_error(KILN_ERR_INVALID_GRAPH, "direction '%s' is not forward, reverse or bidirectional", dir);
    p->layout = (int)kiln_attr_int(n, "layout", 0);
    p->clip = kiln_attr_float(n, "clip", 0);
    p->linear_before_reset = (int)kiln_attr_int(n, "linear_before_reset", 0);
    p->input_forget = (int)kiln_attr_int(n, "input_forget", 0);
    int per = acts_per_cell[cell];
    const kiln_attr *names = kiln_node_attr(n, "activations");
    int na = 0, nb = 0, ia = 0, ib = 0;
    const float *alphas = kiln_attr_floats(n, "activation_alpha", &na);
    const float *betas = kiln_attr_floats(n, "activation_beta", &nb);
    static const char *const defaults[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
    for (int d = 0; d < p->n_dirs; d++)
        for (int j = 0; j < per; j++) {
            const char *nm = defaults[cell][j];
            if (names && names->type == KILN_ATTR_STRINGS) {
                int idx = d * per + j;
                /* a single direction's list may be given for both directions */
                if (idx >= names->n) idx = j;
                KILN_FAIL_IF(idx >= names->n, KILN_ERR_INVALID_GRAPH, "activations lists %d entries, %d needed",
                             names->n, p->n_dirs * per);
                nm = names->strings[idx];
            }
            KILN_TRY(parse_act(nm, &p->acts[d * per + j], alphas, na, &ia, betas, nb, &ib));
        }
    return KILN_OK;
}

static kiln_status rnn_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    return rnn_prepare_kind(n, CELL_RNN, out);
}
static kiln_status gru_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    return rnn_prepare_kind(n, CELL_GRU, out);
}
static kiln_status lstm_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    return rnn_prepare_kind(n, CELL_LSTM, out);
}

static double *widen(const kiln_tensor *t) {
    if (!t) return NULL;
    int64_t n = kiln_tensor_numel(t);
    double *d = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!d) return NULL;
    for (int64_t i = 0; i < n; i++) d[i] = kiln_load_f64(t->dtype, t->data, i);
    return d;
}

static double clipv(double x, double c) { return c > 0 ? fmax(-c, fmin(c, x)) : x; }

/* dot(row of M [rows, cols], v) */
static double dotrow(const double *m, int64_t row, int64_t cols, const double *v) {
    double s = 0;
    for (int64_t i = 0; i < cols; i++) s += m[row * cols + i] * v[i];
    return s;
}

static kiln_status rnn_run(kiln_kctx *k) {
    const rnn_params *p = k->params;
    const kiln_tensor *X, *W, *R;
    KILN_TRY(kiln_kin_req(k, 0, &X));
    KILN_TRY(kiln_kin_req(k, 1, &W));
    KILN_TRY(kiln_kin_req(k, 2, &R));
    const kiln_tensor *Bt = kiln_kin(k, 3), *SL = kiln_kin(k, 4), *H0 = kiln_kin(k, 5);
    const kiln_tensor *C0 = p->cell == CELL_LSTM ? kiln_kin(k, 6) : NULL, *P = p->cell == CELL_LSTM ? kiln_kin(k, 7) : NULL;
    KILN_FAIL_IF(X->rank != 3, KILN_ERR_SHAPE, "X must be 3-D, got rank %d", X->rank);
    int64_t S = p->layout ? X->dims[1] : X->dims[0], N = p->layout ? X->dims[0] : X->dims[1], I = X->dims[2];
    int64_t Hd = p->hidden, G = acts_per_cell[p->cell] == 3 ? 4 : (p->cell == CELL_GRU ? 3 : 1);
    int D = p->n_dirs;
    KILN_FAIL_IF(W->rank != 3 || W->dims[0] != D || W->dims[1] != G * Hd || W->dims[2] != I, KILN_ERR_SHAPE,
                 "W must be [%d, %lld, %lld]", D, (long long)(G * Hd), (long long)I);
    KILN_FAIL_IF(R->rank != 3 || R->dims[0] != D || R->dims[1] != G * Hd || R->dims[2] != Hd, KILN_ERR_SHAPE,
                 "R must be [%d, %lld, %lld]", D, (long long)(G * Hd), (long long)Hd);
    KILN_FAIL_IF(Bt && kiln_tensor_numel(Bt) != D * 2 * G * Hd, KILN_ERR_SHAPE, "B must be [%d, %lld]", D,
                 (long long)(2 * G * Hd));
    KILN_FAIL_IF(SL && kiln_tensor_numel(SL) != N, KILN_ERR_SHAPE, "sequence_lens must have %lld entries", (long long)N);
    KILN_FAIL_IF(H0 && kiln_tensor_numel(H0) != D * N * Hd, KILN_ERR_SHAPE, "initial_h has the wrong size");
    KILN_FAIL_IF(C0 && kiln_tensor_numel(C0) != D * N * Hd, KILN_ERR_SHAPE, "initial_c has the wrong size");
    KILN_FAIL_IF(P && kiln_tensor_numel(P) != D * 3 * Hd, KILN_ERR_SHAPE, "P must be [%d, %lld]", D, (long long)(3 * Hd));
    double *x = widen(X), *w = widen(W), *r = widen(R), *b = widen(Bt), *h0 = widen(H0), *c0 = widen(C0), *pp = widen(P);
    int64_t ysz = S * D * N * Hd, hsz = D * N * Hd;
    double *y = calloc((size_t)(ysz + 1), sizeof(double)), *yh = calloc((size_t)(hsz + 1), sizeof(double));
    double *yc = calloc((size_t)(hsz + 1), sizeof(double));
    /* scratch: h [Hd] | c [Hd] | gates [4 Hd] | new h [Hd] */
    double *h = malloc(sizeof(double) * (size_t)(Hd + 1) * 8), *c = h ? h + Hd : NULL, *gate = h ? h + 2 * Hd : NULL;
    kiln_status st = KILN_OK;
    if (!x || !w || !r || (Bt && !b) || (H0 && !h0) || (C0 && !c0) || (P && !pp) || !y || !yh || !yc || !h) {
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int d = 0; d < D && st == KILN_OK; d++) {
        int rev = p->reverse_only || d == 1;
        const act *a = &p->acts[d * acts_per_cell[p->cell]];
        const double *wd = w + d * G * Hd * I, *rd = r + d * G * Hd * Hd;
        const double *wb = b ? b + d * 2 * G * Hd : NULL, *rb = b ? wb + G * Hd : NULL;
        const double *pd = pp ? pp + d * 3 * Hd : NULL;
        for (int64_t n = 0; n < N; n++) {
            int64_t len = SL ? kiln_load_i64(SL->dtype, SL->data, n) : S;
            if (len < 0 || len > S) {
                st = kiln_error(KILN_ERR_RUNTIME, "sequence_lens[%lld] = %lld is outside [0, %lld]", (long long)n,
                                (long long)len, (long long)S);
                break;
            }
            for (int64_t j = 0; j < Hd; j++) {
                h[j] = h0 ? h0[(d * N + n) * Hd + j] : 0;
                c[j] = c0 ? c0[(d * N + n) * Hd + j] : 0;
            }
            for (int64_t step = 0; step < len; step++) {
                int64_t t = rev ? len - 1 - step : step;
                const double *xt = x + (p->layout ? (n * S + t) * I : (t * N + n) * I);
                double *hn = gate + 4 * Hd;
                for (int64_t j = 0; j < Hd; j++) {
                    if (p->cell == CELL_RNN) {
                        double v = dotrow(wd, j, I, xt) + dotrow(rd, j, Hd, h) + (wb ? wb[j] + rb[j] : 0);
                        hn[j] = apply_act(&a[0], clipv(v, p->clip));
                    } else if (p->cell == CELL_GRU) {
                        double z = dotrow(wd, j, I, xt) + dotrow(rd, j, Hd, h) + (wb ? wb[j] + rb[j] : 0);
                        double rr = dotrow(wd, Hd + j, I, xt) + dotrow(rd, Hd + j, Hd, h) + (wb ? wb[Hd + j] + rb[Hd + j] : 0);
                        gate[j] = apply_act(&a[0], clipv(z, p->clip));
                        gate[Hd + j] = apply_act(&a[0], clipv(rr, p->clip));
                    } else {
                        for (int gi = 0; gi < 4; gi++) {
                            int64_t row = gi * Hd + j;
                            gate[row] = dotrow(wd, row, I, xt) + dotrow(rd, row, Hd, h) + (wb ? wb[row] + rb[row] : 0);
                        }
                    }
                }
                if (p->cell == CELL_GRU) {
                    for (int64_t j = 0; j < Hd; j++) {
                        double v = dotrow(wd, 2 * Hd + j, I, xt) + (wb ? wb[2 * Hd + j] : 0);
                        if (p->linear_before_reset) {
                            v += gate[Hd + j] * (dotrow(rd, 2 * Hd + j, Hd, h) + (rb ? rb[2 * Hd + j] : 0));
                        } else {
                            double s = 0;
                            for (int64_t q = 0; q < Hd; q++) s += rd[(2 * Hd + j) * Hd + q] * gate[Hd + q] * h[q];
                            v += s + (rb ? rb[2 * Hd + j] : 0);
                        }
                        double ht = apply_act(&a[1], clipv(v, p->clip));
                        hn[j] = (1 - gate[j]) * ht + gate[j] * h[j];
                    }
                } else if (p->cell == CELL_LSTM) {
                    /* gate rows: i, o, f, c; peepholes: i, o, f */
                    for (int64_t j = 0; j < Hd; j++) {
                        double iv = gate[j] + (pd ? pd[j] * c[j] : 0);
                        double it = apply_act(&a[0], clipv(iv, p->clip));
                        double fv = gate[2 * Hd + j] + (pd ? pd[2 * Hd + j] * c[j] : 0);
                        double ft = p->input_forget ? 1 - it : apply_act(&a[0], clipv(fv, p->clip));
                        double ct = apply_act(&a[1], clipv(gate[3 * Hd + j], p->clip));
                        double cn = ft * c[j] + it * ct;
                        double ov = gate[Hd + j] + (pd ? pd[Hd + j] * cn : 0);
                        double ot = apply_act(&a[0], clipv(ov, p->clip));
                        hn[j] = ot * apply_act(&a[2], cn);
                        c[j] = cn;
                    }
                }
                memcpy(h, hn, sizeof(double) * (size_t)Hd);
                for (int64_t j = 0; j < Hd; j++) {
                    int64_t yi = p->layout ? ((n * S + t) * D + d) * Hd + j : ((t * D + d) * N + n) * Hd + j;
                    y[yi] = h[j];
                }
            }
            for (int64_t j = 0; j < Hd; j++) {
                int64_t hi = p->layout ? (n * D + d) * Hd + j : (d * N + n) * Hd + j;
                yh[hi] = h[j];
                yc[hi] = c[j];
            }
        }
    }
    if (st == KILN_OK) {
        int64_t ydims[4], hdims[3];
        if (p->layout) {
            ydims[0] = N, ydims[1] = S, ydims[2] = D, ydims[3] = Hd;
            hdims[0] = N, hdims[1] = D, hdims[2] = Hd;
        } else {
            ydims[0] = S, ydims[1] = D, ydims[2] = N, ydims[3] = Hd;
            hdims[0] = D, hdims[1] = N, hdims[2] = Hd;
        }
        const double *src[3] = {y, yh, yc};
        for (int o = 0; o < k->n_out && o < 3 && st == KILN_OK; o++) {
            if (k->node->out[o] < 0) continue;
            kiln_tensor *t;
            st = kiln_kout(k, o, X->dtype, o == 0 ? 4 : 3, o == 0 ? ydims : hdims, &t);
            int64_t cnt = o == 0 ? ysz : hsz;
            for (int64_t i = 0; i < cnt && st == KILN_OK; i++) kiln_store_f64(X->dtype, t->data, i, src[o][i]);
        }
    }
done:
    free(x), free(w), free(r), free(b), free(h0), free(c0), free(pp), free(y), free(yh), free(yc), free(h);
    return st;
}

const kiln_op_def kiln_cpu_ops_rnn[] = {
    {"RNN", "", 7, rnn_prepare, free, rnn_run},
    {"GRU", "", 7, gru_prepare, free, rnn_run},
    {"LSTM", "", 7, lstm_prepare, free, rnn_run},
    {0},
};
