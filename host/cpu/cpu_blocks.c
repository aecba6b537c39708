/*
 * cpu_blocks.c — the CPU engine's work within a round: every agent's K local steps, group by group
 * (the 16-agent step, the per-agent step or scalar), each block's fold into its sparse part, the
 * waves of blocks and their merge (cpu_merge.c), the mean theta handed back, the pending theta map;
 * as jobs on the engine's thread pool, which engine_cpu.c (one process) and cpu_dist.c (MPI ranks)
 * run. The design, and why it looks like this: engine_cpu.c.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_engine.h"

/* K steps of agents i0 .. i0+G-1 (G <= 16), interleaved; part[g]: the agent takes part. */
static inline __attribute__((always_inline)) void run_group(cpu_engine *e, cpu_thread *w, int64_t i0, int G, int *part,
                                                            const int d, const int vec, const int map)
{
    const int iters = e->iters;
    pfr_sim *sim = e->sim;
    const pfr_round_plan *plan = e->plan;
    const pfr_env *env = sim->env;
    const int K = plan->K, learn = sim->learn_phi, overlay = sim->learn_phi && !sim->own_phi;
    const uint64_t seed = sim->cfg.seed, t0 = plan->t0;
    const uint32_t *restrict thr = env->thr, *restrict next = env->next;
    const float *restrict reward = env->reward;
    const float gamma = (float)sim->cfg.gamma;
    uint32_t u[PFR_CPU_LANES], w1[PFR_CPU_LANES], s[PFR_CPU_LANES], nk[PFR_CPU_LANES];
    const uint64_t *rp[PFR_CPU_LANES];
    float *th[PFR_CPU_LANES], *own[PFR_CPU_LANES];
    const float *base[PFR_CPU_LANES]; /* the Phi each agent starts from (a stale one with delays) */
    pfr_cpu_group_begin(e, i0, G, d, u, w1, part, s, rp, th, own);
    pfr_cpu_group_fed(e, i0, G, nk, base);
    for (int k = 0; k < K; ++k) {
        if (k > 0)
            e->philox16(seed, i0, t0 + (uint64_t)k, u, w1);
        const float alpha = plan->alpha[k], beta = plan->beta[k];
        for (int g = 0; g < G; ++g) {
            if (!part[g] || (uint32_t)k >= nk[g]) /* sitting out, or a straggler done */
                continue;
            const float *phi = base[g];
            const uint32_t st = s[g];
            const uint64_t a = rp[g][st];
            const uint64_t j = a + pfr_sample_entry_fixed(thr + a, (uint32_t)(rp[g][st + 1] - a), u[g], iters);
            const uint32_t s2 = next[j];
            float *ps;
            const float *pn;
            if (overlay && map) { /* the shared Phi seen through the agent's overlay */
                ps = pfr_overlay_get_map(&w->lane[g], phi, st, d);
                pn = pfr_overlay_find_map(&w->lane[g], phi, s2, d);
            } else if (overlay) {
                ps = pfr_overlay_get(&w->lane[g], phi, st, d);
                pn = pfr_overlay_find(&w->lane[g], s2, d);
                if (!pn)
                    pn = phi + (size_t)s2 * d;
            } else if (own[g]) { /* local_rep: the agent's own Phi_i */
                ps = own[g] + (size_t)st * d;
                pn = own[g] + (size_t)s2 * d;
            } else { /* fixed features: read only (learn = 0) */
                ps = (float *)(phi + (size_t)st * d);
                pn = phi + (size_t)s2 * d;
            }
            s[g] = s2;
            pfr_cpu_td_step(ps, pn, th[g], d, reward[j], gamma, alpha, beta, learn, vec);
        }
    }
    for (int g = 0; g < G; ++g)
        if (part[g])
            sim->state[i0 + g] = s[g];
}

