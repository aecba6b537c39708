/*
 * config.c — the configuration schema: one table of keys with type, range and help. Both the YAML
 * loader and `--set key=value` go through pfr_config_set, so a value is checked the same way
 * wherever it comes from, and every error names the key, the value and what is allowed. What keys
 * may combine (a family's keys, the federation mechanisms) is config_check.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

typedef enum { T_INT, T_INT64, T_UINT64, T_DOUBLE, T_BOOL, T_ENUM, T_PATH, T_WIDTHS } key_type;

typedef struct key_def {
    const char *name;
    key_type type;
    size_t offset;
    double min, max;      /* numeric range */
    int min_open, max_open; /* 1: the bound itself is not allowed */
    const char *const *enum_names;
    const char *help;
} key_def;

static const char *const ENV_KINDS[] = {"cliffwalk", "gridworld", "garnet", "randomwalk", "file", "cartpole", "acrobot", NULL};
static const char *const ALGORITHMS[] = {"pfedtd_rep", "local_rep", "fedavg_rep", "fedtd", "local_td",
                                         "local_td_tabular", "fedtd_tabular", "pfeddqn_rep", "local_dqn",
                                         "fedavg_dqn", NULL};
static const char *const ACTIVATIONS[] = {"relu", "tanh", NULL};   /* pfr_mlp_act */
static const char *const OPTIMIZERS[] = {"adam", "sgd", NULL};     /* pfr_dqn_optimizer */
static const char *const LOSSES[] = {"huber", "mse", NULL};        /* pfr_dqn_loss */
static const char *const BACKENDS[] = {"auto", "cpu", "cuda", NULL};
static const char *const CONTROLS[] = {"none", "sarsa", "qlearning", NULL};
static const char *const CUDA_KERNELS[] = {"auto", "thread", "warp", NULL};
static const char *const CPU_KERNELS[] = {"auto", "avx512", "avx2", "portable", "per_agent", "scalar", NULL};
static const char *const WIND_DIRECTIONS[] = {"north", "per_type", NULL};
static const char *const LAYOUTS[] = {"per_type", "shared", NULL};
static const char *const DP_DENOMINATORS[] = {"expected", "participants", NULL}; /* pfr_dp_denominator */

#define OFF(field) offsetof(pfr_config, field)
#define BIG 2147483647.0

