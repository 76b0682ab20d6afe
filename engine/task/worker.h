#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crm/v1/rules.pb.h"
#include "engine/base/clock.h"
#include "engine/log/event_log.h"
#include "engine/store/partition_store.h"
#include "engine/task/partition_task.h"

namespace crm::task {

struct WorkerOptions {
  // Directory holding one store per partition ("p-0000", "p-0001", ...),
  // normally <data-dir>/store/<topic>. Required.
  std::string store_dir;
  // Most records per batch (one commit each). Results do not depend on it.
  // Default: 2000
  size_t max_batch = 2000;
  // How long one poll of an idle partition waits. Default: 100 ms
  absl::Duration poll_timeout = absl::Milliseconds(100);
  // Stop once every partition reached the end offset it had when Run
  // started (drain and exit, for scripts and tests). Default: false
  bool exit_at_end = false;
  // Threads applying partitions; partition p runs on thread p % threads.
  // Default: 1
  int threads = 1;
  // Longest time applied records stay uncommitted while the log keeps
  // delivering (the task also commits on its own size limits, and when the
  // log is idle). Default: 1 s
  absl::Duration commit_interval = absl::Seconds(1);
  // Wall clock for commit_interval; not owned. Default: nullptr (system)
  const Clock* clock = nullptr;
  TaskOptions task;
};

// Progress of one partition, for status output and metrics.
struct PartitionProgress {
  int32_t partition = 0;
  int64_t next_offset = 0;  // committed position
  int64_t end_offset = 0;   // last seen end of the log
  TaskStats stats;
};

// Runs partition tasks over an EventLog: for each partition it opens the
// partition's store, reads from the store's own offset (never a group's
// committed offset), applies batches, and after each commit publishes the
// store's outbox (dead letters, transitions) to the given logs and trims
// it. Publishing is at least once: a record is trimmed only after the
// destination acknowledged it; a retry can publish it again.
//
// Thread-safe: progress() may be called while Run runs. Run is called once.
class Worker {
 public:
  // `log` and `rules` must outlive the worker. `dead_letters` and
  // `transitions` may be null (the outbox then just keeps the records).
  Worker(log::EventLog* log, const v1::Rules* rules,
         const store::StoreResources* resources, WorkerOptions options,
         log::EventLog* dead_letters, log::EventLog* transitions);
  ~Worker();

  // Runs `partitions` (all of the log's when empty) until `stop` becomes
  // true or, with exit_at_end, every partition is drained. A graceful stop
  // finishes the batch in flight, so nothing half-done is left. Returns the
  // first error of any partition (the others stop too).
  absl::Status Run(std::vector<int32_t> partitions,
                   const std::atomic<bool>* stop);

  std::vector<PartitionProgress> progress() const;

 private:
  struct Slot;
  absl::Status RunThread(std::vector<Slot*> slots,
                         const std::atomic<bool>* stop);
  absl::Status StepPartition(Slot* slot, bool* did_work, bool* drained);
  absl::Status FlushPartition(Slot* slot);
  absl::Status PublishOutbox(Slot* slot);

  log::EventLog* const log_;
  const v1::Rules* const rules_;
  const store::StoreResources* const resources_;
  const WorkerOptions options_;
  log::EventLog* const dead_letters_;
  log::EventLog* const transitions_;
  SystemClock system_clock_;
  const Clock* const clock_;
  std::vector<std::unique_ptr<Slot>> slots_;
  mutable absl::Mutex mu_;
  std::atomic<bool> failed_{false};
};

// The store directory of one partition under `store_dir`: "p-0007".
std::string PartitionStoreDir(const std::string& store_dir, int32_t partition);

}  // namespace crm::task
