#!/usr/bin/env bash
# Fetch, on this machine, the Debian packages the build needs that a bare GPU machine lacks and
# cannot download (libyaml, GoogleTest), into .device-deps/ (git-ignored). A device call then
# carries that folder and bench/gpu_check.sh unpacks it under /tmp/pfr-deps when the packages are
# not installed there:
#   bash scripts/device_deps.sh
#   device run, carry [".device-deps"]: OUT=$OUT bash bench/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .device-deps
cd .device-deps
# apt-get download writes into the current folder; as root it warns that _apt cannot write here
apt-get download libyaml-0-2 libyaml-dev libgtest-dev 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
ls -l ./*.deb
