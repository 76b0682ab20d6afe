#include "engine/population/population_pass.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/base/time_util.h"
#include "engine/log/file_util.h"
#include "engine/store/customer_record.h"
#include "engine/store/serialize.h"
#include "engine/store/view_index.h"
#include "engine/task/worker.h"
#include "projections/population/population.h"
#include "projections/projector.h"

namespace crm::population {
namespace {

constexpr char kLatestRecord[] = "latest.binpb";

uint64_t Fnv1a64(absl::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// The population ranking: window revenue descending, then id ascending.
bool RanksBefore(int64_t revenue_a, absl::string_view id_a, int64_t revenue_b,
                 absl::string_view id_b) {
  if (revenue_a != revenue_b) return revenue_a > revenue_b;
  return id_a < id_b;
}

bool AtOrBefore(const v1::PopulationFacts& f, const RankPoint& p) {
  return !RanksBefore(p.revenue_window_minor(), p.customer_id(),
                      f.revenue_window_minor(), f.customer_id());
}

bool AtOrAfter(const v1::PopulationFacts& f, const RankPoint& p) {
  return !RanksBefore(f.revenue_window_minor(), f.customer_id(),
                      p.revenue_window_minor(), p.customer_id());
}

void SetPoint(const v1::PopulationFacts& f, const v1::PopulationEntry& e,
              RankPoint* p) {
  p->set_customer_id(f.customer_id());
  p->set_revenue_window_minor(f.revenue_window_minor());
  p->set_rank(e.rank());
}

const v1::PopulationEntry* FindEntry(const v1::PopulationResult& population,
                                     absl::string_view id) {
  const auto& entries = population.entries();
  auto it =
      std::lower_bound(entries.begin(), entries.end(), id,
                       [](const v1::PopulationEntry& e, absl::string_view key) {
                         return e.customer_id() < key;
                       });
  if (it == entries.end() || it->customer_id() != id) return nullptr;
  return &*it;
}

// What the first scan learns: the latest state, and rules versions.
struct Survey {
  LatestState latest;
  uint64_t same_rules = 0;
  std::string other_version;  // one version other than the pass's
  std::string other_customer;
};

absl::StatusOr<Survey> SurveyStores(
    absl::Span<store::PartitionStore* const> stores,
    absl::string_view rules_version) {
  Survey s;
  CRM_RETURN_IF_ERROR(ForEachStoredCustomer(
      stores, [&](int32_t partition, v1::StoredCustomer* rec) {
        const v1::CustomerState& st = rec->state();
        const absl::Time t = FromProto(st.facts().as_of());
        ++s.latest.customers;
        if (s.latest.partition < 0 || t > s.latest.as_of) {
          s.latest.as_of = t;
          s.latest.customer_id = st.customer_id();
          s.latest.partition = partition;
        }
        const std::string& version = st.views().grade().rules_version();
        if (version == rules_version) {
          ++s.same_rules;
        } else if (s.other_customer.empty()) {
          s.other_version = version;
          s.other_customer = st.customer_id();
        }
        return absl::OkStatus();
      }));
  if (s.latest.customers == 0) {
    return absl::NotFoundError(
        absl::StrCat("no customers in the ", stores.size(),
                     " partition store(s) (run the projector first: crm run)"));
  }
  return s;
}

}  // namespace

absl::Status ForEachStoredCustomer(
    absl::Span<store::PartitionStore* const> stores,
    const std::function<absl::Status(int32_t, v1::StoredCustomer*)>& fn,
    store::Histories histories) {
  v1::StoredCustomer rec;
  for (store::PartitionStore* s : stores) {
    const int32_t partition = s->partition();
    store::HistoryReader history(*s);
    CRM_RETURN_IF_ERROR(s->ForEachCustomer(
        [&](absl::string_view key, absl::string_view value) -> absl::Status {
          rec.Clear();
          if (!rec.ParseFromArray(value.data(),
                                  static_cast<int>(value.size()))) {
            return absl::DataLossError(absl::StrCat(
                "partition ", partition, " (", s->dir(), "): stored record of ",
                "customer ", key, " is not a valid crm.v1.StoredCustomer"));
          }
          if (rec.state().customer_id() != key) {
            return absl::DataLossError(absl::StrCat(
                "partition ", partition, " (", s->dir(), "): record key ", key,
                " holds the state of customer \"", rec.state().customer_id(),
                "\""));
          }
          if (histories == store::Histories::kWhole) {
            CRM_RETURN_IF_ERROR(history.Complete(&rec));
          }
          return fn(partition, &rec);
        }));
  }
  return absl::OkStatus();
}

absl::StatusOr<LatestState> FindLatestState(
    absl::Span<store::PartitionStore* const> stores) {
  CRM_ASSIGN_OR_RETURN(Survey s, SurveyStores(stores, ""));
  return s.latest;
}

std::string RfmSegmentLabel(v1::RfmSegment segment) {
  switch (segment) {
    case v1::RFM_SEGMENT_CHAMPIONS:
      return "Champions";
    case v1::RFM_SEGMENT_LOYAL:
      return "Loyal";
    case v1::RFM_SEGMENT_POTENTIAL_LOYALISTS:
      return "Potential Loyalists";
    case v1::RFM_SEGMENT_NEW:
      return "New";
    case v1::RFM_SEGMENT_PROMISING:
      return "Promising";
    case v1::RFM_SEGMENT_NEED_ATTENTION:
      return "Need Attention";
    case v1::RFM_SEGMENT_ABOUT_TO_SLEEP:
      return "About to Sleep";
    case v1::RFM_SEGMENT_AT_RISK:
      return "At Risk";
    case v1::RFM_SEGMENT_CANT_LOSE:
      return "Can't Lose";
    case v1::RFM_SEGMENT_HIBERNATING:
      return "Hibernating";
    default:
      return "-";
  }
}

uint64_t PopulationDigest(const v1::PopulationResult& population) {
  return Fnv1a64(store::SerializeDeterministic(population));
}

PassRecord SummarizePopulation(const v1::PopulationResult& population,
                               absl::Span<const v1::PopulationFacts> facts) {
  PassRecord record;
  v1::PopulationResult* summary = record.mutable_summary();
  *summary->mutable_as_of() = population.as_of();
  summary->set_rules_version(population.rules_version());
  *summary->mutable_rfm_cuts() = population.rfm_cuts();
  *summary->mutable_ltv_model() = population.ltv_model();
  summary->set_total_revenue_minor(population.total_revenue_minor());
  summary->set_key_customers(population.key_customers());
  summary->set_ordinary_customers(population.ordinary_customers());
  summary->set_special_customers(population.special_customers());
  *summary->mutable_coverage() = population.coverage();
  summary->set_managers_required(population.managers_required());

  std::vector<const v1::PopulationFacts*> by_id;
  by_id.reserve(facts.size());
  for (const auto& f : facts) by_id.push_back(&f);
  std::sort(by_id.begin(), by_id.end(), [](const auto* a, const auto* b) {
    return a->customer_id() < b->customer_id();
  });
  std::map<int, uint64_t> segments;
  for (const v1::PopulationEntry& e : population.entries()) {
    auto it = std::lower_bound(
        by_id.begin(), by_id.end(), e.customer_id(),
        [](const v1::PopulationFacts* f, const std::string& id) {
          return f->customer_id() < id;
        });
    if (it == by_id.end() || (*it)->customer_id() != e.customer_id()) continue;
    const v1::PopulationFacts& f = **it;
    record.set_customers(record.customers() + 1);
    if (f.has_orders()) record.set_transacted(record.transacted() + 1);
    switch (e.abc()) {
      case v1::ABC_CLASS_A:
        record.set_abc_a(record.abc_a() + 1);
        if (e.rank() > record.abc_a_last().rank()) {
          SetPoint(f, e, record.mutable_abc_a_last());
        }
        break;
      case v1::ABC_CLASS_B:
        record.set_abc_b(record.abc_b() + 1);
        if (e.rank() > record.abc_b_last().rank()) {
          SetPoint(f, e, record.mutable_abc_b_last());
        }
        break;
      case v1::ABC_CLASS_C:
        record.set_abc_c(record.abc_c() + 1);
        break;
      default:
        break;
    }
    if (e.customer_class() == v1::CUSTOMER_CLASS_KEY &&
        e.rank() > record.key_last().rank()) {
      SetPoint(f, e, record.mutable_key_last());
    }
    if (e.customer_class() == v1::CUSTOMER_CLASS_SPECIAL &&
        (!record.has_special_first() ||
         e.rank() < record.special_first().rank())) {
      SetPoint(f, e, record.mutable_special_first());
    }
    if (e.rfm_segment() != v1::RFM_SEGMENT_UNSPECIFIED) {
      ++segments[e.rfm_segment()];
    }
  }
  for (const auto& [segment, n] : segments) {
    SegmentCount* c = record.add_rfm_segments();
    c->set_segment(static_cast<v1::RfmSegment>(segment));
    c->set_customers(n);
  }
  record.set_result_digest(PopulationDigest(population));
  return record;
}

v1::PopulationEntry ReproduceEntry(const v1::PopulationFacts& f,
                                   const PassRecord& record) {
  v1::PopulationEntry e;
  e.set_customer_id(f.customer_id());
  if (f.revenue_window_minor() > 0 &&
      record.summary().total_revenue_minor() > 0) {
    if (record.has_abc_a_last() && AtOrBefore(f, record.abc_a_last())) {
      e.set_abc(v1::ABC_CLASS_A);
    } else if (record.has_abc_b_last() && AtOrBefore(f, record.abc_b_last())) {
      e.set_abc(v1::ABC_CLASS_B);
    } else {
      e.set_abc(v1::ABC_CLASS_C);
    }
  }
  if (f.has_orders()) {
    if (record.has_key_last() && AtOrBefore(f, record.key_last())) {
      e.set_customer_class(v1::CUSTOMER_CLASS_KEY);
    } else if (record.has_special_first() &&
               AtOrAfter(f, record.special_first())) {
      e.set_customer_class(v1::CUSTOMER_CLASS_SPECIAL);
    } else {
      e.set_customer_class(v1::CUSTOMER_CLASS_ORDINARY);
    }
    const v1::RfmCutPoints& cuts = record.summary().rfm_cuts();
    e.set_rfm_r(projections::RecencyScore(f.recency_days(), cuts.r()));
    e.set_rfm_f(projections::AscendingScore(f.frequency(), cuts.f()));
    e.set_rfm_m(projections::AscendingScore(f.monetary_minor(), cuts.m()));
    e.set_rfm_segment(projections::RfmSegmentFor(e.rfm_r(), e.rfm_f()));
  }
  projections::SetLtvFields(record.summary().ltv_model(), f,
                            record.summary().as_of(), &e);
  return e;
}

absl::StatusOr<PassResult> RunPopulationPass(
    absl::Span<store::PartitionStore* const> stores, const v1::Rules& rules,
    const PassOptions& options) {
  if (stores.empty()) {
    return absl::NotFoundError("population pass: no partition stores");
  }
  if (options.scheduled && options.as_of == absl::InfinitePast()) {
    return absl::InvalidArgumentError(
        "population pass: a scheduled pass needs an explicit as_of");
  }
  // 1. The latest event time of any state; the rules they were made with.
  CRM_ASSIGN_OR_RETURN(Survey survey, SurveyStores(stores, rules.version()));
  const LatestState& latest = survey.latest;
  const absl::Time as_of =
      options.as_of == absl::InfinitePast() ? latest.as_of : options.as_of;
  if (as_of < latest.as_of) {
    return absl::InvalidArgumentError(absl::StrCat(
        "as-of ", FormatRfc3339(as_of), " is before the state of customer ",
        latest.customer_id, " in partition ", latest.partition, " (",
        FormatRfc3339(latest.as_of),
        "): the stored population can be classified at that time or later; "
        "for an earlier date replay the log up to it into another data "
        "directory"));
  }
  if (survey.same_rules == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no stored customer was projected under rules version \"",
        rules.version(), "\" (customer ", survey.other_customer, " has \"",
        survey.other_version,
        "\"): run the pass with the rules the projector ran with (--rules)"));
  }

