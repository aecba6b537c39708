// One agent's DQN (kernels/pfr_dqn.h) on the environments and networks of kernels/: the replay ring,
// a gradient step that lowers its minibatch's loss, the whole loop learning CartPole-v1, and the
// engine's step in lanes against this reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "kernels/pfr_classic.h"
#include "kernels/pfr_dqn.h"
#include "kernels/pfr_dqn_block.h"
}
#include "neural/dqn_steps.h"

namespace {

struct Replay {
    std::vector<float> obs, next, reward;
    std::vector<uint8_t> action, done;
    pfr_replay rb;
    Replay(int cap, int n_obs)
        : obs((size_t)cap * n_obs), next((size_t)cap * n_obs), reward(cap), action(cap), done(cap)
    {
        rb = {cap, n_obs, 0, 0, obs.data(), next.data(), reward.data(), action.data(), done.data()};
    }
};

// One learner: online and target networks, Adam's moments, scratch.
struct Learner {
    pfr_mlp m;
    int A, d;
    std::vector<float> p, theta, pt, tt, gp, gt, mp, vp, mt, vt, scratch;
    Learner(std::vector<int> widths, int A_, unsigned seed) : A(A_)
    {
        m.layers = (int)widths.size() - 1;
        for (size_t l = 0; l < widths.size(); ++l)
            m.width[l] = widths[l];
        m.act = PFR_MLP_RELU;
        d = widths.back();
        const int np = pfr_mlp_params(&m);
        p.resize(np);
        std::mt19937 rng(seed);
        size_t off = 0; // He-style scale per layer, biases 0
        for (int l = 0; l < m.layers; ++l) {
            std::normal_distribution<float> z(0.0f, std::sqrt(2.0f / (float)m.width[l]));
            for (int k = 0; k < m.width[l + 1] * m.width[l]; ++k)
                p[off++] = z(rng);
            for (int k = 0; k < m.width[l + 1]; ++k)
                p[off++] = 0.0f;
        }
        std::normal_distribution<float> zh(0.0f, std::sqrt(1.0f / (float)d));
        theta.resize((size_t)A * d);
        for (float &v : theta)
            v = zh(rng);
        pt = p;
        tt = theta;
        gp.assign(np, 0.0f);
        mp.assign(np, 0.0f);
        vp.assign(np, 0.0f);
        gt.assign(theta.size(), 0.0f);
        mt.assign(theta.size(), 0.0f);
        vt.assign(theta.size(), 0.0f);
        int wmax = 0;
        for (int l = 1; l <= m.layers; ++l)
            wmax = std::max(wmax, m.width[l]);
        scratch.assign((size_t)pfr_mlp_acts(&m) + 2 * wmax, 0.0f);
    }
    float step(const pfr_replay &rb, const std::vector<int> &idx, const pfr_dqn_cfg &c, int t)
    {
        return pfr_dqn_step(&m, A, p.data(), theta.data(), pt.data(), tt.data(), &rb, idx.data(), &c, gp.data(), gt.data(),
                            mp.data(), vp.data(), mt.data(), vt.data(), t, scratch.data());
    }
    int act(const float *obs, uint32_t w1, uint32_t w2, uint64_t thr)
    {
        const float *f = pfr_mlp_forward(&m, p.data(), obs, scratch.data());
        return pfr_dqn_act(theta.data(), f, A, d, w1, w2, thr);
    }
};

} // namespace

TEST(Dqn, ReplayRingKeepsTheNewest)
{
    Replay r(3, 2);
    for (int k = 0; k < 5; ++k) {
        const float o[2] = {(float)k, -(float)k}, n[2] = {(float)k + 0.5f, 0.0f};
        pfr_replay_add(&r.rb, o, k % 2, 10.0f * k, n, k == 4);
    }
    EXPECT_EQ(r.rb.size, 3);
    EXPECT_EQ(r.rb.head, 2);
    // slots 0, 1, 2 hold transitions 3, 4, 2
    EXPECT_EQ(r.obs[0], 3.0f);
    EXPECT_EQ(r.obs[2], 4.0f);
    EXPECT_EQ(r.obs[4], 2.0f);
    EXPECT_EQ(r.reward[1], 40.0f);
    EXPECT_EQ(r.done[1], 1);
    EXPECT_EQ(r.done[0], 0);
    EXPECT_EQ(r.action[2], 0);
    EXPECT_EQ(pfr_replay_pick(&r.rb, 0), 0);
    EXPECT_EQ(pfr_replay_pick(&r.rb, 0xFFFFFFFFu), 2);
}

