#include "engine/kafka/mock_cluster.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/kafka/kafka_status.h"

namespace crm::kafka {

namespace {

// librdkafka 2.0.2's mock brokers leave Nagle's algorithm on. With several
// produce requests in flight on one connection a response then waits for
// the client's delayed ACK, about 40 ms, so every Append that spans
// partitions took 40 ms longer than with a real broker (which sets
// TCP_NODELAY). Linux copies TCP_NODELAY from a listening socket to the
// sockets it accepts, so setting it on the mock's listeners fixes that for
// every later connection. The listeners are the process's listening TCP
// sockets bound to the bootstrap ports.
void DisableNagleOnListeners(const std::string& bootstrap) {
  std::set<int> ports;
  for (absl::string_view hostport : absl::StrSplit(bootstrap, ',')) {
    const size_t colon = hostport.rfind(':');
    int port = 0;
    if (colon != absl::string_view::npos &&
        absl::SimpleAtoi(hostport.substr(colon + 1), &port)) {
      ports.insert(port);
    }
  }
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;  // not Linux: only slower, not wrong
  while (dirent* entry = readdir(dir)) {
    int fd = 0;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == dirfd(dir)) continue;
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
        !listening) {
      continue;
    }
    sockaddr_storage addr{};
    len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        addr.ss_family != AF_INET) {
      continue;
    }
    const int port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    if (ports.count(port) == 0) continue;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  closedir(dir);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MockCluster>> MockCluster::Start(int brokers) {
  if (brokers < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("mock cluster needs at least 1 broker, got ", brokers));
  }
  // The cluster needs a handle of its own for bookkeeping; it never
  // connects anywhere, so it gets no bootstrap servers. Its log level is
  // lowered so it does not warn about that.
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
  rd_kafka_t* rk =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(
        absl::StrCat("mock cluster: cannot create its handle: ", errstr));
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (cluster == nullptr) {
    rd_kafka_destroy(rk);
    return absl::InternalError(absl::StrCat(
        "mock cluster: librdkafka could not start ", brokers, " brokers"));
  }
  return std::unique_ptr<MockCluster>(new MockCluster(rk, cluster, brokers));
}

MockCluster::MockCluster(rd_kafka_t* rk, rd_kafka_mock_cluster_t* cluster,
                         int brokers)
    : rk_(rk),
      cluster_(cluster),
      brokers_(brokers),
      bootstrap_(rd_kafka_mock_cluster_bootstraps(cluster)) {
  DisableNagleOnListeners(bootstrap_);
}

MockCluster::~MockCluster() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(rk_);
}

absl::Status MockCluster::CreateTopic(const std::string& topic, int partitions,
                                      int replication_factor) {
  if (topic.empty()) {
    return absl::InvalidArgumentError("mock cluster: empty topic name");
  }
  if (partitions < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("mock cluster: topic '", topic,
                     "' needs >= 1 partition, got ", partitions));
  }
  if (replication_factor < 1 || replication_factor > brokers_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mock cluster: topic '", topic, "' replication factor ",
        replication_factor, " must be in [1, ", brokers_, "] (brokers)"));
  }
  return FromKafka(rd_kafka_mock_topic_create(cluster_, topic.c_str(),
                                              partitions, replication_factor),
                   absl::StrCat("mock cluster: create topic '", topic, "'"));
}

absl::Status MockCluster::CheckBroker(int32_t broker_id) const {
  if (broker_id == -1 || (broker_id >= 1 && broker_id <= brokers_)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("mock cluster: no broker ",
                                                 broker_id, " (ids are 1..",
                                                 brokers_, ", or -1 for all)"));
}

absl::Status MockCluster::SetBrokerDown(int32_t broker_id) {
  if (absl::Status s = CheckBroker(broker_id); !s.ok()) return s;
  return FromKafka(
      rd_kafka_mock_broker_set_down(cluster_, broker_id),
      absl::StrCat("mock cluster: set broker ", broker_id, " down"));
}

absl::Status MockCluster::SetBrokerUp(int32_t broker_id) {
  if (absl::Status s = CheckBroker(broker_id); !s.ok()) return s;
  return FromKafka(rd_kafka_mock_broker_set_up(cluster_, broker_id),
                   absl::StrCat("mock cluster: set broker ", broker_id, " up"));
}

void MockCluster::PushRequestErrors(
    int16_t api_key, absl::Span<const rd_kafka_resp_err_t> errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, api_key, errors.size(),
                                          errors.data());
}

void MockCluster::ClearRequestErrors(int16_t api_key) {
  rd_kafka_mock_clear_request_errors(cluster_, api_key);
}

absl::Status MockCluster::SetPartitionLeader(const std::string& topic,
                                             int32_t partition,
                                             int32_t broker_id) {
  if (absl::Status s = CheckBroker(broker_id); !s.ok()) return s;
  return FromKafka(
      rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), partition,
                                         broker_id),
      absl::StrCat("mock cluster: leader of ", topic, "/", partition));
}

absl::Status MockCluster::SetBrokerRtt(int32_t broker_id, int rtt_ms) {
  if (absl::Status s = CheckBroker(broker_id); !s.ok()) return s;
  return FromKafka(rd_kafka_mock_broker_set_rtt(cluster_, broker_id, rtt_ms),
                   absl::StrCat("mock cluster: rtt of broker ", broker_id));
}

}  // namespace crm::kafka
