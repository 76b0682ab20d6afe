#!/usr/bin/env bash
# The main job on the embedded default, end to end: build (installing what
# is needed), generate a sample multi-channel history, validate it, ingest
# it into the embedded log, run the projector to the end of the log, show
# that ingesting the same file again changes nothing, export the log to an
# archive file, run the population pass (ABC, key/ordinary/special, RFM),
# and show the grade distribution, lifecycle funnel, satisfaction summary
# and the most valuable at-risk customers.
#
#   tools/quickstart.sh [CUSTOMERS] [MONTHS]     (default 5000 customers, 24 months)
#
# Everything goes to crm-data/quickstart (CRM_QUICKSTART_DIR to move it);
# each run starts from an empty data directory.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/tools/setup.sh"
CRM="${CRM_BUILD_DIR:-$ROOT/build}/tools/crm/crm"
CUSTOMERS="${1:-5000}"
MONTHS="${2:-24}"
WORK="${CRM_QUICKSTART_DIR:-$ROOT/crm-data/quickstart}"
rm -rf "$WORK"
mkdir -p "$WORK"
DATA=(--data-dir "$WORK/data")

step() { printf '\n== %s\n' "$*"; }

step "generate: $CUSTOMERS customers, $MONTHS months of multi-channel history (seed 42)"
"$CRM" generate --customers "$CUSTOMERS" --months "$MONTHS" --seed 42 \
  --out "$WORK/events.jsonl"
echo "$(wc -l <"$WORK/events.jsonl") events in $WORK/events.jsonl"

step "validate"
"$CRM" validate "$WORK/events.jsonl"

step "validate a file with broken records (each one reported, exit 1)"
{
  head -n 2 "$WORK/events.jsonl"
  echo '{"eventId": "bad-1", "customerId": "C0000001", "channel": "CHANNEL_WEB"}'
  echo '{"eventId": "bad-2", "customerId": "C0000001", "occurredAt": "2024-02-01T10:00:00Z", "channel": "CHANNEL_WEB", "surveyAnswered": {"surveyId": "s1", "csat": 9}}'
  echo 'not json'
} >"$WORK/broken.jsonl"
set +e
"$CRM" validate "$WORK/broken.jsonl"
echo "exit status $?"
set -e

step "ingest into the embedded log ($WORK/data)"
"$CRM" "${DATA[@]}" ingest "$WORK/events.jsonl"

step "ingest the broken file: rejected whole, nothing written"
set +e
"$CRM" "${DATA[@]}" ingest "$WORK/broken.jsonl"
echo "exit status $?"
set -e

step "run the projector to the end of the log"
"$CRM" "${DATA[@]}" run --exit-at-end

step "ingest the same file again and project: every event is a duplicate"
"$CRM" "${DATA[@]}" --quiet ingest "$WORK/events.jsonl"
"$CRM" "${DATA[@]}" run --exit-at-end

step "export the log to an archive"
"$CRM" "${DATA[@]}" export --to "$WORK/events.archive"

step "population pass: ABC, key/ordinary/special and coverage, RFM segments"
"$CRM" "${DATA[@]}" regrade

step "stats: grade distributions, lifecycle funnel, RFM segments, satisfaction"
"$CRM" "${DATA[@]}" stats

step "top 10 at-risk customers by window revenue"
"$CRM" "${DATA[@]}" top --by at-risk --limit 10

step "what-if: replay the archive with VIP at 500k (deploy/rules/vip-500k.textproto)"
"$CRM" "${DATA[@]}" replay --source "$WORK/events.archive" \
  --rules "$ROOT/deploy/rules/vip-500k.textproto" --regrade \
  --out "$WORK/whatif-vip-500k" --force

step "migration matrix: production against the what-if"
"$CRM" "${DATA[@]}" diff "$WORK/data" "$WORK/whatif-vip-500k" --limit 10

echo
echo "Done. Data in $WORK."
