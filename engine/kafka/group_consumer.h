#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/kafka/kafka_log.h"
#include "engine/log/event_log.h"

namespace crm::kafka {

// How to join the consumer group of the event topic.
struct GroupOptions {
  // Brokers, topic and librdkafka properties (`properties` are applied after
  // the settings below, so -X wins, except auto.offset.reset, pinned to
  // "error", and the commit settings the engine relies on). Required:
  // brokers (or bootstrap.servers in properties).
  KafkaOptions kafka;

  // Consumer group id (group.id). Default: "crm-projectors"
  std::string group_id = "crm-projectors";

  // partition.assignment.strategy. "cooperative-sticky" moves only the
  // partitions that change owner (the others keep running through a
  // rebalance); "range" or "roundrobin" are eager: every rebalance revokes
  // everything first. Default: "cooperative-sticky"
  std::string assignor = "cooperative-sticky";

  // session.timeout.ms: how long the group waits for a silent member (a
  // killed process) before giving its partitions to the others.
  // Default: 10 s
  absl::Duration session_timeout = absl::Seconds(10);

  // heartbeat.interval.ms; must be below session_timeout. Default: 1 s
  absl::Duration heartbeat_interval = absl::Seconds(1);
};

// A member of one consumer group on one topic, on librdkafka's high-level
// consumer. The group is used for assignment only: every partition it is
// given starts at the offset the Listener returns (the worker's own store),
// never at the group's committed offset; CommitAsync reports progress to the
// group purely for lag monitoring.
//
// One Poll delivers the fetched records of all assigned partitions (each
// partition's in offset order; callers demultiplex by partition). Rebalance
// callbacks run inside Poll and Close, on the calling thread, so the caller
// sees assignment changes between batches, never during one.
//
// Created by Open(); owned by one thread, which makes every call.
class GroupConsumer {
 public:
  // Told of assignment changes, from inside Poll/Close.
  class Listener {
   public:
    virtual ~Listener() = default;
    // `partitions` were added to this member. Returns the offset each one
    // starts at (same order). An error fails Poll; the partitions are not
    // taken.
    virtual absl::StatusOr<std::vector<int64_t>> OnAssigned(
        absl::Span<const int32_t> partitions) = 0;
    // `partitions` are taken away: commit their work before returning.
    // `lost`: the group already gave them to another member (this one
    // missed its session timeout).
    virtual absl::Status OnRevoked(absl::Span<const int32_t> partitions,
                                   bool lost) = 0;
  };

  // Creates the consumer and subscribes to the topic (joining happens in
  // Poll). kInvalidArgument for bad options or properties; kNotFound if the
  // topic is missing; kUnavailable if the brokers cannot be reached.
  static absl::StatusOr<std::unique_ptr<GroupConsumer>> Open(
      const GroupOptions& options);

  // Leaves the group without revoking through a listener if Close was not
  // called (a listener-less close).
  ~GroupConsumer();
  GroupConsumer(const GroupConsumer&) = delete;
  GroupConsumer& operator=(const GroupConsumer&) = delete;

  // Serves the group (calling `listener` on rebalances) and appends up to
  // `max_records` records of assigned partitions to `out`, waiting up to
  // `timeout` for the first. Returns after a rebalance without waiting for
  // more. Broker outages are not errors (librdkafka reconnects); errors:
  // the listener's, kOutOfRange for an offset the brokers do not keep,
  // kAborted for a fatal consumer error.
  absl::StatusOr<size_t> Poll(Listener* listener,
                              std::vector<crm::log::LogRecord>* out,
                              size_t max_records, absl::Duration timeout);

  // Commits `next_offset` for `partition` to the group, asynchronously and
  // for monitoring only (failures are ignored: nothing reads it back).
  void CommitAsync(int32_t partition, int64_t next_offset);

  // Revokes every partition through `listener` and leaves the group.
  // Returns the listener's error, if any.
  absl::Status Close(Listener* listener);

  // Partitions currently assigned, ascending.
  std::vector<int32_t> assignment() const;
  int32_t partitions() const { return partitions_; }
  // The assignor in use ("cooperative-sticky", "range", ...).
  const std::string& protocol() const { return options_.assignor; }

 private:
  GroupConsumer(GroupOptions options, int32_t partitions);
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque);
  void Rebalance(rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* parts);
  bool IsAssigned(int32_t p) const {
    return p >= 0 && p < partitions_ && assigned_[p];
  }
  void Assigned(int32_t p, bool yes) {
    if (p >= 0 && p < partitions_) assigned_[p] = yes;
  }
  // Takes one message into `out` or into error_.
  void Take(rd_kafka_message_t* m, std::vector<crm::log::LogRecord>* out,
            size_t* added);

  const GroupOptions options_;
  const int32_t partitions_;
  const bool cooperative_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;    // the consumer queue
  GroupConsumer** self_slot_ = nullptr;  // librdkafka's opaque: this
  bool closed_ = false;
  // Valid during Poll/Close only.
  Listener* listener_ = nullptr;
  bool rebalanced_ = false;
  absl::Status error_;
  std::vector<crm::log::LogRecord>* out_ = nullptr;
  size_t out_start_ = 0;        // first record of out_ added by this Poll
  std::vector<bool> assigned_;  // by partition
  std::vector<rd_kafka_message_t*> buf_;
};

}  // namespace crm::kafka
