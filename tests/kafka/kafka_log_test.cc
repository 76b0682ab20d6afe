#include "engine/kafka/kafka_log.h"

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/kafka/kafka_status.h"
#include "engine/kafka/mock_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kafka/kafka_test_util.h"

namespace crm::kafka {
namespace {

using ::crm::kafka::testing::ExpectTopicHoldsExactly;
using ::crm::kafka::testing::MakeRecords;
using ::crm::kafka::testing::ReadPartition;
using ::crm::kafka::testing::TestRecords;
using ::testing::HasSubstr;

constexpr int kBrokers = 3;
constexpr int kPartitions = 6;

class KafkaLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = MockCluster::Start(kBrokers);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateTopic("crm.events", kPartitions, 3).ok());
  }

  KafkaOptions Options() const {
    KafkaOptions o;
    o.brokers = cluster_->bootstrap();
    o.topic = "crm.events";
    o.delivery_timeout = absl::Seconds(20);
    o.request_timeout = absl::Seconds(5);
    return o;
  }

  std::unique_ptr<KafkaLog> OpenLog() {
    auto log = KafkaLog::Open(Options());
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }

  std::unique_ptr<MockCluster> cluster_;
};

TEST_F(KafkaLogTest, PartitionsComeFromMetadata) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->partitions(), kPartitions);
}

TEST_F(KafkaLogTest, EveryRecordAcknowledgedInPerKeyOrder) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  const TestRecords records = MakeRecords(/*customers=*/50, /*per=*/40);
  for (size_t i = 0; i < records.size(); i += 300) {
    const auto refs = records.Refs(i, i + 300);
    ASSERT_TRUE(log->Append(refs).ok());
  }
  ExpectTopicHoldsExactly(*log, records);
}

TEST_F(KafkaLogTest, EmptyAppendIsOk) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->Append({}).ok());
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto end = log->EndOffset(p);
    ASSERT_TRUE(end.ok()) << end.status();
    EXPECT_EQ(*end, 0);
  }
}

TEST_F(KafkaLogTest, EndOffsetCountsRecordsPerPartition) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  const TestRecords records = MakeRecords(20, 7);
  ASSERT_TRUE(log->Append(records.Refs(0, records.size())).ok());
  std::vector<int64_t> expected(kPartitions, 0);
  for (const std::string& key : records.keys) {
    ++expected[crm::log::PartitionFor(key, kPartitions)];
  }
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto end = log->EndOffset(p);
    ASSERT_TRUE(end.ok()) << end.status();
    EXPECT_EQ(*end, expected[p]) << "partition " << p;
    auto begin = log->BeginOffset(p);
    ASSERT_TRUE(begin.ok()) << begin.status();
    EXPECT_EQ(*begin, 0);
  }
}

TEST_F(KafkaLogTest, ReaderResumesAtExactOffset) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  const TestRecords records = MakeRecords(10, 30);
  ASSERT_TRUE(log->Append(records.Refs(0, records.size())).ok());
  const int32_t p = crm::log::PartitionFor("c3", kPartitions);
  const std::vector<crm::log::LogRecord> all = ReadPartition(*log, p);
  ASSERT_GE(all.size(), 30u);
  for (int64_t from : {int64_t{0}, int64_t{1}, int64_t{17},
                       static_cast<int64_t>(all.size() - 1)}) {
    const std::vector<crm::log::LogRecord> tail = ReadPartition(*log, p, from);
    ASSERT_EQ(tail.size(), all.size() - from) << "from " << from;
    for (size_t i = 0; i < tail.size(); ++i) {
      EXPECT_EQ(tail[i].offset, from + static_cast<int64_t>(i));
      EXPECT_EQ(tail[i].key, all[from + i].key);
      EXPECT_EQ(tail[i].value, all[from + i].value);
    }
  }
}

TEST_F(KafkaLogTest, ReaderAtEndWaitsThenSeesNewRecords) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  const int32_t p = crm::log::PartitionFor("c1", kPartitions);
  auto reader = log->OpenReader(p, 0);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<crm::log::LogRecord> out;
  auto n = (*reader)->Poll(&out, 10, absl::Milliseconds(200));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ((*reader)->position(), 0);

  const std::vector<crm::log::RecordRef> batch = {{"c1", "a"}, {"c1", "b"}};
  ASSERT_TRUE(log->Append(batch).ok());
  while (out.size() < 2) {
    n = (*reader)->Poll(&out, 10, absl::Seconds(10));
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_GT(*n, 0u) << "new records not seen";
  }
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].value, "a");
  EXPECT_EQ(out[1].value, "b");
  EXPECT_EQ(out[1].offset, 1);
  EXPECT_EQ((*reader)->position(), 2);
}

