#!/usr/bin/env bash
# The main job (README): set up, build, and run PFedTD-Rep on a grid world at scale: 100 x 100 cells
# (10^4 states), 16 environment types, 16,384 agents, 2000 rounds of 100 local steps
# (examples/experiments/gridworld_scale.yaml). Backend auto: the GPU when the CUDA engine was built
# (nvcc present) and a device is found, else the CPU engine; `--backend cpu|cuda` chooses. Results go to
# ${OUT:-runs/gridworld}. Extra arguments go to `pfedrl run` (e.g. -s agents=1024 for a quick look).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh >/dev/null
./build/pfedrl run examples/experiments/gridworld_scale.yaml -s agents=16384 --out "${OUT:-runs/gridworld}" --force "$@"
