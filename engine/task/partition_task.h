#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "crm/v1/events.pb.h"
#include "crm/v1/rules.pb.h"
#include "crm/v1/views.pb.h"
#include "engine/log/event_log.h"
#include "engine/store/partition_store.h"

namespace crm::task {

struct TaskOptions {
  // Parsed customer states kept in memory between batches (least recently
  // used dropped first). Bounds the task's memory; a dropped state is read
  // back from the store when needed. Default: 50,000
  size_t state_cache_entries = 50000;
  // Topic name recorded in dead letters. Default: "crm.events"
  std::string topic = "crm.events";
};

// Counters since the task was created. Monotonic.
struct TaskStats {
  int64_t records = 0;       // log records seen (after redelivery skip)
  int64_t applied = 0;       // events applied to views
  int64_t duplicates = 0;    // events skipped: event_id already applied
  int64_t dead_letters = 0;  // undecodable or invalid records
  int64_t transitions = 0;   // derived events put in the outbox
  int64_t redelivered = 0;   // records below the stored offset, skipped
  int64_t batches = 0;       // commits
  int64_t state_loads = 0;   // customer states read from the store
};

// Applies one partition's log records to the per-customer views and commits
// them, together with the next offset, the dedup keys of the applied events
// and the outbox records (dead letters, transitions), in one WriteBatch of
// the partition's store. That single commit is what makes the effect
// exactly-once: a restarted task resumes from the store's offset, so a
// record is applied in no commit or in exactly one.
//
// Per record: decode -> validate -> dedupe by event_id -> ApplyEvent on the
// customer's state. A record that cannot be decoded or fails validation
// becomes a dead letter with its reason; the batch goes on.
//
// Hot states stay parsed in an LRU cache, each batch reads the states and
// dedup keys it misses with one MultiGet each, and a customer touched many
// times in a batch is written once. Results do not depend on batch sizes.
//
// Owned and used by one thread. The store and rules must outlive it.
class PartitionTask {
 public:
  PartitionTask(store::PartitionStore* store, const v1::Rules* rules,
                TaskOptions options = {});

  // Applies `records` (ascending offsets of this task's partition; those
  // below next_offset() are skipped as redelivered) and commits. On error
  // nothing of the batch is committed, the cache is cleared and the task
  // may be retried from next_offset(). kUnavailable / kDataLoss from the
  // store.
  absl::Status ApplyBatch(absl::Span<const log::LogRecord> records);

  // The offset the next batch should start at.
  int64_t next_offset() const { return store_->next_offset(); }
  int32_t partition() const { return store_->partition(); }
  const TaskStats& stats() const { return stats_; }

 private:
  struct CacheEntry {
    v1::CustomerState state;
    std::list<std::string>::iterator lru;
  };

  // The cached state of `customer_id`, or nullptr.
  CacheEntry* Lookup(const std::string& customer_id);
  CacheEntry* Insert(const std::string& customer_id, v1::CustomerState state);
  void EvictOverflow();
  void DeadLetter(const log::LogRecord& record, std::string reason,
                  std::string event_id, store::CommitBatch* batch);

  store::PartitionStore* const store_;
  const v1::Rules* const rules_;
  const TaskOptions options_;
  TaskStats stats_;
  absl::flat_hash_map<std::string, CacheEntry> cache_;
  std::list<std::string> lru_;  // front = most recently used
  // Scratch reused between batches.
  std::vector<v1::Envelope> events_;
};

}  // namespace crm::task
