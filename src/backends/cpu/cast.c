/* CPU kernels: cast family (see registry.h): Cast, CastLike, BitCast.
 *
 * Every numeric pair converts through a small tile: the source is read into int64 (integer and bool sources, so
 * 64-bit values stay exact) or double (float sources, exact for every float format), then written to the target
 * with the ONNX rules: float -> integer truncates toward zero and keeps the low bits (as numpy and the ONNX test
 * data do for int4), float -> narrow float rounds to nearest even with the saturate table, E8M0 follows
 * round_mode. Strings are formatted the way the ONNX reference (numpy) prints them and parsed with strtod. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backends/cpu/eltwise-cast.h"
#include "backends/cpu/eltwise-core.h"
#include "backends/cpu/eltwise-minifloat.h"
#include "backends/cpu/registry.h"
#include "core/status.h"

typedef struct cast_params {
    kiln_dtype to;      /* KILN_UNDEFINED: CastLike takes it from input 1 */
    int saturate;
    ew_e8m0_round round_mode;
} cast_params;

static int is_intlike(kiln_dtype t) { return kiln_dtype_is_int(t) || t == KILN_BOOL; }

/* ---------------------------------------------------------------- tile readers ---------------------------------- */

static void read_ints(kiln_dtype t, const void *x, int64_t i0, int64_t m, int64_t *o) {
    switch (t) {
#define RD(DT, T)                                                                                                  \
    case DT:                                                                                                       \
        for (int64_t i = 0; i < m; i++) o[i] = (int64_t)((const T *)x)[i0 + i];                                    \
        break;
        RD(KILN_INT8, int8_t) RD(KILN_INT4, int8_t) RD(KILN_INT2, int8_t) RD(KILN_UINT8, uint8_t)
        RD(KILN_UINT4, uint8_t) RD(KILN_UINT2, uint8_t) RD(KILN_INT16, int16_t) RD(KILN_UINT16, uint16_t)
        RD(KILN_INT32, int32_t) RD(KILN_UINT32, uint32_t) RD(KILN_INT64, int64_t) RD(KILN_UINT64, uint64_t)
#undef RD
    case KILN_BOOL:
        for (int64_t i = 0; i < m; i++) o[i] = ((const uint8_t *)x)[i0 + i] != 0;
        break;
    default: break;
    }
}

static void read_floats(kiln_dtype t, const void *x, int64_t i0, int64_t m, double *o, const float *lut) {
    switch (t) {
    case KILN_FLOAT:
        for (int64_t i = 0; i < m; i++) o[i] = ((const float *)x)[i0 + i];
        break;
    case KILN_DOUBLE: memcpy(o, (const double *)x + i0, sizeof(double) * (size_t)m); break;
    case KILN_FLOAT16:
        for (int64_t i = 0; i < m; i++) o[i] = kiln_half_to_float(((const uint16_t *)x)[i0 + i]);
        break;
    case KILN_BFLOAT16:
        for (int64_t i = 0; i < m; i++) o[i] = kiln_bf16_to_float(((const uint16_t *)x)[i0 + i]);
        break;
    default: /* the byte formats */
        for (int64_t i = 0; i < m; i++) o[i] = lut[((const uint8_t *)x)[i0 + i]];
        break;
    }
}

/* ---------------------------------------------------------------- tile writers ---------------------------------- */

/* Truncates toward zero and reduces modulo 2^64 (NaN gives 0; beyond the 64-bit range saturates). */
static inline uint64_t f2bits(double v) {
    if (v != v) return 0;
    if (v > -9223372036854775809.0 && v < 9223372036854775808.0) return (uint64_t)(int64_t)v;
    if (v >= 0) return v < 18446744073709551616.0 ? (uint64_t)v : UINT64_MAX;
    return (uint64_t)INT64_MIN;
}

