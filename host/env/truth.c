/*
 * truth.c — exact ground truth per environment type, in double precision (DESIGN §1):
 *   V_m = (I - gamma P_m)^{-1} r_m  and the stationary distribution mu_m (mu_m^T P_m = mu_m^T),
 * with their residuals, and the best rank-d error of the types' values.
 *
 * Up to PFR_TRUTH_DENSE_MAX states: dense LU (linalg.c). Above: a sparse direct solver, SuiteSparse's
 * UMFPACK (Debian's libsuitesparse), whose cost does not grow with the chain's mixing time as
 * iterations do (a 1000 x 1000 grid world mixes over ~10^6 steps); rows that reach much of the
 * state space (restart rows) enter as a low-rank term instead of filling the factors (truth_sparse.c).
 * mu_m: the chain's closed classes are found first (Tarjan's strongly connected components,
 * O(nnz)); exactly one is required, and a state k of it pins the solution: (I - P^T) mu = 0 with
 * equation k replaced by mu_k = 1, solved, then normalized. Every solution is checked by its
 * residual, which the caller reports.
 * best rank-d: the top eigenvalues of the M x M Gram matrix of the mu-weighted values (LAPACK dsyev).
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <dlfcn.h>

#include "env.h"


/* LAPACK (Fortran interface): eigenvalues of a symmetric matrix. */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                   double *work, const int *lwork, int *info);

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
    }
    free(A);
    free(P);
    return st;
}

/* Residuals of type m's solution: max |(I - gamma P) V - r| / max |r|, and |mu^T P - mu^T|_1. */
static void residuals(const pfr_env *env, int m, double gamma, const double *V, const double *mu, const double *r,
                      double *rv, double *rmu, double *scratch)
{
    const int S = env->S;
    const uint64_t *rp = env->row_ptr + (size_t)m * (S + 1);
    double worst = 0.0, rmax = 0.0;
    memset(scratch, 0, sizeof(double) * (size_t)S);
    for (int s = 0; s < S; ++s) {
        double acc = V[s];
        for (uint64_t kk = rp[s]; kk < rp[s + 1]; ++kk) {
            acc -= gamma * env->prob[kk] * V[env->next[kk]];
            scratch[env->next[kk]] += mu[s] * env->prob[kk];
        }
        worst = fmax(worst, fabs(acc - r[s]));
        rmax = fmax(rmax, fabs(r[s]));
    }
    *rv = worst / (rmax > 0 ? rmax : 1.0);
    double l1 = 0.0;
    for (int s = 0; s < S; ++s)
        l1 += fabs(scratch[s] - mu[s]);
    *rmu = l1;
}

pfr_status pfr_truth_compute(const pfr_env *env, double gamma, pfr_truth *t, pfr_error *err)
{
    return pfr_truth_compute_with(env, gamma, env->S <= PFR_TRUTH_DENSE_MAX ? 0 : 1, t, err, NULL, NULL, 1);
}

/* A sparse solution without iterative refinement whose residuals exceed this is solved again with it
 * (well-conditioned chains: 1e-16 to 1e-14 without, measured on grid worlds up to S = 10^6). */
#define PFR_TRUTH_REFINE_AT 1e-12

