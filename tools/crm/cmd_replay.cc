// crm replay: rebuild every view from offset 0 under one or several rule
// sets into scratch stores (engine/replay), without touching production
// state or any consumer group.

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "engine/base/exit_codes.h"
#include "engine/base/time_util.h"
#include "engine/log/archive.h"
#include "engine/replay/replay.h"
#include "google/protobuf/text_format.h"
#include "tools/crm/command.h"
#include "tools/crm/heap.h"
#include "tools/crm/replay_wiring.h"
#include "tools/crm/wiring.h"

namespace crm::cli {

namespace fs = std::filesystem;

absl::StatusOr<std::unique_ptr<log::EventLog>> OpenReplaySource(
    const GlobalFlags& g, const std::string& source) {
  if (source.empty() || source == "embedded" || source == "kafka") {
    if (source == "kafka" && g.brokers.empty()) {
      return absl::InvalidArgumentError(
          "--source kafka: needs --brokers HOST:PORT");
    }
    GlobalFlags local = g;
    if (source == "embedded") local.brokers.clear();
    return OpenEventLog(local, g.topic, 0, LogAccess::kRead);
  }
  // Each frame is checked as it is read (a damaged one fails the replay,
  // which writes only scratch stores), not all of them first: the layout
  // comes from the end marker, without a pass over the whole file.
  log::ArchiveOpenOptions open_options;
  open_options.check_frames = false;
  auto archive = log::ArchiveReader::Open(source, open_options);
  if (!archive.ok()) return archive.status();
  return std::unique_ptr<log::EventLog>(std::move(*archive));
}

absl::StatusOr<absl::Time> ParseTimeFlag(const std::string& flag,
                                         const std::string& value) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, value, &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag,
        ": expected an RFC 3339 time such as 2026-03-31T23:59:59Z, got \"",
        value, "\" (", err, ")"));
  }
  return t;
}

absl::Status PrepareReplayDir(const std::string& dir, bool force) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    if (!force) {
      const bool half = fs::exists(fs::path(dir) / kReplayIncompleteMarker);
      return absl::FailedPreconditionError(absl::StrCat(
          "--out ", dir,
          half ? " holds a replay that did not finish (scratch stores are "
                 "written without a WAL and cannot be resumed)"
               : " is not empty",
          "; choose a new directory or pass --force to replace it"));
    }
    fs::remove_all(dir, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("--out ", dir, ": cannot remove: ", ec.message()));
    }
  }
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("--out ", dir, ": cannot create: ", ec.message()));
  }
  std::ofstream(fs::path(dir) / kReplayIncompleteMarker)
      << "replay in progress; remove this directory and replay again if "
         "no replay is running\n";
  return absl::OkStatus();
}

namespace {

struct ReplayFlags {
  std::vector<std::string> rules;
  std::string source;
  std::string until;
  std::string out;
  bool force = false;
  bool regrade = false;
  int threads = 2;
  std::string memory;  // empty: kDefaultMemoryShare of physical memory
  size_t ingest_min_customers = replay::ReplayOptions{}.ingest_min_customers;
  size_t batch = 0;  // the mode's default
  bool huge_pages = true;
  std::string parallel = "auto";
};

// --memory by default: this share of the machine's physical memory.
constexpr double kDefaultMemoryShare = 0.4;

// "4G", "512M", "64K" (powers of 1024) or plain bytes.
absl::StatusOr<int64_t> ParseByteSize(const std::string& flag,
                                      const std::string& value) {
  int64_t unit = 1;
  std::string digits = value;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'K':
      case 'k':
        unit = int64_t{1} << 10;
        break;
      case 'M':
      case 'm':
        unit = int64_t{1} << 20;
        break;
      case 'G':
      case 'g':
        unit = int64_t{1} << 30;
        break;
      default:
        break;
    }
    if (unit != 1) digits.pop_back();
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(digits, &n) || n <= 0 ||
      n > std::numeric_limits<int64_t>::max() / unit) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": expected a size such as 4G, 512M or 1048576, got \"", value,
        "\""));
  }
  return n * unit;
}

int64_t DefaultReplayMemory() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return int64_t{4} << 30;
  return static_cast<int64_t>(kDefaultMemoryShare * static_cast<double>(pages) *
                              static_cast<double>(page));
}