/* Integers keep their low bits: sign-extended for the signed sub-byte types. */
static void store_bits(kiln_dtype t, void *y, int64_t i0, int64_t m, const uint64_t *b) {
    switch (t) {
#define WR(DT, T)                                                                                                  \
    case DT:                                                                                                       \
        for (int64_t i = 0; i < m; i++) ((T *)y)[i0 + i] = (T)b[i];                                                \
        break;
        WR(KILN_INT8, int8_t) WR(KILN_UINT8, uint8_t) WR(KILN_INT16, int16_t) WR(KILN_UINT16, uint16_t)
        WR(KILN_INT32, int32_t) WR(KILN_UINT32, uint32_t) WR(KILN_INT64, int64_t) WR(KILN_UINT64, uint64_t)
#undef WR
    case KILN_INT4:
        for (int64_t i = 0; i < m; i++) ((int8_t *)y)[i0 + i] = (int8_t)((int)((b[i] & 0xf) ^ 0x8) - 0x8);
        break;
    case KILN_UINT4:
        for (int64_t i = 0; i < m; i++) ((uint8_t *)y)[i0 + i] = (uint8_t)(b[i] & 0xf);
        break;
    case KILN_INT2:
        for (int64_t i = 0; i < m; i++) ((int8_t *)y)[i0 + i] = (int8_t)((int)((b[i] & 0x3) ^ 0x2) - 0x2);
        break;
    case KILN_UINT2:
        for (int64_t i = 0; i < m; i++) ((uint8_t *)y)[i0 + i] = (uint8_t)(b[i] & 0x3);
        break;
    default: break;
    }
}

typedef struct cast_job {
    kiln_dtype from, to;
    const void *x;
    void *y;
    int saturate;
    ew_e8m0_round round_mode;
    float lut[256];
} cast_job;

static void write_floats(const cast_job *j, int64_t i0, int64_t m, const double *v) {
    void *y = j->y;
    switch (j->to) {
    case KILN_FLOAT:
        for (int64_t i = 0; i < m; i++) ((float *)y)[i0 + i] = (float)v[i];
        break;
    case KILN_DOUBLE: memcpy((double *)y + i0, v, sizeof(double) * (size_t)m); break;
    case KILN_FLOAT16:
        if (j->from == KILN_FLOAT) /* exact in float: the faster single-precision rounding is the same */
            for (int64_t i = 0; i < m; i++) ((uint16_t *)y)[i0 + i] = kiln_float_to_half((float)v[i]);
        else
            for (int64_t i = 0; i < m; i++) ((uint16_t *)y)[i0 + i] = ew_half_from_double(v[i]);
        break;
    case KILN_BFLOAT16:
        if (j->from == KILN_FLOAT)
            for (int64_t i = 0; i < m; i++) ((uint16_t *)y)[i0 + i] = kiln_float_to_bf16((float)v[i]);
        else
            for (int64_t i = 0; i < m; i++) ((uint16_t *)y)[i0 + i] = ew_bf16_from_double(v[i]);
        break;
    case KILN_BOOL:
        for (int64_t i = 0; i < m; i++) ((uint8_t *)y)[i0 + i] = v[i] != 0;
        break;
    default:
        if (ew_mf_is_minifloat(j->to)) {
            for (int64_t i = 0; i < m; i++)
                ((uint8_t *)y)[i0 + i] = ew_mf_from_double(j->to, v[i], j->saturate, j->round_mode);
        } else {
            uint64_t b[EW_TILE];
            for (int64_t i = 0; i < m; i++) b[i] = f2bits(v[i]);
            store_bits(j->to, y, i0, m, b);
        }
        break;
    }
}

static void write_ints(const cast_job *j, int64_t i0, int64_t m, const int64_t *v) {
    void *y = j->y;
    const int from_u64 = j->from == KILN_UINT64;
    switch (j->to) {
    case KILN_FLOAT:
        for (int64_t i = 0; i < m; i++)
            ((float *)y)[i0 + i] = from_u64 ? (float)(uint64_t)v[i] : (float)v[i];
        break;
    case KILN_BOOL:
        for (int64_t i = 0; i < m; i++) ((uint8_t *)y)[i0 + i] = v[i] != 0;
        break;
    default:
        if (is_intlike(j->to)) {
            store_bits(j->to, y, i0, m, (const uint64_t *)v);
        } else {
            double d[EW_TILE];
            for (int64_t i = 0; i < m; i++) d[i] = from_u64 ? (double)(uint64_t)v[i] : (double)v[i];
            write_floats(j, i0, m, d);
        }
        break;
    }
}

