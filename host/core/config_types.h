/*
 * config_types.h — the configuration's layout: internal, not part of the ABI. Callers outside the
 * library hold an opaque pfr_config* and read and set it by key (include/pfedrl/pfedrl.h); the
 * library and its white-box tests read the fields directly.
 */
#ifndef PFR_CONFIG_TYPES_H
#define PFR_CONFIG_TYPES_H

#include "pfedrl/pfedrl.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PFR_PATH_MAX 1024

typedef struct pfr_env_config {
    pfr_env_kind kind;
    int types;            /* M environment types; 0 = the family's default (file: taken from P) */
    int type_first;       /* agent i has type type_first + i mod type_count (hold types out) */
    int type_count;       /* 0 = every type from type_first on */
    uint64_t seed;        /* generates the M types; independent of the run seed */
    int width, height;    /* cliffwalk / gridworld grid size; 0 = family default */
    int states;           /* garnet S, randomwalk n; 0 = family default */
    int actions;          /* garnet A */
    int branching;        /* garnet b */
    double perturbation;  /* garnet per-type perturbation strength epsilon in [0, 1] */
    double epsilon;       /* cliffwalk / gridworld: epsilon of the epsilon-soft policy */
    double slip_min, slip_max; /* per-type slip probability (random move), spread over types */
    double wind_min, wind_max; /* per-type wind probability (cliffwalk: toward the cliff) */
    double reward_spread; /* per-type reward scale in [1 - spread, 1 + spread] */
    int goals;            /* gridworld: goals per type (the first rewards 1, the others 0.25..1) */
    double walls;         /* gridworld: fraction of cells that are walls, per type */
    int starts;           /* gridworld: restart cells per type after a goal; 0 = any free cell */
    pfr_wind_direction wind_direction; /* gridworld */
    pfr_grid_layout layout; /* gridworld: walls, goals, starts per type, or one for all (rewards per type) */
    double reward_scale;  /* multiplies every reward of a generated family */
    char p_file[PFR_PATH_MAX]; /* file: P, [M, S, S] .npy */
    char r_file[PFR_PATH_MAX]; /* file: R, [M, S, S] or [M, S] .npy */
    char dir[PFR_PATH_MAX];    /* file: a folder of the chains in sparse rows, as pfedrl export writes it */
    double param_min, param_max; /* cartpole / acrobot: each agent's physical parameter; 0, 0 = the family's range */
    char param_file[PFR_PATH_MAX]; /* cartpole / acrobot: .npy [N] or [N, 2] of the agents' parameters instead */
} pfr_env_config;

typedef struct pfr_schedule_config {
    double tau;  /* alpha_t = alpha / (1 + t/tau)^a, beta_t = beta / (1 + t/tau)^b */
    double a, b; /* 0, 0 = constant step sizes */
} pfr_schedule_config;

/* The private aggregation's mean: the noisy sum over the expected participant count (participation
 * x N, DP-FedAvg's fixed denominator, which the accountant covers) or over the round's count. */
typedef enum pfr_dp_denominator { PFR_DP_EXPECTED = 0, PFR_DP_PARTICIPANTS = 1 } pfr_dp_denominator;

/* Federation as it happens (federation.c): availability, stragglers, stale Phi, private aggregation.
 * Every field's neutral value (the default) leaves the round as it is without them. */
typedef struct pfr_federation_config {
    double p_drop, p_return; /* availability: a present agent leaves w.p. p_drop, an absent one returns w.p. p_return */
    char availability_trace[PFR_PATH_MAX]; /* .npy [rounds, N] booleans: who is available in each round */
    double stragglers;       /* chance an agent straggles in a round: k uniform on {1, .., K-1} steps */
    int delay;               /* every agent starts from the Phi of `delay` rounds ago */
    int max_delay;           /* or: each agent's delay drawn uniformly on {0, .., max_delay} each round */
    double stale_decay;      /* a change from age a is weighted stale_decay^a */
    double clip;             /* each agent's Phi change clipped to this L2 norm; 0 = no clipping */
    double noise_multiplier; /* Gaussian noise of std noise_multiplier * clip added to the sum */
    int dp_denominator;      /* pfr_dp_denominator: what the noisy sum is divided by */
    double delta;            /* the delta at which the privacy spent (epsilon) is reported */
} pfr_federation_config;

