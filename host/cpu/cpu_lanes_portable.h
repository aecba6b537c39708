/*
 * cpu_lanes_portable.h — the lane layer of the 16-agent step (cpu_group_step.h) in portable C: GCC
 * and Clang vector extensions of 16 lanes (64 bytes), which the compiler lowers to what the target
 * has: four 128-bit registers on ARM64 (NEON) or on x86 without AVX2 (SSE2). What no such target
 * has as one instruction (gathers, scatters, bit masks, transposes) is written lane by lane. The same
 * functions as cpu_lanes_avx512.h, each lane computing what that layer's lane computes (integers
 * exactly, floats by the same single IEEE operation), so the step gives the same bits on it; and it
 * runs, and is tested, on every machine. Included by cpu_group_portable.c only.
 *
 *   lvi: 16 x uint32    lvf: 16 x float    lvm: 16 lanes of -1 (set) or 0    lvp: 16 addresses
 */
#ifndef PFR_CPU_LANES_PORTABLE_H
#define PFR_CPU_LANES_PORTABLE_H

#include <stdint.h>
#include <string.h>

#include "kernels/pfr_agent_math.h"
#include "cpu_engine.h"

#define LV_TARGET
#define LV __attribute__((always_inline)) static inline
#define LV_SCATTER 0 /* a scatter instruction (else the step writes new slot keys as it scans) */

typedef uint32_t lvi __attribute__((vector_size(64)));
typedef int32_t lvs __attribute__((vector_size(64))); /* signed view, and masks */
typedef lvs lvm;
typedef float lvf __attribute__((vector_size(64)));
typedef uint64_t lvq __attribute__((vector_size(128)));
typedef struct lvp {
    const float *p[16];
} lvp;

