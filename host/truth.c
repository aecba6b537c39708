/*
 * truth.c — exact ground truth per environment type, in double precision (DESIGN §1):
 *   V_m = (I - gamma P_m)^{-1} r_m  and the stationary distribution mu_m (mu_m^T P_m = mu_m^T).
 * Dense LU up to PFR_TRUTH_DENSE_MAX states; above that, Gauss-Seidel for V and power iteration
 * on the lazy chain for mu, both run to double-precision convergence on the sparse rows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PFR_TRUTH_DENSE_MAX 1024

static pfr_status truth_dense(const pfr_env *env, int m, double gamma, double *V, double *mu, const double *r)
{
    const int S = env->S;
    double *A = malloc(sizeof(double) * (size_t)S * S), *P = malloc(sizeof(double) * (size_t)S * S);
    if (!A || !P) {
        free(A);
        free(P);
        return PFR_ERR_NO_MEMORY;
    }
    pfr_env_dense_p(env, m, P);
    for (int i = 0; i < S; ++i)
        for (int j = 0; j < S; ++j)
            A[(size_t)i * S + j] = (i == j) - gamma * P[(size_t)i * S + j];
    memcpy(V, r, sizeof(double) * (size_t)S);
    pfr_status st = pfr_lu_solve(A, V, S);
    if (st == PFR_OK) {
        /* (P^T - I) mu = 0 with the last equation replaced by sum(mu) = 1 */
        for (int i = 0; i < S; ++i)
            for (int j = 0; j < S; ++j)
                A[(size_t)i * S + j] = (i == S - 1) ? 1.0 : P[(size_t)j * S + i] - (i == j);
        memset(mu, 0, sizeof(double) * (size_t)S);
        mu[S - 1] = 1.0;
        st = pfr_lu_solve(A, mu, S);
        for (int i = 0; st == PFR_OK && i < S; ++i) {
            if (mu[i] < 0.0 && mu[i] > -1e-12)
                mu[i] = 0.0; /* rounding on transient states */
            if (!(mu[i] >= 0.0))
                st = PFR_ERR_NUMERIC; /* several recurrent classes: no unique mu */
        }
    }
    free(A);
    free(P);
    return st;
}

static pfr_status truth_iterative(const pfr_env *env, int m, double gamma, double *V, double *mu, const double *r)
{
    const int S = env->S;
    const uint64_t *rp = env->row_ptr + (size_t)m * (S + 1);
    memset(V, 0, sizeof(double) * (size_t)S);
    int converged = 0;
    for (int it = 0; it < 1000000 && !converged; ++it) {
        double change = 0.0, size = 0.0;
        for (int s = 0; s < S; ++s) {
            double acc = r[s], diag = 0.0;
            for (uint64_t k = rp[s]; k < rp[s + 1]; ++k) {
                if ((int)env->next[k] == s)
                    diag += env->prob[k];
                else
                    acc += gamma * env->prob[k] * V[env->next[k]];
            }
            double v = acc / (1.0 - gamma * diag);
            change = fmax(change, fabs(v - V[s]));
            size = fmax(size, fabs(v));
            V[s] = v;
        }
        converged = change <= 1e-14 * (size > 0 ? size : 1.0);
    }
    if (!converged)
        return PFR_ERR_NUMERIC;
    double *nu = malloc(sizeof(double) * (size_t)S);
    if (!nu)
        return PFR_ERR_NO_MEMORY;
    for (int s = 0; s < S; ++s)
        mu[s] = 1.0 / S;
    converged = 0;
    for (int it = 0; it < 2000000 && !converged; ++it) {
        for (int s = 0; s < S; ++s)
            nu[s] = 0.5 * mu[s];
        for (int s = 0; s < S; ++s)
            for (uint64_t k = rp[s]; k < rp[s + 1]; ++k)
                nu[env->next[k]] += 0.5 * mu[s] * env->prob[k];
        double change = 0.0, total = 0.0;
        for (int s = 0; s < S; ++s)
            total += nu[s];
        for (int s = 0; s < S; ++s) {
            nu[s] /= total;
            change += fabs(nu[s] - mu[s]);
            mu[s] = nu[s];
        }
        converged = change <= 1e-15;
    }
    free(nu);
    return converged ? PFR_OK : PFR_ERR_NUMERIC;
}

pfr_status pfr_truth_compute(const pfr_env *env, double gamma, pfr_truth *t, pfr_error *err)
{
    return pfr_truth_compute_with(env, gamma, env->S <= PFR_TRUTH_DENSE_MAX ? 0 : 1, t, err);
}

