/*
 * engine_cpu.c — the CPU engine's face: its interface to the round loop (a round, the host arrays
 * brought up to date), its start (pfr_engine_cpu_init: the work space from cpu_setup.c) and what
 * tests read of it. A round is every agent's K local steps, then the aggregation of Phi (and
 * theta; its merge and apply in cpu_merge.c), on the threads of a pool (pool.c), with the per-agent
 * math of kernels/pfr_agent_math.h: the work in cpu_blocks.c, over MPI ranks cpu_dist.c.
 *
 * Why it looks like this:
 *  - Work proportional to what an agent touches. An agent's Phi_i is the shared Phi plus an overlay
 *    of the rows it changed (cpu_step.h), so nothing of size S is copied per agent or per round. The
 *    16-agent step (cpu_x16.c) finds 16 agents' rows by comparing their slot keys, one vector compare
 *    a slot (up to 32 local steps); otherwise a byte slot map per lane up to 16384 states, a small
 *    hash table above.
 *  - A thread steps 16 agents together, one Philox evaluation giving a step's words for all 16
 *    (cpu_philox.c). Three paths, the same bits: with AVX-512, the TD math of all 16 at once on
 *    their rows loaded whole and transposed in registers, every table lookup a gather (the chains as
 *    16-byte entries, or at large S in 8-byte slots: cpu_slots.c) (cpu_x16.c;
 *    d <= 16, and d = 32 with each agent's math along d where the tables lie beyond L2); else each
 *    agent's step vectorized along d (cpu_step.h); else scalar. Tests force each path.
 *  - Agents are grouped in blocks of PFR_AGENT_BLOCK. Each block sums its participants' changes
 *    Phi_i[r] - Phi[r] over the rows they touched (in double, agents in index order) into a sparse
 *    partial sum (block_part, its rows grouped by merge bucket), and its theta_i. Blocks run in waves: within a wave threads take
 *    blocks (each its own contiguous share first, then what is left of the others'), each into
 *    the wave slot of its block; after the wave the slots are added into one accumulator in block
 *    order, each contiguous range of rows by the thread that owns it.
 *    So every sum is the same for any thread count and any schedule: Phi and theta are
 *    bit-identical whatever the threads (tested).
 *  - Orthonormalization's theta map (theta_i <- R theta_i) is fused into the next round: each agent
 *    applies the pending R when its group is loaded (sync_host applies it to all before the host
 *    reads theta), so a round reads and writes theta once.
 * Napkin math (cliff walk, d = 8, AVX-512): per 16 agent-steps one Philox (~120 instructions), ~6
 * gathers (threshold probes, next state, reward, next row), a slot scan (a compare and a blend for
 * each of up to k + 1 slots at step k) and a scatter of new keys, two 16 x 8 transposes
 * in and one out (~70 permutes), ~100 for the dot products and updates: ~25 instructions an
 * agent-step, plus the fold of its new rows; ~10 cycles at full issue. Measured: bench/RESULTS.md.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_engine.h"
#include "dist.h"

/* ---- the engine interface -------------------------------------------------------------------------- */
static pfr_status cpu_sync_host(pfr_sim *sim)
{
    cpu_engine *e = sim->engine_state;
    if (e->has_pending) { /* the host reads theta: apply the last orthonormalization now */
        pfr_cpu_apply_pending(e);
        e->has_pending = 0;
    }
    /* over MPI ranks: the other ranks' agents gathered (a collective: every rank syncs together) */
    return sim->dsize > 1 && !sim->host_current ? pfr_cpu_dist_gather(e, sim) : PFR_OK;
}


