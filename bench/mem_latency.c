/*
 * mem_latency.c — what a random cache line costs on this machine, by working-set size: one chain of
 * dependent loads (latency), and W independent chains at once (the throughput a core reaches when it
 * keeps W misses in flight, as the CPU engine's 16-agent step does with its 16 lanes). It tells
 * where the caches end (bench/RESULTS.md, 2026-11-26 sixth session: on the 2-core Xeon the 16-lane
 * step's table of chains outgrows the last level it can hold at S = 40,000 with 16 types).
 *
 *   cc -O2 -o /tmp/mem_latency bench/mem_latency.c && /tmp/mem_latency [MAX_MB]
 *
 * Each buffer is a random cyclic permutation of its 64-byte lines (on 2 MiB pages where offered, as
 * the engine's tables are), walked once to warm it, then timed.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) /* xorshift64*: any decent shuffle will do */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

#define MAX_WAYS 48

/* ns per load with W chains walked together (W = 1: the latency) */
static double walk(const uint64_t *a, const uint32_t *perm, size_t n, int W, long loads)
{
    size_t q[MAX_WAYS];
    for (int k = 0; k < W; ++k)
        q[k] = (size_t)perm[(size_t)k * (n / (size_t)W)] * 8;
    const long iters = loads / W;
    const double t0 = now_s();
    for (long i = 0; i < iters; ++i)
        for (int k = 0; k < W; ++k)
            q[k] = a[q[k]];
    const double t = now_s() - t0;
    size_t sink = 0;
    for (int k = 0; k < W; ++k)
        sink += q[k];
    if (sink == 1) /* keeps the loads */
        puts("");
    return t / ((double)iters * W) * 1e9;
}

int main(int argc, char **argv)
{
    const size_t max_mb = argc > 1 ? (size_t)atol(argv[1]) : 256;
    const int ways[] = {1, 8, 16, 32, 48};
    printf("working set | ns per load with 1, 8, 16, 32, 48 chains in flight\n");
    for (size_t mb = 1; mb <= max_mb; mb *= 2) {
        const size_t bytes = mb << 20, n = bytes / 64;
        uint64_t *a = aligned_alloc((size_t)1 << 21, bytes);
        uint32_t *perm = malloc(n * sizeof *perm);
        if (!a || !perm) {
            fprintf(stderr, "mem_latency: out of memory at %zu MB\n", mb);
            return 1;
        }
        (void)madvise(a, bytes, MADV_HUGEPAGE);
        for (size_t i = 0; i < n; ++i)
            perm[i] = (uint32_t)i;
        for (size_t i = n - 1; i > 0; --i) { /* Fisher-Yates */
            const size_t j = (size_t)(next_u64() % (i + 1));
            const uint32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < n; ++i) /* line perm[i] points at line perm[i + 1] */
            a[(size_t)perm[i] * 8] = (uint64_t)perm[(i + 1) % n] * 8;
        walk(a, perm, n, 1, (long)n); /* warm */
        printf("%6zu MB  |", mb);
        for (size_t w = 0; w < sizeof ways / sizeof ways[0]; ++w)
            printf(" %7.2f", walk(a, perm, n, ways[w], ways[w] == 1 ? 4000000 : 16000000));
        printf("\n");
        free(a);
        free(perm);
    }
    return 0;
}
