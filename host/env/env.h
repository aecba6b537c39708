/*
 * env.h — the environments (families built into one sparse store, env/) and their ground truth
 * (truth*.c): what the engines, the round loop and the tests read of them.
 */
#ifndef PFR_ENV_H
#define PFR_ENV_H

#include "core/internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Environments ------------------------------------------------------------------------ */
/*
 * M Markov chains on S states, stored as one CSR per type, concatenated:
 *   row_ptr: [M*(S+1)]  absolute offsets into the entry arrays; row s of type m is
 *            entries row_ptr[m*(S+1)+s] .. row_ptr[m*(S+1)+s+1]
 *   next:    [nnz] next state      thr: [nnz] uint32 cumulative thresholds (pfr_sample_entry)
 *   reward:  [nnz] R_m(s, s') as float (what the engines use)
 *   prob:    [nnz] P_m(s, s') in double, rewardd: [nnz] R in double (ground truth only)
 */
typedef struct pfr_env {
    int S, M;
    int A;             /* 1: Markov chains (a fixed policy); > 1: MDPs, row s A + a of a type is P(. | s, a) */
    int width, height; /* grid families, else 0 */
    uint64_t nnz;
    uint64_t *row_ptr;
    uint32_t *next;
    uint32_t *thr;
    float *reward;
    double *prob;
    double *rewardd;
    char description[256];
} pfr_env;

pfr_status pfr_env_create(const pfr_env_config *cfg, pfr_env **out, pfr_error *err);
/* The family's MDPs instead (control): A actions a state (grids 4, garnet env.actions, randomwalk 2,
 * file: P [M, S, A, S]), rows s A + a. */
pfr_status pfr_env_create_mdp(const pfr_env_config *cfg, pfr_env **out, pfr_error *err);
void pfr_env_destroy(pfr_env *env);
/* Dense P_m (S*S doubles) and expected reward r_m(s) = sum_s' P R, for checks and ground truth. */
void pfr_env_dense_p(const pfr_env *env, int m, double *P);
void pfr_env_expected_reward(const pfr_env *env, int m, double *r);
/* Default sizes a family uses when the config leaves them 0. */
int pfr_env_default_types(pfr_env_kind k);
/* What building the environment of a config takes, before it is built: S, M, an upper bound on the
 * stored transitions, and the peak bytes while building (the builder's room included). For
 * env.kind=file the headers of the files are read (pfr_npy_peek). */
typedef struct pfr_env_size {
    int S, M;
    double nnz, bytes;
    char keys[160]; /* the keys that set the size, for messages: "env.width=12, env.height=4, env.types=4" */
} pfr_env_size;
pfr_status pfr_env_estimate(const pfr_env_config *cfg, pfr_env_size *out, pfr_error *err);
/* The same for the family's MDPs (control): S is then the rows, states x actions. */
pfr_status pfr_env_estimate_mdp(const pfr_env_config *cfg, pfr_env_size *out, pfr_error *err);

/* ---- Ground truth ------------------------------------------------------------------------- */
typedef struct pfr_truth {
    int S, M;
    double *V;  /* [M, S] */
    double *mu; /* [M, S] */
    double *r;  /* [M, S] expected one-step reward */
    double *vnorm2; /* [M] ||V_m||^2_mu */
    double resid_v;  /* max over types of max |(I - gamma P) V - r| / max |r| */
    double resid_mu; /* max over types of |mu^T P - mu^T|_1 */
    int lowrank;     /* sparse solve: the most distinct wide rows a type had solved as a low-rank term */
    int analyses;    /* sparse solve: symbolic analyses made (types with one pattern share one) */
    /* control (truth_control.c): V holds Q*_m [M, S A] (rows s A + a), mu is uniform over the rows,
     * S is S A; vstar [M, states] = max_a Q*; r is NULL (no TD fixed point) */
    int A, states;
    double *vstar;
    int vi_iters;    /* value-iteration sweeps of the slowest type */
} pfr_truth;
/* Called as types are done: `done` of M (first with 0); non-zero asks the types not yet started to
 * be skipped (the set-up is being stopped: PFR_ERR_INTERRUPTED). */
typedef int (*pfr_truth_progress_fn)(void *user, int done, int M);
/* Up to this many states the ground truth is solved by dense LU, above by a sparse direct solver. */
#define PFR_TRUTH_DENSE_MAX 1024
pfr_status pfr_truth_compute(const pfr_env *env, double gamma, pfr_truth *out, pfr_error *err);
/* The same with the method forced: 0 = dense LU, 1 = sparse direct (UMFPACK; repeated wide rows as a
 * low-rank term, truth_sparse.c), 2 = sparse direct with every row in the matrix; progress optional;
 * up to `threads` types solved side by side (the results do not depend on it). */
pfr_status pfr_truth_compute_with(const pfr_env *env, double gamma, int sparse, pfr_truth *t, pfr_error *err,
                                  pfr_truth_progress_fn progress, void *user, int threads);
void pfr_truth_free(pfr_truth *t);
/* The sparse solve of one type (truth_sparse.c). A pattern: what a type's solve needs from where its
 * transitions go alone (the pinned state, the low-rank rows, the symbolic analysis), shareable by the
 * types with the same pattern and read by several threads at once. lowrank: repeated rows of more
 * than 256 entries (up to 8 distinct) as a low-rank term. The failure of a chain without one closed
 * class has its message in err; other failures the status only. */
typedef struct pfr_truth_pattern pfr_truth_pattern;
pfr_status pfr_truth_pattern_create(const pfr_env *env, int m, int lowrank, pfr_truth_pattern **out, pfr_error *err);
void pfr_truth_pattern_destroy(pfr_truth_pattern *p);
/* Type m's V and mu, with `shared` where it fits the type (else a pattern of its own, *analysed = 1;
 * shared may be NULL); refine: iterative refinement of each solve (UMFPACK's, up to 2 steps; else
 * none); *groups: the distinct wide rows solved as the low-rank term (0: none). */
pfr_status pfr_truth_sparse(const pfr_env *env, int m, double gamma, int lowrank, int refine,
                            const pfr_truth_pattern *shared, const double *r, double *V, double *mu, int *groups,
                            int *analysed, pfr_error *err);
/* Control's ground truth (truth_control.c): Q*_m by value iteration of the MDPs of env (A > 1) to a
 * relative change of 1e-12 (resid_v: the Bellman residual max |T Q - Q| / max |Q|), types side by
 * side on `threads`. */
pfr_status pfr_truth_control(const pfr_env *env, double gamma, pfr_truth *t, int threads, pfr_error *err);
/* The exact value [states] of the deterministic policy pi [states] in type m's MDP (iterative policy
 * evaluation to a relative change of 1e-12; scratch [states]). */
void pfr_policy_value(const pfr_env *env, int m, double gamma, const int *pi, double *V, double *scratch);
/* The bytes pfr_truth_compute and pfr_truth_best_rank_d allocate at most, for the memory plan; and
 * the sparse solver's for one type of nnz transitions. */
double pfr_truth_bytes(int S, int M);
double pfr_truth_solver_bytes(int S, double nnz);
/* Best relative error a rank-d shared representation can reach, with type weights w [M] (any S, M;
 * NaN only when out of memory). */
double pfr_truth_best_rank_d(const pfr_truth *t, const double *w, int d);
/* The singular values of the same mu-weighted, normalized type values, descending and divided by
 * the largest: min(S, M) of them into sv; returns that count, or -1 when out of memory. */
int pfr_truth_singular_values(const pfr_truth *t, const double *w, double *sv);

#ifdef __cplusplus
}
#endif

#endif
