#!/usr/bin/env bash
# Installs what is missing, builds llmd and runs every test. Exit status is honest:
# non-zero when any build step or test fails.
#   LLMD_TEST_SANITIZE=0     skips the ASan/UBSan pass over the engine.
#   LLMD_TEST_SANITIZE=full  runs that pass over every module and test instead
#                            (the daemon, auth, storage and scheduler too; slower).
#   LLMD_TEST_SOAK_MINUTES=N runs the soak N minutes (default 2; 0 skips).
#   LLMD_TEST_FUZZ_SECONDS=N runs each fuzz target N seconds (default 10; 0 skips).
#   LLMD_TEST_TSAN=1         adds a ThreadSanitizer build of every module and runs
#                            every test under it (about 12 more minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

jobs=$(nproc)
build=build
# Each step's heading carries the minutes and seconds since the start, so a
# CI log shows where the time goes.
step() { printf '== %s [%d:%02d]\n' "$1" $((SECONDS / 60)) $((SECONDS % 60)); }

# CI compiles the CUDA kernels for one real and one virtual architecture,
# which covers both sides of their Hopper-only code paths in half the time;
# elsewhere the default list (what run.sh and the package build) stays.
cuda_archs=()
if [ "${CI:-}" = "true" ]; then cuda_archs=("-DCMAKE_CUDA_ARCHITECTURES=90-real;80-virtual"); fi

step "build ($build)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${cuda_archs[@]}"
cmake --build "$build" -j "$jobs"

step "tests"
ctest --test-dir "$build" --output-on-failure -j "$jobs"

if [ "${LLMD_TEST_SOAK_MINUTES:-2}" != "0" ]; then
  # Mixed traffic against a real llmd: no 5xx, no leak of memory, fds or KV blocks.
  step "soak (${LLMD_TEST_SOAK_MINUTES:-2} min)"
  LLMD_BUILD_DIR=$build scripts/soak.sh "${LLMD_TEST_SOAK_MINUTES:-2}" 8
fi

if [ "${LLMD_TEST_SANITIZE:-1}" != "0" ]; then
  # Untrusted input (GGUF files, prompts) is parsed in engine/: run its tests
  # again under AddressSanitizer and UndefinedBehaviorSanitizer.
  scope=-DLLMD_ENGINE_ONLY=ON
  if [ "${LLMD_TEST_SANITIZE:-1}" = "full" ]; then scope=-DLLMD_ENGINE_ONLY=OFF; fi
  step "sanitizer build ($build/sanitize, $scope)"
  cmake -S . -B "$build/sanitize" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    "$scope" -DLLMD_SANITIZE=ON -DLLMD_CUDA=OFF
  cmake --build "$build/sanitize" -j "$jobs"
  step "tests under ASan/UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$build/sanitize" --output-on-failure -j "$jobs" -LE nosanitize
fi

if [ "${LLMD_TEST_FUZZ_SECONDS:-10}" != "0" ]; then
  # Every fuzz target for a short while from its seed corpus (clang, libFuzzer,
  # ASan + UBSan, build/fuzz), two at a time; docs/fuzzing.md has the long runs.
  step "fuzz targets (${LLMD_TEST_FUZZ_SECONDS:-10} s each)"
  LLMD_FUZZ_JOBS=$jobs scripts/fuzz.sh all "${LLMD_TEST_FUZZ_SECONDS:-10}"
fi

if [ "${LLMD_TEST_TSAN:-0}" = "1" ]; then
  # Data races and lock misuse between the I/O threads, the engine loop and
  # the ledger. Reports go to files; any report fails the run.
  step "ThreadSanitizer build ($build/tsan)"
  cmake -S . -B "$build/tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMD_TSAN=ON -DLLMD_CUDA=OFF
  cmake --build "$build/tsan" -j "$jobs"
  step "tests under ThreadSanitizer"
  reports="$build/tsan/reports"
  rm -rf "$reports" && mkdir -p "$reports"
  TSAN_OPTIONS="log_path=$reports/tsan second_deadlock_stack=1 halt_on_error=0" \
    ctest --test-dir "$build/tsan" --output-on-failure -j "$jobs" -LE nosanitize --timeout 900
  if [ -n "$(ls -A "$reports")" ]; then
    echo "ThreadSanitizer reports:" >&2
    cat "$reports"/* >&2
    exit 1
  fi
fi

step "all tests passed"
