/*
 * metrics.cu — the per-agent part of an evaluation on the device (shared-Phi algorithms): each
 * thread one agent's relative value error (pfr_quad_error, from the per-type moments the host
 * computes from the small Phi) and |theta_i|; then thread 0 of each 256-agent block adds its
 * agents in index order, as the CPU engine does, and only [nblocks, 3] doubles go to the host.
 * Napkin math: reads N*d floats of theta once (32 B per agent at d = 8) and ~d^2 FLOPs per agent.
 */
#include "../kernels/pfr_metrics.h"
#include "cuda_engine.h"

__global__ void pfr_metrics_kernel(const float *theta, int64_t N, int d, const double *mom, const double *vnorm2,
                                   int type_first, int type_count, double *blk)
{
    __shared__ double ve_s[PFR_AGENT_BLOCK], tn_s[PFR_AGENT_BLOCK];
    const int64_t b = blockIdx.x, i = b * PFR_AGENT_BLOCK + threadIdx.x;
    double ve = 0.0, tn = 0.0;
    if (i < N) {
        const int m = type_first + (int)(i % type_count);
        const double *G = mom + (size_t)m * (d * d + d);
        ve = pfr_quad_error(G, G + (size_t)d * d, vnorm2[m], theta + (size_t)i * d, d);
        tn = pfr_theta_norm(theta + (size_t)i * d, d);
    }
    ve_s[threadIdx.x] = ve;
    tn_s[threadIdx.x] = tn;
    __syncthreads();
    if (threadIdx.x == 0) {
        const int64_t n = N - b * PFR_AGENT_BLOCK < PFR_AGENT_BLOCK ? N - b * PFR_AGENT_BLOCK : PFR_AGENT_BLOCK;
        double a = 0.0, c = 0.0;
        for (int q = 0; q < n; ++q) {
            a += ve_s[q];
            c += tn_s[q];
        }
        blk[3 * b] = a;
        blk[3 * b + 1] = c;
        blk[3 * b + 2] = 0.0;
    }
}

extern "C" cudaError_t pfr_cuda_launch_metrics(const float *theta, int64_t N, int d, const double *mom,
                                              const double *vnorm2, int type_first, int type_count, double *blk,
                                              cudaStream_t stream)
{
    const int64_t nblocks = (N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    pfr_metrics_kernel<<<(unsigned)nblocks, PFR_AGENT_BLOCK, 0, stream>>>(theta, N, d, mom, vnorm2, type_first,
                                                                         type_count, blk);
    return cudaGetLastError();
}
