#include "engine/replay/replay.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "crm/v1/runtime.pb.h"
#include "engine/base/status_macros.h"
#include "engine/population/population_pass.h"
#include "engine/population/scheduled_pass.h"
#include "engine/store/customer_record.h"
#include "engine/store/partition_store.h"
#include "engine/store/serialize.h"
#include "engine/task/partition_task.h"
#include "engine/task/worker.h"
#include "projections/projector.h"

namespace crm::replay {
namespace {

namespace fs = std::filesystem;

// Advances every stored state of `store` to `until` and commits the changed
// records, keeping the offset. Returns the transitions that raised (counted
// only, as a replay's task counts those of events).
absl::StatusOr<int64_t> AdvanceStore(store::PartitionStore* store,
                                     const v1::Rules& rules, absl::Time until) {
  store::CommitBatch batch;
  batch.next_offset = store->next_offset();
  v1::StoredCustomer record;
  int64_t n = 0;
  CRM_RETURN_IF_ERROR(store->ForEachCustomer([&](absl::string_view key,
                                                 absl::string_view value)
                                                 -> absl::Status {
    if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      return absl::DataLossError(absl::StrCat(
          "partition ", store->partition(), ": stored record of customer ", key,
          " is not a valid crm.v1.StoredCustomer"));
    }
    n += static_cast<int64_t>(
        projections::AdvanceTo(until, rules, record.mutable_state()).size());
    store::StageCustomer(key, &record, &batch, value);
    return absl::OkStatus();
  }));
  if (!batch.customers.empty()) CRM_RETURN_IF_ERROR(store->Commit(batch));
  return n;
}

// Replays one target whose rules have a population_schedule with the
// worker itself (exit_at_end), so the cuts and passes are the production
// worker's, by the same code: partitions held at each boundary, the pass
// at it once all are held. Adds the worker's counts to `counts`.
absl::Status ReplayScheduled(log::EventLog& source, const Target& target,
                             const ReplayOptions& options,
                             const store::StoreResources& resources,
                             const task::TaskOptions& task_options,
                             task::TaskStats* counts) {
  population::ScheduledPassRunner scheduler(
      target.rules, population::PassRecordDir(target.data_dir, options.topic),
      nullptr);
  task::WorkerOptions wo;
  wo.store_dir = TargetStoreDir(target.data_dir, options.topic);
  wo.max_batch = options.batch_records > 0 ? options.batch_records
                                           : kPartitionsBatchRecords;
  wo.exit_at_end = true;
  wo.threads = options.threads;
  wo.scheduler = &scheduler;
  wo.task = task_options;
  task::Worker worker(&source, target.rules, &resources, wo, nullptr, nullptr);
  CRM_RETURN_IF_ERROR(worker.Run({}, nullptr));
  for (const task::PartitionProgress& p : worker.progress()) {
    counts->records += p.stats.records;
    counts->applied += p.stats.applied;
    counts->transitions += p.stats.transitions;
    counts->dead_letters += p.stats.dead_letters;
    counts->duplicates += p.stats.duplicates;
    counts->skipped += p.stats.skipped;
  }
  return absl::OkStatus();
}

// The threads replaying one partition together (Parallelism::kRuleSets;
// a single thread by partitions passes straight through) meet here
// between the steps of each batch. Cancel (after an error) releases every
// thread waiting and every later arrival for good.
class Barrier {
 public:
  explicit Barrier(int count) : count_(count) {}

  // Waits until all `count` threads arrived; false once cancelled.
  bool ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (cancelled_) return false;
    const uint64_t generation = generation_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return true;
    }
    cv_.wait(lock, [&] { return cancelled_ || generation_ != generation; });
    return !cancelled_;
  }

  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const int count_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
  bool cancelled_ = false;
};

