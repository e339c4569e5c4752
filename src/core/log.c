#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const sev_names[] = {"internal error", "error", "warning", "info", "verbose"};
_Static_assert(sizeof(sev_names) / sizeof(sev_names[0]) == KILN_SEVERITY_COUNT, "severity name table");

static void stderr_log(void *user, kiln_severity sev, const char *msg) {
    (void)user;
    if (sev <= KILN_SEV_WARNING) fprintf(stderr, "kiln: %s: %s\n", sev_names[sev], msg);
}

static const kiln_logger default_logger = {stderr_log, NULL};

const kiln_logger *kiln_default_logger(void) { return &default_logger; }

void kiln_log(const kiln_logger *lg, kiln_severity sev, const char *fmt, ...) {
    if (!lg) lg = &default_logger;
    if (!lg->log) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lg->log(lg->user, sev, buf);
}
