/*
 * neural.c — the neural instance's state and its round (neural.h): set-up from the config, each
 * participant's K environment steps with learning, then the server's ordered average.
 *
 * Same bits on any thread count: every random draw is a word of a named Philox stream
 * (pfr_constants.h: the agent's own stream for its steps, DQN_REPLAY for minibatches, DQN_RESET for
 * episode starts), an agent's round touches only its own arrays, and the average of each entry sums
 * the participants in agent order within each 256-agent block, in double, then the blocks in block
 * order (DESIGN §3's contract for Phi), times 1 / participants, rounded to float once.
 *
 * Napkin math (CartPole, widths 4 -> 64 -> 16, A = 2, batch 16): an environment step ~0.1 us, the
 * action's forward ~1.4k flops, a gradient step ~3 x 16 forwards and backwards ~0.13 Mflop: learning
 * is ~99% of a step, ~40-60 us on one core at ~2-3 Gflop/s of scalar float code. The average reads
 * N P floats once (N = 4096: 22 MB), negligible beside K steps.
 */
#include "neural.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/pool.h"
#include "dqn_steps.h"

static int family_kind(pfr_env_kind k) { return k == PFR_ENV_CARTPOLE ? PFR_CLASSIC_CARTPOLE : PFR_CLASSIC_ACROBOT; }

/* The body's widths from the config: observation, the hidden layers (dqn.hidden's list, or its one
 * width dqn.hidden_layers times), dim. */
static pfr_mlp body_shape(const pfr_config *cfg)
{
    const pfr_widths *h = &cfg->dqn.hidden;
    pfr_mlp m;
    memset(&m, 0, sizeof m);
    m.layers = (h->n > 1 ? h->n : cfg->dqn.hidden_layers) + 1;
    m.width[0] = pfr_classic_obs(family_kind(cfg->env.kind));
    for (int l = 1; l < m.layers; ++l)
        m.width[l] = h->w[h->n > 1 ? l - 1 : 0];
    m.width[m.layers] = cfg->dim;
    m.act = cfg->dqn.activation;
    return m;
}

/* Per thread: the step's scratch (pfr_dqn_step_lanes', which also holds an action's forward pass),
 * the two gradients, a minibatch's indices, two observations. */
static size_t step_floats(const pfr_mlp *m) { return pfr_dqn_step_scratch(m); }

static size_t scratch_floats(const pfr_mlp *m, int H, int batch)
{
    return step_floats(m) + (size_t)pfr_mlp_params(m) + (size_t)H + (size_t)batch + 2 * PFR_DQN_MAX_OBS;
}

double pfr_neural_bytes(const pfr_config *cfg, int threads)
{
    const pfr_mlp m = body_shape(cfg);
    const double P = pfr_mlp_params(&m), H = (double)pfr_classic_actions(family_kind(cfg->env.kind)) * cfg->dim;
    const double C = cfg->dqn.buffer, O = m.width[0];
    const double per_agent = 4.0 * (4.0 * P + 4.0 * H) + C * (8.0 * O + 4.0 + 2.0) + 8.0 * (4 + 1 + 1 + 1 + 1) +
                             4.0 * 4 + 8.0 * 3 + 1;
    return (double)cfg->agents * per_agent + 4.0 * (P + H) + 4.0 * threads * (double)scratch_floats(&m, (int)H, cfg->dqn.batch);
}

/* U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for every weight and bias (PyTorch's nn.Linear default), entry e
 * from word e mod 4 of counter e / 4 of `stream`. */
static void init_linear(float *w, int n, int fan_in, uint64_t seed, uint64_t stream, int e0)
{
    const double bound = 1.0 / sqrt((double)fan_in);
    for (int k = 0; k < n; ++k) {
        const int e = e0 + k;
        const uint32_t word = pfr_stream_words(seed, stream, (uint64_t)(e / 4)).w[e % 4];
        w[k] = (float)((2.0 * pfr_dqn_u01(word) - 1.0) * bound);
    }
}

static void init_body(const pfr_mlp *m, float *p, uint64_t seed)
{
    int e = 0;
    for (int l = 0; l < m->layers; ++l) {
        const int n = m->width[l + 1] * m->width[l] + m->width[l + 1];
        init_linear(p + e, n, m->width[l], seed, PFR_STREAM_DQN_INIT, e);
        e += n;
    }
}

