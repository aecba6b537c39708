// The sparse ground truth (host/env/truth_sparse.c): repeated wide rows (restart rows) solved as a
// low-rank term give the values and stationary distributions of the whole matrix's solve.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "env/env.h"
#include "tests/test_temp.h"

namespace {

struct EnvPtr {
    pfr_env *e = nullptr;
    ~EnvPtr() { pfr_env_destroy(e); }
};

struct TruthPtr {
    pfr_truth t{};
    ~TruthPtr() { pfr_truth_free(&t); }
};

// |a - b| / max |b| over one type's states
double rel_diff(const double *a, const double *b, int n)
{
    double diff = 0.0, scale = 0.0;
    for (int i = 0; i < n; ++i) {
        diff = std::fmax(diff, std::fabs(a[i] - b[i]));
        scale = std::fmax(scale, std::fabs(b[i]));
    }
    return diff / scale;
}

// Every type solved with the low-rank term and with every row in the matrix: the same V and mu, and
// the low-rank one's residuals as small. Returns the most groups a type had.
void expect_lowrank_matches_plain(const pfr_env *env, double gamma, int expect_groups, int expect_analyses)
{
    TruthPtr low, plain;
    pfr_error err;
    ASSERT_EQ(pfr_truth_compute_with(env, gamma, 1, &low.t, &err, nullptr, nullptr, 2), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_truth_compute_with(env, gamma, 2, &plain.t, &err, nullptr, nullptr, 2), PFR_OK) << err.msg;
    EXPECT_EQ(low.t.lowrank, expect_groups);
    EXPECT_EQ(plain.t.lowrank, 0);
    EXPECT_EQ(low.t.analyses, expect_analyses);
    EXPECT_EQ(plain.t.analyses, expect_analyses);
    const int S = env->S;
    for (int m = 0; m < env->M; ++m) {
        EXPECT_LT(rel_diff(low.t.V + (size_t)m * S, plain.t.V + (size_t)m * S, S), 1e-11) << "type " << m;
        EXPECT_LT(rel_diff(low.t.mu + (size_t)m * S, plain.t.mu + (size_t)m * S, S), 1e-10) << "type " << m;
    }
    EXPECT_LT(low.t.resid_v, 1e-12);
    EXPECT_LT(low.t.resid_mu, 1e-12);
}

TEST(TruthSparse, GridRestartRowsAsALowRankTermEqualTheWholeMatrix)
{
    // 40 x 40 with episodes restarting anywhere: each goal row reaches ~1280 free cells, one
    // distribution per type shared by its 3 goal rows (rank 1)
    pfr_config c;
    pfr_config_init(&c);
    c.env.kind = PFR_ENV_GRIDWORLD;
    c.env.width = 40;
    c.env.height = 40;
    c.env.types = 3;
    c.env.goals = 3;
    c.env.walls = 0.2;
    c.env.starts = 0;
    c.env.slip_max = 0.2;
    c.env.wind_max = 0.1;
    c.env.layout = PFR_LAYOUT_SHARED;
    EnvPtr env;
    pfr_error err;
    ASSERT_EQ(pfr_env_create(&c.env, &env.e, &err), PFR_OK) << err.msg;
    ASSERT_GT(env.e->S, PFR_TRUTH_DENSE_MAX);
    expect_lowrank_matches_plain(env.e, 0.95, 1, 1); // one layout: type 0's pattern serves every type

    // a layout per type: type 0's pattern fits no other type, types 1 and 2 make their own
    c.env.layout = PFR_LAYOUT_PER_TYPE;
    EnvPtr per_type;
    ASSERT_EQ(pfr_env_create(&c.env, &per_type.e, &err), PFR_OK) << err.msg;
    expect_lowrank_matches_plain(per_type.e, 0.95, 1, 3);
}

TEST(TruthSparse, WallsRestartRowsAndTheDenseSolveAgree)
{
    // 30 x 30 (dense LU still applies): walls no state enters (left out of the sparse system) and
    // restart rows of ~720 entries (the low-rank term), against the dense solve of the whole matrix
    pfr_config c;
    pfr_config_init(&c);
    c.env.kind = PFR_ENV_GRIDWORLD;
    c.env.width = 30;
    c.env.height = 30;
    c.env.types = 2;
    c.env.goals = 2;
    c.env.walls = 0.25;
    c.env.starts = 0;
    c.env.wind_max = 0.2;
    EnvPtr env;
    pfr_error err;
    ASSERT_EQ(pfr_env_create(&c.env, &env.e, &err), PFR_OK) << err.msg;
    TruthPtr dense, sparse;
    ASSERT_EQ(pfr_truth_compute_with(env.e, 0.9, 0, &dense.t, &err, nullptr, nullptr, 1), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_truth_compute_with(env.e, 0.9, 1, &sparse.t, &err, nullptr, nullptr, 1), PFR_OK) << err.msg;
    EXPECT_EQ(sparse.t.lowrank, 1);
    const int S = env.e->S;
    int walls = 0;
    for (int m = 0; m < env.e->M; ++m) {
        EXPECT_LT(rel_diff(sparse.t.V + (size_t)m * S, dense.t.V + (size_t)m * S, S), 1e-11) << "type " << m;
        EXPECT_LT(rel_diff(sparse.t.mu + (size_t)m * S, dense.t.mu + (size_t)m * S, S), 1e-10) << "type " << m;
        for (int s = 0; s < S; ++s)
            walls += sparse.t.mu[(size_t)m * S + s] == 0.0;
    }
    EXPECT_GT(walls, S / 5); // the walls' mu is exactly 0 (they were left out)
}

// A chain file: S states, most rows 1-3 random next states, the rest wide rows drawn from `dists`
// distributions (row s uses dists[s % ndist] where wide[s]).
struct ChainFile {
    int S;
    std::vector<double> P, R;
    explicit ChainFile(int S_) : S(S_), P((size_t)S_ * S_, 0.0), R(S_, 0.0) {}
};

uint64_t lcg(uint64_t &x)
{
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x >> 33;
}

// Type of `ndist` wide distributions (400 entries each) used by the rows s with s % 7 == 0 (state 0
// included: the pinned state of mu lies in a wide row), the other rows narrow.
void fill_type(double *P, double *R, int S, int ndist, uint64_t seed)
{
    uint64_t x = seed;
    std::vector<std::vector<double>> dist(ndist, std::vector<double>(S, 0.0));
    for (auto &d : dist) {
        double total = 0.0;
        for (int j = 0; j < 400; ++j) {
            const int t = (int)(lcg(x) % S);
            const double w = 1.0 + (double)(lcg(x) % 100);
            d[t] += w;
            total += w;
        }
        for (double &v : d)
            v /= total;
    }
    int wide_rows = 0;
    for (int s = 0; s < S; ++s) {
        double *row = P + (size_t)s * S;
        if (s % 7 == 0) {
            const std::vector<double> &d = dist[wide_rows++ % ndist];
            for (int t = 0; t < S; ++t)
                row[t] = d[t];
        } else { // a step to the next state and up to two random ones: one closed class
            row[(s + 1) % S] += 0.5;
            row[lcg(x) % S] += 0.3;
            row[lcg(x) % S] += 0.2;
        }
        R[s] = (double)(lcg(x) % 1000) / 1000.0 - 0.3;
    }
}

TEST(TruthSparse, SeveralWideDistributionsAndTooManyForALowRankTerm)
{
    // type 0: 4 distinct wide rows (rank 4); type 1: 9, more than the low-rank term takes, so the
    // type is solved with every row in the matrix
    const int S = 1100, M = 2;
    std::vector<double> P((size_t)M * S * S, 0.0), R((size_t)M * S, 0.0);
    fill_type(P.data(), R.data(), S, 4, 7);
    fill_type(P.data() + (size_t)S * S, R.data() + S, S, 9, 11);
    const std::string dir = pfr_test::temp_dir("pfedrl_truth_"), pp = dir + "/P.npy", rp = dir + "/R.npy";
    const int64_t ps[3] = {M, S, S}, rs[2] = {M, S};
    pfr_error err;
    ASSERT_EQ(pfr_npy_save_f64(pp.c_str(), P.data(), 3, ps, &err), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_npy_save_f64(rp.c_str(), R.data(), 2, rs, &err), PFR_OK) << err.msg;
    pfr_config c;
    pfr_config_init(&c);
    c.env.kind = PFR_ENV_FILE;
    snprintf(c.env.p_file, sizeof c.env.p_file, "%s", pp.c_str());
    snprintf(c.env.r_file, sizeof c.env.r_file, "%s", rp.c_str());
    EnvPtr env;
    ASSERT_EQ(pfr_env_create(&c.env, &env.e, &err), PFR_OK) << err.msg;
    expect_lowrank_matches_plain(env.e, 0.9, 4, 2); // type 1's pattern differs (rows emptied)

    // per type: how many groups each took
    std::vector<double> r(S), V(S), mu(S);
    for (int m = 0; m < M; ++m) {
        pfr_env_expected_reward(env.e, m, r.data());
        int groups = -1, analysed = -1;
        ASSERT_EQ(pfr_truth_sparse(env.e, m, 0.9, 1, 0, nullptr, r.data(), V.data(), mu.data(), &groups, &analysed, &err),
                  PFR_OK);
        EXPECT_EQ(groups, m == 0 ? 4 : 0) << "type " << m;
        EXPECT_EQ(analysed, 1);
    }
}

} // namespace
