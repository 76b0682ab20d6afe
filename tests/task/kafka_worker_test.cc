// Real `crm run` processes against an in-process mock Kafka cluster (3
// brokers, ports chosen at run time):
// - scale-out: three workers in one consumer group share a 6-partition
//   topic; one is SIGKILLed and its disk thrown away; the other two take
//   over its partitions, rebuild them by replay from offset 0, and every
//   partition ends byte-identical to a single standalone worker's store;
// - broker outage: a standalone worker is SIGKILLed at random moments while
//   a broker is down for a while, restarted each time, and ends with the
//   views of a run that was never killed.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
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

extern char** environ;

namespace crm::task {
namespace {

namespace fs = std::filesystem;

constexpr int kPartitions = 6;

// Starts `args` with stderr to `stderr_path` (/dev/null when empty).
pid_t Spawn(const std::vector<std::string>& args,
            const std::string& stderr_path = "") {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(
      &actions, STDERR_FILENO,
      stderr_path.empty() ? "/dev/null" : stderr_path.c_str(),
      O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(),
                        environ),
            0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The mock cluster with the topics `crm run` opens, filled with a
// generated history.
class KafkaWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = kafka::MockCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->CreateTopic("crm.events", kPartitions, 3).ok());
    ASSERT_TRUE(cluster_->CreateTopic("crm.events.dlq", 1, 3).ok());
    ASSERT_TRUE(cluster_->CreateTopic("crm.transitions", kPartitions, 3).ok());
    rules_ = projections::DefaultRules();
  }

  kafka::KafkaOptions Options(const std::string& topic) const {
    kafka::KafkaOptions o;
    o.brokers = cluster_->bootstrap();
    o.topic = topic;
    return o;
  }

  // A generated history: EncodeBinary envelopes keyed by customer.
  struct History {
    std::vector<std::string> keys, values;
  };
  static History Generate(int customers, int months) {
    History h;
    generator::GeneratorOptions gen_options;
    gen_options.customers = customers;
    gen_options.months = months;
    gen_options.seed = 33;
    auto gen = *generator::Generator::Create(gen_options);
    v1::Envelope e;
    while (gen->Next(&e)) {
      h.keys.push_back(e.customer_id());
      h.values.push_back(event::EncodeBinary(e));
    }
    return h;
  }

  // Appends records [begin, end) of `h` in batches of `batch`, pausing
  // `pause` between batches.
  void Append(const History& h, size_t begin, size_t end, size_t batch,
              absl::Duration pause) {
    auto log = kafka::KafkaLog::Open(Options("crm.events"));
    ASSERT_TRUE(log.ok()) << log.status();
    for (size_t i = begin; i < end; i += batch) {
      std::vector<log::RecordRef> refs;
      for (size_t j = i; j < std::min(end, i + batch); ++j) {
        refs.push_back({h.keys[j], h.values[j]});
      }
      const absl::Status s = (*log)->Append(refs);
      ASSERT_TRUE(s.ok()) << s;
      absl::SleepFor(pause);
    }
  }

  // End offset of every partition; checks the mock kept everything.
  std::vector<int64_t> Ends() {
    auto log = kafka::KafkaLog::Open(Options("crm.events"));
    EXPECT_TRUE(log.ok()) << log.status();
    std::vector<int64_t> ends;
    for (int32_t p = 0; p < kPartitions; ++p) {
      ends.push_back(*(*log)->EndOffset(p));
      EXPECT_EQ(*(*log)->BeginOffset(p), 0) << "mock retention dropped data";
    }
    return ends;
  }

  // Appends a whole generated history; returns the end offsets.
  std::vector<int64_t> Fill(int customers, int months) {
    auto log = kafka::KafkaLog::Open(Options("crm.events"));
    EXPECT_TRUE(log.ok()) << log.status();
    generator::GeneratorOptions gen_options;
    gen_options.customers = customers;
    gen_options.months = months;
    gen_options.seed = 33;
    auto gen = *generator::Generator::Create(gen_options);
    std::vector<std::string> keys, values;
    v1::Envelope e;
    auto flush = [&] {
      std::vector<log::RecordRef> refs;
      for (size_t i = 0; i < keys.size(); ++i) {
        refs.push_back({keys[i], values[i]});
      }
      const absl::Status s = (*log)->Append(refs);
      EXPECT_TRUE(s.ok()) << s;
      keys.clear();
      values.clear();
    };
    while (gen->Next(&e)) {
      keys.push_back(e.customer_id());
      values.push_back(event::EncodeBinary(e));
      if (keys.size() == 5000) flush();
    }
    flush();
    std::vector<int64_t> ends;
    for (int32_t p = 0; p < kPartitions; ++p) {
      ends.push_back(*(*log)->EndOffset(p));
      EXPECT_EQ(*(*log)->BeginOffset(p), 0) << "mock retention dropped data";
    }
    return ends;
  }

