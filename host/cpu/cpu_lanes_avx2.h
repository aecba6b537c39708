/*
 * cpu_lanes_avx2.h — the lane layer of the 16-agent step (cpu_group_step.h) with AVX2: a value of
 * the group's 16 agents in two 8-lane registers (h[0]: agents i0 .. i0+7, h[1]: i0+8 .. i0+15), a
 * mask as two registers of all-ones or zero lanes. The same functions as cpu_lanes_avx512.h, each
 * lane computing what that layer's lane computes (integers exactly; floats by the same single
 * IEEE operation), so the step gives the same bits on either. Where AVX2 has no instruction for an
 * operation (unsigned compares, scatters, masks of bits) it is built from two or three that it has.
 * Included by cpu_group_avx2.c only.
 *
 *   lvi: 16 x int32    lvf: 16 x float    lvm: 16 lane flags    lvp: 16 addresses
 */
#ifndef PFR_CPU_LANES_AVX2_H
#define PFR_CPU_LANES_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#include "kernels/pfr_agent_math.h"
#include "cpu_engine.h"

#define LV_TARGET __attribute__((target("avx2")))
#define LV __attribute__((target("avx2"), always_inline)) static inline
#define LV_SCATTER 0 /* a scatter instruction (else the step writes new slot keys as it scans) */

typedef struct lvi {
    __m256i h[2];
} lvi;
typedef struct lvf {
    __m256 h[2];
} lvf;
typedef struct lvm { /* each lane all ones (set) or zero */
    __m256i h[2];
} lvm;
typedef struct lvp { /* 64-bit addresses, four vectors of 4 */
    __m256i q[4];
} lvp;

/* a lane-wise operation on both halves */
#define LV2(T, expr0, expr1)                                                                                           \
    do {                                                                                                               \
        T r_;                                                                                                          \
        r_.h[0] = (expr0);                                                                                             \
        r_.h[1] = (expr1);                                                                                             \
        return r_;                                                                                                     \
    } while (0)

/* ---- integers ---- */
LV lvi lvi_load(const void *p) { LV2(lvi, _mm256_loadu_si256((const __m256i *)p), _mm256_loadu_si256((const __m256i *)p + 1)); }
LV void lvi_store(void *p, lvi v)
{
    _mm256_storeu_si256((__m256i *)p, v.h[0]);
    _mm256_storeu_si256((__m256i *)p + 1, v.h[1]);
}
LV lvi lvi_set1(int32_t x) { LV2(lvi, _mm256_set1_epi32(x), _mm256_set1_epi32(x)); }
LV lvi lvi_zero(void) { LV2(lvi, _mm256_setzero_si256(), _mm256_setzero_si256()); }
LV lvi lvi_lanes(void) { LV2(lvi, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15)); }
LV lvi lvi_add(lvi a, lvi b) { LV2(lvi, _mm256_add_epi32(a.h[0], b.h[0]), _mm256_add_epi32(a.h[1], b.h[1])); }
LV lvi lvi_sub(lvi a, lvi b) { LV2(lvi, _mm256_sub_epi32(a.h[0], b.h[0]), _mm256_sub_epi32(a.h[1], b.h[1])); }
LV lvi lvi_and(lvi a, lvi b) { LV2(lvi, _mm256_and_si256(a.h[0], b.h[0]), _mm256_and_si256(a.h[1], b.h[1])); }
LV lvi lvi_andnot(lvi a, lvi b) { LV2(lvi, _mm256_andnot_si256(a.h[0], b.h[0]), _mm256_andnot_si256(a.h[1], b.h[1])); }
LV lvi lvi_mullo(lvi a, lvi b) { LV2(lvi, _mm256_mullo_epi32(a.h[0], b.h[0]), _mm256_mullo_epi32(a.h[1], b.h[1])); }
LV lvi lvi_slli(lvi a, const int n) { LV2(lvi, _mm256_slli_epi32(a.h[0], n), _mm256_slli_epi32(a.h[1], n)); }
LV lvi lvi_srli(lvi a, const int n) { LV2(lvi, _mm256_srli_epi32(a.h[0], n), _mm256_srli_epi32(a.h[1], n)); }
LV lvi lvi_srlv(lvi a, lvi n) { LV2(lvi, _mm256_srlv_epi32(a.h[0], n.h[0]), _mm256_srlv_epi32(a.h[1], n.h[1])); }
LV lvi lvi_blendm(lvi src, lvm m, lvi a) /* lane g: m has g ? a : src */
{
    LV2(lvi, _mm256_blendv_epi8(src.h[0], a.h[0], m.h[0]), _mm256_blendv_epi8(src.h[1], a.h[1], m.h[1]));
}
LV lvi lvi_mask_add(lvi src, lvm m, lvi a, lvi b) { return lvi_blendm(src, m, lvi_add(a, b)); }
LV lvi lvi_mask_sub(lvi src, lvm m, lvi a, lvi b) { return lvi_blendm(src, m, lvi_sub(a, b)); }
LV lvi lvi_mask_and(lvi src, lvm m, lvi a, lvi b) { return lvi_blendm(src, m, lvi_and(a, b)); }
LV lvi lvi_mask_mov(lvi src, lvm m, lvi a) { return lvi_blendm(src, m, a); }

