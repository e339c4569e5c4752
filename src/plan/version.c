/* Library version, backend names and availability, optimization-profile helpers. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "plan/plan.h"

#define KILN_STR2(x) #x
#define KILN_STR(x) KILN_STR2(x)

const char *kiln_version(void) {
    return KILN_STR(KILN_VERSION_MAJOR) "." KILN_STR(KILN_VERSION_MINOR) "." KILN_STR(KILN_VERSION_PATCH);
}

static const char *const backend_names[] = {
    [KILN_BACKEND_AUTO] = "auto",
    [KILN_BACKEND_CPU] = "CPU",
    [KILN_BACKEND_CUDA] = "CUDA",
};
_Static_assert(sizeof(backend_names) / sizeof(backend_names[0]) == KILN_BACKEND_COUNT, "backend name table");

const char *kiln_backend_name(kiln_backend b) {
    if ((unsigned)b >= KILN_BACKEND_COUNT) return "unknown backend";
    return backend_names[b];
}

int kiln_backend_available(kiln_backend b) {
    switch (b) {
    case KILN_BACKEND_CPU: return 1;
    case KILN_BACKEND_CUDA:
#ifdef KILN_HAVE_CUDA
        return 1;
#else
        return 0;
#endif
    default: return 0;
    }
}

void kiln_profile_data_free(kiln_profile_data *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) free(p->ranges[i].input);
    free(p->ranges);
    p->ranges = NULL;
    p->n = 0;
}

kiln_status kiln_profile_data_copy(kiln_profile_data *dst, const kiln_profile_data *src) {
    memset(dst, 0, sizeof *dst);
    if (src->n == 0) return KILN_OK;
    dst->ranges = calloc((size_t)src->n, sizeof *dst->ranges);
    KILN_FAIL_IF(!dst->ranges, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < src->n; i++) {
        dst->ranges[i] = src->ranges[i];
        dst->ranges[i].input = strdup(src->ranges[i].input ? src->ranges[i].input : "");
        dst->n = i + 1;
        if (!dst->ranges[i].input) {
            kiln_profile_data_free(dst);
            return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        }
    }
    return KILN_OK;
}

const kiln_shape_range *kiln_profile_data_find(const kiln_profile_data *p, const char *input) {
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->ranges[i].input, input) == 0) return &p->ranges[i];
    return NULL;
}
