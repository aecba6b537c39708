// The CLI end to end: a good run writes both result files; each bad input in a table fails with a
// clear message, a non-zero exit, and leaves no output file (whole or partial) behind.
#include <gtest/gtest.h>

#include <dirent.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/internal.h"
#include "tests/cli_helpers.h"
#include "tests/test_temp.h"

namespace {

std::vector<std::string> list_dir(const std::string &dir)
{
    std::vector<std::string> names;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return names;
    while (struct dirent *e = readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..")
            names.push_back(e->d_name);
    closedir(d);
    return names;
}

const char *kSmall = "env:\n  kind: cliffwalk\nagents: 64\nrounds: 5\neval_every: 2\ndim: 4\n";

void save_npy(const std::string &path, const std::vector<double> &data, std::vector<int64_t> shape)
{
    pfr_error err;
    ASSERT_EQ(pfr_npy_save_f64(path.c_str(), data.data(), (int)shape.size(), shape.data(), &err), PFR_OK) << err.msg;
}

// A valid 1-type, 3-state chain.
std::vector<double> good_p() { return {0.5, 0.5, 0, 0, 0.5, 0.5, 0.5, 0, 0.5}; }

// A sparse environment folder d/e (env.dir) with these offsets and next states, each of
// probability 1/2, reward 1 on the first row: P_shape [1, rows, states].
void sparse_files(const std::string &d, const std::vector<double> &indptr, const std::vector<double> &next, int states)
{
    mkdir((d + "/e").c_str(), 0755);
    const int64_t nnz = (int64_t)next.size(), rows = (int64_t)indptr.size() - 1;
    save_npy(d + "/e/P_shape.npy", {1, (double)rows, (double)states}, {3});
    save_npy(d + "/e/P_indptr.npy", indptr, {1, rows + 1});
    save_npy(d + "/e/P_indices.npy", next, {nnz});
    save_npy(d + "/e/P_data.npy", std::vector<double>((size_t)nnz, 0.5), {nnz});
    std::vector<double> r((size_t)nnz, 0.0);
    r[0] = r[1] = 1.0;
    save_npy(d + "/e/R_data.npy", r, {nnz});
}

TEST(Cli, GoodRunWritesBothFiles)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml", out = dir + "/out/nested";
    write_file(cfg, kSmall);
    Result r = run_cli("run " + cfg + " --set seed=3 --backend cpu --threads 2 --out " + out);
    ASSERT_EQ(r.code, 0) << r.output;
    std::string csv = read_file(out + "/metrics.csv");
    EXPECT_EQ(csv.rfind("round,agent_steps,algorithm,value_error,", 0), 0u) << csv;
    int lines = 0;
    for (char c : csv)
        lines += c == '\n';
    EXPECT_EQ(lines, 1 + 4); // header + rounds 0, 2, 4, 5
    EXPECT_NE(csv.find("\n5,3200,pfedtd_rep,"), std::string::npos) << csv;
    std::string js = read_file(out + "/summary.json");
    for (const char *key : {"\"final_value_error\"", "\"agent_steps_per_sec\"", "\"backend\": \"cpu\"", "\"config\"",
                            "\"seed\": 3", "\"kind\": \"cliffwalk\"", "\"agents\": 64"})
        EXPECT_NE(js.find(key), std::string::npos) << key << " missing in\n" << js;
    std::vector<std::string> files = list_dir(out); // and no temporary files
    std::sort(files.begin(), files.end());
    EXPECT_EQ(files, (std::vector<std::string>{"checkpoint.pfr", "config.yaml", "metrics.csv", "metrics_by_type.csv",
                                               "phi.npy", "summary.json", "theta.npy"}));
    EXPECT_NE(js.find("\"status\": \"completed\""), std::string::npos) << js;
    // the seed and backend as columns, then participants, mean steps, staleness, (no noise: empty)
    // epsilon, (no control: empty) policy_gap, 0 policy_agents, then the pooled error; one row per
    // type and evaluation in metrics_by_type.csv
    EXPECT_NE(csv.find(",3,cpu,64,10,0,,,0,0."), std::string::npos) << csv;
    EXPECT_NE(js.find("\"final_pooled_value_error\": 0."), std::string::npos) << js;
    EXPECT_NE(js.find("\"federation\": {\"participations\": 320,"), std::string::npos) << js;
    std::string by_type = read_file(out + "/metrics_by_type.csv");
    EXPECT_EQ(by_type.rfind("round,agent_steps,type,value_error\n", 0), 0u) << by_type;
    int type_rows = 0;
    for (char c : by_type)
        type_rows += c == '\n';
    EXPECT_EQ(type_rows, 1 + 4 * 4); // header + 4 evaluations x 4 cliff-walk types
    EXPECT_NE(by_type.find("\n5,3200,3,"), std::string::npos) << by_type;
    pfr_npy phi;
    pfr_error err;
    ASSERT_EQ(pfr_npy_load((out + "/phi.npy").c_str(), &phi, &err), PFR_OK) << err.msg;
    EXPECT_EQ(phi.ndim, 2);
    EXPECT_EQ(phi.shape[0], 48);
    EXPECT_EQ(phi.shape[1], 4);
    pfr_npy_free(&phi);
    pfr_npy theta;
    ASSERT_EQ(pfr_npy_load((out + "/theta.npy").c_str(), &theta, &err), PFR_OK) << err.msg;
    EXPECT_EQ(theta.ndim, 2);
    EXPECT_EQ(theta.shape[0], 64);
    EXPECT_EQ(theta.shape[1], 4);
    pfr_npy_free(&theta);
}

// Export an environment and a run's Phi, then start a run from that Phi on held-out types.
TEST(Cli, ExportAndWarmStartOnHeldOutTypes)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    write_file(cfg, "env:\n  kind: gridworld\n  width: 6\n  height: 6\n  types: 6\n  type_count: 4\n"
                    "agents: 64\nrounds: 20\ndim: 6\neval_every: 10\n");
    Result r = run_cli("export " + cfg + " --out " + dir + "/env");
    ASSERT_EQ(r.code, 0) << r.output;
    for (const char *f : {"P.npy", "R.npy", "V.npy", "mu.npy", "singular_values.npy", "P_indptr.npy", "P_indices.npy",
                          "P_data.npy", "R_data.npy"})
        EXPECT_FALSE(read_file(dir + "/env/" + f).empty()) << f;
    {
        // the sparse rows are the dense chains: rebuild P and R from them
        auto raw = [&](const std::string &name, size_t elem) { // an .npy file's data bytes
            std::string b = read_file(dir + "/env/" + name);
            const size_t hl = (unsigned char)b[8] | (size_t)(unsigned char)b[9] << 8;
            EXPECT_EQ(b.size() % elem, (10 + hl) % elem);
            return b.substr(10 + hl);
        };
        const std::string ip = raw("P_indptr.npy", 8), ix = raw("P_indices.npy", 4);
        pfr_npy P, R, pd, rd;
        pfr_error err;
        ASSERT_EQ(pfr_npy_load((dir + "/env/P.npy").c_str(), &P, &err), PFR_OK);
        ASSERT_EQ(pfr_npy_load((dir + "/env/R.npy").c_str(), &R, &err), PFR_OK);
        ASSERT_EQ(pfr_npy_load((dir + "/env/P_data.npy").c_str(), &pd, &err), PFR_OK);
        ASSERT_EQ(pfr_npy_load((dir + "/env/R_data.npy").c_str(), &rd, &err), PFR_OK);
        const int M = 6, S = 36;
        ASSERT_EQ(ip.size(), sizeof(int64_t) * M * (S + 1));
        ASSERT_EQ(ix.size(), sizeof(int32_t) * pd.count);
        std::vector<int64_t> indptr(M * (S + 1));
        std::vector<int32_t> indices(pd.count);
        memcpy(indptr.data(), ip.data(), ip.size());
        memcpy(indices.data(), ix.data(), ix.size());
        std::vector<double> Pd(P.count, 0.0), Rd(R.count, 0.0);
        for (int m = 0; m < M; ++m)
            for (int s = 0; s < S; ++s)
                for (int64_t k = indptr[m * (S + 1) + s]; k < indptr[m * (S + 1) + s + 1]; ++k) {
                    Pd[((size_t)m * S + s) * S + indices[k]] = pd.data[k];
                    Rd[((size_t)m * S + s) * S + indices[k]] = rd.data[k];
                }
        EXPECT_EQ(indptr.back(), (int64_t)pd.count);
        for (size_t e = 0; e < P.count; ++e) {
            ASSERT_EQ(Pd[e], P.data[e]) << e;
            ASSERT_EQ(Rd[e], R.data[e]) << e;
        }
        for (pfr_npy *a : {&P, &R, &pd, &rd})
            pfr_npy_free(a);
    }
    {
        // singular values of the mu-weighted, normalized type values: checked against the Gram
        // matrix G = U^T U built here from V and mu, through its invariants trace(G) = sum s^2 and
        // trace(G^2) = sum s^4 (relative to the largest, found by power iteration)
        pfr_npy V, mu, sv;
        pfr_error err;
        ASSERT_EQ(pfr_npy_load((dir + "/env/V.npy").c_str(), &V, &err), PFR_OK);
        ASSERT_EQ(pfr_npy_load((dir + "/env/mu.npy").c_str(), &mu, &err), PFR_OK);
        ASSERT_EQ(pfr_npy_load((dir + "/env/singular_values.npy").c_str(), &sv, &err), PFR_OK);
        const int M = 6, S = 36;
        ASSERT_EQ(sv.ndim, 1);
        ASSERT_EQ(sv.shape[0], M);
        std::vector<double> U((size_t)S * M), G((size_t)M * M, 0.0);
        for (int m = 0; m < M; ++m) {
            double n2 = 0;
            for (int s = 0; s < S; ++s)
                n2 += mu.data[m * S + s] * V.data[m * S + s] * V.data[m * S + s];
            for (int s = 0; s < S; ++s)
                U[(size_t)s * M + m] = std::sqrt(mu.data[m * S + s] / n2) * V.data[m * S + s];
        }
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < M; ++j)
                for (int s = 0; s < S; ++s)
                    G[i * M + j] += U[(size_t)s * M + i] * U[(size_t)s * M + j];
        std::vector<double> x(M, 1.0), y(M);
        double lambda = 0;
        for (int it = 0; it < 2000; ++it) {
            double norm = 0;
            for (int i = 0; i < M; ++i) {
                y[i] = 0;
                for (int j = 0; j < M; ++j)
                    y[i] += G[i * M + j] * x[j];
                norm += y[i] * y[i];
            }
            lambda = std::sqrt(norm);
            for (int i = 0; i < M; ++i)
                x[i] = y[i] / lambda;
        }
        double tr = 0, tr2 = 0, s2 = 0, s4 = 0;
        for (int i = 0; i < M; ++i) {
            tr += G[i * M + i];
            for (int j = 0; j < M; ++j)
                tr2 += G[i * M + j] * G[j * M + i];
            s2 += sv.data[i] * sv.data[i];
            s4 += std::pow(sv.data[i], 4);
            if (i) {
                EXPECT_LE(sv.data[i], sv.data[i - 1]);
            }
        }
        EXPECT_DOUBLE_EQ(sv.data[0], 1.0);
        EXPECT_NEAR(s2, tr / lambda, 1e-9);
        EXPECT_NEAR(s4, tr2 / (lambda * lambda), 1e-9);
        EXPECT_GT(sv.data[1], 0.05); // the grid world's types differ by more than a scale
        pfr_npy_free(&V);
        pfr_npy_free(&mu);
        pfr_npy_free(&sv);
    }
    r = run_cli("run " + cfg + " --out " + dir + "/train");
    ASSERT_EQ(r.code, 0) << r.output;
    r = run_cli("run " + cfg + " --set env.type_first=4 --set env.type_count=2 --set algorithm=local_td --set init_phi=" +
                dir + "/train/phi.npy --out " + dir + "/held_out");
    ASSERT_EQ(r.code, 0) << r.output;
    std::string js = read_file(dir + "/held_out/summary.json");
    EXPECT_NE(js.find("\"type_first\": 4"), std::string::npos) << js;
    EXPECT_NE(js.find("train/phi.npy"), std::string::npos) << js;
}