/* A new episode for agent i (its episode count as the counter of DQN_RESET). */
static void start_episode(const pfr_neural *nn, const pfr_classic *env, uint64_t seed, int64_t i)
{
    pfr_dqn_start_episode(env, nn->state + (size_t)i * PFR_CLASSIC_STATE, seed, i, nn->episode[i]);
    nn->ep_t[i] = 0;
}

/* Every array the state allocates, as values: one list for allocate's check and neural_free. */
#define NEURAL_ARRAYS 30
static void neural_arrays(const pfr_neural *nn, void *a[NEURAL_ARRAYS])
{
    void *list[NEURAL_ARRAYS] = {nn->body,    nn->body_tgt, nn->body_m,   nn->body_v,    nn->head,     nn->head_tgt,
                                 nn->head_m,  nn->head_v,   nn->shared,   nn->shared_head, nn->obs,    nn->next,
                                 nn->reward,  nn->action,   nn->done,     nn->took_part, nn->rb_size,  nn->rb_head,
                                 nn->ep_t,    nn->adam_t,   nn->episode,  nn->grad,      nn->state,    nn->eps,
                                 nn->param,   nn->heldout,  nn->loss_sum, nn->loss_n,    nn->scratch,  nn->shared_mv};
    memcpy(a, list, sizeof list);
}

static void neural_free(pfr_neural *nn)
{
    if (!nn)
        return;
    pfr_pool_destroy(nn->pool);
    void *arrays[NEURAL_ARRAYS];
    neural_arrays(nn, arrays);
    for (size_t k = 0; k < NEURAL_ARRAYS; ++k)
        free(arrays[k]);
    free(nn);
}

static pfr_status allocate(pfr_neural *nn, int64_t N, int threads)
{
    const size_t n = (size_t)N, P = (size_t)nn->P, H = (size_t)nn->H, C = (size_t)nn->C, O = (size_t)nn->O;
    nn->body = calloc(n * P, 4), nn->body_tgt = calloc(n * P, 4), nn->body_m = calloc(n * P, 4);
    nn->body_v = calloc(n * P, 4), nn->head = calloc(n * H, 4), nn->head_tgt = calloc(n * H, 4);
    nn->head_m = calloc(n * H, 4), nn->head_v = calloc(n * H, 4), nn->shared = calloc(P, 4);
    nn->shared_head = calloc(H, 4), nn->obs = calloc(n * C * O, 4), nn->next = calloc(n * C * O, 4);
    nn->reward = calloc(n * C, 4), nn->action = calloc(n * C, 1), nn->done = calloc(n * C, 1);
    nn->took_part = calloc(n, 1), nn->rb_size = calloc(n, 4), nn->rb_head = calloc(n, 4), nn->ep_t = calloc(n, 4);
    nn->adam_t = calloc(n, 4), nn->episode = calloc(n, 8), nn->grad = calloc(n, 8);
    nn->state = calloc(n * PFR_CLASSIC_STATE, 8), nn->eps = calloc(n, 8), nn->param = calloc(n, 8);
    nn->heldout = calloc(n, 8);
    nn->loss_sum = calloc(n, 8), nn->loss_n = calloc(n, 8);
    nn->scratch = calloc((size_t)threads * nn->scratch_floats, 4);
    nn->shared_mv = calloc(2 * (P + H), 4);
    void *need[NEURAL_ARRAYS];
    neural_arrays(nn, need);
    for (size_t k = 0; k < NEURAL_ARRAYS; ++k)
        if (!need[k])
            return PFR_ERR_NO_MEMORY;
    return PFR_OK;
}

/* dqn.init_body: the server's first body from a .npy of exactly P values ([P] or [1, P]: body.npy). */
static pfr_status load_body(pfr_neural *nn, const char *path, pfr_error *err)
{
    pfr_npy a;
    pfr_status st = pfr_npy_load(path, &a, err);
    if (st != PFR_OK) {
        pfr_error_prefix(err, "dqn.init_body");
        return st;
    }
    const int ok = a.count == (size_t)nn->P && (a.ndim == 1 || (a.ndim == 2 && a.shape[0] == 1));
    if (ok)
        for (int k = 0; k < nn->P; ++k)
            nn->shared[k] = (float)a.data[k];
    pfr_npy_free(&a);
    if (!ok)
        return pfr_fail(err, PFR_ERR_CONFIG, "dqn.init_body %s holds %zu values; this body (widths from dqn.hidden, "
                        "dqn.hidden_layers and dim) has %d parameters; allowed: a [%d] array, e.g. the body.npy of a "
                        "run with the same network", path, a.count, nn->P, nn->P);
    return PFR_OK;
}

