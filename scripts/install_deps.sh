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
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install_deps: all packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install_deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
