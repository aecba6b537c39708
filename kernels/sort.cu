/*
 * sort.cu — the sparse aggregation's two library steps (kernels/pfr_fold.h), by CUB, the CUDA
 * Toolkit's own primitives:
 *  1. the entries sorted by row: cub::DeviceRadixSort::SortPairs on the key's bits only (a row, or
 *     the sentinel S), with a DoubleBuffer (little temporary storage; the result lands in either
 *     buffer, which CUB says on the host as it enqueues). The sort is stable (CUB documents its radix
 *     sorts as stable), so a row's entries stay in agent order: that is what makes the sums the CPU
 *     engine's.
 *  2. the runs: cub::DeviceSelect::If over the entries' indices with pfr_run_head as predicate,
 *     which keeps the selected indices in order and writes their count on the device.
 * Both run on the engine's stream with storage allocated once (pfr_cuda_sparse_temp_bytes), so they
 * are captured into a CUDA graph like the kernels. Why not written by hand: a stable multi-pass
 * radix sort at memory speed is CUB's core competence; nothing here is specific to pfedrl.
 * Napkin math (N = 1e6, K = 10: 1e7 entries, S = 2.5e5: 18 key bits, 3 passes of 8 bits): each pass
 * reads and writes 8 bytes an entry, ~0.5 GB in all (~0.2 ms at 3 TB/s).
 */
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_select.cuh>
#include <thrust/iterator/counting_iterator.h>

#include "pfr_fold.h"
#include "pfr_launch.h"

namespace {

struct run_head {
    const uint32_t *keys, *vals;
    int S, qbits;
    __host__ __device__ bool operator()(int x) const
    {
        pfr_runs p;
        p.keys = keys;
        p.vals = vals;
        return pfr_run_head(&p, x, S, qbits) != 0;
    }
};

} // namespace

extern "C" cudaError_t pfr_cuda_sparse_temp_bytes(int64_t n, size_t *bytes)
{
    size_t sort_b = 0, select_b = 0;
    cub::DoubleBuffer<uint32_t> keys(nullptr, nullptr), vals(nullptr, nullptr);
    cudaError_t e = cub::DeviceRadixSort::SortPairs(nullptr, sort_b, keys, vals, (int)n, 0, 32);
    if (e != cudaSuccess)
        return e;
    thrust::counting_iterator<int> idx(0);
    e = cub::DeviceSelect::If(nullptr, select_b, idx, (int *)nullptr, (int *)nullptr, (int)n,
                              run_head{nullptr, nullptr, 0, 0});
    *bytes = sort_b > select_b ? sort_b : select_b;
    return e;
}

extern "C" cudaError_t pfr_cuda_sort_entries(void *temp, size_t temp_bytes, uint32_t *keys[2], uint32_t *vals[2],
                                             int64_t n, int bits, int *current, cudaStream_t stream)
{
    cub::DoubleBuffer<uint32_t> k(keys[0], keys[1]), v(vals[0], vals[1]);
    const cudaError_t e = cub::DeviceRadixSort::SortPairs(temp, temp_bytes, k, v, (int)n, 0, bits, stream);
    *current = k.selector;
    return e != cudaSuccess ? e : cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_select_runs(void *temp, size_t temp_bytes, const uint32_t *keys, const uint32_t *vals,
                                            int64_t n, int S, int qbits, int *run_start, int *runs, cudaStream_t stream)
{
    thrust::counting_iterator<int> idx(0);
    const cudaError_t e =
        cub::DeviceSelect::If(temp, temp_bytes, idx, run_start, runs, (int)n, run_head{keys, vals, S, qbits}, stream);
    return e != cudaSuccess ? e : cudaGetLastError();
}
