/*
 * kiln-classify: the seed's sample app. Decode an image (JPEG, PNG, ...), pre-process it on the GPU into the
 * network's input (bilinear resize + mean/std normalization in one kernel), run the engine, softmax, top-5.
 * Public API only (include/kiln.h): no CUDA headers, device memory through kiln_device_* / kiln_stream_*.
 *
 *   kiln-classify --model net.onnx | --plan net.plan [options] image.jpg|png ...     (see usage() below)
 *
 * GPU engine: pixels (uint8, a quarter of the bytes of a float input) -> H2D -> kiln_preprocess_image on the
 * stream -> kiln_context_enqueue on the same stream -> D2H of the logits. CPU engine: the same pre-processing by
 * the CPU reference, then execute. Every stage is timed on its own (the stream is synchronized between stages for
 * that, which a throughput-minded application would not do). Exit status 0 when every image was classified, 2 on
 * any error.
 */
#include "kiln.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct options {
    const char *model_path, *plan_path, *save_plan, *labels_path, *input_name;
    kiln_backend backend;
    int size, top, bgr, fp16, verbose;
    float mean[3], std[3];
    const char **images;
    int n_images;
} options;

/* ------------------------------------------------------------------------------------------------ helpers ----- */
static int failed(kiln_status s, const void *handle, const char *what) {
    if (s == KILN_OK) return 0;
    const char *detail = kiln_last_error(handle);
    if (!detail || !*detail) detail = kiln_last_error(NULL);
    fprintf(stderr, "kiln-classify: %s failed: %s%s%s\n", what, kiln_status_string(s), detail && *detail ? ": " : "",
            detail ? detail : "");
    return 1;
}

static void app_log(void *user, kiln_severity severity, const char *msg) {
    const options *o = user;
    if (severity <= KILN_SEV_WARNING || (o->verbose && severity <= KILN_SEV_INFO))
        fprintf(stderr, "  [kiln] %s\n", msg);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Whole file into memory; NULL (with a message) on failure. */
static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "kiln-classify: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "kiln-classify: out of memory reading %s\n", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "kiln-classify: error reading %s\n", path);
        free(buf);
        return NULL;
    }
    *size = n;
    return buf;
}

/* One label per line (index = line number); trailing CR/LF stripped. */
typedef struct labels {
    char *text;
    char **line;
    int n;
} labels;

static int load_labels(const char *path, labels *l) {
    memset(l, 0, sizeof *l);
    size_t size = 0;
    l->text = (char *)read_file(path, &size);
    if (!l->text) return -1;
    char *t = realloc(l->text, size + 1);
    if (!t) return -1;
    l->text = t;
    t[size] = 0;
    int lines = 1;
    for (size_t i = 0; i < size; i++) lines += t[i] == '\n';
    l->line = malloc((size_t)lines * sizeof(char *));
    if (!l->line) return -1;
    for (char *p = t; *p || l->n == 0;) {
        char *nl = strchr(p, '\n');
        l->line[l->n++] = p;
        if (!nl) break;
        *nl = 0;
        if (nl > p && nl[-1] == '\r') nl[-1] = 0;
        p = nl + 1;
        if (!*p) break;
    }
    return 0;
}

static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 1024), e - 25);
    return h & 0x8000 ? -v : v;
}

