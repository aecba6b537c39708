#!/usr/bin/env bash
# One-shot GPU check, for a machine with a GPU (the `device` tool runs it in one call):
# build for sm_90, run every test (GPU tests run instead of skipping), compute-sanitizer on a
# small run, then the throughput figures, all written under $OUT (default ./gpu-check-out).
#
# Status: the CUDA engine (issue 3) does not exist yet. Today this script checks what does exist:
# the CUDA build for sm_90, the device query (`pfedrl info`) under compute-sanitizer, the full test
# suite, and the CPU engine's throughput on the device machine's CPU. Issue 3 adds its GPU tests,
# sanitizer runs of the kernels and the GPU sweep here.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }
: > "$OUT/summary.txt"
status=0

log "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 && log "nvidia-smi: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null)"
log "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) cores"

log "build (sm_90)"
if ! BUILD_DIR=build-gpu bash scripts/build.sh -DPFR_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 > "$OUT/build.txt" 2>&1; then
  log "BUILD FAILED (see build.txt)"; exit 1
fi

log "pfedrl info"
./build-gpu/pfedrl info | tee "$OUT/info.txt"

log "tests"
if ctest --test-dir build-gpu --output-on-failure -j "$(nproc)" > "$OUT/tests.txt" 2>&1; then
  log "tests: $(grep -E 'tests passed' "$OUT/tests.txt")"
else
  log "TESTS FAILED: $(grep -E 'tests passed|tests failed' "$OUT/tests.txt")"; status=1
fi

if command -v compute-sanitizer >/dev/null 2>&1; then
  log "compute-sanitizer memcheck: pfedrl info"
  compute-sanitizer --tool memcheck --error-exitcode 9 ./build-gpu/pfedrl info > "$OUT/sanitizer-memcheck.txt" 2>&1 \
    && log "memcheck clean" || { log "MEMCHECK REPORTED ERRORS"; status=1; }
else
  log "compute-sanitizer not found"
fi

log "CPU engine throughput on this machine"
BUILD_DIR=build-gpu bash bench/cpu_throughput.sh > "$OUT/cpu_throughput.txt" 2>&1 || true
cat "$OUT/cpu_throughput.txt" | tee -a "$OUT/summary.txt"
exit $status