/* Agent's overlay rows into the block part (Phi_i[r] - Phi[r], in double), and the overlay emptied. */
static inline __attribute__((always_inline)) void fold_agent(block_part *bp, int32_t *pos, pfr_overlay *o,
                                                             const float *phi, const int d)
{
    for (int q = 0; q < o->n; ++q) {
        const int32_t r = o->rows[q];
        double *restrict acc = pfr_part_row(bp, pos, r, d);
        const float *restrict loc = o->vals + (size_t)q * d, *restrict ref = phi + (size_t)r * d;
        int j = 0;
        for (; j + 8 <= d; j += 8) { /* element by element, as below, eight at a time (whole-row loads) */
            const pfr_v8 l8 = pfr_load8(loc + j), r8 = pfr_load8(ref + j);
            pfr_d4 a0, a1;
            memcpy(&a0, acc + j, sizeof a0);
            memcpy(&a1, acc + j + 4, sizeof a1);
            a0 += __builtin_convertvector(__builtin_shufflevector(l8, l8, 0, 1, 2, 3), pfr_d4) -
                  __builtin_convertvector(__builtin_shufflevector(r8, r8, 0, 1, 2, 3), pfr_d4);
            a1 += __builtin_convertvector(__builtin_shufflevector(l8, l8, 4, 5, 6, 7), pfr_d4) -
                  __builtin_convertvector(__builtin_shufflevector(r8, r8, 4, 5, 6, 7), pfr_d4);
            memcpy(acc + j, &a0, sizeof a0);
            memcpy(acc + j + 4, &a1, sizeof a1);
        }
        for (; j + 4 <= d; j += 4) {
            pfr_d4 a;
            memcpy(&a, acc + j, sizeof a);
            a += __builtin_convertvector(pfr_load4(loc + j), pfr_d4) - __builtin_convertvector(pfr_load4(ref + j), pfr_d4);
            memcpy(acc + j, &a, sizeof a);
        }
        for (; j < d; ++j)
            acc[j] += (double)loc[j] - (double)ref[j];
    }
    pfr_overlay_clear(o);
}

/* fold_agent with the federation's weight: the agent's change (from the Phi it started from, ref)
 * scaled by weight (stale_decay^age) and, with clip > 0, by min(1, clip / ||change||_2). A factor of
 * exactly 1 gives fold_agent's bits. */
static void fold_agent_weighted(block_part *bp, int32_t *pos, pfr_overlay *o, const float *ref_phi, const int d,
                                double weight, double clip)
{
    double c = weight;
    if (clip > 0.0) {
        double n2 = 0.0;
        for (int q = 0; q < o->n; ++q) {
            const float *loc = o->vals + (size_t)q * d, *ref = ref_phi + (size_t)o->rows[q] * d;
            for (int j = 0; j < d; ++j) {
                const double x = (double)loc[j] - (double)ref[j];
                n2 += x * x;
            }
        }
        const double n = sqrt(n2);
        if (n > clip)
            c *= clip / n;
    }
    for (int q = 0; q < o->n; ++q) {
        const int32_t r = o->rows[q];
        double *restrict acc = pfr_part_row(bp, pos, r, d);
        const float *restrict loc = o->vals + (size_t)q * d, *restrict ref = ref_phi + (size_t)r * d;
        for (int j = 0; j < d; ++j)
            acc[j] += c * ((double)loc[j] - (double)ref[j]);
    }
    pfr_overlay_clear(o);
}

/* A group's K steps: the 16-agent step (AVX-512, AVX2 or portable) for a full group where it is on, else run_group
 * (same bits). */
static inline __attribute__((always_inline)) void step_group(cpu_engine *e, cpu_thread *w, int64_t ig, int G, int *part,
                                                             const int d, const int vec, const int map)
{
    if (e->sim->control) { /* SARSA or Q-learning (cpu_control.c) */
        pfr_cpu_group_control(e, w, ig, G, part, vec);
        return;
    }
    if (e->x16 && G == PFR_CPU_LANES && !e->plan->steps) { /* every agent K steps from one Phi (e->base0) */
        e->group(e, w, ig, part);
        return;
    }
    run_group(e, w, ig, G, part, d, vec, map);
}

/* Group ig's participants (part[g]), in index order: their overlays folded into the thread's fill
 * part (and emptied), their theta sums and count into bp. */
static inline __attribute__((always_inline)) void fold_group(cpu_engine *e, cpu_thread *w, block_part *bp, int64_t ig,
                                                             int G, const int *part, const int d)
{
    pfr_sim *sim = e->sim;
    block_part *fp = &w->fill;
    const int fold = sim->avg_phi && sim->learn_phi;
    const int weighted = e->plan->base || e->plan->clip > 0.0; /* stale Phi or clipping (federation.c) */
    int folded = 0; /* the group's folds in one call (same order: lanes in index order) */
    if (fold && !weighted && e->fold16) {
        e->fold(fp, w->pos, w->lane, part, G, sim->phi, d);
        folded = 1;
    }
    /* index order: the sums are the same on any thread (each sum, theta's and each row's, is its own
     * sequence of adds); a loop each, with what they keep in locals (one loop doing all three kept
     * its counter and the fields in memory) */
    int np = 0;
    for (int g = 0; g < G; ++g)
        np += part[g] != 0;
    bp->count += (uint64_t)np;
    if (sim->avg_theta) {
        double *restrict t = bp->theta;
        const float *restrict th = sim->theta + (size_t)ig * d;
        for (int g = 0; g < G; ++g)
            if (part[g])
                for (int j = 0; j < d; ++j)
                    t[j] += (double)th[(size_t)g * d + j];
    }
    if (!fold || folded)
        return;
    for (int g = 0; g < G; ++g) {
        if (!part[g])
            continue;
        if (weighted) {
            const pfr_round_plan *plan = e->plan;
            const int age = plan->age ? plan->age[ig + g] : plan->age0;
            fold_agent_weighted(fp, w->pos, &w->lane[g], plan->base ? plan->base[age] : sim->phi, d,
                                plan->age_weight ? plan->age_weight[age] : 1.0, plan->clip);
        } else {
            fold_agent(fp, w->pos, &w->lane[g], sim->phi, d);
        }
    }
}

