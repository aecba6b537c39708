// The CUDA engine's algorithm, run on the CPU: the per-agent round of kernels/pfr_agent_round.h
// (what each GPU thread executes) and the fold of kernels/aggregate.cu, driven exactly as
// kernels/cuda_engine.cu drives them, with the random words from the CPU Philox (equal to cuRAND's,
// which tests/test_cuda.cc checks on a GPU). Compared with the CPU engine bit for bit, this covers
// the device code's logic on machines without a GPU; what it cannot cover (launches, cuRAND itself,
// cuBLAS, memory) is left to tests/test_cuda.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <ucontext.h>

#include "kernels/pfr_agent_round.h"
#include "kernels/pfr_cholqr.h"
#include "kernels/pfr_fold.h"
#include "kernels/pfr_warp_round.h"
#include "tests/host_round.h"
#include "sim_internal.h"

namespace {

// The 32 lanes of a warp as coroutines on this one thread, for kernels/pfr_warp_round.h: a lane runs
// until its next exchange (shuffle, ballot, syncwarp), then hands over to the next lane; when lane 31
// hands over, every lane has posted its value, and lane 0 goes on. Warp-synchronous code makes the
// same exchanges in every lane, so this is the device's lockstep, one lane at a time; and a lane
// that read shared data after another lane wrote it within the same step shows up as a mismatch
// (how the slot-map race in the warp round was found). Exchanges alternate between two post
// boards, so one hand-over per exchange suffices: a board is reused only two exchanges later, when
// every lane has read it.
class HostWarp {
  public:
    struct Lane { // the warp operations W of pfr_warp_round.h for one lane
        HostWarp *h;
        int id;
        int board = 0;
        int lane() const { return id; }
        uint32_t shfl(uint32_t v, int src)
        {
            uint32_t *post = h->post[board];
            board ^= 1;
            post[id] = v;
            h->sync(id);
            return post[src & 31];
        }
        float shfl(float v, int src)
        {
            uint32_t b;
            std::memcpy(&b, &v, 4);
            b = shfl(b, src);
            float out;
            std::memcpy(&out, &b, 4);
            return out;
        }
        float shfl_xor(float v, int mask) { return shfl(v, id ^ mask); }
        unsigned ballot(bool p)
        {
            uint32_t *post = h->post[board];
            board ^= 1;
            post[id] = p ? 1u : 0u;
            h->sync(id);
            unsigned m = 0;
            for (int l = 0; l < 32; ++l)
                m |= (post[l] ? 1u : 0u) << l;
            return m;
        }
        void syncwarp() { h->sync(id); }
        pfr_words words(uint64_t seed, uint64_t agent, uint64_t t) const { return pfr_stream_words(seed, agent, t); }
    };

    HostWarp() : stacks(32, std::vector<char>(1 << 16)) {}

    // Every lane of agent i's warp round, to the end. getcontext only fills a template here that
    // makecontext then retargets: it never returns twice, so nothing can be clobbered.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wclobbered"
    void run(const pfr_round_args *a, int64_t i)
    {
        args = a;
        agent = i;
        for (int l = 0; l < 32; ++l) {
            ASSERT_EQ(getcontext(&ctx[l]), 0);
            ctx[l].uc_stack.ss_sp = stacks[(size_t)l].data();
            ctx[l].uc_stack.ss_size = stacks[(size_t)l].size();
            ctx[l].uc_link = l < 31 ? &ctx[l + 1] : &main_ctx; // a lane that returns resumes the next
            makecontext(&ctx[l], (void (*)())entry, 1, l);
        }
        current = this;
        ASSERT_EQ(swapcontext(&main_ctx, &ctx[0]), 0);
    }
#pragma GCC diagnostic pop

  private:
    static void entry(int l)
    {
        HostWarp *h = current;
        Lane w{h, l};
        pfr_warp_agent_round(h->args, h->agent, w);
    }
    void sync(int id) { swapcontext(&ctx[id], &ctx[(id + 1) % 32]); }

    static inline HostWarp *current = nullptr;
    std::vector<std::vector<char>> stacks;
    ucontext_t ctx[32], main_ctx;
    uint32_t post[2][32] = {};
    const pfr_round_args *args = nullptr;
    int64_t agent = 0;
};

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
        {"threads", "2"},          {"eval_every", "1000"}};
    kv.insert(kv.end(), more.begin(), more.end());
    for (const auto &p : kv)
        EXPECT_EQ(pfr_config_set(&c, p.first.c_str(), p.second.c_str(), &err), PFR_OK) << err.msg;
    pfr_sim *s = nullptr;
    EXPECT_EQ(pfr_sim_create(&c, &s, &err), PFR_OK) << err.msg;
    return s;
}

