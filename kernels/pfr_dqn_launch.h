/*
 * pfr_dqn_launch.h — the neural instance's CUDA kernels (kernels/dqn_round.cu) and their launchers,
 * what host/cuda/neural_cuda.cu calls (issue 29). Device buffers are agent-major, shaped as the CPU
 * engine's (host/neural/neural.h): body-like [N, P], head-like [N, H], replay [N, C, O] / [N, C],
 * per-agent counters [N]. Each launcher returns the launch's cudaError_t, which the caller checks.
 */
#ifndef PFR_DQN_LAUNCH_H
#define PFR_DQN_LAUNCH_H

#include <cuda_runtime.h>
#include <stdint.h>

#include "pfr_dqn_agent.h"

/* Threads of the block that runs one agent's round: every phase of pfr_dqn_block.h has 1-2k items at
 * CartPole's sizes (4 -> 64 -> 16, batch 16), ~10 passes of 128 threads; 128 also covers a 64-unit
 * layer's one-sample forward in one pass. */
#define PFR_DQN_BLOCK_THREADS 128

/* One round's arguments: the shape, the learner, the round's place in the streams, the arrays. */
typedef struct pfr_dqn_round_args {
    pfr_mlp m;
    pfr_dqn_cfg c;
    pfr_dqn_rules r;
    int64_t N;
    int K, C, O, P, H;
    uint64_t seed, t0, part_threshold;
    int reset_optimizer;
    float *body, *body_tgt, *body_m, *body_v, *head, *head_tgt, *head_m, *head_v;
    float *obs, *next, *reward;
    uint8_t *action, *done, *took_part;
    int32_t *rb_size, *rb_head, *ep_t, *adam_t;
    int64_t *episode, *grad;
    double *state, *eps, *param, *loss_sum;
    int64_t *loss_n;
} pfr_dqn_round_args;

#ifdef __cplusplus
extern "C" {
#endif
/* Dynamic shared memory the round kernel needs a block (bytes). */
size_t pfr_dqn_round_shared_bytes(const pfr_mlp *m, int batch, int H);
/* Every agent's round: a block per agent (the sequence of pfr_dqn_agent.h, its gradient steps by
 * pfr_dqn_block.h); took_part [N] says who took part. */
cudaError_t pfr_cuda_launch_dqn_round(const pfr_dqn_round_args *a, cudaStream_t stream);
/* *count = the number of agents with took_part set (an integer sum: any order gives it). */
cudaError_t pfr_cuda_launch_dqn_count(const uint8_t *took_part, int64_t N, unsigned long long *count,
                                      cudaStream_t stream);
/* dst [width] = the mean over the agents that took part of src [N, width], in §3's order: per
 * 256-agent block in agent order in double from 0, the blocks in order, times 1 / participants,
 * rounded to float once (host/neural/neural.c's ordered_mean). part: [ceil(N / 256), width] doubles
 * of scratch, the blocks' sums. */
cudaError_t pfr_cuda_launch_dqn_mean(const float *src, int64_t N, int width, const uint8_t *took_part,
                                     unsigned long long participants, double *part, float *dst, cudaStream_t stream);
/* dst [N, width]: every agent's row = src [width] (those that sat out too). */
cudaError_t pfr_cuda_launch_dqn_broadcast(float *dst, const float *src, int64_t N, int width, cudaStream_t stream);
#ifdef __cplusplus
}
#endif

#endif
