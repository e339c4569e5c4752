/* kiln inspect MODEL.plan|MODEL.onnx: I/O tensors, layers, memory. */
#include <stdlib.h>
#include <string.h>

#include "build/network.h"
#include "cli_io.h"
#include "ir/graph.h"
#include "runtime/engine.h"

static const char *const inspect_usage =
    "Usage: kiln inspect MODEL.plan|MODEL.onnx [options]\n"
    "\n"
    "Shows the input and output tensors (name, dtype, shape with symbolic dims, optimization profile ranges), the\n"
    "layers, and the memory a plan takes. An .onnx model is parsed, not built: its layers are the graph's nodes.\n"
    "\n"
    "Options:\n"
    "  --json                   print everything as one JSON object\n"
    "  -h, --help               this help\n";

static const char *kind_name(kiln_value_kind k) {
    switch (k) {
    case KILN_KIND_TENSOR: return "tensor";
    case KILN_KIND_SEQUENCE: return "sequence";
    case KILN_KIND_OPTIONAL: return "optional";
    case KILN_KIND_NONE: return "none";
    default: return "?";
    }
}

/* One I/O entry in a form common to plans and models. */
typedef struct insp_io {
    const char *name;
    int is_input;
    kiln_value_kind kind;
    kiln_dtype dtype;
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    const char *sym[KILN_MAX_DIMS]; /* symbolic names of dynamic dims, NULL when unnamed */
    int has_profile;
    int prof_rank;
    int64_t prof[3][KILN_MAX_DIMS];
} insp_io;

typedef struct insp {
    const char *path;
    const char *format; /* "plan" / "onnx" */
    const char *device;
    insp_io *io;
    int n_io;
    const char **layers; /* borrowed lines */
    int n_layers;
    char **owned_layers; /* lines made here (from IR nodes) */
    size_t file_size;
    size_t weights_bytes;
    int n_weights;
    int has_meta; /* plans: the build settings below */
    char kiln_version[32];
    uint32_t build_flags;
    int opt_level;
} insp;

static const char *const flag_names[] = {"fp16", "bf16", "int8", "fp8", "tf32"};
_Static_assert(sizeof(flag_names) / sizeof(flag_names[0]) == KILN_BUILDER_FLAG_COUNT, "builder flag names");

static void shape_text(const insp_io *io, char *buf, size_t cap) {
    if (io->rank < 0) {
        snprintf(buf, cap, "?");
        return;
    }
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < io->rank && n < cap; d++) {
        const char *sep = d ? ", " : "";
        int w;
        if (io->dims[d] >= 0)
            w = snprintf(buf + n, cap - n, "%s%lld", sep, (long long)io->dims[d]);
        else
            w = snprintf(buf + n, cap - n, "%s%s", sep, io->sym[d] ? io->sym[d] : "?");
        if (w < 0) return;
        n += (size_t)w;
    }
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* Symbolic dim names and weight totals from an IR graph (an .onnx network's; a plan's when the engine exposes
 * it). */
static void fill_from_graph(insp *in, const kiln_graph *g) {
    for (int i = 0; i < in->n_io; i++) {
        insp_io *io = &in->io[i];
        int v = kiln_graph_find_value(g, io->name);
        if (v < 0) continue;
        const kiln_type *t = &g->values[v].type;
        if (t->rank != io->rank) continue;
        for (int d = 0; d < t->rank; d++) io->sym[d] = t->dims[d].v < 0 ? t->dims[d].sym : NULL;
    }
    in->weights_bytes = 0;
    in->n_weights = 0;
    for (int v = 0; v < g->n_values; v++) {
        const kiln_tensor *t = g->values[v].init;
        if (!t) continue;
        in->weights_bytes += kiln_tensor_nbytes(t);
        in->n_weights++;
    }
}