/* Block b into bp: its agents' steps, then each participant in index order folded into the sums (in
 * the thread's fill part), and those copied into bp grouped by merge bucket. */
static inline __attribute__((always_inline)) void block_d(cpu_engine *e, cpu_thread *w, int64_t b, block_part *bp,
                                                          const int d, const int vec, const int map, const int narrow)
{
    pfr_sim *sim = e->sim;
    const int64_t N = sim->N, i0 = b * PFR_AGENT_BLOCK, i1 = i0 + PFR_AGENT_BLOCK < N ? i0 + PFR_AGENT_BLOCK : N;
    block_part *fp = &w->fill;
    fp->n = 0;
    bp->count = 0;
    memset(bp->theta, 0, sizeof(double) * (size_t)d);
    for (int64_t ig = i0; ig < i1; ig += PFR_CPU_LANES) {
        const int G = i1 - ig < PFR_CPU_LANES ? (int)(i1 - ig) : PFR_CPU_LANES;
        int part[PFR_CPU_LANES];
        step_group(e, w, ig, G, part, d, vec, map);
        fold_group(e, w, bp, ig, G, part, d);
    }
    /* the rows and their sums copied into bp grouped by bucket (cpu_engine.h's pfr_part_copy): the
     * folds wrote into the fill part, which stays in L1/L2 block after block. With narrow rows through
     * a call (cpu_merge.c), so that the block's loop compiles as without them (DESIGN §6's tuning
     * table). */
    if (narrow) {
        pfr_cpu_part_copy_narrow(e, w, bp);
        return;
    }
    pfr_part_copy(e, w, bp, d, 0);
}

/* Block b into bp: block_d with a constant d (the loops over d unroll and the vector step applies),
 * each d in its own instance, and narrow as a constant too. */
static inline __attribute__((always_inline)) void run_block_as(cpu_engine *e, cpu_thread *w, int64_t b, block_part *bp,
                                                               const int narrow)
{
    const int d = e->sim->d, map = e->map;
    if (!e->vector) {
        block_d(e, w, b, bp, d, 0, map, narrow);
        return;
    }
    switch (d) {
    case 4: map ? block_d(e, w, b, bp, 4, 1, 1, narrow) : block_d(e, w, b, bp, 4, 1, 0, narrow); break;
    case 8: map ? block_d(e, w, b, bp, 8, 1, 1, narrow) : block_d(e, w, b, bp, 8, 1, 0, narrow); break;
    case 16: map ? block_d(e, w, b, bp, 16, 1, 1, narrow) : block_d(e, w, b, bp, 16, 1, 0, narrow); break;
    case 32: map ? block_d(e, w, b, bp, 32, 1, 1, narrow) : block_d(e, w, b, bp, 32, 1, 0, narrow); break;
    default: map ? block_d(e, w, b, bp, d, 1, 1, narrow) : block_d(e, w, b, bp, d, 1, 0, narrow); break;
    }
}

/* Wide parts here, narrow ones (e->narrow) in run_block_narrow: two functions, so that this one
 * compiles as without narrow rows (see block_d). */
PFR_CLONES static void run_block(cpu_engine *e, cpu_thread *w, int64_t b, block_part *bp) { run_block_as(e, w, b, bp, 0); }
PFR_CLONES static void run_block_narrow(cpu_engine *e, cpu_thread *w, int64_t b, block_part *bp)
{
    run_block_as(e, w, b, bp, 1);
}

/* local_rep and local_td: agents are independent, so groups are taken in any order. local_rep's
 * orthonormalization of each agent's Phi_i follows its steps. */
