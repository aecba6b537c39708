/*
 * truth_control.c — the ground truth of control: Q*_m of every type by value iteration, V*_m =
 * max_a Q*_m, and the exact value of a given deterministic policy (for policy_gap).
 *
 * Why iteration and not a solve: Q* is the fixed point of a nonlinear (max) operator; value
 * iteration is a gamma-contraction, so k sweeps leave an error of at most gamma^k / (1 - gamma)
 * times the first change; a sweep costs one pass over the stored transitions (O(nnz)). Stopped at a
 * relative change of 1e-12, which bounds the error of Q* by 1e-12 / (1 - gamma) relative. A
 * policy's value is the same iteration without the max. In double, Jacobi sweeps (every row from
 * the previous sweep's values), so the result does not depend on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"

#define PFR_VI_TOL 1e-12

/* sum_k p (r + gamma V[next]) over row `row` of type m's MDP (rp: its row pointers). */
static inline double row_value(const pfr_env *env, const uint64_t *rp, int row, double gamma, const double *V)
{
    double q = 0.0;
    for (uint64_t k = rp[row]; k < rp[row + 1]; ++k)
        q += env->prob[k] * (env->rewardd[k] + gamma * V[env->next[k]]);
    return q;
}

/* One sweep: Q[s A + a] = row_value and Vn[s] = max_a Q; returns max |Vn - V|. */
static double vi_sweep(const pfr_env *env, int m, double gamma, const double *V, double *Q, double *Vn)
{
    const int S = env->S, A = env->A, R = S * A;
    const uint64_t *rp = env->row_ptr + (size_t)m * (R + 1);
    double change = 0.0;
    for (int s = 0; s < S; ++s) {
        double best = -INFINITY;
        for (int a = 0; a < A; ++a) {
            const double q = row_value(env, rp, s * A + a, gamma, V);
            Q[s * A + a] = q;
            best = q > best ? q : best;
        }
        Vn[s] = best;
        const double dv = fabs(best - V[s]);
        change = dv > change ? dv : change;
    }
    return change;
}

static double max_abs(const double *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; ++i)
        m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* Sweeps enough for the tolerance: gamma^k <= tol (1 - gamma), with room. */
static int max_sweeps(double gamma)
{
    if (gamma <= 0.0)
        return 4;
    return (int)(2.0 * log(PFR_VI_TOL * (1.0 - gamma)) / log(gamma)) + 10;
}

pfr_status pfr_truth_control(const pfr_env *env, double gamma, pfr_truth *t, int threads, pfr_error *err)
{
    memset(t, 0, sizeof *t);
    const int S = env->S, A = env->A, M = env->M, R = S * A;
    t->S = R;
    t->M = M;
    t->A = A;
    t->states = S;
    t->V = malloc(sizeof(double) * (size_t)M * R);
    t->mu = malloc(sizeof(double) * (size_t)M * R);
    t->vnorm2 = calloc((size_t)M, sizeof(double));
    t->vstar = calloc((size_t)M * S, sizeof(double));
    double *scratch = malloc(sizeof(double) * (size_t)S * (threads > 0 ? threads : 1));
    if (!t->V || !t->mu || !t->vnorm2 || !t->vstar || !scratch) {
        free(scratch);
        pfr_truth_free(t);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for control's ground truth (S=%d, A=%d, M=%d)", S, A, M);
    }
    const int cap = max_sweeps(gamma);
    int worst = 0, unconverged = -1;
    double resid = 0.0;
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(dynamic, 1) reduction(max : worst, resid)
    for (int m = 0; m < M; ++m) {
        double *V = t->vstar + (size_t)m * S, *Q = t->V + (size_t)m * R;
        double *Vn = malloc(sizeof(double) * (size_t)S);
        if (!Vn) {
            unconverged = m; /* reported below as out of memory */
            continue;
        }
        int it = 0;
        for (; it < cap; ++it) {
            const double change = vi_sweep(env, m, gamma, V, Q, Vn);
            memcpy(V, Vn, sizeof(double) * (size_t)S);
            if (change <= PFR_VI_TOL * (max_abs(V, (size_t)S) + 1e-300))
                break;
        }
        if (it == cap)
            unconverged = m;
        /* the Bellman residual of the Q returned: one more sweep's change of Q */
        double *Q2 = malloc(sizeof(double) * (size_t)R);
        if (Q2) {
            vi_sweep(env, m, gamma, V, Q2, Vn);
            double r = 0.0;
            for (int e = 0; e < R; ++e)
                r = fabs(Q2[e] - Q[e]) > r ? fabs(Q2[e] - Q[e]) : r;
            const double qm = max_abs(Q, (size_t)R);
            resid = qm > 0 ? (r / qm > resid ? r / qm : resid) : resid;
            free(Q2);
        }
        free(Vn);
        worst = it + 1 > worst ? it + 1 : worst;
        double n2 = 0.0;
        for (int e = 0; e < R; ++e) {
            t->mu[(size_t)m * R + e] = 1.0 / R;
            n2 += Q[e] * Q[e] / R;
        }
        t->vnorm2[m] = n2;
    }
    free(scratch);
    t->vi_iters = worst;
    t->resid_v = resid;
    if (unconverged >= 0) {
        pfr_truth_free(t);
        return pfr_fail(err, PFR_ERR_NUMERIC,
                        "value iteration of type %d did not reach a relative change of %g in %d sweeps (gamma = %g)",
                        unconverged, PFR_VI_TOL, cap, gamma);
    }
    return PFR_OK;
}

void pfr_policy_value(const pfr_env *env, int m, double gamma, const int *pi, double *V, double *scratch)
{
    const int S = env->S, A = env->A, R = S * A;
    const uint64_t *rp = env->row_ptr + (size_t)m * (R + 1);
    const int cap = max_sweeps(gamma);
    memset(V, 0, sizeof(double) * (size_t)S);
    for (int it = 0; it < cap; ++it) {
        double change = 0.0;
        for (int s = 0; s < S; ++s) {
            const double v = row_value(env, rp, s * A + pi[s], gamma, V);
            scratch[s] = v;
            change = fabs(v - V[s]) > change ? fabs(v - V[s]) : change;
        }
        memcpy(V, scratch, sizeof(double) * (size_t)S);
        if (change <= PFR_VI_TOL * (max_abs(V, (size_t)S) + 1e-300))
            break;
    }
}