// One round of cuda_round(), on the host arrays of `sim`, with agents in chunks of `chunk` (a
// multiple of the agent block; overlays hold one chunk).
void emulated_gpu_round(pfr_sim *sim, int64_t chunk, std::vector<uint32_t> &rp32, std::vector<uint32_t> &ov_rows,
                        std::vector<float> &ov_vals, std::vector<int> &ov_count, std::vector<uint8_t> &ov_slot,
                        std::vector<unsigned char> &took, HostWarp *warp)
{
    const int S = sim->S, d = sim->d, K = sim->K;
    const int64_t N = sim->N;
    std::vector<float> alpha(K, (float)sim->cfg.alpha), beta(K, (float)sim->cfg.beta); // constant schedule
    pfr_round_args a = host_round_args(sim, rp32.data(), alpha.data(), beta.data());
    const int overlay = sim->learn_phi && !sim->own_phi;
    a.ov_rows = overlay ? ov_rows.data() : nullptr;
    a.ov_vals = overlay ? ov_vals.data() : nullptr;
    a.ov_count = overlay ? ov_count.data() : nullptr;
    a.ov_slot = overlay && !ov_slot.empty() ? ov_slot.data() : nullptr;
    a.took_part = took.data();

    std::vector<double> sum((size_t)S * d, 0.0), tsum(d, 0.0);
    uint64_t part = 0;
    for (int64_t c0 = 0; c0 < N; c0 += chunk) {
        a.i0 = c0;
        a.n = std::min<int64_t>(chunk, N - c0);
        // pfr_local_steps_warp, a warp per agent
        for (int64_t i = a.i0; warp && i < a.i0 + a.n; ++i)
            warp->run(&a, i);
        // pfr_local_steps_thread, thread by thread
        for (int64_t i = a.i0; !warp && i < a.i0 + a.n; ++i) {
            pfr_words w = pfr_stream_words(a.seed, (uint64_t)i, a.t0);
            pfr_agent_state st;
            if (!pfr_agent_begin(&a, i, w.w[PFR_WORD_PARTICIPATION], &st, d))
                continue;
            for (int k = 0; k < K; ++k) {
                if (k > 0)
                    w = pfr_stream_words(a.seed, (uint64_t)i, a.t0 + (uint64_t)k);
                pfr_agent_step(&a, &st, w.w[PFR_WORD_TRANSITION], k, d);
            }
            pfr_agent_end(&a, &st, d);
        }
        // pfr_fold_kernel: pfr_fold_block for every block of the chunk, its shared memory here; then
        // the chunk's sum over blocks (cuBLAS gemv there; block order here), added to the round's sums
        const int64_t cblocks = (a.n + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
        const size_t sd = (size_t)S * d;
        std::vector<double> partial(sim->avg_phi ? (size_t)cblocks * sd : 1, 0.0), tpartial((size_t)cblocks * d);
        std::vector<int> block_count((size_t)((N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK), -1);
        pfr_fold_args f = pfr_fold_args_of_round(&a, sim->avg_phi, partial.data(),
                                                 sim->avg_theta ? tpartial.data() : nullptr, block_count.data());
        std::vector<double> stage(PFR_FOLD_STAGE), part_smem(sd);
        std::vector<int> stage_idx(PFR_FOLD_STAGE), entries(PFR_AGENT_BLOCK);
        std::vector<unsigned char> took_s(PFR_AGENT_BLOCK);
        pfr_fold_smem w = {stage.data(), stage_idx.data(), entries.data(), took_s.data(),
                           sd <= PFR_FOLD_SMEM_SD ? part_smem.data() : nullptr};
        for (int64_t lb = 0; lb < cblocks; ++lb) {
            pfr_fold_block(&f, lb, 0, 1, &w);
            part += (uint64_t)block_count[(size_t)(a.i0 / PFR_AGENT_BLOCK + lb)];
        }
        std::vector<double> csum(sd, 0.0), ctsum(d, 0.0);
        for (int64_t lb = 0; lb < cblocks; ++lb) {
            if (sim->avg_phi)
                for (size_t e = 0; e < sd; ++e)
                    csum[e] += partial[(size_t)lb * sd + e];
            if (sim->avg_theta)
                for (int c = 0; c < d; ++c)
                    ctsum[c] += tpartial[(size_t)lb * d + c];
        }
        for (size_t e = 0; e < sum.size(); ++e)
            sum[e] = c0 == 0 ? csum[e] : csum[e] + sum[e];
        for (int c = 0; c < d; ++c)
            tsum[c] = c0 == 0 ? ctsum[c] : ctsum[c] + tsum[c];
    }
    if (part > 0) {
        const double inv = 1.0 / (double)part;
        if (sim->avg_phi)
            for (size_t e = 0; e < sum.size(); ++e) // pfr_apply_kernel
                sim->phi[e] = (float)((double)sim->phi[e] + sum[e] * inv);
        if (sim->avg_theta)
            for (int64_t i = 0; i < N; ++i) // pfr_broadcast_theta_kernel
                for (int c = 0; c < d; ++c)
                    sim->theta[(size_t)i * d + c] = (float)(tsum[c] * inv);
    }
    if (sim->cfg.orthonormalize && sim->learn_phi) {
        if (sim->own_phi) {
            for (int64_t i = 0; i < N; ++i)
                ASSERT_EQ(pfr_orthonormalize_host(sim->agent_phi + (size_t)i * S * d, S, d, sim->theta + (size_t)i * d, 1, 1),
                          PFR_OK);
        } else if (part > 0) { // Cholesky-QR (orthonormalize.cu; the Gram matrix from cuBLAS there)
            std::vector<double> Rm((size_t)d * d);
            ASSERT_EQ(pfr_cholqr_factor(sim->phi, S, d, Rm.data()), PFR_OK);
            for (int64_t i = 0; i < N; ++i)
                pfr_map_theta(Rm.data(), sim->theta + (size_t)i * d, d);
        }
    }
    sim->round++;
}

// The CUDA engine's memory plan (host/cuda_plan.c) for devices of any size.
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
    EXPECT_EQ(pfr_cuda_plan_memory(s, (size_t)64 << 20, (size_t)1 << 30, &p), PFR_OK) << pfr_sim_last_error(s);
    EXPECT_GT(p.fixed_bytes, 1000.0 * 625 * 16 * 4);
    pfr_sim_destroy(s);
}

// The device's Cholesky-QR: pfr_chol_block (the one-block factor kernel's body) and
// pfr_chol_solve_row (a thread per row) on the Gram matrix give the CPU engine's pfr_cholqr_one bit
// for bit (on the device the Gram matrix itself comes from cuBLAS: that part differs by rounding).
TEST(CudaLogic, DeviceCholeskyQrEqualsTheCpuEngine)
{
    for (int d : {1, 5, 8, 32, 64}) {
        SCOPED_TRACE(d);
        const int S = d + 40;
        uint32_t h = 99u + (uint32_t)d;
        std::vector<float> phi((size_t)S * d), ref, theta(d, 0.5f), theta_ref;
        for (auto &x : phi) {
            h = h * 1664525u + 1013904223u;
            x = (float)(h >> 8) / 16777216.0f - 0.5f;
        }
        ref = phi;
        theta_ref = theta;
        std::vector<double> Gref((size_t)d * d), y(d);
        ASSERT_EQ(pfr_cholqr_one(ref.data(), S, d, theta_ref.data(), Gref.data(), y.data()), 0);

        std::vector<double> G((size_t)d * d), R((size_t)d * d);
        pfr_gram(phi.data(), S, d, G.data());
        pfr_chol_shared sh;
        const double c = std::sqrt((double)S / d);
        ASSERT_EQ(pfr_chol_block(G.data(), d, c, R.data(), 0, 0, 1, &sh), 0);
        for (int r = 0; r < S; ++r)
            pfr_chol_solve_row(G.data(), d, c, phi.data() + (size_t)r * d, y.data());
        pfr_map_theta(R.data(), theta.data(), d);
        EXPECT_EQ(0, std::memcmp(R.data(), Gref.data(), sizeof(double) * d * d)) << "R";
        EXPECT_EQ(0, std::memcmp(phi.data(), ref.data(), sizeof(float) * S * d)) << "Phi";
        EXPECT_EQ(0, std::memcmp(theta.data(), theta_ref.data(), sizeof(float) * d)) << "theta";

        pfr_gram(ref.data(), S, d, G.data()); // an earlier failure leaves everything alone
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

const std::vector<const char *> kAllAlgorithms = {"pfedtd_rep", "fedavg_rep", "fedtd", "local_rep", "local_td"};

void compare(int64_t chunk, bool bit_identical, bool slots, const Overrides &more = {},
             const std::vector<const char *> &algorithms = kAllAlgorithms, int rounds = 30, bool warp = false);

// Overlay lookups by slot map (what the engine uses for small S and K > 8) and by scan (large S or K <= 8).
// Cliff walk: S*d = 384, so the fold keeps its partial sums in shared memory.
TEST(CudaLogic, DeviceRoundOnTheHostEqualsTheCpuEngine) { compare(1 << 30, true, true); }
TEST(CudaLogic, DeviceRoundWithScannedOverlaysEqualsTheCpuEngine) { compare(1 << 30, true, false); }

// A 50 x 50 grid world, d = 32, K = 200: S*d = 80000 puts the fold's partial sums in global memory,
// and an overlay of more than 64 rows (over 2048 entries) is staged in pieces.
TEST(CudaLogic, DeviceRoundWithGlobalPartialsAndStagedPiecesEqualsTheCpuEngine)
{
    compare(1 << 30, true, false,
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
            compare(1 << 30, true, slots,
                    {{"env.kind", "gridworld"}, {"dim", dim}, {"agents", "20"}, {"local_steps", "40"},
                     {"alpha", "0.05"}, {"beta", "0.02"}},
                    kAllAlgorithms, 2, true);
        }
}

// In chunks the per-chunk sums are added up, so Phi and theta differ from the CPU engine by
// rounding only; the states, which no float decides, stay identical.
TEST(CudaLogic, ChunkedDeviceRoundStaysWithinRounding) { compare(2 * PFR_AGENT_BLOCK, false, true); }

void compare(int64_t chunk, bool bit_identical, bool slots, const Overrides &more,
             const std::vector<const char *> &algorithms, int rounds, bool warp)
{
    HostWarp host_warp;
    for (const char *part : {"1", "0.7"})
        for (const char *alg : algorithms) {
            SCOPED_TRACE(std::string(alg) + " participation " + part);
            pfr_sim *cpu = make(alg, part, more), *emu = make(alg, part, more);
            ASSERT_TRUE(cpu && emu);
            const int S = emu->S, d = emu->d, R = emu->K < S ? emu->K : S;
            const int64_t N = emu->N;
            const int64_t c = std::min<int64_t>(chunk, N);
            std::vector<uint32_t> rp32((size_t)emu->M * (S + 1)), ov_rows((size_t)c * R);
            for (size_t r = 0; r < rp32.size(); ++r)
                rp32[r] = (uint32_t)emu->env->row_ptr[r];
            std::vector<float> ov_vals((size_t)c * R * d);
            std::vector<int> ov_count(c);
            std::vector<uint8_t> ov_slot(slots ? (size_t)c * S : 0, 0xFF);
            std::vector<unsigned char> took(N);
            for (int r = 0; r < rounds; ++r) {
                ASSERT_EQ(pfr_sim_run(cpu, 1), PFR_OK) << pfr_sim_last_error(cpu);
                emulated_gpu_round(emu, c, rp32, ov_rows, ov_vals, ov_count, ov_slot, took, warp ? &host_warp : nullptr);
                ASSERT_EQ(0, std::memcmp(cpu->state, emu->state, sizeof(uint32_t) * N)) << "states, round " << r;
            }
            for (uint8_t v : ov_slot) // every agent left the slot map empty
                ASSERT_EQ(v, 0xFF);
            if (bit_identical) {
                EXPECT_EQ(0, std::memcmp(cpu->theta, emu->theta, sizeof(float) * N * d)) << "theta";
                EXPECT_EQ(0, std::memcmp(cpu->phi, emu->phi, sizeof(float) * S * d)) << "phi";
                if (cpu->own_phi) {
                    EXPECT_EQ(0, std::memcmp(cpu->agent_phi, emu->agent_phi, sizeof(float) * N * S * d)) << "agent phi";
                }
            } else {
                double num = 0, den = 0;
                for (size_t e = 0; e < (size_t)S * d; ++e) {
                    num += ((double)cpu->phi[e] - emu->phi[e]) * ((double)cpu->phi[e] - emu->phi[e]);
                    den += (double)cpu->phi[e] * cpu->phi[e];
                }
                EXPECT_LT(std::sqrt(num / den), 1e-5) << "phi";
                num = den = 0;
                for (size_t e = 0; e < (size_t)N * d; ++e) {
                    num += ((double)cpu->theta[e] - emu->theta[e]) * ((double)cpu->theta[e] - emu->theta[e]);
                    den += (double)cpu->theta[e] * cpu->theta[e];
                }
                EXPECT_LT(std::sqrt(num / den), 1e-5) << "theta";
            }
            pfr_sim_destroy(cpu);
            pfr_sim_destroy(emu);
        }
}

} // namespace
