/*
 * orthonormalize.cu — the device half of orthonormalizing Phi. The host factors the small [S, d]
 * Phi (Phi = Q R in double, pfr_orthonormalize_factor) and uploads Q and R; this kernel maps every
 * agent's theta_i to R theta_i, so each Phi theta_i is unchanged. One thread per agent; the sum runs
 * in double in the order the CPU engine uses, so both engines give the same theta.
 */
#include "cuda_engine.h"

__global__ void pfr_map_theta_kernel(float *theta, const double *R, int64_t N, int d)
{
    const int64_t a = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (a >= N)
        return;
    float *th = theta + (size_t)a * d;
    double y[64];
    for (int i = 0; i < d; ++i) {
        double acc = 0.0;
        for (int j = i; j < d; ++j)
            acc += R[(size_t)i * d + j] * th[j];
        y[i] = acc;
    }
    for (int i = 0; i < d; ++i)
        th[i] = (float)y[i];
}

extern "C" cudaError_t pfr_cuda_launch_map_theta(float *theta, const double *R, int64_t N, int d, cudaStream_t stream)
{
    if (d > 64)
        return cudaErrorInvalidValue;
    pfr_map_theta_kernel<<<(unsigned)((N + 127) / 128), 128, 0, stream>>>(theta, R, N, d);
    return cudaGetLastError();
}
