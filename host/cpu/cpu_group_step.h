/*
 * cpu_group_step.h — the 16-agent step, written once over a lane layer (cpu_lanes_avx512.h: one
 * 16-lane register a value; cpu_lanes_avx2.h: two 8-lane ones) that the including file chooses:
 * cpu_x16.c (AVX-512) and cpu_group_avx2.c (AVX2). Lane g is agent i0 + g of a full group; every
 * table lookup of a step is a gather: the threshold search and the chain's tables (L1-resident for
 * moderate S), and the overlays' slot maps (one block per thread, lane g's map at g (S + 4)) or hash
 * tables. The rows themselves are loaded and stored whole and transposed in registers (the layer's
 * lv_rows_load / lv_rows_store), so that register l holds feature l of the 16 agents.
 *
 * rows (group_rows): fixed features, each agent's own Phi_i, overlays through slot maps, through hash
 * tables (these two insert new rows lane by lane), or by a scan of the lanes' slot keys (keys [R, 16]:
 * slot c of all 16 lanes in one vector; a compare and a blend a slot find s2 for every lane, a
 * masked scatter inserts the new keys, and a new row is read from Phi and written to its slot by the
 * update instead of being copied first). chains (with hash tables or the scan): the chains in slots (cpu_slots.c), a
 * row's place from its state and a reward from the rewards table, instead of the 16-byte entries.
 * Same bits as run_group (cpu_blocks.c) on every layer, lane by lane: the integers are exact, and
 * the floats are pfr_td_step's operations in its order (tested: Determinism.EveryCpuPath*).
 *
 * Napkin math (cliff walk, d = 8): per 16 agent-steps one Philox (~120 vector instructions on
 * AVX-512, twice that on AVX2), a threshold search of `iters` gathers, four gathers for the next
 * state, reward and row, the slot scan (K compares), two transposed loads of 8 rows and a store, ~60
 * float operations: ~400 instructions, ~25 an agent-step, against ~100 for one agent at a time.
 */
#ifndef PFR_CPU_GROUP_STEP_H
#define PFR_CPU_GROUP_STEP_H

#include <string.h>

#include "cpu_engine.h"

_Static_assert(PFR_SLOT_WIDTH == 4, "group_slot_row places a slot by a shift of 2");

/* Where a lane's rows of Phi_i are found (the file's comment): the step is compiled for each. */
typedef enum group_rows {
    GROUP_FIXED_PHI = 0, /* features fixed (fedtd, local_td): the shared Phi, no overlay */
    GROUP_OWN_PHI = 1,   /* each agent's own Phi_i (local_rep, the tabular learners) */
    GROUP_MAPS = 2,      /* overlays through slot maps */
    GROUP_HASH = 3,      /* overlays through hash tables */
    GROUP_SCAN = 4       /* overlays by a scan of the lanes' slot keys */
} group_rows;

/* How the chains are stored (cpu_setup.c chooses): 16-byte entries, slots by state, slots by shape. */
typedef enum group_chains { GROUP_ENTRIES = 0, GROUP_SLOTS = 1, GROUP_SHAPES = 2 } group_chains;

/* pfr_dot of 16 agents at once: x[l] lane g = agent g's feature l; pfr_dot's eight partials and
 * tree, lane by lane. */
LV lvf group_dot(const lvf *x, const lvf *t, const int D)
{
    lvf acc[8];
    for (int l = 0; l < 8; ++l)
        acc[l] = lvf_zero();
    for (int j = 0; j < D; ++j)
        acc[j & 7] = lvf_add(acc[j & 7], lvf_mul(x[j], t[j]));
    return lvf_add(lvf_add(lvf_add(acc[0], acc[4]), lvf_add(acc[2], acc[6])),
                   lvf_add(lvf_add(acc[1], acc[5]), lvf_add(acc[3], acc[7])));
}

/* One TD step of the 16 agents (pfr_td_step lane by lane): their rows rs (this state's, read) and rn
 * (the next state's) loaded and transposed, values, deltas, theta (T, kept transposed; lanes not in
 * pm left alone) and the new rows of this state stored through rw where Phi learns. */