TEST_F(KafkaLogTest, PollHonoursMaxRecords) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  const TestRecords records = MakeRecords(1, 25);  // all on one partition
  ASSERT_TRUE(log->Append(records.Refs(0, records.size())).ok());
  const int32_t p = crm::log::PartitionFor("c0", kPartitions);
  auto reader = log->OpenReader(p, 0);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<crm::log::LogRecord> out;
  while (out.size() < 10) {
    auto n = (*reader)->Poll(&out, 10 - out.size(), absl::Seconds(10));
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_GT(*n, 0u);
  }
  EXPECT_EQ(out.size(), 10u);
  EXPECT_EQ((*reader)->position(), 10);
  EXPECT_EQ(out.back().value, "c0#9");
}

// The mock keeps at most 5 MiB per partition and silently drops older
// message sets. The low watermark shows it, a reader before it is refused
// with kOutOfRange, and one at it reads every kept record.
TEST_F(KafkaLogTest, RetentionMovesBeginOffsetAndReaderBeforeItIsRefused) {
  ASSERT_TRUE(cluster_->CreateTopic("crm.small", 1, 1).ok());
  KafkaOptions o = Options();
  o.topic = "crm.small";
  auto opened = KafkaLog::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status();
  KafkaLog& log = **opened;
  const std::vector<crm::log::RecordRef> first = {{"c1", "first"}};
  ASSERT_TRUE(log.Append(first).ok());
  const std::string big(10 * 1024, 'x');
  std::vector<crm::log::RecordRef> bulk(100, {"c1", big});
  for (int i = 0; i < 7; ++i) {  // 7 MB > 5 MiB
    ASSERT_TRUE(log.Append(bulk).ok());
  }
  auto begin = log.BeginOffset(0);
  auto end = log.EndOffset(0);
  ASSERT_TRUE(begin.ok() && end.ok());
  EXPECT_EQ(*end, 701);
  EXPECT_GT(*begin, 0) << "the mock kept everything (limit changed?)";
  auto refused = log.OpenReader(0, 0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kOutOfRange);
  const std::vector<crm::log::LogRecord> kept = ReadPartition(log, 0);
  ASSERT_EQ(static_cast<int64_t>(kept.size()), *end - *begin);
  EXPECT_EQ(kept.front().offset, *begin);
  EXPECT_EQ(kept.back().value, big);
}

