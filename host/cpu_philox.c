/*
 * cpu_philox.c — the CPU engine's random words: Philox4x32-10 for 16 agents at once (a lane each),
 * scalar, AVX2 and AVX-512. Integers only, so every variant gives pfr_stream_words' words exactly
 * (Determinism.EveryCpuPathGivesTheSameBits).
 */
#include <stdint.h>

#include "cpu_engine.h"

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
__attribute__((target("avx512f"))) void pfr_cpu_philox16x4_avx512(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w)
{
    __m512i v[4];
    philox16_regs4(seed, i0, t, v);
    for (int q = 0; q < 4; ++q)
        _mm512_storeu_si512(w + q * PFR_CPU_LANES, v[q]);
}

__attribute__((target("avx512f"))) void pfr_cpu_philox16_avx512(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0,
                                                               uint32_t *w1)
{
    __m512i v1;
    _mm512_storeu_si512(w0, philox16_regs(seed, i0, t, &v1));
    _mm512_storeu_si512(w1, v1);
}

__attribute__((target("avx2"))) static inline __m256i mulhilo256(__m256i c, __m256i m, __m256i *lo)
{
    const __m256i pe = _mm256_mul_epu32(c, m);
    const __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);
    *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
    return _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}

__attribute__((target("avx2"))) void pfr_cpu_philox16_avx2(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0,
                                                          uint32_t *w1)
{
    const __m256i m0 = _mm256_set1_epi32((int)PFR_PHILOX_M0), m1 = _mm256_set1_epi32((int)PFR_PHILOX_M1);
    for (int half = 0; half < 2; ++half) {
        __m256i c0 = _mm256_set1_epi32((int)(uint32_t)t), c1 = _mm256_set1_epi32((int)(uint32_t)(t >> 32));
        __m256i c2 = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)i0 + 8 * half),
                                      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256i c3 = _mm256_set1_epi32((int)(uint32_t)((uint64_t)i0 >> 32));
        uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
        for (int r = 0; r < 10; ++r) {
            if (r > 0) {
                k0 += PFR_PHILOX_W0;
                k1 += PFR_PHILOX_W1;
            }
            __m256i lo0, lo1;
            const __m256i hi0 = mulhilo256(c0, m0, &lo0), hi1 = mulhilo256(c2, m1, &lo1);
            c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32((int)k0));
            c1 = lo1;
            c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32((int)k1));
            c3 = lo0;
        }
        _mm256_storeu_si256((__m256i *)(w0 + 8 * half), c0);
        _mm256_storeu_si256((__m256i *)(w1 + 8 * half), c1);
    }
}
#endif
