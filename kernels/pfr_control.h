/*
 * pfr_control.h — control's action rules (DESIGN §12), one source for both engines: the CPU
 * engine's step (host/cpu/cpu_control.c) and the CUDA engine's (pfr_agent_round.h) call these with the
 * Q-values they read through their own overlays. __host__ __device__, integer decisions from the
 * agent's words, so no engine can pick another action on the same Q-values.
 */
#ifndef PFR_CONTROL_H
#define PFR_CONTROL_H

#include "pfr_agent_math.h"

#define PFR_CONTROL_MAX_A 64 /* env.actions at most (config.c) */
/* pfr_round_args.control: pfr_control's values (pfedrl.h), which kernel code does not include */
#define PFR_CONTROL_KIND_SARSA 1
#define PFR_CONTROL_KIND_QLEARNING 2

/* epsilon-greedy over q[0 .. A-1]: explore iff `explore` < thr (epsilon as a 2^32 fraction), then a
 * uniform action by `pick`; else a uniform choice by `pick` among the tied maxima. */
PFR_HD static inline int pfr_egreedy(const float *q, int A, uint32_t explore, uint32_t pick, uint64_t thr)
{
    if ((uint64_t)explore < thr)
        return (int)pfr_word_below(pick, (uint32_t)A);
    float best = q[0];
    for (int b = 1; b < A; ++b)
        best = q[b] > best ? q[b] : best;
    int ties = 0;
    for (int b = 0; b < A; ++b)
        ties += q[b] == best;
    int k = (int)pfr_word_below(pick, (uint32_t)ties);
    for (int b = 0; b < A; ++b)
        if (q[b] == best && k-- == 0)
            return b;
    return 0; /* not reached (q holds no NaN: a diverged run stops at its evaluation) */
}

/* The first maximum of q[0 .. A-1] (Q-learning's target: its value is what counts). */
PFR_HD static inline int pfr_argmax_first(const float *q, int A)
{
    int arg = 0;
    for (int b = 1; b < A; ++b)
        if (q[b] > q[arg])
            arg = b;
    return arg;
}

#endif
