// The public API's handles and versioned structs: the configuration created, copied, read and set by
// key; pfr_metrics and pfr_setup_info filled to the caller's size (an older, shorter struct gets
// only its own fields).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "core/internal.h"

namespace {

struct Config {
    pfr_config *c = nullptr;
    Config() { EXPECT_EQ(pfr_config_create(&c, nullptr), PFR_OK); }
    ~Config() { pfr_config_destroy(c); }
    std::string get(const char *key) const
    {
        char buf[PFR_PATH_MAX + 64];
        EXPECT_EQ(pfr_config_get(c, key, buf, sizeof buf, nullptr), PFR_OK) << key;
        return buf;
    }
};

TEST(ConfigHandle, CreatedWithTheDefaultsOfEveryKey)
{
    Config a;
    pfr_config d;
    pfr_config_init(&d);
    EXPECT_EQ(std::memcmp(a.c, &d, sizeof d), 0);
    for (size_t i = 0; i < pfr_config_key_count(); ++i) {
        char def[PFR_PATH_MAX + 64];
        pfr_config_key_default(i, def, sizeof def);
        EXPECT_EQ(a.get(pfr_config_key_name(i)), def) << pfr_config_key_name(i);
        EXPECT_EQ(pfr_config_key_index(pfr_config_key_name(i)), (long)i);
    }
    EXPECT_EQ(a.get("algorithm"), "pfedtd_rep");
    EXPECT_EQ(a.get("agents"), "1024");
}

TEST(ConfigHandle, SetThenGetGivesTheValueBackAndCopiesAreIndependent)
{
    Config a;
    pfr_error err;
    ASSERT_EQ(pfr_config_set(a.c, "alpha", "0.25", &err), PFR_OK);
    ASSERT_EQ(pfr_config_set(a.c, "env.kind", "gridworld", &err), PFR_OK);
    ASSERT_EQ(pfr_config_set(a.c, "init_phi", "/some/where/phi.npy", &err), PFR_OK);
    EXPECT_EQ(a.get("alpha"), "0.25");
    EXPECT_EQ(a.get("env.kind"), "gridworld");
    EXPECT_EQ(a.get("init_phi"), "/some/where/phi.npy");
    pfr_config *b = nullptr;
    ASSERT_EQ(pfr_config_copy(a.c, &b, &err), PFR_OK);
    ASSERT_EQ(pfr_config_set(b, "alpha", "0.5", &err), PFR_OK);
    EXPECT_EQ(a.get("alpha"), "0.25");
    char v[32];
    ASSERT_EQ(pfr_config_get(b, "alpha", v, sizeof v, nullptr), PFR_OK);
    EXPECT_STREQ(v, "0.5");
    pfr_config_reset(b);
    ASSERT_EQ(pfr_config_get(b, "env.kind", v, sizeof v, nullptr), PFR_OK);
    EXPECT_STREQ(v, "cliffwalk");
    pfr_config_destroy(b);
    pfr_config_destroy(nullptr); // a no-op
}

TEST(ConfigHandle, BadCallsAreRefusedNamingWhatIsWrong)
{
    Config a;
    pfr_error err;
    char v[8];
    EXPECT_EQ(pfr_config_get(a.c, "no.such", v, sizeof v, &err), PFR_ERR_CONFIG);
    EXPECT_NE(std::string(err.msg).find("no.such"), std::string::npos) << err.msg;
    EXPECT_EQ(pfr_config_key_index("no.such"), -1);
    EXPECT_EQ(pfr_config_key_index(nullptr), -1);
    ASSERT_EQ(pfr_config_set(a.c, "init_phi", "/a_rather_long_path.npy", &err), PFR_OK);
    EXPECT_EQ(pfr_config_get(a.c, "init_phi", v, sizeof v, &err), PFR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(err.msg).find("needs 24 bytes"), std::string::npos) << err.msg;
    EXPECT_STREQ(v, "/a_rath"); // cut, terminated
    EXPECT_EQ(pfr_config_get(a.c, "alpha", v, 0, &err), PFR_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(pfr_config_create(nullptr, &err), PFR_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(pfr_config_copy(nullptr, nullptr, &err), PFR_ERR_INVALID_ARGUMENT);
}

// What a caller compiled against an older header sees: the leading fields only.
struct old_metrics {
    size_t size;
    int64_t round;
    uint64_t agent_steps;
    double value_error;
};

TEST(VersionedStructs, FilledToTheCallersSizeAndNoFurther)
{
    Config cfg;
    pfr_error err;
    ASSERT_EQ(pfr_config_set(cfg.c, "agents", "32", &err), PFR_OK);
    pfr_sim *sim = nullptr;
    ASSERT_EQ(pfr_sim_create(cfg.c, &sim, &err), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_sim_run(sim, 3), PFR_OK);
    pfr_metrics full;
    ASSERT_EQ(pfr_sim_metrics_get(sim, 1, &full, sizeof full), PFR_OK);
    EXPECT_EQ(full.size, sizeof full);
    EXPECT_EQ(full.round, 3);

    unsigned char buf[sizeof(pfr_metrics) + 16];
    std::memset(buf, 0xAB, sizeof buf);
    ASSERT_EQ(pfr_sim_metrics_get(sim, 1, reinterpret_cast<pfr_metrics *>(buf), sizeof(old_metrics)), PFR_OK);
    old_metrics old;
    std::memcpy(&old, buf, sizeof old);
    EXPECT_EQ(old.size, sizeof(old_metrics));
    EXPECT_EQ(old.round, full.round);
    EXPECT_EQ(old.agent_steps, full.agent_steps);
    EXPECT_EQ(old.value_error, full.value_error);
    for (size_t k = sizeof(old_metrics); k < sizeof buf; ++k)
        ASSERT_EQ(buf[k], 0xAB) << "byte " << k << " written past the caller's struct";

    // a newer caller's bigger struct: the library fills what it knows and says how much
    std::memset(buf, 0xAB, sizeof buf);
    ASSERT_EQ(pfr_sim_metrics_get(sim, 1, reinterpret_cast<pfr_metrics *>(buf), sizeof buf), PFR_OK);
    size_t said;
    std::memcpy(&said, buf, sizeof said);
    EXPECT_EQ(said, sizeof(pfr_metrics));
    EXPECT_EQ(buf[sizeof(pfr_metrics)], 0xAB);

    EXPECT_EQ(pfr_sim_metrics_get(sim, 1, &full, 4), PFR_ERR_INVALID_ARGUMENT); // not even the size field
    pfr_metrics now;
    ASSERT_EQ(pfr_sim_evaluate(sim, &now, sizeof now), PFR_OK);
    EXPECT_EQ(now.size, sizeof now);
    EXPECT_EQ(now.value_error, full.value_error); // no round in between
    EXPECT_EQ(pfr_sim_evaluate(sim, &now, 0), PFR_ERR_INVALID_ARGUMENT);
    pfr_setup_info si;
    ASSERT_EQ(pfr_sim_setup_info(sim, &si, sizeof si), PFR_OK);
    EXPECT_EQ(si.size, sizeof si);
    EXPECT_STREQ(si.truth_method, "dense LU");
    EXPECT_EQ(pfr_sim_setup_info(sim, &si, 1), PFR_ERR_INVALID_ARGUMENT);
    pfr_sim_destroy(sim);
}

TEST(SimAccess, AllThetasAtOnceAreEachAgentsTheta)
{
    Config cfg;
    pfr_error err;
    ASSERT_EQ(pfr_config_set(cfg.c, "agents", "37", &err), PFR_OK);
    pfr_sim *sim = nullptr;
    ASSERT_EQ(pfr_sim_create(cfg.c, &sim, &err), PFR_OK) << err.msg;
    ASSERT_EQ(pfr_sim_run(sim, 2), PFR_OK);
    std::vector<float> all(37 * 8), one(8);
    EXPECT_EQ(pfr_sim_get_thetas(sim, all.data(), all.size() - 1), PFR_ERR_INVALID_ARGUMENT);
    ASSERT_EQ(pfr_sim_get_thetas(sim, all.data(), all.size()), PFR_OK);
    for (int i = 0; i < 37; ++i) {
        ASSERT_EQ(pfr_sim_get_theta(sim, i, one.data(), one.size()), PFR_OK);
        EXPECT_EQ(std::memcmp(one.data(), all.data() + i * 8, sizeof(float) * 8), 0) << "agent " << i;
    }
    float norm = 0;
    for (float x : all)
        norm += x * x;
    EXPECT_GT(norm, 0.0f); // two rounds of TD moved theta away from zero
    pfr_sim_destroy(sim);
}

} // namespace
