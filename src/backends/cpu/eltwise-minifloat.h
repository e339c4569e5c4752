/* The narrow float formats: FLOAT8 E4M3FN / E4M3FNUZ / E5M2 / E5M2FNUZ, E8M0, FLOAT4E2M1, FLOAT6 E2M3 / E3M2, plus
 * exact (single-rounding) double -> float16 / bfloat16. Stored one element per byte (see include/kiln.h). */
#ifndef KILN_CPU_ELTWISE_MINIFLOAT_H
#define KILN_CPU_ELTWISE_MINIFLOAT_H

#include <stdint.h>

#include "kiln.h"

/* E8M0 rounding (Cast's round_mode attribute). */
typedef enum ew_e8m0_round { EW_E8M0_UP = 0, EW_E8M0_DOWN = 1, EW_E8M0_NEAREST = 2 } ew_e8m0_round;

/* 1 for the 8/6/4-bit float dtypes handled here. */
int ew_mf_is_minifloat(kiln_dtype t);
/* Exact value of byte v of format t (NaN where the format says so). */
float ew_mf_to_float(kiln_dtype t, uint8_t v);
/* Fills lut[256] with ew_mf_to_float(t, v) for every byte. */
void ew_mf_table(kiln_dtype t, float *lut);
/* Nearest value of format t to x, ties to even, with the ONNX Cast rules for NaN, infinities and overflow:
 * `saturate` clamps out-of-range values to the largest finite value (float8 types; the 6/4-bit types always
 * saturate). E8M0 follows `round_mode` (it has no sign: the magnitude's exponent is kept). */
uint8_t ew_mf_from_double(kiln_dtype t, double x, int saturate, ew_e8m0_round round_mode);
/* NaN test on the stored byte. */
int ew_mf_isnan(kiln_dtype t, uint8_t v);
/* +1 for +inf, -1 for -inf, 0 otherwise (only E5M2 has infinities). */
int ew_mf_isinf(kiln_dtype t, uint8_t v);

/* double -> float16 / bfloat16 with one rounding (to nearest even); overflow gives infinity. */
uint16_t ew_half_from_double(double x);
uint16_t ew_bf16_from_double(double x);

#endif