pfr_status pfr_truth_compute_with(const pfr_env *env, double gamma, int iterative, pfr_truth *t, pfr_error *err)
{
    memset(t, 0, sizeof *t);
    const int S = env->S, M = env->M;
    t->S = S;
    t->M = M;
    t->V = malloc(sizeof(double) * (size_t)S * M);
    t->mu = malloc(sizeof(double) * (size_t)S * M);
    t->r = malloc(sizeof(double) * (size_t)S * M);
    t->vnorm2 = malloc(sizeof(double) * (size_t)M);
    if (!t->V || !t->mu || !t->r || !t->vnorm2) {
        pfr_truth_free(t);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for the ground truth (S=%d, M=%d)", S, M);
    }
    for (int m = 0; m < M; ++m) {
        double *V = t->V + (size_t)m * S, *mu = t->mu + (size_t)m * S, *r = t->r + (size_t)m * S;
        pfr_env_expected_reward(env, m, r);
        pfr_status st = iterative ? truth_iterative(env, m, gamma, V, mu, r) : truth_dense(env, m, gamma, V, mu, r);
        if (st != PFR_OK) {
            pfr_truth_free(t);
            if (st == PFR_ERR_NO_MEMORY)
                return pfr_fail(err, st, "out of memory for the ground truth (S=%d)", S);
            return pfr_fail(err, st,
                            "environment type %d: no unique stationary distribution or value (is the chain irreducible?)", m);
        }
        double n2 = 0.0;
        for (int s = 0; s < S; ++s)
            n2 += mu[s] * V[s] * V[s];
        if (!(n2 > 0.0)) {
            pfr_truth_free(t);
            return pfr_fail(err, PFR_ERR_CONFIG,
                            "environment type %d: the true value is zero wherever mu > 0, so relative errors are undefined; "
                            "give the chain non-zero rewards", m);
        }
        t->vnorm2[m] = n2;
    }
    return PFR_OK;
}

double pfr_truth_bytes(int S, int M)
{
    const double s = S, m = M, n = M <= S ? M : S;
    double bytes = 8.0 * (3.0 * m * s + m);                          /* V, mu, r; |V|^2 */
    bytes += S <= PFR_TRUTH_DENSE_MAX ? 16.0 * s * s : 8.0 * s;     /* the dense solve, or the iteration */
    if (n <= 1024)
        bytes += 8.0 * (s * m + n * n + n);                          /* best rank-d: U, G, eigenvalues */
    return bytes;
}

void pfr_truth_free(pfr_truth *t)
{
    if (!t)
        return;
    free(t->V);
    free(t->mu);
    free(t->r);
    free(t->vnorm2);
    memset(t, 0, sizeof *t);
}

double pfr_truth_best_rank_d(const pfr_truth *t, const double *w, int d)
{
    const int S = t->S, M = t->M;
    /* Columns u_m = sqrt(w_m) sqrt(mu_m) V_m / ||V_m||_mu; the error of the best rank-d fit is the
     * energy beyond the top d singular values: trace(G) - sum of the top d eigenvalues of G. */
    const int n = M <= S ? M : S;
    if (d >= n)
        return 0.0;
    if (n > 1024)
        return NAN;
    double *U = malloc(sizeof(double) * (size_t)S * M), *G = calloc((size_t)n * n, sizeof(double));
    double *ev = malloc(sizeof(double) * (size_t)n);
    if (!U || !G || !ev) {
        free(U);
        free(G);
        free(ev);
        return NAN;
    }
    for (int m = 0; m < M; ++m) {
        double c = sqrt(w[m] / t->vnorm2[m]);
        for (int s = 0; s < S; ++s)
            U[(size_t)s * M + m] = c * sqrt(t->mu[(size_t)m * S + s]) * t->V[(size_t)m * S + s];
    }
    if (M <= S) { /* G = U^T U, [M, M] */
        for (int s = 0; s < S; ++s)
            for (int i = 0; i < M; ++i)
                for (int j = 0; j < M; ++j)
                    G[(size_t)i * M + j] += U[(size_t)s * M + i] * U[(size_t)s * M + j];
    } else { /* G = U U^T, [S, S] */
        for (int i = 0; i < S; ++i)
            for (int j = 0; j < S; ++j) {
                double acc = 0.0;
                for (int m = 0; m < M; ++m)
                    acc += U[(size_t)i * M + m] * U[(size_t)j * M + m];
                G[(size_t)i * S + j] = acc;
            }
    }
    double trace = 0.0;
    for (int i = 0; i < n; ++i)
        trace += G[(size_t)i * n + i];
    pfr_sym_eigenvalues(G, n, ev);
    /* sort descending (n is small) */
    for (int i = 0; i < n; ++i)
        for (int j = i + 1; j < n; ++j)
            if (ev[j] > ev[i]) {
                double x = ev[i];
                ev[i] = ev[j];
                ev[j] = x;
            }
    double top = 0.0;
    for (int i = 0; i < d; ++i)
        top += ev[i];
    free(U);
    free(G);
    free(ev);
    double best = trace - top;
    return best > 0.0 ? best : 0.0;
}
