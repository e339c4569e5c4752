/* CPU kernels: text ops (StringNormalizer, StringSplit, StringConcat, RegexFullMatch, TfIdfVectorizer; see
 * registry.h). Strings are byte strings; case changes are ASCII-only (locale-dependent Unicode case mapping is
 * out of scope for an inference runtime and is stated here so nobody expects it). Regexes use POSIX extended
 * syntax with the GNU escapes (\w, \s, \b, ...), which covers the RE2 patterns seen in practice. */
#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backends/cpu/registry.h"
#include "core/broadcast.h"
#include "core/dtype.h"

static const char *str_at(const kiln_tensor *t, int64_t i) {
    const char *s = ((char *const *)t->data)[i];
    return s ? s : "";
}

static kiln_status need_strings(const kiln_tensor *t, const char *op) {
    KILN_FAIL_IF(t->dtype != KILN_STRING, KILN_ERR_TYPE, "%s needs a string tensor, got %s", op,
                 kiln_dtype_name(t->dtype));
    return KILN_OK;
}

/* ---------------------------------------------------------------- StringNormalizer ---------------------------- */

typedef struct norm_params {
    int action; /* 0 none, 1 lower, 2 upper */
    int case_sensitive;
    int n_stop;
    char **stop;
} norm_params;

static void norm_release(void *pp) {
    norm_params *p = pp;
    if (!p) return;
    for (int i = 0; i < p->n_stop; i++) free(p->stop[i]);
    free(p->stop);
    free(p);
}

static kiln_status norm_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    norm_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    const char *a = kiln_attr_string(n, "case_change_action", "NONE");
    if (!strcmp(a, "LOWER")) p->action = 1;
    else if (!strcmp(a, "UPPER")) p->action = 2;
    else KILN_FAIL_IF(strcmp(a, "NONE"), KILN_ERR_INVALID_GRAPH, "case_change_action '%s'", a);
    p->case_sensitive = (int)kiln_attr_int(n, "is_case_sensitive", 0);
    const kiln_attr *sw = kiln_node_attr(n, "stopwords");
    if (sw && sw->type == KILN_ATTR_STRINGS && sw->n > 0) {
        p->stop = calloc((size_t)sw->n, sizeof(char *));
        KILN_FAIL_IF(!p->stop, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        p->n_stop = sw->n;
        for (int i = 0; i < sw->n; i++) {
            p->stop[i] = strdup(sw->strings[i]);
            KILN_FAIL_IF(!p->stop[i], KILN_ERR_OUT_OF_MEMORY, "out of memory");
        }
    }
    return KILN_OK;
}

static int is_stop(const norm_params *p, const char *s) {
    for (int i = 0; i < p->n_stop; i++)
        if (p->case_sensitive ? !strcmp(s, p->stop[i]) : !strcasecmp(s, p->stop[i])) return 1;
    return 0;
}

