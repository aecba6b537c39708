// The neural instance's CUDA engine (host/cuda/neural_cuda.cu, kernels/dqn_round.cu) against the
// CPU engine, bit for bit: every body, head and metric after rounds of each algorithm and family,
// with participation, the optimizer switches, tanh and two hidden layers, and across a checkpoint.
// The contract (DESIGN §14): the same sequence and words, sin and cos and tanh of kernels/pfr_libm.h,
// the gradient step in the reference's order (kernels/pfr_dqn_block.h, checked thread by thread on
// the CPU in tests/test_dqn.cc), the mean in §3's order. CudaNeural.* skip without a device;
// bench/gpu_check.sh validate runs them where there is one. NeuralGpuConfigs.* runs everywhere, so
// a GPU minute is never spent on a configuration the CPU engine refuses.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engine.h"
#include "tests/test_sim.h"
#include "tests/test_gpu.h"
#include "tests/test_temp.h"

namespace {

using pfr_test::Overrides;

// 300 agents: two blocks of the mean's order, the second partial.
Overrides base(const std::string &kind, const std::string &alg)
{
    return {{"env.kind", kind},       {"algorithm", alg},       {"agents", "300"},         {"dim", "8"},
            {"dqn.hidden", "16"},      {"local_steps", "30"},    {"rounds", "3"},           {"dqn.learn_start", "20"},
            {"dqn.batch", "8"},        {"eval_every", "1"},      {"participation", "0.8"},  {"threads", "2"},
            {"dqn.target_every", "7"}, {"dqn.eval_episodes", "1"}};
}

struct Case {
    std::string name;
    Overrides o;
};

std::vector<Case> cases()
{
    std::vector<Case> out;
    for (const char *kind : {"cartpole", "acrobot"})
        for (const char *alg : {"pfeddqn_rep", "local_dqn", "fedavg_dqn"})
            out.push_back({std::string(kind) + " " + alg, base(kind, alg)});
    Overrides o = base("cartpole", "fedavg_dqn");
    o["dqn.average_moments"] = "true";
    out.push_back({"averaged moments", o});
    o = base("cartpole", "pfeddqn_rep");
    o["dqn.reset_optimizer"] = "true";
    o["dqn.loss"] = "huber";
    out.push_back({"reset optimizer, huber", o});
    o = base("acrobot", "pfeddqn_rep");
    o["dqn.activation"] = "tanh";
    o["dqn.hidden"] = "[16, 12]";
    o["dqn.grad_steps"] = "2";
    out.push_back({"tanh, two layers, two gradient steps", o});
    return out;
}

struct Outcome {
    std::vector<float> body, head;
    std::vector<double> metrics;
};

Outcome run(Overrides o, const char *backend, int64_t rounds)
{
    o["backend"] = backend;
    Outcome r;
    pfr_sim *s = pfr_test::make_sim(o);
    if (!s)
        return r;
    EXPECT_EQ(pfr_sim_run(s, rounds), PFR_OK) << pfr_sim_last_error(s);
    const int64_t N = 300, P = pfr_sim_body_size(s), H = (int64_t)pfr_sim_num_actions(s) * 8;
    r.body.resize((size_t)(N * P));
    r.head.resize((size_t)(N * H));
    for (int64_t i = 0; i < N; ++i) {
        EXPECT_EQ(pfr_sim_get_body(s, i, r.body.data() + i * P, (size_t)P), PFR_OK);
        EXPECT_EQ(pfr_sim_get_head(s, i, r.head.data() + i * H, (size_t)H), PFR_OK);
    }
    for (size_t k = 0; k < pfr_sim_metrics_count(s); ++k) {
        pfr_metrics m;
        EXPECT_EQ(pfr_sim_metrics_get(s, k, &m, sizeof m), PFR_OK);
        for (double v : {m.greedy_return, m.heldout_return, m.success_rate, m.td_loss, m.participants})
            r.metrics.push_back(v);
    }
    pfr_sim_destroy(s);
    return r;
}

} // namespace