/* Type m's V, mu and residuals; the message of a failure in *msg. */
static pfr_status truth_type(const pfr_env *env, double gamma, int sparse, const pfr_truth_pattern *pattern,
                             pfr_truth *t, int m, double *scratch, double *rv, double *rmu, int *groups, int *analysed,
                             pfr_error *msg)
{
    const int S = env->S;
    double *V = t->V + (size_t)m * S, *mu = t->mu + (size_t)m * S, *r = t->r + (size_t)m * S;
    pfr_env_expected_reward(env, m, r);
    for (int refine = 0;; ++refine) {
        int made = 0;
        pfr_status st = sparse ? pfr_truth_sparse(env, m, gamma, sparse == 1, refine, pattern, r, V, mu, groups, &made, msg)
                               : truth_dense(env, m, gamma, V, mu, r);
        *analysed += made;
        for (int s = 0; st == PFR_OK && s < S; ++s) {
            if (mu[s] < 0.0 && mu[s] > -1e-12)
                mu[s] = 0.0; /* rounding on transient states */
            if (!(mu[s] >= 0.0))
                st = PFR_ERR_NUMERIC; /* several closed classes (dense path): no unique mu */
        }
        if (st == PFR_ERR_NUMERIC && !msg->msg[0])
            pfr_fail(msg, st, "environment type %d: no unique stationary distribution or value (is there exactly one "
                              "closed class of states?)", m);
        if (st != PFR_OK)
            return st;
        residuals(env, m, gamma, V, mu, r, rv, rmu, scratch);
        if (!sparse || refine || (*rv < PFR_TRUTH_REFINE_AT && *rmu < PFR_TRUTH_REFINE_AT))
            break;
    }
    double n2 = 0.0;
    for (int s = 0; s < S; ++s)
        n2 += mu[s] * V[s] * V[s];
    if (!(n2 > 0.0))
        return pfr_fail(msg, PFR_ERR_CONFIG,
                        "environment type %d: the true value is zero wherever mu > 0, so relative errors are undefined; "
                        "give the chain non-zero rewards", m);
    t->vnorm2[m] = n2;
    return PFR_OK;
}

pfr_status pfr_truth_compute_with(const pfr_env *env, double gamma, int sparse, pfr_truth *t, pfr_error *err,
                                  pfr_truth_progress_fn progress, void *user, int threads)
{
    memset(t, 0, sizeof *t);
    const int S = env->S, M = env->M;
    t->S = S;
    t->M = M;
    t->V = malloc(sizeof(double) * (size_t)S * M);
    t->mu = malloc(sizeof(double) * (size_t)S * M);
    t->r = malloc(sizeof(double) * (size_t)S * M);
    t->vnorm2 = malloc(sizeof(double) * (size_t)M);
    const int T = threads < 1 ? 1 : threads > M ? M : threads; /* types solved side by side */
    double *scratch = malloc(sizeof(double) * (size_t)S * T), *rv = calloc((size_t)M, sizeof(double)),
           *rmu = calloc((size_t)M, sizeof(double));
    int *groups = calloc((size_t)M, sizeof(int)), *analysed = calloc((size_t)M, sizeof(int));
    pfr_status *st = calloc((size_t)M, sizeof *st);
    pfr_error *msg = calloc((size_t)M, sizeof *msg);
    if (!t->V || !t->mu || !t->r || !t->vnorm2 || !scratch || !rv || !rmu || !groups || !analysed || !st || !msg) {
        free(groups);
        free(analysed);
        free(scratch);
        free(rv);
        free(rmu);
        free(st);
        free(msg);
        pfr_truth_free(t);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for the ground truth (S=%d, M=%d)", S, M);
    }
    int done = 0, halt = 0; /* halt: the caller is stopping the set-up (types not started are skipped) */
    if (progress)
        halt = progress(user, 0, M) != 0;
    /* The factorizations' dense blocks are small: a multithreaded BLAS (OpenBLAS, where the system
     * has it) is held to one thread meanwhile, else its idle threads spin and yield (measured: 15%
     * of the time) and, with types solved side by side, fight over the cores. Found at run time:
     * the reference BLAS has no such call. */
    void (*blas_set)(int) = NULL;
    int (*blas_get)(void) = NULL;
    int blas_threads = 0;
    *(void **)&blas_set = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    *(void **)&blas_get = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    if (blas_set && blas_get) {
        blas_threads = blas_get();
        blas_set(1);
    }
    /* Type 0's pattern, for every type that has it (a grid world's shared layout: all of them); where
     * it cannot be made, each type makes its own and the first failure is reported below */
    pfr_truth_pattern *pattern = NULL;
    if (sparse && !halt) {
        if (pfr_truth_pattern_create(env, 0, sparse == 1, &pattern, &msg[0]) == PFR_OK)
            t->analyses = 1;
        else
            memset(&msg[0], 0, sizeof msg[0]);
    }
#pragma omp parallel for num_threads(T) schedule(dynamic, 1)
    for (int m = 0; m < M; ++m) {
        int halted;
#pragma omp atomic read
        halted = halt;
        if (halted) {
            st[m] = PFR_ERR_INTERRUPTED;
            continue;
        }
        st[m] = truth_type(env, gamma, sparse, pattern, t, m, scratch + (size_t)S * omp_get_thread_num(), &rv[m], &rmu[m],
                           &groups[m], &analysed[m], &msg[m]);
#pragma omp critical /* unnamed: a named one is a symbol the library would export */
        {
            ++done;
            if (progress && progress(user, done, M) != 0) {
#pragma omp atomic write
                halt = 1;
            }
        }
    }
    pfr_truth_pattern_destroy(pattern);
    if (blas_set && blas_threads > 0)
        blas_set(blas_threads);
    pfr_status result = PFR_OK;
    for (int m = 0; m < M && result == PFR_OK; ++m) { /* the first failing type, in order */
        if (st[m] == PFR_ERR_NO_MEMORY)
            result = pfr_fail(err, st[m], "out of memory for the ground truth (S=%d)", S);
        else if (st[m] == PFR_ERR_INTERRUPTED)
            result = pfr_fail(err, st[m], "set-up stopped during the ground truth (%d of %d types done)", done, M);
        else if (st[m] != PFR_OK)
            result = pfr_fail(err, st[m], "%s", msg[m].msg);
        t->resid_v = fmax(t->resid_v, rv[m]);
        t->resid_mu = fmax(t->resid_mu, rmu[m]);
        t->lowrank = groups[m] > t->lowrank ? groups[m] : t->lowrank;
        t->analyses += analysed[m];
    }
    free(groups);
    free(analysed);
    free(scratch);
    free(rv);
    free(rmu);
    free(st);
    free(msg);
    /* a solution this far off is a solver failure, not rounding */
    if (result == PFR_OK && (!(t->resid_v < 1e-8) || !(t->resid_mu < 1e-8)))
        result = pfr_fail(err, PFR_ERR_NUMERIC,
                          "the ground truth did not solve accurately (residuals: V %.3g, mu %.3g); the chain is too "
                          "ill-conditioned (gamma close to 1?)", t->resid_v, t->resid_mu);
    if (result != PFR_OK)
        pfr_truth_free(t);
    return result;
}

