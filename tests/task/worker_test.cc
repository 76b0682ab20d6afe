#include "engine/task/worker.h"

#include <string>
#include <vector>

#include "crm/v1/runtime.pb.h"
#include "engine/event/codec.h"
#include "engine/log/archive.h"
#include "engine/log/embedded_log.h"
#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "tests/testing/generated_history.h"
#include "tests/testing/store_dump.h"
#include "tests/testing/temp_dir.h"

namespace crm::task {
namespace {

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_ = projections::DefaultRules();
    log::EmbeddedLogOptions options;
    options.partitions = 3;
    log_ = *log::EmbeddedLog::Open(tmp_.File("log"), options);
    testing::GeneratedHistory h = testing::GenerateHistory(60, 12, 8);
    keys_ = std::move(h.keys);
    values_ = std::move(h.values);
  }

  void AppendAll(log::EventLog& log) {
    std::vector<log::RecordRef> refs;
    for (size_t i = 0; i < keys_.size(); ++i)
      refs.push_back({keys_[i], values_[i]});
    ASSERT_TRUE(log.Append(refs).ok());
  }

  // Runs a worker over `log` to its end; returns the stores' dump.
  std::string Project(log::EventLog& log, const std::string& name,
                      WorkerOptions options = {},
                      log::EventLog* dead_letters = nullptr,
                      log::EventLog* transitions = nullptr) {
    options.store_dir = tmp_.File(name);
    options.exit_at_end = true;
    {
      Worker worker(&log, &rules_, &resources_, options, dead_letters,
                    transitions);
      absl::Status s = worker.Run({}, nullptr);
      EXPECT_TRUE(s.ok()) << s;
      last_progress_ = worker.progress();
    }
    return testing::DumpStores(options.store_dir);
  }

  testing::TempDir tmp_;
  v1::Rules rules_;
  store::StoreResources resources_{store::StoreOptions{}};
  std::unique_ptr<log::EmbeddedLog> log_;
  std::vector<std::string> keys_, values_;
  std::vector<PartitionProgress> last_progress_;
};

TEST_F(WorkerTest, DrainsEveryPartitionAndReportsProgress) {
  AppendAll(*log_);
  Project(*log_, "store");
  ASSERT_EQ(last_progress_.size(), 3u);
  int64_t applied = 0;
  for (const auto& p : last_progress_) {
    EXPECT_EQ(p.next_offset, *log_->EndOffset(p.partition));
    EXPECT_EQ(p.end_offset, p.next_offset);
    applied += p.stats.applied;
  }
  EXPECT_EQ(applied, static_cast<int64_t>(keys_.size()));
}

// Determinism: batch sizes, threads and commit sizes do not change a byte.
TEST_F(WorkerTest, BatchSizesAndThreadsGiveIdenticalStores) {
  AppendAll(*log_);
  WorkerOptions one;
  one.max_batch = 1;
  one.task.commit_every_records = 1;
  const std::string a = Project(*log_, "b1", one);
  WorkerOptions seven;
  seven.max_batch = 7;
  seven.task.commit_every_records = 13;
  seven.threads = 2;
  EXPECT_EQ(Project(*log_, "b7", seven), a);
  WorkerOptions big;
  big.max_batch = 1000;
  EXPECT_EQ(Project(*log_, "b1000", big), a);
}

// A batch never holds more records than half the state budget, whatever
// max_batch says: its customers are all cached while it is applied.
TEST_F(WorkerTest, BatchesStayWithinHalfTheStateBudget) {
  AppendAll(*log_);
  const std::string unbounded = Project(*log_, "big");
  WorkerOptions small;
  small.max_batch = 1000;
  small.task.budget->max_cached = 20;
  small.task.budget->max_dirty = 10;
  EXPECT_EQ(Project(*log_, "small", small), unbounded);
  for (const auto& p : last_progress_) {
    ASSERT_GT(p.stats.records, 0);
    EXPECT_GE(p.stats.batches, (p.stats.records + 9) / 10) << p.partition;
  }
}

// A replay from an archive file gives the same store as the live log.
TEST_F(WorkerTest, ReplayFromArchiveGivesIdenticalStore) {
  AppendAll(*log_);
  const std::string live = Project(*log_, "live");
  const std::string path = tmp_.File("events.archive");
  ASSERT_TRUE(log::ExportToArchive(*log_, path).ok());
  auto archive = *log::ArchiveReader::Open(path);
  EXPECT_EQ(Project(*archive, "replay"), live);
}

