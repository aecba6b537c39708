/*
 * device_query.cu — lists the CUDA devices for `pfedrl info`. Every runtime call is checked; a
 * failure is reported in the text (with the call and file:line), never by exiting.
 */
#include <cstdio>
#include <cuda_runtime.h>

#include "cuda_engine.h"

extern "C" int pfr_cuda_describe(char *buf, size_t n)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        snprintf(buf, n, "  no CUDA device usable (cudaGetDeviceCount at %s:%d: %s)\n", __FILE__, __LINE__,
                 cudaGetErrorString(e));
        return 0;
    }
    size_t used = 0;
    for (int i = 0; i < count && used < n; ++i) {
        cudaDeviceProp p;
        e = cudaGetDeviceProperties(&p, i);
        if (e != cudaSuccess) {
            used += (size_t)snprintf(buf + used, n - used, "  device %d: cudaGetDeviceProperties at %s:%d: %s\n", i,
                                     __FILE__, __LINE__, cudaGetErrorString(e));
            continue;
        }
        used += (size_t)snprintf(buf + used, n - used, "  device %d: %s, %.1f GiB, compute capability %d.%d, %d SMs\n", i,
                                 p.name, (double)p.totalGlobalMem / 1073741824.0, p.major, p.minor,
                                 p.multiProcessorCount);
    }
    int driver = 0, runtime = 0;
    if (count > 0 && used < n && cudaDriverGetVersion(&driver) == cudaSuccess &&
        cudaRuntimeGetVersion(&runtime) == cudaSuccess)
        snprintf(buf + used, n - used, "  driver: CUDA %d.%d, runtime %d.%d\n", driver / 1000, driver % 1000 / 10,
                 runtime / 1000, runtime % 1000 / 10);
    if (count == 0)
        snprintf(buf, n, "  no CUDA device present\n");
    return count;
}
