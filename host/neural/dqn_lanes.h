/*
 * dqn_lanes.h — pfr_dqn_step (kernels/pfr_dqn.h) with the minibatch's samples in lanes: the same
 * bits, several times the speed on a CPU. The reference does one sample at a time, and each of its
 * dot products is a chain of dependent adds (inputs in order), so a core waits on the adder's latency;
 * here up to PFR_DQN_LANES samples go through each layer together, lane l doing exactly sample
 * b0 + l's operations in the reference's order (weights broadcast, one independent chain a lane),
 * which the compiler turns into vector code without reordering a single add. What must stay in
 * sample order does: the loss, and each gradient entry's adds (lane 0's, then lane 1's, ...; groups
 * in order). tests/test_dqn.cc checks it against pfr_dqn_step bit for bit.
 *
 * Layouts (V = PFR_DQN_LANES): acts [sum of widths, V] lane-minor (unit u of lane l at u V + l), as
 * the layer-parallel loops read it; a layer's input is also copied lane-major [V, n_in] for the
 * gradient adds, which run along a weight row. Scratch: pfr_dqn_lanes_scratch(m) floats.
 *
 * Napkin math (4 -> 64 -> 16, batch 16): a group's forward is 1.3k weight broadcasts, each feeding
 * 16 lanes (two AVX-512 or four AVX2 registers: independent chains, so the adder's throughput, not
 * its latency, bounds it); the gradient adds are P = 1.4k MACs a sample along contiguous rows.
 */
#ifndef PFR_DQN_LANES_H
#define PFR_DQN_LANES_H

#include <stddef.h>

#include "kernels/pfr_dqn.h"

#define PFR_DQN_LANES 16

static inline int pfr_dqn_lanes_widest(const pfr_mlp *m)
{
    int w = m->width[0];
    for (int l = 1; l <= m->layers; ++l)
        w = m->width[l] > w ? m->width[l] : w;
    return w;
}

/* Floats of scratch pfr_dqn_step_lanes needs. */
static inline size_t pfr_dqn_lanes_scratch(const pfr_mlp *m)
{
    return (size_t)PFR_DQN_LANES * ((size_t)pfr_mlp_acts(m) + 3 * (size_t)pfr_dqn_lanes_widest(m));
}

/* The forward pass of n lanes (inputs already in acts' first w_0 rows): every layer's output into
 * acts, lane-minor. Per lane: bias, then weight times input in input order, then the activation. */
static inline void pfr_dqn_lanes_forward(const pfr_mlp *m, const float *p, float *acts, int n)
{
    enum { V = PFR_DQN_LANES };
    const float *in = acts;
    float *out = acts + (size_t)m->width[0] * V;
    for (int l = 0; l < m->layers; ++l) {
        const int ni = m->width[l], no = m->width[l + 1];
        const float *W = p, *b = p + (size_t)no * ni;
        for (int o = 0; o < no; ++o) {
            float z[V];
            for (int k = 0; k < V; ++k)
                z[k] = b[o];
            for (int i = 0; i < ni; ++i) {
                const float w = W[(size_t)o * ni + i];
                for (int k = 0; k < V; ++k)
                    z[k] += w * in[(size_t)i * V + k];
            }
            for (int k = 0; k < n; ++k)
                out[(size_t)o * V + k] = pfr_mlp_activate(m->act, z[k]);
            for (int k = n; k < V; ++k) /* idle lanes hold zeros, so no NaN or denormal slows a group */
                out[(size_t)o * V + k] = 0.0f;
        }
        p += (size_t)no * ni + no;
        in = out;
        out += (size_t)no * V;
    }
}

/* theta[a] . f of lane k (features lane-minor at f). */
static inline float pfr_dqn_lanes_q(const float *theta, const float *f, int a, int d, int k)
{
    float q = 0.0f;
    for (int j = 0; j < d; ++j)
        q += theta[(size_t)a * d + j] * f[(size_t)j * PFR_DQN_LANES + k];
    return q;
}

