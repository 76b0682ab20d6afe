// `crm devbroker` as a process: prints its bootstrap address, serves the
// Kafka protocol to KafkaLog, and stops cleanly on SIGTERM and SIGINT.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "engine/kafka/kafka_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kafka/kafka_test_util.h"

extern char** environ;

namespace crm::kafka {
namespace {

// A running `crm devbroker` child with its stdout on a pipe.
class Devbroker {
 public:
  explicit Devbroker(std::vector<std::string> args) {
    args.insert(args.begin(), {CRM_BINARY_PATH, "devbroker"});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    if (posix_spawn(&pid_, CRM_BINARY_PATH, &actions, nullptr, argv.data(),
                    environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~Devbroker() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) fclose(out_);
  }

  // The first stdout line (the bootstrap address), without the newline.
  std::string ReadLine() {
    std::string line;
    int c;
    while (out_ != nullptr && (c = fgetc(out_)) != EOF && c != '\n') {
      line.push_back(static_cast<char>(c));
    }
    return line;
  }

  // Sends `sig` and returns the exit code (-1 if it did not exit normally).
  int Stop(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  bool started() const { return pid_ > 0 && out_ != nullptr; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

TEST(DevbrokerTest, ServesKafkaAndStopsOnSigterm) {
  Devbroker broker({"--brokers-count", "2", "--partitions", "5", "--topic",
                    "crm.test", "-q"});
  ASSERT_TRUE(broker.started());
  const std::string bootstrap = broker.ReadLine();
  ASSERT_THAT(bootstrap, ::testing::StartsWith("127.0.0.1:"));
  ASSERT_EQ(bootstrap.find(' '), std::string::npos);

  KafkaOptions o;
  o.brokers = bootstrap;
  o.topic = "crm.test";
  {
    auto log = KafkaLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->partitions(), 5);
    const testing::TestRecords records = testing::MakeRecords(10, 10);
    ASSERT_TRUE((*log)->Append(records.Refs(0, records.size())).ok());
    testing::ExpectTopicHoldsExactly(**log, records);
    o.topic = "crm.test.dlq";  // the dead-letter topic: one partition
    auto dlq = KafkaLog::Open(o);
    ASSERT_TRUE(dlq.ok()) << dlq.status();
    EXPECT_EQ((*dlq)->partitions(), 1);
    o.topic = "crm.transitions";
    auto transitions = KafkaLog::Open(o);
    ASSERT_TRUE(transitions.ok()) << transitions.status();
    EXPECT_EQ((*transitions)->partitions(), 5);
    o.topic = "crm.events.dlq";  // not asked for
    EXPECT_EQ(KafkaLog::Open(o).status().code(), absl::StatusCode::kNotFound);
  }
  // An ordinary Kafka client sees the same cluster.
  FILE* kcat = popen(("kcat -L -b " + bootstrap + " -t crm.test").c_str(), "r");
  ASSERT_NE(kcat, nullptr);
  std::string listing;
  char buf[1024];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), kcat)) > 0) listing.append(buf, n);
  EXPECT_EQ(pclose(kcat), 0);
  EXPECT_THAT(listing,
              ::testing::HasSubstr("topic \"crm.test\" with 5 partitions"));
  EXPECT_EQ(broker.Stop(SIGTERM), 0);
}

TEST(DevbrokerTest, StopsOnSigint) {
  Devbroker broker({"-q"});
  ASSERT_TRUE(broker.started());
  ASSERT_THAT(broker.ReadLine(), ::testing::StartsWith("127.0.0.1:"));
  EXPECT_EQ(broker.Stop(SIGINT), 0);
}

TEST(DevbrokerTest, RejectsReplicationAboveBrokers) {
  Devbroker broker({"--brokers-count", "1", "--replication-factor", "2"});
  ASSERT_TRUE(broker.started());
  EXPECT_EQ(broker.ReadLine(), "");  // nothing on stdout, exits
  EXPECT_EQ(broker.Stop(0), 2);      // signal 0: just wait; exit kExitUsage
}

}  // namespace
}  // namespace crm::kafka
