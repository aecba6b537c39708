/*
 * evaluate.c — one evaluation of a simulation (DESIGN §1 metrics): the value error of every agent
 * (on the engine when it offers per-agent metrics, else here), the TD fixed point of the current
 * Phi per type, the norms. Sums run over agent blocks in block order, so the numbers do not
 * depend on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/pfr_metrics.h"
#include "engine.h"
#include "federation.h"
#include "neural/neural.h"

static double direct_error(const pfr_sim *sim, const float *phi, const float *th, int m)
{
    const int S = sim->S;
    return pfr_direct_error(phi, th, S, sim->d, sim->truth.mu + (size_t)m * S, sim->truth.V + (size_t)m * S,
                            sim->truth.vnorm2[m]);
}

/* ---- sums over states, in chunks ------------------------------------------------------------------
 * Per-type sums over the S states (moments of Phi, the TD fixed point's system, its error) run in
 * chunks of PFR_EVAL_ROWS states on the threads; each chunk's partial is kept and the partials are
 * added in chunk order, so the numbers do not depend on the thread count. Napkin math: S = 10^6,
 * d = 32, 16 types: the moments are 16 x 10^6 x 32 x 33 / 2 ~ 8.4e9 multiply-adds, ~10 s on one
 * thread; split over the threads. */
#define PFR_EVAL_ROWS 4096

/* One evaluation job's view: job t uses type[t] and the representation phi[t] (and theta th[t]). */
typedef struct eval_ctx {
    const int *type;
    const float *const *phi;
    const float *const *th;
} eval_ctx;
typedef void (*chunk_fn)(const pfr_sim *sim, const eval_ctx *x, int t, int s0, int s1, double *out);

/* sums [ntypes, width] = over chunks in order of fn's partials; 0, or -1 when out of memory. */
static int chunked_sums(const pfr_sim *sim, int ntypes, size_t width, chunk_fn fn, const eval_ctx *x, double *sums)
{
    const int S = sim->S, nc = (S + PFR_EVAL_ROWS - 1) / PFR_EVAL_ROWS;
    const int64_t jobs = (int64_t)ntypes * nc;
    double *part = calloc((size_t)jobs * width, sizeof(double));
    if (!part)
        return -1;
#pragma omp parallel for num_threads(sim->threads) schedule(dynamic, 1)
    for (int64_t j = 0; j < jobs; ++j) {
        const int t = (int)(j / nc), c = (int)(j % nc);
        const int s1 = (c + 1) * PFR_EVAL_ROWS < S ? (c + 1) * PFR_EVAL_ROWS : S;
        fn(sim, x, t, c * PFR_EVAL_ROWS, s1, part + (size_t)j * width);
    }
    memset(sums, 0, sizeof(double) * (size_t)ntypes * width);
    for (int t = 0; t < ntypes; ++t)
        for (int c = 0; c < nc; ++c) {
            const double *q = part + ((size_t)t * nc + c) * width;
            for (size_t k = 0; k < width; ++k)
                sums[(size_t)t * width + k] += q[k];
        }
    free(part);
    return 0;
}

/* G = Phi^T D_m Phi (upper triangle; mirrored by the caller), h = Phi^T D_m V_m: out [d*d + d] */
static void moments_chunk(const pfr_sim *sim, const eval_ctx *x, int t, int s0, int s1, double *out)
{
    const int S = sim->S, d = sim->d, m = x->type[t];
    const double *mu = sim->truth.mu + (size_t)m * S, *V = sim->truth.V + (size_t)m * S;
    double *G = out, *h = out + (size_t)d * d;
    for (int s = s0; s < s1; ++s) {
        if (mu[s] == 0.0)
            continue;
        const float *row = x->phi[t] + (size_t)s * d;
        for (int i = 0; i < d; ++i) {
            const double wi = mu[s] * row[i];
            h[i] += wi * V[s];
            for (int j = i; j < d; ++j)
                G[(size_t)i * d + j] += wi * row[j];
        }
    }
}