static int io_from_graph(const char *cmd, insp *in, const kiln_graph *g) {
    in->n_io = g->n_inputs + g->n_outputs;
    in->io = calloc((size_t)(in->n_io ? in->n_io : 1), sizeof *in->io);
    if (!in->io) {
        cli_errorf(cmd, "out of memory");
        return CLI_FAIL;
    }
    int k = 0;
    for (int pass = 0; pass < 2; pass++) {
        const int *ids = pass == 0 ? g->inputs : g->outputs;
        int n = pass == 0 ? g->n_inputs : g->n_outputs;
        for (int i = 0; i < n; i++) {
            const kiln_ir_value *v = &g->values[ids[i]];
            if (pass == 0 && v->init) {
                in->n_io--; /* an input with an initializer is a constant, not an input to feed */
                continue;
            }
            insp_io *io = &in->io[k++];
            io->name = v->name;
            io->is_input = pass == 0;
            io->kind = v->type.kind;
            io->dtype = v->type.dtype;
            io->rank = v->type.rank;
            for (int d = 0; d < v->type.rank && d < KILN_MAX_DIMS; d++) io->dims[d] = v->type.dims[d].v;
        }
    }
    return CLI_OK;
}

static int io_from_engine(const char *cmd, insp *in, const kiln_engine *e) {
    cli_io_list_t l;
    if (cli_io_list(cmd, e, &l) != CLI_OK) {
        cli_io_list_free(&l);
        return CLI_FAIL;
    }
    in->n_io = l.n;
    in->io = calloc((size_t)(l.n ? l.n : 1), sizeof *in->io);
    if (!in->io) {
        cli_io_list_free(&l);
        cli_errorf(cmd, "out of memory");
        return CLI_FAIL;
    }
    static const kiln_profile_selector sel[3] = {KILN_PROFILE_MIN, KILN_PROFILE_OPT, KILN_PROFILE_MAX};
    for (int i = 0; i < l.n; i++) {
        insp_io *io = &in->io[i];
        const cli_io *src = &l.items[i];
        io->name = src->name;
        io->is_input = src->mode == KILN_IO_INPUT;
        io->kind = src->kind;
        io->dtype = src->dtype;
        io->rank = src->rank;
        memcpy(io->dims, src->dims, sizeof io->dims);
        if (!io->is_input) continue;
        io->has_profile = 1;
        for (int k = 0; k < 3 && io->has_profile; k++) {
            int r = -1;
            if (kiln_engine_profile_shape(e, io->name, sel[k], &r, io->prof[k]) != KILN_OK || r < 0) {
                io->has_profile = 0;
                break;
            }
            io->prof_rank = r;
        }
    }
    cli_io_list_free(&l);
    return CLI_OK;
}

