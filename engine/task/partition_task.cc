#include "engine/task/partition_task.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "crm/v1/runtime.pb.h"
#include "engine/base/status_macros.h"
#include "engine/event/validator.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "projections/projector.h"

namespace crm::task {
namespace {

// Deterministic bytes, so identical views give identical stores.
std::string SerializeDeterministic(const google::protobuf::Message& m) {
  std::string out(m.ByteSizeLong(), '\0');
  google::protobuf::io::ArrayOutputStream array(out.data(),
                                                static_cast<int>(out.size()));
  google::protobuf::io::CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  m.SerializeWithCachedSizes(&coded);
  return out;
}

}  // namespace

PartitionTask::PartitionTask(store::PartitionStore* store,
                             const v1::Rules* rules, TaskOptions options)
    : store_(store), rules_(rules), options_(std::move(options)) {}

PartitionTask::CacheEntry* PartitionTask::Lookup(
    const std::string& customer_id) {
  auto it = cache_.find(customer_id);
  if (it == cache_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return &it->second;
}

PartitionTask::CacheEntry* PartitionTask::Insert(const std::string& customer_id,
                                                 v1::CustomerState state) {
  lru_.push_front(customer_id);
  auto [it, inserted] = cache_.try_emplace(customer_id);
  it->second.state = std::move(state);
  it->second.lru = lru_.begin();
  return &it->second;
}

void PartitionTask::EvictOverflow() {
  while (cache_.size() > options_.state_cache_entries && !lru_.empty()) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
}

void PartitionTask::DeadLetter(const log::LogRecord& record, std::string reason,
                               std::string event_id,
                               store::CommitBatch* batch) {
  v1::OutboxRecord out;
  v1::DeadLetter* dl = out.mutable_dead_letter();
  dl->set_topic(options_.topic);
  dl->set_partition(record.partition);
  dl->set_offset(record.offset);
  dl->set_key(record.key);
  dl->set_value(record.value);
  dl->set_reason(std::move(reason));
  dl->set_event_id(std::move(event_id));
  batch->outbox.push_back(SerializeDeterministic(out));
  ++stats_.dead_letters;
}

absl::Status PartitionTask::ApplyBatch(
    absl::Span<const log::LogRecord> records) {
  // Skip what an earlier commit already covers (redelivery after restart).
  const int64_t start = store_->next_offset();
  size_t first = 0;
  while (first < records.size() && records[first].offset < start) ++first;
  stats_.redelivered += static_cast<int64_t>(first);
  records = records.subspan(first);
  if (records.empty()) return absl::OkStatus();
  stats_.records += static_cast<int64_t>(records.size());

  store::CommitBatch batch;
  batch.next_offset = records.back().offset + 1;

  // 1. Decode and validate. valid[i] is false for dead letters.
  if (events_.size() < records.size()) events_.resize(records.size());
  std::vector<bool> valid(records.size(), false);
  std::vector<std::string> ids;
  std::vector<size_t> id_index;  // ids[k] belongs to records[id_index[k]]
  absl::flat_hash_set<std::string> batch_ids;
  for (size_t i = 0; i < records.size(); ++i) {
    v1::Envelope& e = events_[i];
    e.Clear();
    if (!e.ParseFromString(records[i].value)) {
      DeadLetter(records[i], "undecodable: not a valid crm.v1.Envelope", "",
                 &batch);
      continue;
    }
    if (absl::Status s = event::Validate(e); !s.ok()) {
      DeadLetter(records[i], absl::StrCat("invalid: ", s.message()),
                 e.event_id(), &batch);
      continue;
    }
    if (e.customer_id() != records[i].key) {
      DeadLetter(
          records[i],
          absl::StrCat("invalid: customer_id '", e.customer_id(),
                       "' differs from the record key '", records[i].key, "'"),
          e.event_id(), &batch);
      continue;
    }
    // A duplicate inside the batch is caught here; against earlier
    // commits by the store lookup below.
    if (!batch_ids.insert(e.event_id()).second) {
      ++stats_.duplicates;
      continue;
    }
    valid[i] = true;
    ids.push_back(e.event_id());
    id_index.push_back(i);
  }

  // 2. Dedupe against committed events, one MultiGet.
  if (!ids.empty()) {
    CRM_ASSIGN_OR_RETURN(std::vector<bool> seen, store_->SeenEvents(ids));
    for (size_t k = 0; k < ids.size(); ++k) {
      if (seen[k]) {
        valid[id_index[k]] = false;
        ++stats_.duplicates;
      }
    }
  }

  // 3. Load the states the cache misses, one MultiGet.
  std::vector<std::string> missing;
  {
    absl::flat_hash_set<std::string> asked;
    for (size_t i = 0; i < records.size(); ++i) {
      if (!valid[i]) continue;
      const std::string& cid = events_[i].customer_id();
      if (cache_.contains(cid) || !asked.insert(cid).second) continue;
      missing.push_back(cid);
    }
  }
  if (!missing.empty()) {
    CRM_ASSIGN_OR_RETURN(auto loaded, store_->MultiGetCustomers(missing));
    for (size_t k = 0; k < missing.size(); ++k) {
      v1::CustomerState state;
      if (loaded[k].has_value()) {
        if (!state.ParseFromString(*loaded[k])) {
          cache_.clear();
          lru_.clear();
          return absl::DataLossError(absl::StrCat(
              "partition ", store_->partition(), ": stored state of customer ",
              missing[k], " is not a valid crm.v1.CustomerState"));
        }
        ++stats_.state_loads;
      } else {
        state.set_customer_id(missing[k]);
      }
      Insert(missing[k], std::move(state));
    }
  }

  // 4. Apply in log order. A customer's state is written once per batch.
  std::vector<std::string> dirty;
  absl::flat_hash_set<std::string> dirty_set;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!valid[i]) continue;
    const v1::Envelope& e = events_[i];
    CacheEntry* entry = Lookup(e.customer_id());
    auto transitions = projections::ApplyEvent(e, *rules_, &entry->state);
    if (!transitions.ok()) {
      DeadLetter(records[i],
                 absl::StrCat("invalid: ", transitions.status().message()),
                 e.event_id(), &batch);
      continue;
    }
    ++stats_.applied;
    batch.event_ids.push_back(e.event_id());
    for (v1::Transition& t : *transitions) {
      v1::OutboxRecord out;
      *out.mutable_transition() = std::move(t);
      batch.outbox.push_back(SerializeDeterministic(out));
      ++stats_.transitions;
    }
    if (dirty_set.insert(e.customer_id()).second) {
      dirty.push_back(e.customer_id());
    }
  }
  batch.customers.reserve(dirty.size());
  for (const std::string& cid : dirty) {
    batch.customers.push_back(
        {cid, SerializeDeterministic(cache_.find(cid)->second.state)});
  }

  // 5. One atomic commit. On failure the cached states are ahead of the
  // store: drop them all, so a retry starts from stored truth.
  if (absl::Status s = store_->Commit(batch); !s.ok()) {
    cache_.clear();
    lru_.clear();
    return s;
  }
  ++stats_.batches;
  EvictOverflow();
  return absl::OkStatus();
}

}  // namespace crm::task
