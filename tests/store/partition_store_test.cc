#include "engine/store/partition_store.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "crm/v1/runtime.pb.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testing/full_disk.h"
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

// A new store's column families are created after it is opened: a store
// left with only some of them (a crash in between) opens with all of them,
// and what it held stays.
TEST_F(PartitionStoreTest, AStoreMissingColumnFamiliesGetsThemAtOpen) {
  auto Kept = [] {
    v1::StoredCustomer record;
    record.mutable_state()->set_customer_id("C7");
    return record.SerializeAsString();
  };
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, Dir(), &db).ok());
    rocksdb::ColumnFamilyHandle* customers = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily({}, "customers", &customers).ok());
    ASSERT_TRUE(db->Put({}, customers, "C7", Kept()).ok());
    db->DestroyColumnFamilyHandle(customers);
    delete db;
  }
  {
    auto store = PartitionStore::Open(resources_, Dir(), 0);
    ASSERT_TRUE(store.ok()) << store.status();
    auto got = (*store)->GetCustomer("C7");
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->value_or(""), Kept());
    CommitBatch batch;
    batch.customers = {{"C1", "state-1"}};
    batch.outbox = {"dead-letter-1"};
    batch.history_puts = {{"C1-history", "h"}};
    batch.next_offset = 5;
    ASSERT_TRUE((*store)->Commit(batch).ok());
  }
  std::vector<std::string> names;
  ASSERT_TRUE(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), Dir(), &names)
          .ok());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"customers", "default", "history",
                                             "index", "outbox"}));
  auto store = PartitionStore::Open(resources_, Dir(), 0);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->next_offset(), 5);
  EXPECT_EQ((*store)->GetCustomer("C1")->value_or(""), "state-1");
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

// A store whose manifest cannot be read is not taken for a new store: both
// opens name the store and the listing that failed, and the store's files
// are left as they were.
TEST_F(PartitionStoreTest,
       AStoreWithAnUnreadableManifestIsAnErrorNotANewStore) {
  { ASSERT_TRUE(PartitionStore::Open(resources_, Dir(), 1).ok()); }
  std::vector<std::string> manifests;
  for (const auto& f : std::filesystem::directory_iterator(Dir())) {
    const std::string name = f.path().filename().string();
    if (name.rfind("MANIFEST-", 0) == 0) manifests.push_back(name);
  }
  ASSERT_FALSE(manifests.empty());
  for (const auto& m : manifests) std::filesystem::remove(Dir() + "/" + m);
  const std::string current = testing::ReadFile(Dir() + "/CURRENT");
  ASSERT_FALSE(current.empty());

  auto writer = PartitionStore::Open(resources_, Dir(), 1);
  ASSERT_FALSE(writer.ok());
  EXPECT_NE(writer.status().message().find("MANIFEST"), std::string::npos)
      << writer.status();
  EXPECT_EQ(writer.status().message().rfind(
                "list column families of store " + Dir() + ": ", 0),
            0u)
      << writer.status();
  auto reader = PartitionStore::OpenReadOnly(resources_, Dir());
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().message().rfind(
                "list column families of store " + Dir() + ": ", 0),
            0u)
      << reader.status();
  EXPECT_EQ(testing::ReadFile(Dir() + "/CURRENT"), current);
  for (const auto& f : std::filesystem::directory_iterator(Dir())) {
    EXPECT_NE(f.path().filename().string().rfind("MANIFEST-", 0), 0u)
        << "a new manifest was written: " << f.path();
  }
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
  PutRawOutbox(std::string(8, '\0'), std::string{'\x7a', '\x05', 'a', 'b'});
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

// Everything a store holds that a commit writes, as text: customers,
// history, index keys, outbox and offset.
std::string Contents(const PartitionStore& s) {
  std::string out;
  EXPECT_TRUE(s.ForEachCustomer([&](absl::string_view k, absl::string_view v) {
                 absl::StrAppend(&out, "customer ", k, "=", v, "\n");
                 return absl::OkStatus();
               }).ok());
  auto it = s.NewHistoryIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::StrAppend(&out, "history ", it->key().ToString(), "=",
                    it->value().ToString(), "\n");
  }
  auto outbox = s.ReadOutbox(0, 100);
  EXPECT_TRUE(outbox.ok()) << outbox.status();
  if (outbox.ok()) {
    for (const auto& [seq, rec] : *outbox) {
      absl::StrAppend(&out, "outbox ", seq, "=", rec, "\n");
    }
  }
  absl::StrAppend(&out, "next_offset ", s.next_offset(), "\n");
  return out;
}

