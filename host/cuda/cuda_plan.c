/*
 * cuda_plan.c — the CUDA engine's memory plan (cuda_engine.cu allocates by it), a pure
 * function of the configuration and the device's free bytes, so the tests check it on any machine.
 *
 * Fixed part: the chains, Phi, theta, states and small buffers (and every agent's own Phi_i for
 * local_rep, with the truth V, mu for its device metrics). Per chunk: the overlays of its agents
 * (rows and values, plus the slot map where used) and what their sums need (pfr_fold.h): where S d
 * fits the dense fold, the partial sums of its agent blocks (S d doubles each); else, per overlay
 * slot, an entry (key and value, twice for the sort), its run (first entry, row, d doubles of sum)
 * and CUB's storage (PFR_PLAN_CUB_PER_ENTRY bytes plus PFR_PLAN_CUB_FIXED, above what CUB asked
 * for at the sizes seen: the engine allocates what CUB asks for). So memory grows with N K d, not
 * with the blocks times S d. The chunk is the largest multiple of PFR_AGENT_BLOCK agents that fits
 * next to the fixed part in 90% of the free memory (and at most cuda_max_chunk, and few enough that
 * an entry's value, agent and slot, fits 31 bits); a clear error names the sizes when not even one
 * block fits.
 */
#include <stdint.h>

#include "kernels/pfr_cholqr.h"
#include "kernels/pfr_fold.h"
#include "cuda_engine.h"

#define PFR_PLAN_CUB_PER_ENTRY 4.0          /* bytes of CUB's sort and selection storage per entry */
#define PFR_PLAN_CUB_FIXED (16.0 * 1048576) /* and beyond that */

pfr_status pfr_cuda_plan_memory(pfr_sim *sim, size_t free_bytes, size_t total_bytes, pfr_cuda_plan *plan)
{
    const pfr_env *env = sim->env;
    const double S = sim->S, d = sim->d, N = (double)sim->N, K = sim->K, M = sim->M, nnz = (double)env->nnz;
    if (env->nnz >= UINT32_MAX)
        return pfr_sim_fail(sim, PFR_ERR_CONFIG,
                            "the cuda engine needs fewer than 2^32 transitions (this environment has %llu)",
                            (unsigned long long)env->nnz);
    if (sim->d > PFR_ROUND_MAX_D)
        return pfr_sim_fail(sim, PFR_ERR_CONFIG, "dim=%d: the cuda engine supports dim <= %d (the CPU engine any dim)",
                            sim->d, PFR_ROUND_MAX_D);
    plan->nblocks = (sim->N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    plan->R = sim->K < sim->S ? sim->K : sim->S;
    plan->overlay = sim->learn_phi && !sim->own_phi;
    /* O(1) overlay lookups through a byte per state and agent, where that is affordable and pays:
     * with at most 8 overlay rows a scan of the agent's own (L1-resident) row ids is cheaper than
     * touching, and afterwards resetting, bytes of an N*S map */
    plan->slots = plan->overlay && plan->R > 8 && plan->R < 255 && sim->S <= 4096;
    plan->sparse = sim->avg_phi && !pfr_fold_dense(sim->S, sim->d);

    const double nb = (double)plan->nblocks;
    plan->fixed_bytes = 4.0 * (M * (S + 1) + 3.0 * nnz)           /* row_ptr, thr, next, reward */
                        + 4.0 * (S * d + N * d + N + 2.0 * K) + N /* phi, theta, state, alpha/beta, took */
                        + (sim->own_phi ? 4.0 * N * S * d + 16.0 * M * S : 0.0) /* Phi_i; mu, V */
                        + 4.0 * nb                                                /* block counts */
                        + 8.0 * (S * d + d + d * d + M * (d * d + d) + M + 3.0 * nb) /* sums, R, moments, metrics */
                        + S                                                       /* marked rows */
                        + 8.0 * (pfr_gram_tiles(sim->S) * d * d + d * d + 3.0)    /* Gram tiles, factor, fail, ctr */
                        + (plan->sparse ? PFR_PLAN_CUB_FIXED : 0.0)               /* CUB's storage */
                        + (sim->fed_per_agent ? 5.0 * N : 0.0)                    /* federation: steps, ages */
                        + sim->fed_slots * (4.0 * S * d + 8.0)                    /* history of Phi, weights */
                        + (sim->action ? N : 0.0);                                /* SARSA's next actions */
    const double per_entry = plan->sparse ? 16.0 + 8.0 + 8.0 * d + PFR_PLAN_CUB_PER_ENTRY : 0.0; /* keys, vals x2; run */
    const double per_agent = (plan->overlay ? 4.0 * plan->R * (d + 1) + 4.0 : 0.0) + (plan->slots ? S : 0.0) +
                             plan->R * per_entry + (plan->sparse ? 8.0 : 0.0); /* + the agent's factor */
    const double per_block = 8.0 * (sim->avg_phi && !plan->sparse ? S * d : 0.0) + 8.0 * d + 8.0;
    plan->chunk_block_bytes = per_block + PFR_AGENT_BLOCK * per_agent;
    const double budget = 0.9 * (double)free_bytes - plan->fixed_bytes;
    const double fit = budget > 0 ? budget / plan->chunk_block_bytes : 0.0;
    if (fit < 1.0) { /* name what takes most of it, and the key that makes it smaller */
        const double hist = sim->fed_slots * 4.0 * S * d, own = sim->own_phi ? 4.0 * N * S * d : 0.0;
        const char *why = hist > 0.5 * plan->fixed_bytes ? "a smaller federation.max_delay or delay: the history of "
                                                           "Phi it keeps takes most of it"
                          : own > 0.5 * plan->fixed_bytes ? "fewer agents or a smaller dim: every agent's own Phi "
                                                            "(local_rep) takes most of it"
                                                          : "fewer agents, a smaller dim, or the CPU engine";
        return pfr_sim_fail(sim, PFR_ERR_DEVICE_MEMORY,
                            "agents=%lld, S=%d, dim=%d, local_steps=%d (%s) need %.2f GiB of device memory for the "
                            "agents' state plus %.2f MiB per chunk of %d agents; %.2f GiB of %.2f GiB are free (%s)",
                            (long long)sim->N, sim->S, sim->d, sim->K, pfr_algorithm_name(sim->cfg.algorithm),
                            plan->fixed_bytes / 1073741824.0, plan->chunk_block_bytes / 1048576.0, PFR_AGENT_BLOCK,
                            (double)free_bytes / 1073741824.0, (double)total_bytes / 1073741824.0, why);
    }
    int64_t blocks = fit < (double)plan->nblocks ? (int64_t)fit : plan->nblocks;
    if (plan->sparse) { /* an entry's value, (agent in chunk << slot bits) | slot, and its index fit 31 bits */
        const int64_t cap = ((int64_t)1 << (31 - pfr_slot_bits(plan->R))) / PFR_AGENT_BLOCK;
        blocks = cap < blocks ? cap : blocks;
    }
    if (sim->cfg.cuda_max_chunk > 0) { /* the user's cap, in whole agent blocks */
        const int64_t cap = (sim->cfg.cuda_max_chunk + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
        blocks = cap < blocks ? cap : blocks;
    }
    plan->chunk_blocks = blocks;
    plan->chunk = blocks * PFR_AGENT_BLOCK;
    plan->total_bytes = plan->fixed_bytes + (double)blocks * plan->chunk_block_bytes;
    return PFR_OK;
}
