/*
 * local_steps.cu — every participating agent's K local TD steps of one round. Two variants, picked
 * by pfr_cuda_pick_kernel (config key cuda_kernel: auto | thread | warp); both give the same bits.
 *
 * 1. pfr_local_steps_thread<D>: one thread per agent, the round of kernels/pfr_agent_round.h (also
 *    run by the CPU tests) on the per-agent math of pfr_agent_math.h. D is the feature dimension
 *    made a compile-time constant (4, 8, 16, 32; 0 = any d <= 64): the loops over d unroll and the
 *    agent's theta stays in registers instead of local memory.
 * 2. pfr_local_steps_warp: one warp per agent for large rows (d >= 16), the round of
 *    kernels/pfr_warp_round.h (also run by the CPU tests, lanes emulated). Lane j holds theta[j] and
 *    theta[j+32]; a row of Phi_i is one coalesced load; the dot products are summed across lanes in
 *    exactly pfr_dot's order, and each lane applies pfr_td_update to its elements, so the result
 *    equals the thread variant's bit for bit.
 *
 * Random words: pfr_stream_words (pfr_agent_math.h), Philox4x32-10 with the DESIGN §3 counter
 * {t, agent} and key seed, called directly: one evaluation gives a step's four words. That function
 * is what cuRAND's Philox4_32_10 generator computes: curand_init(seed, agent, 4t) + curand4()
 * returns the same four words (pfr_philox_words_kernel below computes both on the device for
 * tests/test_cuda.cc), but curand_init's skip-ahead and the state it keeps cost about three Philox
 * evaluations a step. Word 0 drives the transition, word 1 of the round's first step decides
 * participation. States therefore follow the CPU engine bit for bit.
 *
 * Napkin math (H100: 132 SMs, ~1.75 GHz, 4 warp schedulers per SM; L1 ~128 B/cycle/SM).
 *  thread, cliff walk, d = 8: per agent-step one Philox (~40 integer ops, in registers), ~3
 *    threshold loads (L1-resident table), two 32-byte rows, 32 FLOPs. A warp touches 32 different
 *    rows: ~16 L1 wavefronts per agent-step, so L1 bounds it near 132 * 1.75e9 / 16 ~ 1.4e10
 *    agent-steps/s; instruction issue (~100 thread-instructions per step) near 132*4*32*1.75e9/100
 *    ~ 3e10 (Philox called directly: one evaluation a step). Target: 1e10 at N >= 1e6, K = 100.
 *  warp, d = 32: per agent-step 2 coalesced 128-byte row loads, ~22 shuffles, ~30 other warp
 *    instructions: ~55 warp-instructions, i.e. ~1.7e10 agent-steps/s at full issue; the thread
 *    variant at d = 32 needs ~64 L1 wavefronts per step (~3.6e9), hence the switch at large d.
 * Measured (the H200 profile in bench/RESULTS.md): the L1 model above was wrong about the limit.
 *  The thread kernel is bound by L2 requests, not bytes: a warp's 32 rows make every access 32
 *  separate requests, and the overlay writes dominated. Hence the current row kept in registers,
 *  shared-memory slot maps and 16-byte row accesses (pfr_agent_round.h).
 * Compiled with --fmad=false so the float roundings are those of the CPU engine.
 */
#include <curand_kernel.h>

#include "pfr_warp_round.h"
#include "pfr_launch.h"

/* ---- variant 1: a thread per agent ------------------------------------------------------------- */
/* map_words = pfr_map_words(&a): each thread's lookup map in shared memory, its slot map [S] or its
 * overlay hash table (map_words 32-bit words, filled with 0xFF here: a thread's own words, so no
 * barrier), where the lookups of every step then cost no L2 traffic; 0: the global slot map
 * a.ov_slot, or a scan of the overlay's rows. CONTROL: SARSA or Q-learning
 * (pfr_agent_round_control), a kernel of its own: compiled into one kernel with the policy-evaluation
 * round, control's Q-values (an array indexed at run time, so in local memory) shared a stack slot
 * with the next row, and every step stored that row there for nothing (two 16-byte local stores a
 * step at d = 8, seen in the PTX); apart, the policy-evaluation kernels use no local memory at all
 * (ptxas: 0 bytes of stack for D = 4, 8, 16, 32). */
template <int D, int CONTROL>
__global__ void pfr_local_steps_thread(const __grid_constant__ pfr_round_args a, int map_words)
{
    extern __shared__ uint32_t pfr_map_smem[];
    const int d = D > 0 ? D : a.d; /* the same value; a constant for the compiler when D > 0 */
    const int64_t i = a.i0 + (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < a.i0 + a.n) {
        uint8_t *map = nullptr;
        if (map_words) {
            uint32_t *own = pfr_map_smem + (size_t)threadIdx.x * map_words;
            for (int q = 0; q < map_words; ++q)
                own[q] = 0xFFFFFFFFu;
            map = (uint8_t *)own;
        }
        if (CONTROL)
            pfr_agent_round_control(&a, i, d, map);
        else
            pfr_agent_round(&a, i, d, map);
    }
}

