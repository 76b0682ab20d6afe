#include "engine/store/customer_record.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crm/v1/runtime.pb.h"
#include "engine/store/partition_store.h"
#include "gtest/gtest.h"
#include "rocksdb/iterator.h"
#include "tests/testing/temp_dir.h"

namespace crm::store {
namespace {

void AddGradeChange(v1::StoredCustomer* rec, const std::string& to,
                    int64_t at) {
  v1::GradeChange* c =
      rec->mutable_state()->mutable_views()->mutable_grade()->add_history();
  c->set_dimension("value_tier");
  c->set_to(to);
  c->mutable_at()->set_seconds(at);
  c->set_why(absl::StrCat("why ", to));
}

void AddStageChange(v1::StoredCustomer* rec, v1::LifecycleStage to,
                    int64_t at) {
  v1::StageChange* c =
      rec->mutable_state()->mutable_views()->mutable_lifecycle()->add_history();
  c->set_to(to);
  c->mutable_at()->set_seconds(at);
}

v1::StoredCustomer NewCustomer(const std::string& id) {
  v1::StoredCustomer rec;
  rec.mutable_state()->set_customer_id(id);
  return rec;
}

// Every key and value of the history column family, escaped, in order.
std::vector<std::string> HistoryRows(const PartitionStore& s) {
  std::vector<std::string> rows;
  auto it = s.NewHistoryIterator();
  EXPECT_NE(it, nullptr);
  if (it == nullptr) return rows;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rows.push_back(absl::StrCat(absl::CHexEscape(it->key().ToString()), " ",
                                absl::CHexEscape(it->value().ToString())));
  }
  EXPECT_TRUE(it->status().ok());
  return rows;
}

v1::StoredCustomer Read(const PartitionStore& s, const std::string& id) {
  auto value = s.GetCustomer(id);
  EXPECT_TRUE(value.ok() && value->has_value());
  v1::StoredCustomer rec;
  if (value.ok() && value->has_value()) {
    EXPECT_TRUE(rec.ParseFromString(**value));
  }
  return rec;
}

TEST(CustomerRecordTest, KeysSortByCustomerThenKindThenSequence) {
  EXPECT_EQ(HistoryKey("C1", kHistoryGrade, 258),
            std::string("C1\0g\0\0\x01\x02", 8));
  EXPECT_EQ(HistoryPrefix("C1"), std::string("C1\0", 3));
  // "C1" sorts before "C10" as its record does.
  EXPECT_LT(HistoryKey("C1", kHistoryStage, 0xffffffff),
            HistoryKey("C10", kHistoryGrade, 0));
  EXPECT_LT(HistoryKey("C1", kHistoryGrade, 255),
            HistoryKey("C1", kHistoryGrade, 256));
}

TEST(CustomerRecordTest, StagingMovesTheHistoriesOutAndReadingPutsThemBack) {
  testing::TempDir tmp;
  StoreResources resources(StoreOptions{});
  auto store = *PartitionStore::Open(resources, tmp.File("p"), 0);

  v1::StoredCustomer rec = NewCustomer("C1");
  AddGradeChange(&rec, "SMALL", 10);
  AddGradeChange(&rec, "MEDIUM", 20);
  AddStageChange(&rec, v1::LIFECYCLE_STAGE_NEW, 10);
  const v1::StoredCustomer whole_after_first = rec;
  {
    CommitBatch b;
    const size_t bytes = StageCustomer("C1", &rec, &b);
    ASSERT_EQ(b.history_puts.size(), 3u);
    EXPECT_EQ(b.history_puts[0].key, HistoryKey("C1", kHistoryGrade, 0));
    EXPECT_EQ(b.history_puts[1].key, HistoryKey("C1", kHistoryGrade, 1));
    EXPECT_EQ(b.history_puts[2].key, HistoryKey("C1", kHistoryStage, 0));
    ASSERT_EQ(b.customers.size(), 1u);
    EXPECT_EQ(bytes, b.customers[0].value.size() +
                         b.history_puts[0].value.size() +
                         b.history_puts[1].value.size() +
                         b.history_puts[2].value.size());
    ASSERT_TRUE(store->Commit(b).ok());
  }
  EXPECT_EQ(rec.state().views().grade().history_size(), 0);
  EXPECT_EQ(rec.state().views().lifecycle().history_size(), 0);
  EXPECT_EQ(rec.grade_history_stored(), 2u);
  EXPECT_EQ(rec.stage_history_stored(), 1u);

  // A later commit continues each sequence.
  AddGradeChange(&rec, "LARGE", 30);
  {
    CommitBatch b;
    StageCustomer("C1", &rec, &b);
    ASSERT_EQ(b.history_puts.size(), 1u);
    EXPECT_EQ(b.history_puts[0].key, HistoryKey("C1", kHistoryGrade, 2));
    ASSERT_TRUE(store->Commit(b).ok());
  }

  // Read back: the stored entries, in order, before what the state holds.
  v1::StoredCustomer back = Read(*store, "C1");
  EXPECT_EQ(back.grade_history_stored(), 3u);
  AddStageChange(&back, v1::LIFECYCLE_STAGE_ACTIVE, 40);  // not stored yet
  HistoryReader reader(*store);
  ASSERT_TRUE(reader.Complete(&back).ok());
  const auto& grade = back.state().views().grade().history();
  ASSERT_EQ(grade.size(), 3);
  EXPECT_EQ(grade[0].to(), "SMALL");
  EXPECT_EQ(grade[1].to(), "MEDIUM");
  EXPECT_EQ(grade[2].to(), "LARGE");
  EXPECT_EQ(grade[2].why(), "why LARGE");
  const auto& stage = back.state().views().lifecycle().history();
  ASSERT_EQ(stage.size(), 2);
  EXPECT_EQ(stage[0].to(), v1::LIFECYCLE_STAGE_NEW);
  EXPECT_EQ(stage[1].to(), v1::LIFECYCLE_STAGE_ACTIVE);
  EXPECT_EQ(whole_after_first.state()
                .views()
                .lifecycle()
                .history(0)
                .SerializeAsString(),
            stage[0].SerializeAsString());
}

TEST(CustomerRecordTest, StoresAreIdenticalWhateverTheCommitPoints) {
  testing::TempDir tmp;
  StoreResources resources(StoreOptions{});
  auto one = *PartitionStore::Open(resources, tmp.File("one"), 0);
  auto two = *PartitionStore::Open(resources, tmp.File("two"), 0);

  // `one` commits after every change, `two` once at the end.
  v1::StoredCustomer a = NewCustomer("C7");
  v1::StoredCustomer b = NewCustomer("C7");
  for (int i = 0; i < 5; ++i) {
    for (v1::StoredCustomer* rec : {&a, &b}) {
      AddGradeChange(rec, absl::StrCat("T", i), 100 + i);
      if (i % 2 == 0) AddStageChange(rec, v1::LIFECYCLE_STAGE_ACTIVE, 100 + i);
    }
    CommitBatch batch;
    StageCustomer("C7", &a, &batch);
    ASSERT_TRUE(one->Commit(batch).ok());
  }
  CommitBatch batch;
  StageCustomer("C7", &b, &batch);
  ASSERT_TRUE(two->Commit(batch).ok());

  EXPECT_EQ(HistoryRows(*one), HistoryRows(*two));
  EXPECT_EQ(HistoryRows(*one).size(), 8u);
  EXPECT_EQ(Read(*one, "C7").SerializeAsString(),
            Read(*two, "C7").SerializeAsString());
}

TEST(CustomerRecordTest, AnUnchangedRecordIsNotStagedAgain) {
  v1::StoredCustomer rec = NewCustomer("C2");
  rec.mutable_state()->mutable_facts()->mutable_as_of()->set_seconds(5);
  CommitBatch first;
  StageCustomer("C2", &rec, &first);
  ASSERT_EQ(first.customers.size(), 1u);
  const std::string stored = first.customers[0].value;

  CommitBatch again;
  EXPECT_EQ(StageCustomer("C2", &rec, &again, stored), 0u);
  EXPECT_TRUE(again.customers.empty());

  // A new history entry is a change even if nothing else is.
  AddGradeChange(&rec, "VIP", 9);
  CommitBatch changed;
  EXPECT_GT(StageCustomer("C2", &rec, &changed, stored), 0u);
  EXPECT_EQ(changed.customers.size(), 1u);
  EXPECT_EQ(changed.history_puts.size(), 1u);
}

TEST(CustomerRecordTest, ARecordWithItsHistoryInsideIsReadAsIsThenMovedOut) {
  // As records were written before the history column family.
  testing::TempDir tmp;
  StoreResources resources(StoreOptions{});
  auto store = *PartitionStore::Open(resources, tmp.File("p"), 0);
  v1::StoredCustomer rec = NewCustomer("C3");
  AddGradeChange(&rec, "SMALL", 10);
  AddStageChange(&rec, v1::LIFECYCLE_STAGE_NEW, 10);
  {
    CommitBatch b;
    b.customers.push_back({"C3", rec.SerializeAsString()});
    ASSERT_TRUE(store->Commit(b).ok());
  }
  v1::StoredCustomer back = Read(*store, "C3");
  HistoryReader reader(*store);
  ASSERT_TRUE(reader.Complete(&back).ok());
  EXPECT_EQ(back.SerializeAsString(), rec.SerializeAsString());

  // The next commit moves the entries out; the whole views stay the same.
  AddGradeChange(&back, "MEDIUM", 20);
  {
    CommitBatch b;
    StageCustomer("C3", &back, &b);
    EXPECT_EQ(b.history_puts.size(), 3u);
    ASSERT_TRUE(store->Commit(b).ok());
  }
  v1::StoredCustomer again = Read(*store, "C3");
  EXPECT_EQ(again.state().views().grade().history_size(), 0);
  ASSERT_TRUE(reader.Complete(&again).ok());
  ASSERT_EQ(again.state().views().grade().history_size(), 2);
  EXPECT_EQ(again.state().views().grade().history(0).to(), "SMALL");
  EXPECT_EQ(again.state().views().grade().history(1).to(), "MEDIUM");
  EXPECT_EQ(again.state().views().lifecycle().history_size(), 1);
}

TEST(CustomerRecordTest, MissingEntriesAreDataLossNamingTheCustomer) {
  v1::StoredCustomer rec = NewCustomer("C4");
  rec.set_grade_history_stored(2);  // the store holds only one
  testing::TempDir tmp;
  StoreResources resources(StoreOptions{});
  auto store = *PartitionStore::Open(resources, tmp.File("p"), 0);
  {
    v1::StoredCustomer staged = NewCustomer("C4");
    AddGradeChange(&staged, "SMALL", 10);
    CommitBatch b;
    StageCustomer("C4", &staged, &b);
    ASSERT_TRUE(store->Commit(b).ok());
  }
  HistoryReader reader(*store);
  const absl::Status s = reader.Complete(&rec);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("customer C4"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("counts 2 grade history entries stored, the "
                             "store holds 1"),
            absl::string_view::npos)
      << s;
}

}  // namespace
}  // namespace crm::store
