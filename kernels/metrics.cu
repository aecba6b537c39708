/*
 * metrics.cu — the per-agent part of an evaluation on the device. Shared-Phi algorithms: each
 * thread one agent's relative value error (pfr_quad_error, from the per-type moments the host
 * computes from the small Phi) and |theta_i|; then thread 0 of each 256-agent block adds its
 * agents in index order, as the CPU engine does, and only [nblocks, 3] doubles go to the host.
 * Napkin math: reads N*d floats of theta once (32 B per agent at d = 8) and ~d^2 FLOPs per agent.
 */
#include "pfr_metrics.h"
#include "pfr_launch.h"

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

/* local_rep: each thread one agent's error with its own Phi_i (pfr_direct_error), |theta_i| and
 * |Phi_i|; mu, V [M, S]. Reads the agent's S*d floats once (1.5 KB at S = 48, d = 8). */
__global__ void pfr_metrics_own_kernel(const float *agent_phi, const float *theta, int64_t N, int S, int d,
                                       const double *mu, const double *V, const double *vnorm2, int type_first,
                                       int type_count, double *blk)
{
    __shared__ double ve_s[PFR_AGENT_BLOCK], tn_s[PFR_AGENT_BLOCK], pn_s[PFR_AGENT_BLOCK];
    const int64_t b = blockIdx.x, i = b * PFR_AGENT_BLOCK + threadIdx.x;
    double ve = 0.0, tn = 0.0, pn = 0.0;
    if (i < N) {
        const int m = type_first + (int)(i % type_count);
        const float *phi = agent_phi + (size_t)i * S * d, *th = theta + (size_t)i * d;
        ve = pfr_direct_error(phi, th, S, d, mu + (size_t)m * S, V + (size_t)m * S, vnorm2[m]);
        tn = pfr_theta_norm(th, d);
        pn = pfr_phi_norm(phi, S, d);
    }
    ve_s[threadIdx.x] = ve;
    tn_s[threadIdx.x] = tn;
    pn_s[threadIdx.x] = pn;
    __syncthreads();
    if (threadIdx.x == 0) {
        const int64_t n = N - b * PFR_AGENT_BLOCK < PFR_AGENT_BLOCK ? N - b * PFR_AGENT_BLOCK : PFR_AGENT_BLOCK;
        double x = 0.0, y = 0.0, z = 0.0;
        for (int q = 0; q < n; ++q) {
            x += ve_s[q];
            y += tn_s[q];
            z += pn_s[q];
        }
        blk[3 * b] = x;
        blk[3 * b + 1] = y;
        blk[3 * b + 2] = z;
    }
}

extern "C" cudaError_t pfr_cuda_launch_metrics_own(const float *agent_phi, const float *theta, int64_t N, int S, int d,
                                                  const double *mu, const double *V, const double *vnorm2,
                                                  int type_first, int type_count, double *blk, cudaStream_t stream)
{
    const int64_t nblocks = (N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    pfr_metrics_own_kernel<<<(unsigned)nblocks, PFR_AGENT_BLOCK, 0, stream>>>(agent_phi, theta, N, S, d, mu, V, vnorm2,
                                                                             type_first, type_count, blk);
    return cudaGetLastError();
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