/* ---- variant 2: a warp per agent (the round: kernels/pfr_warp_round.h) -------------------------- */
#define FULL_MASK 0xFFFFFFFFu

/* The warp operations of pfr_warp_round.h, from the intrinsics and cuRAND. */
struct device_warp {
    __device__ int lane() const { return (int)(threadIdx.x & 31u); }
    __device__ uint32_t shfl(uint32_t v, int src) const { return __shfl_sync(FULL_MASK, v, src); }
    __device__ float shfl(float v, int src) const { return __shfl_sync(FULL_MASK, v, src); }
    __device__ float shfl_xor(float v, int mask) const { return __shfl_xor_sync(FULL_MASK, v, mask); }
    __device__ unsigned ballot(bool p) const { return __ballot_sync(FULL_MASK, p); }
    __device__ void syncwarp() const { __syncwarp(); }
    __device__ pfr_words words(uint64_t seed, uint64_t agent, uint64_t t) const
    {
        return pfr_stream_words(seed, agent, t);
    }
};

__global__ void pfr_local_steps_warp(const __grid_constant__ pfr_round_args a)
{
    const int64_t i = a.i0 + ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    if (i >= a.i0 + a.n) /* the whole warp leaves together */
        return;
    device_warp w;
    pfr_warp_agent_round(&a, i, w);
}

/* ---- launchers ----------------------------------------------------------------------------------- */
extern "C" pfr_cuda_kernel pfr_cuda_pick_kernel(pfr_cuda_kernel requested, int d)
{
    if (requested != PFR_CUDA_KERNEL_AUTO)
        return requested;
    /* The thread kernel at every d: since rows move in 16-byte pieces (pfr_row_load/store) it beats
     * the warp kernel at d = 16 and 32 as well (DESIGN §6's tuning table; `bash bench/gpu_check.sh
     * kernels` measures both over N, K and d). */
    (void)d;
    return PFR_CUDA_KERNEL_THREAD;
}

extern "C" cudaError_t pfr_cuda_launch_local_steps(const pfr_round_args *a, pfr_cuda_kernel kernel,
                                                   cudaStream_t stream)
{
    if (a->d < 1 || a->d > PFR_ROUND_MAX_D || a->n < 1)
        return cudaErrorInvalidValue;
    const int threads = PFR_THREAD_BLOCK;
    if (kernel == PFR_CUDA_KERNEL_WARP && !a->control) { /* control: the thread kernel only, for now */
        const int64_t blocks = (a->n + threads / 32 - 1) / (threads / 32);
        pfr_local_steps_warp<<<(unsigned)blocks, threads, 0, stream>>>(*a);
        return cudaGetLastError();
    }
    const unsigned blocks = (unsigned)((a->n + threads - 1) / threads);
    const int sw = pfr_map_words(a);
    const size_t smem = (size_t)sw * 4 * threads; /* at most 33 KB (a hash table of 256 bytes): no opt-in needed */
#define PFR_THREAD_KERNEL(D)                                                                          \
    (a->control ? pfr_local_steps_thread<D, 1><<<blocks, threads, smem, stream>>>(*a, sw)                 \
                : pfr_local_steps_thread<D, 0><<<blocks, threads, smem, stream>>>(*a, sw))
    switch (a->d) {
    case 4: PFR_THREAD_KERNEL(4); break;
    case 8: PFR_THREAD_KERNEL(8); break;
    case 16: PFR_THREAD_KERNEL(16); break;
    case 32: PFR_THREAD_KERNEL(32); break;
    default: PFR_THREAD_KERNEL(0); break;
    }
#undef PFR_THREAD_KERNEL
    return cudaGetLastError();
}

/* For the tests: the four words of (agent[q], step[q]) from cuRAND's generator, curand_init(seed,
 * agent, 4 step) + curand4() (the reference the DESIGN contract names), and from pfr_stream_words as
 * the kernels above call it on the device. */
__global__ void pfr_philox_words_kernel(uint64_t seed, const uint64_t *agent, const uint64_t *step, int n,
                                        uint4 *curand_out, uint4 *own_out)
{
    const int q = blockIdx.x * blockDim.x + threadIdx.x;
    if (q >= n)
        return;
    curandStatePhilox4_32_10_t rng;
    curand_init(seed, agent[q], 4ull * step[q], &rng);
    curand_out[q] = curand4(&rng);
    const pfr_words w = pfr_stream_words(seed, agent[q], step[q]);
    own_out[q] = make_uint4(w.w[0], w.w[1], w.w[2], w.w[3]);
}

extern "C" cudaError_t pfr_cuda_launch_philox_words(uint64_t seed, const uint64_t *agent, const uint64_t *step, int n,
                                                   uint4 *curand_out, uint4 *own_out, cudaStream_t stream)
{
    pfr_philox_words_kernel<<<(n + 127) / 128, 128, 0, stream>>>(seed, agent, step, n, curand_out, own_out);
    return cudaGetLastError();
}
