/* Public ONNX parser API: fills a network's graph from an ONNX model (file or memory). */
#include <stdlib.h>
#include <string.h>

#include "build/network.h"
#include "core/file.h"
#include "core/status.h"
#include "onnx/import.h"

struct kiln_onnx_parser {
    kiln_handle_hdr hdr;
    kiln_network *net;      /* borrowed: must outlive the parser */
    kiln_onnx_errors errs;  /* from the last parse */
};

kiln_status kiln_onnx_parser_create(kiln_network *n, kiln_onnx_parser **out) {
    KILN_FAIL_IF(!out, KILN_ERR_INVALID_ARGUMENT, "kiln_onnx_parser_create: out is NULL");
    *out = NULL;
    KILN_CHECK_HANDLE(n, KILN_MAGIC_NETWORK, "network");
    kiln_onnx_parser *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a parser");
    p->hdr.magic = KILN_MAGIC_PARSER;
    p->net = n;
    *out = p;
    return KILN_OK;
}

void kiln_onnx_parser_destroy(kiln_onnx_parser *p) {
    if (!p || p->hdr.magic != KILN_MAGIC_PARSER) return;
    kiln_onnx_errors_clear(&p->errs);
    p->hdr.magic = KILN_MAGIC_DEAD;
    free(p);
}

/* Imports into a fresh graph and hands it (and the mappings its weights borrow from) to the network only when
 * everything succeeded, so a failed parse leaves the network as it was. `model_map` may be NULL (parse_memory). */
static kiln_status parse_into(kiln_onnx_parser *p, const void *data, size_t size, const char *base_dir,
                              kiln_mapped_file *model_map) {
    kiln_network *net = p->net;
    kiln_onnx_errors_clear(&p->errs);
    KILN_CHECK_HANDLE(net, KILN_MAGIC_NETWORK, "network");
    if (net->graph && (net->graph->n_nodes || net->graph->n_values)) {
        kiln_status s = kiln_error(KILN_ERR_INVALID_ARGUMENT,
                                   "the network already has nodes or inputs; parse into a fresh network");
        kiln_onnx_errors_add(&p->errs, -1, "", "", kiln_error_text());
        return s;
    }
    kiln_graph *g = kiln_graph_create(NULL);
    if (!g) return KILN_ERR_OUT_OF_MEMORY;
    kiln_mapped_file *maps = NULL;
    int n_maps = 0;
    kiln_status st = kiln_onnx_import(data, size, base_dir, g, &p->errs, &maps, &n_maps);
    if (st != KILN_OK) {
        kiln_graph_destroy(g);
        return st;
    }
    /* kiln_network_keep_mapping takes ownership even when it fails, so nothing handed over is unmapped here. */
    int kept = 0;
    if (model_map) {
        st = kiln_network_keep_mapping(net, model_map);
        memset(model_map, 0, sizeof *model_map);
    }
    for (; st == KILN_OK && kept < n_maps; kept++) st = kiln_network_keep_mapping(net, &maps[kept]);
    if (st != KILN_OK) {
        kiln_graph_destroy(g);
        for (int i = kept; i < n_maps; i++) kiln_file_unmap(&maps[i]);
        free(maps);
        kiln_onnx_errors_add(&p->errs, -1, "", "", kiln_error_text());
        return st;
    }
    free(maps);
    kiln_graph_destroy(net->graph);
    net->graph = g;
    return KILN_OK;
}

kiln_status kiln_onnx_parse_file(kiln_onnx_parser *p, const char *path) {
    KILN_CHECK_HANDLE(p, KILN_MAGIC_PARSER, "ONNX parser");
    if (!path) {
        kiln_onnx_errors_clear(&p->errs);
        return kiln_handle_fail(p, kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_onnx_parse_file: path is NULL"));
    }
    kiln_mapped_file m;
    kiln_status st = kiln_file_map(path, &m);
    if (st != KILN_OK) {
        kiln_onnx_errors_clear(&p->errs);
        kiln_onnx_errors_add(&p->errs, -1, "", "", kiln_error_text());
        return kiln_handle_fail(p, st);
    }
    /* External data lives next to the model. */
    size_t n = strlen(path);
    char *dir = malloc(n + 2);
    if (!dir) {
        kiln_file_unmap(&m);
        return kiln_handle_fail(p, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory"));
    }
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    st = parse_into(p, m.data, m.size, dir, &m);
    free(dir);
    kiln_file_unmap(&m); /* no-op when the network took it */
    if (st != KILN_OK) kiln_error_wrap(st, "parsing '%s'", path);
    return kiln_handle_fail(p, st);
}

kiln_status kiln_onnx_parse_memory(kiln_onnx_parser *p, const void *data, size_t size, const char *base_dir) {
    KILN_CHECK_HANDLE(p, KILN_MAGIC_PARSER, "ONNX parser");
    if (!data && size) {
        kiln_onnx_errors_clear(&p->errs);
        return kiln_handle_fail(p, kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_onnx_parse_memory: data is NULL"));
    }
    return kiln_handle_fail(p, parse_into(p, data, size, base_dir, NULL));
}

int kiln_onnx_parser_error_count(const kiln_onnx_parser *p) {
    if (kiln_handle_check(p, KILN_MAGIC_PARSER, "ONNX parser") != KILN_OK) return 0;
    return p->errs.n;
}

kiln_status kiln_onnx_parser_get_error(const kiln_onnx_parser *p, int i, kiln_parser_error *out) {
    KILN_CHECK_HANDLE(p, KILN_MAGIC_PARSER, "ONNX parser");
    kiln_onnx_parser *mp = (kiln_onnx_parser *)p;
    if (!out) return kiln_handle_fail(mp, kiln_error(KILN_ERR_INVALID_ARGUMENT, "get_error: out is NULL"));
    if (i < 0 || i >= p->errs.n)
        return kiln_handle_fail(mp, kiln_error(KILN_ERR_INVALID_ARGUMENT, "error index %d out of range [0, %d)", i,
                                               p->errs.n));
    const kiln_onnx_error *e = &p->errs.items[i];
    out->node_index = e->node_index;
    out->node_name = e->node_name;
    out->op_type = e->op_type;
    out->reason = e->reason;
    return KILN_OK;
}