/* Each agent's physical parameter and its held-out one: from the environment seed's stream, in the
 * agent's bin of [lo, hi]; or env.param_file's, a .npy of N values (its own; the held-out one drawn)
 * or [N, 2] (both), every value positive and finite. */
static pfr_status agent_params(pfr_sim *sim, pfr_neural *nn, pfr_error *err)
{
    const pfr_config *cfg = &sim->cfg;
    for (int64_t i = 0; i < sim->N; ++i) {
        const pfr_words w = pfr_stream_words(cfg->env.seed, PFR_STREAM_DQN_PARAM, (uint64_t)i);
        const int m = pfr_agent_type(sim, i);
        nn->param[i] = pfr_neural_param(nn->lo, nn->hi, m, sim->M, pfr_dqn_u01(w.w[0]));
        nn->heldout[i] = pfr_neural_param(nn->lo, nn->hi, m, sim->M, pfr_dqn_u01(w.w[1]));
    }
    if (!cfg->env.param_file[0])
        return PFR_OK;
    pfr_npy a;
    pfr_status st = pfr_npy_load(cfg->env.param_file, &a, err);
    if (st != PFR_OK) {
        pfr_error_prefix(err, "env.param_file");
        return st;
    }
    const int64_t N = sim->N;
    const int pairs = a.ndim == 2 && a.shape[0] == N && a.shape[1] == 2, shape_ok = (a.ndim == 1 && a.shape[0] == N) || pairs;
    if (!shape_ok)
        st = pfr_fail(err, PFR_ERR_CONFIG, "env.param_file %s holds %zu values in %d dimension(s); allowed: [%lld] (each "
                      "agent's parameter) or [%lld, 2] (and its held-out one)", cfg->env.param_file, a.count, a.ndim,
                      (long long)N, (long long)N);
    for (size_t k = 0; st == PFR_OK && k < a.count; ++k)
        if (!(a.data[k] > 0.0) || !isfinite(a.data[k]))
            st = pfr_fail(err, PFR_ERR_CONFIG, "env.param_file %s: value %zu is %g; allowed: lengths or masses, positive "
                          "and finite", cfg->env.param_file, k, a.data[k]);
    for (int64_t i = 0; st == PFR_OK && i < N; ++i) {
        nn->param[i] = a.data[pairs ? 2 * i : i];
        if (pairs)
            nn->heldout[i] = a.data[2 * i + 1];
    }
    pfr_npy_free(&a);
    return st;
}

/* Every agent's start: the server's first body (one for all), its own head from its stream, target
 * copies, zero moments, its parameter, its first episode. */
static void start_agents(pfr_sim *sim, pfr_neural *nn)
{
    const pfr_config *cfg = &sim->cfg;
    const size_t P = (size_t)nn->P, H = (size_t)nn->H;
    init_linear(nn->shared_head, nn->H, sim->d, cfg->seed, PFR_STREAM_DQN_HEAD, 0); /* agent 0's: unused until fedavg */
    for (int64_t i = 0; i < sim->N; ++i) {
        memcpy(nn->body + (size_t)i * P, nn->shared, 4 * P);
        memcpy(nn->body_tgt + (size_t)i * P, nn->shared, 4 * P);
        init_linear(nn->head + (size_t)i * H, nn->H, sim->d, cfg->seed, PFR_STREAM_DQN_HEAD + (uint64_t)i, 0);
        memcpy(nn->head_tgt + (size_t)i * H, nn->head + (size_t)i * H, 4 * H);
        nn->eps[i] = cfg->dqn.epsilon;
        const pfr_classic env = pfr_classic_make(nn->kind, nn->param[i]);
        start_episode(nn, &env, cfg->seed, i);
    }
}

/* ---- the round ---------------------------------------------------------------------------------- */

typedef struct round_job {
    pfr_sim *sim;
    const pfr_round_plan *plan;
    int64_t next_agent; /* the next chunk of agents to take (atomic) */
    int64_t chunk;      /* agents a thread takes at once */
    uint64_t participants;
} round_job;

/* Agent i's counters and the round's rules, as the shared sequence (kernels/pfr_dqn_agent.h) takes them. */
static pfr_dqn_counters counters_of(pfr_neural *nn, int64_t i)
{
    pfr_dqn_counters ct = {nn->ep_t + i, nn->episode + i, nn->grad + i, nn->adam_t + i, nn->eps + i};
    return ct;
}

