/*
 * cuda_check.h — every CUDA runtime call, kernel launch and CUB call (each returns a cudaError_t)
 * goes through this macro: a failure is recorded on the simulation handle as a pfr_status with the
 * call, file and line, and the enclosing function returns it. Nothing exits.
 */
#ifndef PFR_CUDA_CHECK_H
#define PFR_CUDA_CHECK_H

#include <cuda_runtime.h>

#include "engine.h"

#define PFR_CUDA(sim, call)                                                                           \
    do {                                                                                              \
        cudaError_t pfr_e_ = (call);                                                                  \
        if (pfr_e_ != cudaSuccess)                                                                    \
            return pfr_sim_fail((sim), pfr_e_ == cudaErrorMemoryAllocation ? PFR_ERR_DEVICE_MEMORY    \
                                                                           : PFR_ERR_CUDA,            \
                                "%s failed at %s:%d: %s", #call, __FILE__, __LINE__,                  \
                                cudaGetErrorString(pfr_e_));                                          \
    } while (0)

#endif
