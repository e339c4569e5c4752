/* Plan files: round trip of an IR graph using every attribute type, a subgraph, symbolic dims, strings and every
 * initializer dtype; then corruption (every flipped byte, every truncation, flips behind a valid checksum) and
 * incompatible headers. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "core/status.h"
#include "ir/graph.h"
#include "plan/format.h"
#include "plan/plan.h"

static int add_val(kiln_graph *g, const char *name, kiln_dtype dt, int rank, const int64_t *dims, const char **syms) {
    int id = kiln_graph_add_value(g, name);
    kiln_type *t = &g->values[id].type;
    t->kind = KILN_KIND_TENSOR;
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++) {
        t->dims[i].v = dims[i];
        t->dims[i].sym = syms && syms[i] ? kiln_arena_strdup(&g->arena, syms[i]) : NULL;
    }
    return id;
}

/* An initializer of dtype dt with n elements of a recognizable pattern. */
static kiln_tensor *make_tensor(kiln_dtype dt, int64_t n, int seed) {
    kiln_tensor *t = calloc(1, sizeof *t);
    int64_t dims[2] = {n, 1};
    kiln_tensor_alloc(t, dt, 2, dims);
    if (dt == KILN_STRING) {
        for (int64_t i = 0; i < n; i++) {
            char buf[32];
            int len = snprintf(buf, sizeof buf, "s%d-%lld", seed, (long long)i);
            kiln_tensor_set_string(t, i, buf, (size_t)len);
        }
    } else {
        uint8_t *p = t->data;
        for (size_t i = 0; i < kiln_tensor_nbytes(t); i++) p[i] = (uint8_t)(i * 7 + (size_t)seed * 13 + 1);
    }
    return t;
}

static kiln_attr *attrs_for(kiln_graph *g, int node, int n) { return kiln_graph_node_alloc_attrs(g, node, n); }

static const char *S(kiln_graph *g, const char *s) { return kiln_arena_strdup(&g->arena, s); }

/* The Loop body: (iter, cond, acc) -> (cond, acc + outer "w"). */
static kiln_graph *make_body(kiln_graph *parent) {
    kiln_graph *b = kiln_graph_create(parent);
    b->name = S(b, "body");
    int64_t one[] = {1};
    int it = add_val(b, "iter", KILN_INT64, 0, NULL, NULL);
    int cond = add_val(b, "cond_in", KILN_BOOL, 0, NULL, NULL);
    int acc = add_val(b, "acc", KILN_FLOAT, 1, one, NULL);
    int w = add_val(b, "w", KILN_FLOAT, 1, one, NULL);
    b->values[w].is_outer = 1;
    int cond_out = add_val(b, "cond_out", KILN_BOOL, 0, NULL, NULL);
    int acc_out = add_val(b, "acc_out", KILN_FLOAT, 1, one, NULL);
    kiln_graph_add_input(b, it);
    kiln_graph_add_input(b, cond);
    kiln_graph_add_input(b, acc);
    int n0 = kiln_graph_add_node(b, "id", "Identity", "", 17, 1, 1);
    b->nodes[n0].in[0] = cond;
    b->nodes[n0].out[0] = cond_out;
    int n1 = kiln_graph_add_node(b, "add", "Add", "", 17, 2, 1);
    b->nodes[n1].in[0] = acc;
    b->nodes[n1].in[1] = w;
    b->nodes[n1].out[0] = acc_out;
    kiln_graph_add_output(b, cond_out);
    kiln_graph_add_output(b, acc_out);
    return b;
}

