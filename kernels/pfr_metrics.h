/*
 * pfr_metrics.h — the per-agent part of an evaluation (DESIGN §1), shared by the CPU engine's
 * host loop and the CUDA metrics kernel so both compute the same numbers in the same order.
 * Shared-Phi algorithms: the per-type moments come from the host: for type m, G = Phi^T D_m Phi [d, d], h = Phi^T D_m V_m
 * [d] (packed as mom + m*(d*d + d)) and c = ||V_m||^2_mu; then
 *   ||Phi theta - V_m||^2_mu / c = (theta^T G theta - 2 theta^T h + c) / c.
 */
#ifndef PFR_METRICS_H
#define PFR_METRICS_H

#include <math.h>

#include "pfr_agent_math.h"

PFR_HD static inline double pfr_quad_error(const double *G, const double *h, double c, const float *th, int d)
{
    double e = c;
    for (int i = 0; i < d; ++i) {
        double gi = 0.0;
        for (int j = 0; j < d; ++j)
            gi += G[(size_t)i * d + j] * th[j];
        e += (double)th[i] * gi - 2.0 * (double)th[i] * h[i];
    }
    return (e > 0.0 || e != e ? e : 0.0) / c; /* clamp rounding below 0, keep NaN */
}

/* local_rep: ||Phi_i theta - V_m||^2_mu / ||V_m||^2_mu with the agent's own Phi_i [S, d]; mu, V [S]. */
PFR_HD static inline double pfr_direct_error(const float *phi, const float *th, int S, int d, const double *mu,
                                             const double *V, double vnorm2)
{
    double e = 0.0;
    for (int s = 0; s < S; ++s) {
        if (mu[s] == 0.0)
            continue;
        double v = 0.0;
        for (int j = 0; j < d; ++j)
            v += (double)phi[(size_t)s * d + j] * th[j];
        e += mu[s] * (v - V[s]) * (v - V[s]);
    }
    return e / vnorm2;
}

/* Frobenius norm of an agent's Phi_i [S, d]. */
PFR_HD static inline double pfr_phi_norm(const float *phi, int S, int d)
{
    double p2 = 0.0;
    for (size_t e = 0; e < (size_t)S * d; ++e)
        p2 += (double)phi[e] * phi[e];
    return sqrt(p2);
}

PFR_HD static inline double pfr_theta_norm(const float *th, int d)
{
    double t2 = 0.0;
    for (int j = 0; j < d; ++j)
        t2 += (double)th[j] * th[j];
    return sqrt(t2);
}

#endif
