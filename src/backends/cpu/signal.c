/* CPU kernels: signal processing (DFT, STFT, Hann/Hamming/Blackman windows, MelWeightMatrix; see registry.h).
 *
 * Transforms are direct O(n^2) sums with precomputed twiddles in double precision: exact enough for every length,
 * not only powers of two, and these ops sit in pre-processing, not in the hot path of the models kiln targets. */
#include <math.h>
#include <stdlib.h>

#include "backends/cpu/registry.h"
#include "core/dtype.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* out[k] = sum_j in[j] * exp(sign * 2 pi i j k / n), for k < n_out; in has n_in <= n complex entries (zero padded). */
static void dft_1d(const double *re, const double *im, int64_t n_in, int64_t n, int64_t n_out, int sign,
                   const double *cs, const double *sn, double *ore, double *oim) {
    for (int64_t kk = 0; kk < n_out; kk++) {
        double sr = 0, si = 0;
        for (int64_t j = 0; j < n_in && j < n; j++) {
            int64_t t = (j * kk) % n;
            double c = cs[t], s = sign * sn[t];
            sr += re[j] * c - im[j] * s;
            si += re[j] * s + im[j] * c;
        }
        ore[kk] = sr;
        oim[kk] = si;
    }
}

typedef struct dft_params {
    int64_t axis; /* opset 17: attribute */
    int inverse, onesided;
} dft_params;

static kiln_status dft_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    dft_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->axis = kiln_attr_int(n, "axis", n->opset >= 20 ? -2 : 1);
    p->inverse = (int)kiln_attr_int(n, "inverse", 0);
    p->onesided = (int)kiln_attr_int(n, "onesided", 0);
    *out = p;
    return KILN_OK;
}

static kiln_status dft_run(kiln_kctx *k) {
    const dft_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(x->dtype != KILN_FLOAT && x->dtype != KILN_DOUBLE && x->dtype != KILN_FLOAT16 &&
                 x->dtype != KILN_BFLOAT16, KILN_ERR_TYPE, "DFT input must be a float type");
    KILN_FAIL_IF(x->rank < 2, KILN_ERR_SHAPE, "DFT input needs rank >= 2, got %d", x->rank);
    int64_t C = x->dims[x->rank - 1];
    KILN_FAIL_IF(C != 1 && C != 2, KILN_ERR_SHAPE, "DFT input's last dim must be 1 (real) or 2 (complex), got %lld",
                 (long long)C);
    int64_t axis = p->axis;
    const kiln_tensor *at = kiln_kin(k, 2);
    if (k->node->opset >= 20 && at) axis = kiln_load_i64(at->dtype, at->data, 0);
    if (axis < 0) axis += x->rank;
    KILN_FAIL_IF(axis < 0 || axis >= x->rank - 1, KILN_ERR_INVALID_GRAPH, "DFT axis %lld is out of range", (long long)axis);
    int64_t L = x->dims[axis], n = L;
    const kiln_tensor *lt = kiln_kin(k, 1);
    if (lt) n = kiln_load_i64(lt->dtype, lt->data, 0);
    else if (p->inverse && p->onesided) n = 2 * (L - 1);
    KILN_FAIL_IF(n <= 0, KILN_ERR_RUNTIME, "dft_length %lld must be positive", (long long)n);
    int irfft = p->inverse && p->onesided;
    int64_t n_out = irfft ? n : (p->onesided ? n / 2 + 1 : n), C_out = irfft ? 1 : 2;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = (int)axis + 1; i < x->rank - 1; i++) inner *= x->dims[i];
    int64_t dims[KILN_MAX_DIMS];
    for (int i = 0; i < x->rank; i++) dims[i] = x->dims[i];
    dims[axis] = n_out;
    dims[x->rank - 1] = C_out;
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, dims, &y));
    double *buf = malloc(sizeof(double) * (size_t)(6 * n + 4));
    KILN_FAIL_IF(!buf, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    double *cs = buf, *sn = cs + n, *re = sn + n, *im = re + n, *ore = im + n, *oim = ore + n;
    for (int64_t t = 0; t < n; t++) cs[t] = cos(2 * M_PI * (double)t / (double)n), sn[t] = sin(2 * M_PI * (double)t / (double)n);
    int sign = p->inverse ? 1 : -1;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t m = irfft ? n / 2 + 1 : n; /* how much of the input takes part */
            for (int64_t j = 0; j < n; j++) re[j] = im[j] = 0;
            for (int64_t j = 0; j < L && j < m; j++) {
                int64_t base = ((o * L + j) * inner + i) * C;
                re[j] = kiln_load_f64(x->dtype, x->data, base);
                im[j] = C == 2 ? kiln_load_f64(x->dtype, x->data, base + 1) : 0;
            }
            if (irfft) { /* rebuild the Hermitian-symmetric full spectrum */
                im[0] = 0;
                if (n % 2 == 0 && n / 2 < n) im[n / 2] = 0;
                for (int64_t j = m; j < n; j++) re[j] = re[n - j], im[j] = -im[n - j];
            }
            dft_1d(re, im, n, n, n_out, sign, cs, sn, ore, oim);
            for (int64_t kk = 0; kk < n_out; kk++) {
                int64_t ob = ((o * n_out + kk) * inner + i) * C_out;
                double scale = p->inverse ? 1.0 / (double)n : 1.0;
                kiln_store_f64(x->dtype, y->data, ob, ore[kk] * scale);
                if (C_out == 2) kiln_store_f64(x->dtype, y->data, ob + 1, oim[kk] * scale);
            }
        }
    free(buf);
    return KILN_OK;
}

