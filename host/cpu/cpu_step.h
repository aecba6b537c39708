/*
 * cpu_step.h — the CPU engine's per-agent work, written so the compiler can vectorize along the
 * feature dimension d (GCC vector extensions, compiled per target by cpu_blocks.c's target clones)
 * while every value is computed exactly as pfr_agent_math.h computes it:
 *   - pfr_dot's order: eight running partial sums (element j into partial j mod 8, in index order,
 *     each starting from +0), then the fixed tree ((a0+a4)+(a2+a6))+((a1+a5)+(a3+a7)). With d a
 *     multiple of 8 the partials are one 8-wide vector summed chunk after chunk; d = 4 leaves the
 *     upper partials at +0, so the tree is (a0+a2)+(a1+a3) (a partial that starts from +0 is never
 *     -0, so adding +0 changes nothing).
 *   - pfr_td_update element by element: theta_j + a*phi_j and phi_j + b*theta_j, separate multiplies
 *     and adds (the library is built without floating-point contraction).
 * Other d use pfr_td_step itself. So the vector path and the scalar path give the same bits; a
 * test checks it (Determinism.VectorPathEqualsScalarPath).
 *
 * An agent's Phi_i during a round, for the shared-Phi algorithms, is the shared Phi plus an overlay
 * of the rows it changed (at most R = min(K, S)): row ids, values, and an open-addressing hash from
 * row id to overlay slot, so a lookup costs the same at S = 48 and at S = 10^6 and the agent's work
 * is proportional to the rows it touches.
 */
#ifndef PFR_CPU_STEP_H
#define PFR_CPU_STEP_H

#include <stdint.h>
#include <string.h>

#include "kernels/pfr_agent_math.h"

/* 32-byte vectors in functions that are always inlined: the ABI note for passing them without AVX
 * does not apply */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float pfr_v8 __attribute__((vector_size(32)));
