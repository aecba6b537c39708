// The CUDA engine against the CPU engine (issue 3). Every test skips cleanly when the build has no
// CUDA or the machine has no GPU; bench/gpu_check.sh runs them where there is one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/pfr_agent_round.h"
#include "tests/host_round.h"
#include "sim_internal.h"

#ifdef PFR_HAVE_CUDA
#include <cuda_runtime.h>
extern "C" cudaError_t pfr_cuda_launch_philox_words(uint64_t seed, const uint64_t *agent, const uint64_t *step, int n,
                                                   uint4 *out, cudaStream_t stream);
#endif

namespace {

[[maybe_unused]] bool gpu_present()
{
#ifdef PFR_HAVE_CUDA
    return pfr_cuda_device_count() > 0;
#else
    return false;
#endif
}

#ifdef PFR_GPU_TESTS_ON_CPU
// The stand-in build (ctest prefix cpu_stand_in.): every test below runs with the CPU engine in the
// device's place. Its comparisons are then CPU against CPU; what it checks is the harness: that each
// configuration is valid and stable, and that the references computed here (the long-double mean)
// agree with an engine. It cannot check the CUDA engine: only a GPU run does.
#define DEVICE "cpu"
#define REQUIRE_GPU() (void)0
#else
#define DEVICE "cuda"
// GTEST_SKIP must run in the test body itself to end the test.
#define REQUIRE_GPU()                                                                                 \
    if (!gpu_present())                                                                               \
    GTEST_SKIP() << "no CUDA device on this machine (or a build without CUDA)"
#endif

pfr_sim *make(const std::vector<std::pair<std::string, std::string>> &kv, const char *backend)
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    for (const auto &p : kv)
        EXPECT_EQ(pfr_config_set(&c, p.first.c_str(), p.second.c_str(), &err), PFR_OK) << err.msg;
    EXPECT_EQ(pfr_config_set(&c, "backend", backend, &err), PFR_OK);
    pfr_sim *s = nullptr;
    EXPECT_EQ(pfr_sim_create(&c, &s, &err), PFR_OK) << err.msg;
    return s;
}

std::vector<std::pair<std::string, std::string>> cliff(const std::string &alg, const std::string &n)
{
    return {{"env.kind", "cliffwalk"}, {"env.types", "4"}, {"env.slip_max", "0.3"}, {"env.wind_max", "0.2"},
            {"agents", n},            {"dim", "8"},       {"local_steps", "10"},   {"alpha", "0.2"},
            {"beta", "0.1"},          {"algorithm", alg}, {"eval_every", "10"},    {"participation", "0.8"},
            {"orthonormalize", "true"}};
}

TEST(Cuda, CurandWordsEqualCpuPhilox)
{
#ifdef PFR_GPU_TESTS_ON_CPU
    GTEST_SKIP() << "needs cuRAND on a device";
#endif
    REQUIRE_GPU();
#ifdef PFR_HAVE_CUDA
    const int n = 4096;
    std::vector<uint64_t> agent(n), step(n);
    for (int q = 0; q < n; ++q) {
        agent[q] = (uint64_t)q * 2654435761ull % 10000019ull + ((uint64_t)(q % 3) << 33);
        step[q] = (uint64_t)q * 40503ull % 1000003ull + ((uint64_t)(q % 5) << 32);
    }
    uint64_t *da, *ds;
    uint4 *dout;
    ASSERT_EQ(cudaMalloc(&da, n * 8), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&ds, n * 8), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dout, n * sizeof(uint4)), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(da, agent.data(), n * 8, cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(ds, step.data(), n * 8, cudaMemcpyHostToDevice), cudaSuccess);
    const uint64_t seed = 0x1234567890abcdefull;
    ASSERT_EQ(pfr_cuda_launch_philox_words(seed, da, ds, n, dout, 0), cudaSuccess);
    std::vector<uint4> out(n);
    ASSERT_EQ(cudaMemcpy(out.data(), dout, n * sizeof(uint4), cudaMemcpyDeviceToHost), cudaSuccess);
    for (int q = 0; q < n; ++q) {
        pfr_words w = pfr_stream_words(seed, agent[q], step[q]);
        ASSERT_EQ(out[q].x, w.w[0]) << q;
        ASSERT_EQ(out[q].y, w.w[1]) << q;
        ASSERT_EQ(out[q].z, w.w[2]) << q;
        ASSERT_EQ(out[q].w, w.w[3]) << q;
    }
    cudaFree(da);
    cudaFree(ds);
    cudaFree(dout);
