/*
 * federation.c — federation as it happens, the host's part of a round (contract: federation.h).
 *
 * Before each round the host draws, for every agent, whether it is available (its two-state chain
 * moved one step, or the trace's row), whether it takes part (the i.i.d. participation word, as
 * without these mechanisms), how many of the K steps it completes, and how old the Phi it starts
 * from is (kernels/pfr_federation.h: functions of seed, round and agent only, so any thread count
 * draws the same). The engine gets steps [N] and ages [N] in the round plan; an agent with 0 steps
 * neither steps nor sends, and its state and theta wait for it.
 *
 * Stale Phi: the history keeps the last H + 1 Phi's (H = delay or max_delay), slot r mod (H + 1)
 * holding the Phi that round r started from; an agent of age a in round r starts from slot
 * (r - a) mod (H + 1), and its change Phi_i - Phi^{r-a} (weighted stale_decay^a) is added to the
 * current Phi like any other. Memory: (H + 1) S d floats, planned (plan.c), copied once a round.
 *
 * Stale bases (a delay with orthonormalization): each round's orthonormalization maps every theta
 * into the new basis (theta_i <- R theta_i), so a theta is always in the basis of the current Phi;
 * an agent that starts from the Phi of `a` rounds ago gets the theta that belongs to that Phi,
 * P_a^{-1} theta_i with P_a = R_{r-1} ... R_{r-a}, and its theta after the round is mapped back,
 * as a deployment in which the server's maps reach an agent with its Phi would hold it
 * (pfr_fed_stale_begin / _end; the last H + 1 R's kept, and checkpointed). Both maps run on the
 * host over the engine's host arrays: 2 d^2 flops per agent and two passes over theta a round.
 *
 * Napkin math: a round's draws cost one Philox evaluation per agent (two with participation < 1),
 * ~20 ns each on one core: 20 ms a round at N = 10^6 on one core, spread over the threads.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kernels/pfr_agent_math.h"
#include "kernels/pfr_federation.h"
#include "dist.h"
#include "federation.h"

struct pfr_fed {
    int64_t N;
    int per_agent;      /* steps [N] and ages [N] drawn each round (availability, stragglers, drawn delays) */
    uint32_t *steps;    /* [N] */
    uint8_t *age;       /* [N] */
    uint8_t *avail;     /* [N] the chains' states, 1 = present (NULL: no chain) */
    uint8_t *trace;     /* [trace_rows, N] 1 = available (NULL: no trace) */
    int64_t trace_rows;
    int H;              /* history depth: the largest age */
    float *hist;        /* [H + 1, S, d] */
    int d;
    double *rhist;      /* [H + 1, d, d] stale bases: round q's orthonormalization's R at slot q mod (H + 1) */
    double *prod;       /* [H + 1, d, d] this round's P_a = R_{r-1} ... R_{r-a}: basis r-a -> basis r */
    const float *base[257];
    double weight[257];
};

int pfr_fed_active(const pfr_config *cfg)
{
    const pfr_federation_config *f = &cfg->federation;
    return f->p_drop > 0.0 || f->p_return < 1.0 || f->availability_trace[0] || f->stragglers > 0.0 || f->delay > 0 ||
           f->max_delay > 0 || f->clip > 0.0 || f->noise_multiplier > 0.0;
}

static int per_agent(const pfr_federation_config *f)
{
    return f->p_drop > 0.0 || f->p_return < 1.0 || f->availability_trace[0] || f->stragglers > 0.0 || f->max_delay > 0;
}

static int depth(const pfr_federation_config *f) { return f->max_delay > 0 ? f->max_delay : f->delay; }

double pfr_fed_bytes(const pfr_config *cfg, int S)
{
    if (!pfr_fed_active(cfg))
        return 0.0;
    const pfr_federation_config *f = &cfg->federation;
    const double N = (double)cfg->agents, H = depth(f);
    double b = per_agent(f) ? 6.0 * N : 0.0;
    if (H > 0)
        b += (H + 1.0) * S * cfg->dim * 4.0;
    return b; /* a trace's rows * N bytes are checked when it is loaded (its size is in its header) */
}

