#include "projections/grade/revenue_ledger.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "projections/rules/rules.h"
#include "projections/rules/units.h"
#include "tests/projections/builders.h"

namespace crm::projections {
namespace {

using testing::Day;
using testing::Event;

v1::OrderPlaced Order(const std::string& id, int64_t amount, int64_t gp,
                      int64_t discount = 0, int64_t financing = 0) {
  return Event("e", Day(2026, 1, 1))
      .Order(id, amount, gp, discount, financing)
      .envelope()
      .order_placed();
}

class LedgerTest : public ::testing::Test {
 protected:
  v1::Rules rules_ = DefaultRules();  // window 365, horizon 730
  v1::ProjectionFacts facts_;
};

TEST_F(LedgerTest, WindowIncludesTodayAndTheLastWindowDays) {
  LedgerAddOrder(Order("o1", 1000, 300, 10, 20), Day(2026, 1, 1), &facts_);
  // Window of 365 days ending 2026-12-31 includes 2026-01-01.
  WindowSums w = SumWindow(facts_, Day(2026, 12, 31, absl::Hours(23)), 365);
  EXPECT_EQ(w.revenue, 1000);
  EXPECT_EQ(w.gross_profit, 300);
  EXPECT_EQ(w.marketing_cost, 30);
  EXPECT_EQ(w.net_profit(), 270);
  EXPECT_EQ(w.orders, 1);
  // From 2027-01-01 it is the prior window.
  EXPECT_EQ(SumWindow(facts_, Day(2027, 1, 1), 365).revenue, 0);
  EXPECT_EQ(SumWindow(facts_, Day(2027, 1, 1), 365, 1).revenue, 1000);
}

TEST_F(LedgerTest, DeadlinesAreWindowExits) {
  LedgerAddOrder(Order("o1", 1000, 300), Day(2026, 1, 1), &facts_);
  const absl::Time t0 = Day(2026, 1, 1);
  EXPECT_EQ(NextLedgerDeadline(facts_, rules_, t0), Day(2027, 1, 1));
  EXPECT_EQ(NextLedgerDeadline(facts_, rules_, Day(2027, 1, 1)),
            Day(2028, 1, 1));  // 730 days later (leap year 2028 not yet)
  EXPECT_EQ(NextLedgerDeadline(facts_, rules_, Day(2028, 1, 1)),
            absl::InfiniteFuture());
}

TEST_F(LedgerTest, CancelTakesBackWhatRemains) {
  LedgerAddOrder(Order("o1", 1000, 400, 50), Day(2026, 3, 1), &facts_);
  LedgerDelta r = LedgerReturnOrder("o1", 250, Day(2026, 3, 5), &facts_);
  EXPECT_TRUE(r.matched);
  EXPECT_EQ(r.sums.revenue, -250);
  EXPECT_EQ(r.sums.gross_profit, -100);  // 400 * 250 / 1000
  LedgerDelta c = LedgerCancelOrder("o1", &facts_);
  EXPECT_TRUE(c.applied);
  EXPECT_EQ(c.sums.revenue, -750);
  EXPECT_EQ(c.sums.gross_profit, -300);
  EXPECT_EQ(c.sums.marketing_cost, -50);
  EXPECT_EQ(c.sums.orders, -1);
  const WindowSums w = SumWindow(facts_, Day(2026, 3, 10), 365);
  EXPECT_EQ(w.revenue, 0);
  EXPECT_EQ(w.gross_profit, 0);
  EXPECT_EQ(w.orders, 0);
  // A second cancel, or a return after cancel, changes nothing.
  EXPECT_FALSE(LedgerCancelOrder("o1", &facts_).applied);
  EXPECT_FALSE(LedgerReturnOrder("o1", 10, Day(2026, 3, 6), &facts_).applied);
}

TEST_F(LedgerTest, RefundsAreCappedAndLastRefundTakesRemainingProfit) {
  LedgerAddOrder(Order("o1", 3, 1), Day(2026, 3, 1), &facts_);
  EXPECT_EQ(
      LedgerReturnOrder("o1", 1, Day(2026, 3, 2), &facts_).sums.gross_profit,
      0);  // 1 * 1 / 3 rounds to 0
  const LedgerDelta last = LedgerReturnOrder("o1", 5, Day(2026, 3, 3), &facts_);
  EXPECT_EQ(last.sums.revenue, -2);       // capped at what remains
  EXPECT_EQ(last.sums.gross_profit, -1);  // exactly what remains
}

TEST_F(LedgerTest, UnknownReturnComesOffTheReturnDay) {
  const LedgerDelta d = LedgerReturnOrder("zz", 70, Day(2026, 5, 1), &facts_);
  EXPECT_TRUE(d.applied);
  EXPECT_FALSE(d.matched);
  EXPECT_EQ(
      SumDays(facts_, DayOf(Day(2026, 5, 1)), DayOf(Day(2026, 5, 1))).revenue,
      -70);
  EXPECT_FALSE(LedgerCancelOrder("zz", &facts_).applied);
}

TEST_F(LedgerTest, DuplicateOrderIdChangesNothing) {
  EXPECT_TRUE(
      LedgerAddOrder(Order("o1", 10, 1), Day(2026, 1, 1), &facts_).applied);
  EXPECT_FALSE(
      LedgerAddOrder(Order("o1", 10, 1), Day(2026, 1, 2), &facts_).applied);
  EXPECT_EQ(SumWindow(facts_, Day(2026, 1, 3), 365).revenue, 10);
}

TEST_F(LedgerTest, BucketsStaySortedAndPruneAtHorizon) {
  LedgerAddOrder(Order("b", 20, 0), Day(2026, 2, 1), &facts_);
  LedgerAddOrder(Order("a", 10, 0), Day(2026, 1, 1), &facts_);  // late
  LedgerAddOrder(Order("c", 30, 0), Day(2026, 2, 1, absl::Hours(5)), &facts_);
  ASSERT_EQ(facts_.buckets_size(), 2);
  EXPECT_EQ(facts_.buckets(0).day(), DayOf(Day(2026, 1, 1)));
  EXPECT_EQ(facts_.buckets(1).revenue_minor(), 50);
  EXPECT_EQ(facts_.orders(0).order_id(), "a");
  // Horizon 730 days: 2026-01-01 + 730 = 2028-01-01.
  PruneLedger(Day(2027, 12, 31), rules_, &facts_);
  EXPECT_EQ(facts_.buckets_size(), 2);
  PruneLedger(Day(2028, 1, 1), rules_, &facts_);
  EXPECT_EQ(facts_.buckets_size(), 1);
  EXPECT_EQ(facts_.orders_size(), 2);
}

TEST_F(LedgerTest, KeepsAtMostMaxRetainedOrders) {
  for (int i = 0; i < kMaxRetainedOrders + 5; ++i) {
    LedgerAddOrder(Order(absl::StrCat("o", i), 1, 0),
                   Day(2026, 1, 1, absl::Minutes(i)), &facts_);
  }
  PruneLedger(Day(2026, 1, 2), rules_, &facts_);
  EXPECT_EQ(facts_.orders_size(), kMaxRetainedOrders);
  EXPECT_EQ(facts_.orders(0).order_id(), "o5");
  EXPECT_EQ(SumWindow(facts_, Day(2026, 1, 2), 365).orders,
            kMaxRetainedOrders + 5);
}

}  // namespace
}  // namespace crm::projections
