#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build/fuzz and runs
# one or all of them, each for SECONDS (default 60), starting from the
# committed seed corpus fuzz/corpus/<target>.
#
#   scripts/fuzz.sh                   every target, 60 s each
#   scripts/fuzz.sh http_session 600  one target for 10 minutes
#   scripts/fuzz.sh all 20            every target, 20 s each (what scripts/test.sh runs)
#
# Inputs found to add coverage go to build/fuzz/corpus/<target> (not the
# repository's seed folder); a finding writes build/fuzz/findings/<target>/
# crash-*, leak-* or timeout-*, prints the report and makes the exit status
# non-zero. Replay one with build/fuzz/bin/fuzz_<target> FILE. Environment:
#   LLMD_FUZZ_JOBS=N   run N targets at once (default 1)
#   LLMD_FUZZ_NICE=N   niceness of the runs (default 0)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-all}
seconds=${2:-60}
jobs=${LLMD_FUZZ_JOBS:-1}
niceness=${LLMD_FUZZ_NICE:-0}
build=build/fuzz
all=(http_session openai_request admin_json gguf_reader tokenizer jinja_template config_toml)

if [ "$target" = "all" ]; then
  targets=("${all[@]}")
else
  found=0
  for t in "${all[@]}"; do [ "$t" = "$target" ] && found=1; done
  if [ $found = 0 ]; then
    echo "fuzz: unknown target '$target' (targets: ${all[*]})" >&2
    exit 2
  fi
  targets=("$target")
fi

cc=${LLMD_FUZZ_CC:-clang}
cxx=${LLMD_FUZZ_CXX:-clang++}
if ! command -v "$cxx" >/dev/null; then
  echo "fuzz: $cxx not found: scripts/setup.sh installs clang" >&2
  exit 2
fi
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi

echo "== fuzz build ($build)"
cmake -S . -B "$build" -G Ninja -DLLMD_FUZZ=ON -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -gline-tables-only" "${launcher[@]}" >/dev/null
build_targets=()
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
cmake --build "$build" -j "$(nproc)" --target "${build_targets[@]}"

run_one() {
  local t=$1
  local corpus="$build/corpus/$t" findings="$build/findings/$t" log="$build/logs/$t.log"
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  local seeds="fuzz/corpus/$t"
  if [ "$t" = gguf_reader ]; then
    # GGUF seeds are model files, written here rather than kept in the repository.
    seeds="$build/seeds/gguf_reader"
    python3 fuzz/tools/gguf_seeds.py "$seeds"
  fi
  local dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  # -rss_limit_mb: ASan's shadow memory counts; the targets themselves stay small.
  if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
     nice -n "$niceness" "$build/bin/fuzz_$t" "$corpus" "$seeds" "${dict[@]}" \
       -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 -max_len=65536 \
       -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1; then
    local execs cov
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
    echo "fuzz: $t: ok, ${seconds}s, $execs runs, coverage $cov edges"
  else
    echo "fuzz: $t: FINDING (log: $log)" >&2
    grep -A40 -m1 'ERROR:\|fuzz invariant\|==ERROR\|runtime error\|Timeout\|out-of-memory' "$log" >&2 || tail -40 "$log" >&2
    return 1
  fi
}

status=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
