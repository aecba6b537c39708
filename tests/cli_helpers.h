// cli_helpers.h — running the pfedrl command in the CLI tests (test_cli.cc, test_cli_bench.cc): a
// temporary folder, files in and out, the command's exit code and output.
#ifndef PFR_TESTS_CLI_HELPERS_H
#define PFR_TESTS_CLI_HELPERS_H

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/test_temp.h"

namespace pfr_test {

inline std::string make_temp_dir()
{
    const std::string d = pfr_test::temp_dir("pfedrl_cli_");
    EXPECT_NE(d, "/tmp");
    return d;
}

inline void write_file(const std::string &path, const std::string &text)
{
    std::ofstream f(path, std::ios::binary);
    f << text;
}

inline std::string read_file(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

struct Result {
    int code;
    std::string output;
};

// env: assignments put before the command ("NAME=value ")
inline Result run_cli(const std::string &args, const std::string &env = "")
{
    std::string log = make_temp_dir() + "/log.txt";
    std::string cmd = env + std::string(PFR_CLI_PATH) + " " + args + " >" + log + " 2>&1";
    int rc = std::system(cmd.c_str());
    Result r;
    r.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
    r.output = read_file(log);
    return r;
}

} // namespace pfr_test

using pfr_test::make_temp_dir;
using pfr_test::read_file;
using pfr_test::Result;
using pfr_test::run_cli;
using pfr_test::write_file;

#endif
