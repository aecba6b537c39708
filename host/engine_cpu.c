/*
 * engine_cpu.c — the CPU engine: every agent's K local steps with OpenMP across agents, using the
 * shared per-agent math (kernels/pfr_agent_math.h), then the aggregation of Phi (and theta).
 *
 * Why it looks like this:
 *  - Only the rows an agent touched differ from the shared Phi, so a thread keeps one private
 *    copy of Phi (phi_local) and, after each agent, folds the touched rows' changes into its
 *    block's partial sum and restores them. No per-agent S x d copy is ever made.
 *  - Agents are grouped in blocks of PFR_AGENT_BLOCK. Threads take blocks in waves: in wave w,
 *    thread j runs the C consecutive blocks (w*T + j)*C .. +C-1, each into its own partial-sum slot.
 *    After the wave the slots are added into the accumulator in block order, each row by the one
 *    thread that owns it. The sums are therefore the same for any thread count T (and any C),
 *    which makes Phi and theta bit-identical whatever the number of threads. C > 1 only makes the
 *    barriers rarer; it is bounded by a memory budget for the slots.
 *  - A thread runs agents in groups of PFR_CPU_LANES = 16, each agent on its own copy of Phi.
 *    On CPUs with AVX-512 a group is one vector lane per agent (run_group_avx512_d: Philox,
 *    threshold search and TD step in 16 lanes, rows by gather/scatter); elsewhere, and for the
 *    last partial group, the scalar lanes of run_lanes_d. Both perform the same operations per
 *    agent in the same order, so they produce the same bits (a test checks it).
 *    Napkin math (cliff walk, d = 8): a step is one Philox (10 rounds of two 32x32->64 multiplies),
 *    about three threshold probes, 2d row loads, 4d multiply-adds and d stores; scalar that is
 *    about 150 instructions, with 16 lanes about 15 per agent-step. Measured: bench/RESULTS.md.
 *  - States, participation and the random words depend only on (seed, agent, step).
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/pfr_agent_math.h"
#include "engine.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PFR_HAVE_AVX512_PATH 1
typedef struct simd_ctx {
    const uint32_t *rp32; /* row_ptr as uint32 */
    int iters;            /* binary-search steps for the longest row */
} simd_ctx;
#endif

/* The partial sums of one block: sum over its participants of Phi_i - Phi (rows they touched). */
typedef struct block_slot {
    double *partial;       /* [S, d], zero outside rows[] */
    double *theta_partial; /* [d] sum of theta_i over the block's participants */
    int *rows;             /* rows touched by the block */
    int n_rows;
} block_slot;

#define PFR_SIMD_MAX_D 32

/* One interleaved agent's view of Phi (shared-Phi algorithms). */
typedef struct lane {
    float *phi_local;    /* [S, d] private copy of the shared Phi */
    int64_t *agent_mark; /* [S] last agent that touched the row */
    int *agent_rows;     /* rows touched by the current agent (at most K distinct) */
    int n_rows;
} lane;

/* One per thread, on cache lines of its own: its fields are written per agent. */
typedef struct thread_ws {
    _Alignas(64) lane lanes[PFR_CPU_LANES];
    float *overlays;     /* [PFR_CPU_LANES, S, d]: lane g's phi_local is overlays + g*S*d */
    int64_t *block_mark; /* [S] last block that touched the row */
    uint32_t *rows;      /* [K, PFR_CPU_LANES] rows visited by a vector group */
    block_slot *slot;    /* [C] */
    uint64_t participants;
} thread_ws;

/* Memory budget for all partial-sum slots together: it sets how many blocks a thread runs
 * between two barriers. */
#define PFR_CPU_SLOT_BUDGET ((size_t)256 << 20)
#define PFR_CPU_MAX_SLOTS 16

typedef struct cpu_engine {
    int T, C;
    int use_avx512;         /* the CPU has AVX-512F and the sizes fit its 32-bit gathers */
#ifdef PFR_HAVE_AVX512_PATH
    simd_ctx simd;
#endif
    thread_ws *ws;
    double *accum;          /* [S, d] sum over the round's participants of Phi_i - Phi */
    unsigned char *round_touched; /* [S] */
    double *theta_accum;    /* [d] */
} cpu_engine;

