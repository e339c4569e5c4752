/* Values in the ONNX test-data layout (input_N.pb / output_N.pb): TensorProto, SequenceProto or OptionalProto.
 *
 * Which message a .pb holds is not recorded in the file; the caller decides from the graph input's or output's
 * kiln_type: TENSOR -> TensorProto, SEQUENCE -> SequenceProto, OPTIONAL -> OptionalProto.
 * Values read here always own their storage (nothing borrows from `data`). */
#ifndef KILN_ONNX_VALUE_IO_H
#define KILN_ONNX_VALUE_IO_H

#include <stddef.h>

#include "core/tensor.h"
#include "ir/graph.h"
#include "onnx/wire.h"

/* Reads a message of the kind `kind` (TENSOR, SEQUENCE or OPTIONAL) into *v (released first).
 * A sequence's elem_dtype is that of its items; for an empty sequence or an empty optional it is elem_dtype_hint
 * (pass the graph type's dtype, or KILN_UNDEFINED).
 * name (may be NULL) receives a malloc'd copy of the message's name ("" when unnamed); the caller frees it. */
kiln_status kiln_onnx_read_value(const void *data, size_t size, kiln_value_kind kind, kiln_dtype elem_dtype_hint,
                                 kiln_value *v, char **name);

/* Appends v as a message of kind `kind` to out. Tensors are written with raw_data (sub-byte types packed as ONNX
 * does), strings with string_data; dims, data_type and name (may be NULL) are set. For kind OPTIONAL, v may be
 * KILN_V_NONE (an empty optional), a tensor or a sequence. */
kiln_status kiln_onnx_write_value(const kiln_value *v, kiln_value_kind kind, const char *name, kiln_pb_buf *out);

/* The same for a single tensor message. */
kiln_status kiln_onnx_write_tensor(const kiln_tensor *t, const char *name, kiln_pb_buf *out);

#endif
