/* ONNX importer: every TensorProto data type (raw and typed fields), sparse tensors, model-local function
 * inlining, and external data (including the paths that must be refused). Models come from
 * tests/models/onnx/make_models.py; the external-data ones are written here into a temporary folder. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/file.h"
#include "core/status.h"
#include "ir/graph.h"
#include "onnx/import.h"
#include "onnx/value_io.h"
#include "onnx/wire.h"

typedef struct loaded {
    kiln_mapped_file file;
    kiln_graph *g;
    kiln_mapped_file *maps;
    int n_maps;
    kiln_onnx_errors errs;
} loaded;

static kiln_status load_mem(loaded *l, const void *data, size_t size, const char *base_dir) {
    l->g = kiln_graph_create(NULL);
    return kiln_onnx_import(data, size, base_dir, l->g, &l->errs, &l->maps, &l->n_maps);
}

static kiln_status load_file(loaded *l, const char *path, const char *base_dir) {
    memset(l, 0, sizeof *l);
    kiln_status st = kiln_file_map(path, &l->file);
    if (st != KILN_OK) return st;
    return load_mem(l, l->file.data, l->file.size, base_dir);
}

static void unload(loaded *l) {
    kiln_graph_destroy(l->g);
    for (int i = 0; i < l->n_maps; i++) kiln_file_unmap(&l->maps[i]);
    free(l->maps);
    kiln_onnx_errors_clear(&l->errs);
    kiln_file_unmap(&l->file);
    memset(l, 0, sizeof *l);
}

static const kiln_tensor *init_of(const kiln_graph *g, const char *name) {
    int id = kiln_graph_find_value(g, name);
    return id >= 0 ? g->values[id].init : NULL;
}

/* ONNX's TensorProto.DataType names, as make_models.py names the initializers. */
static const char *const onnx_names[KILN_DTYPE_COUNT] = {
    [KILN_FLOAT] = "FLOAT", [KILN_UINT8] = "UINT8", [KILN_INT8] = "INT8", [KILN_UINT16] = "UINT16",
    [KILN_INT16] = "INT16", [KILN_INT32] = "INT32", [KILN_INT64] = "INT64", [KILN_BOOL] = "BOOL",
    [KILN_FLOAT16] = "FLOAT16", [KILN_DOUBLE] = "DOUBLE", [KILN_UINT32] = "UINT32", [KILN_UINT64] = "UINT64",
    [KILN_COMPLEX64] = "COMPLEX64", [KILN_COMPLEX128] = "COMPLEX128", [KILN_BFLOAT16] = "BFLOAT16",
    [KILN_FLOAT8E4M3FN] = "FLOAT8E4M3FN", [KILN_FLOAT8E4M3FNUZ] = "FLOAT8E4M3FNUZ", [KILN_FLOAT8E5M2] = "FLOAT8E5M2",
    [KILN_FLOAT8E5M2FNUZ] = "FLOAT8E5M2FNUZ", [KILN_UINT4] = "UINT4", [KILN_INT4] = "INT4",
    [KILN_FLOAT4E2M1] = "FLOAT4E2M1", [KILN_FLOAT8E8M0] = "FLOAT8E8M0", [KILN_UINT2] = "UINT2", [KILN_INT2] = "INT2",
    [KILN_FLOAT6E2M3] = "FLOAT6E2M3", [KILN_FLOAT6E3M2] = "FLOAT6E3M2",
};

