// Every input that decides a run's bits is named the same wherever the run goes on (issue: runs that
// cannot corrupt each other, class 3): a relative file path in a config file is taken against the
// file's folder, one given with --set against the current directory, and both are kept absolute in
// config.yaml and the checkpoint, so a run resumes, and its config.yaml runs again, from any
// directory. A config.yaml edited after the run wrote it is refused on resume, naming each change.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "tests/cli_helpers.h"

namespace {

// in: a folder with cfg/env/{P,R}.npy (an exported cliff walk) and cfg/run.yaml naming them
// relatively; other/: a directory to run from, unrelated to both
struct Layout {
    std::string root, cfg, other;
};

Layout make_layout()
{
    Layout l;
    l.root = make_temp_dir();
    l.cfg = l.root + "/cfg/run.yaml";
    l.other = l.root + "/other";
    const std::string gen = l.root + "/gen.yaml";
    write_file(gen, "env:\n  kind: cliffwalk\n  types: 2\nagents: 8\ndim: 2\n");
    EXPECT_EQ(run_cli("export " + gen + " --out " + l.root + "/cfg/env -q").code, 0);
    write_file(l.cfg, "env:\n  kind: file\n  p_file: env/P.npy\n  r_file: ./env/R.npy\n"
                      "agents: 16\ndim: 2\nrounds: 6\neval_every: 3\ncheckpoint_every: 3\n");
    EXPECT_EQ(mkdir(l.other.c_str(), 0755), 0);
    return l;
}

std::string in_dir(const std::string &d) { return "cd '" + d + "' && "; }

// The run starts from another directory: before paths were taken against the config's folder it
// could not open env/P.npy.
TEST(CliPaths, RelativePathsInAConfigAreTakenAgainstItsFolder)
{
    Layout l = make_layout();
    Result r = run_cli("run " + l.cfg + " -o " + l.root + "/out -q", in_dir(l.other));
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string yaml = read_file(l.root + "/out/config.yaml");
    EXPECT_NE(yaml.find("  p_file: '" + l.root + "/cfg/env/P.npy'"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("  r_file: '" + l.root + "/cfg/env/R.npy'"), std::string::npos) << yaml; // "./" dropped
}

// The paths a run records are absolute: it resumes, and its config.yaml runs again, from anywhere
// (the same chains: the checkpoint's fingerprint of them would refuse others); the run again gives
// the resumed run's bits.
TEST(CliPaths, ARunResumesAndRerunsFromAnyDirectory)
{
    Layout l = make_layout();
    const std::string out = l.root + "/out";
    ASSERT_EQ(run_cli("run " + l.cfg + " -o " + out + " -q", in_dir(l.root + "/cfg")).code, 0);
    Result r = run_cli("resume " + out + " --rounds 9 -q", in_dir(l.other));
    ASSERT_EQ(r.code, 0) << r.output;
    r = run_cli("run " + out + "/config.yaml -o " + l.root + "/again -q", in_dir("/"));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(read_file(out + "/phi.npy"), read_file(l.root + "/again/phi.npy"));
}

// --set takes a relative path against the current directory (as a shell user expects), and records
// it absolute.
TEST(CliPaths, ARelativePathGivenWithSetIsTakenAgainstTheCurrentDirectory)
{
    Layout l = make_layout();
    const std::string cfg = l.root + "/plain.yaml";
    write_file(cfg, "env:\n  kind: file\nagents: 8\ndim: 2\nrounds: 2\n");
    Result r = run_cli("run " + cfg + " --set env.p_file=env/P.npy --set env.r_file=env/R.npy -o " + l.root + "/out -q",
                       in_dir(l.root + "/cfg"));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(read_file(l.root + "/out/config.yaml").find("  p_file: '" + l.root + "/cfg/env/P.npy'"), std::string::npos);
    // the same relative name from elsewhere names a file that is not there, and says which
    r = run_cli("run " + cfg + " --set env.p_file=env/P.npy --set env.r_file=env/R.npy -o " + l.root + "/out2 -q",
                in_dir(l.other));
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find(l.other + "/env/P.npy"), std::string::npos) << r.output;
}

// An edited config.yaml is refused before the set-up, each change named with both values, with the
// way to make it: --set for what a resume may change, a new run for the rest; the folder untouched.
TEST(CliPaths, AnEditedConfigYamlIsRefusedOnResumeNamingEachChange)
{
    const std::string dir = make_temp_dir(), cfg = dir + "/c.yaml", out = dir + "/out";
    write_file(cfg, "env:\n  kind: cliffwalk\nagents: 16\ndim: 2\nrounds: 4\neval_every: 2\nseed: 3\n");
    ASSERT_EQ(run_cli("run " + cfg + " -o " + out + " -q").code, 0);
    const std::string yaml = read_file(out + "/config.yaml"), metrics = read_file(out + "/metrics.csv"),
                      ckpt = read_file(out + "/checkpoint.pfr");

    std::string edited = yaml;
    edited.replace(edited.find("\nseed: 3\n"), 9, "\nseed: 7\n");
    edited.replace(edited.find("\nrounds: 4\n"), 11, "\nrounds: 8\n");
    write_file(out + "/config.yaml", edited);
    Result r = run_cli("resume " + out + " -q");
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("seed: '7' in config.yaml, '3' in the checkpoint"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("rounds: '8' in config.yaml, '4' in the checkpoint"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("--set rounds=8"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("the others in a new run"), std::string::npos) << r.output;
    EXPECT_EQ(read_file(out + "/metrics.csv"), metrics);
    EXPECT_EQ(read_file(out + "/checkpoint.pfr"), ckpt);
    EXPECT_EQ(read_file(out + "/config.yaml"), edited);

    // a change the resume itself is given is no difference; the seed still is
    r = run_cli("resume " + out + " --rounds 8 -q");
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.output.find("rounds:"), std::string::npos) << r.output;

    // a config.yaml that no longer reads is refused too, and says why
    write_file(out + "/config.yaml", yaml + "no_such_key: 1\n");
    r = run_cli("resume " + out + " --rounds 8 -q");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("no_such_key"), std::string::npos) << r.output;

    // put back, the resume goes on; with none there it writes it again
    write_file(out + "/config.yaml", yaml);
    r = run_cli("resume " + out + " --rounds 6 -q");
    ASSERT_EQ(r.code, 0) << r.output;
    ASSERT_EQ(std::remove((out + "/config.yaml").c_str()), 0);
    r = run_cli("resume " + out + " --rounds 8 -q");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(read_file(out + "/config.yaml").find("\nrounds: 8\n"), std::string::npos);
}

} // namespace
