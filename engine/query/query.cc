#include "engine/query/query.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "engine/base/status_macros.h"
#include "engine/base/time_util.h"
#include "engine/event/validator.h"
#include "engine/store/customer_record.h"
#include "engine/store/view_index.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/json_util.h"
#include "projections/projector.h"

namespace crm::query {
namespace {

// Parses the stored record `value` of customer `key` into *rec.
absl::Status ParseRecordInto(int32_t partition, absl::string_view key,
                             absl::string_view value, v1::StoredCustomer* rec) {
  if (!rec->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(absl::StrCat("partition ", partition,
                                            ": customer ", key,
                                            ": stored record does not parse"));
  }
  if (rec->state().customer_id() != key) {
    return absl::DataLossError(absl::StrCat(
        "partition ", partition, ": customer ", key,
        ": stored state is of customer '", rec->state().customer_id(), "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::StoredCustomer> ParseRecord(int32_t partition,
                                               absl::string_view key,
                                               absl::string_view value) {
  v1::StoredCustomer rec;
  CRM_RETURN_IF_ERROR(ParseRecordInto(partition, key, value, &rec));
  return rec;
}

// Arenas of the records a list reads a chunk at a time.
google::protobuf::ArenaOptions ChunkArenaOptions() {
  google::protobuf::ArenaOptions o;
  o.start_block_size = size_t{64} << 10;
  o.max_block_size = size_t{1} << 20;
  return o;
}

int64_t AtRiskValue(const v1::CustomerViews& v) {
  const v1::LifecycleStage s = v.lifecycle().stage();
  if (s != v1::LIFECYCLE_STAGE_AT_RISK && s != v1::LIFECYCLE_STAGE_CHURNED) {
    return 0;
  }
  return v.grade().revenue_total().minor_units();
}

}  // namespace

store::PartitionStore* StoreFor(absl::Span<store::PartitionStore* const> stores,
                                int32_t partitions,
                                absl::string_view customer_id) {
  const int32_t p = log::PartitionFor(customer_id, partitions);
  for (store::PartitionStore* s : stores) {
    if (s->partition() == p) return s;
  }
  return nullptr;
}

absl::StatusOr<v1::StoredCustomer> GetCustomer(
    absl::Span<store::PartitionStore* const> stores, int32_t partitions,
    absl::string_view customer_id) {
  const int32_t p = log::PartitionFor(customer_id, partitions);
  store::PartitionStore* s = StoreFor(stores, partitions, customer_id);
  if (s == nullptr) {
    return absl::NotFoundError(absl::StrCat("customer ", customer_id,
                                            ": not found (its partition ", p,
                                            " has no store yet)"));
  }
  CRM_ASSIGN_OR_RETURN(std::optional<std::string> value,
                       s->GetCustomer(customer_id));
  if (!value.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("customer ", customer_id,
                     ": not found (no record in partition ", p, ")"));
  }
  CRM_ASSIGN_OR_RETURN(v1::StoredCustomer rec,
                       ParseRecord(p, customer_id, *value));
  store::HistoryReader history(*s);
  CRM_RETURN_IF_ERROR(history.Complete(&rec));
  return rec;
}

absl::StatusOr<v1::CustomerState> RebuildFromLog(log::EventLog& log,
                                                 absl::string_view customer_id,
                                                 absl::Time as_of,
                                                 const v1::Rules& rules) {
  const int32_t p = log::PartitionFor(customer_id, log.partitions());
  CRM_ASSIGN_OR_RETURN(const int64_t end, log.EndOffset(p));
  CRM_ASSIGN_OR_RETURN(const int64_t begin, log.BeginOffset(p));
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<log::PartitionReader> reader,
                       log.OpenReader(p, begin));
  v1::CustomerState state;
  state.set_customer_id(std::string(customer_id));
  absl::flat_hash_set<std::string> applied;
  v1::Envelope e;
  absl::Status error;
  while (reader->position() < end) {
    CRM_ASSIGN_OR_RETURN(
        size_t n, reader->PollViews(
                      4096, absl::Seconds(1), [&](const log::LogRecordView& r) {
                        if (r.key != customer_id) return;
                        if (r.offset >= end) return;
                        e.Clear();
                        if (!e.ParseFromArray(r.value.data(),
                                              static_cast<int>(r.value.size())))
                          return;
                        if (e.customer_id() != customer_id) {
                          return;
                        }
                        if (!event::Validate(e).ok()) return;
                        if (FromProto(e.occurred_at()) > as_of) {
                          return;
                        }
                        if (applied.contains(e.event_id())) {
                          return;
                        }
                        if (projections::ApplyEvent(e, rules, &state).ok()) {
                          applied.insert(e.event_id());
                        }
                      }));
    if (n == 0) break;
  }
  if (applied.empty()) {
    return absl::NotFoundError(
        absl::StrCat("customer ", customer_id, ": no event at or before ",
                     FormatRfc3339(as_of), " in partition ", p, " of the log"));
  }
  projections::AdvanceTo(as_of, rules, &state);
  return state;
}

absl::Status ForEachCustomerById(
    absl::Span<store::PartitionStore* const> stores,
    const std::function<absl::Status(int32_t, const v1::StoredCustomer&)>& fn,
    store::Histories histories) {
  std::vector<std::unique_ptr<store::CustomerCursor>> cursors;
  std::vector<store::HistoryReader> readers;
  readers.reserve(stores.size());
  for (store::PartitionStore* s : stores) {
    cursors.push_back(s->NewCustomerCursor());
    readers.emplace_back(*s);
  }
  // Min-heap of cursor indexes by current key.
  auto later = [&](size_t a, size_t b) {
    return cursors[a]->key() > cursors[b]->key();
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
  for (size_t i = 0; i < cursors.size(); ++i) {
    if (cursors[i]->Valid()) {
      heap.push(i);
    } else {
      CRM_RETURN_IF_ERROR(cursors[i]->status());
    }
  }
  while (!heap.empty()) {
    const size_t i = heap.top();
    heap.pop();
    store::CustomerCursor& c = *cursors[i];
    const int32_t p = stores[i]->partition();
    CRM_ASSIGN_OR_RETURN(v1::StoredCustomer rec,
                         ParseRecord(p, c.key(), c.value()));
    if (histories == store::Histories::kWhole) {
      CRM_RETURN_IF_ERROR(readers[i].Complete(&rec));
    }
    CRM_RETURN_IF_ERROR(fn(p, rec));
    c.Next();
    if (c.Valid()) {
      heap.push(i);
    } else {
      CRM_RETURN_IF_ERROR(c.status());
    }
  }
  return absl::OkStatus();
}

std::string EnumShortName(const google::protobuf::EnumDescriptor* type,
                          int number) {
  const google::protobuf::EnumValueDescriptor* v =
      type->FindValueByNumber(number);
  if (v == nullptr) return absl::StrCat(number);
  if (number == 0) return "none";
  // The value prefix is the type name in UPPER_SNAKE_CASE plus "_".
  std::string prefix;
  const std::string& name = type->name();
  for (size_t i = 0; i < name.size(); ++i) {
    if (i > 0 && absl::ascii_isupper(name[i])) prefix.push_back('_');
    prefix.push_back(absl::ascii_toupper(name[i]));
  }
  prefix.push_back('_');
  return absl::StartsWith(v->name(), prefix) ? v->name().substr(prefix.size())
                                             : v->name();
}

absl::StatusOr<int> ParseEnumShortName(
    const google::protobuf::EnumDescriptor* type, absl::string_view name,
    absl::string_view flag) {
  const std::string want = absl::AsciiStrToUpper(
      absl::StrReplaceAll(name, {{"-", "_"}, {" ", "_"}}));
  std::vector<std::string> choices;
  for (int i = 0; i < type->value_count(); ++i) {
    const int number = type->value(i)->number();
    if (number == 0) continue;
    const std::string short_name = EnumShortName(type, number);
    if (short_name == want) return number;
    choices.push_back(short_name);
  }
  return absl::InvalidArgumentError(absl::StrCat(flag, ": expected one of ",
                                                 absl::StrJoin(choices, ", "),
                                                 "; got \"", name, "\""));
}

bool Matches(const v1::CustomerViews& v, const ListFilter& f) {
  const v1::GradeView& g = v.grade();
  if (f.value_tier && g.value_tier() != *f.value_tier) return false;
  if (f.prospect_grade && g.prospect_grade() != *f.prospect_grade) {
    return false;
  }
  if (f.abc && g.abc() != *f.abc) return false;
  if (f.value_class && g.value_class() != *f.value_class) return false;
  if (f.customer_class && g.customer_class() != *f.customer_class) {
    return false;
  }
  if (f.stage && v.lifecycle().stage() != *f.stage) return false;
  if (f.rfm_segment && v.lifecycle().rfm_segment() != *f.rfm_segment) {
    return false;
  }
  if (f.region && v.card().profile().region() != *f.region) return false;
  if (f.account_manager &&
      v.card().profile().account_manager() != *f.account_manager) {
    return false;
  }
  if (f.satisfaction_below &&
      !(v.satisfaction().satisfaction_degree() < *f.satisfaction_below)) {
    return false;
  }
  if (f.follow_up_before &&
      (!v.card().has_next_follow_up_at() ||
       !(FromProto(v.card().next_follow_up_at()) < *f.follow_up_before))) {
    return false;
  }
  return true;
}

absl::StatusOr<ListSort> ParseListSort(absl::string_view name) {
  if (name == "revenue") return ListSort::kRevenue;
  if (name == "at-risk") return ListSort::kAtRiskValue;
  if (name == "satisfaction") return ListSort::kSatisfaction;
  if (name == "id") return ListSort::kCustomerId;
  return absl::InvalidArgumentError(absl::StrCat(
      "--sort: expected revenue, at-risk, satisfaction or id; got \"", name,
      "\""));
}

namespace {

struct IndexChoice {
  char index;
  std::string value;
  std::string label;
};

std::vector<IndexChoice> IndexesFor(const ListFilter& f) {
  std::vector<IndexChoice> out;
  if (f.region) out.push_back({store::kIndexRegion, *f.region, "region"});
  if (f.account_manager) {
    out.push_back({store::kIndexManager, *f.account_manager, "manager"});
  }
  if (f.abc) out.push_back({store::kIndexAbc, absl::StrCat(*f.abc), "abc"});
  if (f.rfm_segment) {
    out.push_back({store::kIndexRfm, absl::StrCat(*f.rfm_segment), "rfm"});
  }
  return out;
}

bool AllIndexed(absl::Span<store::PartitionStore* const> stores) {
  for (store::PartitionStore* s : stores) {
    if (!s->index_ready()) return false;
  }
  return true;
}

// The latest state as_of over `stores`, from what each store keeps.
void LatestFromStores(absl::Span<store::PartitionStore* const> stores,
                      absl::Time* latest, std::string* latest_id) {
  for (store::PartitionStore* s : stores) {
    const store::LatestStateMark& m = s->latest_state();
    if (m.customer_id.empty()) continue;
    const absl::Time t = absl::FromUnixSeconds(m.as_of_seconds) +
                         absl::Nanoseconds(m.as_of_nanos);
    if (t > *latest) {
      *latest = t;
      *latest_id = m.customer_id;
    }
  }
}

}  // namespace

absl::StatusOr<ListResult> List(absl::Span<store::PartitionStore* const> stores,
                                const v1::Rules& rules,
                                const ListOptions& options) {
  ListResult result;
  const bool indexed = options.use_index && AllIndexed(stores);
  // The as-of: the latest stored state unless given; never before it.
  absl::Time latest = absl::InfinitePast();
  std::string latest_id;
  if (indexed) {
    LatestFromStores(stores, &latest, &latest_id);
  } else {
    CRM_RETURN_IF_ERROR(ForEachCustomerById(
        stores,
        [&](int32_t, const v1::StoredCustomer& rec) {
          const absl::Time t = FromProto(rec.state().facts().as_of());
          if (t > latest) {
            latest = t;
            latest_id = rec.state().customer_id();
          }
          return absl::OkStatus();
        },
        store::Histories::kOmit));
  }
  absl::Time at = latest;
  if (options.as_of != absl::InfinitePast()) {
    if (options.as_of < latest) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--as-of ", FormatRfc3339(options.as_of),
          " is before the state of customer ", latest_id, " (",
          FormatRfc3339(latest),
          "): the stored views can be listed at that time or later"));
    }
    at = options.as_of;
  }
  result.as_of = at;
  // The order of the rows: by the sort, ties by customer id (a total
  // order, ids being unique).
  auto before = [&](const v1::CustomerState& a, const v1::CustomerState& b) {
    switch (options.sort) {
      case ListSort::kRevenue: {
        const int64_t x = a.views().grade().revenue_window().minor_units();
        const int64_t y = b.views().grade().revenue_window().minor_units();
        if (x != y) return x > y;
        break;
      }
      case ListSort::kAtRiskValue: {
        const int64_t x = AtRiskValue(a.views());
        const int64_t y = AtRiskValue(b.views());
        if (x != y) return x > y;
        break;
      }
      case ListSort::kSatisfaction: {
        const double x = a.views().satisfaction().satisfaction_degree();
        const double y = b.views().satisfaction().satisfaction_degree();
        if (x != y) return x < y;
        break;
      }
      case ListSort::kCustomerId:
        break;
    }
    return a.customer_id() < b.customer_id();
  };
  // The matches that may still be rows: all of them until there are twice
  // the limit (and 16), then cut to the best `limit`, the last of which
  // (`threshold`) a later match must come before to be kept. So a broad
  // filter keeps about the limit in memory, and copies out only the
  // matches that can still be rows. One collector per reading thread.
  struct StoredHistory {  // where a match's stored history is
    size_t store = 0;
    uint32_t grade = 0;
    uint32_t stage = 0;
  };
  struct Collector {
    std::vector<v1::CustomerState> matched;
    uint64_t matches = 0;
    uint64_t scanned = 0;
    std::optional<v1::CustomerState> threshold;
    // The rows shown get their histories back at the end, from here.
    absl::flat_hash_map<std::string, StoredHistory> homes;
  };
  auto cut = [&](Collector& c) {
    const size_t limit = std::min(c.matched.size(), options.limit);
    if (limit == 0) return;
    std::nth_element(c.matched.begin(), c.matched.begin() + (limit - 1),
                     c.matched.end(), before);
    c.matched.resize(limit);  // the best `limit`, the worst of them last
    c.threshold = c.matched.back();
  };
  // `st` is the state of `rec` (or a copy of it), free to change: advanced
  // to the as-of, then moved into the matches when `movable`, else copied.
  auto consider = [&](Collector& c, size_t store, const v1::StoredCustomer& rec,
                      v1::CustomerState* st, bool movable) {
    ++c.scanned;
    projections::AdvanceTo(at, rules, st);
    if (!Matches(st->views(), options.filter)) return;
    ++c.matches;
    if (options.limit == 0) return;
    if (c.threshold.has_value() && !before(*st, *c.threshold)) return;
    if (rec.grade_history_stored() > 0 || rec.stage_history_stored() > 0) {
      c.homes[st->customer_id()] = {store, rec.grade_history_stored(),
                                    rec.stage_history_stored()};
    }
    if (movable) {
      c.matched.push_back(std::move(*st));
    } else {
      c.matched.push_back(*st);
    }
    if (c.matched.size() >= 2 * options.limit + 16) cut(c);
  };
  // The stored record `value` of customer `key` in stores[store], parsed
  // onto `arena` and considered.
  auto consider_stored = [&](Collector& c, size_t store, absl::string_view key,
                             absl::string_view value,
                             google::protobuf::Arena* arena) -> absl::Status {
    auto* rec =
        google::protobuf::Arena::CreateMessage<v1::StoredCustomer>(arena);
    CRM_RETURN_IF_ERROR(
        ParseRecordInto(stores[store]->partition(), key, value, rec));
    consider(c, store, *rec, rec->mutable_state(), /*movable=*/false);
    return absl::OkStatus();
  };
  Collector all;
  // read(collector, half) for halves 0 and 1 on two threads, the second's
  // collector then merged into `all` (cut again at the end).
  auto in_two_threads =
      [&](const std::function<absl::Status(Collector&, int)>& read)
      -> absl::Status {
    Collector second;
    absl::Status second_status;
    std::thread other([&] { second_status = read(second, 1); });
    const absl::Status first_status = read(all, 0);
    other.join();
    CRM_RETURN_IF_ERROR(first_status);
    CRM_RETURN_IF_ERROR(second_status);
    all.matches += second.matches;
    all.scanned += second.scanned;
    for (auto& st : second.matched) all.matched.push_back(std::move(st));
    all.homes.merge(second.homes);
    return absl::OkStatus();
  };
  const std::vector<IndexChoice> choices =
      indexed ? IndexesFor(options.filter) : std::vector<IndexChoice>();
  if (!choices.empty()) {
    // The most selective index: fewest keys (counting stops past the best).
    size_t best = 0;
    uint64_t best_count = UINT64_MAX;
    for (size_t c = 0; c < choices.size() && choices.size() > 1; ++c) {
      const std::string prefix =
          store::IndexPrefix(choices[c].index, choices[c].value);
      uint64_t n = 0;
      for (store::PartitionStore* s : stores) {
        CRM_RETURN_IF_ERROR(s->ForEachIndexKey(
            prefix, [&](absl::string_view) { return ++n < best_count; }));
        if (n >= best_count) break;
      }
      if (n < best_count) {
        best_count = n;
        best = c;
      }
    }
    const IndexChoice& use = choices[best];
    result.served_by = absl::StrCat("index ", use.label, "=", use.value);
    const std::string prefix = store::IndexPrefix(use.index, use.value);
    // Candidates from every store in id order, read in chunks with one
    // MultiGet per store. With the id sort reading stops at the limit, so
    // each store's keys are taken `want` at a time: the merged order is
    // exact up to the smallest last key of a store that had more.
    const bool stop_at_limit = options.sort == ListSort::kCustomerId;
    size_t want = stop_at_limit ? std::max<size_t>(options.limit, 1) : SIZE_MAX;
    for (;;) {
      std::vector<std::pair<std::string, size_t>> candidates;
      bool truncated = false;
      std::string bound;  // ids <= bound are in exact merged order
      for (size_t i = 0; i < stores.size(); ++i) {
        size_t n = 0;
        std::string last;
        CRM_RETURN_IF_ERROR(
            stores[i]->ForEachIndexKey(prefix, [&](absl::string_view key) {
              if (n == want) {
                truncated = true;
                if (bound.empty() || last < bound) bound = last;
                return false;
              }
              last = std::string(store::CustomerOfIndexKey(key));
              candidates.emplace_back(last, i);
              ++n;
              return true;
            }));
      }
      std::sort(candidates.begin(), candidates.end());
      if (truncated) {
        candidates.erase(std::upper_bound(candidates.begin(), candidates.end(),
                                          std::make_pair(bound, SIZE_MAX)),
                         candidates.end());
      }
      all = Collector();
      result.matched_complete = true;
      bool full = false;
      constexpr size_t kChunk = 256;
      // Reads candidates [from, end) in chunks: one MultiGet per store a
      // chunk, the records parsed onto one arena freed with the chunk.
      auto read = [&](Collector& c, size_t from, size_t end) -> absl::Status {
        for (; from < end && !full; from += kChunk) {
          google::protobuf::Arena arena(ChunkArenaOptions());
          const size_t to = std::min(end, from + kChunk);
          std::vector<std::vector<std::string>> ids(stores.size());
          std::vector<std::vector<size_t>> where(stores.size());
          for (size_t k = from; k < to; ++k) {
            ids[candidates[k].second].push_back(candidates[k].first);
            where[candidates[k].second].push_back(k);
          }
          std::vector<std::optional<std::string>> values(to - from);
          for (size_t i = 0; i < stores.size(); ++i) {
            if (ids[i].empty()) continue;
            CRM_ASSIGN_OR_RETURN(auto got,
                                 stores[i]->MultiGetCustomers(ids[i]));
            for (size_t j = 0; j < got.size(); ++j) {
              values[where[i][j] - from] = std::move(got[j]);
            }
          }
          for (size_t k = from; k < to; ++k) {
            if (stop_at_limit && c.matched.size() == options.limit) {
              result.matched_complete = false;
              full = true;
              break;
            }
            const auto& [id, i] = candidates[k];
            if (!values[k - from].has_value()) continue;  // stale entry
            CRM_RETURN_IF_ERROR(
                consider_stored(c, i, id, *values[k - from], &arena));
          }
        }
        return absl::OkStatus();
      };
      // Sorted by anything but the id, the candidates may be read in any
      // order: many are split between two threads (each keeping its own
      // best, merged after). By id, reading stops at the limit, in order.
      if (!stop_at_limit && candidates.size() >= options.split_reading_at) {
        const size_t mid = candidates.size() / 2;
        CRM_RETURN_IF_ERROR(in_two_threads([&](Collector& c,
                                               int half) -> absl::Status {
          return half == 0 ? read(c, 0, mid) : read(c, mid, candidates.size());
        }));
      } else {
        CRM_RETURN_IF_ERROR(read(all, 0, candidates.size()));
      }
      if (full || !truncated) break;
      want *= 4;  // not enough matches before the bound: read further
    }
  } else if (options.sort != ListSort::kCustomerId &&
             options.split_reading_at != SIZE_MAX && stores.size() > 1) {
    // A scan in any order but the id's: each store read by itself, on two
    // threads (a half of the stores each), its records parsed onto an
    // arena reset every 256, each thread keeping its own best.
    CRM_RETURN_IF_ERROR(in_two_threads([&](Collector& c,
                                           int half) -> absl::Status {
      for (size_t i = static_cast<size_t>(half); i < stores.size(); i += 2) {
        auto cursor = stores[i]->NewCustomerCursor();
        while (cursor->Valid()) {
          google::protobuf::Arena arena(ChunkArenaOptions());
          for (int n = 0; n < 256 && cursor->Valid(); ++n, cursor->Next()) {
            CRM_RETURN_IF_ERROR(
                consider_stored(c, i, cursor->key(), cursor->value(), &arena));
          }
        }
        CRM_RETURN_IF_ERROR(cursor->status());
      }
      return absl::OkStatus();
    }));
  } else {
    std::vector<size_t> store_of_partition;
    for (size_t i = 0; i < stores.size(); ++i) {
      const auto p = static_cast<size_t>(stores[i]->partition());
      if (store_of_partition.size() <= p) store_of_partition.resize(p + 1);
      store_of_partition[p] = i;
    }
    CRM_RETURN_IF_ERROR(ForEachCustomerById(
        stores,
        [&](int32_t p, const v1::StoredCustomer& rec) {
          v1::CustomerState st = rec.state();
          consider(all, store_of_partition[static_cast<size_t>(p)], rec, &st,
                   /*movable=*/true);
          return absl::OkStatus();
        },
        store::Histories::kOmit));
  }
  result.scanned = all.scanned;
  result.matched = all.matches;
  std::vector<v1::CustomerState>& matched = all.matched;
  absl::flat_hash_map<std::string, StoredHistory>& homes = all.homes;
  const size_t limit = std::min(matched.size(), options.limit);
  std::partial_sort(matched.begin(), matched.begin() + limit, matched.end(),
                    before);
  matched.resize(limit);
  std::vector<store::HistoryReader> readers;  // one iterator per store
  readers.reserve(stores.size());
  for (store::PartitionStore* s : stores) readers.emplace_back(*s);
  for (v1::CustomerState& st : matched) {
    auto home = homes.find(st.customer_id());
    if (home == homes.end()) continue;
    CRM_RETURN_IF_ERROR(readers[home->second.store].Complete(
        home->second.grade, home->second.stage, &st));
  }
  result.rows = std::move(matched);
  return result;
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = false;
  (void)google::protobuf::util::MessageToJsonString(message, &out, opts);
  return out;
}

}  // namespace crm::query