static kiln_status norm_run(kiln_kctx *k) {
    const norm_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(need_strings(x, "StringNormalizer"));
    KILN_FAIL_IF(x->rank != 1 && !(x->rank == 2 && x->dims[0] == 1), KILN_ERR_SHAPE,
                 "StringNormalizer input must be [C] or [1, C]");
    int64_t n = kiln_tensor_numel(x), kept = 0;
    for (int64_t i = 0; i < n; i++) kept += !is_stop(p, str_at(x, i));
    int64_t dims[2] = {1, kept ? kept : 1};
    kiln_tensor *y;
    if (x->rank == 1) KILN_TRY(kiln_kout(k, 0, KILN_STRING, 1, dims + 1, &y));
    else KILN_TRY(kiln_kout(k, 0, KILN_STRING, 2, dims, &y));
    if (!kept) return kiln_tensor_set_string(y, 0, "", 0);
    for (int64_t i = 0, o = 0; i < n; i++) {
        const char *s = str_at(x, i);
        if (is_stop(p, s)) continue;
        size_t len = strlen(s);
        KILN_TRY(kiln_tensor_set_string(y, o, s, len));
        char *d = ((char **)y->data)[o++];
        for (size_t c = 0; c < len; c++) {
            if (p->action == 1) d[c] = (char)tolower((unsigned char)d[c]);
            else if (p->action == 2) d[c] = (char)toupper((unsigned char)d[c]);
        }
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- StringConcat -------------------------------- */

static kiln_status concat_run(kiln_kctx *k) {
    const kiln_tensor *a, *b;
    KILN_TRY(kiln_kin_req(k, 0, &a));
    KILN_TRY(kiln_kin_req(k, 1, &b));
    KILN_TRY(need_strings(a, "StringConcat"));
    KILN_TRY(need_strings(b, "StringConcat"));
    int r;
    int64_t dims[KILN_MAX_DIMS], sa[KILN_MAX_DIMS], sb[KILN_MAX_DIMS], idx[KILN_MAX_DIMS] = {0};
    KILN_TRY(kiln_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &r, dims));
    kiln_broadcast_strides(a->rank, a->dims, r, dims, sa);
    kiln_broadcast_strides(b->rank, b->dims, r, dims, sb);
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, KILN_STRING, r, dims, &y));
    int64_t n = kiln_numel(r, dims);
    for (int64_t i = 0; i < n; i++) {
        int64_t ia = 0, ib = 0;
        for (int d = 0; d < r; d++) ia += idx[d] * sa[d], ib += idx[d] * sb[d];
        const char *x = str_at(a, ia), *z = str_at(b, ib);
        size_t lx = strlen(x), lz = strlen(z);
        char *buf = malloc(lx + lz + 1);
        KILN_FAIL_IF(!buf, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        memcpy(buf, x, lx);
        memcpy(buf + lx, z, lz + 1);
        kiln_status st = kiln_tensor_set_string(y, i, buf, lx + lz);
        free(buf);
        KILN_TRY(st);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < dims[d]) break;
            idx[d] = 0;
        }
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- StringSplit --------------------------------- */

typedef struct split_params {
    char *delim; /* NULL: split on runs of whitespace */
    int64_t maxsplit; /* < 0: unlimited */
} split_params;

static void split_release(void *pp) {
    split_params *p = pp;
    if (p) free(p->delim), free(p);
}

static kiln_status split_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    split_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    const char *d = kiln_attr_string(n, "delimiter", "");
    if (*d) {
        p->delim = strdup(d);
        KILN_FAIL_IF(!p->delim, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    p->maxsplit = kiln_attr_int(n, "maxsplit", -1);
    return KILN_OK;
}

/* Splits s like Python's str.split(sep, maxsplit); returns the number of parts and, when `parts` is not NULL,
 * their [begin, end) offsets. */
static int64_t split_one(const split_params *p, const char *s, int64_t *parts) {
    int64_t n = 0, splits = 0;
    size_t len = strlen(s);
    if (p->delim) {
        size_t dl = strlen(p->delim), b = 0;
        for (size_t i = 0; i + dl <= len;) {
            if ((p->maxsplit < 0 || splits < p->maxsplit) && !memcmp(s + i, p->delim, dl)) {
                if (parts) parts[2 * n] = (int64_t)b, parts[2 * n + 1] = (int64_t)i;
                n++, splits++;
                i += dl;
                b = i;
            } else {
                i++;
            }
        }
        if (parts) parts[2 * n] = (int64_t)b, parts[2 * n + 1] = (int64_t)len;
        return n + 1;
    }
    size_t i = 0;
    while (i < len) {
        while (i < len && isspace((unsigned char)s[i])) i++;
        if (i >= len) break;
        size_t b = i, e;
        if (p->maxsplit >= 0 && splits >= p->maxsplit) {
            e = len;
            /* the remainder keeps its inner and trailing whitespace, as Python does */
        } else {
            while (i < len && !isspace((unsigned char)s[i])) i++;
            e = i;
            splits++;
        }
        if (parts) parts[2 * n] = (int64_t)b, parts[2 * n + 1] = (int64_t)e;
        n++;
        if (e == len) break;
    }
    return n;
}

static kiln_status split_run(kiln_kctx *k) {
    const split_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(need_strings(x, "StringSplit"));
    KILN_FAIL_IF(x->rank + 1 > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "StringSplit input rank too large");
    int64_t n = kiln_tensor_numel(x), most = 0;
    kiln_tensor *z;
    KILN_TRY(kiln_kout(k, 1, KILN_INT64, x->rank, x->dims, &z));
    for (int64_t i = 0; i < n; i++) {
        int64_t c = split_one(p, str_at(x, i), NULL);
        ((int64_t *)z->data)[i] = c;
        if (c > most) most = c;
    }
    int64_t dims[KILN_MAX_DIMS];
    for (int i = 0; i < x->rank; i++) dims[i] = x->dims[i];
    dims[x->rank] = most;
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, KILN_STRING, x->rank + 1, dims, &y));
    int64_t *parts = malloc(sizeof(int64_t) * 2 * (size_t)(most + 1));
    KILN_FAIL_IF(!parts, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = KILN_OK;
    for (int64_t i = 0; i < n && st == KILN_OK; i++) {
        const char *s = str_at(x, i);
        int64_t c = split_one(p, s, parts);
        for (int64_t j = 0; j < most && st == KILN_OK; j++)
            st = j < c ? kiln_tensor_set_string(y, i * most + j, s + parts[2 * j], (size_t)(parts[2 * j + 1] - parts[2 * j]))
                       : kiln_tensor_set_string(y, i * most + j, "", 0);
    }
    free(parts);
    return st;
}

