#!/usr/bin/env bash
# The one script a GPU session runs through the device tool, from the
# repository root there (tools/bench/cuda/README.md):
#
#   here:   tools/gpu/stage-deps.sh      # GoogleTest into gpu-deps/
#   device: run(command="FFF_COMMIT=<sha> bash tools/gpu/device-run.sh",
#               carry=["gpu-deps"], timeout_s=540)
#
# Stages, each under `timeout` and inside one overall budget
# (FFF_GPU_BUDGET_S, default 450 s), each continuing after an earlier
# failure and recording it:
#   1. nvidia-smi, nvcc --version; configure and build the CUDA-only tree
#      (build/gpu: fff_cuda, tests/cuda, fff-cuda-bench)
#   2. ctest -L cuda
#   3. the CUDA test binary under compute-sanitizer memcheck, then racecheck
#   4. the dev/cuda playground, if dev/cuda/build.sh exists
#   5. fff-cuda-bench (JSON and Markdown into $OUT)
# and prints last a stage summary and the bench's targets table (the device
# tool returns only the last 12,000 characters of output).
#
# Files in $OUT (the device tool brings back at most 8): build.log,
# ctest.log, memcheck.log, racecheck.log, playground.log, bench.log,
# cuda-bench.json, cuda-bench.md.
#
# Environment (all optional):
#   FFF_GPU_BUDGET_S        overall seconds for all stages (default 450)
#   FFF_COMMIT              commit the bench results are tagged with
#   FFF_BENCH_ARGS          extra fff-cuda-bench arguments, e.g. "--only-1x11"
#   FFF_SANITIZER_FILTER    --gtest_filter for the sanitizer runs
#   FFF_SKIP                stages to skip, e.g. "memcheck racecheck playground"
#   FFF_GPU_BUILD_DIR       build folder (default build/gpu)
set -u
set -o pipefail

cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
OUT=${OUT:-$ROOT/out/gpu}
mkdir -p "$OUT"
BUILD=${FFF_GPU_BUILD_DIR:-build/gpu}
BUDGET_S=${FFF_GPU_BUDGET_S:-450}
BENCH_MIN_S=150   # kept back for the bench by every stage before it
START_S=$(date +%s)
[[ -d /usr/local/cuda/bin ]] && PATH=$PATH:/usr/local/cuda/bin

SUMMARY=()
FAILED=0

elapsed() { echo $(( $(date +%s) - START_S )); }

skipped_by_user() { [[ " ${FFF_SKIP:-} " == *" $1 "* ]]; }

# stage NAME CAP_S RESERVE_S LOG COMMAND...
# Runs COMMAND (stdout and stderr appended to LOG) under a limit of CAP_S
# seconds, or less so that RESERVE_S seconds of the budget stay for later
# stages; prints the log's last lines and records the outcome.
stage() {
  local name=$1 cap=$2 reserve=$3 log=$4
  shift 4
  if skipped_by_user "$name"; then
    SUMMARY+=("$(printf '%-11s skipped (FFF_SKIP)' "$name")")
    return 0
  fi
  local left=$(( BUDGET_S - $(elapsed) - reserve ))
  local limit=$(( cap < left ? cap : left ))
  if (( limit < 10 )); then
    SUMMARY+=("$(printf '%-11s SKIPPED: budget (%ss left of %ss)' "$name" \
      "$(( BUDGET_S - $(elapsed) ))" "$BUDGET_S")")
    FAILED=1
    return 0
  fi
  echo "==== [$(elapsed) s] $name (limit ${limit} s, log $(basename "$log")) ===="
  echo "==== $name: $* (limit ${limit} s)" >>"$log"
  local t0 rc
  t0=$(date +%s)
  timeout -k 10 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  local took=$(( $(date +%s) - t0 ))
  tail -n "${TAIL_LINES:-8}" "$log" | cut -c1-240
  local verdict=ok
  if (( rc == 124 || rc == 137 )); then
    verdict="TIMEOUT after ${limit} s"
  elif (( rc != 0 )); then
    verdict="FAILED (rc $rc)"
  fi
  [[ $verdict == ok ]] || FAILED=1
  SUMMARY+=("$(printf '%-11s %-24s %4s s  %s' "$name" "$verdict" "$took" \
    "$(basename "$log")")")
  return "$rc"
}

