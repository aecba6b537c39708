/*
 * cpu_merge.c — the CPU engine's aggregation after a wave's steps (cpu_blocks.c runs the round): the
 * block parts added into the sums in block order, each thread the rows of its merge buckets, and the
 * mean change applied to Phi. Element-wise adds in a fixed order, so the same bits on any thread
 * count and in every clone (AVX-512, AVX2, plain).
 */
#include <stdint.h>
#include <string.h>

#include "kernels/pfr_federation.h"
#include "cpu_engine.h"

/* A wave part's row x (cpu_engine.h) added into a row of sums, element by element: its sums narrow
 * (floats, each exactly the double it stands for) or wide. The same adds either way, as 4-double
 * vectors where d allows (written as loops over a constant d the adds stayed scalar). */
static inline __attribute__((always_inline)) void add_part_row(double *restrict acc, const block_part *bp, int32_t x,
                                                               int wide, const int d)
{
    if (wide) {
        const double *v = bp->wide + (size_t)x * d;
        if (d % 4 == 0)
            for (int j = 0; j < d; j += 4) {
                pfr_d4 a, b;
                memcpy(&a, acc + j, sizeof a);
                memcpy(&b, v + j, sizeof b);
                a += b;
                memcpy(acc + j, &a, sizeof a);
            }
        else
            for (int j = 0; j < d; ++j)
                acc[j] += v[j];
        return;
    }
    const unsigned char *src = bp->sums + (size_t)x * pfr_narrow_bytes(d);
    if (d % 4 == 0)
        for (int j = 0; j < d; j += 4) {
            pfr_d4 a;
            pfr_v4 f;
            memcpy(&a, acc + j, sizeof a);
            memcpy(&f, src + 4 * (size_t)j, sizeof f);
            a += __builtin_convertvector(f, pfr_d4);
            memcpy(acc + j, &a, sizeof a);
        }
    else
        for (int j = 0; j < d; ++j) {
            float f;
            memcpy(&f, src + 4 * (size_t)j, sizeof f);
            acc[j] += (double)f;
        }
}

/* cpu_blocks.c's block_d copy where the engine packs its parts (e->narrow; cpu_engine.h) */
PFR_CLONES void pfr_cpu_part_copy_narrow(cpu_engine *e, cpu_thread *w, block_part *bp)
{
    switch (e->sim->d) {
    case 4: pfr_part_copy(e, w, bp, 4, 1); break;
    case 8: pfr_part_copy(e, w, bp, 8, 1); break;
    case 16: pfr_part_copy(e, w, bp, 16, 1); break;
    case 32: pfr_part_copy(e, w, bp, 32, 1); break;
    default: pfr_part_copy(e, w, bp, e->sim->d, 1); break;
    }
}

/* A row's mean change applied, Phi + sum / participants (the expression of the CUDA engine's apply
 * kernel: a product, a sum, a rounding, element by element; inv = 1 / participants), and its sums
 * emptied; with nobody taking part the row stays as it is. */
static inline __attribute__((always_inline)) void apply_row(float *restrict row, double *restrict acc,
                                                            int64_t participants, double inv, const int d)
{
    if (d % 4 == 0) {
        const pfr_d4 inv4 = {inv, inv, inv, inv}, zero4 = {0.0, 0.0, 0.0, 0.0};
        for (int j = 0; j < d; j += 4) {
            pfr_d4 a;
            memcpy(&a, acc + j, sizeof a);
            if (participants > 0)
                pfr_store4(row + j,
                           __builtin_convertvector(__builtin_convertvector(pfr_load4(row + j), pfr_d4) + a * inv4, pfr_v4));
            memcpy(acc + j, &zero4, sizeof zero4);
        }
    } else {
        if (participants > 0)
            for (int j = 0; j < d; ++j)
                row[j] = (float)((double)row[j] + acc[j] * inv);
        for (int j = 0; j < d; ++j)
            acc[j] = 0.0;
    }
}

