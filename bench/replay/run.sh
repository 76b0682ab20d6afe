#!/usr/bin/env bash
# crm replay timing: an archive of generated events (built once, kept under
# the build dir) replayed into scratch stores with one rule set and with
# four rule sets in one pass. Prints each run's times; REPS runs each.
#   bench/replay/run.sh [REPS] [CUSTOMERS] [MONTHS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${CRM_BUILD_DIR:-$ROOT/build}"
CRM="$BUILD/tools/crm/crm"
REPS="${1:-3}"
CUSTOMERS="${2:-250000}"
MONTHS="${3:-27}"
W="$BUILD/bench-replay"
A="$W/events-$CUSTOMERS-$MONTHS.crmlog"
mkdir -p "$W"
if [[ ! -f "$A" ]]; then
  "$CRM" generate --customers "$CUSTOMERS" --months "$MONTHS" --seed 1 \
    --out "$W/h.jsonl"
  rm -rf "$W/d"
  "$CRM" --data-dir "$W/d" -q ingest "$W/h.jsonl"
  "$CRM" --data-dir "$W/d" -q export --to "$A"
  rm -rf "$W/h.jsonl" "$W/d"
fi
# Four rule sets: the defaults, VIP at 500k, and two copies of them under
# other versions (the same work as four distinct rule sets).
R="$ROOT/deploy/rules"
sed 's/^version: .*/version: "bench-default-2"/' "$R/default.textproto" >"$W/r3.textproto"
sed 's/^version: .*/version: "bench-vip-2"/' "$R/vip-500k.textproto" >"$W/r4.textproto"
# Each run's wall, user and system time, and the huge pages the kernel
# zeroed for it (/proc/vmstat thp_fault_alloc, where the kernel counts
# them): system time is mostly that zeroing, whose cost varies with the
# hour on a shared machine, so a slow run with a normal page count is a
# slow hour, not a slow build.
thp() { awk '$1 == "thp_fault_alloc" { print $2 }' /proc/vmstat 2>/dev/null || true; }
timed() {
  local label=$1 before after
  shift
  before=$(thp)
  TIMEFORMAT="$label: %R s wall, %U s user, %S s system"
  time "$@"
  after=$(thp)
  if [[ -n "$before" && -n "$after" ]]; then
    echo "$label: $((after - before)) huge pages faulted in"
  fi
}
for i in $(seq "$REPS"); do
  timed "1 rule set" "$CRM" -q replay --source "$A" \
    --rules "$R/default.textproto" --out "$W/out1" --force
  timed "4 rule sets" "$CRM" -q replay --source "$A" \
    --rules "$R/default.textproto" --rules "$R/vip-500k.textproto" \
    --rules "$W/r3.textproto" --rules "$W/r4.textproto" --out "$W/out4" \
    --force
done
rm -rf "$W/out1" "$W/out4"
