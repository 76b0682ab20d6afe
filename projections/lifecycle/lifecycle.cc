#include "projections/lifecycle/lifecycle.h"

#include "projections/rules/units.h"

namespace crm::projections {

namespace internal {

v1::LifecycleStage StageAt(const LifecycleFacts& f, const v1::Rules& rules,
                           absl::Time as_of) {
  const auto& l = rules.lifecycle();
  if (f.net_orders <= 0) {
    return f.lead ? v1::LIFECYCLE_STAGE_LEAD : v1::LIFECYCLE_STAGE_PROSPECT;
  }
  const absl::Duration idle = as_of - f.last_order_at;
  if (idle >= Days(l.churned_after_days())) return v1::LIFECYCLE_STAGE_CHURNED;
  if (idle >= Days(l.at_risk_after_days())) return v1::LIFECYCLE_STAGE_AT_RISK;
  if (f.won_back_at != absl::InfinitePast() &&
      as_of - f.won_back_at < Days(l.won_back_days())) {
    return v1::LIFECYCLE_STAGE_WON_BACK;
  }
  if (as_of - f.first_order_at < Days(l.new_days())) {
    return v1::LIFECYCLE_STAGE_NEW;
  }
  if (f.net_orders >= l.loyal_min_orders()) return v1::LIFECYCLE_STAGE_LOYAL;
  return v1::LIFECYCLE_STAGE_ACTIVE;
}

void AppendStageWhy(v1::LifecycleStage stage, const LifecycleFacts& f,
                    const v1::Rules& rules, TextBuffer* out) {
  const auto& l = rules.lifecycle();
  switch (stage) {
    case v1::LIFECYCLE_STAGE_LEAD:
      out->Append("qualified lead, no order");
      break;
    case v1::LIFECYCLE_STAGE_PROSPECT:
      out->Append("no order");
      break;
    case v1::LIFECYCLE_STAGE_CHURNED:
      out->Append("no order for ")
          .Append(l.churned_after_days())
          .Append(" days");
      break;
    case v1::LIFECYCLE_STAGE_AT_RISK:
      out->Append("no order for ")
          .Append(l.at_risk_after_days())
          .Append(" days");
      break;
    case v1::LIFECYCLE_STAGE_WON_BACK:
      out->Append("ordered again after ")
          .Append(l.churned_after_days())
          .Append("+ days without an order");
      break;
    case v1::LIFECYCLE_STAGE_NEW:
      out->Append("first order less than ")
          .Append(l.new_days())
          .Append(" days ago");
      break;
    case v1::LIFECYCLE_STAGE_LOYAL:
      out->Append(f.net_orders)
          .Append(" orders >= loyal_min_orders ")
          .Append(l.loyal_min_orders());
      break;
    default:
      out->Append(f.net_orders)
          .Append(" orders < loyal_min_orders ")
          .Append(l.loyal_min_orders());
      break;
  }
}

}  // namespace internal

Classified<v1::LifecycleStage> ClassifyStage(const LifecycleFacts& f,
                                             const v1::Rules& rules,
                                             absl::Time as_of) {
  const v1::LifecycleStage stage = internal::StageAt(f, rules, as_of);
  TextBuffer why;
  internal::AppendStageWhy(stage, f, rules, &why);
  return {stage, why.str()};
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
