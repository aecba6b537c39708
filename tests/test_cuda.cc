// The CUDA engine against the CPU engine and against exact references. Every Cuda.* test skips
// cleanly when the build has no CUDA or the machine has no GPU; bench/gpu_check.sh validate runs
// them where there is one. GpuTestConfigs.* runs everywhere: the configurations the GPU tests use
// are valid and stable on the CPU engine, so a GPU minute is never spent on a bad configuration.
//
// The contract (DESIGN §3): the device sums every change in the CPU engine's order (kernels/pfr_fold.h)
// and the Gram matrix in its tiles (pfr_cholqr.h), so states, Phi, theta and the metrics are the CPU
// engine's bits, for any chunk of agents. One exception: with the private aggregation's noise
// (federation.noise_multiplier) the device's log, sin and cos may differ from the host's in the last
// bit, so there the engines' *changes* Phi - Phi0 are compared, relative to the change, within
// kChangeTol (a tolerance relative to Phi itself would let through an aggregation error as large as
// a round's whole change). The device average is also checked against an exact (long double) mean.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/cuda_engine.h"
#include "tests/host_round.h"
#include "tests/test_gpu.h"
#include "tests/test_temp.h"

#ifdef PFR_HAVE_CUDA
#include "kernels/pfr_launch.h"
#endif

