/* ModelProto / GraphProto / NodeProto -> kiln_graph. Attributes and types are in import_attr.c, model-local
 * functions in import_func.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "onnx/import_internal.h"

/* Errors past this many are dropped from the list (the first ones are the useful ones). */
#define MAX_LISTED_ERRORS 256

void kiln_onnx_errors_add(kiln_onnx_errors *e, int node_index, const char *node_name, const char *op_type,
                          const char *reason) {
    if (!e || e->n >= MAX_LISTED_ERRORS) return;
    if (e->n == e->cap) {
        int nc = e->cap ? e->cap * 2 : 8;
        kiln_onnx_error *ni = realloc(e->items, sizeof *ni * (size_t)nc);
        if (!ni) return;
        e->items = ni;
        e->cap = nc;
    }
    kiln_onnx_error *x = &e->items[e->n];
    x->node_index = node_index;
    x->node_name = strdup(node_name ? node_name : "");
    x->op_type = strdup(op_type ? op_type : "");
    x->reason = strdup(reason ? reason : "");
    if (!x->node_name || !x->op_type || !x->reason) {
        free(x->node_name), free(x->op_type), free(x->reason);
        return;
    }
    e->n++;
}

void kiln_onnx_errors_clear(kiln_onnx_errors *e) {
    if (!e) return;
    for (int i = 0; i < e->n; i++) free(e->items[i].node_name), free(e->items[i].op_type), free(e->items[i].reason);
    free(e->items);
    memset(e, 0, sizeof *e);
}

const char *onnx_tmp_str(onnx_importer *im, const uint8_t *p, size_t n) {
    char *s = kiln_arena_strndup(&im->tmp, (const char *)p, n);
    if (!s) kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    return s;
}

const char *onnx_translate(const onnx_frame *fr, const char *name) {
    intptr_t v;
    if (fr && *name && kiln_strmap_get(&fr->rename, name, strlen(name), &v)) return (const char *)v;
    return name;
}

kiln_status onnx_scope_value(onnx_scope *s, const char *name, int *id) {
    size_t len = strlen(name);
    intptr_t v;
    if (kiln_strmap_get(&s->values, name, len, &v)) {
        *id = (int)v;
        return KILN_OK;
    }
    int vid = kiln_graph_add_value(s->g, name);
    if (vid < 0) return KILN_ERR_OUT_OF_MEMORY;
    KILN_TRY(kiln_strmap_put(&s->values, name, len, vid));
    *id = vid;
    return KILN_OK;
}

/* node_names values: NAME_RESERVED for names seen by the prescan (so generated names avoid them), NAME_USED once a
 * node carries the name. */
enum { NAME_RESERVED = 1, NAME_USED = 2 };

kiln_status onnx_scope_node_name(onnx_scope *s, const char *want, const char *op_type, int index, const char **out) {
    intptr_t state = 0;
    if (want && *want && (!kiln_strmap_get(&s->node_names, want, strlen(want), &state) || state == NAME_RESERVED)) {
        KILN_TRY(kiln_strmap_put(&s->node_names, want, strlen(want), NAME_USED));
        *out = kiln_strmap_key(&s->node_names, want, strlen(want));
        return KILN_OK;
    }
    char buf[320];
    if (want && *want)
        snprintf(buf, sizeof buf, "%.250s", want); /* a duplicate name: keep it recognisable, add a suffix */
    else
        snprintf(buf, sizeof buf, "%.250s_%d", op_type, index);
    size_t base = strlen(buf);
    for (int k = 1; kiln_strmap_get(&s->node_names, buf, strlen(buf), NULL); k++)
        snprintf(buf + base, sizeof buf - base, "_%d", k);
    KILN_TRY(kiln_strmap_put(&s->node_names, buf, strlen(buf), NAME_USED));
    *out = kiln_strmap_key(&s->node_names, buf, strlen(buf));
    return KILN_OK;
}

/* ---------------------------------------------------------------- nodes ----------------------------------------- */

