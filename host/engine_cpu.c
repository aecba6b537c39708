/*
 * engine_cpu.c — the CPU engine: every agent's K local steps with OpenMP across agents, using the
 * shared per-agent math (kernels/pfr_agent_math.h), then the aggregation of Phi (and theta).
 *
 * Why it looks like this:
 *  - Only the rows an agent touched differ from the shared Phi, so a thread keeps one private
 *    copy of Phi (phi_local) and, after each agent, folds the touched rows' changes into its
 *    block's partial sum and restores them. No per-agent S x d copy is ever made.
 *  - Agents are grouped in blocks of PFR_AGENT_BLOCK. Threads take blocks in waves: in wave w,
 *    thread j runs the C consecutive blocks (w*T + j)*C .. +C-1, each into its own partial-sum slot.
 *    After the wave the slots are added into the accumulator in block order, each row by the one
 *    thread that owns it. The sums are therefore the same for any thread count T (and any C),
 *    which makes Phi and theta bit-identical whatever the number of threads. C > 1 only makes the
 *    barriers rarer; it is bounded by a memory budget for the slots.
 *  - A thread runs PFR_CPU_LANES agents interleaved step by step, each on its own copy of Phi.
 *    One agent's steps form a serial chain (the dot products use the theta the previous step
 *    wrote), so interleaving independent agents is what keeps the core busy. Each agent's
 *    arithmetic is unchanged, so the results do not depend on the interleaving.
 *  - States, participation and the random words depend only on (seed, agent, step).
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/pfr_agent_math.h"
#include "sim_internal.h"

/* The partial sums of one block: sum over its participants of Phi_i - Phi (rows they touched). */
typedef struct block_slot {
    double *partial;       /* [S, d], zero outside rows[] */
    double *theta_partial; /* [d] sum of theta_i over the block's participants */
    int *rows;             /* rows touched by the block */
    int n_rows;
} block_slot;

#define PFR_CPU_LANES 16

/* One interleaved agent's view of Phi (shared-Phi algorithms). */
typedef struct lane {
    float *phi_local;    /* [S, d] private copy of the shared Phi */
    int64_t *agent_mark; /* [S] last agent that touched the row */
    int *agent_rows;     /* rows touched by the current agent (at most K distinct) */
    int n_rows;
} lane;

/* One per thread, on cache lines of its own: its fields are written per agent. */
typedef struct thread_ws {
    _Alignas(64) lane lanes[PFR_CPU_LANES];
    int64_t *block_mark; /* [S] last block that touched the row */
    block_slot *slot;    /* [C] */
    uint64_t participants;
} thread_ws;

/* Memory budget for all partial-sum slots together: it sets how many blocks a thread runs
 * between two barriers. */
#define PFR_CPU_SLOT_BUDGET ((size_t)256 << 20)
#define PFR_CPU_MAX_SLOTS 16

typedef struct cpu_engine {
    int T, C;
    thread_ws *ws;
    double *accum;          /* [S, d] sum over the round's participants of Phi_i - Phi */
    unsigned char *round_touched; /* [S] */
    double *theta_accum;    /* [d] */
} cpu_engine;

static void cpu_destroy(pfr_sim *sim)
{
    cpu_engine *e = sim->engine_state;
    if (!e)
        return;
    for (int t = 0; e->ws && t < e->T; ++t) {
        thread_ws *w = &e->ws[t];
        for (int g = 0; g < PFR_CPU_LANES; ++g) {
            free(w->lanes[g].phi_local);
            free(w->lanes[g].agent_mark);
            free(w->lanes[g].agent_rows);
        }
        free(w->block_mark);
        for (int c = 0; w->slot && c < e->C; ++c) {
            free(w->slot[c].partial);
            free(w->slot[c].theta_partial);
            free(w->slot[c].rows);
        }
        free(w->slot);
    }
    free(e->ws);
    free(e->accum);
    free(e->round_touched);
    free(e->theta_accum);
    free(e);
    sim->engine_state = NULL;
}

