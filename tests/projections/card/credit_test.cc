#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "projections/card/card.h"
#include "projections/projector.h"
#include "projections/rules/rules.h"
#include "tests/projections/builders.h"

namespace crm::projections {
namespace {

// Defaults: days late 0 / 7 / 30 / 60, late share 0 / 10 / 25 / 50 %,
// outstanding 100 / 200 / 400 / 800 % of the typical order.
v1::CreditStanding Standing(uint64_t payments, uint64_t late, uint32_t max_days,
                            int64_t outstanding) {
  v1::CreditStanding c;
  c.set_payments(payments);
  c.set_late_payments(late);
  c.set_max_days_late(max_days);
  c.mutable_outstanding()->set_minor_units(outstanding);
  c.mutable_outstanding()->set_currency("USD");
  return c;
}

v1::CreditClass ClassOf(const v1::CreditStanding& c, uint64_t orders = 10,
                        int64_t revenue = 100'000) {
  return RateCredit(c, orders, revenue, DefaultRules()).credit_class;
}

TEST(CreditTest, UnratedWithoutPaymentOrBalance) {
  const CreditRating r =
      RateCredit(Standing(0, 0, 0, 0), 3, 900, DefaultRules());
  EXPECT_EQ(r.credit_class, v1::CREDIT_CLASS_UNRATED);
  EXPECT_EQ(r.why, "no payment and nothing outstanding");
}

TEST(CreditTest, DaysLateAtAndAroundEveryThreshold) {
  // 1 payment, late share judged separately: use 100 payments, 0 late
  // counted, so only the days measure moves.
  const struct {
    uint32_t days;
    v1::CreditClass want;
  } cases[] = {{0, v1::CREDIT_CLASS_AAA}, {1, v1::CREDIT_CLASS_AA},
               {7, v1::CREDIT_CLASS_AA},  {8, v1::CREDIT_CLASS_A},
               {30, v1::CREDIT_CLASS_A},  {31, v1::CREDIT_CLASS_B},
               {60, v1::CREDIT_CLASS_B},  {61, v1::CREDIT_CLASS_C}};
  for (const auto& k : cases) {
    EXPECT_EQ(ClassOf(Standing(100, 0, k.days, 0)), k.want) << k.days;
  }
}

TEST(CreditTest, LateShareAtAndAroundEveryThreshold) {
  // Of 20 payments: 0 late = 0 %, 1 = 5 %, 2 = 10 %, 3 = 15 %, 5 = 25 %,
  // 6 = 30 %, 10 = 50 %, 11 = 55 %. Days late 0 keeps that measure AAA.
  const struct {
    uint64_t late;
    v1::CreditClass want;
  } cases[] = {{0, v1::CREDIT_CLASS_AAA}, {1, v1::CREDIT_CLASS_AA},
               {2, v1::CREDIT_CLASS_AA},  {3, v1::CREDIT_CLASS_A},
               {5, v1::CREDIT_CLASS_A},   {6, v1::CREDIT_CLASS_B},
               {10, v1::CREDIT_CLASS_B},  {11, v1::CREDIT_CLASS_C}};
  for (const auto& k : cases) {
    EXPECT_EQ(ClassOf(Standing(20, k.late, 0, 0)), k.want) << k.late;
  }
}

TEST(CreditTest, OutstandingAtAndAroundEveryThreshold) {
  // Typical order = 100,000 / 10 = 10,000 minor units.
  const struct {
    int64_t outstanding;
    v1::CreditClass want;
  } cases[] = {{0, v1::CREDIT_CLASS_AAA},     {10'000, v1::CREDIT_CLASS_AAA},
               {10'001, v1::CREDIT_CLASS_AA}, {20'000, v1::CREDIT_CLASS_AA},
               {20'001, v1::CREDIT_CLASS_A},  {40'000, v1::CREDIT_CLASS_A},
               {40'001, v1::CREDIT_CLASS_B},  {80'000, v1::CREDIT_CLASS_B},
               {80'001, v1::CREDIT_CLASS_C},  {-500, v1::CREDIT_CLASS_AAA}};
  for (const auto& k : cases) {
    EXPECT_EQ(ClassOf(Standing(1, 0, 0, k.outstanding)), k.want)
        << k.outstanding;
  }
  // Outstanding with no order (or no revenue) is C; without a payment too.
  EXPECT_EQ(ClassOf(Standing(0, 0, 0, 1), 0, 0), v1::CREDIT_CLASS_C);
  EXPECT_EQ(ClassOf(Standing(1, 0, 0, 1), 3, 0), v1::CREDIT_CLASS_C);
}

TEST(CreditTest, WorstMeasureWinsAndWhyNamesEach) {
  // Days 12 -> A, 1 of 4 late = 25 % -> A, outstanding 15,000 of a typical
  // 10,000 = 150 % -> AA.
  const CreditRating r =
      RateCredit(Standing(4, 1, 12, 15'000), 10, 100'000, DefaultRules());
  EXPECT_EQ(r.credit_class, v1::CREDIT_CLASS_A);
  EXPECT_EQ(r.why,
            "days late 12: A; late payments 1 of 4: A; outstanding 150% of "
            "the typical order: AA");
  const CreditRating b =
      RateCredit(Standing(4, 0, 0, 90'000), 10, 100'000, DefaultRules());
  EXPECT_EQ(b.credit_class, v1::CREDIT_CLASS_C);
}

TEST(CreditTest, ThresholdsComeFromRulesAndAreValidated) {
  v1::Rules rules = DefaultRules();
  rules.mutable_credit()->set_aa_max_days_late(14);
  EXPECT_EQ(RateCredit(Standing(9, 0, 14, 0), 1, 1, rules).credit_class,
            v1::CREDIT_CLASS_AA);
  rules.mutable_credit()->set_a_max_days_late(10);
  EXPECT_EQ(std::string(ValidateRules(rules).message()),
            "credit.a_max_days_late: must be >= aa_max_days_late (14), got "
            "10");
  rules = DefaultRules();
  rules.mutable_credit()->set_b_max_late_pct(101);
  EXPECT_EQ(std::string(ValidateRules(rules).message()),
            "credit.b_max_late_pct: must be <= 100, got 101");
}

// Rules that leave limits unset rate with the defaults for those: the same
// class and why as the rules with every limit written out.
TEST(CreditTest, UnsetLimitsRateAsTheirDefaults) {
  v1::Rules partial = DefaultRules();
  partial.clear_credit();
  partial.mutable_credit()->set_aa_max_days_late(14);
  v1::Rules full = partial;
  *full.mutable_credit() = EffectiveCreditRules(partial);
  ASSERT_TRUE(full.credit().has_b_max_outstanding_pct());
  ASSERT_FALSE(partial.credit().has_b_max_outstanding_pct());
  for (const v1::CreditStanding& c :
       {Standing(9, 0, 14, 0), Standing(4, 1, 12, 15'000),
        Standing(4, 3, 70, 90'000), Standing(2, 0, 0, 0)}) {
    const CreditRating a = RateCredit(c, 10, 100'000, partial);
    const CreditRating b = RateCredit(c, 10, 100'000, full);
    EXPECT_EQ(a.credit_class, b.credit_class);
    EXPECT_EQ(a.why, b.why);
  }
  EXPECT_EQ(RateCredit(Standing(9, 0, 14, 0), 1, 1, partial).credit_class,
            v1::CREDIT_CLASS_AA);
  EXPECT_EQ(RateCredit(Standing(4, 3, 70, 90'000), 10, 100'000, partial).why,
            "days late 70: C; late payments 3 of 4: C; outstanding 900% of "
            "the typical order: C");
}

// The projector rates after payments and orders: an order of 10,000, then
// a payment 10 days late with 25,000 outstanding (250 % of the typical
// order: A; 1 of 1 late: C), then on-time payments lower the late share
// and the balance.
TEST(CreditTest, ProjectorRatesAfterPaymentsAndOrders) {
  using testing::Day;
  using testing::Event;
  const v1::Rules rules = DefaultRules();
  v1::CustomerState s;
  s.set_customer_id("c1");
  auto apply = [&](const v1::Envelope& e) {
    ASSERT_TRUE(ApplyEvent(e, rules, &s).ok());
  };
  apply(Event("e1", Day(2026, 1, 1), "c1").Order("o1", 10'000).envelope());
  const v1::CreditStanding& c = s.views().card().credit();
  EXPECT_EQ(c.credit_class(), v1::CREDIT_CLASS_UNRATED);
  EXPECT_EQ(c.credit_why(), "");
  apply(Event("e2", Day(2026, 1, 2), "c1")
            .Payment("i1", 5'000, 10, 25'000)
            .envelope());
  EXPECT_EQ(c.credit_class(), v1::CREDIT_CLASS_C);
  EXPECT_EQ(c.credit_why(),
            "days late 10: A; late payments 1 of 1: C; outstanding 250% of "
            "the typical order: A");
  for (int i = 3; i <= 10; ++i) {
    apply(Event(absl::StrCat("e", i), Day(2026, 1, i), "c1")
              .Payment(absl::StrCat("i", i), 1'000, 0, 5'000)
              .envelope());
  }
  // 1 of 9 late (11 %): A; max 10 days: A; 5,000 of 10,000: AAA.
  EXPECT_EQ(c.credit_class(), v1::CREDIT_CLASS_A);
  // A second order of 30,000: typical order 20,000, still A.
  apply(Event("e11", Day(2026, 2, 1), "c1").Order("o2", 30'000).envelope());
  EXPECT_EQ(c.credit_why(),
            "days late 10: A; late payments 1 of 9: A; outstanding 25% of "
            "the typical order: AAA");
}

}  // namespace
}  // namespace crm::projections
