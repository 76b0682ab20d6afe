#include "engine/task/worker.h"

#include <filesystem>
#include <thread>
#include <utility>

#include "absl/strings/str_format.h"
#include "crm/v1/runtime.pb.h"
#include "engine/base/status_macros.h"

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
  std::vector<log::LogRecord> buffer;
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

absl::Status Worker::PublishOutbox(Slot* slot) {
  while (true) {
    CRM_ASSIGN_OR_RETURN(auto records,
                         slot->store->ReadOutbox(slot->outbox_from, 1000));
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

absl::Status Worker::FlushPartition(Slot* slot) {
  CRM_RETURN_IF_ERROR(slot->task->Flush());
  slot->last_flush = clock_->Now();
  CRM_RETURN_IF_ERROR(PublishOutbox(slot));
  CRM_ASSIGN_OR_RETURN(int64_t end, log_->EndOffset(slot->partition));
  absl::MutexLock lock(&mu_);
  slot->progress.next_offset = slot->task->committed_offset();
  slot->progress.end_offset = end;
  slot->progress.stats = slot->task->stats();
  return absl::OkStatus();
}

absl::Status Worker::StepPartition(Slot* slot, bool* did_work, bool* drained) {
  *did_work = false;
  const int64_t next = slot->task->next_offset();
  if (slot->stop_at >= 0 && next >= slot->stop_at) {
    CRM_RETURN_IF_ERROR(FlushPartition(slot));
    *drained = true;
    return absl::OkStatus();
  }
  slot->buffer.clear();
  size_t want = options_.max_batch;
  if (slot->stop_at >= 0) {
    want = std::min<size_t>(want, static_cast<size_t>(slot->stop_at - next));
  }
  CRM_ASSIGN_OR_RETURN(
      size_t n, slot->reader->Poll(&slot->buffer, want, options_.poll_timeout));
  if (n == 0) {
    // Idle: commit what is pending so views and lag are current.
    if (slot->task->has_pending()) CRM_RETURN_IF_ERROR(FlushPartition(slot));
    return absl::OkStatus();
  }
  const int64_t commits_before = slot->task->stats().commits;
  CRM_RETURN_IF_ERROR(slot->task->ApplyBatch(slot->buffer));
  *did_work = true;
  if (slot->task->stats().commits != commits_before ||
      clock_->Now() - slot->last_flush >= options_.commit_interval) {
    CRM_RETURN_IF_ERROR(FlushPartition(slot));
  }
  return absl::OkStatus();
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
