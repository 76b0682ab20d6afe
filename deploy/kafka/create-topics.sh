#!/usr/bin/env bash
# Creates the crm-engine topics on a Kafka cluster with Apache Kafka's own
# kafka-topics.sh (from the Kafka distribution; not a dependency of the
# engine). The event topic is the system of record: infinite retention,
# never compacted (every event counts, not just the last per key).
#
#   deploy/kafka/create-topics.sh BOOTSTRAP [PARTITIONS] [REPLICATION]
#   deploy/kafka/create-topics.sh kafka-1:9092 24 3
#
# Partitions are the unit of ordering (per customer) and of scale-out: a
# consumer group of projectors uses at most this many workers. They cannot
# be reduced later, and adding them moves customers between partitions, so
# choose generously.
set -euo pipefail
BOOTSTRAP="${1:?usage: create-topics.sh BOOTSTRAP [PARTITIONS] [REPLICATION]}"
PARTITIONS="${2:-12}"
REPLICATION="${3:-3}"
TOPICS_CMD="${KAFKA_TOPICS:-kafka-topics.sh}"
MIN_ISR=$(( REPLICATION > 1 ? 2 : 1 ))

create() {
  "$TOPICS_CMD" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$1" --partitions "$2" --replication-factor "$REPLICATION" \
    --config min.insync.replicas="$MIN_ISR" "${@:3}"
}

# Events: keyed by customer_id, kept forever.
create crm.events "$PARTITIONS" --config retention.ms=-1 \
  --config retention.bytes=-1 --config cleanup.policy=delete
# Dead letters: undecodable or invalid records with the reason; kept 30 days.
create crm.events.dlq 1 --config retention.ms=2592000000
# Derived events (grade changed, became at-risk, SLA breach); kept 30 days.
create crm.transitions "$PARTITIONS" --config retention.ms=2592000000
