/* CPU kernels: the ai.onnx.ml ops the node tests cover (LabelEncoder, ArrayFeatureExtractor, Binarizer,
 * TreeEnsemble; see registry.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/registry.h"
#include "core/dtype.h"

/* ---------------------------------------------------------------- LabelEncoder -------------------------------- */

/* Keys and values as one typed list each: either strings, or numbers (int64 / float / any tensor dtype). */
typedef struct label_list {
    int n;
    int is_string;
    kiln_dtype dtype;      /* element dtype when numeric */
    const char **s;
    double *d;             /* numeric values widened (int64 keys compare exactly through i) */
    int64_t *i;
} label_list;

typedef struct label_params {
    label_list keys, vals;
    kiln_dtype out_dtype;
    const char *def_s;
    double def_d;
    int64_t def_i;
} label_params;

static void label_list_free(label_list *l) {
    free(l->s), free(l->d), free(l->i);
}

static void label_release(void *pp) {
    label_params *p = pp;
    if (!p) return;
    label_list_free(&p->keys), label_list_free(&p->vals);
    free(p);
}

static kiln_status label_list_load(const kiln_node *n, const char *prefix, label_list *l) {
    char name[64];
    const kiln_attr *a;
    snprintf(name, sizeof name, "%s_strings", prefix);
    if ((a = kiln_node_attr(n, name)) && a->type == KILN_ATTR_STRINGS) {
        l->n = a->n, l->is_string = 1, l->dtype = KILN_STRING;
        l->s = malloc(sizeof(char *) * (size_t)(a->n + 1));
        KILN_FAIL_IF(!l->s, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (int q = 0; q < a->n; q++) l->s[q] = a->strings[q];
        return KILN_OK;
    }
    snprintf(name, sizeof name, "%s_int64s", prefix);
    const kiln_attr *ai = kiln_node_attr(n, name);
    snprintf(name, sizeof name, "%s_floats", prefix);
    const kiln_attr *af = kiln_node_attr(n, name);
    snprintf(name, sizeof name, "%s_tensor", prefix);
    const kiln_attr *at = kiln_node_attr(n, name);
    int cnt = ai ? ai->n : af ? af->n : at && at->t ? (int)kiln_tensor_numel(at->t) : 0;
    KILN_FAIL_IF(!ai && !af && !(at && at->t), KILN_ERR_INVALID_GRAPH, "LabelEncoder has no %s_* attribute", prefix);
    l->n = cnt;
    if (at && at->t && at->t->dtype == KILN_STRING) {
        l->is_string = 1, l->dtype = KILN_STRING;
        l->s = malloc(sizeof(char *) * (size_t)(cnt + 1));
        KILN_FAIL_IF(!l->s, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (int q = 0; q < cnt; q++) l->s[q] = ((char *const *)at->t->data)[q] ? ((char *const *)at->t->data)[q] : "";
        return KILN_OK;
    }
    l->d = malloc(sizeof(double) * (size_t)(cnt + 1));
    l->i = malloc(sizeof(int64_t) * (size_t)(cnt + 1));
    KILN_FAIL_IF(!l->d || !l->i, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    l->dtype = ai ? KILN_INT64 : af ? KILN_FLOAT : at->t->dtype;
    for (int q = 0; q < cnt; q++) {
        if (ai) l->i[q] = ai->ints[q], l->d[q] = (double)ai->ints[q];
        else if (af) l->d[q] = af->floats[q], l->i[q] = (int64_t)af->floats[q];
        else l->d[q] = kiln_load_f64(at->t->dtype, at->t->data, q), l->i[q] = kiln_load_i64(at->t->dtype, at->t->data, q);
    }
    return KILN_OK;
}

static kiln_status label_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    label_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    KILN_TRY(label_list_load(n, "keys", &p->keys));
    KILN_TRY(label_list_load(n, "values", &p->vals));
    KILN_FAIL_IF(p->keys.n != p->vals.n, KILN_ERR_INVALID_GRAPH, "LabelEncoder has %d keys and %d values", p->keys.n,
                 p->vals.n);
    p->out_dtype = p->vals.dtype;
    p->def_s = kiln_attr_string(n, "default_string", "_Unused");
    p->def_i = kiln_attr_int(n, "default_int64", -1);
    p->def_d = kiln_attr_float(n, "default_float", -0.0f);
    const kiln_attr *dt = kiln_node_attr(n, "default_tensor");
    if (dt && dt->t && kiln_tensor_numel(dt->t) >= 1) {
        if (dt->t->dtype == KILN_STRING) p->def_s = ((char *const *)dt->t->data)[0];
        else p->def_d = kiln_load_f64(dt->t->dtype, dt->t->data, 0), p->def_i = kiln_load_i64(dt->t->dtype, dt->t->data, 0);
    }
    return KILN_OK;
}

static kiln_status label_run(kiln_kctx *k) {
    const label_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF((x->dtype == KILN_STRING) != p->keys.is_string, KILN_ERR_TYPE, "LabelEncoder input dtype %s does not "
                 "match its keys", kiln_dtype_name(x->dtype));
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, p->out_dtype, x->rank, x->dims, &y));
    int64_t n = kiln_tensor_numel(x);
    for (int64_t e = 0; e < n; e++) {
        int hit = -1;
        if (p->keys.is_string) {
            const char *s = ((char *const *)x->data)[e] ? ((char *const *)x->data)[e] : "";
            for (int q = 0; q < p->keys.n && hit < 0; q++) hit = strcmp(s, p->keys.s[q]) ? -1 : q;
        } else if (kiln_dtype_is_int(x->dtype)) {
            int64_t v = kiln_load_i64(x->dtype, x->data, e);
            for (int q = 0; q < p->keys.n && hit < 0; q++) hit = v == p->keys.i[q] ? q : -1;
        } else {
            double v = kiln_load_f64(x->dtype, x->data, e);
            for (int q = 0; q < p->keys.n && hit < 0; q++)
                hit = (v == p->keys.d[q] || (isnan(v) && isnan(p->keys.d[q]))) ? q : -1;
        }
        if (p->vals.is_string) {
            const char *s = hit >= 0 ? p->vals.s[hit] : p->def_s;
            KILN_TRY(kiln_tensor_set_string(y, e, s, strlen(s)));
        } else if (kiln_dtype_is_int(p->out_dtype)) {
            kiln_store_i64(p->out_dtype, y->data, e, hit >= 0 ? p->vals.i[hit] : p->def_i);
        } else {
            kiln_store_f64(p->out_dtype, y->data, e, hit >= 0 ? p->vals.d[hit] : p->def_d);
        }
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- ArrayFeatureExtractor / Binarizer ----------- */

static kiln_status afe_run(kiln_kctx *k) {
    const kiln_tensor *x, *ix;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &ix));
    KILN_FAIL_IF(x->rank < 1, KILN_ERR_SHAPE, "ArrayFeatureExtractor input must have rank >= 1");
    int64_t ni = kiln_tensor_numel(ix), last = x->dims[x->rank - 1], rows = kiln_tensor_numel(x) / (last ? last : 1);
    int64_t dims[KILN_MAX_DIMS];
    int r;
    if (x->rank == 1) dims[0] = 1, dims[1] = ni, r = 2;
    else {
        for (int i = 0; i < x->rank - 1; i++) dims[i] = x->dims[i];
        dims[x->rank - 1] = ni, r = x->rank;
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, dims, &y));
    size_t es = kiln_dtype_size(x->dtype);
    for (int64_t q = 0; q < ni; q++) {
        int64_t c = kiln_load_i64(ix->dtype, ix->data, q);
        KILN_FAIL_IF(c < 0 || c >= last, KILN_ERR_RUNTIME, "ArrayFeatureExtractor index %lld is outside [0, %lld)",
                     (long long)c, (long long)last);
        for (int64_t row = 0; row < rows; row++) {
            if (x->dtype == KILN_STRING) {
                const char *s = ((char *const *)x->data)[row * last + c];
                KILN_TRY(kiln_tensor_set_string(y, row * ni + q, s ? s : "", s ? strlen(s) : 0));
            } else {
                memcpy((char *)y->data + (size_t)(row * ni + q) * es, (const char *)x->data + (size_t)(row * last + c) * es, es);
            }
        }
    }
    return KILN_OK;
}