static void cpu_destroy(pfr_sim *sim)
{
    cpu_engine *e = sim->engine_state;
    if (!e)
        return;
    for (int t = 0; e->ws && t < e->T; ++t) {
        thread_ws *w = &e->ws[t];
        free(w->overlays);
        for (int g = 0; g < PFR_CPU_LANES; ++g) {
            free(w->lanes[g].agent_mark);
            free(w->lanes[g].agent_rows);
        }
        free(w->block_mark);
        free(w->rows);
        for (int c = 0; w->slot && c < e->C; ++c) {
            free(w->slot[c].partial);
            free(w->slot[c].theta_partial);
            free(w->slot[c].rows);
        }
        free(w->slot);
    }
    free(e->ws);
    free(e->accum);
    free(e->round_touched);
    free(e->theta_accum);
#ifdef PFR_HAVE_AVX512_PATH
    free((void *)e->simd.rp32);
#endif
    free(e);
    sim->engine_state = NULL;
}

static pfr_status cpu_sync_host(pfr_sim *sim)
{
    (void)sim;
    return PFR_OK;
}

/* K local steps of agents i0 .. i0+G-1 (G <= PFR_CPU_LANES), interleaved; agent i0+g works on the
 * Phi rows at phi[g] ([S, d]) and, when ln is given, records the rows it touched in ln[g].
 * part[g] says whether the agent took part in this round. Inlined with a constant d for the common
 * sizes (see run_lanes), so the d-loops of the shared step unroll. */
static inline __attribute__((always_inline)) void run_lanes_d(const pfr_sim *sim, const pfr_round_plan *plan, int64_t i0,
                                                              int G, float *const *phi, lane *ln, int *part, const int d)
{
    const pfr_env *env = sim->env;
    const int S = sim->S;
    const uint32_t *restrict thr = env->thr, *restrict next = env->next;
    const float *restrict reward = env->reward, *restrict alpha = plan->alpha, *restrict beta = plan->beta;
    const float gamma = (float)sim->cfg.gamma;
    const uint64_t seed = sim->cfg.seed, t0 = plan->t0;
    const int K = plan->K, learn_phi = sim->learn_phi;
    const uint64_t *rp[PFR_CPU_LANES] = {0};
    float *theta[PFR_CPU_LANES] = {0};
    uint32_t s[PFR_CPU_LANES] = {0}, u0[PFR_CPU_LANES] = {0};
    for (int g = 0; g < G; ++g) {
        const int64_t i = i0 + g;
        const pfr_words wd = pfr_stream_words(seed, (uint64_t)i, t0);
        part[g] = (uint64_t)wd.w[PFR_WORD_PARTICIPATION] < plan->part_threshold;
        u0[g] = wd.w[PFR_WORD_TRANSITION];
        rp[g] = env->row_ptr + (size_t)pfr_agent_type(sim, i) * (S + 1);
        theta[g] = sim->theta + (size_t)i * d;
        s[g] = sim->state[i];
        if (ln)
            ln[g].n_rows = 0;
    }
    for (int k = 0; k < K; ++k) {
        /* the transition words of all lanes first: one Philox per lane, vectorized across lanes */
        uint32_t u[PFR_CPU_LANES];
        if (k == 0) {
            for (int g = 0; g < PFR_CPU_LANES; ++g)
                u[g] = u0[g];
        } else {
            for (int g = 0; g < PFR_CPU_LANES; ++g)
                u[g] = pfr_stream_words(seed, (uint64_t)(i0 + g), t0 + (uint64_t)k).w[PFR_WORD_TRANSITION];
        }
        for (int g = 0; g < G; ++g) {
            if (!part[g])
                continue;
            const int64_t i = i0 + g;
            const uint32_t st = s[g];
            const uint64_t a = rp[g][st];
            const uint64_t j = a + pfr_sample_entry(thr + a, (uint32_t)(rp[g][st + 1] - a), u[g]);
            const uint32_t s2 = next[j];
            float *restrict ph = phi[g];
            pfr_td_step(ph + (size_t)st * d, ph + (size_t)s2 * d, theta[g], d, reward[j], gamma, alpha[k], beta[k],
                        learn_phi);
            if (ln && ln[g].agent_mark[st] != i) {
                ln[g].agent_mark[st] = i;
                ln[g].agent_rows[ln[g].n_rows++] = (int)st;
            }
            s[g] = s2;
        }
    }
    for (int g = 0; g < G; ++g)
        if (part[g])
            sim->state[i0 + g] = s[g];
}

