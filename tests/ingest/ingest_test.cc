#include "engine/ingest/ingest.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/event/codec.h"
#include "engine/log/embedded_log.h"
#include "engine/store/partition_store.h"
#include "engine/task/worker.h"
#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "tests/testing/temp_dir.h"
#include "tools/generator/generator.h"

namespace crm::ingest {
namespace {

// A generated history as JSON lines.
std::string GeneratedJsonl(int customers, int months, uint64_t seed) {
  generator::GeneratorOptions options;
  options.customers = customers;
  options.months = months;
  options.seed = seed;
  auto gen = *generator::Generator::Create(options);
  std::string out;
  v1::Envelope e;
  while (gen->Next(&e)) absl::StrAppend(&out, *event::EncodeJson(e), "\n");
  return out;
}

// Every record of every partition, as "partition/offset key value-bytes".
std::vector<std::string> Contents(log::EventLog& log) {
  std::vector<std::string> out;
  for (int32_t p = 0; p < log.partitions(); ++p) {
    auto reader = *log.OpenReader(p, 0);
    std::vector<log::LogRecord> batch;
    while (*reader->Poll(&batch, 1000, absl::ZeroDuration()) > 0) {
      for (const auto& r : batch) {
        out.push_back(absl::StrCat(p, "/", r.offset, " ", r.key, " ", r.value));
      }
      batch.clear();
    }
  }
  return out;
}

int64_t TotalEnd(log::EventLog& log) {
  int64_t n = 0;
  for (int32_t p = 0; p < log.partitions(); ++p) n += *log.EndOffset(p);
  return n;
}

class IngestTest : public ::testing::Test {
 protected:
  std::unique_ptr<log::EmbeddedLog> OpenLog(const std::string& name) {
    log::EmbeddedLogOptions options;
    options.partitions = 4;
    return *log::EmbeddedLog::Open(tmp_.File(name), options);
  }
  testing::TempDir tmp_;
};

TEST_F(IngestTest, ValidFileIsAppendedInOrderPerCustomer) {
  const std::string path = tmp_.File("events.jsonl");
  testing::WriteFile(path, GeneratedJsonl(30, 6, 1));
  auto log = OpenLog("log");
  auto result = IngestFile(path, *log);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->rejected);
  EXPECT_TRUE(result->rejections.empty());
  EXPECT_GT(result->records, 100);
  EXPECT_EQ(result->appended, result->records);
  EXPECT_EQ(TotalEnd(*log), result->records);
  // Each customer lives on one partition, its events in file order.
  std::map<std::string, int64_t> last_time;
  std::map<std::string, int32_t> home;
  for (int32_t p = 0; p < log->partitions(); ++p) {
    auto reader = *log->OpenReader(p, 0);
    std::vector<log::LogRecord> batch;
    while (*reader->Poll(&batch, 1000, absl::ZeroDuration()) > 0) {
      for (const auto& r : batch) {
        auto e = *event::DecodeBinary(r.value);
        EXPECT_EQ(r.key, e.customer_id());
        auto [it, fresh] = home.emplace(r.key, p);
        EXPECT_EQ(it->second, p);
        EXPECT_GE(e.occurred_at().seconds(), last_time[r.key]);
        last_time[r.key] = e.occurred_at().seconds();
      }
      batch.clear();
    }
  }
  EXPECT_EQ(home.size(), 30u);
}

// The bad-input corpus: each line is wrong in one way; every one is
// reported with its line and nothing of the file is written.
TEST_F(IngestTest, BadRecordsRejectTheWholeFileAndWriteNothing) {
  const std::string good = GeneratedJsonl(3, 2, 2);
  const std::string first_good = good.substr(0, good.find('\n'));
  std::string bad = good;
  bad += "\n";                                            // empty line
  bad += "{\"eventId\": \"e1\", \n";                      // invalid JSON
  bad += "{\"eventId\": 17}\n";                           // wrong type
  bad += "{\"eventId\": \"e2\", \"colour\": \"red\"}\n";  // unknown field
  bad += "{\"eventId\": \"" + std::string(2 << 20, 'x') + "\"}\n";  // big
  bad += "{\"eventId\": \"\xff\xfe\"}\n";  // invalid UTF-8
  const std::string path = tmp_.File("bad.jsonl");
  testing::WriteFile(path, bad);
  const int64_t good_lines = std::count(good.begin(), good.end(), '\n');

  auto log = OpenLog("log");
  auto result = IngestFile(path, *log);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->rejected);
  EXPECT_EQ(result->appended, 0);
  EXPECT_EQ(TotalEnd(*log), 0);
  ASSERT_EQ(result->rejections.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(result->rejections[i].source, path);
    EXPECT_EQ(result->rejections[i].line, good_lines + 1 + i);
    EXPECT_FALSE(result->rejections[i].message.empty());
  }
  EXPECT_EQ(result->rejections[0].message,
            "empty line, expected a JSON object");
  EXPECT_NE(result->rejections[3].message.find("colour"), std::string::npos)
      << result->rejections[3].message;
  EXPECT_NE(result->rejections[4].message.find("1048576"), std::string::npos)
      << result->rejections[4].message;
}

