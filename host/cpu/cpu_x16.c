/*
 * cpu_x16.c — the CPU engine's 16-agent step with AVX-512 (its registers, transposes and Philox:
 * cpu_lanes_avx512.h), its fold, and the AVX-512 Philox of the other paths' groups.
 * Two forms of the step: where the tables are small enough for 32-bit gathers (every lookup of a
 * step a gather: cpu_group_step.h on the AVX-512 lane layer, the same source as the AVX2 step of
 * cpu_group_avx2.c), and else (each lane's lookups in scalar code, run_group_x16_d). Both compute
 * run_group's bits (cpu_blocks.c), lane by lane; tests force every path.
 */
#include <string.h>

#include "cpu_engine.h"

#ifdef PFR_X16
#include "cpu_lanes_avx512.h"
#include "cpu_group_step.h"
#include "cpu_group_fold.h"
#endif

#ifdef PFR_X16
/* The same K steps for a full group of 16 agents with AVX-512 (cpu_lanes_avx512.h): each agent's rows found
 * as in run_group (scalar: its search and overlay), then the TD math of all 16 at once on the
 * transposed rows, theta kept transposed in registers across the K steps. Agents that sit the round
 * out read a zero row, write a scratch row, and their theta lanes are masked. Same bits as
 * run_group (tested). */
__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void
run_group_x16_d(cpu_engine *e, cpu_thread *w, int64_t i0, int *part, const int D, const int map)
{
    const int iters = e->iters;
    pfr_sim *sim = e->sim;
    const pfr_round_plan *plan = e->plan;
    const pfr_env *env = sim->env;
    const int K = plan->K, learn = sim->learn_phi, overlay = sim->learn_phi && !sim->own_phi;
    const uint64_t seed = sim->cfg.seed, t0 = plan->t0;
    const uint32_t *restrict thr = env->thr, *restrict next = env->next;
    const float *restrict reward = env->reward, *phi = e->base0; /* the Phi agents start from */
    uint32_t u[16], w1[16], s[16];
    const uint64_t *rp[16];
    float *own[16], *th[16];
    pfr_cpu_group_begin(e, i0, 16, D, u, w1, part, s, rp, th, own);
    __mmask16 pm = 0;
    for (int g = 0; g < 16; ++g)
        pm |= (__mmask16)(part[g] << g);
    __m512 T[16];
    pfr_x16_load(&e->x16_layout, (const float *const *)th, D, T);
    float *scratch = w->scratch;          /* [16]: zeros, read by the lanes sitting out */
    float *sink = w->scratch + 16;        /* [16]: where their rows are written */
    for (int k = 0; k < K; ++k) {
        if (k > 0)
            e->philox16(seed, i0, t0 + (uint64_t)k, u, w1);
        const float *rs[16], *rn[16];
        float *rw[16];
        float rho[16];
        for (int g = 0; g < 16; ++g) {
            if (!part[g]) {
                rs[g] = rn[g] = scratch;
                rw[g] = sink;
                rho[g] = 0.0f;
                continue;
            }
            const uint32_t st = s[g];
            const uint64_t a = rp[g][st];
            const uint64_t j = a + pfr_sample_entry_fixed(thr + a, (uint32_t)(rp[g][st + 1] - a), u[g], iters);
            const uint32_t s2 = next[j];
            float *ps;
            const float *pn;
            if (overlay && map) {
                ps = pfr_overlay_get_map(&w->lane[g], phi, st, D);
                pn = pfr_overlay_find_map(&w->lane[g], phi, s2, D);
            } else if (overlay) {
                ps = pfr_overlay_get(&w->lane[g], phi, st, D);
                pn = pfr_overlay_find(&w->lane[g], s2, D);
                if (!pn)
                    pn = phi + (size_t)s2 * D;
            } else if (own[g]) {
                ps = own[g] + (size_t)st * D;
                pn = own[g] + (size_t)s2 * D;
            } else {
                ps = (float *)(phi + (size_t)st * D);
                pn = phi + (size_t)s2 * D;
            }
            rs[g] = ps;
            rw[g] = ps;
            rn[g] = pn;
            rho[g] = reward[j];
            s[g] = s2;
        }
        group_td(e, rs, rn, rw, _mm512_loadu_ps(rho), T, pm, k, D, (float)sim->cfg.gamma, learn);
    }
    pfr_x16_store(&e->x16_layout, th, D, T);
    for (int g = 0; g < 16; ++g)
        if (part[g])
            sim->state[i0 + g] = s[g];
}

__attribute__((target("avx512f"))) void pfr_cpu_group_x16(cpu_engine *e, cpu_thread *w, int64_t i0, int *part)
{
    if (e->rp32) { /* every lookup a gather (cpu_group_step.h) */
        group_step(e, w, i0, part);
        return;
    }
    switch (e->sim->d * 2 + e->map) {
    case 8: run_group_x16_d(e, w, i0, part, 4, 0); break;
    case 9: run_group_x16_d(e, w, i0, part, 4, 1); break;
    case 16: run_group_x16_d(e, w, i0, part, 8, 0); break;
    case 17: run_group_x16_d(e, w, i0, part, 8, 1); break;
    case 32: run_group_x16_d(e, w, i0, part, 16, 0); break;
    default: run_group_x16_d(e, w, i0, part, 16, 1); break; /* (d = 32 never comes here: cpu_setup.c) */
    }
}

__attribute__((target("avx512f"))) void pfr_cpu_fold_x16(block_part *bp, int32_t *pos, pfr_overlay *lane, const int *part,
                                                         int G, const float *phi, const int d)
{
    group_fold(bp, pos, lane, part, G, phi, d);
}

/* The layout of the transposes (which lane each input row ends in), worked out once. */
__attribute__((target("avx512f"))) void pfr_cpu_x16_init(pfr_x16_layout *lay) { pfr_x16_init(lay); }

/* Philox for 16 agents with AVX-512 (cpu_philox.c has the scalar and AVX2 ones) */
__attribute__((target("avx512f"))) void pfr_cpu_philox16x4_avx512(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w)
{
    __m512i v[4];
    philox16_regs4(seed, i0, t, v);
    for (int q = 0; q < 4; ++q)
        _mm512_storeu_si512(w + q * PFR_CPU_LANES, v[q]);
}

__attribute__((target("avx512f"))) void pfr_cpu_philox16_avx512(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0,
                                                               uint32_t *w1)
{
    __m512i v1;
    _mm512_storeu_si512(w0, philox16_regs(seed, i0, t, &v1));
    _mm512_storeu_si512(w1, v1);
}
#endif
