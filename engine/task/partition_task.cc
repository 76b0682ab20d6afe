#include "engine/task/partition_task.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "crm/v1/runtime.pb.h"
#include "engine/base/status_macros.h"
#include "engine/base/time_util.h"
#include "engine/event/validator.h"
#include "engine/store/customer_record.h"
#include "engine/store/serialize.h"
#include "engine/task/fingerprint.h"
#include "engine/task/transition_record.h"
#include "projections/projector.h"

namespace crm::task {
namespace {

// Appends each raised transition's outbox record to `out`, paired with the
// index of the log record that raised it.
class OutboxSink : public projections::TransitionSink {
 public:
  explicit OutboxSink(std::vector<std::pair<uint32_t, std::string>>* out)
      : out_(out) {}
  void set_index(uint32_t index) { index_ = index; }
  void Raise(const projections::TransitionRef& t) override {
    auto& [index, record] = out_->emplace_back();
    index = index_;
    AppendTransitionRecord(t, &record);
  }

 private:
  std::vector<std::pair<uint32_t, std::string>>* out_;
  uint32_t index_ = 0;
};

}  // namespace

PartitionTask::PartitionTask(store::PartitionStore* store,
                             const v1::Rules* rules, TaskOptions options)
    : store_(store),
      rules_(rules),
      options_(std::move(options)),
      applied_offset_(store->next_offset()) {}

PartitionTask::~PartitionTask() { Reset(); }

PartitionTask::CacheEntry* PartitionTask::Lookup(
    absl::string_view customer_id) {
  auto it = cache_.find(customer_id);
  if (it == cache_.end()) return nullptr;
  it->second.last_used = ++use_clock_;
  return &it->second;
}

namespace {

// A parsed record takes about 4x its serialized bytes on an arena. The
// first block fits that; later blocks (fields growing) are small.
constexpr size_t kGrowthBlock = 4 << 10;
size_t FirstBlockFor(size_t serialized_bytes) {
  return std::max<size_t>(2 << 10, 4 * serialized_bytes + 1024);
}
// Compact when the arena holds more than this for a record of `bytes`:
// more than a first block of that size holds, so a record that outgrew its
// block is copied at its commit into one block of its new size.
size_t CompactAbove(size_t bytes) { return 4 * bytes + kGrowthBlock; }

void NewStateArena(size_t serialized_bytes, std::unique_ptr<char[]>* block,
                   std::unique_ptr<google::protobuf::Arena>* arena) {
  google::protobuf::ArenaOptions options;
  options.initial_block_size = FirstBlockFor(serialized_bytes);
  // Not zero-filled (make_unique<char[]> would be): the arena writes what
  // it hands out before anyone reads it.
  std::unique_ptr<char[]> first(new char[options.initial_block_size]);
  options.initial_block = first.get();
  options.start_block_size = kGrowthBlock;
  options.max_block_size = kGrowthBlock;
  auto made = std::make_unique<google::protobuf::Arena>(options);
  arena->reset();  // before the block it may live in
  *arena = std::move(made);
  *block = std::move(first);
}

}  // namespace

PartitionTask::CacheEntry* PartitionTask::Insert(const std::string& customer_id,
                                                 size_t serialized_bytes) {
  auto [it, inserted] = cache_.try_emplace(customer_id);
  if (inserted) options_.budget->cached.fetch_add(1);
  CacheEntry& entry = it->second;
  entry.id = &it->first;
  entry.record = nullptr;
  NewStateArena(serialized_bytes, &entry.first_block, &entry.arena);
  entry.record = google::protobuf::Arena::CreateMessage<v1::StoredCustomer>(
      entry.arena.get());
  entry.last_used = ++use_clock_;
  entry.dirty = false;
  options_.budget->bytes.fetch_add(Recharge(&entry));
  return &entry;
}

int64_t PartitionTask::Recharge(CacheEntry* entry) {
  const int64_t now = static_cast<int64_t>(entry->arena->SpaceAllocated());
  const int64_t delta = now - entry->charged;
  entry->charged = now;
  return delta;
}

uint64_t PartitionTask::CachedStateBytes() const {
  uint64_t bytes = 0;
  for (const auto& [id, entry] : cache_) {
    if (entry.arena != nullptr) bytes += entry.arena->SpaceAllocated();
  }
  return bytes;
}

void PartitionTask::Compact(size_t serialized_bytes, CacheEntry* entry) {
  // Fields replaced, pruned or grown leave their old space in the arena.
  if (entry->arena->SpaceAllocated() <= CompactAbove(serialized_bytes)) {
    return;
  }
  std::unique_ptr<char[]> block;
  std::unique_ptr<google::protobuf::Arena> arena;
  NewStateArena(serialized_bytes, &block, &arena);
  auto* record =
      google::protobuf::Arena::CreateMessage<v1::StoredCustomer>(arena.get());
  // A copy rather than a parse of the bytes just committed: the same
  // message, without decoding varints and checking UTF-8 again.
  record->CopyFrom(*entry->record);
  entry->record = record;
  entry->arena = std::move(arena);  // frees the old arena, then its block
  entry->first_block = std::move(block);
}

void PartitionTask::EvictOverflow() {
  // Only called right after a commit, when no state is dirty.
  StateBudget& budget = *options_.budget;
  const int64_t size = static_cast<int64_t>(cache_.size());
  const int64_t excess =
      std::max(size - static_cast<int64_t>(options_.state_cache_entries),
               budget.cached.load() - budget.max_cached);
  // Over the byte bound: down to 3/4 of it, so the next commits are not
  // forced at once again.
  int64_t free_bytes = 0;
  if (budget.max_bytes > 0 && budget.bytes.load() >= budget.max_bytes) {
    free_bytes = budget.bytes.load() - budget.max_bytes / 4 * 3;
  }
  DropOldest(excess, free_bytes, std::numeric_limits<uint64_t>::max());
}

void PartitionTask::MakeRoom(size_t incoming, uint64_t used_since) {
  const StateBudget& budget = *options_.budget;
  const int64_t n = static_cast<int64_t>(incoming);
  const int64_t excess =
      std::max(static_cast<int64_t>(cache_.size()) + n -
                   static_cast<int64_t>(options_.state_cache_entries),
               budget.cached.load() + n - budget.max_cached);
  DropOldest(excess, 0, used_since);
}

void PartitionTask::DropOldest(int64_t count, int64_t free_bytes,
                               uint64_t used_before) {
  // One pass to pick the least recently used, rather than a list kept in
  // use order at every lookup.
  if (count <= 0 && free_bytes <= 0) return;
  using Slot = decltype(cache_)::iterator;
  std::vector<std::pair<uint64_t, Slot>> by_use;
  by_use.reserve(cache_.size());
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (!it->second.dirty && it->second.last_used < used_before) {
      by_use.emplace_back(it->second.last_used, it);
    }
  }
  const int64_t size = static_cast<int64_t>(by_use.size());
  count = std::min(count, size);
  auto older = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (free_bytes > 0) {
    std::sort(by_use.begin(), by_use.end(), older);
  } else if (count > 0) {
    std::nth_element(by_use.begin(), by_use.begin() + (count - 1), by_use.end(),
                     older);
  }
  int64_t dropped = 0;
  int64_t freed = 0;
  while (dropped < size && (dropped < count || freed < free_bytes)) {
    freed += by_use[dropped].second->second.charged;
    cache_.erase(by_use[dropped].second);
    ++dropped;
  }
  options_.budget->cached.fetch_sub(dropped);
  options_.budget->bytes.fetch_sub(freed);
}

