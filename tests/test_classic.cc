// CartPole-v1 and Acrobot-v1 (kernels/pfr_classic.h) against Gymnasium itself: every step of the
// trajectories scripts/classic_trajectories.py recorded with Gymnasium (tests/fixtures/), replayed
// from Gymnasium's state and action, and every reset from the uniforms it drew.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "kernels/pfr_classic.h"
}

namespace {

struct Row {
    std::map<std::string, std::string> f;
    double d(const std::string &k) const { return std::strtod(f.at(k).c_str(), nullptr); }
    bool has(const std::string &k) const { return !f.at(k).empty(); }
};

std::vector<Row> read_fixture()
{
    std::ifstream in(std::string(PFR_SOURCE_DIR) + "/tests/fixtures/classic_trajectories.csv");
    std::vector<Row> rows;
    std::string line;
    std::vector<std::string> head;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        std::vector<std::string> cells;
        std::stringstream ss(line);
        std::string c;
        while (std::getline(ss, c, ','))
            cells.push_back(c);
        if (!line.empty() && line.back() == ',')
            cells.push_back("");
        if (head.empty()) {
            head = cells;
            continue;
        }
        Row r;
        for (size_t j = 0; j < head.size(); ++j)
            r.f[head[j]] = j < cells.size() ? cells[j] : "";
        rows.push_back(r);
    }
    return rows;
}

pfr_cartpole cartpole_of(const Row &r)
{
    pfr_cartpole p;
    p.gravity = r.d("p0");
    p.masscart = r.d("p1");
    p.masspole = r.d("p2");
    p.length = r.d("p3");
    p.polemass_length = r.d("p4");
    p.force_mag = r.d("p5");
    p.tau = r.d("p6");
    p.semi_implicit = (int)r.d("p7");
    return p;
}

pfr_acrobot acrobot_of(const Row &r)
{
    pfr_acrobot p;
    p.dt = r.d("p0");
    p.m1 = r.d("p1");
    p.m2 = r.d("p2");
    p.l1 = r.d("p3");
    p.lc1 = r.d("p4");
    p.lc2 = r.d("p5");
    p.moi = r.d("p6");
    p.nips = (int)r.d("p7");
    return p;
}

} // namespace

// Gymnasium computes in double with numpy's sin and cos, which may differ from libm's in the last bit:
// one step from the same state agrees to 1e-12 (a chaotic Acrobot would spread a last-bit difference
// over a trajectory, which is why each step starts from Gymnasium's own state).
TEST(Classic, EveryStepAndResetEqualsGymnasiums)
{
    const std::vector<Row> rows = read_fixture();
    ASSERT_GT(rows.size(), 600u) << "tests/fixtures/classic_trajectories.csv missing or short";
    std::map<std::string, Row> params; // env/setting -> its last reset row
    int steps = 0, resets = 0, terminals = 0;
    double worst = 0;
    for (const Row &r : rows) {
        const std::string env = r.f.at("env"), key = env + "/" + r.f.at("setting");
        const bool cart = env == "cartpole";
        double n[4];
        if (r.f.at("kind") == "reset") {
            params[key] = r;
            const double u[4] = {r.d("u0"), r.d("u1"), r.d("u2"), r.d("u3")};
            cart ? pfr_cartpole_reset(n, u) : pfr_acrobot_reset(n, u);
            for (int j = 0; j < 4; ++j) // the same uniforms through the same affine map: exact
                EXPECT_EQ(n[j], r.d("n" + std::to_string(j))) << key << " reset, entry " << j;
            ++resets;
            continue;
        }
        const Row &p = params.at(key);
        for (int j = 0; j < 4; ++j)
            n[j] = r.d("s" + std::to_string(j));
        const int a = (int)r.d("action");
        int term;
        float ob[6];
        if (cart) {
            const pfr_cartpole cp = cartpole_of(p);
            term = pfr_cartpole_step(&cp, n, a);
            pfr_cartpole_observe(n, ob);
        } else {
            const pfr_acrobot ap = acrobot_of(p);
            term = pfr_acrobot_step(&ap, n, a);
            pfr_acrobot_observe(n, ob);
        }
        for (int j = 0; j < 4; ++j) {
            const double want = r.d("n" + std::to_string(j));
            EXPECT_NEAR(n[j], want, 1e-12) << key << " step " << steps << ", entry " << j;
            worst = std::fmax(worst, std::fabs(n[j] - want));
        }
        EXPECT_EQ(term, (int)r.d("terminated")) << key << " step " << steps;
        for (int j = 0; j < (cart ? 4 : 6); ++j) // float32 of the same doubles (cos, sin: 1e-12 apart)
            EXPECT_NEAR(ob[j], r.d("o" + std::to_string(j)), 1e-6) << key << " observation " << j;
        terminals += term;
        ++steps;
    }
    EXPECT_GT(terminals, 10); // both kinds of transition are in the recording
    EXPECT_EQ(params.size(), 8u);
    RecordProperty("worst_state_difference", std::to_string(worst));
    std::printf("classic: %d steps, %d resets, %d terminal, worst state difference %.3g\n", steps, resets, terminals, worst);
}

