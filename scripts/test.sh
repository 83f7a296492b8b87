#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs dependencies,
# builds, and runs every GoogleTest suite through ctest (the Redis
# integration tests start their own redis-server on free ports). Then, unless
# RECSYS_TEST_EXTRAS=0, the library suites under ASan+UBSan
# (scripts/sanitize.sh asan) and every fuzz target for FUZZ_SECONDS each
# (scripts/fuzz.sh; 30 s here, 60 s when run alone), and the common and
# model suites under TSan; RECSYS_TEST_TSAN=1 widens TSan to the redis and
# feature_store suites, where Debian's Abseil (not built with TSan) makes it
# report absl::Mutex-guarded accesses (docs/reliability.md, "Sanitizers").
# Each step prints its wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
step() {
  local name=$1
  shift
  local start=$SECONDS
  echo "== test.sh: $name"
  "$@"
  echo "== test.sh: $name done in $((SECONDS - start)) s"
}
release_suite() {
  bash scripts/build.sh
  (cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j "${JOBS:-2}" --timeout 600)
}
step "install_deps" bash scripts/install_deps.sh
step "Release build and suite" release_suite
if [[ ${RECSYS_TEST_EXTRAS:-1} != 0 ]]; then
  step "ASan+UBSan build and suite" env -u BUILD_DIR bash scripts/sanitize.sh asan
  # TSan on the common and model suites, which run clean under it
  # (docs/reliability.md, "Sanitizers"); RECSYS_TEST_TSAN=1: also the redis
  # and feature_store suites, where Debian's uninstrumented absl::Mutex makes
  # it report correctly locked accesses.
  if [[ ${RECSYS_TEST_TSAN:-0} == 1 ]]; then
    step "TSan build and suite" env -u BUILD_DIR bash scripts/sanitize.sh tsan
  else
    step "TSan build and suite (common, model)" env -u BUILD_DIR \
      TARGETS="recsys_common_tests recsys_model_tests" LABELS='^(common|model)$' \
      bash scripts/sanitize.sh tsan
  fi
  step "fuzz targets" env -u BUILD_DIR FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash scripts/fuzz.sh
fi