void PartitionTask::Reset() {
  int64_t charged = pending_outbox_bytes_ + staged_bytes_;
  for (const auto& [id, entry] : cache_) charged += entry.charged;
  options_.budget->bytes.fetch_sub(charged);
  options_.budget->cached.fetch_sub(static_cast<int64_t>(cache_.size()));
  options_.budget->dirty.fetch_sub(static_cast<int64_t>(dirty_order_.size()));
  cache_.clear();
  dirty_order_.clear();
  pending_outbox_.clear();
  pending_outbox_bytes_ = 0;
  pending_records_ = 0;
  staged_ = store::CommitBatch{};
  staged_bytes_ = 0;
  stream_.reset();
  stream_status_ = absl::OkStatus();
  stage_applied_ = false;
  applied_offset_ = store_->next_offset();
}

std::string PartitionTask::DeadLetterRecord(const log::LogRecordView& record,
                                            std::string reason,
                                            std::string event_id) const {
  v1::OutboxRecord out;
  v1::DeadLetter* dl = out.mutable_dead_letter();
  dl->set_topic(options_.topic);
  dl->set_partition(record.partition);
  dl->set_offset(record.offset);
  dl->set_key(record.key.data(), record.key.size());
  dl->set_value(record.value.data(), record.value.size());
  dl->set_reason(std::move(reason));
  dl->set_event_id(std::move(event_id));
  return store::SerializeDeterministic(out);
}