/* ---- integers ---- */
LV lvi lvi_load(const void *p)
{
    lvi v;
    memcpy(&v, p, sizeof v);
    return v;
}
LV void lvi_store(void *p, lvi v) { memcpy(p, &v, sizeof v); }
LV lvi lvi_set1(int32_t x)
{
    const lvi z = {0};
    return z + (uint32_t)x;
}
LV lvi lvi_zero(void) { return lvi_set1(0); }
LV lvi lvi_lanes(void) { return (lvi){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; }
LV lvi lvi_add(lvi a, lvi b) { return a + b; }
LV lvi lvi_sub(lvi a, lvi b) { return a - b; }
LV lvi lvi_and(lvi a, lvi b) { return a & b; }
LV lvi lvi_andnot(lvi a, lvi b) { return ~a & b; }
LV lvi lvi_mullo(lvi a, lvi b) { return a * b; } /* unsigned: wraps, as the low 32 bits of the product */
LV lvi lvi_slli(lvi a, const int n) { return a << (uint32_t)n; }
LV lvi lvi_srli(lvi a, const int n) { return a >> (uint32_t)n; }
LV lvi lvi_srlv(lvi a, lvi n) { return a >> n; }
LV lvi lvi_blendm(lvi src, lvm m, lvi a) { return (src & ~(lvi)m) | (a & (lvi)m); } /* m ? a : src */
LV lvi lvi_mask_add(lvi src, lvm m, lvi a, lvi b) { return lvi_blendm(src, m, a + b); }
LV lvi lvi_mask_sub(lvi src, lvm m, lvi a, lvi b) { return lvi_blendm(src, m, a - b); }
LV lvi lvi_mask_and(lvi src, lvm m, lvi a, lvi b) { return lvi_blendm(src, m, a & b); }
LV lvi lvi_mask_mov(lvi src, lvm m, lvi a) { return lvi_blendm(src, m, a); }

/* ---- comparisons (u: unsigned) and masks ---- */
LV lvm lvi_eq(lvi a, lvi b) { return (lvm)(a == b); }
LV lvm lvi_ne(lvi a, lvi b) { return (lvm)(a != b); }
LV lvm lvi_gtu(lvi a, lvi b) { return (lvm)(a > b); }
LV lvm lvi_gt(lvi a, lvi b) { return (lvm)((lvs)a > (lvs)b); } /* signed */
LV lvm lvi_leu(lvi a, lvi b) { return (lvm)(a <= b); }
LV lvm lvi_test(lvi a, lvi b) { return (lvm)((a & b) != 0); }
LV lvm lvi_testn(lvi a, lvi b) { return (lvm)((a & b) == 0); }
LV lvm lvm_and(lvm a, lvm b) { return a & b; }
LV lvm lvm_or(lvm a, lvm b) { return a | b; }
LV lvm lvm_andnot(lvm a, lvm b) { return ~a & b; }
LV lvm lvi_mask_eq(lvm m, lvi a, lvi b) { return m & lvi_eq(a, b); }
LV lvm lvi_mask_ge(lvm m, lvi a, lvi b) { return m & (lvm)((lvs)a >= (lvs)b); } /* signed */
LV unsigned lvm_bits(lvm m)
{
    unsigned b = 0;
    for (int g = 0; g < 16; ++g)
        b |= (unsigned)(m[g] & 1) << g;
    return b;
}
LV int lvm_any(lvm m) { return lvm_bits(m) != 0; }
LV lvm lvm_from_bits(unsigned b) { return -(lvm)((lvi_set1((int32_t)b) >> lvi_lanes()) & 1); }
LV int lvi_any_above1(lvi a) { return lvm_any(lvi_gtu(a, lvi_set1(1))); }

/* ---- memory: gathers (base + scale * idx, lane by lane), scatters, masked stores ---- */
LV lvi lv_gather(lvi idx, const void *base, const int scale, lvm m, lvi src)
{
    lvi r = src;
    for (int g = 0; g < 16; ++g)
        if (m[g]) {
            uint32_t x;
            memcpy(&x, (const char *)base + (size_t)scale * idx[g], sizeof x);
            r[g] = x;
        }
    return r;
}
LV lvi lvi_gather1(lvi idx, const void *base) { return lv_gather(idx, base, 1, (lvm)lvi_set1(-1), idx); }
LV lvi lvi_gather2(lvi idx, const void *base) { return lv_gather(idx, base, 2, (lvm)lvi_set1(-1), idx); }
LV lvi lvi_gather4(lvi idx, const void *base) { return lv_gather(idx, base, 4, (lvm)lvi_set1(-1), idx); }
LV lvi lvi_gather8(lvi idx, const void *base) { return lv_gather(idx, base, 8, (lvm)lvi_set1(-1), idx); }
LV lvi lvi_mask_gather4(lvi src, lvm m, lvi idx, const void *base) { return lv_gather(idx, base, 4, m, src); }
LV lvi lvi_mask_gather8(lvi src, lvm m, lvi idx, const void *base) { return lv_gather(idx, base, 8, m, src); }
LV lvf lvf_gather4(lvi idx, const void *base)
{
    lvf r;
    for (int g = 0; g < 16; ++g) { /* (no address of a vector's element: Clang refuses one) */
        float x;
        memcpy(&x, (const char *)base + (size_t)4 * idx[g], sizeof x);
        r[g] = x;
    }
    return r;
}
LV void lvi_mask_scatter4(void *base, lvm m, lvi idx, lvi v)
{
    for (int g = 0; g < 16; ++g)
        if (m[g])
            ((uint32_t *)base)[idx[g]] = v[g];
}
LV void lvi_mask_store(void *p, lvm m, lvi v)
{
    for (int g = 0; g < 16; ++g)
        if (m[g]) {
            const uint32_t x = v[g];
            memcpy((char *)p + 4 * g, &x, sizeof x);
        }
}

/* ---- floats ---- */
LV lvf lvf_load(const float *p) { return (lvf)lvi_load(p); } /* (a vector cast keeps the bits) */
LV void lvf_store(float *p, lvf v) { lvi_store(p, (lvi)v); }
LV lvf lvf_set1(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return (lvf)lvi_set1((int32_t)b);
}
LV lvf lvf_zero(void)
{
    const lvf z = {0};
    return z;
}
LV lvf lvf_add(lvf a, lvf b) { return a + b; }
LV lvf lvf_sub(lvf a, lvf b) { return a - b; }
LV lvf lvf_mul(lvf a, lvf b) { return a * b; }
LV lvf lvf_mask_add(lvf src, lvm m, lvf a, lvf b)
{
    const lvf s = a + b;
    return (lvf)(((lvi)src & ~(lvi)m) | ((lvi)s & (lvi)m));
}

/* ---- addresses ---- */
LV lvp lvp_same(const void *p)
{
    lvp v;
    for (int g = 0; g < 16; ++g)
        v.p[g] = (const float *)p;
    return v;
}
LV lvp lvp_load(const float *const *ptrs)
{
    lvp v;
    memcpy(v.p, ptrs, sizeof v.p);
    return v;
}
LV lvp lvp_addr(const lvp *base, lvi off) /* base[g] + 4 * off[g] bytes */
{
    lvp v;
    for (int g = 0; g < 16; ++g)
        v.p[g] = base->p[g] + off[g];
    return v;
}
LV lvp lvp_blend(lvm m, lvp a, lvp b)
{
    lvp v;
    for (int g = 0; g < 16; ++g)
        v.p[g] = m[g] ? b.p[g] : a.p[g];
    return v;
}
LV void lvp_put(lvp p, const float **out) { memcpy(out, p.p, sizeof p.p); }

/* ---- Philox4x32-10 words 0 and 1 of agents i0 .. i0+15 (i0 a multiple of 16) at step t ---- */
LV lvi lv_philox(uint64_t seed, int64_t i0, uint64_t t, lvi *w1)
{
    const lvq m0 = __builtin_convertvector(lvi_set1((int32_t)PFR_PHILOX_M0), lvq),
              m1 = __builtin_convertvector(lvi_set1((int32_t)PFR_PHILOX_M1), lvq);
    lvi c0 = lvi_set1((int32_t)(uint32_t)t), c1 = lvi_set1((int32_t)(uint32_t)(t >> 32));
    lvi c2 = lvi_set1((int32_t)(uint32_t)i0) + lvi_lanes(); /* i0 % 16 == 0: no carry */
    lvi c3 = lvi_set1((int32_t)(uint32_t)((uint64_t)i0 >> 32));
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += PFR_PHILOX_W0;
            k1 += PFR_PHILOX_W1;
        }
        const lvq p0 = __builtin_convertvector(c0, lvq) * m0, p1 = __builtin_convertvector(c2, lvq) * m1;
        const lvi hi0 = __builtin_convertvector(p0 >> 32, lvi), lo0 = __builtin_convertvector(p0, lvi);
        const lvi hi1 = __builtin_convertvector(p1 >> 32, lvi), lo1 = __builtin_convertvector(p1, lvi);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    *w1 = c1;
    return c0;
}

