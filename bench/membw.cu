// membw.cu — the device's real memory bandwidth, for the roofline columns of bench/gpu_check.sh: a
// large device-to-device copy, timed with events after a warm-up, counting bytes read plus bytes
// written (METHOD: measure the ceiling once rather than trust a datasheet; an H100 SXM's HBM3 is
// sold as 3.35 TB/s, a PCIe card's as 2.0, an H200's as 4.8). Prints one line:
//   membw: <bytes/s> B/s (<GB> GB copied <n> times, <device name>)
// Exit 1 with the failing call named on any CUDA error.
#include <cstdio>
#include <cstdlib>

#include <cuda_runtime.h>

#define CHECK(call)                                                                                    \
    do {                                                                                               \
        cudaError_t e_ = (call);                                                                       \
        if (e_ != cudaSuccess) {                                                                       \
            std::fprintf(stderr, "membw: %s failed at %s:%d: %s\n", #call, __FILE__, __LINE__,         \
                         cudaGetErrorString(e_));                                                      \
            return 1;                                                                                  \
        }                                                                                              \
    } while (0)

int main(int argc, char **argv)
{
    const size_t bytes = (argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1024ull) << 20; // MiB
    const int reps = 20;
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    void *a = nullptr, *b = nullptr;
    CHECK(cudaMalloc(&a, bytes));
    CHECK(cudaMalloc(&b, bytes));
    CHECK(cudaMemset(a, 1, bytes)); // not zeros: nothing is special about the data
    cudaEvent_t t0, t1;
    CHECK(cudaEventCreate(&t0));
    CHECK(cudaEventCreate(&t1));
    for (int i = 0; i < 3; ++i) // warm-up
        CHECK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));
    CHECK(cudaEventRecord(t0));
    for (int i = 0; i < reps; ++i)
        CHECK(cudaMemcpyAsync(i % 2 ? a : b, i % 2 ? b : a, bytes, cudaMemcpyDeviceToDevice));
    CHECK(cudaEventRecord(t1));
    CHECK(cudaEventSynchronize(t1));
    float ms = 0.0f;
    CHECK(cudaEventElapsedTime(&ms, t0, t1));
    const double rate = 2.0 * (double)bytes * reps / (ms * 1e-3);
    std::printf("membw: %.4g B/s (%.2f GB copied %d times, %s)\n", rate, bytes / 1e9, reps, prop.name);
    CHECK(cudaFree(a));
    CHECK(cudaFree(b));
    return 0;
}
