/*
 * pfr_agent_math.h — the per-agent math of pfedrl, shared by the CPU engine (host/) and the CUDA
 * engine (kernels/). Everything here is static inline and compiles as C11 and, under nvcc, as
 * __host__ __device__ code, so both engines run the very same update rule and the same random
 * stream. Nothing here allocates, touches globals or depends on the thread layout.
 *
 * The contract (DESIGN §3): the four random words of agent i at global step t are
 *   Philox4x32_10(counter = {t_lo, t_hi, i_lo, i_hi}, key = {seed_lo, seed_hi})
 * which is what cuRAND returns from curand_init(seed, i, 4*t) followed by curand4().
 * Word 0 drives the transition; word 1 of the first step of a round decides participation.
 */
#ifndef PFR_AGENT_MATH_H
#define PFR_AGENT_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "pfr_constants.h"

#if defined(__CUDACC__)
#define PFR_HD __host__ __device__
#else
#define PFR_HD
#endif

/* A block-wide barrier in code written for a block of threads as `for (x = first; ...; x += stride)`
 * loops (kernels/pfr_fold.h, pfr_cholqr.h): __syncthreads() on the device; nothing on the host, where
 * one call (first = 0, stride = 1) does every thread's share of a phase before the next phase. */
#if defined(__CUDA_ARCH__)
#define PFR_BARRIER() __syncthreads()
#else
#define PFR_BARRIER() ((void)0)
#endif

/* Block-written code's other two device idioms, with their host meaning: an OR into a shared word
 * that several threads set bits of (atomicOr in shared memory; one host call is every thread in
 * turn), and the index of a word's lowest set bit (x != 0). */
#if defined(__CUDA_ARCH__)
#define PFR_ATOMIC_OR(p, v) atomicOr((p), (v))
#define PFR_CTZ(x) (__ffs((int)(x)) - 1)
#else
#define PFR_ATOMIC_OR(p, v) (*(p) |= (v))
#define PFR_CTZ(x) __builtin_ctz(x)
#endif

#define PFR_PHILOX_M0 0xD2511F53u
#define PFR_PHILOX_M1 0xCD9E8D57u
#define PFR_PHILOX_W0 0x9E3779B9u
#define PFR_PHILOX_W1 0xBB67AE85u

/* Which word of a step drives what, and the reserved streams: pfr_constants.h. */

typedef struct pfr_words {
    uint32_t w[4];
} pfr_words;

PFR_HD static inline void pfr_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

