/*
 * cpu_setup.c — the CPU engine's start and end: its work space sized (pfr_engine_cpu_bytes, for
 * the memory plan), allocated (line-aligned where a thread writes, huge pages for the tables the
 * steps read at random), the path chosen, and everything freed. engine_cpu.c starts the engine
 * with it; the rounds are cpu_blocks.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu_engine.h"

void pfr_cpu_engine_destroy(pfr_sim *sim)
{
    cpu_engine *e = sim->engine_state;
    if (!e)
        return;
    pfr_pool_destroy(e->pool);
    for (int t = 0; e->th && t < e->T; ++t) {
        cpu_thread *w = &e->th[t];
        free(w->bsum);
        free(w->bin);
        free(w->btouched);
        free(w->ov_tabs);
        free(w->ov_hpos);
        free(w->ov_keys);
        free(w->ov_rows);
        free(w->ov_vals);
        free(w->ov_maps);
        free(w->pos);
        free(w->touched);
        free(w->fill.rows);
        free(w->fill.vals);
    }
    for (int p = 0; e->part && p < e->W; ++p) {
        free(e->part[p].rows);
        free(e->part[p].sums);
        free(e->part[p].wide);
        free(e->part[p].theta);
    }
    free(e->part);
    free(e->dist_send);
    free(e->dist_recv);
    free(e->dist_theta);
    free(e->dist_count);
    free(e->dist_owner);
    free(e->th);
    free(e->cur);
    free(e->accum);
    free(e->in_accum);
    free(e->theta_accum);
    free(e->pending);
    free(e->rp32);
    free(e->ent);
    free(e->slots);
    free(e->rewards);
    free(e->shape_of);
    free(e->shape_base);
    free(e->row_idx);
    free(e->row_lo);
    free(e->row_n);
    free(e);
    sim->engine_state = NULL;
}

/* A table the steps read at random: on 2 MiB pages where the system offers them (transparent huge
 * pages on request), so that at large S a lookup misses the TLB less often. */
static void *big_alloc(size_t bytes)
{
    const size_t align = (size_t)2 << 20;
    const size_t rounded = (bytes + align - 1) / align * align;
    void *p = aligned_alloc(bytes >= align ? align : 64, bytes >= align ? rounded : (bytes + 63) / 64 * 64);
#ifdef MADV_HUGEPAGE
    if (p && bytes >= align)
        (void)madvise(p, rounded, MADV_HUGEPAGE); /* a hint: nothing depends on it */
#endif
    return p;
}

/* Work space that one thread writes: on cache lines of its own, so no two threads ever write the same
 * line (a shared one would bounce between cores at every fold), nor the two lines of a pair that the
 * L2 fetches together (whole pairs, pair-aligned: PFR_CPU_APART). A variant of the engine with a second
 * set of lane overlays per thread lost 10% with 2 threads to lines 64 bytes apart, none with 128. */
static void *line_alloc(size_t bytes)
{
    const size_t a = PFR_CPU_APART;
    return aligned_alloc(a, (bytes + a - 1) / a * a + (bytes == 0) * a);
}