/* ------------------------------------------------------------------------------------------------ engine ------ */
/* Builds a plan from the ONNX model (kept in *blob: the engine borrows it) or maps a plan file. */
static int open_engine(const options *o, const kiln_logger *logger, kiln_runtime *rt, kiln_blob **blob,
                       kiln_engine **engine) {
    if (o->plan_path) return failed(kiln_engine_load_file(rt, o->plan_path, engine), rt, "kiln_engine_load_file");
    kiln_builder *b = NULL;
    kiln_network *net = NULL;
    kiln_onnx_parser *parser = NULL;
    kiln_config *cfg = NULL;
    kiln_profile *prof = NULL;
    int rc = 1;
    if (failed(kiln_builder_create(logger, &b), NULL, "kiln_builder_create") ||
        failed(kiln_network_create(b, &net), b, "kiln_network_create") ||
        failed(kiln_onnx_parser_create(net, &parser), net, "kiln_onnx_parser_create"))
        goto done;
    kiln_status s = kiln_onnx_parse_file(parser, o->model_path);
    if (s != KILN_OK) {
        failed(s, parser, "kiln_onnx_parse_file");
        for (int i = 0; i < kiln_onnx_parser_error_count(parser); i++) {
            kiln_parser_error e;
            if (kiln_onnx_parser_get_error(parser, i, &e) == KILN_OK)
                fprintf(stderr, "  node %d '%s' (%s): %s\n", e.node_index, e.node_name, e.op_type, e.reason);
        }
        goto done;
    }
    if (failed(kiln_config_create(b, &cfg), b, "kiln_config_create") ||
        failed(kiln_config_set_backend(cfg, o->backend), cfg, "kiln_config_set_backend") ||
        (o->fp16 && failed(kiln_config_set_flag(cfg, KILN_FLAG_FP16, 1), cfg, "kiln_config_set_flag(FP16)")))
        goto done;
    if (o->input_name) { /* a dynamic input: plan exactly for one image at --size */
        int64_t dims[4] = {1, 3, o->size, o->size};
        if (failed(kiln_profile_create(b, &prof), b, "kiln_profile_create")) goto done;
        for (int w = KILN_PROFILE_MIN; w <= KILN_PROFILE_MAX; w++)
            if (failed(kiln_profile_set_shape(prof, o->input_name, (kiln_profile_selector)w, 4, dims), prof,
                       "kiln_profile_set_shape"))
                goto done;
        if (failed(kiln_config_add_profile(cfg, prof), cfg, "kiln_config_add_profile")) goto done;
    }
    if (failed(kiln_build_serialized(b, net, cfg, blob), b, "kiln_build_serialized")) goto done;
    if (o->save_plan && failed(kiln_blob_write_file(*blob, o->save_plan), *blob, "kiln_blob_write_file")) goto done;
    rc = failed(kiln_engine_deserialize(rt, kiln_blob_data(*blob), kiln_blob_size(*blob), engine), rt,
                "kiln_engine_deserialize");
done:
    kiln_profile_destroy(prof);
    kiln_config_destroy(cfg);
    kiln_onnx_parser_destroy(parser);
    kiln_network_destroy(net);
    kiln_builder_destroy(b);
    return rc;
}

/* What the app needs to know about the engine's I/O: one image input [1, C, H, W] (C 1 or 3) and one output
 * holding the class scores. */
typedef struct io_desc {
    const char *in, *out;
    kiln_dtype in_dtype, out_dtype;
    int64_t in_dims[4];
    int dynamic;          /* the input has dynamic dims: set its shape before running */
    size_t n_classes;
} io_desc;

