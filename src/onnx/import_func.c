/* Model-local functions (ModelProto.functions): every call is inlined into the calling graph at import time, so
 * the rest of kiln only ever sees standard nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "onnx/import_internal.h"

static const char *func_key(onnx_importer *im, const char *domain, const char *name, const char *overload,
                            size_t *len) {
    size_t n = strlen(domain) + strlen(name) + strlen(overload) + 3;
    char *k = kiln_arena_alloc(&im->tmp, n);
    if (!k) return NULL;
    *len = (size_t)snprintf(k, n, "%s\1%s\1%s", domain, name, overload);
    return k;
}

static kiln_status add_slice(kiln_bytes **arr, int *n, kiln_pb *r, const kiln_pb_field *f, const char *field) {
    kiln_bytes *na = realloc(*arr, sizeof **arr * (size_t)(*n + 1));
    KILN_FAIL_IF(!na, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *arr = na;
    KILN_TRY(kiln_pb_bytes(r, f, field, &na[*n].p, &na[*n].n));
    (*n)++;
    return KILN_OK;
}

static kiln_status read_function(onnx_importer *im, kiln_pb *r, onnx_func *fn) {
    kiln_pb_field f, h;
    kiln_bytes name = {0}, domain = {0}, overload = {0};
    fn->body = *r;
    while (kiln_pb_next(r, &f)) {
        switch (f.num) {
        case 1: KILN_TRY(kiln_pb_bytes(r, &f, "name", &name.p, &name.n)); break;
        case 4: KILN_TRY(add_slice(&fn->inputs, &fn->n_inputs, r, &f, "input")); break;
        case 5: KILN_TRY(add_slice(&fn->outputs, &fn->n_outputs, r, &f, "output")); break;
        case 11: KILN_TRY(add_slice(&fn->defaults, &fn->n_defaults, r, &f, "attribute_proto")); break;
        case 10: KILN_TRY(kiln_pb_bytes(r, &f, "domain", &domain.p, &domain.n)); break;
        case 13: KILN_TRY(kiln_pb_bytes(r, &f, "overload", &overload.p, &overload.n)); break;
        case 9: {
            kiln_pb o;
            kiln_bytes d = {0};
            int64_t ver = 0;
            KILN_TRY(kiln_pb_sub(r, &f, "opset_import", "OperatorSetIdProto", &o));
            while (kiln_pb_next(&o, &h)) {
                if (h.num == 1) KILN_TRY(kiln_pb_bytes(&o, &h, "domain", &d.p, &d.n));
                if (h.num == 2) KILN_TRY(kiln_pb_int64(&o, &h, "version", &ver));
            }
            KILN_TRY(o.status);
            kiln_opset *no = realloc(fn->opsets, sizeof *no * (size_t)(fn->n_opsets + 1));
            KILN_FAIL_IF(!no, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            fn->opsets = no;
            const char *ds = (d.n == 7 && !memcmp(d.p, "ai.onnx", 7)) ? "" : onnx_tmp_str(im, d.p, d.n);
            KILN_FAIL_IF(!ds, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            no[fn->n_opsets].domain = ds;
            no[fn->n_opsets].version = (int)ver;
            fn->n_opsets++;
            break;
        }
        default: break;
        }
    }
    KILN_TRY(r->status);
    fn->name = onnx_tmp_str(im, name.p, name.n);
    fn->domain = onnx_tmp_str(im, domain.p, domain.n);
    fn->overload = onnx_tmp_str(im, overload.p, overload.n);
    KILN_FAIL_IF(!fn->name || !fn->domain || !fn->overload, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (!strcmp(fn->domain, "ai.onnx")) fn->domain = "";
    KILN_FAIL_IF(!*fn->name, KILN_ERR_PARSE, "a model-local function has no name");
    return KILN_OK;
}

kiln_status onnx_read_functions(onnx_importer *im, kiln_pb *model) {
    kiln_pb q = *model, fr;
    kiln_pb_field f;
    int n = 0;
    while (kiln_pb_next(&q, &f)) n += f.num == 25;
    KILN_TRY(q.status);
    if (!n) return KILN_OK;
    im->funcs = calloc((size_t)n, sizeof *im->funcs);
    KILN_FAIL_IF(!im->funcs, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    q = *model;
    while (kiln_pb_next(&q, &f)) {
        if (f.num != 25) continue;
        KILN_TRY(kiln_pb_sub(&q, &f, "functions", "FunctionProto", &fr));
        onnx_func *fn = &im->funcs[im->n_funcs++];
        kiln_status st = read_function(im, &fr, fn);
        if (st != KILN_OK) return kiln_error_wrap(st, "model-local function %d", im->n_funcs - 1);
        size_t kl;
        const char *key = func_key(im, fn->domain, fn->name, fn->overload, &kl);
        KILN_FAIL_IF(!key, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        KILN_FAIL_IF(kiln_strmap_get(&im->func_map, key, kl, NULL), KILN_ERR_PARSE,
                     "model-local function '%s' (domain '%s') is defined twice", fn->name, fn->domain);
        KILN_TRY(kiln_strmap_put(&im->func_map, key, kl, im->n_funcs - 1));
    }
    return q.status;
}

void onnx_free_functions(onnx_importer *im) {
    for (int i = 0; i < im->n_funcs; i++) {
        free(im->funcs[i].inputs);
        free(im->funcs[i].outputs);
        free(im->funcs[i].defaults);
        free(im->funcs[i].opsets);
    }
    free(im->funcs);
    im->funcs = NULL;
    im->n_funcs = 0;
}

const onnx_func *onnx_find_function(onnx_importer *im, const char *domain, const char *op_type, const char *overload) {
    if (!im->n_funcs) return NULL;
    size_t kl;
    const char *key = func_key(im, domain, op_type, overload, &kl);
    intptr_t idx;
    if (!key || !kiln_strmap_get(&im->func_map, key, kl, &idx)) return NULL;
    return &im->funcs[idx];
}

int onnx_node_opset(onnx_importer *im, const onnx_frame *fr, const char *domain) {
    for (; fr; fr = fr->parent) /* the function's own imports, then its caller's */
        for (int i = 0; i < fr->fn->n_opsets; i++)
            if (!strcmp(fr->fn->opsets[i].domain, domain)) return fr->fn->opsets[i].version;
    return kiln_graph_opset(im->root, domain);
}

