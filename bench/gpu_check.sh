#!/usr/bin/env bash
# One-shot GPU check, for a machine with a GPU (the `device` tool runs it in one call):
# build for sm_90, run every test (the CUDA parity tests run instead of skipping), compute-sanitizer
# (memcheck and racecheck) on a small CUDA run, then the throughput sweep. Everything is written
# under $OUT (default ./gpu-check-out); summary.txt is the digest to copy into bench/RESULTS.md.
#
# A bare GPU machine may lack libyaml and GoogleTest and have no package registry: run
# `bash scripts/device_deps.sh` here first and carry .device-deps; they are unpacked below.
# Usage (device tool): carry [".device-deps"], command `OUT=$OUT bash bench/gpu_check.sh [quick]`;
# `quick` runs a reduced sweep (N <= 1e6) when device time is short.
#
# Status: the CUDA engine and bench/torch_baseline.py are written but have never run on a GPU; the
# first run of this script is their first test.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
QUICK="${1:-}"
# $OUT gets summary.txt and logs.tar.gz (every detail file), since a device call returns few files
LOG="$OUT/logs"
mkdir -p "$OUT" "$LOG"
: > "$OUT/summary.txt"
trap 'tar czf "$OUT/logs.tar.gz" -C "$OUT" logs 2>/dev/null && rm -rf "$LOG"' EXIT
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }
status=0

# the Debian packages carried in .device-deps, when the machine does not have them installed
if [ -d .device-deps ] && ! { [ -f /usr/include/yaml.h ] && [ -f /usr/include/gtest/gtest.h ]; }; then
  mkdir -p /tmp/pfr-deps
  for f in .device-deps/*.deb; do dpkg -x "$f" /tmp/pfr-deps; done
  export CMAKE_PREFIX_PATH="/tmp/pfr-deps/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="/tmp/pfr-deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "using the carried packages: $(ls .device-deps | tr '\n' ' ')"
fi

log "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
nvidia-smi > "$LOG/nvidia-smi.txt" 2>&1 && log "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null)"
log "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) cores"

log "build (sm_90)"
if ! BUILD_DIR=build-gpu bash scripts/build.sh -DPFR_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 > "$LOG/build.txt" 2>&1; then
  log "BUILD FAILED (see build.txt)"; tail -30 "$LOG/build.txt"; exit 1
fi
B=./build-gpu/pfedrl
$B info | tee "$LOG/info.txt"

log "tests"
if ctest --test-dir build-gpu --output-on-failure -j 4 > "$LOG/tests.txt" 2>&1; then
  log "tests: $(grep -E 'tests passed' "$LOG/tests.txt")"
else
  log "TESTS FAILED: $(grep -E 'tests passed|tests failed' "$LOG/tests.txt")"; status=1
  grep -E "Failed|Failure" -A6 "$LOG/tests.txt" | head -60 | tee -a "$OUT/summary.txt"
fi
log "GPU tests (name: result):"
grep -E "Test +#[0-9]+: Cuda\." "$LOG/tests.txt" | sed -E 's/.*Test +#[0-9]+: (Cuda\.[A-Za-z0-9_]+) [. ]*(\*+)?([A-Za-z]+).*/  \1: \3/' |
  sort | tee -a "$OUT/summary.txt"
if nvidia-smi -L >/dev/null 2>&1 &&
   grep -E "Test +#[0-9]+: Cuda\." "$LOG/tests.txt" | grep -v CudaBackendWithoutDevice | grep -q Skipped; then
  log "GPU TESTS SKIPPED ON A MACHINE WITH A GPU (the build or the driver does not see it: see info above)"; status=1
fi

