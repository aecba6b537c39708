// Randomness contract (DESIGN §3): Philox4x32-10 known answers, the stream layout, integer sampling.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>

#include "kernels/pfr_agent_math.h"

namespace {

struct Kat {
    uint32_t ctr[4], key[2], out[4];
};

// The Philox4x32-10 known-answer vectors published with Random123 (kat_vectors).
const Kat kKats[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

TEST(Philox, KnownAnswerVectors)
{
    for (const Kat &k : kKats) {
        pfr_words w = pfr_philox4x32_10(k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3], k.key[0], k.key[1]);
        for (int j = 0; j < 4; ++j)
            EXPECT_EQ(w.w[j], k.out[j]) << "word " << j;
    }
}

// Agent i at step t uses counter {t_lo, t_hi, i_lo, i_hi} and key {seed_lo, seed_hi}: the layout
// cuRAND's curand_init(seed, i, 4t) + curand4() produces (subsequence in the high counter words).
TEST(Philox, StreamLayoutMatchesCurandConvention)
{
    const uint64_t seed = 0x0123456789abcdefull, agent = 0x00000002fedcba98ull, t = 0x0000000512345678ull;
    pfr_words a = pfr_stream_words(seed, agent, t);
    pfr_words b = pfr_philox4x32_10((uint32_t)t, (uint32_t)(t >> 32), (uint32_t)agent, (uint32_t)(agent >> 32),
                                    (uint32_t)seed, (uint32_t)(seed >> 32));
    for (int j = 0; j < 4; ++j)
        EXPECT_EQ(a.w[j], b.w[j]);
    // neighbouring steps and agents give different words
    EXPECT_NE(pfr_stream_words(seed, agent, t + 1).w[0], a.w[0]);
    EXPECT_NE(pfr_stream_words(seed, agent + 1, t).w[0], a.w[0]);
    EXPECT_NE(pfr_stream_words(seed + 1, agent, t).w[0], a.w[0]);
}

TEST(Philox, WordsLookUniform)
{
    // 2^16 words into 16 bins: a chi-square far below any plausible failure threshold.
    int bins[16] = {0};
    for (uint64_t t = 0; t < 16384; ++t) {
        pfr_words w = pfr_stream_words(7, 3, t);
        for (int j = 0; j < 4; ++j)
            bins[w.w[j] >> 28]++;
    }
    double chi2 = 0, e = 65536.0 / 16;
    for (int b : bins)
        chi2 += (b - e) * (b - e) / e;
    EXPECT_LT(chi2, 50.0); // 15 degrees of freedom; p < 1e-5 above 50
}

TEST(Sampling, ThresholdsPickFirstEntryAbove)
{
    const uint32_t thr[4] = {100, 200, 200, 0xFFFFFFFFu}; // entry 2 has zero width
    EXPECT_EQ(pfr_sample_entry(thr, 4, 0), 0u);
    EXPECT_EQ(pfr_sample_entry(thr, 4, 99), 0u);
    EXPECT_EQ(pfr_sample_entry(thr, 4, 100), 1u);
    EXPECT_EQ(pfr_sample_entry(thr, 4, 199), 1u);
    EXPECT_EQ(pfr_sample_entry(thr, 4, 200), 3u);
    EXPECT_EQ(pfr_sample_entry(thr, 4, 0xFFFFFFFEu), 3u);
    EXPECT_EQ(pfr_sample_entry(thr, 4, 0xFFFFFFFFu), 3u); // the last entry takes the top word too
    const uint32_t one[1] = {0xFFFFFFFFu};
    EXPECT_EQ(pfr_sample_entry(one, 1, 12345), 0u);
}

TEST(Sampling, BinarySearchEqualsLinearScan)
{
    uint32_t thr[37];
    for (int nnz = 1; nnz <= 37; ++nnz) {
        for (int j = 0; j < nnz; ++j)
            thr[j] = j + 1 == nnz ? 0xFFFFFFFFu : (uint32_t)((uint64_t)(j + 1) * 0xFFFFFFFFull / (uint64_t)nnz);
        for (uint64_t t = 0; t < 500; ++t) {
            uint32_t u = pfr_stream_words(1, (uint64_t)nnz, t).w[0];
            uint32_t lin = 0;
            while (lin + 1 < (uint32_t)nnz && !(u < thr[lin]))
                ++lin;
            ASSERT_EQ(pfr_sample_entry(thr, (uint32_t)nnz, u), lin);
            int iters = 0; // enough halvings for this row, and more (as for the longest row of a chain)
            while ((1 << iters) < nnz)
                ++iters;
            for (int extra = 0; extra < 3; ++extra)
                ASSERT_EQ(pfr_sample_entry_fixed(thr, (uint32_t)nnz, u, iters + extra), lin) << nnz << " " << extra;
        }
    }
}

TEST(Sampling, WordBelowStaysInRange)
{
    std::set<uint32_t> seen;
    for (uint64_t t = 0; t < 4000; ++t) {
        uint32_t v = pfr_word_below(pfr_stream_words(3, 1, t).w[2], 7);
        ASSERT_LT(v, 7u);
        seen.insert(v);
    }
    EXPECT_EQ(seen.size(), 7u);
    EXPECT_EQ(pfr_word_below(0xFFFFFFFFu, 5), 4u);
    EXPECT_EQ(pfr_word_below(0, 5), 0u);
}

TEST(TdStep, MatchesTheUpdateRule)
{
    float phi_s[3] = {1.0f, 0.5f, -0.25f}, phi_n[3] = {0.0f, 1.0f, 2.0f}, th[3] = {0.5f, -1.0f, 2.0f};
    const float rho = 0.3f, gamma = 0.9f, alpha = 0.1f, beta = 0.01f;
    const double vs = 1.0 * 0.5 + 0.5 * -1.0 + -0.25 * 2.0, vn = 0.0 * 0.5 + 1.0 * -1.0 + 2.0 * 2.0;
    const double delta = rho + gamma * vn - vs;
    float exp_th[3], exp_phi[3];
    for (int j = 0; j < 3; ++j) {
        exp_th[j] = (float)(th[j] + alpha * delta * phi_s[j]);
        exp_phi[j] = (float)(phi_s[j] + beta * delta * th[j]); // old theta
    }
    float d = pfr_td_step(phi_s, phi_n, th, 3, rho, gamma, alpha, beta, 1);
    EXPECT_NEAR(d, delta, 1e-6);
    for (int j = 0; j < 3; ++j) {
        EXPECT_NEAR(th[j], exp_th[j], 1e-6);
        EXPECT_NEAR(phi_s[j], exp_phi[j], 1e-6);
    }
}

TEST(TdStep, SelfLoopReadsBeforeWriting)
{
    // s' == s: both rows alias; delta must use the old row for both values.
    float row[2] = {1.0f, 2.0f}, th[2] = {1.0f, 1.0f};
    const double v = 3.0, delta = 1.0 + 0.5 * v - v;
    float d = pfr_td_step(row, row, th, 2, 1.0f, 0.5f, 0.1f, 0.1f, 1);
    EXPECT_NEAR(d, delta, 1e-6);
    EXPECT_NEAR(th[0], 1.0 + 0.1 * delta * 1.0, 1e-6);
    EXPECT_NEAR(row[1], 2.0 + 0.1 * delta * 1.0, 1e-6);
}

TEST(TdStep, FixedFeaturesLeavePhiAlone)
{
    float phi_s[2] = {1.0f, 2.0f}, phi_n[2] = {0.5f, 0.5f}, th[2] = {0.0f, 0.0f};
    pfr_td_step(phi_s, phi_n, th, 2, 1.0f, 0.9f, 0.5f, 0.5f, 0);
    EXPECT_EQ(phi_s[0], 1.0f);
    EXPECT_EQ(phi_s[1], 2.0f);
    EXPECT_NEAR(th[1], 0.5 * 1.0 * 2.0, 1e-6);
}

} // namespace

