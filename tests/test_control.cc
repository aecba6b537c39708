// Control (control = sarsa or qlearning): the MDPs of each family, value iteration and policy values
// (truth_control.c), the learners on the CPU engine (cpu_control.c), policy_gap (evaluate_control.c).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine.h"
#include "tests/cpu_restart.h"
#include "tests/test_sim.h"
#include "tests/test_temp.h"

namespace {

using pfr_test::Overrides;

pfr_sim *make(const Overrides &o, pfr_status want = PFR_OK, std::string *msg = nullptr)
{
    return pfr_test::make_sim(o, want, msg);
}

struct Sim {
    pfr_sim *s;
    explicit Sim(const Overrides &o) : s(make(o)) {}
    ~Sim() { pfr_sim_destroy(s); }
    void run(int64_t r) { ASSERT_EQ(pfr_sim_run(s, r), PFR_OK) << pfr_sim_last_error(s); }
    pfr_metrics last() const
    {
        pfr_metrics m;
        pfr_sim_metrics_get(s, pfr_sim_metrics_count(s) - 1, &m, sizeof m);
        return m;
    }
    std::vector<float> phi() const
    {
        std::vector<float> p((size_t)s->S * s->d);
        pfr_sim_get_phi(s, p.data(), p.size());
        return p;
    }
    std::vector<float> theta() const
    {
        std::vector<float> t((size_t)s->N * s->d);
        pfr_sim_get_thetas(s, t.data(), t.size());
        return t;
    }
    std::vector<uint32_t> states() const
    {
        std::vector<uint32_t> v((size_t)s->N);
        pfr_sim_get_states(s, v.data(), v.size());
        return v;
    }
};

bool same(const std::vector<float> &a, const std::vector<float> &b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The continuing random walk with actions (left, right), reward 1 for leaving the right end; leaving
// either end restarts at c = n / 2. V*(n-1) = 1 + gamma V*(c) with right optimal from c on, so
// V*(n-1) = 1 / (1 - gamma^(n-c)); from s < c it may pay to leave by the left end instead:
// V*(s) = V*(n-1) max(gamma^(n-1-s), gamma^(s+1) gamma^(n-1-c)). Q* follows from V*.
TEST(Control, ValueIterationMatchesTheRandomWalksClosedForm)
{
    for (int n : {5, 8, 11}) {
        const double gamma = 0.9;
        Sim sim({{"env.kind", "randomwalk"}, {"env.states", std::to_string(n)}, {"control.kind", "qlearning"},
                 {"dim", "2"}, {"gamma", "0.9"}, {"agents", "1"}});
        ASSERT_TRUE(sim.s);
        ASSERT_EQ(sim.s->A, 2);
        ASSERT_EQ(sim.s->S, 2 * n);
        const int c = n / 2;
        const double top = 1.0 / (1.0 - std::pow(gamma, n - c));
        std::vector<double> V(n);
        for (int s = 0; s < n; ++s)
            V[s] = top * std::max(std::pow(gamma, n - 1 - s), std::pow(gamma, s + 1 + n - 1 - c));
        for (int s = 0; s < n; ++s) {
            SCOPED_TRACE("n " + std::to_string(n) + " state " + std::to_string(s));
            EXPECT_NEAR(sim.s->truth.vstar[s], V[s], 1e-10 * top);
            const double left = gamma * (s == 0 ? V[c] : V[s - 1]), right = s == n - 1 ? 1 + gamma * V[c] : gamma * V[s + 1];
            EXPECT_NEAR(sim.s->truth.V[2 * s], left, 1e-10 * top);
            EXPECT_NEAR(sim.s->truth.V[2 * s + 1], right, 1e-10 * top);
        }
        EXPECT_LT(sim.s->truth.resid_v, 1e-10);
    }
}

// A tiny garnet (4 states, 2 actions, 3 types): V* against the best of all 16 deterministic
// policies, each valued by a dense linear solve of (I - gamma P_pi) V = r_pi (an independent
// method); pfr_policy_value against the same solves.
TEST(Control, ValueIterationMatchesBruteForceOverEveryPolicy)
{
    const double gamma = 0.8;
    Sim sim({{"env.kind", "garnet"}, {"env.states", "4"}, {"env.actions", "2"}, {"env.branching", "2"},
             {"env.types", "3"}, {"control.kind", "sarsa"}, {"dim", "2"}, {"gamma", "0.8"}, {"agents", "3"}});
    ASSERT_TRUE(sim.s);
    const pfr_env *env = sim.s->env;
    const int S = 4, A = 2;
    for (int m = 0; m < 3; ++m) {
        std::vector<double> best(S, -1e300);
        for (int code = 0; code < 16; ++code) {
            int pi[S];
            for (int s = 0; s < S; ++s)
                pi[s] = (code >> s) & 1;
            std::vector<double> M((size_t)S * S, 0.0), r(S, 0.0);
            for (int s = 0; s < S; ++s) {
                M[(size_t)s * S + s] = 1.0;
                const int row = s * A + pi[s];
                for (uint64_t k = env->row_ptr[(size_t)m * (S * A + 1) + row];
                     k < env->row_ptr[(size_t)m * (S * A + 1) + row + 1]; ++k) {
                    M[(size_t)s * S + env->next[k]] -= gamma * env->prob[k];
                    r[s] += env->prob[k] * env->rewardd[k];
                }
            }
            ASSERT_EQ(pfr_lu_solve(M.data(), r.data(), S), PFR_OK);
            double V[S], scratch[S];
            pfr_policy_value(env, m, gamma, pi, V, scratch);
            for (int s = 0; s < S; ++s) {
                EXPECT_NEAR(V[s], r[s], 1e-10) << "type " << m << " policy " << code;
                best[s] = r[s] > best[s] ? r[s] : best[s];
            }
        }
        for (int s = 0; s < S; ++s)
            EXPECT_NEAR(sim.s->truth.vstar[(size_t)m * S + s], best[s], 1e-10) << "type " << m << " state " << s;
    }
}

// Tabular Q-learning by one agent on a 5 x 5 grid world finds an optimal policy; SARSA (which
// learns the values of its epsilon-greedy policy) a near-optimal one.
TEST(Control, TabularLearnersFindTheOptimalPolicy)
{
    for (const char *kind : {"qlearning", "sarsa"}) {
        Sim sim({{"env.kind", "gridworld"}, {"env.width", "5"}, {"env.height", "5"}, {"env.types", "1"},
                 {"control.kind", kind}, {"algorithm", "local_td_tabular"}, {"agents", "1"}, {"alpha", "0.2"},
                 {"control.epsilon", "0.3"}, {"control.epsilon_end", "0.05"}, {"control.epsilon_steps", "20000"},
                 {"local_steps", "10"}, {"gamma", "0.9"}, {"eval_every", "1000"}, {"threads", "1"}});
        ASSERT_TRUE(sim.s);
        const double gap0 = [&] {
            pfr_metrics m;
            pfr_sim_evaluate(sim.s, &m, sizeof m);
            return m.policy_gap;
        }();
        sim.run(4000);
        const pfr_metrics m = sim.last();
        SCOPED_TRACE(kind);
        EXPECT_GT(gap0, 0.1);
        EXPECT_LT(m.policy_gap, std::string(kind) == "qlearning" ? 0.01 : 0.05);
        EXPECT_LT(m.value_error, 0.05); // the Q error
        EXPECT_EQ(m.policy_agents, 1.0);
    }
}

// The same bits on any thread count, with participation and stragglers, for both learners and every
// federation structure.
TEST(Control, BitIdenticalForAnyThreadCount)
{
    for (const char *kind : {"qlearning", "sarsa"})
        for (const char *alg : {"pfedtd_rep", "local_rep", "fedavg_rep", "fedtd", "local_td", "fedtd_tabular"}) {
            Overrides o = {{"env.kind", "cliffwalk"}, {"env.types", "4"}, {"env.slip_max", "0.3"},
                           {"control.kind", kind},         {"algorithm", alg}, {"agents", "1037"},
                           {"dim", "8"},              {"participation", "0.7"}, {"federation.stragglers", "0.3"},
                           {"eval_every", "5"},       {"orthonormalize", "true"}};
            std::vector<float> phi[3], th[3];
            std::vector<uint32_t> st[3];
            double gap[3];
            for (int t = 1; t <= 3; ++t) {
                o["threads"] = std::to_string(t);
                Sim sim(o);
                sim.run(10);
                phi[t - 1] = sim.phi();
                th[t - 1] = sim.theta();
                st[t - 1] = sim.states();
                gap[t - 1] = sim.last().policy_gap;
            }
            SCOPED_TRACE(std::string(kind) + " " + alg);
            for (int t = 1; t < 3; ++t) {
                EXPECT_TRUE(same(phi[0], phi[t]));
                EXPECT_TRUE(same(th[0], th[t]));
                EXPECT_EQ(st[0], st[t]);
                EXPECT_EQ(gap[0], gap[t]);
            }
        }
}

// The CPU engine's paths (the 16-lane AVX-512 Philox for all four words where the CPU has it, the
// per-agent vector step; the scalar Philox and pfr_td_step) give control the same bits.
TEST(Control, EveryCpuPathGivesTheSameBits)
{
    for (const char *kind : {"qlearning", "sarsa"}) {
        const Overrides o = {{"env.kind", "cliffwalk"}, {"control.kind", kind}, {"agents", "1037"},
                             {"participation", "0.7"},   {"dim", "8"},        {"threads", "2"}};
        std::vector<float> phi[3], th[3];
        const int paths[3] = {PFR_CPU_PATH_AUTO, PFR_CPU_PATH_PER_AGENT, PFR_CPU_PATH_SCALAR};
        for (int path = 0; path < 3; ++path) {
            Sim sim(o);
            if (path > 0) // restart the engine on another path
                pfr_test::restart_cpu_engine(sim.s, paths[path]);
            sim.run(15);
            phi[path] = sim.phi();
            th[path] = sim.theta();
        }
        SCOPED_TRACE(kind);
        for (int path = 1; path < 3; ++path) {
            EXPECT_TRUE(same(phi[0], phi[path])) << "path " << path;
            EXPECT_TRUE(same(th[0], th[path])) << "path " << path;
        }
    }
}

// With one type and one agent the federation structures reduce to each other: averaging one agent
// is that agent (pfedtd_rep = local_rep = fedavg_rep; fedtd = local_td), bit for bit.
TEST(Control, StructuresReduceToEachOtherWithOneAgent)
{
    for (const char *kind : {"qlearning", "sarsa"}) {
        auto run = [&](const char *alg) {
            Sim sim({{"env.kind", "cliffwalk"}, {"env.types", "1"}, {"control.kind", kind}, {"algorithm", alg},
                     {"agents", "1"}, {"dim", "6"}, {"orthonormalize", "false"}, {"alpha", "0.1"}, {"beta", "0.05"}});
            sim.run(30);
            std::vector<float> phi((size_t)sim.s->S * sim.s->d);
            pfr_sim_get_agent_phi(sim.s, 0, phi.data(), phi.size());
            return std::make_pair(phi, sim.theta());
        };
        SCOPED_TRACE(kind);
        const auto a = run("pfedtd_rep"), b = run("local_rep"), c = run("fedavg_rep");
        EXPECT_TRUE(same(a.first, b.first));
        EXPECT_TRUE(same(a.second, b.second));
        EXPECT_TRUE(same(a.first, c.first));
        EXPECT_TRUE(same(a.second, c.second));
        const auto d = run("fedtd"), e = run("local_td");
        EXPECT_TRUE(same(d.second, e.second));
        EXPECT_FALSE(same(a.second, d.second)); // and learning Phi differs from fixed features
    }
}

// A SARSA run saved and loaded goes on bit for bit (the agents' next actions are in the checkpoint).
TEST(Control, CheckpointResumesBitForBit)
{
    const Overrides o = {{"env.kind", "cliffwalk"}, {"control.kind", "sarsa"}, {"agents", "300"},
                         {"control.epsilon_steps", "3000"}, {"control.epsilon_end", "0.01"}};
    Sim straight(o), first(o);
    straight.run(20);
    first.run(10);
    const std::string path = pfr_test::temp_dir("pfedrl_ctl") + "/run.pfr";
    pfr_error err;
    ASSERT_EQ(pfr_sim_save(first.s, path.c_str(), &err), PFR_OK) << err.msg;
    pfr_sim *loaded = nullptr;
    ASSERT_EQ(pfr_sim_load(path.c_str(), nullptr, 0, nullptr, nullptr, &loaded, &err), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_sim_run(loaded, 10), PFR_OK) << pfr_sim_last_error(loaded);
    std::vector<float> p((size_t)loaded->S * loaded->d);
    pfr_sim_get_phi(loaded, p.data(), p.size());
    EXPECT_TRUE(same(p, straight.phi()));
    EXPECT_EQ(0, std::memcmp(loaded->action, straight.s->action, (size_t)loaded->N));
    pfr_sim_destroy(loaded);
}

TEST(Control, BadMdpFilesAndSettingsAreRefused)
{
    const std::string dir = pfr_test::temp_dir("pfedrl_ctl");
    pfr_error err;
    auto save = [&](const std::string &name, const std::vector<double> &v, std::vector<int64_t> shape) {
        ASSERT_EQ(pfr_npy_save_f64((dir + "/" + name).c_str(), v.data(), (int)shape.size(), shape.data(), &err), PFR_OK);
    };
    // a chain's [M, S, S] where control needs [M, S, A, S]
    save("P3.npy", {0.5, 0.5, 0.5, 0.5}, {1, 2, 2});
    save("R2.npy", {0, 1}, {1, 2});
    std::string msg;
    pfr_sim *s = make({{"env.kind", "file"}, {"env.p_file", dir + "/P3.npy"}, {"env.r_file", dir + "/R2.npy"},
                       {"control.kind", "qlearning"}, {"dim", "1"}},
                      PFR_ERR_FORMAT, &msg);
    EXPECT_EQ(s, nullptr);
    EXPECT_NE(msg.find("allowed: [M, S, A, S] (control)"), std::string::npos) << msg;
    // a row (state 1, action 0) that does not sum to 1
    save("P4.npy", {1, 0, 0, 1, 0.5, 0.4, 0, 1}, {1, 2, 2, 2});
    save("R3.npy", {0, 0, 0, 1}, {1, 2, 2});
    s = make({{"env.kind", "file"}, {"env.p_file", dir + "/P4.npy"}, {"env.r_file", dir + "/R3.npy"},
              {"control.kind", "qlearning"}, {"dim", "1"}},
             PFR_ERR_FORMAT, &msg);
    EXPECT_NE(msg.find("row P[0, 1, 0, :] sums to 0.9"), std::string::npos) << msg;
    // rewards of the wrong shape
    save("P5.npy", {1, 0, 0, 1, 0.5, 0.5, 0, 1}, {1, 2, 2, 2});
    s = make({{"env.kind", "file"}, {"env.p_file", dir + "/P5.npy"}, {"env.r_file", dir + "/R2.npy"},
              {"control.kind", "qlearning"}, {"dim", "1"}},
             PFR_ERR_FORMAT, &msg);
    EXPECT_NE(msg.find("allowed with control: [M, S, A, S] = (1, 2, 2, 2) or [M, S, A] = (1, 2, 2)"), std::string::npos)
        << msg;
    // a good MDP file learns (two states, two actions, action 1 in state 1 pays)
    s = make({{"env.kind", "file"}, {"env.p_file", dir + "/P5.npy"}, {"env.r_file", dir + "/R3.npy"},
              {"control.kind", "qlearning"}, {"algorithm", "local_td_tabular"}, {"agents", "1"}});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->A, 2);
    pfr_sim_destroy(s);
    // exploration keys without control
    make({{"control.epsilon", "0.3"}}, PFR_ERR_CONFIG, &msg);
    EXPECT_NE(msg.find("set with control.kind=none"), std::string::npos) << msg;
}

// Policy evaluation is untouched by the MDP builders: the chain a family builds is the policy's
// mixture of its MDP's rows (grid worlds: the epsilon-soft policy toward the goal).
TEST(Control, ChainIsThePolicysMixtureOfTheMdp)
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    ASSERT_EQ(pfr_config_set(&c, "env.kind", "garnet", &err), PFR_OK);
    pfr_env *chain = nullptr, *mdp = nullptr;
    ASSERT_EQ(pfr_env_create(&c.env, &chain, &err), PFR_OK);
    ASSERT_EQ(pfr_env_create_mdp(&c.env, &mdp, &err), PFR_OK);
    const int S = chain->S, A = mdp->A;
    ASSERT_EQ(A, c.env.actions);
    std::vector<double> P((size_t)S * S);
    for (int m = 0; m < chain->M; ++m) {
        pfr_env_dense_p(chain, m, P.data());
        for (int s = 0; s < S; ++s) { // the garnet chain follows the uniform policy
            std::vector<double> mix(S, 0.0);
            for (int a = 0; a < A; ++a) {
                const int row = s * A + a;
                for (uint64_t k = mdp->row_ptr[(size_t)m * (S * A + 1) + row];
                     k < mdp->row_ptr[(size_t)m * (S * A + 1) + row + 1]; ++k)
                    mix[mdp->next[k]] += mdp->prob[k] / A;
            }
            for (int t = 0; t < S; ++t)
                ASSERT_NEAR(mix[t], P[(size_t)s * S + t], 1e-12) << "type " << m << " row " << s;
        }
    }
    pfr_env_destroy(chain);
    pfr_env_destroy(mdp);
}

} // namespace