static kiln_status stft_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    *out = (void *)(intptr_t)kiln_attr_int(n, "onesided", 1);
    return KILN_OK;
}

static kiln_status stft_run(kiln_kctx *k) {
    int onesided = (int)(intptr_t)k->params;
    const kiln_tensor *x, *st;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &st));
    const kiln_tensor *win = kiln_kin(k, 2), *fl = kiln_kin(k, 3);
    KILN_FAIL_IF(x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2), KILN_ERR_SHAPE,
                 "STFT signal must be [batch, length, 1 or 2]");
    int64_t B = x->dims[0], len = x->dims[1], C = x->dims[2];
    int64_t step = kiln_load_i64(st->dtype, st->data, 0);
    int64_t n = fl ? kiln_load_i64(fl->dtype, fl->data, 0) : (win ? win->dims[0] : 0);
    KILN_FAIL_IF(n <= 0 || step <= 0, KILN_ERR_INVALID_GRAPH, "STFT needs a positive frame_length (or window) and "
                 "frame_step");
    KILN_FAIL_IF(win && (win->rank != 1 || win->dims[0] != n), KILN_ERR_SHAPE, "STFT window length differs from "
                 "frame_length %lld", (long long)n);
    KILN_FAIL_IF(n > len, KILN_ERR_SHAPE, "STFT frame_length %lld exceeds the signal length %lld", (long long)n,
                 (long long)len);
    int64_t frames = 1 + (len - n) / step, bins = onesided ? n / 2 + 1 : n;
    int64_t dims[4] = {B, frames, bins, 2};
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, 4, dims, &y));
    double *buf = malloc(sizeof(double) * (size_t)(6 * n + 4));
    KILN_FAIL_IF(!buf, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    double *cs = buf, *sn = cs + n, *re = sn + n, *im = re + n, *ore = im + n, *oim = ore + n;
    for (int64_t t = 0; t < n; t++) cs[t] = cos(2 * M_PI * (double)t / (double)n), sn[t] = sin(2 * M_PI * (double)t / (double)n);
    for (int64_t b = 0; b < B; b++)
        for (int64_t f = 0; f < frames; f++) {
            for (int64_t j = 0; j < n; j++) {
                int64_t base = (b * len + f * step + j) * C;
                double w = win ? kiln_load_f64(win->dtype, win->data, j) : 1;
                re[j] = w * kiln_load_f64(x->dtype, x->data, base);
                im[j] = C == 2 ? w * kiln_load_f64(x->dtype, x->data, base + 1) : 0;
            }
            dft_1d(re, im, n, n, bins, -1, cs, sn, ore, oim);
            for (int64_t kk = 0; kk < bins; kk++) {
                int64_t ob = ((b * frames + f) * bins + kk) * 2;
                kiln_store_f64(x->dtype, y->data, ob, ore[kk]);
                kiln_store_f64(x->dtype, y->data, ob + 1, oim[kk]);
            }
        }
    free(buf);
    return KILN_OK;
}

typedef struct window_params {
    int kind; /* 0 hann, 1 hamming, 2 blackman */
    int periodic;
    kiln_dtype out;
} window_params;

static kiln_status window_prepare_kind(const kiln_node *n, int kind, void **out) {
    window_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->kind = kind;
    p->periodic = (int)kiln_attr_int(n, "periodic", 1);
    p->out = (kiln_dtype)kiln_attr_int(n, "output_datatype", KILN_FLOAT);
    *out = p;
    return KILN_OK;
}
static kiln_status hann_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return window_prepare_kind(n, 0, o); }
static kiln_status hamming_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return window_prepare_kind(n, 1, o); }
static kiln_status blackman_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return window_prepare_kind(n, 2, o); }

