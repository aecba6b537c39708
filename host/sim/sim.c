/*
 * sim.c — the two-timescale round loop on the host (schedules, evaluation cadence, history,
 * periodic checkpoints, stop requests). Set-up and the end of a handle: sim_setup.c; accessors and
 * setters: sim_access.c; evaluation: evaluate.c; checkpoints: checkpoint.c; the engines own a round
 * (engine_cpu.c, cuda/).
 */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/pfr_agent_math.h"
#include "dist.h"
#include "engine.h"
#include "federation.h"
#include "neural/neural.h"
#ifdef PFR_HAVE_CUDA
#include "cuda/cuda_plugin.h"
#endif

void pfr_sim_set_progress(pfr_sim *sim, pfr_progress_fn fn, void *user)
{
    if (!sim)
        return;
    sim->progress = fn;
    sim->progress_user = user;
}

pfr_status pfr_sim_evaluate(pfr_sim *sim, pfr_metrics *out, size_t size)
{
    if (!sim || !out || size < sizeof out->size)
        return sim ? pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "pfr_sim_evaluate: NULL out or size %zu below %zu", size,
                                  sizeof out->size)
                   : PFR_ERR_INVALID_ARGUMENT;
    pfr_metrics m;
    const pfr_status st = pfr_evaluate(sim, &m, NULL);
    if (st == PFR_OK)
        pfr_copy_versioned(out, size, &m, sizeof m);
    return st;
}

static pfr_status record(pfr_sim *sim, double t_start)
{
    pfr_status st = pfr_sim_reserve_history(sim, sim->nhist + 1);
    if (st != PFR_OK)
        return st;
    pfr_metrics m;
    if ((st = pfr_evaluate(sim, &m, sim->hist_type + sim->nhist * (size_t)sim->M)) != PFR_OK)
        return st;
    m.wall_s = sim->wall_s + (pfr_now_s() - t_start);
    sim->hist[sim->nhist++] = m;
    memset(&sim->since_eval, 0, sizeof sim->since_eval); /* the next evaluation's means start here */
    sim->rounds_since_eval = 0;
    if (sim->neural) {
        pfr_neural_mark(sim); /* the next evaluation's td_loss starts here */
        if (!isfinite(m.greedy_return) || (sim->round > 0 && !isfinite(m.td_loss) && !isnan(m.td_loss)))
            return pfr_sim_fail(sim, PFR_ERR_NUMERIC, "the run diverged by round %lld (td_loss = %g); lower dqn.lr (%g)",
                                (long long)sim->round, m.td_loss, sim->cfg.dqn.lr);
    } else if (!isfinite(m.value_error))
        return pfr_sim_fail(sim, PFR_ERR_NUMERIC,
                            "the run diverged by round %lld (value_error = %g); lower alpha (%g) or beta (%g)",
                            (long long)sim->round, m.value_error, sim->cfg.alpha, sim->cfg.beta);
    if (sim->progress)
        sim->progress(sim->progress_user, sim, sim->round, &m);
    return PFR_OK;
}

pfr_status pfr_sim_run(pfr_sim *sim, int64_t rounds)
{
    return pfr_sim_run_ex(sim, rounds, PFR_RUN_EVALUATE_END);
}

