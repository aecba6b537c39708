/*
 * pfr_fold.h — the fold of one agent block into its partial sums (aggregate.cu's kernel body), as
 * a __host__ __device__ function so the CPU tests run the very code the GPU runs.
 *
 * Written for a block of threads: every loop over work items is `for (x = first + k; ...; x +=
 * stride)`, and PFR_BARRIER() separates phases. On the device first = threadIdx.x, stride =
 * blockDim.x and the barrier is __syncthreads(); on the host first = 0, stride = 1 and the barrier is
 * nothing: one host call does every thread's share of a phase before the next phase, which is what
 * the barriers guarantee on the device (no phase has dependencies between its threads).
 *
 * What it computes (the order of additions is the CPU engine's): for the block's agents in index
 * order, each participant's overlay rows Phi_i[r] - Phi[r] (double) are added into the block's
 * partial [S, d]; its theta_i into theta_partial [d]; the participants are counted.
 *   a. flags and entry counts of the block's agents into `took`, `entries`;
 *   b. for a tile of agents at once, every overlay entry's difference and target index staged in
 *      `stage`, `stage_idx` (an agent whose overlay exceeds the stage goes in pieces);
 *   c. agent after agent, the staged entries added into the partial sums: in `part_smem` when given
 *      (S*d <= PFR_FOLD_SMEM_SD), else straight into global `partial` (zeroed by the caller).
 */
#ifndef PFR_FOLD_H
#define PFR_FOLD_H

#include "pfr_agent_round.h"
#include "pfr_federation.h"

/* PFR_AGENT_BLOCK (the CUDA block size of the fold), PFR_FOLD_STAGE, PFR_FOLD_SMEM_SD: pfr_constants.h */

typedef struct pfr_fold_args {
    int64_t N;                      /* all agents */
    int64_t i0, n;                  /* this chunk: agents i0 .. i0+n-1, i0 a multiple of the agent block */
    int S, d, R;
    const unsigned char *took_part; /* [N] */
    const int *ov_count;            /* [n], NULL: no Phi to fold */
    const uint32_t *ov_rows;        /* [n, R] */
    const float *ov_vals;           /* [n, R, d] */
    const float *phi;               /* [S, d] the shared Phi the round started from */
    const float *theta;             /* [N, d] */
    double *partial;                /* [chunk blocks, S, d]; zeroed before the fold unless S*d fits shared memory */
    double *theta_partial;          /* [chunk blocks, d], or NULL */
    int *block_count;               /* [all blocks] participants per block */
    /* Federation (NULL/0: without): each agent's change is from the Phi it started from (its age's,
     * as pfr_agent_base finds it) and scaled by age_weight[age] and min(1, clip / its L2 norm). */
    const uint8_t *age;             /* [N] or NULL: age0 */
    int age0, H;
    int64_t round;
    const float *hist;              /* [H + 1, S, d] */
    const double *age_weight;       /* [H + 1], or NULL: 1 */
    double clip;                    /* 0: not clipped */
} pfr_fold_args;

/* The Phi agent i's change is measured from: the one it started from. */
PFR_HD static inline const float *pfr_fold_base(const pfr_fold_args *a, int64_t i)
{
    return pfr_base_phi(a->phi, a->hist, a->age ? (int)a->age[i] : a->age0, a->H, a->round, a->S, a->d);
}

/* The factor agent i's change is folded with: its age's weight, times min(1, clip / ||change||_2)
 * (the norm summed over its overlay rows in order, then along d: the CPU engine's order). */
