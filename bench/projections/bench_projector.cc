// ApplyEvent alone: a generated multi-channel history applied in log order
// to in-memory states (no decoding, no store), as the runtime does between
// commits.
//
//   build/bench/projections/bench_projector --benchmark_repetitions=3
//
// CRM_BENCH_CUSTOMERS / CRM_BENCH_MONTHS size the history (default 2,000
// customers over 24 months). Per-event instruction counts: run under
// callgrind and divide ApplyEvent's inclusive count by its calls.

#include <cstdlib>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "projections/projector.h"
#include "projections/rules/rules.h"
#include "tools/generator/generator.h"

namespace crm::projections {
namespace {

int64_t EnvOr(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoll(v) : fallback;
}

struct History {
  std::vector<v1::Envelope> events;
  std::vector<int> customer;  // index into the states, per event
  int customers = 0;
};

const History& GetHistory() {
  static const History* history = [] {
    generator::GeneratorOptions options;
    options.customers = EnvOr("CRM_BENCH_CUSTOMERS", 2000);
    options.months = static_cast<int>(EnvOr("CRM_BENCH_MONTHS", 24));
    options.seed = 1;
    auto gen = *generator::Generator::Create(options);
    auto* h = new History();
    h->customers = static_cast<int>(options.customers);
    v1::Envelope e;
    while (gen->Next(&e)) {
      // Ids are "C0000001"... in registration order.
      h->customer.push_back(std::atoi(e.customer_id().c_str() + 1) - 1);
      h->events.push_back(e);
    }
    return h;
  }();
  return *history;
}

void BM_ApplyEvent(benchmark::State& state) {
  const History& h = GetHistory();
  const v1::Rules rules = DefaultRules();
  int64_t events = 0;
  int64_t transitions = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<v1::CustomerState> states(h.customers);
    state.ResumeTiming();
    for (size_t i = 0; i < h.events.size(); ++i) {
      auto out = ApplyEvent(h.events[i], rules, &states[h.customer[i]]);
      if (!out.ok()) {
        state.SkipWithError("apply failed");
        return;
      }
      transitions += static_cast<int64_t>(out->size());
    }
    events += static_cast<int64_t>(h.events.size());
    state.PauseTiming();
    states.clear();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(events);
  state.counters["transitions_per_event"] =
      static_cast<double>(transitions) / static_cast<double>(events);
}
BENCHMARK(BM_ApplyEvent)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace crm::projections

BENCHMARK_MAIN();