/* Direct loops between the native C types (bool read as its 0/1 byte), without the tile. */
#define CAST_TYPES(X, A)                                                                                           \
    X(A, KILN_INT8, int8_t) X(A, KILN_INT16, int16_t) X(A, KILN_INT32, int32_t) X(A, KILN_INT64, int64_t)            \
    X(A, KILN_UINT8, uint8_t) X(A, KILN_UINT16, uint16_t) X(A, KILN_UINT32, uint32_t)                              \
    X(A, KILN_UINT64, uint64_t) X(A, KILN_FLOAT, float) X(A, KILN_DOUBLE, double)
/* The same list again: a macro cannot expand inside its own expansion, and the pairs need two nested lists. */
#define CAST_TYPES_TO(X, A)                                                                                        \
    X(A, KILN_INT8, int8_t) X(A, KILN_INT16, int16_t) X(A, KILN_INT32, int32_t) X(A, KILN_INT64, int64_t)            \
    X(A, KILN_UINT8, uint8_t) X(A, KILN_UINT16, uint16_t) X(A, KILN_UINT32, uint32_t)                              \
    X(A, KILN_UINT64, uint64_t) X(A, KILN_FLOAT, float) X(A, KILN_DOUBLE, double)
/* (T)0.5 != 0 tells float types from integers at compile time; float -> integer goes through f2bits. */
#define CAST_LOOP(FT, TDT, TT)                                                                                     \
    EW_CLONES static void cast_##FT##_##TT(const void *x, void *y, int64_t b, int64_t e) {                         \
        const FT *s = x;                                                                                           \
        TT *d = y;                                                                                                 \
        for (int64_t i = b; i < e; i++)                                                                            \
            d[i] = ((FT)0.5 != 0 && (TT)0.5 == 0) ? (TT)f2bits((double)s[i]) : (TT)s[i];                           \
    }
#define CAST_FROM(A, FDT, FT) CAST_TYPES_TO(CAST_LOOP, FT)
CAST_TYPES(CAST_FROM, 0)
#define CAST_TO_BOOL(A, FDT, FT)                                                                                   \
    EW_CLONES static void cast_##FT##_bool(const void *x, void *y, int64_t b, int64_t e) {                         \
        const FT *s = x;                                                                                           \
        uint8_t *d = y;                                                                                            \
        for (int64_t i = b; i < e; i++) d[i] = s[i] != 0;                                                          \
    }
CAST_TYPES(CAST_TO_BOOL, 0)

typedef void (*cast_fn)(const void *x, void *y, int64_t b, int64_t e);

static int cast_direct(kiln_dtype from, kiln_dtype to, const void *x, void *y, int64_t b, int64_t e) {
    if (from == KILN_BOOL) from = KILN_UINT8;
    cast_fn fn = NULL;
    switch (from) {
#define CAST_CASE_TO(FT, TDT, TT)                                                                                  \
    case TDT: fn = cast_##FT##_##TT; break;
#define CAST_CASE_FROM(A, FDT, FT)                                                                                 \
    case FDT:                                                                                                      \
        switch (to) {                                                                                              \
            CAST_TYPES_TO(CAST_CASE_TO, FT)                                                                        \
        case KILN_BOOL: fn = cast_##FT##_bool; break;                                                              \
        default: break;                                                                                            \
        }                                                                                                          \
        break;
        CAST_TYPES(CAST_CASE_FROM, 0)
    default: break;
    }
    if (!fn) return 0;
    fn(x, y, b, e);
    return 1;
}

static void cast_range(void *c, int64_t b, int64_t e) {
    const cast_job *j = c;
    if (j->from == KILN_FLOAT && (j->to == KILN_FLOAT16 || j->to == KILN_BFLOAT16)) { /* common in models */
        ew_float_to_half(j->to, (const float *)j->x + b, (uint16_t *)j->y + b, e - b);
        return;
    }
    if ((j->from == KILN_FLOAT16 || j->from == KILN_BFLOAT16) && j->to == KILN_FLOAT) {
        ew_half_to_float(j->from, (const uint16_t *)j->x + b, (float *)j->y + b, e - b);
        return;
    }
    if (cast_direct(j->from, j->to, j->x, j->y, b, e)) return;
    for (int64_t i = b; i < e; i += EW_TILE) {
        int64_t m = e - i < EW_TILE ? e - i : EW_TILE;
        if (is_intlike(j->from)) {
            int64_t t[EW_TILE];
            read_ints(j->from, j->x, i, m, t);
            write_ints(j, i, m, t);
        } else {
            double t[EW_TILE];
            read_floats(j->from, j->x, i, m, t, j->lut);
            write_floats(j, i, m, t);
        }
    }
}

