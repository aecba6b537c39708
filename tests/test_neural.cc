// The neural instance's engine (host/neural/): a round over N agents gives the same bits on any
// thread count and after a checkpoint; the server's body (and fedavg's head) is the participants'
// mean in the ordered contract's summation order, recomputed here from local_dqn's agents; config
// mistakes are refused with what is allowed; CartPole and Acrobot runs learn.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engine.h"
#include "neural/neural.h"
#include "tests/test_sim.h"
#include "tests/test_temp.h"

namespace {

using pfr_test::Overrides;

Overrides cartpole(Overrides extra = {})
{
    Overrides o = {{"env.kind", "cartpole"}, {"algorithm", "pfeddqn_rep"}, {"agents", "20"}, {"dim", "8"},
                   {"dqn.hidden", "16"},      {"local_steps", "40"},         {"rounds", "3"},   {"dqn.learn_start", "20"},
                   {"dqn.batch", "8"},        {"eval_every", "1"},           {"threads", "1"}};
    for (const auto &kv : extra)
        o[kv.first] = kv.second;
    return o;
}

// What a run computes, the clocks left out: every agent's body and head, and the metrics.
struct Nets {
    std::vector<float> body, head;
    std::vector<double> metrics;
};

Nets capture(pfr_sim *s)
{
    Nets x;
    const int64_t N = pfr_sim_config(s)->agents, P = pfr_sim_body_size(s);
    const int64_t H = (int64_t)pfr_sim_num_actions(s) * pfr_sim_config(s)->dim;
    x.body.resize((size_t)(N * P));
    x.head.resize((size_t)(N * H));
    for (int64_t i = 0; i < N; ++i) {
        EXPECT_EQ(pfr_sim_get_body(s, i, x.body.data() + i * P, (size_t)P), PFR_OK);
        EXPECT_EQ(pfr_sim_get_head(s, i, x.head.data() + i * H, (size_t)H), PFR_OK);
    }
    for (size_t k = 0; k < pfr_sim_metrics_count(s); ++k) {
        pfr_metrics m;
        EXPECT_EQ(pfr_sim_metrics_get(s, k, &m, sizeof m), PFR_OK);
        for (double v : {(double)m.round, (double)m.agent_steps, m.greedy_return, m.success_rate, m.td_loss,
                         m.heldout_return, m.participants})
            x.metrics.push_back(v);
    }
    return x;
}

bool same_bits(const std::vector<double> &a, const std::vector<double> &b)
{
    if (a.size() != b.size())
        return false;
    for (size_t k = 0; k < a.size(); ++k)
        if (!(a[k] == b[k] || (std::isnan(a[k]) && std::isnan(b[k]))))
            return false;
    return true;
}

Nets run(const Overrides &o, int64_t rounds)
{
    pfr_sim *s = pfr_test::make_sim(o);
    if (!s)
        return {};
    EXPECT_EQ(pfr_sim_run(s, rounds), PFR_OK) << pfr_sim_last_error(s);
    Nets x = capture(s);
    pfr_sim_destroy(s);
    return x;
}

} // namespace

TEST(Neural, ThreadCountChangesNoBit)
{
    for (const char *alg : {"pfeddqn_rep", "local_dqn", "fedavg_dqn"}) {
        const Nets one = run(cartpole({{"algorithm", alg}, {"threads", "1"}, {"participation", "0.8"}}), 3);
        const Nets three = run(cartpole({{"algorithm", alg}, {"threads", "3"}, {"participation", "0.8"}}), 3);
        ASSERT_FALSE(one.body.empty());
        EXPECT_EQ(one.body, three.body) << alg;
        EXPECT_EQ(one.head, three.head) << alg;
        EXPECT_TRUE(same_bits(one.metrics, three.metrics)) << alg;
        EXPECT_GT(one.metrics[one.metrics.size() - 3], 0.0) << alg << ": gradient steps were taken (td_loss)";
    }
}