static kiln_status binarizer_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    double *t = malloc(sizeof *t);
    KILN_FAIL_IF(!t, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *t = kiln_attr_float(n, "threshold", 0);
    *out = t;
    return KILN_OK;
}

static kiln_status binarizer_run(kiln_kctx *k) {
    double thr = *(const double *)k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t n = kiln_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) kiln_store_f64(x->dtype, y->data, i, kiln_load_f64(x->dtype, x->data, i) > thr);
    return KILN_OK;
}

/* ---------------------------------------------------------------- TreeEnsemble -------------------------------- */

typedef struct tree_node {
    int mode; /* 0 LEQ, 1 LT, 2 GTE, 3 GT, 4 EQ, 5 NEQ, 6 MEMBER */
    int64_t feature;
    double split;
    int missing_true;
    int64_t child[2]; /* [true, false]: node index, or leaf index when is_leaf[] */
    int is_leaf[2];
    int64_t set_begin, set_end; /* MEMBER: range in members[] */
} tree_node;

typedef struct tree_params {
    tree_node *nodes;
    int64_t n_nodes;
    int64_t *leaf_target;
    double *leaf_weight;
    int64_t n_leaves;
    int64_t *roots;
    int n_roots;
    double *members;
    int64_t n_members;
    int aggregate; /* 0 avg, 1 sum, 2 min, 3 max */
    int post;      /* 0 none, 1 softmax, 2 logistic, 3 softmax_zero */
    int64_t n_targets;
} tree_params;

