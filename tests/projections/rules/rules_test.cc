#include "projections/rules/rules.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace crm::projections {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

std::string RulesPath(const std::string& name) {
  return std::string(CRM_SOURCE_DIR) + "/deploy/rules/" + name;
}

// Validation message of `rules`, "" when valid.
std::string Problems(const v1::Rules& rules) {
  return std::string(ValidateRules(rules).message());
}

TEST(RulesTest, DefaultRulesAreValid) {
  EXPECT_TRUE(ValidateRules(DefaultRules()).ok())
      << ValidateRules(DefaultRules());
}

TEST(RulesTest, DefaultRulesEqualDeployFile) {
  absl::StatusOr<v1::Rules> file =
      LoadRulesFile(RulesPath("default.textproto"));
  ASSERT_TRUE(file.ok()) << file.status();
  std::string diff;
  MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(DefaultRules(), *file)) << diff;
}

TEST(RulesTest, Vip500kDiffersOnlyInVersionAndVipFloor) {
  absl::StatusOr<v1::Rules> alt =
      LoadRulesFile(RulesPath("vip-500k.textproto"));
  ASSERT_TRUE(alt.ok()) << alt.status();
  EXPECT_EQ(alt->version(), "2026-12-vip-500k");
  EXPECT_EQ(alt->value_tier().vip_min_minor(), 50000000);
  v1::Rules expected = DefaultRules();
  expected.set_version("2026-12-vip-500k");
  expected.mutable_value_tier()->set_vip_min_minor(50000000);
  EXPECT_TRUE(MessageDifferencer::Equals(expected, *alt));
}

TEST(RulesTest, LargeFloorMustBeBelowVip) {
  v1::Rules r = DefaultRules();
  r.mutable_value_tier()->set_large_min_minor(200000000);
  EXPECT_EQ(Problems(r),
            "value_tier.large_min_minor: must be < vip_min_minor (100000000), "
            "got 200000000");
  r.mutable_value_tier()->set_large_min_minor(100000000);  // equal: overlap
  EXPECT_EQ(Problems(r),
            "value_tier.large_min_minor: must be < vip_min_minor (100000000), "
            "got 100000000");
  r.mutable_value_tier()->set_large_min_minor(99999999);
  EXPECT_EQ(Problems(r), "");
}

TEST(RulesTest, MediumFloorMustBeBelowLargeAndPositive) {
  v1::Rules r = DefaultRules();
  r.mutable_value_tier()->set_medium_min_minor(20000000);
  EXPECT_EQ(Problems(r),
            "value_tier.medium_min_minor: must be < large_min_minor "
            "(20000000), got 20000000");
  r.mutable_value_tier()->set_medium_min_minor(0);
  EXPECT_EQ(Problems(r), "value_tier.medium_min_minor: must be > 0, got 0");
}

TEST(RulesTest, NegativeWindowsAreNamed) {
  v1::Rules r = DefaultRules();
  r.mutable_value_tier()->set_window_days(-5);
  r.mutable_rfm()->set_window_days(0);
  EXPECT_EQ(Problems(r),
            "value_tier.window_days: must be > 0, got -5; "
            "rfm.window_days: must be > 0, got 0");
}

TEST(RulesTest, MissingVersionAndEmptyCurrency) {
  v1::Rules r = DefaultRules();
  r.clear_version();
  r.clear_currency();
  EXPECT_EQ(Problems(r),
            "version: must be set, got \"\"; currency: must be a 3-letter "
            "upper-case ISO 4217 code, got \"\"");
  r = DefaultRules();
  r.set_currency("usd");
  EXPECT_EQ(Problems(r),
            "currency: must be a 3-letter upper-case ISO 4217 code, got "
            "\"usd\"");
}

TEST(RulesTest, WeightsMustSumToOneWithinTolerance) {
  v1::Rules r = DefaultRules();
  r.mutable_stars()->set_future_weight(0.3);
  EXPECT_EQ(Problems(r),
            "stars.current_weight + future_weight: weights must sum to 1 "
            "(within 1e-9), got 0.9");
  // Off by less than 1e-9: accepted.
  r.mutable_stars()->set_future_weight(0.4 + 5e-10);
  EXPECT_EQ(Problems(r), "");
  // Off by more: rejected.
  r.mutable_stars()->set_future_weight(0.4 + 2e-9);
  EXPECT_THAT(Problems(r), HasSubstr("stars.current_weight + future_weight"));
  r = DefaultRules();
  r.mutable_stars()->set_tenure_weight(0.5);
  EXPECT_EQ(Problems(r),
            "stars.industry_position_weight + tenure_weight + "
            "satisfaction_weight: weights must sum to 1 (within 1e-9), got "
            "1.2");
  r = DefaultRules();
  r.mutable_stars()->set_gross_profit_weight(1.1);
  r.mutable_stars()->set_sales_volume_weight(-0.3);
  EXPECT_EQ(Problems(r), "stars.sales_volume_weight: must be >= 0, got -0.3");
}