  // 2. Every customer's facts at as_of, from a copy advanced to it (the
  // scan's scratch record; the stored state is not touched).
  std::vector<v1::PopulationFacts> facts;
  facts.reserve(latest.customers);
  CRM_RETURN_IF_ERROR(
      ForEachStoredCustomer(stores, [&](int32_t, v1::StoredCustomer* rec) {
        projections::AdvanceTo(as_of, rules, rec->mutable_state());
        facts.push_back(
            projections::ExtractPopulationFacts(rec->state(), rules, as_of));
        return absl::OkStatus();
      }));

  // 3. Classify them together.
  PassResult out;
  out.other_rules_version = latest.customers - survey.same_rules;
  auto population = projections::ClassifyPopulation(facts, rules, as_of);
  if (!population.ok()) {
    return absl::Status(
        population.status().code(),
        absl::StrCat("population pass over ", stores.size(),
                     " partition store(s): ", population.status().message()));
  }
  out.population = std::move(*population);

  // 4. Write each entry back at the state's own time, one commit per store.
  std::vector<PartitionPass> partitions;
  v1::StoredCustomer rec;
  for (store::PartitionStore* s : stores) {
    PartitionPass pp;
    pp.set_partition(s->partition());
    pp.set_next_offset(s->next_offset());
    store::CommitBatch batch;
    batch.next_offset = s->next_offset();
    CRM_RETURN_IF_ERROR(s->ForEachCustomer(
        [&](absl::string_view key, absl::string_view value) -> absl::Status {
          rec.Clear();
          if (!rec.ParseFromArray(value.data(),
                                  static_cast<int>(value.size()))) {
            return absl::DataLossError(absl::StrCat(
                "partition ", s->partition(), ": stored record of customer ",
                key, " is not a valid crm.v1.StoredCustomer"));
          }
          const v1::PopulationEntry* entry = FindEntry(out.population, key);
          if (entry == nullptr) {
            // Only if the store changed under the pass: it holds the lock.
            return absl::InternalError(
                absl::StrCat("partition ", s->partition(), ": customer ", key,
                             " appeared after the population was classified"));
          }
          const absl::Time own = FromProto(rec.state().facts().as_of());
          CRM_ASSIGN_OR_RETURN(
              std::vector<v1::Transition> transitions,
              projections::ApplyPopulationEntry(*entry, std::min(own, as_of),
                                                rules, rec.mutable_state()));
          pp.set_customers(pp.customers() + 1);
          // ABC and RFM may change the index keys, a class change adds a
          // history entry.
          store::StageCustomer(key, &rec, &batch, value);
          for (v1::Transition& t : transitions) {
            v1::OutboxRecord o;
            *o.mutable_transition() = std::move(t);
            batch.outbox.push_back(store::SerializeDeterministic(o));
          }
          return absl::OkStatus();
        }));
    pp.set_customers_changed(batch.customers.size());
    pp.set_transitions(batch.outbox.size());
    if (options.scheduled) {
      batch.scheduled_pass_seconds = absl::ToUnixSeconds(as_of);
    }
    if (!options.dry_run && (options.scheduled || !batch.customers.empty() ||
                             !batch.outbox.empty())) {
      CRM_RETURN_IF_ERROR(s->Commit(batch));
    }
    partitions.push_back(std::move(pp));
  }