#endif
}

// N not a multiple of the block size, 100 rounds x 10 steps: states identical after every round,
// Phi and theta within a relative tolerance (aggregation sums in another order on the device).
TEST(Cuda, StatesIdenticalAndValuesCloseToCpu)
{
    REQUIRE_GPU();
    for (const char *alg : {"pfedtd_rep", "fedavg_rep", "fedtd", "local_rep", "local_td"}) {
        SCOPED_TRACE(alg);
        pfr_sim *cpu = make(cliff(alg, "1037"), "cpu"), *gpu = make(cliff(alg, "1037"), DEVICE);
        ASSERT_TRUE(cpu && gpu);
        ASSERT_STREQ(pfr_sim_backend(gpu), DEVICE);
        std::vector<uint32_t> sc(1037), sg(1037);
        for (int r = 0; r < 100; ++r) {
            ASSERT_EQ(pfr_sim_run(cpu, 1), PFR_OK) << pfr_sim_last_error(cpu);
            ASSERT_EQ(pfr_sim_run(gpu, 1), PFR_OK) << pfr_sim_last_error(gpu);
            ASSERT_EQ(pfr_sim_get_states(cpu, sc.data(), sc.size()), PFR_OK);
            ASSERT_EQ(pfr_sim_get_states(gpu, sg.data(), sg.size()), PFR_OK);
            ASSERT_EQ(sc, sg) << "round " << r;
        }
        std::vector<float> pc(48 * 8), pg(48 * 8);
        ASSERT_EQ(pfr_sim_get_phi(cpu, pc.data(), pc.size()), PFR_OK);
        ASSERT_EQ(pfr_sim_get_phi(gpu, pg.data(), pg.size()), PFR_OK);
        double num = 0, den = 0;
        for (size_t e = 0; e < pc.size(); ++e) {
            num += (pc[e] - pg[e]) * (double)(pc[e] - pg[e]);
            den += pc[e] * (double)pc[e];
        }
        EXPECT_LT(std::sqrt(num / den), 1e-4) << "Phi";
        num = den = 0;
        for (int64_t i = 0; i < 1037; i += 7) {
            float tc[8], tg[8];
            ASSERT_EQ(pfr_sim_get_theta(cpu, i, tc, 8), PFR_OK);
            ASSERT_EQ(pfr_sim_get_theta(gpu, i, tg, 8), PFR_OK);
            for (int j = 0; j < 8; ++j) {
                num += (tc[j] - tg[j]) * (double)(tc[j] - tg[j]);
                den += tc[j] * (double)tc[j];
            }
        }
        EXPECT_LT(std::sqrt(num / den), 1e-4) << "theta";
        pfr_metrics mc, mg;
        pfr_sim_metrics_get(cpu, pfr_sim_metrics_count(cpu) - 1, &mc);
        pfr_sim_metrics_get(gpu, pfr_sim_metrics_count(gpu) - 1, &mg);
        EXPECT_NEAR(mg.value_error, mc.value_error, 1e-3 * mc.value_error);
        EXPECT_EQ(mg.agent_steps, mc.agent_steps);
        pfr_sim_destroy(cpu);
        pfr_sim_destroy(gpu);
    }
}

