#!/usr/bin/env bash
# Builds crm-engine (installing what it needs) and runs the whole test suite
# with ctest. Exits non-zero on any failure. Extra arguments go to ctest,
# e.g. tools/test.sh -R Validator
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/tools/setup.sh"
cd "${CRM_BUILD_DIR:-$ROOT/build}"
ctest --output-on-failure --no-tests=error -j "${CRM_TEST_JOBS:-$(nproc)}" "$@"