/* clang-format off */
static const key_def KEYS[] = {
    {"env.kind", T_ENUM, OFF(env.kind), 0, 0, 0, 0, ENV_KINDS, "environment family"},
    {"env.types", T_INT, OFF(env.types), 0, 4096, 0, 0, NULL, "number of environment types M (agent i has type i mod M); 0 = family default"},
    {"env.type_first", T_INT, OFF(env.type_first), 0, 4095, 0, 0, NULL, "agents use types type_first .. type_first+type_count-1 (to hold types out)"},
    {"env.type_count", T_INT, OFF(env.type_count), 0, 4096, 0, 0, NULL, "how many types the agents use (agent i: type_first + i mod type_count); 0 = all from type_first"},
    {"env.seed", T_UINT64, OFF(env.seed), 0, 0, 0, 0, NULL, "seed that generates the M types (independent of the run seed)"},
    {"env.width", T_INT, OFF(env.width), 0, 4096, 0, 0, NULL, "grid width (cliffwalk default 12, gridworld 10); 0 = default"},
    {"env.height", T_INT, OFF(env.height), 0, 4096, 0, 0, NULL, "grid height (cliffwalk default 4, gridworld 10); 0 = default"},
    {"env.states", T_INT, OFF(env.states), 0, 1000000, 0, 0, NULL, "number of states (garnet default 50, randomwalk 5); 0 = default"},
    {"env.actions", T_INT, OFF(env.actions), 1, 64, 0, 0, NULL, "garnet: actions per state"},
    {"env.branching", T_INT, OFF(env.branching), 1, 1000000, 0, 0, NULL, "garnet: next states per (state, action)"},
    {"env.perturbation", T_DOUBLE, OFF(env.perturbation), 0, 1, 0, 0, NULL, "garnet: per-type perturbation strength"},
    {"env.epsilon", T_DOUBLE, OFF(env.epsilon), 0, 1, 0, 0, NULL, "cliffwalk/gridworld: epsilon of the epsilon-soft policy"},
    {"env.slip_min", T_DOUBLE, OFF(env.slip_min), 0, 1, 0, 0, NULL, "slip probability (random move) of type 0"},
    {"env.slip_max", T_DOUBLE, OFF(env.slip_max), 0, 1, 0, 0, NULL, "slip probability of type M-1 (linear in between)"},
    {"env.wind_min", T_DOUBLE, OFF(env.wind_min), 0, 1, 0, 0, NULL, "wind probability of type 0 (cliffwalk: toward the cliff; gridworld: north)"},
    {"env.wind_max", T_DOUBLE, OFF(env.wind_max), 0, 1, 0, 0, NULL, "wind probability of type M-1"},
    {"env.reward_spread", T_DOUBLE, OFF(env.reward_spread), 0, 1, 0, 1, NULL, "per-type reward scale in [1-spread, 1+spread]"},
    {"env.goals", T_INT, OFF(env.goals), 1, 256, 0, 0, NULL, "gridworld: goals per type (the first rewards 1, the others 0.25..1, from env.seed); the policy heads for the nearest"},
    {"env.walls", T_DOUBLE, OFF(env.walls), 0, 0.35, 0, 0, NULL, "gridworld: fraction of cells drawn as walls, a layout per type; the largest connected free region is kept (near 0.4 the free cells fall apart into pieces)"},
    {"env.starts", T_INT, OFF(env.starts), 0, 1000000, 0, 0, NULL, "gridworld: cells an episode restarts at after a goal, per type; 0 = any free cell (a dense row: keep large grids above 0)"},
    {"env.wind_direction", T_ENUM, OFF(env.wind_direction), 0, 0, 0, 0, WIND_DIRECTIONS, "gridworld: wind toward the north, or per_type (type m: north, east, south, west for m mod 4)"},
    {"env.layout", T_ENUM, OFF(env.layout), 0, 0, 0, 0, LAYOUTS, "gridworld: walls, goals and restart cells drawn per type, or shared by all types, each type with its own reward in [-1, 1] for each goal (values of rank at most env.goals when slip and wind agree)"},
    {"env.reward_scale", T_DOUBLE, OFF(env.reward_scale), 0, 1e6, 1, 0, NULL, "multiplies every reward of a generated family (cliffwalk: -0.01 a step, -1 for the cliff)"},
    {"env.p_file", T_PATH, OFF(env.p_file), 0, 0, 0, 0, NULL, "file: transition matrices P, .npy [M, S, S]"},
    {"env.r_file", T_PATH, OFF(env.r_file), 0, 0, 0, 0, NULL, "file: rewards R, .npy [M, S, S] or [M, S]"},
    {"env.dir", T_PATH, OFF(env.dir), 0, 0, 0, 0, NULL, "file: instead of p_file and r_file, a folder of the chains in sparse rows as `pfedrl export` writes it (P_shape, P_indptr, P_indices, P_data, R_data .npy)"},
    {"env.param_min", T_DOUBLE, OFF(env.param_min), 0, 1e6, 0, 0, NULL, "cartpole/acrobot: each agent's physical parameter (CartPole: the pole's half-length; Acrobot: link 1's mass) lies in [param_min, param_max], agent i's in bin i mod env.types; 0 and 0 = the family's range (CartPole 0.1 .. 0.9, Acrobot 0.5 .. 1.5)"},
    {"env.param_max", T_DOUBLE, OFF(env.param_max), 0, 1e6, 0, 0, NULL, "cartpole/acrobot: the parameter range's upper end"},
    {"env.param_file", T_PATH, OFF(env.param_file), 0, 0, 0, 0, NULL, "cartpole/acrobot: each agent's parameter from a .npy instead, [N] (the held-out ones still drawn from the range) or [N, 2] (its own and its held-out one)"},
    {"init_phi", T_PATH, OFF(init_phi), 0, 0, 0, 0, NULL, "start from this Phi (.npy, [S, d]) instead of a random one, e.g. a previous run's phi.npy"},
    {"agents", T_INT64, OFF(agents), 1, 1e12, 0, 0, NULL, "number of agents N"},
    {"dim", T_INT, OFF(dim), 1, PFR_MAX_DIM, 0, 0, NULL, "representation dimension d (at most S)"},
    {"rounds", T_INT64, OFF(rounds), 0, 1e12, 0, 0, NULL, "communication rounds"},
    {"local_steps", T_INT, OFF(local_steps), 1, 1000000, 0, 0, NULL, "local TD steps per round K"},
    {"alpha", T_DOUBLE, OFF(alpha), 0, 1e6, 1, 0, NULL, "fast step size (theta)"},
    {"beta", T_DOUBLE, OFF(beta), 0, 1e6, 1, 0, NULL, "slow step size (Phi)"},
    {"gamma", T_DOUBLE, OFF(gamma), 0, 1, 0, 1, NULL, "discount factor"},
    {"schedule.tau", T_DOUBLE, OFF(schedule.tau), 0, 1e300, 1, 0, NULL, "step-size decay time scale in global steps"},
    {"schedule.a", T_DOUBLE, OFF(schedule.a), 0, 1, 0, 0, NULL, "alpha_t = alpha / (1 + t/tau)^a"},
    {"schedule.b", T_DOUBLE, OFF(schedule.b), 0, 1, 0, 0, NULL, "beta_t = beta / (1 + t/tau)^b"},
    {"algorithm", T_ENUM, OFF(algorithm), 0, 0, 0, 0, ALGORITHMS, "algorithm"},
    {"seed", T_UINT64, OFF(seed), 0, 0, 0, 0, NULL, "run seed (Philox key)"},
    {"eval_every", T_INT64, OFF(eval_every), 1, 1e12, 0, 0, NULL, "rounds between evaluations"},
    {"checkpoint_every", T_INT64, OFF(checkpoint_every), 0, 1e12, 0, 0, NULL, "rounds between checkpoints (pfedrl run: DIR/checkpoint.pfr); 0 = only when interrupted"},
    {"participation", T_DOUBLE, OFF(participation), 0, 1, 1, 0, NULL, "fraction of agents taking part in each round"},
    {"control.kind", T_ENUM, OFF(control.kind), 0, 0, 0, 0, CONTROLS, "learn Q(s, a) = Phi[(s, a)] . theta_i by sarsa (on-policy) or qlearning on the family's MDPs; none: evaluate the family's fixed policy"},
    {"control.epsilon", T_DOUBLE, OFF(control.epsilon), 0, 1, 0, 0, NULL, "control: epsilon-greedy exploration at the first step"},
    {"control.epsilon_end", T_DOUBLE, OFF(control.epsilon_end), 0, 1, 0, 0, NULL, "control: exploration after control.epsilon_steps steps (linear in between)"},
    {"control.epsilon_steps", T_INT64, OFF(control.epsilon_steps), 0, 1e15, 0, 0, NULL, "control: global steps over which exploration falls from control.epsilon to control.epsilon_end; 0 = constant"},
    {"control.policy_agents", T_INT, OFF(control.policy_agents), 1, 1000000, 0, 0, NULL, "control: agents per type whose greedy policy is evaluated exactly for policy_gap (the first ones of each type)"},
    {"federation.p_drop", T_DOUBLE, OFF(federation.p_drop), 0, 1, 0, 0, NULL, "availability: chance a present agent drops out before a round (a two-state Markov chain per agent; 0 = always present)"},
    {"federation.p_return", T_DOUBLE, OFF(federation.p_return), 0, 1, 0, 0, NULL, "availability: chance an absent agent is back before a round (0: who leaves never returns)"},
    {"federation.availability_trace", T_PATH, OFF(federation.availability_trace), 0, 0, 0, 0, NULL, "availability from a file instead: .npy [rounds, N] booleans (bool or integer 0/1), row r = who is available in round r (mod rows)"},
    {"federation.stragglers", T_DOUBLE, OFF(federation.stragglers), 0, 1, 0, 0, NULL, "chance an agent straggles in a round: it completes k steps, k uniform on 1 .. local_steps-1, and sends what it has"},
    {"federation.delay", T_INT, OFF(federation.delay), 0, 255, 0, 0, NULL, "stale representation: every agent starts its round from the Phi of this many rounds ago"},
    {"federation.max_delay", T_INT, OFF(federation.max_delay), 0, 255, 0, 0, NULL, "stale representation: each agent's delay drawn each round, uniform on 0 .. max_delay (instead of federation.delay)"},
    {"federation.stale_decay", T_DOUBLE, OFF(federation.stale_decay), 0, 1, 1, 0, NULL, "a Phi change computed from a Phi a rounds old is weighted stale_decay^a before it is added to the current Phi"},
    {"federation.clip", T_DOUBLE, OFF(federation.clip), 0, 1e300, 0, 0, NULL, "private aggregation: each agent's Phi change clipped to this L2 norm; 0 = not clipped"},
    {"federation.noise_multiplier", T_DOUBLE, OFF(federation.noise_multiplier), 0, 1e6, 0, 0, NULL, "private aggregation: Gaussian noise of std noise_multiplier * clip added to the sum of the clipped changes (needs federation.clip)"},
    {"federation.dp_denominator", T_ENUM, OFF(federation.dp_denominator), 0, 0, 0, 0, DP_DENOMINATORS, "private aggregation: the noisy sum divided by the expected participant count, participation x agents (the fixed denominator the privacy accounting covers), or by the round's participants (their count then leaks, and the accounting does not cover it)"},
    {"federation.delta", T_DOUBLE, OFF(federation.delta), 0, 1, 1, 1, NULL, "private aggregation: the delta at which the privacy spent (epsilon) is reported"},
    {"dqn.hidden", T_WIDTHS, OFF(dqn.hidden), 1, 4096, 0, 0, NULL, "cartpole/acrobot: the shared body's hidden layers: one width for each of dqn.hidden_layers layers, or a list of widths, one per hidden layer (e.g. [128, 64])"},
    {"dqn.hidden_layers", T_INT, OFF(dqn.hidden_layers), 0, 7, 0, 0, NULL, "cartpole/acrobot: hidden layers of the body before its output layer of dim features (0: one layer, observation -> dim), each dqn.hidden wide; with a list in dqn.hidden, its length (leave this at 1)"},
    {"dqn.activation", T_ENUM, OFF(dqn.activation), 0, 0, 0, 0, ACTIVATIONS, "cartpole/acrobot: the activation after every layer of the body (its features included)"},
    {"dqn.buffer", T_INT, OFF(dqn.buffer), 1, 10000000, 0, 0, NULL, "cartpole/acrobot: transitions each agent's replay buffer holds (the oldest overwritten)"},
    {"dqn.batch", T_INT, OFF(dqn.batch), 1, 1024, 0, 0, NULL, "cartpole/acrobot: transitions per minibatch, drawn uniformly with replacement (at most dqn.buffer)"},
    {"dqn.grad_steps", T_INT, OFF(dqn.grad_steps), 0, 64, 0, 0, NULL, "cartpole/acrobot: gradient steps after each environment step (0: no learning)"},
    {"dqn.learn_start", T_INT, OFF(dqn.learn_start), 1, 10000000, 0, 0, NULL, "cartpole/acrobot: transitions in the buffer before the first gradient step (at most dqn.buffer)"},
    {"dqn.target_every", T_INT, OFF(dqn.target_every), 1, 1000000000, 0, 0, NULL, "cartpole/acrobot: gradient steps between copies of the online network into the target network"},
    {"dqn.lr", T_DOUBLE, OFF(dqn.lr), 0, 1e3, 1, 0, NULL, "cartpole/acrobot: the optimizer's step size"},
    {"dqn.optimizer", T_ENUM, OFF(dqn.optimizer), 0, 0, 0, 0, OPTIMIZERS, "cartpole/acrobot: adam (beta 0.9, 0.999, eps 1e-8, moments per agent) or sgd"},
    {"dqn.loss", T_ENUM, OFF(dqn.loss), 0, 0, 0, 0, LOSSES, "cartpole/acrobot: the TD loss, huber (delta 1) or mse (half the squared error)"},
    {"dqn.epsilon", T_DOUBLE, OFF(dqn.epsilon), 0, 1, 0, 0, NULL, "cartpole/acrobot: exploration before the first gradient step"},
    {"dqn.epsilon_end", T_DOUBLE, OFF(dqn.epsilon_end), 0, 1, 0, 0, NULL, "cartpole/acrobot: exploration never falls below this"},
    {"dqn.epsilon_decay", T_DOUBLE, OFF(dqn.epsilon_decay), 0, 1, 1, 0, NULL, "cartpole/acrobot: exploration multiplied by this at each gradient step"},
    {"dqn.average_moments", T_BOOL, OFF(dqn.average_moments), 0, 1, 0, 0, NULL, "cartpole/acrobot: the server also averages the participants' Adam moments of what it averages (the body; fedavg_dqn: the head too) and sends them back with it; else each agent keeps its own"},
    {"dqn.reset_optimizer", T_BOOL, OFF(dqn.reset_optimizer), 0, 1, 0, 0, NULL, "cartpole/acrobot: reset each agent's Adam moments and step count when a round starts (the averaged network starts afresh); else they carry over"},
    {"dqn.cap_is_terminal", T_BOOL, OFF(dqn.cap_is_terminal), 0, 1, 0, 0, NULL, "cartpole/acrobot: count the 500-step time limit as termination (no bootstrap), the older rule; else a cut episode bootstraps"},
    {"dqn.eval_episodes", T_INT, OFF(dqn.eval_episodes), 1, 1000, 0, 0, NULL, "cartpole/acrobot: greedy episodes per agent at each evaluation"},
    {"dqn.success_return", T_DOUBLE, OFF(dqn.success_return), -1e6, 1e6, 0, 0, NULL, "cartpole/acrobot: the mean greedy return at which an agent counts as solving its task (success_rate); 0 = the family's (CartPole 475, Acrobot -100)"},
    {"dqn.init_body", T_PATH, OFF(dqn.init_body), 0, 0, 0, 0, NULL, "cartpole/acrobot: start every agent's body from this .npy of the body's parameters (a previous run's body.npy, [P]) instead of a drawn one"},
    {"dqn.freeze_body", T_BOOL, OFF(dqn.freeze_body), 0, 1, 0, 0, NULL, "cartpole/acrobot: keep the body as it starts (with dqn.init_body: a trained representation for new agents); only the heads learn"},
    {"orthonormalize", T_BOOL, OFF(orthonormalize), 0, 1, 0, 0, NULL, "orthonormalize Phi after each aggregation (Phi^T Phi = (S/d) I)"},
    {"backend", T_ENUM, OFF(backend), 0, 0, 0, 0, BACKENDS, "engine: cpu, cuda, or auto (the CUDA engine when this build has it and a GPU is found, else the CPU engine)"},
    {"cuda_kernel", T_ENUM, OFF(cuda_kernel), 0, 0, 0, 0, CUDA_KERNELS, "CUDA local-step kernel: thread (a thread per agent), warp (a warp per agent), auto (thread: faster at every dim measured); same results"},
    {"cuda_max_chunk", T_INT64, OFF(cuda_max_chunk), 0, 1e12, 0, 0, NULL, "CUDA engine: at most this many agents per chunk (rounded up to 256; caps device memory); 0 = as many as fit"},
    {"cuda_graph", T_BOOL, OFF(cuda_graph), 0, 1, 0, 0, NULL, "CUDA engine: capture a round once as a CUDA graph and replay it (rounds where every agent takes part); same results"},
    {"threads", T_INT, OFF(threads), 0, 4096, 0, 0, NULL, "CPU engine threads; 0 = all cores"},
    {"cpu_kernel", T_ENUM, OFF(cpu_kernel), 0, 0, 0, 0, CPU_KERNELS, "CPU engine kernel: avx512, avx2 or portable (16 agents at once; portable: NEON on ARM64), per_agent (one at a time, vectorized along dim), scalar, auto (avx512, else avx2, else per_agent); same results. cartpole/acrobot: the minibatch step's vectors, avx512, avx2, portable or auto (the widest the CPU has); same results"},
};
/* clang-format on */

