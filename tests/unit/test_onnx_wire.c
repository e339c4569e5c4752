/* Protobuf wire reader and writer; malformed models fail with KILN_ERR_PARSE and a useful message, never a crash. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/file.h"
#include "core/status.h"
#include "ir/graph.h"
#include "onnx/import.h"
#include "onnx/wire.h"

static kiln_status import_buf(const void *data, size_t size) {
    kiln_graph *g = kiln_graph_create(NULL);
    kiln_onnx_errors errs = {0};
    kiln_mapped_file *maps = NULL;
    int n_maps = 0;
    kiln_status st = kiln_onnx_import(data, size, NULL, g, &errs, &maps, &n_maps);
    if (st != KILN_OK) CHECK(errs.n > 0); /* every failure is listed too */
    kiln_onnx_errors_clear(&errs);
    kiln_graph_destroy(g);
    free(maps);
    return st;
}

/* ModelProto { ir_version 8, opset_import {"" 13}, graph { node Add(x, w) -> z; input x; output z;
 * initializer w } } */
static void put_value_info(kiln_pb_buf *b, int field, const char *name, int dtype, int rank, const char *sym) {
    size_t vi = kiln_pb_begin(b, (uint32_t)field);
    kiln_pb_put_bytes(b, 1, name, strlen(name));
    size_t tp = kiln_pb_begin(b, 2);
    size_t tt = kiln_pb_begin(b, 1);
    kiln_pb_put_uint(b, 1, (uint64_t)dtype);
    size_t sh = kiln_pb_begin(b, 2);
    for (int i = 0; i < rank; i++) {
        size_t d = kiln_pb_begin(b, 1);
        if (i == 0 && sym)
            kiln_pb_put_bytes(b, 2, sym, strlen(sym));
        else
            kiln_pb_put_uint(b, 1, 3);
        kiln_pb_end(b, d);
    }
    kiln_pb_end(b, sh);
    kiln_pb_end(b, tt);
    kiln_pb_end(b, tp);
    kiln_pb_end(b, vi);
}

static void make_model(kiln_pb_buf *b) {
    kiln_pb_put_uint(b, 1, 8);
    size_t op = kiln_pb_begin(b, 8);
    kiln_pb_put_bytes(b, 1, "", 0);
    kiln_pb_put_uint(b, 2, 13);
    kiln_pb_end(b, op);
    size_t g = kiln_pb_begin(b, 7);
    size_t n = kiln_pb_begin(b, 1);
    kiln_pb_put_bytes(b, 1, "x", 1);
    kiln_pb_put_bytes(b, 1, "w", 1);
    kiln_pb_put_bytes(b, 2, "z", 1);
    kiln_pb_put_bytes(b, 4, "Add", 3);
    kiln_pb_end(b, n);
    kiln_pb_put_bytes(b, 2, "g", 1);
    size_t t = kiln_pb_begin(b, 5);
    kiln_pb_put_uint(b, 1, 3);
    kiln_pb_put_uint(b, 2, KILN_FLOAT);
    kiln_pb_put_bytes(b, 8, "w", 1);
    float w[3] = {1.5f, -2.0f, 4.0f};
    kiln_pb_put_bytes(b, 9, w, sizeof w);
    kiln_pb_end(b, t);
    put_value_info(b, 11, "x", KILN_FLOAT, 2, "N");
    put_value_info(b, 12, "z", KILN_FLOAT, 2, "N");
    kiln_pb_end(b, g);
}

