#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char tls_error[KILN_ERROR_TEXT_MAX];

static const char *const status_names[] = {
    [KILN_OK] = "ok",
    [KILN_ERR_INVALID_ARGUMENT] = "invalid argument",
    [KILN_ERR_IO] = "I/O error",
    [KILN_ERR_PARSE] = "parse error",
    [KILN_ERR_UNSUPPORTED] = "unsupported",
    [KILN_ERR_SHAPE] = "shape error",
    [KILN_ERR_TYPE] = "type error",
    [KILN_ERR_OUT_OF_MEMORY] = "out of memory",
    [KILN_ERR_CORRUPT_PLAN] = "corrupt plan",
    [KILN_ERR_INCOMPATIBLE_PLAN] = "incompatible plan",
    [KILN_ERR_DEVICE] = "device error",
    [KILN_ERR_INTERNAL] = "internal error",
    [KILN_ERR_RUNTIME] = "runtime error",
    [KILN_ERR_INVALID_GRAPH] = "invalid graph",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == KILN_STATUS_COUNT, "status name table");

const char *kiln_status_string(kiln_status s) {
    if ((unsigned)s >= KILN_STATUS_COUNT) return "unknown status";
    return status_names[s];
}

/* Stores full[0..len) as the thread's error text. When it is too long the middle goes: the outermost context
 * (what) and the innermost cause (why, at the end of wrapped messages) are the parts worth keeping. */
static void store_text(const char *full, size_t len) {
    size_t room = sizeof tls_error - 1;
    if (len <= room) {
        memmove(tls_error, full, len);
        tls_error[len] = 0;
        return;
    }
    static const char cut[] = " ... ";
    size_t head = room / 3, tail = room - head - (sizeof cut - 1);
    memmove(tls_error, full, head);
    memcpy(tls_error + head, cut, sizeof cut - 1);
    memmove(tls_error + head + sizeof cut - 1, full + len - tail, tail);
    tls_error[room] = 0;
}

kiln_status kiln_error_at(const char *file, int line, kiln_status s, const char *fmt, ...) {
    char full[3 * KILN_ERROR_TEXT_MAX];
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    int n = snprintf(full, sizeof full, "%s:%d: ", base, line);
    if (n < 0 || (size_t)n >= sizeof full) n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(full + n, sizeof full - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof full - 1) len = sizeof full - 1;
    store_text(full, len);
    return s;
}

kiln_status kiln_error_wrap(kiln_status s, const char *fmt, ...) {
    char full[3 * KILN_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(full, KILN_ERROR_TEXT_MAX, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n > KILN_ERROR_TEXT_MAX - 1) n = KILN_ERROR_TEXT_MAX - 1;
    size_t len = (size_t)n;
    memcpy(full + len, ": ", 2);
    len += 2;
    size_t ol = strnlen(tls_error, sizeof tls_error - 1);
    memcpy(full + len, tls_error, ol);
    store_text(full, len + ol);
    return s;
}

const char *kiln_error_text(void) { return tls_error; }
void kiln_error_clear(void) { tls_error[0] = 0; }

kiln_status kiln_handle_check(const void *h, uint32_t magic, const char *what) {
    if (!h) return kiln_error(KILN_ERR_INVALID_ARGUMENT, "%s handle is NULL", what);
    const kiln_handle_hdr *hdr = h;
    if (hdr->magic == KILN_MAGIC_DEAD)
        return kiln_error(KILN_ERR_INVALID_ARGUMENT, "%s handle was already destroyed", what);
    if (hdr->magic != magic) return kiln_error(KILN_ERR_INVALID_ARGUMENT, "handle is not a %s", what);
    return KILN_OK;
}

kiln_status kiln_handle_fail(void *h, kiln_status s) {
    if (h && s != KILN_OK) {
        kiln_handle_hdr *hdr = h;
        snprintf(hdr->last_error, sizeof hdr->last_error, "%s", tls_error);
    }
    return s;
}

const char *kiln_last_error(const void *handle) {
    if (!handle) return tls_error;
    const kiln_handle_hdr *hdr = handle;
    switch (hdr->magic) {
    case KILN_MAGIC_BUILDER: case KILN_MAGIC_NETWORK: case KILN_MAGIC_CONFIG: case KILN_MAGIC_PROFILE:
    case KILN_MAGIC_PARSER: case KILN_MAGIC_BLOB: case KILN_MAGIC_RUNTIME: case KILN_MAGIC_ENGINE:
    case KILN_MAGIC_CONTEXT:
        return hdr->last_error;
    default:
        return "not a kiln handle";
    }
}
