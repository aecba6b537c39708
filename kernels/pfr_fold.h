/*
 * pfr_fold.h — the round's aggregation in the CPU engine's order, as __host__ __device__ bodies
 * (aggregate.cu's kernels), so the CPU tests run the very code the GPU runs.
 *
 * The order (DESIGN §3), the one every engine keeps: for row r of Phi,
 *   sum_r = ((0 + B_0) + B_1) + ...   over the agent blocks b (PFR_AGENT_BLOCK agents) in block order,
 *   B_b   = ((0 + c_i) + c_i') + ...  over the block's participants that changed row r, in index order,
 *   c_i   = w_i (Phi_i[r] - base_i[r]) in double (w_i: the federation's weight and clip factor, or 1),
 * theta's sum the same over every block; then Phi[r] += sum_r / participants where some participant
 * changed r. So the sums, and Phi, do not depend on the chunk of agents, the device or the engine.
 * Two ways to the same numbers, by the size of S d:
 *
 *  dense (S d <= PFR_FOLD_SMEM_SD): one CUDA block per agent block keeps B_b for every row in shared
 *   memory. Its agents go in tiles: each participant marks the rows it changed (a bit per agent in
 *   `mask`, its overlay slot in `qtab`); then the thread that owns entry (r, c) adds the marked
 *   agents' changes in index order (ascending bits). No barrier per agent, no atomics on doubles.
 *   The partials [blocks, S d] are summed over blocks in order (pfr_colsum), into `sums`.
 *  sparse (larger S): memory O(n R), not O(blocks S d). Every overlay slot becomes an entry, key = its
 *   row (S: none), value = (agent in chunk << qbits) | slot; a stable sort by key (CUB's radix sort)
 *   leaves a row's entries in agent order, so in block order too. A run is a row's entries of one
 *   block: pfr_run_sum adds one run (<= PFR_AGENT_BLOCK entries), pfr_row_sum adds a row's runs
 *   (<= blocks) into `sums`. Bounded serial work for hot rows, independent work everywhere else.
 *
 * Written for a block of threads (first/stride loops, PFR_BARRIER between phases; pfr_agent_math.h).
 * Napkin math (cliff walk, N = 1e6, d = 8, dense): the overlays are read once (R (4d + 4) bytes an
 * agent: 1.7 GB at K = 100, ~0.6 ms at 3 TB/s), the partials written and read once (3907 x 384
 * doubles, 12 MB); the column sum is a chain of 3907 adds per entry (~20 us). Sparse (N = 1e6,
 * K = 10, S = 2.5e5): 1e7 entries sorted on 18 key bits (3 passes, ~0.5 ms), each entry's d floats
 * gathered once (320 MB).
 */
#ifndef PFR_FOLD_H
#define PFR_FOLD_H

#include <string.h>

#include "pfr_agent_round.h"
#include "pfr_federation.h"

/* PFR_AGENT_BLOCK (the CUDA block size of the fold), PFR_FOLD_SMEM_SD, PFR_FOLD_QTAB: pfr_constants.h */

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
    double *partial;                /* dense: [chunk blocks, S, d] the blocks' sums */
    double *theta_partial;          /* [chunk blocks, d], or NULL */
    int *block_count;               /* [all blocks] participants per block */
    uint8_t *touched;               /* [S] dense: set to 1 for every row a participant changed */
    /* sparse (pfr_fold_prep_block): every overlay slot an entry */
    uint32_t *key_out, *val_out;    /* [n R] row (S: none), (agent in chunk << qbits) | slot */
    double *agent_scale;            /* [n] each participant's factor, where weighted */
    int qbits;                      /* pfr_slot_bits(R) */
    /* Federation (NULL/0: without): each agent's change is from the Phi it started from (its age's,
     * as pfr_agent_base finds it) and scaled by age_weight[age] and min(1, clip / its L2 norm). */
    const uint8_t *age;             /* [N] or NULL: age0 */
    int age0, H;
    int64_t round;
    const float *hist;              /* [H + 1, S, d] */
    const double *age_weight;       /* [H + 1], or NULL: 1 */
    double clip;                    /* 0: not clipped */
} pfr_fold_args;

