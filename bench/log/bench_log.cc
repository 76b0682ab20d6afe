// Throughput of the embedded log: appends of ~200-byte envelopes under each
// fsync policy, and reading a partition back decoded into crm::v1::Envelope.
//
//   build/bench/log/bench_log --benchmark_repetitions=5 \
//       --benchmark_report_aggregates_only=true
//
// Files go to a fresh directory under $CRM_BENCH_DIR (default: the system
// temp dir), removed at exit.

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "crm/v1/events.pb.h"
#include "engine/base/time_util.h"
#include "engine/log/embedded_log.h"
#include "google/protobuf/arena.h"

namespace crm::log {
namespace {

constexpr int kCustomers = 100000;

// A realistic OrderPlaced envelope, ~200 bytes serialized.
std::string MakeEnvelope(std::mt19937_64& rng, int64_t seq, std::string* key) {
  crm::v1::Envelope e;
  const int customer = static_cast<int>(rng() % kCustomers);
  *key = absl::StrFormat("cust-%07d", customer);
  e.set_event_id(
      absl::StrFormat("erp-%012d-%08x", seq, static_cast<uint32_t>(rng())));
  e.set_customer_id(*key);
  const absl::Time occurred =
      absl::FromUnixSeconds(1735689600 +
                            static_cast<int64_t>(rng() % 31536000)) +
      absl::Milliseconds(static_cast<int64_t>(rng() % 1000));
  *e.mutable_occurred_at() = ToProto(occurred);
  *e.mutable_recorded_at() = ToProto(occurred + absl::Minutes(7));
  e.set_channel(crm::v1::CHANNEL_ERP);
  e.set_actor("erp-export/nightly");
  e.set_schema_version(1);
  crm::v1::OrderPlaced* o = e.mutable_order_placed();
  o->set_order_id(absl::StrFormat("SO-2025-%09d", seq));
  const int64_t amount = 1000 + static_cast<int64_t>(rng() % 5000000);
  o->mutable_amount()->set_minor_units(amount);
  o->mutable_amount()->set_currency("EUR");
  o->mutable_gross_profit()->set_minor_units(amount / 4);
  o->mutable_gross_profit()->set_currency("EUR");
  o->mutable_discount()->set_minor_units(amount / 20);
  o->mutable_discount()->set_currency("EUR");
  o->mutable_financing_cost()->set_minor_units(amount / 100);
  o->mutable_financing_cost()->set_currency("EUR");
  o->set_quantity(1 + static_cast<uint32_t>(rng() % 40));
  o->set_product_category("retail-food/dairy/cheese");
  return e.SerializeAsString();
}

struct Corpus {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  double mean_bytes = 0;  // key + value

