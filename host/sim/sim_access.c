/*
 * sim_access.c — reading and setting a simulation's state and results: Phi, theta, states, ground
 * truth, chains, the evaluation history, set-up facts; stop requests and the checkpoint path.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "federation.h"
#include "neural/dqn_steps.h"
#include "neural/neural.h"

/* ---- accessors ------------------------------------------------------------------------------- */
const char *pfr_sim_last_error(const pfr_sim *sim) { return sim ? sim->errmsg : "NULL handle"; }
const char *pfr_sim_warnings(const pfr_sim *sim) { return sim ? sim->warnings : ""; }
const pfr_config *pfr_sim_config(const pfr_sim *sim) { return sim ? &sim->cfg : NULL; }
int pfr_sim_num_states(const pfr_sim *sim) { return sim ? sim->S : 0; }
int pfr_sim_num_types(const pfr_sim *sim) { return sim ? sim->M : 0; }
int pfr_sim_num_actions(const pfr_sim *sim) { return sim ? sim->A : 0; }
int64_t pfr_sim_round(const pfr_sim *sim) { return sim ? sim->round : 0; }
const char *pfr_sim_backend(const pfr_sim *sim) { return sim && sim->engine ? sim->engine->name : "none"; }
int pfr_sim_threads(const pfr_sim *sim) { return sim ? sim->threads : 0; }

/* The neural instance has no chains, Phi or linear theta: the calls that read or set them say so. */
static pfr_status no_chains(pfr_sim *sim, const char *what)
{
    return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "%s: a %s run has networks, not chains, Phi or a linear theta",
                        what, pfr_env_kind_name(sim->cfg.env.kind));
}

static pfr_status sized(pfr_sim *sim, size_t have, size_t need, const char *what)
{
    if (have < need)
        return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "%s: buffer holds %zu elements, %zu needed", what, have, need);
    return PFR_OK;
}

pfr_status pfr_sim_get_phi(const pfr_sim *csim, float *out, size_t count)
{
    return pfr_sim_get_agent_phi(csim, 0, out, count);
}

pfr_status pfr_sim_get_agent_phi(const pfr_sim *csim, int64_t agent, float *out, size_t count)
{
    pfr_sim *sim = (pfr_sim *)csim; /* the handle's error message and host mirror are mutable state */
    if (!sim || !out)
        return PFR_ERR_INVALID_ARGUMENT;
    if (sim->neural)
        return no_chains(sim, "pfr_sim_get_agent_phi");
    if (agent < 0 || agent >= sim->N)
        return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "agent %lld out of range [0, %lld)", (long long)agent,
                            (long long)sim->N);
    const size_t n = (size_t)sim->S * sim->d;
    pfr_status st = sized(sim, count, n, "pfr_sim_get_agent_phi");
    if (st == PFR_OK)
        st = sim->engine->sync_host(sim);
    if (st == PFR_OK)
        memcpy(out, sim->own_phi ? sim->agent_phi + (size_t)agent * n : sim->phi, sizeof(float) * n);
    return st;
}

pfr_status pfr_sim_get_theta(const pfr_sim *csim, int64_t agent, float *out, size_t count)
{
    pfr_sim *sim = (pfr_sim *)csim;
    if (!sim || !out)
        return PFR_ERR_INVALID_ARGUMENT;
    if (sim->neural)
        return no_chains(sim, "pfr_sim_get_theta");
    if (agent < 0 || agent >= sim->N)
        return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "agent %lld out of range [0, %lld)", (long long)agent,
                            (long long)sim->N);
    pfr_status st = sized(sim, count, (size_t)sim->d, "pfr_sim_get_theta");
    if (st == PFR_OK)
        st = sim->engine->sync_host(sim);
    if (st == PFR_OK)
        memcpy(out, sim->theta + (size_t)agent * sim->d, sizeof(float) * (size_t)sim->d);
    return st;
}

