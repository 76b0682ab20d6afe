#pragma once

// The population pass (`crm regrade`): classifies every customer of a set of
// partition stores together (ABC, key / ordinary / special with the
// account-manager coverage, RFM quintiles and segments), writes each
// customer's entry back into its stored state, and keeps a small record of
// the pass (cut points, as_of, rules version, store positions) from which
// the classes can be reproduced.
//
// As-of and determinism. The population is classified at one event time
// `as_of` (by default the latest as_of of any stored state: event time,
// never the wall clock). Each customer's facts are taken from a copy of its
// state advanced to as_of. The stored state itself is NOT advanced: the
// entry is written with ApplyPopulationEntry at the state's own as_of, so
// only the population fields (abc, computed class and through it the
// effective class, RFM scores and segment, contribution degree) and what
// the views derive from them change, and their history entries and
// transitions are stamped with the state's own event time. Advancing the
// stored state to the pass's as_of would make every later event of the
// customer older than as_of a "late" event (projector.h), applied at a
// different time than in a run without the pass; not advancing keeps
// everything else of the view exactly as the log made it, and lets the
// pass run at a later as_of (end of a month) without moving any customer's
// clock.
//
// A store after the pass is still a pure function of its log prefix (the
// next offsets recorded in the PassRecord), the rules, and the pass's
// as_of: a replay reproduces it byte for byte by running the same pass at
// the same offsets with the same as_of. The result does not depend on how
// customers are spread over partitions. Running the pass again at the same
// as_of changes nothing and emits no transitions.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crm/v1/rules.pb.h"
#include "crm/v1/runtime.pb.h"
#include "crm/v1/views.pb.h"
#include "engine/population/pass_record.pb.h"
#include "engine/store/customer_record.h"
#include "engine/store/partition_store.h"

namespace crm::population {

struct PassOptions {
  // Event time the population is classified at. Default (InfinitePast):
  // the latest as_of of any stored state. An explicit time must not be
  // before it (a past population needs a replay of the log up to it).
  absl::Time as_of = absl::InfinitePast();
  // Classify and report, write nothing. Default: false
  bool dry_run = false;
  // A pass of the rules' population_schedule at boundary as_of (which must
  // be given): every store is committed, changed or not, with as_of as its
  // last scheduled boundary (PartitionStore::scheduled_pass_seconds), so a
  // restarted worker knows which boundary comes next. Default: false
  bool scheduled = false;
};

struct PassResult {
  v1::PopulationResult population;  // every entry, by customer id
  PassRecord record;                // what WritePassRecord stores
  // Customers whose stored state was projected under another rules
  // version than the pass's (they are re-evaluated under the pass's).
  uint64_t other_rules_version = 0;
};

// Runs the pass over `stores` (every partition store of the population,
// opened read-write, ascending partitions) with `rules`: reads every
// customer, classifies them all at one as_of, and commits each store's
// changed records and the resulting transitions (crm.v1.OutboxRecord) in
// one Commit per store, with the store's next_offset unchanged. A store
// with nothing to change is not written. The commits are per store, not
// across stores: after a crash in between, running the pass again at the
// same as_of completes it (the classes depend only on the unchanged facts).
//
// Errors: kNotFound when the stores hold no customer; kInvalidArgument
// when options.as_of is before a stored state's as_of; kFailedPrecondition
// when no stored state was projected under rules.version() (regrade with
// the rules the worker ran with); kDataLoss for an unreadable record;
// store errors as Commit returns them.
absl::StatusOr<PassResult> RunPopulationPass(
    absl::Span<store::PartitionStore* const> stores, const v1::Rules& rules,
    const PassOptions& options = {});

// The record of a pass: `population` without its entries, the counts, the
// cut-offs (from `facts`, which must be the facts classified, in any
// order) and the digest. `partitions` is left for the caller.
PassRecord SummarizePopulation(const v1::PopulationResult& population,
                               absl::Span<const v1::PopulationFacts> facts);

// One customer's classes from a pass record alone: abc, customer_class,
// rfm_r/f/m and rfm_segment, and the lifetime-value fields under the
// record's fitted model (rank, shares and contribution need the whole
// population and are left 0). For a customer of that pass this equals its
// entry; for another it is where its facts fall between the cut-offs.
v1::PopulationEntry ReproduceEntry(const v1::PopulationFacts& facts,
                                   const PassRecord& record);

// 64-bit FNV-1a of the deterministic serialization of `population`.
uint64_t PopulationDigest(const v1::PopulationResult& population);

// The display name of an RFM segment: "Champions", "Can't Lose", ...;
// "-" for RFM_SEGMENT_UNSPECIFIED.
std::string RfmSegmentLabel(v1::RfmSegment segment);

// The latest state as_of over `stores`, with the customer that has it;
// kNotFound when they hold no customer.
struct LatestState {
  absl::Time as_of = absl::InfinitePast();
  std::string customer_id;
  int32_t partition = -1;
  uint64_t customers = 0;
};
absl::StatusOr<LatestState> FindLatestState(
    absl::Span<store::PartitionStore* const> stores);

// Calls fn(partition, record) for every stored customer of `stores`, in
// store order then key order; `record` is a scratch parse that fn may
// change (e.g. advance a state for an "as of" answer). Stops with fn's
// error. kDataLoss naming the partition and customer for a record that
// does not parse or whose state is of another customer than its key.
// With kWhole the state's grade and lifecycle histories are read back from
// the store's history column family (store/customer_record.h); by default
// they hold only what the record itself does (nothing, once committed),
// which is all that classifying and advancing a state need.
absl::Status ForEachStoredCustomer(
    absl::Span<store::PartitionStore* const> stores,
    const std::function<absl::Status(int32_t, v1::StoredCustomer*)>& fn,
    store::Histories histories = store::Histories::kOmit);

// The partitions with a store under `store_dir` (p-NNNN folders),
// ascending; empty when there is none or the folder does not exist.
std::vector<int32_t> StoredPartitions(const std::string& store_dir);

// Opens every partition store under `store_dir`, read-write (the pass) or
// read-only (queries while a worker runs). kNotFound when there is none;
// kFailedPrecondition when a store is locked by a running worker, naming
// it.
absl::StatusOr<std::vector<std::unique_ptr<store::PartitionStore>>>
OpenPartitionStores(const store::StoreResources& resources,
                    const std::string& store_dir, bool read_only);

// Where pass records live: <data_dir>/population/<topic>. Not under the
// store folder, which holds partition stores only.
std::string PassRecordDir(const std::string& data_dir,
                          const std::string& topic);

// Writes `record` to <dir>/<as_of RFC 3339>.binpb and <dir>/latest.binpb,
// each atomically (temporary file, fsync, rename); creates `dir`. Returns
// the path of the first.
absl::StatusOr<std::string> WritePassRecord(const std::string& dir,
                                            const PassRecord& record);

// Reads a record written by WritePassRecord. kNotFound, kDataLoss.
absl::StatusOr<PassRecord> ReadPassRecord(const std::string& path);

}  // namespace crm::population
