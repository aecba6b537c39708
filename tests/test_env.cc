// Environments: chain structure, integer sampling against P, ground truth, .npy loading.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "env/env.h"
#include "kernels/pfr_agent_math.h"
#include "tests/test_temp.h"

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

// ---- grid worlds: what env.goals, env.walls, env.starts and env.wind_direction build --------------
// Read back from the chain alone: goals are the cells entered with a reward, walls the cells no row
// enters, restart cells the targets of a goal's row.
struct GridRead {
    std::vector<int> goal, wall;     // [S] flags
    std::vector<std::vector<uint32_t>> goal_row; // targets of each goal's row
};

GridRead read_grid(const pfr_env *e, int m)
{
    const int S = e->S;
    GridRead g;
    g.goal.assign(S, 0);
    g.wall.assign(S, 1);
    const uint64_t *rp = e->row_ptr + (size_t)m * (S + 1);
    for (int s = 0; s < S; ++s)
        for (uint64_t k = rp[s]; k < rp[s + 1]; ++k) {
            if (e->rewardd[k] > 0)
                g.goal[e->next[k]] = 1;
        }
    // a wall's own row leaves it at once: entries into cell t from rows other than walls mark t free
    // (walls' rows are single entries to a restart cell, so first find rows that are not walls: any
    // row with more than one entry, or a goal's row)
    for (int s = 0; s < S; ++s) {
        const bool wall_like = rp[s + 1] - rp[s] == 1 && !g.goal[s];
        if (wall_like)
            continue;
        for (uint64_t k = rp[s]; k < rp[s + 1]; ++k)
            if (e->prob[k] > 0)
                g.wall[e->next[k]] = 0;
    }
    for (int s = 0; s < S; ++s)
        if (g.goal[s]) {
            std::vector<uint32_t> t;
            for (uint64_t k = rp[s]; k < rp[s + 1]; ++k)
                t.push_back(e->next[k]);
            g.goal_row.push_back(t);
        }
    return g;
}

TEST(Gridworld, GoalsWallsAndStartsAreWhatTheKeysSay)
{
    pfr_env_config c = base_env(PFR_ENV_GRIDWORLD);
    c.width = 40;
    c.height = 30;
    c.types = 3;
    c.goals = 5;
    c.walls = 0.3;
    c.starts = 7;
    c.epsilon = 0.1;
    EnvPtr env;
    pfr_error err;
    ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK) << err.msg;
    check_structure(env.e);
    const int S = env.e->S;
    std::vector<int> first_wall;
    for (int m = 0; m < env.e->M; ++m) {
        GridRead g = read_grid(env.e, m);
        int goals = 0, walls = 0;
        for (int s = 0; s < S; ++s) {
            goals += g.goal[s];
            walls += g.wall[s];
            EXPECT_FALSE(g.goal[s] && g.wall[s]);
        }
        EXPECT_EQ(goals, 5) << "type " << m;
        // 30% drawn, plus the cells outside the largest free region
        EXPECT_GT(walls, 0.25 * S) << "type " << m;
        EXPECT_LT(walls, 0.45 * S) << "type " << m;
        for (const auto &row : g.goal_row) {
            ASSERT_EQ(row.size(), 7u);
            for (uint32_t t : row) {
                EXPECT_FALSE(g.wall[t]);
                EXPECT_FALSE(g.goal[t]);
            }
            EXPECT_EQ(row, g.goal_row[0]) << "every goal restarts at the same cells";
        }
        if (m == 0)
            first_wall = g.wall;
        else
            EXPECT_NE(g.wall, first_wall) << "each type has its own layout";
    }
    pfr_truth t;
    ASSERT_EQ(pfr_truth_compute(env.e, 0.95, &t, &err), PFR_OK) << err.msg; // one closed class
    pfr_truth_free(&t);

    // starts = 0: a goal's row spreads over every free cell
    c.starts = 0;
    EnvPtr any;
    ASSERT_EQ(pfr_env_create(&c, &any.e, &err), PFR_OK) << err.msg;
    GridRead g = read_grid(any.e, 1);
    int free_cells = 0;
    for (int s = 0; s < S; ++s)
        free_cells += !g.wall[s];
    for (const auto &row : g.goal_row)
        EXPECT_EQ((int)row.size(), free_cells);

    // more restart cells than free cells: refused, naming the key
    c.starts = S;
    EnvPtr bad;
    EXPECT_EQ(pfr_env_create(&c, &bad.e, &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("env.starts"), std::string::npos) << err.msg;
}

