#include "engine/task/worker.h"

#include <algorithm>
#include <filesystem>
#include <thread>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "crm/v1/runtime.pb.h"
#include "engine/base/status_macros.h"
#include "engine/base/time_util.h"

namespace crm::task {

// One partition's task, store and reader. Touched by one thread, except
// `progress`, guarded by Worker::mu_.
struct Worker::Slot {
  int32_t partition = 0;
  std::unique_ptr<store::PartitionStore> store;
  std::unique_ptr<PartitionTask> task;
  std::unique_ptr<log::PartitionReader> reader;
  int64_t stop_at = -1;  // exit_at_end: end offset at start
  uint64_t outbox_from = 0;
  absl::Time last_flush;
  // Records polled but not applied yet: the rest of a batch cut at a
  // population boundary (HoldAt), applied first after the release.
  std::vector<log::LogRecord> buffer;
  bool held = false;         // held at Worker::boundary_
  bool wait_logged = false;  // the "pass waits for" line, once a boundary
  // Group mode, rebuilding from offset 0: the end offset to report against
  // (-1: not rebuilding), and when it started / last reported.
  int64_t rebuild_target = -1;
  absl::Time rebuild_start;
  absl::Time rebuild_reported;
  PartitionProgress progress;  // guarded by Worker::mu_
};

std::string PartitionStoreDir(const std::string& store_dir, int32_t partition) {
  return absl::StrFormat("%s/p-%04d", store_dir, partition);
}

Worker::Worker(log::EventLog* log, const v1::Rules* rules,
               const store::StoreResources* resources, WorkerOptions options,
               log::EventLog* dead_letters, log::EventLog* transitions)
    : log_(log),
      rules_(rules),
      resources_(resources),
      options_(std::move(options)),
      dead_letters_(dead_letters),
      transitions_(transitions),
      clock_(options_.clock != nullptr ? options_.clock : &system_clock_) {}

Worker::~Worker() = default;

std::vector<PartitionProgress> Worker::progress() const {
  absl::MutexLock lock(&mu_);
  std::vector<PartitionProgress> out;
  for (const auto& s : slots_) out.push_back(s->progress);
  return out;
}

namespace {
// Outbox records read per step of PublishOutbox: a commit's whole page at
// once usually, so a page is parsed once rather than once per step.
constexpr size_t kOutboxReadRecords = 50000;
}  // namespace

absl::Status Worker::PublishOutbox(Slot* slot) {
  while (true) {
    CRM_ASSIGN_OR_RETURN(
        auto records,
        slot->store->ReadOutbox(slot->outbox_from, kOutboxReadRecords));
    if (records.empty()) return absl::OkStatus();
    std::vector<std::string> keys, values;
    std::vector<log::RecordRef> dlq, trans;
    keys.reserve(records.size());
    values.reserve(records.size());
    for (const auto& [seq, bytes] : records) {
      v1::OutboxRecord rec;
      if (!rec.ParseFromString(bytes)) {
        return absl::DataLossError(absl::StrFormat(
            "partition %d: outbox record %d is not a valid OutboxRecord",
            slot->partition, seq));
      }
      if (rec.has_dead_letter()) {
        keys.push_back(rec.dead_letter().key());
        values.push_back(rec.dead_letter().SerializeAsString());
        dlq.push_back({keys.back(), values.back()});
      } else if (rec.has_transition()) {
        keys.push_back(rec.transition().customer_id());
        values.push_back(rec.transition().SerializeAsString());
        trans.push_back({keys.back(), values.back()});
      }
    }
    if (dead_letters_ != nullptr && !dlq.empty()) {
      CRM_RETURN_IF_ERROR(dead_letters_->Append(dlq));
    }
    if (transitions_ != nullptr && !trans.empty()) {
      CRM_RETURN_IF_ERROR(transitions_->Append(trans));
    }
    slot->outbox_from = records.back().first + 1;
    if (dead_letters_ != nullptr || transitions_ != nullptr) {
      CRM_RETURN_IF_ERROR(slot->store->TrimOutbox(slot->outbox_from));
    }
  }
}

size_t Worker::BatchLimit() const {
  const int64_t half_budget =
      std::max<int64_t>(1, options_.task.budget->max_cached / 2);
  return std::min<size_t>(options_.max_batch, static_cast<size_t>(half_budget));
}

absl::Status Worker::FlushPartition(Slot* slot) {
  CRM_RETURN_IF_ERROR(slot->task->Flush());
  slot->last_flush = clock_->Now();
  const absl::Status published = PublishOutbox(slot);
  if (!published.ok()) {
    if (published.code() != absl::StatusCode::kUnavailable) return published;
    // The destination is unreachable (a broker down): the outbox keeps
    // every unpublished record, and the next flush tries again.
    LogLine(absl::StrFormat(
        "partition %d: outbox not published yet, retrying after the next "
        "commit: %s",
        slot->partition, published.message()));
  }
  // The end offset is for progress only; an unreachable leader keeps the
  // last one seen.
  const absl::StatusOr<int64_t> end_now = log_->EndOffset(slot->partition);
  int64_t end = 0;
  {
    absl::MutexLock lock(&mu_);
    end = end_now.ok() ? *end_now : slot->progress.end_offset;
  }
  if (group_ != nullptr) {
    group_->ReportCommitted(slot->partition, slot->task->committed_offset());
    ReportRebuild(slot, /*force=*/false);
  }
  absl::MutexLock lock(&mu_);
  slot->progress.next_offset = slot->task->committed_offset();
  slot->progress.end_offset = end;
  slot->progress.stats = slot->task->stats();
  return absl::OkStatus();
}

void Worker::LogLine(const std::string& line) const {
  if (options_.log_line) options_.log_line(line);
}

void Worker::ReportRebuild(Slot* slot, bool force) {
  if (slot->rebuild_target < 0) return;
  const int64_t done = slot->task->committed_offset();
  const absl::Time now = clock_->Now();
  if (done >= slot->rebuild_target) {
    LogLine(absl::StrFormat("partition %d: rebuilt %d of %d records in %.1f s",
                            slot->partition, done, slot->rebuild_target,
                            absl::ToDoubleSeconds(now - slot->rebuild_start)));
    slot->rebuild_target = -1;
  } else if (force ||
             now - slot->rebuild_reported >= options_.rebuild_report_interval) {
    LogLine(absl::StrFormat("partition %d: rebuilt %d of %d records",
                            slot->partition, done, slot->rebuild_target));
    slot->rebuild_reported = now;
  }
}

absl::Status Worker::StepPartition(Slot* slot, bool* did_work, bool* drained) {
  *did_work = false;
  const int64_t next = slot->task->next_offset();
  if (slot->stop_at >= 0 && next >= slot->stop_at) {
    CRM_RETURN_IF_ERROR(FlushPartition(slot));
    *drained = true;
    return absl::OkStatus();
  }
  if (slot->buffer.empty()) {  // else the rest of a cut batch comes first
    size_t want = BatchLimit();
    if (slot->stop_at >= 0) {
      want = std::min<size_t>(want, static_cast<size_t>(slot->stop_at - next));
    }
    CRM_ASSIGN_OR_RETURN(size_t n, slot->reader->Poll(&slot->buffer, want,
                                                      options_.poll_timeout));
    if (n == 0) {
      // Idle: commit what is pending so views and lag are current.
      if (slot->task->has_pending()) CRM_RETURN_IF_ERROR(FlushPartition(slot));
      LogWaiting(slot);
      return absl::OkStatus();
    }
  }
  const int64_t commits_before = slot->task->stats().commits;
  CRM_RETURN_IF_ERROR(slot->task->ApplyBatch(slot->buffer));
  *did_work = true;
  // Keep what the hold left unapplied, in order.
  const int64_t applied_to = slot->task->next_offset();
  auto rest = std::find_if(
      slot->buffer.begin(), slot->buffer.end(),
      [&](const log::LogRecord& r) { return r.offset >= applied_to; });
  slot->buffer.erase(slot->buffer.begin(), rest);
  if (slot->task->held()) {
    // Commit now: the pass reads the stores once every partition is held.
    CRM_RETURN_IF_ERROR(FlushPartition(slot));
    slot->held = true;
    held_count_.fetch_add(1);
    *drained = true;
    return absl::OkStatus();
  }
  if (slot->task->stats().commits != commits_before ||
      clock_->Now() - slot->last_flush >= options_.commit_interval) {
    CRM_RETURN_IF_ERROR(FlushPartition(slot));
  }
  return absl::OkStatus();
}

void Worker::LogWaiting(Slot* slot) {
  // Determinism over liveness: the others stay held until this one
  // reaches the boundary; say so once per boundary.
  if (boundary_ == absl::InfiniteFuture() || slot->wait_logged ||
      held_count_.load() == 0) {
    return;
  }
  slot->wait_logged = true;
  LogLine(absl::StrFormat(
      "partition %d: log ends at offset %d before the population boundary "
      "%s; the scheduled pass waits for it (%d of %d partitions held there)",
      slot->partition, slot->task->next_offset(), FormatRfc3339(boundary_),
      held_count_.load(), slots_.size()));
}

absl::Status Worker::RunThread(std::vector<Slot*> slots,
                               const std::atomic<bool>* stop) {
  std::vector<bool> drained(slots.size(), false);
  size_t remaining = slots.size();
  while (remaining > 0 && !(stop != nullptr && stop->load()) &&
         !failed_.load()) {
    for (size_t i = 0; i < slots.size(); ++i) {
      if (drained[i]) continue;
      bool did_work = false, done = false;
      absl::Status s = StepPartition(slots[i], &did_work, &done);
      if (!s.ok()) {
        failed_.store(true);
        return s;
      }
      if (done) {
        drained[i] = true;
        --remaining;
      }
    }
  }
  if (failed_.load()) return absl::OkStatus();
  // Graceful stop: commit what was applied.
  for (Slot* slot : slots) CRM_RETURN_IF_ERROR(FlushPartition(slot));
  return absl::OkStatus();
}

absl::Status Worker::Run(std::vector<int32_t> partitions,
                         const std::atomic<bool>* stop) {
  if (partitions.empty()) {
    for (int32_t p = 0; p < log_->partitions(); ++p) partitions.push_back(p);
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.store_dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrFormat(
        "cannot create %s: %s", options_.store_dir, ec.message()));
  }
  for (int32_t p : partitions) {
    auto slot = std::make_unique<Slot>();
    slot->partition = p;
    CRM_ASSIGN_OR_RETURN(
        slot->store,
        store::PartitionStore::Open(
            *resources_, PartitionStoreDir(options_.store_dir, p), p));
    TaskOptions task_options = options_.task;
    slot->task = std::make_unique<PartitionTask>(slot->store.get(), rules_,
                                                 task_options);
    CRM_ASSIGN_OR_RETURN(int64_t end, log_->EndOffset(p));
    if (slot->store->next_offset() > end) {
      return absl::DataLossError(absl::StrFormat(
          "partition %d: store %s is at offset %d but the log ends at %d "
          "(was the log replaced?)",
          p, slot->store->dir(), slot->store->next_offset(), end));
    }
    if (options_.exit_at_end) slot->stop_at = end;
    CRM_ASSIGN_OR_RETURN(slot->reader,
                         log_->OpenReader(p, slot->store->next_offset()));
    // Publish what a previous run committed but did not get out.
    CRM_RETURN_IF_ERROR(PublishOutbox(slot.get()));
    slot->last_flush = clock_->Now();
    slot->progress.partition = p;
    slot->progress.next_offset = slot->store->next_offset();
    slot->progress.end_offset = end;
    absl::MutexLock lock(&mu_);
    slots_.push_back(std::move(slot));
  }

