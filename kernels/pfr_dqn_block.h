/*
 * pfr_dqn_block.h — pfr_dqn_step (kernels/pfr_dqn.h) written for a block of threads: one agent's
 * minibatch gradient step with the work of every phase spread over the block, the same bits as the
 * reference (issue 29: a GPU block per agent). Host/device code like the rest of kernels/: a phase is
 * a function of (tid, nthreads) over the block's items; phases are separated by a barrier
 * (__syncthreads on the device, nothing on the host, where tests/test_dqn_block.cc runs the threads
 * of each phase one after the other, in any order, for any thread count).
 *
 * Why it is the reference's bits: every number the reference computes as a chain of dependent
 * adds is computed here by one thread in the same order; only independent chains run side by side.
 *   forward    item (net, sample b, unit o): bias, then weight x input in input order, activation
 *   targets    item b: y_b = r + gamma max_a theta_tgt[a] . f_tgt (a in order), e_b, g_b, loss_b
 *   head       item (a, j): gtheta[a, j] = sum over samples b with action a of g_b f_b[j], b in order
 *              item (b, j): cur_b[j] = g_b theta[a_b, j] dact(f_b[j]); item 0 also sums the loss
 *   layer l    item (o, i): gW[o, i] = sum_b cur_b[o] in_b[i], b in order (gb likewise)
 *              item (b, i): nxt_b[i] = (sum_o W[o, i] cur_b[o], o in order) dact(in_b[i])
 *   optimizer  item k: Adam's or SGD's update of entry k (pfr_adam_one)
 * The reference zeroes a gradient, then adds sample 0's term, 1's, ...; here a thread starts from
 * 0.0f and adds the same terms in the same order: the same float.
 *
 * Shapes (B = batch, W = pfr_mlp_acts floats a sample, D = the widest layer):
 *   acts_o, acts_t [B, W]  the online and the target network's activations, sample-major
 *   cur, nxt [B, D]        the error at a layer's outputs, two buffers taking turns
 *   g, loss [B]            dloss/dQ x 1 / B, and each sample's loss
 * Phases: L forward (both networks together), targets, head, L layers, optimizer: 2 L + 3.
 *
 * Napkin math (4 -> 64 -> 16, A = 2, B = 16, 128 threads): the longest chain of a phase is 64 adds
 * (a 16-unit output over 64 inputs, or a 64-unit delta over 16 outputs: 16); items per phase ~1-2k,
 * so ~10 passes of 128 threads; ~0.13 Mflop a step in ~8 barriers: a few us of one SM's quarter, where a
 * CPU core takes 6.9 us with AVX-512 (bench/RESULTS.md).
 */
#ifndef PFR_DQN_BLOCK_H
#define PFR_DQN_BLOCK_H

#include "pfr_dqn.h"

/* One agent's step: its networks, its buffer's minibatch, its optimizer, the block's scratch. */
typedef struct pfr_dqn_block {
    const pfr_mlp *m;
    int A;
    const pfr_dqn_cfg *c;
    float *p, *theta;                 /* the online network, updated by the last phase */
    const float *p_tgt, *theta_tgt;   /* the target network */
    const pfr_replay *rb;
    const int *idx;                   /* [B] the minibatch */
    float *gp, *gt;                   /* [P], [A d] the gradients */
    float *mp, *vp, *mt, *vt;         /* Adam's moments (NULL with SGD) */
    int t;                            /* Adam's step count, 1 at the first */
    float *acts_o, *acts_t, *cur, *nxt, *g, *loss;
    int D;                            /* cur's and nxt's row length: the widest layer */
    float *loss_out;                  /* the mean loss, written by the head phase */
} pfr_dqn_block;

/* Floats of scratch a block needs: acts_o, acts_t, cur, nxt, g, loss. */
PFR_HD static inline int pfr_dqn_block_scratch(const pfr_mlp *m, int batch)
{
    int D = 0;
    for (int l = 1; l <= m->layers; ++l)
        D = m->width[l] > D ? m->width[l] : D;
    return batch * (2 * pfr_mlp_acts(m) + 2 * D + 2);
}

/* The scratch's pieces, from one array of pfr_dqn_block_scratch floats. */
PFR_HD static inline void pfr_dqn_block_carve(pfr_dqn_block *s, float *scratch)
{
    const pfr_mlp *m = s->m;
    const int B = s->c->batch, W = pfr_mlp_acts(m);
    int D = 0;
    for (int l = 1; l <= m->layers; ++l)
        D = m->width[l] > D ? m->width[l] : D;
    s->D = D;
    s->acts_o = scratch;
    s->acts_t = s->acts_o + B * W;
    s->cur = s->acts_t + B * W;
    s->nxt = s->cur + B * D;
    s->g = s->nxt + B * D;
    s->loss = s->g + B;
}

