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
 * Stale bases (a delay with orthonormalization): each round's orthonormalization is a change of
 * basis, Phi's average = Phi' R with every theta_i <- R theta_i, so a theta always belongs to the
 * current basis. The history follows it: after the round every Phi kept is rebased, Phi^q <- Phi^q
 * R^{-1}, so a stale agent starts from old content in the current basis, pairs it with its theta,
 * and its change is one of the current basis too, as where the server's d x d maps reach every
 * agent at once and only the Phi's rows arrive late (pfr_fed_end_round). Cost: (H + 1) S d^2 / 2
 * flops a round on the host, and a device engine's arrays synced and pushed once a round.
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

#include "kernels/pfr_cholqr.h"
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
    int rebase;         /* a delay with orthonormalization: the history follows each round's basis */
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
    f->rebase = f->H > 0 && cfg->orthonormalize && sim->learn_phi;
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

pfr_status pfr_fed_end_round(pfr_sim *sim, uint64_t participants, const double *Rrun)
{
    pfr_fed *f = sim->fed;
    if (!f || !f->rebase || participants == 0) /* no aggregation, no orthonormalization, no new basis */
        return PFR_OK;
    const int d = sim->d;
    const size_t dd = (size_t)d * d, rows = (size_t)(f->H + 1) * (size_t)sim->S;
    /* R [d, d], then each thread's scratch row of the solve [threads, d] */
    double *R = malloc(sizeof(double) * (dd + (size_t)sim->threads * d));
    if (!R)
        return pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory for the orthonormalization's map");
    pfr_status st = PFR_OK;
    if (Rrun)
        memcpy(R, Rrun, sizeof(double) * dd);
    else
        st = sim->engine->last_map(sim, R);
    if (st == PFR_OK && sim->engine->push_host) /* a device engine: the host arrays current first */
        st = sim->engine->sync_host(sim);
    if (st != PFR_OK) {
        free(R);
        return st;
    }
    /* every kept row x <- x R^{-1}: the solve orthonormalization itself uses (pfr_cholqr.h) */
#pragma omp parallel num_threads(sim->threads)
    {
        double *y = R + dd + (size_t)omp_get_thread_num() * d;
#pragma omp for schedule(static)
        for (size_t r = 0; r < rows; ++r)
            pfr_chol_solve_row(R, d, 1.0, f->hist + r * (size_t)d, y);
    }
    free(R);
    return sim->engine->push_host ? sim->engine->push_host(sim) : PFR_OK; /* the device's history too */
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