static kiln_graph *make_graph(void) {
    kiln_graph *g = kiln_graph_create(NULL);
    g->name = S(g, "main");
    g->opsets = kiln_arena_alloc(&g->arena, 2 * sizeof(kiln_opset));
    g->opsets[0].domain = S(g, "");
    g->opsets[0].version = 17;
    g->opsets[1].domain = S(g, "ai.onnx.ml");
    g->opsets[1].version = 3;
    g->n_opsets = 2;
    int64_t xd[] = {-1, 3, -1};
    const char *xs[] = {"batch", NULL, "seq"};
    int x = add_val(g, "x", KILN_FLOAT, 3, xd, xs);
    kiln_graph_add_input(g, x);
    int s = kiln_graph_add_value(g, "seq_in");
    g->values[s].type.kind = KILN_KIND_SEQUENCE;
    g->values[s].type.dtype = KILN_INT32;
    kiln_graph_add_input(g, s);
    int o = kiln_graph_add_value(g, "opt_in");
    g->values[o].type.kind = KILN_KIND_OPTIONAL;
    g->values[o].type.elem_kind = KILN_KIND_SEQUENCE;
    g->values[o].type.dtype = KILN_FLOAT16;
    kiln_graph_add_input(g, o);
    /* one initializer per dtype, with odd sizes so alignment padding is exercised */
    int first_init = g->n_values;
    for (int dt = 1; dt < KILN_DTYPE_COUNT; dt++) {
        char name[32];
        snprintf(name, sizeof name, "w_%s", kiln_dtype_name((kiln_dtype)dt));
        int64_t n = 3 + dt % 5;
        int id = add_val(g, name, (kiln_dtype)dt, 2, (int64_t[]){n, 1}, NULL);
        g->values[id].init = make_tensor((kiln_dtype)dt, n, dt);
    }
    int empty = add_val(g, "empty", KILN_FLOAT, 1, (int64_t[]){0}, NULL);
    g->values[empty].init = calloc(1, sizeof(kiln_tensor));
    kiln_tensor_alloc(g->values[empty].init, KILN_FLOAT, 1, (int64_t[]){0});
    int w = add_val(g, "w", KILN_FLOAT, 1, (int64_t[]){1}, NULL);
    g->values[w].init = make_tensor(KILN_FLOAT, 1, 99);
    g->values[w].init->rank = 1;

    int y = add_val(g, "y", KILN_FLOAT, 3, xd, xs);
    int z = add_val(g, "z", KILN_FLOAT, 1, (int64_t[]){1}, NULL);
    int n0 = kiln_graph_add_node(g, "relu0", "Relu", "", 17, 1, 1);
    g->nodes[n0].in[0] = x;
    g->nodes[n0].out[0] = y;

    /* a node carrying every attribute type */
    int n1 = kiln_graph_add_node(g, "attrs", "Custom", "ai.onnx.ml", 3, 3, 2);
    g->nodes[n1].in[0] = y;
    g->nodes[n1].in[1] = -1; /* absent optional input */
    g->nodes[n1].in[2] = first_init;
    g->nodes[n1].out[0] = z;
    g->nodes[n1].out[1] = -1;
    kiln_attr *a = attrs_for(g, n1, 14);
    a[0] = (kiln_attr){.name = S(g, "f"), .type = KILN_ATTR_FLOAT, .f = -1.5f};
    a[1] = (kiln_attr){.name = S(g, "i"), .type = KILN_ATTR_INT, .i = -1234567890123ll};
    a[2] = (kiln_attr){.name = S(g, "s"), .type = KILN_ATTR_STRING, .s = kiln_arena_strndup(&g->arena, "a\0b", 3),
                       .s_len = 3};
    a[3] = (kiln_attr){.name = S(g, "t"), .type = KILN_ATTR_TENSOR, .t = make_tensor(KILN_INT64, 4, 5)};
    a[4] = (kiln_attr){.name = S(g, "floats"), .type = KILN_ATTR_FLOATS, .n = 3};
    a[4].floats = kiln_arena_alloc(&g->arena, 3 * sizeof(float));
    a[4].floats[0] = 1.0f, a[4].floats[1] = -0.0f, a[4].floats[2] = 3.25f;
    a[5] = (kiln_attr){.name = S(g, "ints"), .type = KILN_ATTR_INTS, .n = 2};
    a[5].ints = kiln_arena_alloc(&g->arena, 2 * sizeof(int64_t));
    a[5].ints[0] = INT64_MIN, a[5].ints[1] = 7;
    a[6] = (kiln_attr){.name = S(g, "strings"), .type = KILN_ATTR_STRINGS, .n = 2};
    a[6].strings = kiln_arena_alloc(&g->arena, 2 * sizeof(char *));
    a[6].string_lens = kiln_arena_alloc(&g->arena, 2 * sizeof(size_t));
    a[6].strings[0] = S(g, "alpha"), a[6].string_lens[0] = 5;
    a[6].strings[1] = S(g, ""), a[6].string_lens[1] = 0;
    a[7] = (kiln_attr){.name = S(g, "tensors"), .type = KILN_ATTR_TENSORS, .n = 2};
    a[7].tensors = kiln_arena_alloc(&g->arena, 2 * sizeof(kiln_tensor *));
    a[7].tensors[0] = make_tensor(KILN_STRING, 3, 8);
    a[7].tensors[1] = make_tensor(KILN_DOUBLE, 2, 9);
    a[8] = (kiln_attr){.name = S(g, "sparse"), .type = KILN_ATTR_SPARSE_TENSOR, .t = make_tensor(KILN_INT8, 5, 1)};
    a[9] = (kiln_attr){.name = S(g, "tp"), .type = KILN_ATTR_TYPE_PROTO};
    a[9].tp = kiln_arena_alloc(&g->arena, sizeof(kiln_type));
    a[9].tp->kind = KILN_KIND_OPTIONAL, a[9].tp->elem_kind = KILN_KIND_TENSOR, a[9].tp->dtype = KILN_BFLOAT16;
    a[9].tp->rank = 2, a[9].tp->dims[0].v = -1, a[9].tp->dims[0].sym = S(g, "N"), a[9].tp->dims[1].v = 4;
    a[10] = (kiln_attr){.name = S(g, "tps"), .type = KILN_ATTR_TYPE_PROTOS, .n = 2};
    a[10].tps = kiln_arena_alloc(&g->arena, 2 * sizeof(kiln_type));
    a[10].tps[0].rank = -1, a[10].tps[0].dtype = KILN_UINT4;
    a[10].tps[1].rank = 0, a[10].tps[1].dtype = KILN_STRING, a[10].tps[1].kind = KILN_KIND_SEQUENCE;
    a[11] = (kiln_attr){.name = S(g, "graphs"), .type = KILN_ATTR_GRAPHS, .n = 1};
    a[11].graphs = kiln_arena_alloc(&g->arena, sizeof(kiln_graph *));
    a[11].graphs[0] = make_body(g);
    a[12] = (kiln_attr){.name = S(g, "sparses"), .type = KILN_ATTR_SPARSE_TENSORS, .n = 1};
    a[12].tensors = kiln_arena_alloc(&g->arena, sizeof(kiln_tensor *));
    a[12].tensors[0] = make_tensor(KILN_UINT16, 2, 3);
    a[13] = (kiln_attr){.name = S(g, "undef"), .type = KILN_ATTR_UNDEFINED};

    /* a Loop with a body that reads the outer "w" */
    int trip = add_val(g, "trip", KILN_INT64, 0, NULL, NULL);
    g->values[trip].init = calloc(1, sizeof(kiln_tensor));
    kiln_tensor_alloc(g->values[trip].init, KILN_INT64, 0, NULL);
    int lo = add_val(g, "loop_out", KILN_FLOAT, 1, (int64_t[]){1}, NULL);
    int n2 = kiln_graph_add_node(g, "loop", "Loop", "", 17, 3, 1);
    g->nodes[n2].in[0] = trip;
    g->nodes[n2].in[1] = -1;
    g->nodes[n2].in[2] = z;
    g->nodes[n2].out[0] = lo;
    kiln_attr *la = attrs_for(g, n2, 1);
    la[0] = (kiln_attr){.name = S(g, "body"), .type = KILN_ATTR_GRAPH, .g = make_body(g)};

    kiln_graph_add_output(g, lo);
    kiln_graph_add_output(g, y);
    return g;
}