/* One gradient step of agent i on a minibatch from its buffer: pfr_dqn_step's bits, its samples in
 * lanes (dqn_lanes.h), in the CPU's widest vectors (dqn_steps.c). */
static void learn(pfr_neural *nn, int64_t i, uint64_t seed, const pfr_replay *rb, float *scr, int *idx)
{
    const size_t P = (size_t)nn->P, H = (size_t)nn->H;
    const int B = nn->dc.batch;
    for (int j = 0; j < B; j += 4)
        pfr_dqn_pick4(rb, seed, i, nn->grad[i], j, B, idx);
    float *gp = scr + step_floats(&nn->m), *gt = gp + P;
    const int t = ++nn->adam_t[i];
    nn->loss_sum[i] += nn->path->step(&nn->m, nn->A, nn->body + i * P, nn->head + i * H, nn->body_tgt + i * P,
                                    nn->head_tgt + i * H, rb, idx, &nn->dc, gp, gt, nn->body_m + i * P,
                                    nn->body_v + i * P, nn->head_m + i * H, nn->head_v + i * H, t, scr);
    nn->loss_n[i]++;
    if (pfr_dqn_after_step(&nn->rules, counters_of(nn, i))) {
        memcpy(nn->body_tgt + i * P, nn->body + i * P, 4 * P);
        memcpy(nn->head_tgt + i * H, nn->head + i * H, 4 * H);
    }
}

/* Agent i's round (the sequence of kernels/pfr_dqn_agent.h): K environment steps, each followed by
 * grad_steps gradient steps once the buffer holds learn_start transitions. Word PFR_WORD_PARTICIPATION
 * of its first step says whether it takes part at all. Returns 1 if it took part. */
static int agent_round(pfr_sim *sim, pfr_neural *nn, const pfr_round_plan *plan, int64_t i, float *scr)
{
    const uint64_t seed = sim->cfg.seed;
    const size_t P = (size_t)nn->P, H = (size_t)nn->H, C = (size_t)nn->C, O = (size_t)nn->O;
    const pfr_words first = pfr_stream_words(seed, (uint64_t)i, plan->t0);
    if ((uint64_t)first.w[PFR_WORD_PARTICIPATION] >= plan->part_threshold)
        return 0;
    if (nn->reset_optimizer) { /* the round starts Adam afresh */
        memset(nn->body_m + i * P, 0, 4 * P), memset(nn->body_v + i * P, 0, 4 * P);
        memset(nn->head_m + i * H, 0, 4 * H), memset(nn->head_v + i * H, 0, 4 * H);
        nn->adam_t[i] = 0;
    }
    pfr_replay rb = {nn->C, nn->O, nn->rb_size[i], nn->rb_head[i], nn->obs + i * C * O, nn->next + i * C * O,
                     nn->reward + i * C, nn->action + i * C, nn->done + i * C};
    const pfr_classic env = pfr_classic_make(nn->kind, nn->param[i]);
    double *s = nn->state + (size_t)i * PFR_CLASSIC_STATE;
    float *ob = scr + nn->scratch_floats - 2 * PFR_DQN_MAX_OBS, *nb = ob + PFR_DQN_MAX_OBS;
    int *idx = (int *)(ob - nn->dc.batch);
    const float *body = nn->body + i * P, *head = nn->head + i * H;
    for (int k = 0; k < plan->K; ++k) {
        const pfr_words w = k == 0 ? first : pfr_stream_words(seed, (uint64_t)i, plan->t0 + (uint64_t)k);
        pfr_classic_observe(&env, s, ob);
        const float *f = pfr_mlp_forward8(&nn->m, body, ob, scr);
        pfr_dqn_transition(&nn->rules, &env, s, counters_of(nn, i), &rb, head, f, ob, nb, w, seed, i);
        if (rb.size >= nn->rules.learn_start)
            for (int g = 0; g < nn->rules.grad_steps; ++g)
                learn(nn, i, seed, &rb, scr, idx);
    }
    nn->rb_size[i] = rb.size;
    nn->rb_head[i] = rb.head;
    return 1;
}

/* dst [P] = the participants' mean of src [N, P] over entries e0 .. e1-1, in the contract's order;
 * acc, part: [e1 - e0] doubles. Nothing when no agent took part. */
