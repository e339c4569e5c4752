/* Softmax / LogSoftmax loops over one floating type, included by softmax.c once per type with:
 *   ST  the type (float or double), SS a name suffix, SEXP(x) exp in ST, SLOG(x) log in ST,
 *   SFAST 1 to run rows through the dispatched float kernels (kr_row_kernels; ST must be float);
 * and expects sm_job and SM_COLS (columns per task when the axis is not the last) to be defined.
 * Both shapes are numerically stable: they subtract the max along the axis before exponentiating. */

#define SM_CAT2(a, b) a##_##b
#define SM_CAT(a, b) SM_CAT2(a, b)
#define SM(name) SM_CAT(name, SS)

#define SM_LANES 8

/* One row of n contiguous values (the fast path: softmax over the last axis). */
static void SM(row)(const ST *restrict x, ST *restrict y, int64_t n, int log_mode) {
#if SFAST
    const kr_rowk *rk = kr_row_kernels();
    float m = rk->max(x, n);
    if (log_mode) {
        rk->sub(x, y, n, m + logf(rk->exp_sum(x, NULL, n, m)));
    } else {
        rk->scale(y, n, 1.0f / rk->exp_sum(x, y, n, m));
    }
#else
    ST mv[SM_LANES];
    for (int j = 0; j < SM_LANES; j++) mv[j] = x[0];
    int64_t i = 0;
    for (; i + SM_LANES <= n; i += SM_LANES)
        for (int j = 0; j < SM_LANES; j++) mv[j] = (x[i + j] > mv[j] || x[i + j] != x[i + j]) ? x[i + j] : mv[j];
    ST m = x[0];
    for (; i < n; i++) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
    for (int j = 0; j < SM_LANES; j++) m = (mv[j] > m || mv[j] != mv[j]) ? mv[j] : m;

    ST acc[SM_LANES] = {0};
    i = 0;
    if (log_mode) {
        for (; i + SM_LANES <= n; i += SM_LANES)
            for (int j = 0; j < SM_LANES; j++) acc[j] += SEXP(x[i + j] - m);
    } else {
        for (; i + SM_LANES <= n; i += SM_LANES)
            for (int j = 0; j < SM_LANES; j++) {
                ST e = SEXP(x[i + j] - m);
                y[i + j] = e;
                acc[j] += e;
            }
    }
    ST s = 0;
    for (; i < n; i++) {
        ST e = SEXP(x[i] - m);
        if (!log_mode) y[i] = e;
        s += e;
    }
    for (int j = 0; j < SM_LANES; j++) s += acc[j];
    if (log_mode) {
        ST ls = m + SLOG(s);
        for (i = 0; i < n; i++) y[i] = x[i] - ls;
    } else {
        ST inv = (ST)1 / s;
        for (i = 0; i < n; i++) y[i] *= inv;
    }
#endif
}

/* Columns [c0, c0 + w) of one (n, inner) block: the axis is strided, so work across columns. */
static void SM(cols)(const ST *restrict x, ST *restrict y, int64_t n, int64_t inner, int64_t w, int log_mode) {
    ST m[SM_COLS], s[SM_COLS];
    for (int64_t c = 0; c < w; c++) m[c] = x[c], s[c] = 0;
#if SFAST
    const kr_rowk *rk = kr_row_kernels();
    for (int64_t r = 1; r < n; r++) rk->accum(KR_MAX, m, x + r * inner, w, NULL);
    for (int64_t r = 0; r < n; r++) {
        if (log_mode) rk->accum(KR_EXPSUM, s, x + r * inner, w, m);
        else rk->exp_store_acc(x + r * inner, m, y + r * inner, s, w);
    }
#else
    for (int64_t r = 1; r < n; r++) {
        const ST *xr = x + r * inner;
        for (int64_t c = 0; c < w; c++) m[c] = (xr[c] > m[c] || xr[c] != xr[c]) ? xr[c] : m[c];
    }
    for (int64_t r = 0; r < n; r++) {
        const ST *xr = x + r * inner;
        ST *yr = y + r * inner;
        if (log_mode)
            for (int64_t c = 0; c < w; c++) s[c] += SEXP(xr[c] - m[c]);
        else
            for (int64_t c = 0; c < w; c++) {
                ST e = SEXP(xr[c] - m[c]);
                yr[c] = e;
                s[c] += e;
            }
    }
#endif
    if (log_mode) {
        for (int64_t c = 0; c < w; c++) s[c] = m[c] + SLOG(s[c]);
        for (int64_t r = 0; r < n; r++)
            for (int64_t c = 0; c < w; c++) y[r * inner + c] = x[r * inner + c] - s[c];
    } else {
        for (int64_t c = 0; c < w; c++) s[c] = (ST)1 / s[c];
        for (int64_t r = 0; r < n; r++)
            for (int64_t c = 0; c < w; c++) y[r * inner + c] *= s[c];
    }
}

static void SM(range)(void *ctx, int64_t b, int64_t e) {
    const sm_job *j = ctx;
    const ST *x = j->x;
    ST *y = j->y;
    if (j->inner == 1) {
        for (int64_t o = b; o < e; o++) SM(row)(x + o * j->n, y + o * j->n, j->n, j->log_mode);
        return;
    }
    int64_t nk = (j->inner + SM_COLS - 1) / SM_COLS;
    for (int64_t t = b; t < e; t++) {
        int64_t o = t / nk, c0 = (t % nk) * SM_COLS;
        int64_t w = j->inner - c0 < SM_COLS ? j->inner - c0 : SM_COLS;
        int64_t off = o * j->n * j->inner + c0;
        SM(cols)(x + off, y + off, j->n, j->inner, w, j->log_mode);
    }
}

#undef SM_LANES
#undef SM
#undef SM_CAT
#undef SM_CAT2