static void *line_calloc(size_t bytes)
{
    void *p = line_alloc(bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

/* Overlay table size: a power of two at least twice the rows (a short probe), at least 16. */
static uint32_t table_log2(int R)
{
    uint32_t lg = 4;
    while ((1u << lg) < 2u * (uint32_t)R)
        ++lg;
    return lg;
}

/* Merge buckets: 64, or one per PFR_CPU_BUCKET_MIN_ROWS states where S is small, and at least one a
 * thread. The buckets only say which thread adds which rows: each row's sum is the same whatever
 * they are. */
static int merge_buckets(int S, int T)
{
    const int nb = S / PFR_CPU_BUCKET_MIN_ROWS > T ? S / PFR_CPU_BUCKET_MIN_ROWS : T;
    return nb < PFR_CPU_BUCKETS ? nb : PFR_CPU_BUCKETS;
}

/* The first row of each of nb merge buckets (rows are in bucket (r * bmul) >> 32, contiguous and
 * rising), and the largest bucket's rows. */
static void bucket_bounds(int S, int nb, uint64_t bmul, int32_t *first, int *cap)
{
    int q = 0;
    first[0] = 0;
    for (int r = 0; r < S; ++r)
        for (const int b = (int)(((uint64_t)(uint32_t)r * bmul) >> 32); q < b;)
            first[++q] = r;
    while (q < nb)
        first[++q] = S;
    *cap = 1;
    for (q = 0; q < nb; ++q)
        *cap = first[q + 1] - first[q] > *cap ? first[q + 1] - first[q] : *cap;
}

double pfr_engine_cpu_bytes(int S, int d, int K, int M, double nnz, int T, int shared, int64_t N, int64_t wave_blocks)
{
    const double R = K < S ? K : S, dd = d;
    double bytes = 8.0 * dd * dd + 8.0 * dd + 12.0 * (double)N; /* pending R, theta sum, the row cache */
    /* the 16-agent step's row pointers, and its entries (16 bytes each) or slots (cpu_slots.c: 8 bytes
     * each, PFR_SLOT_WIDTH a state, long rows after them), whichever is larger */
    const double ents = 16.0 * nnz, slots = 8.0 * (PFR_SLOT_WIDTH * (double)M * S + nnz);
    bytes += 4.0 * M * (S + 1.0) + (ents > slots ? ents : slots);
    double per_thread = 4.0 * S * 2.0;       /* row map, touched rows */
    if (shared) {
        int cap, W;
        pfr_cpu_part_sizes(S, d, K, N, T, &cap, &W);
        if (wave_blocks > 0) /* over MPI ranks: a rank's blocks in one wave (cpu_dist.c) */
            W = (int)wave_blocks;
        bytes += 8.0 * S * dd + S + W * pfr_cpu_part_bytes(cap, d); /* accumulator, parts */
        per_thread += (double)cap * (8.0 * dd + 4.0); /* the fill part */
        per_thread += ((double)S / merge_buckets(S, T) + 2.0) * (8.0 * dd + 5.0); /* one bucket's sums */
        per_thread += PFR_CPU_LANES * ((R < 255 && S <= PFR_CPU_MAP_MAX_S ? (double)S : 8.0 * (double)(1u << table_log2((int)R))) +
                                       (R + 1.0) * (8.0 + 4.0 * dd) + 4.0 * R);
    }
    return bytes + T * per_thread;
}

/* Lane overlays for 16 agents in w (lane, ov_*): one block each, which the 16-agent step addresses by
 * offset. */
static int overlays_alloc(cpu_engine *e, cpu_thread *w, int S, int d, uint32_t lg)
{
    const size_t rows1 = (size_t)e->R + 1, mstride = (size_t)S + 4; /* +4: a dword gather reads past a byte */
    w->ov_rows = line_alloc(sizeof(int32_t) * rows1 * PFR_CPU_LANES);
    w->ov_vals = line_alloc(sizeof(float) * rows1 * d * PFR_CPU_LANES);
    const size_t tab = (size_t)2 << lg; /* ints per lane's table */
    w->ov_maps = e->map ? line_alloc(mstride * PFR_CPU_LANES) : NULL;
    w->ov_tabs = e->map ? NULL : line_alloc(sizeof(int32_t) * tab * PFR_CPU_LANES);
    w->ov_hpos = e->map ? NULL : line_alloc(sizeof(uint32_t) * rows1 * PFR_CPU_LANES);
    w->ov_keys = e->scan ? line_alloc(sizeof(int32_t) * (size_t)e->R * PFR_CPU_LANES) : NULL;
    const int ok = w->ov_rows && w->ov_vals && (e->map ? w->ov_maps != NULL : w->ov_tabs && w->ov_hpos) &&
                   (!e->scan || w->ov_keys);
    for (int x = 0; ok && e->scan && x < e->R * PFR_CPU_LANES; ++x)
        w->ov_keys[x] = -1;
    if (ok && e->map)
        memset(w->ov_maps, 0xFF, mstride * PFR_CPU_LANES);
    for (size_t h = 0; ok && !e->map && h < tab * PFR_CPU_LANES; h += 2)
        w->ov_tabs[h] = -1;
    for (int g = 0; ok && g < PFR_CPU_LANES; ++g) {
        pfr_overlay *o = &w->lane[g];
        o->shift = 32 - lg;
        o->mask = (1u << lg) - 1;
        o->rows = w->ov_rows + rows1 * g;
        o->vals = w->ov_vals + rows1 * d * g;
        if (e->map) {
            o->map = w->ov_maps + mstride * g;
        } else { /* the 16-agent step addresses the tables by offset too (cpu_x16.c, mode 3) */
            o->table = w->ov_tabs + tab * g;
            o->hpos = w->ov_hpos + rows1 * g;
        }
    }
    return ok;
}

/* ---- the stages of the engine's start ----------------------------------------------------------- */

/* The kernel and what comes with it (the path's choice): Philox's variant, the 16-agent step and
 * fold (cpu_group_step.h on its three lane layers), whether steps vectorize along d. */
static void apply_kernel(cpu_engine *e, const pfr_cpu_path *p)
{
    e->vector = p->vector;
    e->x16 = p->x16;
    e->fold16 = p->fold16;
    e->kernel = p->runs;
    e->philox16 = pfr_cpu_philox16_scalar;
    e->philox16x4 = pfr_cpu_philox16x4_scalar;
#ifdef PFR_HAVE_X86_PHILOX
    if (p->philox4_avx512)
        e->philox16x4 = pfr_cpu_philox16x4_avx512;
    if (p->philox == PFR_CPU_PHILOX_AVX512)
        e->philox16 = pfr_cpu_philox16_avx512;
    else if (p->philox == PFR_CPU_PHILOX_AVX2)
        e->philox16 = pfr_cpu_philox16_avx2;
#endif
    e->group = pfr_cpu_group_portable;
    e->fold = pfr_cpu_fold_portable;
#ifdef PFR_X16
    if (p->kernel == PFR_CPU_KERNEL_AVX512) {
        e->group = pfr_cpu_group_x16;
        e->fold = pfr_cpu_fold_x16;
        pfr_cpu_x16_init(&e->x16_layout);
    } else if (p->kernel == PFR_CPU_KERNEL_AVX2) {
        e->group = pfr_cpu_group_avx2;
        e->fold = pfr_cpu_fold_avx2;
    }
#endif
}

/* The tables the 16-agent step gathers from, where the path has them (row pointers in 32 bits, the
 * chains as entries or in slots, the agents' row cache); 0 when out of memory. */
static int build_step_tables(cpu_engine *e, pfr_sim *sim, const pfr_cpu_path *p)
{
    const int S = sim->S;
    int ok = 1;
    if (p->gathers) {
        const size_t nrp = (size_t)sim->M * (S + 1), nnz = (size_t)sim->env->nnz;
        e->rp32 = big_alloc(sizeof(uint32_t) * nrp);
        ok = e->rp32 != NULL;
        for (size_t r = 0; ok && r < nrp; ++r)
            e->rp32[r] = (uint32_t)sim->env->row_ptr[r];
        e->prefetch = p->prefetch;
        /* the chains in slots by shape where rows repeat, else by state, else entries (cpu_slots.c):
         * shapes and slots decline where the chains' content does not suit them */
        int built = 0;
        if (ok && p->chains == PFR_CPU_SHAPES)
            built = pfr_cpu_shapes_build(e, sim, sim->cpu.chains == PFR_CPU_CHAINS_SHAPES ? PFR_SHAPE_SHARE_FORCED
                                                                                           : PFR_SHAPE_SHARE,
                                         big_alloc);
        if (ok && p->chains != PFR_CPU_ENTRIES && built == 0)
            built = pfr_cpu_slots_build(e, sim, big_alloc);
        ok = ok && built >= 0;
        /* an entry carries its next state's row as well (words 1 and 3), so that a step finds the
         * next row in the line it already has: without it, the row pointer was a second miss in a
         * chain of two at large S (the next state, then its row, then the row's entries) */
        e->ent_next_row = (uint64_t)S < ((uint64_t)1 << PFR_ENT_STATE_BITS);
        if (ok && !e->slots) {
            e->ent = big_alloc(sizeof(uint32_t) * 4 * nnz);
            ok = e->ent != NULL;
        }
        for (size_t r = 0; ok && !e->slots && r < nrp; ++r) {
            if (r % (size_t)(S + 1) == (size_t)S)
                continue;
            const size_t m0 = r - r % (size_t)(S + 1); /* this type's first row */
            for (size_t j = sim->env->row_ptr[r]; j < sim->env->row_ptr[r + 1]; ++j) {
                const uint32_t nx = sim->env->next[j];
                const uint64_t len = sim->env->row_ptr[m0 + nx + 1] - sim->env->row_ptr[m0 + nx];
                e->ent[4 * j] = sim->env->thr[j];
                e->ent[4 * j + 1] = nx;
                if (e->ent_next_row)
                    e->ent[4 * j + 1] |= (uint32_t)(len < PFR_ENT_LEN_ESCAPE ? len : PFR_ENT_LEN_ESCAPE)
                                         << PFR_ENT_STATE_BITS;
                memcpy(&e->ent[4 * j + 2], &sim->env->reward[j], sizeof(float));
                e->ent[4 * j + 3] = e->rp32[m0 + nx];
            }
        }
        if (ok && e->prefetch && e->ent_next_row && !e->slots) { /* the agents' row cache (cpu_engine.h), empty */
            e->row_idx = line_alloc(sizeof(int32_t) * (size_t)sim->N);
            e->row_lo = line_calloc(sizeof(uint32_t) * (size_t)sim->N);
            e->row_n = line_calloc(sizeof(uint32_t) * (size_t)sim->N);
            ok = e->row_idx && e->row_lo && e->row_n;
            for (int64_t i = 0; ok && i < sim->N; ++i)
                e->row_idx[i] = -1;
        }
    }
    return ok;
}

/* The algorithms that average: the accumulator [S, d] and each wave slot's block part. */
static int allocate_parts(cpu_engine *e, const pfr_sim *sim, int shared)
{
    const int S = sim->S, d = sim->d;
    int ok = 1;
    if (shared) {
        e->accum = calloc((size_t)S * d, sizeof(double));
        e->in_accum = calloc((size_t)S, 1);
        e->part = line_calloc(sizeof *e->part * (size_t)e->W);
        ok = e->accum && e->in_accum && e->part;
        for (int p = 0; ok && p < e->W; ++p) {
            block_part *bp = &e->part[p];
            bp->rows = line_alloc(sizeof(int32_t) * (size_t)e->cap);
            bp->wide = line_alloc(sizeof(double) * (size_t)e->cap * d);
            bp->sums = e->narrow ? line_alloc((size_t)pfr_narrow_bytes(d) * (size_t)e->cap) : NULL;
            bp->theta = line_calloc(sizeof(double) * (size_t)d);
            ok = bp->rows && (bp->sums || !e->narrow) && bp->wide && bp->theta;
        }
    }
    return ok;
}

/* The merge's buckets: contiguous ranges of rows, at least one a thread. */
static void make_buckets(cpu_engine *e, int S)
{
    e->nb = merge_buckets(S, e->T);
    e->bmul = ((uint64_t)e->nb << 32) / (uint64_t)S;
    bucket_bounds(S, e->nb, e->bmul, e->bfirst, &e->bcap);
}

/* The threshold search's halvings: enough for the chains' longest row. */
static void search_depth(cpu_engine *e, const pfr_sim *sim)
{
    const int S = sim->S;
    uint64_t longest = 1; /* the longest row of the chains sets the search's halvings */
    for (uint64_t r = 0; r < (uint64_t)sim->M * (uint64_t)(S + 1); ++r)
        if (r % (uint64_t)(S + 1) != (uint64_t)S) {
            const uint64_t n = sim->env->row_ptr[r + 1] - sim->env->row_ptr[r];
            longest = n > longest ? n : longest;
        }
    if (e->slots && longest < PFR_SLOT_WIDTH) /* a slot's search covers all its entries */
        longest = PFR_SLOT_WIDTH;
    e->iters = 0;
    while ((1ull << e->iters) < longest)
        ++e->iters;
}

/* Each thread's work space: its row positions, its merge buffers and fill part, its overlays. */
static int allocate_threads(cpu_engine *e, const pfr_sim *sim, int shared)
{
    const int S = sim->S, d = sim->d;
    const uint32_t lg = table_log2(e->R);
    int ok = 1;
    for (int t = 0; ok && t < e->T; ++t) {
        cpu_thread *w = &e->th[t];
        w->pos = line_alloc(sizeof(int32_t) * (size_t)S);
        w->touched = line_alloc(sizeof(int32_t) * (size_t)S);
        ok = w->pos && w->touched;
        for (int s = 0; ok && s < S; ++s)
            w->pos[s] = -1;
        if (ok && shared && sim->avg_phi) {
            w->bsum = line_calloc(sizeof(double) * (size_t)e->bcap * d);
            w->bin = line_calloc((size_t)e->bcap);
            w->btouched = line_alloc(sizeof(int32_t) * ((size_t)e->bcap + 1)); /* +1: the merge writes one past its rows */
            ok = w->bsum && w->bin && w->btouched;
        }
        if (ok && shared) {
            w->fill.rows = line_alloc(sizeof(int32_t) * (size_t)e->cap);
            w->fill.vals = line_alloc(sizeof(double) * (size_t)e->cap * d);
            ok = w->fill.rows && w->fill.vals;
        }
        if (ok && shared && sim->learn_phi)
            ok = overlays_alloc(e, w, S, d, lg);
    }
    return ok;
}

/* The run's shape, as the path's choice sees it. */
static pfr_cpu_run run_shape(const pfr_sim *sim)
{
    pfr_cpu_run z = {sim->S, sim->d, sim->K, sim->threads, sim->M, sim->N, (double)sim->env->nnz, sim->control != 0,
                     sim->learn_phi, sim->own_phi, !sim->own_phi && (sim->avg_phi || sim->avg_theta),
                     sim->dsize, sim->b1 - sim->b0};
    return z;
}

pfr_status pfr_cpu_setup(pfr_sim *sim, pfr_error *err)
{
    /* the kernel (cpu_kernel; tests force each through sim->cpu.kernel): all give the same bits */
    const pfr_status st = pfr_cpu_kernel_check(sim->cpu.kernel, err);
    if (st != PFR_OK)
        return st;
    const pfr_cpu_run z = run_shape(sim);
    const pfr_cpu_path p = pfr_cpu_choose(&sim->cpu, pfr_cpu_features_here(), &z);
    cpu_engine *e = line_calloc(sizeof *e);
    if (!e)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    sim->engine_state = e;
    e->T = sim->threads;
    apply_kernel(e, &p);
    e->R = p.R;
    e->cap = p.cap;
    e->W = p.W;
    e->narrow = p.narrow;
    e->map = p.map;
    e->scan = p.scan;
    e->digest = getenv("PFEDRL_TEST_SUMS_DIGEST") != NULL;
    e->pool = pfr_pool_create(e->T);
    e->th = line_calloc(sizeof *e->th * (size_t)e->T);
    e->cur = line_calloc(sizeof *e->cur * (size_t)e->T);
    e->pending = calloc((size_t)sim->d * sim->d, sizeof(double));
    e->theta_accum = calloc((size_t)sim->d, sizeof(double));
    int ok = e->pool && e->th && e->cur && e->pending && e->theta_accum;
    ok = ok && build_step_tables(e, sim, &p);
    ok = ok && allocate_parts(e, sim, z.shared);
    make_buckets(e, sim->S);
    search_depth(e, sim);
    ok = ok && allocate_threads(e, sim, z.shared);
    if (!ok) {
        pfr_cpu_engine_destroy(sim);
        sim->engine_state = NULL;
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for the CPU engine's work space (%d threads, S=%d, d=%d)",
                        sim->threads, sim->S, sim->d);
    }
    return PFR_OK;
}