// Round 0 is the same for every algorithm until the server acts (the same first body, heads and
// streams), so local_dqn's agents after one round are what PFedDQN-Rep's server averages: its body
// must be their mean over the participants, summed per 256-agent block in agent order in double, then
// over blocks in order, times 1 / participants, rounded once; fedavg_dqn's head likewise.
TEST(Neural, ServerMeanIsTheOrderedMeanOfTheParticipants)
{
    const Overrides base = cartpole({{"agents", "300"}, {"participation", "0.7"}, {"threads", "2"}});
    Overrides loc = base, fed = base, avg = base;
    loc["algorithm"] = "local_dqn";
    avg["algorithm"] = "fedavg_dqn";
    const Nets L = run(loc, 1), F = run(fed, 1), V = run(avg, 1);
    ASSERT_FALSE(L.body.empty());
    const int64_t N = 300;
    const size_t P = L.body.size() / N, H = L.head.size() / N;
    const uint64_t thr = pfr_participation_threshold(0.7);
    std::vector<int> part(N);
    uint64_t n = 0;
    for (int64_t i = 0; i < N; ++i) // word PFR_WORD_PARTICIPATION of the agent's first step
        n += (part[i] = pfr_stream_words(0, (uint64_t)i, 0).w[PFR_WORD_PARTICIPATION] < thr);
    ASSERT_GT(n, 150u);
    ASSERT_LT(n, (uint64_t)N);
    auto ordered_mean = [&](const std::vector<float> &x, size_t width, size_t e) {
        double total = 0.0;
        for (int64_t b0 = 0; b0 < N; b0 += PFR_AGENT_BLOCK) {
            double block = 0.0;
            for (int64_t i = b0; i < std::min<int64_t>(N, b0 + PFR_AGENT_BLOCK); ++i)
                if (part[i])
                    block += (double)x[(size_t)i * width + e];
            total += block;
        }
        return (float)(total * (1.0 / (double)n));
    };
    size_t differs_from_agent0 = 0;
    for (size_t e = 0; e < P; ++e) {
        const float want = ordered_mean(L.body, P, e);
        for (int64_t i : {0, 1, 299}) { // every agent, those that sat out included, holds the server's body
            ASSERT_EQ(F.body[(size_t)i * P + e], want) << "entry " << e << " agent " << i;
            ASSERT_EQ(V.body[(size_t)i * P + e], want) << "entry " << e << " agent " << i;
        }
        differs_from_agent0 += want != L.body[e];
    }
    EXPECT_GT(differs_from_agent0, P / 2) << "the agents' bodies moved apart in the round";
    for (size_t e = 0; e < H; ++e) {
        EXPECT_EQ(V.head[e], ordered_mean(L.head, H, e)) << "fedavg head entry " << e;
        EXPECT_EQ(V.head[H * 299 + e], V.head[e]);
        EXPECT_EQ(F.head[e], L.head[e]) << "PFedDQN-Rep keeps each head";
    }
}

TEST(Neural, CheckpointResumesBitForBit)
{
    for (const char *alg : {"pfeddqn_rep", "local_dqn"}) {
        const Overrides o = cartpole({{"algorithm", alg}, {"dqn.buffer", "50"}});
        const Nets straight = run(o, 4);
        pfr_sim *s = pfr_test::make_sim(o);
        ASSERT_NE(s, nullptr);
        ASSERT_EQ(pfr_sim_run(s, 2), PFR_OK);
        const std::string path = pfr_test::temp_file("pfedrl_neural_ckpt_");
        pfr_error err;
        ASSERT_EQ(pfr_sim_save(s, path.c_str(), &err), PFR_OK) << err.msg;
        pfr_sim_destroy(s);
        pfr_sim *t = nullptr;
        ASSERT_EQ(pfr_sim_load(path.c_str(), nullptr, 0, nullptr, nullptr, &t, &err), PFR_OK) << err.msg;
        ASSERT_EQ(pfr_sim_run(t, 2), PFR_OK) << pfr_sim_last_error(t);
        const Nets resumed = capture(t);
        pfr_sim_destroy(t);
        std::remove(path.c_str());
        EXPECT_EQ(straight.body, resumed.body) << alg;
        EXPECT_EQ(straight.head, resumed.head) << alg;
        EXPECT_TRUE(same_bits(straight.metrics, resumed.metrics)) << alg;
    }
}