/* pfr_dqn_step's contract and result, its samples PFR_DQN_LANES at a time. */
static inline float pfr_dqn_step_lanes(const pfr_mlp *m, int A, float *p, float *theta, const float *p_tgt,
                                       const float *theta_tgt, const pfr_replay *rb, const int *idx,
                                       const pfr_dqn_cfg *c, float *gp, float *gt, float *mp, float *vp, float *mt,
                                       float *vt, int t, float *scratch)
{
    enum { V = PFR_DQN_LANES };
    const int L = m->layers, np = pfr_mlp_params(m), d = m->width[L], O = m->width[0];
    const int wmax = pfr_dqn_lanes_widest(m);
    float *acts = scratch, *cur = acts + (size_t)pfr_mlp_acts(m) * V, *nxt = cur + (size_t)wmax * V;
    float *rows = nxt + (size_t)wmax * V; /* a layer's input, lane-major [V, n_in] */
    int poff[PFR_MLP_MAX_LAYERS + 1], aoff[PFR_MLP_MAX_LAYERS + 1];
    poff[0] = aoff[0] = 0;
    for (int l = 0; l < L; ++l) {
        poff[l + 1] = poff[l] + m->width[l + 1] * m->width[l] + m->width[l + 1];
        aoff[l + 1] = aoff[l] + m->width[l];
    }
    for (int k = 0; k < np; ++k)
        gp[k] = 0.0f;
    for (int k = 0; k < A * d; ++k)
        gt[k] = 0.0f;
    const float scale = 1.0f / (float)c->batch;
    float loss = 0.0f;
    for (int b0 = 0; b0 < c->batch; b0 += V) {
        const int n = c->batch - b0 < V ? c->batch - b0 : V;
        float y[V], g[V];
        int act[V];
        /* targets: r + gamma max_a' Q_target(s', a') where not terminated */
        for (int k = 0; k < V; ++k)
            for (int j = 0; j < O; ++j)
                acts[(size_t)j * V + k] = k < n ? rb->next[(size_t)idx[b0 + k] * rb->n_obs + j] : 0.0f;
        pfr_dqn_lanes_forward(m, p_tgt, acts, n);
        const float *f = acts + (size_t)aoff[L] * V;
        for (int k = 0; k < n; ++k) {
            const int i = idx[b0 + k];
            y[k] = rb->reward[i];
            act[k] = rb->action[i];
            if (!rb->done[i]) {
                float best = pfr_dqn_lanes_q(theta_tgt, f, 0, d, k);
                for (int a = 1; a < A; ++a) {
                    const float q = pfr_dqn_lanes_q(theta_tgt, f, a, d, k);
                    best = q > best ? q : best;
                }
                y[k] = y[k] + c->gamma * best;
            }
        }
        /* the online network, the TD errors, the loss in sample order */
        for (int k = 0; k < V; ++k)
            for (int j = 0; j < O; ++j)
                acts[(size_t)j * V + k] = k < n ? rb->obs[(size_t)idx[b0 + k] * rb->n_obs + j] : 0.0f;
        pfr_dqn_lanes_forward(m, p, acts, n);
        for (int k = 0; k < n; ++k) {
            const float e = pfr_dqn_lanes_q(theta, f, act[k], d, k) - y[k];
            const float ae = e < 0.0f ? -e : e;
            loss += c->huber && ae > 1.0f ? ae - 0.5f : 0.5f * e * e;
            g[k] = pfr_mlp_dloss(e, c->huber) * scale;
        }
        /* the head's gradient in sample order; dQ/df through the activation */
        for (int k = 0; k < n; ++k)
            for (int j = 0; j < d; ++j)
                gt[(size_t)act[k] * d + j] += g[k] * f[(size_t)j * V + k];
        for (int j = 0; j < d; ++j)
            for (int k = 0; k < V; ++k)
                cur[(size_t)j * V + k] =
                    k < n ? g[k] * theta[(size_t)act[k] * d + j] * pfr_mlp_dact(m->act, f[(size_t)j * V + k]) : 0.0f;
        for (int l = L - 1; l >= 0; --l) {
            const int ni = m->width[l], no = m->width[l + 1];
            const float *W = p + poff[l], *in = acts + (size_t)aoff[l] * V;
            float *gW = gp + poff[l], *gb = gp + poff[l] + (size_t)no * ni;
            for (int i = 0; i < ni; ++i)
                for (int k = 0; k < n; ++k)
                    rows[(size_t)k * ni + i] = in[(size_t)i * V + k];
            for (int k = 0; k < n; ++k) /* each entry's adds in sample order */
                for (int o = 0; o < no; ++o) {
                    const float co = cur[(size_t)o * V + k];
                    const float *x = rows + (size_t)k * ni;
                    float *gw = gW + (size_t)o * ni;
                    for (int i = 0; i < ni; ++i)
                        gw[i] += co * x[i];
                    gb[o] += co;
                }
            if (l == 0)
                break;
            for (int i = 0; i < ni; ++i) { /* the error of the layer below, outputs in order */
                float s[V];
                for (int k = 0; k < V; ++k)
                    s[k] = 0.0f;
                for (int o = 0; o < no; ++o) {
                    const float w = W[(size_t)o * ni + i];
                    for (int k = 0; k < V; ++k)
                        s[k] += w * cur[(size_t)o * V + k];
                }
                for (int k = 0; k < V; ++k)
                    nxt[(size_t)i * V + k] = s[k] * pfr_mlp_dact(m->act, in[(size_t)i * V + k]);
            }
            float *tmp = cur;
            cur = nxt;
            nxt = tmp;
        }
    }
    if (c->sgd) {
        pfr_sgd_step(p, gp, np, c->lr);
        pfr_sgd_step(theta, gt, A * d, c->lr);
    } else {
        pfr_adam_step(p, gp, mp, vp, np, c->lr, c->beta1, c->beta2, c->eps, t);
        pfr_adam_step(theta, gt, mt, vt, A * d, c->lr, c->beta1, c->beta2, c->eps, t);
    }
    return loss * scale;
}

#endif