// A small step on a fixed minibatch lowers that minibatch's loss (both losses, squared and Huber).
TEST(Dqn, StepLowersItsMinibatchLoss)
{
    for (int huber : {0, 1}) {
        Learner L({4, 16, 8}, 2, 3);
        Replay r(64, 4);
        std::mt19937 rng(5);
        std::normal_distribution<float> z(0.0f, 1.0f);
        for (int k = 0; k < 64; ++k) {
            const float o[4] = {z(rng), z(rng), z(rng), z(rng)}, n[4] = {z(rng), z(rng), z(rng), z(rng)};
            pfr_replay_add(&r.rb, o, k % 2, 3.0f * z(rng), n, k % 5 == 0);
        }
        std::vector<int> idx(16);
        for (int b = 0; b < 16; ++b)
            idx[b] = 4 * b + 1;
        const pfr_dqn_cfg c = {0.9f, 1e-3f, 0.9f, 0.999f, 1e-8f, 16, huber, 0, 0};
        const float before = L.step(r.rb, idx, c, 1);
        const float after = L.step(r.rb, idx, c, 2);
        EXPECT_LT(after, before) << "huber " << huber;
        EXPECT_GT(before, 0.0f);
    }
}

// The whole loop, one agent: epsilon-greedy steps (1 -> 0.05 over 5,000 steps) into the replay
// buffer, a gradient step per environment step from step 500 on (Adam 5e-4, batch 32, Huber), the
// target network synced every 500 gradient steps. After 20,000 steps the greedy policy balances far
// longer than a random one (about 22 steps) or the untrained network (about 10): 80.8 here. A
// learning check, not a benchmark: deterministic (fixed seeds), and DQN on CartPole is unstable
// enough that other settings land anywhere from 12 to 100+ at this length.
TEST(Dqn, OneAgentLearnsCartPole)
{
    Learner L({4, 64, 32}, 2, 11);
    Replay r(10000, 4);
    const pfr_dqn_cfg c = {0.99f, 5e-4f, 0.9f, 0.999f, 1e-8f, 32, 1, 0, 0};
    const pfr_cartpole cp = pfr_cartpole_default();
    std::mt19937 rng(7);
    auto word = [&]() { return (uint32_t)rng(); };
    auto uniform = [&]() { return (double)(rng() >> 5) * (1.0 / 134217728.0); };
    double s[4], u[4];
    for (double &x : u)
        x = uniform();
    pfr_cartpole_reset(s, u);
    int t_ep = 0, grad_steps = 0;
    std::vector<int> idx(c.batch);
    const int steps = 20000;
    for (int t = 0; t < steps; ++t) {
        const double eps = std::max(0.05, 1.0 - t / 5000.0);
        float ob[4], nb[4];
        pfr_cartpole_observe(s, ob);
        const int a = L.act(ob, word(), word(), (uint64_t)(eps * 4294967296.0));
        const int term = pfr_cartpole_step(&cp, s, a);
        ++t_ep;
        const pfr_classic_end e = pfr_classic_end_of(term, t_ep, PFR_CARTPOLE_MAX_STEPS, 0);
        pfr_cartpole_observe(s, nb);
        pfr_replay_add(&r.rb, ob, a, 1.0f, nb, e.terminated);
        if (e.terminated || e.truncated) {
            for (double &x : u)
                x = uniform();
            pfr_cartpole_reset(s, u);
            t_ep = 0;
        }
        if (r.rb.size >= 500) {
            for (int &i : idx)
                i = pfr_replay_pick(&r.rb, word());
            L.step(r.rb, idx, c, ++grad_steps);
            if (grad_steps % 500 == 0) {
                L.pt = L.p;
                L.tt = L.theta;
            }
        }
    }
    double total = 0;
    for (int ep = 0; ep < 5; ++ep) { // greedy episodes
        for (double &x : u)
            x = uniform();
        pfr_cartpole_reset(s, u);
        int len = 0;
        for (;;) {
            float ob[4];
            pfr_cartpole_observe(s, ob);
            const int term = pfr_cartpole_step(&cp, s, L.act(ob, 0xFFFFFFFFu, 0, 0));
            ++len;
            if (term || len >= PFR_CARTPOLE_MAX_STEPS)
                break;
        }
        total += len;
    }
    std::printf("dqn: greedy return over 5 episodes after %d steps: %.1f\n", steps, total / 5);
    EXPECT_GT(total / 5, 60.0);
}

