#include "core/parallel.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 256

typedef struct job {
    kiln_range_fn fn;
    void *ctx;
    int64_t n, chunk;
    int64_t next;       /* next chunk start, claimed under lock */
    int pending;        /* chunks not yet finished */
    unsigned generation;
} job;

static struct {
    pthread_once_t once;
    pthread_mutex_t lock;     /* guards job and serializes callers */
    pthread_mutex_t call;     /* one parallel_for at a time uses the pool */
    pthread_cond_t work, done;
    job j;
    int n_threads;
} pool = {.once = PTHREAD_ONCE_INIT,
          .lock = PTHREAD_MUTEX_INITIALIZER,
          .call = PTHREAD_MUTEX_INITIALIZER,
          .work = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static _Thread_local int in_worker;

/* Claims and runs chunks until none is left. Called with pool.lock held; returns with it held. */
static void drain(void) {
    while (pool.j.next < pool.j.n) {
        int64_t b = pool.j.next;
        int64_t e = b + pool.j.chunk < pool.j.n ? b + pool.j.chunk : pool.j.n;
        pool.j.next = e;
        pthread_mutex_unlock(&pool.lock);
        pool.j.fn(pool.j.ctx, b, e);
        pthread_mutex_lock(&pool.lock);
        if (--pool.j.pending == 0) pthread_cond_broadcast(&pool.done);
    }
}

static void *worker(void *arg) {
    (void)arg;
    in_worker = 1;
    unsigned seen = 0;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.j.generation == seen || pool.j.next >= pool.j.n) {
            if (pool.j.generation != seen) seen = pool.j.generation;
            pthread_cond_wait(&pool.work, &pool.lock);
        }
        seen = pool.j.generation;
        drain();
    }
    return NULL;
}

static void pool_init(void) {
    int n = 0;
    const char *env = getenv("KILN_NUM_THREADS");
    if (env) n = atoi(env);
    if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    pool.n_threads = n;
    for (int i = 1; i < n; i++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, worker, NULL) != 0) {
            pool.n_threads = i;
            pthread_attr_destroy(&attr);
            break;
        }
        pthread_attr_destroy(&attr);
    }
}

int kiln_num_threads(void) {
    pthread_once(&pool.once, pool_init);
    return pool.n_threads;
}

void kiln_parallel_for(int64_t n, int64_t grain, kiln_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int nt = kiln_num_threads();
    if (nt <= 1 || n <= grain || in_worker || pthread_mutex_trylock(&pool.call) != 0) {
        /* Busy pool (another thread's loop) or tiny loop: run inline rather than wait. */
        fn(ctx, 0, n);
        return;
    }
    int64_t chunks = (n + grain - 1) / grain;
    if (chunks > (int64_t)nt * 4) chunks = (int64_t)nt * 4;
    int64_t chunk = (n + chunks - 1) / chunks;
    pthread_mutex_lock(&pool.lock);
    pool.j.fn = fn;
    pool.j.ctx = ctx;
    pool.j.n = n;
    pool.j.chunk = chunk;
    pool.j.next = 0;
    pool.j.pending = (int)((n + chunk - 1) / chunk);
    pool.j.generation++;
    pthread_cond_broadcast(&pool.work);
    in_worker = 1;
    drain();
    in_worker = 0;
    while (pool.j.pending > 0) pthread_cond_wait(&pool.done, &pool.lock);
    pool.j.n = 0;
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.call);
}
