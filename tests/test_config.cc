// Configuration: the schema, --set values, YAML files.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "core/internal.h"
#include "tests/test_temp.h"

namespace {

std::string write_temp(const std::string &text)
{
    const std::string path = pfr_test::temp_file("pfedrl_cfg_");
    EXPECT_FALSE(path.empty());
    FILE *f = fopen(path.c_str(), "w");
    fputs(text.c_str(), f);
    fclose(f);
    return path;
}

TEST(Config, DefaultsAreValid)
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    EXPECT_EQ(pfr_config_validate(&c, &err), PFR_OK) << err.msg;
}

TEST(Config, SetParsesEveryType)
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    EXPECT_EQ(pfr_config_set(&c, "env.kind", "garnet", &err), PFR_OK);
    EXPECT_EQ(c.env.kind, PFR_ENV_GARNET);
    EXPECT_EQ(pfr_config_set(&c, "agents", "1e6", &err), PFR_OK); // exact integers in float notation
    EXPECT_EQ(c.agents, 1000000);
    EXPECT_EQ(pfr_config_set(&c, "alpha", "0.25", &err), PFR_OK);
    EXPECT_DOUBLE_EQ(c.alpha, 0.25);
    EXPECT_EQ(pfr_config_set(&c, "orthonormalize", "yes", &err), PFR_OK);
    EXPECT_EQ(c.orthonormalize, 1);
    EXPECT_EQ(pfr_config_set(&c, "seed", "18446744073709551615", &err), PFR_OK);
    EXPECT_EQ(c.seed, UINT64_MAX);
    EXPECT_EQ(pfr_config_set(&c, "algorithm", "local_td", &err), PFR_OK);
    EXPECT_EQ(c.algorithm, PFR_ALG_LOCAL_TD);
}

