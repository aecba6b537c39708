/*
 * pfr_warp_round.h — one agent's round for a warp of 32 lanes (local_steps.cu's warp kernel), written
 * once against a small set of warp operations W so that the CPU tests can run the very same code:
 *   W::lane(), W::shfl(v, src), W::shfl_xor(v, mask), W::ballot(pred), W::syncwarp(),
 *   W::words(seed, agent, t): the four Philox words of (agent, t), i.e. cuRAND's
 *   curand_init(seed, agent, 4t) + curand4() on the device.
 * The device supplies them with the warp intrinsics; tests/test_cuda_logic.cc with 32 lanes run as
 * coroutines that meet at every exchange. C++ (a template), for nvcc and the tests; the C engine does
 * not include it.
 *
 * Lane j holds theta[j] and theta[j+32] (d <= 64); a row of Phi_i is one coalesced load; the dot
 * products are summed across lanes in exactly pfr_dot's order (pfr_warp_dot) and each lane applies
 * pfr_td_update to its elements, so the result equals the thread-per-agent round's, bit for bit.
 */
#ifndef PFR_WARP_ROUND_H
#define PFR_WARP_ROUND_H

#include "pfr_agent_round.h"

/*
 * The dot product of pfr_dot, summed across a warp. Lane l holds the products p0 = x[l] * y[l] and
 * p1 = x[l+32] * y[l+32] (anything beyond d is ignored). pfr_dot adds element e into partial e mod 8
 * in index order, then combines ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)). Here lane l gathers the
 * elements of partial l & 7 in index order from the lanes that hold them, then three butterfly
 * steps: xor 4 gives a_l + a_{l^4}, xor 2 the two brackets, xor 1 their sum. Float addition is
 * commutative, so every lane ends with the same bits, and they are pfr_dot's.
 */
template <class W> PFR_HD inline float pfr_warp_dot(W &w, float p0, float p1, int d)
{
    const int l8 = w.lane() & 7;
    float acc = 0.0f;
    for (int q = 0; 8 * q < d; ++q) { /* uniform trip count */
        const int e = 8 * q + l8;     /* the element this lane adds next */
        const float v0 = w.shfl(p0, e & 31);
        const float v1 = d > 32 ? w.shfl(p1, e & 31) : 0.0f;
        if (e < d)
            acc += e < 32 ? v0 : v1;
    }
    float s = acc + w.shfl_xor(acc, 4);
    s = s + w.shfl_xor(s, 2);
    return s + w.shfl_xor(s, 1);
}

/* An agent's overlay, seen by the whole warp. The row ids and the slot map are written by lane 0
 * between two syncwarp()s: after every lane's lookup (else a lane that reads late would see the new
 * entry and skip the insert: a race the lane-by-lane CPU test exposed) and before the next one.
 * Each lane only ever reads back the overlay values it wrote itself. */
struct pfr_warp_overlay {
    uint32_t *rows; /* [R] */
    float *vals;    /* [R, d] */
    uint8_t *slot;  /* [S] or NULL */
    int n;          /* rows in use, the same in every lane */
};

/* Slot of state s in the overlay, or -1. */
template <class W> PFR_HD inline int pfr_warp_find(W &w, const pfr_warp_overlay &o, uint32_t s)
{
    if (o.slot) {
        const uint8_t q = o.slot[s];
        return q == 0xFFu ? -1 : (int)q;
    }
    for (int base = 0; base < o.n; base += 32) { /* rows are distinct: at most one lane hits */
        const int q = base + w.lane();
        const unsigned hit = w.ballot(q < o.n && o.rows[q] == s);
        if (hit) {
#if defined(__CUDA_ARCH__)
            return base + __ffs(hit) - 1;
#else
            return base + __builtin_ctz(hit);
#endif
        }
    }
    return -1;
}

