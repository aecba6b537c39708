/*
 * local_steps.cu — every participating agent's K local TD steps of one round, one thread per
 * agent, with the per-agent math of pfr_agent_math.h (the same functions the CPU engine runs).
 *
 * Random words: curand_init(seed, agent, 4*t0) then curand4() once per step gives exactly the
 * Philox words of DESIGN §3 for steps t0, t0+1, ...; word x drives the transition, word y of the
 * first step decides participation. States therefore follow the CPU engine bit for bit.
 *
 * Phi_i for the shared-Phi algorithms: an agent only changes the rows it visits, so it keeps them
 * in its own overlay, `ov_rows` [N, R] (row ids) and `ov_vals` [N, R, d] (values), R = min(K, S);
 * a row is copied from the shared Phi on first visit and looked up by a linear scan afterwards.
 * Napkin math (cliff walk, d = 8, K = 10): per step one Philox (~40 integer ops), ~3 threshold
 * loads, 2 rows of 32 B, ~4d FLOPs, so the kernel is latency- and instruction-bound; the overlay
 * scan costs O(K) per step (fine for small K; a warp-per-agent variant is the next step).
 * Compiled with --fmad=false so the float roundings are those of the CPU engine.
 */
#include <curand_kernel.h>

#include "../kernels/pfr_agent_math.h"
#include "cuda_engine.h"

#define PFR_CUDA_MAX_D 64

/* The agent's copy of row s: its overlay slot if it has one; with `insert`, a new slot copied from
 * the shared Phi. Without insert and without a slot: the shared row itself (read-only use). */
__device__ static float *overlay_row(const float *phi, uint32_t *rows, float *vals, int *n, uint32_t s, int d,
                                     int insert)
{
    for (int q = 0; q < *n; ++q)
        if (rows[q] == s)
            return vals + (size_t)q * d;
    if (!insert)
        return (float *)(phi + (size_t)s * d);
    float *slot = vals + (size_t)(*n) * d;
    for (int j = 0; j < d; ++j)
        slot[j] = phi[(size_t)s * d + j];
    rows[(*n)++] = s;
    return slot;
}

__global__ void pfr_local_steps_kernel(pfr_cuda_step_args a)
{
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= a.N)
        return;
    curandStatePhilox4_32_10_t rng;
    curand_init(a.seed, (unsigned long long)i, 4ull * a.t0, &rng);
    uint4 w = curand4(&rng);
    if ((uint64_t)w.y >= a.part_threshold) {
        a.took_part[i] = 0;
        return;
    }
    const int d = a.d;
    const int m = a.type_first + (int)(i % a.type_count);
    const uint32_t *rp = a.row_ptr + (size_t)m * (a.S + 1);
    float th[PFR_CUDA_MAX_D];
    for (int j = 0; j < d; ++j)
        th[j] = a.theta[(size_t)i * d + j];
    uint32_t s = a.state[i];
    uint32_t *rows = a.ov_rows ? a.ov_rows + (size_t)i * a.R : nullptr;
    float *vals = a.ov_vals ? a.ov_vals + (size_t)i * a.R * d : nullptr;
    float *own = a.agent_phi ? a.agent_phi + (size_t)i * a.S * d : nullptr;
    int n = 0;
    for (int k = 0; k < a.K; ++k) {
        if (k > 0)
            w = curand4(&rng);
        const uint32_t lo = rp[s];
        const uint32_t j = lo + pfr_sample_entry(a.thr + lo, rp[s + 1] - lo, w.x);
        const uint32_t s2 = a.next[j];
        float *ps;
        const float *pn;
        if (own) { /* local_rep: the agent's own Phi_i */
            ps = own + (size_t)s * d;
            pn = own + (size_t)s2 * d;
        } else if (rows) { /* shared Phi with the agent's overlay */
            ps = overlay_row(a.phi, rows, vals, &n, s, d, 1);
            pn = overlay_row(a.phi, rows, vals, &n, s2, d, 0);
        } else { /* fixed features */
            ps = (float *)(a.phi + (size_t)s * d);
            pn = a.phi + (size_t)s2 * d;
        }
        pfr_td_step(ps, pn, th, d, a.reward[j], a.gamma, a.alpha[k], a.beta[k], a.learn_phi);
        s = s2;
    }
    a.state[i] = s;
    for (int j = 0; j < d; ++j)
        a.theta[(size_t)i * d + j] = th[j];
    if (rows)
        a.ov_count[i] = n;
    a.took_part[i] = 1;
}

extern "C" cudaError_t pfr_cuda_launch_local_steps(const pfr_cuda_step_args *a, cudaStream_t stream)
{
    if (a->d > PFR_CUDA_MAX_D)
        return cudaErrorInvalidValue;
    const int threads = 128;
    const int64_t blocks = (a->N + threads - 1) / threads;
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
