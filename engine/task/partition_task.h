#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crm/v1/events.pb.h"
#include "crm/v1/rules.pb.h"
#include "crm/v1/runtime.pb.h"
#include "crm/v1/views.pb.h"
#include "engine/log/event_log.h"
#include "engine/store/partition_store.h"
#include "google/protobuf/arena.h"

namespace crm::task {

// Bounds the parsed customer states that all partition tasks of one worker
// hold together: cached (clean, evictable after a commit) and dirty
// (uncommitted). Shared by every copy of one TaskOptions. Thread-safe.
struct StateBudget {
  // Parsed states kept in memory by all tasks together. A parsed state
  // takes 6-9 KB on its arena (about 4x its serialized size). Default:
  // 15,000 (what keeps a worker under 1 GiB with 1,000,000 customers)
  int64_t max_cached = 15000;
  // Uncommitted states of all tasks together; reaching it makes each task
  // commit at its next batch. Default: 7,500
  int64_t max_dirty = 7500;
  // Bytes of parsed states (their arenas) and uncommitted outbox records
  // of all tasks together; 0 for no bound. Reaching it makes each task
  // commit at its next batch and then drop its least recently used states
  // until the total is at 3/4 of it. Counted at each applied event, so it
  // runs over by at most what one batch grows. Default: 0
  int64_t max_bytes = 0;
  std::atomic<int64_t> cached{0};
  std::atomic<int64_t> dirty{0};
  std::atomic<int64_t> bytes{0};
};

struct TaskOptions {
  // Parsed customer states one task keeps between commits at most (least
  // recently used dropped first, after a commit); the worker-wide `budget`
  // usually binds first. A dropped state is read back from the store when
  // needed. Default: 50,000
  size_t state_cache_entries = 50000;
  // ApplyBatch commits once this many records were applied since the last
  // commit... Default: 20,000
  size_t commit_every_records = 20000;
  // ... or once this task has this many customers with uncommitted changes
  // (or the budget's dirty limit is reached). Default: 20,000
  size_t commit_max_dirty = 20000;
  // Topic name recorded in dead letters. Default: "crm.events"
  std::string topic = "crm.events";
  // Whether the transitions that applying events raises go to the outbox
  // (to be published); else they are only counted (a replay's scratch
  // store, whose grade and stage histories hold the same changes).
  // Default: true
  bool transitions_to_outbox = true;
  // ApplyBatch skips valid records with occurred_at after this time (their
  // offsets consumed; neither applied nor dead letters; counted in
  // TaskStats::skipped): a replay --until. Default: InfiniteFuture (none)
  absl::Time skip_after = absl::InfiniteFuture();
  // Memory bound shared by all tasks built from copies of these options.
  std::shared_ptr<StateBudget> budget = std::make_shared<StateBudget>();
};

// Counters since the task was created. Monotonic.
struct TaskStats {
  int64_t records = 0;       // log records seen (after redelivery skip)
  int64_t applied = 0;       // events applied to views
  int64_t duplicates = 0;    // events skipped: event_id already applied
  int64_t dead_letters = 0;  // undecodable or invalid records
  // Derived events raised (in the outbox unless !transitions_to_outbox)
  int64_t transitions = 0;
  int64_t redelivered = 0;  // records below the stored offset, skipped
  int64_t skipped = 0;  // valid records marked skipped (e.g. after skip_after)
  int64_t batches = 0;  // ApplyBatch calls with records
  int64_t commits = 0;  // store commits
  int64_t state_bytes_written = 0;  // serialized states committed
  int64_t state_loads = 0;          // customer states read from the store
  // Customer records written to a commit's table files as they were staged
  // (a last batch in key order: store::TableStream)
  int64_t records_streamed = 0;
  // Steady-clock nanoseconds spent applying events (ApplySteps): how long
  // the task's rules take, for a caller that spreads tasks over threads
  // (a replay's rule sets). Nothing a view depends on.
  int64_t apply_nanos = 0;
};

// Log records decoded and validated once, so one batch can be applied to
// several tasks (replay under several rule sets) without decoding it again.
// Filled by PartitionTask::Decode; a caller may mark more records skipped.
struct DecodedBatch {
  // Views of the records' bytes, which must outlive the batch's use.
  absl::Span<const log::LogRecordView> records;
  // The views when the batch was decoded from LogRecords.
  std::vector<log::LogRecordView> views;
  // The event decoded from records[i] (empty when it did not decode).
  const v1::Envelope& event(size_t i) const { return *events[i]; }
  // On `arena`, which the next Decode resets: decoding allocates from a
  // block reused batch after batch instead of the heap.
  std::vector<v1::Envelope*> events;
  std::unique_ptr<char[]> arena_block;
  std::unique_ptr<google::protobuf::Arena> arena;
  // Empty when records[i] is valid, else the dead-letter reason.
  std::vector<std::string> errors;
  // EventFingerprint of each valid event's id, computed once when decoded
  // rather than by every task the batch is applied to (a replay's rule
  // sets).
  std::vector<uint64_t> fingerprints;
  // The customer of each valid records[i] as a number, customers numbered
  // in the order first met (kNoCustomer for the others), and each
  // number's customer id (a view of a record key): filled by
  // PartitionTask::NumberCustomers (Decode does it), so that the tasks
  // applying the batch need not each look up every record's customer.
  // Empty until then; a task numbers an unnumbered batch for itself.
  static constexpr uint32_t kNoCustomer = UINT32_MAX;
  std::vector<uint32_t> customer;
  std::vector<absl::string_view> customer_ids;
  // The customers are numbered in key order (NumberCustomers with
  // in_key_order): a task takes them, and a last batch stages them, in the
  // order the store keeps them.
  bool in_key_order = false;
  // Non-zero when records[i] is valid but not to be applied (e.g. after a
  // replay's --until): neither applied nor a dead letter; its offset is
  // still consumed. Bytes, not bits, so that threads decoding disjoint
  // ranges (DecodeRange) write disjoint memory.
  std::vector<uint8_t> skipped;
};

// Applies one partition's log records to the per-customer views and commits
// them, together with the next offset, the dedup keys of the applied events
// and the outbox records (dead letters, transitions), in one WriteBatch of
// the partition's store. That single commit is what makes the effect
// exactly-once: a restarted task resumes from the store's offset, so a
// record is applied in no commit or in exactly one.
//
// Commits are write-behind: changes collect in memory over several batches
// (bounded by commit_every_records and commit_max_dirty) and go to the
// store in one WriteBatch, so a customer touched many times between commits
// is written once. A crash loses only uncommitted work, which the restarted
// task re-applies from the log: views never run ahead of their offset.
//
// Per record: decode -> validate -> dedupe by event_id -> ApplyEvent on the
// customer's state. A record that cannot be decoded or fails validation
// becomes a dead letter with its reason; the batch goes on.
//
// Dedup: each customer record carries the sorted 64-bit fingerprints of the
// events applied to it (EventFingerprint), so checking and recording an
// event id costs no store access beyond the state read that applying needs
// anyway. Duplicates are always of the same customer (same event, same
// key).
//
// Hot states stay parsed in a cache (least recently used dropped first,
// after a commit), each batch reads the states it misses with one
// MultiGet, and a customer touched many times between commits is written
// once. Within a batch the records are applied customer by customer (each
// customer's in log order) and the outbox records put back in log order,
// so a state is walked while it is in the CPU cache. Results do not depend
// on batch sizes.
//
// Owned and used by one thread. The store and rules must outlive it.
class PartitionTask {
 public:
  PartitionTask(store::PartitionStore* store, const v1::Rules* rules,
                TaskOptions options = {});
  // Gives back its share of the budget.
  ~PartitionTask();

