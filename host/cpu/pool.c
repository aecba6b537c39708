/*
 * pool.c — a fixed set of worker threads (pool.h). A thread that waits (for a job, or at a barrier)
 * spins for a few microseconds, which covers the short gaps between the phases of a round, then
 * sleeps on a condition variable, so a busy machine loses no time to spinning threads.
 */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PFR_PAUSE() _mm_pause()
#else
#define PFR_PAUSE() ((void)0)
#endif

/* Pauses before sleeping: about 20-100 us on current x86 cores, longer than the gaps between the
 * phases of a round, far shorter than a time slice. */
#define PFR_POOL_SPIN 2048

struct pfr_pool {
    int T;
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t job_cv, done_cv, bar_cv;
    void (*fn)(void *arg, int tid);
    void *arg;
    atomic_uint job_gen; /* advanced per job (and to quit) */
    atomic_int running;  /* workers still in the current job */
    int quit;
    atomic_int bar_count;
    atomic_uint bar_gen;
    int started;         /* workers started, for destroy */
};

typedef struct worker_arg {
    pfr_pool *pool;
    int tid;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *wa = p;
    pfr_pool *pool = wa->pool;
    const int tid = wa->tid;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        for (int i = 0; i < PFR_POOL_SPIN && atomic_load(&pool->job_gen) == seen; ++i)
            PFR_PAUSE();
        pthread_mutex_lock(&pool->mu);
        while (atomic_load(&pool->job_gen) == seen && !pool->quit)
            pthread_cond_wait(&pool->job_cv, &pool->mu);
        if (pool->quit) {
            pthread_mutex_unlock(&pool->mu);
            return NULL;
        }
        seen = atomic_load(&pool->job_gen);
        void (*fn)(void *, int) = pool->fn;
        void *arg = pool->arg;
        pthread_mutex_unlock(&pool->mu);
        fn(arg, tid);
        if (atomic_fetch_sub(&pool->running, 1) == 1) { /* the last one: wake the caller if it sleeps */
            pthread_mutex_lock(&pool->mu);
            pthread_cond_signal(&pool->done_cv);
            pthread_mutex_unlock(&pool->mu);
        }
    }
}

pfr_pool *pfr_pool_create(int threads)
{
    pfr_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->T = threads > 0 ? threads : 1;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->job_cv, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    pthread_cond_init(&pool->bar_cv, NULL);
    atomic_init(&pool->job_gen, 0u);
    atomic_init(&pool->bar_count, 0);
    atomic_init(&pool->running, 0);
    atomic_init(&pool->bar_gen, 0u);
    pool->workers = calloc((size_t)pool->T, sizeof *pool->workers);
    if (!pool->workers) {
        pfr_pool_destroy(pool);
        return NULL;
    }
    for (int t = 1; t < pool->T; ++t) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) {
            pfr_pool_destroy(pool);
            return NULL;
        }
        wa->pool = pool;
        wa->tid = t;
        if (pthread_create(&pool->workers[t], NULL, worker, wa) != 0) {
            free(wa);
            pfr_pool_destroy(pool);
            return NULL;
        }
        pool->started = t;
    }
    return pool;
}

void pfr_pool_destroy(pfr_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->quit = 1;
    atomic_fetch_add(&pool->job_gen, 1u);
    pthread_cond_broadcast(&pool->job_cv);
    pthread_mutex_unlock(&pool->mu);
    for (int t = 1; t <= pool->started; ++t)
        pthread_join(pool->workers[t], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->job_cv);
    pthread_cond_destroy(&pool->done_cv);
    pthread_cond_destroy(&pool->bar_cv);
    free(pool->workers);
    free(pool);
}

int pfr_pool_threads(const pfr_pool *pool) { return pool ? pool->T : 1; }

void pfr_pool_run(pfr_pool *pool, void (*fn)(void *arg, int tid), void *arg)
{
    if (pool->T == 1) {
        fn(arg, 0);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    atomic_store(&pool->running, pool->T - 1);
    atomic_fetch_add(&pool->job_gen, 1u);
    pthread_cond_broadcast(&pool->job_cv);
    pthread_mutex_unlock(&pool->mu);
    fn(arg, 0);
    for (int i = 0; i < PFR_POOL_SPIN && atomic_load(&pool->running) > 0; ++i)
        PFR_PAUSE();
    if (atomic_load(&pool->running) > 0) {
        pthread_mutex_lock(&pool->mu);
        while (atomic_load(&pool->running) > 0)
            pthread_cond_wait(&pool->done_cv, &pool->mu);
        pthread_mutex_unlock(&pool->mu);
    }
}

void pfr_pool_barrier(pfr_pool *pool)
{
    if (pool->T == 1)
        return;
    const unsigned gen = atomic_load(&pool->bar_gen);
    if (atomic_fetch_add(&pool->bar_count, 1) == pool->T - 1) { /* the last to arrive opens it */
        atomic_store(&pool->bar_count, 0);
        pthread_mutex_lock(&pool->mu);
        atomic_fetch_add(&pool->bar_gen, 1u);
        pthread_cond_broadcast(&pool->bar_cv);
        pthread_mutex_unlock(&pool->mu);
        return;
    }
    for (int i = 0; i < PFR_POOL_SPIN; ++i) {
        if (atomic_load(&pool->bar_gen) != gen)
            return;
        PFR_PAUSE();
    }
    pthread_mutex_lock(&pool->mu);
    while (atomic_load(&pool->bar_gen) == gen)
        pthread_cond_wait(&pool->bar_cv, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}