# ---- 1. environment, configure, build ----------------------------------------
BUILD_LOG=$OUT/build.log
: >"$BUILD_LOG"
{
  echo "date: $(date -u +%FT%TZ)  host: $(hostname)  root: $ROOT"
  nvidia-smi || echo "nvidia-smi failed (rc $?)"
  nvcc --version || echo "nvcc not found"
  cmake --version | head -n 1
  ninja --version
} 2>&1 | tee -a "$BUILD_LOG" | cut -c1-200

BUILD_OK=0
if [[ ! -f gpu-deps/lib/x86_64-linux-gnu/cmake/GTest/GTestConfig.cmake ]]; then
  echo "gpu-deps/ missing: run tools/gpu/stage-deps.sh here and carry [\"gpu-deps\"]" |
    tee -a "$BUILD_LOG"
fi
if stage configure 120 "$BENCH_MIN_S" "$BUILD_LOG" \
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DFFF_CUDA_ONLY=ON -DFFF_CUDA=ON -DGTest_ROOT="$ROOT/gpu-deps" \
      -DGTest_DIR="$ROOT/gpu-deps/lib/x86_64-linux-gnu/cmake/GTest"; then
  stage build 300 "$BENCH_MIN_S" "$BUILD_LOG" \
    cmake --build "$BUILD" --parallel "$(nproc)" && BUILD_OK=1
fi

