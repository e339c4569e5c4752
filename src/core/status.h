/* Internal error recording. A failure records "file:line: message" in a thread-local buffer; the public API
 * copies it into the handle's last-error text before returning. Never abort on user input. */
#ifndef KILN_CORE_STATUS_H
#define KILN_CORE_STATUS_H

#include "kiln.h"

#define KILN_ERROR_TEXT_MAX 1024

/* Records the error (printf-style) and returns `s`, so `return kiln_error(s, ...)` reads naturally. */
kiln_status kiln_error_at(const char *file, int line, kiln_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define kiln_error(s, ...) kiln_error_at(__FILE__, __LINE__, (s), __VA_ARGS__)

/* Prefixes context to the thread's current error text ("while X: <old text>"). Returns s. */
kiln_status kiln_error_wrap(kiln_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's last recorded error text ("" if none). */
const char *kiln_error_text(void);
void kiln_error_clear(void);

/* Evaluate an expression returning kiln_status; propagate failures. */
#define KILN_TRY(expr)                                                                                           \
    do {                                                                                                         \
        kiln_status kiln_try_s_ = (expr);                                                                        \
        if (kiln_try_s_ != KILN_OK) return kiln_try_s_;                                                          \
    } while (0)

/* Fail with status `s` and a message when `cond` holds. */
#define KILN_FAIL_IF(cond, s, ...)                                                                               \
    do {                                                                                                         \
        if (cond) return kiln_error((s), __VA_ARGS__);                                                           \
    } while (0)

/* Every public handle starts with this header: a magic per handle type (to reject NULL or mismatched handles)
 * and the handle's last-error text. */
typedef struct kiln_handle_hdr {
    uint32_t magic;
    char last_error[KILN_ERROR_TEXT_MAX];
} kiln_handle_hdr;

enum {
    KILN_MAGIC_BUILDER = 0x4b424c44u,  /* "KBLD" */
    KILN_MAGIC_NETWORK = 0x4b4e4554u,  /* "KNET" */
    KILN_MAGIC_CONFIG = 0x4b434647u,   /* "KCFG" */
    KILN_MAGIC_PROFILE = 0x4b50524fu,  /* "KPRO" */
    KILN_MAGIC_PARSER = 0x4b505253u,   /* "KPRS" */
    KILN_MAGIC_BLOB = 0x4b424c42u,     /* "KBLB" */
    KILN_MAGIC_RUNTIME = 0x4b52544du,  /* "KRTM" */
    KILN_MAGIC_ENGINE = 0x4b454e47u,   /* "KENG" */
    KILN_MAGIC_CONTEXT = 0x4b435458u,  /* "KCTX" */
    KILN_MAGIC_DEAD = 0xdeadbeefu,
};

/* Checks that `h` is a live handle of the given type; records an error otherwise. */
kiln_status kiln_handle_check(const void *h, uint32_t magic, const char *what);
/* Copies the thread's error text into the handle and returns s (use on every failing public return). */
kiln_status kiln_handle_fail(void *h, kiln_status s);

/* Public-API entry check: returns KILN_ERR_INVALID_ARGUMENT from the caller when the handle is bad. */
#define KILN_CHECK_HANDLE(h, magic, what) KILN_TRY(kiln_handle_check((h), (magic), (what)))

#endif