LV void group_td(const cpu_engine *e, const float *const *rs, const float *const *rn, float *const *rw, lvf rho,
                 lvf *T, lvm pm, int k, const int D, int learn)
{
    const pfr_round_plan *plan = e->plan;
    lvf X[16], Y[16];
    lv_rows_load(e, rs, D, X);
    lv_rows_load(e, rn, D, Y);
    const lvf vs = group_dot(X, T, D), vn = group_dot(Y, T, D);
    const lvf delta = lvf_sub(lvf_add(rho, lvf_mul(lvf_set1((float)e->sim->cfg.gamma), vn)), vs);
    const lvf a = lvf_mul(lvf_set1(plan->alpha[k]), delta);
    const lvf b = lvf_mul(lvf_set1(plan->beta[k]), delta);
    for (int l = 0; l < D; ++l) { /* pfr_td_update: theta with the old phi, phi with the old theta */
        const lvf t = T[l];
        T[l] = lvf_mask_add(t, pm, t, lvf_mul(a, X[l]));
        X[l] = lvf_add(X[l], lvf_mul(b, t));
    }
    if (learn)
        lv_rows_store(e, rw, D, X);
}

/* With the chains in slots (cpu_slots.c): the rows (first entry, length) of the slots at entry `at`,
 * lane by lane: each slot, or where lng has the lane (a long row) the entries after the slots that its
 * slot points to. */
LV void group_row_at(const uint32_t *slots, lvi at, lvm lng, lvi *lo, lvi *n)
{
    *lo = at;
    *n = lvi_set1(PFR_SLOT_WIDTH);
    if (lvm_any(lng)) {
        *lo = lvi_mask_gather8(at, lng, at, slots);
        *n = lvi_mask_gather8(*n, lng, lvi_add(at, lvi_set1(1)), slots);
    }
}

/* The rows of states s (types' first rows vslot), lane by lane: by state, each state's slot (lng: the
 * lanes whose rows are long, from the entry that led there); by shape, the slot of its shape. */
LV void group_slot_row(const cpu_engine *e, const group_chains chains, lvi vslot, lvi vtb, lvi s, lvm lng, lvi *lo, lvi *n)
{
    if (chains == GROUP_SHAPES) { /* a number of 1 or 2 bytes (a dword gather, the bytes above dropped); vtb: each
                     * lane's type's first slot where the numbers are per type */
        const int one = e->shape_bytes == 1;
        const lvi at = lvi_add(vslot, s);
        const lvi id = one ? lvi_and(lvi_gather1(at, e->shape_of), lvi_set1(0xFF))
                           : lvi_and(lvi_gather2(at, e->shape_of), lvi_set1(0xFFFF));
        const lvi top = lvi_set1(one ? 0x80 : 0x8000);
        lng = lvi_test(id, top);
        group_row_at(e->slots, lvi_slli(lvi_add(lvi_andnot(top, id), vtb), 2), lng, lo, n);
        return;
    }
    group_row_at(e->slots, lvi_slli(lvi_add(vslot, s), 2), lng, lo, n);
}

/* The group's first rows (first entry and length) of the states st: from the slots, the agents' row
 * cache where it holds this state's row (e->row_idx), else the row pointers. */
LV void group_first_rows(const cpu_engine *e, const group_chains chains, int64_t i0, lvi vrow, lvi vslot, lvi vtb, lvi st, lvi *lo,
                         lvi *n)
{
    const lvi ridx0 = lvi_add(vrow, st), one = lvi_set1(1);
    if (chains == GROUP_SHAPES) {
        group_slot_row(e, chains, vslot, vtb, st, lvm_from_bits(0), lo, n);
    } else if (chains == GROUP_SLOTS) { /* a long row's slot says so in every entry */
        const lvi at = lvi_slli(lvi_add(vslot, st), 2); /* group_slot_row's place */
        const lvm lng = lvi_eq(lvi_gather8(at, (const int *)e->slots + 1), lvi_set1((int)PFR_SLOT_LONG));
        group_slot_row(e, chains, vslot, vtb, st, lng, lo, n);
    } else if (e->row_idx) {
        const lvm fresh = lvi_ne(lvi_load(e->row_idx + i0), ridx0);
        const lvi clo = lvi_load(e->row_lo + i0);
        *lo = lvi_mask_gather4(clo, fresh, ridx0, e->rp32);
        const lvi hi = lvi_mask_gather4(lvi_add(clo, lvi_load(e->row_n + i0)), fresh, lvi_add(ridx0, one), e->rp32);
        *n = lvi_sub(hi, *lo);
    } else {
        *lo = lvi_gather4(ridx0, e->rp32);
        *n = lvi_sub(lvi_gather4(lvi_add(ridx0, one), e->rp32), *lo);
    }
}

