// Worker::RunGroup driven by a scripted consumer group over KafkaLog on the
// mock cluster, so the rebalances happen at known points: a revoked
// partition is committed exactly where its delivered records end and its
// store is closed; a partition assigned again resumes from that store; one
// never held is rebuilt from offset 0; the end state equals a standalone
// worker's.

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "engine/event/codec.h"
#include "engine/kafka/kafka_log.h"
#include "engine/kafka/mock_cluster.h"
#include "engine/store/partition_store.h"
#include "engine/task/worker.h"
#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "tests/testing/store_dump.h"
#include "tests/testing/temp_dir.h"
#include "tools/generator/generator.h"

namespace crm::task {
namespace {

constexpr int kPartitions = 3;

// A consumer group whose assignment changes follow a script: {0, 1} at
// the first poll; partition 1 revoked once 300 of its records were
// delivered; partitions 1 and 2 assigned five polls later; stop once every
// partition was delivered to its end. Records come from KafkaLog readers
// opened at the offsets the worker answers with.
class ScriptedGroup final : public GroupMembership {
 public:
  ScriptedGroup(log::EventLog* log, std::string store_dir,
                std::atomic<bool>* stop)
      : log_(log), store_dir_(std::move(store_dir)), stop_(stop) {
    for (int32_t p = 0; p < kPartitions; ++p) ends_[p] = *log_->EndOffset(p);
  }

  absl::StatusOr<size_t> Poll(Listener* listener,
                              std::vector<log::LogRecord>* out,
                              size_t max_records,
                              absl::Duration timeout) override {
    ++polls_;
    if (polls_ == 1) Assign(listener, {0, 1});
    if (revoked_at_poll_ < 0 && readers_.count(1) &&
        readers_[1]->position() >= 300) {
      const int64_t delivered = readers_[1]->position();
      EXPECT_TRUE(listener->OnRevoked({1}, /*lost=*/false).ok());
      readers_.erase(1);
      revoked_at_poll_ = polls_;
      // Committed exactly where the delivered records end, and closed:
      // the store opens again (RocksDB's lock is free).
      store::StoreResources resources{store::StoreOptions{}};
      auto store = store::PartitionStore::Open(
          resources, PartitionStoreDir(store_dir_, 1), 1);
      EXPECT_TRUE(store.ok()) << store.status();
      if (store.ok()) revoked_offset_ = (*store)->next_offset();
      EXPECT_EQ(revoked_offset_, delivered);
    }
    if (revoked_at_poll_ > 0 && polls_ == revoked_at_poll_ + 5) {
      Assign(listener, {1, 2});
    }
    size_t n = 0;
    bool all_done = readers_.size() == kPartitions;
    for (auto& [p, reader] : readers_) {
      auto got = reader->Poll(out, max_records / kPartitions + 1,
                              absl::Milliseconds(5));
      if (!got.ok()) return got.status();
      n += *got;
      if (reader->position() < ends_[p]) all_done = false;
    }
    if (all_done && n == 0) stop_->store(true);
    (void)timeout;
    return n;
  }

  void ReportCommitted(int32_t partition, int64_t next_offset) override {
    absl::MutexLock lock(&mu_);
    EXPECT_GE(next_offset, reported_[partition]) << partition;
    reported_[partition] = next_offset;
  }

  absl::Status Close(Listener* listener) override {
    std::vector<int32_t> held;
    for (const auto& [p, reader] : readers_) held.push_back(p);
    readers_.clear();
    return listener->OnRevoked(held, /*lost=*/false);
  }

  std::map<int32_t, std::vector<int64_t>> starts;  // offsets answered
  int64_t revoked_offset_ = -1;
  std::map<int32_t, int64_t> ends_;
  std::map<int32_t, int64_t> reported() {
    absl::MutexLock lock(&mu_);
    return reported_;
  }

 private:
  void Assign(Listener* listener, std::vector<int32_t> partitions) {
    auto offsets = listener->OnAssigned(partitions);
    ASSERT_TRUE(offsets.ok()) << offsets.status();
    for (size_t i = 0; i < partitions.size(); ++i) {
      starts[partitions[i]].push_back((*offsets)[i]);
      auto reader = log_->OpenReader(partitions[i], (*offsets)[i]);
      ASSERT_TRUE(reader.ok()) << reader.status();
      readers_[partitions[i]] = *std::move(reader);
    }
  }

