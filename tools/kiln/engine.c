/* Model -> plan -> engine, shared by the build, run and inspect commands. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_build_opts_init(cli_build_opts *o) {
    memset(o, 0, sizeof *o);
    o->workspace_mib = -1;
    o->backend = KILN_BACKEND_AUTO; /* the GPU when kiln has CUDA and a GPU is present */
}

void cli_build_opts_free(cli_build_opts *o) {
    cli_shapes_free(&o->shapes);
    cli_shapes_free(&o->min_shapes);
    cli_shapes_free(&o->opt_shapes);
    cli_shapes_free(&o->max_shapes);
}

static int parse_device(const char *cmd, const char *v, kiln_backend *out) {
    if (strcmp(v, "cpu") == 0)
        *out = KILN_BACKEND_CPU;
    else if (strcmp(v, "gpu") == 0 || strcmp(v, "cuda") == 0)
        *out = KILN_BACKEND_CUDA;
    else if (strcmp(v, "auto") == 0)
        *out = KILN_BACKEND_AUTO;
    else
        return cli_usage_error(cmd, "--device: '%s' is not one of cpu, gpu, auto", v);
    return CLI_OK;
}

int cli_build_opts_parse(cli_args *a, cli_build_opts *o, int run_mode) {
    static const struct {
        const char *name;
        size_t off;
    } shape_opts[] = {
        {"--shapes", offsetof(cli_build_opts, shapes)},
        {"--min-shapes", offsetof(cli_build_opts, min_shapes)},
        {"--opt-shapes", offsetof(cli_build_opts, opt_shapes)},
        {"--max-shapes", offsetof(cli_build_opts, max_shapes)},
    };
    for (size_t k = 0; k < sizeof shape_opts / sizeof shape_opts[0]; k++) {
        if (!cli_is_opt(a, shape_opts[k].name)) continue;
        if (run_mode && k > 0) return 0;
        const char *v = cli_opt_value(a, shape_opts[k].name);
        if (!v) return -1;
        cli_shape_list *l = (cli_shape_list *)((char *)o + shape_opts[k].off);
        return cli_shapes_parse(a->cmd, shape_opts[k].name, v, l) == CLI_OK ? 1 : -1;
    }
    if (cli_is_opt(a, "--device")) {
        const char *v = cli_opt_value(a, "--device");
        if (!v || parse_device(a->cmd, v, &o->backend) != CLI_OK) return -1;
        return 1;
    }
    if (run_mode) return 0;
    if (cli_is_opt(a, "--workspace")) {
        const char *v = cli_opt_value(a, "--workspace");
        if (!v || cli_parse_int(a->cmd, "--workspace", v, 0, (long long)1 << 40, &o->workspace_mib) != CLI_OK)
            return -1;
        return 1;
    }
    const char *arg = a->argv[a->i];
    if (strcmp(arg, "--fp16") == 0) return o->fp16 = 1;
    if (strcmp(arg, "--bf16") == 0) return o->bf16 = 1;
    if (strcmp(arg, "--int8") == 0) return o->int8 = 1;
    if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
        o->verbose++;
        return 1;
    }
    return 0;
}

/* Fills one input's min/opt/max from whichever of --shapes/--min/--opt/--max name it: --shapes fixes all three,
 * the specific options override, and a missing corner is taken from the nearest given one. */
static int add_profile_shapes(const char *cmd, kiln_profile *p, const char *name, const cli_build_opts *o) {
    const cli_shape *all = cli_shapes_find(&o->shapes, name);
    const cli_shape *mn = cli_shapes_find(&o->min_shapes, name);
    const cli_shape *op = cli_shapes_find(&o->opt_shapes, name);
    const cli_shape *mx = cli_shapes_find(&o->max_shapes, name);
    if (!mn) mn = all ? all : op ? op : mx;
    if (!op) op = all ? all : mx ? mx : mn;
    if (!mx) mx = all ? all : op ? op : mn;
    const cli_shape *corners[3] = {mn, op, mx};
    static const kiln_profile_selector sel[3] = {KILN_PROFILE_MIN, KILN_PROFILE_OPT, KILN_PROFILE_MAX};
    static const char *const sel_name[3] = {"min", "opt", "max"};
    for (int k = 0; k < 3; k++) {
        kiln_status s = kiln_profile_set_shape(p, name, sel[k], corners[k]->rank, corners[k]->dims);
        if (s != KILN_OK) {
            char what[512];
            snprintf(what, sizeof what, "setting the %s shape of input '%s'", sel_name[k], name);
            return cli_api_fail(cmd, what, s, p);
        }
    }
    return CLI_OK;
}

