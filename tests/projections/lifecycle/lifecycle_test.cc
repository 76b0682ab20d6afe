#include "projections/lifecycle/lifecycle.h"

#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "tests/projections/builders.h"

namespace crm::projections {
namespace {

using testing::Day;

// Default windows: new 90 days, at-risk 90, churned 180, won-back 90,
// loyal from 5 orders.
class LifecycleTest : public ::testing::Test {
 protected:
  v1::LifecycleStage StageAt(const LifecycleFacts& f, absl::Time t) {
    return ClassifyStage(f, rules_, t).value;
  }
  LifecycleFacts OneOrder() {
    LifecycleFacts f;
    f.net_orders = 1;
    f.first_order_at = t0_;
    f.last_order_at = t0_;
    return f;
  }
  const v1::Rules rules_ = DefaultRules();
  const absl::Time t0_ = Day(2026, 1, 1, absl::Hours(10));
  const absl::Duration sec_ = absl::Seconds(1);
};

TEST_F(LifecycleTest, ProspectAndLead) {
  LifecycleFacts f;
  EXPECT_EQ(StageAt(f, t0_), v1::LIFECYCLE_STAGE_PROSPECT);
  f.lead = true;
  EXPECT_EQ(StageAt(f, t0_), v1::LIFECYCLE_STAGE_LEAD);
  EXPECT_EQ(NextStageDeadline(f, rules_, t0_), absl::InfiniteFuture());
}

TEST_F(LifecycleTest, NewUntilNewDaysThenActive) {
  LifecycleFacts f = OneOrder();
  f.last_order_at = t0_ + Days(60);  // keeps it away from at-risk
  EXPECT_EQ(StageAt(f, t0_), v1::LIFECYCLE_STAGE_NEW);
  EXPECT_EQ(StageAt(f, t0_ + Days(90) - sec_), v1::LIFECYCLE_STAGE_NEW);
  EXPECT_EQ(StageAt(f, t0_ + Days(90)), v1::LIFECYCLE_STAGE_ACTIVE);
}

TEST_F(LifecycleTest, AtRiskAndChurnedAtTheirWindows) {
  const LifecycleFacts f = OneOrder();
  EXPECT_EQ(StageAt(f, t0_ + Days(90) - sec_), v1::LIFECYCLE_STAGE_NEW);
  EXPECT_EQ(StageAt(f, t0_ + Days(90)), v1::LIFECYCLE_STAGE_AT_RISK);
  EXPECT_EQ(StageAt(f, t0_ + Days(180) - sec_), v1::LIFECYCLE_STAGE_AT_RISK);
  EXPECT_EQ(StageAt(f, t0_ + Days(180)), v1::LIFECYCLE_STAGE_CHURNED);
  EXPECT_EQ(ClassifyStage(f, rules_, t0_ + Days(180)).why,
            "no order for 180 days");
}

TEST_F(LifecycleTest, LoyalFromLoyalMinOrders) {
  LifecycleFacts f = OneOrder();
  f.last_order_at = t0_ + Days(100);
  const absl::Time t = t0_ + Days(120);
  f.net_orders = 4;
  EXPECT_EQ(StageAt(f, t), v1::LIFECYCLE_STAGE_ACTIVE);
  f.net_orders = 5;
  EXPECT_EQ(StageAt(f, t), v1::LIFECYCLE_STAGE_LOYAL);
  EXPECT_EQ(ClassifyStage(f, rules_, t).why, "5 orders >= loyal_min_orders 5");
}

TEST_F(LifecycleTest, WonBackForWonBackDays) {
  LifecycleFacts f = OneOrder();
  f.net_orders = 2;
  const absl::Time back = t0_ + Days(200);
  ASSERT_TRUE(IsWinBack(t0_, back, rules_));
  EXPECT_FALSE(IsWinBack(t0_, t0_ + Days(180) - sec_, rules_));
  EXPECT_TRUE(IsWinBack(t0_, t0_ + Days(180), rules_));
  EXPECT_FALSE(IsWinBack(absl::InfinitePast(), back, rules_));
  f.last_order_at = back;
  f.won_back_at = back;
  EXPECT_EQ(StageAt(f, back), v1::LIFECYCLE_STAGE_WON_BACK);
  EXPECT_EQ(StageAt(f, back + Days(90) - sec_), v1::LIFECYCLE_STAGE_WON_BACK);
  EXPECT_EQ(StageAt(f, back + Days(90)), v1::LIFECYCLE_STAGE_AT_RISK);
  f.last_order_at = back + Days(60);  // ordering again keeps it active
  EXPECT_EQ(StageAt(f, back + Days(90) - sec_), v1::LIFECYCLE_STAGE_WON_BACK);
  EXPECT_EQ(StageAt(f, back + Days(90)), v1::LIFECYCLE_STAGE_ACTIVE);
}

TEST_F(LifecycleTest, DeadlinesAreTheWindowBoundariesInOrder) {
  const LifecycleFacts f = OneOrder();
  // new_days and at_risk both end at +90.
  EXPECT_EQ(NextStageDeadline(f, rules_, t0_), t0_ + Days(90));
  EXPECT_EQ(NextStageDeadline(f, rules_, t0_ + Days(90)), t0_ + Days(180));
  EXPECT_EQ(NextStageDeadline(f, rules_, t0_ + Days(180)),
            absl::InfiniteFuture());
}

}  // namespace
}  // namespace crm::projections