/* A value name for a function-internal value that is new to the calling graph: "<call>/<formal>", suffixed until
 * unique. Registers it (creating the value) so later calls see it as taken. */
static kiln_status fresh_name(onnx_importer *im, onnx_scope *s, const char *prefix, const char *formal,
                              const char **out) {
    char buf[640];
    snprintf(buf, sizeof buf, "%.300s/%.300s", prefix, formal);
    size_t base = strlen(buf);
    for (int k = 1; kiln_strmap_get(&s->values, buf, strlen(buf), NULL); k++)
        snprintf(buf + base, sizeof buf - base, "_%d", k);
    int id;
    KILN_TRY(onnx_scope_value(s, buf, &id));
    *out = onnx_tmp_str(im, (const uint8_t *)buf, strlen(buf));
    KILN_FAIL_IF(!*out, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    return KILN_OK;
}

static kiln_status map_name(onnx_importer *im, onnx_frame *nf, kiln_bytes formal, const char *actual) {
    const char *k = onnx_tmp_str(im, formal.p, formal.n);
    KILN_FAIL_IF(!k, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    return kiln_strmap_put(&nf->rename, k, formal.n, (intptr_t)actual);
}

static void sub_reader(const onnx_importer *im, kiln_bytes b, int depth, const char *msg, kiln_pb *out) {
    out->base = im->base;
    out->p = b.p;
    out->end = b.p + b.n;
    out->msg = msg;
    out->depth = depth;
    out->status = KILN_OK;
}

/* Names used by the body's top-level nodes: outputs get fresh names; inputs must be known by then (function
 * bodies cannot see the caller's values except through their inputs). */
static kiln_status map_body_names(onnx_importer *im, onnx_scope *s, onnx_frame *nf, int pass_inputs) {
    kiln_pb q = nf->fn->body, nr;
    kiln_pb_field f, h;
    while (kiln_pb_next(&q, &f)) {
        if (f.num != 7) continue;
        KILN_TRY(kiln_pb_sub(&q, &f, "node", "NodeProto", &nr));
        while (kiln_pb_next(&nr, &h)) {
            if (h.num != (pass_inputs ? 1u : 2u)) continue;
            kiln_bytes b;
            KILN_TRY(kiln_pb_bytes(&nr, &h, pass_inputs ? "input" : "output", &b.p, &b.n));
            if (!b.n || kiln_strmap_get(&nf->rename, (const char *)b.p, b.n, NULL)) continue;
            const char *formal = onnx_tmp_str(im, b.p, b.n);
            KILN_FAIL_IF(!formal, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            KILN_FAIL_IF(pass_inputs, KILN_ERR_INVALID_GRAPH,
                         "function '%s' uses '%s', which is neither one of its inputs nor produced inside it",
                         nf->fn->name, formal);
            const char *fresh;
            KILN_TRY(fresh_name(im, s, nf->prefix, formal, &fresh));
            KILN_TRY(map_name(im, nf, b, fresh));
        }
        KILN_TRY(nr.status);
    }
    return q.status;
}

/* Resolves the call's attributes against the caller's frame, so the callee never meets a reference. */
static kiln_status resolve_call_attrs(onnx_importer *im, onnx_frame *caller, onnx_frame *nf, const kiln_bytes *attrs,
                                      int n_attrs, int attr_depth) {
    nf->attrs = kiln_arena_alloc(&im->tmp, sizeof(onnx_call_attr) * (size_t)(n_attrs + 1));
    KILN_FAIL_IF(!nf->attrs, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < n_attrs; i++) {
        kiln_pb ar;
        kiln_bytes name, ref;
        sub_reader(im, attrs[i], attr_depth, "AttributeProto", &ar);
        KILN_TRY(onnx_attr_name(ar, &name, &ref));
        onnx_call_attr *ca = &nf->attrs[nf->n_attrs];
        ca->name = onnx_tmp_str(im, name.p, name.n);
        KILN_FAIL_IF(!ca->name, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        if (!ref.n) {
            ca->proto = attrs[i];
            ca->depth = attr_depth;
            ca->scope = caller;
            nf->n_attrs++;
            continue;
        }
        KILN_FAIL_IF(!caller, KILN_ERR_PARSE, "attribute '%s' refers to '%.*s', but it is not inside a function",
                     ca->name, (int)ref.n, (const char *)ref.p);
        int found = 0;
        for (int j = 0; j < caller->n_attrs && !found; j++)
            if (strlen(caller->attrs[j].name) == ref.n && !memcmp(caller->attrs[j].name, ref.p, ref.n)) {
                ca->proto = caller->attrs[j].proto;
                ca->depth = caller->attrs[j].depth;
                ca->scope = caller->attrs[j].scope;
                found = 1;
            }
        for (int j = 0; j < caller->fn->n_defaults && !found; j++) {
            kiln_pb dr;
            kiln_bytes dn;
            sub_reader(im, caller->fn->defaults[j], caller->fn->body.depth + 1, "AttributeProto", &dr);
            KILN_TRY(onnx_attr_name(dr, &dn, NULL));
            if (dn.n == ref.n && !memcmp(dn.p, ref.p, ref.n)) {
                ca->proto = caller->fn->defaults[j];
                ca->depth = dr.depth;
                ca->scope = caller;
                found = 1;
            }
        }
        if (found) nf->n_attrs++; /* else: not given anywhere up the chain, so the callee does not get it */
    }
    return KILN_OK;
}

static kiln_status inline_body(onnx_importer *im, onnx_scope *s, onnx_frame *caller, onnx_frame *nf,
                               const char **ins, int n_in, const char **outs, int n_out, const kiln_bytes *attrs,
                               int n_attrs, int attr_depth) {
    const onnx_func *fn = nf->fn;
    KILN_FAIL_IF(n_in > fn->n_inputs || n_out > fn->n_outputs, KILN_ERR_INVALID_GRAPH,
                 "the call has %d inputs and %d outputs, but function '%s' takes %d and gives %d", n_in, n_out,
                 fn->name, fn->n_inputs, fn->n_outputs);
    for (int i = 0; i < fn->n_inputs; i++)
        if (fn->inputs[i].n) KILN_TRY(map_name(im, nf, fn->inputs[i], i < n_in ? ins[i] : ""));
    for (int i = 0; i < fn->n_outputs; i++) {
        if (!fn->outputs[i].n) continue;
        const char *actual = i < n_out ? outs[i] : "";
        if (!*actual) { /* the caller ignores this output, but the body still computes it */
            const char *formal = onnx_tmp_str(im, fn->outputs[i].p, fn->outputs[i].n);
            KILN_FAIL_IF(!formal, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            KILN_TRY(fresh_name(im, s, nf->prefix, formal, &actual));
        }
        KILN_TRY(map_name(im, nf, fn->outputs[i], actual));
    }
    KILN_TRY(map_body_names(im, s, nf, 0));
    KILN_TRY(map_body_names(im, s, nf, 1));
    KILN_TRY(resolve_call_attrs(im, caller, nf, attrs, n_attrs, attr_depth));
    kiln_pb q = fn->body, nr;
    kiln_pb_field f;
    int index = 0;
    while (kiln_pb_next(&q, &f)) {
        if (f.num != 7) continue;
        KILN_TRY(kiln_pb_sub(&q, &f, "node", "NodeProto", &nr));
        KILN_FAIL_IF(++im->n_inlined > KILN_ONNX_MAX_INLINED_NODES, KILN_ERR_UNSUPPORTED,
                     "inlining model-local functions would import more than %d nodes (calls that multiply at every "
                     "level of nesting); refused",
                     KILN_ONNX_MAX_INLINED_NODES);
        KILN_TRY(onnx_import_node(im, s, nf, &nr, index++));
    }
    return q.status;
}

kiln_status onnx_inline_call(onnx_importer *im, onnx_scope *s, onnx_frame *caller, const onnx_func *fn,
                             const char *call_name, const char **ins, int n_in, const char **outs, int n_out,
                             const kiln_bytes *attrs, int n_attrs, int attr_depth) {
    onnx_frame nf;
    memset(&nf, 0, sizeof nf);
    nf.fn = fn;
    nf.parent = caller;
    nf.depth = caller ? caller->depth + 1 : 1;
    KILN_FAIL_IF(nf.depth > KILN_ONNX_MAX_INLINE_DEPTH, KILN_ERR_INVALID_GRAPH,
                 "function calls nested deeper than %d levels (is function '%s' recursive?)",
                 KILN_ONNX_MAX_INLINE_DEPTH, fn->name);
    nf.prefix = onnx_tmp_str(im, (const uint8_t *)call_name, strlen(call_name));
    KILN_FAIL_IF(!nf.prefix, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = inline_body(im, s, caller, &nf, ins, n_in, outs, n_out, attrs, n_attrs, attr_depth);
    kiln_strmap_free(&nf.rename);
    if (st != KILN_OK) return kiln_error_wrap(st, "in function '%s' inlined for '%s'", fn->name, call_name);
    return KILN_OK;
}
