#include "engine/store/view_index.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/store/partition_store.h"

namespace crm::store {

std::string IndexPrefix(char index, absl::string_view value) {
  std::string out(1, index);
  absl::StrAppend(&out, value);
  out.push_back('\0');
  return out;
}

std::vector<std::string> IndexKeysOf(const v1::CustomerState& state) {
  const v1::CustomerViews& v = state.views();
  const std::string& id = state.customer_id();
  std::vector<std::string> keys;
  auto add = [&](char index, absl::string_view value) {
    if (value.empty()) return;
    keys.push_back(absl::StrCat(IndexPrefix(index, value), id));
  };
  add(kIndexRegion, v.card().profile().region());
  add(kIndexManager, v.card().profile().account_manager());
  if (v.grade().abc() != 0) add(kIndexAbc, absl::StrCat(v.grade().abc()));
  if (v.lifecycle().rfm_segment() != 0) {
    add(kIndexRfm, absl::StrCat(v.lifecycle().rfm_segment()));
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

void StageIndexUpdate(v1::StoredCustomer* record, CommitBatch* batch) {
  LatestStateMark mark;
  mark.as_of_seconds = record->state().facts().as_of().seconds();
  mark.as_of_nanos = record->state().facts().as_of().nanos();
  mark.customer_id = record->state().customer_id();
  if (!mark.customer_id.empty() && mark.After(batch->latest_state)) {
    batch->latest_state = std::move(mark);
  }
  std::vector<std::string> now = IndexKeysOf(record->state());
  std::vector<std::string> before(record->index_keys().begin(),
                                  record->index_keys().end());
  if (now == before) return;
  std::set_difference(before.begin(), before.end(), now.begin(), now.end(),
                      std::back_inserter(batch->index_deletes));
  std::set_difference(now.begin(), now.end(), before.begin(), before.end(),
                      std::back_inserter(batch->index_puts));
  record->clear_index_keys();
  for (std::string& k : now) record->add_index_keys(std::move(k));
}

absl::string_view CustomerOfIndexKey(absl::string_view key) {
  if (key.empty()) return {};
  const size_t nul = key.find('\0', 1);
  return nul == absl::string_view::npos ? absl::string_view()
                                        : key.substr(nul + 1);
}

}  // namespace crm::store
