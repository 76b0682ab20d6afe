#include "projections/lifecycle/lifecycle.h"

#include "absl/strings/str_cat.h"
#include "projections/rules/units.h"

namespace crm::projections {

Classified<v1::LifecycleStage> ClassifyStage(const LifecycleFacts& f,
                                             const v1::Rules& rules,
                                             absl::Time as_of) {
  const auto& l = rules.lifecycle();
  if (f.net_orders <= 0) {
    if (f.lead) return {v1::LIFECYCLE_STAGE_LEAD, "qualified lead, no order"};
    return {v1::LIFECYCLE_STAGE_PROSPECT, "no order"};
  }
  const absl::Duration idle = as_of - f.last_order_at;
  if (idle >= Days(l.churned_after_days())) {
    return {v1::LIFECYCLE_STAGE_CHURNED,
            absl::StrCat("no order for ", l.churned_after_days(), " days")};
  }
  if (idle >= Days(l.at_risk_after_days())) {
    return {v1::LIFECYCLE_STAGE_AT_RISK,
            absl::StrCat("no order for ", l.at_risk_after_days(), " days")};
  }
  if (f.won_back_at != absl::InfinitePast() &&
      as_of - f.won_back_at < Days(l.won_back_days())) {
    return {v1::LIFECYCLE_STAGE_WON_BACK,
            absl::StrCat("ordered again after ", l.churned_after_days(),
                         "+ days without an order")};
  }
  if (as_of - f.first_order_at < Days(l.new_days())) {
    return {v1::LIFECYCLE_STAGE_NEW,
            absl::StrCat("first order less than ", l.new_days(), " days ago")};
  }
  if (f.net_orders >= l.loyal_min_orders()) {
    return {v1::LIFECYCLE_STAGE_LOYAL,
            absl::StrCat(f.net_orders, " orders >= loyal_min_orders ",
                         l.loyal_min_orders())};
  }
  return {v1::LIFECYCLE_STAGE_ACTIVE,
          absl::StrCat(f.net_orders, " orders < loyal_min_orders ",
                       l.loyal_min_orders())};
}

absl::Time NextStageDeadline(const LifecycleFacts& f, const v1::Rules& rules,
                             absl::Time after) {
  if (f.net_orders <= 0) return absl::InfiniteFuture();
  const auto& l = rules.lifecycle();
  absl::Time next = absl::InfiniteFuture();
  auto consider = [&](absl::Time base, int64_t days) {
    if (base == absl::InfinitePast()) return;
    const absl::Time t = base + Days(days);
    if (t > after && t < next) next = t;
  };
  consider(f.last_order_at, l.at_risk_after_days());
  consider(f.last_order_at, l.churned_after_days());
  consider(f.won_back_at, l.won_back_days());
  consider(f.first_order_at, l.new_days());
  return next;
}

bool IsWinBack(absl::Time previous_last_order_at, absl::Time order_at,
               const v1::Rules& rules) {
  return previous_last_order_at != absl::InfinitePast() &&
         order_at - previous_last_order_at >=
             Days(rules.lifecycle().churned_after_days());
}

}  // namespace crm::projections