pfr_status pfr_sim_get_thetas(const pfr_sim *csim, float *out, size_t count)
{
    pfr_sim *sim = (pfr_sim *)csim;
    if (!sim || !out)
        return PFR_ERR_INVALID_ARGUMENT;
    if (sim->neural)
        return no_chains(sim, "pfr_sim_get_thetas");
    pfr_status st = sized(sim, count, (size_t)sim->N * (size_t)sim->d, "pfr_sim_get_thetas");
    if (st == PFR_OK)
        st = sim->engine->sync_host(sim);
    if (st == PFR_OK)
        memcpy(out, sim->theta, sizeof(float) * (size_t)sim->N * (size_t)sim->d);
    return st;
}

pfr_status pfr_sim_get_states(const pfr_sim *csim, uint32_t *out, size_t count)
{
    pfr_sim *sim = (pfr_sim *)csim;
    if (!sim || !out)
        return PFR_ERR_INVALID_ARGUMENT;
    if (sim->neural)
        return no_chains(sim, "pfr_sim_get_states");
    pfr_status st = sized(sim, count, (size_t)sim->N, "pfr_sim_get_states");
    if (st == PFR_OK)
        st = sim->engine->sync_host(sim);
    if (st == PFR_OK)
        memcpy(out, sim->state, sizeof(uint32_t) * (size_t)sim->N);
    return st;
}

/* ---- the neural instance's networks ---------------------------------------------------------- */
int64_t pfr_sim_body_size(const pfr_sim *sim) { return sim && sim->neural ? sim->neural->P : 0; }

static pfr_status network_part(const pfr_sim *csim, int64_t agent, float *out, size_t count, int head, const char *what)
{
    pfr_sim *sim = (pfr_sim *)csim;
    if (!sim || !out)
        return PFR_ERR_INVALID_ARGUMENT;
    if (!sim->neural)
        return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "%s: only a cartpole or acrobot run has networks (this "
                            "run's env.kind is %s)", what, pfr_env_kind_name(sim->cfg.env.kind));
    if (agent < 0 || agent >= sim->N)
        return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "agent %lld out of range [0, %lld)", (long long)agent,
                            (long long)sim->N);
    const pfr_neural *nn = sim->neural;
    const size_t n = (size_t)(head ? nn->H : nn->P);
    pfr_status st = sized(sim, count, n, what);
    if (st == PFR_OK)
        st = sim->engine->sync_host(sim); /* a device engine's networks to the host */
    if (st == PFR_OK)
        memcpy(out, (head ? nn->head : nn->body) + (size_t)agent * n, sizeof(float) * n);
    return st;
}

pfr_status pfr_sim_get_body(const pfr_sim *sim, int64_t agent, float *out, size_t count)
{
    return network_part(sim, agent, out, count, 0, "pfr_sim_get_body");
}

pfr_status pfr_sim_get_head(const pfr_sim *sim, int64_t agent, float *out, size_t count)
{
    return network_part(sim, agent, out, count, 1, "pfr_sim_get_head");
}

/* A type index in range and an output buffer of at least `need` elements. */
static pfr_status check_type(pfr_sim *sim, int type, size_t count, size_t need, const char *what)
{
    if (type < 0 || type >= sim->M)
        return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "%s: type %d out of range [0, %d)", what, type, sim->M);
    return sized(sim, count, need, what);
}

pfr_status pfr_sim_get_ground_truth(const pfr_sim *csim, int type, double *v, double *mu, size_t count)
{
    pfr_sim *sim = (pfr_sim *)csim;
    if (!sim)
        return PFR_ERR_INVALID_ARGUMENT;
    if (sim->neural)
        return no_chains(sim, "pfr_sim_get_ground_truth");
    pfr_status st = check_type(sim, type, count, (size_t)sim->S, "pfr_sim_get_ground_truth");
    if (st != PFR_OK)
        return st;
    if (v)
        memcpy(v, sim->truth.V + (size_t)type * sim->S, sizeof(double) * (size_t)sim->S);
    if (mu)
        memcpy(mu, sim->truth.mu + (size_t)type * sim->S, sizeof(double) * (size_t)sim->S);
    return PFR_OK;
}