namespace {

using KV = std::vector<std::pair<std::string, std::string>>;

KV operator+(KV a, const KV &b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// ---- the GPU tests' configurations, in one place ---------------------------------------------------
KV cliff(const std::string &alg, const std::string &n = "1037")
{
    return {{"env.kind", "cliffwalk"}, {"env.types", "4"}, {"env.slip_max", "0.3"}, {"env.wind_max", "0.2"},
            {"agents", n},            {"dim", "8"},       {"local_steps", "10"},   {"alpha", "0.2"},
            {"beta", "0.1"},          {"algorithm", alg}, {"eval_every", "10"},    {"participation", "0.8"},
            {"orthonormalize", "true"}};
}
const std::vector<std::string> kAlgorithms = {"pfedtd_rep", "fedavg_rep", "fedtd", "local_rep", "local_td"};

struct GpuCase {
    std::string name;
    KV kv;
    int rounds;
    bool diverges = false; // the test expects the run to fail (on both engines)
};

// Each GPU test takes its configurations from here; GpuTestConfigs.ValidOnTheCpuEngine runs them all.
std::vector<GpuCase> cases(const std::string &group)
{
    std::vector<GpuCase> out;
    if (group == "parity")
        for (const auto &alg : kAlgorithms)
            out.push_back({alg, cliff(alg), 100});
    if (group == "chunked") // agents in chunks: overlays and partials per chunk; K = 3: scanned overlays
        for (const char *alg : {"pfedtd_rep", "fedavg_rep", "fedtd"})
            for (const char *kernel : {"thread", "warp"})
                out.push_back({std::string(alg) + " " + kernel,
                               cliff(alg) + KV{{"local_steps", "3"}, {"cuda_max_chunk", "300"}, {"cuda_kernel", kernel}},
                               30});
    if (group == "warp_vs_thread") // 10 x 10 grid: room for d = 64; K = 40: a second batch of words
        for (const char *alg : {"pfedtd_rep", "local_rep", "fedtd", "fedavg_rep"})
            for (int d : {4, 8, 16, 32, 40, 64})
                for (const char *part : {"1", "0.7"})
                    out.push_back({std::string(alg) + " d=" + std::to_string(d) + " participation " + part,
                                   cliff(alg) + KV{{"env.kind", "gridworld"}, {"dim", std::to_string(d)},
                                                   {"participation", part}, {"local_steps", "40"},
                                                   {"alpha", "0.05"}, {"beta", "0.02"}},
                                   12});
    if (group == "every_step") // K = 1 for 1000 rounds: the chains compared at every step
        for (const char *kernel : {"thread", "warp"})
            out.push_back({kernel,
                           cliff("pfedtd_rep") + KV{{"local_steps", "1"}, {"eval_every", "1000"}, {"cuda_kernel", kernel}},
                           1000});
    if (group == "graph") // split runs, a decaying schedule, orthonormalization
        for (const char *alg : {"pfedtd_rep", "local_rep", "fedavg_rep", "fedtd"})
            out.push_back({alg, cliff(alg) + KV{{"participation", "1"}, {"schedule.a", "0.6"}, {"schedule.b", "0.9"}},
                           21});
    if (group == "large_grid") { // S > 4096: scanned overlays, the sparse sums; S = 40,000 in chunks
        for (const char *kernel : {"thread", "warp"})
            out.push_back({kernel,
                           KV{{"env.kind", "gridworld"}, {"env.width", "70"}, {"env.height", "70"}, {"env.types", "3"},
                              {"agents", "600"}, {"dim", "16"}, {"local_steps", "150"}, {"alpha", "0.1"},
                              {"beta", "0.05"}, {"eval_every", "10"}, {"orthonormalize", "true"},
                              {"cuda_kernel", kernel}},
                           20});
        for (const char *chunk : {"0", "1024"})
            out.push_back({std::string("bench grid 200x200, chunk ") + chunk,
                           KV{{"env.kind", "gridworld"}, {"env.width", "200"}, {"env.height", "200"},
                              {"env.types", "16"}, {"env.goals", "4"}, {"env.walls", "0.2"}, {"env.starts", "16"},
                              {"env.wind_direction", "per_type"}, {"env.wind_max", "0.2"}, {"agents", "4096"},
                              {"dim", "8"}, {"local_steps", "10"}, {"alpha", "0.05"}, {"beta", "0.02"},
                              {"participation", "0.9"}, {"eval_every", "10"}, {"orthonormalize", "true"},
                              {"cuda_max_chunk", chunk}},
                           10});
    }
    if (group == "average") // one round against the exact mean: chunks, the warp kernel, orthonormalization
        for (const char *part : {"1", "0.6"})
            for (const char *chunk : {"0", "1000"})
                for (const char *kernel : {"thread", "warp"})
                    for (const char *orth : {"false", "true"})
                        out.push_back({std::string("participation ") + part + " chunk " + chunk + " " + kernel +
                                           " orthonormalize " + orth,
                                       cliff("pfedtd_rep", "5037") + KV{{"participation", part},
                                                                        {"cuda_max_chunk", chunk},
                                                                        {"cuda_kernel", kernel},
                                                                        {"orthonormalize", orth}},
                                       1});
    if (group == "resume") // saved at round 10, loaded, run on to 20; graphs too
        for (const char *alg : {"pfedtd_rep", "local_rep", "fedavg_rep"})
            for (const char *graph : {"false", "true"})
                out.push_back({std::string(alg) + " graph " + graph,
                               cliff(alg) + KV{{"participation", "1"}, {"cuda_graph", graph}, {"schedule.a", "0.6"}},
                               20});
    if (group == "federation") { // host/sim/federation.c's draws: the device's steps, history, weights, clip, noise
        const KV fed = {{"federation.p_drop", "0.2"},    {"federation.p_return", "0.4"},
                        {"federation.stragglers", "0.5"}, {"federation.max_delay", "3"},
                        {"federation.stale_decay", "0.8"}, {"federation.clip", "0.05"},
                        {"federation.noise_multiplier", "0.5"}};
        for (const char *kernel : {"thread", "warp"})
            out.push_back({std::string("pfedtd_rep, every mechanism, ") + kernel,
                           cliff("pfedtd_rep") + fed + KV{{"cuda_kernel", kernel}}, 30});
        out.push_back({"local_td, availability and stragglers",
                       cliff("local_td") + KV{{"federation.p_drop", "0.2"}, {"federation.p_return", "0.4"},
                                              {"federation.stragglers", "0.5"}},
                       30});
        out.push_back({"fedavg_rep, fixed delay and clipping",
                       cliff("fedavg_rep") + KV{{"federation.delay", "2"}, {"federation.clip", "0.05"}}, 30});
    }
    if (group == "control") // the same bits, so the same trajectories, round after round
        for (const char *kind : {"qlearning", "sarsa"})
            for (const char *alg : {"local_td", "local_td_tabular", "pfedtd_rep", "fedavg_rep"})
                out.push_back({std::string(alg) + " " + kind, cliff(alg) + KV{{"control.kind", kind}}, 30});
    if (group == "resume_federation") // the history of Phi and the chains through a checkpoint
        out.push_back({"pfedtd_rep", cliff("pfedtd_rep") + KV{{"federation.p_drop", "0.2"}, {"federation.p_return", "0.4"},
                                                              {"federation.max_delay", "3"}, {"federation.clip", "0.05"},
                                                              {"federation.noise_multiplier", "0.5"}},
                       20});
    if (group == "diverging")
        out.push_back({"alpha=beta=1000",
                       cliff("pfedtd_rep") + KV{{"alpha", "1000"}, {"beta", "1000"}, {"participation", "1"}}, 50, true});
    return out;
}
const std::vector<std::string> kGroups = {"parity",     "chunked", "warp_vs_thread", "every_step", "graph",
                                          "large_grid", "average", "resume",         "diverging",
                                          "federation", "resume_federation", "control"};

pfr_sim *make(const KV &kv, const char *backend)
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

double rel_l2(const std::vector<float> &ref, const std::vector<float> &x)
{
    double num = 0, den = 0;
    for (size_t e = 0; e < ref.size(); ++e) {
        num += ((double)ref[e] - x[e]) * ((double)ref[e] - x[e]);
        den += (double)ref[e] * ref[e];
    }
    return std::sqrt(num / den);
}

// ||(x - x0) - (ref - x0)|| / ||ref - x0||: the engines' changes from the common start x0 compared,
// relative to the reference's change.
double rel_change(const std::vector<float> &x0, const std::vector<float> &ref, const std::vector<float> &x)
{
    double num = 0, den = 0;
    for (size_t e = 0; e < ref.size(); ++e) {
        const double cr = (double)ref[e] - x0[e], cx = (double)x[e] - x0[e];
        num += (cx - cr) * (cx - cr);
        den += cr * cr;
    }
    return den > 0 ? std::sqrt(num / den) : (num > 0 ? INFINITY : 0.0);
}

// Whether a configuration has the private aggregation's noise (the one place the engines may differ
// by rounding).
bool noisy(const KV &kv)
{
    for (const auto &p : kv)
        if (p.first == "federation.noise_multiplier" && std::atof(p.second.c_str()) > 0.0)
            return true;
    return false;
}

// The engines after the same rounds: states, Phi and theta bit for bit (with noise: the states, and
// the changes of Phi and theta within kChangeTol, tests/host_round.h).
void expect_same(const Snapshot &start, const Snapshot &a, const Snapshot &b, bool exact)
{
    EXPECT_EQ(a.states, b.states);
    if (exact) {
        EXPECT_EQ(0, std::memcmp(a.phi.data(), b.phi.data(), a.phi.size() * sizeof(float))) << "Phi";
        EXPECT_EQ(0, std::memcmp(a.theta.data(), b.theta.data(), a.theta.size() * sizeof(float))) << "theta";
    } else {
        EXPECT_LT(rel_change(start.phi, a.phi, b.phi), kChangeTol) << "Phi - Phi0";
        EXPECT_LT(rel_change(start.theta, a.theta, b.theta), kChangeTol) << "theta - theta0";
    }
}

// Both engines `rounds` rounds on from the same start, compared (expect_same).
void run_and_compare(pfr_sim *cpu, pfr_sim *gpu, int rounds, bool exact)
{
    ASSERT_TRUE(cpu && gpu);
    const Snapshot start = snap(cpu);
    ASSERT_EQ(pfr_sim_run(cpu, rounds), PFR_OK) << pfr_sim_last_error(cpu);
    ASSERT_EQ(pfr_sim_run(gpu, rounds), PFR_OK) << pfr_sim_last_error(gpu);
    expect_same(start, snap(cpu), snap(gpu), exact);
}

// ---- configurations -----------------------------------------------------------------------------
TEST(GpuTestConfigs, ValidOnTheCpuEngine)
{
    for (const auto &group : kGroups)
        for (const GpuCase &c : cases(group)) {
            SCOPED_TRACE(group + ": " + c.name);
            pfr_sim *s = make(c.kv, "cpu");
            ASSERT_TRUE(s);
            const int rounds = c.rounds < 30 ? c.rounds : 30; // enough to show instability
            const pfr_status st = pfr_sim_run(s, rounds);
            if (c.diverges) {
                EXPECT_EQ(st, PFR_ERR_NUMERIC);
            } else {
                ASSERT_EQ(st, PFR_OK) << pfr_sim_last_error(s);
                pfr_metrics m;
                ASSERT_EQ(pfr_sim_metrics_get(s, pfr_sim_metrics_count(s) - 1, &m, sizeof m), PFR_OK);
                EXPECT_TRUE(std::isfinite(m.value_error) && m.value_error < 10.0) << m.value_error;
            }
            pfr_sim_destroy(s);
        }
}

// ---- the GPU tests -------------------------------------------------------------------------------
TEST(Cuda, PhiloxWordsOnTheDeviceEqualCuRandAndTheCpu)
{
    REQUIRE_GPU();
#ifdef PFR_HAVE_CUDA
    const int n = 4096;
    std::vector<uint64_t> agent(n), step(n);
    for (int q = 0; q < n; ++q) { // counters with both halves in use
        agent[q] = (uint64_t)q * 2654435761ull % 10000019ull + ((uint64_t)(q % 3) << 33);
        step[q] = (uint64_t)q * 40503ull % 1000003ull + ((uint64_t)(q % 5) << 32);
    }
    uint64_t *da, *ds;
    uint4 *dcur, *down;
    ASSERT_EQ(cudaMalloc(&da, n * 8), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&ds, n * 8), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dcur, n * sizeof(uint4)), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&down, n * sizeof(uint4)), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(da, agent.data(), n * 8, cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(ds, step.data(), n * 8, cudaMemcpyHostToDevice), cudaSuccess);
    const uint64_t seed = 0x1234567890abcdefull;
    ASSERT_EQ(pfr_cuda_launch_philox_words(seed, da, ds, n, dcur, down, 0), cudaSuccess);
    std::vector<uint4> cur(n), own(n);
    ASSERT_EQ(cudaMemcpy(cur.data(), dcur, n * sizeof(uint4), cudaMemcpyDeviceToHost), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(own.data(), down, n * sizeof(uint4), cudaMemcpyDeviceToHost), cudaSuccess);
    for (int q = 0; q < n; ++q) {
        const pfr_words w = pfr_stream_words(seed, agent[q], step[q]);
        const uint32_t c[4] = {cur[q].x, cur[q].y, cur[q].z, cur[q].w}, o[4] = {own[q].x, own[q].y, own[q].z, own[q].w};
        for (int k = 0; k < 4; ++k) {
            ASSERT_EQ(c[k], w.w[k]) << "cuRAND, pair " << q << " word " << k;
            ASSERT_EQ(o[k], w.w[k]) << "pfr_stream_words on the device, pair " << q << " word " << k;
        }
    }
    cudaFree(da);
    cudaFree(ds);
    cudaFree(dcur);
    cudaFree(down);
#endif
}

