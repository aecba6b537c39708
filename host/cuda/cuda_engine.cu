/*
 * cuda_engine.cu — the CUDA engine behind the engine interface of host/engine.h: the round on
 * the device (local steps, aggregation in the CPU engine's order, orthonormalization), the host
 * arrays refreshed on demand. One stream. Every CUDA call is checked.
 *
 * A round: the step sizes if they changed (pinned, asynchronous), then the sequence of
 * round_sequence.h (the same code the CPU tests drive with host operations) with device_ops below:
 * per chunk of agents the local steps (kernels/local_steps.cu), the sums of the agents' changes
 * (kernels/aggregate.cu, and for large S sort.cu's CUB steps); the mean applied to Phi (and theta);
 * Cholesky-QR (kernels/orthonormalize.cu). Phi and theta are the CPU engine's bits (DESIGN §3). With every
 * agent taking part nothing in a round waits for the device, so the host enqueues rounds ahead and
 * the ~10 launches of a round (a few us each) overlap the device's work; the host waits only to
 * evaluate (engine wait) or to read state. With cuda_graph the same work is captured once as a CUDA
 * graph (t0 and the round number then live on the device, advanced by the graph's last node) and
 * replayed each round: one launch instead of ~10. Off by default until a GPU measurement
 * (bench/gpu_check.sh, "stream vs graph") shows it pays.
 * tests/test_cuda.cc holds the GPU tests (they skip without a device); bench/gpu_check.sh runs them.
 */
#include <new>
#include <stdlib.h>
#include <string.h>

#include <nvtx3/nvToolsExt.h>

#include "kernels/pfr_cholqr.h"
#include "kernels/pfr_launch.h"
#include "cuda_check.h"
#include "cuda_engine.h"
#include "cuda_engine_state.h"
#include "cuda_plugin.h"
#include "neural/neural.h" /* sizeof(pfr_neural), which the plugin check compares */
#include "round_sequence.h"

namespace pfr_cuda {

pfr_status upload(pfr_sim *sim, void *dst, const void *src, size_t bytes)
{
    PFR_CUDA(sim, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, E(sim)->stream));
    return PFR_OK;
}

} // namespace pfr_cuda

