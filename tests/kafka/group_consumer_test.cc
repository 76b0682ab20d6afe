// GroupConsumer against the in-process mock cluster: assignment through the
// group, start offsets chosen by the listener (never the committed ones),
// cooperative hand-over of part of the partitions to a second member, and
// a clean leave that revokes through the listener.

#include "engine/kafka/group_consumer.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/kafka/kafka_test_util.h"

namespace crm::kafka {
namespace {

using crm::log::LogRecord;

// Starts every partition at `start`, records what it was told.
class RecordingListener final : public GroupConsumer::Listener {
 public:
  explicit RecordingListener(int64_t start) : start_(start) {}

  absl::StatusOr<std::vector<int64_t>> OnAssigned(
      absl::Span<const int32_t> partitions) override {
    for (int32_t p : partitions) {
      owned.insert(p);
      assigned.push_back(p);
    }
    return std::vector<int64_t>(partitions.size(), start_);
  }
  absl::Status OnRevoked(absl::Span<const int32_t> partitions,
                         bool lost) override {
    for (int32_t p : partitions) {
      owned.erase(p);
      revoked.push_back(p);
    }
    if (lost) ++lost_calls;
    return absl::OkStatus();
  }

  std::set<int32_t> owned;
  std::vector<int32_t> assigned;
  std::vector<int32_t> revoked;
  int lost_calls = 0;

 private:
  const int64_t start_;
};

GroupOptions Options(const MockCluster& cluster, const std::string& topic) {
  GroupOptions o;
  o.kafka.brokers = cluster.bootstrap();
  o.kafka.topic = topic;
  o.group_id = "g-test";
  o.session_timeout = absl::Seconds(6);
  o.heartbeat_interval = absl::Milliseconds(500);
  return o;
}

class GroupConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = MockCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateTopic("events", 4, 3).ok());
    KafkaOptions o;
    o.brokers = cluster_->bootstrap();
    o.topic = "events";
    auto log = KafkaLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    const testing::TestRecords records = testing::MakeRecords(40, 10);
    ASSERT_TRUE(log_->Append(records.Refs(0, records.size())).ok());
    for (int32_t p = 0; p < 4; ++p) ends_[p] = *log_->EndOffset(p);
  }

  std::unique_ptr<MockCluster> cluster_;
  std::unique_ptr<KafkaLog> log_;
  std::map<int32_t, int64_t> ends_;
};

TEST_F(GroupConsumerTest, StartsEveryPartitionAtTheListenersOffset) {
  auto c = GroupConsumer::Open(Options(*cluster_, "events"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->partitions(), 4);
  RecordingListener listener(/*start=*/3);
  std::map<int32_t, std::vector<int64_t>> offsets;
  int64_t want = 0;
  for (const auto& [p, end] : ends_) want += end - 3;
  int64_t got = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (got < want && absl::Now() < deadline) {
    std::vector<LogRecord> out;
    auto n = (*c)->Poll(&listener, &out, 1000, absl::Milliseconds(200));
    ASSERT_TRUE(n.ok()) << n.status();
    for (const LogRecord& r : out) offsets[r.partition].push_back(r.offset);
    got += out.size();
  }
  EXPECT_EQ(listener.owned, (std::set<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ((*c)->assignment(), (std::vector<int32_t>{0, 1, 2, 3}));
  for (const auto& [p, end] : ends_) {
    std::vector<int64_t> expected;
    for (int64_t o = 3; o < end; ++o) expected.push_back(o);
    EXPECT_EQ(offsets[p], expected) << "partition " << p;
  }
  // Committed offsets are a report only; a commit does not move reading.
  (*c)->CommitAsync(0, 1);
  ASSERT_TRUE((*c)->Close(&listener).ok());
  EXPECT_TRUE(listener.owned.empty());
  EXPECT_EQ(listener.revoked.size(), 4u);
  EXPECT_EQ(listener.lost_calls, 0);
}

TEST_F(GroupConsumerTest, SecondMemberTakesSomePartitionsCooperatively) {
  auto a = GroupConsumer::Open(Options(*cluster_, "events"));
  ASSERT_TRUE(a.ok()) << a.status();
  RecordingListener la(0), lb(0);
  std::vector<LogRecord> out;
  const absl::Time deadline = absl::Now() + absl::Seconds(45);
  while (la.owned.size() < 4 && absl::Now() < deadline) {
    ASSERT_TRUE((*a)->Poll(&la, &out, 1000, absl::Milliseconds(100)).ok());
  }
  ASSERT_EQ(la.owned.size(), 4u);
  auto b = GroupConsumer::Open(Options(*cluster_, "events"));
  ASSERT_TRUE(b.ok()) << b.status();
  while ((la.owned.size() != 2 || lb.owned.size() != 2) &&
         absl::Now() < deadline) {
    ASSERT_TRUE((*a)->Poll(&la, &out, 1000, absl::Milliseconds(50)).ok());
    ASSERT_TRUE((*b)->Poll(&lb, &out, 1000, absl::Milliseconds(50)).ok());
  }
  ASSERT_EQ(la.owned.size(), 2u);
  ASSERT_EQ(lb.owned.size(), 2u);
  std::set<int32_t> all = la.owned;
  all.insert(lb.owned.begin(), lb.owned.end());
  EXPECT_EQ(all, (std::set<int32_t>{0, 1, 2, 3}));
  // Cooperative: the first member gave up exactly the two that moved, and
  // was never asked to give up the two it kept.
  EXPECT_EQ(la.revoked.size(), 2u);
  for (int32_t p : la.revoked) EXPECT_EQ(lb.owned.count(p), 1u) << p;
  ASSERT_TRUE((*b)->Close(&lb).ok());
  // The leaver's partitions come back to the first member.
  while (la.owned.size() < 4 && absl::Now() < deadline) {
    ASSERT_TRUE((*a)->Poll(&la, &out, 1000, absl::Milliseconds(100)).ok());
  }
  EXPECT_EQ(la.owned.size(), 4u);
  ASSERT_TRUE((*a)->Close(&la).ok());
}

// Refuses every assignment, as a worker whose store is ahead of the log.
class RefusingListener final : public GroupConsumer::Listener {
 public:
  absl::StatusOr<std::vector<int64_t>> OnAssigned(
      absl::Span<const int32_t>) override {
    return absl::DataLossError("store ahead of the log");
  }
  absl::Status OnRevoked(absl::Span<const int32_t>, bool) override {
    return absl::OkStatus();
  }
};

TEST_F(GroupConsumerTest, ListenerErrorFailsPollAndCloseStillLeaves) {
  auto c = GroupConsumer::Open(Options(*cluster_, "events"));
  ASSERT_TRUE(c.ok()) << c.status();
  RefusingListener listener;
  absl::Status failed;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (failed.ok() && absl::Now() < deadline) {
    std::vector<LogRecord> out;
    auto n = (*c)->Poll(&listener, &out, 1000, absl::Milliseconds(100));
    if (!n.ok()) failed = n.status();
    EXPECT_TRUE(out.empty());
  }
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss) << failed;
  EXPECT_TRUE((*c)->assignment().empty());
  EXPECT_TRUE((*c)->Close(&listener).ok());
}

TEST_F(GroupConsumerTest, MissingTopicIsNotFound) {
  auto c = GroupConsumer::Open(Options(*cluster_, "no-such-topic"));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound) << c.status();
}

}  // namespace
}  // namespace crm::kafka
