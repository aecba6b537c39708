/*
 * round_sequence.h — the CUDA engine's round as a sequence of device operations, written once and
 * driven twice: by the engine (cuda_engine.cu, whose operations launch kernels and CUB) and by the
 * CPU tests (tests/test_cuda_logic.cc, whose operations run the same kernel bodies on the host:
 * pfr_agent_round.h, pfr_warp_round.h, pfr_fold.h, pfr_cholqr.h). So the tests check the engine's
 * own sequencing (chunks, what is summed into what, when the mean is applied, the order of the
 * Cholesky-QR steps), not a copy of it. C++ (a template over the operations); no CUDA types, so
 * the tests compile it without nvcc.
 *
 * A round (every sum in the CPU engine's order, pfr_fold.h: the same bits for any chunk):
 *   per chunk of agents (all agents when they fit the device):
 *     local steps                 every participant's K steps; overlays of the chunk's agents
 *     dense S d (or no Phi sums): fold        per agent block: its sums of every row (Phi_i - Phi over
 *                                             the overlay rows, from the Phi the agent started from,
 *                                             weighted and clipped), theta_i, count; rows marked
 *                                 sum_blocks  sums += the chunk's block partials, blocks in order
 *     sparse:                     fold_prep   per agent block: every overlay slot an entry (row, agent
 *                                             and slot), theta_i, count
 *                                 sort        the entries by row, stably (agents stay in order)
 *                                 select_runs the runs: a row's entries of one block
 *                                 run_sums    each run's sum; row_sums: a row's runs in block order
 *                                             added into sums, the row marked
 *     theta                       theta sums (+)= the chunk's block partials, blocks in order
 *   participants                  N when everybody takes part, else the block counts' sum (a wait)
 *   apply                         Phi += sums / participants where a row is marked (+ noise on every
 *                                 row: the private aggregation), sums emptied; theta_i = the mean
 *   orthonormalize                shared Phi: Gram (tiles, then in order) -> factor -> row solve ->
 *                                 theta map; local_rep: every agent's Phi_i, a thread per agent
 *
 * The operations `Ops` must provide (each returns a pfr_status; buffers as in pfr_round_buffers):
 *   local_steps(const pfr_round_args &)     fold(const pfr_fold_args &)     fold_prep(const pfr_fold_args &)
 *   sort(uint32_t *keys[2], uint32_t *vals[2], int64_t n, int bits, int *current)
 *        stable by key (bits: the key's), the result in keys[*current], vals[*current]
 *   select_runs(const uint32_t *keys, const uint32_t *vals, int64_t n, int S, int qbits, int *run_start,
 *               int *runs): the entries x with pfr_run_head, ascending, and their count (on the device)
 *   run_sums(const pfr_fold_args &, const pfr_runs &, const int *runs)
 *   row_sums(const pfr_runs &, const int *runs, int d)
 *   sum_blocks(const double *partial, int64_t cols, int64_t blocks, double *out, int accumulate)
 *        out[e] (+)= partial[b * cols + e] over b in order (pfr_colsum)
 *   count_participants(uint64_t *part)
 *   apply(float *phi, double *sums, uint8_t *touched, double scale, int S, int d)
 *   apply_noisy(float *phi, double *sums, uint8_t *touched, double scale, int S, int d, double noise_std,
 *               uint64_t seed, int64_t round)
 *   broadcast_theta(float *theta, const double *sum, double scale, int64_t N, int d)
 *   gram(const float *phi, double *tiles, int S, int d, double *G): pfr_gram's bits
 *   chol(double *G, int d, double c, double *R, uint64_t round, const uint64_t *round_dev)
 *   solve_rows(float *phi, const double *U, int S, int d, double c)
 *   map_theta(float *theta, const double *R, int64_t N, int d)
 *   agent_cholqr(float *agent_phi, float *theta, int64_t N, int S, int d, uint64_t round,
 *                const uint64_t *round_dev)
 * chol and agent_cholqr record a failed factor (the first failed round) where the operations keep
 * it; solve_rows and map_theta then leave Phi and theta alone. `sums` [S, d] and `touched` [S] are
 * zero between rounds (apply empties what it used).
 */
#ifndef PFR_ROUND_SEQUENCE_H
#define PFR_ROUND_SEQUENCE_H

#include <math.h>
#include <string.h>

#include "kernels/pfr_agent_round.h"
#include "kernels/pfr_fold.h"
#include "engine.h"

