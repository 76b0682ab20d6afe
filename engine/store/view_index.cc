#include "engine/store/view_index.h"

#include <algorithm>
#include <iterator>

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
  uint64_t secs = static_cast<uint64_t>(
      std::max<int64_t>(0, state.facts().as_of().seconds()));
  std::string t(8, '\0');
  for (int i = 7; i >= 0; --i) {
    t[i] = static_cast<char>(secs & 0xff);
    secs >>= 8;
  }
  add(kIndexAsOf, t);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

void StageIndexUpdate(v1::StoredCustomer* record, CommitBatch* batch) {
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
  size_t from = 1;
  if (key[0] == kIndexAsOf) from = 1 + 8;
  const size_t nul = key.find('\0', from);
  return nul == absl::string_view::npos ? absl::string_view()
                                        : key.substr(nul + 1);
}

}  // namespace crm::store