static int inspect(const kiln_engine *e, const options *o, io_desc *io) {
    memset(io, 0, sizeof *io);
    for (int i = 0; i < kiln_engine_io_count(e); i++) {
        const char *name = kiln_engine_io_name(e, i);
        kiln_io_mode mode;
        kiln_value_kind kind;
        kiln_dtype dt;
        int rank = 0;
        int64_t dims[KILN_MAX_DIMS];
        if (!name || failed(kiln_engine_io_info(e, name, &mode, &kind, &dt, &rank, dims), e, "kiln_engine_io_info"))
            return -1;
        if (kind != KILN_KIND_TENSOR || (dt != KILN_FLOAT && dt != KILN_FLOAT16)) {
            fprintf(stderr, "kiln-classify: I/O '%s' is not a float32/float16 tensor\n", name);
            return -1;
        }
        if (mode == KILN_IO_INPUT) {
            if (io->in || rank != 4 || (dims[1] != 1 && dims[1] != 3)) {
                fprintf(stderr, "kiln-classify: the model must have one image input [N, 1 or 3, H, W]%s\n",
                        io->in ? "" : " (this one differs)");
                return -1;
            }
            io->in = name;
            io->in_dtype = dt;
            for (int d = 0; d < 4; d++) {
                io->dynamic |= dims[d] < 0;
                io->in_dims[d] = dims[d] >= 0 ? dims[d] : d == 0 ? 1 : o->size;
            }
            if (io->in_dims[0] != 1) {
                fprintf(stderr, "kiln-classify: input '%s' has batch %lld; this app runs one image at a time\n", name,
                        (long long)io->in_dims[0]);
                return -1;
            }
        } else if (!io->out) { /* the first output holds the scores: [N, K], [K] or [N, K, 1, 1] */
            io->out = name;
            io->out_dtype = dt;
            io->n_classes = 1;
            for (int d = 0; d < rank; d++) {
                if (dims[d] < 0 && d != 0) {
                    fprintf(stderr, "kiln-classify: output '%s' has a dynamic class dimension\n", name);
                    return -1;
                }
                io->n_classes *= (size_t)(dims[d] < 0 ? 1 : dims[d]);
            }
        }
    }
    if (!io->in || !io->out || io->n_classes == 0) {
        fprintf(stderr, "kiln-classify: the engine needs an image input and a score output\n");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------ run --------- */
typedef struct stages {
    double decode, h2d, preprocess, inference, d2h;
} stages;

/* Per-run state: the context and, on a GPU engine, the stream and device buffers (grown as images need). */
typedef struct runner {
    const options *o;
    kiln_context *ctx;
    io_desc io;
    int gpu;
    void *stream, *d_pixels, *d_input, *d_output;
    size_t pixels_cap;
    void *h_input;        /* CPU engine: the pre-processed input */
    void *h_output;       /* scores as the engine writes them (float or half) */
    float *scores;
} runner;

static size_t input_bytes(const io_desc *io) {
    return (size_t)(io->in_dims[1] * io->in_dims[2] * io->in_dims[3]) * kiln_dtype_size(io->in_dtype);
}

static int runner_init(runner *r, kiln_engine *e, const options *o) {
    memset(r, 0, sizeof *r);
    r->o = o;
    if (inspect(e, o, &r->io) != 0) return -1;
    if (failed(kiln_context_create(e, &r->ctx), e, "kiln_context_create")) return -1;
    if (r->io.dynamic &&
        failed(kiln_context_set_input_shape(r->ctx, r->io.in, 4, r->io.in_dims), r->ctx, "kiln_context_set_input_shape"))
        return -1;
    size_t out_bytes = r->io.n_classes * kiln_dtype_size(r->io.out_dtype);
    r->gpu = kiln_engine_backend(e) == KILN_BACKEND_CUDA;
    r->h_output = malloc(out_bytes);
    r->scores = malloc(r->io.n_classes * sizeof(float));
    if (!r->h_output || !r->scores) return -1;
    void *in = NULL, *out = r->h_output;
    if (r->gpu) {
        if (failed(kiln_stream_create(&r->stream), NULL, "kiln_stream_create") ||
            failed(kiln_device_alloc(input_bytes(&r->io), &r->d_input), NULL, "kiln_device_alloc(input)") ||
            failed(kiln_device_alloc(out_bytes, &r->d_output), NULL, "kiln_device_alloc(output)"))
            return -1;
        in = r->d_input;
        out = r->d_output;
    } else {
        r->h_input = malloc(input_bytes(&r->io));
        if (!r->h_input) return -1;
        in = r->h_input;
    }
    if (failed(kiln_context_set_tensor_address(r->ctx, r->io.in, in, input_bytes(&r->io)), r->ctx,
               "kiln_context_set_tensor_address(input)") ||
        failed(kiln_context_set_tensor_address(r->ctx, r->io.out, out, out_bytes), r->ctx,
               "kiln_context_set_tensor_address(output)"))
        return -1;
    return 0;
}

static void runner_free(runner *r) {
    kiln_context_destroy(r->ctx);
    kiln_device_free(r->d_pixels);
    kiln_device_free(r->d_input);
    kiln_device_free(r->d_output);
    kiln_stream_destroy(r->stream);
    free(r->h_input);
    free(r->h_output);
    free(r->scores);
}

/* Pixels -> scores; fills the H2D / preprocess / inference / D2H times. */
static int classify_pixels(runner *r, const uint8_t *pixels, int h, int w, stages *t) {
    const options *o = r->o;
    const io_desc *io = &r->io;
    int channels = (int)io->in_dims[1];
    size_t n_bytes = (size_t)h * w * channels;
    kiln_preprocess_desc d = {.src = pixels, .src_height = h, .src_width = w, .src_channels = channels,
                              .dst = r->h_input, .dst_dtype = io->in_dtype, .dst_height = (int)io->in_dims[2],
                              .dst_width = (int)io->in_dims[3], .dst_channels = channels,
                              .swap_rb = o->bgr}; /* the pre-processing reorders RGB to BGR on the way */
    memcpy(d.mean, o->mean, sizeof d.mean);
    memcpy(d.std, o->std, sizeof d.std);
    size_t out_bytes = io->n_classes * kiln_dtype_size(io->out_dtype);
    double t0 = now_ms();
    if (r->gpu) {
        if (n_bytes > r->pixels_cap) {
            kiln_device_free(r->d_pixels);
            r->d_pixels = NULL;
            r->pixels_cap = 0;
            if (failed(kiln_device_alloc(n_bytes, &r->d_pixels), NULL, "kiln_device_alloc(pixels)")) return -1;
            r->pixels_cap = n_bytes;
        }
        if (failed(kiln_device_copy(r->d_pixels, pixels, n_bytes, KILN_COPY_HOST_TO_DEVICE, r->stream), NULL,
                   "kiln_device_copy(pixels)") ||
            failed(kiln_stream_synchronize(r->stream), NULL, "kiln_stream_synchronize(H2D)"))
            return -1;
        t->h2d = now_ms() - t0;
        d.src = r->d_pixels;
        d.dst = r->d_input;
        t0 = now_ms();
        if (failed(kiln_preprocess_image(&d, KILN_BACKEND_CUDA, r->stream), NULL, "kiln_preprocess_image") ||
            failed(kiln_stream_synchronize(r->stream), NULL, "kiln_stream_synchronize(preprocess)"))
            return -1;
        t->preprocess = now_ms() - t0;
        t0 = now_ms();
        if (failed(kiln_context_enqueue(r->ctx, r->stream), r->ctx, "kiln_context_enqueue") ||
            failed(kiln_stream_synchronize(r->stream), NULL, "kiln_stream_synchronize(inference)"))
            return -1;
        t->inference = now_ms() - t0;
        t0 = now_ms();
        if (failed(kiln_device_copy(r->h_output, r->d_output, out_bytes, KILN_COPY_DEVICE_TO_HOST, NULL), NULL,
                   "kiln_device_copy(scores)"))
            return -1;
        t->d2h = now_ms() - t0;
    } else {
        t->h2d = t->d2h = 0;
        if (failed(kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL), NULL, "kiln_preprocess_image")) return -1;
        t->preprocess = now_ms() - t0;
        t0 = now_ms();
        if (failed(kiln_context_execute(r->ctx), r->ctx, "kiln_context_execute")) return -1;
        t->inference = now_ms() - t0;
    }
    for (size_t i = 0; i < io->n_classes; i++)
        r->scores[i] = io->out_dtype == KILN_FLOAT16 ? half_to_float(((uint16_t *)r->h_output)[i])
                                                     : ((float *)r->h_output)[i];
    return 0;
}

/* Softmax (in double, max-subtracted) and the top k, printed. */
static void print_top(const float *scores, size_t n, int k, const labels *l) {
    double mx = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) mx = scores[i] > mx ? scores[i] : mx;
    for (size_t i = 0; i < n; i++) sum += exp(scores[i] - mx);
    int idx[64];
    if (k > (int)n) k = (int)n;
    for (int j = 0; j < k; j++) { /* selection: k is small */
        long best = -1;
        for (size_t i = 0; i < n; i++) {
            int taken = 0;
            for (int q = 0; q < j; q++) taken |= idx[q] == (int)i;
            if (!taken && (best < 0 || scores[i] > scores[best])) best = (long)i;
        }
        idx[j] = (int)best;
    }
    printf("  top-%d:\n", k);
    for (int j = 0; j < k; j++) {
        const char *name = l->n > idx[j] ? l->line[idx[j]] : "";
        printf("    #%d class %d p=%.6f logit=%.6f %s\n", j + 1, idx[j], exp(scores[idx[j]] - mx) / sum,
               scores[idx[j]], name);
    }
}

