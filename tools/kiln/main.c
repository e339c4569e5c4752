/* kiln: command-line front end (build / run / inspect), in the spirit of trtexec. */
#include <string.h>

#include "cli.h"

static const char *const top_usage =
    "Usage: kiln COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  build MODEL.onnx -o MODEL.plan   parse and optimize a model, write the serialized plan\n"
    "  run MODEL.plan|MODEL.onnx        run with random inputs and report latency / throughput,\n"
    "                                   or once on ONNX test data (--inputs-dir / --outputs-dir)\n"
    "  inspect MODEL.plan|MODEL.onnx    show inputs, outputs, layers and memory\n"
    "\n"
    "Options:\n"
    "  -h, --help                       this help ('kiln COMMAND --help' for a command's options)\n"
    "  --version                        print the kiln version\n"
    "\n"
    "Exit status: 0 on success, 1 on any failure (the reason is printed on stderr), 2 on a usage error.\n";

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    {"build", cli_cmd_build},
    {"run", cli_cmd_run},
    {"inspect", cli_cmd_inspect},
};

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(top_usage, stderr);
        return CLI_USAGE;
    }
    const char *c = argv[1];
    if (strcmp(c, "-h") == 0 || strcmp(c, "--help") == 0 || strcmp(c, "help") == 0) {
        if (argc > 2)
            for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
                if (strcmp(argv[2], commands[k].name) == 0) {
                    char *args[] = {argv[2], "--help", NULL};
                    return commands[k].fn(2, args);
                }
        fputs(top_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(c, "--version") == 0 || strcmp(c, "version") == 0) {
        printf("kiln %s\n", kiln_version());
        return CLI_OK;
    }
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(c, commands[k].name) == 0) {
            int rc = commands[k].fn(argc - 1, argv + 1);
            fflush(stdout);
            return rc;
        }
    if (c[0] == '-') return cli_usage_error(NULL, "unknown option '%s'", c);
    return cli_usage_error(NULL, "unknown command '%s'", c);
}
