/* CPU kernels: softmax family (see registry.h): Softmax, LogSoftmax, Hardmax.
 *
 * Before opset 13 these ops coerce the input to 2-D at `axis` (default 1) and normalize each row of the
 * flattened trailing dims; from opset 13 they normalize along the single axis `axis` (default -1). Both become
 * an (outer, n, inner) view: opset < 13 always has inner == 1. fp16/bf16 compute through float. */
#include <math.h>
#include <stdlib.h>

#include "backends/cpu/reduce-common.h"
#include "backends/cpu/registry.h"
#include "core/parallel.h"

typedef struct sm_params {
    int64_t axis;
    int coerce_2d; /* opset < 13 */
    int mode;      /* 0 softmax, 1 log-softmax, 2 hardmax */
} sm_params;

typedef struct sm_job {
    const void *x;
    void *y;
    int64_t n, inner;
    int log_mode;
} sm_job;

#define SM_COLS 256

#define ST float
#define SS f32
#define SEXP(v) kr_expf(v)
#define SLOG(v) logf(v)
#define SFAST 1
#include "backends/cpu/softmax-core.h"
#undef ST
#undef SS
#undef SEXP
#undef SLOG
#undef SFAST
#define ST double
#define SS f64
#define SEXP(v) exp(v)
#define SLOG(v) log(v)
#define SFAST 0
#include "backends/cpu/softmax-core.h"
#undef ST
#undef SS
#undef SEXP
#undef SLOG
#undef SFAST

static kiln_status sm_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    sm_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->coerce_2d = node->opset > 0 && node->opset < 13;
    p->axis = kiln_attr_int(node, "axis", p->coerce_2d ? 1 : -1);
    p->mode = !strcmp(node->op_type, "Softmax") ? 0 : !strcmp(node->op_type, "LogSoftmax") ? 1 : 2;
    *params = p;
    return KILN_OK;
}

/* Hardmax: 1 at the first maximum along the axis (NaN counts as the maximum, as numpy's argmax has it). */
static void hardmax(const kiln_tensor *x, kiln_tensor *y, int64_t outer, int64_t n, int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * n * inner + i, bi = 0;
            double best = kiln_load_f64(x->dtype, x->data, base);
            for (int64_t j = 1; j < n && best == best; j++) {
                double v = kiln_load_f64(x->dtype, x->data, base + j * inner);
                if (v > best || v != v) best = v, bi = j;
            }
            for (int64_t j = 0; j < n; j++) kiln_store_f64(y->dtype, y->data, base + j * inner, j == bi ? 1.0 : 0.0);
        }
}

static kiln_status sm_run(kiln_kctx *k) {
    static const char *const names[] = {"Softmax", "LogSoftmax", "Hardmax"};
    const sm_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    kiln_dtype dt = x->dtype;
    KILN_FAIL_IF(!kr_is_f32ish(dt) && dt != KILN_DOUBLE, KILN_ERR_UNSUPPORTED, "%s does not support %s input",
                 names[p->mode], kiln_dtype_name(dt));
    int axis = 0;
    if (p->coerce_2d && p->axis == x->rank) axis = x->rank; /* coercing to (N, 1): one element per row */
    else if (x->rank > 0 || p->axis != 0) KILN_TRY(kr_axis(p->axis, x->rank, "axis", &axis));
    int64_t outer = kr_prod(x->dims, 0, axis), n, inner;
    if (p->coerce_2d) {
        n = kr_prod(x->dims, axis, x->rank);
        inner = 1;
    } else {
        n = x->rank > 0 ? x->dims[axis] : 1;
        inner = kr_prod(x->dims, axis + 1, x->rank);
    }
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, dt, x->rank, x->dims, &y));
    int64_t numel = kiln_tensor_numel(x);
    if (numel == 0) return KILN_OK;
    if (p->mode == 2) {
        hardmax(x, y, outer, n, inner);
        return KILN_OK;
    }
    sm_job j = {x->data, y->data, n, inner, p->mode == 1};
    float *xo = NULL, *yo = NULL;
    if (dt == KILN_FLOAT16 || dt == KILN_BFLOAT16) {
        j.x = kr_float_view(x, numel, &xo);
        j.y = yo = malloc(sizeof(float) * (size_t)numel);
        if (!j.x || !yo) {
            free(xo);
            free(yo);
            return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory in %s (%lld elements)", names[p->mode],
                              (long long)numel);
        }
    }
    int64_t tasks = inner == 1 ? outer : outer * ((inner + SM_COLS - 1) / SM_COLS);
    int64_t per_task = inner == 1 ? n : n * (inner < SM_COLS ? inner : SM_COLS);
    int64_t grain = 16384 / per_task;
    kiln_parallel_for(tasks, grain > 0 ? grain : 1, dt == KILN_DOUBLE ? range_f64 : range_f32, &j);
    if (yo) kr_float_store(dt, y->data, yo, numel);
    free(xo);
    free(yo);
    return KILN_OK;
}

const kiln_op_def kiln_cpu_ops_softmax[] = {
    {"Softmax", "", 1, sm_prepare, free, sm_run},
    {"LogSoftmax", "", 1, sm_prepare, free, sm_run},
    {"Hardmax", "", 1, sm_prepare, free, sm_run},
    {0},
};
