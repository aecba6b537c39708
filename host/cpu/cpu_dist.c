/*
 * cpu_dist.c — the CPU engine's round over MPI ranks (dist.h; docs/DESIGN.md §13), the same bits as
 * one process for any number of ranks.
 *
 * A rank steps and folds its own agent blocks, each into its own part (one wave: cpu_blocks.c), and
 * merges nothing itself: a row's sums must be ((0 + P_0) + P_1) + ... over every block of every
 * rank in block order (§3), which only the row's owner can do. So:
 *   1. each part's rows go to their owners (rows are owned in contiguous ranges, pfr_dist_first), a
 *      record per block that has rows for the owner, blocks in order (one all-to-all);
 *   2. the owner adds the records of rank 0, then rank 1, ..., each rank's blocks in order: block
 *      order, the single process's merge (element by element into a zeroed accumulator);
 *   3. the participants are summed (integers) and, for algorithms that average theta, every block's
 *      theta sums are gathered and added in block order on every rank;
 *   4. the owner applies the mean to the rows it has sums for (to all its rows with the private
 *      aggregation's noise: pfr_dp_gauss of the row's entries), the apply expression of
 *      cpu_merge.c, and every rank receives the changed rows (one all-gather).
 * Record: int64 rows c, c int64 row ids, c d doubles (every field 8-byte aligned).
 * Napkin math: a round sends each touched (row, block) pair once, 8 + 8 d bytes (72 at d = 8), and
 * each changed row once to every rank, 8 + 4 d bytes; docs/DESIGN.md §13 has the model by S, K, R.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/pfr_federation.h"
#include "cpu_engine.h"
#include "dist.h"

/* The rank that owns row r: rows [lo[o], lo[o + 1]) are rank o's (lo ascending, R + 1 entries). */
static int owner_of(const int64_t *lo, int R, int64_t r)
{
    int a = 0, b = R - 1;
    while (a < b) {
        const int m = (a + b + 1) / 2;
        if (lo[m] <= r)
            a = m;
        else
            b = m - 1;
    }
    return a;
}

/* Grow *p to at least n bytes (0: out of memory). */
static int reserve(void **p, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 1;
    void *q = realloc(*p, n > 2 * *cap ? n : 2 * *cap);
    if (!q)
        return 0;
    *p = q;
    *cap = n > 2 * *cap ? n : 2 * *cap;
    return 1;
}

/* Step 1: this rank's parts packed by owner into e->dist_send, send_bytes [R]; 0 or -1 (memory).
 * Two passes over the parts' rows: the rows of each (block, owner) counted (e->dist_count, and each
 * row's owner kept in e->dist_owner), then each row written at its record's next place. */
static int pack_parts(cpu_engine *e, const int64_t *lo, int64_t *send_bytes)
{
    const pfr_sim *sim = e->sim;
    const int R = sim->dsize, d = sim->d;
    const int64_t nown = sim->b1 - sim->b0;
    const size_t rec_row = 8 + 8 * (size_t)d;
    int64_t rows = 0;
    for (int64_t p = 0; p < nown; ++p)
        rows += e->part[p].n;
    /* [nown, R] rows of each block for each owner, then [nown, R] where each record starts */
    if (!reserve((void **)&e->dist_count, &e->dist_count_cap, 2 * sizeof(int64_t) * (size_t)nown * R + sizeof(int64_t) * R) ||
        !reserve((void **)&e->dist_owner, &e->dist_owner_cap, sizeof(int32_t) * (size_t)(rows > 0 ? rows : 1)))
        return -1;
    int64_t *cnt = e->dist_count, *at = cnt + (size_t)nown * R, *cur = at + (size_t)nown * R;
    int32_t *own = e->dist_owner;
    memset(cnt, 0, sizeof(int64_t) * (size_t)nown * R);
    memset(send_bytes, 0, sizeof(int64_t) * (size_t)R);
    int64_t x0 = 0;
    for (int64_t p = 0; p < nown; ++p) {
        const block_part *bp = &e->part[p];
        for (int32_t x = 0; x < bp->n; ++x) {
            const int o = owner_of(lo, R, bp->rows[x] & PFR_PART_ROW);
            own[x0 + x] = o;
            cnt[p * R + o]++;
        }
        x0 += bp->n;
        for (int o = 0; o < R; ++o)
            if (cnt[p * R + o])
                send_bytes[o] += 8 + (int64_t)rec_row * cnt[p * R + o];
    }
    /* each owner's records in block order, owners one after another */
    int64_t off = 0;
    for (int o = 0; o < R; ++o)
        for (int64_t p = 0; p < nown; ++p) {
            at[p * R + o] = off;
            if (cnt[p * R + o])
                off += 8 + (int64_t)rec_row * cnt[p * R + o];
        }
    if (!reserve(&e->dist_send, &e->dist_send_cap, off > 0 ? (size_t)off : 1))
        return -1;
    unsigned char *out = e->dist_send;
    x0 = 0;
    for (int64_t p = 0; p < nown; ++p) {
        const block_part *bp = &e->part[p];
        for (int o = 0; o < R; ++o) {
            cur[o] = 0;
            if (cnt[p * R + o])
                memcpy(out + at[p * R + o], &cnt[p * R + o], 8);
        }
        for (int32_t x = 0; x < bp->n; ++x) { /* each row at its record's next place */
            const int o = own[x0 + x];
            const int64_t c = cnt[p * R + o], k = cur[o]++, r = bp->rows[x] & PFR_PART_ROW;
            unsigned char *rec = out + at[p * R + o];
            memcpy(rec + 8 + 8 * (size_t)k, &r, 8);
            memcpy(rec + 8 + 8 * (size_t)c + 8 * (size_t)d * (size_t)k, bp->wide + (size_t)x * d, sizeof(double) * (size_t)d);
        }
        x0 += bp->n;
    }
    return 0;
}

