/*
 * pfr_agent_round.h — one agent's round as the CUDA engine runs it (one thread per agent), written
 * as __host__ __device__ functions so the CPU tests can run exactly this code too
 * (tests/test_cuda_logic.cc runs it for every agent and compares with the CPU engine bit for bit).
 * The caller supplies the random words: cuRAND on the device, pfr_stream_words on the host; the
 * two are equal (DESIGN §3, checked on a GPU by tests/test_cuda.cc).
 *
 * Phi_i for the shared-Phi algorithms: an agent only changes the rows it visits, so it keeps them
 * in its own overlay, rows [R] (row ids) and vals [R, d] (values), R = min(K, S); a row is copied
 * from the shared Phi on its first visit. Lookups go through a per-agent slot map [S] (one byte a
 * state, 0xFF = not in the overlay; reset by the agent at the end of its round) when the engine
 * can afford S bytes per agent and R < 255; else, for 8 < R < PFR_HASH_MAX_R, through a small hash
 * table of the agent's own (2R or more bytes, a power of two: each an overlay slot or 0xFF, linear
 * probing, the slot's row compared to confirm: about 1.5 probes a lookup, where a scan of rows[]
 * costs up to R, so K = 100 at large S would cost 50 times K = 10 a step); else by a scan.
 */
#ifndef PFR_AGENT_ROUND_H
#define PFR_AGENT_ROUND_H

#include "pfr_agent_math.h"
#include "pfr_control.h"

/* Everything a round reads and writes; device pointers on the GPU. Shapes in brackets. */
typedef struct pfr_round_args {
    int64_t N;                  /* all agents */
    int64_t i0, n;              /* this launch: agents i0 .. i0+n-1 (a chunk); overlays are per chunk */
    int S, d, K, R;             /* R = overlay rows per agent = min(K, S) */
    int type_first, type_count; /* agent i has type type_first + i mod type_count */
    uint64_t seed, t0, part_threshold;
    const uint64_t *t0_dev;     /* CUDA graph mode: t0 is read here on the device (NULL: use t0) */
    float gamma;
    int learn_phi;
    const uint32_t *row_ptr;    /* [M, S+1] */
    const uint32_t *thr;        /* [nnz] */
    const uint32_t *next;       /* [nnz] */
    const float *reward;        /* [nnz] */
    const float *alpha, *beta;  /* [K] */
    const float *phi;           /* [S, d] shared Phi (read-only during the steps) */
    float *agent_phi;           /* [N, S, d] local_rep only, else NULL */
    float *theta;               /* [N, d] */
    uint32_t *state;            /* [N] */
    uint32_t *ov_rows;          /* [n, R] overlay row ids of the chunk's agents (shared-Phi learning only) */
    float *ov_vals;             /* [n, R, d] overlay rows */
    int *ov_count;              /* [n] overlay rows in use */
    uint8_t *ov_slot;           /* [n, S] overlay slot of each state, 0xFF = none; NULL: scan rows[] */
    unsigned char *took_part;   /* [N] 1 if the agent took part this round */
    /* Federation as it happens (host/sim/federation.c draws them; NULL/0: without): */
    const uint32_t *steps;      /* [N] local steps of each agent this round, 0 = it sits out; NULL: K */
    const uint8_t *age;         /* [N] the age of the Phi each agent starts from; NULL: age0 for all */
    int age0, H;                /* H: the history's depth (0: no stale Phi) */
    int64_t round;
    const float *hist;          /* [H + 1, S, d] slot r mod (H + 1) = the Phi round r started from */
    /* Control (DESIGN §12; 0: policy evaluation): S is then the state-action rows, states * A */
    int control;                /* PFR_CONTROL_KIND_SARSA or _QLEARNING, else 0 */
    int A;
    uint64_t explore_thr;       /* explore iff word 2 < this */
    uint8_t *action;            /* [N] SARSA: each agent's next action */
} pfr_round_args;

/* The Phi an agent of the given age starts round `round` from: the current phi, or slot
 * (round - age) mod (H + 1) of the history hist [H + 1, S, d] (the CPU engine's plan->base[age]).
 * The local steps (pfr_agent_base) and the fold (pfr_fold.h) both use it. */
