// Runs the built `crm` program: `crm validate` on files with deliberately
// broken records must report one line per bad record, naming the line and
// the field, and exit with the documented code.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "absl/strings/str_split.h"
#include "engine/base/exit_codes.h"
#include "engine/event/codec.h"
#include "gtest/gtest.h"
#include "tests/testing/event_builders.h"
#include "tests/testing/temp_dir.h"

namespace crm::event {
namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
};

// Runs `crm <args>` with stderr sent to `err_file`.
RunResult RunCrm(const std::string& args, const std::string& err_file) {
  const std::string command =
      std::string(CRM_BINARY_PATH) + " " + args + " 2>" + err_file;
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) {
    result.out.append(buf.data(), n);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string Json(const crm::v1::Envelope& e) { return EncodeJson(e).value(); }

class ValidateCliTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = dir_.File(name);
    crm::testing::WriteFile(path, contents);
    return path;
  }
  std::string Err() { return crm::testing::ReadFile(dir_.File("stderr")); }
  RunResult Run(const std::string& args) {
    return RunCrm(args, dir_.File("stderr"));
  }

  crm::testing::TempDir dir_;
};

TEST_F(ValidateCliTest, CleanFilesExitZero) {
  std::string jsonl;
  for (const auto& e : crm::testing::AllEventKinds()) jsonl += Json(e) + "\n";
  const std::string a = Write("a.jsonl", jsonl);
  const std::string b = Write(
      "b.csv",
      "event_id,customer_id,occurred_at,channel,call_logged.direction,"
      "call_logged.outcome\n"
      "e1,c1,2026-01-01T00:00:00Z,CHANNEL_CALL_CENTRE,CALL_DIRECTION_INBOUND,"
      "CALL_OUTCOME_CONNECTED\n");
  RunResult r = Run("validate " + a + " " + b);
  EXPECT_EQ(r.exit_code, kExitOk) << Err();
  EXPECT_EQ(r.out, "16 records, 0 invalid, in 2 files\n");
}

TEST_F(ValidateCliTest, ReportsEveryBadRecordWithLineAndField) {
  crm::v1::Envelope negative = crm::testing::OrderPlacedEvent();
  negative.set_event_id("evt-neg");
  negative.mutable_order_placed()->mutable_amount()->set_minor_units(-5);
  crm::v1::Envelope no_channel = crm::testing::CallLoggedEvent();
  no_channel.set_event_id("evt-nochan");
  no_channel.clear_channel();
  const std::string good = Json(crm::testing::VisitLoggedEvent());
  const std::string path =
      Write("broken.jsonl",
            good + "\n" +                                              // 1 ok
                Json(negative) + "\n" +                                // 2
                "\n" +                                                 // 3
                "{\"eventId\":\"x\",\"colour\":\"red\"}\n" +           // 4
                "{\"eventId\":\"x\",\"channel\":\"CHANNEL_FAX\"}\n" +  // 5
                good + "\n" +                                          // 6 ok
                "{\"eventId\":\n" +                                    // 7
                Json(no_channel) + "\n");                              // 8
  RunResult r = Run("validate " + path);
  EXPECT_EQ(r.exit_code, kExitInvalidInput);
  const std::string p = path + ":";
  EXPECT_EQ(r.out,
            p +
                "2: order_placed.amount.minor_units: must be >= 0, got -5 "
                "[event_id evt-neg]\n" +
                p + "3: empty line, expected a JSON object\n" + p +
                "4: colour: unknown field (not in crm.v1.Envelope)\n" + p +
                "5: channel: expected a Channel name or number, got "
                "\"CHANNEL_FAX\"\n" +
                p +
                "7: invalid JSON: an object or array is not closed, or the "
                "object is followed by other content\n" +
                p +
                "8: channel: required, got CHANNEL_UNSPECIFIED [event_id "
                "evt-nochan]\n" +
                "8 records, 6 invalid, in 1 file\n");
}

