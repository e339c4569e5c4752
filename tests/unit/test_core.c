/* Core helpers: dtype conversions, broadcasting, tensors, status text. */
#include <string.h>

#include "check.h"
#include "core/broadcast.h"
#include "core/dtype.h"
#include "core/parallel.h"
#include "core/status.h"
#include "core/tensor.h"

static void sum_range(void *ctx, int64_t b, int64_t e) {
    int64_t *out = ctx;
    for (int64_t i = b; i < e; i++) out[i] = i * 2;
}

int main(void) {
    /* half: exact values, rounding, subnormals, inf */
    CHECK(kiln_half_to_float(kiln_float_to_half(1.0f)) == 1.0f);
    CHECK(kiln_half_to_float(kiln_float_to_half(-2.5f)) == -2.5f);
    CHECK(kiln_half_to_float(kiln_float_to_half(65504.0f)) == 65504.0f);
    CHECK(isinf(kiln_half_to_float(kiln_float_to_half(70000.0f))));
    CHECK(kiln_half_to_float(kiln_float_to_half(5.9604645e-8f)) == 5.9604645e-8f);
    CHECK(kiln_float_to_half(1.0f + 1.0f / 4096.0f) == 0x3c00); /* ties to even */
    for (uint32_t h = 0; h < 0x7c00; h++) CHECK(kiln_float_to_half(kiln_half_to_float((uint16_t)h)) == h);
    CHECK(kiln_bf16_to_float(kiln_float_to_bf16(3.0f)) == 3.0f);
    CHECK(isnan(kiln_bf16_to_float(kiln_float_to_bf16(NAN))));

    int64_t a[] = {2, 1, 4}, b[] = {3, 1}, out[KILN_MAX_DIMS];
    int r;
    CHECK(kiln_broadcast_shape(3, a, 2, b, &r, out) == KILN_OK);
    CHECK(r == 3 && out[0] == 2 && out[1] == 3 && out[2] == 4);
    int64_t c[] = {5};
    CHECK(kiln_broadcast_shape(3, a, 1, c, &r, out) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_error_text(), "[2,1,4]") != NULL);
    int64_t s[3];
    int64_t full[] = {2, 3, 4};
    kiln_broadcast_strides(3, a, 3, full, s);
    CHECK(s[0] == 4 && s[1] == 0 && s[2] == 1);

    kiln_tensor t = {0};
    int64_t d[] = {2, 3};
    CHECK(kiln_tensor_alloc(&t, KILN_FLOAT, 2, d) == KILN_OK);
    CHECK(kiln_tensor_nbytes(&t) == 24);
    int64_t huge[] = {INT64_MAX / 2, 4};
    CHECK(kiln_tensor_alloc(&t, KILN_FLOAT, 2, huge) == KILN_ERR_SHAPE);
    kiln_tensor_release(&t);
    CHECK(kiln_tensor_alloc(&t, KILN_STRING, 1, d) == KILN_OK);
    CHECK(kiln_tensor_set_string(&t, 1, "abc", 3) == KILN_OK);
    CHECK(strcmp(((char **)t.data)[1], "abc") == 0);
    kiln_tensor_release(&t);

    CHECK(strcmp(kiln_status_string(KILN_ERR_CORRUPT_PLAN), "corrupt plan") == 0);

    int64_t buf[10000];
    kiln_parallel_for(10000, 16, sum_range, buf);
    int ok = 1;
    for (int i = 0; i < 10000; i++) ok &= buf[i] == i * 2;
    CHECK(ok);
    return CHECK_DONE();
}