std::vector<std::string> IndexKeys(const PartitionStore& s) {
  std::vector<std::string> keys;
  // ForEachIndexKey needs index_ready, which a fresh store has.
  EXPECT_TRUE(s.ForEachIndexKey("", [&](absl::string_view k) {
                 keys.emplace_back(k);
                 return true;
               }).ok());
  return keys;
}

TEST_F(PartitionStoreTest, LargeCommitsWithoutWalAreIngestedWithTheSameResult) {
  StoreOptions ingesting;
  ingesting.disable_wal = true;
  ingesting.ingest_min_customers = 3;
  StoreResources ingest_resources(ingesting);
  auto plain = *PartitionStore::Open(resources_, Dir(), 2);
  auto ingested =
      *PartitionStore::Open(ingest_resources, tmp_.File("ingest"), 2);
  std::vector<CommitBatch> batches(3);
  // Below the threshold: a WriteBatch.
  batches[0].customers = {{"C2", "old-2"}, {"C1", "old-1"}};
  batches[0].index_puts = {"t/2", "t/1"};
  batches[0].next_offset = 2;
  // At it: ingested, overwriting C1 (a newer sequence than the memtable's),
  // with history, an index key given twice and an outbox record.
  batches[1].customers = {{"C4", "new-4"}, {"C1", "new-1"}, {"C3", "new-3"}};
  batches[1].history_puts = {{"C3/2", "h32"}, {"C1/1", "h11"}, {"C3/1", "h31"}};
  batches[1].index_puts = {"u/4", "u/1", "u/4"};
  batches[1].outbox = {"transition-1"};
  batches[1].next_offset = 9;
  // Index deletes: a WriteBatch again, whatever the size.
  batches[2].customers = {{"C1", "c1"}, {"C2", "c2"}, {"C5", "c5"}};
  batches[2].index_deletes = {"t/1"};
  batches[2].index_puts = {"v/5"};
  batches[2].next_offset = 12;
  for (const CommitBatch& b : batches) {
    ASSERT_TRUE(plain->Commit(b).ok());
    absl::Status s = ingested->Commit(b);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(Contents(*ingested), Contents(*plain));
    EXPECT_EQ(IndexKeys(*ingested), IndexKeys(*plain));
  }
  EXPECT_EQ(IndexKeys(*plain),
            (std::vector<std::string>{"t/2", "u/1", "u/4", "v/5"}));
  EXPECT_EQ(**ingested->GetCustomer("C4"), "new-4");
  EXPECT_EQ(ingested->ingested_commits(), 1u);
  EXPECT_EQ(plain->ingested_commits(), 0u);
  // The batch of 3 went to table files, moved in: none left beside them,
  // and the store reopens with everything (no WAL: flushed first).
  for (const auto& e :
       std::filesystem::directory_iterator(tmp_.File("ingest"))) {
    EXPECT_EQ(e.path().filename().string().rfind("ingest-", 0),
              std::string::npos)
        << e.path();
  }
  ASSERT_TRUE(ingested->FlushMemtables().ok());
  const std::string before = Contents(*ingested);
  ingested.reset();
  auto reopened =
      *PartitionStore::Open(ingest_resources, tmp_.File("ingest"), 2);
  EXPECT_EQ(Contents(*reopened), before);
  EXPECT_NE(before.find("customer C4=new-4"), std::string::npos);
  EXPECT_NE(before.find("history C3/1=h31"), std::string::npos);
}

// The count of customers: from the table file's entry count when one
// ingested file holds them all, by a scan once keys may repeat in other
// files or the memtable; the scan's count either way.
TEST_F(PartitionStoreTest, CountOfCustomersEqualsTheScanWhateverHoldsThem) {
  StoreOptions ingesting;
  ingesting.disable_wal = true;
  ingesting.ingest_min_customers = 3;
  StoreResources ingest_resources(ingesting);
  auto store = *PartitionStore::Open(ingest_resources, Dir(), 0);
  auto count = [&]() -> std::pair<uint64_t, uint64_t> {
    absl::StatusOr<uint64_t> n = store->CountCustomers();
    absl::StatusOr<uint64_t> scanned = store->ScanCountCustomers();
    EXPECT_TRUE(n.ok() && scanned.ok());
    return {n.value_or(0), scanned.value_or(0)};
  };
  EXPECT_EQ(count(), std::make_pair(uint64_t{0}, uint64_t{0}));
  CommitBatch ingested;  // one table file
  ingested.customers = {{"C1", "a"}, {"C2", "b"}, {"C3", "c"}, {"C4", "d"}};
  ingested.next_offset = 4;
  ASSERT_TRUE(store->Commit(ingested).ok());
  ASSERT_EQ(store->ingested_commits(), 1u);
  EXPECT_EQ(count(), std::make_pair(uint64_t{4}, uint64_t{4}));
  // C2 again and C5, in the memtable: a scan.
  CommitBatch small;
  small.customers = {{"C2", "b2"}, {"C5", "e"}};
  small.next_offset = 6;
  ASSERT_TRUE(store->Commit(small).ok());
  EXPECT_EQ(count(), std::make_pair(uint64_t{5}, uint64_t{5}));
  // Flushed: two files that share C2, still 5.
  ASSERT_TRUE(store->FlushMemtables().ok());
  EXPECT_EQ(count(), std::make_pair(uint64_t{5}, uint64_t{5}));
}

