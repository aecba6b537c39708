// A folder's results always describe one run at one round (issue: runs that cannot corrupt each other):
// a failed run or resume leaves the folder as it was (a diverged run's periodic checkpoint included),
// a run without a final checkpoint leaves no older one behind to resume from (no rewinding), and a
// run killed before it finished is recovered by the next start, which says so.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/cli_helpers.h"

namespace {

bool exists(const std::string &p)
{
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

std::vector<std::string> hidden_entries(const std::string &dir)
{
    std::vector<std::string> out;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return out;
    while (dirent *e = readdir(d))
        if (e->d_name[0] == '.' && std::string(e->d_name) != "." && std::string(e->d_name) != "..")
            out.push_back(e->d_name);
    closedir(d);
    return out;
}

const char *kRun = "env:\n  kind: cliffwalk\nagents: 64\ndim: 4\nrounds: 10\neval_every: 5\ncheckpoint_every: 2\n";

// A resume that fails (here: it diverges) leaves metrics.csv, summary.json and checkpoint.pfr as they
// were; a fresh run that fails leaves no checkpoint of its own behind.
TEST(CliRundir, AFailedResumeOrRunLeavesTheFolderAsItWas)
{
    const std::string dir = make_temp_dir(), out = dir + "/out";
    write_file(dir + "/c.yaml", kRun);
    ASSERT_EQ(run_cli("run " + dir + "/c.yaml -o " + out + " -q").code, 0);
    const std::string metrics = read_file(out + "/metrics.csv"), summary = read_file(out + "/summary.json"),
                      ckpt = read_file(out + "/checkpoint.pfr");
    // resume with step sizes that diverge (alpha and beta may not change on resume: so a config that
    // diverges is made by a new run below; here the resume fails by an unwritable metrics file)
    const Result bad = run_cli("resume " + out + " --rounds 20 -q", "PFEDRL_TEST_FAIL_WRITE_AT_ROUND=14 ");
    EXPECT_NE(bad.code, 0) << bad.output;
    EXPECT_EQ(read_file(out + "/metrics.csv"), metrics);
    EXPECT_EQ(read_file(out + "/summary.json"), summary);
    EXPECT_EQ(read_file(out + "/checkpoint.pfr"), ckpt) << "the resume's periodic checkpoint replaced the run's";
    EXPECT_TRUE(hidden_entries(out).empty()) << "left: " << hidden_entries(out)[0];

    const std::string fresh = dir + "/diverged";
    write_file(dir + "/d.yaml", std::string(kRun) + "alpha: 1000\nbeta: 1000\n");
    const Result div = run_cli("run " + dir + "/d.yaml -o " + fresh + " -q");
    EXPECT_EQ(div.code, 1) << div.output;
    EXPECT_FALSE(exists(fresh + "/checkpoint.pfr")) << "a diverged run left its periodic checkpoint";
    // ... but keeps its record to look at: metrics to the diverged evaluation, a summary that says so
    EXPECT_NE(div.output.find("summary.json (\"status\": \"failed\") are in"), std::string::npos) << div.output;
    const std::string s = read_file(fresh + "/summary.json"), m = read_file(fresh + "/metrics.csv");
    EXPECT_NE(s.find("\"status\": \"failed\",\n  \"error\": \"the run diverged by round"), std::string::npos) << s;
    EXPECT_NE(s.find("\"final_value_error\": null"), std::string::npos) << s;
    EXPECT_GE(std::count(m.begin(), m.end(), '\n'), 2) << m; // the header, round 0, ..., the diverged row
    EXPECT_FALSE(exists(fresh + "/phi.npy"));
    EXPECT_FALSE(exists(fresh + "/theta.npy"));
    EXPECT_TRUE(hidden_entries(fresh).empty());
    // a new run there is refused as for any earlier run; resume has no checkpoint to go on from
    EXPECT_EQ(run_cli("run " + dir + "/c.yaml -o " + fresh + " -q").code, 2);
    EXPECT_NE(run_cli("resume " + fresh + " -q").code, 0);
}

// A write that fails for want of room names the file the user knows (not its temporary name) and the
// system's reason; the run leaves nothing. The room is taken away for real: a file size limit
// (ulimit -f, 512-byte blocks; SIGXFSZ ignored so the write fails with EFBIG instead of killing).
TEST(CliRundir, AWriteThatFailsNamesTheFileAndTheCause)
{
    const std::string dir = make_temp_dir();
    write_file(dir + "/c.yaml", "env:\n  kind: cliffwalk\nagents: 2000\ndim: 4\nrounds: 4\neval_every: 2\n");
    const std::string limit = "trap '' XFSZ; ulimit -f 40; "; // 20 KiB: theta.npy needs 32 KB
    Result r = run_cli("run " + dir + "/c.yaml -o " + dir + "/a -q", limit);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find(dir + "/a/theta.npy: write failed: " + strerror(EFBIG)), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find(".tmp."), std::string::npos) << r.output;
    EXPECT_FALSE(exists(dir + "/a"));
    // the periodic checkpoint (about 60 KB) the same way
    r = run_cli("run " + dir + "/c.yaml -o " + dir + "/b --no-theta --set checkpoint_every=2 -q", limit);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find(dir + "/b/checkpoint.pfr: write failed: " + strerror(EFBIG)), std::string::npos)
        << r.output;
    EXPECT_FALSE(exists(dir + "/b"));
}

