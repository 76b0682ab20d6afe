#include "projections/grade/grade.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "projections/rules/units.h"

namespace crm::projections {
namespace {

// Clamps to [0, 100].
double Clamp100(double v) { return std::min(100.0, std::max(0.0, v)); }

// 100 * value / full, clamped to [0, 100]; full > 0.
double Scale(int64_t value, int64_t full) {
  if (value <= 0) return 0;
  if (value >= full) return 100;
  return 100.0 * static_cast<double>(value) / static_cast<double>(full);
}

// The grade (1 = A .. 4 = D) one open opportunity earns.
int OpportunityGrade(const v1::OpenOpportunity& o, const v1::ProspectRules& p) {
  const uint32_t win = o.win_probability_pct();
  const int stage = o.stage();
  if (win >= p.a_min_win_pct() && stage >= p.a_min_stage()) return 1;
  if (win >= p.b_min_win_pct() && stage >= p.b_min_stage()) return 2;
  if (win >= p.c_min_win_pct() && stage >= p.c_min_stage()) return 3;
  return 4;
}

}  // namespace

Classified<v1::ValueTier> ClassifyValueTier(const GradeFacts& f,
                                            const v1::Rules& rules) {
  if (!f.has_orders) return {v1::VALUE_TIER_UNSPECIFIED, "no order"};
  const auto& t = rules.value_tier();
  const int64_t r = f.revenue_window;
  const std::string rev = absl::StrCat("revenue_window ", r);
  if (r >= t.vip_min_minor()) {
    return {v1::VALUE_TIER_VIP,
            absl::StrCat(rev, " >= vip_min_minor ", t.vip_min_minor())};
  }
  if (r >= t.large_min_minor()) {
    return {v1::VALUE_TIER_LARGE,
            absl::StrCat(rev, " >= large_min_minor ", t.large_min_minor())};
  }
  if (r >= t.medium_min_minor()) {
    return {v1::VALUE_TIER_MEDIUM,
            absl::StrCat(rev, " >= medium_min_minor ", t.medium_min_minor())};
  }
  return {v1::VALUE_TIER_SMALL,
          absl::StrCat(rev, " < medium_min_minor ", t.medium_min_minor())};
}

Classified<v1::ProspectGrade> ClassifyProspect(const GradeFacts& f,
                                               const v1::Rules& rules) {
  if (f.has_orders) return {v1::PROSPECT_GRADE_UNSPECIFIED, "has ordered"};
  int best = 4;
  const v1::OpenOpportunity* best_opp = nullptr;
  for (const auto& o : f.opportunities) {
    const int g = OpportunityGrade(o, rules.prospect());
    if (best_opp == nullptr || g < best) {  // ties: first (lowest id)
      best = g;
      best_opp = &o;
    }
  }
  if (best_opp == nullptr) return {v1::PROSPECT_GRADE_D, "no open opportunity"};
  return {static_cast<v1::ProspectGrade>(best),
          absl::StrCat("opportunity ", best_opp->opportunity_id(), " at ",
                       best_opp->win_probability_pct(), "% in ",
                       v1::OpportunityStage_Name(best_opp->stage()))};
}

Classified<v1::ValueClass> ClassifyValueClass(const GradeFacts& f,
                                              const v1::Rules& rules) {
  if (!f.has_orders) return {v1::VALUE_CLASS_UNSPECIFIED, "no order"};
  const auto& c = rules.value_class();
  const int64_t net = f.gross_profit_window - f.marketing_cost_window;
  if (net < c.bzc_below_net_profit_minor()) {
    return {v1::VALUE_CLASS_BZC, absl::StrCat("net_profit_window ", net,
                                              " < bzc_below_net_profit_minor ",
                                              c.bzc_below_net_profit_minor())};
  }
  if (f.revenue_window >= c.mvc_min_revenue_minor()) {
    return {
        v1::VALUE_CLASS_MVC,
        absl::StrCat("revenue_window ", f.revenue_window,
                     " >= mvc_min_revenue_minor ", c.mvc_min_revenue_minor())};
  }
  if (f.revenue_window >= c.mgc_min_revenue_minor() &&
      f.revenue_prior_window > 0 &&
      ProductAtLeast(f.revenue_window, 100, f.revenue_prior_window,
                     c.mgc_min_growth_pct())) {
    return {v1::VALUE_CLASS_MGC,
            absl::StrCat("revenue_window ", f.revenue_window,
                         " >= ", c.mgc_min_growth_pct(),
                         "% of revenue_prior_window ", f.revenue_prior_window)};
  }
  return {v1::VALUE_CLASS_NORMAL, "no class rule matched"};
}

std::string WalletStrategy(v1::WalletQuadrant q) {
  switch (q) {
    case v1::WALLET_QUADRANT_KEEP:
      return "keep";
    case v1::WALLET_QUADRANT_MAINTAIN_OR_ACQUIRE:
      return "maintain or acquire";
    case v1::WALLET_QUADRANT_DEVELOP:
      return "develop";
    case v1::WALLET_QUADRANT_ACQUIRE_OR_ABANDON:
      return "acquire or abandon";
    default:
      return "";
  }
}

WalletResult ClassifyWallet(const GradeFacts& f, const v1::Rules& rules) {
  WalletResult w;
  if (!f.has_wallet) {
    w.why = "no wallet estimate";
    return w;
  }
  const auto& r = rules.wallet();
  const int64_t ours = std::max<int64_t>(0, f.revenue_share_window);
  bool high;
  if (f.category_spend > 0) {
    high = ProductAtLeast(ours, 100, f.category_spend, r.high_share_min_pct());
    w.share = std::min(
        1.0, static_cast<double>(ours) / static_cast<double>(f.category_spend));
  } else {
    high = ours > 0;
    w.share = high ? 1.0 : 0.0;
  }
  const bool large = f.planned_purchases >= r.large_volume_min_minor();
  if (high) {
    w.quadrant = large ? v1::WALLET_QUADRANT_KEEP
                       : v1::WALLET_QUADRANT_MAINTAIN_OR_ACQUIRE;
  } else {
    w.quadrant = large ? v1::WALLET_QUADRANT_DEVELOP
                       : v1::WALLET_QUADRANT_ACQUIRE_OR_ABANDON;
  }
  w.strategy = WalletStrategy(w.quadrant);
  w.why = absl::StrCat("share ", ours, "/", f.category_spend,
                       high ? " >= " : " < ", r.high_share_min_pct(),
                       "%, planned_purchases ", f.planned_purchases,
                       large ? " >= " : " < ", r.large_volume_min_minor());
  return w;
}

uint32_t StarsForTotal(double total, const v1::StarRules& rules) {
  uint32_t stars = 1;
  for (double floor : rules.star_floors()) {
    if (total >= floor) ++stars;
  }
  return stars;
}

uint32_t StarsWithHysteresis(double total, uint32_t previous,
                             const v1::StarRules& rules) {
  const uint32_t stars = StarsForTotal(total, rules);
  if (previous == 0 || stars >= previous) return stars;
  return std::min(previous, StarsForTotal(total + rules.hysteresis(), rules));
}

StarResult RateStars(const GradeFacts& f, const v1::Rules& rules) {
  StarResult r;
  if (!f.has_orders) {
    r.why = "no order";
    return r;
  }
  const auto& s = rules.stars();
  auto* c = &r.components;
  c->set_gross_profit(
      Scale(f.gross_profit_window, s.gross_profit_full_minor()));
  c->set_sales_volume(Scale(f.revenue_window, s.sales_volume_full_minor()));
  double cost_score;
  if (f.revenue_window <= 0) {
    cost_score = f.marketing_cost_window > 0 ? 0 : 100;
  } else {
    const double ratio = static_cast<double>(f.marketing_cost_window) /
                         static_cast<double>(f.revenue_window);
    cost_score =
        Clamp100(100.0 * (1.0 - ratio / s.marketing_cost_zero_ratio()));
  }
  c->set_marketing_cost(cost_score);
  double position;
  switch (f.industry_position) {
    case v1::INDUSTRY_POSITION_LEADER:
      position = s.leader_score();
      break;
    case v1::INDUSTRY_POSITION_MAJOR:
      position = s.major_score();
      break;
    case v1::INDUSTRY_POSITION_AVERAGE:
      position = s.average_score();
      break;
    case v1::INDUSTRY_POSITION_MINOR:
      position = s.minor_score();
      break;
    default:
      position = s.unknown_position_score();
  }
  c->set_industry_position(position);
  c->set_tenure(Scale(f.tenure_days, s.tenure_full_days()));
  c->set_satisfaction(Clamp100(f.satisfaction_degree));
  c->set_current_value(s.gross_profit_weight() * c->gross_profit() +
                       s.sales_volume_weight() * c->sales_volume() +
                       s.marketing_cost_weight() * c->marketing_cost());
  c->set_future_value(s.industry_position_weight() * c->industry_position() +
                      s.tenure_weight() * c->tenure() +
                      s.satisfaction_weight() * c->satisfaction());
  c->set_total(s.current_weight() * c->current_value() +
               s.future_weight() * c->future_value());
  r.stars = StarsForTotal(c->total(), s);
  r.why = absl::StrCat("total score ", c->total(), " -> ", r.stars,
                       r.stars == 1 ? " star" : " stars");
  return r;
}

}  // namespace crm::projections
