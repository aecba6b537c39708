// test_gpu.h — whether the GPU tests can run: a build with CUDA and a device present. GPU tests
// start with REQUIRE_GPU() (GTEST_SKIP must run in the test body itself to end the test).
#ifndef PFR_TEST_GPU_H
#define PFR_TEST_GPU_H

#ifdef PFR_HAVE_CUDA
#include "cuda/cuda_engine.h"
#endif

namespace pfr_test {

inline bool gpu_present()
{
#ifdef PFR_HAVE_CUDA
    return pfr_cuda_device_count() > 0;
#else
    return false;
#endif
}

} // namespace pfr_test

#define REQUIRE_GPU()                                                                                 \
    if (!pfr_test::gpu_present())                                                                     \
    GTEST_SKIP() << "no CUDA device on this machine (or a build without CUDA)"

#endif
