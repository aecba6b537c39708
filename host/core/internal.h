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

#include "kernels/pfr_constants.h"
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
 * for the table), so tabular TD runs as the representation learners do, in O(1) a step. neural: the
 * DQN instance (host/neural/), where the shared representation is a network's body. */
typedef struct pfr_alg_traits {
    int learn_phi, own_phi, avg_phi, avg_theta, tabular, neural;
} pfr_alg_traits;
static inline pfr_alg_traits pfr_algorithm_traits(pfr_algorithm a)
{
    pfr_alg_traits t = {0, 0, 0, 0, 0, 0};
    switch (a) {
    case PFR_ALG_PFEDTD_REP: t.learn_phi = t.avg_phi = 1; break;
    case PFR_ALG_LOCAL_REP: t.learn_phi = t.own_phi = 1; break;
    case PFR_ALG_FEDAVG_REP: t.learn_phi = t.avg_phi = t.avg_theta = 1; break;
    case PFR_ALG_FEDTD: t.avg_theta = 1; break;
    case PFR_ALG_LOCAL_TD: break;
    case PFR_ALG_LOCAL_TD_TABULAR: t.learn_phi = t.own_phi = t.tabular = 1; break;
    case PFR_ALG_FEDTD_TABULAR: t.learn_phi = t.avg_phi = t.tabular = 1; break;
    /* the neural instance: "Phi" is the body f_W, "theta" the head */
    case PFR_ALG_PFEDDQN_REP: t.learn_phi = t.avg_phi = t.neural = 1; break;
    case PFR_ALG_LOCAL_DQN: t.learn_phi = t.own_phi = t.neural = 1; break;
    case PFR_ALG_FEDAVG_DQN: t.learn_phi = t.avg_phi = t.avg_theta = t.neural = 1; break;
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

/* ---- Dense linear algebra in double (small problems, ground truth, metrics) ---------------- */
/* Solve A x = b in place (A: [n, n] row-major, destroyed; b: [n] becomes x). Partial pivoting. */
pfr_status pfr_lu_solve(double *A, double *b, int n);
/* Eigenvalues of a symmetric [n, n] matrix (destroyed) into w, ascending (LAPACK dsyev; truth.c). */
pfr_status pfr_sym_eigenvalues(double *A, int n, double *w);
/* Thin QR of X [S, d] row-major in place: X <- Q (Q^T Q = I), R [d, d] upper triangular, by
 * classical Gram-Schmidt applied twice. Returns PFR_ERR_NUMERIC if X is rank deficient. */
pfr_status pfr_qr_cgs2(double *X, int S, int d, double *R);

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
/* 1 if key takes a list (a YAML sequence, or w1,w2,... as text). */
int pfr_config_key_is_list(const char *key);
/* How many algorithms and environment families there are (pfr_algorithm_name(0 .. count - 1)). */
int pfr_algorithm_count(void);
int pfr_env_kind_count(void);
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
