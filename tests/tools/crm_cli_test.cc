// End-to-end tests of the crm program: ingest, run, status, checkpoint and
// restore, export and import, as a user runs them.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

// Splits a generated history in two files at a line.
void GenerateHalves(const testing::TempDir& tmp, std::string* first,
                    std::string* second) {
  const std::string all = tmp.File("all.jsonl");
  ASSERT_EQ(Crm(absl::StrCat("generate --customers 200 --months 12 --seed 3 "
                             "--out ",
                             all))
                .exit_code,
            0);
  std::vector<std::string> lines =
      absl::StrSplit(testing::ReadFile(all), '\n', absl::SkipEmpty());
  const size_t half = lines.size() / 2;
  std::string a, b;
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::StrAppend(i < half ? &a : &b, lines[i], "\n");
  }
  *first = tmp.File("first.jsonl");
  *second = tmp.File("second.jsonl");
  testing::WriteFile(*first, a);
  testing::WriteFile(*second, b);
}

TEST(CrmCliTest, CheckpointAndRestoreReplayOnlyTheTail) {
  testing::TempDir tmp;
  std::string first, second;
  GenerateHalves(tmp, &first, &second);
  const std::string d1 = tmp.File("d1"), d2 = tmp.File("d2");
  const std::string cp = tmp.File("cp");
  ASSERT_EQ(
      Crm(absl::StrCat("--data-dir ", d1, " -q ingest ", first)).exit_code, 0);
  ASSERT_EQ(
      Crm(absl::StrCat("--data-dir ", d1, " run --exit-at-end")).exit_code, 0);
  Result c = Crm(absl::StrCat("--data-dir ", d1, " checkpoint --to ", cp));
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("checkpoint: partition 0 at offset"),
            std::string::npos);
  // A second checkpoint into the same folder is refused.
  EXPECT_EQ(
      Crm(absl::StrCat("--data-dir ", d1, " checkpoint --to ", cp)).exit_code,
      1);

  ASSERT_EQ(
      Crm(absl::StrCat("--data-dir ", d1, " -q ingest ", second)).exit_code, 0);
  Result full = Crm(absl::StrCat("--data-dir ", d1, " run --exit-at-end"));
  ASSERT_EQ(full.exit_code, 0) << full.output;

  // Another data directory with the same log gets the checkpoint and
  // replays only the second half.
  fs::create_directories(d2);
  fs::copy(d1 + "/log", d2 + "/log", fs::copy_options::recursive);
  Result r = Crm(absl::StrCat("--data-dir ", d2, " restore --from ", cp));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Result tail = Crm(absl::StrCat("--data-dir ", d2, " run --exit-at-end"));
  ASSERT_EQ(tail.exit_code, 0) << tail.output;
  const std::string applied_full =
      full.output.substr(5, full.output.find(' ', 5) - 5);
  const std::string applied_tail =
      tail.output.substr(5, tail.output.find(' ', 5) - 5);
  EXPECT_EQ(applied_tail, applied_full) << "the second run of d1 applied the "
                                           "second half only, as d2 must";
  EXPECT_EQ(testing::DumpStores(d2 + "/store/crm.events"),
            testing::DumpStores(d1 + "/store/crm.events"));
  // Restoring over existing stores needs --force.
  EXPECT_EQ(
      Crm(absl::StrCat("--data-dir ", d2, " restore --from ", cp)).exit_code,
      1);
}

TEST(CrmCliTest, StatusReportsLagThenNone) {
  testing::TempDir tmp;
  std::string first, second;
  GenerateHalves(tmp, &first, &second);
  const std::string d = tmp.File("d");
  ASSERT_EQ(
      Crm(absl::StrCat("--data-dir ", d, " -q ingest ", first, " ", second))
          .exit_code,
      0);
  Result before = Crm(absl::StrCat("--data-dir ", d, " --json status"));
  ASSERT_EQ(before.exit_code, 0) << before.output;
  EXPECT_NE(before.output.find("\"appliedOffset\":-1"), std::string::npos)
      << before.output;
  EXPECT_EQ(before.output.find("\"lag\":0,\"customers\":0,"),
            std::string::npos);
  ASSERT_EQ(Crm(absl::StrCat("--data-dir ", d, " run --exit-at-end")).exit_code,
            0);
  Result after = Crm(absl::StrCat("--data-dir ", d, " --json status"));
  ASSERT_EQ(after.exit_code, 0) << after.output;
  EXPECT_NE(after.output.find("],\"records\":"), std::string::npos);
  // As many customers as distinct customer ids in the input.
  std::set<std::string> ids;
  for (absl::string_view line :
       absl::StrSplit(testing::ReadFile(first) + testing::ReadFile(second),
                      '\n', absl::SkipEmpty())) {
    const size_t at = line.find("\"customerId\":\"") + 14;
    ids.insert(std::string(line.substr(at, line.find('"', at) - at)));
  }
  EXPECT_NE(after.output.find(
                absl::StrCat(",\"lag\":0,\"customers\":", ids.size(), ",")),
            std::string::npos)
      << after.output << " expected " << ids.size();
}

TEST(CrmCliTest, RunWithoutALogSaysWhatToDo) {
  testing::TempDir tmp;
  Result r =
      Crm(absl::StrCat("--data-dir ", tmp.File("empty"), " run --exit-at-end"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no event log for topic crm.events"),
            std::string::npos)
      << r.output;
}

TEST(CrmCliTest, ExportThenImportElsewhereGivesTheSameViews) {
  testing::TempDir tmp;
  std::string first, second;
  GenerateHalves(tmp, &first, &second);
  const std::string d1 = tmp.File("d1"), d2 = tmp.File("d2");
  const std::string archive = tmp.File("events.archive");
  ASSERT_EQ(
      Crm(absl::StrCat("--data-dir ", d1, " -q ingest ", first, " ", second))
          .exit_code,
      0);
  ASSERT_EQ(
      Crm(absl::StrCat("--data-dir ", d1, " export --to ", archive)).exit_code,
      0);
  ASSERT_EQ(Crm(absl::StrCat("--data-dir ", d2, " import ", archive)).exit_code,
            0);
  ASSERT_EQ(
      Crm(absl::StrCat("--data-dir ", d1, " run --exit-at-end")).exit_code, 0);
  ASSERT_EQ(
      Crm(absl::StrCat("--data-dir ", d2, " run --exit-at-end")).exit_code, 0);
  EXPECT_EQ(testing::DumpStores(d2 + "/store/crm.events"),
            testing::DumpStores(d1 + "/store/crm.events"));
}

}  // namespace
}  // namespace crm
