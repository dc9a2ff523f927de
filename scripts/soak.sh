#!/usr/bin/env bash
# Soak test: mixed traffic against a real llmd on loopback for MINUTES
# (default 2) with CONNECTIONS clients (default 8), reporting 5xx, latency,
# RSS, fds and KV blocks over time (bench/soak, docs/soak.md). Builds what it
# needs in build/ first. Exit status non-zero when the soak fails.
#
#   scripts/soak.sh            2 minutes, 8 connections (what scripts/test.sh runs)
#   scripts/soak.sh 30 16      the long run recorded in docs/soak.md
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-2}
connections=${2:-8}
build=${LLMD_BUILD_DIR:-build}

if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target llmd llmd-soak
"$build/bin/llmd-soak" --minutes "$minutes" --connections "$connections"
