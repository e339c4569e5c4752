/* Shared by the fuzz targets: a silent logger and the invariants every failing call must keep.
 *
 * A target is a libFuzzer entry point (LLVMFuzzerTestOneInput). Built with -DKILN_FUZZ=ON (clang), it is linked
 * with libFuzzer; in the ordinary build it is linked with replay.c instead, which feeds it files: that is how the
 * minimized crash inputs under tests/malformed/fuzz/ stay regression tests without clang. */
#ifndef KILN_FUZZ_COMMON_H
#define KILN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_quiet_log(void *user, kiln_severity sev, const char *msg) {
    (void)user, (void)sev, (void)msg;
}

static const kiln_logger fuzz_quiet_logger = {fuzz_quiet_log, NULL};

/* A broken invariant is a finding: abort so that libFuzzer (or the replay test) reports it with the input. */
#define FUZZ_REQUIRE(cond, ...)                                                                                  \
    do {                                                                                                         \
        if (!(cond)) {                                                                                           \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s: ", __FILE__, __LINE__, #cond);                    \
            fprintf(stderr, __VA_ARGS__);                                                                        \
            fputc('\n', stderr);                                                                                 \
            abort();                                                                                             \
        }                                                                                                        \
    } while (0)

/* A failing call must say why: a known status, and a message on the handle (or the thread when there is none).
 * KILN_ERR_INTERNAL means "a kiln bug", so malformed input must never produce it. */
static inline void fuzz_check_failure(kiln_status s, const void *handle, const char *call) {
    if (s == KILN_OK) return;
    FUZZ_REQUIRE(s > KILN_OK && s < KILN_STATUS_COUNT, "%s returned unknown status %d", call, (int)s);
    FUZZ_REQUIRE(s != KILN_ERR_INTERNAL, "%s: internal error: %s", call, kiln_last_error(handle));
    const char *msg = kiln_last_error(handle);
    FUZZ_REQUIRE(msg && *msg, "%s failed with status %d (%s) but left no message", call, (int)s,
                 kiln_status_string(s));
}

#endif
