/*
 * cpu_path.c — which way the CPU engine runs (cpu_path.h): the CPU's features, the kernel it can
 * run, and pfr_cpu_choose, a pure function of the options, those features and the run's shape, so
 * that the choice is one place to read and to test. The thresholds are DESIGN §6's tuning table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_engine.h"

pfr_cpu_features pfr_cpu_features_here(void)
{
    pfr_cpu_features f = {0, 0};
#if defined(__x86_64__) && defined(__GNUC__)
    const char *without = getenv("PFEDRL_TEST_CPU_WITHOUT"); /* tests: a CPU without "avx512f" or "avx2" */
    const int no2 = without && strstr(without, "avx2"), no512 = no2 || (without && strstr(without, "avx512f"));
    f.avx512f = !no512 && __builtin_cpu_supports("avx512f");
    f.avx2 = !no2 && __builtin_cpu_supports("avx2");
#endif
    return f;
}

/* What a CPU with features f can run of each kernel. */
static int can_run(int kernel, pfr_cpu_features f)
{
    return kernel == PFR_CPU_KERNEL_AVX512 ? f.avx512f : kernel == PFR_CPU_KERNEL_AVX2 ? f.avx2 : 1;
}

static int pick(int asked, pfr_cpu_features f)
{
    if (asked != PFR_CPU_KERNEL_AUTO)
        return asked;
    return f.avx512f ? PFR_CPU_KERNEL_AVX512 : f.avx2 ? PFR_CPU_KERNEL_AVX2 : PFR_CPU_KERNEL_PER_AGENT;
}

int pfr_cpu_kernel_pick(int asked) { return pick(asked, pfr_cpu_features_here()); }

pfr_status pfr_cpu_kernel_check(int asked, pfr_error *err)
{
    const pfr_cpu_features f = pfr_cpu_features_here();
    if (can_run(asked, f))
        return PFR_OK;
    char allowed[128] = "auto";
    for (int k = PFR_CPU_KERNEL_AVX512; k <= PFR_CPU_KERNEL_SCALAR; ++k)
        if (can_run(k, f)) {
            const size_t n = strlen(allowed);
            snprintf(allowed + n, sizeof allowed - n, ", %s", pfr_cpu_kernel_name((pfr_cpu_kernel)k));
        }
    return pfr_fail(err, PFR_ERR_CONFIG, "cpu_kernel: %s needs %s, which this CPU does not have; allowed here: %s",
                    pfr_cpu_kernel_name((pfr_cpu_kernel)asked), asked == PFR_CPU_KERNEL_AVX512 ? "AVX-512F" : "AVX2",
                    allowed);
}

/* A wave's block part of cap rows: rows, narrow and wide sums (block_part), theta's sums. */
double pfr_cpu_part_bytes(int cap, int d) { return (double)cap * (4.0 + pfr_narrow_bytes(d) + 8.0 * d) + 8.0 * d; }

