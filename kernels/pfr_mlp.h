/*
 * pfr_mlp.h — PFedDQN-Rep's networks for one agent (issue 28): the shared body f_W, an MLP whose
 * every layer is followed by its activation, and the agent's linear head theta [A, d], so that
 * Q_i(s, a) = theta_i[a] . f_W(s). Forward, backward of a TD loss (Huber or squared), Adam. Written
 * once for the CPU engine and, under nvcc, the device (static inline, __host__ __device__; no
 * allocation: the caller hands every buffer), in float with one fixed order of operations, so an
 * engine that keeps the order gets the same bits (the project builds without contraction into FMAs).
 *
 * Shapes (widths w_0 .. w_L, L layers; w_0 the observation's size, w_L = d):
 *   params: layer l = 0 .. L-1 as W_l [w_{l+1}, w_l] row-major, then b_l [w_{l+1}]; flat, in order
 *   acts:   [w_0 + w_1 + ... + w_L] the input and every layer's output (after its activation)
 *   theta:  [A, d] row-major, the head
 * With widths (4, 128) and d = 128 this is Jin et al. 2022's network: one hidden layer of 128 ReLU
 * units and a linear output per action.
 *
 * Napkin math (widths 4 -> 128 -> 16, A = 2): 2.7k body parameters (10.6 KB in float), forward ~5.5k
 * flops, backward ~11k; a minibatch of 16 about 0.27 Mflop: at ~1 flop/ns a CPU core does ~3.7k
 * minibatch gradients a second per agent, which is what the round's G gradient steps cost.
 */
#ifndef PFR_MLP_H
#define PFR_MLP_H

#include <math.h>

#include "pfr_agent_math.h" /* PFR_HD */
#include "pfr_libm.h"       /* tanh with the same bits everywhere */

#define PFR_MLP_MAX_LAYERS 8

typedef enum pfr_mlp_act { PFR_MLP_RELU = 0, PFR_MLP_TANH = 1 } pfr_mlp_act;

/* The body's shape. */
typedef struct pfr_mlp {
    int layers;                         /* L */
    int width[PFR_MLP_MAX_LAYERS + 1];  /* w_0 .. w_L */
    int act;                            /* pfr_mlp_act */
} pfr_mlp;

/* Parameters of the body (every W_l and b_l). */
PFR_HD static inline int pfr_mlp_params(const pfr_mlp *m)
{
    int n = 0;
    for (int l = 0; l < m->layers; ++l)
        n += m->width[l + 1] * m->width[l] + m->width[l + 1];
    return n;
}

/* Floats of acts (the input and every layer's output). */
PFR_HD static inline int pfr_mlp_acts(const pfr_mlp *m)
{
    int n = 0;
    for (int l = 0; l <= m->layers; ++l)
        n += m->width[l];
    return n;
}

PFR_HD static inline float pfr_mlp_activate(int act, float z) { return act == PFR_MLP_TANH ? pfr_tanhf(z) : (z > 0.0f ? z : 0.0f); }

/* The activation's derivative, from its output y (tanh: 1 - y^2; ReLU: 1 where y > 0). */
PFR_HD static inline float pfr_mlp_dact(int act, float y) { return act == PFR_MLP_TANH ? 1.0f - y * y : (y > 0.0f ? 1.0f : 0.0f); }

/* One unit's output: its bias, then weight x input in input order, then the activation. W [no, ni]. */
PFR_HD static inline float pfr_mlp_unit(const pfr_mlp *m, const float *W, const float *b, const float *in, int ni, int o)
{
    float z = b[o];
    for (int i = 0; i < ni; ++i)
        z += W[(size_t)o * ni + i] * in[i];
    return pfr_mlp_activate(m->act, z);
}

/* f_W(x): acts gets x and every layer's output; returns a pointer to the features (w_L of them).
 * Each unit: its bias, then the weights times the inputs added in input order, then the activation. */
PFR_HD static inline const float *pfr_mlp_forward(const pfr_mlp *m, const float *p, const float *x, float *acts)
{
    for (int j = 0; j < m->width[0]; ++j)
        acts[j] = x[j];
    const float *in = acts;
    float *out = acts + m->width[0];
    for (int l = 0; l < m->layers; ++l) {
        const int ni = m->width[l], no = m->width[l + 1];
        const float *W = p, *b = p + (size_t)no * ni;
        for (int o = 0; o < no; ++o)
            out[o] = pfr_mlp_unit(m, W, b, in, ni, o);
        p += (size_t)no * ni + no;
        in = out;
        out += no;
    }
    return in;
}

/* pfr_mlp_forward's bits, eight units' chains interleaved: each unit's adds stay in input order, but
 * eight independent chains are in flight, where one chain waits on the adder's latency (~4 cycles a
 * add on a CPU core). The CPU engine's action choice and evaluation use it. */
PFR_HD static inline const float *pfr_mlp_forward8(const pfr_mlp *m, const float *p, const float *x, float *acts)
{
    for (int j = 0; j < m->width[0]; ++j)
        acts[j] = x[j];
    const float *in = acts;
    float *out = acts + m->width[0];
    for (int l = 0; l < m->layers; ++l) {
        const int ni = m->width[l], no = m->width[l + 1];
        const float *W = p, *b = p + (size_t)no * ni;
        int o = 0;
        for (; o + 8 <= no; o += 8) {
            float z[8];
            for (int k = 0; k < 8; ++k)
                z[k] = b[o + k];
            for (int i = 0; i < ni; ++i) {
                const float v = in[i];
                for (int k = 0; k < 8; ++k)
                    z[k] += W[(size_t)(o + k) * ni + i] * v;
            }
            for (int k = 0; k < 8; ++k)
                out[o + k] = pfr_mlp_activate(m->act, z[k]);
        }
        for (; o < no; ++o) /* the last units, one chain each */
            out[o] = pfr_mlp_unit(m, W, b, in, ni, o);
        p += (size_t)no * ni + no;
        in = out;
        out += no;
    }
    return in;
}