  if (rules_->population_schedule().every_days() > 0 &&
      options_.scheduler == nullptr) {
    return absl::FailedPreconditionError(
        "the rules have a population_schedule but the worker was given no "
        "scheduler to run the pass");
  }
  absl::Time boundary = absl::InfiniteFuture();
  if (options_.scheduler != nullptr) {
    boundary = options_.scheduler->FirstBoundary(Stores());
  }
  while (true) {
    HoldAll(boundary);
    CRM_RETURN_IF_ERROR(RunPhase(stop));
    if ((stop != nullptr && stop->load()) || held_count_.load() == 0) {
      return absl::OkStatus();
    }
    if (held_count_.load() < static_cast<int>(slots_.size())) {
      LogHeldAtExit(boundary);  // exit_at_end: the others drained first
      return absl::OkStatus();
    }
    CRM_ASSIGN_OR_RETURN(boundary, PassAndRelease(boundary));
  }
}

std::vector<store::PartitionStore*> Worker::Stores() const {
  std::vector<store::PartitionStore*> stores;
  for (const auto& s : slots_) stores.push_back(s->store.get());
  return stores;
}

void Worker::HoldAll(absl::Time boundary) {
  boundary_ = boundary;
  held_count_.store(0);
  for (const auto& s : slots_) {
    s->task->HoldAt(boundary);
    s->held = false;
    s->wait_logged = false;
  }
}

