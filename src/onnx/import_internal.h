/* Shared state of the ONNX importer (import.c: model/graph/nodes; import_attr.c: attributes and types;
 * import_func.c: inlining of model-local functions). */
#ifndef KILN_ONNX_IMPORT_INTERNAL_H
#define KILN_ONNX_IMPORT_INTERNAL_H

#include "onnx/import.h"
#include "onnx/strmap.h"
#include "onnx/tensor_proto.h"
#include "onnx/wire.h"

/* Nested function calls deeper than this are taken as recursion. */
#define KILN_ONNX_MAX_INLINE_DEPTH 32
/* Most nodes that inlining may import in total: a function calling another twice per level multiplies, so a few KB
 * of model could otherwise ask for billions of nodes. */
#define KILN_ONNX_MAX_INLINED_NODES (1 << 18)

typedef struct kiln_bytes {
    const uint8_t *p;
    size_t n;
} kiln_bytes;

/* A model-local function (FunctionProto), kept as slices of the model buffer. */
typedef struct onnx_func {
    const char *name, *domain, *overload;
    kiln_pb body;                 /* reader positioned on the FunctionProto (re-opened per call) */
    kiln_bytes *inputs, *outputs; /* formal names */
    int n_inputs, n_outputs;
    kiln_bytes *defaults;         /* attribute_proto: AttributeProto messages with default values */
    int n_defaults;
    kiln_opset *opsets;
    int n_opsets;
} onnx_func;

/* An attribute passed at a call site, already resolved (never a reference), with the frame its names live in. */
struct onnx_frame;
typedef struct onnx_call_attr {
    const char *name;
    kiln_bytes proto;             /* the AttributeProto message */
    int depth;                    /* reader depth of that message */
    struct onnx_frame *scope;     /* frame of the caller (NULL: not inside a function) */
} onnx_call_attr;

/* One function being inlined: maps the function's value names to the caller's, and holds the call's attributes. */
typedef struct onnx_frame {
    const onnx_func *fn;
    kiln_strmap rename;           /* formal name -> (const char *) actual name ("" for an omitted optional) */
    const char *prefix;           /* call node's name: prefix of the names given to inlined nodes and values */
    onnx_call_attr *attrs;
    int n_attrs;
    struct onnx_frame *parent;
    int depth;
} onnx_frame;

/* Name bookkeeping for one graph being filled. */
typedef struct onnx_scope {
    kiln_graph *g;
    kiln_strmap values;           /* name -> value id */
    kiln_strmap node_names;       /* node names in use (for unique generated names) */
    int is_sub;
} onnx_scope;

typedef struct onnx_importer {
    const uint8_t *base;
    size_t size;
    kiln_graph *root;
    kiln_onnx_extdata ext;
    kiln_onnx_errors *errs;
    kiln_arena tmp;               /* strings that live for the import only */
    onnx_func *funcs;
    int n_funcs;
    kiln_strmap func_map;         /* "domain\1name\1overload" -> index */
    int ir_version;
    int n_inlined;                /* nodes imported from function bodies so far (KILN_ONNX_MAX_INLINED_NODES) */
} onnx_importer;

/* import.c */
kiln_status onnx_import_graph(onnx_importer *im, onnx_scope *parent, onnx_frame *fr, kiln_pb *r, kiln_graph *g);
/* Imports the NodeProto read by r into scope s (inlining it when it calls a model-local function). */
kiln_status onnx_import_node(onnx_importer *im, onnx_scope *s, onnx_frame *fr, kiln_pb *r, int index_hint);
/* Looks a value up by name in s, creating it when new. */
kiln_status onnx_scope_value(onnx_scope *s, const char *name, int *id);
/* A node name not yet used in s, from `want` (or "OpType_<index>" when want is empty). Stored in g's arena. */
kiln_status onnx_scope_node_name(onnx_scope *s, const char *want, const char *op_type, int index, const char **out);
/* Name translation through the inlining frame (returns name itself outside functions). */
const char *onnx_translate(const onnx_frame *fr, const char *name);
/* NUL-terminated copy of a byte slice in the importer's temporary arena. */
const char *onnx_tmp_str(onnx_importer *im, const uint8_t *p, size_t n);

/* import_attr.c */
/* Fills *a from the AttributeProto read by r. *skip is set when the attribute is a reference to a call-site
 * attribute that the call does not give (and has no default): the node then simply lacks it. */
kiln_status onnx_import_attr(onnx_importer *im, onnx_scope *s, onnx_frame *fr, kiln_pb *r, kiln_attr *a, int *skip);
/* TypeProto -> kiln_type; strings (dim_param) go to g's arena. */
kiln_status onnx_read_type(kiln_pb *r, kiln_graph *g, kiln_type *t);
/* Name of the AttributeProto read by r (does not consume r). */
kiln_status onnx_attr_name(kiln_pb r, kiln_bytes *name, kiln_bytes *ref);

/* import_func.c */
kiln_status onnx_read_functions(onnx_importer *im, kiln_pb *model_fields_reader);
/* The function a node calls, or NULL. */
const onnx_func *onnx_find_function(onnx_importer *im, const char *domain, const char *op_type, const char *overload);
/* Inlines one call. ins/outs are the call's (already translated) value names, "" for absent ones. */
kiln_status onnx_inline_call(onnx_importer *im, onnx_scope *s, onnx_frame *caller, const onnx_func *fn,
                             const char *call_name, const char **ins, int n_in, const char **outs, int n_out,
                             const kiln_bytes *attrs, int n_attrs, int attr_depth);
/* Opset version in force for `domain` at a node imported under frame fr. */
int onnx_node_opset(onnx_importer *im, const onnx_frame *fr, const char *domain);
void onnx_free_functions(onnx_importer *im);

#endif
