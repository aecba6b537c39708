#!/usr/bin/env bash
# Configure and build pfedrl into ${BUILD_DIR:-build} (Release, warnings as errors, CUDA parts
# when nvcc is found). Extra arguments go to cmake's configure step; BUILD_TARGETS="a b" builds
# only those targets (the main job: the command alone), else everything (tests, benches).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build}"
extra=()
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  extra+=("-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc")
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "${extra[@]}" "$@"
targets=()
for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