static kiln_status window_run(kiln_kctx *k) {
    const window_params *p = k->params;
    const kiln_tensor *sz;
    KILN_TRY(kiln_kin_req(k, 0, &sz));
    int64_t n = kiln_load_i64(sz->dtype, sz->data, 0);
    KILN_FAIL_IF(n < 0 || n > (int64_t)1 << 31, KILN_ERR_RUNTIME, "window size %lld is out of range", (long long)n);
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, p->out, 1, &n, &y));
    double N = p->periodic ? (double)n : (double)(n - 1);
    for (int64_t i = 0; i < n; i++) {
        double a = N > 0 ? 2 * M_PI * (double)i / N : 0, v;
        if (p->kind == 0) v = 0.5 - 0.5 * cos(a);
        else if (p->kind == 1) v = 25.0 / 46.0 - (1 - 25.0 / 46.0) * cos(a);
        else v = 0.42 - 0.5 * cos(a) + 0.08 * cos(2 * a);
        kiln_store_f64(p->out, y->data, i, v);
    }
    return KILN_OK;
}

static kiln_status mel_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    *out = (void *)(intptr_t)kiln_attr_int(n, "output_datatype", KILN_FLOAT);
    return KILN_OK;
}

static kiln_status mel_run(kiln_kctx *k) {
    kiln_dtype odt = (kiln_dtype)(intptr_t)k->params;
    const kiln_tensor *t[5];
    for (int i = 0; i < 5; i++) KILN_TRY(kiln_kin_req(k, i, &t[i]));
    int64_t bins = kiln_load_i64(t[0]->dtype, t[0]->data, 0), dft = kiln_load_i64(t[1]->dtype, t[1]->data, 0);
    int64_t rate = kiln_load_i64(t[2]->dtype, t[2]->data, 0);
    double lo = kiln_load_f64(t[3]->dtype, t[3]->data, 0), hi = kiln_load_f64(t[4]->dtype, t[4]->data, 0);
    KILN_FAIL_IF(bins <= 0 || dft <= 0 || rate <= 0 || bins > 1 << 20 || dft > 1 << 24, KILN_ERR_RUNTIME,
                 "MelWeightMatrix arguments out of range");
    int64_t spec = dft / 2 + 1;
    int64_t dims[2] = {spec, bins};
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, odt, 2, dims, &y));
    int64_t *fb = malloc(sizeof(int64_t) * (size_t)(bins + 2));
    double *w = calloc((size_t)(spec * bins), sizeof(double));
    if (!fb || !w) {
        free(fb), free(w);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    double lm = 2595 * log1p(lo / 700) / log(10), hm = 2595 * log1p(hi / 700) / log(10);
    double step = (hm - lm) / (double)(bins + 2);
    for (int64_t i = 0; i < bins + 2; i++) {
        double hz = 700 * expm1(((double)i * step + lm) / 2595 * log(10));
        fb[i] = (int64_t)floor((double)(dft + 1) * hz / (double)rate);
    }
    kiln_status st = KILN_OK;
    for (int64_t i = 0; i < bins && st == KILN_OK; i++) {
        int64_t l = fb[i], c = fb[i + 1], h = fb[i + 2];
        if (l < 0 || h >= spec + 1 || c >= spec || c < 0) {
            st = kiln_error(KILN_ERR_RUNTIME, "mel band %lld falls outside the spectrum", (long long)i);
            break;
        }
        if (c - l == 0) w[c * bins + i] = 1;
        else for (int64_t j = l; j <= c; j++) w[j * bins + i] = (double)(j - l) / (double)(c - l);
        if (h - c > 0)
            for (int64_t j = c; j < h && j < spec; j++) w[j * bins + i] = (double)(h - j) / (double)(h - c);
    }
    for (int64_t i = 0; i < spec * bins && st == KILN_OK; i++) kiln_store_f64(odt, y->data, i, w[i]);
    free(fb), free(w);
    return st;
}

const kiln_op_def kiln_cpu_ops_signal[] = {
    {"DFT", "", 17, dft_prepare, free, dft_run},
    {"STFT", "", 17, stft_prepare, NULL, stft_run},
    {"HannWindow", "", 17, hann_prepare, free, window_run},
    {"HammingWindow", "", 17, hamming_prepare, free, window_run},
    {"BlackmanWindow", "", 17, blackman_prepare, free, window_run},
    {"MelWeightMatrix", "", 17, mel_prepare, NULL, mel_run},
    {0},
};