/* The sparse path's runs after the sort (pfr_run_sum, pfr_row_sum). */
typedef struct pfr_runs {
    const uint32_t *keys, *vals; /* [n R] sorted by key, stably */
    int64_t entries;             /* n R */
    const int *run_start;        /* [runs] the first entry of each run, ascending */
    uint32_t *run_row;           /* [runs] */
    double *run_sum;             /* [runs, d] */
    double *sums;                /* [S, d] the round's sums, carried from chunk to chunk */
    uint8_t *touched;            /* [S] */
} pfr_runs;

/* Key bits that hold every row and the sentinel S; value bits of an overlay slot (R <= 2^qbits). */
PFR_HD static inline int pfr_key_bits(int S)
{
    int b = 1;
    while (b < 32 && ((uint32_t)1 << b) <= (uint32_t)S)
        ++b;
    return b;
}
PFR_HD static inline int pfr_slot_bits(int R)
{
    int b = 0;
    while ((1 << b) < R)
        ++b;
    return b;
}

/* Agents per tile of the dense fold: [S, tile] slots of the tile's agents fit PFR_FOLD_QTAB. */
PFR_HD static inline int pfr_fold_tile(int S)
{
    const int t = PFR_FOLD_QTAB / (S > 0 ? S : 1);
    return t < 1 ? 1 : t > PFR_AGENT_BLOCK ? PFR_AGENT_BLOCK : t;
}
PFR_HD static inline int pfr_fold_words(int tile) { return (tile + 31) / 32; }

/* The dense path: where the blocks' sums for every row fit shared memory. */
PFR_HD static inline int pfr_fold_dense(int S, int d) { return (size_t)S * d <= PFR_FOLD_SMEM_SD; }

/* The dense fold's shared memory: dynamic [S d] sums, [S, words] masks, [S, tile] slots (aggregate.cu's
 * layout), and static per agent a row count, a flag and a factor. With S d <= PFR_FOLD_SMEM_SD at most
 * 48,384 bytes in all (S = 2048, d = 1), under the 48 KB a block has without opting in (a test checks). */
PFR_HD static inline size_t pfr_fold_smem_bytes(int S, int d)
{
    const int tile = pfr_fold_tile(S);
    return sizeof(double) * (size_t)S * d + sizeof(uint32_t) * (size_t)S * pfr_fold_words(tile) +
           sizeof(uint16_t) * (size_t)S * tile;
}
#define PFR_FOLD_SMEM_STATIC (PFR_AGENT_BLOCK * (sizeof(int) + 1 + sizeof(double)))

/* The Phi agent i's change is measured from: the one it started from. */
PFR_HD static inline const float *pfr_fold_base(const pfr_fold_args *a, int64_t i)
{
    return pfr_base_phi(a->phi, a->hist, a->age ? (int)a->age[i] : a->age0, a->H, a->round, a->S, a->d);
}

/* Whether changes are weighted: stale Phi or clipping (a factor of exactly 1 gives the plain bits). */
PFR_HD static inline int pfr_fold_weighted(const pfr_fold_args *a) { return a->ov_count && (a->hist || a->clip > 0.0); }

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

/* Agent i's change of entry (r, c), from overlay slot q, times its factor where weighted: the CPU
 * engine's fold_agent / fold_agent_weighted expression. */
PFR_HD static inline double pfr_fold_change(const pfr_fold_args *a, int64_t i, int q, uint32_t r, int c, int weighted,
                                            double scale)
{
    const size_t la = (size_t)(i - a->i0);
    const double diff = (double)a->ov_vals[(la * a->R + (size_t)q) * a->d + c] -
                        (double)pfr_fold_base(a, i)[(size_t)r * a->d + c];
    return weighted ? scale * diff : diff;
}