/* "name  OpType  in, in -> out" for an IR node (the same form kiln_engine_layer_info uses). */
static char *node_line(const kiln_graph *g, const kiln_node *n) {
    size_t cap = 256;
    for (int i = 0; i < n->n_in; i++) cap += (n->in[i] >= 0 ? strlen(g->values[n->in[i]].name) : 0) + 2;
    for (int i = 0; i < n->n_out; i++) cap += (n->out[i] >= 0 ? strlen(g->values[n->out[i]].name) : 0) + 2;
    cap += strlen(n->name) + strlen(n->op_type);
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t k = (size_t)snprintf(s, cap, "%s  %s  ", n->name, n->op_type);
    for (int i = 0; i < n->n_in; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s%s", i ? ", " : "", n->in[i] >= 0 ? g->values[n->in[i]].name : "");
    k += (size_t)snprintf(s + k, cap - k, " -> ");
    for (int i = 0; i < n->n_out; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s%s", i ? ", " : "",
                              n->out[i] >= 0 ? g->values[n->out[i]].name : "");
    return s;
}

static void print_text(const insp *in) {
    printf("%s: %s", in->path, in->format);
    if (in->device) printf(" for %s", in->device);
    printf("\n");
    if (in->has_meta) {
        printf("built by kiln %s, optimization level %d, precision flags:", in->kiln_version, in->opt_level);
        int any = 0;
        for (int k = 0; k < KILN_BUILDER_FLAG_COUNT; k++)
            if (in->build_flags & (1u << k)) printf(" %s", flag_names[k]), any = 1;
        printf("%s\n", any ? "" : " none");
    }
    for (int pass = 0; pass < 2; pass++) {
        printf("%s:\n", pass == 0 ? "inputs" : "outputs");
        for (int i = 0; i < in->n_io; i++) {
            const insp_io *io = &in->io[i];
            if (io->is_input != (pass == 0)) continue;
            char shape[512];
            shape_text(io, shape, sizeof shape);
            printf("  %s: %s%s%s %s", io->name, io->kind == KILN_KIND_TENSOR ? "" : kind_name(io->kind),
                   io->kind == KILN_KIND_TENSOR ? "" : " of ", kiln_dtype_name(io->dtype), shape);
            if (io->has_profile) {
                char b[3][256];
                for (int k = 0; k < 3; k++) cli_dims_str(io->prof_rank, io->prof[k], b[k], sizeof b[k]);
                printf("  profile min %s opt %s max %s", b[0], b[1], b[2]);
            }
            printf("\n");
        }
    }
    printf("layers: %d\n", in->n_layers);
    for (int i = 0; i < in->n_layers; i++) printf("  [%d] %s\n", i, in->layers[i] ? in->layers[i] : "?");
    printf("memory:\n");
    printf("  %s size: %zu bytes (%.2f MiB)\n", in->format, in->file_size, (double)in->file_size / 1048576.0);
    if (in->n_weights >= 0)
        printf("  weights: %zu bytes (%.2f MiB) in %d tensors\n", in->weights_bytes,
               (double)in->weights_bytes / 1048576.0, in->n_weights);
}

static void print_json(const insp *in) {
    printf("{\"path\": ");
    cli_json_str(stdout, in->path);
    printf(", \"format\": ");
    cli_json_str(stdout, in->format);
    if (in->device) {
        printf(", \"device\": ");
        cli_json_str(stdout, in->device);
    }
    if (in->has_meta) {
        printf(", \"kiln_version\": ");
        cli_json_str(stdout, in->kiln_version);
        printf(", \"optimization_level\": %d, \"precision_flags\": [", in->opt_level);
        for (int k = 0, first = 1; k < KILN_BUILDER_FLAG_COUNT; k++)
            if (in->build_flags & (1u << k)) printf("%s\"%s\"", first ? "" : ", ", flag_names[k]), first = 0;
        printf("]");
    }
    for (int pass = 0; pass < 2; pass++) {
        printf(", \"%s\": [", pass == 0 ? "inputs" : "outputs");
        int first = 1;
        for (int i = 0; i < in->n_io; i++) {
            const insp_io *io = &in->io[i];
            if (io->is_input != (pass == 0)) continue;
            printf("%s{\"name\": ", first ? "" : ", ");
            first = 0;
            cli_json_str(stdout, io->name);
            printf(", \"kind\": \"%s\", \"dtype\": ", kind_name(io->kind));
            cli_json_str(stdout, kiln_dtype_name(io->dtype));
            printf(", \"shape\": ");
            if (io->rank < 0) {
                printf("null");
            } else {
                printf("[");
                for (int d = 0; d < io->rank; d++) {
                    if (d) printf(", ");
                    if (io->dims[d] >= 0)
                        printf("%lld", (long long)io->dims[d]);
                    else if (io->sym[d])
                        cli_json_str(stdout, io->sym[d]);
                    else
                        printf("-1");
                }
                printf("]");
            }
            if (io->has_profile) {
                static const char *const sel[3] = {"min", "opt", "max"};
                printf(", \"profile\": {");
                for (int k = 0; k < 3; k++) {
                    printf("%s\"%s\": [", k ? ", " : "", sel[k]);
                    for (int d = 0; d < io->prof_rank; d++)
                        printf("%s%lld", d ? ", " : "", (long long)io->prof[k][d]);
                    printf("]");
                }
                printf("}");
            }
            printf("}");
        }
        printf("]");
    }
    printf(", \"layers\": [");
    for (int i = 0; i < in->n_layers; i++) {
        if (i) printf(", ");
        cli_json_str(stdout, in->layers[i] ? in->layers[i] : "");
    }
    printf("], \"memory\": {\"file_bytes\": %zu", in->file_size);
    if (in->n_weights >= 0)
        printf(", \"weights_bytes\": %zu, \"weight_tensors\": %d", in->weights_bytes, in->n_weights);
    printf("}}\n");
}

static size_t file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    long sz = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    fclose(f);
    return sz > 0 ? (size_t)sz : 0;
}

