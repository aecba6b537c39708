// The part of a device round's arguments (pfr_round_args) that comes from the simulation handle,
// for the tests that run the device round on the host: everything but the chunk (i0, n), the
// overlay buffers and took_part, which the caller sets. rp32 [M, S+1] are the 32-bit row pointers
// the engine uploads; alpha, beta [K] the round's step sizes.
#ifndef PFR_TESTS_HOST_ROUND_H
#define PFR_TESTS_HOST_ROUND_H

#include <cmath>
#include <cstring>

#include "kernels/pfr_agent_round.h"
#include "sim_internal.h"

inline pfr_round_args host_round_args(const pfr_sim *sim, const uint32_t *rp32, const float *alpha, const float *beta)
{
    pfr_round_args a;
    std::memset(&a, 0, sizeof a);
    a.N = sim->N;
    a.S = sim->S;
    a.d = sim->d;
    a.K = sim->K;
    a.R = sim->K < sim->S ? sim->K : sim->S;
    a.type_first = sim->type_first;
    a.type_count = sim->type_count;
    a.seed = sim->cfg.seed;
    a.t0 = (uint64_t)sim->round * (uint64_t)sim->K;
    a.part_threshold = sim->cfg.participation >= 1.0 ? (1ull << 32)
                                                     : (uint64_t)std::floor(sim->cfg.participation * 4294967296.0);
    a.gamma = (float)sim->cfg.gamma;
    a.learn_phi = sim->learn_phi;
    a.row_ptr = rp32;
    a.thr = sim->env->thr;
    a.next = sim->env->next;
    a.reward = sim->env->reward;
    a.alpha = alpha;
    a.beta = beta;
    a.phi = sim->phi;
    a.agent_phi = sim->own_phi ? sim->agent_phi : nullptr;
    a.theta = sim->theta;
    a.state = sim->state;
    return a;
}

#endif