TEST_F(IngestTest, SkipInvalidWritesTheGoodOnes) {
  std::string text = GeneratedJsonl(3, 2, 3);
  const int64_t good_lines = std::count(text.begin(), text.end(), '\n');
  text += "{\"eventId\": 17}\n";
  const std::string path = tmp_.File("mixed.jsonl");
  testing::WriteFile(path, text);
  auto log = OpenLog("log");
  IngestOptions options;
  options.skip_invalid = true;
  auto result = IngestFile(path, *log, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->rejected);
  EXPECT_EQ(result->appended, good_lines);
  EXPECT_EQ(TotalEnd(*log), good_lines);
  ASSERT_EQ(result->rejections.size(), 1u);
  EXPECT_EQ(result->rejections[0].line, good_lines + 1);
}

TEST_F(IngestTest, SpoolingGivesTheSameLogAsMemory) {
  const std::string path = tmp_.File("events.jsonl");
  testing::WriteFile(path, GeneratedJsonl(20, 4, 4));
  auto in_memory = OpenLog("memory");
  ASSERT_TRUE(IngestFile(path, *in_memory).ok());
  auto spooled = OpenLog("spool");
  IngestOptions options;
  options.memory_budget_bytes = 1000;  // spill after a few events
  options.spool_dir = tmp_.path().string();
  options.append_batch = 7;
  auto result = IngestFile(path, *spooled, options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<std::string> a = Contents(*in_memory), b = Contents(*spooled);
  ASSERT_EQ(a.size(), b.size());
  // Offsets and bytes agree record for record.
  EXPECT_EQ(a, b);
}

TEST_F(IngestTest, MissingFileIsNotFound) {
  auto log = OpenLog("log");
  auto result = IngestFile(tmp_.File("nope.jsonl"), *log);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
}

// Re-ingesting the same file changes no view: the projector drops events
// whose event_id it has applied.
TEST_F(IngestTest, SameFileTwiceChangesNothingDownstream) {
  const std::string path = tmp_.File("events.jsonl");
  testing::WriteFile(path, GeneratedJsonl(25, 6, 6));
  const v1::Rules rules = projections::DefaultRules();
  store::StoreResources resources{store::StoreOptions{}};

  auto project = [&](const std::string& name, int times) {
    auto log = OpenLog(name + "-log");
    for (int i = 0; i < times; ++i) EXPECT_TRUE(IngestFile(path, *log).ok());
    task::WorkerOptions options;
    options.store_dir = tmp_.File(name + "-store");
    options.exit_at_end = true;
    int64_t duplicates = 0;
    {
      task::Worker worker(log.get(), &rules, &resources, options, nullptr,
                          nullptr);
      EXPECT_TRUE(worker.Run({}, nullptr).ok());
      for (const auto& p : worker.progress()) duplicates += p.stats.duplicates;
    }
    std::string customers;
    for (int32_t p = 0; p < log->partitions(); ++p) {
      auto s = *store::PartitionStore::Open(
          resources, task::PartitionStoreDir(options.store_dir, p), p);
      EXPECT_TRUE(
          s->ForEachCustomer([&](absl::string_view k, absl::string_view v) {
             absl::StrAppend(&customers, k, "=", v.size(), ":",
                             std::hash<std::string>()(std::string(v)), "\n");
             return absl::OkStatus();
           }).ok());
    }
    return std::make_pair(customers, duplicates);
  };
  auto [once, dup_once] = project("once", 1);
  auto [twice, dup_twice] = project("twice", 2);
  EXPECT_EQ(dup_once, 0);
  EXPECT_GT(dup_twice, 100);
  EXPECT_EQ(twice, once);
}

}  // namespace
}  // namespace crm::ingest
