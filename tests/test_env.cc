// Environments: chain structure, integer sampling against P, ground truth, .npy loading.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "internal.h"
#include "kernels/pfr_agent_math.h"

namespace {

struct EnvPtr {
    pfr_env *e = nullptr;
    ~EnvPtr() { pfr_env_destroy(e); }
};

pfr_env_config base_env(pfr_env_kind kind)
{
    pfr_config c;
    pfr_config_init(&c);
    c.env.kind = kind;
    return c.env;
}

void check_structure(const pfr_env *env)
{
    for (int m = 0; m < env->M; ++m)
        for (int s = 0; s < env->S; ++s) {
            uint64_t a = env->row_ptr[(size_t)m * (env->S + 1) + s], b = env->row_ptr[(size_t)m * (env->S + 1) + s + 1];
            ASSERT_LT(a, b) << "empty row m=" << m << " s=" << s;
            double sum = 0;
            for (uint64_t k = a; k < b; ++k) {
                sum += env->prob[k];
                ASSERT_LT(env->next[k], (uint32_t)env->S);
                if (k > a) {
                    ASSERT_GE(env->thr[k], env->thr[k - 1]);
                }
            }
            ASSERT_EQ(env->thr[b - 1], 0xFFFFFFFFu);
            ASSERT_NEAR(sum, 1.0, 1e-12);
        }
}

TEST(Env, EveryFamilyBuildsValidChains)
{
    for (pfr_env_kind k : {PFR_ENV_CLIFFWALK, PFR_ENV_GRIDWORLD, PFR_ENV_GARNET, PFR_ENV_RANDOMWALK}) {
        pfr_env_config c = base_env(k);
        EnvPtr env;
        pfr_error err;
        ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK) << err.msg;
        check_structure(env.e);
        EXPECT_EQ(env.e->M, pfr_env_default_types(k));
    }
}

TEST(Env, CliffwalkSizesAndHeterogeneity)
{
    pfr_env_config c = base_env(PFR_ENV_CLIFFWALK);
    c.types = 3;
    c.slip_min = 0.0;
    c.slip_max = 0.4;
    EnvPtr env;
    pfr_error err;
    ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK) << err.msg;
    EXPECT_EQ(env.e->S, 48);
    std::vector<double> P0(48 * 48), P2(48 * 48);
    pfr_env_dense_p(env.e, 0, P0.data());
    pfr_env_dense_p(env.e, 2, P2.data());
    double diff = 0;
    for (size_t i = 0; i < P0.size(); ++i)
        diff += std::fabs(P0[i] - P2[i]);
    EXPECT_GT(diff, 1.0); // types really differ
    // the goal (x=11, y=0) restarts at the start cell 0
    EXPECT_DOUBLE_EQ(P0[11 * 48 + 0], 1.0);
}

// Empirical transition frequencies from the integer sampler match P (chi-square, fixed seed).
TEST(Env, SampledTransitionsMatchP)
{
    for (pfr_env_kind k : {PFR_ENV_CLIFFWALK, PFR_ENV_GARNET, PFR_ENV_GRIDWORLD}) {
        pfr_env_config c = base_env(k);
        EnvPtr env;
        pfr_error err;
        ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK) << err.msg;
        const pfr_env *e = env.e;
        for (int m = 0; m < e->M; m += 3)
            for (int s = 0; s < e->S; s += 7) {
                const uint64_t a = e->row_ptr[(size_t)m * (e->S + 1) + s], b = e->row_ptr[(size_t)m * (e->S + 1) + s + 1];
                const uint32_t nnz = (uint32_t)(b - a);
                if (nnz < 2)
                    continue;
                const int n = 40000;
                std::vector<int> count(nnz, 0);
                for (int t = 0; t < n; ++t) {
                    pfr_words w = pfr_stream_words(99, (uint64_t)(m * 100000 + s), (uint64_t)t);
                    count[pfr_sample_entry(e->thr + a, nnz, w.w[PFR_WORD_TRANSITION])]++;
                }
                double chi2 = 0;
                int dof = -1;
                for (uint32_t j = 0; j < nnz; ++j) {
                    double ex = n * e->prob[a + j];
                    if (ex < 1e-9)
                        continue;
                    chi2 += (count[j] - ex) * (count[j] - ex) / ex;
                    ++dof;
                }
                // p = 1e-6 quantile of chi-square is below 30 + 4 dof for the dof seen here
                EXPECT_LT(chi2, 30.0 + 4.0 * dof) << pfr_env_kind_name(k) << " m=" << m << " s=" << s;
            }
    }
}

