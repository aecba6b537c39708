// The 32 lanes of a warp, run one at a time on this thread, for the warp kernel's round
// (kernels/pfr_warp_round.h) in the CPU tests.
#ifndef PFR_TESTS_HOST_WARP_H
#define PFR_TESTS_HOST_WARP_H

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <ucontext.h>

#include "kernels/pfr_warp_round.h"

// The 32 lanes of a warp as coroutines on this one thread, for kernels/pfr_warp_round.h: a lane runs
// until its next exchange (shuffle, ballot, syncwarp), then hands over to the next lane; when lane 31
// hands over, every lane has posted its value, and lane 0 goes on. Warp-synchronous code makes the
// same exchanges in every lane, so this is the device's lockstep, one lane at a time; and a lane
// that read shared data after another lane wrote it within the same step shows up as a mismatch
// (how the slot-map race in the warp round was found). Exchanges alternate between two post
// boards, so one hand-over per exchange suffices: a board is reused only two exchanges later, when
// every lane has read it.
class HostWarp {
  public:
    struct Lane { // the warp operations W of pfr_warp_round.h for one lane
        HostWarp *h;
        int id;
        int board = 0;
        int lane() const { return id; }
        uint32_t shfl(uint32_t v, int src)
        {
            uint32_t *post = h->post[board];
            board ^= 1;
            post[id] = v;
            h->sync(id);
            return post[src & 31];
        }
        float shfl(float v, int src)
        {
            uint32_t b;
            std::memcpy(&b, &v, 4);
            b = shfl(b, src);
            float out;
            std::memcpy(&out, &b, 4);
            return out;
        }
        float shfl_xor(float v, int mask) { return shfl(v, id ^ mask); }
        unsigned ballot(bool p)
        {
            uint32_t *post = h->post[board];
            board ^= 1;
            post[id] = p ? 1u : 0u;
            h->sync(id);
            unsigned m = 0;
            for (int l = 0; l < 32; ++l)
                m |= (post[l] ? 1u : 0u) << l;
            return m;
        }
        void syncwarp() { h->sync(id); }
        pfr_words words(uint64_t seed, uint64_t agent, uint64_t t) const { return pfr_stream_words(seed, agent, t); }
    };

    HostWarp() : stacks(32, std::vector<char>(1 << 16)) {}

    // Every lane of agent i's warp round, to the end. getcontext only fills a template here that
    // makecontext then retargets: it never returns twice, so nothing can be clobbered.
#pragma GCC diagnostic push
#if !defined(__clang__) // gcc's warning; clang has no such option (and would warn about the name)
#pragma GCC diagnostic ignored "-Wclobbered"
#endif
    void run(const pfr_round_args *a, int64_t i)
    {
        args = a;
        agent = i;
        for (int l = 0; l < 32; ++l) {
            ASSERT_EQ(getcontext(&ctx[l]), 0);
            ctx[l].uc_stack.ss_sp = stacks[(size_t)l].data();
            ctx[l].uc_stack.ss_size = stacks[(size_t)l].size();
            ctx[l].uc_link = l < 31 ? &ctx[l + 1] : &main_ctx; // a lane that returns resumes the next
            makecontext(&ctx[l], (void (*)())entry, 1, l);
        }
        current = this;
        ASSERT_EQ(swapcontext(&main_ctx, &ctx[0]), 0);
    }
#pragma GCC diagnostic pop

  private:
    static void entry(int l)
    {
        HostWarp *h = current;
        Lane w{h, l};
        pfr_warp_agent_round(h->args, h->agent, w);
    }
    void sync(int id) { swapcontext(&ctx[id], &ctx[(id + 1) % 32]); }

    static inline HostWarp *current = nullptr;
    std::vector<std::vector<char>> stacks;
    ucontext_t ctx[32], main_ctx;
    uint32_t post[2][32] = {};
    const pfr_round_args *args = nullptr;
    int64_t agent = 0;
};

#endif
