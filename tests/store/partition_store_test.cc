#include "engine/store/partition_store.h"

#include "crm/v1/runtime.pb.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testing/temp_dir.h"

namespace crm::store {
namespace {

class PartitionStoreTest : public ::testing::Test {
 protected:
  StoreResources resources_{StoreOptions{}};
  testing::TempDir tmp_;
  std::string Dir() const { return tmp_.File("p0"); }
  // Writes `value` under `key` in the outbox column family of the closed
  // store at Dir(), with RocksDB directly: what an older version or a
  // damaged disk left there.
  void PutRawOutbox(const std::string& key, const std::string& value) {
    std::vector<std::string> names;
    ASSERT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), Dir(), &names)
            .ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) cfs.push_back({n, {}});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), Dir(), cfs, &handles, &db)
            .ok());
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == "outbox") {
        EXPECT_TRUE(db->Put({}, handles[i], key, value).ok());
      }
    }
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
};

TEST_F(PartitionStoreTest, NewStoreStartsAtOffsetZero) {
  auto store = PartitionStore::Open(resources_, Dir(), 0);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->next_offset(), 0);
  EXPECT_EQ((*store)->partition(), 0);
  auto got = (*store)->GetCustomer("C1");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

TEST_F(PartitionStoreTest, CommitIsAtomicWithOffsetAndSurvivesReopen) {
  {
    auto store = *PartitionStore::Open(resources_, Dir(), 3);
    CommitBatch batch;
    batch.customers = {{"C1", "state-1"}, {"C2", "state-2"}};
    batch.outbox = {"dead-letter-1"};
    batch.next_offset = 42;
    ASSERT_TRUE(store->Commit(batch).ok());
    EXPECT_EQ(store->next_offset(), 42);
  }
  auto store = *PartitionStore::Open(resources_, Dir(), 3);
  EXPECT_EQ(store->next_offset(), 42);
  EXPECT_EQ(**store->GetCustomer("C2"), "state-2");
  auto many = *store->MultiGetCustomers({"C2", "C9", "C1"});
  ASSERT_EQ(many.size(), 3u);
  EXPECT_EQ(*many[0], "state-2");
  EXPECT_FALSE(many[1].has_value());
  EXPECT_EQ(*many[2], "state-1");
}

TEST_F(PartitionStoreTest, RefusesAnotherPartitionsDirectory) {
  { ASSERT_TRUE(PartitionStore::Open(resources_, Dir(), 1).ok()); }
  auto other = PartitionStore::Open(resources_, Dir(), 2);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(other.status().message(), Dir() + " holds partition 1, not 2");
}

TEST_F(PartitionStoreTest, OutboxSequenceContinuesAfterReopenAndTrims) {
  {
    auto store = *PartitionStore::Open(resources_, Dir(), 0);
    CommitBatch b;
    b.outbox = {"a", "b"};
    b.next_offset = 2;
    ASSERT_TRUE(store->Commit(b).ok());
  }
  auto store = *PartitionStore::Open(resources_, Dir(), 0);
  CommitBatch b;
  b.outbox = {"c"};
  b.next_offset = 3;
  ASSERT_TRUE(store->Commit(b).ok());
  auto all = *store->ReadOutbox(0, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], (std::pair<uint64_t, std::string>{0, "a"}));
  EXPECT_EQ(all[2], (std::pair<uint64_t, std::string>{2, "c"}));
  ASSERT_TRUE(store->TrimOutbox(2).ok());
  auto rest = *store->ReadOutbox(0, 10);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].first, 2u);
}

