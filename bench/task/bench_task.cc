// Projector throughput: generated multi-channel history applied by one
// PartitionTask (all projections, durable commits with the WAL on), against
// the raw RocksDB loop of bench_store in the same program.
//
//   build/bench/task/bench_task --benchmark_repetitions=3 \
//     --benchmark_report_aggregates_only=true
//
// CRM_BENCH_CUSTOMERS / CRM_BENCH_MONTHS size the history (default 20,000
// customers over 24 months).

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "engine/task/partition_task.h"
#include "projections/rules/rules.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "tools/generator/generator.h"

namespace crm::task {
namespace {

int64_t EnvOr(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoll(v) : fallback;
}

const std::vector<log::LogRecord>& History() {
  static const std::vector<log::LogRecord>* records = [] {
    generator::GeneratorOptions options;
    options.customers = EnvOr("CRM_BENCH_CUSTOMERS", 20000);
    options.months = static_cast<int>(EnvOr("CRM_BENCH_MONTHS", 24));
    options.seed = 1;
    auto gen = *generator::Generator::Create(options);
    auto* out = new std::vector<log::LogRecord>();
    v1::Envelope e;
    while (gen->Next(&e)) {
      log::LogRecord r;
      r.offset = static_cast<int64_t>(out->size());
      r.key = e.customer_id();
      r.value = e.SerializeAsString();
      out->push_back(std::move(r));
    }
    return out;
  }();
  return *records;
}

std::string ScratchDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("crm-bench-" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

// The whole history through one PartitionTask, batches of state.range(0).
// state.range(1) = 1 gives the task a large memory budget (80,000 cached,
// 40,000 dirty states, a commit per 100,000 records), as
// `crm run --state-budget 80000 --commit-records 100000` does: more
// coalescing of a customer's events between commits, more memory.
void BM_PartitionTask(benchmark::State& state) {
  const auto& records = History();
  const v1::Rules rules = projections::DefaultRules();
  const size_t batch = static_cast<size_t>(state.range(0));
  TaskOptions options;
  if (state.range(1) == 1) {
    options.budget->max_cached = 80000;
    options.budget->max_dirty = 40000;
    options.commit_every_records = 100000;
    options.commit_max_dirty = 40000;
  }
  int64_t events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = ScratchDir("task");
    store::StoreResources resources{store::StoreOptions{}};
    auto store = *store::PartitionStore::Open(resources, dir, 0);
    PartitionTask task(store.get(), &rules, options);
    state.ResumeTiming();
    auto all = absl::MakeConstSpan(records);
    for (size_t i = 0; i < records.size(); i += batch) {
      if (!task.ApplyBatch(all.subspan(i, std::min(batch, records.size() - i)))
               .ok()) {
        state.SkipWithError("apply failed");
        return;
      }
    }
    if (!task.Flush().ok()) {
      state.SkipWithError("flush failed");
      return;
    }
    events += static_cast<int64_t>(records.size());
    state.counters["state_bytes_per_event"] = benchmark::Counter(
        static_cast<double>(task.stats().state_bytes_written) /
        std::max<int64_t>(1, task.stats().applied));
    state.counters["cached_state_bytes"] = benchmark::Counter(
        static_cast<double>(task.CachedStateBytes()) /
        static_cast<double>(std::max<size_t>(1, task.cached_states())));
    state.PauseTiming();
    store.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(events);
}
BENCHMARK(BM_PartitionTask)
    ->Args({2000, 0})
    ->Args({2000, 1})
    ->Args({20000, 0})
    ->Args({20000, 1})
    ->ArgNames({"batch", "large_budget"})
    ->Unit(benchmark::kMillisecond);

// The raw loop the target is set against: one 200-byte put per event (keys
// of the same history), WriteBatch of 1,000, WAL on.
void BM_RawRocksDbPutPerEvent(benchmark::State& state) {
  const auto& records = History();
  const std::string value(200, 'v');
  int64_t events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = ScratchDir("raw");
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    if (!rocksdb::DB::Open(options, dir, &raw).ok()) {
      state.SkipWithError("open failed");
      return;
    }
    std::unique_ptr<rocksdb::DB> db(raw);
    state.ResumeTiming();
    rocksdb::WriteBatch wb;
    for (size_t i = 0; i < records.size(); ++i) {
      wb.Put(records[i].key, value);
      if (wb.Count() == 1000 || i + 1 == records.size()) {
        if (!db->Write(rocksdb::WriteOptions(), &wb).ok()) {
          state.SkipWithError("write failed");
          return;
        }
        wb.Clear();
      }
    }
    events += static_cast<int64_t>(records.size());
    state.PauseTiming();
    db.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(events);
}
BENCHMARK(BM_RawRocksDbPutPerEvent)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace crm::task

BENCHMARK_MAIN();