absl::Status PartitionTask::ApplyBatch(
    absl::Span<const log::LogRecord> records) {
  size_t first = 0;  // decode only what is not applied yet
  while (first < records.size() && records[first].offset < applied_offset_) {
    ++first;
  }
  stats_.redelivered += static_cast<int64_t>(first);
  Decode(records.subspan(first), &decoded_);
  SkipAfter(options_.skip_after, &decoded_);
  absl::Status s = ApplyDecoded(decoded_);
  // Free the envelopes now (all but the arena's first block) rather than
  // at the next batch: a worker holds one task per partition.
  decoded_.events.clear();
  decoded_.arena->Reset();
  return s;
}

void PartitionTask::Decode(absl::Span<const log::LogRecord> records,
                           DecodedBatch* out) {
  PrepareDecode(records, out);
  DecodeRange(0, records.size(), out);
  NumberCustomers(out);
}

void PartitionTask::NumberCustomers(DecodedBatch* batch, bool in_key_order) {
  NumberCustomers(batch->records, batch->errors, &batch->customer,
                  &batch->customer_ids);
  batch->in_key_order = in_key_order;
  if (in_key_order) SortNumbers(&batch->customer_ids, &batch->customer);
}

void PartitionTask::SortNumbers(std::vector<absl::string_view>* ids_out,
                                std::vector<uint32_t>* customer) {
  std::vector<absl::string_view>& ids = *ids_out;
  std::vector<uint32_t> by_key(ids.size());
  for (uint32_t k = 0; k < by_key.size(); ++k) by_key[k] = k;
  std::sort(by_key.begin(), by_key.end(),
            [&ids](uint32_t a, uint32_t b) { return ids[a] < ids[b]; });
  std::vector<uint32_t> renumber(ids.size());
  std::vector<absl::string_view> sorted(ids.size());
  for (uint32_t k = 0; k < by_key.size(); ++k) {
    renumber[by_key[k]] = k;
    sorted[k] = ids[by_key[k]];
  }
  ids.swap(sorted);
  for (uint32_t& c : *customer) {
    if (c != DecodedBatch::kNoCustomer) c = renumber[c];
  }
}

void PartitionTask::NumberKeys(absl::Span<const log::LogRecordView> records,
                               bool in_key_order, KeyNumbers* out) {
  NumberCustomers(records, /*errors=*/{}, &out->customer, &out->customer_ids);
  out->in_key_order = in_key_order;
  if (in_key_order) SortNumbers(&out->customer_ids, &out->customer);
}

void PartitionTask::PrepareDecode(absl::Span<const log::LogRecordView> records,
                                  KeyNumbers* numbers, DecodedBatch* out) {
  PrepareDecode(records, out);
  out->customer.swap(numbers->customer);
  out->customer_ids.swap(numbers->customer_ids);
  out->in_key_order = numbers->in_key_order;
  out->customer.resize(records.size(), DecodedBatch::kNoCustomer);
}

void PartitionTask::NumberCustomers(
    absl::Span<const log::LogRecordView> records,
    absl::Span<const std::string> errors, std::vector<uint32_t>* customer_of,
    std::vector<absl::string_view>* ids) {
  customer_of->assign(records.size(), DecodedBatch::kNoCustomer);
  ids->clear();
  // A valid record's key is its event's customer id (DecodeRange checks).
  absl::flat_hash_map<absl::string_view, uint32_t> numbers;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!errors.empty() && !errors[i].empty()) continue;
    const auto [it, added] =
        numbers.try_emplace(records[i].key, static_cast<uint32_t>(ids->size()));
    if (added) ids->push_back(records[i].key);
    (*customer_of)[i] = it->second;
  }
}