/* The next group's first rows, fetched while this group steps (at large S a round's first step
 * otherwise waits on a miss for the row pointer and another for the row): their entries and Phi's
 * rows, halfway through the group's steps (next_rp: their row pointers' indices, prefetched at the
 * start). */
LV void group_prefetch_next(const cpu_engine *e, const group_chains chains, int64_t i0, const int32_t *next_rp, const float *phi,
                            const int D)
{
    const pfr_sim *sim = e->sim;
    const int S = sim->S;
    for (int g = 0; g < 16; ++g) {
        const int64_t i = i0 + 16 + g;
        if (chains == GROUP_SHAPES) { /* its state's shape (the shapes' slots stay in cache) */
            lv_prefetch(e->shape_of + e->shape_bytes * ((size_t)pfr_agent_type(sim, i) * S + sim->state[i]));
        } else if (chains == GROUP_SLOTS) { /* its state's slot (a long row's entries follow at its first step) */
            lv_prefetch(e->slots + 8 * ((size_t)pfr_agent_type(sim, i) * S + sim->state[i]));
        } else if (e->row_idx) { /* the cached row: a stale one only wastes a prefetch */
            lv_prefetch(e->ent + 4 * (size_t)e->row_lo[i]);
            lv_prefetch(e->ent + 4 * ((size_t)e->row_lo[i] + e->row_n[i]) - 4);
        } else {
            const int32_t r = next_rp[g];
            lv_prefetch(e->ent + 4 * (size_t)e->rp32[r]);
            lv_prefetch(e->ent + 4 * (size_t)e->rp32[r + 1] - 4);
        }
        lv_prefetch(phi + (size_t)sim->state[i] * D);
    }
}

/* The next step's rows' entries (their first and last: a row of more than four spans two lines)
 * and Phi's rows of the next states s2. */
LV void group_prefetch_rows(const cpu_engine *e, const group_chains chains, lvi lo_next, lvi n_next, lvi s2, const float *phi,
                            const int D)
{
    uint32_t lo_a[16], hi_a[16], s_a[16];
    lvi_store(lo_a, lo_next);
    lvi_store(hi_a, lvi_add(lo_next, n_next));
    lvi_store(s_a, s2);
    for (int g = 0; g < 16; ++g) {
        if (chains == GROUP_SHAPES) { /* the shapes' slots stay in cache; a long row may not */
            if (hi_a[g] - lo_a[g] > PFR_SLOT_WIDTH)
                lv_prefetch(e->slots + 2 * (size_t)lo_a[g]);
        } else if (chains == GROUP_SLOTS) { /* a slot is half a line; a long row may span several */
            lv_prefetch(e->slots + 2 * (size_t)lo_a[g]);
            if (hi_a[g] - lo_a[g] > PFR_SLOT_WIDTH)
                lv_prefetch(e->slots + 2 * (size_t)hi_a[g] - 2);
        } else {
            lv_prefetch(e->ent + 4 * (size_t)lo_a[g]);
            lv_prefetch(e->ent + 4 * (size_t)hi_a[g] - 4);
        }
        lv_prefetch(phi + (size_t)s_a[g] * D);
    }
}