double pfr_truth_bytes(int S, int M)
{
    const double s = S, m = M, n = M <= S ? M : S;
    double bytes = 8.0 * (3.0 * m * s + 3.0 * m + s);               /* V, mu, r; |V|^2, residuals; scratch */
    bytes += S <= PFR_TRUTH_DENSE_MAX ? 16.0 * s * s : 0.0;         /* the dense solve */
    bytes += 8.0 * (s * m + n * n + 40.0 * n);                       /* best rank-d: U, G, dsyev's work */
    return bytes;
}

/* The sparse solver's work for one type of nnz transitions (the caller adds the largest type's): a
 * pattern of its own (triplets, compressed pattern, map: 48 bytes an entry while made), the values
 * of A_s and B_s, the LU factors, and the low-rank term's vectors (up to 8 of S, and 3 more); measured
 * fill on grid worlds and garnets is below 40 entries a row (bench/RESULTS.md), planned as 64. The
 * shared pattern held meanwhile is one more such solver's pattern, counted by the caller. */
double pfr_truth_solver_bytes(int S, double nnz)
{
    if (S <= PFR_TRUTH_DENSE_MAX)
        return 0.0;
    return (nnz + S) * (6.0 * 8.0 + 2.0 * 8.0) + (double)S * 64.0 * 16.0 + 8.0 * (8.0 + 3.0) * S;
}