/* Control (control.c): Q_i(s, a) = Phi[s A + a] . theta_i learned by SARSA or Q-learning. */
typedef struct pfr_control_config {
    pfr_control kind;      /* none: policy evaluation (the family's chains) */
    double epsilon;        /* exploration at global step 0 */
    double epsilon_end;    /* ... falling linearly to this at epsilon_steps, then constant */
    int64_t epsilon_steps; /* 0: epsilon throughout */
    int policy_agents;     /* agents per type whose greedy policy is evaluated exactly (policy_gap) */
} pfr_control_config;

/* The neural instance (env.kind cartpole, acrobot; host/neural/): each agent's DQN. */
typedef enum pfr_dqn_optimizer { PFR_DQN_ADAM = 0, PFR_DQN_SGD = 1 } pfr_dqn_optimizer;
typedef enum pfr_dqn_loss { PFR_DQN_HUBER = 0, PFR_DQN_MSE = 1 } pfr_dqn_loss;
/* A list of layer widths (dqn.hidden): n of them, w[0 .. n-1]. */
#define PFR_WIDTHS_MAX 7
typedef struct pfr_widths {
    int n;
    int w[PFR_WIDTHS_MAX];
} pfr_widths;
typedef struct pfr_dqn_config {
    pfr_widths hidden;         /* one width (repeated hidden_layers times) or one per hidden layer */
    int hidden_layers;         /* the body: n_obs -> hidden layers -> dim, each layer activated */
    int activation;            /* pfr_mlp_act: relu, tanh */
    int buffer, batch;         /* replay capacity per agent; minibatch size */
    int grad_steps;            /* gradient steps after each environment step (once the buffer holds learn_start) */
    int learn_start;           /* transitions in the buffer before the first gradient step */
    int target_every;          /* gradient steps between target-network syncs */
    double lr;                 /* Adam's or SGD's step size */
    int optimizer;             /* pfr_dqn_optimizer */
    int loss;                  /* pfr_dqn_loss */
    double epsilon, epsilon_end, epsilon_decay; /* exploration: epsilon x decay^(gradient steps), at least epsilon_end */
    int reset_optimizer;       /* Adam's moments and step count reset when a round starts (after the averaging) */
    int average_moments;       /* the server also averages the moments of what it averages (body; fedavg: head) */
    int cap_is_terminal;       /* the time limit counts as termination (no bootstrap), the older rule */
    int eval_episodes;         /* greedy episodes per agent and evaluation */
    double success_return;     /* an agent succeeds when its mean greedy return reaches this; 0 = family default */
    char init_body[PFR_PATH_MAX]; /* .npy [P]: the first body (e.g. a previous run's body.npy); "": drawn */
    int freeze_body;           /* the body is not trained: only the heads learn */
} pfr_dqn_config;

struct pfr_config {
    pfr_env_config env;
    int64_t agents;      /* N */
    int dim;             /* d */
    int64_t rounds;
    int local_steps;     /* K */
    double alpha, beta, gamma;
    pfr_schedule_config schedule;
    pfr_algorithm algorithm;
    uint64_t seed;
    int64_t eval_every;  /* rounds between evaluations (the last round is always evaluated) */
    int64_t checkpoint_every; /* rounds between checkpoints (pfr_sim_set_checkpoint); 0: none */
    double participation; /* fraction of agents taking part in a round, (0, 1] */
    pfr_federation_config federation;
    pfr_control_config control;
    pfr_dqn_config dqn;
    int orthonormalize;  /* orthonormalize Phi after each aggregation (keeps every Phi theta_i) */
    pfr_backend backend;
    pfr_cuda_kernel cuda_kernel; /* CUDA engine: local-step kernel variant */
    int64_t cuda_max_chunk;      /* CUDA engine: at most this many agents per chunk; 0 = as many as fit */
    int cuda_graph;              /* CUDA engine: replay each round as a captured CUDA graph */
    int threads;         /* CPU engine threads; 0 = all cores */
    pfr_cpu_kernel cpu_kernel; /* CPU engine: its kernel (the same results on each) */
    char init_phi[PFR_PATH_MAX]; /* optional .npy [S, d] to start Phi from */
};

/* Fill with the documented defaults (what pfr_config_create returns). */
void pfr_config_init(pfr_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* PFR_CONFIG_TYPES_H */
