/*
 * pfedrl — a batch simulator for personalized federated reinforcement learning with shared
 * representations (PFedRL-Rep / PFedTD-Rep). Public C API.
 *
 * Conventions
 *  - Every fallible call returns a pfr_status. Calls that have no simulation handle take an
 *    optional pfr_error* that receives a human-readable message naming what was wrong; calls on a
 *    handle record the message in the handle (pfr_sim_last_error). The library never exits.
 *  - Handles are opaque; pfr_sim_destroy(NULL) is a no-op.
 *  - Matrices are row-major: Phi is [S, d] with row s the feature vector of state s.
 *  - No hidden global state: two simulations in one process are independent.
 */
#ifndef PFEDRL_H
#define PFEDRL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the shared library exports: these declarations, and nothing else (it is built with hidden
 * visibility). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define PFR_VERSION_MAJOR 0
#define PFR_VERSION_MINOR 2
#define PFR_VERSION_PATCH 0
#define PFR_STRINGIFY_(x) #x
#define PFR_STRINGIFY(x) PFR_STRINGIFY_(x)
#define PFR_VERSION_STRING                                                                            \
    PFR_STRINGIFY(PFR_VERSION_MAJOR) "." PFR_STRINGIFY(PFR_VERSION_MINOR) "." PFR_STRINGIFY(PFR_VERSION_PATCH)

/* One list, expanded into the enum and into pfr_status_string(). */
#define PFR_STATUS_LIST(X)                                                                            \
    X(PFR_OK, "ok")                                                                                   \
    X(PFR_ERR_INVALID_ARGUMENT, "invalid argument")                                                   \
    X(PFR_ERR_CONFIG, "invalid configuration")                                                        \
    X(PFR_ERR_IO, "file could not be read or written")                                                \
    X(PFR_ERR_FORMAT, "malformed input file")                                                         \
    X(PFR_ERR_NO_MEMORY, "out of host memory")                                                        \
    X(PFR_ERR_TOO_LARGE, "configuration too large for this machine's memory")                        \
    X(PFR_ERR_NUMERIC, "numerical failure")                                                           \
    X(PFR_ERR_NO_DEVICE, "no usable CUDA device or CUDA engine")                                      \
    X(PFR_ERR_DEVICE_MEMORY, "not enough device memory")                                              \
    X(PFR_ERR_CUDA, "CUDA runtime error")                                                             \
    X(PFR_ERR_CUBLAS, "cuBLAS error")                                                                 \
    X(PFR_ERR_CURAND, "cuRAND error")                                                                 \
    X(PFR_ERR_INTERNAL, "internal error")                                                             \
    X(PFR_ERR_INTERRUPTED, "stopped at the end of a round, as asked (pfr_sim_request_stop)")

typedef enum pfr_status {
#define PFR_X_ENUM(name, text) name,
    PFR_STATUS_LIST(PFR_X_ENUM)
#undef PFR_X_ENUM
        PFR_STATUS_COUNT
} pfr_status;

/* Static string for a status code ("unknown status" for values outside the list). */
const char *pfr_status_string(pfr_status s);
/* "major.minor.patch" */
const char *pfr_version(void);

/* A message buffer for calls that have no handle. */
typedef struct pfr_error {
    char msg[1024];
} pfr_error;

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                               */
/* ------------------------------------------------------------------------------------------ */

typedef enum pfr_env_kind {
    PFR_ENV_CLIFFWALK,
    PFR_ENV_GRIDWORLD,
    PFR_ENV_GARNET,
    PFR_ENV_RANDOMWALK,
    PFR_ENV_FILE,
    PFR_ENV_CARTPOLE, /* CartPole-v1, each agent its own pole length (PFedDQN-Rep's environments) */
    PFR_ENV_ACROBOT   /* Acrobot-v1, each agent its own link-1 mass */
} pfr_env_kind;

