// Federation as it happens (host/sim/federation.c, the CPU engine's part in engine_cpu.c): availability,
// stragglers, stale Phi, clipping and noise, the privacy accountant, and the checkpoint of it all.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine.h"
#include "sim/federation.h"
#include "tests/test_sim.h"
#include "tests/test_temp.h"

namespace {

using pfr_test::Overrides;

struct Sim {
    pfr_sim *s = nullptr;
    explicit Sim(const Overrides &o) : s(pfr_test::make_sim(o)) {}
    ~Sim() { pfr_sim_destroy(s); }
    void run(int64_t rounds) { ASSERT_EQ(pfr_sim_run(s, rounds), PFR_OK) << pfr_sim_last_error(s); }
    std::vector<float> phi() const
    {
        std::vector<float> p((size_t)s->S * s->d);
        EXPECT_EQ(pfr_sim_get_phi(s, p.data(), p.size()), PFR_OK);
        return p;
    }
    std::vector<float> theta() const
    {
        std::vector<float> t((size_t)s->N * s->d);
        EXPECT_EQ(pfr_sim_get_thetas(s, t.data(), t.size()), PFR_OK);
        return t;
    }
    std::vector<uint32_t> states() const
    {
        std::vector<uint32_t> v((size_t)s->N);
        EXPECT_EQ(pfr_sim_get_states(s, v.data(), v.size()), PFR_OK);
        return v;
    }
    pfr_metrics metrics(size_t i) const
    {
        pfr_metrics m;
        EXPECT_EQ(pfr_sim_metrics_get(s, i, &m, sizeof m), PFR_OK);
        return m;
    }
};

// The heterogeneous cliff walk (as in test_algorithms.cc), 1037 agents: not a multiple of the block.
Overrides cliff(const std::string &alg)
{
    return {{"env.kind", "cliffwalk"}, {"env.types", "4"},   {"env.slip_max", "0.3"}, {"env.wind_max", "0.2"},
            {"env.reward_spread", "0.2"}, {"agents", "1037"}, {"dim", "8"},           {"local_steps", "10"},
            {"alpha", "0.2"},             {"beta", "0.1"},    {"gamma", "0.9"},       {"algorithm", alg},
            {"eval_every", "5"},          {"orthonormalize", "true"}, {"threads", "2"}};
}

bool same_bits(const std::vector<float> &a, const std::vector<float> &b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string write_trace(const std::vector<uint8_t> &v, int64_t rows, int64_t n, const char *descr = "|b1")
{
    const std::string path = pfr_test::temp_dir("pfedrl_fed") + "/trace.npy";
    const int64_t shape[2] = {rows, n};
    pfr_error err;
    EXPECT_EQ(pfr_npy_save(path.c_str(), v.data(), descr, 1, 2, shape, &err), PFR_OK) << err.msg;
    return path;
}

// Each mechanism at a value that changes nothing takes its own code path (per-agent steps and ages,
// no 16-agent step; the weighted fold; the noisy apply over every row) and must give today's bits.
TEST(Federation, NeutralSettingsReproduceTheBitsWithout)
{
    const std::vector<uint8_t> ones((size_t)3 * 1037, 1);
    const std::string trace = write_trace(ones, 3, 1037);
    for (const char *alg : {"pfedtd_rep", "fedavg_rep", "local_td", "fedtd_tabular"}) {
        for (const char *part : {"1", "0.7"}) {
            Overrides base = cliff(alg);
            base["participation"] = part;
            Sim a(base);
            a.run(12);
            std::vector<Overrides> variants;
            Overrides v = base;
            v["federation.availability_trace"] = trace; // everybody always available
            variants.push_back(v);
            v = base;
            v["federation.p_drop"] = "0"; // a chain that never drops anybody
            v["federation.p_return"] = "0.5";
            variants.push_back(v);
            if (std::string(alg) != "local_td") {
                v = base;
                v["federation.clip"] = "1e300"; // clipping that never bites
                variants.push_back(v);
                if (std::string(alg) != "fedavg_rep") {
                    v["federation.noise_multiplier"] = "0"; // (0: no noise; the key's neutral value)
                    v["federation.availability_trace"] = trace;
                    variants.push_back(v);
                }
            }
            for (size_t k = 0; k < variants.size(); ++k) {
                SCOPED_TRACE(std::string(alg) + " participation " + part + " variant " + std::to_string(k));
                Sim b(variants[k]);
                b.run(12);
                EXPECT_TRUE(same_bits(a.phi(), b.phi()));
                EXPECT_TRUE(same_bits(a.theta(), b.theta()));
                EXPECT_EQ(a.states(), b.states());
                EXPECT_EQ(a.metrics(3).agent_steps, b.metrics(3).agent_steps);
                EXPECT_EQ(a.metrics(3).participants, b.metrics(3).participants);
            }
        }
    }
}

// A trace is followed exactly: the agents it marks absent neither step nor change their theta, the
// others do, and the participants counted are its rows' sums.
TEST(Federation, AvailabilityTraceIsFollowedExactly)
{
    const int64_t N = 1037, R = 4;
    std::vector<uint8_t> tr((size_t)(R * N));
    for (int64_t r = 0; r < R; ++r)
        for (int64_t i = 0; i < N; ++i)
            tr[(size_t)(r * N + i)] = (uint8_t)(((i * 7 + r * 3) % 5) < 2 + r % 2);
    for (const char *alg : {"local_td", "pfedtd_rep"}) {
        SCOPED_TRACE(alg);
        Overrides o = cliff(alg);
        o["federation.availability_trace"] = write_trace(tr, R, N);
        o["eval_every"] = "1";
        Sim sim(o);
        for (int64_t r = 0; r < 2 * R; ++r) { // rows repeat after R rounds
            const std::vector<uint32_t> s0 = sim.states();
            const std::vector<float> t0 = sim.theta();
            sim.run(1);
            const std::vector<uint32_t> s1 = sim.states();
            const std::vector<float> t1 = sim.theta();
            int64_t want = 0, moved_present = 0;
            for (int64_t i = 0; i < N; ++i) {
                const bool present = tr[(size_t)((r % R) * N + i)] != 0;
                want += present;
                const bool theta_same = std::memcmp(&t0[(size_t)i * 8], &t1[(size_t)i * 8], 8 * sizeof(float)) == 0;
                if (!present) {
                    ASSERT_EQ(s0[(size_t)i], s1[(size_t)i]) << "absent agent " << i << " moved in round " << r;
                    if (std::string(alg) == "local_td") { // (pfedtd_rep: theta maps with Phi's orthonormalization)
                        ASSERT_TRUE(theta_same) << "absent agent " << i << " changed theta in round " << r;
                    }
                } else {
                    moved_present += !theta_same;
                }
            }
            EXPECT_GT(moved_present, want * 9 / 10);
            EXPECT_EQ(sim.metrics((size_t)r + 1).participants, (double)want) << "round " << r;
            EXPECT_EQ(sim.metrics((size_t)r + 1).mean_steps, 10.0);
        }
    }
}

TEST(Federation, AvailabilityChainAndStragglersHaveTheirRates)
{
    Overrides o = cliff("pfedtd_rep");
    o["agents"] = "4000";
    o["federation.p_drop"] = "0.2";
    o["federation.p_return"] = "0.3";
    o["federation.stragglers"] = "0.4";
    o["eval_every"] = "40";
    Sim sim(o);
    sim.run(10); // the chains settle (from everybody present: 0.5^r of the gap left)
    sim.run(40);
    const pfr_metrics m = sim.metrics(pfr_sim_metrics_count(sim.s) - 1);
    // present in the long run: p_return / (p_drop + p_return) = 0.6 (40 rounds x 4000 correlated
    // draws: sd of the mean about 0.005)
    EXPECT_NEAR(m.participants / 4000.0, 0.6, 0.02);
    // steps: 0.6 x 10 + 0.4 x E[uniform 1..9] = 6 + 2 = 8
    EXPECT_NEAR(m.mean_steps, 8.0, 0.05);
    EXPECT_EQ(m.mean_staleness, 0.0);
    pfr_federation_totals t;
    ASSERT_EQ(pfr_sim_federation_totals(sim.s, &t, sizeof t), PFR_OK);
    EXPECT_EQ((uint64_t)std::llround(t.mean_steps * (double)t.participations), sim.s->agent_steps);
    EXPECT_TRUE(std::isnan(t.epsilon));
}

// A stale Phi, checked against the rule itself: with one agent and no orthonormalization, round r
// gives Phi^{r+1} = Phi^r + (Phi_end - Phi^{r-D}), where Phi_end is what the agent's K steps make of
// Phi^{r-D}; a second handle without delays, set to Phi^{r-D} and the agent's theta and state,
// computes Phi_end (one agent: its mean is its own Phi, exactly).
TEST(Federation, StaleRepresentationFollowsItsRule)
{
    const int D = 2;
    Overrides o = cliff("pfedtd_rep");
    o["agents"] = "1";
    o["orthonormalize"] = "false";
    o["threads"] = "1";
    Overrides od = o;
    od["federation.delay"] = std::to_string(D);
    Sim sim(od), ref(o);
    std::vector<std::vector<float>> past;
    for (int r = 0; r < 8; ++r) {
        const std::vector<float> now = sim.phi();
        past.push_back(now);
        const std::vector<float> &stale = past[(size_t)(r >= D ? r - D : 0)];
        ASSERT_EQ(pfr_sim_set_phi(ref.s, stale.data(), stale.size()), PFR_OK);
        const std::vector<float> th = sim.theta();
        ASSERT_EQ(pfr_sim_set_theta(ref.s, th.data(), th.size()), PFR_OK);
        const std::vector<uint32_t> st = sim.states();
        ASSERT_EQ(pfr_sim_set_states(ref.s, st.data(), st.size()), PFR_OK);
        ref.s->round = r; // the same random words
        ref.run(1);
        sim.run(1);
        const std::vector<float> end = ref.phi(), got = sim.phi();
        for (size_t e = 0; e < got.size(); ++e) {
            const float want = (float)((double)now[e] + ((double)end[e] - (double)stale[e]));
            ASSERT_EQ(got[e], want) << "round " << r << " entry " << e;
        }
        EXPECT_TRUE(same_bits(sim.theta(), ref.theta()));
        EXPECT_EQ(sim.states(), ref.states());
    }
    pfr_federation_totals t;
    ASSERT_EQ(pfr_sim_federation_totals(sim.s, &t, sizeof t), PFR_OK);
    EXPECT_DOUBLE_EQ(t.mean_staleness, (0 + 1 + 2.0 * 6) / 8.0); // ages 0, 1, then 2
}

TEST(Federation, DrawnDelaysAreUniformAndDecayWeighsThem)
{
    Overrides o = cliff("pfedtd_rep");
    o["federation.max_delay"] = "3";
    o["eval_every"] = "1000"; // evaluations after round 3 and round 33 only
    Sim sim(o);
    sim.run(3);
    sim.run(30);
    const pfr_metrics m = sim.metrics(pfr_sim_metrics_count(sim.s) - 1);
    EXPECT_NEAR(m.mean_staleness, 1.5, 0.03); // uniform on 0..3 once 3 rounds have passed
    o["federation.stale_decay"] = "0.5";
    Sim half(o);
    half.run(33);
    EXPECT_FALSE(same_bits(sim.phi(), half.phi()));
    EXPECT_EQ(sim.states(), half.states()); // the same draws: only the weights differ ...
}

// Clipping bounds each agent's change, so their mean: ||Phi^1 - Phi^0||_F <= C (no orthonormalization).
TEST(Federation, ClippingBoundsTheChange)
{
    Overrides o = cliff("pfedtd_rep");
    o["orthonormalize"] = "false";
    auto change = [&](const char *clip) {
        Overrides c = o;
        if (clip)
            c["federation.clip"] = clip;
        Sim sim(c);
        const std::vector<float> p0 = sim.phi();
        sim.run(1);
        const std::vector<float> p1 = sim.phi();
        double n2 = 0;
        for (size_t e = 0; e < p0.size(); ++e)
            n2 += ((double)p1[e] - p0[e]) * ((double)p1[e] - p0[e]);
        return std::sqrt(n2);
    };
    const double free = change(nullptr), clipped = change("0.0002");
    EXPECT_GT(free, 5e-4);
    EXPECT_LE(clipped, 0.0002 * (1 + 1e-6));
    EXPECT_GT(clipped, 2e-5);
}

// The noise: every entry gets sigma C z / P on top of the noiseless update (z standard normal, the
// same on any thread count), so the difference of the two runs has that standard deviation.
TEST(Federation, NoiseHasItsScaleAndTouchesEveryRow)
{
    Overrides o = cliff("pfedtd_rep");
    o["orthonormalize"] = "false";
    o["federation.clip"] = "0.5";
    Overrides on = o;
    on["federation.noise_multiplier"] = "2";
    Sim quiet(o), noisy(on);
    quiet.run(1);
    noisy.run(1);
    const std::vector<float> a = quiet.phi(), b = noisy.phi();
    double s2 = 0;
    size_t changed = 0;
    for (size_t e = 0; e < a.size(); ++e) {
        const double x = (double)b[e] - a[e];
        s2 += x * x;
        changed += x != 0.0;
    }
    const double sd = std::sqrt(s2 / (double)a.size()), want = 2.0 * 0.5 / 1037.0;
    EXPECT_NEAR(sd / want, 1.0, 0.15); // 384 entries: sd of the estimate ~4%
    EXPECT_EQ(changed, a.size());      // rows no agent visited too
    for (int threads : {1, 3}) {
        Overrides t = on;
        t["threads"] = std::to_string(threads);
        Sim other(t);
        other.run(1);
        EXPECT_TRUE(same_bits(other.phi(), b)) << threads << " threads";
    }
    pfr_federation_totals tot;
    ASSERT_EQ(pfr_sim_federation_totals(noisy.s, &tot, sizeof tot), PFR_OK);
    EXPECT_EQ(tot.private_rounds, 1);
    EXPECT_NEAR(tot.epsilon, pfr_dp_epsilon(1.0, 2.0, 1, 1e-5, nullptr), 1e-12);
}

// The private mean's denominator: the expected participant count q N by default (DP-FedAvg's fixed
// one, which the accountant covers), the round's count P on request. The two runs share the sum and
// the noise, so each entry's change times its denominator agrees: (a - p0) q N = (b - p0) P.
TEST(Federation, PrivateMeanDividesByTheExpectedCount)
{
    Overrides o = cliff("pfedtd_rep");
    o["orthonormalize"] = "false";
    o["participation"] = "0.3";
    o["federation.clip"] = "0.5";
    o["federation.noise_multiplier"] = "2";
    Overrides op = o;
    op["federation.dp_denominator"] = "participants";
    Sim fixed(o), counted(op);
    const std::vector<float> p0 = fixed.phi();
    fixed.run(1);
    counted.run(1);
    pfr_federation_totals tot;
    ASSERT_EQ(pfr_sim_federation_totals(counted.s, &tot, sizeof tot), PFR_OK);
    const double P = (double)tot.participations, qN = 0.3 * 1037.0;
    ASSERT_GT(std::fabs(P - qN), 5.0); // the two denominators differ enough to tell apart
    const std::vector<float> a = fixed.phi(), b = counted.phi();
    size_t checked = 0;
    for (size_t e = 0; e < p0.size(); ++e) {
        const double ca = ((double)a[e] - p0[e]) * qN, cb = ((double)b[e] - p0[e]) * P;
        if (std::fabs((double)b[e] - p0[e]) < 1e-3 * std::fabs(p0[e]) + 1e-9)
            continue; // a change too small against Phi's rounding to compare
        EXPECT_NEAR(ca / cb, 1.0, 2e-3) << "entry " << e;
        ++checked;
    }
    EXPECT_GT(checked, p0.size() / 2);
}

// Stale bases: each round's orthonormalization changes Phi's basis (theta_i <- R theta_i), and the
// Phi's kept for delayed agents follow it (Phi^q <- Phi^q R^{-1}), so an old Phi paired with today's
// theta predicts what it predicted with the theta of its day. With theta moved only by the maps
// (alpha ~ 0, a random start), slot 1 of the history after rounds 1 and 2 times the current thetas
// equals Phi^1 times the thetas of round 1; without orthonormalization the slot is Phi^1 itself.
static double dot_d(const float *a, const float *b, int n)
{
    double acc = 0;
    for (int j = 0; j < n; ++j)
        acc += (double)a[j] * b[j];
    return acc;
}

TEST(Federation, StaleHistoryFollowsTheBasis)
{
    for (const char *ortho : {"true", "false"}) {
        SCOPED_TRACE(std::string("orthonormalize ") + ortho);
        Overrides o = cliff("pfedtd_rep");
        o["federation.delay"] = "2";
        o["alpha"] = "1e-30";
        o["orthonormalize"] = ortho;
        Sim s(o);
        const int S = s.s->S, d = s.s->d, N = 1037;
        for (size_t k = 0; k < (size_t)N * d; ++k) // a theta to follow (the run's starts at 0)
            s.s->theta[k] = (float)std::sin(0.37 * (double)k);
        s.run(1);
        ASSERT_EQ(s.s->engine->sync_host(s.s), PFR_OK);
        const std::vector<float> phi1(s.s->phi, s.s->phi + (size_t)S * d), th1(s.s->theta, s.s->theta + (size_t)N * d);
        s.run(2);
        ASSERT_EQ(s.s->engine->sync_host(s.s), PFR_OK);
        int slots = 0;
        const float *slot1 = pfr_fed_history(s.s->fed, &slots) + (size_t)1 * S * d;
        ASSERT_EQ(slots, 3);
        double moved = 0, worst = 0;
        for (size_t e = 0; e < (size_t)S * d; ++e)
            moved = std::max(moved, std::fabs((double)slot1[e] - phi1[e]));
        for (int i = 0; i < N; i += 7)
            for (int x = 0; x < S; ++x) {
                // (one dot product a loop: two double sums of float products in one loop made
                // aarch64 gcc 12's vectorizer fail with an internal error)
                const double then = dot_d(phi1.data() + (size_t)x * d, th1.data() + (size_t)i * d, d),
                             now = dot_d(slot1 + (size_t)x * d, s.s->theta + (size_t)i * d, d);
                worst = std::max(worst, std::fabs(now - then) / (1.0 + std::fabs(then)));
            }
        if (std::string(ortho) == "true") {
            EXPECT_GT(moved, 1e-4); // the basis did change, so this test can fail
            EXPECT_LT(worst, 1e-4); // float rows and thetas, double maps
        } else {
            EXPECT_EQ(moved, 0.0);
        }
    }
}

TEST(Federation, EverythingOnIsTheSameOnAnyThreadCount)
{
    Overrides o = cliff("pfedtd_rep");
    o["participation"] = "0.8";
    o["federation.p_drop"] = "0.1";
    o["federation.p_return"] = "0.4";
    o["federation.stragglers"] = "0.3";
    o["federation.max_delay"] = "2";
    o["federation.stale_decay"] = "0.8";
    o["federation.clip"] = "0.2";
    o["federation.noise_multiplier"] = "0.5";
    std::vector<float> phi[3], theta[3];
    std::vector<uint32_t> st[3];
    for (int t = 1; t <= 3; ++t) {
        o["threads"] = std::to_string(t);
        Sim sim(o);
        sim.run(15);
        phi[t - 1] = sim.phi();
        theta[t - 1] = sim.theta();
        st[t - 1] = sim.states();
    }
    for (int t = 1; t < 3; ++t) {
        EXPECT_TRUE(same_bits(phi[0], phi[t]));
        EXPECT_TRUE(same_bits(theta[0], theta[t]));
        EXPECT_EQ(st[0], st[t]);
    }
}

// A checkpoint carries the chains, the history of Phi and the counts: a resumed run is the same run.
TEST(Federation, CheckpointResumesBitForBit)
{
    Overrides o = cliff("pfedtd_rep");
    o["federation.p_drop"] = "0.1";
    o["federation.p_return"] = "0.4";
    o["federation.max_delay"] = "3";
    o["federation.clip"] = "0.2";
    o["federation.noise_multiplier"] = "0.5";
    o["federation.stragglers"] = "0.2";
    Sim straight(o);
    straight.run(20);
    Sim first(o);
    first.run(10);
    const std::string path = pfr_test::temp_dir("pfedrl_fed") + "/run.pfr";
    pfr_error err;
    ASSERT_EQ(pfr_sim_save(first.s, path.c_str(), &err), PFR_OK) << err.msg;
    pfr_sim *loaded = nullptr;
    ASSERT_EQ(pfr_sim_load(path.c_str(), nullptr, 0, nullptr, nullptr, &loaded, &err), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_sim_run(loaded, 10), PFR_OK) << pfr_sim_last_error(loaded);
    std::vector<float> p((size_t)loaded->S * loaded->d);
    ASSERT_EQ(pfr_sim_get_phi(loaded, p.data(), p.size()), PFR_OK);
    EXPECT_TRUE(same_bits(p, straight.phi()));
    const size_t n = pfr_sim_metrics_count(loaded);
    ASSERT_EQ(n, pfr_sim_metrics_count(straight.s));
    for (size_t i = 0; i < n; ++i) {
        pfr_metrics a, b = straight.metrics(i);
        ASSERT_EQ(pfr_sim_metrics_get(loaded, i, &a, sizeof a), PFR_OK);
        EXPECT_EQ(a.agent_steps, b.agent_steps) << i;
        EXPECT_EQ(a.value_error, b.value_error) << i;
        EXPECT_TRUE(a.participants == b.participants || (std::isnan(a.participants) && std::isnan(b.participants)));
        EXPECT_EQ(a.epsilon, b.epsilon) << i;
    }
    pfr_sim_destroy(loaded);
}

// The availability trace decides the bits, so it is in the checkpoint's fingerprint: a run resumed
// with the trace file changed since is refused, naming the file (with the same file it resumes).
TEST(Federation, ChangedAvailabilityTraceIsRefusedOnResume)
{
    const int64_t N = 40, R = 6;
    std::vector<uint8_t> tr((size_t)(R * N), 1);
    for (size_t e = 0; e < tr.size(); e += 3)
        tr[e] = 0;
    Overrides o = cliff("pfedtd_rep");
    o["agents"] = std::to_string(N);
    const std::string trace = write_trace(tr, R, N);
    o["federation.availability_trace"] = trace;
    Sim first(o);
    first.run(4);
    const std::string path = pfr_test::temp_dir("pfedrl_fed") + "/run.pfr";
    pfr_error err;
    ASSERT_EQ(pfr_sim_save(first.s, path.c_str(), &err), PFR_OK) << err.msg;
    pfr_sim *loaded = nullptr;
    ASSERT_EQ(pfr_sim_load(path.c_str(), nullptr, 0, nullptr, nullptr, &loaded, &err), PFR_OK) << err.msg;
    pfr_sim_destroy(loaded);
    tr[1] ^= 1; // one agent's availability in one round, in the same file
    const int64_t shape[2] = {R, N};
    ASSERT_EQ(pfr_npy_save(trace.c_str(), tr.data(), "|b1", 1, 2, shape, &err), PFR_OK) << err.msg;
    loaded = nullptr;
    EXPECT_EQ(pfr_sim_load(path.c_str(), nullptr, 0, nullptr, nullptr, &loaded, &err), PFR_ERR_FORMAT);
    EXPECT_EQ(loaded, nullptr);
    const std::string msg = err.msg;
    EXPECT_NE(msg.find("federation.availability_trace " + trace + " is not the trace the run was saved with"),
              std::string::npos) << msg;
}

// The accountant: no sampling is the Gaussian mechanism's alpha / (2 sigma^2); with sampling, the
// closed form for integer orders against a direct numerical integral of its definition,
// E_{z ~ N(0, sigma^2)} [((1 - q) + q exp((2 z - 1) / (2 sigma^2)))^alpha].
TEST(Privacy, RdpOfTheSampledGaussian)
{
    EXPECT_DOUBLE_EQ(pfr_dp_rdp(1.0, 2.0, 8), 8.0 / 8.0);
    for (double q : {0.01, 0.1, 0.5})
        for (int alpha : {2, 8, 32}) {
            const double sigma = 1.5, h = sigma / 2000.0;
            // in logs (the integrand peaks near z = alpha for large alpha): log-sum-exp over the grid
            std::vector<double> li;
            for (double z = -40 * sigma; z <= alpha + 40 * sigma; z += h)
                li.push_back(-z * z / (2 * sigma * sigma) - std::log(sigma * std::sqrt(2 * M_PI)) +
                             alpha * std::log((1 - q) + q * std::exp((2 * z - 1) / (2 * sigma * sigma))) + std::log(h));
            double top = -INFINITY, sum = 0;
            for (double x : li)
                top = std::max(top, x);
            for (double x : li)
                sum += std::exp(x - top);
            EXPECT_NEAR(pfr_dp_rdp(q, sigma, alpha), (top + std::log(sum)) / (alpha - 1), 1e-6)
                << "q " << q << " alpha " << alpha;
        }
    // epsilon grows with the rounds, falls with sigma and with sampling, and is 0 before any round
    const double e1 = pfr_dp_epsilon(0.1, 1.0, 100, 1e-5, nullptr), e2 = pfr_dp_epsilon(0.1, 1.0, 1000, 1e-5, nullptr);
    EXPECT_LT(e1, e2);
    EXPECT_LT(pfr_dp_epsilon(0.1, 2.0, 1000, 1e-5, nullptr), e2);
    EXPECT_LT(e2, pfr_dp_epsilon(1.0, 1.0, 1000, 1e-5, nullptr));
    EXPECT_EQ(pfr_dp_epsilon(0.1, 1.0, 0, 1e-5, nullptr), 0.0);
    EXPECT_TRUE(std::isinf(pfr_dp_epsilon(0.1, 0.0, 10, 1e-5, nullptr)));
    // q = 1, one round: min over alpha of alpha / (2 sigma^2) + log(1 - 1/alpha) - (log delta + log alpha) / (alpha - 1)
    int order = 0;
    const double e = pfr_dp_epsilon(1.0, 4.0, 1, 1e-5, &order);
    const double a = order;
    EXPECT_NEAR(e, a / 32.0 + std::log1p(-1 / a) - (std::log(1e-5) + std::log(a)) / (a - 1), 1e-12);
}

TEST(Federation, BadSettingsAreRefusedByName)
{
    struct Case {
        Overrides set;
        const char *expect;
    };
    const std::vector<uint8_t> twos(10, 2);
    const std::vector<Case> cases = {
        {{{"federation.p_drop", "0.1"}, {"federation.availability_trace", "/x.npy"}}, "both set"},
        {{{"federation.stragglers", "0.5"}, {"local_steps", "1"}}, "needs local_steps >= 2"},
        {{{"federation.delay", "2"}, {"algorithm", "local_td"}}, "averages no learned representation"},
        {{{"federation.delay", "2"}, {"federation.max_delay", "3"}}, "both set"},
        {{{"federation.stale_decay", "0.5"}}, "without a delay"},
        {{{"federation.noise_multiplier", "1"}}, "needs federation.clip > 0"},
        {{{"federation.dp_denominator", "participants"}}, "without noise"},
        {{{"federation.noise_multiplier", "1"}, {"federation.clip", "1"}, {"algorithm", "fedavg_rep"}},
         "also averages theta"},
        {{{"federation.clip", "1"}, {"algorithm", "local_rep"}}, "averages no learned representation"},
        {{{"federation.availability_trace", write_trace(twos, 1, 10)}, {"agents", "10"}}, "allowed: 0 (absent) or 1"},
        {{{"federation.availability_trace", write_trace(twos, 2, 5)}, {"agents", "10"}}, "shape (2, 5)"},
    };
    for (const Case &c : cases) {
        pfr_config cfg;
        pfr_config_init(&cfg);
        pfr_error err;
        for (const auto &kv : c.set)
            ASSERT_EQ(pfr_config_set(&cfg, kv.first.c_str(), kv.second.c_str(), &err), PFR_OK) << err.msg;
        pfr_sim *s = nullptr;
        const pfr_status st = pfr_sim_create(&cfg, &s, &err);
        EXPECT_EQ(st, PFR_ERR_CONFIG) << c.expect;
        EXPECT_NE(std::string(err.msg).find(c.expect), std::string::npos) << err.msg;
        EXPECT_EQ(s, nullptr);
    }
    pfr_config cfg;
    pfr_config_init(&cfg);
    pfr_error err;
    EXPECT_EQ(pfr_config_set(&cfg, "federation.p_drop", "1.5", &err), PFR_ERR_CONFIG);
    EXPECT_EQ(pfr_config_set(&cfg, "federation.max_delay", "256", &err), PFR_ERR_CONFIG);
    EXPECT_EQ(pfr_config_set(&cfg, "federation.stragglers", "-0.1", &err), PFR_ERR_CONFIG);
}

} // namespace
