/* Helpers shared by the robustness tests (test_robust_*.c, test_concurrency.c, test_leak.c): status names, file
 * reading, and a parse -> build -> load -> run pipeline that reports which stage failed and why. */
#ifndef KILN_TEST_ROBUST_UTIL_H
#define KILN_TEST_ROBUST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"

static const char *const robust_status_names[] = {
    "KILN_OK", "KILN_ERR_INVALID_ARGUMENT", "KILN_ERR_IO", "KILN_ERR_PARSE", "KILN_ERR_UNSUPPORTED",
    "KILN_ERR_SHAPE", "KILN_ERR_TYPE", "KILN_ERR_OUT_OF_MEMORY", "KILN_ERR_CORRUPT_PLAN",
    "KILN_ERR_INCOMPATIBLE_PLAN", "KILN_ERR_DEVICE", "KILN_ERR_INTERNAL", "KILN_ERR_RUNTIME",
    "KILN_ERR_INVALID_GRAPH",
};
_Static_assert(sizeof robust_status_names / sizeof robust_status_names[0] == KILN_STATUS_COUNT, "status names");

static inline const char *robust_status_name(kiln_status s) {
    return (unsigned)s < KILN_STATUS_COUNT ? robust_status_names[s] : "(unknown status)";
}

/* -1 when the name is not a status. */
static inline int robust_status_from_name(const char *name) {
    for (int i = 0; i < KILN_STATUS_COUNT; i++)
        if (strcmp(robust_status_names[i], name) == 0) return i;
    return -1;
}

static void robust_quiet_log(void *user, kiln_severity sev, const char *msg) { (void)user, (void)sev, (void)msg; }
static const kiln_logger robust_quiet = {robust_quiet_log, NULL};

/* Whole file into a malloc'd buffer (64-byte aligned, as a mapped plan would be); NULL when unreadable. */
static inline uint8_t *robust_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = n >= 0 ? aligned_alloc(64, ((size_t)n + 64) / 64 * 64) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) *size = (size_t)n;
    return buf;
}

typedef enum robust_stage { STAGE_PARSE = 0, STAGE_BUILD, STAGE_LOAD, STAGE_CONTEXT, STAGE_RUN, STAGE_OK } robust_stage;
static const char *const robust_stage_names[] = {"parse", "build", "load", "context", "run", "ok"};

/* What happened to one model: the first stage that failed (STAGE_OK when none), its status and message. */
typedef struct robust_outcome {
    robust_stage stage;
    kiln_status status;
    char msg[1024];
    int n_parser_errors;
} robust_outcome;

static void robust_fail_at(robust_outcome *o, robust_stage st, kiln_status s, const void *h) {
    o->stage = st;
    o->status = s;
    snprintf(o->msg, sizeof o->msg, "%s", kiln_last_error(h));
}

/* Binds every input of the context: tensors zero-filled at the profile's opt shape, sequences empty, optionals
 * None. Buffers go to bufs[] (freed by the caller). */
static inline kiln_status robust_bind_zeros(kiln_engine *e, kiln_context *ctx, void **bufs, int *n_bufs) {
    for (int i = 0; i < kiln_engine_io_count(e); i++) {
        const char *name = kiln_engine_io_name(e, i);
        kiln_io_mode mode;
        kiln_value_kind kind;
        kiln_dtype dt;
        int rank;
        int64_t dims[KILN_MAX_DIMS];
        kiln_status s = kiln_engine_io_info(e, name, &mode, &kind, &dt, &rank, dims);
        if (s != KILN_OK) return s;
        if (mode != KILN_IO_INPUT) continue;
        if (kind == KILN_KIND_SEQUENCE) {
            s = kiln_context_set_input_sequence(ctx, name, NULL, 0, dt == KILN_UNDEFINED ? KILN_FLOAT : dt);
        } else if (kind == KILN_KIND_OPTIONAL) {
            s = kiln_context_set_input_none(ctx, name);
        } else {
            s = kiln_engine_profile_shape(e, name, KILN_PROFILE_OPT, &rank, dims);
            if (s == KILN_OK) s = kiln_context_set_input_shape(ctx, name, rank, dims);
            size_t bytes = kiln_dtype_size(dt);
            for (int d = 0; d < rank; d++) bytes *= (size_t)dims[d];
            void *buf = s == KILN_OK ? calloc(1, bytes + 1) : NULL;
            if (buf) bufs[(*n_bufs)++] = buf;
            if (s == KILN_OK) s = kiln_context_set_tensor_address(ctx, name, buf, bytes);
        }
        if (s != KILN_OK) return s;
    }
    return KILN_OK;
}

/* parse (file or memory) -> build -> deserialize -> context -> run with zero inputs. */
static inline void robust_pipeline(const char *path, const void *data, size_t size, robust_outcome *o) {
    memset(o, 0, sizeof *o);
    kiln_builder *b = NULL;
    kiln_network *net = NULL;
    kiln_onnx_parser *p = NULL;
    kiln_config *cfg = NULL;
    kiln_blob *blob = NULL;
    kiln_runtime *rt = NULL;
    kiln_engine *e = NULL;
    kiln_context *ctx = NULL;
    void *bufs[64];
    int n_bufs = 0;
    kiln_builder_create(&robust_quiet, &b);
    kiln_network_create(b, &net);
    kiln_onnx_parser_create(net, &p);
    kiln_status s = path ? kiln_onnx_parse_file(p, path) : kiln_onnx_parse_memory(p, data, size, NULL);
    o->n_parser_errors = kiln_onnx_parser_error_count(p);
    if (s != KILN_OK) {
        robust_fail_at(o, STAGE_PARSE, s, p);
        goto done;
    }
    kiln_config_create(b, &cfg);
    kiln_config_set_backend(cfg, KILN_BACKEND_CPU); /* the reference backend, GPU or not */
    if ((s = kiln_build_serialized(b, net, cfg, &blob)) != KILN_OK) {
        robust_fail_at(o, STAGE_BUILD, s, b);
        goto done;
    }
    kiln_runtime_create(&robust_quiet, &rt);
    if ((s = kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e)) != KILN_OK) {
        robust_fail_at(o, STAGE_LOAD, s, rt);
        goto done;
    }
    if ((s = kiln_context_create(e, &ctx)) != KILN_OK) {
        robust_fail_at(o, STAGE_CONTEXT, s, e);
        goto done;
    }
    if (kiln_engine_io_count(e) > 64) {
        robust_fail_at(o, STAGE_RUN, KILN_ERR_UNSUPPORTED, NULL);
        snprintf(o->msg, sizeof o->msg, "test helper: more than 64 inputs and outputs");
        goto done;
    }
    if ((s = robust_bind_zeros(e, ctx, bufs, &n_bufs)) != KILN_OK) {
        robust_fail_at(o, STAGE_RUN, s, NULL); /* the failing call may have been on the engine or the context */
        goto done;
    }
    if ((s = kiln_context_execute(ctx)) != KILN_OK) {
        robust_fail_at(o, STAGE_RUN, s, ctx);
        goto done;
    }
    o->stage = STAGE_OK;
    o->status = KILN_OK;
done:
    kiln_context_destroy(ctx);
    for (int i = 0; i < n_bufs; i++) free(bufs[i]);
    kiln_engine_destroy(e);
    kiln_runtime_destroy(rt);
    kiln_blob_destroy(blob);
    kiln_config_destroy(cfg);
    kiln_onnx_parser_destroy(p);
    kiln_network_destroy(net);
    kiln_builder_destroy(b);
}

#endif