#define NKEYS (sizeof KEYS / sizeof KEYS[0])

void pfr_config_init(pfr_config *c)
{
    memset(c, 0, sizeof *c);
    c->env.kind = PFR_ENV_CLIFFWALK;
    c->env.types = 0;
    c->env.seed = 1;
    c->env.actions = 4;
    c->env.branching = 3;
    c->env.perturbation = 0.2;
    c->env.epsilon = 0.1;
    c->env.slip_min = 0.0;
    c->env.slip_max = 0.3;
    c->env.wind_min = 0.0;
    c->env.wind_max = 0.0;
    c->env.reward_spread = 0.0;
    c->env.reward_scale = 1.0;
    c->env.goals = 1;
    c->env.walls = 0.0;
    c->env.starts = 0;
    c->env.wind_direction = PFR_WIND_NORTH;
    c->env.layout = PFR_LAYOUT_PER_TYPE;
    c->agents = 1024;
    c->dim = 8;
    c->rounds = 200;
    c->local_steps = 10;
    c->alpha = 0.1;
    c->beta = 0.05;
    c->gamma = 0.9;
    c->schedule.tau = 1000.0;
    c->schedule.a = 0.0;
    c->schedule.b = 0.0;
    c->algorithm = PFR_ALG_PFEDTD_REP;
    c->seed = 0;
    c->eval_every = 10;
    c->checkpoint_every = 0;
    c->participation = 1.0;
    c->control.kind = PFR_CONTROL_NONE;
    c->control.epsilon = 0.1;
    c->control.epsilon_end = 0.1;
    c->control.policy_agents = 8;
    c->federation.p_return = 1.0;
    c->federation.stale_decay = 1.0;
    c->federation.delta = 1e-5;
    c->orthonormalize = 0;
    c->backend = PFR_BACKEND_AUTO;
    c->cuda_kernel = PFR_CUDA_KERNEL_AUTO;
    c->threads = 0;
    c->dqn.hidden = (pfr_widths){1, {64}};
    c->dqn.hidden_layers = 1;
    c->dqn.activation = 0; /* relu */
    c->dqn.buffer = 1000;
    c->dqn.batch = 16;
    c->dqn.grad_steps = 1;
    c->dqn.learn_start = 100;
    c->dqn.target_every = 10;
    c->dqn.lr = 1e-3;
    c->dqn.loss = PFR_DQN_MSE; /* Huber with Adam and a target synced every 10 steps diverged in 3 of 3 seeds */
    c->dqn.epsilon = 1.0;
    c->dqn.epsilon_end = 0.05;
    c->dqn.epsilon_decay = 0.999;
    c->dqn.eval_episodes = 5;
}

