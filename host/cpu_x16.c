/*
 * cpu_x16.c — the CPU engine's 16-agent step with AVX-512 (the transposes: cpu_x16.h), and its fold.
 * Two forms of the step: where the tables are small enough for 32-bit gathers (every lookup of a
 * step a gather, run_group_x16g_d), and else (each lane's lookups in scalar code, run_group_x16_d).
 * Both compute run_group's bits (engine_cpu.c), lane by lane; tests force every path.
 */
#include <string.h>

#include "cpu_engine.h"
#include "cpu_slots.h"

#ifdef PFR_X16
/* The same K steps for a full group of 16 agents with AVX-512 (cpu_x16.h): each agent's rows found
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
    __m512 T[16], X[16], Y[16];
    pfr_x16_load(&e->x16_layout, (const float *const *)th, D, T);
    const __m512 gamma = _mm512_set1_ps((float)sim->cfg.gamma);
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
        pfr_x16_load(&e->x16_layout, rs, D, X);
        pfr_x16_load(&e->x16_layout, rn, D, Y);
        const __m512 vs = pfr_x16_dot(X, T, D), vn = pfr_x16_dot(Y, T, D);
        const __m512 delta = _mm512_sub_ps(_mm512_add_ps(_mm512_loadu_ps(rho), _mm512_mul_ps(gamma, vn)), vs);
        const __m512 a = _mm512_mul_ps(_mm512_set1_ps(plan->alpha[k]), delta);
        const __m512 b = _mm512_mul_ps(_mm512_set1_ps(plan->beta[k]), delta);
        for (int l = 0; l < D; ++l) { /* pfr_td_update: theta with the old phi, phi with the old theta */
            const __m512 t = T[l];
            T[l] = _mm512_mask_add_ps(t, pm, t, _mm512_mul_ps(a, X[l]));
            X[l] = _mm512_add_ps(X[l], _mm512_mul_ps(b, t));
        }
        if (learn)
            pfr_x16_store(&e->x16_layout, rw, D, X);
    }
    pfr_x16_store(&e->x16_layout, th, D, T);
    for (int g = 0; g < 16; ++g)
        if (part[g])
            sim->state[i0 + g] = s[g];
}

/* The 16-agent step where every table lookup is a vector gather too: the threshold search and the
 * chain's tables (L1-resident for moderate S), and the overlays' slot maps (one block per thread,
 * lane g's map at g (S + 4)) or hash tables. The rows themselves are still loaded and stored whole
 * (cpu_x16.h). mode: 0 fixed features, 1 each agent's own Phi_i, 2 overlays through slot maps, 3
 * through hash tables (2 and 3 insert new rows lane by lane), 4 by a scan of the lanes' slot keys
 * (keys [R, 16]: slot c of all 16 lanes in one vector; a compare and a blend a slot find s2 for every
 * lane, a masked scatter inserts the new keys, and a new row is read from Phi and written to its
 * slot by the update instead of being copied first). cmp (modes 3 and 4): the chains in slots
 * (cpu_slots.c), a row's place from its state and a reward from the rewards table, instead of the
 * 16-byte entries. Same bits as run_group (tested). */
__attribute__((target("avx512f"))) static inline __m512i x16_gather(__m512i idx, const void *base)
{
    return _mm512_i32gather_epi32(idx, base, 4);
}

/* 64-bit addresses base[g] + 4 * off[g] for the 16 lanes, as two vectors of 8. */
typedef struct x16_ptrs {
    __m512i h[2];
} x16_ptrs;

__attribute__((target("avx512f"))) static inline x16_ptrs x16_addr(const x16_ptrs *base, __m512i off)
{
    x16_ptrs p;
    for (int h = 0; h < 2; ++h) {
        const __m512i o = _mm512_cvtepu32_epi64(h ? _mm512_extracti64x4_epi64(off, 1) : _mm512_castsi512_si256(off));
        p.h[h] = _mm512_add_epi64(base->h[h], _mm512_slli_epi64(o, 2));
    }
    return p;
}