typedef struct node_fields {
    kiln_bytes name, op, domain, overload;
    kiln_bytes *ins, *outs, *attrs;
    int n_in, n_out, n_attrs;
} node_fields;

static void node_fields_free(node_fields *nf) {
    free(nf->ins);
    free(nf->outs);
    free(nf->attrs);
}

static kiln_status scan_node(kiln_pb *r, node_fields *nf) {
    memset(nf, 0, sizeof *nf);
    kiln_pb q = *r;
    kiln_pb_field f;
    int ni = 0, no = 0, na = 0;
    while (kiln_pb_next(&q, &f)) {
        ni += f.num == 1;
        no += f.num == 2;
        na += f.num == 5;
    }
    KILN_TRY(q.status);
    nf->ins = calloc((size_t)ni + 1, sizeof(kiln_bytes));
    nf->outs = calloc((size_t)no + 1, sizeof(kiln_bytes));
    nf->attrs = calloc((size_t)na + 1, sizeof(kiln_bytes));
    KILN_FAIL_IF(!nf->ins || !nf->outs || !nf->attrs, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    while (kiln_pb_next(r, &f)) {
        switch (f.num) {
        case 1: KILN_TRY(kiln_pb_bytes(r, &f, "input", &nf->ins[nf->n_in].p, &nf->ins[nf->n_in].n)); nf->n_in++; break;
        case 2:
            KILN_TRY(kiln_pb_bytes(r, &f, "output", &nf->outs[nf->n_out].p, &nf->outs[nf->n_out].n));
            nf->n_out++;
            break;
        case 3: KILN_TRY(kiln_pb_bytes(r, &f, "name", &nf->name.p, &nf->name.n)); break;
        case 4: KILN_TRY(kiln_pb_bytes(r, &f, "op_type", &nf->op.p, &nf->op.n)); break;
        case 5:
            KILN_TRY(kiln_pb_bytes(r, &f, "attribute", &nf->attrs[nf->n_attrs].p, &nf->attrs[nf->n_attrs].n));
            nf->n_attrs++;
            break;
        case 7: KILN_TRY(kiln_pb_bytes(r, &f, "domain", &nf->domain.p, &nf->domain.n)); break;
        case 8: KILN_TRY(kiln_pb_bytes(r, &f, "overload", &nf->overload.p, &nf->overload.n)); break;
        default: break;
        }
    }
    return r->status;
}

/* Reader over one of a node's attribute slices, at the depth the node's fields live. */
static void attr_reader(const kiln_pb *node_r, kiln_bytes b, kiln_pb *out) {
    out->base = node_r->base;
    out->p = b.p;
    out->end = b.p + b.n;
    out->msg = "AttributeProto";
    out->depth = node_r->depth + 1;
    out->status = KILN_OK;
}

static kiln_status add_plain_node(onnx_importer *im, onnx_scope *s, onnx_frame *fr, const kiln_pb *node_r,
                                  const node_fields *nf, const char *name, const char *op, const char *domain,
                                  const char **ins, const char **outs) {
    kiln_graph *g = s->g;
    const char *node_name;
    KILN_TRY(onnx_scope_node_name(s, name, op, g->n_nodes, &node_name));
    int ni = kiln_graph_add_node(g, node_name, op, domain, onnx_node_opset(im, fr, domain), nf->n_in, nf->n_out);
    if (ni < 0) return KILN_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < nf->n_in; i++) {
        if (!*ins[i]) continue;
        int id;
        KILN_TRY(onnx_scope_value(s, ins[i], &id));
        g->nodes[ni].in[i] = id;
    }
    for (int i = 0; i < nf->n_out; i++) {
        if (!*outs[i]) continue;
        int id;
        KILN_TRY(onnx_scope_value(s, outs[i], &id));
        g->nodes[ni].out[i] = id;
        if (g->values[id].producer < 0) g->values[id].producer = ni;
    }
    if (!nf->n_attrs) return KILN_OK;
    kiln_attr *a = kiln_graph_node_alloc_attrs(g, ni, nf->n_attrs);
    if (!a) return KILN_ERR_OUT_OF_MEMORY;
    g->nodes[ni].n_attrs = 0; /* grows as attributes are filled, so a failure leaves only complete ones */
    for (int i = 0; i < nf->n_attrs; i++) {
        kiln_pb ar;
        attr_reader(node_r, nf->attrs[i], &ar);
        int skip = 0;
        kiln_attr *dst = &a[g->nodes[ni].n_attrs];
        kiln_status st = onnx_import_attr(im, s, fr, &ar, dst, &skip);
        if (!skip) g->nodes[ni].n_attrs++; /* counted even on failure: it may own a tensor or graph to free */
        if (st != KILN_OK) return st;
        for (int j = 0; j < g->nodes[ni].n_attrs - 1 && !skip; j++)
            KILN_FAIL_IF(!strcmp(a[j].name, dst->name), KILN_ERR_PARSE, "attribute '%s' is given twice", dst->name);
    }
    return KILN_OK;
}

