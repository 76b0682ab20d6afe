#include "engine/store/customer_record.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/store/partition_store.h"
#include "engine/store/serialize.h"
#include "engine/store/view_index.h"
#include "rocksdb/db.h"

namespace crm::store {
namespace {

void AppendBigEndian32(uint32_t v, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

// Stages every entry of `history` as a put of `kind` from sequence
// `*stored` on, counting them into *stored; returns the value bytes.
template <typename Entries>
size_t StageEntries(absl::string_view customer_id, char kind,
                    const Entries& history, uint32_t* stored,
                    CommitBatch* batch) {
  size_t bytes = 0;
  for (const auto& entry : history) {
    batch->history_puts.push_back({HistoryKey(customer_id, kind, (*stored)++),
                                   SerializeDeterministic(entry)});
    bytes += batch->history_puts.back().value.size();
  }
  return bytes;
}

// Reads `want` entries of `kind` at the iterator (positioned at the
// customer's first key of that kind, or past it) into `out`, in order.
template <typename Entry, typename Repeated>
absl::Status ReadEntries(rocksdb::Iterator* it, absl::string_view customer_id,
                         char kind, uint32_t want, Repeated* out) {
  const std::string prefix = HistoryPrefix(customer_id) + kind;
  const rocksdb::Slice p(prefix);
  it->Seek(p);
  uint32_t got = 0;
  for (; got < want && it->Valid() && it->key().starts_with(p); it->Next()) {
    Entry* e = out->Add();
    if (!e->ParseFromArray(it->value().data(),
                           static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("customer ", customer_id, ": history entry ",
                       std::string(1, kind), got, " does not parse"));
    }
    ++got;
  }
  if (!it->status().ok()) {
    return FromRocksDb(it->status(),
                       absl::StrCat("history of customer ", customer_id));
  }
  if (got < want) {
    return absl::DataLossError(
        absl::StrCat("customer ", customer_id, ": the record counts ", want,
                     " ", kind == kHistoryGrade ? "grade" : "lifecycle",
                     " history entries stored, the store holds ", got));
  }
  return absl::OkStatus();
}

// Moves `own` behind the entries read into `all`, then makes `all` the
// history.
template <typename Repeated>
void PutBefore(Repeated* all, Repeated* own) {
  for (auto& e : *own) all->Add(std::move(e));
  own->Swap(all);
}

}  // namespace

std::string HistoryKey(absl::string_view customer_id, char kind, uint32_t seq) {
  std::string key;
  key.reserve(customer_id.size() + 6);
  key.append(customer_id.data(), customer_id.size());
  key.push_back('\0');
  key.push_back(kind);
  AppendBigEndian32(seq, &key);
  return key;
}

std::string HistoryPrefix(absl::string_view customer_id) {
  std::string p(customer_id);
  p.push_back('\0');
  return p;
}

size_t StageCustomer(absl::string_view customer_id, v1::StoredCustomer* record,
                     CommitBatch* batch,
                     std::optional<absl::string_view> unchanged_if) {
  StageIndexUpdate(record, batch);
  size_t bytes = 0;
  v1::CustomerViews* views = record->mutable_state()->mutable_views();
  const bool new_history = views->grade().history_size() > 0 ||
                           views->lifecycle().history_size() > 0;
  if (new_history) {
    uint32_t grade_stored = record->grade_history_stored();
    uint32_t stage_stored = record->stage_history_stored();
    bytes += StageEntries(customer_id, kHistoryGrade, views->grade().history(),
                          &grade_stored, batch);
    bytes += StageEntries(customer_id, kHistoryStage,
                          views->lifecycle().history(), &stage_stored, batch);
    views->mutable_grade()->clear_history();
    views->mutable_lifecycle()->clear_history();
    record->set_grade_history_stored(grade_stored);
    record->set_stage_history_stored(stage_stored);
  }
  std::string value = SerializeDeterministic(*record);
  if (!new_history && unchanged_if.has_value() && value == *unchanged_if) {
    return 0;
  }
  bytes += value.size();
  batch->customers.push_back({std::string(customer_id), std::move(value)});
  return bytes;
}

HistoryReader::HistoryReader(const PartitionStore& store) : store_(store) {}

HistoryReader::HistoryReader(HistoryReader&&) noexcept = default;

HistoryReader::~HistoryReader() = default;

absl::Status HistoryReader::Complete(v1::StoredCustomer* record) {
  return Complete(record->grade_history_stored(),
                  record->stage_history_stored(), record->mutable_state());
}

absl::Status HistoryReader::Complete(uint32_t grade_stored,
                                     uint32_t stage_stored,
                                     v1::CustomerState* state) {
  if (grade_stored == 0 && stage_stored == 0) return absl::OkStatus();
  const std::string& id = state->customer_id();
  if (it_ == nullptr) it_ = store_.NewHistoryIterator();
  if (it_ == nullptr) {
    return absl::DataLossError(absl::StrCat(
        "partition ", store_.partition(), ": customer ", id,
        " counts stored history entries, but the store has no history"));
  }
  v1::CustomerViews* views = state->mutable_views();
  if (grade_stored > 0) {
    google::protobuf::RepeatedPtrField<v1::GradeChange> all;
    CRM_RETURN_IF_ERROR((ReadEntries<v1::GradeChange>(
        it_.get(), id, kHistoryGrade, grade_stored, &all)));
    PutBefore(&all, views->mutable_grade()->mutable_history());
  }
  if (stage_stored > 0) {
    google::protobuf::RepeatedPtrField<v1::StageChange> all;
    CRM_RETURN_IF_ERROR((ReadEntries<v1::StageChange>(
        it_.get(), id, kHistoryStage, stage_stored, &all)));
    PutBefore(&all, views->mutable_lifecycle()->mutable_history());
  }
  return absl::OkStatus();
}

}  // namespace crm::store
