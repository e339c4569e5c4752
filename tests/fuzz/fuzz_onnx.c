/* Fuzz target: ONNX bytes -> kiln_onnx_parse_memory -> (when the import succeeds) kiln_build_serialized ->
 * kiln_engine_deserialize of the plan just built.
 *
 * Invariants beyond "no crash, no leak, no hang": every failure carries a status and a message, a parse that
 * fails leaves a non-empty error list, and a plan kiln itself just built always loads again. */
#include "fuzz_common.h"

static void build_and_reload(kiln_builder *b, kiln_network *net) {
    kiln_config *cfg = NULL;
    kiln_blob *blob = NULL;
    kiln_status s = kiln_config_create(b, &cfg);
    FUZZ_REQUIRE(s == KILN_OK, "kiln_config_create: %s", kiln_last_error(b));
    FUZZ_REQUIRE(kiln_config_set_backend(cfg, KILN_BACKEND_CPU) == KILN_OK, "set_backend");
    s = kiln_build_serialized(b, net, cfg, &blob);
    fuzz_check_failure(s, b, "kiln_build_serialized");
    if (s == KILN_OK) {
        kiln_runtime *rt = NULL;
        kiln_engine *e = NULL;
        FUZZ_REQUIRE(kiln_runtime_create(&fuzz_quiet_logger, &rt) == KILN_OK, "kiln_runtime_create");
        s = kiln_engine_deserialize(rt, kiln_blob_data(blob), kiln_blob_size(blob), &e);
        FUZZ_REQUIRE(s == KILN_OK, "a plan kiln just built does not load: %s", kiln_last_error(rt));
        FUZZ_REQUIRE(kiln_engine_io_count(e) >= 1, "a built engine has no outputs");
        kiln_engine_destroy(e);
        kiln_runtime_destroy(rt);
    }
    kiln_blob_destroy(blob);
    kiln_config_destroy(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kiln_builder *b = NULL;
    kiln_network *net = NULL;
    kiln_onnx_parser *p = NULL;
    FUZZ_REQUIRE(kiln_builder_create(&fuzz_quiet_logger, &b) == KILN_OK, "kiln_builder_create");
    FUZZ_REQUIRE(kiln_network_create(b, &net) == KILN_OK, "kiln_network_create");
    FUZZ_REQUIRE(kiln_onnx_parser_create(net, &p) == KILN_OK, "kiln_onnx_parser_create");
    /* No base directory: external data is refused, so the fuzzer never opens files. */
    kiln_status s = kiln_onnx_parse_memory(p, data, size, NULL);
    fuzz_check_failure(s, p, "kiln_onnx_parse_memory");
    if (s != KILN_OK) {
        int n = kiln_onnx_parser_error_count(p);
        FUZZ_REQUIRE(n >= 1, "the parse failed (%s) with an empty error list", kiln_last_error(p));
        for (int i = 0; i < n; i++) {
            kiln_parser_error pe;
            FUZZ_REQUIRE(kiln_onnx_parser_get_error(p, i, &pe) == KILN_OK, "get_error %d", i);
            FUZZ_REQUIRE(pe.reason && *pe.reason && pe.node_name && pe.op_type, "parser error %d is empty", i);
        }
    } else {
        int ni = -1, no = -1, nn = -1;
        FUZZ_REQUIRE(kiln_network_input_count(net, &ni) == KILN_OK && ni >= 0, "input count");
        FUZZ_REQUIRE(kiln_network_output_count(net, &no) == KILN_OK && no >= 0, "output count");
        FUZZ_REQUIRE(kiln_network_node_count(net, &nn) == KILN_OK && nn >= 0, "node count");
        build_and_reload(b, net);
    }
    kiln_onnx_parser_destroy(p);
    kiln_network_destroy(net); /* before `data` goes away: weights borrow from it */
    kiln_builder_destroy(b);
    return 0;
}
