// crm stats and crm top: distributions, the lifecycle funnel, satisfaction
// and top-customer lists over every partition store of the data directory.
// Read-only (stores opened read-only): safe while `crm run` runs.
//
// Both answer "as of" one event time, by default the latest event time in
// the stores: each customer's state is advanced to it on a copy (never in
// the store), so a customer whose last event is old shows the stage and
// window revenue it has at that time, as the population pass sees it.

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "crm/v1/views.pb.h"
#include "engine/base/exit_codes.h"
#include "engine/base/time_util.h"
#include "engine/population/population_pass.h"
#include "engine/store/partition_store.h"
#include "google/protobuf/descriptor.h"
#include "projections/projector.h"
#include "tools/crm/command.h"
#include "tools/crm/wiring.h"

namespace crm::cli {
namespace {

std::string JsonDouble(double v) { return absl::StrFormat("%.4f", v); }

// "VALUE_TIER_VIP" -> "VIP"; the zero value -> "none".
std::string ShortName(const google::protobuf::EnumValueDescriptor* v) {
  if (v->number() == 0) return "none";
  const std::string& full = v->name();
  const std::string& type = v->type()->name();  // e.g. "ValueTier"
  // The value prefix is the type name in UPPER_SNAKE_CASE plus "_".
  std::string prefix;
  for (size_t i = 0; i < type.size(); ++i) {
    const char c = type[i];
    if (i > 0 && c >= 'A' && c <= 'Z') prefix.push_back('_');
    prefix.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
  }
  prefix.push_back('_');
  return absl::StartsWith(full, prefix) ? full.substr(prefix.size()) : full;
}

// Opens every store read-only, resolves the as-of (default: the latest
// state time; an explicit one must not be earlier) and calls fn with each
// customer's state advanced to it on a copy. Returns an exit code.
int ScanAsOf(const GlobalFlags& g, const std::string& command,
             const std::string& as_of_flag, const v1::Rules& rules,
             absl::Time* as_of, int* partitions,
             const std::function<void(const v1::CustomerState&)>& fn) {
  store::StoreOptions store_options;
  store_options.block_cache_bytes = 16 << 20;
  store::StoreResources resources(store_options);
  auto stores = population::OpenPartitionStores(resources, StoreDir(g),
                                                /*read_only=*/true);
  if (!stores.ok()) return ReportError(command, stores.status());
  std::vector<store::PartitionStore*> raw;
  for (auto& s : *stores) raw.push_back(s.get());
  *partitions = static_cast<int>(raw.size());
  auto latest = population::FindLatestState(raw);
  if (!latest.ok()) return ReportError(command, latest.status());
  *as_of = latest->as_of;
  if (!as_of_flag.empty()) {
    std::string err;
    absl::Time t;
    if (!absl::ParseTime(absl::RFC3339_full, as_of_flag, &t, &err)) {
      std::fprintf(stderr,
                   "crm %s: error: --as-of: expected an RFC 3339 time such "
                   "as 2026-03-31T23:59:59Z, got \"%s\" (%s)\n",
                   command.c_str(), as_of_flag.c_str(), err.c_str());
      return kExitUsage;
    }
    if (t < latest->as_of) {
      return ReportError(
          command,
          absl::InvalidArgumentError(absl::StrCat(
              "--as-of ", FormatRfc3339(t), " is before the state of customer ",
              latest->customer_id, " (", FormatRfc3339(latest->as_of),
              "): the stored views can be shown at that time or later")));
    }
    *as_of = t;
  }
  const absl::Time at = *as_of;
  uint64_t other_rules = 0;
  std::string other_version;
  absl::Status s = population::ForEachStoredCustomer(
      raw, [&](int32_t, v1::StoredCustomer* rec) {
        const std::string& version =
            rec->state().views().grade().rules_version();
        if (version != rules.version() && other_rules++ == 0) {
          other_version = version;
        }
        projections::AdvanceTo(at, rules, rec->mutable_state());
        fn(rec->state());
        return absl::OkStatus();
      });
  if (!s.ok()) return ReportError(command, s);
  if (other_rules > 0) {
    std::fprintf(stderr,
                 "crm %s: note: %s customer(s) were projected under rules "
                 "version \"%s\", not \"%s\"; pass the --rules that crm run "
                 "used\n",
                 command.c_str(), WithCommas(other_rules).c_str(),
                 other_version.c_str(), rules.version().c_str());
  }
  return kExitOk;
}

// Customers per value of one enum.
struct Distribution {
  const char* title;
  const char* json_key;
  const google::protobuf::EnumDescriptor* type;
  std::vector<uint64_t> counts;  // by value index

