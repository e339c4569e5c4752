/* Plan reader. Never trusts the bytes: every count, offset and length is checked before use, counts are checked
 * against the bytes left before anything is allocated for them, and nesting depth is bounded. Tensors borrow
 * their storage from the plan (owned=0), except STRING tensors, which are rebuilt as owned char* arrays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"
#include "plan/format.h"
#include "plan/plan.h"

typedef struct cursor {
    const uint8_t *p;
    size_t n, off;
    const char *sec; /* section name, for messages */
} cursor;

typedef struct reader {
    const uint8_t *strings;
    size_t n_strings;
    const uint8_t *weights;
    size_t n_weights;
} reader;

#define CORRUPT(...) kiln_error(KILN_ERR_CORRUPT_PLAN, __VA_ARGS__)

static kiln_status need(cursor *c, size_t n, const char *what) {
    if (c->n - c->off < n)
        return CORRUPT("corrupt plan: %s section ends at byte %zu while reading %s (%zu more bytes needed)", c->sec,
                       c->n, what, n - (c->n - c->off));
    return KILN_OK;
}

static kiln_status get_u32(cursor *c, uint32_t *v, const char *what) {
    KILN_TRY(need(c, 4, what));
    *v = plan_get_u32(c->p + c->off);
    c->off += 4;
    return KILN_OK;
}

static kiln_status get_u64(cursor *c, uint64_t *v, const char *what) {
    KILN_TRY(need(c, 8, what));
    *v = plan_get_u64(c->p + c->off);
    c->off += 8;
    return KILN_OK;
}

static kiln_status get_i32(cursor *c, int32_t *v, const char *what) {
    uint32_t u;
    KILN_TRY(get_u32(c, &u, what));
    *v = (int32_t)u;
    return KILN_OK;
}

static kiln_status get_i64(cursor *c, int64_t *v, const char *what) {
    uint64_t u;
    KILN_TRY(get_u64(c, &u, what));
    *v = (int64_t)u;
    return KILN_OK;
}

/* A count of records, each at least `min_bytes` long: refused when the section cannot hold that many, so a
 * corrupt count never drives a huge allocation. */
static kiln_status get_count(cursor *c, size_t min_bytes, int *n, const char *what) {
    uint32_t u;
    KILN_TRY(get_u32(c, &u, what));
    size_t left = c->n - c->off;
    if (u > (uint32_t)INT32_MAX || (min_bytes && u > left / min_bytes))
        return CORRUPT("corrupt plan: %s count %u at byte %zu of the %s section exceeds what the section holds", what,
                       u, c->off - 4, c->sec);
    *n = (int)u;
    return KILN_OK;
}

/* A string reference: points into the strings section (NUL-terminated there); NULL when encoded as absent. */
static kiln_status get_str(const reader *r, cursor *c, const char **s, size_t *len, const char *what) {
    uint32_t off, n;
    KILN_TRY(get_u32(c, &off, what));
    KILN_TRY(get_u32(c, &n, what));
    if (n == PLAN_NULL_STR) {
        *s = NULL;
        if (len) *len = 0;
        return KILN_OK;
    }
    if (off >= r->n_strings || n >= r->n_strings - off || r->strings[off + n] != 0)
        return CORRUPT("corrupt plan: %s string (offset %u, length %u) at byte %zu of the %s section is outside the "
                       "string table (%zu bytes)",
                       what, off, n, c->off - 8, c->sec, r->n_strings);
    *s = (const char *)r->strings + off;
    if (len) *len = n;
    return KILN_OK;
}

static kiln_status get_str_req(const reader *r, cursor *c, const char **s, const char *what) {
    KILN_TRY(get_str(r, c, s, NULL, what));
    KILN_FAIL_IF(!*s, KILN_ERR_CORRUPT_PLAN, "corrupt plan: %s is missing (byte %zu of the %s section)", what,
                 c->off - 8, c->sec);
    return KILN_OK;
}

static char *arena_str(kiln_graph *g, const char *s, size_t n) {
    char *d = kiln_arena_strndup(&g->arena, s ? s : "", s ? n : 0);
    if (!d) kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    return d;
}