// Above 1 GiB of dense P and R, export writes the rest and says what it left out; summary.json
// reports how set-up went and the types' leading singular values.
TEST(Cli, LargeExportSkipsDenseChainsAndSummaryReportsSetUp)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    write_file(cfg, "env:\n  kind: gridworld\n  width: 100\n  height: 100\n  types: 2\n  starts: 4\n"
                    "agents: 64\nrounds: 2\ndim: 4\n");
    Result r = run_cli("export " + cfg + " --out " + dir + "/env");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("P.npy and R.npy not written: dense [2, 10000, 10000] arrays would take 3.2 GB"),
              std::string::npos) << r.output;
    std::vector<std::string> files = list_dir(dir + "/env");
    std::sort(files.begin(), files.end());
    EXPECT_EQ(files, (std::vector<std::string>{"P_data.npy", "P_indices.npy", "P_indptr.npy", "P_shape.npy", "R_data.npy",
                                               "V.npy", "mu.npy", "singular_values.npy"}));
    r = run_cli("run " + cfg + " --quiet --out " + dir + "/run");
    ASSERT_EQ(r.code, 0) << r.output;
    std::string js = read_file(dir + "/run/summary.json");
    for (const char *key : {"\"setup\": {\"setup_s\": ", "\"truth_method\": \"sparse LU (UMFPACK)\"",
                            "\"truth_residual_v\": ", "\"type_singular_values\": [1, "})
        EXPECT_NE(js.find(key), std::string::npos) << key << " missing in\n" << js;
}

