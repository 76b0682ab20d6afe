#pragma once

#include <string>
#include <vector>

#include "engine/task/worker.h"

namespace crm::task {

// The worker's progress as Prometheus text exposition (version 0.0.4):
// per-partition gauges (crm_partition_applied_offset, crm_partition_end_offset,
// crm_partition_lag) and counters (crm_events_applied_total,
// crm_duplicates_total, crm_dead_letters_total, crm_transitions_total,
// crm_commits_total, crm_state_loads_total), each with a partition label.
// Events per second is rate(crm_events_applied_total[1m]).
std::string PrometheusText(const std::vector<PartitionProgress>& progress);

}  // namespace crm::task