// N not a multiple of the block size, 100 rounds x 10 steps: states identical after every round;
// Phi, theta and the metrics the CPU engine's bits (the device's metrics: the same functions, the same
// order, on the same numbers).
TEST(Cuda, SameBitsAsTheCpuEngine)
{
    REQUIRE_GPU();
    for (const GpuCase &c : cases("parity")) {
        SCOPED_TRACE(c.name);
        pfr_sim *cpu = make(c.kv, "cpu"), *gpu = make(c.kv, "cuda");
        ASSERT_TRUE(cpu && gpu);
        ASSERT_STREQ(pfr_sim_backend(gpu), "cuda");
        const Snapshot start = snap(cpu);
        std::vector<uint32_t> sc(cpu->N), sg(cpu->N);
        for (int r = 0; r < c.rounds; ++r) {
            ASSERT_EQ(pfr_sim_run(cpu, 1), PFR_OK) << pfr_sim_last_error(cpu);
            ASSERT_EQ(pfr_sim_run(gpu, 1), PFR_OK) << pfr_sim_last_error(gpu);
            ASSERT_EQ(pfr_sim_get_states(cpu, sc.data(), sc.size()), PFR_OK);
            ASSERT_EQ(pfr_sim_get_states(gpu, sg.data(), sg.size()), PFR_OK);
            ASSERT_EQ(sc, sg) << "round " << r;
        }
        expect_same(start, snap(cpu), snap(gpu), true);
        pfr_metrics mc, mg;
        pfr_sim_metrics_get(cpu, pfr_sim_metrics_count(cpu) - 1, &mc, sizeof mc);
        pfr_sim_metrics_get(gpu, pfr_sim_metrics_count(gpu) - 1, &mg, sizeof mg);
        EXPECT_EQ(mg.value_error, mc.value_error);
        EXPECT_EQ(mg.theta_norm, mc.theta_norm);
        EXPECT_EQ(mg.agent_steps, mc.agent_steps);
        pfr_sim_destroy(cpu);
        pfr_sim_destroy(gpu);
    }
}

