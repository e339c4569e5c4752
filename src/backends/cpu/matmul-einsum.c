/* Einsum: the equation is parsed once in prepare; at run time operands are folded left to right. Each operand is
 * first simplified (repeated labels become a diagonal through summed strides; labels used nowhere else are summed
 * out), then contracted with the running result as one batched GEMM over [batch, free_x, contracted] x
 * [batch, contracted, free_y]. Floats compute in float (SGEMM core), double in double, integers in int64. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/gemm.h"
#include "backends/cpu/linalg-common.h"
#include "backends/cpu/matmul-internal.h"
#include "core/broadcast.h"
#include "core/dtype.h"

#define N_LETTERS 52
#define N_LABELS (N_LETTERS + KILN_MAX_DIMS) /* letters, then one label per ellipsis dim */
#define ELL (-1)

typedef struct es_operand {
    int n;                      /* items: letters (0..51) and at most one ELL */
    int items[KILN_MAX_DIMS + 1];
} es_operand;

typedef struct einsum_params {
    int n_ops;
    es_operand *ops;
    es_operand out;
} einsum_params;

static int letter_code(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A'; /* ASCII order: upper case sorts first, as numpy does */
    if (c >= 'a' && c <= 'z') return 26 + c - 'a';
    return -1;
}

/* Parses one term ("ab...c") ending at `end`. */
static kiln_status parse_term(const char *s, const char *end, es_operand *op, const char *eq) {
    op->n = 0;
    int has_ell = 0;
    for (const char *c = s; c < end; c++) {
        if (*c == ' ') continue;
        if (*c == '.') {
            KILN_FAIL_IF(end - c < 3 || c[1] != '.' || c[2] != '.' || has_ell, KILN_ERR_INVALID_GRAPH,
                         "Einsum equation '%s': malformed ellipsis", eq);
            KILN_FAIL_IF(op->n > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "Einsum equation '%s': term too long", eq);
            op->items[op->n++] = ELL;
            has_ell = 1;
            c += 2;
            continue;
        }
        int code = letter_code(*c);
        KILN_FAIL_IF(code < 0, KILN_ERR_INVALID_GRAPH, "Einsum equation '%s': invalid character '%c'", eq, *c);
        KILN_FAIL_IF(op->n > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "Einsum equation '%s': term too long", eq);
        op->items[op->n++] = code;
    }
    return KILN_OK;
}

kiln_status einsum_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    const char *eq = kiln_attr_string(n, "equation", NULL);
    KILN_FAIL_IF(!eq, KILN_ERR_INVALID_GRAPH, "Einsum needs an 'equation' attribute");
    einsum_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    const char *arrow = strstr(eq, "->");
    const char *lhs_end = arrow ? arrow : eq + strlen(eq);
    int n_ops = 1;
    for (const char *c = eq; c < lhs_end; c++) n_ops += *c == ',';
    p->n_ops = n_ops;
    p->ops = calloc((size_t)n_ops, sizeof *p->ops);
    kiln_status st = p->ops ? KILN_OK : kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    const char *s = eq;
    for (int i = 0; i < n_ops && st == KILN_OK; i++) {
        const char *e = s;
        while (e < lhs_end && *e != ',') e++;
        st = parse_term(s, e, &p->ops[i], eq);
        s = e + 1;
    }
    if (st == KILN_OK && arrow) {
        st = parse_term(arrow + 2, eq + strlen(eq), &p->out, eq);
        int seen[N_LETTERS] = {0};
        for (int i = 0; i < p->out.n && st == KILN_OK; i++) {
            int c = p->out.items[i];
            if (c == ELL) continue;
            if (seen[c]++) st = kiln_error(KILN_ERR_INVALID_GRAPH, "Einsum equation '%s': output label repeated", eq);
        }
    } else if (st == KILN_OK) {
        /* Implicit output: the ellipsis (if any), then labels that occur exactly once, in alphabetical order. */
        int count[N_LETTERS] = {0}, any_ell = 0;
        for (int i = 0; i < n_ops; i++)
            for (int j = 0; j < p->ops[i].n; j++) {
                if (p->ops[i].items[j] == ELL)
                    any_ell = 1;
                else
                    count[p->ops[i].items[j]]++;
            }
        p->out.n = 0;
        if (any_ell) p->out.items[p->out.n++] = ELL;
        for (int c = 0; c < N_LETTERS && st == KILN_OK; c++)
            if (count[c] == 1) {
                if (p->out.n > KILN_MAX_DIMS)
                    st = kiln_error(KILN_ERR_UNSUPPORTED, "Einsum equation '%s': output rank too large", eq);
                else
                    p->out.items[p->out.n++] = c;
            }
    }
    if (st != KILN_OK) {
        einsum_release(p);
        return st;
    }
    *params = p;
    return KILN_OK;
}

