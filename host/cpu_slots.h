/*
 * cpu_slots.h — the chains in slots (cpu_slots.c builds them) as the 16-agent step reads them
 * (cpu_x16.c): a lane's row, by state or by shape, from its state.
 */
#ifndef PFR_CPU_SLOTS_H
#define PFR_CPU_SLOTS_H

#include "cpu_engine.h"

#ifdef PFR_X16
#include <immintrin.h>

_Static_assert(PFR_SLOT_WIDTH == 4, "x16_slot_row places a slot by a shift of 2");

/* With the chains in slots (cpu_slots.c): the rows (first entry, length) of the slots at entry `at`,
 * lane by lane: each slot, or where lng has the lane (a long row) the entries after the slots that its
 * slot points to. */
__attribute__((target("avx512f"))) static inline void x16_row_at(const uint32_t *slots, __m512i at, __mmask16 lng,
                                                                 __m512i *lo, __m512i *n)
{
    *lo = at;
    *n = _mm512_set1_epi32(PFR_SLOT_WIDTH);
    if (lng) {
        *lo = _mm512_mask_i32gather_epi32(at, lng, at, slots, 8);
        *n = _mm512_mask_i32gather_epi32(*n, lng, _mm512_add_epi32(at, _mm512_set1_epi32(1)), slots, 8);
    }
}

/* The rows of states s (types' first rows vslot), lane by lane: by state, each state's slot (lng: the
 * lanes whose rows are long, from the entry that led there); by shape, the slot of its shape. */
__attribute__((target("avx512f"))) static inline void x16_slot_row(const cpu_engine *e, const int cmp, __m512i vslot,
                                                                   __m512i vtb, __m512i s, __mmask16 lng, __m512i *lo,
                                                                   __m512i *n)
{
    if (cmp == 2) { /* a number of 1 or 2 bytes (a dword gather, the bytes above dropped); vtb: each
                     * lane's type's first slot where the numbers are per type */
        const int one = e->shape_bytes == 1;
        const __m512i at = _mm512_add_epi32(vslot, s);
        const __m512i id = one ? _mm512_and_si512(_mm512_i32gather_epi32(at, (const int *)e->shape_of, 1), _mm512_set1_epi32(0xFF))
                               : _mm512_and_si512(_mm512_i32gather_epi32(at, (const int *)e->shape_of, 2), _mm512_set1_epi32(0xFFFF));
        const __m512i top = _mm512_set1_epi32(one ? 0x80 : 0x8000);
        lng = _mm512_test_epi32_mask(id, top);
        x16_row_at(e->slots, _mm512_slli_epi32(_mm512_add_epi32(_mm512_andnot_si512(top, id), vtb), 2), lng, lo, n);
        return;
    }
    x16_row_at(e->slots, _mm512_slli_epi32(_mm512_add_epi32(vslot, s), 2), lng, lo, n);
}

#endif
#endif
