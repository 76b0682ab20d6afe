// End-to-end tests of crm get, list and dump, as a user runs them: events
// ingested and projected, then the read commands, compared with the
// stores read directly and with a run over a prefix of the history.

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "crm/v1/views.pb.h"
#include "engine/population/population_pass.h"
#include "engine/query/query.h"
#include "engine/store/partition_store.h"
#include "engine/store/view_index.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "tests/testing/run_crm.h"
#include "tests/testing/temp_dir.h"

namespace crm {
namespace {

using google::protobuf::util::MessageDifferencer;
using Result = testing::CrmResult;

Result Crm(const std::string& args) {
  return testing::RunCrm(CRM_BINARY_PATH, args);
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

v1::CustomerViews ParseViews(const std::string& json) {
  v1::CustomerViews v;
  const auto s = google::protobuf::util::JsonStringToMessage(json, &v);
  EXPECT_TRUE(s.ok()) << s.ToString() << " in " << json;
  return v;
}

// Every stored customer's views, by id, read from the stores directly.
std::map<std::string, v1::CustomerViews> StoredViews(const std::string& data) {
  std::map<std::string, v1::CustomerViews> out;
  store::StoreResources resources(store::StoreOptions{});
  auto stores = population::OpenPartitionStores(
      resources, data + "/store/crm.events", /*read_only=*/true);
  EXPECT_TRUE(stores.ok()) << stores.status();
  if (!stores.ok()) return out;
  std::vector<store::PartitionStore*> raw;
  for (auto& s : *stores) raw.push_back(s.get());
  EXPECT_TRUE(
      query::ForEachCustomerById(raw, [&](int32_t,
                                          const v1::StoredCustomer& rec) {
        out[rec.state().customer_id()] = rec.state().views();
        return absl::OkStatus();
      }).ok());
  return out;
}

// Three hand-built customers: H1 registers and orders 1,500.00 USD; H2
// registers only (a prospect); H3 registers in another region.
constexpr char kHandBuilt[] =
    R"({"eventId":"h1-1","customerId":"H1","occurredAt":"2026-01-05T09:00:00Z","channel":"CHANNEL_API","actor":"t","schemaVersion":1,"customerRegistered":{"profile":{"name":"Alpha Ltd","region":"north","accountManager":"am-1"}}}
{"eventId":"h2-1","customerId":"H2","occurredAt":"2026-01-06T09:00:00Z","channel":"CHANNEL_API","actor":"t","schemaVersion":1,"customerRegistered":{"profile":{"name":"Beta GmbH","region":"north","accountManager":"am-2"}}}
{"eventId":"h1-2","customerId":"H1","occurredAt":"2026-01-10T10:00:00Z","channel":"CHANNEL_API","actor":"t","schemaVersion":1,"orderPlaced":{"orderId":"H1-O1","amount":{"minorUnits":"150000","currency":"USD"},"grossProfit":{"minorUnits":"30000","currency":"USD"},"quantity":1,"productCategory":"furniture"}}
{"eventId":"h1-2","customerId":"H1","occurredAt":"2026-01-10T10:00:00Z","channel":"CHANNEL_API","actor":"t","schemaVersion":1,"orderPlaced":{"orderId":"H1-O1","amount":{"minorUnits":"150000","currency":"USD"},"grossProfit":{"minorUnits":"30000","currency":"USD"},"quantity":1,"productCategory":"furniture"}}
{"eventId":"h3-1","customerId":"H3","occurredAt":"2026-01-12T09:00:00Z","channel":"CHANNEL_API","actor":"t","schemaVersion":1,"customerRegistered":{"profile":{"name":"Gamma SA","region":"south","accountManager":"am-1"}}}
)";

class HandBuiltQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = tmp_.File("data");
    const std::string in = tmp_.File("events.jsonl");
    testing::WriteFile(in, kHandBuilt);
    ASSERT_EQ(Crm(absl::StrCat(D(), " -q ingest ", in)).exit_code, 0);
    ASSERT_EQ(Crm(absl::StrCat(D(), " run --exit-at-end")).exit_code, 0);
  }
  std::string D() const { return absl::StrCat("--data-dir ", data_); }