static int has_name(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

static int make_profile(const char *cmd, kiln_builder *b, kiln_config *c, const cli_build_opts *o) {
    const cli_shape_list *lists[4] = {&o->shapes, &o->min_shapes, &o->opt_shapes, &o->max_shapes};
    int total = 0;
    for (int k = 0; k < 4; k++) total += lists[k]->n;
    if (total == 0) return CLI_OK;
    const char **names = calloc((size_t)total, sizeof *names);
    if (!names) {
        cli_errorf(cmd, "out of memory");
        return CLI_FAIL;
    }
    int n = 0;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < lists[k]->n; i++)
            if (!has_name(names, n, lists[k]->items[i].name)) names[n++] = lists[k]->items[i].name;
    kiln_profile *p = NULL;
    kiln_status s = kiln_profile_create(b, &p);
    int rc = CLI_OK;
    if (s != KILN_OK) rc = cli_api_fail(cmd, "creating an optimization profile", s, b);
    for (int i = 0; rc == CLI_OK && i < n; i++) rc = add_profile_shapes(cmd, p, names[i], o);
    if (rc == CLI_OK && (s = kiln_config_add_profile(c, p)) != KILN_OK)
        rc = cli_api_fail(cmd, "adding the optimization profile", s, c);
    kiln_profile_destroy(p);
    free(names);
    return rc;
}

void cli_report_parse_failure(const char *cmd, const char *model, const kiln_onnx_parser *p, kiln_status s) {
    int n = kiln_onnx_parser_error_count(p);
    int shown = 0;
    for (int i = 0; i < n; i++) {
        kiln_parser_error e;
        if (kiln_onnx_parser_get_error(p, i, &e) != KILN_OK) continue;
        shown++;
        if (e.node_index >= 0)
            cli_errorf(cmd, "%s: node %d ('%s', %s): %s", model, e.node_index, e.node_name ? e.node_name : "",
                       e.op_type ? e.op_type : "", e.reason ? e.reason : "");
        else
            cli_errorf(cmd, "%s: %s", model, e.reason ? e.reason : "");
    }
    if (shown) {
        /* The list above already holds the parser's text; say only how it ended. */
        cli_errorf(cmd, "parsing '%s' failed: %s (%d error%s)", model, kiln_status_string(s), shown,
                   shown == 1 ? "" : "s");
        return;
    }
    char what[1200];
    snprintf(what, sizeof what, "parsing '%s'", model);
    cli_api_fail(cmd, what, s, p);
}

static int configure(const char *cmd, kiln_builder *b, kiln_config *c, const cli_build_opts *o) {
    kiln_status s = kiln_config_set_backend(c, o->backend);
    if (s != KILN_OK) return cli_api_fail(cmd, "selecting the device", s, c);
    if (o->workspace_mib >= 0 && (s = kiln_config_set_workspace(c, (size_t)o->workspace_mib << 20)) != KILN_OK)
        return cli_api_fail(cmd, "setting the workspace limit", s, c);
    static const struct {
        size_t off;
        kiln_builder_flag flag;
        const char *name;
    } flags[] = {
        {offsetof(cli_build_opts, fp16), KILN_FLAG_FP16, "--fp16"},
        {offsetof(cli_build_opts, bf16), KILN_FLAG_BF16, "--bf16"},
        {offsetof(cli_build_opts, int8), KILN_FLAG_INT8, "--int8"},
    };
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
        if (!*(const int *)((const char *)o + flags[k].off)) continue;
        if ((s = kiln_config_set_flag(c, flags[k].flag, 1)) != KILN_OK) return cli_api_fail(cmd, flags[k].name, s, c);
    }
    return make_profile(cmd, b, c, o);
}