static pfr_status cpu_sync_host(pfr_sim *sim)
{
    (void)sim;
    return PFR_OK;
}

/* K local steps of agents i0 .. i0+G-1 (G <= PFR_CPU_LANES), interleaved; agent i0+g works on the
 * Phi rows at phi[g] ([S, d]) and, when ln is given, records the rows it touched in ln[g].
 * part[g] says whether the agent took part in this round. Inlined with a constant d for the common
 * sizes (see run_lanes), so the d-loops of the shared step unroll. */
static inline __attribute__((always_inline)) void run_lanes_d(const pfr_sim *sim, const pfr_round_plan *plan, int64_t i0,
                                                              int G, float *const *phi, lane *ln, int *part, const int d)
{
    const pfr_env *env = sim->env;
    const int S = sim->S;
    const uint32_t *restrict thr = env->thr, *restrict next = env->next;
    const float *restrict reward = env->reward, *restrict alpha = plan->alpha, *restrict beta = plan->beta;
    const float gamma = (float)sim->cfg.gamma;
    const uint64_t seed = sim->cfg.seed, t0 = plan->t0;
    const int K = plan->K, learn_phi = sim->learn_phi;
    const uint64_t *rp[PFR_CPU_LANES] = {0};
    float *theta[PFR_CPU_LANES] = {0};
    uint32_t s[PFR_CPU_LANES] = {0}, u0[PFR_CPU_LANES] = {0};
    for (int g = 0; g < G; ++g) {
        const int64_t i = i0 + g;
        const pfr_words wd = pfr_stream_words(seed, (uint64_t)i, t0);
        part[g] = (uint64_t)wd.w[PFR_WORD_PARTICIPATION] < plan->part_threshold;
        u0[g] = wd.w[PFR_WORD_TRANSITION];
        rp[g] = env->row_ptr + (size_t)(i % sim->M) * (S + 1);
        theta[g] = sim->theta + (size_t)i * d;
        s[g] = sim->state[i];
        if (ln)
            ln[g].n_rows = 0;
    }
    for (int k = 0; k < K; ++k) {
        /* the transition words of all lanes first: one Philox per lane, vectorized across lanes */
        uint32_t u[PFR_CPU_LANES];
        if (k == 0) {
            for (int g = 0; g < PFR_CPU_LANES; ++g)
                u[g] = u0[g];
        } else {
            for (int g = 0; g < PFR_CPU_LANES; ++g)
                u[g] = pfr_stream_words(seed, (uint64_t)(i0 + g), t0 + (uint64_t)k).w[PFR_WORD_TRANSITION];
        }
        for (int g = 0; g < G; ++g) {
            if (!part[g])
                continue;
            const int64_t i = i0 + g;
            const uint32_t st = s[g];
            const uint64_t a = rp[g][st];
            const uint64_t j = a + pfr_sample_entry(thr + a, (uint32_t)(rp[g][st + 1] - a), u[g]);
            const uint32_t s2 = next[j];
            float *restrict ph = phi[g];
            pfr_td_step(ph + (size_t)st * d, ph + (size_t)s2 * d, theta[g], d, reward[j], gamma, alpha[k], beta[k],
                        learn_phi);
            if (ln && ln[g].agent_mark[st] != i) {
                ln[g].agent_mark[st] = i;
                ln[g].agent_rows[ln[g].n_rows++] = (int)st;
            }
            s[g] = s2;
        }
    }
    for (int g = 0; g < G; ++g)
        if (part[g])
            sim->state[i0 + g] = s[g];
}

