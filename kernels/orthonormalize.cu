/*
 * orthonormalize.cu — the device half of orthonormalizing Phi. The host factors the small [S, d]
 * Phi (Phi = Q R in double, pfr_orthonormalize_factor) and uploads Q and R; this kernel maps every
 * agent's theta_i to R theta_i (pfr_map_theta, the function the CPU engine uses), so each Phi theta_i
 * is unchanged and both engines give the same theta.
 */
#include "../kernels/pfr_agent_math.h"
#include "cuda_engine.h"

__global__ void pfr_map_theta_kernel(float *theta, const double *R, int64_t N, int d)
{
    const int64_t a = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (a >= N)
        return;
    pfr_map_theta(R, theta + (size_t)a * d, d);
}

extern "C" cudaError_t pfr_cuda_launch_map_theta(float *theta, const double *R, int64_t N, int d, cudaStream_t stream)
{
    pfr_map_theta_kernel<<<(unsigned)((N + 127) / 128), 128, 0, stream>>>(theta, R, N, d);
    return cudaGetLastError();
}