  // Applies `records` (ascending offsets of this task's partition; those
  // below next_offset() are skipped as redelivered), committing when the
  // uncommitted work reaches the limits in TaskOptions. On error everything
  // uncommitted is dropped (cache cleared, next_offset() back to
  // committed_offset()) and the caller must read again from there.
  // kUnavailable / kDataLoss from the store.
  absl::Status ApplyBatch(absl::Span<const log::LogRecord> records);

  // Decodes and validates `records` into `out` (reusing its buffers); the
  // first stage of ApplyBatch. Pure: touches no task.
  static void Decode(absl::Span<const log::LogRecord> records,
                     DecodedBatch* out);
  // Decode in two steps, for threads that decode one batch together:
  // PrepareDecode sizes `out` for `records` (resetting its arena), then
  // DecodeRange decodes records [from, to) into it. DecodeRange may run
  // on several threads at once for disjoint ranges (the arena is
  // thread-safe); Decode is PrepareDecode and DecodeRange over all.
  static void PrepareDecode(absl::Span<const log::LogRecord> records,
                            DecodedBatch* out);
  // The same for records held as views (of a caller's buffer).
  static void PrepareDecode(absl::Span<const log::LogRecordView> records,
                            DecodedBatch* out);
  static void DecodeRange(size_t from, size_t to, DecodedBatch* out);
  // Numbers the customers of the decoded batch (DecodedBatch::customer),
  // once for all the tasks it is applied to: in the order first met, or
  // with `in_key_order` by customer id (a sort of the batch's customers,
  // worth it for a last batch: ExpectLastBatch then stages the records in
  // the order the store writes them, and the commit need not sort them).
  // A task takes a batch's customers in the order of their numbers.
  // After DecodeRange of all of it; one thread.
  static void NumberCustomers(DecodedBatch* batch, bool in_key_order = false);
  // The same numbering by record keys alone, before decoding, so that it
  // can be done while another batch is applied (a replay's read-ahead):
  // every record's key numbered. PrepareDecode takes it into the batch,
  // and DecodeRange then gives the records that do not decode or validate
  // kNoCustomer; a customer whose every record is such keeps a number
  // that no record has, which the tasks pass over. The tasks then apply
  // the batch as when NumberCustomers numbered it.
  struct KeyNumbers {
    std::vector<uint32_t> customer;
    std::vector<absl::string_view> customer_ids;
    bool in_key_order = false;
  };
  static void NumberKeys(absl::Span<const log::LogRecordView> records,
                         bool in_key_order, KeyNumbers* out);
  // PrepareDecode, taking `numbers` (of these records, NumberKeys) into
  // the batch (their vectors swapped with the batch's).
  static void PrepareDecode(absl::Span<const log::LogRecordView> records,
                            KeyNumbers* numbers, DecodedBatch* out);
  // Marks skipped every valid record of `batch` in [from, to) (all by
  // default) with occurred_at after `t` (none for InfiniteFuture); returns
  // how many it marked. ApplyBatch does it with TaskOptions::skip_after.
  // Like DecodeRange, safe on disjoint ranges at once.
  static size_t SkipAfter(absl::Time t, DecodedBatch* batch, size_t from = 0,
                          size_t to = SIZE_MAX);
  // The rest of ApplyBatch for a batch decoded once: dead letters for its
  // errors, then dedupe, apply and commit as ApplyBatch. `batch` is not
  // changed, so it can be applied to several tasks in turn. Same contract.
  absl::Status ApplyDecoded(const DecodedBatch& batch);
  // ApplyDecoded of one batch on several tasks (a replay's rule sets on one
  // thread), customer by customer: a customer's events are applied under
  // every task's rules before the next customer's, so the tasks after the
  // first find them still in the CPU cache. Each task ends as after its
  // own ApplyDecoded(batch), in which it could have run instead. When a
  // task cannot load a state, the tasks started on the batch drop their
  // uncommitted work, as a failed ApplyDecoded does (the caller reads
  // again from their committed offsets); a failed commit of one task does
  // not keep the others from finishing. Returns the first error.
  static absl::Status ApplyDecodedTogether(
      absl::Span<PartitionTask* const> tasks, const DecodedBatch& batch);