// Closed form of the continuing random walk (restart at the centre, reward 1 on the right exit):
// V(s) = V(c) g(s) + psi(s)/gamma, with g, psi the solutions of V(s) = gamma/2 (V(s-1)+V(s+1))
// for boundary values (1, 1) and (0, 1) at s = -1 and s = n.
TEST(Truth, RandomWalkMatchesClosedForm)
{
    for (int n : {5, 19}) {
        for (double gamma : {0.5, 0.9, 0.99}) {
            pfr_env_config c = base_env(PFR_ENV_RANDOMWALK);
            c.states = n;
            EnvPtr env;
            pfr_error err;
            ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK) << err.msg;
            pfr_truth t;
            ASSERT_EQ(pfr_truth_compute(env.e, gamma, &t, &err), PFR_OK) << err.msg;
            const double l1 = (1 + std::sqrt(1 - gamma * gamma)) / gamma, l2 = 1 / l1;
            auto sol = [&](double left, double right, int s) { // A l1^(s+1) + B l2^(s+1), boundaries at -1, n
                double a1 = std::pow(l1, n + 1), a2 = std::pow(l2, n + 1);
                double B = (right - left * a1) / (a2 - a1), A = left - B;
                return A * std::pow(l1, s + 1) + B * std::pow(l2, s + 1);
            };
            const int centre = n / 2;
            const double vc = (sol(0, 1, centre) / gamma) / (1 - sol(1, 1, centre));
            for (int s = 0; s < n; ++s) {
                double v = vc * sol(1, 1, s) + sol(0, 1, s) / gamma;
                EXPECT_NEAR(t.V[s], v, 1e-9 * std::max(1.0, std::fabs(v))) << "n=" << n << " gamma=" << gamma << " s=" << s;
            }
            pfr_truth_free(&t);
        }
    }
}

TEST(Truth, StationaryDistributionIsStationary)
{
    pfr_env_config c = base_env(PFR_ENV_CLIFFWALK);
    EnvPtr env;
    pfr_error err;
    ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK);
    pfr_truth t;
    ASSERT_EQ(pfr_truth_compute(env.e, 0.9, &t, &err), PFR_OK) << err.msg;
    const int S = env.e->S;
    std::vector<double> P(S * S);
    for (int m = 0; m < env.e->M; ++m) {
        pfr_env_dense_p(env.e, m, P.data());
        double total = 0;
        for (int j = 0; j < S; ++j) {
            double acc = 0;
            for (int i = 0; i < S; ++i)
                acc += t.mu[m * S + i] * P[i * S + j];
            EXPECT_NEAR(acc, t.mu[m * S + j], 1e-12);
            total += t.mu[m * S + j];
            EXPECT_GE(t.mu[m * S + j], 0.0);
        }
        EXPECT_NEAR(total, 1.0, 1e-12);
        EXPECT_LT(std::fabs(t.mu[m * S + 5]), 1e-14); // a cliff cell is never visited
    }
    pfr_truth_free(&t);
}

TEST(Truth, DenseAndIterativeAgree)
{
    pfr_env_config c = base_env(PFR_ENV_GRIDWORLD);
    c.width = 9;
    c.height = 7;
    c.wind_max = 0.2;
    EnvPtr env;
    pfr_error err;
    ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK);
    pfr_truth a, b;
    ASSERT_EQ(pfr_truth_compute_with(env.e, 0.95, 0, &a, &err), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_truth_compute_with(env.e, 0.95, 1, &b, &err), PFR_OK) << err.msg;
    for (int i = 0; i < env.e->S * env.e->M; ++i) {
        EXPECT_NEAR(a.V[i], b.V[i], 1e-10);
        EXPECT_NEAR(a.mu[i], b.mu[i], 1e-10);
    }
    pfr_truth_free(&a);
    pfr_truth_free(&b);
}

TEST(Truth, BestRankDError)
{
    // Types that differ only by a reward scale have proportional values: rank 1 suffices.
    pfr_env_config c = base_env(PFR_ENV_RANDOMWALK);
    c.types = 4;
    c.reward_spread = 0.5;
    EnvPtr env;
    pfr_error err;
    ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK);
    pfr_truth t;
    ASSERT_EQ(pfr_truth_compute(env.e, 0.9, &t, &err), PFR_OK);
    std::vector<double> w(4, 0.25);
    EXPECT_NEAR(pfr_truth_best_rank_d(&t, w.data(), 1), 0.0, 1e-12);
    pfr_truth_free(&t);

    // Heterogeneous grid worlds with different goals: error decreases in d and is 0 at d = M.
    pfr_env_config g = base_env(PFR_ENV_GRIDWORLD);
    g.types = 6;
    EnvPtr env2;
    ASSERT_EQ(pfr_env_create(&g, &env2.e, &err), PFR_OK);
    ASSERT_EQ(pfr_truth_compute(env2.e, 0.9, &t, &err), PFR_OK);
    std::vector<double> w6(6, 1.0 / 6);
    double prev = 1.0;
    for (int d = 1; d <= 6; ++d) {
        double e = pfr_truth_best_rank_d(&t, w6.data(), d);
        EXPECT_LE(e, prev + 1e-12);
        prev = e;
    }
    EXPECT_GT(pfr_truth_best_rank_d(&t, w6.data(), 1), 1e-3);
    EXPECT_NEAR(prev, 0.0, 1e-12);
    pfr_truth_free(&t);
}

