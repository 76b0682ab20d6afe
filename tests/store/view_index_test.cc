#include "engine/store/view_index.h"

#include <memory>
#include <string>
#include <vector>

#include "crm/v1/runtime.pb.h"
#include "engine/store/partition_store.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testing/temp_dir.h"

namespace crm::store {
namespace {

v1::StoredCustomer Customer(const std::string& id, const std::string& region,
                            const std::string& manager, v1::AbcClass abc,
                            int64_t as_of_seconds) {
  v1::StoredCustomer rec;
  v1::CustomerState* st = rec.mutable_state();
  st->set_customer_id(id);
  st->mutable_views()->mutable_card()->mutable_profile()->set_region(region);
  st->mutable_views()->mutable_card()->mutable_profile()->set_account_manager(
      manager);
  st->mutable_views()->mutable_grade()->set_abc(abc);
  st->mutable_facts()->mutable_as_of()->set_seconds(as_of_seconds);
  return rec;
}

std::vector<std::string> AllIndexKeys(const PartitionStore& s) {
  std::vector<std::string> out;
  EXPECT_TRUE(s.ForEachIndexKey("", [&](absl::string_view k) {
                 out.emplace_back(k);
                 return true;
               }).ok());
  return out;
}

void CommitRecord(PartitionStore& s, v1::StoredCustomer* rec) {
  CommitBatch b;
  StageIndexUpdate(rec, &b);
  b.customers.push_back({rec->state().customer_id(), rec->SerializeAsString()});
  ASSERT_TRUE(s.Commit(b).ok());
}

TEST(ViewIndexTest, KeysOfAState) {
  const auto rec = Customer("C1", "north", "am-1", v1::ABC_CLASS_A, 258);
  EXPECT_EQ(IndexKeysOf(rec.state()),
            (std::vector<std::string>{std::string("a1\0C1", 5),
                                      std::string("mam-1\0C1", 8),
                                      std::string("rnorth\0C1", 9)}));
  EXPECT_EQ(CustomerOfIndexKey(std::string("rnorth\0C1", 9)), "C1");
}

TEST(ViewIndexTest, ACommitMovesTheCustomerBetweenIndexEntries) {
  testing::TempDir tmp;
  StoreResources resources(StoreOptions{});
  auto store = *PartitionStore::Open(resources, tmp.File("p"), 0);
  ASSERT_TRUE(store->index_ready());
  auto rec = Customer("C1", "north", "am-1", v1::ABC_CLASS_A, 100);
  CommitRecord(*store, &rec);
  auto other = Customer("C2", "south", "am-1", v1::ABC_CLASS_B, 90);
  CommitRecord(*store, &other);
  // C1 goes from A to B and from north to west.
  rec.mutable_state()->mutable_views()->mutable_grade()->set_abc(
      v1::ABC_CLASS_B);
  rec.mutable_state()
      ->mutable_views()
      ->mutable_card()
      ->mutable_profile()
      ->set_region("west");
  CommitRecord(*store, &rec);
  EXPECT_EQ(AllIndexKeys(*store),
            (std::vector<std::string>{
                std::string("a2\0C1", 5), std::string("a2\0C2", 5),
                std::string("mam-1\0C1", 8), std::string("mam-1\0C2", 8),
                std::string("rsouth\0C2", 9), std::string("rwest\0C1", 8)}));
  EXPECT_EQ(store->latest_state().as_of_seconds, 100);
  EXPECT_EQ(store->latest_state().customer_id, "C1");
  // The record keeps the keys of its last commit.
  auto stored = *store->GetCustomer("C1");
  v1::StoredCustomer parsed;
  ASSERT_TRUE(parsed.ParseFromString(*stored));
  EXPECT_EQ(parsed.index_keys_size(), 3);
  // The latest state survives a reopen.
  store.reset();
  auto again = *PartitionStore::Open(resources, tmp.File("p"), 0);
  EXPECT_EQ(again->latest_state().as_of_seconds, 100);
  EXPECT_EQ(again->latest_state().customer_id, "C1");
}

TEST(ViewIndexTest, AStoreWithoutTheIndexIsBackfilledOnReadWriteOpen) {
  testing::TempDir tmp;
  const std::string dir = tmp.File("p");
  {  // The layout before the index: no "index" column family.
    rocksdb::Options o;
    o.create_if_missing = true;
    o.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}},
        {"customers", {}},
        {"outbox", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir, cfs, &handles, &db).ok());
    db->Put({}, handles[0], "partition", "0");
    db->Put({}, handles[0], "format", "1");
    db->Put({}, handles[1], "C1",
            Customer("C1", "north", "", v1::ABC_CLASS_UNSPECIFIED, 7)
                .SerializeAsString());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  StoreResources resources(StoreOptions{});
  {
    auto ro = PartitionStore::OpenReadOnly(resources, dir);
    ASSERT_TRUE(ro.ok()) << ro.status();
    EXPECT_FALSE((*ro)->index_ready());
    EXPECT_EQ((*ro)
                  ->ForEachIndexKey("", [](absl::string_view) { return true; })
                  .code(),
              absl::StatusCode::kFailedPrecondition);
  }
  auto rw = PartitionStore::Open(resources, dir, 0);
  ASSERT_TRUE(rw.ok()) << rw.status();
  EXPECT_TRUE((*rw)->index_ready());
  EXPECT_EQ(AllIndexKeys(**rw),
            (std::vector<std::string>{std::string("rnorth\0C1", 9)}));
  EXPECT_EQ((*rw)->latest_state().as_of_seconds, 7);
}

}  // namespace
}  // namespace crm::store
