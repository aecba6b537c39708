/*
 * cuda_engine.h — the host side of the CUDA engine, as the rest of pfedrl sees it: its entry point,
 * the devices, and its memory plan (cuda_plan.c, a pure function, so the tests check it anywhere).
 * The kernels and their launchers are in kernels/ (pfr_launch.h); the round's sequence of launches
 * is round_sequence.h.
 */
#ifndef PFR_CUDA_ENGINE_H
#define PFR_CUDA_ENGINE_H

#include "engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The CUDA engine (cuda_engine.cu; only in builds with CUDA). */
pfr_status pfr_engine_cuda_init(pfr_sim *sim, pfr_error *err);
/* The neural instance's CUDA engine (neural_cuda.cu): called once the CPU engine's neural state is
 * set up (host/neural/), it mirrors that state on the device and runs the rounds there. */
pfr_status pfr_neural_cuda_init(pfr_sim *sim, pfr_error *err);
/* CUDA devices present (0 when none or no driver). */
int pfr_cuda_device_count(void);
/* Describe the CUDA devices into buf (device_query.cu); returns how many there are (0: none usable). */
int pfr_cuda_describe(char *buf, size_t n);

/* The CUDA engine's memory plan: what a configuration needs on the device and how many agents go
 * in one chunk, given the device's free and total bytes. */
typedef struct pfr_cuda_plan {
    int64_t nblocks;          /* agent blocks in all */
    int64_t chunk_blocks;     /* agent blocks per chunk */
    int64_t chunk;            /* agents per chunk: chunk_blocks * PFR_AGENT_BLOCK (>= N: one chunk) */
    int R;                    /* overlay rows per agent, min(K, S) */
    int overlay;              /* agents keep overlays of the shared Phi (shared-Phi learning) */
    int slots;                /* overlay lookups through a per-agent slot map [S] */
    int sparse;               /* Phi's sums by sorted entries (pfr_fold.h), not dense block partials */
    double fixed_bytes;       /* independent of the chunk */
    double chunk_block_bytes; /* per agent block in a chunk */
    double total_bytes;       /* the plan's allocation */
} pfr_cuda_plan;
pfr_status pfr_cuda_plan_memory(pfr_sim *sim, size_t free_bytes, size_t total_bytes, pfr_cuda_plan *plan);

#ifdef __cplusplus
}
#endif

#endif
