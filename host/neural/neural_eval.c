/*
 * neural_eval.c — the neural instance's evaluation (neural.h): each agent's greedy policy, the
 * argmax of theta_i . f_W(s) with no exploration, for dqn.eval_episodes episodes on its own
 * environment and as many on a held-out one (the same parameter bin, a new parameter), every
 * episode's start from the agent's DQN_EVAL stream at counter round * 2^20 + episode (+ 2^19 held
 * out), so evaluating a round twice gives the same numbers and never touches the training streams.
 * Sums over agents go block by block in agent order, as the round's average does.
 *
 * Napkin math: an episode is at most 500 forwards of ~1.4k flops (CartPole, 4 -> 64 -> 16): an
 * agent's 2 x 5 episodes ~7 Mflop, ~3 ms; 4096 agents ~12 s on one core.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/pool.h"
#include "neural.h"

/* The mean return of agent i's greedy policy on env over the episodes of counter c0 + e. */
static double greedy_return(const pfr_neural *nn, const pfr_classic *env, uint64_t seed, int64_t i, int d,
                            uint64_t c0, float *scr)
{
    const float *body = nn->body + (size_t)i * nn->P, *head = nn->head + (size_t)i * nn->H;
    float ob[PFR_DQN_MAX_OBS];
    double total = 0.0;
    for (int e = 0; e < nn->eval_episodes; ++e) {
        const pfr_words w = pfr_stream_words(seed, PFR_STREAM_DQN_EVAL + (uint64_t)i, c0 + (uint64_t)e);
        double s[PFR_CLASSIC_STATE], u[4];
        for (int j = 0; j < 4; ++j)
            u[j] = pfr_dqn_u01(w.w[j]);
        pfr_classic_reset(env, s, u);
        double ret = 0.0;
        for (int t = 0; t < nn->max_steps; ++t) {
            pfr_classic_observe(env, s, ob);
            const int a = pfr_dqn_greedy(head, pfr_mlp_forward8(&nn->m, body, ob, scr), nn->A, d);
            float r;
            const int terminal = pfr_classic_step(env, s, a, &r);
            ret += (double)r;
            if (terminal)
                break;
        }
        total += ret;
    }
    return total / (double)nn->eval_episodes;
}

typedef struct eval_job {
    pfr_sim *sim;
    double *own, *held; /* [N] */
    int64_t next_agent, chunk;
} eval_job;

static void eval_worker(void *arg, int tid)
{
    eval_job *job = arg;
    pfr_sim *sim = job->sim;
    pfr_neural *nn = sim->neural;
    float *scr = nn->scratch + (size_t)tid * nn->scratch_floats;
    const uint64_t seed = sim->cfg.seed, c0 = (uint64_t)sim->round << 20;
    for (;;) {
        const int64_t c = __atomic_fetch_add(&job->next_agent, job->chunk, __ATOMIC_RELAXED);
        if (c >= sim->N)
            break;
        for (int64_t i = c; i < c + job->chunk && i < sim->N; ++i) {
            const pfr_classic own = pfr_classic_make(nn->kind, nn->param[i]);
            job->own[i] = greedy_return(nn, &own, seed, i, sim->d, c0, scr);
            const pfr_classic held = pfr_classic_make(nn->kind, nn->heldout[i]);
            job->held[i] = greedy_return(nn, &held, seed, i, sim->d, c0 + (1u << 19), scr);
        }
    }
}

/* sum_i x[i] (or of the indicator x[i] >= thr when count), block by block in agent order. */
static double block_sum(const double *x, int64_t N, int count, double thr)
{
    double total = 0.0;
    for (int64_t b0 = 0; b0 < N; b0 += PFR_AGENT_BLOCK) {
        double part = 0.0;
        for (int64_t i = b0; i < b0 + PFR_AGENT_BLOCK && i < N; ++i)
            part += count ? (x[i] >= thr ? 1.0 : 0.0) : x[i];
        total += part;
    }
    return total;
}

/* The agents' summed loss and gradient-step count, block by block. */
static void loss_totals(const pfr_neural *nn, int64_t N, double *sum, double *n)
{
    *sum = *n = 0.0;
    for (int64_t b0 = 0; b0 < N; b0 += PFR_AGENT_BLOCK) {
        double ps = 0.0, pn = 0.0;
        for (int64_t i = b0; i < b0 + PFR_AGENT_BLOCK && i < N; ++i) {
            ps += nn->loss_sum[i];
            pn += (double)nn->loss_n[i];
        }
        *sum += ps;
        *n += pn;
    }
}

void pfr_neural_mark(pfr_sim *sim)
{
    if (sim->neural)
        loss_totals(sim->neural, sim->N, &sim->neural->loss_mark[0], &sim->neural->loss_mark[1]);
}

pfr_status pfr_neural_evaluate(pfr_sim *sim, pfr_metrics *out, double *by_type)
{
    pfr_neural *nn = sim->neural;
    const int64_t N = sim->N;
    eval_job job = {sim, malloc(sizeof(double) * (size_t)N), malloc(sizeof(double) * (size_t)N), 0, pfr_neural_chunk(sim)};
    if (!job.own || !job.held) {
        free(job.own);
        free(job.held);
        return pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory while evaluating");
    }
    pfr_pool_run(nn->pool, eval_worker, &job);
    out->greedy_return = block_sum(job.own, N, 0, 0.0) / (double)N;
    out->success_rate = block_sum(job.own, N, 1, nn->success) / (double)N;
    out->heldout_return = block_sum(job.held, N, 0, 0.0) / (double)N;
    double ls, ln;
    loss_totals(nn, N, &ls, &ln);
    out->td_loss = ln > nn->loss_mark[1] ? (ls - nn->loss_mark[0]) / (ln - nn->loss_mark[1]) : NAN;
    if (by_type) { /* agent order within each type, as the sums above */
        for (int m = 0; m < sim->M; ++m)
            by_type[m] = NAN;
        for (int t = 0; t < sim->type_count; ++t) {
            double sum = 0.0;
            int64_t n = 0;
            for (int64_t i = t; i < N; i += sim->type_count, ++n)
                sum += job.own[i];
            if (n > 0)
                by_type[sim->type_first + t] = sum / (double)n;
        }
    }
    free(job.own);
    free(job.held);
    return PFR_OK;
}
