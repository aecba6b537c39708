// Checkpoints, stop requests and setters: a run saved, loaded and run on equals a run that never
// stopped, bit for bit (Phi, every theta_i, every state, every metrics column but the clocks); every
// kind of damaged checkpoint is refused with the file and the problem named.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <zlib.h>

#include "engine.h"
#include "tests/test_sim.h"
#include "tests/test_temp.h"

namespace {

using pfr_test::Overrides;

std::string temp_dir()
{
    return pfr_test::temp_dir("pfedrl_ckpt_");
}

pfr_sim *make(const Overrides &o)
{
    return pfr_test::make_sim(o);
}

// Everything a run computes, with the clocks left out.
struct State {
    std::vector<float> phi, theta, agent_phi;
    std::vector<uint32_t> state;
    std::vector<pfr_metrics> hist;
    std::vector<double> by_type;
    int64_t round = 0;
};

State capture(pfr_sim *s)
{
    State x;
    const int S = pfr_sim_num_states(s), M = pfr_sim_num_types(s), d = pfr_sim_config(s)->dim;
    const int64_t N = pfr_sim_config(s)->agents;
    x.phi.resize((size_t)S * d);
    x.theta.resize((size_t)N * d);
    x.state.resize((size_t)N);
    EXPECT_EQ(pfr_sim_get_phi(s, x.phi.data(), x.phi.size()), PFR_OK);
    for (int64_t i = 0; i < N; ++i) {
        EXPECT_EQ(pfr_sim_get_theta(s, i, x.theta.data() + i * d, (size_t)d), PFR_OK);
        if (pfr_sim_config(s)->algorithm == PFR_ALG_LOCAL_REP) {
            std::vector<float> p((size_t)S * d);
            EXPECT_EQ(pfr_sim_get_agent_phi(s, i, p.data(), p.size()), PFR_OK);
            x.agent_phi.insert(x.agent_phi.end(), p.begin(), p.end());
        }
    }
    EXPECT_EQ(pfr_sim_get_states(s, x.state.data(), x.state.size()), PFR_OK);
    for (size_t i = 0; i < pfr_sim_metrics_count(s); ++i) {
        pfr_metrics m;
        EXPECT_EQ(pfr_sim_metrics_get(s, i, &m, sizeof m), PFR_OK);
        m.wall_s = m.agent_steps_per_sec = 0; // clocks
        x.hist.push_back(m);
        std::vector<double> t((size_t)M);
        EXPECT_EQ(pfr_sim_metrics_by_type(s, i, t.data(), t.size()), PFR_OK);
        x.by_type.insert(x.by_type.end(), t.begin(), t.end());
    }
    x.round = pfr_sim_round(s);
    return x;
}

bool same_bits(const void *a, const void *b, size_t n) { return n == 0 || std::memcmp(a, b, n) == 0; }

void expect_equal(const State &a, const State &b, const std::string &what)
{
    SCOPED_TRACE(what);
    EXPECT_EQ(a.round, b.round);
    ASSERT_EQ(a.phi.size(), b.phi.size());
    EXPECT_TRUE(same_bits(a.phi.data(), b.phi.data(), a.phi.size() * 4)) << "Phi differs";
    EXPECT_TRUE(same_bits(a.theta.data(), b.theta.data(), a.theta.size() * 4)) << "theta differs";
    ASSERT_EQ(a.agent_phi.size(), b.agent_phi.size());
    EXPECT_TRUE(same_bits(a.agent_phi.data(), b.agent_phi.data(), a.agent_phi.size() * 4)) << "Phi_i differs";
    EXPECT_EQ(a.state, b.state);
    ASSERT_EQ(a.hist.size(), b.hist.size());
    EXPECT_TRUE(same_bits(a.hist.data(), b.hist.data(), a.hist.size() * sizeof(pfr_metrics))) << "metrics differ";
    ASSERT_EQ(a.by_type.size(), b.by_type.size());
    EXPECT_TRUE(same_bits(a.by_type.data(), b.by_type.data(), a.by_type.size() * 8)) << "per-type errors differ";
}

Overrides base()
{
    return {{"env.kind", "cliffwalk"}, {"env.types", "4"}, {"env.slip_max", "0.3"}, {"agents", "600"},
            {"dim", "8"},              {"local_steps", "5"}, {"alpha", "0.1"},       {"beta", "0.05"},
            {"eval_every", "3"},       {"threads", "2"}};
}

// 9 rounds, saved, loaded (with threads=1: the thread count may change), 11 more: equal to 20.
// (9 is a multiple of eval_every: a run's last round is always evaluated, so a run that ended
// elsewhere has one evaluation more than a straight run; a stopped run has none, see below.)
TEST(Checkpoint, ResumedRunEqualsStraightRun)
{
    std::vector<std::pair<std::string, Overrides>> cases;
    cases.push_back({"plain", base()});
    Overrides o = base();
    o["participation"] = "0.6";
    cases.push_back({"partial participation", o});
    o = base();
    o["orthonormalize"] = "true";
    cases.push_back({"orthonormalized", o});
    o = base();
    o["schedule.a"] = "0.7";
    o["schedule.b"] = "0.9";
    o["schedule.tau"] = "50";
    cases.push_back({"decaying steps", o});
    for (const char *alg : {"fedavg_rep", "local_rep", "fedtd", "local_td"}) {
        o = base();
        o["algorithm"] = alg;
        o["agents"] = "70";
        cases.push_back({alg, o});
    }
    const std::string dir = temp_dir();
    for (auto &c : cases) {
        pfr_sim *straight = make(c.second);
        ASSERT_NE(straight, nullptr);
        ASSERT_EQ(pfr_sim_run(straight, 20), PFR_OK) << pfr_sim_last_error(straight);
        const State want = capture(straight);
        pfr_sim_destroy(straight);

        pfr_sim *first = make(c.second);
        ASSERT_EQ(pfr_sim_run(first, 9), PFR_OK);
        const std::string path = dir + "/c.pfr";
        pfr_error err;
        ASSERT_EQ(pfr_sim_save(first, path.c_str(), &err), PFR_OK) << err.msg;
        pfr_sim_destroy(first);
        const char *ov[] = {"threads=1"};
        pfr_sim *second = nullptr;
        ASSERT_EQ(pfr_sim_load(path.c_str(), ov, 1, nullptr, nullptr, &second, &err), PFR_OK) << err.msg;
        EXPECT_EQ(pfr_sim_threads(second), 1);
        EXPECT_EQ(pfr_sim_round(second), 9);
        ASSERT_EQ(pfr_sim_run(second, 11), PFR_OK) << pfr_sim_last_error(second);
        expect_equal(want, capture(second), c.first);
        pfr_sim_destroy(second);
    }
}

// A stop request ends the run at the end of a round; running on gives the straight run.
// A checkpoint written before pfr_metrics gained pooled_value_error (FEDM rows of 6 fields, not 7)
// still loads: the old evaluations read NaN there, and the run goes on with the same bits.
TEST(Checkpoint, AFileFromBeforeTheLastMetricWasAppendedLoads)
{
    const std::string dir = temp_dir(), now = dir + "/now.pfr", old = dir + "/old.pfr";
    pfr_sim *a = make(base());
    pfr_error err;
    ASSERT_EQ(pfr_sim_run(a, 9), PFR_OK);
    ASSERT_EQ(pfr_sim_save(a, now.c_str(), &err), PFR_OK) << err.msg;
    const size_t nhist = pfr_sim_metrics_count(a);
    // the file rewritten as the version before pooled_value_error wrote it: FEDM's rows with their
    // first six fields only (those after pooled_value_error, the neural instance's, went too), the
    // CRC-32 recomputed
    std::ifstream in(now, std::ios::binary);
    std::string f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string out = f.substr(0, 16);
    bool found = false;
    for (size_t at = 16; at + 16 <= f.size();) {
        uint64_t len;
        std::memcpy(&len, f.data() + at + 8, 8);
        const std::string tag = f.substr(at, 4);
        const size_t padded = len + (8 - len % 8) % 8;
        if (tag == "END_") {
            const uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)out.data(), (uInt)out.size());
            out += f.substr(at, 16);
            out.append((const char *)&crc, 4);
            break;
        }
        std::string payload = f.substr(at + 16, len);
        if (tag == "FEDM") {
            const size_t fields = (len - 64) / (8 * nhist); // every metric after HIST's nine
            ASSERT_EQ(len, nhist * 8 * fields + 64);
            ASSERT_GE(fields, 11u);
            std::string rows;
            for (size_t i = 0; i < nhist; ++i)
                rows += payload.substr(i * 8 * fields, 48);
            payload = rows + payload.substr(nhist * 8 * fields);
            len = payload.size();
            found = true;
        }
        out += f.substr(at, 8);
        out.append((const char *)&len, 8);
        out += payload + std::string((8 - len % 8) % 8, '\0');
        at += 16 + padded;
    }
    ASSERT_TRUE(found);
    std::ofstream(old, std::ios::binary) << out;
    pfr_sim *b = nullptr;
    ASSERT_EQ(pfr_sim_load(old.c_str(), nullptr, 0, nullptr, nullptr, &b, &err), PFR_OK) << err.msg;
    for (size_t i = 0; i < nhist; ++i) {
        pfr_metrics m;
        ASSERT_EQ(pfr_sim_metrics_get(b, i, &m, sizeof m), PFR_OK);
        EXPECT_TRUE(std::isnan(m.pooled_value_error)) << i;
        EXPECT_TRUE(std::isnan(m.greedy_return)) << i;
        EXPECT_EQ(m.value_error, capture(a).hist[i].value_error) << i;
    }
    ASSERT_EQ(pfr_sim_run(a, 6), PFR_OK);
    ASSERT_EQ(pfr_sim_run(b, 6), PFR_OK);
    State x = capture(a), y = capture(b);
    EXPECT_TRUE(same_bits(x.phi.data(), y.phi.data(), x.phi.size() * 4));
    EXPECT_TRUE(same_bits(x.theta.data(), y.theta.data(), x.theta.size() * 4));
    EXPECT_EQ(x.hist.back().pooled_value_error, y.hist.back().pooled_value_error); // new evaluations have it
    EXPECT_FALSE(std::isnan(y.hist.back().pooled_value_error));
    pfr_sim_destroy(a);
    pfr_sim_destroy(b);
}