/* lane g: m has bit g ? b : a */
__attribute__((target("avx512f"))) static inline x16_ptrs x16_blend(__mmask16 m, x16_ptrs a, x16_ptrs b)
{
    x16_ptrs p;
    p.h[0] = _mm512_mask_blend_epi64((__mmask8)(m & 0xFF), a.h[0], b.h[0]);
    p.h[1] = _mm512_mask_blend_epi64((__mmask8)(m >> 8), a.h[1], b.h[1]);
    return p;
}

__attribute__((target("avx512f"))) static inline x16_ptrs x16_same(const float *p)
{
    x16_ptrs v;
    v.h[0] = v.h[1] = _mm512_set1_epi64((long long)(uintptr_t)p);
    return v;
}

__attribute__((target("avx512f"))) static inline void x16_put(x16_ptrs p, const float **out)
{
    _mm512_storeu_si512((void *)out, p.h[0]);
    _mm512_storeu_si512((void *)(out + 8), p.h[1]);
}

__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void
run_group_x16g_d(cpu_engine *e, cpu_thread *w, int64_t i0, int *part, const int D, const int mode, const int cmp)
{
    pfr_sim *sim = e->sim;
    const pfr_round_plan *plan = e->plan;
    const int S = sim->S, K = plan->K, learn = sim->learn_phi, iters = e->iters;
    const uint64_t seed = sim->cfg.seed, t0 = plan->t0;
    const float *phi = e->base0;
    uint32_t w1[16];
    int32_t rowbase[16], slotbase[16], tbase[16], voff[16], moff[16];
    __m512i v1, uv = philox16_regs(seed, i0, t0, &v1);
    _mm512_storeu_si512(w1, v1);
    __mmask16 pm = 0;
    float *th[16];
    for (int g = 0; g < 16; ++g) {
        const int64_t i = i0 + g;
        part[g] = (uint64_t)w1[g] < plan->part_threshold;
        pm |= (__mmask16)(part[g] << g);
        rowbase[g] = (int32_t)((size_t)pfr_agent_type(sim, i) * (S + 1));
        slotbase[g] = (int32_t)((size_t)pfr_agent_type(sim, i) * S);
        tbase[g] = e->shape_base ? e->shape_base[pfr_agent_type(sim, i)] : 0;
        voff[g] = g * (e->R + 1);
        moff[g] = g * (S + 4);
        th[g] = sim->theta + (size_t)i * D;
        if (e->has_pending)
            pfr_map_theta(e->pending, th[g], D);
    }
    const __m512i vrow = _mm512_loadu_si512(rowbase), vslot = _mm512_loadu_si512(slotbase), vtb = _mm512_loadu_si512(tbase), vvoff = _mm512_loadu_si512(voff), vmoff = _mm512_loadu_si512(moff);
    const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512(), ff = _mm512_set1_epi32(0xFF);
    const __m512i dD = _mm512_set1_epi32(D);
    __m512i st = _mm512_loadu_si512(sim->state + i0), nvec = zero, qnext = ff;
    /* the state whose row lo_next holds: st, but also for the lanes sitting out, whose st stays while
     * their search goes on (by shape, a move is added to it) */
    __m512i sc = st;
    /* mode 3: each lane's overlay table (pfr_overlay: key, slot pairs, open addressing) at a fixed
     * stride in w->ov_tabs; hnext: where the next row sits in it, or the empty place it would take
     * (at the first step the overlays are empty, so the row's hash) */
    const int32_t *tab = w->ov_tabs;
    /* mode 4: the lanes' overlay keys by slot, keys [R, 16] (slot c of lane g at 16 c + g; -1 empty) */
    int32_t *keys = w->ov_keys;
    const __m512i lane16 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i vmul = _mm512_set1_epi32((int32_t)2654435761u), vshift = _mm512_set1_epi32((int32_t)w->lane[0].shift),
                  vmask = _mm512_set1_epi32((int32_t)w->lane[0].mask);
    int32_t toff[16]; /* lane g's table: [2 * (mask + 1)] ints from toff[g] */
    for (int g = 0; g < 16; ++g)
        toff[g] = g * 2 * (int32_t)(w->lane[0].mask + 1);
    const __m512i vtab = _mm512_loadu_si512(toff);
    __m512i hnext = mode == 3 ? _mm512_srlv_epi32(_mm512_mullo_epi32(st, vmul), vshift) : zero;
    /* the bases of the kinds of address (64-bit, per lane) */
    const x16_ptrs vals_b = x16_same(w->ov_vals), phi_b = x16_same(phi), zero_b = x16_same(w->scratch),
                   sink_b = x16_same(w->scratch + 16);
    x16_ptrs own_b = phi_b;
    if (sim->own_phi) {
        const float *ob[16];
        for (int g = 0; g < 16; ++g)
            ob[g] = sim->agent_phi + (size_t)(i0 + g) * S * D;
        own_b.h[0] = _mm512_loadu_si512((const void *)ob);
        own_b.h[1] = _mm512_loadu_si512((const void *)(ob + 8));
    }
    /* lanes: d = 32, where each agent's math runs along d (rows are two vectors: pfr_td_step on the
     * rows and on theta in place) and only the lookups run 16 agents at a time; else the rows are
     * transposed so that a vector holds one feature of the 16 agents (cpu_x16.h) */
    const int lanes = D == 32;
    __m512 T[16], X[16], Y[16];
    if (!lanes)
        pfr_x16_load(&e->x16_layout, (const float *const *)th, D, T);
    const float gamma1 = (float)sim->cfg.gamma;
    const __m512 gamma = _mm512_set1_ps(gamma1);
    /* the next group's first rows, fetched while this group steps (at large S a round's first step
     * otherwise waits on a miss for the row pointer and another for the row): their row pointers
     * now, their entries and Phi's rows halfway through */
    const int ahead = e->prefetch && i0 + 2 * PFR_CPU_LANES <= sim->N;
    int32_t next_rp[16];
    if (ahead && !e->row_idx && !cmp)
        for (int g = 0; g < 16; ++g) {
            const int64_t i = i0 + 16 + g;
            next_rp[g] = (int32_t)((size_t)pfr_agent_type(sim, i) * (S + 1) + sim->state[i]);
            _mm_prefetch((const char *)(e->rp32 + next_rp[g]), _MM_HINT_T0);
        }
    /* the row (first entry and length) of each lane's state, looked up one step ahead: the next
     * step's rows are fetched, and their entries prefetched, while this step's math runs. At a
     * group's start from the agents' row cache where it holds this state's row (e->row_idx), else
     * from the row pointers */
    const __m512i ridx0 = _mm512_add_epi32(vrow, st);
    __m512i lo_next, n_next;
    if (cmp == 2) {
        x16_slot_row(e, cmp, vslot, vtb, st, 0, &lo_next, &n_next);
    } else if (cmp) { /* a long row's slot says so in every entry */
        const __m512i at = _mm512_slli_epi32(_mm512_add_epi32(vslot, st), 2); /* x16_slot_row's place */
        const __mmask16 lng = _mm512_cmpeq_epi32_mask(_mm512_i32gather_epi32(at, (const int *)e->slots + 1, 8),
                                                      _mm512_set1_epi32((int)PFR_SLOT_LONG));
        x16_slot_row(e, cmp, vslot, vtb, st, lng, &lo_next, &n_next);
    } else if (e->row_idx) {
        const __mmask16 fresh = _mm512_cmpneq_epi32_mask(_mm512_loadu_si512(e->row_idx + i0), ridx0);
        const __m512i clo = _mm512_loadu_si512(e->row_lo + i0);
        lo_next = _mm512_mask_i32gather_epi32(clo, fresh, ridx0, e->rp32, 4);
        const __m512i hi = _mm512_mask_i32gather_epi32(_mm512_add_epi32(clo, _mm512_loadu_si512(e->row_n + i0)), fresh,
                                                       _mm512_add_epi32(ridx0, one), e->rp32, 4);
        n_next = _mm512_sub_epi32(hi, lo_next);
    } else {
        lo_next = x16_gather(ridx0, e->rp32);
        n_next = _mm512_sub_epi32(x16_gather(_mm512_add_epi32(ridx0, one), e->rp32), lo_next);
    }
    for (int k = 0; k < K; ++k) {
        if (k > 0)
            uv = philox16_regs(seed, i0, t0 + (uint64_t)k, &v1);
        /* the threshold search of pfr_sample_entry_fixed, 16 lanes at once */
        __m512i base = lo_next, n = n_next;
        /* as many halvings as the longest row among the 16 needs (extra ones are no-ops), so a lane
         * on a long row (a goal that restarts anywhere) does not make every step pay for it */
        for (int it = 0; it < iters && _mm512_cmpgt_epu32_mask(n, one); ++it) {
            const __m512i half = _mm512_srli_epi32(n, 1);
            const __m512i probe = _mm512_mask_sub_epi32(_mm512_add_epi32(base, half), _mm512_cmpneq_epi32_mask(half, zero),
                                                        _mm512_add_epi32(base, half), one);
            const __m512i t = cmp ? _mm512_i32gather_epi32(probe, e->slots, 8)
                                  : _mm512_i32gather_epi32(_mm512_slli_epi32(probe, 2), e->ent, 4);
            const __mmask16 take = _mm512_cmple_epu32_mask(t, uv);
            base = _mm512_mask_add_epi32(base, take, base, half);
            n = _mm512_sub_epi32(n, half);
        }
        const __m512i base4 = _mm512_slli_epi32(base, 2);
        __m512i s2, len2 = zero;
        __m512 rho;
        __mmask16 nlong = 0; /* cmp: lanes whose next row is long */
        if (cmp) { /* word 1: the next state, its row's long flag (by shape: whether the next state is
                    * written as itself, else as a move from this one), the reward's index */
            const __m512i pay = _mm512_i32gather_epi32(base, (const int *)e->slots + 1, 8);
            const __m512i smask = _mm512_set1_epi32((1 << e->slot_bits) - 1);
            s2 = _mm512_and_si512(pay, smask);
            if (cmp == 2) /* a move from the state whose row this is (sc: lanes sitting out too) */
                s2 = _mm512_and_si512(
                    _mm512_mask_add_epi32(s2, _mm512_testn_epi32_mask(pay, _mm512_set1_epi32(1 << e->slot_bits)), s2, sc),
                    smask);
            else
                nlong = _mm512_test_epi32_mask(pay, _mm512_set1_epi32(1 << e->slot_bits));
            rho = _mm512_i32gather_ps(_mm512_srlv_epi32(pay, _mm512_set1_epi32(e->slot_bits + 1)), e->rewards, 4);
        } else {
            s2 = _mm512_i32gather_epi32(base4, e->ent + 1, 4);
            rho = _mm512_i32gather_ps(base4, e->ent + 2, 4);
        }
        if (!cmp && e->ent_next_row) { /* the next row's length in word 1's high bits, its start in word 3 */
            len2 = _mm512_srli_epi32(s2, PFR_ENT_STATE_BITS);
            s2 = _mm512_and_si512(s2, _mm512_set1_epi32((1 << PFR_ENT_STATE_BITS) - 1));
        }
        if (ahead && k == K / 2)
            for (int g = 0; g < 16; ++g) {
                const int64_t i = i0 + 16 + g;
                if (cmp == 2) { /* its state's shape (the shapes' slots stay in cache) */
                    _mm_prefetch((const char *)(e->shape_of + e->shape_bytes * ((size_t)pfr_agent_type(sim, i) * S + sim->state[i])),
                                 _MM_HINT_T0);
                } else if (cmp) { /* its state's slot (a long row's entries follow at its first step) */
                    _mm_prefetch((const char *)(e->slots + 8 * ((size_t)pfr_agent_type(sim, i) * S + sim->state[i])),
                                 _MM_HINT_T0);
                } else if (e->row_idx) { /* the cached row: a stale one only wastes a prefetch */
                    _mm_prefetch((const char *)(e->ent + 4 * (size_t)e->row_lo[i]), _MM_HINT_T0);
                    _mm_prefetch((const char *)(e->ent + 4 * ((size_t)e->row_lo[i] + e->row_n[i]) - 4), _MM_HINT_T0);
                } else {
                    const int32_t r = next_rp[g];
                    _mm_prefetch((const char *)(e->ent + 4 * (size_t)e->rp32[r]), _MM_HINT_T0);
                    _mm_prefetch((const char *)(e->ent + 4 * (size_t)e->rp32[r + 1] - 4), _MM_HINT_T0);
                }
                _mm_prefetch((const char *)(phi + (size_t)sim->state[i] * D), _MM_HINT_T0);
            }
        if (k + 1 < K || e->row_idx) { /* next step's rows (at the last step, for the row cache), and
                                        * a prefetch of their entries and of Phi's rows */
            const __m512i ridx = _mm512_add_epi32(vrow, s2);
            if (cmp) {
                x16_slot_row(e, cmp, vslot, vtb, s2, nlong, &lo_next, &n_next);
                sc = s2;
            } else if (e->ent_next_row) {
                lo_next = _mm512_i32gather_epi32(base4, e->ent + 3, 4); /* the line s2 came from */
                n_next = len2;
                const __mmask16 esc = _mm512_cmpeq_epi32_mask(len2, _mm512_set1_epi32(PFR_ENT_LEN_ESCAPE));
                if (esc) /* rows of 255 entries or more: their lengths from the row pointers */
                    n_next = _mm512_mask_sub_epi32(n_next, esc,
                                                   _mm512_mask_i32gather_epi32(zero, esc, _mm512_add_epi32(ridx, one), e->rp32, 4),
                                                   lo_next);
            } else {
                lo_next = x16_gather(ridx, e->rp32);
                n_next = _mm512_sub_epi32(x16_gather(_mm512_add_epi32(ridx, one), e->rp32), lo_next);
            }
            if (e->prefetch && k + 1 < K) {
                uint32_t lo_a[16], hi_a[16], s_a[16];
                _mm512_storeu_si512(lo_a, lo_next);
                _mm512_storeu_si512(hi_a, _mm512_add_epi32(lo_next, n_next));
                _mm512_storeu_si512(s_a, s2);
                for (int g = 0; g < 16; ++g) {
                    /* the row's first and last entries: a row of more than four spans two lines */
                    if (cmp == 2) { /* the shapes' slots stay in cache; a long row may not */
                        if (hi_a[g] - lo_a[g] > PFR_SLOT_WIDTH)
                            _mm_prefetch((const char *)(e->slots + 2 * (size_t)lo_a[g]), _MM_HINT_T0);
                    } else if (cmp) { /* a slot is half a line; a long row may span several */
                        _mm_prefetch((const char *)(e->slots + 2 * (size_t)lo_a[g]), _MM_HINT_T0);
                        if (hi_a[g] - lo_a[g] > PFR_SLOT_WIDTH)
                            _mm_prefetch((const char *)(e->slots + 2 * (size_t)hi_a[g] - 2), _MM_HINT_T0);
                    } else {
                        _mm_prefetch((const char *)(e->ent + 4 * (size_t)lo_a[g]), _MM_HINT_T0);
                        _mm_prefetch((const char *)(e->ent + 4 * (size_t)hi_a[g] - 4), _MM_HINT_T0);
                    }
                    _mm_prefetch((const char *)(phi + (size_t)s_a[g] * D), _MM_HINT_T0);
                }
            }
        }
        x16_ptrs ps, pn, pr; /* this step's row written (ps) and read (pr), the next state's row */
        if (mode == 2 || mode == 3 || mode == 4) {
            /* the slot of this step's row: the next row's slot of the step before (nothing was added
             * since), none at the first step (the overlays start empty); lanes sitting out ignore it */
            const __m512i q0 = qnext;
            const __mmask16 miss = _mm512_cmpeq_epi32_mask(q0, ff) & pm;
            const __m512i q = _mm512_mask_mov_epi32(q0, miss, nvec);
            if (mode == 4) { /* a new row's key in its slot (its values: read from Phi below, written to
                              * the slot by the update, so no copy) */
                if (miss)
                    _mm512_mask_i32scatter_epi32(keys, miss, _mm512_add_epi32(_mm512_slli_epi32(q, 4), lane16), st, 4);
                nvec = _mm512_mask_add_epi32(nvec, miss, nvec, one);
            } else if (miss) { /* new rows: copied from the shared Phi, lane by lane */
                uint32_t qa[16], sa[16], ha[16];
                _mm512_storeu_si512(qa, q);
                _mm512_storeu_si512(sa, st);
                _mm512_storeu_si512(ha, hnext);
                for (unsigned m = miss; m; m &= m - 1) {
                    const int g = __builtin_ctz(m);
                    if (mode == 3) {
                        w->ov_tabs[toff[g] + 2 * (int32_t)ha[g]] = (int32_t)sa[g];
                        w->ov_tabs[toff[g] + 2 * (int32_t)ha[g] + 1] = (int32_t)qa[g];
                        w->lane[g].hpos[qa[g]] = ha[g];
                    } else {
                        w->ov_maps[(size_t)moff[g] + sa[g]] = (uint8_t)qa[g];
                    }
                    w->ov_rows[voff[g] + (int)qa[g]] = (int32_t)sa[g];
                    memcpy(w->ov_vals + (size_t)(voff[g] + (int)qa[g]) * D, phi + (size_t)sa[g] * D, sizeof(float) * D);
                }
                nvec = _mm512_mask_add_epi32(nvec, miss, nvec, one);
            }
            __m512i q2;
            if (mode == 4) { /* each slot's keys compared with s2: at step k, k + 1 slots at most */
                q2 = ff;
                for (int c = 0; c <= k && c < e->R; ++c)
                    q2 = _mm512_mask_mov_epi32(q2, _mm512_cmpeq_epi32_mask(_mm512_loadu_si512(keys + 16 * c), s2),
                                               _mm512_set1_epi32(c));
            } else if (mode == 3) { /* probe each lane's table for s2 until a hit or an empty place */
                __m512i h = _mm512_srlv_epi32(_mm512_mullo_epi32(s2, vmul), vshift), key = zero;
                __mmask16 todo = 0xFFFF, hit = 0;
                for (;;) {
                    const __m512i at = _mm512_add_epi32(vtab, _mm512_slli_epi32(h, 1));
                    key = _mm512_mask_i32gather_epi32(key, todo, at, tab, 4);
                    const __mmask16 found = _mm512_mask_cmpeq_epi32_mask(todo, key, s2);
                    hit |= found;
                    todo &= (__mmask16)~found & _mm512_mask_cmpge_epi32_mask(todo, key, zero);
                    if (!todo)
                        break;
                    h = _mm512_mask_and_epi32(h, todo, _mm512_add_epi32(h, one), vmask);
                }
                q2 = _mm512_mask_i32gather_epi32(ff, hit, _mm512_add_epi32(_mm512_add_epi32(vtab, _mm512_slli_epi32(h, 1)), one),
                                                 tab, 4);
                hnext = h;
            } else {
                q2 = _mm512_and_si512(_mm512_i32gather_epi32(_mm512_add_epi32(vmoff, s2), w->ov_maps, 1), ff);
            }
            __mmask16 hit2 = _mm512_cmpneq_epi32_mask(q2, ff);
            qnext = q2;
            ps = x16_addr(&vals_b, _mm512_mullo_epi32(_mm512_add_epi32(vvoff, q), dD));
            pr = ps;
            if (mode == 4) { /* a new row read from Phi, and so is the next state's where it is that
                              * row (its slot is written only by this step's update) */
                pr = x16_blend(miss, ps, x16_addr(&phi_b, _mm512_mullo_epi32(st, dD)));
                hit2 &= (__mmask16)~(miss & _mm512_cmpeq_epi32_mask(q2, q));
            }
            pn = x16_blend(hit2, x16_addr(&phi_b, _mm512_mullo_epi32(s2, dD)),
                           x16_addr(&vals_b, _mm512_mullo_epi32(_mm512_add_epi32(vvoff, q2), dD)));
        } else {
            const x16_ptrs *b = mode == 1 ? &own_b : &phi_b;
            ps = x16_addr(b, _mm512_mullo_epi32(st, dD));
            pn = x16_addr(b, _mm512_mullo_epi32(s2, dD));
            pr = ps;
        }
        const float *rs[16], *rn[16], *rw[16]; /* lanes sitting out read zeros and write the sink */
        if (lanes) {
            float rho_a[16];
            x16_put(ps, rw);
            x16_put(pn, rn);
            _mm512_storeu_ps(rho_a, rho);
            for (unsigned m = pm; m; m &= m - 1) {
                const int g = __builtin_ctz(m);
                pfr_td_step((float *)rw[g], rn[g], th[g], D, rho_a[g], gamma1, plan->alpha[k],
                            plan->beta[k], learn);
            }
            st = _mm512_mask_mov_epi32(st, pm, s2);
            continue;
        }
        x16_put(x16_blend(pm, zero_b, pr), rs);
        x16_put(x16_blend(pm, zero_b, pn), rn);
        x16_put(x16_blend(pm, sink_b, ps), rw);
        pfr_x16_load(&e->x16_layout, rs, D, X);
        pfr_x16_load(&e->x16_layout, rn, D, Y);
        const __m512 vs = pfr_x16_dot(X, T, D), vn = pfr_x16_dot(Y, T, D);
        const __m512 delta = _mm512_sub_ps(_mm512_add_ps(rho, _mm512_mul_ps(gamma, vn)), vs);
        const __m512 a = _mm512_mul_ps(_mm512_set1_ps(plan->alpha[k]), delta);
        const __m512 b = _mm512_mul_ps(_mm512_set1_ps(plan->beta[k]), delta);
        for (int l = 0; l < D; ++l) {
            const __m512 t = T[l];
            T[l] = _mm512_mask_add_ps(t, pm, t, _mm512_mul_ps(a, X[l]));
            X[l] = _mm512_add_ps(X[l], _mm512_mul_ps(b, t));
        }
        if (learn)
            pfr_x16_store(&e->x16_layout, (float *const *)rw, D, X);
        st = _mm512_mask_mov_epi32(st, pm, s2);
    }
    if (!lanes)
        pfr_x16_store(&e->x16_layout, th, D, T);
    _mm512_mask_storeu_epi32(sim->state + i0, pm, st);
    if (e->row_idx) { /* each agent's row for the next round (lanes sitting out keep theirs) */
        _mm512_mask_storeu_epi32(e->row_idx + i0, pm, _mm512_add_epi32(vrow, st));
        _mm512_mask_storeu_epi32(e->row_lo + i0, pm, lo_next);
        _mm512_mask_storeu_epi32(e->row_n + i0, pm, n_next);
    }
    if (mode == 2 || mode == 3 || mode == 4) {
        uint32_t na[16];
        _mm512_storeu_si512(na, nvec);
        for (int g = 0; g < 16; ++g) {
            w->lane[g].n = (int)na[g];
            if (mode == 4) /* (the fold empties the participants' overlays and clears this) */
                w->lane[g].scanned = na[g] > 0;
        }
    }
    if (mode == 4) { /* each lane's rows in first-touch order (its slots), for the fold; the keys emptied */
        const int used = K < e->R ? K : e->R;
        for (int c = 0; c < used; ++c) {
            const __mmask16 in = _mm512_cmpgt_epi32_mask(nvec, _mm512_set1_epi32(c));
            if (in)
                _mm512_mask_i32scatter_epi32(w->ov_rows, in, _mm512_add_epi32(vvoff, _mm512_set1_epi32(c)),
                                             _mm512_loadu_si512(keys + 16 * c), 4);
            _mm512_storeu_si512(keys + 16 * c, _mm512_set1_epi32(-1));
        }
    }
}

