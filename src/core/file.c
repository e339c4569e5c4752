#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"

kiln_status kiln_file_map(const char *path, kiln_mapped_file *out) {
    memset(out, 0, sizeof *out);
    KILN_FAIL_IF(!path, KILN_ERR_INVALID_ARGUMENT, "file path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    KILN_FAIL_IF(fd < 0, KILN_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return kiln_error(KILN_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return kiln_error(KILN_ERR_IO, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        out->data = calloc(1, 1);
        KILN_FAIL_IF(!out->data, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        out->size = 0;
        return KILN_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    KILN_FAIL_IF(p == MAP_FAILED, KILN_ERR_IO, "cannot map '%s': %s", path, strerror(e));
    out->data = p;
    out->size = (size_t)st.st_size;
    out->is_mmap = 1;
    return KILN_OK;
}

void kiln_file_unmap(kiln_mapped_file *f) {
    if (!f || !f->data) return;
    if (f->is_mmap)
        munmap((void *)f->data, f->size);
    else
        free((void *)f->data);
    memset(f, 0, sizeof *f);
}

kiln_status kiln_file_write(const char *path, const void *data, size_t size) {
    KILN_FAIL_IF(!path, KILN_ERR_INVALID_ARGUMENT, "file path is NULL");
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    KILN_FAIL_IF(!tmp, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(tmp, n + 16, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        kiln_status s = kiln_error(KILN_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
        free(tmp);
        return s;
    }
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    int bad = w != size || fflush(f) != 0;
    int e = errno;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        if (!bad) e = errno;
        remove(tmp);
        free(tmp);
        return kiln_error(KILN_ERR_IO, "cannot write '%s': %s", path, strerror(e));
    }
    free(tmp);
    return KILN_OK;
}