static int classify_file(runner *r, const char *path, const labels *l, stages *total) {
    const options *o = r->o;
    size_t size = 0;
    unsigned char *enc = read_file(path, &size);
    if (!enc) return -1;
    stages t = {0};
    uint8_t *pixels = NULL;
    int h = 0, w = 0, channels = (int)r->io.in_dims[1];
    double t0 = now_ms();
    kiln_status s = kiln_decode_image(enc, size, channels, 0, &pixels, &h, &w);
    t.decode = now_ms() - t0;
    free(enc);
    if (s != KILN_OK) {
        fprintf(stderr, "kiln-classify: %s: ", path);
        failed(s, NULL, "kiln_decode_image");
        return -1;
    }
    int rc = classify_pixels(r, pixels, h, w, &t);
    kiln_image_pixels_free(pixels);
    if (rc != 0) return -1;
    printf("%s: %dx%d -> %s [1, %lld, %lld, %lld] on %s\n", path, w, h, kiln_dtype_name(r->io.in_dtype),
           (long long)r->io.in_dims[1], (long long)r->io.in_dims[2], (long long)r->io.in_dims[3],
           r->gpu ? "CUDA" : "CPU");
    if (r->gpu)
        printf("  times: decode %.3f ms, H2D %.3f ms, preprocess %.3f ms, inference %.3f ms, D2H %.3f ms\n", t.decode,
               t.h2d, t.preprocess, t.inference, t.d2h);
    else
        printf("  times: decode %.3f ms, preprocess %.3f ms (CPU), inference %.3f ms\n", t.decode, t.preprocess,
               t.inference);
    print_top(r->scores, r->io.n_classes, o->top, l);
    total->decode += t.decode;
    total->h2d += t.h2d;
    total->preprocess += t.preprocess;
    total->inference += t.inference;
    total->d2h += t.d2h;
    return 0;
}

