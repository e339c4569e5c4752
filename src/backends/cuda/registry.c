#include "backends/cuda/registry.h"

#include <string.h>

#define KILN_CUDA_LIST_FAMILY(name) kiln_cuda_ops_##name,
static const kiln_cuda_op_def *const families[] = {KILN_CUDA_FAMILIES(KILN_CUDA_LIST_FAMILY)};
#undef KILN_CUDA_LIST_FAMILY

static int same_domain(const char *a, const char *b) {
    if (!a) a = "";
    if (!b) b = "";
    if (!strcmp(a, "ai.onnx")) a = "";
    if (!strcmp(b, "ai.onnx")) b = "";
    return strcmp(a, b) == 0;
}

/* Called once per node when an engine is loaded, never at run time. */
const kiln_cuda_op_def *kiln_cuda_find_op(const char *op_type, const char *domain, int opset) {
    const kiln_cuda_op_def *best = NULL;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (const kiln_cuda_op_def *d = families[f]; d->op_type; d++) {
            if (strcmp(d->op_type, op_type) != 0 || !same_domain(d->domain, domain)) continue;
            if (opset > 0 && d->since_version > opset) continue;
            if (!best || d->since_version > best->since_version) best = d;
        }
    return best;
}
