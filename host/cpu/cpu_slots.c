/*
 * cpu_slots.c — the chains as the 16-agent step reads them where they are large, in two layouts: by
 * state (below), and by shape (further down: a slot a distinct row, a 1- or 2-byte number a state), which
 * the engine prefers where the rows repeat (cpu_setup.c).
 *
 * By state: every state's row in a slot of PFR_SLOT_WIDTH entries of 8 bytes at a fixed place, (type
 * S + state) PFR_SLOT_WIDTH, so a step finds the next row from the next state alone, and one 32-byte
 * slot is all it reads of a row.
 *
 * Why: at large S every step of every lane reads one row from a table far larger than the caches,
 * and on the 2-core Xeon a random line past the last level it holds (about 16 MB) costs 3.5-5 ns even
 * with 16 misses in flight (bench/mem_latency.c). The 16-byte entries (threshold, next state, reward,
 * the next row's first entry) made the bench grid world's chains 33 MB at S = 40,000 with 16 types;
 * the slots make them 20 MB (DESIGN §6: the chains in the cache; its tuning table).
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

/* The bits of an entry's word 1 for the states (returned: 2^sbits > S, so a state's bits are never
 * all ones) and, in *cap, how many distinct rewards the bits above them (less one flag) can index. */
static int slot_word_bits(uint64_t S, int *cap)
{
    int sbits = 1;
    while (((uint64_t)1 << sbits) <= S)
        ++sbits;
    const int rbits = 31 - sbits;
    *cap = rbits >= 12 ? PFR_SLOT_MAX_REWARDS : rbits > 0 ? 1 << rbits : 0;
    return sbits;
}

/* The chains' distinct rewards: table [cap] (handed to the engine), found through an open-addressed
 * hash of their bits. */
typedef struct reward_set {
    uint32_t *keys;
    int32_t *idx; /* -1 empty */
    float *table;
    int n, cap;
} reward_set;

/* 1 ready, 0 out of memory (rewards_close frees what was allocated either way). */
static int rewards_open(reward_set *r, int cap)
{
    r->keys = malloc(sizeof(uint32_t) * PFR_SLOT_DICT);
    r->idx = malloc(sizeof(int32_t) * PFR_SLOT_DICT);
    r->table = malloc(sizeof(float) * (size_t)cap);
    r->n = 0;
    r->cap = cap;
    if (!(r->keys && r->idx && r->table))
        return 0;
    for (int h = 0; h < PFR_SLOT_DICT; ++h)
        r->idx[h] = -1;
    return 1;
}

/* The hash freed; the table too unless `keep` (the engine has it). */
static void rewards_close(reward_set *r, int keep)
{
    free(r->keys);
    free(r->idx);
    if (!keep)
        free(r->table);
}

/* The index of reward bits v in the table (added if new); -1 when the table is full. */
static int reward_index(reward_set *r, uint32_t v)
{
    uint32_t h = (v * 2654435761u) >> (32 - PFR_SLOT_DICT_LOG2);
    for (;; h = (h + 1) & (PFR_SLOT_DICT - 1)) {
        if (r->idx[h] < 0) {
            if (r->n >= r->cap)
                return -1;
            r->keys[h] = v;
            r->idx[h] = r->n;
            memcpy(&r->table[r->n], &v, sizeof v);
            return r->n++;
        }
        if (r->keys[h] == v)
            return r->idx[h];
    }
}

/* A long row of n entries: its slot says so (PFR_SLOT_LONG in every word 1, the first entry and the
 * length in words 0 of entries 0 and 1), its entries go at *next_long (returned), which moves on. */
static uint32_t *long_slot(uint32_t *slots, uint32_t *slot, uint64_t *next_long, uint32_t n)
{
    for (int k = 0; k < PFR_SLOT_WIDTH; ++k) {
        slot[2 * k] = 0;
        slot[2 * k + 1] = PFR_SLOT_LONG;
    }
    slot[0] = (uint32_t)*next_long;
    slot[2] = n;
    uint32_t *out = slots + 2 * *next_long;
    *next_long += n;
    return out;
}

