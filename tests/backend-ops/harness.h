/* backend-ops harness: runs one node on the CPU reference and on its CUDA kernel and compares the outputs.
 *
 * A case is described with the small builder below (begin, add_in / add_vals / add_absent, a_int / a_float /
 * a_str / a_ints / a_floats, outputs, tol, then run_case). The CUDA side calls the kernel's supports / prepare / run
 * directly with a kiln_cuda_kctx filled here: device inputs are uploaded by the harness (inputs flagged in
 * host_inputs stay on the host), and kiln_cuda_kout / kiln_cuda_kout_alias / kiln_cuda_scratch are provided by
 * this file (plain cudaMalloc'd buffers), which is all a kernel needs from an executor. */
#ifndef KILN_BACKEND_OPS_HARNESS_H
#define KILN_BACKEND_OPS_HARNESS_H

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cuda/cuda_op.h"
#include "backends/cuda/kernel-errors.h"
#include "core/broadcast.h"
#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "runtime/exec.h"

#define MAX_IN 8
#define MAX_OUT 8
#define MAX_ATTR 12

/* ---------------------------------------------------------------- executor stand-in ----------------------------- */
typedef struct harness {
    kiln_cuda_tensor outs[MAX_OUT];
    void *buf[MAX_OUT];
    size_t cap[MAX_OUT];
    int alias[MAX_OUT];
    void *scratch;
    size_t scratch_cap;
} harness;

static harness H;

kiln_status kiln_cuda_kout(kiln_cuda_kctx *k, int i, kiln_dtype dtype, int rank, const int64_t *dims,
                           kiln_cuda_tensor **out) {
    harness *h = (harness *)k->exec;
    KILN_FAIL_IF(i < 0 || i >= k->n_out || i >= MAX_OUT, KILN_ERR_INTERNAL, "kout: output %d of %d", i, k->n_out);
    int64_t n = kiln_numel(rank, dims);
    KILN_FAIL_IF(n < 0, KILN_ERR_SHAPE, "kout: bad shape");
    size_t bytes = (size_t)n * kiln_dtype_size(dtype);
    if (bytes == 0) bytes = 1;
    if (h->cap[i] < bytes) {
        if (h->buf[i]) cudaFree(h->buf[i]);
        h->buf[i] = NULL;
        h->cap[i] = 0;
        KILN_CUDA_CHECK(cudaMalloc(&h->buf[i], bytes));
        h->cap[i] = bytes;
    }
    kiln_cuda_tensor *t = &h->outs[i];
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->rank = rank;
    for (int d = 0; d < rank; d++) t->dims[d] = dims[d];
    t->data = h->buf[i];
    h->alias[i] = 0;
    *out = t;
    return KILN_OK;
}

kiln_status kiln_cuda_kout_alias(kiln_cuda_kctx *k, int i, const kiln_cuda_tensor *src, int rank,
                                 const int64_t *dims) {
    harness *h = (harness *)k->exec;
    KILN_FAIL_IF(i < 0 || i >= k->n_out || i >= MAX_OUT, KILN_ERR_INTERNAL, "kout_alias: output %d", i);
    int64_t a = 1;
    for (int d = 0; d < src->rank; d++) a *= src->dims[d];
    KILN_FAIL_IF(kiln_numel(rank, dims) != a, KILN_ERR_SHAPE, "kout_alias: element counts differ");
    kiln_cuda_tensor *t = &h->outs[i];
    memset(t, 0, sizeof *t);
    t->dtype = src->dtype;
    t->rank = rank;
    for (int d = 0; d < rank; d++) t->dims[d] = dims[d];
    t->data = src->data;
    h->alias[i] = 1;
    return KILN_OK;
}

kiln_status kiln_cuda_scratch(kiln_cuda_kctx *k, size_t bytes, void **ptr) {
    harness *h = (harness *)k->exec;
    if (h->scratch_cap < bytes) {
        if (h->scratch) cudaFree(h->scratch); /* cudaFree waits for the device: no kernel still uses it */
        h->scratch = NULL;
        h->scratch_cap = 0;
        KILN_CUDA_CHECK(cudaMalloc(&h->scratch, bytes));
        h->scratch_cap = bytes;
    }
    *ptr = h->scratch;
    return KILN_OK;
}

/* ---------------------------------------------------------------- case description ------------------------------ */
enum { G_UNI = 0, G_NZ, G_INT, G_HALVES, G_BOOL, G_VALS, G_ABSENT, G_FVALS };

typedef struct tin {
    kiln_dtype dt;
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    int gen;
    double lo, hi;
    int64_t vals[32];
    double fvals[32]; /* G_FVALS: fractional scales, roi, NaN / infinities */
    int n_vals;
    int is_const; /* an initializer of the graph (a weight), not a graph input */
} tin;

typedef struct tcase {
    const char *op;
    int opset;
    char label[160];
    int n_in, n_out;
    tin in[MAX_IN];
    kiln_attr attrs[MAX_ATTR];
    int n_attrs;
    char strs[MAX_ATTR][32];
    int64_t ints[MAX_ATTR][16];
    float floats[MAX_ATTR][16];
    double rtol, atol;          /* float32 tolerances; 16-bit outputs use max(these, the format's own) */
    int expect_unsupported;     /* supports() must refuse */
} tcase;