double rel_l2(const std::vector<float> &ref, const std::vector<float> &x)
{
    double num = 0, den = 0;
    for (size_t e = 0; e < ref.size(); ++e) {
        num += ((double)ref[e] - x[e]) * ((double)ref[e] - x[e]);
        den += (double)ref[e] * ref[e];
    }
    return std::sqrt(num / den);
}

struct Snapshot {
    std::vector<uint32_t> states;
    std::vector<float> phi, theta;
};

Snapshot snap(pfr_sim *s)
{
    Snapshot out;
    out.states.resize(s->N);
    out.phi.resize((size_t)s->S * s->d);
    out.theta.resize((size_t)s->N * s->d);
    EXPECT_EQ(pfr_sim_get_states(s, out.states.data(), out.states.size()), PFR_OK);
    EXPECT_EQ(pfr_sim_get_phi(s, out.phi.data(), out.phi.size()), PFR_OK);
    for (int64_t i = 0; i < s->N; ++i)
        EXPECT_EQ(pfr_sim_get_theta(s, i, out.theta.data() + (size_t)i * s->d, s->d), PFR_OK);
    return out;
}

// Both engines `rounds` rounds on: the states equal, Phi and theta within 1e-4 relative (L2); then
// both handles are destroyed.
void run_and_compare(pfr_sim *cpu, pfr_sim *gpu, int rounds)
{
    if (cpu && gpu) {
        ASSERT_EQ(pfr_sim_run(cpu, rounds), PFR_OK) << pfr_sim_last_error(cpu);
        ASSERT_EQ(pfr_sim_run(gpu, rounds), PFR_OK) << pfr_sim_last_error(gpu);
        Snapshot a = snap(cpu), b = snap(gpu);
        EXPECT_EQ(a.states, b.states);
        EXPECT_LT(rel_l2(a.phi, b.phi), 1e-4);
        EXPECT_LT(rel_l2(a.theta, b.theta), 1e-4);
    } else {
        ADD_FAILURE() << "a simulation could not be created";
    }
    pfr_sim_destroy(cpu);
    pfr_sim_destroy(gpu);
}

// Agents in chunks (cuda_max_chunk): overlays and partial sums per chunk, the chunk sums added up.
// K = 3: overlays searched by scan (the slot map is used from K = 9 on).
TEST(Cuda, ChunkedRoundsMatchTheCpu)
{
    REQUIRE_GPU();
    for (const char *alg : {"pfedtd_rep", "fedavg_rep", "fedtd"})
        for (const char *kernel : {"thread", "warp"}) {
            SCOPED_TRACE(std::string(alg) + " " + kernel);
            auto kv = cliff(alg, "1037");
            kv.push_back({"local_steps", "3"});
            pfr_sim *cpu = make(kv, "cpu");
            kv.push_back({"cuda_max_chunk", "300"}); // 512 agents a chunk: three chunks
            kv.push_back({"cuda_kernel", kernel});
            pfr_sim *gpu = make(kv, DEVICE);
            run_and_compare(cpu, gpu, 30);
        }
}

