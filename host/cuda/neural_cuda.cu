/*
 * neural_cuda.cu — the neural instance on the device (issue 29; backend=cuda with env.kind cartpole
 * or acrobot): the CPU engine's state (host/neural/) set up as usual, mirrored on the device, where
 * the rounds run (kernels/dqn_round.cu); the host copy is refreshed when the host reads it
 * (evaluation, checkpoints, pfr_sim_get_body) and sent back when the host changed it (a resume).
 *
 * The contract (DESIGN §14): the device runs the CPU engine's sequence (kernels/pfr_dqn_agent.h)
 * with the same words of the same streams, environments whose sin and cos are the same bits
 * (kernels/pfr_libm.h), gradient steps that keep the reference's order of every add
 * (kernels/pfr_dqn_block.h), and the server's mean in §3's order: so every array is the CPU engine's
 * bits, round after round. The build compiles without FMA contraction (--fmad=false) for that.
 * tests/test_cuda.cc's CudaNeural tests compare them (they skip without a device).
 *
 * What crosses the bus: nothing during a round but the participants' count (8 bytes, for the
 * mean's 1 / participants); every array of the state, both ways, when the host reads or writes it.
 */
#include <new>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "cuda_engine.h"
#include "kernels/pfr_dqn_launch.h"
#include "neural/neural.h"