TEST(Checkpoint, StopRequestEndsTheRoundAndTheRunGoesOn)
{
    struct Stopper {
        int64_t at;
    } stopper{7};
    auto cb = [](void *user, const pfr_sim *s, int64_t round, const pfr_metrics *) {
        if (round == static_cast<Stopper *>(user)->at)
            pfr_sim_request_stop(const_cast<pfr_sim *>(s));
    };
    pfr_sim *straight = make(base());
    ASSERT_EQ(pfr_sim_run(straight, 20), PFR_OK);
    const State want = capture(straight);
    pfr_sim_destroy(straight);

    pfr_sim *s = make(base());
    pfr_sim_set_progress(s, cb, &stopper);
    EXPECT_EQ(pfr_sim_run(s, 20), PFR_ERR_INTERRUPTED);
    EXPECT_EQ(pfr_sim_round(s), 7);
    EXPECT_NE(std::string(pfr_sim_last_error(s)).find("end of round 7"), std::string::npos) << pfr_sim_last_error(s);
    stopper.at = -1;
    ASSERT_EQ(pfr_sim_run(s, 13), PFR_OK); // the request was used up
    expect_equal(want, capture(s), "stopped at 7");
    pfr_sim_destroy(s);
}

// checkpoint_every writes the checkpoint while the run goes; loading the one of round 12 and
// running on equals the straight run.
TEST(Checkpoint, PeriodicCheckpointsDuringARun)
{
    Overrides o = base();
    o["checkpoint_every"] = "4";
    const std::string dir = temp_dir(), path = dir + "/run.pfr";
    pfr_sim *s = make(o);
    ASSERT_EQ(pfr_sim_set_checkpoint(s, path.c_str()), PFR_OK);
    ASSERT_EQ(pfr_sim_run(s, 14), PFR_OK); // last checkpoint at round 12
    ASSERT_EQ(pfr_sim_run(s, 6), PFR_OK);  // 20 in all, last checkpoint at 20
    const State want = capture(s);
    pfr_sim_destroy(s);
    pfr_sim *l = nullptr;
    pfr_error err;
    ASSERT_EQ(pfr_sim_load(path.c_str(), nullptr, 0, nullptr, nullptr, &l, &err), PFR_OK) << err.msg;
    EXPECT_EQ(pfr_sim_round(l), 20);
    expect_equal(want, capture(l), "checkpoint of round 20");
    pfr_sim_destroy(l);
}

