/*
 * cpu_slots.c — the chains as the 16-agent step reads them where they are large: every state's row in
 * a slot of PFR_SLOT_WIDTH entries of 8 bytes at a fixed place, (type S + state) PFR_SLOT_WIDTH, so a
 * step finds the next row from the next state alone, and one 32-byte slot is all it reads of a row.
 *
 * Why: at large S every step of every lane reads one row from a table far larger than the caches,
 * and on the 2-core Xeon a random line past the last level it holds (about 16 MB) costs 3.5-5 ns even
 * with 16 misses in flight (bench/mem_latency.c). The 16-byte entries (threshold, next state, reward,
 * the next row's first entry) made the bench grid world's chains 33 MB at S = 40,000 with 16 types;
 * the slots make them 20 MB (bench/RESULTS.md, 2026-11-26 sixth session).
 *
 * An entry: word 0 its threshold, word 1 the next state (bits 0 .. sbits-1), whether the next
 * state's row is long (bit sbits) and the reward's index in a table of the chains' distinct rewards
 * (the bits above). A row of fewer entries is padded with copies of its last entry at threshold
 * 2^32 - 1, so a search over the whole slot picks the same entry as one over the row. A row of more
 * entries (a goal that restarts anywhere) lives after the slots; its slot holds PFR_SLOT_LONG in
 * every word 1, and its first entry and length in words 0 of entries 0 and 1.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_engine.h"

#define PFR_SLOT_MAX_REWARDS 4096 /* distinct rewards the table holds (16 KB, in L1/L2) */
#define PFR_SLOT_DICT_LOG2 13 /* the table's hash: twice the rewards it holds */
#define PFR_SLOT_DICT (1 << PFR_SLOT_DICT_LOG2)
_Static_assert(PFR_SLOT_DICT == 2 * PFR_SLOT_MAX_REWARDS, "the rewards' hash is half full at most");

/* The index of reward bits v in the table (added if new); -1 when the table is full. */
static int reward_index(uint32_t *keys, int32_t *idx, float *table, int *n, int cap, uint32_t v)
{
    uint32_t h = (v * 2654435761u) >> (32 - PFR_SLOT_DICT_LOG2);
    for (;; h = (h + 1) & (PFR_SLOT_DICT - 1)) {
        if (idx[h] < 0) {
            if (*n >= cap)
                return -1;
            keys[h] = v;
            idx[h] = *n;
            memcpy(&table[*n], &v, sizeof v);
            return (*n)++;
        }
        if (keys[h] == v)
            return idx[h];
    }
}

int pfr_cpu_slots_build(cpu_engine *e, const pfr_sim *sim, void *(*alloc)(size_t))
{
    const pfr_env *env = sim->env;
    const uint64_t S = (uint64_t)sim->S, M = (uint64_t)sim->M;
    int sbits = 1;
    while (((uint64_t)1 << sbits) <= S) /* 2^sbits > S: a state's bits are never all ones */
        ++sbits;
    const int rbits = 31 - sbits;
    const int cap = rbits >= 12 ? PFR_SLOT_MAX_REWARDS : rbits > 0 ? 1 << rbits : 0;
    if (cap == 0)
        return 0;
    uint64_t nlong = 0, rows_long = 0; /* entries of the long rows, and their count */
    for (uint64_t m = 0; m < M; ++m)
        for (uint64_t s = 0; s < S; ++s) {
            const uint64_t r = m * (S + 1) + s, n = env->row_ptr[r + 1] - env->row_ptr[r];
            if (n == 0)
                return 0;
            if (n > PFR_SLOT_WIDTH) {
                nlong += n;
                rows_long++;
            }
        }
    /* worth it where nearly every row fits its slot; the indices must stay below 2^31 */
    const uint64_t total = M * S * PFR_SLOT_WIDTH + nlong;
    if (rows_long * 16 > M * S || total >= (uint64_t)INT32_MAX)
        return 0;
    uint32_t *keys = malloc(sizeof(uint32_t) * PFR_SLOT_DICT);
    int32_t *idx = malloc(sizeof(int32_t) * PFR_SLOT_DICT);
    float *table = malloc(sizeof(float) * (size_t)cap);
    uint32_t *slots = alloc(sizeof(uint32_t) * 2 * (size_t)total);
    const int oom = !(keys && idx && table && slots);
    int ok = !oom, nrew = 0;
    for (int h = 0; ok && h < PFR_SLOT_DICT; ++h)
        idx[h] = -1;
    uint64_t next_long = M * S * PFR_SLOT_WIDTH;
    for (uint64_t m = 0; ok && m < M; ++m)
        for (uint64_t s = 0; ok && s < S; ++s) {
            const uint64_t r = m * (S + 1) + s, lo = env->row_ptr[r], n = env->row_ptr[r + 1] - lo;
            uint32_t *slot = slots + 2 * ((m * S + s) * PFR_SLOT_WIDTH);
            uint32_t *out = slot;
            if (n > PFR_SLOT_WIDTH) {
                for (int k = 0; k < PFR_SLOT_WIDTH; ++k) {
                    slot[2 * k] = 0;
                    slot[2 * k + 1] = PFR_SLOT_LONG;
                }
                slot[0] = (uint32_t)next_long;
                slot[2] = (uint32_t)n;
                out = slots + 2 * next_long;
                next_long += n;
            }
            const uint64_t width = n > PFR_SLOT_WIDTH ? n : PFR_SLOT_WIDTH;
            for (uint64_t k = 0; ok && k < width; ++k) {
                const uint64_t j = lo + (k < n ? k : n - 1);
                const uint32_t nx = env->next[j];
                const uint64_t nr = m * (S + 1) + nx;
                const int is_long = env->row_ptr[nr + 1] - env->row_ptr[nr] > PFR_SLOT_WIDTH;
                uint32_t rb;
                memcpy(&rb, &env->reward[j], sizeof rb);
                const int ri = reward_index(keys, idx, table, &nrew, cap, rb);
                ok = ri >= 0;
                out[2 * k] = k < n ? env->thr[j] : 0xFFFFFFFFu;
                out[2 * k + 1] = nx | (uint32_t)is_long << sbits | (uint32_t)ri << (sbits + 1);
            }
        }
    free(keys);
    free(idx);
    if (!ok) { /* out of memory, or more distinct rewards than the table holds */
        free(table);
        free(slots);
        return oom ? -1 : 0;
    }
    e->slots = slots;
    e->rewards = table;
    e->slot_bits = sbits;
    return 1;
}