absl::StatusOr<absl::Time> Worker::PassAndRelease(absl::Time boundary) {
  absl::Time earliest = absl::InfiniteFuture();
  for (const auto& s : slots_) {
    earliest = std::min(earliest, s->task->held_event_time());
  }
  CRM_ASSIGN_OR_RETURN(absl::Time next, options_.scheduler->RunPass(
                                            Stores(), boundary, earliest));
  for (const auto& s : slots_) {
    // The pass rewrote stored states: cached ones are stale.
    CRM_RETURN_IF_ERROR(s->task->DropCachedStates());
    CRM_RETURN_IF_ERROR(FlushPartition(s.get()));  // publish its transitions
  }
  return next;
}

void Worker::LogHeldAtExit(absl::Time boundary) const {
  std::vector<int32_t> held;
  int64_t held_back = 0;
  for (const auto& s : slots_) {
    if (!s->held) continue;
    held.push_back(s->partition);
    held_back += s->stop_at - s->task->next_offset();
  }
  LogLine(absl::StrFormat(
      "drained; partitions %s held at the population boundary %s (%d records "
      "held back until every partition reaches it)",
      absl::StrJoin(held, ", "), FormatRfc3339(boundary), held_back));
}

absl::Status Worker::RunPhase(const std::atomic<bool>* stop) {
  const int threads = std::max(
      1, std::min<int>(options_.threads, static_cast<int>(slots_.size())));
  std::vector<std::vector<Slot*>> assignment(threads);
  for (size_t i = 0; i < slots_.size(); ++i) {
    assignment[i % threads].push_back(slots_[i].get());
  }
  std::vector<absl::Status> results(threads);
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    pool.emplace_back([&, t] { results[t] = RunThread(assignment[t], stop); });
  }
  results[0] = RunThread(assignment[0], stop);
  for (auto& th : pool) th.join();
  for (const auto& s : results) CRM_RETURN_IF_ERROR(s);
  return absl::OkStatus();
}

}  // namespace crm::task