void PartitionTask::PrepareDecode(absl::Span<const log::LogRecord> records,
                                  DecodedBatch* out) {
  log::ViewsOf(records, &out->views);
  PrepareDecode(absl::MakeConstSpan(out->views), out);
}

void PartitionTask::PrepareDecode(absl::Span<const log::LogRecordView> records,
                                  DecodedBatch* out) {
  out->records = records;
  out->customer.clear();
  out->customer_ids.clear();
  out->in_key_order = false;
  if (out->arena == nullptr) {
    // A decoded event takes a few hundred bytes: a batch of thousands
    // fits the first block, which Reset keeps.
    google::protobuf::ArenaOptions options;
    options.initial_block_size = size_t{2} << 20;
    out->arena_block.reset(new char[options.initial_block_size]);
    options.initial_block = out->arena_block.get();
    options.start_block_size = size_t{256} << 10;
    options.max_block_size = size_t{1} << 20;
    out->arena = std::make_unique<google::protobuf::Arena>(options);
  } else {
    out->arena->Reset();
  }
  out->events.resize(records.size());
  out->errors.assign(records.size(), std::string());
  out->skipped.assign(records.size(), 0);
  out->fingerprints.resize(records.size());
}

void PartitionTask::DecodeRange(size_t from, size_t to, DecodedBatch* out) {
  const absl::Span<const log::LogRecordView> records = out->records;
  for (size_t i = from; i < to; ++i) {
    out->events[i] =
        google::protobuf::Arena::CreateMessage<v1::Envelope>(out->arena.get());
    v1::Envelope& e = *out->events[i];
    if (!e.ParseFromArray(records[i].value.data(),
                          static_cast<int>(records[i].value.size()))) {
      e.Clear();  // no event id from a partial parse
      out->errors[i] = "undecodable: not a valid crm.v1.Envelope";
    } else if (absl::Status s = event::Validate(e); !s.ok()) {
      out->errors[i] = absl::StrCat("invalid: ", s.message());
    } else if (e.customer_id() != records[i].key) {
      out->errors[i] =
          absl::StrCat("invalid: customer_id '", e.customer_id(),
                       "' differs from the record key '", records[i].key, "'");
    } else {
      out->fingerprints[i] = EventFingerprint(e.event_id());
      continue;
    }
    // Numbered by key before decoding (NumberKeys): no customer now.
    if (!out->customer.empty()) out->customer[i] = DecodedBatch::kNoCustomer;
  }
}

size_t PartitionTask::SkipAfter(absl::Time t, DecodedBatch* batch, size_t from,
                                size_t to) {
  if (t == absl::InfiniteFuture()) return 0;
  to = std::min(to, batch->records.size());
  size_t n = 0;
  for (size_t i = from; i < to; ++i) {
    if (batch->errors[i].empty() && !batch->skipped[i] &&
        FromProto(batch->event(i).occurred_at()) > t) {
      batch->skipped[i] = 1;
      ++n;
    }
  }
  return n;
}

void PartitionTask::HoldAt(absl::Time boundary) {
  hold_at_ = boundary;
  held_ = false;
  held_event_time_ = absl::InfiniteFuture();
}

size_t PartitionTask::CountBeforeHold(const DecodedBatch& batch, size_t first) {
  held_ = false;
  if (hold_at_ == absl::InfiniteFuture()) return batch.records.size() - first;
  for (size_t i = first; i < batch.records.size(); ++i) {
    if (!batch.errors[i].empty() || batch.skipped[i]) continue;
    const absl::Time t = FromProto(batch.event(i).occurred_at());
    if (t >= hold_at_) {
      held_ = true;
      held_event_time_ = t;
      return i - first;
    }
  }
  return batch.records.size() - first;
}

absl::Status PartitionTask::DropCachedStates() {
  if (has_pending() || !dirty_order_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "partition ", store_->partition(),
        ": cached states dropped with uncommitted work; flush first"));
  }
  Reset();
  return absl::OkStatus();
}

absl::Status PartitionTask::ApplyDecoded(const DecodedBatch& batch) {
  CRM_ASSIGN_OR_RETURN(const bool started, StartApply(batch));
  if (!started) return absl::OkStatus();
  ApplySteps(0, apply_order_.size());
  return FinishApply();
}