static void tree_release(void *pp) {
    tree_params *p = pp;
    if (!p) return;
    free(p->nodes), free(p->leaf_target), free(p->leaf_weight), free(p->roots), free(p->members);
    free(p);
}

static int64_t tensor_attr_i(const kiln_node *n, const char *name, int64_t i, int64_t def) {
    const kiln_attr *a = kiln_node_attr(n, name);
    if (!a) return def;
    if (a->type == KILN_ATTR_INTS) return i < a->n ? a->ints[i] : def;
    if (a->type == KILN_ATTR_TENSOR && a->t && i < kiln_tensor_numel(a->t)) return kiln_load_i64(a->t->dtype, a->t->data, i);
    return def;
}

static double tensor_attr_f(const kiln_node *n, const char *name, int64_t i, double def) {
    const kiln_attr *a = kiln_node_attr(n, name);
    if (!a) return def;
    if (a->type == KILN_ATTR_FLOATS) return i < a->n ? a->floats[i] : def;
    if (a->type == KILN_ATTR_TENSOR && a->t && i < kiln_tensor_numel(a->t)) return kiln_load_f64(a->t->dtype, a->t->data, i);
    return def;
}

static int64_t attr_len(const kiln_node *n, const char *name) {
    const kiln_attr *a = kiln_node_attr(n, name);
    if (!a) return 0;
    if (a->type == KILN_ATTR_TENSOR && a->t) return kiln_tensor_numel(a->t);
    return a->n;
}

/* Membership sets are listed in the order a depth-first walk (true branch first) meets MEMBER nodes, each set
 * ended by a NaN. */
static kiln_status assign_sets(tree_params *p, int64_t node, int64_t *cursor, int depth) {
    KILN_FAIL_IF(depth > 10000, KILN_ERR_INVALID_GRAPH, "tree is deeper than 10000 levels (cycle?)");
    tree_node *t = &p->nodes[node];
    if (t->mode == 6) {
        t->set_begin = *cursor;
        while (*cursor < p->n_members && !isnan(p->members[*cursor])) (*cursor)++;
        t->set_end = *cursor;
        if (*cursor < p->n_members) (*cursor)++;
    }
    for (int b = 0; b < 2; b++)
        if (!t->is_leaf[b]) KILN_TRY(assign_sets(p, t->child[b], cursor, depth + 1));
    return KILN_OK;
}