typedef enum pfr_algorithm {
    PFR_ALG_PFEDTD_REP, /* shared Phi averaged each round, personal theta_i */
    PFR_ALG_LOCAL_REP,  /* same updates, no communication: each agent keeps its own Phi_i */
    PFR_ALG_FEDAVG_REP, /* Phi and theta both averaged: no personalization */
    PFR_ALG_FEDTD,      /* FedTD(0): fixed features, one shared theta averaged each round */
    PFR_ALG_LOCAL_TD,   /* TD(0) per agent on fixed features, no communication */
    PFR_ALG_LOCAL_TD_TABULAR, /* tabular TD(0) per agent: a value per state, no communication */
    PFR_ALG_FEDTD_TABULAR,    /* tabular FedTD(0): one table, averaged each round */
    /* the neural instance (env.kind cartpole, acrobot): Q_i(s, a) = theta_i[a] . f_W(s), DQN locally */
    PFR_ALG_PFEDDQN_REP, /* PFedDQN-Rep: the body f_W averaged each round, each agent's head theta_i its own */
    PFR_ALG_LOCAL_DQN,   /* DQN per agent, no communication */
    PFR_ALG_FEDAVG_DQN   /* FedAvg of the whole network: body and head averaged each round */
} pfr_algorithm;

/* Control (PFedRL-Rep with actions): none = policy evaluation of the family's fixed policy. */
typedef enum pfr_control { PFR_CONTROL_NONE, PFR_CONTROL_SARSA, PFR_CONTROL_QLEARNING } pfr_control;

typedef enum pfr_backend { PFR_BACKEND_AUTO, PFR_BACKEND_CPU, PFR_BACKEND_CUDA } pfr_backend;

/* Grid world wind: toward the north for every type, or type m's wind toward north, east, south,
 * west for m mod 4. */
typedef enum pfr_wind_direction { PFR_WIND_NORTH, PFR_WIND_PER_TYPE } pfr_wind_direction;
typedef enum pfr_grid_layout { PFR_LAYOUT_PER_TYPE, PFR_LAYOUT_SHARED } pfr_grid_layout;

/* The CUDA engine's local-step kernel: a thread per agent, a warp per agent (large d), or picked by
 * size. Both give the same bits; the choice only changes speed. */
typedef enum pfr_cuda_kernel { PFR_CUDA_KERNEL_AUTO, PFR_CUDA_KERNEL_THREAD, PFR_CUDA_KERNEL_WARP } pfr_cuda_kernel;
/* The CPU engine's kernel: 16 agents at once with AVX-512, with AVX2, or in portable vector code (NEON
 * on ARM64, SSE2 on x86), one agent at a time vectorized along d, or plain scalar code; auto: AVX-512,
 * else AVX2, else one agent at a time. All give the same bits. */
typedef enum pfr_cpu_kernel {
    PFR_CPU_KERNEL_AUTO,
    PFR_CPU_KERNEL_AVX512,
    PFR_CPU_KERNEL_AVX2,
    PFR_CPU_KERNEL_PORTABLE,
    PFR_CPU_KERNEL_PER_AGENT,
    PFR_CPU_KERNEL_SCALAR
} pfr_cpu_kernel;

/* The configuration is opaque: created and freed by the library, read and set by key (the keys,
 * their help and what each allows: pfr_config_key_*; `pfedrl help run` lists them). New keys never
 * change the ABI. */
typedef struct pfr_config pfr_config;

/* A configuration with the documented defaults (*out = NULL and PFR_ERR_NO_MEMORY on failure). */
pfr_status pfr_config_create(pfr_config **out, pfr_error *err);
/* An independent copy of `src`. */
pfr_status pfr_config_copy(const pfr_config *src, pfr_config **out, pfr_error *err);
/* Free a configuration; NULL is a no-op. */
void pfr_config_destroy(pfr_config *cfg);
/* Restore every key to its default. */
void pfr_config_reset(pfr_config *cfg);
/* Set one key from its text form ("env.kind", "cliffwalk"); checks type and range of the value. A
 * relative file path is made absolute against the current directory now (so the config names the
 * same file wherever the run is resumed). */
pfr_status pfr_config_set(pfr_config *cfg, const char *key, const char *value, pfr_error *err);
/* Apply a YAML file (nested mappings give dotted keys). Unknown keys and bad values are errors. A
 * relative file path in it is taken against the file's folder. */
pfr_status pfr_config_load_yaml(pfr_config *cfg, const char *path, pfr_error *err);
/* Cross-field checks that need no environment (sizes, step sizes, ...). */
pfr_status pfr_config_validate(const pfr_config *cfg, pfr_error *err);

