// CUDA kernels: einsum family (see registry.h): Einsum with one or two operands on the float formats.
//
// Every label gets a size and, per operand, a stride (summed over its occurrences, so a repeated label reads the
// diagonal). Each output element is a sum over the labels that are not in the output, products of the operands'
// elements accumulated in float. Ellipsis dims align right across operands, as numpy broadcasts them (size 1
// reads with stride 0). This direct form handles every 1- or 2-operand equation; it is not a cuBLASLt GEMM, so
// large contractions are slower than a MatMul would be. Three or more operands fall back to the CPU.
#include <stdlib.h>

#include "backends/cuda/common.cuh"

namespace kc {

#define ES_LETTERS 52
#define ES_ELL (-1)
#define ES_MAX_LABELS 16

struct es_term {
    int n;
    int items[KILN_MAX_DIMS + 1]; // letter codes 0..51, ES_ELL
};

struct es_params {
    int n_ops;
    es_term ops[2], out;
};

static int es_code(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A'; // upper case sorts first, as numpy does
    if (c >= 'a' && c <= 'z') return 26 + c - 'a';
    return -1;
}

static kiln_status es_term_parse(const char *s, const char *end, es_term *t, const char *eq) {
    t->n = 0;
    int has_ell = 0;
    for (const char *c = s; c < end; c++) {
        if (*c == ' ') continue;
        KILN_FAIL_IF(t->n > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "Einsum equation '%s': term too long", eq);
        if (*c == '.') {
            KILN_FAIL_IF(end - c < 3 || c[1] != '.' || c[2] != '.' || has_ell, KILN_ERR_INVALID_GRAPH,
                         "Einsum equation '%s': malformed ellipsis", eq);
            t->items[t->n++] = ES_ELL;
            has_ell = 1;
            c += 2;
            continue;
        }
        int code = es_code(*c);
        KILN_FAIL_IF(code < 0, KILN_ERR_INVALID_GRAPH, "Einsum equation '%s': invalid character '%c'", eq, *c);
        t->items[t->n++] = code;
    }
    return KILN_OK;
}

static kiln_status es_parse(const kiln_node *n, es_params *p) {
    memset(p, 0, sizeof *p);
    const char *eq = kiln_attr_string(n, "equation", NULL);
    KILN_FAIL_IF(!eq, KILN_ERR_INVALID_GRAPH, "Einsum needs an 'equation' attribute");
    const char *arrow = strstr(eq, "->");
    const char *lhs_end = arrow ? arrow : eq + strlen(eq);
    int n_ops = 1;
    for (const char *c = eq; c < lhs_end; c++) n_ops += *c == ',';
    KILN_FAIL_IF(n_ops > 2, KILN_ERR_UNSUPPORTED, "Einsum '%s': %d operands (the CUDA kernel takes one or two)", eq,
                 n_ops);
    p->n_ops = n_ops;
    const char *s = eq;
    for (int i = 0; i < n_ops; i++) {
        const char *e = s;
        while (e < lhs_end && *e != ',') e++;
        KILN_TRY(es_term_parse(s, e, &p->ops[i], eq));
        s = e + 1;
    }
    if (arrow) {
        KILN_TRY(es_term_parse(arrow + 2, eq + strlen(eq), &p->out, eq));
        int seen[ES_LETTERS] = {0};
        for (int i = 0; i < p->out.n; i++) {
            int c = p->out.items[i];
            if (c == ES_ELL) continue;
            KILN_FAIL_IF(seen[c]++, KILN_ERR_INVALID_GRAPH, "Einsum equation '%s': output label repeated", eq);
            int found = 0;
            for (int o = 0; o < n_ops; o++)
                for (int j = 0; j < p->ops[o].n; j++) found |= p->ops[o].items[j] == c;
            KILN_FAIL_IF(!found, KILN_ERR_INVALID_GRAPH, "Einsum equation '%s': output label not in any input", eq);
        }
        return KILN_OK;
    }
    // implicit output: the ellipsis (if any), then labels that occur exactly once, in alphabetical order
    int count[ES_LETTERS] = {0}, any_ell = 0;
    for (int i = 0; i < n_ops; i++)
        for (int j = 0; j < p->ops[i].n; j++) {
            if (p->ops[i].items[j] == ES_ELL) any_ell = 1;
            else count[p->ops[i].items[j]]++;
        }
    if (any_ell) p->out.items[p->out.n++] = ES_ELL;
    for (int c = 0; c < ES_LETTERS; c++)
        if (count[c] == 1) {
            KILN_FAIL_IF(p->out.n > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "Einsum '%s': output rank too large", eq);
            p->out.items[p->out.n++] = c;
        }
    return KILN_OK;
}

// ---------------------------------------------------------------- kernel ---------------------------------------
struct es_geom {
    int n_ops, n_out, n_sum;
    int64_t out_size[KILN_MAX_DIMS], sum_size[ES_MAX_LABELS];
    int64_t st_out[2][KILN_MAX_DIMS], st_sum[2][ES_MAX_LABELS];
};

template <typename T>
__global__ void einsum_k(int64_t total, int64_t sum_total, es_geom g, const T *a, const T *b, T *y) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = t, oa = 0, ob = 0;
        for (int d = g.n_out - 1; d >= 0; d--) {
            int64_t v = rem % g.out_size[d];
            rem /= g.out_size[d];
            oa += v * g.st_out[0][d];
            ob += v * g.st_out[1][d];
        }
        int64_t idx[ES_MAX_LABELS];
        for (int d = 0; d < g.n_sum; d++) idx[d] = 0;
        float acc = 0;
        for (int64_t s = 0; s < sum_total; s++) {
            float v = to_f<T>(a[oa]);
            if (g.n_ops == 2) v *= to_f<T>(b[ob]);
            acc += v;
            // odometer step over the summed labels, innermost last
            for (int d = g.n_sum - 1; d >= 0; d--) {
                oa += g.st_sum[0][d], ob += g.st_sum[1][d];
                if (++idx[d] < g.sum_size[d]) break;
                oa -= g.st_sum[0][d] * g.sum_size[d], ob -= g.st_sum[1][d] * g.sum_size[d];
                idx[d] = 0;
            }
        }
        y[t] = from_f<T>(acc);
    }
}