PFR_HD static inline const float *pfr_base_phi(const float *phi, const float *hist, int age, int H, int64_t round,
                                               int S, int d)
{
    if (!hist || age == 0)
        return phi;
    return hist + (size_t)((round - age) % (H + 1)) * S * d;
}

/* The Phi agent i starts its round from. */
PFR_HD static inline const float *pfr_agent_base(const pfr_round_args *a, int64_t i)
{
    return pfr_base_phi(a->phi, a->hist, a->age ? (int)a->age[i] : a->age0, a->H, a->round, a->S, a->d);
}

/* The local steps agent i does this round (K unless it straggles). */
PFR_HD static inline int pfr_agent_steps(const pfr_round_args *a, int64_t i)
{
    return a->steps ? (int)a->steps[i] : a->K;
}

/* An agent in the middle of its round (registers on the GPU). */
typedef struct pfr_agent_state {
    int64_t i;
    uint32_t s;
    int n; /* overlay rows in use */
    const uint32_t *rp;
    uint32_t *rows;
    float *vals;
    uint8_t *slot;  /* slot map [S], or NULL */
    uint8_t *hash;  /* hash table [1 << hbits] (slot NULL), or NULL: scan rows[] */
    int hbits;
    float *own;
    const float *base; /* the Phi it started from (pfr_agent_base) */
    float th[PFR_ROUND_MAX_D];
    /* Overlay path (rows != NULL): row s of Phi_i as it stands, after the round's first step. The
     * next step's row is this step's next row, so it is carried in registers instead of being read
     * back from the overlay (global memory, L2 on the GPU). */
    float row[PFR_ROUND_MAX_D];
} pfr_agent_state;

/* dst[0 .. d-1] = src[0 .. d-1], a row or theta moved between global memory and registers, in
 * 16-byte pieces when d is a multiple of 4 and the global side is 16-byte aligned (rows of Phi, of
 * the overlays and of theta are: cudaMalloc'd, d floats apart). Why: the threads of a warp touch 32
 * different rows, so each scalar access is its own L2 request, and Nsight Compute found the
 * kernel bound by L2 requests, the row's scalar stores the most of them (bench/RESULTS.md, the
 * H200 profile). The same values either way; the host runs the same
 * pieces (a struct of four floats for float4), so the CPU tests check this indexing too. */
#ifdef __CUDA_ARCH__
typedef float4 pfr_f4;
#else
typedef struct pfr_f4 {
    float x, y, z, w;
} pfr_f4;
#endif

PFR_HD static inline void pfr_row_store(float *dst, const float *src, int d)
{
    if ((d & 3) == 0 && ((uintptr_t)dst & 15u) == 0) {
        for (int e = 0; e < d; e += 4) {
            pfr_f4 v;
            v.x = src[e], v.y = src[e + 1], v.z = src[e + 2], v.w = src[e + 3];
            *(pfr_f4 *)(dst + e) = v;
        }
        return;
    }
    for (int e = 0; e < d; ++e)
        dst[e] = src[e];
}

PFR_HD static inline void pfr_row_load(float *dst, const float *src, int d)
{
    if ((d & 3) == 0 && ((uintptr_t)src & 15u) == 0) {
        for (int e = 0; e < d; e += 4) {
            const pfr_f4 v = *(const pfr_f4 *)(src + e);
            dst[e] = v.x, dst[e + 1] = v.y, dst[e + 2] = v.z, dst[e + 3] = v.w;
        }
        return;
    }
    for (int e = 0; e < d; ++e)
        dst[e] = src[e];
}

/* Where row s's hash probe starts (Fibonacci hashing: the top bits of s times 2^32 / phi). */
PFR_HD static inline uint32_t pfr_hash_home(uint32_t s, int hbits) { return (s * 0x9E3779B1u) >> (32 - hbits); }

/* Slot of row s in the agent's overlay, or -1. */
PFR_HD static inline int pfr_overlay_find(const pfr_agent_state *st, uint32_t s)
{
    if (st->slot) {
        const uint8_t q = st->slot[s];
        return q != 0xFFu ? (int)q : -1;
    }
    if (st->hash) {
        const uint32_t m = (1u << st->hbits) - 1u;
        for (uint32_t p = pfr_hash_home(s, st->hbits);; p = (p + 1u) & m) {
            const uint8_t q = st->hash[p];
            if (q == 0xFFu)
                return -1;
            if (st->rows[q] == s)
                return (int)q;
        }
    }
    for (int q = 0; q < st->n; ++q)
        if (st->rows[q] == s)
            return q;
    return -1;
}

