#!/usr/bin/env bash
# bench/gpu_check.sh — the CUDA engine's check on a GPU machine, in two phases that each fit one
# 10-minute device call:
#   validate  build for sm_90; the GPU tests and the CUDA engine's CPU-side tests (memory plan,
#             kernel bodies run on the host, the GPU tests' configurations) -- not the CPU suite,
#             which CI runs; compute-sanitizer (memcheck, racecheck, synccheck) on small runs of
#             both kernels, graph mode, partial participation and a 70x70 grid world (global
#             and hashed overlays, the sparse sums)
#   bench     build; the device's memory bandwidth; the targets (`pfedrl bench`); the README main job
#             (backend auto); the CPU engine, PyTorch (eager and torch.compile) and JAX (idiomatic, and
#             tuned: bench/jax_tuned.py) on this machine at the target point (the ratios); thread
#             vs warp; stream vs graph; Nsight Compute; a 50x50 grid world; the N x K x d sweep
#   ab        build, and build BASE_REV (a commit; default HEAD~1) beside it; time both on the same
#             device, interleaved, three times at each of a few points (cliff walk and 50x50 grid
#             world, both kernels' paths), medians and their ratio; then the README main job
#   kernels   build; the thread and the warp kernel against each other, and what `auto` picks, over
#             N, K and d (cliff walk and a 50x50 grid world): the data behind pfr_cuda_pick_kernel
#   scale     build; `pfedrl bench` on the bench grid world (16 types) at S = 10^4, 2.5 x 10^5 and 10^6 with
#             10^6 and 10^5 agents; the CPU engine and the GPU on the same run at S = 40,000 (the same
#             phi.npy and theta.npy, byte for byte: one order of every sum, docs/DESIGN.md §3)
#   profile   build; Nsight Compute's duration of every kernel over 3 rounds (cliff walk K = 1 and
#             K = 100, the grid at S = 2.5 x 10^5), split per round and kernel (bench/ncu_split.py)
#   neural    build; PFedDQN-Rep on CartPole (issue 29): agent-steps/s with one gradient step per
#             environment step at N = 10^3, 10^4, 10^5 on the CUDA engine, against the same learners
#             batched in PyTorch on this GPU (bench/torch_dqn.py: grouped bmm, torch.compile)
# bench and scale also write $OUT/gpu.json (bench/gpu_json.py: each target's latest figure), which
# the session copies over bench/results/gpu.json.
# A phase starts no step after its deadline (BUDGET_S, default 540 s, counted from the script's
# start), says what it skipped, and rewrites $OUT/summary.txt after every step. Its first line is
# the VERDICT: PASS or FAIL with the reasons and the headline numbers (INCOMPLETE while running, so
# a call killed at its limit still returns what it found). Every detail is in $OUT/logs.tar.gz.
#
# usage: bash bench/gpu_check.sh [--dry-run] validate|bench|ab|kernels|scale|profile|neural
#   --dry-run  on a machine without a GPU: every step that needs no device (the carried
#              packages, the build, the test harness, each step's command line on the CPU engine at
#              a toy size, the summary), in under 3 minutes. CI runs every phase this way, with
#              REUSE_BUILD=<the suite's build>: then nothing is built (validate only configures with
#              the carried packages), the suite's programs are used, and each phase takes seconds.
# On a GPU machine (the device tool): `bash scripts/device_deps.sh` here first, then one call per
# phase with carry [".device-deps"]:  OUT=$OUT bash bench/gpu_check.sh validate   (then bench)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DRY=0
PHASE=""
for a in "$@"; do
  case "$a" in
    --dry-run) DRY=1 ;;
    validate|bench|ab|kernels|scale|profile|neural) PHASE=$a ;;
    *) echo "usage: bash bench/gpu_check.sh [--dry-run] validate|bench|ab|kernels|scale|profile|neural (got '$a')" >&2; exit 2 ;;
  esac
done
[ -n "$PHASE" ] || { echo "usage: bash bench/gpu_check.sh [--dry-run] validate|bench|ab|kernels|scale|profile|neural" >&2; exit 2; }
DEADLINE=$((SECONDS + ${BUDGET_S:-540}))
OUT="${OUT:-$ROOT/gpu-check-out}"
LOG="$OUT/logs"
B="${BUILD_DIR:-$ROOT/build-gpu}"
CLI="$B/pfedrl"
mkdir -p "$OUT" "$LOG"
BODY="$LOG/summary-body.txt"
: > "$BODY"
FAILS=()
HEAD=""
DONE=0
STEP="start"