int RunReplay(const ReplayFlags& flags, const GlobalFlags& g) {
  std::vector<std::string> files = flags.rules;
  if (files.empty()) files.push_back(g.rules);  // global --rules or defaults
  std::vector<v1::Rules> rules(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    GlobalFlags local = g;
    local.rules = files[i];
    auto r = LoadRules(local);
    if (!r.ok()) return ReportError("replay", r.status());
    rules[i] = std::move(*r);
    for (size_t j = 0; j < i; ++j) {
      if (rules[j].version() == rules[i].version()) {
        return ReportError(
            "replay", absl::InvalidArgumentError(absl::StrCat(
                          "--rules ", files[i], ": version \"",
                          rules[i].version(), "\" is also the version of ",
                          files[j], "; each rule set needs its own version")));
      }
    }
  }
  if (flags.huge_pages) BackHeapWithHugePages();
  replay::ReplayOptions options;
  options.topic = g.topic;
  options.population_pass = flags.regrade;
  options.threads = flags.threads;
  options.parallel =
      flags.parallel == "rule-sets"    ? replay::Parallelism::kRuleSets
      : flags.parallel == "partitions" ? replay::Parallelism::kPartitions
                                       : replay::Parallelism::kAuto;
  options.ingest_min_customers = flags.ingest_min_customers;
  options.batch_records = flags.batch;
  if (flags.memory.empty()) {
    options.state_memory_bytes = DefaultReplayMemory();
  } else {
    auto bytes = ParseByteSize("--memory", flags.memory);
    if (!bytes.ok()) return ReportError("replay", bytes.status());
    options.state_memory_bytes = *bytes;
  }
  if (!flags.until.empty()) {
    auto t = ParseTimeFlag("--until", flags.until);
    if (!t.ok()) return ReportError("replay", t.status());
    options.until = *t;
  }
  auto source = OpenReplaySource(g, flags.source);
  if (!source.ok()) return ReportError("replay", source.status());
  if (absl::Status s = PrepareReplayDir(flags.out, flags.force); !s.ok()) {
    return ReportError("replay", s);
  }
  std::vector<replay::Target> targets;
  for (const v1::Rules& r : rules) {
    targets.push_back({&r, rules.size() == 1
                               ? flags.out
                               : (fs::path(flags.out) / r.version()).string()});
  }
  if (ShowProgress(g)) {
    options.progress = [](const replay::ReplayProgress& p) {
      const double rate = Rate(p.records, p.elapsed);
      const double eta =
          rate > 0 ? static_cast<double>(p.total_records - p.records) / rate
                   : 0;
      std::fprintf(stderr,
                   "\r\033[K  replay: %s of %s records (%.0f%%), %.0f "
                   "records/s, ETA %.0f s",
                   WithCommas(p.records).c_str(),
                   WithCommas(p.total_records).c_str(),
                   p.total_records ? 100.0 * p.records / p.total_records : 100,
                   rate, eta);
    };
  }
  for (const replay::Target& t : targets) {
    // The rules beside the stores, for crm diff and crm stats.
    std::string text;
    google::protobuf::TextFormat::PrintToString(*t.rules, &text);
    fs::create_directories(t.data_dir);
    std::ofstream(fs::path(t.data_dir) / "rules.textproto") << text;
  }
  auto result = replay::Replay(**source, targets, options);
  if (ShowProgress(g)) std::fprintf(stderr, "\r\033[K");
  if (!result.ok()) return ReportError("replay", result.status());
  std::error_code ec;
  fs::remove(fs::path(flags.out) / kReplayIncompleteMarker, ec);

  const std::string until =
      flags.until.empty() ? "" : FormatRfc3339(options.until);
  if (g.json) {
    std::string out = absl::StrCat(
        "{\"partitions\":", result->partitions,
        ",\"records\":", result->records, ",\"applied\":", result->applied,
        ",\"afterUntil\":", result->after_until,
        ",\"until\":", until.empty() ? "null" : JsonQuoted(until),
        ",\"seconds\":",
        absl::StrFormat("%.3f", absl::ToDoubleSeconds(result->elapsed)),
        ",\"ruleSets\":[");
    for (size_t i = 0; i < result->targets.size(); ++i) {
      const auto& t = result->targets[i];
      absl::StrAppend(
          &out, i ? "," : "", "{\"rulesVersion\":", JsonQuoted(t.rules_version),
          ",\"dataDir\":", JsonQuoted(t.data_dir),
          ",\"customers\":", t.customers, ",\"applied\":", t.applied,
          ",\"transitions\":", t.transitions,
          ",\"deadLetters\":", t.dead_letters, ",\"duplicates\":", t.duplicates,
          "}");
    }
    absl::StrAppend(&out, "]}\n");
    std::fputs(out.c_str(), stdout);
    return kExitOk;
  }
  std::printf(
      "replayed %s records of %d partition(s) under %zu rule set(s) in %.1f "
      "s (%.0f records/s)%s\n",
      WithCommas(result->records).c_str(), result->partitions,
      result->targets.size(), absl::ToDoubleSeconds(result->elapsed),
      Rate(result->records, result->elapsed),
      until.empty()
          ? ""
          : absl::StrCat("; until ", until, ": ",
                         WithCommas(result->after_until),
                         " later event(s) left out, states advanced to it")
                .c_str());
  for (const auto& t : result->targets) {
    std::printf(
        "  %-24s %s customers, %s events applied, %s transitions, %s dead "
        "letters, %s duplicates -> %s%s\n",
        t.rules_version.c_str(), WithCommas(t.customers).c_str(),
        WithCommas(t.applied).c_str(), WithCommas(t.transitions).c_str(),
        WithCommas(t.dead_letters).c_str(), WithCommas(t.duplicates).c_str(),
        t.data_dir.c_str(), flags.regrade ? " (population pass run)" : "");
  }
  return kExitOk;
}

}  // namespace