/* The schema, for help texts and for writing a resolved config. */
size_t pfr_config_key_count(void);
const char *pfr_config_key_name(size_t i);
const char *pfr_config_key_help(size_t i);
/* The current value of key i in text form (as pfr_config_set accepts it). */
void pfr_config_key_value(const pfr_config *cfg, size_t i, char *buf, size_t n);
/* The current value of `key` in text form; PFR_ERR_CONFIG (naming the key) if there is no such key.
 * The text is cut to n - 1 bytes; a path longer than that is reported as PFR_ERR_INVALID_ARGUMENT. */
pfr_status pfr_config_get(const pfr_config *cfg, const char *key, char *buf, size_t n, pfr_error *err);
/* The index of `key`, or -1 if there is no such key. */
long pfr_config_key_index(const char *key);
/* The default value of key i in text form. */
void pfr_config_key_default(size_t i, char *buf, size_t n);
/* What key i allows, in words ("one of cliffwalk, gridworld, ...", "an integer in [1, 4096]"). */
void pfr_config_key_allowed(size_t i, char *buf, size_t n);
/* 1 if key i holds a string or enum (to be quoted in JSON), 0 if it is a number or boolean. */
int pfr_config_key_is_text(size_t i);
/* 1 if key i means something under cfg's env.kind; 0 for a key only other environment families
 * read (env.width for a garnet, say), which pfr_config_validate refuses away from its default. */
int pfr_config_key_applies(const pfr_config *cfg, size_t i);

const char *pfr_algorithm_name(pfr_algorithm a);
const char *pfr_env_kind_name(pfr_env_kind k);
const char *pfr_backend_name(pfr_backend b);
const char *pfr_control_name(pfr_control c);
const char *pfr_cuda_kernel_name(pfr_cuda_kernel k);
const char *pfr_cpu_kernel_name(pfr_cpu_kernel k);

/* ------------------------------------------------------------------------------------------ */
/* Simulation                                                                                  */
/* ------------------------------------------------------------------------------------------ */

typedef struct pfr_sim pfr_sim;

/* One evaluation (DESIGN §1). Errors are relative, mu-weighted, averaged over agents.
 * Versioned by size: new fields are only ever appended. The calls that fill one take the caller's
 * sizeof and fill that much (at most the library's own size); `size` says how many bytes hold
 * values, so a field at an offset at or past it was not written by this library. */
/* The metrics of one evaluation: pfr_metrics' fields in order, one row each, X(type, name, doc).
 * The struct is versioned by size (its `size` first): fields are only ever appended, so a caller
 * built with a shorter list gets the fields it knows. metrics.csv has a column for each, the
 * checkpoint keeps them all, and pfr_metrics_field names them for other languages. */
#define PFR_METRICS_FIELDS(X)                                                                         \
    X(int64_t, round, "rounds completed")                                                             \
    X(uint64_t, agent_steps, "local TD steps taken by all agents so far")                             \
    X(double, value_error, "mean_i ||Phi theta_i - V_m(i)||^2_mu / ||V_m(i)||^2_mu")                  \
    X(double, td_fixed_point_error, "the same, for the TD fixed point theta*_m(Phi) of the current Phi") \
    X(double, best_rank_d_error, "the best error a shared rank-d Phi with personal theta could reach") \
    X(double, phi_norm, "Frobenius norm of Phi (local_rep: mean over agents)")                        \
    X(double, theta_norm, "mean over agents of ||theta_i||")                                          \
    X(double, wall_s, "seconds spent in pfr_sim_run so far (evaluations included)")                   \
    X(double, agent_steps_per_sec, "local steps per second of round time (evaluations excluded), "    \
      "not counting the handle's first round (one-time costs) unless it is the only one")             \
    /* federation: means over the rounds since the previous evaluation (NaN at round 0) */            \
    X(double, participants, "agents that took part in a round")                                       \
    X(double, mean_steps, "local steps a participant completed (K unless it straggled)")              \
    X(double, mean_staleness, "age in rounds of the Phi a participant started from (0: fresh)")       \
    X(double, epsilon, "privacy spent so far at federation.delta (NaN: no private aggregation)")      \
    /* control: value_error is then the relative error of Q_i against Q* */                          \
    X(double, policy_gap, "mean over the sampled agents of (V* - V^greedy_i) / |V*| (NaN: no control)") \
    X(double, policy_agents, "how many agents policy_gap samples (0: no control)")                    \
    /* one error for all agents (appended) */                                                        \
    X(double, pooled_value_error, "sum_i ||Phi theta_i - V_m(i)||^2_mu / sum_i ||V_m(i)||^2_mu: "     \
      "the agents' squared errors over their values' squared norms, not a mean of ratios")           \
    /* the neural instance (env.kind cartpole, acrobot; NaN otherwise) */                             \
    X(double, greedy_return, "mean over agents of the greedy policy's return, dqn.eval_episodes "    \
      "episodes each on its own environment")                                                        \
    X(double, success_rate, "fraction of agents whose mean greedy return reaches the family's "     \
      "threshold (CartPole 475, Acrobot -100)")                                                       \
    X(double, td_loss, "mean minibatch loss of the gradient steps since the previous evaluation")     \
    X(double, heldout_return, "the same greedy return on held-out environments: new parameters for " \
      "each agent, drawn from the same range (the agent's own networks, no further learning)")