static kiln_status get_type(const reader *r, cursor *c, kiln_graph *g, kiln_type *t) {
    uint32_t kind, ekind, dtype;
    int32_t rank;
    KILN_TRY(get_u32(c, &kind, "type kind"));
    KILN_TRY(get_u32(c, &ekind, "type element kind"));
    KILN_TRY(get_u32(c, &dtype, "type dtype"));
    KILN_TRY(get_i32(c, &rank, "type rank"));
    KILN_FAIL_IF(kind >= KILN_KIND_COUNT || ekind >= KILN_KIND_COUNT || dtype >= KILN_DTYPE_COUNT ||
                     rank < -1 || rank > KILN_MAX_DIMS,
                 KILN_ERR_CORRUPT_PLAN,
                 "corrupt plan: bad type (kind %u, element kind %u, dtype %u, rank %d) before byte %zu of the %s "
                 "section",
                 kind, ekind, dtype, rank, c->off, c->sec);
    memset(t, 0, sizeof *t);
    t->kind = (kiln_value_kind)kind;
    t->elem_kind = (kiln_value_kind)ekind;
    t->dtype = (kiln_dtype)dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++) {
        const char *sym = NULL;
        size_t n;
        KILN_TRY(get_i64(c, &t->dims[i].v, "dim"));
        KILN_TRY(get_str(r, c, &sym, &n, "dim name"));
        if (sym && !(t->dims[i].sym = arena_str(g, sym, n))) return KILN_ERR_OUT_OF_MEMORY;
    }
    return KILN_OK;
}

static kiln_status get_tensor_into(const reader *r, cursor *c, kiln_tensor *t) {
    uint32_t dtype;
    int32_t rank;
    int64_t dims[KILN_MAX_DIMS];
    KILN_TRY(get_u32(c, &dtype, "tensor dtype"));
    KILN_TRY(get_i32(c, &rank, "tensor rank"));
    KILN_FAIL_IF(!kiln_dtype_is_valid((int)dtype) || rank < 0 || rank > KILN_MAX_DIMS, KILN_ERR_CORRUPT_PLAN,
                 "corrupt plan: tensor with dtype %u and rank %d before byte %zu of the %s section", dtype, rank,
                 c->off, c->sec);
    for (int i = 0; i < rank; i++) KILN_TRY(get_i64(c, &dims[i], "tensor dim"));
    int64_t numel = kiln_numel(rank, dims);
    KILN_FAIL_IF(numel < 0, KILN_ERR_CORRUPT_PLAN,
                 "corrupt plan: tensor with a negative dim or an element count overflow before byte %zu of the %s "
                 "section",
                 c->off, c->sec);
    if (dtype == KILN_STRING) {
        uint64_t n;
        KILN_TRY(get_u64(c, &n, "string tensor count"));
        KILN_FAIL_IF(n != (uint64_t)numel || n > (c->n - c->off) / 8, KILN_ERR_CORRUPT_PLAN,
                     "corrupt plan: string tensor of %lld elements lists %llu strings (byte %zu of the %s section)",
                     (long long)numel, (unsigned long long)n, c->off - 8, c->sec);
        KILN_TRY(kiln_tensor_alloc(t, KILN_STRING, rank, dims));
        for (uint64_t i = 0; i < n; i++) {
            const char *s = NULL;
            size_t len;
            KILN_TRY(get_str(r, c, &s, &len, "string element"));
            KILN_TRY(kiln_tensor_set_string(t, (int64_t)i, s ? s : "", s ? len : 0));
        }
        return KILN_OK;
    }
    uint64_t off, nbytes;
    KILN_TRY(get_u64(c, &off, "tensor data offset"));
    KILN_TRY(get_u64(c, &nbytes, "tensor data size"));
    size_t es = kiln_dtype_size((kiln_dtype)dtype);
    KILN_FAIL_IF((uint64_t)numel > SIZE_MAX / es || nbytes != (uint64_t)numel * es, KILN_ERR_CORRUPT_PLAN,
                 "corrupt plan: tensor of %lld %s elements claims %llu bytes (byte %zu of the %s section)",
                 (long long)numel, kiln_dtype_name((kiln_dtype)dtype), (unsigned long long)nbytes, c->off - 8,
                 c->sec);
    KILN_FAIL_IF(off % KILN_PLAN_WEIGHT_ALIGN || off > r->n_weights || nbytes > r->n_weights - off,
                 KILN_ERR_CORRUPT_PLAN,
                 "corrupt plan: tensor data [%llu, +%llu) is misaligned or outside the weights section (%zu bytes)",
                 (unsigned long long)off, (unsigned long long)nbytes, r->n_weights);
    memset(t, 0, sizeof *t);
    t->dtype = (kiln_dtype)dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    t->data = (void *)(r->weights + off); /* borrowed: the plan bytes outlive the graph (see plan.h) */
    t->owned = 0;
    return KILN_OK;
}

