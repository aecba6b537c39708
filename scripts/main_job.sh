#!/usr/bin/env bash
# The main job (README): set up, build, and run the heterogeneous cliff-walking experiment at
# scale with PFedTD-Rep (backend auto: the CPU engine until the CUDA engine's GPU tests have passed
# on a GPU, see README; `--backend cuda` asks for the GPU). Results go to ${OUT:-runs/cliffwalk}.
# Extra arguments go to `pfedrl run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh >/dev/null
./build/pfedrl run examples/cliffwalk.yaml --out "${OUT:-runs/cliffwalk}" "$@"
