// Runs the built `crm` program: `crm generate` end to end.

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "tools/generator/generator.h"
#include "tools/generator/json_writer.h"

namespace crm::generator {
namespace {

struct Result {
  int exit_code = -1;
  std::string out;
};

Result RunGenerate(const std::string& args) {
  Result r;
  const std::string cmd =
      std::string(CRM_BINARY_PATH) + " generate " + args + " 2>/dev/null";
  std::FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string Library(int64_t customers, int months, uint64_t seed) {
  GeneratorOptions o;
  o.customers = customers;
  o.months = months;
  o.seed = seed;
  auto gen = Generator::Create(o);
  EXPECT_TRUE(gen.ok());
  std::string s;
  crm::v1::Envelope e;
  while ((*gen)->Next(&e)) {
    AppendEnvelopeJson(e, &s);
    s.push_back('\n');
  }
  return s;
}

// Where two outputs first differ (gtest would print megabytes otherwise).
size_t FirstDifference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

size_t Lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(GenerateCommandTest, WritesDeterministicJsonLines) {
  const Result a = RunGenerate("--customers 40 --months 4 --seed 3");
  ASSERT_EQ(a.exit_code, 0);
  const std::string expected = Library(40, 4, 3);
  EXPECT_EQ(Lines(a.out), Lines(expected));
  EXPECT_GT(Lines(a.out), 100u);
  EXPECT_TRUE(a.out == expected)
      << "differs at byte " << FirstDifference(a.out, expected);
  const Result b = RunGenerate("--customers 40 --months 4 --seed 3");
  EXPECT_TRUE(a.out == b.out) << FirstDifference(a.out, b.out);
  const Result c = RunGenerate("--customers 40 --months 4 --seed 4");
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_FALSE(a.out == c.out);
}

TEST(GenerateCommandTest, OutFileAndBinaryFormat) {
  crm::testing::TempDir dir;
  const std::string file = dir.File("events.jsonl");
  const Result a =
      RunGenerate("--customers 25 --months 3 --seed 8 --out " + file);
  ASSERT_EQ(a.exit_code, 0);
  EXPECT_TRUE(a.out.empty());
  EXPECT_TRUE(crm::testing::ReadFile(file) == Library(25, 3, 8));

  const Result bin =
      RunGenerate("--customers 25 --months 3 --seed 8 --format binary");
  ASSERT_EQ(bin.exit_code, 0);
  // Varint length, then the Envelope; as many records as JSON lines.
  size_t pos = 0, records = 0;
  while (pos < bin.out.size()) {
    uint64_t len = 0;
    int shift = 0;
    while (true) {
      ASSERT_LT(pos, bin.out.size());
      const auto byte = static_cast<unsigned char>(bin.out[pos++]);
      len |= static_cast<uint64_t>(byte & 0x7f) << shift;
      shift += 7;
      if (!(byte & 0x80)) break;
    }
    ASSERT_LE(pos + len, bin.out.size());
    crm::v1::Envelope e;
    ASSERT_TRUE(e.ParseFromArray(bin.out.data() + pos, static_cast<int>(len)));
    ASSERT_FALSE(e.event_id().empty());
    pos += len;
    ++records;
  }
  EXPECT_EQ(records, Lines(Library(25, 3, 8)));
}

TEST(GenerateCommandTest, BadFlagsAreUsageErrors) {
  EXPECT_EQ(RunGenerate("--customers 0").exit_code, 2);
  EXPECT_EQ(RunGenerate("--months 1000").exit_code, 2);
  EXPECT_EQ(RunGenerate("--start 2024-13-01").exit_code, 2);
  EXPECT_EQ(RunGenerate("--currency dollars").exit_code, 2);
  EXPECT_EQ(RunGenerate("--format xml").exit_code, 2);
  EXPECT_EQ(
      RunGenerate("--customers 5 --out /nonexistent-dir/x.jsonl").exit_code, 3);
  EXPECT_EQ(RunGenerate("--help").exit_code, 0);
}

}  // namespace
}  // namespace crm::generator
