/*
 * pool.h — the CPU engine's threads: a fixed set of workers that run one job at a time, with a
 * barrier for the phases inside a job. Written by hand rather than taken from OpenMP because a
 * library cannot tell OpenMP not to spin: libgomp reads its wait policy once, when it is loaded,
 * and then spins at every barrier, which on a machine with one other busy process made 2 threads
 * up to 18x slower than 1. Here a waiting thread spins a few microseconds, then sleeps.
 */
#ifndef PFR_POOL_H
#define PFR_POOL_H

typedef struct pfr_pool pfr_pool;

/* A pool of `threads` threads in all: the caller of pfr_pool_run is thread 0, threads - 1 workers
 * wait for jobs. NULL when out of memory or a thread cannot be started. */
pfr_pool *pfr_pool_create(int threads);
void pfr_pool_destroy(pfr_pool *pool); /* NULL-safe; joins the workers */
int pfr_pool_threads(const pfr_pool *pool);
/* fn(arg, tid) on every thread (tid 0 .. threads-1, the caller is 0); returns when all are done. */
void pfr_pool_run(pfr_pool *pool, void (*fn)(void *arg, int tid), void *arg);
/* Inside a job: every thread waits here until all have arrived. */
void pfr_pool_barrier(pfr_pool *pool);

#endif
