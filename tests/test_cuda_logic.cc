// The CUDA engine's algorithm, run on the CPU: the round's sequence of host/cuda/round_sequence.h
// (the engine's own code) with host operations that run the kernels' bodies (tests/host_round.h):
// the thread round of kernels/pfr_agent_round.h, the warp round of pfr_warp_round.h with its lanes
// as coroutines, the fold of pfr_fold.h, the Cholesky-QR of pfr_cholqr.h. Compared with the CPU
// engine bit for bit, this covers the device code's logic on machines without a GPU; what it cannot
// cover (launches, the device's Philox, CUB, memory) is left to tests/test_cuda.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/cuda_engine.h"
#include "tests/host_round.h"

namespace {

using Overrides = std::vector<std::pair<std::string, std::string>>;

pfr_sim *make(const std::string &alg, const std::string &part, const Overrides &more = {})
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    Overrides kv = {
        {"env.kind", "cliffwalk"}, {"env.types", "4"},  {"env.slip_max", "0.3"}, {"env.wind_max", "0.2"},
        {"agents", "1037"},        {"dim", "8"},        {"local_steps", "10"},   {"alpha", "0.2"},
        {"beta", "0.1"},           {"algorithm", alg},  {"participation", part}, {"orthonormalize", "true"},
        {"threads", "2"},          {"eval_every", "1000"},  {"backend", "cpu"}}; // the CPU engine: `auto` would
                                                                            // take a GPU where there is one
    kv.insert(kv.end(), more.begin(), more.end());
    for (const auto &p : kv)
        EXPECT_EQ(pfr_config_set(&c, p.first.c_str(), p.second.c_str(), &err), PFR_OK) << err.msg;
    pfr_sim *s = nullptr;
    EXPECT_EQ(pfr_sim_create(&c, &s, &err), PFR_OK) << err.msg;
    return s;
}