static void test_tensors(void) {
    loaded l;
    kiln_status st = load_file(&l, "tests/models/onnx/tensors.onnx", "tests/models/onnx");
    if (st != KILN_OK) fprintf(stderr, "tensors.onnx: %s\n", kiln_error_text());
    CHECK(st == KILN_OK);
    if (st != KILN_OK) {
        unload(&l);
        return;
    }
    const kiln_graph *g = l.g;
    int n_types = 0;
    for (int dt = 1; dt < KILN_DTYPE_COUNT; dt++) {
        if (!onnx_names[dt]) continue;
        char name[64];
        snprintf(name, sizeof name, "%s_expect", onnx_names[dt]);
        const kiln_tensor *expect = init_of(g, name);
        CHECK(expect != NULL);
        if (!expect) continue;
        for (int typed = 0; typed < 2; typed++) {
            snprintf(name, sizeof name, "%s_%s", onnx_names[dt], typed ? "typed" : "raw");
            const kiln_tensor *t = init_of(g, name);
            CHECK(t != NULL);
            if (!t) continue;
            int ok = (int)t->dtype == dt && t->rank == 2 && t->dims[0] == 1 &&
                     kiln_tensor_nbytes(t) == (size_t)expect->dims[0] &&
                     memcmp(t->data, expect->data, (size_t)expect->dims[0]) == 0;
            if (!ok) fprintf(stderr, "%s decodes wrong\n", name);
            CHECK(ok);
        }
        n_types++;
    }
    CHECK(n_types == KILN_DTYPE_COUNT - 2); /* all but UNDEFINED and STRING */
    /* spot checks of the conventions: sign extension, bool bytes */
    const kiln_tensor *i4 = init_of(g, "INT4_raw");
    if (i4) CHECK(((const int8_t *)i4->data)[0] == -8 && ((const int8_t *)i4->data)[2] == -1);
    const kiln_tensor *i2 = init_of(g, "INT2_typed");
    if (i2) CHECK(((const int8_t *)i2->data)[0] == -2 && ((const int8_t *)i2->data)[1] == 1);
    const kiln_tensor *u64 = init_of(g, "UINT64_typed");
    if (u64) CHECK(((const uint64_t *)u64->data)[1] == UINT64_MAX);
    const kiln_tensor *s = init_of(g, "STRING_typed");
    CHECK(s && s->dtype == KILN_STRING && s->rank == 2 && s->owned);
    if (s) {
        char *const *str = s->data;
        CHECK(!strcmp(str[0], "a") && !strcmp(str[1], "") && !strcmp(str[2], "h\xc3\xa9llo") && strlen(str[3]) == 40);
    }
    /* an initializer listed as an input stays an input, with its default */
    int fr = kiln_graph_find_value(g, "FLOAT_raw");
    CHECK(fr >= 0 && g->values[fr].is_input && g->values[fr].init && g->n_inputs == 1);
    if (fr >= 0) CHECK(g->values[fr].type.dims[0].sym && !strcmp(g->values[fr].type.dims[0].sym, "batch"));
    /* sparse initializers, both index layouts */
    const kiln_tensor *coo = init_of(g, "sp_coo");
    CHECK(coo && coo->dtype == KILN_FLOAT && coo->rank == 2 && coo->dims[0] == 3 && coo->dims[1] == 4);
    if (coo) {
        const float *c = coo->data;
        float sum = 0;
        for (int i = 0; i < 12; i++) sum += c[i];
        CHECK(c[1] == 5.0f && c[11] == 7.0f && sum == 12.0f);
    }
    const kiln_tensor *lin = init_of(g, "sp_lin");
    CHECK(lin && lin->dtype == KILN_INT64);
    if (lin) CHECK(((const int64_t *)lin->data)[1] == 5 && ((const int64_t *)lin->data)[11] == 7 &&
                   ((const int64_t *)lin->data)[0] == 0);
    /* a sparse attribute is densified */
    CHECK(g->n_nodes == 1 && !strcmp(g->nodes[0].op_type, "Constant"));
    const kiln_attr *a = g->n_nodes ? kiln_node_attr(&g->nodes[0], "sparse_value") : NULL;
    CHECK(a && a->type == KILN_ATTR_SPARSE_TENSOR && a->t && a->t->dtype == KILN_INT32 && a->t->dims[0] == 6);
    if (a && a->t) CHECK(((const int32_t *)a->t->data)[4] == 9 && ((const int32_t *)a->t->data)[5] == 0);
    unload(&l);
}

/* Value I/O against the TensorProtos onnx's numpy_helper wrote: every "<dtype>_raw" initializer of tensors.onnx,
 * read with kiln_onnx_read_value and written back with kiln_onnx_write_tensor, gives the very same bytes (sub-byte
 * types packed again); each "<dtype>_typed" one reads to the same values as its raw twin. */