// The CPU engine's Philox for 16 agents at once (cpu/cpu_philox.c, cpu/cpu_x16.c), each variant
// checked directly against pfr_stream_words at the edges of the counter: groups (i0 a multiple of
// 16, as the engine's groups are) that end at 2^31, 2^32 and 2^63 or start there, steps across
// 2^32 and the last one. (Declared here: cpu_engine.h is C11 with atomics, not for a C++ test.)
extern "C" {
void pfr_cpu_philox16_scalar(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0, uint32_t *w1);
void pfr_cpu_philox16x4_scalar(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w);
#if defined(__x86_64__) && defined(__GNUC__)
void pfr_cpu_philox16_avx2(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0, uint32_t *w1);
void pfr_cpu_philox16_avx512(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0, uint32_t *w1);
void pfr_cpu_philox16x4_avx512(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w);
#endif
}

namespace {

using philox16_fn = void (*)(uint64_t, int64_t, uint64_t, uint32_t *, uint32_t *);
using philox16x4_fn = void (*)(uint64_t, int64_t, uint64_t, uint32_t *);

void check_variant(const char *name, philox16_fn two, philox16x4_fn four)
{
    SCOPED_TRACE(name);
    const int64_t ids[] = {0, 16, (1ll << 31) - 16, 1ll << 31, (1ll << 32) - 16, 1ll << 32, (1ll << 40) + 48,
                           INT64_MAX - 15};
    const uint64_t steps[] = {0, 1, 0xFFFFFFFFull, 0x100000000ull, 0x123456789abcull, UINT64_MAX};
    const uint64_t seeds[] = {0, 7, 0xFFFFFFFFFFFFFFFFull};
    for (uint64_t seed : seeds)
        for (int64_t i0 : ids)
            for (uint64_t t : steps) {
                uint32_t w0[16], w1[16], w4[64];
                if (two)
                    two(seed, i0, t, w0, w1);
                if (four)
                    four(seed, i0, t, w4);
                for (int g = 0; g < 16; ++g) {
                    const pfr_words x = pfr_stream_words(seed, (uint64_t)(i0 + g), t);
                    if (two) {
                        ASSERT_EQ(w0[g], x.w[PFR_WORD_TRANSITION]) << "i0 " << i0 << " t " << t << " lane " << g;
                        ASSERT_EQ(w1[g], x.w[PFR_WORD_PARTICIPATION]) << "i0 " << i0 << " t " << t << " lane " << g;
                    }
                    for (int q = 0; four && q < 4; ++q)
                        ASSERT_EQ(w4[q * 16 + g], x.w[q]) << "i0 " << i0 << " t " << t << " lane " << g << " word " << q;
                }
            }
}

TEST(Philox, EverySixteenAgentVariantGivesTheStreamWords)
{
    check_variant("scalar", pfr_cpu_philox16_scalar, pfr_cpu_philox16x4_scalar);
#if defined(__x86_64__) && defined(__GNUC__)
    int ran = 1;
    if (__builtin_cpu_supports("avx2"))
        check_variant("avx2", pfr_cpu_philox16_avx2, nullptr), ++ran;
    if (__builtin_cpu_supports("avx512f"))
        check_variant("avx512", pfr_cpu_philox16_avx512, pfr_cpu_philox16x4_avx512), ++ran;
    if (ran < 3)
        GTEST_SKIP() << "checked " << ran << " of 3 variants: this CPU lacks " << (ran == 1 ? "AVX2" : "AVX-512F");
#endif
}

} // namespace
