// test_cpu_chains.cc — the 16-agent step's three copies of the chains (host/cpu/cpu_slots.c: a slot of four
// 8-byte entries a state, or a slot a distinct row and a shape number a state; host/cpu/cpu_setup.c:
// 16-byte entries) give the bits of the scalar path.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine.h"
#include "tests/cpu_restart.h"
#include "tests/test_sim.h"

namespace {


using pfr_test::Overrides;

struct Bits {
    std::vector<float> phi, theta;
    std::vector<uint32_t> state;
};

// A simulation of o, its CPU engine restarted with (path, overlay, chains), run `rounds`; *chains_used:
// the copy of the chains it ran with.
Bits run(const Overrides &o, int path, int overlay, int chains, int rounds, int *chains_used, int *shape_bytes = nullptr)
{
    pfr_sim *s = pfr_test::make_sim(o);
    Bits b;
    if (!s)
        return b;
    pfr_test::restart_cpu_engine(s, path, 0, overlay, chains);
    *chains_used = pfr_engine_cpu_chains(s);
    if (path == PFR_CPU_PATH_AVX512 || path == PFR_CPU_PATH_AVX2) {
        EXPECT_EQ(pfr_engine_cpu_kernel(s), path) << "the 16-agent kernel asked for did not run";
    }
    if (shape_bytes)
        *shape_bytes = pfr_engine_cpu_shape_bytes(s);
    EXPECT_EQ(pfr_sim_run(s, rounds), PFR_OK) << pfr_sim_last_error(s);
    const int S = pfr_sim_num_states(s), d = pfr_sim_config(s)->dim;
    const int64_t N = pfr_sim_config(s)->agents;
    b.phi.resize((size_t)S * d);
    b.theta.resize((size_t)N * d);
    b.state.resize((size_t)N);
    EXPECT_EQ(pfr_sim_get_phi(s, b.phi.data(), b.phi.size()), PFR_OK);
    for (int64_t i = 0; i < N; ++i)
        EXPECT_EQ(pfr_sim_get_theta(s, i, b.theta.data() + i * d, d), PFR_OK);
    EXPECT_EQ(pfr_sim_get_states(s, b.state.data(), b.state.size()), PFR_OK);
    pfr_sim_destroy(s);
    return b;
}

void expect_same_bits(const Bits &a, const Bits &b)
{
    EXPECT_EQ(a.state, b.state);
    EXPECT_EQ(0, std::memcmp(a.phi.data(), b.phi.data(), a.phi.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(a.theta.data(), b.theta.data(), a.theta.size() * sizeof(float)));
}

// The scalar path's bits for o after `rounds` rounds: what every copy of the chains must give.
Bits reference(const Overrides &o, int rounds)
{
    int used = -1;
    return run(o, PFR_CPU_PATH_SCALAR, PFR_CPU_OVERLAY_AUTO, PFR_CPU_CHAINS_AUTO, rounds, &used);
}

// o run with the 16-agent step (each kernel this CPU has), its overlays scanned where it can and
// `chains` asked for: the copy of the chains it used is `want` (and its shape numbers `want_bytes`
// bytes, where given), and its bits are ref's.
void expect_chains(const Overrides &o, const Bits &ref, int chains, int rounds, int want, int want_bytes = -1)
{
    for (int kernel : pfr_test::group_kernels()) {
        SCOPED_TRACE(pfr_cpu_kernel_name((pfr_cpu_kernel)kernel));
        int used = -1, bytes = 0;
        const Bits b = run(o, kernel, PFR_CPU_OVERLAY_SCAN, chains, rounds, &used, &bytes);
        EXPECT_EQ(used, want);
        if (want_bytes >= 0) {
            EXPECT_EQ(bytes, want_bytes);
        }
        expect_same_bits(ref, b);
    }
}

} // namespace

// Slots by state and by shape, and entries, against the scalar path: a small grid whose goals restart
// at 16 starts (rows longer than a slot, reached often at K = 32; by shape, the restarts' next states
// written as themselves and the moves as differences), and a 40 x 40 grid of 16 types with stale Phi,
// its overlays scanned (d = 4, 16) or in hash tables (d = 32; K = 40).
TEST(Determinism, ChainsInSlotsGiveTheBitsOfTheEntries)
{
    Overrides small = {{"env.kind", "gridworld"}, {"env.width", "12"},   {"env.height", "12"}, {"env.types", "4"},
                       {"env.goals", "4"},        {"env.starts", "16"},  {"agents", "523"},    {"dim", "8"},
                       {"local_steps", "32"},     {"alpha", "0.1"},      {"beta", "0.05"},     {"participation", "0.8"},
                       {"eval_every", "1000"},    {"threads", "2"}};
    Overrides large = {{"env.kind", "gridworld"}, {"env.width", "40"},   {"env.height", "40"}, {"env.types", "16"},
                       {"env.goals", "4"},        {"env.starts", "16"},  {"env.walls", "0.2"}, {"agents", "523"},
                       {"local_steps", "12"},     {"alpha", "0.1"},      {"beta", "0.05"},     {"participation", "0.8"},
                       {"federation.max_delay", "2"}, {"eval_every", "1000"}, {"threads", "2"}};
    std::vector<Overrides> cases = {small, large, large, large, large};
    cases[1]["dim"] = "4";
    cases[2]["dim"] = "16";
    cases[3]["dim"] = "32"; // no scan at d = 32: the hash tables (the step's mode 3)
    cases[4]["dim"] = "8";
    cases[4]["local_steps"] = "40"; // more steps than the scan takes: the hash tables
    for (const Overrides &o : cases) {
        SCOPED_TRACE(o.at("env.width") + " x " + o.at("env.width") + ", d = " + o.at("dim") + ", K = " + o.at("local_steps"));
        const Bits ref = reference(o, 6);
        expect_chains(o, ref, PFR_CPU_CHAINS_SLOTS, 6, PFR_CPU_CHAINS_SLOTS);
        expect_chains(o, ref, PFR_CPU_CHAINS_SHAPES, 6, PFR_CPU_CHAINS_SHAPES, 1); // at most 128 shapes a type
        expect_chains(o, ref, PFR_CPU_CHAINS_ENTRIES, 6, PFR_CPU_CHAINS_ENTRIES);
    }
}

// Where slots do not pay (a garnet's rows are longer than a slot) the chains stay as entries, even
// when slots (by state or by shape) are asked for.
TEST(Determinism, ChainsStayEntriesWhereSlotsDoNotFit)
{
    const Overrides o = {{"env.kind", "garnet"}, {"env.states", "300"}, {"agents", "256"},     {"dim", "8"},
                         {"local_steps", "10"},  {"alpha", "0.1"},      {"beta", "0.05"},      {"eval_every", "1000"},
                         {"threads", "2"}};
    const Bits ref = reference(o, 4);
    expect_chains(o, ref, PFR_CPU_CHAINS_SLOTS, 4, PFR_CPU_CHAINS_ENTRIES);
    expect_chains(o, ref, PFR_CPU_CHAINS_SHAPES, 4, PFR_CPU_CHAINS_ENTRIES);
}

// Where the rows do not repeat (a garnet of one action and one next state: two entries a row with the
// perturbation, each row its own shape) shapes are not built, and the slots by state take their place.
TEST(Determinism, ChainsBySlotWhereRowsDoNotRepeat)
{
    const Overrides o = {{"env.kind", "garnet"}, {"env.states", "300"}, {"env.actions", "1"}, {"env.branching", "1"}, {"agents", "256"},
                         {"dim", "8"},           {"local_steps", "10"}, {"alpha", "0.1"},    {"beta", "0.05"},
                         {"eval_every", "1000"}, {"threads", "2"}};
    expect_chains(o, reference(o, 4), PFR_CPU_CHAINS_SHAPES, 4, PFR_CPU_CHAINS_SLOTS);
}

// A grid of 48 goals a type, each with its own reward: more than 128 shapes in a type, so the shape
// numbers take two bytes and count all types' shapes together; the same bits as the scalar path.
TEST(Determinism, ChainsByShapeWithTwoByteNumbers)
{
    const Overrides o = {{"env.kind", "gridworld"}, {"env.width", "40"},     {"env.height", "40"},  {"env.types", "4"},
                         {"env.goals", "48"},       {"env.starts", "16"},    {"env.walls", "0.2"},  {"agents", "523"},
                         {"dim", "8"},              {"local_steps", "12"},   {"alpha", "0.1"},      {"beta", "0.05"},
                         {"participation", "0.8"},  {"eval_every", "1000"},  {"threads", "2"}};
    expect_chains(o, reference(o, 6), PFR_CPU_CHAINS_SHAPES, 6, PFR_CPU_CHAINS_SHAPES, 2);
}