int pfr_cpu_slots_build(cpu_engine *e, const pfr_sim *sim, void *(*alloc)(size_t))
{
    const pfr_env *env = sim->env;
    const uint64_t S = (uint64_t)sim->S, M = (uint64_t)sim->M;
    int cap;
    const int sbits = slot_word_bits(S, &cap);
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
    reward_set rw;
    const int have = rewards_open(&rw, cap);
    uint32_t *slots = alloc(sizeof(uint32_t) * 2 * (size_t)total);
    const int oom = !(have && slots);
    int ok = !oom;
    uint64_t next_long = M * S * PFR_SLOT_WIDTH;
    for (uint64_t m = 0; ok && m < M; ++m)
        for (uint64_t s = 0; ok && s < S; ++s) {
            const uint64_t r = m * (S + 1) + s, lo = env->row_ptr[r], n = env->row_ptr[r + 1] - lo;
            uint32_t *out = slots + 2 * ((m * S + s) * PFR_SLOT_WIDTH);
            if (n > PFR_SLOT_WIDTH)
                out = long_slot(slots, out, &next_long, (uint32_t)n);
            const uint64_t width = n > PFR_SLOT_WIDTH ? n : PFR_SLOT_WIDTH;
            for (uint64_t k = 0; ok && k < width; ++k) {
                const uint64_t j = lo + (k < n ? k : n - 1);
                const uint32_t nx = env->next[j];
                const uint64_t nr = m * (S + 1) + nx;
                const int is_long = env->row_ptr[nr + 1] - env->row_ptr[nr] > PFR_SLOT_WIDTH;
                uint32_t rb;
                memcpy(&rb, &env->reward[j], sizeof rb);
                const int ri = reward_index(&rw, rb);
                ok = ri >= 0;
                out[2 * k] = k < n ? env->thr[j] : 0xFFFFFFFFu;
                out[2 * k + 1] = nx | (uint32_t)is_long << sbits | (uint32_t)ri << (sbits + 1);
            }
        }
    rewards_close(&rw, ok);
    if (!ok) { /* out of memory, or more distinct rewards than the table holds */
        free(slots);
        return oom ? -1 : 0;
    }
    e->slots = slots;
    e->rewards = rw.table;
    e->slot_bits = sbits;
    return 1;
}

/*
 * The chains by shape. Many states' rows are alike once a next state is written relative to the
 * state: a grid world's open cells all move by -W, -1, 0, +1, +W with the same probabilities and
 * rewards, its walls all leave for the same start, its goals all restart at the same cells. Each
 * distinct row (a shape) gets one slot, and a state keeps only its shape's number: a byte where each
 * type has at most 128 shapes (numbered per type, from the type's first slot), else two bytes (all
 * types' shapes numbered together, at most 2^15). The bench grid world at S = 40,000 with 16 types
 * has 758 shapes (24 KB of slots, in L1) and 640 KB of numbers, instead of 20 MB of slots a state.
 *
 * An entry's word 1: the next state (bits 0 .. sbits-1), or, where bit sbits is clear, the next
 * state minus this one modulo 2^sbits (a move: s2 = (s + v) mod 2^sbits, exact because s2 < 2^sbits);
 * the reward's index above, as in the slots. Which differences count as moves is read from the
 * chains: those that occur at least PFR_SHAPE_MOVE_SHARE-th of all entries (a grid's 0, +-1, +-W);
 * any other next state is written as itself, so that rows that jump to the same cells (restarts)
 * share a shape. A state's number has its top bit set where the shape is a long row (its slot holds
 * the first entry and the length, as in the slots). Not built where there are more
 * than 2^15 shapes or more than 1 / share as many as rows, or where more than a sixteenth of the rows
 * are long (the slots by state, or the entries, then).
 */
#define PFR_SHAPE_MAX (1 << 15)
#define PFR_SHAPE_HASH_LOG2 16 /* the shapes' hash table: twice the shapes it holds */
#define PFR_SHAPE_MOVE_SHARE 1024
_Static_assert((1 << PFR_SHAPE_HASH_LOG2) == 2 * PFR_SHAPE_MAX, "the shapes' hash is half full at most");

typedef struct shape_set {
    uint32_t *words; /* every shape's entries, 2 words each, one after the other */
    uint64_t nwords, capwords;
    uint64_t *at;    /* [PFR_SHAPE_MAX] shape k: entries from word at[k], len[k] of them */
    uint32_t *len;
    int32_t *hash;   /* [2^PFR_SHAPE_HASH_LOG2] shape numbers, -1 empty */
    uint32_t *used;  /* [PFR_SHAPE_MAX] the places taken in hash, nused of them (to empty it for a type) */
    int n, nused;
    uint64_t long_entries; /* entries of the long shapes */
} shape_set;