TEST_F(ValidateCliTest, JsonOutput) {
  const std::string path =
      Write("x.jsonl", "{\"eventId\":\"e1\",\"channel\":1}\n\n");
  RunResult r = Run("validate --json " + path);
  EXPECT_EQ(r.exit_code, kExitInvalidInput);
  EXPECT_EQ(r.out,
            "{\"file\":\"" + path +
                "\",\"line\":1,\"event_id\":\"e1\",\"field\":\"customer_id\","
                "\"error\":\"customer_id: required, got empty string\"}\n"
                "{\"file\":\"" +
                path +
                "\",\"line\":2,\"error\":\"empty line, expected a JSON "
                "object\"}\n"
                "{\"summary\":true,\"files\":1,\"records\":2,\"invalid\":2,"
                "\"unreadable_files\":0}\n");
}

TEST_F(ValidateCliTest, CsvErrorsNameLineFieldAndColumn) {
  const std::string path =
      Write("orders.csv",
            "event_id,customer_id,occurred_at,channel,order_placed.order_id,"
            "order_placed.amount.minor_units,order_placed.amount.currency,"
            "order_placed.quantity\n"
            "e1,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,o1,100,USD,2\n"
            "e2,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,o2,100,usd,2\n"
            "e3,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,o3,100\n");
  RunResult r = Run("validate " + path);
  EXPECT_EQ(r.exit_code, kExitInvalidInput);
  EXPECT_EQ(r.out, path +
                       ":3: order_placed.amount.currency: must be 3 upper-case "
                       "letters (ISO 4217), got \"usd\" (column 7) [event_id "
                       "e2]\n" +
                       path +
                       ":4: expected 8 fields as in the header, got 6\n"
                       "3 records, 2 invalid, in 1 file\n");
}

TEST_F(ValidateCliTest, BadCsvHeaderIsInvalidInput) {
  const std::string path = Write("h.csv", "event_id,colour\ne1,red\n");
  RunResult r = Run("validate " + path);
  EXPECT_EQ(r.exit_code, kExitInvalidInput);
  EXPECT_EQ(Err(), path +
                       ":1: CSV header: column 2 (\"colour\"): unknown "
                       "field \"colour\" in crm.v1.Envelope\n");
}

TEST_F(ValidateCliTest, UnreadableFileExitsThree) {
  const std::string good =
      Write("good.jsonl", Json(crm::testing::CallLoggedEvent()) + "\n");
  const std::string missing = dir_.File("missing.jsonl");
  RunResult r = Run("validate " + missing + " " + good);
  EXPECT_EQ(r.exit_code, kExitUnavailable);
  EXPECT_EQ(Err(), missing + ": cannot open: No such file or directory\n");
  EXPECT_EQ(r.out, "1 records, 0 invalid, in 2 files (1 unreadable)\n");
}

TEST_F(ValidateCliTest, ReadsStdin) {
  const std::string path =
      Write("in.txt", Json(crm::testing::CallLoggedEvent()) + "\n{}\n");
  RunResult r = Run("validate - < " + path);
  EXPECT_EQ(r.exit_code, kExitInvalidInput);
  EXPECT_EQ(r.out,
            "-:2: event_id: required, got empty string\n"
            "2 records, 1 invalid, in 1 file\n");
}

TEST_F(ValidateCliTest, FormatFlagOverridesExtension) {
  const std::string path =
      Write("events.txt", Json(crm::testing::CallLoggedEvent()) + "\n");
  EXPECT_EQ(Run("validate " + path).exit_code, kExitUsage);
  RunResult r = Run("validate --format jsonl " + path);
  EXPECT_EQ(r.exit_code, kExitOk) << Err();
  EXPECT_EQ(r.out, "1 records, 0 invalid, in 1 file\n");
}

TEST_F(ValidateCliTest, UsageErrors) {
  EXPECT_EQ(Run("validate").exit_code, kExitUsage);
  EXPECT_EQ(Run("validate --format xml x.jsonl").exit_code, kExitUsage);
  EXPECT_EQ(Run("validate --json-parser slow x.jsonl").exit_code, kExitUsage);
}

TEST_F(ValidateCliTest, HelpSaysWhatItChecks) {
  RunResult r = Run("validate --help");
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_NE(r.out.find("Check event records, report every bad one"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Exit status: 0 all valid, 1 some record invalid"),
            std::string::npos);
  EXPECT_NE(r.out.find("--format"), std::string::npos);
}

}  // namespace
}  // namespace crm::event
