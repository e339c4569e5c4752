/* Every model of the ONNX node-test corpus imports and toposorts without error; every input/output .pb of the
 * corpus reads back, writes out and re-reads to the same value.
 * The corpus folder comes from argv[1] or $KILN_NODE_TESTS (CTest extracts the vendored tarball there). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/file.h"
#include "core/status.h"
#include "ir/graph.h"
#include "onnx/import.h"
#include "onnx/value_io.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int n_models, n_nodes, n_subgraphs, n_pb, n_pb_same_bytes, n_pb_typed;

static int same_tensor(const kiln_tensor *a, const kiln_tensor *b) {
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    int64_t n = kiln_tensor_numel(a);
    if (a->dtype == KILN_STRING) {
        for (int64_t i = 0; i < n; i++)
            if (strcmp(((char **)a->data)[i], ((char **)b->data)[i])) return 0;
        return 1;
    }
    size_t nb = kiln_tensor_nbytes(a);
    return nb == 0 || memcmp(a->data, b->data, nb) == 0;
}

static int same_value(const kiln_value *a, const kiln_value *b) {
    if (a->kind != b->kind) return 0;
    if (a->kind == KILN_V_TENSOR) return same_tensor(&a->t, &b->t);
    if (a->kind == KILN_V_SEQUENCE) {
        if (a->n_items != b->n_items || a->elem_dtype != b->elem_dtype) return 0;
        for (int i = 0; i < a->n_items; i++)
            if (!same_tensor(&a->items[i], &b->items[i])) return 0;
    }
    return 1;
}

/* Whether a TensorProto message uses any typed data field (then re-encoding with raw_data changes the bytes). */
static int uses_typed_fields(const void *data, size_t size) {
    kiln_pb r;
    kiln_pb_field f;
    kiln_pb_init(&r, data, size, "TensorProto");
    while (kiln_pb_next(&r, &f))
        if (f.num == 4 || f.num == 5 || f.num == 7 || f.num == 10 || f.num == 11) return 1;
    return 0;
}

/* Reads one .pb as the graph value `v` says, writes it back, re-reads it and compares. */
static void round_trip(const char *path, const kiln_ir_value *iv) {
    kiln_mapped_file m;
    if (kiln_file_map(path, &m) != KILN_OK) return;
    kiln_value a = {0}, b = {0};
    kiln_pb_buf buf = {0};
    char *name = NULL;
    kiln_status st = kiln_onnx_read_value(m.data, m.size, iv->type.kind, iv->type.dtype, &a, &name);
    if (st != KILN_OK) fprintf(stderr, "%s: %s\n", path, kiln_error_text());
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        n_pb++;
        st = kiln_onnx_write_value(&a, iv->type.kind, name, &buf);
        CHECK(st == KILN_OK);
        if (st == KILN_OK) st = kiln_onnx_read_value(buf.data, buf.len, iv->type.kind, iv->type.dtype, &b, NULL);
        CHECK(st == KILN_OK);
        int same = st == KILN_OK && same_value(&a, &b);
        if (!same) fprintf(stderr, "%s: value changed in the round trip\n", path);
        CHECK(same);
        int same_bytes = buf.len == m.size && memcmp(buf.data, m.data, m.size) == 0;
        n_pb_same_bytes += same_bytes;
        int typed = iv->type.kind == KILN_KIND_TENSOR && uses_typed_fields(m.data, m.size);
        n_pb_typed += typed;
        /* Sources written with raw_data / string_data re-encode to the very same bytes. */
        if (!same_bytes && !typed) fprintf(stderr, "%s: bytes differ after the round trip\n", path);
        CHECK(same_bytes || typed);
    }
    free(name);
    kiln_value_release(&a);
    kiln_value_release(&b);
    kiln_pb_buf_free(&buf);
    kiln_file_unmap(&m);
}

static void check_data_sets(const char *dir, const kiln_graph *g) {
    int ins[64], n_ins = 0;
    for (int i = 0; i < g->n_inputs && n_ins < 64; i++)
        if (!g->values[g->inputs[i]].init) ins[n_ins++] = g->inputs[i];
    for (int set = 0;; set++) {
        char path[4400];
        int any = 0;
        for (int io = 0; io < 2; io++) {
            for (int k = 0;; k++) {
                snprintf(path, sizeof path, "%s/test_data_set_%d/%s_%d.pb", dir, set, io ? "output" : "input", k);
                FILE *f = fopen(path, "rb");
                if (!f) break;
                fclose(f);
                any = 1;
                int nv = io ? g->n_outputs : n_ins;
                CHECK(k < nv);
                if (k >= nv) break;
                round_trip(path, &g->values[io ? g->outputs[k] : ins[k]]);
            }
        }
        if (!any) break;
    }
}

static void count_subgraphs(const kiln_graph *g) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_attrs; j++) {
            const kiln_attr *a = &g->nodes[i].attrs[j];
            if (a->g) n_subgraphs++, count_subgraphs(a->g);
            for (int k = 0; a->graphs && k < a->n; k++) n_subgraphs++, count_subgraphs(a->graphs[k]);
        }
}

static void check_model(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    kiln_mapped_file m;
    if (kiln_file_map(path, &m) != KILN_OK) {
        fprintf(stderr, "cannot map %s: %s\n", path, kiln_error_text());
        CHECK(0);
        return;
    }
    kiln_graph *g = kiln_graph_create(NULL);
    kiln_onnx_errors errs = {0};
    kiln_mapped_file *maps = NULL;
    int n_maps = 0;
    kiln_status st = kiln_onnx_import(m.data, m.size, dir, g, &errs, &maps, &n_maps);
    if (st != KILN_OK) fprintf(stderr, "%s: %s\n", path, kiln_error_text());
    CHECK(st == KILN_OK);
    CHECK(errs.n == 0);
    if (st == KILN_OK) {
        n_models++;
        n_nodes += g->n_nodes;
        count_subgraphs(g);
        CHECK(g->n_outputs > 0);
        CHECK(g->n_opsets > 0);
        for (int i = 0; i < g->n_nodes; i++) CHECK(g->nodes[i].name[0] != 0 && g->nodes[i].opset > 0);
        check_data_sets(dir, g);
    }
    kiln_graph_destroy(g);
    for (int i = 0; i < n_maps; i++) kiln_file_unmap(&maps[i]);
    free(maps);
    kiln_onnx_errors_clear(&errs);
    kiln_file_unmap(&m);
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : getenv("KILN_NODE_TESTS");
    if (!root) {
        fprintf(stderr, "usage: test_onnx_corpus <node-test folder> (or set KILN_NODE_TESTS)\n");
        return 1;
    }
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", root);
        return 1;
    }
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "test_", 5)) continue;
        if (n == cap) names = realloc(names, sizeof *names * (size_t)(cap = cap ? cap * 2 : 256));
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        check_model(dir);
        free(names[i]);
    }
    free(names);
    fprintf(stderr,
            "%d test folders, %d models imported (%d nodes, %d subgraphs); %d .pb values round-tripped (%d to the "
            "same bytes, %d from typed fields)\n",
            n, n_models, n_nodes, n_subgraphs, n_pb, n_pb_same_bytes, n_pb_typed);
    CHECK(n >= 1695);
    CHECK(n_models == n);
    CHECK(n_pb > 6000);
    return CHECK_DONE();
}
