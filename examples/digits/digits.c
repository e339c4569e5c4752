/*
 * kiln-digits: the two-phase workflow end to end on a small trained CNN, using only the public API.
 *
 *   build phase : logger -> builder -> network <- ONNX parser; config (+ optimization profile for the dynamic
 *                 batch) -> kiln_build_serialized -> plan file
 *   run phase   : runtime -> kiln_engine_load_file -> context -> set_input_shape / set_tensor_address ->
 *                 execute, once per held-out image (latency) and in batches (throughput) -> argmax -> accuracy
 *
 * A CUDA engine takes device addresses (as TensorRT's do): the run phase then stages each batch through device
 * buffers from kiln_device_alloc (host -> device copy, execute, device -> host copy) and times the three apart.
 *
 * usage: kiln-digits [options] model.onnx digits_test.bin      (see usage() below)
 * Exit status: 0 when accuracy >= the threshold, 1 when below, 2 on any error.
 */
#include "kiln.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_CLASSES 10
#define WARMUP_RUNS 20

typedef struct options {
    const char *model_path;
    const char *test_path;
    const char *plan_path;
    const char *input_name;
    kiln_backend backend;
    int max_batch;
    int repeat;         /* passes over the test set in the latency loop */
    double min_accuracy; /* percent */
    int verbose;
} options;

/* ------------------------------------------------------------------------------------------------ test set ---- */
/* digits_test.bin, little-endian: "KDIG", u32 version (1), u32 count, channels, height, width,
 * f32 images[count][c][h][w] (already normalized as in training), u8 labels[count]. Written by demo/train.py. */
typedef struct test_set {
    uint32_t count, channels, height, width;
    float *images;
    uint8_t *labels;
} test_set;

static uint32_t read_u32le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int load_test_set(const char *path, test_set *ts) {
    memset(ts, 0, sizeof *ts);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "kiln-digits: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned char hdr[24];
    int rc = -1;
    if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr || memcmp(hdr, "KDIG", 4) != 0) {
        fprintf(stderr, "kiln-digits: %s: not a digits test set (bad header)\n", path);
        goto done;
    }
    uint32_t version = read_u32le(hdr + 4);
    ts->count = read_u32le(hdr + 8);
    ts->channels = read_u32le(hdr + 12);
    ts->height = read_u32le(hdr + 16);
    ts->width = read_u32le(hdr + 20);
    if (version != 1 || ts->count == 0 || ts->count > 1000000 || ts->channels == 0 || ts->channels > 64 ||
        ts->height == 0 || ts->height > 1024 || ts->width == 0 || ts->width > 1024) {
        fprintf(stderr, "kiln-digits: %s: unsupported version %u or implausible dims %u x %u x %u x %u\n", path,
                version, ts->count, ts->channels, ts->height, ts->width);
        goto done;
    }
    size_t n_floats = (size_t)ts->count * ts->channels * ts->height * ts->width;
    ts->images = malloc(n_floats * sizeof(float));
    ts->labels = malloc(ts->count);
    if (!ts->images || !ts->labels) {
        fprintf(stderr, "kiln-digits: out of memory reading %s\n", path);
        goto done;
    }
    unsigned char *raw = (unsigned char *)ts->images;
    if (fread(raw, sizeof(float), n_floats, f) != n_floats || fread(ts->labels, 1, ts->count, f) != ts->count) {
        fprintf(stderr, "kiln-digits: %s: truncated (expected %u images and labels)\n", path, ts->count);
        goto done;
    }
    /* The file is little-endian; convert in place so the demo is also right on a big-endian host. */
    for (size_t i = 0; i < n_floats; i++) {
        uint32_t u = read_u32le(raw + 4 * i);
        memcpy(&ts->images[i], &u, sizeof u);
    }
    for (uint32_t i = 0; i < ts->count; i++) {
        if (ts->labels[i] >= N_CLASSES) {
            fprintf(stderr, "kiln-digits: %s: label %u of image %u is out of range\n", path, ts->labels[i], i);
            goto done;
        }
    }
    rc = 0;