static void test_value_io(void) {
    kiln_mapped_file f;
    CHECK(kiln_file_map("tests/models/onnx/tensors.onnx", &f) == KILN_OK);
    kiln_pb r, g;
    kiln_pb_field fl;
    int found = 0, n_raw = 0, n_typed = 0;
    kiln_pb_init(&r, f.data, f.size, "ModelProto");
    while (kiln_pb_next(&r, &fl))
        if (fl.num == 7 && kiln_pb_sub(&r, &fl, "graph", "GraphProto", &g) == KILN_OK) found = 1;
    CHECK(found);
    kiln_value cur = {0}, last_raw = {0};
    while (found && kiln_pb_next(&g, &fl)) {
        if (fl.num != 5) continue;
        char *name = NULL;
        kiln_status st = kiln_onnx_read_value(fl.data, fl.len, KILN_KIND_TENSOR, KILN_UNDEFINED, &cur, &name);
        CHECK(st == KILN_OK && cur.kind == KILN_V_TENSOR && cur.t.owned);
        size_t nl = name ? strlen(name) : 0;
        if (st == KILN_OK && nl > 4 && !strcmp(name + nl - 4, "_raw")) {
            kiln_pb_buf out = {0};
            CHECK(kiln_onnx_write_tensor(&cur.t, name, &out) == KILN_OK);
            int same = out.len == fl.len && !memcmp(out.data, fl.data, fl.len);
            if (!same) fprintf(stderr, "%s: written bytes differ from onnx's\n", name);
            CHECK(same);
            kiln_pb_buf_free(&out);
            CHECK(kiln_value_copy(&last_raw, &cur) == KILN_OK);
            n_raw++;
        } else if (st == KILN_OK && nl > 6 && !strcmp(name + nl - 6, "_typed") && strcmp(name, "STRING_typed")) {
            /* initializers come as <dtype>_raw, <dtype>_typed, <dtype>_expect */
            size_t nb = kiln_tensor_nbytes(&cur.t);
            CHECK(cur.t.dtype == last_raw.t.dtype && nb == kiln_tensor_nbytes(&last_raw.t) &&
                  !memcmp(cur.t.data, last_raw.t.data, nb));
            n_typed++;
        }
        free(name);
    }
    CHECK(g.status == KILN_OK);
    CHECK(n_raw == KILN_DTYPE_COUNT - 2 && n_typed == KILN_DTYPE_COUNT - 2);
    kiln_value_release(&cur);
    kiln_value_release(&last_raw);
    /* a value read from a buffer owns its storage: the buffer can go away */
    kiln_file_unmap(&f);
}

static const kiln_node *node_at(const kiln_graph *g, int i) { return i < g->n_nodes ? &g->nodes[i] : NULL; }

static void test_functions(void) {
    loaded l;
    kiln_status st = load_file(&l, "tests/models/onnx/functions.onnx", "tests/models/onnx");
    if (st != KILN_OK) fprintf(stderr, "functions.onnx: %s\n", kiln_error_text());
    CHECK(st == KILN_OK);
    if (st != KILN_OK) {
        unload(&l);
        return;
    }
    const kiln_graph *g = l.g;
    static const char *const ops[] = {"MatMul", "LeakyRelu", "MatMul", "LeakyRelu", "Identity", "MatMul",
                                      "LeakyRelu", "MatMul", "LeakyRelu", "Identity", "If"};
    CHECK(g->n_nodes == 11);
    for (int i = 0; i < 11 && i < g->n_nodes; i++) {
        CHECK(!strcmp(g->nodes[i].op_type, ops[i]) && g->nodes[i].opset == 18 && !*g->nodes[i].domain);
        for (int j = 0; j < i; j++) CHECK(strcmp(g->nodes[i].name, g->nodes[j].name) != 0);
    }
    /* call-site value, default, call-site value, default */
    static const float alphas[] = {0.1f, 0.5f, 0.2f, 0.5f};
    for (int k = 0; k < 4 && g->n_nodes == 11; k++) {
        const kiln_node *n = node_at(g, k < 2 ? 1 + 2 * k : 6 + 2 * (k - 2));
        CHECK(kiln_attr_float(n, "alpha", -1.0f) == alphas[k]);
    }
    if (g->n_nodes == 11) {
        const kiln_node *mm = &g->nodes[0], *lr1 = &g->nodes[3], *id1 = &g->nodes[4], *id2 = &g->nodes[9];
        CHECK(!strcmp(g->values[mm->in[0]].name, "X") && !strcmp(g->values[mm->in[1]].name, "W"));
        CHECK(!strcmp(g->values[lr1->out[0]].name, "Y1"));
        CHECK(!strcmp(g->values[id2->out[0]].name, "E2"));
        CHECK(id1->out[0] >= 0 && strcmp(g->values[id1->out[0]].name, "") != 0); /* ignored output still named */
        CHECK(strstr(mm->name, "call1/") == mm->name);
        /* the If body was inlined with the function's names mapped to the caller's and k substituted */
        const kiln_node *iff = &g->nodes[10];
        const kiln_attr *tb = kiln_node_attr(iff, "then_branch");
        CHECK(tb && tb->g && tb->g->parent == g && tb->g->n_nodes == 2);
        if (tb && tb->g && tb->g->n_nodes == 2) {
            const kiln_graph *sg = tb->g;
            CHECK(kiln_attr_float(&sg->nodes[0], "value_float", 0) == 3.0f);
            int y2 = sg->nodes[1].in[0];
            CHECK(y2 >= 0 && !strcmp(sg->values[y2].name, "Y2") && sg->values[y2].is_outer);
            CHECK(!sg->values[sg->nodes[1].in[1]].is_outer);
        }
        CHECK(!strcmp(g->values[iff->out[0]].name, "P"));
    }
    unload(&l);
}