  explicit Corpus(int n) {
    std::mt19937_64 rng(42);
    size_t total = 0;
    for (int i = 0; i < n; ++i) {
      std::string key;
      values.push_back(MakeEnvelope(rng, i, &key));
      total += key.size() + values.back().size();
      keys.push_back(std::move(key));
    }
    mean_bytes = static_cast<double>(total) / n;
  }
};

std::string FreshDir(const std::string& root, absl::string_view what) {
  std::string tmpl = absl::StrCat(root, "/bench_log-", what, "-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) abort();
  return tmpl;
}

void BM_Append(benchmark::State& state, const Corpus* corpus,
               const std::string* root, FsyncPolicy policy) {
  const int32_t partitions = static_cast<int32_t>(state.range(0));
  const size_t batch = static_cast<size_t>(state.range(1));
  const std::string dir = FreshDir(*root, "append");
  EmbeddedLogOptions opts;
  opts.partitions = partitions;
  opts.fsync = policy;
  auto log = EmbeddedLog::Open(dir, opts);
  if (!log.ok()) {
    state.SkipWithError(std::string(log.status().message()).c_str());
    return;
  }
  // Batches over the corpus, built once.
  std::vector<std::vector<RecordRef>> batches;
  for (size_t i = 0; i + batch <= corpus->keys.size(); i += batch) {
    std::vector<RecordRef>& b = batches.emplace_back();
    for (size_t j = i; j < i + batch; ++j) {
      b.push_back({corpus->keys[j], corpus->values[j]});
    }
  }
  size_t next = 0;
  for (auto _ : state) {
    absl::Status s = (*log)->Append(batches[next]);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
    if (++next == batches.size()) next = 0;
  }
  const EmbeddedLogStats st = (*log)->stats();
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
  state.SetBytesProcessed(static_cast<int64_t>(
      static_cast<double>(state.iterations() * batch) * corpus->mean_bytes));
  state.counters["fsyncs_per_batch"] =
      static_cast<double>(st.fsyncs) / static_cast<double>(state.iterations());
  state.counters["disk_bytes_per_event"] =
      static_cast<double>(st.bytes_written) /
      static_cast<double>(st.records_appended);
  log->reset();
  std::filesystem::remove_all(dir);
}

// One partition of `records` envelopes, written once for the read benchmarks.
struct ReadFixture {
  std::string dir;
  std::unique_ptr<EmbeddedLog> log;
  int64_t records = 0;
  double mean_bytes = 0;
};

enum class Decode { kNone, kReuseMessage, kArenaPerBatch, kViewsArena };

void BM_Read(benchmark::State& state, ReadFixture* fx, Decode decode) {
  const size_t batch = static_cast<size_t>(state.range(0));
  std::vector<LogRecord> records;
  records.reserve(batch);
  crm::v1::Envelope reused;
  int64_t parsed_orders = 0;
  std::vector<char> arena_block(size_t{1} << 20);
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = arena_block.data();
  arena_options.initial_block_size = arena_block.size();
  google::protobuf::Arena arena(arena_options);
  for (auto _ : state) {
    auto reader = fx->log->OpenReader(0, 0);
    if (!reader.ok()) {
      state.SkipWithError("OpenReader failed");
      break;
    }
    while (decode == Decode::kViewsArena &&
           (*reader)->position() < fx->records) {
      // Parse straight from the reader's buffer: no LogRecord copies; the
      // arena reuses one block, so a batch costs no page faults.
      arena.Reset();
      auto n = (*reader)->PollViews(
          batch, absl::ZeroDuration(), [&](const LogRecordView& v) {
            auto* e = google::protobuf::Arena::CreateMessage<crm::v1::Envelope>(
                &arena);
            if (!e->ParseFromArray(v.value.data(),
                                   static_cast<int>(v.value.size()))) {
              abort();
            }
            parsed_orders += e->has_order_placed();
          });
      if (!n.ok() || *n == 0) {
        state.SkipWithError("PollViews failed");
        return;
      }
    }
    while ((*reader)->position() < fx->records) {
      records.clear();
      auto n = (*reader)->Poll(&records, batch, absl::ZeroDuration());
      if (!n.ok() || *n == 0) {
        state.SkipWithError("Poll failed");
        return;
      }
      switch (decode) {
        case Decode::kViewsArena:
        case Decode::kNone:
          benchmark::DoNotOptimize(records.data());
          break;
        case Decode::kReuseMessage:
          for (const LogRecord& r : records) {
            if (!reused.ParseFromString(r.value)) abort();
            parsed_orders += reused.has_order_placed();
          }
          break;
        case Decode::kArenaPerBatch: {
          google::protobuf::ArenaOptions ao;
          ao.start_block_size = 256 << 10;
          google::protobuf::Arena arena(ao);
          for (const LogRecord& r : records) {
            auto* e = google::protobuf::Arena::CreateMessage<crm::v1::Envelope>(
                &arena);
            if (!e->ParseFromString(r.value)) abort();
            parsed_orders += e->has_order_placed();
          }
          break;
        }
      }
    }
  }
  benchmark::DoNotOptimize(parsed_orders);
  state.SetItemsProcessed(state.iterations() * fx->records);
  state.SetBytesProcessed(static_cast<int64_t>(
      static_cast<double>(state.iterations() * fx->records) * fx->mean_bytes));
}

// Open of an existing log: the recovery scan that checks every frame and
// rebuilds the sparse index (items = records scanned).
void BM_Open(benchmark::State& state, ReadFixture* fx) {
  fx->log.reset();  // one process per directory: close the reading copy
  for (auto _ : state) {
    EmbeddedLogOptions opts;
    opts.fsync = FsyncPolicy::kNever;
    auto log = EmbeddedLog::Open(fx->dir, opts);
    if (!log.ok()) {
      state.SkipWithError("Open failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * fx->records);
  state.SetBytesProcessed(static_cast<int64_t>(
      static_cast<double>(state.iterations() * fx->records) *
      (fx->mean_bytes + 32)));
}

// The floor for BM_Read/envelope_*: parsing the same envelopes from memory,
// no log involved.
void BM_ParseOnly(benchmark::State& state, const Corpus* corpus) {
  crm::v1::Envelope e;
  size_t i = 0;
  for (auto _ : state) {
    if (!e.ParseFromString(corpus->values[i])) abort();
    benchmark::DoNotOptimize(e.has_order_placed());
    if (++i == corpus->values.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace
}  // namespace crm::log

int main(int argc, char** argv) {
  using namespace crm::log;
  benchmark::Initialize(&argc, argv);
  const char* env_root = getenv("CRM_BENCH_DIR");
  const std::string root =
      env_root != nullptr ? env_root
                          : std::filesystem::temp_directory_path().string();
  const Corpus corpus(64000);
  fprintf(stderr, "bench_log: %zu envelopes, mean %.1f bytes (key+value)\n",
          corpus.keys.size(), corpus.mean_bytes);

  for (auto [name, policy] :
       {std::pair{"BM_Append/fsync_every_append", FsyncPolicy::kEveryAppend},
        std::pair{"BM_Append/fsync_never", FsyncPolicy::kNever}}) {
    benchmark::RegisterBenchmark(name, BM_Append, &corpus, &root, policy)
        ->ArgNames({"partitions", "batch"})
        ->Args({1, 1000})
        ->Args({8, 1000})
        ->Args({8, 10000})
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }

  ReadFixture fx;
  fx.dir = FreshDir(root, "read");
  {
    EmbeddedLogOptions opts;
    opts.partitions = 1;
    opts.fsync = FsyncPolicy::kNever;
    auto log = EmbeddedLog::Open(fx.dir, opts);
    if (!log.ok()) return 1;
    constexpr int kRecords = 1000000;
    std::vector<RecordRef> refs;
    for (int i = 0; i < kRecords; ++i) {
      const size_t j = static_cast<size_t>(i) % corpus.keys.size();
      refs.push_back({corpus.keys[j], corpus.values[j]});
      if (refs.size() == 10000) {
        if (!(*log)->Append(refs).ok()) return 1;
        refs.clear();
      }
    }
    if (!(*log)->Sync().ok()) return 1;
    fx.log = *std::move(log);
    fx.records = kRecords;
    fx.mean_bytes = corpus.mean_bytes;
  }
  for (auto [name, decode] :
       {std::pair{"BM_Read/raw", Decode::kNone},
        std::pair{"BM_Read/envelope_reused_message", Decode::kReuseMessage},
        std::pair{"BM_Read/envelope_arena_per_batch", Decode::kArenaPerBatch},
        std::pair{"BM_Read/envelope_views_arena", Decode::kViewsArena}}) {
    benchmark::RegisterBenchmark(name, BM_Read, &fx, decode)
        ->ArgNames({"batch"})
        ->Arg(1000)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_ParseOnly", BM_ParseOnly, &corpus);
  benchmark::RegisterBenchmark("BM_Open/recovery_scan", BM_Open, &fx)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  fx.log.reset();
  std::filesystem::remove_all(fx.dir);
  return 0;
}
