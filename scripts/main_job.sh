#!/usr/bin/env bash
# The main job (README): set up, build, and run PFedTD-Rep on a grid world at scale: 100 x 100 cells
# (10^4 states), 16 environment types, 16,384 agents, 2000 rounds of 100 local steps
# (examples/experiments/gridworld_scale.yaml). Backend auto: the GPU when the CUDA engine was built
# (nvcc and a GPU driver present) and a device is found, else the CPU engine; `--backend cpu|cuda`
# chooses. Results go to ${OUT:-runs/gridworld} (replaced each time), with plot.png (scripts/plot.py
# run). Extra arguments go to `pfedrl run` (e.g. -s agents=1024 for a quick look).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# only what the job runs: the command, and the CUDA module where a GPU driver is present (nvcc alone
# does not make a GPU; the test command builds everything)
targets=(pfedrl_cli)
what="the pfedrl command"
nvcc_found=0
{ command -v nvcc || [ -x /usr/local/cuda/bin/nvcc ]; } > /dev/null 2>&1 && nvcc_found=1
if [ $nvcc_found = 1 ] && { [ -e /proc/driver/nvidia/version ] || nvidia-smi -L > /dev/null 2>&1; }; then
  targets+=(pfedrl_cuda)
  what="$what and the CUDA engine (a GPU driver is present; a few minutes of nvcc)"
fi
mkdir -p build
echo "main job: building $what into build/ (log: build/main-job-build.log)" >&2
if ! BUILD_TARGETS="${targets[*]}" bash scripts/build.sh > build/main-job-build.log 2>&1; then
  tail -n 30 build/main-job-build.log >&2
  echo "main job: the build failed (the whole log: build/main-job-build.log)" >&2
  exit 1
fi
out="${OUT:-runs/gridworld}"
echo "main job: running examples/experiments/gridworld_scale.yaml (PFedTD-Rep, a 100 x 100 grid world) into $out" >&2
echo "  16,384 agents show throughput: the error is set by the step sizes and the types (256 agents reach the same 0.11)" >&2
./build/pfedrl run examples/experiments/gridworld_scale.yaml -s agents=16384 --out "$out" --force "$@"
# one look at it: the errors over the run and each type's, drawn next to the results
python3 scripts/plot.py run "$out" || echo "main job: no figure (scripts/plot.py needs numpy and matplotlib)" >&2
