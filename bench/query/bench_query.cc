// Read-side latency over a store of 1,000,000 customers (CRM_BENCH_CUSTOMERS
// to change) in 8 partition stores: `crm get` (one customer from its
// partition's store, as protobuf JSON) and `crm list` with an indexed filter
// returning 100 rows. Per-call latencies are measured inside the process
// (no process start) and reported as p50/p99 counters in microseconds.
//
// The store is built once from synthetic states (one projected template
// customer, copied with its own id, region, account manager, ABC class and
// revenue) written through PartitionStore::Commit with their index keys, and
// cached under the build directory (CRM_BENCH_QUERY_DIR to move it); later
// runs reuse it.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "crm/v1/events.pb.h"
#include "engine/base/time_util.h"
#include "engine/log/event_log.h"
#include "engine/population/population_pass.h"
#include "engine/query/query.h"
#include "engine/store/partition_store.h"
#include "engine/store/view_index.h"
#include "projections/projector.h"
#include "projections/rules/rules.h"

namespace crm {
namespace {

constexpr int32_t kPartitions = 8;
constexpr int kManagers = 10000;  // 100 customers each at 1M customers

int64_t Customers() {
  const char* v = std::getenv("CRM_BENCH_CUSTOMERS");
  return v ? std::atoll(v) : 1000000;
}

std::string StoreRoot() {
  const char* v = std::getenv("CRM_BENCH_QUERY_DIR");
  return v ? v
           : absl::StrFormat("%s/store-%d", CRM_BENCH_QUERY_CACHE, Customers());
}

std::string Id(int64_t i) { return absl::StrFormat("C%07d", i); }
std::string Manager(int64_t i) { return absl::StrFormat("am-%04d", i); }

v1::Envelope Event(const std::string& id, int n, absl::Time at) {
  v1::Envelope e;
  e.set_event_id(absl::StrFormat("bench-%s-%d", id, n));
  e.set_customer_id(id);
  *e.mutable_occurred_at() = ToProto(at);
  e.set_channel(v1::CHANNEL_API);
  e.set_actor("bench");
  e.set_schema_version(1);
  return e;
}

// A customer projected from a registration and two orders.
v1::CustomerState Template(const v1::Rules& rules) {
  v1::CustomerState st;
  st.set_customer_id("T");
  const absl::Time t0 = absl::FromUnixSeconds(1767225600);  // 2026-01-01
  v1::Envelope reg = Event("T", 1, t0);
  auto* p = reg.mutable_customer_registered()->mutable_profile();
  p->set_name("Bench Customer Ltd");
  p->set_region("north");
  p->set_account_manager("am-0000");
  std::vector<v1::Envelope> events = {reg};
  for (int k = 0; k < 2; ++k) {
    v1::Envelope o = Event("T", 2 + k, t0 + absl::Hours(24 * (10 + 20 * k)));
    auto* op = o.mutable_order_placed();
    op->set_order_id(absl::StrFormat("T-O%d", k));
    op->mutable_amount()->set_minor_units(125000);
    op->mutable_amount()->set_currency(rules.currency());
    op->mutable_gross_profit()->set_minor_units(30000);
    op->mutable_gross_profit()->set_currency(rules.currency());
    op->set_quantity(1);
    op->set_product_category("furniture");
    events.push_back(o);
  }
  for (const v1::Envelope& e : events) {
    auto r = projections::ApplyEvent(e, rules, &st);
    if (!r.ok()) {
      std::fprintf(stderr, "template event %s: %s\n", e.event_id().c_str(),
                   r.status().ToString().c_str());
      std::abort();
    }
  }
  return st;
}

// A store given with CRM_BENCH_QUERY_DIR is used as it is (e.g. the data
// directory's views of `crm run` over generated events); only the default
// one is built here.
void BuildStore(const std::string& root, const v1::Rules& rules) {
  if (std::getenv("CRM_BENCH_QUERY_DIR") != nullptr) return;
  if (std::filesystem::exists(root + "/complete")) return;
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  std::fprintf(stderr, "building %lld customers in %s ...\n",
               static_cast<long long>(Customers()), root.c_str());
  const v1::CustomerState tmpl = Template(rules);
  store::StoreOptions so;
  so.block_cache_bytes = 64 << 20;
  store::StoreResources resources(so);
  std::vector<std::unique_ptr<store::PartitionStore>> stores;
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto s = store::PartitionStore::Open(
        resources, absl::StrFormat("%s/p-%04d", root, p), p);
    if (!s.ok()) std::abort();
    stores.push_back(std::move(*s));
  }
  std::vector<store::CommitBatch> batches(kPartitions);
  std::mt19937_64 rng(7);
  static const char* kRegions[] = {"north", "south", "east", "west", "central"};
  v1::StoredCustomer rec;
  for (int64_t i = 0; i < Customers(); ++i) {
    const std::string id = Id(i);
    *rec.mutable_state() = tmpl;
    rec.clear_index_keys();
    v1::CustomerState* st = rec.mutable_state();
    st->set_customer_id(id);
    v1::CustomerViews* v = st->mutable_views();
    v->mutable_card()->set_customer_id(id);
    v->mutable_grade()->set_customer_id(id);
    v->mutable_lifecycle()->set_customer_id(id);
    v->mutable_satisfaction()->set_customer_id(id);
    v->mutable_card()->mutable_profile()->set_region(kRegions[i % 5]);
    v->mutable_card()->mutable_profile()->set_account_manager(
        Manager(static_cast<int64_t>(rng() % kManagers)));
    v->mutable_grade()->set_abc(static_cast<v1::AbcClass>(1 + rng() % 3));
    v->mutable_grade()->mutable_revenue_window()->set_minor_units(
        static_cast<int64_t>(rng() % 10000000));
    const int32_t p = log::PartitionFor(id, kPartitions);
    store::CommitBatch& b = batches[p];
    store::StageIndexUpdate(&rec, &b);
    b.customers.push_back({id, rec.SerializeAsString()});
    if (b.customers.size() == 5000) {
      if (!stores[p]->Commit(b).ok()) std::abort();
      b = store::CommitBatch();
    }
  }
  for (int32_t p = 0; p < kPartitions; ++p) {
    if (!stores[p]->Commit(batches[p]).ok()) std::abort();
  }
  stores.clear();
  std::ofstream(root + "/complete") << Customers() << "\n";
}

// The query side, opened read-only as `crm get` / `crm list` open it.
struct Fixture {
  v1::Rules rules = projections::DefaultRules();
  store::StoreResources resources{[] {
    store::StoreOptions o;
    // As the crm read commands use (the store default, 256 MiB);
    // CRM_BENCH_QUERY_CACHE_MB to change.
    const char* mb = std::getenv("CRM_BENCH_QUERY_CACHE_MB");
    o.block_cache_bytes = static_cast<size_t>(mb ? std::atoll(mb) : 256) << 20;
    return o;
  }()};
  std::vector<std::unique_ptr<store::PartitionStore>> owned;
  std::vector<store::PartitionStore*> stores;

