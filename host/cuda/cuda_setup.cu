/*
 * cuda_setup.cu — the CUDA engine's start: every device buffer allocated by the memory plan
 * (cuda_plan.c, a pure function the CPU tests check), CUB's temporary storage among them (no
 * allocation inside a graph capture), and the chains and the initial state uploaded. Every CUDA
 * call is checked.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/pfr_cholqr.h"
#include "kernels/pfr_launch.h"
#include "cuda_check.h"
#include "cuda_engine.h"
#include "cuda_engine_state.h"

namespace pfr_cuda {

template <typename T> pfr_status dalloc(pfr_sim *sim, T **p, size_t count)
{
    PFR_CUDA(sim, cudaMalloc((void **)p, sizeof(T) * (count ? count : 1)));
    return PFR_OK;
}

pfr_status upload_state(pfr_sim *sim)
{
    cuda_engine *e = E(sim);
    const size_t S = (size_t)sim->S, d = (size_t)sim->d, N = (size_t)sim->N;
    pfr_status st = upload(sim, e->phi, sim->phi, sizeof(float) * S * d);
    if (st == PFR_OK)
        st = upload(sim, e->theta, sim->theta, sizeof(float) * N * d);
    if (st == PFR_OK)
        st = upload(sim, e->state, sim->state, sizeof(uint32_t) * N);
    if (st == PFR_OK && sim->own_phi)
        st = upload(sim, e->agent_phi, sim->agent_phi, sizeof(float) * N * S * d);
    if (st == PFR_OK && e->action)
        st = upload(sim, e->action, sim->action, N);
    if (st == PFR_OK && e->fhist) /* the federation's history of Phi (a loaded checkpoint's too) */
        st = upload(sim, e->fhist, sim->fed_hist, sizeof(float) * S * d * (size_t)sim->fed_slots);
    return st;
}