__attribute__((target("avx512f"))) void pfr_cpu_group_x16(cpu_engine *e, cpu_thread *w, int64_t i0, int *part)
{
    const pfr_sim *sim = e->sim;
    if (e->rp32) { /* every lookup a gather */
        const int mode = sim->own_phi ? 1 : !sim->learn_phi ? 0 : e->scan ? 4 : e->map ? 2 : 3;
        const int cmp = e->shape_of ? 2 : e->slots ? 1 : 0;
#define PFR_X16G(D)                                                                                      \
    case D * 8 + 0: run_group_x16g_d(e, w, i0, part, D, 0, 0); return;                                 \
    case D * 8 + 1: run_group_x16g_d(e, w, i0, part, D, 1, 0); return;                                 \
    case D * 8 + 2: run_group_x16g_d(e, w, i0, part, D, 2, 0); return;                                 \
    case D * 8 + 3: /* hash tables, the chains in slots by shape or state, or as entries */          \
        switch (cmp) {                                                                                   \
        case 2: run_group_x16g_d(e, w, i0, part, D, 3, 2); return;                                      \
        case 1: run_group_x16g_d(e, w, i0, part, D, 3, 1); return;                                      \
        default: run_group_x16g_d(e, w, i0, part, D, 3, 0); return;                                     \
        }                                                                                                \
    case D * 8 + 4: /* the scan (d = 32 never scans: cpu_setup.c) */                                   \
        switch (cmp) {                                                                                   \
        case 2: run_group_x16g_d(e, w, i0, part, D == 32 ? 16 : D, 4, 2); return;                       \
        case 1: run_group_x16g_d(e, w, i0, part, D == 32 ? 16 : D, 4, 1); return;                       \
        default: run_group_x16g_d(e, w, i0, part, D == 32 ? 16 : D, 4, 0); return;                      \
        }
        switch (sim->d * 8 + mode) {
        PFR_X16G(4)
        PFR_X16G(8)
        PFR_X16G(16)
        PFR_X16G(32)
        }
#undef PFR_X16G
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

/* engine_cpu.c's fold_agent for the participants of a group (part[g]), lanes in index order, for d a
 * multiple of 8 with AVX-512: a row's eight floats converted to eight doubles in one step,
 * differences and sums element by element as in fold_agent (whole-row loads also let the just-stored
 * overlay rows forward from the store buffer), each lane's overlay emptied as its rows are
 * folded. One call for the group, and the part's fields in locals: a byte store into a slot map
 * could otherwise alias them, and every row would reload them. A constant D: a row's sums are one or
 * a few vector stores (at large S nearly every overlay row makes a new part row). */
__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void
fold_x16_d(block_part *bp, int32_t *restrict pos, pfr_overlay *lane, const int *part, int G, const float *phi,
           const int D)
{
    int32_t *restrict prow = bp->rows;
    double *restrict vals = bp->vals;
    int n = bp->n;
    for (int g = 0; g < G; ++g) {
        if (!part[g])
            continue;
        pfr_overlay *o = &lane[g];
        const int on = o->n;
        const int32_t *restrict orows = o->rows;
        const float *restrict ovals = o->vals;
        uint8_t *restrict map = o->scanned ? NULL : o->map; /* (a scan leaves the map empty) */
        for (int q = 0; q < on; ++q) {
            const int32_t r = orows[q];
            const float *loc = ovals + (size_t)q * D, *ref = phi + (size_t)r * D;
            /* a new row's sums stored as +0 + the change at once (no zeros to store and load back, as
             * pfr_part_row would: at large S nearly every row is new) */
            int fresh;
            double *acc = vals + (size_t)pfr_part_place(prow, &n, pos, r, &fresh) * D;
            for (int j = 0; j < D; j += 8) {
                const __m512d diff = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(loc + j)), _mm512_cvtps_pd(_mm256_loadu_ps(ref + j)));
                _mm512_storeu_pd(acc + j, _mm512_add_pd(fresh ? _mm512_setzero_pd() : _mm512_loadu_pd(acc + j), diff));
            }
            if (map) /* the row's slot emptied here, while r is at hand (a second pass cost 2%-3%) */
                map[r] = 0xFFu;
        }
        if (map)
            o->n = 0;
        else
            pfr_overlay_clear(o); /* (a scanned lane: only its count and flag) */
    }
    bp->n = n;
}

__attribute__((target("avx512f"))) void pfr_cpu_fold_x16(block_part *bp, int32_t *pos, pfr_overlay *lane, const int *part,
                                                         int G, const float *phi, const int d)
{
    switch (d) {
    case 8: fold_x16_d(bp, pos, lane, part, G, phi, 8); break;
    case 16: fold_x16_d(bp, pos, lane, part, G, phi, 16); break;
    case 32: fold_x16_d(bp, pos, lane, part, G, phi, 32); break;
    default: fold_x16_d(bp, pos, lane, part, G, phi, d); break;
    }
}
#endif
