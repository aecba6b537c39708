/*
 * local_steps.cu — every participating agent's K local TD steps of one round. Two variants, picked
 * by pfr_cuda_pick_kernel (config key cuda_kernel: auto | thread | warp); both give the same bits.
 *
 * 1. pfr_local_steps_thread<D>: one thread per agent, the round of kernels/pfr_agent_round.h (also
 *    run by the CPU tests) on the per-agent math of pfr_agent_math.h. D is the feature dimension
 *    made a compile-time constant (4, 8, 16, 32; 0 = any d <= 64): the loops over d unroll and the
 *    agent's theta stays in registers instead of local memory.
 * 2. pfr_local_steps_warp: one warp per agent for large rows (d >= 16). Lane j holds theta[j] and
 *    theta[j+32]; a row of Phi_i is one coalesced load; the dot products are summed across lanes in
 *    exactly pfr_dot's order (see warp_dot), and each lane applies pfr_td_update to its elements, so
 *    the result equals the thread variant's bit for bit.
 *
 * Random words: curand_init(seed, agent, 4*t) then curand4() gives exactly the Philox words of
 * DESIGN §3 for step t; word x drives the transition, word y of the round's first step decides
 * participation. States therefore follow the CPU engine bit for bit.
 *
 * Napkin math (H100: 132 SMs, ~1.75 GHz, 4 warp schedulers per SM; L1 ~128 B/cycle/SM).
 *  thread, cliff walk, d = 8: per agent-step one Philox (~40 integer ops, in registers), ~3
 *    threshold loads (L1-resident table), two 32-byte rows, 32 FLOPs. A warp touches 32 different
 *    rows: ~16 L1 wavefronts per agent-step, so L1 bounds it near 132 * 1.75e9 / 16 ~ 1.4e10
 *    agent-steps/s; instruction issue (~100 thread-instructions per step) near 132*4*32*1.75e9/100
 *    ~ 3e10. Target: 1e10 at N >= 1e6, K = 100.
 *  warp, d = 32: per agent-step 2 coalesced 128-byte row loads, ~22 shuffles, ~30 other warp
 *    instructions: ~55 warp-instructions, i.e. ~1.7e10 agent-steps/s at full issue; the thread
 *    variant at d = 32 needs ~64 L1 wavefronts per step (~3.6e9), hence the switch at large d.
 * Compiled with --fmad=false so the float roundings are those of the CPU engine.
 */
#include <curand_kernel.h>

#include "../kernels/pfr_agent_round.h"
#include "cuda_engine.h"

/* ---- variant 1: a thread per agent ------------------------------------------------------------- */
template <int D> __global__ void pfr_local_steps_thread(const __grid_constant__ pfr_round_args a)
{
    const int d = D > 0 ? D : a.d; /* the same value; a constant for the compiler when D > 0 */
    const int64_t i = a.i0 + (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= a.i0 + a.n)
        return;
    const uint64_t t0 = a.t0_dev ? *a.t0_dev : a.t0;
    curandStatePhilox4_32_10_t rng;
    curand_init(a.seed, (unsigned long long)i, 4ull * t0, &rng);
    uint4 w = curand4(&rng);
    pfr_agent_state st;
    if (!pfr_agent_begin(&a, i, w.y, &st, d))
        return;
    for (int k = 0; k < a.K; ++k) {
        if (k > 0)
            w = curand4(&rng);
        pfr_agent_step(&a, &st, w.x, k, d);
    }
    pfr_agent_end(&a, &st, d);
}

/* ---- variant 2: a warp per agent --------------------------------------------------------------- */
#define FULL_MASK 0xFFFFFFFFu

/*
 * The dot product of pfr_dot, summed across a warp. Lane l holds the products p0 = x[l] * y[l] and
 * p1 = x[l+32] * y[l+32] (anything beyond d is ignored). pfr_dot adds element e into partial e mod 8
 * in index order, then combines ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)). Here lane l gathers the
 * elements of partial l & 7 in index order from the lanes that hold them, then three butterfly
 * steps: xor 4 gives a_l + a_{l^4}, xor 2 the two brackets, xor 1 their sum. Float addition is
 * commutative, so every lane ends with the same bits, and they are pfr_dot's.
 */
