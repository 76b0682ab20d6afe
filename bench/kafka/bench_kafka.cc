// bench_kafka: KafkaLog against raw librdkafka, in the same run, against the
// same in-process mock cluster (3 brokers, 127.0.0.1).
//
//   BM_RawProduce/explicit_partition:0|1
//                        rd_kafka_produce() loop of 200-byte values, then
//                        rd_kafka_flush(); same producer settings as KafkaLog;
//                        partition chosen by librdkafka (murmur2_random) or
//                        given explicitly (PartitionFor, as KafkaLog does)
//   BM_KafkaLogAppend/B  KafkaLog::Append in batches of B records
//   BM_KafkaLogAppendConcurrent/B/threads:4
//                        four threads appending batches of B to one KafkaLog
//   BM_RawConsume        one consumer handle per partition, simple consumer
//                        started at offset 0, drained to the end
//   BM_KafkaLogPoll      KafkaLog::OpenReader + PartitionReader::Poll, same
//
// Counters: items_per_second (records/s) and bytes_per_second (key + value).
// Extra arguments key=value are librdkafka properties for both sides (e.g.
// linger.ms=5). Run several repetitions and read the medians:
//   build/bench/kafka/bench_kafka --benchmark_repetitions=5
//     --benchmark_report_aggregates_only=true     (one command line)
//
// The mock keeps at most ~5 MiB or 100,000 message sets per partition, so
// the produce topic has many partitions (old data is dropped while producing,
// which does not affect produce throughput) and the consume topic is filled
// with less than that per partition (checked before measuring).

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "engine/kafka/kafka_log.h"
#include "engine/kafka/mock_cluster.h"
#include "engine/log/event_log.h"

namespace crm::kafka {
namespace {

constexpr int kBrokers = 3;
constexpr int kProducePartitions = 24;
constexpr int kConsumePartitions = 8;
constexpr int kConsumePerPartition = 15000;  // ~3.5 MB: under 5 MiB
constexpr size_t kValueBytes = 200;
constexpr int kRecordsPerIteration = 200000;
constexpr int kCustomers = 100000;

// Keys "customer-<i>" and one 200-byte value, built once.
struct Payload {
  Payload() : value(kValueBytes, 'x') {
    for (int i = 0; i < kCustomers; ++i) {
      keys.push_back(absl::StrCat("customer-", i));
    }
  }
  std::vector<std::string> keys;
  std::string value;
};

struct Env {
  std::unique_ptr<MockCluster> cluster;
  Payload payload;
  // librdkafka properties from the command line (key=value), applied to the
  // raw handles and to KafkaLog alike.
  std::vector<std::string> properties;
  // One log shared by the threads of BM_KafkaLogAppendConcurrent.
  std::unique_ptr<KafkaLog> shared_log;
};

void Die(const std::string& what) {
  std::fprintf(stderr, "bench_kafka: %s\n", what.c_str());
  std::exit(1);
}

// The producer settings KafkaLog uses by default, so the raw baseline
// differs only in what KafkaLog adds.
rd_kafka_conf_t* RawConf(const Env& env, bool producer) {
  const std::string& bootstrap = env.cluster->bootstrap();
  const KafkaOptions d;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", bootstrap}, {"socket.nagle.disable", "true"}};
  if (producer) {
    props.insert(
        props.end(),
        {{"enable.idempotence", "true"},
         {"acks", "all"},
         {"partitioner", "murmur2_random"},
         {"linger.ms", std::to_string(absl::ToDoubleMilliseconds(d.linger))},
         {"batch.num.messages", std::to_string(d.max_batch_records)},
         {"queue.buffering.max.messages",
          std::to_string(d.max_queued_records)}});
  }
  char errstr[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      Die(errstr);
    }
  }
  if (absl::Status s = ApplyProperties(conf, env.properties); !s.ok()) {
    Die(std::string(s.message()));
  }
  return conf;
}

std::atomic<int64_t> raw_failures{0};

void CountFailures(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (m->err) raw_failures.fetch_add(1, std::memory_order_relaxed);
}

void BM_RawProduce(benchmark::State& state, Env* env) {
  rd_kafka_conf_t* conf = RawConf(*env, true);
  rd_kafka_conf_set_dr_msg_cb(conf, CountFailures);
  char errstr[512];
  rd_kafka_t* rk =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) Die(errstr);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, "bench.produce", nullptr);
  const std::vector<std::string>& keys = env->payload.keys;
  std::string& value = env->payload.value;
  // 0: librdkafka partitions (murmur2_random); 1: explicit PartitionFor.
  const bool explicit_partition = state.range(0) == 1;
  // Warm up (connections, producer id) outside the measurement, as
  // KafkaLog's benchmark does.
  for (int32_t p = 0; p < kProducePartitions; ++p) {
    rd_kafka_produce(rkt, p, 0, value.data(), value.size(), keys[0].data(),
                     keys[0].size(), nullptr);
  }
  rd_kafka_flush(rk, 10000);
  int64_t records = 0, bytes = 0;
  raw_failures = 0;
  for (auto _ : state) {
    for (int i = 0; i < kRecordsPerIteration; ++i) {
      const std::string& key = keys[(records + i) % kCustomers];
      const int32_t partition =
          explicit_partition ? crm::log::PartitionFor(key, kProducePartitions)
                             : RD_KAFKA_PARTITION_UA;
      while (rd_kafka_produce(rkt, partition, 0, value.data(), value.size(),
                              key.data(), key.size(), nullptr) == -1) {
        rd_kafka_poll(rk, 1);  // queue full: serve delivery reports
      }
      if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
      bytes += key.size() + value.size();
    }
    rd_kafka_flush(rk, 60000);
    records += kRecordsPerIteration;
  }
  if (raw_failures > 0) state.SkipWithError("raw produce had failures");
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
}

