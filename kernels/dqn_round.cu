/*
 * dqn_round.cu — the neural instance's round on the device (issue 29): a block of
 * PFR_DQN_BLOCK_THREADS threads per agent runs the agent's K environment steps and their gradient
 * steps (kernels/pfr_dqn_agent.h's sequence; the forward passes and gradient steps spread over the
 * block by kernels/pfr_dqn_block.h, which the CPU suite runs thread by thread against the CPU
 * engine's step); then the server's ordered mean, a thread per entry, and its broadcast.
 *
 * Napkin math (CartPole, 4 -> 64 -> 16, A = 2, batch 16, one gradient step per environment step):
 * a gradient step is ~0.13 Mflop in 2L + 3 = 7 phases, the longest chain 64 dependent adds
 * (~64 x 8 cycles of shared-memory latency ~ 0.3 us), so ~2-3 us a step per block; 132 SMs of an H100
 * at ~8 resident blocks each (~38 KB of shared memory a block) keep ~1,000 agents stepping: ~4e8
 * agent-steps/s if latency alone bounded it. The weights stay in global memory (L1/L2-cached: 5.4 KB
 * a body, read ~50 times a step); staging them in shared memory is the first thing to measure.
 * The mean reads N P floats once (N = 10^4: 54 MB, ~20 us at 3 TB/s): a thread per (256-agent block,
 * entry) sums its block in agent order, then a thread per entry adds the blocks in order, the CPU
 * engine's order in two passes with N / 256 x P threads in the first (a thread per entry alone would
 * walk all N agents: ~N x 0.5 us of memory latency).
 *
 * Shared memory of a block (floats): the block step's scratch (pfr_dqn_block_scratch), the gradients
 * gp [P] and gt [H], one observation's activations [pfr_mlp_acts], the next observation [8], the
 * minibatch's indices [batch] (ints).
 */
#include "pfr_dqn_block.h"
#include "pfr_dqn_launch.h"

namespace {

struct dqn_shared_layout {
    int scratch, gp, gt, acts1, nb, idx, total; /* offsets in floats */
};

__host__ __device__ dqn_shared_layout dqn_layout(const pfr_mlp *m, int batch, int H)
{
    dqn_shared_layout l;
    l.scratch = 0;
    l.gp = l.scratch + pfr_dqn_block_scratch(m, batch);
    l.gt = l.gp + pfr_mlp_params(m);
    l.acts1 = l.gt + H;
    l.nb = l.acts1 + pfr_mlp_acts(m);
    l.idx = l.nb + PFR_DQN_MAX_OBS;
    l.total = l.idx + batch;
    return l;
}

__global__ void dqn_round_kernel(pfr_dqn_round_args a)
{
    extern __shared__ float sh[];
    __shared__ int take_part, rb_size, rb_head, step_t, copy_target;
    __shared__ float loss;
    const int64_t i = blockIdx.x;
    const int tid = threadIdx.x, nt = blockDim.x;
    const size_t P = (size_t)a.P, H = (size_t)a.H, C = (size_t)a.C, O = (size_t)a.O;
    const pfr_words first = pfr_stream_words(a.seed, (uint64_t)i, a.t0);
    if (tid == 0) {
        take_part = (uint64_t)first.w[PFR_WORD_PARTICIPATION] < a.part_threshold;
        a.took_part[i] = (uint8_t)take_part;
    }
    __syncthreads();
    if (!take_part)
        return;
    float *body = a.body + i * P, *head = a.head + i * H, *body_tgt = a.body_tgt + i * P, *head_tgt = a.head_tgt + i * H;
    float *bm = a.body_m + i * P, *bv = a.body_v + i * P, *hm = a.head_m + i * H, *hv = a.head_v + i * H;
    if (a.reset_optimizer) { /* the round starts Adam afresh */
        for (size_t e = tid; e < P; e += nt)
            bm[e] = 0.0f, bv[e] = 0.0f;
        for (size_t e = tid; e < H; e += nt)
            hm[e] = 0.0f, hv[e] = 0.0f;
        if (tid == 0)
            a.adam_t[i] = 0;
    }
    const dqn_shared_layout lay = dqn_layout(&a.m, a.c.batch, a.H);
    float *acts1 = sh + lay.acts1, *nb = sh + lay.nb;
    int *idx = (int *)(sh + lay.idx);
    pfr_replay rb = {a.C, a.O, a.rb_size[i], a.rb_head[i], a.obs + i * C * O, a.next + i * C * O,
                     a.reward + i * C, a.action + i * C, a.done + i * C};
    const pfr_classic env = pfr_classic_make(a.r.kind, a.param[i]);
    double *s = a.state + (size_t)i * PFR_CLASSIC_STATE;
    const pfr_dqn_counters ct = {a.ep_t + i, a.episode + i, a.grad + i, a.adam_t + i, a.eps + i};
    const int L = a.m.layers, f_at = pfr_dqn_block_aoff(&a.m, L);
    for (int k = 0; k < a.K; ++k) {
        if (tid == 0)
            pfr_classic_observe(&env, s, acts1);
        __syncthreads();
        for (int l = 0; l < L; ++l) {
            pfr_dqn_block_forward_one(&a.m, body, acts1, l, tid, nt);
            __syncthreads();
        }
        if (tid == 0) {
            const pfr_words w = k == 0 ? first : pfr_stream_words(a.seed, (uint64_t)i, a.t0 + (uint64_t)k);
            pfr_dqn_transition(&a.r, &env, s, ct, &rb, head, acts1 + f_at, acts1, nb, w, a.seed, i);
            rb_size = rb.size, rb_head = rb.head;
        }
        __syncthreads();
        rb.size = rb_size, rb.head = rb_head;
        if (rb.size < a.r.learn_start)
            continue;
        for (int g = 0; g < a.r.grad_steps; ++g) {
            for (int j0 = 4 * tid; j0 < a.c.batch; j0 += 4 * nt)
                pfr_dqn_pick4(&rb, a.seed, i, *ct.grad, j0, a.c.batch, idx);
            if (tid == 0)
                step_t = ++*ct.adam_t;
            __syncthreads();
            pfr_dqn_block st = {&a.m, a.r.A, &a.c, body, head, body_tgt, head_tgt, &rb, idx,
                                sh + lay.gp, sh + lay.gt, bm, bv, hm, hv, step_t, nullptr, nullptr, nullptr,
                                nullptr, nullptr, nullptr, 0, &loss};
            pfr_dqn_block_carve(&st, sh + lay.scratch);
            for (int phase = 0; phase < pfr_dqn_block_phases(&a.m); ++phase) {
                pfr_dqn_block_phase(&st, phase, tid, nt);
                __syncthreads();
            }
            if (tid == 0) {
                a.loss_sum[i] += loss;
                a.loss_n[i]++;
                copy_target = pfr_dqn_after_step(&a.r, ct);
            }
            __syncthreads();
            if (copy_target) {
                for (size_t e = tid; e < P; e += nt)
                    body_tgt[e] = body[e];
                for (size_t e = tid; e < H; e += nt)
                    head_tgt[e] = head[e];
                __syncthreads();
            }
        }
    }
    if (tid == 0) {
        a.rb_size[i] = rb.size;
        a.rb_head[i] = rb.head;
    }
}

__global__ void dqn_count_kernel(const uint8_t *took, int64_t N, unsigned long long *count)
{
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N && took[i])
        atomicAdd(count, 1ull);
}