void RegisterReplay(CLI::App& app, CommandContext& ctx) {
  CLI::App* sub = app.add_subcommand(
      "replay", "Rebuild every view under other rules into scratch stores");
  auto flags = std::make_shared<ReplayFlags>();
  sub->add_option("--rules", flags->rules,
                  "Rules textproto (repeatable: several rule sets in one "
                  "pass); default: the global --rules or the built-in rules");
  sub->add_option("--source", flags->source,
                  "embedded, kafka, or an archive file (crm export); "
                  "default: kafka with --brokers, else the embedded log");
  sub->add_option("--until", flags->until,
                  "Only events up to this event time (RFC 3339), then every "
                  "state advanced to it");
  sub->add_option("--out", flags->out,
                  "Directory for the scratch stores (laid out like a data "
                  "directory; DIR/<rules version>/ each with several rule "
                  "sets)")
      ->required();
  sub->add_flag(
      "--force", flags->force,
      "Replace --out if it exists (e.g. a replay that did not finish)");
  sub->add_flag("--regrade", flags->regrade,
                "Run the population pass (ABC, classes, RFM) at the end, as "
                "`crm regrade` does");
  sub->add_option("--threads", flags->threads, "Threads reading partitions")
      ->capture_default_str();
  sub->add_option("--parallel", flags->parallel,
                  "How the threads share the work: partitions (each thread "
                  "its own partitions under every rule set), rule-sets (the "
                  "threads take one partition at a time together, each under "
                  "its share of the rule sets: half the parsed states in "
                  "memory with 2 threads, and batches of up to a whole "
                  "partition), or auto (rule-sets when there are 2 or more "
                  "rule sets and a multiple of the threads)")
      ->check(CLI::IsMember({"auto", "partitions", "rule-sets"}))
      ->capture_default_str();
  sub->add_option("--memory", flags->memory,
                  "Memory for parsed customer states, all rule sets "
                  "together, e.g. 6G or 512M (default: 40% of physical "
                  "memory). The scratch stores are committed only when it "
                  "is full and at the end, so with enough of it each "
                  "customer is written once");
  sub->add_option("--ingest-min-customers", flags->ingest_min_customers,
                  "A commit of at least this many customers is written as "
                  "table files and ingested into the scratch store instead "
                  "of through its memtable (0: never)")
      ->capture_default_str();
  sub->add_option("--batch", flags->batch,
                  "Records decoded and applied at a time per partition: more "
                  "holds more of a customer's events per visit to its "
                  "state, and more memory for the decoded events (about 700 "
                  "bytes a record); default: 262,144 by partitions, "
                  "2,097,152 by rule sets")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  sub->add_flag("--huge-pages,!--no-huge-pages", flags->huge_pages,
                "Grow the heap in transparent huge pages (madvise; on by "
                "default), so touching states at random misses the TLB "
                "less: about 9% faster on a 10M-event replay. Ignored "
                "where the kernel has none");
  sub->footer(
      "Reads the log from offset 0 to its end at the start (the embedded log "
      "as a follower while `crm run` keeps running; Kafka partitions "
      "directly, no consumer group), decodes each record once and applies "
      "it under every rule set. Production stores are never opened. The "
      "scratch stores are written without a WAL and committed rarely: a "
      "replay that dies is run again (--force) rather than resumed. "
      "Inspect the result with `crm --data-dir DIR stats` or compare it "
      "with `crm diff`.");
  sub->callback(
      [&ctx, flags] { ctx.exit_code = RunReplay(*flags, ctx.global); });
}

}  // namespace crm::cli
