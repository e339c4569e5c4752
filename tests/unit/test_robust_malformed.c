/* The malformed-ONNX catalogue: every model listed in tests/malformed/onnx/EXPECT (written by
 * tests/malformed/make_malformed.py) goes through parse -> build -> load -> run and must fail at the listed stage
 * with the listed status and a message containing the listed text (or pass, for the "ok" controls). Then damage
 * built here at run time: every truncation and a few thousand byte mutations of a valid model, and an external-data
 * symlink that points out of the model's folder. Whatever the input, the process must not crash (a crash fails
 * this test), and a failure must come with a status and a message. */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "robust_util.h"

#define DIR_ONNX "tests/malformed/onnx"

static int n_cases;

/* needle parts separated by " ~ " must all appear in msg, in that order. */
static int contains_in_order(const char *msg, const char *needle) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", needle);
    const char *at = msg;
    for (char *part = buf, *next; part; part = next) {
        next = strstr(part, " ~ ");
        if (next) *next = 0, next += 3;
        const char *hit = strstr(at, part);
        if (!hit) return 0;
        at = hit + strlen(part);
    }
    return 1;
}

static void expect_line(const char *file, const char *stage, const char *status, const char *needle) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DIR_ONNX, file);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "%s: listed in EXPECT but missing (run make_malformed.py)\n", path);
        CHECK(0);
        return;
    }
    int want_status = robust_status_from_name(status);
    CHECK(want_status >= 0);
    robust_outcome o;
    robust_pipeline(path, NULL, 0, &o);
    n_cases++;
    int ok = strcmp(robust_stage_names[o.stage], stage) == 0 && (int)o.status == want_status &&
             contains_in_order(o.msg, needle);
    /* A parse failure also lands in the parser's error list. */
    if (o.stage == STAGE_PARSE) ok = ok && o.n_parser_errors >= 1;
    if (!ok)
        fprintf(stderr, "%s: want %s %s '%s'\n    got  %s %s '%s'\n", file, stage, status, needle,
                robust_stage_names[o.stage], robust_status_name(o.status), o.msg);
    CHECK(ok);
}

static void catalogue(void) {
    FILE *f = fopen(DIR_ONNX "/EXPECT", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = 0;
        char *file = strtok(line, " "), *stage = strtok(NULL, " "), *status = strtok(NULL, " ");
        char *needle = strtok(NULL, "");
        CHECK(file && stage && status);
        if (file && stage && status) expect_line(file, stage, status, needle ? needle : "");
    }
    fclose(f);
}

/* A failure must say something; KILN_ERR_INTERNAL is a kiln bug whatever the input. */
static int sane_failure(const robust_outcome *o) {
    if (o->stage == STAGE_OK) return o->status == KILN_OK;
    return o->status > KILN_OK && o->status < KILN_STATUS_COUNT && o->status != KILN_ERR_INTERNAL && o->msg[0];
}

static void truncations(void) {
    size_t size = 0;
    uint8_t *good = robust_read_file(DIR_ONNX "/valid_dynamic.onnx", &size);
    CHECK(good && size > 50);
    if (!good) return;
    robust_outcome o;
    robust_pipeline(NULL, good, size, &o);
    CHECK(o.stage == STAGE_OK);
    int refused = 0, insane = 0;
    for (size_t n = 0; n < size; n++) {
        uint8_t *cut = malloc(n ? n : 1); /* exact size: reads past the end are caught under ASan */
        memcpy(cut, good, n);
        robust_pipeline(NULL, cut, n, &o);
        free(cut);
        refused += o.stage != STAGE_OK;
        if (!sane_failure(&o)) {
            insane++;
            fprintf(stderr, "truncated to %zu bytes: %s %s '%s'\n", n, robust_stage_names[o.stage],
                    robust_status_name(o.status), o.msg);
        }
    }
    fprintf(stderr, "truncations: %zu lengths, %d refused\n", size, refused);
    CHECK(insane == 0);
    CHECK(refused >= (int)size / 2); /* most prefixes end inside a field */
    free(good);
}