TEST(Gridworld, GreedyPolicyTakesAShortestPathAroundWalls)
{
    // No exploration, slip or wind: the chain from every free cell follows the policy; the number
    // of steps to a goal must equal the breadth-first distance the test computes itself.
    pfr_env_config c = base_env(PFR_ENV_GRIDWORLD);
    c.width = 25;
    c.height = 17;
    c.types = 2;
    c.goals = 3;
    c.walls = 0.3;
    c.epsilon = 0.0;
    c.slip_min = c.slip_max = 0.0;
    c.wind_min = c.wind_max = 0.0;
    EnvPtr env;
    pfr_error err;
    ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK) << err.msg;
    const int W = 25, H = 17, S = W * H;
    for (int m = 0; m < env.e->M; ++m) {
        GridRead g = read_grid(env.e, m);
        std::vector<int> dist(S, -1), queue;
        for (int s = 0; s < S; ++s)
            if (g.goal[s]) {
                dist[s] = 0;
                queue.push_back(s);
            }
        for (size_t h = 0; h < queue.size(); ++h) {
            const int s = queue[h], x = s % W, y = s / W;
            const int nb[4][2] = {{x, y + 1}, {x + 1, y}, {x, y - 1}, {x - 1, y}};
            for (const auto &n : nb)
                if (n[0] >= 0 && n[0] < W && n[1] >= 0 && n[1] < H) {
                    const int t = n[1] * W + n[0];
                    if (!g.wall[t] && dist[t] < 0) {
                        dist[t] = dist[s] + 1;
                        queue.push_back(t);
                    }
                }
        }
        const uint64_t *rp = env.e->row_ptr + (size_t)m * (S + 1);
        int checked = 0;
        for (int s0 = 0; s0 < S; ++s0) {
            if (g.wall[s0] || g.goal[s0])
                continue;
            ASSERT_GE(dist[s0], 0) << "free cell " << s0 << " cannot reach a goal";
            int s = s0, steps = 0;
            while (!g.goal[s] && steps <= S) {
                ASSERT_EQ(rp[s + 1] - rp[s], 1u) << "deterministic row expected at " << s;
                s = (int)env.e->next[rp[s]];
                ++steps;
            }
            EXPECT_EQ(steps, dist[s0]) << "type " << m << " cell " << s0;
            ++checked;
        }
        EXPECT_GT(checked, S / 2);
    }
}

TEST(Gridworld, WindBlowsTheWayOfTheType)
{
    pfr_env_config c = base_env(PFR_ENV_GRIDWORLD);
    c.width = 12;
    c.height = 12;
    c.types = 4;
    c.epsilon = 0.0;
    c.slip_min = c.slip_max = 0.0;
    c.wind_min = c.wind_max = 0.5;
    const int W = 12, S = W * 12;
    const int step[4][2] = {{0, 1}, {1, 0}, {0, -1}, {-1, 0}}; // north, east, south, west
    for (pfr_wind_direction wd : {PFR_WIND_NORTH, PFR_WIND_PER_TYPE}) {
        c.wind_direction = wd;
        EnvPtr env;
        pfr_error err;
        ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK) << err.msg;
        for (int m = 0; m < 4; ++m) {
            std::vector<double> P((size_t)S * S);
            pfr_env_dense_p(env.e, m, P.data());
            GridRead g = read_grid(env.e, m);
            const int dir = wd == PFR_WIND_PER_TYPE ? m : 0;
            for (int y = 1; y < 11; ++y)
                for (int x = 1; x < 11; ++x) {
                    const int s = y * W + x;
                    if (g.goal[s])
                        continue;
                    const int t = (y + step[dir][1]) * W + x + step[dir][0];
                    EXPECT_GE(P[(size_t)s * S + t], 0.5 - 1e-12) << "type " << m << " cell " << s;
                    // and no other neighbour gets more than the policy's half
                    for (int k = 0; k < 4; ++k)
                        if (k != dir) {
                            const int u = (y + step[k][1]) * W + x + step[k][0];
                            EXPECT_LE(P[(size_t)s * S + u], 0.5 + 1e-12);
                        }
                }
        }
    }
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

