// Differential test of FastJsonDecoder against protobuf's own JSON parser
// (google::protobuf::util::JsonStringToMessage): on every input both must
// accept or both reject, and accepted inputs must give byte-identical
// messages. Inputs: every built event in several JSON spellings, hand-picked
// edge cases, and mechanical mutations of every value and key of every
// built event.

#include "engine/event/json_decoder.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/event/codec.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/testing/event_builders.h"

namespace crm::event {
namespace {

using ::crm::v1::Envelope;
using ::google::protobuf::ListValue;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;

struct Outcome {
  bool ok = false;
  std::string bytes;    // the binary message when ok
  std::string message;  // the error otherwise
};

Outcome Reference(const std::string& json) {
  Envelope e;
  google::protobuf::util::JsonParseOptions options;
  Outcome out;
  out.ok = google::protobuf::util::JsonStringToMessage(json, &e, options).ok();
  if (out.ok) out.bytes = EncodeBinary(e);
  return out;
}

Outcome Fast(FastJsonDecoder& decoder, const std::string& json) {
  Envelope e;
  absl::Status s = decoder.Decode(json, &e);
  Outcome out;
  out.ok = s.ok();
  if (out.ok) {
    out.bytes = EncodeBinary(e);
  } else {
    out.message = std::string(s.message());
  }
  return out;
}

class DifferentialTest : public ::testing::Test {
 protected:
  // Compares both parsers on `json`; records a failure on disagreement.
  void Check(const std::string& json) {
    ++checked_;
    const Outcome ref = Reference(json);
    const Outcome fast = Fast(decoder_, json);
    accepted_ += ref.ok;
    if (ref.ok != fast.ok) {
      ADD_FAILURE() << (ref.ok ? "protobuf accepts, fast rejects ("
                               : "protobuf rejects, fast accepts (")
                    << fast.message << "): " << json;
    } else if (ref.ok && ref.bytes != fast.bytes) {
      ADD_FAILURE() << "different messages for: " << json;
    }
  }

