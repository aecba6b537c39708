// The host memory plan (host/sim/plan.c): it bounds what set-up really builds and what a run really
// uses, and refuses what cannot fit, naming the sizes.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "engine.h"
#include "tests/test_temp.h"

namespace {

using KV = std::vector<std::pair<std::string, std::string>>;

pfr_config config(const KV &kv)
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    for (const auto &p : kv)
        EXPECT_EQ(pfr_config_set(&c, p.first.c_str(), p.second.c_str(), &err), PFR_OK) << err.msg;
    return c;
}

// threads = 0: the cores this process may use, at most its container's CPU quota (rounded up), which
// a container on a large host does not show as fewer cores; OMP_NUM_THREADS, when set, decides.
TEST(Plan, AutomaticThreadsFollowAContainersCpuQuota)
{
    if (omp_get_max_threads() < 2)
        GTEST_SKIP() << "one core here: a quota of one CPU would change nothing to see";
    const std::string root = pfr_test::temp_dir("pfedrl_cgroup_");
    const char *omp = getenv("OMP_NUM_THREADS");
    const std::string omp_saved = omp ? omp : "";
    unsetenv("OMP_NUM_THREADS");
    setenv("PFEDRL_TEST_CGROUP", root.c_str(), 1);
    const int cores = pfr_resolve_threads(0); // no quota files: every core it may use
    EXPECT_GE(cores, 1);
    FILE *f = fopen((root + "/cpu.max").c_str(), "w");
    fputs("50000 100000\n", f); // half a CPU: one thread
    fclose(f);
    EXPECT_EQ(pfr_resolve_threads(0), 1);
    EXPECT_EQ(pfr_resolve_threads(3), 3); // asked for: as asked
    setenv("OMP_NUM_THREADS", "2", 1);    // the user's word over the quota
    EXPECT_EQ(pfr_resolve_threads(0), omp_get_max_threads());
    unsetenv("OMP_NUM_THREADS");
    f = fopen((root + "/cpu.max").c_str(), "w");
    fputs("max 100000\n", f); // no quota
    fclose(f);
    EXPECT_EQ(pfr_resolve_threads(0), cores);
    remove((root + "/cpu.max").c_str());
    ASSERT_EQ(mkdir((root + "/cpu").c_str(), 0755), 0); // cgroup v1
    f = fopen((root + "/cpu/cpu.cfs_quota_us").c_str(), "w");
    fputs("20000\n", f);
    fclose(f);
    f = fopen((root + "/cpu/cpu.cfs_period_us").c_str(), "w");
    fputs("100000\n", f);
    fclose(f);
    EXPECT_EQ(pfr_resolve_threads(0), 1);
    unsetenv("PFEDRL_TEST_CGROUP");
    if (omp)
        setenv("OMP_NUM_THREADS", omp_saved.c_str(), 1);
}

// The estimate before building: the same S and M as the built environment, and at least its entries.
TEST(Plan, EnvironmentEstimateBoundsWhatIsBuilt)
{
    const std::vector<KV> envs = {
        {{"env.kind", "cliffwalk"}},
        {{"env.kind", "cliffwalk"}, {"env.width", "30"}, {"env.height", "9"}, {"env.types", "7"}},
        {{"env.kind", "gridworld"}, {"env.width", "31"}, {"env.height", "17"}, {"env.types", "5"}},
        {{"env.kind", "garnet"}, {"env.states", "300"}, {"env.actions", "5"}, {"env.branching", "7"}},
        {{"env.kind", "garnet"}, {"env.states", "20"}, {"env.actions", "8"}, {"env.branching", "10"}},
        {{"env.kind", "randomwalk"}, {"env.states", "19"}, {"env.types", "3"}},
    };
    for (const KV &kv : envs) {
        SCOPED_TRACE(kv[0].second + " " + (kv.size() > 1 ? kv[1].second : ""));
        pfr_config c = config(kv);
        pfr_env_size z;
        pfr_error err;
        ASSERT_EQ(pfr_env_estimate(&c.env, &z, &err), PFR_OK) << err.msg;
        pfr_env *env = nullptr;
        ASSERT_EQ(pfr_env_create(&c.env, &env, &err), PFR_OK) << err.msg;
        EXPECT_EQ(z.S, env->S);
        EXPECT_EQ(z.M, env->M);
        EXPECT_GE(z.nnz, (double)env->nnz);
        EXPECT_GE(z.bytes, 28.0 * (double)env->nnz + 8.0 * env->M * (env->S + 1)); // at least the final arrays
        pfr_env_destroy(env);
    }
}

