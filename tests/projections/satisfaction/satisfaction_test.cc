#include "projections/satisfaction/satisfaction.h"

#include "absl/strings/str_cat.h"
#include "engine/base/time_util.h"
#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "tests/projections/builders.h"

namespace crm::projections {
namespace {

using testing::Day;
using testing::Event;

class SatisfactionTest : public ::testing::Test {
 protected:
  std::vector<SlaBreach> Apply(const v1::Envelope& e) {
    return ApplyToSatisfaction(e, rules_, &view_);
  }
  const v1::Rules rules_ = DefaultRules();
  v1::SatisfactionView view_;
  const absl::Time t0_ = Day(2026, 4, 1, absl::Hours(9));
};

TEST_F(SatisfactionTest, SlaDueTimesBySeverity) {
  EXPECT_EQ(SlaWindow(v1::COMPLAINT_SEVERITY_LOW, rules_), absl::Hours(120));
  EXPECT_EQ(SlaWindow(v1::COMPLAINT_SEVERITY_MEDIUM, rules_), absl::Hours(72));
  EXPECT_EQ(SlaWindow(v1::COMPLAINT_SEVERITY_HIGH, rules_), absl::Hours(24));
  EXPECT_EQ(SlaWindow(v1::COMPLAINT_SEVERITY_CRITICAL, rules_), absl::Hours(4));
  Apply(Event("e1", t0_).Complaint("k1", v1::COMPLAINT_SEVERITY_CRITICAL));
  ASSERT_EQ(view_.open_complaints_size(), 1);
  EXPECT_EQ(FromProto(view_.open_complaints(0).due_at()), t0_ + absl::Hours(4));
  EXPECT_EQ(NextSlaDeadline(view_, t0_), t0_ + absl::Hours(4));
}

TEST_F(SatisfactionTest, BreachAtDueTimeNotBefore) {
  Apply(Event("e1", t0_).Complaint("k1", v1::COMPLAINT_SEVERITY_HIGH));
  const absl::Time due = t0_ + absl::Hours(24);
  EXPECT_TRUE(MarkBreaches(due - absl::Seconds(1), &view_).empty());
  const auto b = MarkBreaches(due, &view_);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].complaint_id, "k1");
  EXPECT_EQ(b[0].due_at, due);
  EXPECT_TRUE(MarkBreaches(due + absl::Hours(1), &view_).empty());  // once
  EXPECT_EQ(view_.sla_breaches(), 1u);
  EXPECT_EQ(view_.breaches_by_severity().high(), 1u);
  EXPECT_EQ(NextSlaDeadline(view_, t0_), absl::InfiniteFuture());
}

TEST_F(SatisfactionTest, ResolutionBeforeDueIsOnTimeAtDueIsBreach) {
  Apply(Event("e1", t0_).Complaint("k1", v1::COMPLAINT_SEVERITY_CRITICAL));
  Apply(Event("e2", t0_).Complaint("k2", v1::COMPLAINT_SEVERITY_CRITICAL));
  const absl::Time due = t0_ + absl::Hours(4);
  EXPECT_TRUE(
      Apply(Event("e3", due - absl::Seconds(1)).Resolved("k1")).empty());
  const auto b = Apply(Event("e4", due).Resolved("k2"));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].complaint_id, "k2");
  EXPECT_EQ(view_.sla_breaches(), 1u);
  EXPECT_EQ(view_.breaches_by_severity().critical(), 1u);
  EXPECT_EQ(view_.complaints_opened(), 2u);
  EXPECT_EQ(view_.complaints_resolved(), 2u);
  EXPECT_EQ(view_.open_complaints_size(), 0);
  EXPECT_EQ(view_.resolutions_timed(), 2u);
  EXPECT_EQ(view_.resolution_seconds_total(), 4 * 3600 - 1 + 4 * 3600);
  EXPECT_DOUBLE_EQ(view_.avg_resolution_hours(), (8 * 3600 - 1) / 2.0 / 3600);
}