void pfr_cpu_part_sizes(int S, int d, int K, int64_t N, int T, int *cap, int *W)
{
    const int64_t R = K < S ? K : S, rows = (int64_t)PFR_AGENT_BLOCK * R;
    *cap = (int)(rows < S ? rows : S);
    const double bytes = pfr_cpu_part_bytes(*cap, d);
    const int64_t nblocks = (N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    int64_t w = (int64_t)((double)PFR_CPU_WAVE_BUDGET / bytes);
    w = w < T ? T : w;
    w = w > PFR_CPU_MAX_WAVE ? PFR_CPU_MAX_WAVE : w;
    *W = (int)(w < nblocks ? w : nblocks);
}

/* The 16-agent step's gathers need every index below 2^31: entries, row pointers, Phi rows, maps. */
static int indices_fit(const pfr_cpu_run *z, int R)
{
    const uint64_t S = (uint64_t)z->S, d = (uint64_t)z->d;
    return z->nnz < (double)(INT32_MAX / 4) && (uint64_t)z->M * (S + 1) < INT32_MAX && S * d < INT32_MAX &&
           (uint64_t)(R + 1) * d * PFR_CPU_LANES < INT32_MAX && (S + 4) * PFR_CPU_LANES < INT32_MAX;
}

pfr_cpu_path pfr_cpu_choose(const pfr_cpu_options *o, pfr_cpu_features f, const pfr_cpu_run *z)
{
    pfr_cpu_path p;
    memset(&p, 0, sizeof p);
    const int S = z->S, d = z->d, K = z->K;
    /* the kernel, and Philox with the instruction set it allows (avx2 asked for: none of AVX-512) */
    p.kernel = pick(o->kernel, f);
    p.vector = p.kernel != PFR_CPU_KERNEL_SCALAR;
    p.philox4_avx512 = p.vector && p.kernel != PFR_CPU_KERNEL_AVX2 && f.avx512f;
    p.philox = p.philox4_avx512 ? PFR_CPU_PHILOX_AVX512 : p.vector && f.avx2 ? PFR_CPU_PHILOX_AVX2 : PFR_CPU_PHILOX_SCALAR;
    /* the 16-agent step (policy evaluation, d = 4, 8, 16, 32) and its group fold (d a multiple of 8) */
    p.group16 = p.kernel == PFR_CPU_KERNEL_AVX512 || p.kernel == PFR_CPU_KERNEL_AVX2 || p.kernel == PFR_CPU_KERNEL_PORTABLE;
    int x16 = p.group16 && !z->control && (d == 4 || d == 8 || d == 16 || d == 32);
    p.fold16 = p.group16 && d % 8 == 0;
    /* block parts and waves; narrow rows where a wave's parts, all wide, outgrow ~L2; over MPI ranks
     * this rank's blocks in one wave, wide (cpu_dist.c) */
    p.R = K < S ? K : S;
    pfr_cpu_part_sizes(S, d, K, z->N, z->T, &p.cap, &p.W);
    if (o->wave > 0 && o->wave < p.W)
        p.W = o->wave;
    p.narrow = o->parts == PFR_CPU_PARTS_NARROW ||
               (o->parts == PFR_CPU_PARTS_AUTO && 8.0 * d * p.cap * p.W > (double)PFR_CPU_NARROW_MIN_BYTES);
    if (z->ranks > 1) {
        p.W = (int)z->rank_blocks;
        p.narrow = 0;
    }
    /* the overlays' lookup: slot maps (a byte per state and lane) where S is moderate and an overlay
     * has under 255 rows, else hash tables; the 16-agent step scans its slot keys wherever it can */
    const int ov = o->overlay;
    p.map = p.R < 255 && (((size_t)S <= PFR_CPU_MAP_MAX_S && ov == PFR_CPU_OVERLAY_AUTO) || ov == PFR_CPU_OVERLAY_MAP);
    const int can_scan = p.R <= PFR_CPU_SCAN_MAX_R && d <= 16 && (ov == PFR_CPU_OVERLAY_AUTO || ov == PFR_CPU_OVERLAY_SCAN);
    /* the 16-agent step's tables, and the chains in them: in slots where the step scans or probes
     * hash tables and the entries outgrow L2 twice (by shape where rows repeat), else entries */
    p.gathers = x16 && !o->no_gather && indices_fit(z, p.R);
    if (p.gathers) {
        p.prefetch = 16.0 * z->nnz + 4.0 * S * d > (double)((size_t)1 << 20); /* beyond ~L2 */
        const int slot_modes = z->learn_phi && !z->own_phi && (can_scan || !p.map);
        const int big = o->chains == PFR_CPU_CHAINS_AUTO && 16.0 * z->nnz > (double)PFR_SLOT_MIN_BYTES;
        p.chains = slot_modes && (big || o->chains == PFR_CPU_CHAINS_SHAPES) ? PFR_CPU_SHAPES
                   : slot_modes && o->chains == PFR_CPU_CHAINS_SLOTS           ? PFR_CPU_SLOTS
                                                                                : PFR_CPU_ENTRIES;
    }
    p.scan = p.gathers && can_scan;
    /* d = 32 only with gathers, and with the tables beyond L2 (where looking ahead hides misses);
     * without gathers only AVX-512 has a 16-agent step */
    if (d == 32 && !(p.gathers && p.prefetch))
        x16 = 0;
    if (p.kernel != PFR_CPU_KERNEL_AVX512 && !p.gathers)
        x16 = 0;
    p.x16 = x16;
    p.runs = x16 ? p.kernel : p.vector ? PFR_CPU_KERNEL_PER_AGENT : PFR_CPU_KERNEL_SCALAR;
    return p;
}