// An exported environment, run back in as env.kind=file, is the same problem: same ground truth,
// same chains, so the same run gives the same metrics.
TEST(Cli, FileEnvironmentReproducesTheGeneratedOne)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    write_file(cfg, "env:\n  kind: cliffwalk\n  types: 2\nagents: 64\nrounds: 20\ndim: 4\neval_every: 20\nseed: 5\n");
    ASSERT_EQ(run_cli("export " + cfg + " --out " + dir + "/env").code, 0);
    ASSERT_EQ(run_cli("run " + cfg + " --out " + dir + "/a").code, 0);
    Result r = run_cli("run " + cfg + " --set env.kind=file --set env.types=0 --set env.p_file=" + dir +
                       "/env/P.npy --set env.r_file=" + dir + "/env/R.npy --out " + dir + "/b");
    ASSERT_EQ(r.code, 0) << r.output;
    auto final_error = [&](const std::string &d) {
        std::string js = read_file(d + "/summary.json");
        size_t p = js.find("\"final_value_error\": ");
        return p == std::string::npos ? -1.0 : std::atof(js.c_str() + p + 21);
    };
    const double a = final_error(dir + "/a"), b = final_error(dir + "/b");
    ASSERT_GT(a, 0.0);
    // the .npy round trip of P can move a threshold by one part in 2^32 at most: same trajectories
    // in practice, and the same error to float precision
    EXPECT_NEAR(a, b, 1e-6 * a);
}

// The sparse rows export writes, read back by env.dir: the same problem, with control too (MDP rows
// s A + a, told apart by P_shape.npy), where the dense form cannot go.
TEST(Cli, SparseFolderReproducesTheGeneratedOne)
{
    std::string dir = make_temp_dir();
    for (const char *control : {"none", "qlearning"}) {
        SCOPED_TRACE(control);
        const std::string c = dir + "/" + control, cfg = c + ".yaml";
        write_file(cfg, std::string("env:\n  kind: cliffwalk\n  types: 2\ncontrol:\n  kind: ") + control +
                            "\nagents: 64\nrounds: 20\ndim: 4\neval_every: 20\nseed: 5\n");
        Result r = run_cli("export " + cfg + " --out " + c + "-env");
        ASSERT_EQ(r.code, 0) << r.output;
        ASSERT_EQ(run_cli("run " + cfg + " -q --out " + c + "-a").code, 0);
        r = run_cli("run " + cfg + " -q --set env.kind=file --set env.types=0 --set env.dir=" + c + "-env --out " + c + "-b");
        ASSERT_EQ(r.code, 0) << r.output;
        const std::string key = std::string("none") == control ? "\"final_value_error\": " : "\"final_q_error\": ";
        auto final_error = [&](const std::string &d) {
            std::string js = read_file(d + "/summary.json");
            size_t p = js.find(key);
            return p == std::string::npos ? -1.0 : std::atof(js.c_str() + p + key.size());
        };
        const double a = final_error(c + "-a"), b = final_error(c + "-b");
        ASSERT_GT(a, 0.0);
        EXPECT_NEAR(a, b, 1e-6 * a); // as the dense round trip: same chains to the last bit or so
        EXPECT_NE(read_file(c + "-b/summary.json").find("folder " + c + "-env"), std::string::npos);
    }
}

// The final line names the best rank-d error beside the error, except for the tabular learners,
// whose table is no rank-d representation (the line once said "best rank-1: 0" there).
TEST(Cli, FinalLineNamesTheBestRankDErrorWhereItMeansSomething)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    write_file(cfg, std::string(kSmall));
    Result r = run_cli("run " + cfg + " --set algorithm=local_td_tabular --out " + dir + "/t");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("final value_error "), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("best rank"), std::string::npos) << r.output;
    r = run_cli("run " + cfg + " --out " + dir + "/p");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("(best rank-"), std::string::npos) << r.output;
}

TEST(Cli, InfoAndHelp)
{
    Result r = run_cli("info");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.output.find("cpu"), std::string::npos);
    r = run_cli("--help");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.output.find("env.kind"), std::string::npos);
    EXPECT_NE(r.output.find("participation"), std::string::npos);
    r = run_cli("frobnicate");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("unknown command"), std::string::npos);
}

// cpu_kernel: `info` says what auto takes on this CPU, summary.json what ran, and a kernel the CPU
// cannot run is refused naming what it lacks and what it can run (a CPU without AVX-512 posed by a
// test hook, so the check runs on any machine).
TEST(Cli, CpuKernelIsNamedAndOneTheCpuLacksIsRefused)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (!__builtin_cpu_supports("avx2"))
        GTEST_SKIP() << "no AVX2 on this CPU";
#else
    GTEST_SKIP() << "not x86-64";
#endif
    const std::string lacks = "PFEDRL_TEST_CPU_WITHOUT=avx512f ";
    Result r = run_cli("info", lacks);
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.output.find("cpu_kernel auto: avx2 (16 agents at once, AVX2)"), std::string::npos) << r.output;
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    pfr_test::write_file(cfg, "env:\n  kind: cliffwalk\nagents: 64\nrounds: 2\ndim: 8\n");
    r = run_cli("run " + cfg + " --out " + dir + "/a --quiet", lacks);
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(read_file(dir + "/a/summary.json").find("\"cpu_kernel\": \"avx2\""), std::string::npos);
    r = run_cli("run " + cfg + " -s cpu_kernel=scalar --out " + dir + "/b --quiet");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(read_file(dir + "/b/summary.json").find("\"cpu_kernel\": \"scalar\""), std::string::npos);
    r = run_cli("run " + cfg + " -s cpu_kernel=avx512 --out " + dir + "/c --quiet", lacks);
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("cpu_kernel: avx512 needs AVX-512F, which this CPU does not have; allowed here: auto, "
                            "avx2, portable, per_agent, scalar"),
              std::string::npos)
        << r.output;
    EXPECT_NE(access((dir + "/c/summary.json").c_str(), F_OK), 0); // nothing written
}

#ifdef PFR_HAVE_CUDA
// The command does not link the CUDA runtime or cuBLAS (a CPU run would pay ~220 MB for them); it
// loads the CUDA engine module when asked, and says clearly when that fails.
TEST(Cli, CudaEngineIsLoadedOnlyWhenAskedFor)
{
    FILE *p = popen((std::string("ldd ") + PFR_CLI_PATH).c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string deps;
    char buf[512];
    while (fgets(buf, sizeof buf, p))
        deps += buf;
    pclose(p);
    ASSERT_NE(deps.find("libc.so"), std::string::npos) << deps;
    EXPECT_EQ(deps.find("libcublas"), std::string::npos) << deps;
    EXPECT_EQ(deps.find("libcudart"), std::string::npos) << deps;

    Result r = run_cli("info"); // the module is found next to the command and lists the devices
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.output.find("devices:"), std::string::npos) << r.output;

    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    write_file(cfg, kSmall);
    // a module named that is not one: refused with the path and the loader's reason, nothing written
    r = run_cli("run " + cfg + " --backend cuda --out " + dir + "/out", "PFEDRL_CUDA_PLUGIN=" + cfg + " ");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("PFEDRL_CUDA_PLUGIN=" + cfg + " could not be loaded"), std::string::npos) << r.output;
    EXPECT_TRUE(list_dir(dir + "/out").empty());
    // the CPU engine does not need it
    r = run_cli("run " + cfg + " --backend cpu --quiet --out " + dir + "/out", "PFEDRL_CUDA_PLUGIN=" + cfg + " ");
    EXPECT_EQ(r.code, 0) << r.output;
}
#endif