// ---- file environments ------------------------------------------------------------------------------
std::string temp_dir()
{
    char tmpl[] = "/tmp/pfedrl_test_XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? d : "/tmp";
}

TEST(FileEnv, LoadsWhatGeneratedFamiliesProduce)
{
    // Save a cliff walk as .npy, load it back as a file environment: same chain, same truth.
    pfr_env_config c = base_env(PFR_ENV_CLIFFWALK);
    c.types = 2;
    EnvPtr env;
    pfr_error err;
    ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK);
    const int S = env.e->S, M = env.e->M;
    std::vector<double> P((size_t)M * S * S), R((size_t)M * S * S, 0.0);
    for (int m = 0; m < M; ++m) {
        pfr_env_dense_p(env.e, m, P.data() + (size_t)m * S * S);
        for (int s = 0; s < S; ++s)
            for (uint64_t k = env.e->row_ptr[(size_t)m * (S + 1) + s]; k < env.e->row_ptr[(size_t)m * (S + 1) + s + 1]; ++k)
                R[((size_t)m * S + s) * S + env.e->next[k]] = env.e->rewardd[k];
    }
    std::string dir = temp_dir(), pp = dir + "/P.npy", rp = dir + "/R.npy";
    int64_t shape[3] = {M, S, S};
    ASSERT_EQ(pfr_npy_save_f64(pp.c_str(), P.data(), 3, shape, &err), PFR_OK);
    ASSERT_EQ(pfr_npy_save_f64(rp.c_str(), R.data(), 3, shape, &err), PFR_OK);
    pfr_env_config f = base_env(PFR_ENV_FILE);
    snprintf(f.p_file, sizeof f.p_file, "%s", pp.c_str());
    snprintf(f.r_file, sizeof f.r_file, "%s", rp.c_str());
    EnvPtr loaded;
    ASSERT_EQ(pfr_env_create(&f, &loaded.e, &err), PFR_OK) << err.msg;
    ASSERT_EQ(loaded.e->S, S);
    ASSERT_EQ(loaded.e->M, M);
    check_structure(loaded.e);
    pfr_truth a, b;
    ASSERT_EQ(pfr_truth_compute(env.e, 0.9, &a, &err), PFR_OK);
    ASSERT_EQ(pfr_truth_compute(loaded.e, 0.9, &b, &err), PFR_OK);
    for (int i = 0; i < S * M; ++i)
        EXPECT_NEAR(a.V[i], b.V[i], 1e-9);
    pfr_truth_free(&a);
    pfr_truth_free(&b);
}

TEST(FileEnv, Float32AndStateRewards)
{
    // a 2-type, 3-state chain in float32 with R given per state ([M, S])
    std::string dir = temp_dir(), pp = dir + "/P32.npy", rp = dir + "/R.npy";
    const float P[2][3][3] = {{{0.5f, 0.5f, 0}, {0, 0.5f, 0.5f}, {0.5f, 0, 0.5f}}, {{0, 1, 0}, {0, 0, 1}, {1, 0, 0}}};
    FILE *fp = fopen(pp.c_str(), "wb");
    ASSERT_TRUE(fp);
    const char hdr[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 3), }";
    std::string h(hdr);
    while ((10 + h.size() + 1) % 64)
        h += ' ';
    h += '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(h.size() & 0xff), (unsigned char)(h.size() >> 8)};
    fwrite(pre, 1, 10, fp);
    fwrite(h.data(), 1, h.size(), fp);
    fwrite(P, sizeof(float), 18, fp);
    fclose(fp);
    const double R[6] = {1, 0, 0, 0, 1, 0};
    int64_t rs[2] = {2, 3};
    pfr_error err;
    ASSERT_EQ(pfr_npy_save_f64(rp.c_str(), R, 2, rs, &err), PFR_OK);
    pfr_env_config f = base_env(PFR_ENV_FILE);
    snprintf(f.p_file, sizeof f.p_file, "%s", pp.c_str());
    snprintf(f.r_file, sizeof f.r_file, "%s", rp.c_str());
    EnvPtr env;
    ASSERT_EQ(pfr_env_create(&f, &env.e, &err), PFR_OK) << err.msg;
    EXPECT_EQ(env.e->S, 3);
    EXPECT_EQ(env.e->M, 2);
    std::vector<double> r(3);
    pfr_env_expected_reward(env.e, 1, r.data());
    EXPECT_DOUBLE_EQ(r[1], 1.0);
    EXPECT_DOUBLE_EQ(r[0], 0.0);
}

} // namespace