/* ---------------------------------------------------------------- strings --------------------------------------- */

/* numpy's str() of a float: the shortest digits that read back as the same value of the source type, positional
 * for 1e-4 <= |v| < 10^k (k = 3 for float16, 6 for float, 16 for double), scientific with a two-digit exponent
 * otherwise; "nan", "inf", "-inf". */
static int round_trips(kiln_dtype t, const char *s, double v) {
    double r = strtod(s, NULL);
    switch (t) {
    case KILN_DOUBLE: return r == v;
    case KILN_FLOAT16: return ew_half_from_double(r) == ew_half_from_double(v);
    case KILN_BFLOAT16: return ew_bf16_from_double(r) == ew_bf16_from_double(v);
    default: return (float)r == (float)v;
    }
}

static void format_float(kiln_dtype t, double v, char *out, size_t n) {
    if (isnan(v)) {
        snprintf(out, n, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, v < 0 ? "-inf" : "inf");
        return;
    }
    if (v == 0) {
        snprintf(out, n, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    char sci[64];
    int maxp = t == KILN_DOUBLE ? 17 : 9;
    for (int p = 1; p <= maxp; p++) {
        snprintf(sci, sizeof sci, "%.*e", p - 1, v);
        if (round_trips(t, sci, v)) break;
    }
    /* sci = [-]d[.ddd]e[+-]XX: collect digits and exponent */
    char digits[32];
    int nd = 0, neg = sci[0] == '-';
    const char *q = sci + neg;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9') digits[nd++] = *q;
    int ex = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    double hi = t == KILN_DOUBLE ? 1e16 : t == KILN_FLOAT16 ? 1e3 : 1e6, a = fabs(v);
    size_t o = 0;
    if (neg) out[o++] = '-';
    if (a >= 1e-4 && a < hi) {
        if (ex >= 0) {
            for (int i = 0; i <= ex; i++) out[o++] = i < nd ? digits[i] : '0';
            out[o++] = '.';
            if (nd > ex + 1)
                for (int i = ex + 1; i < nd; i++) out[o++] = digits[i];
            else
                out[o++] = '0';
        } else {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -ex - 1; i++) out[o++] = '0';
            for (int i = 0; i < nd; i++) out[o++] = digits[i];
        }
        out[o] = 0;
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++) out[o++] = digits[i];
        }
        snprintf(out + o, n - o, "e%c%02d", ex < 0 ? '-' : '+', ex < 0 ? -ex : ex);
    }
}

static kiln_status to_strings(const cast_job *j, kiln_tensor *y, int64_t n) {
    char buf[64];
    for (int64_t i = 0; i < n; i++) {
        if (j->from == KILN_STRING) {
            const char *s = ((const char *const *)j->x)[i];
            if (!s) s = "";
            KILN_TRY(kiln_tensor_set_string(y, i, s, strlen(s)));
            continue;
        }
        if (j->from == KILN_BOOL) {
            snprintf(buf, sizeof buf, ((const uint8_t *)j->x)[i] ? "True" : "False");
        } else if (is_intlike(j->from)) {
            int64_t v = 0;
            read_ints(j->from, j->x, i, 1, &v);
            if (j->from == KILN_UINT64)
                snprintf(buf, sizeof buf, "%llu", (unsigned long long)(uint64_t)v);
            else
                snprintf(buf, sizeof buf, "%lld", (long long)v);
        } else {
            double v = 0;
            read_floats(j->from, j->x, i, 1, &v, j->lut);
            format_float(j->from, v, buf, sizeof buf);
        }
        KILN_TRY(kiln_tensor_set_string(y, i, buf, strlen(buf)));
    }
    return KILN_OK;
}

/* Parses s as an integer when the target is an integer type and s is one (exact for 64-bit values), else as a
 * double (strtod accepts "1e-5", "INF", "+inf", "-INF", "NaN" in any case). Returns 1 when *iv holds the value. */
