// The CPU engine's path (host/cpu/cpu_path.c): pfr_cpu_choose, a pure function of the options, the
// CPU's features and the run's shape, checked case by case without building an engine. (The
// every-path tests of test_algorithms.cc check that each way gives the same bits.)
#include <gtest/gtest.h>

#include "cpu/cpu_path.h"
#include "engine.h"

namespace {

const pfr_cpu_features kAvx512 = {1, 1}, kAvx2 = {1, 0}, kNone = {0, 0};

pfr_cpu_options opts(int kernel = PFR_CPU_KERNEL_AUTO)
{
    pfr_cpu_options o = {};
    o.kernel = kernel;
    return o;
}

// the cliff walk: 48 states, 4 types (about 5 transitions a row), d = 8, K = 10, PFedTD-Rep
pfr_cpu_run cliff(int d = 8)
{
    return pfr_cpu_run{48, d, 10, 2, 4, 4096, 48.0 * 4 * 5, 0, 1, 0, 1, 1, 16};
}

// the bench grid world: 40,000 states, 16 types, about 6 transitions a row
pfr_cpu_run grid(int d = 8)
{
    return pfr_cpu_run{40000, d, 10, 2, 16, 4096, 40000.0 * 16 * 6, 0, 1, 0, 1, 1, 16};
}

TEST(CpuPath, AutoTakesTheWidestKernelTheCpuHas)
{
    const pfr_cpu_run z = cliff();
    const pfr_cpu_options o = opts();
    EXPECT_EQ(pfr_cpu_choose(&o, kAvx512, &z).kernel, PFR_CPU_KERNEL_AVX512);
    EXPECT_EQ(pfr_cpu_choose(&o, kAvx2, &z).kernel, PFR_CPU_KERNEL_AVX2);
    EXPECT_EQ(pfr_cpu_choose(&o, kNone, &z).kernel, PFR_CPU_KERNEL_PER_AGENT);
}

TEST(CpuPath, PhiloxUsesOnlyWhatTheKernelAllows)
{
    const pfr_cpu_run z = cliff();
    pfr_cpu_options o = opts(PFR_CPU_KERNEL_AVX512);
    pfr_cpu_path p = pfr_cpu_choose(&o, kAvx512, &z);
    EXPECT_EQ(p.philox, PFR_CPU_PHILOX_AVX512);
    EXPECT_TRUE(p.philox4_avx512);
    o.kernel = PFR_CPU_KERNEL_AVX2; // avx2 asked for on an AVX-512 CPU: no AVX-512 instruction
    p = pfr_cpu_choose(&o, kAvx512, &z);
    EXPECT_EQ(p.philox, PFR_CPU_PHILOX_AVX2);
    EXPECT_FALSE(p.philox4_avx512);
    o.kernel = PFR_CPU_KERNEL_SCALAR;
    p = pfr_cpu_choose(&o, kAvx512, &z);
    EXPECT_EQ(p.philox, PFR_CPU_PHILOX_SCALAR);
    EXPECT_FALSE(p.vector);
    EXPECT_EQ(p.runs, PFR_CPU_KERNEL_SCALAR);
}

TEST(CpuPath, TheSixteenAgentStepWhereItApplies)
{
    pfr_cpu_options o = opts(PFR_CPU_KERNEL_AVX512);
    pfr_cpu_run z = cliff();
    pfr_cpu_path p = pfr_cpu_choose(&o, kAvx512, &z);
    EXPECT_TRUE(p.x16 && p.gathers && p.scan && p.map);
    EXPECT_FALSE(p.prefetch); // everything in L1
    EXPECT_EQ(p.chains, PFR_CPU_ENTRIES);
    EXPECT_EQ(p.runs, PFR_CPU_KERNEL_AVX512);
    z.control = 1; // control: the per-agent step
    EXPECT_EQ(pfr_cpu_choose(&o, kAvx512, &z).runs, PFR_CPU_KERNEL_PER_AGENT);
    z = cliff(12); // d other than 4, 8, 16, 32
    EXPECT_EQ(pfr_cpu_choose(&o, kAvx512, &z).runs, PFR_CPU_KERNEL_PER_AGENT);
    z = cliff(32); // d = 32 only where the tables lie beyond L2
    EXPECT_EQ(pfr_cpu_choose(&o, kAvx512, &z).runs, PFR_CPU_KERNEL_PER_AGENT);
    z = grid(32);
    p = pfr_cpu_choose(&o, kAvx512, &z);
    EXPECT_EQ(p.runs, PFR_CPU_KERNEL_AVX512);
    EXPECT_FALSE(p.scan); // d > 16 never scans
    EXPECT_TRUE(p.prefetch);
}

TEST(CpuPath, WithoutGathersOnlyAvx512KeepsItsStep)
{
    pfr_cpu_options o = opts(PFR_CPU_KERNEL_AVX512);
    o.no_gather = 1;
    const pfr_cpu_run z = cliff();
    pfr_cpu_path p = pfr_cpu_choose(&o, kAvx512, &z);
    EXPECT_FALSE(p.gathers);
    EXPECT_EQ(p.runs, PFR_CPU_KERNEL_AVX512); // its scalar-lookup form
    EXPECT_FALSE(p.scan);
    o.kernel = PFR_CPU_KERNEL_AVX2;
    EXPECT_EQ(pfr_cpu_choose(&o, kAvx512, &z).runs, PFR_CPU_KERNEL_PER_AGENT);
    o.kernel = PFR_CPU_KERNEL_PORTABLE;
    EXPECT_EQ(pfr_cpu_choose(&o, kNone, &z).runs, PFR_CPU_KERNEL_PER_AGENT);
}

TEST(CpuPath, LookupAndChainsAtLargeS)
{
    pfr_cpu_options o = opts(PFR_CPU_KERNEL_AVX512);
    const pfr_cpu_run z = grid();
    pfr_cpu_path p = pfr_cpu_choose(&o, kAvx512, &z);
    EXPECT_FALSE(p.map); // beyond PFR_CPU_MAP_MAX_S: hash tables for the per-agent step
    EXPECT_TRUE(p.scan); // the 16-agent step scans
    EXPECT_TRUE(p.prefetch);
    EXPECT_EQ(p.chains, PFR_CPU_SHAPES); // the entries outgrow L2 twice
    o.overlay = PFR_CPU_OVERLAY_MAP; // maps forced: no scan, and the chains stay entries
    p = pfr_cpu_choose(&o, kAvx512, &z);
    EXPECT_TRUE(p.map);
    EXPECT_FALSE(p.scan);
    EXPECT_EQ(p.chains, PFR_CPU_ENTRIES);
    o = opts(PFR_CPU_KERNEL_AVX512);
    o.chains = PFR_CPU_CHAINS_SLOTS;
    EXPECT_EQ(pfr_cpu_choose(&o, kAvx512, &z).chains, PFR_CPU_SLOTS);
    pfr_cpu_run local = z; // an algorithm with its own Phi_i: no overlays, entries
    local.own_phi = 1;
    local.shared = 0;
    EXPECT_EQ(pfr_cpu_choose(&o, kAvx512, &local).chains, PFR_CPU_ENTRIES);
}

TEST(CpuPath, PartsNarrowWhereAWaveOutgrowsL2)
{
    pfr_cpu_options o = opts();
    pfr_cpu_run z = cliff();
    pfr_cpu_path p = pfr_cpu_choose(&o, kAvx512, &z);
    EXPECT_EQ(p.cap, 48);
    EXPECT_FALSE(p.narrow);
    z = grid();
    p = pfr_cpu_choose(&o, kAvx512, &z);
    EXPECT_EQ(p.cap, 2560); // a block's 256 agents x K rows
    EXPECT_TRUE(p.narrow);
    o.parts = PFR_CPU_PARTS_WIDE;
    EXPECT_FALSE(pfr_cpu_choose(&o, kAvx512, &z).narrow);
    o.parts = PFR_CPU_PARTS_AUTO;
    o.wave = 3;
    EXPECT_EQ(pfr_cpu_choose(&o, kAvx512, &z).W, 3);
    z.ranks = 2; // over MPI ranks: this rank's blocks in one wave, wide
    z.rank_blocks = 7;
    p = pfr_cpu_choose(&o, kAvx512, &z);
    EXPECT_EQ(p.W, 7);
    EXPECT_FALSE(p.narrow);
}

} // namespace