static inline __attribute__((always_inline)) void independent_d(cpu_engine *e, cpu_thread *w, int64_t q, const int d,
                                                                const int vec)
{
    pfr_sim *sim = e->sim;
    const int64_t ig = q * PFR_CPU_LANES, N = sim->N;
    const int G = N - ig < PFR_CPU_LANES ? (int)(N - ig) : PFR_CPU_LANES;
    int part[PFR_CPU_LANES];
    step_group(e, w, ig, G, part, d, vec, 0);
    for (int g = 0; g < G; ++g) {
        w->participants += (uint64_t)part[g];
        if (sim->own_phi && sim->cfg.orthonormalize &&
            pfr_orthonormalize_host(sim->agent_phi + (size_t)(ig + g) * sim->S * d, sim->S, d,
                                    sim->theta + (size_t)(ig + g) * d, 1, 1) != PFR_OK)
            w->failed = 1;
    }
}

PFR_CLONES static void run_independent(cpu_engine *e, cpu_thread *w, int64_t q)
{
    if (!e->vector) {
        independent_d(e, w, q, e->sim->d, 0);
        return;
    }
    switch (e->sim->d) {
    case 4: independent_d(e, w, q, 4, 1); break;
    case 8: independent_d(e, w, q, 8, 1); break;
    case 16: independent_d(e, w, q, 16, 1); break;
    case 32: independent_d(e, w, q, 32, 1); break;
    default: independent_d(e, w, q, e->sim->d, 1); break;
    }
}

/* ---- the jobs of a round ------------------------------------------------------------------------ */
static void broadcast_theta(cpu_engine *e, int tid, int64_t participants);
static void own_blocks_job(void *arg, int tid);
/* The blocks w0 .. wend-1 of a wave shared out: thread t's are a contiguous range, the t-th T-th. */
static void set_cursors(cpu_engine *e, int64_t w0, int64_t wend)
{
    for (int t = 0; t < e->T; ++t) {
        atomic_store(&e->cur[t].next, w0 + (wend - w0) * t / e->T);
        e->cur[t].end = w0 + (wend - w0) * (t + 1) / e->T;
    }
}

/* Waves of W blocks: steps and folds (each thread its own share of the blocks, then what is left of
 * the others'), barrier, the wave's parts added
 * into the accumulator in block order (bucket owners), barrier. Every thread counts the
 * participants itself (the parts are complete after the first barrier), so the last wave needs its
 * second barrier only for the mean theta: a thread applies the mean to the rows it merged, which no
 * other thread touches. */
