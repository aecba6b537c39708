/*
 * dqn_lanes.h — pfr_dqn_step (kernels/pfr_dqn.h) with the minibatch's samples in lanes: the same
 * bits, several times the speed on a CPU. The reference does one sample at a time, and each of its
 * dot products is a chain of dependent adds (inputs in order), so a core waits on the adder's latency;
 * here up to PFR_DQN_V samples go through each layer together, lane l doing exactly sample
 * b0 + l's operations in the reference's order (weights broadcast, one independent chain a lane),
 * which the compiler turns into vector code without reordering a single add. What must stay in
 * sample order does: the loss, and each gradient entry's adds (lane 0's, then lane 1's, ...; groups
 * in order). tests/test_dqn.cc checks it against pfr_dqn_step bit for bit.
 *
 * A template, included once per instruction set by dqn_steps.c with PFR_DQN_V (lanes: the
 * target's vector width in floats, 16 AVX-512, 8 AVX2, 4 SSE2 / NEON), PFR_DQN_SUFFIX (names its
 * functions) and PFR_DQN_TARGET (the target attribute); the group size changes no bit, since every
 * order that matters runs across groups as within them.
 *
 * Layouts (V = PFR_DQN_V): acts [sum of widths, V] lane-minor (unit u of lane l at u V + l), as
 * the layer-parallel loops read it; a layer's input is also copied lane-major [V, n_in] for the
 * gradient adds, which run along a weight row. Scratch: pfr_dqn_step_scratch(m) floats
 * (dqn_steps.h).
 *
 * Napkin math (4 -> 64 -> 16, batch 16): a group's forward is 1.3k weight broadcasts, each feeding
 * V lanes in one register (independent chains, so the adder's throughput, not its latency, bounds
 * it); the gradient adds are P = 1.4k MACs a sample along contiguous rows.
 */
#include <stddef.h>

#include "kernels/pfr_dqn.h"

#define PFR_DQN_CAT2(a, b) a##_##b
#define PFR_DQN_CAT(a, b) PFR_DQN_CAT2(a, b)
#define PFR_DQN_NAME(x) PFR_DQN_CAT(x, PFR_DQN_SUFFIX)
#define PFR_DQN_INLINE PFR_DQN_TARGET static inline __attribute__((always_inline))
/* One value of every lane, one register of the target: GCC / Clang vector extensions, the same
 * elementwise IEEE operations (left to itself, GCC vectorized the plain loops across inputs with
 * permutes and gained little; a vector wider than the target's registers went through memory).
 * Aligned to 4: the lanes' rows sit in scratch at any float offset. */
typedef float PFR_DQN_NAME(pfr_dqn_vec) __attribute__((vector_size(4 * PFR_DQN_V), aligned(4)));
#define pfr_dqn_vec PFR_DQN_NAME(pfr_dqn_vec)

/* A unit's output in n lanes, after its activation; idle lanes hold zeros, so no NaN or denormal
 * slows a group. */
PFR_DQN_INLINE void PFR_DQN_NAME(pfr_dqn_lanes_out)(const pfr_mlp *m, pfr_dqn_vec z, float *out, int n)
{
    for (int k = 0; k < n; ++k)
        out[k] = pfr_mlp_activate(m->act, z[k]);
    for (int k = n; k < PFR_DQN_V; ++k)
        out[k] = 0.0f;
}

/* The forward pass of n lanes (inputs already in acts' first w_0 rows): every layer's output into
 * acts, lane-minor. Per lane: bias, then weight times input in input order, then the activation. */
PFR_DQN_INLINE void PFR_DQN_NAME(pfr_dqn_lanes_forward)(const pfr_mlp *m, const float *p, float *acts, int n)
{
    enum { V = PFR_DQN_V };
    const float *in = acts;
    float *out = acts + (size_t)m->width[0] * V;
    for (int l = 0; l < m->layers; ++l) {
        const int ni = m->width[l], no = m->width[l + 1];
        const float *W = p, *b = p + (size_t)no * ni;
        /* four outputs at a time: four independent chains share each input load (each output's adds
         * still run over its inputs in order) */
        int o = 0;
        for (; o + 4 <= no; o += 4) {
            const float *w0 = W + (size_t)o * ni, *w1 = w0 + ni, *w2 = w1 + ni, *w3 = w2 + ni;
            pfr_dqn_vec z0, z1, z2, z3;
            for (int k = 0; k < V; ++k)
                z0[k] = b[o], z1[k] = b[o + 1], z2[k] = b[o + 2], z3[k] = b[o + 3];
            for (int i = 0; i < ni; ++i) {
                const pfr_dqn_vec x = *(const pfr_dqn_vec *)(in + (size_t)i * V);
                z0 += w0[i] * x;
                z1 += w1[i] * x;
                z2 += w2[i] * x;
                z3 += w3[i] * x;
            }
            PFR_DQN_NAME(pfr_dqn_lanes_out)(m, z0, out + (size_t)o * V, n);
            PFR_DQN_NAME(pfr_dqn_lanes_out)(m, z1, out + (size_t)(o + 1) * V, n);
            PFR_DQN_NAME(pfr_dqn_lanes_out)(m, z2, out + (size_t)(o + 2) * V, n);
            PFR_DQN_NAME(pfr_dqn_lanes_out)(m, z3, out + (size_t)(o + 3) * V, n);
        }
        for (; o < no; ++o) {
            pfr_dqn_vec z;
            for (int k = 0; k < V; ++k)
                z[k] = b[o];
            for (int i = 0; i < ni; ++i)
                z += W[(size_t)o * ni + i] * *(const pfr_dqn_vec *)(in + (size_t)i * V);
            PFR_DQN_NAME(pfr_dqn_lanes_out)(m, z, out + (size_t)o * V, n);
        }
        p += (size_t)no * ni + no;
        in = out;
        out += (size_t)no * V;
    }
}

