#!/usr/bin/env bash
# One-call check of the CUDA backend on a GPU machine: builds the engine with
# CUDA for the local GPU, runs the `gpu`/`cuda` tests and the benchmarks, and
# prints a short table last. Full logs go to $OUT (default: gpu-check-out/).
#
#   scripts/gpu-check.sh --prepare   # on a machine with the build dependencies:
#                                    # copies into .gpu-carry/ what a bare GPU
#                                    # machine lacks (GoogleTest sources, the
#                                    # reference models of ../shared)
#   scripts/gpu-check.sh             # on the GPU machine (repository root)
#
# Options for the GPU run:
#   --arch SM        CUDA architecture to build for (default: the GPU's, else 90)
#   --jobs N         build parallelism (default: nproc)
#   --skip-tests / --skip-bench
#   --bench-args "..."  extra arguments for llmd-cuda-bench
#   --cmake-arg ARG  an extra configure argument (repeatable)
#
# Each stage has a time limit and its own log; a failed stage is reported and
# the later stages still run where they can. The whole run keeps within
# GPU_CHECK_BUDGET seconds (default 540) so its summary is always printed.
# Exit status: 0 when every stage passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CARRY="$ROOT/.gpu-carry"

# ---------------------------------------------------------------------------
# --prepare
# ---------------------------------------------------------------------------
if [ "${1:-}" = "--prepare" ]; then
  set -e
  shared="${LLMD_SHARED_DIR:-$ROOT/../shared}"
  gtest_src="${LLMD_GTEST_SOURCE:-/usr/src/googletest}"
  rm -rf "$CARRY"
  mkdir -p "$CARRY/shared/models"
  if [ -f "$gtest_src/CMakeLists.txt" ]; then
    cp -r "$gtest_src" "$CARRY/googletest"
    echo "prepare: GoogleTest sources from $gtest_src"
  else
    echo "prepare: no GoogleTest sources at $gtest_src (install libgtest-dev); the GPU machine must have GoogleTest" >&2
  fi
  found=0
  for f in "$shared"/models/stories260K.*; do
    [ -f "$f" ] || continue
    cp "$f" "$CARRY/shared/models/"
    found=1
  done
  if [ "$found" = 1 ]; then
    echo "prepare: reference models from $shared/models"
  else
    echo "prepare: no reference models under $shared/models; the stories260K tests will skip" >&2
  fi
  du -sh "$CARRY" | sed 's/^/prepare: carry size /'
  echo "prepare: run the check with carry=[\".gpu-carry\"] and command: scripts/gpu-check.sh"
  exit 0
fi

# ---------------------------------------------------------------------------
# GPU run
# ---------------------------------------------------------------------------
ARCH=""
JOBS=$(nproc 2>/dev/null || echo 8)
RUN_TESTS=1
RUN_BENCH=1
BENCH_ARGS=""
EXTRA_CMAKE=()
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --skip-tests) RUN_TESTS=0; shift ;;
    --skip-bench) RUN_BENCH=0; shift ;;
    --bench-args) BENCH_ARGS="$2"; shift 2 ;;
    --cmake-arg) EXTRA_CMAKE+=("$2"); shift 2 ;;
    *) echo "usage: scripts/gpu-check.sh [--prepare] [--arch SM] [--jobs N] [--skip-tests] [--skip-bench]" \
            "[--bench-args ARGS] [--cmake-arg ARG]" >&2
       exit 2 ;;
  esac
done

OUT="${OUT:-$ROOT/gpu-check-out}"
mkdir -p "$OUT"
BUILD="$ROOT/build-gpu"
T_START=$(date +%s)
DEADLINE=$(( T_START + ${GPU_CHECK_BUDGET:-540} ))
STAGES=()
STATUS=()
SECS=()
NOTES=()
FAILED=0

