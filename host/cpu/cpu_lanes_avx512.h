/*
 * cpu_lanes_avx512.h — the lane layer of the 16-agent step (cpu_group_step.h) with AVX-512: one
 * register holds a value of all 16 agents of a group (lane g = agent i0 + g), a mask register says
 * which lanes an operation touches. Each function is the one instruction (or the few) that the step
 * wrote by hand before it was written once for every width; cpu_lanes_avx2.h is the same layer on
 * two 8-lane registers. Included by cpu_x16.c only.
 *
 *   lvi: 16 x int32    lvf: 16 x float    lvm: 16 lane flags    lvp: 16 addresses
 */
#ifndef PFR_CPU_LANES_AVX512_H
#define PFR_CPU_LANES_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#include "kernels/pfr_agent_math.h"
#include "cpu_engine.h"

/*
 * The transposes of the AVX-512 layer (d = 4, 8 and 16: the TD math of 16 agents at once, one
 * vector lane per agent). Each agent's rows are loaded whole from where they live (its overlay, its
 * own Phi_i or the shared Phi: one contiguous load each), transposed in registers so that register
 * l holds feature l of all 16 agents, updated, transposed back and stored whole.
 *
 * The transpose: 16 rows of D floats fill D registers (16/D rows each). A stage swaps one bit of
 * the register index with one bit of the lane index, pairing registers that differ in that bit
 * (a two-register permute each way); log2(D) stages, register bit k with lane bit k, leave register
 * l holding feature l of every row. Each stage is its own inverse, so the stages in reverse order
 * transpose back. The lane a row ends in is fixed by the network (for D < 16 not its input
 * position); pfr_x16_init works it out once, and rows are placed so that lane g is agent g.
 *
 * The arithmetic per lane is pfr_td_step's: products, eight partial sums from +0 in pfr_dot's
 * order (partials 4..7 stay +0 for d = 4), the fixed tree, the delta, a = alpha * delta and
 * b = beta * delta rounded once, separate multiplies and adds. So lane g computes agent g's bits.
 */

/* The permutes of a stage (bit k): a' lane i = i has bit k ? b[i ^ bit] : a[i], b' lane i = i has
 * bit k ? b[i] : a[i ^ bit] (in permutex2var's numbering, 16 + j is b's lane j). */