// The CUDA engine's memory plan (host/cuda/cuda_plan.c) for devices of any size.
TEST(CudaPlan, EverythingFitsOnALargeDevice)
{
    pfr_sim *s = make("pfedtd_rep", "1", {{"agents", "1000000"}, {"local_steps", "100"}});
    ASSERT_TRUE(s);
    pfr_cuda_plan p;
    const size_t GiB = (size_t)1 << 30;
    ASSERT_EQ(pfr_cuda_plan_memory(s, 79 * GiB, 80 * GiB, &p), PFR_OK) << pfr_sim_last_error(s);
    EXPECT_EQ(p.nblocks, (1000000 + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK);
    EXPECT_EQ(p.chunk_blocks, p.nblocks); // one chunk
    EXPECT_GE(p.chunk, 1000000);
    EXPECT_EQ(p.R, 48); // min(K, S)
    EXPECT_TRUE(p.overlay);
    EXPECT_TRUE(p.slots);
    // theta alone is 32 MB, the overlays 48 rows * 9 floats per agent (1.7 GB): the plan counts both
    EXPECT_GT(p.fixed_bytes, 4.0 * 8 * 1e6);
    EXPECT_GT(p.total_bytes, p.fixed_bytes + 1e6 * 4.0 * 48 * 9);
    EXPECT_LT(p.total_bytes, 4.0 * GiB);
    pfr_sim_destroy(s);
}

TEST(CudaPlan, ChunksWhenTheOverlaysDoNotFitAndFailsClearlyWhenNothingDoes)
{
    pfr_sim *s = make("pfedtd_rep", "1", {{"agents", "1000000"}, {"local_steps", "100"}});
    ASSERT_TRUE(s);
    pfr_cuda_plan p;
    const size_t MiB = (size_t)1 << 20;
    ASSERT_EQ(pfr_cuda_plan_memory(s, 512 * MiB, 1024 * MiB, &p), PFR_OK) << pfr_sim_last_error(s);
    EXPECT_GE(p.chunk_blocks, 1);
    EXPECT_LT(p.chunk_blocks, p.nblocks);
    EXPECT_EQ(p.chunk, p.chunk_blocks * PFR_AGENT_BLOCK);
    EXPECT_LE(p.total_bytes, 0.9 * 512 * MiB); // what it allocates fits in 90% of the free memory
    EXPECT_GT(p.total_bytes + p.chunk_block_bytes, 0.9 * 512 * MiB); // and the chunk is as large as fits

    EXPECT_EQ(pfr_cuda_plan_memory(s, 20 * MiB, 1024 * MiB, &p), PFR_ERR_DEVICE_MEMORY);
    const std::string msg = pfr_sim_last_error(s);
    for (const char *part : {"agents=1000000", "S=48", "dim=8", "local_steps=100", "GiB of device memory",
                             "per chunk of 256 agents", "are free"})
        EXPECT_NE(msg.find(part), std::string::npos) << part << " in: " << msg;
    pfr_sim_destroy(s);
}

TEST(CudaPlan, UserChunkCapAndLimits)
{
    pfr_sim *s = make("fedtd", "1", {{"cuda_max_chunk", "300"}});
    ASSERT_TRUE(s);
    pfr_cuda_plan p;
    ASSERT_EQ(pfr_cuda_plan_memory(s, (size_t)1 << 34, (size_t)1 << 34, &p), PFR_OK);
    EXPECT_EQ(p.chunk, 512); // 300 rounded up to whole agent blocks
    EXPECT_FALSE(p.overlay); // fixed features: no overlays
    pfr_sim_destroy(s);

    s = make("pfedtd_rep", "1", {{"env.kind", "gridworld"}, {"env.width", "10"}, {"env.height", "10"}, {"dim", "80"}});
    ASSERT_TRUE(s);
    EXPECT_EQ(pfr_cuda_plan_memory(s, (size_t)1 << 34, (size_t)1 << 34, &p), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(pfr_sim_last_error(s)).find("dim=80: the cuda engine supports dim <= 64"), std::string::npos)
        << pfr_sim_last_error(s);
    pfr_sim_destroy(s);

    // local_rep keeps every agent's Phi_i on the device, not in chunks: 1000 agents x 625 states x 16
    // floats = 40 MB, which 32 MB free cannot hold
    s = make("local_rep", "1", {{"env.kind", "gridworld"}, {"env.width", "25"}, {"env.height", "25"},
                                {"dim", "16"}, {"agents", "1000"}, {"orthonormalize", "false"}});
    ASSERT_TRUE(s);
    EXPECT_EQ(pfr_cuda_plan_memory(s, (size_t)32 << 20, (size_t)1 << 30, &p), PFR_ERR_DEVICE_MEMORY);
    EXPECT_NE(std::string(pfr_sim_last_error(s)).find("every agent's own Phi (local_rep) takes most of it"),
              std::string::npos) << pfr_sim_last_error(s);
    EXPECT_EQ(pfr_cuda_plan_memory(s, (size_t)64 << 20, (size_t)1 << 30, &p), PFR_OK) << pfr_sim_last_error(s);
    EXPECT_GT(p.fixed_bytes, 1000.0 * 625 * 16 * 4);
    pfr_sim_destroy(s);

    // a long federation.max_delay keeps that many copies of Phi: 201 x 2500 states x 16 floats = 32 MB
    // for 64 agents; the refusal names max_delay, not the agents
    s = make("pfedtd_rep", "1", {{"env.kind", "gridworld"}, {"env.width", "50"}, {"env.height", "50"}, {"dim", "16"},
                                 {"agents", "64"}, {"federation.max_delay", "200"}});
    ASSERT_TRUE(s);
    EXPECT_EQ(pfr_cuda_plan_memory(s, (size_t)24 << 20, (size_t)1 << 30, &p), PFR_ERR_DEVICE_MEMORY);
    EXPECT_NE(std::string(pfr_sim_last_error(s)).find("a smaller federation.max_delay or delay"), std::string::npos)
        << pfr_sim_last_error(s);
    pfr_sim_destroy(s);
}

// The memory plan of examples/gridworld_1m.yaml (1000 x 1000, 16 types, 10^6 agents, K = 10, d = 8):
// the sums take the sparse path, O(N K d), so everything fits one H100 (80 GB) in one chunk; the dense
// block partials of before needed 3907 blocks x 10^6 x 8 doubles, 250 GB. The plan reads only sizes,
// so a stand-in handle with the example's sizes is enough (building the environment takes a minute).
TEST(CudaPlan, MillionStateGridWorldWithAMillionAgentsFitsOneH100)
{
    pfr_env env;
    std::memset(&env, 0, sizeof env);
    env.nnz = (uint64_t)16 * 1000000 * 5; // 16 types, up to 5 next states a cell (slip, wind, restarts)
    pfr_sim sim;
    std::memset(&sim, 0, sizeof sim);
    pfr_config_init(&sim.cfg);
    sim.env = &env;
    sim.S = 1000000;
    sim.d = 8;
    sim.M = 16;
    sim.K = 10;
    sim.A = 1;
    sim.N = 1000000;
    sim.learn_phi = sim.avg_phi = 1;
    pfr_cuda_plan p;
    const size_t GiB = (size_t)1 << 30;
    ASSERT_EQ(pfr_cuda_plan_memory(&sim, 79 * GiB, 80 * GiB, &p), PFR_OK) << sim.errmsg;
    EXPECT_TRUE(p.sparse);
    EXPECT_EQ(p.chunk_blocks, p.nblocks); // one chunk
    EXPECT_LT(p.total_bytes, 8.0 * GiB);
    EXPECT_GT(p.total_bytes, 1e6 * 10 * (8 * 8 + 4 * 8)); // the entries' runs and overlays are counted
    // the cliff walk keeps the dense path (S d = 384): one chunk of 10^6 agents as before
    sim.S = 48;
    env.nnz = 4 * 48 * 4;
    ASSERT_EQ(pfr_cuda_plan_memory(&sim, 79 * GiB, 80 * GiB, &p), PFR_OK) << sim.errmsg;
    EXPECT_FALSE(p.sparse);
    EXPECT_EQ(p.chunk_blocks, p.nblocks);
}

// The device's Cholesky-QR: the Gram matrix by tiles then in order (pfr_gram_tile_entry, pfr_colsum:
// the device's two kernels), pfr_chol_block (the one-block factor kernel's body) and
// pfr_chol_solve_row (a thread per row) give the CPU engine's pfr_cholqr_one bit for bit; S beyond
// a Gram tile too (several tiles, the last one short).
TEST(CudaLogic, DeviceCholeskyQrEqualsTheCpuEngine)
{
    for (int d : {1, 5, 8, 32, 64})
        for (int S : {d + 40, 2 * PFR_GRAM_TILE + 77}) {
            SCOPED_TRACE("d=" + std::to_string(d) + " S=" + std::to_string(S));
            uint32_t h = 99u + (uint32_t)d;
            std::vector<float> phi((size_t)S * d), ref, theta(d, 0.5f), theta_ref;
            for (auto &x : phi) {
                h = h * 1664525u + 1013904223u;
                x = (float)(h >> 8) / 16777216.0f - 0.5f;
            }
            ref = phi;
            theta_ref = theta;
            std::vector<double> Gref((size_t)2 * d * d), y(d);
            ASSERT_EQ(pfr_cholqr_one(ref.data(), S, d, theta_ref.data(), Gref.data(), y.data()), 0);

            const int nt = pfr_gram_tiles(S);
            std::vector<double> tiles((size_t)nt * d * d), G((size_t)d * d), R((size_t)d * d);
            for (int t = 0; t < nt; ++t)
                for (int e = 0; e < d * d; ++e)
                    tiles[(size_t)t * d * d + e] = pfr_gram_tile_entry(phi.data(), S, d, t, e / d, e % d);
            for (int e = 0; e < d * d; ++e)
                pfr_colsum(tiles.data(), (int64_t)d * d, nt, G.data(), e, 0);
            pfr_chol_shared sh;
            const double c = std::sqrt((double)S / d);
            ASSERT_EQ(pfr_chol_block(G.data(), d, c, R.data(), 0, 0, 1, &sh), 0);
            for (int r = 0; r < S; ++r)
                pfr_chol_solve_row(G.data(), d, c, phi.data() + (size_t)r * d, y.data());
            pfr_map_theta(R.data(), theta.data(), d);
            EXPECT_EQ(0, std::memcmp(R.data(), Gref.data(), sizeof(double) * d * d)) << "R";
            EXPECT_EQ(0, std::memcmp(phi.data(), ref.data(), sizeof(float) * S * d)) << "Phi";
            EXPECT_EQ(0, std::memcmp(theta.data(), theta_ref.data(), sizeof(float) * d)) << "theta";

            std::vector<double> scratch((size_t)d * d);
            pfr_gram(ref.data(), S, d, G.data(), scratch.data()); // an earlier failure leaves everything alone
            std::vector<double> untouched = R;
            EXPECT_EQ(pfr_chol_block(G.data(), d, c, R.data(), 1, 0, 1, &sh), -1);
            EXPECT_EQ(R, untouched);
        }
    std::vector<double> G = {1.0, 2.0, 2.0, 4.0}, R(4); // rank 1
    pfr_chol_shared sh;
    EXPECT_EQ(pfr_chol_block(G.data(), 2, 1.0, R.data(), 0, 0, 1, &sh), -1);
}

// warp_dot of kernels/local_steps.cu, lane by lane: lane l holds products p0[l] = x[l]y[l] and
// p1[l] = x[l+32]y[l+32]; __shfl_sync(v, src) reads lane src's v, __shfl_xor_sync(v, m) lane l^m's.
// The same steps as the kernel, so its claim (every lane ends with pfr_dot's bits) is checked here.
float warp_dot_emulated(const float *x, const float *y, int d)
{
    float p0[32], p1[32], acc[32], s[32], t[32];
    for (int l = 0; l < 32; ++l) {
        p0[l] = l < d ? x[l] * y[l] : 0.0f;
        p1[l] = l + 32 < d ? x[l + 32] * y[l + 32] : 0.0f;
        acc[l] = 0.0f;
    }
    for (int q = 0; 8 * q < d; ++q)
        for (int l = 0; l < 32; ++l) {
            const int e = 8 * q + (l & 7);
            const float v0 = p0[e & 31], v1 = d > 32 ? p1[e & 31] : 0.0f;
            if (e < d)
                acc[l] += e < 32 ? v0 : v1;
        }
    for (int l = 0; l < 32; ++l)
        s[l] = acc[l] + acc[l ^ 4];
    for (int l = 0; l < 32; ++l)
        t[l] = s[l] + s[l ^ 2];
    float out = t[0] + t[1];
    for (int l = 1; l < 32; ++l) { // every lane holds the same bits
        const float o = t[l] + t[l ^ 1];
        EXPECT_EQ(0, std::memcmp(&o, &out, sizeof o)) << "lane " << l << " d=" << d;
    }
    return out;
}

TEST(CudaLogic, WarpDotSumsInPfrDotOrder)
{
    uint32_t h = 12345;
    auto rnd = [&h]() { // a few decades of magnitude, both signs: rounding order shows
        h = h * 1664525u + 1013904223u;
        const float m = (float)(h >> 8) / 16777216.0f - 0.5f;
        return m * (float)(1u << ((h >> 4) % 12));
    };
    for (int d = 1; d <= PFR_ROUND_MAX_D; ++d)
        for (int trial = 0; trial < 50; ++trial) {
            float x[PFR_ROUND_MAX_D], y[PFR_ROUND_MAX_D];
            for (int j = 0; j < d; ++j) {
                x[j] = rnd();
                y[j] = rnd();
            }
            const float ref = pfr_dot(x, y, d), got = warp_dot_emulated(x, y, d);
            ASSERT_EQ(0, std::memcmp(&ref, &got, sizeof ref)) << "d=" << d << " " << ref << " vs " << got;
        }
}

// ||(x - x0) - (ref - x0)|| / ||ref - x0|| over n floats.
double rel_change(const std::vector<float> &x0, const float *ref, const float *x, size_t n)
{
    double num = 0, den = 0;
    for (size_t e = 0; e < n; ++e) {
        const double cr = (double)ref[e] - x0[e], cx = (double)x[e] - x0[e];
        num += (cx - cr) * (cx - cr);
        den += cr * cr;
    }
    return den > 0 ? std::sqrt(num / den) : (num > 0 ? INFINITY : 0.0);
}

const std::vector<const char *> kAllAlgorithms = {"pfedtd_rep", "fedavg_rep", "fedtd", "local_rep", "local_td"};

void compare(int64_t chunk, bool slots, const Overrides &more = {},
             const std::vector<const char *> &algorithms = kAllAlgorithms, int rounds = 30, bool warp = false);

// Overlay lookups by slot map (what the engine uses for small S and K > 8), by hash table (no slot map,
// 8 < K < 128) and by scan (K <= 8, or K >= 128 without a slot map). Cliff walk: S*d = 384, so the
// fold keeps its blocks' sums in shared memory (the dense path).
TEST(CudaLogic, DeviceRoundOnTheHostEqualsTheCpuEngine) { compare(1 << 30, true); }
TEST(CudaLogic, DeviceRoundWithHashedOverlaysEqualsTheCpuEngine)
{
    compare(1 << 30, false);
    compare(1 << 30, false, {{"local_steps", "40"}}, {"pfedtd_rep", "fedavg_rep"}, 10); // more rows than states
}
TEST(CudaLogic, DeviceRoundWithScannedOverlaysEqualsTheCpuEngine) { compare(1 << 30, false, {{"local_steps", "6"}}); }

// A 50 x 50 grid world, d = 32, K = 200: S*d = 80000 takes the sparse path (entries sorted by row,
// runs of a block, rows of runs), with overlays of up to 200 rows; orthonormalization over three Gram
// tiles.
TEST(CudaLogic, DeviceRoundWithSparseSumsEqualsTheCpuEngine)
{
    compare(1 << 30, false,
            {{"env.kind", "gridworld"}, {"env.width", "50"}, {"env.height", "50"}, {"dim", "32"},
             {"local_steps", "200"}, {"alpha", "0.05"}, {"beta", "0.02"}},
            {"pfedtd_rep", "fedavg_rep"}, 6);
}

// The warp kernel's round (kernels/pfr_warp_round.h) with its 32 lanes emulated: bit for bit the CPU
// engine, for d beyond one lane's element (40, 64), both overlay lookups, a second batch of words
// (K = 40 > 32), partial participation, all five algorithms. A 10 x 10 grid world, 20 agents.
TEST(CudaLogic, WarpRoundOnTheHostEqualsTheCpuEngine)
{
    for (const char *dim : {"16", "40", "64"})
        for (bool slots : {true, false}) {
            SCOPED_TRACE(std::string("d=") + dim + (slots ? " slot map" : " scan"));
            compare(1 << 30, slots,
                    {{"env.kind", "gridworld"}, {"dim", dim}, {"agents", "20"}, {"local_steps", "40"},
                     {"alpha", "0.05"}, {"beta", "0.02"}},
                    kAllAlgorithms, 2, true);
        }
}

// Federation as it happens (host/sim/federation.c's draws in the plan): stragglers' shorter rounds and
// availability for every algorithm; stale Phi from the device's history, weighted and clipped folds,
// the noisy apply for the shared-Phi ones. Bit for bit the CPU engine, by the thread and warp rounds.
TEST(CudaLogic, DeviceRoundWithFederationEqualsTheCpuEngine)
{
    const Overrides avail = {{"federation.p_drop", "0.2"}, {"federation.p_return", "0.4"},
                             {"federation.stragglers", "0.5"}};
    compare(1 << 30, true, avail, kAllAlgorithms, 12);
    compare(1 << 30, false, avail, {"pfedtd_rep", "local_td"}, 12);
    const Overrides stale = {{"federation.max_delay", "3"}, {"federation.stale_decay", "0.8"},
                             {"federation.clip", "0.05"},   {"federation.noise_multiplier", "0.5"},
                             {"federation.stragglers", "0.3"}};
    compare(1 << 30, true, stale, {"pfedtd_rep"}, 12);
    compare(1 << 30, false, stale, {"pfedtd_rep"}, 12);
    compare(1 << 30, true, {{"federation.delay", "2"}, {"federation.clip", "0.05"}}, {"fedavg_rep", "pfedtd_rep"},
            12);
    compare(1 << 30, true,
            {{"env.kind", "gridworld"}, {"dim", "40"}, {"agents", "20"}, {"local_steps", "40"}, {"alpha", "0.05"},
             {"beta", "0.02"}, {"federation.max_delay", "2"}, {"federation.clip", "0.01"},
             {"federation.stragglers", "0.5"}},
            {"pfedtd_rep"}, 4, true);
}

// Control (SARSA and Q-learning, kernels/pfr_agent_round.h's control round, the thread kernel): bit for
// bit the CPU engine's step (host/cpu/cpu_control.c) for every federation structure, slot maps and scans,
// with decaying exploration, participation and stragglers.
TEST(CudaLogic, ControlRoundOnTheHostEqualsTheCpuEngine)
{
    for (const char *kind : {"qlearning", "sarsa"})
        for (bool slots : {true, false}) {
            SCOPED_TRACE(std::string(kind) + (slots ? " slot map" : " scan"));
            compare(1 << 30, slots,
                    {{"control.kind", kind}, {"control.epsilon", "0.5"}, {"control.epsilon_end", "0.05"},
                     {"control.epsilon_steps", "100"}, {"federation.stragglers", "0.3"}},
                    {"pfedtd_rep", "fedavg_rep", "fedtd", "local_rep", "local_td", "fedtd_tabular",
                     "local_td_tabular"},
                    6);
        }
}

// The sparse path where many agents share a row (cliff walk, d = 48: S d = 2304 is beyond the dense
// fold): long runs, many runs a row. A change is the difference of two floats, exact in double, and
// a few hundred of them usually add up exactly in any order; weighted changes (stale Phi's decay,
// clipping) have every bit of a double, so there the order of every add shows (swapping the order
// within a row makes this test fail). Participation, stragglers, chunks of one and three blocks.
TEST(CudaLogic, SparseSumsOnSharedRowsKeepTheCpuOrder)
{
    const Overrides wide = {{"dim", "48"}, {"alpha", "0.05"}, {"beta", "0.05"}, {"federation.max_delay", "2"},
                            {"federation.stale_decay", "0.7"}, {"federation.clip", "0.002"}};
    compare(1 << 30, true, wide, {"pfedtd_rep", "fedavg_rep"}, 8);
    Overrides more = wide;
    more.insert(more.end(), {{"federation.stragglers", "0.3"}});
    compare(1 << 30, false, more, {"pfedtd_rep"}, 8);
    compare(PFR_AGENT_BLOCK, true, wide, {"pfedtd_rep"}, 4);
    compare(3 * PFR_AGENT_BLOCK, false, wide, {"pfedtd_rep"}, 4);
}

// The sums do not depend on the chunk of agents (block order is kept across chunks): one agent block,
// three, and all, on the dense and the sparse path.
TEST(CudaLogic, ChunkedDeviceRoundEqualsTheCpuEngine)
{
    for (int64_t chunk : {(int64_t)PFR_AGENT_BLOCK, (int64_t)3 * PFR_AGENT_BLOCK}) {
        SCOPED_TRACE("chunk " + std::to_string(chunk));
        compare(chunk, true);
        compare(chunk, false, {{"env.kind", "gridworld"}, {"env.width", "70"}, {"env.height", "70"}, {"env.types", "3"},
                               {"local_steps", "20"}},
                {"pfedtd_rep", "fedavg_rep", "fedtd"}, 5);
    }
}

// The sparse path where this project says it shines: grid worlds of 70 x 70 and 200 x 200 (S = 40,000,
// 16 types as in the bench), participation, every federation mechanism (stale Phi, clipping, noise,
// stragglers, availability), control, orthonormalization over several Gram tiles, chunks.
TEST(CudaLogic, GridWorldsAtScaleEqualTheCpuEngine)
{
    const Overrides g70 = {{"env.kind", "gridworld"}, {"env.width", "70"}, {"env.height", "70"}, {"env.types", "3"},
                           {"local_steps", "20"}, {"alpha", "0.1"}, {"beta", "0.05"}};
    const Overrides g200 = {{"env.kind", "gridworld"}, {"env.width", "200"}, {"env.height", "200"},
                            {"env.types", "16"}, {"env.goals", "4"}, {"env.walls", "0.2"}, {"env.starts", "16"},
                            {"env.wind_direction", "per_type"}, {"env.wind_max", "0.2"}, {"alpha", "0.05"},
                            {"beta", "0.02"}, {"agents", "2000"}, {"local_steps", "10"}};
    const Overrides fed = {{"federation.max_delay", "2"}, {"federation.stale_decay", "0.8"}, {"federation.clip", "0.05"},
                           {"federation.noise_multiplier", "0.5"}, {"federation.stragglers", "0.3"},
                           {"federation.p_drop", "0.1"}, {"federation.p_return", "0.5"}};
    compare(1 << 30, false, g70, {"pfedtd_rep", "fedavg_rep"}, 6);
    Overrides g70fed = g70;
    g70fed.insert(g70fed.end(), fed.begin(), fed.end());
    compare(1 << 30, false, g70fed, {"pfedtd_rep"}, 6);
    Overrides g70ctl = g70;
    g70ctl.insert(g70ctl.end(), {{"control.kind", "qlearning"}, {"control.epsilon", "0.3"}});
    compare(1 << 30, false, g70ctl, {"pfedtd_rep"}, 4);
    compare(1 << 30, false, g200, {"pfedtd_rep"}, 4);
    compare(5 * PFR_AGENT_BLOCK, false, g200, {"fedavg_rep"}, 3);
}

void compare(int64_t chunk, bool slots, const Overrides &more, const std::vector<const char *> &algorithms, int rounds,
             bool warp)
{
    HostWarp host_warp;
    for (const char *part : {"1", "0.7"})
        for (const char *alg : algorithms) {
            SCOPED_TRACE(std::string(alg) + " participation " + part);
            pfr_sim *cpu = make(alg, part, more), *emu = make(alg, part, more);
            ASSERT_TRUE(cpu && emu);
            const int S = emu->S, d = emu->d;
            const int64_t N = emu->N;
            HostBuffers buf(emu, chunk, slots);
            for (int r = 0; r < rounds; ++r) {
                ASSERT_EQ(pfr_sim_run(cpu, 1), PFR_OK) << pfr_sim_last_error(cpu);
                unsigned long long fail = 0;
                host_device_round(emu, buf, warp ? &host_warp : nullptr, &fail);
                ASSERT_EQ(fail, 0xFFFFFFFFFFFFFFFFull) << "a factor failed in round " << fail;
                ASSERT_EQ(0, std::memcmp(cpu->state, emu->state, sizeof(uint32_t) * N)) << "states, round " << r;
            }
            for (uint8_t v : buf.ov_slot) // every agent left the slot map empty
                ASSERT_EQ(v, 0xFF);
            EXPECT_EQ(0, std::memcmp(cpu->theta, emu->theta, sizeof(float) * N * d)) << "theta";
            EXPECT_EQ(0, std::memcmp(cpu->phi, emu->phi, sizeof(float) * S * d)) << "phi";
            if (cpu->own_phi) {
                EXPECT_EQ(0, std::memcmp(cpu->agent_phi, emu->agent_phi, sizeof(float) * N * S * d)) << "agent phi";
            }
            for (uint8_t t : buf.touched) // every marked row was applied and emptied
                ASSERT_EQ(t, 0);
            for (size_t e = 0; e < (size_t)S * d; ++e)
                ASSERT_EQ(buf.sums[e], 0.0) << "sums left over at entry " << e;
            pfr_sim_destroy(cpu);
            pfr_sim_destroy(emu);
        }
}

// What the GPU parity tests' tolerance (kChangeTol, tests/host_round.h) must absorb where it is still
// used (the private aggregation's noise: the device's log, sin and cos), so Phi may differ by an ulp
// here and there after each round. Far more than that (one ulp on every seventh entry of Phi, every round, for 100
// rounds) moves the change Phi - Phi0 and theta by less than a fifth of the tolerance; an
// aggregation error of a tenth of a percent of a round's change, made every round, moves it by more.
TEST(CudaLogic, ParityToleranceAbsorbsRoundingNoiseAndCatchesAggregationErrors)
{
    for (const char *alg : {"pfedtd_rep", "fedavg_rep"}) {
        SCOPED_TRACE(alg);
        pfr_sim *a = make(alg, "0.8"), *noisy = make(alg, "0.8"), *wrong = make(alg, "0.8");
        ASSERT_TRUE(a && noisy && wrong);
        const size_t sd = (size_t)a->S * a->d, nd = (size_t)a->N * a->d;
        const std::vector<float> phi0(a->phi, a->phi + sd), theta0(a->theta, a->theta + nd);
        for (int r = 0; r < 100; ++r) {
            std::vector<float> before(wrong->phi, wrong->phi + sd);
            ASSERT_EQ(pfr_sim_run(a, 1), PFR_OK);
            ASSERT_EQ(pfr_sim_run(noisy, 1), PFR_OK);
            ASSERT_EQ(pfr_sim_run(wrong, 1), PFR_OK);
            for (size_t e = (size_t)r % 7; e < sd; e += 7)
                noisy->phi[e] = std::nextafterf(noisy->phi[e], (e & 1) ? 1e9f : -1e9f);
            for (size_t e = 0; e < sd; ++e) // the round's change 0.1% too large
                wrong->phi[e] += 1e-3f * (wrong->phi[e] - before[e]);
        }
        EXPECT_LT(rel_change(phi0, a->phi, noisy->phi, sd), kChangeTol / 5) << "Phi - Phi0, rounding noise";
        EXPECT_LT(rel_change(theta0, a->theta, noisy->theta, nd), kChangeTol / 5) << "theta, rounding noise";
        EXPECT_GT(rel_change(phi0, a->phi, wrong->phi, sd), kChangeTol) << "Phi - Phi0, aggregation error";
        pfr_sim_destroy(a);
        pfr_sim_destroy(noisy);
        pfr_sim_destroy(wrong);
    }
}

} // namespace
