#include "projections/population/ltv.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "projections/population/population.h"
#include "projections/rules/rules.h"

namespace crm::projections::ltv {
namespace {

// The CDNOW 1/10 sample (2,357 customers) summarised over the 39-week
// calibration period: ID,x,t_x,T,zbar (testdata/README.md).
std::vector<CustomerSummary> LoadCdnow() {
  std::ifstream in(std::string(CRM_SOURCE_DIR) +
                   "/tests/projections/population/testdata/cdnow_summary.csv");
  std::vector<CustomerSummary> out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream fields(line);
    int id = 0;
    CustomerSummary c;
    fields >> id >> c.x >> c.t_x >> c.t >> c.mean_value;
    out.push_back(c);
  }
  return out;
}

// Published: Fader, Hardie & Lee (2005), r = 0.243, alpha = 4.414,
// a = 0.793, b = 2.426, i.e. to 3 decimals. The sample's t_x and T are
// rounded to 0.01 week, so the fit is held to +-0.001 (half a unit of the
// last published digit plus the rounding of the data).
TEST(LtvTest, BgNbdFitMatchesFaderHardieLeeOnCdnow) {
  const std::vector<CustomerSummary> cs = LoadCdnow();
  ASSERT_EQ(cs.size(), 2357u);
  absl::StatusOr<BgNbdParams> p = FitBgNbd(cs);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_NEAR(p->r, 0.243, 0.001);
  EXPECT_NEAR(p->alpha, 4.414, 0.001);
  EXPECT_NEAR(p->a, 0.793, 0.001);
  EXPECT_NEAR(p->b, 2.426, 0.001);

  // Independent of input order.
  std::vector<CustomerSummary> reversed(cs.rbegin(), cs.rend());
  absl::StatusOr<BgNbdParams> q = FitBgNbd(reversed);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(p->r, q->r);
  EXPECT_EQ(p->alpha, q->alpha);
  EXPECT_EQ(p->a, q->a);
  EXPECT_EQ(p->b, q->b);
}

// Published: Fader & Hardie (2013), p = 6.25, q = 3.74, gamma = 15.44 on
// the 946 repeat customers; held to half a unit of the last digit plus the
// rounding of zbar to cents: +-0.01 (gamma +-0.02).
TEST(LtvTest, GammaGammaFitMatchesFaderHardieOnCdnow) {
  const std::vector<CustomerSummary> cs = LoadCdnow();
  EXPECT_EQ(std::count_if(cs.begin(), cs.end(),
                          [](const CustomerSummary& c) { return c.x > 0; }),
            946);
  absl::StatusOr<GammaGammaParams> p = FitGammaGamma(cs);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_NEAR(p->p, 6.25, 0.01);
  EXPECT_NEAR(p->q, 3.74, 0.01);
  EXPECT_NEAR(p->gamma, 15.44, 0.02);
}

// Expectations at the published parameters; the expected values were
// computed independently with mpmath's hyp2f1 at 30 digits from FHL 2005
// eq. 10 and 11 (and agree with the paper's 1.226 for x=2, t_x=30.43,
// T=38.86 over 39 weeks).
TEST(LtvTest, ConditionalExpectationAndProbabilityAlive) {
  const BgNbdParams p{0.243, 4.414, 0.793, 2.426};
  struct Case {
    CustomerSummary c;
    double alive, e39, e52;
  };
  const Case cases[] = {
      {{0, 0, 38.86, 0}, 1.0, 0.195098052011263, 0.252073022282459},
      {{2, 30.43, 38.86, 0},
       0.726578570080673,
       1.22602817476714,
       1.55872080643209},
      {{1, 1.71, 38.86, 0},
       0.212100985377379,
       0.203186987079754,
       0.259823464868622},
      {{26, 30.86, 31.0, 0},
       0.968915649717525,
       20.7497261408573,
       25.7581959364835},
      {{5, 10, 38.86, 0},
       0.0248043661687785,
       0.094440082401065,
       0.119117775376079},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.c.x);
    EXPECT_NEAR(ProbabilityAlive(p, k.c), k.alive, 1e-12);
    absl::StatusOr<double> e39 = ExpectedPurchases(p, k.c, 39);
    absl::StatusOr<double> e52 = ExpectedPurchases(p, k.c, 52);
    ASSERT_TRUE(e39.ok() && e52.ok());
    EXPECT_NEAR(*e39, k.e39, 1e-10);
    EXPECT_NEAR(*e52, k.e52, 1e-10);
  }
  EXPECT_EQ(*ExpectedPurchases(p, {2, 30.43, 38.86, 0}, 0), 0.0);
}