#ifdef PFR_HAVE_AVX512_PATH
/*
 * The same K steps for a full group of 16 agents with AVX-512: one agent per vector lane. Each
 * lane performs exactly the operations run_lanes_d performs for its agent (Philox4x32-10, the
 * branch-free threshold search, pfr_dot's summation order, separate multiplies and adds), so the
 * results are bit-identical to the scalar path; tests/test_algorithms.cc checks that. Lanes of
 * agents that sit the round out compute alongside and are masked out of every write.
 * phi[g] must all point into one allocation less than 2^31 floats long (checked by the caller).
 */
__attribute__((target("avx512f"))) static inline __m512i mulhilo_avx512(__m512i c, __m512i m, __m512i *lo)
{
    const __m512i pe = _mm512_mul_epu32(c, m);                        /* even lanes: full products */
    const __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(c, 32), m); /* odd lanes */
    *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
    return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
}

/* Philox4x32-10 for 16 counters {t_lo, t_hi, agent_lo, agent_hi}; words 0 and 1. */
__attribute__((target("avx512f"))) static inline __m512i philox_avx512(uint64_t t, __m512i agent_lo, uint32_t agent_hi,
                                                                        uint64_t seed, __m512i *w1)
{
    __m512i c0 = _mm512_set1_epi32((int)(uint32_t)t), c1 = _mm512_set1_epi32((int)(uint32_t)(t >> 32));
    __m512i c2 = agent_lo, c3 = _mm512_set1_epi32((int)agent_hi);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    const __m512i m0 = _mm512_set1_epi32((int)PFR_PHILOX_M0), m1 = _mm512_set1_epi32((int)PFR_PHILOX_M1);
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += PFR_PHILOX_W0;
            k1 += PFR_PHILOX_W1;
        }
        __m512i lo0, lo1;
        const __m512i hi0 = mulhilo_avx512(c0, m0, &lo0), hi1 = mulhilo_avx512(c2, m1, &lo1);
        c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k0));
        c1 = lo1;
        c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k1));
        c3 = lo0;
    }
    *w1 = c1;
    return c0;
}