void BM_KafkaLogAppend(benchmark::State& state, Env* env) {
  KafkaOptions o;
  o.brokers = env->cluster->bootstrap();
  o.properties = env->properties;
  o.topic = "bench.produce";
  auto log = KafkaLog::Open(o);
  if (!log.ok()) Die(std::string(log.status().message()));
  const size_t batch = static_cast<size_t>(state.range(0));
  const std::vector<std::string>& keys = env->payload.keys;
  std::vector<crm::log::RecordRef> refs(batch);
  // Warm up (connections to every leader, producer id) outside the
  // measurement, as the raw benchmark does.
  std::vector<crm::log::RecordRef> warmup;
  for (int i = 0; i < 1000; ++i) {
    warmup.push_back({keys[i], env->payload.value});  // every partition
  }
  if (!(*log)->Append(warmup).ok()) Die("warm-up append failed");
  int64_t records = 0, bytes = 0;
  for (auto _ : state) {
    for (int done = 0; done < kRecordsPerIteration;) {
      const size_t n =
          std::min(batch, static_cast<size_t>(kRecordsPerIteration - done));
      for (size_t i = 0; i < n; ++i) {
        const std::string& key = keys[(records + done + i) % kCustomers];
        refs[i] = {key, env->payload.value};
        bytes += key.size() + env->payload.value.size();
      }
      const absl::Status s =
          (*log)->Append(absl::MakeConstSpan(refs.data(), n));
      if (!s.ok()) {
        state.SkipWithError(std::string(s.message()).c_str());
        return;
      }
      done += static_cast<int>(n);
    }
    records += kRecordsPerIteration;
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
}

// Several threads append batches of state.range(0) records to one KafkaLog
// at once (the ingest server's pattern): small batches overlap their round
// trips. Each thread appends its share of kRecordsPerIteration.
void BM_KafkaLogAppendConcurrent(benchmark::State& state, Env* env) {
  KafkaLog& log = *env->shared_log;
  const size_t batch = static_cast<size_t>(state.range(0));
  const int share = kRecordsPerIteration / state.threads();
  const std::vector<std::string>& keys = env->payload.keys;
  std::vector<crm::log::RecordRef> refs(batch);
  // Thread t uses its own customers, so per-key order stays per thread.
  const int first_key = state.thread_index() * (kCustomers / state.threads());
  int64_t records = 0, bytes = 0;
  for (auto _ : state) {
    for (int done = 0; done < share;) {
      const size_t n = std::min(batch, static_cast<size_t>(share - done));
      for (size_t i = 0; i < n; ++i) {
        const std::string& key =
            keys[first_key +
                 (records + done + i) % (kCustomers / state.threads())];
        refs[i] = {key, env->payload.value};
        bytes += key.size() + env->payload.value.size();
      }
      const absl::Status s = log.Append(absl::MakeConstSpan(refs.data(), n));
      if (!s.ok()) {
        state.SkipWithError(std::string(s.message()).c_str());
        return;
      }
      done += static_cast<int>(n);
    }
    records += share;
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
}

// Fills the consume topic once: kConsumePerPartition records per partition,
// keys chosen so that each partition gets exactly that many.
void FillConsumeTopic(Env* env) {
  KafkaOptions o;
  o.brokers = env->cluster->bootstrap();
  o.properties = env->properties;
  o.topic = "bench.consume";
  auto log = KafkaLog::Open(o);
  if (!log.ok()) Die(std::string(log.status().message()));
  std::vector<int> count(kConsumePartitions, 0);
  std::vector<crm::log::RecordRef> refs;
  for (int i = 0; refs.size() < kConsumePartitions * kConsumePerPartition;
       ++i) {
    const std::string& key = env->payload.keys[i % kCustomers];
    const int32_t p = crm::log::PartitionFor(key, kConsumePartitions);
    if (count[p] == kConsumePerPartition) continue;
    ++count[p];
    refs.push_back({key, env->payload.value});
  }
  for (size_t i = 0; i < refs.size(); i += 10000) {
    const size_t n = std::min<size_t>(10000, refs.size() - i);
    const absl::Status s = (*log)->Append(absl::MakeConstSpan(&refs[i], n));
    if (!s.ok()) Die(std::string(s.message()));
  }
  for (int32_t p = 0; p < kConsumePartitions; ++p) {
    auto begin = (*log)->BeginOffset(p);
    auto end = (*log)->EndOffset(p);
    if (!begin.ok() || !end.ok() || *begin != 0 ||
        *end != kConsumePerPartition) {
      Die(absl::StrCat("consume topic partition ", p,
                       " does not hold all records (mock retention?)"));
    }
  }
}

void BM_RawConsume(benchmark::State& state, Env* env) {
  int64_t records = 0, bytes = 0;
  std::vector<rd_kafka_message_t*> msgs(1000);
  char errstr[512];
  for (auto _ : state) {
    for (int32_t p = 0; p < kConsumePartitions; ++p) {
      rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, RawConf(*env, false),
                                    errstr, sizeof(errstr));
      if (rk == nullptr) Die(errstr);
      rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, "bench.consume", nullptr);
      rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
      rd_kafka_consume_start_queue(rkt, p, 0, q);
      int64_t next = 0;
      while (next < kConsumePerPartition) {
        const size_t want =
            std::min<int64_t>(1000, kConsumePerPartition - next);
        const ssize_t n =
            rd_kafka_consume_batch_queue(q, 10000, msgs.data(), want);
        if (n <= 0) Die("raw consume stalled");
        for (ssize_t i = 0; i < n; ++i) {
          if (msgs[i]->err) Die(rd_kafka_message_errstr(msgs[i]));
          bytes += msgs[i]->len + msgs[i]->key_len;
          next = msgs[i]->offset + 1;
          rd_kafka_message_destroy(msgs[i]);
        }
      }
      records += next;
      rd_kafka_consume_stop(rkt, p);
      rd_kafka_queue_destroy(q);
      rd_kafka_topic_destroy(rkt);
      rd_kafka_destroy(rk);
    }
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
}

void BM_KafkaLogPoll(benchmark::State& state, Env* env) {
  KafkaOptions o;
  o.brokers = env->cluster->bootstrap();
  o.properties = env->properties;
  o.topic = "bench.consume";
  auto log = KafkaLog::Open(o);
  if (!log.ok()) Die(std::string(log.status().message()));
  int64_t records = 0, bytes = 0;
  std::vector<crm::log::LogRecord> out;
  out.reserve(1000);
  for (auto _ : state) {
    for (int32_t p = 0; p < kConsumePartitions; ++p) {
      auto reader = (*log)->OpenReader(p, 0);
      if (!reader.ok()) Die(std::string(reader.status().message()));
      while ((*reader)->position() < kConsumePerPartition) {
        out.clear();
        auto n = (*reader)->Poll(&out, 1000, absl::Seconds(10));
        if (!n.ok() || *n == 0) Die("KafkaLog poll stalled");
        for (const crm::log::LogRecord& r : out) {
          bytes += r.key.size() + r.value.size();
        }
        records += static_cast<int64_t>(*n);
      }
    }
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
}

}  // namespace
}  // namespace crm::kafka