static void shared_round_job(void *arg, int tid)
{
    cpu_engine *e = arg;
    pfr_sim *sim = e->sim;
    cpu_thread *w = &e->th[tid];
    const int d = sim->d, T = e->T;
    const int64_t nblocks = (sim->N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    int64_t participants = 0;
    w->ntouched = 0;
    const int one_wave = nblocks <= e->W && sim->avg_phi && !(e->plan->noise_std > 0.0);
    for (int64_t w0 = 0; w0 < nblocks; w0 += e->W) {
        const int64_t wend = w0 + e->W < nblocks ? w0 + e->W : nblocks;
        for (int v = 0; v < T; ++v) { /* its own share first, then the others' in turn */
            block_cursor *c = &e->cur[(tid + v) % T];
            for (;;) {
                const int64_t b = atomic_fetch_add(&c->next, 1);
                if (b >= c->end)
                    break;
                if (e->narrow)
                    run_block_narrow(e, w, b, &e->part[b - w0]);
                else
                    run_block(e, w, b, &e->part[b - w0]);
            }
        }
        pfr_pool_barrier(e->pool);
        for (int64_t b = w0; b < wend; ++b)
            participants += e->part[b - w0].count;
        if (one_wave)
            pfr_cpu_merge_apply(e, w, nblocks, e->nb * tid / T, e->nb * (tid + 1) / T, participants);
        else
            pfr_cpu_merge_wave(e, w, w0, wend, e->nb * tid / T, e->nb * (tid + 1) / T);
        if (tid == 0) {
            if (sim->avg_theta)
                for (int64_t b = w0; b < wend; ++b)
                    for (int j = 0; j < d; ++j)
                        e->theta_accum[j] += e->part[b - w0].theta[j];
            if (wend < nblocks) /* the next wave's shares; nobody takes a block before the barrier */
                set_cursors(e, wend, wend + e->W < nblocks ? wend + e->W : nblocks);
        }
        if (wend < nblocks || sim->avg_theta) /* the parts are reused by the next wave; theta_accum */
            pfr_pool_barrier(e->pool);
    }
    if (tid == 0)
        e->participants = participants; /* for the host, after the pool's join */
    /* every wave merged: the mean applied to the rows this thread owns, the mean theta handed to
     * its share of the agents */
    if (sim->avg_phi && e->plan->noise_std > 0.0)
        pfr_cpu_apply_rows_noisy(e, w, tid, participants);
    else if (sim->avg_phi && !one_wave)
        pfr_cpu_apply_rows(e, w, participants);
    if (sim->avg_theta && participants > 0)
        broadcast_theta(e, tid, participants);
}

/* Over MPI ranks (cpu_dist.c): this rank's blocks b0 .. b1-1 stepped and folded, each into its part
 * (e->part[b - b0], one wave), nothing merged: the parts go to the rows' owners. */
static void own_blocks_job(void *arg, int tid)
{
    cpu_engine *e = arg;
    cpu_thread *w = &e->th[tid];
    for (int v = 0; v < e->T; ++v) { /* its own share first, then the others' in turn */
        block_cursor *c = &e->cur[(tid + v) % e->T];
        for (;;) {
            const int64_t b = atomic_fetch_add(&c->next, 1);
            if (b >= c->end)
                break;
            run_block(e, w, b, &e->part[b - e->sim->b0]);
        }
    }
}

/* theta_i = the mean theta, for this thread's share of the agents. */
static void broadcast_theta(cpu_engine *e, int tid, int64_t participants)
{
    pfr_sim *sim = e->sim;
    const int d = sim->d;
    const int64_t n = sim->a1 - sim->a0, lo = sim->a0 + n * tid / e->T, hi = sim->a0 + n * (tid + 1) / e->T;
    const double inv = 1.0 / (double)participants;
    float tbar[4096]; /* dim <= 4096 (config.c) */
    for (int j = 0; j < d; ++j)
        tbar[j] = (float)(e->theta_accum[j] * inv);
    for (int64_t i = lo; i < hi; ++i)
        memcpy(sim->theta + (size_t)i * d, tbar, sizeof(float) * (size_t)d);
}

/* The pending orthonormalization applied to this thread's share of the agents (the host reads theta;
 * over MPI ranks, this rank's agents: the others' come with the gather). */
static void pending_job(void *arg, int tid)
{
    cpu_engine *e = arg;
    pfr_sim *sim = e->sim;
    const int d = sim->d;
    const int64_t n = sim->a1 - sim->a0, lo = sim->a0 + n * tid / e->T, hi = sim->a0 + n * (tid + 1) / e->T;
    for (int64_t i = lo; i < hi; ++i)
        pfr_map_theta(e->pending, sim->theta + (size_t)i * d, d);
}

static void independent_round_job(void *arg, int tid)
{
    cpu_engine *e = arg;
    cpu_thread *w = &e->th[tid];
    /* this rank's agents (all, in one process): a0 is a block's first agent, so a group's too */
    const int64_t g1 = (e->sim->a1 + PFR_CPU_LANES - 1) / PFR_CPU_LANES;
    w->participants = 0;
    w->failed = 0;
    for (;;) {
        const int64_t q = atomic_fetch_add(&e->next, 4); /* four groups at a time */
        if (q >= g1)
            break;
        for (int64_t x = q; x < q + 4 && x < g1; ++x)
            run_independent(e, w, x);
    }
}

/* ---- what engine_cpu.c and cpu_dist.c run ---------------------------------------------------- */
typedef struct mean_theta_arg {
    cpu_engine *e;
    int64_t participants;
} mean_theta_arg;

static void mean_theta_job(void *arg, int tid)
{
    const mean_theta_arg *a = arg;
    broadcast_theta(a->e, tid, a->participants);
}

void pfr_cpu_broadcast_mean_theta(cpu_engine *e, int64_t participants)
{
    mean_theta_arg a = {e, participants};
    pfr_pool_run(e->pool, mean_theta_job, &a);
}

void pfr_cpu_run_own_blocks(cpu_engine *e)
{
    set_cursors(e, e->sim->b0, e->sim->b1);
    pfr_pool_run(e->pool, own_blocks_job, e);
}

void pfr_cpu_run_shared(cpu_engine *e)
{
    const int64_t nblocks = (e->sim->N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    set_cursors(e, 0, e->W < nblocks ? e->W : nblocks);
    pfr_pool_run(e->pool, shared_round_job, e);
}

void pfr_cpu_run_independent(cpu_engine *e) { pfr_pool_run(e->pool, independent_round_job, e); }

void pfr_cpu_apply_pending(cpu_engine *e) { pfr_pool_run(e->pool, pending_job, e); }