  FastJsonDecoder decoder_{Envelope::descriptor()};
  int checked_ = 0;
  int accepted_ = 0;
};

std::vector<Envelope> Corpus() {
  std::vector<Envelope> events = crm::testing::AllEventKinds();
  for (const Envelope& e : crm::testing::RealisticEvents(200, 11)) {
    events.push_back(e);
  }
  return events;
}

std::string ToJson(const Envelope& e, bool proto_names, bool enum_ints,
                   bool defaults) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = proto_names;
  options.always_print_enums_as_ints = enum_ints;
  options.always_print_primitive_fields = defaults;
  std::string out;
  EXPECT_TRUE(
      google::protobuf::util::MessageToJsonString(e, &out, options).ok());
  return out;
}

TEST_F(DifferentialTest, BuiltEventsInEveryJsonSpelling) {
  for (const Envelope& e : Corpus()) {
    for (int variant = 0; variant < 8; ++variant) {
      Check(ToJson(e, variant & 1, variant & 2, variant & 4));
    }
    // Pretty-printed, with white space everywhere.
    google::protobuf::util::JsonPrintOptions pretty;
    pretty.add_whitespace = true;
    std::string out;
    ASSERT_TRUE(
        google::protobuf::util::MessageToJsonString(e, &out, pretty).ok());
    Check(out);
  }
  EXPECT_EQ(accepted_, checked_);  // every spelling of a valid event parses
}

TEST_F(DifferentialTest, HandPickedEdgeCases) {
  const std::vector<std::string> inputs = {
      "{}",
      " {} ",
      "{\"eventId\":\"e1\",\"event_id\":\"e2\"}",
      "{\"eventId\":\"e1\",\"eventId\":\"e2\"}",
      "{\"orderPlaced\":{},\"callLogged\":{}}",
      "{\"orderPlaced\":null,\"callLogged\":{}}",
      "{\"orderPlaced\":{},\"callLogged\":null}",
      "{\"orderPlaced\":null}",
      "{\"orderPlaced\":{\"orderId\":\"a\"},\"orderPlaced\":{\"quantity\":1}}",
      "{\"channel\":99}",
      "{\"channel\":\"99\"}",
      "{\"channel\":\"FOO\"}",
      "{\"channel\":1.0}",
      "{\"channel\":null}",
      "{\"channel\":-1}",
      "{\"channel\":2147483648}",
      "{\"channel\":-2147483648}",
      "{\"channel\":-2147483649}",
      "{\"channel\":\"1\"}",
      "{\"channel\":\"-1\"}",
      "{\"channel\":\"0\"}",
      "{\"channel\":\"+4\"}",
      "{\"channel\":\"04\"}",
      "{\"channel\":4.5}",
      "{\"channel\":true}",
      "{\"channel\":[1]}",
      "{\"channel\":\"channel_web\"}",
      "{\"channel\":\"CHANNEL_WEB \"}",
      "{\"channel\":\"\"}",
      "{\"schemaVersion\":\"7\"}",
      "{\"schemaVersion\":7.0}",
      "{\"schemaVersion\":1e1}",
      "{\"schemaVersion\":-1}",
      "{\"schemaVersion\":4294967296}",
      "{\"schemaVersion\":\" 7\"}",
      "{\"schemaVersion\":\"7 \"}",
      "{\"schemaVersion\":\"\\t7\"}",
      "{\"schemaVersion\":true}",
      "{\"schemaVersion\":\"+5\"}",
      "{\"schemaVersion\":\"05\"}",
      "{\"schemaVersion\":\"4294967295\"}",
      "{\"schemaVersion\":\"1.0\"}",
      "{\"schemaVersion\":\"1e0\"}",
      "{\"schemaVersion\":1E0}",
      "{\"schemaVersion\":-0}",
      "{\"schemaVersion\":\"-0\"}",
      "{\"schemaVersion\":-0.0}",
      "{\"schemaVersion\":1.0000000000000001}",
      "{\"schemaVersion\":\"\"}",
      "{\"schemaVersion\":\"Infinity\"}",
      "{\"schemaVersion\":1e400}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":1.5}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":\"1e2\"}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":1e2}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":9223372036854775807}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":9223372036854775808}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":-9223372036854775808}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":-9223372036854775809}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":\"-9223372036854775808\"}}"
      "}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":\"9223372036854775808\"}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":\"-0\"}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":\"0x10\"}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":\"+5\"}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":1e18}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":1e19}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":9007199254740993}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":9007199254740993.0}}}",
      "{\"orderPlaced\":{\"amount\":{\"minorUnits\":\"\"}}}",
      "{\"orderPlaced\":{\"quantity\":\"4294967295\"}}",
      "{\"orderPlaced\":{\"quantity\":4294967296}}",
      "{\"orderPlaced\":{\"quantity\":0.1e1}}",
      "{\"orderPlaced\":{\"amount\":null,\"amount\":{\"currency\":\"USD\"}}}",
      "{\"orderPlaced\":{\"amount\":{\"currency\":\"USD\"},\"amount\":{"
      "\"minorUnits\":5}}}",
      "{\"occurredAt\":\"2026-01-01T00:00:00.5Z\"}",
      "{\"occurredAt\":\"2026-01-01T00:00:00.1234567891Z\"}",
      "{\"occurredAt\":\"2026-01-01T00:00:00.000000000Z\"}",
      "{\"occurredAt\":\"2026-01-01T00:00:00.Z\"}",
      "{\"occurredAt\":\"2026-01-01T00:00:00+01:00\"}",
      "{\"occurredAt\":\"2026-01-01T00:00:00-00:00\"}",
      "{\"occurredAt\":\"2026-01-01T00:00:00+23:59\"}",
      "{\"occurredAt\":\"2026-01-01T00:00:00+24:00\"}",
      "{\"occurredAt\":\"2026-01-01T00:00:00+0100\"}",
      "{\"occurredAt\":\"2026-01-01T00:00:00z\"}",
      "{\"occurredAt\":\"2026-01-01t00:00:00Z\"}",
      "{\"occurredAt\":\"2026-01-01 00:00:00Z\"}",
      "{\"occurredAt\":\"2026-1-01T00:00:00Z\"}",
      "{\"occurredAt\":\"0001-01-01T00:00:00Z\"}",
      "{\"occurredAt\":\"0000-01-01T00:00:00Z\"}",
      "{\"occurredAt\":\"9999-12-31T23:59:59.999999999Z\"}",
      "{\"occurredAt\":\"2026-02-30T00:00:00Z\"}",
      "{\"occurredAt\":\"2024-02-29T00:00:00Z\"}",
      "{\"occurredAt\":\"1900-02-29T00:00:00Z\"}",
      "{\"occurredAt\":\"2000-02-29T00:00:00Z\"}",
      "{\"occurredAt\":\"2026-01-01T24:00:00Z\"}",
      "{\"occurredAt\":\"2026-01-01T23:59:60Z\"}",
      "{\"occurredAt\":\"2026-01-01T00:00:00Z \"}",
      "{\"occurredAt\":\"2026-01-01T00:00:00Z\\u0000junk\"}",
      "{\"occurredAt\":\"\"}",
      "{\"occurredAt\":1}",
      "{\"occurredAt\":null}",
      "{\"occurredAt\":{\"seconds\":1}}",
      "{\"occurredAt\":{\"seconds\":\"1\",\"nanos\":5}}",
      "{\"occurredAt\":{\"foo\":1}}",
      "{\"occurredAt\":\"2026-01-01T00:00:00Z\",\"occurredAt\":"
      "\"2027-01-01T00:00:00Z\"}",
      "{\"recordedAt\":{\"seconds\":1},\"recordedAt\":{\"nanos\":5}}",
      "{\"foo\":1}",
      "{\"\":1}",
      "{\"eventId\":\"x\",\"unknownNull\":null}",
      "{\"CustomerId\":\"x\"}",
      "{\"customerid\":\"x\"}",
      "{\"customer_id\":\"x\"}",
      "[]",
      "\"x\"",
      "null",
      "1",
      "true",
      "{\"eventId\":1}",
      "{\"eventId\":null}",
      "{\"eventId\":{}}",
      "{\"eventId\":[\"x\"]}",
      "{\"eventId\":\"a\\u0000b\"}",
      "{\"eventId\":\"\\ud800\"}",
      "{\"eventId\":\"\\uD83D\\uDE00\"}",
      "{\"eventId\":\"\\/x\\u00e9\"}",
      "{\"eventId\":\"\xc3\xa9\"}",
      "{\"eventId\":\"x\"} x",
      "{\"eventId\":\"a\"}{\"eventId\":\"b\"}",
      "{\"eventId\":\"x\"",
      "{\"eventId\" : \"x\" , \"channel\" : 1 }",
      "{\"orderPlaced\":[]}",
      "{\"orderPlaced\":\"x\"}",
      "{\"orderPlaced\":1}",
      "{\"surveyAnswered\":{\"csat\":null}}",
      "{\"surveyAnswered\":{\"csat\":0}}",
      "{\"surveyAnswered\":{\"csat\":\"3\",\"nps\":\"x\"}}",
      "{\"surveyAnswered\":null,\"surveyAnswered\":{}}",
      "{\"customerRegistered\":{\"profile\":{\"contacts\":null}}}",
      "{\"customerRegistered\":{\"profile\":{\"contacts\":[null]}}}",
      "{\"customerRegistered\":{\"profile\":{\"contacts\":[{}]}}}",
      "{\"customerRegistered\":{\"profile\":{\"contacts\":[]}}}",
      "{\"customerRegistered\":{\"profile\":{\"contacts\":{}}}}",
      "{\"customerRegistered\":{\"profile\":{\"contacts\":{\"name\":\"a\"}}}}",
      "{\"customerRegistered\":{\"profile\":{\"contacts\":[{\"name\":\"a\"},"
      "null,{\"name\":\"b\"}]}}}",
      "{\"customerRegistered\":{\"profile\":{\"contacts\":[\"x\"]}}}",
      "{\"customerRegistered\":{\"profile\":{\"contacts\":[1]}}}",
      "{\"customerRegistered\":{\"profile\":{\"contacts\":[{\"name\":\"a\"}],"
      "\"contacts\":[{\"name\":\"b\"}]}}}",
      "{\"customerRegistered\":{\"profile\":{\"contacts\":null,\"contacts\":["
      "{\"name\":\"b\"}]}}}",
      "{\"customerRegistered\":{\"profile\":{\"birthday\":{\"year\":"
      "\"1990\"}}}}",
      "{\"customerRegistered\":{\"profile\":{\"birthday\":{\"year\":-5}}}}",
      "{\"customerRegistered\":{\"profile\":{\"birthday\":{\"year\":"
      "2147483648}}}}",
      "{\"customerRegistered\":{\"profile\":{\"birthday\":{\"year\":"
      "\"-2147483648\"}}}}",
      "{\"customerRegistered\":{\"profile\":{\"birthday\":{\"year\":"
      "-2147483648.0}}}}",
      "{\"customerRegraded\":{\"stars\":0}}",
      "{\"customerRegraded\":{\"valueTier\":\"VALUE_TIER_UNSPECIFIED\"}}",
      "{\"customerRegraded\":{\"stars\":3,\"valueTier\":1}}",
      "{\"customerRegraded\":{\"stars\":null,\"valueTier\":1}}",
      "{\"customerRegraded\":{\"valueTier\":null}}",
      "{\"customerRegraded\":{\"stars\":3,\"stars\":4}}",
      "{\"customerRegraded\":{\"stars\":3},\"customerRegraded\":{\"reason\":"
      "\"x\"}}",
      "{\"order_cancelled\":{\"order_id\":\"a\"},\"order_cancelled\":{}}",
  };
  for (const std::string& json : inputs) Check(json);
  EXPECT_GT(accepted_, 40);
  EXPECT_LT(accepted_, checked_ - 40);
}

