/* Fuzz target: plan bytes -> kiln_engine_deserialize -> (when it loads) every engine query, a context, and one
 * execution with zero-filled inputs.
 *
 * Each input runs twice: as given (header, size and checksum checks), and with the header's file size and the
 * CRC32C trailer recomputed, so that mutations reach the section decoder and the executor instead of all dying at
 * the checksum. */
#include "fuzz_common.h"
#include "plan/format.h"
#include "plan/plan.h"

/* Inputs bigger than this are left unbound (the run then fails cleanly): keeps each execution quick. */
#define MAX_INPUT_BYTES (1u << 20)

static void bind_zero_input(kiln_engine *e, kiln_context *ctx, const char *name, void **bufs, int *n_bufs) {
    kiln_io_mode mode;
    kiln_value_kind kind;
    kiln_dtype dt;
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    kiln_status s = kiln_engine_io_info(e, name, &mode, &kind, &dt, &rank, dims);
    FUZZ_REQUIRE(s == KILN_OK, "io_info('%s') of a listed input: %s", name, kiln_last_error(e));
    if (kind == KILN_KIND_SEQUENCE) {
        s = kiln_context_set_input_sequence(ctx, name, NULL, 0, dt == KILN_UNDEFINED ? KILN_FLOAT : dt);
        fuzz_check_failure(s, ctx, "set_input_sequence");
        return;
    }
    if (kind == KILN_KIND_OPTIONAL) {
        fuzz_check_failure(kiln_context_set_input_none(ctx, name), ctx, "set_input_none");
        return;
    }
    int prank;
    int64_t pdims[KILN_MAX_DIMS];
    if (kiln_engine_profile_shape(e, name, KILN_PROFILE_OPT, &prank, pdims) != KILN_OK) return;
    s = kiln_context_set_input_shape(ctx, name, prank, pdims);
    fuzz_check_failure(s, ctx, "set_input_shape");
    if (s != KILN_OK) return;
    size_t es = kiln_dtype_size(dt), bytes = es;
    for (int d = 0; d < prank; d++) {
        if (pdims[d] && bytes > MAX_INPUT_BYTES / (size_t)pdims[d]) return;
        bytes *= (size_t)pdims[d];
    }
    if (bytes > MAX_INPUT_BYTES || dt == KILN_STRING) return;
    void *buf = calloc(1, bytes ? bytes : 1);
    if (!buf) return;
    bufs[(*n_bufs)++] = buf;
    fuzz_check_failure(kiln_context_set_tensor_address(ctx, name, buf, bytes), ctx, "set_tensor_address");
}

static void exercise(kiln_engine *e) {
    int n_io = kiln_engine_io_count(e);
    FUZZ_REQUIRE(n_io >= 0, "io_count %d", n_io);
    for (int i = 0; i < kiln_engine_layer_count(e); i++)
        FUZZ_REQUIRE(kiln_engine_layer_info(e, i) != NULL, "layer %d has no info", i);
    kiln_context *ctx = NULL;
    kiln_status s = kiln_context_create(e, &ctx);
    fuzz_check_failure(s, e, "kiln_context_create");
    if (s != KILN_OK) return;
    void **bufs = calloc((size_t)n_io + 1, sizeof *bufs);
    int n_bufs = 0;
    FUZZ_REQUIRE(bufs, "out of memory");
    for (int i = 0; i < n_io; i++) {
        const char *name = kiln_engine_io_name(e, i);
        FUZZ_REQUIRE(name, "io %d has no name", i);
        kiln_io_mode mode;
        FUZZ_REQUIRE(kiln_engine_io_info(e, name, &mode, NULL, NULL, NULL, NULL) == KILN_OK, "io_info '%s'", name);
        if (mode == KILN_IO_INPUT) bind_zero_input(e, ctx, name, bufs, &n_bufs);
    }
    s = kiln_context_execute(ctx);
    fuzz_check_failure(s, ctx, "kiln_context_execute");
    for (int i = 0; i < n_io; i++) {
        const char *name = kiln_engine_io_name(e, i);
        kiln_io_mode mode;
        kiln_engine_io_info(e, name, &mode, NULL, NULL, NULL, NULL);
        if (mode != KILN_IO_OUTPUT) continue;
        kiln_value_kind kind;
        kiln_tensor_view tv;
        kiln_status g = kiln_context_get_output(ctx, name, &kind, &tv);
        FUZZ_REQUIRE((g == KILN_OK) == (s == KILN_OK), "get_output('%s') -> %d after execute -> %d", name, (int)g,
                     (int)s);
        if (g == KILN_OK && kind == KILN_KIND_TENSOR && tv.size_bytes) {
            /* Touch the first and last byte so a view that points nowhere shows up under ASan. */
            volatile uint8_t sink = ((const uint8_t *)tv.data)[0];
            sink ^= ((const uint8_t *)tv.data)[tv.size_bytes - 1];
            (void)sink;
        }
    }
    kiln_context_destroy(ctx);
    for (int i = 0; i < n_bufs; i++) free(bufs[i]);
    free(bufs);
}

static void load_and_run(const uint8_t *data, size_t size) {
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    FUZZ_REQUIRE(kiln_runtime_create(&fuzz_quiet_logger, &rt) == KILN_OK, "kiln_runtime_create");
    kiln_status s = kiln_engine_deserialize(rt, data, size, &e);
    fuzz_check_failure(s, rt, "kiln_engine_deserialize");
    FUZZ_REQUIRE((s == KILN_OK) == (e != NULL), "status %d with engine %p", (int)s, (void *)e);
    if (s == KILN_OK) exercise(e);
    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load_and_run(data, size);
    if (size < PLAN_HEADER_FIXED + PLAN_TRAILER || memcmp(data, KILN_PLAN_MAGIC, 8) != 0) return 0;
    /* 64-byte aligned, as blobs and mappings are, so weights are used in place as in production. */
    size_t cap = (size + 63) / 64 * 64;
    uint8_t *fixed = aligned_alloc(64, cap);
    FUZZ_REQUIRE(fixed, "out of memory");
    memcpy(fixed, data, size);
    plan_put_u64(fixed + PLAN_OFF_FILE_SIZE, size);
    plan_put_u32(fixed + size - PLAN_TRAILER, kiln_crc32c(0, fixed, size - PLAN_TRAILER));
    load_and_run(fixed, size);
    free(fixed);
    return 0;
}
