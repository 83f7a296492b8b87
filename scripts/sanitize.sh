#!/usr/bin/env bash
# Builds the test suite with clang-14 sanitizers and runs it through ctest:
#   bash scripts/sanitize.sh asan   # ASan + UBSan (UBSan aborts), in build-asan/
#   bash scripts/sanitize.sh tsan   # ThreadSanitizer, in build-tsan/
# What runs by default (docs/reliability.md, "Sanitizers"): the suites of
# the libraries below the service, whose sanitizer builds fit CI's budget --
#   asan: labels common, feature_store, model, training, marketing (the
#         parsers, the model format, the stores, the coupon arithmetic);
#   tsan: labels common, redis, feature_store, model (ParallelFor, the Redis
#         pool and stall breaker, the item cache, the model poller and swap).
# Environment: TARGETS (space-separated targets, "all" for everything),
# LABELS (ctest -L regex, empty for every test) override that
# (TARGETS=all LABELS= runs the whole suite); BUILD_DIR
# (default build-<mode>), JOBS (default nproc). ccache is used when it is
# installed. TSan reads the suppressions in scripts/tsan.supp (third-party
# frames only).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
  asan|tsan) ;;
  *) echo "usage: bash scripts/sanitize.sh asan|tsan" >&2; exit 2 ;;
esac
if [[ $mode == asan ]]; then
  TARGETS=${TARGETS-recsys_common_tests recsys_feature_store_tests recsys_model_tests recsys_training_tests recsys_marketing_tests}
  LABELS=${LABELS-^(common|feature_store|model|training|marketing)$}
else
  TARGETS=${TARGETS-recsys_common_tests recsys_redis_tests recsys_feature_store_tests recsys_model_tests}
  LABELS=${LABELS-^(common|redis|feature_store|model)$}
fi
TARGETS=${TARGETS:-all}
LABELS=${LABELS:-}
BUILD_DIR=${BUILD_DIR:-build-$mode}
JOBS=${JOBS:-$(nproc)}
CXX_BIN=${CXX_BIN:-clang++-14}
if [[ -z ${CMAKE_CXX_COMPILER_LAUNCHER:-} ]] && command -v ccache > /dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
mkdir -p "$BUILD_DIR"
# -O1 -g: line numbers in reports at a fraction of -O0's run time.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$CXX_BIN" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DRECSYS_SANITIZE="$mode" > "$BUILD_DIR/configure.log" 2>&1 \
  || { cat "$BUILD_DIR/configure.log"; exit 1; }
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j "$JOBS" --target $TARGETS

# Every finding fails the test that triggered it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_stack_use_after_return=1:strict_init_order=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# ignore_noninstrumented_modules: the OpenMP runtime under FAISS is not built
# with TSan (TSan's own advice for it).
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$PWD/scripts/tsan.supp}
cd "$BUILD_DIR"
label_args=()
if [[ -n $LABELS ]]; then label_args=(-L "$LABELS"); fi
ctest --output-on-failure -j "$JOBS" --timeout 1200 "${label_args[@]}"
