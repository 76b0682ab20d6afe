// crm run: the projector worker. Applies the event log to the views in the
// data directory's stores, exactly once, until stopped (or, with
// --exit-at-end, until the log's current end).

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "engine/base/exit_codes.h"
#include "engine/kafka/group_consumer.h"
#include "engine/population/population_pass.h"
#include "engine/population/scheduled_pass.h"
#include "engine/server/metrics_server.h"
#include "engine/store/partition_store.h"
#include "engine/task/metrics.h"
#include "engine/task/worker.h"
#include "tools/crm/command.h"
#include "tools/crm/heap.h"
#include "tools/crm/wiring.h"

namespace crm::cli {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void HandleStopSignal(int) { g_stop.store(true); }

struct RunFlags {
  bool exit_at_end = false;
  int threads = 1;
  size_t batch = 7500;
  size_t cache_entries = 50000;
  size_t commit_records = 20000;
  size_t block_cache_mb = 256;
  bool sync_commits = false;
  std::vector<int32_t> partitions;
  std::string group;  // empty: standalone
  std::string assignor = "cooperative-sticky";
  int session_timeout_ms = 10000;
  int64_t state_budget = 15000;
  int metrics_port = -1;  // -1: no endpoint
  std::string metrics_host = "127.0.0.1";
};

// The Kafka consumer group as the worker's GroupMembership.
class KafkaGroup final : public task::GroupMembership {
 public:
  explicit KafkaGroup(std::unique_ptr<kafka::GroupConsumer> consumer)
      : consumer_(std::move(consumer)) {}

  absl::StatusOr<size_t> Poll(Listener* listener,
                              std::vector<log::LogRecord>* out,
                              size_t max_records,
                              absl::Duration timeout) override {
    Bridge bridge(listener);
    return consumer_->Poll(&bridge, out, max_records, timeout);
  }
  void ReportCommitted(int32_t partition, int64_t next_offset) override {
    consumer_->CommitAsync(partition, next_offset);
  }
  absl::Status Close(Listener* listener) override {
    Bridge bridge(listener);
    return consumer_->Close(&bridge);
  }

