#include "engine/population/scheduled_pass.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_format.h"
#include "engine/base/status_macros.h"
#include "engine/base/time_util.h"
#include "engine/population/population_pass.h"
#include "projections/rules/rules.h"

namespace crm::population {

absl::Time NextScheduledBoundary(
    absl::Span<store::PartitionStore* const> stores, const v1::Rules& rules) {
  // INT64_MIN stands for "no boundary yet", below every real one.
  int64_t lowest = INT64_MAX, highest = INT64_MIN;
  for (const store::PartitionStore* s : stores) {
    const int64_t done = s->scheduled_pass_seconds().value_or(INT64_MIN);
    lowest = std::min(lowest, done);
    highest = std::max(highest, done);
  }
  if (stores.empty() || highest == INT64_MIN) {
    return projections::NextPassBoundary(rules, absl::InfinitePast());
  }
  const absl::Time latest = absl::FromUnixSeconds(highest);
  if (lowest != highest) return latest;  // interrupted: run it again
  return projections::NextPassBoundary(rules, latest);
}

namespace {

// Records `boundary` as done in every store, changing nothing else (no
// customer to classify yet).
absl::Status MarkBoundary(absl::Span<store::PartitionStore* const> stores,
                          absl::Time boundary) {
  for (store::PartitionStore* s : stores) {
    store::CommitBatch batch;
    batch.next_offset = s->next_offset();
    batch.scheduled_pass_seconds = absl::ToUnixSeconds(boundary);
    CRM_RETURN_IF_ERROR(s->Commit(batch));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ScheduledPass> RunScheduledPass(
    absl::Span<store::PartitionStore* const> stores, const v1::Rules& rules,
    absl::Time boundary, const std::string& record_dir) {
  ScheduledPass out;
  out.boundary = boundary;
  PassOptions options;
  options.as_of = boundary;
  options.scheduled = true;
  absl::StatusOr<PassResult> pass = RunPopulationPass(stores, rules, options);
  if (absl::IsNotFound(pass.status())) {
    CRM_RETURN_IF_ERROR(MarkBoundary(stores, boundary));
    return out;
  }
  CRM_RETURN_IF_ERROR(pass.status());
  out.ran = true;
  out.record = std::move(pass->record);
  if (!record_dir.empty()) {
    CRM_ASSIGN_OR_RETURN(out.record_path,
                         WritePassRecord(record_dir, out.record));
  }
  return out;
}

absl::Time BoundaryAfter(const v1::Rules& rules, absl::Time boundary, bool ran,
                         absl::Time earliest_held) {
  const absl::Time next = projections::NextPassBoundary(rules, boundary);
  if (ran || earliest_held == absl::InfiniteFuture()) return next;
  // The first boundary after earliest_held, minus one period: the last
  // one at or before it.
  const absl::Time at_or_before =
      projections::NextPassBoundary(rules, earliest_held) -
      absl::Hours(24) * rules.population_schedule().every_days();
  return std::max(next, at_or_before);
}

ScheduledPassRunner::ScheduledPassRunner(
    const v1::Rules* rules, std::string record_dir,
    std::function<void(const std::string&)> log_line)
    : rules_(rules),
      record_dir_(std::move(record_dir)),
      log_line_(std::move(log_line)) {}

absl::Time ScheduledPassRunner::FirstBoundary(
    absl::Span<store::PartitionStore* const> stores) {
  return NextScheduledBoundary(stores, *rules_);
}

absl::StatusOr<absl::Time> ScheduledPassRunner::RunPass(
    absl::Span<store::PartitionStore* const> stores, absl::Time boundary,
    absl::Time earliest_held) {
  CRM_ASSIGN_OR_RETURN(
      ScheduledPass pass,
      RunScheduledPass(stores, *rules_, boundary, record_dir_));
  if (pass.ran) {
    ++passes_;
    if (log_line_) {
      log_line_(absl::StrFormat(
          "population pass at %s: %d customers classified%s%s",
          FormatRfc3339(boundary), pass.record.customers(),
          pass.record_path.empty() ? "" : ", record ", pass.record_path));
    }
  } else {
    ++skipped_;
  }
  return BoundaryAfter(*rules_, boundary, pass.ran, earliest_held);
}

}  // namespace crm::population
