/* kiln run MODEL.plan|MODEL.onnx: execute with random inputs and report latency, or run once on ONNX test data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_io.h"

static const char *const run_usage =
    "Usage: kiln run MODEL.plan|MODEL.onnx [options]\n"
    "\n"
    "Runs an engine (an .onnx model is built in memory first). By default feeds seeded random inputs and reports\n"
    "latency (min/mean/median/p90/p95/p99/max) and throughput. On a GPU engine each timed inference is split as\n"
    "trtexec does: H2D (inputs copied from host memory), GPU compute (enqueue until the stream is done: the\n"
    "engine's latency), D2H (outputs copied back) and end to end. With --inputs-dir/--outputs-dir it runs exactly\n"
    "once on ONNX test data instead: input_<j>.pb for the model's j-th input, output_<j>.pb for its j-th output\n"
    "(TensorProto; SequenceProto / OptionalProto for sequence / optional values).\n"
    "\n"
    "Options:\n"
    "  --shapes SPEC            shapes for dynamic inputs: name:1x3x224x224[,name2:...]\n"
    "  --iterations N           timed runs, at least (default 10)\n"
    "  --warmup N               untimed runs first (default 2)\n"
    "  --duration S             keep running until S seconds have passed too (default 0)\n"
    "  --seed N                 seed of the random inputs (default 1)\n"
    "  --device cpu|gpu|auto    backend for an .onnx model (default auto: the GPU when one is present)\n"
    "  --inputs-dir D           read D/input_<j>.pb instead of random inputs; runs once\n"
    "  --outputs-dir O          write O/output_<j>.pb (created if missing); runs once\n"
    "  --no-cuda-graph          GPU: launch every kernel each run instead of replaying a captured CUDA graph\n"
    "  --verbose, -v            print what the builder / runtime do\n"
    "  --json                   print the results as one JSON object\n"
    "  -h, --help               this help\n";

typedef struct run_opts {
    const char *model, *inputs_dir, *outputs_dir;
    long long iterations, warmup, seed;
    double duration_s;
    int json, no_cuda_graph;
    cli_build_opts build;
} run_opts;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v. */
static double percentile(const double *v, size_t n, double q) {
    size_t k = (size_t)ceil(q * (double)n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return v[k - 1];
}

static int make_dir(const char *cmd, const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return CLI_OK;
        cli_errorf(cmd, "--outputs-dir '%s' exists and is not a folder", path);
        return CLI_FAIL;
    }
    if (mkdir(path, 0777) != 0) {
        cli_errorf(cmd, "cannot create --outputs-dir '%s'", path);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* The shape a random input gets: --shapes, else the declared dims with dynamic ones from the profile's opt shape,
 * else 1. */
static void random_shape(const run_opts *o, const kiln_engine *e, const cli_io *io, int *rank, int64_t *dims) {
    const cli_shape *sh = cli_shapes_find(&o->build.shapes, io->name);
    if (sh) {
        *rank = sh->rank;
        memcpy(dims, sh->dims, sizeof(int64_t) * (size_t)sh->rank);
        return;
    }
    int prank = -1;
    int64_t pdims[KILN_MAX_DIMS];
    if (kiln_engine_profile_shape(e, io->name, KILN_PROFILE_OPT, &prank, pdims) != KILN_OK) prank = -1;
    if (io->rank < 0) {
        if (prank >= 0) {
            *rank = prank;
            memcpy(dims, pdims, sizeof(int64_t) * (size_t)prank);
        } else {
            *rank = 1;
            dims[0] = 1;
        }
        return;
    }
    *rank = io->rank;
    for (int d = 0; d < io->rank; d++)
        dims[d] = io->dims[d] >= 0 ? io->dims[d] : (prank == io->rank && pdims[d] >= 0) ? pdims[d] : 1;
}

static int prepare_inputs(const char *cmd, const run_opts *o, const kiln_engine *e, const cli_io_list_t *ios,
                          kiln_value *vals) {
    uint64_t seed = (uint64_t)o->seed;
    for (int j = 0; j < ios->n_inputs; j++) {
        const cli_io *io = cli_io_at(ios, KILN_IO_INPUT, j);
        if (o->inputs_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/input_%d.pb", o->inputs_dir, j);
            if (cli_value_read(cmd, path, io, &vals[j]) != CLI_OK) return CLI_FAIL;
            continue;
        }
        int rank;
        int64_t dims[KILN_MAX_DIMS];
        random_shape(o, e, io, &rank, dims);
        kiln_tensor t = {0};
        kiln_dtype dt = io->dtype == KILN_UNDEFINED ? KILN_FLOAT : io->dtype;
        if (cli_random_tensor(cmd, io->name, dt, rank, dims, &seed, &t) != CLI_OK) {
            kiln_tensor_release(&t);
            return CLI_FAIL;
        }
        int as_seq =
            io->kind == KILN_KIND_SEQUENCE || (io->kind == KILN_KIND_OPTIONAL && io->elem_kind == KILN_KIND_SEQUENCE);
        if (as_seq) {
            /* One random item: enough to exercise the graph. */
            kiln_value_set_sequence(&vals[j], dt);
            kiln_status s = kiln_value_seq_append(&vals[j], &t);
            kiln_tensor_release(&t);
            if (s != KILN_OK) return cli_api_fail(cmd, "making a random sequence input", s, NULL);
        } else {
            vals[j].kind = KILN_V_TENSOR;
            vals[j].t = t;
        }
    }
    return CLI_OK;
}

/* Shapes of the tensors actually fed, as build options: used to rebuild an .onnx whose dynamic inputs the first
 * build's profile does not cover. */
static int shapes_from_values(const char *cmd, const cli_io_list_t *ios, const kiln_value *vals, cli_shape_list *l) {
    for (int j = 0; j < ios->n_inputs; j++) {
        if (vals[j].kind != KILN_V_TENSOR) continue;
        const cli_io *io = cli_io_at(ios, KILN_IO_INPUT, j);
        cli_shape *grown = realloc(l->items, (size_t)(l->n + 1) * sizeof *grown);
        char *name = strdup(io->name);
        if (!grown || !name) {
            free(name);
            if (grown) l->items = grown;
            cli_errorf(cmd, "out of memory");
            return CLI_FAIL;
        }
        l->items = grown;
        cli_shape *sh = &l->items[l->n++];
        sh->name = name;
        sh->rank = vals[j].t.rank;
        memcpy(sh->dims, vals[j].t.dims, sizeof sh->dims);
    }
    return CLI_OK;
}

static int write_outputs(const char *cmd, const run_opts *o, kiln_context *ctx, const cli_io_list_t *ios) {
    for (int j = 0; j < ios->n_outputs; j++) {
        const cli_io *io = cli_io_at(ios, KILN_IO_OUTPUT, j);
        cli_output out;
        if (cli_fetch_output(cmd, ctx, io, &out) != CLI_OK) return CLI_FAIL;
        char path[4096];
        snprintf(path, sizeof path, "%s/output_%d.pb", o->outputs_dir, j);
        int rc = cli_value_write(cmd, path, io, &out.value);
        cli_output_free(&out);
        if (rc != CLI_OK) return rc;
    }
    return CLI_OK;
}

static void print_io_json(const cli_io_list_t *ios, const kiln_value *vals) {
    printf("\"inputs\": [");
    for (int j = 0; j < ios->n_inputs; j++) {
        const cli_io *io = cli_io_at(ios, KILN_IO_INPUT, j);
        printf("%s{\"name\": ", j ? ", " : "");
        cli_json_str(stdout, io->name);
        printf(", \"dtype\": ");
        cli_json_str(stdout, kiln_dtype_name(io->dtype));
        if (vals[j].kind == KILN_V_TENSOR) {
            printf(", \"shape\": [");
            for (int d = 0; d < vals[j].t.rank; d++) printf("%s%lld", d ? ", " : "", (long long)vals[j].t.dims[d]);
            printf("]");
        }
        printf("}");
    }
    printf("]");
}

/* Latency samples of one stage (per timed inference). */
typedef struct stage {
    double *v;
    double st[7]; /* min mean median p90 p95 p99 max, after stage_stats */
} stage;

static const char *const stat_names[7] = {"min", "mean", "median", "p90", "p95", "p99", "max"};

static void stage_stats(stage *s, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += s->v[i];
    qsort(s->v, n, sizeof *s->v, cmp_double);
    double st[7] = {s->v[0], sum / (double)n, percentile(s->v, n, 0.5), percentile(s->v, n, 0.9),
                    percentile(s->v, n, 0.95), percentile(s->v, n, 0.99), s->v[n - 1]};
    memcpy(s->st, st, sizeof st);
}

static void stage_json(const char *key, const stage *s) {
    printf(", \"%s\": {", key);
    for (int k = 0; k < 7; k++) printf("%s\"%s\": %.6f", k ? ", " : "", stat_names[k], s->st[k]);
    printf("}");
}

static void stage_text(const char *label, const stage *s) {
    printf("%-14s min %.4f  mean %.4f  median %.4f  p90 %.4f  p95 %.4f  p99 %.4f  max %.4f\n", label, s->st[0],
           s->st[1], s->st[2], s->st[3], s->st[4], s->st[5], s->st[6]);
}

/* GPU engines: host buffers the outputs are copied back into after each timed inference (the D2H stage, as an
 * application does it). Sized from the outputs of the warm-up run. */
typedef struct d2h_bufs {
    int n;
    const char **names;
    void **host;
    size_t *size;
} d2h_bufs;

static void d2h_free(d2h_bufs *b) {
    for (int j = 0; j < b->n; j++) free(b->host[j]);
    free(b->host);
    free(b->size);
    free(b->names);
    memset(b, 0, sizeof *b);
}

static int d2h_init(const char *cmd, kiln_context *ctx, const cli_io_list_t *ios, d2h_bufs *b) {
    b->n = ios->n_outputs;
    b->names = calloc((size_t)b->n + 1, sizeof *b->names);
    b->host = calloc((size_t)b->n + 1, sizeof *b->host);
    b->size = calloc((size_t)b->n + 1, sizeof *b->size);
    if (!b->names || !b->host || !b->size) goto oom;
    for (int j = 0; j < b->n; j++) {
        const cli_io *io = cli_io_at(ios, KILN_IO_OUTPUT, j);
        kiln_value_kind kind;
        kiln_tensor_view tv;
        b->names[j] = io->name;
        if (kiln_context_get_output(ctx, io->name, &kind, &tv) != KILN_OK || kind != KILN_KIND_TENSOR) continue;
        b->size[j] = tv.size_bytes;
        if (tv.size_bytes && !(b->host[j] = malloc(tv.size_bytes))) goto oom;
    }
    return CLI_OK;
oom:
    d2h_free(b);
    cli_errorf(cmd, "out of memory");
    return CLI_FAIL;
}

static int d2h_copy(const char *cmd, kiln_context *ctx, const d2h_bufs *b) {
    for (int j = 0; j < b->n; j++) {
        if (!b->host[j]) continue;
        kiln_status s = kiln_context_copy_output(ctx, b->names[j], b->host[j], b->size[j]);
        if (s != KILN_OK) return cli_api_fail(cmd, "copying an output from the GPU", s, ctx);
    }
    return CLI_OK;
}

/* Times ITERATIONS inferences (or DURATION). CPU engines: `latency` is kiln_context_execute. GPU engines, as
 * trtexec reports them: H2D (the inputs copied from host memory), compute (enqueue + wait for the stream: the
 * engine's own time, reported as `latency`), D2H (outputs copied back), and their sum, end to end. */
static int benchmark(const char *cmd, const run_opts *o, kiln_context *ctx, const cli_engine *eng,
                     const cli_io_list_t *ios, const kiln_value *vals) {
    int gpu = kiln_engine_backend(eng->engine) == KILN_BACKEND_CUDA;
    for (long long i = 0; i < o->warmup || (gpu && i == 0); i++) {
        kiln_status s = kiln_context_execute(ctx);
        if (s != KILN_OK) return cli_api_fail(cmd, "running the engine (warm-up)", s, ctx);
    }
    d2h_bufs d2h = {0};
    if (gpu && d2h_init(cmd, ctx, ios, &d2h) != CLI_OK) return CLI_FAIL;
    enum { H2D, COMPUTE, D2H, E2E, N_STAGES };
    stage sg[N_STAGES] = {0};
    size_t cap = (size_t)(o->iterations > 16 ? o->iterations : 16), n = 0;
    int rc = CLI_FAIL;
    for (int k = 0; k < N_STAGES; k++)
        if (!(sg[k].v = malloc(cap * sizeof(double)))) goto oom;
    double start = cli_now_ms(), dur_ms = o->duration_s * 1e3;
    while ((long long)n < o->iterations || cli_now_ms() - start < dur_ms) {
        if (n == cap) {
            for (int k = 0; k < N_STAGES; k++) {
                double *g = realloc(sg[k].v, 2 * cap * sizeof(double));
                if (!g) goto oom;
                sg[k].v = g;
            }
            cap *= 2;
        }
        double t0 = cli_now_ms();
        if (gpu && cli_restage_inputs(cmd) != CLI_OK) goto done;
        double t1 = cli_now_ms();
        kiln_status s = kiln_context_execute(ctx);
        double t2 = cli_now_ms();
        if (s != KILN_OK) {
            cli_api_fail(cmd, "running the engine", s, ctx);
            goto done;
        }
        if (gpu && d2h_copy(cmd, ctx, &d2h) != CLI_OK) goto done;
        double t3 = cli_now_ms();
        sg[H2D].v[n] = t1 - t0;
        sg[COMPUTE].v[n] = t2 - t1;
        sg[D2H].v[n] = t3 - t2;
        sg[E2E].v[n] = t3 - t0;
        n++;
    }
    double wall = cli_now_ms() - start, compute_sum = 0;
    for (size_t i = 0; i < n; i++) compute_sum += sg[COMPUTE].v[i];
    for (int k = 0; k < N_STAGES; k++) stage_stats(&sg[k], n);
    /* throughput of the engine alone (compute time), as a pipelined application that overlaps copies would see */
    double thr = compute_sum > 0 ? (double)n * 1e3 / compute_sum : 0;
    if (o->json) {
        printf("{\"model\": ");
        cli_json_str(stdout, o->model);
        printf(", \"device\": ");
        cli_json_str(stdout, kiln_backend_name(kiln_engine_backend(eng->engine)));
        printf(", \"load_ms\": %.3f, \"warmup\": %lld, \"iterations\": %zu, ", eng->load_ms, o->warmup, n);
        print_io_json(ios, vals);
        stage_json("latency_ms", &sg[COMPUTE]);
        if (gpu) {
            stage_json("h2d_ms", &sg[H2D]);
            stage_json("d2h_ms", &sg[D2H]);
            stage_json("end_to_end_ms", &sg[E2E]);
        }
        printf(", \"wall_ms\": %.3f, \"throughput_per_s\": %.3f}\n", wall, thr);
    } else {
        printf("model: %s (%s), loaded in %.1f ms\n", o->model, kiln_backend_name(kiln_engine_backend(eng->engine)),
               eng->load_ms);
        for (int j = 0; j < ios->n_inputs; j++) {
            const cli_io *io = cli_io_at(ios, KILN_IO_INPUT, j);
            char buf[256] = "";
            if (vals[j].kind == KILN_V_TENSOR) cli_dims_str(vals[j].t.rank, vals[j].t.dims, buf, sizeof buf);
            printf("input %s: %s %s\n", io->name, kiln_dtype_name(io->dtype),
                   vals[j].kind == KILN_V_SEQUENCE ? "sequence" : buf);
        }
        printf("%zu iterations after %lld warm-up, %.1f ms\n", n, o->warmup, wall);
        if (gpu) {
            printf("per inference (ms):\n");
            stage_text("  H2D", &sg[H2D]);
            stage_text("  GPU compute", &sg[COMPUTE]);
            stage_text("  D2H", &sg[D2H]);
            stage_text("  end to end", &sg[E2E]);
        } else {
            printf("latency (ms): min %.4f  mean %.4f  median %.4f  p90 %.4f  p95 %.4f  p99 %.4f  max %.4f\n",
                   sg[COMPUTE].st[0], sg[COMPUTE].st[1], sg[COMPUTE].st[2], sg[COMPUTE].st[3], sg[COMPUTE].st[4],
                   sg[COMPUTE].st[5], sg[COMPUTE].st[6]);
        }
        printf("throughput: %.2f inferences/s\n", thr);
    }
    rc = CLI_OK;
    goto done;
oom:
    cli_errorf(cmd, "out of memory");
done:
    for (int k = 0; k < N_STAGES; k++) free(sg[k].v);
    d2h_free(&d2h);
    return rc;
}

static int parse_run_args(int argc, char **argv, run_opts *o) {
    const char *cmd = "run";
    cli_args a = {argc, argv, 1, cmd};
    for (; a.i < argc; a.i++) {
        const char *arg = argv[a.i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(run_usage, stdout);
            return -1;
        }
        int used = cli_build_opts_parse(&a, &o->build, 1);
        if (used < 0) return CLI_USAGE;
        if (used) continue;
        const char *v;
        if (cli_is_opt(&a, "--iterations")) {
            if (!(v = cli_opt_value(&a, "--iterations")) ||
                cli_parse_int(cmd, "--iterations", v, 1, 1000000000, &o->iterations) != CLI_OK)
                return CLI_USAGE;
        } else if (cli_is_opt(&a, "--warmup")) {
            if (!(v = cli_opt_value(&a, "--warmup")) ||
                cli_parse_int(cmd, "--warmup", v, 0, 1000000000, &o->warmup) != CLI_OK)
                return CLI_USAGE;
        } else if (cli_is_opt(&a, "--seed")) {
            if (!(v = cli_opt_value(&a, "--seed")) ||
                cli_parse_int(cmd, "--seed", v, 0, 0x7fffffffffffffffLL, &o->seed) != CLI_OK)
                return CLI_USAGE;
        } else if (cli_is_opt(&a, "--duration")) {
            if (!(v = cli_opt_value(&a, "--duration")) ||
                cli_parse_double(cmd, "--duration", v, 0, 1e7, &o->duration_s) != CLI_OK)
                return CLI_USAGE;
        } else if (cli_is_opt(&a, "--inputs-dir")) {
            if (!(o->inputs_dir = cli_opt_value(&a, "--inputs-dir"))) return CLI_USAGE;
        } else if (cli_is_opt(&a, "--outputs-dir")) {
            if (!(o->outputs_dir = cli_opt_value(&a, "--outputs-dir"))) return CLI_USAGE;
        } else if (strcmp(arg, "--json") == 0) {
            o->json = o->build.json = 1;
        } else if (strcmp(arg, "--no-cuda-graph") == 0) {
            o->no_cuda_graph = 1;
        } else if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
            o->build.verbose++;
        } else if (arg[0] == '-' && arg[1]) {
            return cli_usage_error(cmd, "unknown option '%s'", arg);
        } else if (!o->model) {
            o->model = arg;
        } else {
            return cli_usage_error(cmd, "unexpected argument '%s' (one model at a time)", arg);
        }
    }
    if (!o->model) return cli_usage_error(cmd, "no model given");
    return CLI_OK;
}

int cli_cmd_run(int argc, char **argv) {
    const char *cmd = "run";
    run_opts o = {0};
    o.iterations = 10;
    o.warmup = 2;
    o.seed = 1;
    cli_build_opts_init(&o.build);
    int rc = parse_run_args(argc, argv, &o);
    if (rc != CLI_OK) {
        cli_build_opts_free(&o.build);
        return rc < 0 ? CLI_OK : rc;
    }
    int test_data = o.inputs_dir || o.outputs_dir;
    cli_engine eng = {0};
    cli_io_list_t ios = {0};
    kiln_context *ctx = NULL;
    kiln_value *vals = NULL;
    rc = CLI_FAIL;
    if (o.outputs_dir && make_dir(cmd, o.outputs_dir) != CLI_OK) goto done;

    /* An .onnx whose dynamic inputs the first build does not cover is rebuilt once for the shapes actually fed. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (cli_engine_open(cmd, o.model, &o.build, &eng) != CLI_OK) goto done;
        if (cli_io_list(cmd, eng.engine, &ios) != CLI_OK) goto done;
        vals = calloc((size_t)(ios.n_inputs ? ios.n_inputs : 1), sizeof *vals);
        if (!vals) {
            cli_errorf(cmd, "out of memory");
            goto done;
        }
        cli_current_backend = kiln_engine_backend(eng.engine);
        kiln_status s = kiln_context_create(eng.engine, &ctx);
        if (s != KILN_OK) {
            cli_api_fail(cmd, "creating an execution context", s, eng.engine);
            goto done;
        }
        if (o.no_cuda_graph) kiln_context_set_cuda_graphs(ctx, 0);
        if (prepare_inputs(cmd, &o, eng.engine, &ios, vals) != CLI_OK) goto done;
        int bound = 1;
        for (int j = 0; j < ios.n_inputs && bound; j++) {
            const cli_io *io = cli_io_at(&ios, KILN_IO_INPUT, j);
            if (vals[j].kind == KILN_V_TENSOR && attempt == 0 && eng.from_onnx && o.build.shapes.n == 0 &&
                kiln_context_set_input_shape(ctx, io->name, vals[j].t.rank, vals[j].t.dims) == KILN_ERR_SHAPE) {
                bound = 0;
                break;
            }
            if (cli_bind_input(cmd, ctx, io, &vals[j]) != CLI_OK) goto done;
        }
        if (bound) break;
        if (o.build.verbose) fprintf(stderr, "[info] rebuilding %s for the input shapes given\n", o.model);
        if (shapes_from_values(cmd, &ios, vals, &o.build.shapes) != CLI_OK) goto done;
        for (int j = 0; j < ios.n_inputs; j++) kiln_value_release(&vals[j]);
        free(vals);
        vals = NULL;
        kiln_context_destroy(ctx);
        ctx = NULL;
        cli_free_device_buffers();
        cli_io_list_free(&ios);
        cli_engine_close(&eng);
    }

    if (test_data) {
        double t0 = cli_now_ms();
        kiln_status s = kiln_context_execute(ctx);
        double ms = cli_now_ms() - t0;
        if (s != KILN_OK) {
            char what[1200];
            snprintf(what, sizeof what, "running '%s'", o.model);
            cli_api_fail(cmd, what, s, ctx);
            goto done;
        }
        if (o.outputs_dir && write_outputs(cmd, &o, ctx, &ios) != CLI_OK) goto done;
        if (o.json) {
            printf("{\"model\": ");
            cli_json_str(stdout, o.model);
            printf(", \"load_ms\": %.3f, \"run_ms\": %.3f, \"outputs\": %d}\n", eng.load_ms, ms, ios.n_outputs);
        } else {
            printf("ran %s once in %.3f ms", o.model, ms);
            if (o.outputs_dir) printf("; wrote %d outputs to %s", ios.n_outputs, o.outputs_dir);
            printf("\n");
        }
        rc = CLI_OK;
    } else {
        rc = benchmark(cmd, &o, ctx, &eng, &ios, vals);
    }
done:
    kiln_context_destroy(ctx);
    cli_free_device_buffers();
    for (int j = 0; vals && j < ios.n_inputs; j++) kiln_value_release(&vals[j]);
    free(vals);
    cli_io_list_free(&ios);
    cli_engine_close(&eng);
    cli_build_opts_free(&o.build);
    return rc;
}
