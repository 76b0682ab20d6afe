// End-to-end tests of crm regrade, stats and top, as a user runs them:
// generate, ingest, run, then the population pass and the read commands.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/store/partition_store.h"
#include "gtest/gtest.h"
#include "tests/testing/run_crm.h"
#include "tests/testing/store_dump.h"
#include "tests/testing/temp_dir.h"

namespace crm {
namespace {

namespace fs = std::filesystem;

using Result = testing::CrmResult;

Result Crm(const std::string& args) {
  return testing::RunCrm(CRM_BINARY_PATH, args);
}

// The integer right after `key` (e.g. "\"customers\":") in `json`; fails
// the test and returns -1 when absent.
int64_t IntAfter(const std::string& json, const std::string& key) {
  const size_t at = json.find(key);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no " << key << " in " << json;
    return -1;
  }
  const size_t from = at + key.size();
  size_t end = from;
  while (end < json.size() && (json[end] == '-' || isdigit(json[end]))) ++end;
  int64_t v = -1;
  EXPECT_TRUE(absl::SimpleAtoi(json.substr(from, end - from), &v)) << key;
  return v;
}

std::string StringAfter(const std::string& json, const std::string& key) {
  const size_t at = json.find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size() + 1;  // past the opening quote
  return json.substr(from, json.find('"', from) - from);
}

class RegradeCliTest : public ::testing::Test {
 protected:
  // A generated history ingested and projected into data_.
  void SetUp() override {
    input_ = tmp_.File("events.jsonl");
    data_ = tmp_.File("data");
    const auto r = testing::ProjectGeneratedHistory(
        CRM_BINARY_PATH, "--customers 200 --months 12 --seed 3", input_, data_);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  std::string D() const { return absl::StrCat("--data-dir ", data_); }

  size_t DistinctCustomers() const {
    std::set<std::string> ids;
    for (absl::string_view line :
         absl::StrSplit(testing::ReadFile(input_), '\n', absl::SkipEmpty())) {
      const size_t at = line.find("\"customerId\":\"") + 14;
      ids.insert(std::string(line.substr(at, line.find('"', at) - at)));
    }
    return ids.size();
  }

  testing::TempDir tmp_;
  std::string input_, data_;
};

TEST_F(RegradeCliTest, RegradeClassifiesEveryCustomerOnceAndKeepsOffsets) {
  const Result status_before = Crm(absl::StrCat(D(), " --json status"));
  ASSERT_EQ(status_before.exit_code, 0) << status_before.output;
  const Result r = Crm(absl::StrCat(D(), " --json regrade"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const int64_t customers = IntAfter(r.output, "\"customers\":");
  EXPECT_EQ(customers, static_cast<int64_t>(DistinctCustomers()));
  EXPECT_EQ(IntAfter(r.output, "\"abc\":{\"A\":") +
                IntAfter(r.output, ",\"B\":") + IntAfter(r.output, ",\"C\":") +
                IntAfter(r.output, ",\"none\":"),
            customers);
  EXPECT_EQ(IntAfter(r.output, "\"classes\":{\"key\":") +
                IntAfter(r.output, ",\"ordinary\":") +
                IntAfter(r.output, ",\"special\":"),
            IntAfter(r.output, "\"transacted\":"));
  const int64_t transitions = IntAfter(r.output, "\"transitions\":");
  EXPECT_GT(transitions, 0);
  EXPECT_GT(IntAfter(r.output, "\"customersChanged\":"), 0);

  // The record of the pass, under its as-of and as latest.
  const std::string as_of = StringAfter(r.output, "\"asOf\":");
  const std::string dir = data_ + "/population/crm.events";
  EXPECT_TRUE(fs::exists(absl::StrCat(dir, "/", as_of, ".binpb"))) << as_of;
  EXPECT_TRUE(fs::exists(dir + "/latest.binpb"));

  // Offsets (and everything else status shows) are unchanged.
  EXPECT_EQ(Crm(absl::StrCat(D(), " --json status")).output,
            status_before.output);

  // Again at the same as-of: nothing changes, nothing is emitted.
  const Result again = Crm(absl::StrCat(D(), " --json regrade"));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(IntAfter(again.output, "\"customersChanged\":"), 0);
  EXPECT_EQ(IntAfter(again.output, "\"transitions\":"), 0);
  EXPECT_EQ(StringAfter(again.output, "\"resultDigest\":"),
            StringAfter(r.output, "\"resultDigest\":"));

  // The next projector run publishes the pass's transitions.
  const int64_t published_before =
      IntAfter(status_before.output, "\"transitions\":");
  ASSERT_EQ(Crm(absl::StrCat(D(), " run --exit-at-end")).exit_code, 0);
  const Result status_after = Crm(absl::StrCat(D(), " --json status"));
  EXPECT_EQ(IntAfter(status_after.output, "\"transitions\":"),
            published_before + transitions)
      << status_after.output;
}

TEST_F(RegradeCliTest, StatsCountsMatchTheInputAndThePass) {
  const Result pass = Crm(absl::StrCat(D(), " --json regrade"));
  ASSERT_EQ(pass.exit_code, 0) << pass.output;
  const Result s = Crm(absl::StrCat(D(), " --json stats"));
  ASSERT_EQ(s.exit_code, 0) << s.output;
  const int64_t customers = IntAfter(s.output, "\"customers\":");
  EXPECT_EQ(customers, static_cast<int64_t>(DistinctCustomers()));
  EXPECT_EQ(IntAfter(s.output, "\"transacted\":") +
                IntAfter(s.output, "\"prospects\":"),
            customers);
  // Same as-of as the pass: its ABC classes are exactly the customers
  // with window revenue.
  EXPECT_EQ(StringAfter(s.output, "\"asOf\":"),
            StringAfter(pass.output, "\"asOf\":"));
  const size_t abc = s.output.find("\"abc\":{");
  ASSERT_NE(abc, std::string::npos);
  const std::string abc_json =
      s.output.substr(abc, s.output.find('}', abc) - abc);
  EXPECT_EQ(IntAfter(abc_json, "\"A\":") + IntAfter(abc_json, "\"B\":") +
                IntAfter(abc_json, "\"C\":"),
            IntAfter(s.output, "\"withWindowRevenue\":"));
  EXPECT_EQ(IntAfter(abc_json, "\"A\":"),
            IntAfter(pass.output, "\"abc\":{\"A\":"));
  // The funnel holds every customer once.
  const size_t lc = s.output.find("\"lifecycle\":{");
  ASSERT_NE(lc, std::string::npos);
  const std::string lc_json = s.output.substr(lc, s.output.find('}', lc) - lc);
  int64_t funnel = 0;
  for (absl::string_view part : absl::StrSplit(lc_json, ',')) {
    const size_t colon = part.rfind(':');
    int64_t n = 0;
    ASSERT_TRUE(absl::SimpleAtoi(part.substr(colon + 1), &n)) << part;
    funnel += n;
  }
  EXPECT_EQ(funnel, customers);

  // The text form is a table with the same total.
  const Result text = Crm(absl::StrCat(D(), " stats"));
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("lifecycle funnel"), std::string::npos);
  EXPECT_NE(text.output.find(absl::StrCat(customers,
                                          " customers in 8 "
                                          "partition store(s)")),
            std::string::npos)
      << text.output;
}

TEST_F(RegradeCliTest, TopAtRiskListsOnlyAtRiskOrChurnedByRevenue) {
  const Result t =
      Crm(absl::StrCat(D(), " --json top --by at-risk --limit 10"));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  int rows = 0;
  int64_t previous = INT64_MAX;
  for (size_t at = t.output.find("\"rank\":"); at != std::string::npos;
       at = t.output.find("\"rank\":", at + 1)) {
    const std::string row = t.output.substr(at, t.output.find('}', at) - at);
    const std::string stage = StringAfter(row, "\"stage\":");
    EXPECT_TRUE(stage == "AT_RISK" || stage == "CHURNED") << row;
    const int64_t revenue = IntAfter(row, "\"revenueWindowMinor\":");
    EXPECT_LE(revenue, previous) << row;
    previous = revenue;
    ++rows;
  }
  EXPECT_GT(rows, 0) << t.output;
  EXPECT_LE(rows, 10);

  const Result by_revenue = Crm(absl::StrCat(D(), " --json top --limit 3"));
  ASSERT_EQ(by_revenue.exit_code, 0) << by_revenue.output;
  EXPECT_NE(by_revenue.output.find("\"rank\":3,"), std::string::npos);
  EXPECT_EQ(by_revenue.output.find("\"rank\":4,"), std::string::npos);
  EXPECT_EQ(Crm(absl::StrCat(D(), " top --by size")).exit_code, 2);
}

TEST_F(RegradeCliTest, EarlierAsOfIsRejectedAndWritesNothing) {
  const Result r =
      Crm(absl::StrCat(D(), " regrade --as-of 2000-01-01T00:00:00Z"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is before the state of customer"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(data_ + "/population"));
  EXPECT_EQ(Crm(absl::StrCat(D(), " regrade --as-of yesterday")).exit_code, 2);
}

// A replay that runs the same pass at the same log position gets the same
// stores and the same record, byte for byte, also after later events.
TEST_F(RegradeCliTest, RegradeWhileAStoreIsHeldSaysToStopTheProjector) {
  // This process holds partition 3's store, as a running `crm run` would.
  store::StoreResources resources{store::StoreOptions{}};
  auto held = store::PartitionStore::Open(
      resources, data_ + "/store/crm.events/p-0003", 3);
  ASSERT_TRUE(held.ok()) << held.status();
  const Result r = Crm(absl::StrCat(D(), " regrade"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("p-0003 is in use by a running projector (crm "
                          "run): stop it"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(data_ + "/population"));
  // The read-only commands work meanwhile.
  const Result s = Crm(absl::StrCat(D(), " --json stats"));
  EXPECT_EQ(s.exit_code, 0) << s.output;
  EXPECT_EQ(IntAfter(s.output, "\"customers\":"),
            static_cast<int64_t>(DistinctCustomers()));
}

TEST(RegradeCliReplayTest, SamePassAtTheSameOffsetsReproducesTheStores) {
  testing::TempDir tmp;
  const std::string all = tmp.File("all.jsonl");
  ASSERT_EQ(Crm(absl::StrCat("generate --customers 150 --months 12 --seed 9 "
                             "--out ",
                             all))
                .exit_code,
            0);
  std::vector<std::string> lines =
      absl::StrSplit(testing::ReadFile(all), '\n', absl::SkipEmpty());
  std::string a, b;
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::StrAppend(i < lines.size() / 2 ? &a : &b, lines[i], "\n");
  }
  const std::string first = tmp.File("first.jsonl");
  const std::string second = tmp.File("second.jsonl");
  testing::WriteFile(first, a);
  testing::WriteFile(second, b);
  for (const std::string& d : {tmp.File("d1"), tmp.File("d2")}) {
    const std::string dd = absl::StrCat("--data-dir ", d);
    ASSERT_EQ(Crm(absl::StrCat(dd, " -q ingest ", first)).exit_code, 0);
    ASSERT_EQ(Crm(absl::StrCat(dd, " run --exit-at-end")).exit_code, 0);
    const Result r = Crm(absl::StrCat(dd, " regrade"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_EQ(Crm(absl::StrCat(dd, " -q ingest ", second)).exit_code, 0);
    ASSERT_EQ(Crm(absl::StrCat(dd, " run --exit-at-end")).exit_code, 0);
  }
  EXPECT_EQ(testing::DumpStores(tmp.File("d2") + "/store/crm.events"),
            testing::DumpStores(tmp.File("d1") + "/store/crm.events"));
  const std::string latest = "/population/crm.events/latest.binpb";
  EXPECT_FALSE(testing::ReadFile(tmp.File("d1") + latest).empty());
  EXPECT_EQ(testing::ReadFile(tmp.File("d2") + latest),
            testing::ReadFile(tmp.File("d1") + latest));
}

TEST(RegradeCliNoStoreTest, SaysWhatToDo) {
  testing::TempDir tmp;
  const Result r =
      Crm(absl::StrCat("--data-dir ", tmp.File("empty"), " regrade"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no partition stores in"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("crm run"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace crm