  log::EventLog* const log_;
  const std::string store_dir_;
  std::atomic<bool>* const stop_;
  int polls_ = 0;
  int revoked_at_poll_ = -1;
  std::map<int32_t, std::unique_ptr<log::PartitionReader>> readers_;
  absl::Mutex mu_;
  std::map<int32_t, int64_t> reported_;
};

TEST(KafkaGroupWorkerTest, RevokeCommitsAndClosesReassignResumesNewRebuilds) {
  auto cluster = kafka::MockCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("crm.events", kPartitions, 3).ok());
  kafka::KafkaOptions o;
  o.brokers = (*cluster)->bootstrap();
  auto log = kafka::KafkaLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  {
    generator::GeneratorOptions g;
    g.customers = 400;
    g.months = 6;
    auto gen = *generator::Generator::Create(g);
    std::vector<std::string> keys, values;
    v1::Envelope e;
    while (gen->Next(&e)) {
      keys.push_back(e.customer_id());
      values.push_back(event::EncodeBinary(e));
    }
    std::vector<log::RecordRef> refs;
    for (size_t i = 0; i < keys.size(); ++i)
      refs.push_back({keys[i], values[i]});
    ASSERT_TRUE((*log)->Append(refs).ok());
  }
  const v1::Rules rules = projections::DefaultRules();
  store::StoreResources resources{store::StoreOptions{}};
  testing::TempDir tmp;

  WorkerOptions reference_options;
  reference_options.store_dir = tmp.File("reference");
  reference_options.exit_at_end = true;
  {
    Worker reference(log->get(), &rules, &resources, reference_options, nullptr,
                     nullptr);
    ASSERT_TRUE(reference.Run({}, nullptr).ok());
  }

  WorkerOptions options;
  options.store_dir = tmp.File("group");
  options.max_batch = 100;
  options.task.commit_every_records = 250;
  std::vector<std::string> lines;
  absl::Mutex lines_mu;
  options.log_line = [&](const std::string& line) {
    absl::MutexLock lock(&lines_mu);
    lines.push_back(line);
  };
  std::atomic<bool> stop{false};
  ScriptedGroup group(log->get(), options.store_dir, &stop);
  ASSERT_GT(group.ends_[1], 300);
  {
    Worker worker(log->get(), &rules, &resources, options, nullptr, nullptr);
    const absl::Status s = worker.RunGroup(&group, &stop);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_TRUE(worker.progress().empty()) << "everything revoked at stop";
  }

  // Revoked mid-partition, not at either end.
  EXPECT_GE(group.revoked_offset_, 300);
  EXPECT_LT(group.revoked_offset_, group.ends_[1]);
  // New partitions start at 0; partition 1 resumes where it was revoked.
  EXPECT_EQ(group.starts[0], (std::vector<int64_t>{0}));
  EXPECT_EQ(group.starts[1], (std::vector<int64_t>{0, group.revoked_offset_}));
  EXPECT_EQ(group.starts[2], (std::vector<int64_t>{0}));
  for (int32_t p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(group.reported()[p], group.ends_[p]) << p;
  }
  const auto has = [&](const std::string& want) {
    for (const std::string& l : lines) {
      if (l.find(want) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(absl::StrFormat(
      "partition 1: assigned; resuming from local state at offset %d",
      group.revoked_offset_)));
  EXPECT_TRUE(has(absl::StrFormat("partition 1: revoked at offset %d",
                                  group.revoked_offset_)));
  for (int32_t p : {0, 2}) {
    EXPECT_TRUE(has(absl::StrFormat("partition %d: rebuilt %d of %d records", p,
                                    group.ends_[p], group.ends_[p])))
        << p;
  }
  EXPECT_EQ(testing::DumpStores(options.store_dir),
            testing::DumpStores(reference_options.store_dir));
}

}  // namespace
}  // namespace crm::task