TEST_F(SatisfactionTest, UnknownResolutionAndDuplicateOpen) {
  Apply(Event("e1", t0_).Complaint("k1", v1::COMPLAINT_SEVERITY_LOW));
  Apply(Event("e2", t0_ + absl::Hours(1))
            .Complaint("k1", v1::COMPLAINT_SEVERITY_HIGH));
  EXPECT_EQ(view_.complaints_opened(), 1u);
  EXPECT_EQ(view_.open_complaints(0).severity(), v1::COMPLAINT_SEVERITY_LOW);
  Apply(Event("e3", t0_).Resolved("nope", v1::COMPLAINT_RESOLUTION_WITHDRAWN));
  EXPECT_EQ(view_.complaints_resolved(), 1u);
  EXPECT_EQ(view_.resolved_withdrawn(), 1u);
  EXPECT_EQ(view_.resolutions_timed(), 0u);
  EXPECT_EQ(view_.open_complaints_size(), 1);
}

TEST_F(SatisfactionTest, CsatAndNps) {
  for (uint32_t s : {5u, 4u, 3u, 1u}) Apply(Event("e", t0_).Csat(s));
  EXPECT_EQ(view_.csat_answers(), 4u);
  EXPECT_EQ(view_.csat_satisfied(), 2u);
  EXPECT_DOUBLE_EQ(view_.csat(), 50);
  for (uint32_t s : {10u, 9u, 8u, 7u, 6u}) Apply(Event("e", t0_).NpsScore(s));
  EXPECT_EQ(view_.nps_promoters(), 2u);
  EXPECT_EQ(view_.nps_detractors(), 1u);
  EXPECT_DOUBLE_EQ(view_.nps(), 20);
  EXPECT_DOUBLE_EQ(Csat(0, 0), 0);
  EXPECT_DOUBLE_EQ(Nps(4, 0, 4), -100);
}

TEST_F(SatisfactionTest, SatisfactionDegreeFormula) {
  EXPECT_DOUBLE_EQ(SatisfactionDegree(view_, rules_), 50);  // no answers
  Apply(Event("e", t0_).Csat(5));                           // csat 100
  EXPECT_DOUBLE_EQ(SatisfactionDegree(view_, rules_), 100);
  Apply(Event("e", t0_).NpsScore(0));  // nps -100 -> 0
  EXPECT_DOUBLE_EQ(SatisfactionDegree(view_, rules_), 50);
  Apply(Event("e", t0_).Complaint("k", v1::COMPLAINT_SEVERITY_HIGH));
  EXPECT_DOUBLE_EQ(SatisfactionDegree(view_, rules_), 40);  // -10 open
  MarkBreaches(t0_ + absl::Hours(24), &view_);
  EXPECT_DOUBLE_EQ(SatisfactionDegree(view_, rules_), 35);  // -5 breach
  for (int i = 0; i < 10; ++i) {
    Apply(Event("e", t0_).Complaint(absl::StrCat("x", i),
                                    v1::COMPLAINT_SEVERITY_LOW));
  }
  EXPECT_DOUBLE_EQ(SatisfactionDegree(view_, rules_), 0);  // clamped
}

TEST_F(SatisfactionTest, LoyaltyDependenceContribution) {
  // 10 repeat orders and 1095 days fill each half.
  EXPECT_DOUBLE_EQ(LoyaltyDegree(0, 0, rules_), 0);
  EXPECT_DOUBLE_EQ(LoyaltyDegree(1, 0, rules_), 0);
  EXPECT_DOUBLE_EQ(LoyaltyDegree(6, 0, rules_), 25);
  EXPECT_DOUBLE_EQ(LoyaltyDegree(11, 1095, rules_), 100);
  EXPECT_DOUBLE_EQ(LoyaltyDegree(50, 5000, rules_), 100);
  EXPECT_DOUBLE_EQ(LoyaltyDegree(1, 365, rules_), 50.0 * 365 / 1095);
  EXPECT_DOUBLE_EQ(DependenceDegree(false, 0.7), 0);
  EXPECT_DOUBLE_EQ(DependenceDegree(true, 0.25), 25);
  EXPECT_DOUBLE_EQ(ContributionDegree(600, 0, 1000), 100);
  EXPECT_DOUBLE_EQ(ContributionDegree(300, 600, 1000), 40);
  EXPECT_DOUBLE_EQ(ContributionDegree(0, 1000, 1000), 0);
}

}  // namespace
}  // namespace crm::projections
