#include "projections/grade/grade.h"

#include <algorithm>

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

// The best open opportunity: lowest grade, ties the first (lowest id).
template <typename Range>
const v1::OpenOpportunity* BestOpportunity(const Range& opportunities,
                                           const v1::ProspectRules& p,
                                           int* grade) {
  int best = 4;
  const v1::OpenOpportunity* best_opp = nullptr;
  for (const auto& o : opportunities) {
    const int g = OpportunityGrade(o, p);
    if (best_opp == nullptr || g < best) {
      best = g;
      best_opp = &o;
    }
  }
  *grade = best;
  return best_opp;
}

template <typename Range>
v1::ProspectGrade ProspectOf(bool has_orders, const Range& opportunities,
                             const v1::Rules& rules, TextBuffer* why) {
  if (has_orders) {
    if (why != nullptr) why->Append("has ordered");
    return v1::PROSPECT_GRADE_UNSPECIFIED;
  }
  int best = 4;
  const v1::OpenOpportunity* o =
      BestOpportunity(opportunities, rules.prospect(), &best);
  if (o == nullptr) {
    if (why != nullptr) why->Append("no open opportunity");
    return v1::PROSPECT_GRADE_D;
  }
  if (why != nullptr) {
    why->Append("opportunity ")
        .Append(o->opportunity_id())
        .Append(" at ")
        .Append(o->win_probability_pct())
        .Append("% in ")
        .Append(v1::OpportunityStage_Name(o->stage()));
  }
  return static_cast<v1::ProspectGrade>(best);
}

}  // namespace

