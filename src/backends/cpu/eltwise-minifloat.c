#include "backends/cpu/eltwise-minifloat.h"

#include <math.h>
#include <string.h>

/* How a format spends its top exponent and its sign. */
typedef enum mf_kind {
    MF_IEEE = 0, /* top exponent: mantissa 0 = inf, else NaN (float16, bfloat16, E5M2) */
    MF_FN = 1,   /* no inf; only all-ones exponent+mantissa is NaN (E4M3FN) */
    MF_FNUZ = 2, /* no inf, no -0: the negative-zero pattern is the NaN (E4M3FNUZ, E5M2FNUZ) */
    MF_NONE = 3, /* neither inf nor NaN (FLOAT4E2M1, FLOAT6) */
} mf_kind;

typedef struct mf_fmt {
    int ebits, mbits, bias;
    mf_kind kind;
} mf_fmt;

static const mf_fmt F16 = {5, 10, 15, MF_IEEE};
static const mf_fmt BF16 = {8, 7, 127, MF_IEEE};

static int fmt_of(kiln_dtype t, mf_fmt *f) {
    switch (t) {
    case KILN_FLOAT8E4M3FN: *f = (mf_fmt){4, 3, 7, MF_FN}; return 1;
    case KILN_FLOAT8E4M3FNUZ: *f = (mf_fmt){4, 3, 8, MF_FNUZ}; return 1;
    case KILN_FLOAT8E5M2: *f = (mf_fmt){5, 2, 15, MF_IEEE}; return 1;
    case KILN_FLOAT8E5M2FNUZ: *f = (mf_fmt){5, 2, 16, MF_FNUZ}; return 1;
    case KILN_FLOAT4E2M1: *f = (mf_fmt){2, 1, 1, MF_NONE}; return 1;
    case KILN_FLOAT6E2M3: *f = (mf_fmt){2, 3, 1, MF_NONE}; return 1;
    case KILN_FLOAT6E3M2: *f = (mf_fmt){3, 2, 3, MF_NONE}; return 1;
    default: return 0;
    }
}

int ew_mf_is_minifloat(kiln_dtype t) {
    mf_fmt f;
    return fmt_of(t, &f) || t == KILN_FLOAT8E8M0;
}

static double fmt_max(const mf_fmt *f) {
    int top = (1 << f->ebits) - 1;
    if (f->kind == MF_IEEE) return (2.0 - ldexp(1, -f->mbits)) * ldexp(1, top - 1 - f->bias);
    if (f->kind == MF_FN) return (2.0 - ldexp(1, 1 - f->mbits)) * ldexp(1, top - f->bias);
    return (2.0 - ldexp(1, -f->mbits)) * ldexp(1, top - f->bias);
}

static double decode(const mf_fmt *f, uint32_t v) {
    int sb = f->ebits + f->mbits;
    uint32_t sign = (v >> sb) & 1, e = (v >> f->mbits) & ((1u << f->ebits) - 1), m = v & ((1u << f->mbits) - 1);
    uint32_t top = (1u << f->ebits) - 1;
    if (f->kind == MF_FNUZ && sign && e == 0 && m == 0) return NAN;
    if (f->kind == MF_FN && e == top && m == (1u << f->mbits) - 1) return sign ? -NAN : NAN;
    if (f->kind == MF_IEEE && e == top) return m ? (sign ? -NAN : NAN) : (sign ? -INFINITY : INFINITY);
    double r = e == 0 ? ldexp((double)m, 1 - f->bias - f->mbits)
                      : ldexp(1.0 + ldexp((double)m, -f->mbits), (int)e - f->bias);
    return sign ? -r : r;
}

/* Nearest (ties to even) bits of format f for x. saturate: out-of-range finite values and infinities become the
 * largest finite value instead of inf/NaN. */