/* Where a round's data lives: device buffers in the engine, host arrays in the tests. */
struct pfr_round_buffers {
    const uint32_t *row_ptr;      /* [M, S+1] 32-bit row pointers */
    const uint32_t *thr, *next;   /* [nnz] */
    const float *reward;          /* [nnz] */
    const float *alpha, *beta;    /* [K] the round's step sizes */
    float *phi;                   /* [S, d] shared Phi */
    float *agent_phi;             /* [N, S, d] local_rep only, else NULL */
    float *theta;                 /* [N, d] */
    uint32_t *state;              /* [N] */
    uint32_t *ov_rows;            /* [chunk, R] overlays (shared-Phi learning), else NULL */
    float *ov_vals;               /* [chunk, R, d] */
    int *ov_count;                /* [chunk] */
    uint8_t *ov_slot;             /* [chunk, S] slot map, or NULL: overlays are scanned */
    unsigned char *took;          /* [N] took part this round */
    double *partial;              /* dense: [chunk blocks, S*d] (avg_phi) */
    double *theta_partial;        /* [chunk blocks, d] (avg_theta) */
    int *block_count;             /* [N blocks] participants per block */
    double *sums;                 /* [S*d + d] the round's sums of Phi changes (zero between rounds), then of theta */
    uint8_t *touched;             /* [S] rows some participant changed this round (zero between rounds) */
    /* sparse (avg_phi where S d is beyond the dense fold): n = chunk R entries */
    uint32_t *keys[2], *vals[2];  /* [n] each: the entries, and the sort's other buffer */
    int *run_start, *runs;        /* [n] the runs' first entries; their count [1] */
    uint32_t *run_row;            /* [n] */
    double *run_sum;              /* [n, d] */
    double *agent_scale;          /* [chunk] the participants' factors, where weighted */
    double *gram_tiles, *gram, *R; /* Cholesky-QR: [tiles, d, d], [d, d], [d, d] */
    const uint64_t *ctr;          /* graph mode: {t0, round} on the device; NULL: from the plan */
    /* federation (used where the plan has them): */
    const uint32_t *steps;        /* [N] the plan's steps */
    const uint8_t *age;           /* [N] the plan's ages */
    const float *hist;            /* [H + 1, S, d] the history of Phi, this round's slot filled */
    const double *age_weight;     /* [H + 1] */
    uint8_t *action;              /* [N] control=sarsa: each agent's next action */
};

/* The round's arguments for the local steps of every chunk (the caller sets i0, n per chunk). */
static inline pfr_round_args pfr_round_args_make(const pfr_sim *sim, const pfr_round_plan *plan, int R,
                                                 const pfr_round_buffers &b)
{
    pfr_round_args a;
    memset(&a, 0, sizeof a);
    a.N = sim->N;
    a.S = sim->S;
    a.d = sim->d;
    a.K = plan->K;
    a.R = R;
    a.type_first = sim->type_first;
    a.type_count = sim->type_count;
    a.seed = sim->cfg.seed;
    a.t0 = plan->t0;
    a.t0_dev = b.ctr;
    a.part_threshold = plan->part_threshold;
    a.gamma = (float)sim->cfg.gamma;
    a.learn_phi = sim->learn_phi;
    a.row_ptr = b.row_ptr;
    a.thr = b.thr;
    a.next = b.next;
    a.reward = b.reward;
    a.alpha = b.alpha;
    a.beta = b.beta;
    a.phi = b.phi;
    a.agent_phi = sim->own_phi ? b.agent_phi : 0;
    a.theta = b.theta;
    a.state = b.state;
    const int overlay = sim->learn_phi && !sim->own_phi;
    a.ov_rows = overlay ? b.ov_rows : 0;
    a.ov_vals = overlay ? b.ov_vals : 0;
    a.ov_count = overlay ? b.ov_count : 0;
    a.ov_slot = overlay ? b.ov_slot : 0;
    a.took_part = b.took;
    a.steps = plan->steps ? b.steps : 0;
    a.age = plan->age ? b.age : 0;
    a.age0 = plan->age0;
    a.H = plan->base ? plan->history : 0;
    a.round = plan->round;
    a.hist = plan->base ? b.hist : 0;
    a.control = (int)sim->control; /* pfr_control's values: PFR_CONTROL_KIND_* */
    a.A = sim->A;
    a.explore_thr = plan->explore_thr;
    a.action = b.action;
    return a;
}

/* The sparse path's sums of one chunk (pfr_fold.h): entries, the sort, the runs, their sums; the
 * rows' sums added into b.sums. */
template <class Ops>
pfr_status pfr_round_sparse_sums(Ops &ops, const pfr_fold_args &f, const pfr_round_buffers &b)
{
    const int64_t n = f.n * f.R;
    pfr_status st = ops.fold_prep(f);
    uint32_t *keys[2] = {b.keys[0], b.keys[1]}, *vals[2] = {b.vals[0], b.vals[1]};
    int cur = 0;
    if (st == PFR_OK)
        st = ops.sort(keys, vals, n, pfr_key_bits(f.S), &cur);
    if (st == PFR_OK)
        st = ops.select_runs(keys[cur], vals[cur], n, f.S, f.qbits, b.run_start, b.runs);
    pfr_runs p;
    p.keys = keys[cur];
    p.vals = vals[cur];
    p.entries = n;
    p.run_start = b.run_start;
    p.run_row = b.run_row;
    p.run_sum = b.run_sum;
    p.sums = b.sums;
    p.touched = b.touched;
    if (st == PFR_OK)
        st = ops.run_sums(f, p, b.runs);
    if (st == PFR_OK)
        st = ops.row_sums(p, b.runs, f.d);
    return st;
}

