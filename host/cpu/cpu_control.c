/*
 * cpu_control.c — the CPU engine's local steps for control (control = sarsa or qlearning): Q_i(s, a)
 * = Phi_i[s A + a] . theta_i, with Phi_i the shared Phi seen through the agent's overlay (as for
 * policy evaluation), or its own Phi_i (local_rep), or fixed features. The rows of Phi are the
 * state-action pairs, so aggregation, orthonormalization and the overlays are the engine's usual
 * ones (cpu_blocks.c); only the step differs.
 *
 * A step at state s with the words w of agent i at global step t (DESIGN §2):
 *   Q-learning: a = epsilon-greedy(Q(s, .)) by w2 (explore iff w2 < the round's threshold) and w3
 *     (exploring: a uniform action; else a uniform choice among the tied maxima); s' from row s A + a
 *     by w0; target row (s', argmax_b Q(s', b)) (the first maximum: its value is what counts). The
 *     rules are kernels/pfr_control.h's, which the CUDA engine's step calls too.
 *   SARSA: a = the action drawn at the previous step (action[i]); s' by w0; a' = epsilon-greedy at
 *     s' by w2, w3; target row (s', a'); action[i] = a'.
 * then the TD update of pfr_td_step on (row, target row): theta with the old Phi row, the row with
 * the old theta. Q(s', .) is read before the update. The words of a chunk of steps come from one
 * 16-lane Philox a step (all four words), then each agent walks the chunk. Napkin: A + 1 dot products
 * of d a step (Q-learning), no vector step across agents yet (bench/RESULTS.md).
 */
#include <string.h>

#include "kernels/pfr_control.h"
#include "cpu_engine.h"

_Static_assert(PFR_CONTROL_KIND_SARSA == (int)PFR_CONTROL_SARSA && PFR_CONTROL_KIND_QLEARNING == (int)PFR_CONTROL_QLEARNING,
               "the kernels' control values are pfr_control's");

/* Agent g's copy of row r for reading: its overlay's, else the base Phi's. */
static inline const float *read_row(const cpu_engine *e, cpu_thread *w, int g, const float *base, float *own,
                                    uint32_t r, int d, int overlay)
{
    if (own)
        return own + (size_t)r * d;
    if (overlay && e->map)
        return pfr_overlay_find_map(&w->lane[g], base, r, d);
    if (overlay) {
        const float *p = pfr_overlay_find(&w->lane[g], r, d);
        return p ? p : base + (size_t)r * d;
    }
    return base + (size_t)r * d;
}

/* Q(s, .) of agent g into q[0 .. A-1]. */
static void q_values(const cpu_engine *e, cpu_thread *w, int g, const float *base, float *own, uint32_t s,
                     const float *th, int d, int overlay, float *q)
{
    const int A = e->sim->A;
    for (int b = 0; b < A; ++b)
        q[b] = pfr_dot(read_row(e, w, g, base, own, s * (uint32_t)A + (uint32_t)b, d, overlay), th, d);
}

void pfr_cpu_group_control(cpu_engine *e, cpu_thread *w, int64_t i0, int G, int *part, int vec)
{
    pfr_sim *sim = e->sim;
    const pfr_round_plan *plan = e->plan;
    const pfr_env *env = sim->env;
    const int d = sim->d, A = sim->A, iters = e->iters;
    const int learn = sim->learn_phi, overlay = sim->learn_phi && !sim->own_phi;
    const int sarsa = sim->control == PFR_CONTROL_SARSA;
    const uint64_t seed = sim->cfg.seed, t0 = plan->t0;
    const float gamma = (float)sim->cfg.gamma;
    uint32_t u[PFR_CPU_LANES], w1[PFR_CPU_LANES], s[PFR_CPU_LANES], nk[PFR_CPU_LANES];
    const uint64_t *rp[PFR_CPU_LANES];
    float *th[PFR_CPU_LANES], *own[PFR_CPU_LANES];
    const float *base[PFR_CPU_LANES];
    pfr_cpu_group_begin(e, i0, G, d, u, w1, part, s, rp, th, own);
    pfr_cpu_group_fed(e, i0, G, nk, base);
    /* the words of PFR_CONTROL_STEP_CHUNK steps for the 16 agents at once (one 16-lane Philox a step),
     * then agent after agent through them: each agent sees its own words in step order */
    uint32_t words[PFR_CONTROL_STEP_CHUNK][4 * PFR_CPU_LANES];
    for (int k0 = 0; k0 < plan->K; k0 += PFR_CONTROL_STEP_CHUNK) {
        const int n = plan->K - k0 < PFR_CONTROL_STEP_CHUNK ? plan->K - k0 : PFR_CONTROL_STEP_CHUNK;
        for (int c = 0; c < n; ++c)
            e->philox16x4(seed, i0, t0 + (uint64_t)(k0 + c), words[c]);
        for (int g = 0; g < G; ++g) {
            if (!part[g])
                continue;
            const int64_t i = i0 + g;
            for (int c = 0; c < n && (uint32_t)(k0 + c) < nk[g]; ++c) {
                const int k = k0 + c;
                const uint32_t *wd = words[c];
                const uint32_t explore = wd[PFR_WORD_EXPLORE * PFR_CPU_LANES + g],
                               pick = wd[PFR_WORD_ACTION * PFR_CPU_LANES + g];
                float q[PFR_CONTROL_MAX_A];
                if (!sarsa && (uint64_t)explore >= plan->explore_thr) /* exploring reads no Q */
                    q_values(e, w, g, base[g], own[g], s[g], th[g], d, overlay, q);
                const int a = sarsa ? (int)sim->action[i] : pfr_egreedy(q, A, explore, pick, plan->explore_thr);
                const uint32_t row = s[g] * (uint32_t)A + (uint32_t)a;
                const uint64_t lo = rp[g][row];
                const uint64_t j = lo + pfr_sample_entry_fixed(env->thr + lo, (uint32_t)(rp[g][row + 1] - lo),
                                                               wd[PFR_WORD_TRANSITION * PFR_CPU_LANES + g], iters);
                const uint32_t s2 = env->next[j];
                float *ps;
                if (own[g])
                    ps = own[g] + (size_t)row * d;
                else if (overlay && e->map)
                    ps = pfr_overlay_get_map(&w->lane[g], base[g], row, d);
                else if (overlay)
                    ps = pfr_overlay_get(&w->lane[g], base[g], row, d);
                else
                    ps = (float *)(base[g] + (size_t)row * d);
                q_values(e, w, g, base[g], own[g], s2, th[g], d, overlay, q); /* Q(s', .) before the update */
                const int a2 = sarsa ? pfr_egreedy(q, A, explore, pick, plan->explore_thr) : pfr_argmax_first(q, A);
                const float *pn = read_row(e, w, g, base[g], own[g], s2 * (uint32_t)A + (uint32_t)a2, d, overlay);
                pfr_cpu_td_step(ps, pn, th[g], d, env->reward[j], gamma, plan->alpha[k], plan->beta[k], learn, vec);
                if (sarsa)
                    sim->action[i] = (uint8_t)a2;
                s[g] = s2;
            }
        }
    }
    for (int g = 0; g < G; ++g)
        if (part[g])
            sim->state[i0 + g] = s[g];
}