__device__ __forceinline__ float warp_dot(float p0, float p1, int d)
{
    const int l8 = (int)(threadIdx.x & 7u);
    float acc = 0.0f;
    for (int q = 0; 8 * q < d; ++q) { /* uniform trip count */
        const int e = 8 * q + l8;     /* the element this lane adds next */
        const float v0 = __shfl_sync(FULL_MASK, p0, e & 31);
        const float v1 = d > 32 ? __shfl_sync(FULL_MASK, p1, e & 31) : 0.0f;
        if (e < d)
            acc += e < 32 ? v0 : v1;
    }
    float s = acc + __shfl_xor_sync(FULL_MASK, acc, 4);
    s = s + __shfl_xor_sync(FULL_MASK, s, 2);
    return s + __shfl_xor_sync(FULL_MASK, s, 1);
}

/* An agent's overlay, seen by the whole warp. The row ids and the slot map are written by lane 0
 * and published with __syncwarp(); each lane only ever reads back the overlay values it wrote. */
struct warp_overlay {
    uint32_t *rows; /* [R] */
    float *vals;    /* [R, d] */
    uint8_t *slot;  /* [S] or NULL */
    int n;          /* rows in use, the same in every lane */
};

/* Slot of state s in the overlay, or -1. */
__device__ __forceinline__ int warp_find(const warp_overlay &o, uint32_t s)
{
    if (o.slot) {
        const uint8_t q = o.slot[s];
        return q == 0xFFu ? -1 : (int)q;
    }
    const int lane = (int)(threadIdx.x & 31u);
    for (int base = 0; base < o.n; base += 32) { /* rows are distinct: at most one lane hits */
        const int q = base + lane;
        const unsigned hit = __ballot_sync(FULL_MASK, q < o.n && o.rows[q] == s);
        if (hit)
            return base + __ffs(hit) - 1;
    }
    return -1;
}

__global__ void pfr_local_steps_warp(const __grid_constant__ pfr_round_args a)
{
    const int lane = (int)(threadIdx.x & 31u);
    const int64_t i = a.i0 + ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    if (i >= a.i0 + a.n) /* the whole warp leaves together */
        return;
    const int d = a.d;
    const int j0 = lane, j1 = lane + 32; /* this lane's elements */
    const bool has0 = j0 < d, has1 = j1 < d;

    /* Lane l draws the words of step kb + l; step k's word is shuffled from lane k - kb. */
    const uint64_t t0 = a.t0_dev ? *a.t0_dev : a.t0;
    curandStatePhilox4_32_10_t rng;
    curand_init(a.seed, (unsigned long long)i, 4ull * (t0 + (uint64_t)lane), &rng);
    uint4 w = curand4(&rng);
    if ((uint64_t)__shfl_sync(FULL_MASK, w.y, 0) >= a.part_threshold) {
        if (lane == 0)
            a.took_part[i] = 0;
        return;
    }

    uint32_t s = a.state[i];
    const uint32_t *rp = a.row_ptr + (size_t)(a.type_first + (int)(i % a.type_count)) * (a.S + 1);
    warp_overlay o;
    o.rows = a.ov_rows ? a.ov_rows + (size_t)(i - a.i0) * a.R : nullptr;
    o.vals = a.ov_vals ? a.ov_vals + (size_t)(i - a.i0) * a.R * d : nullptr;
    o.slot = a.ov_slot ? a.ov_slot + (size_t)(i - a.i0) * a.S : nullptr;
    o.n = 0;
    float *own = a.agent_phi ? a.agent_phi + (size_t)i * a.S * d : nullptr;
    float *theta = a.theta + (size_t)i * d;
    float th0 = has0 ? theta[j0] : 0.0f, th1 = has1 ? theta[j1] : 0.0f;

    for (int k = 0; k < a.K; ++k) {
        if (k > 0 && (k & 31) == 0) {
            curand_init(a.seed, (unsigned long long)i, 4ull * (t0 + (uint64_t)(k + lane)), &rng);
            w = curand4(&rng);
        }
        const uint32_t u = __shfl_sync(FULL_MASK, w.x, k & 31);
        const uint32_t lo = rp[s];
        const uint32_t j = lo + pfr_sample_entry(a.thr + lo, rp[s + 1] - lo, u);
        const uint32_t s2 = a.next[j];
        float *ps;
        const float *pn;
        if (own) { /* local_rep: the agent's own Phi_i */
            ps = own + (size_t)s * d;
            pn = own + (size_t)s2 * d;
        } else if (o.rows) { /* the shared Phi seen through the overlay, as pfr_agent_step does */
            int q = warp_find(o, s);
            if (q < 0) { /* first visit: copy the shared row into a new slot */
                q = o.n++;
                float *dst = o.vals + (size_t)q * d;
                if (has0)
                    dst[j0] = a.phi[(size_t)s * d + j0];
                if (has1)
                    dst[j1] = a.phi[(size_t)s * d + j1];
                if (lane == 0) {
                    o.rows[q] = s;
                    if (o.slot)
                        o.slot[s] = (uint8_t)q;
                }
                __syncwarp();
            }
            ps = o.vals + (size_t)q * d;
            const int q2 = warp_find(o, s2);
            pn = q2 < 0 ? a.phi + (size_t)s2 * d : o.vals + (size_t)q2 * d;
        } else { /* fixed features */
            ps = (float *)(a.phi + (size_t)s * d);
            pn = a.phi + (size_t)s2 * d;
        }
        float x0 = has0 ? ps[j0] : 0.0f, x1 = has1 ? ps[j1] : 0.0f;
        const float y0 = has0 ? pn[j0] : 0.0f, y1 = has1 ? pn[j1] : 0.0f;
        const float delta = pfr_td_delta(a.reward[j], a.gamma, warp_dot(x0 * th0, x1 * th1, d),
                                         warp_dot(y0 * th0, y1 * th1, d));
        const float ca = a.alpha[k] * delta, cb = a.beta[k] * delta;
        pfr_td_update(&x0, &th0, ca, cb, a.learn_phi);
        pfr_td_update(&x1, &th1, ca, cb, a.learn_phi);
        if (a.learn_phi) { /* ps is the agent's own row here (overlay or Phi_i), never the shared Phi */
            if (has0)
                ps[j0] = x0;
            if (has1)
                ps[j1] = x1;
        }
        s = s2;
    }

    if (has0)
        theta[j0] = th0;
    if (has1)
        theta[j1] = th1;
    if (o.slot) /* leave the slot map empty for the next round's agent in this place */
        for (int q = lane; q < o.n; q += 32)
            o.slot[o.rows[q]] = 0xFFu;
    if (lane == 0) {
        a.state[i] = s;
        if (o.rows)
            a.ov_count[i - a.i0] = o.n;
        a.took_part[i] = 1;
    }
}