PFR_HD static inline double pfr_fold_scale(const pfr_fold_args *a, int64_t i, int rows)
{
    const int age = a->age ? (int)a->age[i] : a->age0;
    double c = a->age_weight ? a->age_weight[age] : 1.0;
    if (a->clip > 0.0) {
        const float *ref = pfr_fold_base(a, i);
        const int d = a->d;
        double n2 = 0.0;
        for (int q = 0; q < rows; ++q) {
            const uint32_t r = a->ov_rows[(size_t)(i - a->i0) * a->R + q];
            const float *loc = a->ov_vals + ((size_t)(i - a->i0) * a->R + q) * d;
            for (int j = 0; j < d; ++j) {
                const double x = (double)loc[j] - (double)ref[(size_t)r * d + j];
                n2 += x * x;
            }
        }
        const double n = sqrt(n2);
        if (n > a->clip)
            c *= a->clip / n;
    }
    return c;
}

/* Shared memory of one block: stage [PFR_FOLD_STAGE], stage_idx [PFR_FOLD_STAGE], entries and took
 * [PFR_AGENT_BLOCK], part_smem [S*d] or NULL. */
typedef struct pfr_fold_smem {
    double *stage;
    int *stage_idx;
    int *entries;
    unsigned char *took;
    double *part_smem;
    double *scale; /* [PFR_AGENT_BLOCK] each agent's factor (pfr_fold_scale) */
} pfr_fold_smem;

/* The fold of the agents a round `a` just stepped (same chunk, overlays, Phi, theta): Phi changes
 * folded when avg_phi (else ov_count is NULL), theta summed when theta_partial is not NULL. */
PFR_HD static inline pfr_fold_args pfr_fold_args_of_round(const pfr_round_args *a, int avg_phi, double *partial,
                                                          double *theta_partial, int *block_count)
{
    pfr_fold_args f;
    f.N = a->N;
    f.i0 = a->i0;
    f.n = a->n;
    f.S = a->S;
    f.d = a->d;
    f.R = a->R;
    f.took_part = a->took_part;
    f.ov_count = avg_phi ? a->ov_count : 0;
    f.ov_rows = a->ov_rows;
    f.ov_vals = a->ov_vals;
    f.phi = a->phi;
    f.theta = a->theta;
    f.partial = partial;
    f.theta_partial = theta_partial;
    f.block_count = block_count;
    f.age = a->age;
    f.age0 = a->age0;
    f.H = a->H;
    f.round = a->round;
    f.hist = a->hist;
    f.age_weight = 0; /* set by the caller (the round's plan) */
    f.clip = 0.0;
    return f;
}