  // One standalone worker, in process, over KafkaLog: the reference views.
  void RunReference(const std::string& store_dir) {
    auto log = kafka::KafkaLog::Open(Options("crm.events"));
    ASSERT_TRUE(log.ok()) << log.status();
    store::StoreResources resources{store::StoreOptions{}};
    WorkerOptions options;
    options.store_dir = store_dir;
    options.exit_at_end = true;
    Worker worker(log->get(), &rules_, &resources, options, nullptr, nullptr);
    const absl::Status s = worker.Run({}, nullptr);
    ASSERT_TRUE(s.ok()) << s;
  }

  std::unique_ptr<kafka::MockCluster> cluster_;
  v1::Rules rules_;
};

// The next offset of partition `p`'s store under `store_dir`; -1 when it
// cannot be read (missing, or being written at this instant).
int64_t StoreOffset(const std::string& store_dir, int32_t p) {
  const std::string dir = PartitionStoreDir(store_dir, p);
  if (!fs::exists(dir)) return -1;
  store::StoreResources resources{store::StoreOptions{}};
  auto s = store::PartitionStore::OpenReadOnly(resources, dir);
  return s.ok() ? (*s)->next_offset() : -1;
}

// The partitions a group-mode worker holds, from its "partition P:
// assigned/revoked/lost" lines.
std::set<int32_t> Owned(const std::string& log_text) {
  std::set<int32_t> owned;
  std::istringstream in(log_text);
  std::string line;
  while (std::getline(in, line)) {
    int p = -1;
    char what[16] = {};
    if (std::sscanf(line.c_str(), "run: partition %d: %15[a-z]", &p, what) !=
        2) {
      continue;
    }
    const std::string w = what;
    if (w == "assigned") owned.insert(p);
    if (w == "revoked" || w == "lost") owned.erase(p);
  }
  return owned;
}

struct GroupWorker {
  std::string data_dir;
  std::string log_path;
  pid_t pid = -1;
  std::string store_dir() const { return data_dir + "/store/crm.events"; }
  std::set<int32_t> owned() const { return Owned(ReadFile(log_path)); }
};

// Polls `done` every 100 ms for up to `limit`; true once it holds.
template <typename F>
bool WaitFor(absl::Duration limit, F done) {
  const absl::Time deadline = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return true;
}

// crm replay --source kafka reads the topic's partitions directly (no
// consumer group, nothing committed): the same views as a worker's over
// that topic.
TEST_F(KafkaWorkerTest, ReplayFromKafkaEqualsTheWorkersViews) {
  testing::TempDir tmp;
  const std::vector<int64_t> ends = Fill(400, 12);
  ASSERT_GT(std::accumulate(ends.begin(), ends.end(), int64_t{0}), 1000);
  const std::string reference = tmp.File("reference");
  RunReference(reference);
  const std::string out = tmp.File("replay");
  const std::string log_path = tmp.File("replay.log");
  const int rc = Wait(Spawn(
      {CRM_BINARY_PATH, "--data-dir", tmp.File("data"), "--brokers",
       cluster_->bootstrap(), "replay", "--source", "kafka", "--out", out},
      log_path));
  ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << ReadFile(log_path);
  EXPECT_EQ(testing::DumpStores(out + "/store/crm.events"),
            testing::DumpStores(reference));
  EXPECT_NE(testing::DumpStores(reference).find("C0000001"), std::string::npos);
}

// Group mode does not run a scheduled population pass (a member does not
// hold every partition): it says so once and applies the events as usual.
TEST_F(KafkaWorkerTest, GroupModeSaysItLeavesTheScheduledPassToRegrade) {
  testing::TempDir tmp;
  Fill(50, 3);
  const std::string rules = tmp.File("scheduled.textproto");
  {
    std::ofstream out(rules);
    out << ReadFile(CRM_SOURCE_DIR "/deploy/rules/default.textproto")
        << "\npopulation_schedule { every_days: 30 }\n";
  }
  const std::string data_dir = tmp.File("member");
  const std::string log_path = tmp.File("member.log");
  const pid_t pid =
      Spawn({CRM_BINARY_PATH, "--data-dir", data_dir, "--rules", rules,
             "--brokers", cluster_->bootstrap(), "run", "--group",
             "g-scheduled", "--session-timeout-ms", "6000"},
            log_path);
  const std::string line =
      "population_schedule is set but not run in group mode";
  const bool said = WaitFor(absl::Seconds(60), [&] {
    return ReadFile(log_path).find(line) != std::string::npos;
  });
  // Its partitions are applied all the same.
  const bool applied = WaitFor(absl::Seconds(60), [&] {
    return StoreOffset(data_dir + "/store/crm.events", 0) > 0;
  });
  kill(pid, SIGTERM);
  const int rc = Wait(pid);
  EXPECT_TRUE(said) << ReadFile(log_path);
  EXPECT_TRUE(applied) << ReadFile(log_path);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << rc;
  const std::string log_text = ReadFile(log_path);
  EXPECT_EQ(log_text.find(line), log_text.rfind(line)) << "said once";
}

