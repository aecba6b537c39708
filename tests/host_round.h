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

#include "host/cuda/round_sequence.h"
#include "host/federation.h"
#include "kernels/pfr_cholqr.h"
#include "kernels/pfr_warp_round.h"
#include "tests/host_warp.h"

// The GPU parity tests compare the engines' changes Phi - Phi0 and theta - theta0 relative to the
// CPU engine's change, within this (calibrated by CudaLogic.ParityToleranceAbsorbsRoundingNoise...).
constexpr double kChangeTol = 1e-4;

// The engine's device buffers, on the host (shapes: host/cuda/round_sequence.h). `chunk` agents'
// overlays and block partials; `slots`: a slot map for the overlays (else they are scanned).
struct HostBuffers {
    std::vector<uint32_t> rp32, ov_rows;
    std::vector<float> alpha, beta, ov_vals;
    std::vector<int> ov_count, block_count;
    std::vector<uint8_t> ov_slot;
    std::vector<unsigned char> took;
    std::vector<double> partial, theta_partial, sums, X, gram, R;
    int R_rows = 0;
    int64_t chunk = 0;

    HostBuffers(const pfr_sim *sim, int64_t chunk_agents, bool slots)
    {
        const int S = sim->S, d = sim->d, K = sim->K;
        const int64_t N = sim->N;
        chunk = chunk_agents < N ? chunk_agents : N;
        R_rows = K < S ? K : S;
        const int64_t cblocks = (chunk + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
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
        partial.resize((size_t)cblocks * S * d);
        theta_partial.resize((size_t)cblocks * d);
        sums.resize((size_t)S * d + d);
        X.resize((size_t)S * d);
        gram.resize((size_t)d * d);
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
        b.partial = partial.data();
        b.theta_partial = theta_partial.data();
        b.block_count = block_count.data();
        b.sums = sums.data();
        b.X = X.data();
        b.gram = gram.data();
        b.R = R.data();
        return b;
    }
};

// The operations of round_sequence.h on the host: each runs what its kernel runs, thread after
// thread (block after block for the fold, a block of one thread stride for the factor, the warp's
// lanes as coroutines for the warp kernel). A failed factor is kept in `fail` as on the device.
struct HostOps {
    const pfr_sim *sim;
    HostWarp *warp;         // the warp kernel's round; NULL: the thread kernel's
    const int *block_count; // [N blocks] what the fold wrote
    unsigned long long fail = 0xFFFFFFFFFFFFFFFFull;

    pfr_status local_steps(const pfr_round_args &a)
    {
        // the thread kernel's slot map in shared memory (local_steps.cu): a fresh map per agent
        const int sw = pfr_slot_words(&a);
        std::vector<uint32_t> smem_map((size_t)sw);
        for (int64_t i = a.i0; i < a.i0 + a.n; ++i) {
            uint8_t *slot_map = nullptr;
            if (sw && (a.control || !warp)) {
                std::fill(smem_map.begin(), smem_map.end(), 0xFFFFFFFFu);
                slot_map = (uint8_t *)smem_map.data();
            }
            if (a.control) // the thread kernel's choice (local_steps.cu)
                pfr_agent_round_control(&a, i, a.d, slot_map);
            else if (warp)
                warp->run(&a, i);
            else
                pfr_agent_round(&a, i, a.d, slot_map);
        }
        return PFR_OK;
    }
    pfr_status zero(double *p, size_t count)
    {
        std::memset(p, 0, sizeof(double) * count);
        return PFR_OK;
    }
    pfr_status fold(const pfr_fold_args &f)
    {
        const size_t sd = (size_t)f.S * f.d;
        std::vector<double> stage(PFR_FOLD_STAGE), part_smem(sd);
        std::vector<int> stage_idx(PFR_FOLD_STAGE), entries(PFR_AGENT_BLOCK);
        std::vector<unsigned char> took(PFR_AGENT_BLOCK);
        std::vector<double> scale(PFR_AGENT_BLOCK);
        pfr_fold_smem w = {stage.data(), stage_idx.data(), entries.data(), took.data(),
                           sd <= PFR_FOLD_SMEM_SD ? part_smem.data() : nullptr, scale.data()};
        const int64_t blocks = (f.n + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
        for (int64_t lb = 0; lb < blocks; ++lb)
            pfr_fold_block(&f, lb, 0, 1, &w);
        return PFR_OK;
    }
    // cuBLAS Dgemv there, block order here: the same sum up to rounding (block order is the CPU
    // engine's, so with one chunk the result is the CPU engine's bit for bit)
    pfr_status sum_blocks(const double *partial, int rows, int blocks, double *out, int accumulate)
    {
        for (int r = 0; r < rows; ++r) {
            double acc = 0.0;
            for (int b = 0; b < blocks; ++b)
                acc += partial[(size_t)b * rows + r];
            out[r] = accumulate ? acc + out[r] : acc;
        }
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
    pfr_status apply(float *phi, const double *sum, double scale, size_t n)
    {
        for (size_t e = 0; e < n; ++e)
            pfr_apply_entry(phi, sum, scale, e);
        return PFR_OK;
    }
    pfr_status apply_noisy(float *phi, const double *sum, double scale, size_t n, double noise_std, uint64_t seed,
                           int64_t round)
    {
        for (size_t e = 0; e < n; ++e)
            pfr_apply_entry_noisy(phi, sum, scale, e, noise_std, seed, round);
        return PFR_OK;
    }
    pfr_status broadcast_theta(float *theta, const double *sum, double scale, int64_t N, int d)
    {
        for (int64_t e = 0; e < N * d; ++e)
            pfr_broadcast_entry(theta, sum, scale, d, e);
        return PFR_OK;
    }
    pfr_status gram(const float *phi, double *, int S, int d, double *G)
    {
        pfr_gram(phi, S, d, G); // cuBLAS Dgemm there: the same up to rounding in double
        return PFR_OK;
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
        std::vector<double> G((size_t)d * d), y(d);
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