// The two local-step kernels (a thread per agent, a warp per agent) compute the same bits: the warp
// sums its dot products in pfr_dot's order and applies pfr_td_update element by element.
TEST(Cuda, WarpKernelEqualsThreadKernelBitForBit)
{
    REQUIRE_GPU();
    for (const char *alg : {"pfedtd_rep", "local_rep", "fedtd", "fedavg_rep"})
        for (int d : {4, 8, 16, 32, 40, 64})
            for (const char *part : {"1", "0.7"}) {
                SCOPED_TRACE(std::string(alg) + " d=" + std::to_string(d) + " participation " + part);
                auto kv = cliff(alg, "1037");
                kv.push_back({"env.kind", "gridworld"}); // 10 x 10 = 100 states: room for d = 64
                kv.push_back({"dim", std::to_string(d)});
                kv.push_back({"participation", part});
                kv.push_back({"local_steps", "40"}); // more than one warp's worth of words per round
                kv.push_back({"alpha", "0.05"});     // stable up to d = 64 on the 10 x 10 grid
                kv.push_back({"beta", "0.02"});
                auto kt = kv, kw = kv;
                kt.push_back({"cuda_kernel", "thread"});
                kw.push_back({"cuda_kernel", "warp"});
                pfr_sim *t = make(kt, DEVICE), *w = make(kw, DEVICE);
                ASSERT_TRUE(t && w);
                ASSERT_EQ(pfr_sim_run(t, 12), PFR_OK) << pfr_sim_last_error(t);
                ASSERT_EQ(pfr_sim_run(w, 12), PFR_OK) << pfr_sim_last_error(w);
                Snapshot a = snap(t), b = snap(w);
                EXPECT_EQ(a.states, b.states);
                EXPECT_EQ(0, std::memcmp(a.phi.data(), b.phi.data(), a.phi.size() * sizeof(float))) << "Phi";
                EXPECT_EQ(0, std::memcmp(a.theta.data(), b.theta.data(), a.theta.size() * sizeof(float))) << "theta";
                pfr_sim_destroy(t);
                pfr_sim_destroy(w);
            }
}

// K = 1: a round is one step, so comparing after every round compares the chains at every one of
// 1000 steps (1037 agents, partial participation, both kernels).
TEST(Cuda, StatesIdenticalAtEveryStep)
{
    REQUIRE_GPU();
    for (const char *kernel : {"thread", "warp"}) {
        SCOPED_TRACE(kernel);
        auto kv = cliff("pfedtd_rep", "1037");
        kv.push_back({"local_steps", "1"});
        kv.push_back({"eval_every", "1000"});
        pfr_sim *cpu = make(kv, "cpu");
        kv.push_back({"cuda_kernel", kernel});
        pfr_sim *gpu = make(kv, DEVICE);
        ASSERT_TRUE(cpu && gpu);
        std::vector<uint32_t> sc(1037), sg(1037);
        for (int t = 0; t < 1000; ++t) {
            ASSERT_EQ(pfr_sim_run(cpu, 1), PFR_OK) << pfr_sim_last_error(cpu);
            ASSERT_EQ(pfr_sim_run(gpu, 1), PFR_OK) << pfr_sim_last_error(gpu);
            ASSERT_EQ(pfr_sim_get_states(cpu, sc.data(), sc.size()), PFR_OK);
            ASSERT_EQ(pfr_sim_get_states(gpu, sg.data(), sg.size()), PFR_OK);
            ASSERT_EQ(sc, sg) << "step " << t;
        }
        Snapshot a = snap(cpu), b = snap(gpu);
        EXPECT_LT(rel_l2(a.phi, b.phi), 1e-4);
        EXPECT_LT(rel_l2(a.theta, b.theta), 1e-4);
        pfr_sim_destroy(cpu);
        pfr_sim_destroy(gpu);
    }
}