absl::Status PartitionTask::ApplyDecodedTogether(
    absl::Span<PartitionTask* const> tasks, const DecodedBatch& batch) {
  std::vector<PartitionTask*> started;
  for (PartitionTask* task : tasks) {
    absl::StatusOr<bool> applies = task->StartApply(batch);
    if (!applies.ok()) {
      // As a failed ApplyDecoded leaves a task: its uncommitted work
      // dropped (StartApply did that for this one).
      for (PartitionTask* other : started) other->Reset();
      return applies.status();
    }
    if (*applies) started.push_back(task);
  }
  if (started.empty()) return absl::OkStatus();
  // Customer by customer when every task applies the same records (the
  // same customers, grouped alike); otherwise one task after another.
  const PartitionTask& lead = *started.front();
  bool alike = true;
  for (const PartitionTask* task : started) {
    alike = alike &&
            task->apply_records_.data() == lead.apply_records_.data() &&
            task->apply_records_.size() == lead.apply_records_.size() &&
            task->group_starts_ == lead.group_starts_;
  }
  if (alike) {
    size_t begin = 0;
    for (const uint32_t end : lead.group_starts_) {
      for (PartitionTask* task : started) task->ApplySteps(begin, end);
      begin = end;
    }
  } else {
    for (PartitionTask* task : started) {
      task->ApplySteps(0, task->apply_order_.size());
    }
  }
  // Every task finishes, as its own ApplyDecoded would have, whatever
  // another's commit returned.
  absl::Status first_error;
  for (PartitionTask* task : started) {
    absl::Status s = task->FinishApply();
    if (first_error.ok()) first_error = std::move(s);
  }
  return first_error;
}