/* ---------------------------------------------------------------------------------------------- comparison ---- */

static int same_str(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static int same_type(const kiln_type *a, const kiln_type *b) {
    if (a->kind != b->kind || a->elem_kind != b->elem_kind || a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i].v != b->dims[i].v || !same_str(a->dims[i].sym, b->dims[i].sym)) return 0;
    return 1;
}

static int same_tensor(const kiln_tensor *a, const kiln_tensor *b) {
    if (!a || !b) return a == b;
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    if (a->dtype == KILN_STRING) {
        for (int64_t i = 0; i < kiln_tensor_numel(a); i++)
            if (strcmp(((char **)a->data)[i], ((char **)b->data)[i])) return 0;
        return 1;
    }
    return memcmp(a->data, b->data, kiln_tensor_nbytes(a)) == 0;
}

static int same_graph(const kiln_graph *a, const kiln_graph *b);

static int same_attr(const kiln_attr *a, const kiln_attr *b) {
    if (!same_str(a->name, b->name) || a->type != b->type) return 0;
    switch (a->type) {
    case KILN_ATTR_FLOAT: return memcmp(&a->f, &b->f, 4) == 0;
    case KILN_ATTR_INT: return a->i == b->i;
    case KILN_ATTR_STRING: return a->s_len == b->s_len && memcmp(a->s, b->s, a->s_len + 1) == 0;
    case KILN_ATTR_TENSOR: case KILN_ATTR_SPARSE_TENSOR: return same_tensor(a->t, b->t);
    case KILN_ATTR_GRAPH: return same_graph(a->g, b->g);
    case KILN_ATTR_FLOATS: return a->n == b->n && memcmp(a->floats, b->floats, 4 * (size_t)a->n) == 0;
    case KILN_ATTR_INTS: return a->n == b->n && memcmp(a->ints, b->ints, 8 * (size_t)a->n) == 0;
    case KILN_ATTR_STRINGS:
        if (a->n != b->n) return 0;
        for (int i = 0; i < a->n; i++)
            if (a->string_lens[i] != b->string_lens[i] || memcmp(a->strings[i], b->strings[i], a->string_lens[i]))
                return 0;
        return 1;
    case KILN_ATTR_TENSORS: case KILN_ATTR_SPARSE_TENSORS:
        if (a->n != b->n) return 0;
        for (int i = 0; i < a->n; i++)
            if (!same_tensor(a->tensors[i], b->tensors[i])) return 0;
        return 1;
    case KILN_ATTR_GRAPHS:
        if (a->n != b->n) return 0;
        for (int i = 0; i < a->n; i++)
            if (!same_graph(a->graphs[i], b->graphs[i])) return 0;
        return 1;
    case KILN_ATTR_TYPE_PROTO: return same_type(a->tp, b->tp);
    case KILN_ATTR_TYPE_PROTOS:
        if (a->n != b->n) return 0;
        for (int i = 0; i < a->n; i++)
            if (!same_type(&a->tps[i], &b->tps[i])) return 0;
        return 1;
    default: return 1;
    }
}

