#pragma once

// The rolling revenue history of one customer: per-day net order buckets
// (for the value-tier, prior, wallet-share and RFM windows) and the recent
// orders needed to match cancellations and returns. Operates on
// crm.v1.ProjectionFacts; pure, no clock.
//
// Bounds: buckets cover at most LedgerHorizonDays(rules) days (one per day
// with orders); at most kMaxRetainedOrders orders are kept for matching, and
// none older than the horizon. A cancellation or return of an order no longer
// kept is "unmatched": a return still takes its refund off the revenue of the
// day it happened; a cancellation cannot be valued and changes no sum.

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "crm/v1/events.pb.h"
#include "crm/v1/rules.pb.h"
#include "crm/v1/views.pb.h"

namespace crm::projections {

// Orders kept for cancel/return matching.
inline constexpr int kMaxRetainedOrders = 200;

// Sums over a range of days.
struct WindowSums {
  int64_t orders = 0;
  int64_t revenue = 0;
  int64_t gross_profit = 0;
  int64_t marketing_cost = 0;  // discounts + financing cost
  int64_t net_profit() const { return gross_profit - marketing_cost; }
};

// What an order, cancellation or return changed, for lifetime totals.
struct LedgerDelta {
  bool applied = false;  // false: duplicate order / nothing to undo
  bool matched = false;  // the order was found among the kept orders
  WindowSums sums;       // signed change (orders may be -1)
};

// Days of history kept: max(2 * value_tier.window_days,
// wallet.share_window_days, rfm.window_days).
int64_t LedgerHorizonDays(const v1::Rules& rules);

// Records an order placed at `at`. A second order with a kept order_id is a
// duplicate: nothing changes (applied = false).
LedgerDelta LedgerAddOrder(const v1::OrderPlaced& order, absl::Time at,
                           v1::ProjectionFacts* facts);

// Cancels a kept order: takes what remains of it (after refunds) off its
// day. Unknown or already cancelled: applied = false.
LedgerDelta LedgerCancelOrder(const std::string& order_id,
                              v1::ProjectionFacts* facts);

// Refunds `refund_minor` of an order, capped at what remains of it; gross
// profit falls by gross_profit * refund / amount (rounded toward zero). An
// unknown order's refund comes off the revenue of day `at` (matched =
// false). A cancelled order: applied = false.
LedgerDelta LedgerReturnOrder(const std::string& order_id, int64_t refund_minor,
                              absl::Time at, v1::ProjectionFacts* facts);

// Sums of days [first_day, last_day] (UTC day numbers, inclusive).
WindowSums SumDays(const v1::ProjectionFacts& facts, int64_t first_day,
                   int64_t last_day);

// SumDays of [last_day - days + 1, last_day] into *window and of the days
// before it, [last_day - 2 * days + 1, last_day - days], into *prior, in one
// pass; days > 0.
void SumAdjacentWindows(const v1::ProjectionFacts& facts, int64_t last_day,
                        int64_t days, WindowSums* window, WindowSums* prior);

// Sums of the `days`-day window ending with the day of `as_of` (inclusive),
// shifted back by `windows_back` whole windows (1 = the prior window).
WindowSums SumWindow(const v1::ProjectionFacts& facts, absl::Time as_of,
                     int64_t days, int64_t windows_back = 0);

// Drops buckets and orders older than the horizon at `as_of`, and orders
// beyond kMaxRetainedOrders (oldest first).
void PruneLedger(absl::Time as_of, const v1::Rules& rules,
                 v1::ProjectionFacts* facts);

// Earliest time strictly after `after` at which a bucket leaves one of the
// rolling windows (value tier, prior, wallet share) or the horizon;
// absl::InfiniteFuture() if none.
absl::Time NextLedgerDeadline(const v1::ProjectionFacts& facts,
                              const v1::Rules& rules, absl::Time after);

// Latest placed_at among kept, not cancelled orders; nullopt-like
// InfinitePast() if none.
absl::Time LatestKeptOrderTime(const v1::ProjectionFacts& facts);

}  // namespace crm::projections
