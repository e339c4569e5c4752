/* The IR: a graph of nodes over values, close to ONNX so every standard op maps 1:1.
 *
 * Ownership: a graph owns everything reachable from it (strings and attribute arrays live in its arena; values,
 * nodes and tensors are freed by kiln_graph_destroy), except borrowed tensor storage (owned=0), which points into
 * a mapped model or plan that must outlive the graph.
 *
 * Nodes are kept in topological order (kiln_graph_toposort establishes it and rejects cycles).
 * A subgraph (If/Loop/Scan body) is a kiln_graph with `parent` set; a value of the subgraph that is neither
 * produced there, nor a subgraph input, nor an initializer is an outer-scope reference (is_outer=1), bound by
 * name to the enclosing graphs' value at run time. */
#ifndef KILN_IR_GRAPH_H
#define KILN_IR_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/tensor.h"
#include "kiln.h"

/* One dimension: v >= 0 known; v < 0 unknown, with an optional symbolic name (ONNX dim_param). */
typedef struct kiln_dim {
    int64_t v;
    const char *sym;
} kiln_dim;

typedef struct kiln_type {
    kiln_value_kind kind;  /* TENSOR, SEQUENCE (of tensors), OPTIONAL (elem_kind says of what) */
    kiln_value_kind elem_kind; /* for OPTIONAL: TENSOR or SEQUENCE */
    kiln_dtype dtype;      /* element dtype (UNDEFINED when unknown) */
    int rank;              /* -1 when unknown */
    kiln_dim dims[KILN_MAX_DIMS];
} kiln_type;

/* ONNX AttributeProto.AttributeType values. */
typedef enum kiln_attr_type {
    KILN_ATTR_UNDEFINED = 0, KILN_ATTR_FLOAT = 1, KILN_ATTR_INT = 2, KILN_ATTR_STRING = 3, KILN_ATTR_TENSOR = 4,
    KILN_ATTR_GRAPH = 5, KILN_ATTR_FLOATS = 6, KILN_ATTR_INTS = 7, KILN_ATTR_STRINGS = 8, KILN_ATTR_TENSORS = 9,
    KILN_ATTR_GRAPHS = 10, KILN_ATTR_SPARSE_TENSOR = 11, KILN_ATTR_SPARSE_TENSORS = 12, KILN_ATTR_TYPE_PROTO = 13,
    KILN_ATTR_TYPE_PROTOS = 14, KILN_ATTR_TYPE_COUNT
} kiln_attr_type;

struct kiln_graph;

typedef struct kiln_attr {
    const char *name;
    kiln_attr_type type;
    int64_t i;
    float f;
    const char *s;          /* NUL-terminated copy; s_len is the byte length (may contain NUL) */
    size_t s_len;
    kiln_tensor *t;         /* TENSOR (and SPARSE_TENSOR, densified by the importer) */
    struct kiln_graph *g;   /* GRAPH */
    kiln_type *tp;          /* TYPE_PROTO */
    int n;                  /* element count of the list forms */
    int64_t *ints;
    float *floats;
    const char **strings;
    size_t *string_lens;
    kiln_tensor **tensors;
    struct kiln_graph **graphs;
    kiln_type *tps;
} kiln_attr;

typedef struct kiln_node {
    const char *name;
    const char *op_type;
    const char *domain;     /* "" for the default ONNX domain */
    int opset;              /* opset version in force for this node's domain */
    int n_in, n_out;
    int *in, *out;          /* value ids; -1 for an absent optional input/output */
    int n_attrs;
    kiln_attr *attrs;
} kiln_node;

typedef struct kiln_ir_value {
    const char *name;
    kiln_type type;
    kiln_tensor *init;      /* initializer / constant data, or NULL */
    int producer;           /* node index or -1 */
    int is_input, is_output, is_outer;
} kiln_ir_value;

typedef struct kiln_opset {
    const char *domain;
    int version;
} kiln_opset;

typedef struct kiln_graph {
    kiln_arena arena;
    const char *name;
    kiln_ir_value *values;
    int n_values, cap_values;
    kiln_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs, n_inputs, cap_inputs;    /* graph inputs (value ids), in order */
    int *outputs, n_outputs, cap_outputs; /* graph outputs (value ids), in order */
    kiln_opset *opsets;                   /* root graph: the model's opset imports */
    int n_opsets;
    struct kiln_graph *parent;
} kiln_graph;

kiln_graph *kiln_graph_create(kiln_graph *parent);
void kiln_graph_destroy(kiln_graph *g);

/* Finds a value by name in this graph only; -1 if absent. (Linear scan; importers keep their own hash maps.) */
int kiln_graph_find_value(const kiln_graph *g, const char *name);
/* Adds a value (name copied). Returns its id or -1 on out of memory (error recorded). Does not check duplicates. */
int kiln_graph_add_value(kiln_graph *g, const char *name);
/* Adds a node with n_in/n_out slots (filled with -1) and no attributes. Returns index or -1. op/domain copied. */
int kiln_graph_add_node(kiln_graph *g, const char *name, const char *op_type, const char *domain, int opset,
                        int n_in, int n_out);
/* Allocates n attributes on node (replacing none): returns the array or NULL. */
kiln_attr *kiln_graph_node_alloc_attrs(kiln_graph *g, int node, int n);
/* Sets an INTS attribute on node (replacing one of that name, copies in g's arena); n < 0 removes it. For builder
 * annotations such as the CUDA tactic of a node. */
kiln_status kiln_graph_node_set_ints(kiln_graph *g, int node, const char *name, const int64_t *v, int n);
kiln_status kiln_graph_add_input(kiln_graph *g, int value);
kiln_status kiln_graph_add_output(kiln_graph *g, int value);
/* The opset version for a domain ("" = ai.onnx), walking up to the root graph; 0 if not imported. */
int kiln_graph_opset(const kiln_graph *g, const char *domain);

/* Recomputes producers, checks that every node input is defined (graph input, initializer, earlier node output,
 * or outer-scope value in a subgraph), that no value is produced twice, and sorts nodes topologically.
 * Errors name the node and the value. Recurses into subgraphs. */
kiln_status kiln_graph_toposort(kiln_graph *g);

/* Attribute lookup on a node (prepare-time only: no string lookups at run time). */
const kiln_attr *kiln_node_attr(const kiln_node *n, const char *name);
int64_t kiln_attr_int(const kiln_node *n, const char *name, int64_t def);
float kiln_attr_float(const kiln_node *n, const char *name, float def);
/* NUL-terminated string or def. */
const char *kiln_attr_string(const kiln_node *n, const char *name, const char *def);
/* INTS: array and count (NULL, 0 if absent). */
const int64_t *kiln_attr_ints(const kiln_node *n, const char *name, int *count);
const float *kiln_attr_floats(const kiln_node *n, const char *name, int *count);
/* The accessors above fall back to their default when the attribute has another type; they also note the first
 * such mismatch per thread. This returns whether one was noted since the last call (text into buf, may be NULL)
 * and forgets it: the executor checks it after each kernel's prepare and run, so a wrongly typed attribute is an
 * error rather than silently ignored. */
int kiln_attr_mismatch(char *buf, size_t n);

#endif