pfr_status pfr_sim_get_chain_csr(const pfr_sim *csim, int type, int64_t *indptr, int32_t *indices, double *p, double *r,
                                 size_t capacity, int64_t *nnz)
{
    pfr_sim *sim = (pfr_sim *)csim;
    if (!sim || !nnz)
        return PFR_ERR_INVALID_ARGUMENT;
    if (sim->neural)
        return no_chains(sim, "pfr_sim_get_chain_csr");
    pfr_status st = check_type(sim, type, 0, 0, "pfr_sim_get_chain_csr");
    if (st != PFR_OK)
        return st;
    const int S = sim->S;
    const pfr_env *e = sim->env;
    const uint64_t *rp = e->row_ptr + (size_t)type * (S + 1), a = rp[0], n = rp[S] - a;
    *nnz = (int64_t)n;
    if ((indices || p || r) && (st = sized(sim, capacity, (size_t)n, "pfr_sim_get_chain_csr")) != PFR_OK)
        return st;
    for (int s = 0; indptr && s <= S; ++s)
        indptr[s] = (int64_t)(rp[s] - a);
    for (uint64_t k = 0; k < n; ++k) {
        if (indices)
            indices[k] = (int32_t)e->next[a + k];
        if (p)
            p[k] = e->prob[a + k];
        if (r)
            r[k] = e->rewardd[a + k];
    }
    return PFR_OK;
}

pfr_status pfr_sim_get_chain(const pfr_sim *csim, int type, double *P, double *R, size_t count)
{
    pfr_sim *sim = (pfr_sim *)csim;
    if (!sim)
        return PFR_ERR_INVALID_ARGUMENT;
    if (sim->neural)
        return no_chains(sim, "pfr_sim_get_chain");
    if (sim->control)
        return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT,
                            "pfr_sim_get_chain: with control the environment is an MDP (rows s A + a); use "
                            "pfr_sim_get_chain_csr");
    const int S = sim->S;
    pfr_status st = check_type(sim, type, count, (size_t)S * S, "pfr_sim_get_chain");
    if (st != PFR_OK)
        return st;
    if (P)
        pfr_env_dense_p(sim->env, type, P);
    if (R) {
        memset(R, 0, sizeof(double) * (size_t)S * S);
        const pfr_env *e = sim->env;
        for (int s = 0; s < S; ++s)
            for (uint64_t k = e->row_ptr[(size_t)type * (S + 1) + s]; k < e->row_ptr[(size_t)type * (S + 1) + s + 1]; ++k)
                R[(size_t)s * S + e->next[k]] = e->rewardd[k];
    }
    return PFR_OK;
}

#define PFR_METRICS_ROW(type, name, doc) {#name, #type, offsetof(pfr_metrics, name)},
static const struct {
    const char *name, *type;
    size_t offset;
} METRICS_FIELDS[] = {PFR_METRICS_FIELDS(PFR_METRICS_ROW)};
#undef PFR_METRICS_ROW

const char *pfr_metrics_field(size_t i, const char **type, size_t *offset)
{
    if (i >= sizeof METRICS_FIELDS / sizeof METRICS_FIELDS[0])
        return NULL;
    if (type)
        *type = METRICS_FIELDS[i].type;
    if (offset)
        *offset = METRICS_FIELDS[i].offset;
    return METRICS_FIELDS[i].name;
}

size_t pfr_sim_metrics_count(const pfr_sim *sim) { return sim ? sim->nhist : 0; }

pfr_status pfr_sim_metrics_get(const pfr_sim *sim, size_t i, pfr_metrics *out, size_t size)
{
    if (!sim || !out || i >= sim->nhist || size < sizeof out->size)
        return PFR_ERR_INVALID_ARGUMENT;
    pfr_copy_versioned(out, size, &sim->hist[i], sizeof sim->hist[i]);
    return PFR_OK;
}

const char *pfr_sim_env_description(const pfr_sim *sim)
{
    return !sim ? "" : sim->neural ? sim->neural->description : sim->env->description;
}

