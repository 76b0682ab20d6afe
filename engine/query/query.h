#pragma once

// The read side of the views: one customer by id (from its partition's
// store, or rebuilt from the log for a past time), filtered lists, and
// every customer in id order. Read-only over stores opened with
// PartitionStore::OpenReadOnly, which takes no lock: safe while a worker
// commits to the same stores (a reader sees the store as of its open).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crm/v1/rules.pb.h"
#include "crm/v1/runtime.pb.h"
#include "crm/v1/views.pb.h"
#include "engine/log/event_log.h"
#include "engine/store/customer_record.h"
#include "engine/store/partition_store.h"
#include "google/protobuf/descriptor.h"

namespace crm::query {

// The store among `stores` that holds `customer_id` in a log of
// `partitions` partitions (log::PartitionFor), or nullptr when that
// partition has no store.
store::PartitionStore* StoreFor(absl::Span<store::PartitionStore* const> stores,
                                int32_t partitions,
                                absl::string_view customer_id);

// The stored record of `customer_id`, read from its partition's store only,
// with its whole histories (store/customer_record.h).
// kNotFound naming the customer (and partition) when it has no record;
// kDataLoss when the record does not parse or is of another customer.
absl::StatusOr<v1::StoredCustomer> GetCustomer(
    absl::Span<store::PartitionStore* const> stores, int32_t partitions,
    absl::string_view customer_id);

// The state of `customer_id` as it stood at event time `as_of`, rebuilt
// from its partition of `log`: the records keyed by it with occurred_at <=
// as_of, first occurrence of each event_id only, applied in log order with
// projections::ApplyEvent to a fresh state, then AdvanceTo(as_of). Records
// that do not decode or are rejected by the projection are skipped, as the
// partition task sends them to the dead-letter topic. kNotFound when no
// event of the customer is at or before as_of.
absl::StatusOr<v1::CustomerState> RebuildFromLog(log::EventLog& log,
                                                 absl::string_view customer_id,
                                                 absl::Time as_of,
                                                 const v1::Rules& rules);

// Calls fn(partition, record) for every customer of `stores` in ascending
// customer id (a k-way merge of the stores' key-ordered cursors). kDataLoss
// naming the partition and customer for an unreadable record; stops with
// fn's error. With kOmit the records' histories hold only what the records
// do (nothing once committed): enough to filter, sort or count.
absl::Status ForEachCustomerById(
    absl::Span<store::PartitionStore* const> stores,
    const std::function<absl::Status(int32_t, const v1::StoredCustomer&)>& fn,
    store::Histories histories = store::Histories::kWhole);

// "VALUE_TIER_VIP" -> "VIP"; the zero value -> "none".
std::string EnumShortName(const google::protobuf::EnumDescriptor* type,
                          int number);
// The number of the value whose short name is `name` (case-insensitive,
// '-' for '_'); kInvalidArgument naming `flag` and listing the choices.
absl::StatusOr<int> ParseEnumShortName(
    const google::protobuf::EnumDescriptor* type, absl::string_view name,
    absl::string_view flag);

// What `crm list` selects. Unset fields do not filter.
struct ListFilter {
  std::optional<v1::ValueTier> value_tier;
  std::optional<v1::ProspectGrade> prospect_grade;
  std::optional<v1::AbcClass> abc;
  std::optional<v1::ValueClass> value_class;
  std::optional<v1::CustomerClass> customer_class;
  std::optional<v1::LifecycleStage> stage;
  std::optional<v1::RfmSegment> rfm_segment;
  std::optional<std::string> region;
  std::optional<std::string> account_manager;
  // satisfaction_degree (0..100) strictly below this.
  std::optional<double> satisfaction_below;
  // card.next_follow_up_at set and strictly before this.
  std::optional<absl::Time> follow_up_before;
};

// True when `views` passes every set field of `filter`.
bool Matches(const v1::CustomerViews& views, const ListFilter& filter);

enum class ListSort {
  kRevenue,       // window revenue, highest first
  kAtRiskValue,   // lifetime revenue of AT_RISK/CHURNED customers (others
                  // count 0), highest first
  kSatisfaction,  // satisfaction degree, lowest first
  kCustomerId,    // ascending
};
// "revenue", "at-risk", "satisfaction", "id".
absl::StatusOr<ListSort> ParseListSort(absl::string_view name);

struct ListOptions {
  ListFilter filter;
  ListSort sort = ListSort::kRevenue;
  // Rows returned at most. Default: 50
  size_t limit = 50;
  // Event time to show the views at; each state is advanced to it on a
  // copy. InfinitePast: the latest state as_of of the stores. An explicit
  // time must not be before any stored state (kInvalidArgument).
  absl::Time as_of = absl::InfinitePast();
  // Serve the filter from a secondary index when one applies (region,
  // account manager, ABC, RFM segment; the most selective of those given)
  // and every store's index is ready. false: always scan. Default: true
  bool use_index = true;
  // Candidates of an index from which they are read by two threads, each
  // half (any sort but by id, which reads in order up to the limit). A
  // scan (no index serves) in any order but the id's reads half of the
  // stores on each thread, unless this is SIZE_MAX (one thread for all).
  // Default: 2048
  size_t split_reading_at = 2048;
};

struct ListResult {
  absl::Time as_of;      // the time the rows are shown at
  uint64_t scanned = 0;  // customers read
  uint64_t matched = 0;  // of them, passing the filter
  // With the id sort and an index, reading stops at the limit: matched is
  // then a lower bound and this is false.
  bool matched_complete = true;
  // "scan", or "index <field>=<value>" naming the index used.
  std::string served_by = "scan";
  std::vector<v1::CustomerState> rows;  // sorted, ties by customer id
};

// The customers of `stores` matching options.filter at the as-of, sorted
// and cut to the limit: from the most selective applicable index (reading
// only the candidates it names, each re-checked against the whole filter
// after advancing a copy to the as-of), else by scanning every customer.
// Both give the same rows.
absl::StatusOr<ListResult> List(absl::Span<store::PartitionStore* const> stores,
                                const v1::Rules& rules,
                                const ListOptions& options);

// protobuf's JSON mapping of `message` on one line (proto field names in
// lowerCamelCase, enums by name, fields at their default left out).
std::string ToJsonLine(const google::protobuf::Message& message);

}  // namespace crm::query