/* The mean in two passes, the CPU engine's order: part [nb, width] = each 256-agent block's sum in
 * agent order (a thread per (block, entry)), then a thread per entry adds the blocks in order. */
__global__ void dqn_block_sums_kernel(const float *src, int64_t N, int width, const uint8_t *took, double *part)
{
    const int e = blockIdx.y * blockDim.x + threadIdx.x;
    const int64_t b = blockIdx.x; /* x: up to 2^31 - 1 agent blocks; y: the entries, up to 65,535 x 128 */
    if (e >= width)
        return;
    const int64_t i0 = b * PFR_AGENT_BLOCK, i1 = i0 + PFR_AGENT_BLOCK < N ? i0 + PFR_AGENT_BLOCK : N;
    double sum = 0.0;
    for (int64_t i = i0; i < i1; ++i)
        if (took[i])
            sum += (double)src[(size_t)i * width + e];
    part[(size_t)b * width + e] = sum;
}

__global__ void dqn_mean_kernel(const double *part, int64_t nb, int width, unsigned long long participants, float *dst)
{
    const int e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= width)
        return;
    double acc = 0.0;
    for (int64_t b = 0; b < nb; ++b)
        acc += part[(size_t)b * width + e];
    const double scale = 1.0 / (double)participants;
    dst[e] = (float)(acc * scale);
}

__global__ void dqn_broadcast_kernel(float *dst, const float *src, int64_t N, int width)
{
    const int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < N * width)
        dst[k] = src[k % width];
}

} // namespace

extern "C" size_t pfr_dqn_round_shared_bytes(const pfr_mlp *m, int batch, int H)
{
    return sizeof(float) * (size_t)dqn_layout(m, batch, H).total;
}

extern "C" cudaError_t pfr_cuda_launch_dqn_round(const pfr_dqn_round_args *a, cudaStream_t stream)
{
    const size_t bytes = pfr_dqn_round_shared_bytes(&a->m, a->c.batch, a->H);
    if (bytes > 48 * 1024) { /* past the default: ask for it (Hopper allows up to 227 KB a block) */
        const cudaError_t e = cudaFuncSetAttribute(dqn_round_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
        if (e != cudaSuccess)
            return e;
    }
    dqn_round_kernel<<<(unsigned)a->N, PFR_DQN_BLOCK_THREADS, bytes, stream>>>(*a);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_dqn_count(const uint8_t *took_part, int64_t N, unsigned long long *count,
                                                 cudaStream_t stream)
{
    const cudaError_t e = cudaMemsetAsync(count, 0, sizeof *count, stream);
    if (e != cudaSuccess)
        return e;
    dqn_count_kernel<<<(unsigned)((N + 255) / 256), 256, 0, stream>>>(took_part, N, count);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_dqn_mean(const float *src, int64_t N, int width, const uint8_t *took_part,
                                                unsigned long long participants, double *part, float *dst,
                                                cudaStream_t stream)
{
    const int64_t nb = (N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    const dim3 grid((unsigned)nb, (unsigned)((width + 127) / 128));
    dqn_block_sums_kernel<<<grid, 128, 0, stream>>>(src, N, width, took_part, part);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return e;
    dqn_mean_kernel<<<(unsigned)((width + 127) / 128), 128, 0, stream>>>(part, nb, width, participants, dst);
    return cudaGetLastError();
}

extern "C" cudaError_t pfr_cuda_launch_dqn_broadcast(float *dst, const float *src, int64_t N, int width,
                                                     cudaStream_t stream)
{
    const int64_t n = N * width;
    dqn_broadcast_kernel<<<(unsigned)((n + 255) / 256), 256, 0, stream>>>(dst, src, N, width);
    return cudaGetLastError();
}
