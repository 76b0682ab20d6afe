#!/usr/bin/env bash
# Installs what crm-engine needs from Debian packages (only what is missing),
# then configures and builds it. Idempotent; prints nothing when there is
# nothing to do. Used by quickstart.sh, test.sh and CI.
#
#   tools/setup.sh            # Release build in ./build
#   CRM_BUILD_TYPE=Debug CRM_BUILD_DIR=build-debug tools/setup.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${CRM_BUILD_DIR:-$ROOT/build}"
BUILD_TYPE="${CRM_BUILD_TYPE:-Release}"

# Each package, and why (see README "Dependencies").
PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache  # toolchain
  protobuf-compiler libprotobuf-dev  # event schema and codecs
  libabsl-dev                        # Status, time, strings, containers
  librdkafka-dev                     # Kafka client and mock cluster
  librocksdb-dev                     # view store
  libgoogle-perftools-dev            # tcmalloc for the programs
  libcli11-dev                       # command-line parsing
  libcpp-httplib-dev                 # HTTP: the metrics endpoint
  libsimdjson-dev                    # fast JSON scanning on ingest
  libgtest-dev libgmock-dev          # tests
  libbenchmark-dev                   # benchmarks
  kcat                               # a plain Kafka client, for checks
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  echo "setup: configuring $BUILD_TYPE build in $BUILD_DIR" >&2
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    >"$BUILD_DIR.configure.log" 2>&1 || {
    cat "$BUILD_DIR.configure.log" >&2
    exit 1
  }
fi

# Build; show the compiler's output only when there was work or an error.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! cmake --build "$BUILD_DIR" -j "${CRM_JOBS:-$(nproc)}" >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup: build failed" >&2
  exit 1
fi
if ! grep -q "no work to do" "$log"; then
  tail -n 1 "$log" >&2
fi