static kiln_status get_tensor(const reader *r, cursor *c, kiln_tensor **out) {
    kiln_tensor *t = calloc(1, sizeof *t);
    KILN_FAIL_IF(!t, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = get_tensor_into(r, c, t);
    if (st != KILN_OK) {
        kiln_tensor_release(t);
        free(t);
        return st;
    }
    *out = t;
    return KILN_OK;
}

static kiln_status get_opt_tensor(const reader *r, cursor *c, kiln_tensor **out) {
    uint32_t present;
    KILN_TRY(get_u32(c, &present, "tensor presence"));
    KILN_FAIL_IF(present > 1, KILN_ERR_CORRUPT_PLAN, "corrupt plan: bad tensor presence flag %u", present);
    return present ? get_tensor(r, c, out) : KILN_OK;
}

static kiln_status get_graph(const reader *r, cursor *c, kiln_graph *parent, int depth, kiln_graph **out);

static kiln_status get_opt_graph(const reader *r, cursor *c, kiln_graph *parent, int depth, kiln_graph **out) {
    uint32_t present;
    KILN_TRY(get_u32(c, &present, "graph presence"));
    KILN_FAIL_IF(present > 1, KILN_ERR_CORRUPT_PLAN, "corrupt plan: bad graph presence flag %u", present);
    return present ? get_graph(r, c, parent, depth, out) : KILN_OK;
}

static void *arena_array(kiln_graph *g, int n, size_t elem) {
    void *p = kiln_arena_alloc(&g->arena, elem * (size_t)(n + 1));
    if (!p) kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    return p;
}

static kiln_status get_attr(const reader *r, cursor *c, kiln_graph *g, int depth, kiln_attr *a) {
    const char *name = NULL;
    uint32_t type;
    KILN_TRY(get_str_req(r, c, &name, "attribute name"));
    if (!(a->name = arena_str(g, name, strlen(name)))) return KILN_ERR_OUT_OF_MEMORY;
    KILN_TRY(get_u32(c, &type, "attribute type"));
    KILN_FAIL_IF(type >= KILN_ATTR_TYPE_COUNT, KILN_ERR_CORRUPT_PLAN,
                 "corrupt plan: attribute '%s' has unknown type %u", a->name, type);
    a->type = (kiln_attr_type)type;
    int n = 0;
    switch (a->type) {
    case KILN_ATTR_FLOAT: {
        uint32_t u;
        KILN_TRY(get_u32(c, &u, "float attribute"));
        memcpy(&a->f, &u, 4);
        break;
    }
    case KILN_ATTR_INT: KILN_TRY(get_i64(c, &a->i, "int attribute")); break;
    case KILN_ATTR_STRING: {
        const char *s = NULL;
        size_t len;
        KILN_TRY(get_str(r, c, &s, &len, "string attribute"));
        if (!(a->s = arena_str(g, s, len))) return KILN_ERR_OUT_OF_MEMORY;
        a->s_len = s ? len : 0;
        break;
    }
    case KILN_ATTR_TENSOR:
    case KILN_ATTR_SPARSE_TENSOR: KILN_TRY(get_opt_tensor(r, c, &a->t)); break;
    case KILN_ATTR_GRAPH: KILN_TRY(get_opt_graph(r, c, g, depth + 1, &a->g)); break;
    case KILN_ATTR_FLOATS:
        KILN_TRY(get_count(c, 4, &n, "float list"));
        if (!(a->floats = arena_array(g, n, sizeof(float)))) return KILN_ERR_OUT_OF_MEMORY;
        a->n = n;
        for (int i = 0; i < n; i++) {
            uint32_t u;
            KILN_TRY(get_u32(c, &u, "float list element"));
            memcpy(&a->floats[i], &u, 4);
        }
        break;
    case KILN_ATTR_INTS:
        KILN_TRY(get_count(c, 8, &n, "int list"));
        if (!(a->ints = arena_array(g, n, sizeof(int64_t)))) return KILN_ERR_OUT_OF_MEMORY;
        a->n = n;
        for (int i = 0; i < n; i++) KILN_TRY(get_i64(c, &a->ints[i], "int list element"));
        break;
    case KILN_ATTR_STRINGS:
        KILN_TRY(get_count(c, 8, &n, "string list"));
        if (!(a->strings = arena_array(g, n, sizeof(char *))) ||
            !(a->string_lens = arena_array(g, n, sizeof(size_t))))
            return KILN_ERR_OUT_OF_MEMORY;
        a->n = n;
        for (int i = 0; i < n; i++) {
            const char *s = NULL;
            size_t len;
            KILN_TRY(get_str(r, c, &s, &len, "string list element"));
            if (!(a->strings[i] = arena_str(g, s, len))) return KILN_ERR_OUT_OF_MEMORY;
            a->string_lens[i] = s ? len : 0;
        }
        break;
    case KILN_ATTR_TENSORS:
    case KILN_ATTR_SPARSE_TENSORS:
        KILN_TRY(get_count(c, 4, &n, "tensor list"));
        if (!(a->tensors = arena_array(g, n, sizeof(kiln_tensor *)))) return KILN_ERR_OUT_OF_MEMORY;
        a->n = n; /* entries stay NULL until decoded, so a failure part-way frees only what exists */
        for (int i = 0; i < n; i++) KILN_TRY(get_opt_tensor(r, c, &a->tensors[i]));
        break;
    case KILN_ATTR_GRAPHS:
        KILN_TRY(get_count(c, 4, &n, "graph list"));
        if (!(a->graphs = arena_array(g, n, sizeof(kiln_graph *)))) return KILN_ERR_OUT_OF_MEMORY;
        a->n = n;
        for (int i = 0; i < n; i++) KILN_TRY(get_opt_graph(r, c, g, depth + 1, &a->graphs[i]));
        break;
    case KILN_ATTR_TYPE_PROTO: {
        uint32_t present;
        KILN_TRY(get_u32(c, &present, "type presence"));
        KILN_FAIL_IF(present > 1, KILN_ERR_CORRUPT_PLAN, "corrupt plan: bad type presence flag %u", present);
        if (present) {
            if (!(a->tp = arena_array(g, 1, sizeof(kiln_type)))) return KILN_ERR_OUT_OF_MEMORY;
            KILN_TRY(get_type(r, c, g, a->tp));
        }
        break;
    }
    case KILN_ATTR_TYPE_PROTOS:
        KILN_TRY(get_count(c, 16, &n, "type list"));
        if (!(a->tps = arena_array(g, n, sizeof(kiln_type)))) return KILN_ERR_OUT_OF_MEMORY;
        a->n = n;
        for (int i = 0; i < n; i++) KILN_TRY(get_type(r, c, g, &a->tps[i]));
        break;
    default: break;
    }
    return KILN_OK;
}

static kiln_status get_ids(cursor *c, const kiln_graph *g, int allow_absent, int *n, int **ids, const char *what) {
    KILN_TRY(get_count(c, 4, n, what));
    *ids = malloc(sizeof(int) * (size_t)(*n + 1));
    KILN_FAIL_IF(!*ids, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < *n; i++) {
        int32_t v;
        kiln_status st = get_i32(c, &v, what);
        if (st == KILN_OK && (v < (allow_absent ? -1 : 0) || v >= g->n_values))
            st = CORRUPT("corrupt plan: %s %d refers to value %d of a graph with %d values", what, i, v, g->n_values);
        if (st != KILN_OK) {
            free(*ids);
            *ids = NULL;
            return st;
        }
        (*ids)[i] = v;
    }
    return KILN_OK;
}

/* The writer stores nodes in topological order; checking it here (linear time) also sets the producers. */
static kiln_status check_order(kiln_graph *g) {
    for (int i = 0; i < g->n_values; i++) g->values[i].producer = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0) continue;
            const kiln_ir_value *val = &g->values[v];
            KILN_FAIL_IF(val->producer < 0 && !val->is_input && !val->init && !val->is_outer, KILN_ERR_CORRUPT_PLAN,
                         "corrupt plan: node %d ('%s', %s) reads '%s' before anything produces it", i, n->name,
                         n->op_type, val->name);
        }
        for (int j = 0; j < n->n_out; j++) {
            int v = n->out[j];
            if (v < 0) continue;
            kiln_ir_value *val = &g->values[v];
            KILN_FAIL_IF(val->producer >= 0 || val->is_input || val->init, KILN_ERR_CORRUPT_PLAN,
                         "corrupt plan: node %d ('%s', %s) writes '%s', which already has a value", i, n->name,
                         n->op_type, val->name);
            val->producer = i;
        }
    }
    return KILN_OK;
}