/* The number of the shape of n entries e (2 n words), added if new; -1 out of memory or shapes. */
static int shape_index(shape_set *h, const uint32_t *e, uint32_t n)
{
    uint64_t x = 0x9E3779B97F4A7C15ull ^ n;
    for (uint32_t k = 0; k < 2 * n; ++k)
        x = (x ^ e[k]) * 0x100000001B3ull;
    for (uint32_t p = (uint32_t)(x >> (64 - PFR_SHAPE_HASH_LOG2));; p = (p + 1) & ((1u << PFR_SHAPE_HASH_LOG2) - 1)) {
        const int k = h->hash[p];
        if (k < 0)
            break;
        if (h->len[k] == n && memcmp(h->words + h->at[k], e, sizeof(uint32_t) * 2 * n) == 0)
            return k;
    } /* (an empty place is always found: the table is half full at most) */
    if (h->n >= PFR_SHAPE_MAX)
        return -1;
    if (h->nwords + 2 * n > h->capwords) {
        const uint64_t cap = 2 * (h->nwords + 2 * n);
        uint32_t *w = realloc(h->words, sizeof(uint32_t) * cap);
        if (!w)
            return -1;
        h->words = w;
        h->capwords = cap;
    }
    memcpy(h->words + h->nwords, e, sizeof(uint32_t) * 2 * n);
    const int k = h->n++;
    h->at[k] = h->nwords;
    h->len[k] = n;
    h->nwords += 2 * n;
    if (n > PFR_SLOT_WIDTH)
        h->long_entries += n;
    for (uint32_t p = (uint32_t)(x >> (64 - PFR_SHAPE_HASH_LOG2));; p = (p + 1) & ((1u << PFR_SHAPE_HASH_LOG2) - 1))
        if (h->hash[p] < 0) {
            h->hash[p] = k;
            h->used[h->nused++] = p;
            break;
        }
    return k;
}

/* The shapes' hash emptied: a type's shapes numbered from 0 are not looked for in the next type's. */
static void shapes_forget(shape_set *h)
{
    for (int x = 0; x < h->nused; ++x)
        h->hash[h->used[x]] = -1;
    h->nused = 0;
}

/* The chains by shape with numbers of `bytes` bytes: 1, each type's shapes numbered from 0 (at most
 * 128 a type; e->shape_base gives each type's first slot), or 2, all shapes numbered together. */