/* The TD fixed point's system: A = Phi^T D (gamma P Phi - Phi), b = -Phi^T D r: out [d*d + d] */
static void fixed_point_chunk(const pfr_sim *sim, const eval_ctx *x, int t, int s0, int s1, double *out)
{
    const int S = sim->S, d = sim->d, m = x->type[t];
    const double gamma = sim->cfg.gamma;
    const double *mu = sim->truth.mu + (size_t)m * S, *r = sim->truth.r + (size_t)m * S;
    const pfr_env *env = sim->env;
    const uint64_t *rp = env->row_ptr + (size_t)m * (S + 1);
    const float *phi = x->phi[t];
    double *A = out, *b = out + (size_t)d * d, pphi[PFR_MAX_DIM];
    for (int s = s0; s < s1; ++s) {
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
}

/* sum_s mu (Phi theta - V)^2 over the chunk: out [1] */
static void error_chunk(const pfr_sim *sim, const eval_ctx *x, int t, int s0, int s1, double *out)
{
    const int S = sim->S, d = sim->d, m = x->type[t];
    const double *mu = sim->truth.mu + (size_t)m * S + s0, *V = sim->truth.V + (size_t)m * S + s0;
    out[0] = pfr_direct_error(x->phi[t] + (size_t)s0 * d, x->th[t], s1 - s0, d, mu, V, 1.0);
}

/* Relative error of the TD fixed point theta*(Phi) = -A^{-1} b of each job t (type[t] with
 * representation phi[t]) into err[t] (NaN if A is singular). -1 when out of memory. */
static int td_fixed_point_errors(const pfr_sim *sim, int n, const int *type, const float *const *phi, double *err)
{
    const int d = sim->d;
    const size_t w = (size_t)d * d + d;
    double *sys = malloc(sizeof(double) * n * w), *e = malloc(sizeof(double) * n);
    float *th = malloc(sizeof(float) * (size_t)n * d);
    const float **thp = malloc(sizeof(float *) * (size_t)n);
    int rc = -1;
    if (!sys || !e || !th || !thp)
        goto out;
    eval_ctx x = {type, phi, NULL};
    if (sim->tabular) { /* a table's TD fixed point is the true value: no error */
        for (int t = 0; t < n; ++t)
            err[t] = 0.0;
        rc = 0;
        goto out;
    }
    if (chunked_sums(sim, n, w, fixed_point_chunk, &x, sys) != 0)
        goto out;
    for (int t = 0; t < n; ++t) {
        double *A = sys + (size_t)t * w, *b = A + (size_t)d * d;
        /* States with mu = 0 (unreachable ones, e.g. cliff cells) leave A singular in directions
         * that no mu-weighted error can see; a ridge far below A's scale picks the minimum-norm
         * answer. */
        double tr = 0.0;
        for (int i = 0; i < d; ++i)
            tr += fabs(A[(size_t)i * d + i]);
        for (int i = 0; i < d; ++i)
            A[(size_t)i * d + i] -= 1e-12 * tr / d;
        const int ok = pfr_lu_solve(A, b, d) == PFR_OK;
        for (int j = 0; j < d; ++j)
            th[(size_t)t * d + j] = ok ? (float)b[j] : NAN;
        thp[t] = th + (size_t)t * d;
    }
    x.th = thp;
    if (chunked_sums(sim, n, 1, error_chunk, &x, e) != 0)
        goto out;
    for (int t = 0; t < n; ++t)
        err[t] = e[t] / sim->truth.vnorm2[type[t]];
    rc = 0;
out:
    free(sys);
    free(e);
    free(th);
    free(thp);
    return rc;
}

/* Per-type moments of the shared Phi: mom + m*(d*d + d) holds G_m = Phi^T D_m Phi [d, d], then
 * h_m = Phi^T D_m V_m [d] (see pfr_metrics.h). Held-out types (weight 0) are computed too. */
static int type_moments(const pfr_sim *sim, double *mom)
{
    const int d = sim->d, M = sim->M;
    int *type = malloc(sizeof(int) * (size_t)M);
    const float **phi = malloc(sizeof(float *) * (size_t)M);
    int rc = -1;
    if (type && phi) {
        for (int m = 0; m < M; ++m) {
            type[m] = m;
            phi[m] = sim->phi;
        }
        eval_ctx x = {type, phi, NULL};
        rc = chunked_sums(sim, M, (size_t)d * d + d, moments_chunk, &x, mom);
        for (int m = 0; rc == 0 && m < M; ++m) { /* the lower triangle from the upper */
            double *G = mom + (size_t)m * (d * d + d);
            for (int i = 0; i < d; ++i)
                for (int j = 0; j < i; ++j)
                    G[(size_t)i * d + j] = G[(size_t)j * d + i];
        }
    }
    free(type);
    free(phi);
    return rc;
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

/* The mean value error of each type the agents use, into by_type [M] (NaN for a type no agent
 * has). Agents of type type_first + q are q, q + tc, q + 2 tc, ... (tc = type_count), summed in
 * that order in chunks of PFR_EVAL_AGENTS on the threads, the partials added in chunk order: the
 * same numbers for any thread count. Reads the host's theta (and Phi_i for local_rep). */
#define PFR_EVAL_AGENTS 4096
static int errors_by_type(const pfr_sim *sim, const double *mom, double *by_type)
{
    const int tc = sim->type_count, d = sim->d, S = sim->S;
    const int64_t N = sim->N, per = (N + tc - 1) / tc, nc = (per + PFR_EVAL_AGENTS - 1) / PFR_EVAL_AGENTS;
    const int64_t jobs = (int64_t)tc * nc;
    double *part = calloc((size_t)(jobs > 0 ? jobs : 1), sizeof(double));
    if (!part)
        return -1;
#pragma omp parallel for num_threads(sim->threads) schedule(dynamic, 1)
    for (int64_t j = 0; j < jobs; ++j) {
        const int q = (int)(j / nc), m = sim->type_first + q;
        const int64_t c = j % nc;
        double e = 0.0;
        for (int64_t k = c * PFR_EVAL_AGENTS; k < (c + 1) * PFR_EVAL_AGENTS; ++k) {
            const int64_t i = q + k * tc;
            if (i >= N)
                break;
            const float *th = sim->theta + (size_t)i * d;
            if (sim->own_phi) {
                e += direct_error(sim, sim->agent_phi + (size_t)i * S * d, th, m);
            } else {
                const double *G = mom + (size_t)m * (d * d + d);
                e += pfr_quad_error(G, G + (size_t)d * d, sim->truth.vnorm2[m], th, d);
            }
        }
        part[j] = e;
    }
    for (int m = 0; m < sim->M; ++m)
        by_type[m] = NAN;
    for (int q = 0; q < tc && q < N; ++q) {
        double e = 0.0;
        for (int64_t c = 0; c < nc; ++c)
            e += part[(size_t)q * nc + c];
        by_type[sim->type_first + q] = e / (double)((N - q + tc - 1) / tc);
    }
    free(part);
    return 0;
}

/* The agents' squared errors over their values' squared norms (mu-weighted), from each type's mean
 * relative error: sum_m n_m e_m |V_m|^2 / sum_m n_m |V_m|^2, n_m the agents of type m. Unlike the
 * mean of relative errors, a type of small values does not dominate it. */
static double pooled_error(const pfr_sim *sim, const double *by_type)
{
    const int64_t N = sim->N, tc = sim->type_count;
    double num = 0.0, den = 0.0;
    for (int q = 0; q < tc && q < N; ++q) {
        const int m = sim->type_first + q;
        const double n = (double)((N - q + tc - 1) / tc), v2 = sim->truth.vnorm2[m];
        num += n * by_type[m] * v2;
        den += n * v2;
    }
    return den > 0.0 ? num / den : NAN;
}

/* What every evaluation reports of the rounds: the federation's means since the last one, the
 * privacy spent, the rate. */
static void round_metrics(const pfr_sim *sim, pfr_metrics *out)
{
    const pfr_round_stats *since = &sim->since_eval;
    const double P = (double)since->participants;
    out->participants = sim->rounds_since_eval > 0 ? P / (double)sim->rounds_since_eval : NAN;
    out->mean_steps = P > 0 ? (double)since->steps / P : NAN;
    out->mean_staleness = P > 0 ? (double)since->age_sum / P : NAN;
    const pfr_federation_config *fc = &sim->cfg.federation;
    out->epsilon = fc->noise_multiplier > 0.0
                       ? pfr_dp_epsilon(sim->cfg.participation, fc->noise_multiplier, sim->private_rounds, fc->delta, NULL)
                       : NAN;
    out->agent_steps_per_sec = sim->rate_steps > 0 && sim->rate_s > 0 ? (double)sim->rate_steps / sim->rate_s
                               : sim->step_s > 0 ? (double)sim->agent_steps / sim->step_s
                                                 : 0.0;
}

/* The neural instance: its greedy returns (neural_eval.c); the linear errors NaN. */
static pfr_status evaluate_neural(pfr_sim *sim, pfr_metrics *out, double *by_type)
{
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    out->round = sim->round;
    out->agent_steps = sim->agent_steps;
    out->value_error = out->td_fixed_point_error = out->best_rank_d_error = NAN;
    out->phi_norm = out->theta_norm = out->policy_gap = out->pooled_value_error = NAN;
    out->wall_s = sim->wall_s;
    pfr_status st = sim->engine->sync_host(sim); /* a device engine's state to the host */
    if (st == PFR_OK)
        st = pfr_neural_evaluate(sim, out, by_type);
    round_metrics(sim, out);
    return st;
}

pfr_status pfr_evaluate(pfr_sim *sim, pfr_metrics *out, double *by_type)
{
    if (sim->neural)
        return evaluate_neural(sim, out, by_type);
    /* An engine with its own per-agent metrics only needs the shared Phi (and, for local_rep, the
     * first agent of each type's Phi_i) on the host; otherwise the whole state comes over. */
    const int on_engine = sim->engine->agent_metrics != NULL;
    pfr_status st = on_engine ? sim->engine->pull_phi(sim) : sim->engine->sync_host(sim);
    if (st != PFR_OK)
        return st;
    const int S = sim->S, d = sim->d, M = sim->M;
    const int64_t N = sim->N;
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    out->round = sim->round;
    out->agent_steps = sim->agent_steps;
    out->best_rank_d_error = sim->best_rank_d;
    out->greedy_return = out->success_rate = out->td_loss = out->heldout_return = NAN; /* the neural instance's */

    const int64_t nblocks = (N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    double *blk = calloc((size_t)nblocks * 3, sizeof(double));
    double *mom = sim->own_phi ? NULL : malloc(sizeof(double) * (size_t)M * (d * d + d));
    if (!blk || (!sim->own_phi && !mom)) {
        free(blk);
        free(mom);
        return pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory while evaluating");
    }
    if (mom && type_moments(sim, mom) != 0) {
        free(blk);
        free(mom);
        return pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory while evaluating");
    }
    if (on_engine)
        st = sim->engine->agent_metrics(sim, mom, blk);
    else
        agent_metrics_host(sim, mom, blk);
    if (st != PFR_OK) {
        free(blk);
        free(mom);
        return st;
    }
    /* per type (also for the pooled error): on the host, which for a device engine needs the agents'
     * state here too */
    double *own_by_type = by_type ? NULL : malloc(sizeof(double) * (size_t)M);
    double *types = by_type ? by_type : own_by_type;
    if (!types)
        st = pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory while evaluating");
    if (st == PFR_OK && on_engine)
        st = sim->engine->sync_host(sim);
    if (st == PFR_OK && errors_by_type(sim, mom, types) != 0)
        st = pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory while evaluating");
    if (st == PFR_OK)
        out->pooled_value_error = pooled_error(sim, types);
    free(own_by_type);
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
    /* the TD fixed point of the shared Phi for each type the agents use (local_rep: of each type's
     * first agent, with its own Phi_i), weighted by the agents of the type */
    const int nfp = sim->control ? 0 /* no TD fixed point of a fixed chain */
                    : sim->own_phi ? (N < sim->type_count ? (int)N : sim->type_count) : sim->type_count;
    int *fp_type = malloc(sizeof(int) * (size_t)nfp);
    const float **fp_phi = malloc(sizeof(float *) * (size_t)nfp);
    double *fp_err = malloc(sizeof(double) * (size_t)nfp);
    int fp_rc = -1;
    if (nfp > 0 && fp_type && fp_phi && fp_err) {
        for (int t = 0; t < nfp; ++t) {
            fp_type[t] = sim->own_phi ? pfr_agent_type(sim, t) : sim->type_first + t;
            fp_phi[t] = sim->own_phi ? sim->agent_phi + (size_t)t * S * d : sim->phi;
        }
        fp_rc = td_fixed_point_errors(sim, nfp, fp_type, fp_phi, fp_err);
    }
    double fp = 0.0;
    if (sim->own_phi) {
        out->phi_norm = pn / (double)N;
        for (int t = 0; fp_rc == 0 && t < nfp; ++t)
            fp += fp_err[t];
        fp /= nfp;
    } else {
        double p2 = 0.0;
        for (size_t e = 0; e < (size_t)S * d; ++e)
            p2 += (double)sim->phi[e] * sim->phi[e];
        out->phi_norm = sqrt(p2);
        for (int t = 0; fp_rc == 0 && t < nfp; ++t)
            fp += sim->type_weight[fp_type[t]] * fp_err[t];
    }
    out->td_fixed_point_error = fp_rc == 0 ? fp : NAN;
    free(fp_type);
    free(fp_phi);
    free(fp_err);
    free(blk);
    free(mom);
    out->wall_s = sim->wall_s;
    out->policy_gap = NAN;
    if (sim->control) {
        if (on_engine && (st = sim->engine->sync_host(sim)) != PFR_OK)
            return st;
        int64_t sampled = 0;
        out->policy_gap = pfr_policy_gap(sim, &sampled);
        out->policy_agents = (double)sampled;
    }
    round_metrics(sim, out);
    return PFR_OK;
}