__attribute__((target("avx512f"))) static inline void run_group_avx512_d(const pfr_sim *sim, const pfr_round_plan *plan,
                                                                         const simd_ctx *cx, int64_t i0, float *const *phi,
                                                                         lane *ln, int *part, uint32_t *rows, const int d)
{
    enum { L = 16 };
    const pfr_env *env = sim->env;
    const int S = sim->S, K = plan->K, learn_phi = sim->learn_phi;
    const uint64_t seed = sim->cfg.seed, t0 = plan->t0;
    float *const base = phi[0];
    const __m512i lane_id = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i agent_lo = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)i0), lane_id);
    const uint32_t agent_hi = (uint32_t)((uint64_t)i0 >> 32); /* groups never straddle 2^32 (i0 % 16 == 0) */
    int32_t off_a[L], rowbase_a[L];
    for (int g = 0; g < L; ++g) {
        off_a[g] = (int32_t)(phi[g] - base);
        rowbase_a[g] = (int32_t)((uint64_t)pfr_agent_type(sim, i0 + g) * (uint64_t)(S + 1));
    }
    const __m512i off = _mm512_loadu_si512(off_a), rowbase = _mm512_loadu_si512(rowbase_a);
    const __m512i dvec = _mm512_set1_epi32(d), one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
    __m512i w1;
    __m512i u = philox_avx512(t0, agent_lo, agent_hi, seed, &w1);
    const __mmask16 act = plan->part_threshold >= (1ull << 32)
                              ? (__mmask16)0xFFFF
                              : _mm512_cmplt_epu32_mask(w1, _mm512_set1_epi32((int)(uint32_t)plan->part_threshold));
    for (int g = 0; g < L; ++g)
        part[g] = (act >> g) & 1;
    __m512i st = _mm512_loadu_si512(sim->state + i0);
    const __m512i tidx = _mm512_mullo_epi32(lane_id, dvec); /* theta of lane g starts at g*d */
    float *theta0 = sim->theta + (size_t)i0 * d;
    __m512 th[PFR_SIMD_MAX_D];
    for (int j = 0; j < d; ++j)
        th[j] = _mm512_i32gather_ps(_mm512_add_epi32(tidx, _mm512_set1_epi32(j)), theta0, 4);
    const __m512 gamma = _mm512_set1_ps((float)sim->cfg.gamma);

    for (int k = 0; k < K; ++k) {
        if (k > 0) {
            __m512i unused;
            u = philox_avx512(t0 + (uint64_t)k, agent_lo, agent_hi, seed, &unused);
        }
        /* integer sampling, as pfr_sample_entry */
        const __m512i ridx = _mm512_add_epi32(rowbase, st);
        __m512i pos = _mm512_i32gather_epi32(ridx, (const int *)cx->rp32, 4);
        __m512i n = _mm512_sub_epi32(_mm512_i32gather_epi32(_mm512_add_epi32(ridx, one), (const int *)cx->rp32, 4), pos);
        for (int it = 0; it < cx->iters; ++it) {
            const __m512i half = _mm512_srli_epi32(n, 1);
            const __mmask16 nz = _mm512_cmpneq_epi32_mask(half, zero);
            const __m512i probe = _mm512_mask_add_epi32(pos, nz, pos, _mm512_sub_epi32(half, one));
            const __m512i tv = _mm512_i32gather_epi32(probe, (const int *)env->thr, 4);
            const __mmask16 take = nz & _mm512_cmple_epu32_mask(tv, u);
            pos = _mm512_mask_add_epi32(pos, take, pos, half);
            n = _mm512_sub_epi32(n, half);
        }
        const __m512i s2 = _mm512_i32gather_epi32(pos, (const int *)env->next, 4);
        const __m512 rho = _mm512_i32gather_ps(pos, env->reward, 4);
        /* the TD step, pfr_td_step lane by lane */
        const __m512i rs = _mm512_add_epi32(off, _mm512_mullo_epi32(st, dvec));
        const __m512i rn = _mm512_add_epi32(off, _mm512_mullo_epi32(s2, dvec));
        __m512 ps[PFR_SIMD_MAX_D];
        __m512 as[8], an[8];
        for (int l = 0; l < 8; ++l)
            as[l] = an[l] = _mm512_setzero_ps();
        for (int j = 0; j < d; ++j) {
            const __m512i jv = _mm512_set1_epi32(j);
            ps[j] = _mm512_i32gather_ps(_mm512_add_epi32(rs, jv), base, 4);
            const __m512 pn = _mm512_i32gather_ps(_mm512_add_epi32(rn, jv), base, 4);
            as[j & 7] = _mm512_add_ps(as[j & 7], _mm512_mul_ps(ps[j], th[j]));
            an[j & 7] = _mm512_add_ps(an[j & 7], _mm512_mul_ps(pn, th[j]));
        }
        const __m512 vs = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(as[0], as[4]), _mm512_add_ps(as[2], as[6])),
                                        _mm512_add_ps(_mm512_add_ps(as[1], as[5]), _mm512_add_ps(as[3], as[7])));
        const __m512 vn = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(an[0], an[4]), _mm512_add_ps(an[2], an[6])),
                                        _mm512_add_ps(_mm512_add_ps(an[1], an[5]), _mm512_add_ps(an[3], an[7])));
        const __m512 delta = _mm512_sub_ps(_mm512_add_ps(rho, _mm512_mul_ps(gamma, vn)), vs);
        const __m512 a = _mm512_mul_ps(_mm512_set1_ps(plan->alpha[k]), delta);
        const __m512 b = _mm512_mul_ps(_mm512_set1_ps(plan->beta[k]), delta);
        for (int j = 0; j < d; ++j) {
            const __m512 t = th[j];
            th[j] = _mm512_mask_add_ps(t, act, t, _mm512_mul_ps(a, ps[j]));
            if (learn_phi)
                _mm512_mask_i32scatter_ps(base, act, _mm512_add_epi32(rs, _mm512_set1_epi32(j)),
                                          _mm512_add_ps(ps[j], _mm512_mul_ps(b, t)), 4);
        }
        if (rows)
            _mm512_storeu_si512(rows + (size_t)k * L, st);
        st = _mm512_mask_mov_epi32(st, act, s2);
    }
    _mm512_mask_storeu_epi32(sim->state + i0, act, st);
    for (int j = 0; j < d; ++j)
        _mm512_mask_i32scatter_ps(theta0, act, _mm512_add_epi32(tidx, _mm512_set1_epi32(j)), th[j], 4);
    if (ln && rows) /* the rows each agent touched, first touch first, as run_lanes_d records them */
        for (int g = 0; g < L; ++g) {
            const int64_t i = i0 + g;
            ln[g].n_rows = 0;
            if (!part[g])
                continue;
            for (int k = 0; k < K; ++k) {
                const uint32_t r = rows[(size_t)k * L + g];
                if (ln[g].agent_mark[r] != i) {
                    ln[g].agent_mark[r] = i;
                    ln[g].agent_rows[ln[g].n_rows++] = (int)r;
                }
            }
        }
}

