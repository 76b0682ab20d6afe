#include "projections/projector.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/time_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "projections/enum_names.h"
#include "projections/grade/revenue_ledger.h"
#include "projections/population/population.h"
#include "projections/rules/rules.h"
#include "projections/rules/units.h"
#include "tests/projections/builders.h"

namespace crm::projections {
namespace {

using testing::Day;
using testing::Event;

// Deterministic serialization of a message.
std::string Bytes(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream os(&out);
    google::protobuf::io::CodedOutputStream cos(&os);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return out;
}

std::string Bytes(const std::vector<v1::Transition>& ts) {
  std::string out;
  for (const auto& t : ts) out += Bytes(t) + "|";
  return out;
}

// "from>to@time" of each lifecycle change, for compact exact comparisons.
std::vector<std::string> StageHistory(const v1::CustomerState& s) {
  std::vector<std::string> out;
  for (const auto& c : s.views().lifecycle().history()) {
    out.push_back(absl::StrCat(v1::LifecycleStage_Name(c.from()).substr(16),
                               ">", v1::LifecycleStage_Name(c.to()).substr(16),
                               "@", FormatRfc3339(FromProto(c.at()))));
  }
  return out;
}

// "from>to@time (why)" of one grade dimension's changes.
std::vector<std::string> GradeHistory(const v1::CustomerState& s,
                                      const std::string& dimension) {
  std::vector<std::string> out;
  for (const auto& c : s.views().grade().history()) {
    if (c.dimension() != dimension) continue;
    out.push_back(absl::StrCat(c.from(), ">", c.to(), "@",
                               FormatRfc3339(FromProto(c.at())), " (", c.why(),
                               ")"));
  }
  return out;
}

class ProjectorTest : public ::testing::Test {
 protected:
  std::vector<v1::Transition> Apply(const v1::Envelope& e) {
    absl::StatusOr<std::vector<v1::Transition>> r =
        ApplyEvent(e, rules_, &state_);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<v1::Transition>{};
  }
  std::vector<v1::Transition> Advance(absl::Time t) {
    return AdvanceTo(t, rules_, &state_);
  }
  v1::Rules rules_ = DefaultRules();
  v1::CustomerState state_;
  const absl::Time t0_ = Day(2026, 1, 5, absl::Hours(10));
};

TEST_F(ProjectorTest, LifecycleJourneyWithExactTimes) {
  Apply(Event("e1", t0_).Registered("Acme"));
  Apply(Event("e2", t0_ + Days(1)).Lead());
  Apply(Event("e3", t0_ + Days(2)).Order("o1", 1000000, 300000));
  Apply(Event("e4", t0_ + Days(50)).Order("o2", 1000000, 300000));
  const auto t = Advance(t0_ + Days(250));
  // Each time-driven change is stamped at its window boundary, with no
  // event id.
  std::vector<std::string> stage_changes;
  for (const auto& tr : t) {
    if (tr.kind() != v1::TRANSITION_KIND_LIFECYCLE_STAGE_CHANGED) continue;
    EXPECT_EQ(tr.event_id(), "");
    EXPECT_EQ(tr.customer_id(), "c1");
    EXPECT_EQ(tr.rules_version(), "2026-12-default");
    stage_changes.push_back(
        absl::StrCat(tr.to(), "@", FormatRfc3339(FromProto(tr.at()))));
  }
  EXPECT_THAT(
      stage_changes,
      ::testing::ElementsAre("LIFECYCLE_STAGE_ACTIVE@2026-04-07T10:00:00Z",
                             "LIFECYCLE_STAGE_AT_RISK@2026-05-25T10:00:00Z",
                             "LIFECYCLE_STAGE_CHURNED@2026-08-23T10:00:00Z"));
  Apply(Event("e5", t0_ + Days(300)).Order("o3", 1000000, 300000));
  Apply(Event("e6", t0_ + Days(350)).Order("o4", 1000000, 300000));
  Apply(Event("e7", t0_ + Days(380)).Order("o5", 1000000, 300000));
  EXPECT_EQ(state_.views().lifecycle().stage(), v1::LIFECYCLE_STAGE_WON_BACK);
  Advance(t0_ + Days(400));
  EXPECT_THAT(
      StageHistory(state_),
      ::testing::ElementsAre("UNSPECIFIED>PROSPECT@2026-01-05T10:00:00Z",
                             "PROSPECT>LEAD@2026-01-06T10:00:00Z",
                             "LEAD>NEW@2026-01-07T10:00:00Z",
                             "NEW>ACTIVE@2026-04-07T10:00:00Z",
                             "ACTIVE>AT_RISK@2026-05-25T10:00:00Z",
                             "AT_RISK>CHURNED@2026-08-23T10:00:00Z",
                             "CHURNED>WON_BACK@2026-11-01T10:00:00Z",
                             "WON_BACK>LOYAL@2027-01-30T10:00:00Z"));
  const auto& lc = state_.views().lifecycle();
  EXPECT_EQ(lc.orders(), 5u);
  EXPECT_EQ(lc.time_in_stage_seconds(), 10 * kSecondsPerDay);
  EXPECT_EQ(lc.stage_why(), "5 orders >= loyal_min_orders 5");
  EXPECT_EQ(FromProto(lc.first_order_at()), t0_ + Days(2));
  EXPECT_EQ(FromProto(lc.last_order_at()), t0_ + Days(380));
  EXPECT_EQ(lc.history(6).why(),
            "ordered again after 180+ days without an order");
}

TEST_F(ProjectorTest, ValueTierHistoryWithOverrideExpiryAndWindowDecay) {
  Apply(Event("e1", Day(2026, 1, 1)).Registered("Acme"));
  Apply(Event("e2", Day(2026, 1, 10, absl::Hours(9)))
            .Order("o1", 15000000, 4000000));
  Apply(Event("e3", Day(2026, 3, 1)).Order("o2", 10000000, 2000000));
  const auto regrade = Apply(
      Event("e4", Day(2026, 4, 1))
          .RegradeTier(v1::VALUE_TIER_VIP, "board decision", Day(2026, 5, 1)));
  ASSERT_FALSE(regrade.empty());
  EXPECT_EQ(state_.views().grade().value_tier(), v1::VALUE_TIER_VIP);
  EXPECT_EQ(state_.views().grade().computed_value_tier(), v1::VALUE_TIER_LARGE);
  ASSERT_EQ(state_.views().grade().overrides_size(), 1);
  EXPECT_EQ(state_.views().grade().overrides(0).event_id(), "e4");
  Advance(Day(2026, 4, 30, absl::Hours(23)));
  EXPECT_EQ(state_.views().grade().value_tier(), v1::VALUE_TIER_VIP);
  Advance(Day(2027, 2, 1));
  EXPECT_EQ(state_.views().grade().overrides_size(), 0);
  EXPECT_THAT(
      GradeHistory(state_, "value_tier"),
      ::testing::ElementsAre(
          "VALUE_TIER_UNSPECIFIED>VALUE_TIER_MEDIUM@2026-01-10T09:00:00Z "
          "(revenue_window 15000000 >= medium_min_minor 2000000)",
          "VALUE_TIER_MEDIUM>VALUE_TIER_LARGE@2026-03-01T00:00:00Z "
          "(revenue_window 25000000 >= large_min_minor 20000000)",
          "VALUE_TIER_LARGE>VALUE_TIER_VIP@2026-04-01T00:00:00Z "
          "(manual: board decision)",
          "VALUE_TIER_VIP>VALUE_TIER_LARGE@2026-05-01T00:00:00Z "
          "(override expired)",
          // o1 leaves the 365-day window at 00:00 on 2027-01-10.
          "VALUE_TIER_LARGE>VALUE_TIER_MEDIUM@2027-01-10T00:00:00Z "
          "(revenue_window 10000000 >= medium_min_minor 2000000)"));
  EXPECT_EQ(state_.views().grade().revenue_window().minor_units(), 10000000);
  EXPECT_EQ(state_.views().grade().revenue_prior_window().minor_units(),
            15000000);
  EXPECT_EQ(state_.views().grade().revenue_total().minor_units(), 25000000);
  EXPECT_EQ(state_.views().grade().revenue_total().currency(), "USD");
  for (const auto& c : state_.views().grade().history()) {
    EXPECT_EQ(c.rules_version(), "2026-12-default");
  }
}

TEST_F(ProjectorTest, ManualRegradeRecordedEvenWithoutChange) {
  Apply(Event("e1", t0_).Order("o1", 100, 50));
  const auto t = Apply(
      Event("e2", t0_ + Days(1)).RegradeTier(v1::VALUE_TIER_SMALL, "confirm"));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].dimension(), "value_tier");
  EXPECT_EQ(t[0].from(), "VALUE_TIER_SMALL");
  EXPECT_EQ(t[0].to(), "VALUE_TIER_SMALL");
  EXPECT_EQ(t[0].why(), "manual: confirm");
  EXPECT_EQ(t[0].event_id(), "e2");
}

