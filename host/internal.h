/*
 * internal.h — what the host-side parts of pfedrl share with each other (and with the tests).
 * Not installed; the public API is include/pfedrl/pfedrl.h.
 */
#ifndef PFR_INTERNAL_H
#define PFR_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "../kernels/pfr_constants.h"
#include "config_types.h"
#include "pfedrl/pfedrl.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PFR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PFR_PRINTF(a, b)
#endif

/* A size-versioned struct (pfr_metrics, pfr_setup_info: a size_t `size` first) into a caller's of
 * dst_size bytes: min(dst_size, src_size) bytes, with `size` saying how many. */
static inline void pfr_copy_versioned(void *dst, size_t dst_size, const void *src, size_t src_size)
{
    const size_t n = dst_size < src_size ? dst_size : src_size;
    memcpy(dst, src, n);
    memcpy(dst, &n, sizeof n);
}

/* Seconds on the monotonic clock. */
static inline double pfr_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Write a message into err (if not NULL) and return status. */
pfr_status pfr_fail(pfr_error *err, pfr_status status, const char *fmt, ...) PFR_PRINTF(3, 4);
/* Prefix an existing message: "context: <old message>". */
void pfr_error_prefix(pfr_error *err, const char *fmt, ...) PFR_PRINTF(2, 3);

/* What an algorithm does (DESIGN §1): Phi trained; each agent keeps its own Phi_i (local_rep);
 * Phi_i averaged into the shared Phi; theta_i averaged and handed back; tabular: the value table is
 * a Phi of one column (d = 1) learned with theta fixed at 1 (the step sizes: 0 for theta, alpha
 * for the table), so tabular TD runs as the representation learners do, in O(1) a step. */
typedef struct pfr_alg_traits {
    int learn_phi, own_phi, avg_phi, avg_theta, tabular;
} pfr_alg_traits;
static inline pfr_alg_traits pfr_algorithm_traits(pfr_algorithm a)
{
    pfr_alg_traits t = {0, 0, 0, 0, 0};
    switch (a) {
    case PFR_ALG_PFEDTD_REP: t.learn_phi = t.avg_phi = 1; break;
    case PFR_ALG_LOCAL_REP: t.learn_phi = t.own_phi = 1; break;
    case PFR_ALG_FEDAVG_REP: t.learn_phi = t.avg_phi = t.avg_theta = 1; break;
    case PFR_ALG_FEDTD: t.avg_theta = 1; break;
    case PFR_ALG_LOCAL_TD: break;
    case PFR_ALG_LOCAL_TD_TABULAR: t.learn_phi = t.own_phi = t.tabular = 1; break;
    case PFR_ALG_FEDTD_TABULAR: t.learn_phi = t.avg_phi = t.tabular = 1; break;
    }
    return t;
}

/* What the algorithm makes of a config (config.c): the tabular learners use d = 1 (the table is a
 * Phi of one column) and no orthonormalization, whatever dim and orthonormalize say. */
void pfr_config_resolve(pfr_config *c);

/* ---- NumPy .npy ------------------------------------------------------------------------- */
typedef struct pfr_npy {
    int ndim;
    int64_t shape[8];
    double *data; /* converted to double, C order */
    size_t count;
} pfr_npy;
pfr_status pfr_npy_load(const char *path, pfr_npy *out, pfr_error *err);
void pfr_npy_free(pfr_npy *a);
/* The header only (ndim, shape, count; no data) and the bytes per value, checked as pfr_npy_load
 * checks them, so a caller can plan memory before loading. */
