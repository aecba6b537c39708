// Algorithms on the CPU engine: convergence, personalization, determinism, orthonormalization.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine.h"
#include "tests/cpu_restart.h"
#include "tests/test_sim.h"

namespace {

using pfr_test::Overrides;
using pfr_test::config_from;

struct Sim {
    pfr_sim *s = nullptr;
    explicit Sim(const Overrides &o) : s(pfr_test::make_sim(o)) {}
    ~Sim() { pfr_sim_destroy(s); }
    void run(int64_t rounds) { ASSERT_EQ(pfr_sim_run(s, rounds), PFR_OK) << pfr_sim_last_error(s); }
    pfr_metrics first() const
    {
        pfr_metrics m;
        pfr_sim_metrics_get(s, 0, &m, sizeof m);
        return m;
    }
    pfr_metrics last() const
    {
        pfr_metrics m;
        pfr_sim_metrics_get(s, pfr_sim_metrics_count(s) - 1, &m, sizeof m);
        return m;
    }
};

// The heterogeneous cliff walk of the main example, small enough for a test.
Overrides cliff(const std::string &alg)
{
    return {{"env.kind", "cliffwalk"}, {"env.types", "4"},  {"env.slip_max", "0.3"}, {"env.wind_max", "0.2"},
            {"env.reward_spread", "0.2"}, {"agents", "256"}, {"dim", "8"},           {"local_steps", "10"},
            {"alpha", "0.2"},             {"beta", "0.1"},   {"gamma", "0.9"},       {"algorithm", alg},
            {"eval_every", "50"},         {"orthonormalize", "true"}};
}

TEST(Algorithms, LocalTdTabularConvergesToExactValue)
{
    // Decaying steps alpha_t = 0.2 / (1 + t/100)^0.6 over 10^5 steps per agent. Each agent is
    // within a few percent (its own sampling noise); the mean over 64 independent agents is within 1%.
    Sim sim({{"env.kind", "randomwalk"}, {"env.states", "5"}, {"algorithm", "local_td"}, {"dim", "5"},
             {"agents", "64"}, {"local_steps", "100"}, {"alpha", "0.2"}, {"schedule.a", "0.6"}, {"schedule.tau", "100"},
             {"gamma", "0.9"}, {"eval_every", "1000"}});
    sim.run(1000);
    std::vector<double> V(5), mean(5, 0.0);
    ASSERT_EQ(pfr_sim_get_ground_truth(sim.s, 0, V.data(), nullptr, 5), PFR_OK);
    for (int64_t i = 0; i < 64; ++i) {
        float th[5];
        ASSERT_EQ(pfr_sim_get_theta(sim.s, i, th, 5), PFR_OK); // tabular: theta_i is the value estimate
        for (int s = 0; s < 5; ++s) {
            EXPECT_NEAR(th[s], V[s], 0.1 * std::fabs(V[s])) << "agent " << i << " state " << s;
            mean[s] += th[s] / 64.0;
        }
    }
    for (int s = 0; s < 5; ++s)
        EXPECT_NEAR(mean[s], V[s], 0.01 * std::fabs(V[s])) << "state " << s;
    EXPECT_LT(sim.last().value_error, 1e-3);
}

TEST(Algorithms, PersonalizationWinsOnHeterogeneousCliffwalk)
{
    std::map<std::string, double> final_err;
    for (const char *alg : {"pfedtd_rep", "fedavg_rep", "fedtd"}) {
        Sim sim(cliff(alg));
        sim.run(300);
        final_err[alg] = sim.last().value_error;
        if (std::string(alg) == "pfedtd_rep") {
            EXPECT_LE(sim.last().value_error, 0.1 * sim.first().value_error)
                << "start " << sim.first().value_error << " end " << sim.last().value_error;
            EXPECT_LT(sim.last().td_fixed_point_error, 0.1);
        }
    }
    EXPECT_LT(final_err["pfedtd_rep"], final_err["fedavg_rep"]);
    EXPECT_LT(final_err["pfedtd_rep"], final_err["fedtd"]);
}

TEST(Algorithms, SingleTypeCollaborativeAlgorithmsAgree)
{
    // One environment type: personalization has nothing to add, so pfedtd_rep, fedavg_rep and
    // tabular fedtd must all find the same value function (compared in the mu-norm).
    std::map<std::string, std::vector<double>> values;
    std::vector<double> V(7), mu(7);
    for (const char *alg : {"pfedtd_rep", "fedavg_rep", "fedtd"}) {
        Overrides o = {{"env.kind", "randomwalk"}, {"env.states", "7"}, {"env.types", "1"}, {"agents", "128"},
                       {"dim", "7"}, {"local_steps", "10"}, {"alpha", "0.2"}, {"beta", "0.1"},
                       {"schedule.a", "0.6"}, {"schedule.b", "0.8"}, {"schedule.tau", "100"}, {"gamma", "0.9"},
                       {"algorithm", alg}, {"eval_every", "1000"}, {"orthonormalize", "true"}};
        Sim sim(o);
        sim.run(3000);
        ASSERT_EQ(pfr_sim_get_ground_truth(sim.s, 0, V.data(), mu.data(), 7), PFR_OK);
        std::vector<float> phi(49);
        float th[7];
        ASSERT_EQ(pfr_sim_get_phi(sim.s, phi.data(), 49), PFR_OK);
        std::vector<double> v(7, 0.0);
        for (int64_t i = 0; i < 128; ++i) { // the agents' mean value function
            ASSERT_EQ(pfr_sim_get_theta(sim.s, i, th, 7), PFR_OK);
            for (int s = 0; s < 7; ++s)
                for (int j = 0; j < 7; ++j)
                    v[s] += phi[s * 7 + j] * th[j] / 128.0;
        }
        values[alg] = v;
        EXPECT_LT(sim.last().value_error, 0.02) << alg;
    }
    auto rel = [&](const std::vector<double> &a, const std::vector<double> &b) {
        double num = 0, den = 0;
        for (int s = 0; s < 7; ++s) {
            num += mu[s] * (a[s] - b[s]) * (a[s] - b[s]);
            den += mu[s] * b[s] * b[s];
        }
        return std::sqrt(num / den);
    };
    EXPECT_LT(rel(values["fedtd"], V), 0.02);
    EXPECT_LT(rel(values["pfedtd_rep"], values["fedtd"]), 0.05);
    EXPECT_LT(rel(values["fedavg_rep"], values["fedtd"]), 0.05);
    EXPECT_LT(rel(values["pfedtd_rep"], values["fedavg_rep"]), 0.05);
}

struct Snapshot {
    std::vector<float> phi, theta;
    std::vector<uint32_t> state;
    std::vector<pfr_metrics> hist;
};

// Phi, every theta_i and every state of a simulation.
Snapshot capture(const Sim &sim)
{
    Snapshot s;
    const int S = pfr_sim_num_states(sim.s), d = pfr_sim_config(sim.s)->dim;
    const int64_t N = pfr_sim_config(sim.s)->agents;
    s.phi.resize((size_t)S * d);
    s.theta.resize((size_t)N * d);
    s.state.resize((size_t)N);
    EXPECT_EQ(pfr_sim_get_phi(sim.s, s.phi.data(), s.phi.size()), PFR_OK);
    for (int64_t i = 0; i < N; ++i)
        EXPECT_EQ(pfr_sim_get_theta(sim.s, i, s.theta.data() + i * d, d), PFR_OK);
    EXPECT_EQ(pfr_sim_get_states(sim.s, s.state.data(), s.state.size()), PFR_OK);
    return s;
}

// The same bits: states, Phi and theta.
void expect_same_bits(const Snapshot &a, const Snapshot &b)
{
    EXPECT_EQ(a.state, b.state);
    EXPECT_EQ(0, std::memcmp(a.phi.data(), b.phi.data(), a.phi.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(a.theta.data(), b.theta.data(), a.theta.size() * sizeof(float)));
}

Snapshot snapshot(Overrides o, int threads, int rounds)
{
    o["threads"] = std::to_string(threads);
    Sim sim(o);
    sim.run(rounds);
    Snapshot s = capture(sim);
    for (size_t i = 0; i < pfr_sim_metrics_count(sim.s); ++i) {
        pfr_metrics m;
        pfr_sim_metrics_get(sim.s, i, &m, sizeof m);
        s.hist.push_back(m);
    }
    return s;
}

TEST(Determinism, BitIdenticalForAnyThreadCount)
{
    for (const char *alg : {"pfedtd_rep", "fedavg_rep", "fedtd", "local_rep", "local_td"}) {
        Overrides o = cliff(alg);
        o["agents"] = "1037"; // not a multiple of the agent block
        o["participation"] = "0.7";
        o["eval_every"] = "10";
        Snapshot a = snapshot(o, 1, 30), b = snapshot(o, 2, 30), c = snapshot(o, 3, 30);
        ASSERT_EQ(a.phi.size(), b.phi.size());
        EXPECT_EQ(0, std::memcmp(a.phi.data(), b.phi.data(), a.phi.size() * sizeof(float))) << alg;
        EXPECT_EQ(0, std::memcmp(a.phi.data(), c.phi.data(), a.phi.size() * sizeof(float))) << alg;
        EXPECT_EQ(0, std::memcmp(a.theta.data(), b.theta.data(), a.theta.size() * sizeof(float))) << alg;
        EXPECT_EQ(0, std::memcmp(a.theta.data(), c.theta.data(), a.theta.size() * sizeof(float))) << alg;
        EXPECT_EQ(a.state, b.state) << alg;
        EXPECT_EQ(a.state, c.state) << alg;
        ASSERT_EQ(a.hist.size(), c.hist.size());
        for (size_t i = 0; i < a.hist.size(); ++i) {
            EXPECT_EQ(a.hist[i].value_error, c.hist[i].value_error) << alg;
            EXPECT_EQ(a.hist[i].agent_steps, c.hist[i].agent_steps) << alg;
        }
    }
}

// The CPU engine's kernels (16 agents at once with AVX-512 and with AVX2, each where the CPU has it;
// one agent vectorized along d; scalar) compute the same bits on one configuration: the same Philox
// words, search, summation order and roundings, agent by agent. A 16-agent kernel asked for must be
// the one that ran wherever the step applies (d = 4, 8, 16; d = 32 only at large S).
static void expect_every_cpu_path_the_same(const Overrides &o, int rounds)
{
    std::vector<int> paths = {PFR_CPU_PATH_SCALAR, PFR_CPU_PATH_AUTO, PFR_CPU_PATH_PER_AGENT};
    for (int k : pfr_test::group_kernels())
        paths.push_back(k);
    const int d = std::stoi(o.at("dim"));
    std::vector<Snapshot> snap(paths.size());
    for (size_t p = 0; p < paths.size(); ++p) {
        Sim sim(o);
        pfr_test::restart_cpu_engine(sim.s, paths[p]);
        const int ran = pfr_engine_cpu_kernel(sim.s);
        if (paths[p] == PFR_CPU_PATH_SCALAR || paths[p] == PFR_CPU_PATH_PER_AGENT ||
            (paths[p] != PFR_CPU_PATH_AUTO && d != 5 && d != 32)) {
            EXPECT_EQ(ran, paths[p]) << "kernel " << pfr_cpu_kernel_name((pfr_cpu_kernel)paths[p]) << " asked, "
                                     << pfr_cpu_kernel_name((pfr_cpu_kernel)ran) << " ran";
        }
        sim.run(rounds);
        snap[p] = capture(sim);
    }
    for (size_t p = 1; p < paths.size(); ++p) {
        SCOPED_TRACE(o.at("algorithm") + " d=" + o.at("dim") + " kernel " +
                     pfr_cpu_kernel_name((pfr_cpu_kernel)paths[p]));
        expect_same_bits(snap[0], snap[p]);
    }
}

// d = 4, 8, 16 take the 16-agent path where the CPU has AVX-512; d = 5 and 32 do not (at S = 48).
TEST(Determinism, EveryCpuPathGivesTheSameBits)
{
    for (const char *dim : {"8", "4", "16", "5", "32"})
        for (const char *alg : {"pfedtd_rep", "fedavg_rep", "fedtd", "local_rep", "local_td"}) {
            Overrides o = cliff(alg);
            o["agents"] = "1037";
            o["participation"] = "0.7";
            o["dim"] = dim;
            o["threads"] = "2";
            expect_every_cpu_path_the_same(o, 20);
        }
}

// Where the chains outgrow 32-bit gather indices (posed here by a test knob) the AVX-512 16-agent step
// finds each lane's rows in scalar code and shares only the TD math (group_td): the same bits.
TEST(Determinism, SixteenAgentStepWithoutGathersGivesTheSameBits)
{
    const std::vector<int> k = pfr_test::group_kernels();
    if (std::find(k.begin(), k.end(), PFR_CPU_PATH_AVX512) == k.end())
        GTEST_SKIP() << "no AVX-512F: the step's form without gathers is AVX-512's";
    for (const char *dim : {"4", "8", "16"})
        for (const char *alg : {"pfedtd_rep", "local_rep", "fedtd"}) {
            Overrides o = cliff(alg);
            o["agents"] = "1037";
            o["participation"] = "0.7";
            o["dim"] = dim;
            o["threads"] = "2";
            Snapshot snap[2];
            for (int p = 0; p < 2; ++p) {
                Sim sim(o);
                sim.s->cpu.no_gather = p;
                pfr_test::restart_cpu_engine(sim.s, p ? PFR_CPU_PATH_AVX512 : PFR_CPU_PATH_SCALAR);
                EXPECT_EQ(pfr_engine_cpu_kernel(sim.s), p ? PFR_CPU_PATH_AVX512 : PFR_CPU_PATH_SCALAR);
                sim.run(20);
                snap[p] = capture(sim);
            }
            SCOPED_TRACE(std::string(alg) + " d=" + dim);
            expect_same_bits(snap[0], snap[1]);
        }
}

// A grid world whose chains lie beyond L2 (the 16-agent step prefetches a step ahead; d = 32 takes it
// too) and whose goals restart anywhere (rows of S = 1,600 entries: the entries' next-row lengths
// escape to the row pointers). 260 local steps: overlays of 255 rows or more find their rows through
// hash tables instead of slot maps.
TEST(Determinism, EveryCpuPathGivesTheSameBitsOnALargeGridWorld)
{
    for (const char *steps : {"12", "260"})
    for (const char *dim : {"8", "32"})
        for (const char *alg : {"pfedtd_rep", "fedavg_rep"}) {
            Overrides o = {{"env.kind", "gridworld"}, {"env.width", "40"}, {"env.height", "40"},
                           {"env.types", "16"},       {"agents", "523"},   {"dim", dim},
                           {"local_steps", steps},    {"alpha", "0.1"},    {"beta", "0.05"},
                           {"gamma", "0.95"},         {"algorithm", alg},  {"participation", "0.8"},
                           {"eval_every", "1000"},    {"orthonormalize", "true"}, {"threads", "2"}};
            expect_every_cpu_path_the_same(o, 6);
        }
}

// The agents' overlays find their rows by the 16-agent step's slot scan (up to 32 local steps), through
// slot maps (up to 16,384 states, or where the scan does not apply) or through hash tables: each forced
// here against the scalar path, with stale Phi (a delay for all, or one drawn per agent) and weighted
// folds, partial groups (523 agents), K up to the scan's limit, and d = 4, 8, 16 (the scan's widths).
TEST(Determinism, EveryOverlayLookupGivesTheSameBits)
{
    for (const char *steps : {"1", "12", "32"})
        for (const char *dim : {"4", "8", "16"})
            for (const char *delay : {"federation.delay", "federation.max_delay"}) {
                Overrides o = {{"env.kind", "gridworld"}, {"env.width", "40"},     {"env.height", "40"},
                               {"env.types", "16"},       {"agents", "523"},       {"dim", dim},
                               {"local_steps", steps},    {"alpha", "0.1"},        {"beta", "0.05"},
                               {"algorithm", "pfedtd_rep"}, {"participation", "0.8"}, {"eval_every", "1000"},
                               {delay, "2"}, {"threads", "2"}};
                std::vector<int> path = {PFR_CPU_PATH_SCALAR}, overlay = {PFR_CPU_OVERLAY_AUTO};
                for (int k : pfr_test::group_kernels()) // and the per-agent step's on an older CPU (AUTO)
                    for (int ov : {PFR_CPU_OVERLAY_SCAN, PFR_CPU_OVERLAY_HASH, PFR_CPU_OVERLAY_MAP}) {
                        path.push_back(k);
                        overlay.push_back(ov);
                    }
                for (int ov : {PFR_CPU_OVERLAY_HASH, PFR_CPU_OVERLAY_MAP}) {
                    path.push_back(PFR_CPU_PATH_PER_AGENT);
                    overlay.push_back(ov);
                }
                std::vector<Snapshot> snap(path.size());
                for (size_t p = 0; p < path.size(); ++p) {
                    Sim sim(o);
                    pfr_test::restart_cpu_engine(sim.s, path[p], 0, overlay[p]);
                    sim.run(4);
                    snap[p] = capture(sim);
                }
                SCOPED_TRACE(std::string("K=") + steps + " d=" + dim + " " + delay + "=2");
                for (size_t p = 1; p < path.size(); ++p)
                    expect_same_bits(snap[0], snap[p]);
            }
}

// Where the tables lie beyond L2 the 16-agent step keeps each agent's row (first entry, length) for
// its next round; states set between rounds must be stepped from their own rows, not from that cache.
TEST(Determinism, StatesSetBetweenRoundsAreSteppedFromTheirOwnRows)
{
    Overrides o = {{"env.kind", "gridworld"}, {"env.width", "40"}, {"env.height", "40"},
                   {"env.types", "16"},       {"agents", "523"},   {"dim", "8"},
                   {"local_steps", "12"},     {"alpha", "0.1"},    {"beta", "0.05"},
                   {"algorithm", "pfedtd_rep"}, {"participation", "0.8"}, {"eval_every", "1000"},
                   {"threads", "2"}};
    Snapshot snap[2];
    for (int p = 0; p < 2; ++p) {
        Sim sim(o);
        if (p == 1)
            pfr_test::restart_cpu_engine(sim.s, PFR_CPU_PATH_SCALAR);
        sim.run(3);
        std::vector<uint32_t> st(523), moved(523);
        ASSERT_EQ(PFR_OK, pfr_sim_get_states(sim.s, st.data(), st.size()));
        for (size_t i = 0; i < st.size(); ++i) // each agent moved to its neighbour's state
            moved[i] = st[(i + 1) % st.size()];
        ASSERT_EQ(PFR_OK, pfr_sim_set_states(sim.s, moved.data(), moved.size()));
        sim.run(3);
        snap[p] = capture(sim);
    }
    expect_same_bits(snap[0], snap[1]);
}

// Rounds merged in waves of a few blocks (what a large N does, where the block parts of all blocks
// would not fit the wave budget) give the bits of one wave, on any thread count.
TEST(Determinism, WavesGiveTheBitsOfOneWave)
{
    for (const char *alg : {"pfedtd_rep", "fedavg_rep"})
        for (const char *env : {"cliffwalk", "gridworld"}) {
            Overrides o = cliff(alg);
            o["env.kind"] = env;
            o["agents"] = "1337";
            o["participation"] = "0.8";
            Snapshot ref;
            for (int wave : {0, 1, 2}) // 0: one wave of all 6 blocks
                for (const char *threads : {"1", "2"}) {
                    o["threads"] = threads;
                    Sim sim(o);
                    pfr_test::restart_cpu_engine(sim.s, PFR_CPU_PATH_AUTO, wave);
                    sim.run(7);
                    const Snapshot snap = capture(sim);
                    if (wave == 0 && threads[0] == '1') {
                        ref = snap;
                        continue;
                    }
                    SCOPED_TRACE(std::string(alg) + " " + env + " wave " + std::to_string(wave) + " threads " + threads);
                    expect_same_bits(ref, snap);
                }
        }
}

// The block parts hold a row's sums as floats where each is exactly one (the merge then reads half
// the bytes at large S): forced on, one wave or waves of two blocks, 1 or 2 threads, the bits of
// parts held as doubles. The cliff walk's rows sum many agents' changes (some sums are not floats:
// those rows stay doubles), the grid world's mostly one agent's.
TEST(Determinism, NarrowBlockPartsGiveTheBitsOfWideOnes)
{
    for (const char *env : {"cliffwalk", "gridworld"}) {
        Overrides o = cliff("pfedtd_rep");
        o["env.kind"] = env;
        o["agents"] = "1337";
        o["participation"] = "0.8";
        o["local_steps"] = "12";
        o["threads"] = "1";
        Snapshot ref;
        {
            Sim sim(o);
            pfr_test::restart_cpu_engine(sim.s, PFR_CPU_PATH_AUTO, 0, PFR_CPU_OVERLAY_AUTO, PFR_CPU_CHAINS_AUTO,
                                         PFR_CPU_PARTS_WIDE);
            sim.run(7);
            int64_t narrow = 0, wide = 0;
            pfr_engine_cpu_part_rows(sim.s, &narrow, &wide);
            EXPECT_EQ(narrow, 0);
            EXPECT_GT(wide, 0);
            ref = capture(sim);
        }
        for (int wave : {0, 2})
            for (const char *threads : {"1", "2"}) {
                o["threads"] = threads;
                Sim sim(o);
                pfr_test::restart_cpu_engine(sim.s, PFR_CPU_PATH_AUTO, wave, PFR_CPU_OVERLAY_AUTO,
                                             PFR_CPU_CHAINS_AUTO, PFR_CPU_PARTS_NARROW);
                sim.run(7);
                int64_t narrow = 0, wide = 0;
                pfr_engine_cpu_part_rows(sim.s, &narrow, &wide);
                SCOPED_TRACE(std::string(env) + " wave " + std::to_string(wave) + " threads " + threads);
                EXPECT_GT(narrow, 0);
                if (std::string(env) == "cliffwalk") { // both kinds of row in one part
                    EXPECT_GT(wide, 0);
                }
                expect_same_bits(ref, capture(sim));
            }
    }
}

TEST(Determinism, SeedMatters)
{
    Overrides o = cliff("pfedtd_rep");
    Snapshot a = snapshot(o, 2, 5);
    o["seed"] = "1";
    Snapshot b = snapshot(o, 2, 5);
    EXPECT_NE(a.state, b.state);
    EXPECT_NE(0, std::memcmp(a.phi.data(), b.phi.data(), a.phi.size() * sizeof(float)));
}

TEST(Participation, FractionOfAgentsTakesPart)
{
    Overrides o = cliff("pfedtd_rep");
    o["agents"] = "2000";
    o["participation"] = "0.3";
    Sim sim(o);
    sim.run(20);
    const double frac = (double)sim.last().agent_steps / (2000.0 * 10 * 20);
    EXPECT_NEAR(frac, 0.3, 0.01); // 40000 Bernoulli draws: sd 0.0023
    // those who sat out kept their chain state: with participation, fewer agents moved in round 1
}

TEST(Participation, NonParticipantsDoNotMove)
{
    Overrides o = cliff("local_td");
    o["participation"] = "0.5";
    o["agents"] = "512";
    Overrides o_all = o;
    o_all["participation"] = "1";
    Snapshot part = snapshot(o, 1, 1), all = snapshot(o_all, 1, 0);
    size_t unchanged = 0;
    for (size_t i = 0; i < part.state.size(); ++i)
        unchanged += part.state[i] == all.state[i];
    // about half sat out (plus the few movers that came back to their start state)
    EXPECT_GT(unchanged, 200u);
    EXPECT_LT(unchanged, 330u);
}

TEST(LocalRep, AgentsKeepTheirOwnRepresentation)
{
    Overrides o = cliff("local_rep");
    o["agents"] = "8";
    Sim sim(o);
    sim.run(20);
    std::vector<float> p0(48 * 8), p1(48 * 8);
    ASSERT_EQ(pfr_sim_get_agent_phi(sim.s, 0, p0.data(), p0.size()), PFR_OK);
    ASSERT_EQ(pfr_sim_get_agent_phi(sim.s, 1, p1.data(), p1.size()), PFR_OK);
    EXPECT_NE(0, std::memcmp(p0.data(), p1.data(), p0.size() * sizeof(float)));
}

TEST(Orthonormalize, KeepsEveryValueAndOrthonormalizes)
{
    const int S = 48, d = 8, n = 50;
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> phi(S * d), theta(n * d);
    for (auto &x : phi)
        x = nd(rng) * 3.0f;
    for (auto &x : theta)
        x = nd(rng);
    std::vector<double> before((size_t)n * S);
    for (int a = 0; a < n; ++a)
        for (int s = 0; s < S; ++s) {
            double v = 0;
            for (int j = 0; j < d; ++j)
                v += (double)phi[s * d + j] * theta[a * d + j];
            before[(size_t)a * S + s] = v;
        }
    ASSERT_EQ(pfr_orthonormalize_host(phi.data(), S, d, theta.data(), n, 2), PFR_OK);
    for (int i = 0; i < d; ++i)
        for (int j = 0; j < d; ++j) {
            double g = 0;
            for (int s = 0; s < S; ++s)
                g += (double)phi[s * d + i] * phi[s * d + j];
            EXPECT_NEAR(g, i == j ? (double)S / d : 0.0, 1e-4);
        }
    for (int a = 0; a < n; ++a)
        for (int s = 0; s < S; ++s) {
            double v = 0;
            for (int j = 0; j < d; ++j)
                v += (double)phi[s * d + j] * theta[a * d + j];
            EXPECT_NEAR(v, before[(size_t)a * S + s], 1e-5 * (1.0 + std::fabs(before[(size_t)a * S + s])));
        }
}

// The per-round Cholesky-QR (kernels/pfr_cholqr.h, both engines) and the start-up CGS2 compute the
// same thin QR (R with a positive diagonal): Q and R agree to double rounding before the float cast.
TEST(Orthonormalize, CholeskyQrEqualsGramSchmidt)
{
    for (int d : {1, 3, 8, 17, 64}) {
        SCOPED_TRACE(d);
        const int S = 2 * d + 37;
        std::mt19937 rng(11 + d);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> a((size_t)S * d), b;
        for (auto &x : a)
            x = nd(rng);
        b = a;
        std::vector<double> Ra((size_t)d * d), Rb((size_t)d * d);
        ASSERT_EQ(pfr_orthonormalize_factor(a.data(), S, d, Ra.data()), PFR_OK);
        ASSERT_EQ(pfr_cholqr_factor(b.data(), S, d, Rb.data()), PFR_OK);
        for (size_t e = 0; e < a.size(); ++e)
            ASSERT_NEAR(a[e], b[e], 1e-5 * (1.0 + std::fabs(a[e]))) << e;
        for (int i = 0; i < d; ++i)
            for (int j = 0; j < d; ++j) {
                if (j < i) {
                    ASSERT_EQ(Rb[(size_t)i * d + j], 0.0);
                }
                ASSERT_NEAR(Ra[(size_t)i * d + j], Rb[(size_t)i * d + j], 1e-10 * (1.0 + std::fabs(Ra[(size_t)i * d + j])));
            }
    }
}

TEST(Orthonormalize, CholeskyQrReportsRankLoss)
{
    const int S = 20, d = 4;
    std::vector<float> phi((size_t)S * d);
    for (int s = 0; s < S; ++s)
        for (int j = 0; j < d; ++j)
            phi[(size_t)s * d + j] = j == 3 ? 2.0f * phi[(size_t)s * d + 1] : (float)((s * 7 + j * 3) % 11) - 5.0f;
    std::vector<double> R((size_t)d * d);
    EXPECT_EQ(pfr_cholqr_factor(phi.data(), S, d, R.data()), PFR_ERR_NUMERIC);
    std::vector<float> nan_phi((size_t)S * d, NAN);
    EXPECT_EQ(pfr_cholqr_factor(nan_phi.data(), S, d, R.data()), PFR_ERR_NUMERIC);
}

// A run whose Phi blows up stops with an error that names the round, not with NaN results.
TEST(Orthonormalize, DivergingRunFailsWithTheRound)
{
    Overrides o = cliff("pfedtd_rep");
    o["alpha"] = "1000";
    o["beta"] = "1000";
    Sim sim(o);
    const pfr_status st = pfr_sim_run(sim.s, 50);
    EXPECT_EQ(st, PFR_ERR_NUMERIC);
    EXPECT_NE(std::string(pfr_sim_last_error(sim.s)).find("orthonormalization failed in round"), std::string::npos)
        << pfr_sim_last_error(sim.s);
}

TEST(Orthonormalize, RunKeepsPhiOrthonormal)
{
    Sim sim(cliff("pfedtd_rep"));
    sim.run(10);
    std::vector<float> phi(48 * 8);
    ASSERT_EQ(pfr_sim_get_phi(sim.s, phi.data(), phi.size()), PFR_OK);
    for (int i = 0; i < 8; ++i) {
        double g = 0;
        for (int s = 0; s < 48; ++s)
            g += (double)phi[s * 8 + i] * phi[s * 8 + i];
        EXPECT_NEAR(g, 6.0, 1e-4);
    }
}

TEST(Schedule, DecayingStepsStillLearnAndDiffer)
{
    Overrides o = cliff("pfedtd_rep");
    Snapshot constant = snapshot(o, 2, 20);
    o["schedule.a"] = "0.6";
    o["schedule.b"] = "0.9";
    o["schedule.tau"] = "20";
    Snapshot decaying = snapshot(o, 2, 20);
    EXPECT_NE(0, std::memcmp(constant.theta.data(), decaying.theta.data(), constant.theta.size() * sizeof(float)));
    EXPECT_EQ(constant.state, decaying.state); // step sizes never change the chains
    EXPECT_LT(decaying.hist.back().value_error, decaying.hist.front().value_error);
}

TEST(Run, EvaluatesOnScheduleAndCountsSteps)
{
    Overrides o = cliff("pfedtd_rep");
    o["eval_every"] = "7";
    Sim sim(o);
    sim.run(20);
    ASSERT_EQ(pfr_sim_metrics_count(sim.s), 4u); // rounds 0, 7, 14, and the last (20)
    pfr_metrics m;
    pfr_sim_metrics_get(sim.s, 3, &m, sizeof m);
    EXPECT_EQ(m.round, 20);
    EXPECT_EQ(m.agent_steps, 256u * 10u * 20u);
    EXPECT_GT(m.agent_steps_per_sec, 0);
    sim.run(1); // continuing a run appends
    EXPECT_EQ(pfr_sim_round(sim.s), 21);
    pfr_sim_metrics_get(sim.s, pfr_sim_metrics_count(sim.s) - 1, &m, sizeof m);
    EXPECT_EQ(m.round, 21);
}

TEST(Api, ErrorsAreReportedNotFatal)
{
    pfr_sim_destroy(nullptr);
    pfr_config c = config_from({{"dim", "60"}});
    pfr_sim *s = nullptr;
    pfr_error err;
    EXPECT_EQ(pfr_sim_create(&c, &s, &err), PFR_ERR_CONFIG);
    EXPECT_EQ(s, nullptr);
    EXPECT_NE(std::string(err.msg).find("dim=60 exceeds the number of states S=48"), std::string::npos) << err.msg;
    Sim sim(cliff("pfedtd_rep"));
    float small[3];
    EXPECT_EQ(pfr_sim_get_phi(sim.s, small, 3), PFR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(pfr_sim_last_error(sim.s)).find("3 elements"), std::string::npos);
    EXPECT_EQ(pfr_sim_get_theta(sim.s, 9999, small, 3), PFR_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(pfr_sim_run_ex(sim.s, 1, 2u), PFR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(pfr_sim_last_error(sim.s)).find("allowed: 0 or PFR_RUN_EVALUATE_END"), std::string::npos);
}

TEST(Api, SetUpReportsItsStagesInOrder)
{
    struct Seen {
        std::vector<std::string> stages;
        std::vector<double> fractions;
    } seen;
    auto fn = [](void *user, const char *stage, double fraction) {
        auto *s = static_cast<Seen *>(user);
        s->stages.push_back(stage);
        s->fractions.push_back(fraction);
    };
    pfr_config c = config_from(cliff("pfedtd_rep"));
    pfr_sim *s = nullptr;
    pfr_error err;
    ASSERT_EQ(pfr_sim_create_ex(&c, fn, &seen, &s, &err), PFR_OK) << err.msg;
    pfr_sim_destroy(s);
    const std::vector<std::string> order = {"environment", "ground truth", "best rank-d error",
                                            "initial representation", "engine", "ready"};
    size_t at = 0; // stages appear in this order, each at least once, fractions in [0, 1]
    std::string prev;
    double prev_f = 0;
    for (size_t i = 0; i < seen.stages.size(); ++i) {
        EXPECT_GE(seen.fractions[i], 0.0);
        EXPECT_LE(seen.fractions[i], 1.0);
        if (seen.stages[i] != prev) {
            while (at < order.size() && order[at] != seen.stages[i])
                ++at;
            ASSERT_LT(at, order.size()) << "stage out of order: " << seen.stages[i];
            prev = seen.stages[i];
        } else {
            EXPECT_GE(seen.fractions[i], prev_f) << "fraction went back in " << prev;
        }
        prev_f = seen.fractions[i];
    }
    for (const auto &st : order)
        EXPECT_NE(std::find(seen.stages.begin(), seen.stages.end(), st), seen.stages.end()) << st;
    ASSERT_FALSE(seen.stages.empty());
    EXPECT_EQ(seen.stages.back(), "ready");
    EXPECT_EQ(seen.fractions.back(), 1.0);
    // the ground truth reports every type done
    double truth_last = -1;
    for (size_t i = 0; i < seen.stages.size(); ++i)
        if (seen.stages[i] == "ground truth")
            truth_last = seen.fractions[i];
    EXPECT_EQ(truth_last, 1.0);
}

// A set-up its caller stops (here: its progress callback, as a Python Ctrl-C does from another
// thread) ends at the next stage with PFR_ERR_INTERRUPTED and no handle: at every stage a stop can
// come, types of the ground truth not yet started included.
TEST(Api, ASetUpStopsAtTheNextStageWhenAsked)
{
    struct Ask {
        std::string at;
        double after = 0; // the ground truth: stop once this fraction of types is done
        volatile int stop = 0;
        std::vector<std::string> seen;
    };
    auto fn = [](void *user, const char *stage, double fraction) {
        auto *a = static_cast<Ask *>(user);
        a->seen.push_back(stage);
        if (a->at == stage && fraction >= a->after)
            a->stop = 1;
    };
    pfr_config c = config_from(cliff("pfedtd_rep"));
    ASSERT_EQ(pfr_config_set(&c, "threads", "1", nullptr), PFR_OK);
    for (const char *stage : {"environment", "ground truth", "best rank-d error", "initial representation", "engine"}) {
        SCOPED_TRACE(stage);
        Ask a;
        a.at = stage;
        a.after = std::string(stage) == "ground truth" ? 0.25 : 0.0; // one of the 4 types solved
        pfr_sim *s = reinterpret_cast<pfr_sim *>(&a); // must come back NULL
        pfr_error err;
        EXPECT_EQ(pfr_sim_create_stoppable(&c, fn, &a, &a.stop, &s, &err), PFR_ERR_INTERRUPTED);
        EXPECT_EQ(s, nullptr);
        EXPECT_NE(std::string(err.msg).find("set-up stopped"), std::string::npos) << err.msg;
        EXPECT_EQ(std::count(a.seen.begin(), a.seen.end(), "ready"), 0);
        EXPECT_EQ(a.seen.back(), stage); // nothing after the stage that asked
        if (a.at == "ground truth") {
            EXPECT_EQ(std::count(a.seen.begin(), a.seen.end(), "ground truth"), 2); // 0 done, then 1 of 4
        }
    }
    Ask never; // never asked: a whole set-up
    pfr_sim *s = nullptr;
    pfr_error err;
    ASSERT_EQ(pfr_sim_create_stoppable(&c, fn, &never, &never.stop, &s, &err), PFR_OK) << err.msg;
    pfr_sim_destroy(s);
}

} // namespace