/* ---------------------------------------------------------------- external data --------------------------------- */

static char tmp_root[512], model_dir[600];

static void write_file(const char *dir, const char *name, const void *data, size_t n) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(kiln_file_write(path, data, n) == KILN_OK);
}

static void put_entry(kiln_pb_buf *b, const char *k, const char *v) {
    size_t e = kiln_pb_begin(b, 13);
    kiln_pb_put_bytes(b, 1, k, strlen(k));
    kiln_pb_put_bytes(b, 2, v, strlen(v));
    kiln_pb_end(b, e);
}

/* A model whose graph output is an initializer kept in an external file. */
static void ext_model(kiln_pb_buf *b, const char *loc, const char *offset, const char *length, int dtype, int n) {
    memset(b, 0, sizeof *b);
    kiln_pb_put_uint(b, 1, 9);
    size_t op = kiln_pb_begin(b, 8);
    kiln_pb_put_uint(b, 2, 19);
    kiln_pb_end(b, op);
    size_t g = kiln_pb_begin(b, 7);
    size_t t = kiln_pb_begin(b, 5);
    kiln_pb_put_uint(b, 1, (uint64_t)n);
    kiln_pb_put_uint(b, 2, (uint64_t)dtype);
    kiln_pb_put_bytes(b, 8, "w", 1);
    put_entry(b, "location", loc);
    if (offset) put_entry(b, "offset", offset);
    if (length) put_entry(b, "length", length);
    kiln_pb_put_uint(b, 14, 1);
    kiln_pb_end(b, t);
    size_t o = kiln_pb_begin(b, 12);
    kiln_pb_put_bytes(b, 1, "w", 1);
    kiln_pb_end(b, o);
    kiln_pb_end(b, g);
}

static kiln_status try_ext(const char *loc, const char *offset, const char *length, int dtype, int n,
                           const char *base, loaded *l) {
    kiln_pb_buf b;
    ext_model(&b, loc, offset, length, dtype, n);
    memset(l, 0, sizeof *l);
    kiln_status st = load_mem(l, b.data, b.len, base);
    kiln_pb_buf_free(&b);
    return st;
}

static void expect_refused(const char *loc, const char *offset, const char *length, const char *base,
                           kiln_status want, const char *text) {
    loaded l;
    kiln_status st = try_ext(loc, offset, length, KILN_FLOAT, 3, base, &l);
    if (st != want || !strstr(kiln_error_text(), text))
        fprintf(stderr, "location '%s': got %d '%s', wanted %d with '%s'\n", loc, (int)st, kiln_error_text(),
                (int)want, text);
    CHECK(st == want);
    CHECK(strstr(kiln_error_text(), text) != NULL);
    CHECK(l.n_maps == 0 && l.maps == NULL);
    CHECK(l.errs.n >= 1);
    unload(&l);
}