static void test_reader(void) {
    /* varints, fixed32/64, packed and unpacked repeated fields */
    kiln_pb_buf b = {0};
    kiln_pb_put_uint(&b, 1, 300);
    kiln_pb_put_uint(&b, 2, (uint64_t)-5);
    kiln_pb_put_tag(&b, 3, KILN_PB_I32);
    float f = 2.5f;
    kiln_pb_put_raw(&b, &f, 4);
    kiln_pb_put_tag(&b, 4, KILN_PB_I64);
    uint64_t u = 0x0102030405060708ull;
    kiln_pb_put_raw(&b, &u, 8);
    size_t m = kiln_pb_begin(&b, 5);
    kiln_pb_put_varint(&b, 1);
    kiln_pb_put_varint(&b, 1000000);
    kiln_pb_end(&b, m);
    kiln_pb_put_uint(&b, 5, 7);
    CHECK(!b.oom);
    kiln_pb r;
    kiln_pb_field fl;
    kiln_pb_init(&r, b.data, b.len, "Test");
    int64_t i64 = 0;
    int32_t i32 = 0;
    float fv = 0;
    kiln_pb_u64s rep = {0};
    int fields = 0;
    while (kiln_pb_next(&r, &fl)) {
        fields++;
        if (fl.num == 1) CHECK(kiln_pb_int64(&r, &fl, "a", &i64) == KILN_OK);
        if (fl.num == 2) CHECK(kiln_pb_int32(&r, &fl, "b", &i32) == KILN_OK);
        if (fl.num == 3) CHECK(kiln_pb_float(&r, &fl, "c", &fv) == KILN_OK);
        if (fl.num == 4) CHECK(fl.wt == KILN_PB_I64 && fl.u == u);
        if (fl.num == 5) CHECK(kiln_pb_add_varints(&r, &fl, "d", &rep) == KILN_OK);
    }
    CHECK(r.status == KILN_OK);
    CHECK(fields == 6);
    CHECK(i64 == 300 && i32 == -5 && fv == 2.5f);
    CHECK(rep.n == 3 && rep.v[0] == 1 && rep.v[1] == 1000000 && rep.v[2] == 7);
    kiln_pb_u64s_free(&rep);
    /* a float read as an int64 is a wire-type error naming the field */
    kiln_pb_init(&r, b.data, b.len, "Test");
    while (kiln_pb_next(&r, &fl))
        if (fl.num == 3) CHECK(kiln_pb_int64(&r, &fl, "c", &i64) == KILN_ERR_PARSE);
    CHECK(strstr(kiln_error_text(), "Test.c (field 3)") != NULL);
    CHECK(strstr(kiln_error_text(), "byte offset") != NULL);
    kiln_pb_buf_free(&b);

    /* a 10-byte varint is the longest; 11 bytes are rejected */
    uint8_t big[11];
    memset(big, 0xff, sizeof big);
    const uint8_t *p = big;
    uint64_t v;
    big[9] = 0x01;
    CHECK(kiln_pb_read_varint(&p, big + 10, &v) == 1 && v == UINT64_MAX);
    big[9] = 0xff;
    p = big;
    CHECK(kiln_pb_read_varint(&p, big + 11, &v) == 0);
}

static void test_malformed(void) {
    /* 0 bytes */
    CHECK(import_buf("", 0) == KILN_ERR_PARSE);
    CHECK(strstr(kiln_error_text(), "empty") != NULL);
    /* truncated varint */
    const uint8_t trunc[] = {0x08, 0x80};
    CHECK(import_buf(trunc, sizeof trunc) == KILN_ERR_PARSE);
    CHECK(strstr(kiln_error_text(), "truncated varint") != NULL);
    /* length past the end */
    const uint8_t past[] = {0x3a, 0x10, 0x00, 0x00};
    CHECK(import_buf(past, sizeof past) == KILN_ERR_PARSE);
    CHECK(strstr(kiln_error_text(), "runs past the end") != NULL);
    CHECK(strstr(kiln_error_text(), "byte offset 0") != NULL);
    /* wrong wire type for a known field: ir_version as bytes */
    const uint8_t wrong[] = {0x0a, 0x00, 0x3a, 0x00};
    CHECK(import_buf(wrong, sizeof wrong) == KILN_ERR_PARSE);
    CHECK(strstr(kiln_error_text(), "ModelProto.ir_version") != NULL);
    /* group wire types are refused */
    const uint8_t group[] = {0x0b, 0x0c};
    CHECK(import_buf(group, sizeof group) == KILN_ERR_PARSE);
    /* no graph */
    const uint8_t nograph[] = {0x08, 0x07};
    CHECK(import_buf(nograph, sizeof nograph) == KILN_ERR_PARSE);
    CHECK(strstr(kiln_error_text(), "no graph") != NULL);

    /* depth bomb: graph -> node -> attribute -> graph -> ... 200 levels (built inside out) */
    kiln_pb_buf inner = {0};
    for (int level = 0; level < 200; level++) {
        kiln_pb_buf nb = {0};
        size_t node = kiln_pb_begin(&nb, 1);
        kiln_pb_put_bytes(&nb, 4, "If", 2);
        size_t attr = kiln_pb_begin(&nb, 5);
        kiln_pb_put_bytes(&nb, 1, "then_branch", 11);
        kiln_pb_put_uint(&nb, 20, KILN_ATTR_GRAPH);
        kiln_pb_put_bytes(&nb, 6, inner.data, inner.len);
        kiln_pb_end(&nb, attr);
        kiln_pb_end(&nb, node);
        kiln_pb_buf_free(&inner);
        inner = nb;
    }
    kiln_pb_buf model = {0};
    kiln_pb_put_bytes(&model, 7, inner.data, inner.len);
    CHECK(!model.oom);
    CHECK(import_buf(model.data, model.len) == KILN_ERR_PARSE);
    CHECK(strstr(kiln_error_text(), "nested deeper than 64") != NULL);
    kiln_pb_buf_free(&inner);
    kiln_pb_buf_free(&model);
}