static int parse_number(const char *s, int want_int, int64_t *iv, double *dv) {
    char *end;
    while (*s == ' ' || *s == '\t') s++;
    if (want_int) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end != s && *end == 0 && errno == 0) {
            *iv = v;
            return 1;
        }
        errno = 0;
        unsigned long long u = strtoull(s, &end, 10);
        if (end != s && *end == 0 && errno == 0 && *s != '-') {
            *iv = (int64_t)u;
            return 1;
        }
    }
    double d = strtod(s, &end);
    if (end == s) { /* not a number: "true"/"false" for bools, else undefined (NaN) */
        d = !strcasecmp(s, "true") ? 1.0 : !strcasecmp(s, "false") ? 0.0 : NAN;
    }
    *dv = d;
    return 0;
}

static void from_strings(cast_job *j, int64_t n) {
    const kiln_dtype to = j->to;
    for (int64_t i = 0; i < n; i++) {
        const char *s = ((const char *const *)j->x)[i];
        int64_t iv;
        double dv;
        if (parse_number(s ? s : "", kiln_dtype_is_int(to), &iv, &dv)) {
            j->from = to == KILN_UINT64 ? KILN_UINT64 : KILN_INT64;
            write_ints(j, i, 1, &iv);
        } else {
            j->from = KILN_DOUBLE;
            write_floats(j, i, 1, &dv);
        }
    }
    j->from = KILN_STRING;
}

/* ---------------------------------------------------------------- entry points ---------------------------------- */

kiln_status ew_cast_tensor(const kiln_tensor *x, kiln_tensor *y, int saturate, ew_e8m0_round round_mode) {
    kiln_dtype from = x->dtype, to = y->dtype;
    KILN_FAIL_IF(from == KILN_COMPLEX64 || from == KILN_COMPLEX128 || !kiln_dtype_is_valid(from),
                 KILN_ERR_UNSUPPORTED, "Cast: input dtype %s is not supported", kiln_dtype_name(from));
    KILN_FAIL_IF(to == KILN_COMPLEX64 || to == KILN_COMPLEX128 || !kiln_dtype_is_valid(to), KILN_ERR_UNSUPPORTED,
                 "Cast: target dtype %s is not supported", kiln_dtype_name(to));
    int64_t n = kiln_tensor_numel(x);
    cast_job *j = malloc(sizeof *j);
    KILN_FAIL_IF(!j, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *j = (cast_job){from, to, x->data, y->data, saturate, round_mode, {0}};
    if (ew_mf_is_minifloat(from)) ew_mf_table(from, j->lut);
    kiln_status st = KILN_OK;
    if (to == KILN_STRING) {
        st = to_strings(j, y, n);
    } else if (from == KILN_STRING) {
        from_strings(j, n);
    } else if (from == to) {
        memcpy(y->data, x->data, kiln_tensor_nbytes(x));
    } else {
        ew_parallel(n, cast_range, j);
    }
    free(j);
    return st;
}

/* Cast before opset 6 took the TensorProto.DataType name ("FLOAT", "INT64", ...). 0 when unknown. */
static int64_t dtype_from_name(const char *s) {
    static const struct {
        const char *name;
        kiln_dtype t;
    } names[] = {{"FLOAT", KILN_FLOAT},   {"UINT8", KILN_UINT8},   {"INT8", KILN_INT8},       {"UINT16", KILN_UINT16},
                 {"INT16", KILN_INT16},   {"INT32", KILN_INT32},   {"INT64", KILN_INT64},     {"STRING", KILN_STRING},
                 {"BOOL", KILN_BOOL},     {"FLOAT16", KILN_FLOAT16}, {"DOUBLE", KILN_DOUBLE}, {"UINT32", KILN_UINT32},
                 {"UINT64", KILN_UINT64}, {"BFLOAT16", KILN_BFLOAT16}};
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(s, names[i].name)) return names[i].t;
    return 0;
}

