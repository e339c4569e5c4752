#include "core/dtype.h"

#include <math.h>
#include <string.h>

typedef struct dtype_info {
    const char *name;
    size_t size;
    int wire_bits;
} dtype_info;

static const dtype_info infos[] = {
    [KILN_UNDEFINED] = {"undefined", 0, 0},
    [KILN_FLOAT] = {"float32", 4, 32},
    [KILN_UINT8] = {"uint8", 1, 8},
    [KILN_INT8] = {"int8", 1, 8},
    [KILN_UINT16] = {"uint16", 2, 16},
    [KILN_INT16] = {"int16", 2, 16},
    [KILN_INT32] = {"int32", 4, 32},
    [KILN_INT64] = {"int64", 8, 64},
    [KILN_STRING] = {"string", sizeof(char *), 0},
    [KILN_BOOL] = {"bool", 1, 8},
    [KILN_FLOAT16] = {"float16", 2, 16},
    [KILN_DOUBLE] = {"float64", 8, 64},
    [KILN_UINT32] = {"uint32", 4, 32},
    [KILN_UINT64] = {"uint64", 8, 64},
    [KILN_COMPLEX64] = {"complex64", 8, 64},
    [KILN_COMPLEX128] = {"complex128", 16, 128},
    [KILN_BFLOAT16] = {"bfloat16", 2, 16},
    [KILN_FLOAT8E4M3FN] = {"float8e4m3fn", 1, 8},
    [KILN_FLOAT8E4M3FNUZ] = {"float8e4m3fnuz", 1, 8},
    [KILN_FLOAT8E5M2] = {"float8e5m2", 1, 8},
    [KILN_FLOAT8E5M2FNUZ] = {"float8e5m2fnuz", 1, 8},
    [KILN_UINT4] = {"uint4", 1, 4},
    [KILN_INT4] = {"int4", 1, 4},
    [KILN_FLOAT4E2M1] = {"float4e2m1", 1, 4},
    [KILN_FLOAT8E8M0] = {"float8e8m0", 1, 8},
    [KILN_UINT2] = {"uint2", 1, 2},
    [KILN_INT2] = {"int2", 1, 2},
    [KILN_FLOAT6E2M3] = {"float6e2m3", 1, 6},
    [KILN_FLOAT6E3M2] = {"float6e3m2", 1, 6},
};
_Static_assert(sizeof(infos) / sizeof(infos[0]) == KILN_DTYPE_COUNT, "dtype table must cover every kiln_dtype");

int kiln_dtype_is_valid(int t) { return t > 0 && t < KILN_DTYPE_COUNT; }

const char *kiln_dtype_name(kiln_dtype t) {
    if ((unsigned)t >= KILN_DTYPE_COUNT) return "invalid";
    return infos[t].name;
}

size_t kiln_dtype_size(kiln_dtype t) {
    if ((unsigned)t >= KILN_DTYPE_COUNT) return 0;
    return infos[t].size;
}

int kiln_dtype_wire_bits(kiln_dtype t) {
    if ((unsigned)t >= KILN_DTYPE_COUNT) return 0;
    return infos[t].wire_bits;
}

int kiln_dtype_is_float(kiln_dtype t) {
    switch (t) {
    case KILN_FLOAT: case KILN_DOUBLE: case KILN_FLOAT16: case KILN_BFLOAT16: case KILN_FLOAT8E4M3FN:
    case KILN_FLOAT8E4M3FNUZ: case KILN_FLOAT8E5M2: case KILN_FLOAT8E5M2FNUZ: case KILN_FLOAT4E2M1:
    case KILN_FLOAT8E8M0: case KILN_FLOAT6E2M3: case KILN_FLOAT6E3M2:
        return 1;
    default:
        return 0;
    }
}

int kiln_dtype_is_signed(kiln_dtype t) {
    switch (t) {
    case KILN_INT8: case KILN_INT16: case KILN_INT32: case KILN_INT64: case KILN_INT4: case KILN_INT2:
        return 1;
    default:
        return 0;
    }
}

int kiln_dtype_is_int(kiln_dtype t) {
    switch (t) {
    case KILN_UINT8: case KILN_UINT16: case KILN_UINT32: case KILN_UINT64: case KILN_UINT4: case KILN_UINT2:
        return 1;
    default:
        return kiln_dtype_is_signed(t);
    }
}