pfr_status pfr_sim_setup_info(const pfr_sim *sim, pfr_setup_info *out, size_t size)
{
    if (!sim || !out || size < sizeof out->size)
        return PFR_ERR_INVALID_ARGUMENT;
    pfr_setup_info si;
    si.size = sizeof si;
    si.setup_s = sim->setup_s;
    si.truth_s = sim->truth_s;
    si.truth_method = sim->neural                    ? "none (no chains)"
                      : sim->control                 ? "value iteration"
                      : sim->S <= PFR_TRUTH_DENSE_MAX ? "dense LU"
                      : sim->truth.lowrank > 0        ? "sparse LU (UMFPACK), restart rows as a low-rank term"
                                                      : "sparse LU (UMFPACK)";
    si.truth_resid_v = sim->truth.resid_v;
    si.truth_resid_mu = sim->truth.resid_mu;
    const int kernel = pfr_engine_cpu_kernel(sim);
    si.cpu_kernel = sim->neural ? sim->neural->path->name /* the minibatch step's vectors */
                    : kernel >= 0 ? pfr_cpu_kernel_name((pfr_cpu_kernel)kernel) : "";
    pfr_copy_versioned(out, size, &si, sizeof si);
    return PFR_OK;
}

pfr_status pfr_sim_federation_totals(const pfr_sim *sim, pfr_federation_totals *out, size_t size)
{
    if (!sim || !out || size < sizeof out->size)
        return PFR_ERR_INVALID_ARGUMENT;
    pfr_federation_totals t;
    memset(&t, 0, sizeof t);
    t.size = sizeof t;
    const double P = (double)sim->total.participants;
    t.rounds = sim->round;
    t.participations = sim->total.participants;
    t.mean_participants = sim->round > 0 ? P / (double)sim->round : NAN;
    t.mean_steps = P > 0 ? (double)sim->total.steps / P : NAN;
    t.mean_staleness = P > 0 ? (double)sim->total.age_sum / P : NAN;
    t.private_rounds = sim->private_rounds;
    const pfr_federation_config *fc = &sim->cfg.federation;
    t.delta = fc->delta;
    t.epsilon = fc->noise_multiplier > 0.0 ? pfr_dp_epsilon(sim->cfg.participation, fc->noise_multiplier,
                                                           sim->private_rounds, fc->delta, &t.rdp_order)
                                           : NAN;
    pfr_copy_versioned(out, size, &t, sizeof t);
    return PFR_OK;
}

int pfr_sim_type_singular_values(const pfr_sim *sim, double *out, size_t count)
{
    if (!sim || (!out && count))
        return -1;
    if (sim->neural) /* no chains, no values */
        return 0;
    const int M = sim->M, n = sim->M <= sim->S ? sim->M : sim->S;
    double *w = malloc(sizeof(double) * (size_t)M), *sv = malloc(sizeof(double) * (size_t)n);
    int got = -1;
    if (w && sv) {
        for (int m = 0; m < M; ++m)
            w[m] = 1.0 / M;
        got = pfr_truth_singular_values(&sim->truth, w, sv);
        for (int i = 0; got > 0 && i < got && (size_t)i < count; ++i)
            out[i] = sv[i];
    }
    free(w);
    free(sv);
    return got;
}


/* ---- setters: the engine's state made current on the host, changed, handed back -------------- */
static pfr_status begin_set(pfr_sim *sim, size_t count, size_t need, const char *what)
{
    pfr_status st = sized(sim, count, need, what);
    return st == PFR_OK ? sim->engine->sync_host(sim) : st;
}

static pfr_status end_set(pfr_sim *sim)
{
    return sim->engine->push_host ? sim->engine->push_host(sim) : PFR_OK;
}

static pfr_status check_finite(pfr_sim *sim, const float *v, size_t n, const char *what)
{
    for (size_t e = 0; e < n; ++e)
        if (!isfinite(v[e]))
            return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "%s: element %zu is not finite", what, e);
    return PFR_OK;
}

/* The checks every float setter makes: finite values, `count` = n, the engine's arrays on the host. */
static pfr_status begin_set_floats(pfr_sim *sim, const float *v, size_t count, size_t n, const char *what)
{
    pfr_status st = check_finite(sim, v, count < n ? count : n, what);
    return st == PFR_OK ? begin_set(sim, count, n, what) : st;
}