/* ------------------------------------------------------------------------------------------------ main -------- */
static void usage(FILE *f) {
    fprintf(f,
            "usage: kiln-classify (--model NET.onnx | --plan NET.plan) [options] IMAGE...\n"
            "Decodes each image (JPEG, PNG, BMP, PNM, ...), resizes and normalizes it into the network input (on the\n"
            "GPU for a CUDA engine), runs the engine and prints the top classes with softmax probabilities.\n"
            "  --model PATH        ONNX model: the plan is built first (--save-plan PATH keeps it)\n"
            "  --plan PATH         serialized plan from `kiln build` or --save-plan\n"
            "  --backend NAME      auto | cpu | cuda, for --model (default auto: CUDA when a GPU is present)\n"
            "  --fp16              set the builder FP16 flag (recorded; FP16 kernels not selected yet)\n"
            "  --labels PATH       class names, one per line\n"
            "  --size N            input height and width where the model leaves them dynamic (default 224)\n"
            "  --input NAME        the dynamic input to plan for at --size (needed for dynamic models with --model)\n"
            "  --mean A,B,C        per input channel, after scaling to 0..1 (default 0.485,0.456,0.406)\n"
            "  --std A,B,C         per input channel (default 0.229,0.224,0.225)\n"
            "  --bgr               feed channels in BGR order (--mean and --std then list B, G, R)\n"
            "  --top K             classes to print (default 5, at most 64)\n"
            "  --verbose           show the library's INFO messages\n");
}

static int parse_triple(const char *s, float v[3]) {
    char *end = NULL;
    for (int i = 0; i < 3; i++) {
        v[i] = strtof(s, &end);
        if (end == s || !isfinite(v[i])) return -1;
        if (i < 2) {
            if (*end != ',') return -1;
            s = end + 1;
        }
    }
    return *end ? -1 : 0;
}