/* The parts of blocks w0 .. wend-1 added into the accumulator, for the buckets q0 .. q1-1 (this
 * thread's contiguous rows), block by block in block order; element-wise adds, so vectorized (an
 * AVX-512 clone where the CPU has it) they are the same bits. */
PFR_CLONES void pfr_cpu_merge_wave(cpu_engine *e, cpu_thread *w, int64_t w0, int64_t wend, int q0, int q1)
{
    const int d = e->sim->d;
    for (int q = q0; q < q1; ++q)
        for (int64_t b = w0; b < wend; ++b) {
            const block_part *bp = &e->part[b - w0];
            for (int32_t x = bp->bstart[q]; x < bp->bstart[q + 1]; ++x) {
                const int32_t rr = bp->rows[x], r = rr & PFR_PART_ROW;
                if (!e->in_accum[r]) {
                    e->in_accum[r] = 1;
                    w->touched[w->ntouched++] = r;
                }
                add_part_row(e->accum + (size_t)r * d, bp, x, !e->narrow || rr < 0, d);
            }
        }
}

/* A round of one wave, without noise: buckets q0 .. q1-1 merged and applied one at a time, each
 * bucket's sums in this thread's bucket buffer (its rows are contiguous: bcap rows at most, which stay
 * in L1/L2, where at large S the [S, d] accumulator missed the cache at every row). The same
 * operations as merge_wave then apply_rows (each row's sum from +0 in block order; the same apply
 * expression), so the same bits. */
static inline __attribute__((always_inline)) void merge_apply_d(cpu_engine *e, cpu_thread *w, int64_t nblocks, int q0,
                                                               int q1, int64_t participants, const int d, const int narrow)
{
    /* (the arrays in locals: a byte store could otherwise alias every pointer, and the adds would
     * reload them and stay scalar) */
    float *restrict phi = e->sim->phi;
    double *restrict bsum = w->bsum;
    unsigned char *restrict bin = w->bin;
    int32_t *restrict bt = w->btouched;
    const double inv = participants > 0 ? 1.0 / (double)participants : 0.0;
    const int pfw = e->prefetch;
    for (int q = q0; q < q1; ++q) {
        const int32_t first = e->bfirst[q];
        int32_t nt = 0;
        for (int64_t b = 0; b < nblocks; ++b) {
            const block_part *bp = &e->part[b];
            const int32_t *restrict rows = bp->rows;
            const int32_t x1 = bp->bstart[q + 1];
            if (pfw && b + 2 < nblocks) { /* a later block's run of this bucket, fetched while this one adds */
                const block_part *np = &e->part[b + 2];
                const size_t rb = narrow ? (size_t)pfr_narrow_bytes(d) : sizeof(double) * d;
                const unsigned char *base = narrow ? np->sums : (const unsigned char *)np->wide,
                                    *a = base + np->bstart[q] * rb, *z = base + np->bstart[q + 1] * rb;
                for (; a < z; a += 64)
                    __builtin_prefetch(a);
                __builtin_prefetch(np->rows + np->bstart[q]);
            }
            for (int32_t x = bp->bstart[q]; x < x1; ++x) {
                const int32_t rr = rows[x], l = (rr & PFR_PART_ROW) - first;
                /* a row's first part: listed (without a branch: whether a row is new is a coin
                 * toss at large S, and each mispredicted branch threw away the part rows' loads
                 * in flight); Phi's row, to be written once the bucket is merged, fetched for
                 * writing now (the steps on the other cores left it shared or modified there;
                 * where Phi and the tables outgrow L2) */
                bt[nt] = l;
                nt += !bin[l];
                bin[l] = 1;
                if (pfw)
                    __builtin_prefetch(phi + (size_t)(first + l) * d, 1);
                add_part_row(bsum + (size_t)l * d, bp, x, !narrow || rr < 0, d);
            }
        }
        for (int32_t t = 0; t < nt; ++t) {
            const int32_t l = bt[t];
            if (e->digest && participants > 0)
                w->digest += pfr_sums_hash(first + l, bsum + (size_t)l * d, d);
            apply_row(phi + (size_t)(first + l) * d, bsum + (size_t)l * d, participants, inv, d);
            bin[l] = 0;
        }
    }
}

