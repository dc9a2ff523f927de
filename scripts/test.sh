#!/usr/bin/env bash
# Installs what is missing, builds llmd and runs every test. Exit status is honest:
# non-zero when any build step or test fails.
#   LLMD_TEST_SANITIZE=0     skips the ASan/UBSan pass over the engine.
#   LLMD_TEST_SANITIZE=full  runs that pass over every module and test instead
#                            (the daemon, auth, storage and scheduler too; slower).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

jobs=$(nproc)
build=build

echo "== build ($build)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$jobs"

echo "== tests"
ctest --test-dir "$build" --output-on-failure -j "$jobs"

if [ "${LLMD_TEST_SANITIZE:-1}" != "0" ]; then
  # Untrusted input (GGUF files, prompts) is parsed in engine/: run its tests
  # again under AddressSanitizer and UndefinedBehaviorSanitizer.
  scope=-DLLMD_ENGINE_ONLY=ON
  if [ "${LLMD_TEST_SANITIZE:-1}" = "full" ]; then scope=-DLLMD_ENGINE_ONLY=OFF; fi
  echo "== sanitizer build ($build/sanitize, $scope)"
  cmake -S . -B "$build/sanitize" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    "$scope" -DLLMD_SANITIZE=ON -DLLMD_CUDA=OFF
  cmake --build "$build/sanitize" -j "$jobs"
  echo "== tests under ASan/UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$build/sanitize" --output-on-failure -j "$jobs" -LE nosanitize
fi

echo "== all tests passed"