#define PFR_METRICS_MEMBER(type, name, doc) type name;
typedef struct pfr_metrics {
    size_t size; /* bytes filled by the library */
    PFR_METRICS_FIELDS(PFR_METRICS_MEMBER)
} pfr_metrics;
#undef PFR_METRICS_MEMBER

/* pfr_metrics' i-th field after `size` (PFR_METRICS_FIELDS): its name, and into *type its C type
 * ("int64_t", "uint64_t" or "double") and into *offset its byte offset (either may be NULL); NULL
 * past the last field. */
const char *pfr_metrics_field(size_t i, const char **type, size_t *offset);

/* Called after every evaluation and, with metrics == NULL, after every round (progress). */
typedef void (*pfr_progress_fn)(void *user, const pfr_sim *sim, int64_t round, const pfr_metrics *metrics);

pfr_status pfr_sim_create(const pfr_config *cfg, pfr_sim **out, pfr_error *err);
/* The same, reporting set-up progress (large environments take a while): fn(user, stage, fraction)
 * with stages "environment", "ground truth" (fraction: types done), "best rank-d error",
 * "initial representation", "engine", "ready". */
typedef void (*pfr_setup_progress_fn)(void *user, const char *stage, double fraction);
pfr_status pfr_sim_create_ex(const pfr_config *cfg, pfr_setup_progress_fn fn, void *user, pfr_sim **out,
                             pfr_error *err);
/* The same, and a set-up its caller can stop (Ctrl-C in a host language): *stop (may be NULL) is
 * read at each stage and as the ground truth's types are done; once it is non-zero the set-up ends
 * there with PFR_ERR_INTERRUPTED, nothing kept (*out NULL). Set it from another thread or a signal
 * handler. pfr_sim_load_stoppable: pfr_sim_load's counterpart (below). */
pfr_status pfr_sim_create_stoppable(const pfr_config *cfg, pfr_setup_progress_fn fn, void *user,
                                    const volatile int *stop, pfr_sim **out, pfr_error *err);
void pfr_sim_destroy(pfr_sim *sim);
void pfr_sim_set_progress(pfr_sim *sim, pfr_progress_fn fn, void *user);

/* Run `rounds` more rounds (evaluating after round 0, every eval_every rounds and after the last).
 * PFR_ERR_INTERRUPTED when pfr_sim_request_stop asked it to stop: the handle is then consistent at
 * the end of a round and may be saved, or run on. */
pfr_status pfr_sim_run(pfr_sim *sim, int64_t rounds);
/* pfr_sim_run with flags: PFR_RUN_EVALUATE_END evaluates after the last round as pfr_sim_run does;
 * without it only round 0 and every eval_every-th round are (a loop of short runs then adds no
 * evaluations of its own: the same history as one long run). */
#define PFR_RUN_EVALUATE_END 1u
pfr_status pfr_sim_run_ex(pfr_sim *sim, int64_t rounds, unsigned flags);
/* Ask a running pfr_sim_run to stop at the end of the current round. Safe to call from a signal
 * handler or another thread; the request is used up by the run it stops. */
void pfr_sim_request_stop(pfr_sim *sim);

/* Checkpoints: everything a run needs to go on exactly as if it had not stopped (the config, the
 * round, Phi, every theta_i and state, each agent's Phi_i for local_rep, the evaluation history),
 * with a format version and a CRC-32. pfr_sim_save writes a temporary file and renames it into
 * place. pfr_sim_load builds the handle from the checkpoint's config (the environment and its
 * ground truth computed again, checked against the checkpoint's fingerprint of the chains) and
 * restores the state: running it on gives the same bits as a run that never stopped. `overrides`
 * ("key=value" strings, `count` of them, may be NULL) may change only what does not change the
 * results: rounds, threads, backend, eval_every, checkpoint_every, cpu_kernel, cuda_kernel, cuda_graph,
 * cuda_max_chunk. A corrupt, truncated, foreign or other-version file is refused with
 * PFR_ERR_FORMAT naming the file and what is wrong. */
