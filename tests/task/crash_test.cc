// Kills a real `crm run` process with SIGKILL at random moments, restarts it
// each time, and checks that the views it ends with are byte-identical to
// those of a run that was never killed.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/event/codec.h"
#include "engine/log/embedded_log.h"
#include "engine/store/partition_store.h"
#include "gtest/gtest.h"
#include "tests/testing/store_dump.h"
#include "tests/testing/temp_dir.h"
#include "tools/generator/generator.h"

extern char** environ;

namespace crm::task {
namespace {

namespace fs = std::filesystem;

pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null",
                                   O_WRONLY, 0);
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

// Writes a generated history into the embedded log of `data_dir`.
int64_t FillLog(const std::string& data_dir, int customers, int months) {
  log::EmbeddedLogOptions options;
  options.partitions = 4;
  auto log = *log::EmbeddedLog::Open(
      log::EmbeddedLogDir(data_dir, "crm.events"), options);
  generator::GeneratorOptions gen_options;
  gen_options.customers = customers;
  gen_options.months = months;
  gen_options.seed = 21;
  auto gen = *generator::Generator::Create(gen_options);
  std::vector<std::string> keys, values;
  v1::Envelope e;
  int64_t n = 0;
  auto flush = [&] {
    std::vector<log::RecordRef> refs;
    for (size_t i = 0; i < keys.size(); ++i)
      refs.push_back({keys[i], values[i]});
    EXPECT_TRUE(log->Append(refs).ok());
    keys.clear();
    values.clear();
  };
  while (gen->Next(&e)) {
    keys.push_back(e.customer_id());
    values.push_back(event::EncodeBinary(e));
    if (keys.size() == 5000) flush();
    ++n;
  }
  flush();
  return n;
}

int64_t CommittedRecords(const std::string& store_dir) {
  if (!fs::exists(store_dir)) return 0;
  store::StoreResources resources{store::StoreOptions{}};
  int64_t n = 0;
  for (const auto& entry : fs::directory_iterator(store_dir)) {
    auto s =
        store::PartitionStore::OpenReadOnly(resources, entry.path().string());
    if (s.ok()) n += (*s)->next_offset();
  }
  return n;
}

std::vector<std::string> RunArgs(const std::string& data_dir,
                                 const std::string& rules) {
  // Small batches and frequent commits, so kills land between and inside
  // commits.
  std::vector<std::string> args = {CRM_BINARY_PATH, "--data-dir", data_dir,
                                   "--quiet"};
  if (!rules.empty()) args.insert(args.end(), {"--rules", rules});
  args.insert(args.end(), {"run", "--exit-at-end", "--batch", "200",
                           "--commit-records", "500"});
  return args;
}

// Kills `crm run` (with `rules`, default when empty) `kills` times at
// random moments, restarts it to the end, and compares with a clean run.
void KillAndCompare(const std::string& rules, int kills) {
  testing::TempDir tmp;
  const std::string killed = tmp.File("killed");
  const std::string clean = tmp.File("clean");
  const int64_t events = FillLog(killed, 1500, 12);
  fs::copy(killed, clean, fs::copy_options::recursive);

  // The run that is never killed, timed to place the kills.
  const absl::Time start = absl::Now();
  int status = Wait(Spawn(RunArgs(clean, rules)));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const int64_t full_run_ms = absl::ToInt64Milliseconds(absl::Now() - start);

  std::mt19937_64 rng(20261201);
  int mid_work_kills = 0;
  int64_t previous = 0;
  for (int kill_no = 0; kill_no < kills; ++kill_no) {
    const pid_t pid = Spawn(RunArgs(killed, rules));
    std::uniform_int_distribution<int64_t> delay(
        1, std::max<int64_t>(2, full_run_ms / 5));
    usleep(static_cast<useconds_t>(delay(rng) * 1000));
    kill(pid, SIGKILL);
    Wait(pid);
    const int64_t committed = CommittedRecords(killed + "/store/crm.events");
    EXPECT_GE(committed, previous) << "commits never go back";
    previous = committed;
    if (committed < events) ++mid_work_kills;
  }
  status = Wait(Spawn(RunArgs(killed, rules)));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  ::testing::Test::RecordProperty("events", static_cast<int>(events));
  ::testing::Test::RecordProperty("mid_work_kills", mid_work_kills);
  EXPECT_GT(mid_work_kills, 0) << "no kill landed before the end";
  const std::string expected = testing::DumpStores(clean + "/store/crm.events");
  EXPECT_NE(expected.find("next_offset"), std::string::npos);
  EXPECT_EQ(testing::DumpStores(killed + "/store/crm.events"), expected);
  // With a schedule both runs made their passes.
  EXPECT_EQ(fs::exists(clean + "/population/crm.events/latest.binpb"),
            !rules.empty());
  EXPECT_EQ(fs::exists(killed + "/population/crm.events/latest.binpb"),
            !rules.empty());
}

TEST(CrashTest, KilledTwentyTimesEndsWithTheViewsOfAnUnkilledRun) {
  KillAndCompare("", 20);
}

// The same with a 30-day population schedule: kills land inside phases,
// at holds and inside passes (between the per-store commits).
TEST(CrashTest, KilledWithAPopulationScheduleEndsIdentical) {
  testing::TempDir tmp;
  const std::string rules = tmp.File("scheduled.textproto");
  fs::copy_file(std::string(CRM_SOURCE_DIR) + "/deploy/rules/default.textproto",
                rules);
  {
    std::ofstream out(rules, std::ios::app);
    out << "population_schedule { every_days: 30 }\n";
  }
  KillAndCompare(rules, 12);
}

}  // namespace
}  // namespace crm::task