TEST(LtvTest, ExpectedSpendAndLifetimeValue) {
  const GammaGammaParams gg{6.25, 3.74, 15.44};
  // (gamma + zbar x) p / (p x + q - 1) = (15.44 + 44.7) 6.25 / 15.24.
  EXPECT_NEAR(ExpectedSpend(gg, {2, 30.43, 38.86, 22.35}), 24.6637139107612,
              1e-12);
  EXPECT_NEAR(ExpectedSpend(gg, {1, 1.71, 38.86, 11.77}), 18.916852057842,
              1e-12);
  // x = 0: the population mean p gamma / (q - 1) = 96.5 / 2.74.
  EXPECT_NEAR(ExpectedSpend(gg, {0, 0, 38.86, 0}), 35.2189781021898, 1e-12);

  // 52 weeks, 10 % a year -> 1.1^(7/365) - 1 a week, margin 1 (mpmath).
  const BgNbdParams bg{0.243, 4.414, 0.793, 2.426};
  const double d = std::pow(1.1, 7.0 / 365) - 1;
  absl::StatusOr<double> v =
      LifetimeValue(bg, gg, {2, 30.43, 38.86, 22.35}, 52, d, 1.0);
  ASSERT_TRUE(v.ok());
  EXPECT_NEAR(*v, 36.7634223840059, 1e-9);
  absl::StatusOr<double> half =
      LifetimeValue(bg, gg, {2, 30.43, 38.86, 22.35}, 52, d, 0.5);
  EXPECT_NEAR(*half, 36.7634223840059 / 2, 1e-9);
  // No discount: spend times the expected purchases over the horizon.
  absl::StatusOr<double> flat =
      LifetimeValue(bg, gg, {2, 30.43, 38.86, 22.35}, 52, 0, 1.0);
  EXPECT_NEAR(*flat, 24.6637139107612 * 1.55872080643209, 1e-9);
}

TEST(LtvTest, Hyp2F1AgainstClosedForm) {
  // 2F1(1, 1; 2; z) = -ln(1 - z) / z.
  for (double z : {0.0, 0.1, 0.5, 0.9}) {
    absl::StatusOr<double> f = Hyp2F1(1, 1, 2, z);
    ASSERT_TRUE(f.ok());
    EXPECT_NEAR(*f, z == 0 ? 1.0 : -std::log(1 - z) / z, 1e-13) << z;
  }
  EXPECT_FALSE(Hyp2F1(1, 1, 2, 1.0).ok());
}

TEST(LtvTest, BadInputIsNamed) {
  std::vector<CustomerSummary> cs = {
      {1, 2, 10, 5}, {0, 0, 10, 0}, {2, 11, 10, 5}, {0, 0, 5, 0}};
  absl::StatusOr<BgNbdParams> p = FitBgNbd(cs);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "customer summary 2: need x >= 0, 0 <= t_x <= T, T > 0 and t_x "
            "= 0 when x = 0, got x=2 t_x=11 T=10");
  EXPECT_FALSE(
      FitBgNbd({{0, 0, 10, 0}, {0, 0, 10, 0}, {0, 0, 10, 0}, {0, 0, 10, 0}})
          .ok());
  absl::StatusOr<GammaGammaParams> g =
      FitGammaGamma({{1, 2, 10, 5}, {1, 2, 10, 0}, {1, 2, 10, 5}});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(),
            "customer summary 1: mean_value must be > 0 when x > 0, got 0");
}

// The population pass fits the model on the customers' LtvInputs and writes
// each customer's expectations into its entry.
std::vector<v1::PopulationFacts> CdnowFacts() {
  std::vector<v1::PopulationFacts> out;
  int id = 0;
  for (const CustomerSummary& c : LoadCdnow()) {
    v1::PopulationFacts f;
    f.set_customer_id(absl::StrCat("c", ++id));
    f.set_revenue_window_minor(100);
    f.set_has_orders(true);
    f.mutable_ltv()->set_x(c.x);
    f.mutable_ltv()->set_t_x(c.t_x);
    f.mutable_ltv()->set_t(c.t);
    f.mutable_ltv()->set_mean_value(c.mean_value);
    out.push_back(f);
  }
  return out;
}