/* Shared memory of one block. */
typedef struct pfr_fold_smem {
    int *rows;           /* [PFR_AGENT_BLOCK] overlay rows of each participant (0: it sits out) */
    unsigned char *took; /* [PFR_AGENT_BLOCK] */
    double *scale;       /* [PFR_AGENT_BLOCK] each participant's factor (pfr_fold_scale) */
    double *part;        /* dense: [S d] the block's sums */
    uint32_t *mask;      /* dense: [S, words] bit jj: the tile's agent jj changed the row */
    uint16_t *qtab;      /* dense: [S, tile] that agent's overlay slot of the row */
} pfr_fold_smem;

/* The fold of the agents a round `a` just stepped (same chunk, overlays, Phi, theta): Phi changes
 * folded when avg_phi (else ov_count is NULL), theta summed when theta_partial is not NULL. */
PFR_HD static inline pfr_fold_args pfr_fold_args_of_round(const pfr_round_args *a, int avg_phi, double *partial,
                                                          double *theta_partial, int *block_count)
{
    pfr_fold_args f;
    memset(&f, 0, sizeof f);
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
    f.qbits = pfr_slot_bits(a->R);
    f.age = a->age;
    f.age0 = a->age0;
    f.H = a->H;
    f.round = a->round;
    f.hist = a->hist;
    return f; /* age_weight, clip, touched and the sparse outputs: set by the caller */
}

/* Block lb of the chunk, phase a: its agents' flags, overlay rows and factors into shared memory;
 * returns the agents it has (fewer in the chunk's last block). */
PFR_HD static inline int pfr_fold_begin(const pfr_fold_args *a, int64_t lb, int first, int stride,
                                        const pfr_fold_smem *w)
{
    const int64_t i0 = a->i0 + lb * PFR_AGENT_BLOCK, end = a->i0 + a->n;
    const int nag = (int)((i0 + PFR_AGENT_BLOCK < end ? i0 + PFR_AGENT_BLOCK : end) - i0);
    for (int j = first; j < PFR_AGENT_BLOCK; j += stride) {
        const int t = j < nag ? (int)a->took_part[i0 + j] : 0;
        w->took[j] = (unsigned char)t;
        w->rows[j] = t && a->ov_count ? a->ov_count[i0 + j - a->i0] : 0;
    }
    PFR_BARRIER();
    if (pfr_fold_weighted(a))
        for (int j = first; j < nag; j += stride)
            w->scale[j] = w->took[j] ? pfr_fold_scale(a, i0 + j, w->rows[j]) : 0.0;
    PFR_BARRIER();
    return nag;
}

/* Block lb, last phase: theta summed over its participants in order (thread c: column c) and its
 * participants counted. */
PFR_HD static inline void pfr_fold_end(const pfr_fold_args *a, int64_t lb, int nag, int first, int stride,
                                       const pfr_fold_smem *w)
{
    const int d = a->d;
    const int64_t i0 = a->i0 + lb * PFR_AGENT_BLOCK;
    if (a->theta_partial)
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
        a->block_count[i0 / PFR_AGENT_BLOCK] = count;
    }
}

/* Entries (r, c) of [S, d] from `first` in steps of `stride`, without a division per entry: the
 * step's rows and columns split once. */
typedef struct pfr_rc {
    int r, c, dr, dc;
} pfr_rc;
PFR_HD static inline pfr_rc pfr_rc_begin(int first, int stride, int d)
{
    pfr_rc it = {first / d, first % d, stride / d, stride % d};
    return it;
}
PFR_HD static inline void pfr_rc_next(pfr_rc *it, int d)
{
    it->r += it->dr;
    it->c += it->dc;
    if (it->c >= d) {
        it->c -= d;
        it->r += 1;
    }
}

/* The dense fold of block lb: B_b of every entry in shared memory (w->part), written to the block's
 * partial [S, d]; the rows changed marked in a->touched; theta and the count (pfr_fold_end). */