TEST(Neural, ConfigMistakesNameWhatIsAllowed)
{
    struct Case {
        Overrides o;
        const char *says;
    } cases[] = {
        {{{"env.kind", "cartpole"}}, "allowed: pfeddqn_rep, local_dqn, fedavg_dqn"},
        {{{"algorithm", "pfeddqn_rep"}}, "needs env.kind cartpole or acrobot"},
        {{{"dqn.hidden", "32"}}, "applies to env.kind cartpole, acrobot only"},
        {{{"env.kind", "acrobot"}, {"algorithm", "local_dqn"}, {"alpha", "0.5"}}, "alpha=0.5 does nothing"},
        {{{"env.kind", "cartpole"}, {"algorithm", "local_dqn"}, {"dqn.batch", "64"}, {"dqn.buffer", "32"}},
         "allowed: a batch of at most the buffer"},
        {{{"env.kind", "cartpole"}, {"algorithm", "local_dqn"}, {"dqn.learn_start", "64"}, {"dqn.buffer", "32"}},
         "learn_start = 64 exceeds dqn.buffer"},
        {{{"env.kind", "cartpole"}, {"algorithm", "local_dqn"}, {"env.param_min", "0"}, {"env.param_max", "2"}},
         "must be positive"},
        {{{"env.kind", "cartpole"}, {"algorithm", "local_dqn"}, {"federation.clip", "1"}}, "does nothing with env.kind=cartpole"},
    };
    for (const Case &c : cases) {
        std::string msg;
        pfr_sim *s = pfr_test::make_sim(c.o, PFR_ERR_CONFIG, &msg);
        pfr_sim_destroy(s);
        EXPECT_NE(msg.find(c.says), std::string::npos) << msg;
    }
    pfr_sim *s = pfr_test::make_sim(cartpole({{"rounds", "1"}}));
    ASSERT_NE(s, nullptr);
    std::vector<float> phi(8);
    EXPECT_EQ(pfr_sim_get_phi(s, phi.data(), phi.size()), PFR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(pfr_sim_last_error(s)).find("networks, not chains"), std::string::npos);
    EXPECT_EQ(pfr_sim_get_body(s, 20, phi.data(), phi.size()), PFR_ERR_INVALID_ARGUMENT); // agent out of range
    pfr_sim_destroy(s);
}

// Short runs of both families: the returns lie in each family's range, the parameters in theirs, and
// the evaluation does not touch the training (an evaluation run twice on a round gives the same).
TEST(Neural, BothFamiliesRunAndEvaluateRepeatably)
{
    for (const char *kind : {"cartpole", "acrobot"}) {
        pfr_sim *s = pfr_test::make_sim(cartpole({{"env.kind", kind}, {"dqn.optimizer", "sgd"}, {"dqn.loss", "mse"},
                                                  {"dqn.eval_episodes", "2"}}));
        ASSERT_NE(s, nullptr);
        ASSERT_EQ(pfr_sim_run(s, 2), PFR_OK) << pfr_sim_last_error(s);
        pfr_metrics a, b;
        ASSERT_EQ(pfr_sim_evaluate(s, &a, sizeof a), PFR_OK);
        ASSERT_EQ(pfr_sim_evaluate(s, &b, sizeof b), PFR_OK);
        EXPECT_EQ(a.greedy_return, b.greedy_return);
        EXPECT_EQ(a.heldout_return, b.heldout_return);
        const bool cart = std::string(kind) == "cartpole";
        EXPECT_GE(a.greedy_return, cart ? 1.0 : -500.0) << kind;
        EXPECT_LE(a.greedy_return, cart ? 500.0 : 0.0) << kind;
        EXPECT_TRUE(std::isnan(a.value_error));
        EXPECT_EQ(pfr_sim_num_actions(s), cart ? 2 : 3);
        const pfr_neural *nn = s->neural;
        for (int64_t i = 0; i < 20; ++i) {
            EXPECT_GE(nn->param[i], cart ? 0.1 : 0.5);
            EXPECT_LT(nn->param[i], cart ? 0.9 : 1.5);
            // bin = type: agent i's parameter in the i mod 4 quarter of the range
            const double q = (nn->param[i] - nn->lo) / (nn->hi - nn->lo) * 4.0;
            EXPECT_EQ((int)q, (int)(i % 4)) << kind << " agent " << i;
        }
        pfr_sim_destroy(s);
    }
}

