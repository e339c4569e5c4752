/* Shared pieces of the kiln command-line tool: option parsing, shape lists, loading a model or plan into an
 * engine, error reporting, timing, JSON output.
 *
 * Exit codes: 0 success, 1 any failure (message on stderr), 2 usage error. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kiln.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Commands: argv[0] is the command name. */
int cli_cmd_build(int argc, char **argv);
int cli_cmd_run(int argc, char **argv);
int cli_cmd_inspect(int argc, char **argv);

/* "kiln <cmd>: error: ..." on stderr. */
void cli_errorf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports a failed API call: what failed, the status name and the handle's (or thread's) last error text. */
int cli_api_fail(const char *cmd, const char *what, kiln_status s, const void *handle);
/* Usage error: message + "try kiln <cmd> --help"; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- option parsing: "--name value" and "--name=value" ---- */
typedef struct cli_args {
    int argc;
    char **argv;
    int i;              /* index of the current argument */
    const char *cmd;
} cli_args;

/* 1 when argv[i] is the option `name` (with or without "=value"). */
int cli_is_opt(const cli_args *a, const char *name);
/* The option's value ("--x=v" or the next argument); NULL (with a usage message) when missing. Advances i. */
const char *cli_opt_value(cli_args *a, const char *name);
int cli_parse_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out);
int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);

/* ---- shape lists: "name:1x3x224x224,other:4x8" (a name may contain ':'; the last one splits; "name:" or
 * "name:scalar" is rank 0) ---- */
typedef struct cli_shape {
    char *name;
    int rank;
    int64_t dims[KILN_MAX_DIMS];
} cli_shape;

typedef struct cli_shape_list {
    cli_shape *items;
    int n;
} cli_shape_list;

/* Appends the shapes in `spec` (may be given several times). Returns CLI_OK or CLI_USAGE with a message. */
int cli_shapes_parse(const char *cmd, const char *opt, const char *spec, cli_shape_list *out);
const cli_shape *cli_shapes_find(const cli_shape_list *l, const char *name);
void cli_shapes_free(cli_shape_list *l);
/* "1x3x224x224" (or "scalar") into buf. */
const char *cli_dims_str(int rank, const int64_t *dims, char *buf, size_t cap);

/* ---- build options shared by `build` and `run` on an .onnx ---- */
typedef struct cli_build_opts {
    cli_shape_list shapes, min_shapes, opt_shapes, max_shapes;
    long long workspace_mib;        /* -1: library default */
    kiln_backend backend;
    int fp16, bf16, int8;
    int verbose;
    int json;                       /* JSON report on stdout: log lines go to stderr */
    int progress;                   /* print the parse summary as it happens (kiln build) */
} cli_build_opts;

void cli_build_opts_init(cli_build_opts *o);
void cli_build_opts_free(cli_build_opts *o);
/* Consumes one build option at a->i if it is one: returns 1 (consumed), 0 (not a build option), -1 (usage error
 * already reported). run_mode: only the options that make sense for `kiln run` on an .onnx. */
int cli_build_opts_parse(cli_args *a, cli_build_opts *o, int run_mode);
/* Parses `model` and builds a serialized plan. Prints parser errors one per node. On success *blob is owned by
 * the caller; *build_ms gets the time of parse + build. Returns CLI_OK or CLI_FAIL. */
int cli_build_plan(const char *cmd, const char *model, const cli_build_opts *o, kiln_blob **blob, double *parse_ms,
                   double *build_ms, int *n_nodes);

/* Prints the parser's error list (node index, name, op, reason), or its last error when the list is empty. */
void cli_report_parse_failure(const char *cmd, const char *model, const kiln_onnx_parser *p, kiln_status s);

/* ---- engine from a plan file or an .onnx model (built in memory) ---- */
typedef struct cli_engine {
    kiln_runtime *runtime;
    kiln_engine *engine;
    kiln_blob *blob;                /* in-memory plan when built from .onnx (the engine borrows it) */
    size_t plan_size;
    int from_onnx;
    double load_ms;                 /* plan load, or parse + build + deserialize */
} cli_engine;

int cli_is_onnx_path(const char *path);
int cli_engine_open(const char *cmd, const char *path, const cli_build_opts *o, cli_engine *out);
void cli_engine_close(cli_engine *e);

/* ---- misc ---- */
double cli_now_ms(void);
/* The logger the CLI hands to the library: WARNING and worse always (stderr), INFO (and VERBOSE) with
 * verbosity 1 (2), on stdout unless json. */
const kiln_logger *cli_logger(int verbosity, int json);

/* Minimal JSON writer (keys and strings escaped; the caller keeps commas right via the `first` flags). */
void cli_json_str(FILE *f, const char *s);

#endif
