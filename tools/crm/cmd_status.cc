// crm status: where each partition's projector stands against the log, and
// what went to the dead-letter and transitions topics. Read-only; safe
// while a worker runs.

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/base/exit_codes.h"
#include "engine/store/partition_store.h"
#include "engine/task/worker.h"
#include "tools/crm/command.h"
#include "tools/crm/wiring.h"

namespace crm::cli {
namespace {

struct PartitionStatus {
  int32_t partition = 0;
  int64_t end = 0;
  int64_t applied = -1;  // -1: no store for it here
  uint64_t customers = 0;
};

// Records in all partitions of `topic`, or 0 when it does not exist.
int64_t TopicRecords(const GlobalFlags& g, const std::string& topic) {
  auto log = OpenEventLog(g, topic, 0, LogAccess::kRead);
  if (!log.ok()) return 0;
  int64_t n = 0;
  for (int32_t p = 0; p < (*log)->partitions(); ++p) {
    auto end = (*log)->EndOffset(p);
    if (end.ok()) n += *end;
  }
  return n;
}

int RunStatus(const GlobalFlags& g) {
  auto log = OpenEventLog(g, g.topic, 0, LogAccess::kRead);
  if (!log.ok()) return ReportError("status", log.status());
  store::StoreOptions store_options;
  store_options.block_cache_bytes = 8 << 20;
  store::StoreResources resources(store_options);
  std::vector<PartitionStatus> parts;
  for (int32_t p = 0; p < (*log)->partitions(); ++p) {
    PartitionStatus st;
    st.partition = p;
    auto end = (*log)->EndOffset(p);
    if (!end.ok()) return ReportError("status", end.status());
    st.end = *end;
    const std::string dir = task::PartitionStoreDir(StoreDir(g), p);
    if (std::filesystem::exists(dir)) {
      auto s = store::PartitionStore::OpenReadOnly(resources, dir);
      if (!s.ok()) return ReportError("status", s.status());
      st.applied = (*s)->next_offset();
      auto count = (*s)->CountCustomers();
      if (!count.ok()) return ReportError("status", count.status());
      st.customers = *count;
    }
    parts.push_back(st);
  }
  const int64_t dead = TopicRecords(g, DeadLetterTopic(g));
  const int64_t transitions = TopicRecords(g, kTransitionsTopic);
  int64_t total_end = 0, total_lag = 0;
  uint64_t customers = 0;
  for (const auto& st : parts) {
    total_end += st.end;
    total_lag +=
        st.applied < 0 ? st.end : std::max<int64_t>(0, st.end - st.applied);
    customers += st.customers;
  }

  if (g.json) {
    std::string out = "{\"topic\":\"" + g.topic + "\",\"partitions\":[";
    for (size_t i = 0; i < parts.size(); ++i) {
      const auto& st = parts[i];
      absl::StrAppend(
          &out, i ? "," : "", "{\"partition\":", st.partition,
          ",\"endOffset\":", st.end, ",\"appliedOffset\":", st.applied,
          ",\"lag\":", st.applied < 0 ? st.end : st.end - st.applied,
          ",\"customers\":", st.customers, "}");
    }
    absl::StrAppend(&out, "],\"records\":", total_end, ",\"lag\":", total_lag,
                    ",\"customers\":", customers, ",\"deadLetters\":", dead,
                    ",\"transitions\":", transitions, "}\n");
    std::fputs(out.c_str(), stdout);
    return kExitOk;
  }
  std::printf("%-9s %14s %14s %12s %12s\n", "partition", "log end", "applied",
              "lag", "customers");
  for (const auto& st : parts) {
    std::printf(
        "%-9d %14s %14s %12s %12s\n", st.partition, WithCommas(st.end).c_str(),
        st.applied < 0 ? "-" : WithCommas(st.applied).c_str(),
        WithCommas(st.applied < 0 ? st.end : st.end - st.applied).c_str(),
        st.applied < 0
            ? "-"
            : WithCommas(static_cast<int64_t>(st.customers)).c_str());
  }
  std::printf("%-9s %14s %14s %12s %12s\n", "total",
              WithCommas(total_end).c_str(), "", WithCommas(total_lag).c_str(),
              WithCommas(static_cast<int64_t>(customers)).c_str());
  std::printf("dead letters: %s (topic %s)   transitions: %s (topic %s)\n",
              WithCommas(dead).c_str(), DeadLetterTopic(g).c_str(),
              WithCommas(transitions).c_str(), kTransitionsTopic);
  return kExitOk;
}

}  // namespace

void RegisterStatus(CLI::App& app, CommandContext& ctx) {
  CLI::App* sub = app.add_subcommand("status", "Health and lag");
  sub->footer(
      "Per partition: the log's end offset, the offset the local view store "
      "has applied and committed, the lag between them and the customers "
      "stored; then the dead letters and transitions "
      "published. Reads the stores read-only: safe while `crm run` runs. "
      "--json for scripts.");
  sub->callback([&ctx] { ctx.exit_code = RunStatus(ctx.global); });
}

}  // namespace crm::cli