static pfr_status cpu_round(pfr_sim *sim, const pfr_round_plan *plan, uint64_t *participants)
{
    cpu_engine *e = sim->engine_state;
    const int S = sim->S, d = sim->d;
    e->sim = sim;
    e->plan = plan;
    e->base0 = plan->base ? plan->base[plan->age0] : sim->phi;
    e->participants = 0;
    atomic_store(&e->next, sim->a0 / PFR_CPU_LANES);
    sim->host_current = 0;
    if (sim->own_phi || (!sim->avg_phi && !sim->avg_theta)) {
        pfr_cpu_run_independent(e);
        e->has_pending = 0;
        int failed = 0;
        for (int t = 0; t < e->T; ++t) {
            e->participants += e->th[t].participants;
            failed |= e->th[t].failed;
        }
        if (sim->dsize > 1) { /* every rank's participants and failures */
            pfr_error derr;
            uint64_t v[2] = {e->participants, (uint64_t)failed};
            if (pfr_dist_sum_u64(v, 2, &derr) != PFR_OK)
                return pfr_sim_fail(sim, PFR_ERR_INTERNAL, "%s", derr.msg);
            e->participants = v[0];
            failed = v[1] != 0;
        }
        *participants = e->participants;
        if (failed)
            return pfr_sim_fail(sim, PFR_ERR_NUMERIC, "orthonormalization failed in round %lld: an agent's Phi_i %s",
                                (long long)plan->round, PFR_LOST_RANK_WHY);
        return PFR_OK;
    }
    memset(e->theta_accum, 0, sizeof(double) * (size_t)d);
    if (sim->dsize > 1) { /* over MPI ranks: this rank's blocks, their parts to the rows' owners */
        const pfr_status st = pfr_cpu_round_dist(e, participants);
        if (st != PFR_OK)
            return st;
    } else {
        pfr_cpu_run_shared(e);
        *participants = e->participants;
    }
    e->has_pending = 0; /* every agent applied it */

    if (sim->cfg.orthonormalize && sim->learn_phi && e->participants > 0) {
        if (pfr_cholqr_factor(sim->phi, S, d, e->pending) != PFR_OK)
            return pfr_sim_fail(sim, PFR_ERR_NUMERIC, "orthonormalization failed in round %lld: Phi %s",
                                (long long)plan->round, PFR_LOST_RANK_WHY);
        e->has_pending = 1; /* theta_i <- R theta_i when each agent is next loaded (or at sync) */
    }
    return PFR_OK;
}

static pfr_status cpu_last_map(pfr_sim *sim, double *R)
{
    const cpu_engine *e = sim->engine_state;
    memcpy(R, e->pending, sizeof(double) * (size_t)sim->d * (size_t)sim->d); /* (kept after it is applied) */
    return PFR_OK;
}

/* no push_host: the engine works on the host arrays (the setters apply a pending theta map first) */
static const pfr_engine_vtbl pfr_cpu_engine_vtbl = {
    "cpu", cpu_round, cpu_sync_host, cpu_sync_host, NULL, NULL, NULL, pfr_cpu_engine_destroy, cpu_last_map};

pfr_status pfr_engine_cpu_init(pfr_sim *sim, pfr_error *err)
{
    const pfr_status st = pfr_cpu_setup(sim, err);
    if (st == PFR_OK)
        sim->engine = &pfr_cpu_engine_vtbl;
    return st;
}

/* ---- what tests read of the engine (engine.h) ------------------------------------------------------ */
int pfr_engine_cpu_chains(const pfr_sim *sim)
{
    const cpu_engine *e = sim && sim->engine == &pfr_cpu_engine_vtbl ? sim->engine_state : NULL;
    return !e ? 0 : e->shape_of ? PFR_CPU_CHAINS_SHAPES : e->slots ? PFR_CPU_CHAINS_SLOTS : e->ent ? PFR_CPU_CHAINS_ENTRIES : 0;
}

void pfr_engine_cpu_part_rows(const pfr_sim *sim, int64_t *narrow, int64_t *wide)
{
    const cpu_engine *e = sim && sim->engine == &pfr_cpu_engine_vtbl ? sim->engine_state : NULL;
    *narrow = *wide = 0;
    for (int p = 0; e && e->part && p < e->W; ++p) {
        const int nw = e->narrow ? e->part[p].nwide : e->part[p].n; /* (block_d counts only with narrow rows) */
        *narrow += e->part[p].n - nw;
        *wide += nw;
    }
}

int pfr_engine_cpu_shape_bytes(const pfr_sim *sim)
{
    const cpu_engine *e = sim && sim->engine == &pfr_cpu_engine_vtbl ? sim->engine_state : NULL;
    return e && e->shape_of ? e->shape_bytes : 0;
}

int pfr_engine_cpu_kernel(const pfr_sim *sim)
{
    const cpu_engine *e = sim && sim->engine == &pfr_cpu_engine_vtbl ? sim->engine_state : NULL;
    return e ? e->kernel : -1;
}

uint64_t pfr_engine_cpu_sums_digest(pfr_sim *sim)
{
    const cpu_engine *e = sim && sim->engine == &pfr_cpu_engine_vtbl ? sim->engine_state : NULL;
    uint64_t h = 0;
    for (int t = 0; e && t < e->T; ++t)
        h += e->th[t].digest;
    pfr_error err;
    if (sim && sim->dsize > 1 && pfr_dist_sum_u64(&h, 1, &err) != PFR_OK)
        return 0;
    return h;
}