static kiln_status es_supports(const kiln_node *n, const kiln_graph *g) {
    es_params p;
    KILN_TRY(es_parse(n, &p));
    KILN_FAIL_IF(n->n_in != p.n_ops, KILN_ERR_INVALID_GRAPH, "Einsum: %d inputs for %d equation terms", n->n_in,
                 p.n_ops);
    KILN_TRY(need_dtype(n, g, 0, is_float3, "float formats"));
    if (p.n_ops == 2) KILN_TRY(need_same_dtype(n, g, 0, 1));
    return KILN_OK;
}

static kiln_status es_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    es_params *p = (es_params *)calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = es_parse(n, p);
    if (st != KILN_OK) {
        free(p);
        return st;
    }
    *params = p;
    return KILN_OK;
}

static kiln_status es_run(kiln_cuda_kctx *k) {
    const es_params *p = (const es_params *)k->params;
    const char *eq = kiln_attr_string(k->node, "equation", "");
    const kiln_cuda_tensor *x[2] = {NULL, NULL};
    for (int i = 0; i < p->n_ops; i++) {
        KILN_TRY(in_req(k, i, &x[i]));
        KILN_FAIL_IF(!is_float3(x[i]->dtype) || x[i]->dtype != x[0]->dtype, KILN_ERR_TYPE,
                     "Einsum: input %d dtype %s not supported on CUDA", i, kiln_dtype_name(x[i]->dtype));
    }
    // Labels: letters 0..51, then ellipsis dims 52.. aligned right (ell_rank = the widest ellipsis).
    int ell_rank = 0, ell_n[2] = {0, 0};
    for (int i = 0; i < p->n_ops; i++) {
        int letters = 0, has = 0;
        for (int j = 0; j < p->ops[i].n; j++) {
            if (p->ops[i].items[j] == ES_ELL) has = 1;
            else letters++;
        }
        KILN_FAIL_IF(has ? x[i]->rank < letters : x[i]->rank != letters, KILN_ERR_SHAPE,
                     "Einsum '%s': input %d has rank %d for %d labels", eq, i, x[i]->rank, letters);
        ell_n[i] = has ? x[i]->rank - letters : 0;
        if (ell_n[i] > ell_rank) ell_rank = ell_n[i];
    }
    const int NL = ES_LETTERS + KILN_MAX_DIMS;
    int64_t size[ES_LETTERS + KILN_MAX_DIMS], st[2][ES_LETTERS + KILN_MAX_DIMS];
    bool used[ES_LETTERS + KILN_MAX_DIMS];
    for (int l = 0; l < NL; l++) size[l] = -1, st[0][l] = st[1][l] = 0, used[l] = false;
    for (int i = 0; i < p->n_ops; i++) {
        int64_t xs[KILN_MAX_DIMS];
        contiguous_strides(x[i]->rank, x[i]->dims, xs);
        int d = 0;
        for (int j = 0; j < p->ops[i].n; j++) {
            int c = p->ops[i].items[j];
            if (c == ES_ELL) {
                for (int e = 0; e < ell_n[i]; e++, d++) {
                    int l = ES_LETTERS + ell_rank - ell_n[i] + e;
                    int64_t dim = x[i]->dims[d];
                    used[l] = true;
                    if (dim != 1) {
                        KILN_FAIL_IF(size[l] > 1 && size[l] != dim, KILN_ERR_SHAPE,
                                     "Einsum '%s': ellipsis dims do not broadcast", eq);
                        size[l] = dim;
                        st[i][l] += xs[d];
                    } else if (size[l] < 1) {
                        size[l] = 1;
                    }
                }
                continue;
            }
            int64_t dim = x[i]->dims[d];
            KILN_FAIL_IF(size[c] >= 0 && size[c] != dim, KILN_ERR_SHAPE,
                         "Einsum '%s': label '%c' has sizes %lld and %lld", eq, c < 26 ? 'A' + c : 'a' + c - 26,
                         (long long)size[c], (long long)dim);
            size[c] = dim;
            used[c] = true;
            st[i][c] += xs[d];
            d++;
        }
    }
    es_geom g;
    memset(&g, 0, sizeof g);
    g.n_ops = p->n_ops;
    bool in_out[ES_LETTERS + KILN_MAX_DIMS] = {false};
    int64_t dims[KILN_MAX_DIMS];
    for (int j = 0; j < p->out.n; j++) {
        int c = p->out.items[j];
        int first = c == ES_ELL ? ES_LETTERS : c, count = c == ES_ELL ? ell_rank : 1;
        for (int l = first; l < first + count; l++) {
            KILN_FAIL_IF(g.n_out >= KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "Einsum '%s': output rank too large", eq);
            in_out[l] = true;
            dims[g.n_out] = g.out_size[g.n_out] = size[l];
            g.st_out[0][g.n_out] = st[0][l];
            g.st_out[1][g.n_out] = st[1][l];
            g.n_out++;
        }
    }
    int64_t sum_total = 1;
    for (int l = 0; l < NL; l++) {
        if (!used[l] || in_out[l]) continue;
        KILN_FAIL_IF(g.n_sum >= ES_MAX_LABELS, KILN_ERR_UNSUPPORTED, "Einsum '%s': more than %d summed labels", eq,
                     ES_MAX_LABELS);
        g.sum_size[g.n_sum] = size[l];
        g.st_sum[0][g.n_sum] = st[0][l];
        g.st_sum[1][g.n_sum] = st[1][l];
        g.n_sum++;
        sum_total *= size[l];
    }
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x[0]->dtype, g.n_out, dims, &y));
    int64_t total = numel(y);
    if (total == 0) return KILN_OK;
    if (g.n_out == 0) g.out_size[0] = 1;
    cudaStream_t s = stream(k);
    const void *b = p->n_ops == 2 ? x[1]->data : x[0]->data;
    with_float(x[0]->dtype, [&](auto t) {
        typedef decltype(t) T;
        einsum_k<T><<<grid_for(total, 128), 128, 0, s>>>(total, sum_total, g, (const T *)x[0]->data, (const T *)b,
                                                         (T *)y->data);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

} // namespace kc

extern "C" const kiln_cuda_op_def kiln_cuda_ops_einsum[] = {
    {"Einsum", "", 12, 0, kc::es_supports, kc::es_prepare, free, kc::es_run},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