static tcase C;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double urand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

#define SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

static void begin(const char *op, int opset, const char *fmt, ...) {
    memset(&C, 0, sizeof C);
    C.op = op;
    C.opset = opset;
    C.n_out = 1;
    C.rtol = 1e-4;
    C.atol = 1e-5;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(C.label, sizeof C.label, fmt, ap);
    va_end(ap);
}

static tin *add_in(kiln_dtype dt, int gen, double lo, double hi, int rank, const int64_t *dims) {
    tin *t = &C.in[C.n_in++];
    memset(t, 0, sizeof *t);
    t->dt = dt, t->gen = gen, t->lo = lo, t->hi = hi, t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    return t;
}
/* A 1-D int tensor with the given values (shape arguments, axes, indices, ...). */
static tin *add_vals(kiln_dtype dt, int n, const int64_t *v) {
    tin *t = add_in(dt, G_VALS, 0, 0, 1, (int64_t[]){n});
    t->n_vals = n;
    for (int i = 0; i < n; i++) t->vals[i] = v[i];
    return t;
}
/* A 1-D float tensor with the given values (Resize scales / roi, special values). */
static tin *add_fvals(kiln_dtype dt, int n, const double *v) {
    tin *t = add_in(dt, G_FVALS, 0, 0, 1, (int64_t[]){n});
    t->n_vals = n;
    for (int i = 0; i < n; i++) t->fvals[i] = v[i];
    return t;
}
/* A rank-0 tensor holding v. */
static tin *add_scalar(kiln_dtype dt, double v) {
    tin *t = add_in(dt, G_VALS, 0, 0, 0, NULL);
    t->n_vals = 1;
    t->vals[0] = 0;
    t->lo = v;
    return t;
}
/* The last input added becomes a constant initializer (what a builder sees for weights and fixed flags). */
static void konst(void) { C.in[C.n_in - 1].is_const = 1; }
static void add_absent(void) { add_in(KILN_UNDEFINED, G_ABSENT, 0, 0, 0, NULL); }

static kiln_attr *new_attr(const char *name, kiln_attr_type type) {
    kiln_attr *a = &C.attrs[C.n_attrs++];
    memset(a, 0, sizeof *a);
    a->name = name;
    a->type = type;
    return a;
}
static void a_int(const char *name, int64_t v) { new_attr(name, KILN_ATTR_INT)->i = v; }
static void a_float(const char *name, float v) { new_attr(name, KILN_ATTR_FLOAT)->f = v; }
static void a_str(const char *name, const char *s) {
    int i = C.n_attrs;
    kiln_attr *a = new_attr(name, KILN_ATTR_STRING);
    snprintf(C.strs[i], sizeof C.strs[i], "%s", s);
    a->s = C.strs[i];
    a->s_len = strlen(s);
}
/* List attributes (at most 16 elements) keep their values in the case's row for that attribute. */
static void a_ints(const char *name, int n, const int64_t *v) {
    kiln_attr *a = new_attr(name, KILN_ATTR_INTS);
    a->ints = C.ints[C.n_attrs - 1];
    for (int j = 0; j < n; j++) a->ints[j] = v[j];
    a->n = n;
}
static void a_floats(const char *name, int n, const float *v) { /* Upsample-7 scales, ... */
    kiln_attr *a = new_attr(name, KILN_ATTR_FLOATS);
    a->floats = C.floats[C.n_attrs - 1];
    for (int j = 0; j < n; j++) a->floats[j] = v[j];
    a->n = n;
}
static void tol(double rtol, double atol) {
    C.rtol = rtol;
    C.atol = atol;
}

/* ---------------------------------------------------------------- bookkeeping ----------------------------------- */
#define MAX_OPS 128
typedef struct op_stat {
    char name[40];
    int pass, fail;
    double max_abs, max_rel;
} op_stat;
static op_stat stats[MAX_OPS];
static int n_stats;
static FILE *json;
static int json_first = 1;

static op_stat *stat_for(const char *op) {
    for (int i = 0; i < n_stats; i++)
        if (!strcmp(stats[i].name, op)) return &stats[i];
    if (n_stats == MAX_OPS) return &stats[MAX_OPS - 1];
    op_stat *s = &stats[n_stats++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", op);
    return s;
}

static void report(const char *verdict, double max_abs, double max_rel, const char *detail) {
    op_stat *s = stat_for(C.op);
    int ok = !strcmp(verdict, "PASS");
    if (ok) s->pass++;
    else s->fail++;
    if (ok && max_abs > s->max_abs) s->max_abs = max_abs;
    if (ok && max_rel > s->max_rel) s->max_rel = max_rel;
    printf("%-4s %-22s op%-2d %-58s max_abs=%.3g max_rel=%.3g%s%s\n", verdict, C.op, C.opset, C.label, max_abs,
           max_rel, detail && *detail ? "  " : "", detail ? detail : "");
    if (json) {
        fprintf(json,
                "%s\n    {\"op\": \"%s\", \"opset\": %d, \"case\": \"%s\", \"verdict\": \"%s\", "
                "\"max_abs\": %.6g, \"max_rel\": %.6g}",
                json_first ? "" : ",", C.op, C.opset, C.label, verdict, max_abs, max_rel);
        json_first = 0;
    }
}

#endif