TEST(Truth, DenseAndSparseDirectAgree)
{
    pfr_env_config c = base_env(PFR_ENV_GRIDWORLD);
    c.width = 9;
    c.height = 7;
    c.wind_max = 0.2;
    EnvPtr env;
    pfr_error err;
    ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK);
    pfr_truth a, b;
    ASSERT_EQ(pfr_truth_compute_with(env.e, 0.95, 0, &a, &err, nullptr, nullptr, 1), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_truth_compute_with(env.e, 0.95, 1, &b, &err, nullptr, nullptr, 2), PFR_OK) << err.msg;
    for (int i = 0; i < env.e->S * env.e->M; ++i) {
        EXPECT_NEAR(a.V[i], b.V[i], 1e-10);
        EXPECT_NEAR(a.mu[i], b.mu[i], 1e-12);
    }
    EXPECT_LT(b.resid_v, 1e-12);
    EXPECT_LT(b.resid_mu, 1e-12);
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
    return pfr_test::temp_dir("pfedrl_test_");
}

TEST(Truth, BestRankDForMoreTypesThanStates)
{
    // 1100 random-walk types that differ by a reward scale only: rank 1 is exact for any M
    pfr_env_config c = base_env(PFR_ENV_RANDOMWALK);
    c.types = 1100;
    c.reward_spread = 0.9;
    EnvPtr env;
    pfr_error err;
    ASSERT_EQ(pfr_env_create(&c, &env.e, &err), PFR_OK) << err.msg;
    pfr_truth t;
    ASSERT_EQ(pfr_truth_compute(env.e, 0.9, &t, &err), PFR_OK) << err.msg;
    std::vector<double> w(1100, 1.0 / 1100);
    const double e1 = pfr_truth_best_rank_d(&t, w.data(), 1);
    EXPECT_FALSE(std::isnan(e1));
    EXPECT_NEAR(e1, 0.0, 1e-10);
    pfr_truth_free(&t);
}

