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
                 lvf *T, lvm pm, int k, const int D, float gamma1, int learn)
{
    const pfr_round_plan *plan = e->plan;
    lvf X[16], Y[16];
    lv_rows_load(e, rs, D, X);
    lv_rows_load(e, rn, D, Y);
    const lvf vs = group_dot(X, T, D), vn = group_dot(Y, T, D);
    const lvf delta = lvf_sub(lvf_add(rho, lvf_mul(lvf_set1(gamma1), vn)), vs);
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

/* ---- The group's K steps as stages (group_step_d at the end reads as the algorithm) ------------ */

/* pfr_overlay_hash (cpu_step.h) of 16 states at once (every lane's table has lane 0's shift). */
LV lvi group_hash(const cpu_thread *w, lvi s)
{
    return lvi_srlv(lvi_mullo(s, lvi_set1((int32_t)PFR_OVERLAY_HASH_MUL)), lvi_set1((int32_t)w->lane[0].shift));
}

/* A group's lanes, fixed over its K steps: who takes part, where each lane's tables and rows lie. */
typedef struct group_lanes {
    unsigned pbits;                        /* the participants: bit g, lane g */
    lvm pm;                                /* the same as a mask */
    lvi vrow, vslot, vtb;                  /* each lane's type: its first row pointer, state slot, shape slot */
    lvi vvoff, vmoff, vtab;                /* each lane's overlay rows, slot map, hash table (offsets) */
    int32_t voff[16], moff[16], toff[16];  /* the same, lane by lane */
    float *th[16];                         /* each lane's theta [D] */
    lvp vals_b, phi_b, own_b, zero_b, sink_b; /* the bases of the kinds of address (64-bit, per lane) */
} group_lanes;

/* What runs from step to step, lane by lane. */
typedef struct group_walk {
    lvi st;    /* the state */
    lvi sc;    /* the state whose row lo, n hold: st, but also for the lanes sitting out, whose st stays
                * while their search goes on (by shape, a move is added to it) */
    lvi lo, n; /* that row (first entry and length), looked up a step ahead: the next step's rows are
                * fetched, and their entries prefetched, while this step's math runs */
    lvi nvec;  /* overlay rows in use */
    lvi qnext; /* the overlay slot of the next state's row (0xFF: none yet) */
    lvi hnext; /* hash tables: where the next row sits in the table, or the empty place it would take */
} group_walk;

/* Stage 0, the lanes: who takes part (the first Philox word v1), each lane's type and tables, theta
 * with the pending orthonormalization applied. */
LV void group_begin(cpu_engine *e, cpu_thread *w, int64_t i0, int *part, lvi v1, const int D, group_lanes *L)
{
    const pfr_sim *sim = e->sim;
    const int S = sim->S;
    uint32_t w1[16];
    int32_t rowbase[16], slotbase[16], tbase[16];
    lvi_store(w1, v1);
    L->pbits = 0;
    for (int g = 0; g < 16; ++g) {
        const int64_t i = i0 + g;
        part[g] = (uint64_t)w1[g] < e->plan->part_threshold;
        L->pbits |= (unsigned)part[g] << g;
        rowbase[g] = (int32_t)((size_t)pfr_agent_type(sim, i) * (S + 1));
        slotbase[g] = (int32_t)((size_t)pfr_agent_type(sim, i) * S);
        tbase[g] = e->shape_base ? e->shape_base[pfr_agent_type(sim, i)] : 0;
        L->voff[g] = g * (e->R + 1);
        L->moff[g] = g * (S + 4);
        L->toff[g] = g * 2 * (int32_t)(w->lane[0].mask + 1); /* lane g's table: [2 * (mask + 1)] ints */
        L->th[g] = sim->theta + (size_t)i * D;
        if (e->has_pending)
            pfr_map_theta(e->pending, L->th[g], D);
    }
    L->pm = lvm_from_bits(L->pbits);
    L->vrow = lvi_load(rowbase);
    L->vslot = lvi_load(slotbase);
    L->vtb = lvi_load(tbase);
    L->vvoff = lvi_load(L->voff);
    L->vmoff = lvi_load(L->moff);
    L->vtab = lvi_load(L->toff);
    L->vals_b = lvp_same(w->ov_vals);
    L->phi_b = lvp_same(e->base0);
    L->zero_b = lvp_same(w->scratch);
    L->sink_b = lvp_same(w->scratch + 16);
    L->own_b = L->phi_b;
    if (sim->own_phi) {
        const float *ob[16];
        for (int g = 0; g < 16; ++g)
            ob[g] = sim->agent_phi + (size_t)(i0 + g) * S * D;
        L->own_b = lvp_load(ob);
    }
}

/* The walk's start: the lanes' states and their first rows; the overlays empty (at the first step a
 * hash table's place for a row is the row's hash). */
LV void group_walk_begin(const cpu_engine *e, const cpu_thread *w, const group_chains chains, const group_rows rows, int64_t i0,
                         const group_lanes *L, group_walk *W)
{
    W->st = lvi_load(e->sim->state + i0);
    W->sc = W->st;
    W->nvec = lvi_zero();
    W->qnext = lvi_set1(0xFF);
    W->hnext = rows == GROUP_HASH ? group_hash(w, W->st) : lvi_zero();
    group_first_rows(e, chains, i0, L->vrow, L->vslot, L->vtb, W->st, &W->lo, &W->n);
}

/* Stage 1, search: the entry each lane's uniform uv lands on in its row (pfr_sample_entry_fixed's
 * threshold search, 16 lanes at once), with as many halvings as the longest row among the 16 needs
 * (extra ones are no-ops), so a lane on a long row (a goal that restarts anywhere) does not make every
 * step pay for it. */
LV lvi group_search(const cpu_engine *e, const group_chains chains, int iters, lvi base, lvi n, lvi uv)
{
    const lvi zero = lvi_zero(), one = lvi_set1(1);
    for (int it = 0; it < iters && lvi_any_above1(n); ++it) {
        const lvi half = lvi_srli(n, 1);
        const lvi probe = lvi_mask_sub(lvi_add(base, half), lvi_ne(half, zero), lvi_add(base, half), one);
        const lvi t = chains != GROUP_ENTRIES ? lvi_gather8(probe, e->slots) : lvi_gather4(lvi_slli(probe, 2), e->ent);
        base = lvi_mask_add(base, lvi_leu(t, uv), base, half);
        n = lvi_sub(n, half);
    }
    return base;
}

/* Stage 2, decode: the entry's next state s2 and reward rho. Slots (word 1): the next state, its
 * row's long flag (nlong; by shape: whether the next state is written as itself, else as a move from
 * sc), the reward's index. Entries that carry it: the next row's length (len2). */
LV void group_decode(const cpu_engine *e, const group_chains chains, lvi at, lvi sc, lvi *s2, lvf *rho, lvm *nlong, lvi *len2)
{
    *nlong = lvm_from_bits(0);
    *len2 = lvi_zero();
    if (chains != GROUP_ENTRIES) {
        const lvi pay = lvi_gather8(at, (const int *)e->slots + 1);
        const lvi smask = lvi_set1((1 << e->slot_bits) - 1), flag = lvi_set1(1 << e->slot_bits);
        *s2 = lvi_and(pay, smask);
        if (chains == GROUP_SHAPES)
            *s2 = lvi_and(lvi_mask_add(*s2, lvi_testn(pay, flag), *s2, sc), smask);
        else
            *nlong = lvi_test(pay, flag);
        *rho = lvf_gather4(lvi_srlv(pay, lvi_set1(e->slot_bits + 1)), e->rewards);
        return;
    }
    const lvi at4 = lvi_slli(at, 2);
    *s2 = lvi_gather4(at4, e->ent + 1);
    *rho = lvf_gather4(at4, e->ent + 2);
    if (e->ent_next_row) { /* the next row's length in word 1's high bits */
        *len2 = lvi_srli(*s2, PFR_ENT_STATE_BITS);
        *s2 = lvi_and(*s2, lvi_set1((1 << PFR_ENT_STATE_BITS) - 1));
    }
}

/* Stage 3, next row: s2's row (first entry, length) into the walk, from the entry at `at` where it
 * carries it (its start in word 3), else from the slots or the row pointers. */
LV void group_next_row(const cpu_engine *e, const group_chains chains, const group_lanes *L, lvi at, lvi s2, lvm nlong, lvi len2,
                       group_walk *W)
{
    const lvi ridx = lvi_add(L->vrow, s2);
    if (chains != GROUP_ENTRIES) {
        group_slot_row(e, chains, L->vslot, L->vtb, s2, nlong, &W->lo, &W->n);
        W->sc = s2;
    } else if (e->ent_next_row) {
        W->lo = lvi_gather4(lvi_slli(at, 2), e->ent + 3); /* the line s2 came from */
        W->n = len2;
        const lvm esc = lvi_eq(len2, lvi_set1(PFR_ENT_LEN_ESCAPE));
        if (lvm_any(esc)) /* rows of 255 entries or more: their lengths from the row pointers */
            W->n = lvi_mask_sub(W->n, esc, lvi_mask_gather4(lvi_zero(), esc, lvi_add(ridx, lvi_set1(1)), e->rp32), W->lo);
    } else {
        W->lo = lvi_gather4(ridx, e->rp32);
        W->n = lvi_sub(lvi_gather4(lvi_add(ridx, lvi_set1(1)), e->rp32), W->lo);
    }
}

/* Stage 4a, the overlay's new rows: the lanes (of the miss mask) whose state st has no row yet get
 * slot q; maps and hash tables copy the row from the shared Phi lane by lane (the scan writes the key
 * alone: the row is read from Phi and written to its slot by the update, so no copy; without a
 * scatter instruction the key is written by group_overlay_find as it passes the slot). */
LV void group_overlay_insert(cpu_engine *e, cpu_thread *w, const group_lanes *L, const group_walk *W, lvm miss, lvi q,
                             const int D, const group_rows rows)
{
    if (rows == GROUP_SCAN) {
        if (LV_SCATTER && lvm_any(miss))
            lvi_mask_scatter4(w->ov_keys, miss, lvi_add(lvi_slli(q, 4), lvi_lanes()), W->st);
        return;
    }
    if (!lvm_any(miss))
        return;
    uint32_t qa[16], sa[16], ha[16];
    lvi_store(qa, q);
    lvi_store(sa, W->st);
    lvi_store(ha, W->hnext);
    for (unsigned m = lvm_bits(miss); m; m &= m - 1) {
        const int g = __builtin_ctz(m);
        if (rows == GROUP_HASH) {
            w->ov_tabs[L->toff[g] + 2 * (int32_t)ha[g]] = (int32_t)sa[g];
            w->ov_tabs[L->toff[g] + 2 * (int32_t)ha[g] + 1] = (int32_t)qa[g];
            w->lane[g].hpos[qa[g]] = ha[g];
        } else {
            w->ov_maps[(size_t)L->moff[g] + sa[g]] = (uint8_t)qa[g];
        }
        w->ov_rows[L->voff[g] + (int)qa[g]] = (int32_t)sa[g];
        memcpy(w->ov_vals + (size_t)(L->voff[g] + (int)qa[g]) * D, e->base0 + (size_t)sa[g] * D, sizeof(float) * D);
    }
}

/* Stage 4b, the overlay slot of s2's row (0xFF: none). The scan compares each slot's keys with s2 (at
 * step k, k + 1 slots at most); hash tables probe each lane's table until a hit or an empty place
 * (which the walk keeps, for the insert of the next step); maps read the slot map. */
LV lvi group_overlay_find(cpu_thread *w, const group_lanes *L, group_walk *W, lvm miss, lvi q, lvi s2, int k, int R,
                          const group_rows rows)
{
    const lvi ff = lvi_set1(0xFF), zero = lvi_zero(), one = lvi_set1(1);
    if (rows == GROUP_SCAN) {
        lvi q2 = ff;
        for (int c = 0; c <= k && c < R; ++c) {
            lvi kc = lvi_load(w->ov_keys + 16 * c);
            if (!LV_SCATTER) { /* the new keys of slot c (q = c where a lane missed) */
                kc = lvi_mask_mov(kc, lvm_and(miss, lvi_eq(q, lvi_set1(c))), W->st);
                lvi_store(w->ov_keys + 16 * c, kc);
            }
            q2 = lvi_mask_mov(q2, lvi_eq(kc, s2), lvi_set1(c));
        }
        return q2;
    }
    if (rows == GROUP_HASH) {
        const lvi vmask = lvi_set1((int32_t)w->lane[0].mask);
        lvi h = group_hash(w, s2), key = zero;
        lvm todo = lvm_from_bits(0xFFFF), hit = lvm_from_bits(0);
        for (;;) {
            const lvi at = lvi_add(L->vtab, lvi_slli(h, 1));
            key = lvi_mask_gather4(key, todo, at, w->ov_tabs);
            const lvm found = lvi_mask_eq(todo, key, s2);
            hit = lvm_or(hit, found);
            todo = lvm_andnot(found, lvi_mask_ge(todo, key, zero));
            if (!lvm_any(todo))
                break;
            h = lvi_mask_and(h, todo, lvi_add(h, one), vmask);
        }
        W->hnext = h;
        return lvi_mask_gather4(ff, hit, lvi_add(lvi_add(L->vtab, lvi_slli(h, 1)), one), w->ov_tabs);
    }
    return lvi_and(lvi_gather1(lvi_add(L->vmoff, s2), w->ov_maps), ff);
}

/* Stage 4, the step's rows: the addresses of this step's row written (ps) and read (pr) and of the
 * next state's row (pn), from the overlays (a row not in a lane's overlay is read from the shared Phi)
 * or from the Phi the lanes read directly. */
LV void group_step_rows_at(cpu_engine *e, cpu_thread *w, const group_lanes *L, group_walk *W, lvi s2, int k, const int D,
                           const group_rows rows, lvp *ps, lvp *pr, lvp *pn)
{
    const lvi dD = lvi_set1(D);
    if (rows == GROUP_FIXED_PHI || rows == GROUP_OWN_PHI) {
        const lvp *b = rows == GROUP_OWN_PHI ? &L->own_b : &L->phi_b;
        *ps = lvp_addr(b, lvi_mullo(W->st, dD));
        *pn = lvp_addr(b, lvi_mullo(s2, dD));
        *pr = *ps;
        return;
    }
    /* this step's row's slot: the next row's slot of the step before (nothing was added since), none
     * at the first step (the overlays start empty); lanes sitting out ignore it */
    const lvi ff = lvi_set1(0xFF);
    const lvm miss = lvm_and(lvi_eq(W->qnext, ff), L->pm);
    const lvi q = lvi_mask_mov(W->qnext, miss, W->nvec);
    group_overlay_insert(e, w, L, W, miss, q, D, rows);
    W->nvec = lvi_mask_add(W->nvec, miss, W->nvec, lvi_set1(1));
    const lvi q2 = group_overlay_find(w, L, W, miss, q, s2, k, e->R, rows);
    lvm hit2 = lvi_ne(q2, ff);
    W->qnext = q2;
    *ps = lvp_addr(&L->vals_b, lvi_mullo(lvi_add(L->vvoff, q), dD));
    *pr = *ps;
    if (rows == GROUP_SCAN) { /* a new row read from Phi, and so is the next state's where it is that row
                               * (its slot is written only by this step's update) */
        *pr = lvp_blend(miss, *ps, lvp_addr(&L->phi_b, lvi_mullo(W->st, dD)));
        hit2 = lvm_andnot(lvm_and(miss, lvi_eq(q2, q)), hit2);
    }
    *pn = lvp_blend(hit2, lvp_addr(&L->phi_b, lvi_mullo(s2, dD)), lvp_addr(&L->vals_b, lvi_mullo(lvi_add(L->vvoff, q2), dD)));
}

/* Stage 5, the TD update of the participants (lanes sitting out read zeros and write the sink): d = 32
 * runs each agent's math along d (pfr_td_step on the rows and theta in place); else group_td on the
 * transposed rows, T holding theta. */
LV void group_update(const cpu_engine *e, const group_lanes *L, lvp ps, lvp pr, lvp pn, lvf rho, lvf *T, int k, const int D,
                     float gamma1, int learn)
{
    const float *rs[16], *rn[16], *rw[16];
    if (D == 32) {
        const pfr_round_plan *plan = e->plan;
        float rho_a[16];
        lvp_put(ps, rw);
        lvp_put(pn, rn);
        lvf_store(rho_a, rho);
        for (unsigned m = L->pbits; m; m &= m - 1) {
            const int g = __builtin_ctz(m);
            pfr_td_step((float *)rw[g], rn[g], L->th[g], D, rho_a[g], gamma1, plan->alpha[k], plan->beta[k], learn);
        }
        return;
    }
    lvp_put(lvp_blend(L->pm, L->zero_b, pr), rs);
    lvp_put(lvp_blend(L->pm, L->zero_b, pn), rn);
    lvp_put(lvp_blend(L->pm, L->sink_b, ps), rw);
    group_td(e, rs, rn, (float *const *)rw, rho, T, L->pm, k, D, gamma1, learn);
}

/* Stage 6, the end: theta and the states stored, each agent's row for the next round (the row
 * cache), the overlays' counts; after a scan each lane's rows in first-touch order (its slots) for the
 * fold, and the keys emptied. */
LV void group_end(cpu_engine *e, cpu_thread *w, int64_t i0, const group_lanes *L, const group_walk *W, lvf *T, const int D,
                  const group_rows rows)
{
    if (D != 32)
        lv_rows_store(e, L->th, D, T);
    lvi_mask_store(e->sim->state + i0, L->pm, W->st);
    if (e->row_idx) { /* lanes sitting out keep theirs */
        lvi_mask_store(e->row_idx + i0, L->pm, lvi_add(L->vrow, W->st));
        lvi_mask_store(e->row_lo + i0, L->pm, W->lo);
        lvi_mask_store(e->row_n + i0, L->pm, W->n);
    }
    if (rows == GROUP_FIXED_PHI || rows == GROUP_OWN_PHI)
        return;
    uint32_t na[16];
    lvi_store(na, W->nvec);
    for (int g = 0; g < 16; ++g) {
        w->lane[g].n = (int)na[g];
        if (rows == GROUP_SCAN) /* (the fold empties the participants' overlays and clears this) */
            w->lane[g].scanned = na[g] > 0;
    }
    if (rows == GROUP_SCAN) { /* every lane's slots up to `used`: past its count they are -1 and never read
                               * (the lane's overlay has R + 1 rows), and a plain copy beats a masked scatter */
        const int used = e->plan->K < e->R ? e->plan->K : e->R;
        for (int c = 0; c < used; ++c) {
            for (int g = 0; g < 16; ++g)
                w->ov_rows[L->voff[g] + c] = w->ov_keys[16 * c + g];
            lvi_store(w->ov_keys + 16 * c, lvi_set1(-1));
        }
    }
}

/* The group's K steps (the file's comment: rows, chains): per step a Philox draw, the search of the
 * row, the decode of the entry, the next row looked up (and prefetched), the step's rows found in the
 * overlays, the TD update. */
LV void group_step_d(cpu_engine *e, cpu_thread *w, int64_t i0, int *part, const int D, const group_rows rows, const group_chains chains)
{
    const pfr_sim *sim = e->sim;
    /* the engine's fields the loop reads, in locals: the overlays' int stores could alias them */
    const int K = e->plan->K, iters = e->iters, learn = sim->learn_phi;
    const float gamma1 = (float)sim->cfg.gamma;
    const uint64_t seed = sim->cfg.seed, t0 = e->plan->t0;
    lvi v1, uv = lv_philox(seed, i0, t0, &v1);
    group_lanes L;
    group_begin(e, w, i0, part, v1, D, &L);
    group_walk W;
    group_walk_begin(e, w, chains, rows, i0, &L, &W);
    lvf T[16]; /* theta, transposed: T[l] holds feature l of the 16 agents (d = 32: theta in place) */
    if (D != 32)
        lv_rows_load(e, (const float *const *)L.th, D, T);
    /* the next group's first rows, fetched halfway through (at large S a round's first step otherwise
     * waits on a miss for the row pointer and another for the row) */
    const int ahead = e->prefetch && i0 + 2 * PFR_CPU_LANES <= sim->N;
    int32_t next_rp[16];
    if (ahead && !e->row_idx && chains == GROUP_ENTRIES)
        for (int g = 0; g < 16; ++g) {
            const int64_t i = i0 + 16 + g;
            next_rp[g] = (int32_t)((size_t)pfr_agent_type(sim, i) * (sim->S + 1) + sim->state[i]);
            lv_prefetch(e->rp32 + next_rp[g]);
        }
    for (int k = 0; k < K; ++k) {
        if (k > 0)
            uv = lv_philox(seed, i0, t0 + (uint64_t)k, &v1);
        const lvi at = group_search(e, chains, iters, W.lo, W.n, uv);
        lvi s2, len2;
        lvf rho;
        lvm nlong;
        group_decode(e, chains, at, W.sc, &s2, &rho, &nlong, &len2);
        if (ahead && k == K / 2)
            group_prefetch_next(e, chains, i0, next_rp, e->base0, D);
        if (k + 1 < K || e->row_idx) { /* the next step's row (at the last step, for the row cache) */
            group_next_row(e, chains, &L, at, s2, nlong, len2, &W);
            if (e->prefetch && k + 1 < K)
                group_prefetch_rows(e, chains, W.lo, W.n, s2, e->base0, D);
        }
        lvp ps, pr, pn;
        group_step_rows_at(e, w, &L, &W, s2, k, D, rows, &ps, &pr, &pn);
        group_update(e, &L, ps, pr, pn, rho, T, k, D, gamma1, learn);
        W.st = lvi_mask_mov(W.st, L.pm, s2);
    }
    group_end(e, w, i0, &L, &W, T, D, rows);
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
