// Fault tests of KafkaLog against the mock cluster: brokers going down and
// injected request errors. Outcomes are asserted exactly; every wait is
// bounded by the delivery timeout, never by a timed assertion.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "engine/kafka/kafka_log.h"
#include "engine/kafka/mock_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kafka/kafka_test_util.h"

namespace crm::kafka {
namespace {

using ::crm::kafka::testing::ExpectTopicHoldsExactly;
using ::crm::kafka::testing::MakeRecords;
using ::crm::kafka::testing::TestRecords;
using ::testing::HasSubstr;

constexpr int kPartitions = 6;

class KafkaFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = MockCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateTopic("crm.events", kPartitions, 3).ok());
  }

  std::unique_ptr<KafkaLog> OpenLog(absl::Duration delivery_timeout,
                                    std::vector<std::string> props = {}) {
    KafkaOptions o;
    o.brokers = cluster_->bootstrap();
    o.delivery_timeout = delivery_timeout;
    o.request_timeout = absl::Seconds(5);
    o.properties = std::move(props);
    auto log = KafkaLog::Open(o);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }

  std::unique_ptr<MockCluster> cluster_;
};

// A broker goes down while batches are being appended and comes back well
// within the delivery timeout: every Append succeeds and the topic holds
// every record, in order per key, with no gap. (A real broker would also
// drop every resent duplicate; the 2.0.2 mock writes one again if it went
// down between writing a batch and sending its acknowledgement, so
// duplicates are counted, not forbidden, here. The strict exactly-once
// checks are in the tests where nothing was in flight when the fault hit.)
TEST_F(KafkaFaultTest, BrokerDownDuringAppendsThenBack) {
  auto log = OpenLog(absl::Seconds(30));
  ASSERT_NE(log, nullptr);
  const TestRecords records = MakeRecords(/*customers=*/60, /*per=*/100);
  constexpr size_t kBatch = 500;
  absl::Notification first_batch_done;
  std::vector<absl::Status> results;
  std::thread appender([&] {
    for (size_t i = 0; i < records.size(); i += kBatch) {
      results.push_back(log->Append(records.Refs(i, i + kBatch)));
      if (i == 0) first_batch_done.Notify();
    }
  });
  first_batch_done.WaitForNotification();
  ASSERT_TRUE(cluster_->SetBrokerDown(2).ok());
  absl::SleepFor(absl::Milliseconds(1500));
  ASSERT_TRUE(cluster_->SetBrokerUp(2).ok());
  appender.join();
  ASSERT_EQ(results.size(), records.size() / kBatch);
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  RecordProperty(
      "duplicates_written_by_mock",
      static_cast<int>(testing::ExpectTopicHoldsAtLeastOnce(*log, records)));
}

// The whole cluster down before a batch, back before the timeout.
TEST_F(KafkaFaultTest, AllBrokersDownThenBackBeforeTimeout) {
  auto log = OpenLog(absl::Seconds(30));
  ASSERT_NE(log, nullptr);
  const TestRecords first = MakeRecords(30, 10);
  ASSERT_TRUE(log->Append(first.Refs(0, first.size())).ok());
  ASSERT_TRUE(cluster_->SetBrokerDown(-1).ok());
  const TestRecords second = MakeRecords(30, 10, /*first_seq=*/10);
  absl::Status result;
  std::thread appender(
      [&] { result = log->Append(second.Refs(0, second.size())); });
  absl::SleepFor(absl::Seconds(1));
  ASSERT_TRUE(cluster_->SetBrokerUp(-1).ok());
  appender.join();
  EXPECT_TRUE(result.ok()) << result;
  ExpectTopicHoldsExactly(*log, MakeRecords(30, 20));
}

// Produce requests fail with retriable errors and dropped connections; the
// producer retries them and the log holds every record once.
//
// One request in flight per connection: librdkafka 2.0.2's mock cluster
// does not check an idempotent producer's sequence numbers, so with
// pipelined requests it could refuse a retried batch (injected error) yet
// accept the next one, which a real broker rejects as out of order; the
// producer then takes the first as implicitly acknowledged and the record
// is lost on the mock only (about 1 run in 300 under load, seen in the
// producer's debug log as IMPLICITACK after "Leader not available").
TEST_F(KafkaFaultTest, InjectedProduceErrorsAreRetriedWithoutDuplicates) {
  auto log =
      OpenLog(absl::Seconds(30), {"max.in.flight.requests.per.connection=1"});
  ASSERT_NE(log, nullptr);
  const std::vector<rd_kafka_resp_err_t> errors = {
      RD_KAFKA_RESP_ERR__TRANSPORT,
      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
      RD_KAFKA_RESP_ERR__TRANSPORT,
      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
  };
  cluster_->PushRequestErrors(MockCluster::kProduceApi, errors);
  const TestRecords records = MakeRecords(40, 25);
  for (size_t i = 0; i < records.size(); i += 250) {
    const absl::Status s = log->Append(records.Refs(i, i + 250));
    ASSERT_TRUE(s.ok()) << s;
  }
  ExpectTopicHoldsExactly(*log, records);
}