// Without a final checkpoint (--no-checkpoint) the folder keeps none: an older one would let a later
// resume go back to its round and rewrite the results silently.
TEST(CliRundir, NoFinalCheckpointLeavesNoOlderOneToRewindTo)
{
    const std::string dir = make_temp_dir(), out = dir + "/out";
    write_file(dir + "/c.yaml", kRun);
    ASSERT_EQ(run_cli("run " + dir + "/c.yaml -o " + out + " -q").code, 0);
    ASSERT_EQ(run_cli("resume " + out + " --rounds 20 --no-checkpoint -q").code, 0);
    EXPECT_FALSE(exists(out + "/checkpoint.pfr")) << "a checkpoint of round 10 beside results of round 20";
    const Result back = run_cli("resume " + out + " --rounds 15 -q");
    EXPECT_EQ(back.code, 2) << back.output;
    EXPECT_NE(read_file(out + "/summary.json").find("\"rounds\": 20"), std::string::npos);
}

// A new run into a folder that holds an earlier run is refused (exit 2, the files named, the folder
// as it was) unless --force, which replaces it; resume takes no --force.
TEST(CliRundir, AnEarlierRunIsReplacedOnlyWithForce)
{
    const std::string dir = make_temp_dir(), out = dir + "/out";
    write_file(dir + "/c.yaml", kRun);
    ASSERT_EQ(run_cli("run " + dir + "/c.yaml -o " + out + " -q").code, 0);
    const std::string summary = read_file(out + "/summary.json"), ckpt = read_file(out + "/checkpoint.pfr");
    const Result again = run_cli("run " + dir + "/c.yaml -o " + out + " -q -s seed=5");
    EXPECT_EQ(again.code, 2) << again.output;
    EXPECT_NE(again.output.find("holds the results of an earlier run (metrics.csv"), std::string::npos) << again.output;
    EXPECT_NE(again.output.find("--force to replace it"), std::string::npos) << again.output;
    EXPECT_EQ(read_file(out + "/summary.json"), summary);
    EXPECT_EQ(read_file(out + "/checkpoint.pfr"), ckpt);
    EXPECT_TRUE(hidden_entries(out).empty());
    EXPECT_EQ(run_cli("resume " + out + " --rounds 12 --force -q").code, 2);
    ASSERT_EQ(run_cli("run " + dir + "/c.yaml -o " + out + " -q -s seed=5 --force").code, 0);
    EXPECT_NE(read_file(out + "/summary.json"), summary);
    EXPECT_NE(read_file(out + "/summary.json").find("\"seed\": 5"), std::string::npos);
}

// A run killed before it finished (SIGKILL: no clean-up) leaves the earlier results set aside; the
// next start in the folder puts them back, says so, and resume goes on from them.
TEST(CliRundir, ARunKilledBeforeItFinishedIsRecoveredByTheNextStart)
{
    const std::string dir = make_temp_dir(), out = dir + "/out";
    write_file(dir + "/c.yaml", kRun);
    ASSERT_EQ(run_cli("run " + dir + "/c.yaml -o " + out + " -q").code, 0);
    const std::string ckpt = read_file(out + "/checkpoint.pfr");
    write_file(dir + "/long.yaml", "env:\n  kind: cliffwalk\nagents: 65536\nlocal_steps: 100\nrounds: 1000000\n"
                                   "eval_every: 1000000\nthreads: 1\n");
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        const int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(PFR_CLI_PATH, PFR_CLI_PATH, "run", (dir + "/long.yaml").c_str(), "-o", out.c_str(), "-q", "--force",
              (char *)nullptr);
        _exit(127);
    }
    for (int k = 0; k < 200 && hidden_entries(out).empty(); ++k) // its start: the earlier results set aside
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_FALSE(hidden_entries(out).empty()) << "the killed run set nothing aside";
    const Result r = run_cli("resume " + out + " --rounds 12 -q");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("was stopped before it finished"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("restored"), std::string::npos) << r.output;
    EXPECT_TRUE(hidden_entries(out).empty());
    EXPECT_NE(read_file(out + "/summary.json").find("\"rounds\": 12"), std::string::npos);
    EXPECT_NE(read_file(out + "/checkpoint.pfr"), ckpt);
}

// Ctrl-C during a set-up (here a 400 x 400 grid world's, about ten seconds) ends the command with 130,
// says so, and leaves nothing: the directory it made is gone.
TEST(CliRundir, AnInterruptedSetUpSaysSoAndLeavesNothing)
{
    const std::string dir = make_temp_dir(), out = dir + "/out", log = dir + "/log.txt";
    write_file(dir + "/big.yaml", "env:\n  kind: gridworld\n  width: 400\n  height: 400\n  types: 4\nagents: 1000\n"
                                  "dim: 4\nrounds: 2\nthreads: 1\n");
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(PFR_CLI_PATH, PFR_CLI_PATH, "run", (dir + "/big.yaml").c_str(), "-o", out.c_str(), (char *)nullptr);
        _exit(127);
    }
    for (int k = 0; k < 400 && !exists(out); ++k) // the directory made and locked: the set-up follows
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    kill(pid, SIGINT);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130) << "status " << status << ": " << read_file(log);
    EXPECT_NE(read_file(log).find("interrupted during set-up; nothing written"), std::string::npos) << read_file(log);
    EXPECT_FALSE(exists(out));
}

} // namespace