static kiln_status tree_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    tree_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    p->n_nodes = attr_len(n, "nodes_featureids");
    p->n_leaves = attr_len(n, "leaf_weights");
    p->n_roots = (int)attr_len(n, "tree_roots");
    p->n_members = attr_len(n, "membership_values");
    p->aggregate = (int)kiln_attr_int(n, "aggregate_function", 1);
    p->post = (int)kiln_attr_int(n, "post_transform", 0);
    p->n_targets = kiln_attr_int(n, "n_targets", 1);
    KILN_FAIL_IF(p->post > 3, KILN_ERR_UNSUPPORTED, "TreeEnsemble post_transform PROBIT is not supported");
    KILN_FAIL_IF(p->n_targets <= 0 || p->n_roots <= 0, KILN_ERR_INVALID_GRAPH, "TreeEnsemble needs trees and targets");
    p->nodes = calloc((size_t)p->n_nodes + 1, sizeof *p->nodes);
    p->leaf_target = calloc((size_t)p->n_leaves + 1, sizeof(int64_t));
    p->leaf_weight = calloc((size_t)p->n_leaves + 1, sizeof(double));
    p->roots = calloc((size_t)p->n_roots + 1, sizeof(int64_t));
    p->members = calloc((size_t)p->n_members + 1, sizeof(double));
    KILN_FAIL_IF(!p->nodes || !p->leaf_target || !p->leaf_weight || !p->roots || !p->members, KILN_ERR_OUT_OF_MEMORY,
                 "out of memory");
    for (int64_t i = 0; i < p->n_leaves; i++) {
        p->leaf_weight[i] = tensor_attr_f(n, "leaf_weights", i, 0);
        p->leaf_target[i] = tensor_attr_i(n, "leaf_targetids", i, 0);
        KILN_FAIL_IF(p->leaf_target[i] < 0 || p->leaf_target[i] >= p->n_targets, KILN_ERR_INVALID_GRAPH,
                     "leaf %lld targets %lld, outside [0, %lld)", (long long)i, (long long)p->leaf_target[i],
                     (long long)p->n_targets);
    }
    for (int64_t i = 0; i < p->n_members; i++) p->members[i] = tensor_attr_f(n, "membership_values", i, NAN);
    for (int64_t i = 0; i < p->n_nodes; i++) {
        tree_node *t = &p->nodes[i];
        t->mode = (int)tensor_attr_i(n, "nodes_modes", i, 0);
        t->feature = tensor_attr_i(n, "nodes_featureids", i, 0);
        t->split = tensor_attr_f(n, "nodes_splits", i, 0);
        t->missing_true = (int)tensor_attr_i(n, "nodes_missing_value_tracks_true", i, 0);
        t->child[0] = tensor_attr_i(n, "nodes_truenodeids", i, 0);
        t->child[1] = tensor_attr_i(n, "nodes_falsenodeids", i, 0);
        t->is_leaf[0] = (int)tensor_attr_i(n, "nodes_trueleafs", i, 0);
        t->is_leaf[1] = (int)tensor_attr_i(n, "nodes_falseleafs", i, 0);
        KILN_FAIL_IF(t->mode < 0 || t->mode > 6, KILN_ERR_INVALID_GRAPH, "node %lld has mode %d", (long long)i, t->mode);
        for (int b = 0; b < 2; b++)
            KILN_FAIL_IF(t->child[b] < 0 || t->child[b] >= (t->is_leaf[b] ? p->n_leaves : p->n_nodes),
                         KILN_ERR_INVALID_GRAPH, "node %lld has an out-of-range child", (long long)i);
    }
    int64_t cursor = 0;
    for (int r = 0; r < p->n_roots; r++) {
        p->roots[r] = tensor_attr_i(n, "tree_roots", r, 0);
        KILN_FAIL_IF(p->roots[r] < 0 || p->roots[r] >= p->n_nodes, KILN_ERR_INVALID_GRAPH, "tree root out of range");
        KILN_TRY(assign_sets(p, p->roots[r], &cursor, 0));
    }
    return KILN_OK;
}

