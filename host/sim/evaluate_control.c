/*
 * evaluate_control.c — control's policy metric: how far each sampled agent's greedy policy is from
 * optimal, evaluated exactly (pfr_policy_value, truth_control.c). value_error, computed by
 * evaluate.c as for policy evaluation, is then the relative error of Q_i against Q*_m (the ground
 * truth holds Q*, weighted uniformly over the state-action pairs).
 *
 * policy_gap of agent i of type m: sum_s (V*_m(s) - V^{pi_i}_m(s)) / sum_s |V*_m(s)|, the start
 * distribution uniform over the states, pi_i(s) = the first argmax_a of Q_i(s, a). The agents: the
 * first control.policy_agents agents of each type the agents use; the mean over them, added in
 * agent order (the same for any thread count). Napkin math: a policy's value by iteration costs
 * ~log(1e-12 (1 - gamma)) / log(gamma) sweeps of O(S A b): 16 types x 8 agents on a 100 x 100 grid at
 * gamma 0.9: 128 x 300 sweeps x 5e4 ~ 2e9 adds, ~1 s on two cores per evaluation.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/pfr_control.h"
#include "engine.h"

double pfr_policy_gap(const pfr_sim *sim, int64_t *sampled)
{
    const int states = sim->states, A = sim->A, d = sim->d, tc = sim->type_count;
    const int64_t N = sim->N, per = sim->cfg.control.policy_agents;
    /* agents q + k tc (k < per) of each type q the agents use */
    int64_t n = 0;
    for (int q = 0; q < tc; ++q)
        for (int64_t k = 0; k < per && q + k * tc < N; ++k)
            ++n;
    *sampled = n;
    double *gap = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    int64_t *who = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    if (!gap || !who) {
        free(gap);
        free(who);
        return NAN;
    }
    n = 0;
    for (int q = 0; q < tc; ++q)
        for (int64_t k = 0; k < per && q + k * tc < N; ++k)
            who[n++] = q + k * tc;
    int failed = 0;
#pragma omp parallel for num_threads(sim->threads) schedule(dynamic, 1) reduction(| : failed)
    for (int64_t x = 0; x < n; ++x) {
        const int64_t i = who[x];
        const int m = pfr_agent_type(sim, i);
        const float *phi = sim->own_phi ? sim->agent_phi + (size_t)i * sim->S * d : sim->phi;
        const float *th = sim->theta + (size_t)i * d;
        int *pi = malloc(sizeof(int) * (size_t)states);
        double *V = malloc(sizeof(double) * (size_t)states), *scratch = malloc(sizeof(double) * (size_t)states);
        if (!pi || !V || !scratch) {
            failed = 1;
        } else {
            for (int s = 0; s < states; ++s) {
                float q[PFR_CONTROL_MAX_A];
                for (int a = 0; a < A; ++a)
                    q[a] = pfr_dot(phi + ((size_t)s * A + a) * d, th, d);
                pi[s] = pfr_argmax_first(q, A); /* the engines' target rule */
            }
            pfr_policy_value(sim->env, m, sim->cfg.gamma, pi, V, scratch);
            const double *vs = sim->truth.vstar + (size_t)m * states;
            double num = 0.0, den = 0.0;
            for (int s = 0; s < states; ++s) {
                num += vs[s] - V[s];
                den += fabs(vs[s]);
            }
            gap[x] = den > 0 ? num / den : 0.0;
        }
        free(pi);
        free(V);
        free(scratch);
    }
    double sum = 0.0;
    for (int64_t x = 0; x < n; ++x) /* agent order */
        sum += gap[x];
    free(gap);
    free(who);
    return failed || n == 0 ? NAN : sum / (double)n;
}