namespace {

using namespace pfr_cuda;


void cuda_destroy(pfr_sim *sim)
{
    cuda_engine *e = E(sim);
    if (!e)
        return;
    /* best effort: a failing free during tear-down has nowhere to be reported */
    void *bufs[] = {e->row_ptr,   e->thr,       e->next,       e->reward,    e->phi,          e->agent_phi,
                    e->theta,     e->state,     e->alpha,      e->ov_rows,   e->ov_vals,      e->ov_count,
                    e->ov_slot,   e->took,      e->partial,    e->theta_partial, e->mean,     e->touched,
                    e->keys[0],   e->keys[1],   e->vals[0],    e->vals[1],   e->run_row,      e->run_start,
                    e->runs,      e->run_sum,   e->agent_scale, e->sparse_temp, e->Rdev,      e->gram_tiles,
                    e->gram,      e->fail,      e->block_count, e->mom,      e->vnorm2,       e->blk,
                    e->mu,        e->V,         e->ctr,        e->fsteps,    e->fage,         e->fhist,
                    e->fweight,   e->action};
    if (e->stream)
        (void)cudaStreamSynchronize(e->stream); /* nothing in flight reads what is freed next */
    if (e->graph)
        (void)cudaGraphExecDestroy(e->graph);
    for (void *p : bufs)
        if (p)
            (void)cudaFree(p);
    for (cudaEvent_t ev : e->sched_done)
        if (ev)
            (void)cudaEventDestroy(ev);
    if (e->sched_pinned)
        (void)cudaFreeHost(e->sched_pinned);
    free(e->sched_last);
    if (e->stream)
        (void)cudaStreamDestroy(e->stream);
    free(e->block_count_host);
    delete e;
    sim->engine_state = nullptr;
}


/* After the stream is idle: a failed device orthonormalization becomes the handle's error. */
pfr_status check_fail(pfr_sim *sim)
{
    cuda_engine *e = E(sim);
    unsigned long long failed = PFR_CUDA_NO_FAIL;
    PFR_CUDA(sim, cudaMemcpy(&failed, e->fail, sizeof failed, cudaMemcpyDeviceToHost));
    if (failed != PFR_CUDA_NO_FAIL)
        return pfr_sim_fail(sim, PFR_ERR_NUMERIC, "orthonormalization failed in round %llu: %s " PFR_LOST_RANK_WHY,
                            failed, sim->own_phi ? "an agent's Phi_i" : "Phi");
    return PFR_OK;
}

/* Every round handed over is done (the host loop calls this before evaluating). */
pfr_status cuda_wait(pfr_sim *sim)
{
    PFR_CUDA(sim, cudaStreamSynchronize(E(sim)->stream));
    return check_fail(sim);
}

pfr_status cuda_sync_host(pfr_sim *sim)
{
    cuda_engine *e = E(sim);
    if (!e->host_stale)
        return PFR_OK;
    const size_t S = (size_t)sim->S, d = (size_t)sim->d, N = (size_t)sim->N;
    PFR_CUDA(sim, cudaMemcpyAsync(sim->phi, e->phi, sizeof(float) * S * d, cudaMemcpyDeviceToHost, e->stream));
    PFR_CUDA(sim, cudaMemcpyAsync(sim->theta, e->theta, sizeof(float) * N * d, cudaMemcpyDeviceToHost, e->stream));
    PFR_CUDA(sim, cudaMemcpyAsync(sim->state, e->state, sizeof(uint32_t) * N, cudaMemcpyDeviceToHost, e->stream));
    if (sim->own_phi)
        PFR_CUDA(sim, cudaMemcpyAsync(sim->agent_phi, e->agent_phi, sizeof(float) * N * S * d, cudaMemcpyDeviceToHost,
                                      e->stream));
    if (e->action)
        PFR_CUDA(sim, cudaMemcpyAsync(sim->action, e->action, N, cudaMemcpyDeviceToHost, e->stream));
    PFR_CUDA(sim, cudaStreamSynchronize(e->stream));
    pfr_status st = check_fail(sim);
    if (st == PFR_OK)
        e->host_stale = 0;
    return st;
}

/* The caller changed the host arrays (pfr_sim_set_*; they were made current first): copy them over,
 * and wait, since the host may change them again as soon as this returns. */
pfr_status cuda_push_host(pfr_sim *sim)
{
    cuda_engine *e = E(sim);
    const pfr_status st = upload_state(sim);
    if (st != PFR_OK)
        return st;
    PFR_CUDA(sim, cudaStreamSynchronize(e->stream));
    e->host_stale = 0;
    return PFR_OK;
}

pfr_status cuda_pull_phi(pfr_sim *sim)
{
    cuda_engine *e = E(sim);
    if (!e->host_stale)
        return PFR_OK;
    PFR_CUDA(sim, cudaMemcpyAsync(sim->phi, e->phi, sizeof(float) * sim->S * sim->d, cudaMemcpyDeviceToHost, e->stream));
    if (sim->own_phi) { /* the first agent of each type, for the TD fixed-point metric */
        const size_t n = (size_t)(sim->N < sim->type_count ? sim->N : sim->type_count);
        PFR_CUDA(sim, cudaMemcpyAsync(sim->agent_phi, e->agent_phi, sizeof(float) * n * sim->S * sim->d,
                                      cudaMemcpyDeviceToHost, e->stream));
    }
    PFR_CUDA(sim, cudaStreamSynchronize(e->stream));
    return check_fail(sim); /* the rest of the state stays stale on the host */
}

/* The per-agent metric sums on the device; the moments go up, [nblocks, 3] doubles come back. */
pfr_status cuda_agent_metrics(pfr_sim *sim, const double *mom, double *blk)
{
    cuda_engine *e = E(sim);
    const int d = sim->d;
    if (sim->own_phi) {
        PFR_CUDA(sim, pfr_cuda_launch_metrics_own(e->agent_phi, e->theta, sim->N, sim->S, d, e->mu, e->V, e->vnorm2,
                                                  sim->type_first, sim->type_count, e->blk, e->stream));
    } else {
        pfr_status st = upload(sim, e->mom, mom, sizeof(double) * sim->M * (d * d + d));
        if (st != PFR_OK)
            return st;
        PFR_CUDA(sim, pfr_cuda_launch_metrics(e->theta, sim->N, d, e->mom, e->vnorm2, sim->type_first,
                                              sim->type_count, e->blk, e->stream));
    }
    PFR_CUDA(sim, cudaMemcpyAsync(blk, e->blk, sizeof(double) * 3 * e->nblocks, cudaMemcpyDeviceToHost, e->stream));
    PFR_CUDA(sim, cudaStreamSynchronize(e->stream));
    return PFR_OK;
}

/* alpha and beta of the round to the device, only when they changed (a constant schedule uploads
 * once). Staged through two pinned halves used in turn, so the copy is truly asynchronous and the
 * host never overwrites a half whose copy has not run yet. */
pfr_status upload_schedule(pfr_sim *sim, const pfr_round_plan *plan)
{
    cuda_engine *e = E(sim);
    const int K = plan->K;
    if (e->sched_valid && memcmp(e->sched_last, plan->alpha, sizeof(float) * K) == 0 &&
        memcmp(e->sched_last + K, plan->beta, sizeof(float) * K) == 0)
        return PFR_OK;
    e->sched_valid = 0;
    const int half = e->sched_next;
    e->sched_next ^= 1;
    PFR_CUDA(sim, cudaEventSynchronize(e->sched_done[half])); /* returns at once if never recorded */
    float *stage = e->sched_pinned + (size_t)half * 2 * K;
    memcpy(stage, plan->alpha, sizeof(float) * K);
    memcpy(stage + K, plan->beta, sizeof(float) * K);
    PFR_CUDA(sim, cudaMemcpyAsync(e->alpha, stage, sizeof(float) * 2 * K, cudaMemcpyHostToDevice, e->stream));
    PFR_CUDA(sim, cudaEventRecord(e->sched_done[half], e->stream));
    memcpy(e->sched_last, stage, sizeof(float) * 2 * K);
    e->sched_valid = 1;
    return PFR_OK;
}

/* NVTX ranges around the phases of a round, for Nsight Systems timelines. */
struct nvtx_range {
    explicit nvtx_range(const char *name) { nvtxRangePushA(name); }
    ~nvtx_range() { nvtxRangePop(); }
};

/* The device operations of the round's sequence (round_sequence.h): kernel launches and CUB calls
 * on the engine's stream, each checked. */
struct device_ops {
    pfr_sim *sim;
    cuda_engine *e;