struct BadCase {
    const char *name;
    std::string config; // YAML text ("" = none written, use args only)
    std::string args;   // extra arguments; {dir} is replaced by the case's directory
    const char *expect; // a piece of the error message
    std::function<void(const std::string &dir)> prepare;
    int code = 2;       // 2: bad input; 1: the run itself failed
};

// A raw .npy file: this header text, then `data` bytes.
void write_raw_npy(const std::string &path, std::string header, const std::string &data)
{
    while ((10 + header.size() + 1) % 64)
        header += ' ';
    header += '\n';
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes += char(header.size() & 0xff);
    bytes += char(header.size() >> 8);
    write_file(path, bytes + header + data);
}

std::string replace_dir(std::string s, const std::string &dir)
{
    for (size_t p; (p = s.find("{dir}")) != std::string::npos;)
        s.replace(p, 5, dir);
    return s;
}

TEST(Cli, BadInputsFailClearlyAndWriteNothing)
{
    const std::string file_env = "env:\n  kind: file\n  p_file: {dir}/P.npy\n  r_file: {dir}/R.npy\ndim: 2\nrounds: 2\nagents: 8\n";
    const std::string sparse_env = "env:\n  kind: file\n  dir: {dir}/e\ndim: 2\nrounds: 2\nagents: 8\n";
    auto good_files = [](const std::string &d) {
        save_npy(d + "/P.npy", good_p(), {1, 3, 3});
        save_npy(d + "/R.npy", {1, 0, 0}, {1, 3});
    };
    const std::vector<BadCase> cases = {
        {"unknown key", std::string(kSmall) + "agentz: 5\n", "", "unknown key 'agentz'", nullptr},
        {"negative agents", std::string(kSmall) + "agents: -5\n", "", "agents", nullptr},
        {"dim larger than S", "dim: 60\n", "", "dim=60 exceeds the number of states S=48", nullptr},
        {"alpha zero", "alpha: 0\n", "", "alpha: 0 is out of range", nullptr},
        {"beta negative", "beta: -0.1\n", "", "beta: -0.1 is out of range", nullptr},
        {"gamma one", "gamma: 1\n", "", "gamma: 1 is out of range; allowed: a number in [0, 1)", nullptr},
        {"unknown env", "env:\n  kind: mountaincar\n", "", "env.kind: 'mountaincar' is not allowed", nullptr},
        {"not a number", "agents: lots\n", "", "agents: 'lots' is not a number", nullptr},
        {"not an integer", "local_steps: 2.5\n", "", "local_steps: '2.5' is not an integer", nullptr},
        {"zero local steps", "local_steps: 0\n", "", "local_steps: 0 is out of range", nullptr},
        {"participation zero", "participation: 0\n", "", "participation: 0 is out of range", nullptr},
        {"negative width", "env:\n  width: -3\n", "", "env.width: -3 is out of range", nullptr},
        {"slip order", "env:\n  slip_min: 0.5\n  slip_max: 0.1\n", "", "env.slip_min (0.5) must not exceed", nullptr},
        {"yaml syntax", "agents: 'unterminated\n", "", "YAML syntax error", nullptr},
        {"yaml list", "agents: [1, 2]\n", "", "a list is not allowed", nullptr},
        {"duplicate key", "agents: 5\nagents: 6\n", "", "key given twice", nullptr},
        {"empty config", " ", "", "empty", nullptr},
        {"missing config", "", "run {dir}/nope.yaml --out {dir}/out", "cannot open config file: No such file or directory",
         nullptr},
        {"set without =", kSmall, "--set agents", "expected key=value", nullptr},
        {"set unknown key", kSmall, "--set env.colour=red", "unknown key 'env.colour'", nullptr},
        {"unknown flag", kSmall, "--fast", "unknown option '--fast'", nullptr},
        {"bad backend", kSmall, "--backend gpu", "backend: 'gpu' is not allowed; allowed: one of auto, cpu, cuda", nullptr},
        {"threads negative", kSmall, "--threads -2", "threads: -2 is out of range", nullptr},
        {"bad cuda kernel", kSmall, "--set cuda_kernel=block", "cuda_kernel: 'block' is not allowed; allowed: one of auto, thread, warp", nullptr},
        {"bad cpu kernel", kSmall, "--set cpu_kernel=neon", "cpu_kernel: 'neon' is not allowed; allowed: one of auto, avx512, avx2, portable, per_agent, scalar", nullptr},
        {"cuda chunk negative", kSmall, "--set cuda_max_chunk=-1", "cuda_max_chunk: -1 is out of range", nullptr},
        {"cuda graph not bool", kSmall, "--set cuda_graph=maybe", "cuda_graph: 'maybe'", nullptr},
        {"file kind without files", "env:\n  kind: file\n", "", "env.kind=file needs both env.p_file and env.r_file", nullptr},
        {"npy missing", file_env, "", "cannot open file", nullptr},
        {"npy wrong shape", file_env, "", "shape (2, 3, 4); allowed: [M, S, S]",
         [](const std::string &d) {
             save_npy(d + "/P.npy", std::vector<double>(24, 0.25), {2, 3, 4});
             save_npy(d + "/R.npy", {1, 0, 0}, {1, 3});
         }},
        {"npy NaN", file_env, "", "P[0, 1, 2] = nan; allowed: finite and >= 0",
         [](const std::string &d) {
             auto p = good_p();
             p[5] = NAN;
             save_npy(d + "/P.npy", p, {1, 3, 3});
             save_npy(d + "/R.npy", {1, 0, 0}, {1, 3});
         }},
        {"npy negative probability", file_env, "", "allowed: finite and >= 0",
         [](const std::string &d) {
             save_npy(d + "/P.npy", {1.5, -0.5, 0, 0, 0.5, 0.5, 0.5, 0, 0.5}, {1, 3, 3});
             save_npy(d + "/R.npy", {1, 0, 0}, {1, 3});
         }},
        {"npy rows not summing to 1", file_env, "", "row P[0, 2, :] sums to 0.9",
         [](const std::string &d) {
             auto p = good_p();
             p[8] = 0.4;
             save_npy(d + "/P.npy", p, {1, 3, 3});
             save_npy(d + "/R.npy", {1, 0, 0}, {1, 3});
         }},
        {"npy truncated", file_env, "", "truncated: the header promises shape (1, 3, 3) of 8-byte values (72 bytes), the file holds 60",
         [](const std::string &d) {
             save_npy(d + "/P.npy", good_p(), {1, 3, 3});
             std::string bytes = read_file(d + "/P.npy");
             write_file(d + "/P.npy", bytes.substr(0, bytes.size() - 12));
             save_npy(d + "/R.npy", {1, 0, 0}, {1, 3});
         }},
        {"npy not numpy", file_env, "", "not a .npy file",
         [](const std::string &d) {
             write_file(d + "/P.npy", "P = [[1]]\n");
             save_npy(d + "/R.npy", {1, 0, 0}, {1, 3});
         }},
        {"npy unsupported dtype", file_env, "", "dtype '<u8' is not supported",
         [](const std::string &d) {
             save_npy(d + "/P.npy", good_p(), {1, 3, 3});
             std::string bytes = read_file(d + "/P.npy");
             bytes.replace(bytes.find("<f8"), 3, "<u8");
             write_file(d + "/P.npy", bytes);
             save_npy(d + "/R.npy", {1, 0, 0}, {1, 3});
         }},
        {"npy R shape", file_env, "", "env.r_file {dir}/R.npy: shape (1, 4); allowed: [M, S, S] = (1, 3, 3) or [M, S] = (1, 3)",
         [](const std::string &d) {
             save_npy(d + "/P.npy", good_p(), {1, 3, 3});
             save_npy(d + "/R.npy", {1, 0, 0, 0}, {1, 4});
         }},
        {"npy R infinite", file_env, "", "is not finite",
         [](const std::string &d) {
             save_npy(d + "/P.npy", good_p(), {1, 3, 3});
             save_npy(d + "/R.npy", {1, INFINITY, 0}, {1, 3});
         }},
        {"types mismatch", "env:\n  kind: file\n  types: 3\n  p_file: {dir}/P.npy\n  r_file: {dir}/R.npy\ndim: 2\n", "",
         "env.types=3 but env.p_file holds 1 types", good_files},
        // the sparse folder (env.dir): good_p's rows, then one thing wrong in each case
        {"dir and files both", "env:\n  kind: file\n  dir: {dir}/e\n  p_file: {dir}/P.npy\n  r_file: {dir}/R.npy\n", "",
         "env.dir and env.p_file/env.r_file are both set; allowed: one of them", nullptr},
        {"dir with another family", "env:\n  dir: {dir}/e\n", "",
         "env.p_file/env.r_file/env.dir are only allowed with env.kind=file (env.kind is cliffwalk)", nullptr},
        {"dir not a folder", sparse_env, "", "env.dir {dir}/e: not a folder", nullptr},
        {"dir without a file", sparse_env, "", "P_indices.npy: cannot open file",
         [](const std::string &d) {
             mkdir((d + "/e").c_str(), 0755);
             save_npy(d + "/e/P_indptr.npy", {0, 2, 4, 6}, {1, 4});
         }},
        {"dir next state out of range", sparse_env, "", "P_indices[3] = 3; allowed: an integer state in [0, S)",
         [](const std::string &d) { sparse_files(d, {0, 2, 4, 6}, {0, 1, 1, 3, 0, 2}, 3); }},
        {"dir offsets going back", sparse_env, "", "P_indptr[0, 2] = 1; allowed: an integer from P_indptr[0, 1] = 2",
         [](const std::string &d) { sparse_files(d, {0, 2, 1, 6}, {0, 1, 1, 2, 0, 2}, 3); }},
        {"dir offsets short of the end", sparse_env, "", "P_indptr ends at 5; allowed: nnz = 6",
         [](const std::string &d) { sparse_files(d, {0, 2, 4, 5}, {0, 1, 1, 2, 0, 2}, 3); }},
        {"dir row not summing to 1", sparse_env, "", "row 1 of type 0 sums to 1.5; allowed: 1 within 1e-6",
         [](const std::string &d) { sparse_files(d, {0, 2, 5, 6}, {0, 1, 1, 2, 0, 2}, 3); }},
        {"dir shape not dividing", sparse_env, "", "P_shape.npy does not match P_indptr.npy [1, 4]",
         [](const std::string &d) { sparse_files(d, {0, 2, 4, 6}, {0, 1, 1, 2, 0, 2}, 2); }},
        {"dir MDPs without control", sparse_env, "", "holds MDPs (2 actions a state); allowed without control: chains",
         [](const std::string &d) { sparse_files(d, {0, 2, 4, 6, 8}, {0, 1, 0, 1, 0, 1, 0, 1}, 2); }},
        {"dir R_data length", sparse_env, "", "R_data.npy has shape (5,); allowed: [nnz] = (6,)",
         [](const std::string &d) {
             sparse_files(d, {0, 2, 4, 6}, {0, 1, 1, 2, 0, 2}, 3);
             save_npy(d + "/e/R_data.npy", {1, 1, 0, 0, 0}, {5});
         }},
        {"dir types mismatch", "env:\n  kind: file\n  types: 2\n  dir: {dir}/e\ndim: 2\n", "",
         "env.types=2 but env.dir holds 1 types",
         [](const std::string &d) { sparse_files(d, {0, 2, 4, 6}, {0, 1, 1, 2, 0, 2}, 3); }},
        // a diverging run keeps its metrics and summary to look at: CliRundir.AFailedResumeOrRun...
        {"out is a file", kSmall, "--out {dir}/c.yaml", "not a directory", nullptr},
        {"types out of range", "env:\n  types: 4\n  type_first: 3\n  type_count: 2\n", "",
         "env.type_first=3, env.type_count=2: the agents' types must lie within the 4 types", nullptr},
        {"init_phi shape", "dim: 4\ninit_phi: {dir}/phi.npy\n", "", "init_phi {dir}/phi.npy: shape (48, 3); allowed: [S, d] = (48, 4)",
         [](const std::string &d) { save_npy(d + "/phi.npy", std::vector<double>(48 * 3, 0.1), {48, 3}); }},
        // what an outside check of hostile input found (issue: hostile input), each now refused with exit 2
        {"npy header promises more than the file", file_env, "", "truncated: the header promises shape (68719476736,)",
         [](const std::string &d) {
             write_raw_npy(d + "/P.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (68719476736,), }",
                           std::string(72, '\0'));
             save_npy(d + "/R.npy", {1, 0, 0}, {1, 3});
         }},
        {"npy count overflows", file_env, "", "more than 2^64 bytes",
         [](const std::string &d) {
             write_raw_npy(d + "/P.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (16777216, 1099511627776), }",
                           std::string(72, '\0'));
             save_npy(d + "/R.npy", {1, 0, 0}, {1, 3});
         }},
        {"npy decoy fortran_order", "dim: 4\ninit_phi: {dir}/phi.npy\n", "", "unexpected key",
         [](const std::string &d) {
             write_raw_npy(d + "/phi.npy",
                           "{'descr': '<f8', 'x': \"'fortran_order': False\", 'fortran_order': True, 'shape': (48, 4)}",
                           std::string(48 * 4 * 8, '\0'));
         }},
        {"yaml section twice", "env:\n  kind: gridworld\nagents: 5\nenv:\n  width: 7\n", "", "env: section given twice",
         nullptr},
        {"section given a value", "env: cliffwalk\n", "", "'env' is a section, not a key", nullptr},
        {"hex seed", kSmall, "--set seed=0x10", "seed: '0x10' is not a number", nullptr},
        {"hex env.seed", "env:\n  seed: 0x10\n", "", "env.seed: '0x10' is not a number", nullptr},
        {"long value", "agents: " + std::string(5000, '9') + "x\n", "", "(5001 characters)' is not a number; allowed: an integer", nullptr},
        {"too large for memory", kSmall, "--set agents=1e12", "GiB of host memory", nullptr},
        {"garnet too large to build", kSmall,
         "--set env.kind=garnet --set env.states=1000000 --set env.actions=64 --set env.branching=1000",
         "env.states=1000000, env.actions=64, env.branching=1000", nullptr},
        {"goals fill the grid", "env:\n  kind: gridworld\n  width: 3\n  height: 3\n  goals: 9\n", "",
         "env.goals=9, env.starts=0: the largest connected region of type 0 of the 3x3 grid world has 9 free cells "
         "(env.walls=0); allowed: env.goals below that", nullptr},
        {"key of another family", kSmall, "--set env.goals=3", "env.goals=3 does nothing with env.kind=cliffwalk; "
         "allowed: it applies to env.kind gridworld only", nullptr},
        {"option of another command", kSmall, "--rounds 5", "option '--rounds' does not apply to run", nullptr},
        {"option without its value", kSmall, "--out", "--out needs a value", nullptr},
        {"resume without a checkpoint", "", "resume {dir}/out", "checkpoint.pfr: cannot open", nullptr},
        {"availability trace not 0/1", kSmall, "--set federation.availability_trace={dir}/tr.npy --set agents=3",
         "entry [0, 1] is 0.5; allowed: 0 (absent) or 1 (available)",
         [](const std::string &d) { save_npy(d + "/tr.npy", {1, 0.5, 0}, {1, 3}); }},
        {"availability trace shape", kSmall, "--set federation.availability_trace={dir}/tr.npy --set agents=4",
         "shape (1, 3); allowed: [rounds, N] = (R, 4)",
         [](const std::string &d) { save_npy(d + "/tr.npy", {1, 1, 0}, {1, 3}); }},
        {"noise without clip", kSmall, "--set federation.noise_multiplier=1", "needs federation.clip > 0", nullptr},
        {"reducible chain", file_env, "", "no unique stationary distribution",
         [](const std::string &d) { // two absorbing states
             save_npy(d + "/P.npy", {1, 0, 0, 0, 1, 0, 0.5, 0.5, 0}, {1, 3, 3});
             save_npy(d + "/R.npy", {1, 0, 0}, {1, 3});
         }},
    };
    ASSERT_GE(cases.size(), 20u);
    for (const BadCase &c : cases) {
        SCOPED_TRACE(c.name);
        std::string dir = make_temp_dir();
        if (c.prepare)
            c.prepare(dir);
        std::string args;
        if (!c.config.empty()) {
            write_file(dir + "/c.yaml", replace_dir(c.config, dir));
            args = "run " + dir + "/c.yaml --out " + dir + "/out " + replace_dir(c.args, dir);
        } else {
            args = replace_dir(c.args, dir);
        }
        Result r = run_cli(args);
        EXPECT_EQ(r.code, c.code) << r.output;
        const std::string expect = replace_dir(c.expect, dir);
        EXPECT_NE(r.output.find(expect), std::string::npos) << "expected '" << expect << "' in: " << r.output;
        EXPECT_NE(r.output.find("pfedrl"), std::string::npos) << "message does not say who speaks: " << r.output;
        // no result file and no temporary file anywhere under the output directory
        for (const std::string &name : list_dir(dir + "/out"))
            ADD_FAILURE() << "left behind: " << name;
    }
}