/* Part 1: per chunk of `chunk` agents (a multiple of PFR_AGENT_BLOCK), the local steps and the
 * chunk's sums added into b.sums (Phi's, in order; theta's after them). */
template <class Ops>
pfr_status pfr_round_steps_and_fold(Ops &ops, const pfr_sim *sim, const pfr_round_plan *plan, int R, int64_t chunk,
                                    const pfr_round_buffers &b)
{
    const int d = sim->d;
    const int64_t N = sim->N;
    const size_t sd = (size_t)sim->S * d;
    const int sparse = sim->avg_phi && !pfr_fold_dense(sim->S, d);
    pfr_round_args a = pfr_round_args_make(sim, plan, R, b);
    pfr_fold_args f = pfr_fold_args_of_round(&a, sim->avg_phi, b.partial, sim->avg_theta ? b.theta_partial : 0,
                                             b.block_count);
    f.age_weight = plan->age_weight ? b.age_weight : 0;
    f.clip = plan->clip;
    f.touched = b.touched;
    f.key_out = b.keys[0];
    f.val_out = b.vals[0];
    f.agent_scale = b.agent_scale;
    double *phi_sum = b.sums, *theta_sum = b.sums + sd;
    pfr_status st = PFR_OK;
    for (int64_t c0 = 0; c0 < N && st == PFR_OK; c0 += chunk) {
        const int64_t n = N - c0 < chunk ? N - c0 : chunk;
        const int64_t cblocks = (n + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
        a.i0 = f.i0 = c0;
        a.n = f.n = n;
        st = ops.local_steps(a);
        if (st == PFR_OK && sparse)
            st = pfr_round_sparse_sums(ops, f, b);
        else if (st == PFR_OK)
            st = ops.fold(f);
        if (st == PFR_OK && sim->avg_phi && !sparse) /* into the sums carried from the chunks before */
            st = ops.sum_blocks(b.partial, (int64_t)sd, cblocks, phi_sum, 1);
        if (st == PFR_OK && sim->avg_theta)
            st = ops.sum_blocks(b.theta_partial, d, cblocks, theta_sum, c0 > 0);
    }
    return st;
}

/* Part 2: the mean over `part` participants applied, then orthonormalization (when asked). */
template <class Ops>
pfr_status pfr_round_apply_and_orthonormalize(Ops &ops, const pfr_sim *sim, const pfr_round_plan *plan, uint64_t part,
                                              int orthonormalize, const pfr_round_buffers &b)
{
    const int S = sim->S, d = sim->d;
    const size_t sd = (size_t)S * d;
    pfr_status st = PFR_OK;
    if (part > 0) {
        const double inv = 1.0 / (double)part;
        if (sim->avg_phi && plan->noise_std > 0.0) /* the private aggregation: noise on every entry, its denominator */
            st = ops.apply_noisy(b.phi, b.sums, b.touched, pfr_plan_mean_scale(plan, part), S, d, plan->noise_std,
                                 sim->cfg.seed, plan->round);
        else if (sim->avg_phi)
            st = ops.apply(b.phi, b.sums, b.touched, inv, S, d);
        if (st == PFR_OK && sim->avg_theta)
            st = ops.broadcast_theta(b.theta, b.sums + sd, inv, sim->N, d);
    }
    if (st != PFR_OK || !orthonormalize)
        return st;
    const uint64_t round = (uint64_t)plan->round;
    const uint64_t *round_dev = b.ctr ? b.ctr + 1 : 0;
    if (sim->own_phi) /* every agent's Phi_i, whether it took part or not (as the CPU engine does) */
        return ops.agent_cholqr(b.agent_phi, b.theta, sim->N, S, d, round, round_dev);
    if (part == 0) /* Phi did not change */
        return PFR_OK;
    const double c = sqrt((double)S / d);
    st = ops.gram(b.phi, b.gram_tiles, S, d, b.gram);
    if (st == PFR_OK)
        st = ops.chol(b.gram, d, c, b.R, round, round_dev);
    if (st == PFR_OK)
        st = ops.solve_rows(b.phi, b.gram, S, d, c);
    if (st == PFR_OK)
        st = ops.map_theta(b.theta, b.R, sim->N, d);
    return st;
}

/* A whole round: both parts, with the participants counted in between (N when everybody takes
 * part: then nothing in the round waits for the device). */
template <class Ops>
pfr_status pfr_round_run(Ops &ops, const pfr_sim *sim, const pfr_round_plan *plan, int R, int64_t chunk,
                         int orthonormalize, const pfr_round_buffers &b, uint64_t *participants)
{
    pfr_status st = pfr_round_steps_and_fold(ops, sim, plan, R, chunk, b);
    uint64_t part = (uint64_t)sim->N;
    if (st == PFR_OK && (plan->part_threshold < (1ull << 32) || plan->steps))
        st = ops.count_participants(&part);
    if (st != PFR_OK)
        return st;
    *participants = part;
    return pfr_round_apply_and_orthonormalize(ops, sim, plan, part, orthonormalize, b);
}

#endif
