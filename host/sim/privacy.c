/*
 * privacy.c — the privacy the noisy aggregation spends, by the Renyi-DP accountant of the
 * subsampled Gaussian mechanism (Mironov, Talwar, Zhang 2019, "Renyi Differential Privacy of the
 * Sampled Gaussian Mechanism", Section 3.3: the closed form for integer orders), composed over the
 * rounds (RDP adds up) and converted to (epsilon, delta) by Balle et al. 2020 ("Hypothesis Testing
 * Interpretations and Renyi Differential Privacy", Theorem 21), the conversion Opacus and TF
 * Privacy use. Written here (60 lines) rather than linked: no C library for it is packaged.
 *
 * What is being protected: one agent's whole contribution to a round's sum (its Phi change,
 * clipped to L2 norm C; add/remove adjacency, sensitivity C), each agent included with probability
 * q = participation (Poisson sampling: the i.i.d. participation words), noise N(0, (sigma C)^2) on
 * every entry of the sum. Availability and stragglers are not credited (an agent known to be absent
 * leaks nothing that round, so counting every round is an upper bound).
 */
#include <math.h>

#include "federation.h"

/* log(exp(a) + exp(b)) without overflow. */
static double log_add(double a, double b)
{
    if (a == -INFINITY)
        return b;
    if (b == -INFINITY)
        return a;
    const double m = a > b ? a : b;
    return m + log1p(exp(-fabs(a - b)));
}

double pfr_dp_rdp(double q, double sigma, int alpha)
{
    if (sigma <= 0.0)
        return INFINITY;
    if (q <= 0.0)
        return 0.0;
    if (q >= 1.0) /* no sampling: the Gaussian mechanism, alpha / (2 sigma^2) */
        return alpha / (2.0 * sigma * sigma);
    /* A_alpha = sum_k C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2)) */
    double log_a = -INFINITY;
    for (int k = 0; k <= alpha; ++k) {
        const double log_binom = lgamma(alpha + 1.0) - lgamma(k + 1.0) - lgamma(alpha - k + 1.0);
        const double term =
            log_binom + k * log(q) + (alpha - k) * log1p(-q) + ((double)k * k - k) / (2.0 * sigma * sigma);
        log_a = log_add(log_a, term);
    }
    return log_a / (alpha - 1.0);
}

double pfr_dp_epsilon(double q, double sigma, int64_t rounds, double delta, int *order)
{
    static const int ORDERS[] = {2,  3,  4,  5,  6,  7,  8,  10, 12, 14,  16,  20,  24,  28,
                                 32, 40, 48, 56, 64, 80, 96, 128, 192, 256, 384, 512, 1024};
    double best = INFINITY;
    int best_order = 0;
    if (rounds == 0) { /* nothing released yet */
        if (order)
            *order = 0;
        return 0.0;
    }
    if (sigma <= 0.0 || rounds < 0 || !(delta > 0.0 && delta < 1.0)) {
        if (order)
            *order = 0;
        return INFINITY;
    }
    for (size_t x = 0; x < sizeof ORDERS / sizeof ORDERS[0]; ++x) {
        const double a = ORDERS[x];
        const double rdp = (double)rounds * pfr_dp_rdp(q, sigma, ORDERS[x]);
        const double eps = rdp + log1p(-1.0 / a) - (log(delta) + log(a)) / (a - 1.0);
        if (eps < best) {
            best = eps;
            best_order = ORDERS[x];
        }
    }
    if (order)
        *order = best_order;
    return best > 0.0 ? best : 0.0;
}