/* The group's K steps (the file's comment: rows, chains). */
LV void group_step_d(cpu_engine *e, cpu_thread *w, int64_t i0, int *part, const int D, const group_rows rows, const group_chains chains)
{
    pfr_sim *sim = e->sim;
    const pfr_round_plan *plan = e->plan;
    const int S = sim->S, K = plan->K, learn = sim->learn_phi, iters = e->iters;
    const uint64_t seed = sim->cfg.seed, t0 = plan->t0;
    const float *phi = e->base0;
    uint32_t w1[16];
    int32_t rowbase[16], slotbase[16], tbase[16], voff[16], moff[16];
    lvi v1, uv = lv_philox(seed, i0, t0, &v1);
    lvi_store(w1, v1);
    unsigned pbits = 0;
    float *th[16];
    for (int g = 0; g < 16; ++g) {
        const int64_t i = i0 + g;
        part[g] = (uint64_t)w1[g] < plan->part_threshold;
        pbits |= (unsigned)part[g] << g;
        rowbase[g] = (int32_t)((size_t)pfr_agent_type(sim, i) * (S + 1));
        slotbase[g] = (int32_t)((size_t)pfr_agent_type(sim, i) * S);
        tbase[g] = e->shape_base ? e->shape_base[pfr_agent_type(sim, i)] : 0;
        voff[g] = g * (e->R + 1);
        moff[g] = g * (S + 4);
        th[g] = sim->theta + (size_t)i * D;
        if (e->has_pending)
            pfr_map_theta(e->pending, th[g], D);
    }
    const lvm pm = lvm_from_bits(pbits);
    const lvi vrow = lvi_load(rowbase), vslot = lvi_load(slotbase), vtb = lvi_load(tbase), vvoff = lvi_load(voff),
              vmoff = lvi_load(moff);
    const lvi one = lvi_set1(1), zero = lvi_zero(), ff = lvi_set1(0xFF), dD = lvi_set1(D);
    lvi st = lvi_load(sim->state + i0), nvec = zero, qnext = ff;
    /* the state whose row lo_next holds: st, but also for the lanes sitting out, whose st stays while
     * their search goes on (by shape, a move is added to it) */
    lvi sc = st;
    /* hash tables: each lane's overlay table (pfr_overlay: key, slot pairs, open addressing) at a fixed
     * stride in w->ov_tabs; hnext: where the next row sits in it, or the empty place it would take
     * (at the first step the overlays are empty, so the row's hash) */
    const int32_t *tab = w->ov_tabs;
    /* the scan: the lanes' overlay keys by slot, keys [R, 16] (slot c of lane g at 16 c + g; -1 empty) */
    int32_t *keys = w->ov_keys;
    const lvi lane16 = lvi_lanes();
    const lvi vmul = lvi_set1((int32_t)2654435761u), vshift = lvi_set1((int32_t)w->lane[0].shift),
              vmask = lvi_set1((int32_t)w->lane[0].mask);
    int32_t toff[16]; /* lane g's table: [2 * (mask + 1)] ints from toff[g] */
    for (int g = 0; g < 16; ++g)
        toff[g] = g * 2 * (int32_t)(w->lane[0].mask + 1);
    const lvi vtab = lvi_load(toff);
    lvi hnext = rows == GROUP_HASH ? lvi_srlv(lvi_mullo(st, vmul), vshift) : zero;
    /* the bases of the kinds of address (64-bit, per lane) */
    const lvp vals_b = lvp_same(w->ov_vals), phi_b = lvp_same(phi), zero_b = lvp_same(w->scratch),
              sink_b = lvp_same(w->scratch + 16);
    lvp own_b = phi_b;
    if (sim->own_phi) {
        const float *ob[16];
        for (int g = 0; g < 16; ++g)
            ob[g] = sim->agent_phi + (size_t)(i0 + g) * S * D;
        own_b = lvp_load(ob);
    }
    /* lanes: d = 32, where each agent's math runs along d (rows are two vectors: pfr_td_step on the
     * rows and on theta in place) and only the lookups run 16 agents at a time; else the rows are
     * transposed so that a vector holds one feature of the 16 agents */
    const int lanes = D == 32;
    lvf T[16];
    if (!lanes)
        lv_rows_load(e, (const float *const *)th, D, T);
    const float gamma1 = (float)sim->cfg.gamma;
    const int ahead = e->prefetch && i0 + 2 * PFR_CPU_LANES <= sim->N;
    int32_t next_rp[16];
    if (ahead && !e->row_idx && chains == GROUP_ENTRIES)
        for (int g = 0; g < 16; ++g) {
            const int64_t i = i0 + 16 + g;
            next_rp[g] = (int32_t)((size_t)pfr_agent_type(sim, i) * (S + 1) + sim->state[i]);
            lv_prefetch(e->rp32 + next_rp[g]);
        }
    /* the row (first entry and length) of each lane's state, looked up one step ahead: the next
     * step's rows are fetched, and their entries prefetched, while this step's math runs */
    lvi lo_next, n_next;
    group_first_rows(e, chains, i0, vrow, vslot, vtb, st, &lo_next, &n_next);
    for (int k = 0; k < K; ++k) {
        if (k > 0)
            uv = lv_philox(seed, i0, t0 + (uint64_t)k, &v1);
        /* the threshold search of pfr_sample_entry_fixed, 16 lanes at once */
        lvi base = lo_next, n = n_next;
        /* as many halvings as the longest row among the 16 needs (extra ones are no-ops), so a lane
         * on a long row (a goal that restarts anywhere) does not make every step pay for it */
        for (int it = 0; it < iters && lvi_any_above1(n); ++it) {
            const lvi half = lvi_srli(n, 1);
            const lvi probe = lvi_mask_sub(lvi_add(base, half), lvi_ne(half, zero), lvi_add(base, half), one);
            const lvi t = chains != GROUP_ENTRIES ? lvi_gather8(probe, e->slots) : lvi_gather4(lvi_slli(probe, 2), e->ent);
            base = lvi_mask_add(base, lvi_leu(t, uv), base, half);
            n = lvi_sub(n, half);
        }
        const lvi base4 = lvi_slli(base, 2);
        lvi s2, len2 = zero;
        lvf rho;
        lvm nlong = lvm_from_bits(0); /* slots: lanes whose next row is long */
        if (chains != GROUP_ENTRIES) { /* word 1: the next state, its row's long flag (by shape: whether the next state is
                    * written as itself, else as a move from this one), the reward's index */
            const lvi pay = lvi_gather8(base, (const int *)e->slots + 1);
            const lvi smask = lvi_set1((1 << e->slot_bits) - 1), flag = lvi_set1(1 << e->slot_bits);
            s2 = lvi_and(pay, smask);
            if (chains == GROUP_SHAPES) /* a move from the state whose row this is (sc: lanes sitting out too) */
                s2 = lvi_and(lvi_mask_add(s2, lvi_testn(pay, flag), s2, sc), smask);
            else
                nlong = lvi_test(pay, flag);
            rho = lvf_gather4(lvi_srlv(pay, lvi_set1(e->slot_bits + 1)), e->rewards);
        } else {
            s2 = lvi_gather4(base4, e->ent + 1);
            rho = lvf_gather4(base4, e->ent + 2);
        }
        if (chains == GROUP_ENTRIES && e->ent_next_row) { /* the next row's length in word 1's high bits, its start in word 3 */
            len2 = lvi_srli(s2, PFR_ENT_STATE_BITS);
            s2 = lvi_and(s2, lvi_set1((1 << PFR_ENT_STATE_BITS) - 1));
        }
        if (ahead && k == K / 2)
            group_prefetch_next(e, chains, i0, next_rp, phi, D);
        if (k + 1 < K || e->row_idx) { /* next step's rows (at the last step, for the row cache), and
                                        * a prefetch of their entries and of Phi's rows */
            const lvi ridx = lvi_add(vrow, s2);
            if (chains != GROUP_ENTRIES) {
                group_slot_row(e, chains, vslot, vtb, s2, nlong, &lo_next, &n_next);
                sc = s2;
            } else if (e->ent_next_row) {
                lo_next = lvi_gather4(base4, e->ent + 3); /* the line s2 came from */
                n_next = len2;
                const lvm esc = lvi_eq(len2, lvi_set1(PFR_ENT_LEN_ESCAPE));
                if (lvm_any(esc)) /* rows of 255 entries or more: their lengths from the row pointers */
                    n_next = lvi_mask_sub(n_next, esc, lvi_mask_gather4(zero, esc, lvi_add(ridx, one), e->rp32), lo_next);
            } else {
                lo_next = lvi_gather4(ridx, e->rp32);
                n_next = lvi_sub(lvi_gather4(lvi_add(ridx, one), e->rp32), lo_next);
            }
            if (e->prefetch && k + 1 < K)
                group_prefetch_rows(e, chains, lo_next, n_next, s2, phi, D);
        }
        lvp ps, pn, pr; /* this step's row written (ps) and read (pr), the next state's row */
        if (rows == GROUP_MAPS || rows == GROUP_HASH || rows == GROUP_SCAN) {
            /* the slot of this step's row: the next row's slot of the step before (nothing was added
             * since), none at the first step (the overlays start empty); lanes sitting out ignore it */
            const lvi q0 = qnext;
            const lvm miss = lvm_and(lvi_eq(q0, ff), pm);
            const lvi q = lvi_mask_mov(q0, miss, nvec);
            if (rows == GROUP_SCAN) { /* a new row's key in its slot (its values: read from Phi below, written to
                              * the slot by the update, so no copy); without a scatter instruction, by
                              * the scan below as it passes the slot */
                if (LV_SCATTER && lvm_any(miss))
                    lvi_mask_scatter4(keys, miss, lvi_add(lvi_slli(q, 4), lane16), st);
                nvec = lvi_mask_add(nvec, miss, nvec, one);
            } else if (lvm_any(miss)) { /* new rows: copied from the shared Phi, lane by lane */
                uint32_t qa[16], sa[16], ha[16];
                lvi_store(qa, q);
                lvi_store(sa, st);
                lvi_store(ha, hnext);
                for (unsigned m = lvm_bits(miss); m; m &= m - 1) {
                    const int g = __builtin_ctz(m);
                    if (rows == GROUP_HASH) {
                        w->ov_tabs[toff[g] + 2 * (int32_t)ha[g]] = (int32_t)sa[g];
                        w->ov_tabs[toff[g] + 2 * (int32_t)ha[g] + 1] = (int32_t)qa[g];
                        w->lane[g].hpos[qa[g]] = ha[g];
                    } else {
                        w->ov_maps[(size_t)moff[g] + sa[g]] = (uint8_t)qa[g];
                    }
                    w->ov_rows[voff[g] + (int)qa[g]] = (int32_t)sa[g];
                    memcpy(w->ov_vals + (size_t)(voff[g] + (int)qa[g]) * D, phi + (size_t)sa[g] * D, sizeof(float) * D);
                }
                nvec = lvi_mask_add(nvec, miss, nvec, one);
            }
            lvi q2;
            if (rows == GROUP_SCAN) { /* each slot's keys compared with s2: at step k, k + 1 slots at most */
                q2 = ff;
                for (int c = 0; c <= k && c < e->R; ++c) {
                    lvi kc = lvi_load(keys + 16 * c);
                    if (!LV_SCATTER) { /* the new keys of slot c (q = c where a lane missed) */
                        kc = lvi_mask_mov(kc, lvm_and(miss, lvi_eq(q, lvi_set1(c))), st);
                        lvi_store(keys + 16 * c, kc);
                    }
                    q2 = lvi_mask_mov(q2, lvi_eq(kc, s2), lvi_set1(c));
                }
            } else if (rows == GROUP_HASH) { /* probe each lane's table for s2 until a hit or an empty place */
                lvi h = lvi_srlv(lvi_mullo(s2, vmul), vshift), key = zero;
                lvm todo = lvm_from_bits(0xFFFF), hit = lvm_from_bits(0);
                for (;;) {
                    const lvi at = lvi_add(vtab, lvi_slli(h, 1));
                    key = lvi_mask_gather4(key, todo, at, tab);
                    const lvm found = lvi_mask_eq(todo, key, s2);
                    hit = lvm_or(hit, found);
                    todo = lvm_andnot(found, lvi_mask_ge(todo, key, zero));
                    if (!lvm_any(todo))
                        break;
                    h = lvi_mask_and(h, todo, lvi_add(h, one), vmask);
                }
                q2 = lvi_mask_gather4(ff, hit, lvi_add(lvi_add(vtab, lvi_slli(h, 1)), one), tab);
                hnext = h;
            } else {
                q2 = lvi_and(lvi_gather1(lvi_add(vmoff, s2), w->ov_maps), ff);
            }
            lvm hit2 = lvi_ne(q2, ff);
            qnext = q2;
            ps = lvp_addr(&vals_b, lvi_mullo(lvi_add(vvoff, q), dD));
            pr = ps;
            if (rows == GROUP_SCAN) { /* a new row read from Phi, and so is the next state's where it is that
                              * row (its slot is written only by this step's update) */
                pr = lvp_blend(miss, ps, lvp_addr(&phi_b, lvi_mullo(st, dD)));
                hit2 = lvm_andnot(lvm_and(miss, lvi_eq(q2, q)), hit2);
            }
            pn = lvp_blend(hit2, lvp_addr(&phi_b, lvi_mullo(s2, dD)), lvp_addr(&vals_b, lvi_mullo(lvi_add(vvoff, q2), dD)));
        } else {
            const lvp *b = rows == GROUP_OWN_PHI ? &own_b : &phi_b;
            ps = lvp_addr(b, lvi_mullo(st, dD));
            pn = lvp_addr(b, lvi_mullo(s2, dD));
            pr = ps;
        }
        const float *rs[16], *rn[16], *rw[16]; /* lanes sitting out read zeros and write the sink */
        if (lanes) {
            float rho_a[16];
            lvp_put(ps, rw);
            lvp_put(pn, rn);
            lvf_store(rho_a, rho);
            for (unsigned m = pbits; m; m &= m - 1) {
                const int g = __builtin_ctz(m);
                pfr_td_step((float *)rw[g], rn[g], th[g], D, rho_a[g], gamma1, plan->alpha[k], plan->beta[k], learn);
            }
            st = lvi_mask_mov(st, pm, s2);
            continue;
        }
        lvp_put(lvp_blend(pm, zero_b, pr), rs);
        lvp_put(lvp_blend(pm, zero_b, pn), rn);
        lvp_put(lvp_blend(pm, sink_b, ps), rw);
        group_td(e, rs, rn, (float *const *)rw, rho, T, pm, k, D, learn);
        st = lvi_mask_mov(st, pm, s2);
    }
    if (!lanes)
        lv_rows_store(e, th, D, T);
    lvi_mask_store(sim->state + i0, pm, st);
    if (e->row_idx) { /* each agent's row for the next round (lanes sitting out keep theirs) */
        lvi_mask_store(e->row_idx + i0, pm, lvi_add(vrow, st));
        lvi_mask_store(e->row_lo + i0, pm, lo_next);
        lvi_mask_store(e->row_n + i0, pm, n_next);
    }
    if (rows == GROUP_MAPS || rows == GROUP_HASH || rows == GROUP_SCAN) {
        uint32_t na[16];
        lvi_store(na, nvec);
        for (int g = 0; g < 16; ++g) {
            w->lane[g].n = (int)na[g];
            if (rows == GROUP_SCAN) /* (the fold empties the participants' overlays and clears this) */
                w->lane[g].scanned = na[g] > 0;
        }
    }
    if (rows == GROUP_SCAN) { /* each lane's rows in first-touch order (its slots), for the fold; the keys emptied.
                      * Every lane's slots up to `used`: past its count they are -1 and never read (the
                      * lane's overlay has R + 1 rows), and a plain copy beats a masked scatter */
        const int used = K < e->R ? K : e->R;
        for (int c = 0; c < used; ++c) {
            for (int g = 0; g < 16; ++g)
                w->ov_rows[voff[g] + c] = keys[16 * c + g];
            lvi_store(keys + 16 * c, lvi_set1(-1));
        }
    }
}