size_t pfr_config_key_count(void) { return NKEYS; }
const char *pfr_config_key_name(size_t i) { return i < NKEYS ? KEYS[i].name : NULL; }
const char *pfr_config_key_help(size_t i) { return i < NKEYS ? KEYS[i].help : NULL; }
int pfr_config_key_is_text(size_t i) { return i < NKEYS && (KEYS[i].type == T_ENUM || KEYS[i].type == T_PATH); }

int pfr_config_key_is_list(const char *key)
{
    const int i = pfr_config_find(key);
    return i >= 0 && KEYS[i].type == T_WIDTHS;
}

int pfr_config_key_is_path(const char *key)
{
    const int i = pfr_config_find(key);
    return i >= 0 && KEYS[i].type == T_PATH;
}

int pfr_path_absolute(const char *path, const char *base, char *out, size_t n)
{
    char cwd[PFR_PATH_MAX];
    if (path[0] == '/') {
        if (strlen(path) >= n)
            return errno = ENAMETOOLONG, -1;
        memcpy(out, path, strlen(path) + 1);
        return 0;
    }
    if (!base && !(base = getcwd(cwd, sizeof cwd)))
        return -1;
    while (path[0] == '.' && path[1] == '/')
        for (path += 2; path[0] == '/'; ++path) {
        }
    const size_t bl = strlen(base);
    const int slash = bl > 0 && base[bl - 1] == '/';
    const int len = snprintf(out, n, "%s%s%s", base, slash ? "" : "/", path[0] ? path : ".");
    if (len < 0 || (size_t)len >= n)
        return errno = ENAMETOOLONG, -1;
    return 0;
}