/* ---- comparisons (u: unsigned) and masks ---- */
LV lvm lvm_not(lvm m)
{
    const __m256i ones = _mm256_set1_epi32(-1);
    LV2(lvm, _mm256_xor_si256(m.h[0], ones), _mm256_xor_si256(m.h[1], ones));
}
LV lvm lvi_eq(lvi a, lvi b) { LV2(lvm, _mm256_cmpeq_epi32(a.h[0], b.h[0]), _mm256_cmpeq_epi32(a.h[1], b.h[1])); }
LV lvm lvi_ne(lvi a, lvi b) { return lvm_not(lvi_eq(a, b)); }
LV lvm lvi_leu(lvi a, lvi b) /* a <= b unsigned: max(a, b) == b */
{
    LV2(lvm, _mm256_cmpeq_epi32(_mm256_max_epu32(a.h[0], b.h[0]), b.h[0]),
        _mm256_cmpeq_epi32(_mm256_max_epu32(a.h[1], b.h[1]), b.h[1]));
}
LV lvm lvi_gt(lvi a, lvi b) { LV2(lvm, _mm256_cmpgt_epi32(a.h[0], b.h[0]), _mm256_cmpgt_epi32(a.h[1], b.h[1])); } /* signed */
LV lvm lvi_testn(lvi a, lvi b) { return lvi_eq(lvi_and(a, b), lvi_zero()); }
LV lvm lvi_test(lvi a, lvi b) { return lvm_not(lvi_testn(a, b)); }
LV int lvi_any_above1(lvi a) /* some lane above 1 (unsigned): a bit above bit 0 set */
{
    const __m256i hi = _mm256_set1_epi32(~1);
    return !_mm256_testz_si256(_mm256_or_si256(a.h[0], a.h[1]), hi);
}
LV lvm lvm_and(lvm a, lvm b) { LV2(lvm, _mm256_and_si256(a.h[0], b.h[0]), _mm256_and_si256(a.h[1], b.h[1])); }
LV lvm lvm_or(lvm a, lvm b) { LV2(lvm, _mm256_or_si256(a.h[0], b.h[0]), _mm256_or_si256(a.h[1], b.h[1])); }
LV lvm lvm_andnot(lvm a, lvm b) { LV2(lvm, _mm256_andnot_si256(a.h[0], b.h[0]), _mm256_andnot_si256(a.h[1], b.h[1])); }
LV lvm lvi_mask_eq(lvm m, lvi a, lvi b) { return lvm_and(m, lvi_eq(a, b)); }
LV lvm lvi_mask_ge(lvm m, lvi a, lvi b) /* signed: not b > a */
{
    LV2(lvm, _mm256_andnot_si256(_mm256_cmpgt_epi32(b.h[0], a.h[0]), m.h[0]),
        _mm256_andnot_si256(_mm256_cmpgt_epi32(b.h[1], a.h[1]), m.h[1]));
}
LV int lvm_any(lvm m) { return !_mm256_testz_si256(_mm256_or_si256(m.h[0], m.h[1]), _mm256_or_si256(m.h[0], m.h[1])); }
LV unsigned lvm_bits(lvm m)
{
    return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m.h[0])) |
           (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m.h[1])) << 8;
}
LV lvm lvm_from_bits(unsigned b)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i lo = _mm256_set1_epi32((int)(b & 0xFF)), hi = _mm256_set1_epi32((int)(b >> 8 & 0xFF));
    LV2(lvm, _mm256_cmpeq_epi32(_mm256_and_si256(lo, bit), bit), _mm256_cmpeq_epi32(_mm256_and_si256(hi, bit), bit));
}

