// The CUDA engine against the CPU engine (issue 3). Every test skips cleanly when the build has no
// CUDA or the machine has no GPU; bench/gpu_check.sh runs them where there is one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/pfr_agent_math.h"
#include "sim_internal.h"

#ifdef PFR_HAVE_CUDA
#include <cuda_runtime.h>
extern "C" cudaError_t pfr_cuda_launch_philox_words(uint64_t seed, const uint64_t *agent, const uint64_t *step, int n,
                                                   uint4 *out, cudaStream_t stream);
#endif

namespace {

bool gpu_present()
{
#ifdef PFR_HAVE_CUDA
    return pfr_cuda_device_count() > 0;
#else
    return false;
#endif
}

// GTEST_SKIP must run in the test body itself to end the test.
#define REQUIRE_GPU()                                                                                 \
    if (!gpu_present())                                                                               \
    GTEST_SKIP() << "no CUDA device on this machine (or a build without CUDA)"

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
        pfr_sim *cpu = make(cliff(alg, "1037"), "cpu"), *gpu = make(cliff(alg, "1037"), "cuda");
        ASSERT_TRUE(cpu && gpu);
        ASSERT_STREQ(pfr_sim_backend(gpu), "cuda");
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

TEST(Cuda, CudaBackendWithoutDeviceIsAClearError)
{
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
