#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/log/event_log.h"

namespace crm::kafka {

// How to reach the cluster and how long to try. Every field has a default
// except `brokers` (or a bootstrap.servers entry in `properties`).
struct KafkaOptions {
  // Bootstrap servers, "host:port[,host:port...]" (librdkafka
  // bootstrap.servers). Default: empty, which is an error unless
  // `properties` sets bootstrap.servers.
  std::string brokers;

  // The event topic. Default: "crm.events".
  std::string topic = "crm.events";

  // librdkafka properties, each "key=value" exactly as with `-X` in kcat,
  // applied verbatim after the settings below, so they override them (TLS,
  // SASL, timeouts, batching). A malformed or unknown one is rejected with
  // kInvalidArgument naming it, and so is one that would weaken the
  // delivery guarantee (acks other than all, enable.idempotence other than
  // true, any transactional.id). Readers always use auto.offset.reset=error
  // (a reader never skips records silently), whatever is given here.
  // Default: none.
  std::vector<std::string> properties;

  // Longest time one record may take to be acknowledged, retries included
  // (librdkafka message.timeout.ms, alias delivery.timeout.ms); after it the
  // record fails and Append reports it. Default: 30 s.
  absl::Duration delivery_timeout = absl::Seconds(30);

  // Timeout of one metadata, watermark or topic-creation request.
  // Default: 10 s.
  absl::Duration request_timeout = absl::Seconds(10);

  // Producer batching delay (linger.ms). Append waits for its
  // acknowledgements, so this adds to the latency of every Append; records
  // still go out in batches while earlier requests are in flight. Measured
  // on the mock: 0 doubles the rate of 1,000-record Appends against 1 ms and
  // changes little for 10,000+. Default: 0.
  absl::Duration linger = absl::ZeroDuration();

  // Most records in one produce request per partition (batch.num.messages).
  // Default: 10,000.
  int32_t max_batch_records = 10000;

  // Most records waiting in the producer's local queue
  // (queue.buffering.max.messages); Append blocks while it is full.
  // Default: 1,000,000.
  int32_t max_queued_records = 1000000;

  // If > 0 and the topic does not exist, create it (admin CreateTopics) with
  // this many partitions. Default: 0 (a missing topic is kNotFound).
  int32_t create_partitions = 0;

  // Replication factor for a topic created above; -1 takes the broker's
  // default.replication.factor. Default: -1.
  int32_t create_replication_factor = -1;
};

namespace internal {
class Producer;
}  // namespace internal

// The Kafka implementation of EventLog on librdkafka (C API). One
// idempotent producer (acks=all) per object, records sent to the explicit
// partition PartitionFor(key, partitions()), one delivery report checked per
// record. Readers use their own consumer handle with a partition assigned at
// an exact offset (no consumer group, nothing committed).
//
// Created by Open(); owned by the caller. Thread-safe: Append, EndOffset and
// OpenReader may be called from several threads at once (appends from
// different threads interleave, each keeps its own order per key). A reader
// has its own consumer handle and may outlive the KafkaLog.
class KafkaLog final : public crm::log::EventLog {
 public:
  // Connects, reads the topic's partition count from metadata (creating the
  // topic first if options.create_partitions > 0 and it is missing).
  // Errors: kInvalidArgument for a bad option or property (names it),
  // kNotFound if the topic is missing (names topic and brokers),
  // kUnavailable if the brokers cannot be reached within request_timeout.
  static absl::StatusOr<std::unique_ptr<KafkaLog>> Open(
      const KafkaOptions& options);

  ~KafkaLog() override;
  KafkaLog(const KafkaLog&) = delete;
  KafkaLog& operator=(const KafkaLog&) = delete;

  int32_t partitions() const override { return partitions_; }

  // Blocks until every record has its delivery report. OK means every record
  // was acknowledged by all in-sync replicas. Otherwise the status says how
  // many of the batch failed and the first reason; its code is FromKafka()
  // of that reason (all brokers down past delivery_timeout: kUnavailable).
  // With idempotence a retried request never duplicates a record; a failed
  // Append may still have written some records (retrying the batch is safe
  // because consumers deduplicate by event_id).
  absl::Status Append(absl::Span<const crm::log::RecordRef> records) override;

  // High watermark of `partition`. kInvalidArgument for a partition outside
  // [0, partitions()), kUnavailable if the leader cannot be asked.
  absl::StatusOr<int64_t> EndOffset(int32_t partition) override;

  // Low watermark: the first offset still kept by the brokers (it moves up
  // under retention; the mock cluster drops old data early).
  absl::StatusOr<int64_t> BeginOffset(int32_t partition) override;

  // A reader positioned exactly at `offset`. kOutOfRange if offset is
  // outside [BeginOffset, EndOffset]; kInvalidArgument for a bad partition.
  absl::StatusOr<std::unique_ptr<crm::log::PartitionReader>> OpenReader(
      int32_t partition, int64_t offset) override;

  const KafkaOptions& options() const { return options_; }

 private:
  KafkaLog(KafkaOptions options, int32_t partitions,
           std::shared_ptr<internal::Producer> producer);

  std::shared_ptr<internal::Producer> producer() const;
  // Replaces `failed` (a producer in librdkafka's fatal state) by a new one.
  void ReplaceProducer(const std::shared_ptr<internal::Producer>& failed);
  absl::Status CheckPartition(int32_t partition) const;
  absl::Status Watermarks(int32_t partition, int64_t* low, int64_t* high);

  const KafkaOptions options_;
  const int32_t partitions_;
  mutable absl::Mutex mu_;
  std::shared_ptr<internal::Producer> producer_ ABSL_GUARDED_BY(mu_);
};

// Applies each "key=value" of `properties` to `conf` (rd_kafka_conf_set, so
// topic-level properties go to the default topic configuration).
// kInvalidArgument naming the property when it has no '=', an empty key, an
// unknown key or a bad value.
absl::Status ApplyProperties(rd_kafka_conf_t* conf,
                             absl::Span<const std::string> properties);

}  // namespace crm::kafka