namespace crm::task {

// Answers the group's rebalances with the worker's own stores.
class Worker::GroupListener final : public GroupMembership::Listener {
 public:
  explicit GroupListener(Worker* worker) : worker_(worker) {}
  absl::StatusOr<std::vector<int64_t>> OnAssigned(
      absl::Span<const int32_t> partitions) override {
    return worker_->AssignPartitions(partitions);
  }
  absl::Status OnRevoked(absl::Span<const int32_t> partitions,
                         bool lost) override {
    return worker_->RevokePartitions(partitions, lost);
  }

 private:
  Worker* const worker_;
};

absl::StatusOr<std::vector<int64_t>> Worker::AssignPartitions(
    absl::Span<const int32_t> partitions) {
  std::vector<int64_t> offsets;
  for (int32_t p : partitions) {
    int64_t held_at = -1;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& s : slots_) {
        if (s->partition == p) held_at = s->task->next_offset();
      }
    }
    if (held_at >= 0) {  // already held (a repeated assignment): go on
      offsets.push_back(held_at);
      continue;
    }
    auto slot = std::make_unique<Slot>();
    slot->partition = p;
    const std::string dir = PartitionStoreDir(options_.store_dir, p);
    CRM_ASSIGN_OR_RETURN(slot->store,
                         store::PartitionStore::Open(*resources_, dir, p));
    slot->task = std::make_unique<PartitionTask>(slot->store.get(), rules_,
                                                 options_.task);
    const int64_t from = slot->store->next_offset();
    const absl::StatusOr<int64_t> begin_or = log_->BeginOffset(p);
    const absl::StatusOr<int64_t> end_or =
        begin_or.ok() ? log_->EndOffset(p) : begin_or;
    const absl::Status asked = end_or.status();
    int64_t begin = begin_or.ok() ? *begin_or : 0;
    int64_t end = end_or.ok() ? *end_or : 0;
    if (!asked.ok()) {
      if (asked.code() != absl::StatusCode::kUnavailable) return asked;
      // The leader is unreachable (a broker down during the rebalance):
      // start anyway. The consumer refuses an offset outside the log
      // itself (auto.offset.reset=error), so nothing is skipped.
      LogLine(absl::StrFormat(
          "partition %d: assigned at offset %d; log end unknown for now: %s", p,
          from, asked.message()));
      begin = 0;
      end = from;  // skips the checks below; progress shows no lag yet
    }
    if (from > end) {
      return absl::DataLossError(absl::StrFormat(
          "partition %d: store %s is at offset %d but the log ends at %d "
          "(was the log replaced?)",
          p, dir, from, end));
    }
    if (from < begin) {
      return absl::OutOfRangeError(absl::StrFormat(
          "partition %d: store %s is at offset %d but the log keeps only "
          "[%d, %d); the records in between are gone",
          p, dir, from, begin, end));
    }
    const absl::Time now = clock_->Now();
    if (!asked.ok()) {
      // Reported above; no rebuild target to report against.
    } else if (from == 0) {
      slot->rebuild_target = end;
      slot->rebuild_start = now;
      slot->rebuild_reported = now;
      LogLine(absl::StrFormat(
          "partition %d: assigned; no local state, rebuilding from offset 0 "
          "(%d records)",
          p, end));
      if (end == 0) ReportRebuild(slot.get(), /*force=*/true);
    } else {
      LogLine(absl::StrFormat(
          "partition %d: assigned; resuming from local state at offset %d "
          "(log end %d)",
          p, from, end));
    }
    // Publish what an earlier owner of this store committed but did not
    // get out.
    CRM_RETURN_IF_ERROR(PublishOutbox(slot.get()));
    slot->last_flush = now;
    slot->progress.partition = p;
    slot->progress.next_offset = from;
    slot->progress.end_offset = end;
    offsets.push_back(from);
    absl::MutexLock lock(&mu_);
    slots_.push_back(std::move(slot));
  }
  return offsets;
}

