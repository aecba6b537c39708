/*
 * pfr_dqn.h — one agent's DQN on PFedDQN-Rep's networks (issue 28): its replay buffer, the
 * epsilon-greedy action, and a minibatch gradient step on the TD loss against a target network, for
 * the body f_W and the head theta [A, d] (kernels/pfr_mlp.h). host/device code like the rest of
 * kernels/: every random choice arrives as a 32-bit word the caller drew (from its named stream), every
 * buffer is the caller's, and one fixed order of operations gives the same bits wherever it runs.
 *
 * Shapes: replay [cap] transitions of obs [n_obs] floats, action, reward, next obs, terminated (a
 * truncated transition is stored as not terminated: it bootstraps). Adam's moments have the shapes
 * of what they move (body: pfr_mlp_params; head: A d).
 *
 * Napkin math (widths 4 -> 64 -> 16, A = 2, batch 16): a step is 16 forwards of the online network,
 * 16 of the target network and 16 backwards, ~3 x 16 x 2.4k = 0.12 Mflop, ~0.1 ms on one core.
 */
#ifndef PFR_DQN_H
#define PFR_DQN_H

#include <stdint.h>

#include "pfr_mlp.h"

#define PFR_DQN_MAX_OBS 8   /* CartPole 4, Acrobot 6 */
#define PFR_DQN_MAX_ACTIONS 8

/* An agent's replay buffer: a ring of `cap` transitions, the oldest overwritten. */
typedef struct pfr_replay {
    int cap, n_obs, size, head;
    float *obs;       /* [cap, n_obs] */
    float *next;      /* [cap, n_obs] */
    float *reward;    /* [cap] */
    uint8_t *action;  /* [cap] */
    uint8_t *done;    /* [cap] 1: terminated (no bootstrap) */
} pfr_replay;

PFR_HD static inline void pfr_replay_add(pfr_replay *rb, const float *obs, int a, float r, const float *next, int terminated)
{
    const int at = rb->head;
    for (int j = 0; j < rb->n_obs; ++j) {
        rb->obs[(size_t)at * rb->n_obs + j] = obs[j];
        rb->next[(size_t)at * rb->n_obs + j] = next[j];
    }
    rb->action[at] = (uint8_t)a;
    rb->reward[at] = r;
    rb->done[at] = (uint8_t)(terminated != 0);
    rb->head = at + 1 == rb->cap ? 0 : at + 1;
    if (rb->size < rb->cap)
        rb->size++;
}

/* A transition drawn uniformly from what the buffer holds, by the word w (multiply-shift, as the
 * chains' draws). */
PFR_HD static inline int pfr_replay_pick(const pfr_replay *rb, uint32_t w) { return (int)(((uint64_t)w * (uint64_t)rb->size) >> 32); }

/* The greedy action: the largest theta[a] . f, the first on ties. */
PFR_HD static inline int pfr_dqn_greedy(const float *theta, const float *f, int A, int d)
{
    int best = 0;
    float bq = pfr_mlp_q(theta, f, 0, d);
    for (int a = 1; a < A; ++a) {
        const float q = pfr_mlp_q(theta, f, a, d);
        if (q > bq) {
            bq = q;
            best = a;
        }
    }
    return best;
}

/* Epsilon-greedy: explore iff w_explore < explore_thr (epsilon as a 2^32 fraction), then the action
 * w_action picks uniformly; else greedy. */
PFR_HD static inline int pfr_dqn_act(const float *theta, const float *f, int A, int d, uint32_t w_explore, uint32_t w_action,
                                     uint64_t explore_thr)
{
    if ((uint64_t)w_explore < explore_thr)
        return (int)(((uint64_t)w_action * (uint64_t)A) >> 32);
    return pfr_dqn_greedy(theta, f, A, d);
}

/* The learner's settings. */
typedef struct pfr_dqn_cfg {
    float gamma, lr, beta1, beta2, eps; /* discount; Adam */
    int batch, huber;                   /* minibatch size; Huber (1) or squared (0) loss */
    int sgd;                            /* 1: plain SGD, p -= lr g (the moments untouched); 0: Adam */
    int freeze_body;                    /* 1: the body stays as it is (its gradient computed, not applied) */
} pfr_dqn_cfg;

/* The optimizer's step on the body (unless frozen) and the head: SGD or Adam. */
PFR_HD static inline void pfr_dqn_apply(const pfr_dqn_cfg *c, int np, int nh, float *p, float *theta, const float *gp,
                                        const float *gt, float *mp, float *vp, float *mt, float *vt, int t)
{
    if (c->sgd) {
        if (!c->freeze_body)
            pfr_sgd_step(p, gp, np, c->lr);
        pfr_sgd_step(theta, gt, nh, c->lr);
    } else {
        if (!c->freeze_body)
            pfr_adam_step(p, gp, mp, vp, np, c->lr, c->beta1, c->beta2, c->eps, t);
        pfr_adam_step(theta, gt, mt, vt, nh, c->lr, c->beta1, c->beta2, c->eps, t);
    }
}

/* One gradient step on the minibatch of transitions idx [batch]: targets y = r + gamma (1 - done)
 * max_a' Q_target(s', a') from the target network (p_tgt, theta_tgt), the mean loss's gradients into
 * gp / gt (zeroed here), then Adam on the body (moments mp, vp) and the head (mt, vt), step count t
 * (1 at the first), or SGD (c->sgd; the moments may then be NULL). Scratch: pfr_mlp_acts + 2 x the widest layer floats. Returns the mean loss. */
PFR_HD static inline float pfr_dqn_step(const pfr_mlp *m, int A, float *p, float *theta, const float *p_tgt,
                                        const float *theta_tgt, const pfr_replay *rb, const int *idx, const pfr_dqn_cfg *c,
                                        float *gp, float *gt, float *mp, float *vp, float *mt, float *vt, int t,
                                        float *scratch)
{
    const int np = pfr_mlp_params(m), d = m->width[m->layers];
    float *acts = scratch, *delta = scratch + pfr_mlp_acts(m);
    for (int k = 0; k < np; ++k)
        gp[k] = 0.0f;
    for (int k = 0; k < A * d; ++k)
        gt[k] = 0.0f;
    const float scale = 1.0f / (float)c->batch;
    float loss = 0.0f;
    for (int b = 0; b < c->batch; ++b) {
        const int i = idx[b];
        float y = rb->reward[i];
        if (!rb->done[i]) { /* the target network's best value of the next state */
            const float *fn = pfr_mlp_forward(m, p_tgt, rb->next + (size_t)i * rb->n_obs, acts);
            float best = pfr_mlp_q(theta_tgt, fn, 0, d);
            for (int a = 1; a < A; ++a) {
                const float q = pfr_mlp_q(theta_tgt, fn, a, d);
                best = q > best ? q : best;
            }
            y = y + c->gamma * best;
        }
        const int a = rb->action[i];
        const float *f = pfr_mlp_forward(m, p, rb->obs + (size_t)i * rb->n_obs, acts);
        const float e = pfr_mlp_q(theta, f, a, d) - y;
        const float ae = e < 0.0f ? -e : e;
        loss += c->huber && ae > 1.0f ? ae - 0.5f : 0.5f * e * e;
        pfr_mlp_backward(m, p, theta, a, acts, pfr_mlp_dloss(e, c->huber) * scale, gp, gt, delta);
    }
    pfr_dqn_apply(c, np, A * d, p, theta, gp, gt, mp, vp, mt, vt, t);
    return loss * scale;
}

#endif