int pfr_config_find(const char *key)
{
    for (size_t i = 0; i < NKEYS; ++i)
        if (strcmp(KEYS[i].name, key) == 0)
            return (int)i;
    return -1;
}

static const char *enum_name(const char *const *names, int v)
{
    for (int i = 0; names[i]; ++i)
        if (i == v)
            return names[i];
    return "?";
}

const char *pfr_algorithm_name(pfr_algorithm a) { return enum_name(ALGORITHMS, (int)a); }
const char *pfr_env_kind_name(pfr_env_kind k) { return enum_name(ENV_KINDS, (int)k); }
const char *pfr_backend_name(pfr_backend b) { return enum_name(BACKENDS, (int)b); }
const char *pfr_control_name(pfr_control c) { return enum_name(CONTROLS, (int)c); }
const char *pfr_cuda_kernel_name(pfr_cuda_kernel k) { return enum_name(CUDA_KERNELS, (int)k); }
const char *pfr_cpu_kernel_name(pfr_cpu_kernel k) { return enum_name(CPU_KERNELS, (int)k); }
int pfr_algorithm_count(void) { return (int)(sizeof ALGORITHMS / sizeof ALGORITHMS[0]) - 1; }
int pfr_env_kind_count(void) { return (int)(sizeof ENV_KINDS / sizeof ENV_KINDS[0]) - 1; }