/* Block lb of the chunk; `first`/`stride`: this thread's share (see above). */
PFR_HD static inline void pfr_fold_block(const pfr_fold_args *a, int64_t lb, int first, int stride,
                                         const pfr_fold_smem *w)
{
    const int64_t b = a->i0 / PFR_AGENT_BLOCK + lb; /* the block overall */
    const int d = a->d;
    const size_t sd = (size_t)a->S * d;
    const int64_t end = a->i0 + a->n;
    const int64_t i0 = b * PFR_AGENT_BLOCK;
    const int nag = (int)((i0 + PFR_AGENT_BLOCK < end ? i0 + PFR_AGENT_BLOCK : end) - i0);

    /* a. flags and entry counts */
    for (int j = first; j < PFR_AGENT_BLOCK; j += stride) {
        const int t = j < nag ? (int)a->took_part[i0 + j] : 0;
        w->took[j] = (unsigned char)t;
        w->entries[j] = t && a->ov_count ? a->ov_count[i0 + j - a->i0] * d : 0;
    }
    PFR_BARRIER();
    const int weighted = a->ov_count && (a->hist || a->clip > 0.0); /* stale Phi or clipping */
    if (weighted) /* a2. each participant's factor, a thread an agent */
        for (int j = first; j < nag; j += stride)
            w->scale[j] = w->took[j] ? pfr_fold_scale(a, i0 + j, w->entries[j] / d) : 0.0;
    PFR_BARRIER();

    if (a->ov_count) {
        double *part = w->part_smem ? w->part_smem : a->partial + (size_t)lb * sd;
        if (w->part_smem)
            for (size_t e = (size_t)first; e < sd; e += (size_t)stride)
                part[e] = 0.0;
        const int per = a->R * d; /* staging room per agent */
        const int tile = per <= PFR_FOLD_STAGE ? PFR_FOLD_STAGE / per : 1;
        for (int t0 = 0; t0 < nag; t0 += tile) {
            const int tn = nag - t0 < tile ? nag - t0 : tile;
            for (int p0 = 0; p0 < (per <= PFR_FOLD_STAGE ? 1 : per); p0 += PFR_FOLD_STAGE) {
                PFR_BARRIER(); /* the stage is free (and part zeroed) */
                /* b. stage */
                for (int x = first; x < tn * per && x < PFR_FOLD_STAGE; x += stride) {
                    const int j = x / per, e = p0 + x % per;
                    if (e < w->entries[t0 + j]) {
                        const int64_t i = i0 + t0 + j;
                        const uint32_t r = a->ov_rows[(size_t)(i - a->i0) * a->R + e / d];
                        const int c = e % d;
                        const double diff = (double)a->ov_vals[(size_t)(i - a->i0) * per + e] -
                                            (double)pfr_fold_base(a, i)[(size_t)r * d + c];
                        w->stage[x] = weighted ? w->scale[t0 + j] * diff : diff;
                        w->stage_idx[x] = (int)(r * (uint32_t)d + (uint32_t)c);
                    }
                }
                PFR_BARRIER();
                /* c. agent after agent; one agent's entries are distinct, so its adds run in parallel */
                for (int j = 0; j < tn; ++j) {
                    const int lo = j * per, n = w->entries[t0 + j] - p0; /* its entries in this piece */
                    if (n <= 0)
                        continue; /* the same for every thread: entries[] is shared */
                    const int m = n < PFR_FOLD_STAGE ? n : PFR_FOLD_STAGE;
                    for (int x = first; x < m; x += stride)
                        part[w->stage_idx[lo + x]] += w->stage[lo + x];
                    PFR_BARRIER();
                }
            }
        }
        PFR_BARRIER();
        if (w->part_smem)
            for (size_t e = (size_t)first; e < sd; e += (size_t)stride)
                a->partial[(size_t)lb * sd + e] = part[e];
    }

    if (a->theta_partial) /* thread c sums column c over the participants, in order */
        for (int c = first; c < d; c += stride) {
            double acc = 0.0;
            for (int j = 0; j < nag; ++j)
                if (w->took[j])
                    acc += (double)a->theta[(size_t)(i0 + j) * d + c];
            a->theta_partial[(size_t)lb * d + c] = acc;
        }
    if (first == 0) {
        int count = 0;
        for (int j = 0; j < nag; ++j)
            count += w->took[j];
        a->block_count[b] = count;
    }
}

/* After the fold and the sum over blocks: the mean change applied to Phi entry e, and the mean theta
 * handed to entry e of every agent's theta (aggregate.cu's apply and broadcast kernels; the CPU
 * engine's expressions). sum [S*d] or [d], scale = 1 / participants. */
PFR_HD static inline void pfr_apply_entry(float *phi, const double *sum, double scale, size_t e)
{
    phi[e] = (float)((double)phi[e] + sum[e] * scale);
}

/* With the private aggregation's noise (federation.noise_multiplier): entry e of the sum gets
 * noise_std times a standard normal that depends on seed, round and e only (pfr_dp_gauss), the CPU
 * engine's expression. The device's log, sin and cos may differ from the host's in the last bit:
 * CPU/GPU parity is then within rounding, not bit for bit. */
PFR_HD static inline void pfr_apply_entry_noisy(float *phi, const double *sum, double scale, size_t e,
                                                double noise_std, uint64_t seed, int64_t round)
{
    phi[e] = (float)((double)phi[e] + (sum[e] + noise_std * pfr_dp_gauss(seed, round, (uint64_t)e)) * scale);
}

PFR_HD static inline void pfr_broadcast_entry(float *theta, const double *sum_theta, double scale, int d, int64_t e)
{
    theta[e] = (float)(sum_theta[e % d] * scale);
}

#endif
