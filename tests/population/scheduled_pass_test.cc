#include "engine/population/scheduled_pass.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "crm/v1/events.pb.h"
#include "engine/base/time_util.h"
#include "engine/event/codec.h"
#include "engine/log/archive.h"
#include "engine/log/embedded_log.h"
#include "engine/population/population_pass.h"
#include "engine/replay/replay.h"
#include "engine/task/partition_task.h"
#include "engine/task/worker.h"
#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "tests/testing/generated_history.h"
#include "tests/testing/store_dump.h"
#include "tests/testing/temp_dir.h"

namespace crm::population {
namespace {

constexpr int kPartitions = 3;
const absl::Duration kEvery = absl::Hours(24 * 30);

// A generated multi-partition history (about a year) under the default
// rules with a 30-day population schedule.
class ScheduledPassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_ = projections::DefaultRules();
    rules_.mutable_population_schedule()->set_every_days(30);
    ASSERT_TRUE(projections::ValidateRules(rules_).ok());
    log::EmbeddedLogOptions options;
    options.partitions = kPartitions;
    log_ = *log::EmbeddedLog::Open(tmp_.File("log"), options);
    testing::GeneratedHistory h = testing::GenerateHistory(80, 12, 11);
    keys_ = std::move(h.keys);
    values_ = std::move(h.values);
  }

  void Append(size_t from, size_t to) {
    std::vector<log::RecordRef> refs;
    for (size_t i = from; i < to; ++i) refs.push_back({keys_[i], values_[i]});
    ASSERT_TRUE(log_->Append(refs).ok());
  }

  // Runs a worker with the schedule to the log's end into `name`; returns
  // the stores' dump.
  std::string Project(const std::string& name, task::WorkerOptions options,
                      int64_t* passes = nullptr,
                      task::PopulationScheduler* scheduler = nullptr,
                      absl::Status* status = nullptr) {
    options.store_dir = StoreDir(name);
    options.exit_at_end = true;
    ScheduledPassRunner runner(
        &rules_, RecordDir(name),
        [&](const std::string& l) { lines_.push_back(l); });
    options.scheduler = scheduler != nullptr ? scheduler : &runner;
    {
      task::Worker worker(log_.get(), &rules_, &resources_, options, nullptr,
                          nullptr);
      absl::Status s = worker.Run({}, nullptr);
      if (status != nullptr) {
        *status = s;
      } else {
        EXPECT_TRUE(s.ok()) << s;
      }
    }
    if (passes != nullptr) *passes = runner.passes();
    return testing::DumpStores(options.store_dir);
  }

  std::string StoreDir(const std::string& name) {
    return tmp_.File(name + "/store/crm.events");
  }
  std::string RecordDir(const std::string& name) {
    return PassRecordDir(tmp_.File(name), "crm.events");
  }

  // Every record of partition p, decoded.
  std::vector<log::LogRecord> ReadPartition(int32_t p) {
    std::vector<log::LogRecord> out;
    auto reader = *log_->OpenReader(p, 0);
    const int64_t end = *log_->EndOffset(p);
    while (reader->position() < end) {
      EXPECT_TRUE(reader->Poll(&out, 10000, absl::Seconds(1)).ok());
    }
    return out;
  }

  testing::TempDir tmp_;
  v1::Rules rules_;
  store::StoreResources resources_{store::StoreOptions{}};
  std::unique_ptr<log::EmbeddedLog> log_;
  std::vector<std::string> keys_, values_;
  std::vector<std::string> lines_;
};

TEST(PopulationScheduleTest, BoundariesAreAnchorPlusWholePeriods) {
  v1::Rules rules = projections::DefaultRules();
  EXPECT_EQ(projections::NextPassBoundary(rules, absl::UnixEpoch()),
            absl::InfiniteFuture());  // off
  rules.mutable_population_schedule()->set_every_days(30);
  const absl::Time day0 = absl::UnixEpoch();
  EXPECT_EQ(projections::NextPassBoundary(rules, day0), day0 + kEvery);
  EXPECT_EQ(projections::NextPassBoundary(rules, day0 - absl::Seconds(1)),
            day0);
  EXPECT_EQ(projections::NextPassBoundary(
                rules, day0 + kEvery * 700 + absl::Seconds(1)),
            day0 + kEvery * 701);
  rules.mutable_population_schedule()->set_anchor("2026-01-01T00:00:00Z");
  const absl::Time anchor =
      absl::FromCivil(absl::CivilDay(2026, 1, 1), absl::UTCTimeZone());
  EXPECT_EQ(projections::NextPassBoundary(rules, anchor - absl::Hours(1)),
            anchor);
  EXPECT_EQ(projections::NextPassBoundary(rules, anchor - kEvery), anchor);
  // Before any event: at or before both the anchor and the epoch.
  EXPECT_LE(projections::NextPassBoundary(rules, absl::InfinitePast()),
            absl::UnixEpoch());
}

