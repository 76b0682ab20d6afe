#include "projections/population/population.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/base/time_util.h"
#include "projections/population/ltv.h"
#include "projections/rules/rules.h"
#include "projections/rules/units.h"
#include "projections/satisfaction/satisfaction.h"

namespace crm::projections {
namespace {

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

ltv::CustomerSummary SummaryOf(const v1::LtvInputs& in) {
  return {in.x(), in.t_x(), in.t(), in.mean_value()};
}

// Revenue descending, then customer id ascending.
bool RanksBefore(const v1::PopulationFacts* a, const v1::PopulationFacts* b) {
  if (a->revenue_window_minor() != b->revenue_window_minor()) {
    return a->revenue_window_minor() > b->revenue_window_minor();
  }
  return a->customer_id() < b->customer_id();
}

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// round(n * pct / 100), half up.
uint64_t PctOf(uint64_t n, uint32_t pct) { return (n * pct + 50) / 100; }

}  // namespace

std::vector<int64_t> QuintileCuts(std::vector<int64_t> values) {
  std::vector<int64_t> cuts;
  if (values.empty()) return cuts;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  for (size_t k = 1; k <= 4; ++k) cuts.push_back(values[k * n / 5]);
  return cuts;
}

uint32_t AscendingScore(int64_t value, absl::Span<const int64_t> cuts) {
  uint32_t score = 1;
  for (int64_t c : cuts) {
    if (value >= c) ++score;
  }
  return score;
}

uint32_t RecencyScore(int64_t days, absl::Span<const int64_t> cuts) {
  uint32_t score = 5;
  for (int64_t c : cuts) {
    if (days >= c) --score;
  }
  return score;
}

v1::RfmSegment RfmSegmentFor(uint32_t r, uint32_t f) {
  if (r < 1 || r > 5 || f < 1 || f > 5) return v1::RFM_SEGMENT_UNSPECIFIED;
  if (r <= 2) {
    if (f <= 2) return v1::RFM_SEGMENT_HIBERNATING;
    if (f <= 4) return v1::RFM_SEGMENT_AT_RISK;
    return v1::RFM_SEGMENT_CANT_LOSE;
  }
  if (r == 3) {
    if (f <= 2) return v1::RFM_SEGMENT_ABOUT_TO_SLEEP;
    if (f == 3) return v1::RFM_SEGMENT_NEED_ATTENTION;
    return v1::RFM_SEGMENT_LOYAL;
  }
  if (f == 1) {
    return r == 5 ? v1::RFM_SEGMENT_NEW : v1::RFM_SEGMENT_PROMISING;
  }
  if (f <= 3) return v1::RFM_SEGMENT_POTENTIAL_LOYALISTS;
  return r == 5 ? v1::RFM_SEGMENT_CHAMPIONS : v1::RFM_SEGMENT_LOYAL;
}

absl::StatusOr<v1::PopulationResult> ClassifyPopulation(
    absl::Span<const v1::PopulationFacts> facts, const v1::Rules& rules,
    absl::Time as_of) {
  // Entries in id order; reject empty and duplicate ids. Memory is O(N):
  // the facts are referenced, not copied.
  const size_t count = facts.size();
  std::vector<size_t> by_id(count);
  for (size_t i = 0; i < count; ++i) by_id[i] = i;
  std::sort(by_id.begin(), by_id.end(), [&](size_t a, size_t b) {
    return facts[a].customer_id() < facts[b].customer_id();
  });
  for (size_t k = 0; k < count; ++k) {
    const std::string& id = facts[by_id[k]].customer_id();
    if (id.empty()) {
      return absl::InvalidArgumentError(
          "population facts: customer_id must be set");
    }
    if (k > 0 && id == facts[by_id[k - 1]].customer_id()) {
      return absl::InvalidArgumentError(
          absl::StrCat("population facts: duplicate customer_id \"", id, "\""));
    }
  }

  v1::PopulationResult result;
  *result.mutable_as_of() = ToProto(as_of);
  result.set_rules_version(rules.version());
  result.mutable_entries()->Reserve(static_cast<int>(count));
  std::vector<v1::PopulationEntry*> entry_of(count);
  for (size_t k = 0; k < count; ++k) {
    v1::PopulationEntry* e = result.add_entries();
    e->set_customer_id(facts[by_id[k]].customer_id());
    entry_of[by_id[k]] = e;
  }

  std::vector<const v1::PopulationFacts*> ranked;
  ranked.reserve(count);
  for (const auto& f : facts) ranked.push_back(&f);
  std::sort(ranked.begin(), ranked.end(), RanksBefore);
  auto entry = [&](const v1::PopulationFacts* f) -> v1::PopulationEntry& {
    return *entry_of[static_cast<size_t>(f - facts.data())];
  };

  // ABC and contribution over positive revenue.
  int64_t total = 0;
  for (const auto* f : ranked) {
    if (f->revenue_window_minor() > 0) total += f->revenue_window_minor();
  }
  result.set_total_revenue_minor(total);
  int64_t above = 0;
  int64_t rank = 0;
  const auto& abc = rules.abc();
  for (const auto* f : ranked) {
    v1::PopulationEntry& e = entry(f);
    e.set_rank(++rank);
    const int64_t rev = f->revenue_window_minor();
    if (rev <= 0 || total <= 0) continue;
    if (!ProductAtLeast(above, 100, total, abc.a_max_cumulative_pct())) {
      e.set_abc(v1::ABC_CLASS_A);
    } else if (!ProductAtLeast(above, 100, total, abc.b_max_cumulative_pct())) {
      e.set_abc(v1::ABC_CLASS_B);
    } else {
      e.set_abc(v1::ABC_CLASS_C);
    }
    e.set_cumulative_share_before(static_cast<double>(above) /
                                  static_cast<double>(total));
    e.set_revenue_share(static_cast<double>(rev) / static_cast<double>(total));
    e.set_contribution_degree(ContributionDegree(rev, above, total));
    above += rev;
  }

  // Key / ordinary / special over transacted customers.
  std::vector<const v1::PopulationFacts*> transacted;
  for (const auto* f : ranked) {
    if (f->has_orders()) transacted.push_back(f);
  }
  const uint64_t n = transacted.size();
  const auto& cr = rules.classes();
  const uint64_t key_n = std::min<uint64_t>(n, PctOf(n, cr.key_pct()));
  const uint64_t special_n =
      std::min<uint64_t>(n - key_n, PctOf(n, cr.special_pct()));
  std::map<std::string, v1::ManagerCoverage> coverage;
  for (uint64_t i = 0; i < n; ++i) {
    const auto* f = transacted[i];
    v1::CustomerClass c = v1::CUSTOMER_CLASS_ORDINARY;
    if (i < key_n) {
      c = v1::CUSTOMER_CLASS_KEY;
    } else if (i >= n - special_n) {
      c = v1::CUSTOMER_CLASS_SPECIAL;
    }
    entry(f).set_customer_class(c);
    v1::ManagerCoverage& m = coverage[f->account_manager()];
    m.set_account_manager(f->account_manager());
    if (c == v1::CUSTOMER_CLASS_KEY) {
      m.set_key_customers(m.key_customers() + 1);
    } else if (c == v1::CUSTOMER_CLASS_SPECIAL) {
      m.set_special_customers(m.special_customers() + 1);
    } else {
      m.set_ordinary_customers(m.ordinary_customers() + 1);
    }
  }
  result.set_key_customers(key_n);
  result.set_special_customers(special_n);
  result.set_ordinary_customers(n - key_n - special_n);
  uint64_t managers = 0;
  for (auto& [name, m] : coverage) {
    m.set_managers_required(
        CeilDiv(m.key_customers(), cr.key_customers_per_manager()) +
        CeilDiv(m.ordinary_customers(), cr.ordinary_customers_per_manager()) +
        CeilDiv(m.special_customers(), cr.special_customers_per_manager()));
    managers += m.managers_required();
    *result.add_coverage() = m;
  }
  result.set_managers_required(managers);

  // RFM over transacted customers.
  std::vector<int64_t> r_values, f_values, m_values;
  for (const auto* f : transacted) {
    r_values.push_back(f->recency_days());
    f_values.push_back(f->frequency());
    m_values.push_back(f->monetary_minor());
  }
  auto* cuts = result.mutable_rfm_cuts();
  for (int64_t c : QuintileCuts(r_values)) cuts->add_r(c);
  for (int64_t c : QuintileCuts(f_values)) cuts->add_f(c);
  for (int64_t c : QuintileCuts(m_values)) cuts->add_m(c);
  for (const auto* f : transacted) {
    v1::PopulationEntry& e = entry(f);
    e.set_rfm_r(RecencyScore(f->recency_days(), cuts->r()));
    e.set_rfm_f(AscendingScore(f->frequency(), cuts->f()));
    e.set_rfm_m(AscendingScore(f->monetary_minor(), cuts->m()));
    e.set_rfm_segment(RfmSegmentFor(e.rfm_r(), e.rfm_f()));
  }

  // Lifetime value over customers with an order before as_of.
  std::vector<const v1::PopulationFacts*> ltv_customers;
  for (const auto& f : facts) {
    if (f.has_ltv() && f.ltv().t() > 0) ltv_customers.push_back(&f);
  }
  const v1::LtvModel model = FitLtvModel(ltv_customers, rules);
  *result.mutable_ltv_model() = model;
  for (const auto* f : ltv_customers) {
    SetLtvFields(model, *f, result.as_of(), &entry(f));
  }

  return result;
}

bool SetLtvFields(const v1::LtvModel& model, const v1::PopulationFacts& f,
                  const google::protobuf::Timestamp& as_of,
                  v1::PopulationEntry* e) {
  if (!model.fitted() || !f.has_ltv() || f.ltv().t() <= 0) return false;
  const ltv::BgNbdParams bg{model.r(), model.alpha(), model.a(), model.b()};
  const ltv::GammaGammaParams gg{model.p(), model.q(), model.gamma()};
  const ltv::CustomerSummary c = SummaryOf(f.ltv());
  absl::StatusOr<double> expected =
      ltv::ExpectedPurchases(bg, c, static_cast<double>(model.horizon_units()));
  if (!expected.ok() || !std::isfinite(*expected)) {
    return false;  // left uncomputed (2F1 did not converge)
  }
  if (model.spend_fitted()) {
    absl::StatusOr<double> value =
        ltv::LifetimeValue(bg, gg, c, model.horizon_units(),
                           model.discount_per_period(), model.margin());
    if (value.ok() && std::isfinite(*value)) {
      e->set_lifetime_value_computed(true);
      e->set_lifetime_value_minor(std::llround(*value));
    }
  }
  e->set_ltv_computed(true);
  e->set_expected_purchases(*expected);
  e->set_probability_alive(ltv::ProbabilityAlive(bg, c));
  *e->mutable_ltv_as_of() = as_of;
  e->set_ltv_horizon_days(model.horizon_units() * model.time_unit_days());
  return true;
}

v1::LtvModel FitLtvModel(absl::Span<const v1::PopulationFacts* const> customers,
                         const v1::Rules& rules) {
  const v1::LtvRules lr = EffectiveLtvRules(rules);
  v1::LtvModel m;
  m.set_time_unit_days(lr.time_unit_days());
  m.set_horizon_units(lr.horizon_units());
  m.set_discount_per_period(
      std::pow(1.0 + lr.annual_discount_rate(),
               static_cast<double>(lr.time_unit_days()) / 365.0) -
      1.0);
  m.set_margin(lr.margin());
  if (customers.size() < lr.min_customers()) {
    m.set_not_fitted_why(
        absl::StrCat(customers.size(),
                     " customers with an order before as_of, fewer than "
                     "ltv.min_customers (",
                     lr.min_customers(), ")"));
    return m;
  }
  // The fit sample: the smallest FNV-1a hashes of the customer id (ties by
  // id), independent of the order and partitioning of the input.
  std::vector<std::pair<uint64_t, const v1::PopulationFacts*>> by_hash;
  by_hash.reserve(customers.size());
  for (const auto* f : customers)
    by_hash.push_back({Fnv1a(f->customer_id()), f});
  std::sort(by_hash.begin(), by_hash.end(), [](const auto& l, const auto& r) {
    return l.first != r.first
               ? l.first < r.first
               : l.second->customer_id() < r.second->customer_id();
  });
  if (by_hash.size() > lr.fit_max_customers()) {
    by_hash.resize(lr.fit_max_customers());
  }
  std::vector<ltv::CustomerSummary> sample;
  sample.reserve(by_hash.size());
  uint64_t repeaters = 0;
  for (const auto& [h, f] : by_hash) {
    sample.push_back(SummaryOf(f->ltv()));
    if (sample.back().x > 0) ++repeaters;
  }
  m.set_fit_customers(sample.size());
  m.set_fit_repeat_customers(repeaters);
  absl::StatusOr<ltv::BgNbdParams> bg = ltv::FitBgNbd(sample);
  if (!bg.ok()) {
    m.set_not_fitted_why(std::string(bg.status().message()));
    return m;
  }
  // Gamma-Gamma on the repeat customers with a positive mean order value.
  std::vector<ltv::CustomerSummary> spenders;
  for (const ltv::CustomerSummary& c : sample) {
    if (c.x > 0 && c.mean_value > 0) spenders.push_back(c);
  }
  absl::StatusOr<ltv::GammaGammaParams> gg = ltv::FitGammaGamma(spenders);
  for (double v : {bg->r, bg->alpha, bg->a, bg->b}) {
    if (!std::isfinite(v) || v <= 0) {
      m.set_not_fitted_why(
          "the BG/NBD fit did not converge to finite "
          "positive parameters");
      return m;
    }
  }
  m.set_r(bg->r);
  m.set_alpha(bg->alpha);
  m.set_a(bg->a);
  m.set_b(bg->b);
  m.set_fitted(true);
  if (!gg.ok()) {
    m.set_spend_not_fitted_why(std::string(gg.status().message()));
    return m;
  }
  for (double v : {gg->p, gg->q, gg->gamma}) {
    if (!std::isfinite(v) || v <= 0) {
      m.set_spend_not_fitted_why(
          "the Gamma-Gamma fit did not converge to finite positive "
          "parameters");
      return m;
    }
  }
  if (!(gg->q > 1)) {
    m.set_spend_not_fitted_why(absl::StrCat(
        "Gamma-Gamma q = ", gg->q, " <= 1: the expected spend is unbounded"));
    return m;
  }
  m.set_p(gg->p);
  m.set_q(gg->q);
  m.set_gamma(gg->gamma);
  m.set_spend_fitted(true);
  return m;
}

}  // namespace crm::projections