std::string read_all(const std::string &p)
{
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void write_all(const std::string &p, const std::string &b)
{
    std::ofstream f(p, std::ios::binary);
    f << b;
}

TEST(Checkpoint, DamagedFilesAreRefusedNamingTheProblem)
{
    const std::string dir = temp_dir(), good = dir + "/good.pfr";
    pfr_sim *s = make(base());
    ASSERT_EQ(pfr_sim_run(s, 4), PFR_OK);
    pfr_error err;
    ASSERT_EQ(pfr_sim_save(s, good.c_str(), &err), PFR_OK) << err.msg;
    pfr_sim_destroy(s);
    const std::string bytes = read_all(good);
    ASSERT_GT(bytes.size(), 1000u);

    struct Case {
        const char *name;
        std::string content;
        const char *expect;
    };
    std::string flipped = bytes;
    flipped[bytes.size() / 2] ^= 0x40;
    std::string version = bytes;
    version[8] = 99;
    std::string bom = bytes;
    bom[12] = 1, bom[13] = 2, bom[14] = 3, bom[15] = 4; // 0x01020304 as a big-endian machine writes it
    std::vector<Case> cases = {
        {"empty", "", "not a pfedrl checkpoint"},
        {"foreign", "round,agent_steps\n1,2\n", "not a pfedrl checkpoint"},
        {"header only", bytes.substr(0, 16), "truncated"},
        {"truncated in the middle", bytes.substr(0, bytes.size() / 2), "truncated"},
        {"end marker cut", bytes.substr(0, bytes.size() - 2), "truncated"},
        {"bytes after the end", bytes + "xy", "after its end marker"},
        {"a flipped bit", flipped, "CRC-32 does not match"},
        {"another version", version, "format version 99"},
        {"other byte order", bom, "byte order"},
    };
    for (const Case &c : cases) {
        const std::string p = dir + "/bad.pfr";
        write_all(p, c.content);
        pfr_sim *l = nullptr;
        EXPECT_EQ(pfr_sim_load(p.c_str(), nullptr, 0, nullptr, nullptr, &l, &err), PFR_ERR_FORMAT) << c.name;
        EXPECT_EQ(l, nullptr);
        EXPECT_NE(std::string(err.msg).find(p), std::string::npos) << c.name << ": " << err.msg;
        EXPECT_NE(std::string(err.msg).find(c.expect), std::string::npos) << c.name << ": " << err.msg;
    }
    pfr_sim *l = nullptr;
    EXPECT_EQ(pfr_sim_load((dir + "/missing.pfr").c_str(), nullptr, 0, nullptr, nullptr, &l, &err), PFR_ERR_IO);
    EXPECT_NE(std::string(err.msg).find("missing.pfr"), std::string::npos) << err.msg;

    // what changes the results cannot change on resume; what does not, can
    const char *bad_ov[] = {"alpha=0.2"};
    EXPECT_EQ(pfr_sim_load(good.c_str(), bad_ov, 1, nullptr, nullptr, &l, &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("alpha cannot change"), std::string::npos) << err.msg;
    const char *ok_ov[] = {"rounds=50", "eval_every=7"};
    ASSERT_EQ(pfr_sim_load(good.c_str(), ok_ov, 2, nullptr, nullptr, &l, &err), PFR_OK) << err.msg;
    EXPECT_EQ(pfr_sim_config(l)->rounds, 50);
    pfr_sim_destroy(l);
}

// A file environment changed since the checkpoint: refused, since the run could not go on as it was.
TEST(Checkpoint, ChangedEnvironmentFilesAreNoticed)
{
    const std::string dir = temp_dir(), pp = dir + "/P.npy", rp = dir + "/R.npy";
    const double P[2][2] = {{0.5, 0.5}, {0.3, 0.7}};
    double R[2] = {1.0, 0.0};
    int64_t ps[3] = {1, 2, 2}, rs[2] = {1, 2};
    pfr_error err;
    ASSERT_EQ(pfr_npy_save_f64(pp.c_str(), &P[0][0], 3, ps, &err), PFR_OK);
    ASSERT_EQ(pfr_npy_save_f64(rp.c_str(), R, 2, rs, &err), PFR_OK);
    pfr_sim *s = make({{"env.kind", "file"}, {"env.p_file", pp}, {"env.r_file", rp}, {"agents", "16"}, {"dim", "2"}});
    ASSERT_NE(s, nullptr);
    ASSERT_EQ(pfr_sim_run(s, 3), PFR_OK);
    const std::string path = dir + "/c.pfr";
    ASSERT_EQ(pfr_sim_save(s, path.c_str(), &err), PFR_OK);
    pfr_sim_destroy(s);
    R[1] = 0.5;
    ASSERT_EQ(pfr_npy_save_f64(rp.c_str(), R, 2, rs, &err), PFR_OK);
    pfr_sim *l = nullptr;
    EXPECT_EQ(pfr_sim_load(path.c_str(), nullptr, 0, nullptr, nullptr, &l, &err), PFR_ERR_FORMAT);
    EXPECT_NE(std::string(err.msg).find("not the one it was saved with"), std::string::npos) << err.msg;
}

// Phi is in the checkpoint, so the init_phi file a run started from is not read again on resume: it may
// have gone (or changed) since, and the resumed run still goes on bit for bit.
TEST(Checkpoint, ResumeDoesNotReadInitPhiAgain)
{
    const std::string dir = temp_dir(), ip = dir + "/phi0.npy";
    std::vector<double> phi0(48 * 4);
    for (size_t e = 0; e < phi0.size(); ++e)
        phi0[e] = std::sin(0.7 * (double)e) + (e % 4 == e / 4 % 4 ? 1.0 : 0.0);
    int64_t shape[2] = {48, 4};
    pfr_error err;
    ASSERT_EQ(pfr_npy_save_f64(ip.c_str(), phi0.data(), 2, shape, &err), PFR_OK);
    const Overrides kv = {{"env.kind", "cliffwalk"}, {"agents", "64"}, {"dim", "4"}, {"init_phi", ip}};
    pfr_sim *straight = make(kv), *first = make(kv);
    ASSERT_TRUE(straight && first);
    ASSERT_EQ(pfr_sim_run(straight, 6), PFR_OK);
    ASSERT_EQ(pfr_sim_run(first, 3), PFR_OK);
    const std::string path = dir + "/c.pfr";
    ASSERT_EQ(pfr_sim_save(first, path.c_str(), &err), PFR_OK);
    pfr_sim_destroy(first);
    ASSERT_EQ(std::remove(ip.c_str()), 0);
    pfr_sim *l = nullptr;
    ASSERT_EQ(pfr_sim_load(path.c_str(), nullptr, 0, nullptr, nullptr, &l, &err), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_sim_run(l, 3), PFR_OK) << pfr_sim_last_error(l);
    std::vector<float> a(48 * 4), b(48 * 4);
    ASSERT_EQ(pfr_sim_get_phi(straight, a.data(), a.size()), PFR_OK);
    ASSERT_EQ(pfr_sim_get_phi(l, b.data(), b.size()), PFR_OK);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(float) * a.size()));
    pfr_sim_destroy(straight);
    pfr_sim_destroy(l);
}