/* ---- memory: gathers (base + scale * idx, lane by lane), scatters, masked stores ---- */
#define LV_GATHER(S)                                                                                                   \
    LV lvi lvi_gather##S(lvi idx, const void *base)                                                                    \
    {                                                                                                                  \
        LV2(lvi, _mm256_i32gather_epi32((const int *)base, idx.h[0], S), _mm256_i32gather_epi32((const int *)base, idx.h[1], S)); \
    }
LV_GATHER(1)
LV_GATHER(2)
LV_GATHER(4)
LV_GATHER(8)
#undef LV_GATHER
LV lvi lvi_mask_gather4(lvi src, lvm m, lvi idx, const void *base)
{
    LV2(lvi, _mm256_mask_i32gather_epi32(src.h[0], (const int *)base, idx.h[0], m.h[0], 4),
        _mm256_mask_i32gather_epi32(src.h[1], (const int *)base, idx.h[1], m.h[1], 4));
}
LV lvi lvi_mask_gather8(lvi src, lvm m, lvi idx, const void *base)
{
    LV2(lvi, _mm256_mask_i32gather_epi32(src.h[0], (const int *)base, idx.h[0], m.h[0], 8),
        _mm256_mask_i32gather_epi32(src.h[1], (const int *)base, idx.h[1], m.h[1], 8));
}
LV lvf lvf_gather4(lvi idx, const void *base)
{
    LV2(lvf, _mm256_i32gather_ps((const float *)base, idx.h[0], 4), _mm256_i32gather_ps((const float *)base, idx.h[1], 4));
}
LV void lvi_mask_scatter4(void *base, lvm m, lvi idx, lvi v) /* no scatter in AVX2: lane by lane, in lane order */
{
    int32_t ia[16], va[16];
    lvi_store(ia, idx);
    lvi_store(va, v);
    for (unsigned b = lvm_bits(m); b; b &= b - 1) {
        const int g = __builtin_ctz(b);
        ((int32_t *)base)[ia[g]] = va[g];
    }
}
LV void lvi_mask_store(void *p, lvm m, lvi v)
{
    _mm256_maskstore_epi32((int *)p, m.h[0], v.h[0]);
    _mm256_maskstore_epi32((int *)p + 8, m.h[1], v.h[1]);
}

/* ---- floats ---- */
LV lvf lvf_load(const float *p) { LV2(lvf, _mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)); }
LV void lvf_store(float *p, lvf v)
{
    _mm256_storeu_ps(p, v.h[0]);
    _mm256_storeu_ps(p + 8, v.h[1]);
}
LV lvf lvf_set1(float x) { LV2(lvf, _mm256_set1_ps(x), _mm256_set1_ps(x)); }
LV lvf lvf_zero(void) { LV2(lvf, _mm256_setzero_ps(), _mm256_setzero_ps()); }
LV lvf lvf_add(lvf a, lvf b) { LV2(lvf, _mm256_add_ps(a.h[0], b.h[0]), _mm256_add_ps(a.h[1], b.h[1])); }
LV lvf lvf_sub(lvf a, lvf b) { LV2(lvf, _mm256_sub_ps(a.h[0], b.h[0]), _mm256_sub_ps(a.h[1], b.h[1])); }
LV lvf lvf_mul(lvf a, lvf b) { LV2(lvf, _mm256_mul_ps(a.h[0], b.h[0]), _mm256_mul_ps(a.h[1], b.h[1])); }
LV lvf lvf_mask_add(lvf src, lvm m, lvf a, lvf b)
{
    const lvf s = lvf_add(a, b);
    LV2(lvf, _mm256_blendv_ps(src.h[0], s.h[0], _mm256_castsi256_ps(m.h[0])),
        _mm256_blendv_ps(src.h[1], s.h[1], _mm256_castsi256_ps(m.h[1])));
}

