/*
 * engine_cpu.c — the CPU engine: every agent's K local steps with OpenMP across agents, using the
 * shared per-agent math (kernels/pfr_agent_math.h), then the aggregation of Phi (and theta).
 *
 * Why it looks like this:
 *  - Only the rows an agent touched differ from the shared Phi, so a thread keeps one private
 *    copy of Phi (phi_local) and, after each agent, folds the touched rows' changes into its
 *    block's partial sum and restores them. No per-agent S x d copy is ever made.
 *  - Agents are grouped in blocks of PFR_AGENT_BLOCK. Threads take blocks in waves (wave w, thread
 *    j: block w*T + j); after each wave the partial sums are added into the accumulator in block
 *    order, each row by the one thread that owns it. The sums are therefore the same for any thread
 *    count T, which makes Phi and theta bit-identical whatever the number of threads.
 *  - States, participation and the random words depend only on (seed, agent, step).
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/pfr_agent_math.h"
#include "sim_internal.h"

typedef struct thread_ws {
    float *phi_local;    /* [S, d] private copy of the shared Phi (shared-Phi algorithms) */
    double *partial;     /* [S, d] this thread's current block: sum over its agents of Phi_i - Phi */
    double *theta_partial; /* [d] sum of theta_i over the block's participants */
    int64_t *agent_mark; /* [S] last agent that touched the row */
    int64_t *block_mark; /* [S] last block that touched the row */
    int *agent_rows;     /* rows touched by the current agent (at most K distinct) */
    int *block_rows;     /* rows touched by the current block */
    int n_block_rows;
    uint64_t participants;
} thread_ws;