TEST(Setters, ValuesArriveAndBadOnesAreRefused)
{
    pfr_sim *s = make(base());
    const int S = 48, d = 8;
    const int64_t N = 600;
    std::vector<float> phi((size_t)S * d), theta((size_t)N * d);
    std::vector<uint32_t> st((size_t)N);
    for (size_t e = 0; e < phi.size(); ++e)
        phi[e] = 0.01f * (float)(e % 97) - 0.3f;
    for (size_t e = 0; e < theta.size(); ++e)
        theta[e] = 0.001f * (float)(e % 31);
    for (int64_t i = 0; i < N; ++i)
        st[(size_t)i] = (uint32_t)(i * 7 % S);
    ASSERT_EQ(pfr_sim_set_phi(s, phi.data(), phi.size()), PFR_OK);
    ASSERT_EQ(pfr_sim_set_theta(s, theta.data(), theta.size()), PFR_OK);
    ASSERT_EQ(pfr_sim_set_states(s, st.data(), st.size()), PFR_OK);
    State x = capture(s);
    EXPECT_EQ(x.phi, phi);
    EXPECT_EQ(x.theta, theta);
    EXPECT_EQ(x.state, st);
    // and the run goes from there: the first round's changes start from these values
    ASSERT_EQ(pfr_sim_run(s, 1), PFR_OK);
    EXPECT_NE(capture(s).phi, phi);

    EXPECT_EQ(pfr_sim_set_phi(s, phi.data(), phi.size() - 1), PFR_ERR_INVALID_ARGUMENT);
    phi[5] = NAN;
    EXPECT_EQ(pfr_sim_set_phi(s, phi.data(), phi.size()), PFR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(pfr_sim_last_error(s)).find("element 5 is not finite"), std::string::npos);
    st[3] = S;
    EXPECT_EQ(pfr_sim_set_states(s, st.data(), st.size()), PFR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(pfr_sim_last_error(s)).find("agent 3"), std::string::npos) << pfr_sim_last_error(s);
    pfr_sim_destroy(s);
}

} // namespace