  testing::TempDir tmp_;
  std::string data_;
};

TEST_F(HandBuiltQueryTest, GetShowsTheSectionsWithExactValues) {
  const Result r = Crm(absl::StrCat(D(), " get H1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<std::string> lines = Lines(r.output);
  auto has = [&](const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  EXPECT_EQ(lines[0], "customer H1  Alpha Ltd");
  EXPECT_TRUE(has("  views as of              2026-01-10T10:00:00Z"))
      << r.output;
  EXPECT_TRUE(has("  region                   north")) << r.output;
  EXPECT_TRUE(has("  account manager          am-1")) << r.output;
  EXPECT_TRUE(has("  revenue lifetime         1,500.00 USD")) << r.output;
  // The second copy of h1-2 is a duplicate: one order.
  EXPECT_TRUE(
      has("  orders                   1 (first 2026-01-10T10:00:00Z, "
          "last 2026-01-10T10:00:00Z)"))
      << r.output;
  EXPECT_TRUE(has("  events applied           2")) << r.output;
  EXPECT_TRUE(
      has("  stage                    NEW  (first order less than 90 "
          "days ago)"))
      << r.output;
  for (const char* section : {"card", "satisfaction", "lifecycle"}) {
    EXPECT_TRUE(has(section)) << section << "\n" << r.output;
  }
}

TEST_F(HandBuiltQueryTest, UnknownCustomerHasItsOwnExitCode) {
  const Result r = Crm(absl::StrCat(D(), " get NOPE"));
  EXPECT_EQ(r.exit_code, 7) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "customer NOPE: not found"))
      << r.output;
  // Before its first event a customer is unknown too.
  const Result early =
      Crm(absl::StrCat(D(), " get H3 --as-of 2026-01-11T00:00:00Z"));
  EXPECT_EQ(early.exit_code, 7) << early.output;
}

TEST_F(HandBuiltQueryTest, ListFiltersAndSorts) {
  Result r = Crm(absl::StrCat(D(), " --json list --sort id"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> ids;
  for (const std::string& l : Lines(r.output)) {
    ids.push_back(ParseViews(l).card().customer_id());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"H1", "H2", "H3"}));

  r = Crm(absl::StrCat(D(), " --json list --region north --manager am-2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(Lines(r.output).size(), 1u) << r.output;
  EXPECT_EQ(ParseViews(Lines(r.output)[0]).card().customer_id(), "H2");

  r = Crm(absl::StrCat(D(), " --json list --stage new"));
  ASSERT_EQ(Lines(r.output).size(), 1u) << r.output;
  EXPECT_EQ(ParseViews(Lines(r.output)[0]).card().customer_id(), "H1");

  // By revenue: H1 first, then the prospects by id; --limit cuts.
  r = Crm(absl::StrCat(D(), " --json list --limit 2"));
  ASSERT_EQ(Lines(r.output).size(), 2u) << r.output;
  EXPECT_EQ(ParseViews(Lines(r.output)[0]).card().customer_id(), "H1");
  EXPECT_EQ(ParseViews(Lines(r.output)[1]).card().customer_id(), "H2");

  r = Crm(absl::StrCat(D(), " list --stage nonsense"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "--stage: expected one of"))
      << r.output;
}

TEST_F(HandBuiltQueryTest, DumpIsSortedAndEqualsTheStores) {
  const std::string out = tmp_.File("dump.jsonl");
  ASSERT_EQ(Crm(absl::StrCat(D(), " dump --out ", out)).exit_code, 0);
  const auto stored = StoredViews(data_);
  const std::vector<std::string> lines = Lines(testing::ReadFile(out));
  ASSERT_EQ(lines.size(), 3u);
  auto it = stored.begin();
  for (const std::string& l : lines) {
    const v1::CustomerViews v = ParseViews(l);
    EXPECT_TRUE(MessageDifferencer::Equals(v, it->second)) << it->first;
    ++it;
  }
}

// A generated history: the read commands against the stores and against a
// run over only the events up to a time.
class GeneratedQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    input_ = tmp_.File("events.jsonl");
    data_ = tmp_.File("data");
    const auto r = testing::ProjectGeneratedHistory(
        CRM_BINARY_PATH, "--customers 60 --months 8 --seed 5", input_, data_);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  std::string D() const { return absl::StrCat("--data-dir ", data_); }

  testing::TempDir tmp_;
  std::string input_, data_;
};

TEST_F(GeneratedQueryTest, GetJsonEqualsTheStoredViews) {
  const auto stored = StoredViews(data_);
  ASSERT_EQ(stored.size(), 60u);
  int checked = 0;
  for (const auto& [id, views] : stored) {
    if (checked++ % 7 != 0) continue;
    const Result r = Crm(absl::StrCat(D(), " --json get ", id));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(MessageDifferencer::Equals(ParseViews(r.output), views)) << id;
  }
}

// A store without its log (copied away, or a replay's output): get finds
// the customer by asking every store, and says what needs the log.
TEST_F(GeneratedQueryTest, GetWithoutTheLogAsksEveryStore) {
  const std::string copy = tmp_.File("copy");
  std::filesystem::create_directories(copy + "/store");
  std::filesystem::copy(data_ + "/store", copy + "/store",
                        std::filesystem::copy_options::recursive);
  ASSERT_FALSE(std::filesystem::exists(copy + "/log"));
  const std::string d = absl::StrCat("--data-dir ", copy);
  const auto stored = StoredViews(data_);
  int checked = 0;
  for (const auto& [id, views] : stored) {
    if (checked++ % 7 != 0) continue;
    const Result r = Crm(absl::StrCat(d, " --json get ", id));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(MessageDifferencer::Equals(ParseViews(r.output), views)) << id;
  }
  Result r = Crm(absl::StrCat(d, " get C9999999"));
  EXPECT_EQ(r.exit_code, 7) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "C9999999: not found in any store"))
      << r.output;
  r = Crm(absl::StrCat(d, " get ", stored.begin()->first,
                       " --as-of 2024-01-02T00:00:00Z"));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "needs the event log")) << r.output;
}