SMALL="examples/cliffwalk.yaml --backend cuda --set agents=1000 --set rounds=5 --set eval_every=5 --quiet"
if command -v compute-sanitizer >/dev/null 2>&1; then
  # memcheck: out-of-bounds and misaligned accesses; racecheck: shared-memory races (the fold);
  # synccheck: barriers and warp-synchronous calls (the fold's barriers, the warp kernel's shuffles)
  # name: algorithm kernel graph participation
  for tool in memcheck racecheck synccheck; do
    for cfg in "pfedtd_rep thread false 1" "pfedtd_rep warp false 0.7" "local_rep thread false 1" \
               "fedavg_rep warp false 1" "pfedtd_rep thread true 1"; do
      set -- $cfg
      name="$tool-$1-$2-graph$3-p$4"
      if timeout 300 compute-sanitizer --tool $tool --error-exitcode 9 $B run $SMALL --set algorithm=$1 \
          --set cuda_kernel=$2 --set cuda_graph=$3 --set participation=$4 --set orthonormalize=true \
          --out "$LOG/san-$name" > "$LOG/sanitizer-$name.txt" 2>&1; then
        log "compute-sanitizer $tool $1 kernel=$2 graph=$3 participation=$4: clean"
      else
        log "COMPUTE-SANITIZER $tool $1 kernel=$2 graph=$3 participation=$4 REPORTED ERRORS (sanitizer-$name.txt)"
        status=1
        grep -m5 -E "=========" "$LOG/sanitizer-$name.txt" | tee -a "$OUT/summary.txt"
      fi
      rm -rf "$LOG/san-$name"
    done
  done
  set --
else
  log "compute-sanitizer not found"
fi

# ---- throughput --------------------------------------------------------------------------------
# agent_steps_per_sec from summary.json: local TD steps per second of round time (local steps,
# aggregation, the waits for the device; evaluations excluded). us/round = N*K / rate.
# Roofline columns (napkin models, kernels/local_steps.cu and aggregate.cu): DRAM bytes a round must
# move (theta read+write 8d, state 8, flag 2 per agent; overlay write + fold read 2*R*(4d+4); the
# block partials 16*S*d per 256 agents) against 3.35e12 B/s (H100 SXM HBM3), and thread-
# instructions (~100 per agent-step) against 132 SMs * 4 * 32 lanes * 1.755 GHz = 2.96e13/s.
DEADLINE=$((SECONDS + ${BUDGET_S:-560}))
run_point() { # label N K d extra-set-options...: one line of the sweep table
  local label=$1 N=$2 K=$3 D=$4; shift 4
  if [ $SECONDS -ge $DEADLINE ]; then
    printf "%-10s %9d %4d %3d %14s\n" "$label" $N $K $D "skipped (time budget)" | tee -a "$OUT/summary.txt"; return
  fi
  local R=$(( 4000000000 / (N * K) )); [ $R -lt 4 ] && R=4; [ $R -gt 400 ] && R=400
  local dir="$LOG/sweep/$label-N$N-K$K-d$D"
  if timeout 240 $B run "$CFG" --backend "${BACKEND:-cuda}" --set agents=$N --set local_steps=$K --set dim=$D --set rounds=$R \
      --set eval_every=1000000 --set orthonormalize=false "$@" --quiet --out "$dir" > "$dir.log" 2>&1; then
    python3 - "$dir/summary.json" $label $N $K $D <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
j = json.load(open(sys.argv[1])); label = sys.argv[2]; N, K, d = map(int, sys.argv[3:6])
rate = j["agent_steps_per_sec"]; S = j["num_states"]
R = min(K, S)
bytes_round = N * (8 * d + 10 + 2 * R * (4 * d + 4)) + 16 * S * d * (N / 256)
rounds_per_s = rate / (N * K)
print(f"{label:<10} {N:9d} {K:4d} {d:3d} {rate:14.4g} {1e6 / rounds_per_s:12.1f} {100 * bytes_round * rounds_per_s / 3.35e12:8.1f}% {100 * rate * 100 / 2.96e13:8.1f}%")
PY
  else
    printf "%-10s %9d %4d %3d %14s\n" "$label" $N $K $D "FAILED ($(tail -1 "$dir.log" | cut -c1-90))" | tee -a "$OUT/summary.txt"
    status=1
  fi
  rm -rf "$dir"
}
mkdir -p "$LOG/sweep"
header() { printf "%-10s %9s %4s %3s %14s %12s %9s %9s\n" what N K d agent-steps/s us/round DRAM% issue% | tee -a "$OUT/summary.txt"; }

