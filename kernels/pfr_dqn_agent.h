/*
 * pfr_dqn_agent.h — one agent's round of the neural instance, the sequence every engine runs (the
 * CPU engine's host/neural/neural.c and the CUDA engine's host/cuda/neural_cuda.cu): K environment
 * steps, each followed by G gradient steps once the replay buffer holds learn_start transitions.
 * Host/device code: the state is a view of the engine's arrays at agent i, every draw a word of a
 * named stream (kernels/pfr_constants.h), so the sequence is the same bits wherever it runs. What
 * differs between engines is how the forward pass and the gradient step spread over hardware (lanes
 * of a CPU vector, threads of a GPU block); both keep the reference's order (pfr_dqn.h).
 *
 * Per step k of the round starting at global step t0:
 *   words w = stream i at t0 + k (word PFR_WORD_PARTICIPATION of k = 0 decides whether i takes part)
 *   ob = observation; f = forward(body, ob); a = epsilon-greedy (words EXPLORE, ACTION)
 *   the environment's step; the transition into the ring; a new episode (DQN_RESET at the
 *   agent's episode count) when it ended
 *   then G times: minibatch (DQN_REPLAY + i, counter grad 256 + j/4, word j mod 4), Adam count + 1,
 *   the step, grad + 1, epsilon x decay (at least eps_end), the target copied every target_every
 */
#ifndef PFR_DQN_AGENT_H
#define PFR_DQN_AGENT_H

#include "pfr_agent_math.h"
#include "pfr_classic.h"
#include "pfr_constants.h"
#include "pfr_dqn.h"

/* A parameter's or a start's 32-bit word as a uniform in [0, 1). */
PFR_HD static inline double pfr_dqn_u01(uint32_t w) { return (double)w * (1.0 / 4294967296.0); }

/* Agent i's environment state at the start of its episode `episode`: the four uniforms of DQN_RESET. */
PFR_HD static inline void pfr_dqn_start_episode(const pfr_classic *env, double *state, uint64_t seed, int64_t i,
                                                int64_t episode)
{
    const pfr_words w = pfr_stream_words(seed, PFR_STREAM_DQN_RESET + (uint64_t)i, (uint64_t)episode);
    double u[4];
    for (int j = 0; j < 4; ++j)
        u[j] = pfr_dqn_u01(w.w[j]);
    pfr_classic_reset(env, state, u);
}

/* The counters an agent's round moves, and its settings. */
typedef struct pfr_dqn_counters {
    int32_t *ep_t;       /* steps into the episode */
    int64_t *episode;    /* episodes begun */
    int64_t *grad;       /* gradient steps taken */
    int32_t *adam_t;     /* Adam's count since its last reset */
    double *eps;         /* the exploration */
} pfr_dqn_counters;

typedef struct pfr_dqn_rules {
    int kind, A, d, max_steps, cap_is_terminal;
    int grad_steps, learn_start, target_every;
    double eps_decay, eps_end;
} pfr_dqn_rules;

/* The step after the forward pass: the action from f (the features of ob), the environment's step,
 * the transition into the ring, a new episode when this one ended. nb: scratch for the next
 * observation. Returns the action. */
PFR_HD static inline int pfr_dqn_transition(const pfr_dqn_rules *r, const pfr_classic *env, double *state,
                                            pfr_dqn_counters ct, pfr_replay *rb, const float *head, const float *f,
                                            const float *ob, float *nb, pfr_words w, uint64_t seed, int64_t i)
{
    const int a = pfr_dqn_act(head, f, r->A, r->d, w.w[PFR_WORD_EXPLORE], w.w[PFR_WORD_ACTION],
                              pfr_probability_threshold(*ct.eps));
    float rew;
    const int terminal = pfr_classic_step(env, state, a, &rew);
    const pfr_classic_end end = pfr_classic_end_of(terminal, ++*ct.ep_t, r->max_steps, r->cap_is_terminal);
    pfr_classic_observe(env, state, nb);
    pfr_replay_add(rb, ob, a, rew, nb, end.terminated);
    if (end.terminated || end.truncated) {
        ++*ct.episode;
        pfr_dqn_start_episode(env, state, seed, i, *ct.episode);
        *ct.ep_t = 0;
    }
    return a;
}

/* Minibatch entries j0 .. j0 + 3 (below B) of gradient step g: words 0-3 of DQN_REPLAY + i at counter
 * g 256 + j0 / 4 (j0 a multiple of 4), one Philox evaluation for four entries. */
PFR_HD static inline void pfr_dqn_pick4(const pfr_replay *rb, uint64_t seed, int64_t i, int64_t g, int j0, int B, int *idx)
{
    const pfr_words w = pfr_stream_words(seed, PFR_STREAM_DQN_REPLAY + (uint64_t)i, (uint64_t)g * 256u + (uint64_t)(j0 / 4));
    for (int q = 0; q < 4 && j0 + q < B; ++q)
        idx[j0 + q] = pfr_replay_pick(rb, w.w[q]);
}

/* After a gradient step: the counters move, epsilon decays; returns 1 when the target network is
 * to be copied from the online one now. */
PFR_HD static inline int pfr_dqn_after_step(const pfr_dqn_rules *r, pfr_dqn_counters ct)
{
    ++*ct.grad;
    const double e = *ct.eps * r->eps_decay;
    *ct.eps = e > r->eps_end ? e : r->eps_end;
    return *ct.grad % r->target_every == 0;
}

#endif
