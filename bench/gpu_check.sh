#!/usr/bin/env bash
# One-shot GPU check, for a machine with a GPU (the `device` tool runs it in one call):
# build for sm_90, run every test (the CUDA parity tests run instead of skipping), compute-sanitizer
# (memcheck and racecheck) on a small CUDA run, then the throughput sweep. Everything is written
# under $OUT (default ./gpu-check-out); summary.txt is the digest to copy into bench/RESULTS.md.
#
# Status: the CUDA engine and bench/torch_baseline.py are written but have never run on a GPU; the
# first run of this script is their first test. Not yet here: the large grid-world sweep and a
# roofline fraction (bandwidth and instruction rate) per configuration.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
: > "$OUT/summary.txt"
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }
status=0

log "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 && log "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null)"
log "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) cores"

log "build (sm_90)"
if ! BUILD_DIR=build-gpu bash scripts/build.sh -DPFR_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 > "$OUT/build.txt" 2>&1; then
  log "BUILD FAILED (see build.txt)"; tail -30 "$OUT/build.txt"; exit 1
fi
B=./build-gpu/pfedrl
$B info | tee "$OUT/info.txt"

log "tests"
if ctest --test-dir build-gpu --output-on-failure -j 4 > "$OUT/tests.txt" 2>&1; then
  log "tests: $(grep -E 'tests passed' "$OUT/tests.txt")"
else
  log "TESTS FAILED: $(grep -E 'tests passed|tests failed' "$OUT/tests.txt")"; status=1
  grep -E "Failed|Failure" -A6 "$OUT/tests.txt" | head -60 | tee -a "$OUT/summary.txt"
fi
log "cuda tests: $(grep -E 'Cuda\.' "$OUT/tests.txt" | sed 's/  */ /g' | tr '\n' ';')"

SMALL="examples/cliffwalk.yaml --backend cuda --set agents=1000 --set rounds=5 --set eval_every=5 --quiet"
if command -v compute-sanitizer >/dev/null 2>&1; then
  for tool in memcheck racecheck; do
    for alg in pfedtd_rep local_rep fedavg_rep; do
      if compute-sanitizer --tool $tool --error-exitcode 9 $B run $SMALL --set algorithm=$alg --out "$OUT/san-$tool-$alg" \
          > "$OUT/sanitizer-$tool-$alg.txt" 2>&1; then
        log "compute-sanitizer $tool $alg: clean"
      else
        log "COMPUTE-SANITIZER $tool $alg REPORTED ERRORS (sanitizer-$tool-$alg.txt)"; status=1
      fi
    done
  done
else
  log "compute-sanitizer not found"
fi

log "throughput sweep: cliff walk, pfedtd_rep, agent-steps/s (local steps + aggregation, evaluations excluded)"
mkdir -p "$OUT/sweep"
printf "%10s %5s %4s %14s %12s\n" N K d agent_steps/s us/round | tee -a "$OUT/summary.txt"
for N in 1000 10000 100000 1000000 10000000; do
  for K in 1 10 100; do
    for D in 4 8 16 32; do
      R=$(( 2000000000 / (N * K) )); [ $R -lt 5 ] && R=5; [ $R -gt 200 ] && R=200
      dir="$OUT/sweep/N$N-K$K-d$D"
      if timeout 300 $B run examples/cliffwalk.yaml --backend cuda --set agents=$N --set local_steps=$K --set dim=$D \
          --set rounds=$R --set eval_every=1000000 --set orthonormalize=false --quiet --out "$dir" > "$dir.log" 2>&1; then
        rate=$(python3 -c "import json;print(json.load(open('$dir/summary.json'))['agent_steps_per_sec'])")
        printf "%10d %5d %4d %14.4g %12.1f\n" $N $K $D "$rate" "$(python3 -c "print($N*$K/$rate*1e6)")" | tee -a "$OUT/summary.txt"
      else
        printf "%10d %5d %4d %14s\n" $N $K $D "FAILED ($(tail -1 "$dir.log" | cut -c1-80))" | tee -a "$OUT/summary.txt"
        status=1
      fi
      rm -rf "$dir"
    done
  done
done

log "PyTorch baseline on this GPU (same chains, same algorithm), for the GPU/PyTorch ratio"
if python3 -c "import torch, numpy; assert torch.cuda.is_available()" >/dev/null 2>&1; then
  $B export examples/cliffwalk.yaml --out "$OUT/env" --quiet
  for N in 1000000; do
    python3 bench/torch_baseline.py "$OUT/env" --agents $N --dim 8 --local-steps 100 --rounds 5 2>&1 | tee -a "$OUT/summary.txt"
    $B run examples/cliffwalk.yaml --backend cuda --set agents=$N --set local_steps=100 --set rounds=20 \
      --set eval_every=1000000 --set orthonormalize=false --quiet --out "$OUT/vs-torch" > /dev/null 2>&1 &&
      log "pfedrl cuda, same settings: $(python3 -c "import json;print('%.4g agent-steps/s' % json.load(open('$OUT/vs-torch/summary.json'))['agent_steps_per_sec'])")"
  done
else
  log "PyTorch with CUDA not available on this machine: baseline not run"
fi

log "CPU engine on this machine, for the GPU/CPU ratio"
BUILD_DIR=build-gpu bash bench/cpu_throughput.sh > "$OUT/cpu_throughput.txt" 2>&1 || true
tee -a "$OUT/summary.txt" < "$OUT/cpu_throughput.txt"
exit $status
