/*
 * cpu_philox.c — the CPU engine's random words: Philox4x32-10 for 16 agents at once (a lane each),
 * scalar and AVX2 here, AVX-512 in cpu_x16.c (its layer's registers). Integers only, so every variant gives pfr_stream_words' words exactly
 * (Determinism.EveryCpuPathGivesTheSameBits).
 */
#include <stdint.h>

#include "cpu_engine.h"
#if defined(__x86_64__) && defined(__GNUC__)
#include "cpu_lanes_avx2.h"
#endif

/* The first two words (transition, participation) of the step's Philox for agents i0 .. i0+15,
 * lane g = agent i0+g: pfr_philox4x32_10 on 16 counters at once. Integers only, so every variant
 * gives pfr_stream_words' words exactly. The variant is picked once, by the CPU's features (vector
 * integer multiplies need explicit instructions: a compiler left to itself multiplies 64 x 64). */
void pfr_cpu_philox16_scalar(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0, uint32_t *w1)
{
    for (int g = 0; g < PFR_CPU_LANES; ++g) {
        const pfr_words w = pfr_stream_words(seed, (uint64_t)(i0 + g), t);
        w0[g] = w.w[PFR_WORD_TRANSITION];
        w1[g] = w.w[PFR_WORD_PARTICIPATION];
    }
}

/* All four words of the step for agents i0 .. i0+15: w[q * 16 + g] = word q of agent i0+g. */
void pfr_cpu_philox16x4_scalar(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w)
{
    for (int g = 0; g < PFR_CPU_LANES; ++g) {
        const pfr_words x = pfr_stream_words(seed, (uint64_t)(i0 + g), t);
        for (int q = 0; q < 4; ++q)
            w[q * PFR_CPU_LANES + g] = x.w[q];
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The AVX2 step's Philox (cpu_lanes_avx2.h), for the per-agent step's groups on a CPU without AVX-512 */
LV_TARGET void pfr_cpu_philox16_avx2(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0, uint32_t *w1)
{
    lvi v1;
    lvi_store(w0, lv_philox(seed, i0, t, &v1));
    lvi_store(w1, v1);
}
#endif