// Learning checks with stated budgets, not benchmarks (the printed returns are what was measured).
// One agent alone (local_dqn, N = 1, the defaults: Jin et al.'s network sizes, MSE): from ~5-30
// steps untrained to a greedy return of at least 195 of 500 within 20,000 steps, seeds 1-3 (measured
// 500, 500, 355; seed 4: 498). Then PFedDQN-Rep with eight agents of different pole lengths: above
// 150 after 15,000 steps each (measured 211, 229, 251). About 1 s and 8 s per seed on one core.
TEST(Neural, AgentsLearnCartPole)
{
    for (const char *seed : {"1", "2", "3"}) {
        for (const char *alg : {"local_dqn", "pfeddqn_rep"}) {
            const bool one = std::string(alg) == "local_dqn";
            pfr_sim *s = pfr_test::make_sim({{"env.kind", "cartpole"}, {"algorithm", alg}, {"agents", one ? "1" : "8"},
                                            {"dim", "16"}, {"local_steps", "100"}, {"eval_every", "1000"},
                                            {"seed", seed}, {"threads", "2"}});
            ASSERT_NE(s, nullptr);
            ASSERT_EQ(pfr_sim_run(s, one ? 200 : 150), PFR_OK) << pfr_sim_last_error(s);
            pfr_metrics m;
            ASSERT_EQ(pfr_sim_metrics_get(s, pfr_sim_metrics_count(s) - 1, &m, sizeof m), PFR_OK);
            std::printf("%s seed %s: greedy return %.1f (held out %.1f) after %llu agent-steps\n", alg, seed,
                        m.greedy_return, m.heldout_return, (unsigned long long)m.agent_steps);
            EXPECT_GE(m.greedy_return, one ? 195.0 : 150.0) << alg << " seed " << seed;
            pfr_sim_destroy(s);
        }
    }
}

// The generalization protocol's pieces: a body from a file (a run's body.npy) for every agent, kept
// fixed while the heads learn; a file of the wrong size refused with the body's size named.
TEST(Neural, TrainedBodyFromAFileStaysFrozenWhileHeadsLearn)
{
    const std::string dir = pfr_test::temp_dir("pfedrl_neural_body_");
    pfr_sim *a = pfr_test::make_sim(cartpole({{"rounds", "2"}}));
    ASSERT_NE(a, nullptr);
    ASSERT_EQ(pfr_sim_run(a, 2), PFR_OK);
    const int64_t P = pfr_sim_body_size(a);
    std::vector<float> body((size_t)P);
    ASSERT_EQ(pfr_sim_get_body(a, 0, body.data(), body.size()), PFR_OK);
    pfr_sim_destroy(a);
    std::vector<double> bd(body.begin(), body.end());
    const int64_t shape[1] = {P};
    pfr_error err;
    ASSERT_EQ(pfr_npy_save_f64((dir + "/body.npy").c_str(), bd.data(), 1, shape, &err), PFR_OK) << err.msg;
    pfr_sim *b = pfr_test::make_sim(cartpole({{"dqn.init_body", dir + "/body.npy"}, {"dqn.freeze_body", "true"},
                                              {"seed", "5"}, {"env.type_first", "3"}, {"env.type_count", "1"}}));
    ASSERT_NE(b, nullptr);
    std::vector<float> head0(16), head1(16), got((size_t)P);
    ASSERT_EQ(pfr_sim_get_head(b, 7, head0.data(), head0.size()), PFR_OK);
    ASSERT_EQ(pfr_sim_run(b, 3), PFR_OK) << pfr_sim_last_error(b);
    ASSERT_EQ(pfr_sim_get_head(b, 7, head1.data(), head1.size()), PFR_OK);
    for (int64_t i : {0, 19}) {
        ASSERT_EQ(pfr_sim_get_body(b, i, got.data(), got.size()), PFR_OK);
        EXPECT_EQ(got, body) << "agent " << i << "'s body moved";
    }
    EXPECT_NE(head0, head1) << "the heads learned nothing";
    EXPECT_GE(b->neural->param[0], 0.7); // bin 3 of 4: pole half-lengths 0.7 .. 0.9
    pfr_sim_destroy(b);
    std::string msg;
    pfr_sim *c = pfr_test::make_sim(cartpole({{"dqn.init_body", dir + "/body.npy"}, {"dqn.hidden", "8"}}),
                                    PFR_ERR_CONFIG, &msg);
    pfr_sim_destroy(c);
    EXPECT_NE(msg.find("parameters; allowed: a ["), std::string::npos) << msg;
}