 private:
  struct Bridge final : kafka::GroupConsumer::Listener {
    explicit Bridge(task::GroupMembership::Listener* l) : to(l) {}
    absl::StatusOr<std::vector<int64_t>> OnAssigned(
        absl::Span<const int32_t> partitions) override {
      return to->OnAssigned(partitions);
    }
    absl::Status OnRevoked(absl::Span<const int32_t> partitions,
                           bool lost) override {
      return to->OnRevoked(partitions, lost);
    }
    task::GroupMembership::Listener* const to;
  };
  std::unique_ptr<kafka::GroupConsumer> consumer_;
};

constexpr char kRunHelp[] =
    "The projector worker: reads every partition of the event log from the "
    "offset stored in its own view store (DATA_DIR/store/TOPIC/p-NNNN), "
    "applies each event once to the customer card, grade, lifecycle and "
    "satisfaction views, and commits views and offset together, so a worker "
    "killed at any moment and restarted ends with the same views. Records "
    "that cannot be decoded or fail validation go to the dead-letter topic "
    "TOPIC.dlq with the reason; grade, lifecycle and SLA changes go to "
    "crm.transitions (both in the data directory, or on Kafka with "
    "--brokers).\n"
    "Stops on SIGINT/SIGTERM after committing the batch in flight. "
    "--exit-at-end drains the log to the end it has at start, then exits.\n"
    "With --brokers and no --group it reads the partitions it is given (all "
    "by default) without joining a consumer group. With --group NAME the "
    "workers of one group share the partitions (Kafka consumer group, "
    "cooperative-sticky by default): the group only assigns; every partition "
    "still resumes from the offset in this worker's own store, and one this "
    "worker has no state for is rebuilt by replay from offset 0. A revoked "
    "partition is committed and closed; its state stays on disk. Offsets are "
    "committed to the group after each store commit, for lag monitoring "
    "only. --exit-at-end, --threads and --partition do not apply to group "
    "mode.";

std::string Summary(const std::vector<task::PartitionProgress>& parts,
                    absl::Duration elapsed) {
  int64_t applied = 0, dup = 0, dead = 0, trans = 0, lag = 0;
  for (const auto& p : parts) {
    applied += p.stats.applied;
    dup += p.stats.duplicates;
    dead += p.stats.dead_letters;
    trans += p.stats.transitions;
    lag += std::max<int64_t>(0, p.end_offset - p.next_offset);
  }
  return absl::StrFormat(
      "%s events applied, %s duplicates skipped, %s dead letters, %s "
      "transitions; lag %s; %.1f s, %.0f events/s",
      WithCommas(applied), WithCommas(dup), WithCommas(dead), WithCommas(trans),
      WithCommas(lag), absl::ToDoubleSeconds(elapsed), Rate(applied, elapsed));
}

int RunWorker(const RunFlags& flags, const GlobalFlags& g) {
  if (!flags.group.empty()) {
    if (g.brokers.empty()) {
      ReportError("run", absl::InvalidArgumentError(
                             "--group needs --brokers (a consumer group is a "
                             "Kafka feature)"));
      return kExitUsage;
    }
    if (flags.exit_at_end || !flags.partitions.empty()) {
      ReportError("run",
                  absl::InvalidArgumentError(
                      "--group assigns partitions itself: --exit-at-end and "
                      "--partition do not apply"));
      return kExitUsage;
    }
  }
  auto rules = LoadRules(g);
  if (!rules.ok()) return ReportError("run", rules.status());
  auto log = OpenEventLog(g, g.topic, 0, LogAccess::kRead);
  if (!log.ok()) return ReportError("run", log.status());
  auto dead_letters = OpenEventLog(g, DeadLetterTopic(g), 1, LogAccess::kWrite);
  if (!dead_letters.ok()) return ReportError("run", dead_letters.status());
  auto transitions = OpenEventLog(g, kTransitionsTopic, 0, LogAccess::kWrite);
  if (!transitions.ok()) return ReportError("run", transitions.status());

  store::StoreOptions store_options;
  store_options.block_cache_bytes = flags.block_cache_mb << 20;
  store_options.sync_commits = flags.sync_commits;
  store::StoreResources resources(store_options);
  task::WorkerOptions options;
  options.store_dir = StoreDir(g);
  options.max_batch = flags.batch;
  options.exit_at_end = flags.exit_at_end;
  options.threads = flags.threads;
  options.task.topic = g.topic;
  options.task.state_cache_entries = flags.cache_entries;
  options.task.commit_every_records = flags.commit_records;
  options.task.budget->max_cached = flags.state_budget;
  options.task.budget->max_dirty = std::max<int64_t>(1, flags.state_budget / 2);
  options.task.commit_max_dirty =
      static_cast<size_t>(options.task.budget->max_dirty);
  const bool group_mode = !flags.group.empty();
  if (!g.quiet) {
    options.log_line = [](const std::string& line) {
      std::fprintf(stderr, "run: %s\n", line.c_str());
    };
  }
  // The scheduled population pass (rules.population_schedule); its lines
  // go where the worker's do.
  population::ScheduledPassRunner scheduler(
      &*rules, population::PassRecordDir(g.data_dir, g.topic),
      options.log_line);
  options.scheduler = &scheduler;
  task::Worker worker(log->get(), &*rules, &resources, options,
                      dead_letters->get(), transitions->get());
  std::unique_ptr<KafkaGroup> group;
  if (group_mode) {
    kafka::GroupOptions group_options;
    group_options.kafka.brokers = g.brokers;
    group_options.kafka.topic = g.topic;
    group_options.kafka.properties = g.kafka_props;
    group_options.group_id = flags.group;
    group_options.assignor = flags.assignor;
    group_options.session_timeout =
        absl::Milliseconds(flags.session_timeout_ms);
    group_options.heartbeat_interval =
        std::min(absl::Seconds(1), group_options.session_timeout / 3);
    auto consumer = kafka::GroupConsumer::Open(group_options);
    if (!consumer.ok()) return ReportError("run", consumer.status());
    group = std::make_unique<KafkaGroup>(*std::move(consumer));
    if (!g.quiet) {
      std::fprintf(stderr, "run: joining group %s on %s (%s)\n",
                   flags.group.c_str(), g.topic.c_str(),
                   flags.assignor.c_str());
    }
  }

  std::unique_ptr<server::MetricsServer> metrics;
  if (flags.metrics_port >= 0) {
    auto started = server::MetricsServer::Start(
        flags.metrics_host, flags.metrics_port,
        [&worker] { return task::PrometheusText(worker.progress()); });
    if (!started.ok()) return ReportError("run", started.status());
    metrics = *std::move(started);
    if (!g.quiet) {
      std::fprintf(stderr, "run: metrics on http://%s:%d/metrics\n",
                   flags.metrics_host.c_str(), metrics->port());
    }
  }

  std::signal(SIGINT, HandleStopSignal);
  std::signal(SIGTERM, HandleStopSignal);
  const absl::Time start = absl::Now();
  absl::Status status;
  absl::Notification done;
  std::thread runner([&] {
    status = group != nullptr ? worker.RunGroup(group.get(), &g_stop)
                              : worker.Run(flags.partitions, &g_stop);
    done.Notify();
  });
  const bool progress = ShowProgress(g);
  while (!done.WaitForNotificationWithTimeout(absl::Seconds(1))) {
    ReleaseFreeHeap();
    if (progress) {
      std::fprintf(stderr, "\r\033[K  run: %s",
                   Summary(worker.progress(), absl::Now() - start).c_str());
    }
  }
  runner.join();
  if (progress) std::fprintf(stderr, "\r\033[K");
  if (!status.ok()) return ReportError("run", status);
  if (group_mode) {
    // Every partition was revoked on the way out; their lines said where.
    std::fprintf(stderr, "run: left group %s after %.1f s%s\n",
                 flags.group.c_str(),
                 absl::ToDoubleSeconds(absl::Now() - start),
                 g_stop.load() ? " (stopped by signal)" : "");
    return kExitOk;
  }
  std::fprintf(stderr, "run: %s%s\n",
               Summary(worker.progress(), absl::Now() - start).c_str(),
               g_stop.load() ? " (stopped by signal)" : "");
  return kExitOk;
}

}  // namespace

