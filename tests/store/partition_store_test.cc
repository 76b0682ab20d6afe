#include "engine/store/partition_store.h"

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace crm::store {
namespace {

class PartitionStoreTest : public ::testing::Test {
 protected:
  StoreResources resources_{StoreOptions{}};
  testing::TempDir tmp_;
  std::string Dir() const { return tmp_.File("p0"); }
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
