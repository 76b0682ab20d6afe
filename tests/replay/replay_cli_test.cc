// End-to-end tests of crm replay and crm diff, as a user runs them:
// generate, ingest, run, then replays compared store by store.

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/testing/run_crm.h"
#include "tests/testing/store_dump.h"
#include "tests/testing/temp_dir.h"

namespace crm {
namespace {

using Result = testing::CrmResult;

Result Crm(const std::string& args) {
  return testing::RunCrm(CRM_BINARY_PATH, args);
}

// The dump without its "partition P next_offset N" lines: the customer
// records alone (offsets differ between logs of different lengths).
std::string CustomersOnly(const std::string& dump) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(dump, '\n')) {
    if (absl::StartsWith(line, "partition ")) continue;
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

constexpr char kDefaultRules[] =
    CRM_SOURCE_DIR "/deploy/rules/default.textproto";
constexpr char kVipRules[] = CRM_SOURCE_DIR "/deploy/rules/vip-500k.textproto";

class ReplayCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    input_ = tmp_.File("events.jsonl");
    data_ = tmp_.File("data");
    const auto r = testing::ProjectGeneratedHistory(
        CRM_BINARY_PATH, "--customers 300 --months 12 --seed 5", input_, data_);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  std::string D() const { return absl::StrCat("--data-dir ", data_); }
  std::string Store(const std::string& dir) const {
    return testing::DumpStores(dir + "/store/crm.events");
  }
  Result Replay(const std::string& args) {
    Result r = Crm(absl::StrCat(D(), " -q replay ", args));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r;
  }

  testing::TempDir tmp_;
  std::string input_, data_;
};

TEST_F(ReplayCliTest, ProductionRulesReproduceTheProductionStoreByteForByte) {
  const std::string out = tmp_.File("r");
  Replay(absl::StrCat("--out ", out));
  const std::string production = Store(data_);
  ASSERT_NE(production.find("C0000001"), std::string::npos);
  EXPECT_EQ(Store(out), production);
  // From an archive of the same log: the same stores.
  ASSERT_EQ(Crm(absl::StrCat(D(), " -q export --to ", tmp_.File("a.crmlog")))
                .exit_code,
            0);
  const std::string from_archive = tmp_.File("ra");
  Replay(absl::StrCat("--source ", tmp_.File("a.crmlog"), " --out ",
                      from_archive));
  EXPECT_EQ(Store(from_archive), production);
  // Every partition's commit written as table files and ingested.
  const std::string ingested = tmp_.File("ri");
  Replay(absl::StrCat("--ingest-min-customers 1 --out ", ingested));
  EXPECT_EQ(Store(ingested), production);
}

// With too little --memory for all states, the replay commits and drops
// states as it goes, then reads them back: the same store.
TEST_F(ReplayCliTest, LittleMemoryGivesTheSameStore) {
  const std::string out = tmp_.File("small");
  Replay(absl::StrCat("--memory 256K --out ", out));
  EXPECT_EQ(Store(out), Store(data_));
  // Commits ingested as table files, over states committed before (and
  // those with index keys to delete through the memtable).
  const std::string ingested = tmp_.File("small-ingested");
  Replay(
      absl::StrCat("--memory 256K --ingest-min-customers 1 --out ", ingested));
  EXPECT_EQ(Store(ingested), Store(data_));
  const Result bad =
      Crm(absl::StrCat(D(), " -q replay --memory 12X --out ", tmp_.File("x")));
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("--memory: expected a size"), std::string::npos)
      << bad.output;
}

TEST_F(ReplayCliTest, AnyBatchSizeGivesTheSameStore) {
  const std::string out = tmp_.File("batch7");
  Replay(absl::StrCat("--batch 7 --out ", out));
  EXPECT_EQ(Store(out), Store(data_));
  const Result bad =
      Crm(absl::StrCat(D(), " -q replay --batch 0 --out ", tmp_.File("x")));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;  // a usage error
  EXPECT_NE(bad.output.find("--batch"), std::string::npos) << bad.output;
}