// The engine's step in every instruction set's copy this CPU can run (host/neural/dqn_steps.c: the
// template dqn_lanes.h with 16, 8 or 4 lanes) against the reference, bit for bit: batches below, at
// and above a group of lanes, both losses and activations, SGD and Adam, terminal and bootstrapped
// transitions, a frozen body (batch 21), the loss, every gradient and the new weights. Copies the
// CPU cannot run are named as skipped, not run as something else.
TEST(Dqn, EveryInstructionSetsStepEqualsTheReference)
{
    struct Shape {
        std::vector<int> widths;
        int A, batch, huber, act, sgd;
    } shapes[] = {{{4, 16, 8}, 2, 16, 0, PFR_MLP_RELU, 0}, {{6, 32, 32, 16}, 3, 37, 1, PFR_MLP_TANH, 0},
                  {{4, 8}, 2, 5, 0, PFR_MLP_RELU, 1},      {{4, 64, 16}, 2, 32, 1, PFR_MLP_RELU, 0},
                  {{4, 64, 16}, 2, 21, 0, PFR_MLP_RELU, 0}};
    int npaths = 0;
    const pfr_dqn_step_path *paths = pfr_dqn_step_paths(&npaths);
    std::string skipped;
    for (int k = 0; k < npaths; ++k) {
        if (!paths[k].supported()) {
            skipped += std::string(" ") + paths[k].name;
            continue;
        }
        for (const Shape &sh : shapes) {
            Learner ref(sh.widths, sh.A, 17), vec(sh.widths, sh.A, 17);
            ref.m.act = vec.m.act = sh.act;
            vec.scratch.assign(pfr_dqn_step_scratch(&vec.m), 0.0f);
            const int n_obs = sh.widths[0];
            Replay r(200, n_obs);
            std::mt19937 rng(9);
            std::normal_distribution<float> z(0.0f, 1.0f);
            for (int j = 0; j < 200; ++j) {
                std::vector<float> o(n_obs), nx(n_obs);
                for (int q = 0; q < n_obs; ++q)
                    o[q] = z(rng), nx[q] = z(rng);
                pfr_replay_add(&r.rb, o.data(), j % sh.A, 2.0f * z(rng), nx.data(), j % 7 == 0);
            }
            const pfr_dqn_cfg c = {0.95f, 3e-3f, 0.9f, 0.999f, 1e-8f, sh.batch, sh.huber, sh.sgd, sh.batch == 21};
            for (int step = 1; step <= 4; ++step) {
                std::vector<int> idx(sh.batch);
                for (int &i : idx)
                    i = (int)(rng() % 200);
                const float l0 = ref.step(r.rb, idx, c, step);
                const float l1 = paths[k].step(&vec.m, vec.A, vec.p.data(), vec.theta.data(), vec.pt.data(),
                                               vec.tt.data(), &r.rb, idx.data(), &c, vec.gp.data(), vec.gt.data(),
                                               vec.mp.data(), vec.vp.data(), vec.mt.data(), vec.vt.data(), step,
                                               vec.scratch.data());
                const std::string at = std::string(paths[k].name) + ", batch " + std::to_string(sh.batch);
                ASSERT_EQ(std::memcmp(&l0, &l1, 4), 0) << "loss, " << at << " step " << step;
                ASSERT_EQ(ref.gp, vec.gp) << "body gradient, " << at;
                ASSERT_EQ(ref.gt, vec.gt) << "head gradient, " << at;
                ASSERT_EQ(ref.p, vec.p) << "body after the step, " << at;
                ASSERT_EQ(ref.theta, vec.theta) << "head after the step, " << at;
            }
        }
    }
    if (!skipped.empty())
        GTEST_SKIP() << "this CPU cannot run:" << skipped;
}