// Set-up warnings go to stderr and the run goes on: threads beyond the cores, an all-zero init_phi.
TEST(Cli, WarningsAreShownAndTheRunGoesOn)
{
    const std::string dir = make_temp_dir();
    write_file(dir + "/c.yaml", kSmall);
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    Result r = run_cli("run " + dir + "/c.yaml --threads " + std::to_string(cores + 1) + " --out " + dir + "/a");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("warning: threads=" + std::to_string(cores + 1) + " exceeds the"), std::string::npos)
        << r.output;
    save_npy(dir + "/zero.npy", std::vector<double>(48 * 4, 0.0), {48, 4});
    r = run_cli("run " + dir + "/c.yaml --set init_phi=" + dir + "/zero.npy --out " + dir + "/b");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("is all zeros"), std::string::npos) << r.output;
}

// A run in which no agent ever takes part is legal but almost surely not meant: the set-up says why
// (a trace of zeros; agents that leave before the first round and never return), the end says so.
TEST(Cli, RunsInWhichNoAgentTakesPartAreWarnedAbout)
{
    const std::string dir = make_temp_dir();
    write_file(dir + "/c.yaml", "env:\n  kind: cliffwalk\nagents: 8\ndim: 2\nrounds: 3\n");
    save_npy(dir + "/zeros.npy", std::vector<double>(2 * 8, 0.0), {2, 8});
    Result r = run_cli("run " + dir + "/c.yaml --set federation.availability_trace=" + dir + "/zeros.npy -o " + dir +
                       "/a -q");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("warning: federation.availability_trace " + dir + "/zeros.npy is 0 everywhere"),
              std::string::npos) << r.output;
    EXPECT_NE(r.output.find("warning: no agent took part in any of the 3 rounds"), std::string::npos) << r.output;
    r = run_cli("run " + dir + "/c.yaml --set federation.p_drop=1 --set federation.p_return=0 -o " + dir + "/b -q");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("every agent leaves before the first round and never returns"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("no agent took part"), std::string::npos) << r.output;
    // agents that leave for good, slowly: a caution with the rounds it takes, and they do take part
    r = run_cli("run " + dir + "/c.yaml --set federation.p_drop=0.5 --set federation.p_return=0 -o " + dir + "/c -q");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("about one of the 8 agents is left after 3 rounds"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("no agent took part"), std::string::npos) << r.output;
    // and an ordinary run says none of this
    r = run_cli("run " + dir + "/c.yaml -o " + dir + "/d -q");
    EXPECT_EQ(r.output.find("warning"), std::string::npos) << r.output;
}