__attribute__((target("avx512f"))) static void run_group_avx512(const pfr_sim *sim, const pfr_round_plan *plan,
                                                                const simd_ctx *cx, int64_t i0, float *const *phi,
                                                                lane *ln, int *part, uint32_t *rows)
{
    switch (sim->d) { /* constant d: the j-loops unroll and th[] stays in registers */
    case 4: run_group_avx512_d(sim, plan, cx, i0, phi, ln, part, rows, 4); break;
    case 8: run_group_avx512_d(sim, plan, cx, i0, phi, ln, part, rows, 8); break;
    case 16: run_group_avx512_d(sim, plan, cx, i0, phi, ln, part, rows, 16); break;
    default: run_group_avx512_d(sim, plan, cx, i0, phi, ln, part, rows, sim->d); break;
    }
}
#endif

/* Runs a group of agents: the AVX-512 path for full groups on CPUs that have it, else the scalar
 * lanes. Both compute the same bits. */
static void run_lanes(const pfr_sim *sim, const pfr_round_plan *plan, int64_t i0, int G, float *const *phi, lane *ln,
                      int *part)
{
#ifdef PFR_HAVE_AVX512_PATH
    const cpu_engine *e = sim->engine_state;
    if (G == PFR_CPU_LANES && e->use_avx512 && (phi[G - 1] - phi[0]) + (int64_t)sim->S * sim->d < INT32_MAX) {
        run_group_avx512(sim, plan, &e->simd, i0, phi, ln, part, e->ws[omp_get_thread_num()].rows);
        return;
    }
#endif
    switch (sim->d) {
    case 4: run_lanes_d(sim, plan, i0, G, phi, ln, part, 4); break;
    case 8: run_lanes_d(sim, plan, i0, G, phi, ln, part, 8); break;
    case 16: run_lanes_d(sim, plan, i0, G, phi, ln, part, 16); break;
    case 32: run_lanes_d(sim, plan, i0, G, phi, ln, part, 32); break;
    default: run_lanes_d(sim, plan, i0, G, phi, ln, part, sim->d); break;
    }
}

/* Add agent's Phi_i - Phi over the rows it touched into its block's partial sum and restore those
 * rows of the lane's copy. Inlined with a constant d for the common sizes so the loops vectorize. */
static inline __attribute__((always_inline)) void fold_agent_d(lane *ln, const float *phi, block_slot *sl,
                                                               int64_t *block_mark, int64_t b, const int d)
{
    for (int q = 0; q < ln->n_rows; ++q) {
        const int r = ln->agent_rows[q];
        float *restrict loc = ln->phi_local + (size_t)r * d;
        const float *restrict ref = phi + (size_t)r * d;
        double *restrict acc = sl->partial + (size_t)r * d;
        for (int j = 0; j < d; ++j) {
            acc[j] += (double)loc[j] - (double)ref[j];
            loc[j] = ref[j];
        }
        ln->agent_mark[r] = -1; /* agent ids repeat every round */
        if (block_mark[r] != b) {
            block_mark[r] = b;
            sl->rows[sl->n_rows++] = r;
        }
    }
}

static void fold_agent(lane *ln, const float *phi, block_slot *sl, int64_t *block_mark, int64_t b, int d)
{
    switch (d) {
    case 4: fold_agent_d(ln, phi, sl, block_mark, b, 4); break;
    case 8: fold_agent_d(ln, phi, sl, block_mark, b, 8); break;
    case 16: fold_agent_d(ln, phi, sl, block_mark, b, 16); break;
    default: fold_agent_d(ln, phi, sl, block_mark, b, d); break;
    }
}