/* ---- addresses ---- */
LV lvp lvp_same(const void *p)
{
    lvp v;
    for (int q = 0; q < 4; ++q)
        v.q[q] = _mm256_set1_epi64x((long long)(uintptr_t)p);
    return v;
}
LV lvp lvp_load(const float *const *ptrs)
{
    lvp v;
    for (int q = 0; q < 4; ++q)
        v.q[q] = _mm256_loadu_si256((const __m256i *)(ptrs + 4 * q));
    return v;
}
/* lanes 4q .. 4q+3 of v as a 128-bit vector */
LV __m128i lv_quarter(const __m256i *h, const int q)
{
    return q & 1 ? _mm256_extracti128_si256(h[q >> 1], 1) : _mm256_castsi256_si128(h[q >> 1]);
}
LV lvp lvp_addr(const lvp *base, lvi off) /* base[g] + 4 * off[g] (off unsigned) */
{
    lvp p;
    for (int q = 0; q < 4; ++q)
        p.q[q] = _mm256_add_epi64(base->q[q], _mm256_slli_epi64(_mm256_cvtepu32_epi64(lv_quarter(off.h, q)), 2));
    return p;
}
LV lvp lvp_blend(lvm m, lvp a, lvp b) /* lane g: m has g ? b : a */
{
    lvp p;
    for (int q = 0; q < 4; ++q)
        p.q[q] = _mm256_blendv_epi8(a.q[q], b.q[q], _mm256_cvtepi32_epi64(lv_quarter(m.h, q)));
    return p;
}
LV void lvp_put(lvp p, const float **out)
{
    for (int q = 0; q < 4; ++q)
        _mm256_storeu_si256((__m256i *)(out + 4 * q), p.q[q]);
}

/* ---- Philox4x32-10 words 0 and 1 of agents i0 .. i0+15 (i0 a multiple of 16) at step t ---- */
/* hi and lo halves of the 32 x 32 -> 64 products c * m, lane by lane */
LV __m256i lv_mulhilo(__m256i c, __m256i m, __m256i *lo)
{
    const __m256i pe = _mm256_mul_epu32(c, m);
    const __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);
    *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
    return _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}
LV lvi lv_philox(uint64_t seed, int64_t i0, uint64_t t, lvi *w1)
{
    const __m256i m0 = _mm256_set1_epi32((int)PFR_PHILOX_M0), m1 = _mm256_set1_epi32((int)PFR_PHILOX_M1);
    lvi c0 = lvi_set1((int)(uint32_t)t), c1 = lvi_set1((int)(uint32_t)(t >> 32));
    lvi c2 = lvi_add(lvi_set1((int)(uint32_t)i0), lvi_lanes()); /* i0 % 16 == 0: no carry */
    lvi c3 = lvi_set1((int)(uint32_t)((uint64_t)i0 >> 32));
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += PFR_PHILOX_W0;
            k1 += PFR_PHILOX_W1;
        }
        for (int h = 0; h < 2; ++h) {
            __m256i lo0, lo1;
            const __m256i hi0 = lv_mulhilo(c0.h[h], m0, &lo0), hi1 = lv_mulhilo(c2.h[h], m1, &lo1);
            c0.h[h] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1.h[h]), _mm256_set1_epi32((int)k0));
            c1.h[h] = lo1;
            c2.h[h] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3.h[h]), _mm256_set1_epi32((int)k1));
            c3.h[h] = lo0;
        }
    }
    *w1 = c1;
    return c0;
}

/* ---- rows of D floats <-> registers by feature ----
 * x[l] lane g = rows[g][l]. For each half (8 agents): D = 8 and 16 an 8 x 8 transpose per 8
 * features (unpacks, shuffles within 128-bit lanes, then a swap of 128-bit lanes); D = 4 two rows a
 * register (agent j and j + 4) and a 4 x 4 transpose within each 128-bit lane. Each is its own
 * inverse, so the store runs the same steps and writes the rows back. */