static int parse_args(int argc, char **argv, options *o) {
    *o = (options){.backend = KILN_BACKEND_AUTO, .size = 224, .top = 5, .mean = {0.485f, 0.456f, 0.406f},
                   .std = {0.229f, 0.224f, 0.225f}};
    o->images = calloc((size_t)argc, sizeof(char *));
    if (!o->images) return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--bgr")) {
            o->bgr = 1;
        } else if (!strcmp(a, "--fp16")) {
            o->fp16 = 1;
        } else if (!strcmp(a, "--verbose")) {
            o->verbose = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            if (!val) {
                fprintf(stderr, "kiln-classify: %s needs a value\n", a);
                return -1;
            }
            i++;
            char *end = NULL;
            long n = 0;
            if (!strcmp(a, "--model")) o->model_path = val;
            else if (!strcmp(a, "--plan")) o->plan_path = val;
            else if (!strcmp(a, "--save-plan")) o->save_plan = val;
            else if (!strcmp(a, "--labels")) o->labels_path = val;
            else if (!strcmp(a, "--input")) o->input_name = val;
            else if (!strcmp(a, "--backend")) {
                if (!strcmp(val, "auto")) o->backend = KILN_BACKEND_AUTO;
                else if (!strcmp(val, "cpu")) o->backend = KILN_BACKEND_CPU;
                else if (!strcmp(val, "cuda")) o->backend = KILN_BACKEND_CUDA;
                else {
                    fprintf(stderr, "kiln-classify: unknown backend '%s' (auto, cpu, cuda)\n", val);
                    return -1;
                }
            } else if (!strcmp(a, "--size") || !strcmp(a, "--top")) {
                n = strtol(val, &end, 10);
                int top = !strcmp(a, "--top");
                if (!*val || *end || n < 1 || n > (top ? 64 : 8192)) {
                    fprintf(stderr, "kiln-classify: %s wants an integer in 1..%d, got '%s'\n", a, top ? 64 : 8192, val);
                    return -1;
                }
                *(top ? &o->top : &o->size) = (int)n;
            } else if (!strcmp(a, "--mean") || !strcmp(a, "--std")) {
                float *v = !strcmp(a, "--mean") ? o->mean : o->std;
                if (parse_triple(val, v) != 0) {
                    fprintf(stderr, "kiln-classify: %s wants three numbers like 0.5,0.5,0.5, got '%s'\n", a, val);
                    return -1;
                }
            } else {
                fprintf(stderr, "kiln-classify: unknown option '%s'\n", a);
                return -1;
            }
        } else {
            o->images[o->n_images++] = a;
        }
    }
    if (!o->model_path == !o->plan_path || o->n_images == 0) {
        usage(stderr);
        return -1;
    }
    for (int c = 0; c < 3; c++) {
        if (o->std[c] == 0) {
            fprintf(stderr, "kiln-classify: --std must not contain 0\n");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o) != 0) {
        free(o.images);
        return 2;
    }
    kiln_logger logger = {app_log, &o};
    kiln_runtime *rt = NULL;
    kiln_blob *blob = NULL;
    kiln_engine *engine = NULL;
    labels l = {0};
    runner r = {0};
    int rc = 2, ok = 0;
    if (o.labels_path && load_labels(o.labels_path, &l) != 0) goto done;
    double t0 = now_ms();
    if (failed(kiln_runtime_create(&logger, &rt), NULL, "kiln_runtime_create")) goto done;
    if (open_engine(&o, &logger, rt, &blob, &engine) != 0) goto done;
    printf("engine: %s from %s in %.1f ms (%s)\n", kiln_backend_name(kiln_engine_backend(engine)),
           o.plan_path ? o.plan_path : o.model_path, now_ms() - t0, o.plan_path ? "load" : "parse + build + load");
    if (runner_init(&r, engine, &o) != 0) goto done;
    stages total = {0};
    for (int i = 0; i < o.n_images; i++) ok += classify_file(&r, o.images[i], &l, &total) == 0;
    if (o.n_images > 1)
        printf("total over %d images: decode %.3f ms, H2D %.3f ms, preprocess %.3f ms, inference %.3f ms, "
               "D2H %.3f ms\n", ok, total.decode, total.h2d, total.preprocess, total.inference, total.d2h);
    rc = ok == o.n_images ? 0 : 2;
done:
    runner_free(&r);
    kiln_engine_destroy(engine);
    kiln_blob_destroy(blob);
    kiln_runtime_destroy(rt);
    free(l.line);
    free(l.text);
    free(o.images);
    return rc;
}
