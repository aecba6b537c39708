/*
 * config_check.c — what a config may combine, beyond each key's own range (config.c checks those):
 * the environment keys a family reads, the federation mechanisms an algorithm allows, and
 * pfr_config_validate, which re-checks every field of a config struct filled by hand.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The environment keys that only some families read: giving one another family ignores is an
 * error (a value other than its default), so a config never says what a run does not do. */
#define FAM(k) (1u << (k))
#define GRIDS (FAM(PFR_ENV_CLIFFWALK) | FAM(PFR_ENV_GRIDWORLD))
#define GENERATED (GRIDS | FAM(PFR_ENV_GARNET) | FAM(PFR_ENV_RANDOMWALK))
#define CHAINS (GENERATED | FAM(PFR_ENV_FILE)) /* the linear instances' Markov chains */
#define NEURAL (FAM(PFR_ENV_CARTPOLE) | FAM(PFR_ENV_ACROBOT)) /* PFedDQN-Rep's environments */
static const struct {
    const char *key;
    unsigned families;
} FAMILY_KEYS[] = {
    {"env.width", GRIDS},
    {"env.height", GRIDS},
    {"env.states", FAM(PFR_ENV_GARNET) | FAM(PFR_ENV_RANDOMWALK)},
    {"env.actions", FAM(PFR_ENV_GARNET)},
    {"env.branching", FAM(PFR_ENV_GARNET)},
    {"env.perturbation", FAM(PFR_ENV_GARNET)},
    {"env.epsilon", GRIDS},
    {"env.slip_min", GRIDS},
    {"env.slip_max", GRIDS},
    {"env.wind_min", GRIDS},
    {"env.wind_max", GRIDS},
    {"env.goals", FAM(PFR_ENV_GRIDWORLD)},
    {"env.walls", FAM(PFR_ENV_GRIDWORLD)},
    {"env.starts", FAM(PFR_ENV_GRIDWORLD)},
    {"env.wind_direction", FAM(PFR_ENV_GRIDWORLD)},
    {"env.layout", FAM(PFR_ENV_GRIDWORLD)},
    {"env.reward_spread", GENERATED},
    {"env.reward_scale", GENERATED},
    {"env.param_min", NEURAL},
    {"env.param_max", NEURAL},
    {"env.param_file", NEURAL},
    {"init_phi", CHAINS},
    {"alpha", CHAINS},
    {"beta", CHAINS},
    {"schedule.tau", CHAINS},
    {"schedule.a", CHAINS},
    {"schedule.b", CHAINS},
    {"control.kind", CHAINS},
    {"control.epsilon", CHAINS},
    {"control.epsilon_end", CHAINS},
    {"control.epsilon_steps", CHAINS},
    {"control.policy_agents", CHAINS},
    {"federation.p_drop", CHAINS},
    {"federation.p_return", CHAINS},
    {"federation.availability_trace", CHAINS},
    {"federation.stragglers", CHAINS},
    {"federation.delay", CHAINS},
    {"federation.max_delay", CHAINS},
    {"federation.stale_decay", CHAINS},
    {"federation.clip", CHAINS},
    {"federation.noise_multiplier", CHAINS},
    {"federation.dp_denominator", CHAINS},
    {"federation.delta", CHAINS},
    {"orthonormalize", CHAINS},
    {"cuda_kernel", CHAINS},
    {"cuda_max_chunk", CHAINS},
    {"cuda_graph", CHAINS},
    {"dqn.hidden", NEURAL},
    {"dqn.hidden_layers", NEURAL},
    {"dqn.activation", NEURAL},
    {"dqn.buffer", NEURAL},
    {"dqn.batch", NEURAL},
    {"dqn.grad_steps", NEURAL},
    {"dqn.learn_start", NEURAL},
    {"dqn.target_every", NEURAL},
    {"dqn.lr", NEURAL},
    {"dqn.optimizer", NEURAL},
    {"dqn.loss", NEURAL},
    {"dqn.epsilon", NEURAL},
    {"dqn.epsilon_end", NEURAL},
    {"dqn.epsilon_decay", NEURAL},
    {"dqn.reset_optimizer", NEURAL},
    {"dqn.average_moments", NEURAL},
    {"dqn.cap_is_terminal", NEURAL},
    {"dqn.eval_episodes", NEURAL},
    {"dqn.success_return", NEURAL},
    {"dqn.init_body", NEURAL},
    {"dqn.freeze_body", NEURAL},
};