TEST(RulesTest, StarFloorsMustIncrease) {
  v1::Rules r = DefaultRules();
  r.mutable_stars()->set_star_floors(2, 40);
  EXPECT_EQ(Problems(r),
            "stars.star_floors[2]: must be > star_floors[1] (40), got 40");
  r.mutable_stars()->set_star_floors(2, 60);
  r.mutable_stars()->set_hysteresis(-1);
  EXPECT_EQ(Problems(r), "stars.hysteresis: must be >= 0, got -1");
  r.mutable_stars()->set_hysteresis(0);
  r.mutable_stars()->clear_star_floors();
  r.mutable_stars()->add_star_floors(50);
  EXPECT_EQ(Problems(r),
            "stars.star_floors: must have exactly 4 floors (for 2..5 stars), "
            "got 1");
}

TEST(RulesTest, AbcAndProspectOrdering) {
  v1::Rules r = DefaultRules();
  r.mutable_abc()->set_a_max_cumulative_pct(95);
  EXPECT_EQ(Problems(r),
            "abc.a_max_cumulative_pct: must be < b_max_cumulative_pct (95), "
            "got 95");
  r = DefaultRules();
  r.mutable_prospect()->set_b_min_win_pct(75);
  EXPECT_EQ(Problems(r),
            "prospect.b_min_win_pct: must be < a_min_win_pct (75), got 75");
  r = DefaultRules();
  r.mutable_prospect()->set_c_min_stage(v1::OPPORTUNITY_STAGE_NEGOTIATION);
  EXPECT_EQ(Problems(r),
            "prospect.c_min_stage: must be <= b_min_stage "
            "(OPPORTUNITY_STAGE_PROPOSAL), got "
            "OPPORTUNITY_STAGE_NEGOTIATION");
}

TEST(RulesTest, LifecycleWindowsMustNest) {
  v1::Rules r = DefaultRules();
  r.mutable_lifecycle()->set_churned_after_days(90);
  EXPECT_EQ(Problems(r),
            "lifecycle.churned_after_days: must be > at_risk_after_days (90), "
            "got 90");
}

TEST(RulesTest, SlaNeedsEverySeverityOnce) {
  v1::Rules r = DefaultRules();
  r.mutable_satisfaction()->mutable_sla()->RemoveLast();  // CRITICAL
  EXPECT_EQ(Problems(r),
            "satisfaction.sla: missing a rule for COMPLAINT_SEVERITY_CRITICAL");
  r = DefaultRules();
  r.mutable_satisfaction()->mutable_sla(3)->set_severity(
      v1::COMPLAINT_SEVERITY_HIGH);
  r.mutable_satisfaction()->mutable_sla(0)->set_resolve_within_hours(0);
  EXPECT_EQ(Problems(r),
            "satisfaction.sla[0].resolve_within_hours: must be > 0, got 0; "
            "satisfaction.sla[3].severity: duplicate COMPLAINT_SEVERITY_HIGH; "
            "satisfaction.sla: missing a rule for COMPLAINT_SEVERITY_CRITICAL");
}

TEST(RulesTest, ClassSharesAndHolidays) {
  v1::Rules r = DefaultRules();
  r.mutable_classes()->set_special_pct(80);
  EXPECT_EQ(Problems(r),
            "classes.special_pct: must be <= 100 - key_pct (75), got 80");
  r = DefaultRules();
  r.mutable_follow_up()->mutable_holidays(0)->set_day(32);
  EXPECT_EQ(Problems(r),
            "follow_up.holidays[0]: must be a yearly date (year 0, valid "
            "month/day), got 0-1-32");
}

TEST(RulesTest, ParseErrorNamesSourceLineAndColumn) {
  absl::StatusOr<v1::Rules> r =
      ParseRules("version: \"x\"\nvalue_tier { window_dayz: 3 }\n", "r.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "r.txt:2:25: Message type \"crm.v1.ValueTierRules\" has no field "
            "named \"window_dayz\".");
}

TEST(RulesTest, ParseValidatesAndPrefixesSource) {
  std::string text;
  ASSERT_TRUE(
      google::protobuf::TextFormat::PrintToString(DefaultRules(), &text));
  EXPECT_TRUE(ParseRules(text).ok());
  v1::Rules bad = DefaultRules();
  bad.clear_version();
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(bad, &text));
  absl::StatusOr<v1::Rules> r = ParseRules(text, "x.textproto");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "x.textproto: version: must be set, got \"\"");
}

TEST(RulesTest, MissingFileIsNotFound) {
  absl::StatusOr<v1::Rules> r = LoadRulesFile("/nonexistent/rules.textproto");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(),
            "rules file /nonexistent/rules.textproto: cannot be opened");
}

}  // namespace
}  // namespace crm::projections