TEST(Cuda, ChunkedRoundsMatchTheCpu)
{
    REQUIRE_GPU();
    for (const GpuCase &c : cases("chunked")) {
        SCOPED_TRACE(c.name);
        pfr_sim *cpu = make(c.kv, "cpu"), *gpu = make(c.kv, "cuda");
        run_and_compare(cpu, gpu, c.rounds, true);
        pfr_sim_destroy(cpu);
        pfr_sim_destroy(gpu);
    }
}

// The two local-step kernels (a thread per agent, a warp per agent) compute the same bits: the warp
// sums its dot products in pfr_dot's order and applies pfr_td_update element by element.
TEST(Cuda, WarpKernelEqualsThreadKernelBitForBit)
{
    REQUIRE_GPU();
    for (const GpuCase &c : cases("warp_vs_thread")) {
        SCOPED_TRACE(c.name);
        pfr_sim *t = make(c.kv + KV{{"cuda_kernel", "thread"}}, "cuda");
        pfr_sim *w = make(c.kv + KV{{"cuda_kernel", "warp"}}, "cuda");
        ASSERT_TRUE(t && w);
        ASSERT_EQ(pfr_sim_run(t, c.rounds), PFR_OK) << pfr_sim_last_error(t);
        ASSERT_EQ(pfr_sim_run(w, c.rounds), PFR_OK) << pfr_sim_last_error(w);
        Snapshot a = snap(t), b = snap(w);
        EXPECT_EQ(a.states, b.states);
        EXPECT_EQ(0, std::memcmp(a.phi.data(), b.phi.data(), a.phi.size() * sizeof(float))) << "Phi";
        EXPECT_EQ(0, std::memcmp(a.theta.data(), b.theta.data(), a.theta.size() * sizeof(float))) << "theta";
        pfr_sim_destroy(t);
        pfr_sim_destroy(w);
    }
}

