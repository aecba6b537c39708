// One run at a time in an output directory (issue: runs that cannot corrupt each other): a run or
// resume holds a lock on its directory for its life (host/cli/rundir.c: flock on the directory, no
// file left behind); a second one exits 2 naming the holder's PID, and the directory is free again
// the moment the holder ends, however it ends.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/cli_helpers.h"

namespace {

TEST(CliLock, ASecondRunOrResumeInTheSameDirectoryIsRefusedWhileTheFirstLives)
{
    const std::string dir = make_temp_dir(), out = dir + "/out";
    write_file(dir + "/long.yaml", "env:\n  kind: cliffwalk\nagents: 65536\nlocal_steps: 100\nrounds: 1000000\n"
                                   "eval_every: 1000000\nthreads: 1\n");
    write_file(dir + "/short.yaml", "env:\n  kind: cliffwalk\nagents: 64\nrounds: 3\ndim: 4\n");
    const pid_t first = fork();
    ASSERT_GE(first, 0);
    if (first == 0) { // the long run, holding the directory
        const int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(PFR_CLI_PATH, PFR_CLI_PATH, "run", (dir + "/long.yaml").c_str(), "-o", out.c_str(), "-q", (char *)nullptr);
        _exit(127);
    }
    struct stat st;
    for (int k = 0; k < 200 && stat((out + "/metrics.csv").c_str(), &st) != 0; ++k) // past set-up: rows appear
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    ASSERT_EQ(stat((out + "/metrics.csv").c_str(), &st), 0) << "the first run did not start";
    const std::string holder = "(pid " + std::to_string(first) + ")";
    for (const std::string &args : {"run " + dir + "/short.yaml -o " + out, "resume " + out + " --rounds 5"}) {
        SCOPED_TRACE(args);
        const Result r = run_cli(args);
        EXPECT_EQ(r.code, 2) << r.output;
        EXPECT_NE(r.output.find("is in use by another pfedrl run or resume " + holder), std::string::npos) << r.output;
        EXPECT_NE(r.output.find("allowed: one at a time in a directory"), std::string::npos) << r.output;
    }
    kill(first, SIGKILL); // however it ends, the lock goes with it
    int status = 0;
    waitpid(first, &status, 0);
    const Result again = run_cli("run " + dir + "/short.yaml -o " + out + " -q --force");
    EXPECT_EQ(again.code, 0) << again.output;
    EXPECT_EQ(std::string::npos, again.output.find("in use")) << again.output;
}

} // namespace