// A round replayed as a CUDA graph (t0 and the round number on the device, step sizes copied in
// before each launch) computes what the stream-launched round does, bit for bit; runs split over
// several pfr_sim_run calls, a decaying schedule and orthonormalization included.
TEST(Cuda, GraphRoundsEqualStreamRoundsBitForBit)
{
    REQUIRE_GPU();
    for (const char *alg : {"pfedtd_rep", "local_rep", "fedavg_rep", "fedtd"}) {
        SCOPED_TRACE(alg);
        auto kv = cliff(alg, "1037");
        kv.push_back({"participation", "1"});
        kv.push_back({"schedule.a", "0.6"});
        kv.push_back({"schedule.b", "0.9"});
        auto kg = kv;
        kg.push_back({"cuda_graph", "true"});
        pfr_sim *plain = make(kv, DEVICE), *graph = make(kg, DEVICE);
        ASSERT_TRUE(plain && graph);
        for (int part = 0; part < 3; ++part) {
            ASSERT_EQ(pfr_sim_run(plain, 7), PFR_OK) << pfr_sim_last_error(plain);
            ASSERT_EQ(pfr_sim_run(graph, 7), PFR_OK) << pfr_sim_last_error(graph);
        }
        Snapshot a = snap(plain), b = snap(graph);
        EXPECT_EQ(a.states, b.states);
        EXPECT_EQ(0, std::memcmp(a.phi.data(), b.phi.data(), a.phi.size() * sizeof(float))) << "Phi";
        EXPECT_EQ(0, std::memcmp(a.theta.data(), b.theta.data(), a.theta.size() * sizeof(float))) << "theta";
        pfr_metrics ma, mb;
        pfr_sim_metrics_get(plain, pfr_sim_metrics_count(plain) - 1, &ma);
        pfr_sim_metrics_get(graph, pfr_sim_metrics_count(graph) - 1, &mb);
        EXPECT_EQ(ma.value_error, mb.value_error);
        EXPECT_EQ(ma.agent_steps, mb.agent_steps);
        pfr_sim_destroy(plain);
        pfr_sim_destroy(graph);
    }
}

// More than 4096 states: the overlays are searched (no slot map), the fold sums in global memory,
// and with K = 150, d = 16 an overlay (2400 entries) is staged in pieces. A grid world of 70 x 70.
TEST(Cuda, LargeGridWorldScannedOverlaysMatchTheCpu)
{
    REQUIRE_GPU();
    for (const char *kernel : {"thread", "warp"}) {
        SCOPED_TRACE(kernel);
        std::vector<std::pair<std::string, std::string>> kv = {
            {"env.kind", "gridworld"}, {"env.width", "70"},   {"env.height", "70"},        {"env.types", "3"},
            {"agents", "600"},         {"dim", "16"},         {"local_steps", "150"},       {"alpha", "0.1"},
            {"beta", "0.05"},          {"eval_every", "10"}, {"orthonormalize", "true"}, {"cuda_kernel", kernel}};
        pfr_sim *cpu = make(kv, "cpu"), *gpu = make(kv, DEVICE);
        run_and_compare(cpu, gpu, 20);
    }
}

// The device aggregation (block partial sums + cuBLAS) against the mean of every participant's
// Phi_i computed here in long double: one round of PFedTD-Rep without orthonormalization. Each
// agent's Phi_i comes from the device round run on the host (pfr_agent_round.h, the same bits as the
// kernels: tests/test_cuda_logic.cc).
TEST(Cuda, AverageWithinOnePartInAMillionOfTheExactMean)
{
    REQUIRE_GPU();
    for (const char *part : {"1", "0.6"}) {
        SCOPED_TRACE(part);
        auto kv = cliff("pfedtd_rep", "5037");
        kv.push_back({"orthonormalize", "false"});
        kv.push_back({"participation", part});
        pfr_sim *ref = make(kv, "cpu"), *gpu = make(kv, DEVICE);
        ASSERT_TRUE(ref && gpu);
        const int S = ref->S, d = ref->d, K = ref->K, R = K < S ? K : S;
        const int64_t N = ref->N;
        std::vector<uint32_t> rp32((size_t)ref->M * (S + 1)), rows(R);
        for (size_t r = 0; r < rp32.size(); ++r)
            rp32[r] = (uint32_t)ref->env->row_ptr[r];
        std::vector<float> vals((size_t)R * d), alpha(K, (float)ref->cfg.alpha), beta(K, (float)ref->cfg.beta);
        std::vector<int> count(1);
        std::vector<unsigned char> took(N);
        pfr_round_args a = host_round_args(ref, rp32.data(), alpha.data(), beta.data()); // round 0
        a.ov_rows = rows.data();
        a.ov_vals = vals.data();
        a.ov_count = count.data();
        a.took_part = took.data();
        std::vector<long double> sum((size_t)S * d, 0.0L);
        int64_t participants = 0;
        for (int64_t i = 0; i < N; ++i) { // one agent at a time: its overlay is slot 0 of the chunk
            a.i0 = i;
            a.n = 1;
            pfr_words w = pfr_stream_words(a.seed, (uint64_t)i, 0);
            pfr_agent_state st;
            if (!pfr_agent_begin(&a, i, w.w[PFR_WORD_PARTICIPATION], &st, d))
                continue;
            for (int k = 0; k < K; ++k) {
                if (k > 0)
                    w = pfr_stream_words(a.seed, (uint64_t)i, (uint64_t)k);
                pfr_agent_step(&a, &st, w.w[PFR_WORD_TRANSITION], k, d);
            }
            pfr_agent_end(&a, &st, d);
            ++participants;
            for (int q = 0; q < count[0]; ++q)
                for (int c = 0; c < d; ++c)
                    sum[(size_t)rows[q] * d + c] +=
                        (long double)vals[(size_t)q * d + c] - (long double)ref->phi[(size_t)rows[q] * d + c];
        }
        ASSERT_GT(participants, 0);
        std::vector<float> exact((size_t)S * d), got((size_t)S * d);
        for (size_t e = 0; e < exact.size(); ++e)
            exact[e] = (float)((long double)ref->phi[e] + sum[e] / (long double)participants);
        ASSERT_EQ(pfr_sim_run(gpu, 1), PFR_OK) << pfr_sim_last_error(gpu);
        ASSERT_EQ(pfr_sim_get_phi(gpu, got.data(), got.size()), PFR_OK);
        EXPECT_LT(rel_l2(exact, got), 1e-6);
        pfr_sim_destroy(ref);
        pfr_sim_destroy(gpu);
    }
}

