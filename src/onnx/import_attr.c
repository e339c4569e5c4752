/* AttributeProto -> kiln_attr, TypeProto -> kiln_type. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "onnx/import_internal.h"

/* ---------------------------------------------------------------- types ----------------------------------------- */

static kiln_status read_shape(kiln_pb *r, kiln_graph *g, kiln_type *t) {
    kiln_pb q = *r, d;
    kiln_pb_field f, h;
    int n = 0;
    while (kiln_pb_next(&q, &f)) n += f.num == 1;
    KILN_TRY(q.status);
    KILN_FAIL_IF(n > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "a shape has rank %d; kiln supports up to %d", n,
                 KILN_MAX_DIMS);
    t->rank = 0;
    while (kiln_pb_next(r, &f)) {
        if (f.num != 1) continue;
        kiln_dim *dim = &t->dims[t->rank++];
        dim->v = -1;
        dim->sym = NULL;
        KILN_TRY(kiln_pb_sub(r, &f, "dim", "TensorShapeProto.Dimension", &d));
        while (kiln_pb_next(&d, &h)) {
            if (h.num == 1) {
                int64_t v;
                KILN_TRY(kiln_pb_int64(&d, &h, "dim_value", &v));
                dim->v = v >= 0 ? v : -1;
                dim->sym = NULL;
            } else if (h.num == 2) {
                const uint8_t *p;
                size_t len;
                KILN_TRY(kiln_pb_bytes(&d, &h, "dim_param", &p, &len));
                dim->v = -1;
                dim->sym = len ? kiln_arena_strndup(&g->arena, (const char *)p, len) : NULL;
                KILN_FAIL_IF(len && !dim->sym, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            }
        }
        KILN_TRY(d.status);
    }
    return r->status;
}

static kiln_status read_tensor_type(kiln_pb *r, kiln_graph *g, kiln_type *t) {
    kiln_pb_field f;
    kiln_pb sh;
    t->kind = KILN_KIND_TENSOR;
    while (kiln_pb_next(r, &f)) {
        if (f.num == 1) {
            int32_t et;
            KILN_TRY(kiln_pb_int32(r, &f, "elem_type", &et));
            KILN_FAIL_IF(et < 0 || et >= KILN_DTYPE_COUNT, KILN_ERR_UNSUPPORTED, "unknown tensor element type %d",
                         (int)et);
            t->dtype = (kiln_dtype)et;
        } else if (f.num == 2) {
            KILN_TRY(kiln_pb_sub(r, &f, "shape", "TensorShapeProto", &sh));
            KILN_TRY(read_shape(&sh, g, t));
        }
    }
    return r->status;
}

/* The single TypeProto inside TypeProto.Sequence / TypeProto.Optional. */
static kiln_status read_inner(kiln_pb *r, const char *msg, kiln_graph *g, kiln_type *t) {
    kiln_pb_field f;
    kiln_pb in;
    while (kiln_pb_next(r, &f)) {
        if (f.num != 1) continue;
        KILN_TRY(kiln_pb_sub(r, &f, "elem_type", "TypeProto", &in));
        KILN_TRY(onnx_read_type(&in, g, t));
    }
    (void)msg;
    return r->status;
}

kiln_status onnx_read_type(kiln_pb *r, kiln_graph *g, kiln_type *t) {
    kiln_pb_field f;
    kiln_pb sub;
    memset(t, 0, sizeof *t);
    t->kind = KILN_KIND_TENSOR;
    t->elem_kind = KILN_KIND_TENSOR;
    t->rank = -1;
    while (kiln_pb_next(r, &f)) {
        kiln_type inner;
        switch (f.num) {
        case 1:
        case 8: /* sparse tensors are densified by kiln: same type as a dense tensor */
            KILN_TRY(kiln_pb_sub(r, &f, f.num == 1 ? "tensor_type" : "sparse_tensor_type", "TypeProto.Tensor", &sub));
            KILN_TRY(read_tensor_type(&sub, g, t));
            break;
        case 4:
        case 9:
            KILN_TRY(kiln_pb_sub(r, &f, f.num == 4 ? "sequence_type" : "optional_type",
                                 f.num == 4 ? "TypeProto.Sequence" : "TypeProto.Optional", &sub));
            memset(&inner, 0, sizeof inner);
            inner.kind = KILN_KIND_TENSOR;
            inner.rank = -1;
            KILN_TRY(read_inner(&sub, sub.msg, g, &inner));
            if (f.num == 4) {
                KILN_FAIL_IF(inner.kind != KILN_KIND_TENSOR, KILN_ERR_UNSUPPORTED,
                             "sequences of sequences or optionals are not supported");
                *t = inner;
                t->kind = KILN_KIND_SEQUENCE;
            } else {
                KILN_FAIL_IF(inner.kind == KILN_KIND_OPTIONAL, KILN_ERR_UNSUPPORTED,
                             "optionals of optionals are not supported");
                *t = inner;
                t->elem_kind = inner.kind;
                t->kind = KILN_KIND_OPTIONAL;
            }
            break;
        case 5: return kiln_error(KILN_ERR_UNSUPPORTED, "map types are not supported");
        case 7: return kiln_error(KILN_ERR_UNSUPPORTED, "opaque types are not supported");
        default: break;
        }
    }
    return r->status;
}

/* ---------------------------------------------------------------- attributes ------------------------------------ */

kiln_status onnx_attr_name(kiln_pb r, kiln_bytes *name, kiln_bytes *ref) {
    kiln_pb_field f;
    memset(name, 0, sizeof *name);
    if (ref) memset(ref, 0, sizeof *ref);
    while (kiln_pb_next(&r, &f)) {
        if (f.num == 1) KILN_TRY(kiln_pb_bytes(&r, &f, "name", &name->p, &name->n));
        if (f.num == 21 && ref) KILN_TRY(kiln_pb_bytes(&r, &f, "ref_attr_name", &ref->p, &ref->n));
    }
    return r.status;
}

typedef struct attr_fields {
    int has[24];    /* by field number: how many times seen */
    int32_t type;
    float f;
    int64_t i;
    kiln_bytes s;
    kiln_pb_field t, g, sparse, tp;
    kiln_pb_u32s floats;
    kiln_pb_u64s ints;
} attr_fields;

static kiln_status scan_attr(kiln_pb *r, attr_fields *af) {
    kiln_pb_field f;
    while (kiln_pb_next(r, &f)) {
        if (f.num < 24) af->has[f.num]++;
        switch (f.num) {
        case 20: KILN_TRY(kiln_pb_int32(r, &f, "type", &af->type)); break;
        case 2: KILN_TRY(kiln_pb_float(r, &f, "f", &af->f)); break;
        case 3: KILN_TRY(kiln_pb_int64(r, &f, "i", &af->i)); break;
        case 4: KILN_TRY(kiln_pb_bytes(r, &f, "s", &af->s.p, &af->s.n)); break;
        case 5: af->t = f; break;
        case 6: af->g = f; break;
        case 22: af->sparse = f; break;
        case 14: af->tp = f; break;
        case 7: KILN_TRY(kiln_pb_add_fixed32(r, &f, "floats", &af->floats)); break;
        case 8: KILN_TRY(kiln_pb_add_varints(r, &f, "ints", &af->ints)); break;
        default: break;
        }
    }
    return r->status;
}

/* Attribute type from the value fields present, for producers that leave `type` unset. */
static kiln_attr_type infer_type(const attr_fields *af) {
    static const struct { int field; kiln_attr_type t; } by_field[] = {
        {2, KILN_ATTR_FLOAT},    {3, KILN_ATTR_INT},      {4, KILN_ATTR_STRING},         {5, KILN_ATTR_TENSOR},
        {6, KILN_ATTR_GRAPH},    {22, KILN_ATTR_SPARSE_TENSOR}, {14, KILN_ATTR_TYPE_PROTO}, {7, KILN_ATTR_FLOATS},
        {8, KILN_ATTR_INTS},     {9, KILN_ATTR_STRINGS},  {10, KILN_ATTR_TENSORS},       {11, KILN_ATTR_GRAPHS},
        {23, KILN_ATTR_SPARSE_TENSORS}, {15, KILN_ATTR_TYPE_PROTOS},
    };
    for (size_t k = 0; k < sizeof by_field / sizeof by_field[0]; k++)
        if (af->has[by_field[k].field]) return by_field[k].t;
    return KILN_ATTR_UNDEFINED;
}

static kiln_status one_tensor(onnx_importer *im, kiln_pb *r, const kiln_pb_field *f, int sparse, kiln_tensor **out) {
    kiln_pb tr;
    KILN_TRY(kiln_pb_sub(r, f, sparse ? "sparse_tensor" : "t", sparse ? "SparseTensorProto" : "TensorProto", &tr));
    kiln_tensor *t = calloc(1, sizeof *t);
    KILN_FAIL_IF(!t, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = t; /* owned by the attribute from here on, even if decoding fails */
    return sparse ? kiln_onnx_read_sparse(&tr, &im->ext, t, NULL, NULL)
                  : kiln_onnx_read_tensor(&tr, &im->ext, 1, t, NULL, NULL);
}

static kiln_status one_graph(onnx_importer *im, onnx_scope *s, onnx_frame *fr, kiln_pb *r, const kiln_pb_field *f,
                             kiln_graph **out) {
    kiln_pb gr;
    KILN_TRY(kiln_pb_sub(r, f, "g", "GraphProto", &gr));
    kiln_graph *g = kiln_graph_create(s->g);
    if (!g) return KILN_ERR_OUT_OF_MEMORY;
    *out = g;
    return onnx_import_graph(im, s, fr, &gr, g);
}

static kiln_status one_type(kiln_pb *r, const kiln_pb_field *f, kiln_graph *g, kiln_type *out) {
    kiln_pb tr;
    KILN_TRY(kiln_pb_sub(r, f, "tp", "TypeProto", &tr));
    return onnx_read_type(&tr, g, out);
}

/* Fills the list forms (STRINGS, TENSORS, GRAPHS, SPARSE_TENSORS, TYPE_PROTOS) from every occurrence of `field`. */
static kiln_status fill_list(onnx_importer *im, onnx_scope *s, onnx_frame *fr, kiln_pb r, int field, kiln_attr *a) {
    kiln_graph *g = s->g;
    kiln_pb_field f;
    int n = 0;
    kiln_pb q = r;
    while (kiln_pb_next(&q, &f)) n += (int)f.num == field;
    KILN_TRY(q.status);
    size_t cnt = (size_t)n + 1;
    switch (a->type) {
    case KILN_ATTR_STRINGS:
        a->strings = kiln_arena_alloc(&g->arena, cnt * sizeof(char *));
        a->string_lens = kiln_arena_alloc(&g->arena, cnt * sizeof(size_t));
        KILN_FAIL_IF(!a->strings || !a->string_lens, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        break;
    case KILN_ATTR_TENSORS:
    case KILN_ATTR_SPARSE_TENSORS:
        a->tensors = kiln_arena_alloc(&g->arena, cnt * sizeof(kiln_tensor *));
        KILN_FAIL_IF(!a->tensors, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        break;
    case KILN_ATTR_GRAPHS:
        a->graphs = kiln_arena_alloc(&g->arena, cnt * sizeof(kiln_graph *));
        KILN_FAIL_IF(!a->graphs, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        break;
    default:
        a->tps = kiln_arena_alloc(&g->arena, cnt * sizeof(kiln_type));
        KILN_FAIL_IF(!a->tps, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        break;
    }
    a->n = n; /* arrays are zeroed: a failure part-way leaves NULL entries, which are safe to free */
    int k = 0;
    while (kiln_pb_next(&r, &f)) {
        if ((int)f.num != field) continue;
        switch (a->type) {
        case KILN_ATTR_STRINGS: {
            const uint8_t *p;
            size_t len;
            KILN_TRY(kiln_pb_bytes(&r, &f, "strings", &p, &len));
            a->strings[k] = kiln_arena_strndup(&g->arena, (const char *)p, len);
            KILN_FAIL_IF(!a->strings[k], KILN_ERR_OUT_OF_MEMORY, "out of memory");
            a->string_lens[k] = len;
            break;
        }
        case KILN_ATTR_TENSORS:
        case KILN_ATTR_SPARSE_TENSORS:
            KILN_TRY(one_tensor(im, &r, &f, a->type == KILN_ATTR_SPARSE_TENSORS, &a->tensors[k]));
            break;
        case KILN_ATTR_GRAPHS: KILN_TRY(one_graph(im, s, fr, &r, &f, &a->graphs[k])); break;
        default: KILN_TRY(one_type(&r, &f, g, &a->tps[k])); break;
        }
        k++;
    }
    return r.status;
}

static const onnx_call_attr *find_call_attr(const onnx_frame *fr, const uint8_t *p, size_t n) {
    for (int i = 0; i < fr->n_attrs; i++)
        if (strlen(fr->attrs[i].name) == n && !memcmp(fr->attrs[i].name, p, n)) return &fr->attrs[i];
    return NULL;
}

static kiln_status import_value(onnx_importer *im, onnx_scope *s, onnx_frame *fr, kiln_pb *r, kiln_attr *a) {
    attr_fields af;
    memset(&af, 0, sizeof af);
    kiln_pb q = *r;
    kiln_status st = scan_attr(&q, &af);
    if (st != KILN_OK) goto done;
    a->type = af.has[20] ? (kiln_attr_type)af.type : infer_type(&af);
    switch (a->type) {
    case KILN_ATTR_FLOAT: a->f = af.f; break;
    case KILN_ATTR_INT: a->i = af.i; break;
    case KILN_ATTR_STRING:
        a->s = kiln_arena_strndup(&s->g->arena, (const char *)af.s.p, af.s.n);
        a->s_len = af.s.n;
        if (!a->s) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        break;
    case KILN_ATTR_TENSOR:
    case KILN_ATTR_SPARSE_TENSOR: {
        int sparse = a->type == KILN_ATTR_SPARSE_TENSOR;
        if (!af.has[sparse ? 22 : 5]) {
            st = kiln_error(KILN_ERR_PARSE, "attribute of type %s has no value", sparse ? "SPARSE_TENSOR" : "TENSOR");
            break;
        }
        q = *r;
        st = one_tensor(im, &q, sparse ? &af.sparse : &af.t, sparse, &a->t);
        break;
    }
    case KILN_ATTR_GRAPH:
        if (!af.has[6]) {
            st = kiln_error(KILN_ERR_PARSE, "attribute of type GRAPH has no graph");
            break;
        }
        q = *r;
        st = one_graph(im, s, fr, &q, &af.g, &a->g);
        break;
    case KILN_ATTR_TYPE_PROTO:
        a->tp = kiln_arena_alloc(&s->g->arena, sizeof(kiln_type));
        if (!a->tp) {
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        a->tp->kind = KILN_KIND_TENSOR;
        a->tp->rank = -1;
        if (af.has[14]) {
            q = *r;
            st = one_type(&q, &af.tp, s->g, a->tp);
        }
        break;
    case KILN_ATTR_FLOATS:
        a->n = (int)af.floats.n;
        a->floats = kiln_arena_alloc(&s->g->arena, sizeof(float) * (af.floats.n + 1));
        if (!a->floats || af.floats.n > INT32_MAX) {
            a->n = 0;
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        } else if (af.floats.n) {
            memcpy(a->floats, af.floats.v, sizeof(float) * af.floats.n);
        }
        break;
    case KILN_ATTR_INTS:
        a->n = (int)af.ints.n;
        a->ints = kiln_arena_alloc(&s->g->arena, sizeof(int64_t) * (af.ints.n + 1));
        if (!a->ints || af.ints.n > INT32_MAX) {
            a->n = 0;
            st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        } else if (af.ints.n) {
            memcpy(a->ints, af.ints.v, sizeof(int64_t) * af.ints.n);
        }
        break;
    case KILN_ATTR_STRINGS: st = fill_list(im, s, fr, *r, 9, a); break;
    case KILN_ATTR_TENSORS: st = fill_list(im, s, fr, *r, 10, a); break;
    case KILN_ATTR_GRAPHS: st = fill_list(im, s, fr, *r, 11, a); break;
    case KILN_ATTR_SPARSE_TENSORS: st = fill_list(im, s, fr, *r, 23, a); break;
    case KILN_ATTR_TYPE_PROTOS: st = fill_list(im, s, fr, *r, 15, a); break;
    default: st = kiln_error(KILN_ERR_PARSE, "attribute has no value or unknown type %d", (int)af.type); break;
    }
done:
    kiln_pb_u32s_free(&af.floats);
    kiln_pb_u64s_free(&af.ints);
    return st;
}

kiln_status onnx_import_attr(onnx_importer *im, onnx_scope *s, onnx_frame *fr, kiln_pb *r, kiln_attr *a, int *skip) {
    kiln_bytes name, ref;
    *skip = 0;
    memset(a, 0, sizeof *a);
    KILN_TRY(onnx_attr_name(*r, &name, &ref));
    KILN_FAIL_IF(!name.n, KILN_ERR_PARSE, "an attribute has no name");
    a->name = kiln_arena_strndup(&s->g->arena, (const char *)name.p, name.n);
    KILN_FAIL_IF(!a->name, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st;
    if (ref.n) {
        /* A reference to an attribute of the function call being inlined. */
        KILN_FAIL_IF(!fr, KILN_ERR_PARSE, "attribute '%s' refers to '%.*s', but it is not inside a function", a->name,
                     (int)ref.n, (const char *)ref.p);
        const onnx_call_attr *ca = find_call_attr(fr, ref.p, ref.n);
        kiln_pb ar;
        if (ca) {
            ar.base = im->base;
            ar.p = ca->proto.p;
            ar.end = ca->proto.p + ca->proto.n;
            ar.msg = "AttributeProto";
            ar.depth = ca->depth;
            ar.status = KILN_OK;
            st = import_value(im, s, ca->scope, &ar, a);
        } else {
            const onnx_func *fn = fr->fn;
            int found = -1;
            for (int i = 0; i < fn->n_defaults && found < 0; i++) {
                kiln_bytes dn;
                ar.base = im->base;
                ar.p = fn->defaults[i].p;
                ar.end = fn->defaults[i].p + fn->defaults[i].n;
                ar.msg = "AttributeProto";
                ar.depth = fn->body.depth + 1;
                ar.status = KILN_OK;
                KILN_TRY(onnx_attr_name(ar, &dn, NULL));
                if (dn.n == ref.n && !memcmp(dn.p, ref.p, ref.n)) found = i;
            }
            if (found < 0) {
                *skip = 1; /* neither given nor defaulted: the attribute is absent */
                return KILN_OK;
            }
            st = import_value(im, s, fr, &ar, a);
        }
    } else {
        st = import_value(im, s, fr, r, a);
    }
    if (st != KILN_OK) return kiln_error_wrap(st, "attribute '%s'", a->name);
    return KILN_OK;
}