/* theta[a] . f of lane k (features lane-minor at f). */
PFR_DQN_INLINE float PFR_DQN_NAME(pfr_dqn_lanes_q)(const float *theta, const float *f, int a, int d, int k)
{
    float q = 0.0f;
    for (int j = 0; j < d; ++j)
        q += theta[(size_t)a * d + j] * f[(size_t)j * PFR_DQN_V + k];
    return q;
}

/* pfr_dqn_step's contract and result, its samples PFR_DQN_V at a time. */
PFR_DQN_TARGET static float PFR_DQN_NAME(pfr_dqn_step_lanes)(const pfr_mlp *m, int A, float *p, float *theta, const float *p_tgt,
                                       const float *theta_tgt, const pfr_replay *rb, const int *idx,
                                       const pfr_dqn_cfg *c, float *gp, float *gt, float *mp, float *vp, float *mt,
                                       float *vt, int t, float *scratch)
{
    enum { V = PFR_DQN_V };
    const int L = m->layers, np = pfr_mlp_params(m), d = m->width[L], O = m->width[0];
    const int wmax = pfr_dqn_step_widest(m);
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
        PFR_DQN_NAME(pfr_dqn_lanes_forward)(m, p_tgt, acts, n);
        const float *f = acts + (size_t)aoff[L] * V;
        for (int k = 0; k < n; ++k) {
            const int i = idx[b0 + k];
            y[k] = rb->reward[i];
            act[k] = rb->action[i];
            if (!rb->done[i]) {
                float best = PFR_DQN_NAME(pfr_dqn_lanes_q)(theta_tgt, f, 0, d, k);
                for (int a = 1; a < A; ++a) {
                    const float q = PFR_DQN_NAME(pfr_dqn_lanes_q)(theta_tgt, f, a, d, k);
                    best = q > best ? q : best;
                }
                y[k] = y[k] + c->gamma * best;
            }
        }
        /* the online network, the TD errors, the loss in sample order */
        for (int k = 0; k < V; ++k)
            for (int j = 0; j < O; ++j)
                acts[(size_t)j * V + k] = k < n ? rb->obs[(size_t)idx[b0 + k] * rb->n_obs + j] : 0.0f;
        PFR_DQN_NAME(pfr_dqn_lanes_forward)(m, p, acts, n);
        for (int k = 0; k < n; ++k) {
            const float e = PFR_DQN_NAME(pfr_dqn_lanes_q)(theta, f, act[k], d, k) - y[k];
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
            for (int o = 0; o < no; ++o) { /* each entry's adds in sample order, kept in a register */
                const float *co = cur + (size_t)o * V;
                float *gw = gW + (size_t)o * ni;
                int i = 0;
                for (; i + V <= ni; i += V) { /* V entries of the row at once */
                    pfr_dqn_vec a = *(const pfr_dqn_vec *)(gw + i);
                    for (int k = 0; k < n; ++k)
                        a += co[k] * *(const pfr_dqn_vec *)(rows + (size_t)k * ni + i);
                    *(pfr_dqn_vec *)(gw + i) = a;
                }
                for (; i < ni; ++i) {
                    float a = gw[i];
                    for (int k = 0; k < n; ++k)
                        a += co[k] * rows[(size_t)k * ni + i];
                    gw[i] = a;
                }
                float bs = gb[o];
                for (int k = 0; k < n; ++k)
                    bs += co[k];
                gb[o] = bs;
            }
            if (l == 0)
                break;
            for (int i0 = 0; i0 < ni; i0 += 4) { /* the error of the layer below, outputs in order; four
                                                    inputs at a time, as four chains */
                const int ni4 = ni - i0 < 4 ? ni - i0 : 4;
                pfr_dqn_vec acc[4];
                for (int q = 0; q < 4; ++q)
                    for (int k = 0; k < V; ++k)
                        acc[q][k] = 0.0f;
                for (int o = 0; o < no; ++o) {
                    const pfr_dqn_vec co = *(const pfr_dqn_vec *)(cur + (size_t)o * V);
                    const float *w = W + (size_t)o * ni + i0;
                    for (int q = 0; q < 4; ++q)
                        if (q < ni4)
                            acc[q] += w[q] * co;
                }
                for (int q = 0; q < ni4; ++q)
                    for (int k = 0; k < V; ++k)
                        nxt[(size_t)(i0 + q) * V + k] =
                            acc[q][k] * pfr_mlp_dact(m->act, in[(size_t)(i0 + q) * V + k]);
            }
            float *tmp = cur;
            cur = nxt;
            nxt = tmp;
        }
    }
    pfr_dqn_apply(c, np, A * d, p, theta, gp, gt, mp, vp, mt, vt, t);
    return loss * scale;
}

#undef pfr_dqn_vec
#undef PFR_DQN_INLINE