static void test_external(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/kiln-onnx-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    CHECK(mkdtemp(tmp_root) != NULL);
    snprintf(model_dir, sizeof model_dir, "%s/model", tmp_root);
    CHECK(mkdir(model_dir, 0700) == 0);
    char sub[700];
    snprintf(sub, sizeof sub, "%s/sub", model_dir);
    CHECK(mkdir(sub, 0700) == 0);
    /* weights.bin: 3 floats at 0, 2 int64 at 4096 */
    static uint8_t bin[4096 + 16];
    float w[3] = {1.0f, -2.0f, 0.5f};
    int64_t q[2] = {-7, 1LL << 40};
    memcpy(bin, w, sizeof w);
    memcpy(bin + 4096, q, sizeof q);
    write_file(model_dir, "weights.bin", bin, sizeof bin);
    write_file(sub, "w.bin", w, sizeof w);
    write_file(tmp_root, "outside.bin", w, sizeof w);
    char link_path[800];
    snprintf(link_path, sizeof link_path, "%s/link_out.bin", model_dir);
    CHECK(symlink("../outside.bin", link_path) == 0);
    snprintf(link_path, sizeof link_path, "%s/link_in.bin", model_dir);
    CHECK(symlink("sub/w.bin", link_path) == 0);

    loaded l;
    /* offset 0 of a page-aligned mapping: borrowed, not copied */
    CHECK(try_ext("weights.bin", "0", "12", KILN_FLOAT, 3, model_dir, &l) == KILN_OK);
    CHECK(l.n_maps == 1);
    const kiln_tensor *t = l.g ? init_of(l.g, "w") : NULL;
    CHECK(t && t->dtype == KILN_FLOAT && !t->owned && l.n_maps == 1 && t->data == l.maps[0].data);
    if (t) CHECK(((const float *)t->data)[1] == -2.0f);
    unload(&l);
    CHECK(try_ext("weights.bin", "4096", "16", KILN_INT64, 2, model_dir, &l) == KILN_OK);
    t = l.g ? init_of(l.g, "w") : NULL;
    CHECK(t && !t->owned && ((const int64_t *)t->data)[1] == (1LL << 40));
    unload(&l);
    /* no length: the rest of the file, which must then be the exact size */
    CHECK(try_ext("sub/w.bin", NULL, NULL, KILN_FLOAT, 3, model_dir, &l) == KILN_OK);
    unload(&l);
    CHECK(try_ext("./sub/../sub/w.bin", NULL, NULL, KILN_FLOAT, 3, model_dir, &l) == KILN_OK);
    unload(&l);
    CHECK(try_ext("link_in.bin", "0", "12", KILN_FLOAT, 3, model_dir, &l) == KILN_OK);
    unload(&l);

    expect_refused("../outside.bin", NULL, NULL, model_dir, KILN_ERR_INVALID_ARGUMENT, "escapes the model's folder");
    expect_refused("sub/../../outside.bin", NULL, NULL, model_dir, KILN_ERR_INVALID_ARGUMENT, "escapes");
    expect_refused("link_out.bin", NULL, NULL, model_dir, KILN_ERR_INVALID_ARGUMENT, "escapes");
    char abs_path[800];
    snprintf(abs_path, sizeof abs_path, "%s/outside.bin", tmp_root);
    expect_refused(abs_path, NULL, NULL, model_dir, KILN_ERR_INVALID_ARGUMENT, "absolute path");
    expect_refused("weights.bin", "100000", NULL, model_dir, KILN_ERR_PARSE, "runs past the end");
    expect_refused("weights.bin", "4104", "12", model_dir, KILN_ERR_PARSE, "runs past the end");
    expect_refused("weights.bin", "0", "8", model_dir, KILN_ERR_PARSE, "expected 12");
    expect_refused("weights.bin", "-1", "12", model_dir, KILN_ERR_PARSE, "not a byte count");
    expect_refused("missing.bin", NULL, NULL, model_dir, KILN_ERR_IO, "missing.bin");
    expect_refused("weights.bin", "0", "12", NULL, KILN_ERR_INVALID_ARGUMENT, "without a base directory");

    /* clean up the temporary tree */
    const char *files[] = {"model/weights.bin", "model/sub/w.bin", "model/link_out.bin", "model/link_in.bin",
                           "outside.bin", "model/sub", "model"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", tmp_root, files[i]);
        CHECK(remove(p) == 0);
    }
    CHECK(rmdir(tmp_root) == 0);
}

int main(void) {
    test_tensors();
    test_value_io();
    test_functions();
    test_external();
    return CHECK_DONE();
}
