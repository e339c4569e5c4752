/* Read-only file mapping. */
#ifndef KILN_CORE_FILE_H
#define KILN_CORE_FILE_H

#include <stddef.h>

#include "kiln.h"

typedef struct kiln_mapped_file {
    const void *data;
    size_t size;
    int is_mmap; /* 0: malloc'd copy (empty files, or mmap unavailable) */
} kiln_mapped_file;

/* Maps `path` read-only. Errors name the path and the OS reason. */
kiln_status kiln_file_map(const char *path, kiln_mapped_file *out);
void kiln_file_unmap(kiln_mapped_file *f);
/* Writes bytes to path (whole file, via a temporary + rename so a failed write leaves no partial file). */
kiln_status kiln_file_write(const char *path, const void *data, size_t size);

#endif
