/* Element types: names, sizes, classes, and scalar conversions between the storage formats. */
#ifndef KILN_CORE_DTYPE_H
#define KILN_CORE_DTYPE_H

#include <stdint.h>

#include "kiln.h"

int kiln_dtype_is_valid(int t);
int kiln_dtype_is_float(kiln_dtype t);    /* any real floating type incl. fp16/bf16/fp8/fp4/fp6 */
int kiln_dtype_is_int(kiln_dtype t);      /* signed or unsigned integer incl. int4/int2 */
int kiln_dtype_is_signed(kiln_dtype t);   /* signed integer */
/* Bits per element in ONNX's packed (wire) form: 4 for INT4/UINT4/FLOAT4E2M1, 2 for INT2/UINT2, 6 for FLOAT6... */
int kiln_dtype_wire_bits(kiln_dtype t);

float kiln_half_to_float(uint16_t h);
uint16_t kiln_float_to_half(float f);        /* round to nearest even */
float kiln_bf16_to_float(uint16_t h);
uint16_t kiln_float_to_bf16(float f);        /* round to nearest even */

/* Reads element i of `data` (of type t) as double / writes it from double (saturating/rounding as a Cast to t
 * would, for the float formats; ints are truncated toward zero after the caller rounds as needed).
 * Slow generic path: for rare types and reference code, not for hot loops. STRING is not handled. */
double kiln_load_f64(kiln_dtype t, const void *data, int64_t i);
void kiln_store_f64(kiln_dtype t, void *data, int64_t i, double v);
/* Same for 64-bit integers (exact for int64/uint64 where double is not). */
int64_t kiln_load_i64(kiln_dtype t, const void *data, int64_t i);
void kiln_store_i64(kiln_dtype t, void *data, int64_t i, int64_t v);

#endif