// --- Mechanical mutations -------------------------------------------------

// Tokens put in place of a value (raw JSON).
const std::vector<std::string>& ValueTokens() {
  static const auto* tokens = new std::vector<std::string>{
      "null",
      "0",
      "-0",
      "1",
      "-1",
      "7.0",
      "1.5",
      "1e2",
      "-1e2",
      "2147483648",
      "4294967296",
      "9223372036854775808",
      "18446744073709551616",
      "1e400",
      "\"\"",
      "\"x\"",
      "\"0\"",
      "\"1\"",
      "\"-1\"",
      "\"+3\"",
      "\"1.0\"",
      "\" 1\"",
      "\"99\"",
      "\"CHANNEL_WEB\"",
      "\"VISIT_KIND_STORE\"",
      "\"2026-03-01T09:30:00Z\"",
      "\"2026-03-01T09:30:00.123+02:00\"",
      "\"2026-13-01T09:30:00Z\"",
      "\"EUR\"",
      "true",
      "false",
      "{}",
      "[]",
      "[null]",
      "[1]",
      "[\"x\"]",
      "[{}]",
      "{\"seconds\":5}",
      "{\"name\":\"n\"}",
      "{\"minorUnits\":\"12\",\"currency\":\"EUR\"}",
      "{\"x\":1}",
  };
  return *tokens;
}

