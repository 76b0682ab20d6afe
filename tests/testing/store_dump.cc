#include "tests/testing/store_dump.h"

#include <filesystem>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/store/partition_store.h"
#include "gtest/gtest.h"
#include "rocksdb/iterator.h"

namespace crm::testing {

std::string DumpStores(const std::string& store_dir) {
  std::set<std::string> dirs;
  for (const auto& entry : std::filesystem::directory_iterator(store_dir)) {
    if (entry.is_directory()) dirs.insert(entry.path().string());
  }
  store::StoreResources resources{store::StoreOptions{}};
  std::string out;
  for (const std::string& dir : dirs) {
    auto s = store::PartitionStore::OpenReadOnly(resources, dir);
    if (!s.ok()) {
      ADD_FAILURE() << s.status();
      return out;
    }
    absl::StrAppend(&out, "partition ", (*s)->partition(), " next_offset ",
                    (*s)->next_offset(), "\n");
    absl::Status st =
        (*s)->ForEachCustomer([&](absl::string_view k, absl::string_view v) {
          absl::StrAppend(&out, k, " ", absl::CHexEscape(v), "\n");
          return absl::OkStatus();
        });
    EXPECT_TRUE(st.ok()) << st;
    if (auto it = (*s)->NewHistoryIterator(); it != nullptr) {
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        absl::StrAppend(&out, "history ",
                        absl::CHexEscape(it->key().ToString()), " ",
                        absl::CHexEscape(it->value().ToString()), "\n");
      }
      EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    }
  }
  return out;
}

}  // namespace crm::testing