float kiln_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400u));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | mant << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | mant << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t kiln_float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((absx >> 13) & 0x3ffu)); /* NaN */
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* overflow after rounding -> inf */
    if (absx < 0x38800000u) { /* result is subnormal or zero */
        if (absx < 0x33000000u) return (uint16_t)sign; /* below half of smallest subnormal */
        uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(absx >> 23); /* 14 + (113 - e) */
        uint32_t r = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = absx - ((127u - 15u) << 23);
    uint32_t out = r >> 13;
    uint32_t rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (out & 1))) out++;
    return (uint16_t)(sign | out);
}

float kiln_bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t kiln_float_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
    uint32_t lsb = (x >> 16) & 1u;
    x += 0x7fffu + lsb;
    return (uint16_t)(x >> 16);
}

/* The 8/6/4-bit float formats live in the Cast kernel family (backends/cpu); the generic load/store paths here
 * cover the types every kernel needs and report the rest as NaN / no-op so callers must check dtype support. */
double kiln_load_f64(kiln_dtype t, const void *data, int64_t i) {
    switch (t) {
    case KILN_FLOAT: return ((const float *)data)[i];
    case KILN_DOUBLE: return ((const double *)data)[i];
    case KILN_FLOAT16: return kiln_half_to_float(((const uint16_t *)data)[i]);
    case KILN_BFLOAT16: return kiln_bf16_to_float(((const uint16_t *)data)[i]);
    case KILN_INT8: case KILN_INT4: case KILN_INT2: return ((const int8_t *)data)[i];
    case KILN_UINT8: case KILN_BOOL: case KILN_UINT4: case KILN_UINT2: return ((const uint8_t *)data)[i];
    case KILN_INT16: return ((const int16_t *)data)[i];
    case KILN_UINT16: return ((const uint16_t *)data)[i];
    case KILN_INT32: return ((const int32_t *)data)[i];
    case KILN_UINT32: return ((const uint32_t *)data)[i];
    case KILN_INT64: return (double)((const int64_t *)data)[i];
    case KILN_UINT64: return (double)((const uint64_t *)data)[i];
    default: return NAN;
    }
}

/* double -> int64 without undefined behaviour: NaN gives 0, out-of-range values saturate (a kernel computing a NaN
 * or an overflow for an integer output must not make the conversion itself undefined). */
static int64_t f64_to_i64(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

void kiln_store_f64(kiln_dtype t, void *data, int64_t i, double v) {
    switch (t) {
    case KILN_FLOAT: ((float *)data)[i] = (float)v; break;
    case KILN_DOUBLE: ((double *)data)[i] = v; break;
    case KILN_FLOAT16: ((uint16_t *)data)[i] = kiln_float_to_half((float)v); break;
    case KILN_BFLOAT16: ((uint16_t *)data)[i] = kiln_float_to_bf16((float)v); break;
    case KILN_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    default: kiln_store_i64(t, data, i, f64_to_i64(v)); break;
    }
}

int64_t kiln_load_i64(kiln_dtype t, const void *data, int64_t i) {
    switch (t) {
    case KILN_INT64: return ((const int64_t *)data)[i];
    case KILN_UINT64: return (int64_t)((const uint64_t *)data)[i];
    case KILN_FLOAT: case KILN_DOUBLE: case KILN_FLOAT16: case KILN_BFLOAT16:
        return (int64_t)kiln_load_f64(t, data, i);
    default: return (int64_t)kiln_load_f64(t, data, i);
    }
}

void kiln_store_i64(kiln_dtype t, void *data, int64_t i, int64_t v) {
    switch (t) {
    case KILN_INT8: case KILN_INT4: case KILN_INT2: ((int8_t *)data)[i] = (int8_t)v; break;
    case KILN_UINT8: case KILN_UINT4: case KILN_UINT2: ((uint8_t *)data)[i] = (uint8_t)v; break;
    case KILN_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    case KILN_INT16: ((int16_t *)data)[i] = (int16_t)v; break;
    case KILN_UINT16: ((uint16_t *)data)[i] = (uint16_t)v; break;
    case KILN_INT32: ((int32_t *)data)[i] = (int32_t)v; break;
    case KILN_UINT32: ((uint32_t *)data)[i] = (uint32_t)v; break;
    case KILN_INT64: ((int64_t *)data)[i] = v; break;
    case KILN_UINT64: ((uint64_t *)data)[i] = (uint64_t)v; break;
    case KILN_FLOAT: case KILN_DOUBLE: case KILN_FLOAT16: case KILN_BFLOAT16:
        kiln_store_f64(t, data, i, (double)v);
        break;
    default: break;
    }
}