PFR_HD static inline void pfr_fold_block(const pfr_fold_args *a, int64_t lb, int first, int stride,
                                         const pfr_fold_smem *w)
{
    const int nag = pfr_fold_begin(a, lb, first, stride, w);
    if (a->ov_count) {
        const int S = a->S, d = a->d, R = a->R, tile = pfr_fold_tile(S), words = pfr_fold_words(tile);
        const int weighted = pfr_fold_weighted(a);
        const int64_t i0 = a->i0 + lb * PFR_AGENT_BLOCK;
        const size_t sd = (size_t)S * d;
        for (size_t e = (size_t)first; e < sd; e += (size_t)stride)
            w->part[e] = 0.0;
        for (int t0 = 0; t0 < nag; t0 += tile) {
            const int tn = nag - t0 < tile ? nag - t0 : tile;
            PFR_BARRIER(); /* every thread is done with the previous tile's marks and slots */
            for (int x = first; x < S * words; x += stride)
                w->mask[x] = 0u;
            PFR_BARRIER();
            /* each of the tile's participants marks its rows: a thread an agent (its rows are distinct) */
            for (int jj = first; jj < tn; jj += stride) {
                const uint32_t *rows = a->ov_rows + (size_t)(i0 + t0 + jj - a->i0) * R;
                for (int q = 0; q < w->rows[t0 + jj]; ++q) {
                    const uint32_t r = rows[q];
                    w->qtab[(size_t)r * tile + jj] = (uint16_t)q;
                    PFR_ATOMIC_OR(&w->mask[(size_t)r * words + (jj >> 5)], 1u << (jj & 31));
                }
            }
            PFR_BARRIER();
            /* entry (r, c): the marked agents' changes in index order (a row's bits, lowest first) */
            pfr_rc it = pfr_rc_begin(first, stride, d);
            for (; it.r < S; pfr_rc_next(&it, d)) {
                const int r = it.r, c = it.c;
                double acc = w->part[(size_t)r * d + c];
                int any = 0;
                for (int wd = 0; wd < words; ++wd) {
                    uint32_t bits = w->mask[(size_t)r * words + wd];
                    any |= bits != 0u;
                    while (bits) {
                        const int jj = wd * 32 + PFR_CTZ(bits);
                        bits &= bits - 1u;
                        acc += pfr_fold_change(a, i0 + t0 + jj, w->qtab[(size_t)r * tile + jj], (uint32_t)r, c, weighted,
                                               weighted ? w->scale[t0 + jj] : 1.0);
                    }
                }
                w->part[(size_t)r * d + c] = acc;
                if (any && c == 0)
                    a->touched[r] = 1;
            }
        }
        PFR_BARRIER();
        for (size_t e = (size_t)first; e < sd; e += (size_t)stride)
            a->partial[(size_t)lb * sd + e] = w->part[e];
    }
    pfr_fold_end(a, lb, nag, first, stride, w);
}

/* The sparse path's first phase for block lb: every overlay slot of its agents an entry (a thread an
 * agent), each participant's factor where weighted (a->agent_scale), theta and the count. */
PFR_HD static inline void pfr_fold_prep_block(const pfr_fold_args *a, int64_t lb, int first, int stride,
                                              const pfr_fold_smem *w)
{
    const int nag = pfr_fold_begin(a, lb, first, stride, w);
    const int R = a->R, weighted = pfr_fold_weighted(a);
    const int64_t i0 = a->i0 + lb * PFR_AGENT_BLOCK;
    for (int j = first; j < nag; j += stride) {
        const uint32_t la = (uint32_t)(i0 + j - a->i0);
        const uint32_t *rows = a->ov_rows + (size_t)la * R;
        for (int q = 0; q < R; ++q) {
            a->key_out[(size_t)la * R + q] = q < w->rows[j] ? rows[q] : (uint32_t)a->S;
            a->val_out[(size_t)la * R + q] = la << a->qbits | (uint32_t)q;
        }
        if (weighted)
            a->agent_scale[la] = w->scale[j];
    }
    pfr_fold_end(a, lb, nag, first, stride, w);
}