constexpr char kMark[] = "__MUTATION_MARK__";

// Calls fn(mutated JSON text) for every way of replacing one value of `v`
// (walking into objects and lists) by a placeholder that becomes a token.
void ForEachValueSlot(Value* v, Value* root,
                      const std::function<void()>& visit) {
  if (v->kind_case() == Value::kStructValue) {
    for (auto& [key, child] : *v->mutable_struct_value()->mutable_fields()) {
      Value saved = child;
      child.set_string_value(kMark);
      visit();
      child = saved;
      ForEachValueSlot(&child, root, visit);
    }
  } else if (v->kind_case() == Value::kListValue) {
    for (Value& child : *v->mutable_list_value()->mutable_values()) {
      Value saved = child;
      child.set_string_value(kMark);
      visit();
      child = saved;
      ForEachValueSlot(&child, root, visit);
    }
  }
}

std::string Print(const Value& v) {
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(v, &out).ok());
  return out;
}

TEST_F(DifferentialTest, EveryValueOfEveryKindReplacedByEveryToken) {
  for (const Envelope& e : crm::testing::AllEventKinds()) {
    for (bool proto_names : {false, true}) {
      Value root;
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                      ToJson(e, proto_names, false, true), &root)
                      .ok());
      ForEachValueSlot(&root, &root, [&] {
        const std::string text = Print(root);
        for (const std::string& token : ValueTokens()) {
          Check(absl::StrReplaceAll(
              text, {{absl::StrCat("\"", kMark, "\""), token}}));
        }
      });
    }
  }
  EXPECT_GT(checked_, 10000);
  EXPECT_GT(accepted_, 1000);
  EXPECT_LT(accepted_, checked_);
}

// Key mutations: drop, rename to unknown, duplicate, and add each other body
// (oneof conflict).
TEST_F(DifferentialTest, KeyMutations) {
  const auto* body = Envelope::descriptor()->FindOneofByName("body");
  for (const Envelope& e : crm::testing::AllEventKinds()) {
    const std::string json = ToJson(e, false, false, false);
    // Every "key": position.
    for (size_t pos = json.find("\":"); pos != std::string::npos;
         pos = json.find("\":", pos + 1)) {
      const size_t start = json.rfind('"', pos - 1);
      const std::string key = json.substr(start + 1, pos - start - 1);
      // Rename to unknown / to upper case.
      Check(json.substr(0, start + 1) + key + "X" + json.substr(pos));
      Check(json.substr(0, start + 1) + "Q" + key + json.substr(pos));
    }
    for (int i = 0; i < body->field_count(); ++i) {
      const std::string name = body->field(i)->json_name();
      Check(json.substr(0, json.size() - 1) + ",\"" + name + "\":{}}");
      Check(json.substr(0, json.size() - 1) + ",\"" + name + "\":null}");
      Check("{\"" + name + "\":{}," + json.substr(1));
    }
    // The whole object twice as one (every key repeated).
    Check(json.substr(0, json.size() - 1) + "," + json.substr(1));
  }
}

