/*
 * cpu_engine.h — the CPU engine's state, shared by its parts: engine_cpu.c (its interface),
 * cpu_blocks.c (a round's groups and blocks, the generic step), cpu_group_step.h on its lane layers
 * (the 16-agent step and fold), cpu_philox.c (Philox for 16 agents), cpu_merge.c, cpu_setup.c.
 * Not part of the library's interface.
 */
#ifndef PFR_CPU_ENGINE_H
#define PFR_CPU_ENGINE_H

#include <stdatomic.h>
#include <stdint.h>

#include "cpu_path.h"
#include "cpu_step.h"
#include "engine.h"
#include "pool.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define PFR_X16 1 /* the AVX-512 and AVX2 16-agent steps are built (cpu_x16.c, cpu_group_avx2.c) */
/* The AVX-512 transposes' lane of each input row, per D (index D >> 3: 4 -> 0, 8 -> 1, 16 -> 2):
 * input row r of the network holds lane inv[D][r] (cpu_lanes_avx512.h, pfr_cpu_x16_init) */
typedef struct pfr_x16_layout {
    int inv[3][16];
} pfr_x16_layout;
#endif

#define PFR_CPU_BUCKETS 64 /* merge owners, at most: bucket q of nb holds the q-th nb-th of the rows
                              * (contiguous, so a bucket's sums stay in cache); thread t owns buckets
                              * nb t / T .. nb (t+1) / T - 1 */
#define PFR_CPU_BUCKET_MIN_ROWS 32 /* fewer buckets below 64 x this many states (at least one a thread): at
                                    * S = 48 the merge's loops over 64 buckets x blocks cost more than its adds */
#define PFR_CPU_WAVE_BUDGET ((size_t)256 << 20) /* bytes for all block parts of a wave */
#define PFR_CPU_MAX_WAVE 1024
#define PFR_CONTROL_STEP_CHUNK 16 /* control: steps whose words are drawn together (cpu_control.c) */
/* Measured choices: DESIGN §6, "Tuning constants" (the figures and their RESULTS entries). */
#define PFR_CPU_MAP_MAX_S 16384 /* slot maps up to here (16 S bytes a thread); hash tables above, which
                                 * fit L1; the 16-agent step scans slots instead wherever it can */
#define PFR_CPU_SCAN_MAX_R 32 /* the scan costs a compare per slot and step: up to here */
#define PFR_ENT_STATE_BITS 24    /* an entry's next state in the low bits of word 1 ... */
#define PFR_ENT_LEN_ESCAPE 255   /* ... its row's length in the high 8 (this: 255 or more, see rp32) */
#define PFR_SLOT_WIDTH 4         /* the chains in slots (cpu_slots.c): entries a state's slot holds */
#define PFR_SLOT_LONG 0xFFFFFFFFu /* word 1 of a long row's slot entries (the row lies after the slots) */
#define PFR_SLOT_MIN_BYTES (4 << 20) /* slots where the 16-byte entries take more than this (twice L2) */
#define PFR_CPU_NARROW_MIN_BYTES (1 << 20) /* narrow part rows where a wave's parts, all wide, take more
                                            * than this (~L2); small S stays wide (few sums are floats) */
#define PFR_SHAPE_SHARE 8 /* slots by shape where there are at most an eighth as many shapes as rows;
                           * they take the place of the slots by state */
#define PFR_SHAPE_SHARE_FORCED 2 /* ... half as many where a test asks for them (PFR_CPU_CHAINS_SHAPES) */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PFR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
/* GCC gives a cloned function's dispatcher default visibility whatever -fvisibility says: its
 * declaration says hidden, or libpfedrl.so would export it */
#define PFR_CLONED_DECL __attribute__((visibility("hidden")))
#else
#define PFR_CLONES
#define PFR_CLONED_DECL
#endif

/* The step's Philox for 16 agents (below): words 0 and 1, or all four (control). */
typedef void (*philox16_fn)(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0, uint32_t *w1);
typedef void (*philox16x4_fn)(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w);

/* One agent block's partial sums, on cache lines of its own (threads fill neighbouring parts at
 * once: a shared line would bounce between the cores on every fold; PFR_CPU_APART). */
typedef struct block_part {
    _Alignas(PFR_CPU_APART) int32_t *rows;  /* [cap] rows its participants changed, grouped by merge bucket (in a
                                  * thread's fill part: in first-touch order); in a wave's part a row
                                  * whose sums are wide has PFR_PART_WIDE set */
    double *vals;   /* the fill part: [cap, d] sum over its participants, in agent order, of Phi_i[r] - Phi[r] */
    unsigned char *sums; /* a wave's part: [cap] the same sums as d floats at each narrow row's place
                          * (pfr_narrow_bytes each: every sum exactly a float) ... */
    double *wide;   /* [cap, d] ... or as d doubles at a wide row's place */
    int32_t bstart[PFR_CPU_BUCKETS + 1]; /* bucket q: places bstart[q] .. bstart[q+1]-1 */
    int n, nwide;   /* rows, and how many of them wide (counted with narrow rows: e->narrow) */
    double *theta;  /* [d] sum of theta_i over its participants, in agent order */
    uint64_t count; /* participants */
} block_part;

/* A wave part's sums narrow where they can be (e->narrow; block_d copies them, cpu_merge.c reads
 * them): at large S almost every sum is a single agent's change, or a few of similar size, and so
 * exactly a float (S = 40,000, 16 types: all but 1 row in 30,000), so the copy writes and the merge
 * reads half the bytes. A row's sums are narrow only where converting them to float and back gives
 * each one's bits, so the merge adds the same doubles (NaN and numbers a float cannot hold stay
 * wide). Where the parts stay in cache and many agents add to a row (S = 48: 29% of the rows wide,
 * each a mispredicted branch) every row is wide. */
#define PFR_PART_WIDE ((int32_t)0x80000000) /* rows[x]: this row's sums are d doubles */
#define PFR_PART_ROW 0x7FFFFFFF

typedef long long pfr_l4 __attribute__((vector_size(32)));

/* Bytes of a narrow row: d floats, rounded up to 8 (so that wide rows stay 8-byte aligned). */
static inline __attribute__((always_inline)) int pfr_narrow_bytes(const int d) { return (4 * d + 7) & ~7; }

/* Whether every one of a row's d sums is exactly a float. */
static inline __attribute__((always_inline)) int pfr_sums_narrow(const double *restrict v, const int d)
{
    if (d % 4 == 0) {
        pfr_l4 ok = {-1, -1, -1, -1};
        for (int j = 0; j < d; j += 4) {
            pfr_d4 a;
            memcpy(&a, v + j, sizeof a);
            ok &= (pfr_l4)(a == __builtin_convertvector(__builtin_convertvector(a, pfr_v4), pfr_d4));
        }
        return (ok[0] & ok[1] & ok[2] & ok[3]) != 0;
    }
    int ok = 1;
    for (int j = 0; j < d; ++j)
        ok &= v[j] == (double)(float)v[j];
    return ok;
}

/* A narrow row written: the sums as floats (exact, pfr_sums_narrow). */
static inline __attribute__((always_inline)) void pfr_store_narrow(unsigned char *restrict dst, const double *restrict v,
                                                                   const int d)
{
    if (d % 4 == 0)
        for (int j = 0; j < d; j += 4) {
            pfr_d4 a;
            memcpy(&a, v + j, sizeof a);
            const pfr_v4 f = __builtin_convertvector(a, pfr_v4);
            memcpy(dst + 4 * (size_t)j, &f, sizeof f);
        }
    else
        for (int j = 0; j < d; ++j) {
            const float f = (float)v[j];
            memcpy(dst + 4 * (size_t)j, &f, sizeof f);
        }
}

/* Row r's place in a block part's rows (count n), made on the first agent that touched it (*fresh:
 * just made, its sums not yet written); pos [S] maps rows to places (-1: none yet). Every fold
 * (cpu_blocks.c, cpu_x16.c) goes through here: the group fold with the part's fields in locals (a
 * slot map's byte store would otherwise make every row reload them) and a new row's sums stored at
 * once, the others through pfr_part_row. */
static inline __attribute__((always_inline)) int32_t pfr_part_place(int32_t *restrict rows, int *n,
                                                                    int32_t *restrict pos, int32_t r, int *fresh)
{
    int32_t p = pos[r];
    *fresh = p < 0;
    if (p < 0) {
        p = (*n)++;
        pos[r] = p;
        rows[p] = r;
    }
    return p;
}

/* Row r's sums in block part bp, zeroed when new. */
static inline __attribute__((always_inline)) double *pfr_part_row(block_part *bp, int32_t *pos, int32_t r, const int d)
{
    int fresh;
    double *acc = bp->vals + (size_t)pfr_part_place(bp->rows, &bp->n, pos, r, &fresh) * d;
    if (fresh)
        memset(acc, 0, sizeof(double) * (size_t)d);
    return acc;
}

/* A thread's share of a wave's blocks, taken from the front by it and, once the others have run out
 * of their own, by them: on a line of its own (every thread writes it). */
typedef struct block_cursor {
    _Alignas(PFR_CPU_APART) atomic_llong next;
    int64_t end;
} block_cursor;

/* One per thread, on cache lines of its own (PFR_CPU_APART). */
typedef struct cpu_thread {
    _Alignas(PFR_CPU_APART) pfr_overlay lane[PFR_CPU_LANES];
    block_part fill;    /* the block being run: its folds land here (rows, vals [cap, d], n), in L1/L2,
                         * and are copied into the wave's part grouped by bucket when it is done, so
                         * that the merge reads each part's bucket as one run (cpu_blocks.c) */
    int32_t *pos;       /* [S] row -> its position in the fill part, -1 */
    int32_t *touched;   /* [S] rows this thread first added to the accumulator this round */
    int64_t ntouched;
    uint64_t participants;
    int failed;         /* local_rep: an agent's orthonormalization failed */
    float scratch[32];  /* the 16-agent step: a zero row, and a row to write, for lanes sitting out */
    int32_t *ov_rows;   /* [16, R+1] the lanes' overlay rows, vals [16, R+1, d] and maps [16, S+4] */
    float *ov_vals;
    uint8_t *ov_maps;
    double *bsum;       /* [bcap, d] one bucket's sums (a one-wave round merges and applies bucket by
                         * bucket here, in L1/L2, instead of in the [S, d] accumulator), bin [bcap] */
    unsigned char *bin;
    int32_t *btouched;  /* [bcap + 1] its rows in first-touch order (the merge writes the next place each time) */
    int32_t *ov_tabs;   /* without maps: the lanes' overlay tables [16, 2 cap] and their places [16, R+1] */
    uint32_t *ov_hpos;
    int32_t *ov_keys;   /* with e->scan: the lanes' overlay keys by slot [R, 16] (cpu_x16.c, mode 4), -1 */
    uint64_t digest;    /* tests (PFEDRL_TEST_SUMS_DIGEST): the hashes of the sums this thread applied */
} cpu_thread;

typedef struct cpu_engine {
    pfr_pool *pool;
    int T, W;       /* threads; block parts per wave */
    int vector;     /* the vector step (cpu_step.h); off: pfr_td_step itself (tests) */
    philox16_fn philox16;
    philox16x4_fn philox16x4;
    int R, cap;     /* overlay rows per agent; rows per block part */
    int map;        /* overlays through per-lane slot maps (else hash tables) */
    int scan;       /* the 16-agent step finds overlay rows by comparing all 16 lanes' slot keys at once
                     * (R <= PFR_CPU_SCAN_MAX_R, d <= 16) instead of through maps or tables */
    int nb;         /* merge buckets (cpu_setup.c's merge_buckets) */
    uint64_t bmul;  /* bucket of row r: (r * bmul) >> 32, bmul = floor(2^32 nb / S) */
    int32_t bfirst[PFR_CPU_BUCKETS + 1]; /* bucket q: rows bfirst[q] .. bfirst[q + 1] - 1 */
    int bcap;       /* rows of the largest bucket */
    int narrow;     /* the wave parts' rows narrow where they can be (block_part) */
    int digest;     /* tests: every applied row's sums hashed (pfr_sums_hash), PFEDRL_TEST_SUMS_DIGEST set */
    int x16;        /* full groups through the 16-agent step (cpu_group_step.h): e->group */
    void (*group)(struct cpu_engine *e, struct cpu_thread *w, int64_t i0, int *part); /* AVX-512 or AVX2 */
    int kernel;     /* what full groups take (PFR_CPU_KERNEL_*: avx512, avx2, per_agent, scalar) */
    int fold16;     /* the groups' folds through e->fold (AVX-512 or AVX2, d a multiple of 8; also
                     * where the step is the per-agent one, as at d = 32 in L1) */
    void (*fold)(block_part *bp, int32_t *pos, pfr_overlay *lane, const int *part, int G, const float *phi,
                 const int d);
#ifdef PFR_X16
    pfr_x16_layout x16_layout;
#endif
    uint32_t *rp32;      /* [M, S+1] row pointers in 32 bits, for gathers (NULL when the chains are too large) */
    int prefetch;        /* the chains and Phi outgrow the caches: prefetch a step ahead */
    uint32_t *ent;       /* [nnz, 4] each entry's threshold, next state, reward (bits) and the next state's
                          * first entry together: a row's search, its result and the next row share cache
                          * lines (two misses fewer per step at large S) */
    int ent_next_row;    /* word 1 also holds the next row's length (S < 2^PFR_ENT_STATE_BITS) */
    uint32_t *slots;     /* instead of ent at large S (the step's modes 3 and 4): [M S PFR_SLOT_WIDTH + long rows' entries, 2]
                          * each state's row at (type S + state) PFR_SLOT_WIDTH (cpu_slots.c) */
    float *rewards;      /* the chains' distinct rewards, indexed by the slots' entries */
    int slot_bits;       /* bits of a slot entry's next state; the next row's long flag above them (by
                          * shape: whether the next state is written as itself) */
    unsigned char *shape_of; /* [M S] numbers of shape_bytes bytes (+4 bytes), with the slots by shape
                          * (cpu_slots.c): state s of type m has the row of slot shape_base[m] + its
                          * number without its top bit, a long row where that bit is set; NULL: the
                          * slots by state */
    int shape_bytes;     /* 1: numbers per type (shape_base), 2: for all types (shape_base NULL: 0) */
    int32_t *shape_base; /* [M] */
    int32_t *row_idx;    /* [N] with prefetch and next rows in the entries: each agent's row, as an index into
                          * rp32 (type (S + 1) + state; -1 none), and its first entry and length, left by its
                          * last step, so that a group starts without two gathers from the row pointers (a
                          * miss each at large S); used only where it matches the agent's state */
    uint32_t *row_lo, *row_n;
    int iters;      /* halvings of the threshold search for the longest row of the chains */
    cpu_thread *th;
    block_cursor *cur;     /* [T] the wave's blocks, a contiguous share per thread: a thread steps the same
                            * agents round after round while the shares are even, so their theta and
                            * states stay in its cache (taken by whoever came first, blocks moved between
                            * the cores from round to round: 2%-5% of a round with 2 threads) */
    block_part *part;      /* [W] */
    double *accum;         /* [S, d] the round's sum of Phi_i - Phi over the rows in in_accum */
    unsigned char *in_accum; /* [S] */
    double *theta_accum;   /* [d] */
    double *pending;       /* [d, d] R of the last orthonormalization, not yet applied to theta */
    int has_pending;
    /* the round in progress, for the jobs */
    pfr_sim *sim;
    const pfr_round_plan *plan;
    const float *base0;    /* the Phi every agent starts from when all start from the same one (no drawn delays) */
    uint64_t participants;
    /* over MPI ranks (cpu_dist.c): the exchange's buffers, kept from round to round */
    void *dist_send, *dist_recv, *dist_theta;
    size_t dist_send_cap, dist_recv_cap, dist_theta_cap;
    int64_t *dist_count; /* [2, own blocks, ranks] rows of each block for each owner, where its record
                          * starts; [ranks] cursors */
    size_t dist_count_cap;
    int32_t *dist_owner; /* [the parts' rows] each row's owner */
    size_t dist_owner_cap;
    /* the next block (or group) to take: written by every thread, so on a line of its own, away
     * from the fields above that every step reads */
    _Alignas(PFR_CPU_APART) atomic_llong next;
    char next_pad[PFR_CPU_APART - sizeof(atomic_llong)];
} cpu_engine;

/* A group's start of round, both step paths (cpu_blocks.c's run_group, cpu_x16.c): the words of
 * step 0, and for agents i0 .. i0+G-1 whether each takes part, its state, its type's rows, its
 * theta (last round's orthonormalization applied to it, for every agent) and its own Phi_i. */
static inline __attribute__((always_inline)) void pfr_cpu_group_begin(cpu_engine *e, int64_t i0, int G, int D,
                                                                      uint32_t *u, uint32_t *w1, int *part,
                                                                      uint32_t *s, const uint64_t **rp, float **th,
                                                                      float **own)
{
    pfr_sim *sim = e->sim;
    const pfr_env *env = sim->env;
    const int S = sim->S;
    e->philox16(sim->cfg.seed, i0, e->plan->t0, u, w1);
    for (int g = 0; g < G; ++g) {
        const int64_t i = i0 + g;
        part[g] = (uint64_t)w1[g] < e->plan->part_threshold && (!e->plan->steps || e->plan->steps[i] > 0);
        s[g] = sim->state[i];
        rp[g] = env->row_ptr + (size_t)pfr_agent_type(sim, i) * (S + 1);
        th[g] = sim->theta + (size_t)i * D;
        own[g] = sim->own_phi ? sim->agent_phi + (size_t)i * S * D : NULL;
        if (e->has_pending)
            pfr_map_theta(e->pending, th[g], D);
    }
}

/* A group's federation draws (run_group): each agent's steps this round and the Phi it starts from
 * (its age's; the current Phi without delays). */
static inline __attribute__((always_inline)) void pfr_cpu_group_fed(const cpu_engine *e, int64_t i0, int G,
                                                                    uint32_t *nk, const float **base)
{
    const pfr_round_plan *plan = e->plan;
    for (int g = 0; g < G; ++g) {
        nk[g] = plan->steps ? plan->steps[i0 + g] : (uint32_t)plan->K;
        base[g] = plan->base ? plan->base[plan->age ? plan->age[i0 + g] : plan->age0] : e->sim->phi;
    }
}

/* Control's local steps for agents i0 .. i0+G-1 (cpu_control.c): SARSA or Q-learning on the rows
 * (s, a) of Phi; part[g] set as pfr_cpu_group_begin sets it. */
void pfr_cpu_group_control(cpu_engine *e, cpu_thread *w, int64_t i0, int G, int *part, int vec);

/* The merge bucket of row r (rows are contiguous and rising in buckets). */
static inline __attribute__((always_inline)) int pfr_bucket(const cpu_engine *e, int32_t r)
{
    return (int)(((uint64_t)(uint32_t)r * e->bmul) >> 32);
}

/* A block's fill part (w->fill) copied into its wave part bp grouped by merge bucket (a counting
 * sort), so that the merge reads a block's rows of a bucket as one run; with narrow rows (a
 * constant: block_d without, pfr_cpu_part_copy_narrow with) each row's sums as floats where every
 * one is exactly a float, else as doubles, flagged PFR_PART_WIDE and counted. The row map emptied
 * for the next block. */
static inline __attribute__((always_inline)) void pfr_part_copy(const cpu_engine *e, cpu_thread *w, block_part *bp,
                                                                const int d, const int narrow)
{
    const block_part *fp = &w->fill;
    const int32_t *restrict frows = fp->rows;
    const double *restrict fvals = fp->vals;
    int32_t *restrict brows = bp->rows;
    unsigned char *restrict bsums = bp->sums;
    double *restrict bwide = bp->wide;
    int32_t *restrict pos = w->pos;
    const int n = fp->n, nb = e->nb;
    int32_t *bs = bp->bstart;
    memset(bs, 0, sizeof bp->bstart);
    for (int p = 0; p < n; ++p)
        bs[pfr_bucket(e, frows[p]) + 1]++;
    for (int q = 0; q < nb; ++q)
        bs[q + 1] += bs[q];
    int32_t fill[PFR_CPU_BUCKETS];
    int nwide = 0;
    memcpy(fill, bs, sizeof(int32_t) * (size_t)nb);
    if (!narrow) { /* (the loop as it was before the narrow rows: see block_d) */
        for (int p = 0; p < n; ++p) {
            const int32_t r = frows[p], x = fill[pfr_bucket(e, r)]++;
            brows[x] = r;
            memcpy(bwide + (size_t)x * d, fvals + (size_t)p * d, sizeof(double) * (size_t)d);
            pos[r] = -1;
        }
        bp->n = n;
        return;
    }
    for (int p = 0; p < n; ++p) {
        const int32_t r = frows[p], x = fill[pfr_bucket(e, r)]++;
        const double *v = fvals + (size_t)p * d;
        if (pfr_sums_narrow(v, d)) {
            brows[x] = r;
            pfr_store_narrow(bsums + (size_t)x * (size_t)pfr_narrow_bytes(d), v, d);
        } else {
            brows[x] = r | PFR_PART_WIDE;
            memcpy(bwide + (size_t)x * d, v, sizeof(double) * (size_t)d);
            nwide++;
        }
        pos[r] = -1;
    }
    bp->n = n;
    bp->nwide = nwide;
}

/* block_d's copy of a block's fill part into its wave part bp where the parts hold narrow rows
 * (cpu_merge.c; e->narrow). */
PFR_CLONED_DECL void pfr_cpu_part_copy_narrow(cpu_engine *e, cpu_thread *w, block_part *bp);
/* After a wave's steps (cpu_merge.c), for the merge buckets q0 .. q1-1 of the calling thread: the
 * parts of blocks w0 .. wend-1 added into the accumulator; or, for a round of one wave without
 * noise, merged and applied bucket by bucket; then (several waves) the mean change applied to the
 * rows this thread added, with noise (the private aggregation) to all rows of its buckets. */
PFR_CLONED_DECL void pfr_cpu_merge_wave(cpu_engine *e, cpu_thread *w, int64_t w0, int64_t wend, int q0, int q1);
PFR_CLONED_DECL void pfr_cpu_merge_apply(cpu_engine *e, cpu_thread *w, int64_t nblocks, int q0, int q1,
                                         int64_t participants);
void pfr_cpu_apply_rows(cpu_engine *e, cpu_thread *w, int64_t participants);
void pfr_cpu_apply_rows_noisy(cpu_engine *e, cpu_thread *w, int tid, int64_t participants);

/* The chains in slots for the 16-agent step (cpu_slots.c), in memory from alloc: 1 built (e->slots,
 * e->rewards, e->slot_bits), 0 not worth it or not possible (too many long rows or distinct rewards),
 * -1 out of memory. */
int pfr_cpu_slots_build(cpu_engine *e, const pfr_sim *sim, void *(*alloc)(size_t));
/* The chains by shape (cpu_slots.c): the slots of the distinct rows, and each state's shape
 * (e->shape_of); 1 built, 0 not possible or not worth it (more than 2^15 shapes or more than
 * 1 / share as many as rows, too many distinct rewards or long rows), -1 out of memory. */
int pfr_cpu_shapes_build(cpu_engine *e, const pfr_sim *sim, int share, void *(*alloc)(size_t));

/* Over MPI ranks (cpu_dist.c, dist.h): a shared-Phi round of this rank's blocks, the rows' sums at
 * their owners, the changed rows to every rank (its participants into *participants; the handle's
 * message on failure, the same on every rank); and the other ranks' agents gathered into the host
 * arrays (theta, states, actions, availability, Phi_i), a collective. cpu_blocks.c: this rank's blocks
 * stepped and folded into their parts (one wave), and the mean theta handed to its agents. */
pfr_status pfr_cpu_round_dist(cpu_engine *e, uint64_t *participants);
pfr_status pfr_cpu_dist_gather(cpu_engine *e, pfr_sim *sim);

/* A round's work on the pool (cpu_blocks.c): a shared-Phi round of every block in waves, merged
 * and applied (one process); this rank's blocks stepped and folded into their parts, one wave
 * (cpu_dist.c); the mean theta handed to this rank's agents; the independent learners' round
 * (local_rep, local_td); the pending theta map applied to this rank's agents. */
void pfr_cpu_run_shared(cpu_engine *e);
void pfr_cpu_run_own_blocks(cpu_engine *e);
void pfr_cpu_broadcast_mean_theta(cpu_engine *e, int64_t participants);
void pfr_cpu_run_independent(cpu_engine *e);
void pfr_cpu_apply_pending(cpu_engine *e);

/* Tests (PFEDRL_TEST_SUMS_DIGEST): a hash of row r's d sums, in double, bit for bit, just before they
 * are applied; the engine adds these up (mod 2^64: any order), so that two runs whose Phi agree
 * can still be told apart by the last bit of a sum (which Phi's float rounding almost always hides). */
static inline uint64_t pfr_sums_hash(int64_t r, const double *acc, int d)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)r;
    for (int j = 0; j < d; ++j) {
        uint64_t b;
        memcpy(&b, acc + j, 8);
        h = (h ^ b) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

/* The engine's work space allocated, its path chosen (on failure nothing is kept), and freed
 * (cpu_setup.c); pfr_engine_cpu_init (engine_cpu.c) starts the engine with it. */
pfr_status pfr_cpu_setup(pfr_sim *sim, pfr_error *err);
void pfr_cpu_engine_destroy(pfr_sim *sim);

/* Philox for 16 agents (cpu_philox.c): words 0 and 1 of agents i0 .. i0+15 at step t. */
void pfr_cpu_philox16_scalar(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0, uint32_t *w1);
void pfr_cpu_philox16x4_scalar(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w);
#if defined(__x86_64__) && defined(__GNUC__)
#define PFR_HAVE_X86_PHILOX 1
void pfr_cpu_philox16_avx2(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0, uint32_t *w1);
void pfr_cpu_philox16_avx512(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w0, uint32_t *w1);
void pfr_cpu_philox16x4_avx512(uint64_t seed, int64_t i0, uint64_t t, uint32_t *w);
#endif

/* The 16-agent step of a full group with AVX-512 (cpu_x16.c), AVX2 (cpu_group_avx2.c) or portable
 * vector code (cpu_group_portable.c), and the fold of a group's overlays (the lanes with part[g], in
 * index order) for d a multiple of 8 (each); the same bits as run_group and fold_agent (cpu_blocks.c). */
void pfr_cpu_group_portable(cpu_engine *e, cpu_thread *w, int64_t i0, int *part);
void pfr_cpu_fold_portable(block_part *bp, int32_t *pos, pfr_overlay *lane, const int *part, int G, const float *phi,
                           const int d);
#ifdef PFR_X16
void pfr_cpu_group_x16(cpu_engine *e, cpu_thread *w, int64_t i0, int *part);
void pfr_cpu_x16_init(pfr_x16_layout *lay); /* the AVX-512 transposes' layout, once */
void pfr_cpu_group_avx2(cpu_engine *e, cpu_thread *w, int64_t i0, int *part);
void pfr_cpu_fold_x16(block_part *bp, int32_t *pos, pfr_overlay *lane, const int *part, int G, const float *phi,
                      const int d);
void pfr_cpu_fold_avx2(block_part *bp, int32_t *pos, pfr_overlay *lane, const int *part, int G, const float *phi,
                       const int d);
#endif

#endif