PFR_HD static inline int pfr_dqn_block_phases(const pfr_mlp *m) { return 2 * m->layers + 3; }

/* Offsets of layer l's parameters and of its input among a sample's activations. */
PFR_HD static inline int pfr_dqn_block_poff(const pfr_mlp *m, int l)
{
    int off = 0;
    for (int k = 0; k < l; ++k)
        off += m->width[k + 1] * m->width[k] + m->width[k + 1];
    return off;
}

PFR_HD static inline int pfr_dqn_block_aoff(const pfr_mlp *m, int l)
{
    int off = 0;
    for (int k = 0; k < l; ++k)
        off += m->width[k];
    return off;
}

/* Forward layer l of both networks for every sample: items (net, b, o). Layer 0 first copies the
 * inputs (the state for the online network, the next state for the target network). */
PFR_HD static inline void pfr_dqn_block_forward(const pfr_dqn_block *s, int l, int tid, int nt)
{
    const pfr_mlp *m = s->m;
    const int B = s->c->batch, W = pfr_mlp_acts(m), n_obs = s->rb->n_obs;
    const int ni = m->width[l], no = m->width[l + 1], ain = pfr_dqn_block_aoff(m, l), aout = ain + ni;
    const int po = pfr_dqn_block_poff(m, l);
    for (int it = tid; it < 2 * B * no; it += nt) {
        const int net = it / (B * no), b = (it / no) % B, o = it % no;
        const float *p = net ? s->p_tgt : s->p;
        float *acts = (net ? s->acts_t : s->acts_o) + (size_t)b * W;
        const int row = s->idx[b];
        const float *x = (net ? s->rb->next : s->rb->obs) + (size_t)row * n_obs;
        /* the input this unit reads: layer 0 from the buffer (and unit o < n_obs stores it), above
         * from the layer below */
        const float *in = l == 0 ? x : acts + ain;
        for (int i = o; l == 0 && i < ni; i += no) /* layer 0: the inputs kept for the backward pass */
            acts[i] = x[i];
        const float *Wl = p + po, *bl = Wl + (size_t)no * ni;
        float z = bl[o];
        for (int i = 0; i < ni; ++i)
            z += Wl[(size_t)o * ni + i] * in[i];
        acts[aout + o] = pfr_mlp_activate(m->act, z);
    }
}

/* Layer l of one observation's forward pass through the body p (the action's choice): items o.
 * acts [pfr_mlp_acts] holds the observation in its first w_0 floats; pfr_mlp_forward's bits. */
PFR_HD static inline void pfr_dqn_block_forward_one(const pfr_mlp *m, const float *p, float *acts, int l, int tid, int nt)
{
    const int ni = m->width[l], no = m->width[l + 1], ain = pfr_dqn_block_aoff(m, l);
    const float *Wl = p + pfr_dqn_block_poff(m, l), *bl = Wl + (size_t)no * ni, *in = acts + ain;
    for (int o = tid; o < no; o += nt) {
        float z = bl[o];
        for (int i = 0; i < ni; ++i)
            z += Wl[(size_t)o * ni + i] * in[i];
        acts[ain + ni + o] = pfr_mlp_activate(m->act, z);
    }
}

/* The targets, TD errors and losses: item b. */
PFR_HD static inline void pfr_dqn_block_targets(const pfr_dqn_block *s, int tid, int nt)
{
    const pfr_mlp *m = s->m;
    const int B = s->c->batch, W = pfr_mlp_acts(m), L = m->layers, d = m->width[L], fo = pfr_dqn_block_aoff(m, L);
    const float scale = 1.0f / (float)B;
    for (int b = tid; b < B; b += nt) {
        const int row = s->idx[b];
        float y = s->rb->reward[row];
        if (!s->rb->done[row]) {
            const float *fn = s->acts_t + (size_t)b * W + fo;
            float best = pfr_mlp_q(s->theta_tgt, fn, 0, d);
            for (int a = 1; a < s->A; ++a) {
                const float q = pfr_mlp_q(s->theta_tgt, fn, a, d);
                best = q > best ? q : best;
            }
            y = y + s->c->gamma * best;
        }
        const int a = s->rb->action[row];
        const float e = pfr_mlp_q(s->theta, s->acts_o + (size_t)b * W + fo, a, d) - y;
        const float ae = e < 0.0f ? -e : e;
        s->loss[b] = s->c->huber && ae > 1.0f ? ae - 0.5f : 0.5f * e * e;
        s->g[b] = pfr_mlp_dloss(e, s->c->huber) * scale;
    }
}

