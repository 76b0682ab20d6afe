#pragma once

// The secondary indexes of a partition store (column family "index"): one
// key per indexed field of each customer, `<index id><value>\0<customer_id>`
// with an empty value, written in the same WriteBatch as the customer
// record. A record keeps the index keys of its last commit
// (StoredCustomer.index_keys), so a commit deletes exactly the keys that no
// longer hold. Only fields that elapsed event time never changes are
// indexed (AdvanceTo leaves them as stored), so an index answers for any
// as-of at or after the stored states; readers still re-check every
// candidate against the filter.

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
// facts.as_of as 8-byte big-endian seconds: the last key of this prefix
// is the latest state time of the store.
inline constexpr char kIndexAsOf = 't';

// The prefix of every key of `index` with `value`: index id, value, '\0'.
std::string IndexPrefix(char index, absl::string_view value);

// The index keys of `state`, ascending, no duplicates. Empty fields (no
// region, abc unset) get no key.
std::vector<std::string> IndexKeysOf(const v1::CustomerState& state);

// Sets record->index_keys to IndexKeysOf(record->state()) and adds to
// `batch` the puts of new keys and deletes of keys that no longer hold.
// Call just before serializing a record into batch->customers.
void StageIndexUpdate(v1::StoredCustomer* record, CommitBatch* batch);

// The customer id of an index key (after the first '\0' past the value;
// for kIndexAsOf after the 8 time bytes and '\0').
absl::string_view CustomerOfIndexKey(absl::string_view key);

}  // namespace crm::store