static kiln_status get_graph_body(const reader *r, cursor *c, kiln_graph *g, int depth) {
    const char *s = NULL;
    size_t len;
    int n;
    KILN_TRY(get_str(r, c, &s, &len, "graph name"));
    if (!(g->name = arena_str(g, s, len))) return KILN_ERR_OUT_OF_MEMORY;

    KILN_TRY(get_count(c, 28, &n, "value"));
    for (int i = 0; i < n; i++) {
        const char *name = NULL;
        uint32_t flags;
        KILN_TRY(get_str_req(r, c, &name, "value name"));
        int id = kiln_graph_add_value(g, name);
        if (id < 0) return KILN_ERR_OUT_OF_MEMORY;
        kiln_ir_value *v = &g->values[id];
        KILN_TRY(get_type(r, c, g, &v->type));
        KILN_TRY(get_u32(c, &flags, "value flags"));
        KILN_FAIL_IF(flags & ~(uint32_t)(PLAN_V_INPUT | PLAN_V_OUTPUT | PLAN_V_OUTER | PLAN_V_INIT),
                     KILN_ERR_CORRUPT_PLAN, "corrupt plan: value '%s' has unknown flags 0x%x", v->name, flags);
        v->is_input = !!(flags & PLAN_V_INPUT);
        v->is_output = !!(flags & PLAN_V_OUTPUT);
        v->is_outer = !!(flags & PLAN_V_OUTER);
        if (flags & PLAN_V_INIT) KILN_TRY(get_tensor(r, c, &g->values[id].init));
    }

    KILN_TRY(get_count(c, 40, &n, "node"));
    for (int i = 0; i < n; i++) {
        const char *name, *op, *domain;
        int32_t opset;
        KILN_TRY(get_str(r, c, &name, NULL, "node name"));
        KILN_TRY(get_str_req(r, c, &op, "node op type"));
        KILN_TRY(get_str(r, c, &domain, NULL, "node domain"));
        KILN_TRY(get_i32(c, &opset, "node opset"));
        int n_in, n_out, *ins, *outs = NULL;
        KILN_TRY(get_ids(c, g, 1, &n_in, &ins, "node input"));
        kiln_status st = get_ids(c, g, 1, &n_out, &outs, "node output");
        int node = -1;
        if (st == KILN_OK) {
            node = kiln_graph_add_node(g, name ? name : "", op, domain ? domain : "", opset, n_in, n_out);
            if (node < 0) st = KILN_ERR_OUT_OF_MEMORY;
        }
        if (st == KILN_OK) {
            memcpy(g->nodes[node].in, ins, sizeof(int) * (size_t)n_in);
            memcpy(g->nodes[node].out, outs, sizeof(int) * (size_t)n_out);
        }
        free(ins);
        free(outs);
        KILN_TRY(st);
        int n_attrs;
        KILN_TRY(get_count(c, 12, &n_attrs, "attribute"));
        if (n_attrs) {
            kiln_attr *a = kiln_graph_node_alloc_attrs(g, node, n_attrs);
            if (!a) return KILN_ERR_OUT_OF_MEMORY;
            for (int j = 0; j < n_attrs; j++) KILN_TRY(get_attr(r, c, g, depth, &a[j]));
        }
    }

    int *ids;
    KILN_TRY(get_ids(c, g, 0, &n, &ids, "graph input"));
    kiln_status st = KILN_OK;
    for (int i = 0; i < n && st == KILN_OK; i++) st = kiln_graph_add_input(g, ids[i]);
    free(ids);
    KILN_TRY(st);
    KILN_TRY(get_ids(c, g, 0, &n, &ids, "graph output"));
    for (int i = 0; i < n && st == KILN_OK; i++) st = kiln_graph_add_output(g, ids[i]);
    free(ids);
    KILN_TRY(st);

    KILN_TRY(get_count(c, 12, &n, "opset import"));
    if (n) {
        if (!(g->opsets = arena_array(g, n, sizeof(kiln_opset)))) return KILN_ERR_OUT_OF_MEMORY;
        g->n_opsets = n;
        for (int i = 0; i < n; i++) {
            const char *d = NULL;
            KILN_TRY(get_str(r, c, &d, &len, "opset domain"));
            if (!(g->opsets[i].domain = arena_str(g, d, len))) return KILN_ERR_OUT_OF_MEMORY;
            int32_t ver;
            KILN_TRY(get_i32(c, &ver, "opset version"));
            g->opsets[i].version = ver;
        }
    }
    return check_order(g);
}