pfr_status pfr_sim_run_ex(pfr_sim *sim, int64_t rounds, unsigned flags)
{
    if (!sim)
        return PFR_ERR_INVALID_ARGUMENT;
    if (rounds < 0)
        return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "pfr_sim_run: rounds = %lld; allowed: >= 0", (long long)rounds);
    if (flags & ~PFR_RUN_EVALUATE_END)
        return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "pfr_sim_run_ex: flags = %#x; allowed: 0 or PFR_RUN_EVALUATE_END",
                            flags);
    sim->errmsg[0] = '\0';
    const double t_start = pfr_now_s();
    const int K = sim->K;
    float *alpha = malloc(sizeof(float) * (size_t)K), *beta = malloc(sizeof(float) * (size_t)K);
    pfr_status st = PFR_OK;
    if (!alpha || !beta) {
        st = pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory");
        goto out;
    }
    if (sim->nhist == 0 && (st = record(sim, t_start)) != PFR_OK)
        goto out;
    const pfr_schedule_config *sc = &sim->cfg.schedule;
    const double part = sim->cfg.participation;
    for (int64_t r = 0; r < rounds; ++r) {
        pfr_round_plan plan;
        memset(&plan, 0, sizeof plan);
        plan.round = sim->round;
        plan.t0 = (uint64_t)sim->round * (uint64_t)K;
        plan.K = K;
        for (int k = 0; k < K; ++k) {
            const double t = (double)(plan.t0 + (uint64_t)k);
            alpha[k] = (float)(sc->a == 0.0 ? sim->cfg.alpha : sim->cfg.alpha / pow(1.0 + t / sc->tau, sc->a));
            beta[k] = (float)(sc->b == 0.0 ? sim->cfg.beta : sim->cfg.beta / pow(1.0 + t / sc->tau, sc->b));
            if (sim->tabular) { /* the table learns at alpha_t, theta (fixed at 1) not at all */
                beta[k] = alpha[k];
                alpha[k] = 0.0f;
            }
        }
        plan.alpha = alpha;
        plan.beta = beta;
        plan.part_threshold = pfr_participation_threshold(part);
        if (sim->control)
            plan.explore_thr = pfr_explore_threshold(&sim->cfg, plan.t0);
        pfr_round_stats rs = {0, 0, 0};
        /* availability, stragglers, stale Phi, clipping and noise: the plan's federation fields */
        if (sim->fed && (st = pfr_fed_begin_round(sim, &plan, &rs)) != PFR_OK)
            goto out;
        uint64_t participants = 0;
        const double t0 = pfr_now_s();
        const int warm_up = !sim->warmed; /* the handle's first round: timed apart (see engine.h) */
        st = sim->engine->round(sim, &plan, &participants);
        if (st == PFR_OK && warm_up && sim->engine->wait)
            st = sim->engine->wait(sim); /* its device work too */
        const double dt = pfr_now_s() - t0;
        sim->step_s += dt;
        if (st != PFR_OK)
            goto out;
        if (sim->fed && (st = pfr_fed_end_round(sim, participants, NULL)) != PFR_OK)
            goto out;
        if (!plan.steps) { /* every participant did K steps from the Phi of age age0 */
            rs.participants = participants;
            rs.steps = participants * (uint64_t)K;
            rs.age_sum = participants * (uint64_t)plan.age0;
        } else if (rs.participants != participants) { /* the host's draws and the engine's disagree */
            st = pfr_sim_fail(sim, PFR_ERR_INTERNAL, "round %lld: the engine counted %llu participants, the host drew %llu",
                              (long long)plan.round, (unsigned long long)participants,
                              (unsigned long long)rs.participants);
            goto out;
        }
        sim->warmed = 1;
        if (!warm_up) {
            sim->rate_s += dt;
            sim->rate_steps += rs.steps;
        }
        sim->round++;
        sim->agent_steps += rs.steps;
        sim->since_eval.participants += rs.participants;
        sim->since_eval.steps += rs.steps;
        sim->since_eval.age_sum += rs.age_sum;
        sim->rounds_since_eval++;
        sim->total.participants += rs.participants;
        sim->total.steps += rs.steps;
        sim->total.age_sum += rs.age_sum;
        if (plan.noise_std > 0.0 && rs.participants > 0)
            sim->private_rounds++;
        if (sim->round % sim->cfg.eval_every == 0 || (r + 1 == rounds && (flags & PFR_RUN_EVALUATE_END))) {
            if (sim->engine->wait) { /* a device engine runs ahead of the host: its rounds end here */
                const double tw = pfr_now_s();
                st = sim->engine->wait(sim);
                sim->step_s += pfr_now_s() - tw;
                sim->rate_s += pfr_now_s() - tw;
                if (st != PFR_OK)
                    goto out;
            }
            if ((st = record(sim, t_start)) != PFR_OK)
                goto out;
        } else if (sim->progress) {
            sim->progress(sim->progress_user, sim, sim->round, NULL);
        }
        if (sim->cfg.checkpoint_every > 0 && sim->checkpoint_path[0] && sim->round % sim->cfg.checkpoint_every == 0) {
            pfr_error cerr = {{0}};
            st = pfr_sim_save(sim, sim->checkpoint_path, &cerr);
            if (sim->dsize > 1) /* rank 0 wrote it: every rank learns how that went */
                st = pfr_dist_agree(st, &cerr);
            if (st != PFR_OK) {
                pfr_sim_fail(sim, st, "%s", cerr.msg);
                goto out;
            }
        }
        int stop = __atomic_exchange_n(&sim->stop, 0, __ATOMIC_RELAXED);
        pfr_error derr;
        if (sim->dsize > 1 && (st = pfr_dist_max_int(&stop, 1, &derr)) != PFR_OK) { /* one rank asked: all stop */
            pfr_sim_fail(sim, st, "%s", derr.msg);
            goto out;
        }
        if (stop && r + 1 < rounds) { /* the request used up */
            st = pfr_sim_fail(sim, PFR_ERR_INTERRUPTED, "stopped at the end of round %lld, as asked",
                              (long long)sim->round);
            goto out;
        }
    }
out:
    sim->wall_s += pfr_now_s() - t_start;
    if (sim->nhist > 0)
        sim->hist[sim->nhist - 1].wall_s = sim->wall_s;
    free(alpha);
    free(beta);
    return st;
}

void pfr_describe_engines(char *buf, size_t n)
{
    const int kernel = pfr_cpu_kernel_pick(PFR_CPU_KERNEL_AUTO);
    int used = snprintf(buf, n,
                        "engines:\n  cpu   available (OpenMP, %d cores); cpu_kernel auto: %s%s\n",
                        omp_get_num_procs(), pfr_cpu_kernel_name((pfr_cpu_kernel)kernel),
                        kernel == PFR_CPU_KERNEL_AVX512 ? " (16 agents at once, AVX-512)"
                        : kernel == PFR_CPU_KERNEL_AVX2 ? " (16 agents at once, AVX2)"
                                                        : " (one agent at a time; no AVX2 or AVX-512 here)");
    if (used < 0 || (size_t)used >= n)
        return;
#ifdef PFR_HAVE_CUDA
    pfr_error err;
    const pfr_cuda_plugin *cuda = pfr_cuda_load(&err);
    if (!cuda) {
        snprintf(buf + used, n - (size_t)used, "  cuda  built, but %s\n", err.msg);
        return;
    }
    used += snprintf(buf + used, n - (size_t)used,
                     "  cuda  built; `auto` uses it when a device is found\n"
                     "        devices:\n");
    if ((size_t)used < n)
        cuda->describe(buf + used, n - (size_t)used);
#else
    snprintf(buf + used, n - (size_t)used, "  cuda  not compiled in (this build has no CUDA parts)\n");
#endif
}
