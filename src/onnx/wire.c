#include "onnx/wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

void kiln_pb_init(kiln_pb *r, const void *data, size_t size, const char *msg) {
    r->base = data;
    r->p = data;
    r->end = r->p ? r->p + size : r->p;
    r->msg = msg;
    r->depth = 0;
    r->status = KILN_OK;
}

int kiln_pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    const uint8_t *q = *p;
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (q >= end) return 0;
        uint8_t b = *q++;
        v |= (uint64_t)(b & 0x7f) << (shift < 64 ? shift : 63);
        if (!(b & 0x80)) {
            *p = q;
            *out = v;
            return 1;
        }
    }
    return 0;
}

static size_t off_of(const kiln_pb *r, const uint8_t *p) { return (size_t)(p - r->base); }

/* Records a parse error for the reader (first one wins) and returns it. */
static kiln_status pb_error(kiln_pb *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static kiln_status pb_error(kiln_pb *r, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->status = kiln_error(KILN_ERR_PARSE, "malformed ONNX: %s", buf);
    return r->status;
}

int kiln_pb_next(kiln_pb *r, kiln_pb_field *f) {
    if (r->status != KILN_OK || r->p >= r->end) return 0;
    const uint8_t *start = r->p;
    memset(f, 0, sizeof *f);
    f->off = off_of(r, start);
    uint64_t tag;
    if (!kiln_pb_read_varint(&r->p, r->end, &tag)) {
        pb_error(r, "in %s at byte offset %zu: truncated or overlong field tag", r->msg, f->off);
        return 0;
    }
    uint64_t num = tag >> 3;
    f->wt = (int)(tag & 7);
    if (num == 0 || num > 536870911u) {
        pb_error(r, "in %s at byte offset %zu: invalid field number %llu", r->msg, f->off, (unsigned long long)num);
        return 0;
    }
    f->num = (uint32_t)num;
    size_t left;
    switch (f->wt) {
    case KILN_PB_VARINT:
        if (!kiln_pb_read_varint(&r->p, r->end, &f->u)) {
            pb_error(r, "in %s, field %u at byte offset %zu: truncated varint", r->msg, f->num, f->off);
            return 0;
        }
        return 1;
    case KILN_PB_I64:
    case KILN_PB_I32: {
        size_t n = f->wt == KILN_PB_I64 ? 8 : 4;
        left = (size_t)(r->end - r->p);
        if (left < n) {
            pb_error(r, "in %s, field %u at byte offset %zu: %zu-byte value truncated (%zu bytes left)", r->msg,
                     f->num, f->off, n, left);
            return 0;
        }
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) v |= (uint64_t)r->p[i] << (8 * i);
        f->u = v;
        r->p += n;
        return 1;
    }
    case KILN_PB_LEN: {
        uint64_t len;
        if (!kiln_pb_read_varint(&r->p, r->end, &len)) {
            pb_error(r, "in %s, field %u at byte offset %zu: truncated length", r->msg, f->num, f->off);
            return 0;
        }
        left = (size_t)(r->end - r->p);
        if (len > left) {
            pb_error(r, "in %s, field %u at byte offset %zu: length %llu runs past the end of the message (%zu bytes "
                        "left)",
                     r->msg, f->num, f->off, (unsigned long long)len, left);
            return 0;
        }
        f->data = r->p;
        f->len = (size_t)len;
        r->p += len;
        return 1;
    }
    default:
        pb_error(r, "in %s, field %u at byte offset %zu: unsupported wire type %d", r->msg, f->num, f->off, f->wt);
        return 0;
    }
}

kiln_status kiln_pb_fail(kiln_pb *r, const kiln_pb_field *f, const char *field, const char *fmt, ...) {
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return pb_error(r, "%s.%s (field %u) at byte offset %zu: %s", r->msg, field, f->num, f->off, buf);
}

static const char *wt_name(int wt) {
    switch (wt) {
    case KILN_PB_VARINT: return "varint";
    case KILN_PB_I64: return "fixed64";
    case KILN_PB_LEN: return "length-delimited";
    case KILN_PB_I32: return "fixed32";
    default: return "invalid";
    }
}

