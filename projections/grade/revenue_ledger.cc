#include "projections/grade/revenue_ledger.h"

#include <algorithm>

#include "engine/base/time_util.h"
#include "projections/rules/units.h"

namespace crm::projections {
namespace {

// Bucket of `day`, created in day order if missing.
v1::RevenueBucket* BucketFor(int32_t day, v1::ProjectionFacts* facts) {
  auto* buckets = facts->mutable_buckets();
  auto it = std::lower_bound(
      buckets->begin(), buckets->end(), day,
      [](const v1::RevenueBucket& b, int32_t d) { return b.day() < d; });
  if (it != buckets->end() && it->day() == day) return &*it;
  const int index = static_cast<int>(it - buckets->begin());
  buckets->Add()->set_day(day);
  // Move the new bucket (last) into place.
  for (int i = buckets->size() - 1; i > index; --i)
    buckets->SwapElements(i, i - 1);
  return buckets->Mutable(index);
}

// Bucket of `day` if kept, else nullptr.
v1::RevenueBucket* FindBucket(int32_t day, v1::ProjectionFacts* facts) {
  for (auto& b : *facts->mutable_buckets()) {
    if (b.day() == day) return &b;
  }
  return nullptr;
}

v1::OrderRecord* FindOrder(const std::string& id, v1::ProjectionFacts* facts) {
  // Ids of one customer's orders share long prefixes: compare the last
  // character before the whole id.
  const size_t n = id.size();
  for (auto& o : *facts->mutable_orders()) {
    const std::string& other = o.order_id();
    if (other.size() == n && (n == 0 || other[n - 1] == id[n - 1]) &&
        other == id) {
      return &o;
    }
  }
  return nullptr;
}

void AddToBucket(v1::RevenueBucket* b, const WindowSums& d) {
  b->set_orders(b->orders() + d.orders);
  b->set_revenue_minor(b->revenue_minor() + d.revenue);
  b->set_gross_profit_minor(b->gross_profit_minor() + d.gross_profit);
  b->set_marketing_cost_minor(b->marketing_cost_minor() + d.marketing_cost);
}

// Drops the first n elements of a repeated message field, keeping their
// objects for reuse by the next Add(). On an arena DeleteSubrange leaves them
// behind as garbage, and a state that keeps pruning its ledger grows its
// arena by every order it forgets.
template <typename T>
void DropFront(int n, google::protobuf::RepeatedPtrField<T>* field) {
  if (n <= 0) return;
  std::rotate(field->pointer_begin(), field->pointer_begin() + n,
              field->pointer_end());
  for (int i = 0; i < n; ++i) field->RemoveLast();
}

}  // namespace

int64_t LedgerHorizonDays(const v1::Rules& rules) {
  return std::max({2 * rules.value_tier().window_days(),
                   rules.wallet().share_window_days(),
                   rules.rfm().window_days()});
}

LedgerDelta LedgerAddOrder(const v1::OrderPlaced& order, absl::Time at,
                           v1::ProjectionFacts* facts) {
  LedgerDelta delta;
  if (FindOrder(order.order_id(), facts) != nullptr) return delta;
  delta.applied = true;
  delta.matched = true;
  delta.sums.orders = 1;
  delta.sums.revenue = order.amount().minor_units();
  delta.sums.gross_profit = order.gross_profit().minor_units();
  delta.sums.marketing_cost =
      order.discount().minor_units() + order.financing_cost().minor_units();
  AddToBucket(BucketFor(DayOf(at), facts), delta.sums);

  // Orders stay sorted by placed_at (then id) so pruning drops the oldest.
  auto* orders = facts->mutable_orders();
  v1::OrderRecord* rec = orders->Add();
  rec->set_order_id(order.order_id());
  SetTimestamp(at, rec->mutable_placed_at());
  rec->set_amount_minor(delta.sums.revenue);
  rec->set_gross_profit_minor(delta.sums.gross_profit);
  rec->set_marketing_cost_minor(delta.sums.marketing_cost);
  for (int i = orders->size() - 1; i > 0; --i) {
    const auto& prev = orders->Get(i - 1);
    const auto& cur = orders->Get(i);
    const absl::Time tp = TimeOf(prev.placed_at());
    const absl::Time tc = TimeOf(cur.placed_at());
    if (tp < tc || (tp == tc && prev.order_id() < cur.order_id())) break;
    orders->SwapElements(i, i - 1);
  }
  return delta;
}

LedgerDelta LedgerCancelOrder(const std::string& order_id,
                              v1::ProjectionFacts* facts) {
  LedgerDelta delta;
  v1::OrderRecord* rec = FindOrder(order_id, facts);
  if (rec == nullptr || rec->cancelled()) return delta;
  delta.applied = true;
  delta.matched = true;
  delta.sums.orders = -1;
  delta.sums.revenue = -(rec->amount_minor() - rec->refunded_minor());
  delta.sums.gross_profit =
      -(rec->gross_profit_minor() - rec->refunded_profit_minor());
  delta.sums.marketing_cost = -rec->marketing_cost_minor();
  rec->set_cancelled(true);
  const int32_t day = DayOf(TimeOf(rec->placed_at()));
  if (v1::RevenueBucket* b = FindBucket(day, facts)) AddToBucket(b, delta.sums);
  return delta;
}

LedgerDelta LedgerReturnOrder(const std::string& order_id, int64_t refund_minor,
                              absl::Time at, v1::ProjectionFacts* facts) {
  LedgerDelta delta;
  v1::OrderRecord* rec = FindOrder(order_id, facts);
  if (rec == nullptr) {
    delta.applied = refund_minor != 0;
    delta.sums.revenue = -refund_minor;
    if (delta.applied) AddToBucket(BucketFor(DayOf(at), facts), delta.sums);
    return delta;
  }
  if (rec->cancelled()) return delta;
  const int64_t refund =
      std::min(refund_minor, rec->amount_minor() - rec->refunded_minor());
  delta.applied = true;
  delta.matched = true;
  if (refund <= 0) return delta;
  // Profit taken back: the refund's share of the order's gross profit, with
  // the last refund taking exactly what remains.
  int64_t profit = rec->amount_minor() > 0 ? MulDiv(rec->gross_profit_minor(),
                                                    refund, rec->amount_minor())
                                           : 0;
  if (rec->refunded_minor() + refund == rec->amount_minor()) {
    profit = rec->gross_profit_minor() - rec->refunded_profit_minor();
  }
  rec->set_refunded_minor(rec->refunded_minor() + refund);
  rec->set_refunded_profit_minor(rec->refunded_profit_minor() + profit);
  delta.sums.revenue = -refund;
  delta.sums.gross_profit = -profit;
  const int32_t day = DayOf(TimeOf(rec->placed_at()));
  if (v1::RevenueBucket* b = FindBucket(day, facts)) AddToBucket(b, delta.sums);
  return delta;
}

WindowSums SumDays(const v1::ProjectionFacts& facts, int64_t first_day,
                   int64_t last_day) {
  WindowSums s;
  const auto& buckets = facts.buckets();
  // Buckets ascend by day: start at the first one in range.
  auto it = std::lower_bound(
      buckets.begin(), buckets.end(), first_day,
      [](const v1::RevenueBucket& b, int64_t d) { return b.day() < d; });
  for (; it != buckets.end() && it->day() <= last_day; ++it) {
    s.orders += it->orders();
    s.revenue += it->revenue_minor();
    s.gross_profit += it->gross_profit_minor();
    s.marketing_cost += it->marketing_cost_minor();
  }
  return s;
}

void SumAdjacentWindows(const v1::ProjectionFacts& facts, int64_t last_day,
                        int64_t days, WindowSums* window, WindowSums* prior) {
  *window = WindowSums();
  *prior = WindowSums();
  const auto& buckets = facts.buckets();
  const int64_t window_first = last_day - days + 1;
  auto it = std::lower_bound(
      buckets.begin(), buckets.end(), window_first - days,
      [](const v1::RevenueBucket& b, int64_t d) { return b.day() < d; });
  for (; it != buckets.end() && it->day() <= last_day; ++it) {
    WindowSums* s = it->day() < window_first ? prior : window;
    s->orders += it->orders();
    s->revenue += it->revenue_minor();
    s->gross_profit += it->gross_profit_minor();
    s->marketing_cost += it->marketing_cost_minor();
  }
}

WindowSums SumWindow(const v1::ProjectionFacts& facts, absl::Time as_of,
                     int64_t days, int64_t windows_back) {
  const int64_t last = DayOf(as_of) - windows_back * days;
  return SumDays(facts, last - days + 1, last);
}

void PruneLedger(absl::Time as_of, const v1::Rules& rules,
                 v1::ProjectionFacts* facts) {
  const int64_t first_kept = DayOf(as_of) - LedgerHorizonDays(rules) + 1;
  auto* buckets = facts->mutable_buckets();
  int drop = 0;
  while (drop < buckets->size() && buckets->Get(drop).day() < first_kept) {
    ++drop;
  }
  DropFront(drop, buckets);

  auto* orders = facts->mutable_orders();
  drop = 0;
  while (drop < orders->size() &&
         (orders->size() - drop > kMaxRetainedOrders ||
          DayOf(TimeOf(orders->Get(drop).placed_at())) < first_kept)) {
    ++drop;
  }
  DropFront(drop, orders);
}

absl::Time NextLedgerDeadline(const v1::ProjectionFacts& facts,
                              const v1::Rules& rules, absl::Time after) {
  absl::Time next = absl::InfiniteFuture();
  const auto& buckets = facts.buckets();
  if (buckets.empty()) return next;
  const int64_t w = rules.value_tier().window_days();
  const int64_t offsets[] = {w, 2 * w, rules.wallet().share_window_days(),
                             LedgerHorizonDays(rules)};
  // DayStart(day + off) > after  <=>  day + off > DayNumber(after). Buckets
  // ascend by day, so per offset the first such bucket is the earliest.
  const int64_t after_day = DayNumber(after);
  for (int i = 0; i < 4; ++i) {
    const int64_t off = offsets[i];
    if ((i >= 2 && (off == offsets[0] || off == offsets[1])) ||
        (i == 3 && off == offsets[2])) {
      continue;  // the same offset gives the same deadline
    }
    const int64_t min_day = after_day + 1 - off;
    auto it = std::lower_bound(
        buckets.begin(), buckets.end(), min_day,
        [](const v1::RevenueBucket& b, int64_t d) { return b.day() < d; });
    if (it == buckets.end()) continue;
    const absl::Time t = DayStart(it->day() + off);
    if (t > after && t < next) next = t;
  }
  return next;
}

absl::Time LatestKeptOrderTime(const v1::ProjectionFacts& facts) {
  absl::Time latest = absl::InfinitePast();
  for (const auto& o : facts.orders()) {
    if (!o.cancelled()) latest = std::max(latest, TimeOf(o.placed_at()));
  }
  return latest;
}

}  // namespace crm::projections
