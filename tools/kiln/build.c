/* kiln build MODEL.onnx -o MODEL.plan: parse, optimize, serialize. */
#include <string.h>

#include "cli.h"

static const char *const build_usage =
    "Usage: kiln build MODEL.onnx -o MODEL.plan [options]\n"
    "\n"
    "Parses an ONNX model, builds an engine for the chosen device and writes the serialized plan.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE        plan file to write (required)\n"
    "  --shapes SPEC            fixed shapes for dynamic inputs: name:1x3x224x224[,name2:...]\n"
    "  --min-shapes SPEC        optimization profile: smallest shapes\n"
    "  --opt-shapes SPEC        optimization profile: shapes to tune for\n"
    "  --max-shapes SPEC        optimization profile: largest shapes\n"
    "  --workspace MiB          scratch memory limit for the builder's tactics\n"
    "  --device cpu|gpu|auto    backend to build for (default auto: the GPU when one is present)\n"
    "  --fp16 | --bf16 | --int8 allow reduced-precision kernels\n"
    "  --verbose, -v            print what the builder does (repeat for more detail)\n"
    "  --json                   print the summary as one JSON object\n"
    "  -h, --help               this help\n";

int cli_cmd_build(int argc, char **argv) {
    const char *cmd = "build";
    cli_build_opts o;
    cli_build_opts_init(&o);
    const char *model = NULL, *output = NULL;
    int json = 0, rc = CLI_USAGE;
    cli_args a = {argc, argv, 1, cmd};
    for (; a.i < argc; a.i++) {
        const char *arg = argv[a.i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(build_usage, stdout);
            rc = CLI_OK;
            goto done;
        }
        int used = cli_build_opts_parse(&a, &o, 0);
        if (used < 0) goto done;
        if (used) continue;
        if (strcmp(arg, "-o") == 0 || cli_is_opt(&a, "--output")) {
            if (!(output = cli_opt_value(&a, strcmp(arg, "-o") == 0 ? "-o" : "--output"))) goto done;
        } else if (strcmp(arg, "--json") == 0) {
            json = o.json = 1;
        } else if (arg[0] == '-' && arg[1]) {
            rc = cli_usage_error(cmd, "unknown option '%s'", arg);
            goto done;
        } else if (!model) {
            model = arg;
        } else {
            rc = cli_usage_error(cmd, "unexpected argument '%s' (one model at a time)", arg);
            goto done;
        }
    }
    if (!model) {
        rc = cli_usage_error(cmd, "no model given");
        goto done;
    }
    if (!output) {
        rc = cli_usage_error(cmd, "no output plan given (-o FILE)");
        goto done;
    }
    if ((o.fp16 + o.bf16 + o.int8) > 1) {
        rc = cli_usage_error(cmd, "--fp16, --bf16 and --int8 are exclusive");
        goto done;
    }

    kiln_blob *blob = NULL;
    double parse_ms = 0, build_ms = 0;
    int n_nodes = -1;
    o.progress = 1;
    if (!json) fprintf(stdout, "building %s for %s\n", model, kiln_backend_name(o.backend));
    fflush(stdout);
    rc = cli_build_plan(cmd, model, &o, &blob, &parse_ms, &build_ms, &n_nodes);
    if (rc != CLI_OK) goto done;
    kiln_status s = kiln_blob_write_file(blob, output);
    if (s != KILN_OK) {
        char what[1200];
        snprintf(what, sizeof what, "writing the plan '%s'", output);
        rc = cli_api_fail(cmd, what, s, blob);
        kiln_blob_destroy(blob);
        goto done;
    }
    size_t size = kiln_blob_size(blob);
    kiln_blob_destroy(blob);
    if (json) {
        printf("{\"model\": ");
        cli_json_str(stdout, model);
        printf(", \"plan\": ");
        cli_json_str(stdout, output);
        printf(", \"device\": ");
        cli_json_str(stdout, kiln_backend_name(o.backend));
        printf(", \"nodes\": %d, \"parse_ms\": %.3f, \"build_ms\": %.3f, \"plan_bytes\": %zu}\n", n_nodes, parse_ms,
               build_ms, size);
    } else {
        printf("built in %.1f ms\n", build_ms);
        printf("wrote %s (%zu bytes, %.2f MiB)\n", output, size, (double)size / (1024.0 * 1024.0));
    }
    rc = CLI_OK;
done:
    cli_build_opts_free(&o);
    return rc;
}