pfr_status pfr_sim_save(pfr_sim *sim, const char *path, pfr_error *err);
pfr_status pfr_sim_load(const char *path, const char *const *overrides, size_t count, pfr_setup_progress_fn fn,
                        void *user, pfr_sim **out, pfr_error *err);
pfr_status pfr_sim_load_stoppable(const char *path, const char *const *overrides, size_t count,
                                  pfr_setup_progress_fn fn, void *user, const volatile int *stop, pfr_sim **out,
                                  pfr_error *err);
/* Write a checkpoint to `path` every checkpoint_every rounds while running ("" or NULL: never). */
pfr_status pfr_sim_set_checkpoint(pfr_sim *sim, const char *path);
/* Evaluate now, without recording into the history. */
pfr_status pfr_sim_evaluate(pfr_sim *sim, pfr_metrics *out, size_t size);
/* The message of the last failing call on this handle ("" if none). */
const char *pfr_sim_last_error(const pfr_sim *sim);
/* What set-up noticed that the caller should know but that is not an error (threads beyond the
 * cores, an all-zero init_phi, ...): one line each, "" if nothing. */
const char *pfr_sim_warnings(const pfr_sim *sim);

const pfr_config *pfr_sim_config(const pfr_sim *sim);
int pfr_sim_num_states(const pfr_sim *sim); /* rows of Phi: states, or state-action pairs (s A + a) with control */
int pfr_sim_num_types(const pfr_sim *sim);
int pfr_sim_num_actions(const pfr_sim *sim); /* actions a state: 1 for chains (control.kind none) */
int64_t pfr_sim_round(const pfr_sim *sim);
const char *pfr_sim_backend(const pfr_sim *sim);
int pfr_sim_threads(const pfr_sim *sim);
/* One line describing the environment family and its types. */
const char *pfr_sim_env_description(const pfr_sim *sim);
/* How set-up went: its time, and how the ground truth was solved and how well. Versioned by size
 * as pfr_metrics is. */
typedef struct pfr_setup_info {
    size_t size;               /* bytes filled by the library */
    double setup_s;            /* wall seconds in pfr_sim_create */
    double truth_s;            /* of which computing the ground truth */
    const char *truth_method;  /* "dense LU", "sparse LU (UMFPACK)" (with ", restart rows as a low-rank
                                * term" where wide repeated rows were), or "value iteration" */
    double truth_resid_v;      /* max over types of max |(I - gamma P) V - r| / max |r| */
    double truth_resid_mu;     /* max over types of |mu^T P - mu^T|_1 */
    const char *cpu_kernel;    /* the CPU engine's kernel that runs (cpu_kernel resolved: "avx512", "avx2",
                                * "per_agent" where 16 agents at once do not apply, "scalar"); "" on
                                * another engine */
} pfr_setup_info;
pfr_status pfr_sim_setup_info(const pfr_sim *sim, pfr_setup_info *out, size_t size);
/* Federation over every round of the handle (availability, stragglers, stale Phi; the privacy the
 * noisy aggregation spent). Versioned by size as pfr_metrics is. */
typedef struct pfr_federation_totals {
    size_t size;               /* bytes filled by the library */
    int64_t rounds;            /* rounds run */
    uint64_t participations;   /* agent-rounds taken part */
    double mean_participants;  /* agents taking part per round */
    double mean_steps;         /* local steps per participation */
    double mean_staleness;     /* age in rounds of the Phi a participation started from */
    int64_t private_rounds;    /* rounds whose aggregation added noise */
    double epsilon;            /* privacy spent at delta (RDP accountant); NaN without noise */
    double delta;
    int rdp_order;             /* the Renyi order that gave epsilon (0: none) */
} pfr_federation_totals;
pfr_status pfr_sim_federation_totals(const pfr_sim *sim, pfr_federation_totals *out, size_t size);
/* How different the types are: the singular values of the M types' values (each weighted by its
 * stationary distribution and normalized, all types equally weighted), descending and divided by
 * the largest. Writes min(count, min(S, M)) of them; returns min(S, M), or -1 (out of memory). A
 * fast decay means a few features serve every type. */