TEST_F(KafkaLogTest, OpenReaderRejectsOffsetsOutsideTheLog) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  const std::vector<crm::log::RecordRef> batch = {{"c1", "a"}};
  ASSERT_TRUE(log->Append(batch).ok());
  const int32_t p = crm::log::PartitionFor("c1", kPartitions);
  EXPECT_TRUE(log->OpenReader(p, 1).ok());  // == end is allowed
  auto past = log->OpenReader(p, 2);
  EXPECT_EQ(past.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(past.status().message(), HasSubstr("offset 2"));
  auto negative = log->OpenReader(p, -1);
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kOutOfRange);
  auto bad_partition = log->OpenReader(kPartitions, 0);
  EXPECT_EQ(bad_partition.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->EndOffset(-1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(KafkaLogTest, MissingTopicIsNotFoundNamingIt) {
  KafkaOptions o = Options();
  o.topic = "no.such.topic";
  auto log = KafkaLog::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(log.status().message(), HasSubstr("'no.such.topic'"));
}

// Topic creation uses the admin API, which the mock cluster does not have:
// the attempt ends within the request timeout with an error naming the
// topic (against real Kafka it creates the topic).
TEST_F(KafkaLogTest, CreatingMissingTopicOnMockFailsNamingIt) {
  KafkaOptions o = Options();
  o.topic = "crm.new";
  o.create_partitions = 4;
  o.request_timeout = absl::Seconds(1);
  auto log = KafkaLog::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(log.status().message(), HasSubstr("create topic 'crm.new'"));
}

TEST_F(KafkaLogTest, MalformedPropertyRejectedNamingIt) {
  struct Case {
    std::string property;
    std::string named;
  };
  for (const Case& c : std::vector<Case>{
           {"linger.ms", "'linger.ms'"},
           {"=5", "'=5'"},
           {"no.such.property=1", "no.such.property"},
           {"linger.ms=soon", "linger.ms=soon"},
           {"acks=1", "acks=1"},
           {"enable.idempotence=false", "enable.idempotence=false"},
       }) {
    KafkaOptions o = Options();
    o.properties = {"client.id=crm-test", c.property};
    auto log = KafkaLog::Open(o);
    ASSERT_FALSE(log.ok()) << c.property;
    EXPECT_EQ(log.status().code(), absl::StatusCode::kInvalidArgument)
        << c.property;
    EXPECT_THAT(log.status().message(), HasSubstr(c.named)) << c.property;
  }
}

TEST_F(KafkaLogTest, PropertiesOverrideDefaults) {
  KafkaOptions o = Options();
  o.brokers.clear();
  o.properties = {"bootstrap.servers=" + cluster_->bootstrap(),
                  "delivery.timeout.ms=15000", "linger.ms=2", "acks=all"};
  auto log = KafkaLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  const std::vector<crm::log::RecordRef> batch = {{"c1", "a"}};
  EXPECT_TRUE((*log)->Append(batch).ok());
}

TEST_F(KafkaLogTest, NoBrokersIsInvalidArgument) {
  KafkaOptions o = Options();
  o.brokers.clear();
  auto log = KafkaLog::Open(o);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(log.status().message(), HasSubstr("brokers"));
}

TEST_F(KafkaLogTest, ConcurrentAppendsKeepEachThreadsOrder) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  // Thread t owns customers t*10 .. t*10+9; each appends its own records.
  constexpr int kThreads = 4;
  std::vector<TestRecords> per_thread(kThreads);
  TestRecords all;
  for (int t = 0; t < kThreads; ++t) {
    for (int s = 0; s < 50; ++s) {
      for (int c = t * 10; c < t * 10 + 10; ++c) {
        per_thread[t].keys.push_back(testing::TestKey(c));
        per_thread[t].values.push_back(testing::TestValue(c, s));
      }
    }
    all.keys.insert(all.keys.end(), per_thread[t].keys.begin(),
                    per_thread[t].keys.end());
    all.values.insert(all.values.end(), per_thread[t].values.begin(),
                      per_thread[t].values.end());
  }
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < per_thread[t].size() && results[t].ok();
           i += 100) {
        results[t] = log->Append(per_thread[t].Refs(i, i + 100));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  ExpectTopicHoldsExactly(*log, all);
}

// librdkafka's own murmur2 partitioner is what every other librdkafka client
// (kcat, confluent-kafka-*) uses with partitioner=murmur2[_random]; the Java
// client uses the same function. Ours must agree with it everywhere.
TEST(KafkaPartitionerTest, AgreesWithLibrdkafkaMurmur2) {
  for (int32_t partitions : {1, 2, 3, 6, 7, 12, 64, 100, 1000, 4096}) {
    for (int i = 0; i < 5000; ++i) {
      const std::string key =
          i % 3 == 0 ? absl::StrCat("c", i)
                     : absl::StrCat("customer-", i * 7919, "-", i % 13);
      const int32_t theirs = rd_kafka_msg_partitioner_murmur2(
          nullptr, key.data(), key.size(), partitions, nullptr, nullptr);
      ASSERT_EQ(crm::log::PartitionFor(key, partitions), theirs)
          << "key " << key << ", " << partitions << " partitions";
    }
  }
  // Empty and binary keys too.
  const std::string binary("\0\x01\xff\x80 z", 6);
  for (const std::string& key : {std::string(), binary}) {
    EXPECT_EQ(crm::log::PartitionFor(key, 6),
              rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(),
                                               6, nullptr, nullptr));
  }
}

TEST(KafkaStatusTest, MapsErrorsByWhatTheCallerShouldDo) {
  EXPECT_TRUE(FromKafka(RD_KAFKA_RESP_ERR_NO_ERROR).ok());
  EXPECT_EQ(FromKafka(RD_KAFKA_RESP_ERR__TRANSPORT).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromKafka(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromKafka(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromKafka(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromKafka(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(FromKafka(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(FromKafka(RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(FromKafka(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromKafka(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(FromKafka(RD_KAFKA_RESP_ERR__BAD_MSG).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(FromKafka(RD_KAFKA_RESP_ERR__FATAL).code(),
            absl::StatusCode::kAborted);
  const absl::Status s = FromKafka(RD_KAFKA_RESP_ERR__TRANSPORT, "append x");
  EXPECT_THAT(s.message(), HasSubstr("append x: "));
  EXPECT_THAT(s.message(), HasSubstr("[_TRANSPORT]"));
}

}  // namespace
}  // namespace crm::kafka