static pfr_status load_trace(pfr_fed *f, const char *path, int64_t N, pfr_error *err)
{
    pfr_npy a;
    pfr_status st = pfr_npy_load(path, &a, err);
    if (st != PFR_OK) {
        pfr_error_prefix(err, "federation.availability_trace");
        return st == PFR_ERR_NO_MEMORY ? st : PFR_ERR_CONFIG;
    }
    char shape[200];
    if (a.ndim != 2 || a.shape[1] != N || a.shape[0] < 1) {
        st = pfr_fail(err, PFR_ERR_CONFIG, "federation.availability_trace %s: shape %s; allowed: [rounds, N] = (R, %lld), R >= 1",
                      path, pfr_npy_shape_text(&a, shape, sizeof shape), (long long)N);
        pfr_npy_free(&a);
        return st;
    }
    f->trace_rows = a.shape[0];
    f->trace = malloc(a.count);
    if (!f->trace) {
        pfr_npy_free(&a);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "federation.availability_trace %s: out of memory for %zu entries", path,
                        a.count);
    }
    for (size_t e = 0; e < a.count; ++e) {
        if (a.data[e] != 0.0 && a.data[e] != 1.0) {
            st = pfr_fail(err, PFR_ERR_CONFIG,
                          "federation.availability_trace %s: entry [%lld, %lld] is %g; allowed: 0 (absent) or 1 (available)",
                          path, (long long)(e / (size_t)N), (long long)(e % (size_t)N), a.data[e]);
            pfr_npy_free(&a);
            return st;
        }
        f->trace[e] = (uint8_t)(a.data[e] != 0.0);
    }
    pfr_npy_free(&a);
    return PFR_OK;
}

pfr_status pfr_fed_create(pfr_sim *sim, pfr_error *err)
{
    sim->fed = NULL;
    const pfr_config *cfg = &sim->cfg;
    if (!pfr_fed_active(cfg))
        return PFR_OK;
    const pfr_federation_config *c = &cfg->federation;
    pfr_fed *f = calloc(1, sizeof *f);
    if (!f)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    sim->fed = f;
    f->N = sim->N;
    f->per_agent = per_agent(c);
    f->H = depth(c);
    const size_t N = (size_t)sim->N, sd = (size_t)sim->S * sim->d;
    if (f->per_agent) {
        f->steps = malloc(sizeof(uint32_t) * N);
        f->age = calloc(N, 1);
        if (!f->steps || !f->age)
            return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for the federation's per-agent draws (%zu agents)", N);
    }
    if (c->p_drop > 0.0 || c->p_return < 1.0) {
        f->avail = malloc(N);
        if (!f->avail)
            return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for %zu availability states", N);
        memset(f->avail, 1, N); /* every agent starts present; the chain moves before each round */
    }
    if (c->availability_trace[0]) {
        pfr_status st = load_trace(f, c->availability_trace, sim->N, err);
        if (st != PFR_OK)
            return st;
    }
    if (f->H > 0) {
        f->hist = malloc(sizeof(float) * sd * (size_t)(f->H + 1));
        if (!f->hist)
            return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for %d Phi's of history (%.1f MiB)", f->H + 1,
                            4.0 * (double)sd * (f->H + 1) / 1048576.0);
    }
    for (int a = 0; a <= f->H; ++a)
        f->weight[a] = pow(c->stale_decay, a);
    f->d = sim->d;
    if (f->H > 0 && cfg->orthonormalize && sim->learn_phi) {
        const size_t dd = (size_t)sim->d * sim->d;
        f->rhist = calloc(dd * (size_t)(f->H + 1), sizeof(double));
        f->prod = calloc(dd * (size_t)(f->H + 1), sizeof(double));
        if (!f->rhist || !f->prod)
            return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for %d orthonormalization maps", f->H + 1);
        for (int q = 0; q <= f->H; ++q) /* before the first rounds: no map (identity) */
            for (int j = 0; j < sim->d; ++j)
                f->rhist[dd * (size_t)q + (size_t)j * sim->d + j] = 1.0;
    }
    sim->fed_per_agent = f->per_agent;
    sim->fed_slots = f->hist ? f->H + 1 : 0;
    sim->fed_hist = f->hist;
    sim->fed_weight = f->weight;
    sim->fed_avail = f->avail;
    return PFR_OK;
}