void pfr_truth_free(pfr_truth *t)
{
    if (!t)
        return;
    free(t->V);
    free(t->mu);
    free(t->r);
    free(t->vnorm2);
    free(t->vstar);
    memset(t, 0, sizeof *t);
}

/* The eigenvalues (ascending) of the Gram matrix of the columns u_m = sqrt(w_m) sqrt(mu_m) V_m /
 * ||V_m||_mu, i.e. the squared singular values of [u_1 .. u_M]; n = min(S, M) of them; and its
 * trace. G = U^T U [M, M] when M <= S, else U U^T [S, S] (same nonzero eigenvalues). */
static pfr_status gram_eigenvalues(const pfr_truth *t, const double *w, double *ev, double *trace_out)
{
    const int S = t->S, M = t->M;
    const int n = M <= S ? M : S;
    double *U = malloc(sizeof(double) * (size_t)S * M), *G = calloc((size_t)n * n, sizeof(double));
    pfr_status st = PFR_ERR_NO_MEMORY;
    if (!U || !G)
        goto out;
    for (int m = 0; m < M; ++m) {
        double c = t->vnorm2[m] > 0.0 ? sqrt(w[m] / t->vnorm2[m]) : 0.0;
        for (int s = 0; s < S; ++s)
            U[(size_t)s * M + m] = c * sqrt(t->mu[(size_t)m * S + s]) * t->V[(size_t)m * S + s];
    }
    if (M <= S) {
        for (int s = 0; s < S; ++s) {
            const double *u = U + (size_t)s * M;
            for (int i = 0; i < M; ++i) {
                if (u[i] == 0.0)
                    continue;
                for (int j = 0; j < M; ++j)
                    G[(size_t)i * M + j] += u[i] * u[j];
            }
        }
    } else {
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
    *trace_out = trace;
    st = pfr_sym_eigenvalues(G, n, ev);
out:
    free(U);
    free(G);
    return st;
}

double pfr_truth_best_rank_d(const pfr_truth *t, const double *w, int d)
{
    /* the error of the best rank-d fit is the energy beyond the top d singular values:
     * trace(G) - the sum of the top d eigenvalues of G */
    const int n = t->M <= t->S ? t->M : t->S;
    if (d >= n)
        return 0.0;
    double *ev = malloc(sizeof(double) * (size_t)n), trace = 0.0, result = NAN;
    if (ev && gram_eigenvalues(t, w, ev, &trace) == PFR_OK) {
        double top = 0.0; /* ascending order: the top d are the last */
        for (int i = n - d; i < n; ++i)
            top += ev[i];
        result = trace - top > 0.0 ? trace - top : 0.0;
    }
    free(ev);
    return result;
}

int pfr_truth_singular_values(const pfr_truth *t, const double *w, double *sv)
{
    const int n = t->M <= t->S ? t->M : t->S;
    double *ev = malloc(sizeof(double) * (size_t)n), trace = 0.0;
    int ok = ev && gram_eigenvalues(t, w, ev, &trace) == PFR_OK;
    if (ok) {
        const double top = ev[n - 1] > 0.0 ? sqrt(ev[n - 1]) : 1.0;
        for (int i = 0; i < n; ++i) /* descending, normalized by the largest */
            sv[i] = ev[n - 1 - i] > 0.0 ? sqrt(ev[n - 1 - i]) / top : 0.0;
    }
    free(ev);
    return ok ? n : -1;
}

pfr_status pfr_sym_eigenvalues(double *A, int n, double *w)
{
    int lwork = -1, info = 0;
    double query;
    dsyev_("N", "U", &n, A, &n, w, &query, &lwork, &info);
    if (info != 0)
        return PFR_ERR_NUMERIC;
    lwork = (int)query;
    double *work = malloc(sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
    if (!work)
        return PFR_ERR_NO_MEMORY;
    dsyev_("N", "U", &n, A, &n, w, work, &lwork, &info);
    free(work);
    return info == 0 ? PFR_OK : PFR_ERR_NUMERIC;
}
