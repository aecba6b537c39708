#!/usr/bin/env bash
# The Python package's tests: installs ./python into a virtual environment of its own (build-py/venv;
# pytest, pandas and matplotlib from PyPI), then runs python/tests against the command in
# ${BUILD_DIR:-build} (for the bit-for-bit comparison). The CUDA module is left out of this wheel to
# keep the test quick (the main build tests it); `pip install ./python` builds it where nvcc is found.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(realpath -m "${PY_VENV:-build-py/venv}")"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "./python[test]" matplotlib -C cmake.define.PFR_CUDA=OFF
cd python/tests # not the source folder: the installed package is what is tested
PFEDRL_CLI="${PFEDRL_CLI:-$OLDPWD/${BUILD_DIR:-build}/pfedrl}" "$venv/bin/python" -m pytest -q -p no:cacheprovider .