/* Agent i's round (chunk of `a`), run by each of the warp's 32 lanes. */
template <class W> PFR_HD inline void pfr_warp_agent_round(const pfr_round_args *ap, int64_t i, W &w)
{
    const pfr_round_args &a = *ap;
    const int lane = w.lane();
    const int d = a.d;
    const int j0 = lane, j1 = lane + 32; /* this lane's elements */
    const bool has0 = j0 < d, has1 = j1 < d;

    /* Lane l draws the words of step kb + l; step k's word is shuffled from lane k - kb. */
    const uint64_t t0 = a.t0_dev ? *a.t0_dev : a.t0;
    pfr_words wd = w.words(a.seed, (uint64_t)i, t0 + (uint64_t)lane);
    if ((uint64_t)w.shfl(wd.w[PFR_WORD_PARTICIPATION], 0) >= a.part_threshold || (a.steps && a.steps[i] == 0)) {
        if (lane == 0)
            a.took_part[i] = 0;
        return;
    }

    uint32_t s = a.state[i];
    const uint32_t *rp = a.row_ptr + (size_t)(a.type_first + (int)(i % a.type_count)) * (a.S + 1);
    pfr_warp_overlay o;
    o.rows = a.ov_rows ? a.ov_rows + (size_t)(i - a.i0) * a.R : nullptr;
    o.vals = a.ov_vals ? a.ov_vals + (size_t)(i - a.i0) * a.R * d : nullptr;
    o.slot = a.ov_slot ? a.ov_slot + (size_t)(i - a.i0) * a.S : nullptr;
    o.n = 0;
    float *own = a.agent_phi ? a.agent_phi + (size_t)i * a.S * d : nullptr;
    float *theta = a.theta + (size_t)i * d;
    float th0 = has0 ? theta[j0] : 0.0f, th1 = has1 ? theta[j1] : 0.0f;
    const float *phi = pfr_agent_base(ap, i); /* the Phi it starts from (stale with delays) */
    const int K = pfr_agent_steps(ap, i);

    for (int k = 0; k < K; ++k) {
        if (k > 0 && (k & 31) == 0)
            wd = w.words(a.seed, (uint64_t)i, t0 + (uint64_t)(k + lane));
        const uint32_t u = w.shfl(wd.w[PFR_WORD_TRANSITION], k & 31);
        const uint32_t lo = rp[s];
        const uint32_t j = lo + pfr_sample_entry(a.thr + lo, rp[s + 1] - lo, u);
        const uint32_t s2 = a.next[j];
        float *ps;
        const float *pn;
        if (own) { /* local_rep: the agent's own Phi_i */
            ps = own + (size_t)s * d;
            pn = own + (size_t)s2 * d;
        } else if (o.rows) { /* the shared Phi seen through the overlay, as pfr_agent_step does */
            int q = pfr_warp_find(w, o, s);
            if (q < 0) {     /* first visit (every lane agrees): copy the shared row into a new slot */
                w.syncwarp(); /* every lane has read the slot map before lane 0 writes it below */
                q = o.n++;
                float *dst = o.vals + (size_t)q * d;
                if (has0)
                    dst[j0] = phi[(size_t)s * d + j0];
                if (has1)
                    dst[j1] = phi[(size_t)s * d + j1];
                if (lane == 0) {
                    o.rows[q] = s;
                    if (o.slot)
                        o.slot[s] = (uint8_t)q;
                }
                w.syncwarp();
            }
            ps = o.vals + (size_t)q * d;
            const int q2 = pfr_warp_find(w, o, s2);
            pn = q2 < 0 ? phi + (size_t)s2 * d : o.vals + (size_t)q2 * d;
        } else { /* fixed features */
            ps = (float *)(phi + (size_t)s * d);
            pn = phi + (size_t)s2 * d;
        }
        float x0 = has0 ? ps[j0] : 0.0f, x1 = has1 ? ps[j1] : 0.0f;
        const float y0 = has0 ? pn[j0] : 0.0f, y1 = has1 ? pn[j1] : 0.0f;
        const float delta = pfr_td_delta(a.reward[j], a.gamma, pfr_warp_dot(w, x0 * th0, x1 * th1, d),
                                         pfr_warp_dot(w, y0 * th0, y1 * th1, d));
        const float ca = a.alpha[k] * delta, cb = a.beta[k] * delta;
        pfr_td_update(&x0, &th0, ca, cb, a.learn_phi);
        pfr_td_update(&x1, &th1, ca, cb, a.learn_phi);
        if (a.learn_phi) { /* ps is the agent's own row here (overlay or Phi_i), never the shared Phi */
            if (has0)
                ps[j0] = x0;
            if (has1)
                ps[j1] = x1;
        }
        s = s2;
    }

    if (has0)
        theta[j0] = th0;
    if (has1)
        theta[j1] = th1;
    if (o.slot) /* leave the slot map empty for the next round's agent in this place */
        for (int q = lane; q < o.n; q += 32)
            o.slot[o.rows[q]] = 0xFFu;
    if (lane == 0) {
        a.state[i] = s;
        if (o.rows)
            a.ov_count[i - a.i0] = o.n;
        a.took_part[i] = 1;
    }
}

#endif