TEST_F(ReplayCliTest, RefusesAnExistingOutUnlessForced) {
  const std::string out = tmp_.File("r");
  Replay(absl::StrCat("--out ", out));
  Result again = Crm(absl::StrCat(D(), " -q replay --out ", out));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
  Replay(absl::StrCat("--out ", out, " --force"));
  EXPECT_EQ(Store(out), Store(data_));
}

// The generated history cut at `until` (RFC 3339 in UTC compares as text),
// ingested into its own data dir `dir`.
void IngestCut(const std::string& input, const std::string& until,
               const std::string& jsonl, const std::string& dir) {
  std::string cut;
  int kept = 0, total = 0;
  for (absl::string_view line :
       absl::StrSplit(testing::ReadFile(input), '\n', absl::SkipEmpty())) {
    ++total;
    const size_t at = line.find("\"occurredAt\":\"") + 14;
    if (line.substr(at, 20) <= until) {
      absl::StrAppend(&cut, line, "\n");
      ++kept;
    }
  }
  ASSERT_GT(kept, 0);
  ASSERT_LT(kept, total);
  testing::WriteFile(jsonl, cut);
  const Result r = Crm(absl::StrCat("--data-dir ", dir, " -q ingest ", jsonl));
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(ReplayCliTest, UntilEqualsTheEventsUpToThenAdvanced) {
  const std::string until = "2024-06-30T23:59:59Z";
  const std::string out = tmp_.File("until");
  Replay(absl::StrCat("--until ", until, " --out ", out));
  // The same history cut at `until`, replayed: nothing is after until
  // there, so --until only advances every state to it.
  const std::string data2 = tmp_.File("data2");
  IngestCut(input_, until, tmp_.File("cut.jsonl"), data2);
  const std::string out2 = tmp_.File("until2");
  Result r = Crm(absl::StrCat("--data-dir ", data2, " -q replay --until ",
                              until, " --out ", out2));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string a = CustomersOnly(Store(out));
  EXPECT_NE(a.find("C0000001"), std::string::npos);
  EXPECT_EQ(a, CustomersOnly(Store(out2)));
  // And it differs from the full history.
  EXPECT_NE(a, CustomersOnly(Store(data_)));
}

// Rules with a population_schedule: the passes of a replay --until are
// those the events up to `until` reach, as on the log cut there.
TEST_F(ReplayCliTest, UntilWithScheduledPassesEqualsTheCutLog) {
  const std::string rules = tmp_.File("scheduled.textproto");
  testing::WriteFile(rules, testing::ReadFile(kDefaultRules) +
                                "\npopulation_schedule { every_days: 30 }\n");
  const std::string until = "2024-06-30T23:59:59Z";
  const std::string out = tmp_.File("until");
  const Result full = Replay(
      absl::StrCat("--rules ", rules, " --until ", until, " --out ", out));
  EXPECT_NE(full.output.find("until " + until), std::string::npos)
      << full.output;
  const std::string data2 = tmp_.File("data2");
  IngestCut(input_, until, tmp_.File("cut.jsonl"), data2);
  const std::string out2 = tmp_.File("until2");
  const Result r =
      Crm(absl::StrCat("--data-dir ", data2, " -q replay --rules ", rules,
                       " --until ", until, " --out ", out2));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string a = CustomersOnly(Store(out));
  EXPECT_EQ(a, CustomersOnly(Store(out2)));
  // Passes ran (their ABC changes are in the grade histories, why
  // "population pass rank N"), and the views are not those of the whole
  // history.
  EXPECT_NE(a.find("population pass rank"), std::string::npos);
  const std::string whole = tmp_.File("whole");
  Replay(absl::StrCat("--rules ", rules, " --out ", whole));
  EXPECT_NE(a, CustomersOnly(Store(whole)));
}

TEST_F(ReplayCliTest, SeveralRuleSetsInOnePassEqualSingleReplays) {
  const std::string both = tmp_.File("both");
  const Result r =
      Crm(absl::StrCat(D(), " -q --json replay --rules ", kDefaultRules,
                       " --rules ", kVipRules, " --out ", both));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Each rule set reports the events it applied: all of them here.
  const size_t at = r.output.find("\"applied\":") + 10;
  const std::string applied = r.output.substr(at, r.output.find(',', at) - at);
  ASSERT_NE(applied, "0") << r.output;
  size_t per_rule_set = 0;
  for (size_t i = r.output.find("\"ruleSets\""); i != std::string::npos;
       i = r.output.find("\"applied\":", i + 1)) {
    if (r.output.compare(i, 10, "\"applied\":") != 0) continue;
    EXPECT_EQ(r.output.substr(i + 10, r.output.find(',', i + 10) - i - 10),
              applied)
        << r.output;
    ++per_rule_set;
  }
  EXPECT_EQ(per_rule_set, 2u) << r.output;
  // Each counts every generated customer (counted per partition as the
  // replay finishes it).
  size_t counted = 0;
  for (size_t i = r.output.find("\"customers\":"); i != std::string::npos;
       i = r.output.find("\"customers\":", i + 1)) {
    EXPECT_EQ(r.output.compare(i, 16, "\"customers\":300,"), 0) << r.output;
    ++counted;
  }
  EXPECT_EQ(counted, 2u) << r.output;
  const std::string one = tmp_.File("one"), two = tmp_.File("two");
  Replay(absl::StrCat("--rules ", kDefaultRules, " --out ", one));
  Replay(absl::StrCat("--rules ", kVipRules, " --out ", two));
  EXPECT_EQ(Store(both + "/2026-12-default"), Store(one));
  EXPECT_EQ(Store(both + "/2026-12-vip-500k"), Store(two));
  EXPECT_NE(Store(one), Store(two));
}

// Two rule sets on two threads that split the rule sets of one partition
// at a time (--parallel rule-sets, the default here), meeting at every
// batch: the stores are those of threads taking whole partitions, whatever
// the batch size and however often a small --memory makes them commit.
TEST_F(ReplayCliTest, ThreadsSplittingRuleSetsGiveTheSameStores) {
  const std::string rules =
      absl::StrCat("--rules ", kDefaultRules, " --rules ", kVipRules);
  const std::string by_partition = tmp_.File("by-partition");
  Replay(absl::StrCat(rules, " --parallel partitions --out ", by_partition));
  const std::string want_default = Store(by_partition + "/2026-12-default");
  const std::string want_vip = Store(by_partition + "/2026-12-vip-500k");
  ASSERT_NE(want_default.find("C0000001"), std::string::npos);
  ASSERT_NE(want_default, want_vip);
  for (const std::string& extra :
       {std::string(""), std::string("--parallel rule-sets"),
        std::string("--parallel rule-sets --batch 7"),
        std::string("--parallel rule-sets --batch 333 --memory 256K"),
        std::string("--threads 3 --parallel rule-sets --batch 50")}) {
    SCOPED_TRACE(extra);
    const std::string out = tmp_.File("split");
    Replay(absl::StrCat(rules, " ", extra, " --force --out ", out));
    EXPECT_EQ(Store(out + "/2026-12-default"), want_default);
    EXPECT_EQ(Store(out + "/2026-12-vip-500k"), want_vip);
  }
  const Result bad = Crm(
      absl::StrCat(D(), " -q replay --parallel rules --out ", tmp_.File("x")));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;  // a usage error
  EXPECT_NE(bad.output.find("--parallel"), std::string::npos) << bad.output;
}

// A record that fails its CRC in the middle of the log stops a replay with
// the reader's error, not a hang: the records are read on a thread of
// their own, whether the threads split the rule sets or the partitions.
TEST_F(ReplayCliTest, ACorruptRecordStopsThreadsSplittingRuleSets) {
  const std::string archive = tmp_.File("a.crmlog");
  ASSERT_EQ(Crm(absl::StrCat(D(), " -q export --to ", archive)).exit_code, 0);
  {
    std::fstream f(archive, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekg(0, std::ios::end);
    const std::streamoff size = f.tellg();
    f.seekp(size / 2);
    f.put('\xA5');
    f.seekp(size / 2 + 1);
    f.put('\x5A');
  }
  for (const char* parallel : {"rule-sets", "partitions"}) {
    const Result r = Crm(absl::StrCat(
        D(), " -q replay --source ", archive, " --rules ", kDefaultRules,
        " --rules ", kVipRules, " --parallel ", parallel, " --batch 100 --out ",
        tmp_.File(absl::StrCat("corrupt-", parallel))));
    EXPECT_NE(r.exit_code, 0) << parallel << ": " << r.output;
    EXPECT_NE(r.output.find("corrupt"), std::string::npos)
        << parallel << ": " << r.output;
  }
}

TEST_F(ReplayCliTest, DiffOfAStoreAgainstItselfIsAllOnTheDiagonal) {
  Result d =
      Crm(absl::StrCat("diff --json ", data_, " ", data_, "/store/crm.events"));
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_NE(d.output.find("\"customersMoved\":0,"), std::string::npos)
      << d.output;
  EXPECT_NE(d.output.find("\"moves\":[]"), std::string::npos);
  EXPECT_NE(d.output.find("\"managers\":[]"), std::string::npos);
  // Every cell on the diagonal: from equals to.
  size_t at = 0, cells = 0;
  while ((at = d.output.find("{\"from\":", at)) != std::string::npos) {
    const size_t f = at + 9;
    const std::string from = d.output.substr(f, d.output.find('"', f) - f);
    const size_t t = d.output.find("\"to\":\"", at) + 6;
    EXPECT_EQ(from, d.output.substr(t, d.output.find('"', t) - t));
    ++cells;
    at = t;
  }
  EXPECT_GT(cells, 5u);
}

TEST_F(ReplayCliTest, DiffAgainstAReplayUsesTheReplaysRules) {
  const std::string out = tmp_.File("vip");
  Replay(absl::StrCat("--rules ", kVipRules, " --out ", out));
  Result d = Crm(absl::StrCat(D(), " diff ", data_, " ", out,
                              " --dimension value_tier --to VIP"));
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_NE(d.output.find("A: " + data_ + " (rules 2026-12-default"),
            std::string::npos)
      << d.output;
  EXPECT_NE(d.output.find("B: " + out + " (rules 2026-12-vip-500k"),
            std::string::npos)
      << d.output;
  Result bad = Crm(absl::StrCat("diff ", data_, " ", out, " --dimension x"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

TEST_F(ReplayCliTest,
       BacktestCountsEveryTransactedCustomerOnceAndNamesBadFlags) {
  Result r = Crm(absl::StrCat(D(),
                              " --json backtest --cutoff "
                              "2024-06-30T23:59:59Z --horizon 90d"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Per ABC class the customers add up to the total.
  int64_t total = 0, sum = 0;
  {
    const size_t at = r.output.find("\"customers\":") + 12;
    total = std::stoll(r.output.substr(at));
  }
  const size_t abc = r.output.find("\"abc\":[");
  const size_t end = r.output.find(']', abc);
  for (size_t at = r.output.find("\"customers\":", abc);
       at != std::string::npos && at < end;
       at = r.output.find("\"customers\":", at + 1)) {
    sum += std::stoll(r.output.substr(at + 12));
  }
  EXPECT_GT(total, 0) << r.output;
  EXPECT_EQ(sum, total) << r.output;
  EXPECT_NE(r.output.find("\"precision\":"), std::string::npos);
  Result bad = Crm(absl::StrCat(D(),
                                " backtest --cutoff 2024-06-30T23:59:59Z "
                                "--horizon soon"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--horizon"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace crm
