// cpu_restart.h — a simulation's CPU engine started again with a test setting (the tests that check
// that every path, and every wave size, gives the same bits).
#ifndef PFR_TEST_CPU_RESTART_H
#define PFR_TEST_CPU_RESTART_H

#include <gtest/gtest.h>

#include <vector>

#include "engine.h"

namespace pfr_test {

// The 16-agent kernels this CPU can run (PFR_CPU_PATH_AVX512, _AVX2, and the portable one everywhere):
// the tests of that step run each.
inline std::vector<int> group_kernels()
{
    std::vector<int> k = {PFR_CPU_PATH_PORTABLE};
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f"))
        k.push_back(PFR_CPU_PATH_AVX512);
    if (__builtin_cpu_supports("avx2"))
        k.push_back(PFR_CPU_PATH_AVX2);
#endif
    return k;
}

// path: PFR_CPU_PATH_*; wave: agent blocks per wave of the merge (0: as memory allows); overlay:
// PFR_CPU_OVERLAY_*; chains: PFR_CPU_CHAINS_*; parts: PFR_CPU_PARTS_*.
inline void restart_cpu_engine(pfr_sim *s, int path, int wave = 0, int overlay = PFR_CPU_OVERLAY_AUTO,
                               int chains = PFR_CPU_CHAINS_AUTO, int parts = PFR_CPU_PARTS_AUTO)
{
    pfr_error err;
    s->engine->destroy(s);
    s->cpu.kernel = path;
    s->cpu.wave = wave;
    s->cpu.overlay = overlay;
    s->cpu.chains = chains;
    s->cpu.parts = parts;
    ASSERT_EQ(pfr_engine_cpu_init(s, &err), PFR_OK) << err.msg;
}

} // namespace pfr_test

#endif
