/*
 * cpu_merge.c — the CPU engine's aggregation after a wave's steps (engine_cpu.c runs the round): the
 * block parts added into the sums in block order, each thread the rows of its merge buckets, and the
 * mean change applied to Phi. Element-wise adds in a fixed order, so the same bits on any thread
 * count and in every clone (AVX-512, AVX2, plain).
 */
#include <stdint.h>
#include <string.h>

#include "../kernels/pfr_federation.h"
#include "cpu_engine.h"

/* A part row's sums added into a row of sums, element by element (as 4-double vectors where d allows:
 * written as loops over a constant d the adds stayed scalar). */
static inline __attribute__((always_inline)) void add_row(double *restrict acc, const double *restrict src, const int d)
{
    if (d % 4 == 0)
        for (int j = 0; j < d; j += 4) {
            pfr_d4 a, v;
            memcpy(&a, acc + j, sizeof a);
            memcpy(&v, src + j, sizeof v);
            a += v;
            memcpy(acc + j, &a, sizeof a);
        }
    else
        for (int j = 0; j < d; ++j)
            acc[j] += src[j];
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
                const int32_t r = bp->rows[x];
                if (!e->in_accum[r]) {
                    e->in_accum[r] = 1;
                    w->touched[w->ntouched++] = r;
                }
                add_row(e->accum + (size_t)r * d, bp->vals + (size_t)x * d, d);
            }
        }
}

/* A round of one wave, without noise: buckets q0 .. q1-1 merged and applied one at a time, each
 * bucket's sums in this thread's bucket buffer (its rows are contiguous: bcap rows at most, which stay
 * in L1/L2, where at large S the [S, d] accumulator missed the cache at every row). The same
 * operations as merge_wave then apply_rows (each row's sum from +0 in block order; the same apply
 * expression), so the same bits. */
static inline __attribute__((always_inline)) void merge_apply_d(cpu_engine *e, cpu_thread *w, int64_t nblocks, int q0,
                                                               int q1, int64_t participants, const int d)
{
    /* (the arrays in locals: a byte store could otherwise alias every pointer, and the adds would
     * reload them and stay scalar) */
    float *restrict phi = e->sim->phi;
    double *restrict bsum = w->bsum;
    unsigned char *restrict bin = w->bin;
    int32_t *restrict bt = w->btouched;
    const double inv = participants > 0 ? 1.0 / (double)participants : 0.0;
    const int pfw = e->prefetch && e->T > 1;
    for (int q = q0; q < q1; ++q) {
        const int32_t first = e->bfirst[q];
        int32_t nt = 0;
        for (int64_t b = 0; b < nblocks; ++b) {
            const block_part *bp = &e->part[b];
            const int32_t *restrict rows = bp->rows;
            const double *restrict vals = bp->vals;
            const int32_t x1 = bp->bstart[q + 1];
            for (int32_t x = bp->bstart[q]; x < x1; ++x) {
                const int32_t l = rows[x] - first;
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
                add_row(bsum + (size_t)l * d, vals + (size_t)x * d, d);
            }
        }
        for (int32_t t = 0; t < nt; ++t) {
            const int32_t l = bt[t];
            apply_row(phi + (size_t)(first + l) * d, bsum + (size_t)l * d, participants, inv, d);
            bin[l] = 0;
        }
    }
}

PFR_CLONES void pfr_cpu_merge_apply(cpu_engine *e, cpu_thread *w, int64_t nblocks, int q0, int q1, int64_t participants)
{
    switch (e->sim->d) {
    case 4: merge_apply_d(e, w, nblocks, q0, q1, participants, 4); break;
    case 8: merge_apply_d(e, w, nblocks, q0, q1, participants, 8); break;
    case 16: merge_apply_d(e, w, nblocks, q0, q1, participants, 16); break;
    case 32: merge_apply_d(e, w, nblocks, q0, q1, participants, 32); break;
    default: merge_apply_d(e, w, nblocks, q0, q1, participants, e->sim->d); break;
    }
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
        apply_row(sim->phi + (size_t)r * d, e->accum + (size_t)r * d, participants, inv, d);
        e->in_accum[r] = 0;
    }
    w->ntouched = 0;
}

/* The private aggregation (federation.noise_multiplier): noise N(0, noise_std^2) on every entry of
 * the sum, so every row changes, Phi + (sum + noise) / participants; this thread takes the rows of
 * its buckets (a contiguous range), touched or not. The noise of entry e is a function of seed,
 * round and e (pfr_dp_gauss): the same on any thread count. */
void pfr_cpu_apply_rows_noisy(cpu_engine *e, cpu_thread *w, int tid, int64_t participants)
{
    pfr_sim *sim = e->sim;
    const int d = sim->d, S = sim->S;
    const int q0 = e->nb * tid / e->T, q1 = e->nb * (tid + 1) / e->T;
    const uint64_t seed = sim->cfg.seed;
    const int64_t round = e->plan->round;
    const double inv = participants > 0 ? 1.0 / (double)participants : 0.0, sd = e->plan->noise_std;
    for (int32_t r = 0; r < S && participants > 0; ++r) {
        const int q = pfr_bucket(e, r);
        if (q < q0 || q >= q1)
            continue;
        const double *acc = e->accum + (size_t)r * d;
        float *row = sim->phi + (size_t)r * d;
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