namespace internal {

v1::ValueTier ValueTierOf(const GradeFacts& f, const v1::Rules& rules) {
  if (!f.has_orders) return v1::VALUE_TIER_UNSPECIFIED;
  const auto& t = rules.value_tier();
  const int64_t r = f.revenue_window;
  if (r >= t.vip_min_minor()) return v1::VALUE_TIER_VIP;
  if (r >= t.large_min_minor()) return v1::VALUE_TIER_LARGE;
  if (r >= t.medium_min_minor()) return v1::VALUE_TIER_MEDIUM;
  return v1::VALUE_TIER_SMALL;
}

void AppendValueTierWhy(v1::ValueTier tier, const GradeFacts& f,
                        const v1::Rules& rules, TextBuffer* out) {
  const auto& t = rules.value_tier();
  if (tier == v1::VALUE_TIER_UNSPECIFIED) {
    out->Append("no order");
    return;
  }
  out->Append("revenue_window ").Append(f.revenue_window);
  switch (tier) {
    case v1::VALUE_TIER_VIP:
      out->Append(" >= vip_min_minor ").Append(t.vip_min_minor());
      break;
    case v1::VALUE_TIER_LARGE:
      out->Append(" >= large_min_minor ").Append(t.large_min_minor());
      break;
    case v1::VALUE_TIER_MEDIUM:
      out->Append(" >= medium_min_minor ").Append(t.medium_min_minor());
      break;
    default:
      out->Append(" < medium_min_minor ").Append(t.medium_min_minor());
      break;
  }
}

v1::ProspectGrade ProspectOf(
    bool has_orders,
    const google::protobuf::RepeatedPtrField<v1::OpenOpportunity>&
        opportunities,
    const v1::Rules& rules, TextBuffer* why) {
  return crm::projections::ProspectOf(has_orders, opportunities, rules, why);
}

v1::ValueClass ValueClassOf(const GradeFacts& f, const v1::Rules& rules) {
  if (!f.has_orders) return v1::VALUE_CLASS_UNSPECIFIED;
  const auto& c = rules.value_class();
  const int64_t net = f.gross_profit_window - f.marketing_cost_window;
  if (net < c.bzc_below_net_profit_minor()) return v1::VALUE_CLASS_BZC;
  if (f.revenue_window >= c.mvc_min_revenue_minor()) return v1::VALUE_CLASS_MVC;
  if (f.revenue_window >= c.mgc_min_revenue_minor() &&
      f.revenue_prior_window > 0 &&
      ProductAtLeast(f.revenue_window, 100, f.revenue_prior_window,
                     c.mgc_min_growth_pct())) {
    return v1::VALUE_CLASS_MGC;
  }
  return v1::VALUE_CLASS_NORMAL;
}

void AppendValueClassWhy(v1::ValueClass value_class, const GradeFacts& f,
                         const v1::Rules& rules, TextBuffer* out) {
  const auto& c = rules.value_class();
  switch (value_class) {
    case v1::VALUE_CLASS_UNSPECIFIED:
      out->Append("no order");
      break;
    case v1::VALUE_CLASS_BZC:
      out->Append("net_profit_window ")
          .Append(f.gross_profit_window - f.marketing_cost_window)
          .Append(" < bzc_below_net_profit_minor ")
          .Append(c.bzc_below_net_profit_minor());
      break;
    case v1::VALUE_CLASS_MVC:
      out->Append("revenue_window ")
          .Append(f.revenue_window)
          .Append(" >= mvc_min_revenue_minor ")
          .Append(c.mvc_min_revenue_minor());
      break;
    case v1::VALUE_CLASS_MGC:
      out->Append("revenue_window ")
          .Append(f.revenue_window)
          .Append(" >= ")
          .Append(c.mgc_min_growth_pct())
          .Append("% of revenue_prior_window ")
          .Append(f.revenue_prior_window);
      break;
    default:
      out->Append("no class rule matched");
      break;
  }
}

absl::string_view WalletStrategyText(v1::WalletQuadrant q) {
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

v1::WalletQuadrant WalletOf(const GradeFacts& f, const v1::Rules& rules,
                            double* share, TextBuffer* why) {
  *share = 0;
  if (!f.has_wallet) {
    if (why != nullptr) why->Append("no wallet estimate");
    return v1::WALLET_QUADRANT_UNSPECIFIED;
  }
  const auto& r = rules.wallet();
  const int64_t ours = std::max<int64_t>(0, f.revenue_share_window);
  bool high;
  if (f.category_spend > 0) {
    high = ProductAtLeast(ours, 100, f.category_spend, r.high_share_min_pct());
    *share = std::min(
        1.0, static_cast<double>(ours) / static_cast<double>(f.category_spend));
  } else {
    high = ours > 0;
    *share = high ? 1.0 : 0.0;
  }
  const bool large = f.planned_purchases >= r.large_volume_min_minor();
  v1::WalletQuadrant q;
  if (high) {
    q = large ? v1::WALLET_QUADRANT_KEEP
              : v1::WALLET_QUADRANT_MAINTAIN_OR_ACQUIRE;
  } else {
    q = large ? v1::WALLET_QUADRANT_DEVELOP
              : v1::WALLET_QUADRANT_ACQUIRE_OR_ABANDON;
  }
  if (why != nullptr) {
    why->Append("share ")
        .Append(ours)
        .Append("/")
        .Append(f.category_spend)
        .Append(high ? " >= " : " < ")
        .Append(r.high_share_min_pct())
        .Append("%, planned_purchases ")
        .Append(f.planned_purchases)
        .Append(large ? " >= " : " < ")
        .Append(r.large_volume_min_minor());
  }
  return q;
}

uint32_t ScoreStars(const GradeFacts& f, const v1::Rules& rules,
                    v1::StarComponents* c) {
  const auto& s = rules.stars();
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
  return StarsForTotal(c->total(), s);
}

void AppendStarsWhy(double total, uint32_t stars, TextBuffer* out) {
  out->Append("total score ")
      .Append(total)
      .Append(" -> ")
      .Append(stars)
      .Append(stars == 1 ? " star" : " stars");
}

void AppendHysteresisWhy(double total, double hysteresis, uint32_t held,
                         TextBuffer* out) {
  out->Append("total score ")
      .Append(total)
      .Append(" within hysteresis ")
      .Append(hysteresis)
      .Append(" of the floor: keeps ")
      .Append(held);
}

}  // namespace internal

Classified<v1::ValueTier> ClassifyValueTier(const GradeFacts& f,
                                            const v1::Rules& rules) {
  const v1::ValueTier tier = internal::ValueTierOf(f, rules);
  TextBuffer why;
  internal::AppendValueTierWhy(tier, f, rules, &why);
  return {tier, why.str()};
}

Classified<v1::ProspectGrade> ClassifyProspect(const GradeFacts& f,
                                               const v1::Rules& rules) {
  TextBuffer why;
  const v1::ProspectGrade g =
      ProspectOf(f.has_orders, f.opportunities, rules, &why);
  return {g, why.str()};
}

Classified<v1::ValueClass> ClassifyValueClass(const GradeFacts& f,
                                              const v1::Rules& rules) {
  const v1::ValueClass c = internal::ValueClassOf(f, rules);
  TextBuffer why;
  internal::AppendValueClassWhy(c, f, rules, &why);
  return {c, why.str()};
}

std::string WalletStrategy(v1::WalletQuadrant q) {
  return std::string(internal::WalletStrategyText(q));
}

WalletResult ClassifyWallet(const GradeFacts& f, const v1::Rules& rules) {
  WalletResult w;
  TextBuffer why;
  w.quadrant = internal::WalletOf(f, rules, &w.share, &why);
  w.strategy = WalletStrategy(w.quadrant);
  w.why = why.str();
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
  r.stars = internal::ScoreStars(f, rules, &r.components);
  TextBuffer why;
  internal::AppendStarsWhy(r.components.total(), r.stars, &why);
  r.why = why.str();
  return r;
}

}  // namespace crm::projections