/* ---------------------------------------------------------------- RegexFullMatch ------------------------------ */

static void regex_release(void *pp) {
    if (!pp) return;
    regfree(pp);
    free(pp);
}

/* Appends a to out (bounded by cap; *len keeps counting so overflow is detectable). */
static void put(char *out, size_t cap, size_t *len, const char *a) {
    for (; *a; a++, (*len)++)
        if (*len < cap) out[*len] = *a;
}

/* Rewrites the RE2/Perl class escapes that POSIX ERE lacks (\d \w \s and their negations, also inside bracket
 * expressions, where POSIX takes a backslash literally) into POSIX classes; other escapes pass through (glibc
 * understands \b, \B, \<, \>). Returns the length written (>= cap means it did not fit). */
static size_t translate_regex(const char *pat, char *out, size_t cap) {
    size_t len = 0;
    for (const char *c = pat; *c; c++) {
        if (*c == '\\' && c[1]) {
            c++;
            switch (*c) {
            case 'd': put(out, cap, &len, "[[:digit:]]"); break;
            case 'D': put(out, cap, &len, "[^[:digit:]]"); break;
            case 's': put(out, cap, &len, "[[:space:]]"); break;
            case 'S': put(out, cap, &len, "[^[:space:]]"); break;
            case 'w': put(out, cap, &len, "[[:alnum:]_]"); break;
            case 'W': put(out, cap, &len, "[^[:alnum:]_]"); break;
            default: {
                char e[3] = {'\\', *c, 0};
                put(out, cap, &len, e);
            }
            }
            continue;
        }
        if (*c != '[') {
            char e[2] = {*c, 0};
            put(out, cap, &len, e);
            continue;
        }
        /* bracket expression: collect members, then emit with ']' first and '-' last as POSIX requires */
        int neg = 0, has_dash = 0, has_close = 0;
        char body[1024];
        size_t bl = 0;
        c++;
        if (*c == '^') neg = 1, c++;
        if (*c == ']') has_close = 1, c++;
        for (; *c && *c != ']'; c++) {
            const char *add = NULL;
            char one[2] = {0, 0};
            if (*c == '\\' && c[1]) {
                c++;
                switch (*c) {
                case 'd': add = "[:digit:]"; break;
                case 's': add = "[:space:]"; break;
                case 'w': add = "[:alnum:]_"; break;
                case '-': has_dash = 1; break;
                case ']': has_close = 1; break;
                case 'n': one[0] = '\n', add = one; break;
                case 't': one[0] = '\t', add = one; break;
                default: one[0] = *c, add = one; break;
                }
            } else if (*c == '[' && c[1] == ':') { /* keep POSIX classes whole */
                const char *end = strstr(c, ":]");
                if (!end) return cap;
                size_t n = (size_t)(end + 2 - c);
                if (bl + n < sizeof body) memcpy(body + bl, c, n);
                bl += n;
                c = end + 1;
            } else if (*c == '-' && (c[1] == ']' || bl == 0)) {
                has_dash = 1;
            } else {
                one[0] = *c, add = one;
            }
            for (; add && *add; add++)
                if (bl < sizeof body) body[bl++] = *add;
        }
        if (!*c || bl >= sizeof body) return cap; /* unterminated or oversized: let the caller refuse it */
        body[bl] = 0;
        put(out, cap, &len, neg ? "[^" : "[");
        if (has_close) put(out, cap, &len, "]");
        put(out, cap, &len, body);
        if (has_dash) put(out, cap, &len, "-");
        put(out, cap, &len, "]");
    }
    if (len < cap) out[len] = 0;
    return len;
}