/* Step 2: the records received (rank order, blocks in order) added into the accumulator, the rows
 * listed once each in e->th[0].touched. 0, or -1: a record names a row that is not this rank's. */
static int merge_received(cpu_engine *e, const int64_t *recv_bytes, int64_t lo_me, int64_t hi_me)
{
    const pfr_sim *sim = e->sim;
    const int d = sim->d;
    cpu_thread *w = &e->th[0];
    const unsigned char *in = e->dist_recv;
    size_t off = 0;
    for (int src = 0; src < sim->dsize; ++src) {
        const size_t end = off + (size_t)recv_bytes[src];
        while (off < end) {
            int64_t c;
            memcpy(&c, in + off, 8);
            for (int64_t k = 0; k < c; ++k) {
                int64_t r;
                memcpy(&r, in + off + 8 + 8 * (size_t)k, 8);
                if (r < lo_me || r >= hi_me)
                    return -1;
                if (!e->in_accum[r]) {
                    e->in_accum[r] = 1;
                    w->touched[w->ntouched++] = (int32_t)r;
                }
                double *restrict acc = e->accum + (size_t)r * d;
                const double *restrict v = (const double *)(in + off + 8 + 8 * (size_t)c) + (size_t)k * d;
                for (int j = 0; j < d; ++j) /* the single process's adds: element by element, in order */
                    acc[j] += v[j];
            }
            off += 8 + (8 + 8 * (size_t)d) * (size_t)c;
        }
    }
    return 0;
}

/* Step 4: the mean applied to this rank's rows (cpu_merge.c's expressions), the rows changed packed
 * as (int64 row, d floats) into e->dist_send; the accumulator emptied. Returns the bytes packed, or
 * -1 (memory). */
static int64_t apply_owned(cpu_engine *e, uint64_t participants, int64_t lo_me, int64_t hi_me)
{
    pfr_sim *sim = e->sim;
    const int d = sim->d;
    const pfr_round_plan *plan = e->plan;
    cpu_thread *w = &e->th[0];
    const int noisy = plan->noise_std > 0.0;
    const double inv = pfr_plan_mean_scale(plan, participants); /* (with noise, its denominator) */
    const size_t rec = 8 + 4 * (size_t)d;
    const int64_t nrows = participants == 0 ? 0 : noisy ? hi_me - lo_me : w->ntouched;
    if (!reserve(&e->dist_send, &e->dist_send_cap, (size_t)(nrows > 0 ? nrows : 1) * rec))
        return -1;
    unsigned char *out = e->dist_send;
    for (int64_t x = 0; x < nrows; ++x) {
        const int64_t r = noisy ? lo_me + x : w->touched[x];
        float *row = sim->phi + (size_t)r * d;
        const double *acc = e->accum + (size_t)r * d;
        if (e->digest)
            w->digest += pfr_sums_hash(r, acc, d);
        for (int j = 0; j < d; ++j)
            row[j] = noisy ? (float)((double)row[j] + (acc[j] + plan->noise_std * pfr_dp_gauss(sim->cfg.seed, plan->round,
                                                                                                 (uint64_t)r * d + j)) *
                                                          inv)
                           : (float)((double)row[j] + acc[j] * inv);
        memcpy(out + (size_t)x * rec, &r, 8);
        memcpy(out + (size_t)x * rec + 8, row, 4 * (size_t)d);
    }
    for (int64_t x = 0; x < w->ntouched; ++x) {
        const int32_t r = w->touched[x];
        memset(e->accum + (size_t)r * d, 0, sizeof(double) * (size_t)d);
        e->in_accum[r] = 0;
    }
    w->ntouched = 0;
    return nrows * (int64_t)rec;
}