static void describe_allowed(const key_def *k, char *buf, size_t n);
void pfr_config_key_allowed(size_t i, char *buf, size_t n)
{
    if (i < NKEYS)
        describe_allowed(&KEYS[i], buf, n);
    else if (n)
        buf[0] = '\0';
}

static void describe_allowed(const key_def *k, char *buf, size_t n)
{
    switch (k->type) {
    case T_ENUM: {
        size_t used = (size_t)snprintf(buf, n, "one of");
        for (int i = 0; k->enum_names[i] && used < n; ++i)
            used += (size_t)snprintf(buf + used, n - used, "%s %s", i ? "," : "", k->enum_names[i]);
        break;
    }
    case T_BOOL:
        snprintf(buf, n, "true or false");
        break;
    case T_PATH:
        snprintf(buf, n, "a file path (at most %d characters; a relative one is taken against the config file's "
                 "folder, or set alone, the current directory)", PFR_PATH_MAX - 1);
        break;
    case T_UINT64:
        snprintf(buf, n, "an integer in [0, 18446744073709551615]");
        break;
    case T_INT:
    case T_INT64:
        snprintf(buf, n, "an integer in [%.0f, %.0f]", k->min, k->max);
        break;
    case T_WIDTHS:
        snprintf(buf, n, "a width in [%.0f, %.0f], or a list of 1 to %d of them ([w1, w2, ...] or w1,w2,...)", k->min,
                 k->max, PFR_WIDTHS_MAX);
        break;
    case T_DOUBLE:
        if (k->max >= 1e300)
            snprintf(buf, n, "a number %s %g", k->min_open ? ">" : ">=", k->min);
        else
            snprintf(buf, n, "a number in %c%g, %g%c", k->min_open ? '(' : '[', k->min, k->max, k->max_open ? ')' : ']');
        break;
    }
}

/* Edit distance, to suggest the key the user probably meant. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; ++i)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; ++j)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; ++i)
        for (size_t j = 1; j <= lb; ++j) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int x = d[i - 1][j] + 1, y = d[i][j - 1] + 1;
            d[i][j] = c < x ? (c < y ? c : y) : (x < y ? x : y);
        }
    return d[la][lb];
}

static pfr_status unknown_key(const char *key, pfr_error *err)
{
    /* a section given a value (`env: cliffwalk`, `--set env=...`): name its keys */
    const size_t kl = strlen(key);
    char keys[600] = "";
    size_t used = 0;
    const char *first = NULL;
    for (size_t i = 0; i < NKEYS && used < sizeof keys; ++i)
        if (strncmp(KEYS[i].name, key, kl) == 0 && KEYS[i].name[kl] == '.') {
            used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%s", first ? ", " : "", KEYS[i].name);
            first = first ? first : KEYS[i].name;
        }
    if (first)
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "'%s' is a section, not a key; set one of its keys (%s): e.g. --set %s=..., or in YAML "
                        "%s: {%s: ...}",
                        key, keys, first, key, first + kl + 1);
    int best = -1, bestd = 4;
    for (size_t i = 0; i < NKEYS; ++i) {
        int dd = edit_distance(key, KEYS[i].name);
        if (dd < bestd) {
            bestd = dd;
            best = (int)i;
        }
    }
    if (best >= 0)
        return pfr_fail(err, PFR_ERR_CONFIG, "unknown key '%s' (did you mean '%s'?); `pfedrl --help` lists every key", key,
                        KEYS[best].name);
    return pfr_fail(err, PFR_ERR_CONFIG, "unknown key '%s'; `pfedrl --help` lists every key", key);
}

/* Numbers, one rule for every key, in YAML and --set alike (README, "Config keys"): decimal only.
 * Integers: digits with an optional sign ("010" is ten), or a whole number in decimal exponent form
 * ("1e6"); values above 2^53 must be written in digits. Floats: decimal, with an optional exponent.
 * No hexadecimal, no octal, no inf or nan, nothing after the number but spaces. */
static const char *trim_start(const char *s)
{
    while (isspace((unsigned char)*s))
        ++s;
    return s;
}