TEST_F(KafkaWorkerTest, GroupTakesOverAKilledWorkersPartitions) {
  testing::TempDir tmp;
  // Half the history is there before the workers start; the rest arrives
  // while they rebalance and while one of them is killed.
  const History history = Generate(1500, 12);
  const size_t half = history.keys.size() / 2;
  Append(history, 0, half, 5000, absl::ZeroDuration());

  auto start = [&](const std::string& name) {
    GroupWorker w;
    w.data_dir = tmp.File(name);
    w.log_path = tmp.File(name + ".log");
    // Small batches and commits, so the work spans the rebalances.
    w.pid = Spawn(
        {CRM_BINARY_PATH, "--data-dir", w.data_dir, "--brokers",
         cluster_->bootstrap(), "run", "--group", "g", "--session-timeout-ms",
         "6000", "--batch", "100", "--commit-records", "300"},
        w.log_path);
    return w;
  };
  const std::set<int32_t> all = {0, 1, 2, 3, 4, 5};
  // The victim first: it holds every partition before the others join, so
  // the survivors never had state for the partitions it keeps.
  GroupWorker victim = start("victim");
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] { return victim.owned() == all; }))
      << ReadFile(victim.log_path);
  GroupWorker a = start("a");
  GroupWorker b = start("b");
  ASSERT_TRUE(WaitFor(absl::Seconds(90),
                      [&] {
                        return victim.owned().size() == 2 &&
                               a.owned().size() == 2 && b.owned().size() == 2;
                      }))
      << ReadFile(victim.log_path) << ReadFile(a.log_path)
      << ReadFile(b.log_path);
  const std::set<int32_t> victims = victim.owned();

  // The second half goes in over about two seconds; the kill lands in it.
  std::thread producer([&] {
    Append(history, half, history.keys.size(), 500, absl::Milliseconds(60));
  });
  absl::SleepFor(absl::Milliseconds(700));
  kill(victim.pid, SIGKILL);
  Wait(victim.pid);
  fs::remove_all(victim.data_dir);  // its disk is lost
  producer.join();
  const std::vector<int64_t> ends = Ends();
  const std::string reference = tmp.File("reference");
  RunReference(reference);

  // The survivors take over and drain every partition.
  std::map<int32_t, std::string> owner_store;
  ASSERT_TRUE(WaitFor(absl::Seconds(90),
                      [&] {
                        std::set<int32_t> held = a.owned();
                        for (int32_t p : b.owned()) held.insert(p);
                        if (held != all) return false;
                        for (int32_t p = 0; p < kPartitions; ++p) {
                          if (StoreOffset(a.store_dir(), p) == ends[p]) {
                            owner_store[p] = a.store_dir();
                          } else if (StoreOffset(b.store_dir(), p) == ends[p]) {
                            owner_store[p] = b.store_dir();
                          } else {
                            return false;
                          }
                        }
                        return true;
                      }))
      << ReadFile(a.log_path) << ReadFile(b.log_path);
  for (GroupWorker* w : {&a, &b}) {
    kill(w->pid, SIGTERM);
    const int status = Wait(w->pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << status << ReadFile(w->log_path);
  }
  const std::string logs = ReadFile(a.log_path) + ReadFile(b.log_path);
  // The survivors had no state for the victim's partitions: each was
  // rebuilt from offset 0, with a final "rebuilt N of N records" line.
  for (int32_t p : victims) {
    EXPECT_NE(logs.find(absl::StrFormat("partition %d: assigned; no local "
                                        "state, rebuilding from offset 0",
                                        p)),
              std::string::npos)
        << logs;
    bool rebuilt = false;
    std::istringstream in(logs);
    std::string line;
    while (std::getline(in, line)) {
      int q = -1;
      long long n = -1, m = -2;
      if (std::sscanf(line.c_str(), "run: partition %d: rebuilt %lld of %lld",
                      &q, &n, &m) == 3 &&
          q == p && n == m) {
        rebuilt = true;
      }
    }
    EXPECT_TRUE(rebuilt) << "partition " << p << "\n" << logs;
  }
  // A graceful stop revokes everything and leaves the group.
  EXPECT_TRUE(a.owned().empty()) << ReadFile(a.log_path);
  EXPECT_TRUE(b.owned().empty()) << ReadFile(b.log_path);

  // Each partition's final owner holds exactly the standalone views.
  const std::string merged = tmp.File("merged");
  fs::create_directories(merged);
  for (const auto& [p, store_dir] : owner_store) {
    fs::copy(PartitionStoreDir(store_dir, p), PartitionStoreDir(merged, p),
             fs::copy_options::recursive);
  }
  const std::string expected = testing::DumpStores(reference);
  EXPECT_NE(expected.find("next_offset"), std::string::npos);
  EXPECT_EQ(testing::DumpStores(merged), expected);
  RecordProperty("events", static_cast<int>(std::accumulate(
                               ends.begin(), ends.end(), int64_t{0})));
}

