#pragma once

// Replay: rebuilds every customer view from offset 0 of an event log (the
// embedded log read as a follower, Kafka partitions read directly without a
// consumer group, or an archive file) into scratch stores, under one or
// several rule sets in one pass. Each record is decoded and validated once
// and applied to one PartitionTask per rule set. Production state is never
// opened: the scratch stores live in their own directories.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crm/v1/rules.pb.h"
#include "engine/log/event_log.h"

namespace crm::replay {

// One rule set to replay under and where its views go. `data_dir` is laid
// out like a data directory: stores in DATA_DIR/store/TOPIC/p-NNNN, the
// population pass record (if any) in DATA_DIR/population/TOPIC.
struct Target {
  const v1::Rules* rules = nullptr;  // not owned; valid rules
  std::string data_dir;
};

// Progress, passed to ReplayOptions::progress about twice a second.
struct ReplayProgress {
  int64_t records = 0;        // records read so far, all partitions
  int64_t total_records = 0;  // records to read (end offsets at the start)
  absl::Duration elapsed;
};

// How a replay's threads share the work.
enum class Parallelism {
  // kRuleSets when the rule sets replayed here (those without a population
  // schedule) are 2 or more and a multiple of the threads (each thread then
  // gets as many), else kPartitions.
  kAuto,
  // Each thread takes whole partitions (p % threads) under every rule set:
  // the parsed states of one partition per thread are in memory at once.
  kPartitions,
  // The threads take the partitions one after another, together: each
  // decodes its share of every batch and applies the whole batch under its
  // share of the rule sets (plain[t], plain[t + threads], ...), meeting at
  // every batch. The states of one partition are in memory at once (half
  // those of kPartitions with 2 threads), which leaves room for batches of
  // a whole partition: each state is then visited once per partition.
  // With fewer than 2 rule sets replayed here or 1 thread, kPartitions.
  kRuleSets,
};

// ReplayOptions::batch_records by default.
inline constexpr size_t kPartitionsBatchRecords = 262144;
inline constexpr size_t kRuleSetsBatchRecords = size_t{1} << 21;

struct ReplayOptions {
  // Topic name: the store folder under DATA_DIR/store and dead letters.
  // Default: "crm.events"
  std::string topic = "crm.events";
  // Only events with occurred_at <= until are applied; afterwards every
  // state is advanced to `until` (AdvanceTo), so the views are as they
  // stood then. Default: InfiniteFuture (everything, no advance)
  absl::Time until = absl::InfiniteFuture();
  // Run the population pass (ABC, classes, RFM) over each target's stores
  // at the end, at `until` when given, else at the latest state time, and
  // write its record. Default: false
  bool population_pass = false;
  // Threads replaying: partition p on thread p % threads, or all of them
  // on each partition in turn (`parallel`).
  // Default: 2
  int threads = 2;
  // Default: kAuto
  Parallelism parallel = Parallelism::kAuto;
  // Records per poll, decoded and applied as one batch; 0 for the mode's
  // default. Large, because a batch is applied customer by customer: the
  // more of a customer's events one batch holds, the fewer times its state
  // is fetched from memory. A decoded record takes about 700 bytes (the
  // record and its envelope), outside `state_memory_bytes`. Default: 0
  // (kPartitionsBatchRecords, 262,144, for each thread's own partition;
  // kRuleSetsBatchRecords, 2,097,152, for the one shared partition)
  size_t batch_records = 0;
  // Memory for parsed customer states and uncommitted outbox records, all
  // rule sets together (each gets an equal share). A replay commits only
  // when its share is full (then drops its least recently used states to
  // 3/4 of it) and at the end of each partition, so with enough memory
  // every customer is written once. Default: 4 GiB
  int64_t state_memory_bytes = int64_t{4} << 30;
  // Also commit a partition's task after this many records; 0 for no such
  // limit. Default: 0
  size_t commit_every_records = 0;
  // A commit of at least this many customers (the end of a partition, with
  // enough memory) is written as table files and ingested, instead of
  // going through a WriteBatch, the memtable and a flush
  // (StoreOptions::ingest_min_customers); 0 never. Default: 4,096
  size_t ingest_min_customers = 4096;
  // Called from the calling thread while the replay runs. Default: none
  std::function<void(const ReplayProgress&)> progress;
};

struct TargetResult {
  std::string rules_version;
  std::string data_dir;
  int64_t customers = 0;  // customer records written
  int64_t applied = 0;    // events applied under this rule set
  // Transitions raised by events, the advance to `until` and the
  // population pass. Those of events and of the advance are counted only
  // (the scratch store's grade and stage histories hold the changes; its
  // outbox is never published); a population pass's are in the outbox.
  int64_t transitions = 0;
  int64_t dead_letters = 0;  // per rule set: the projection may reject more
  int64_t duplicates = 0;
};

struct ReplayResult {
  int32_t partitions = 0;
  int64_t records = 0;      // read from the log
  int64_t applied = 0;      // events applied (of the first target)
  int64_t after_until = 0;  // valid events skipped because after `until`
  absl::Duration elapsed;
  std::vector<TargetResult> targets;
};

// The store directory of a target: DATA_DIR/store/TOPIC.
std::string TargetStoreDir(const std::string& data_dir,
                           const std::string& topic);

// Replays every partition of `source` from offset 0 to its end offset at
// the time of the call into each target's stores, which must be new
// (empty directories or missing; kFailedPrecondition naming the store
// otherwise). Commits are rare and without the WAL: after a crash the
// stores are incomplete and the replay must be run again into a fresh
// directory. A target whose rules have a population_schedule is replayed
// by a task::Worker (exit at end) with the scheduled passes, exactly as the
// production worker makes them, after the others (with `until`: its tasks
// skip what is after it, so the passes are those of the log cut at
// `until`; then its stores are advanced). kInvalidArgument when two
// targets share a data dir or none is given; log and store errors as they
// come.
absl::StatusOr<ReplayResult> Replay(log::EventLog& source,
                                    absl::Span<const Target> targets,
                                    const ReplayOptions& options = {});

}  // namespace crm::replay