  Distribution(const char* t, const char* k,
               const google::protobuf::EnumDescriptor* d)
      : title(t), json_key(k), type(d), counts(d->value_count()) {}
  void Add(int number) {
    const auto* v = type->FindValueByNumber(number);
    if (v != nullptr) ++counts[v->index()];
  }
};

struct StatsFlags {
  std::string as_of;
};

int RunStats(const StatsFlags& flags, const GlobalFlags& g) {
  auto rules = LoadRules(g);
  if (!rules.ok()) return ReportError("stats", rules.status());
  std::vector<Distribution> grade = {
      {"value tier", "valueTier", v1::ValueTier_descriptor()},
      {"ABC class", "abc", v1::AbcClass_descriptor()},
      {"prospect grade", "prospectGrade", v1::ProspectGrade_descriptor()},
      {"value class", "valueClass", v1::ValueClass_descriptor()},
      {"wallet quadrant", "walletQuadrant", v1::WalletQuadrant_descriptor()},
      {"customer class", "customerClass", v1::CustomerClass_descriptor()},
  };
  Distribution funnel("lifecycle funnel", "lifecycle",
                      v1::LifecycleStage_descriptor());
  Distribution rfm("RFM segment", "rfmSegments", v1::RfmSegment_descriptor());
  std::vector<uint64_t> stars(6);
  uint64_t customers = 0, transacted = 0, events = 0, with_revenue = 0;
  int64_t revenue_window = 0, revenue_total = 0;
  uint64_t csat_answers = 0, csat_satisfied = 0, nps_answers = 0;
  uint64_t promoters = 0, detractors = 0, open_complaints = 0, breaches = 0;
  uint64_t complaints = 0, resolutions_timed = 0;
  int64_t resolution_seconds = 0;

  absl::Time as_of;
  int partitions = 0;
  const int rc = ScanAsOf(
      g, "stats", flags.as_of, *rules, &as_of, &partitions,
      [&](const v1::CustomerState& st) {
        const v1::CustomerViews& v = st.views();
        ++customers;
        if (v.lifecycle().orders() > 0) ++transacted;
        events += v.card().events_applied();
        revenue_window += v.grade().revenue_window().minor_units();
        if (v.grade().revenue_window().minor_units() > 0) ++with_revenue;
        revenue_total += v.grade().revenue_total().minor_units();
        grade[0].Add(v.grade().value_tier());
        grade[1].Add(v.grade().abc());
        grade[2].Add(v.grade().prospect_grade());
        grade[3].Add(v.grade().value_class());
        grade[4].Add(v.grade().wallet_quadrant());
        grade[5].Add(v.grade().customer_class());
        ++stars[std::min<uint32_t>(v.grade().stars(), 5)];
        funnel.Add(v.lifecycle().stage());
        rfm.Add(v.lifecycle().rfm_segment());
        const v1::SatisfactionView& s = v.satisfaction();
        csat_answers += s.csat_answers();
        csat_satisfied += s.csat_satisfied();
        nps_answers += s.nps_answers();
        promoters += s.nps_promoters();
        detractors += s.nps_detractors();
        complaints += s.complaints_opened();
        open_complaints += static_cast<uint64_t>(s.open_complaints_size());
        breaches += s.sla_breaches();
        resolutions_timed += s.resolutions_timed();
        resolution_seconds += s.resolution_seconds_total();
      });
  if (rc != kExitOk) return rc;

  const double csat = csat_answers
                          ? 100.0 * static_cast<double>(csat_satisfied) /
                                static_cast<double>(csat_answers)
                          : 0;
  const double nps = nps_answers ? 100.0 *
                                       (static_cast<double>(promoters) -
                                        static_cast<double>(detractors)) /
                                       static_cast<double>(nps_answers)
                                 : 0;
  const double resolution_hours =
      resolutions_timed ? static_cast<double>(resolution_seconds) / 3600.0 /
                              static_cast<double>(resolutions_timed)
                        : 0;
  const std::string at = FormatRfc3339(as_of);

  if (g.json) {
    std::string out = absl::StrCat(
        "{\"asOf\":", JsonQuoted(at), ",\"partitions\":", partitions,
        ",\"customers\":", customers, ",\"transacted\":", transacted,
        ",\"prospects\":", customers - transacted,
        ",\"withWindowRevenue\":", with_revenue, ",\"eventsApplied\":", events,
        ",\"revenueWindowMinor\":", revenue_window,
        ",\"revenueTotalMinor\":", revenue_total);
    auto dist_json = [&](const Distribution& d) {
      absl::StrAppend(&out, ",", JsonQuoted(d.json_key), ":{");
      for (int i = 0; i < d.type->value_count(); ++i) {
        absl::StrAppend(&out, i ? "," : "",
                        JsonQuoted(ShortName(d.type->value(i))), ":",
                        d.counts[i]);
      }
      absl::StrAppend(&out, "}");
    };
    for (const auto& d : grade) dist_json(d);
    absl::StrAppend(&out, ",\"stars\":{");
    for (int i = 0; i <= 5; ++i) {
      absl::StrAppend(&out, i ? "," : "", "\"", i, "\":", stars[i]);
    }
    absl::StrAppend(&out, "}");
    dist_json(funnel);
    dist_json(rfm);
    absl::StrAppend(
        &out, ",\"satisfaction\":{\"csat\":", JsonDouble(csat),
        ",\"csatAnswers\":", csat_answers, ",\"nps\":", JsonDouble(nps),
        ",\"npsAnswers\":", nps_answers, ",\"complaints\":", complaints,
        ",\"openComplaints\":", open_complaints, ",\"slaBreaches\":", breaches,
        ",\"avgResolutionHours\":", JsonDouble(resolution_hours), "}}\n");
    std::fputs(out.c_str(), stdout);
    return kExitOk;
  }

  const double n = customers ? static_cast<double>(customers) : 1;
  std::printf("%s customers in %d partition store(s), views as of %s\n",
              WithCommas(customers).c_str(), partitions, at.c_str());
  std::printf("\n%-28s %14s\n", "totals", "");
  std::printf("  %-26s %14s\n", "customers", WithCommas(customers).c_str());
  std::printf("  %-26s %14s\n", "with an order",
              WithCommas(transacted).c_str());
  std::printf("  %-26s %14s\n", "prospects (no order)",
              WithCommas(customers - transacted).c_str());
  std::printf("  %-26s %14s\n", "with window revenue",
              WithCommas(with_revenue).c_str());
  std::printf("  %-26s %14s\n", "events applied", WithCommas(events).c_str());
  std::printf("  %-26s %14s %s\n", "window revenue",
              FormatMinorUnits(revenue_window).c_str(),
              rules->currency().c_str());
  std::printf("  %-26s %14s %s\n", "lifetime revenue",
              FormatMinorUnits(revenue_total).c_str(),
              rules->currency().c_str());
  auto table = [&](const char* title, const std::vector<std::string>& names,
                   const std::vector<uint64_t>& counts, bool skip_empty_zero) {
    std::printf("\n%-28s %14s %7s\n", title, "customers", "%");
    for (size_t i = 0; i < names.size(); ++i) {
      if (skip_empty_zero && i == 0 && counts[i] == 0) continue;
      std::printf("  %-26s %14s %6.1f%%\n", names[i].c_str(),
                  WithCommas(counts[i]).c_str(),
                  100.0 * static_cast<double>(counts[i]) / n);
    }
  };
  auto names_of = [](const Distribution& d) {
    std::vector<std::string> out;
    for (int i = 0; i < d.type->value_count(); ++i) {
      out.push_back(ShortName(d.type->value(i)));
    }
    return out;
  };
  for (const auto& d : grade) table(d.title, names_of(d), d.counts, false);
  table("stars", {"0 (not rated)", "1", "2", "3", "4", "5"}, stars, false);
  table("lifecycle funnel", names_of(funnel), funnel.counts, true);
  std::vector<std::string> segments;
  for (int i = 0; i < rfm.type->value_count(); ++i) {
    const int number = rfm.type->value(i)->number();
    segments.push_back(number == 0 ? std::string("none (no order or no pass)")
                                   : population::RfmSegmentLabel(
                                         static_cast<v1::RfmSegment>(number)));
  }
  table("RFM segment", segments, rfm.counts, false);
  std::printf("\n%-28s\n", "satisfaction");
  std::printf("  %-26s %13.1f%% of %s answers (4-5)\n", "CSAT", csat,
              WithCommas(csat_answers).c_str());
  std::printf("  %-26s %14.1f of %s answers\n", "NPS", nps,
              WithCommas(nps_answers).c_str());
  std::printf("  %-26s %14s\n", "complaints opened",
              WithCommas(complaints).c_str());
  std::printf("  %-26s %14s\n", "open complaints",
              WithCommas(open_complaints).c_str());
  std::printf("  %-26s %14s\n", "SLA breaches", WithCommas(breaches).c_str());
  std::printf("  %-26s %14.1f over %s resolutions\n", "avg resolution hours",
              resolution_hours, WithCommas(resolutions_timed).c_str());
  return kExitOk;
}

struct TopFlags {
  std::string by = "revenue";
  int limit = 10;
  std::string as_of;
};

struct TopRow {
  std::string id, name, region, manager;
  v1::ValueTier tier = v1::VALUE_TIER_UNSPECIFIED;
  v1::LifecycleStage stage = v1::LIFECYCLE_STAGE_UNSPECIFIED;
  int64_t window = 0, prior = 0, total = 0;
  int64_t growth() const { return window - prior; }
};

int RunTop(const TopFlags& flags, const GlobalFlags& g) {
  auto rules = LoadRules(g);
  if (!rules.ok()) return ReportError("top", rules.status());
  const bool at_risk = flags.by == "at-risk";
  const bool growth = flags.by == "growth";
  std::vector<TopRow> rows;
  absl::Time as_of;
  int partitions = 0;
  const int rc =
      ScanAsOf(g, "top", flags.as_of, *rules, &as_of, &partitions,
               [&](const v1::CustomerState& st) {
                 const v1::CustomerViews& v = st.views();
                 const v1::LifecycleStage stage = v.lifecycle().stage();
                 if (at_risk && stage != v1::LIFECYCLE_STAGE_AT_RISK &&
                     stage != v1::LIFECYCLE_STAGE_CHURNED) {
                   return;
                 }
                 if (v.lifecycle().orders() == 0 && !at_risk) return;
                 TopRow r;
                 r.id = st.customer_id();
                 r.name = v.card().profile().name();
                 r.region = v.card().profile().region();
                 r.manager = v.card().profile().account_manager();
                 r.tier = v.grade().value_tier();
                 r.stage = stage;
                 r.window = v.grade().revenue_window().minor_units();
                 r.prior = v.grade().revenue_prior_window().minor_units();
                 r.total = v.grade().revenue_total().minor_units();
                 rows.push_back(std::move(r));
               });
  if (rc != kExitOk) return rc;
  auto before = [&](const TopRow& a, const TopRow& b) {
    if (growth) {
      if (a.growth() != b.growth()) return a.growth() > b.growth();
    } else {
      if (a.window != b.window) return a.window > b.window;
      if (at_risk && a.total != b.total) return a.total > b.total;
    }
    return a.id < b.id;
  };
  const size_t limit = std::min(rows.size(), static_cast<size_t>(flags.limit));
  std::partial_sort(rows.begin(), rows.begin() + limit, rows.end(), before);
  rows.resize(limit);
  const std::string at = FormatRfc3339(as_of);
  auto tier_name = [](v1::ValueTier t) {
    return ShortName(v1::ValueTier_descriptor()->FindValueByNumber(t));
  };
  auto stage_name = [](v1::LifecycleStage s) {
    return ShortName(v1::LifecycleStage_descriptor()->FindValueByNumber(s));
  };

  if (g.json) {
    std::string out =
        absl::StrCat("{\"asOf\":", JsonQuoted(at),
                     ",\"by\":", JsonQuoted(flags.by), ",\"customers\":[");
    for (size_t i = 0; i < rows.size(); ++i) {
      const TopRow& r = rows[i];
      absl::StrAppend(&out, i ? "," : "", "{\"rank\":", i + 1,
                      ",\"customerId\":", JsonQuoted(r.id),
                      ",\"name\":", JsonQuoted(r.name),
                      ",\"region\":", JsonQuoted(r.region),
                      ",\"accountManager\":", JsonQuoted(r.manager),
                      ",\"valueTier\":", JsonQuoted(tier_name(r.tier)),
                      ",\"stage\":", JsonQuoted(stage_name(r.stage)),
                      ",\"revenueWindowMinor\":", r.window,
                      ",\"revenuePriorWindowMinor\":", r.prior,
                      ",\"revenueTotalMinor\":", r.total, "}");
    }
    absl::StrAppend(&out, "]}\n");
    std::fputs(out.c_str(), stdout);
    return kExitOk;
  }
  const char* what = growth ? "growth of window revenue over the prior window"
                     : at_risk
                         ? "window revenue of at-risk and churned customers"
                         : "window revenue";
  std::printf("top %zu by %s, as of %s (%s)\n", rows.size(), what, at.c_str(),
              rules->currency().c_str());
  std::printf("%4s  %-10s %-24s %-10s %-10s %-7s %-9s %14s", "#", "customer",
              "name", "region", "manager", "tier", "stage", "revenue");
  if (growth) std::printf(" %14s %14s", "prior", "growth");
  std::printf("\n");
  for (size_t i = 0; i < rows.size(); ++i) {
    const TopRow& r = rows[i];
    std::printf("%4zu  %-10s %-24s %-10s %-10s %-7s %-9s %14s", i + 1,
                r.id.c_str(), r.name.substr(0, 24).c_str(), r.region.c_str(),
                r.manager.c_str(), tier_name(r.tier).c_str(),
                stage_name(r.stage).c_str(),
                FormatMinorUnits(r.window).c_str());
    if (growth) {
      std::printf(" %14s %14s", FormatMinorUnits(r.prior).c_str(),
                  FormatMinorUnits(r.growth()).c_str());
    }
    std::printf("\n");
  }
  if (rows.empty()) std::printf("(no customers)\n");
  return kExitOk;
}

}  // namespace

void RegisterStats(CLI::App& app, CommandContext& ctx) {
  CLI::App* sub =
      app.add_subcommand("stats", "Distributions and lifecycle funnel");
  auto flags = std::make_shared<StatsFlags>();
  sub->add_option("--as-of", flags->as_of,
                  "Event time to show the views at (RFC 3339); default: the "
                  "latest event time in the stores");
  sub->footer(
      "Over every customer of every partition store: totals, the grade "
      "distributions (value tier, ABC, prospect grade, value class, wallet "
      "quadrant, stars, customer class), the lifecycle funnel in stage "
      "order, RFM segments (from the last `crm regrade`) and satisfaction "
      "(CSAT and NPS over all answers, complaints, SLA breaches, resolution "
      "time). Views are shown as of one event time, each state advanced to "
      "it on a copy. Read-only: safe while `crm run` runs. --json for "
      "scripts.");
  sub->callback(
      [&ctx, flags] { ctx.exit_code = RunStats(*flags, ctx.global); });
}

void RegisterTop(CLI::App& app, CommandContext& ctx) {
  CLI::App* sub =
      app.add_subcommand("top", "Top customers by revenue, risk, growth");
  auto flags = std::make_shared<TopFlags>();
  sub->add_option("--by", flags->by,
                  "revenue (window revenue), at-risk (AT_RISK and CHURNED "
                  "customers by window revenue), growth (window minus prior "
                  "window)")
      ->check(CLI::IsMember({"revenue", "at-risk", "growth"}))
      ->capture_default_str();
  sub->add_option("--limit", flags->limit, "Customers to show")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--as-of", flags->as_of,
                  "Event time to rank at (RFC 3339); default: the latest "
                  "event time in the stores");
  sub->footer(
      "Ties are broken by customer id. Read-only: safe while `crm run` "
      "runs. --json for scripts.");
  sub->callback([&ctx, flags] { ctx.exit_code = RunTop(*flags, ctx.global); });
}

}  // namespace crm::cli
