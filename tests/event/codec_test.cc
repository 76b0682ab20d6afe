#include "engine/event/codec.h"

#include <string>

#include "engine/event/json_decoder.h"
#include "engine/event/reader.h"
#include "engine/event/validator.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testing/event_builders.h"

namespace crm::event {
namespace {

using ::crm::v1::Envelope;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

std::string KindName(const Envelope& e) {
  return Envelope::descriptor()->FindFieldByNumber(e.body_case())->name();
}

TEST(CodecTest, BuildersCoverEveryKindAndAreValid) {
  const auto events = crm::testing::AllEventKinds();
  ASSERT_EQ(
      events.size(),
      static_cast<size_t>(
          Envelope::descriptor()->FindOneofByName("body")->field_count()));
  for (const Envelope& e : events) {
    EXPECT_NE(e.body_case(), Envelope::BODY_NOT_SET);
    EXPECT_TRUE(Validate(e).ok()) << KindName(e) << ": " << Validate(e);
  }
}

TEST(CodecTest, BinaryRoundTripOfEveryKind) {
  for (const Envelope& e : crm::testing::AllEventKinds()) {
    const std::string bytes = EncodeBinary(e);
    absl::StatusOr<Envelope> back = DecodeBinary(bytes);
    ASSERT_TRUE(back.ok()) << KindName(e) << ": " << back.status();
    EXPECT_TRUE(MessageDifferencer::Equals(e, *back)) << KindName(e);
    EXPECT_EQ(EncodeBinary(*back), bytes) << KindName(e);
  }
}

TEST(CodecTest, EncodeBinaryToReusesBuffer) {
  std::string out = "stale bytes";
  const Envelope e = crm::testing::OrderPlacedEvent();
  EncodeBinaryTo(e, &out);
  EXPECT_EQ(out, EncodeBinary(e));
}

TEST(CodecTest, JsonRoundTripOfEveryKindWithBothParsers) {
  FastJsonDecoder fast(Envelope::descriptor());
  for (const Envelope& e : crm::testing::AllEventKinds()) {
    absl::StatusOr<std::string> json = EncodeJson(e);
    ASSERT_TRUE(json.ok()) << KindName(e) << ": " << json.status();
    EXPECT_EQ(json->find('\n'), std::string::npos) << "not one line: " << *json;
    absl::StatusOr<Envelope> back = DecodeJson(*json);
    ASSERT_TRUE(back.ok()) << KindName(e) << ": " << back.status();
    EXPECT_TRUE(MessageDifferencer::Equals(e, *back)) << KindName(e);
    Envelope fast_back;
    ASSERT_TRUE(fast.Decode(*json, &fast_back).ok()) << *json;
    EXPECT_EQ(EncodeBinary(fast_back), EncodeBinary(e)) << KindName(e);
  }
}

TEST(CodecTest, JsonUsesCanonicalMapping) {
  Envelope e = crm::testing::OrderPlacedEvent();
  e.clear_recorded_at();
  e.clear_actor();
  e.mutable_order_placed()->clear_gross_profit();
  e.mutable_order_placed()->clear_discount();
  e.mutable_order_placed()->clear_financing_cost();
  e.mutable_order_placed()->clear_product_category();
  absl::StatusOr<std::string> json = EncodeJson(e);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(
      *json,
      "{\"eventId\":\"evt-order-1\",\"customerId\":\"cust-0001\","
      "\"occurredAt\":\"2026-03-01T09:30:00Z\",\"channel\":\"CHANNEL_ERP\","
      "\"schemaVersion\":1,\"orderPlaced\":{\"orderId\":\"ord-1001\","
      "\"amount\":{\"minorUnits\":\"259900\",\"currency\":\"EUR\"},"
      "\"quantity\":12}}");
}

TEST(CodecTest, DecodeJsonAcceptsProtoNames) {
  absl::StatusOr<Envelope> e =
      DecodeJson("{\"event_id\":\"a\",\"order_placed\":{\"order_id\":\"o\"}}");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->event_id(), "a");
  EXPECT_EQ(e->order_placed().order_id(), "o");
}

TEST(CodecTest, DecodeJsonRejectsUnknownField) {
  absl::StatusOr<Envelope> e = DecodeJson("{\"eventId\":\"a\",\"bogus\":1}");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(),
            "not a valid crm.v1.Envelope JSON object: bogus: Cannot find "
            "field.");
}

TEST(CodecTest, DecodeBinaryRejectsGarbage) {
  // Field 1 (string) claims 100 bytes but only 2 follow.
  absl::StatusOr<Envelope> e = DecodeBinary(std::string("\x0a\x64xy", 4));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(),
            "not a valid crm.v1.Envelope: 4 bytes do not parse as the "
            "protobuf binary encoding");
}

