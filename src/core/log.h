/* Logging through the user's kiln_logger. */
#ifndef KILN_CORE_LOG_H
#define KILN_CORE_LOG_H

#include "kiln.h"

void kiln_log(const kiln_logger *lg, kiln_severity sev, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