int pfr_sim_type_singular_values(const pfr_sim *sim, double *out, size_t count);

/* Shared Phi, [S, d] row-major (local_rep: agent 0's; use pfr_sim_agent_phi). */
pfr_status pfr_sim_get_phi(const pfr_sim *sim, float *out, size_t count);
/* Phi as agent i sees it between rounds: the shared Phi, or its own for local_rep. */
pfr_status pfr_sim_get_agent_phi(const pfr_sim *sim, int64_t agent, float *out, size_t count);
/* theta_i, [d]. */
pfr_status pfr_sim_get_theta(const pfr_sim *sim, int64_t agent, float *out, size_t count);
/* Every theta_i, [N, d] row-major. */
pfr_status pfr_sim_get_thetas(const pfr_sim *sim, float *out, size_t count);
/* Current Markov-chain state of every agent, [N]. */
/* The neural instance (env.kind cartpole, acrobot): agent i's network, Q_i(s, a) = head_i[a] . f(s).
 * The body has pfr_sim_body_size floats (each layer's W [out, in] row-major, then its b [out], layer
 * by layer; pfeddqn_rep and fedavg_dqn: every agent's is the shared one), the head A x dim
 * (row-major). A linear run: size 0 and PFR_ERR_INVALID_ARGUMENT. */
int64_t pfr_sim_body_size(const pfr_sim *sim);
pfr_status pfr_sim_get_body(const pfr_sim *sim, int64_t agent, float *out, size_t count);
pfr_status pfr_sim_get_head(const pfr_sim *sim, int64_t agent, float *out, size_t count);
pfr_status pfr_sim_get_states(const pfr_sim *sim, uint32_t *out, size_t count);
/* Setters, between runs: the shared Phi [S, d] (local_rep: every agent's Phi_i), every theta_i
 * [N, d], every agent's state [N] (each below S). Values must be finite. */
pfr_status pfr_sim_set_phi(pfr_sim *sim, const float *phi, size_t count);
pfr_status pfr_sim_set_theta(pfr_sim *sim, const float *theta, size_t count);
pfr_status pfr_sim_set_states(pfr_sim *sim, const uint32_t *states, size_t count);
/* Ground truth of type m, in double: V_m [S] and stationary distribution mu_m [S]. With control,
 * Q*_m [S A] (row s A + a) and the uniform weights over the state-action pairs. */
pfr_status pfr_sim_get_ground_truth(const pfr_sim *sim, int type, double *v, double *mu, size_t count);

/* The chain of type m as dense [S, S] matrices: P_m(s, s') and R_m(s, s') (either may be NULL).
 * Not with control (an MDP: use the CSR form, whose rows are then s A + a). */
pfr_status pfr_sim_get_chain(const pfr_sim *sim, int type, double *P, double *R, size_t count);
/* The chain of type m in compressed sparse rows (scipy.sparse.csr_matrix's layout): row s holds
 * entries indptr[s] .. indptr[s+1]-1, with next states indices[], probabilities p[] and rewards
 * r[]. *nnz is set to the entries of type m; indptr [S+1] and the arrays of `capacity` entries
 * are filled when given (any may be NULL; call with capacity 0 to learn nnz). */
pfr_status pfr_sim_get_chain_csr(const pfr_sim *sim, int type, int64_t *indptr, int32_t *indices, double *p, double *r,
                                 size_t capacity, int64_t *nnz);

/* The evaluation history of this handle. */
size_t pfr_sim_metrics_count(const pfr_sim *sim);
/* Evaluation i into *out, `size` = sizeof *out (the caller's pfr_metrics). */
pfr_status pfr_sim_metrics_get(const pfr_sim *sim, size_t i, pfr_metrics *out, size_t size);
/* Evaluation i's mean value error of each type, [M] (NaN for a type no agent has). */
pfr_status pfr_sim_metrics_by_type(const pfr_sim *sim, size_t i, double *out, size_t count);
/* Agent-steps per second of round time so far (the first round left out), live between evaluations. */
double pfr_sim_steps_per_sec(const pfr_sim *sim);

/* Engines and devices (for `pfedrl info`): writes a human-readable description. */
void pfr_describe_engines(char *buf, size_t n);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* PFEDRL_H */