int64_t CommittedRecords(const std::string& store_dir) {
  int64_t n = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    n += std::max<int64_t>(0, StoreOffset(store_dir, p));
  }
  return n;
}

TEST_F(KafkaWorkerTest, KilledWhileABrokerIsDownEndsWithUnkilledViews) {
  testing::TempDir tmp;
  const std::vector<int64_t> ends = Fill(2500, 12);
  const int64_t events = std::accumulate(ends.begin(), ends.end(), int64_t{0});
  const std::string reference = tmp.File("reference");
  RunReference(reference);

  const std::string data_dir = tmp.File("killed");
  const std::string log_path = tmp.File("killed.log");
  auto args_for = [&](const std::string& dir) {
    // Small batches and frequent commits, so kills land between and inside
    // commits.
    return std::vector<std::string>{CRM_BINARY_PATH,
                                    "--data-dir",
                                    dir,
                                    "--brokers",
                                    cluster_->bootstrap(),
                                    "run",
                                    "--exit-at-end",
                                    "--batch",
                                    "200",
                                    "--commit-records",
                                    "500"};
  };
  const std::vector<std::string> args = args_for(data_dir);
  // An unkilled process run, timed to place the kills.
  const absl::Time t0 = absl::Now();
  const int clean = Wait(Spawn(args_for(tmp.File("clean"))));
  ASSERT_TRUE(WIFEXITED(clean) && WEXITSTATUS(clean) == 0) << clean;
  const int64_t full_run_ms = absl::ToInt64Milliseconds(absl::Now() - t0);
  EXPECT_EQ(testing::DumpStores(tmp.File("clean") + "/store/crm.events"),
            testing::DumpStores(reference));
  std::mt19937_64 rng(20261202);
  std::uniform_int_distribution<int64_t> delay_ms(
      1, std::max<int64_t>(2, full_run_ms / 2));
  std::uniform_int_distribution<int32_t> broker(1, 3);
  int down = -1;  // the broker that is down now, or -1
  int mid_work_kills = 0, kills_while_down = 0;
  int64_t previous = 0;
  std::string committed_at_kills;
  for (int kill_no = 0; kill_no < 12; ++kill_no) {
    const pid_t pid = Spawn(args, log_path);
    absl::SleepFor(absl::Milliseconds(delay_ms(rng)));
    // Outages span several runs: a broker goes down in the middle of run 2
    // and comes back in the middle of run 5; another from run 7 to run 10.
    // Runs started while it is down wait for it (or are killed first).
    if (kill_no == 2 || kill_no == 7) {
      down = broker(rng);
      ASSERT_TRUE(cluster_->SetBrokerDown(down).ok());
    } else if (kill_no == 5 || kill_no == 10) {
      ASSERT_TRUE(cluster_->SetBrokerUp(down).ok());
      down = -1;
    }
    absl::SleepFor(absl::Milliseconds(delay_ms(rng)));
    if (down > 0) ++kills_while_down;
    kill(pid, SIGKILL);
    Wait(pid);
    const int64_t committed = CommittedRecords(data_dir + "/store/crm.events");
    EXPECT_GE(committed, previous) << "commits never go back";
    previous = committed;
    absl::StrAppend(&committed_at_kills, kill_no == 0 ? "" : " ", committed);
    if (committed < events) ++mid_work_kills;
  }
  ASSERT_EQ(down, -1);
  const int status = Wait(Spawn(args, log_path));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << status << ReadFile(log_path);

  RecordProperty("events", static_cast<int>(events));
  RecordProperty("mid_work_kills", mid_work_kills);
  RecordProperty("committed_at_kills", committed_at_kills);
  EXPECT_GT(mid_work_kills, 0) << "no kill landed before the end";
  EXPECT_GT(kills_while_down, 0);
  const std::string expected = testing::DumpStores(reference);
  EXPECT_NE(expected.find("next_offset"), std::string::npos);
  EXPECT_EQ(testing::DumpStores(data_dir + "/store/crm.events"), expected);
}

}  // namespace
}  // namespace crm::task