/* ---- rows of D floats <-> registers by feature: x[l] lane g = rows[g][l], lane by lane ---- */
LV void lv_rows_load(const cpu_engine *e, const float *const *rows, const int D, lvf *x)
{
    (void)e;
    for (int g = 0; g < 16; ++g) {
        float r[16];
        memcpy(r, rows[g], sizeof(float) * (size_t)D);
        for (int l = 0; l < D; ++l)
            x[l][g] = r[l];
    }
}
LV void lv_rows_store(const cpu_engine *e, float *const *rows, const int D, lvf *x)
{
    (void)e;
    for (int g = 0; g < 16; ++g) {
        float r[16];
        for (int l = 0; l < D; ++l)
            r[l] = x[l][g];
        memcpy(rows[g], r, sizeof(float) * (size_t)D);
    }
}

/* acc[0..8) = (fresh ? +0 : acc) + ((double)loc - (double)ref), element by element */
LV void lv_fold8(double *acc, const float *loc, const float *ref, int fresh)
{
    typedef float f8 __attribute__((vector_size(32)));
    typedef double d8 __attribute__((vector_size(64)));
    f8 l, r;
    d8 a = {0};
    memcpy(&l, loc, sizeof l);
    memcpy(&r, ref, sizeof r);
    if (!fresh)
        memcpy(&a, acc, sizeof a);
    a = a + (__builtin_convertvector(l, d8) - __builtin_convertvector(r, d8));
    memcpy(acc, &a, sizeof a);
}

LV void lv_prefetch(const void *p) { __builtin_prefetch(p); }

#endif