  // Holds the task before its first valid record (decoded and validated;
  // not skipped) with occurred_at >= `boundary`: ApplyBatch / ApplyDecoded
  // apply records only up to it, so next_offset() stops at that record's
  // offset and the caller keeps the rest for after the release. Records
  // that are dead letters before it are applied (dead-lettered) as usual.
  // A scheduled population pass at `boundary` then sees exactly the log
  // before the cut, whatever the batch sizes. InfiniteFuture (the
  // default) holds nothing. Clears held().
  void HoldAt(absl::Time boundary);
  // Whether the last batch stopped at the hold; next_offset() is then the
  // held record's offset and held_event_time() its occurred_at.
  bool held() const { return held_; }
  absl::Time held_event_time() const { return held_event_time_; }

  // Declares the next batch applied (ApplyBatch, ApplyDecoded or
  // ApplyDecodedTogether) the task's last before Flush or FlushAndDrop,
  // when no hold cuts it short: then each customer's state is staged for
  // that commit (serialized, as the commit would) as soon as the batch's
  // events of that customer are applied, and its parsed state is freed.
  // The parsed states of a partition replayed in one batch are then never
  // all in memory together, and each is serialized while it is still in
  // the CPU cache. The commit and the stores are the same as without it.
  // A batch that meets a staged customer before that commit fails with
  // kFailedPrecondition (and drops the uncommitted work).
  void ExpectLastBatch() { last_batch_next_ = true; }