/* Sparse: whether sorted entry x starts a run (a row's first entry, or its first of a block). */
PFR_HD static inline int pfr_run_head(const pfr_runs *p, int64_t x, int S, int qbits)
{
    const uint32_t k = p->keys[x];
    if (k >= (uint32_t)S)
        return 0;
    const int shift = qbits + PFR_AGENT_BLOCK_LOG2;
    return x == 0 || p->keys[x - 1] != k || (p->vals[x - 1] >> shift) != (p->vals[x] >> shift);
}

/* Sparse: run u's sum of column c (from 0, its agents in index order). */
PFR_HD static inline void pfr_run_sum(const pfr_fold_args *a, const pfr_runs *p, int64_t u, int c)
{
    const int shift = a->qbits + PFR_AGENT_BLOCK_LOG2, weighted = pfr_fold_weighted(a);
    const uint32_t qmask = ((uint32_t)1 << a->qbits) - 1u;
    int64_t x = p->run_start[u];
    const uint32_t row = p->keys[x], blk = p->vals[x] >> shift;
    double acc = 0.0;
    do {
        const uint32_t v = p->vals[x], la = v >> a->qbits;
        acc += pfr_fold_change(a, a->i0 + la, (int)(v & qmask), row, c, weighted, weighted ? a->agent_scale[la] : 1.0);
    } while (++x < p->entries && p->keys[x] == row && (p->vals[x] >> shift) == blk);
    p->run_sum[(size_t)u * a->d + c] = acc;
    if (c == 0)
        p->run_row[u] = row;
}

/* Sparse: where run u is its row's first, the row's runs (blocks in order) added into its sums. */
PFR_HD static inline void pfr_row_sum(const pfr_runs *p, int64_t u, int64_t runs, int c, int d)
{
    const uint32_t row = p->run_row[u];
    if (u > 0 && p->run_row[u - 1] == row)
        return;
    double acc = p->sums[(size_t)row * d + c];
    for (int64_t x = u; x < runs && p->run_row[x] == row; ++x)
        acc += p->run_sum[(size_t)x * d + c];
    p->sums[(size_t)row * d + c] = acc;
    if (c == 0)
        p->touched[row] = 1;
}

/* out[e] (+)= the blocks' partials of column e in block order: partial [blocks, cols]. */
PFR_HD static inline void pfr_colsum(const double *partial, int64_t cols, int64_t blocks, double *out, int64_t e,
                                     int accumulate)
{
    double acc = accumulate ? out[e] : 0.0;
    for (int64_t b = 0; b < blocks; ++b)
        acc += partial[(size_t)b * cols + e];
    out[e] = acc;
}

/* After the sums over blocks and chunks: the mean change applied to row r where some participant
 * changed it (the CPU engine's expression, element by element), its sums emptied for the next round
 * (scale = 1 / participants). */
PFR_HD static inline void pfr_apply_row(float *phi, double *sums, uint8_t *touched, double scale, int r, int d)
{
    if (!touched[r])
        return;
    for (int c = 0; c < d; ++c) {
        const size_t e = (size_t)r * d + c;
        phi[e] = (float)((double)phi[e] + sums[e] * scale);
        sums[e] = 0.0;
    }
    touched[r] = 0;
}

/* With the private aggregation's noise (federation.noise_multiplier): every row changes, entry e by
 * noise_std times a standard normal that depends on seed, round and e only (pfr_dp_gauss), the CPU
 * engine's expression. The device's log, sin and cos may differ from the host's in the last bit:
 * CPU/GPU parity is then within rounding, not bit for bit. */
PFR_HD static inline void pfr_apply_row_noisy(float *phi, double *sums, uint8_t *touched, double scale, int r, int d,
                                              double noise_std, uint64_t seed, int64_t round)
{
    for (int c = 0; c < d; ++c) {
        const size_t e = (size_t)r * d + c;
        phi[e] = (float)((double)phi[e] + (sums[e] + noise_std * pfr_dp_gauss(seed, round, (uint64_t)e)) * scale);
        sums[e] = 0.0;
    }
    touched[r] = 0;
}

PFR_HD static inline void pfr_broadcast_entry(float *theta, const double *sum_theta, double scale, int d, int64_t e)
{
    theta[e] = (float)(sum_theta[e % d] * scale);
}

#endif
