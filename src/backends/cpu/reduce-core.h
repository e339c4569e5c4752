/* Reduction loops over one compute type, included by reduce.c once per type with:
 *   RT  the compute type (float, double, int64_t, uint64_t)
 *   RS  a name suffix
 *   RK  0 for floating types, 1 for int64_t, 2 for uint64_t
 *   REXP(x) exp in RT (floating types only)
 *   RFAST 1 to run the contiguous loops through the dispatched float kernels (kr_row_kernels; RT float)
 * Integer add/multiply go through uint64_t so overflow wraps (as numpy's does) instead of being undefined. */

#define RC_CAT2(a, b) a##_##b
#define RC_CAT(a, b) RC_CAT2(a, b)
#define RC(name) RC_CAT(name, RS)

#if RK == 0
#define R_ADD(a, v) ((a) + (v))
#define R_MUL(a, v) ((a) * (v))
#define R_ABS(v) ((v) < 0 ? -(v) : (v))
#define R_MAX(a, v) (((v) > (a) || (v) != (v)) ? (v) : (a))
#define R_MIN(a, v) (((v) < (a) || (v) != (v)) ? (v) : (a))
#define R_EXP(v, s) REXP((v) - (s))
#else
#define R_ADD(a, v) ((RT)((uint64_t)(a) + (uint64_t)(v)))
#define R_MUL(a, v) ((RT)((uint64_t)(a) * (uint64_t)(v)))
#if RK == 1
#define R_ABS(v) ((RT)((v) < 0 ? (uint64_t)0 - (uint64_t)(v) : (uint64_t)(v)))
#else
#define R_ABS(v) (v)
#endif
#define R_MAX(a, v) ((v) > (a) ? (v) : (a))
#define R_MIN(a, v) ((v) < (a) ? (v) : (a))
#define R_EXP(v, s) (v)
#endif
#define R_SQ(v) R_MUL(v, v)

static RT RC(identity)(kr_kind kind) {
    switch (kind) {
    case KR_PROD: return (RT)1;
#if RK == 0
    case KR_MAX: return (RT)-INFINITY;
    case KR_MIN: return (RT)INFINITY;
#elif RK == 1
    case KR_MAX: return INT64_MIN;
    case KR_MIN: return INT64_MAX;
#else
    case KR_MAX: return 0;
    case KR_MIN: return UINT64_MAX;
#endif
    default: return (RT)0;
    }
}

/* Combines two partial results of the same kind. */
static RT RC(merge)(kr_kind kind, RT a, RT b) {
    switch (kind) {
    case KR_PROD: return R_MUL(a, b);
    case KR_MAX: return R_MAX(a, b);
    case KR_MIN: return R_MIN(a, b);
    default: return R_ADD(a, b);
    }
}

#define R_LANES 8
/* One loop per kind so each is a plain vectorizable loop with R_LANES independent accumulators. */
#define R_ROW_LOOP(COMB, MAP)                                                                                    \
    do {                                                                                                         \
        RT acc[R_LANES];                                                                                         \
        for (int j = 0; j < R_LANES; j++) acc[j] = init;                                                         \
        int64_t i = 0;                                                                                           \
        for (; i + R_LANES <= n; i += R_LANES)                                                                   \
            for (int j = 0; j < R_LANES; j++) {                                                                  \
                RT v = x[i + j];                                                                                 \
                acc[j] = COMB(acc[j], MAP);                                                                      \
            }                                                                                                    \
        for (; i < n; i++) {                                                                                     \
            RT v = x[i];                                                                                         \
            r = COMB(r, MAP);                                                                                    \
        }                                                                                                        \
        for (int j = 0; j < R_LANES; j++) r = COMB(r, acc[j]);                                                   \
    } while (0)