// A path that is not UTF-8 (from a non-UTF-8 locale) still gives a valid JSON summary.
TEST(Cli, SummaryIsValidJsonForPathsThatAreNotUtf8)
{
    const std::string dir = make_temp_dir() + "/x\xff\xfey";
    ASSERT_EQ(mkdir(dir.c_str(), 0777), 0);
    save_npy(dir + "/P.npy", good_p(), {1, 3, 3});
    save_npy(dir + "/R.npy", {1, 0, 0}, {1, 3});
    write_file(dir + "/../c.yaml", "env:\n  kind: file\ndim: 2\nrounds: 2\nagents: 8\n"); // YAML itself must be UTF-8
    Result r = run_cli("run '" + dir + "/../c.yaml' --set 'env.p_file=" + dir + "/P.npy' --set 'env.r_file=" + dir +
                       "/R.npy' --out '" + dir + "/out'");
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string js = read_file(dir + "/out/summary.json");
    EXPECT_EQ(js.find('\xff'), std::string::npos) << "a raw byte that is not UTF-8 in the JSON";
    EXPECT_NE(js.find("x\\ufffd\\ufffdy"), std::string::npos) << js;
}

} // namespace

// ---- a run's life: resume, signals, all-or-nothing outputs, config.yaml, the progress line ---------
namespace {

// metrics.csv without its clock columns (wall_s, agent_steps_per_sec: fields 8 and 9)
std::string without_clocks(const std::string &csv)
{
    std::string out, line;
    std::istringstream in(csv);
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::string field;
        std::istringstream ls(line);
        while (std::getline(ls, field, ','))
            f.push_back(field);
        for (size_t i = 0; i < f.size(); ++i)
            if (i != 8 && i != 9)
                out += f[i] + (i + 1 < f.size() ? "," : "");
        out += "\n";
    }
    return out;
}

