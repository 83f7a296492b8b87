#!/usr/bin/env bash
# Configures and builds recsys into ${BUILD_DIR:-build} (Release).
#   bash scripts/build.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" > "$BUILD_DIR/configure.log" 2>&1 \
  || { cat "$BUILD_DIR/configure.log"; exit 1; }
# Optional arguments name the targets to build (default: everything).
targets=()
if (($# > 0)); then targets=(--target "$@"); fi
cmake --build "$BUILD_DIR" -j "$JOBS" "${targets[@]}"
