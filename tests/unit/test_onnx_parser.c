/* Public ONNX parser API: handles, the error list (node index / name / op type / reason), refusing to parse into
 * a non-empty network, mappings handed to the network, and parse -> build -> run end to end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/network.h"
#include "check.h"
#include "core/file.h"
#include "kiln.h"
#include "onnx/wire.h"
#include "runtime/op.h"

static void quiet(void *user, kiln_severity sev, const char *msg) { (void)user, (void)sev, (void)msg; }
static const kiln_logger quiet_logger = {quiet, NULL};

/* Model: one or more nodes (op_type, inputs, output, optional broken attribute), graph input x [3] float,
 * output named by the last node; an optional float initializer w, inline or external. */
typedef struct mnode {
    const char *op, *in0, *in1, *out;
    int bad_attr; /* an attribute reference outside any function: an error at this node */
} mnode;

static void put_vi(kiln_pb_buf *b, int field, const char *name) {
    size_t vi = kiln_pb_begin(b, (uint32_t)field);
    kiln_pb_put_bytes(b, 1, name, strlen(name));
    size_t tp = kiln_pb_begin(b, 2);
    size_t tt = kiln_pb_begin(b, 1);
    kiln_pb_put_uint(b, 1, KILN_FLOAT);
    size_t sh = kiln_pb_begin(b, 2);
    size_t d = kiln_pb_begin(b, 1);
    kiln_pb_put_uint(b, 1, 3);
    kiln_pb_end(b, d);
    kiln_pb_end(b, sh);
    kiln_pb_end(b, tt);
    kiln_pb_end(b, tp);
    kiln_pb_end(b, vi);
}

static void make_model(kiln_pb_buf *b, const mnode *nodes, int n_nodes, const float *w_inline, const char *w_file) {
    memset(b, 0, sizeof *b);
    kiln_pb_put_uint(b, 1, 9);
    size_t op = kiln_pb_begin(b, 8);
    kiln_pb_put_uint(b, 2, 17);
    kiln_pb_end(b, op);
    size_t g = kiln_pb_begin(b, 7);
    for (int i = 0; i < n_nodes; i++) {
        size_t n = kiln_pb_begin(b, 1);
        kiln_pb_put_bytes(b, 1, nodes[i].in0, strlen(nodes[i].in0));
        if (nodes[i].in1) kiln_pb_put_bytes(b, 1, nodes[i].in1, strlen(nodes[i].in1));
        kiln_pb_put_bytes(b, 2, nodes[i].out, strlen(nodes[i].out));
        char name[32];
        snprintf(name, sizeof name, "n%d", i);
        kiln_pb_put_bytes(b, 3, name, strlen(name));
        kiln_pb_put_bytes(b, 4, nodes[i].op, strlen(nodes[i].op));
        if (nodes[i].bad_attr) {
            size_t a = kiln_pb_begin(b, 5);
            kiln_pb_put_bytes(b, 1, "alpha", 5);
            kiln_pb_put_bytes(b, 21, "outer_alpha", 11);
            kiln_pb_put_uint(b, 20, 1);
            kiln_pb_end(b, a);
        }
        kiln_pb_end(b, n);
    }
    if (w_inline || w_file) {
        size_t t = kiln_pb_begin(b, 5);
        kiln_pb_put_uint(b, 1, 3);
        kiln_pb_put_uint(b, 2, KILN_FLOAT);
        kiln_pb_put_bytes(b, 8, "w", 1);
        if (w_inline) {
            kiln_pb_put_bytes(b, 9, w_inline, 3 * sizeof(float));
        } else {
            size_t e = kiln_pb_begin(b, 13);
            kiln_pb_put_bytes(b, 1, "location", 8);
            kiln_pb_put_bytes(b, 2, w_file, strlen(w_file));
            kiln_pb_end(b, e);
            kiln_pb_put_uint(b, 14, 1);
        }
        kiln_pb_end(b, t);
    }
    put_vi(b, 11, "x");
    put_vi(b, 12, nodes[n_nodes - 1].out);
    kiln_pb_end(b, g);
}

