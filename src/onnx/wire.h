/* Zero-copy protobuf wire-format reader over a memory buffer (the model is mapped, not copied).
 *
 * A kiln_pb walks the fields of one message. Length-delimited payloads point into the buffer, so strings,
 * raw_data and sub-messages are never copied here. Every length and offset is checked against the end of the
 * enclosing message, nesting depth is limited (KILN_PB_MAX_DEPTH) so crafted inputs cannot exhaust the stack, and
 * every failure is KILN_ERR_PARSE with a message naming the message, the field and the byte offset from the start
 * of the buffer.
 *
 *   kiln_pb r; kiln_pb_field f;
 *   kiln_pb_init(&r, data, size, "ModelProto");
 *   while (kiln_pb_next(&r, &f)) {
 *       switch (f.num) { case 1: KILN_TRY(kiln_pb_int64(&r, &f, "ir_version", &ir)); break; ... }
 *   }
 *   KILN_TRY(r.status);      // malformed input ends the loop early with status set
 *
 * Unknown fields are skipped by simply not looking at them. */
#ifndef KILN_ONNX_WIRE_H
#define KILN_ONNX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

#define KILN_PB_MAX_DEPTH 64

enum { KILN_PB_VARINT = 0, KILN_PB_I64 = 1, KILN_PB_LEN = 2, KILN_PB_I32 = 5 };

typedef struct kiln_pb {
    const uint8_t *base;  /* start of the whole buffer: offsets in errors are from here */
    const uint8_t *p;     /* next unread byte */
    const uint8_t *end;   /* end of this message */
    const char *msg;      /* message type name for errors (static string) */
    int depth;
    kiln_status status;   /* KILN_OK until malformed input is met */
} kiln_pb;

typedef struct kiln_pb_field {
    uint32_t num;
    int wt;
    uint64_t u;           /* VARINT, I64, I32 payload */
    const uint8_t *data;  /* LEN payload (points into the buffer) */
    size_t len;
    size_t off;           /* offset of the field's tag from base */
} kiln_pb_field;

void kiln_pb_init(kiln_pb *r, const void *data, size_t size, const char *msg);
/* Reads the next field: 1 when *f is filled, 0 at the end of the message or on malformed input (r->status then
 * holds the error; once set, every later call returns 0). */
int kiln_pb_next(kiln_pb *r, kiln_pb_field *f);

/* Typed accessors: check the wire type (wrong type -> KILN_ERR_PARSE naming msg.field and the offset). */
kiln_status kiln_pb_int64(kiln_pb *r, const kiln_pb_field *f, const char *field, int64_t *out);
kiln_status kiln_pb_int32(kiln_pb *r, const kiln_pb_field *f, const char *field, int32_t *out);
kiln_status kiln_pb_float(kiln_pb *r, const kiln_pb_field *f, const char *field, float *out);
kiln_status kiln_pb_bytes(kiln_pb *r, const kiln_pb_field *f, const char *field, const uint8_t **data, size_t *len);
/* Opens a length-delimited field as a nested message of type `sub_msg`, one level deeper. */
kiln_status kiln_pb_sub(kiln_pb *r, const kiln_pb_field *f, const char *field, const char *sub_msg, kiln_pb *sub);
/* Records and returns a KILN_ERR_PARSE about field f ("malformed ONNX: msg.field (field N) at byte offset X: ...").
 */
kiln_status kiln_pb_fail(kiln_pb *r, const kiln_pb_field *f, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Growable arrays for repeated scalars, which may come packed (one LEN field) or unpacked (one field per element),
 * possibly both within one message. */
typedef struct kiln_pb_u64s {
    uint64_t *v;
    size_t n, cap;
} kiln_pb_u64s;
typedef struct kiln_pb_u32s {
    uint32_t *v;
    size_t n, cap;
} kiln_pb_u32s;

/* Appends varint elements (int32/int64/uint64/bool/enum fields). */
kiln_status kiln_pb_add_varints(kiln_pb *r, const kiln_pb_field *f, const char *field, kiln_pb_u64s *out);
/* Appends 4-byte elements (float/fixed32) and 8-byte elements (double/fixed64). */
kiln_status kiln_pb_add_fixed32(kiln_pb *r, const kiln_pb_field *f, const char *field, kiln_pb_u32s *out);
kiln_status kiln_pb_add_fixed64(kiln_pb *r, const kiln_pb_field *f, const char *field, kiln_pb_u64s *out);
void kiln_pb_u64s_free(kiln_pb_u64s *a);
void kiln_pb_u32s_free(kiln_pb_u32s *a);

/* Decodes one varint at *p (not past end), advancing *p. Returns 0 when truncated or longer than 10 bytes. */
int kiln_pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out);

/* ---- writing (value I/O, tests) ---- */
typedef struct kiln_pb_buf {
    uint8_t *data;
    size_t len, cap;
    int oom;              /* set on allocation failure; later writes are dropped */
} kiln_pb_buf;

void kiln_pb_put_varint(kiln_pb_buf *b, uint64_t v);
void kiln_pb_put_tag(kiln_pb_buf *b, uint32_t num, int wt);
void kiln_pb_put_raw(kiln_pb_buf *b, const void *data, size_t len);
void kiln_pb_put_uint(kiln_pb_buf *b, uint32_t num, uint64_t v);          /* VARINT field */
void kiln_pb_put_bytes(kiln_pb_buf *b, uint32_t num, const void *data, size_t len); /* LEN field */
/* Nested message: begin reserves room for the length, end patches it in. Returns a mark for end. */
size_t kiln_pb_begin(kiln_pb_buf *b, uint32_t num);
void kiln_pb_end(kiln_pb_buf *b, size_t mark);
void kiln_pb_buf_free(kiln_pb_buf *b);

#endif