// Random byte edits (delete, insert, replace, duplicate a span) of built
// events. Edits that leave RFC 8259 JSON (checked with simdjson's DOM
// parser) must get the same outcome from both parsers; the rest must be
// rejected by the fast decoder.
TEST_F(DifferentialTest, RandomByteEdits) {
  static constexpr char kAlphabet[] = "{}[]:,\"\\ 0123456789.-+eEtrufalsn_xZT";
  std::mt19937 rng(20261201);
  simdjson::dom::parser dom;
  std::vector<std::string> seeds;
  for (const Envelope& e : crm::testing::AllEventKinds()) {
    seeds.push_back(ToJson(e, false, false, false));
    seeds.push_back(ToJson(e, true, true, true));
  }
  int strict = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string json = seeds[rng() % seeds.size()];
    const int edits = 1 + rng() % 3;
    for (int k = 0; k < edits && !json.empty(); ++k) {
      const size_t pos = rng() % json.size();
      const char c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
      switch (rng() % 4) {
        case 0:
          json.erase(pos, 1 + rng() % 3);
          break;
        case 1:
          json.insert(pos, 1, c);
          break;
        case 2:
          json[pos] = c;
          break;
        case 3: {
          const size_t len =
              std::min<size_t>(1 + rng() % 20, json.size() - pos);
          json.insert(pos, json.substr(pos, len));
          break;
        }
      }
    }
    simdjson::dom::element element;
    if (dom.parse(json).get(element) == simdjson::SUCCESS) {
      ++strict;
      Check(json);
    } else {
      Envelope e;
      EXPECT_FALSE(decoder_.Decode(json, &e).ok()) << json;
    }
  }
  EXPECT_GT(strict, 3000);
  EXPECT_GT(accepted_, 100);
}

TEST(FastJsonDecoderTest, StricterThanProtobufOnNonStandardJson) {
  // protobuf 3.21 accepts these; they are not RFC 8259 JSON.
  const std::vector<std::string> lenient = {
      "{'eventId':'x'}",       "{eventId:\"x\"}",        "{\"eventId\":\"x\",}",
      "{\"eventId\":\"\\x\"}", "{\"schemaVersion\":1.}",
  };
  FastJsonDecoder decoder(Envelope::descriptor());
  for (const std::string& json : lenient) {
    EXPECT_TRUE(Reference(json).ok) << json;
    Envelope e;
    EXPECT_FALSE(decoder.Decode(json, &e).ok()) << json;
  }
}

TEST(FastJsonDecoderTest, ReusableAfterErrors) {
  FastJsonDecoder decoder(Envelope::descriptor());
  Envelope e;
  EXPECT_FALSE(decoder.Decode("{\"eventId\":", &e).ok());
  EXPECT_FALSE(decoder.Decode("{\"bogus\":1}", &e).ok());
  ASSERT_TRUE(decoder.Decode("{\"eventId\":\"ok\"}", &e).ok());
  EXPECT_EQ(e.event_id(), "ok");
  // Decode clears what a previous call left.
  ASSERT_TRUE(decoder.Decode("{\"customerId\":\"c\"}", &e).ok());
  EXPECT_EQ(e.event_id(), "");
  EXPECT_EQ(e.customer_id(), "c");
}

TEST(FastJsonDecoderTest, ErrorMessagesNameTheField) {
  FastJsonDecoder decoder(Envelope::descriptor());
  Envelope e;
  EXPECT_EQ(
      decoder.Decode("{\"orderPlaced\":{\"amount\":{\"minorUnits\":1.5}}}", &e)
          .message(),
      "order_placed.amount.minor_units: expected an integer (int64), got "
      "1.5");
  EXPECT_EQ(
      decoder.Decode("{\"customerRegraded\":{\"stars\":3,\"valueTier\":1}}", &e)
          .message(),
      "customer_regraded.value_tier: conflicts with stars: only one "
      "field of oneof target may be set");
  EXPECT_EQ(decoder
                .Decode("{\"visitLogged\":{\"nextFollowUpAt\":"
                        "\"2026-02-30T00:00:00Z\"}}",
                        &e)
                .message(),
            "visit_logged.next_follow_up_at: expected an RFC 3339 timestamp "
            "such as \"2026-03-01T09:30:00Z\", got \"2026-02-30T00:00:00Z\"");
}

}  // namespace
}  // namespace crm::event