    pfr_status local_steps(const pfr_round_args &a)
    {
        nvtx_range r("local steps");
        PFR_CUDA(sim, pfr_cuda_launch_local_steps(&a, e->kernel, e->stream));
        return PFR_OK;
    }
    pfr_status fold(const pfr_fold_args &f)
    {
        nvtx_range r("fold");
        PFR_CUDA(sim, pfr_cuda_launch_fold(&f, e->stream));
        return PFR_OK;
    }
    pfr_status fold_prep(const pfr_fold_args &f)
    {
        nvtx_range r("fold: entries");
        PFR_CUDA(sim, pfr_cuda_launch_fold_prep(&f, e->stream));
        return PFR_OK;
    }
    pfr_status sort(uint32_t *keys[2], uint32_t *vals[2], int64_t n, int bits, int *current)
    {
        nvtx_range r("fold: sort");
        PFR_CUDA(sim, pfr_cuda_sort_entries(e->sparse_temp, e->sparse_temp_bytes, keys, vals, n, bits, current, e->stream));
        return PFR_OK;
    }
    pfr_status select_runs(const uint32_t *keys, const uint32_t *vals, int64_t n, int S, int qbits, int *run_start,
                           int *runs)
    {
        PFR_CUDA(sim, pfr_cuda_select_runs(e->sparse_temp, e->sparse_temp_bytes, keys, vals, n, S, qbits, run_start, runs,
                                           e->stream));
        return PFR_OK;
    }
    pfr_status run_sums(const pfr_fold_args &f, const pfr_runs &p, const int *runs)
    {
        nvtx_range r("fold: runs");
        PFR_CUDA(sim, pfr_cuda_launch_run_sums(&f, &p, runs, e->stream));
        return PFR_OK;
    }
    pfr_status row_sums(const pfr_runs &p, const int *runs, int d)
    {
        PFR_CUDA(sim, pfr_cuda_launch_row_sums(&p, runs, d, e->stream));
        return PFR_OK;
    }
    pfr_status sum_blocks(const double *partial, int64_t cols, int64_t blocks, double *out, int accumulate)
    {
        nvtx_range r("sum over blocks");
        PFR_CUDA(sim, pfr_cuda_launch_colsum(partial, cols, blocks, out, accumulate, e->stream));
        return PFR_OK;
    }
    pfr_status count_participants(uint64_t *part)
    {
        PFR_CUDA(sim, cudaMemcpyAsync(e->block_count_host, e->block_count, sizeof(int) * e->nblocks,
                                      cudaMemcpyDeviceToHost, e->stream));
        PFR_CUDA(sim, cudaStreamSynchronize(e->stream));
        uint64_t n = 0;
        for (int64_t b = 0; b < e->nblocks; ++b)
            n += (uint64_t)e->block_count_host[b];
        *part = n;
        return PFR_OK;
    }
    pfr_status apply(float *phi, double *sums, uint8_t *touched, double scale, int S, int d)
    {
        PFR_CUDA(sim, pfr_cuda_launch_apply(phi, sums, touched, scale, S, d, e->stream));
        return PFR_OK;
    }
    pfr_status apply_noisy(float *phi, double *sums, uint8_t *touched, double scale, int S, int d, double noise_std,
                           uint64_t seed, int64_t round)
    {
        PFR_CUDA(sim, pfr_cuda_launch_apply_noisy(phi, sums, touched, scale, S, d, noise_std, seed, round, e->stream));
        return PFR_OK;
    }
    pfr_status broadcast_theta(float *theta, const double *sum, double scale, int64_t N, int d)
    {
        PFR_CUDA(sim, pfr_cuda_launch_broadcast_theta(theta, sum, scale, N, d, e->stream));
        return PFR_OK;
    }
    /* G = Phi^T Phi in pfr_gram's order: each tile's part, then the tiles in order */
    pfr_status gram(const float *phi, double *tiles, int S, int d, double *G)
    {
        nvtx_range r("orthonormalize");
        PFR_CUDA(sim, pfr_cuda_launch_gram_tiles(phi, S, d, tiles, e->stream));
        PFR_CUDA(sim, pfr_cuda_launch_colsum(tiles, (int64_t)d * d, pfr_gram_tiles(S), G, 0, e->stream));
        return PFR_OK;
    }
    pfr_status chol(double *G, int d, double c, double *R, uint64_t round, const uint64_t *round_dev)
    {
        PFR_CUDA(sim, pfr_cuda_launch_chol(G, d, c, R, e->fail, (unsigned long long)round,
                                           (const unsigned long long *)round_dev, e->stream));
        return PFR_OK;
    }
    pfr_status solve_rows(float *phi, const double *U, int S, int d, double c)
    {
        PFR_CUDA(sim, pfr_cuda_launch_solve_rows(phi, U, S, d, c, e->fail, e->stream));
        return PFR_OK;
    }
    pfr_status map_theta(float *theta, const double *R, int64_t N, int d)
    {
        PFR_CUDA(sim, pfr_cuda_launch_map_theta(theta, R, N, d, e->fail, e->stream));
        return PFR_OK;
    }
    /* the caller has checked that a kernel exists for d (pfr_cuda_agent_cholqr_supported) */
    pfr_status agent_cholqr(float *agent_phi, float *theta, int64_t N, int S, int d, uint64_t round,
                            const uint64_t *round_dev)
    {
        nvtx_range r("orthonormalize");
        PFR_CUDA(sim, pfr_cuda_launch_agent_cholqr(agent_phi, theta, N, S, d, e->fail, (unsigned long long)round,
                                                   (const unsigned long long *)round_dev, e->stream));
        return PFR_OK;
    }
};

/* The engine's buffers as the round's sequence sees them; `graph`: t0 and the round number are
 * read on the device (e->ctr). */
pfr_round_buffers round_buffers(pfr_sim *sim, int graph)
{
    cuda_engine *e = E(sim);
    pfr_round_buffers b;
    memset(&b, 0, sizeof b);
    b.row_ptr = e->row_ptr;
    b.thr = e->thr;
    b.next = e->next;
    b.reward = e->reward;
    b.alpha = e->alpha;
    b.beta = e->alpha + sim->K;
    b.phi = e->phi;
    b.agent_phi = e->agent_phi;
    b.theta = e->theta;
    b.state = e->state;
    b.ov_rows = e->ov_rows;
    b.ov_vals = e->ov_vals;
    b.ov_count = e->ov_count;
    b.ov_slot = e->ov_slot;
    b.took = e->took;
    b.partial = e->partial;
    b.theta_partial = e->theta_partial;
    b.block_count = e->block_count;
    b.sums = e->mean;
    b.touched = e->touched;
    for (int k = 0; k < 2; ++k) {
        b.keys[k] = e->keys[k];
        b.vals[k] = e->vals[k];
    }
    b.run_start = e->run_start;
    b.runs = e->runs;
    b.run_row = e->run_row;
    b.run_sum = e->run_sum;
    b.agent_scale = e->agent_scale;
    b.gram_tiles = e->gram_tiles;
    b.gram = e->gram;
    b.R = e->Rdev;
    b.ctr = graph ? e->ctr : nullptr;
    b.steps = e->fsteps;
    b.age = e->fage;
    b.hist = e->fhist;
    b.age_weight = e->fweight;
    b.action = e->action;
    return b;
}

/* local_rep with orthonormalization at a d without a device kernel: every Phi_i through the host. */
pfr_status orthonormalize_agents_on_host(pfr_sim *sim, int64_t round)
{
    cuda_engine *e = E(sim);
    const size_t sd = (size_t)sim->S * sim->d;
    pfr_status st = cuda_sync_host(sim);
    if (st != PFR_OK)
        return st;
    for (int64_t i = 0; i < sim->N; ++i)
        if (pfr_orthonormalize_host(sim->agent_phi + (size_t)i * sd, sim->S, sim->d, sim->theta + (size_t)i * sim->d, 1,
                                    1) != PFR_OK)
            return pfr_sim_fail(sim, PFR_ERR_NUMERIC, "orthonormalization failed in round %lld: an agent's Phi_i "
                                PFR_LOST_RANK_WHY, (long long)round);
    st = upload(sim, e->agent_phi, sim->agent_phi, sizeof(float) * sd * sim->N);
    if (st == PFR_OK)
        st = upload(sim, e->theta, sim->theta, sizeof(float) * sim->d * sim->N);
    if (st == PFR_OK)
        PFR_CUDA(sim, cudaStreamSynchronize(e->stream)); /* the host arrays stay in use */
    return st;
}

/* Graph mode: the round's device work captured once, replayed every round. It reads t0 and the
 * round number from e->ctr and advances them itself, so one graph serves every round; the step
 * sizes are copied into their device buffer before each launch, outside the graph. */
pfr_status launch_round_graph(pfr_sim *sim, const pfr_round_plan *plan)
{
    cuda_engine *e = E(sim);
    if (!e->graph) {
        /* relaxed: should a library call need a helper call during capture, it runs eagerly instead of failing it */
        PFR_CUDA(sim, cudaStreamBeginCapture(e->stream, cudaStreamCaptureModeRelaxed));
        device_ops ops{sim, e};
        const pfr_round_buffers b = round_buffers(sim, 1);
        pfr_status st = pfr_round_steps_and_fold(ops, sim, plan, e->R, e->chunk, b);
        if (st == PFR_OK) /* graph mode runs only when everybody takes part */
            st = pfr_round_apply_and_orthonormalize(ops, sim, plan, (uint64_t)sim->N, e->orthonormalize, b);
        if (st == PFR_OK) {
            cudaError_t ce = pfr_cuda_launch_advance(e->ctr, (uint64_t)plan->K, e->stream);
            if (ce != cudaSuccess)
                st = pfr_sim_fail(sim, PFR_ERR_CUDA, "pfr_cuda_launch_advance failed at %s:%d: %s", __FILE__, __LINE__,
                                  cudaGetErrorString(ce));
        }
        cudaGraph_t g = nullptr;
        const cudaError_t ce = cudaStreamEndCapture(e->stream, &g); /* always: the stream leaves capture */
        if (st == PFR_OK && ce != cudaSuccess)
            st = pfr_sim_fail(sim, PFR_ERR_CUDA, "cudaStreamEndCapture failed at %s:%d: %s", __FILE__, __LINE__,
                              cudaGetErrorString(ce));
        if (st == PFR_OK) {
            const cudaError_t ie = cudaGraphInstantiate(&e->graph, g, 0);
            if (ie != cudaSuccess) {
                e->graph = nullptr;
                st = pfr_sim_fail(sim, PFR_ERR_CUDA, "cudaGraphInstantiate failed at %s:%d: %s", __FILE__, __LINE__,
                                  cudaGetErrorString(ie));
            }
        }
        if (g)
            (void)cudaGraphDestroy(g);
        if (st != PFR_OK)
            return st;
        e->ctr_valid = 0;
    }
    if (!e->ctr_valid || e->ctr_host[0] != plan->t0 || e->ctr_host[1] != (uint64_t)plan->round) {
        e->ctr_host[0] = plan->t0;
        e->ctr_host[1] = (uint64_t)plan->round;
        /* once per run (or after the host's round count jumped): wait for the copy, since ctr_host
         * changes right after the launch below */
        PFR_CUDA(sim, cudaMemcpyAsync(e->ctr, e->ctr_host, sizeof e->ctr_host, cudaMemcpyHostToDevice, e->stream));
        PFR_CUDA(sim, cudaStreamSynchronize(e->stream));
        e->ctr_valid = 1;
    }
    PFR_CUDA(sim, cudaGraphLaunch(e->graph, e->stream));
    e->ctr_host[0] += (uint64_t)plan->K; /* what the graph's last kernel leaves on the device */
    e->ctr_host[1] += 1;
    return PFR_OK;
}

pfr_status cuda_round(pfr_sim *sim, const pfr_round_plan *plan, uint64_t *participants)
{
    nvtx_range r("pfedrl round");
    cuda_engine *e = E(sim);
    e->host_stale = 1;
    pfr_status st = upload_schedule(sim, plan);
    if (st != PFR_OK)
        return st;
    const int everybody = plan->part_threshold >= (1ull << 32);
    const int host_orth = e->orthonormalize && sim->own_phi && !pfr_cuda_agent_cholqr_supported(sim->d);
    /* federation: this round's steps and ages up (the host rewrites its arrays next round: a pageable
     * copy is staged before cudaMemcpyAsync returns), and the Phi it starts from into the history */
    if (plan->steps && (st = upload(sim, e->fsteps, plan->steps, sizeof(uint32_t) * (size_t)sim->N)) != PFR_OK)
        return st;
    if (plan->age && (st = upload(sim, e->fage, plan->age, (size_t)sim->N)) != PFR_OK)
        return st;
    if (plan->base) {
        const size_t sd = (size_t)sim->S * sim->d;
        PFR_CUDA(sim, cudaMemcpyAsync(e->fhist + (size_t)(plan->round % sim->fed_slots) * sd, e->phi,
                                      sizeof(float) * sd, cudaMemcpyDeviceToDevice, e->stream));
    }
    const int federated = sim->fed != nullptr || sim->control; /* per-round uploads or exploration: no graph */
    if (sim->cfg.cuda_graph && everybody && !host_orth && !federated) {
        *participants = (uint64_t)sim->N;
        return launch_round_graph(sim, plan);
    }
    /* With everybody taking part the count is known and the host runs ahead of the device; with
     * partial participation it is read back (a wait per round). local_rep at a d without a device
     * Cholesky-QR kernel: the mean applied on the device, then every Phi_i through the host. */
    device_ops ops{sim, e};
    st = pfr_round_run(ops, sim, plan, e->R, e->chunk, e->orthonormalize && !host_orth, round_buffers(sim, 0),
                       participants);
    if (st == PFR_OK && host_orth)
        st = orthonormalize_agents_on_host(sim, plan->round);
    return st;
}

/* The last orthonormalization's R (Rdev holds it until the next one). */
pfr_status cuda_last_map(pfr_sim *sim, double *R)
{
    cuda_engine *e = E(sim);
    PFR_CUDA(sim, cudaMemcpyAsync(R, e->Rdev, sizeof(double) * (size_t)sim->d * (size_t)sim->d, cudaMemcpyDeviceToHost,
                                  e->stream));
    PFR_CUDA(sim, cudaStreamSynchronize(e->stream));
    return PFR_OK;
}

const pfr_engine_vtbl CUDA_ENGINE = {"cuda",         cuda_round, cuda_sync_host, cuda_pull_phi, cuda_agent_metrics,
                                     cuda_push_host, cuda_wait,  cuda_destroy,   cuda_last_map};

} // namespace

