/* Typed GEMMs for double and 32/64-bit integers: cache-blocked i-p-j loops whose inner loop runs along a row of
 * B and C (vectorizable), threaded over batch items x row blocks. Integers use unsigned arithmetic so overflow
 * wraps (two's complement) instead of being undefined. */
#include <string.h>

#include "backends/cpu/gemm.h"
#include "core/parallel.h"

#define TG_PB 128 /* rows of B per block: keeps the touched B rows in L2 */
#define TG_JB 512 /* columns per block */
#define TG_ROWS 16

typedef struct tg_job {
    const kiln_tgemm_args *g;
    const int64_t *a_off, *b_off, *c_off;
    int64_t row_tiles;
} tg_job;

#define DEFINE_TGEMM(name, T)                                                                                    \
    static void name##_tile(const kiln_tgemm_args *g, const T *a, const T *b, T *c, int64_t i0, int64_t i1) {    \
        for (int64_t jb = 0; jb < g->n; jb += TG_JB) {                                                           \
            int64_t je = g->n - jb < TG_JB ? g->n : jb + TG_JB;                                                  \
            int64_t len = je - jb;                                                                               \
            if (!g->accumulate)                                                                                  \
                for (int64_t i = i0; i < i1; i++) memset(c + i * g->c_rs + jb, 0, sizeof(T) * (size_t)len);      \
            for (int64_t pb = 0; pb < g->k; pb += TG_PB) {                                                       \
                int64_t pe = g->k - pb < TG_PB ? g->k : pb + TG_PB;                                              \
                for (int64_t i = i0; i < i1; i++) {                                                              \
                    T *restrict cr = c + i * g->c_rs + jb;                                                       \
                    for (int64_t p = pb; p < pe; p++) {                                                          \
                        const T av = a[i * g->a_rs + p * g->a_cs];                                               \
                        const T *restrict br = b + p * g->b_rs + jb * g->b_cs;                                   \
                        if (g->b_cs == 1)                                                                        \
                            for (int64_t j = 0; j < len; j++) cr[j] += av * br[j];                               \
                        else                                                                                     \
                            for (int64_t j = 0; j < len; j++) cr[j] += av * br[j * g->b_cs];                     \
                    }                                                                                            \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
    }                                                                                                            \
    static void name##_range(void *ctx, int64_t t0, int64_t t1) {                                                \
        const tg_job *j = ctx;                                                                                   \
        const kiln_tgemm_args *g = j->g;                                                                         \
        for (int64_t t = t0; t < t1; t++) {                                                                      \
            int64_t item = t / j->row_tiles, rt = t % j->row_tiles;                                              \
            int64_t i0 = rt * TG_ROWS, i1 = i0 + TG_ROWS < g->m ? i0 + TG_ROWS : g->m;                           \
            name##_tile(g, (const T *)g->a + (j->a_off ? j->a_off[item] : 0),                                    \
                        (const T *)g->b + (j->b_off ? j->b_off[item] : 0),                                       \
                        (T *)g->c + (j->c_off ? j->c_off[item] : 0), i0, i1);                                    \
        }                                                                                                        \
    }

DEFINE_TGEMM(dg, double)
DEFINE_TGEMM(i32g, uint32_t)
DEFINE_TGEMM(i64g, uint64_t)

static void tg_run(const kiln_tgemm_args *g, int64_t batch, const int64_t *a_off, const int64_t *b_off,
                   const int64_t *c_off, kiln_range_fn fn) {
    if (batch <= 0 || g->m <= 0 || g->n <= 0) return;
    tg_job j = {g, a_off, b_off, c_off, (g->m + TG_ROWS - 1) / TG_ROWS};
    int64_t tasks = batch * j.row_tiles;
    /* Grain: about 1 MFLOP per chunk so tiny problems stay on one thread. */
    int64_t per = 2 * TG_ROWS * g->n * (g->k > 0 ? g->k : 1);
    int64_t grain = per >= (1 << 20) ? 1 : (1 << 20) / per;
    kiln_parallel_for(tasks, grain, fn, &j);
}

void kiln_dgemm_batch(const kiln_tgemm_args *g, int64_t batch, const int64_t *a_off, const int64_t *b_off,
                      const int64_t *c_off) {
    tg_run(g, batch, a_off, b_off, c_off, dg_range);
}

void kiln_i32gemm_batch(const kiln_tgemm_args *g, int64_t batch, const int64_t *a_off, const int64_t *b_off,
                        const int64_t *c_off) {
    tg_run(g, batch, a_off, b_off, c_off, i32g_range);
}

void kiln_i64gemm_batch(const kiln_tgemm_args *g, int64_t batch, const int64_t *a_off, const int64_t *b_off,
                        const int64_t *c_off) {
    tg_run(g, batch, a_off, b_off, c_off, i64g_range);
}