TEST_F(GeneratedQueryTest, DumpIsSortedAndComplete) {
  const Result r = Crm(absl::StrCat(D(), " dump"));
  ASSERT_EQ(r.exit_code, 0);
  const auto stored = StoredViews(data_);
  std::vector<std::string> ids;
  for (const std::string& l : Lines(r.output)) {
    const v1::CustomerViews v = ParseViews(l);
    ids.push_back(v.card().customer_id());
    EXPECT_TRUE(MessageDifferencer::Equals(v, stored.at(ids.back())));
  }
  EXPECT_EQ(ids.size(), 60u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
}

TEST_F(GeneratedQueryTest, AsOfEqualsALiveRunOverTheEventsUpToIt) {
  const std::string t = "2024-04-15T00:00:00Z";
  // The events up to t (the generator writes occurredAt in one format, so
  // text order is time order).
  std::string prefix;
  for (const std::string& l : Lines(testing::ReadFile(input_))) {
    const size_t at = l.find("\"occurredAt\":\"") + 14;
    if (l.substr(at, 20) <= t) absl::StrAppend(&prefix, l, "\n");
  }
  const std::string prefix_file = tmp_.File("prefix.jsonl");
  testing::WriteFile(prefix_file, prefix);
  const std::string data2 = tmp_.File("data2");
  const std::string d2 = absl::StrCat("--data-dir ", data2);
  ASSERT_EQ(Crm(absl::StrCat(d2, " -q ingest ", prefix_file)).exit_code, 0);
  ASSERT_EQ(Crm(absl::StrCat(d2, " run --exit-at-end")).exit_code, 0);
  const auto live = StoredViews(data2);
  ASSERT_GT(live.size(), 10u);
  int checked = 0;
  for (const auto& [id, views] : live) {
    if (checked++ % 4 != 0) continue;
    // Rebuilt from the full log, against the prefix run advanced to t.
    const Result rebuilt =
        Crm(absl::StrCat(D(), " --json get ", id, " --as-of ", t));
    const Result advanced =
        Crm(absl::StrCat(d2, " --json get ", id, " --as-of ", t));
    ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.output;
    ASSERT_EQ(advanced.exit_code, 0) << advanced.output;
    EXPECT_TRUE(MessageDifferencer::Equals(ParseViews(rebuilt.output),
                                           ParseViews(advanced.output)))
        << id << "\n"
        << rebuilt.output << "\n"
        << advanced.output;
  }
  // At or after the stored state the rebuild is not needed: --as-of at the
  // latest time equals the stored views of a customer whose last event it is.
}

TEST_F(GeneratedQueryTest, ListMatchesAFullScanForEveryFilter) {
  Result all = Crm(absl::StrCat(D(), " --json list --sort id --limit 100000"));
  ASSERT_EQ(all.exit_code, 0) << all.output;
  std::vector<v1::CustomerViews> views;
  for (const std::string& l : Lines(all.output)) views.push_back(ParseViews(l));
  ASSERT_EQ(views.size(), 60u);
  // Rows carry the whole histories, read back from the store (then what
  // advancing to the list's as-of added), scanned or served by an index.
  const auto stored = StoredViews(data_);
  auto starts_with_stored = [&](const v1::CustomerViews& v) {
    const v1::CustomerViews& s = stored.at(v.card().customer_id());
    if (v.grade().history_size() < s.grade().history_size() ||
        v.lifecycle().history_size() < s.lifecycle().history_size()) {
      return false;
    }
    for (int i = 0; i < s.grade().history_size(); ++i) {
      if (!MessageDifferencer::Equals(v.grade().history(i),
                                      s.grade().history(i))) {
        return false;
      }
    }
    for (int i = 0; i < s.lifecycle().history_size(); ++i) {
      if (!MessageDifferencer::Equals(v.lifecycle().history(i),
                                      s.lifecycle().history(i))) {
        return false;
      }
    }
    return true;
  };
  int with_history = 0;
  for (const v1::CustomerViews& v : views) {
    EXPECT_TRUE(starts_with_stored(v)) << v.card().customer_id();
    if (v.grade().history_size() > 0 && v.lifecycle().history_size() > 0) {
      ++with_history;
    }
  }
  EXPECT_GT(with_history, 40);
  const std::string region = views[0].card().profile().region();
  Result indexed = Crm(absl::StrCat(D(), " --json list --region ", region));
  ASSERT_EQ(indexed.exit_code, 0) << indexed.output;
  ASSERT_FALSE(Lines(indexed.output).empty());
  for (const std::string& l : Lines(indexed.output)) {
    const v1::CustomerViews v = ParseViews(l);
    EXPECT_TRUE(starts_with_stored(v)) << v.card().customer_id();
  }
  struct Case {
    std::string flags;
    query::ListFilter filter;
  };
  std::vector<Case> cases;
  auto add = [&](std::string flags, auto set) {
    Case c{std::move(flags), {}};
    set(c.filter);
    cases.push_back(std::move(c));
  };
  add("--tier small", [](auto& f) { f.value_tier = v1::VALUE_TIER_SMALL; });
  add("--prospect d", [](auto& f) { f.prospect_grade = v1::PROSPECT_GRADE_D; });
  add("--abc a", [](auto& f) { f.abc = v1::ABC_CLASS_A; });
  add("--value-class normal",
      [](auto& f) { f.value_class = v1::VALUE_CLASS_NORMAL; });
  add("--class key",
      [](auto& f) { f.customer_class = v1::CUSTOMER_CLASS_KEY; });
  add("--stage at_risk",
      [](auto& f) { f.stage = v1::LIFECYCLE_STAGE_AT_RISK; });
  add("--rfm champions",
      [](auto& f) { f.rfm_segment = v1::RFM_SEGMENT_CHAMPIONS; });
  add("--region north", [](auto& f) { f.region = "north"; });
  add("--manager am-005", [](auto& f) { f.account_manager = "am-005"; });
  add("--satisfaction-below 50", [](auto& f) { f.satisfaction_below = 50.0; });
  add("--follow-up-before 2024-09-01T00:00:00Z",
      [](auto& f) { f.follow_up_before = absl::FromUnixSeconds(1725148800); });
  add("--region north --tier small", [](auto& f) {
    f.region = "north";
    f.value_tier = v1::VALUE_TIER_SMALL;
  });
  int nonempty = 0;
  for (const Case& c : cases) {
    std::vector<std::string> want;
    for (const auto& v : views) {
      if (query::Matches(v, c.filter)) want.push_back(v.card().customer_id());
    }
    const Result r = Crm(
        absl::StrCat(D(), " --json list --sort id --limit 100000 ", c.flags));
    ASSERT_EQ(r.exit_code, 0) << c.flags << "\n" << r.output;
    std::vector<std::string> got;
    for (const std::string& l : Lines(r.output)) {
      got.push_back(ParseViews(l).card().customer_id());
    }
    EXPECT_EQ(got, want) << c.flags;
    if (!want.empty()) ++nonempty;
    // The same rows with the index forced off.
    const Result scan = Crm(absl::StrCat(
        D(), " --json list --sort id --limit 100000 --no-index ", c.flags));
    EXPECT_EQ(scan.output, r.output) << c.flags;
  }
  EXPECT_GE(nonempty, 8);  // the filters are not vacuous on this data
  // Reading an index in steps up to the limit (id sort) gives the first
  // rows of the scan, also when candidates fail the rest of the filter.
  for (const char* f :
       {"--region north", "--manager am-005", "--region north --stage at_risk",
        "--region south --tier small"}) {
    for (int limit : {1, 2, 3, 5}) {
      const std::string base =
          absl::StrCat(D(), " --json list --sort id --limit ", limit, " ", f);
      const Result indexed = Crm(base);
      ASSERT_EQ(indexed.exit_code, 0) << indexed.output;
      EXPECT_EQ(indexed.output, Crm(base + " --no-index").output)
          << f << " --limit " << limit;
    }
  }
}

// A list cut to a limit is the head of the whole list, for every sort,
// scanned or served by an index: the matches beyond twice the limit are
// dropped as they come (query::List), which must not change the rows.
TEST_F(GeneratedQueryTest, ListWithALimitIsTheHeadOfTheWholeList) {
  auto ids = [](const std::string& output) {
    std::vector<std::string> out;
    for (const std::string& l : Lines(output)) {
      out.push_back(ParseViews(l).card().customer_id());
    }
    return out;
  };
  int cut_short = 0;
  for (const char* sort : {"revenue", "at-risk", "satisfaction", "id"}) {
    for (const char* filter : {"", "--region north"}) {
      const std::string base =
          absl::StrCat(D(), " --json list --sort ", sort, " ", filter);
      const Result whole = Crm(base + " --limit 100000");
      ASSERT_EQ(whole.exit_code, 0) << whole.output;
      const std::vector<std::string> all = Lines(whole.output);
      ASSERT_GE(all.size(), 10u) << base;
      for (size_t limit : {1, 2, 3, 7}) {
        const std::string cmd = absl::StrCat(base, " --limit ", limit);
        const Result r = Crm(cmd);
        ASSERT_EQ(r.exit_code, 0) << r.output;
        const std::vector<std::string> head(all.begin(), all.begin() + limit);
        EXPECT_TRUE(Lines(r.output) == head)
            << cmd << ": got " << absl::StrJoin(ids(r.output), " ")
            << ", the whole list starts "
            << absl::StrJoin(ids(whole.output), " ");
        EXPECT_EQ(Crm(cmd + " --no-index").output, r.output) << cmd;
        if (all.size() >= 2 * limit + 16) ++cut_short;
      }
    }
  }
  EXPECT_GE(cut_short, 16);  // the lists are long enough to be cut
}

// Candidates read by two threads (query::List splits many of them) give
// the rows and counts of one thread, for every sort and limit.
TEST(ListThreadsTest, ListReadByTwoThreadsEqualsOneThread) {
  // Customers enough that each thread's half of a region is cut.
  testing::TempDir tmp;
  const std::string data = tmp.File("data");
  const auto made = testing::ProjectGeneratedHistory(
      CRM_BINARY_PATH, "--customers 400 --months 6 --seed 9",
      tmp.File("events.jsonl"), data);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  store::StoreResources resources(store::StoreOptions{});
  auto opened = population::OpenPartitionStores(
      resources, data + "/store/crm.events", /*read_only=*/true);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::vector<store::PartitionStore*> stores;
  for (auto& s : *opened) stores.push_back(s.get());
  const v1::Rules rules = projections::DefaultRules();
  int compared = 0;
  for (query::ListSort sort :
       {query::ListSort::kRevenue, query::ListSort::kAtRiskValue,
        query::ListSort::kSatisfaction}) {
    // Two regions served by their index, and scans: every customer, and
    // a filter no index serves.
    for (const char* region : {"north", "south", "", "scan:loyal"}) {
      for (size_t limit : {1, 3, 7, 1000}) {
        query::ListOptions o;
        const bool scan = absl::StartsWith(region, "scan") || !*region;
        if (!scan) o.filter.region = region;
        if (absl::StartsWith(region, "scan:")) {
          o.filter.stage = v1::LIFECYCLE_STAGE_LOYAL;
        }
        o.sort = sort;
        o.limit = limit;
        o.split_reading_at = SIZE_MAX;
        auto one = query::List(stores, rules, o);
        o.split_reading_at = 2;
        auto two = query::List(stores, rules, o);
        ASSERT_TRUE(one.ok()) << one.status();
        ASSERT_TRUE(two.ok()) << two.status();
        ASSERT_EQ(one->served_by,
                  scan ? "scan" : absl::StrCat("index region=", region));
        ASSERT_EQ(two->served_by, one->served_by);
        EXPECT_EQ(two->scanned, one->scanned);
        EXPECT_EQ(two->matched, one->matched);
        ASSERT_EQ(two->rows.size(), one->rows.size()) << region << limit;
        for (size_t i = 0; i < one->rows.size(); ++i) {
          EXPECT_TRUE(MessageDifferencer::Equals(two->rows[i], one->rows[i]))
              << region << " limit " << limit << " row " << i;
        }
        if (one->scanned >= 2 * (2 * limit + 16)) ++compared;
      }
    }
  }
  EXPECT_GE(compared, 24);  // enough candidates for the cut on each side
}

// Index keys in the stores equal exactly the keys of the stored records
// (no stale entry, none missing), and each record lists its own.
void ExpectIndexConsistent(const std::string& data) {
  store::StoreResources resources(store::StoreOptions{});
  auto stores = population::OpenPartitionStores(
      resources, data + "/store/crm.events", /*read_only=*/true);
  ASSERT_TRUE(stores.ok()) << stores.status();
  for (auto& s : *stores) {
    ASSERT_TRUE(s->index_ready());
    std::vector<std::string> want, got;
    ASSERT_TRUE(
        s->ForEachCustomer([&](absl::string_view, absl::string_view value) {
           v1::StoredCustomer rec;
           EXPECT_TRUE(rec.ParseFromArray(value.data(),
                                          static_cast<int>(value.size())));
           const auto keys = store::IndexKeysOf(rec.state());
           EXPECT_EQ(std::vector<std::string>(rec.index_keys().begin(),
                                              rec.index_keys().end()),
                     keys)
               << rec.state().customer_id();
           want.insert(want.end(), keys.begin(), keys.end());
           return absl::OkStatus();
         }).ok());
    ASSERT_TRUE(s->ForEachIndexKey("", [&](absl::string_view k) {
                   got.emplace_back(k);
                   return true;
                 }).ok());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << "partition " << s->partition();
  }
}

TEST_F(GeneratedQueryTest, IndexesFollowRegradesAndNewEvents) {
  ASSERT_EQ(Crm(absl::StrCat(D(), " regrade")).exit_code, 0);
  ExpectIndexConsistent(data_);
  const auto before = StoredViews(data_);
  // More history for the same customers: revenue moves, ABC and RFM move.
  const std::string more = tmp_.File("more.jsonl");
  ASSERT_EQ(Crm(absl::StrCat("generate --customers 60 --months 10 --seed 9 "
                             "--out ",
                             more))
                .exit_code,
            0);
  ASSERT_EQ(Crm(absl::StrCat(D(), " -q ingest ", more)).exit_code, 0);
  ASSERT_EQ(Crm(absl::StrCat(D(), " run --exit-at-end")).exit_code, 0);
  ASSERT_EQ(Crm(absl::StrCat(D(), " regrade")).exit_code, 0);
  ExpectIndexConsistent(data_);
  const auto after = StoredViews(data_);
  int moved = 0;
  for (const auto& [id, v] : after) {
    if (before.count(id) && before.at(id).grade().abc() != v.grade().abc()) {
      ++moved;
    }
  }
  EXPECT_GT(moved, 0);
  for (const char* f :
       {"--abc a", "--abc b", "--abc c", "--rfm champions", "--rfm hibernating",
        "--region north", "--manager am-003 --abc a"}) {
    const std::string base =
        absl::StrCat(D(), " --json list --sort id --limit 100000 ", f);
    const Result indexed = Crm(base);
    const Result scan = Crm(base + " --no-index");
    ASSERT_EQ(indexed.exit_code, 0) << indexed.output;
    EXPECT_EQ(indexed.output, scan.output) << f;
  }
  // A customer that left A is not listed under A.
  const Result a = Crm(absl::StrCat(D(), " --json list --abc a --limit 1000"));
  for (const std::string& l : Lines(a.output)) {
    EXPECT_EQ(ParseViews(l).grade().abc(), v1::ABC_CLASS_A);
  }
  const Result human = Crm(absl::StrCat(D(), " list --abc a --limit 2"));
  EXPECT_TRUE(absl::StrContains(human.output, "(index abc=1)")) << human.output;
}

TEST_F(GeneratedQueryTest, ReadCommandsWorkWhileAWorkerHoldsTheStores) {
  // Hold every store open read-write, as `crm run` does.
  store::StoreResources resources(store::StoreOptions{});
  auto held = population::OpenPartitionStores(
      resources, data_ + "/store/crm.events", /*read_only=*/false);
  ASSERT_TRUE(held.ok()) << held.status();
  const std::string id = StoredViews(data_).begin()->first;
  EXPECT_EQ(Crm(absl::StrCat(D(), " get ", id)).exit_code, 0);
  EXPECT_EQ(Crm(absl::StrCat(D(), " list --limit 3")).exit_code, 0);
  const Result dump = Crm(absl::StrCat(D(), " dump"));
  EXPECT_EQ(dump.exit_code, 0) << dump.output.substr(0, 500);
  EXPECT_EQ(Lines(dump.output).size(), 60u);
}

}  // namespace
}  // namespace crm