log "throughput: the targets (cliff walk 12x4, 4 types, pfedtd_rep, kernel auto)"
header
CFG=examples/cliffwalk.yaml
run_point target 1000000 100 8
run_point target 1000000 1 8
run_point target 10000000 100 8

log "kernel variants side by side (cliff walk, N = 1e6, K = 10)"
header
for D in 4 8 16 32; do
  run_point thread 1000000 10 $D --set cuda_kernel=thread
  run_point warp 1000000 10 $D --set cuda_kernel=warp
done

log "per-round cost: stream-launched rounds vs CUDA graph replay (cliff walk, K = 1, d = 8)"
header
for N in 1000 100000 1000000; do
  run_point stream $N 1 8
  run_point graph $N 1 8 --set cuda_graph=true
done

log "grid world 50x50 (2500 states, 8 types), pfedtd_rep"
header
CFG=examples/gridworld_large.yaml
for N in 100000 1000000; do
  for K in 10 100; do
    for D in 8 32; do
      run_point grid50 $N $K $D --set env.width=50 --set env.height=50
    done
  done
done

log "sweep: cliff walk, N x K x d (kernel auto)"
header
CFG=examples/cliffwalk.yaml
Ns="1000 10000 100000 1000000 10000000"; [ "$QUICK" = quick ] && Ns="1000 100000 1000000"
for N in $Ns; do
  for K in 1 10 100; do
    for D in 4 8 16 32; do
      run_point sweep $N $K $D
    done
  done
done

if command -v ncu >/dev/null 2>&1 && [ $SECONDS -lt $DEADLINE ]; then
  log "Nsight Compute: speed of light of the local steps and the fold (N = 1e6, K = 100, d = 8)"
  timeout 180 ncu --kernel-name regex:"pfr_local_steps|pfr_fold" --launch-count 2 --section SpeedOfLight \
    $B run examples/cliffwalk.yaml --backend cuda --set agents=1000000 --set local_steps=100 --set rounds=2 \
    --set eval_every=1000000 --quiet --out "$LOG/ncu-run" > "$LOG/ncu.txt" 2>&1 || log "ncu failed (ncu.txt)"
  grep -E "pfr_|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Duration" "$LOG/ncu.txt" | tee -a "$OUT/summary.txt"
  rm -rf "$LOG/ncu-run"
fi

log "PyTorch baseline on this GPU (same chains, same algorithm), for the GPU/PyTorch ratio"
if python3 -c "import torch, numpy; assert torch.cuda.is_available()" >/dev/null 2>&1; then
  $B export examples/cliffwalk.yaml --out "$LOG/env" --quiet
  for N in 1000000; do
    timeout 240 python3 bench/torch_baseline.py "$LOG/env" --agents $N --dim 8 --local-steps 100 --rounds 5 2>&1 | tee -a "$OUT/summary.txt"
    $B run examples/cliffwalk.yaml --backend cuda --set agents=$N --set local_steps=100 --set rounds=20 \
      --set eval_every=1000000 --set orthonormalize=false --quiet --out "$LOG/vs-torch" > /dev/null 2>&1 &&
      log "pfedrl cuda, same settings: $(python3 -c "import json;print('%.4g agent-steps/s' % json.load(open('$LOG/vs-torch/summary.json'))['agent_steps_per_sec'])")"
  done
  rm -rf "$LOG/env" "$LOG/vs-torch"
else
  log "PyTorch with CUDA not available on this machine: baseline not run"
fi

log "CPU engine on this machine, for the GPU/CPU ratio"
BUILD_DIR=build-gpu timeout 300 bash bench/cpu_throughput.sh > "$LOG/cpu_throughput.txt" 2>&1 || true
tee -a "$OUT/summary.txt" < "$LOG/cpu_throughput.txt"
exit $status
