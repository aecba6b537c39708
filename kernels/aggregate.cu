/*
 * aggregate.cu — the round's aggregation on the device, in the CPU engine's order (kernels/pfr_fold.h
 * says which order and why; its bodies run here and in the CPU tests). The same bits for every
 * chunk of agents, on every device.
 *
 * dense S d:  pfr_fold_kernel          a block per agent block: its sums of every row in shared memory
 *                                      (pfr_fold_block), written to partial [blocks, S d]; theta, count
 *             pfr_colsum_kernel        the partials over blocks in order into the round's sums
 * sparse:     pfr_fold_prep_kernel     a block per agent block: entries (pfr_fold_prep_block); theta, count
 *             (sort.cu: CUB's stable radix sort by row, the runs selected)
 *             pfr_run_sum_kernel       a thread per (run, column): the run's entries in order
 *             pfr_row_sum_kernel       a thread per (row, column): the row's runs in order into the sums
 * then        pfr_apply_kernel         a thread per row: Phi += sums / participants where marked, sums
 *                                      emptied (noisy: every row, with the private aggregation's noise)
 *             pfr_broadcast_theta_kernel  the mean theta to every agent
 * Napkin math: pfr_fold.h (bytes per agent, the serial chains); the column sum below.
 */
#include "pfr_fold.h"
#include "pfr_launch.h"

/* The dense fold's shared memory: static flags, factors and rows per agent; dynamic [S d] sums,
 * [S, words] masks, [S, tile] slots (pfr_fold_smem_bytes). */
__global__ void pfr_fold_kernel(const __grid_constant__ pfr_fold_args a)
{
    extern __shared__ double fold_smem[];
    __shared__ int rows[PFR_AGENT_BLOCK];
    __shared__ unsigned char took[PFR_AGENT_BLOCK];
    __shared__ double scale[PFR_AGENT_BLOCK];
    const size_t sd = (size_t)a.S * a.d;
    const int tile = pfr_fold_tile(a.S);
    pfr_fold_smem w;
    w.rows = rows;
    w.took = took;
    w.scale = scale;
    w.part = fold_smem;
    w.mask = (uint32_t *)(fold_smem + sd);
    w.qtab = (uint16_t *)(w.mask + (size_t)a.S * pfr_fold_words(tile));
    pfr_fold_block(&a, blockIdx.x, (int)threadIdx.x, (int)blockDim.x, &w);
}

__global__ void pfr_fold_prep_kernel(const __grid_constant__ pfr_fold_args a)
{
    __shared__ int rows[PFR_AGENT_BLOCK];
    __shared__ unsigned char took[PFR_AGENT_BLOCK];
    __shared__ double scale[PFR_AGENT_BLOCK];
    pfr_fold_smem w;
    w.rows = rows;
    w.took = took;
    w.scale = scale;
    w.part = nullptr;
    w.mask = nullptr;
    w.qtab = nullptr;
    pfr_fold_prep_block(&a, blockIdx.x, (int)threadIdx.x, (int)blockDim.x, &w);
}

/* Threads (column c = threadIdx.x, run = threadIdx.y + blockDim.y * k), the runs read on the device
 * (their count is the selection's, not known to the host): a grid-stride loop over them. */
__global__ void pfr_run_sum_kernel(const __grid_constant__ pfr_fold_args a, const __grid_constant__ pfr_runs p,
                                   const int *runs)
{
    const int64_t n = *runs;
    for (int64_t u = (int64_t)blockIdx.x * blockDim.y + threadIdx.y; u < n; u += (int64_t)gridDim.x * blockDim.y)
        pfr_run_sum(&a, &p, u, (int)threadIdx.x);
}

__global__ void pfr_row_sum_kernel(const __grid_constant__ pfr_runs p, const int *runs, int d)
{
    const int64_t n = *runs;
    for (int64_t u = (int64_t)blockIdx.x * blockDim.y + threadIdx.y; u < n; u += (int64_t)gridDim.x * blockDim.y)
        pfr_row_sum(&p, u, n, (int)threadIdx.x, d);
}

/* out[e] (+)= partial[b, e] over b in order (pfr_colsum's order) for 32 columns a block: warps 1..7
 * load the next tile of PFR_COLSUM_ROWS blocks into shared memory while warp 0 adds the current one,
 * so many loads are in flight while the one thread per column adds in order.
 * Napkin math (cliff walk, N = 1e6: 3907 blocks x 384 columns): the adds are one chain of 3907 per
 * column, ~8 cycles each on the FP64 pipe (~16 us at 1.9 GHz); loading a tile of 64 x 32 doubles
 * (16 KB, 7 warps x ~9 loads in flight each) takes about as long as adding it. */
