#pragma once

// How a customer is split between its record and its history entries.
//
// The grade and lifecycle histories only ever grow (a few entries a month)
// while the rest of a state changes on every event. So they are not part
// of the record a commit rewrites: each entry is written once, under its
// own key in the "history" column family,
//
//   <customer_id> '\0' <kind> <4-byte big-endian sequence>
//
// kind 'g' for grade changes (crm.v1.GradeChange), 's' for lifecycle stage
// changes (crm.v1.StageChange), sequence from 0 in history order. The
// record counts what is stored (StoredCustomer.grade_history_stored,
// stage_history_stored); its own history lists hold only entries not
// staged yet. Customer ids are printable ASCII (event validation), so the
// '\0' ends the id and the keys of one customer are contiguous and sort by
// customer id as the records do. Entries get the same keys whenever they
// are committed, so stores stay byte-identical whatever the batch and
// commit sizes were.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "crm/v1/runtime.pb.h"

namespace rocksdb {
class Iterator;
}  // namespace rocksdb

namespace crm::store {

struct CommitBatch;
class PartitionStore;

// Whether a reader of stored customers wants their whole histories
// (HistoryReader) or only what the records hold (enough to classify or
// advance a state).
enum class Histories { kOmit, kWhole };

inline constexpr char kHistoryGrade = 'g';
inline constexpr char kHistoryStage = 's';

// The key of entry `seq` of `kind` of `customer_id`.
std::string HistoryKey(absl::string_view customer_id, char kind, uint32_t seq);
// The prefix of every history key of `customer_id`.
std::string HistoryPrefix(absl::string_view customer_id);

// Stages `record` (of `customer_id`) for commit in `batch`: its index
// update (StageIndexUpdate), a history put for each entry of its own
// history lists, which it then clears and counts as stored, and the
// record's bytes. With `unchanged_if` (the bytes the record was read as),
// a record with no new history entry whose bytes equal those is not
// staged. Returns the bytes staged (record and history values), 0 when
// none.
size_t StageCustomer(absl::string_view customer_id, v1::StoredCustomer* record,
                     CommitBatch* batch,
                     std::optional<absl::string_view> unchanged_if = {});

// Reads the history entries of one store's customers back into their
// states, for readers that show whole views (crm get, dump, list --json). Holds
// one iterator over the store, positioned by each call, so a walk over
// customers in key order reads the column family sequentially. Owned by one
// thread; must not outlive the store.
class HistoryReader {
 public:
  explicit HistoryReader(const PartitionStore& store);
  HistoryReader(HistoryReader&&) noexcept;
  ~HistoryReader();

  // Puts the stored history entries of `record`'s customer before the
  // entries its state holds itself. No store access when the record
  // counts none stored. kDataLoss when the store holds fewer entries than
  // the record counts, or one does not parse.
  absl::Status Complete(v1::StoredCustomer* record);
  // The same for a state copied out of its record, given the record's
  // counts.
  absl::Status Complete(uint32_t grade_stored, uint32_t stage_stored,
                        v1::CustomerState* state);

 private:
  const PartitionStore& store_;
  std::unique_ptr<rocksdb::Iterator> it_;  // created on first use
};

}  // namespace crm::store