static kiln_status regex_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    const char *pat = kiln_attr_string(n, "pattern", NULL);
    KILN_FAIL_IF(!pat, KILN_ERR_INVALID_GRAPH, "RegexFullMatch needs a pattern");
    size_t cap = strlen(pat) * 16 + 64;
    char *anchored = malloc(cap);
    KILN_FAIL_IF(!anchored, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(anchored, "^(", 2);
    size_t len = translate_regex(pat, anchored + 2, cap - 5);
    if (len >= cap - 5) {
        free(anchored);
        return kiln_error(KILN_ERR_UNSUPPORTED, "RegexFullMatch pattern '%s' could not be translated", pat);
    }
    memcpy(anchored + 2 + len, ")$", 3);
    regex_t *re = malloc(sizeof *re);
    if (!re) {
        free(anchored);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    int rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    if (rc != 0) {
        char msg[256];
        regerror(rc, re, msg, sizeof msg);
        free(re);
        return kiln_error(KILN_ERR_UNSUPPORTED, "RegexFullMatch pattern '%s' is not supported: %s", pat, msg);
    }
    *out = re;
    return KILN_OK;
}

static kiln_status regex_run(kiln_kctx *k) {
    const regex_t *re = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(need_strings(x, "RegexFullMatch"));
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, KILN_BOOL, x->rank, x->dims, &y));
    int64_t n = kiln_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) ((uint8_t *)y->data)[i] = regexec(re, str_at(x, i), 0, NULL, 0) == 0;
    return KILN_OK;
}

/* ---------------------------------------------------------------- TfIdfVectorizer ----------------------------- */

typedef struct tfidf_gram {
    int size;
    int64_t first;  /* index into the pool */
    int64_t out;    /* output column */
} tfidf_gram;

typedef struct tfidf_params {
    int mode; /* 0 TF, 1 IDF, 2 TFIDF */
    int64_t min_n, max_n, max_skip, out_size;
    int strings;
    const kiln_attr *pool;
    tfidf_gram *grams;
    int64_t n_grams;
    const float *weights;
    int n_weights;
} tfidf_params;

static void tfidf_release(void *pp) {
    tfidf_params *p = pp;
    if (p) free(p->grams), free(p);
}

static kiln_status tfidf_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    tfidf_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    const char *mode = kiln_attr_string(n, "mode", "TF");
    p->mode = !strcmp(mode, "TF") ? 0 : !strcmp(mode, "IDF") ? 1 : !strcmp(mode, "TFIDF") ? 2 : -1;
    KILN_FAIL_IF(p->mode < 0, KILN_ERR_INVALID_GRAPH, "TfIdfVectorizer mode '%s'", mode);
    p->min_n = kiln_attr_int(n, "min_gram_length", 1);
    p->max_n = kiln_attr_int(n, "max_gram_length", 1);
    p->max_skip = kiln_attr_int(n, "max_skip_count", 0);
    KILN_FAIL_IF(p->min_n < 1 || p->max_n < p->min_n || p->max_skip < 0, KILN_ERR_INVALID_GRAPH,
                 "TfIdfVectorizer gram lengths / skip count out of range");
    int nc, ni;
    const int64_t *counts = kiln_attr_ints(n, "ngram_counts", &nc);
    const int64_t *idx = kiln_attr_ints(n, "ngram_indexes", &ni);
    p->weights = kiln_attr_floats(n, "weights", &p->n_weights);
    p->pool = kiln_node_attr(n, "pool_int64s");
    if (!p->pool || p->pool->n == 0) {
        p->pool = kiln_node_attr(n, "pool_strings");
        p->strings = 1;
    }
    KILN_FAIL_IF(!p->pool, KILN_ERR_INVALID_GRAPH, "TfIdfVectorizer needs pool_int64s or pool_strings");
    int64_t total = p->pool->n;
    for (int i = 0; i < ni; i++) {
        KILN_FAIL_IF(idx[i] < 0 || idx[i] >= ((int64_t)1 << 31), KILN_ERR_INVALID_GRAPH,
                     "TfIdfVectorizer ngram_indexes[%d] = %lld is outside 0..2^31-1", i, (long long)idx[i]);
        p->out_size = idx[i] + 1 > p->out_size ? idx[i] + 1 : p->out_size;
    }
    p->grams = calloc((size_t)(total + 1), sizeof *p->grams);
    KILN_FAIL_IF(!p->grams, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    int64_t id = 0;
    for (int i = 0; i < nc; i++) {
        int64_t b = counts[i], e = i + 1 < nc ? counts[i + 1] : total;
        KILN_FAIL_IF(b < 0 || e > total || b > e, KILN_ERR_INVALID_GRAPH, "ngram_counts out of range");
        int size = i + 1;
        for (int64_t s = b; s + size <= e; s += size, id++) {
            KILN_FAIL_IF(id >= ni, KILN_ERR_INVALID_GRAPH, "more n-grams in the pool than ngram_indexes");
            if (size < p->min_n || size > p->max_n) continue;
            p->grams[p->n_grams].size = size;
            p->grams[p->n_grams].first = s;
            p->grams[p->n_grams].out = idx[id];
            p->n_grams++;
        }
    }
    return KILN_OK;
}