TEST(Truth, SparseSolverRefusesChainsWithoutOneClosedClass)
{
    // states 0 and 3 absorbing: two closed classes
    std::string dir = temp_dir(), pp = dir + "/Pred.npy", rp = dir + "/Rred.npy";
    const double P[16] = {1, 0, 0, 0, 0.5, 0, 0.5, 0, 0, 0.5, 0, 0.5, 0, 0, 0, 1};
    const double R[4] = {0, 1, 0, 1};
    int64_t ps[3] = {1, 4, 4}, rs[2] = {1, 4};
    pfr_error err;
    ASSERT_EQ(pfr_npy_save_f64(pp.c_str(), P, 3, ps, &err), PFR_OK);
    ASSERT_EQ(pfr_npy_save_f64(rp.c_str(), R, 2, rs, &err), PFR_OK);
    pfr_env_config f = base_env(PFR_ENV_FILE);
    snprintf(f.p_file, sizeof f.p_file, "%s", pp.c_str());
    snprintf(f.r_file, sizeof f.r_file, "%s", rp.c_str());
    EnvPtr env;
    ASSERT_EQ(pfr_env_create(&f, &env.e, &err), PFR_OK) << err.msg;
    for (int sparse : {0, 1}) {
        pfr_truth t;
        EXPECT_NE(pfr_truth_compute_with(env.e, 0.9, sparse, &t, &err, nullptr, nullptr, 1), PFR_OK);
        EXPECT_NE(std::string(err.msg).find("no unique stationary distribution"), std::string::npos)
            << "sparse=" << sparse << ": " << err.msg;
    }
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

// A family's stored rows written as a sparse folder (the form of pfedrl export) and read back with
// env.dir: the same transitions, chains and MDPs (control: P_shape tells states from actions), and
// the size estimate reads the same counts from the headers alone.
TEST(FileEnv, SparseFolderHoldsTheFamilysRows)
{
    for (int mdp : {0, 1}) {
        SCOPED_TRACE(mdp ? "MDP" : "chain");
        pfr_env_config c = base_env(PFR_ENV_GRIDWORLD);
        c.types = 3;
        c.width = c.height = 7;
        EnvPtr env;
        pfr_error err;
        ASSERT_EQ((mdp ? pfr_env_create_mdp : pfr_env_create)(&c, &env.e, &err), PFR_OK) << err.msg;
        const pfr_env *e = env.e;
        const int64_t M = e->M, rows = (int64_t)e->S * e->A, nnz = (int64_t)e->nnz;
        std::vector<int64_t> ip((size_t)(M * (rows + 1))), shape = {M, rows, e->S};
        for (int64_t m = 0; m < M; ++m)
            for (int64_t s = 0; s <= rows; ++s)
                ip[(size_t)(m * (rows + 1) + s)] = (int64_t)e->row_ptr[m * (rows + 1) + s];
        std::vector<int32_t> next(e->next, e->next + nnz);
        const std::string dir = temp_dir();
        const int64_t three = 3, ipshape[2] = {M, rows + 1};
        ASSERT_EQ(pfr_npy_save((dir + "/P_shape.npy").c_str(), shape.data(), "<i8", 8, 1, &three, &err), PFR_OK);
        ASSERT_EQ(pfr_npy_save((dir + "/P_indptr.npy").c_str(), ip.data(), "<i8", 8, 2, ipshape, &err), PFR_OK);
        ASSERT_EQ(pfr_npy_save((dir + "/P_indices.npy").c_str(), next.data(), "<i4", 4, 1, &nnz, &err), PFR_OK);
        ASSERT_EQ(pfr_npy_save_f64((dir + "/P_data.npy").c_str(), e->prob, 1, &nnz, &err), PFR_OK);
        ASSERT_EQ(pfr_npy_save_f64((dir + "/R_data.npy").c_str(), e->rewardd, 1, &nnz, &err), PFR_OK);
        pfr_env_config f = base_env(PFR_ENV_FILE);
        snprintf(f.dir, sizeof f.dir, "%s", dir.c_str());
        pfr_env_size z;
        ASSERT_EQ((mdp ? pfr_env_estimate_mdp : pfr_env_estimate)(&f, &z, &err), PFR_OK) << err.msg;
        EXPECT_EQ(z.M, M);
        EXPECT_EQ(z.S, rows);
        EXPECT_EQ(z.nnz, (double)nnz);
        EnvPtr back;
        ASSERT_EQ((mdp ? pfr_env_create_mdp : pfr_env_create)(&f, &back.e, &err), PFR_OK) << err.msg;
        ASSERT_EQ(back.e->S, e->S);
        ASSERT_EQ(back.e->A, e->A);
        ASSERT_EQ(back.e->M, e->M);
        ASSERT_EQ(back.e->nnz, e->nnz);
        for (size_t i = 0; i < ip.size(); ++i)
            ASSERT_EQ(back.e->row_ptr[i], e->row_ptr[i]);
        for (int64_t k = 0; k < nnz; ++k) {
            ASSERT_EQ(back.e->next[k], e->next[k]);
            ASSERT_NEAR(back.e->prob[k], e->prob[k], 1e-15); // renormalized: a rounding at most
            ASSERT_NEAR(back.e->rewardd[k], e->rewardd[k], 1e-15 * (1 + std::fabs(e->rewardd[k])));
        }
        // a chain's folder is an MDP of one action where control wants MDPs; an MDPs' folder is
        // refused where chains are wanted
        EnvPtr other;
        if (!mdp) {
            EXPECT_EQ(pfr_env_create_mdp(&f, &other.e, &err), PFR_OK) << err.msg;
        } else {
            EXPECT_EQ(pfr_env_create(&f, &other.e, &err), PFR_ERR_FORMAT);
            EXPECT_NE(std::string(err.msg).find("holds MDPs (4 actions a state)"), std::string::npos) << err.msg;
        }
    }
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
