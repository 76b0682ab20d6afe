#pragma once

// Backtest: classes as they stood at a cutoff (a replay --until cutoff)
// judged by what the log says happened in (cutoff, cutoff + horizon]:
// revenue and churn (no order in the horizon) per class, the lift of ABC
// class A over C, and how well "at risk" predicted churn.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/log/event_log.h"
#include "engine/replay/diff.h"

namespace crm::replay {

// What a customer did in the horizon.
struct Outcome {
  int64_t orders = 0;
  int64_t revenue_minor = 0;  // amounts of the orders placed
};

// Orders placed with occurred_at in (from, to], per customer, read from
// every partition of `log` from offset 0 to the end at the call.
// Undecodable records are skipped (the projector dead-letters them).
absl::StatusOr<absl::flat_hash_map<std::string, Outcome>> ScanOrders(
    log::EventLog& log, absl::Time from, absl::Time to);

struct ClassOutcome {
  std::string label;  // ValueLabel of the class
  int64_t customers = 0;
  int64_t churned = 0;  // no order in the horizon
  int64_t revenue_minor = 0;
};

struct BacktestResult {
  int64_t customers = 0;  // with an order by the cutoff (value tier set)
  int64_t churned = 0;
  int64_t revenue_minor = 0;
  // Per value tier, ABC class and lifecycle stage, ascending enum values.
  std::vector<ClassOutcome> value_tier, abc, lifecycle;
  // Horizon revenue per customer of A / that of C; 0 when C has none.
  double lift_a_over_c = 0;
  // At risk at the cutoff as a churn predictor.
  int64_t at_risk = 0;
  int64_t at_risk_churned = 0;
  double precision = 0;  // at_risk_churned / at_risk
  double recall = 0;     // at_risk_churned / churned
};

// Judges `rows` (the customers as of the cutoff) by `outcomes`. Only
// customers with a value tier (an order by the cutoff) are counted.
BacktestResult Evaluate(
    absl::Span<const CustomerRow> rows,
    const absl::flat_hash_map<std::string, Outcome>& outcomes);

}  // namespace crm::replay
