// A plain Kafka client (kcat, on librdkafka) against the mock cluster and
// KafkaLog: what kcat produces KafkaLog reads, and the reverse. These are the
// commands documented in engine/kafka/README.md.

#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/kafka/kafka_log.h"
#include "engine/kafka/mock_cluster.h"
#include "gtest/gtest.h"
#include "tests/kafka/kafka_test_util.h"

namespace crm::kafka {
namespace {

using ::crm::kafka::testing::MakeRecords;
using ::crm::kafka::testing::ReadPartition;
using ::crm::kafka::testing::TestRecords;

constexpr int kPartitions = 4;

// Runs `command` with `input` on its stdin; returns its exit status.
int RunWithInput(const std::string& command, const std::string& input) {
  FILE* f = popen(command.c_str(), "w");
  if (f == nullptr) return -1;
  fwrite(input.data(), 1, input.size(), f);
  const int status = pclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs `command`; returns its stdout, and its exit status in `*rc`.
std::string RunForOutput(const std::string& command, int* rc) {
  std::string out;
  FILE* f = popen(command.c_str(), "r");
  if (f == nullptr) {
    *rc = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  const int status = pclose(f);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

class KcatInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = MockCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateTopic("crm.events", kPartitions, 3).ok());
    KafkaOptions o;
    o.brokers = cluster_->bootstrap();
    auto log = KafkaLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  std::unique_ptr<MockCluster> cluster_;
  std::unique_ptr<KafkaLog> log_;
};

// kcat with the Java-compatible partitioner puts every key where
// PartitionFor() says, in order, and KafkaLog reads it back.
TEST_F(KcatInteropTest, KcatProducesKafkaLogReads) {
  const TestRecords records = MakeRecords(25, 8);
  std::string input;
  for (size_t i = 0; i < records.size(); ++i) {
    absl::StrAppend(&input, records.keys[i], ":", records.values[i], "\n");
  }
  const std::string command =
      absl::StrCat("kcat -P -b ", cluster_->bootstrap(),
                   " -t crm.events -K: -X partitioner=murmur2_random "
                   "-X enable.idempotence=true");
  ASSERT_EQ(RunWithInput(command, input), 0) << command;
  testing::ExpectTopicHoldsExactly(*log_, records);
}

// What KafkaLog appends, `kcat -C -e` prints, partition by partition, in
// offset order.
TEST_F(KcatInteropTest, KafkaLogProducesKcatReads) {
  const TestRecords records = MakeRecords(25, 8);
  ASSERT_TRUE(log_->Append(records.Refs(0, records.size())).ok());
  std::map<int32_t, std::vector<std::string>> expected;
  for (size_t i = 0; i < records.size(); ++i) {
    expected[crm::log::PartitionFor(records.keys[i], kPartitions)].push_back(
        absl::StrCat(records.keys[i], ":", records.values[i]));
  }
  size_t total = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    const std::string command =
        absl::StrCat("kcat -C -b ", cluster_->bootstrap(), " -t crm.events -p ",
                     p, " -o beginning -e -q -f '%k:%s\\n'");
    int rc = 0;
    const std::string out = RunForOutput(command, &rc);
    ASSERT_EQ(rc, 0) << command;
    std::vector<std::string> lines =
        absl::StrSplit(out, '\n', absl::SkipEmpty());
    EXPECT_EQ(lines, expected[p]) << "partition " << p;
    total += lines.size();
  }
  EXPECT_EQ(total, records.size());
}

// kcat -L sees the topic's partitions as KafkaLog does.
TEST_F(KcatInteropTest, KcatListsTheTopic) {
  int rc = 0;
  const std::string out = RunForOutput(
      absl::StrCat("kcat -L -b ", cluster_->bootstrap(), " -t crm.events"),
      &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_NE(out.find("topic \"crm.events\" with 4 partitions"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace crm::kafka