/* cpu_blocks.c's fold_agent for the participants of a group (part[g]), lanes in index order, for d a
 * multiple of 8: a row's eight floats converted to eight doubles at once (the layer's lv_fold8),
 * differences and sums element by element as in fold_agent (whole-row loads also let the just-stored
 * overlay rows forward from the store buffer), each lane's overlay emptied as its rows are
 * folded. One call for the group, and the part's fields in locals: a byte store into a slot map
 * could otherwise alias them, and every row would reload them. A constant D: a row's sums are one or
 * a few vector stores (at large S nearly every overlay row makes a new part row). */
LV void group_fold_d(block_part *bp, int32_t *restrict pos, pfr_overlay *lane, const int *part, int G,
                     const float *phi, const int D)
{
    int32_t *restrict prow = bp->rows;
    double *restrict vals = bp->vals;
    int n = bp->n;
    for (int g = 0; g < G; ++g) {
        if (!part[g])
            continue;
        pfr_overlay *o = &lane[g];
        const int on = o->n;
        const int32_t *restrict orows = o->rows;
        const float *restrict ovals = o->vals;
        uint8_t *restrict map = o->scanned ? NULL : o->map; /* (a scan leaves the map empty) */
        for (int q = 0; q < on; ++q) {
            const int32_t r = orows[q];
            const float *loc = ovals + (size_t)q * D, *ref = phi + (size_t)r * D;
            /* a new row's sums stored as +0 + the change at once (no zeros to store and load back, as
             * pfr_part_row would: at large S nearly every row is new) */
            int fresh;
            double *acc = vals + (size_t)pfr_part_place(prow, &n, pos, r, &fresh) * D;
            for (int j = 0; j < D; j += 8)
                lv_fold8(acc + j, loc + j, ref + j, fresh);
            if (map) /* the row's slot emptied here, while r is at hand (a second pass cost 2%-3%) */
                map[r] = 0xFFu;
        }
        if (map)
            o->n = 0;
        else
            pfr_overlay_clear(o); /* (a scanned lane: only its count and flag) */
    }
    bp->n = n;
}

