// Ingest speed of one core: a JSON line becomes a validated crm.v1.Envelope
// and its binary bytes (what `crm ingest` appends to the log). Events are a
// realistic mix of kinds from the test builders (~200 bytes of JSON each).
//
//   build/bench/event/bench_event --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one line)
//
// items_per_second is events per second.

#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/event/codec.h"
#include "engine/event/json_decoder.h"
#include "engine/event/reader.h"
#include "engine/event/validator.h"
#include "tests/testing/event_builders.h"

namespace crm::event {
namespace {

constexpr int kEvents = 20000;

const std::vector<std::string>& Lines() {
  static const auto* lines = [] {
    auto* out = new std::vector<std::string>;
    for (const auto& e : crm::testing::RealisticEvents(kEvents, 42)) {
      out->push_back(EncodeJson(e).value());
    }
    return out;
  }();
  return *lines;
}

double MeanBytes() {
  double total = 0;
  for (const std::string& l : Lines()) total += l.size();
  return total / Lines().size();
}

void SetCounters(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations());
  state.counters["json_bytes_per_event"] = MeanBytes();
}

// protobuf's JsonStringToMessage + Validate + binary encoding.
void BM_ProtobufJsonToBinary(benchmark::State& state) {
  const auto& lines = Lines();
  crm::v1::Envelope event;
  std::string bytes;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& line = lines[i++ % lines.size()];
    if (!DecodeJsonTo(line, &event).ok() || !Validate(event).ok()) {
      state.SkipWithError("bad event");
      break;
    }
    EncodeBinaryTo(event, &bytes);
    benchmark::DoNotOptimize(bytes.data());
  }
  SetCounters(state);
}
BENCHMARK(BM_ProtobufJsonToBinary);

// FastJsonDecoder + Validate + binary encoding.
void BM_FastJsonToBinary(benchmark::State& state) {
  const auto& lines = Lines();
  FastJsonDecoder decoder(crm::v1::Envelope::descriptor());
  crm::v1::Envelope event;
  std::string bytes;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& line = lines[i++ % lines.size()];
    if (!decoder.Decode(line, &event).ok() || !Validate(event).ok()) {
      state.SkipWithError("bad event");
      break;
    }
    EncodeBinaryTo(event, &bytes);
    benchmark::DoNotOptimize(bytes.data());
  }
  SetCounters(state);
}
BENCHMARK(BM_FastJsonToBinary);

// The whole reader on a JSON-lines buffer (line splitting, UTF-8 check,
// fast decode, validate) plus binary encoding: what ingest does per file.
void BM_ReaderJsonLinesToBinary(benchmark::State& state) {
  std::string contents;
  for (const std::string& l : Lines()) contents += l + "\n";
  int64_t events = 0;
  std::string bytes;
  for (auto _ : state) {
    auto reader = RecordReader::FromString("bench.jsonl", contents);
    Record record;
    while (reader.ok() && (*reader)->Next(&record).value_or(false)) {
      if (!record.status.ok()) {
        state.SkipWithError("bad event");
        return;
      }
      EncodeBinaryTo(record.event, &bytes);
      benchmark::DoNotOptimize(bytes.data());
      ++events;
    }
  }
  state.SetItemsProcessed(events);
  state.counters["json_bytes_per_event"] = MeanBytes();
}
BENCHMARK(BM_ReaderJsonLinesToBinary)->Unit(benchmark::kMillisecond);

// The parts, to see where the time goes.
void BM_FastDecodeOnly(benchmark::State& state) {
  const auto& lines = Lines();
  FastJsonDecoder decoder(crm::v1::Envelope::descriptor());
  crm::v1::Envelope event;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(decoder.Decode(lines[i++ % lines.size()], &event));
  }
  SetCounters(state);
}
BENCHMARK(BM_FastDecodeOnly);

void BM_ValidateOnly(benchmark::State& state) {
  const auto events = crm::testing::RealisticEvents(kEvents, 42);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Validate(events[i++ % events.size()]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateOnly);

void BM_EncodeBinaryOnly(benchmark::State& state) {
  const auto events = crm::testing::RealisticEvents(kEvents, 42);
  std::string bytes;
  size_t i = 0;
  for (auto _ : state) {
    EncodeBinaryTo(events[i++ % events.size()], &bytes);
    benchmark::DoNotOptimize(bytes.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeBinaryOnly);

}  // namespace
}  // namespace crm::event

BENCHMARK_MAIN();