static const int32_t PFR_X16_IA[4][16] = {{0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30},
                                          {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
                                          {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
                                          {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23}};
static const int32_t PFR_X16_IB[4][16] = {{1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31},
                                          {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31},
                                          {4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31},
                                          {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31}};

/* One stage on registers a, b (differing in register bit k): lane bit k exchanged. */
__attribute__((target("avx512f"), always_inline)) static inline void pfr_x16_stage(__m512 *a, __m512 *b, int k)
{
    const __m512i xa = _mm512_loadu_si512(PFR_X16_IA[k]), xb = _mm512_loadu_si512(PFR_X16_IB[k]);
    const __m512 na = _mm512_permutex2var_ps(*a, xa, *b), nb = _mm512_permutex2var_ps(*a, xb, *b);
    *a = na;
    *b = nb;
}

/* The network on D registers (an involution stage by stage; `reverse` runs the stages backwards). */
__attribute__((target("avx512f"), always_inline)) static inline void pfr_x16_network(__m512 *z, const int D, int reverse)
{
    const int stages = D == 4 ? 2 : D == 8 ? 3 : 4;
    for (int q = 0; q < stages; ++q) {
        const int k = reverse ? stages - 1 - q : q;
        for (int p = 0; p < D; ++p)
            if (!(p & (1 << k)))
                pfr_x16_stage(&z[p], &z[p | (1 << k)], k);
    }
}

/* Register z[p] holds input rows p * (16/D) .. : row r's features at lanes (r % (16/D)) * D + l. */
__attribute__((target("avx512f"))) static inline void pfr_x16_init(pfr_x16_layout *lay)
{
    for (int D = 4; D <= 16; D *= 2) {
        __m512 z[16];
        for (int p = 0; p < D; ++p) { /* lane value: the input row it came from */
            float v[16];
            for (int i = 0; i < 16; ++i)
                v[i] = (float)((p * 16 + i) / D);
            z[p] = _mm512_loadu_ps(v);
        }
        pfr_x16_network(z, D, 0);
        float out[16];
        _mm512_storeu_ps(out, z[0]); /* feature 0 of every lane */
        for (int g = 0; g < 16; ++g)
            lay->inv[D >> 3][(int)out[g]] = g;
    }
}

/* The 16 rows rows[g] ([D] each) transposed into x[0..D): x[l] lane g = rows[g][l]. */
__attribute__((target("avx512f"), always_inline)) static inline void pfr_x16_load(const pfr_x16_layout *lay, const float *const *rows,
                                                                   const int D, __m512 *x)
{
    const int *inv = lay->inv[D >> 3];
    for (int p = 0; p < D; ++p) {
        if (D == 16) {
            x[p] = _mm512_loadu_ps(rows[inv[p]]);
        } else if (D == 8) {
            const __m256 lo = _mm256_loadu_ps(rows[inv[2 * p]]), hi = _mm256_loadu_ps(rows[inv[2 * p + 1]]);
            x[p] = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
        } else {
            __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(rows[inv[4 * p]]));
            v = _mm512_insertf32x4(v, _mm_loadu_ps(rows[inv[4 * p + 1]]), 1);
            v = _mm512_insertf32x4(v, _mm_loadu_ps(rows[inv[4 * p + 2]]), 2);
            x[p] = _mm512_insertf32x4(v, _mm_loadu_ps(rows[inv[4 * p + 3]]), 3);
        }
    }
    pfr_x16_network(x, D, 0);
}

/* The inverse: x[0..D) (lane g = agent g) stored as rows[g] ([D] each); x is consumed. */
__attribute__((target("avx512f"), always_inline)) static inline void pfr_x16_store(const pfr_x16_layout *lay, float *const *rows,
                                                                    const int D, __m512 *x)
{
    const int *inv = lay->inv[D >> 3];
    pfr_x16_network(x, D, 1);
    for (int p = 0; p < D; ++p) {
        if (D == 16) {
            _mm512_storeu_ps(rows[inv[p]], x[p]);
        } else if (D == 8) {
            _mm256_storeu_ps(rows[inv[2 * p]], _mm512_castps512_ps256(x[p]));
            _mm256_storeu_ps(rows[inv[2 * p + 1]], _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x[p]), 1)));
        } else {
            _mm_storeu_ps(rows[inv[4 * p]], _mm512_castps512_ps128(x[p]));
            _mm_storeu_ps(rows[inv[4 * p + 1]], _mm512_extractf32x4_ps(x[p], 1));
            _mm_storeu_ps(rows[inv[4 * p + 2]], _mm512_extractf32x4_ps(x[p], 2));
            _mm_storeu_ps(rows[inv[4 * p + 3]], _mm512_extractf32x4_ps(x[p], 3));
        }
    }
}

/* Philox4x32-10 (pfr_agent_math.h) for agents i0 .. i0+15 (i0 a multiple of 16) at step t: word 0
 * returned, word 1 in *w1, lane g = agent i0+g. */
/* hi and lo halves of the 32 x 32 -> 64 products c * m, lane by lane */
__attribute__((target("avx512f"))) static inline __m512i mulhilo512(__m512i c, __m512i m, __m512i *lo)
{
    const __m512i pe = _mm512_mul_epu32(c, m);                        /* even lanes: full products */
    const __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(c, 32), m); /* odd lanes */
    *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
    return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
}

/* All four words for agents i0 .. i0+15 at step t into w[0..3] (control needs words 2 and 3). */
__attribute__((target("avx512f"))) static inline void philox16_regs4(uint64_t seed, int64_t i0, uint64_t t, __m512i *w)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i c0 = _mm512_set1_epi32((int)(uint32_t)t), c1 = _mm512_set1_epi32((int)(uint32_t)(t >> 32));
    __m512i c2 = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)i0), lane); /* i0 % 16 == 0: no carry */
    __m512i c3 = _mm512_set1_epi32((int)(uint32_t)((uint64_t)i0 >> 32));
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    const __m512i m0 = _mm512_set1_epi32((int)PFR_PHILOX_M0), m1 = _mm512_set1_epi32((int)PFR_PHILOX_M1);
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += PFR_PHILOX_W0;
            k1 += PFR_PHILOX_W1;
        }
        __m512i lo0, lo1;
        const __m512i hi0 = mulhilo512(c0, m0, &lo0), hi1 = mulhilo512(c2, m1, &lo1);
        c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k0));
        c1 = lo1;
        c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k1));
        c3 = lo0;
    }
    w[0] = c0;
    w[1] = c1;
    w[2] = c2;
    w[3] = c3;
}

/* words 0 and 1 for agents i0 .. i0+15 at step t, in registers (words 2 and 3 come free and go) */
__attribute__((target("avx512f"))) static inline __m512i philox16_regs(uint64_t seed, int64_t i0, uint64_t t, __m512i *w1)
{
    __m512i w[4];
    philox16_regs4(seed, i0, t, w);
    *w1 = w[1];
    return w[0];
}