static uint32_t encode(const mf_fmt *f, double x, int saturate) {
    int sb = f->ebits + f->mbits;
    uint32_t top = (1u << f->ebits) - 1, sign = signbit(x) ? 1u << sb : 0;
    /* Formats without NaN: the ONNX reference data (ml_dtypes) turns NaN into a zero of the opposite sign (the
     * float4 notes say 6 instead; the test data is what implementations are checked against). */
    uint32_t nan_bits = f->kind == MF_FNUZ ? 1u << sb
                      : f->kind == MF_FN   ? sign | (top << f->mbits) | ((1u << f->mbits) - 1)
                      : f->kind == MF_IEEE ? sign | (top << f->mbits) | (1u << (f->mbits - 1))
                                           : sign ^ (1u << sb);
    double maxv = fmt_max(f);
    uint32_t max_bits = f->kind == MF_IEEE ? ((top - 1) << f->mbits) | ((1u << f->mbits) - 1)
                      : f->kind == MF_FN   ? (top << f->mbits) | ((1u << f->mbits) - 2)
                                           : (top << f->mbits) | ((1u << f->mbits) - 1);
    uint32_t inf_bits = f->kind == MF_IEEE ? sign | (top << f->mbits) : f->kind == MF_NONE ? sign | max_bits
                                                                                       : nan_bits;
    if (isnan(x)) return nan_bits;
    if (f->kind == MF_NONE) saturate = 1;
    double a = fabs(x);
    if (isinf(a)) return saturate ? sign | max_bits : inf_bits;
    if (a == 0) return f->kind == MF_FNUZ ? 0 : sign;
    int emin = 1 - f->bias, e;
    frexp(a, &e);
    e -= 1; /* a = 1.f * 2^e */
    int qexp = (e < emin ? emin : e) - f->mbits;
    double r = ldexp(rint(ldexp(a, -qexp)), qexp); /* exact: scaling by powers of two */
    if (r > maxv) return saturate ? sign | max_bits : inf_bits;
    if (r == 0) return f->kind == MF_FNUZ ? 0 : sign;
    frexp(r, &e);
    e -= 1;
    if (e < emin) return sign | (uint32_t)ldexp(r, f->mbits - emin); /* subnormal */
    uint32_t m = (uint32_t)ldexp(r, f->mbits - e) - (1u << f->mbits);
    return sign | ((uint32_t)(e + f->bias) << f->mbits) | m;
}

float ew_mf_to_float(kiln_dtype t, uint8_t v) {
    if (t == KILN_FLOAT8E8M0) return v == 0xff ? NAN : ldexpf(1.0f, (int)v - 127);
    mf_fmt f;
    if (!fmt_of(t, &f)) return NAN;
    return (float)decode(&f, v);
}

void ew_mf_table(kiln_dtype t, float *lut) {
    for (int v = 0; v < 256; v++) lut[v] = ew_mf_to_float(t, (uint8_t)v);
}

/* Follows the ONNX reference (numpy_helper.to_float8e8m0): works on the float32 bits, keeps the exponent field and
 * rounds on the mantissa; NaN and infinities map to 0xFF. */
static uint8_t e8m0_from_float(float x, int saturate, ew_e8m0_round mode) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    uint32_t e = (bits >> 23) & 0xff;
    if (e == 0xff) return 0xff;
    int up = 0;
    if (mode == EW_E8M0_NEAREST) {
        int g = (bits & 0x400000) != 0, r = (bits & 0x200000) != 0, s = (bits & 0x1fffff) != 0, lsb = e > 0;
        up = g && (r || s || lsb);
    } else if (mode == EW_E8M0_UP) {
        up = (bits & 0x7fffff) != 0;
    }
    if (saturate && e == 0xfe) up = 0;
    return (uint8_t)(e + (uint32_t)up);
}

uint8_t ew_mf_from_double(kiln_dtype t, double x, int saturate, ew_e8m0_round round_mode) {
    if (t == KILN_FLOAT8E8M0) return e8m0_from_float((float)x, saturate, round_mode);
    mf_fmt f;
    if (!fmt_of(t, &f)) return 0;
    return (uint8_t)encode(&f, x, saturate);
}

int ew_mf_isnan(kiln_dtype t, uint8_t v) {
    switch (t) {
    case KILN_FLOAT8E4M3FN: return (v & 0x7f) == 0x7f;
    case KILN_FLOAT8E4M3FNUZ: case KILN_FLOAT8E5M2FNUZ: return v == 0x80;
    case KILN_FLOAT8E5M2: return (v & 0x7f) > 0x7c;
    case KILN_FLOAT8E8M0: return v == 0xff;
    default: return 0;
    }
}

int ew_mf_isinf(kiln_dtype t, uint8_t v) {
    if (t != KILN_FLOAT8E5M2) return 0;
    return v == 0x7c ? 1 : v == 0xfc ? -1 : 0;
}

uint16_t ew_half_from_double(double x) { return (uint16_t)encode(&F16, x, 0); }
uint16_t ew_bf16_from_double(double x) { return (uint16_t)encode(&BF16, x, 0); }
