// Ingest throughput: a generated JSON lines file -> validated events ->
// the embedded log with an fsync per append batch (the default policy),
// the whole path of `crm ingest`.
//
//   build/bench/ingest/bench_ingest --benchmark_repetitions=5 \
//     --benchmark_report_aggregates_only=true
//
// CRM_BENCH_CUSTOMERS / CRM_BENCH_MONTHS size the file (default 20,000
// customers over 12 months, about 360,000 events).

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "engine/event/codec.h"
#include "engine/ingest/ingest.h"
#include "engine/log/embedded_log.h"
#include "tools/generator/generator.h"

namespace crm::ingest {
namespace {

int64_t EnvOr(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoll(v) : fallback;
}

const std::string& InputFile() {
  static const std::string* path = [] {
    auto* p = new std::string(
        (std::filesystem::temp_directory_path() / "crm-bench-ingest.jsonl")
            .string());
    generator::GeneratorOptions options;
    options.customers = EnvOr("CRM_BENCH_CUSTOMERS", 20000);
    options.months = static_cast<int>(EnvOr("CRM_BENCH_MONTHS", 12));
    auto gen = *generator::Generator::Create(options);
    std::ofstream out(*p, std::ios::trunc);
    v1::Envelope e;
    while (gen->Next(&e)) out << *event::EncodeJson(e) << '\n';
    return p;
  }();
  return *path;
}

void BM_IngestJsonlToEmbeddedLog(benchmark::State& state) {
  const std::string& input = InputFile();
  const auto file_bytes = std::filesystem::file_size(input);
  int64_t records = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const auto dir =
        std::filesystem::temp_directory_path() / "crm-bench-ingest-log";
    std::filesystem::remove_all(dir);
    auto log = *log::EmbeddedLog::Open(dir.string());  // fsync every append
    state.ResumeTiming();
    auto result = IngestFile(input, *log);
    if (!result.ok() || result->rejected) {
      state.SkipWithError("ingest failed");
      return;
    }
    records += result->appended;
    state.PauseTiming();
    log.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * file_bytes));
}
BENCHMARK(BM_IngestJsonlToEmbeddedLog)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace crm::ingest

BENCHMARK_MAIN();
