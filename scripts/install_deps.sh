#!/usr/bin/env bash
# Installs everything recsys needs to build, test and run, from Debian 12's
# packages. Safe to run repeatedly: does nothing when all are present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libfaiss-dev libopenblas-dev
  libhiredis-dev redis-server
  libabsl-dev zlib1g-dev tzdata liblapack-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev openssl
  libboost-math-dev
  # JSON lines of factors exported by Spark (recsys_import).
  nlohmann-json3-dev
  # Checks of deploy/: YAML lint and the Compose file.
  yamllint docker-compose
  # Observability: the HTTP port (cpp-httplib), promtool (alert rule tests,
  # `promtool check metrics`), headless Chromium (the status page test).
  libcpp-httplib-dev prometheus chromium python3
  # Sanitizer and fuzz builds (scripts/sanitize.sh, scripts/fuzz.sh): clang
  # 14, its runtimes (ASan, UBSan, TSan and libFuzzer's
  # libclang_rt.fuzzer, which -fsanitize=fuzzer links; the separate
  # libfuzzer-14-dev only adds a standalone libFuzzer.a) and its OpenMP.
  clang-14 libclang-rt-14-dev libomp-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js runs the Kubernetes schema check of deploy/ (the machine's own
# Node.js when there is one, Debian's otherwise).
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then missing+=(nodejs npm); fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
if ((${#missing[@]} == 0)); then
  echo "install_deps: all packages present"
else
  echo "install_deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages of the deploy/ check, pinned by deploy/validate/package-lock.json
# and kept out of the repository (deploy/validate/node_modules is ignored).
VALIDATE_DIR="$(dirname "$0")/../deploy/validate"
if [[ ! -f "$VALIDATE_DIR/node_modules/.package-lock.json" ||
      "$VALIDATE_DIR/package-lock.json" -nt "$VALIDATE_DIR/node_modules/.package-lock.json" ]]; then
  echo "install_deps: npm ci in deploy/validate"
  npm ci --prefix "$VALIDATE_DIR" --no-audit --no-fund --loglevel=error
fi