/* The head's gradient, the error at the features, the mean loss. */
PFR_HD static inline void pfr_dqn_block_head(const pfr_dqn_block *s, int tid, int nt)
{
    const pfr_mlp *m = s->m;
    const int B = s->c->batch, W = pfr_mlp_acts(m), L = m->layers, d = m->width[L], fo = pfr_dqn_block_aoff(m, L);
    for (int it = tid; it < s->A * d; it += nt) { /* (a, j) */
        const int a = it / d, j = it % d;
        float acc = 0.0f;
        for (int b = 0; b < B; ++b)
            if (s->rb->action[s->idx[b]] == a)
                acc += s->g[b] * s->acts_o[(size_t)b * W + fo + j];
        s->gt[it] = acc;
    }
    const int D = s->D;
    for (int it = tid; it < B * d; it += nt) { /* (b, j) */
        const int b = it / d, j = it % d, a = s->rb->action[s->idx[b]];
        const float f = s->acts_o[(size_t)b * W + fo + j];
        s->cur[(size_t)b * D + j] = s->g[b] * s->theta[(size_t)a * d + j] * pfr_mlp_dact(m->act, f);
    }
    if (tid == 0) {
        float loss = 0.0f;
        for (int b = 0; b < B; ++b)
            loss += s->loss[b];
        *s->loss_out = loss * (1.0f / (float)B);
    }
}

/* Layer l's gradient and the error below it. The error at layer l's outputs is in cur when
 * (L - 1 - l) is even, else in nxt; the error below goes to the other. */
PFR_HD static inline void pfr_dqn_block_layer(const pfr_dqn_block *s, int l, int tid, int nt)
{
    const pfr_mlp *m = s->m;
    const int B = s->c->batch, W = pfr_mlp_acts(m), L = m->layers;
    const int D = s->D;
    const int ni = m->width[l], no = m->width[l + 1], ain = pfr_dqn_block_aoff(m, l), po = pfr_dqn_block_poff(m, l);
    const float *cur = ((L - 1 - l) % 2 == 0) ? s->cur : s->nxt;
    float *below = ((L - 1 - l) % 2 == 0) ? s->nxt : s->cur;
    const float *Wl = s->p + po;
    float *gW = s->gp + po, *gb = gW + (size_t)no * ni;
    for (int it = tid; it < no * (ni + 1); it += nt) { /* (o, i), i = ni: the bias */
        const int o = it / (ni + 1), i = it % (ni + 1);
        float acc = 0.0f;
        for (int b = 0; b < B; ++b)
            acc += i < ni ? cur[(size_t)b * D + o] * s->acts_o[(size_t)b * W + ain + i] : cur[(size_t)b * D + o];
        if (i < ni)
            gW[(size_t)o * ni + i] = acc;
        else
            gb[o] = acc;
    }
    if (l == 0)
        return;
    for (int it = tid; it < B * ni; it += nt) { /* (b, i) */
        const int b = it / ni, i = it % ni;
        float sum = 0.0f;
        for (int o = 0; o < no; ++o)
            sum += Wl[(size_t)o * ni + i] * cur[(size_t)b * D + o];
        below[(size_t)b * D + i] = sum * pfr_mlp_dact(m->act, s->acts_o[(size_t)b * W + ain + i]);
    }
}

/* The optimizer: item k over the body's entries (unless frozen), then the head's. */
PFR_HD static inline void pfr_dqn_block_apply(const pfr_dqn_block *s, int tid, int nt)
{
    const pfr_dqn_cfg *c = s->c;
    const int np = pfr_mlp_params(s->m), nh = s->A * s->m->width[s->m->layers];
    const float c1 = (float)(1.0 - pfr_powi((double)c->beta1, s->t)), c2 = (float)(1.0 - pfr_powi((double)c->beta2, s->t));
    for (int k = tid; k < np + nh; k += nt) {
        const int body = k < np, e = body ? k : k - np;
        if (body && c->freeze_body)
            continue;
        float *p = body ? s->p : s->theta;
        const float *g = body ? s->gp : s->gt;
        if (c->sgd)
            p[e] = p[e] - c->lr * g[e];
        else
            pfr_adam_one(p + e, g[e], (body ? s->mp : s->mt) + e, (body ? s->vp : s->vt) + e, c->lr, c->beta1, c->beta2,
                         c->eps, c1, c2);
    }
}

/* Phase `phase` (0 .. pfr_dqn_block_phases - 1) for thread tid of nt. */
PFR_HD static inline void pfr_dqn_block_phase(const pfr_dqn_block *s, int phase, int tid, int nt)
{
    const int L = s->m->layers;
    if (phase < L)
        pfr_dqn_block_forward(s, phase, tid, nt);
    else if (phase == L)
        pfr_dqn_block_targets(s, tid, nt);
    else if (phase == L + 1)
        pfr_dqn_block_head(s, tid, nt);
    else if (phase < 2 * L + 2)
        pfr_dqn_block_layer(s, L - 1 - (phase - L - 2), tid, nt);
    else
        pfr_dqn_block_apply(s, tid, nt);
}

#endif