int pfr_config_key_applies(const pfr_config *cfg, size_t i)
{
    if (!cfg || i >= pfr_config_key_count())
        return 0;
    for (size_t f = 0; f < sizeof FAMILY_KEYS / sizeof FAMILY_KEYS[0]; ++f)
        if (pfr_config_find(FAMILY_KEYS[f].key) == (int)i)
            return (FAMILY_KEYS[f].families & FAM(cfg->env.kind)) != 0;
    return 1;
}

static pfr_status check_family_keys(const pfr_config *c, pfr_error *err)
{
    pfr_config def;
    pfr_config_init(&def);
    for (size_t f = 0; f < sizeof FAMILY_KEYS / sizeof FAMILY_KEYS[0]; ++f) {
        if (FAMILY_KEYS[f].families & FAM(c->env.kind))
            continue;
        const int i = pfr_config_find(FAMILY_KEYS[f].key);
        char v[64], dv[64], fams[96] = "";
        pfr_config_key_value(c, (size_t)i, v, sizeof v);
        pfr_config_key_value(&def, (size_t)i, dv, sizeof dv);
        if (strcmp(v, dv) == 0)
            continue;
        for (int k = 0; k < pfr_env_kind_count(); ++k)
            if (FAMILY_KEYS[f].families & FAM(k))
                snprintf(fams + strlen(fams), sizeof fams - strlen(fams), "%s%s", fams[0] ? ", " : "", pfr_env_kind_name((pfr_env_kind)k));
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "%s=%s does nothing with env.kind=%s; allowed: it applies to env.kind %s only (leave it out)",
                        FAMILY_KEYS[f].key, v, pfr_env_kind_name(c->env.kind), fams);
    }
    return PFR_OK;
}

void pfr_config_resolve(pfr_config *c)
{
    if (c->env.kind == PFR_ENV_CARTPOLE || c->env.kind == PFR_ENV_ACROBOT) { /* the family's defaults */
        const int cart = c->env.kind == PFR_ENV_CARTPOLE;
        if (c->env.param_min == 0.0 && c->env.param_max == 0.0) {
            c->env.param_min = cart ? 0.1 : 0.5; /* Jin et al. 2022: half-length 0.1 + 0.8 p, mass 0.5 + p */
            c->env.param_max = cart ? 0.9 : 1.5;
        }
        if (c->dqn.success_return == 0.0)
            c->dqn.success_return = cart ? 475.0 : -100.0;
    }
    if (pfr_algorithm_traits(c->algorithm).tabular) { /* the table is the representation */
        c->dim = 1;
        c->orthonormalize = 0;
    }
}

/* The federation keys together (federation.c reads them): what combines and what the algorithm allows. */
/* The algorithms whose traits pass `want` (avg_phi && learn_phi, ...), "a, b, c", for messages. */
static const char *algorithms_where(int (*want)(pfr_alg_traits), char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int a = 0; a < pfr_algorithm_count() && used < n; ++a)
        if (want(pfr_algorithm_traits((pfr_algorithm)a)))
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", pfr_algorithm_name((pfr_algorithm)a));
    return buf;
}
static int shares_learned_phi(pfr_alg_traits t) { return t.avg_phi && t.learn_phi && !t.neural; }
static int shares_phi_alone(pfr_alg_traits t) { return t.avg_phi && t.learn_phi && !t.avg_theta && !t.neural; }
static int is_neural(pfr_alg_traits t) { return t.neural; }
static int is_linear(pfr_alg_traits t) { return !t.neural; }