/* Deterministic mutations (flip, set, insert, delete bytes) of a valid model, run through the whole pipeline. */
static void mutations(void) {
    size_t size = 0;
    uint8_t *good = robust_read_file(DIR_ONNX "/valid_dynamic.onnx", &size);
    if (!good) return;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int refused = 0, insane = 0, runs = 3000;
    uint8_t *buf = malloc(size + 16);
    for (int i = 0; i < runs; i++) {
        memcpy(buf, good, size);
        size_t n = size;
        int edits = 1 + i % 4;
        for (int k = 0; k < edits; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x >> 8) % n;
            switch (x % 4) {
            case 0: buf[at] ^= (uint8_t)(1u << (x >> 40) % 8); break;
            case 1: buf[at] = (uint8_t)(x >> 48); break;
            case 2: if (n < size + 16) { memmove(buf + at + 1, buf + at, n - at); buf[at] = (uint8_t)(x >> 32); n++; } break;
            default: if (n > 1) { memmove(buf + at, buf + at + 1, n - at - 1); n--; } break;
            }
        }
        uint8_t *exact = malloc(n);
        memcpy(exact, buf, n);
        robust_outcome o;
        robust_pipeline(NULL, exact, n, &o);
        free(exact);
        refused += o.stage != STAGE_OK;
        if (!sane_failure(&o)) {
            insane++;
            fprintf(stderr, "mutation %d: %s %s '%s'\n", i, robust_stage_names[o.stage], robust_status_name(o.status),
                    o.msg);
        }
    }
    fprintf(stderr, "mutations: %d runs, %d refused, %d ran\n", runs, refused, runs - refused);
    CHECK(insane == 0);
    CHECK(refused > 0 && refused < runs);
    free(buf);
    free(good);
}

/* A weights file that is a symlink to a file outside the model's folder: refused, naming the location. */
static void symlink_escape(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/kiln-robust-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    char outside[600], inner[600], model[700], link[700];
    snprintf(outside, sizeof outside, "%s/outside.bin", dir);
    snprintf(inner, sizeof inner, "%s/model", dir);
    snprintf(model, sizeof model, "%s/model.onnx", inner);
    snprintf(link, sizeof link, "%s/weights.bin", inner);
    CHECK(mkdir(inner, 0700) == 0);
    size_t n = 0;
    uint8_t *bytes = robust_read_file(DIR_ONNX "/ext/ext_ok.onnx", &n);
    uint8_t *w = robust_read_file(DIR_ONNX "/ext/weights.bin", &(size_t){0});
    CHECK(bytes && w);
    FILE *f = fopen(model, "wb");
    CHECK(f && fwrite(bytes, 1, n, f) == n);
    if (f) fclose(f);
    f = fopen(outside, "wb");
    CHECK(f && fwrite(w, 1, 32, f) == 32);
    if (f) fclose(f);
    CHECK(symlink("../outside.bin", link) == 0);
    robust_outcome o;
    robust_pipeline(model, NULL, 0, &o);
    n_cases++;
    CHECK(o.stage == STAGE_PARSE && o.status == KILN_ERR_INVALID_ARGUMENT &&
          strstr(o.msg, "external data location 'weights.bin' escapes the model's folder"));
    if (o.stage != STAGE_PARSE) fprintf(stderr, "symlink: %s '%s'\n", robust_stage_names[o.stage], o.msg);
    /* The same file reached through a symlink that stays inside is fine. */
    unlink(link);
    char real[700];
    snprintf(real, sizeof real, "%s/real.bin", inner);
    CHECK(rename(outside, real) == 0);
    CHECK(symlink("real.bin", link) == 0);
    robust_pipeline(model, NULL, 0, &o);
    CHECK(o.stage == STAGE_OK);
    unlink(link), unlink(real), unlink(model), rmdir(inner), rmdir(dir);
    free(bytes);
    free(w);
}

int main(void) {
    catalogue();
    symlink_escape();
    truncations();
    mutations();
    fprintf(stderr, "malformed catalogue: %d listed cases\n", n_cases);
    CHECK(n_cases >= 50);
    return CHECK_DONE();
}