kiln_status onnx_import_node(onnx_importer *im, onnx_scope *s, onnx_frame *fr, kiln_pb *r, int index) {
    node_fields nf;
    kiln_status st = scan_node(r, &nf);
    const char *name = NULL, *op = NULL, *domain = NULL, *overload = NULL;
    const char **ins = NULL, **outs = NULL;
    if (st != KILN_OK) goto done;
    st = KILN_ERR_OUT_OF_MEMORY;
    name = onnx_tmp_str(im, nf.name.p, nf.name.n);
    op = onnx_tmp_str(im, nf.op.p, nf.op.n);
    domain = onnx_tmp_str(im, nf.domain.p, nf.domain.n);
    overload = onnx_tmp_str(im, nf.overload.p, nf.overload.n);
    ins = kiln_arena_alloc(&im->tmp, sizeof(char *) * (size_t)(nf.n_in + 1));
    outs = kiln_arena_alloc(&im->tmp, sizeof(char *) * (size_t)(nf.n_out + 1));
    if (!name || !op || !domain || !overload || !ins || !outs) goto done;
    if (!strcmp(domain, "ai.onnx")) domain = "";
    for (int i = 0; i < nf.n_in; i++)
        if (!(ins[i] = onnx_tmp_str(im, nf.ins[i].p, nf.ins[i].n))) goto done;
    for (int i = 0; i < nf.n_out; i++)
        if (!(outs[i] = onnx_tmp_str(im, nf.outs[i].p, nf.outs[i].n))) goto done;
    st = KILN_OK;
    if (!*op) {
        st = kiln_error(KILN_ERR_PARSE, "node has no op_type");
        goto done;
    }
    for (int i = 0; i < nf.n_in; i++) ins[i] = onnx_translate(fr, ins[i]);
    for (int i = 0; i < nf.n_out; i++) outs[i] = onnx_translate(fr, outs[i]);
    const char *full_name = name;
    if (fr) { /* inlined: the function's node names are only unique within one call */
        char buf[600];
        if (*name)
            snprintf(buf, sizeof buf, "%.280s/%.280s", fr->prefix, name);
        else
            snprintf(buf, sizeof buf, "%.280s/%.200s_%d", fr->prefix, op, index);
        if (!(full_name = onnx_tmp_str(im, (const uint8_t *)buf, strlen(buf)))) {
            st = KILN_ERR_OUT_OF_MEMORY;
            goto done;
        }
    }
    const onnx_func *fn = onnx_find_function(im, domain, op, overload);
    if (fn) {
        const char *call_name;
        st = onnx_scope_node_name(s, full_name, op, s->g->n_nodes, &call_name);
        if (st == KILN_OK)
            st = onnx_inline_call(im, s, fr, fn, call_name, ins, nf.n_in, outs, nf.n_out, nf.attrs, nf.n_attrs,
                                  r->depth + 1);
    } else {
        st = add_plain_node(im, s, fr, r, &nf, full_name, op, domain, ins, outs);
    }
done:
    if (st != KILN_OK) {
        char nm[300];
        snprintf(nm, sizeof nm, "%.*s", (int)(nf.name.n > 280 ? 280 : nf.name.n), nf.name.p ? (const char *)nf.name.p : "");
        char opn[130];
        snprintf(opn, sizeof opn, "%.*s", (int)(nf.op.n > 120 ? 120 : nf.op.n), nf.op.p ? (const char *)nf.op.p : "");
        kiln_error_wrap(st, "node %d ('%s', %s)", index, nm, opn);
        if (!s->is_sub && !fr) kiln_onnx_errors_add(im->errs, index, nm, opn, kiln_error_text());
    }
    node_fields_free(&nf);
    return st;
}

