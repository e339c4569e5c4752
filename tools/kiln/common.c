#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ------------------------------------------------------------------------------------------------ messages */
void cli_errorf(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kiln%s%s: error: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_api_fail(const char *cmd, const char *what, kiln_status s, const void *handle) {
    const char *text = kiln_last_error(handle);
    if (!text || !*text) text = kiln_last_error(NULL);
    if (text && *text)
        cli_errorf(cmd, "%s: %s: %s", what, kiln_status_string(s), text);
    else
        cli_errorf(cmd, "%s: %s", what, kiln_status_string(s));
    return CLI_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kiln%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'kiln%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    va_end(ap);
    return CLI_USAGE;
}

/* ------------------------------------------------------------------------------------------------ options */
int cli_is_opt(const cli_args *a, const char *name) {
    const char *s = a->argv[a->i];
    size_t n = strlen(name);
    return strncmp(s, name, n) == 0 && (s[n] == 0 || s[n] == '=');
}

const char *cli_opt_value(cli_args *a, const char *name) {
    const char *s = a->argv[a->i];
    size_t n = strlen(name);
    if (s[n] == '=') return s + n + 1;
    if (a->i + 1 >= a->argc) {
        cli_usage_error(a->cmd, "option %s needs a value", name);
        return NULL;
    }
    a->i++;
    return a->argv[a->i];
}

int cli_parse_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return cli_usage_error(cmd, "%s: '%s' is not an integer in [%lld, %lld]", opt, s, lo, hi);
    *out = v;
    return CLI_OK;
}

int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return cli_usage_error(cmd, "%s: '%s' is not a number in [%g, %g]", opt, s, lo, hi);
    *out = v;
    return CLI_OK;
}

/* ------------------------------------------------------------------------------------------------ shapes */
static int parse_dims(const char *s, int *rank, int64_t *dims) {
    *rank = 0;
    if (!*s || strcmp(s, "scalar") == 0) return 0;
    for (;;) {
        if (!isdigit((unsigned char)*s)) return -1;
        char *end = NULL;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || v < 0) return -1;
        if (*rank >= KILN_MAX_DIMS) return -1;
        dims[(*rank)++] = v;
        s = end;
        if (!*s) return 0;
        if (*s != 'x' && *s != 'X') return -1;
        s++;
    }
}

int cli_shapes_parse(const char *cmd, const char *opt, const char *spec, cli_shape_list *out) {
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *item = malloc(len + 1);
        if (!item) {
            cli_errorf(cmd, "out of memory");
            return CLI_FAIL;
        }
        memcpy(item, p, len);
        item[len] = 0;
        char *colon = strrchr(item, ':');
        cli_shape sh = {0};
        if (!colon || colon == item || parse_dims(colon + 1, &sh.rank, sh.dims) != 0) {
            int r = cli_usage_error(cmd, "%s: bad shape '%s' (expected name:DxDxD, e.g. input:1x3x224x224)", opt,
                                    item);
            free(item);
            return r;
        }
        *colon = 0;
        sh.name = item;
        cli_shape *grown = realloc(out->items, (size_t)(out->n + 1) * sizeof *grown);
        if (!grown) {
            free(item);
            cli_errorf(cmd, "out of memory");
            return CLI_FAIL;
        }
        out->items = grown;
        /* A later mention of the same input wins, as on most command lines. */
        int k;
        for (k = 0; k < out->n; k++)
            if (strcmp(out->items[k].name, sh.name) == 0) break;
        if (k < out->n) {
            free(out->items[k].name);
            out->items[k] = sh;
        } else {
            out->items[out->n++] = sh;
        }
        if (!comma) break;
        p = comma + 1;
    }
    return CLI_OK;
}

const cli_shape *cli_shapes_find(const cli_shape_list *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0) return &l->items[i];
    return NULL;
}

void cli_shapes_free(cli_shape_list *l) {
    for (int i = 0; i < l->n; i++) free(l->items[i].name);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

const char *cli_dims_str(int rank, const int64_t *dims, char *buf, size_t cap) {
    if (cap == 0) return buf;
    buf[0] = 0;
    if (rank < 0) {
        snprintf(buf, cap, "?");
        return buf;
    }
    if (rank == 0) {
        snprintf(buf, cap, "scalar");
        return buf;
    }
    size_t n = 0;
    for (int i = 0; i < rank && n < cap; i++) {
        const char *sep = i ? "x" : "";
        /* INT64_MAX is how an unbounded profile range reads back. */
        int w = dims[i] < 0           ? snprintf(buf + n, cap - n, "%s?", sep)
                : dims[i] == INT64_MAX ? snprintf(buf + n, cap - n, "%sinf", sep)
                                       : snprintf(buf + n, cap - n, "%s%lld", sep, (long long)dims[i]);
        if (w < 0) break;
        n += (size_t)w;
    }
    return buf;
}

/* ------------------------------------------------------------------------------------------------ misc */
double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static const char *const sev_names[] = {"internal error", "error", "warning", "info", "verbose"};
_Static_assert(sizeof(sev_names) / sizeof(sev_names[0]) == KILN_SEVERITY_COUNT, "severity names");

static int log_verbosity, log_json;

static void cli_log(void *user, kiln_severity sev, const char *msg) {
    (void)user;
    /* The library logs a failure as ERROR and also returns it; the CLI prints every returned failure with its
     * kiln_last_error text, so ERROR lines would only repeat it (shown with --verbose). */
    int shown = sev == KILN_SEV_INTERNAL_ERROR || sev == KILN_SEV_WARNING ||
                (sev == KILN_SEV_ERROR && log_verbosity >= 1) || (sev == KILN_SEV_INFO && log_verbosity >= 1) ||
                (sev == KILN_SEV_VERBOSE && log_verbosity >= 2);
    if (!shown || (unsigned)sev >= KILN_SEVERITY_COUNT) return;
    /* Problems always go to stderr; what the builder did goes with the rest of the report on stdout, except in
     * --json mode, where stdout holds one JSON object and nothing else. */
    FILE *f = sev <= KILN_SEV_WARNING || log_json ? stderr : stdout;
    fprintf(f, "[%s] %s\n", sev_names[sev], msg);
    if (f == stdout) fflush(stdout);
}

static const kiln_logger the_logger = {cli_log, NULL};

const kiln_logger *cli_logger(int verbosity, int json) {
    log_verbosity = verbosity;
    log_json = json;
    return &the_logger;
}

void cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

int cli_is_onnx_path(const char *path) {
    size_t n = strlen(path);
    return n >= 5 && strcmp(path + n - 5, ".onnx") == 0;
}
