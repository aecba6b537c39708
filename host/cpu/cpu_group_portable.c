/*
 * cpu_group_portable.c — the CPU engine's 16-agent step and fold in portable vector code:
 * cpu_group_step.h on the lane layer of GCC/Clang vector extensions (cpu_lanes_portable.h), the
 * source the AVX-512 and AVX2 steps compile from too, so all give run_group's bits (cpu_blocks.c)
 * lane by lane. On ARM64 the compiler lowers it to NEON; on x86 to SSE2 (and the tests run it there,
 * so this layer is checked on every machine). Only the gather form: where the chains outgrow 32-bit
 * indices the per-agent step runs (cpu_setup.c).
 */
#include "cpu_engine.h"
#include "cpu_lanes_portable.h"
#include "cpu_group_step.h"
#include "cpu_group_fold.h"

void pfr_cpu_group_portable(cpu_engine *e, cpu_thread *w, int64_t i0, int *part) { group_step(e, w, i0, part); }

void pfr_cpu_fold_portable(block_part *bp, int32_t *pos, pfr_overlay *lane, const int *part, int G, const float *phi,
                           const int d)
{
    group_fold(bp, pos, lane, part, G, phi, d);
}
