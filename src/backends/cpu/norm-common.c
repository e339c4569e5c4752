/* Helpers shared by the CPU norm family files (see norm-common.h). */
#include "backends/cpu/norm-common.h"

#include <stdlib.h>

#include "core/broadcast.h"
#include "core/dtype.h"

static int is_float_param(kiln_dtype dt) {
    return dt == KILN_FLOAT || dt == KILN_DOUBLE || dt == KILN_FLOAT16 || dt == KILN_BFLOAT16;
}

kiln_status kn_param_load(const kiln_tensor *p, const kiln_tensor *x, int from, const char *what, int as_double,
                          void **out, int *per_row) {
    char b1[128], b2[128];
    *out = NULL;
    *per_row = 0;
    KILN_FAIL_IF(!is_float_param(p->dtype), KILN_ERR_TYPE, "%s must be a float tensor, got %s", what,
                 kiln_dtype_name(p->dtype));
    int ok = p->rank <= x->rank;
    for (int i = 0; ok && i < p->rank; i++) {
        int64_t pd = p->dims[p->rank - 1 - i], xd = x->dims[x->rank - 1 - i];
        ok = pd == xd || pd == 1;
    }
    KILN_FAIL_IF(!ok, KILN_ERR_SHAPE, "%s shape %s does not broadcast to input shape %s", what,
                 kiln_shape_str(p->rank, p->dims, b1, sizeof b1), kiln_shape_str(x->rank, x->dims, b2, sizeof b2));
    int64_t st[KILN_MAX_DIMS];
    kiln_broadcast_strides(p->rank, p->dims, x->rank, x->dims, st);
    int start = from;
    for (int d = 0; d < from; d++)
        if (st[d] != 0) start = 0;
    *per_row = start == 0 && from > 0;
    int64_t n = 1;
    for (int d = start; d < x->rank; d++) n *= x->dims[d];
    size_t esz = as_double ? sizeof(double) : sizeof(float);
    void *buf = malloc(esz * (size_t)(n > 0 ? n : 1));
    KILN_FAIL_IF(!buf, KILN_ERR_OUT_OF_MEMORY, "out of memory loading %s (%lld elements)", what, (long long)n);
    int64_t idx[KILN_MAX_DIMS] = {0}, off = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = kiln_load_f64(p->dtype, p->data, off);
        if (as_double) ((double *)buf)[i] = v;
        else ((float *)buf)[i] = (float)v;
        for (int d = x->rank - 1; d >= start; d--) {
            off += st[d];
            if (++idx[d] < x->dims[d]) break;
            off -= st[d] * x->dims[d];
            idx[d] = 0;
        }
    }
    *out = buf;
    return KILN_OK;
}

kiln_status kn_channel_load(const kiln_tensor *p, int64_t c, const char *what, double **out) {
    char b[128];
    *out = NULL;
    KILN_FAIL_IF(!is_float_param(p->dtype), KILN_ERR_TYPE, "%s must be a float tensor, got %s", what,
                 kiln_dtype_name(p->dtype));
    KILN_FAIL_IF(kiln_tensor_numel(p) != c || p->rank > 1, KILN_ERR_SHAPE, "%s has shape %s, expected [%lld]", what,
                 kiln_shape_str(p->rank, p->dims, b, sizeof b), (long long)c);
    double *buf = malloc(sizeof(double) * (size_t)(c > 0 ? c : 1));
    KILN_FAIL_IF(!buf, KILN_ERR_OUT_OF_MEMORY, "out of memory loading %s", what);
    for (int64_t i = 0; i < c; i++) buf[i] = kiln_load_f64(p->dtype, p->data, i);
    *out = buf;
    return KILN_OK;
}

kiln_dtype kn_declared_dtype(const kiln_kctx *k, int i) {
    if (i >= k->n_out || k->node->out[i] < 0) return KILN_UNDEFINED;
    const kiln_ir_value *v = &k->graph->values[k->node->out[i]];
    return v->type.kind == KILN_KIND_TENSOR ? v->type.dtype : KILN_UNDEFINED;
}

int kn_has_output(const kiln_kctx *k, int i) { return i < k->n_out && k->node->out[i] >= 0; }