TEST(PopulationScheduleTest, ValidationNamesTheField) {
  v1::Rules rules = projections::DefaultRules();
  rules.mutable_population_schedule()->set_every_days(4000);
  absl::Status s = projections::ValidateRules(rules);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(),
                                "population_schedule.every_days: must be in "
                                "[0, 3660] (0 = off), got 4000"))
      << s;
  rules.mutable_population_schedule()->set_every_days(30);
  rules.mutable_population_schedule()->set_anchor("2026-13-01");
  s = projections::ValidateRules(rules);
  EXPECT_TRUE(absl::StrContains(s.message(), "population_schedule.anchor:"))
      << s;
}

// (a) The passes ran at every boundary the whole log reached, their
// records are kept, every store knows the last one, and the stored classes
// are those of the last pass.
TEST_F(ScheduledPassTest, PassesRunAtEveryBoundaryAllPartitionsReached) {
  Append(0, keys_.size());
  int64_t passes = 0;
  Project("store", {}, &passes);
  // Every partition holds at B only if it has a valid record at or after
  // B; the generator's events are valid and each partition's are in time
  // order, so the last boundary is the last one at or before the earliest
  // partition's last event, and the first is the first after the first
  // event of all (the stores hold no customer before it).
  absl::Time first_event = absl::InfiniteFuture();
  absl::Time last_common = absl::InfiniteFuture();
  absl::Time last_of_all = absl::InfinitePast();
  for (int32_t p = 0; p < kPartitions; ++p) {
    absl::Time last = absl::InfinitePast();
    for (const log::LogRecord& r : ReadPartition(p)) {
      const absl::Time t =
          FromProto(event::DecodeBinary(r.value)->occurred_at());
      first_event = std::min(first_event, t);
      last = std::max(last, t);
    }
    last_common = std::min(last_common, last);
    last_of_all = std::max(last_of_all, last);
  }
  const absl::Time first_pass =
      projections::NextPassBoundary(rules_, first_event);
  const absl::Time last_pass =
      projections::NextPassBoundary(rules_, last_common) - kEvery;
  ASSERT_GT(last_pass, first_pass);
  EXPECT_EQ(passes, (last_pass - first_pass) / kEvery + 1);
  for (absl::Time b = first_pass; b <= last_pass; b += kEvery) {
    const std::string path =
        RecordDir("store") + "/" + FormatRfc3339(b) + ".binpb";
    EXPECT_TRUE(std::filesystem::exists(path)) << path;
  }
  auto latest = *ReadPassRecord(RecordDir("store") + "/latest.binpb");
  EXPECT_EQ(FromProto(latest.summary().as_of()), last_pass);

  auto stores =
      *OpenPartitionStores(resources_, StoreDir("store"), /*read_only=*/false);
  uint64_t a = 0, b = 0, c = 0;
  std::vector<store::PartitionStore*> raw;
  for (auto& s : stores) {
    EXPECT_EQ(s->scheduled_pass_seconds(), absl::ToUnixSeconds(last_pass));
    raw.push_back(s.get());
  }
  ASSERT_TRUE(ForEachStoredCustomer(raw, [&](int32_t, v1::StoredCustomer* r) {
                const v1::AbcClass abc = r->state().views().grade().abc();
                a += abc == v1::ABC_CLASS_A;
                b += abc == v1::ABC_CLASS_B;
                c += abc == v1::ABC_CLASS_C;
                return absl::OkStatus();
              }).ok());
  // Only a pass sets abc: the stores carry exactly the last pass's classes.
  EXPECT_EQ(a, latest.abc_a());
  EXPECT_EQ(b, latest.abc_b());
  EXPECT_EQ(c, latest.abc_c());
  EXPECT_GT(a, 0u);
  EXPECT_GT(latest.transacted(), 0u);
  // The partitions held at the next boundary (those with an event at or
  // after it) are said at exit.
  EXPECT_EQ(last_of_all >= last_pass + kEvery,
            std::any_of(lines_.begin(), lines_.end(), [&](const auto& l) {
              return absl::StrContains(l,
                                       "held at the population boundary " +
                                           FormatRfc3339(last_pass + kEvery));
            }));
}