// Garbage and invalid events between good ones: every good one applied,
// every bad one published to the dead-letter log with its reason, and the
// outbox emptied once published.
TEST_F(WorkerTest, DeadLettersArePublishedWithReasons) {
  std::vector<log::RecordRef> refs;
  v1::Envelope invalid = *event::DecodeBinary(values_[0]);
  invalid.mutable_occurred_at()->set_seconds(-5);
  const std::string invalid_bytes = event::EncodeBinary(invalid);
  for (size_t i = 0; i < keys_.size(); ++i) {
    refs.push_back({keys_[i], values_[i]});
    if (i % 100 == 50) refs.push_back({keys_[i], "\x0a\xff\xff not protobuf"});
    if (i % 100 == 70) refs.push_back({invalid.customer_id(), invalid_bytes});
  }
  ASSERT_TRUE(log_->Append(refs).ok());
  const int64_t bad = static_cast<int64_t>(refs.size() - keys_.size());

  log::EmbeddedLogOptions one_partition;
  one_partition.partitions = 1;
  auto dlq = *log::EmbeddedLog::Open(tmp_.File("dlq"), one_partition);
  auto transitions = *log::EmbeddedLog::Open(tmp_.File("transitions"));
  WorkerOptions options;
  options.max_batch = 64;
  Project(*log_, "store", options, dlq.get(), transitions.get());

  int64_t applied = 0, dead = 0;
  for (const auto& p : last_progress_) {
    applied += p.stats.applied;
    dead += p.stats.dead_letters;
  }
  EXPECT_EQ(applied, static_cast<int64_t>(keys_.size()));
  EXPECT_EQ(dead, bad);
  ASSERT_EQ(*dlq->EndOffset(0), bad);
  auto reader = *dlq->OpenReader(0, 0);
  std::vector<log::LogRecord> records;
  ASSERT_EQ(*reader->Poll(&records, 1000, absl::ZeroDuration()),
            static_cast<size_t>(bad));
  int undecodable = 0, invalid_count = 0;
  for (const auto& r : records) {
    v1::DeadLetter dl;
    ASSERT_TRUE(dl.ParseFromString(r.value));
    if (dl.reason() == "undecodable: not a valid crm.v1.Envelope") {
      ++undecodable;
      EXPECT_EQ(dl.value(), "\x0a\xff\xff not protobuf");
    } else {
      ++invalid_count;
      EXPECT_EQ(dl.reason().rfind("invalid: occurred_at:", 0), 0u)
          << dl.reason();
      EXPECT_EQ(dl.event_id(), invalid.event_id());
    }
    EXPECT_EQ(dl.topic(), "crm.events");
  }
  EXPECT_GT(undecodable, 0);
  EXPECT_GT(invalid_count, 0);
  // Transitions went out too, and the outboxes are empty.
  int64_t published = 0;
  for (int32_t p = 0; p < transitions->partitions(); ++p) {
    published += *transitions->EndOffset(p);
  }
  int64_t expected_transitions = 0;
  for (const auto& p : last_progress_)
    expected_transitions += p.stats.transitions;
  EXPECT_EQ(published, expected_transitions);
  EXPECT_GT(published, 0);
  for (int32_t p = 0; p < 3; ++p) {
    auto s = *store::PartitionStore::Open(
        resources_, PartitionStoreDir(tmp_.File("store"), p), p);
    EXPECT_TRUE(s->ReadOutbox(0, 10)->empty());
  }
}

TEST_F(WorkerTest, StoreAheadOfLogIsDataLoss) {
  AppendAll(*log_);
  Project(*log_, "store");
  log::EmbeddedLogOptions three;
  three.partitions = 3;
  auto empty = *log::EmbeddedLog::Open(tmp_.File("other-log"), three);
  WorkerOptions options;
  options.store_dir = tmp_.File("store");
  options.exit_at_end = true;
  Worker worker(empty.get(), &rules_, &resources_, options, nullptr, nullptr);
  absl::Status s = worker.Run({}, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("but the log ends at 0"), std::string::npos) << s;
}

}  // namespace
}  // namespace crm::task