absl::StatusOr<bool> PartitionTask::StartApply(const DecodedBatch& batch) {
  // Skip what is already applied (redelivery after a restart or a retry).
  size_t first = 0;
  while (first < batch.records.size() &&
         batch.records[first].offset < applied_offset_) {
    ++first;
  }
  stats_.redelivered += static_cast<int64_t>(first);
  // Records from the hold on are left to the caller, unapplied.
  const absl::Span<const log::LogRecordView> records =
      batch.records.subspan(first, CountBeforeHold(batch, first));
  stage_applied_ = std::exchange(last_batch_next_, false) && !held_;
  if (records.empty()) return false;
  apply_records_ = records;
  apply_fingerprints_ =
      absl::MakeConstSpan(batch.fingerprints).subspan(first, records.size());
  stats_.records += static_cast<int64_t>(records.size());
  ++stats_.batches;

  // 1. Dead letters for what did not decode or validate, into the outbox
  // at their place in the log with the transitions (FinishApply), so the
  // outbox does not depend on how the log was cut into batches. valid[i]
  // is false for them and for skipped records.
  apply_outbox_.clear();
  std::vector<bool> valid(records.size(), false);
  for (size_t i = 0; i < records.size(); ++i) {
    if (!batch.errors[first + i].empty()) {
      apply_outbox_.emplace_back(
          static_cast<uint32_t>(i),
          DeadLetterRecord(records[i], batch.errors[first + i],
                           batch.event(first + i).event_id()));
      ++stats_.dead_letters;
      continue;
    }
    valid[i] = !batch.skipped[first + i];
    if (!valid[i]) ++stats_.skipped;
  }

  // 2. Each valid record's customer entry; the customers the cache misses
  // are loaded with one MultiGet, after dropping clean states this batch
  // does not use if the budget has no room for them (so a large batch
  // does not take the cache past its bound). Entries keep their address
  // (node map), so those found stay valid while others come and go.
  const uint64_t batch_clock = use_clock_ + 1;
  std::vector<ApplyStep>& work = apply_order_;
  work.clear();
  std::vector<std::string> missing;
  // Each customer of the batch is looked up once, by its number
  // (NumberCustomers; numbered here when the batch is not), and gets a
  // group: the groups follow the customers' numbers.
  absl::Span<const uint32_t> customer_of = batch.customer;
  absl::Span<const absl::string_view> ids = batch.customer_ids;
  bool in_key_order = batch.in_key_order;
  if (customer_of.size() != batch.records.size()) {
    NumberCustomers(batch.records, batch.errors, &own_customer_of_,
                    &own_customer_ids_);
    customer_of = own_customer_of_;
    ids = own_customer_ids_;
    in_key_order = false;
  }
  constexpr uint32_t kNoGroup = UINT32_MAX;
  std::vector<CacheEntry*>& entry_of = apply_entry_of_;
  // First each customer's count of steps, then its group.
  std::vector<uint32_t>& group_of = apply_group_of_;
  entry_of.assign(ids.size(), nullptr);
  group_of.assign(ids.size(), 0);
  std::vector<uint32_t> missing_numbers;  // of the customers not cached
  size_t steps = 0;                       // valid records
  for (size_t i = 0; i < records.size(); ++i) {
    if (!valid[i]) continue;
    const uint32_t c = customer_of[first + i];
    if (group_of[c]++ == 0) {
      CacheEntry* entry = Lookup(ids[c]);
      if (entry != nullptr && entry->record == nullptr) {
        const std::string id(ids[c]);
        Reset();
        return absl::FailedPreconditionError(absl::StrCat(
            "partition ", store_->partition(), ": customer ", id,
            " was staged by the batch declared the last before a commit "
            "(ExpectLastBatch); flush before applying more"));
      }
      if (entry == nullptr) {
        missing.emplace_back(ids[c]);
        missing_numbers.push_back(c);
      }
      entry_of[c] = entry;
    }
    ++steps;
  }
  // The groups in the order of the customers' numbers: in key order when
  // the batch was numbered so, and then a last batch stages its customers
  // in key order, as the store takes them.
  std::vector<uint32_t>& starts = group_starts_;
  starts.clear();
  for (uint32_t& n : group_of) {
    if (n == 0) {
      n = kNoGroup;
      continue;
    }
    starts.push_back(n);
    n = static_cast<uint32_t>(starts.size() - 1);
  }
  apply_grown_ = 0;  // bytes charged to the budget by this batch
  if (!missing.empty()) {
    MakeRoom(missing.size(), batch_clock);
    auto loaded = store_->MultiGetCustomers(missing);
    if (!loaded.ok()) {
      Reset();
      return loaded.status();
    }
    std::vector<CacheEntry*> inserted(missing.size());
    for (size_t k = 0; k < missing.size(); ++k) {
      const auto& value = (*loaded)[k];
      CacheEntry* entry =
          Insert(missing[k], value.has_value() ? value->size() : 0);
      inserted[k] = entry;
      v1::StoredCustomer& record = *entry->record;
      if ((*loaded)[k].has_value()) {
        if (!record.ParseFromString(*(*loaded)[k])) {
          Reset();
          return absl::DataLossError(absl::StrCat(
              "partition ", store_->partition(), ": stored record of customer ",
              missing[k], " is not a valid crm.v1.StoredCustomer"));
        }
        apply_grown_ += Recharge(entry);
        ++stats_.state_loads;
      } else {
        record.mutable_state()->set_customer_id(missing[k]);
      }
    }
    for (size_t k = 0; k < missing.size(); ++k) {
      entry_of[missing_numbers[k]] = inserted[k];
    }
  }

  // 3. Dedupe and apply: one customer's records after another, each
  // customer's in log order, so that its state is walked while it is in
  // the CPU cache rather than fetched from memory for every event (with
  // many customers, events of one customer are far apart in the log). The
  // outbox records this makes go out in log order afterwards, so nothing
  // depends on the order customers were taken in. Grouped by a counting
  // sort (by group, the steps of each kept in log order): linear, where
  // sorting by entry took n log n comparisons.
  // Each valid record's step goes straight to its place among its group's
  // (no array of steps in log order to sort from: with a replay's batch of
  // a whole partition that was 30 MB more per task).
  uint32_t before = 0;  // steps of the groups before each
  for (uint32_t& n : starts) before += std::exchange(n, before);
  work.resize(steps);
  for (size_t i = 0; i < records.size(); ++i) {
    if (!valid[i]) continue;
    const uint32_t c = customer_of[first + i];
    CacheEntry* const entry = entry_of[c];
    entry->group = group_of[c];
    work[starts[entry->group]++] = {entry, static_cast<uint32_t>(i),
                                    batch.events[first + i]};
  }
  // starts[g] is now where group g ends.
  // A last batch staged in key order with nothing staged or dirty before
  // it: its records can go to the commit's table files as they come.
  if (stage_applied_ && in_key_order && dirty_order_.empty() &&
      staged_.customers.empty() && staged_.history_puts.empty() &&
      store_->IngestsCommitOf(ids.size())) {
    stream_ = store_->NewTableStream();
    stream_status_ = absl::OkStatus();
  }
  return true;
}

