#!/usr/bin/env bash
# Builds crm-engine and runs its Google Benchmark programs, printing the
# median of REPS repetitions of each benchmark (the figures the README and
# the issue notes quote). Run it on a quiet machine: other load moves the
# numbers by tens of percent.
#
#   tools/bench.sh [REPS] [FILTER]       e.g. tools/bench.sh 5 ingest
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/tools/setup.sh"
BUILD="${CRM_BUILD_DIR:-$ROOT/build}"
REPS="${1:-3}"
FILTER="${2:-}"
for bin in "$BUILD"/bench/*/bench_*; do
  name="$(basename "$bin")"
  [[ -n "$FILTER" && "$name" != *"$FILTER"* ]] && continue
  echo "== $name"
  "$bin" --benchmark_repetitions="$REPS" \
    --benchmark_report_aggregates_only=true 2>/dev/null |
    grep -E '_median|^-|^Benchmark' || true
done