// (b) Batch sizes and threads do not change a byte.
TEST_F(ScheduledPassTest, BatchSizesAndThreadsGiveIdenticalStores) {
  Append(0, keys_.size());
  task::WorkerOptions one;
  one.max_batch = 1;
  one.task.commit_every_records = 1;
  const std::string a = Project("b1", one);
  task::WorkerOptions seven;
  seven.max_batch = 7;
  seven.task.commit_every_records = 13;
  seven.threads = 2;
  EXPECT_EQ(Project("b7", seven), a);
  task::WorkerOptions big;
  big.max_batch = 1000;
  EXPECT_EQ(Project("b1000", big), a);
  big.threads = 2;
  EXPECT_EQ(Project("b1000t2", big), a);
  // And the schedule made a difference: without it the store differs.
  v1::Rules off = rules_;
  off.clear_population_schedule();
  task::WorkerOptions plain;
  plain.store_dir = StoreDir("off");
  plain.exit_at_end = true;
  {
    task::Worker worker(log_.get(), &off, &resources_, plain, nullptr, nullptr);
    ASSERT_TRUE(worker.Run({}, nullptr).ok());
  }
  EXPECT_NE(testing::DumpStores(StoreDir("off")), a);
}

// (c) A replay under the same rules reproduces the store byte for byte,
// and writes the same pass records.
TEST_F(ScheduledPassTest, ReplayReproducesTheStore) {
  Append(0, keys_.size());
  const std::string live = Project("live", {});
  const std::string path = tmp_.File("events.archive");
  ASSERT_TRUE(log::ExportToArchive(*log_, path).ok());
  auto archive = *log::ArchiveReader::Open(path);
  replay::Target target{&rules_, tmp_.File("replayed")};
  replay::ReplayOptions options;
  options.batch_records = 5;
  auto result = replay::Replay(*archive, {&target, 1}, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(testing::DumpStores(StoreDir("replayed")), live);
  auto a = *ReadPassRecord(RecordDir("live") + "/latest.binpb");
  auto b = *ReadPassRecord(RecordDir("replayed") + "/latest.binpb");
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  // --until after every event: the same passes (then every state is
  // advanced to it; tests/replay/replay_cli_test.cc compares an earlier
  // --until with the log cut there).
  options.until = absl::Now();
  replay::Target other{&rules_, tmp_.File("until")};
  auto until = replay::Replay(*archive, {&other, 1}, options);
  ASSERT_TRUE(until.ok()) << until.status();
  EXPECT_EQ(until->after_until, 0);
  auto c = *ReadPassRecord(RecordDir("until") + "/latest.binpb");
  EXPECT_EQ(c.SerializeAsString(), a.SerializeAsString());
}

// (d) The same as applying each partition up to its cut by hand (first
// valid record at or after the boundary) and running the pass as `crm
// regrade` does, boundary after boundary.
TEST_F(ScheduledPassTest, EqualsCutsAndPassesByHand) {
  Append(0, keys_.size());
  const std::string scheduled = Project("scheduled", {});

  v1::Rules plain_rules = rules_;  // the tasks must not hold on their own
  std::vector<std::vector<log::LogRecord>> logs(kPartitions);
  std::vector<task::DecodedBatch> decoded(kPartitions);
  std::vector<std::unique_ptr<store::PartitionStore>> stores;
  std::vector<store::PartitionStore*> raw;
  std::vector<size_t> pos(kPartitions, 0);
  std::filesystem::create_directories(StoreDir("hand"));
  for (int32_t p = 0; p < kPartitions; ++p) {
    logs[p] = ReadPartition(p);
    task::PartitionTask::Decode(logs[p], &decoded[p]);
    stores.push_back(*store::PartitionStore::Open(
        resources_, task::PartitionStoreDir(StoreDir("hand"), p), p));
    raw.push_back(stores.back().get());
  }
  // Applies records [pos, cut) of p, cut being the first valid one at or
  // after b (the end when none); returns whether there was one.
  auto apply_to = [&](int32_t p, absl::Time b) {
    size_t cut = pos[p];
    while (cut < logs[p].size() &&
           !(decoded[p].errors[cut].empty() &&
             FromProto(decoded[p].event(cut).occurred_at()) >= b)) {
      ++cut;
    }
    task::PartitionTask t(stores[p].get(), &plain_rules);
    EXPECT_TRUE(
        t.ApplyBatch(absl::MakeSpan(logs[p]).subspan(pos[p], cut - pos[p]))
            .ok());
    EXPECT_TRUE(t.Flush().ok());
    pos[p] = cut;
    return cut < logs[p].size();
  };
  int ran = 0;
  for (absl::Time b =
           projections::NextPassBoundary(rules_, absl::InfinitePast());
       ; b += kEvery) {
    bool all_held = true;
    for (int32_t p = 0; p < kPartitions; ++p) all_held &= apply_to(p, b);
    if (!all_held) break;
    PassOptions options;
    options.as_of = b;
    auto pass = RunPopulationPass(raw, rules_, options);
    if (absl::IsNotFound(pass.status())) continue;
    ASSERT_TRUE(pass.ok()) << pass.status();
    ++ran;
  }
  EXPECT_GT(ran, 3);
  stores.clear();
  EXPECT_EQ(testing::DumpStores(StoreDir("hand")), scheduled);
}

// (e) Stopping between boundaries (the log ends mid-period, some
// partitions held, some not) and going on later gives the same store.
TEST_F(ScheduledPassTest, RestartBetweenBoundariesGivesIdenticalStores) {
  Append(0, keys_.size());
  const std::string once = Project("once", {});
  // A second log fed in three parts, a worker run to the end of each.
  log::EmbeddedLogOptions log_options;
  log_options.partitions = kPartitions;
  auto whole = std::move(log_);
  log_ = *log::EmbeddedLog::Open(tmp_.File("log2"), log_options);
  const size_t n = keys_.size();
  Append(0, n / 3);
  Project("restarted", {});
  Append(n / 3, 2 * n / 3);
  task::WorkerOptions seven;
  seven.max_batch = 7;
  Project("restarted", seven);
  Append(2 * n / 3, n);
  EXPECT_EQ(Project("restarted", {}), once);
}

// A scheduler that runs the pass, then acts as if the process died before
// the last store's commit: that store keeps its previous boundary.
class InterruptedScheduler final : public task::PopulationScheduler {
 public:
  explicit InterruptedScheduler(ScheduledPassRunner* real, int interrupt_at)
      : real_(real), interrupt_at_(interrupt_at) {}
  absl::Time FirstBoundary(
      absl::Span<store::PartitionStore* const> stores) override {
    return real_->FirstBoundary(stores);
  }
  absl::StatusOr<absl::Time> RunPass(
      absl::Span<store::PartitionStore* const> stores, absl::Time boundary,
      absl::Time earliest_held) override {
    const auto before = stores.back()->scheduled_pass_seconds();
    auto next = real_->RunPass(stores, boundary, earliest_held);
    if (!next.ok() || real_->passes() < interrupt_at_) return next;
    store::CommitBatch undo;
    undo.next_offset = stores.back()->next_offset();
    undo.scheduled_pass_seconds = before;
    EXPECT_TRUE(stores.back()->Commit(undo).ok());
    return absl::AbortedError("simulated crash");
  }

 private:
  ScheduledPassRunner* const real_;
  const int interrupt_at_;
};

// A crash between the per-store commits of a pass: the restarted worker
// sees the stores disagree, runs that pass again, and ends identical.
TEST_F(ScheduledPassTest, PassInterruptedBetweenStoresIsRunAgain) {
  Append(0, keys_.size());
  const std::string once = Project("once", {});
  ScheduledPassRunner real(&rules_, "", nullptr);
  InterruptedScheduler interrupted(&real, 3);
  absl::Status status;
  Project("crashed", {}, nullptr, &interrupted, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
  {
    auto stores = *OpenPartitionStores(resources_, StoreDir("crashed"), false);
    EXPECT_NE(stores.front()->scheduled_pass_seconds(),
              stores.back()->scheduled_pass_seconds());
  }
  EXPECT_EQ(Project("crashed", {}), once);
}

// Group mode does not run the schedule; a worker without a scheduler
// refuses rules with one.
TEST_F(ScheduledPassTest, WorkerWithoutSchedulerRefusesScheduledRules) {
  task::WorkerOptions options;
  options.store_dir = StoreDir("none");
  options.exit_at_end = true;
  task::Worker worker(log_.get(), &rules_, &resources_, options, nullptr,
                      nullptr);
  absl::Status s = worker.Run({}, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.message(), "population_schedule")) << s;
}

}  // namespace
}  // namespace crm::population