int pfr_fed_warning(const pfr_fed *f, const pfr_config *cfg, char *buf, size_t n)
{
    const pfr_federation_config *c = &cfg->federation;
    if (f && f->trace) {
        const size_t count = (size_t)f->trace_rows * (size_t)f->N;
        size_t ones = 0;
        for (size_t e = 0; e < count && !ones; ++e)
            ones += f->trace[e];
        if (!ones)
            return snprintf(buf, n, "federation.availability_trace %s is 0 everywhere: no agent is ever available, "
                            "so none takes part and Phi and theta stay where they start", c->availability_trace), 1;
    }
    if (c->p_return > 0.0 || c->p_drop <= 0.0)
        return 0;
    if (c->p_drop >= 1.0)
        return snprintf(buf, n, "federation.p_drop=1 with federation.p_return=0: every agent leaves before the first "
                        "round and never returns, so none takes part and Phi and theta stay where they start"), 1;
    /* each agent stays r rounds with chance (1 - p)^r: about one of N is left after ln N / -ln(1 - p) */
    const double r = log((double)cfg->agents) / -log1p(-c->p_drop);
    return snprintf(buf, n, "federation.p_return=0: an agent that drops out never returns; with p_drop=%g about one "
                    "of the %lld agents is left after %.0f rounds (of %lld)", c->p_drop, (long long)cfg->agents,
                    ceil(r), (long long)cfg->rounds), 1;
}

void pfr_fed_destroy(pfr_fed *f)
{
    if (!f)
        return;
    free(f->steps);
    free(f->age);
    free(f->avail);
    free(f->trace);
    free(f->hist);
    free(f->rhist);
    free(f->prod);
    free(f);
}

uint8_t *pfr_fed_availability(pfr_fed *f) { return f ? f->avail : NULL; }

float *pfr_fed_history(pfr_fed *f, int *slots)
{
    if (slots)
        *slots = f && f->hist ? f->H + 1 : 0;
    return f ? f->hist : NULL;
}

pfr_status pfr_fed_begin_round(pfr_sim *sim, pfr_round_plan *plan, pfr_round_stats *stats)
{
    pfr_fed *f = sim->fed;
    const pfr_federation_config *c = &sim->cfg.federation;
    const int64_t r = sim->round, N = sim->N;
    memset(stats, 0, sizeof *stats);
    plan->clip = c->clip;
    plan->noise_std = c->noise_multiplier * c->clip;
    plan->dp_count = c->dp_denominator == PFR_DP_EXPECTED ? sim->cfg.participation * (double)N : 0.0;
    plan->age0 = f->per_agent ? 0 : (int)(f->H < r ? f->H : r);
    if (f->hist) { /* slot r mod (H + 1) takes the Phi this round starts from; age a reads slot r - a */
        const size_t sd = (size_t)sim->S * sim->d;
        /* a device engine keeps its own copy of the history; the host's (for checkpoints) needs the
         * current Phi: made current here (the CPU engine works on sim->phi itself) */
        if (sim->engine->push_host) {
            const pfr_status st = sim->engine->pull_phi(sim);
            if (st != PFR_OK)
                return st;
        }
        const int slots = f->H + 1;
        memcpy(f->hist + (size_t)(r % slots) * sd, sim->phi, sizeof(float) * sd);
        f->base[0] = sim->phi;
        for (int a = 1; a <= f->H; ++a)
            f->base[a] = f->hist + (size_t)((r - (a <= r ? a : r)) % slots) * sd;
        plan->base = f->base;
        plan->age_weight = f->weight;
        plan->history = f->H;
    }
    if (!f->per_agent)
        return PFR_OK;
    pfr_fed_draw a;
    a.seed = sim->cfg.seed;
    a.round = r;
    a.K = sim->K;
    a.chain = f->avail != NULL;
    a.drop_thr = pfr_participation_threshold(c->p_drop);
    a.return_thr = pfr_participation_threshold(c->p_return);
    a.straggle_thr = pfr_participation_threshold(c->stragglers);
    a.part_threshold = plan->part_threshold;
    a.delay = c->delay;
    a.max_delay = c->max_delay;
    const uint8_t *row = f->trace ? f->trace + (size_t)(r % f->trace_rows) * (size_t)N : NULL;
    uint64_t P = 0, steps = 0, ages = 0;
    /* this rank's agents (all, in one process); over MPI ranks the counts are summed below */
#pragma omp parallel for schedule(static) reduction(+ : P, steps, ages) num_threads(sim->threads)
    for (int64_t i = sim->a0; i < sim->a1; ++i) {
        uint8_t chain_state = f->avail ? f->avail[i] : 1;
        const uint32_t k = pfr_fed_agent(&a, i, &chain_state, row ? row[i] : 1, &f->age[i]);
        if (f->avail)
            f->avail[i] = chain_state;
        f->steps[i] = k;
        if (k > 0) {
            P++;
            steps += k;
            ages += f->age[i];
        }
    }
    plan->steps = f->steps;
    plan->age = f->age;
    uint64_t counts[3] = {P, steps, ages};
    pfr_error derr;
    if (sim->dsize > 1 && pfr_dist_sum_u64(counts, 3, &derr) != PFR_OK)
        return pfr_sim_fail(sim, PFR_ERR_INTERNAL, "%s", derr.msg);
    stats->participants = counts[0];
    stats->steps = counts[1];
    stats->age_sum = counts[2];
    return PFR_OK;
}

