// The aggregation's order (kernels/pfr_fold.h, DESIGN §3) on numbers chosen so that the order shows.
// A change is the difference of two floats, exact in double, and a round's changes usually add up
// exactly in any order, so whole runs of the engines rarely tell one order from another: here Phi's
// entries span 40 binades and the changes 2^-40 .. 2^8 (and, weighted, are scaled by factors with
// every bit of a double), so that summing the agents flat, or a row's blocks backwards, gives other
// doubles. Both device paths (the dense
// fold with its column sum, the sparse entries with their sort and runs), driven by the engine's own
// sequence pieces with the kernels' bodies on the host (tests/host_round.h), must give the contract's
// sums bit for bit, in one chunk or several.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tests/host_round.h"

namespace {

struct Synthetic {
    int S, d, R, H = 2;
    int64_t N;
    int64_t round = 5;
    std::vector<unsigned char> took;
    std::vector<int> count;
    std::vector<uint32_t> rows;  // [N, R]
    std::vector<float> vals;     // [N, R, d]
    std::vector<float> phi, hist, theta;
    std::vector<uint8_t> age;
    std::vector<double> age_weight = {1.0, 0.7, 0.49};
    double clip = 0.0;

    bool stale; // agents start from Phi's of ages 0 .. H (weighted by age_weight), else all from Phi

    Synthetic(int64_t n, int s, int dim, int r, uint32_t seed, bool stale_) : S(s), d(dim), R(r), N(n), stale(stale_)
    {
        uint32_t h = seed;
        auto next = [&h]() {
            h = h * 1664525u + 1013904223u;
            return h >> 8;
        };
        // entries of 2^-40 .. 1: their ulps, and so the changes' lowest bits, span 40 binades
        phi.resize((size_t)S * d);
        for (auto &x : phi)
            x = std::ldexp((float)next() / 16777216.0f - 0.5f, -(int)(next() % 40));
        hist.resize((size_t)(H + 1) * S * d);
        for (auto &x : hist)
            x = std::ldexp((float)next() / 16777216.0f - 0.5f, -(int)(next() % 40));
        theta.resize((size_t)N * d);
        for (auto &x : theta)
            x = std::ldexp((float)next() / 16777216.0f - 0.5f, (int)(next() % 30) - 20);
        took.resize(N);
        count.resize(N);
        age.resize(N);
        rows.resize((size_t)N * R);
        vals.resize((size_t)N * R * d);
        for (int64_t i = 0; i < N; ++i) {
            took[i] = next() % 5 != 0;
            count[i] = (int)(next() % (R + 1));
            age[i] = stale ? (uint8_t)(next() % (H + 1)) : 0;
            std::vector<uint32_t> pick;
            while ((int)pick.size() < count[i]) { // distinct rows
                const uint32_t r0 = next() % S;
                if (std::find(pick.begin(), pick.end(), r0) == pick.end())
                    pick.push_back(r0);
            }
            for (int q = 0; q < count[i]; ++q) {
                rows[(size_t)i * R + q] = pick[q];
                for (int c = 0; c < d; ++c) { // a change of 2^-40 .. 2^8 from the agent's base
                    const float base = base_of(i)[(size_t)pick[q] * d + c];
                    const float delta = std::ldexp((float)next() / 16777216.0f - 0.5f, (int)(next() % 48) - 40);
                    vals[((size_t)i * R + q) * d + c] = base + delta;
                }
            }
        }
    }
    const float *base_of(int64_t i) const
    {
        return pfr_base_phi(phi.data(), hist.data(), age[i], H, round, S, d);
    }