/* A new overlay slot for row s, which is not in the overlay (not filled: the caller writes it). */
PFR_HD static inline float *pfr_overlay_add(pfr_agent_state *st, uint32_t s, int d)
{
    if (st->slot)
        st->slot[s] = (uint8_t)st->n;
    else if (st->hash) { /* the first free place from home (at most half the table is in use) */
        const uint32_t m = (1u << st->hbits) - 1u;
        uint32_t p = pfr_hash_home(s, st->hbits);
        while (st->hash[p] != 0xFFu)
            p = (p + 1u) & m;
        st->hash[p] = (uint8_t)st->n;
    }
    st->rows[st->n] = s;
    return st->vals + (size_t)st->n++ * d;
}

/* The agent's copy of row s: its overlay slot if it has one; with `insert`, a new slot copied from
 * the shared Phi. Without insert and without a slot: the shared row itself (read-only use). */
PFR_HD static inline float *pfr_overlay_row(const float *phi, pfr_agent_state *st, uint32_t s, int d, int insert)
{
    const int q = pfr_overlay_find(st, s);
    if (q >= 0)
        return st->vals + (size_t)q * d;
    if (!insert)
        return (float *)(phi + (size_t)s * d);
    float *slot = pfr_overlay_add(st, s, d);
    for (int j = 0; j < d; ++j)
        slot[j] = phi[(size_t)s * d + j];
    return slot;
}

/* Bits of an agent's overlay hash table: none (0) where it has a slot map, at most 8 overlay rows
 * (a scan is as cheap) or PFR_HASH_MAX_R or more (slots must fit a byte beside 0xFF, and the table
 * shared memory); else 2R or more places, a power of two. */
PFR_HD static inline int pfr_hash_bits(const pfr_round_args *a)
{
    if (!a->ov_rows || a->ov_slot || a->R <= 8 || a->R >= PFR_HASH_MAX_R)
        return 0;
    int b = 1;
    while ((1 << b) < 2 * a->R)
        ++b;
    return b;
}

/* The 32-bit words of one agent's lookup map in the thread kernel's shared memory: its slot map [S]
 * where it has one and it fits (S <= 108), or its hash table (pfr_hash_bits; up to 256 bytes: 32 KB
 * for a block of 128 agents, which at 72 registers a thread does not lower the blocks an SM holds);
 * 0: neither (a global slot map, or a scan). An odd number of words, so that the 32 agents of a warp
 * start in 32 different banks. */
PFR_HD static inline int pfr_map_words(const pfr_round_args *a)
{
    if (a->ov_slot) {
        const int w = (a->S + 3) / 4 | 1;
        return (size_t)w * 4 * PFR_THREAD_BLOCK <= PFR_SLOT_SMEM_MAX ? w : 0;
    }
    const int hb = pfr_hash_bits(a);
    return hb ? ((1 << hb) + 3) / 4 | 1 : 0;
}

/* Start agent i's round; `participation_word` is word 1 of its first step. Returns 0 (and marks
 * it) if the agent sits this round out. d == a->d, passed separately so that a kernel can make it a
 * compile-time constant (then the loops over d unroll and th[] lives in registers). map: the agent's
 * lookup map (pfr_map_words) where the caller keeps it (the thread kernel: shared memory), all 0xFF:
 * its slot map [S] where a->ov_slot is set (left all 0xFF again), else its hash table (left as it is:
 * the caller fills it for the next agent); NULL: a->ov_slot's row, or (without a slot map) a scan. */