/* ---- stale bases (the file's comment) ------------------------------------------------------- */

double *pfr_fed_map_history(pfr_fed *f, int *slots)
{
    if (slots)
        *slots = f && f->rhist ? f->H + 1 : 0;
    return f ? f->rhist : NULL;
}

/* C = A B, [d, d] row-major (C distinct from A and B). */
static void matmul(const double *A, const double *B, double *C, int d)
{
    for (int i = 0; i < d; ++i)
        for (int j = 0; j < d; ++j) {
            double acc = 0.0;
            for (int k = 0; k < d; ++k)
                acc += A[(size_t)i * d + k] * B[(size_t)k * d + j];
            C[(size_t)i * d + j] = acc;
        }
}

/* The inverse of an upper-triangular U with a nonzero diagonal (back substitution, column by column). */
static void upper_inverse(const double *U, double *X, int d)
{
    for (int j = d - 1; j >= 0; --j)
        for (int i = d - 1; i >= 0; --i) {
            double acc = i == j ? 1.0 : 0.0;
            for (int k = i + 1; k <= j; ++k)
                acc -= U[(size_t)i * d + k] * X[(size_t)k * d + j];
            X[(size_t)i * d + j] = i > j ? 0.0 : acc / U[(size_t)i * d + i];
        }
}

/* The age of the Phi agent i starts from this round (0: the current one, or it sits out). */
static int stale_age(const pfr_sim *sim, const pfr_round_plan *plan, int64_t i)
{
    if (plan->steps && plan->steps[i] == 0)
        return 0;
    const int a = plan->age ? plan->age[i] : plan->age0;
    return a < sim->round ? a : (int)sim->round;
}

/* theta_i <- maps[age_i] theta_i for this rank's agents with a stale Phi, on the host arrays (synced
 * by the caller), handed back to the engine after. */
static pfr_status map_thetas(pfr_sim *sim, const pfr_round_plan *plan, const double *maps)
{
    const int d = sim->d;
    const size_t dd = (size_t)d * d;
#pragma omp parallel for schedule(static) num_threads(sim->threads)
    for (int64_t i = sim->a0; i < sim->a1; ++i) {
        const int a = stale_age(sim, plan, i);
        if (a > 0)
            pfr_map_theta(maps + dd * (size_t)a, sim->theta + (size_t)i * d, d);
    }
    if (sim->dsize > 1)
        sim->host_current = 0; /* other ranks hold this rank's thetas as they were */
    return sim->engine->push_host ? sim->engine->push_host(sim) : PFR_OK;
}