TEST_F(ProjectorTest, StarsAndClassOverrides) {
  Apply(Event("e1", t0_).Order("o1", 100, 50));
  const uint32_t computed = state_.views().grade().computed_stars();
  ASSERT_GE(computed, 1u);
  Apply(Event("e2", t0_ + Days(1)).RegradeStars(5, "strategic"));
  EXPECT_EQ(state_.views().grade().stars(), 5u);
  EXPECT_EQ(state_.views().grade().computed_stars(), computed);
  Apply(Event("e3", t0_ + Days(2))
            .RegradeClass(v1::CUSTOMER_CLASS_KEY, "new flagship"));
  EXPECT_EQ(state_.views().grade().customer_class(), v1::CUSTOMER_CLASS_KEY);
  // Key customers get a return visit every 30 days (from registration,
  // here the first event, as there was no visit).
  EXPECT_EQ(FromProto(state_.views().card().next_follow_up_at()),
            t0_ + Days(30));
  EXPECT_EQ(state_.views().grade().overrides_size(), 2);
}

TEST_F(ProjectorTest, CancellationAndReturnsNetRevenue) {
  Apply(Event("e1", t0_).Registered("Acme"));
  Apply(Event("e2", t0_ + absl::Hours(1)).Order("o1", 3000000, 1000000));
  EXPECT_EQ(state_.views().grade().value_tier(), v1::VALUE_TIER_MEDIUM);
  Apply(Event("e3", t0_ + Days(3)).Return("o1", 1500000));
  EXPECT_EQ(state_.views().grade().value_tier(), v1::VALUE_TIER_SMALL);
  EXPECT_EQ(state_.views().grade().revenue_window().minor_units(), 1500000);
  EXPECT_EQ(state_.views().grade().gross_profit_window().minor_units(), 500000);
  Apply(Event("e4", t0_ + Days(4)).Cancel("o1"));
  EXPECT_EQ(state_.views().grade().value_tier(), v1::VALUE_TIER_UNSPECIFIED);
  EXPECT_EQ(state_.views().grade().revenue_total().minor_units(), 0);
  EXPECT_EQ(state_.views().grade().net_profit_total().minor_units(), 0);
  EXPECT_EQ(state_.views().lifecycle().orders(), 0u);
  EXPECT_EQ(state_.views().lifecycle().stage(), v1::LIFECYCLE_STAGE_PROSPECT);
  EXPECT_EQ(state_.views().grade().prospect_grade(), v1::PROSPECT_GRADE_D);
  Apply(Event("e5", t0_ + Days(5)).Cancel("unknown"));
  EXPECT_EQ(state_.facts().unmatched_adjustments(), 1u);
  EXPECT_EQ(state_.facts().orders_cancelled(), 1u);
}