PFR_HD static inline int pfr_agent_begin(const pfr_round_args *a, int64_t i, uint32_t participation_word,
                                         pfr_agent_state *st, const int d, uint8_t *map)
{
    if ((uint64_t)participation_word >= a->part_threshold || (a->steps && a->steps[i] == 0)) {
        a->took_part[i] = 0;
        return 0;
    }
    st->i = i;
    st->s = a->state[i];
    st->n = 0;
    st->rp = a->row_ptr + (size_t)(a->type_first + (int)(i % a->type_count)) * (a->S + 1);
    st->rows = a->ov_rows ? a->ov_rows + (size_t)(i - a->i0) * a->R : 0;
    st->vals = a->ov_vals ? a->ov_vals + (size_t)(i - a->i0) * a->R * d : 0;
    st->slot = !a->ov_slot ? 0 : map ? map : a->ov_slot + (size_t)(i - a->i0) * a->S;
    st->hash = !a->ov_slot ? map : 0;
    st->hbits = st->hash ? pfr_hash_bits(a) : 0;
    st->own = a->agent_phi ? a->agent_phi + (size_t)i * a->S * d : 0;
    st->base = pfr_agent_base(a, i);
    pfr_row_load(st->th, a->theta + (size_t)i * d, d);
    return 1;
}

/* Local step k of the round (k counts from 0: the overlay path loads the row of the first step), with
 * u = word 0 of the agent's words at step t0 + k. */
PFR_HD static inline void pfr_agent_step(const pfr_round_args *a, pfr_agent_state *st, uint32_t u, int k, const int d)
{
    const uint32_t s = st->s, lo = st->rp[s];
    const uint32_t j = lo + pfr_sample_entry(a->thr + lo, st->rp[s + 1] - lo, u);
    const uint32_t s2 = a->next[j];
    float *ps;
    const float *pn;
    if (st->own) { /* local_rep: the agent's own Phi_i */
        ps = st->own + (size_t)s * d;
        pn = st->own + (size_t)s2 * d;
    } else if (st->rows) { /* shared Phi (the one it started from) seen through the agent's overlay */
        /* Row s is in st->row (registers) after the first step; its overlay slot is only written.
         * Per step: one row load (s2) and one row store (s), where reading s back would add a load
         * and a first visit a copy. The same bits as pfr_td_step on the overlay rows in place: a
         * self-loop (s2 == s) takes its next row from the row before the update. */
        const int q = pfr_overlay_find(st, s);
        float *slot = q >= 0 ? st->vals + (size_t)q * d : pfr_overlay_add(st, s, d);
        if (k == 0) /* the round's first step: row s from where it lives */
            pfr_row_load(st->row, q >= 0 ? slot : st->base + (size_t)s * d, d);
        float nx[PFR_ROUND_MAX_D];
        if (s2 == s) {
            for (int e = 0; e < d; ++e)
                nx[e] = st->row[e];
        } else {
            pn = pfr_overlay_row(st->base, st, s2, d, 0);
            pfr_row_load(nx, pn, d);
        }
        pfr_td_step(st->row, nx, st->th, d, a->reward[j], a->gamma, a->alpha[k], a->beta[k], a->learn_phi);
        pfr_row_store(slot, st->row, d);
        if (s2 != s)
            for (int e = 0; e < d; ++e)
                st->row[e] = nx[e];
        st->s = s2;
        return;
    } else { /* fixed features */
        ps = (float *)(st->base + (size_t)s * d);
        pn = st->base + (size_t)s2 * d;
    }
    pfr_td_step(ps, pn, st->th, d, a->reward[j], a->gamma, a->alpha[k], a->beta[k], a->learn_phi);
    st->s = s2;
}

PFR_HD static inline void pfr_agent_end(const pfr_round_args *a, pfr_agent_state *st, const int d)
{
    const int64_t i = st->i;
    a->state[i] = st->s;
    pfr_row_store(a->theta + (size_t)i * d, st->th, d);
    if (st->rows)
        a->ov_count[i - a->i0] = st->n;
    if (st->slot) /* leave the slot map empty for the next round's agent in this place */
        for (int q = 0; q < st->n; ++q)
            st->slot[st->rows[q]] = 0xFFu;
    a->took_part[i] = 1;
}

/* Agent i's whole round by one thread: local_steps.cu's thread kernel, and what the CPU tests run
 * for every agent. The words come from pfr_stream_words (DESIGN §3: one Philox evaluation a step);
 * t0 is read on the device in graph mode (t0_dev). d == a->d, a compile-time constant in the kernel. */