absl::Status Worker::RevokePartitions(absl::Span<const int32_t> partitions,
                                      bool lost) {
  absl::Status first;
  for (int32_t p : partitions) {
    std::unique_ptr<Slot> slot;
    {
      absl::MutexLock lock(&mu_);
      for (auto it = slots_.begin(); it != slots_.end(); ++it) {
        if ((*it)->partition == p) {
          slot = std::move(*it);
          slots_.erase(it);
          break;
        }
      }
    }
    if (slot == nullptr) continue;
    // Nothing is in flight here: the group calls back between batches. The
    // commit keeps this worker's state of the partition on disk, valid on
    // its own, whoever owns the partition next.
    absl::Status s = FlushPartition(slot.get());
    LogLine(absl::StrFormat(
        "partition %d: %s at offset %d (%s; state kept in %s)", p,
        lost ? "lost" : "revoked", slot->task->committed_offset(),
        s.ok() ? "committed" : std::string(s.message()), slot->store->dir()));
    if (first.ok()) first = s;
    slot->task.reset();
    slot->store.reset();
  }
  return first;
}

absl::Status Worker::ApplyGroupRecords(std::vector<log::LogRecord>* records) {
  std::vector<Slot*> touched;
  {
    absl::MutexLock lock(&mu_);
    for (log::LogRecord& r : *records) {
      Slot* slot = nullptr;
      for (const auto& s : slots_) {
        if (s->partition == r.partition) slot = s.get();
      }
      if (slot == nullptr) continue;  // not ours (any more)
      if (slot->buffer.empty()) touched.push_back(slot);
      slot->buffer.push_back(std::move(r));
    }
  }
  for (Slot* slot : touched) {
    const int64_t commits_before = slot->task->stats().commits;
    absl::Status s = slot->task->ApplyBatch(slot->buffer);
    slot->buffer.clear();
    CRM_RETURN_IF_ERROR(s);
    if (slot->task->stats().commits != commits_before ||
        clock_->Now() - slot->last_flush >= options_.commit_interval) {
      CRM_RETURN_IF_ERROR(FlushPartition(slot));
    }
  }
  return absl::OkStatus();
}

