#!/usr/bin/env bash
# Fetch, on this machine, the Debian packages the build needs that a bare GPU machine lacks and
# cannot download (libyaml, GoogleTest), into DEST (default .device-deps/, git-ignored). A device
# call then carries that folder and bench/gpu_check.sh unpacks it under /tmp/pfr-deps:
#   bash scripts/device_deps.sh
#   device run, carry [".device-deps"]: OUT=$OUT bash bench/gpu_check.sh validate   (then: bench)
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-.device-deps}"
mkdir -p "$dest"
cd "$dest"
# apt-get download writes into the current folder; as root it warns that _apt cannot write here
apt-get download libyaml-0-2 libyaml-dev libgtest-dev 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
ls -l ./*.deb
