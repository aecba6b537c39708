/*
 * neural.h — the neural instance of PFedRL-Rep (issue 28) on the CPU: PFedDQN-Rep, local DQN and
 * FedAvg of the whole network, N agents each in its own CartPole or Acrobot. Agent i's Q-function is
 * Q_i(s, a) = theta_i[a] . f_W(s): the body f_W (kernels/pfr_mlp.h) is what the server averages, the
 * head theta_i [A, d] the agent's own (pfeddqn_rep), both (fedavg_dqn) or neither (local_dqn).
 *
 * It plugs into the host's round loop as an engine (engine.h): the host owns rounds, evaluation
 * cadence, history, checkpoints and outputs; this engine owns a round (each participant's K
 * environment steps, each followed by dqn.grad_steps gradient steps, then the ordered average) and
 * the greedy evaluation (neural_eval.c).
 *
 * Per agent, the state the round carries (shapes; P body parameters, H = A d head entries, C the
 * replay capacity, O the observation's size):
 *   body, body_tgt, body_m, body_v [N, P]   online and target body, Adam's moments
 *   head, head_tgt, head_m, head_v [N, H]
 *   obs, next [N, C, O] f32; reward [N, C] f32; action, done [N, C] u8; rb_size, rb_head [N]
 *   state [N, 4] f64 (the physics), ep_t [N] (steps into the episode), episode [N] (episodes begun),
 *   grad [N] (gradient steps so far), adam_t [N] (Adam's count since its last reset), eps [N] (the
 *   exploration), loss_sum [N] f64 / loss_n [N] (since the last evaluation), param [N] f64
 * and the server's shared body [P] and head [H] (and, with dqn.average_moments, their moments).
 */
#ifndef PFR_NEURAL_H
#define PFR_NEURAL_H

#include <stdint.h>

#include "engine.h"
#include "kernels/pfr_classic.h"
#include "kernels/pfr_dqn_agent.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pfr_pool pfr_pool;
typedef struct pfr_dqn_step_path pfr_dqn_step_path;

typedef struct pfr_neural {
    pfr_mlp m;
    int kind;           /* PFR_CLASSIC_CARTPOLE, PFR_CLASSIC_ACROBOT */
    int A, O, P, H, C;  /* actions, observation size, body parameters, head entries, replay capacity */
    int max_steps;      /* the time limit of an episode */
    pfr_dqn_cfg dc;
    pfr_dqn_rules rules; /* the round's sequence's settings (kernels/pfr_dqn_agent.h) */
    int reset_optimizer, average_moments, eval_episodes;
    double lo, hi;      /* the physical parameter's range */
    double success;     /* the mean greedy return that counts as solving */
    char description[160]; /* the environment in words */
    float *body, *body_tgt, *body_m, *body_v;
    float *head, *head_tgt, *head_m, *head_v;
    float *shared, *shared_head; /* the server's body [P] and head [H] */
    float *shared_mv;   /* the server's mean Adam moments (dqn.average_moments) [2 P + 2 H] */
    float *obs, *next, *reward;
    uint8_t *action, *done, *took_part;
    int32_t *rb_size, *rb_head, *ep_t, *adam_t;
    int64_t *episode, *grad;
    double *state, *eps, *param, *heldout, *loss_sum; /* param, heldout [N]: own and held-out physics */
    int64_t *loss_n;
    double loss_mark[2]; /* the agents' summed loss_sum and loss_n at the last recorded evaluation */
    const pfr_dqn_step_path *path; /* the minibatch step's instruction set (dqn_steps.h) */
    pfr_pool *pool;
    float *scratch;     /* [threads, scratch_floats] */
    size_t scratch_floats;
} pfr_neural;

/* Bytes the neural state takes for cfg (the memory plan; nothing allocated). */
double pfr_neural_bytes(const pfr_config *cfg, int threads);
/* Set up sim's shape (N, d, M, A; no chains, S = 0) and the neural state, and make it sim's engine. */
pfr_status pfr_neural_start(pfr_sim *sim, pfr_error *err);
/* The greedy evaluation: greedy_return, success_rate, heldout_return, td_loss; by_type [M] (may be
 * NULL) the mean greedy return of each parameter bin's agents. */
pfr_status pfr_neural_evaluate(pfr_sim *sim, pfr_metrics *out, double *by_type);

/* The run recorded an evaluation: the next one's td_loss counts from here. */
void pfr_neural_mark(pfr_sim *sim);

/* The arrays a checkpoint keeps, in order: the callback gets a 4-letter tag, the array and its bytes. */
typedef int (*pfr_neural_array_fn)(void *ctx, uint32_t tag, void *data, uint64_t bytes);
int pfr_neural_arrays(pfr_neural *nn, int64_t N, pfr_neural_array_fn fn, void *ctx);

/* Agents a thread takes from the shared counter at once: 16, fewer when N is small (8 agents on 2
 * threads: 1 each time), so every thread has work; which thread runs an agent changes no bit. */
static inline int64_t pfr_neural_chunk(const pfr_sim *sim)
{
    const int64_t c = sim->N / (8 * (int64_t)sim->threads);
    return c < 1 ? 1 : c > 16 ? 16 : c;
}

/* Agent i's physical parameter: bin m = its type (pfr_agent_type), u uniform in [0, 1), the value
 * lo + (hi - lo) (m + u) / M. */
static inline double pfr_neural_param(double lo, double hi, int m, int M, double u)
{
    return lo + (hi - lo) * (((double)m + u) / (double)M);
}

#ifdef __cplusplus
}
#endif

#endif