/* Reduces n contiguous elements (s: the shift for KR_EXPSUM). */
static RT RC(row)(kr_kind kind, const RT *x, int64_t n, RT s) {
#if RFAST
    return kr_row_kernels()->reduce(kind, x, n, s);
#endif
    const RT init = RC(identity)(kind);
    RT r = init;
    (void)s;
    switch (kind) {
    case KR_SUM: R_ROW_LOOP(R_ADD, v); break;
    case KR_ASUM: R_ROW_LOOP(R_ADD, R_ABS(v)); break;
    case KR_SQSUM: R_ROW_LOOP(R_ADD, R_SQ(v)); break;
    case KR_EXPSUM: R_ROW_LOOP(R_ADD, R_EXP(v, s)); break;
    case KR_PROD: R_ROW_LOOP(R_MUL, v); break;
    case KR_MAX: R_ROW_LOOP(R_MAX, v); break;
    case KR_MIN: R_ROW_LOOP(R_MIN, v); break;
    }
    return r;
}

#define R_VEC_LOOP(COMB, MAP)                                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                                            \
        RT v = x[i];                                                                                             \
        acc[i] = COMB(acc[i], MAP);                                                                              \
    }

/* acc[i] = combine(acc[i], map(x[i])) for n contiguous elements (s: per-element shifts for KR_EXPSUM). */
static void RC(vec)(kr_kind kind, RT *restrict acc, const RT *restrict x, int64_t n, const RT *restrict s) {
#if RFAST
    kr_row_kernels()->accum(kind, acc, x, n, s);
    return;
#endif
    (void)s;
    switch (kind) {
    case KR_SUM: R_VEC_LOOP(R_ADD, v); break;
    case KR_ASUM: R_VEC_LOOP(R_ADD, R_ABS(v)); break;
    case KR_SQSUM: R_VEC_LOOP(R_ADD, R_SQ(v)); break;
    case KR_EXPSUM: R_VEC_LOOP(R_ADD, R_EXP(v, s[i])); break;
    case KR_PROD: R_VEC_LOOP(R_MUL, v); break;
    case KR_MAX: R_VEC_LOOP(R_MAX, v); break;
    case KR_MIN: R_VEC_LOOP(R_MIN, v); break;
    }
}

/* acc = combine over the nr rows x + roff[r] (vector mode's inner loop). */
static void RC(vec_rows)(kr_kind kind, RT *acc, const RT *x, const int64_t *roff, int64_t nr, int64_t n,
                         const RT *s) {
#if RFAST
    kr_row_kernels()->accum_rows(kind, acc, x, roff, nr, n, s);
#else
    for (int64_t r = 0; r < nr; r++) RC(vec)(kind, acc, x + roff[r], n, s);
#endif
}

typedef struct RC(rjob) {
    const rlayout *lay;
    kr_kind kind;
    const RT *x;
    RT *y;
    const RT *shift; /* KR_EXPSUM: one per output */
    int64_t kc, nk;  /* vector mode: columns per task, tasks per output row */
    RT *partial;     /* split mode: one per chunk */
    int64_t chunk;
} RC(rjob);

static void RC(row_range)(void *ctx, int64_t b, int64_t e) {
    const RC(rjob) *j = ctx;
    const rlayout *l = j->lay;
#if RFAST
    if (l->n_red == 1) { /* no outer reduced dims: outputs are consecutive rows of `inner` elements */
        kr_row_kernels()->reduce_rows(j->kind, j->x + b * l->inner, l->inner, e - b, j->y + b,
                                      j->shift ? j->shift + b : NULL);
        return;
    }
#endif
    for (int64_t o = b; o < e; o++) {
        RT s = j->shift ? j->shift[o] : (RT)0;
        RT acc = RC(identity)(j->kind);
        for (int64_t r = 0; r < l->n_red; r++)
            acc = RC(merge)(j->kind, acc, RC(row)(j->kind, j->x + l->ooff[o] + l->roff[r], l->inner, s));
        j->y[o] = acc;
    }
}

static void RC(vec_range)(void *ctx, int64_t b, int64_t e) {
    const RC(rjob) *j = ctx;
    const rlayout *l = j->lay;
    const RT init = RC(identity)(j->kind);
    for (int64_t t = b; t < e; t++) {
        int64_t o = t / j->nk, c0 = (t % j->nk) * j->kc;
        int64_t n = l->inner - c0 < j->kc ? l->inner - c0 : j->kc;
        RT *acc = j->y + o * l->inner + c0;
        const RT *s = j->shift ? j->shift + o * l->inner + c0 : NULL;
        for (int64_t i = 0; i < n; i++) acc[i] = init;
        RC(vec_rows)(j->kind, acc, j->x + l->ooff[o] + c0, l->roff, l->n_red, n, s);
    }
}

