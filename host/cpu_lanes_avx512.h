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

#include "cpu_engine.h"

#define LV_TARGET __attribute__((target("avx512f")))
#define LV __attribute__((target("avx512f"), always_inline)) static inline
#define LV_SCATTER 1 /* a scatter instruction (else the step writes new slot keys as it scans) */
#define LV_NAME "avx512"

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
LV lvm lvi_gtu(lvi a, lvi b) { return _mm512_cmpgt_epu32_mask(a, b); }
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

/* ---- Philox words 0 and 1 of agents i0 .. i0+15 at step t (cpu_x16.h) ---- */
LV lvi lv_philox(uint64_t seed, int64_t i0, uint64_t t, lvi *w1) { return philox16_regs(seed, i0, t, w1); }

/* ---- rows of D floats <-> registers by feature (cpu_x16.h's transposes) ---- */
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
