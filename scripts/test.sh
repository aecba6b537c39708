#!/usr/bin/env bash
# The test command (README): set up a fresh machine, build everything once, run the whole suite, the
# Python package's tests against that build, and a short run of each fuzzer (tests/fuzz/, when clang
# is present). Nothing is built twice: within ten minutes on two cores with another build beside it.
#   bash scripts/test.sh              all of that (the README's test command), but the tests
#                                     labelled slow
#   bash scripts/test.sh --slow       those, on the same build: each needs the machine to itself
#                                     (the GPU check's dry runs, every experiment at a toy size)
#   bash scripts/test.sh --sanitize   the CPU suite again in a build with AddressSanitizer and
#                                     UndefinedBehaviorSanitizer (a second build)
# (--slow and --sanitize are CI's later checks, .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mode="${1:-all}"
case "$mode" in all|--slow|--sanitize) ;; *) echo "usage: bash scripts/test.sh [--slow|--sanitize]" >&2; exit 2 ;; esac

# The suite checks the CPU engine, and runs with `auto` would pick a GPU if one were present: the
# GPU is hidden here (its own check is bench/gpu_check.sh validate, which runs the GPU tests).
export CUDA_VISIBLE_DEVICES=""

if [ "$mode" = all ]; then
  BUILD_DIR="${BUILD_DIR:-build}" bash scripts/build.sh
  ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" -LE slow
  bash scripts/test_python.sh # the Python package over that build's library
  bash scripts/fuzz.sh 5
  exit 0
fi
if [ "$mode" = --slow ]; then
  [ -f "${BUILD_DIR:-build}/CTestTestfile.cmake" ] || { echo "test.sh --slow: build first (bash scripts/test.sh)" >&2; exit 2; }
  ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -L slow
  exit 0
fi

# The CPU suite under ASan + UBSan (the CUDA parts are left out of this build). Left out here, run
# above without sanitizers: the slow emulations (minutes under ASan) and the peak-memory test (ASan's
# shadow memory is not the program's).
asan="${ASAN_BUILD_DIR:-build-asan}"
cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPFR_SANITIZE=ON -DPFR_CUDA=OFF > /dev/null
cmake --build "$asan" -j "$(nproc)" --target pfedrl_tests pfedrl_cli > /dev/null # what the suite runs
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$asan" --output-on-failure -j "$(nproc)" \
  -E 'Plan\.PeakMemory|GpuTestConfigs|CudaLogic\.WarpRound|CudaLogic\.DeviceRoundWithSparseSums|CudaLogic\.GridWorldsAtScale|experiments\.tiny'