static kiln_status cast_prepare(const kiln_node *node, const kiln_graph *graph, void **params) {
    (void)graph;
    cast_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    const kiln_attr *ta = kiln_node_attr(node, "to"); /* opset 1-5 named the type */
    int64_t to = ta && ta->type == KILN_ATTR_STRING ? dtype_from_name(ta->s) : kiln_attr_int(node, "to", 0);
    p->saturate = kiln_attr_int(node, "saturate", 1) != 0;
    const char *rm = kiln_attr_string(node, "round_mode", "up");
    p->round_mode = !strcmp(rm, "down") ? EW_E8M0_DOWN : !strcmp(rm, "nearest") ? EW_E8M0_NEAREST : EW_E8M0_UP;
    kiln_status st = KILN_OK;
    if (strcmp(rm, "up") && strcmp(rm, "down") && strcmp(rm, "nearest"))
        st = kiln_error(KILN_ERR_INVALID_GRAPH, "%s: round_mode must be up, down or nearest, got '%s'",
                        node->op_type, rm);
    if (!strcmp(node->op_type, "CastLike")) {
        p->to = KILN_UNDEFINED;
    } else if (!kiln_dtype_is_valid((int)to) || to == KILN_COMPLEX64 || to == KILN_COMPLEX128) {
        st = kiln_error(KILN_ERR_UNSUPPORTED, "%s: unsupported target dtype %lld", node->op_type, (long long)to);
    } else if (!strcmp(node->op_type, "BitCast") && to == KILN_STRING) {
        st = kiln_error(KILN_ERR_UNSUPPORTED, "BitCast: strings have no bit pattern to reinterpret");
    } else {
        p->to = (kiln_dtype)to;
    }
    if (st != KILN_OK) {
        free(p);
        return st;
    }
    *params = p;
    return KILN_OK;
}

static kiln_status cast_run(kiln_kctx *k) {
    const cast_params *p = k->params;
    const kiln_tensor *x;
    kiln_tensor *y;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    kiln_dtype to = p->to;
    if (to == KILN_UNDEFINED) { /* CastLike */
        const kiln_tensor *like;
        KILN_TRY(kiln_kin_req(k, 1, &like));
        to = like->dtype;
    }
    KILN_TRY(kiln_kout(k, 0, to, x->rank, x->dims, &y));
    return ew_cast_tensor(x, y, p->saturate, p->round_mode);
}

/* BitCast: same bit width in ONNX's wire form; sub-byte values are stored unpacked, so keep the low bits and
 * re-extend them for the target's signedness. */
static kiln_status bitcast_run(kiln_kctx *k) {
    const cast_params *p = k->params;
    const kiln_tensor *x;
    kiln_tensor *y;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    kiln_dtype from = x->dtype, to = p->to;
    KILN_FAIL_IF(from == KILN_STRING, KILN_ERR_UNSUPPORTED, "BitCast: strings have no bit pattern to reinterpret");
    int bits = kiln_dtype_wire_bits(from);
    KILN_FAIL_IF(bits != kiln_dtype_wire_bits(to), KILN_ERR_TYPE,
                 "BitCast: %s (%d bits) and %s (%d bits) differ in width", kiln_dtype_name(from), bits,
                 kiln_dtype_name(to), kiln_dtype_wire_bits(to));
    KILN_TRY(kiln_kout(k, 0, to, x->rank, x->dims, &y));
    int64_t n = kiln_tensor_numel(x);
    if (bits >= 8) {
        memcpy(y->data, x->data, kiln_tensor_nbytes(x));
        if (to == KILN_BOOL)
            for (int64_t i = 0; i < n; i++) ((uint8_t *)y->data)[i] = ((uint8_t *)y->data)[i] != 0;
        return KILN_OK;
    }
    const uint8_t *src = x->data;
    uint8_t *dst = y->data;
    unsigned mask = (1u << bits) - 1, sign = 1u << (bits - 1);
    int sext = to == KILN_INT4 || to == KILN_INT2;
    for (int64_t i = 0; i < n; i++) {
        unsigned v = src[i] & mask;
        dst[i] = sext ? (uint8_t)(int8_t)((int)(v ^ sign) - (int)sign) : (uint8_t)v;
    }
    return KILN_OK;
}

const kiln_op_def kiln_cpu_ops_cast[] = {
    {"Cast", "", 1, cast_prepare, free, cast_run},
    {"CastLike", "", 15, cast_prepare, free, cast_run},
    {"BitCast", "", 26, cast_prepare, free, bitcast_run},
    {0},
};