static void test_valid_and_truncated(void) {
    kiln_pb_buf b = {0};
    make_model(&b);
    CHECK(!b.oom);
    kiln_graph *g = kiln_graph_create(NULL);
    kiln_mapped_file *maps = NULL;
    int n_maps = 0;
    CHECK(kiln_onnx_import(b.data, b.len, NULL, g, NULL, &maps, &n_maps) == KILN_OK);
    CHECK(n_maps == 0);
    CHECK(g->n_nodes == 1 && !strcmp(g->nodes[0].op_type, "Add") && g->nodes[0].opset == 13);
    CHECK(!strcmp(g->nodes[0].name, "Add_0"));
    CHECK(g->n_inputs == 1 && g->n_outputs == 1 && !strcmp(g->name, "g"));
    const kiln_ir_value *x = &g->values[g->inputs[0]];
    CHECK(x->type.rank == 2 && x->type.dims[0].v == -1 && x->type.dims[0].sym && !strcmp(x->type.dims[0].sym, "N"));
    CHECK(x->type.dims[1].v == 3 && x->type.dtype == KILN_FLOAT);
    int w = kiln_graph_find_value(g, "w");
    CHECK(w >= 0 && g->values[w].init && g->values[w].init->rank == 1 && g->values[w].init->dims[0] == 3);
    if (w >= 0 && g->values[w].init) CHECK(((const float *)g->values[w].init->data)[2] == 4.0f);
    kiln_graph_destroy(g);

    /* every truncation of a valid model is an error (or, at a field boundary, a smaller model), never a crash */
    int fails = 0;
    for (size_t len = 0; len < b.len; len++) fails += import_buf(b.data, len) != KILN_OK;
    CHECK(fails == (int)b.len);
    /* random bytes and random corruptions of the valid model */
    uint32_t seed = 12345;
    uint8_t *buf = malloc(b.len + 64);
    for (int it = 0; it < 20000; it++) {
        size_t len;
        if (it % 2) {
            len = b.len;
            memcpy(buf, b.data, len);
            for (int k = 0; k < 1 + it % 4; k++) {
                seed = seed * 1103515245u + 12345u;
                buf[(seed >> 8) % len] = (uint8_t)(seed >> 20);
            }
        } else {
            seed = seed * 1103515245u + 12345u;
            len = (seed >> 8) % (b.len + 64);
            for (size_t k = 0; k < len; k++) {
                seed = seed * 1103515245u + 12345u;
                buf[k] = (uint8_t)(seed >> 16);
            }
        }
        (void)import_buf(buf, len);
    }
    free(buf);
    kiln_pb_buf_free(&b);
}

/* Truncations and random corruptions of richer models (functions, subgraphs, sparse and all-dtype tensors):
 * whatever the result, no crash, no leak (run under the sanitizers to see). */
static void mutate_file(const char *path, int iterations) {
    kiln_mapped_file m;
    CHECK(kiln_file_map(path, &m) == KILN_OK);
    if (!m.size) return;
    CHECK(import_buf(m.data, m.size) == KILN_OK);
    uint8_t *buf = malloc(m.size);
    /* a cut at a field boundary can leave a smaller valid model (e.g. without its functions): only no crash */
    for (size_t len = 0; len < m.size; len += 1 + len / 64) (void)import_buf(m.data, len);
    uint32_t seed = 777;
    for (int it = 0; it < iterations; it++) {
        memcpy(buf, m.data, m.size);
        for (int k = 0; k < 1 + it % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[(seed >> 4) % m.size] ^= (uint8_t)(1u << ((seed >> 28) & 7));
        }
        (void)import_buf(buf, m.size);
    }
    free(buf);
    kiln_file_unmap(&m);
}