pfr_status pfr_sim_set_phi(pfr_sim *sim, const float *phi, size_t count)
{
    if (!sim || !phi)
        return PFR_ERR_INVALID_ARGUMENT;
    if (sim->neural)
        return no_chains(sim, "pfr_sim_set_phi");
    const size_t n = (size_t)sim->S * sim->d;
    pfr_status st = begin_set_floats(sim, phi, count, n, "pfr_sim_set_phi");
    if (st != PFR_OK)
        return st;
    memcpy(sim->phi, phi, sizeof(float) * n);
    if (sim->own_phi)
        for (int64_t i = 0; i < sim->N; ++i)
            memcpy(sim->agent_phi + (size_t)i * n, phi, sizeof(float) * n);
    return end_set(sim);
}

pfr_status pfr_sim_set_theta(pfr_sim *sim, const float *theta, size_t count)
{
    if (!sim || !theta)
        return PFR_ERR_INVALID_ARGUMENT;
    if (sim->neural)
        return no_chains(sim, "pfr_sim_set_theta");
    const size_t n = (size_t)sim->N * sim->d;
    pfr_status st = begin_set_floats(sim, theta, count, n, "pfr_sim_set_theta");
    if (st != PFR_OK)
        return st;
    memcpy(sim->theta, theta, sizeof(float) * n);
    return end_set(sim);
}

pfr_status pfr_sim_set_states(pfr_sim *sim, const uint32_t *states, size_t count)
{
    if (!sim || !states)
        return PFR_ERR_INVALID_ARGUMENT;
    if (sim->neural)
        return no_chains(sim, "pfr_sim_set_states");
    const size_t n = (size_t)sim->N;
    for (size_t i = 0; i < (count < n ? count : n); ++i)
        if (states[i] >= (uint32_t)sim->states)
            return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "pfr_sim_set_states: agent %zu's state %u is not below S = %d",
                                i, states[i], sim->states);
    pfr_status st = begin_set(sim, count, n, "pfr_sim_set_states");
    if (st != PFR_OK)
        return st;
    memcpy(sim->state, states, sizeof(uint32_t) * n);
    return end_set(sim);
}

pfr_status pfr_sim_metrics_by_type(const pfr_sim *csim, size_t i, double *out, size_t count)
{
    pfr_sim *sim = (pfr_sim *)csim;
    if (!sim || !out || i >= sim->nhist)
        return PFR_ERR_INVALID_ARGUMENT;
    pfr_status st = sized(sim, count, (size_t)sim->M, "pfr_sim_metrics_by_type");
    if (st == PFR_OK)
        memcpy(out, sim->hist_type + i * (size_t)sim->M, sizeof(double) * (size_t)sim->M);
    return st;
}

double pfr_sim_steps_per_sec(const pfr_sim *sim)
{
    if (!sim)
        return 0.0;
    return sim->rate_steps > 0 && sim->rate_s > 0 ? (double)sim->rate_steps / sim->rate_s
           : sim->step_s > 0                      ? (double)sim->agent_steps / sim->step_s
                                                  : 0.0;
}

void pfr_sim_request_stop(pfr_sim *sim)
{
    if (sim) /* a plain atomic store: safe in a signal handler */
        __atomic_store_n(&sim->stop, 1, __ATOMIC_RELAXED);
}

pfr_status pfr_sim_set_checkpoint(pfr_sim *sim, const char *path)
{
    if (!sim)
        return PFR_ERR_INVALID_ARGUMENT;
    if (!path)
        path = "";
    if (strlen(path) >= sizeof sim->checkpoint_path)
        return pfr_sim_fail(sim, PFR_ERR_INVALID_ARGUMENT, "pfr_sim_set_checkpoint: the path is longer than %zu bytes",
                            sizeof sim->checkpoint_path - 1);
    strcpy(sim->checkpoint_path, path);
    return PFR_OK;
}

pfr_status pfr_sim_gather(pfr_sim *sim)
{
    return sim->engine->sync_host(sim);
}