pfr_status pfr_npy_peek(const char *path, pfr_npy *out, int *itemsize, pfr_error *err);
/* The array's shape as Python writes it, "(3, 4)" or "(5,)", into buf (for messages). */
const char *pfr_npy_shape_text(const pfr_npy *a, char *buf, size_t n);
/* Writes a float64 C-order array (used by tests and tools). */
pfr_status pfr_npy_save_f64(const char *path, const double *data, int ndim, const int64_t *shape, pfr_error *err);
/* Any little-endian dtype: descr as numpy writes it ("<i8", "<i4", "<f8"), elem bytes per value. */
pfr_status pfr_npy_save(const char *path, const void *data, const char *descr, size_t elem, int ndim,
                        const int64_t *shape, pfr_error *err);

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

/* ---- Dense linear algebra in double (small problems, ground truth, metrics) ---------------- */
/* Solve A x = b in place (A: [n, n] row-major, destroyed; b: [n] becomes x). Partial pivoting. */
pfr_status pfr_lu_solve(double *A, double *b, int n);
/* Eigenvalues of a symmetric [n, n] matrix (destroyed) into w, ascending (LAPACK dsyev; truth.c). */
pfr_status pfr_sym_eigenvalues(double *A, int n, double *w);
/* Thin QR of X [S, d] row-major in place: X <- Q (Q^T Q = I), R [d, d] upper triangular, by
 * classical Gram-Schmidt applied twice. Returns PFR_ERR_NUMERIC if X is rank deficient. */
pfr_status pfr_qr_cgs2(double *X, int S, int d, double *R);

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

/* ---- Orthonormalization of Phi (orthonormalize.c) ------------------------------------------ */
/* Orthonormalize phi [S, d] so that Phi^T Phi = (S/d) I (mean squared feature-row norm 1) and map
 * theta [n, d] by R so that every Phi theta is kept: Cholesky-QR (pfr_cholqr_factor), the engines'
 * per-round method. Double precision on the host; `threads` share the theta map. */
pfr_status pfr_orthonormalize_host(float *phi, int S, int d, float *theta, int64_t n, int threads);

/* The factor step alone: Phi <- Q (scaled as above) and R [d, d] (row-major, upper triangular)
 * such that the old Phi = new Phi R; an engine then maps every theta_i to R theta_i.
 * pfr_orthonormalize_factor: classical Gram-Schmidt twice (CGS2), for the start-up Phi of any
 * conditioning; pfr_cholqr_factor: Cholesky-QR (kernels/pfr_cholqr.h), what both engines run each
 * round on the near-orthonormal Phi (the CUDA engine summing the Gram matrix tile by tile, in the same order). */
pfr_status pfr_orthonormalize_factor(float *phi, int S, int d, double *R);
pfr_status pfr_cholqr_factor(float *phi, int S, int d, double *R);

/* ---- Config internals --------------------------------------------------------------------- */
/* Look up a key; returns its index or -1. */
int pfr_config_find(const char *key);
/* 1 if `key` names a file (env.p_file, init_phi, ...). */
int pfr_config_key_is_path(const char *key);
/* `path` made absolute: a relative one joined to `base` (NULL: the current directory), its leading
 * "./" dropped; an absolute one copied. 0, or -1 (errno: ENAMETOOLONG if it does not fit in n,
 * or getcwd's). Why at set time: a run's files are then named the same wherever it is resumed. */
int pfr_path_absolute(const char *path, const char *base, char *out, size_t n);
/* pfr_config_load_yaml, with its relative paths taken against the file's folder (1, what
 * pfr_config_load_yaml does) or, as pfr_config_set takes them, the current directory (0). */
/* The config a checkpoint was saved with, read without the rest (whose CRC pfr_sim_load checks):
 * to compare with what a run folder says before a set-up that may take minutes (checkpoint.c). */
pfr_status pfr_checkpoint_config(const char *path, pfr_config *cfg, pfr_error *err);
/* 1 if a resume may change `key` (it does not change the numbers a run computes: rounds, threads, ...). */
int pfr_checkpoint_runtime_key(const char *key);
pfr_status pfr_config_load_yaml_paths(pfr_config *cfg, const char *path, int from_its_folder, pfr_error *err);

#ifdef __cplusplus
}
#endif

#endif