#define LV_TARGET __attribute__((target("avx512f")))
#define LV __attribute__((target("avx512f"), always_inline)) static inline
#define LV_SCATTER 1 /* a scatter instruction (else the step writes new slot keys as it scans) */

typedef __m512i lvi;
typedef __m512 lvf;
typedef __mmask16 lvm;
typedef struct lvp { /* 64-bit addresses, two vectors of 8 */
    __m512i h[2];
} lvp;

/* ---- integers ---- */
LV lvi lvi_load(const void *p) { return _mm512_loadu_si512(p); }
LV void lvi_store(void *p, lvi v) { _mm512_storeu_si512(p, v); }
LV lvi lvi_set1(int32_t x) { return _mm512_set1_epi32(x); }
LV lvi lvi_zero(void) { return _mm512_setzero_si512(); }
LV lvi lvi_lanes(void) { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
LV lvi lvi_add(lvi a, lvi b) { return _mm512_add_epi32(a, b); }
LV lvi lvi_sub(lvi a, lvi b) { return _mm512_sub_epi32(a, b); }
LV lvi lvi_and(lvi a, lvi b) { return _mm512_and_si512(a, b); }
LV lvi lvi_andnot(lvi a, lvi b) { return _mm512_andnot_si512(a, b); } /* ~a & b */
LV lvi lvi_mullo(lvi a, lvi b) { return _mm512_mullo_epi32(a, b); }
LV lvi lvi_slli(lvi a, const int n) { return _mm512_slli_epi32(a, (unsigned)n); }
LV lvi lvi_srli(lvi a, const int n) { return _mm512_srli_epi32(a, (unsigned)n); }
LV lvi lvi_srlv(lvi a, lvi n) { return _mm512_srlv_epi32(a, n); }
/* lane g: m has g ? a op b : src */
LV lvi lvi_mask_add(lvi src, lvm m, lvi a, lvi b) { return _mm512_mask_add_epi32(src, m, a, b); }
LV lvi lvi_mask_sub(lvi src, lvm m, lvi a, lvi b) { return _mm512_mask_sub_epi32(src, m, a, b); }
LV lvi lvi_mask_and(lvi src, lvm m, lvi a, lvi b) { return _mm512_mask_and_epi32(src, m, a, b); }
LV lvi lvi_mask_mov(lvi src, lvm m, lvi a) { return _mm512_mask_mov_epi32(src, m, a); }

/* ---- comparisons (u: unsigned) and masks ---- */
LV lvm lvi_eq(lvi a, lvi b) { return _mm512_cmpeq_epi32_mask(a, b); }
LV lvm lvi_ne(lvi a, lvi b) { return _mm512_cmpneq_epi32_mask(a, b); }
LV lvm lvi_gt(lvi a, lvi b) { return _mm512_cmpgt_epi32_mask(a, b); } /* signed */
LV lvm lvi_leu(lvi a, lvi b) { return _mm512_cmple_epu32_mask(a, b); }
LV lvm lvi_test(lvi a, lvi b) { return _mm512_test_epi32_mask(a, b); }   /* (a & b) != 0 */
LV lvm lvi_testn(lvi a, lvi b) { return _mm512_testn_epi32_mask(a, b); } /* (a & b) == 0 */
LV lvm lvi_mask_eq(lvm m, lvi a, lvi b) { return _mm512_mask_cmpeq_epi32_mask(m, a, b); }
LV lvm lvi_mask_ge(lvm m, lvi a, lvi b) { return _mm512_mask_cmpge_epi32_mask(m, a, b); } /* signed */
LV int lvi_any_above1(lvi a) { return _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(1)) != 0; } /* unsigned */
LV lvm lvm_and(lvm a, lvm b) { return a & b; }
LV lvm lvm_or(lvm a, lvm b) { return a | b; }
LV lvm lvm_andnot(lvm a, lvm b) { return (lvm)(~a & b); } /* ~a & b */
LV int lvm_any(lvm m) { return m != 0; }
LV unsigned lvm_bits(lvm m) { return m; }
LV lvm lvm_from_bits(unsigned b) { return (lvm)b; }