pfr_status cuda_init(pfr_sim *sim)
{
    cuda_engine *e = E(sim);
    const pfr_env *env = sim->env;
    const size_t S = (size_t)sim->S, d = (size_t)sim->d, N = (size_t)sim->N, K = (size_t)sim->K;
    const size_t M = (size_t)sim->M, nnz = (size_t)env->nnz;
    size_t free_b = 0, total_b = 0;
    PFR_CUDA(sim, cudaMemGetInfo(&free_b, &total_b));
    pfr_cuda_plan plan;
    pfr_status pst = pfr_cuda_plan_memory(sim, free_b, total_b, &plan);
    if (pst != PFR_OK)
        return pst;
    e->nblocks = plan.nblocks;
    e->R = plan.R;
    e->chunk = plan.chunk;
    const int overlay = plan.overlay, slots = plan.slots;
    const int64_t chunk_blocks = plan.chunk_blocks;
    e->kernel = pfr_cuda_pick_kernel(sim->cfg.cuda_kernel, (int)d);
    e->orthonormalize = sim->cfg.orthonormalize && sim->learn_phi;

    PFR_CUDA(sim, cudaStreamCreateWithFlags(&e->stream, cudaStreamNonBlocking));
    pfr_status st;
#define ALLOC(ptr, count)                                                                             \
    if ((st = dalloc(sim, &(ptr), (count))) != PFR_OK)                                               \
    return st
    ALLOC(e->row_ptr, M * (S + 1));
    ALLOC(e->thr, nnz);
    ALLOC(e->next, nnz);
    ALLOC(e->reward, nnz);
    ALLOC(e->phi, S * d);
    ALLOC(e->theta, N * d);
    ALLOC(e->state, N);
    ALLOC(e->alpha, 2 * K);
    ALLOC(e->gram_tiles, (size_t)pfr_gram_tiles((int)S) * d * d);
    ALLOC(e->gram, d * d);
    ALLOC(e->fail, 1);
    ALLOC(e->ctr, 2);
    PFR_CUDA(sim, cudaMemsetAsync(e->fail, 0xFF, sizeof(unsigned long long), e->stream)); /* PFR_CUDA_NO_FAIL */
    PFR_CUDA(sim, cudaMallocHost((void **)&e->sched_pinned, sizeof(float) * 4 * K));
    for (cudaEvent_t &ev : e->sched_done)
        PFR_CUDA(sim, cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    ALLOC(e->took, N);
    ALLOC(e->block_count, (size_t)e->nblocks);
    ALLOC(e->theta_partial, (size_t)chunk_blocks * d);
    ALLOC(e->mean, S * d + d);
    ALLOC(e->touched, S);
    PFR_CUDA(sim, cudaMemsetAsync(e->mean, 0, sizeof(double) * (S * d + d), e->stream)); /* zero between rounds */
    PFR_CUDA(sim, cudaMemsetAsync(e->touched, 0, S, e->stream));
    ALLOC(e->Rdev, d * d);
    ALLOC(e->mom, M * (d * d + d));
    ALLOC(e->vnorm2, M);
    ALLOC(e->blk, 3 * (size_t)e->nblocks);
    if (sim->own_phi) {
        ALLOC(e->agent_phi, N * S * d);
        ALLOC(e->mu, M * S);
        ALLOC(e->V, M * S);
    }
    if (overlay) {
        ALLOC(e->ov_rows, (size_t)e->chunk * e->R);
        ALLOC(e->ov_vals, (size_t)e->chunk * e->R * d);
        ALLOC(e->ov_count, (size_t)e->chunk);
    }
    if (slots) {
        ALLOC(e->ov_slot, (size_t)e->chunk * S);
        PFR_CUDA(sim, cudaMemsetAsync(e->ov_slot, 0xFF, (size_t)e->chunk * S, e->stream)); /* agents keep it so */
    }
    if (sim->avg_phi && !plan.sparse)
        ALLOC(e->partial, (size_t)chunk_blocks * S * d);
    if (sim->avg_phi && plan.sparse) { /* the sparse sums: a chunk's entries, runs, factors, CUB's storage */
        const size_t n = (size_t)e->chunk * e->R;
        for (int k = 0; k < 2; ++k) {
            ALLOC(e->keys[k], n);
            ALLOC(e->vals[k], n);
        }
        ALLOC(e->run_row, n);
        ALLOC(e->run_start, n);
        ALLOC(e->runs, 1);
        ALLOC(e->run_sum, n * d);
        ALLOC(e->agent_scale, (size_t)e->chunk);
        PFR_CUDA(sim, pfr_cuda_sparse_temp_bytes((int64_t)n, &e->sparse_temp_bytes));
        PFR_CUDA(sim, cudaMalloc(&e->sparse_temp, e->sparse_temp_bytes));
    }
    if (sim->fed_per_agent) {
        ALLOC(e->fsteps, N);
        ALLOC(e->fage, N);
    }
    if (sim->action)
        ALLOC(e->action, N);
    if (sim->fed_slots > 0) {
        ALLOC(e->fhist, (size_t)sim->fed_slots * S * d);
        ALLOC(e->fweight, (size_t)sim->fed_slots);
    }
#undef ALLOC
    e->block_count_host = (int *)malloc(sizeof(int) * (size_t)e->nblocks);
    e->sched_last = (float *)malloc(sizeof(float) * 2 * K);
    uint32_t *rp32 = (uint32_t *)malloc(sizeof(uint32_t) * M * (S + 1));
    if (!e->block_count_host || !e->sched_last || !rp32) {
        free(rp32);
        return pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of host memory");
    }
    for (size_t r = 0; r < M * (S + 1); ++r)
        rp32[r] = (uint32_t)env->row_ptr[r];
    st = upload(sim, e->row_ptr, rp32, sizeof(uint32_t) * M * (S + 1));
    if (st == PFR_OK)
        st = upload(sim, e->thr, env->thr, sizeof(uint32_t) * nnz);
    if (st == PFR_OK)
        st = upload(sim, e->next, env->next, sizeof(uint32_t) * nnz);
    if (st == PFR_OK)
        st = upload(sim, e->reward, env->reward, sizeof(float) * nnz);
    if (st == PFR_OK)
        st = upload_state(sim);
    if (st == PFR_OK && sim->own_phi)
        st = upload(sim, e->mu, sim->truth.mu, sizeof(double) * M * S);
    if (st == PFR_OK && sim->own_phi)
        st = upload(sim, e->V, sim->truth.V, sizeof(double) * M * S);
    if (st == PFR_OK)
        st = upload(sim, e->vnorm2, sim->truth.vnorm2, sizeof(double) * M);
    if (st == PFR_OK && e->fweight)
        st = upload(sim, e->fweight, sim->fed_weight, sizeof(double) * (size_t)sim->fed_slots);
    if (st == PFR_OK) {
        cudaError_t ce = cudaStreamSynchronize(e->stream); /* the host buffers above are freed next */
        if (ce != cudaSuccess)
            st = pfr_sim_fail(sim, PFR_ERR_CUDA, "cudaStreamSynchronize failed at %s:%d: %s", __FILE__, __LINE__,
                              cudaGetErrorString(ce));
    }
    free(rp32);
    return st;
}

} // namespace pfr_cuda