static int shapes_build(cpu_engine *e, const pfr_sim *sim, int share, void *(*alloc)(size_t), const int bytes)
{
    const pfr_env *env = sim->env;
    const uint64_t S = (uint64_t)sim->S, M = (uint64_t)sim->M;
    int cap;
    const int sbits = slot_word_bits(S, &cap);
    const uint32_t smask = (1u << sbits) - 1;
    uint64_t longest = 0, nnz = 0, rows_long = 0;
    for (uint64_t m = 0; m < M; ++m)
        for (uint64_t s = 0; s < S; ++s) {
            const uint64_t r = m * (S + 1) + s, n = env->row_ptr[r + 1] - env->row_ptr[r];
            if (n == 0)
                return 0;
            longest = n > longest ? n : longest;
            nnz += n;
            rows_long += n > PFR_SLOT_WIDTH;
        }
    /* worth it where nearly every row fits a slot (as the slots by state) and rows repeat */
    if (cap == 0 || M * S >= (uint64_t)INT32_MAX || rows_long * 16 > M * S)
        return 0;
    /* the moves: next - s + S - 1 counted over all entries */
    uint32_t *count = calloc(2 * S - 1, sizeof(uint32_t));
    reward_set rw;
    const int have = rewards_open(&rw, cap);
    uint32_t *row = malloc(sizeof(uint32_t) * 2 * (longest > PFR_SLOT_WIDTH ? longest : PFR_SLOT_WIDTH));
    unsigned char *ids = alloc(bytes * M * S + 4); /* +4: a dword gather reads past the last number */
    int32_t *base = bytes == 1 ? malloc(sizeof(int32_t) * M) : NULL;
    shape_set h = {0};
    h.at = malloc(sizeof(uint64_t) * PFR_SHAPE_MAX);
    h.len = malloc(sizeof(uint32_t) * PFR_SHAPE_MAX);
    h.hash = malloc(sizeof(int32_t) * ((size_t)1 << PFR_SHAPE_HASH_LOG2));
    h.used = malloc(sizeof(uint32_t) * PFR_SHAPE_MAX);
    const int oom = !(count && have && row && ids && (bytes == 2 || base) && h.at && h.len && h.hash && h.used);
    int ok = !oom;
    for (int p = 0; ok && p < (1 << PFR_SHAPE_HASH_LOG2); ++p)
        h.hash[p] = -1;
    for (uint64_t r = 0; ok && r < M * (S + 1); ++r)
        if (r % (S + 1) != S)
            for (uint64_t j = env->row_ptr[r]; j < env->row_ptr[r + 1]; ++j)
                count[env->next[j] + S - 1 - r % (S + 1)]++;
    const uint64_t move_min = nnz / PFR_SHAPE_MOVE_SHARE > 16 ? nnz / PFR_SHAPE_MOVE_SHARE : 16;
    for (uint64_t m = 0; ok && m < M; ++m) {
        const int first = bytes == 1 ? h.n : 0; /* this type's shapes from here (numbers per type) */
        if (bytes == 1) {
            base[m] = first;
            shapes_forget(&h);
        }
        for (uint64_t s = 0; ok && s < S; ++s) {
            const uint64_t r = m * (S + 1) + s, lo = env->row_ptr[r], n = env->row_ptr[r + 1] - lo;
            const uint64_t width = n > PFR_SLOT_WIDTH ? n : PFR_SLOT_WIDTH;
            for (uint64_t k = 0; ok && k < width; ++k) {
                const uint64_t j = lo + (k < n ? k : n - 1);
                const uint32_t nx = env->next[j];
                const int move = count[nx + S - 1 - s] >= move_min;
                uint32_t rb;
                memcpy(&rb, &env->reward[j], sizeof rb);
                const int ri = reward_index(&rw, rb);
                ok = ri >= 0;
                row[2 * k] = k < n ? env->thr[j] : 0xFFFFFFFFu;
                row[2 * k + 1] = (move ? (nx - (uint32_t)s) & smask : nx | 1u << sbits) | (uint32_t)ri << (sbits + 1);
            }
            const int k = ok ? shape_index(&h, row, (uint32_t)width) - first : -1;
            ok = k >= 0 && k < (bytes == 1 ? 0x80 : 0x8000);
            if (ok && bytes == 1)
                ids[m * S + s] = (unsigned char)(k | (n > PFR_SLOT_WIDTH ? 0x80 : 0));
            else if (ok) {
                const uint16_t v = (uint16_t)(k | (n > PFR_SLOT_WIDTH ? 0x8000 : 0));
                memcpy(ids + 2 * (m * S + s), &v, sizeof v);
            }
        }
    }
    ok = ok && (uint64_t)h.n * (uint64_t)share <= M * S;
    /* the slots: shape k's at k PFR_SLOT_WIDTH, the long shapes' entries after them */
    const uint64_t total = (uint64_t)h.n * PFR_SLOT_WIDTH + h.long_entries;
    uint32_t *slots = ok && total < (uint64_t)INT32_MAX ? alloc(sizeof(uint32_t) * 2 * total) : NULL;
    const int oom2 = ok && total < (uint64_t)INT32_MAX && !slots;
    uint64_t next_long = (uint64_t)h.n * PFR_SLOT_WIDTH;
    for (int k = 0; slots && k < h.n; ++k) {
        uint32_t *slot = slots + 2 * (uint64_t)k * PFR_SLOT_WIDTH;
        if (h.len[k] > PFR_SLOT_WIDTH)
            slot = long_slot(slots, slot, &next_long, h.len[k]);
        memcpy(slot, h.words + h.at[k], sizeof(uint32_t) * 2 * h.len[k]);
    }
    if (ids)
        memset(ids + bytes * M * S, 0, 4);
    free(count);
    rewards_close(&rw, slots != NULL);
    free(row);
    free(h.words);
    free(h.at);
    free(h.len);
    free(h.hash);
    free(h.used);
    if (!slots) { /* out of memory, or more shapes or distinct rewards than the tables hold */
        free(ids);
        free(base);
        return oom || oom2 ? -1 : 0;
    }
    e->slots = slots;
    e->rewards = rw.table;
    e->slot_bits = sbits;
    e->shape_of = ids;
    e->shape_bytes = bytes;
    e->shape_base = base;
    return 1;
}

int pfr_cpu_shapes_build(cpu_engine *e, const pfr_sim *sim, int share, void *(*alloc)(size_t))
{
    /* a byte a state where every type has at most 128 shapes (half the bytes to keep in cache) */
    const int built = shapes_build(e, sim, share, alloc, 1);
    return built != 0 ? built : shapes_build(e, sim, share, alloc, 2);
}