/* ---- memory: gathers (base + scale * idx, lane by lane), scatters, masked stores ---- */
LV lvi lvi_gather1(lvi idx, const void *base) { return _mm512_i32gather_epi32(idx, base, 1); }
LV lvi lvi_gather2(lvi idx, const void *base) { return _mm512_i32gather_epi32(idx, base, 2); }
LV lvi lvi_gather4(lvi idx, const void *base) { return _mm512_i32gather_epi32(idx, base, 4); }
LV lvi lvi_gather8(lvi idx, const void *base) { return _mm512_i32gather_epi32(idx, base, 8); }
LV lvi lvi_mask_gather4(lvi src, lvm m, lvi idx, const void *base) { return _mm512_mask_i32gather_epi32(src, m, idx, base, 4); }
LV lvi lvi_mask_gather8(lvi src, lvm m, lvi idx, const void *base) { return _mm512_mask_i32gather_epi32(src, m, idx, base, 8); }
LV lvf lvf_gather4(lvi idx, const void *base) { return _mm512_i32gather_ps(idx, base, 4); }
LV void lvi_mask_scatter4(void *base, lvm m, lvi idx, lvi v) { _mm512_mask_i32scatter_epi32(base, m, idx, v, 4); }
LV void lvi_mask_store(void *p, lvm m, lvi v) { _mm512_mask_storeu_epi32(p, m, v); }

/* ---- floats ---- */
LV lvf lvf_load(const float *p) { return _mm512_loadu_ps(p); }
LV void lvf_store(float *p, lvf v) { _mm512_storeu_ps(p, v); }
LV lvf lvf_set1(float x) { return _mm512_set1_ps(x); }
LV lvf lvf_zero(void) { return _mm512_setzero_ps(); }
LV lvf lvf_add(lvf a, lvf b) { return _mm512_add_ps(a, b); }
LV lvf lvf_sub(lvf a, lvf b) { return _mm512_sub_ps(a, b); }
LV lvf lvf_mul(lvf a, lvf b) { return _mm512_mul_ps(a, b); }
LV lvf lvf_mask_add(lvf src, lvm m, lvf a, lvf b) { return _mm512_mask_add_ps(src, m, a, b); }

/* ---- addresses ---- */
LV lvp lvp_same(const void *p)
{
    lvp v;
    v.h[0] = v.h[1] = _mm512_set1_epi64((long long)(uintptr_t)p);
    return v;
}
LV lvp lvp_load(const float *const *ptrs)
{
    lvp v;
    v.h[0] = _mm512_loadu_si512((const void *)ptrs);
    v.h[1] = _mm512_loadu_si512((const void *)(ptrs + 8));
    return v;
}
/* base[g] + 4 * off[g] (off unsigned) */
LV lvp lvp_addr(const lvp *base, lvi off)
{
    lvp p;
    for (int h = 0; h < 2; ++h) {
        const __m512i o = _mm512_cvtepu32_epi64(h ? _mm512_extracti64x4_epi64(off, 1) : _mm512_castsi512_si256(off));
        p.h[h] = _mm512_add_epi64(base->h[h], _mm512_slli_epi64(o, 2));
    }
    return p;
}
LV lvp lvp_blend(lvm m, lvp a, lvp b) /* lane g: m has g ? b : a */
{
    lvp p;
    p.h[0] = _mm512_mask_blend_epi64((__mmask8)(m & 0xFF), a.h[0], b.h[0]);
    p.h[1] = _mm512_mask_blend_epi64((__mmask8)(m >> 8), a.h[1], b.h[1]);
    return p;
}
LV void lvp_put(lvp p, const float **out)
{
    _mm512_storeu_si512((void *)out, p.h[0]);
    _mm512_storeu_si512((void *)(out + 8), p.h[1]);
}

/* ---- Philox words 0 and 1 of agents i0 .. i0+15 at step t (philox16_regs above) ---- */
LV lvi lv_philox(uint64_t seed, int64_t i0, uint64_t t, lvi *w1) { return philox16_regs(seed, i0, t, w1); }

/* ---- rows of D floats <-> registers by feature (the transposes above) ---- */
LV void lv_rows_load(const cpu_engine *e, const float *const *rows, const int D, lvf *x)
{
    pfr_x16_load(&e->x16_layout, rows, D, x);
}
LV void lv_rows_store(const cpu_engine *e, float *const *rows, const int D, lvf *x)
{
    pfr_x16_store(&e->x16_layout, rows, D, x);
}

/* acc[0..8) = (fresh ? +0 : acc) + ((double)loc - (double)ref), element by element */
LV void lv_fold8(double *acc, const float *loc, const float *ref, int fresh)
{
    const __m512d diff = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(loc)), _mm512_cvtps_pd(_mm256_loadu_ps(ref)));
    _mm512_storeu_pd(acc, _mm512_add_pd(fresh ? _mm512_setzero_pd() : _mm512_loadu_pd(acc), diff));
}

LV void lv_prefetch(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T0); }

#endif