TEST_F(ProjectorTest, SlaBreachFoundByAdvanceTo) {
  Apply(Event("e1", t0_).Complaint("k1", v1::COMPLAINT_SEVERITY_HIGH));
  EXPECT_TRUE(Advance(t0_ + absl::Hours(24) - absl::Seconds(1)).empty());
  const auto t = Advance(t0_ + absl::Hours(30));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].kind(), v1::TRANSITION_KIND_SLA_BREACHED);
  EXPECT_EQ(t[0].subject_id(), "k1");
  EXPECT_EQ(t[0].dimension(), "COMPLAINT_SEVERITY_HIGH");
  EXPECT_EQ(FromProto(t[0].at()), t0_ + absl::Hours(24));
  EXPECT_EQ(t[0].why(), "not resolved within 24h");
  EXPECT_EQ(t[0].event_id(), "");
  // Resolving later adds no second breach.
  const auto r = Apply(Event("e2", t0_ + absl::Hours(31)).Resolved("k1"));
  for (const auto& tr : r) {
    EXPECT_NE(tr.kind(), v1::TRANSITION_KIND_SLA_BREACHED);
  }
  const auto& sat = state_.views().satisfaction();
  EXPECT_EQ(sat.sla_breaches(), 1u);
  EXPECT_EQ(sat.breaches_by_severity().high(), 1u);
  EXPECT_DOUBLE_EQ(sat.avg_resolution_hours(), 31);
  // Satisfaction degree: no survey (50) - 5 for the breach.
  EXPECT_DOUBLE_EQ(sat.satisfaction_degree(), 45);
}

TEST_F(ProjectorTest, SlaBreachDetectedWhenResolutionEventComesFirst) {
  // No AdvanceTo in between: ApplyEvent advances to the resolution time
  // first, which finds the breach at the due time.
  Apply(Event("e1", t0_).Complaint("k1", v1::COMPLAINT_SEVERITY_CRITICAL));
  const auto t = Apply(Event("e2", t0_ + absl::Hours(5)).Resolved("k1"));
  ASSERT_GE(t.size(), 1u);
  EXPECT_EQ(t[0].kind(), v1::TRANSITION_KIND_SLA_BREACHED);
  EXPECT_EQ(FromProto(t[0].at()), t0_ + absl::Hours(4));
  EXPECT_EQ(state_.views().satisfaction().sla_breaches(), 1u);
}