const char *kLong = "env:\n  kind: cliffwalk\n  types: 4\n  slip_max: 0.3\nagents: 300\ndim: 8\nlocal_steps: 5\n"
                    "alpha: 0.1\nbeta: 0.05\neval_every: 5\northonormalize: true\nparticipation: 0.8\n";

void expect_same_results(const std::string &a, const std::string &b)
{
    for (const char *f : {"phi.npy", "theta.npy", "metrics_by_type.csv"})
        EXPECT_EQ(read_file(a + "/" + f), read_file(b + "/" + f)) << f << " differs";
    EXPECT_EQ(without_clocks(read_file(a + "/metrics.csv")), without_clocks(read_file(b + "/metrics.csv")));
}

} // namespace

TEST(Cli, ResumeGoesOnAsIfTheRunNeverStopped)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    write_file(cfg, kLong);
    ASSERT_EQ(run_cli("run " + cfg + " -q --set rounds=40 --out " + dir + "/straight").code, 0);
    Result r = run_cli("run " + cfg + " -q --set rounds=20 -o " + dir + "/split");
    ASSERT_EQ(r.code, 0) << r.output;
    r = run_cli("resume " + dir + "/split --rounds 40 --threads 1 -q");
    ASSERT_EQ(r.code, 0) << r.output;
    expect_same_results(dir + "/straight", dir + "/split");
    EXPECT_NE(read_file(dir + "/split/summary.json").find("\"rounds_done\": 40"), std::string::npos);
    // nothing left to do, and keys that would change the results, are refused
    r = run_cli("resume " + dir + "/split --rounds 40");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("is at round 40 and was asked for 40"), std::string::npos) << r.output;
    r = run_cli("resume " + dir + "/split --rounds 60 --set alpha=0.2");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("alpha cannot change"), std::string::npos) << r.output;
}

// A real SIGINT in the middle of a run: exit 130, the outputs so far marked interrupted, a
// checkpoint; resumed, the run ends where a straight run ends, bit for bit.
TEST(Cli, InterruptedBySignalThenResumedEqualsAStraightRun)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml", out = dir + "/stopped";
    std::string text = kLong;
    text.replace(text.find("agents: 300"), 11, "agents: 2000");
    write_file(cfg, text + "rounds: 3000\n");
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(PFR_CLI_PATH, PFR_CLI_PATH, "run", cfg.c_str(), "--out", out.c_str(), (char *)nullptr);
        _exit(127);
    }
    int rows = 0; // wait for a few evaluations (rows appear as the run goes), then interrupt
    for (int i = 0; i < 6000 && rows < 4; ++i) {
        usleep(5000);
        rows = 0;
        for (char c : read_file(out + "/metrics.csv"))
            rows += c == '\n';
    }
    ASSERT_GE(rows, 4) << "the run wrote no live metrics";
    kill(pid, SIGINT);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 130) << "finished before the signal? rows seen: " << rows;
    std::string js = read_file(out + "/summary.json");
    EXPECT_NE(js.find("\"status\": \"interrupted\""), std::string::npos) << js;
    EXPECT_FALSE(read_file(out + "/checkpoint.pfr").empty());
    Result r = run_cli("resume " + out + " -q");
    ASSERT_EQ(r.code, 0) << r.output;
    ASSERT_EQ(run_cli("run " + cfg + " -q --out " + dir + "/straight").code, 0);
    expect_same_results(dir + "/straight", out);
}

// The final files land together or not at all: a rename that fails takes back the new files and
// restores the earlier run's, byte for byte.
TEST(Cli, FailingRenameLeavesTheEarlierResultsAsTheyWere)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml", out = dir + "/out";
    write_file(cfg, kSmall);
    ASSERT_EQ(run_cli("run " + cfg + " -q --out " + out).code, 0);
    std::vector<std::string> before = list_dir(out);
    std::sort(before.begin(), before.end());
    std::map<std::string, std::string> bytes;
    for (const std::string &f : before)
        bytes[f] = read_file(out + "/" + f);
    for (const char *victim : {"summary.json", "phi.npy", "checkpoint.pfr"}) {
        Result r = run_cli("run " + cfg + " -q --force --set seed=9 --out " + out, std::string("PFEDRL_FAULT_RENAME=") + victim + " ");
        EXPECT_EQ(r.code, 1) << r.output;
        EXPECT_NE(r.output.find("cannot rename"), std::string::npos) << r.output;
        std::vector<std::string> after = list_dir(out);
        std::sort(after.begin(), after.end());
        EXPECT_EQ(after, before) << "failing " << victim;
        for (const std::string &f : before)
            EXPECT_EQ(read_file(out + "/" + f), bytes[f]) << f << " changed (failing " << victim << ")";
    }
}

// A run that fails in its set-up leaves no directory it made (a diverged run keeps its record:
// CliRundir); an --out that cannot be written is refused before set-up.
TEST(Cli, FailedRunLeavesNoDirectoryItMade)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    write_file(cfg, "dim: 4\ninit_phi: " + dir + "/phi.npy\n");
    save_npy(dir + "/phi.npy", std::vector<double>(48 * 3, 0.1), {48, 3}); // [S, d] should be (48, 4)
    Result r = run_cli("run " + cfg + " -q --out " + dir + "/new/nested/out");
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("init_phi"), std::string::npos) << r.output;
    EXPECT_EQ(list_dir(dir).size(), 2u) << "left behind in " << dir; // only c.yaml and phi.npy
    write_file(dir + "/file", "x");
    r = run_cli("run " + cfg + " -q --out " + dir + "/file/sub");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("cannot create"), std::string::npos) << r.output;
}