TEST_F(PartitionStoreTest, OutboxPagesReadAndTrimByRecord) {
  auto store = *PartitionStore::Open(resources_, Dir(), 0);
  CommitBatch b;
  b.outbox = {"a", "b", "c"};  // one page: 0..2
  b.next_offset = 1;
  ASSERT_TRUE(store->Commit(b).ok());
  b.outbox = {"d", "e"};  // 3..4
  b.next_offset = 2;
  ASSERT_TRUE(store->Commit(b).ok());

  // Reads start and stop inside pages.
  auto mid = *store->ReadOutbox(1, 3);
  ASSERT_EQ(mid.size(), 3u);
  EXPECT_EQ(mid[0], (std::pair<uint64_t, std::string>{1, "b"}));
  EXPECT_EQ(mid[2], (std::pair<uint64_t, std::string>{3, "d"}));
  EXPECT_EQ(store->ReadOutbox(5, 10)->size(), 0u);

  // A trim inside a page keeps the page; one at its end drops it.
  ASSERT_TRUE(store->TrimOutbox(4).ok());
  auto rest = *store->ReadOutbox(0, 10);
  ASSERT_EQ(rest.size(), 5u - 3u);
  EXPECT_EQ(rest[0], (std::pair<uint64_t, std::string>{3, "d"}));
  ASSERT_TRUE(store->TrimOutbox(5).ok());
  EXPECT_TRUE(store->ReadOutbox(0, 10)->empty());

  // One put per commit: the column family holds a key per page.
  b.outbox = {"f", "g"};
  b.next_offset = 3;
  ASSERT_TRUE(store->Commit(b).ok());
  store.reset();
  store = *PartitionStore::Open(resources_, Dir(), 0);
  b.outbox = {"h"};
  b.next_offset = 4;
  ASSERT_TRUE(store->Commit(b).ok());  // the sequence goes on after "g"
  auto after = *store->ReadOutbox(0, 10);
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[0], (std::pair<uint64_t, std::string>{5, "f"}));
  EXPECT_EQ(after[2], (std::pair<uint64_t, std::string>{7, "h"}));
}

// Stores written before outbox pages hold one OutboxRecord per key.
TEST_F(PartitionStoreTest, OutboxRecordsWrittenOneByOneStillRead) {
  ASSERT_TRUE(PartitionStore::Open(resources_, Dir(), 0).ok());
  v1::OutboxRecord old_record;
  old_record.mutable_transition()->set_customer_id("C1");
  const std::string bytes = old_record.SerializeAsString();
  PutRawOutbox(std::string("\0\0\0\0\0\0\0\x07", 8), bytes);
  auto store = *PartitionStore::Open(resources_, Dir(), 0);
  CommitBatch b;
  b.outbox = {"x"};
  b.next_offset = 1;
  ASSERT_TRUE(store->Commit(b).ok());
  auto all = *store->ReadOutbox(0, 10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], (std::pair<uint64_t, std::string>{7, bytes}));
  EXPECT_EQ(all[1], (std::pair<uint64_t, std::string>{8, "x"}));
  // Trimming counts the old record as one.
  ASSERT_TRUE(store->TrimOutbox(8).ok());
  all = *store->ReadOutbox(0, 10);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].first, 8u);
  ASSERT_TRUE(store->TrimOutbox(9).ok());
  EXPECT_TRUE(store->ReadOutbox(0, 10)->empty());
}

// A page that does not parse is named as such when trimming reaches it.
TEST_F(PartitionStoreTest, TrimNamesACorruptOutboxPage) {
  {
    auto store = *PartitionStore::Open(resources_, Dir(), 0);
    CommitBatch b;
    b.outbox = {"a", "b"};
    b.next_offset = 1;
    ASSERT_TRUE(store->Commit(b).ok());
  }
  // Page tag, then a length running past the end.
  PutRawOutbox(std::string(8, '\0'), std::string("\x7a\x05ab", 4));
  auto store = PartitionStore::Open(resources_, Dir(), 0);
  const absl::Status s = store.ok() ? (*store)->TrimOutbox(1) : store.status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("not a valid crm.v1.OutboxPage"),
            std::string::npos)
      << s;
}

TEST_F(PartitionStoreTest, ForEachCustomerInKeyOrder) {
  auto store = *PartitionStore::Open(resources_, Dir(), 0);
  CommitBatch b;
  b.customers = {{"C3", "x"}, {"C1", "y"}, {"C2", "z"}};
  b.next_offset = 3;
  ASSERT_TRUE(store->Commit(b).ok());
  std::string order;
  ASSERT_TRUE(
      store
          ->ForEachCustomer([&](absl::string_view k, absl::string_view) {
            order += std::string(k) + ",";
            return absl::OkStatus();
          })
          .ok());
  EXPECT_EQ(order, "C1,C2,C3,");
}

TEST_F(PartitionStoreTest, CheckpointOpensWithSameState) {
  auto store = *PartitionStore::Open(resources_, Dir(), 5);
  CommitBatch b;
  b.customers = {{"C1", "v"}};
  b.next_offset = 7;
  ASSERT_TRUE(store->Commit(b).ok());
  const std::string cp = tmp_.File("cp");
  ASSERT_TRUE(store->Checkpoint(cp).ok());
  auto copy = PartitionStore::Open(resources_, cp, 5);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ((*copy)->next_offset(), 7);
  EXPECT_EQ(**(*copy)->GetCustomer("C1"), "v");
}

}  // namespace
}  // namespace crm::store
