#include "engine/event/reader.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/event/codec.h"
#include "gtest/gtest.h"
#include "tests/testing/event_builders.h"
#include "tests/testing/temp_dir.h"

namespace crm::event {
namespace {

using ::crm::v1::Envelope;

// One record as seen by a test: line, OK or the message.
struct Seen {
  int64_t line;
  std::string error;  // "" = OK
  bool operator==(const Seen& o) const {
    return line == o.line && error == o.error;
  }
};

void PrintTo(const Seen& s, std::ostream* os) {
  *os << "{" << s.line << ", \"" << s.error << "\"}";
}

std::vector<Seen> ReadAll(const std::string& name, const std::string& contents,
                          ReaderOptions options = {}) {
  auto reader = RecordReader::FromString(name, contents, options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  std::vector<Seen> out;
  if (!reader.ok()) return out;
  Record r;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&r);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    EXPECT_EQ(r.source, name);
    out.push_back({r.line, std::string(r.status.message())});
  }
  return out;
}

std::string Json(const Envelope& e) { return EncodeJson(e).value(); }

// A valid call event as JSON with `extra` spliced in before the last '}'.
std::string CallWith(const std::string& extra) {
  std::string json = Json(crm::testing::CallLoggedEvent());
  json.insert(json.size() - 1, extra);
  return json;
}

TEST(ReaderTest, ReadsValidJsonLines) {
  std::string contents;
  for (const Envelope& e : crm::testing::AllEventKinds()) {
    contents += Json(e) + "\n";
  }
  auto reader = RecordReader::FromString("all.jsonl", contents);
  ASSERT_TRUE(reader.ok());
  Record r;
  int n = 0;
  for (const Envelope& e : crm::testing::AllEventKinds()) {
    absl::StatusOr<bool> more = (*reader)->Next(&r);
    ASSERT_TRUE(more.ok() && *more);
    ++n;
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_TRUE(r.decoded);
    EXPECT_EQ(r.line, n);
    EXPECT_EQ(EncodeBinary(r.event), EncodeBinary(e));
  }
  absl::StatusOr<bool> more = (*reader)->Next(&r);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
}

TEST(ReaderTest, LastLineWithoutNewlineAndCrlf) {
  const std::string a = Json(crm::testing::CallLoggedEvent());
  EXPECT_EQ(ReadAll("x.jsonl", a + "\r\n" + a),
            (std::vector<Seen>{{1, ""}, {2, ""}}));
}

TEST(ReaderTest, EmptyLinesAreErrors) {
  const std::string a = Json(crm::testing::CallLoggedEvent());
  EXPECT_EQ(ReadAll("x.jsonl", a + "\n\n   \n" + a + "\n"),
            (std::vector<Seen>{{1, ""},
                               {2, "empty line, expected a JSON object"},
                               {3, "empty line, expected a JSON object"},
                               {4, ""}}));
}

TEST(ReaderTest, EmptyInputHasNoRecords) {
  EXPECT_EQ(ReadAll("x.jsonl", ""), std::vector<Seen>{});
}

TEST(ReaderTest, InvalidJson) {
  EXPECT_EQ(
      ReadAll("x.jsonl",
              "{\"eventId\":\"a\",\n"
              "{\"eventId\" \"a\"}\n"
              "{\"eventId\":\"a\",\"channel\":tru}\n"
              "{\"eventId\":\"a\"} trailing\n"
              "not json\n"),
      (std::vector<Seen>{
          {1,
           "invalid JSON: an object or array is not closed, or the object is "
           "followed by other content"},
          {2,
           "invalid JSON: The JSON document has an improper structure: "
           "missing or superfluous commas, braces, missing keys, etc."},
          {3, "channel: expected a Channel name or number, got tru"},
          {4,
           "invalid JSON: an object or array is not closed, or the object is "
           "followed by other content"},
          {5,
           "invalid JSON: Problem while parsing an atom starting with the "
           "letter 'n'"},
      }));
}

TEST(ReaderTest, NotAnObject) {
  EXPECT_EQ(ReadAll("x.jsonl", "[1,2]\n\"event\"\n42\nnull\n"),
            (std::vector<Seen>{
                {1, "expected a JSON object (crm.v1.Envelope), got an array"},
                {2, "expected a JSON object (crm.v1.Envelope), got a string"},
                {3, "expected a JSON object (crm.v1.Envelope), got a number"},
                {4, "expected a JSON object (crm.v1.Envelope), got null"},
            }));
}

TEST(ReaderTest, WrongTypesNameTheField) {
  EXPECT_EQ(
      ReadAll("x.jsonl",
              "{\"eventId\":12}\n"
              "{\"channel\":true}\n"
              "{\"channel\":\"CHANNEL_TELEPATHY\"}\n"
              "{\"occurredAt\":\"yesterday\"}\n"
              "{\"orderPlaced\":{\"quantity\":-1}}\n"
              "{\"orderPlaced\":{\"amount\":{\"minorUnits\":\"12.5\"}}}\n"
              "{\"orderPlaced\":\"ord-1\"}\n"
              "{\"eventId\":[\"a\"]}\n"
              "{\"customerRegistered\":{\"profile\":{\"contacts\":[{\"name\":"
              "\"a\"},{\"name\":7}]}}}\n"),
      (std::vector<Seen>{
          {1, "event_id: expected a string, got 12"},
          {2, "channel: expected a Channel name or number, got true"},
          {3,
           "channel: expected a Channel name or number, got "
           "\"CHANNEL_TELEPATHY\""},
          {4,
           "occurred_at: expected an RFC 3339 timestamp such as "
           "\"2026-03-01T09:30:00Z\", got \"yesterday\""},
          {5, "order_placed.quantity: expected an integer (uint32), got -1"},
          {6,
           "order_placed.amount.minor_units: expected an integer (int64), got "
           "\"12.5\""},
          {7,
           "order_placed: expected an object (crm.v1.OrderPlaced), got "
           "\"ord-1\""},
          {8, "event_id: expected a string, got an array"},
          {9,
           "customer_registered.profile.contacts[1].name: expected a string, "
           "got 7"},
      }));
}

TEST(ReaderTest, UnknownFieldsAndOneofConflicts) {
  EXPECT_EQ(
      ReadAll("x.jsonl", CallWith(",\"color\":\"red\"") + "\n" +
                             CallWith(",\"orderPlaced\":{}") + "\n" +
                             "{\"callLogged\":{\"mood\":1}}\n"),
      (std::vector<Seen>{
          {1, "color: unknown field (not in crm.v1.Envelope)"},
          {2,
           "order_placed: conflicts with call_logged: only one field of oneof "
           "body may be set"},
          {3, "call_logged.mood: unknown field (not in crm.v1.CallLogged)"},
      }));
}

TEST(ReaderTest, ValidationErrorsKeepTheDecodedEvent) {
  auto reader = RecordReader::FromString(
      "x.jsonl",
      CallWith(",\"actor\":\"" + std::string(129, 'a') + "\"") + "\n");
  ASSERT_TRUE(reader.ok());
  Record r;
  ASSERT_TRUE((*reader)->Next(&r).value());
  EXPECT_TRUE(r.decoded);
  EXPECT_EQ(r.event.event_id(), "evt-call-1");
  EXPECT_EQ(r.status.message(),
            "actor: must be at most 128 characters, got 129");
}

TEST(ReaderTest, ValidationCanBeTurnedOff) {
  ReaderOptions options;
  options.validate = false;
  EXPECT_EQ(ReadAll("x.jsonl", "{\"eventId\":\"\"}\n", options),
            (std::vector<Seen>{{1, ""}}));
}

TEST(ReaderTest, OversizedRecordIsReportedAndSkipped) {
  const std::string a = Json(crm::testing::CallLoggedEvent());
  const std::string big =
      "{\"eventId\":\"" + std::string((1 << 20) + 10, 'x') + "\"}";
  EXPECT_EQ(ReadAll("x.jsonl", a + "\n" + big + "\n" + a + "\n"),
            (std::vector<Seen>{
                {1, ""},
                {2, absl::StrCat("record is ", big.size(),
                                 " bytes, over the limit of 1048576 bytes "
                                 "(1 MiB)")},
                {3, ""},
            }));
}

TEST(ReaderTest, SmallerRecordLimit) {
  ReaderOptions options;
  options.max_record_bytes = 10;
  EXPECT_EQ(
      ReadAll("x.jsonl", "{\"eventId\":\"abc\"}\n", options),
      (std::vector<Seen>{
          {1, "record is 17 bytes, over the limit of 10 bytes (10 bytes)"},
      }));
}

TEST(ReaderTest, InvalidUtf8) {
  EXPECT_EQ(ReadAll("x.jsonl",
                    "{\"eventId\":\"a\xff\"}\n"
                    "{\"eventId\":\"\xc3\"}\n"
                    "{\"eventId\":\"\xed\xa0\x80\"}\n"  // a UTF-16 surrogate
                    "{\"eventId\":\"\xc0\xaf\"}\n"),    // overlong '/'
            (std::vector<Seen>{
                {1, "invalid UTF-8 at byte 14 of the record"},
                {2, "invalid UTF-8 at byte 13 of the record"},
                {3, "invalid UTF-8 at byte 13 of the record"},
                {4, "invalid UTF-8 at byte 13 of the record"},
            }));
}

TEST(ReaderTest, Utf8BomIsSkipped) {
  EXPECT_EQ(ReadAll("x.jsonl",
                    "\xEF\xBB\xBF" + Json(crm::testing::CallLoggedEvent())),
            (std::vector<Seen>{{1, ""}}));
}

constexpr char kCsvHeader[] =
    "event_id,customer_id,occurred_at,channel,order_placed.order_id,"
    "order_placed.amount.minor_units,order_placed.amount.currency,"
    "order_placed.quantity\n";

TEST(ReaderTest, CsvRecordsAndErrors) {
  const std::string csv =
      std::string(kCsvHeader) +
      "e1,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,o1,100,USD,2\n"      // 2
      "e2,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,o1,100,USD\n"        // 3
      "e3,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,o1,100,USD,2,x\n"    // 4
      "e4,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,o1,ten,USD,2\n"      // 5
      "e5,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,o1,-1,USD,2\n"       // 6
      "\n"                                                         // 7
      "e6,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,\"o\"x,1,USD,2\n"    // 8
      "e7,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,o\"1,1,USD,2\n"      // 9
      "e8,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,\"multi\n"           // 10
      "line\",1,USD,\n"                                            // 11
      "e9,c1,2026-01-01T00:00:00Z,,o1,1,USD,2\n"                   // 12
      "e10,c1,2026-01-01T00:00:00Z,CHANNEL_ERP,\"open,1,USD,2\n";  // 13
  EXPECT_EQ(
      ReadAll("x.csv", csv),
      (std::vector<Seen>{
          {2, ""},
          {3, "expected 8 fields as in the header, got 7"},
          {4, "expected 8 fields as in the header, got 9"},
          {5,
           "order_placed.amount.minor_units: expected an integer (int64), got "
           "\"ten\" (column 6)"},
          {6,
           "order_placed.amount.minor_units: must be >= 0, got -1 (column 6)"},
          {7, "empty line, expected a CSV record"},
          {8, "column 5: expected ',' after a closing quote, got 'x'"},
          {9,
           "column 5: quote inside an unquoted field (quote the whole field "
           "and double the quote)"},
          {10, "order_placed.quantity: must be >= 1, got 0 (column 8)"},
          {12, "channel: required, got CHANNEL_UNSPECIFIED (column 4)"},
          {13, "unterminated quoted field at the end of the input"},
      }));
}

TEST(ReaderTest, CsvBadHeaders) {
  struct HeaderCase {
    std::string header;
    std::string error;
  };
  const std::vector<HeaderCase> cases = {
      {"event_id,,channel",
       "h.csv:1: CSV header: column 2: empty header, expected a field path "
       "such "
       "as order_placed.order_id"},
      {"event_id,colour",
       "h.csv:1: CSV header: column 2 (\"colour\"): unknown field \"colour\" "
       "in "
       "crm.v1.Envelope"},
      {"event_id,order_placed.amount.cents",
       "h.csv:1: CSV header: column 2 (\"order_placed.amount.cents\"): unknown "
       "field \"cents\" in crm.v1.Money"},
      {"event_id,eventId",
       "h.csv:1: CSV header: column 2 (\"eventId\"): same field as column 1 "
       "(event_id)"},
      {"order_placed.amount",
       "h.csv:1: CSV header: column 1 (\"order_placed.amount\"): "
       "\"order_placed.amount\" is a message (crm.v1.Money); name one of its "
       "fields"},
      {"event_id.x",
       "h.csv:1: CSV header: column 1 (\"event_id.x\"): \"event_id\" is not a "
       "message; no field \"x\" inside it"},
      {"occurred_at.seconds",
       "h.csv:1: CSV header: column 1 (\"occurred_at.seconds\"): "
       "\"occurred_at\" is a Timestamp; give it as one RFC 3339 column"},
      {"customer_registered.profile.contacts.name",
       "h.csv:1: CSV header: column 1 "
       "(\"customer_registered.profile.contacts.name\"): "
       "\"customer_registered.profile.contacts\" is a repeated field; CSV "
       "cannot hold it"},
      {"event_id,\"chan\"nel\"",
       "h.csv:1: CSV header: column 2: expected ',' after a closing quote, got "
       "'n'"},
  };
  for (const HeaderCase& c : cases) {
    auto reader = RecordReader::FromString("h.csv", c.header + "\nx\n");
    ASSERT_TRUE(reader.ok());
    Record r;
    absl::StatusOr<bool> more = (*reader)->Next(&r);
    ASSERT_FALSE(more.ok()) << c.header;
    EXPECT_EQ(more.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(more.status().message(), c.error);
  }
}

TEST(ReaderTest, FormatFromExtensionOrOption) {
  EXPECT_EQ(FormatForPath("a.jsonl").value(), InputFormat::kJsonLines);
  EXPECT_EQ(FormatForPath("a.NDJSON").value(), InputFormat::kJsonLines);
  EXPECT_EQ(FormatForPath("a.json").value(), InputFormat::kJsonLines);
  EXPECT_EQ(FormatForPath("a.csv").value(), InputFormat::kCsv);
  EXPECT_EQ(FormatForPath("-").value(), InputFormat::kJsonLines);
  EXPECT_EQ(FormatForPath("a.txt").status().message(),
            "a.txt: cannot tell the format from the extension (expected "
            ".jsonl, .ndjson, .json or .csv); give --format jsonl or "
            "--format csv");
  EXPECT_EQ(ParseInputFormat("CSV").value(), InputFormat::kCsv);
  EXPECT_EQ(ParseInputFormat("xml").status().message(),
            "unknown input format \"xml\", expected auto, jsonl or csv");
  ReaderOptions options;
  options.format = InputFormat::kJsonLines;
  EXPECT_EQ(
      ReadAll("events.txt", Json(crm::testing::CallLoggedEvent()), options),
      (std::vector<Seen>{{1, ""}}));
}

TEST(ReaderTest, OpenReportsMissingFile) {
  crm::testing::TempDir dir;
  auto reader = RecordReader::Open(dir.File("missing.jsonl"));
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(
      reader.status().message(),
      dir.File("missing.jsonl") + ": cannot open: No such file or directory");
}

TEST(ReaderTest, ReadsLargeFileInChunks) {
  crm::testing::TempDir dir;
  const auto events = crm::testing::RealisticEvents(3000, 3);
  std::string contents;
  for (const Envelope& e : events) contents += Json(e) + "\n";
  ASSERT_GT(contents.size(), size_t{64 << 10});  // spans several buffers
  crm::testing::WriteFile(dir.File("big.ndjson"), contents);
  size_t i = 0;
  absl::Status status =
      ForEachRecord(dir.File("big.ndjson"), {}, [&](const Record& r) {
        ASSERT_LT(i, events.size());
        EXPECT_TRUE(r.status.ok()) << r.line << ": " << r.status;
        EXPECT_EQ(r.line, static_cast<int64_t>(i + 1));
        EXPECT_EQ(EncodeBinary(r.event), EncodeBinary(events[i]));
        ++i;
      });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(i, events.size());
}

TEST(ReaderTest, ProtobufParserGivesTheSameEvents) {
  std::string contents;
  for (const Envelope& e : crm::testing::AllEventKinds()) {
    contents += Json(e) + "\n";
  }
  ReaderOptions options;
  options.json_parser = JsonParser::kProtobuf;
  auto reader = RecordReader::FromString("all.jsonl", contents, options);
  ASSERT_TRUE(reader.ok());
  Record r;
  for (const Envelope& e : crm::testing::AllEventKinds()) {
    ASSERT_TRUE((*reader)->Next(&r).value());
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(EncodeBinary(r.event), EncodeBinary(e));
  }
}

TEST(ReaderTest, ErrorFieldIsTheLeadingPath) {
  EXPECT_EQ(ErrorField("order_placed.amount: required, got unset"),
            "order_placed.amount");
  EXPECT_EQ(ErrorField("customer_registered.profile.contacts[1].name: x"),
            "customer_registered.profile.contacts[1].name");
  EXPECT_EQ(ErrorField("empty line, expected a JSON object"), "");
  EXPECT_EQ(ErrorField("column 5: quote inside"), "");
}

}  // namespace
}  // namespace crm::event