typedef struct cpu_engine {
    int T;
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
        free(w->phi_local);
        free(w->partial);
        free(w->theta_partial);
        free(w->agent_mark);
        free(w->block_mark);
        free(w->agent_rows);
        free(w->block_rows);
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

/* K local steps of agent i on the Phi rows at `phi` ([S, d]); records touched rows when asked.
 * Returns 0 if the agent does not take part in this round. */
static int run_agent(const pfr_sim *sim, const pfr_round_plan *plan, int64_t i, float *phi, thread_ws *w,
                     int track_rows, int *n_rows)
{
    const pfr_env *env = sim->env;
    const int S = sim->S, d = sim->d;
    const int m = (int)(i % sim->M);
    const uint64_t *rp = env->row_ptr + (size_t)m * (S + 1);
    const float gamma = (float)sim->cfg.gamma;
    float *theta = sim->theta + (size_t)i * d;
    uint32_t s = sim->state[i];
    int nr = 0;
    for (int k = 0; k < plan->K; ++k) {
        pfr_words wd = pfr_stream_words(sim->cfg.seed, (uint64_t)i, plan->t0 + (uint64_t)k);
        if (k == 0 && (uint64_t)wd.w[PFR_WORD_PARTICIPATION] >= plan->part_threshold)
            return 0;
        const uint64_t a = rp[s];
        const uint64_t j = a + pfr_sample_entry(env->thr + a, (uint32_t)(rp[s + 1] - a), wd.w[PFR_WORD_TRANSITION]);
        const uint32_t s2 = env->next[j];
        pfr_td_step(phi + (size_t)s * d, phi + (size_t)s2 * d, theta, d, env->reward[j], gamma, plan->alpha[k],
                    plan->beta[k], sim->learn_phi);
        if (track_rows && w->agent_mark[s] != i) {
            w->agent_mark[s] = i;
            w->agent_rows[nr++] = (int)s;
        }
        s = s2;
    }
    sim->state[i] = s;
    *n_rows = nr;
    return 1;
}

/* Shared-Phi round with block-ordered reduction (pfedtd_rep, fedavg_rep, fedtd). */
static void round_shared(pfr_sim *sim, cpu_engine *e, const pfr_round_plan *plan)
{
    const int S = sim->S, d = sim->d, T = e->T;
    const int64_t N = sim->N;
    const int64_t nblocks = (N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    const int64_t nwaves = (nblocks + T - 1) / T;
    const int track = sim->avg_phi;

#pragma omp parallel num_threads(T)
    {
        const int tid = omp_get_thread_num();
        thread_ws *w = &e->ws[tid];
        w->participants = 0;
        float *phi = sim->phi;
        if (sim->learn_phi) {
            memcpy(w->phi_local, sim->phi, sizeof(float) * (size_t)S * d);
            phi = w->phi_local;
        }
        for (int64_t wave = 0; wave < nwaves; ++wave) {
            const int64_t b = wave * T + tid;
            if (b < nblocks) {
                const int64_t i0 = b * PFR_AGENT_BLOCK, i1 = i0 + PFR_AGENT_BLOCK < N ? i0 + PFR_AGENT_BLOCK : N;
                for (int64_t i = i0; i < i1; ++i) {
                    int nr = 0;
                    if (!run_agent(sim, plan, i, phi, w, track, &nr))
                        continue;
                    w->participants++;
                    if (sim->avg_theta)
                        for (int j = 0; j < d; ++j)
                            w->theta_partial[j] += sim->theta[(size_t)i * d + j];
                    for (int q = 0; q < nr; ++q) { /* fold Phi_i - Phi into the block sum, restore */
                        const int r = w->agent_rows[q];
                        float *loc = w->phi_local + (size_t)r * d;
                        const float *ref = sim->phi + (size_t)r * d;
                        double *acc = w->partial + (size_t)r * d;
                        for (int j = 0; j < d; ++j) {
                            acc[j] += (double)loc[j] - (double)ref[j];
                            loc[j] = ref[j];
                        }
                        w->agent_mark[r] = -1; /* agent ids repeat every round */
                        if (w->block_mark[r] != b) {
                            w->block_mark[r] = b;
                            w->block_rows[w->n_block_rows++] = r;
                        }
                    }
                }
            }
#pragma omp barrier
            /* add this wave's block sums in block order; row r belongs to thread r % T */
            for (int j = 0; j < T; ++j) {
                const thread_ws *src = &e->ws[j];
                for (int q = 0; q < src->n_block_rows; ++q) {
                    const int r = src->block_rows[q];
                    if (r % T != tid)
                        continue;
                    e->round_touched[r] = 1;
                    for (int c = 0; c < d; ++c)
                        e->accum[(size_t)r * d + c] += src->partial[(size_t)r * d + c];
                }
                if (tid == 0 && sim->avg_theta)
                    for (int c = 0; c < d; ++c)
                        e->theta_accum[c] += src->theta_partial[c];
            }
#pragma omp barrier
            for (int q = 0; q < w->n_block_rows; ++q) {
                memset(w->partial + (size_t)w->block_rows[q] * d, 0, sizeof(double) * (size_t)d);
                w->block_mark[w->block_rows[q]] = -1; /* block ids repeat every round */
            }
            w->n_block_rows = 0;
            memset(w->theta_partial, 0, sizeof(double) * (size_t)d);
        }
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
#pragma omp parallel for num_threads(T) schedule(dynamic, 64) reduction(+ : part)
        for (int64_t i = 0; i < N; ++i) {
            int nr;
            float *phi = sim->own_phi ? sim->agent_phi + (size_t)i * S * d : sim->phi;
            part += (uint64_t)run_agent(sim, plan, i, phi, NULL, 0, &nr);
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
    e->ws = calloc((size_t)e->T, sizeof *e->ws);
    e->accum = calloc((size_t)S * d, sizeof(double));
    e->round_touched = calloc((size_t)S, 1);
    e->theta_accum = calloc((size_t)d, sizeof(double));
    int ok = e->ws && e->accum && e->round_touched && e->theta_accum;
    const int shared = !sim->own_phi && (sim->avg_phi || sim->avg_theta);
    for (int t = 0; ok && shared && t < e->T; ++t) {
        thread_ws *w = &e->ws[t];
        w->phi_local = malloc(sizeof(float) * (size_t)S * d);
        w->partial = calloc((size_t)S * d, sizeof(double));
        w->theta_partial = calloc((size_t)d, sizeof(double));
        w->agent_mark = malloc(sizeof(int64_t) * (size_t)S);
        w->block_mark = malloc(sizeof(int64_t) * (size_t)S);
        w->agent_rows = malloc(sizeof(int) * (size_t)(K < S ? K : S));
        w->block_rows = malloc(sizeof(int) * (size_t)S);
        ok = w->phi_local && w->partial && w->theta_partial && w->agent_mark && w->block_mark && w->agent_rows &&
             w->block_rows;
        for (int s = 0; ok && s < S; ++s)
            w->agent_mark[s] = w->block_mark[s] = -1;
    }
    if (!ok) {
        cpu_destroy(sim);
        sim->engine = NULL;
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for the CPU engine's work space (%d threads, S=%d, d=%d)",
                        sim->threads, S, d);
    }
    return PFR_OK;
}