TEST(LtvPopulationTest, ClassifyPopulationFitsAndFillsEntries) {
  const std::vector<v1::PopulationFacts> facts = CdnowFacts();
  const v1::Rules rules = DefaultRules();  // fit_max_customers 20000 > 2357
  const absl::Time as_of = absl::FromUnixSeconds(1'000'000'000);
  absl::StatusOr<v1::PopulationResult> r =
      ClassifyPopulation(facts, rules, as_of);
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::LtvModel& m = r->ltv_model();
  ASSERT_TRUE(m.fitted()) << m.not_fitted_why();
  ASSERT_TRUE(m.spend_fitted()) << m.spend_not_fitted_why();
  EXPECT_EQ(m.fit_customers(), 2357u);
  EXPECT_EQ(m.fit_repeat_customers(), 946u);
  EXPECT_EQ(m.horizon_units(), 52);
  EXPECT_EQ(m.time_unit_days(), 7);
  EXPECT_DOUBLE_EQ(m.discount_per_period(), std::pow(1.1, 7.0 / 365) - 1);
  const BgNbdParams bg = *FitBgNbd(LoadCdnow());
  EXPECT_EQ(m.r(), bg.r);
  EXPECT_EQ(m.alpha(), bg.alpha);
  EXPECT_EQ(m.a(), bg.a);
  EXPECT_EQ(m.b(), bg.b);
  EXPECT_NEAR(m.p(), 6.25, 0.01);

  // Customer 1: x=2, t_x=30.43, T=38.86, zbar=22.35.
  const v1::PopulationEntry& e = r->entries(0);
  ASSERT_EQ(e.customer_id(), "c1");
  ASSERT_TRUE(e.ltv_computed());
  ASSERT_TRUE(e.lifetime_value_computed());
  const CustomerSummary c1{2, 30.43, 38.86, 22.35};
  EXPECT_EQ(e.expected_purchases(), *ExpectedPurchases(bg, c1, 52));
  EXPECT_EQ(e.probability_alive(), ProbabilityAlive(bg, c1));
  const GammaGammaParams gg{m.p(), m.q(), m.gamma()};
  EXPECT_EQ(e.lifetime_value_minor(),
            std::llround(
                *LifetimeValue(bg, gg, c1, 52, m.discount_per_period(), 1.0)));
  EXPECT_EQ(e.ltv_horizon_days(), 364);
  EXPECT_EQ(e.ltv_as_of().seconds(), 1'000'000'000);

  // The model alone gives back every customer's fields (what a pass record
  // keeps to reproduce them).
  ASSERT_EQ(r->entries_size(), static_cast<int>(facts.size()));
  std::map<std::string, const v1::PopulationFacts*> by_id;
  for (const auto& f : facts) by_id[f.customer_id()] = &f;
  int with_value = 0;
  for (const v1::PopulationEntry& want : r->entries()) {
    const std::string& id = want.customer_id();
    ASSERT_EQ(by_id.count(id), 1u) << id;
    v1::PopulationEntry got;
    ASSERT_TRUE(SetLtvFields(m, *by_id[id], r->as_of(), &got)) << id;
    EXPECT_EQ(got.expected_purchases(), want.expected_purchases()) << id;
    EXPECT_EQ(got.probability_alive(), want.probability_alive()) << id;
    EXPECT_EQ(got.lifetime_value_minor(), want.lifetime_value_minor()) << id;
    if (got.lifetime_value_computed()) ++with_value;
  }
  EXPECT_EQ(with_value, static_cast<int>(facts.size()));

  // Input order does not matter; a capped fit sample is chosen by id hash.
  std::vector<v1::PopulationFacts> reversed(facts.rbegin(), facts.rend());
  v1::Rules capped = rules;
  capped.mutable_ltv()->set_fit_max_customers(1000);
  absl::StatusOr<v1::PopulationResult> a =
      ClassifyPopulation(facts, capped, as_of);
  absl::StatusOr<v1::PopulationResult> b =
      ClassifyPopulation(reversed, capped, as_of);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->ltv_model().fit_customers(), 1000u);
  EXPECT_EQ(a->SerializeAsString(), b->SerializeAsString());
  EXPECT_NE(a->ltv_model().r(), m.r());
}

TEST(LtvPopulationTest, TooFewCustomersIsNotFittedAndSaysWhy) {
  std::vector<v1::PopulationFacts> facts = CdnowFacts();
  facts.resize(99);
  absl::StatusOr<v1::PopulationResult> r =
      ClassifyPopulation(facts, DefaultRules(), absl::FromUnixSeconds(0));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ltv_model().fitted());
  EXPECT_EQ(r->ltv_model().not_fitted_why(),
            "99 customers with an order before as_of, fewer than "
            "ltv.min_customers (100)");
  for (const auto& e : r->entries()) EXPECT_FALSE(e.ltv_computed());
}

TEST(LtvRulesTest, AbsentFieldsTakeDefaultsAndBadValuesAreNamed) {
  v1::Rules rules = DefaultRules();
  rules.clear_ltv();
  rules.clear_credit();
  EXPECT_TRUE(ValidateRules(rules).ok());
  const v1::LtvRules l = EffectiveLtvRules(rules);
  EXPECT_EQ(l.time_unit_days(), 7);
  EXPECT_EQ(l.horizon_units(), 52);
  EXPECT_EQ(l.annual_discount_rate(), 0.10);
  EXPECT_EQ(l.margin(), 1.0);
  EXPECT_EQ(l.min_customers(), 100u);
  EXPECT_EQ(l.fit_max_customers(), 20000u);
  rules.mutable_ltv()->set_annual_discount_rate(0);  // present: kept
  EXPECT_EQ(EffectiveLtvRules(rules).annual_discount_rate(), 0.0);
  EXPECT_TRUE(ValidateRules(rules).ok());
  rules.mutable_ltv()->set_margin(1.5);
  rules.mutable_ltv()->set_horizon_units(0);
  rules.mutable_ltv()->set_min_customers(500);
  rules.mutable_ltv()->set_fit_max_customers(400);
  EXPECT_EQ(std::string(ValidateRules(rules).message()),
            "ltv.horizon_units: must be in [1, 520], got 0; ltv.margin: must "
            "be in (0, 1], got 1.5; ltv.fit_max_customers: must be >= "
            "min_customers (500), got 400");
}

}  // namespace
}  // namespace crm::projections::ltv