/* Philox4x32 with 10 rounds (Salmon et al., SC'11), the generator behind curandStatePhilox4_32_10. */
PFR_HD static inline pfr_words pfr_philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                                 uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; ++r) {
        uint32_t hi0, lo0, hi1, lo1;
        if (r > 0) {
            k0 += PFR_PHILOX_W0;
            k1 += PFR_PHILOX_W1;
        }
        pfr_mulhilo32(PFR_PHILOX_M0, c0, &hi0, &lo0);
        pfr_mulhilo32(PFR_PHILOX_M1, c2, &hi1, &lo1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    pfr_words out;
    out.w[0] = c0;
    out.w[1] = c1;
    out.w[2] = c2;
    out.w[3] = c3;
    return out;
}

/* The four words of stream `stream` (an agent id, or a reserved stream) at step `t`. */
PFR_HD static inline pfr_words pfr_stream_words(uint64_t seed, uint64_t stream, uint64_t t)
{
    return pfr_philox4x32_10((uint32_t)t, (uint32_t)(t >> 32), (uint32_t)stream, (uint32_t)(stream >> 32),
                             (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* An event of probability p as a threshold on a 32-bit word: it happens iff word < threshold. */
PFR_HD static inline uint64_t pfr_probability_threshold(double p)
{
    return p >= 1.0 ? (1ull << 32) : (uint64_t)floor(p * 4294967296.0);
}

/* A uniform integer in [0, n) from one word, by multiply-high (integer only, so every engine agrees). */
PFR_HD static inline uint32_t pfr_word_below(uint32_t word, uint32_t n)
{
    return (uint32_t)(((uint64_t)word * (uint64_t)n) >> 32);
}

/*
 * Integer-threshold sampling (DESIGN §2). Row s of a chain lists its nnz possible next states in
 * next[0..nnz) with cumulative thresholds thr[0..nnz): the next state is next[j] for the first j
 * with u < thr[j]; thr[nnz-1] is stored as 0xFFFFFFFF and the last entry also catches u == 2^32-1,
 * so every word picks exactly one entry. Only integer comparisons: CPU and GPU can never fork.
 * Returns the index j within the row (the caller reads next[j] and the reward of entry j).
 */
PFR_HD static inline uint32_t pfr_sample_entry(const uint32_t *thr, uint32_t nnz, uint32_t u)
{
    /* Branch-free binary search: the answer stays in [base, base + n). The comparison compiles to
     * a conditional move, so a random u costs no mispredicted branches. */
    const uint32_t *base = thr;
    uint32_t n = nnz;
    while (n > 1u) {
        const uint32_t half = n >> 1;
        base = (base[half - 1u] <= u) ? base + half : base;
        n -= half;
    }
    return (uint32_t)(base - thr);
}

/* The same search with a fixed number of halvings (`iters` >= ceil(log2(nnz)), e.g. for the longest
 * row of a chain): a loop whose trip count never depends on the row, so a CPU predicts it; steps
 * past the answer halve nothing. Returns what pfr_sample_entry returns. */
PFR_HD static inline uint32_t pfr_sample_entry_fixed(const uint32_t *thr, uint32_t nnz, uint32_t u, int iters)
{
    const uint32_t *base = thr;
    uint32_t n = nnz;
    for (int it = 0; it < iters; ++it) { /* no branch: half = 0 probes base[0] and moves by 0 */
        const uint32_t half = n >> 1;
        const uint32_t take = 0u - (uint32_t)(base[half - (half != 0u)] <= u);
        base += half & take;
        n -= half;
    }
    return (uint32_t)(base - thr);
}

/*
 * Dot product in a fixed summation order that every engine reproduces: eight running partial sums
 * (element j goes to partial j mod 8, in index order), then a fixed pairwise tree over the eight.
 * It is what one 8-wide vector register computes, so the CPU engine vectorizes it without any
 * reassociation, and a GPU thread evaluates exactly the same expression.
 */
#define PFR_DOT_LANES 8
PFR_HD static inline float pfr_dot(const float *a, const float *b, int d)
{
    float acc[PFR_DOT_LANES] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    int j = 0;
    for (; j + PFR_DOT_LANES <= d; j += PFR_DOT_LANES)
        for (int l = 0; l < PFR_DOT_LANES; ++l)
            acc[l] += a[j + l] * b[j + l];
    for (int l = 0; j + l < d; ++l)
        acc[l] += a[j + l] * b[j + l];
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/*
 * The two halves of a TD(0) step of PFedTD-Rep (DESIGN §1), as separate functions so that every
 * kernel variant (a thread per agent, a warp per agent) and the CPU engine evaluate the very same
 * expressions, whoever computes the dot products:
 *   delta     = rho + gamma * phi_next . theta - phi_s . theta           (pfr_td_delta)
 *   theta[j] += alpha * delta * phi_s[j]   (fast timescale, with the old phi_s)   (pfr_td_update)
 *   phi_s[j] += beta  * delta * theta[j]   (slow timescale, with the old theta)
 * with a = alpha * delta and b = beta * delta rounded once, before the element loop.
 */
PFR_HD static inline float pfr_td_delta(float rho, float gamma, float v_s, float v_next)
{
    return rho + gamma * v_next - v_s;
}

/* Element j of the update, in place; *phi_j is left alone unless update_phi. */
PFR_HD static inline void pfr_td_update(float *phi_j, float *theta_j, float a, float b, int update_phi)
{
    const float p = *phi_j, th = *theta_j;
    *theta_j = th + a * p;
    if (update_phi)
        *phi_j = p + b * th;
}

/*
 * One TD(0) step for one agent, in place. phi_s, phi_next: rows of the agent's Phi_i, [d]; they may
 * be the same row (a self-loop): the delta is computed before anything is written, so aliasing is
 * harmless. Pass update_phi = 0 for the fixed-feature algorithms. Returns delta. Dot products use
 * pfr_dot's fixed order.
 */
PFR_HD static inline float pfr_td_step(float *phi_s, const float *phi_next, float *theta, int d, float rho,
                                       float gamma, float alpha, float beta, int update_phi)
{
    const float delta = pfr_td_delta(rho, gamma, pfr_dot(phi_s, theta, d), pfr_dot(phi_next, theta, d));
    const float a = alpha * delta, b = beta * delta;
    for (int j = 0; j < d; ++j)
        pfr_td_update(phi_s + j, theta + j, a, b, update_phi);
    return delta;
}

/*
 * theta <- R theta for an upper-triangular R [d, d] (row-major, double): what orthonormalizing Phi
 * (old Phi = new Phi R) does to every agent's weights, so each Phi theta_i is kept. In place: row i
 * reads theta[i..d-1] only, which rows 0..i-1 have not written. Sums in double, in index order.
 */
PFR_HD static inline void pfr_map_theta(const double *R, float *theta, int d)
{
    for (int i = 0; i < d; ++i) {
        double acc = 0.0;
        for (int j = i; j < d; ++j)
            acc += R[(size_t)i * d + j] * theta[j];
        theta[i] = (float)acc;
    }
}

#endif /* PFR_AGENT_MATH_H */