  // The customers and account managers the store holds, which the
  // benchmarks draw from: those of the built store, or of a given one.
  std::vector<std::string> ids;
  std::vector<std::string> managers;
  int32_t partitions() const { return static_cast<int32_t>(stores.size()); }

  Fixture() {
    BuildStore(StoreRoot(), rules);
    auto s = population::OpenPartitionStores(resources, StoreRoot(), true);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.status().ToString().c_str());
      std::abort();
    }
    owned = std::move(*s);
    for (auto& p : owned) stores.push_back(p.get());
    for (store::PartitionStore* st : stores) {
      for (auto c = st->NewCustomerCursor(); c->Valid(); c->Next()) {
        ids.emplace_back(c->key());
      }
      const std::string prefix(1, store::kIndexManager);
      absl::Status status =
          st->ForEachIndexKey(prefix, [&](absl::string_view k) {
            const absl::string_view m = k.substr(1, k.find('\0') - 1);
            if (managers.empty() || managers.back() != m)
              managers.emplace_back(m);
            return true;
          });
      if (!status.ok()) std::abort();
    }
    std::sort(managers.begin(), managers.end());
    managers.erase(std::unique(managers.begin(), managers.end()),
                   managers.end());
    std::fprintf(stderr, "%zu customers, %zu account managers in %s\n",
                 ids.size(), managers.size(), StoreRoot().c_str());
    if (ids.empty() || managers.empty()) std::abort();
  }
};