/* Before the round: P_0 = I, P_a = P_{a-1} R_{r-a} (slots of rounds before the first hold
 * identities), and each stale agent's theta mapped by P_a^{-1}. */
pfr_status pfr_fed_stale_begin(pfr_sim *sim, const pfr_round_plan *plan)
{
    pfr_fed *f = sim->fed;
    if (!f || !f->rhist)
        return PFR_OK;
    const int d = sim->d, slots = f->H + 1;
    const size_t dd = (size_t)d * d;
    const int64_t r = sim->round;
    double *inv = malloc(sizeof(double) * dd * (size_t)slots);
    if (!inv)
        return pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory for the stale bases' maps");
    memset(f->prod, 0, sizeof(double) * dd);
    for (int j = 0; j < d; ++j)
        f->prod[(size_t)j * d + j] = 1.0;
    for (int a = 1; a <= f->H; ++a) {
        const int64_t q = r - a >= 0 ? r - a : 0;
        matmul(f->prod + dd * (size_t)(a - 1), f->rhist + dd * (size_t)(q % slots), f->prod + dd * (size_t)a, d);
    }
    for (int a = 0; a <= f->H; ++a)
        upper_inverse(f->prod + dd * (size_t)a, inv + dd * (size_t)a, d);
    pfr_status st = sim->engine->sync_host(sim);
    if (st == PFR_OK)
        st = map_thetas(sim, plan, inv);
    free(inv);
    return st;
}

/* After the round: its R kept (identity when no one took part, so none was computed), and each stale
 * agent's theta mapped back. The engine holds R theta_used (its map ran after the steps), so back is
 * R P_a R^{-1}: R P_a theta_used, the theta of the basis after this round. */
pfr_status pfr_fed_stale_end(pfr_sim *sim, const pfr_round_plan *plan, uint64_t participants, const double *Rrun)
{
    pfr_fed *f = sim->fed;
    if (!f || !f->rhist)
        return PFR_OK;
    const int d = sim->d, slots = f->H + 1;
    const size_t dd = (size_t)d * d;
    double *R = f->rhist + dd * (size_t)(plan->round % slots);
    pfr_status st = sim->engine->sync_host(sim);
    if (st != PFR_OK)
        return st;
    if (participants > 0 && Rrun) {
        memcpy(R, Rrun, sizeof(double) * dd);
    } else if (participants > 0) {
        if ((st = sim->engine->last_map(sim, R)) != PFR_OK)
            return st;
    } else {
        memset(R, 0, sizeof(double) * dd);
        for (int j = 0; j < d; ++j)
            R[(size_t)j * d + j] = 1.0;
    }
    double *back = malloc(sizeof(double) * dd * (size_t)slots), *Rinv = malloc(sizeof(double) * dd * 2);
    if (!back || !Rinv) {
        free(back);
        free(Rinv);
        return pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory for the stale bases' maps");
    }
    double *tmp = Rinv + dd;
    upper_inverse(R, Rinv, d);
    for (int a = 1; a <= f->H; ++a) {
        matmul(R, f->prod + dd * (size_t)a, tmp, d);
        matmul(tmp, Rinv, back + dd * (size_t)a, d);
    }
    st = map_thetas(sim, plan, back);
    free(back);
    free(Rinv);
    return st;
}

uint32_t pfr_fed_trace_crc(const pfr_fed *f)
{
    if (!f || !f->trace)
        return 0;
    const uint64_t rows = (uint64_t)f->trace_rows, n = (uint64_t)f->N;
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32_z(c, (const Bytef *)&rows, sizeof rows);
    c = crc32_z(c, (const Bytef *)&n, sizeof n);
    c = crc32_z(c, (const Bytef *)f->trace, (size_t)(rows * n));
    return (uint32_t)c ? (uint32_t)c : 1u; /* 0 means "no trace" in a checkpoint */
}
