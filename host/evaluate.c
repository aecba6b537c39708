/*
 * evaluate.c — one evaluation of a simulation (DESIGN §1 metrics): the value error of every agent
 * (on the engine when it offers per-agent metrics, else here), the TD fixed point of the current
 * Phi per type, the norms. Sums run over agent blocks in block order, so the numbers do not
 * depend on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/pfr_metrics.h"
#include "engine.h"

static double direct_error(const pfr_sim *sim, const float *phi, const float *th, int m)
{
    const int S = sim->S;
    return pfr_direct_error(phi, th, S, sim->d, sim->truth.mu + (size_t)m * S, sim->truth.V + (size_t)m * S,
                            sim->truth.vnorm2[m]);
}

/* Relative error of the TD fixed point theta*_m(Phi) = -A^{-1} b for type m (NaN if A is singular). */
static double td_fixed_point_error(const pfr_sim *sim, const float *phi, int m)
{
    const int S = sim->S, d = sim->d;
    const double gamma = sim->cfg.gamma;
    const double *mu = sim->truth.mu + (size_t)m * S, *r = sim->truth.r + (size_t)m * S;
    const pfr_env *env = sim->env;
    const uint64_t *rp = env->row_ptr + (size_t)m * (S + 1);
    double *A = calloc((size_t)d * d, sizeof(double)), *b = calloc((size_t)d, sizeof(double));
    double *pphi = malloc(sizeof(double) * (size_t)d);
    float *th = malloc(sizeof(float) * (size_t)d);
    double result = NAN;
    if (!A || !b || !pphi || !th)
        goto out;
    for (int s = 0; s < S; ++s) {
        if (mu[s] == 0.0)
            continue;
        for (int j = 0; j < d; ++j)
            pphi[j] = 0.0;
        for (uint64_t k = rp[s]; k < rp[s + 1]; ++k)
            for (int j = 0; j < d; ++j)
                pphi[j] += env->prob[k] * phi[(size_t)env->next[k] * d + j];
        for (int i = 0; i < d; ++i) {
            const double fi = mu[s] * phi[(size_t)s * d + i];
            for (int j = 0; j < d; ++j)
                A[(size_t)i * d + j] += fi * (gamma * pphi[j] - phi[(size_t)s * d + j]);
            b[i] -= fi * r[s]; /* solve A theta = -b */
        }
    }
    /* States with mu = 0 (unreachable ones, e.g. cliff cells) leave A singular in directions that
     * no mu-weighted error can see; a ridge far below A's scale picks the minimum-norm answer. */
    double tr = 0.0;
    for (int i = 0; i < d; ++i)
        tr += fabs(A[(size_t)i * d + i]);
    for (int i = 0; i < d; ++i)
        A[(size_t)i * d + i] -= 1e-12 * tr / d;
    if (pfr_lu_solve(A, b, d) != PFR_OK)
        goto out;
    for (int j = 0; j < d; ++j)
        th[j] = (float)b[j];
    result = direct_error(sim, phi, th, m);
out:
    free(A);
    free(b);
    free(pphi);
    free(th);
    return result;
}

/* Per-type moments of the shared Phi: mom + m*(d*d + d) holds G_m = Phi^T D_m Phi [d, d], then
 * h_m = Phi^T D_m V_m [d] (see pfr_metrics.h). Held-out types (weight 0) are computed too. */
static void type_moments(const pfr_sim *sim, double *mom)
{
    const int S = sim->S, d = sim->d;
    memset(mom, 0, sizeof(double) * (size_t)sim->M * (d * d + d));
    for (int m = 0; m < sim->M; ++m) {
        double *G = mom + (size_t)m * (d * d + d), *h = G + (size_t)d * d;
        const double *mu = sim->truth.mu + (size_t)m * S, *V = sim->truth.V + (size_t)m * S;
        for (int s = 0; s < S; ++s) {
            if (mu[s] == 0.0)
                continue;
            const float *row = sim->phi + (size_t)s * d;
            for (int i = 0; i < d; ++i) {
                h[i] += mu[s] * row[i] * V[s];
                for (int j = 0; j < d; ++j)
                    G[(size_t)i * d + j] += mu[s] * row[i] * row[j];
            }
        }
    }
}

/* The per-agent sums on the host, per block of agents in agent order: blk [nblocks, 3] = value
 * error, |theta|, |Phi_i| (the last for local_rep only). */