Fixture& TheFixture() {
  static Fixture* f = new Fixture();
  return *f;
}

void ReportPercentiles(benchmark::State& state, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))];
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
  state.counters["max_us"] = us.back();
}

// crm get ID --json: the record from its partition's store, parsed, as JSON.
void BM_Get(benchmark::State& state) {
  Fixture& f = TheFixture();
  std::mt19937_64 rng(11);
  std::vector<double> us;
  for (auto _ : state) {
    const std::string& id = f.ids[rng() % f.ids.size()];
    const auto t0 = std::chrono::steady_clock::now();
    auto rec = query::GetCustomer(f.stores, f.partitions(), id);
    if (!rec.ok()) {
      state.SkipWithError(rec.status().ToString().c_str());
      break;
    }
    std::string json = query::ToJsonLine(rec->state().views());
    benchmark::DoNotOptimize(json);
    us.push_back(std::chrono::duration<double, std::micro>(
                     std::chrono::steady_clock::now() - t0)
                     .count());
  }
  ReportPercentiles(state, us);
}
BENCHMARK(BM_Get)->Iterations(20000)->Unit(benchmark::kMicrosecond);

// The store read alone (no JSON): the record from its partition's store.
void BM_GetRecord(benchmark::State& state) {
  Fixture& f = TheFixture();
  std::mt19937_64 rng(17);
  std::vector<double> us;
  for (auto _ : state) {
    const std::string& id = f.ids[rng() % f.ids.size()];
    const auto t0 = std::chrono::steady_clock::now();
    auto rec = query::GetCustomer(f.stores, f.partitions(), id);
    benchmark::DoNotOptimize(rec);
    us.push_back(std::chrono::duration<double, std::micro>(
                     std::chrono::steady_clock::now() - t0)
                     .count());
  }
  ReportPercentiles(state, us);
}
BENCHMARK(BM_GetRecord)->Iterations(20000)->Unit(benchmark::kMicrosecond);

// crm list --manager am-NNNN (indexed, ~100 rows), by revenue.
void BM_ListIndexedManager(benchmark::State& state) {
  Fixture& f = TheFixture();
  std::mt19937_64 rng(13);
  std::vector<double> us;
  uint64_t rows = 0;
  for (auto _ : state) {
    query::ListOptions o;
    o.filter.account_manager = f.managers[rng() % f.managers.size()];
    o.limit = 100;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = query::List(f.stores, f.rules, o);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
    rows += r->rows.size();
    us.push_back(std::chrono::duration<double, std::micro>(
                     std::chrono::steady_clock::now() - t0)
                     .count());
  }
  ReportPercentiles(state, us);
  state.counters["rows"] = static_cast<double>(rows) / state.iterations();
}
BENCHMARK(BM_ListIndexedManager)
    ->Iterations(300)
    ->Unit(benchmark::kMillisecond);

// crm list --region north --sort id --limit 100: a broad indexed filter,
// reading stops at the limit.
void BM_ListIndexedRegionById(benchmark::State& state) {
  Fixture& f = TheFixture();
  std::vector<double> us;
  for (auto _ : state) {
    query::ListOptions o;
    o.filter.region = "north";
    o.sort = query::ListSort::kCustomerId;
    o.limit = 100;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = query::List(f.stores, f.rules, o);
    if (!r.ok() || r->rows.size() != 100) {
      state.SkipWithError("list failed");
      break;
    }
    us.push_back(std::chrono::duration<double, std::micro>(
                     std::chrono::steady_clock::now() - t0)
                     .count());
  }
  ReportPercentiles(state, us);
}
BENCHMARK(BM_ListIndexedRegionById)
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace crm

BENCHMARK_MAIN();