extern "C" int pfr_cuda_device_count(void)
{
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

extern "C" pfr_status pfr_engine_cuda_init(pfr_sim *sim, pfr_error *err)
{
    if (pfr_cuda_device_count() <= 0)
        return pfr_fail(err, PFR_ERR_NO_DEVICE, "backend=cuda: no CUDA device is present (or no driver); allowed here: "
                                                "backend=cpu or auto");
    sim->engine = &CUDA_ENGINE;
    sim->engine_state = new (std::nothrow) cuda_engine();
    if (!sim->engine_state)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    pfr_status st = cuda_init(sim);
    if (st != PFR_OK) {
        pfr_fail(err, st, "%s", sim->errmsg);
        cuda_destroy(sim);
        sim->engine = nullptr;
    }
    return st;
}

/* The plugin's entry point (cuda_plugin.h): the only symbol libpfedrl_cuda.so exports. */
extern "C" __attribute__((visibility("default"))) const pfr_cuda_plugin *pfr_cuda_plugin_get(void)
{
    static const pfr_cuda_plugin plugin = {
        PFR_VERSION_STRING,
        sizeof(pfr_sim), sizeof(pfr_config), sizeof(pfr_env), sizeof(pfr_neural), pfr_engine_cuda_init,
        pfr_neural_cuda_init, pfr_cuda_device_count, pfr_cuda_describe};
    return &plugin;
}
