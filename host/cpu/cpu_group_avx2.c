/*
 * cpu_group_avx2.c — the CPU engine's 16-agent step on CPUs with AVX2 but without AVX-512 (AMD Zen 2
 * and 3, most Intel client chips): cpu_group_step.h on the AVX2 lane layer (cpu_lanes_avx2.h), the
 * source the AVX-512 step compiles from too, so the two give run_group's bits (cpu_blocks.c) lane by
 * lane; and its fold (group_fold). Only the gather form: where the chains are too large for 32-bit gathers the per-agent step
 * runs (cpu_setup.c).
 */
#include "cpu_engine.h"

#ifdef PFR_HAVE_X86_PHILOX
#include "cpu_lanes_avx2.h"
#include "cpu_group_step.h"
#include "cpu_group_fold.h"

LV_TARGET void pfr_cpu_group_avx2(cpu_engine *e, cpu_thread *w, int64_t i0, int *part) { group_step(e, w, i0, part); }

LV_TARGET void pfr_cpu_fold_avx2(block_part *bp, int32_t *pos, pfr_overlay *lane, const int *part, int G, const float *phi,
                                 const int d)
{
    group_fold(bp, pos, lane, part, G, phi, d);
}
#endif