int cli_build_plan(const char *cmd, const char *model, const cli_build_opts *o, kiln_blob **blob, double *parse_ms,
                   double *build_ms, int *n_nodes) {
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_onnx_parser *p = NULL;
    kiln_config *c = NULL;
    int rc = CLI_FAIL;
    kiln_status s;
    *blob = NULL;
    double t0 = cli_now_ms();
    if ((s = kiln_builder_create(cli_logger(o->verbose, o->json), &b)) != KILN_OK) {
        cli_api_fail(cmd, "creating the builder", s, NULL);
        goto done;
    }
    if ((s = kiln_network_create(b, &n)) != KILN_OK) {
        cli_api_fail(cmd, "creating the network", s, b);
        goto done;
    }
    if ((s = kiln_onnx_parser_create(n, &p)) != KILN_OK) {
        cli_api_fail(cmd, "creating the ONNX parser", s, n);
        goto done;
    }
    if ((s = kiln_onnx_parse_file(p, model)) != KILN_OK) {
        cli_report_parse_failure(cmd, model, p, s);
        goto done;
    }
    double t1 = cli_now_ms();
    if (parse_ms) *parse_ms = t1 - t0;
    int nn = -1;
    if (kiln_network_node_count(n, &nn) != KILN_OK) nn = -1;
    if (n_nodes) *n_nodes = nn;
    if (o->progress && !o->json) {
        printf("parsed %d nodes in %.1f ms\n", nn, t1 - t0);
        fflush(stdout);
    }
    if ((s = kiln_config_create(b, &c)) != KILN_OK) {
        cli_api_fail(cmd, "creating the build config", s, b);
        goto done;
    }
    if (configure(cmd, b, c, o) != CLI_OK) goto done;
    if ((s = kiln_build_serialized(b, n, c, blob)) != KILN_OK) {
        char what[1200];
        snprintf(what, sizeof what, "building '%s'", model);
        cli_api_fail(cmd, what, s, b);
        goto done;
    }
    if (build_ms) *build_ms = cli_now_ms() - t1;
    rc = CLI_OK;
done:
    kiln_config_destroy(c);
    kiln_onnx_parser_destroy(p);
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
    return rc;
}

int cli_engine_open(const char *cmd, const char *path, const cli_build_opts *o, cli_engine *out) {
    memset(out, 0, sizeof *out);
    double t0 = cli_now_ms();
    kiln_status s = kiln_runtime_create(cli_logger(o->verbose, o->json), &out->runtime);
    if (s != KILN_OK) return cli_api_fail(cmd, "creating the runtime", s, NULL);
    if (cli_is_onnx_path(path)) {
        out->from_onnx = 1;
        if (cli_build_plan(cmd, path, o, &out->blob, NULL, NULL, NULL) != CLI_OK) {
            cli_engine_close(out);
            return CLI_FAIL;
        }
        out->plan_size = kiln_blob_size(out->blob);
        s = kiln_engine_deserialize(out->runtime, kiln_blob_data(out->blob), out->plan_size, &out->engine);
    } else {
        s = kiln_engine_load_file(out->runtime, path, &out->engine);
        FILE *f = s == KILN_OK ? fopen(path, "rb") : NULL;
        if (f) {
            if (fseek(f, 0, SEEK_END) == 0) {
                long sz = ftell(f);
                out->plan_size = sz > 0 ? (size_t)sz : 0;
            }
            fclose(f);
        }
    }
    if (s != KILN_OK) {
        char what[1200];
        snprintf(what, sizeof what, "loading the plan %s'%s'", out->from_onnx ? "built from " : "", path);
        cli_api_fail(cmd, what, s, out->runtime);
        cli_engine_close(out);
        return CLI_FAIL;
    }
    kiln_backend got = kiln_engine_backend(out->engine);
    if (o->backend != KILN_BACKEND_AUTO && got != o->backend) {
        /* a plan is tied to its backend: say so rather than silently running it elsewhere */
        cli_errorf(cmd, "'%s' is a %s plan, but --device %s was requested: rebuild the model for that device", path,
                   kiln_backend_name(got), o->backend == KILN_BACKEND_CUDA ? "gpu" : "cpu");
        cli_engine_close(out);
        return CLI_FAIL;
    }
    out->load_ms = cli_now_ms() - t0;
    return CLI_OK;
}

void cli_engine_close(cli_engine *e) {
    kiln_engine_destroy(e->engine);
    kiln_blob_destroy(e->blob);
    kiln_runtime_destroy(e->runtime);
    memset(e, 0, sizeof *e);
}
