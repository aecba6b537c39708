/*
 * cuda_engine_state.h — the CUDA engine's state, shared by its two parts: cuda_engine.cu (the round,
 * the host arrays, the engine interface) and cuda_setup.cu (allocation and the first upload, by the
 * memory plan of cuda_plan.c). C++ for nvcc; not part of the library's interface.
 */
#ifndef PFR_CUDA_ENGINE_STATE_H
#define PFR_CUDA_ENGINE_STATE_H

#include <cuda_runtime.h>

#include "engine.h"

namespace pfr_cuda {

struct cuda_engine {
    cudaStream_t stream = nullptr;
    int64_t nblocks = 0;  /* agent blocks in all */
    int64_t chunk = 0;    /* agents per chunk: a multiple of PFR_AGENT_BLOCK (all agents when they fit) */
    int R = 0;
    pfr_cuda_kernel kernel = PFR_CUDA_KERNEL_THREAD; /* the local-step variant in use */
    int orthonormalize = 0;                          /* Phi (or each Phi_i) is orthonormalized each round */
    /* graph mode (cuda_graph): the captured round, and {t0, round} on the device with its host mirror */
    cudaGraphExec_t graph = nullptr;
    uint64_t *ctr = nullptr;
    uint64_t ctr_host[2] = {0, 0};
    int ctr_valid = 0;
    int host_stale = 0; /* the device holds newer state than the host arrays */
    /* the chains */
    uint32_t *row_ptr = nullptr, *thr = nullptr, *next = nullptr;
    float *reward = nullptr;
    /* agent state; shapes as in pfr_round_args */
    float *phi = nullptr, *agent_phi = nullptr, *theta = nullptr;
    uint32_t *state = nullptr;
    float *alpha = nullptr;            /* [2K]: alpha_{t0+k}, then beta_{t0+k} */
    float *sched_pinned = nullptr;     /* [2, 2K] pinned staging, used in turn */
    cudaEvent_t sched_done[2] = {nullptr, nullptr}; /* the copy out of each staging half is done */
    int sched_next = 0;
    float *sched_last = nullptr;       /* [2K] host: what the device holds now */
    int sched_valid = 0;
    uint32_t *ov_rows = nullptr;
    float *ov_vals = nullptr;
    int *ov_count = nullptr;
    uint8_t *ov_slot = nullptr;
    unsigned char *took = nullptr;
    /* aggregation (pfr_fold.h): the round's sums [S d + d] and marked rows [S], zero between rounds;
     * dense: the chunk's block partials; sparse: its entries, runs and factors, CUB's storage */
    double *partial = nullptr, *theta_partial = nullptr, *mean = nullptr, *Rdev = nullptr;
    uint8_t *touched = nullptr;
    uint32_t *keys[2] = {nullptr, nullptr}, *vals[2] = {nullptr, nullptr}, *run_row = nullptr;
    int *run_start = nullptr, *runs = nullptr;
    double *run_sum = nullptr, *agent_scale = nullptr;
    void *sparse_temp = nullptr;
    size_t sparse_temp_bytes = 0;
    /* orthonormalization: Gram tiles [tiles, d, d], gram [d, d], fail = first failed round or PFR_CUDA_NO_FAIL */
    double *gram_tiles = nullptr, *gram = nullptr;
    unsigned long long *fail = nullptr;
    int *block_count = nullptr;
    int *block_count_host = nullptr;
    /* metrics */
    double *mom = nullptr, *vnorm2 = nullptr, *blk = nullptr;
    double *mu = nullptr, *V = nullptr; /* [M, S], local_rep only */
    /* federation (host/sim/federation.c draws; the plan carries them): steps and ages [N] uploaded each
     * round, the history of Phi [H + 1, S, d] kept here (slot r mod (H + 1) copied from Phi at the
     * start of round r, as the host keeps its own for checkpoints), the age weights [H + 1] */
    uint32_t *fsteps = nullptr;
    uint8_t *fage = nullptr;
    float *fhist = nullptr;
    double *fweight = nullptr;
    uint8_t *action = nullptr; /* [N] control=sarsa: each agent's next action */
};

inline cuda_engine *E(pfr_sim *sim) { return static_cast<cuda_engine *>(sim->engine_state); }

/* An asynchronous host-to-device copy on the engine's stream, checked (cuda_engine.cu). */
pfr_status upload(pfr_sim *sim, void *dst, const void *src, size_t bytes);

/* Allocate every device buffer by the memory plan and upload the chains and the initial state
 * (cuda_setup.cu); the handle's message says what failed. */
pfr_status cuda_init(pfr_sim *sim);

/* The agents' state from the host (asynchronous, on the engine's stream): Phi, theta, the states,
 * each Phi_i (local_rep), SARSA's actions, the federation's Phi history. At set-up and when the
 * host's copy changed (a loaded checkpoint). */
pfr_status upload_state(pfr_sim *sim);

} // namespace pfr_cuda

#endif
