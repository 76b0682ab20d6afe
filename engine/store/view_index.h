#pragma once

// The secondary indexes of a partition store (column family "index"): one
// key per indexed field of each customer, `<index id><value>\0<customer_id>`
// with an empty value, written in the same WriteBatch as the customer
// record. A record keeps the index keys of its last commit
// (StoredCustomer.index_keys), so a commit deletes exactly the keys that no
// longer hold. Only fields that elapsed event time never changes are
// indexed (AdvanceTo leaves them as stored), so an index answers for any
// as-of at or after the stored states; readers still re-check every
// candidate against the filter. (The state as_of, which moves on every
// commit, is not an index: the store keeps only its maximum, so keeping
// the index costs nothing on a commit that changes no indexed field.)

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "crm/v1/runtime.pb.h"

namespace crm::store {

struct CommitBatch;

// Index ids (the first byte of a key).
inline constexpr char kIndexRegion = 'r';   // card.profile.region
inline constexpr char kIndexManager = 'm';  // card.profile.account_manager
inline constexpr char kIndexAbc = 'a';      // grade.abc, decimal number
inline constexpr char kIndexRfm = 's';      // lifecycle.rfm_segment, decimal

// The prefix of every key of `index` with `value`: index id, value, '\0'.
std::string IndexPrefix(char index, absl::string_view value);

// The index keys of `state`, ascending, no duplicates. Empty fields (no
// region, abc unset) get no key.
std::vector<std::string> IndexKeysOf(const v1::CustomerState& state);

// Sets record->index_keys to IndexKeysOf(record->state()) and adds to
// `batch` the puts of new keys and deletes of keys that no longer hold;
// raises batch->latest_state to the record's state as_of when later (the
// store keeps the latest over all commits, PartitionStore::latest_state).
// Call just before serializing a record into batch->customers.
void StageIndexUpdate(v1::StoredCustomer* record, CommitBatch* batch);

// The customer id of an index key (after the first '\0').
absl::string_view CustomerOfIndexKey(absl::string_view key);

}  // namespace crm::store
