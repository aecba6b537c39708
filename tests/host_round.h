// The CUDA engine's round run on the host, for the tests without a GPU (test_cuda_logic.cc) and the
// GPU tests' references (test_cuda.cc): the host arrays that stand in for the engine's device
// buffers, and the operations of host/cuda/round_sequence.h done with the kernels' own bodies
// (pfr_agent_round.h, pfr_warp_round.h through HostWarp, pfr_fold.h, pfr_cholqr.h). The sequence of
// operations is the engine's own: pfr_round_run drives both.
#ifndef PFR_TESTS_HOST_ROUND_H
#define PFR_TESTS_HOST_ROUND_H

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cuda/round_sequence.h"
#include "sim/federation.h"
#include "kernels/pfr_cholqr.h"
#include "kernels/pfr_warp_round.h"
#include "tests/host_warp.h"

// Where the engines may differ by rounding (the private aggregation's noise: the device's log, sin
// and cos), the GPU tests compare the changes Phi - Phi0 and theta - theta0 relative to the CPU
// engine's change, within this (calibrated by CudaLogic.ParityToleranceAbsorbsRoundingNoise...).
constexpr double kChangeTol = 1e-4;

// The engine's device buffers, on the host (shapes: host/cuda/round_sequence.h). `chunk` agents'
// overlays and block partials (dense S d) or entries (sparse); `slots`: a slot map for the overlays
// (else they are scanned).
struct HostBuffers {
    std::vector<uint32_t> rp32, ov_rows, keys[2], vals[2], run_row;
    std::vector<float> alpha, beta, ov_vals;
    std::vector<int> ov_count, block_count, run_start, runs;
    std::vector<uint8_t> ov_slot, touched;
    std::vector<unsigned char> took;
    std::vector<double> partial, theta_partial, sums, gram_tiles, gram, R, run_sum, agent_scale;
    int R_rows = 0;
    int64_t chunk = 0;

