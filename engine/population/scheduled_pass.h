#pragma once

// The population pass of a rules' population_schedule (rules.proto
// PopulationSchedule): which boundary comes next for a set of partition
// stores, and the pass at one boundary. Shared by the worker (wired in
// through WorkerOptions::scheduled_pass) and the replay, so both cut and
// classify the same way.

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crm/v1/rules.pb.h"
#include "engine/population/pass_record.pb.h"
#include "engine/store/partition_store.h"
#include "engine/task/worker.h"

namespace crm::population {

// The boundary the stores must be held at next. Every scheduled pass
// commits its boundary into every store (PassOptions::scheduled), one
// store after the other, and no store moves past a boundary before the
// pass at it is complete. So when the stores disagree, a pass was
// interrupted between its commits and its boundary (the latest one) is
// run again: it is idempotent. When they agree on B (or none has one) the
// next is the first boundary after B (or the first one at all).
absl::Time NextScheduledBoundary(
    absl::Span<store::PartitionStore* const> stores, const v1::Rules& rules);

// What RunScheduledPass did.
struct ScheduledPass {
  absl::Time boundary;
  // False when the stores held no customer yet: nothing was classified,
  // only the boundary was recorded in every store.
  bool ran = false;
  PassRecord record;        // when ran
  std::string record_path;  // when ran and record_dir was given
};

// Runs the pass at `boundary` over `stores` (every partition store of the
// population; each must be held at the boundary by its caller) with
// RunPopulationPass(as_of = boundary, scheduled), and writes its record
// into `record_dir` (skipped when empty) with WritePassRecord. Errors as
// RunPopulationPass (except kNotFound, which means ran = false) and
// WritePassRecord.
absl::StatusOr<ScheduledPass> RunScheduledPass(
    absl::Span<store::PartitionStore* const> stores, const v1::Rules& rules,
    absl::Time boundary, const std::string& record_dir);

// The boundary to hold at after a pass at `boundary` that found no
// customer (ran = false) while the earliest held record's event time was
// `earliest_held`: the last boundary at or before it (every boundary in
// between would hold each partition at the same record and find no
// customer either), else the one after `boundary`. After a pass that ran
// it is simply the next boundary.
absl::Time BoundaryAfter(const v1::Rules& rules, absl::Time boundary, bool ran,
                         absl::Time earliest_held);

// The worker's scheduler: NextScheduledBoundary, RunScheduledPass and
// BoundaryAfter, with one log line per pass. `rules` must outlive it.
// Used by the thread in Worker::Run.
class ScheduledPassRunner final : public task::PopulationScheduler {
 public:
  // `record_dir`: where pass records go (PassRecordDir; empty: none).
  ScheduledPassRunner(const v1::Rules* rules, std::string record_dir,
                      std::function<void(const std::string&)> log_line);
  absl::Time FirstBoundary(
      absl::Span<store::PartitionStore* const> stores) override;
  absl::StatusOr<absl::Time> RunPass(
      absl::Span<store::PartitionStore* const> stores, absl::Time boundary,
      absl::Time earliest_held) override;
  // Passes that ran / boundaries skipped for want of a customer.
  int64_t passes() const { return passes_; }
  int64_t skipped() const { return skipped_; }

 private:
  const v1::Rules* const rules_;
  const std::string record_dir_;
  const std::function<void(const std::string&)> log_line_;
  int64_t passes_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace crm::population