done:
    fclose(f);
    if (rc != 0) {
        free(ts->images);
        free(ts->labels);
        memset(ts, 0, sizeof *ts);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------------ helpers ----- */
static const char *severity_name(kiln_severity s) {
    switch (s) {
    case KILN_SEV_INTERNAL_ERROR: return "INTERNAL ERROR";
    case KILN_SEV_ERROR: return "ERROR";
    case KILN_SEV_WARNING: return "WARNING";
    case KILN_SEV_INFO: return "INFO";
    case KILN_SEV_VERBOSE: return "VERBOSE";
    default: return "?";
    }
}

/* Forwards what the library reports (what the builder fused, chose, folded) so the demo shows its work. */
static void demo_log(void *user, kiln_severity severity, const char *msg) {
    const options *o = user;
    if (severity == KILN_SEV_VERBOSE && !o->verbose) return;
    FILE *out = severity <= KILN_SEV_WARNING ? stderr : stdout;
    fprintf(out, "  [kiln %s] %s\n", severity_name(severity), msg);
}

/* Prints a failed call with the library's text for the handle it failed on; returns nonzero when `s` failed. */
static int failed(kiln_status s, const void *handle, const char *what) {
    if (s == KILN_OK) return 0;
    const char *detail = kiln_last_error(handle);
    if (!detail || !*detail) detail = kiln_last_error(NULL);
    fprintf(stderr, "kiln-digits: %s failed: %s%s%s\n", what, kiln_status_string(s), detail && *detail ? ": " : "",
            detail ? detail : "");
    return 1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double percentile(const double *sorted, size_t n, double p) {
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

static int argmax10(const float *v) {
    int best = 0;
    for (int i = 1; i < N_CLASSES; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static void print_dims(const char *label, int rank, const int64_t *dims) {
    printf("%s[", label);
    for (int i = 0; i < rank; i++) printf(i ? ", %lld" : "%lld", (long long)dims[i]);
    printf("]");
}

/* ------------------------------------------------------------------------------------------------ build ------- */
static int print_parser_errors(const kiln_onnx_parser *parser) {
    int n = kiln_onnx_parser_error_count(parser);
    for (int i = 0; i < n; i++) {
        kiln_parser_error e;
        if (kiln_onnx_parser_get_error(parser, i, &e) != KILN_OK) continue;
        if (e.node_index >= 0)
            fprintf(stderr, "  parser error %d: node %d '%s' (%s): %s\n", i, e.node_index,
                    e.node_name ? e.node_name : "", e.op_type ? e.op_type : "", e.reason ? e.reason : "");
        else
            fprintf(stderr, "  parser error %d: %s\n", i, e.reason ? e.reason : "");
    }
    return n;
}

/* Build phase: ONNX file -> plan file. Everything created here is destroyed before the run phase starts, as in a
 * deployment where the plan is built once, offline. */
static int build_plan(const options *o, const kiln_logger *logger, const test_set *ts) {
    kiln_builder *builder = NULL;
    kiln_network *network = NULL;
    kiln_onnx_parser *parser = NULL;
    kiln_config *config = NULL;
    kiln_profile *profile = NULL;
    kiln_blob *plan = NULL;
    int rc = -1;

    printf("== build phase: %s -> %s\n", o->model_path, o->plan_path);
    double t0 = now_ms();
    if (failed(kiln_builder_create(logger, &builder), NULL, "kiln_builder_create")) goto done;
    if (failed(kiln_network_create(builder, &network), builder, "kiln_network_create")) goto done;
    if (failed(kiln_onnx_parser_create(network, &parser), network, "kiln_onnx_parser_create")) goto done;
    kiln_status s = kiln_onnx_parse_file(parser, o->model_path);
    if (s != KILN_OK) {
        failed(s, parser, "kiln_onnx_parse_file");
        print_parser_errors(parser);
        goto done;
    }
    int n_nodes = 0, n_in = 0, n_out = 0;
    if (failed(kiln_network_node_count(network, &n_nodes), network, "kiln_network_node_count") ||
        failed(kiln_network_input_count(network, &n_in), network, "kiln_network_input_count") ||
        failed(kiln_network_output_count(network, &n_out), network, "kiln_network_output_count"))
        goto done;
    printf("parsed: %d nodes, %d input(s), %d output(s)\n", n_nodes, n_in, n_out);
    if (n_in != 1 || n_out != 1) {
        fprintf(stderr, "kiln-digits: expected a model with one input and one output\n");
        goto done;
    }

    if (failed(kiln_config_create(builder, &config), builder, "kiln_config_create")) goto done;
    if (failed(kiln_config_set_backend(config, o->backend), config, "kiln_config_set_backend")) goto done;
    /* The exported batch dimension is dynamic: the profile tells the builder which batch sizes to plan for
     * (1 for the latency loop, max_batch for the throughput loop). */
    if (failed(kiln_profile_create(builder, &profile), builder, "kiln_profile_create")) goto done;
    int64_t dmin[4] = {1, ts->channels, ts->height, ts->width};
    int64_t dmax[4] = {o->max_batch, ts->channels, ts->height, ts->width};
    if (failed(kiln_profile_set_shape(profile, o->input_name, KILN_PROFILE_MIN, 4, dmin), profile,
               "kiln_profile_set_shape(min)") ||
        failed(kiln_profile_set_shape(profile, o->input_name, KILN_PROFILE_OPT, 4, dmin), profile,
               "kiln_profile_set_shape(opt)") ||
        failed(kiln_profile_set_shape(profile, o->input_name, KILN_PROFILE_MAX, 4, dmax), profile,
               "kiln_profile_set_shape(max)"))
        goto done;
    if (failed(kiln_config_add_profile(config, profile), config, "kiln_config_add_profile")) goto done;

    if (failed(kiln_build_serialized(builder, network, config, &plan), builder, "kiln_build_serialized")) goto done;
    if (failed(kiln_blob_write_file(plan, o->plan_path), plan, "kiln_blob_write_file")) goto done;
    printf("built plan: %zu bytes in %.1f ms (parse + build + write)\n", kiln_blob_size(plan), now_ms() - t0);
    rc = 0;
done:
    kiln_blob_destroy(plan);
    kiln_profile_destroy(profile);
    kiln_config_destroy(config);
    kiln_onnx_parser_destroy(parser);
    kiln_network_destroy(network);
    kiln_builder_destroy(builder);
    return rc;
}

/* ------------------------------------------------------------------------------------------------ run --------- */
typedef struct io_names {
    const char *input, *output;
} io_names;

/* Device staging for a CUDA engine: buffers for max_batch images and logits, and the last run's stage times. */
typedef struct gpu_stage {
    int on;
    void *d_in, *d_out;
    double h2d_ms, compute_ms, d2h_ms;
} gpu_stage;

static int gpu_stage_init(gpu_stage *g, const kiln_engine *engine, const test_set *ts, int max_batch) {
    memset(g, 0, sizeof *g);
    if (kiln_engine_backend(engine) != KILN_BACKEND_CUDA) return 0;
    g->on = 1;
    size_t in_bytes = (size_t)max_batch * ts->channels * ts->height * ts->width * sizeof(float);
    size_t out_bytes = (size_t)max_batch * N_CLASSES * sizeof(float);
    if (failed(kiln_device_alloc(in_bytes, &g->d_in), NULL, "kiln_device_alloc(input)") ||
        failed(kiln_device_alloc(out_bytes, &g->d_out), NULL, "kiln_device_alloc(output)"))
        return -1;
    printf("device staging: %zu + %zu bytes of GPU memory for batches up to %d\n", in_bytes, out_bytes, max_batch);
    return 0;
}

static void gpu_stage_free(gpu_stage *g) {
    kiln_device_free(g->d_in);
    kiln_device_free(g->d_out);
    memset(g, 0, sizeof *g);
}

/* Checks the engine's I/O against what the test set needs: one float input [N, C, H, W] (N may be dynamic) and one
 * float output [N, 10]. */
static int inspect_engine(const kiln_engine *engine, const test_set *ts, io_names *io) {
    io->input = io->output = NULL;
    int n_io = kiln_engine_io_count(engine);
    printf("engine: backend %s, %d layer(s), %d I/O tensor(s)\n", kiln_backend_name(kiln_engine_backend(engine)),
           kiln_engine_layer_count(engine), n_io);
    for (int i = 0; i < n_io; i++) {
        const char *name = kiln_engine_io_name(engine, i);
        kiln_io_mode mode;
        kiln_value_kind kind;
        kiln_dtype dtype;
        int rank = 0;
        int64_t dims[KILN_MAX_DIMS];
        if (!name || failed(kiln_engine_io_info(engine, name, &mode, &kind, &dtype, &rank, dims), engine,
                            "kiln_engine_io_info"))
            return -1;
        printf("  %s '%s' %s ", mode == KILN_IO_INPUT ? "input " : "output", name, kiln_dtype_name(dtype));
        print_dims("", rank, dims);
        printf("\n");
        int ok = kind == KILN_KIND_TENSOR && dtype == KILN_FLOAT;
        if (mode == KILN_IO_INPUT) {
            ok = ok && !io->input && rank == 4 && (dims[0] == -1 || dims[0] >= 1) && dims[1] == ts->channels &&
                 dims[2] == ts->height && dims[3] == ts->width;
            io->input = name;
        } else {
            ok = ok && !io->output && rank == 2 && dims[1] == N_CLASSES;
            io->output = name;
        }
        if (!ok) {
            fprintf(stderr, "kiln-digits: engine I/O '%s' does not fit the test set (want input [N, %u, %u, %u] "
                            "and output [N, %d], float)\n", name, ts->channels, ts->height, ts->width, N_CLASSES);
            return -1;
        }
    }
    if (!io->input || !io->output) {
        fprintf(stderr, "kiln-digits: engine lacks an input or an output\n");
        return -1;
    }
    for (int i = 0; i < kiln_engine_layer_count(engine); i++) {
        const char *info = kiln_engine_layer_info(engine, i);
        printf("  layer %2d: %s\n", i, info ? info : "?");
    }
    return 0;
}

/* Runs `batch` images starting at `first`; writes predictions. */
static int run_batch(kiln_context *ctx, const io_names *io, const test_set *ts, gpu_stage *g, uint32_t first,
                     int batch, float *logits, int *pred) {
    size_t img = (size_t)ts->channels * ts->height * ts->width;
    size_t in_bytes = (size_t)batch * img * sizeof(float), out_bytes = (size_t)batch * N_CLASSES * sizeof(float);
    int64_t dims[4] = {batch, ts->channels, ts->height, ts->width};
    const float *host_in = ts->images + first * img;
    void *in = (void *)host_in, *out = logits;
    if (g->on) { /* the copies are synchronous (stream NULL), so host clocks time each stage */
        double t = now_ms();
        if (failed(kiln_device_copy(g->d_in, host_in, in_bytes, KILN_COPY_HOST_TO_DEVICE, NULL), NULL,
                   "kiln_device_copy(input)"))
            return -1;
        g->h2d_ms = now_ms() - t;
        in = g->d_in;
        out = g->d_out;
    }
    double t = now_ms();
    if (failed(kiln_context_set_input_shape(ctx, io->input, 4, dims), ctx, "kiln_context_set_input_shape") ||
        failed(kiln_context_set_tensor_address(ctx, io->input, in, in_bytes), ctx,
               "kiln_context_set_tensor_address(input)") ||
        failed(kiln_context_set_tensor_address(ctx, io->output, out, out_bytes), ctx,
               "kiln_context_set_tensor_address(output)") ||
        failed(kiln_context_execute(ctx), ctx, "kiln_context_execute"))
        return -1;
    g->compute_ms = now_ms() - t;
    if (g->on) {
        t = now_ms();
        if (failed(kiln_device_copy(logits, g->d_out, out_bytes, KILN_COPY_DEVICE_TO_HOST, NULL), NULL,
                   "kiln_device_copy(output)"))
            return -1;
        g->d2h_ms = now_ms() - t;
    }
    for (int b = 0; b < batch; b++) pred[b] = argmax10(logits + (size_t)b * N_CLASSES);
    return 0;
}

/* Run phase: plan file -> predictions. Returns the accuracy in percent, or -1 on error. */
static double run_plan(const options *o, const kiln_logger *logger, const test_set *ts) {
    kiln_runtime *runtime = NULL;
    kiln_engine *engine = NULL;
    kiln_context *ctx = NULL;
    size_t n_timed = (size_t)ts->count * (size_t)o->repeat;
    double *lat = malloc(n_timed * sizeof(double));
    double *stage_ms = malloc(3 * n_timed * sizeof(double)); /* H2D, compute, D2H per timed run (GPU) */
    float *logits = malloc((size_t)o->max_batch * N_CLASSES * sizeof(float));
    int *pred = malloc((size_t)o->max_batch * sizeof(int));
    double accuracy = -1;
    io_names io;
    gpu_stage g = {0};

    printf("== run phase: %s\n", o->plan_path);
    if (!lat || !stage_ms || !logits || !pred) {
        fprintf(stderr, "kiln-digits: out of memory\n");
        goto done;
    }
    double t0 = now_ms();
    if (failed(kiln_runtime_create(logger, &runtime), NULL, "kiln_runtime_create")) goto done;
    if (failed(kiln_engine_load_file(runtime, o->plan_path, &engine), runtime, "kiln_engine_load_file")) goto done;
    if (failed(kiln_context_create(engine, &ctx), engine, "kiln_context_create")) goto done;
    double t_load = now_ms() - t0;
    if (inspect_engine(engine, ts, &io) != 0) goto done;
    if (gpu_stage_init(&g, engine, ts, o->max_batch) != 0) goto done;

    /* First inference separately: a deployment cares about load + first result. */
    t0 = now_ms();
    if (run_batch(ctx, &io, ts, &g, 0, 1, logits, pred) != 0) goto done;
    printf("plan load + context: %.3f ms, first inference: %.3f ms\n", t_load, now_ms() - t0);
    for (int i = 0; i < WARMUP_RUNS; i++)
        if (run_batch(ctx, &io, ts, &g, (uint32_t)i % ts->count, 1, logits, pred) != 0) goto done;

    /* Latency: one image per execute, as an online service would run it. Later passes must predict exactly what
     * the first did (the engine is deterministic). */
    uint32_t correct = 0;
    int confusion[N_CLASSES][N_CLASSES] = {{0}};
    int *first_pred = malloc(ts->count * sizeof(int));
    if (!first_pred) {
        fprintf(stderr, "kiln-digits: out of memory\n");
        goto done;
    }
    double t_all = now_ms();
    for (int r = 0; r < o->repeat; r++) {
        for (uint32_t i = 0; i < ts->count; i++) {
            double t = now_ms();
            if (run_batch(ctx, &io, ts, &g, i, 1, logits, pred) != 0) {
                free(first_pred);
                goto done;
            }
            size_t k = (size_t)r * ts->count + i;
            lat[k] = now_ms() - t;
            stage_ms[k] = g.h2d_ms;
            stage_ms[n_timed + k] = g.compute_ms;
            stage_ms[2 * n_timed + k] = g.d2h_ms;
            if (r == 0) {
                first_pred[i] = pred[0];
                correct += pred[0] == ts->labels[i];
                confusion[ts->labels[i]][pred[0]]++;
            } else if (pred[0] != first_pred[i]) {
                fprintf(stderr, "kiln-digits: image %u predicted %d in pass %d but %d in the first\n", i, pred[0],
                        r + 1, first_pred[i]);
                free(first_pred);
                goto done;
            }
        }
    }
    t_all = now_ms() - t_all;
    free(first_pred);
    qsort(lat, n_timed, sizeof(double), cmp_double);
    accuracy = 100.0 * correct / ts->count;
    printf("batch 1: accuracy %u/%u = %.2f%%\n", correct, ts->count, accuracy);
    printf("batch 1: latency per image over %zu runs: median %.4f ms, p90 %.4f ms, p99 %.4f ms, min %.4f ms; "
           "throughput %.0f images/s\n", n_timed, percentile(lat, n_timed, 50), percentile(lat, n_timed, 90),
           percentile(lat, n_timed, 99), lat[0], (double)n_timed / (t_all / 1e3));
    if (g.on) {
        for (int st = 0; st < 3; st++) qsort(stage_ms + st * n_timed, n_timed, sizeof(double), cmp_double);
        printf("batch 1: GPU stages, median (p90): H2D %.4f (%.4f) ms, compute %.4f (%.4f) ms, D2H %.4f (%.4f) ms\n",
               percentile(stage_ms, n_timed, 50), percentile(stage_ms, n_timed, 90),
               percentile(stage_ms + n_timed, n_timed, 50), percentile(stage_ms + n_timed, n_timed, 90),
               percentile(stage_ms + 2 * n_timed, n_timed, 50), percentile(stage_ms + 2 * n_timed, n_timed, 90));
    }
    printf("confusion (row = true digit, column = predicted):\n");
    for (int r = 0; r < N_CLASSES; r++) {
        printf("  %d |", r);
        for (int c = 0; c < N_CLASSES; c++) printf(" %3d", confusion[r][c]);
        printf("\n");
    }

    /* Throughput: the whole set in batches of max_batch, through the dynamic batch dimension. The predictions must
     * agree with the batch-1 pass. */
    if (o->max_batch > 1) {
        uint32_t correct_b = 0;
        double h2d = 0, compute = 0, d2h = 0;
        double t_b = now_ms();
        for (uint32_t i = 0; i < ts->count; i += (uint32_t)o->max_batch) {
            int n = ts->count - i < (uint32_t)o->max_batch ? (int)(ts->count - i) : o->max_batch;
            if (run_batch(ctx, &io, ts, &g, i, n, logits, pred) != 0) goto done;
            for (int b = 0; b < n; b++) correct_b += pred[b] == ts->labels[i + b];
            h2d += g.h2d_ms;
            compute += g.compute_ms;
            d2h += g.d2h_ms;
        }
        t_b = now_ms() - t_b;
        printf("batch %d: accuracy %u/%u = %.2f%%; throughput %.0f images/s\n", o->max_batch, correct_b, ts->count,
               100.0 * correct_b / ts->count, ts->count / (t_b / 1e3));
        if (g.on)
            printf("batch %d: GPU stages, total over the set: H2D %.3f ms, compute %.3f ms, D2H %.3f ms\n",
                   o->max_batch, h2d, compute, d2h);
        if (correct_b != correct) {
            fprintf(stderr, "kiln-digits: batched run got %u correct but batch-1 run got %u\n", correct_b, correct);
            accuracy = -1;
        }
    }
done:
    gpu_stage_free(&g);
    kiln_context_destroy(ctx);
    kiln_engine_destroy(engine);
    kiln_runtime_destroy(runtime);
    free(pred);
    free(logits);
    free(stage_ms);
    free(lat);
    return accuracy;
}

/* ------------------------------------------------------------------------------------------------ main -------- */
static void usage(FILE *f) {
    fprintf(f,
            "usage: kiln-digits [options] model.onnx digits_test.bin\n"
            "Builds a plan from the ONNX model, loads it, classifies every held-out image, reports accuracy and\n"
            "latency. Exit status: 0 accuracy >= threshold, 1 below it, 2 on error.\n"
            "  --plan PATH           where to write the plan (default digits_cnn.plan)\n"
            "  --backend NAME        auto | cpu | cuda (default auto: CUDA when a GPU is present)\n"
            "  --input NAME          model input the profile is for (default input)\n"
            "  --batch N             batch size of the throughput pass (default 64; 1 skips it)\n"
            "  --repeat N            passes over the test set in the latency loop (default 1)\n"
            "  --min-accuracy PCT    threshold for the exit status (default 95)\n"
            "  --verbose             also show the library's VERBOSE messages\n");
}

static int parse_args(int argc, char **argv, options *o) {
    *o = (options){.plan_path = "digits_cnn.plan", .input_name = "input", .backend = KILN_BACKEND_AUTO,
                   .max_batch = 64, .repeat = 1, .min_accuracy = 95.0};
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--verbose")) {
            o->verbose = 1;
        } else if (!strcmp(a, "--plan") || !strcmp(a, "--backend") || !strcmp(a, "--input") ||
                   !strcmp(a, "--batch") || !strcmp(a, "--repeat") || !strcmp(a, "--min-accuracy")) {
            if (!val) {
                fprintf(stderr, "kiln-digits: %s needs a value\n", a);
                return -1;
            }
            i++;
            char *end = NULL;
            if (!strcmp(a, "--plan")) {
                o->plan_path = val;
            } else if (!strcmp(a, "--input")) {
                o->input_name = val;
            } else if (!strcmp(a, "--backend")) {
                if (!strcmp(val, "auto")) o->backend = KILN_BACKEND_AUTO;
                else if (!strcmp(val, "cpu")) o->backend = KILN_BACKEND_CPU;
                else if (!strcmp(val, "cuda")) o->backend = KILN_BACKEND_CUDA;
                else {
                    fprintf(stderr, "kiln-digits: unknown backend '%s' (auto, cpu, cuda)\n", val);
                    return -1;
                }
            } else if (!strcmp(a, "--batch")) {
                long v = strtol(val, &end, 10);
                if (!*val || *end || v < 1 || v > 4096) {
                    fprintf(stderr, "kiln-digits: --batch wants an integer in 1..4096, got '%s'\n", val);
                    return -1;
                }
                o->max_batch = (int)v;
            } else if (!strcmp(a, "--repeat")) {
                long v = strtol(val, &end, 10);
                if (!*val || *end || v < 1 || v > 10000) {
                    fprintf(stderr, "kiln-digits: --repeat wants an integer in 1..10000, got '%s'\n", val);
                    return -1;
                }
                o->repeat = (int)v;
            } else {
                double v = strtod(val, &end);
                if (!*val || *end || v < 0 || v > 100) {
                    fprintf(stderr, "kiln-digits: --min-accuracy wants a percentage, got '%s'\n", val);
                    return -1;
                }
                o->min_accuracy = v;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "kiln-digits: unknown option '%s'\n", a);
            return -1;
        } else if (n_pos == 0) {
            o->model_path = a;
            n_pos++;
        } else if (n_pos == 1) {
            o->test_path = a;
            n_pos++;
        } else {
            fprintf(stderr, "kiln-digits: unexpected argument '%s'\n", a);
            return -1;
        }
    }
    if (n_pos != 2) {
        usage(stderr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o) != 0) return 2;
    test_set ts;
    if (load_test_set(o.test_path, &ts) != 0) return 2;
    printf("kiln %s: %u held-out images of %ux%ux%u from %s\n", kiln_version(), ts.count, ts.channels, ts.height,
           ts.width, o.test_path);

    kiln_logger logger = {demo_log, &o};
    int rc = 2;
    if (build_plan(&o, &logger, &ts) == 0) {
        double acc = run_plan(&o, &logger, &ts);
        if (acc >= 0) {
            rc = acc >= o.min_accuracy ? 0 : 1;
            printf("%s: accuracy %.2f%% %s the %.2f%% threshold\n", rc == 0 ? "PASS" : "FAIL", acc,
                   rc == 0 ? "meets" : "is below", o.min_accuracy);
        }
    }
    free(ts.images);
    free(ts.labels);
    return rc;
}
