/*
 * orthonormalize.cu — Cholesky-QR of the shared Phi on the device (the math: kernels/pfr_cholqr.h,
 * the functions the CPU engine runs). The round's sequence, launched by cuda_engine.cu:
 *   gram_tiles (each tile of PFR_GRAM_TILE rows: its part of Phi^T Phi) -> the tiles summed in order
 *   (aggregate.cu's column sum: pfr_gram's bits) -> chol (U, R = U/c)
 *   -> solve_rows (Phi <- c Phi U^{-1}) -> map_theta (theta_i <- R theta_i, every agent)
 * Nothing crosses to the host: a failed factor is recorded on the device and reported by the host at
 * its next wait, so a round never stops for it.
 * Napkin math (S = 48, d = 8, N = 1e6): the factor is ~d^2 serial steps of one block (a few us); the
 * Gram tiles are chains of up to 1024 products (S = 1e6, d = 8: 977 tiles x 64 entries, ~6 us), their
 * sum a chain of 977;
 * map_theta reads and writes N*d floats (64 MB at N = 1e6, d = 8: ~25 us at 2.5 TB/s).
 */
#include "pfr_cholqr.h"
#include "pfr_launch.h"

/* A thread per (tile, entry) of the Gram matrix: pfr_gram's tile sums (rows of a tile in order). */
__global__ void pfr_gram_tiles_kernel(const float *phi, int S, int d, double *tiles)
{
    const int64_t dd = (int64_t)d * d, n = (int64_t)pfr_gram_tiles(S) * dd;
    const int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (x >= n)
        return;
    const int t = (int)(x / dd), e = (int)(x % dd);
    tiles[x] = pfr_gram_tile_entry(phi, S, d, t, e / d, e % d);
}

/* One block of PFR_ROUND_MAX_D threads runs pfr_chol_block (pfr_cholqr.h, also run by the CPU tests). */
__global__ void pfr_chol_kernel(double *G, int d, double c, double *R, unsigned long long *fail,
                                unsigned long long round_arg, const unsigned long long *round_dev)
{
    __shared__ pfr_chol_shared sh;
    const int earlier = *fail != PFR_CUDA_NO_FAIL; /* an earlier round failed: leave everything alone */
    if (pfr_chol_block(G, d, c, R, earlier, (int)threadIdx.x, (int)blockDim.x, &sh) != 0 && threadIdx.x == 0 &&
        !earlier)
        atomicMin(fail, round_dev ? *round_dev : round_arg);
}

__global__ void pfr_solve_rows_kernel(float *phi, const double *U, int S, int d, double c,
                                      const unsigned long long *fail)
{
    const int s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s >= S || *fail != PFR_CUDA_NO_FAIL)
        return;
    double y[PFR_ROUND_MAX_D];
    pfr_chol_solve_row(U, d, c, phi + (size_t)s * d, y);
}

__global__ void pfr_map_theta_kernel(float *theta, const double *R, int64_t N, int d, const unsigned long long *fail)
{
    const int64_t a = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (a >= N || *fail != PFR_CUDA_NO_FAIL)
        return;
    pfr_map_theta(R, theta + (size_t)a * d, d);
}

/* local_rep: every agent's own Phi_i [S, D] and theta_i, a thread per agent (pfr_cholqr_one, what the
 * CPU engine runs for each agent). G and y live in the thread's local memory (2 D*D + D doubles). */
template <int D>
__global__ void pfr_agent_cholqr_kernel(float *agent_phi, float *theta, int64_t N, int S, unsigned long long *fail,
                                        unsigned long long round, const unsigned long long *round_dev)
{
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N)
        return;
    double G[2 * D * D], y[D]; /* G and pfr_gram's scratch */
    if (pfr_cholqr_one(agent_phi + (size_t)i * S * D, S, D, theta + (size_t)i * D, G, y) != 0)
        atomicMin(fail, round_dev ? *round_dev : round);
}

extern "C" int pfr_cuda_agent_cholqr_supported(int d) { return d == 4 || d == 8 || d == 16 || d == 32; }

extern "C" cudaError_t pfr_cuda_launch_agent_cholqr(float *agent_phi, float *theta, int64_t N, int S, int d,
                                                   unsigned long long *fail, unsigned long long round,
                                                   const unsigned long long *round_dev, cudaStream_t stream)
{
    const unsigned b = (unsigned)((N + 127) / 128);
    switch (d) {
    case 4: pfr_agent_cholqr_kernel<4><<<b, 128, 0, stream>>>(agent_phi, theta, N, S, fail, round, round_dev); break;
    case 8: pfr_agent_cholqr_kernel<8><<<b, 128, 0, stream>>>(agent_phi, theta, N, S, fail, round, round_dev); break;
    case 16: pfr_agent_cholqr_kernel<16><<<b, 128, 0, stream>>>(agent_phi, theta, N, S, fail, round, round_dev); break;
    case 32: pfr_agent_cholqr_kernel<32><<<b, 128, 0, stream>>>(agent_phi, theta, N, S, fail, round, round_dev); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_gram_tiles(const float *phi, int S, int d, double *tiles, cudaStream_t stream)
{
    const int64_t n = (int64_t)pfr_gram_tiles(S) * d * d;
    pfr_gram_tiles_kernel<<<(unsigned)((n + 127) / 128), 128, 0, stream>>>(phi, S, d, tiles);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_chol(double *gram, int d, double c, double *R, unsigned long long *fail,
                                           unsigned long long round, const unsigned long long *round_dev,
                                           cudaStream_t stream)
{
    if (d < 1 || d > PFR_ROUND_MAX_D)
        return cudaErrorInvalidValue;
    pfr_chol_kernel<<<1, PFR_ROUND_MAX_D, 0, stream>>>(gram, d, c, R, fail, round, round_dev);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_solve_rows(float *phi, const double *gram, int S, int d, double c,
                                                 const unsigned long long *fail, cudaStream_t stream)
{
    pfr_solve_rows_kernel<<<(unsigned)((S + 127) / 128), 128, 0, stream>>>(phi, gram, S, d, c, fail);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_map_theta(float *theta, const double *R, int64_t N, int d,
                                                const unsigned long long *fail, cudaStream_t stream)
{
    pfr_map_theta_kernel<<<(unsigned)((N + 127) / 128), 128, 0, stream>>>(theta, R, N, d, fail);
    return cudaGetLastError();
}
