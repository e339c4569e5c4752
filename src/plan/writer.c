/* Plan writer: graph, profiles and weights into one buffer (format in plan.h / format.h). */
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"
#include "plan/format.h"
#include "plan/plan.h"

typedef struct pbuf {
    uint8_t *p;
    size_t n, cap;
} pbuf;

/* A tensor's bytes and where they go in the weights section: copied once, straight into the final buffer. */
typedef struct wspan {
    const void *data;
    size_t off, n;
} wspan;

typedef struct writer {
    pbuf strings, graph, profiles;
    wspan *spans;
    size_t n_spans, cap_spans, weights_size;
    uint32_t *h_off, *h_len; /* string interning: open addressing over the strings section */
    size_t h_cap, h_n;
    int oom;
} writer;

static int pbuf_reserve(writer *w, pbuf *b, size_t extra) {
    if (w->oom) return 0;
    if (extra > SIZE_MAX - b->n) {
        w->oom = 1;
        return 0;
    }
    if (b->n + extra <= b->cap) return 1;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->n + extra) nc = nc > SIZE_MAX / 2 ? b->n + extra : nc * 2;
    uint8_t *np = realloc(b->p, nc);
    if (!np) {
        w->oom = 1;
        return 0;
    }
    b->p = np;
    b->cap = nc;
    return 1;
}

