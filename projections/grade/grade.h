#pragma once

// Grade classifiers: value tier, prospect grade, value class, wallet
// quadrant and the weighted star rating. Pure functions of GradeFacts (the
// customer's facts at an as_of, computed by the projector) and the rules.
// Formulas: projections/grade/README.md.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "crm/v1/events.pb.h"
#include "crm/v1/rules.pb.h"
#include "crm/v1/views.pb.h"
#include "projections/rules/text.h"
#include "projections/rules/units.h"

namespace crm::projections {

// What the grade classifiers read; every amount in minor units of the rules
// currency, every window as of the same instant.
struct GradeFacts {
  // Net orders (placed - cancelled) > 0: a transacted customer.
  bool has_orders = false;
  int64_t revenue_window = 0;        // value-tier window, net
  int64_t revenue_prior_window = 0;  // the window before it
  int64_t gross_profit_window = 0;
  int64_t marketing_cost_window = 0;  // discounts + financing cost
  int64_t revenue_share_window = 0;   // wallet.share_window_days, net
  bool has_wallet = false;            // a WalletEstimated was seen
  int64_t category_spend = 0;
  int64_t planned_purchases = 0;
  // Open (not closed) opportunities.
  std::vector<v1::OpenOpportunity> opportunities;
  v1::IndustryPosition industry_position = v1::INDUSTRY_POSITION_UNSPECIFIED;
  int64_t tenure_days = 0;         // whole days since registration
  double satisfaction_degree = 0;  // 0..100
};

// VIP / LARGE / MEDIUM / SMALL by revenue_window against the floors
// (revenue >= floor); UNSPECIFIED when !has_orders.
Classified<v1::ValueTier> ClassifyValueTier(const GradeFacts& facts,
                                            const v1::Rules& rules);

// Best grade any open opportunity earns (ProspectRules); D when none does;
// UNSPECIFIED when has_orders.
Classified<v1::ProspectGrade> ClassifyProspect(const GradeFacts& facts,
                                               const v1::Rules& rules);

// BZC if window net profit < bzc_below_net_profit_minor; else MVC if
// revenue_window >= mvc_min_revenue_minor; else MGC if revenue_window >=
// mgc_min_revenue_minor, revenue_prior_window > 0 and revenue_window * 100 >=
// revenue_prior_window * mgc_min_growth_pct; else NORMAL. UNSPECIFIED when
// !has_orders.
Classified<v1::ValueClass> ClassifyValueClass(const GradeFacts& facts,
                                              const v1::Rules& rules);

// Share of wallet and the quadrant with its strategy.
struct WalletResult {
  v1::WalletQuadrant quadrant = v1::WALLET_QUADRANT_UNSPECIFIED;
  double share = 0;      // revenue_share_window / category_spend, in [0, 1]
  std::string strategy;  // "keep", "maintain or acquire", ...
  std::string why;
};

// High share when revenue_share_window * 100 >= category_spend *
// high_share_min_pct (with no category spend: high iff we have revenue);
// large volume when planned_purchases >= large_volume_min_minor.
// UNSPECIFIED without a wallet estimate.
WalletResult ClassifyWallet(const GradeFacts& facts, const v1::Rules& rules);

// The weighted star rating.
struct StarResult {
  uint32_t stars = 0;  // 1..5; 0 when !has_orders (not rated)
  v1::StarComponents components;
  std::string why;
};

// Scores each component 0..100, weights them (StarRules) and maps the total
// with StarsForTotal. Deterministic: the same facts give the same doubles.
StarResult RateStars(const GradeFacts& facts, const v1::Rules& rules);

// 1 + the number of star_floors that `total` reaches (total >= floor).
uint32_t StarsForTotal(double total, const v1::StarRules& rules);

// The rating after `previous` (0 = not rated yet) given a new `total`: up
// to StarsForTotal(total) at once, but down only to
// min(previous, StarsForTotal(total + hysteresis)).
uint32_t StarsWithHysteresis(double total, uint32_t previous,
                             const v1::StarRules& rules);

// Strategy text of a wallet quadrant ("keep", ...); "" for UNSPECIFIED.
std::string WalletStrategy(v1::WalletQuadrant quadrant);

namespace internal {

// The classifiers in two steps, for the projector's hot path: the value
// without text, and the same why as the Classify* functions appended to a
// reused buffer (`why` may be nullptr where offered). Formulas as above.
v1::ValueTier ValueTierOf(const GradeFacts& facts, const v1::Rules& rules);
void AppendValueTierWhy(v1::ValueTier tier, const GradeFacts& facts,
                        const v1::Rules& rules, TextBuffer* out);
// ClassifyProspect over the state's opportunities (facts.opportunities is
// not read).
v1::ProspectGrade ProspectOf(
    bool has_orders,
    const google::protobuf::RepeatedPtrField<v1::OpenOpportunity>&
        opportunities,
    const v1::Rules& rules, TextBuffer* why);
v1::ValueClass ValueClassOf(const GradeFacts& facts, const v1::Rules& rules);
void AppendValueClassWhy(v1::ValueClass value_class, const GradeFacts& facts,
                         const v1::Rules& rules, TextBuffer* out);
// ClassifyWallet: the quadrant; *share as WalletResult::share.
v1::WalletQuadrant WalletOf(const GradeFacts& facts, const v1::Rules& rules,
                            double* share, TextBuffer* why);
absl::string_view WalletStrategyText(v1::WalletQuadrant quadrant);
// RateStars for a customer with orders: sets every component, returns
// StarsForTotal(total).
uint32_t ScoreStars(const GradeFacts& facts, const v1::Rules& rules,
                    v1::StarComponents* components);
// RateStars' why, and the projector's when hysteresis keeps a rating.
void AppendStarsWhy(double total, uint32_t stars, TextBuffer* out);
void AppendHysteresisWhy(double total, double hysteresis, uint32_t held,
                         TextBuffer* out);

}  // namespace internal

}  // namespace crm::projections