LV void group_fold(block_part *bp, int32_t *pos, pfr_overlay *lane, const int *part, int G, const float *phi, const int d)
{
    switch (d) {
    case 8: group_fold_d(bp, pos, lane, part, G, phi, 8); break;
    case 16: group_fold_d(bp, pos, lane, part, G, phi, 16); break;
    case 32: group_fold_d(bp, pos, lane, part, G, phi, 32); break;
    default: group_fold_d(bp, pos, lane, part, G, phi, d); break;
    }
}

/* Every case a constant, so that each (d, rows, chains) compiles into a step of its own, branch-free
 * in its loop (all of these inline). Hash tables and the scan take every form of the chains, the
 * other ways only the entries (cpu_setup.c); d = 32 never scans (its scan would be d = 16's). */
LV void group_step_chains(cpu_engine *e, cpu_thread *w, int64_t i0, int *part, const int D, const group_rows rows,
                          const group_chains chains)
{
    switch (chains) {
    case GROUP_SHAPES: group_step_d(e, w, i0, part, D, rows, GROUP_SHAPES); return;
    case GROUP_SLOTS: group_step_d(e, w, i0, part, D, rows, GROUP_SLOTS); return;
    default: group_step_d(e, w, i0, part, D, rows, GROUP_ENTRIES); return;
    }
}