// A diverging run fails on the device as on the CPU: an error naming the round, found at the next
// wait (the device does not stop for it), and the same round as the CPU engine's.
TEST(Cuda, DivergingRunFailsWithTheSameRoundAsTheCpu)
{
    REQUIRE_GPU();
    auto kv = cliff("pfedtd_rep", "1037");
    kv.push_back({"alpha", "1000"});
    kv.push_back({"beta", "1000"});
    kv.push_back({"participation", "1"});
    pfr_sim *cpu = make(kv, "cpu"), *gpu = make(kv, DEVICE);
    ASSERT_TRUE(cpu && gpu);
    EXPECT_EQ(pfr_sim_run(cpu, 50), PFR_ERR_NUMERIC);
    EXPECT_EQ(pfr_sim_run(gpu, 50), PFR_ERR_NUMERIC);
    const std::string mc = pfr_sim_last_error(cpu), mg = pfr_sim_last_error(gpu);
    const size_t pc = mc.find("failed in round "), pg = mg.find("failed in round ");
    ASSERT_NE(pc, std::string::npos) << mc;
    ASSERT_NE(pg, std::string::npos) << mg;
    EXPECT_EQ(std::atoll(mc.c_str() + pc + 16), std::atoll(mg.c_str() + pg + 16)) << mc << " | " << mg;
    pfr_sim_destroy(cpu);
    pfr_sim_destroy(gpu);
}

TEST(Cuda, CudaBackendWithoutDeviceIsAClearError)
{
#ifdef PFR_GPU_TESTS_ON_CPU
    GTEST_SKIP() << "covered by the real build";
#endif
#ifdef PFR_HAVE_CUDA
    if (pfr_cuda_device_count() > 0)
        GTEST_SKIP() << "a device is present";
#endif
    pfr_config c;
    pfr_config_init(&c);
    c.backend = PFR_BACKEND_CUDA;
    pfr_sim *s = nullptr;
    pfr_error err;
    EXPECT_EQ(pfr_sim_create(&c, &s, &err), PFR_ERR_NO_DEVICE);
    EXPECT_EQ(s, nullptr);
    EXPECT_NE(std::string(err.msg).find("backend=cuda"), std::string::npos) << err.msg;
}

} // namespace