static void test_handles_and_errors(void) {
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_onnx_parser *p = NULL;
    CHECK(kiln_builder_create(&quiet_logger, &b) == KILN_OK);
    CHECK(kiln_network_create(b, &n) == KILN_OK);
    CHECK(kiln_onnx_parser_create(NULL, &p) == KILN_ERR_INVALID_ARGUMENT && p == NULL);
    CHECK(kiln_onnx_parser_create((kiln_network *)b, &p) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(kiln_onnx_parser_create(n, NULL) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(kiln_onnx_parser_create(n, &p) == KILN_OK && p != NULL);
    CHECK(kiln_onnx_parse_file(NULL, "x.onnx") == KILN_ERR_INVALID_ARGUMENT);
    CHECK(kiln_onnx_parse_file((kiln_onnx_parser *)n, "x.onnx") == KILN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(kiln_last_error(NULL), "not a ONNX parser") != NULL);
    CHECK(kiln_onnx_parser_error_count(NULL) == 0);

    /* missing file: I/O error, listed, on the handle */
    CHECK(kiln_onnx_parse_file(p, "tests/models/onnx/no-such-model.onnx") == KILN_ERR_IO);
    CHECK(kiln_onnx_parser_error_count(p) == 1);
    CHECK(strstr(kiln_last_error(p), "no-such-model.onnx") != NULL);
    kiln_parser_error e;
    CHECK(kiln_onnx_parser_get_error(p, 0, &e) == KILN_OK && e.node_index == -1 && strstr(e.reason, "no-such"));
    CHECK(kiln_onnx_parser_get_error(p, 1, &e) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(kiln_onnx_parser_get_error(p, 0, NULL) == KILN_ERR_INVALID_ARGUMENT);

    /* garbage */
    const char junk[] = "this is not an onnx model";
    CHECK(kiln_onnx_parse_memory(p, junk, sizeof junk, NULL) == KILN_ERR_PARSE);
    CHECK(kiln_onnx_parser_error_count(p) == 1);
    CHECK(strstr(kiln_last_error(p), "malformed ONNX") != NULL);

    /* two broken nodes: both are listed, each with its index, name and op type */
    mnode bad[] = {{"Relu", "x", NULL, "a", 0}, {"LeakyRelu", "a", NULL, "b", 1}, {"Elu", "b", NULL, "c", 1}};
    kiln_pb_buf m;
    make_model(&m, bad, 3, NULL, NULL);
    CHECK(kiln_onnx_parse_memory(p, m.data, m.len, NULL) == KILN_ERR_PARSE);
    CHECK(kiln_onnx_parser_error_count(p) == 2);
    CHECK(kiln_onnx_parser_get_error(p, 0, &e) == KILN_OK);
    CHECK(e.node_index == 1 && !strcmp(e.node_name, "n1") && !strcmp(e.op_type, "LeakyRelu"));
    CHECK(strstr(e.reason, "attribute 'alpha' refers to 'outer_alpha'") != NULL);
    CHECK(kiln_onnx_parser_get_error(p, 1, &e) == KILN_OK && e.node_index == 2 && !strcmp(e.op_type, "Elu"));
    int cnt = -1;
    CHECK(kiln_network_node_count(n, &cnt) == KILN_OK && cnt == 0); /* failed parses leave the network alone */
    kiln_pb_buf_free(&m);

    /* a good model, then a second parse into the now non-empty network is refused */
    CHECK(kiln_onnx_parse_file(p, "tests/models/onnx/functions.onnx") == KILN_OK);
    CHECK(kiln_onnx_parser_error_count(p) == 0);
    CHECK(kiln_network_node_count(n, &cnt) == KILN_OK && cnt == 11);
    CHECK(kiln_network_input_count(n, &cnt) == KILN_OK && cnt == 3);
    CHECK(n->n_maps == 1); /* the model file stays mapped: weights may borrow from it */
    CHECK(kiln_onnx_parse_file(p, "tests/models/onnx/functions.onnx") == KILN_ERR_INVALID_ARGUMENT);
    CHECK(kiln_onnx_parser_error_count(p) == 1);
    CHECK(strstr(kiln_last_error(p), "fresh network") != NULL);

    kiln_onnx_parser_destroy(p);
    kiln_onnx_parser_destroy(NULL);
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
}

static int has_kernels(const char *const *ops, int n) {
    for (int i = 0; i < n; i++)
        if (!kiln_cpu_find_op(ops[i], "", 18)) {
            fprintf(stderr, "no CPU kernel for %s yet: skipping the run\n", ops[i]);
            return 0;
        }
    return 1;
}

/* Builds the network, runs it once with the given float inputs, copies float outputs out. */
static void build_and_run(kiln_builder *b, kiln_network *n, int n_in, const char *const *in_names,
                          void *const *in_data, const size_t *in_bytes, int n_out, const char *const *out_names,
                          float *const *out_data, const size_t *out_bytes) {
    kiln_config *cfg = NULL;
    kiln_blob *blob = NULL;
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    kiln_context *c = NULL;
    CHECK(kiln_config_create(b, &cfg) == KILN_OK);
    kiln_status st = kiln_build_serialized(b, n, cfg, &blob);
    if (st != KILN_OK) fprintf(stderr, "build: %s\n", kiln_last_error(b));
    CHECK(st == KILN_OK);
    kiln_network_destroy(n); /* the plan must not depend on the network's mappings */
    if (st == KILN_OK) {
        CHECK(kiln_runtime_create(&quiet_logger, &rt) == KILN_OK);
        CHECK(kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e) == KILN_OK);
        CHECK(e && kiln_context_create(e, &c) == KILN_OK);
    }
    if (c) {
        for (int i = 0; i < n_in; i++)
            CHECK(kiln_context_set_tensor_address(c, in_names[i], in_data[i], in_bytes[i]) == KILN_OK);
        for (int i = 0; i < n_out; i++)
            CHECK(kiln_context_set_tensor_address(c, out_names[i], out_data[i], out_bytes[i]) == KILN_OK);
        st = kiln_context_execute(c);
        if (st != KILN_OK) fprintf(stderr, "execute: %s\n", kiln_last_error(c));
        CHECK(st == KILN_OK);
    }
    kiln_context_destroy(c);
    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
    kiln_blob_destroy(blob);
    kiln_config_destroy(cfg);
}

/* functions.onnx end to end; expected values from onnxruntime on the same model and inputs. */
static void test_functions_run(void) {
    static const char *const ops[] = {"MatMul", "LeakyRelu", "Identity", "If", "Constant", "Add"};
    if (!has_kernels(ops, 6)) return;
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_onnx_parser *p = NULL;
    CHECK(kiln_builder_create(&quiet_logger, &b) == KILN_OK);
    CHECK(kiln_network_create(b, &n) == KILN_OK);
    CHECK(kiln_onnx_parser_create(n, &p) == KILN_OK);
    CHECK(kiln_onnx_parse_file(p, "tests/models/onnx/functions.onnx") == KILN_OK);
    kiln_onnx_parser_destroy(p);
    float x[4] = {1, -2, 3, 4}, w[4] = {1, 0, 0, 1}, y2[4], e2[4], pv[4];
    uint8_t cond = 1;
    const char *in_names[] = {"X", "W", "C"}, *out_names[] = {"Y2", "E2", "P"};
    void *in_data[] = {x, w, &cond};
    size_t in_bytes[] = {sizeof x, sizeof w, 1}, out_bytes[] = {sizeof y2, sizeof e2, sizeof pv};
    float *out_data[] = {y2, e2, pv};
    build_and_run(b, n, 3, in_names, in_data, in_bytes, 3, out_names, out_data, out_bytes);
    const float want_y2[] = {1, -0.01f, 3, 4}, want_e2[] = {1, -0.02f, 3, 4}, want_p[] = {4, 2.99f, 6, 7};
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(y2[i], want_y2[i], 1e-6);
        CHECK_NEAR(e2[i], want_e2[i], 1e-6);
        CHECK_NEAR(pv[i], want_p[i], 1e-6);
    }
    kiln_builder_destroy(b);
}

/* parse_file resolves external data next to the model and hands both mappings to the network. */
static void test_external_file(void) {
    char dir[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kiln-parser-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    CHECK(mkdtemp(dir) != NULL);
    char model_path[600], bin_path[600];
    snprintf(model_path, sizeof model_path, "%s/model.onnx", dir);
    snprintf(bin_path, sizeof bin_path, "%s/model.onnx.data", dir);
    const float wv[3] = {0.5f, -1.0f, 2.0f};
    CHECK(kiln_file_write(bin_path, wv, sizeof wv) == KILN_OK);
    mnode add[] = {{"Add", "x", "w", "y", 0}};
    kiln_pb_buf m;
    make_model(&m, add, 1, NULL, "model.onnx.data");
    CHECK(kiln_file_write(model_path, m.data, m.len) == KILN_OK);
    kiln_pb_buf_free(&m);

    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_onnx_parser *p = NULL;
    CHECK(kiln_builder_create(&quiet_logger, &b) == KILN_OK);
    CHECK(kiln_network_create(b, &n) == KILN_OK);
    CHECK(kiln_onnx_parser_create(n, &p) == KILN_OK);
    kiln_status st = kiln_onnx_parse_file(p, model_path);
    if (st != KILN_OK) fprintf(stderr, "%s\n", kiln_last_error(p));
    CHECK(st == KILN_OK);
    CHECK(n->n_maps == 2);
    int w = kiln_graph_find_value(n->graph, "w");
    CHECK(w >= 0 && n->graph->values[w].init && !n->graph->values[w].init->owned);
    kiln_onnx_parser_destroy(p);
    static const char *const ops[] = {"Add"};
    if (st == KILN_OK && has_kernels(ops, 1)) {
        float x[3] = {1, 2, 3}, y[3] = {0};
        const char *in_names[] = {"x"}, *out_names[] = {"y"};
        void *in_data[] = {x};
        size_t in_bytes[] = {sizeof x}, out_bytes[] = {sizeof y};
        float *out_data[] = {y};
        build_and_run(b, n, 1, in_names, in_data, in_bytes, 1, out_names, out_data, out_bytes);
        CHECK(y[0] == 1.5f && y[1] == 1.0f && y[2] == 5.0f);
    } else {
        kiln_network_destroy(n);
    }
    kiln_builder_destroy(b);
    CHECK(remove(model_path) == 0 && remove(bin_path) == 0 && rmdir(dir) == 0);
}

int main(void) {
    test_handles_and_errors();
    test_functions_run();
    test_external_file();
    return CHECK_DONE();
}