static int same_graph(const kiln_graph *a, const kiln_graph *b) {
    if (!a || !b) return a == b;
    if (!same_str(a->name, b->name) || a->n_values != b->n_values || a->n_nodes != b->n_nodes ||
        a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs || a->n_opsets != b->n_opsets)
        return 0;
    for (int i = 0; i < a->n_values; i++) {
        const kiln_ir_value *x = &a->values[i], *y = &b->values[i];
        if (!same_str(x->name, y->name) || !same_type(&x->type, &y->type) || x->is_input != y->is_input ||
            x->is_output != y->is_output || x->is_outer != y->is_outer || !same_tensor(x->init, y->init))
            return 0;
    }
    for (int i = 0; i < a->n_nodes; i++) {
        const kiln_node *x = &a->nodes[i], *y = &b->nodes[i];
        if (!same_str(x->name, y->name) || !same_str(x->op_type, y->op_type) || !same_str(x->domain, y->domain) ||
            x->opset != y->opset || x->n_in != y->n_in || x->n_out != y->n_out || x->n_attrs != y->n_attrs)
            return 0;
        if (memcmp(x->in, y->in, sizeof(int) * (size_t)x->n_in) || memcmp(x->out, y->out, sizeof(int) * (size_t)x->n_out))
            return 0;
        for (int j = 0; j < x->n_attrs; j++)
            if (!same_attr(&x->attrs[j], &y->attrs[j])) return 0;
    }
    if (memcmp(a->inputs, b->inputs, sizeof(int) * (size_t)a->n_inputs) ||
        memcmp(a->outputs, b->outputs, sizeof(int) * (size_t)a->n_outputs))
        return 0;
    for (int i = 0; i < a->n_opsets; i++)
        if (!same_str(a->opsets[i].domain, b->opsets[i].domain) || a->opsets[i].version != b->opsets[i].version)
            return 0;
    return 1;
}