// The step written for a block of threads (kernels/pfr_dqn_block.h, a GPU block per agent) against
// the reference, bit for bit, with its threads run one at a time on the CPU: 1, 7 and 128 threads,
// each phase's threads in order and in reverse (no thread may depend on another within a phase), the
// shapes above (tanh, Huber, SGD, a frozen body, several hidden layers, a batch of 37).
TEST(Dqn, BlockStepEqualsTheReferenceForAnyThreadCount)
{
    struct Shape {
        std::vector<int> widths;
        int A, batch, huber, act, sgd;
    } shapes[] = {{{4, 16, 8}, 2, 16, 0, PFR_MLP_RELU, 0}, {{6, 32, 32, 16}, 3, 37, 1, PFR_MLP_TANH, 0},
                  {{4, 8}, 2, 5, 0, PFR_MLP_RELU, 1},      {{4, 64, 16}, 2, 32, 1, PFR_MLP_RELU, 0},
                  {{4, 64, 16}, 2, 21, 0, PFR_MLP_RELU, 0}, {{6, 3, 5, 2}, 3, 9, 0, PFR_MLP_TANH, 0}};
    for (const Shape &sh : shapes)
        for (int nt : {1, 7, 128})
            for (int reverse : {0, 1}) {
                Learner ref(sh.widths, sh.A, 23), blk(sh.widths, sh.A, 23);
                ref.m.act = blk.m.act = sh.act;
                const int n_obs = sh.widths[0];
                Replay r(100, n_obs);
                std::mt19937 rng(5);
                std::normal_distribution<float> z(0.0f, 1.0f);
                for (int j = 0; j < 100; ++j) {
                    std::vector<float> o(n_obs), nx(n_obs);
                    for (int q = 0; q < n_obs; ++q)
                        o[q] = z(rng), nx[q] = z(rng);
                    pfr_replay_add(&r.rb, o.data(), j % sh.A, 2.0f * z(rng), nx.data(), j % 5 == 0);
                }
                const pfr_dqn_cfg c = {0.95f, 3e-3f, 0.9f, 0.999f, 1e-8f, sh.batch, sh.huber, sh.sgd, sh.batch == 21};
                std::vector<float> scratch((size_t)pfr_dqn_block_scratch(&blk.m, sh.batch), NAN);
                for (int step = 1; step <= 3; ++step) {
                    std::vector<int> idx(sh.batch);
                    for (int &i : idx)
                        i = (int)(rng() % 100);
                    const float l0 = ref.step(r.rb, idx, c, step);
                    float l1 = NAN;
                    pfr_dqn_block s = {&blk.m, blk.A, &c, blk.p.data(), blk.theta.data(), blk.pt.data(), blk.tt.data(),
                                       &r.rb, idx.data(), blk.gp.data(), blk.gt.data(), blk.mp.data(), blk.vp.data(),
                                       blk.mt.data(), blk.vt.data(), step, nullptr, nullptr, nullptr, nullptr, nullptr,
                                       nullptr, 0, &l1};
                    pfr_dqn_block_carve(&s, scratch.data());
                    for (int phase = 0; phase < pfr_dqn_block_phases(&blk.m); ++phase)
                        for (int k = 0; k < nt; ++k)
                            pfr_dqn_block_phase(&s, phase, reverse ? nt - 1 - k : k, nt);
                    const std::string at = "widths " + std::to_string(sh.widths[1]) + ", batch " +
                                           std::to_string(sh.batch) + ", " + std::to_string(nt) + " threads" +
                                           (reverse ? " reversed" : "") + ", step " + std::to_string(step);
                    ASSERT_EQ(std::memcmp(&l0, &l1, 4), 0) << "loss, " << at;
                    ASSERT_EQ(ref.gp, blk.gp) << "body gradient, " << at;
                    ASSERT_EQ(ref.gt, blk.gt) << "head gradient, " << at;
                    ASSERT_EQ(ref.p, blk.p) << "body after the step, " << at;
                    ASSERT_EQ(ref.theta, blk.theta) << "head after the step, " << at;
                    ASSERT_EQ(ref.mp, blk.mp) << "moments, " << at;
                    ASSERT_EQ(ref.vt, blk.vt) << "moments, " << at;
                }
                // the action's forward pass, one observation through the block's threads
                std::vector<float> a0((size_t)pfr_mlp_acts(&blk.m)), a1(a0.size(), NAN);
                for (int q = 0; q < n_obs; ++q)
                    a1[q] = z(rng);
                const float *f0 = pfr_mlp_forward(&blk.m, blk.p.data(), a1.data(), a0.data());
                for (int l = 0; l < blk.m.layers; ++l)
                    for (int k = 0; k < nt; ++k)
                        pfr_dqn_block_forward_one(&blk.m, blk.p.data(), a1.data(), l, reverse ? nt - 1 - k : k, nt);
                ASSERT_EQ(std::memcmp(a0.data(), a1.data(), 4 * a0.size()), 0) << "one observation's forward pass";
                ASSERT_EQ(f0, a0.data() + pfr_dqn_block_aoff(&blk.m, blk.m.layers));
            }
}