/* ---------------------------------------------------------------- graphs ---------------------------------------- */

typedef struct value_info {
    const char *name;
    int has_type;
    kiln_type type;
} value_info;

static kiln_status read_value_info(onnx_importer *im, kiln_pb *r, const kiln_pb_field *f, const char *field,
                                   onnx_frame *fr, kiln_graph *g, value_info *vi, int strict) {
    kiln_pb v, tr;
    kiln_pb_field h;
    kiln_bytes name = {0};
    memset(vi, 0, sizeof *vi);
    vi->type.kind = KILN_KIND_TENSOR;
    vi->type.rank = -1;
    KILN_TRY(kiln_pb_sub(r, f, field, "ValueInfoProto", &v));
    while (kiln_pb_next(&v, &h)) {
        if (h.num == 1) KILN_TRY(kiln_pb_bytes(&v, &h, "name", &name.p, &name.n));
        if (h.num == 2) {
            KILN_TRY(kiln_pb_sub(&v, &h, "type", "TypeProto", &tr));
            kiln_status st = onnx_read_type(&tr, g, &vi->type);
            if (st != KILN_OK) {
                if (strict)
                    return kiln_error_wrap(st, "%s '%.*s'", field, (int)(name.n > 200 ? 200 : name.n),
                                           name.p ? (const char *)name.p : "");
                vi->type.kind = KILN_KIND_TENSOR; /* an annotation kiln cannot represent: ignore it */
                vi->type.rank = -1;
                vi->type.dtype = KILN_UNDEFINED;
                kiln_error_clear();
            } else {
                vi->has_type = 1;
            }
        }
    }
    KILN_TRY(v.status);
    vi->name = onnx_tmp_str(im, name.p, name.n);
    KILN_FAIL_IF(!vi->name, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    vi->name = onnx_translate(fr, vi->name);
    return KILN_OK;
}

static kiln_status add_initializer(onnx_importer *im, onnx_scope *s, onnx_frame *fr, kiln_pb *r,
                                   const kiln_pb_field *f, int sparse) {
    kiln_pb tr;
    KILN_TRY(kiln_pb_sub(r, f, sparse ? "sparse_initializer" : "initializer",
                         sparse ? "SparseTensorProto" : "TensorProto", &tr));
    kiln_tensor *t = calloc(1, sizeof *t);
    KILN_FAIL_IF(!t, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    const uint8_t *np;
    size_t nl;
    kiln_status st = sparse ? kiln_onnx_read_sparse(&tr, &im->ext, t, &np, &nl)
                            : kiln_onnx_read_tensor(&tr, &im->ext, 1, t, &np, &nl);
    const char *name = st == KILN_OK ? onnx_tmp_str(im, np, nl) : NULL;
    int id = -1;
    if (st == KILN_OK && !name) st = KILN_ERR_OUT_OF_MEMORY;
    if (st == KILN_OK && !*name) st = kiln_error(KILN_ERR_PARSE, "an initializer has no name");
    if (st == KILN_OK) st = onnx_scope_value(s, onnx_translate(fr, name), &id);
    if (st == KILN_OK && s->g->values[id].init)
        st = kiln_error(KILN_ERR_INVALID_GRAPH, "initializer '%s' is given twice", name);
    if (st != KILN_OK) {
        kiln_tensor_release(t);
        free(t);
        return st;
    }
    kiln_ir_value *v = &s->g->values[id];
    v->init = t;
    if (!v->is_input) {
        v->type.kind = KILN_KIND_TENSOR;
        v->type.dtype = t->dtype;
        v->type.rank = t->rank;
        for (int i = 0; i < t->rank; i++) v->type.dims[i].v = t->dims[i], v->type.dims[i].sym = NULL;
    }
    return KILN_OK;
}

/* Registers the names a node uses (values, and its own name) before any node is imported, so names generated
 * later (unnamed nodes, inlined function values) cannot collide with names that appear further down. */
static kiln_status prescan_node(onnx_importer *im, onnx_scope *s, onnx_frame *fr, kiln_pb *r) {
    kiln_pb_field f;
    while (kiln_pb_next(r, &f)) {
        if (f.num != 1 && f.num != 2 && f.num != 3) continue;
        const uint8_t *p;
        size_t n;
        KILN_TRY(kiln_pb_bytes(r, &f, f.num == 3 ? "name" : f.num == 1 ? "input" : "output", &p, &n));
        if (!n) continue;
        if (f.num == 3) {
            if (!fr && !kiln_strmap_get(&s->node_names, (const char *)p, n, NULL))
                KILN_TRY(kiln_strmap_put(&s->node_names, (const char *)p, n, NAME_RESERVED));
            continue;
        }
        const char *name = onnx_tmp_str(im, p, n);
        KILN_FAIL_IF(!name, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        int id;
        KILN_TRY(onnx_scope_value(s, onnx_translate(fr, name), &id));
    }
    return r->status;
}

static kiln_status graph_body(onnx_importer *im, onnx_scope *s, onnx_frame *fr, kiln_pb *r) {
    kiln_graph *g = s->g;
    kiln_pb q = *r, sub;
    kiln_pb_field f;
    value_info vi;
    /* Pass 1: inputs and initializers (field order in the message is free). */
    while (kiln_pb_next(&q, &f)) {
        if (f.num == 2) {
            const uint8_t *p;
            size_t n;
            KILN_TRY(kiln_pb_bytes(&q, &f, "name", &p, &n));
            g->name = kiln_arena_strndup(&g->arena, (const char *)p, n);
            KILN_FAIL_IF(!g->name, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        } else if (f.num == 11) {
            KILN_TRY(read_value_info(im, &q, &f, "input", fr, g, &vi, 1));
            KILN_FAIL_IF(!*vi.name, KILN_ERR_PARSE, "graph input %d has no name", g->n_inputs);
            int id;
            KILN_TRY(onnx_scope_value(s, vi.name, &id));
            KILN_FAIL_IF(g->values[id].is_input, KILN_ERR_INVALID_GRAPH, "graph input '%s' is listed twice",
                         vi.name);
            g->values[id].type = vi.type;
            KILN_TRY(kiln_graph_add_input(g, id));
        }
    }
    KILN_TRY(q.status);
    q = *r;
    while (kiln_pb_next(&q, &f)) {
        if (f.num == 5 || f.num == 15) KILN_TRY(add_initializer(im, s, fr, &q, &f, f.num == 15));
    }
    KILN_TRY(q.status);
    /* Pass 2: names used by nodes. */
    q = *r;
    while (kiln_pb_next(&q, &f)) {
        if (f.num != 1) continue;
        KILN_TRY(kiln_pb_sub(&q, &f, "node", "NodeProto", &sub));
        KILN_TRY(prescan_node(im, s, fr, &sub));
    }
    KILN_TRY(q.status);
    /* Pass 3: nodes. In the main graph, keep going after a failing node to report every broken node at once. */
    kiln_status first = KILN_OK;
    char first_text[KILN_ERROR_TEXT_MAX] = "";
    int index = 0;
    q = *r;
    while (kiln_pb_next(&q, &f)) {
        if (f.num != 1) continue;
        KILN_TRY(kiln_pb_sub(&q, &f, "node", "NodeProto", &sub));
        kiln_status st = onnx_import_node(im, s, fr, &sub, index++);
        if (st == KILN_OK) continue;
        if (s->is_sub || fr || st == KILN_ERR_OUT_OF_MEMORY) return st;
        if (first == KILN_OK) {
            first = st;
            snprintf(first_text, sizeof first_text, "%s", kiln_error_text());
        }
    }
    KILN_TRY(q.status);
    if (first != KILN_OK) return kiln_error(first, "%s", first_text);
    /* Pass 4: outputs and value_info. */
    q = *r;
    while (kiln_pb_next(&q, &f)) {
        if (f.num != 12 && f.num != 13) continue;
        int is_out = f.num == 12;
        KILN_TRY(read_value_info(im, &q, &f, is_out ? "output" : "value_info", fr, g, &vi, is_out));
        int id;
        if (is_out) {
            KILN_FAIL_IF(!*vi.name, KILN_ERR_PARSE, "graph output %d has no name", g->n_outputs);
            KILN_TRY(onnx_scope_value(s, vi.name, &id));
            kiln_ir_value *v = &g->values[id];
            KILN_FAIL_IF(!s->is_sub && v->producer < 0 && !v->is_input && !v->init, KILN_ERR_INVALID_GRAPH,
                         "graph output '%s' is not produced by any node, graph input or initializer", vi.name);
            if (vi.has_type && !v->is_input && !v->init) v->type = vi.type; /* inputs keep their declared type */
            KILN_TRY(kiln_graph_add_output(g, id));
        } else {
            intptr_t idp;
            if (!vi.has_type || !kiln_strmap_get(&s->values, vi.name, strlen(vi.name), &idp)) continue;
            kiln_ir_value *v = &g->values[idp];
            if (!v->is_input && !v->is_output && !v->init) v->type = vi.type;
        }
    }
    KILN_TRY(q.status);
    if (s->is_sub)
        for (int i = 0; i < g->n_values; i++) {
            kiln_ir_value *v = &g->values[i];
            if (v->producer < 0 && !v->is_input && !v->init) v->is_outer = 1;
        }
    return KILN_OK;
}

kiln_status onnx_import_graph(onnx_importer *im, onnx_scope *parent, onnx_frame *fr, kiln_pb *r, kiln_graph *g) {
    onnx_scope s;
    memset(&s, 0, sizeof s);
    s.g = g;
    s.is_sub = parent != NULL;
    kiln_status st = graph_body(im, &s, fr, r);
    kiln_strmap_free(&s.values);
    kiln_strmap_free(&s.node_names);
    return st;
}

/* ---------------------------------------------------------------- model ----------------------------------------- */

static kiln_status read_opsets(onnx_importer *im, kiln_pb *r, kiln_graph *g) {
    kiln_pb q = *r, o;
    kiln_pb_field f, h;
    int n = 0;
    while (kiln_pb_next(&q, &f)) n += f.num == 8;
    KILN_TRY(q.status);
    g->opsets = kiln_arena_alloc(&g->arena, sizeof(kiln_opset) * (size_t)(n + 1));
    KILN_FAIL_IF(!g->opsets, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    q = *r;
    while (kiln_pb_next(&q, &f)) {
        if (f.num != 8) continue;
        kiln_bytes d = {0};
        int64_t ver = 0;
        KILN_TRY(kiln_pb_sub(&q, &f, "opset_import", "OperatorSetIdProto", &o));
        while (kiln_pb_next(&o, &h)) {
            if (h.num == 1) KILN_TRY(kiln_pb_bytes(&o, &h, "domain", &d.p, &d.n));
            if (h.num == 2) KILN_TRY(kiln_pb_int64(&o, &h, "version", &ver));
        }
        KILN_TRY(o.status);
        KILN_FAIL_IF(ver < 1 || ver > 100000, KILN_ERR_PARSE, "opset_import of domain '%.*s' has invalid version %lld",
                     (int)d.n, d.p ? (const char *)d.p : "", (long long)ver);
        kiln_opset *op = &g->opsets[g->n_opsets++];
        op->domain = (d.n == 7 && !memcmp(d.p, "ai.onnx", 7)) ? "" : kiln_arena_strndup(&g->arena, (const char *)d.p, d.n);
        KILN_FAIL_IF(!op->domain, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        op->version = (int)ver;
        for (int i = 0; i + 1 < g->n_opsets; i++)
            KILN_FAIL_IF(!strcmp(g->opsets[i].domain, op->domain), KILN_ERR_PARSE,
                         "opset_import lists domain '%s' twice", op->domain);
    }
    KILN_TRY(q.status);
    if (g->n_opsets == 0 && im->ir_version < 3) { /* before opset_import existed: the first ONNX opset */
        g->opsets[0].domain = "";
        g->opsets[0].version = 1;
        g->n_opsets = 1;
    }
    return KILN_OK;
}

static kiln_status import_model(onnx_importer *im, kiln_graph *g) {
    kiln_pb r, gr;
    kiln_pb_field f;
    int64_t ir = 0;
    int n_graphs = 0;
    kiln_pb_init(&r, im->base, im->size, "ModelProto");
    KILN_FAIL_IF(im->size == 0, KILN_ERR_PARSE, "malformed ONNX: the model is empty (0 bytes)");
    kiln_pb q = r;
    while (kiln_pb_next(&q, &f)) {
        if (f.num == 1) KILN_TRY(kiln_pb_int64(&q, &f, "ir_version", &ir));
        if (f.num == 7) {
            KILN_TRY(kiln_pb_sub(&q, &f, "graph", "GraphProto", &gr));
            n_graphs++;
        }
    }
    KILN_TRY(q.status);
    KILN_FAIL_IF(n_graphs == 0, KILN_ERR_PARSE, "malformed ONNX: the model has no graph (not an ONNX model?)");
    KILN_FAIL_IF(n_graphs > 1, KILN_ERR_PARSE, "malformed ONNX: the model has %d graphs", n_graphs);
    im->ir_version = (int)ir;
    KILN_TRY(read_opsets(im, &r, g));
    KILN_TRY(onnx_read_functions(im, &r));
    return onnx_import_graph(im, NULL, NULL, &gr, g);
}

kiln_status kiln_onnx_import(const void *data, size_t size, const char *base_dir, kiln_graph *g,
                             kiln_onnx_errors *errs, kiln_mapped_file **maps_out, int *n_maps_out) {
    if (maps_out) *maps_out = NULL;
    if (n_maps_out) *n_maps_out = 0;
    KILN_FAIL_IF(!g || (!data && size), KILN_ERR_INVALID_ARGUMENT, "kiln_onnx_import: NULL graph or data");
    KILN_FAIL_IF(g->n_nodes || g->n_values || g->parent, KILN_ERR_INVALID_ARGUMENT,
                 "kiln_onnx_import: the graph is not an empty root graph");
    onnx_importer im;
    memset(&im, 0, sizeof im);
    im.base = data;
    im.size = size;
    im.root = g;
    im.ext.base_dir = base_dir;
    im.errs = errs;
    int n_errs_before = errs ? errs->n : 0;
    kiln_status st = import_model(&im, g);
    if (st == KILN_OK) st = kiln_graph_toposort(g);
    if (st != KILN_OK && errs && errs->n == n_errs_before) kiln_onnx_errors_add(errs, -1, "", "", kiln_error_text());
    if (st == KILN_OK && maps_out && n_maps_out) {
        *maps_out = im.ext.maps;
        *n_maps_out = im.ext.n_maps;
        for (int i = 0; i < im.ext.n_maps; i++) free(im.ext.paths[i]);
        im.ext.maps = NULL; /* handed over: kiln_onnx_extdata_free below must not unmap them */
        im.ext.n_maps = 0;
    } else if (st == KILN_OK && im.ext.n_maps) {
        /* Nobody to hand the mappings to: the weights must not borrow from them. */
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_onnx_import: external data needs maps_out");
    }
    onnx_free_functions(&im);
    kiln_onnx_extdata_free(&im.ext);
    kiln_strmap_free(&im.func_map);
    kiln_arena_free(&im.tmp);
    return st;
}