namespace {

/* One array of the state on both sides: the checkpoint's list (pfr_neural_arrays) and the few the
 * round needs besides. */
struct mirrored {
    uint32_t tag;
    void *host, *dev;
    uint64_t bytes;
};

constexpr int MAX_ARRAYS = 40;

struct neural_dev {
    cudaStream_t stream = nullptr;
    mirrored arr[MAX_ARRAYS] = {};
    int n = 0;
    int host_stale = 0; /* the device holds newer state than the host */
    float *shared_mv = nullptr; /* the server's mean moments [2 P + 2 H] */
    double *part = nullptr;     /* the mean's block sums [ceil(N / 256), max(P, H)] */
    unsigned long long *count = nullptr, *count_host = nullptr;
    const pfr_engine_vtbl *host_engine = nullptr; /* the CPU engine's, whose destroy frees the host state */
};

neural_dev *ND(pfr_sim *sim) { return static_cast<neural_dev *>(sim->engine_state); }

constexpr uint32_t tag4(const char *s)
{
    return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
}

/* The device copy of the array with this tag (one the list holds). */
template <class T> T *dev(neural_dev *d, const char *tag)
{
    for (int k = 0; k < d->n; ++k)
        if (d->arr[k].tag == tag4(tag))
            return static_cast<T *>(d->arr[k].dev);
    return nullptr;
}

int add_array(void *ctx, uint32_t tag, void *data, uint64_t bytes)
{
    neural_dev *d = static_cast<neural_dev *>(ctx);
    if (tag == tag4("NLMK")) /* the host's own bookkeeping of the loss between evaluations */
        return 0;
    if (d->n == MAX_ARRAYS)
        return -1;
    d->arr[d->n++] = {tag, data, nullptr, bytes};
    return 0;
}

pfr_status copy_all(pfr_sim *sim, cudaMemcpyKind kind)
{
    neural_dev *d = ND(sim);
    for (int k = 0; k < d->n; ++k) {
        const mirrored &a = d->arr[k];
        if (kind == cudaMemcpyHostToDevice)
            PFR_CUDA(sim, cudaMemcpyAsync(a.dev, a.host, a.bytes, kind, d->stream));
        else
            PFR_CUDA(sim, cudaMemcpyAsync(a.host, a.dev, a.bytes, kind, d->stream));
    }
    PFR_CUDA(sim, cudaStreamSynchronize(d->stream));
    return PFR_OK;
}

pfr_status neural_sync_host(pfr_sim *sim)
{
    neural_dev *d = ND(sim);
    if (!d->host_stale)
        return PFR_OK;
    const pfr_status st = copy_all(sim, cudaMemcpyDeviceToHost);
    if (st == PFR_OK)
        d->host_stale = 0;
    return st;
}

pfr_status neural_push_host(pfr_sim *sim)
{
    ND(sim)->host_stale = 0;
    return copy_all(sim, cudaMemcpyHostToDevice);
}

pfr_status neural_nothing(pfr_sim *sim)
{
    (void)sim;
    return PFR_OK;
}

/* The server's mean of src [N, width] into dst [width], then every agent's row set to it. */
pfr_status mean_and_send(pfr_sim *sim, float *src, int width, const uint8_t *took, unsigned long long n, float *dst)
{
    neural_dev *d = ND(sim);
    PFR_CUDA(sim, pfr_cuda_launch_dqn_mean(src, sim->N, width, took, n, d->part, dst, d->stream));
    PFR_CUDA(sim, pfr_cuda_launch_dqn_broadcast(src, dst, sim->N, width, d->stream));
    return PFR_OK;
}

pfr_status neural_round(pfr_sim *sim, const pfr_round_plan *plan, uint64_t *participants)
{
    neural_dev *d = ND(sim);
    const pfr_neural *nn = sim->neural;
    pfr_dqn_round_args a;
    memset(&a, 0, sizeof a);
    a.m = nn->m, a.c = nn->dc, a.r = nn->rules;
    a.N = sim->N, a.K = plan->K, a.C = nn->C, a.O = nn->O, a.P = nn->P, a.H = nn->H;
    a.seed = sim->cfg.seed, a.t0 = plan->t0, a.part_threshold = plan->part_threshold;
    a.reset_optimizer = nn->reset_optimizer;
    a.body = dev<float>(d, "NBOD"), a.body_tgt = dev<float>(d, "NBTG"), a.body_m = dev<float>(d, "NBAM");
    a.body_v = dev<float>(d, "NBAV"), a.head = dev<float>(d, "NHED"), a.head_tgt = dev<float>(d, "NHTG");
    a.head_m = dev<float>(d, "NHAM"), a.head_v = dev<float>(d, "NHAV");
    a.obs = dev<float>(d, "NROB"), a.next = dev<float>(d, "NRNX"), a.reward = dev<float>(d, "NRRW");
    a.action = dev<uint8_t>(d, "NRAC"), a.done = dev<uint8_t>(d, "NRDN"), a.took_part = dev<uint8_t>(d, "PART");
    a.rb_size = dev<int32_t>(d, "NRSZ"), a.rb_head = dev<int32_t>(d, "NRHD"), a.ep_t = dev<int32_t>(d, "NEPT");
    a.adam_t = dev<int32_t>(d, "NADT"), a.episode = dev<int64_t>(d, "NEPI"), a.grad = dev<int64_t>(d, "NGRD");
    a.state = dev<double>(d, "NSTA"), a.eps = dev<double>(d, "NEPS"), a.param = dev<double>(d, "PARM");
    a.loss_sum = dev<double>(d, "NLSS"), a.loss_n = dev<int64_t>(d, "NLSN");
    d->host_stale = 1;
    PFR_CUDA(sim, pfr_cuda_launch_dqn_round(&a, d->stream));
    PFR_CUDA(sim, pfr_cuda_launch_dqn_count(a.took_part, sim->N, d->count, d->stream));
    PFR_CUDA(sim, cudaMemcpyAsync(d->count_host, d->count, sizeof *d->count, cudaMemcpyDeviceToHost, d->stream));
    PFR_CUDA(sim, cudaStreamSynchronize(d->stream));
    const unsigned long long n = *d->count_host;
    *participants = n;
    if (n == 0)
        return PFR_OK;
    const int P = nn->P, H = nn->H, moments = nn->average_moments;
    pfr_status st = PFR_OK;
    if (sim->avg_phi)
        st = mean_and_send(sim, a.body, P, a.took_part, n, dev<float>(d, "NSHB"));
    if (st == PFR_OK && sim->avg_theta)
        st = mean_and_send(sim, a.head, H, a.took_part, n, dev<float>(d, "NSHH"));
    if (st == PFR_OK && sim->avg_phi && moments)
        st = mean_and_send(sim, a.body_m, P, a.took_part, n, d->shared_mv);
    if (st == PFR_OK && sim->avg_phi && moments)
        st = mean_and_send(sim, a.body_v, P, a.took_part, n, d->shared_mv + P);
    if (st == PFR_OK && sim->avg_theta && moments)
        st = mean_and_send(sim, a.head_m, H, a.took_part, n, d->shared_mv + 2 * P);
    if (st == PFR_OK && sim->avg_theta && moments)
        st = mean_and_send(sim, a.head_v, H, a.took_part, n, d->shared_mv + 2 * P + H);
    return st;
}

void neural_destroy(pfr_sim *sim)
{
    neural_dev *d = ND(sim);
    if (d) { /* best effort: a failing free during tear-down has nowhere to be reported */
        for (int k = 0; k < d->n; ++k)
            cudaFree(d->arr[k].dev);
        cudaFree(d->shared_mv);
        cudaFree(d->part);
        cudaFree(d->count);
        cudaFreeHost(d->count_host);
        if (d->stream)
            cudaStreamDestroy(d->stream);
        if (d->host_engine && d->host_engine->destroy)
            d->host_engine->destroy(sim);
        delete d;
    }
    sim->engine_state = nullptr;
}

const pfr_engine_vtbl NEURAL_CUDA_ENGINE = {
    "cuda", neural_round, neural_sync_host, neural_nothing, nullptr, neural_push_host, nullptr, neural_destroy, nullptr,
};

pfr_status allocate(pfr_sim *sim, neural_dev *d)
{
    pfr_neural *nn = sim->neural;
    if (pfr_neural_arrays(nn, sim->N, add_array, d) != 0 || d->n + 2 > MAX_ARRAYS)
        return pfr_sim_fail(sim, PFR_ERR_INTERNAL, "the neural state has more arrays than the device mirror holds");
    d->arr[d->n++] = {tag4("PART"), nn->took_part, nullptr, (uint64_t)sim->N};
    d->arr[d->n++] = {tag4("PARM"), nn->param, nullptr, 8 * (uint64_t)sim->N};
    const uint64_t nb = ((uint64_t)sim->N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    const uint64_t widest = (uint64_t)(nn->P > nn->H ? nn->P : nn->H), part_bytes = 8 * nb * widest;
    uint64_t need = 8ull * (2 * (uint64_t)nn->P + 2 * (uint64_t)nn->H) + part_bytes;
    for (int k = 0; k < d->n; ++k)
        need += d->arr[k].bytes;
    size_t free_b = 0, total_b = 0;
    PFR_CUDA(sim, cudaMemGetInfo(&free_b, &total_b));
    if (need > free_b)
        return pfr_sim_fail(sim, PFR_ERR_DEVICE_MEMORY, "%lld agents' networks and replay buffers need %.2f GB on the "
                            "device, %.2f GB is free; allowed: fewer agents, a smaller dqn.buffer or a smaller network",
                            (long long)sim->N, (double)need / 1e9, (double)free_b / 1e9);
    PFR_CUDA(sim, cudaStreamCreateWithFlags(&d->stream, cudaStreamNonBlocking));
    for (int k = 0; k < d->n; ++k)
        PFR_CUDA(sim, cudaMalloc(&d->arr[k].dev, d->arr[k].bytes));
    PFR_CUDA(sim, cudaMalloc((void **)&d->shared_mv, 4 * (2 * (size_t)nn->P + 2 * (size_t)nn->H)));
    PFR_CUDA(sim, cudaMalloc((void **)&d->part, part_bytes));
    PFR_CUDA(sim, cudaMalloc((void **)&d->count, sizeof *d->count));
    PFR_CUDA(sim, cudaMallocHost((void **)&d->count_host, sizeof *d->count_host));
    return PFR_OK;
}

} // namespace

extern "C" pfr_status pfr_neural_cuda_init(pfr_sim *sim, pfr_error *err)
{
    if (pfr_cuda_device_count() <= 0)
        return pfr_fail(err, PFR_ERR_NO_DEVICE, "backend=cuda: no CUDA device is present (or no driver); allowed here: "
                                                "backend=cpu or auto");
    neural_dev *d = new (std::nothrow) neural_dev();
    if (!d)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    const pfr_engine_vtbl *host = sim->engine;
    d->host_engine = host;
    sim->engine_state = d;
    sim->engine = &NEURAL_CUDA_ENGINE;
    pfr_status st = allocate(sim, d);
    if (st == PFR_OK)
        st = neural_push_host(sim);
    if (st != PFR_OK) { /* the device's part freed; the CPU engine's state stays for the caller's clean-up */
        pfr_fail(err, st, "%s", sim->errmsg);
        d->host_engine = nullptr;
        neural_destroy(sim);
        sim->engine = host;
    }
    return st;
}