/* Compiled for several instruction sets, picked at load time: wider vectors make the lane-parallel
 * Philox cheaper. Integer results are identical on every clone and C11's -ffp-contract=off keeps
 * the float arithmetic identical too. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void run_lanes(const pfr_sim *sim, const pfr_round_plan *plan, int64_t i0, int G, float *const *phi, lane *ln,
                      int *part)
{
    switch (sim->d) {
    case 4: run_lanes_d(sim, plan, i0, G, phi, ln, part, 4); break;
    case 8: run_lanes_d(sim, plan, i0, G, phi, ln, part, 8); break;
    case 16: run_lanes_d(sim, plan, i0, G, phi, ln, part, 16); break;
    case 32: run_lanes_d(sim, plan, i0, G, phi, ln, part, 32); break;
    default: run_lanes_d(sim, plan, i0, G, phi, ln, part, sim->d); break;
    }
}

/* Shared-Phi round with block-ordered reduction (pfedtd_rep, fedavg_rep, fedtd). */
static void round_shared(pfr_sim *sim, cpu_engine *e, const pfr_round_plan *plan)
{
    const int S = sim->S, d = sim->d, T = e->T;
    const int64_t N = sim->N;
    const int64_t nblocks = (N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    /* as many blocks per thread and wave as the slots allow, but never so many that a thread idles */
    const int64_t per_thread = nblocks / T > 0 ? nblocks / T : 1;
    const int C = per_thread < e->C ? (int)per_thread : e->C;
    const int64_t nwaves = (nblocks + (int64_t)T * C - 1) / ((int64_t)T * C);
    const int track = sim->avg_phi;

#pragma omp parallel num_threads(T)
    {
        const int tid = omp_get_thread_num();
        thread_ws *w = &e->ws[tid];
        uint64_t participants = 0;
        float *phi[PFR_CPU_LANES];
        for (int g = 0; g < PFR_CPU_LANES; ++g) {
            phi[g] = sim->phi; /* fixed features: read-only */
            if (sim->learn_phi) {
                memcpy(w->lanes[g].phi_local, sim->phi, sizeof(float) * (size_t)S * d);
                phi[g] = w->lanes[g].phi_local;
            }
        }
        for (int64_t wave = 0; wave < nwaves; ++wave) {
            for (int c = 0; c < C; ++c) {
                const int64_t b = (wave * T + tid) * C + c;
                if (b >= nblocks)
                    break;
                block_slot *sl = &w->slot[c];
                const int64_t i0 = b * PFR_AGENT_BLOCK, i1 = i0 + PFR_AGENT_BLOCK < N ? i0 + PFR_AGENT_BLOCK : N;
                for (int64_t ig = i0; ig < i1; ig += PFR_CPU_LANES) {
                    const int G = i1 - ig < PFR_CPU_LANES ? (int)(i1 - ig) : PFR_CPU_LANES;
                    int part[PFR_CPU_LANES] = {0};
                    run_lanes(sim, plan, ig, G, phi, track ? w->lanes : NULL, part);
                    for (int g = 0; g < G; ++g) { /* agents in index order: the block sums stay ordered */
                        if (!part[g])
                            continue;
                        const int64_t i = ig + g;
                        participants++;
                        if (sim->avg_theta)
                            for (int j = 0; j < d; ++j)
                                sl->theta_partial[j] += sim->theta[(size_t)i * d + j];
                        if (!track)
                            continue;
                        lane *ln = &w->lanes[g];
                        for (int q = 0; q < ln->n_rows; ++q) { /* fold Phi_i - Phi into the block sum, restore */
                            const int r = ln->agent_rows[q];
                            float *loc = ln->phi_local + (size_t)r * d;
                            const float *ref = sim->phi + (size_t)r * d;
                            double *acc = sl->partial + (size_t)r * d;
                            for (int j = 0; j < d; ++j) {
                                acc[j] += (double)loc[j] - (double)ref[j];
                                loc[j] = ref[j];
                            }
                            ln->agent_mark[r] = -1; /* agent ids repeat every round */
                            if (w->block_mark[r] != b) {
                                w->block_mark[r] = b;
                                sl->rows[sl->n_rows++] = r;
                            }
                        }
                    }
                }
            }
#pragma omp barrier
            /* add this wave's block sums in block order (thread j, slot c is block (wave*T + j)*C + c);
             * row r belongs to thread r % T */
            for (int j = 0; j < T; ++j)
                for (int c = 0; c < C; ++c) { /* slots c >= C are empty and stay so */
                    const block_slot *src = &e->ws[j].slot[c];
                    for (int q = 0; q < src->n_rows; ++q) {
                        const int r = src->rows[q];
                        if (r % T != tid)
                            continue;
                        e->round_touched[r] = 1;
                        for (int k = 0; k < d; ++k)
                            e->accum[(size_t)r * d + k] += src->partial[(size_t)r * d + k];
                    }
                    if (tid == 0 && sim->avg_theta)
                        for (int k = 0; k < d; ++k)
                            e->theta_accum[k] += src->theta_partial[k];
                }
#pragma omp barrier
            for (int c = 0; c < C; ++c) {
                block_slot *sl = &w->slot[c];
                for (int q = 0; q < sl->n_rows; ++q) {
                    memset(sl->partial + (size_t)sl->rows[q] * d, 0, sizeof(double) * (size_t)d);
                    w->block_mark[sl->rows[q]] = -1; /* block ids repeat every round */
                }
                sl->n_rows = 0;
                memset(sl->theta_partial, 0, sizeof(double) * (size_t)d);
            }
        }
        w->participants = participants;
    }
}

#define LOST_RANK_WHY "lost rank or diverged (non-finite entries); lower alpha or beta, or scale rewards down with env.reward_scale"

static pfr_status cpu_round(pfr_sim *sim, const pfr_round_plan *plan, uint64_t *participants)
{
    cpu_engine *e = sim->engine_state;
    const int S = sim->S, d = sim->d, T = e->T;
    const int64_t N = sim->N;
    uint64_t part = 0;

    if (sim->own_phi || (!sim->avg_phi && !sim->avg_theta)) {
        /* No communication: agents are independent; any schedule gives the same result. */
        const int64_t ngroups = (N + PFR_CPU_LANES - 1) / PFR_CPU_LANES;
#pragma omp parallel for num_threads(T) schedule(dynamic, 16) reduction(+ : part)
        for (int64_t q = 0; q < ngroups; ++q) {
            const int64_t ig = q * PFR_CPU_LANES;
            const int G = N - ig < PFR_CPU_LANES ? (int)(N - ig) : PFR_CPU_LANES;
            float *phi[PFR_CPU_LANES] = {0};
            int took[PFR_CPU_LANES] = {0};
            for (int g = 0; g < G; ++g)
                phi[g] = sim->own_phi ? sim->agent_phi + (size_t)(ig + g) * S * d : sim->phi;
            run_lanes(sim, plan, ig, G, phi, NULL, took);
            for (int g = 0; g < G; ++g)
                part += (uint64_t)took[g];
        }
    } else {
        round_shared(sim, e, plan);
        for (int t = 0; t < T; ++t)
            part += e->ws[t].participants;
        if (part > 0) {
            const double inv = 1.0 / (double)part;
            if (sim->avg_phi) {
#pragma omp parallel for num_threads(T) schedule(static)
                for (int r = 0; r < S; ++r) {
                    if (!e->round_touched[r])
                        continue;
                    for (int c = 0; c < d; ++c) {
                        double *a = &e->accum[(size_t)r * d + c];
                        sim->phi[(size_t)r * d + c] = (float)((double)sim->phi[(size_t)r * d + c] + *a * inv);
                        *a = 0.0;
                    }
                    e->round_touched[r] = 0;
                }
            }
            if (sim->avg_theta) {
                float tbar[4096];
                for (int c = 0; c < d; ++c) {
                    tbar[c] = (float)(e->theta_accum[c] * inv);
                    e->theta_accum[c] = 0.0;
                }
#pragma omp parallel for num_threads(T) schedule(static)
                for (int64_t i = 0; i < N; ++i)
                    memcpy(sim->theta + (size_t)i * d, tbar, sizeof(float) * (size_t)d);
            }
        }
    }
    *participants = part;

    if (sim->cfg.orthonormalize && sim->learn_phi) {
        if (sim->own_phi) {
            pfr_status st = PFR_OK;
#pragma omp parallel for num_threads(T) schedule(dynamic, 16)
            for (int64_t i = 0; i < N; ++i) {
                pfr_status s1 = pfr_orthonormalize_host(sim->agent_phi + (size_t)i * S * d, S, d, sim->theta + (size_t)i * d, 1, 1);
                if (s1 != PFR_OK) {
#pragma omp critical
                    st = s1;
                }
            }
            if (st != PFR_OK)
                return pfr_sim_fail(sim, st, "orthonormalization failed in round %lld: an agent's Phi_i %s",
                                    (long long)plan->round, LOST_RANK_WHY);
        } else if (part > 0) {
            pfr_status st = pfr_orthonormalize_host(sim->phi, S, d, sim->theta, N, T);
            if (st != PFR_OK)
                return pfr_sim_fail(sim, st, "orthonormalization failed in round %lld: Phi %s", (long long)plan->round,
                                    LOST_RANK_WHY);
        }
    }
    return PFR_OK;
}

static const pfr_engine_vtbl CPU_ENGINE = {"cpu", cpu_round, cpu_sync_host, cpu_destroy};

pfr_status pfr_engine_cpu_init(pfr_sim *sim, pfr_error *err)
{
    const int S = sim->S, d = sim->d, K = sim->K;
    cpu_engine *e = calloc(1, sizeof *e);
    if (!e)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    sim->engine = &CPU_ENGINE;
    sim->engine_state = e;
    e->T = sim->threads;
    const size_t slot_bytes = (size_t)S * d * sizeof(double) * (size_t)e->T;
    e->C = (int)(PFR_CPU_SLOT_BUDGET / (slot_bytes ? slot_bytes : 1));
    e->C = e->C < 1 ? 1 : (e->C > PFR_CPU_MAX_SLOTS ? PFR_CPU_MAX_SLOTS : e->C);
    e->ws = aligned_alloc(64, sizeof *e->ws * (size_t)e->T); /* sizeof is a multiple of 64 */
    if (e->ws)
        memset(e->ws, 0, sizeof *e->ws * (size_t)e->T);
    e->accum = calloc((size_t)S * d, sizeof(double));
    e->round_touched = calloc((size_t)S, 1);
    e->theta_accum = calloc((size_t)d, sizeof(double));
    int ok = e->ws && e->accum && e->round_touched && e->theta_accum;
    const int shared = !sim->own_phi && (sim->avg_phi || sim->avg_theta);
    for (int t = 0; ok && shared && t < e->T; ++t) {
        thread_ws *w = &e->ws[t];
        for (int g = 0; ok && g < PFR_CPU_LANES; ++g) {
            lane *ln = &w->lanes[g];
            ln->phi_local = malloc(sizeof(float) * (size_t)S * d);
            ln->agent_mark = malloc(sizeof(int64_t) * (size_t)S);
            ln->agent_rows = malloc(sizeof(int) * (size_t)(K < S ? K : S));
            ok = ln->phi_local && ln->agent_mark && ln->agent_rows;
            for (int s = 0; ok && s < S; ++s)
                ln->agent_mark[s] = -1;
        }
        w->block_mark = malloc(sizeof(int64_t) * (size_t)S);
        w->slot = calloc((size_t)e->C, sizeof *w->slot);
        ok = ok && w->block_mark && w->slot;
        for (int c = 0; ok && c < e->C; ++c) {
            block_slot *sl = &w->slot[c];
            sl->partial = calloc((size_t)S * d, sizeof(double));
            sl->theta_partial = calloc((size_t)d, sizeof(double));
            sl->rows = malloc(sizeof(int) * (size_t)S);
            ok = sl->partial && sl->theta_partial && sl->rows;
        }
        for (int s = 0; ok && s < S; ++s)
            w->block_mark[s] = -1;
    }
    if (!ok) {
        cpu_destroy(sim);
        sim->engine = NULL;
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for the CPU engine's work space (%d threads, S=%d, d=%d)",
                        sim->threads, S, d);
    }
    return PFR_OK;
}
