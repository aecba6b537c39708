#!/usr/bin/env bash
# The main job (README): set up, build, and run the heterogeneous cliff-walking experiment at
# scale with PFedTD-Rep (backend auto: the CUDA engine when one is built and a GPU is present,
# otherwise the CPU engine). Results go to ${OUT:-runs/cliffwalk}. Extra arguments go to `pfedrl run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh >/dev/null
./build/pfedrl run examples/cliffwalk.yaml --out "${OUT:-runs/cliffwalk}" "$@"
