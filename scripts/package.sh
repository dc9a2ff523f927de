#!/usr/bin/env bash
# Builds the Debian package llmd_<version>_<arch>.deb with CPack.
#   scripts/package.sh [BUILD_DIR [OUT_DIR]]
# BUILD_DIR (default: build) is configured when it is not yet; only what the
# package holds is built there (llmd, llmctl, the changelog), so a built tree
# is reused as it is. The package goes to OUT_DIR (default: BUILD_DIR/package);
# its path is the last line of the output.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build}
out=${2:-$build/package}

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
cmake --build "$build" --target llmd llmctl llmd_package_files >&2

mkdir -p "$out"
rm -f "$out"/llmd_*.deb
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$out" >&2
rm -rf "$out/_CPack_Packages"

deb=$(ls "$out"/llmd_*.deb)
echo "$deb"
