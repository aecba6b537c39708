#!/usr/bin/env bash
# Builds that travel (.ci/run calls it after the test command, which leaves the native build in
# build/):
#   clang    the CPU tree built with clang (warnings as errors) and its suite run whole;
#   aarch64  the whole tree (library, command, tests) cross-compiled for 64-bit ARM with Debian's
#            cross toolchain and the libraries' arm64 packages; its command then runs under
#            qemu-aarch64 on configurations that cover the engine's paths, and its Phi, theta and
#            per-type errors must be the native build's, byte for byte.
# Under qemu one thread only (threads=1, OMP_NUM_THREADS=1): on the machines this runs on,
# qemu-user hangs in pthread_create (a two-line C program does; qemu 7.2 and 10.0 alike), so the
# arm64 suite itself is not run here.
#   bash scripts/test_builds.sh [clang|aarch64]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(clang aarch64)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
jobs="$(nproc)"

clang_build() {
  bash scripts/apt_install.sh clang
  local b="${CLANG_BUILD_DIR:-build-clang}"
  CC=clang CXX=clang++ cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=Release -DPFR_CUDA=OFF > /dev/null
  cmake --build "$b" -j "$jobs" > "$b.log" 2>&1 || { tail -40 "$b.log"; exit 1; }
  # the suite, less what needs the Python package or another build
  CUDA_VISIBLE_DEVICES="" ctest --test-dir "$b" -j "$jobs" --output-on-failure -E 'experiments|install|python'
  echo "test_builds: clang build and suite passed"
}

aarch64_build() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
    $SUDO apt-get update -qq
  fi
  bash scripts/apt_install.sh gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user libyaml-dev:arm64 \
    libsuitesparse-dev:arm64 zlib1g-dev:arm64 libgtest-dev:arm64
  local b="${AARCH64_BUILD_DIR:-build-aarch64}" native="${BUILD_DIR:-build}/pfedrl"
  cmake -S . -B "$b" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
    -DPFR_CUDA=OFF > /dev/null
  cmake --build "$b" -j "$jobs" > "$b.log" 2>&1 || { tail -40 "$b.log"; exit 1; }
  echo "test_builds: the whole tree cross-built for aarch64 ($(readelf -h "$b/pfedrl" | sed -n "s/ *Machine: *//p"))"
  [ -x "$native" ] || { echo "test_builds: no native build at $native to compare with (bash scripts/build.sh)"; exit 1; }
  local work
  work="$(mktemp -d)"
  # the paths: d = 4/8/16/32, orthonormalization, grids in slots, stale Phi, partial participation,
  # availability, control, local_rep, the portable 16-agent step, CartPole and Acrobot (each small:
  # qemu runs about twenty times slower)
  local configs=(
    "env.kind=cliffwalk env.types=4 agents=300 dim=8 orthonormalize=true participation=0.8"
    "env.kind=gridworld env.width=20 env.height=20 env.types=4 env.starts=4 agents=257 dim=16 local_steps=20"
    "env.kind=gridworld env.width=12 env.height=12 env.types=2 agents=200 dim=32 federation.max_delay=3"
    "env.kind=garnet env.states=60 env.types=3 agents=128 dim=4 federation.p_drop=0.2 federation.p_return=0.5"
    "env.kind=cliffwalk env.types=2 agents=64 dim=4 control.kind=qlearning algorithm=pfedtd_rep"
    "env.kind=randomwalk env.types=3 agents=48 dim=4 algorithm=local_rep"
    # the 16-agent step in portable vector code (NEON on aarch64, SSE2 in the native x86 build)
    "env.kind=cliffwalk env.types=4 agents=300 dim=8 participation=0.8 cpu_kernel=portable"
    "env.kind=gridworld env.width=20 env.height=20 env.types=4 env.starts=4 agents=257 dim=16 local_steps=20 cpu_kernel=portable"
    # the neural instance: libm's sin and cos in the physics, the minibatch step in NEON against AVX-512
    "env.kind=cartpole algorithm=pfeddqn_rep agents=8 dim=8 dqn.hidden=16 local_steps=50 dqn.learn_start=20"
    "env.kind=acrobot algorithm=fedavg_dqn agents=8 dim=8 dqn.hidden=16 local_steps=50 dqn.learn_start=20"
  )
  local n=0
  for c in "${configs[@]}"; do
    n=$((n + 1))
    local sets=(--set rounds=12 --set eval_every=4 --set threads=1 --set backend=cpu)
    for kv in $c; do sets+=(--set "$kv"); done
    printf 'agents: 1\n' > "$work/c.yaml"
    "$native" run --force "$work/c.yaml" "${sets[@]}" -o "$work/x86_$n" -q --theta --no-checkpoint > /dev/null
    OMP_NUM_THREADS=1 timeout 600 qemu-aarch64 -L /usr/aarch64-linux-gnu "$b/pfedrl" run --force "$work/c.yaml" "${sets[@]}" -o "$work/arm_$n" \
      -q --theta --no-checkpoint > /dev/null
    for f in phi.npy theta.npy body.npy heads.npy metrics_by_type.csv; do
      [ -e "$work/x86_$n/$f" ] || [ -e "$work/arm_$n/$f" ] || continue # the linear runs' files, or the networks
      if ! cmp -s "$work/x86_$n/$f" "$work/arm_$n/$f"; then
        echo "test_builds: aarch64 and x86-64 differ in $f for: $c"
        exit 1
      fi
    done
    echo "test_builds: aarch64 = x86-64 byte for byte: $c"
  done
  rm -rf "$work"
}

for w in "${want[@]}"; do
  case "$w" in
  clang) clang_build ;;
  aarch64) aarch64_build ;;
  *) echo "usage: bash scripts/test_builds.sh [clang|aarch64]..." >&2; exit 2 ;;
  esac
done