static int only_decimal_chars(const char *s)
{
    for (; *s; ++s)
        if (!isdigit((unsigned char)*s) && !strchr(".eE+- \t", *s))
            return 0;
    return 1;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    s = trim_start(s);
    if (!*s || !only_decimal_chars(s))
        return 0;
    errno = 0;
    double v = strtod(s, &end);
    end = (char *)trim_start(end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* An integer by the rule above: *neg and the magnitude *mag. Returns 1, or why not: INT_NAN (not a
 * number), INT_FRACTION (a number, not whole), INT_RANGE (beyond uint64, or exponent form >= 2^53). */
enum { INT_NAN = 0, INT_FRACTION = -1, INT_RANGE = -2 };
static int parse_integer(const char *s, int *neg, uint64_t *mag)
{
    s = trim_start(s);
    const char *p = s;
    *neg = 0;
    if (*p == '+' || *p == '-')
        *neg = *p++ == '-';
    if (isdigit((unsigned char)*p)) { /* plain digits: exact in the whole uint64 range */
        uint64_t v = 0;
        int over = 0;
        const char *q = p;
        while (isdigit((unsigned char)*q)) {
            over |= v > (UINT64_MAX - (uint64_t)(*q - '0')) / 10;
            v = v * 10 + (uint64_t)(*q++ - '0');
        }
        if (!*trim_start(q)) {
            *mag = v;
            return over ? INT_RANGE : 1;
        }
    }
    double d; /* exponent form, exact below 2^53 */
    if (!parse_double(s, &d))
        return INT_NAN;
    if (d != floor(d))
        return INT_FRACTION;
    if (fabs(d) >= 9007199254740992.0)
        return INT_RANGE;
    *neg = d < 0;
    *mag = (uint64_t)fabs(d);
    return 1;
}

/* The value as a message shows it: printable, and cut to 60 characters (with its length) so the
 * rest of the message (what is allowed) always fits. */
static const char *shown(const char *value, char *buf, size_t n)
{
    const size_t len = strlen(value), keep = len > 60 ? 60 : len;
    size_t o = 0;
    for (size_t i = 0; i < keep && o + 1 < n; ++i)
        buf[o++] = isprint((unsigned char)value[i]) ? value[i] : '?';
    buf[o] = '\0';
    if (len > keep)
        snprintf(buf + o, n - o, "... (%zu characters)", len);
    return buf;
}

/* A list of widths: "64", "[128, 64]" or "128,64"; each a whole number in the key's range. */
static pfr_status set_widths(const char *key, const char *value, const key_def *k, pfr_widths *out, const char *v,
                             const char *allowed, pfr_error *err)
{
    char text[256];
    const size_t len = strlen(value);
    if (len >= sizeof text)
        return pfr_fail(err, PFR_ERR_CONFIG, "%s: '%s' is too long; allowed: %s", key, v, allowed);
    memcpy(text, value, len + 1);
    char *s = text, *end = text + len;
    while (isspace((unsigned char)*s))
        ++s;
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    const int bracket = *s == '[';
    if (bracket != (end > s && end[-1] == ']'))
        return pfr_fail(err, PFR_ERR_CONFIG, "%s: '%s' has an unmatched bracket; allowed: %s", key, v, allowed);
    if (bracket)
        ++s, *--end = '\0';
    pfr_widths w = {0, {0}};
    for (char *item = s;; ++item) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        int neg;
        uint64_t mag = 0;
        if (w.n == PFR_WIDTHS_MAX)
            return pfr_fail(err, PFR_ERR_CONFIG, "%s: '%s' has more than %d widths; allowed: %s", key, v,
                            PFR_WIDTHS_MAX, allowed);
        if (parse_integer(item, &neg, &mag) != 1 || neg || (double)mag < k->min || (double)mag > k->max)
            return pfr_fail(err, PFR_ERR_CONFIG, "%s: '%s' is not a width in [%.0f, %.0f]%s; allowed: %s", key, v,
                            k->min, k->max, w.n || comma ? " at every place" : "", allowed);
        w.w[w.n++] = (int)mag;
        if (!comma)
            break;
        item = comma;
    }
    *out = w;
    return PFR_OK;
}

pfr_status pfr_config_set(pfr_config *cfg, const char *key, const char *value, pfr_error *err)
{
    if (!cfg || !key || !value)
        return pfr_fail(err, PFR_ERR_INVALID_ARGUMENT, "pfr_config_set: NULL argument");
    int idx = pfr_config_find(key);
    if (idx < 0)
        return unknown_key(key, err);
    const key_def *k = &KEYS[idx];
    char *field = (char *)cfg + k->offset;
    char allowed[256], v[128];
    describe_allowed(k, allowed, sizeof allowed);
    shown(value, v, sizeof v);

    switch (k->type) {
    case T_ENUM: {
        for (int i = 0; k->enum_names[i]; ++i)
            if (strcmp(value, k->enum_names[i]) == 0) {
                *(int *)field = i;
                return PFR_OK;
            }
        return pfr_fail(err, PFR_ERR_CONFIG, "%s: '%s' is not allowed; allowed: %s", key, v, allowed);
    }
    case T_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
        for (int i = 0; i < 4; ++i) {
            if (strcasecmp(value, yes[i]) == 0) {
                *(int *)field = 1;
                return PFR_OK;
            }
            if (strcasecmp(value, no[i]) == 0) {
                *(int *)field = 0;
                return PFR_OK;
            }
        }
        return pfr_fail(err, PFR_ERR_CONFIG, "%s: '%s' is not a boolean; allowed: %s", key, v, allowed);
    }
    case T_PATH: { /* "" clears the path; a relative one is taken against the current directory */
        char abs[PFR_PATH_MAX];
        if (value[0] && pfr_path_absolute(value, NULL, abs, sizeof abs) != 0) {
            if (errno == ENAMETOOLONG)
                return pfr_fail(err, PFR_ERR_CONFIG, "%s: '%s' is too long%s; allowed: %s", key, v,
                                value[0] == '/' ? "" : " once made absolute", allowed);
            return pfr_fail(err, PFR_ERR_CONFIG, "%s: '%s' is relative and the current directory is unknown (%s); "
                            "allowed: an absolute path", key, v, strerror(errno));
        }
        memcpy(field, value[0] ? abs : "", value[0] ? strlen(abs) + 1 : 1);
        return PFR_OK;
    }
    case T_UINT64:
    case T_INT:
    case T_INT64: {
        int neg;
        uint64_t mag = 0;
        const int got = parse_integer(value, &neg, &mag);
        if (got == INT_RANGE)
            return pfr_fail(err, PFR_ERR_CONFIG, "%s: %s is out of range%s; allowed: %s", key, v,
                            strpbrk(value, "eE") ? " (exponent form only below 2^53: write the digits)" : "", allowed);
        if (got != 1)
            return pfr_fail(err, PFR_ERR_CONFIG, "%s: '%s' is not %s; allowed: %s", key, v,
                            got == INT_FRACTION ? "an integer" : "a number", allowed);
        if (k->type == T_UINT64) {
            if (neg && mag > 0)
                return pfr_fail(err, PFR_ERR_CONFIG, "%s: %s is out of range; allowed: %s", key, v, allowed);
            *(uint64_t *)field = mag;
            return PFR_OK;
        }
        const double dv = neg ? -(double)mag : (double)mag;
        if (mag > (uint64_t)INT64_MAX || dv < k->min || dv > k->max)
            return pfr_fail(err, PFR_ERR_CONFIG, "%s: %s is out of range; allowed: %s", key, v, allowed);
        const int64_t iv = neg ? -(int64_t)mag : (int64_t)mag;
        if (k->type == T_INT)
            *(int *)field = (int)iv;
        else
            *(int64_t *)field = iv;
        return PFR_OK;
    }
    case T_WIDTHS:
        return set_widths(key, value, k, (pfr_widths *)field, v, allowed, err);
    case T_DOUBLE: {
        double dv;
        if (!parse_double(value, &dv))
            return pfr_fail(err, PFR_ERR_CONFIG, "%s: '%s' is not a number; allowed: %s", key, v, allowed);
        int below = k->min_open ? !(dv > k->min) : !(dv >= k->min);
        int above = k->max_open ? !(dv < k->max) : !(dv <= k->max);
        if (below || above)
            return pfr_fail(err, PFR_ERR_CONFIG, "%s: %s is out of range; allowed: %s", key, v, allowed);
        *(double *)field = dv;
        return PFR_OK;
    }
    }
    return pfr_fail(err, PFR_ERR_INTERNAL, "%s: unhandled key type", key);
}