/* The neural instance's keys together: the algorithm matches the family, the sizes fit. */
static pfr_status check_neural(const pfr_config *c, pfr_error *err)
{
    const int neural_env = (NEURAL & FAM(c->env.kind)) != 0;
    const pfr_alg_traits tr = pfr_algorithm_traits(c->algorithm);
    char with[200];
    if (neural_env && !tr.neural)
        return pfr_fail(err, PFR_ERR_CONFIG, "algorithm=%s learns linear values on Markov chains; with env.kind=%s allowed: %s",
                        pfr_algorithm_name(c->algorithm), pfr_env_kind_name(c->env.kind),
                        algorithms_where(is_neural, with, sizeof with));
    if (!neural_env && tr.neural)
        return pfr_fail(err, PFR_ERR_CONFIG, "algorithm=%s needs env.kind cartpole or acrobot (env.kind is %s); with it "
                        "allowed: %s", pfr_algorithm_name(c->algorithm), pfr_env_kind_name(c->env.kind),
                        algorithms_where(is_linear, with, sizeof with));
    if (!neural_env)
        return PFR_OK;
    const pfr_dqn_config *q = &c->dqn;
    if (q->batch > q->buffer)
        return pfr_fail(err, PFR_ERR_CONFIG, "dqn.batch = %d exceeds dqn.buffer = %d; allowed: a batch of at most the buffer",
                        q->batch, q->buffer);
    if (q->learn_start > q->buffer)
        return pfr_fail(err, PFR_ERR_CONFIG, "dqn.learn_start = %d exceeds dqn.buffer = %d; allowed: at most the buffer "
                        "(it would never start)", q->learn_start, q->buffer);
    if (q->hidden.n > 1 && q->hidden_layers != 1 && q->hidden_layers != q->hidden.n)
        return pfr_fail(err, PFR_ERR_CONFIG, "dqn.hidden lists %d widths but dqn.hidden_layers = %d; allowed: "
                        "hidden_layers 1 (its default) or %d, or one width in dqn.hidden", q->hidden.n,
                        q->hidden_layers, q->hidden.n);
    if (q->average_moments && q->reset_optimizer)
        return pfr_fail(err, PFR_ERR_CONFIG, "dqn.average_moments and dqn.reset_optimizer together: averaged moments "
                        "would be reset before they are used; allowed: one of them");
    if (q->average_moments && q->optimizer != PFR_DQN_ADAM)
        return pfr_fail(err, PFR_ERR_CONFIG, "dqn.average_moments needs dqn.optimizer=adam (sgd keeps no moments)");
    if (q->average_moments && !tr.avg_phi)
        return pfr_fail(err, PFR_ERR_CONFIG, "dqn.average_moments with algorithm=%s: the server averages no network, "
                        "so no moments; allowed: pfeddqn_rep or fedavg_dqn", pfr_algorithm_name(c->algorithm));
    if (q->epsilon_end > q->epsilon)
        return pfr_fail(err, PFR_ERR_CONFIG, "dqn.epsilon_end (%g) exceeds dqn.epsilon (%g); allowed: epsilon_end <= epsilon",
                        q->epsilon_end, q->epsilon);
    if (c->env.param_min > c->env.param_max)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.param_min (%g) exceeds env.param_max (%g)", c->env.param_min,
                        c->env.param_max);
    if (c->env.param_max > 0.0 && c->env.param_min <= 0.0)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.param_min = %g: a length or mass must be positive; allowed: "
                        "0 < param_min <= param_max (or both 0: the family's range)", c->env.param_min);
    if (c->cpu_kernel == PFR_CPU_KERNEL_PER_AGENT || c->cpu_kernel == PFR_CPU_KERNEL_SCALAR)
        return pfr_fail(err, PFR_ERR_CONFIG, "cpu_kernel=%s is a chain step; env.kind=%s allowed: auto, avx512, avx2, "
                        "portable (the minibatch step's vectors, the same bits)", pfr_cpu_kernel_name(c->cpu_kernel),
                        pfr_env_kind_name(c->env.kind));
    return PFR_OK;
}

static pfr_status check_federation(const pfr_config *c, pfr_error *err)
{
    const pfr_federation_config *f = &c->federation;
    const pfr_alg_traits tr = pfr_algorithm_traits(c->algorithm);
    const char *alg = pfr_algorithm_name(c->algorithm);
    if (f->availability_trace[0] && (f->p_drop > 0.0 || f->p_return < 1.0))
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "federation.availability_trace and federation.p_drop/p_return both set; allowed: one of them");
    if (f->stragglers > 0.0 && c->local_steps < 2)
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "federation.stragglers = %g needs local_steps >= 2 (a straggler completes 1 .. local_steps-1 "
                        "steps); local_steps is %d",
                        f->stragglers, c->local_steps);
    if (f->delay > 0 && f->max_delay > 0)
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "federation.delay (%d) and federation.max_delay (%d) both set; allowed: a fixed delay or a "
                        "drawn one, not both",
                        f->delay, f->max_delay);
    const int shared_phi = shares_learned_phi(tr);
    char with[160];
    if ((f->delay > 0 || f->max_delay > 0 || f->stale_decay < 1.0) && !shared_phi)
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "federation.delay/max_delay/stale_decay: algorithm %s averages no learned representation; "
                        "allowed with %s",
                        alg, algorithms_where(shares_learned_phi, with, sizeof with));
    if (f->stale_decay < 1.0 && f->delay == 0 && f->max_delay == 0)
        return pfr_fail(err, PFR_ERR_CONFIG, "federation.stale_decay = %g without a delay (federation.delay or "
                        "federation.max_delay) changes nothing; set a delay or leave it at 1", f->stale_decay);
    if ((f->clip > 0.0 || f->noise_multiplier > 0.0) && !shared_phi)
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "federation.clip/noise_multiplier: algorithm %s averages no learned representation; "
                        "allowed with %s",
                        alg, algorithms_where(shares_learned_phi, with, sizeof with));
    if (f->noise_multiplier > 0.0 && f->clip <= 0.0)
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "federation.noise_multiplier = %g needs federation.clip > 0 (the noise is scaled by the clip "
                        "norm)",
                        f->noise_multiplier);
    if (f->dp_denominator != PFR_DP_EXPECTED && f->noise_multiplier <= 0.0)
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "federation.dp_denominator = participants without noise (federation.noise_multiplier) changes "
                        "nothing; set a noise multiplier or leave it at expected");
    if (f->noise_multiplier > 0.0 && tr.avg_theta)
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "federation.noise_multiplier: algorithm %s also averages theta, which the private aggregation "
                        "does not cover; allowed with %s",
                        alg, algorithms_where(shares_phi_alone, with, sizeof with));
    return PFR_OK;
}