int main(int argc, char** argv) {
  using namespace crm::kafka;
  benchmark::Initialize(&argc, argv);
  Env env;
  for (int i = 1; i < argc; ++i) env.properties.push_back(argv[i]);
  auto cluster = MockCluster::Start(kBrokers);
  if (!cluster.ok()) Die(std::string(cluster.status().message()));
  env.cluster = *std::move(cluster);
  if (!env.cluster->CreateTopic("bench.produce", kProducePartitions, 3).ok() ||
      !env.cluster->CreateTopic("bench.consume", kConsumePartitions, 3).ok()) {
    Die("cannot create topics");
  }
  FillConsumeTopic(&env);
  {
    KafkaOptions o;
    o.brokers = env.cluster->bootstrap();
    o.topic = "bench.produce";
    o.properties = env.properties;
    auto log = KafkaLog::Open(o);
    if (!log.ok()) Die(std::string(log.status().message()));
    env.shared_log = *std::move(log);
  }

  benchmark::RegisterBenchmark("BM_RawProduce", BM_RawProduce, &env)
      ->ArgName("explicit_partition")
      ->Arg(0)
      ->Arg(1)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_KafkaLogAppend", BM_KafkaLogAppend, &env)
      ->Arg(1000)
      ->Arg(10000)
      ->Arg(100000)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_KafkaLogAppendConcurrent",
                               BM_KafkaLogAppendConcurrent, &env)
      ->Arg(1000)
      ->Threads(4)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_RawConsume", BM_RawConsume, &env)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_KafkaLogPoll", BM_KafkaLogPoll, &env)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