LV void lv_t8(__m256 *r) /* r[0..8) rows -> r[0..8) columns */
{
    __m256 t[8], s[8];
    for (int p = 0; p < 4; ++p) {
        t[2 * p] = _mm256_unpacklo_ps(r[2 * p], r[2 * p + 1]);
        t[2 * p + 1] = _mm256_unpackhi_ps(r[2 * p], r[2 * p + 1]);
    }
    for (int p = 0; p < 2; ++p) { /* rows 4p .. 4p+3 */
        s[4 * p + 0] = _mm256_shuffle_ps(t[4 * p], t[4 * p + 2], 0x44);
        s[4 * p + 1] = _mm256_shuffle_ps(t[4 * p], t[4 * p + 2], 0xEE);
        s[4 * p + 2] = _mm256_shuffle_ps(t[4 * p + 1], t[4 * p + 3], 0x44);
        s[4 * p + 3] = _mm256_shuffle_ps(t[4 * p + 1], t[4 * p + 3], 0xEE);
    }
    for (int l = 0; l < 4; ++l) {
        r[l] = _mm256_permute2f128_ps(s[l], s[4 + l], 0x20);
        r[l + 4] = _mm256_permute2f128_ps(s[l], s[4 + l], 0x31);
    }
}
LV void lv_t4(__m256 *r) /* within each 128-bit lane: r[0..4) rows -> columns */
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    r[0] = _mm256_shuffle_ps(t0, t2, 0x44);
    r[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    r[2] = _mm256_shuffle_ps(t1, t3, 0x44);
    r[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}
LV void lv_rows_load(const cpu_engine *e, const float *const *rows, const int D, lvf *x)
{
    (void)e;
    for (int h = 0; h < 2; ++h) {
        const float *const *rw = rows + 8 * h;
        if (D == 4) {
            __m256 r[4];
            for (int p = 0; p < 4; ++p)
                r[p] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(rw[p])), _mm_loadu_ps(rw[p + 4]), 1);
            lv_t4(r);
            for (int l = 0; l < 4; ++l)
                x[l].h[h] = r[l];
            continue;
        }
        for (int c = 0; c < D; c += 8) {
            __m256 r[8];
            for (int j = 0; j < 8; ++j)
                r[j] = _mm256_loadu_ps(rw[j] + c);
            lv_t8(r);
            for (int l = 0; l < 8; ++l)
                x[c + l].h[h] = r[l];
        }
    }
}
LV void lv_rows_store(const cpu_engine *e, float *const *rows, const int D, lvf *x)
{
    (void)e;
    for (int h = 0; h < 2; ++h) {
        float *const *rw = rows + 8 * h;
        if (D == 4) {
            __m256 r[4];
            for (int l = 0; l < 4; ++l)
                r[l] = x[l].h[h];
            lv_t4(r);
            for (int p = 0; p < 4; ++p) {
                _mm_storeu_ps(rw[p], _mm256_castps256_ps128(r[p]));
                _mm_storeu_ps(rw[p + 4], _mm256_extractf128_ps(r[p], 1));
            }
            continue;
        }
        for (int c = 0; c < D; c += 8) {
            __m256 r[8];
            for (int l = 0; l < 8; ++l)
                r[l] = x[c + l].h[h];
            lv_t8(r);
            for (int j = 0; j < 8; ++j)
                _mm256_storeu_ps(rw[j] + c, r[j]);
        }
    }
}

/* acc[0..8) = (fresh ? +0 : acc) + ((double)loc - (double)ref), element by element */
LV void lv_fold8(double *acc, const float *loc, const float *ref, int fresh)
{
    for (int h = 0; h < 8; h += 4) {
        const __m256d diff = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(loc + h)), _mm256_cvtps_pd(_mm_loadu_ps(ref + h)));
        _mm256_storeu_pd(acc + h, _mm256_add_pd(fresh ? _mm256_setzero_pd() : _mm256_loadu_pd(acc + h), diff));
    }
}

LV void lv_prefetch(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T0); }

#undef LV2
#endif