/* The rows of Phi each rank owns: lo [R + 1]. */
static void row_ranges(const pfr_sim *sim, int64_t *lo)
{
    for (int o = 0; o <= sim->dsize; ++o)
        lo[o] = pfr_dist_first(sim->S, o, sim->dsize);
}

/* A local failure (memory) is kept in `local` and brought to the next agreement, so that every rank
 * still reaches every collective; the agreement gives all ranks the first failing rank's message. */
#define FAIL_LOCAL(fmt, ...)                                                                          \
    do {                                                                                              \
        if (local == PFR_OK)                                                                          \
            local = pfr_fail(&lerr, PFR_ERR_NO_MEMORY, fmt, __VA_ARGS__);                             \
    } while (0)

pfr_status pfr_cpu_round_dist(cpu_engine *e, uint64_t *participants)
{
    pfr_sim *sim = e->sim;
    const int R = sim->dsize, d = sim->d, me = sim->drank;
    const int64_t nown = sim->b1 - sim->b0, nblocks = (sim->N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    pfr_error lerr = {{0}};
    pfr_status local = PFR_OK, st;
    int64_t *lo = malloc(sizeof(int64_t) * (size_t)(3 * R + 1));
    if (!lo)
        return pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory");
    int64_t *send_bytes = lo + R + 1, *recv_bytes = lo + 2 * R + 1;
    row_ranges(sim, lo);
    const int64_t lo_me = lo[me], hi_me = lo[me + 1];

    pfr_cpu_run_own_blocks(e); /* steps and folds: e->part[b - b0] */
    /* tests: PFEDRL_TEST_FAIL_RANK=r@round makes rank r fail there, as a rank out of memory would */
    const char *hook = getenv("PFEDRL_TEST_FAIL_RANK");
    if (hook && atoi(hook) == me && strchr(hook, '@') && atoll(strchr(hook, '@') + 1) == e->plan->round)
        local = pfr_fail(&lerr, PFR_ERR_NO_MEMORY, "out of memory (PFEDRL_TEST_FAIL_RANK=%s: a failure made by a test)",
                         hook);
    if (sim->avg_phi && pack_parts(e, lo, send_bytes) != 0) {
        FAIL_LOCAL("out of memory for this rank's sums (%lld blocks)", (long long)nown);
        memset(send_bytes, 0, sizeof(int64_t) * (size_t)R);
    }
    if (!sim->avg_phi)
        memset(send_bytes, 0, sizeof(int64_t) * (size_t)R);
    if ((st = pfr_dist_agree(local, &lerr)) != PFR_OK)
        goto out;
    if ((st = pfr_dist_exchange(e->dist_send, send_bytes, &e->dist_recv, &e->dist_recv_cap, recv_bytes, &lerr)) != PFR_OK)
        goto out;
    if (sim->avg_phi && merge_received(e, recv_bytes, lo_me, hi_me) != 0)
        local = pfr_fail(&lerr, PFR_ERR_INTERNAL, "rank %d received sums of a row it does not own", me);

    /* the participants (integers: any order), theta's sums of every block in block order */
    uint64_t P = 0;
    for (int64_t p = 0; p < nown; ++p)
        P += e->part[p].count;
    if ((st = pfr_dist_sum_u64(&P, 1, &lerr)) != PFR_OK)
        goto out;
    if (sim->avg_theta) {
        if (!reserve(&e->dist_theta, &e->dist_theta_cap, sizeof(double) * (size_t)nblocks * d))
            FAIL_LOCAL("out of memory for %lld blocks' theta sums", (long long)nblocks);
        if ((st = pfr_dist_agree(local, &lerr)) != PFR_OK)
            goto out;
        double *all = e->dist_theta;
        for (int64_t p = 0; p < nown; ++p)
            memcpy(all + (size_t)(sim->b0 + p) * d, e->part[p].theta, sizeof(double) * (size_t)d);
        if ((st = pfr_dist_allgather_slices(all, nblocks, sizeof(double) * (size_t)d, &lerr)) != PFR_OK)
            goto out;
        for (int64_t b = 0; b < nblocks; ++b)
            for (int j = 0; j < d; ++j)
                e->theta_accum[j] += all[(size_t)b * d + j];
    }

    /* the mean on the rows this rank owns, then every rank's changed rows to every rank */
    int64_t mine = 0;
    if (sim->avg_phi && local == PFR_OK && (mine = apply_owned(e, P, lo_me, hi_me)) < 0) {
        FAIL_LOCAL("out of memory for %lld rows", (long long)(hi_me - lo_me));
        mine = 0;
    }
    if ((st = pfr_dist_agree(local, &lerr)) != PFR_OK)
        goto out;
    if (sim->avg_phi) {
        void *all = NULL;
        int64_t *lens = recv_bytes;
        if ((st = pfr_dist_allgatherv(e->dist_send, mine, &all, lens, &lerr)) != PFR_OK)
            goto out;
        const size_t rec = 8 + 4 * (size_t)d;
        size_t off = 0;
        for (int src = 0; src < R; ++src) {
            if (src != me)
                for (size_t x = 0; x < (size_t)lens[src] / rec; ++x) {
                    int64_t r;
                    memcpy(&r, (unsigned char *)all + off + x * rec, 8);
                    memcpy(sim->phi + (size_t)r * d, (unsigned char *)all + off + x * rec + 8, 4 * (size_t)d);
                }
            off += (size_t)lens[src];
        }
        free(all);
    }
    if (sim->avg_theta && P > 0)
        pfr_cpu_broadcast_mean_theta(e, (int64_t)P);
    e->participants = P;
    *participants = P;
    st = PFR_OK;
out:
    free(lo);
    if (st != PFR_OK)
        return pfr_sim_fail(sim, st, "%s", lerr.msg);
    return PFR_OK;
}

pfr_status pfr_cpu_dist_gather(cpu_engine *e, pfr_sim *sim)
{
    (void)e;
    const int R = sim->dsize;
    const int64_t nblocks = (sim->N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    int64_t *lo = malloc(sizeof(int64_t) * (size_t)(R + 1));
    pfr_error err = {{0}};
    pfr_status st = pfr_dist_agree(lo ? PFR_OK : pfr_fail(&err, PFR_ERR_NO_MEMORY, "out of memory"), &err);
    if (st != PFR_OK) {
        free(lo);
        return pfr_sim_fail(sim, st, "%s", err.msg);
    }
    for (int r = 0; r <= R; ++r) { /* rank r's agents: its blocks' */
        const int64_t a = pfr_dist_first(nblocks, r, R) * PFR_AGENT_BLOCK;
        lo[r] = a < sim->N ? a : sim->N;
    }
    const size_t S = (size_t)sim->S, d = (size_t)sim->d;
    uint8_t *avail = sim->fed_avail;
    st = pfr_dist_allgather_ranges(sim->theta, lo, sizeof(float) * d, &err);
    if (st == PFR_OK)
        st = pfr_dist_allgather_ranges(sim->state, lo, sizeof(uint32_t), &err);
    if (st == PFR_OK && sim->action)
        st = pfr_dist_allgather_ranges(sim->action, lo, 1, &err);
    if (st == PFR_OK && avail)
        st = pfr_dist_allgather_ranges(avail, lo, 1, &err);
    if (st == PFR_OK && sim->own_phi)
        st = pfr_dist_allgather_ranges(sim->agent_phi, lo, sizeof(float) * S * d, &err);
    free(lo);
    if (st != PFR_OK)
        return pfr_sim_fail(sim, st, "%s", err.msg);
    sim->host_current = 1;
    return PFR_OK;
}