static kiln_status want(kiln_pb *r, const kiln_pb_field *f, const char *field, int wt) {
    if (f->wt == wt) return KILN_OK;
    return kiln_pb_fail(r, f, field, "wire type is %s, expected %s", wt_name(f->wt), wt_name(wt));
}

kiln_status kiln_pb_int64(kiln_pb *r, const kiln_pb_field *f, const char *field, int64_t *out) {
    KILN_TRY(want(r, f, field, KILN_PB_VARINT));
    *out = (int64_t)f->u;
    return KILN_OK;
}

kiln_status kiln_pb_int32(kiln_pb *r, const kiln_pb_field *f, const char *field, int32_t *out) {
    KILN_TRY(want(r, f, field, KILN_PB_VARINT));
    *out = (int32_t)(uint32_t)f->u; /* protobuf truncates int32 varints to the low 32 bits */
    return KILN_OK;
}

kiln_status kiln_pb_float(kiln_pb *r, const kiln_pb_field *f, const char *field, float *out) {
    KILN_TRY(want(r, f, field, KILN_PB_I32));
    uint32_t u = (uint32_t)f->u;
    memcpy(out, &u, 4);
    return KILN_OK;
}

kiln_status kiln_pb_bytes(kiln_pb *r, const kiln_pb_field *f, const char *field, const uint8_t **data, size_t *len) {
    KILN_TRY(want(r, f, field, KILN_PB_LEN));
    *data = f->data;
    *len = f->len;
    return KILN_OK;
}

kiln_status kiln_pb_sub(kiln_pb *r, const kiln_pb_field *f, const char *field, const char *sub_msg, kiln_pb *sub) {
    KILN_TRY(want(r, f, field, KILN_PB_LEN));
    if (r->depth + 1 > KILN_PB_MAX_DEPTH)
        return kiln_pb_fail(r, f, field, "messages nested deeper than %d levels", KILN_PB_MAX_DEPTH);
    sub->base = r->base;
    sub->p = f->data;
    sub->end = f->data + f->len;
    sub->msg = sub_msg;
    sub->depth = r->depth + 1;
    sub->status = KILN_OK;
    return KILN_OK;
}

static int grow(void **v, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    if (nc > SIZE_MAX / elem) return 0;
    void *p = realloc(*v, nc * elem);
    if (!p) return 0;
    *v = p;
    *cap = nc;
    return 1;
}

kiln_status kiln_pb_add_varints(kiln_pb *r, const kiln_pb_field *f, const char *field, kiln_pb_u64s *out) {
    if (f->wt == KILN_PB_VARINT) {
        KILN_FAIL_IF(!grow((void **)&out->v, &out->cap, out->n + 1, 8), KILN_ERR_OUT_OF_MEMORY, "out of memory");
        out->v[out->n++] = f->u;
        return KILN_OK;
    }
    KILN_TRY(want(r, f, field, KILN_PB_LEN));
    /* Each element takes at least one byte, so len bounds the count: reserve once. */
    KILN_FAIL_IF(!grow((void **)&out->v, &out->cap, out->n + f->len, 8), KILN_ERR_OUT_OF_MEMORY,
                 "out of memory reading %zu packed values of %s.%s", f->len, r->msg, field);
    const uint8_t *p = f->data, *end = f->data + f->len;
    while (p < end) {
        if (!kiln_pb_read_varint(&p, end, &out->v[out->n]))
            return kiln_pb_fail(r, f, field, "truncated varint in packed array at byte offset %zu", off_of(r, p));
        out->n++;
    }
    return KILN_OK;
}

kiln_status kiln_pb_add_fixed32(kiln_pb *r, const kiln_pb_field *f, const char *field, kiln_pb_u32s *out) {
    if (f->wt == KILN_PB_I32) {
        KILN_FAIL_IF(!grow((void **)&out->v, &out->cap, out->n + 1, 4), KILN_ERR_OUT_OF_MEMORY, "out of memory");
        out->v[out->n++] = (uint32_t)f->u;
        return KILN_OK;
    }
    KILN_TRY(want(r, f, field, KILN_PB_LEN));
    if (f->len % 4) return kiln_pb_fail(r, f, field, "packed fixed32 array of %zu bytes is not a multiple of 4", f->len);
    size_t n = f->len / 4;
    if (n == 0) return KILN_OK; /* an empty packed array: nothing to copy (and out->v may still be NULL) */
    KILN_FAIL_IF(!grow((void **)&out->v, &out->cap, out->n + n, 4), KILN_ERR_OUT_OF_MEMORY,
                 "out of memory reading %zu values of %s.%s", n, r->msg, field);
    memcpy(out->v + out->n, f->data, f->len); /* little-endian host (see value_io.c) */
    out->n += n;
    return KILN_OK;
}