static void put_bytes(writer *w, pbuf *b, const void *src, size_t n) {
    if (!n || !pbuf_reserve(w, b, n)) return;
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u32(writer *w, pbuf *b, uint32_t v) {
    if (!pbuf_reserve(w, b, 4)) return;
    plan_put_u32(b->p + b->n, v);
    b->n += 4;
}

static void put_u64(writer *w, pbuf *b, uint64_t v) {
    if (!pbuf_reserve(w, b, 8)) return;
    plan_put_u64(b->p + b->n, v);
    b->n += 8;
}

static void put_i32(writer *w, pbuf *b, int32_t v) { put_u32(w, b, (uint32_t)v); }
static void put_i64(writer *w, pbuf *b, int64_t v) { put_u64(w, b, (uint64_t)v); }
static void put_f32(writer *w, pbuf *b, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(w, b, u);
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h ^ n;
}

static int intern_grow(writer *w) {
    size_t nc = w->h_cap ? w->h_cap * 2 : 1024;
    uint32_t *no = malloc(nc * sizeof *no), *nl = malloc(nc * sizeof *nl);
    if (!no || !nl) {
        free(no), free(nl);
        w->oom = 1;
        return 0;
    }
    for (size_t i = 0; i < nc; i++) nl[i] = PLAN_NULL_STR;
    for (size_t i = 0; i < w->h_cap; i++) {
        if (w->h_len[i] == PLAN_NULL_STR) continue;
        size_t j = hash_bytes((const char *)w->strings.p + w->h_off[i], w->h_len[i]) & (nc - 1);
        while (nl[j] != PLAN_NULL_STR) j = (j + 1) & (nc - 1);
        no[j] = w->h_off[i];
        nl[j] = w->h_len[i];
    }
    free(w->h_off), free(w->h_len);
    w->h_off = no;
    w->h_len = nl;
    w->h_cap = nc;
    return 1;
}

/* Writes a string reference to `b`, adding the bytes (plus a NUL) to the strings section once. */
static void put_str_n(writer *w, pbuf *b, const char *s, size_t n) {
    if (!s) {
        put_u32(w, b, 0);
        put_u32(w, b, PLAN_NULL_STR);
        return;
    }
    if (n >= PLAN_NULL_STR || w->strings.n > UINT32_MAX - n - 1) {
        w->oom = 1; /* reported as "too large" by the caller */
        return;
    }
    if ((w->h_n + 1) * 2 > w->h_cap && !intern_grow(w)) return;
    size_t j = hash_bytes(s, n) & (w->h_cap - 1);
    while (w->h_len[j] != PLAN_NULL_STR) {
        if (w->h_len[j] == n && memcmp(w->strings.p + w->h_off[j], s, n) == 0) {
            put_u32(w, b, w->h_off[j]);
            put_u32(w, b, (uint32_t)n);
            return;
        }
        j = (j + 1) & (w->h_cap - 1);
    }
    uint32_t off = (uint32_t)w->strings.n;
    put_bytes(w, &w->strings, s, n);
    put_bytes(w, &w->strings, "", 1);
    if (w->oom) return;
    w->h_off[j] = off;
    w->h_len[j] = (uint32_t)n;
    w->h_n++;
    put_u32(w, b, off);
    put_u32(w, b, (uint32_t)n);
}

static void put_str(writer *w, pbuf *b, const char *s) { put_str_n(w, b, s, s ? strlen(s) : 0); }

static kiln_status put_type(writer *w, pbuf *b, const kiln_type *t) {
    KILN_FAIL_IF(t->rank < -1 || t->rank > KILN_MAX_DIMS, KILN_ERR_INTERNAL, "type rank %d out of range", t->rank);
    put_u32(w, b, (uint32_t)t->kind);
    put_u32(w, b, (uint32_t)t->elem_kind);
    put_u32(w, b, (uint32_t)t->dtype);
    put_i32(w, b, t->rank);
    for (int i = 0; i < t->rank; i++) {
        put_i64(w, b, t->dims[i].v);
        put_str(w, b, t->dims[i].sym);
    }
    return KILN_OK;
}

static kiln_status put_tensor(writer *w, pbuf *b, const kiln_tensor *t) {
    KILN_FAIL_IF(t->rank < 0 || t->rank > KILN_MAX_DIMS, KILN_ERR_INTERNAL, "tensor rank %d out of range", t->rank);
    KILN_FAIL_IF(!kiln_dtype_is_valid(t->dtype), KILN_ERR_INTERNAL, "tensor of invalid dtype %d", (int)t->dtype);
    int64_t numel = kiln_tensor_numel(t);
    KILN_FAIL_IF(numel < 0, KILN_ERR_INTERNAL, "tensor with a negative dim");
    put_u32(w, b, (uint32_t)t->dtype);
    put_i32(w, b, t->rank);
    for (int i = 0; i < t->rank; i++) put_i64(w, b, t->dims[i]);
    if (t->dtype == KILN_STRING) {
        put_u64(w, b, (uint64_t)numel);
        char *const *s = t->data;
        for (int64_t i = 0; i < numel; i++) put_str(w, b, s && s[i] ? s[i] : "");
        return KILN_OK;
    }
    size_t nbytes = kiln_tensor_nbytes(t);
    KILN_FAIL_IF(nbytes && !t->data, KILN_ERR_INTERNAL, "tensor without data");
    size_t off = (w->weights_size + KILN_PLAN_WEIGHT_ALIGN - 1) / KILN_PLAN_WEIGHT_ALIGN * KILN_PLAN_WEIGHT_ALIGN;
    KILN_FAIL_IF(off < w->weights_size || nbytes > SIZE_MAX - off, KILN_ERR_OUT_OF_MEMORY, "weights exceed memory");
    if (w->n_spans == w->cap_spans) {
        size_t nc = w->cap_spans ? w->cap_spans * 2 : 64;
        wspan *ns = realloc(w->spans, nc * sizeof *ns);
        KILN_FAIL_IF(!ns, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        w->spans = ns;
        w->cap_spans = nc;
    }
    w->spans[w->n_spans++] = (wspan){t->data, off, nbytes};
    w->weights_size = off + nbytes;
    put_u64(w, b, (uint64_t)off);
    put_u64(w, b, (uint64_t)nbytes);
    return KILN_OK;
}

static kiln_status put_graph(writer *w, const kiln_graph *g, int depth);

static kiln_status put_opt_tensor(writer *w, pbuf *b, const kiln_tensor *t) {
    put_u32(w, b, t != NULL);
    return t ? put_tensor(w, b, t) : KILN_OK;
}

static kiln_status put_opt_graph(writer *w, const kiln_graph *g, int depth) {
    put_u32(w, &w->graph, g != NULL);
    return g ? put_graph(w, g, depth) : KILN_OK;
}

static kiln_status put_attr(writer *w, const kiln_attr *a, int depth) {
    pbuf *b = &w->graph;
    put_str(w, b, a->name);
    put_u32(w, b, (uint32_t)a->type);
    KILN_FAIL_IF(a->n < 0, KILN_ERR_INTERNAL, "attribute '%s' has a negative count", a->name);
    switch (a->type) {
    case KILN_ATTR_FLOAT: put_f32(w, b, a->f); break;
    case KILN_ATTR_INT: put_i64(w, b, a->i); break;
    case KILN_ATTR_STRING: put_str_n(w, b, a->s ? a->s : "", a->s ? a->s_len : 0); break;
    case KILN_ATTR_TENSOR:
    case KILN_ATTR_SPARSE_TENSOR: return put_opt_tensor(w, b, a->t);
    case KILN_ATTR_GRAPH: return put_opt_graph(w, a->g, depth + 1);
    case KILN_ATTR_FLOATS:
        put_u32(w, b, (uint32_t)a->n);
        for (int i = 0; i < a->n; i++) put_f32(w, b, a->floats[i]);
        break;
    case KILN_ATTR_INTS:
        put_u32(w, b, (uint32_t)a->n);
        for (int i = 0; i < a->n; i++) put_i64(w, b, a->ints[i]);
        break;
    case KILN_ATTR_STRINGS:
        put_u32(w, b, (uint32_t)a->n);
        for (int i = 0; i < a->n; i++) {
            const char *s = a->strings[i] ? a->strings[i] : "";
            put_str_n(w, b, s, a->string_lens ? a->string_lens[i] : strlen(s));
        }
        break;
    case KILN_ATTR_TENSORS:
    case KILN_ATTR_SPARSE_TENSORS:
        put_u32(w, b, (uint32_t)a->n);
        for (int i = 0; i < a->n; i++) KILN_TRY(put_opt_tensor(w, b, a->tensors[i]));
        break;
    case KILN_ATTR_GRAPHS:
        put_u32(w, b, (uint32_t)a->n);
        for (int i = 0; i < a->n; i++) KILN_TRY(put_opt_graph(w, a->graphs[i], depth + 1));
        break;
    case KILN_ATTR_TYPE_PROTO:
        put_u32(w, b, a->tp != NULL);
        if (a->tp) KILN_TRY(put_type(w, b, a->tp));
        break;
    case KILN_ATTR_TYPE_PROTOS:
        put_u32(w, b, (uint32_t)a->n);
        for (int i = 0; i < a->n; i++) KILN_TRY(put_type(w, b, &a->tps[i]));
        break;
    case KILN_ATTR_UNDEFINED: break;
    default: return kiln_error(KILN_ERR_INTERNAL, "attribute '%s' has unknown type %d", a->name, (int)a->type);
    }
    return KILN_OK;
}

static kiln_status put_ids(writer *w, const kiln_graph *g, const int *ids, int n, const char *what) {
    put_u32(w, &w->graph, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        KILN_FAIL_IF(ids[i] < -1 || ids[i] >= g->n_values, KILN_ERR_INTERNAL, "%s id %d out of range", what, ids[i]);
        put_i32(w, &w->graph, ids[i]);
    }
    return KILN_OK;
}

static kiln_status put_graph(writer *w, const kiln_graph *g, int depth) {
    KILN_FAIL_IF(depth > PLAN_MAX_GRAPH_DEPTH, KILN_ERR_UNSUPPORTED, "subgraphs nested deeper than %d levels",
                 PLAN_MAX_GRAPH_DEPTH);
    pbuf *b = &w->graph;
    put_str(w, b, g->name);
    put_u32(w, b, (uint32_t)g->n_values);
    for (int i = 0; i < g->n_values; i++) {
        const kiln_ir_value *v = &g->values[i];
        put_str(w, b, v->name);
        KILN_TRY(put_type(w, b, &v->type));
        uint32_t flags = (v->is_input ? PLAN_V_INPUT : 0) | (v->is_output ? PLAN_V_OUTPUT : 0) |
                         (v->is_outer ? PLAN_V_OUTER : 0) | (v->init ? PLAN_V_INIT : 0);
        put_u32(w, b, flags);
        if (v->init) KILN_TRY(put_tensor(w, b, v->init));
    }
    put_u32(w, b, (uint32_t)g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = &g->nodes[i];
        put_str(w, b, n->name);
        put_str(w, b, n->op_type);
        put_str(w, b, n->domain);
        put_i32(w, b, n->opset);
        KILN_TRY(put_ids(w, g, n->in, n->n_in, "node input"));
        KILN_TRY(put_ids(w, g, n->out, n->n_out, "node output"));
        put_u32(w, b, (uint32_t)n->n_attrs);
        for (int j = 0; j < n->n_attrs; j++) KILN_TRY(put_attr(w, &n->attrs[j], depth));
    }
    KILN_TRY(put_ids(w, g, g->inputs, g->n_inputs, "graph input"));
    KILN_TRY(put_ids(w, g, g->outputs, g->n_outputs, "graph output"));
    put_u32(w, b, (uint32_t)g->n_opsets);
    for (int i = 0; i < g->n_opsets; i++) {
        put_str(w, b, g->opsets[i].domain);
        put_i32(w, b, g->opsets[i].version);
    }
    return KILN_OK;
}

static void put_profiles(writer *w, const kiln_profile_data *profiles, int n_profiles) {
    pbuf *b = &w->profiles;
    put_u32(w, b, (uint32_t)n_profiles);
    for (int p = 0; p < n_profiles; p++) {
        put_u32(w, b, (uint32_t)profiles[p].n);
        for (int i = 0; i < profiles[p].n; i++) {
            const kiln_shape_range *r = &profiles[p].ranges[i];
            put_str(w, b, r->input);
            put_i32(w, b, r->rank);
            for (int d = 0; d < r->rank; d++) {
                put_i64(w, b, r->min[d]);
                put_i64(w, b, r->opt[d]);
                put_i64(w, b, r->max[d]);
            }
        }
    }
}

static size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

kiln_status kiln_plan_write(const kiln_graph *g, const kiln_plan_meta *meta, const kiln_profile_data *profiles,
                            int n_profiles, uint8_t **out, size_t *out_size) {
    *out = NULL;
    *out_size = 0;
    writer w;
    memset(&w, 0, sizeof w);
    kiln_status st = put_graph(&w, g, 0);
    if (st == KILN_OK) put_profiles(&w, profiles, n_profiles);
    if (st == KILN_OK && w.oom)
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory writing the plan (or a string over 4 GiB)");
    uint8_t *buf = NULL;
    size_t total = 0;
    if (st == KILN_OK) {
        enum { MAX_SEC = 5 };
        const int N_SEC = meta->has_device ? 5 : 4;
        uint8_t dev[KILN_PLAN_DEVICE_RECORD];
        pbuf devbuf = {dev, sizeof dev, sizeof dev};
        if (meta->has_device) {
            const kiln_plan_device *d = &meta->device;
            memset(dev, 0, sizeof dev);
            memcpy(dev, d->name, sizeof d->name - 1);
            plan_put_u32(dev + 256, d->cc_major);
            plan_put_u32(dev + 260, d->cc_minor);
            memcpy(dev + 264, d->uuid, 16);
            plan_put_u32(dev + 280, d->cuda_runtime_version);
            plan_put_u32(dev + 284, d->cuda_driver_version);
            plan_put_u32(dev + 288, d->cudnn_version);
            plan_put_u32(dev + 292, d->cublaslt_version);
        }
        const pbuf *secs[MAX_SEC] = {&w.strings, &w.graph, &w.profiles, NULL, &devbuf};
        const uint32_t ids[MAX_SEC] = {PLAN_SEC_STRINGS, PLAN_SEC_GRAPH, PLAN_SEC_PROFILES, PLAN_SEC_WEIGHTS,
                                       PLAN_SEC_DEVICE};
        size_t offs[MAX_SEC], sizes[MAX_SEC] = {w.strings.n, w.graph.n, w.profiles.n, w.weights_size, sizeof dev};
        size_t pos = PLAN_HEADER_FIXED + N_SEC * PLAN_SECTION_ENTRY;
        for (int i = 0; i < N_SEC; i++) {
            /* every section starts aligned; the weights' alignment inside the file relies on it */
            pos = align_up(pos, KILN_PLAN_WEIGHT_ALIGN);
            offs[i] = pos;
            pos += sizes[i];
        }
        total = pos + PLAN_TRAILER;
        size_t alloc = align_up(total, KILN_PLAN_WEIGHT_ALIGN);
        buf = aligned_alloc(KILN_PLAN_WEIGHT_ALIGN, alloc);
        if (!buf) {
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory allocating a %zu-byte plan", total);
        } else {
            /* zero only what no section covers (padding); the weights are large and written below */
            memset(buf, 0, offs[3]);
            memset(buf + offs[3] + sizes[3], 0, alloc - offs[3] - sizes[3]);
            memcpy(buf + PLAN_OFF_MAGIC, KILN_PLAN_MAGIC, 8);
            plan_put_u32(buf + PLAN_OFF_FORMAT, KILN_PLAN_FORMAT_VERSION);
            plan_put_u32(buf + PLAN_OFF_HEADER_SIZE, PLAN_HEADER_FIXED + (uint32_t)N_SEC * PLAN_SECTION_ENTRY);
            plan_put_u64(buf + PLAN_OFF_FILE_SIZE, total);
            plan_put_u32(buf + PLAN_OFF_KILN_VERSION_NUMBER, KILN_VERSION_NUMBER);
            strncpy((char *)buf + PLAN_OFF_KILN_VERSION, kiln_version(), PLAN_VERSION_CHARS);
            plan_put_u32(buf + PLAN_OFF_BACKEND, (uint32_t)meta->backend);
            plan_put_u32(buf + PLAN_OFF_FLAGS, meta->build_flags);
            plan_put_u32(buf + PLAN_OFF_OPT_LEVEL, meta->opt_level);
            plan_put_u32(buf + PLAN_OFF_N_SECTIONS, (uint32_t)N_SEC);
            for (int i = 0; i < N_SEC; i++) {
                uint8_t *e = buf + PLAN_HEADER_FIXED + (size_t)i * PLAN_SECTION_ENTRY;
                plan_put_u32(e, ids[i]);
                plan_put_u64(e + 8, offs[i]);
                plan_put_u64(e + 16, sizes[i]);
                if (secs[i] && sizes[i]) memcpy(buf + offs[i], secs[i]->p, sizes[i]);
            }
            size_t end = 0; /* weights: the spans in order, zero padding between them */
            for (size_t i = 0; i < w.n_spans; i++) {
                memset(buf + offs[3] + end, 0, w.spans[i].off - end);
                if (w.spans[i].n) memcpy(buf + offs[3] + w.spans[i].off, w.spans[i].data, w.spans[i].n);
                end = w.spans[i].off + w.spans[i].n;
            }
            plan_put_u32(buf + total - PLAN_TRAILER, kiln_crc32c(0, buf, total - PLAN_TRAILER));
        }
    }
    free(w.strings.p), free(w.graph.p), free(w.profiles.p), free(w.spans);
    free(w.h_off), free(w.h_len);
    if (st != KILN_OK) return st;
    *out = buf;
    *out_size = total;
    return KILN_OK;
}