static int tree_cmp(const tree_params *p, const tree_node *t, double x) {
    if (isnan(x) && t->missing_true) return 1;
    switch (t->mode) {
    case 0: return x <= t->split;
    case 1: return x < t->split;
    case 2: return x >= t->split;
    case 3: return x > t->split;
    case 4: return x == t->split;
    case 5: return x != t->split;
    default:
        for (int64_t i = t->set_begin; i < t->set_end; i++)
            if (p->members[i] == x) return 1;
        return 0;
    }
}

static kiln_status tree_run(kiln_kctx *k) {
    const tree_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(x->rank != 2, KILN_ERR_SHAPE, "TreeEnsemble input must be [N, features]");
    int64_t N = x->dims[0], F = x->dims[1], T = p->n_targets;
    int64_t dims[2] = {N, T};
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, 2, dims, &y));
    double *acc = malloc(sizeof(double) * (size_t)(T + 1));
    KILN_FAIL_IF(!acc, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = KILN_OK;
    for (int64_t row = 0; row < N && st == KILN_OK; row++) {
        for (int64_t t = 0; t < T; t++) acc[t] = p->aggregate == 2 ? INFINITY : p->aggregate == 3 ? -INFINITY : 0;
        for (int r = 0; r < p->n_roots && st == KILN_OK; r++) {
            const tree_node *nd = &p->nodes[p->roots[r]];
            int64_t leaf = -1;
            for (int64_t steps = 0; leaf < 0; steps++) {
                if (steps > p->n_nodes || nd->feature < 0 || nd->feature >= F) {
                    st = kiln_error(KILN_ERR_RUNTIME, "tree %d walk failed (feature out of range or cycle)", r);
                    break;
                }
                int b = tree_cmp(p, nd, kiln_load_f64(x->dtype, x->data, row * F + nd->feature)) ? 0 : 1;
                if (nd->is_leaf[b]) leaf = nd->child[b];
                else nd = &p->nodes[nd->child[b]];
            }
            if (leaf < 0) break;
            double w = p->leaf_weight[leaf];
            double *a = &acc[p->leaf_target[leaf]];
            if (p->aggregate == 0) *a += w / p->n_roots;
            else if (p->aggregate == 1) *a += w;
            else if (p->aggregate == 2) *a = fmin(*a, w);
            else *a = fmax(*a, w);
        }
        if (p->post == 2)
            for (int64_t t = 0; t < T; t++) acc[t] = 1 / (1 + exp(-acc[t]));
        if (p->post == 1 || p->post == 3) {
            double mx = -INFINITY, s = 0;
            for (int64_t t = 0; t < T; t++) mx = fmax(mx, acc[t]);
            for (int64_t t = 0; t < T; t++) s += acc[t] = (p->post == 3 && acc[t] == 0) ? 0 : exp(acc[t] - mx);
            for (int64_t t = 0; t < T; t++) acc[t] = s > 0 ? acc[t] / s : 0;
        }
        for (int64_t t = 0; t < T; t++) kiln_store_f64(x->dtype, y->data, row * T + t, acc[t]);
    }
    free(acc);
    return st;
}

const kiln_op_def kiln_cpu_ops_ml[] = {
    {"LabelEncoder", "ai.onnx.ml", 1, label_prepare, label_release, label_run},
    {"ArrayFeatureExtractor", "ai.onnx.ml", 1, NULL, NULL, afe_run},
    {"Binarizer", "ai.onnx.ml", 1, binarizer_prepare, free, binarizer_run},
    {"TreeEnsemble", "ai.onnx.ml", 5, tree_prepare, tree_release, tree_run},
    {0},
};
