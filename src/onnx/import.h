/* ONNX ModelProto -> kiln IR graph (internal API; the public parser is parser.c). */
#ifndef KILN_ONNX_IMPORT_H
#define KILN_ONNX_IMPORT_H

#include <stddef.h>

#include "core/file.h"
#include "ir/graph.h"
#include "kiln.h"

/* One import error. Strings are malloc'd and owned by the list. */
typedef struct kiln_onnx_error {
    int node_index;   /* index of the node in the model's main graph, -1 when not about a node */
    char *node_name;  /* "" when unknown */
    char *op_type;    /* "" when unknown */
    char *reason;
} kiln_onnx_error;

typedef struct kiln_onnx_errors {
    kiln_onnx_error *items;
    int n, cap;
} kiln_onnx_errors;

/* Appends an error (strings copied; NULL taken as ""). Silently drops it on out of memory. */
void kiln_onnx_errors_add(kiln_onnx_errors *e, int node_index, const char *node_name, const char *op_type,
                          const char *reason);
void kiln_onnx_errors_clear(kiln_onnx_errors *e);

/* Imports the model in data[0..size) into g, which must be a fresh, empty root graph.
 *
 * Weights are borrowed from `data` where they can be (see tensor_proto.h), so data must outlive g.
 * base_dir: folder that external-data locations are relative to; NULL refuses external data.
 * errs (may be NULL) receives one entry per failure, with the node it is about.
 * maps_out/n_maps_out receive the external-data files mapped for the graph's weights: a malloc'd array the caller
 * owns (keep every mapping alive as long as g, then kiln_file_unmap each and free the array). On failure nothing
 * is handed back (*maps_out = NULL, *n_maps_out = 0) and g holds a partial import the caller should destroy.
 * On success the graph is topologically sorted and validated (kiln_graph_toposort). */
kiln_status kiln_onnx_import(const void *data, size_t size, const char *base_dir, kiln_graph *g,
                             kiln_onnx_errors *errs, kiln_mapped_file **maps_out, int *n_maps_out);

#endif
