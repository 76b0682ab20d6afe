#pragma once

// Lifecycle stage classifier: prospect -> lead -> new -> active -> loyal ->
// at-risk -> churned -> won-back, from order facts and elapsed event time.
// Pure; the projector records changes (projections/projector.h).

#include <cstdint>

#include "absl/time/time.h"
#include "crm/v1/rules.pb.h"
#include "crm/v1/views.pb.h"
#include "projections/rules/text.h"
#include "projections/rules/units.h"

namespace crm::projections {

// What the stage depends on. Times are absl::InfinitePast() when unknown.
struct LifecycleFacts {
  int64_t net_orders = 0;  // placed - cancelled
  bool lead = false;       // LeadQualified or an opportunity seen
  absl::Time first_order_at = absl::InfinitePast();
  absl::Time last_order_at = absl::InfinitePast();
  // The order that ended a gap of >= churned_after_days (a return).
  absl::Time won_back_at = absl::InfinitePast();
};

// The stage at `as_of`, first rule that holds:
//   net_orders == 0:                         LEAD if lead, else PROSPECT
//   as_of - last_order_at >= churned_after:  CHURNED
//   as_of - last_order_at >= at_risk_after:  AT_RISK
//   as_of - won_back_at < won_back_days:     WON_BACK
//   as_of - first_order_at < new_days:       NEW
//   net_orders >= loyal_min_orders:          LOYAL
//   otherwise:                               ACTIVE
Classified<v1::LifecycleStage> ClassifyStage(const LifecycleFacts& facts,
                                             const v1::Rules& rules,
                                             absl::Time as_of);

// Earliest time strictly after `after` at which ClassifyStage can change
// without a new event (a window boundary); InfiniteFuture() if none.
absl::Time NextStageDeadline(const LifecycleFacts& facts,
                             const v1::Rules& rules, absl::Time after);

// True when an order at `order_at` ends a churn: a previous order exists and
// order_at - previous_last_order_at >= churned_after_days.
bool IsWinBack(absl::Time previous_last_order_at, absl::Time order_at,
               const v1::Rules& rules);

namespace internal {

// ClassifyStage in two steps, so the projector writes the why only into a
// reused buffer: the stage, and its why appended to `out`.
v1::LifecycleStage StageAt(const LifecycleFacts& facts, const v1::Rules& rules,
                           absl::Time as_of);
void AppendStageWhy(v1::LifecycleStage stage, const LifecycleFacts& facts,
                    const v1::Rules& rules, TextBuffer* out);

}  // namespace internal

}  // namespace crm::projections