pfr_status pfr_config_validate(const pfr_config *c, pfr_error *err)
{
    if (!c)
        return pfr_fail(err, PFR_ERR_INVALID_ARGUMENT, "pfr_config_validate: NULL config");
    /* Every field must be something pfr_config_set could have produced (the struct is public). */
    for (size_t i = 0; i < pfr_config_key_count(); ++i) {
        char v[PFR_PATH_MAX + 64];
        pfr_config tmp = *c;
        pfr_config_key_value(c, i, v, sizeof v);
        if (v[0] == '\0' && pfr_config_key_is_path(pfr_config_key_name(i)))
            continue;
        pfr_status st = pfr_config_set(&tmp, pfr_config_key_name(i), v, err);
        if (st != PFR_OK)
            return st;
    }
    if (c->env.slip_min > c->env.slip_max)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.slip_min (%g) must not exceed env.slip_max (%g)", c->env.slip_min,
                        c->env.slip_max);
    if (c->env.wind_min > c->env.wind_max)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.wind_min (%g) must not exceed env.wind_max (%g)", c->env.wind_min,
                        c->env.wind_max);
    if (c->env.slip_max + c->env.wind_max > 1.0)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.slip_max + env.wind_max = %g exceeds 1; allowed: a sum of at most 1",
                        c->env.slip_max + c->env.wind_max);
    pfr_status fst = check_family_keys(c, err);
    if (fst != PFR_OK)
        return fst;
    const int dense = c->env.p_file[0] || c->env.r_file[0];
    if (c->env.kind == PFR_ENV_FILE && !c->env.dir[0] && (!c->env.p_file[0] || !c->env.r_file[0]))
        return pfr_fail(err, PFR_ERR_CONFIG, "env.kind=file needs both env.p_file and env.r_file (dense arrays), or env.dir "
                        "(a folder of sparse rows)");
    if (c->env.kind == PFR_ENV_FILE && c->env.dir[0] && dense)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.dir and env.p_file/env.r_file are both set; allowed: one of them");
    if (c->env.kind != PFR_ENV_FILE && (dense || c->env.dir[0]))
        return pfr_fail(err, PFR_ERR_CONFIG, "env.p_file/env.r_file/env.dir are only allowed with env.kind=file (env.kind "
                        "is %s)", pfr_env_kind_name(c->env.kind));
    if (c->env.kind == PFR_ENV_GARNET && c->env.states > 0 && c->env.branching > c->env.states)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.branching (%d) exceeds env.states (%d)", c->env.branching, c->env.states);
    if (c->control.kind == PFR_CONTROL_NONE &&
        (c->control.epsilon != 0.1 || c->control.epsilon_end != 0.1 || c->control.epsilon_steps != 0))
        return pfr_fail(err, PFR_ERR_CONFIG, "control.epsilon/epsilon_end/epsilon_steps set with control.kind=none (policy "
                        "evaluation explores by env.epsilon); set control.kind to sarsa or qlearning");
    pfr_status fed = check_federation(c, err);
    if (fed != PFR_OK)
        return fed;
    pfr_status neu = check_neural(c, err);
    if (neu != PFR_OK)
        return neu;
    if (c->agents > INT32_MAX && c->algorithm == PFR_ALG_LOCAL_REP)
        return pfr_fail(err, PFR_ERR_CONFIG, "agents: %lld is too many for local_rep", (long long)c->agents);
    return PFR_OK;
}