/* theta[a] . f (d features, added in feature order). */
PFR_HD static inline float pfr_mlp_q(const float *theta, const float *f, int a, int d)
{
    float q = 0.0f;
    for (int j = 0; j < d; ++j)
        q += theta[(size_t)a * d + j] * f[j];
    return q;
}

/* The loss's derivative in the TD error e = Q - y: Huber with threshold 1 (e clipped to [-1, 1]) or
 * squared (1/2 e^2: e). */
PFR_HD static inline float pfr_mlp_dloss(float e, int huber)
{
    if (!huber)
        return e;
    return e > 1.0f ? 1.0f : (e < -1.0f ? -1.0f : e);
}

/* Backward of one sample's loss through Q = theta[a] . f_W(x) after pfr_mlp_forward filled acts:
 * g = dloss/dQ (pfr_mlp_dloss) times `scale` (1 / batch for a mean); adds the gradients into gp
 * (the body's layout) and gtheta [A, d]. delta: scratch of max(w_1 .. w_L) x 2 floats. Layers from the
 * last to the first; within a layer, units in order and inputs in order. */
PFR_HD static inline void pfr_mlp_backward(const pfr_mlp *m, const float *p, const float *theta, int a, const float *acts,
                                           float g, float *gp, float *gtheta, float *delta)
{
    const int L = m->layers, d = m->width[L];
    /* offsets of each layer's parameters and outputs */
    int poff[PFR_MLP_MAX_LAYERS + 1], aoff[PFR_MLP_MAX_LAYERS + 2];
    poff[0] = 0;
    aoff[0] = 0;
    for (int l = 0; l < L; ++l) {
        poff[l + 1] = poff[l] + m->width[l + 1] * m->width[l] + m->width[l + 1];
        aoff[l + 1] = aoff[l] + m->width[l];
    }
    int wmax = 0;
    for (int l = 1; l <= L; ++l)
        wmax = m->width[l] > wmax ? m->width[l] : wmax;
    float *cur = delta, *nxt = delta + wmax;
    const float *f = acts + aoff[L];
    for (int j = 0; j < d; ++j) { /* the head's gradient, and dQ/df through the activation */
        gtheta[(size_t)a * d + j] += g * f[j];
        cur[j] = g * theta[(size_t)a * d + j] * pfr_mlp_dact(m->act, f[j]);
    }
    for (int l = L - 1; l >= 0; --l) {
        const int ni = m->width[l], no = m->width[l + 1];
        const float *W = p + poff[l], *in = acts + aoff[l];
        float *gW = gp + poff[l], *gb = gp + poff[l] + (size_t)no * ni;
        for (int o = 0; o < no; ++o) {
            for (int i = 0; i < ni; ++i)
                gW[(size_t)o * ni + i] += cur[o] * in[i];
            gb[o] += cur[o];
        }
        if (l == 0)
            break;
        for (int i = 0; i < ni; ++i) { /* the error of the layer below, through its activation */
            float s = 0.0f;
            for (int o = 0; o < no; ++o)
                s += W[(size_t)o * ni + i] * cur[o];
            nxt[i] = s * pfr_mlp_dact(m->act, in[i]);
        }
        float *t = cur;
        cur = nxt;
        nxt = t;
    }
}

/* b^t for t >= 0 by squaring (t's bits from the lowest): multiplies alone, so the same bits on every
 * CPU and GPU, where libm's pow and CUDA's differ in the last place. */
PFR_HD static inline double pfr_powi(double b, int t)
{
    double r = 1.0;
    for (; t > 0; t >>= 1, b = b * b)
        if (t & 1)
            r = r * b;
    return r;
}

/* Adam's update of one entry, its bias corrections c1 = 1 - b1^t and c2 = 1 - b2^t given. */
PFR_HD static inline void pfr_adam_one(float *p, float g, float *m, float *v, float lr, float b1, float b2, float eps,
                                       float c1, float c2)
{
    *m = b1 * *m + (1.0f - b1) * g;
    *v = b2 * *v + (1.0f - b2) * (g * g);
    *p = *p - lr * (*m / c1) / (sqrtf(*v / c2) + eps);
}

/* One Adam step (Kingma and Ba; PyTorch's form) on n parameters with gradients g, moments m and v,
 * step count t (1 at the first step): m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
 * p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). The bias corrections in double. */
PFR_HD static inline void pfr_adam_step(float *p, const float *g, float *m, float *v, int n, float lr, float b1, float b2,
                                        float eps, int t)
{
    const float c1 = (float)(1.0 - pfr_powi((double)b1, t)), c2 = (float)(1.0 - pfr_powi((double)b2, t));
    for (int k = 0; k < n; ++k)
        pfr_adam_one(p + k, g[k], m + k, v + k, lr, b1, b2, eps, c1, c2);
}

/* Plain SGD: p -= lr g. */
PFR_HD static inline void pfr_sgd_step(float *p, const float *g, int n, float lr)
{
    for (int k = 0; k < n; ++k)
        p[k] = p[k] - lr * g[k];
}

#endif
