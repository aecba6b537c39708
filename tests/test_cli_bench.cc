// `pfedrl bench` (host/cli/bench.c): the standard points timed on the CPU engine at a toy size (no
// figure is checked: tests check what is reported, never how fast), the JSON file, a point that does
// not fit, and bad usage.
#include <gtest/gtest.h>

#include <string>

#include "tests/cli_helpers.h"

namespace {

TEST(CliBench, TimesThePointsAndWritesJson)
{
    const std::string json = make_temp_dir() + "/bench.json";
    const Result r = run_cli("bench --backend cpu --threads 1 --quick --points cliff_k1,grid_1e4 --agents 512 "
                             "--repeats 1 --min-seconds 0.01 --json " + json);
    ASSERT_EQ(r.code, 0) << r.output;
    for (const char *part : {"commit ", "cpu: ", "engines:", "cliff_k1 ", "grid_1e4 ", "agent-steps/s", "us/round"})
        EXPECT_NE(r.output.find(part), std::string::npos) << part << " in:\n" << r.output;
    EXPECT_EQ(r.output.find("cliff_k100"), std::string::npos) << "a point not asked for ran";
    const std::string js = read_file(json);
    for (const char *part : {"\"commit\": ", "\"cpu_flags\": ", "\"name\": \"cliff_k1\"", "\"name\": \"grid_1e4\"",
                             "\"status\": \"ok\", \"backend\": \"cpu\"", "\"states\": 10000", "\"agents\": 512",
                             "\"agent_steps_per_sec\": ", "\"quick\": true"})
        EXPECT_NE(js.find(part), std::string::npos) << part << " in:\n" << js;
    EXPECT_EQ(js.find("null"), std::string::npos) << "a point without a figure:\n" << js;
    // and it is JSON (Python's parser; the test command installs Python)
    EXPECT_EQ(std::system(("python3 -c \"import json, sys; d = json.load(open(sys.argv[1])); "
                           "assert [p['name'] for p in d['points']] == ['cliff_k1', 'grid_1e4']; "
                           "assert all(p['agent_steps_per_sec'] > 0 for p in d['points'])\" " + json)
                              .c_str()),
              0);
}

// A point too large for the machine is reported and skipped, not a failure; the others still run.
TEST(CliBench, APointThatDoesNotFitIsSkipped)
{
    const Result r = run_cli("bench --backend cpu --points cliff_k1 --agents 100000000000 --repeats 1");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("cliff_k1    does not fit: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("host memory"), std::string::npos) << r.output;
}

TEST(CliBench, BadUsageExits2AndAFailedJsonWriteLeavesNothing)
{
    struct Case {
        const char *args, *says;
    } cases[] = {
        {"bench --points cliff_k1,nope", "no point 'nope'; allowed: cliff_k100 cliff_k1 grid_1e4"},
        {"bench --backend gpu", "--backend 'gpu': allowed: auto, cpu, cuda"},
        {"bench --repeats 0", "--repeats '0': allowed: an integer from 1 to 64"},
        {"bench --agents many", "--agents 'many'"},
        {"bench --min-seconds -1", "--min-seconds '-1': allowed: seconds, more than 0"},
        {"bench extra", "unexpected argument 'extra'"},
        {"bench --json", "--json needs a value"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.args);
        const Result r = run_cli(c.args);
        EXPECT_EQ(r.code, 2) << r.output;
        EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
    }
    const std::string dir = make_temp_dir();
    const Result r = run_cli("bench --backend cpu --quick --points cliff_k1 --agents 256 --repeats 1 --min-seconds "
                             "0.01 --json " + dir + "/missing/bench.json");
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("cannot write"), std::string::npos) << r.output;
    const Result h = run_cli("help bench");
    EXPECT_EQ(h.code, 0);
    EXPECT_NE(h.output.find("grid_2.5e5"), std::string::npos) << h.output;
}

} // namespace