// The disk fills up while an ingested commit's table files are written, at
// several points of them: the commit fails with the file system's error,
// its table files are removed, the store holds either all of that commit's
// records or none, and once there is space again the same commit goes in.
TEST_F(PartitionStoreTest, AnIngestedCommitOnAFullDiskIsAllOrNothing) {
  // Ingested too (a WriteBatch of a store without the WAL would be lost
  // with the memtable when the store closes on a full disk).
  CommitBatch first;
  first.customers = {{"C0", "zero"}};
  for (int i = 1; i < 100; ++i) {
    first.customers.push_back({absl::StrCat("C0", i), "early"});
  }
  first.next_offset = 1;
  CommitBatch big;
  uint64_t x = 88172645463325252u;  // values that do not compress
  for (int i = 1; i <= 400; ++i) {
    std::string value;
    while (value.size() < 300) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      absl::StrAppend(&value, absl::Hex(x, absl::kZeroPad16));
    }
    big.customers.push_back({absl::StrCat("C", 1000 + i), value});
    big.history_puts.push_back({absl::StrCat("C", 1000 + i, "/1"), "h"});
  }
  big.next_offset = 401;
  auto fs = std::make_shared<testing::FullDiskFileSystem>();
  auto env = testing::EnvOf(fs);
  StoreOptions options;
  options.disable_wal = true;
  options.ingest_min_customers = 100;
  options.env = env.get();
  StoreResources resources(options);
  // The moments: before the first byte, in the table files, and in the
  // manifest after them.
  int64_t total = 0;
  {
    auto store = *PartitionStore::Open(resources, tmp_.File("sized"), 0);
    ASSERT_TRUE(store->Commit(first).ok());
    const int64_t before = fs->appended();
    ASSERT_TRUE(store->Commit(big).ok());
    total = fs->appended() - before;
  }
  ASSERT_GT(total, 400 * 300);
  for (int64_t budget :
       {int64_t{0}, total / 4, total / 2, total - 200, total - 1}) {
    SCOPED_TRACE(absl::StrCat("budget ", budget));
    const std::string dir = tmp_.File(absl::StrCat("full-", budget));
    {
      auto store = *PartitionStore::Open(resources, dir, 0);
      ASSERT_TRUE(store->Commit(first).ok());
      fs->SetBudget(budget);
      const int64_t refused = fs->refused();
      const absl::Status s = store->Commit(big);
      ASSERT_FALSE(s.ok()) << "the disk never filled";
      EXPECT_NE(s.message().find("No space left on device"), std::string::npos)
          << s;
      EXPECT_NE(s.message().find(dir), std::string::npos) << s;
      EXPECT_GT(fs->refused(), refused);
      for (const auto& f : std::filesystem::directory_iterator(dir)) {
        EXPECT_EQ(f.path().filename().string().rfind("ingest-", 0),
                  std::string::npos)
            << "left behind: " << f.path();
      }
    }
    fs->SetBudget(-1);
    auto store = *PartitionStore::Open(resources, dir, 0);
    int found = 0;
    for (const auto& put : big.customers) {
      auto got = store->GetCustomer(put.key);
      ASSERT_TRUE(got.ok()) << got.status();
      if (got->has_value()) ++found;
    }
    EXPECT_TRUE(found == 0 || found == 400) << found << " of 400";
    auto zero = store->GetCustomer("C0");
    ASSERT_TRUE(zero.ok()) << zero.status();
    ASSERT_TRUE(zero->has_value()) << "the commit before the full disk is lost";
    EXPECT_EQ(**zero, "zero");
    ASSERT_TRUE(store->Commit(big).ok());
    EXPECT_EQ(store->next_offset(), 401);
    EXPECT_EQ(**store->GetCustomer("C1400"), big.customers.back().value);
  }
}

}  // namespace
}  // namespace crm::store
