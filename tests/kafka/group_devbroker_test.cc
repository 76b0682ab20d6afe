// `crm devbroker` creates every topic `crm run` opens (the mock has no
// admin API), and `crm run --group` rejects what a group cannot do.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "engine/kafka/kafka_log.h"
#include "gtest/gtest.h"

extern char** environ;

namespace crm::kafka {
namespace {

// Runs `args` (after the crm program) with stdout on a pipe and stderr to
// /dev/null. Owned by the test; kills the child when destroyed.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    args.insert(args.begin(), CRM_BINARY_PATH);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", 1, 0);
    if (posix_spawn(&pid_, CRM_BINARY_PATH, &actions, nullptr, argv.data(),
                    environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) fclose(out_);
  }

  std::string ReadLine() {
    std::string line;
    int c;
    while (out_ != nullptr && (c = fgetc(out_)) != EOF && c != '\n') {
      line.push_back(static_cast<char>(c));
    }
    return line;
  }

  // Sends `sig` (0: none) and returns the exit code (-1: killed).
  int Stop(int sig) {
    if (sig != 0) kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

int32_t PartitionsOf(const std::string& brokers, const std::string& topic) {
  KafkaOptions o;
  o.brokers = brokers;
  o.topic = topic;
  auto log = KafkaLog::Open(o);
  EXPECT_TRUE(log.ok()) << topic << ": " << log.status();
  return log.ok() ? (*log)->partitions() : -1;
}

TEST(GroupDevbrokerTest, CreatesTheDeadLetterAndTransitionsTopics) {
  Child broker({"--topic", "crm.t", "-q", "devbroker", "--partitions", "4"});
  const std::string bootstrap = broker.ReadLine();
  ASSERT_EQ(bootstrap.rfind("127.0.0.1:", 0), 0u) << bootstrap;
  EXPECT_EQ(PartitionsOf(bootstrap, "crm.t"), 4);
  EXPECT_EQ(PartitionsOf(bootstrap, "crm.t.dlq"), 1);
  EXPECT_EQ(PartitionsOf(bootstrap, "crm.transitions"), 4);
  EXPECT_EQ(broker.Stop(SIGTERM), 0);
}

TEST(GroupDevbrokerTest, GroupModeRejectsWhatItCannotDo) {
  // No brokers: a consumer group is a Kafka feature.
  EXPECT_EQ(Child({"--quiet", "run", "--group", "g"}).Stop(0), 2);
  Child broker({"-q", "devbroker", "--partitions", "2"});
  const std::string bootstrap = broker.ReadLine();
  ASSERT_EQ(bootstrap.rfind("127.0.0.1:", 0), 0u) << bootstrap;
  // The group assigns partitions; draining "to the end" has no meaning.
  EXPECT_EQ(Child({"--brokers", bootstrap, "--quiet", "run", "--group", "g",
                   "--exit-at-end"})
                .Stop(0),
            2);
  EXPECT_EQ(Child({"--brokers", bootstrap, "--quiet", "run", "--group", "g",
                   "--partition", "1"})
                .Stop(0),
            2);
  EXPECT_EQ(broker.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace crm::kafka