absl::Status Worker::RunGroup(GroupMembership* group,
                              const std::atomic<bool>* stop) {
  std::error_code ec;
  std::filesystem::create_directories(options_.store_dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrFormat(
        "cannot create %s: %s", options_.store_dir, ec.message()));
  }
  if (rules_->population_schedule().every_days() > 0) {
    LogLine(
        "population_schedule is set but not run in group mode (a member does "
        "not hold every partition): run `crm regrade` at the boundaries");
  }
  group_ = group;
  GroupListener listener(this);
  std::vector<log::LogRecord> records;
  absl::Status status;
  while (!(stop != nullptr && stop->load())) {
    records.clear();
    // One poll carries every owned partition's records: take up to a batch
    // per partition, so each ApplyBatch stays near max_batch records.
    size_t owned = 1;
    {
      absl::MutexLock lock(&mu_);
      owned = std::max<size_t>(1, slots_.size());
    }
    absl::StatusOr<size_t> n = group->Poll(
        &listener, &records, BatchLimit() * owned, options_.poll_timeout);
    if (!n.ok()) {
      status = n.status();
      break;
    }
    status = ApplyGroupRecords(&records);
    if (!status.ok()) break;
    // Commit idle partitions, and busy ones past commit_interval.
    std::vector<Slot*> due;
    {
      absl::MutexLock lock(&mu_);
      const absl::Time now = clock_->Now();
      for (const auto& s : slots_) {
        if (s->task->has_pending() &&
            (*n == 0 || now - s->last_flush >= options_.commit_interval)) {
          due.push_back(s.get());
        }
      }
    }
    for (Slot* slot : due) {
      status = FlushPartition(slot);
      if (!status.ok()) break;
    }
    if (!status.ok()) break;
  }
  // Revoke everything (commit, publish, close) and leave the group cleanly;
  // after an error too, so the others take over without waiting for the
  // session timeout.
  absl::Status closed = group->Close(&listener);
  group_ = nullptr;
  CRM_RETURN_IF_ERROR(status);
  return closed;
}

}  // namespace crm::task
