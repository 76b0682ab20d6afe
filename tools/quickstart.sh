#!/usr/bin/env bash
# The main job on the embedded default: build (installing what is needed),
# generate a sample multi-channel history, validate it, and show what it
# holds. Grows into the full demo (ingest, project, query, replay) as the
# engine grows. Usage: tools/quickstart.sh [CUSTOMERS] [MONTHS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/tools/setup.sh"
CRM="${CRM_BUILD_DIR:-$ROOT/build}/tools/crm/crm"
CUSTOMERS="${1:-2000}"
MONTHS="${2:-24}"
WORK="${CRM_QUICKSTART_DIR:-$ROOT/crm-data/quickstart}"
mkdir -p "$WORK"

echo "== generate: $CUSTOMERS customers, $MONTHS months (seed 42)"
"$CRM" generate --customers "$CUSTOMERS" --months "$MONTHS" --seed 42 \
  >"$WORK/events.jsonl"
echo "   $(wc -l <"$WORK/events.jsonl") events in $WORK/events.jsonl"

echo "== validate"
"$CRM" validate "$WORK/events.jsonl"