void PartitionTask::ApplySteps(size_t begin, size_t end) {
  const auto started = std::chrono::steady_clock::now();
  const absl::Span<const log::LogRecordView> records = apply_records_;
  const std::vector<ApplyStep>& work = apply_order_;
  std::vector<std::pair<uint32_t, std::string>>& out = apply_outbox_;
  OutboxSink outbox_sink(&out);
  int64_t grown = 0;
  // Taken in customer order, the batch's events are visited out of log
  // order: fetch the event and the cache entry, then the event's id and
  // the customer's record (which need those), a few steps ahead of use,
  // past `end` too (the next customer's, for ApplyDecodedTogether).
  constexpr size_t kAhead = 6;
  auto apply = [&](CacheEntry* entry, uint32_t i, const v1::Envelope& e) {
    auto* applied = entry->record->mutable_applied_events();
    const uint64_t fp = apply_fingerprints_[i];
    const auto pos = std::lower_bound(applied->begin(), applied->end(), fp);
    const int at = static_cast<int>(pos - applied->begin());
    if (pos != applied->end() && *pos == fp) {
      ++stats_.duplicates;
      return;
    }
    outbox_sink.set_index(i);
    auto raised = projections::ApplyEventToSink(
        e, *rules_, entry->record->mutable_state(),
        options_.transitions_to_outbox ? &outbox_sink : nullptr);
    if (!raised.ok()) {  // rejected before raising anything: a dead letter
      out.emplace_back(
          i,
          DeadLetterRecord(records[i],
                           absl::StrCat("invalid: ", raised.status().message()),
                           e.event_id()));
      ++stats_.dead_letters;
      return;
    }
    ++stats_.applied;
    applied->Add(fp);  // keep ascending: rotate the new one into place
    std::rotate(applied->begin() + at, applied->end() - 1, applied->end());
    stats_.transitions += static_cast<int64_t>(*raised);
    grown += Recharge(entry);
    if (!entry->dirty) {
      entry->dirty = true;
      dirty_order_.push_back(entry);
      options_.budget->dirty.fetch_add(1);
    }
  };
  for (size_t j = begin; j < end; ++j) {
    if (j + 2 * kAhead < work.size()) {
      const ApplyStep& far = work[j + 2 * kAhead];
      __builtin_prefetch(far.event);
      __builtin_prefetch(reinterpret_cast<const char*>(far.event) + 64);
      __builtin_prefetch(far.entry);
    }
    if (j + kAhead < work.size()) {
      const ApplyStep& near = work[j + kAhead];
      __builtin_prefetch(near.event->event_id().data());
      __builtin_prefetch(near.entry->record);
    }
    CacheEntry* const entry = work[j].entry;
    apply(entry, work[j].index, *work[j].event);
    if (stage_applied_ && j + 1 == group_starts_[entry->group]) {
      StageApplied(entry, &grown);
    }
  }
  apply_grown_ += grown;
  stats_.apply_nanos += std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
}

void PartitionTask::StageApplied(CacheEntry* entry, int64_t* grown) {
  *grown -= entry->charged;
  if (!entry->dirty) {  // as stored: nothing to write
    options_.budget->cached.fetch_sub(1);
    cache_.erase(cache_.find(*entry->id));
    return;
  }
  const int64_t bytes = static_cast<int64_t>(
      store::StageCustomer(*entry->id, entry->record, &staged_));
  stats_.state_bytes_written += bytes;
  if (stream_ != nullptr) {  // in the table files, not held
    if (stream_status_.ok()) {
      stream_status_ = stream_->Take(&staged_);
      ++stats_.records_streamed;
    }
  } else {
    staged_bytes_ += bytes;
    *grown += bytes;
  }
  entry->charged = 0;
  entry->record = nullptr;
  entry->arena.reset();  // before the block it may live in
  entry->first_block.reset();
}