PFR_HD static inline void pfr_agent_round(const pfr_round_args *a, int64_t i, const int d, uint8_t *map)
{
    const uint64_t t0 = a->t0_dev ? *a->t0_dev : a->t0;
    pfr_words w = pfr_stream_words(a->seed, (uint64_t)i, t0);
    pfr_agent_state st;
    if (!pfr_agent_begin(a, i, w.w[PFR_WORD_PARTICIPATION], &st, d, map))
        return;
    const int K = pfr_agent_steps(a, i);
    for (int k = 0; k < K; ++k) {
        if (k > 0)
            w = pfr_stream_words(a->seed, (uint64_t)i, t0 + (uint64_t)k);
        pfr_agent_step(a, &st, w.w[PFR_WORD_TRANSITION], k, d);
    }
    pfr_agent_end(a, &st, d);
}

/* Row r of the agent's Phi_i for reading (insert 0) or for its update (insert 1: into its overlay). */
PFR_HD static inline float *pfr_agent_row(pfr_agent_state *st, uint32_t r, const int d, int insert)
{
    if (st->own)
        return st->own + (size_t)r * d;
    if (st->rows)
        return pfr_overlay_row(st->base, st, r, d, insert);
    return (float *)(st->base + (size_t)r * d);
}

/* Q(s, .) of the agent into q[0 .. A-1]. */
PFR_HD static inline void pfr_agent_q(const pfr_round_args *a, pfr_agent_state *st, uint32_t s, const int d, float *q)
{
    for (int b = 0; b < a->A; ++b)
        q[b] = pfr_dot(pfr_agent_row(st, s * (uint32_t)a->A + (uint32_t)b, d, 0), st->th, d);
}

/* Agent i's round with control, by one thread: the CPU engine's step (host/cpu/cpu_control.c) with this
 * engine's overlay; the action rules are pfr_control.h's (DESIGN §12). */
PFR_HD static inline void pfr_agent_round_control(const pfr_round_args *a, int64_t i, const int d, uint8_t *map)
{
    const uint64_t t0 = a->t0_dev ? *a->t0_dev : a->t0;
    pfr_words w = pfr_stream_words(a->seed, (uint64_t)i, t0);
    pfr_agent_state st;
    if (!pfr_agent_begin(a, i, w.w[PFR_WORD_PARTICIPATION], &st, d, map))
        return;
    const int A = a->A, K = pfr_agent_steps(a, i), sarsa = a->control == PFR_CONTROL_KIND_SARSA;
    float q[PFR_CONTROL_MAX_A];
    for (int k = 0; k < K; ++k) {
        if (k > 0)
            w = pfr_stream_words(a->seed, (uint64_t)i, t0 + (uint64_t)k);
        const uint32_t explore = w.w[PFR_WORD_EXPLORE], pick = w.w[PFR_WORD_ACTION];
        if (!sarsa && (uint64_t)explore >= a->explore_thr) /* exploring reads no Q */
            pfr_agent_q(a, &st, st.s, d, q);
        const int act = sarsa ? (int)a->action[i] : pfr_egreedy(q, A, explore, pick, a->explore_thr);
        const uint32_t row = st.s * (uint32_t)A + (uint32_t)act, lo = st.rp[row];
        const uint32_t j = lo + pfr_sample_entry(a->thr + lo, st.rp[row + 1] - lo, w.w[PFR_WORD_TRANSITION]);
        const uint32_t s2 = a->next[j];
        float *ps = pfr_agent_row(&st, row, d, 1);
        pfr_agent_q(a, &st, s2, d, q); /* Q(s', .) before the update */
        const int a2 = sarsa ? pfr_egreedy(q, A, explore, pick, a->explore_thr) : pfr_argmax_first(q, A);
        const float *pn = pfr_agent_row(&st, s2 * (uint32_t)A + (uint32_t)a2, d, 0);
        pfr_td_step(ps, pn, st.th, d, a->reward[j], a->gamma, a->alpha[k], a->beta[k], a->learn_phi);
        if (sarsa)
            a->action[i] = (uint8_t)a2;
        st.s = s2;
    }
    pfr_agent_end(a, &st, d);
}

#endif
