#include "engine/task/metrics.h"

#include <cstdint>
#include <functional>

#include "absl/strings/str_cat.h"

namespace crm::task {
namespace {

void Family(std::string* out, const char* name, const char* type,
            const char* help, const std::vector<PartitionProgress>& progress,
            const std::function<int64_t(const PartitionProgress&)>& value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
                  "\n");
  for (const auto& p : progress) {
    absl::StrAppend(out, name, "{partition=\"", p.partition, "\"} ", value(p),
                    "\n");
  }
}

}  // namespace

std::string PrometheusText(const std::vector<PartitionProgress>& progress) {
  std::string out;
  Family(&out, "crm_partition_applied_offset", "gauge",
         "Log offset the partition's view store has committed.", progress,
         [](const PartitionProgress& p) { return p.next_offset; });
  Family(&out, "crm_partition_end_offset", "gauge",
         "End offset of the partition's log when last seen.", progress,
         [](const PartitionProgress& p) { return p.end_offset; });
  Family(&out, "crm_partition_lag", "gauge",
         "Records in the log not yet committed to the views.", progress,
         [](const PartitionProgress& p) {
           return p.end_offset > p.next_offset ? p.end_offset - p.next_offset
                                               : 0;
         });
  Family(&out, "crm_events_applied_total", "counter",
         "Events applied to the views.", progress,
         [](const PartitionProgress& p) { return p.stats.applied; });
  Family(&out, "crm_duplicates_total", "counter",
         "Events skipped because their event_id was already applied.", progress,
         [](const PartitionProgress& p) { return p.stats.duplicates; });
  Family(&out, "crm_dead_letters_total", "counter",
         "Records sent to the dead-letter topic.", progress,
         [](const PartitionProgress& p) { return p.stats.dead_letters; });
  Family(&out, "crm_transitions_total", "counter",
         "Grade, lifecycle and SLA transitions emitted.", progress,
         [](const PartitionProgress& p) { return p.stats.transitions; });
  Family(&out, "crm_commits_total", "counter", "View store commits.", progress,
         [](const PartitionProgress& p) { return p.stats.commits; });
  Family(&out, "crm_state_loads_total", "counter",
         "Customer states read back from the store (cache misses).", progress,
         [](const PartitionProgress& p) { return p.stats.state_loads; });
  return out;
}

}  // namespace crm::task
