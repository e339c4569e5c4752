/* TensorProto / SequenceProto / OptionalProto <-> kiln_value (little-endian hosts only, as tensor_proto.c). */
#include "onnx/value_io.h"

#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"
#include "onnx/tensor_proto.h"

/* SequenceProto / OptionalProto elem_type values. */
enum { ELEM_UNDEFINED = 0, ELEM_TENSOR = 1, ELEM_SPARSE = 2, ELEM_SEQUENCE = 3, ELEM_MAP = 4, ELEM_OPTIONAL = 5 };

static kiln_status dup_name(const uint8_t *p, size_t n, char **name) {
    if (!name) return KILN_OK;
    *name = malloc(n + 1);
    KILN_FAIL_IF(!*name, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (n) memcpy(*name, p, n);
    (*name)[n] = 0;
    return KILN_OK;
}

static kiln_status read_tensor_msg(kiln_pb *r, kiln_tensor *t, char **name) {
    const uint8_t *np;
    size_t nl;
    KILN_TRY(kiln_onnx_read_tensor(r, NULL, 0, t, &np, &nl));
    return dup_name(np, nl, name);
}

static kiln_status read_sequence(kiln_pb *r, kiln_dtype hint, kiln_value *v, char **name) {
    kiln_pb_field f;
    kiln_pb sub;
    kiln_tensor t = {0};
    const uint8_t *np = NULL;
    size_t nl = 0;
    kiln_value_set_sequence(v, hint);
    while (kiln_pb_next(r, &f)) {
        switch (f.num) {
        case 1: KILN_TRY(kiln_pb_bytes(r, &f, "name", &np, &nl)); break;
        case 2: {
            int32_t et;
            KILN_TRY(kiln_pb_int32(r, &f, "elem_type", &et));
            KILN_FAIL_IF(et != ELEM_TENSOR && et != ELEM_UNDEFINED, KILN_ERR_UNSUPPORTED,
                         "SequenceProto with elem_type %d: only sequences of tensors are supported", (int)et);
            break;
        }
        case 3: {
            KILN_TRY(kiln_pb_sub(r, &f, "tensor_values", "TensorProto", &sub));
            kiln_status st = kiln_onnx_read_tensor(&sub, NULL, 0, &t, NULL, NULL);
            if (st == KILN_OK && v->n_items && t.dtype != v->items[0].dtype)
                st = kiln_error(KILN_ERR_TYPE, "sequence item %d is %s, but item 0 is %s", v->n_items,
                                kiln_dtype_name(t.dtype), kiln_dtype_name(v->items[0].dtype));
            if (st == KILN_OK) st = kiln_value_seq_append(v, &t);
            kiln_tensor_release(&t);
            KILN_TRY(st);
            v->elem_dtype = v->items[0].dtype;
            break;
        }
        case 4: case 5: case 6: case 7:
            return kiln_error(KILN_ERR_UNSUPPORTED,
                              "SequenceProto holds sparse tensors, sequences, maps or optionals; only sequences of "
                              "tensors are supported");
        default: break;
        }
    }
    KILN_TRY(r->status);
    return dup_name(np, nl, name);
}

static kiln_status read_optional(kiln_pb *r, kiln_dtype hint, kiln_value *v, char **name) {
    kiln_pb_field f;
    kiln_pb sub;
    const uint8_t *np = NULL;
    size_t nl = 0;
    v->kind = KILN_V_NONE;
    v->elem_dtype = hint;
    while (kiln_pb_next(r, &f)) {
        switch (f.num) {
        case 1: KILN_TRY(kiln_pb_bytes(r, &f, "name", &np, &nl)); break;
        case 3:
            KILN_TRY(kiln_pb_sub(r, &f, "tensor_value", "TensorProto", &sub));
            kiln_value_release(v);
            KILN_TRY(kiln_onnx_read_tensor(&sub, NULL, 0, &v->t, NULL, NULL));
            v->kind = KILN_V_TENSOR;
            v->elem_dtype = v->t.dtype;
            break;
        case 5:
            KILN_TRY(kiln_pb_sub(r, &f, "sequence_value", "SequenceProto", &sub));
            kiln_value_release(v);
            KILN_TRY(read_sequence(&sub, hint, v, NULL));
            break;
        case 4: case 6: case 7:
            return kiln_error(KILN_ERR_UNSUPPORTED,
                              "OptionalProto holds a sparse tensor, map or optional; only tensors and sequences "
                              "are supported");
        default: break;
        }
    }
    KILN_TRY(r->status);
    return dup_name(np, nl, name);
}

kiln_status kiln_onnx_read_value(const void *data, size_t size, kiln_value_kind kind, kiln_dtype elem_dtype_hint,
                                 kiln_value *v, char **name) {
    kiln_value_release(v);
    if (name) *name = NULL;
    kiln_pb r;
    kiln_status st;
    switch (kind) {
    case KILN_KIND_TENSOR:
        kiln_pb_init(&r, data, size, "TensorProto");
        st = read_tensor_msg(&r, &v->t, name);
        if (st == KILN_OK) v->kind = KILN_V_TENSOR, v->elem_dtype = v->t.dtype;
        break;
    case KILN_KIND_SEQUENCE:
        kiln_pb_init(&r, data, size, "SequenceProto");
        st = read_sequence(&r, elem_dtype_hint, v, name);
        break;
    case KILN_KIND_OPTIONAL:
        kiln_pb_init(&r, data, size, "OptionalProto");
        st = read_optional(&r, elem_dtype_hint, v, name);
        break;
    default:
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "cannot read a value of kind %d from a .pb", (int)kind);
        break;
    }
    if (st != KILN_OK) {
        kiln_value_release(v);
        if (name) free(*name), *name = NULL;
    }
    return st;
}