TEST(Config, BadValuesNameKeyAndAllowed)
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    EXPECT_EQ(pfr_config_set(&c, "gamma", "1", &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("gamma"), std::string::npos);
    EXPECT_NE(std::string(err.msg).find("[0, 1)"), std::string::npos) << err.msg;
    EXPECT_EQ(pfr_config_set(&c, "agents", "12x", &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("not a number"), std::string::npos);
    EXPECT_EQ(pfr_config_set(&c, "dim", "2.5", &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("not an integer"), std::string::npos);
    EXPECT_EQ(pfr_config_set(&c, "algorithm", "sarsa", &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("pfedtd_rep"), std::string::npos);
    EXPECT_EQ(pfr_config_set(&c, "seed", "-1", &err), PFR_ERR_CONFIG);
    EXPECT_EQ(pfr_config_set(&c, "alpha", "nan", &err), PFR_ERR_CONFIG);
    EXPECT_EQ(pfr_config_set(&c, "alpha", "inf", &err), PFR_ERR_CONFIG);
    EXPECT_EQ(pfr_config_set(&c, "apha", "0.1", &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("did you mean 'alpha'"), std::string::npos) << err.msg;
    // nothing above changed the config
    pfr_config d;
    pfr_config_init(&d);
    EXPECT_EQ(c.alpha, d.alpha);
    EXPECT_EQ(c.gamma, d.gamma);
}

TEST(Config, YamlNestedKeysAndValidation)
{
    std::string p = write_temp("env:\n  kind: gridworld\n  width: 7\nagents: 33\nschedule:\n  tau: 50\n  a: 0.5\n"
                               "algorithm: fedtd  # a comment\n");
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    ASSERT_EQ(pfr_config_load_yaml(&c, p.c_str(), &err), PFR_OK) << err.msg;
    EXPECT_EQ(c.env.kind, PFR_ENV_GRIDWORLD);
    EXPECT_EQ(c.env.width, 7);
    EXPECT_EQ(c.agents, 33);
    EXPECT_DOUBLE_EQ(c.schedule.tau, 50);
    EXPECT_DOUBLE_EQ(c.schedule.a, 0.5);
    EXPECT_EQ(c.algorithm, PFR_ALG_FEDTD);
    remove(p.c_str());
}

TEST(Config, YamlErrorsLeaveConfigUntouched)
{
    const char *bad[] = {
        "agents: 5\nenv:\n  kind: nope\n",     // bad enum after a good key
        "agents: 5\nagents: 6\n",              // duplicate
        "env:\n  bogus: 1\n",                  // unknown nested key
        "agents: [1, 2]\n",                    // list
        "agents:\n",                           // no value
        "- a\n- b\n",                          // not a mapping
        "agents: 5\n  dim: [\n",               // syntax
        "",                                    // empty
    };
    for (const char *text : bad) {
        std::string p = write_temp(text);
        pfr_config c;
        pfr_config_init(&c);
        pfr_error err;
        EXPECT_NE(pfr_config_load_yaml(&c, p.c_str(), &err), PFR_OK) << "accepted: " << text;
        EXPECT_EQ(c.agents, 1024) << text;
        EXPECT_NE(std::string(err.msg).find(p), std::string::npos) << "error does not name the file: " << err.msg;
        remove(p.c_str());
    }
}

TEST(Config, CrossFieldChecks)
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    c.env.slip_min = 0.5;
    c.env.slip_max = 0.1;
    EXPECT_EQ(pfr_config_validate(&c, &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("env.slip_min"), std::string::npos);
    pfr_config_init(&c);
    c.env.kind = PFR_ENV_FILE;
    EXPECT_EQ(pfr_config_validate(&c, &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("env.p_file"), std::string::npos);
    pfr_config_init(&c);
    c.alpha = -1; // set directly on the public struct: validate still catches it
    EXPECT_EQ(pfr_config_validate(&c, &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("alpha"), std::string::npos);
}

TEST(Config, EveryKeyRoundTripsThroughText)
{
    pfr_config c, d;
    pfr_config_init(&c);
    c.alpha = 0.123456789012345;
    c.seed = 987654321;
    c.env.kind = PFR_ENV_GARNET;
    pfr_config_init(&d);
    pfr_error err;
    for (size_t i = 0; i < pfr_config_key_count(); ++i) {
        char v[2048];
        pfr_config_key_value(&c, i, v, sizeof v);
        if (!v[0])
            continue;
        ASSERT_EQ(pfr_config_set(&d, pfr_config_key_name(i), v, &err), PFR_OK) << err.msg;
    }
    EXPECT_EQ(d.alpha, c.alpha);
    EXPECT_EQ(d.seed, c.seed);
    EXPECT_EQ(d.env.kind, c.env.kind);
}

TEST(Status, StringsComeFromTheList)
{
    EXPECT_STREQ(pfr_status_string(PFR_OK), "ok");
    EXPECT_STREQ(pfr_status_string(PFR_ERR_CONFIG), "invalid configuration");
    EXPECT_STREQ(pfr_status_string((pfr_status)9999), "unknown status");
    for (int s = 0; s < PFR_STATUS_COUNT; ++s)
        EXPECT_STRNE(pfr_status_string((pfr_status)s), "unknown status");
}

// One rule for every integer key, in YAML and with --set: decimal only ("010" is ten), whole numbers
// in exponent form below 2^53, no hexadecimal or octal. Floats: decimal, no hex floats, no inf/nan.
TEST(Config, NumbersAreDecimalForEveryKey)
{
    for (const char *key : {"seed", "env.seed", "agents", "env.width", "rounds"}) {
        SCOPED_TRACE(key);
        pfr_config a, b;
        pfr_config_init(&a);
        pfr_config_init(&b);
        pfr_error err;
        ASSERT_EQ(pfr_config_set(&a, key, "010", &err), PFR_OK) << err.msg;
        ASSERT_EQ(pfr_config_set(&b, key, "10", &err), PFR_OK) << err.msg;
        char va[64], vb[64];
        const size_t k = (size_t)pfr_config_find(key);
        pfr_config_key_value(&a, k, va, sizeof va);
        pfr_config_key_value(&b, k, vb, sizeof vb);
        EXPECT_STREQ(va, "10");
        EXPECT_STREQ(vb, "10");
        std::string p = write_temp(std::string(key).find('.') == std::string::npos
                                       ? std::string(key) + ": 010\n"
                                       : "env:\n  " + std::string(key + 4) + ": 010\n");
        pfr_config y;
        pfr_config_init(&y);
        ASSERT_EQ(pfr_config_load_yaml(&y, p.c_str(), &err), PFR_OK) << err.msg;
        pfr_config_key_value(&y, k, va, sizeof va);
        EXPECT_STREQ(va, "10") << "YAML";
        remove(p.c_str());
        for (const char *bad : {"0x10", "0X10", "0o17", "1_000", "10 apples", "0x1p4", "1e100"})
            EXPECT_EQ(pfr_config_set(&a, key, bad, &err), PFR_ERR_CONFIG) << bad;
        pfr_config_key_value(&a, k, va, sizeof va);
        EXPECT_STREQ(va, "10") << "a refused value changed the config";
    }
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    EXPECT_EQ(pfr_config_set(&c, "agents", "1e6", &err), PFR_OK);
    EXPECT_EQ(c.agents, 1000000);
    EXPECT_EQ(pfr_config_set(&c, "seed", "18446744073709551615", &err), PFR_OK);
    EXPECT_EQ(c.seed, UINT64_MAX);
    EXPECT_EQ(pfr_config_set(&c, "seed", "18446744073709551616", &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("out of range"), std::string::npos) << err.msg;
    EXPECT_EQ(pfr_config_set(&c, "seed", "9007199254740993e0", &err), PFR_ERR_CONFIG); // not exact as a double
    for (const char *bad : {"0x1p-3", "inf", "nan", "1e400", "0.1.2"})
        EXPECT_EQ(pfr_config_set(&c, "alpha", bad, &err), PFR_ERR_CONFIG) << bad;
    EXPECT_EQ(pfr_config_set(&c, "alpha", ".5", &err), PFR_OK);
    EXPECT_EQ(c.alpha, 0.5);
}

// A value of any length gets a message that still says what is allowed; a section given a value
// names its keys.
TEST(Config, MessagesKeepWhatIsAllowed)
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    const std::string huge(100000, 'x');
    EXPECT_EQ(pfr_config_set(&c, "algorithm", huge.c_str(), &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("(100000 characters)"), std::string::npos) << err.msg;
    EXPECT_NE(std::string(err.msg).find("allowed: one of pfedtd_rep"), std::string::npos) << err.msg;
    EXPECT_EQ(pfr_config_set(&c, "env", "cliffwalk", &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("'env' is a section, not a key"), std::string::npos) << err.msg;
    EXPECT_NE(std::string(err.msg).find("env.kind"), std::string::npos) << err.msg;
    EXPECT_EQ(pfr_config_set(&c, "schedule", "1", &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("schedule.tau"), std::string::npos) << err.msg;
}

// A section given twice in one YAML file would merge silently; it is refused.
TEST(Config, YamlSectionGivenTwiceIsRefused)
{
    std::string p = write_temp("env:\n  kind: gridworld\nagents: 5\nenv:\n  width: 7\n");
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    EXPECT_EQ(pfr_config_load_yaml(&c, p.c_str(), &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("env: section given twice"), std::string::npos) << err.msg;
    EXPECT_EQ(c.env.kind, PFR_ENV_CLIFFWALK); // untouched
    remove(p.c_str());
}

// An empty path clears it (so a written config, with its empty paths, reads back).
TEST(Config, EmptyPathClears)
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    ASSERT_EQ(pfr_config_set(&c, "init_phi", "/tmp/phi.npy", &err), PFR_OK);
    ASSERT_EQ(pfr_config_set(&c, "init_phi", "", &err), PFR_OK);
    EXPECT_STREQ(c.init_phi, "");
}

// A relative path is made absolute when set (against the current directory), a leading "./" dropped,
// so a config names the same file wherever it is used later; one too long once joined is refused.
TEST(Config, RelativePathsAreMadeAbsoluteWhenSet)
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    char cwd[PFR_PATH_MAX];
    ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
    ASSERT_EQ(pfr_config_set(&c, "init_phi", "./x/phi.npy", &err), PFR_OK);
    EXPECT_EQ(std::string(c.init_phi), std::string(cwd) + "/x/phi.npy");
    ASSERT_EQ(pfr_config_set(&c, "init_phi", "/abs/phi.npy", &err), PFR_OK);
    EXPECT_STREQ(c.init_phi, "/abs/phi.npy");
    char out[16];
    EXPECT_EQ(pfr_path_absolute("b.npy", "/base/dir", out, sizeof out), 0);
    EXPECT_STREQ(out, "/base/dir/b.npy");
    EXPECT_EQ(pfr_path_absolute("long.npy", "/base/dir", out, sizeof out), -1); // 18 bytes: does not fit
    const std::string rel(PFR_PATH_MAX - 2, 'a');                               // fits alone, not joined
    EXPECT_EQ(pfr_config_set(&c, "init_phi", rel.c_str(), &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("too long once made absolute"), std::string::npos) << err.msg;
}

} // namespace

namespace {

// Every example config shipped loads and validates (a rename of a key would otherwise first show in a
// user's hands, or, for the large ones, on a GPU machine).
TEST(Config, EveryExampleConfigIsValid)
{
    int seen = 0;
    for (const char *name : {"cliffwalk.yaml", "gridworld_large.yaml", "gridworld_1m.yaml", "experiments/speedup.yaml",
                             "experiments/gridworld_scale.yaml", "experiments/generalization.yaml",
                             "experiments/heterogeneous_cliffwalk.yaml", "control/gridworld_q.yaml"}) {
        SCOPED_TRACE(name);
        pfr_config c;
        pfr_config_init(&c);
        pfr_error err;
        const std::string path = std::string(PFR_SOURCE_DIR "/examples/") + name;
        ASSERT_EQ(pfr_config_load_yaml(&c, path.c_str(), &err), PFR_OK) << err.msg;
        EXPECT_EQ(pfr_config_validate(&c, &err), PFR_OK) << err.msg;
        ++seen;
    }
    EXPECT_EQ(seen, 8);
}

} // namespace