// Reads a crew's batches on a thread of its own, one batch ahead: while
// the crew decodes and applies a batch, the next is read into the other of
// two pools, instead of the crew's other threads waiting for the read.
// The body given to Start fills batches (Free, then Push) in the order the
// crew takes them (Take, then Release once it is done with one).
class ReadAhead {
 public:
  struct Batch {
    int32_t partition = 0;
    // The records are views [0, records) of `bytes`, which holds their
    // keys and values one after another: one buffer reused batch after
    // batch, not two strings per record (a third less memory).
    std::string bytes;
    std::vector<log::LogRecordView> views;
    size_t records = 0;
    bool last = false;  // the partition's records end with these
    // Their customers, numbered by key on the reading thread too (in key
    // order for a last batch, whose records the tasks then stage in the
    // order the store writes them).
    task::PartitionTask::KeyNumbers numbers;
  };

  // With 2 slots a batch is read while the one before is applied; with 1
  // the next is read only once that one is released (a crew of one
  // thread, which no other thread waits for: a second pool would only
  // take memory).
  explicit ReadAhead(int slots) : slots_(static_cast<size_t>(slots)) {
    for (Batch& b : slots_) free_.push_back(&b);
  }
  ~ReadAhead() {
    Cancel();
    if (thread_.joinable()) thread_.join();
  }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  void Start(std::function<void(ReadAhead&)> body) {
    thread_ = std::thread([this, body = std::move(body)] { body(*this); });
  }

  // The reading side. A pool to fill, once one is free; null once
  // cancelled.
  Batch* Free() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return cancelled_ || !free_.empty(); });
    if (cancelled_) return nullptr;
    Batch* b = free_.front();
    free_.pop_front();
    return b;
  }
  void Push(Batch* b) {
    std::lock_guard<std::mutex> lock(mu_);
    ready_.push_back(b);
    cv_.notify_all();
  }
  // The reading failed: Take returns `s` once the batches read are taken.
  void Fail(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::move(s);
    cv_.notify_all();
  }

  // The crew's side. The next batch, once read.
  absl::StatusOr<Batch*> Take() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock,
             [&] { return cancelled_ || !ready_.empty() || !error_.ok(); });
    if (!ready_.empty()) {
      Batch* b = ready_.front();
      ready_.pop_front();
      return b;
    }
    if (!error_.ok()) return error_;
    return absl::CancelledError("replay: reading cancelled");
  }
  // `b` (from Take) may be read into again.
  void Release(Batch* b) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(b);
    cv_.notify_all();
  }
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Batch> slots_;  // never resized: Batch* stay valid
  std::deque<Batch*> free_, ready_;
  absl::Status error_;
  bool cancelled_ = false;
  std::thread thread_;
};

bool IsScheduled(const Target& t) {
  return t.rules->population_schedule().every_days() > 0;
}

bool IsEmptyOrMissing(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec);
}

}  // namespace

std::string TargetStoreDir(const std::string& data_dir,
                           const std::string& topic) {
  return (fs::path(data_dir) / "store" / topic).string();
}