/* Every non-string tensor of the decoded graph must point into the plan bytes, not own a copy. */
static int borrows_from(const kiln_graph *g, const uint8_t *lo, size_t n) {
    for (int i = 0; i < g->n_values; i++) {
        const kiln_tensor *t = g->values[i].init;
        if (!t || t->dtype == KILN_STRING) continue;
        if (t->owned || (const uint8_t *)t->data < lo || (const uint8_t *)t->data > lo + n) return 0;
        if (((uintptr_t)t->data - (uintptr_t)lo) % KILN_PLAN_WEIGHT_ALIGN) return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------------ helpers ---- */

static void refresh_crc(uint8_t *p, size_t n) {
    plan_put_u32(p + n - PLAN_TRAILER, kiln_crc32c(0, p, n - PLAN_TRAILER));
}

static int expect_refused(const uint8_t *p, size_t n, kiln_status want, const char *needle) {
    kiln_plan pl;
    kiln_status st = kiln_plan_read(p, n, &pl);
    if (st == KILN_OK) kiln_plan_release(&pl);
    int ok = st == want && strlen(kiln_error_text()) > 0 && (!needle || strstr(kiln_error_text(), needle));
    if (!ok) fprintf(stderr, "  got status %d: %s\n", (int)st, kiln_error_text());
    return ok;
}

int main(void) {
    /* CRC32C check value from RFC 3720 */
    CHECK(kiln_crc32c(0, "123456789", 9) == 0xe3069283u);
    /* the interleaved and parallel paths agree with small sequential steps (which take neither) */
    {
        size_t big = (9u << 20) + 12345;
        uint8_t *p = malloc(big);
        for (size_t i = 0; i < big; i++) p[i] = (uint8_t)(i * 2654435761u >> 13);
        uint32_t seq = 0;
        for (size_t off = 0; off < big; off += 1000) seq = kiln_crc32c(seq, p + off, big - off < 1000 ? big - off : 1000);
        CHECK(kiln_crc32c(0, p, big) == seq);
        CHECK(kiln_crc32c(0, p + 3, 50001) == kiln_crc32c(kiln_crc32c(0, p + 3, 25000), p + 25003, 25001));
        free(p);
    }

    kiln_graph *g = make_graph();
    CHECK(kiln_graph_toposort(g) == KILN_OK);
    kiln_profile_data prof = {0};
    prof.n = 1;
    prof.ranges = calloc(1, sizeof *prof.ranges);
    prof.ranges[0].input = strdup("x");
    prof.ranges[0].rank = 3;
    for (int d = 0; d < 3; d++) {
        prof.ranges[0].min[d] = d == 1 ? 3 : 1;
        prof.ranges[0].opt[d] = d == 1 ? 3 : 8;
        prof.ranges[0].max[d] = d == 1 ? 3 : 64;
    }
    kiln_plan_meta meta = {.backend = KILN_BACKEND_CPU, .build_flags = 1u << KILN_FLAG_FP16, .opt_level = 3};
    uint8_t *buf = NULL;
    size_t size = 0;
    CHECK(kiln_plan_write(g, &meta, &prof, 1, &buf, &size) == KILN_OK);
    CHECK(buf && size > 64 && ((uintptr_t)buf % 64) == 0);

    kiln_plan pl;
    CHECK(kiln_plan_read(buf, size, &pl) == KILN_OK);
    CHECK(same_graph(g, pl.graph));
    CHECK(borrows_from(pl.graph, buf, size));
    CHECK(pl.meta.backend == KILN_BACKEND_CPU && pl.meta.build_flags == (1u << KILN_FLAG_FP16) &&
          pl.meta.opt_level == 3);
    CHECK(strcmp(pl.kiln_version, kiln_version()) == 0);
    CHECK(pl.n_profiles == 1 && pl.profiles[0].n == 1 && strcmp(pl.profiles[0].ranges[0].input, "x") == 0);
    CHECK(pl.profiles[0].ranges[0].max[2] == 64 && pl.profiles[0].ranges[0].opt[0] == 8);
    /* subgraph parent links and producers are restored */
    const kiln_attr *body = kiln_node_attr(&pl.graph->nodes[2], "body");
    CHECK(body && body->g && body->g->parent == pl.graph && body->g->values[3].is_outer);
    CHECK(pl.graph->values[kiln_graph_find_value(pl.graph, "y")].producer == 0);
    /* a decoded graph writes back to the same bytes */
    uint8_t *buf2 = NULL;
    size_t size2 = 0;
    CHECK(kiln_plan_write(pl.graph, &pl.meta, pl.profiles, pl.n_profiles, &buf2, &size2) == KILN_OK);
    CHECK(size2 == size && memcmp(buf, buf2, size) == 0);
    free(buf2);
    kiln_plan_release(&pl);

    kiln_plan_header h;
    CHECK(kiln_plan_read_header(buf, size, &h) == KILN_OK);
    CHECK(h.format_version == KILN_PLAN_FORMAT_VERSION && h.file_size == size && h.backend == KILN_BACKEND_CPU);

    /* every single flipped byte is caught, by the magic, the size field or the checksum */
    uint8_t *c = malloc(size);
    int flips_ok = 1;
    for (size_t i = 0; i < size; i++) {
        memcpy(c, buf, size);
        c[i] ^= (uint8_t)(1u << (i % 8));
        if (!expect_refused(c, size, KILN_ERR_CORRUPT_PLAN, NULL)) {
            fprintf(stderr, "flip at byte %zu accepted\n", i);
            flips_ok = 0;
        }
    }
    CHECK(flips_ok);
    /* every truncation */
    int trunc_ok = 1;
    for (size_t n = 0; n < size; n++) {
        memcpy(c, buf, n);
        if (!expect_refused(c, n, KILN_ERR_CORRUPT_PLAN, NULL)) {
            fprintf(stderr, "truncation to %zu bytes accepted\n", n);
            trunc_ok = 0;
        }
    }
    CHECK(trunc_ok);
    memcpy(c, buf, 40);
    CHECK(expect_refused(c, 40, KILN_ERR_CORRUPT_PLAN, "truncated"));
    memcpy(c, buf, size);
    c[size / 2] ^= 0x20;
    CHECK(expect_refused(c, size, KILN_ERR_CORRUPT_PLAN, "checksum"));

    /* flips behind a recomputed checksum reach the decoder: refused or accepted, never a crash or leak */
    int decoded_refusals = 0, accepted = 0;
    for (size_t i = 0; i < size - PLAN_TRAILER; i++) {
        for (int v = 0; v < 3; v++) {
            memcpy(c, buf, size);
            c[i] = v == 0 ? (uint8_t)(c[i] ^ 0xff) : v == 1 ? (uint8_t)(c[i] + 1) : 0x7f;
            refresh_crc(c, size);
            kiln_plan p2;
            kiln_status st = kiln_plan_read(c, size, &p2);
            if (st == KILN_OK) {
                accepted++;
                kiln_plan_release(&p2);
            } else {
                decoded_refusals += st == KILN_ERR_CORRUPT_PLAN || st == KILN_ERR_INCOMPATIBLE_PLAN;
                if (st != KILN_ERR_CORRUPT_PLAN && st != KILN_ERR_INCOMPATIBLE_PLAN)
                    fprintf(stderr, "byte %zu: status %d: %s\n", i, (int)st, kiln_error_text());
            }
        }
    }
    CHECK(decoded_refusals + accepted == 3 * (int)(size - PLAN_TRAILER));
    CHECK(decoded_refusals > 0);

    /* foreign bytes */
    const char junk[] = "\x08\x07\x12\x04onnx model bytes that are not a plan at all.........................";
    CHECK(expect_refused((const uint8_t *)junk, sizeof junk, KILN_ERR_CORRUPT_PLAN, "not a kiln plan"));
    CHECK(expect_refused((const uint8_t *)"KIL", 3, KILN_ERR_CORRUPT_PLAN, "not a kiln plan"));

    /* incompatible, but intact: other format version, other kiln version, other backend */
    memcpy(c, buf, size);
    plan_put_u32(c + PLAN_OFF_FORMAT, 2);
    refresh_crc(c, size);
    CHECK(expect_refused(c, size, KILN_ERR_INCOMPATIBLE_PLAN, "plan format v2, this kiln"));
    CHECK(strstr(kiln_error_text(), "reads v1") != NULL);
    memcpy(c, buf, size);
    plan_put_u32(c + PLAN_OFF_KILN_VERSION_NUMBER, KILN_VERSION_NUMBER + 1);
    memcpy(c + PLAN_OFF_KILN_VERSION, "9.9.9\0\0\0", 8);
    refresh_crc(c, size);
    CHECK(expect_refused(c, size, KILN_ERR_INCOMPATIBLE_PLAN, "built by kiln 9.9.9"));
#ifndef KILN_HAVE_CUDA
    memcpy(c, buf, size);
    plan_put_u32(c + PLAN_OFF_BACKEND, KILN_BACKEND_CUDA);
    refresh_crc(c, size);
    CHECK(expect_refused(c, size, KILN_ERR_INCOMPATIBLE_PLAN, "built for CUDA, this runtime is CPU"));
#endif
    free(c);
    free(buf);
    kiln_profile_data_free(&prof);
    kiln_graph_destroy(g);
    return CHECK_DONE();
}