    HostBuffers(const pfr_sim *sim, int64_t chunk_agents, bool slots)
    {
        const int S = sim->S, d = sim->d, K = sim->K;
        const int64_t N = sim->N;
        chunk = chunk_agents < N ? chunk_agents : N;
        R_rows = K < S ? K : S;
        const int64_t cblocks = (chunk + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK, n = chunk * R_rows;
        rp32.resize((size_t)sim->M * (S + 1));
        for (size_t r = 0; r < rp32.size(); ++r)
            rp32[r] = (uint32_t)sim->env->row_ptr[r];
        alpha.assign(K, (float)sim->cfg.alpha); // a constant schedule
        beta.assign(K, (float)sim->cfg.beta);
        if (sim->tabular) { // as sim.c does: the table learns at alpha, theta (fixed at 1) not at all
            beta.assign(K, (float)sim->cfg.alpha);
            alpha.assign(K, 0.0f);
        }
        ov_rows.resize((size_t)chunk * R_rows);
        ov_vals.resize((size_t)chunk * R_rows * d);
        ov_count.resize(chunk);
        ov_slot.assign(slots ? (size_t)chunk * S : 0, 0xFF);
        took.resize(N);
        block_count.resize((N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK);
        if (pfr_fold_dense(S, d))
            partial.resize((size_t)cblocks * S * d);
        theta_partial.resize((size_t)cblocks * d);
        sums.assign((size_t)S * d + d, 0.0);
        touched.assign(S, 0);
        for (auto *v : {&keys[0], &keys[1], &vals[0], &vals[1], &run_row})
            v->resize(n);
        run_start.resize(n);
        runs.assign(1, 0);
        run_sum.resize((size_t)n * d);
        agent_scale.resize(chunk);
        gram_tiles.resize((size_t)pfr_gram_tiles(S) * d * d);
        gram.resize((size_t)2 * d * d);
        R.resize((size_t)d * d);
    }

    // The buffers as the sequence sees them, over sim's host state (Phi, theta, states).
    pfr_round_buffers view(pfr_sim *sim)
    {
        pfr_round_buffers b;
        std::memset(&b, 0, sizeof b);
        b.row_ptr = rp32.data();
        b.thr = sim->env->thr;
        b.next = sim->env->next;
        b.reward = sim->env->reward;
        b.alpha = alpha.data();
        b.beta = beta.data();
        b.phi = sim->phi;
        b.agent_phi = sim->agent_phi;
        b.theta = sim->theta;
        b.state = sim->state;
        b.ov_rows = ov_rows.data();
        b.ov_vals = ov_vals.data();
        b.ov_count = ov_count.data();
        b.ov_slot = ov_slot.empty() ? nullptr : ov_slot.data();
        b.took = took.data();
        b.partial = partial.empty() ? nullptr : partial.data();
        b.theta_partial = theta_partial.data();
        b.block_count = block_count.data();
        b.sums = sums.data();
        b.touched = touched.data();
        for (int k = 0; k < 2; ++k) {
            b.keys[k] = keys[k].data();
            b.vals[k] = vals[k].data();
        }
        b.run_start = run_start.data();
        b.runs = runs.data();
        b.run_row = run_row.data();
        b.run_sum = run_sum.data();
        b.agent_scale = agent_scale.data();
        b.gram_tiles = gram_tiles.data();
        b.gram = gram.data();
        b.R = R.data();
        return b;
    }
};

// A block's shared memory for the fold bodies (pfr_fold.h), as aggregate.cu lays it out.
struct HostFoldSmem {
    std::vector<int> rows;
    std::vector<unsigned char> took;
    std::vector<double> scale, part;
    std::vector<uint32_t> mask;
    std::vector<uint16_t> qtab;
    pfr_fold_smem w;

    HostFoldSmem(int S, int d)
        : rows(PFR_AGENT_BLOCK), took(PFR_AGENT_BLOCK), scale(PFR_AGENT_BLOCK), part((size_t)S * d),
          mask((size_t)S * pfr_fold_words(pfr_fold_tile(S))), qtab((size_t)S * pfr_fold_tile(S))
    {
        w = {rows.data(), took.data(), scale.data(), part.data(), mask.data(), qtab.data()};
    }
};

// The operations of round_sequence.h on the host: each runs what its kernel runs, thread after
// thread (block after block for the fold, a block of one thread stride for the factor, the warp's
// lanes as coroutines for the warp kernel); CUB's sort and selection by their definitions (a stable
// sort by key; the indices that satisfy the predicate, in order). A failed factor is kept in `fail`
// as on the device.
struct HostOps {
    const pfr_sim *sim;
    HostWarp *warp;         // the warp kernel's round; NULL: the thread kernel's
    const int *block_count; // [N blocks] what the fold wrote
    unsigned long long fail = 0xFFFFFFFFFFFFFFFFull;

    pfr_status local_steps(const pfr_round_args &a)
    {
        // the thread kernel's lookup map in shared memory (local_steps.cu): a slot map or a hash
        // table, filled afresh for each agent
        const int sw = pfr_map_words(&a);
        std::vector<uint32_t> smem_map((size_t)sw);
        for (int64_t i = a.i0; i < a.i0 + a.n; ++i) {
            uint8_t *map = nullptr;
            if (sw && (a.control || !warp)) {
                std::fill(smem_map.begin(), smem_map.end(), 0xFFFFFFFFu);
                map = (uint8_t *)smem_map.data();
            }
            if (a.control) // the thread kernel's choice (local_steps.cu)
                pfr_agent_round_control(&a, i, a.d, map);
            else if (warp)
                warp->run(&a, i);
            else
                pfr_agent_round(&a, i, a.d, map);
        }
        return PFR_OK;
    }
    pfr_status fold(const pfr_fold_args &f)
    {
        HostFoldSmem sm(f.S, f.d);
        const int64_t blocks = (f.n + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
        for (int64_t lb = 0; lb < blocks; ++lb)
            pfr_fold_block(&f, lb, 0, 1, &sm.w);
        return PFR_OK;
    }
    pfr_status fold_prep(const pfr_fold_args &f)
    {
        HostFoldSmem sm(1, 1);
        const int64_t blocks = (f.n + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
        for (int64_t lb = 0; lb < blocks; ++lb)
            pfr_fold_prep_block(&f, lb, 0, 1, &sm.w);
        return PFR_OK;
    }
    pfr_status sort(uint32_t *keys[2], uint32_t *vals[2], int64_t n, int bits, int *current)
    {
        std::vector<int64_t> ix((size_t)n);
        for (int64_t x = 0; x < n; ++x)
            ix[(size_t)x] = x;
        const uint32_t *k = keys[0], mask = bits >= 32 ? ~0u : (1u << bits) - 1u;
        std::stable_sort(ix.begin(), ix.end(), [&](int64_t p, int64_t q) { return (k[p] & mask) < (k[q] & mask); });
        for (int64_t x = 0; x < n; ++x) {
            keys[1][x] = keys[0][ix[(size_t)x]];
            vals[1][x] = vals[0][ix[(size_t)x]];
        }
        *current = 1;
        return PFR_OK;
    }
    pfr_status select_runs(const uint32_t *keys, const uint32_t *vals, int64_t n, int S, int qbits, int *run_start,
                           int *runs)
    {
        pfr_runs p;
        std::memset(&p, 0, sizeof p);
        p.keys = keys;
        p.vals = vals;
        int m = 0;
        for (int64_t x = 0; x < n; ++x)
            if (pfr_run_head(&p, x, S, qbits))
                run_start[m++] = (int)x;
        *runs = m;
        return PFR_OK;
    }
    pfr_status run_sums(const pfr_fold_args &f, const pfr_runs &p, const int *runs)
    {
        for (int64_t u = 0; u < *runs; ++u)
            for (int c = 0; c < f.d; ++c)
                pfr_run_sum(&f, &p, u, c);
        return PFR_OK;
    }
    pfr_status row_sums(const pfr_runs &p, const int *runs, int d)
    {
        for (int64_t u = 0; u < *runs; ++u)
            for (int c = 0; c < d; ++c)
                pfr_row_sum(&p, u, *runs, c, d);
        return PFR_OK;
    }
    pfr_status sum_blocks(const double *partial, int64_t cols, int64_t blocks, double *out, int accumulate)
    {
        for (int64_t e = 0; e < cols; ++e)
            pfr_colsum(partial, cols, blocks, out, e, accumulate);
        return PFR_OK;
    }
    pfr_status count_participants(uint64_t *part)
    {
        const int64_t nblocks = (sim->N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
        uint64_t n = 0;
        for (int64_t b = 0; b < nblocks; ++b)
            n += (uint64_t)block_count[b];
        *part = n;
        return PFR_OK;
    }
    pfr_status apply(float *phi, double *sums, uint8_t *touched, double scale, int S, int d)
    {
        for (int r = 0; r < S; ++r)
            pfr_apply_row(phi, sums, touched, scale, r, d);
        return PFR_OK;
    }
    pfr_status apply_noisy(float *phi, double *sums, uint8_t *touched, double scale, int S, int d, double noise_std,
                           uint64_t seed, int64_t round)
    {
        for (int r = 0; r < S; ++r)
            pfr_apply_row_noisy(phi, sums, touched, scale, r, d, noise_std, seed, round);
        return PFR_OK;
    }
    pfr_status broadcast_theta(float *theta, const double *sum, double scale, int64_t N, int d)
    {
        for (int64_t e = 0; e < N * d; ++e)
            pfr_broadcast_entry(theta, sum, scale, d, e);
        return PFR_OK;
    }
    // the device's two kernels: every tile's part of every entry, then the tiles in order
    pfr_status gram(const float *phi, double *tiles, int S, int d, double *G)
    {
        const int nt = pfr_gram_tiles(S);
        for (int t = 0; t < nt; ++t)
            for (int e = 0; e < d * d; ++e)
                tiles[(size_t)t * d * d + e] = pfr_gram_tile_entry(phi, S, d, t, e / d, e % d);
        return sum_blocks(tiles, (int64_t)d * d, nt, G, 0);
    }
    pfr_status chol(double *G, int d, double c, double *R, uint64_t round, const uint64_t *)
    {
        pfr_chol_shared sh;
        const int earlier = fail != 0xFFFFFFFFFFFFFFFFull;
        if (pfr_chol_block(G, d, c, R, earlier, 0, 1, &sh) != 0 && !earlier)
            fail = round < fail ? round : fail;
        return PFR_OK;
    }
    pfr_status solve_rows(float *phi, const double *U, int S, int d, double c)
    {
        std::vector<double> y(d);
        for (int s = 0; s < S && fail == 0xFFFFFFFFFFFFFFFFull; ++s)
            pfr_chol_solve_row(U, d, c, phi + (size_t)s * d, y.data());
        return PFR_OK;
    }
    pfr_status map_theta(float *theta, const double *R, int64_t N, int d)
    {
        for (int64_t a = 0; a < N && fail == 0xFFFFFFFFFFFFFFFFull; ++a)
            pfr_map_theta(R, theta + (size_t)a * d, d);
        return PFR_OK;
    }
    pfr_status agent_cholqr(float *agent_phi, float *theta, int64_t N, int S, int d, uint64_t round, const uint64_t *)
    {
        std::vector<double> G((size_t)2 * d * d), y(d);
        for (int64_t i = 0; i < N; ++i)
            if (pfr_cholqr_one(agent_phi + (size_t)i * S * d, S, d, theta + (size_t)i * d, G.data(), y.data()) != 0)
                fail = round < fail ? round : fail;
        return PFR_OK;
    }
};

// One round of the CUDA engine on the host arrays of `sim`, by the engine's own sequence
// (pfr_round_run); returns the participants. The round counter advances as sim.c advances it.
inline uint64_t host_device_round(pfr_sim *sim, HostBuffers &buf, HostWarp *warp, unsigned long long *fail)
{
    pfr_round_plan plan;
    std::memset(&plan, 0, sizeof plan);
    plan.round = sim->round;
    plan.t0 = (uint64_t)sim->round * (uint64_t)sim->K;
    plan.K = sim->K;
    plan.alpha = buf.alpha.data();
    plan.beta = buf.beta.data();
    plan.part_threshold = pfr_participation_threshold(sim->cfg.participation);
    pfr_round_stats rs = {0, 0, 0};
    if (sim->fed) { // the federation's draws and history, as sim.c makes them (the host's ring is the device's)
        EXPECT_EQ(pfr_fed_begin_round(sim, &plan, &rs), PFR_OK);
    }
    HostOps ops{sim, warp, buf.block_count.data()};
    uint64_t part = 0;
    pfr_round_buffers b = buf.view(sim);
    b.steps = plan.steps;
    b.age = plan.age;
    b.hist = sim->fed_hist;
    b.age_weight = sim->fed_weight;
    b.action = sim->action;
    if (sim->control) // the round's exploration, as sim.c sets it
        plan.explore_thr = pfr_explore_threshold(&sim->cfg, plan.t0);
    const pfr_status st = pfr_round_run(ops, sim, &plan, buf.R_rows, buf.chunk,
                                        sim->cfg.orthonormalize && sim->learn_phi, b, &part);
    *fail = st == PFR_OK ? ops.fail : 0;
    if (sim->fed) { // the history rebased, with this round's R (the device's, here the host buffer's)
        EXPECT_EQ(pfr_fed_end_round(sim, part, buf.R.data()), PFR_OK);
    }
    sim->round++;
    sim->agent_steps += plan.steps ? rs.steps : part * (uint64_t)sim->K;
    return part;
}

// One agent's round arguments over sim's host state at its current round, for tests that step
// agents one at a time (the caller sets i0, n and the overlay buffers).
inline pfr_round_args host_round_args(const pfr_sim *sim, const uint32_t *rp32, const float *alpha, const float *beta)
{
    pfr_round_plan plan;
    std::memset(&plan, 0, sizeof plan);
    plan.round = sim->round;
    plan.t0 = (uint64_t)sim->round * (uint64_t)sim->K;
    plan.K = sim->K;
    plan.alpha = alpha;
    plan.beta = beta;
    plan.part_threshold = pfr_participation_threshold(sim->cfg.participation);
    pfr_round_buffers b;
    std::memset(&b, 0, sizeof b);
    b.row_ptr = rp32;
    b.thr = sim->env->thr;
    b.next = sim->env->next;
    b.reward = sim->env->reward;
    b.alpha = alpha;
    b.beta = beta;
    b.phi = sim->phi;
    b.agent_phi = sim->agent_phi;
    b.theta = sim->theta;
    b.state = sim->state;
    return pfr_round_args_make(sim, &plan, sim->K < sim->S ? sim->K : sim->S, b);
}

#endif