    // fold arguments for agents c0 .. c0 + n - 1 (the overlays of the chunk start at c0); weighted:
    // the ages' weights and clipping (and, with stale, the history)
    pfr_fold_args args(int64_t c0, int64_t n, bool weighted)
    {
        pfr_fold_args f;
        std::memset(&f, 0, sizeof f);
        f.N = N;
        f.i0 = c0;
        f.n = n;
        f.S = S;
        f.d = d;
        f.R = R;
        f.took_part = took.data();
        f.ov_count = count.data() + c0;
        f.ov_rows = rows.data() + (size_t)c0 * R;
        f.ov_vals = vals.data() + (size_t)c0 * R * d;
        f.phi = phi.data();
        f.theta = theta.data();
        f.qbits = pfr_slot_bits(R);
        f.round = round;
        if (stale) {
            f.age = age.data();
            f.H = H;
            f.hist = hist.data();
        }
        if (weighted) {
            f.age_weight = age_weight.data();
            f.clip = clip;
        }
        return f;
    }
};

// The contract: per entry, blocks in order from 0, each block's participants in index order from 0.
// `flat`: every participant in index order instead (no blocks); `backwards`: the blocks in reverse.
std::vector<double> contract_sums(Synthetic &x, bool weighted, bool flat = false, bool backwards = false)
{
    const int S = x.S, d = x.d;
    const int64_t nb = (x.N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    std::vector<double> part((size_t)nb * S * d, 0.0), out((size_t)S * d, 0.0);
    pfr_fold_args f = x.args(0, x.N, weighted);
    for (int64_t i = 0; i < x.N; ++i) {
        if (!x.took[i])
            continue;
        const double w = weighted ? pfr_fold_scale(&f, i, x.count[i]) : 1.0;
        for (int q = 0; q < x.count[i]; ++q) {
            const uint32_t r = x.rows[(size_t)i * x.R + q];
            for (int c = 0; c < d; ++c) {
                double &acc = flat ? out[(size_t)r * d + c] : part[((size_t)(i / PFR_AGENT_BLOCK) * S + r) * d + c];
                acc += pfr_fold_change(&f, i, q, r, c, weighted, w);
            }
        }
    }
    if (!flat)
        for (int64_t k = 0; k < nb; ++k) {
            const int64_t b = backwards ? nb - 1 - k : k;
            for (size_t e = 0; e < out.size(); ++e)
                out[e] += part[(size_t)b * S * d + e];
        }
    return out;
}

// The dense path: the fold of each chunk, its partials added in order into the carried sums.
std::vector<double> dense_sums(Synthetic &x, bool weighted, int64_t chunk, std::vector<uint8_t> *touched)
{
    const int64_t cblocks = (chunk + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    std::vector<double> partial((size_t)cblocks * x.S * x.d), sums((size_t)x.S * x.d, 0.0);
    std::vector<double> scale(chunk);
    std::vector<int> block_count((x.N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK);
    touched->assign(x.S, 0);
    HostOps ops{nullptr, nullptr, block_count.data()};
    for (int64_t c0 = 0; c0 < x.N; c0 += chunk) {
        const int64_t n = x.N - c0 < chunk ? x.N - c0 : chunk;
        pfr_fold_args f = x.args(c0, n, weighted);
        f.partial = partial.data();
        f.block_count = block_count.data();
        f.touched = touched->data();
        EXPECT_EQ(ops.fold(f), PFR_OK);
        EXPECT_EQ(ops.sum_blocks(partial.data(), (int64_t)x.S * x.d, (n + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK,
                                 sums.data(), 1),
                  PFR_OK);
    }
    return sums;
}

// The sparse path: round_sequence.h's pfr_round_sparse_sums for each chunk.
std::vector<double> sparse_sums(Synthetic &x, bool weighted, int64_t chunk, std::vector<uint8_t> *touched)
{
    const size_t n = (size_t)chunk * x.R;
    std::vector<uint32_t> keys[2], vals[2], run_row(n);
    for (int k = 0; k < 2; ++k) {
        keys[k].resize(n);
        vals[k].resize(n);
    }
    std::vector<int> run_start(n), runs(1), block_count((x.N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK);
    std::vector<double> run_sum(n * x.d), sums((size_t)x.S * x.d, 0.0), scale(chunk);
    touched->assign(x.S, 0);
    pfr_round_buffers b;
    std::memset(&b, 0, sizeof b);
    for (int k = 0; k < 2; ++k) {
        b.keys[k] = keys[k].data();
        b.vals[k] = vals[k].data();
    }
    b.run_start = run_start.data();
    b.runs = runs.data();
    b.run_row = run_row.data();
    b.run_sum = run_sum.data();
    b.sums = sums.data();
    b.touched = touched->data();
    HostOps ops{nullptr, nullptr, block_count.data()};
    for (int64_t c0 = 0; c0 < x.N; c0 += chunk) {
        pfr_fold_args f = x.args(c0, x.N - c0 < chunk ? x.N - c0 : chunk, weighted);
        f.block_count = block_count.data();
        f.key_out = b.keys[0];
        f.val_out = b.vals[0];
        f.agent_scale = scale.data();
        EXPECT_EQ(pfr_round_sparse_sums(ops, f, b), PFR_OK);
    }
    return sums;
}

int differing(const std::vector<double> &a, const std::vector<double> &b)
{
    int n = 0;
    for (size_t e = 0; e < a.size(); ++e)
        n += std::memcmp(&a[e], &b[e], sizeof(double)) != 0;
    return n;
}

TEST(FoldOrder, BothDevicePathsGiveTheContractsSumsInAnyChunks)
{
    for (bool weighted : {false, true}) {
        Synthetic x(1300, 37, 8, 9, 2024u, weighted); // 6 agent blocks, the last one short; rows shared widely
        x.clip = weighted ? 0.5 : 0.0;
        SCOPED_TRACE(weighted ? "weighted and clipped" : "plain");
        const std::vector<double> ref = contract_sums(x, weighted);
        // the numbers are such that the order shows: flat, or blocks backwards, gives other doubles
        EXPECT_GT(differing(ref, contract_sums(x, weighted, true)), 10);
        EXPECT_GT(differing(ref, contract_sums(x, weighted, false, true)), 10);
        std::vector<uint8_t> want(x.S, 0);
        for (int64_t i = 0; i < x.N; ++i)
            for (int q = 0; x.took[i] && q < x.count[i]; ++q)
                want[x.rows[(size_t)i * x.R + q]] = 1;
        for (int64_t chunk : {(int64_t)PFR_AGENT_BLOCK, (int64_t)2 * PFR_AGENT_BLOCK, (int64_t)1 << 20}) {
            SCOPED_TRACE("chunk " + std::to_string(chunk));
            std::vector<uint8_t> touched;
            EXPECT_EQ(differing(ref, dense_sums(x, weighted, chunk, &touched)), 0) << "dense";
            EXPECT_EQ(touched, want) << "dense";
            EXPECT_EQ(differing(ref, sparse_sums(x, weighted, chunk, &touched)), 0) << "sparse";
            EXPECT_EQ(touched, want) << "sparse";
        }
    }
}

// A row some agent of every block changes, K large: runs of many agents and rows of many runs; a
// second tile of the dense fold (S = 300: 34 agents a tile); d = 5 (no vector width).
TEST(FoldOrder, LongRunsManyTilesAndOddWidths)
{
    for (const auto &p : {std::make_pair(300, 5), std::make_pair(7, 3), std::make_pair(1, 2)}) {
        SCOPED_TRACE("S=" + std::to_string(p.first) + " d=" + std::to_string(p.second));
        Synthetic x(777, p.first, p.second, p.first < 40 ? p.first : 40, 77u + (uint32_t)p.first, true);
        x.clip = 0.25;
        const std::vector<double> ref = contract_sums(x, true);
        std::vector<uint8_t> touched;
        EXPECT_EQ(differing(ref, dense_sums(x, true, 1 << 20, &touched)), 0) << "dense";
        EXPECT_EQ(differing(ref, sparse_sums(x, true, 1 << 20, &touched)), 0) << "sparse";
        EXPECT_EQ(differing(ref, sparse_sums(x, true, PFR_AGENT_BLOCK, &touched)), 0) << "sparse, chunks";
    }
}

// The dense fold's shared memory stays within what a block has without opting in, for every S and d
// the dense path takes (pfr_fold_h: 48,384 bytes at most, at S = 2048, d = 1).
TEST(FoldOrder, DenseFoldFitsABlocksSharedMemory)
{
    size_t most = 0;
    for (int S = 1; S <= PFR_FOLD_SMEM_SD; ++S)
        for (int d = 1; pfr_fold_dense(S, d); ++d) {
            const size_t b = pfr_fold_smem_bytes(S, d) + PFR_FOLD_SMEM_STATIC;
            most = b > most ? b : most;
        }
    EXPECT_LE(most, (size_t)48 << 10);
    EXPECT_EQ(pfr_key_bits(48), 6); // rows 0 .. 47 and the sentinel 48 in 6 bits
    EXPECT_EQ(pfr_key_bits(64), 7);
    EXPECT_EQ(pfr_slot_bits(1), 0);
    EXPECT_EQ(pfr_slot_bits(10), 4);
    EXPECT_EQ(pfr_slot_bits(16), 4);
}

} // namespace