// The agents' physics from a file ([N], or [N, 2] with the held-out ones), refused at another shape
// or a non-positive value; a checkpoint knows its parameters, so a changed file does not resume.
TEST(Neural, ParametersFromAFile)
{
    const std::string dir = pfr_test::temp_dir("pfedrl_neural_param_");
    pfr_error err;
    std::vector<double> own(20), both(40);
    for (int i = 0; i < 20; ++i)
        own[i] = both[2 * i] = 0.2 + 0.03 * i, both[2 * i + 1] = 0.9 - 0.01 * i;
    const int64_t s1[1] = {20}, s2[2] = {20, 2}, s3[1] = {19};
    ASSERT_EQ(pfr_npy_save_f64((dir + "/own.npy").c_str(), own.data(), 1, s1, &err), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_npy_save_f64((dir + "/both.npy").c_str(), both.data(), 2, s2, &err), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_npy_save_f64((dir + "/short.npy").c_str(), own.data(), 1, s3, &err), PFR_OK) << err.msg;
    pfr_sim *a = pfr_test::make_sim(cartpole({{"env.param_file", dir + "/own.npy"}}));
    pfr_sim *b = pfr_test::make_sim(cartpole({{"env.param_file", dir + "/both.npy"}}));
    pfr_sim *d = pfr_test::make_sim(cartpole({}));
    ASSERT_TRUE(a && b && d);
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(a->neural->param[i], own[i]);
        EXPECT_EQ(a->neural->heldout[i], d->neural->heldout[i]) << "[N]: the held-out ones drawn as without a file";
        EXPECT_EQ(b->neural->param[i], both[2 * i]);
        EXPECT_EQ(b->neural->heldout[i], both[2 * i + 1]);
    }
    ASSERT_EQ(pfr_sim_run(b, 1), PFR_OK);
    const std::string ck = dir + "/ck.pfr";
    ASSERT_EQ(pfr_sim_save(b, ck.c_str(), &err), PFR_OK) << err.msg;
    pfr_sim_destroy(a), pfr_sim_destroy(b), pfr_sim_destroy(d);
    both[7] = 0.5; // the file changes under the checkpoint
    ASSERT_EQ(pfr_npy_save_f64((dir + "/both.npy").c_str(), both.data(), 2, s2, &err), PFR_OK) << err.msg;
    pfr_sim *c = nullptr;
    EXPECT_EQ(pfr_sim_load(ck.c_str(), nullptr, 0, nullptr, nullptr, &c, &err), PFR_ERR_FORMAT);
    EXPECT_NE(std::string(err.msg).find("env.param_file changed since"), std::string::npos) << err.msg;
    pfr_sim_destroy(c);
    std::string msg;
    pfr_sim_destroy(pfr_test::make_sim(cartpole({{"env.param_file", dir + "/short.npy"}}), PFR_ERR_CONFIG, &msg));
    EXPECT_NE(msg.find("allowed: [20]"), std::string::npos) << msg;
    own[3] = -1.0;
    ASSERT_EQ(pfr_npy_save_f64((dir + "/own.npy").c_str(), own.data(), 1, s1, &err), PFR_OK) << err.msg;
    pfr_sim_destroy(pfr_test::make_sim(cartpole({{"env.param_file", dir + "/own.npy"}}), PFR_ERR_CONFIG, &msg));
    EXPECT_NE(msg.find("positive and finite"), std::string::npos) << msg;
}