# ---- the summary: VERDICT first, then one line per result -------------------------------------------
refresh() {
  local v reasons=""
  if [ ${#FAILS[@]} -gt 0 ]; then reasons=$(printf '%s; ' "${FAILS[@]}"); reasons=" (${reasons%; })"; fi
  if [ $DONE -eq 0 ]; then v="INCOMPLETE, stopped in: $STEP$reasons"
  elif [ ${#FAILS[@]} -eq 0 ]; then v="PASS"
  else v="FAIL$reasons"; fi
  local mode=""; [ $DRY -eq 1 ] && mode=" --dry-run (no device: mechanics only, no figure is a measurement)"
  { echo "VERDICT: $v -- $PHASE$mode${HEAD:+ -- $HEAD}"; cat "$BODY"; } > "$OUT/summary.txt.tmp"
  mv "$OUT/summary.txt.tmp" "$OUT/summary.txt"
}
note() { echo "$*" | tee -a "$BODY"; refresh; }
failed() { FAILS+=("$1"); note "FAILED: $1"; }
step() { STEP="$1"; note "== $1"; }
left() { echo $((DEADLINE - SECONDS)); }
# fits SECONDS WHAT: enough time left for a step of about SECONDS, else say it is skipped
fits() {
  if [ "$(left)" -lt "$1" ]; then note "skipped (time budget: needs ~$1 s, $(left) s left): $2"; return 1; fi
}
finish() {
  DONE=1
  refresh
  tar czf "$OUT/logs.tar.gz" -C "$OUT" logs 2>/dev/null && rm -rf "$LOG"
  echo "---- $OUT/summary.txt"; cat "$OUT/summary.txt"
  [ ${#FAILS[@]} -eq 0 ]
  exit $?
}
refresh

# ---- the machine --------------------------------------------------------------------------------------
step "machine"
export PATH="/usr/local/cuda/bin:$PATH"
note "date $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
note "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
if [ $DRY -eq 0 ]; then
  if nvidia-smi > "$LOG/nvidia-smi.txt" 2>&1; then
    note "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null)"
  else
    failed "nvidia-smi found no GPU (run with --dry-run on a machine without one)"
    finish
  fi
fi

# ---- dependencies: the Debian packages carried in .device-deps ----------------------------------------
# A bare GPU machine has no registry. Unpacked under DEPS_ROOT, libyaml's .pc file still says
# prefix=/usr: rewritten, or a CMake that finds pkg-config would build without the carried headers.
step "dependencies"
DEPS=.device-deps
DEPS_ROOT=/tmp/pfr-deps
use_carried=0
if [ $DRY -eq 1 ]; then
  # the dry run always exercises the carried-package path, with packages fetched here if need be
  DEPS="$B/device-deps"
  DEPS_ROOT="$B/pfr-deps"
  if ! ls "$DEPS"/libsuitesparse-dev_*.deb "$DEPS"/libyaml-dev_*.deb >/dev/null 2>&1; then # (again, if incomplete)
    bash scripts/device_deps.sh "$DEPS" > "$LOG/device-deps.txt" 2>&1 || true
  fi
  if ls "$DEPS"/*.deb >/dev/null 2>&1; then use_carried=1
  else note "no package registry reachable here: the carried-package path is not exercised (system packages used)"; fi
elif [ -d "$DEPS" ] && ! { [ -f /usr/include/yaml.h ] && [ -f /usr/include/gtest/gtest.h ] &&
                           [ -f /usr/include/suitesparse/umfpack.h ] && [ -f /usr/include/zlib.h ]; }; then
  use_carried=1
fi
if [ $use_carried -eq 1 ]; then
  rm -rf "$DEPS_ROOT" && mkdir -p "$DEPS_ROOT"
  for f in "$DEPS"/*.deb; do dpkg -x "$f" "$DEPS_ROOT" || failed "cannot unpack $f"; done
  for pc in "$DEPS_ROOT"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc; do
    [ -f "$pc" ] && sed -i "s|^prefix=.*|prefix=$DEPS_ROOT/usr|" "$pc"
  done
  # LAPACK and BLAS sit behind Debian's alternatives (/etc/alternatives), which dpkg -x does not
  # set up: the names the linker and the loader look for, made here
  lib="$DEPS_ROOT/usr/lib/x86_64-linux-gnu"
  for n in lapack blas; do
    for f in "$lib/$n"/lib$n.so*; do [ -e "$f" ] && ln -sf "$n/$(basename "$f")" "$lib/$(basename "$f")"; done
  done
  export PKG_CONFIG_PATH="$DEPS_ROOT/usr/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export CMAKE_PREFIX_PATH="$DEPS_ROOT/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$DEPS_ROOT/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  note "carried packages unpacked under $DEPS_ROOT: $(cd "$DEPS" && ls ./*.deb | tr '\n' ' ')"
fi

# ---- build ------------------------------------------------------------------------------------------
# Warnings are not errors here: this machine's compilers are not CI's.
step "build (sm_90)"
if [ "$PHASE" = validate ]; then TARGETS="pfedrl_cli pfedrl_tests"; TESTS=ON; else TARGETS="pfedrl_cli pfr_membw"; TESTS=OFF; fi
# a build folder used before keeps what find_path found then: look again where packages are carried
UNCACHE=()
[ $use_carried -eq 1 ] && UNCACHE=(-UPFR_UMFPACK_INCLUDE -UPFR_UMFPACK_LIBRARY -ULAPACK_* -UBLAS_*)
CONFIGURE=(cmake -S . -B "$B" "${UNCACHE[@]}" -DCMAKE_BUILD_TYPE=Release -DPFR_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90
           -DPFR_WERROR=OFF -DPFR_BUILD_TESTS=$TESTS)
REUSED=""
if [ $DRY -eq 1 ] && [ -n "${REUSE_BUILD:-}" ]; then
  # The suite's own build (ctest passes REUSE_BUILD): no test rebuilds the project (an nvcc build is
  # minutes on two cores, and past a test's timeout beside another build). validate configures
  # (only) with the carried packages, to check that CMake finds them; the programs are the suite's.
  if [ "$PHASE" = validate ] && ! "${CONFIGURE[@]}" > "$LOG/configure.txt" 2>&1; then
    failed "configure"; tail -25 "$LOG/configure.txt" | tee -a "$BODY"; finish
  fi
  REUSED=$B
  B=$REUSE_BUILD
  CLI="$B/pfedrl"
  note "dry run: the suite's build in $B is used (not rebuilt)$([ "$PHASE" = validate ] && echo "; configured with the carried packages in $REUSED")"
elif "${CONFIGURE[@]}" > "$LOG/configure.txt" 2>&1 &&
   cmake --build "$B" -j "$(nproc)" --target $TARGETS > "$LOG/build.txt" 2>&1; then
  note "built $TARGETS in $B"
else
  failed "build"
  tail -25 "$LOG/configure.txt" "$LOG/build.txt" | tee -a "$BODY"
  finish
fi
CACHE="${REUSED:-$B}/CMakeCache.txt"
if [ $use_carried -eq 1 ] && { [ -z "$REUSED" ] || [ "$PHASE" = validate ]; }; then
  grep -q "^YAML_INCLUDEDIR:INTERNAL=$DEPS_ROOT" "$CACHE" && note "the build uses the carried libyaml" ||
    failed "the build did not pick up the carried libyaml under $DEPS_ROOT"
  grep -q "^PFR_UMFPACK_INCLUDE:PATH=$DEPS_ROOT" "$CACHE" &&
    grep -q "^PFR_UMFPACK_LIBRARY:FILEPATH=$DEPS_ROOT" "$CACHE" && note "the build uses the carried UMFPACK" ||
    failed "the build did not pick up the carried UMFPACK under $DEPS_ROOT"
  if [ $TESTS = ON ]; then
    grep -q "^GTest_DIR:PATH=$DEPS_ROOT" "$CACHE" && note "the build uses the carried GoogleTest" ||
      failed "the build did not pick up the carried GoogleTest under $DEPS_ROOT"
  fi
fi
"$CLI" info > "$LOG/info.txt" 2>&1
tee -a "$BODY" < "$LOG/info.txt"

BACKEND=cuda
[ $DRY -eq 1 ] && BACKEND=cpu

# =====================================================================================================
if [ "$PHASE" = validate ]; then
  step "GPU tests (Cuda.*, CudaNeural.*) and the CUDA engine's CPU-side tests"
  FILTER='Cuda.*:CudaNeural.*:CudaPlan.*:CudaLogic.*:GpuTestConfigs.*:NeuralGpuConfigs.*'
  [ $DRY -eq 1 ] && FILTER='Cuda.*:CudaNeural.*:CudaPlan.*' # the harness only: the suite runs the others itself
  if fits 60 "the tests"; then
    budget=$(( $(left) - 150 )); [ $budget -lt 60 ] && budget=60
    timeout $budget "$B/pfedrl_tests" --gtest_filter="$FILTER" > "$LOG/gpu-tests.txt" 2>&1
    rc=$?
    grep -E '^\[ +(OK|FAILED|SKIPPED) +\] [A-Za-z]+\.[A-Za-z0-9_]+ \(' "$LOG/gpu-tests.txt" |
      sed -E 's/^\[ +([A-Z]+) +\] ([A-Za-z0-9_.]+) \((.*)\)/  \2: \1 (\3)/' > "$LOG/gpu-tests-list.txt"
    tee -a "$BODY" < "$LOG/gpu-tests-list.txt"
    refresh
    [ $rc -eq 124 ] && failed "the tests ran past their $budget s"
    if grep -q ': FAILED' "$LOG/gpu-tests-list.txt"; then
      failed "tests: $(grep -c ': FAILED' "$LOG/gpu-tests-list.txt") failed"
      grep -E -A8 "Failure$" "$LOG/gpu-tests.txt" | head -60 | tee -a "$BODY"
    elif [ $rc -ne 0 ] && [ $rc -ne 124 ]; then
      failed "the test program exited with $rc"; tail -20 "$LOG/gpu-tests.txt" | tee -a "$BODY"
    fi
    skipped=$(grep -E '^  Cuda(Neural)?\.' "$LOG/gpu-tests-list.txt" | grep -v CudaBackendWithoutDevice | grep -c ': SKIPPED')
    ran=$(grep -E '^  Cuda(Neural)?\.' "$LOG/gpu-tests-list.txt" | grep -c ': OK')
    if [ $DRY -eq 1 ]; then
      note "GPU tests skipped without a device, as expected: $skipped"
    else
      [ "$skipped" -gt 0 ] && failed "$skipped GPU tests SKIPPED on a machine with a GPU (the build or driver does not see it)"
      HEAD="GPU tests passed: $ran"
    fi
  fi

  step "compute-sanitizer"
  if [ $DRY -eq 0 ] && ! command -v compute-sanitizer > /dev/null; then
    failed "compute-sanitizer not found"
  else
    CLIFF="examples/cliffwalk.yaml --set agents=1000 --set rounds=3 --set eval_every=3 --set orthonormalize=true"
    GRID="examples/gridworld_large.yaml --set env.width=70 --set env.height=70 --set env.types=3 --set agents=600"
    GRID="$GRID --set dim=16 --set local_steps=150 --set alpha=0.1 --set beta=0.05 --set rounds=2 --set eval_every=2"
    # the neural instance (its kernel has no variants: "-" leaves cuda_kernel and cuda_graph out)
    DQN="examples/dqn/cartpole.yaml --set agents=300 --set rounds=2 --set eval_every=2 --set local_steps=30"
    DQN="$DQN --set dqn.learn_start=20 --set dqn.eval_episodes=1"
    ACRO="examples/dqn/acrobot.yaml --set agents=64 --set rounds=2 --set eval_every=2 --set local_steps=40"
    ACRO="$ACRO --set dqn.learn_start=32 --set dqn.eval_episodes=1"
    # name | config | algorithm kernel graph participation
    CASES=("grid70-hashed-sparse|$GRID --set local_steps=20|pfedtd_rep thread false 0.8"
           "cliff-pfedtd-thread|$CLIFF|pfedtd_rep thread false 1"
           "cliff-pfedtd-warp-p0.7|$CLIFF|pfedtd_rep warp false 0.7"
           "grid70-pfedtd-thread|$GRID|pfedtd_rep thread false 1"
           "grid70-pfedtd-warp|$GRID|pfedtd_rep warp false 1"
           "cliff-pfedtd-graph|$CLIFF|pfedtd_rep thread true 1"
           "cliff-localrep-thread|$CLIFF|local_rep thread false 1"
           "cliff-fedavg-warp|$CLIFF|fedavg_rep warp false 1"
           "cartpole-pfeddqn|$DQN|pfeddqn_rep - - 0.8"
           "acrobot-fedavg-moments|$ACRO --set dqn.average_moments=true|fedavg_dqn - - 1")
    san_ok=0
    for tool in memcheck racecheck synccheck; do
      for c in "${CASES[@]}"; do
        IFS='|' read -r name cfg params <<< "$c"
        read -r alg kernel graph part <<< "$params"
        fits 45 "compute-sanitizer $tool $name" || continue
        run=("$CLI" run --force $cfg --backend $BACKEND --set algorithm=$alg --set participation=$part --quiet
             --out "$LOG/san-out")
        [ "$kernel" != - ] && run+=(--set cuda_kernel=$kernel --set cuda_graph=$graph)
        if [ $DRY -eq 1 ]; then
          if timeout 120 "${run[@]}" > "$LOG/san-$tool-$name.txt" 2>&1; then san_ok=$((san_ok + 1))
          else failed "dry run: the command line of $tool $name fails on the CPU engine"; tail -3 "$LOG/san-$tool-$name.txt" | tee -a "$BODY"; fi
        else
          t=$(( $(left) < 240 ? $(left) : 240 ))
          timeout $t compute-sanitizer --tool $tool --error-exitcode 9 "${run[@]}" > "$LOG/san-$tool-$name.txt" 2>&1
          rc=$?
          # memcheck and synccheck end in "ERROR SUMMARY: 0 errors", racecheck in "RACECHECK SUMMARY:
          # 0 hazards displayed (0 errors, 0 warnings)" (seen on the first GPU run, 2026-11-26)
          if [ $rc -eq 0 ] && grep -qE "(ERROR SUMMARY: 0 errors|RACECHECK SUMMARY: 0 hazards displayed \(0 errors, 0 warnings\))$" \
                                "$LOG/san-$tool-$name.txt"; then
            note "compute-sanitizer $tool $name: clean"; san_ok=$((san_ok + 1))
          else
            failed "compute-sanitizer $tool $name (exit $rc)"
            grep -m6 -E "=========|error" "$LOG/san-$tool-$name.txt" | tee -a "$BODY"
          fi
        fi
        rm -rf "$LOG/san-out"
      done
    done
    [ $DRY -eq 1 ] && note "compute-sanitizer runs: $san_ok command lines checked on the CPU engine (no sanitizer without a device)"
    [ $DRY -eq 0 ] && HEAD="${HEAD:+$HEAD; }compute-sanitizer clean: $san_ok runs"
  fi
  finish
fi

# =====================================================================================================
# bench
step "memory bandwidth and issue rate"
BW=3.35e12
ISSUE=2.96e13
if [ $DRY -eq 1 ]; then
  note "dry run: nominal H100 SXM figures used for the roofline columns (3.35e12 B/s, 2.96e13 thread-instructions/s)"
else
  if timeout 60 "$B/pfr_membw" > "$LOG/membw.txt" 2>&1; then
    BW=$(awk '/^membw:/ {print $2}' "$LOG/membw.txt")
    note "$(cat "$LOG/membw.txt") (device-to-device copy, read + written)"
  else
    failed "membw"; tail -3 "$LOG/membw.txt" | tee -a "$BODY"
  fi
  sms=$(sed -nE 's/.*, ([0-9]+) SMs.*/\1/p' "$LOG/info.txt" | head -1)
  mhz=$(nvidia-smi --query-gpu=clocks.max.sm --format=csv,noheader,nounits 2>/dev/null | head -1 | tr -d ' ')
  if [ -n "$sms" ] && [ -n "$mhz" ]; then
    ISSUE=$(python3 -c "print('%.4g' % ($sms * 4 * 32 * $mhz * 1e6))")
    note "issue rate: $sms SMs x 4 schedulers x 32 lanes x $mhz MHz = $ISSUE thread-instructions/s"
  fi
fi

declare -A RATE
# run_point LABEL N K d [--set ...]: one row of a table; agent_steps_per_sec from summary.json (round
# time, the first round excluded); us/round = N*K / rate. Roofline columns (napkin models in
# kernels/local_steps.cu and aggregate.cu): DRAM bytes a round must move (theta read+write 8d, state
# 8, flag 2 per agent; overlay write + fold read 2R(4d+4); block partials 16 S d per 256 agents)
# against BW, and ~100 thread-instructions per agent-step against ISSUE.
run_point() {
  local label=$1 N=$2 K=$3 D=$4; shift 4
  fits 30 "$label N=$N K=$K d=$D" || return
  local n=$N R
  R=$(( 4000000000 / (N * K) )); [ $R -lt 4 ] && R=4; [ $R -gt 400 ] && R=400
  if [ $DRY -eq 1 ]; then n=$(( N < 2048 ? N : 2048 )); R=2; fi
  local dir="$LOG/sweep/$label-N$N-K$K-d$D"
  mkdir -p "$LOG/sweep"
  local t=$(( $(left) < 240 ? $(left) : 240 ))
  if timeout $t "$CLI" run --force "$CFG" --backend $BACKEND --set agents=$n --set local_steps=$K --set dim=$D \
       --set rounds=$R --set eval_every=1000000 --set orthonormalize=false "$@" --quiet --out "$dir" > "$dir.log" 2>&1; then
    local row
    row=$(python3 - "$dir/summary.json" "$label" $n $K $D $BW $ISSUE <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); label = sys.argv[2]; N, K, d = map(int, sys.argv[3:6])
bw, issue = float(sys.argv[6]), float(sys.argv[7])
rate = j["agent_steps_per_sec"]; S = j["num_states"]
R = min(K, S)
bytes_round = N * (8 * d + 10 + 2 * R * (4 * d + 4)) + 16 * S * d * (N / 256)
rounds_per_s = rate / (N * K)
print(f"{label:<10} {N:9d} {K:4d} {d:3d} {rate:14.4g} {1e6 / rounds_per_s:12.1f} "
      f"{100 * bytes_round * rounds_per_s / bw:8.1f}% {100 * rate * 100 / issue:8.1f}%")
PY
)
    note "$row"
    RATE["$label $N $K $D"]=$(echo "$row" | awk '{print $5}')
  else
    failed "$label N=$N K=$K d=$D: $(tail -1 "$dir.log" | cut -c1-120)"
  fi
  rm -rf "$dir"
}
header() { note "$(printf "%-10s %9s %4s %3s %14s %12s %9s %9s" what N K d agent-steps/s us/round DRAM% issue%)"; }
CFG=examples/cliffwalk.yaml

# The README main job (scripts/main_job.sh's run; its set-up and build are this script's), backend
# auto: which engine auto chose, the wall time, the final value error.
main_job() {
  step "the README main job (100x100 grid world, 16 types, 16,384 agents, 2000 rounds of 100 steps; backend auto)"
  fits 90 "the main job" || return
  local extra=(); [ $DRY -eq 1 ] && extra=(-s agents=64 -s rounds=20)
  local t0=$SECONDS
  if timeout $(( $(left) < 300 ? $(left) : 300 )) "$CLI" run --force examples/experiments/gridworld_scale.yaml -s agents=16384 \
       "${extra[@]}" --quiet --out "$LOG/main-job" > "$LOG/main-job.log" 2>&1; then
    note "main job: $(python3 -c "import json; j = json.load(open('$LOG/main-job/summary.json')); \
print('backend %s, %d s wall (set-up %.1f s), %.3g agent-steps/s, final value_error %.4f' % (j['backend'], $SECONDS - $t0, \
j['setup']['setup_s'], \
j['agent_steps_per_sec'], j['final_value_error']))")"
    [ $DRY -eq 0 ] && ! grep -q '"backend": "cuda"' "$LOG/main-job/summary.json" && failed "backend auto did not choose the GPU"
  else
    failed "the main job: $(tail -1 "$LOG/main-job.log" | cut -c1-160)"
  fi
  rm -rf "$LOG/main-job"
}

# ---- ab: this build against BASE_REV's, on this device ------------------------------------------------
if [ "$PHASE" = ab ]; then
  # The base sources: BASE_SRC, a folder (on the device tool: `git archive REV | tar -x -C .ab-base`
  # here, .ab-base in .git/info/exclude and in carry; the device's copy of .git has been seen to lag
  # behind the working tree), else a worktree of BASE_REV.
  step "build BASE_REV beside this one"
  [ $DRY -eq 1 ] && BASE_REV="${BASE_REV:-HEAD}" # the dry run: its own commit (a shallow clone has no HEAD~1)
  BASE_REV="${BASE_REV:-HEAD~1}"
  BASE_DIR="$B-base-src"
  BASE_B="$B-base"
  rm -rf "$BASE_DIR"; git worktree prune 2>/dev/null
  CUDA_BASE=ON; [ $DRY -eq 1 ] && CUDA_BASE=OFF # the dry run times the CPU engine: no nvcc build needed
  if [ -n "${BASE_SRC:-}" ]; then
    BASE_REV="$BASE_SRC"; mkdir -p "$BASE_DIR" && cp -r "$BASE_SRC"/. "$BASE_DIR" && : > "$LOG/base-worktree.txt"
  else
    git worktree add --detach "$BASE_DIR" "$BASE_REV" > "$LOG/base-worktree.txt" 2>&1
  fi
  if [ -n "$REUSED" ] && [ -f "$BASE_DIR/CMakeLists.txt" ]; then
    # (the dry run under ctest: no test rebuilds the project; the base's worktree is made, its build is
    # the suite's, so both sides time the same program)
    BASE_B=$B
    note "dry run: $BASE_REV checked out in $BASE_DIR, not built: the suite's build stands for it"
  elif [ -f "$BASE_DIR/CMakeLists.txt" ] &&
     cmake -S "$BASE_DIR" -B "$BASE_B" -DCMAKE_BUILD_TYPE=Release -DPFR_CUDA=$CUDA_BASE -DCMAKE_CUDA_ARCHITECTURES=90 \
       -DPFR_WERROR=OFF -DPFR_BUILD_TESTS=OFF > "$LOG/base-configure.txt" 2>&1 &&
     cmake --build "$BASE_B" -j "$(nproc)" --target pfedrl_cli > "$LOG/base-build.txt" 2>&1; then
    note "built $BASE_REV ($(git rev-parse --short "$BASE_REV" 2>/dev/null || echo folder)) in $BASE_B"
  else
    failed "the build of $BASE_REV"; tail -5 "$LOG/base-worktree.txt" "$LOG/base-build.txt" | tee -a "$BODY"; finish
  fi
  HEAD_CLI=$CLI
  step "A/B: base = $BASE_REV, head = this tree; medians of 3, interleaved (kernel auto unless named)"
  header
  # label|config|N K d|--set ...
  POINTS=("cliff|examples/cliffwalk.yaml|1000000 100 8|"
          "cliff|examples/cliffwalk.yaml|1000000 10 8|"
          "cliff|examples/cliffwalk.yaml|1000000 1 8|"
          "cliff-thr|examples/cliffwalk.yaml|1000000 10 32|--set cuda_kernel=thread"
          "cliff-warp|examples/cliffwalk.yaml|1000000 10 32|--set cuda_kernel=warp"
          "grid50|examples/gridworld_large.yaml|100000 100 8|--set env.width=50 --set env.height=50"
          "grid50-thr|examples/gridworld_large.yaml|100000 10 32|--set env.width=50 --set env.height=50 --set cuda_kernel=thread")
  AB_ROWS=()
  for p in "${POINTS[@]}"; do
    IFS='|' read -r label CFG nkd sets <<< "$p"
    read -r N K D <<< "$nkd"
    base=(); head=()
    for rep in 1 2 3; do
      for who in base head; do
        if [ $who = base ]; then CLI="$BASE_B/pfedrl"; else CLI=$HEAD_CLI; fi
        RATE["$who $N $K $D"]=""
        # shellcheck disable=SC2086
        run_point $who $N $K $D $sets
        r=${RATE["$who $N $K $D"]}
        [ -n "$r" ] && { [ $who = base ] && base+=("$r") || head+=("$r"); }
      done
    done
    CLI=$HEAD_CLI
    if [ ${#base[@]} -gt 0 ] && [ ${#head[@]} -gt 0 ]; then
      AB_ROWS+=("$(python3 -c "import statistics, sys; b = statistics.median(map(float, sys.argv[1].split())); \
h = statistics.median(map(float, sys.argv[2].split())); \
print('%-10s N=%-8s K=%-3s d=%-2s base %.4g  head %.4g  head/base %.3f' % ('$label', $N, $K, $D, b, h, h / b))" \
        "${base[*]}" "${head[*]}")")
      note "${AB_ROWS[-1]}"
    fi
  done
  step "A/B medians (agent-steps/s)"
  for r in "${AB_ROWS[@]}"; do note "$r"; done
  HEAD="A/B against $BASE_REV: ${#AB_ROWS[@]} points"
  git worktree remove --force "$BASE_DIR" > /dev/null 2>&1; rm -rf "$BASE_DIR"
  main_job
  finish
fi

# ---- kernels: thread against warp, and auto's pick, over N, K, d ------------------------------------------
if [ "$PHASE" = kernels ]; then
  # One run each (the device's runs repeat to within 0.1%: bench/RESULTS.md 2026-11-26, ab medians of
  # 3). The fastest of thread and warp is the one auto should have picked; the summary says where not.
  step "thread vs warp vs auto (agent-steps/s; auto's pick, and MISS where the other kernel is faster by more than 3%)"
  PICKS=(); MISSES=0
  POINTS=("cliff 1000" "cliff 10000" "cliff 100000" "cliff 1000000" "grid50 10000" "grid50 100000")
  KS="1 10 100"
  [ $DRY -eq 1 ] && { POINTS=("cliff 1000" "grid50 1000"); KS="10"; } # the mechanics only
  for point in "${POINTS[@]}"; do
    read -r env N <<< "$point"
    sets=(); CFG=examples/cliffwalk.yaml
    [ $env = grid50 ] && { CFG=examples/gridworld_large.yaml; sets=(--set env.width=50 --set env.height=50); }
    for K in $KS; do
      [ $env = grid50 ] && [ $K = 1 ] && continue
      for D in 8 16 32; do
        row=""
        for kern in thread warp auto; do
          RATE["$env-$kern $N $K $D"]=""
          run_point "$env-$kern" $N $K $D "${sets[@]}" --set cuda_kernel=$kern
          row="$row ${RATE["$env-$kern $N $K $D"]:-nan}"
        done
        read -r t w a <<< "$row"
        v=$(python3 -c "import sys; t, w, a = map(float, sys.argv[1:4]); best = 'thread' if t >= w else 'warp'; \
pick = 'thread' if abs(a - t) <= abs(a - w) else 'warp'; ok = best == pick or min(t, w) >= 0.97 * max(t, w); \
print('%-6s N=%-8s K=%-3s d=%-2s thread %.4g  warp %.4g  thread/warp %.2f  auto ~ %s%s' % \
('$env', $N, $K, $D, t, w, t / w, pick, '' if ok else '  (MISS: %s is faster)' % best))" $t $w $a 2>/dev/null)
        [ -n "$v" ] || continue
        note "$v"; PICKS+=("$v")
        case "$v" in *MISS*) MISSES=$((MISSES + 1)) ;; esac
      done
    done
  done
  HEAD="kernel choice: ${#PICKS[@]} points, auto missed the faster kernel (by more than 3%) at $MISSES"
  finish
fi

# pfedrl bench's points (host/cli/bench.c: one list), on this device; --quick on the CPU engine in a
# dry run. Its JSON feeds $OUT/gpu.json (bench/gpu_json.py: the targets, one list).
QUICK=(); [ $DRY -eq 1 ] && QUICK=(--quick --repeats 2 --min-seconds 0.05)
# bench_points FILE POINTS [ARGS...]: `pfedrl bench` on those points into FILE (also its table here)
bench_points() {
  local file=$1 points=$2; shift 2
  local t=$(( $(left) < 400 ? $(left) : 400 ))
  if timeout $t "$CLI" bench --backend $BACKEND --points "$points" "${QUICK[@]}" --json "$file" "$@" \
       > "$file.txt" 2>&1; then
    sed -n '/^point /,$p' "$file.txt" | tee -a "$BODY"
  else
    failed "pfedrl bench --points $points: $(tail -1 "$file.txt" | cut -c1-160)"
  fi
}
# ---- scale: the bench grid world at 10^4 to 10^6 states, and the CPU engine against it ------------------
if [ "$PHASE" = scale ]; then
  step "grid worlds at scale: pfedrl bench --points grid_1e4,grid_2.5e5,grid_1e6 (16 types, K = 10, d = 8; N = 1e6, then 1e5)"
  BENCH_FILES=()
  for N in 1000000 100000; do
    fits 120 "pfedrl bench, the grids at N = $N" || continue
    extra=(--agents $N); [ $DRY -eq 1 ] && extra=()
    bench_points "$LOG/bench-grid-$N.json" grid_1e4,grid_2.5e5,grid_1e6 "${extra[@]}"
    [ $N = 1000000 ] && [ -f "$LOG/bench-grid-$N.json" ] && BENCH_FILES+=(--bench "$LOG/bench-grid-$N.json")
  done
  # The same run on both engines: the sums keep the CPU engine's order on the device (docs/DESIGN.md
  # §3), so Phi and theta must be the same files, byte for byte (the sparse path: S d = 320,000).
  W=200; [ $DRY -eq 1 ] && W=20
  step "the CPU engine against the GPU at S = $((W * W)) (N = 16,384, K = 10, d = 8, 20 rounds): Phi and theta bit for bit"
  "$CLI" bench --show-config grid_2.5e5 > "$LOG/grid.yaml" 2> "$LOG/grid.yaml.err" || failed "pfedrl bench --show-config"
  SAME=()
  for be in cpu cuda; do
    b=$be; [ $DRY -eq 1 ] && b=cpu
    fits 90 "the $be run" || continue
    dir="$LOG/agree-$be"
    if timeout $(( $(left) < 240 ? $(left) : 240 )) "$CLI" run --force "$LOG/grid.yaml" --set env.width=$W --set env.height=$W \
         --backend $b --set agents=16384 --set rounds=20 --set eval_every=20 --set orthonormalize=true --theta \
         --quiet --out "$dir" > "$dir.log" 2>&1; then
      note "$be: $(python3 -c "import json; j = json.load(open('$dir/summary.json')); \
print('final value_error %.9g, %.4g agent-steps/s, set-up %.1f s' % (j['final_value_error'], j['agent_steps_per_sec'], \
j['setup']['setup_s']))")"
      SAME+=("$dir")
    else
      failed "the $be run at S = $((W * W)): $(tail -1 "$dir.log" | cut -c1-160)"
    fi
  done
  if [ ${#SAME[@]} -eq 2 ]; then
    if cmp -s "${SAME[0]}/phi.npy" "${SAME[1]}/phi.npy" && cmp -s "${SAME[0]}/theta.npy" "${SAME[1]}/theta.npy"; then
      note "phi.npy and theta.npy: the same bytes on both engines"
    else
      failed "the CPU engine and the GPU give different Phi or theta at S = $((W * W)) (their order is one: DESIGN §3)"
    fi
  fi
  rm -rf "$LOG"/agree-*
  DRYFLAG=(); [ $DRY -eq 1 ] && DRYFLAG=(--dry-run)
  HEAD=$(python3 bench/gpu_json.py --base bench/results/gpu.json --out "$OUT/gpu.json" "${BENCH_FILES[@]}" \
         "${DRYFLAG[@]}" 2>&1 | tail -1)
  note "headline: $HEAD (written to $OUT/gpu.json)"
  finish
fi

# ---- neural: PFedDQN-Rep's agents on the device against PyTorch's (issue 29) -------------------------------
if [ "$PHASE" = neural ]; then
  # One CartPole step and one gradient step per agent-step (4 -> 64 -> 16, batch 16, Adam), the first
  # round and evaluations not counted (summary.json agent_steps_per_sec); PyTorch the same learners
  # batched (bench/torch_dqn.py) on this GPU, its first 20 steps (compilation) not timed.
  step "neural: agent-steps/s with learning, the CUDA engine against PyTorch on this GPU (CartPole, pfeddqn_rep)"
  POINTS="1000:4:200 10000:3:100 100000:2:30"
  [ $DRY -eq 1 ] && POINTS="64:3:20 256:2:20"
  TDEV=cuda; [ $DRY -eq 1 ] && TDEV=cpu
  printf 'env:\n  kind: cartpole\nalgorithm: pfeddqn_rep\n' > "$LOG/cp.yaml"
  for spec in $POINTS; do
    IFS=: read -r n rounds steps <<< "$spec"
    fits 60 "neural N=$n" || continue
    rate=""
    if timeout 240 "$CLI" run "$LOG/cp.yaml" --force --backend $BACKEND --set agents=$n --set rounds=$rounds \
         --set local_steps=100 --set dim=16 --set eval_every=1000000 --set dqn.learn_start=16 --set dqn.eval_episodes=1 \
         --quiet --out "$LOG/dqn-$n" > "$LOG/dqn-$n.log" 2>&1; then
      rate=$(python3 -c "import json;print('%.4g' % json.load(open('$LOG/dqn-$n/summary.json'))['agent_steps_per_sec'])")
    else
      failed "neural N=$n on the $BACKEND engine: $(tail -1 "$LOG/dqn-$n.log")"
    fi
    rm -rf "$LOG/dqn-$n"
    line="N=$n: pfedrl ($BACKEND) ${rate:-?}"
    for mode in bmm compile; do
      if ! python3 -c "import torch" > /dev/null 2>&1; then line="$line, torch not installed"; break; fi
      t=$(timeout 240 python3 bench/torch_dqn.py --agents $n --steps $steps --warmup 20 --mode $mode --device $TDEV \
          2>"$LOG/torch-$mode-$n.err" | awk '{print $2}')
      line="$line, torch $mode ${t:-failed}"
      [ -n "$t" ] && [ -n "$rate" ] && line="$line ($(awk -v a="$rate" -v b="$t" 'BEGIN {printf "%.1fx", a / b}'))"
    done
    note "$line"
  done
  HEAD="neural: $(grep -c 'pfedrl (' "$BODY") points measured"
  finish
fi

# ---- profile: the split of a round by kernel (Nsight Compute's kernel durations) ----------------------------
if [ "$PHASE" = profile ]; then
  # ncu times every kernel of the run (it serializes them; each duration is the kernel's own), clocks
  # left alone (--clock-control none: METHOD.md); 3 rounds a run, split per round by bench/ncu_split.py.
  # nsys is not on the GPU machines here (KINDS.md), so the NVTX ranges are for a user's own timeline.
  step "profile: device time per kernel and round (ncu gpu__time_duration), largest first"
  # label | point (pfedrl bench --show-config) | --set overrides
  PROFILES=("cliff K=1, N=1e6|cliff_k1|" "cliff K=100, N=1e6|cliff_k100|" "grid S=2.5e5 K=10, N=1e6 (sparse sums)|grid_2.5e5|")
  [ $DRY -eq 1 ] && PROFILES=("cliff K=1 (dry)|cliff_k1|--set agents=2048" "grid S=400 (dry)|grid_1e4|--set agents=2048 --set env.width=20 --set env.height=20")
  for pr in "${PROFILES[@]}"; do
    IFS='|' read -r label point sets <<< "$pr"
    fits 90 "ncu $label" || continue
    tag=$(echo "$point" | tr -c 'a-z0-9_\n' '_')
    "$CLI" bench --show-config "$point" > "$LOG/prof-$tag.yaml" 2>&1 || { failed "pfedrl bench --show-config $point"; continue; }
    # shellcheck disable=SC2086 # (the overrides)
    run=("$CLI" run --force "$LOG/prof-$tag.yaml" --backend $BACKEND --set rounds=3 $sets --quiet --no-checkpoint --out "$LOG/prof-out")
    if [ $DRY -eq 1 ]; then
      if timeout 120 "${run[@]}" > "$LOG/prof-$tag.log" 2>&1; then
        note "dry run: $label: the command line runs on the CPU engine; the split of a canned ncu report:"
        python3 bench/ncu_split.py bench/fixtures/ncu_times.csv 1 "$label (fixture)" | tee -a "$BODY"
      else
        failed "dry run: $label: $(tail -1 "$LOG/prof-$tag.log" | cut -c1-160)"
      fi
    elif ! command -v ncu > /dev/null; then
      failed "ncu not found"; break
    else
      timeout $(( $(left) < 240 ? $(left) : 240 )) ncu --clock-control none --csv --metrics gpu__time_duration.sum \
        "${run[@]}" > "$LOG/prof-$tag.csv" 2> "$LOG/prof-$tag.err"
      python3 bench/ncu_split.py "$LOG/prof-$tag.csv" 3 "$label" | tee -a "$BODY"
    fi
    rm -rf "$LOG/prof-out"
  done
  HEAD="profile: $(grep -c 'us of kernels a round' "$BODY") runs split by kernel"
  finish
fi

step "the targets: pfedrl bench --points cliff_k100,cliff_k1 (cliff walk 12x4, 4 types, pfedtd_rep, kernel auto)"
BENCH_FILES=()
if fits 120 "pfedrl bench (the targets)"; then
  bench_points "$LOG/bench-targets.json" cliff_k100,cliff_k1
  [ -f "$LOG/bench-targets.json" ] && BENCH_FILES+=(--bench "$LOG/bench-targets.json")
fi
header
run_point target 10000000 100 8

# The same point (N = 1e6, K = 100, d = 8, pfedtd_rep, no orthonormalization) on the CPU engine and in
# the PyTorch and JAX baselines, on this machine, for the ratios: idiomatic PyTorch and JAX,
# torch.compile, and JAX tuned the engine's way (bench/jax_tuned.py).
step "ratios at the target point: the CPU engine, PyTorch (eager, torch.compile), JAX (idiomatic, tuned)"
RN=1000000; RR=3
[ $DRY -eq 1 ] && RN=2048 && RR=2
CPU_RATE=""
declare -A BASE_RATE
if fits 60 "the CPU engine at the target point"; then
  if timeout 240 "$CLI" run --force $CFG --backend cpu --set agents=$RN --set local_steps=100 --set dim=8 --set rounds=$RR \
       --set eval_every=1000000 --set orthonormalize=false --quiet --out "$LOG/cpu-point" > "$LOG/cpu-point.log" 2>&1; then
    CPU_RATE=$(python3 -c "import json;print('%.4g' % json.load(open('$LOG/cpu-point/summary.json'))['agent_steps_per_sec'])")
    note "pfedrl CPU engine ($(nproc) threads), N=$RN K=100 d=8: $CPU_RATE agent-steps/s"
  else
    failed "CPU engine at the target point: $(tail -1 "$LOG/cpu-point.log")"
  fi
  rm -rf "$LOG/cpu-point"
fi
"$CLI" export $CFG --out "$LOG/env" --quiet > /dev/null 2>&1 || failed "pfedrl export"
# name | module | script and its flags (the engine's step sizes for the tuned one)
BASELINES=("torch|torch|torch_baseline.py" "torch_compile|torch|torch_baseline.py --compile"
           "jax|jax|jax_baseline.py" "jax_tuned|jax|jax_tuned.py --alpha 0.2 --beta 0.1 --gamma 0.9")
for bl in "${BASELINES[@]}"; do
  IFS='|' read -r name fw script <<< "$bl"
  fits 90 "$name baseline" || continue
  if [ $DRY -eq 1 ]; then probe="import $fw"; else
    probe="import $fw; assert $( [ $fw = torch ] && echo 'torch.cuda.is_available()' || echo "jax.devices()[0].platform == 'gpu'" )"; fi
  if ! python3 -c "$probe" > /dev/null 2>&1; then
    if [ $DRY -eq 1 ]; then note "$fw not installed here: the $name baseline is not exercised"
    else failed "$fw with the GPU is not available on this machine"; fi
    continue
  fi
  # shellcheck disable=SC2086 # (the script's flags)
  line=$(cd bench && timeout 240 python3 $script "$LOG/env" --agents $RN --dim 8 --local-steps 100 --rounds $RR \
         2>"$LOG/$name.err" | tail -1)
  if [ -n "$line" ]; then
    note "$line"
    BASE_RATE[$name]=$(echo "$line" | awk '{print $2}')
  else
    failed "$name baseline: $(tail -1 "$LOG/$name.err")"
  fi
done
rm -rf "$LOG/env"

# The headline: the targets (bench/gpu_json.py) and the ratios, into $OUT/gpu.json.
T100=$(python3 -c "import json, sys; d = json.load(open(sys.argv[1])); \
print(next((p['agent_steps_per_sec'] for p in d['points'] if p['name'] == 'cliff_k100' and p['status'] == 'ok'), ''))" \
  "$LOG/bench-targets.json" 2>/dev/null)
RATIOS=$(python3 - "$T100" "$CPU_RATE" "${BASE_RATE[torch]:-}" "${BASE_RATE[torch_compile]:-}" "${BASE_RATE[jax]:-}" \
         "${BASE_RATE[jax_tuned]:-}" <<'PY'
import sys
def num(s):
    try: return float(s)
    except ValueError: return None
t100, *base = map(num, sys.argv[1:])
names = ["CPU engine", "PyTorch", "torch.compile", "JAX", "JAX tuned"]
print("; ".join(f"{t100 / b:.1f}x {n}" for n, b in zip(names, base) if t100 and b) or "no ratio measured")
PY
)
note "ratios at N = 1e6, K = 100, d = 8: $RATIOS"
JT=(); [ -n "${BASE_RATE[jax_tuned]:-}" ] && JT=(--jax-tuned "${BASE_RATE[jax_tuned]}")
DRYFLAG=(); [ $DRY -eq 1 ] && DRYFLAG=(--dry-run)
HEAD=$(python3 bench/gpu_json.py --base bench/results/gpu.json --out "$OUT/gpu.json" "${BENCH_FILES[@]}" "${JT[@]}" \
       "${DRYFLAG[@]}" 2>&1 | tail -1)
note "headline: $HEAD (written to $OUT/gpu.json)"

main_job

step "kernel variants side by side (cliff walk, N = 1e6, K = 10)"
header
for D in 8 16 32; do
  run_point thread 1000000 10 $D --set cuda_kernel=thread
  run_point warp 1000000 10 $D --set cuda_kernel=warp
done

step "per-round cost: stream-launched rounds vs CUDA graph replay (cliff walk, K = 1, d = 8)"
header
for N in 1000 100000 1000000; do
  run_point stream $N 1 8
  run_point graph $N 1 8 --set cuda_graph=true
done

step "Nsight Compute: speed of light of the local steps and the fold (N = 1e6, K = 100, d = 8)"
if [ $DRY -eq 1 ]; then
  if command -v ncu > /dev/null; then note "dry run: ncu found ($(ncu --version | tail -1)); not run without a device"
  else note "dry run: ncu not on this machine's PATH (it is on the GPU machine's)"; fi
elif ! command -v ncu > /dev/null; then
  failed "ncu not found"
elif fits 120 "ncu"; then
  timeout 180 ncu --kernel-name regex:"pfr_local_steps|pfr_fold" --launch-count 2 --section SpeedOfLight \
    "$CLI" run --force $CFG --backend cuda --set agents=1000000 --set local_steps=100 --set rounds=2 \
    --set eval_every=1000000 --quiet --out "$LOG/ncu-run" > "$LOG/ncu.txt" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && grep -q "pfr_" "$LOG/ncu.txt"; then
    grep -E "pfr_|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Duration" "$LOG/ncu.txt" | tee -a "$BODY"
  else
    failed "ncu refused the device or failed (exit $rc)"; grep -m5 -iE "error|==PROF==" "$LOG/ncu.txt" | tee -a "$BODY"
  fi
  rm -rf "$LOG/ncu-run"
  # Where the local steps' memory traffic goes, per agent-step (one launch = 1e6 agents x 100 steps):
  # L2 requests and sectors by reads and writes, registers, occupancy. The thread kernel is bound by
  # L2 requests, not bytes (first seen on an H200, bench/RESULTS.md 2026-11-26: 8.7 write requests a
  # step from scalar row stores). Informational: a counter ncu cannot read is a note, not a failure.
  if fits 60 "ncu L2 requests"; then
    M=lts__t_requests_srcunit_tex_op_read.sum,lts__t_requests_srcunit_tex_op_write.sum
    M=$M,lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sectors_srcunit_tex_op_write.sum
    M=$M,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active
    timeout 120 ncu --kernel-name regex:"pfr_local_steps" --launch-count 1 --csv --metrics $M \
      "$CLI" run --force $CFG --backend cuda --set agents=1000000 --set local_steps=100 --set rounds=2 \
      --set eval_every=1000000 --quiet --out "$LOG/ncu-run" > "$LOG/ncu-l2.csv" 2> "$LOG/ncu-l2.err"
    note "$(python3 bench/ncu_per_step.py "$LOG/ncu-l2.csv" 100000000 2>&1 | tail -1)"
    rm -rf "$LOG/ncu-run"
  fi
fi

step "grid world 50x50 (2500 states, 8 types), pfedtd_rep"
header
CFG=examples/gridworld_large.yaml
for N in 100000 1000000; do
  for K in 10 100; do
    for D in 8 32; do
      run_point grid50 $N $K $D --set env.width=50 --set env.height=50
    done
  done
done

step "sweep: cliff walk, N x K x d (kernel auto)"
header
CFG=examples/cliffwalk.yaml
for N in 1000 100000 1000000 10000000; do
  for K in 1 10 100; do
    for D in 4 8 16 32; do
      run_point sweep $N $K $D
    done
  done
done
finish