# stage NAME LOG LIMIT_S CMD...: runs CMD with its output in LOG, records the result.
stage() {
  local name=$1 log=$2 limit=$3
  shift 3
  local t0 rc left
  t0=$(date +%s)
  left=$(( DEADLINE - t0 - 15 ))
  if [ "$left" -lt 20 ]; then
    echo "== $name: not run, the time budget is spent"
    STAGES+=("$name"); STATUS+=("NOT RUN"); SECS+=(0); NOTES+=("time budget spent"); FAILED=1
    return 124
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name (limit ${limit}s, log $(basename "$log"))"
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  STAGES+=("$name")
  SECS+=($(( $(date +%s) - t0 )))
  if [ $rc -eq 0 ]; then
    STATUS+=("ok")
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    STATUS+=("TIMEOUT")
    FAILED=1
  else
    STATUS+=("FAIL($rc)")
    FAILED=1
  fi
  NOTES+=("")
  return $rc
}
note() { NOTES[${#NOTES[@]} - 1]="$1"; }

# --- environment --------------------------------------------------------------
ENV_LOG="$OUT/env.txt"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -a)"
  echo "cpus: $(nproc)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?') $(git status --porcelain 2>/dev/null | wc -l) changed files"
  echo "--- nvidia-smi"
  nvidia-smi 2>&1 || echo "nvidia-smi failed"
  echo "--- nvcc"
  (command -v nvcc || ls /usr/local/cuda/bin/nvcc) 2>&1
  (nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>&1 | tail -2
  echo "--- cmake / ninja / c++"
  cmake --version 2>&1 | head -1
  (ninja --version 2>&1 || echo "no ninja") | head -1
  (c++ --version 2>&1 || echo "no c++") | head -1
} >"$ENV_LOG" 2>&1
GPU_LINE=$(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.draw,power.limit \
  --format=csv,noheader 2>/dev/null | head -1)
echo "gpu: ${GPU_LINE:-none found}"
if [ -z "$ARCH" ]; then
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  ARCH=${cap:-90}
fi
echo "build: sm_$ARCH, $JOBS jobs; logs in $OUT"

# --- configure -------------------------------------------------------------------
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
NVCC_ARG=()
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  NVCC_ARG=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
fi
GTEST_ARG=()
[ -f "$CARRY/googletest/CMakeLists.txt" ] && GTEST_ARG=(-DLLMD_GTEST_SOURCE_DIR="$CARRY/googletest")
BUILD_LOG="$OUT/build.log"
: >"$BUILD_LOG"
stage configure "$BUILD_LOG" 90 cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMD_ENGINE_ONLY=ON -DLLMD_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
  -DCMAKE_POLICY_VERSION_MINIMUM=3.5 "${NVCC_ARG[@]}" "${GTEST_ARG[@]}" "${EXTRA_CMAKE[@]}"
CONFIGURED=$?

# --- build -----------------------------------------------------------------------
# Only what the check runs: the CUDA tests, the benchmark and the llmd tool.
TARGETS=(llmd llmd-cuda-bench llmd_cuda_probe_test llmd_cuda_kernels_test llmd_cuda_attention_test
         llmd_cuda_gemm_test llmd_cuda_backend_test llmd_cuda_fault_test llmd-bench-models llmd-bench-batch)
BUILT=1
if [ $CONFIGURED -eq 0 ]; then
  KEEP=()
  [ ${#GEN[@]} -gt 0 ] && KEEP=(-- -k 0)
  stage build "$BUILD_LOG" 330 cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}" "${KEEP[@]}"
  BUILT=$?
  warnings=$(grep -c -i "warning" "$BUILD_LOG" || true)
  note "$warnings warning lines"
  if [ $BUILT -ne 0 ]; then
    echo "-- build errors (first 40 lines):"
    grep -E "error|Error" "$BUILD_LOG" | head -40
  fi
else
  echo "-- configure failed; last lines:"
  tail -30 "$BUILD_LOG"
fi

# --- tests -----------------------------------------------------------------------
TEST_LOG="$OUT/tests.log"
: >"$TEST_LOG"
if [ $RUN_TESTS -eq 1 ] && [ $CONFIGURED -eq 0 ]; then
  export LLMD_SHARED_DIR="${LLMD_SHARED_DIR:-$CARRY/shared}"
  [ -d "$LLMD_SHARED_DIR" ] || export LLMD_SHARED_DIR="$ROOT/../shared"
  # -V keeps the output of passing tests too (their measured errors).
  stage tests "$TEST_LOG" 180 ctest --test-dir "$BUILD" -L "gpu|cuda" -V --timeout 200
  summary=$(grep -E "tests passed|tests failed" "$TEST_LOG" | tail -1)
  note "${summary:-no summary}"
  echo "-- test results:"
  grep -E "^ *[0-9]+/[0-9]+ Test +#" "$TEST_LOG" | sed -e 's/^ *//' -e 's/ \.\.\.*/ /' | head -80
  echo "-- measured errors and notes from the tests:"
  grep -E "relative error|worst relative|relative difference|device [0-9]+: |no device|runtime [0-9]|fault: " "$TEST_LOG" | head -80
  if grep -qE ": Failure$|\[  FAILED  \]|\*\*\*Failed|\*\*\*Timeout|\*\*\*Exception" "$TEST_LOG"; then
    echo "-- failures (first 80 lines):"
    grep -E -A6 "Failure$|: Failure|\[  FAILED  \]" "$TEST_LOG" | head -80
  fi
fi

# --- the llmd tool on both backends ----------------------------------------------------
CLI_LOG="$OUT/tests.log"
STORIES="${LLMD_SHARED_DIR:-$CARRY/shared}/models/stories260K.gguf"
if [ $RUN_TESTS -eq 1 ] && [ -x "$BUILD/bin/llmd" ] && [ -f "$STORIES" ]; then
  echo "== llmd generate --backend cuda|cpu (stories260K, 64 greedy tokens)" | tee -a "$CLI_LOG"
  gen() { timeout 60 "$BUILD/bin/llmd" generate -m "$STORIES" -p "Once upon a time" -n 64 --ids --backend "$1" 2>>"$CLI_LOG"; }
  t0=$(date +%s)
  cuda_ids=$(gen cuda)
  cuda_rc=$?
  cpu_ids=$(gen cpu)
  echo "cuda ($cuda_rc): $cuda_ids" | tee -a "$CLI_LOG"
  echo "cpu:      $cpu_ids" | tee -a "$CLI_LOG"
  STAGES+=("cli"); SECS+=($(( $(date +%s) - t0 ))); NOTES+=("llmd generate --backend cuda vs cpu")
  if [ $cuda_rc -eq 0 ] && [ -n "$cuda_ids" ] && [ "$cuda_ids" = "$cpu_ids" ]; then
    STATUS+=("ok")
  else
    STATUS+=("FAIL"); FAILED=1
  fi
fi

# --- benchmarks --------------------------------------------------------------------
BENCH_LOG="$OUT/bench.log"
: >"$BENCH_LOG"
if [ $RUN_BENCH -eq 1 ] && [ -x "$BUILD/bin/llmd-cuda-bench" ]; then
  # shellcheck disable=SC2086
  stage bench "$BENCH_LOG" 150 "$BUILD/bin/llmd-cuda-bench" --json "$OUT/bench.json" $BENCH_ARGS
  echo "-- benchmark details:"
  sed -n '/^== llmd-cuda-bench/q;p' "$BENCH_LOG" | grep -v "candidate" | tail -60
elif [ $RUN_BENCH -eq 1 ]; then
  STAGES+=("bench"); STATUS+=("NOT RUN"); SECS+=(0); NOTES+=("llmd-cuda-bench was not built"); FAILED=1
fi
# --- the model manager on the GPU ------------------------------------------------------
# An 8B-shape model file (GPU_CHECK_MODELS_SHAPE / _TYPE change it) served by
# the model manager with no daemon: load on cuda:0 (estimate against the
# measured use), moves cuda:0 -> cpu -> cuda:0 with requests in flight, park
# and restore, timed against the pinned copy rate measured in the same run.
MODELS_LOG="$OUT/models.log"
: >"$MODELS_LOG"
if [ $RUN_BENCH -eq 1 ] && [ -x "$BUILD/bin/llmd-bench-models" ] && [ -x "$BUILD/bin/llmd" ]; then
  MODEL_FILE="${TMPDIR:-/tmp}/llmd-gpu-check-model.gguf"
  stage models-synth "$MODELS_LOG" 120 "$BUILD/bin/llmd" gguf synth --shape "${GPU_CHECK_MODELS_SHAPE:-llama-3-8b}" \
    --type "${GPU_CHECK_MODELS_TYPE:-q8_0}" --threads "$JOBS" -o "$MODEL_FILE"
  stage models "$MODELS_LOG" 240 "$BUILD/bin/llmd-bench-models" --model "$MODEL_FILE" --requests 8 --tokens 64
  note "$(grep -E '^result:' "$MODELS_LOG" | tail -1)"
  # What requests get through the real scheduler on cuda:0, when asked for
  # (GPU_CHECK_SERVING=1; with GPU_CHECK_VARIANTS="" it fits the budget):
  # decode per batch size with mixed contexts and sampling, chunked prefill,
  # 64 requests at once. The floors' copy rate is llmd-cuda-bench's, above.
  if [ "${GPU_CHECK_SERVING:-0}" = "1" ] && [ -x "$BUILD/bin/llmd-bench-batch" ]; then
    SERVING_LOG="$OUT/serving.log"
    stage serving "$SERVING_LOG" 180 "$BUILD/bin/llmd-bench-batch" -m "$MODEL_FILE" --backend cuda:0 --serving
    note "$(grep -E '^\| decode, batch 64' "$SERVING_LOG" | tail -1 | cut -c1-100)"
  fi
  # Weights kept quantized (GPU_CHECK_QUANT=1): the model part of
  # llmd-cuda-bench on this Q8_0 file and on a Q4_K one of the same shape,
  # to hold against the bf16 figures of the bench stage above (the quantized
  # weights' targets: memory <= 1.05x the file's weight bytes, batch-1 decode
  # >= 65 % of the quantized byte floor, batch 64 >= bf16's, prefill >= 0.8x
  # bf16's).
  if [ "${GPU_CHECK_QUANT:-0}" = "1" ] && [ -x "$BUILD/bin/llmd-cuda-bench" ]; then
    QUANT_LOG="$OUT/quantized.log"
    : >"$QUANT_LOG"
    # The copy rate the bench stage measured, for the byte floors.
    COPY_GBS=$(grep -o '"bench":"copy","gbs":[0-9.]*' "$OUT/bench.json" 2>/dev/null | grep -o '[0-9.]*$' | head -1)
    QUANT_ARGS=()
    [ -n "$COPY_GBS" ] && QUANT_ARGS=(--copy-gbs "$COPY_GBS")
    echo "== ${GPU_CHECK_MODELS_TYPE:-q8_0}" >>"$QUANT_LOG"
    stage quant-q8_0 "$QUANT_LOG" 90 "$BUILD/bin/llmd-cuda-bench" --no-micro "${QUANT_ARGS[@]}" --model "$MODEL_FILE"
    note "$(grep -E '^weights on the device' "$QUANT_LOG" | tail -1)"
    Q4K_FILE="${TMPDIR:-/tmp}/llmd-gpu-check-q4k.gguf"
    stage quant-synth "$QUANT_LOG" 120 "$BUILD/bin/llmd" gguf synth --shape "${GPU_CHECK_MODELS_SHAPE:-llama-3-8b}" \
      --type q4_k --threads "$JOBS" -o "$Q4K_FILE"
    echo "== q4_k" >>"$QUANT_LOG"
    stage quant-q4_k "$QUANT_LOG" 90 "$BUILD/bin/llmd-cuda-bench" --no-micro "${QUANT_ARGS[@]}" --model "$Q4K_FILE"
    note "$(grep -E '^weights on the device' "$QUANT_LOG" | tail -1)"
    # The same without the quantized tensor-core products (batch 64 and
    # prefill through the dequantized scratch and cuBLASLt): which is faster
    # where, for CudaBackendOptions::quant_gemm_max_tokens.
    echo "== q4_k --quant-gemm-max-tokens 0" >>"$QUANT_LOG"
    stage quant-q4_k-scratch "$QUANT_LOG" 90 "$BUILD/bin/llmd-cuda-bench" --no-micro "${QUANT_ARGS[@]}" \
      --quant-gemm-max-tokens 0 --model "$Q4K_FILE"
    rm -f "$Q4K_FILE"
  fi
  rm -f "$MODEL_FILE"
fi

# The model part again with other options, one run per set
# (GPU_CHECK_VARIANTS: sets separated by ';', empty for none; by default the
# defaults twice, around the nearest option, for the run-to-run spread, then
# the single-buffered prefill attention, then the q8_0 KV-cache), to compare with the defaults above on the same
# machine; the ceilings are not measured again.
VARIANTS="${GPU_CHECK_VARIANTS---no-fuse-rope;--fuse-rope;--no-fuse-rope;--prefill-single;--kv-dtype q8_0}"
# All variants share one log (the device machine returns only a few files).
VARIANT_LOG="$OUT/variants.log"
VARIANT_SETS=()
if [ $RUN_BENCH -eq 1 ] && [ -x "$BUILD/bin/llmd-cuda-bench" ] && [ -n "$VARIANTS" ]; then
  : >"$VARIANT_LOG"
  IFS=';' read -r -a VARIANT_LIST <<<"$VARIANTS"
  for vi in "${!VARIANT_LIST[@]}"; do
    echo "== options: ${VARIANT_LIST[$vi]}" >>"$VARIANT_LOG"
    # shellcheck disable=SC2086
    stage "variant-$vi" "$VARIANT_LOG" 60 "$BUILD/bin/llmd-cuda-bench" --no-micro ${VARIANT_LIST[$vi]} $BENCH_ARGS
    note "${VARIANT_LIST[$vi]}"
    VARIANT_SETS+=("${VARIANT_LIST[$vi]}")
  done
fi

# --- summary -------------------------------------------------------------------------
{
  echo
  echo "== gpu-check summary: ${GPU_LINE:-no GPU seen}; sm_$ARCH; total $(( $(date +%s) - T_START ))s; logs in $OUT"
  printf "%-10s %-10s %6s  %s\n" "stage" "status" "secs" "note"
  for i in "${!STAGES[@]}"; do
    printf "%-10s %-10s %6s  %s\n" "${STAGES[$i]}" "${STATUS[$i]}" "${SECS[$i]}" "${NOTES[$i]}"
  done
  if [ -s "$BENCH_LOG" ]; then
    sed -n '/^== llmd-cuda-bench/,$p' "$BENCH_LOG"
  fi
  if [ -s "$MODELS_LOG" ]; then
    sed -n '/^== llmd-bench-models/,$p' "$MODELS_LOG"
  fi
  if [ -s "${QUANT_LOG:-}" ]; then
    grep -E '^== |^weights on the device|^decode batch|^prefill' "$QUANT_LOG"
  fi
  if [ -s "${SERVING_LOG:-}" ]; then
    grep -E '^\|' "$SERVING_LOG"
  fi
  if [ ${#VARIANT_SETS[@]} -gt 0 ]; then
    # One block per variant: its options line, then its three model figures.
    awk '/^== options: /{print "--" substr($0, 3) ":"; next}
         /^(prefill [0-9]+ tokens:|decode batch [0-9]+:)/{print substr($0, 1, 110)}' "$VARIANT_LOG"
  fi
} | tee "$OUT/summary.txt"
exit $FAILED
