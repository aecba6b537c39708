/*
 * engine.h — the simulation handle and the interface an engine implements. The host owns
 * the round loop (schedules, evaluation cadence, history); an engine owns the agents' state during
 * a round: local steps, aggregation and orthonormalization. The CPU engine works on the host
 * arrays directly; a device engine keeps its own copies and refreshes the host arrays on sync.
 */
#ifndef PFR_ENGINE_H
#define PFR_ENGINE_H

#include <math.h>

#include "env/env.h"
#include "kernels/pfr_agent_math.h" /* pfr_probability_threshold */

#ifdef __cplusplus
extern "C" {
#endif

/* What an engine needs to run one round. */
typedef struct pfr_round_plan {
    int64_t round;
    uint64_t t0;           /* global step of local step 0: round * K */
    int K;
    const float *alpha;    /* [K] alpha_{t0+k} */
    const float *beta;     /* [K] beta_{t0+k} */
    uint64_t part_threshold; /* agent takes part iff its participation word < this (2^32: all do) */
    /* Federation as it happens (federation.c fills these; NULL and 0: a round without them): */
    const uint32_t *steps;     /* [N] local steps each agent does, 0: it sits out; NULL: K for each participant */
    const uint8_t *age;        /* [N] the age of the Phi each agent starts from; NULL: age0 for every agent */
    int age0;
    const float *const *base;  /* [max age + 1] the Phi of each age, base[0] = sim->phi; NULL: sim->phi */
    const double *age_weight;  /* [max age + 1] the weight of a change from a Phi of that age; NULL: 1 */
    double clip;               /* each agent's Phi change clipped to this L2 norm; 0: not clipped */
    double noise_std;          /* std of the Gaussian noise added to each entry of the sum of changes; 0: none */
    double dp_count;           /* with noise: the sum's denominator (participation x N, fixed); 0: the participants */
    uint64_t explore_thr;      /* control: explore iff word 2 of a step < this (epsilon of the round as a 2^32 fraction) */
    int history;               /* H, the largest age (base has H + 1 entries); 0 without base */
} pfr_round_plan;

/* 1 / the denominator of the round's mean of Phi's changes: the participants, or with the private
 * aggregation's fixed denominator (dp_count > 0) the expected count. Every engine divides by this. */
static inline double pfr_plan_mean_scale(const pfr_round_plan *plan, uint64_t participants)
{
    if (plan->noise_std > 0.0 && plan->dp_count > 0.0)
        return 1.0 / plan->dp_count;
    return participants > 0 ? 1.0 / (double)participants : 0.0;
}

/* What a round did, for the metrics (the host counts it). */
typedef struct pfr_round_stats {
    uint64_t participants, steps, age_sum;
} pfr_round_stats;

typedef struct pfr_fed pfr_fed; /* federation.c */

typedef struct pfr_engine_vtbl {
    const char *name;
    /* Local steps of every participating agent, then aggregation and orthonormalization as the
     * algorithm asks. Stores the number of participating agents. */
    pfr_status (*round)(pfr_sim *sim, const pfr_round_plan *plan, uint64_t *participants);
    /* Make the host arrays (phi, agent_phi, theta, state) current. */
    pfr_status (*sync_host)(pfr_sim *sim);
    /* Make the host's shared Phi current (cheap: [S, d]); for local_rep also the Phi_i of agents
     * 0 .. min(N, type_count)-1 (the host's TD fixed-point metric reads those). */
    pfr_status (*pull_phi)(pfr_sim *sim);
    /* Optional (NULL: the host computes them): the per-agent metric sums, per block of agents in
     * agent order, blk [nblocks, 3] = value error, |theta_i|, |Phi_i| (local_rep; else 0), from the
     * per-type moments `mom` (pfr_metrics.h; NULL for local_rep, which uses each Phi_i); only those
     * small results cross to the host. */
    pfr_status (*agent_metrics)(pfr_sim *sim, const double *mom, double *blk);
    /* Optional (NULL: the engine works on the host arrays): the host arrays (phi, agent_phi, theta,
     * state) were changed by the caller; copy them to the engine. */
    pfr_status (*push_host)(pfr_sim *sim);
    /* Optional (NULL: round() returns when the round is done): block until every round handed over
     * is done, and report an error the device found since (e.g. a failed orthonormalization, named
     * with its round). The host calls it before each evaluation and times it as round time. */
    pfr_status (*wait)(pfr_sim *sim);
    void (*destroy)(pfr_sim *sim);
    /* The last round's orthonormalization's R [d, d] (row-major, upper-triangular: Phi's average =
     * the new Phi times R, theta_i mapped by R), after sync_host; called only when it ran. */
    pfr_status (*last_map)(pfr_sim *sim, double *R);
} pfr_engine_vtbl;

/* How the CPU engine runs: its kernel (config cpu_kernel) and what tests force (each way gives the
 * same bits). Set before the engine starts (pfr_engine_cpu_init), which reads it. */
typedef struct pfr_cpu_options {
    int kernel;    /* pfr_cpu_kernel */
    int wave;      /* tests: agent blocks per wave of the merge (0: as memory allows) */
    int overlay;   /* tests: how agents' overlays find their rows (PFR_CPU_OVERLAY_*) */
    int chains;    /* tests: the 16-agent step's copy of the chains (PFR_CPU_CHAINS_*) */
    int parts;     /* tests: whether block parts hold narrow rows (PFR_CPU_PARTS_*) */
    int no_gather; /* tests: the 16-agent step without gathers, as where the chains outgrow 32-bit
                    * indices (AVX-512: its scalar-lookup form; AVX2: the per-agent step) */
} pfr_cpu_options;

struct pfr_sim {
    pfr_config cfg;
    pfr_env *env;
    pfr_truth truth;
    int S, d, M, K, threads; /* S: rows of Phi (states, or state-action pairs with control) */
    pfr_control control;     /* none: policy evaluation */
    int A, states;           /* actions (1 without control) and states: S = states * A */
    uint8_t *action;         /* [N] SARSA: the action each agent takes next (else NULL) */
    int type_first, type_count; /* agent i has type type_first + i mod type_count */
    int64_t N;
    /* A run over MPI ranks (dist.h; one process: rank 0 of 1, every block its own): this rank's agent
     * blocks b0 .. b1-1, its agents a0 .. a1-1; the host arrays hold every agent, this rank computes
     * its own, and host_current says the others' are current too (gathered since the last round). */
    int drank, dsize;
    int64_t b0, b1, a0, a1;
    int host_current;

    /* What the algorithm does (derived once from cfg.algorithm). */
    int learn_phi; /* Phi is trained (beta > 0 in the update) */
    int own_phi;   /* every agent keeps its own Phi_i across rounds (local_rep) */
    int avg_phi;   /* Phi_i averaged into the shared Phi each round */
    int avg_theta; /* theta_i averaged and broadcast each round */
    int tabular;   /* the table is Phi [S, 1], theta fixed at 1 (pfr_algorithm_traits) */

    /* Host state. Shapes: phi [S, d]; agent_phi [N, S, d] (own_phi only); theta [N, d]; state [N]. */
    float *phi;
    float *agent_phi;
    float *theta;
    uint32_t *state;

    int64_t round;
    uint64_t agent_steps;
    double wall_s;   /* all time inside pfr_sim_run */
    double step_s;   /* time inside engine rounds only */
    /* What agent_steps_per_sec counts: round time and steps after the handle's first round, which
     * carries one-time costs (kernel modules loaded, a CUDA graph captured, work space first
     * touched) and is excluded; runs of one round fall back to step_s. */
    double rate_s;
    uint64_t rate_steps;
    int warmed;      /* the first round has run (and, on a device engine, finished) */
    double *type_weight; /* [M] fraction of agents of each type */
    double best_rank_d;
    double setup_s, truth_s; /* set-up time, of which the ground truth */

    pfr_fed *fed;       /* availability, stragglers, stale Phi, private aggregation (NULL: none) */
    /* what a device engine needs of it (federation.c sets them): */
    int fed_per_agent;  /* the plans carry steps [N] and ages [N] */
    int fed_slots;      /* H + 1: the history of Phi, fed_hist [H + 1, S, d] (host), slot r mod (H + 1) =
                         * the Phi round r started from; 0: none */
    float *fed_hist;
    const double *fed_weight; /* [H + 1] stale_decay^age */
    uint8_t *fed_avail;       /* [N] the availability chains' states (NULL: none), gathered over MPI ranks */
    pfr_round_stats since_eval; /* summed over the rounds since the last evaluation */
    int64_t rounds_since_eval;
    pfr_round_stats total;      /* over every round of the handle */
    int64_t private_rounds;     /* rounds whose aggregation added noise (the privacy accountant's count) */

    pfr_metrics *hist;
    double *hist_type; /* [caphist, M] the mean value error of each type at each evaluation */
    size_t nhist, caphist;
    int stop;          /* pfr_sim_request_stop: end the run after this round (__atomic builtins) */
    char checkpoint_path[PFR_PATH_MAX]; /* pfr_sim_set_checkpoint: written every checkpoint_every rounds */
    pfr_progress_fn progress;
    void *progress_user;
    char errmsg[1024];
    char warnings[1024]; /* one line each: what the caller should know (pfr_sim_warnings) */

    pfr_cpu_options cpu; /* how the CPU engine runs: read when it starts */

    const pfr_engine_vtbl *engine;
    void *engine_state;
    struct pfr_neural *neural; /* the neural instance (env.kind cartpole, acrobot: host/neural/); NULL otherwise */
};

/* A probability as a threshold on a 32-bit word: an event of chance p happens iff its word is below
 * it (2^32: always). Participation (word PFR_WORD_PARTICIPATION of a round's first step), control's
 * exploration and the federation's draws all use it. */
static inline uint64_t pfr_participation_threshold(double p) { return pfr_probability_threshold(p); }

/* Control: the exploration threshold of the round starting at global step t0 (epsilon falling
 * linearly from control.epsilon to control.epsilon_end over control.epsilon_steps, then constant). */
static inline uint64_t pfr_explore_threshold(const pfr_config *cfg, uint64_t t0)
{
    const pfr_control_config *cc = &cfg->control;
    const double f = cc->epsilon_steps > 0 ? fmin(1.0, (double)t0 / (double)cc->epsilon_steps) : 0.0;
    return pfr_participation_threshold(cc->epsilon + f * (cc->epsilon_end - cc->epsilon));
}

/* The environment type of agent i. */
static inline int pfr_agent_type(const pfr_sim *sim, int64_t i)
{
    return sim->type_first + (int)(i % sim->type_count);
}

/* The CPU engine's paths (config cpu_kernel): all compute the same bits; tests force each. AUTO: the
 * best this CPU has. */
#define PFR_CPU_PATH_AUTO PFR_CPU_KERNEL_AUTO
#define PFR_CPU_PATH_AVX512 PFR_CPU_KERNEL_AVX512 /* 16 agents at once, AVX-512 (cpu_x16.c) */
#define PFR_CPU_PATH_AVX2 PFR_CPU_KERNEL_AVX2     /* 16 agents at once, AVX2 (cpu_group_avx2.c) */
#define PFR_CPU_PATH_PORTABLE PFR_CPU_KERNEL_PORTABLE /* 16 agents at once, vector extensions (cpu_group_portable.c) */
#define PFR_CPU_PATH_PER_AGENT PFR_CPU_KERNEL_PER_AGENT /* one agent at a time, vectorized along d */
#define PFR_CPU_PATH_SCALAR PFR_CPU_KERNEL_SCALAR /* pfr_td_step and the scalar Philox only */
/* The kernel `asked` resolves to on this CPU (auto: AVX-512, else AVX2, else per agent), and whether
 * this CPU can run it (PFR_ERR_CONFIG naming what it lacks and what it can run). */
int pfr_cpu_kernel_pick(int asked);
pfr_status pfr_cpu_kernel_check(int asked, pfr_error *err);
/* The overlays' lookup (cpu_engine.h). AUTO: the 16-agent step's slot scan for up to 32 rows, else
 * slot maps at moderate S, else hash tables (the per-agent step: maps, else tables). The others force
 * one at any S: hash tables only; slot maps where an overlay has under 255 rows (no scan); the scan
 * (hash tables for the per-agent step). */
#define PFR_CPU_OVERLAY_AUTO 0
#define PFR_CPU_OVERLAY_HASH 1
#define PFR_CPU_OVERLAY_MAP 2
#define PFR_CPU_OVERLAY_SCAN 3
/* The 16-agent step's copy of the chains (cpu_engine.h). AUTO: where it scans or probes hash tables
 * and the entries outgrow L2 twice, slots by shape where rows repeat (cpu_slots.c), else slots by
 * state where they fit, else 16-byte entries; the others force one where it applies (else the next in
 * that order). */
#define PFR_CPU_CHAINS_AUTO 0
#define PFR_CPU_CHAINS_ENTRIES 1
#define PFR_CPU_CHAINS_SLOTS 2
#define PFR_CPU_CHAINS_SHAPES 3

/* Tests: the CPU engine's block parts hold a row's sums as floats where each is exactly one and the
 * parts outgrow L2 (AUTO), always where each is (NARROW), or as doubles (WIDE): the same bits. */
#define PFR_CPU_PARTS_AUTO 0
#define PFR_CPU_PARTS_WIDE 1
#define PFR_CPU_PARTS_NARROW 2

/* The CPU engine (engine_cpu.c); the CUDA engine is declared in cuda/cuda_engine.h. */
pfr_status pfr_engine_cpu_init(pfr_sim *sim, pfr_error *err);
/* The kernel the running CPU engine's full groups take (PFR_CPU_KERNEL_*; per_agent where the
 * 16-agent step does not apply: control, d other than 4, 8, 16, 32, chains beyond 32-bit gathers
 * but with AVX-512); -1 for another engine. */
int pfr_engine_cpu_kernel(const pfr_sim *sim);
/* Tests: the 16-agent step's copy of the chains in the running CPU engine (PFR_CPU_CHAINS_SHAPES,
 * _SLOTS or _ENTRIES; 0 where it has none). */
int pfr_engine_cpu_chains(const pfr_sim *sim);
/* Tests: the rows of the last wave's block parts held narrow and wide (0 and 0 where there are none). */
void pfr_engine_cpu_part_rows(const pfr_sim *sim, int64_t *narrow, int64_t *wide);
/* Tests: with the chains by shape, the bytes of a state's shape number (1: per type, 2: for all
 * types); 0 without. */
int pfr_engine_cpu_shape_bytes(const pfr_sim *sim);
/* Tests (PFEDRL_TEST_SUMS_DIGEST set when the engine started): the sum mod 2^64 of a hash of every row's
 * sums, in double, as they were applied, over the handle's rounds and every thread (and every MPI
 * rank: a collective there); 0 without. Two runs with the same digest added the same doubles. */
uint64_t pfr_engine_cpu_sums_digest(pfr_sim *sim);
/* What pfr_engine_cpu_init allocates for T threads and N agents (`shared`: an algorithm that
 * aggregates; M types of nnz transitions in all; wave_blocks: the blocks of a wave when given, as
 * over MPI ranks, else what the budget allows), for the memory plan. */
double pfr_engine_cpu_bytes(int S, int d, int K, int M, double nnz, int T, int shared, int64_t N, int64_t wave_blocks);

/* Why an orthonormalization fails, for the engines' messages ("... in round r: Phi " WHY). */
#define PFR_LOST_RANK_WHY                                                                                  \
    "lost rank or diverged (non-finite entries); lower alpha or beta, or scale rewards down with env.reward_scale"

/* The host memory plan (plan.c): what a configuration allocates, before it does, against what is
 * available; PFR_ERR_TOO_LARGE names the sizes when it cannot fit. */
typedef struct pfr_host_plan {
    double env_bytes, truth_bytes, agent_bytes, fed_bytes, engine_bytes, total_bytes, available_bytes;
} pfr_host_plan;
pfr_status pfr_plan_host_memory(const pfr_config *cfg, int threads, double available, pfr_host_plan *plan,
                                pfr_error *err);
/* Bytes this process can still allocate: MemAvailable, or the cgroup's limit less its usage if that
 * is smaller (-1: unknown). */
double pfr_host_available_bytes(void);
/* The thread count for `threads` = want: want, or (0) OMP_NUM_THREADS when set, else the cores this
 * process may use (its affinity), at most its container's CPU quota (cgroup cpu.max, rounded up). */
int pfr_resolve_threads(int want);

/* One evaluation into out (evaluate.c), the engine's state made current on the host as needed; with by_type (may be NULL), the mean value error of each type [M]
 * (NaN for types no agent has). */
pfr_status pfr_evaluate(pfr_sim *sim, pfr_metrics *out, double *by_type);

/* Set-up (sim_setup.c): pfr_sim_create_stoppable, with restore (may be NULL) called on the built handle before
 * its engine starts, to overwrite the initial state (checkpoint.c); a non-OK status it returns
 * fails the set-up, with its message in err. */
typedef pfr_status (*pfr_restore_fn)(pfr_sim *sim, void *ctx, pfr_error *err);
pfr_status pfr_sim_build(const pfr_config *cfg, pfr_setup_progress_fn progress, void *user, const volatile int *stop,
                         pfr_restore_fn restore, void *ctx, pfr_sim **out, pfr_error *err);
/* Room for n evaluations in the history (sim.c). */
pfr_status pfr_sim_reserve_history(pfr_sim *sim, size_t n);

/* Control (evaluate_control.c): the mean relative sub-optimality of the greedy policies of the first
 * control.policy_agents agents of each type (their count into *sampled), host arrays current. */
double pfr_policy_gap(const pfr_sim *sim, int64_t *sampled);

/* The host arrays made current, every MPI rank's agents gathered into them (sim_access.c): a
 * collective over ranks, which every rank calls at the same point; after it, until the next round,
 * the accessors read the host arrays without one (one process: sync_host). */
pfr_status pfr_sim_gather(pfr_sim *sim);

/* Record an error message on the handle and return status (status.c). */
pfr_status pfr_sim_fail(pfr_sim *sim, pfr_status status, const char *fmt, ...) PFR_PRINTF(3, 4);

#ifdef __cplusplus
}
#endif

#endif
