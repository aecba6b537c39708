/*
 * aggregate.cu — the round's aggregation on the device, deterministic for a given configuration.
 *
 * 1. pfr_fold_kernel: one CUDA block per agent block (PFR_AGENT_BLOCK agents, the grouping the CPU
 *    engine uses). It adds each participant's overlay rows, Phi_i[r] - Phi[r] (in double), into the
 *    block's partial sum `partial` [nblocks, S*d], agent after agent in index order, so every entry
 *    sees the same sequence of additions as on the CPU; and its theta_i into `theta_partial`
 *    [nblocks, d]. One agent's rows are distinct, so the threads that share an agent never collide.
 * 2. cuBLAS Dgemv sums the block partials chunk by chunk (see cuda_engine.cu), then
 *    pfr_apply_kernel adds the mean change to Phi and pfr_broadcast_theta_kernel hands the mean
 *    theta to every agent.
 *
 * The fold in three phases, so that the part that must be sequential (agent after agent, a barrier
 * between) touches shared memory only:
 *   a. every agent's flag and entry count into shared memory (one coalesced load each);
 *   b. for a tile of agents at once, in parallel: load each overlay entry and its shared-Phi entry,
 *      stage the difference and its target index in shared memory;
 *   c. agent by agent: add the staged entries into the partial sum, in shared memory when S*d fits
 *      (PFR_FOLD_SMEM_SD doubles), else in global memory.
 * theta: thread c sums column c over the block's participants in order (independent loads).
 * Napkin math (cliff walk, N = 1e6, K = 1, d = 8): 3907 blocks; phase b streams ~64 B per agent
 * (64 MB: ~25 us at 2.5 TB/s); phase c is ~256 barrier-separated shared-memory steps per block
 * (~10 us a block, ~5 waves at ~6 resident blocks per SM: ~50 us); the gemv reads nblocks*S*d
 * doubles (12 MB, ~5 us).
 */
#include "../kernels/pfr_agent_round.h"
#include "cuda_engine.h"


__global__ void pfr_fold_kernel(const __grid_constant__ pfr_cuda_fold_args a)
{
    extern __shared__ double fold_smem[]; /* [PFR_FOLD_STAGE] staged values, then [S*d] partial sums if they fit */
    __shared__ int stage_idx[PFR_FOLD_STAGE];
    __shared__ int entries[PFR_AGENT_BLOCK]; /* overlay entries of each agent that took part, else 0 */
    __shared__ unsigned char took[PFR_AGENT_BLOCK];

    const int64_t lb = blockIdx.x, b = a.i0 / PFR_AGENT_BLOCK + lb; /* block in the chunk, overall */
    const int d = a.d, tid = (int)threadIdx.x;
    const size_t sd = (size_t)a.S * d;
    const int64_t end = a.i0 + a.n;
    const int64_t i0 = b * PFR_AGENT_BLOCK;
    const int nag = (int)((i0 + PFR_AGENT_BLOCK < end ? i0 + PFR_AGENT_BLOCK : end) - i0);

    /* a. flags and entry counts */
    for (int j = tid; j < PFR_AGENT_BLOCK; j += blockDim.x) {
        const int t = j < nag ? (int)a.took_part[i0 + j] : 0;
        took[j] = (unsigned char)t;
        entries[j] = t && a.ov_count ? a.ov_count[i0 + j - a.i0] * d : 0;
    }
    __syncthreads();

    if (a.ov_count) {
        const int in_smem = sd <= PFR_FOLD_SMEM_SD;
        double *stage = fold_smem;
        double *part = in_smem ? fold_smem + PFR_FOLD_STAGE : a.partial + (size_t)lb * sd;
        if (in_smem)
            for (size_t e = tid; e < sd; e += blockDim.x)
                part[e] = 0.0;
        const int per = a.R * d;                     /* staging room per agent */
        const int tile = per <= PFR_FOLD_STAGE ? PFR_FOLD_STAGE / per : 1;
        for (int t0 = 0; t0 < nag; t0 += tile) {
            const int tn = nag - t0 < tile ? nag - t0 : tile;
            /* b. stage (a tile of one agent whose overlay exceeds the stage goes in pieces) */
            for (int p0 = 0; p0 < (per <= PFR_FOLD_STAGE ? 1 : per); p0 += PFR_FOLD_STAGE) {
                __syncthreads(); /* the stage is free */
                for (int x = tid; x < tn * per && x < PFR_FOLD_STAGE; x += blockDim.x) {
                    const int j = x / per, e = p0 + x % per;
                    if (e < entries[t0 + j]) {
                        const int64_t i = i0 + t0 + j;
                        const uint32_t r = a.ov_rows[(size_t)(i - a.i0) * a.R + e / d];
                        const int c = e % d;
                        stage[x] = (double)a.ov_vals[(size_t)(i - a.i0) * per + e] - (double)a.phi[(size_t)r * d + c];
                        stage_idx[x] = (int)(r * (uint32_t)d + (uint32_t)c);
                    }
                }
                __syncthreads();
                /* c. agent after agent */
                for (int j = 0; j < tn; ++j) {
                    const int lo = j * per, n = entries[t0 + j] - p0; /* this agent's staged entries */
                    if (n <= 0)
                        continue; /* uniform: entries[] is in shared memory */
                    const int m = n < PFR_FOLD_STAGE ? n : PFR_FOLD_STAGE;
                    for (int x = tid; x < m; x += blockDim.x)
                        part[stage_idx[lo + x]] += stage[lo + x];
                    __syncthreads();
                }
            }
        }
        __syncthreads();
        if (in_smem)
            for (size_t e = tid; e < sd; e += blockDim.x)
                a.partial[(size_t)lb * sd + e] = part[e];
    }

    if (a.theta_partial && tid < d) {
        double acc = 0.0;
        for (int j = 0; j < nag; ++j)
            if (took[j])
                acc += (double)a.theta[(size_t)(i0 + j) * d + tid];
        a.theta_partial[(size_t)lb * d + tid] = acc;
    }
    if (tid == 0) {
        int count = 0;
        for (int j = 0; j < nag; ++j)
            count += took[j];
        a.block_count[b] = count;
    }
}

/* The expressions of the CPU engine: phi + sum * (1/participants), theta = sum * (1/participants). */
__global__ void pfr_apply_kernel(float *phi, const double *sum_change, double scale, size_t n)
{
    const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e < n)
        phi[e] = (float)((double)phi[e] + sum_change[e] * scale);
}

__global__ void pfr_broadcast_theta_kernel(float *theta, const double *sum_theta, double scale, int64_t N, int d)
{
    const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e < N * d)
        theta[e] = (float)(sum_theta[e % d] * scale);
}

extern "C" cudaError_t pfr_cuda_launch_fold(const pfr_cuda_fold_args *a, cudaStream_t stream)
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

extern "C" cudaError_t pfr_cuda_launch_broadcast_theta(float *theta, const double *sum_theta, double scale, int64_t N,
                                                      int d, cudaStream_t stream)
{
    const int64_t n = N * d;
    pfr_broadcast_theta_kernel<<<(unsigned)((n + 255) / 256), 256, 0, stream>>>(theta, sum_theta, scale, N, d);
    return cudaGetLastError();
}