/* Vector mode with few outputs: chunk c of the outer reduced positions accumulates into partial + c * n_y. */
static void RC(vsplit_range)(void *ctx, int64_t b, int64_t e) {
    const RC(rjob) *j = ctx;
    const rlayout *l = j->lay;
    const RT init = RC(identity)(j->kind);
    int64_t n_y = l->n_out * l->inner;
    for (int64_t c = b; c < e; c++) {
        int64_t r0 = c * j->chunk, r1 = r0 + j->chunk < l->n_red ? r0 + j->chunk : l->n_red;
        for (int64_t o = 0; o < l->n_out; o++) {
            RT *acc = j->partial + c * n_y + o * l->inner;
            const RT *s = j->shift ? j->shift + o * l->inner : NULL;
            for (int64_t i = 0; i < l->inner; i++) acc[i] = init;
            RC(vec_rows)(j->kind, acc, j->x + l->ooff[o], l->roff + r0, r1 - r0, l->inner, s);
        }
    }
}

static void RC(split_range)(void *ctx, int64_t b, int64_t e) {
    const RC(rjob) *j = ctx;
    int64_t len = j->lay->inner;
    RT s = j->shift ? j->shift[0] : (RT)0;
    for (int64_t c = b; c < e; c++) {
        int64_t i0 = c * j->chunk, n = len - i0 < j->chunk ? len - i0 : j->chunk;
        j->partial[c] = RC(row)(j->kind, j->x + i0, n, s);
    }
}

/* y[o] = reduction of kind over the elements of x that output o gathers (see rlayout). */
static kiln_status RC(run_kind)(const rlayout *l, kr_kind kind, const RT *x, RT *y, const RT *shift) {
    RC(rjob) j = {l, kind, x, y, shift, 0, 0, NULL, 0};
    if (l->row_mode) {
        int64_t total = l->n_red * l->inner;
        if (l->n_out == 1 && l->n_red == 1 && total >= R_SPLIT_MIN) {
            int64_t nc = (total + R_SPLIT_MIN / 4 - 1) / (R_SPLIT_MIN / 4);
            if (nc > 256) nc = 256;
            j.chunk = (total + nc - 1) / nc;
            nc = (total + j.chunk - 1) / j.chunk;
            RT part[256];
            j.partial = part;
            kiln_parallel_for(nc, 1, RC(split_range), &j);
            RT acc = RC(identity)(kind);
            for (int64_t c = 0; c < nc; c++) acc = RC(merge)(kind, acc, part[c]);
            y[0] = acc;
            return KILN_OK;
        }
        int64_t grain = R_GRAIN / (total > 0 ? total : 1);
        kiln_parallel_for(l->n_out, grain > 0 ? grain : 1, RC(row_range), &j);
        return KILN_OK;
    }
    /* Vector mode. Few outputs but many reduced rows: split the rows among threads into partial results
     * (each streams whole rows), then merge them. */
    int64_t nt = kiln_num_threads(), n_y = l->n_out * l->inner;
    if (nt > 1 && l->n_out < 2 * nt && l->n_red >= 8 && n_y <= R_VSPLIT_MAX && l->n_red * n_y >= R_GRAIN) {
        int64_t nc = l->n_red / 4 < 4 * nt ? l->n_red / 4 : 4 * nt;
        j.chunk = (l->n_red + nc - 1) / nc;
        nc = (l->n_red + j.chunk - 1) / j.chunk;
        j.partial = malloc(sizeof(RT) * (size_t)(nc * n_y));
        if (j.partial) {
            kiln_parallel_for(nc, 1, RC(vsplit_range), &j);
            /* Partial results combine with the kind's plain (unmapped) combination. */
            kr_kind mk = kind == KR_PROD || kind == KR_MAX || kind == KR_MIN ? kind : KR_SUM;
            memcpy(y, j.partial, sizeof(RT) * (size_t)n_y);
            for (int64_t c = 1; c < nc; c++) RC(vec)(mk, y, j.partial + c * n_y, n_y, NULL);
            free(j.partial);
            return KILN_OK;
        }
    }
    /* Otherwise split output rows into column tasks when there are too few rows to share among threads. */
    j.kc = l->inner;
    if (nt > 1 && l->n_out < 4 * nt && l->inner >= 2 * R_VEC_MIN_COLS) {
        j.kc = (l->inner + 4 * nt - 1) / (4 * nt);
        if (j.kc < R_VEC_MIN_COLS) j.kc = R_VEC_MIN_COLS;
    }
    j.nk = (l->inner + j.kc - 1) / j.kc;
    int64_t work = l->n_red * j.kc;
    int64_t grain = R_GRAIN / (work > 0 ? work : 1);
    kiln_parallel_for(l->n_out * j.nk, grain > 0 ? grain : 1, RC(vec_range), &j);
    return KILN_OK;
}