static int inspect_onnx(const char *cmd, insp *in, kiln_builder **b, kiln_network **n) {
    kiln_onnx_parser *p = NULL;
    kiln_status s = kiln_builder_create(cli_logger(0, 1), b);
    if (s != KILN_OK) return cli_api_fail(cmd, "creating the builder", s, NULL);
    if ((s = kiln_network_create(*b, n)) != KILN_OK) return cli_api_fail(cmd, "creating the network", s, *b);
    if ((s = kiln_onnx_parser_create(*n, &p)) != KILN_OK) return cli_api_fail(cmd, "creating the parser", s, *n);
    s = kiln_onnx_parse_file(p, in->path);
    if (s != KILN_OK) {
        cli_report_parse_failure(cmd, in->path, p, s);
        kiln_onnx_parser_destroy(p);
        return CLI_FAIL;
    }
    kiln_onnx_parser_destroy(p);
    const kiln_graph *g = (*n)->graph;
    if (!g) {
        cli_errorf(cmd, "parsing '%s' gave no graph", in->path);
        return CLI_FAIL;
    }
    if (io_from_graph(cmd, in, g) != CLI_OK) return CLI_FAIL;
    fill_from_graph(in, g);
    in->n_layers = g->n_nodes;
    in->owned_layers = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *in->owned_layers);
    in->layers = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *in->layers);
    if (!in->owned_layers || !in->layers) {
        cli_errorf(cmd, "out of memory");
        return CLI_FAIL;
    }
    for (int i = 0; i < g->n_nodes; i++) in->layers[i] = in->owned_layers[i] = node_line(g, &g->nodes[i]);
    return CLI_OK;
}

static int inspect_plan(const char *cmd, insp *in, cli_engine *eng) {
    cli_build_opts bo;
    cli_build_opts_init(&bo);
    int rc = cli_engine_open(cmd, in->path, &bo, eng);
    cli_build_opts_free(&bo);
    if (rc != CLI_OK) return rc;
    in->device = kiln_backend_name(kiln_engine_backend(eng->engine));
    if (io_from_engine(cmd, in, eng->engine) != CLI_OK) return CLI_FAIL;
    in->n_layers = kiln_engine_layer_count(eng->engine);
    if (in->n_layers < 0) in->n_layers = 0;
    in->layers = calloc((size_t)(in->n_layers ? in->n_layers : 1), sizeof *in->layers);
    if (!in->layers) {
        cli_errorf(cmd, "out of memory");
        return CLI_FAIL;
    }
    for (int i = 0; i < in->n_layers; i++) in->layers[i] = kiln_engine_layer_info(eng->engine, i);
    /* What the public API does not tell (symbolic dim names, weight totals, build settings) comes from the engine's
     * decoded plan. */
    const kiln_engine *e = eng->engine;
    if (e->plan.graph) fill_from_graph(in, e->plan.graph);
    in->has_meta = 1;
    snprintf(in->kiln_version, sizeof in->kiln_version, "%s", e->plan.kiln_version);
    in->build_flags = e->plan.meta.build_flags;
    in->opt_level = (int)e->plan.meta.opt_level;
    return CLI_OK;
}

int cli_cmd_inspect(int argc, char **argv) {
    const char *cmd = "inspect";
    int json = 0;
    insp in;
    memset(&in, 0, sizeof in);
    cli_args a = {argc, argv, 1, cmd};
    for (; a.i < argc; a.i++) {
        const char *arg = argv[a.i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(inspect_usage, stdout);
            return CLI_OK;
        }
        if (strcmp(arg, "--json") == 0)
            json = 1;
        else if (arg[0] == '-' && arg[1])
            return cli_usage_error(cmd, "unknown option '%s'", arg);
        else if (!in.path)
            in.path = arg;
        else
            return cli_usage_error(cmd, "unexpected argument '%s' (one model at a time)", arg);
    }
    if (!in.path) return cli_usage_error(cmd, "no model or plan given");

    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    cli_engine eng = {0};
    int rc;
    if (cli_is_onnx_path(in.path)) {
        in.format = "onnx";
        rc = inspect_onnx(cmd, &in, &b, &n);
    } else {
        in.format = "plan";
        rc = inspect_plan(cmd, &in, &eng);
    }
    if (rc == CLI_OK) {
        in.file_size = file_size(in.path);
        if (json)
            print_json(&in);
        else
            print_text(&in);
    }
    if (in.owned_layers)
        for (int i = 0; i < in.n_layers; i++) free(in.owned_layers[i]);
    free(in.owned_layers);
    free(in.layers);
    free(in.io);
    cli_engine_close(&eng);
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
    return rc;
}
