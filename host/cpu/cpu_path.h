/*
 * cpu_path.h — which way the CPU engine runs, decided before anything is allocated by one pure
 * function of the options (cpu_kernel, and what tests force: engine.h's pfr_cpu_options), the CPU's
 * features and the run's shape (cpu_path.c). Every way gives the same bits; the choice is only
 * speed. Plain C, no engine state: the tests call it directly.
 */
#ifndef PFR_CPU_PATH_H
#define PFR_CPU_PATH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The instruction sets the kernels need (x86: cpuid, less what PFEDRL_TEST_CPU_WITHOUT hides). */
typedef struct pfr_cpu_features {
    int avx2, avx512f;
} pfr_cpu_features;
pfr_cpu_features pfr_cpu_features_here(void);

/* What the choice depends on in a run. */
typedef struct pfr_cpu_run {
    int S, d, K, T, M;   /* rows of Phi, dim, local steps, threads, types */
    int64_t N;           /* agents */
    double nnz;          /* the chains' transitions */
    int control;         /* control.kind != none */
    int learn_phi, own_phi, shared; /* the algorithm's traits; shared: it averages (Phi or theta) */
    int ranks;           /* MPI ranks; rank_blocks: this rank's agent blocks */
    int64_t rank_blocks;
} pfr_cpu_run;

/* The chains the 16-agent step reads, wanted: 16-byte entries, slots by state, slots by shape (which
 * fall back to slots by state where rows do not repeat: the one choice the chains' content makes). */
enum { PFR_CPU_ENTRIES = 0, PFR_CPU_SLOTS = 1, PFR_CPU_SHAPES = 2 };
/* Philox for 16 agents: scalar, or with the instruction set of a kernel the CPU has. */
enum { PFR_CPU_PHILOX_SCALAR = 0, PFR_CPU_PHILOX_AVX2 = 1, PFR_CPU_PHILOX_AVX512 = 2 };

typedef struct pfr_cpu_path {
    int kernel;        /* the kernel asked for, resolved (pfr_cpu_kernel; auto: avx512, avx2, per_agent) */
    int runs;          /* what full groups run: kernel where the 16-agent step applies, else per_agent
                        * (scalar for the scalar kernel) */
    int vector;        /* steps vectorized (all but scalar) */
    int philox;        /* PFR_CPU_PHILOX_*: the 16-stream words 0 and 1 */
    int philox4_avx512; /* all four words with AVX-512 (else scalar) */
    int group16;       /* the kernel has a 16-agent step (avx512, avx2, portable) */
    int x16;           /* full groups take it */
    int fold16;        /* ... and its group fold applies (d a multiple of 8) */
    int gathers;       /* its tables: every index fits 31 bits and no test refuses them */
    int prefetch;      /* the tables lie beyond ~L2: look 16 agents ahead */
    int chains;        /* PFR_CPU_ENTRIES, _SLOTS or _SHAPES */
    int R;             /* rows an overlay holds: min(K, S) */
    int map;           /* overlays through per-lane slot maps (else hash tables) */
    int scan;          /* the 16-agent step scans its lanes' slot keys */
    int cap, W;        /* rows a block part holds, block parts a wave */
    int narrow;        /* parts hold a row's sums as floats where each is one */
} pfr_cpu_path;

/* Block parts (cpu_engine.h): the bytes of one of cap rows at dim d; rows a part holds and parts a
 * wave within the wave budget (at least one a thread). */
double pfr_cpu_part_bytes(int cap, int d);
void pfr_cpu_part_sizes(int S, int d, int K, int64_t N, int T, int *cap, int *W);

/* options: engine.h's pfr_cpu_options (kernel, wave, overlay, chains, parts, no_gather). The kernel
 * must be one the CPU has (pfr_cpu_kernel_check). */
struct pfr_cpu_options;
pfr_cpu_path pfr_cpu_choose(const struct pfr_cpu_options *o, pfr_cpu_features f, const pfr_cpu_run *z);

#ifdef __cplusplus
}
#endif

#endif