typedef float pfr_v4 __attribute__((vector_size(16)));
typedef double pfr_d4 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) pfr_v8 pfr_load8(const float *p)
{
    pfr_v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline __attribute__((always_inline)) void pfr_store8(float *p, pfr_v8 v) { memcpy(p, &v, sizeof v); }
static inline __attribute__((always_inline)) pfr_v4 pfr_load4(const float *p)
{
    pfr_v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline __attribute__((always_inline)) void pfr_store4(float *p, pfr_v4 v) { memcpy(p, &v, sizeof v); }

typedef int pfr_v4i __attribute__((vector_size(16)));

/* pfr_dot's final tree for two dot products at once, from their eight partial sums a and b:
 * with A_l = a_l + a_{l+4}, ((a0+a4)+(a2+a6))+((a1+a5)+(a3+a7)) = (A0+A2) + (A1+A3), the same for b. */
static inline __attribute__((always_inline)) void pfr_tree8x2(pfr_v8 a, pfr_v8 b, float *va, float *vb)
{
    const pfr_v4 A = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
    const pfr_v4 B = __builtin_shufflevector(b, b, 0, 1, 2, 3) + __builtin_shufflevector(b, b, 4, 5, 6, 7);
    const pfr_v4 g = __builtin_shufflevector(A, B, 0, 1, 4, 5) + __builtin_shufflevector(A, B, 2, 3, 6, 7);
    *va = g[0] + g[1];
    *vb = g[2] + g[3];
}

/* The TD step of pfr_td_step for d = 8 * C (C chunks of 8 features). */
static inline __attribute__((always_inline)) void pfr_td_step_v8(float *ps, const float *pn, float *th, const int C,
                                                                 float rho, float gamma, float alpha, float beta,
                                                                 int learn)
{
    pfr_v8 x[4], y[4], t[4];
    const pfr_v8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
    pfr_v8 as = zero, an = zero;
    for (int c = 0; c < C; ++c) { /* every load before any store: phi_s and phi_next may be one row */
        x[c] = pfr_load8(ps + 8 * c);
        y[c] = pfr_load8(pn + 8 * c);
        t[c] = pfr_load8(th + 8 * c);
    }
    for (int c = 0; c < C; ++c) {
        as = as + x[c] * t[c];
        an = an + y[c] * t[c];
    }
    float vs, vn;
    pfr_tree8x2(as, an, &vs, &vn);
    const float delta = pfr_td_delta(rho, gamma, vs, vn);
    const float a = alpha * delta, b = beta * delta;
    for (int c = 0; c < C; ++c) {
        pfr_store8(th + 8 * c, t[c] + a * x[c]);
        if (learn)
            pfr_store8(ps + 8 * c, x[c] + b * t[c]);
    }
}

static inline __attribute__((always_inline)) void pfr_td_step_v4(float *ps, const float *pn, float *th, float rho,
                                                                 float gamma, float alpha, float beta, int learn)
{
    const pfr_v4 zero = {0, 0, 0, 0};
    const pfr_v4 x = pfr_load4(ps), y = pfr_load4(pn), t = pfr_load4(th);
    const pfr_v4 as = zero + x * t, an = zero + y * t;
    const float delta = pfr_td_delta(rho, gamma, (as[0] + as[2]) + (as[1] + as[3]), (an[0] + an[2]) + (an[1] + an[3]));
    const float a = alpha * delta, b = beta * delta;
    pfr_store4(th, t + a * x);
    if (learn)
        pfr_store4(ps, x + b * t);
}

/* One TD step on the rows ps, pn of the agent's Phi_i and its theta [d]; d a compile-time constant
 * where the caller can make it one. */
static inline __attribute__((always_inline)) void pfr_cpu_td_step(float *ps, const float *pn, float *th, const int d,
                                                                  float rho, float gamma, float alpha, float beta,
                                                                  int learn, int vector)
{
    if (vector && d == 4)
        pfr_td_step_v4(ps, pn, th, rho, gamma, alpha, beta, learn);
    else if (vector && (d == 8 || d == 16 || d == 32))
        pfr_td_step_v8(ps, pn, th, d / 8, rho, gamma, alpha, beta, learn);
    else
        pfr_td_step(ps, pn, th, d, rho, gamma, alpha, beta, learn);
}

/* ---- an agent's overlay of the shared Phi ----------------------------------------------------- */
typedef struct pfr_overlay {
    uint8_t *map;     /* [S] slot of each row (0xFF: none), when S is moderate and R < 255; else NULL */
    int32_t *table;   /* [2 * cap]: row id (-1: empty) and overlay slot, open addressing (no map) */
    uint32_t shift;   /* hash: (row * 2654435761) >> shift, cap = 2^(32 - shift) >= 2R */
    uint32_t mask;
    int32_t *rows;    /* [R + 1] rows in the overlay, in first-touch order (one spare) */
    uint32_t *hpos;   /* [R] where each sits in the table (to empty it) */
    float *vals;      /* [R + 1, d] (one spare row: the map's branch-free insert writes it) */
    int n;
    int scanned;      /* its rows were found by the 16-agent step's slot scan (cpu_x16.c), which keeps
                       * the table empty: nothing to clear there */
} pfr_overlay;

#define PFR_OVERLAY_HASH_MUL 2654435761u /* Knuth's multiplicative hash: 2^32 / the golden ratio */

static inline __attribute__((always_inline)) uint32_t pfr_overlay_hash(const pfr_overlay *o, uint32_t s)
{
    return (s * PFR_OVERLAY_HASH_MUL) >> o->shift;
}

/* The agent's copy of row s, or NULL when it has none. */
static inline __attribute__((always_inline)) float *pfr_overlay_find(const pfr_overlay *o, uint32_t s, const int d)
{
    for (uint32_t h = pfr_overlay_hash(o, s);; h = (h + 1) & o->mask) {
        const int32_t key = o->table[2 * h];
        if (key == (int32_t)s)
            return o->vals + (size_t)o->table[2 * h + 1] * d;
        if (key < 0)
            return NULL;
    }
}

/* The agent's copy of row s, made from the shared Phi on its first visit. */
static inline __attribute__((always_inline)) float *pfr_overlay_get(pfr_overlay *o, const float *phi, uint32_t s,
                                                                    const int d)
{
    uint32_t h = pfr_overlay_hash(o, s);
    for (;; h = (h + 1) & o->mask) {
        const int32_t key = o->table[2 * h];
        if (key == (int32_t)s)
            return o->vals + (size_t)o->table[2 * h + 1] * d;
        if (key < 0)
            break;
    }
    const int q = o->n++;
    o->table[2 * h] = (int32_t)s;
    o->table[2 * h + 1] = q;
    o->rows[q] = (int32_t)s;
    o->hpos[q] = h;
    float *row = o->vals + (size_t)q * d;
    memcpy(row, phi + (size_t)s * d, sizeof(float) * (size_t)d);
    return row;
}

/* The same through the slot map, without a branch: the shared row is copied to the spare slot n on
 * every call, and n advances only when the row was new (a hit leaves a scratch copy unused). */
static inline __attribute__((always_inline)) float *pfr_overlay_get_map(pfr_overlay *o, const float *phi, uint32_t s,
                                                                        const int d)
{
    const uint32_t q0 = o->map[s], n = (uint32_t)o->n;
    const int miss = q0 == 0xFFu;
    const uint32_t q = miss ? n : q0;
    memcpy(o->vals + (size_t)n * d, phi + (size_t)s * d, sizeof(float) * (size_t)d);
    o->map[s] = (uint8_t)q;
    o->rows[n] = (int32_t)s;
    o->n += miss;
    return o->vals + (size_t)q * d;
}

static inline __attribute__((always_inline)) const float *pfr_overlay_find_map(const pfr_overlay *o, const float *phi,
                                                                               uint32_t s, const int d)
{
    const uint32_t q = o->map[s];
    return q != 0xFFu ? o->vals + (size_t)q * d : phi + (size_t)s * d;
}

/* Empty the overlay for the next agent (only the slots it used). */
static inline __attribute__((always_inline)) void pfr_overlay_clear(pfr_overlay *o)
{
    /* (the fields in locals: a byte store could alias them, and the loop would reload them) */
    const int n = o->scanned ? 0 : o->n; /* (the scan keeps its own keys: map and table stay empty) */
    const int32_t *restrict rows = o->rows;
    uint8_t *restrict map = o->map;
    if (map)
        for (int q = 0; q < n; ++q)
            map[rows[q]] = 0xFFu;
    else
        for (int q = 0; q < n; ++q)
            o->table[2 * o->hpos[q]] = -1;
    o->n = 0;
    o->scanned = 0;
}

#endif
