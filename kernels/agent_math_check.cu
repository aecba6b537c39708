/*
 * agent_math_check.cu — compiles the shared per-agent math (pfr_agent_math.h) as device code with
 * warnings as errors, so a change to the header that nvcc rejects fails every build, with or
 * without a GPU. It is a compile check, not an engine: the CUDA engine is built on this header.
 */
#include "../kernels/pfr_agent_math.h"

__global__ void pfr_agent_math_compile_check(const uint32_t *thr, const uint32_t *next, const float *reward,
                                             float *phi, float *theta, uint32_t *state, int d, uint64_t seed)
{
    const uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
    pfr_words w = pfr_stream_words(seed, i, 0);
    uint32_t j = pfr_sample_entry(thr, 4u, w.w[PFR_WORD_TRANSITION]);
    uint32_t s = state[i], s2 = next[j];
    pfr_td_step(phi + (size_t)s * d, phi + (size_t)s2 * d, theta + i * d, d, reward[j], 0.9f, 0.1f, 0.01f, 1);
    state[i] = s2 ^ pfr_word_below(w.w[1], 7u);
}