/* ---------------------------------------------------------------- writing --------------------------------------- */

static kiln_status put_tensor_fields(const kiln_tensor *t, const char *name, kiln_pb_buf *out) {
    KILN_FAIL_IF(!kiln_dtype_is_valid(t->dtype), KILN_ERR_TYPE, "cannot write a tensor of dtype %d", (int)t->dtype);
    KILN_FAIL_IF(t->rank < 0 || t->rank > KILN_MAX_DIMS, KILN_ERR_SHAPE, "cannot write a tensor of rank %d", t->rank);
    int64_t n = kiln_tensor_numel(t);
    KILN_FAIL_IF(n < 0, KILN_ERR_SHAPE, "cannot write a tensor with a negative dimension");
    KILN_FAIL_IF(n > 0 && !t->data, KILN_ERR_INVALID_ARGUMENT, "tensor '%s' has no data", name ? name : "");
    /* Field-number order, as protobuf's own serializers write it. */
    for (int i = 0; i < t->rank; i++) kiln_pb_put_uint(out, 1, (uint64_t)t->dims[i]);
    kiln_pb_put_uint(out, 2, (uint64_t)t->dtype);
    if (t->dtype == KILN_STRING) {
        char *const *s = t->data;
        for (int64_t i = 0; i < n; i++) kiln_pb_put_bytes(out, 6, s[i] ? s[i] : "", s[i] ? strlen(s[i]) : 0);
    }
    if (name && *name) kiln_pb_put_bytes(out, 8, name, strlen(name));
    if (t->dtype != KILN_STRING) {
        if (kiln_dtype_wire_bits(t->dtype) < 8) {
            size_t nb = kiln_onnx_packed_size(t->dtype, n);
            uint8_t *packed = malloc(nb ? nb : 1);
            KILN_FAIL_IF(!packed, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            kiln_onnx_pack_bits(t->dtype, t->data, n, packed);
            kiln_pb_put_bytes(out, 9, packed, nb);
            free(packed);
        } else {
            kiln_pb_put_bytes(out, 9, t->data, kiln_tensor_nbytes(t));
        }
    }
    KILN_FAIL_IF(out->oom, KILN_ERR_OUT_OF_MEMORY, "out of memory writing a tensor");
    return KILN_OK;
}

kiln_status kiln_onnx_write_tensor(const kiln_tensor *t, const char *name, kiln_pb_buf *out) {
    return put_tensor_fields(t, name, out);
}

static kiln_status put_sequence_fields(const kiln_value *v, const char *name, kiln_pb_buf *out) {
    if (name && *name) kiln_pb_put_bytes(out, 1, name, strlen(name));
    kiln_pb_put_uint(out, 2, ELEM_TENSOR);
    for (int i = 0; i < v->n_items; i++) {
        size_t mark = kiln_pb_begin(out, 3);
        KILN_TRY(put_tensor_fields(&v->items[i], NULL, out));
        kiln_pb_end(out, mark);
    }
    KILN_FAIL_IF(out->oom, KILN_ERR_OUT_OF_MEMORY, "out of memory writing a sequence");
    return KILN_OK;
}

kiln_status kiln_onnx_write_value(const kiln_value *v, kiln_value_kind kind, const char *name, kiln_pb_buf *out) {
    switch (kind) {
    case KILN_KIND_TENSOR:
        KILN_FAIL_IF(v->kind != KILN_V_TENSOR, KILN_ERR_TYPE, "value '%s' is not a tensor", name ? name : "");
        return put_tensor_fields(&v->t, name, out);
    case KILN_KIND_SEQUENCE:
        KILN_FAIL_IF(v->kind != KILN_V_SEQUENCE, KILN_ERR_TYPE, "value '%s' is not a sequence", name ? name : "");
        return put_sequence_fields(v, name, out);
    case KILN_KIND_OPTIONAL: {
        if (name && *name) kiln_pb_put_bytes(out, 1, name, strlen(name));
        size_t mark;
        switch (v->kind) {
        case KILN_V_NONE:
            kiln_pb_put_uint(out, 2, ELEM_UNDEFINED); /* as onnx.helper.make_optional(None) writes it */
            break;
        case KILN_V_TENSOR:
            kiln_pb_put_uint(out, 2, ELEM_TENSOR);
            mark = kiln_pb_begin(out, 3);
            KILN_TRY(put_tensor_fields(&v->t, NULL, out));
            kiln_pb_end(out, mark);
            break;
        case KILN_V_SEQUENCE:
            kiln_pb_put_uint(out, 2, ELEM_SEQUENCE);
            mark = kiln_pb_begin(out, 5);
            KILN_TRY(put_sequence_fields(v, NULL, out));
            kiln_pb_end(out, mark);
            break;
        default:
            return kiln_error(KILN_ERR_INVALID_ARGUMENT, "optional value '%s' was never produced", name ? name : "");
        }
        KILN_FAIL_IF(out->oom, KILN_ERR_OUT_OF_MEMORY, "out of memory writing an optional");
        return KILN_OK;
    }
    default:
        return kiln_error(KILN_ERR_INVALID_ARGUMENT, "cannot write a value of kind %d", (int)kind);
    }
}
