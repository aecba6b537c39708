/*
 * aggregate.cu — the round's aggregation on the device, deterministic for a given configuration.
 *
 * 1. pfr_fold_kernel: one CUDA block per agent block (PFR_AGENT_BLOCK agents, the grouping the CPU
 *    engine uses) runs pfr_fold_block (kernels/pfr_fold.h, also run by the CPU tests): each
 *    participant's overlay rows Phi_i[r] - Phi[r] (double) go into the block's partial sum
 *    `partial` [nblocks, S*d], agent after agent in index order, so every entry sees the additions
 *    of the CPU engine in its order; theta_i into `theta_partial` [nblocks, d]. The sequential part
 *    touches shared memory only (flags, counts, staged differences; the partial sums too when S*d
 *    fits).
 * 2. cuBLAS Dgemv sums the block partials chunk by chunk (see cuda_engine.cu), then
 *    pfr_apply_kernel adds the mean change to Phi and pfr_broadcast_theta_kernel hands the mean
 *    theta to every agent.
 * Napkin math (cliff walk, N = 1e6, K = 1, d = 8): 3907 blocks; staging streams ~64 B per agent
 * (64 MB: ~25 us at 2.5 TB/s); the agent-by-agent part is ~256 barrier-separated shared-memory
 * steps per block (~10 us a block, ~5 waves at ~6 resident blocks per SM: ~50 us); the gemv reads
 * nblocks*S*d doubles (12 MB, ~5 us).
 */
#include "pfr_fold.h"
#include "pfr_launch.h"

__global__ void pfr_fold_kernel(const __grid_constant__ pfr_fold_args a)
{
    extern __shared__ double fold_smem[]; /* [PFR_FOLD_STAGE] staged values, then [S*d] partial sums if they fit */
    __shared__ int stage_idx[PFR_FOLD_STAGE];
    __shared__ int entries[PFR_AGENT_BLOCK];
    __shared__ unsigned char took[PFR_AGENT_BLOCK];
    __shared__ double scale[PFR_AGENT_BLOCK]; /* each agent's weight and clip factor (federation) */
    pfr_fold_smem w;
    w.stage = fold_smem;
    w.stage_idx = stage_idx;
    w.entries = entries;
    w.took = took;
    w.scale = scale;
    w.part_smem = (size_t)a.S * a.d <= PFR_FOLD_SMEM_SD ? fold_smem + PFR_FOLD_STAGE : nullptr;
    pfr_fold_block(&a, blockIdx.x, (int)threadIdx.x, (int)blockDim.x, &w);
}

/* The expressions of the CPU engine: phi + sum * (1/participants), theta = sum * (1/participants). */
__global__ void pfr_apply_kernel(float *phi, const double *sum_change, double scale, size_t n)
{
    const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e < n)
        pfr_apply_entry(phi, sum_change, scale, e);
}

/* The same with the private aggregation's noise on every entry (pfr_apply_entry_noisy). */
__global__ void pfr_apply_noisy_kernel(float *phi, const double *sum_change, double scale, size_t n, double noise_std,
                                       uint64_t seed, int64_t round)
{
    const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e < n)
        pfr_apply_entry_noisy(phi, sum_change, scale, e, noise_std, seed, round);
}

__global__ void pfr_broadcast_theta_kernel(float *theta, const double *sum_theta, double scale, int64_t N, int d)
{
    const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e < N * d)
        pfr_broadcast_entry(theta, sum_theta, scale, d, e);
}

extern "C" cudaError_t pfr_cuda_launch_fold(const pfr_fold_args *a, cudaStream_t stream)
{
    const int64_t nblocks = (a->n + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    const size_t sd = (size_t)a->S * a->d;
    const size_t smem = sizeof(double) * (PFR_FOLD_STAGE + (sd <= PFR_FOLD_SMEM_SD ? sd : 0));
    pfr_fold_kernel<<<(unsigned)nblocks, 256, smem, stream>>>(*a);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_apply(float *phi, const double *sum_change, double scale, size_t n,
                                            cudaStream_t stream)
{
    pfr_apply_kernel<<<(unsigned)((n + 255) / 256), 256, 0, stream>>>(phi, sum_change, scale, n);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_apply_noisy(float *phi, const double *sum_change, double scale, size_t n,
                                                  double noise_std, uint64_t seed, int64_t round, cudaStream_t stream)
{
    pfr_apply_noisy_kernel<<<(unsigned)((n + 255) / 256), 256, 0, stream>>>(phi, sum_change, scale, n, noise_std, seed,
                                                                             round);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_broadcast_theta(float *theta, const double *sum_theta, double scale, int64_t N,
                                                      int d, cudaStream_t stream)
{
    const int64_t n = N * d;
    pfr_broadcast_theta_kernel<<<(unsigned)((n + 255) / 256), 256, 0, stream>>>(theta, sum_theta, scale, N, d);
    return cudaGetLastError();
}