static int pool_eq(const tfidf_params *p, int64_t pool_i, const kiln_tensor *x, int64_t xi) {
    if (p->strings) return x->dtype == KILN_STRING && !strcmp(p->pool->strings[pool_i], str_at(x, xi));
    return x->dtype != KILN_STRING && p->pool->ints[pool_i] == kiln_load_i64(x->dtype, x->data, xi);
}

static kiln_status tfidf_run(kiln_kctx *k) {
    const tfidf_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(x->rank > 2, KILN_ERR_SHAPE, "TfIdfVectorizer input must be [C] or [N, C]");
    int64_t rows = x->rank == 2 ? x->dims[0] : 1, C = x->rank == 0 ? 1 : x->dims[x->rank - 1];
    int64_t dims[2] = {rows, p->out_size};
    kiln_tensor *y;
    if (x->rank == 2) KILN_TRY(kiln_kout(k, 0, KILN_FLOAT, 2, dims, &y));
    else KILN_TRY(kiln_kout(k, 0, KILN_FLOAT, 1, dims + 1, &y));
    float *yd = y->data;
    for (int64_t i = 0; i < rows * p->out_size; i++) yd[i] = 0;
    for (int64_t r = 0; r < rows; r++) {
        float *freq = yd + r * p->out_size;
        /* a skip of C or more leaves only unigrams, which count at skip 1 alone: larger max_skip_count values
         * change nothing and must not cost a loop to 2^63 */
        int64_t skip_end = C - 1 > 1 ? C - 1 : 1;
        if (p->max_skip < skip_end) skip_end = p->max_skip + 1 < skip_end ? p->max_skip + 1 : skip_end;
        for (int64_t skip = 1; skip <= skip_end; skip++)
            for (int64_t start = 0; start < C; start++) {
                if (start + skip * (p->min_n - 1) >= C) break;
                /* grow the n-gram one item at a time while some pool n-gram still has it as a prefix */
                for (int64_t size = 1; size <= p->max_n; size++) {
                    int64_t last = start + (size - 1) * skip;
                    if (last >= C) break;
                    int prefix_alive = 0;
                    for (int64_t g = 0; g < p->n_grams; g++) {
                        const tfidf_gram *gr = &p->grams[g];
                        if (gr->size < size) continue;
                        int match = 1;
                        for (int64_t q = 0; q < size && match; q++) match = pool_eq(p, gr->first + q, x, r * C + start + q * skip);
                        if (!match) continue;
                        prefix_alive = 1;
                        if (gr->size == size && size >= p->min_n && (size > 1 || skip == 1)) freq[gr->out] += 1;
                    }
                    if (!prefix_alive) break;
                }
            }
        for (int64_t i = 0; i < p->out_size; i++) {
            float w = i < p->n_weights ? p->weights[i] : 1;
            if (p->mode == 1) freq[i] = freq[i] > 0 ? (p->n_weights ? w : 1) : 0;
            else if (p->mode == 2) freq[i] = p->n_weights ? w * freq[i] : freq[i];
        }
    }
    return KILN_OK;
}

const kiln_op_def kiln_cpu_ops_strings[] = {
    {"StringNormalizer", "", 10, norm_prepare, norm_release, norm_run},
    {"StringConcat", "", 20, NULL, NULL, concat_run},
    {"StringSplit", "", 20, split_prepare, split_release, split_run},
    {"RegexFullMatch", "", 20, regex_prepare, regex_release, regex_run},
    {"TfIdfVectorizer", "", 9, tfidf_prepare, tfidf_release, tfidf_run},
    {0},
};