// K = 1: a round is one step, so comparing after every round compares the chains at every one of
// 1000 steps (1037 agents, partial participation, both kernels); then Phi and theta bit for bit.
TEST(Cuda, StatesIdenticalAtEveryStep)
{
    REQUIRE_GPU();
    for (const GpuCase &c : cases("every_step")) {
        SCOPED_TRACE(c.name);
        pfr_sim *cpu = make(c.kv, "cpu"), *gpu = make(c.kv, "cuda");
        ASSERT_TRUE(cpu && gpu);
        const Snapshot start = snap(cpu);
        std::vector<uint32_t> sc(cpu->N), sg(cpu->N);
        for (int t = 0; t < c.rounds; ++t) {
            ASSERT_EQ(pfr_sim_run(cpu, 1), PFR_OK) << pfr_sim_last_error(cpu);
            ASSERT_EQ(pfr_sim_run(gpu, 1), PFR_OK) << pfr_sim_last_error(gpu);
            ASSERT_EQ(pfr_sim_get_states(cpu, sc.data(), sc.size()), PFR_OK);
            ASSERT_EQ(pfr_sim_get_states(gpu, sg.data(), sg.size()), PFR_OK);
            ASSERT_EQ(sc, sg) << "step " << t;
        }
        expect_same(start, snap(cpu), snap(gpu), true);
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
    for (const GpuCase &c : cases("graph")) {
        SCOPED_TRACE(c.name);
        pfr_sim *plain = make(c.kv, "cuda"), *graph = make(c.kv + KV{{"cuda_graph", "true"}}, "cuda");
        ASSERT_TRUE(plain && graph);
        for (int part = 0; part < 3; ++part) {
            ASSERT_EQ(pfr_sim_run(plain, c.rounds / 3), PFR_OK) << pfr_sim_last_error(plain);
            ASSERT_EQ(pfr_sim_run(graph, c.rounds / 3), PFR_OK) << pfr_sim_last_error(graph);
        }
        Snapshot a = snap(plain), b = snap(graph);
        EXPECT_EQ(a.states, b.states);
        EXPECT_EQ(0, std::memcmp(a.phi.data(), b.phi.data(), a.phi.size() * sizeof(float))) << "Phi";
        EXPECT_EQ(0, std::memcmp(a.theta.data(), b.theta.data(), a.theta.size() * sizeof(float))) << "theta";
        pfr_metrics ma, mb;
        pfr_sim_metrics_get(plain, pfr_sim_metrics_count(plain) - 1, &ma, sizeof ma);
        pfr_sim_metrics_get(graph, pfr_sim_metrics_count(graph) - 1, &mb, sizeof mb);
        EXPECT_EQ(ma.value_error, mb.value_error);
        EXPECT_EQ(ma.agent_steps, mb.agent_steps);
        pfr_sim_destroy(plain);
        pfr_sim_destroy(graph);
    }
}

// Federation as it happens: the same draws (the host's), the same states; Phi and theta bit for bit,
// within the parity tolerance where the private aggregation adds noise (the device's log, sin and cos
// may differ in the last bit).
TEST(Cuda, FederationMatchesTheCpu)
{
    REQUIRE_GPU();
    for (const GpuCase &c : cases("federation")) {
        SCOPED_TRACE(c.name);
        pfr_sim *cpu = make(c.kv, "cpu"), *gpu = make(c.kv, "cuda");
        run_and_compare(cpu, gpu, c.rounds, !noisy(c.kv));
        pfr_metrics mc, mg;
        pfr_sim_metrics_get(cpu, pfr_sim_metrics_count(cpu) - 1, &mc, sizeof mc);
        pfr_sim_metrics_get(gpu, pfr_sim_metrics_count(gpu) - 1, &mg, sizeof mg);
        EXPECT_EQ(mg.agent_steps, mc.agent_steps);
        EXPECT_EQ(mg.participants, mc.participants);
        pfr_sim_destroy(cpu);
        pfr_sim_destroy(gpu);
    }
}

// Control (DESIGN §12): trajectories depend on Q, so parity is exact only while Phi and theta agree bit
// for bit; with the CPU engine's order on the device they do, shared Phi included: the same states,
// Phi and theta after every round.
TEST(Cuda, ControlMatchesTheCpu)
{
    REQUIRE_GPU();
    for (const GpuCase &c : cases("control")) {
        SCOPED_TRACE(c.name);
        pfr_sim *cpu = make(c.kv, "cpu"), *gpu = make(c.kv, "cuda");
        run_and_compare(cpu, gpu, c.rounds, true);
        pfr_sim_destroy(cpu);
        pfr_sim_destroy(gpu);
    }
}

// A run saved at round 10 and loaded again (the state uploaded by the engine's start) goes on bit
// for bit as the straight run on the device.
TEST(Cuda, ResumedRunEqualsStraightRunBitForBit)
{
    REQUIRE_GPU();
    std::vector<GpuCase> all = cases("resume"), fed = cases("resume_federation");
    all.insert(all.end(), fed.begin(), fed.end());
    for (const GpuCase &c : all) {
        SCOPED_TRACE(c.name);
        pfr_sim *straight = make(c.kv, "cuda"), *first = make(c.kv, "cuda");
        ASSERT_TRUE(straight && first);
        ASSERT_EQ(pfr_sim_run(straight, c.rounds), PFR_OK) << pfr_sim_last_error(straight);
        ASSERT_EQ(pfr_sim_run(first, c.rounds / 2), PFR_OK) << pfr_sim_last_error(first);
        const std::string path = pfr_test::temp_dir("pfedrl_cuda_") + "/resume.pfr";
        pfr_error err;
        ASSERT_EQ(pfr_sim_save(first, path.c_str(), &err), PFR_OK) << err.msg;
        pfr_sim_destroy(first);
        pfr_sim *second = nullptr;
        ASSERT_EQ(pfr_sim_load(path.c_str(), nullptr, 0, nullptr, nullptr, &second, &err), PFR_OK) << err.msg;
        ASSERT_EQ(pfr_sim_run(second, c.rounds - c.rounds / 2), PFR_OK) << pfr_sim_last_error(second);
        Snapshot a = snap(straight), b = snap(second);
        EXPECT_EQ(a.states, b.states);
        EXPECT_EQ(0, std::memcmp(a.phi.data(), b.phi.data(), a.phi.size() * sizeof(float))) << "Phi";
        EXPECT_EQ(0, std::memcmp(a.theta.data(), b.theta.data(), a.theta.size() * sizeof(float))) << "theta";
        pfr_sim_destroy(straight);
        pfr_sim_destroy(second);
        std::remove(path.c_str());
    }
}

// More than 4096 states: the overlays are searched (no slot map) and the sums take the sparse path
// (entries sorted by row with CUB, runs, rows). A grid world of 70 x 70 with K = 150, d = 16, and the
// bench grid world at 200 x 200 (16 types) with 4096 agents in chunks of 1024 and whole.
TEST(Cuda, LargeGridWorldsEqualTheCpuBitForBit)
{
    REQUIRE_GPU();
    for (const GpuCase &c : cases("large_grid")) {
        SCOPED_TRACE(c.name);
        pfr_sim *cpu = make(c.kv, "cpu"), *gpu = make(c.kv, "cuda");
        run_and_compare(cpu, gpu, c.rounds, true);
        pfr_sim_destroy(cpu);
        pfr_sim_destroy(gpu);
    }
}

// The device aggregation (block sums, blocks and chunks in order) against the mean of
// every participant's Phi_i computed here in long double, after one round of PFedTD-Rep: one chunk
// and several, the thread and the warp kernel, with and without orthonormalization (then the exact
// mean is orthonormalized on the host, as the CPU engine does). Each agent's Phi_i comes from the
// device round run on the host, which tests/test_cuda_logic.cc shows equals the kernels bit for bit.
TEST(Cuda, AverageWithinOnePartInAMillionOfTheExactMean)
{
    REQUIRE_GPU();
    for (const GpuCase &c : cases("average")) {
        SCOPED_TRACE(c.name);
        pfr_sim *ref = make(c.kv, "cpu"), *gpu = make(c.kv, "cuda");
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
            pfr_agent_round(&a, i, d, nullptr);
            if (!took[i])
                continue;
            ++participants;
            for (int q = 0; q < count[0]; ++q)
                for (int k = 0; k < d; ++k)
                    sum[(size_t)rows[q] * d + k] +=
                        (long double)vals[(size_t)q * d + k] - (long double)ref->phi[(size_t)rows[q] * d + k];
        }
        ASSERT_GT(participants, 0);
        std::vector<float> exact((size_t)S * d), got((size_t)S * d);
        for (size_t e = 0; e < exact.size(); ++e)
            exact[e] = (float)((long double)ref->phi[e] + sum[e] / (long double)participants);
        if (ref->cfg.orthonormalize) {
            ASSERT_EQ(pfr_orthonormalize_host(exact.data(), S, d, nullptr, 0, 1), PFR_OK);
        }
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
    const GpuCase c = cases("diverging")[0];
    pfr_sim *cpu = make(c.kv, "cpu"), *gpu = make(c.kv, "cuda");
    ASSERT_TRUE(cpu && gpu);
    EXPECT_EQ(pfr_sim_run(cpu, c.rounds), PFR_ERR_NUMERIC);
    EXPECT_EQ(pfr_sim_run(gpu, c.rounds), PFR_ERR_NUMERIC);
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
    if (pfr_test::gpu_present()) {
        GTEST_SKIP() << "a device is present";
    }
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