void einsum_release(void *params) {
    einsum_params *p = params;
    if (!p) return;
    free(p->ops);
    free(p);
}

/* ---- run time ---- */

typedef enum { CT_F32, CT_F64, CT_I64 } ctype;

static size_t ct_size(ctype t) { return t == CT_F32 ? 4 : 8; }

/* A dense row-major tensor whose dims carry unique labels. */
typedef struct eterm {
    int rank;
    int lab[N_LABELS];
    int64_t dims[N_LABELS];
    void *data;
    int owned;
} eterm;

static void term_free(eterm *t) {
    if (t->owned) free(t->data);
    t->data = NULL;
    t->owned = 0;
}

/* A strided view with unique labels (strides in elements; a stride of 0 broadcasts). */
typedef struct eview {
    int rank;
    int lab[N_LABELS];
    int64_t dims[N_LABELS], strides[N_LABELS];
    const void *data;
} eview;

static void term_view(const eterm *t, eview *v) {
    v->rank = t->rank;
    v->data = t->data;
    int64_t s = 1;
    for (int d = t->rank - 1; d >= 0; d--) {
        v->lab[d] = t->lab[d];
        v->dims[d] = t->dims[d];
        v->strides[d] = s;
        s *= t->dims[d];
    }
}

/* out (contiguous, `orank` dims with sizes odims) = sum over the view's elements of those dims not listed in
 * `map` (map[d] = output dim of view dim d, or -1 to sum it out). Plain copy when nothing is summed. */
static void reduce_into(ctype ct, const eview *v, const int *map, int orank, const int64_t *odims, void *out) {
    int64_t ostr[N_LABELS], os[N_LABELS];
    int64_t s = 1;
    for (int d = orank - 1; d >= 0; d--) {
        ostr[d] = s;
        s *= odims[d];
    }
    int64_t on = s;
    for (int d = 0; d < v->rank; d++) os[d] = map[d] >= 0 ? ostr[map[d]] : 0;
    memset(out, 0, ct_size(ct) * (size_t)on);
    int64_t total = 1;
    for (int d = 0; d < v->rank; d++) total *= v->dims[d];
    if (total == 0) return;
    int64_t idx[N_LABELS] = {0}, in = 0, o = 0;
    for (int64_t i = 0; i < total; i++) {
        switch (ct) {
        case CT_F32: ((float *)out)[o] += ((const float *)v->data)[in]; break;
        case CT_F64: ((double *)out)[o] += ((const double *)v->data)[in]; break;
        case CT_I64:
            ((uint64_t *)out)[o] += ((const uint64_t *)v->data)[in];
            break;
        }
        for (int d = v->rank - 1; d >= 0; d--) {
            in += v->strides[d];
            o += os[d];
            if (++idx[d] < v->dims[d]) break;
            in -= v->strides[d] * v->dims[d];
            o -= os[d] * v->dims[d];
            idx[d] = 0;
        }
    }
}

static int has_label(const int *labs, int n, int l) {
    for (int i = 0; i < n; i++)
        if (labs[i] == l) return i;
    return -1;
}