namespace {

// tests/fixtures/dqn_reference.txt (scripts/dqn_reference.py): per case, named arrays of doubles.
std::vector<std::map<std::string, std::vector<double>>> read_reference(std::vector<std::string> *names)
{
    std::ifstream in(std::string(PFR_SOURCE_DIR) + "/tests/fixtures/dqn_reference.txt");
    std::vector<std::map<std::string, std::vector<double>>> cases;
    std::string word;
    while (in >> word) {
        if (word[0] == '#') {
            std::getline(in, word);
        } else if (word == "case") {
            in >> word;
            names->push_back(word);
            cases.emplace_back();
        } else if (word != "end") {
            size_t n = 0;
            in >> n;
            std::vector<double> v(n);
            for (double &x : v)
                in >> x;
            cases.back()[word] = v;
        }
    }
    return cases;
}

// The largest |a - b| over the largest |b| (at least 1): agreement to 1e-5 of the values' scale.
double scaled_diff(const std::vector<float> &a, const std::vector<double> &b)
{
    double d = 0.0, s = 1.0;
    EXPECT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size() && k < b.size(); ++k) {
        d = std::max(d, std::fabs((double)a[k] - b[k]));
        s = std::max(s, std::fabs(b[k]));
    }
    return d / s;
}

} // namespace

// The reference step against an independent implementation (NumPy, float64, matrix form: forward,
// back-propagation, Adam and SGD) on the same weights and minibatch, two steps each: the loss, every
// gradient and the new weights agree to 1e-5 of their scale (float against double).
TEST(Dqn, StepEqualsAnIndependentNumPyImplementation)
{
    std::vector<std::string> names;
    const auto cases = read_reference(&names);
    ASSERT_EQ(cases.size(), 3u) << "tests/fixtures/dqn_reference.txt";
    for (size_t ci = 0; ci < cases.size(); ++ci) {
        const auto &c = cases[ci];
        std::vector<int> widths;
        for (double w : c.at("widths"))
            widths.push_back((int)w);
        const int A = (int)c.at("A")[0], B = (int)c.at("reward").size(), n_obs = widths[0];
        Learner L(widths, A, 1);
        L.m.act = (int)c.at("act")[0];
        auto load = [](std::vector<float> &dst, const std::vector<double> &src) {
            ASSERT_EQ(dst.size(), src.size());
            for (size_t k = 0; k < src.size(); ++k)
                dst[k] = (float)src[k];
        };
        load(L.p, c.at("body"));
        load(L.theta, c.at("head"));
        load(L.pt, c.at("body_tgt"));
        load(L.tt, c.at("head_tgt"));
        Replay r(B, n_obs);
        for (int b = 0; b < B; ++b) {
            std::vector<float> o(n_obs), nx(n_obs);
            for (int j = 0; j < n_obs; ++j)
                o[j] = (float)c.at("obs")[(size_t)b * n_obs + j], nx[j] = (float)c.at("next")[(size_t)b * n_obs + j];
            pfr_replay_add(&r.rb, o.data(), (int)c.at("action")[b], (float)c.at("reward")[b], nx.data(),
                           (int)c.at("done")[b]);
        }
        std::vector<int> idx(B);
        for (int b = 0; b < B; ++b)
            idx[b] = b;
        const pfr_dqn_cfg cfg = {(float)c.at("gamma")[0], (float)c.at("lr")[0], 0.9f, 0.999f, 1e-8f, B,
                                 (int)c.at("huber")[0], (int)c.at("sgd")[0], 0};
        for (int t = 1; t <= 2; ++t) {
            const std::string k = "_" + std::to_string(t), at = names[ci] + " step " + std::to_string(t);
            const float loss = L.step(r.rb, idx, cfg, t);
            const double want = c.at("loss" + k)[0];
            EXPECT_LT(std::fabs(loss - want), 1e-5 * std::max(1.0, std::fabs(want))) << at;
            EXPECT_LT(scaled_diff(L.gp, c.at("gbody" + k)), 1e-5) << "body gradient, " << at;
            EXPECT_LT(scaled_diff(L.gt, c.at("ghead" + k)), 1e-5) << "head gradient, " << at;
            EXPECT_LT(scaled_diff(L.p, c.at("body" + k)), 1e-5) << "body after the step, " << at;
            EXPECT_LT(scaled_diff(L.theta, c.at("head" + k)), 1e-5) << "head after the step, " << at;
        }
    }
}