TEST(Plan, RefusesWhatDoesNotFitAndNamesTheSizes)
{
    pfr_config c = config({{"agents", "1000000"}, {"dim", "16"}, {"algorithm", "local_rep"}});
    pfr_host_plan p;
    pfr_error err;
    ASSERT_EQ(pfr_plan_host_memory(&c, 2, 1e12, &p, &err), PFR_OK) << err.msg;
    EXPECT_GE(p.agent_bytes, 4.0 * 1e6 * 48 * 16); // every agent's own Phi_i
    EXPECT_EQ(pfr_plan_host_memory(&c, 2, 1e9, &p, &err), PFR_ERR_TOO_LARGE);
    for (const char *part : {"agents=1000000", "dim=16", "local_rep", "env.width=12, env.height=4", "GiB of host memory",
                             "0.93 GiB are available", "the largest part is agents, which shrinks with fewer agents or a smaller dim"})
        EXPECT_NE(std::string(err.msg).find(part), std::string::npos) << part << " in: " << err.msg;
    // a long federation.max_delay keeps that many copies of Phi: the refusal names it, not the agents
    pfr_config f = config({{"env.kind", "gridworld"}, {"env.width", "300"}, {"env.height", "300"}, {"dim", "16"},
                           {"agents", "64"}, {"federation.max_delay", "100"}});
    ASSERT_EQ(pfr_plan_host_memory(&f, 1, 1e12, &p, &err), PFR_OK) << err.msg;
    EXPECT_GE(p.fed_bytes, 101.0 * 90000 * 16 * 4);
    EXPECT_EQ(pfr_plan_host_memory(&f, 1, 0.5 * p.total_bytes, &p, &err), PFR_ERR_TOO_LARGE);
    EXPECT_NE(std::string(err.msg).find("the largest part is federation, which shrinks with a smaller federation.max_delay (100"),
              std::string::npos) << err.msg;
    // the CPU engine's work space: the accumulator [S, d] in double, and per thread the row maps
    pfr_config g = config({{"env.kind", "gridworld"}, {"env.width", "100"}, {"env.height", "100"}, {"dim", "16"}});
    pfr_host_plan p1, p8;
    ASSERT_EQ(pfr_plan_host_memory(&g, 1, -1, &p1, &err), PFR_OK);
    ASSERT_EQ(pfr_plan_host_memory(&g, 8, -1, &p8, &err), PFR_OK);
    EXPECT_GT(p8.engine_bytes, p1.engine_bytes + 7 * 4.0 * 10000);
    EXPECT_GE(p1.engine_bytes, 8.0 * 10000 * 16);
    // ... and the 16-agent step's copy of the chains: 16 bytes an entry, at least one entry a row
    pfr_config g16 = config({{"env.kind", "gridworld"}, {"env.width", "100"}, {"env.height", "100"}, {"dim", "16"},
                             {"env.types", "16"}});
    pfr_config g1 = config({{"env.kind", "gridworld"}, {"env.width", "100"}, {"env.height", "100"}, {"dim", "16"},
                            {"env.types", "1"}});
    pfr_host_plan q1, q16;
    ASSERT_EQ(pfr_plan_host_memory(&g1, 1, -1, &q1, &err), PFR_OK);
    ASSERT_EQ(pfr_plan_host_memory(&g16, 1, -1, &q16, &err), PFR_OK);
    EXPECT_GE(q16.engine_bytes - q1.engine_bytes, 15 * (16.0 + 4.0) * 10000);
}

// Peak resident bytes of the CLI run with these arguments (it must succeed).
double peak_rss(const std::vector<std::string> &cli_args)
{
    std::vector<std::string> args = cli_args;
    args.insert(args.begin(), PFR_CLI_PATH);
    std::vector<char *> argv;
    for (auto &a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execv(argv[0], argv.data());
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    EXPECT_EQ(wait4(pid, &status, 0, &ru), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    return (double)ru.ru_maxrss * 1024.0;
}

// A run's peak resident memory stays within the plan plus what the program holds before it plans
// anything (its libraries: measured as the peak of `pfedrl info`): the plan counts what is really
// allocated. A 150 x 150 grid world, d = 16, 2 threads: about 0.2 GB planned.
TEST(Plan, PeakMemoryOfARunStaysWithinThePlan)
{
    const KV kv = {{"env.kind", "gridworld"}, {"env.width", "150"}, {"env.height", "150"}, {"env.types", "2"},
                   {"dim", "16"}, {"agents", "20000"}, {"rounds", "3"}, {"threads", "2"}};
    pfr_config c = config(kv);
    pfr_host_plan p;
    pfr_error err;
    ASSERT_EQ(pfr_plan_host_memory(&c, 2, -1, &p, &err), PFR_OK) << err.msg;
    std::vector<std::string> args = {"run", PFR_SOURCE_DIR "/examples/gridworld_large.yaml", "--quiet", "--out",
                                     pfr_test::temp_dir("pfedrl_plan_rss_") + "/out"};
    for (const auto &e : kv) {
        args.push_back("--set");
        args.push_back(e.first + "=" + e.second);
    }
    const double program = peak_rss({"info"}), peak = peak_rss(args);
    std::printf("peak RSS %.1f MB, of which the program %.1f MB; plan %.1f MB (environment %.1f, truth %.1f, "
                "agents %.1f, engine %.1f)\n",
                peak / 1e6, program / 1e6, p.total_bytes / 1e6, p.env_bytes / 1e6, p.truth_bytes / 1e6,
                p.agent_bytes / 1e6, p.engine_bytes / 1e6);
    EXPECT_LE(peak - program, p.total_bytes + 16e6); // 16 MB: stacks, stdio, small allocations
}

} // namespace
