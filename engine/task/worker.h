#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crm/v1/rules.pb.h"
#include "engine/base/clock.h"
#include "engine/log/event_log.h"
#include "engine/store/partition_store.h"
#include "engine/task/partition_task.h"

namespace crm::task {

// The scheduled population pass as the worker drives it
// (rules.population_schedule; engine/task/README.md "Scheduled population
// pass"). Implemented by crm::population::ScheduledPassRunner, injected so
// the task layer does not depend on the population pass. Called from the
// thread in Worker::Run, between phases, with no partition in flight.
class PopulationScheduler {
 public:
  virtual ~PopulationScheduler() = default;
  // The boundary to hold every partition at first, from what `stores`
  // (every partition's, ascending) recorded; InfiniteFuture: none.
  virtual absl::Time FirstBoundary(
      absl::Span<store::PartitionStore* const> stores) = 0;
  // Runs the pass at `boundary` over `stores`, every one held there (the
  // earliest event time of the held records is `earliest_held`), and
  // returns the boundary to hold at next.
  virtual absl::StatusOr<absl::Time> RunPass(
      absl::Span<store::PartitionStore* const> stores, absl::Time boundary,
      absl::Time earliest_held) = 0;
};

struct WorkerOptions {
  // Directory holding one store per partition ("p-0000", "p-0001", ...),
  // normally <data-dir>/store/<topic>. Required.
  std::string store_dir;
  // Most records per batch, and never more than half the state budget
  // (task.budget->max_cached): every customer of a batch is cached while
  // it is applied, so a larger batch would take the cache past its bound.
  // Results do not depend on it; a large batch is applied customer by
  // customer with fewer trips to memory (PartitionTask). Default: 7,500
  size_t max_batch = 7500;
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
  // Receives one line per partition event, without a trailing newline:
  // in group mode (RunGroup) resumed from local state, rebuilding from
  // offset 0, "rebuilt N of M records", revoked; in both modes an outbox
  // that could not be published yet (retried after the next commit).
  // Default: none (silent)
  std::function<void(const std::string&)> log_line;
  // Group mode: how often a rebuilding partition reports its progress
  // through log_line (and once when done). Default: 5 s
  absl::Duration rebuild_report_interval = absl::Seconds(5);
  // Runs the scheduled population pass in Run; required when the rules
  // have a population_schedule (Run: kFailedPrecondition otherwise).
  // RunGroup never runs it (a member does not hold every partition): it
  // logs one line and leaves the pass to `crm regrade`. Not owned.
  // Default: nullptr
  PopulationScheduler* scheduler = nullptr;
  TaskOptions task;
};

// A consumer group as a worker sees it: which partitions this worker owns
// right now, and their records. The worker never takes a start offset from
// the group: it answers every assignment with the offsets of its own
// stores, and reports commits back only for lag monitoring. Implemented on
// Kafka's group protocol by crm::kafka::GroupConsumer (wired in
// tools/crm/cmd_run.cc); tests may fake it.
//
// Used by one thread (the one in Worker::RunGroup).
class GroupMembership {
 public:
  // Told of assignment changes from inside Poll and Close.
  class Listener {
   public:
    virtual ~Listener() = default;
    // Returns the offset each of `partitions` starts at, in order.
    virtual absl::StatusOr<std::vector<int64_t>> OnAssigned(
        absl::Span<const int32_t> partitions) = 0;
    // Commits the partitions' work; they are gone after it returns.
    // `lost`: the group already gave them to another member.
    virtual absl::Status OnRevoked(absl::Span<const int32_t> partitions,
                                   bool lost) = 0;
  };
  virtual ~GroupMembership() = default;

  // Serves the group (calling `listener`) and appends up to `max_records`
  // records of assigned partitions to `out` (ascending offsets within each
  // partition), waiting up to `timeout` for the first.
  virtual absl::StatusOr<size_t> Poll(Listener* listener,
                                      std::vector<log::LogRecord>* out,
                                      size_t max_records,
                                      absl::Duration timeout) = 0;
  // `partition` committed everything below `next_offset` (for lag
  // monitoring only; nothing reads it back).
  virtual void ReportCommitted(int32_t partition, int64_t next_offset) = 0;
  // Revokes everything through `listener` and leaves the group.
  virtual absl::Status Close(Listener* listener) = 0;
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
// Group mode (RunGroup) does the same for the partitions a consumer group
// assigns, one thread for all of them; see engine/task/README.md.
//
// Thread-safe: progress() may be called while Run or RunGroup runs. One of
// them is called, once.
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
  //
  // With a population_schedule each partition is held before its first
  // valid record at or after the next boundary; once every partition is
  // held, the scheduler runs the pass over all stores and the partitions
  // go on to the next boundary. A partition held at a boundary counts as
  // drained for exit_at_end (the records held back are logged).
  absl::Status Run(std::vector<int32_t> partitions,
                   const std::atomic<bool>* stop);

  // Group mode: runs whatever partitions `group` assigns, until `stop`
  // becomes true (exit_at_end and threads do not apply: one thread applies
  // every owned partition, demultiplexing the group's polls by partition).
  // A gained partition resumes from its store under store_dir (created
  // empty when missing, i.e. rebuilt by replay from offset 0, with progress
  // lines through log_line); a revoked one is committed, its outbox
  // published, and its task and store closed (the directory stays). On stop
  // everything is committed and the group left. `group` must outlive the
  // call. Errors: as Run, plus the group's (kOutOfRange when the log no
  // longer keeps a partition's stored offset).
  absl::Status RunGroup(GroupMembership* group, const std::atomic<bool>* stop);

  // The partitions held now (group mode: those assigned) and their
  // progress.
  std::vector<PartitionProgress> progress() const;

 private:
  struct Slot;
  class GroupListener;
  absl::StatusOr<std::vector<int64_t>> AssignPartitions(
      absl::Span<const int32_t> partitions);
  absl::Status RevokePartitions(absl::Span<const int32_t> partitions,
                                bool lost);
  absl::Status ApplyGroupRecords(std::vector<log::LogRecord>* records);
  void LogLine(const std::string& line) const;
  void ReportRebuild(Slot* slot, bool force);
  absl::Status RunThread(std::vector<Slot*> slots,
                         const std::atomic<bool>* stop);
  // Runs every slot on options_.threads threads until each is drained or
  // held at the current boundary, or `stop`.
  absl::Status RunPhase(const std::atomic<bool>* stop);
  // After a phase in which every slot got held: the pass, then the hold at
  // the next boundary. Returns the next boundary.
  absl::StatusOr<absl::Time> PassAndRelease(absl::Time boundary);
  void HoldAll(absl::Time boundary);
  void LogHeldAtExit(absl::Time boundary) const;
  void LogWaiting(Slot* slot);
  std::vector<store::PartitionStore*> Stores() const;
  absl::Status StepPartition(Slot* slot, bool* did_work, bool* drained);
  absl::Status FlushPartition(Slot* slot);
  absl::Status PublishOutbox(Slot* slot);
  // max_batch, within half the state budget.
  size_t BatchLimit() const;

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
  // Run with a schedule: the boundary every slot is held at (InfiniteFuture:
  // none) and how many slots are held there now.
  absl::Time boundary_ = absl::InfiniteFuture();
  std::atomic<int> held_count_{0};
  GroupMembership* group_ = nullptr;  // set during RunGroup
};

// The store directory of one partition under `store_dir`: "p-0007".
std::string PartitionStoreDir(const std::string& store_dir, int32_t partition);

}  // namespace crm::task