  // 5. The record of the pass.
  out.record = SummarizePopulation(out.population, facts);
  for (PartitionPass& pp : partitions) {
    *out.record.add_partitions() = std::move(pp);
  }
  return out;
}

std::vector<int32_t> StoredPartitions(const std::string& store_dir) {
  std::vector<int32_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(store_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.size() != 6 || name.rfind("p-", 0) != 0) {
      continue;
    }
    if (!std::all_of(name.begin() + 2, name.end(),
                     [](char c) { return absl::ascii_isdigit(c); })) {
      continue;
    }
    out.push_back(std::stoi(name.substr(2)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<std::unique_ptr<store::PartitionStore>>>
OpenPartitionStores(const store::StoreResources& resources,
                    const std::string& store_dir, bool read_only) {
  const std::vector<int32_t> parts = StoredPartitions(store_dir);
  if (parts.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no partition stores in ", store_dir,
                     " (run the projector first: crm run, or pass "
                     "--data-dir / --topic)"));
  }
  std::vector<std::unique_ptr<store::PartitionStore>> stores;
  for (int32_t p : parts) {
    const std::string dir = task::PartitionStoreDir(store_dir, p);
    auto s = read_only ? store::PartitionStore::OpenReadOnly(resources, dir)
                       : store::PartitionStore::Open(resources, dir, p);
    if (!s.ok()) {
      if (!read_only && s.status().code() == absl::StatusCode::kUnavailable &&
          absl::StrContains(s.status().message(), "LOCK")) {
        return absl::FailedPreconditionError(absl::StrCat(
            "partition store ", dir,
            " is in use by a running projector (crm run): stop it, then run "
            "this again (",
            s.status().message(), ")"));
      }
      return s.status();
    }
    stores.push_back(std::move(*s));
  }
  return stores;
}

std::string PassRecordDir(const std::string& data_dir,
                          const std::string& topic) {
  return absl::StrCat(data_dir, "/population/", topic);
}

absl::StatusOr<std::string> WritePassRecord(const std::string& dir,
                                            const PassRecord& record) {
  CRM_RETURN_IF_ERROR(log::internal::MakeDirs(dir));
  const std::string bytes = store::SerializeDeterministic(record);
  const std::string path = absl::StrCat(
      dir, "/", FormatRfc3339(FromProto(record.summary().as_of())), ".binpb");
  CRM_RETURN_IF_ERROR(log::internal::WriteFileAtomically(path, bytes));
  CRM_RETURN_IF_ERROR(log::internal::WriteFileAtomically(
      absl::StrCat(dir, "/", kLatestRecord), bytes));
  return path;
}

absl::StatusOr<PassRecord> ReadPassRecord(const std::string& path) {
  CRM_ASSIGN_OR_RETURN(std::string bytes, log::internal::ReadSmallFile(path));
  PassRecord record;
  if (!record.ParseFromString(bytes)) {
    return absl::DataLossError(
        absl::StrCat(path, ": not a valid crm.population.PassRecord"));
  }
  return record;
}

}  // namespace crm::population
