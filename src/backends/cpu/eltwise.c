/* CPU kernels: eltwise family (see registry.h). The op table, and Where. The loops live in eltwise-binary.c,
 * eltwise-unary.c (with Clip), and the shared machinery in eltwise-core.c. */
#include <string.h>

#include "backends/cpu/eltwise-ops.h"
#include "backends/cpu/registry.h"
#include "core/broadcast.h"
#include "core/status.h"

/* ---------------------------------------------------------------- Where ----------------------------------------- */

typedef struct where_job {
    const uint8_t *c;
    const char *x, *w;
    char *y;
    size_t es;
    kiln_tensor *ys; /* STRING output, else NULL */
    kiln_status st;
} where_job;

#define WHERE_LOOP(T)                                                                                              \
    do {                                                                                                           \
        const T *x = (const T *)j->x + off[1], *w = (const T *)j->w + off[2];                                      \
        T *y = (T *)j->y + y0;                                                                                     \
        if (inner[0] && inner[1] && inner[2])                                                                      \
            for (int64_t i = 0; i < len; i++) y[i] = c[i] ? x[i] : w[i];                                           \
        else                                                                                                       \
            for (int64_t i = 0; i < len; i++) y[i] = c[i * inner[0]] ? x[i * inner[1]] : w[i * inner[2]];          \
    } while (0)

static void where_seg(void *ctx, int64_t y0, const int64_t *off, const int64_t *inner, int64_t len) {
    where_job *j = ctx;
    const uint8_t *c = j->c + off[0];
    if (j->ys) {
        const char *const *x = (const char *const *)j->x + off[1], *const *w = (const char *const *)j->w + off[2];
        for (int64_t i = 0; i < len && j->st == KILN_OK; i++) {
            const char *s = c[i * inner[0]] ? x[i * inner[1]] : w[i * inner[2]];
            if (!s) s = "";
            j->st = kiln_tensor_set_string(j->ys, y0 + i, s, strlen(s));
        }
        return;
    }
    switch (j->es) {
    case 1: WHERE_LOOP(uint8_t); break;
    case 2: WHERE_LOOP(uint16_t); break;
    case 4: WHERE_LOOP(uint32_t); break;
    case 8: WHERE_LOOP(uint64_t); break;
    default:
        for (int64_t i = 0; i < len; i++) {
            const char *s = c[i * inner[0]] ? j->x + (size_t)(off[1] + i * inner[1]) * j->es
                                            : j->w + (size_t)(off[2] + i * inner[2]) * j->es;
            memcpy(j->y + (size_t)(y0 + i) * j->es, s, j->es);
        }
        break;
    }
}

static kiln_status where_run(kiln_kctx *k) {
    const kiln_tensor *c, *x, *w;
    kiln_tensor *y;
    KILN_TRY(kiln_kin_req(k, 0, &c));
    KILN_TRY(kiln_kin_req(k, 1, &x));
    KILN_TRY(kiln_kin_req(k, 2, &w));
    KILN_FAIL_IF(c->dtype != KILN_BOOL, KILN_ERR_TYPE, "Where: input 0 (condition) has dtype %s, expected bool",
                 kiln_dtype_name(c->dtype));
    KILN_FAIL_IF(x->dtype != w->dtype, KILN_ERR_TYPE, "Where: input 2 has dtype %s but input 1 has %s",
                 kiln_dtype_name(w->dtype), kiln_dtype_name(x->dtype));
    int r1, r;
    int64_t d1[KILN_MAX_DIMS], dims[KILN_MAX_DIMS];
    KILN_TRY(kiln_broadcast_shape(c->rank, c->dims, x->rank, x->dims, &r1, d1));
    KILN_TRY(kiln_broadcast_shape(r1, d1, w->rank, w->dims, &r, dims));
    KILN_TRY(kiln_kout(k, 0, x->dtype, r, dims, &y));
    const kiln_tensor *ins[3] = {c, x, w};
    ew_iter it;
    KILN_TRY(ew_iter_init(&it, r, dims, 3, ins));
    where_job j = {c->data, x->data, w->data, y->data, kiln_dtype_size(x->dtype),
                   x->dtype == KILN_STRING ? y : NULL, KILN_OK};
    ew_iter_for(&it, x->dtype != KILN_STRING, where_seg, &j);
    return j.st;
}

/* ---------------------------------------------------------------- table ----------------------------------------- */

#define BIN(op, since) {op, "", since, ew_binary_prepare, ew_params_release, ew_binary_run}
#define VAR(op, since) {op, "", since, ew_binary_prepare, ew_params_release, ew_variadic_run}
#define UN(op, since) {op, "", since, ew_math_prepare, ew_params_release, ew_unary_run}

const kiln_op_def kiln_cpu_ops_eltwise[] = {
    BIN("Add", 1), BIN("Sub", 1), BIN("Mul", 1), BIN("Div", 1), BIN("Pow", 1), BIN("Mod", 10),
    BIN("Equal", 1), BIN("Less", 1), BIN("Greater", 1), BIN("LessOrEqual", 12), BIN("GreaterOrEqual", 12),
    BIN("And", 1), BIN("Or", 1), BIN("Xor", 1), BIN("BitShift", 11), BIN("BitwiseAnd", 18), BIN("BitwiseOr", 18),
    BIN("BitwiseXor", 18),
    VAR("Sum", 1), VAR("Mean", 1), VAR("Max", 1), VAR("Min", 1),
    UN("Abs", 1), UN("Neg", 1), UN("Reciprocal", 1), UN("Sqrt", 1), UN("Exp", 1), UN("Log", 1), UN("Ceil", 1),
    UN("Floor", 1), UN("Round", 11), UN("Sign", 9), UN("Sin", 7), UN("Cos", 7), UN("Tan", 7), UN("Asin", 7),
    UN("Acos", 7), UN("Atan", 7), UN("Sinh", 9), UN("Cosh", 9), UN("Asinh", 9), UN("Acosh", 9), UN("Atanh", 9),
    UN("Erf", 9), UN("IsNaN", 9), UN("IsInf", 10), UN("Not", 1), UN("BitwiseNot", 18),
    {"Where", "", 9, NULL, NULL, where_run},
    {"Clip", "", 1, ew_clip_prepare, ew_params_release, ew_clip_run},
    {0},
};