/* Merges repeated labels of an operand (diagonal), then sums labels not in keep[] into a new term. */
static kiln_status simplify(ctype ct, const eview *in, const char *keep, eterm *out) {
    eview v;
    memset(&v, 0, sizeof v);
    v.data = in->data;
    for (int d = 0; d < in->rank; d++) {
        int j = has_label(v.lab, v.rank, in->lab[d]);
        if (j >= 0) {
            KILN_FAIL_IF(v.dims[j] != in->dims[d], KILN_ERR_SHAPE,
                         "Einsum: repeated label has sizes %lld and %lld in one operand", (long long)v.dims[j],
                         (long long)in->dims[d]);
            v.strides[j] += in->strides[d];
            continue;
        }
        v.lab[v.rank] = in->lab[d];
        v.dims[v.rank] = in->dims[d];
        v.strides[v.rank] = in->strides[d];
        v.rank++;
    }
    int map[N_LABELS];
    memset(out, 0, sizeof *out);
    int64_t n = 1;
    for (int d = 0; d < v.rank; d++) {
        if (keep[v.lab[d]]) {
            map[d] = out->rank;
            out->lab[out->rank] = v.lab[d];
            out->dims[out->rank++] = v.dims[d];
            n *= v.dims[d];
        } else {
            map[d] = -1;
        }
    }
    out->data = malloc(ct_size(ct) * (size_t)(n + 1));
    KILN_FAIL_IF(!out->data, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    out->owned = 1;
    reduce_into(ct, &v, map, out->rank, out->dims, out->data);
    return KILN_OK;
}

/* Copies t into a contiguous buffer ordered by labs[0..n) with sizes sizes[] (t's dims of size 1 broadcast;
 * labels t lacks are broadcast too). */
static void *gather(ctype ct, const eterm *t, const int *labs, int n, const int64_t *sizes, int64_t *count) {
    eview tv, v;
    term_view(t, &tv);
    memset(&v, 0, sizeof v);
    v.data = t->data;
    v.rank = n;
    int64_t total = 1;
    for (int i = 0; i < n; i++) {
        int j = has_label(tv.lab, tv.rank, labs[i]);
        v.lab[i] = labs[i];
        v.dims[i] = sizes[i];
        v.strides[i] = j >= 0 && tv.dims[j] == sizes[i] ? tv.strides[j] : 0;
        total *= sizes[i];
    }
    *count = total;
    void *out = malloc(ct_size(ct) * (size_t)(total + 1));
    if (!out) return NULL;
    int map[N_LABELS];
    for (int i = 0; i < n; i++) map[i] = i;
    reduce_into(ct, &v, map, n, sizes, out);
    return out;
}

/* x, y simplified; every label of each is in the other or in keep. */
static kiln_status contract(ctype ct, const eterm *x, const eterm *y, const char *keep, const int64_t *size,
                            eterm *out) {
    int bl[N_LABELS], xl[N_LABELS], yl[N_LABELS], cl[N_LABELS], nb = 0, nx = 0, ny = 0, nc = 0;
    for (int i = 0; i < x->rank; i++) {
        int l = x->lab[i];
        if (has_label(y->lab, y->rank, l) >= 0) {
            if (keep[l])
                bl[nb++] = l;
            else
                cl[nc++] = l;
        } else {
            xl[nx++] = l;
        }
    }
    for (int i = 0; i < y->rank; i++)
        if (has_label(x->lab, x->rank, y->lab[i]) < 0) yl[ny++] = y->lab[i];
    int xo[N_LABELS], yo[N_LABELS], n = 0;
    int64_t xs[N_LABELS], ys[N_LABELS];
    int64_t B = 1, M = 1, K = 1, N = 1;
    for (int i = 0; i < nb; i++) xo[n] = bl[i], xs[n++] = size[bl[i]], B *= size[bl[i]];
    for (int i = 0; i < nx; i++) xo[n] = xl[i], xs[n++] = size[xl[i]], M *= size[xl[i]];
    for (int i = 0; i < nc; i++) xo[n] = cl[i], xs[n++] = size[cl[i]], K *= size[cl[i]];
    n = 0;
    for (int i = 0; i < nb; i++) yo[n] = bl[i], ys[n++] = size[bl[i]];
    for (int i = 0; i < nc; i++) yo[n] = cl[i], ys[n++] = size[cl[i]];
    for (int i = 0; i < ny; i++) yo[n] = yl[i], ys[n++] = size[yl[i]], N *= size[yl[i]];
    int64_t cnt;
    void *xa = gather(ct, x, xo, nb + nx + nc, xs, &cnt);
    void *ya = gather(ct, y, yo, nb + nc + ny, ys, &cnt);
    memset(out, 0, sizeof *out);
    for (int i = 0; i < nb; i++) out->lab[out->rank] = bl[i], out->dims[out->rank++] = size[bl[i]];
    for (int i = 0; i < nx; i++) out->lab[out->rank] = xl[i], out->dims[out->rank++] = size[xl[i]];
    for (int i = 0; i < ny; i++) out->lab[out->rank] = yl[i], out->dims[out->rank++] = size[yl[i]];
    out->data = malloc(ct_size(ct) * (size_t)(B * M * N + 1));
    int64_t *offs = malloc(sizeof(int64_t) * (size_t)(3 * B + 1));
    kiln_status st = KILN_OK;
    if (!xa || !ya || !out->data || !offs) {
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    } else {
        out->owned = 1;
        for (int64_t b = 0; b < B; b++) offs[b] = b * M * K, offs[B + b] = b * K * N, offs[2 * B + b] = b * M * N;
        if (ct == CT_F32) {
            kiln_sgemm_args g = {.m = M, .n = N, .k = K, .alpha = 1.0f, .a = xa, .a_rs = K, .a_cs = 1, .b = ya,
                                 .b_rs = N, .b_cs = 1, .c = out->data, .c_rs = N, .c_cs = 1};
            kiln_sgemm_batch(&g, B, offs, offs + B, offs + 2 * B);
        } else {
            kiln_tgemm_args g = {M, N, K, xa, K, 1, ya, N, 1, out->data, N, 0};
            if (ct == CT_F64)
                kiln_dgemm_batch(&g, B, offs, offs + B, offs + 2 * B);
            else
                kiln_i64gemm_batch(&g, B, offs, offs + B, offs + 2 * B);
        }
    }
    if (st != KILN_OK) term_free(out);
    free(xa);
    free(ya);
    free(offs);
    return st;
}

/* Converts an input tensor to the compute type (borrowing when it already is). */
static kiln_status to_compute(ctype ct, const kiln_tensor *t, eterm *term) {
    int64_t n = kiln_tensor_numel(t);
    if ((ct == CT_F32 && t->dtype == KILN_FLOAT) || (ct == CT_F64 && t->dtype == KILN_DOUBLE) ||
        (ct == CT_I64 && (t->dtype == KILN_INT64 || t->dtype == KILN_UINT64))) {
        term->data = t->data;
        term->owned = 0;
        return KILN_OK;
    }
    term->data = malloc(ct_size(ct) * (size_t)(n + 1));
    KILN_FAIL_IF(!term->data, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    term->owned = 1;
    if (ct == CT_F32)
        lin_load_float(t->dtype, t->data, term->data, n);
    else if (ct == CT_F64)
        for (int64_t i = 0; i < n; i++) ((double *)term->data)[i] = kiln_load_f64(t->dtype, t->data, i);
    else
        for (int64_t i = 0; i < n; i++) ((int64_t *)term->data)[i] = kiln_load_i64(t->dtype, t->data, i);
    return KILN_OK;
}

static void from_compute(ctype ct, const void *src, const kiln_tensor *y, int64_t n) {
    if (ct == CT_F32)
        lin_store_float(y->dtype, src, y->data, n);
    else if (ct == CT_F64)
        memcpy(y->data, src, sizeof(double) * (size_t)n);
    else
        for (int64_t i = 0; i < n; i++) kiln_store_i64(y->dtype, y->data, i, ((const int64_t *)src)[i]);
}

kiln_status einsum_run(kiln_kctx *k) {
    const einsum_params *p = k->params;
    KILN_FAIL_IF(k->n_in != p->n_ops, KILN_ERR_INVALID_GRAPH, "Einsum equation has %d operands but the node has %d "
                 "inputs", p->n_ops, k->n_in);
    const kiln_tensor *in[64] = {NULL};
    KILN_FAIL_IF(p->n_ops > 64 || p->n_ops < 1, KILN_ERR_UNSUPPORTED, "Einsum with %d operands", p->n_ops);
    int ell_rank = 0;
    for (int i = 0; i < p->n_ops; i++) {
        KILN_TRY(kiln_kin_req(k, i, &in[i]));
        KILN_FAIL_IF(in[i]->dtype != in[0]->dtype, KILN_ERR_TYPE, "Einsum inputs have different dtypes");
        const es_operand *op = &p->ops[i];
        int has_ell = has_label(op->items, op->n, ELL) >= 0, letters = op->n - has_ell;
        KILN_FAIL_IF(has_ell ? in[i]->rank < letters : in[i]->rank != letters, KILN_ERR_SHAPE,
                     "Einsum operand %d has rank %d but its term has %d labels", i, in[i]->rank, letters);
        if (has_ell && in[i]->rank - letters > ell_rank) ell_rank = in[i]->rank - letters;
    }
    kiln_dtype dt = in[0]->dtype;
    ctype ct;
    if (dt == KILN_FLOAT || lin_is_half(dt))
        ct = CT_F32;
    else if (dt == KILN_DOUBLE)
        ct = CT_F64;
    else if (kiln_dtype_is_int(dt))
        ct = CT_I64;
    else
        return kiln_error(KILN_ERR_TYPE, "Einsum does not support dtype %s", kiln_dtype_name(dt));
    /* Expand ellipses into labels (right-aligned across operands) and collect label sizes. */
    eview views[64];
    int64_t size[N_LABELS];
    int uses[N_LABELS] = {0}; /* operands that carry each label */
    for (int l = 0; l < N_LABELS; l++) size[l] = -1;
    for (int i = 0; i < p->n_ops; i++) {
        const es_operand *op = &p->ops[i];
        eview *v = &views[i];
        memset(v, 0, sizeof *v);
        int ne = in[i]->rank - (op->n - (has_label(op->items, op->n, ELL) >= 0));
        int d = 0;
        for (int j = 0; j < op->n; j++) {
            if (op->items[j] == ELL) {
                for (int e = 0; e < ne; e++) v->lab[d++] = N_LETTERS + ell_rank - ne + e;
            } else {
                v->lab[d++] = op->items[j];
            }
        }
        v->rank = d;
        v->data = NULL;
        int64_t s = 1;
        char seen[N_LABELS] = {0};
        for (int q = d - 1; q >= 0; q--) {
            int l = v->lab[q];
            int64_t sz = in[i]->dims[q];
            v->dims[q] = sz;
            v->strides[q] = s;
            s *= sz;
            if (!seen[l]) uses[l]++;
            seen[l] = 1;
            if (size[l] < 0 || size[l] == 1)
                size[l] = sz;
            else
                KILN_FAIL_IF(sz != size[l] && sz != 1, KILN_ERR_SHAPE,
                             "Einsum: label of operand %d has size %lld, elsewhere %lld", i, (long long)sz,
                             (long long)size[l]);
        }
    }
    int out_lab[N_LABELS], on = 0;
    int64_t odims[KILN_MAX_DIMS];
    char in_out[N_LABELS] = {0};
    for (int j = 0; j < p->out.n; j++) {
        if (p->out.items[j] == ELL) {
            for (int e = 0; e < ell_rank; e++) out_lab[on++] = N_LETTERS + e;
        } else {
            KILN_FAIL_IF(size[p->out.items[j]] < 0, KILN_ERR_INVALID_GRAPH, "Einsum output label is in no input");
            out_lab[on++] = p->out.items[j];
        }
    }
    KILN_FAIL_IF(on > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "Einsum output rank %d too large", on);
    for (int j = 0; j < on; j++) in_out[out_lab[j]] = 1, odims[j] = size[out_lab[j]];
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, dt, on, odims, &y));
    int64_t ny = kiln_tensor_numel(y);

    /* Fold left to right. keep = output labels + labels of operands not yet folded. */
    eterm cur, nxt, conv;
    memset(&cur, 0, sizeof cur);
    kiln_status st = KILN_OK;
    for (int i = 0; i < p->n_ops && st == KILN_OK; i++) {
        char seen[N_LABELS] = {0};
        for (int d = 0; d < views[i].rank; d++) {
            if (!seen[views[i].lab[d]]) uses[views[i].lab[d]]--;
            seen[views[i].lab[d]] = 1;
        }
        char keep[N_LABELS];
        for (int l = 0; l < N_LABELS; l++) keep[l] = in_out[l] || uses[l] > 0;
        char keep_op[N_LABELS];
        memcpy(keep_op, keep, sizeof keep);
        for (int d = 0; i > 0 && d < cur.rank; d++) keep_op[cur.lab[d]] = 1;
        memset(&conv, 0, sizeof conv);
        st = to_compute(ct, in[i], &conv);
        if (st != KILN_OK) break;
        views[i].data = conv.data;
        st = simplify(ct, &views[i], keep_op, &nxt);
        term_free(&conv);
        if (st != KILN_OK) break;
        if (i == 0) {
            cur = nxt;
            continue;
        }
        /* Labels of cur that neither nxt nor the rest need are summed before the product. */
        char keep_cur[N_LABELS];
        memcpy(keep_cur, keep, sizeof keep);
        for (int d = 0; d < nxt.rank; d++) keep_cur[nxt.lab[d]] = 1;
        eview cv;
        eterm red;
        term_view(&cur, &cv);
        st = simplify(ct, &cv, keep_cur, &red);
        term_free(&cur);
        if (st == KILN_OK) st = contract(ct, &red, &nxt, keep, size, &cur);
        term_free(&red);
        term_free(&nxt);
    }
    if (st == KILN_OK) {
        /* Sum what the output does not name, then lay out in output order (broadcasting size-1 dims). */
        eview cv;
        eterm red;
        term_view(&cur, &cv);
        st = simplify(ct, &cv, in_out, &red);
        if (st == KILN_OK) {
            int64_t cnt;
            void *res = gather(ct, &red, out_lab, on, odims, &cnt);
            if (!res)
                st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
            else
                from_compute(ct, res, y, ny);
            free(res);
        }
        term_free(&red);
    }
    term_free(&cur);
    return st;
}