static kiln_status get_graph(const reader *r, cursor *c, kiln_graph *parent, int depth, kiln_graph **out) {
    KILN_FAIL_IF(depth > PLAN_MAX_GRAPH_DEPTH, KILN_ERR_CORRUPT_PLAN,
                 "corrupt plan: subgraphs nested deeper than %d levels", PLAN_MAX_GRAPH_DEPTH);
    kiln_graph *g = kiln_graph_create(parent);
    if (!g) return KILN_ERR_OUT_OF_MEMORY;
    kiln_status st = get_graph_body(r, c, g, depth);
    if (st != KILN_OK) {
        kiln_graph_destroy(g);
        return st;
    }
    *out = g;
    return KILN_OK;
}

static kiln_status get_profiles(const reader *r, cursor *c, kiln_plan *p) {
    int n;
    KILN_TRY(get_count(c, 4, &n, "profile"));
    if (!n) return KILN_OK;
    p->profiles = calloc((size_t)n, sizeof *p->profiles);
    KILN_FAIL_IF(!p->profiles, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->n_profiles = n;
    for (int i = 0; i < n; i++) {
        kiln_profile_data *pd = &p->profiles[i];
        int nr;
        KILN_TRY(get_count(c, 12, &nr, "profile input"));
        if (!nr) continue;
        pd->ranges = calloc((size_t)nr, sizeof *pd->ranges);
        KILN_FAIL_IF(!pd->ranges, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (int j = 0; j < nr; j++) {
            kiln_shape_range *sr = &pd->ranges[j];
            const char *name = NULL;
            int32_t rank;
            KILN_TRY(get_str_req(r, c, &name, "profile input name"));
            sr->input = strdup(name);
            KILN_FAIL_IF(!sr->input, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            pd->n = j + 1;
            KILN_TRY(get_i32(c, &rank, "profile rank"));
            KILN_FAIL_IF(rank < 0 || rank > KILN_MAX_DIMS, KILN_ERR_CORRUPT_PLAN,
                         "corrupt plan: profile %d input '%s' has rank %d", i, name, rank);
            sr->rank = rank;
            for (int d = 0; d < rank; d++) {
                KILN_TRY(get_i64(c, &sr->min[d], "profile min"));
                KILN_TRY(get_i64(c, &sr->opt[d], "profile opt"));
                KILN_TRY(get_i64(c, &sr->max[d], "profile max"));
                KILN_FAIL_IF(sr->min[d] < 0 || sr->min[d] > sr->opt[d] || sr->opt[d] > sr->max[d],
                             KILN_ERR_CORRUPT_PLAN,
                             "corrupt plan: profile %d input '%s' dim %d has min %lld, opt %lld, max %lld", i, name,
                             d, (long long)sr->min[d], (long long)sr->opt[d], (long long)sr->max[d]);
            }
        }
    }
    return KILN_OK;
}

kiln_status kiln_plan_read_header(const void *data, size_t size, kiln_plan_header *h) {
    memset(h, 0, sizeof *h);
    const uint8_t *b = data;
    KILN_FAIL_IF(!b, KILN_ERR_INVALID_ARGUMENT, "plan data is NULL");
    KILN_FAIL_IF(size >= 8 && memcmp(b, KILN_PLAN_MAGIC, 8) != 0, KILN_ERR_CORRUPT_PLAN,
                 "not a kiln plan (the file does not start with \"KILNPLAN\")");
    KILN_FAIL_IF(size < PLAN_HEADER_FIXED + PLAN_TRAILER, KILN_ERR_CORRUPT_PLAN,
                 "%s: %zu bytes is shorter than a plan header (%d bytes)",
                 size >= 8 ? "truncated kiln plan" : "not a kiln plan", size, PLAN_HEADER_FIXED + PLAN_TRAILER);
    uint64_t file_size = plan_get_u64(b + PLAN_OFF_FILE_SIZE);
    KILN_FAIL_IF(file_size != size, KILN_ERR_CORRUPT_PLAN,
                 "corrupt plan: its header says %llu bytes but %zu were given (%s)", (unsigned long long)file_size,
                 size, file_size > size ? "truncated" : "corrupted or extra bytes");
    uint32_t stored = plan_get_u32(b + size - PLAN_TRAILER);
    uint32_t crc = kiln_crc32c(0, b, size - PLAN_TRAILER);
    KILN_FAIL_IF(stored != crc, KILN_ERR_CORRUPT_PLAN,
                 "corrupt plan: checksum mismatch (stored 0x%08x, computed 0x%08x over %zu bytes)", stored, crc,
                 size - PLAN_TRAILER);
    h->format_version = plan_get_u32(b + PLAN_OFF_FORMAT);
    h->file_size = file_size;
    KILN_FAIL_IF(h->format_version != KILN_PLAN_FORMAT_VERSION, KILN_ERR_INCOMPATIBLE_PLAN,
                 "incompatible plan: plan format v%u, this kiln (%s) reads v%u", h->format_version, kiln_version(),
                 KILN_PLAN_FORMAT_VERSION);
    uint32_t n_sections = plan_get_u32(b + PLAN_OFF_N_SECTIONS);
    uint32_t header_size = plan_get_u32(b + PLAN_OFF_HEADER_SIZE);
    KILN_FAIL_IF(n_sections > PLAN_MAX_SECTIONS ||
                     header_size != PLAN_HEADER_FIXED + n_sections * PLAN_SECTION_ENTRY ||
                     header_size > size - PLAN_TRAILER,
                 KILN_ERR_CORRUPT_PLAN, "corrupt plan: header size %u does not fit %u sections in a %zu-byte file",
                 header_size, n_sections, size);
    h->n_sections = (int)n_sections;
    h->kiln_version_number = plan_get_u32(b + PLAN_OFF_KILN_VERSION_NUMBER);
    memcpy(h->kiln_version, b + PLAN_OFF_KILN_VERSION, PLAN_VERSION_CHARS);
    h->kiln_version[PLAN_VERSION_CHARS] = 0;
    uint32_t backend = plan_get_u32(b + PLAN_OFF_BACKEND);
    KILN_FAIL_IF(backend == KILN_BACKEND_AUTO || backend >= KILN_BACKEND_COUNT, KILN_ERR_CORRUPT_PLAN,
                 "corrupt plan: unknown backend %u", backend);
    h->backend = (kiln_backend)backend;
    h->build_flags = plan_get_u32(b + PLAN_OFF_FLAGS);
    h->opt_level = plan_get_u32(b + PLAN_OFF_OPT_LEVEL);
    return KILN_OK;
}

static const char *section_name(uint32_t id) {
    switch (id) {
    case PLAN_SEC_STRINGS: return "strings";
    case PLAN_SEC_GRAPH: return "graph";
    case PLAN_SEC_PROFILES: return "profiles";
    case PLAN_SEC_WEIGHTS: return "weights";
    case PLAN_SEC_DEVICE: return "device";
    default: return "unknown";
    }
}

kiln_status kiln_plan_read(const void *data, size_t size, kiln_plan *out) {
    memset(out, 0, sizeof *out);
    kiln_plan_header h;
    KILN_TRY(kiln_plan_read_header(data, size, &h));
    KILN_FAIL_IF(h.kiln_version_number != KILN_VERSION_NUMBER, KILN_ERR_INCOMPATIBLE_PLAN,
                 "incompatible plan: built by kiln %s (%u), this is kiln %s (%d); rebuild the plan",
                 h.kiln_version, h.kiln_version_number, kiln_version(), KILN_VERSION_NUMBER);
    KILN_FAIL_IF(!kiln_backend_available(h.backend), KILN_ERR_INCOMPATIBLE_PLAN,
                 "incompatible plan: built for %s, this runtime is CPU only (kiln was built without %s)",
                 kiln_backend_name(h.backend), kiln_backend_name(h.backend));
    const uint8_t *b = data;
    const uint8_t *sec_p[PLAN_SEC_DEVICE + 1] = {0};
    size_t sec_n[PLAN_SEC_DEVICE + 1] = {0};
    for (int i = 0; i < h.n_sections; i++) {
        const uint8_t *e = b + PLAN_HEADER_FIXED + (size_t)i * PLAN_SECTION_ENTRY;
        uint32_t id = plan_get_u32(e);
        uint64_t off = plan_get_u64(e + 8), n = plan_get_u64(e + 16);
        uint64_t body_end = size - PLAN_TRAILER;
        KILN_FAIL_IF(off < PLAN_HEADER_FIXED + (uint64_t)h.n_sections * PLAN_SECTION_ENTRY || off > body_end ||
                         n > body_end - off,
                     KILN_ERR_CORRUPT_PLAN,
                     "corrupt plan: %s section [%llu, +%llu) lies outside the plan body [%u, %llu)", section_name(id),
                     (unsigned long long)off, (unsigned long long)n,
                     (unsigned)(PLAN_HEADER_FIXED + h.n_sections * PLAN_SECTION_ENTRY),
                     (unsigned long long)body_end);
        if (id == 0 || id > PLAN_SEC_DEVICE) continue; /* a newer writer's optional section */
        KILN_FAIL_IF(sec_p[id], KILN_ERR_CORRUPT_PLAN, "corrupt plan: two %s sections", section_name(id));
        KILN_FAIL_IF(id == PLAN_SEC_WEIGHTS && off % KILN_PLAN_WEIGHT_ALIGN, KILN_ERR_CORRUPT_PLAN,
                     "corrupt plan: weights section at byte %llu is not %d-byte aligned", (unsigned long long)off,
                     KILN_PLAN_WEIGHT_ALIGN);
        sec_p[id] = b + off;
        sec_n[id] = (size_t)n;
    }
    static const uint32_t required[] = {PLAN_SEC_STRINGS, PLAN_SEC_GRAPH, PLAN_SEC_PROFILES, PLAN_SEC_WEIGHTS};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        KILN_FAIL_IF(!sec_p[required[i]], KILN_ERR_CORRUPT_PLAN, "corrupt plan: no %s section",
                     section_name(required[i]));
    if (h.backend == KILN_BACKEND_CUDA) {
        KILN_FAIL_IF(!sec_p[PLAN_SEC_DEVICE], KILN_ERR_CORRUPT_PLAN, "corrupt plan: a CUDA plan without a device section");
        KILN_FAIL_IF(sec_n[PLAN_SEC_DEVICE] != KILN_PLAN_DEVICE_RECORD, KILN_ERR_CORRUPT_PLAN,
                     "corrupt plan: device section has %zu bytes, expected %d", sec_n[PLAN_SEC_DEVICE],
                     KILN_PLAN_DEVICE_RECORD);
        const uint8_t *d = sec_p[PLAN_SEC_DEVICE];
        kiln_plan_device *dv = &out->meta.device;
        memcpy(dv->name, d, 255);
        dv->name[255] = 0;
        dv->cc_major = plan_get_u32(d + 256);
        dv->cc_minor = plan_get_u32(d + 260);
        memcpy(dv->uuid, d + 264, 16);
        dv->cuda_runtime_version = plan_get_u32(d + 280);
        dv->cuda_driver_version = plan_get_u32(d + 284);
        dv->cudnn_version = plan_get_u32(d + 288);
        dv->cublaslt_version = plan_get_u32(d + 292);
        out->meta.has_device = 1;
    }
    reader r = {sec_p[PLAN_SEC_STRINGS], sec_n[PLAN_SEC_STRINGS], sec_p[PLAN_SEC_WEIGHTS], sec_n[PLAN_SEC_WEIGHTS]};
    out->meta.backend = h.backend;
    out->meta.build_flags = h.build_flags;
    out->meta.opt_level = h.opt_level;
    out->kiln_version_number = h.kiln_version_number;
    memcpy(out->kiln_version, h.kiln_version, sizeof out->kiln_version);

    cursor c = {sec_p[PLAN_SEC_GRAPH], sec_n[PLAN_SEC_GRAPH], 0, "graph"};
    kiln_status st = get_graph(&r, &c, NULL, 0, &out->graph);
    if (st == KILN_OK && c.off != c.n)
        st = CORRUPT("corrupt plan: %zu stray bytes after the graph", c.n - c.off);
    if (st == KILN_OK) {
        cursor pc = {sec_p[PLAN_SEC_PROFILES], sec_n[PLAN_SEC_PROFILES], 0, "profiles"};
        st = get_profiles(&r, &pc, out);
        if (st == KILN_OK && pc.off != pc.n)
            st = CORRUPT("corrupt plan: %zu stray bytes after the profiles", pc.n - pc.off);
    }
    if (st != KILN_OK) kiln_plan_release(out);
    return st;
}

void kiln_plan_release(kiln_plan *p) {
    if (!p) return;
    kiln_graph_destroy(p->graph);
    for (int i = 0; i < p->n_profiles; i++) kiln_profile_data_free(&p->profiles[i]);
    free(p->profiles);
    memset(p, 0, sizeof *p);
}