void RegisterRun(CLI::App& app, CommandContext& ctx) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* sub = app.add_subcommand("run", "Projector worker");
  sub->footer(kRunHelp);
  sub->add_flag("--exit-at-end", flags->exit_at_end,
                "Drain the log to its current end, then exit");
  sub->add_option("--threads", flags->threads, "Threads applying partitions")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  sub->add_option("--batch", flags->batch,
                  "Most records per read, applied as one batch; at most half "
                  "of --state-budget (a batch's customers are all cached "
                  "while it is applied)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--cache-entries", flags->cache_entries,
                  "Parsed customer states kept in memory per partition")
      ->capture_default_str();
  sub->add_option("--commit-records", flags->commit_records,
                  "Commit after at most this many applied records")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--state-budget", flags->state_budget,
                  "Parsed customer states all partitions keep in memory "
                  "together (half of it may be uncommitted); a state takes a "
                  "few KiB")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--metrics-port", flags->metrics_port,
                  "Serve Prometheus metrics on this port (0 = any free port)")
      ->check(CLI::Range(0, 65535));
  sub->add_option("--metrics-host", flags->metrics_host,
                  "Address the metrics endpoint listens on")
      ->capture_default_str();
  sub->add_option("--block-cache-mb", flags->block_cache_mb,
                  "RocksDB block cache shared by all partitions, MiB")
      ->capture_default_str();
  sub->add_flag("--sync-commits", flags->sync_commits,
                "fsync the store's WAL on every commit (survives power loss)");
  sub->add_option("--partition", flags->partitions,
                  "Only these partitions (repeatable; default all)");
  sub->add_option("--group", flags->group,
                  "Join this Kafka consumer group (e.g. crm-projectors) and "
                  "run the partitions it assigns");
  sub->add_option("--assignor", flags->assignor,
                  "Group assignment strategy: cooperative-sticky, range or "
                  "roundrobin")
      ->capture_default_str()
      ->check(CLI::IsMember({"cooperative-sticky", "range", "roundrobin"}));
  sub->add_option("--session-timeout-ms", flags->session_timeout_ms,
                  "How long the group waits for a silent worker before "
                  "moving its partitions")
      ->capture_default_str()
      ->check(CLI::Range(1000, 3600000));
  sub->callback(
      [flags, &ctx] { ctx.exit_code = RunWorker(*flags, ctx.global); });
}

}  // namespace crm::cli