kiln_status kiln_pb_add_fixed64(kiln_pb *r, const kiln_pb_field *f, const char *field, kiln_pb_u64s *out) {
    if (f->wt == KILN_PB_I64) {
        KILN_FAIL_IF(!grow((void **)&out->v, &out->cap, out->n + 1, 8), KILN_ERR_OUT_OF_MEMORY, "out of memory");
        out->v[out->n++] = f->u;
        return KILN_OK;
    }
    KILN_TRY(want(r, f, field, KILN_PB_LEN));
    if (f->len % 8) return kiln_pb_fail(r, f, field, "packed fixed64 array of %zu bytes is not a multiple of 8", f->len);
    size_t n = f->len / 8;
    if (n == 0) return KILN_OK; /* an empty packed array: nothing to copy (and out->v may still be NULL) */
    KILN_FAIL_IF(!grow((void **)&out->v, &out->cap, out->n + n, 8), KILN_ERR_OUT_OF_MEMORY,
                 "out of memory reading %zu values of %s.%s", n, r->msg, field);
    memcpy(out->v + out->n, f->data, f->len);
    out->n += n;
    return KILN_OK;
}

void kiln_pb_u64s_free(kiln_pb_u64s *a) {
    free(a->v);
    memset(a, 0, sizeof *a);
}

void kiln_pb_u32s_free(kiln_pb_u32s *a) {
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- writing --------------------------------------- */
static int buf_reserve(kiln_pb_buf *b, size_t extra) {
    if (b->oom) return 0;
    if (extra > SIZE_MAX - b->len) {
        b->oom = 1;
        return 0;
    }
    size_t need = b->len + extra;
    if (need <= b->cap) return 1;
    size_t nc = b->cap ? b->cap * 2 : 256;
    while (nc < need) nc = nc > SIZE_MAX / 2 ? need : nc * 2;
    uint8_t *p = realloc(b->data, nc);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->data = p;
    b->cap = nc;
    return 1;
}

static size_t varint_encode(uint8_t *out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

void kiln_pb_put_varint(kiln_pb_buf *b, uint64_t v) {
    if (!buf_reserve(b, 10)) return;
    b->len += varint_encode(b->data + b->len, v);
}

void kiln_pb_put_tag(kiln_pb_buf *b, uint32_t num, int wt) { kiln_pb_put_varint(b, (uint64_t)num << 3 | (unsigned)wt); }

void kiln_pb_put_raw(kiln_pb_buf *b, const void *data, size_t len) {
    if (!len || !buf_reserve(b, len)) return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void kiln_pb_put_uint(kiln_pb_buf *b, uint32_t num, uint64_t v) {
    kiln_pb_put_tag(b, num, KILN_PB_VARINT);
    kiln_pb_put_varint(b, v);
}

void kiln_pb_put_bytes(kiln_pb_buf *b, uint32_t num, const void *data, size_t len) {
    kiln_pb_put_tag(b, num, KILN_PB_LEN);
    kiln_pb_put_varint(b, len);
    kiln_pb_put_raw(b, data, len);
}

size_t kiln_pb_begin(kiln_pb_buf *b, uint32_t num) {
    kiln_pb_put_tag(b, num, KILN_PB_LEN);
    return b->len;
}

void kiln_pb_end(kiln_pb_buf *b, size_t mark) {
    if (b->oom) return;
    size_t payload = b->len - mark;
    uint8_t tmp[10];
    size_t n = varint_encode(tmp, payload);
    if (!buf_reserve(b, n)) return;
    memmove(b->data + mark + n, b->data + mark, payload);
    memcpy(b->data + mark, tmp, n);
    b->len += n;
}

void kiln_pb_buf_free(kiln_pb_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}
