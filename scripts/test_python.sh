#!/usr/bin/env bash
# The Python package's tests (python/tests, pytest) in a virtual environment of their own
# (build-py/venv; pytest, pandas, matplotlib, scipy, tqdm and the rest from PyPI).
#   bash scripts/test_python.sh           the package from the source folder over the library of the
#                                         build in ${BUILD_DIR:-build} (nothing is built again)
#   bash scripts/test_python.sh --wheel   `pip install ./python` first (builds the library with
#                                         scikit-build-core, CUDA left out to keep it quick) and the
#                                         installed package tested: what a user gets (CI's later checks)
# Either way the bit-for-bit comparison runs against the command in ${BUILD_DIR:-build}.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-build}"
case "$mode" in build|--wheel) ;; *) echo "usage: bash scripts/test_python.sh [--wheel]" >&2; exit 2 ;; esac
build="$(realpath -m "${BUILD_DIR:-build}")"
venv="$(realpath -m "${PY_VENV:-build-py/venv}")"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
if [ "$mode" = --wheel ]; then
  "${pip[@]}" "./python[test]" matplotlib -C cmake.define.PFR_CUDA=OFF
  cd python/tests # not the source folder: the installed package is what is tested
  PFEDRL_CLI="${PFEDRL_CLI:-$build/pfedrl}" "$venv/bin/python" -m pytest -q -p no:cacheprovider .
else
  [ -f "$build/libpfedrl.so" ] || { echo "test_python.sh: no $build/libpfedrl.so; build first (bash scripts/build.sh)" >&2; exit 2; }
  "${pip[@]}" pytest pandas pyarrow matplotlib tensorboardX scipy tqdm gymnasium==1.4.0
  cd python/tests
  PYTHONPATH="$OLDPWD/python" PFEDRL_LIBRARY="$build/libpfedrl.so" PFEDRL_CLI="${PFEDRL_CLI:-$build/pfedrl}" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider .
fi
