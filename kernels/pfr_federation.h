/*
 * pfr_federation.h — the random parts of federation as it happens (availability, stragglers, stale
 * Phi, the private aggregation's noise) as __host__ __device__ functions of the run seed, the round
 * and the agent: no stored random state, so every engine and any thread count draws the same.
 * The host (host/sim/federation.c) runs them today; a device engine can run the same lines per agent.
 *
 * Agent i's draws for round r: the four words of stream PFR_STREAM_FEDERATION + i at counter r
 * (pfr_constants.h names which word does what). Thresholds are 2^32 fractions, as the
 * participation threshold (pfr_participation_threshold, host/engine.h): an event of probability p
 * happens iff its word < floor(p 2^32) (2^32: always).
 */
#ifndef PFR_FEDERATION_H
#define PFR_FEDERATION_H

#include <math.h>

#include "pfr_agent_math.h"

/* What an agent's round draws need (fixed for a run but the round). */
typedef struct pfr_fed_draw {
    uint64_t seed;
    int64_t round;
    int K;
    int chain;                 /* availability by the two-state chain (else: trace or always) */
    uint64_t drop_thr;         /* a present agent leaves iff its word < drop_thr */
    uint64_t return_thr;       /* an absent agent returns iff its word < return_thr */
    uint64_t straggle_thr;     /* the agent straggles iff its word < straggle_thr (0: nobody) */
    uint64_t part_threshold;   /* i.i.d. participation, word PFR_WORD_PARTICIPATION of step round*K */
    int delay, max_delay;      /* a fixed delay, or one drawn on 0 .. max_delay (max_delay > 0) */
} pfr_fed_draw;

/* Agent i's round: its availability (*avail, the chain's state, moved first; `available` from a
 * trace when there is no chain), then whether it takes part, how many steps it does (0: it sits the
 * round out) and the age of the Phi it starts from (*age, capped by the rounds there have been). */
PFR_HD static inline uint32_t pfr_fed_agent(const pfr_fed_draw *a, int64_t i, uint8_t *avail, int available,
                                            uint8_t *age)
{
    const pfr_words w = pfr_stream_words(a->seed, PFR_STREAM_FEDERATION + (uint64_t)i, (uint64_t)a->round);
    if (a->chain) {
        const uint32_t u = w.w[PFR_FED_WORD_AVAILABILITY];
        if (*avail)
            *avail = (uint64_t)u < a->drop_thr ? 0 : 1;
        else
            *avail = (uint64_t)u < a->return_thr ? 1 : 0;
        available = *avail;
    }
    int a_ = a->delay;
    if (a->max_delay > 0)
        a_ = (int)pfr_word_below(w.w[PFR_FED_WORD_DELAY], (uint32_t)a->max_delay + 1u);
    *age = (uint8_t)(a_ < a->round ? a_ : a->round);
    if (!available)
        return 0;
    if (a->part_threshold < (1ull << 32)) {
        const pfr_words p = pfr_stream_words(a->seed, (uint64_t)i, (uint64_t)a->round * (uint64_t)a->K);
        if ((uint64_t)p.w[PFR_WORD_PARTICIPATION] >= a->part_threshold)
            return 0;
    }
    if ((uint64_t)w.w[PFR_FED_WORD_STRAGGLE] < a->straggle_thr)
        return 1u + pfr_word_below(w.w[PFR_FED_WORD_STEPS], (uint32_t)a->K - 1u);
    return (uint32_t)a->K;
}

/* The private aggregation's standard normal for entry e of Phi ([S, d] row-major) in round r: one
 * Philox evaluation gives two 53-bit uniforms and, by Box-Muller, the normals of entries 2q and
 * 2q + 1. (Floating-point Gaussian noise is what DP libraries use; it is not a formally exact
 * mechanism, Mironov 2012: said in docs/DESIGN.md.) */
PFR_HD static inline double pfr_dp_gauss(uint64_t seed, int64_t round, uint64_t e)
{
    const pfr_words w = pfr_stream_words(seed, PFR_STREAM_DP_NOISE, ((uint64_t)round << 32) | (e >> 1));
    const double u1 = ((double)(((uint64_t)w.w[0] << 21) | (w.w[1] >> 11)) + 0.5) * 0x1p-53; /* (0, 1) */
    const double u2 = (double)(((uint64_t)w.w[2] << 21) | (w.w[3] >> 11)) * 0x1p-53;         /* [0, 1) */
    const double r = sqrt(-2.0 * log(u1)), t = 6.283185307179586 * u2;
    return r * ((e & 1u) ? sin(t) : cos(t));
}

#endif
