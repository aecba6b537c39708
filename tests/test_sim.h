// test_sim.h — a simulation made from the default config and a few keys, as the tests write them
// (`{{"agents", "64"}, {"dim", "8"}}`, each key set as `--set` would).
#ifndef PFR_TEST_SIM_H
#define PFR_TEST_SIM_H

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine.h"

namespace pfr_test {

using Overrides = std::map<std::string, std::string>;

// The default config with o's keys set (each must be accepted).
inline pfr_config config_from(const Overrides &o)
{
    pfr_config c;
    pfr_config_init(&c);
    pfr_error err;
    for (const auto &kv : o)
        EXPECT_EQ(pfr_config_set(&c, kv.first.c_str(), kv.second.c_str(), &err), PFR_OK) << kv.first << ": " << err.msg;
    return c;
}

// A simulation of config_from(o) (NULL when its creation fails); want: the status pfr_sim_create must
// return; msg: its message.
inline pfr_sim *make_sim(const Overrides &o, pfr_status want = PFR_OK, std::string *msg = nullptr)
{
    pfr_config c = config_from(o);
    pfr_error err;
    pfr_sim *s = nullptr;
    EXPECT_EQ(pfr_sim_create(&c, &s, &err), want) << err.msg;
    if (msg)
        *msg = err.msg;
    return s;
}

} // namespace pfr_test

#endif
