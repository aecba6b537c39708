/*
 * aggregate.cu — the round's aggregation on the device, deterministic for a given configuration.
 *
 * 1. pfr_fold_kernel: one CUDA block per agent block (PFR_AGENT_BLOCK agents, the grouping the CPU
 *    engine uses). It walks its agents in index order and adds each participant's overlay rows,
 *    Phi_i[r] - Phi[r], into the block's partial sum `partial` [nblocks, S*d] (double), and its
 *    theta_i into `theta_partial` [nblocks, d]. One agent's rows are distinct, so the threads that
 *    share an agent never collide; a barrier separates agents, so the order of additions is fixed.
 * 2. cuBLAS Dgemv sums the block partials chunk by chunk (see cuda_engine.cu), then
 *    pfr_apply_kernel adds the mean change to Phi and pfr_broadcast_theta_kernel hands the mean
 *    theta to every agent.
 * Napkin math: the fold reads each participant's <= min(K, S) rows once (K*d*4 bytes per agent) and
 * writes nblocks*S*d doubles; the gemv reads the same; both are bandwidth-bound and small next to
 * the local steps for K >= 10.
 */
#include "../kernels/pfr_agent_round.h"
#include "cuda_engine.h"

__global__ void pfr_fold_kernel(pfr_cuda_fold_args a)
{
    const int64_t lb = blockIdx.x, b = a.i0 / PFR_AGENT_BLOCK + lb; /* block in the chunk, overall */
    const int d = a.d;
    double *part = a.partial + (size_t)lb * a.S * d;
    double *tpart = a.theta_partial ? a.theta_partial + (size_t)lb * d : nullptr;
    const int64_t end = a.i0 + a.n;
    const int64_t i0 = b * PFR_AGENT_BLOCK;
    const int64_t i1 = i0 + PFR_AGENT_BLOCK < end ? i0 + PFR_AGENT_BLOCK : end;
    int count = 0;
    for (int64_t i = i0; i < i1; ++i) {
        if (!a.took_part[i]) /* the same value for every thread of the block */
            continue;
        ++count;
        if (a.ov_count) {
            const int n = a.ov_count[i - a.i0];
            const uint32_t *rows = a.ov_rows + (size_t)(i - a.i0) * a.R;
            const float *vals = a.ov_vals + (size_t)(i - a.i0) * a.R * d;
            for (int e = threadIdx.x; e < n * d; e += blockDim.x)
                pfr_fold_entry(a.phi, rows, vals, d, e, part);
        }
        if (tpart)
            for (int c = threadIdx.x; c < d; c += blockDim.x)
                tpart[c] += (double)a.theta[(size_t)i * d + c];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        a.block_count[b] = count;
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
    pfr_fold_kernel<<<(unsigned)nblocks, 256, 0, stream>>>(*a);
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
