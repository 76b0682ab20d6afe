// Baselines for the view store: the raw RocksDB loop the projector's
// throughput target is set against (one ~200-byte put per event, WriteBatch
// of 1,000, WAL on), and the PartitionStore commit path.
//
//   build/bench/store/bench_store --benchmark_repetitions=5 \
//     --benchmark_report_aggregates_only=true

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "engine/store/partition_store.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace crm::store {
namespace {

std::string ScratchDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("crm-bench-" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

// Customer ids spread over 1,000,000 customers in a scattered order, as
// events of many customers interleave on a real log.
std::string Key(uint64_t i) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  return absl::StrFormat("C%07d", static_cast<int>(x % 1000000));
}

// Raw RocksDB: one 200-byte put per event, WriteBatch of 1,000, WAL on.
void BM_RawRocksDbPut(benchmark::State& state) {
  const std::string dir = ScratchDir("raw");
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, dir, &raw).ok()) {
    state.SkipWithError("open failed");
    return;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string value(200, 'v');
  uint64_t i = 0;
  for (auto _ : state) {
    rocksdb::WriteBatch wb;
    for (int j = 0; j < 1000; ++j) wb.Put(Key(i++), value);
    if (!db->Write(rocksdb::WriteOptions(), &wb).ok()) {
      state.SkipWithError("write failed");
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(i));
  state.SetBytesProcessed(static_cast<int64_t>(i * 200));
  db.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RawRocksDbPut)->Unit(benchmark::kMillisecond)->MinTime(3);

// PartitionStore::Commit of 1,000 customer records of 200 bytes.
void BM_PartitionStoreCommit(benchmark::State& state) {
  const std::string dir = ScratchDir("commit");
  StoreResources resources{StoreOptions{}};
  auto store = PartitionStore::Open(resources, dir, 0);
  if (!store.ok()) {
    state.SkipWithError("open failed");
    return;
  }
  const std::string value(200, 'v');
  uint64_t i = 0;
  CommitBatch batch;
  for (auto _ : state) {
    batch.customers.clear();
    for (int j = 0; j < 1000; ++j, ++i) {
      batch.customers.push_back({Key(i), value});
    }
    batch.next_offset = static_cast<int64_t>(i);
    if (!(*store)->Commit(batch).ok()) {
      state.SkipWithError("commit failed");
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(i));
  store->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_PartitionStoreCommit)->Unit(benchmark::kMillisecond)->MinTime(3);

}  // namespace
}  // namespace crm::store

BENCHMARK_MAIN();