/* Nodes "out = op(in0[, in1])" over graph input x and output `out`, in the given (possibly unsorted) order. */
static void chain_model(kiln_pb_buf *b, const char *const (*nodes)[4], int n, const char *out) {
    memset(b, 0, sizeof *b);
    size_t op = kiln_pb_begin(b, 8);
    kiln_pb_put_uint(b, 2, 17);
    kiln_pb_end(b, op);
    size_t g = kiln_pb_begin(b, 7);
    for (int i = 0; i < n; i++) {
        size_t nd = kiln_pb_begin(b, 1);
        for (int k = 2; k < 4; k++)
            if (nodes[i][k]) kiln_pb_put_bytes(b, 1, nodes[i][k], strlen(nodes[i][k]));
        kiln_pb_put_bytes(b, 2, nodes[i][1], strlen(nodes[i][1]));
        kiln_pb_put_bytes(b, 4, nodes[i][0], strlen(nodes[i][0]));
        kiln_pb_end(b, nd);
    }
    put_value_info(b, 11, "x", KILN_FLOAT, 1, NULL);
    put_value_info(b, 12, out, KILN_FLOAT, 1, NULL);
    kiln_pb_end(b, g);
}

static void test_toposort(void) {
    /* out of order: sorted stably (lowest index first among ready nodes) */
    const char *const unsorted[][4] = {{"Relu", "b", "a", NULL}, {"Relu", "a", "x", NULL}, {"Add", "c", "a", "x"},
                                       {"Add", "d", "b", "c"}};
    kiln_pb_buf b;
    chain_model(&b, unsorted, 4, "d");
    kiln_graph *g = kiln_graph_create(NULL);
    kiln_mapped_file *maps = NULL;
    int n_maps = 0;
    CHECK(kiln_onnx_import(b.data, b.len, NULL, g, NULL, &maps, &n_maps) == KILN_OK);
    CHECK(g->n_nodes == 4);
    if (g->n_nodes == 4) {
        CHECK(!strcmp(g->nodes[0].name, "Relu_1") && !strcmp(g->nodes[1].name, "Relu_0"));
        CHECK(!strcmp(g->nodes[2].name, "Add_2") && !strcmp(g->nodes[3].name, "Add_3"));
        for (int i = 0; i < 4; i++) CHECK(g->values[g->nodes[i].out[0]].producer == i);
    }
    kiln_graph_destroy(g);
    kiln_pb_buf_free(&b);
    /* a cycle, a dangling input, a value produced twice, a node writing a graph input */
    const char *const cycle[][4] = {{"Relu", "a", "b", NULL}, {"Relu", "b", "a", NULL}, {"Add", "c", "a", "x"}};
    const char *const dangling[][4] = {{"Add", "c", "nowhere", "x"}};
    const char *const twice[][4] = {{"Relu", "c", "x", NULL}, {"Neg", "c", "x", NULL}};
    const char *const writes_input[][4] = {{"Relu", "x", "x", NULL}};
    struct {
        const char *const (*nodes)[4];
        int n;
        const char *text;
    } bad[] = {{cycle, 3, "cycle through node 0"},
               {dangling, 1, "input 0 'nowhere' is not produced"},
               {twice, 2, "'c' is produced twice"},
               {writes_input, 1, "which is a graph input"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chain_model(&b, bad[i].nodes, bad[i].n, bad[i].nodes[bad[i].n - 1][1]);
        CHECK(import_buf(b.data, b.len) == KILN_ERR_INVALID_GRAPH);
        if (!strstr(kiln_error_text(), bad[i].text)) fprintf(stderr, "got: %s\n", kiln_error_text());
        CHECK(strstr(kiln_error_text(), bad[i].text) != NULL);
        kiln_pb_buf_free(&b);
    }
}

int main(void) {
    test_reader();
    test_malformed();
    test_valid_and_truncated();
    test_toposort();
    mutate_file("tests/models/onnx/functions.onnx", 3000);
    mutate_file("tests/models/onnx/tensors.onnx", 3000);
    return CHECK_DONE();
}