// Termination and truncation kept apart: a time limit truncates (bootstrap) unless the older rule
// counts it as termination; a terminal step at the limit is a termination either way.
TEST(Classic, TimeLimitTruncatesUnlessCountedAsTermination)
{
    pfr_classic_end e = pfr_classic_end_of(0, 499, PFR_CARTPOLE_MAX_STEPS, 0);
    EXPECT_EQ(e.terminated + e.truncated, 0);
    e = pfr_classic_end_of(0, 500, PFR_CARTPOLE_MAX_STEPS, 0);
    EXPECT_EQ(e.terminated, 0);
    EXPECT_EQ(e.truncated, 1);
    e = pfr_classic_end_of(0, 500, PFR_CARTPOLE_MAX_STEPS, 1);
    EXPECT_EQ(e.terminated, 1);
    EXPECT_EQ(e.truncated, 0);
    e = pfr_classic_end_of(1, 500, PFR_CARTPOLE_MAX_STEPS, 0);
    EXPECT_EQ(e.terminated, 1);
    EXPECT_EQ(e.truncated, 0);
    e = pfr_classic_end_of(1, 17, PFR_ACROBOT_MAX_STEPS, 0);
    EXPECT_EQ(e.terminated, 1);
    EXPECT_EQ(e.truncated, 0);
}

// The defaults are Gymnasium's: its recorded default settings' parameters, field by field.
TEST(Classic, DefaultsAreGymnasiums)
{
    const std::vector<Row> rows = read_fixture();
    int seen = 0;
    for (const Row &r : rows) {
        if (r.f.at("kind") != "reset" || r.f.at("setting") != "default")
            continue;
        if (r.f.at("env") == "cartpole") {
            const pfr_cartpole g = cartpole_of(r), c = pfr_cartpole_default();
            EXPECT_EQ(c.gravity, g.gravity);
            EXPECT_EQ(c.masscart, g.masscart);
            EXPECT_EQ(c.masspole, g.masspole);
            EXPECT_EQ(c.length, g.length);
            EXPECT_EQ(c.polemass_length, g.polemass_length);
            EXPECT_EQ(c.force_mag, g.force_mag);
            EXPECT_EQ(c.tau, g.tau);
            EXPECT_EQ(c.semi_implicit, g.semi_implicit);
        } else {
            const pfr_acrobot g = acrobot_of(r), a = pfr_acrobot_default();
            EXPECT_EQ(a.dt, g.dt);
            EXPECT_EQ(a.m1, g.m1);
            EXPECT_EQ(a.m2, g.m2);
            EXPECT_EQ(a.l1, g.l1);
            EXPECT_EQ(a.lc1, g.lc1);
            EXPECT_EQ(a.lc2, g.lc2);
            EXPECT_EQ(a.moi, g.moi);
            EXPECT_EQ(a.nips, g.nips);
        }
        ++seen;
    }
    EXPECT_GE(seen, 2);
}