LV void group_step_rows(cpu_engine *e, cpu_thread *w, int64_t i0, int *part, const int D, const group_rows rows,
                        const group_chains chains)
{
    switch (rows) {
    case GROUP_FIXED_PHI: group_step_d(e, w, i0, part, D, GROUP_FIXED_PHI, GROUP_ENTRIES); return;
    case GROUP_OWN_PHI: group_step_d(e, w, i0, part, D, GROUP_OWN_PHI, GROUP_ENTRIES); return;
    case GROUP_MAPS: group_step_d(e, w, i0, part, D, GROUP_MAPS, GROUP_ENTRIES); return;
    case GROUP_HASH: group_step_chains(e, w, i0, part, D, GROUP_HASH, chains); return;
    case GROUP_SCAN: group_step_chains(e, w, i0, part, D == 32 ? 16 : D, GROUP_SCAN, chains); return;
    }
}

/* A full group's step with every lookup a gather (the engine has e->rp32): the way rows are found
 * and the chains' form from the engine, d as a constant. */
LV void group_step(cpu_engine *e, cpu_thread *w, int64_t i0, int *part)
{
    const pfr_sim *sim = e->sim;
    const group_rows rows = sim->own_phi     ? GROUP_OWN_PHI
                            : !sim->learn_phi ? GROUP_FIXED_PHI
                            : e->scan         ? GROUP_SCAN
                            : e->map          ? GROUP_MAPS
                                              : GROUP_HASH;
    const group_chains chains = e->shape_of ? GROUP_SHAPES : e->slots ? GROUP_SLOTS : GROUP_ENTRIES;
#ifdef PFR_GROUP_RUNTIME_D
    /* the sanitizer build (CMakeLists.txt): one step per (rows, chains) with d a variable, the same
     * operations in the same order; a quarter of the instances, whose instrumented compile took most
     * of that build's time */
    group_step_rows(e, w, i0, part, sim->d, rows, chains);
    return;
#endif
    switch (sim->d) {
    case 4: group_step_rows(e, w, i0, part, 4, rows, chains); return;
    case 8: group_step_rows(e, w, i0, part, 8, rows, chains); return;
    case 16: group_step_rows(e, w, i0, part, 16, rows, chains); return;
    case 32: group_step_rows(e, w, i0, part, 32, rows, chains); return;
    }
}

#endif