// The broker writes a batch but its acknowledgement arrives after the
// producer's request timeout, so the producer sends the same batch again
// (same producer id, epoch and base sequence). A real Kafka broker drops the
// resend; librdkafka 2.0.2's mock cluster does not (it has no duplicate
// window), so here the test holds the engine to what it relies on instead:
// Append succeeds, nothing is lost, and with duplicates removed (consumers
// deduplicate by event_id) every key's records are in order.
TEST_F(KafkaFaultTest, LateAcknowledgementIsRetriedWithoutLoss) {
  for (int32_t p = 0; p < kPartitions; ++p) {
    ASSERT_TRUE(cluster_->SetPartitionLeader("crm.events", p, 1).ok());
  }
  auto log = OpenLog(absl::Seconds(30), {"socket.timeout.ms=1000"});
  ASSERT_NE(log, nullptr);
  const TestRecords warmup = MakeRecords(10, 1);
  ASSERT_TRUE(log->Append(warmup.Refs(0, warmup.size())).ok());
  ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(
                cluster_->raw(), 1, MockCluster::kProduceApi, 1,
                RD_KAFKA_RESP_ERR_NO_ERROR, 2500),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  const TestRecords more = MakeRecords(10, 5, /*first_seq=*/1);
  const absl::Status s = log->Append(more.Refs(0, more.size()));
  EXPECT_TRUE(s.ok()) << s;

  RecordProperty("duplicates_written_by_mock",
                 static_cast<int>(testing::ExpectTopicHoldsAtLeastOnce(
                     *log, MakeRecords(10, 6))));
}

// A cluster that never comes back: Append fails with kUnavailable once the
// (short) delivery timeout has passed, naming how many records failed, and
// reports none of them as written.
TEST_F(KafkaFaultTest, PermanentlyDownClusterIsUnavailable) {
  // Short reconnect backoff so the recovery below is quick.
  auto log = OpenLog(absl::Seconds(2), {"reconnect.backoff.max.ms=100"});
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(cluster_->SetBrokerDown(-1).ok());
  const TestRecords records = MakeRecords(5, 2);
  const absl::Status s = log->Append(records.Refs(0, records.size()));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("10 of 10 records failed"));
  EXPECT_THAT(s.message(), HasSubstr("crm.events"));

  // The same log works again once the cluster is back. Wait until every
  // partition leader answers (bounded) so the append does not race the
  // reconnects against its 2 s delivery timeout.
  ASSERT_TRUE(cluster_->SetBrokerUp(-1).ok());
  for (int32_t p = 0; p < kPartitions; ++p) {
    absl::StatusOr<int64_t> end;
    for (int attempt = 0; attempt < 20; ++attempt) {
      end = log->EndOffset(p);
      if (end.ok()) break;
    }
    ASSERT_TRUE(end.ok()) << end.status();
    EXPECT_EQ(*end, 0) << "a timed-out record was written";
  }
  // The producer may still be re-acquiring its producer id; on a loaded
  // machine that can outlast the 2 s delivery timeout, so the batch is
  // retried as callers do (bounded). A failed attempt may have written part
  // of the batch, hence at-least-once below.
  absl::Status again;
  for (int attempt = 0; attempt < 5; ++attempt) {
    again = log->Append(records.Refs(0, records.size()));
    if (again.ok()) break;
  }
  EXPECT_TRUE(again.ok()) << again;
  testing::ExpectTopicHoldsAtLeastOnce(*log, records);
}

// The broker answers a produce request with a sequence error that
// librdkafka's idempotent producer cannot recover from (it raises a fatal
// error). Append reports the failure, and the next Append succeeds on a
// fresh producer.
TEST_F(KafkaFaultTest, FatalProducerErrorIsReportedAndProducerReplaced) {
  auto log = OpenLog(absl::Seconds(10));
  ASSERT_NE(log, nullptr);
  const TestRecords first = MakeRecords(10, 2);
  ASSERT_TRUE(log->Append(first.Refs(0, first.size())).ok());
  const std::vector<rd_kafka_resp_err_t> errors = {
      RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER};
  cluster_->PushRequestErrors(MockCluster::kProduceApi, errors);
  const TestRecords second = MakeRecords(10, 2, /*first_seq=*/2);
  const absl::Status failed = log->Append(second.Refs(0, second.size()));
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.code(), absl::StatusCode::kAborted) << failed;
  EXPECT_THAT(failed.message(), HasSubstr("records failed"));
  EXPECT_THAT(failed.message(), HasSubstr("fatal"));
  // Retrying the whole batch is what callers do; it works now.
  const absl::Status retried = log->Append(second.Refs(0, second.size()));
  EXPECT_TRUE(retried.ok()) << retried;
}

// Metadata unreachable at open: kUnavailable within the request timeout.
TEST_F(KafkaFaultTest, OpenWithClusterDownIsUnavailable) {
  ASSERT_TRUE(cluster_->SetBrokerDown(-1).ok());
  KafkaOptions o;
  o.brokers = cluster_->bootstrap();
  o.request_timeout = absl::Seconds(1);
  auto log = KafkaLog::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kUnavailable)
      << log.status();
}

}  // namespace
}  // namespace crm::kafka