static void agent_metrics_host(const pfr_sim *sim, const double *mom, double *blk)
{
    const int S = sim->S, d = sim->d;
    const int64_t N = sim->N, nblocks = (N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
#pragma omp parallel for num_threads(sim->threads) schedule(dynamic, 1)
    for (int64_t b = 0; b < nblocks; ++b) {
        const int64_t i0 = b * PFR_AGENT_BLOCK, i1 = i0 + PFR_AGENT_BLOCK < N ? i0 + PFR_AGENT_BLOCK : N;
        double ve = 0.0, tn = 0.0, pn = 0.0;
        for (int64_t i = i0; i < i1; ++i) {
            const float *th = sim->theta + (size_t)i * d;
            const int m = pfr_agent_type(sim, i);
            tn += pfr_theta_norm(th, d);
            if (sim->own_phi) {
                const float *phi = sim->agent_phi + (size_t)i * S * d;
                ve += direct_error(sim, phi, th, m);
                pn += pfr_phi_norm(phi, S, d);
            } else {
                const double *G = mom + (size_t)m * (d * d + d);
                ve += pfr_quad_error(G, G + (size_t)d * d, sim->truth.vnorm2[m], th, d);
            }
        }
        blk[3 * b] = ve;
        blk[3 * b + 1] = tn;
        blk[3 * b + 2] = pn;
    }
}

pfr_status pfr_evaluate(pfr_sim *sim, pfr_metrics *out)
{
    /* An engine with its own per-agent metrics only needs the shared Phi (and, for local_rep, the
     * first agent of each type's Phi_i) on the host; otherwise the whole state comes over. */
    const int on_engine = sim->engine->agent_metrics != NULL;
    pfr_status st = on_engine ? sim->engine->pull_phi(sim) : sim->engine->sync_host(sim);
    if (st != PFR_OK)
        return st;
    const int S = sim->S, d = sim->d, M = sim->M;
    const int64_t N = sim->N;
    memset(out, 0, sizeof *out);
    out->round = sim->round;
    out->agent_steps = sim->agent_steps;
    out->best_rank_d_error = sim->best_rank_d;

    const int64_t nblocks = (N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    double *blk = calloc((size_t)nblocks * 3, sizeof(double));
    double *mom = sim->own_phi ? NULL : malloc(sizeof(double) * (size_t)M * (d * d + d));
    if (!blk || (!sim->own_phi && !mom)) {
        free(blk);
        free(mom);
        return pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory while evaluating");
    }
    if (mom)
        type_moments(sim, mom);
    if (on_engine)
        st = sim->engine->agent_metrics(sim, mom, blk);
    else
        agent_metrics_host(sim, mom, blk);
    if (st != PFR_OK) {
        free(blk);
        free(mom);
        return st;
    }
    double ve = 0.0, tn = 0.0, pn = 0.0;
    for (int64_t b = 0; b < nblocks; ++b) { /* block order: the same sum for any thread count */
        ve += blk[3 * b];
        tn += blk[3 * b + 1];
        pn += blk[3 * b + 2];
    }
    out->value_error = ve / (double)N;
    out->theta_norm = tn / (double)N;
    if (sim->own_phi) {
        out->phi_norm = pn / (double)N;
        /* the fixed point of each type's first agent, with its own Phi_i */
        const int n = N < sim->type_count ? (int)N : sim->type_count;
        double fp = 0.0;
        for (int i = 0; i < n; ++i)
            fp += td_fixed_point_error(sim, sim->agent_phi + (size_t)i * S * d, pfr_agent_type(sim, i));
        out->td_fixed_point_error = fp / n;
    } else {
        double p2 = 0.0;
        for (size_t e = 0; e < (size_t)S * d; ++e)
            p2 += (double)sim->phi[e] * sim->phi[e];
        out->phi_norm = sqrt(p2);
        double fp = 0.0;
        for (int m = 0; m < M; ++m)
            if (sim->type_weight[m] > 0.0)
                fp += sim->type_weight[m] * td_fixed_point_error(sim, sim->phi, m);
        out->td_fixed_point_error = fp;
    }
    free(blk);
    free(mom);
    out->wall_s = sim->wall_s;
    out->agent_steps_per_sec = sim->rate_steps > 0 && sim->rate_s > 0 ? (double)sim->rate_steps / sim->rate_s
                               : sim->step_s > 0 ? (double)sim->agent_steps / sim->step_s
                                                 : 0.0;
    return PFR_OK;
}