TEST(CodecTest, DecodeBinaryKeepsUnknownEnumNumbers) {
  Envelope e = crm::testing::CallLoggedEvent();
  e.set_channel(static_cast<crm::v1::Channel>(42));
  absl::StatusOr<Envelope> back = DecodeBinary(EncodeBinary(e));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->channel(), 42);
  EXPECT_EQ(Validate(*back).message(),
            "channel: must be a known Channel value, got 42");
}

TEST(CodecTest, EncodeJsonFailsOnTimestampJsonCannotHold) {
  Envelope e = crm::testing::CallLoggedEvent();
  e.mutable_occurred_at()->set_seconds(-62135596801);  // before year 1
  absl::StatusOr<std::string> json = EncodeJson(e);
  ASSERT_FALSE(json.ok());
  EXPECT_THAT(std::string(json.status().message()),
              HasSubstr("cannot write crm.v1.Envelope as JSON: "));
}

// CSV of a few kinds: every field of the body in its own column.
struct CsvCase {
  std::string header;
  std::string row;
  Envelope expected;
};

std::vector<CsvCase> CsvCases() {
  std::vector<CsvCase> cases;
  {
    Envelope e = crm::testing::OrderPlacedEvent();
    cases.push_back(
        {"event_id,customer_id,occurred_at,recorded_at,channel,actor,"
         "schema_version,order_placed.order_id,order_placed.amount.minor_units,"
         "order_placed.amount.currency,order_placed.gross_profit.minor_units,"
         "order_placed.gross_profit.currency,order_placed.discount.minor_units,"
         "order_placed.discount.currency,orderPlaced.financingCost.minorUnits,"
         "orderPlaced.financingCost.currency,order_placed.quantity,"
         "order_placed.product_category",
         "evt-order-1,cust-0001,2026-03-01T09:30:00Z,"
         "2026-03-01T09:31:00.000000250Z,CHANNEL_ERP,rep-017,1,ord-1001,"
         "259900,EUR,-1500,EUR,10000,EUR,1200,EUR,12,beverages",
         e});
  }
  {
    Envelope e = crm::testing::CallLoggedEvent();
    cases.push_back(
        {"eventId,customerId,occurredAt,recordedAt,channel,actor,schemaVersion,"
         "callLogged.direction,callLogged.durationSeconds,callLogged.outcome",
         "evt-call-1,cust-0001,2026-03-01T09:30:00Z,"
         "2026-03-01T10:31:00.000000250+01:00,2,rep-017,1,"
         "CALL_DIRECTION_OUTBOUND,312,1",
         e});
  }
  {
    Envelope e = crm::testing::SurveyAnsweredEvent();
    cases.push_back(
        {"event_id,customer_id,occurred_at,recorded_at,channel,"
         "actor,schema_version,survey_answered.survey_id,"
         "survey_answered.csat,survey_answered.nps",
         "evt-survey-1,cust-0001,2026-03-01T09:30:00Z,"
         "2026-03-01T09:31:00.00000025Z,CHANNEL_EMAIL,rep-017,1,"
         "srv-2026q1,4,0",
         e});
  }
  {
    Envelope e = crm::testing::ComplaintOpenedEvent();
    e.mutable_complaint_opened()->set_summary("Late, \"again\",\nsee mail");
    cases.push_back(
        {"event_id,customer_id,occurred_at,recorded_at,channel,actor,"
         "schema_version,complaint_opened.complaint_id,"
         "complaint_opened.severity,complaint_opened.category,"
         "complaint_opened.raised_via,complaint_opened.summary",
         "evt-compl-1,cust-0001,2026-03-01T09:30:00Z,"
         "2026-03-01T09:31:00.000000250Z,CHANNEL_EMAIL,rep-017,1,cmp-77,"
         "COMPLAINT_SEVERITY_HIGH,COMPLAINT_CATEGORY_DELIVERY,CHANNEL_EMAIL,"
         "\"Late, \"\"again\"\",\nsee mail\"",
         e});
  }
  return cases;
}

TEST(CodecTest, CsvRowsDecodeToTheSameEventsWithBothParsers) {
  for (JsonParser parser : {JsonParser::kFast, JsonParser::kProtobuf}) {
    for (const CsvCase& c : CsvCases()) {
      ReaderOptions options;
      options.json_parser = parser;
      auto reader = RecordReader::FromString(
          "in.csv", c.header + "\r\n" + c.row + "\r\n", options);
      ASSERT_TRUE(reader.ok());
      Record r;
      absl::StatusOr<bool> more = (*reader)->Next(&r);
      ASSERT_TRUE(more.ok() && *more) << more.status();
      ASSERT_TRUE(r.status.ok()) << c.header << "\n" << r.status;
      EXPECT_EQ(r.line, 2);
      EXPECT_EQ(EncodeBinary(r.event), EncodeBinary(c.expected))
          << r.event.DebugString() << "\nvs\n"
          << c.expected.DebugString();
      more = (*reader)->Next(&r);
      ASSERT_TRUE(more.ok());
      EXPECT_FALSE(*more);
    }
  }
}

}  // namespace
}  // namespace crm::event