// dqn.hidden as a list: one width per hidden layer, from --set text or a YAML sequence; the text form
// reads back as the same list; a list of equal widths is the repeated width's network, bit for bit.
TEST(Neural, LayerWidthsFromAList)
{
    pfr_sim *s = pfr_test::make_sim(cartpole({{"dqn.hidden", "[16, 8]"}}));
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(pfr_sim_body_size(s), (4 * 16 + 16) + (16 * 8 + 8) + (8 * 8 + 8)); // 4 -> 16 -> 8 -> dim 8
    char text[64];
    pfr_config_key_value(pfr_sim_config(s), (size_t)pfr_config_find("dqn.hidden"), text, sizeof text);
    EXPECT_STREQ(text, "[16, 8]");
    ASSERT_EQ(pfr_sim_run(s, 1), PFR_OK) << pfr_sim_last_error(s);
    pfr_sim_destroy(s);

    const Nets listed = run(cartpole({{"dqn.hidden", "12,12"}}), 2);
    const Nets repeated = run(cartpole({{"dqn.hidden", "12"}, {"dqn.hidden_layers", "2"}}), 2);
    ASSERT_EQ(listed.body.size(), (size_t)20 * ((4 * 12 + 12) + (12 * 12 + 12) + (12 * 8 + 8)));
    EXPECT_EQ(listed.body, repeated.body);
    EXPECT_TRUE(same_bits(listed.metrics, repeated.metrics));

    const std::string yaml = pfr_test::temp_file("pfedrl_widths_");
    FILE *f = fopen(yaml.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("env:\n  kind: acrobot\nalgorithm: fedavg_dqn\ndqn:\n  hidden: [32, 16, 8]\n", f);
    fclose(f);
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    ASSERT_EQ(pfr_config_load_yaml(&c, yaml.c_str(), &err), PFR_OK) << err.msg;
    EXPECT_EQ(c.dqn.hidden.n, 3);
    EXPECT_EQ(c.dqn.hidden.w[2], 8);
    pfr_config again;
    pfr_config_init(&again);
    pfr_config_key_value(&c, (size_t)pfr_config_find("dqn.hidden"), text, sizeof text);
    ASSERT_EQ(pfr_config_set(&again, "dqn.hidden", text, &err), PFR_OK) << text << ": " << err.msg;
    EXPECT_EQ(memcmp(&again.dqn.hidden, &c.dqn.hidden, sizeof c.dqn.hidden), 0) << text;
}

TEST(Neural, LayerWidthMistakesNameWhatIsAllowed)
{
    struct Bad {
        const char *key, *value, *says;
    } bad[] = {
        {"dqn.hidden", "[16, 0]", "is not a width in [1, 4096] at every place"},
        {"dqn.hidden", "16,x", "is not a width"},
        {"dqn.hidden", "[16, 8", "unmatched bracket"},
        {"dqn.hidden", "1,2,3,4,5,6,7,8", "more than 7 widths"},
        {"dqn.hidden", "", "is not a width"},
    };
    for (const Bad &b : bad) {
        pfr_config c;
        pfr_config_init(&c);
        pfr_error err;
        EXPECT_EQ(pfr_config_set(&c, b.key, b.value, &err), PFR_ERR_CONFIG) << b.value;
        EXPECT_NE(std::string(err.msg).find(b.says), std::string::npos) << err.msg;
        EXPECT_NE(std::string(err.msg).find("allowed: a width in [1, 4096], or a list"), std::string::npos) << err.msg;
    }
    struct Case {
        Overrides o;
        const char *says;
    } cases[] = {
        {cartpole({{"dqn.hidden", "16,8"}, {"dqn.hidden_layers", "3"}}), "lists 2 widths but dqn.hidden_layers = 3"},
        {cartpole({{"dqn.average_moments", "true"}, {"dqn.reset_optimizer", "true"}}), "allowed: one of them"},
        {cartpole({{"dqn.average_moments", "true"}, {"algorithm", "local_dqn"}}), "averages no network"},
        {cartpole({{"dqn.average_moments", "true"}, {"dqn.optimizer", "sgd"}}), "needs dqn.optimizer=adam"},
    };
    for (const Case &c : cases) {
        std::string msg;
        pfr_sim_destroy(pfr_test::make_sim(c.o, PFR_ERR_CONFIG, &msg));
        EXPECT_NE(msg.find(c.says), std::string::npos) << msg;
    }
    const std::string yaml = pfr_test::temp_file("pfedrl_widths_");
    for (const char *text : {"dim: [8, 16]\n", "dqn:\n  hidden: []\n", "dqn:\n  hidden: [[8]]\n"}) {
        FILE *f = fopen(yaml.c_str(), "w");
        ASSERT_NE(f, nullptr);
        fputs(text, f);
        fclose(f);
        pfr_config c;
        pfr_config_init(&c);
        pfr_error err;
        EXPECT_EQ(pfr_config_load_yaml(&c, yaml.c_str(), &err), PFR_ERR_CONFIG) << text;
        EXPECT_NE(std::string(err.msg).find("list"), std::string::npos) << err.msg;
    }
}

// dqn.average_moments: after a round every agent holds the participants' ordered mean of the Adam
// moments the round left (local_dqn's agents, as in the body's test), for the body and, with
// fedavg_dqn, the head; without it each keeps its own.
TEST(Neural, AveragedMomentsAreTheOrderedMeanOfTheParticipants)
{
    const Overrides base = cartpole({{"agents", "300"}, {"participation", "0.7"}, {"threads", "2"}});
    auto moments = [](const Overrides &o, std::vector<float> &bm, std::vector<float> &hm, std::vector<float> &hv) {
        pfr_sim *s = pfr_test::make_sim(o);
        ASSERT_NE(s, nullptr);
        ASSERT_EQ(pfr_sim_run(s, 1), PFR_OK) << pfr_sim_last_error(s);
        const pfr_neural *nn = s->neural;
        bm.assign(nn->body_v, nn->body_v + (size_t)300 * nn->P);
        hm.assign(nn->head_m, nn->head_m + (size_t)300 * nn->H);
        hv.assign(nn->head_v, nn->head_v + (size_t)300 * nn->H);
        pfr_sim_destroy(s);
    };
    Overrides loc = base, fed = base, avg = base;
    loc["algorithm"] = "local_dqn";
    fed["dqn.average_moments"] = avg["dqn.average_moments"] = "true";
    avg["algorithm"] = "fedavg_dqn";
    std::vector<float> Lb, Lh, Lhv, Fb, Fh, Fhv, Vb, Vh, Vhv;
    moments(loc, Lb, Lh, Lhv);
    moments(fed, Fb, Fh, Fhv);
    moments(avg, Vb, Vh, Vhv);
    ASSERT_FALSE(Lb.empty());
    const int64_t N = 300;
    const size_t P = Lb.size() / N, H = Lh.size() / N;
    const uint64_t thr = pfr_participation_threshold(0.7);
    std::vector<int> part(N);
    uint64_t n = 0;
    for (int64_t i = 0; i < N; ++i)
        n += (part[i] = pfr_stream_words(0, (uint64_t)i, 0).w[PFR_WORD_PARTICIPATION] < thr);
    auto ordered_mean = [&](const std::vector<float> &x, size_t width, size_t e) {
        double total = 0.0;
        for (int64_t b0 = 0; b0 < N; b0 += PFR_AGENT_BLOCK) {
            double block = 0.0;
            for (int64_t i = b0; i < std::min<int64_t>(N, b0 + PFR_AGENT_BLOCK); ++i)
                if (part[i])
                    block += (double)x[(size_t)i * width + e];
            total += block;
        }
        return (float)(total * (1.0 / (double)n));
    };
    size_t moved = 0;
    for (size_t e = 0; e < P; ++e) {
        const float want = ordered_mean(Lb, P, e);
        for (int64_t i : {0, 1, 299}) {
            ASSERT_EQ(Fb[(size_t)i * P + e], want) << "body v entry " << e << " agent " << i;
            ASSERT_EQ(Vb[(size_t)i * P + e], want) << "body v entry " << e << " agent " << i;
        }
        moved += want != Lb[e];
    }
    EXPECT_GT(moved, P / 2) << "the agents' moments differed before the mean";
    for (size_t e = 0; e < H; ++e) {
        EXPECT_EQ(Vh[H * 299 + e], ordered_mean(Lh, H, e)) << "fedavg head m entry " << e;
        EXPECT_EQ(Vhv[e], ordered_mean(Lhv, H, e)) << "fedavg head v entry " << e;
        EXPECT_EQ(Fh[e], Lh[e]) << "PFedDQN-Rep keeps each head's moments";
        EXPECT_EQ(Fhv[H * 7 + e], Lhv[H * 7 + e]);
    }
}
