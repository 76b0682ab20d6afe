// crm devbroker: librdkafka's mock cluster as a local Kafka-protocol broker,
// for trying the Kafka path on one machine.

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/base/exit_codes.h"
#include "engine/kafka/mock_cluster.h"
#include "tools/crm/command.h"

namespace crm::cli {
namespace {

struct DevbrokerFlags {
  int brokers = 3;
  int partitions = 6;
  int replication = 0;  // 0: min(3, brokers)
  // Besides the built-in ones (TOPIC, TOPIC.dlq, crm.transitions).
  std::vector<std::string> extra_topics;
};

constexpr char kLimits[] = R"txt(Limits (librdkafka 2.0.2 mock cluster):
  - In memory only: every record is gone when devbroker stops.
  - Each partition keeps at most about 5 MiB or 100,000 message sets
    (produce batches), whichever comes first; older data is dropped
    silently and the partition's first offset moves up. Use more partitions
    or less data; never use it as a system of record.
  - Transactions are not real: read_committed consumers still see aborted
    records. crm-engine never relies on Kafka transactions.
  - Retried produce requests of an idempotent producer are not
    deduplicated (a real broker drops them): a late acknowledgement can
    leave a duplicate. crm-engine deduplicates by event_id anyway.
  - No admin API (CreateTopics and friends): topics are created here, at
    start: --topic (the global flag, default crm.events) with --partitions,
    TOPIC.dlq with 1 partition, crm.transitions with --partitions, and
    --extra-topic (each with --partitions).
    Listens on 127.0.0.1 only, on ports chosen at start.

Prints the bootstrap address (one line, e.g. 127.0.0.1:41234,127.0.0.1:...)
on stdout, then runs until SIGINT or SIGTERM (exit code 0). Example:
  crm devbroker > brokers.txt &
  crm --brokers "$(head -1 brokers.txt)" ingest events.jsonl
  kcat -b "$(head -1 brokers.txt)" -t crm.events -C -e
  kill %1)txt";

int Run(const GlobalFlags& g, const DevbrokerFlags& f) {
  // Block the stop signals before the cluster starts its threads (they
  // inherit the mask), so sigwait() below is the only receiver.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto cluster = crm::kafka::MockCluster::Start(f.brokers);
  if (!cluster.ok()) {
    std::fprintf(stderr, "crm devbroker: %s\n",
                 std::string(cluster.status().message()).c_str());
    return ExitCodeFor(cluster.status());
  }
  const int replication =
      f.replication > 0 ? f.replication : std::min(3, f.brokers);
  // What `crm run` opens: the event topic, its dead-letter topic (one
  // partition) and crm.transitions (as many partitions as the events); then
  // the extra topics. The mock has no admin API, so nothing can create them
  // later.
  std::vector<std::pair<std::string, int>> wanted = {
      {g.topic, f.partitions},
      {g.topic + ".dlq", 1},
      {"crm.transitions", f.partitions}};
  for (const std::string& t : f.extra_topics)
    wanted.push_back({t, f.partitions});
  std::vector<std::string> topics;
  for (const auto& [topic, partitions] : wanted) {
    if (std::find(topics.begin(), topics.end(), topic) != topics.end()) {
      continue;
    }
    topics.push_back(topic);
    const absl::Status s =
        (*cluster)->CreateTopic(topic, partitions, replication);
    if (!s.ok()) {
      std::fprintf(stderr, "crm devbroker: %s\n",
                   std::string(s.message()).c_str());
      return ExitCodeFor(s);
    }
  }
  std::printf("%s\n", (*cluster)->bootstrap().c_str());
  std::fflush(stdout);
  if (!g.quiet) {
    std::string names;
    for (const std::string& t : topics)
      names += (names.empty() ? "" : ", ") + t;
    std::fprintf(stderr,
                 "crm devbroker: %d brokers, topics %s (%d partitions, the "
                 "dead-letter topic 1; replication %d); in memory only; "
                 "Ctrl-C stops\n",
                 f.brokers, names.c_str(), f.partitions, replication);
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  if (!g.quiet) {
    std::fprintf(stderr, "crm devbroker: %s, stopping\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
  }
  cluster->reset();
  return kExitOk;
}

}  // namespace

void RegisterDevbroker(CLI::App& app, CommandContext& ctx) {
  auto flags = std::make_shared<DevbrokerFlags>();
  CLI::App* sub = app.add_subcommand(
      "devbroker",
      "Local Kafka-protocol broker for trying the Kafka path (librdkafka mock "
      "cluster, in memory only)");
  sub->add_option("--brokers-count", flags->brokers, "Number of brokers")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  sub->add_option("--partitions", flags->partitions,
                  "Partitions of --topic, crm.transitions and extra topics "
                  "(TOPIC.dlq gets 1)")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  sub->add_option("--replication-factor", flags->replication,
                  "Replicas per partition (default: min(3, brokers))")
      ->check(CLI::Range(1, 32));
  sub->add_option("--extra-topic", flags->extra_topics,
                  "Further topic to create besides --topic, TOPIC.dlq and "
                  "crm.transitions (repeatable)");
  sub->footer(kLimits);
  sub->callback([&ctx, flags] {
    if (flags->replication > flags->brokers) {
      std::fprintf(stderr,
                   "crm devbroker: --replication-factor %d exceeds "
                   "--brokers-count %d\n",
                   flags->replication, flags->brokers);
      ctx.exit_code = kExitUsage;
      return;
    }
    ctx.exit_code = Run(ctx.global, *flags);
  });
}

}  // namespace crm::cli