  // Drops every cached state (they are read back from the store when
  // needed), after a population pass rewrote the stored ones. Nothing
  // may be pending: call Flush first (kFailedPrecondition otherwise).
  absl::Status DropCachedStates();

  // Commits everything applied so far (no-op when nothing is pending).
  // Call when the log is idle, before stopping, and on a time interval.
  // Same error contract as ApplyBatch.
  absl::Status Flush() { return Commit(/*keep_states=*/true); }
  // Flush, then drops every cached state: for a task whose partition is
  // done (the end of a replay), so states are not compacted only to be
  // freed. Same error contract.
  absl::Status FlushAndDrop();

  // The offset the next batch should start at (applied, maybe uncommitted).
  int64_t next_offset() const { return applied_offset_; }
  // The offset stored with the last commit: where a restart resumes.
  int64_t committed_offset() const { return store_->next_offset(); }
  // Whether anything applied is not yet committed.
  bool has_pending() const { return applied_offset_ != committed_offset(); }
  int32_t partition() const { return store_->partition(); }
  const TaskStats& stats() const { return stats_; }
  // Cached parsed states and the memory their arenas hold. O(cached).
  size_t cached_states() const { return cache_.size(); }
  uint64_t CachedStateBytes() const;

 private:
  // One customer's parsed record on its own arena, so that its messages,
  // repeated fields and strings sit together in a few blocks instead of
  // scattered over the heap: applying an event walks the ledger, the
  // complaints and the views of one customer, and with many customers
  // those walks are cache misses. Dropping the entry frees it in one go.
  struct CacheEntry {
    std::unique_ptr<char[]> first_block;  // the arena's initial block
    std::unique_ptr<google::protobuf::Arena> arena;
    // On `arena`. nullptr (and no arena) once staged by ExpectLastBatch's
    // batch: the entry stays, dirty, until the commit writes staged_.
    v1::StoredCustomer* record = nullptr;
    uint64_t last_used = 0;  // use_clock_ at the last lookup
    int64_t charged = 0;     // arena bytes counted in the budget's `bytes`
    bool dirty = false;      // changed since the last commit
    const std::string* id = nullptr;  // the customer id: the cache's key
    // This customer's group in the batch being applied (ApplyDecoded
    // groups a batch's records by customer).
    uint32_t group = 0;
  };

  // The cached state of `customer_id`, or nullptr.
  CacheEntry* Lookup(absl::string_view customer_id);
  // A new entry for `customer_id` with an empty record on a new arena
  // sized for a record of `serialized_bytes`.
  CacheEntry* Insert(const std::string& customer_id, size_t serialized_bytes);
  // Copies the record of `entry` onto a new arena (CopyFrom) when the
  // arena holds much more than a record of `serialized_bytes` needs (space
  // left behind by replaced fields and pruned entries).
  void Compact(size_t serialized_bytes, CacheEntry* entry);
  // Brings `entry`'s charge up to its arena's size; returns the change.
  static int64_t Recharge(CacheEntry* entry);
  // After a commit: drops the least recently used states over the
  // budget's bounds.
  void EvictOverflow();
  // Before `incoming` states are loaded: drops clean states last used
  // before `used_since` (not by the batch at hand) to leave room for them
  // within the budget, as far as clean states allow.
  void MakeRoom(size_t incoming, uint64_t used_since);
  // Drops the `count` (or, with `free_bytes`, as many as free that) least
  // recently used clean states last used before `used_before`.
  void DropOldest(int64_t count, int64_t free_bytes, uint64_t used_before);
  // The serialized outbox record of a dead letter.
  std::string DeadLetterRecord(const log::LogRecordView& record,
                               std::string reason, std::string event_id) const;
  // Flush; with `keep_states` false the committed states are left as they
  // are (not compacted) for the caller to drop.
  absl::Status Commit(bool keep_states);
  // Drops every cached state and everything uncommitted (after an error,
  // or a FlushAndDrop).
  void Reset();
  // ApplyDecoded in three steps, so that ApplyDecodedTogether can take
  // its tasks customer by customer. StartApply: the dead letters, the
  // states (those missing loaded with one MultiGet) and the steps grouped
  // by customer; false when no record is to be applied (then the other
  // two are not called). ApplySteps: dedupe and apply the grouped steps
  // [begin, end). FinishApply: the outbox records in log order, the
  // offset, the budget and the commit when one is due.
  absl::StatusOr<bool> StartApply(const DecodedBatch& batch);
  void ApplySteps(size_t begin, size_t end);
  // ExpectLastBatch's step for `entry`, whose steps in the batch are all
  // applied: stages it in staged_ if dirty and frees its parsed state
  // (the entry goes when clean). Adds the change in charged bytes to
  // `grown`.
  void StageApplied(CacheEntry* entry, int64_t* grown);
  absl::Status FinishApply();
  // Renumbers the customers `ids` by id (and `customer`, each record's
  // number, with them).
  static void SortNumbers(std::vector<absl::string_view>* ids,
                          std::vector<uint32_t>* customer);
  // NumberCustomers into the given vectors; with no `errors`, every
  // record (NumberKeys).
  static void NumberCustomers(absl::Span<const log::LogRecordView> records,
                              absl::Span<const std::string> errors,
                              std::vector<uint32_t>* customer_of,
                              std::vector<absl::string_view>* ids);
  // The number of `records` (the batch from index `first`) before the
  // hold; sets held_.
  size_t CountBeforeHold(const DecodedBatch& batch, size_t first);