TEST_F(ProjectorTest, ProspectGradeFollowsOpportunities) {
  Apply(Event("e1", t0_).Registered("Acme"));
  EXPECT_EQ(state_.views().grade().prospect_grade(), v1::PROSPECT_GRADE_D);
  Apply(Event("e2", t0_ + Days(1))
            .Opportunity("op1", v1::OPPORTUNITY_STAGE_PROPOSAL, 60));
  EXPECT_EQ(state_.views().grade().prospect_grade(), v1::PROSPECT_GRADE_B);
  EXPECT_EQ(state_.views().lifecycle().stage(), v1::LIFECYCLE_STAGE_LEAD);
  Apply(Event("e3", t0_ + Days(2))
            .Opportunity("op1", v1::OPPORTUNITY_STAGE_NEGOTIATION, 80));
  EXPECT_EQ(state_.views().grade().prospect_grade(), v1::PROSPECT_GRADE_A);
  Apply(Event("e4", t0_ + Days(3))
            .Opportunity("op1", v1::OPPORTUNITY_STAGE_CLOSED_LOST, 0));
  EXPECT_EQ(state_.views().grade().prospect_grade(), v1::PROSPECT_GRADE_D);
  EXPECT_THAT(GradeHistory(state_, "prospect_grade"),
              ::testing::ElementsAre(
                  "PROSPECT_GRADE_UNSPECIFIED>PROSPECT_GRADE_D@2026-01-05T10:"
                  "00:00Z (no open opportunity)",
                  "PROSPECT_GRADE_D>PROSPECT_GRADE_B@2026-01-06T10:00:00Z "
                  "(opportunity op1 at 60% in OPPORTUNITY_STAGE_PROPOSAL)",
                  "PROSPECT_GRADE_B>PROSPECT_GRADE_A@2026-01-07T10:00:00Z "
                  "(opportunity op1 at 80% in OPPORTUNITY_STAGE_NEGOTIATION)",
                  "PROSPECT_GRADE_A>PROSPECT_GRADE_D@2026-01-08T10:00:00Z "
                  "(no open opportunity)"));
}

TEST_F(ProjectorTest, WalletQuadrantAndDependence) {
  Apply(Event("e1", t0_).Order("o1", 6000000, 1000000));
  Apply(Event("e2", t0_ + Days(1)).Wallet(10000000, 20000000));
  const auto& g = state_.views().grade();
  EXPECT_EQ(g.wallet_quadrant(), v1::WALLET_QUADRANT_KEEP);
  EXPECT_EQ(g.wallet_strategy(), "keep");
  EXPECT_DOUBLE_EQ(g.share_of_wallet(), 0.6);
  EXPECT_DOUBLE_EQ(state_.views().satisfaction().dependence_degree(), 60);
  Apply(Event("e3", t0_ + Days(2)).Wallet(20000000, 20000000));
  EXPECT_EQ(state_.views().grade().wallet_quadrant(),
            v1::WALLET_QUADRANT_DEVELOP);
}

TEST_F(ProjectorTest, CardFollowUpAndCredit) {
  v1::CustomerProfile p;
  p.mutable_birthday()->set_month(3);
  p.mutable_birthday()->set_day(1);
  Apply(Event("e1", t0_).Registered("Acme", "am7"));
  Apply(Event("e2", t0_ + Days(1)).Profile(p));
  Apply(Event("e3", t0_ + Days(2)).VisitWithFollowUp(t0_ + Days(10)));
  auto& card = state_.views().card();
  EXPECT_EQ(card.next_follow_up_reason(), "follow-up requested");
  EXPECT_EQ(FromProto(card.next_follow_up_at()), t0_ + Days(10));
  EXPECT_EQ(card.profile().name(), "Acme");
  EXPECT_EQ(card.profile().birthday().month(), 3);
  // A later visit without a follow-up clears the request: the birthday
  // (1 March - 7 days) is next.
  Apply(Event("e4", t0_ + Days(3)).Visit(v1::VISIT_KIND_ON_SITE));
  EXPECT_EQ(card.next_follow_up_reason(), "birthday");
  EXPECT_EQ(FromProto(card.next_follow_up_at()), Day(2026, 2, 22));
  EXPECT_EQ(card.visits().count(), 2u);
  Apply(Event("e5", t0_ + Days(4)).Payment("i1", 500, 3, 100));
  EXPECT_EQ(card.credit().late_payments(), 1u);
  EXPECT_EQ(card.credit().outstanding().minor_units(), 100);
  EXPECT_EQ(card.rules_version(), "2026-12-default");
}

TEST_F(ProjectorTest, RejectsBadEventsAndLeavesStateUnchanged) {
  Apply(Event("e1", t0_).Registered("Acme"));
  const std::string before = Bytes(state_);
  v1::Envelope eur = Event("e2", t0_).Order("o1", 100).envelope();
  eur.mutable_order_placed()->mutable_amount()->set_currency("EUR");
  auto r = ApplyEvent(eur, rules_, &state_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "event e2: order_placed.amount.currency: must be \"USD\" (the "
            "rules currency), got \"EUR\"");
  r = ApplyEvent(Event("e3", t0_, "c2").Call(), rules_, &state_);
  EXPECT_EQ(r.status().message(),
            "event e3: customer_id: must be \"c1\" (the state's customer), got "
            "\"c2\"");
  v1::Envelope empty = Event("e4", t0_);
  EXPECT_EQ(ApplyEvent(empty, rules_, &state_).status().message(),
            "event e4: body: must be set");
  v1::Envelope no_time = Event("e5", t0_).Call();
  no_time.clear_occurred_at();
  EXPECT_EQ(ApplyEvent(no_time, rules_, &state_).status().message(),
            "event e5: occurred_at: must be set");
  EXPECT_EQ(Bytes(state_), before);
}

