#include "engine/store/memtable.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "tests/testing/temp_dir.h"

namespace crm::store {
namespace {

// The memtable checked through a real RocksDB against a std::map: puts,
// overwrites and deletes in batches in key order (the finger) and in random
// order (searches from the head), read by Get, by full scans both ways and
// by Seek / SeekForPrev at random targets, before and after a flush.
class MemtableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.memtable_factory = NewFingerSkipListFactory();
    options.allow_concurrent_memtable_write = false;
    options.write_buffer_size = 64 << 20;  // no flush unless asked
    rocksdb::DB* db = nullptr;
    const rocksdb::Status s = rocksdb::DB::Open(options, tmp_.File("db"), &db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
  }

  // Keys sharing prefixes, of different lengths, some empty-suffixed, so
  // that comparisons end in the bytes, in the lengths and in the trailers.
  std::string RandomKey() {
    const int n = std::uniform_int_distribution<int>(0, 400)(rng_);
    std::string key = absl::StrCat("C", n % 37);
    if (n % 3 != 0) key.push_back('\0');
    if (n % 5 != 0) absl::StrAppend(&key, "g", n);
    return key;
  }

  void WriteRandomBatch(bool sorted) {
    std::vector<std::pair<std::string, std::optional<std::string>>> ops;
    const int count = std::uniform_int_distribution<int>(1, 60)(rng_);
    for (int i = 0; i < count; ++i) {
      std::string key = RandomKey();
      if (std::uniform_int_distribution<int>(0, 4)(rng_) == 0) {
        ops.emplace_back(std::move(key), std::nullopt);
      } else {
        ops.emplace_back(std::move(key), absl::StrCat("v", ++version_));
      }
    }
    if (sorted) {
      std::stable_sort(
          ops.begin(), ops.end(),
          [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    rocksdb::WriteBatch batch;
    for (const auto& [key, value] : ops) {
      if (value.has_value()) {
        ASSERT_TRUE(batch.Put(key, *value).ok());
        model_[key] = *value;
      } else {
        ASSERT_TRUE(batch.Delete(key).ok());
        model_.erase(key);
      }
    }
    ASSERT_TRUE(db_->Write(rocksdb::WriteOptions(), &batch).ok());
  }

  void ExpectMatchesModel() {
    for (int i = 0; i < 200; ++i) {
      const std::string key = RandomKey();
      std::string got;
      const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &got);
      auto it = model_.find(key);
      if (it == model_.end()) {
        EXPECT_TRUE(s.IsNotFound()) << key << ": " << s.ToString();
      } else {
        ASSERT_TRUE(s.ok()) << key << ": " << s.ToString();
        EXPECT_EQ(got, it->second) << key;
      }
    }
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions()));
    std::vector<std::pair<std::string, std::string>> forward;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      forward.emplace_back(it->key().ToString(), it->value().ToString());
    }
    ASSERT_TRUE(it->status().ok());
    const std::vector<std::pair<std::string, std::string>> expected(
        model_.begin(), model_.end());
    EXPECT_EQ(forward, expected);
    std::vector<std::pair<std::string, std::string>> backward;
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      backward.emplace_back(it->key().ToString(), it->value().ToString());
    }
    std::reverse(backward.begin(), backward.end());
    EXPECT_EQ(backward, forward);
    for (int i = 0; i < 100; ++i) {
      const std::string target = RandomKey();
      it->Seek(target);
      auto lower = model_.lower_bound(target);
      if (lower == model_.end()) {
        EXPECT_FALSE(it->Valid()) << target;
      } else {
        ASSERT_TRUE(it->Valid()) << target;
        EXPECT_EQ(it->key().ToString(), lower->first) << target;
      }
      it->SeekForPrev(target);
      auto upper = model_.upper_bound(target);
      if (upper == model_.begin()) {
        EXPECT_FALSE(it->Valid()) << target;
      } else {
        ASSERT_TRUE(it->Valid()) << target;
        EXPECT_EQ(it->key().ToString(), std::prev(upper)->first) << target;
      }
    }
  }

  testing::TempDir tmp_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, std::string> model_;
  std::mt19937 rng_{7};
  int version_ = 0;
};

TEST_F(MemtableTest, SortedAndUnsortedBatchesReadBackAsWritten) {
  for (int round = 0; round < 1000; ++round) {
    WriteRandomBatch(/*sorted=*/round % 3 != 0);
    if (round % 200 == 199) ExpectMatchesModel();
  }
  ExpectMatchesModel();
  ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions()).ok());
  ExpectMatchesModel();
  // New memtable over the flushed table: reads merge the two.
  for (int round = 0; round < 100; ++round) WriteRandomBatch(round % 2 == 0);
  ExpectMatchesModel();
}

TEST_F(MemtableTest, ASnapshotSeesTheOlderVersionOfAKey) {
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), "k", "old").ok());
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::WriteBatch batch;  // two versions of one key in one batch
  ASSERT_TRUE(batch.Put("k", "mid").ok());
  ASSERT_TRUE(batch.Put("k", "new").ok());
  ASSERT_TRUE(db_->Write(rocksdb::WriteOptions(), &batch).ok());
  rocksdb::ReadOptions at;
  at.snapshot = snapshot;
  std::string got;
  ASSERT_TRUE(db_->Get(at, "k", &got).ok());
  EXPECT_EQ(got, "old");
  ASSERT_TRUE(db_->Get(rocksdb::ReadOptions(), "k", &got).ok());
  EXPECT_EQ(got, "new");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(at));
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value().ToString(), "old");
  it.reset();
  db_->ReleaseSnapshot(snapshot);
}

TEST_F(MemtableTest, ReadersWhileTheWriterInsertsSeeOnlyWrittenValues) {
  // Each key's value only grows, so a reader must never see it go back.
  constexpr int kKeys = 64;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    std::vector<int> last(kKeys, -1);
    while (!done.load()) {
      std::unique_ptr<rocksdb::Iterator> it(
          db_->NewIterator(rocksdb::ReadOptions()));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const int k = std::stoi(it->key().ToString().substr(1));
        const int v = std::stoi(it->value().ToString());
        if (k < 0 || k >= kKeys || v < last[k]) bad.fetch_add(1);
        last[k] = std::max(last[k], v);
      }
    }
  });
  for (int v = 0; v < 300; ++v) {
    rocksdb::WriteBatch batch;
    for (int k = 0; k < kKeys; ++k) {
      ASSERT_TRUE(batch.Put(absl::StrCat("k", k), absl::StrCat(v)).ok());
    }
    ASSERT_TRUE(db_->Write(rocksdb::WriteOptions(), &batch).ok());
  }
  done.store(true);
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  std::string got;
  ASSERT_TRUE(db_->Get(rocksdb::ReadOptions(), "k7", &got).ok());
  EXPECT_EQ(got, "299");
}

}  // namespace
}  // namespace crm::store
