/*
 * graph_counter.cu — the last node of a round captured as a CUDA graph (cuda_graph): the round's
 * counters {t0, round} live on the device, where the local steps and the factor kernels read them,
 * and this one thread moves them on to the next round, so one instantiated graph serves every round.
 */
#include "pfr_launch.h"

__global__ void pfr_advance_kernel(uint64_t *ctr, uint64_t K)
{
    ctr[0] += K;
    ctr[1] += 1;
}

extern "C" cudaError_t pfr_cuda_launch_advance(uint64_t *ctr, uint64_t K, cudaStream_t stream)
{
    pfr_advance_kernel<<<1, 1, 0, stream>>>(ctr, K);
    return cudaGetLastError();
}
