#include "tools/generator/json_writer.h"

#include <string>

#include "gtest/gtest.h"
#include "tools/generator/generator.h"

namespace crm::generator {
namespace {

namespace v1 = ::crm::v1;

std::string Fast(const v1::Envelope& e) {
  std::string s;
  AppendEnvelopeJson(e, &s);
  return s;
}

std::string Reference(const v1::Envelope& e) {
  std::string s;
  EXPECT_TRUE(AppendEnvelopeJsonByReflection(e, &s));
  return s;
}

// The writer must print exactly what protobuf prints, for every event the
// generator makes: all kinds, all optional parts.
TEST(JsonWriterTest, IdenticalToProtobufForGeneratedHistory) {
  GeneratorOptions o;
  o.customers = 1500;
  o.months = 24;
  o.seed = 77;
  auto gen = Generator::Create(o);
  ASSERT_TRUE(gen.ok());
  v1::Envelope e;
  int64_t n = 0;
  int nps_zero = 0;
  while ((*gen)->Next(&e)) {
    ASSERT_EQ(Fast(e), Reference(e)) << e.ShortDebugString();
    if (e.has_survey_answered() && e.survey_answered().has_nps() &&
        e.survey_answered().nps() == 0) {
      ++nps_zero;
    }
    ++n;
  }
  EXPECT_GT(n, 30000);
  EXPECT_GT(nps_zero, 0);  // a present zero is printed
}

TEST(JsonWriterTest, HandlesDefaultsOneofsAndPresence) {
  v1::Envelope e;
  EXPECT_EQ(Fast(e), "{}");
  EXPECT_EQ(Fast(e), Reference(e));

  e.set_event_id("e1");
  e.mutable_occurred_at()->set_seconds(0);
  e.mutable_customer_regraded()->set_stars(0);  // set oneof holding zero
  EXPECT_EQ(Fast(e), Reference(e));
  e.mutable_customer_regraded()->set_value_tier(v1::VALUE_TIER_UNSPECIFIED);
  EXPECT_EQ(Fast(e), Reference(e));

  e.mutable_survey_answered()->set_nps(0);
  e.mutable_survey_answered()->set_csat(5);
  EXPECT_EQ(Fast(e), Reference(e));

  e.mutable_order_placed()->mutable_amount();  // present, empty
  e.mutable_order_placed()->mutable_gross_profit()->set_minor_units(-42);
  EXPECT_EQ(Fast(e), Reference(e));

  e.mutable_profile_updated()->mutable_profile()->mutable_birthday();
  e.mutable_profile_updated()->mutable_profile()->add_contacts();
  EXPECT_EQ(Fast(e), Reference(e));

  e.set_channel(static_cast<v1::Channel>(99));  // not a value of the enum
  EXPECT_EQ(Fast(e), Reference(e));
  e.mutable_occurred_at()->set_seconds(253402300799LL);  // 9999-12-31
  EXPECT_EQ(Fast(e), Reference(e));
}

TEST(JsonWriterTest, FallsBackForWhatItDoesNotRender) {
  v1::Envelope e;
  e.set_event_id("quote\" back\\slash <tag> & tab\t \xc3\xa9 \x01");
  e.mutable_occurred_at()->set_seconds(1700000000);
  e.mutable_occurred_at()->set_nanos(120000000);
  e.mutable_visit_logged()->set_notes("line\nbreak");
  e.mutable_recorded_at()->set_seconds(-5);
  EXPECT_EQ(Fast(e), Reference(e));
}

}  // namespace
}  // namespace crm::generator