/* Shared-Phi round with block-ordered reduction (pfedtd_rep, fedavg_rep, fedtd). */
static void round_shared(pfr_sim *sim, cpu_engine *e, const pfr_round_plan *plan)
{
    const int S = sim->S, d = sim->d, T = e->T;
    const int64_t N = sim->N;
    const int64_t nblocks = (N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    /* as many blocks per thread and wave as the slots allow, but never so many that a thread idles */
    const int64_t per_thread = nblocks / T > 0 ? nblocks / T : 1;
    const int C = per_thread < e->C ? (int)per_thread : e->C;
    const int64_t nwaves = (nblocks + (int64_t)T * C - 1) / ((int64_t)T * C);
    const int track = sim->avg_phi;

#pragma omp parallel num_threads(T)
    {
        const int tid = omp_get_thread_num();
        thread_ws *w = &e->ws[tid];
        uint64_t participants = 0;
        float *phi[PFR_CPU_LANES];
        for (int g = 0; g < PFR_CPU_LANES; ++g) {
            phi[g] = sim->phi; /* fixed features: read-only */
            if (sim->learn_phi) {
                memcpy(w->lanes[g].phi_local, sim->phi, sizeof(float) * (size_t)S * d);
                phi[g] = w->lanes[g].phi_local;
            }
        }
        for (int64_t wave = 0; wave < nwaves; ++wave) {
            for (int c = 0; c < C; ++c) {
                const int64_t b = (wave * T + tid) * C + c;
                if (b >= nblocks)
                    break;
                block_slot *sl = &w->slot[c];
                const int64_t i0 = b * PFR_AGENT_BLOCK, i1 = i0 + PFR_AGENT_BLOCK < N ? i0 + PFR_AGENT_BLOCK : N;
                for (int64_t ig = i0; ig < i1; ig += PFR_CPU_LANES) {
                    const int G = i1 - ig < PFR_CPU_LANES ? (int)(i1 - ig) : PFR_CPU_LANES;
                    int part[PFR_CPU_LANES] = {0};
                    run_lanes(sim, plan, ig, G, phi, track ? w->lanes : NULL, part);
                    for (int g = 0; g < G; ++g) { /* agents in index order: the block sums stay ordered */
                        if (!part[g])
                            continue;
                        const int64_t i = ig + g;
                        participants++;
                        if (sim->avg_theta)
                            for (int j = 0; j < d; ++j)
                                sl->theta_partial[j] += sim->theta[(size_t)i * d + j];
                        if (!track)
                            continue;
                        fold_agent(&w->lanes[g], sim->phi, sl, w->block_mark, b, d);
                    }
                }
            }
#pragma omp barrier
            /* add this wave's block sums in block order (thread j, slot c is block (wave*T + j)*C + c);
             * row r belongs to thread r % T */
            for (int j = 0; j < T; ++j)
                for (int c = 0; c < C; ++c) { /* slots c >= C are empty and stay so */
                    const block_slot *src = &e->ws[j].slot[c];
                    for (int q = 0; q < src->n_rows; ++q) {
                        const int r = src->rows[q];
                        if (r % T != tid)
                            continue;
                        e->round_touched[r] = 1;
                        for (int k = 0; k < d; ++k)
                            e->accum[(size_t)r * d + k] += src->partial[(size_t)r * d + k];
                    }
                    if (tid == 0 && sim->avg_theta)
                        for (int k = 0; k < d; ++k)
                            e->theta_accum[k] += src->theta_partial[k];
                }
#pragma omp barrier
            for (int c = 0; c < C; ++c) {
                block_slot *sl = &w->slot[c];
                for (int q = 0; q < sl->n_rows; ++q) {
                    memset(sl->partial + (size_t)sl->rows[q] * d, 0, sizeof(double) * (size_t)d);
                    w->block_mark[sl->rows[q]] = -1; /* block ids repeat every round */
                }
                sl->n_rows = 0;
                memset(sl->theta_partial, 0, sizeof(double) * (size_t)d);
            }
        }
        w->participants = participants;
    }
}

static pfr_status cpu_round(pfr_sim *sim, const pfr_round_plan *plan, uint64_t *participants)
{
    cpu_engine *e = sim->engine_state;
    const int S = sim->S, d = sim->d, T = e->T;
    const int64_t N = sim->N;
    uint64_t part = 0;

    if (sim->own_phi || (!sim->avg_phi && !sim->avg_theta)) {
        /* No communication: agents are independent; any schedule gives the same result. */
        const int64_t ngroups = (N + PFR_CPU_LANES - 1) / PFR_CPU_LANES;
#pragma omp parallel for num_threads(T) schedule(dynamic, 16) reduction(+ : part)
        for (int64_t q = 0; q < ngroups; ++q) {
            const int64_t ig = q * PFR_CPU_LANES;
            const int G = N - ig < PFR_CPU_LANES ? (int)(N - ig) : PFR_CPU_LANES;
            float *phi[PFR_CPU_LANES] = {0};
            int took[PFR_CPU_LANES] = {0};
            for (int g = 0; g < G; ++g)
                phi[g] = sim->own_phi ? sim->agent_phi + (size_t)(ig + g) * S * d : sim->phi;
            run_lanes(sim, plan, ig, G, phi, NULL, took);
            for (int g = 0; g < G; ++g)
                part += (uint64_t)took[g];
        }
    } else {
        round_shared(sim, e, plan);
        for (int t = 0; t < T; ++t)
            part += e->ws[t].participants;
        if (part > 0) {
            const double inv = 1.0 / (double)part;
            if (sim->avg_phi) {
#pragma omp parallel for num_threads(T) schedule(static)
                for (int r = 0; r < S; ++r) {
                    if (!e->round_touched[r])
                        continue;
                    for (int c = 0; c < d; ++c) {
                        double *a = &e->accum[(size_t)r * d + c];
                        sim->phi[(size_t)r * d + c] = (float)((double)sim->phi[(size_t)r * d + c] + *a * inv);
                        *a = 0.0;
                    }
                    e->round_touched[r] = 0;
                }
            }
            if (sim->avg_theta) {
                float tbar[4096];
                for (int c = 0; c < d; ++c) {
                    tbar[c] = (float)(e->theta_accum[c] * inv);
                    e->theta_accum[c] = 0.0;
                }
#pragma omp parallel for num_threads(T) schedule(static)
                for (int64_t i = 0; i < N; ++i)
                    memcpy(sim->theta + (size_t)i * d, tbar, sizeof(float) * (size_t)d);
            }
        }
    }
    *participants = part;

    if (sim->cfg.orthonormalize && sim->learn_phi) {
        if (sim->own_phi) {
            pfr_status st = PFR_OK;
#pragma omp parallel for num_threads(T) schedule(dynamic, 16)
            for (int64_t i = 0; i < N; ++i) {
                pfr_status s1 = pfr_orthonormalize_host(sim->agent_phi + (size_t)i * S * d, S, d, sim->theta + (size_t)i * d, 1, 1);
                if (s1 != PFR_OK) {
#pragma omp critical
                    st = s1;
                }
            }
            if (st != PFR_OK)
                return pfr_sim_fail(sim, st, "orthonormalization failed in round %lld: an agent's Phi_i %s",
                                    (long long)plan->round, PFR_LOST_RANK_WHY);
        } else if (part > 0) {
            pfr_status st = pfr_orthonormalize_host(sim->phi, S, d, sim->theta, N, T);
            if (st != PFR_OK)
                return pfr_sim_fail(sim, st, "orthonormalization failed in round %lld: Phi %s", (long long)plan->round,
                                    PFR_LOST_RANK_WHY);
        }
    }
    return PFR_OK;
}

/* Blocks a thread runs between two barriers: as many partial-sum slots as the budget allows. */
static int slots_per_thread(int S, int d, int T)
{
    const size_t slot_bytes = (size_t)S * d * sizeof(double) * (size_t)T;
    const size_t c = PFR_CPU_SLOT_BUDGET / (slot_bytes ? slot_bytes : 1);
    return c < 1 ? 1 : (c > PFR_CPU_MAX_SLOTS ? PFR_CPU_MAX_SLOTS : (int)c);
}

double pfr_engine_cpu_bytes(int S, int d, int K, int M, int T, int shared)
{
    const double s = S, dd = d, R = K < S ? K : S, C = slots_per_thread(S, d, T);
    double bytes = 8.0 * s * dd + s + 8.0 * dd + 4.0 * M * (s + 1.0); /* accum, touched, theta sum, rp32 */
    double per_thread = 4.0 * K * PFR_CPU_LANES;                      /* rows of a vector group */
    if (shared)
        per_thread += PFR_CPU_LANES * (4.0 * s * dd + 8.0 * s + 4.0 * R) /* overlays, marks, touched rows */
                      + 8.0 * s + C * (8.0 * s * dd + 8.0 * dd + 4.0 * s); /* block marks, partial sums */
    return bytes + T * per_thread;
}

static const pfr_engine_vtbl CPU_ENGINE = {"cpu", cpu_round, cpu_sync_host, cpu_sync_host, NULL, NULL, cpu_destroy};

pfr_status pfr_engine_cpu_init(pfr_sim *sim, pfr_error *err)
{
    const int S = sim->S, d = sim->d, K = sim->K;
    cpu_engine *e = calloc(1, sizeof *e);
    if (!e)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    sim->engine = &CPU_ENGINE;
    sim->engine_state = e;
    e->T = sim->threads;
    e->C = slots_per_thread(S, d, e->T);
    e->ws = aligned_alloc(64, sizeof *e->ws * (size_t)e->T); /* sizeof is a multiple of 64 */
    if (e->ws)
        memset(e->ws, 0, sizeof *e->ws * (size_t)e->T);
    e->accum = calloc((size_t)S * d, sizeof(double));
    e->round_touched = calloc((size_t)S, 1);
    e->theta_accum = calloc((size_t)d, sizeof(double));
    int ok = e->ws && e->accum && e->round_touched && e->theta_accum;
#ifdef PFR_HAVE_AVX512_PATH
    uint64_t max_nnz = 1;
    for (uint64_t r = 0; r < (uint64_t)sim->M * (uint64_t)(S + 1); ++r)
        if (r % (uint64_t)(S + 1) != (uint64_t)S) {
            const uint64_t n = sim->env->row_ptr[r + 1] - sim->env->row_ptr[r];
            max_nnz = n > max_nnz ? n : max_nnz;
        }
    int search_iters = 0; /* binary-search steps the longest chain row needs */
    while ((1ull << search_iters) < max_nnz)
        ++search_iters;
    e->simd.iters = search_iters;
    e->use_avx512 = PFR_CPU_LANES == 16 && d <= PFR_SIMD_MAX_D && !sim->cpu_scalar_only &&
                    __builtin_cpu_supports("avx512f") && sim->env->nnz < INT32_MAX &&
                    (uint64_t)sim->M * (S + 1) < INT32_MAX;
    if (ok && e->use_avx512) {
        const size_t nrp = (size_t)sim->M * (S + 1);
        uint32_t *rp32 = malloc(sizeof(uint32_t) * nrp);
        ok = rp32 != NULL;
        for (size_t r = 0; ok && r < nrp; ++r)
            rp32[r] = (uint32_t)sim->env->row_ptr[r];
        e->simd.rp32 = rp32;
    }
#endif
    for (int t = 0; ok && t < e->T; ++t) {
        e->ws[t].rows = malloc(sizeof(uint32_t) * (size_t)K * PFR_CPU_LANES);
        ok = e->ws[t].rows != NULL;
    }
    const int shared = !sim->own_phi && (sim->avg_phi || sim->avg_theta);
    for (int t = 0; ok && shared && t < e->T; ++t) {
        thread_ws *w = &e->ws[t];
        /* one allocation, so the lanes' rows are offsets from one base (the vector gathers use that) */
        w->overlays = malloc(sizeof(float) * (size_t)S * d * PFR_CPU_LANES);
        ok = w->overlays != NULL;
        for (int g = 0; ok && g < PFR_CPU_LANES; ++g) {
            lane *ln = &w->lanes[g];
            ln->phi_local = w->overlays + (size_t)g * S * d;
            ln->agent_mark = malloc(sizeof(int64_t) * (size_t)S);
            ln->agent_rows = malloc(sizeof(int) * (size_t)(K < S ? K : S));
            ok = ln->phi_local && ln->agent_mark && ln->agent_rows;
            for (int s = 0; ok && s < S; ++s)
                ln->agent_mark[s] = -1;
        }
        w->block_mark = malloc(sizeof(int64_t) * (size_t)S);
        w->slot = calloc((size_t)e->C, sizeof *w->slot);
        ok = ok && w->block_mark && w->slot;
        for (int c = 0; ok && c < e->C; ++c) {
            block_slot *sl = &w->slot[c];
            sl->partial = calloc((size_t)S * d, sizeof(double));
            sl->theta_partial = calloc((size_t)d, sizeof(double));
            sl->rows = malloc(sizeof(int) * (size_t)S);
            ok = sl->partial && sl->theta_partial && sl->rows;
        }
        for (int s = 0; ok && s < S; ++s)
            w->block_mark[s] = -1;
    }
    if (!ok) {
        cpu_destroy(sim);
        sim->engine = NULL;
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for the CPU engine's work space (%d threads, S=%d, d=%d)",
                        sim->threads, S, d);
    }
    return PFR_OK;
}
