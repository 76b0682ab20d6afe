#include "projections/grade/grade.h"

#include "gtest/gtest.h"
#include "projections/rules/rules.h"

namespace crm::projections {
namespace {

class GradeTest : public ::testing::Test {
 protected:
  GradeFacts Ordered(int64_t revenue_window) {
    GradeFacts f;
    f.has_orders = true;
    f.revenue_window = revenue_window;
    f.gross_profit_window = revenue_window / 4;
    return f;
  }
  v1::OpenOpportunity Opp(const std::string& id, v1::OpportunityStage stage,
                          uint32_t win) {
    v1::OpenOpportunity o;
    o.set_opportunity_id(id);
    o.set_stage(stage);
    o.set_win_probability_pct(win);
    return o;
  }
  const v1::Rules rules_ = DefaultRules();
};

TEST_F(GradeTest, ValueTierAtAndAroundEveryFloor) {
  struct Case {
    int64_t revenue;
    v1::ValueTier tier;
  } cases[] = {
      {100000001, v1::VALUE_TIER_VIP},   {100000000, v1::VALUE_TIER_VIP},
      {99999999, v1::VALUE_TIER_LARGE},  {20000000, v1::VALUE_TIER_LARGE},
      {19999999, v1::VALUE_TIER_MEDIUM}, {2000000, v1::VALUE_TIER_MEDIUM},
      {1999999, v1::VALUE_TIER_SMALL},   {0, v1::VALUE_TIER_SMALL},
      {-5, v1::VALUE_TIER_SMALL},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClassifyValueTier(Ordered(c.revenue), rules_).value, c.tier)
        << c.revenue;
  }
  EXPECT_EQ(ClassifyValueTier(Ordered(2000000), rules_).why,
            "revenue_window 2000000 >= medium_min_minor 2000000");
  EXPECT_EQ(ClassifyValueTier(Ordered(1999999), rules_).why,
            "revenue_window 1999999 < medium_min_minor 2000000");
  GradeFacts prospect;
  prospect.revenue_window = 500000000;
  EXPECT_EQ(ClassifyValueTier(prospect, rules_).value,
            v1::VALUE_TIER_UNSPECIFIED);
}

TEST_F(GradeTest, VipFloorComesFromRules) {
  v1::Rules low = rules_;
  low.mutable_value_tier()->set_vip_min_minor(50000000);
  EXPECT_EQ(ClassifyValueTier(Ordered(50000000), rules_).value,
            v1::VALUE_TIER_LARGE);
  EXPECT_EQ(ClassifyValueTier(Ordered(50000000), low).value,
            v1::VALUE_TIER_VIP);
  EXPECT_EQ(ClassifyValueTier(Ordered(49999999), low).value,
            v1::VALUE_TIER_LARGE);
}

TEST_F(GradeTest, ProspectGradeByWinProbabilityAndStage) {
  using S = v1::OpportunityStage;
  struct Case {
    S stage;
    uint32_t win;
    v1::ProspectGrade grade;
  } cases[] = {
      {v1::OPPORTUNITY_STAGE_NEGOTIATION, 75, v1::PROSPECT_GRADE_A},
      {v1::OPPORTUNITY_STAGE_NEGOTIATION, 100, v1::PROSPECT_GRADE_A},
      {v1::OPPORTUNITY_STAGE_NEGOTIATION, 74, v1::PROSPECT_GRADE_B},
      {v1::OPPORTUNITY_STAGE_PROPOSAL, 90, v1::PROSPECT_GRADE_B},  // stage < A
      {v1::OPPORTUNITY_STAGE_PROPOSAL, 50, v1::PROSPECT_GRADE_B},
      {v1::OPPORTUNITY_STAGE_PROPOSAL, 49, v1::PROSPECT_GRADE_C},
      {v1::OPPORTUNITY_STAGE_QUALIFICATION, 60, v1::PROSPECT_GRADE_C},
      {v1::OPPORTUNITY_STAGE_QUALIFICATION, 25, v1::PROSPECT_GRADE_C},
      {v1::OPPORTUNITY_STAGE_QUALIFICATION, 24, v1::PROSPECT_GRADE_D},
      {v1::OPPORTUNITY_STAGE_PROSPECTING, 99, v1::PROSPECT_GRADE_D},
  };
  for (const Case& c : cases) {
    GradeFacts f;
    f.opportunities = {Opp("o1", c.stage, c.win)};
    EXPECT_EQ(ClassifyProspect(f, rules_).value, c.grade)
        << v1::OpportunityStage_Name(c.stage) << " " << c.win;
  }
}

TEST_F(GradeTest, ProspectBestOpportunityWinsAndOrderedIsUnspecified) {
  GradeFacts f;
  EXPECT_EQ(ClassifyProspect(f, rules_).value, v1::PROSPECT_GRADE_D);
  EXPECT_EQ(ClassifyProspect(f, rules_).why, "no open opportunity");
  f.opportunities = {Opp("o1", v1::OPPORTUNITY_STAGE_QUALIFICATION, 30),
                     Opp("o2", v1::OPPORTUNITY_STAGE_NEGOTIATION, 80)};
  const auto g = ClassifyProspect(f, rules_);
  EXPECT_EQ(g.value, v1::PROSPECT_GRADE_A);
  EXPECT_EQ(g.why, "opportunity o2 at 80% in OPPORTUNITY_STAGE_NEGOTIATION");
  f.has_orders = true;
  EXPECT_EQ(ClassifyProspect(f, rules_).value, v1::PROSPECT_GRADE_UNSPECIFIED);
}

TEST_F(GradeTest, BzcAtZeroNetProfit) {
  GradeFacts f = Ordered(60000000);  // would be MVC
  f.gross_profit_window = 1000;
  f.marketing_cost_window = 1000;  // net 0: not below zero
  EXPECT_EQ(ClassifyValueClass(f, rules_).value, v1::VALUE_CLASS_MVC);
  f.marketing_cost_window = 1001;  // net -1
  const auto c = ClassifyValueClass(f, rules_);
  EXPECT_EQ(c.value, v1::VALUE_CLASS_BZC);
  EXPECT_EQ(c.why, "net_profit_window -1 < bzc_below_net_profit_minor 0");
}

TEST_F(GradeTest, MvcAtFloor) {
  EXPECT_EQ(ClassifyValueClass(Ordered(50000000), rules_).value,
            v1::VALUE_CLASS_MVC);
  EXPECT_EQ(ClassifyValueClass(Ordered(49999999), rules_).value,
            v1::VALUE_CLASS_NORMAL);
}

TEST_F(GradeTest, MgcAtGrowthAndRevenueFloors) {
  GradeFacts f = Ordered(1500000);
  f.revenue_prior_window = 1000000;  // exactly 150%
  EXPECT_EQ(ClassifyValueClass(f, rules_).value, v1::VALUE_CLASS_MGC);
  EXPECT_EQ(ClassifyValueClass(f, rules_).why,
            "revenue_window 1500000 >= 150% of revenue_prior_window 1000000");
  f.revenue_window = 1499999;  // just under 150%
  EXPECT_EQ(ClassifyValueClass(f, rules_).value, v1::VALUE_CLASS_NORMAL);
  // Growth fine but below the minimum base.
  f.revenue_window = 999999;
  f.revenue_prior_window = 1;
  EXPECT_EQ(ClassifyValueClass(f, rules_).value, v1::VALUE_CLASS_NORMAL);
  f.revenue_window = 1000000;
  EXPECT_EQ(ClassifyValueClass(f, rules_).value, v1::VALUE_CLASS_MGC);
  // No prior revenue: not growth (new customers are not MGC).
  f.revenue_prior_window = 0;
  EXPECT_EQ(ClassifyValueClass(f, rules_).value, v1::VALUE_CLASS_NORMAL);
  GradeFacts none;
  EXPECT_EQ(ClassifyValueClass(none, rules_).value,
            v1::VALUE_CLASS_UNSPECIFIED);
}

TEST_F(GradeTest, WalletQuadrantsAroundShareAndVolume) {
  GradeFacts f = Ordered(0);
  f.has_wallet = true;
  f.category_spend = 1000000;
  struct Case {
    int64_t ours;
    int64_t planned;
    v1::WalletQuadrant q;
    const char* strategy;
  } cases[] = {
      {500000, 10000000, v1::WALLET_QUADRANT_KEEP, "keep"},
      {500000, 9999999, v1::WALLET_QUADRANT_MAINTAIN_OR_ACQUIRE,
       "maintain or acquire"},
      {499999, 10000000, v1::WALLET_QUADRANT_DEVELOP, "develop"},
      {499999, 9999999, v1::WALLET_QUADRANT_ACQUIRE_OR_ABANDON,
       "acquire or abandon"},
  };
  for (const Case& c : cases) {
    f.revenue_share_window = c.ours;
    f.planned_purchases = c.planned;
    const WalletResult w = ClassifyWallet(f, rules_);
    EXPECT_EQ(w.quadrant, c.q) << c.ours << " " << c.planned;
    EXPECT_EQ(w.strategy, c.strategy);
  }
  f.revenue_share_window = 250000;
  EXPECT_DOUBLE_EQ(ClassifyWallet(f, rules_).share, 0.25);
  f.revenue_share_window = 3000000;  // more than the estimate: capped
  EXPECT_DOUBLE_EQ(ClassifyWallet(f, rules_).share, 1.0);
  f.has_wallet = false;
  EXPECT_EQ(ClassifyWallet(f, rules_).quadrant,
            v1::WALLET_QUADRANT_UNSPECIFIED);
}

TEST_F(GradeTest, StarFloorsAreInclusive) {
  const auto& s = rules_.stars();  // floors 20, 40, 60, 80
  EXPECT_EQ(StarsForTotal(0, s), 1u);
  EXPECT_EQ(StarsForTotal(19.999, s), 1u);
  EXPECT_EQ(StarsForTotal(20, s), 2u);
  EXPECT_EQ(StarsForTotal(39.999, s), 2u);
  EXPECT_EQ(StarsForTotal(40, s), 3u);
  EXPECT_EQ(StarsForTotal(59.999, s), 3u);
  EXPECT_EQ(StarsForTotal(60, s), 4u);
  EXPECT_EQ(StarsForTotal(79.999, s), 4u);
  EXPECT_EQ(StarsForTotal(80, s), 5u);
  EXPECT_EQ(StarsForTotal(100, s), 5u);
}

TEST_F(GradeTest, StarDropsNeedHysteresisBelowTheFloor) {
  const auto& s = rules_.stars();  // floors 20, 40, 60, 80; hysteresis 2
  EXPECT_EQ(StarsWithHysteresis(60, 0, s), 4u);  // first rating
  EXPECT_EQ(StarsWithHysteresis(60, 3, s), 4u);  // rise at the floor
  EXPECT_EQ(StarsWithHysteresis(59.999, 3, s), 3u);
  EXPECT_EQ(StarsWithHysteresis(58, 4, s), 4u);      // 58 + 2 reaches 60
  EXPECT_EQ(StarsWithHysteresis(57.999, 4, s), 3u);  // drops
  EXPECT_EQ(StarsWithHysteresis(10, 5, s), 1u);      // 12 < 20
  EXPECT_EQ(StarsWithHysteresis(18, 5, s), 2u);      // 20 reaches 2 stars
  EXPECT_EQ(StarsWithHysteresis(90, 2, s), 5u);
}

TEST_F(GradeTest, StarComponentsAreStoredAndWeighted) {
  // Weights chosen so every product is exact in binary.
  v1::Rules r = rules_;
  auto* s = r.mutable_stars();
  s->set_current_weight(0.5);
  s->set_future_weight(0.5);
  s->set_gross_profit_weight(0.5);
  s->set_sales_volume_weight(0.25);
  s->set_marketing_cost_weight(0.25);
  s->set_industry_position_weight(0.5);
  s->set_tenure_weight(0.25);
  s->set_satisfaction_weight(0.25);
  GradeFacts f;
  f.has_orders = true;
  f.gross_profit_window = 10000000;    // half of 20,000,000: 50
  f.revenue_window = 100000000;        // full: 100
  f.marketing_cost_window = 10000000;  // ratio 0.1 of zero point 0.2: 50
  f.industry_position = v1::INDUSTRY_POSITION_LEADER;  // 100
  f.tenure_days = 3650;                                // capped: 100
  f.satisfaction_degree = 50;
  const StarResult res = RateStars(f, r);
  const auto& c = res.components;
  EXPECT_DOUBLE_EQ(c.gross_profit(), 50);
  EXPECT_DOUBLE_EQ(c.sales_volume(), 100);
  EXPECT_DOUBLE_EQ(c.marketing_cost(), 50);
  EXPECT_DOUBLE_EQ(c.industry_position(), 100);
  EXPECT_DOUBLE_EQ(c.tenure(), 100);
  EXPECT_DOUBLE_EQ(c.satisfaction(), 50);
  EXPECT_DOUBLE_EQ(c.current_value(), 62.5);  // 25 + 25 + 12.5
  EXPECT_DOUBLE_EQ(c.future_value(), 87.5);   // 50 + 25 + 12.5
  EXPECT_DOUBLE_EQ(c.total(), 75);
  EXPECT_EQ(res.stars, 4u);
  EXPECT_EQ(res.why, "total score 75 -> 4 stars");
  // Exactly on the 80 floor: 5 stars.
  f.satisfaction_degree = 90;  // future 97.5, total 80
  EXPECT_DOUBLE_EQ(RateStars(f, r).components.total(), 80);
  EXPECT_EQ(RateStars(f, r).stars, 5u);
  // Prospects are not rated.
  GradeFacts p;
  EXPECT_EQ(RateStars(p, r).stars, 0u);
}

TEST_F(GradeTest, MarketingCostScoreEdges) {
  GradeFacts f = Ordered(1000);
  f.marketing_cost_window = 200;  // ratio 0.2 = zero point
  EXPECT_DOUBLE_EQ(RateStars(f, rules_).components.marketing_cost(), 0);
  f.marketing_cost_window = 0;
  EXPECT_DOUBLE_EQ(RateStars(f, rules_).components.marketing_cost(), 100);
  f.revenue_window = 0;
  f.marketing_cost_window = 5;  // cost without revenue
  EXPECT_DOUBLE_EQ(RateStars(f, rules_).components.marketing_cost(), 0);
}

}  // namespace
}  // namespace crm::projections