TEST_F(ProjectorTest, LateEventIsAppliedAtStateTime) {
  Apply(Event("e1", t0_ + Days(10)).Call());
  const auto t = Apply(Event("e2", t0_).Order("o1", 3000000, 100));
  EXPECT_EQ(state_.views().grade().value_tier(), v1::VALUE_TIER_MEDIUM);
  for (const auto& tr : t) {
    EXPECT_EQ(FromProto(tr.at()), t0_ + Days(10)) << tr.dimension();
  }
  EXPECT_EQ(FromProto(state_.facts().as_of()), t0_ + Days(10));
  EXPECT_EQ(FromProto(state_.views().lifecycle().last_order_at()), t0_);
}

TEST_F(ProjectorTest, PopulationPassRoundTrip) {
  v1::CustomerState a, b;
  const absl::Time t = Day(2026, 6, 1);
  ASSERT_TRUE(
      ApplyEvent(Event("a1", t, "a").Order("o", 9000, 10), rules_, &a).ok());
  ASSERT_TRUE(
      ApplyEvent(Event("b1", t, "b").Order("o", 1000, 10), rules_, &b).ok());
  const absl::Time as_of = t + Days(1);
  AdvanceTo(as_of, rules_, &a);
  AdvanceTo(as_of, rules_, &b);
  const v1::PopulationFacts fa = ExtractPopulationFacts(a, rules_, as_of);
  EXPECT_EQ(fa.customer_id(), "a");
  EXPECT_EQ(fa.revenue_window_minor(), 9000);
  EXPECT_TRUE(fa.has_orders());
  EXPECT_EQ(fa.recency_days(), 1);
  EXPECT_EQ(fa.frequency(), 1);
  EXPECT_EQ(fa.monetary_minor(), 9000);
  auto pop = ClassifyPopulation({fa, ExtractPopulationFacts(b, rules_, as_of)},
                                rules_, as_of);
  ASSERT_TRUE(pop.ok());
  // a: rank 1, A; key = round(2 * 25%) = 1 (half up).
  auto ta = ApplyPopulationEntry(pop->entries(0), as_of, rules_, &a);
  ASSERT_TRUE(ta.ok()) << ta.status();
  EXPECT_EQ(a.views().grade().abc(), v1::ABC_CLASS_A);
  EXPECT_EQ(a.views().grade().customer_class(), v1::CUSTOMER_CLASS_KEY);
  EXPECT_DOUBLE_EQ(a.views().satisfaction().contribution_degree(), 100);
  EXPECT_THAT(GradeHistory(a, "abc"),
              ::testing::ElementsAre("ABC_CLASS_UNSPECIFIED>ABC_CLASS_A@2026-"
                                     "06-02T00:00:00Z (population pass rank "
                                     "1)"));
  EXPECT_THAT(GradeHistory(a, "customer_class"),
              ::testing::ElementsAre("CUSTOMER_CLASS_UNSPECIFIED>CUSTOMER_"
                                     "CLASS_KEY@2026-06-02T00:00:00Z "
                                     "(population pass rank 1)"));
  EXPECT_EQ(ta->size(), 2u);
  // Key cadence (30 days) from the first event.
  EXPECT_EQ(FromProto(a.views().card().next_follow_up_at()), t + Days(30));
  auto tb = ApplyPopulationEntry(pop->entries(1), as_of, rules_, &b);
  ASSERT_TRUE(tb.ok());
  EXPECT_EQ(b.views().grade().abc(), v1::ABC_CLASS_B);  // 90% ranked above
  EXPECT_EQ(
      ApplyPopulationEntry(pop->entries(0), as_of, rules_, &b).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(ProjectorTest, WhatIfReplayUnderVip500kRules) {
  absl::StatusOr<v1::Rules> alt = LoadRulesFile(
      std::string(CRM_SOURCE_DIR) + "/deploy/rules/vip-500k.textproto");
  ASSERT_TRUE(alt.ok()) << alt.status();
  const std::vector<v1::Envelope> events = {
      Event("e1", t0_).Order("o1", 40000000, 8000000),
      Event("e2", t0_ + Days(30)).Order("o2", 20000000, 4000000)};
  v1::CustomerState base, what_if;
  for (const auto& e : events) {
    ASSERT_TRUE(ApplyEvent(e, rules_, &base).ok());
    ASSERT_TRUE(ApplyEvent(e, *alt, &what_if).ok());
  }
  // 600,000.00 in the window: LARGE today, VIP with the 500k floor.
  EXPECT_EQ(base.views().grade().value_tier(), v1::VALUE_TIER_LARGE);
  EXPECT_EQ(what_if.views().grade().value_tier(), v1::VALUE_TIER_VIP);
  EXPECT_EQ(base.views().grade().rules_version(), "2026-12-default");
  EXPECT_EQ(what_if.views().grade().rules_version(), "2026-12-vip-500k");
  EXPECT_EQ(what_if.views().lifecycle().rules_version(), "2026-12-vip-500k");
  EXPECT_EQ(what_if.views().grade().value_tier_why(),
            "revenue_window 60000000 >= vip_min_minor 50000000");
}

TEST_F(ProjectorTest, GrowthAgainstThePriorWindowMakesMgc) {
  // Orders of 20,000.00 in Jan 2025 and Jan 2026, 10,000.00 in June 2026.
  Apply(Event("e1", Day(2025, 1, 15)).Order("o1", 2000000, 500000));
  Apply(Event("e2", Day(2026, 1, 20)).Order("o2", 2000000, 500000));
  // The window ending 2026-01-20 starts 2025-01-21: o1 is in the prior
  // window. 2M vs 2M is no growth.
  EXPECT_EQ(state_.views().grade().value_class(), v1::VALUE_CLASS_NORMAL);
  // Window ending 2026-06-01: o2 + o3 = 3M vs prior o1 = 2M, 150%.
  Apply(Event("e3", Day(2026, 6, 1)).Order("o3", 1000000, 200000));
  EXPECT_EQ(state_.views().grade().revenue_window().minor_units(), 3000000);
  EXPECT_EQ(state_.views().grade().revenue_prior_window().minor_units(),
            2000000);
  EXPECT_EQ(state_.views().grade().value_class(), v1::VALUE_CLASS_MGC);
  EXPECT_EQ(state_.views().grade().value_class_why(),
            "revenue_window 3000000 >= 150% of revenue_prior_window 2000000");
  EXPECT_THAT(GradeHistory(state_, "value_class"),
              ::testing::ElementsAre(
                  "VALUE_CLASS_UNSPECIFIED>VALUE_CLASS_NORMAL@2025-01-15T00:"
                  "00:00Z (no class rule matched)",
                  "VALUE_CLASS_NORMAL>VALUE_CLASS_MGC@2026-06-01T00:00:00Z "
                  "(revenue_window 3000000 >= 150% of revenue_prior_window "
                  "2000000)"));
}

TEST_F(ProjectorTest, SurveysFeedSatisfactionAndStars) {
  Apply(Event("e1", t0_).Registered("Acme"));
  Apply(Event("e2", t0_ + Days(1)).Order("o1", 100000, 40000));
  Apply(Event("e3", t0_ + Days(2)).Csat(5));
  Apply(Event("e4", t0_ + Days(3)).Csat(2));
  Apply(Event("e5", t0_ + Days(4)).NpsScore(10));
  const auto& sat = state_.views().satisfaction();
  EXPECT_DOUBLE_EQ(sat.csat(), 50);
  EXPECT_DOUBLE_EQ(sat.nps(), 100);
  EXPECT_DOUBLE_EQ(sat.satisfaction_degree(), 75);  // (50 + 100) / 2
  EXPECT_DOUBLE_EQ(state_.views().grade().star_components().satisfaction(), 75);
  // Loyalty: 0 repeat orders, 4 days of tenure.
  EXPECT_DOUBLE_EQ(sat.loyalty_degree(), 50.0 * 4 / 1095);
  EXPECT_EQ(state_.views().card().surveys().count(), 3u);
}

TEST_F(ProjectorTest, RejectsEventsWithoutTheIdsTheyReferTo) {
  v1::Envelope e = Event("e9", t0_).Order("", 100);
  EXPECT_EQ(ApplyEvent(e, rules_, &state_).status().message(),
            "event e9: order_placed.order_id: must be set");
  e = Event("e9", t0_).Resolved("");
  EXPECT_EQ(ApplyEvent(e, rules_, &state_).status().message(),
            "event e9: complaint_resolved.complaint_id: must be set");
  e = Event("e9", t0_).RegradeTier(v1::VALUE_TIER_VIP, "x");
  e.mutable_customer_regraded()->clear_target();
  EXPECT_EQ(ApplyEvent(e, rules_, &state_).status().message(),
            "event e9: customer_regraded.target: exactly one must be set");
  e = Event("e9", t0_).RegradeStars(6, "x");
  EXPECT_EQ(ApplyEvent(e, rules_, &state_).status().message(),
            "event e9: customer_regraded.stars: must be 1..5, got 6");
  e = Event("e9", t0_).RegradeTier(v1::VALUE_TIER_UNSPECIFIED, "x");
  EXPECT_EQ(ApplyEvent(e, rules_, &state_).status().message(),
            "event e9: customer_regraded.value_tier: must not be UNSPECIFIED");
  EXPECT_EQ(Bytes(state_), "");  // nothing applied
}

// A deterministic mixed history of one customer over two years.
std::vector<v1::Envelope> History() {
  std::vector<v1::Envelope> out;
  const absl::Time start = Day(2025, 1, 3, absl::Hours(8));
  out.push_back(Event("r", start).Registered("Acme", "am1"));
  uint64_t x = 12345;
  auto next = [&x]() {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x >> 33;
  };
  absl::Time t = start;
  for (int i = 0; i < 150; ++i) {
    t += absl::Hours(1 + next() % 200);
    if (i == 60) t += Days(200);  // a churn gap
    const std::string id = absl::StrCat("e", i);
    switch (next() % 10) {
      case 0:
      case 1:
      case 2:
        out.push_back(Event(id, t).Order(absl::StrCat("o", i),
                                         100000 + next() % 9000000,
                                         next() % 300000, next() % 20000));
        break;
      case 3:
        out.push_back(Event(id, t).Cancel(absl::StrCat("o", i - 1)));
        break;
      case 4:
        out.push_back(Event(id, t).Return(absl::StrCat("o", i - 2), 50000));
        break;
      case 5:
        out.push_back(Event(id, t).Complaint(
            absl::StrCat("k", i),
            static_cast<v1::ComplaintSeverity>(1 + next() % 4)));
        break;
      case 6:
        out.push_back(Event(id, t).Resolved(absl::StrCat("k", i - 1)));
        break;
      case 7:
        out.push_back(Event(id, t).Csat(1 + next() % 5));
        break;
      case 8:
        out.push_back(
            Event(id, t).Wallet(next() % 50000000, next() % 50000000));
        break;
      default:
        out.push_back(Event(id, t).Visit(v1::VISIT_KIND_RETURN_VISIT));
    }
  }
  return out;
}

TEST_F(ProjectorTest, SameStateHoweverTheRuntimeInterleavesAndStores) {
  const std::vector<v1::Envelope> events = History();
  // Run A: one event at a time, in memory.
  v1::CustomerState a;
  std::string transitions_a;
  for (const auto& e : events) {
    auto r = ApplyEvent(e, rules_, &a);
    ASSERT_TRUE(r.ok()) << r.status();
    transitions_a += Bytes(*r);
  }
  // Run B: state stored and reloaded between events (as the runtime does),
  // with AdvanceTo queries at times between events.
  std::string stored;
  std::string transitions_b;
  for (size_t i = 0; i < events.size(); ++i) {
    v1::CustomerState b;
    ASSERT_TRUE(b.ParseFromString(stored));
    if (i > 0 && i % 3 == 0) {
      const absl::Time prev = FromProto(events[i - 1].occurred_at());
      const absl::Time cur = FromProto(events[i].occurred_at());
      transitions_b += Bytes(AdvanceTo(prev + (cur - prev) / 2, rules_, &b));
      transitions_b += Bytes(AdvanceTo(prev + (cur - prev) / 3, rules_, &b));
    }
    auto r = ApplyEvent(events[i], rules_, &b);
    ASSERT_TRUE(r.ok()) << r.status();
    transitions_b += Bytes(*r);
    stored = Bytes(b);
  }
  EXPECT_EQ(Bytes(a), stored);
  EXPECT_EQ(transitions_a, transitions_b);
  // The history exercised every view.
  EXPECT_GT(a.views().grade().history_size(), 5);
  EXPECT_GT(a.views().lifecycle().history_size(), 3);
  EXPECT_GT(a.views().satisfaction().complaints_opened(), 3u);
}

TEST_F(ProjectorTest, CountingTransitionsGivesTheSameStateAndCount) {
  v1::CustomerState built, counted;
  size_t raised = 0, total = 0;
  for (const auto& e : History()) {
    auto r = ApplyEvent(e, rules_, &built);
    ASSERT_TRUE(r.ok()) << r.status();
    auto n = ApplyEventToSink(e, rules_, &counted, nullptr);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, r->size()) << e.event_id();
    raised += *n;
    total += r->size();
  }
  EXPECT_EQ(Bytes(counted), Bytes(built));
  EXPECT_EQ(raised, total);
  EXPECT_GT(raised, 8u);
  // A rejected event: the same error, the state unchanged.
  const std::vector<v1::Envelope> events = History();
  auto order = std::find_if(events.begin(), events.end(),
                            [](const auto& e) { return e.has_order_placed(); });
  ASSERT_NE(order, events.end());
  v1::Envelope bad = *order;
  bad.mutable_order_placed()->mutable_amount()->set_currency("XXX");
  const std::string before = Bytes(counted);
  auto n = ApplyEventToSink(bad, rules_, &counted, nullptr);
  auto r = ApplyEvent(bad, rules_, &built);
  ASSERT_FALSE(n.ok());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(n.status(), r.status());
  EXPECT_EQ(Bytes(counted), before);
}

TEST_F(ProjectorTest, AdvanceToIsIdempotentAndSplittable) {
  const std::vector<v1::Envelope> events = History();
  for (const auto& e : events) ASSERT_TRUE(ApplyEvent(e, rules_, &state_).ok());
  const absl::Time last = FromProto(events.back().occurred_at());
  v1::CustomerState once = state_;
  const auto t_once = AdvanceTo(last + Days(800), rules_, &once);
  EXPECT_FALSE(t_once.empty());  // at-risk, churn, window decay...
  const std::string after_once = Bytes(once);
  EXPECT_TRUE(AdvanceTo(last + Days(800), rules_, &once).empty());
  EXPECT_EQ(Bytes(once), after_once);
  EXPECT_TRUE(AdvanceTo(last, rules_, &once).empty());  // back: no-op
  EXPECT_EQ(Bytes(once), after_once);
  // In steps: same state, same transitions.
  v1::CustomerState steps = state_;
  std::string t_steps;
  for (int d = 7; d <= 800; d += 7) {
    t_steps += Bytes(AdvanceTo(last + Days(d), rules_, &steps));
  }
  t_steps += Bytes(AdvanceTo(last + Days(800), rules_, &steps));
  EXPECT_EQ(Bytes(steps), after_once);
  EXPECT_EQ(t_steps, Bytes(t_once));
  EXPECT_EQ(once.views().lifecycle().stage(), v1::LIFECYCLE_STAGE_CHURNED);
  EXPECT_EQ(once.views().grade().revenue_window().minor_units(), 0);
  EXPECT_EQ(once.facts().buckets_size(), 0);  // pruned after the horizon
}

TEST_F(ProjectorTest, StateStaysCompact) {
  const std::vector<v1::Envelope> events = History();
  for (const auto& e : events) ASSERT_TRUE(ApplyEvent(e, rules_, &state_).ok());
  const size_t bytes = Bytes(state_).size();
  RecordProperty("state_bytes", static_cast<int>(bytes));
  RecordProperty("facts_bytes", static_cast<int>(Bytes(state_.facts()).size()));
  RecordProperty("grade_bytes",
                 static_cast<int>(Bytes(state_.views().grade()).size()));
  RecordProperty("grade_changes", state_.views().grade().history_size());
  RecordProperty("stage_changes", state_.views().lifecycle().history_size());
  RecordProperty("orders_kept", state_.facts().orders_size());
  RecordProperty("buckets", state_.facts().buckets_size());
  // 151 events over two years, ~45 orders: a few KiB, bounded by the
  // horizon and the retained-order cap, not by the event count.
  EXPECT_LT(bytes, 16 * 1024u);
  EXPECT_LE(state_.facts().buckets_size(), LedgerHorizonDays(rules_));
}

// The projector's constant enum name tables are protobuf's names.
TEST(EnumNamesTest, TablesMatchGeneratedNames) {
  for (int v = -1; v <= 12; ++v) {
    if (v1::ValueTier_IsValid(v)) {
      EXPECT_EQ(internal::ValueTierName(v),
                v1::ValueTier_Name(static_cast<v1::ValueTier>(v)));
    }
    if (v1::ProspectGrade_IsValid(v)) {
      EXPECT_EQ(internal::ProspectGradeName(v),
                v1::ProspectGrade_Name(static_cast<v1::ProspectGrade>(v)));
    }
    if (v1::ValueClass_IsValid(v)) {
      EXPECT_EQ(internal::ValueClassName(v),
                v1::ValueClass_Name(static_cast<v1::ValueClass>(v)));
    }
    if (v1::WalletQuadrant_IsValid(v)) {
      EXPECT_EQ(internal::WalletQuadrantName(v),
                v1::WalletQuadrant_Name(static_cast<v1::WalletQuadrant>(v)));
    }
    if (v1::CustomerClass_IsValid(v)) {
      EXPECT_EQ(internal::CustomerClassName(v),
                v1::CustomerClass_Name(static_cast<v1::CustomerClass>(v)));
    }
    if (v1::AbcClass_IsValid(v)) {
      EXPECT_EQ(internal::AbcClassName(v),
                v1::AbcClass_Name(static_cast<v1::AbcClass>(v)));
    }
    if (v1::LifecycleStage_IsValid(v)) {
      EXPECT_EQ(internal::LifecycleStageName(v),
                v1::LifecycleStage_Name(static_cast<v1::LifecycleStage>(v)));
    }
  }
  // Every table covers its enum.
  EXPECT_FALSE(v1::ValueTier_IsValid(5));
  EXPECT_FALSE(v1::ProspectGrade_IsValid(5));
  EXPECT_FALSE(v1::ValueClass_IsValid(5));
  EXPECT_FALSE(v1::WalletQuadrant_IsValid(5));
  EXPECT_FALSE(v1::CustomerClass_IsValid(4));
  EXPECT_FALSE(v1::AbcClass_IsValid(4));
  EXPECT_FALSE(v1::LifecycleStage_IsValid(9));
}

}  // namespace
}  // namespace crm::projections