#define PFR_COLSUM_ROWS 64
__global__ void pfr_colsum_kernel(const double *partial, int64_t cols, int64_t blocks, double *out, int accumulate)
{
    __shared__ double tile[2][PFR_COLSUM_ROWS][32];
    const int lane = (int)(threadIdx.x & 31u), warp = (int)(threadIdx.x >> 5), loaders = (int)(blockDim.x >> 5) - 1;
    const int64_t e = (int64_t)blockIdx.x * 32 + lane;
    const int live = e < cols;
    double acc = warp == 0 && live && accumulate ? out[e] : 0.0;
    const int64_t ntiles = (blocks + PFR_COLSUM_ROWS - 1) / PFR_COLSUM_ROWS;
    for (int64_t t = -1; t < ntiles; ++t) {
        if (warp > 0 && t + 1 < ntiles) /* load tile t + 1 */
            for (int k = warp - 1; k < PFR_COLSUM_ROWS; k += loaders) {
                const int64_t b = (t + 1) * PFR_COLSUM_ROWS + k;
                tile[(t + 1) & 1][k][lane] = b < blocks && live ? partial[(size_t)b * cols + e] : 0.0;
            }
        if (warp == 0 && t >= 0) { /* add tile t, in block order */
            const int64_t b0 = t * PFR_COLSUM_ROWS;
            const int m = blocks - b0 < PFR_COLSUM_ROWS ? (int)(blocks - b0) : PFR_COLSUM_ROWS;
            for (int k = 0; k < m; ++k)
                acc += tile[t & 1][k][lane];
        }
        __syncthreads();
    }
    if (warp == 0 && live)
        out[e] = acc;
}

__global__ void pfr_apply_kernel(float *phi, double *sums, uint8_t *touched, double scale, int S, int d)
{
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < S)
        pfr_apply_row(phi, sums, touched, scale, r, d);
}

__global__ void pfr_apply_noisy_kernel(float *phi, double *sums, uint8_t *touched, double scale, int S, int d,
                                       double noise_std, uint64_t seed, int64_t round)
{
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < S)
        pfr_apply_row_noisy(phi, sums, touched, scale, r, d, noise_std, seed, round);
}

__global__ void pfr_broadcast_theta_kernel(float *theta, const double *sum_theta, double scale, int64_t N, int d)
{
    const int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e < N * d)
        pfr_broadcast_entry(theta, sum_theta, scale, d, e);
}

/* ---- launchers -------------------------------------------------------------------------------------- */
extern "C" cudaError_t pfr_cuda_launch_fold(const pfr_fold_args *a, cudaStream_t stream)
{
    const int64_t nblocks = (a->n + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    const size_t smem = a->ov_count ? pfr_fold_smem_bytes(a->S, a->d) : 0;
    pfr_fold_kernel<<<(unsigned)nblocks, PFR_AGENT_BLOCK, smem, stream>>>(*a);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_fold_prep(const pfr_fold_args *a, cudaStream_t stream)
{
    const int64_t nblocks = (a->n + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    pfr_fold_prep_kernel<<<(unsigned)nblocks, PFR_AGENT_BLOCK, 0, stream>>>(*a);
    return cudaGetLastError();
}

/* A block of d columns x (256 / d) runs; enough blocks for the most runs a chunk can have (its
 * entries), up to a grid that fills the device several times over (the loop takes the rest). */
static void runs_grid(int64_t max_runs, int d, dim3 *grid, dim3 *block)
{
    const int per = PFR_AGENT_BLOCK / d > 0 ? PFR_AGENT_BLOCK / d : 1;
    const int64_t want = (max_runs + per - 1) / per;
    *block = dim3((unsigned)d, (unsigned)per);
    *grid = dim3((unsigned)(want < 65536 ? (want > 0 ? want : 1) : 65536));
}

extern "C" cudaError_t pfr_cuda_launch_run_sums(const pfr_fold_args *a, const pfr_runs *p, const int *runs,
                                                cudaStream_t stream)
{
    dim3 grid, block;
    runs_grid(p->entries, a->d, &grid, &block);
    pfr_run_sum_kernel<<<grid, block, 0, stream>>>(*a, *p, runs);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_row_sums(const pfr_runs *p, const int *runs, int d, cudaStream_t stream)
{
    dim3 grid, block;
    runs_grid(p->entries, d, &grid, &block);
    pfr_row_sum_kernel<<<grid, block, 0, stream>>>(*p, runs, d);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_colsum(const double *partial, int64_t cols, int64_t blocks, double *out,
                                              int accumulate, cudaStream_t stream)
{
    pfr_colsum_kernel<<<(unsigned)((cols + 31) / 32), 256, 0, stream>>>(partial, cols, blocks, out, accumulate);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_apply(float *phi, double *sums, uint8_t *touched, double scale, int S, int d,
                                             cudaStream_t stream)
{
    pfr_apply_kernel<<<(unsigned)((S + 255) / 256), 256, 0, stream>>>(phi, sums, touched, scale, S, d);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_apply_noisy(float *phi, double *sums, uint8_t *touched, double scale, int S,
                                                   int d, double noise_std, uint64_t seed, int64_t round,
                                                   cudaStream_t stream)
{
    pfr_apply_noisy_kernel<<<(unsigned)((S + 255) / 256), 256, 0, stream>>>(phi, sums, touched, scale, S, d, noise_std,
                                                                             seed, round);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_broadcast_theta(float *theta, const double *sum_theta, double scale, int64_t N,
                                                      int d, cudaStream_t stream)
{
    const int64_t n = N * d;
    pfr_broadcast_theta_kernel<<<(unsigned)((n + 255) / 256), 256, 0, stream>>>(theta, sum_theta, scale, N, d);
    return cudaGetLastError();
}