static void ordered_mean(const pfr_neural *nn, int64_t N, const float *src, size_t width, size_t e0, size_t e1,
                         uint64_t participants, double *acc, double *part, float *dst)
{
    if (participants == 0 || e1 <= e0)
        return;
    const size_t n = e1 - e0;
    memset(acc, 0, 8 * n);
    for (int64_t b0 = 0; b0 < N; b0 += PFR_AGENT_BLOCK) {
        const int64_t b1 = b0 + PFR_AGENT_BLOCK < N ? b0 + PFR_AGENT_BLOCK : N;
        memset(part, 0, 8 * n);
        for (int64_t i = b0; i < b1; ++i) {
            if (!nn->took_part[i])
                continue;
            const float *x = src + (size_t)i * width + e0;
            for (size_t e = 0; e < n; ++e)
                part[e] += (double)x[e];
        }
        for (size_t e = 0; e < n; ++e)
            acc[e] += part[e];
    }
    const double scale = 1.0 / (double)participants;
    for (size_t e = 0; e < n; ++e)
        dst[e0 + e] = (float)(acc[e] * scale);
}

/* Thread tid's share of dst [width] = the participants' ordered mean of src [N, width], in slices
 * that fit its scratch (reused as two arrays of doubles). */
static void mean_slice(const pfr_neural *nn, int64_t N, const float *src, size_t width, int tid, int T,
                       uint64_t n_part, float *scr, float *dst)
{
    double *acc = (double *)scr, *part = acc + (nn->scratch_floats / 4);
    const size_t chunk = nn->scratch_floats / 4;
    for (size_t e0 = width * tid / T, e1 = width * (tid + 1) / T; e0 < e1; e0 += chunk)
        ordered_mean(nn, N, src, width, e0, e0 + chunk < e1 ? e0 + chunk : e1, n_part, acc, part, dst);
}

static void round_worker(void *arg, int tid)
{
    round_job *job = arg;
    pfr_sim *sim = job->sim;
    pfr_neural *nn = sim->neural;
    const int64_t N = sim->N;
    const int T = pfr_pool_threads(nn->pool);
    float *scr = nn->scratch + (size_t)tid * nn->scratch_floats;
    /* phase 1: the agents' steps, 16 at a time from a shared counter */
    uint64_t mine = 0;
    for (;;) {
        const int64_t c0 = __atomic_fetch_add(&job->next_agent, job->chunk, __ATOMIC_RELAXED);
        if (c0 >= N)
            break;
        for (int64_t i = c0; i < c0 + job->chunk && i < N; ++i) {
            nn->took_part[i] = (uint8_t)agent_round(sim, nn, job->plan, i, scr);
            mine += nn->took_part[i];
        }
    }
    __atomic_fetch_add(&job->participants, mine, __ATOMIC_RELAXED);
    pfr_pool_barrier(nn->pool);
    /* phase 2: the server's means, each thread a slice of the entries (scratch reused as doubles) */
    const uint64_t n_part = __atomic_load_n(&job->participants, __ATOMIC_RELAXED);
    const int share = sim->avg_phi, share_head = sim->avg_theta, moments = nn->average_moments;
    const size_t P = (size_t)nn->P, H = (size_t)nn->H;
    float *mv = nn->shared_mv; /* [body_m P | body_v P | head_m H | head_v H] */
    if (share)
        mean_slice(nn, N, nn->body, P, tid, T, n_part, scr, nn->shared);
    if (share_head)
        mean_slice(nn, N, nn->head, H, tid, T, n_part, scr, nn->shared_head);
    if (share && moments) {
        mean_slice(nn, N, nn->body_m, P, tid, T, n_part, scr, mv);
        mean_slice(nn, N, nn->body_v, P, tid, T, n_part, scr, mv + P);
    }
    if (share_head && moments) {
        mean_slice(nn, N, nn->head_m, H, tid, T, n_part, scr, mv + 2 * P);
        mean_slice(nn, N, nn->head_v, H, tid, T, n_part, scr, mv + 2 * P + H);
    }
    pfr_pool_barrier(nn->pool);
    /* phase 3: the server's broadcast, to every agent (those that sat out too) */
    if (n_part > 0)
        for (int64_t i = N * tid / T; i < N * (tid + 1) / T; ++i) {
            if (share)
                memcpy(nn->body + (size_t)i * P, nn->shared, 4 * P);
            if (share_head)
                memcpy(nn->head + (size_t)i * H, nn->shared_head, 4 * H);
            if (share && moments)
                memcpy(nn->body_m + (size_t)i * P, mv, 4 * P), memcpy(nn->body_v + (size_t)i * P, mv + P, 4 * P);
            if (share_head && moments)
                memcpy(nn->head_m + (size_t)i * H, mv + 2 * P, 4 * H),
                    memcpy(nn->head_v + (size_t)i * H, mv + 2 * P + H, 4 * H);
        }
}

