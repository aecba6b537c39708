/*
 * local_steps.cu — every participating agent's K local TD steps of one round, one thread per
 * agent: the round of kernels/pfr_agent_round.h (also run by the CPU tests) on the per-agent math
 * of pfr_agent_math.h (the functions the CPU engine runs).
 *
 * Random words: curand_init(seed, agent, 4*t0) then curand4() once per step gives exactly the
 * Philox words of DESIGN §3 for steps t0, t0+1, ...; word x drives the transition, word y of the
 * first step decides participation. States therefore follow the CPU engine bit for bit.
 *
 * Phi_i: the agent's overlay of visited rows (see pfr_agent_round.h).
 * Napkin math (cliff walk, d = 8, K = 10): per step one Philox (~40 integer ops), ~3 threshold
 * loads, two d-float rows (overlay slot lookups are one byte each), ~4d FLOPs: latency- and
 * instruction-bound, no reuse across threads; a warp-per-agent variant for large S*d is the next step.
 * Compiled with --fmad=false so the float roundings are those of the CPU engine.
 */
#include <curand_kernel.h>

#include "../kernels/pfr_agent_round.h"
#include "cuda_engine.h"

__global__ void pfr_local_steps_kernel(pfr_round_args a)
{
    const int64_t i = a.i0 + (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= a.i0 + a.n)
        return;
    curandStatePhilox4_32_10_t rng;
    curand_init(a.seed, (unsigned long long)i, 4ull * a.t0, &rng);
    uint4 w = curand4(&rng);
    pfr_agent_state st;
    if (!pfr_agent_begin(&a, i, w.y, &st))
        return;
    for (int k = 0; k < a.K; ++k) {
        if (k > 0)
            w = curand4(&rng);
        pfr_agent_step(&a, &st, w.x, k);
    }
    pfr_agent_end(&a, &st);
}

extern "C" cudaError_t pfr_cuda_launch_local_steps(const pfr_round_args *a, cudaStream_t stream)
{
    if (a->d > PFR_ROUND_MAX_D)
        return cudaErrorInvalidValue;
    const int threads = 128;
    const int64_t blocks = (a->n + threads - 1) / threads;
    pfr_local_steps_kernel<<<(unsigned)blocks, threads, 0, stream>>>(*a);
    return cudaGetLastError();
}

/* For the tests: the four Philox words of (agent[q], step[q]) as cuRAND produces them. */
__global__ void pfr_philox_words_kernel(uint64_t seed, const uint64_t *agent, const uint64_t *step, int n, uint4 *out)
{
    const int q = blockIdx.x * blockDim.x + threadIdx.x;
    if (q >= n)
        return;
    curandStatePhilox4_32_10_t rng;
    curand_init(seed, agent[q], 4ull * step[q], &rng);
    out[q] = curand4(&rng);
}

extern "C" cudaError_t pfr_cuda_launch_philox_words(uint64_t seed, const uint64_t *agent, const uint64_t *step, int n,
                                                   uint4 *out, cudaStream_t stream)
{
    pfr_philox_words_kernel<<<(n + 127) / 128, 128, 0, stream>>>(seed, agent, step, n, out);
    return cudaGetLastError();
}
