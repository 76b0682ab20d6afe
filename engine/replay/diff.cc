#include "engine/replay/diff.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "crm/v1/views.pb.h"
#include "engine/base/status_macros.h"
#include "engine/population/population_pass.h"
#include "engine/store/partition_store.h"
#include "projections/enum_names.h"
#include "projections/projector.h"

namespace crm::replay {
namespace {

std::string StripPrefix(absl::string_view name, absl::string_view prefix) {
  if (name.substr(0, prefix.size()) == prefix)
    name.remove_prefix(prefix.size());
  return std::string(name);
}

int64_t CeilDiv(int64_t n, uint32_t per) {
  if (per == 0) per = 1;
  return (n + per - 1) / per;
}

int64_t Managers(const std::array<int64_t, 3>& c, const v1::Rules& rules) {
  const auto& r = rules.classes();
  return CeilDiv(c[0], r.key_customers_per_manager()) +
         CeilDiv(c[1], r.ordinary_customers_per_manager()) +
         CeilDiv(c[2], r.special_customers_per_manager());
}

// Index of a customer class in ManagerLoad's arrays, -1 for none.
int ClassIndex(int customer_class) {
  switch (customer_class) {
    case v1::CUSTOMER_CLASS_KEY:
      return 0;
    case v1::CUSTOMER_CLASS_ORDINARY:
      return 1;
    case v1::CUSTOMER_CLASS_SPECIAL:
      return 2;
    default:
      return -1;
  }
}

}  // namespace

const char* DimensionName(Dimension d) {
  switch (d) {
    case Dimension::kValueTier:
      return "value_tier";
    case Dimension::kAbc:
      return "abc";
    case Dimension::kLifecycle:
      return "lifecycle";
    case Dimension::kRfm:
      return "rfm";
    case Dimension::kCustomerClass:
      return "class";
  }
  return "?";
}

std::string ValueLabel(Dimension d, int value) {
  if (value == kAbsent) return "-";
  if (value == 0) return "none";
  namespace in = projections::internal;
  switch (d) {
    case Dimension::kValueTier:
      return StripPrefix(in::ValueTierName(value), "VALUE_TIER_");
    case Dimension::kAbc:
      return StripPrefix(in::AbcClassName(value), "ABC_CLASS_");
    case Dimension::kLifecycle:
      return StripPrefix(in::LifecycleStageName(value), "LIFECYCLE_STAGE_");
    case Dimension::kRfm:
      return population::RfmSegmentLabel(static_cast<v1::RfmSegment>(value));
    case Dimension::kCustomerClass:
      return StripPrefix(in::CustomerClassName(value), "CUSTOMER_CLASS_");
  }
  return std::to_string(value);
}

absl::StatusOr<absl::Time> LatestStateTime(const std::string& store_dir) {
  store::StoreOptions so;
  so.block_cache_bytes = 8 << 20;
  store::StoreResources resources(so);
  CRM_ASSIGN_OR_RETURN(
      auto stores, population::OpenPartitionStores(resources, store_dir, true));
  std::vector<store::PartitionStore*> raw;
  for (auto& s : stores) raw.push_back(s.get());
  CRM_ASSIGN_OR_RETURN(auto latest, population::FindLatestState(raw));
  return latest.as_of;
}

absl::StatusOr<std::vector<CustomerRow>> LoadRows(const std::string& store_dir,
                                                  const v1::Rules& rules,
                                                  absl::Time as_of) {
  store::StoreOptions so;
  so.block_cache_bytes = 16 << 20;
  store::StoreResources resources(so);
  CRM_ASSIGN_OR_RETURN(
      auto stores, population::OpenPartitionStores(resources, store_dir, true));
  std::vector<store::PartitionStore*> raw;
  for (auto& s : stores) raw.push_back(s.get());
  std::vector<CustomerRow> rows;
  CRM_RETURN_IF_ERROR(population::ForEachStoredCustomer(
      raw, [&](int32_t, v1::StoredCustomer* rec) {
        v1::CustomerState* st = rec->mutable_state();
        projections::AdvanceTo(as_of, rules, st);
        const v1::CustomerViews& v = st->views();
        CustomerRow row;
        row.customer_id = st->customer_id();
        row.account_manager =
            projections::ExtractPopulationFacts(*st, rules, as_of)
                .account_manager();
        row.values[static_cast<int>(Dimension::kValueTier)] =
            v.grade().value_tier();
        row.values[static_cast<int>(Dimension::kAbc)] = v.grade().abc();
        row.values[static_cast<int>(Dimension::kLifecycle)] =
            v.lifecycle().stage();
        row.values[static_cast<int>(Dimension::kRfm)] =
            v.lifecycle().rfm_segment();
        row.values[static_cast<int>(Dimension::kCustomerClass)] =
            v.grade().customer_class();
        row.revenue_minor = v.grade().revenue_total().minor_units();
        // Entries in the store's history column family, then those
        // AdvanceTo added.
        row.grade_changes =
            rec->grade_history_stored() + v.grade().history_size();
        row.stage_changes =
            rec->stage_history_stored() + v.lifecycle().history_size();
        row.sla_breaches =
            static_cast<int64_t>(v.satisfaction().sla_breaches());
        rows.push_back(std::move(row));
        return absl::OkStatus();
      }));
  std::sort(rows.begin(), rows.end(),
            [](const CustomerRow& x, const CustomerRow& y) {
              return x.customer_id < y.customer_id;
            });
  return rows;
}

DiffResult Compare(absl::Span<const CustomerRow> a,
                   absl::Span<const CustomerRow> b, const v1::Rules& rules_a,
                   const v1::Rules& rules_b) {
  DiffResult out;
  for (int d = 0; d < kDimensions; ++d) {
    out.matrices.push_back(Matrix{static_cast<Dimension>(d), {}, 0});
  }
  std::map<std::string, ManagerLoad> load;
  auto totals = [](SideTotals& t, const CustomerRow& r) {
    ++t.customers;
    t.grade_changes += r.grade_changes;
    t.stage_changes += r.stage_changes;
    t.sla_breaches += r.sla_breaches;
  };
  auto visit = [&](const CustomerRow* ra, const CustomerRow* rb) {
    if (ra) totals(out.a, *ra);
    if (rb) totals(out.b, *rb);
    const int64_t revenue = ra ? ra->revenue_minor : rb->revenue_minor;
    bool moved = false;
    for (int d = 0; d < kDimensions; ++d) {
      const int from = ra ? ra->values[d] : kAbsent;
      const int to = rb ? rb->values[d] : kAbsent;
      Cell& c = out.matrices[d].cells[{from, to}];
      ++c.customers;
      c.revenue_minor += revenue;
      if (from != to) {
        ++out.matrices[d].moved;
        moved = true;
        out.moves.push_back({ra ? ra->customer_id : rb->customer_id,
                             static_cast<Dimension>(d), from, to, revenue});
      }
    }
    if (moved) ++out.customers_moved;
    if (ra) {
      const int k = ClassIndex(ra->values[4]);
      ManagerLoad& m = load[ra->account_manager];
      if (k >= 0) ++m.a[k];
    }
    if (rb) {
      const int k = ClassIndex(rb->values[4]);
      ManagerLoad& m = load[rb->account_manager];
      if (k >= 0) ++m.b[k];
    }
  };
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() ||
        (i < a.size() && a[i].customer_id < b[j].customer_id)) {
      visit(&a[i++], nullptr);
    } else if (i == a.size() || b[j].customer_id < a[i].customer_id) {
      visit(nullptr, &b[j++]);
    } else {
      visit(&a[i++], &b[j++]);
    }
  }
  for (auto& [am, m] : load) {
    m.account_manager = am;
    m.managers_a = Managers(m.a, rules_a);
    m.managers_b = Managers(m.b, rules_b);
    out.a.managers += m.managers_a;
    out.b.managers += m.managers_b;
    out.managers.push_back(m);
  }
  return out;
}

}  // namespace crm::replay