// config.yaml, run again, is the same config (byte for byte) and the same run.
TEST(Cli, ConfigYamlRepeatsTheRun)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    write_file(cfg, "env:\n  kind: gridworld\n  width: 7\n  height: 5\n  types: 3\n  goals: 2\n  walls: 0.1\n"
                    "  wind_direction: per_type\n  wind_max: 0.1\nagents: 90\ndim: 5\nrounds: 12\nalpha: 0.1\n"
                    "beta: 0.03\nschedule:\n  a: 0.3\n  tau: 77.5\nparticipation: 0.9\n");
    ASSERT_EQ(run_cli("run " + cfg + " -q --out " + dir + "/a").code, 0);
    const std::string yaml = read_file(dir + "/a/config.yaml");
    EXPECT_NE(yaml.find("  p_file: ''"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("alpha: 0.1\n"), std::string::npos) << yaml; // shortest form
    Result r = run_cli("run " + dir + "/a/config.yaml -q --out " + dir + "/b");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(read_file(dir + "/b/config.yaml"), yaml);
    expect_same_results(dir + "/a", dir + "/b");
}

TEST(Cli, OptionFormsAndHelpPerCommand)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    write_file(cfg, kSmall);
    EXPECT_EQ(run_cli("run --out=" + dir + "/a -q " + cfg).code, 0);
    EXPECT_FALSE(read_file(dir + "/a/summary.json").empty());
    EXPECT_EQ(run_cli("run -q -o " + dir + "/b -s seed=4 -t 1 " + cfg).code, 0);
    EXPECT_NE(read_file(dir + "/b/summary.json").find("\"seed\": 4"), std::string::npos);
    for (const char *cmd : {"run", "resume", "export"}) {
        Result r = run_cli(std::string(cmd) + " --help");
        EXPECT_EQ(r.code, 0);
        EXPECT_NE(r.output.find(std::string("usage: pfedrl ") + cmd), std::string::npos) << r.output;
    }
    Result r = run_cli("help run");
    std::string flat; // the text with its line breaks and indents as single spaces (lines fit 80 columns)
    for (char c : r.output) {
        const bool space = c == ' ' || c == '\n';
        if (!space || flat.empty() || flat.back() != ' ')
            flat += space ? ' ' : c;
    }
    EXPECT_NE(flat.find("one of cliffwalk, gridworld, garnet, randomwalk, file"), std::string::npos) << r.output;
    EXPECT_NE(flat.find("default: 0.3;"), std::string::npos) << r.output; // shortest form
}

// Every help text fits an 80-column terminal (characters, not bytes: the title has an em dash).
TEST(Cli, HelpFitsEightyColumns)
{
    for (const char *args : {"help", "--help", "help run", "run --help", "help resume", "help export", "help bench",
                             "bench --help"}) {
        const Result r = run_cli(args);
        EXPECT_EQ(r.code, 0) << args;
        size_t cols = 0, lines = 0;
        for (char c : r.output) {
            if (c == '\n') {
                EXPECT_LE(cols, 80u) << args << ", line " << lines + 1;
                cols = 0;
                ++lines;
            } else if (((unsigned char)c & 0xC0) != 0x80) {
                ++cols;
            }
        }
        EXPECT_GT(lines, 10u) << args;
    }
}

// On an 80-column terminal no progress line is wider than 79 columns (a wider one would wrap and
// every redraw scroll the screen).
TEST(Cli, ProgressLineFitsTheTerminal)
{
    std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    write_file(cfg, std::string(kLong) + "rounds: 400\n");
    struct winsize ws = {};
    ws.ws_col = 80;
    ws.ws_row = 24;
    int master = -1;
    pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        execl(PFR_CLI_PATH, PFR_CLI_PATH, "run", cfg.c_str(), "--out", (dir + "/out").c_str(), (char *)nullptr);
        _exit(127);
    }
    std::string seen;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0)
            break;
        seen.append(buf, (size_t)n);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    close(master);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << seen;
    ASSERT_NE(seen.find("rounds"), std::string::npos) << "no progress line drawn: " << seen;
    // every line drawn in place (what follows a \r up to the next \r or \n), escape sequences
    // removed; the final summary is an ordinary line and may wrap
    std::string cur;
    size_t widest = 0;
    bool redrawn = false;
    int drawn = 0;
    for (size_t i = 0; i <= seen.size(); ++i) {
        const char c = i < seen.size() ? seen[i] : '\n';
        if (c == '\033') { // CSI ... final byte
            while (i + 1 < seen.size() && !std::isalpha((unsigned char)seen[i + 1]))
                ++i;
            ++i;
            continue;
        }
        if (c == '\r' || c == '\n') {
            if (redrawn && !cur.empty()) {
                widest = std::max(widest, cur.size());
                ++drawn;
                EXPECT_LE(cur.size(), 79u) << "too wide: '" << cur << "'";
            }
            redrawn = c == '\r';
            cur.clear();
        } else {
            cur += c;
        }
    }
    EXPECT_GT(drawn, 0);
    EXPECT_GT(widest, 40u);
}

// `-s env.kind=K` over a file for another family: the file's keys that K does not read are left out
// with a note (not a refusal); a key given with -s after it still counts (and is refused if K does
// not read it).
TEST(Cli, SwitchingTheEnvironmentFamilyLeavesOutTheOldFamilysKeys)
{
    const std::string dir = make_temp_dir(), cfg = dir + "/c.yaml";
    write_file(cfg, "env:\n  kind: cliffwalk\n  width: 12\n  height: 4\n  wind_max: 0.2\nagents: 64\nrounds: 2\n");
    const Result r = run_cli("run " + cfg + " -s env.kind=garnet -q -o " + dir + "/g");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("note: env.kind cliffwalk -> garnet: left out the settings garnet does not read "
                            "(env.width=12, env.height=4, env.wind_max=0.2)"), std::string::npos) << r.output;
    const std::string summary = read_file(dir + "/g/summary.json");
    EXPECT_NE(summary.find("\"kind\": \"garnet\""), std::string::npos) << summary;
    const Result bad = run_cli("run " + cfg + " -s env.kind=garnet -s env.width=5 -q -o " + dir + "/h");
    EXPECT_EQ(bad.code, 2) << bad.output;
    EXPECT_NE(bad.output.find("env.width=5 does nothing with env.kind=garnet"), std::string::npos) << bad.output;
    // without a switch nothing is left out: the file's own mistake is refused as before
    write_file(dir + "/w.yaml", "env:\n  kind: garnet\n  width: 12\n");
    EXPECT_EQ(run_cli("run " + dir + "/w.yaml -q -o " + dir + "/w").code, 2);
}