/* Full reduction: y (n_y = n_out * inner in vector mode, n_out in row mode) gets op over the layout. */
static kiln_status RC(reduce)(const rlayout *l, rop op, const RT *x, RT *y, int64_t n_y) {
    static const kr_kind kinds[R_OP_COUNT] = {
        [R_SUM] = KR_SUM, [R_MEAN] = KR_SUM, [R_MAX] = KR_MAX, [R_MIN] = KR_MIN, [R_PROD] = KR_PROD,
        [R_L1] = KR_ASUM, [R_L2] = KR_SQSUM, [R_LOGSUM] = KR_SUM, [R_LOGSUMEXP] = KR_EXPSUM, [R_SUMSQ] = KR_SQSUM,
    };
    if (op == R_LOGSUMEXP) {
#if RK == 0
        /* Shift by the max so exp never overflows; an infinite or NaN max shifts by 0 instead (the sum then
         * carries the infinity or NaN through). */
        RT *shift = malloc(sizeof(RT) * (size_t)n_y);
        KILN_FAIL_IF(!shift, KILN_ERR_OUT_OF_MEMORY, "out of memory (%lld reduction outputs)", (long long)n_y);
        RC(run_kind)(l, KR_MAX, x, shift, NULL);
        for (int64_t i = 0; i < n_y; i++)
            if (!isfinite(shift[i])) shift[i] = 0;
        RC(run_kind)(l, KR_EXPSUM, x, y, shift);
        for (int64_t i = 0; i < n_y; i++) y[i] = (RT)log(y[i]) + shift[i];
        free(shift);
        return KILN_OK;
#else
        return kiln_error(KILN_ERR_INTERNAL, "ReduceLogSumExp reached the integer path");
#endif
    }
    KILN_TRY(RC(run_kind)(l, kinds[op], x, y, NULL));
    switch (op) {
#if RK == 0
    case R_MEAN: {
        for (int64_t i = 0; i < n_y; i++) y[i] = (RT)(y[i] / (RT)l->count);
        break;
    }
    case R_L2: for (int64_t i = 0; i < n_y; i++) y[i] = (RT)sqrt(y[i]); break;
    case R_LOGSUM: for (int64_t i = 0; i < n_y; i++) y[i] = (RT)log(y[i]); break;
#else
    case R_MEAN: /* numpy: integer sum, true division, truncation toward zero */
        for (int64_t i = 0; i < n_y; i++) y[i] = (RT)(y[i] / (RT)l->count);
        break;
    case R_L2: case R_LOGSUM:
        return kiln_error(KILN_ERR_INTERNAL, "ReduceL2 / ReduceLogSum reached the integer path");
#endif
    default: break;
    }
    return KILN_OK;
}

#undef R_ADD
#undef R_MUL
#undef R_ABS
#undef R_MAX
#undef R_MIN
#undef R_EXP
#undef R_SQ
#undef R_LANES
#undef R_ROW_LOOP
#undef R_VEC_LOOP
#undef RC
#undef RC_CAT
#undef RC_CAT2
