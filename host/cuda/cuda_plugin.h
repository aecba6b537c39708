/*
 * cuda_plugin.h — the CUDA engine as a plugin: what libpfedrl_cuda.so exports and how the library
 * finds it.
 *
 * Why a plugin: the CUDA runtime and cuBLAS cost a process about 220 MB of memory and 0.2 s when
 * they are merely linked (measured: `pfedrl run` of a 64-agent cliff walk, 225 MB peak RSS linked,
 * bench/RESULTS.md for the figure without). A run on the CPU engine should not pay that, so the
 * CUDA engine lives in a shared module loaded only when it is asked for (backend=cuda, `pfedrl
 * info`). A program that links the CUDA objects itself (the test binary) is used as it is: the
 * loader sees the entry point through a weak reference and loads nothing.
 *
 * The module holds its own copy of the few stateless host functions the engine calls (error
 * messages, config names, the memory plan, orthonormalization on the host); the simulation handle
 * crosses the boundary, so the module must come from the same build: pfr_cuda_plugin carries the
 * version and the sizes of the shared structures, and the loader refuses a module that differs.
 */
#ifndef PFR_CUDA_PLUGIN_H
#define PFR_CUDA_PLUGIN_H

#include <stddef.h>

#include "engine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PFR_CUDA_PLUGIN_FILE "libpfedrl_cuda.so"
#define PFR_CUDA_PLUGIN_ENTRY "pfr_cuda_plugin_get"
#define PFR_CUDA_PLUGIN_ENV "PFEDRL_CUDA_PLUGIN" /* a path to the module, tried first */

typedef struct pfr_cuda_plugin {
    char version[16];                        /* pfr_version() of the module's build */
    size_t sim_bytes, config_bytes, env_bytes, neural_bytes; /* sizeof the structures it shares with the library */
    pfr_status (*engine_init)(pfr_sim *sim, pfr_error *err);
    pfr_status (*neural_init)(pfr_sim *sim, pfr_error *err); /* the neural instance's (pfr_neural_cuda_init) */
    int (*device_count)(void);               /* CUDA devices present (0: none, or no driver) */
    int (*describe)(char *buf, size_t n);    /* the devices, for `pfedrl info`; returns how many */
} pfr_cuda_plugin;

/* The module's entry point (cuda_engine.cu). */
const pfr_cuda_plugin *pfr_cuda_plugin_get(void);

/* The CUDA engine, linked in or loaded (cuda_loader.c); once per process, thread-safe. On failure
 * NULL and err says what was tried and why it failed. */
const pfr_cuda_plugin *pfr_cuda_load(pfr_error *err);

/* backend=auto's choice: 1 if the CUDA engine can be loaded and sees at least one device. Costs
 * nothing on a machine without the NVIDIA driver (the module is not loaded there). Where the driver
 * is there but the engine cannot be used, why [n] says what failed (else it is left empty). */
int pfr_cuda_available(char *why, size_t n);

#ifdef __cplusplus
}
#endif

#endif
