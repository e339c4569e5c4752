/* CPU kernels: random generators (RandomUniform, RandomNormal, their *Like forms, Bernoulli, Multinomial; see
 * registry.h).
 *
 * Semantics kiln documents (the ONNX spec leaves the generator open, so no two runtimes draw the same numbers):
 * a node's stream is xoshiro256** seeded from the `seed` attribute when present, else from a fixed per-node
 * value; each execution of the node continues the stream (an atomic call counter picks the sub-stream), so two
 * runs of one engine draw different numbers while a fresh engine reproduces the same sequence. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/registry.h"
#include "core/dtype.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(rng *r) {
    uint64_t res = rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;
    r->s[2] ^= r->s[0], r->s[3] ^= r->s[1], r->s[1] ^= r->s[2], r->s[0] ^= r->s[3], r->s[2] ^= t;
    r->s[3] = rotl(r->s[3], 45);
    return res;
}

/* Uniform in [0, 1) with 53 random bits. */
static double next_unit(rng *r) { return (double)(next_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

static double next_normal(rng *r) {
    double u1 = next_unit(r), u2 = next_unit(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

typedef struct rand_params {
    int kind; /* 0 uniform, 1 normal, 2 bernoulli, 3 multinomial */
    int like;
    double a, b; /* low/high or mean/scale */
    uint64_t seed;
    kiln_dtype dtype; /* 0: from the input (Like forms) or the op's default */
    int64_t dims[KILN_MAX_DIMS];
    int rank;
    int64_t sample_size;
    _Atomic uint64_t calls;
} rand_params;

static kiln_status rand_prepare_kind(const kiln_node *n, int kind, int like, void **out) {
    rand_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    p->kind = kind;
    p->like = like;
    if (kind == 0) p->a = kiln_attr_float(n, "low", 0), p->b = kiln_attr_float(n, "high", 1);
    if (kind == 1) p->a = kiln_attr_float(n, "mean", 0), p->b = kiln_attr_float(n, "scale", 1);
    const kiln_attr *s = kiln_node_attr(n, "seed");
    if (s) {
        double sv = s->type == KILN_ATTR_FLOAT ? s->f : (double)s->i;
        memcpy(&p->seed, &sv, sizeof sv);
    } else {
        p->seed = 0x6b696c6e; /* fixed default: a fresh engine reproduces its draws */
        for (const char *c = n->name; *c; c++) p->seed = p->seed * 131 + (unsigned char)*c;
    }
    p->dtype = (kiln_dtype)kiln_attr_int(n, "dtype", 0);
    p->sample_size = kiln_attr_int(n, "sample_size", 1);
    int cnt;
    const int64_t *shape = kiln_attr_ints(n, "shape", &cnt);
    if (!like && kind <= 1) {
        KILN_FAIL_IF(!shape || cnt > KILN_MAX_DIMS, KILN_ERR_INVALID_GRAPH, "random op needs a shape of rank <= %d",
                     KILN_MAX_DIMS);
        p->rank = cnt;
        for (int i = 0; i < cnt; i++) p->dims[i] = shape[i];
    }
    return KILN_OK;
}

static kiln_status uniform_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return rand_prepare_kind(n, 0, 0, o); }
static kiln_status normal_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return rand_prepare_kind(n, 1, 0, o); }
static kiln_status uniform_like_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return rand_prepare_kind(n, 0, 1, o); }
static kiln_status normal_like_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return rand_prepare_kind(n, 1, 1, o); }
static kiln_status bernoulli_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return rand_prepare_kind(n, 2, 1, o); }
static kiln_status multinomial_prepare(const kiln_node *n, const kiln_graph *g, void **o) { (void)g; return rand_prepare_kind(n, 3, 1, o); }

static void rng_for_call(const rand_params *p, rng *r) {
    rand_params *mp = (rand_params *)p; /* only the atomic counter changes */
    uint64_t call = atomic_fetch_add(&mp->calls, 1);
    uint64_t x = p->seed ^ (call * 0xd1b54a32d192ed03ull);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&x);
}

static kiln_status rand_run(kiln_kctx *k) {
    const rand_params *p = k->params;
    rng r;
    rng_for_call(p, &r);
    const kiln_tensor *x = p->like ? kiln_kin(k, 0) : NULL;
    KILN_FAIL_IF(p->like && !x, KILN_ERR_INVALID_GRAPH, "input 0 is required");
    kiln_tensor *y;
    if (p->kind == 3) { /* Multinomial: x [batch, classes] of unnormalized log-probabilities */
        KILN_FAIL_IF(x->rank != 2, KILN_ERR_SHAPE, "Multinomial input must be [batch, classes]");
        kiln_dtype dt = p->dtype ? p->dtype : KILN_INT32;
        int64_t dims[2] = {x->dims[0], p->sample_size};
        KILN_TRY(kiln_kout(k, 0, dt, 2, dims, &y));
        int64_t C = x->dims[1];
        for (int64_t b = 0; b < x->dims[0]; b++) {
            double total = 0, mx = -INFINITY;
            for (int64_t c = 0; c < C; c++) mx = fmax(mx, kiln_load_f64(x->dtype, x->data, b * C + c));
            for (int64_t c = 0; c < C; c++) total += exp(kiln_load_f64(x->dtype, x->data, b * C + c) - mx);
            for (int64_t s = 0; s < p->sample_size; s++) {
                double u = next_unit(&r) * total, acc = 0;
                int64_t pick = C - 1;
                for (int64_t c = 0; c < C; c++) {
                    acc += exp(kiln_load_f64(x->dtype, x->data, b * C + c) - mx);
                    if (u < acc) {
                        pick = c;
                        break;
                    }
                }
                kiln_store_i64(dt, y->data, b * p->sample_size + s, pick);
            }
        }
        return KILN_OK;
    }
    kiln_dtype dt = p->dtype ? p->dtype : (x ? x->dtype : KILN_FLOAT);
    KILN_TRY(kiln_kout(k, 0, dt, x ? x->rank : p->rank, x ? x->dims : p->dims, &y));
    int64_t n = kiln_tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        double v;
        if (p->kind == 0) v = p->a + (p->b - p->a) * next_unit(&r);
        else if (p->kind == 1) v = p->a + p->b * next_normal(&r);
        else v = next_unit(&r) < kiln_load_f64(x->dtype, x->data, i) ? 1 : 0;
        kiln_store_f64(dt, y->data, i, v);
    }
    return KILN_OK;
}

const kiln_op_def kiln_cpu_ops_random[] = {
    {"RandomUniform", "", 1, uniform_prepare, free, rand_run},
    {"RandomNormal", "", 1, normal_prepare, free, rand_run},
    {"RandomUniformLike", "", 1, uniform_like_prepare, free, rand_run},
    {"RandomNormalLike", "", 1, normal_like_prepare, free, rand_run},
    {"Bernoulli", "", 15, bernoulli_prepare, free, rand_run},
    {"Multinomial", "", 7, multinomial_prepare, free, rand_run},
    {0},
};