  store::PartitionStore* const store_;
  const v1::Rules* const rules_;
  const TaskOptions options_;
  TaskStats stats_;
  // Node-based: an entry keeps its address while others come and go, so a
  // batch looks each record's customer up once.
  absl::node_hash_map<std::string, CacheEntry> cache_;
  uint64_t use_clock_ = 0;  // ticks per lookup; orders evictions
  // Uncommitted work since the last commit.
  int64_t applied_offset_ = 0;
  // Entries with uncommitted changes (CacheEntry::dirty), in first-touch
  // order, for commits. Only clean entries are dropped, so these stay.
  std::vector<CacheEntry*> dirty_order_;
  std::vector<std::string> pending_outbox_;
  int64_t pending_outbox_bytes_ = 0;  // charged to the budget's `bytes`
  size_t pending_records_ = 0;
  // HoldAt: the boundary, and whether / at what event time the last batch
  // stopped there.
  absl::Time hold_at_ = absl::InfiniteFuture();
  bool held_ = false;
  absl::Time held_event_time_ = absl::InfiniteFuture();
  // Scratch reused between batches.
  DecodedBatch decoded_;
  // A valid record of the batch being applied: its customer's entry, its
  // index in the batch and its event. Sorted by entry, then index.
  struct ApplyStep {
    CacheEntry* entry;
    uint32_t index;
    const v1::Envelope* event;
  };
  // The batch's records from StartApply to FinishApply, and the bytes
  // charged to the budget meanwhile.
  absl::Span<const log::LogRecordView> apply_records_;
  absl::Span<const uint64_t> apply_fingerprints_;  // of apply_records_
  int64_t apply_grown_ = 0;
  std::vector<ApplyStep> apply_order_;  // grouped by customer
  // After StartApply: where each customer's steps end in apply_order_.
  std::vector<uint32_t> group_starts_;
  // StartApply's scratch: per customer number, its entry and group; the
  // numbering of a batch that came without one.
  std::vector<CacheEntry*> apply_entry_of_;
  std::vector<uint32_t> apply_group_of_;
  std::vector<uint32_t> own_customer_of_;
  std::vector<absl::string_view> own_customer_ids_;
  std::vector<std::pair<uint32_t, std::string>> apply_outbox_;
  // ExpectLastBatch: set for the next batch; whether the batch being
  // applied stages its customers; what they staged for the next commit,
  // and its bytes (charged to the budget's `bytes`).
  bool last_batch_next_ = false;
  bool stage_applied_ = false;
  store::CommitBatch staged_;
  int64_t staged_bytes_ = 0;
  // A last batch numbered in key order, of a store that ingests a commit
  // of its size, streams each staged record and its history entries
  // straight to the commit's table files (store::TableStream) instead of
  // holding them in staged_; the first error is kept for FinishApply.
  std::unique_ptr<store::TableStream> stream_;
  absl::Status stream_status_;
};

}  // namespace crm::task