static pfr_status neural_round(pfr_sim *sim, const pfr_round_plan *plan, uint64_t *participants)
{
    round_job job = {sim, plan, 0, pfr_neural_chunk(sim), 0};
    pfr_pool_run(sim->neural->pool, round_worker, &job);
    *participants = job.participants;
    return PFR_OK;
}

static pfr_status neural_nothing(pfr_sim *sim)
{
    (void)sim;
    return PFR_OK;
}

static void neural_destroy(pfr_sim *sim)
{
    neural_free(sim->neural);
    sim->neural = NULL;
}

static const pfr_engine_vtbl NEURAL_ENGINE = {
    "cpu", neural_round, neural_nothing, neural_nothing, NULL, NULL, NULL, neural_destroy, NULL,
};

pfr_status pfr_neural_start(pfr_sim *sim, pfr_error *err)
{
    const pfr_config *cfg = &sim->cfg;
    pfr_neural *nn = calloc(1, sizeof *nn);
    if (!nn)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    sim->neural = nn;
    sim->engine = &NEURAL_ENGINE;
    nn->kind = family_kind(cfg->env.kind);
    nn->m = body_shape(cfg);
    nn->A = pfr_classic_actions(nn->kind);
    nn->O = nn->m.width[0];
    nn->P = pfr_mlp_params(&nn->m);
    nn->H = nn->A * cfg->dim;
    nn->C = cfg->dqn.buffer;
    nn->max_steps = pfr_classic_max_steps(nn->kind);
    const pfr_dqn_config *q = &cfg->dqn;
    nn->dc = (pfr_dqn_cfg){(float)cfg->gamma, (float)q->lr, 0.9f, 0.999f, 1e-8f, q->batch, q->loss == PFR_DQN_HUBER,
                           q->optimizer == PFR_DQN_SGD, q->freeze_body};
    nn->rules = (pfr_dqn_rules){nn->kind, nn->A, cfg->dim, nn->max_steps, q->cap_is_terminal, q->grad_steps,
                                q->learn_start, q->target_every, q->epsilon_decay, q->epsilon_end};
    nn->reset_optimizer = q->reset_optimizer;
    nn->average_moments = q->average_moments;
    nn->eval_episodes = q->eval_episodes;
    nn->lo = cfg->env.param_min;
    nn->hi = cfg->env.param_max;
    nn->success = q->success_return;
    snprintf(nn->description, sizeof nn->description, "%s, %d parameter bins of %s %g .. %g",
             nn->kind == PFR_CLASSIC_CARTPOLE ? "CartPole-v1" : "Acrobot-v1", sim->M,
             nn->kind == PFR_CLASSIC_CARTPOLE ? "pole half-length" : "link-1 mass", nn->lo, nn->hi);
    nn->scratch_floats = scratch_floats(&nn->m, nn->H, q->batch);
    if (nn->scratch_floats < 4 * 64) /* phase 2 reuses it as two slices of doubles */
        nn->scratch_floats = 4 * 64;
    nn->scratch_floats = (nn->scratch_floats + 3) & ~(size_t)3; /* each thread's slice 16-byte aligned */
    const char *want = cfg->cpu_kernel == PFR_CPU_KERNEL_AUTO ? NULL : pfr_cpu_kernel_name(cfg->cpu_kernel);
    if (!(nn->path = pfr_dqn_step_choose(want)))
        return pfr_fail(err, PFR_ERR_CONFIG, "cpu_kernel=%s: this CPU cannot run it; allowed here: auto, or a narrower "
                        "one of avx512, avx2, portable", want);
    nn->pool = pfr_pool_create(sim->threads);
    if (!nn->pool || allocate(nn, sim->N, sim->threads) != PFR_OK)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for %lld agents' networks and replay buffers",
                        (long long)sim->N);
    init_body(&nn->m, nn->shared, cfg->seed);
    pfr_status st = cfg->dqn.init_body[0] ? load_body(nn, cfg->dqn.init_body, err) : PFR_OK;
    if (st == PFR_OK)
        st = agent_params(sim, nn, err);
    if (st != PFR_OK)
        return st;
    start_agents(sim, nn);
    return PFR_OK;
}

