#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace crm::kafka {

// librdkafka's mock Kafka cluster (rdkafka_mock.h): N brokers speaking the
// real Kafka protocol on 127.0.0.1, ports chosen by the OS at start, with
// broker-down and request-error injection. Used in-process by the Kafka tests
// and the benchmark, and by `crm devbroker`.
//
// Limits of the mock in librdkafka 2.0.2 (see engine/kafka/README.md):
// - in memory only; everything is gone when the object is destroyed;
// - each partition keeps at most 5 MiB or 100,000 message sets (produce
//   batches); older ones are dropped silently and the low watermark moves;
// - transactions are not real: read_committed consumers still see aborted
//   records, so the engine never relies on Kafka transactions;
// - no admin API (CreateTopics etc.): create topics with CreateTopic();
// - a downed broker keeps its partitions (no leader change).
//
// Owned by its creator; destroying it stops the brokers (clients still
// connected see transport errors). Thread-safe: the fault-injection calls
// may come from any thread while clients run.
class MockCluster {
 public:
  // Starts `brokers` brokers (ids 1..brokers). kInvalidArgument for
  // brokers < 1, kInternal if librdkafka cannot start the cluster.
  static absl::StatusOr<std::unique_ptr<MockCluster>> Start(int brokers);

  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // "127.0.0.1:PORT,127.0.0.1:PORT,..." for bootstrap.servers / --brokers.
  const std::string& bootstrap() const { return bootstrap_; }
  int brokers() const { return brokers_; }

  // Creates `topic` with `partitions` partitions, leaders spread over the
  // brokers, each with `replication_factor` replicas (1..brokers()).
  // kInvalidArgument for bad counts; kAlreadyExists if it exists.
  absl::Status CreateTopic(const std::string& topic, int partitions,
                           int replication_factor);

  // Disconnects broker `broker_id` (1..brokers(), or -1 for all) and refuses
  // new connections until SetBrokerUp. Partitions keep their leader, so
  // producing to them waits (and times out) while it is down.
  absl::Status SetBrokerDown(int32_t broker_id);
  absl::Status SetBrokerUp(int32_t broker_id);

  // The next errors.size() requests of type `api_key` (e.g. 0 = Produce,
  // 1 = Fetch, 3 = Metadata) on any broker fail with these errors in order;
  // RD_KAFKA_RESP_ERR__TRANSPORT makes the broker drop the connection.
  void PushRequestErrors(int16_t api_key,
                         absl::Span<const rd_kafka_resp_err_t> errors);
  // Forgets errors pushed for `api_key` and not yet used.
  void ClearRequestErrors(int16_t api_key);

  // Makes `broker_id` the leader of topic/partition.
  absl::Status SetPartitionLeader(const std::string& topic, int32_t partition,
                                  int32_t broker_id);

  // Delays every response of `broker_id` (-1: all) by `rtt_ms`.
  absl::Status SetBrokerRtt(int32_t broker_id, int rtt_ms);

  // The librdkafka object, for injections not wrapped here.
  rd_kafka_mock_cluster_t* raw() const { return cluster_; }

  static constexpr int16_t kProduceApi = 0;
  static constexpr int16_t kFetchApi = 1;
  static constexpr int16_t kListOffsetsApi = 2;
  static constexpr int16_t kMetadataApi = 3;
  static constexpr int16_t kInitProducerIdApi = 22;

 private:
  MockCluster(rd_kafka_t* rk, rd_kafka_mock_cluster_t* cluster, int brokers);
  absl::Status CheckBroker(int32_t broker_id) const;

  rd_kafka_t* const rk_;  // librdkafka's bookkeeping handle for the cluster
  rd_kafka_mock_cluster_t* const cluster_;
  const int brokers_;
  const std::string bootstrap_;
};

}  // namespace crm::kafka