TEST(NeuralGpuConfigs, ValidOnTheCpuEngine)
{
    for (const Case &c : cases()) {
        const Outcome r = run(c.o, "cpu", 2);
        ASSERT_FALSE(r.body.empty()) << c.name;
        EXPECT_GT(r.metrics[r.metrics.size() - 2], 0.0) << c.name << ": gradient steps were taken (td_loss)";
    }
}

TEST(NeuralGpuConfigs, CudaBackendWithoutDeviceIsAClearError)
{
    if (pfr_test::gpu_present())
        GTEST_SKIP() << "a device is present";
    Overrides o = base("cartpole", "pfeddqn_rep");
    o["backend"] = "cuda";
    std::string msg;
    pfr_config c = pfr_test::config_from(o);
    pfr_sim *s = nullptr;
    pfr_error err;
    const pfr_status st = pfr_sim_create(&c, &s, &err);
    EXPECT_TRUE(st == PFR_ERR_NO_DEVICE || st == PFR_ERR_CONFIG) << st; // no GPU; or a build without CUDA
    EXPECT_EQ(s, nullptr);
    EXPECT_NE(std::string(err.msg).find("backend=cuda"), std::string::npos) << err.msg;
}

TEST(CudaNeural, RoundsEqualTheCpuEngineBitForBit)
{
    REQUIRE_GPU();
    for (const Case &c : cases()) {
        SCOPED_TRACE(c.name);
        const Outcome cpu = run(c.o, "cpu", 3), gpu = run(c.o, "cuda", 3);
        ASSERT_FALSE(gpu.body.empty());
        EXPECT_EQ(cpu.body, gpu.body) << "bodies";
        EXPECT_EQ(cpu.head, gpu.head) << "heads";
        ASSERT_EQ(cpu.metrics.size(), gpu.metrics.size());
        for (size_t k = 0; k < cpu.metrics.size(); ++k)
            EXPECT_TRUE(cpu.metrics[k] == gpu.metrics[k] || (cpu.metrics[k] != cpu.metrics[k] && gpu.metrics[k] != gpu.metrics[k]))
                << "metric " << k << ": " << cpu.metrics[k] << " vs " << gpu.metrics[k];
    }
}

TEST(CudaNeural, ResumedRunEqualsStraightRunBitForBit)
{
    REQUIRE_GPU();
    Overrides o = base("cartpole", "pfeddqn_rep");
    o["backend"] = "cuda";
    o["dqn.buffer"] = "50";
    const Outcome straight = run(o, "cuda", 4);
    pfr_sim *s = pfr_test::make_sim(o);
    ASSERT_NE(s, nullptr);
    ASSERT_EQ(pfr_sim_run(s, 2), PFR_OK) << pfr_sim_last_error(s);
    const std::string path = pfr_test::temp_file("pfedrl_cuda_neural_");
    pfr_error err;
    ASSERT_EQ(pfr_sim_save(s, path.c_str(), &err), PFR_OK) << err.msg;
    pfr_sim_destroy(s);
    pfr_sim *t = nullptr;
    ASSERT_EQ(pfr_sim_load(path.c_str(), nullptr, 0, nullptr, nullptr, &t, &err), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_sim_run(t, 2), PFR_OK) << pfr_sim_last_error(t);
    const int64_t P = pfr_sim_body_size(t);
    std::vector<float> body((size_t)P);
    for (int64_t i : {0, 150, 299}) {
        ASSERT_EQ(pfr_sim_get_body(t, i, body.data(), (size_t)P), PFR_OK);
        EXPECT_EQ(0, std::memcmp(body.data(), straight.body.data() + i * P, sizeof(float) * (size_t)P)) << i;
    }
    pfr_sim_destroy(t);
    std::remove(path.c_str());
}
