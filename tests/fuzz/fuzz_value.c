/* Fuzz target: .pb bytes -> kiln_onnx_read_value as a TensorProto, a SequenceProto and an OptionalProto.
 *
 * A value that reads back must also survive a round trip: write it with kiln_onnx_write_value, read that again,
 * and get the same dtype, shape and bytes (a reader that accepts something it then misrepresents is lying). */
#include "core/dtype.h"
#include "core/status.h"
#include "fuzz_common.h"
#include "onnx/value_io.h"

static int same_tensor(const kiln_tensor *a, const kiln_tensor *b) {
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    int64_t n = kiln_tensor_numel(a);
    if (a->dtype == KILN_STRING) {
        for (int64_t i = 0; i < n; i++)
            if (strcmp(((char *const *)a->data)[i], ((char *const *)b->data)[i]) != 0) return 0;
        return 1;
    }
    size_t nb = kiln_tensor_nbytes(a);
    return nb == 0 || memcmp(a->data, b->data, nb) == 0;
}

static int same_value(const kiln_value *a, const kiln_value *b) {
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case KILN_V_TENSOR: return same_tensor(&a->t, &b->t);
    case KILN_V_SEQUENCE:
        if (a->n_items != b->n_items) return 0;
        for (int i = 0; i < a->n_items; i++)
            if (!same_tensor(&a->items[i], &b->items[i])) return 0;
        return 1;
    default: return 1;
    }
}

static void round_trip(const kiln_value *v, kiln_value_kind kind, kiln_dtype hint, const char *name) {
    kiln_pb_buf buf = {0};
    kiln_status s = kiln_onnx_write_value(v, kind, name, &buf);
    fuzz_check_failure(s, NULL, "kiln_onnx_write_value");
    if (s == KILN_OK) {
        kiln_value back = {0};
        char *name2 = NULL;
        s = kiln_onnx_read_value(buf.data, buf.len, kind, hint, &back, &name2);
        FUZZ_REQUIRE(s == KILN_OK, "kind %d: kiln cannot read what it wrote: %s", (int)kind, kiln_error_text());
        FUZZ_REQUIRE(same_value(v, &back), "kind %d: the value changed in a write/read round trip", (int)kind);
        FUZZ_REQUIRE(strcmp(name, name2) == 0, "kind %d: the name changed in a round trip", (int)kind);
        free(name2);
        kiln_value_release(&back);
    }
    kiln_pb_buf_free(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const kiln_value_kind kinds[] = {KILN_KIND_TENSOR, KILN_KIND_SEQUENCE, KILN_KIND_OPTIONAL};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        kiln_value v = {0};
        char *name = NULL;
        kiln_dtype hint = size ? (kiln_dtype)(data[0] % KILN_DTYPE_COUNT) : KILN_UNDEFINED;
        kiln_error_clear();
        kiln_status s = kiln_onnx_read_value(data, size, kinds[k], hint, &v, &name);
        fuzz_check_failure(s, NULL, "kiln_onnx_read_value");
        FUZZ_REQUIRE((s == KILN_OK) == (name != NULL), "status %d but name %p", (int)s, (void *)name);
        if (s == KILN_OK) round_trip(&v, kinds[k], hint, name);
        free(name);
        kiln_value_release(&v);
    }
    return 0;
}
