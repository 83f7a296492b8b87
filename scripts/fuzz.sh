#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang-14 (ASan + UBSan) in
# build-fuzz/ and runs each for a bounded time, starting from its seed
# corpus in fuzz/corpus/<target>/. Fails on the first crash, leak, sanitizer
# finding or timeout; the reproducer is written to build-fuzz/artifacts/.
#   bash scripts/fuzz.sh                 # every target, FUZZ_SECONDS each
#   bash scripts/fuzz.sh csv_fuzzer      # named targets only
# Environment: FUZZ_SECONDS (default 60 per target), BUILD_DIR (default
# build-fuzz), JOBS (default nproc). ccache is used when it is installed.
# New inputs found during a run go to build-fuzz/corpus/<target>/, never
# into the committed seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CXX_BIN=${CXX_BIN:-clang++-14}
if [[ -z ${CMAKE_CXX_COMPILER_LAUNCHER:-} ]] && command -v ccache > /dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$CXX_BIN" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DRECSYS_FUZZ=ON -DRECSYS_BUILD_TESTS=OFF > "$BUILD_DIR/configure.log" 2>&1 \
  || { cat "$BUILD_DIR/configure.log"; exit 1; }
cmake --build "$BUILD_DIR" -j "$JOBS" --target recsys_fuzzers

targets=("$@")
if ((${#targets[@]} == 0)); then
  for dir in fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# As the server runs: FAISS's OpenMP threads would spin on a busy box.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$BUILD_DIR/artifacts"
for t in "${targets[@]}"; do
  bin="$BUILD_DIR/fuzz/$t"
  [[ -x $bin ]] || { echo "fuzz.sh: no fuzz target $t" >&2; exit 2; }
  work="$BUILD_DIR/corpus/$t"
  mkdir -p "$work"
  echo "fuzz.sh: $t for ${FUZZ_SECONDS}s"
  start=$SECONDS
  # -timeout: one input taking over 10 s is a finding; -rss_limit_mb bounds memory.
  if ! "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$BUILD_DIR/artifacts/$t-" \
      "$work" "fuzz/corpus/$t" > "$BUILD_DIR/$t.log" 2>&1; then
    tail -n 60 "$BUILD_DIR/$t.log"
    echo "fuzz.sh: $t FAILED (log $BUILD_DIR/$t.log, input in $BUILD_DIR/artifacts/)" >&2
    exit 1
  fi
  echo "fuzz.sh: $t ok in $((SECONDS - start))s: $(grep -m1 -o 'stat::number_of_executed_units: [0-9]*' "$BUILD_DIR/$t.log" | awk '{print $2}') runs"
done