absl::StatusOr<ReplayResult> Replay(log::EventLog& source,
                                    absl::Span<const Target> targets,
                                    const ReplayOptions& options) {
  if (targets.empty()) {
    return absl::InvalidArgumentError("replay: no rule set given");
  }
  {
    absl::flat_hash_set<std::string> dirs;
    for (const Target& t : targets) {
      if (!dirs.insert(fs::path(t.data_dir).lexically_normal().string())
               .second) {
        return absl::InvalidArgumentError(absl::StrCat(
            "replay: two rule sets would write into ", t.data_dir));
      }
    }
  }
  const absl::Time start = absl::Now();
  const int32_t partitions = source.partitions();
  const size_t n = targets.size();
  std::vector<int64_t> ends(partitions);
  int64_t total = 0;
  for (int32_t p = 0; p < partitions; ++p) {
    CRM_ASSIGN_OR_RETURN(ends[p], source.EndOffset(p));
    total += ends[p];
  }
  for (const Target& t : targets) {
    for (int32_t p = 0; p < partitions; ++p) {
      const std::string dir =
          task::PartitionStoreDir(TargetStoreDir(t.data_dir, options.topic), p);
      if (!IsEmptyOrMissing(dir)) {
        return absl::FailedPreconditionError(
            absl::StrCat("replay: store ", dir,
                         " already exists; replay into a new "
                         "directory"));
      }
    }
  }

  store::StoreOptions store_options;
  store_options.block_cache_bytes = 64 << 20;
  store_options.write_buffer_budget_bytes = size_t{256} << 20;
  store_options.disable_wal = true;
  store_options.ingest_min_customers = options.ingest_min_customers;
  store::StoreResources resources(store_options);

  // One budget per rule set, shared by its partitions, bounded by bytes
  // only: commits come when it is full, not after so many states or
  // records, so a customer is rewritten only when memory runs short.
  constexpr int64_t kNoLimit = int64_t{1} << 40;
  std::vector<task::TaskOptions> task_options(n);
  for (size_t k = 0; k < n; ++k) {
    task_options[k].topic = options.topic;
    // Counted, not stored: nothing publishes a scratch store's outbox,
    // and its histories hold the same changes.
    task_options[k].transitions_to_outbox = false;
    task_options[k].state_cache_entries = static_cast<size_t>(kNoLimit);
    task_options[k].commit_every_records = options.commit_every_records > 0
                                               ? options.commit_every_records
                                               : static_cast<size_t>(kNoLimit);
    task_options[k].commit_max_dirty = static_cast<size_t>(kNoLimit);
    task_options[k].budget = std::make_shared<task::StateBudget>();
    task_options[k].budget->max_cached = kNoLimit;
    task_options[k].budget->max_dirty = kNoLimit;
    task_options[k].budget->max_bytes = std::max<int64_t>(
        1, options.state_memory_bytes / static_cast<int64_t>(n));
  }

  // stores[k][p]: rule set k, partition p. Opened below (while the first
  // records are read), each used by one thread. Scheduled targets are
  // replayed by a worker, which opens its own.
  std::vector<std::vector<std::unique_ptr<store::PartitionStore>>> stores(n);
  std::vector<size_t> plain;  // targets replayed here, one task each
  for (size_t k = 0; k < n; ++k) {
    if (!IsScheduled(targets[k])) plain.push_back(k);
  }

  std::atomic<int64_t> read{0}, applied{0}, after_until{0};
  std::vector<std::atomic<int64_t>> transitions(n), dead(n), dups(n),
      applied_by(n), customers(n);
  for (size_t k = 0; k < n; ++k) {
    transitions[k] = dead[k] = dups[k] = applied_by[k] = customers[k] = 0;
  }
  std::atomic<bool> failed{false};
  std::mutex mu;
  absl::Status first_error;
  auto fail = [&](absl::Status s) {
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.ok()) first_error = std::move(s);
    failed = true;
  };

  const int threads =
      std::max(1, std::min<int>(options.threads, std::max(1, partitions)));
  // With Parallelism::kRuleSets the threads split the rule sets of one
  // partition at a time instead of taking partitions: the same work, the
  // parsed states of one partition in memory at a time instead of one per
  // thread. Each state is still touched by one thread only.
  const int lanes = static_cast<int>(plain.size());
  const bool split_rule_sets =
      threads > 1 && lanes > 1 &&
      (options.parallel == Parallelism::kRuleSets ||
       (options.parallel == Parallelism::kAuto && lanes % threads == 0));
  const size_t batch_records = options.batch_records > 0 ? options.batch_records
                               : split_rule_sets         ? kRuleSetsBatchRecords
                                                 : kPartitionsBatchRecords;

  // Reads the next records of partition p, up to its end offset at the
  // start, into `b` (its buffers reused batch after batch); returns how
  // many, 0 when the reader had nothing yet.
  auto poll = [&](int32_t p, log::PartitionReader& reader, ReadAhead::Batch& b,
                  int& empty_polls) -> absl::StatusOr<size_t> {
    const size_t want = static_cast<size_t>(std::min<int64_t>(
        static_cast<int64_t>(batch_records), ends[p] - reader.position()));
    size_t n = 0;
    b.bytes.clear();
    // Room for `more` bytes; the views taken so far follow the bytes when
    // they move to a larger buffer.
    auto reserve = [&](size_t more) {
      if (b.bytes.size() + more <= b.bytes.capacity()) return;
      std::string larger;
      larger.reserve(std::max(
          {b.bytes.capacity() * 2, b.bytes.size() + more, size_t{64} << 10}));
      larger.append(b.bytes);
      const char* from = b.bytes.data();
      auto moved = [&](absl::string_view v) {
        return absl::string_view(larger.data() + (v.data() - from), v.size());
      };
      for (size_t i = 0; i < n; ++i) {
        b.views[i].key = moved(b.views[i].key);
        b.views[i].value = moved(b.views[i].value);
      }
      b.bytes.swap(larger);
    };
    CRM_ASSIGN_OR_RETURN(
        size_t got,
        reader.PollViews(
            want, absl::Seconds(1), [&](const log::LogRecordView& v) {
              reserve(v.key.size() + v.value.size());
              const size_t at = b.bytes.size();
              b.bytes.append(v.key.data(), v.key.size());
              b.bytes.append(v.value.data(), v.value.size());
              if (n == b.views.size()) b.views.emplace_back();
              log::LogRecordView& r = b.views[n++];
              r.partition = v.partition;
              r.offset = v.offset;
              r.timestamp_ms = v.timestamp_ms;
              r.key = absl::string_view(b.bytes.data() + at, v.key.size());
              r.value = absl::string_view(b.bytes.data() + at + v.key.size(),
                                          v.value.size());
            }));
    if (got == 0) {
      if (++empty_polls > 30) {
        return absl::UnavailableError(absl::StrCat(
            "replay: partition ", p, " delivered nothing for 30 s at offset ",
            reader.position(), " of ", ends[p]));
      }
      return 0;
    }
    empty_polls = 0;
    // Records appended after the start are left for another replay.
    while (n > 0 && b.views[n - 1].offset >= ends[p]) --n;
    return n;
  };

  // The end of partition p for the targets `mine` (some of plain):
  // the last commit, the counts, the advance to `until`, and the table
  // files written and customers counted on this thread, in parallel with
  // the other threads, not one store after another when the stores close.
  auto finish_partition =
      [&](int32_t p, std::vector<std::unique_ptr<task::PartitionTask>>& tasks,
          const std::vector<size_t>& mine) -> absl::Status {
    for (size_t k : mine) {
      CRM_RETURN_IF_ERROR(tasks[k]->FlushAndDrop());
      const task::TaskStats& st = tasks[k]->stats();
      if (k == plain.front()) applied += st.applied;
      applied_by[k] += st.applied;
      transitions[k] += st.transitions;
      dead[k] += st.dead_letters;
      dups[k] += st.duplicates;
      tasks[k].reset();
    }
    if (options.until != absl::InfiniteFuture()) {
      for (size_t k : mine) {
        CRM_ASSIGN_OR_RETURN(
            int64_t t,
            AdvanceStore(stores[k][p].get(), *targets[k].rules, options.until));
        transitions[k] += t;
      }
    }
    for (size_t k : mine) {
      CRM_RETURN_IF_ERROR(stores[k][p]->FlushMemtables());
      CRM_ASSIGN_OR_RETURN(uint64_t c, stores[k][p]->CountCustomers());
      customers[k] += static_cast<int64_t>(c);
    }
    return absl::OkStatus();
  };

  // Threads that replay a partition together (one thread by partitions,
  // `split` threads with the rule sets split), meeting at every batch.
  struct Crew {
    explicit Crew(int size)
        : size(size), barrier(size), ahead(size > 1 ? 2 : 1) {}
    const int size;
    Barrier barrier;
    // The crew's partitions' records, read on a thread of their own (ahead
    // when the crew has several threads).
    ReadAhead ahead;
    // The batch taken (by member 0) and what it decodes to, one share by
    // each member. Applied whole by every member, so that each state is
    // visited once a batch per rule set, not once a share.
    ReadAhead::Batch* taken = nullptr;
    task::DecodedBatch batch;
    size_t records = 0;
    bool partition_done = false;
    // The records reach the end of the partition: the tasks stage each
    // customer as soon as it is applied (ExpectLastBatch).
    bool last_batch = false;
    // Which member applies plain[i] (round robin for the first partition)
    // and the time its tasks took so far (each entry written by the
    // member that applies it, read by member 0 between partitions).
    std::vector<int> member_of;
    std::vector<std::atomic<int64_t>> spent_nanos;

    // Spreads the rule sets over the members for the next partition by
    // the time each took so far, the slowest first, each to the member
    // with the least: rule sets differ in cost, and a member done early
    // waits for the others at every batch. Member 0, while the others
    // wait at the barrier.
    void Rebalance() {
      std::vector<size_t> order(member_of.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return spent_nanos[a].load() > spent_nanos[b].load();
      });
      std::vector<int64_t> load(static_cast<size_t>(size), 0);
      for (size_t i : order) {
        const size_t least = static_cast<size_t>(
            std::min_element(load.begin(), load.end()) - load.begin());
        member_of[i] = static_cast<int>(least);
        load[least] += spent_nanos[i].load();
      }
    }
  };
  // Reads partitions first, first + step, ... for `ahead`, every batch up
  // to the partition's end at the start. Stops when the crew cancels it,
  // and fails when the replay failed, so that a crew waiting for it is
  // released.
  auto read_partitions = [&](ReadAhead& ahead, int32_t first, int32_t step) {
    for (int32_t p = first; p < partitions; p += step) {
      absl::StatusOr<std::unique_ptr<log::PartitionReader>> reader =
          source.OpenReader(p, 0);
      if (!reader.ok()) return ahead.Fail(reader.status());
      int empty_polls = 0;
      for (bool last = false; !last;) {
        ReadAhead::Batch* b = ahead.Free();
        if (b == nullptr) return;
        b->partition = p;
        b->records = 0;
        while (b->records == 0 && (*reader)->position() < ends[p]) {
          if (failed) {
            return ahead.Fail(absl::CancelledError("replay: failed"));
          }
          absl::StatusOr<size_t> n = poll(p, **reader, *b, empty_polls);
          if (!n.ok()) return ahead.Fail(n.status());
          b->records = *n;
        }
        last = (*reader)->position() >= ends[p];
        b->last = last;
        task::PartitionTask::NumberKeys(
            absl::Span<const log::LogRecordView>(b->views.data(), b->records),
            last, &b->numbers);
        ahead.Push(b);
      }
    }
  };
  // Member t's share of partition p: the rule sets plain[t], plain[t +
  // size], ...; every step of a batch between two meetings.
  auto run_share = [&](int32_t p, Crew& crew, int t) -> absl::Status {
    std::vector<size_t> mine;
    for (size_t i = 0; i < plain.size(); ++i) {
      if (crew.member_of[i] == t) mine.push_back(plain[i]);
    }
    std::vector<std::unique_ptr<task::PartitionTask>> tasks(n);
    std::vector<int64_t> counted(plain.size(), 0);  // of apply_nanos
    for (size_t k : mine) {
      tasks[k] = (std::make_unique<task::PartitionTask>(
          stores[k][p].get(), targets[k].rules, task_options[k]));
    }
    std::vector<task::PartitionTask*> my_tasks;
    for (size_t k : mine) my_tasks.push_back(tasks[k].get());
    bool ended = false;  // member 0: the partition's last batch taken
    for (;;) {
      if (t == 0) {
        crew.records = 0;
        crew.partition_done = ended || failed;
        if (crew.partition_done) crew.Rebalance();
        if (!crew.partition_done) {
          CRM_ASSIGN_OR_RETURN(crew.taken, crew.ahead.Take());
          if (crew.taken->partition != p) {
            return absl::InternalError(
                absl::StrCat("replay: read partition ", crew.taken->partition,
                             " where partition ", p, " was expected"));
          }
          crew.records = crew.taken->records;
          crew.last_batch = ended = crew.taken->last;
          task::PartitionTask::PrepareDecode(
              absl::Span<const log::LogRecordView>(crew.taken->views.data(),
                                                   crew.records),
              &crew.taken->numbers, &crew.batch);
        }
      }
      if (!crew.barrier.ArriveAndWait()) return absl::OkStatus();
      if (crew.partition_done) break;
      const size_t from = crew.records * static_cast<size_t>(t) / crew.size;
      const size_t to = crew.records * static_cast<size_t>(t + 1) / crew.size;
      task::PartitionTask::DecodeRange(from, to, &crew.batch);
      after_until += static_cast<int64_t>(
          task::PartitionTask::SkipAfter(options.until, &crew.batch, from, to));
      if (!crew.barrier.ArriveAndWait()) return absl::OkStatus();
      if (crew.records > 0) {
        if (crew.last_batch) {
          for (task::PartitionTask* task : my_tasks) task->ExpectLastBatch();
        }
        CRM_RETURN_IF_ERROR(
            task::PartitionTask::ApplyDecodedTogether(my_tasks, crew.batch));
        for (size_t i = 0; i < plain.size(); ++i) {
          if (crew.member_of[i] != t) continue;
          const int64_t spent = tasks[plain[i]]->stats().apply_nanos;
          crew.spent_nanos[i] += spent - std::exchange(counted[i], spent);
        }
      }
      if (t == 0) read += static_cast<int64_t>(crew.records);
      // The batch's records may be read into again after this.
      if (!crew.barrier.ArriveAndWait()) return absl::OkStatus();
      if (t == 0) {
        crew.ahead.Release(crew.taken);
        crew.taken = nullptr;
      }
    }
    return finish_partition(p, tasks, mine);
  };

  // By partitions: a crew of one per thread, partition p on thread p %
  // threads. Split: one crew of `split` threads for every partition.
  const int split = split_rule_sets ? std::min(threads, lanes) : 1;
  std::vector<std::unique_ptr<Crew>> crews;
  for (int c = 0; c < (split_rule_sets ? 1 : threads); ++c) {
    crews.push_back(std::make_unique<Crew>(split));
    Crew& crew = *crews.back();
    crew.member_of.resize(plain.size());
    for (size_t i = 0; i < plain.size(); ++i) {
      crew.member_of[i] = static_cast<int>(i % static_cast<size_t>(split));
    }
    crew.spent_nanos = std::vector<std::atomic<int64_t>>(plain.size());
    for (auto& spent : crew.spent_nanos) spent = 0;
    if (plain.empty()) continue;
    crews.back()->ahead.Start([&, c](ReadAhead& ahead) {
      read_partitions(ahead, split_rule_sets ? 0 : c,
                      split_rule_sets ? 1 : threads);
    });
  }
  for (size_t k : plain) {
    const std::string store_dir =
        TargetStoreDir(targets[k].data_dir, options.topic);
    std::error_code ec;
    fs::create_directories(store_dir, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat(
          "replay: cannot create ", store_dir, ": ", ec.message()));
    }
    for (int32_t p = 0; p < partitions; ++p) {
      CRM_ASSIGN_OR_RETURN(
          auto s, store::PartitionStore::Open(
                      resources, task::PartitionStoreDir(store_dir, p), p));
      stores[k].push_back(std::move(s));
    }
  }
  std::atomic<int> done_threads{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads && !plain.empty(); ++t) {
    pool.emplace_back([&, t] {
      Crew& crew = *crews[split_rule_sets ? 0 : t];
      const int member = split_rule_sets ? t : 0;
      const int32_t first = split_rule_sets ? 0 : t;
      const int32_t step = split_rule_sets ? 1 : threads;
      for (int32_t p = first; member < crew.size && p < partitions && !failed;
           p += step) {
        if (absl::Status s = run_share(p, crew, member); !s.ok()) {
          fail(std::move(s));
          crew.barrier.Cancel();
        }
      }
      ++done_threads;
    });
  }
  for (int tick = 1; !plain.empty() && done_threads.load() < threads; ++tick) {
    absl::SleepFor(absl::Milliseconds(100));
    if (options.progress && tick % 5 == 0) {  // about twice a second
      options.progress({read.load(), total, absl::Now() - start});
    }
  }
  for (std::thread& th : pool) th.join();
  if (!first_error.ok()) return first_error;
  for (size_t k = 0; k < n; ++k) {
    if (!IsScheduled(targets[k])) continue;
    task::TaskStats counts;
    // The worker's tasks skip what is after `until` themselves (the hold
    // at a boundary passes over skipped records), so the passes run at
    // the boundaries up to it, as on the log cut there.
    task::TaskOptions scheduled_options = task_options[k];
    scheduled_options.skip_after = options.until;
    CRM_RETURN_IF_ERROR(ReplayScheduled(source, targets[k], options, resources,
                                        scheduled_options, &counts));
    if (plain.empty() && read.load() == 0) {  // the first target counts
      read += counts.records;
      applied += counts.applied;
      after_until += counts.skipped;
    }
    applied_by[k] += counts.applied;
    transitions[k] += counts.transitions;
    dead[k] += counts.dead_letters;
    dups[k] += counts.duplicates;
    CRM_ASSIGN_OR_RETURN(
        auto opened,
        population::OpenPartitionStores(
            resources, TargetStoreDir(targets[k].data_dir, options.topic),
            /*read_only=*/false));
    stores[k] = std::move(opened);
    if (options.until != absl::InfiniteFuture()) {
      for (auto& s : stores[k]) {
        CRM_ASSIGN_OR_RETURN(
            int64_t t, AdvanceStore(s.get(), *targets[k].rules, options.until));
        transitions[k] += t;
      }
    }
  }
  if (options.progress)
    options.progress({read.load(), total, absl::Now() - start});

  ReplayResult result;
  result.partitions = partitions;
  result.records = read.load();
  result.applied = applied.load();
  result.after_until = after_until.load();
  for (size_t k = 0; k < n; ++k) {
    TargetResult r;
    r.rules_version = targets[k].rules->version();
    r.data_dir = targets[k].data_dir;
    r.applied = applied_by[k].load();
    r.transitions = transitions[k].load();
    r.dead_letters = dead[k].load();
    r.duplicates = dups[k].load();
    r.customers = customers[k].load();
    std::vector<store::PartitionStore*> raw;
    for (auto& s : stores[k]) {
      raw.push_back(s.get());
      if (!IsScheduled(targets[k])) continue;  // counted by finish_partition
      CRM_ASSIGN_OR_RETURN(uint64_t c, s->CountCustomers());
      r.customers += static_cast<int64_t>(c);
    }
    if (options.population_pass && r.customers > 0) {
      population::PassOptions pass_options;
      if (options.until != absl::InfiniteFuture()) {
        pass_options.as_of = options.until;
      }
      CRM_ASSIGN_OR_RETURN(
          auto pass,
          population::RunPopulationPass(raw, *targets[k].rules, pass_options));
      for (const auto& part : pass.record.partitions()) {
        r.transitions += static_cast<int64_t>(part.transitions());
      }
      CRM_RETURN_IF_ERROR(
          population::WritePassRecord(
              population::PassRecordDir(targets[k].data_dir, options.topic),
              pass.record)
              .status());
    }
    result.targets.push_back(std::move(r));
  }
  result.elapsed = absl::Now() - start;
  return result;
}

}  // namespace crm::replay