/* ---- launchers ----------------------------------------------------------------------------------- */
extern "C" pfr_cuda_kernel pfr_cuda_pick_kernel(pfr_cuda_kernel requested, int d)
{
    if (requested != PFR_CUDA_KERNEL_AUTO)
        return requested;
    /* napkin math above: a thread's row loads scatter over 32 rows per warp instruction, which
     * costs more than the warp's shuffles once rows are 64 bytes or longer */
    return d >= 16 ? PFR_CUDA_KERNEL_WARP : PFR_CUDA_KERNEL_THREAD;
}

extern "C" cudaError_t pfr_cuda_launch_local_steps(const pfr_round_args *a, pfr_cuda_kernel kernel,
                                                   cudaStream_t stream)
{
    if (a->d < 1 || a->d > PFR_ROUND_MAX_D || a->n < 1)
        return cudaErrorInvalidValue;
    const int threads = 128;
    if (kernel == PFR_CUDA_KERNEL_WARP) {
        const int64_t blocks = (a->n + threads / 32 - 1) / (threads / 32);
        pfr_local_steps_warp<<<(unsigned)blocks, threads, 0, stream>>>(*a);
        return cudaGetLastError();
    }
    const unsigned blocks = (unsigned)((a->n + threads - 1) / threads);
    switch (a->d) {
    case 4: pfr_local_steps_thread<4><<<blocks, threads, 0, stream>>>(*a); break;
    case 8: pfr_local_steps_thread<8><<<blocks, threads, 0, stream>>>(*a); break;
    case 16: pfr_local_steps_thread<16><<<blocks, threads, 0, stream>>>(*a); break;
    case 32: pfr_local_steps_thread<32><<<blocks, threads, 0, stream>>>(*a); break;
    default: pfr_local_steps_thread<0><<<blocks, threads, 0, stream>>>(*a); break;
    }
    return cudaGetLastError();
}

/* For the tests: the four Philox words of (agent[q], step[q]) as cuRAND produces them. */
__global__ void pfr_philox_words_kernel(uint64_t seed, const uint64_t *agent, const uint64_t *step, int n, uint4 *out)
{
    const int q = blockIdx.x * blockDim.x + threadIdx.x;
    if (q >= n)
        return;
    curandStatePhilox4_32_10_t rng;
    curand_init(seed, agent[q], 4ull * step[q], &rng);
    out[q] = curand4(&rng);
}

extern "C" cudaError_t pfr_cuda_launch_philox_words(uint64_t seed, const uint64_t *agent, const uint64_t *step, int n,
                                                   uint4 *out, cudaStream_t stream)
{
    pfr_philox_words_kernel<<<(n + 127) / 128, 128, 0, stream>>>(seed, agent, step, n, out);
    return cudaGetLastError();
}