PFR_CLONES void pfr_cpu_merge_apply(cpu_engine *e, cpu_thread *w, int64_t nblocks, int q0, int q1, int64_t participants)
{
#define PFR_MERGE_D(D)                                                                                \
    (e->narrow ? merge_apply_d(e, w, nblocks, q0, q1, participants, D, 1)                             \
               : merge_apply_d(e, w, nblocks, q0, q1, participants, D, 0))
    switch (e->sim->d) {
    case 4: PFR_MERGE_D(4); break;
    case 8: PFR_MERGE_D(8); break;
    case 16: PFR_MERGE_D(16); break;
    case 32: PFR_MERGE_D(32); break;
    default: PFR_MERGE_D(e->sim->d); break;
    }
#undef PFR_MERGE_D
}

/* The mean change applied to the rows this thread owns (Phi + sum / participants, the expression of
 * the CUDA engine's apply kernel), the accumulator emptied. */
void pfr_cpu_apply_rows(cpu_engine *e, cpu_thread *w, int64_t participants)
{
    pfr_sim *sim = e->sim;
    const int d = sim->d;
    const double inv = participants > 0 ? 1.0 / (double)participants : 0.0;
    for (int64_t x = 0; x < w->ntouched; ++x) {
        const int32_t r = w->touched[x];
        if (e->digest && participants > 0)
            w->digest += pfr_sums_hash(r, e->accum + (size_t)r * d, d);
        apply_row(sim->phi + (size_t)r * d, e->accum + (size_t)r * d, participants, inv, d);
        e->in_accum[r] = 0;
    }
    w->ntouched = 0;
}

/* The private aggregation (federation.noise_multiplier): noise N(0, noise_std^2) on every entry of
 * the sum, so every row changes, Phi + (sum + noise) / n (n: the expected participant count, or with
 * federation.dp_denominator = participants the round's); this thread takes the rows of
 * its buckets (a contiguous range), touched or not. The noise of entry e is a function of seed,
 * round and e (pfr_dp_gauss): the same on any thread count. */
void pfr_cpu_apply_rows_noisy(cpu_engine *e, cpu_thread *w, int tid, int64_t participants)
{
    pfr_sim *sim = e->sim;
    const int d = sim->d, S = sim->S;
    const int q0 = e->nb * tid / e->T, q1 = e->nb * (tid + 1) / e->T;
    const uint64_t seed = sim->cfg.seed;
    const int64_t round = e->plan->round;
    const double inv = pfr_plan_mean_scale(e->plan, (uint64_t)participants), sd = e->plan->noise_std;
    for (int32_t r = 0; r < S && participants > 0; ++r) {
        const int q = pfr_bucket(e, r);
        if (q < q0 || q >= q1)
            continue;
        const double *acc = e->accum + (size_t)r * d;
        float *row = sim->phi + (size_t)r * d;
        if (e->digest)
            w->digest += pfr_sums_hash(r, acc, d);
        for (int j = 0; j < d; ++j) {
            const double z = pfr_dp_gauss(seed, round, (uint64_t)r * (uint64_t)d + (uint64_t)j);
            row[j] = (float)((double)row[j] + (acc[j] + sd * z) * inv);
        }
    }
    for (int64_t x = 0; x < w->ntouched; ++x) {
        const int32_t r = w->touched[x];
        memset(e->accum + (size_t)r * d, 0, sizeof(double) * (size_t)d);
        e->in_accum[r] = 0;
    }
    w->ntouched = 0;
}