absl::Status PartitionTask::FinishApply() {
  if (!stream_status_.ok()) {
    const absl::Status s = std::move(stream_status_);
    Reset();
    return s;
  }
  const absl::Span<const log::LogRecordView> records = apply_records_;
  std::vector<std::pair<uint32_t, std::string>>& out = apply_outbox_;
  int64_t grown = apply_grown_;
  // Back in log order; a record's own outbox records in the order made.
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  });
  for (auto& [index, value] : out) {
    const int64_t bytes = static_cast<int64_t>(value.size());
    pending_outbox_bytes_ += bytes;
    grown += bytes;
    pending_outbox_.push_back(std::move(value));
  }
  out.clear();
  applied_offset_ = records.back().offset + 1;
  pending_records_ += records.size();
  StateBudget& budget = *options_.budget;
  if (grown != 0) budget.bytes.fetch_add(grown);

  if (pending_records_ >= options_.commit_every_records ||
      dirty_order_.size() >= options_.commit_max_dirty ||
      budget.dirty.load() >= budget.max_dirty ||
      (budget.max_bytes > 0 && budget.bytes.load() >= budget.max_bytes)) {
    return Flush();
  }
  return absl::OkStatus();
}

absl::Status PartitionTask::FlushAndDrop() {
  CRM_RETURN_IF_ERROR(Commit(/*keep_states=*/false));
  Reset();
  return absl::OkStatus();
}

absl::Status PartitionTask::Commit(bool keep_states) {
  if (!has_pending()) return absl::OkStatus();
  // What the last batch staged (ExpectLastBatch), then the other dirty
  // states.
  store::CommitBatch batch = std::exchange(staged_, store::CommitBatch{});
  const size_t staged_customers = batch.customers.size();
  const size_t staged_history = batch.history_puts.size();
  batch.next_offset = applied_offset_;
  batch.customers.reserve(batch.customers.size() + dirty_order_.size());
  // Staged by id, the records and their history entries (keyed by the id,
  // a 0 byte, kind and sequence) reach the store in key order, which it
  // then need not sort.
  std::sort(
      dirty_order_.begin(), dirty_order_.end(),
      [](const CacheEntry* a, const CacheEntry* b) { return *a->id < *b->id; });
  int64_t recharged = 0;
  int64_t staged_entries = 0;
  for (CacheEntry* entry : dirty_order_) {
    // Index keys and new history entries go in the same WriteBatch.
    entry->dirty = false;  // on a failed commit Reset drops every entry
    if (entry->record == nullptr) {  // in batch already; gone after it
      ++staged_entries;
      continue;
    }
    stats_.state_bytes_written += static_cast<int64_t>(
        store::StageCustomer(*entry->id, entry->record, &batch));
    if (keep_states) {
      Compact(batch.customers.back().value.size(), entry);
      recharged += Recharge(entry);
    }
  }
  options_.budget->bytes.fetch_add(recharged);
  // Both parts are in key order when the last batch was numbered so (and
  // the store sorts what is not).
  auto by_key = [](const store::CommitBatch::Put& a,
                   const store::CommitBatch::Put& b) { return a.key < b.key; };
  std::inplace_merge(batch.customers.begin(),
                     batch.customers.begin() + staged_customers,
                     batch.customers.end(), by_key);
  std::inplace_merge(batch.history_puts.begin(),
                     batch.history_puts.begin() + staged_history,
                     batch.history_puts.end(), by_key);
  batch.outbox = std::move(pending_outbox_);
  // On failure the cached states are ahead of the store: drop them all, so
  // a retry starts from stored truth.
  const absl::Status committed = store_->Commit(batch, stream_.get());
  stream_.reset();  // spent either way
  if (!committed.ok()) {
    Reset();
    return committed;
  }
  ++stats_.commits;
  options_.budget->dirty.fetch_sub(static_cast<int64_t>(dirty_order_.size()));
  options_.budget->bytes.fetch_sub(pending_outbox_bytes_ + staged_bytes_);
  if (staged_entries > 0) {
    for (CacheEntry* entry : dirty_order_) {
      if (entry->record == nullptr) cache_.erase(cache_.find(*entry->id));
    }
    options_.budget->cached.fetch_sub(staged_entries);
  }
  dirty_order_.clear();
  pending_outbox_.clear();
  pending_outbox_bytes_ = 0;
  staged_bytes_ = 0;
  pending_records_ = 0;
  if (keep_states) EvictOverflow();
  return absl::OkStatus();
}

}  // namespace crm::task
