/* A fixed pool of worker threads for data-parallel loops in CPU kernels. */
#ifndef KILN_CORE_PARALLEL_H
#define KILN_CORE_PARALLEL_H

#include <stdint.h>

typedef void (*kiln_range_fn)(void *ctx, int64_t begin, int64_t end);

/* Splits [0, n) into chunks of at least `grain` items and runs fn on them across the pool (the calling thread
 * takes part). Runs inline when n is small or when called from inside a pool worker (no nested parallelism).
 * Thread count: KILN_NUM_THREADS env var, else the number of online CPUs. */
void kiln_parallel_for(int64_t n, int64_t grain, kiln_range_fn fn, void *ctx);
int kiln_num_threads(void);

#endif