void pfr_config_key_value(const pfr_config *cfg, size_t i, char *buf, size_t n)
{
    if (i >= NKEYS || !buf || n == 0)
        return;
    const key_def *k = &KEYS[i];
    const char *field = (const char *)cfg + k->offset;
    switch (k->type) {
    case T_ENUM:
        snprintf(buf, n, "%s", enum_name(k->enum_names, *(const int *)field));
        break;
    case T_BOOL:
        snprintf(buf, n, "%s", *(const int *)field ? "true" : "false");
        break;
    case T_PATH:
        snprintf(buf, n, "%s", field);
        break;
    case T_UINT64:
        snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)field);
        break;
    case T_INT:
        snprintf(buf, n, "%d", *(const int *)field);
        break;
    case T_INT64:
        snprintf(buf, n, "%lld", (long long)*(const int64_t *)field);
        break;
    case T_WIDTHS: { /* one width as a number (as before lists), else a YAML and JSON list */
        const pfr_widths *w = (const pfr_widths *)field;
        if (w->n == 1) {
            snprintf(buf, n, "%d", w->w[0]);
            break;
        }
        size_t used = (size_t)snprintf(buf, n, "[");
        for (int l = 0; l < w->n && used < n; ++l)
            used += (size_t)snprintf(buf + used, n - used, "%s%d%s", l ? ", " : "", w->w[l], l + 1 == w->n ? "]" : "");
        break;
    }
    case T_DOUBLE: { /* the shortest text that reads back as the same double */
        const double v = *(const double *)field;
        for (int digits = 15; digits <= 17; ++digits) {
            snprintf(buf, n, "%.*g", digits, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        break;
    }
    }
}
