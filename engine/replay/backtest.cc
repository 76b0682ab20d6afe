#include "engine/replay/backtest.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "crm/v1/events.pb.h"
#include "crm/v1/views.pb.h"
#include "engine/base/status_macros.h"
#include "engine/base/time_util.h"

namespace crm::replay {

absl::StatusOr<absl::flat_hash_map<std::string, Outcome>> ScanOrders(
    log::EventLog& log, absl::Time from, absl::Time to) {
  absl::flat_hash_map<std::string, Outcome> out;
  v1::Envelope e;
  for (int32_t p = 0; p < log.partitions(); ++p) {
    CRM_ASSIGN_OR_RETURN(const int64_t end, log.EndOffset(p));
    CRM_ASSIGN_OR_RETURN(auto reader, log.OpenReader(p, 0));
    int empty = 0;
    while (reader->position() < end) {
      bool past_end = false;
      CRM_ASSIGN_OR_RETURN(
          size_t got,
          reader->PollViews(
              4096, absl::Seconds(1), [&](const log::LogRecordView& r) {
                if (r.offset >= end) {
                  past_end = true;
                  return;
                }
                if (!e.ParseFromArray(r.value.data(),
                                      static_cast<int>(r.value.size())) ||
                    !e.has_order_placed()) {
                  return;
                }
                const absl::Time at = FromProto(e.occurred_at());
                if (at <= from || at > to) return;
                Outcome& o = out[e.customer_id()];
                ++o.orders;
                o.revenue_minor += e.order_placed().amount().minor_units();
              }));
      if (past_end) break;
      if (got == 0 && ++empty > 30) {
        return absl::UnavailableError(absl::StrCat(
            "backtest: partition ", p, " delivered nothing for 30 s at offset ",
            reader->position()));
      }
    }
  }
  return out;
}

BacktestResult Evaluate(
    absl::Span<const CustomerRow> rows,
    const absl::flat_hash_map<std::string, Outcome>& outcomes) {
  BacktestResult r;
  std::map<int, ClassOutcome> tier, abc, stage;
  auto add = [](std::map<int, ClassOutcome>& m, Dimension d, int v,
                bool churned, int64_t revenue) {
    ClassOutcome& c = m[v];
    c.label = ValueLabel(d, v);
    ++c.customers;
    c.churned += churned ? 1 : 0;
    c.revenue_minor += revenue;
  };
  for (const CustomerRow& row : rows) {
    const int t = row.values[static_cast<int>(Dimension::kValueTier)];
    if (t == 0) continue;  // no order by the cutoff
    auto it = outcomes.find(row.customer_id);
    const int64_t orders = it == outcomes.end() ? 0 : it->second.orders;
    const int64_t revenue = it == outcomes.end() ? 0 : it->second.revenue_minor;
    const bool churned = orders == 0;
    ++r.customers;
    r.churned += churned ? 1 : 0;
    r.revenue_minor += revenue;
    add(tier, Dimension::kValueTier, t, churned, revenue);
    add(abc, Dimension::kAbc, row.values[static_cast<int>(Dimension::kAbc)],
        churned, revenue);
    const int s = row.values[static_cast<int>(Dimension::kLifecycle)];
    add(stage, Dimension::kLifecycle, s, churned, revenue);
    if (s == v1::LIFECYCLE_STAGE_AT_RISK) {
      ++r.at_risk;
      r.at_risk_churned += churned ? 1 : 0;
    }
  }
  for (auto& [v, c] : tier) r.value_tier.push_back(c);
  for (auto& [v, c] : abc) r.abc.push_back(c);
  for (auto& [v, c] : stage) r.lifecycle.push_back(c);
  const ClassOutcome* a =
      abc.count(v1::ABC_CLASS_A) ? &abc[v1::ABC_CLASS_A] : nullptr;
  const ClassOutcome* c =
      abc.count(v1::ABC_CLASS_C) ? &abc[v1::ABC_CLASS_C] : nullptr;
  if (a && c && c->revenue_minor > 0) {
    r.lift_a_over_c = (static_cast<double>(a->revenue_minor) / a->customers) /
                      (static_cast<double>(c->revenue_minor) / c->customers);
  }
  if (r.at_risk > 0) {
    r.precision = static_cast<double>(r.at_risk_churned) / r.at_risk;
  }
  if (r.churned > 0) {
    r.recall = static_cast<double>(r.at_risk_churned) / r.churned;
  }
  return r;
}

}  // namespace crm::replay
