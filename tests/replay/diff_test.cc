// Migration matrices and backtest figures over hand-built customers.

#include "engine/replay/diff.h"

#include <vector>

#include "crm/v1/views.pb.h"
#include "engine/replay/backtest.h"
#include "gtest/gtest.h"

namespace crm::replay {
namespace {

constexpr int kTier = static_cast<int>(Dimension::kValueTier);
constexpr int kAbc = static_cast<int>(Dimension::kAbc);
constexpr int kStage = static_cast<int>(Dimension::kLifecycle);
constexpr int kClass = static_cast<int>(Dimension::kCustomerClass);

CustomerRow Row(const std::string& id, int tier, int abc, int stage, int cls,
                int64_t revenue, const std::string& am = "am1") {
  CustomerRow r;
  r.customer_id = id;
  r.account_manager = am;
  r.values[kTier] = tier;
  r.values[kAbc] = abc;
  r.values[kStage] = stage;
  r.values[kClass] = cls;
  r.revenue_minor = revenue;
  r.grade_changes = 2;
  r.stage_changes = 1;
  return r;
}

v1::Rules Coverage(uint32_t key, uint32_t ordinary, uint32_t special) {
  v1::Rules rules;
  rules.mutable_classes()->set_key_customers_per_manager(key);
  rules.mutable_classes()->set_ordinary_customers_per_manager(ordinary);
  rules.mutable_classes()->set_special_customers_per_manager(special);
  return rules;
}

TEST(DiffTest, SameRowsAreAllOnTheDiagonal) {
  std::vector<CustomerRow> rows = {
      Row("C1", v1::VALUE_TIER_VIP, v1::ABC_CLASS_A, v1::LIFECYCLE_STAGE_LOYAL,
          v1::CUSTOMER_CLASS_KEY, 900),
      Row("C2", v1::VALUE_TIER_SMALL, v1::ABC_CLASS_C,
          v1::LIFECYCLE_STAGE_ACTIVE, v1::CUSTOMER_CLASS_ORDINARY, 100)};
  const v1::Rules rules = Coverage(1, 2, 4);
  DiffResult d = Compare(rows, rows, rules, rules);
  EXPECT_EQ(d.customers_moved, 0);
  EXPECT_TRUE(d.moves.empty());
  for (const Matrix& m : d.matrices) {
    EXPECT_EQ(m.moved, 0);
    for (const auto& [key, cell] : m.cells) EXPECT_EQ(key.first, key.second);
  }
  EXPECT_EQ(d.a.managers, d.b.managers);
  EXPECT_EQ(d.a.grade_changes, 4);
  EXPECT_EQ(d.b.stage_changes, 2);
}

// Five customers; under B the VIP threshold is lower (C2, C3 LARGE -> VIP),
// C4 goes ordinary -> key, C5 exists on side B only.
TEST(DiffTest, HandBuiltPopulationGivesTheKnownMatrix) {
  std::vector<CustomerRow> a = {
      Row("C1", v1::VALUE_TIER_VIP, v1::ABC_CLASS_A, v1::LIFECYCLE_STAGE_LOYAL,
          v1::CUSTOMER_CLASS_KEY, 1000),
      Row("C2", v1::VALUE_TIER_LARGE, v1::ABC_CLASS_A,
          v1::LIFECYCLE_STAGE_LOYAL, v1::CUSTOMER_CLASS_ORDINARY, 600),
      Row("C3", v1::VALUE_TIER_LARGE, v1::ABC_CLASS_B,
          v1::LIFECYCLE_STAGE_ACTIVE, v1::CUSTOMER_CLASS_ORDINARY, 500),
      Row("C4", v1::VALUE_TIER_SMALL, v1::ABC_CLASS_C,
          v1::LIFECYCLE_STAGE_AT_RISK, v1::CUSTOMER_CLASS_ORDINARY, 50, "am2")};
  std::vector<CustomerRow> b = a;
  b[1].values[kTier] = v1::VALUE_TIER_VIP;
  b[2].values[kTier] = v1::VALUE_TIER_VIP;
  b[3].values[kClass] = v1::CUSTOMER_CLASS_KEY;
  b.push_back(Row("C5", v1::VALUE_TIER_SMALL, v1::ABC_CLASS_C,
                  v1::LIFECYCLE_STAGE_NEW, v1::CUSTOMER_CLASS_SPECIAL, 7,
                  "am2"));
  const v1::Rules rules = Coverage(1, 2, 4);
  DiffResult d = Compare(a, b, rules, rules);

  const Matrix& tier = d.matrices[kTier];
  EXPECT_EQ(tier.moved, 3);  // C2, C3, and C5 (absent -> SMALL)
  using K = std::pair<int, int>;
  ASSERT_EQ(tier.cells.size(), 4u);
  EXPECT_EQ(tier.cells.at(K(v1::VALUE_TIER_VIP, v1::VALUE_TIER_VIP)).customers,
            1);
  const Cell& up = tier.cells.at(K(v1::VALUE_TIER_LARGE, v1::VALUE_TIER_VIP));
  EXPECT_EQ(up.customers, 2);
  EXPECT_EQ(up.revenue_minor, 1100);
  EXPECT_EQ(tier.cells.at(K(v1::VALUE_TIER_SMALL, v1::VALUE_TIER_SMALL))
                .revenue_minor,
            50);
  EXPECT_EQ(tier.cells.at(K(kAbsent, v1::VALUE_TIER_SMALL)).customers, 1);
  EXPECT_EQ(d.matrices[kAbc].moved, 1);               // only C5
  EXPECT_EQ(d.matrices[kStage].moved, 1);             // only C5
  EXPECT_EQ(d.matrices[kClass].moved, 2);             // C4, C5
  EXPECT_EQ(d.customers_moved, 4);                    // C2, C3, C4, C5
  ASSERT_EQ(d.moves.size(), 3u + 1u + 1u + 2u + 1u);  // + rfm of C5
  EXPECT_EQ(d.moves[0].customer_id, "C2");
  EXPECT_EQ(ValueLabel(Dimension::kValueTier, d.moves[0].from), "LARGE");
  EXPECT_EQ(ValueLabel(Dimension::kValueTier, d.moves[0].to), "VIP");

  // am1: A key 1, ordinary 2 -> 1 + 1 = 2; B the same.
  // am2: A ordinary 1 -> 1; B key 1 + special 1 -> 1 + 1 = 2.
  ASSERT_EQ(d.managers.size(), 2u);
  EXPECT_EQ(d.managers[0].account_manager, "am1");
  EXPECT_EQ(d.managers[0].managers_a, 2);
  EXPECT_EQ(d.managers[0].managers_b, 2);
  EXPECT_EQ(d.managers[1].managers_a, 1);
  EXPECT_EQ(d.managers[1].managers_b, 2);
  EXPECT_EQ(d.a.managers, 3);
  EXPECT_EQ(d.b.managers, 4);
  EXPECT_EQ(d.a.customers, 4);
  EXPECT_EQ(d.b.customers, 5);
}

// Six transacted customers and one prospect at the cutoff; outcomes by
// hand: A: C1 ordered 2x (3000), C2 ordered 1x (1000) -> 2000 per customer,
// churn 0/2. B: C3 none -> churn 1/1. C: C4 200, C5 none, C6 none -> 200/3
// per customer, churn 2/3. Lift A over C = 2000 / (200/3) = 30.
// At risk: C3, C5, C6, C4 -> churned C3, C5, C6: precision 3/4; churned
// overall C3, C5, C6 -> recall 3/3.
TEST(BacktestTest, HandBuiltHistoryGivesHandComputedFigures) {
  std::vector<CustomerRow> rows = {
      Row("C1", v1::VALUE_TIER_VIP, v1::ABC_CLASS_A, v1::LIFECYCLE_STAGE_LOYAL,
          0, 0),
      Row("C2", v1::VALUE_TIER_LARGE, v1::ABC_CLASS_A,
          v1::LIFECYCLE_STAGE_ACTIVE, 0, 0),
      Row("C3", v1::VALUE_TIER_MEDIUM, v1::ABC_CLASS_B,
          v1::LIFECYCLE_STAGE_AT_RISK, 0, 0),
      Row("C4", v1::VALUE_TIER_SMALL, v1::ABC_CLASS_C,
          v1::LIFECYCLE_STAGE_AT_RISK, 0, 0),
      Row("C5", v1::VALUE_TIER_SMALL, v1::ABC_CLASS_C,
          v1::LIFECYCLE_STAGE_AT_RISK, 0, 0),
      Row("C6", v1::VALUE_TIER_SMALL, v1::ABC_CLASS_C,
          v1::LIFECYCLE_STAGE_AT_RISK, 0, 0),
      Row("P1", 0, 0, v1::LIFECYCLE_STAGE_PROSPECT, 0, 0)};
  absl::flat_hash_map<std::string, Outcome> outcomes = {
      {"C1", {2, 3000}}, {"C2", {1, 1000}}, {"C4", {1, 200}}, {"P1", {1, 5}}};
  BacktestResult r = Evaluate(rows, outcomes);
  EXPECT_EQ(r.customers, 6);  // P1 had no order by the cutoff
  EXPECT_EQ(r.churned, 3);
  EXPECT_EQ(r.revenue_minor, 4200);
  ASSERT_EQ(r.abc.size(), 3u);
  EXPECT_EQ(r.abc[0].label, "A");
  EXPECT_EQ(r.abc[0].customers, 2);
  EXPECT_EQ(r.abc[0].churned, 0);
  EXPECT_EQ(r.abc[0].revenue_minor, 4000);
  EXPECT_EQ(r.abc[1].churned, 1);
  EXPECT_EQ(r.abc[2].customers, 3);
  EXPECT_EQ(r.abc[2].churned, 2);
  EXPECT_EQ(r.abc[2].revenue_minor, 200);
  EXPECT_DOUBLE_EQ(r.lift_a_over_c, 30.0);
  ASSERT_EQ(r.value_tier.size(), 4u);
  EXPECT_EQ(r.value_tier[3].label, "SMALL");
  EXPECT_EQ(r.value_tier[3].churned, 2);
  ASSERT_EQ(r.lifecycle.size(), 3u);  // ACTIVE, LOYAL, AT_RISK
  EXPECT_EQ(r.lifecycle[2].label, "AT_RISK");
  EXPECT_EQ(r.at_risk, 4);
  EXPECT_EQ(r.at_risk_churned, 3);
  EXPECT_DOUBLE_EQ(r.precision, 0.75);
  EXPECT_DOUBLE_EQ(r.recall, 1.0);
}

}  // namespace
}  // namespace crm::replay