# The CUDA test executable(s), from ctest's list (fallback: the known path).
TEST_BINS=()
if (( BUILD_OK )); then
  mapfile -t TEST_BINS < <(
    ctest --test-dir "$BUILD" -L cuda --show-only=json-v1 2>/dev/null |
      python3 -c 'import json, sys
seen = []
for t in json.load(sys.stdin).get("tests", []):
    c = t.get("command") or []
    if c and c[0] not in seen:
        seen.append(c[0])
print("\n".join(seen))' 2>/dev/null)
  if (( ${#TEST_BINS[@]} == 0 )) && [[ -x $BUILD/tests/cuda/fff_cuda_test ]]; then
    TEST_BINS=("$BUILD/tests/cuda/fff_cuda_test")
  fi
fi

# ---- 2. tests ------------------------------------------------------------------
if (( BUILD_OK )); then
  : >"$OUT/ctest.log"
  TAIL_LINES=15 stage ctest 120 "$BENCH_MIN_S" "$OUT/ctest.log" \
    ctest --test-dir "$BUILD" -L cuda --output-on-failure --timeout 100
else
  SUMMARY+=("ctest       SKIPPED: build failed")
fi

# ---- 3. compute-sanitizer --------------------------------------------------------
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
GTEST_ARGS=()
[[ -n ${FFF_SANITIZER_FILTER:-} ]] && GTEST_ARGS=("--gtest_filter=$FFF_SANITIZER_FILTER")
for tool in memcheck racecheck; do
  log=$OUT/$tool.log
  : >"$log"
  if (( ${#TEST_BINS[@]} == 0 )); then
    SUMMARY+=("$(printf '%-11s SKIPPED: no CUDA test binary' "$tool")")
    continue
  fi
  if [[ ! -x $SANITIZER ]]; then
    SUMMARY+=("$(printf '%-11s SKIPPED: compute-sanitizer not found' "$tool")")
    continue
  fi
  for bin in "${TEST_BINS[@]}"; do
    stage "$tool" 120 "$BENCH_MIN_S" "$log" \
      "$SANITIZER" --tool "$tool" --error-exitcode 86 --print-limit 20 \
      "$bin" "${GTEST_ARGS[@]}"
    grep -h "ERROR SUMMARY\|RACECHECK SUMMARY" "$log" | tail -n 2
  done
done

# ---- 4. playground ---------------------------------------------------------------
# shellcheck disable=SC2317  # run by `bash -c` below
run_playground() {
  # Files the playground writes to $OUT go to a folder of their own (the
  # device tool brings back 8 files at most); small ones are copied into the
  # log afterwards.
  export OUT=$FFF_PLAYGROUND_OUT
  bash dev/cuda/build.sh || return $?
  if [[ -f dev/cuda/run.sh ]]; then
    bash dev/cuda/run.sh
    return $?
  fi
  local rc=0 exe
  for exe in build/dev-cuda/*; do
    [[ -f $exe && -x $exe ]] || continue
    echo "---- $exe"
    "$exe" || rc=$?
  done
  return "$rc"
}
if [[ -f dev/cuda/build.sh ]]; then
  : >"$OUT/playground.log"
  FFF_PLAYGROUND_OUT=$(mktemp -d)
  export FFF_PLAYGROUND_OUT
  export -f run_playground  # `timeout` runs programs, not functions
  TAIL_LINES=12 stage playground 90 "$BENCH_MIN_S" "$OUT/playground.log" \
    bash -c run_playground
  for f in "$FFF_PLAYGROUND_OUT"/*; do
    [[ -f $f ]] || continue
    if (( $(stat -c %s "$f") <= 65536 )) && grep -Iq . "$f"; then
      { echo "---- file $(basename "$f")"; cat "$f"; } >>"$OUT/playground.log"
    else
      echo "---- file $(basename "$f"): $(stat -c %s "$f") bytes, not copied" \
        >>"$OUT/playground.log"
    fi
  done
else
  SUMMARY+=("playground  not run (no dev/cuda/build.sh)")
fi

# ---- 5. benchmark -----------------------------------------------------------------
BENCH=$BUILD/tools/bench/cuda/fff-cuda-bench
COMMIT=${FFF_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
if (( BUILD_OK )) && [[ -x $BENCH ]]; then
  : >"$OUT/bench.log"
  left=$(( BUDGET_S - $(elapsed) - 15 ))
  # The bench stops timing new rows 40 s before its limit, so it still
  # writes its JSON and Markdown.
  read -r -a BENCH_ARGS <<<"${FFF_BENCH_ARGS:-}"
  TAIL_LINES=3 stage bench 600 15 "$OUT/bench.log" \
    "$BENCH" --json "$OUT/cuda-bench.json" --markdown "$OUT/cuda-bench.md" \
    --commit "$COMMIT" --time-budget-s "$(( left > 80 ? left - 40 : 40 ))" \
    "${BENCH_ARGS[@]}"
else
  SUMMARY+=("bench       SKIPPED: build failed")
fi

# ---- summary (printed last: the device tool keeps the end of the output) ----------
echo
echo "==== summary ($(elapsed) s of ${BUDGET_S} s; files in \$OUT: $(cd "$OUT" && echo *))"
printf '%s\n' "${SUMMARY[@]}"
grep -h "tests passed\|tests failed" "$OUT/ctest.log" 2>/dev/null
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY" "$OUT/memcheck.log" "$OUT/racecheck.log" 2>/dev/null
if [[ -f $OUT/cuda-bench.md ]]; then
  echo
  # Checks that failed, then the rows of the target shape, then the targets.
  grep -E "^(FAIL|WARN) " "$OUT/bench.log" | head -n 20 | cut -c1-240
  grep -E "^- (device|ceilings|dense FF GELU|checks|ABORTED)" "$OUT/cuda-bench.md" | cut -c1-300
  echo "65536 tokens: layer | computation | prec | median us | GB/s (x copy) | vs dense bf16 | vs dense fp32 | vs masked | status"
  grep -E "^\| 65536 \| (1x11|dense-3072) \|" "$OUT/cuda-bench.md" |
    awk -F'|' '{print $3 "|" $4 "|" $5 "|" $6 "|" $8 "|" $10 "|" $11 "|" $12 "|" $14}' |
    cut -c1-160
  echo
  sed -n '/^## Targets/,$p' "$OUT/cuda-bench.md"
else
  echo "no cuda-bench.md; end of bench.log:"
  tail -n 15 "$OUT/bench.log" 2>/dev/null | cut -c1-240
fi
exit "$FAILED"
