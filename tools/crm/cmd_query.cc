// crm get, crm list, crm dump: the read side of the views (engine/query).
// Read-only (stores opened read-only, no lock): safe while `crm run` runs.

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "crm/v1/views.pb.h"
#include "engine/base/exit_codes.h"
#include "engine/base/status_macros.h"
#include "engine/base/time_util.h"
#include "engine/population/population_pass.h"
#include "engine/query/query.h"
#include "engine/store/customer_record.h"
#include "engine/store/partition_store.h"
#include "projections/projector.h"
#include "tools/crm/command.h"
#include "tools/crm/wiring.h"

namespace crm::cli {
namespace {

using Stores = std::vector<std::unique_ptr<store::PartitionStore>>;

std::vector<store::PartitionStore*> Raw(const Stores& stores) {
  std::vector<store::PartitionStore*> raw;
  for (const auto& s : stores) raw.push_back(s.get());
  return raw;
}

// The store defaults (256 MiB block cache, filled only as read): a lookup
// in a store of a million customers needs its index and filter blocks
// cached (bench/query: get p99 4.5 ms with 16 MiB, 0.15 ms with 256 MiB).
store::StoreOptions QueryStoreOptions() { return store::StoreOptions{}; }

// Parses an RFC 3339 flag value; false (with a message) when it is not one.
bool ParseTimeFlag(const std::string& command, const std::string& flag,
                   const std::string& value, absl::Time* t) {
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, value, t, &err)) return true;
  std::fprintf(stderr,
               "crm %s: error: %s: expected an RFC 3339 time such as "
               "2026-03-31T23:59:59Z, got \"%s\" (%s)\n",
               command.c_str(), flag.c_str(), value.c_str(), err.c_str());
  return false;
}

template <typename E>
std::string Short(E value) {
  return query::EnumShortName(google::protobuf::GetEnumDescriptor<E>(),
                              static_cast<int>(value));
}

std::string Ts(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return FormatRfc3339(FromProto(t));
}

std::string Money(const v1::Money& m) {
  return absl::StrCat(FormatMinorUnits(m.minor_units()),
                      m.currency().empty() ? "" : " ", m.currency());
}

std::string Duration(int64_t seconds) {
  const int64_t days = seconds / 86400;
  const int64_t hours = (seconds % 86400) / 3600;
  return absl::StrFormat("%dd %dh", days, hours);
}

void Row(const char* label, const std::string& value) {
  std::printf("  %-24s %s\n", label, value.c_str());
}

void PrintViews(const v1::CustomerState& st, int32_t partition,
                const std::string& source) {
  const v1::CustomerViews& v = st.views();
  const v1::CustomerCard& c = v.card();
  const v1::CustomerProfile& p = c.profile();
  std::printf("customer %s  %s\n", st.customer_id().c_str(), p.name().c_str());
  Row("partition", absl::StrCat(partition));
  Row("views as of", Ts(st.facts().as_of()));
  Row("source", source);

  std::printf("\ncard\n");
  Row("relationship", Short(p.relationship_type()));
  Row("ownership", Short(p.ownership()));
  Row("business nature", Short(p.business_nature()));
  Row("location type", Short(p.location_type()));
  Row("region", p.region().empty() ? "-" : p.region());
  Row("industry", p.industry().empty() ? "-" : p.industry());
  Row("account manager",
      p.account_manager().empty() ? "-" : p.account_manager());
  Row("registered", Ts(c.registered_at()));
  Row("last contact", Ts(c.last_contact_at()));
  Row("next follow-up", c.has_next_follow_up_at()
                            ? absl::StrCat(Ts(c.next_follow_up_at()), " (",
                                           c.next_follow_up_reason(), ")")
                            : "-");
  Row("contacts",
      absl::StrCat("visits ", c.visits().count(), ", calls ", c.calls().count(),
                   ", orders ", c.orders().count(), ", complaints ",
                   c.complaints().count(), ", surveys ", c.surveys().count(),
                   ", payments ", c.payments().count()));
  Row("credit",
      absl::StrFormat("%d payments, %d late, max %d days late, avg %.1f, "
                      "outstanding %s",
                      c.credit().payments(), c.credit().late_payments(),
                      c.credit().max_days_late(), c.credit().avg_days_late(),
                      Money(c.credit().outstanding())));
  Row("events applied", absl::StrCat(c.events_applied()));

  const v1::GradeView& g = v.grade();
  std::printf("\ngrade (rules %s)\n", g.rules_version().c_str());
  auto with_why = [](const std::string& value, const std::string& why) {
    return why.empty() ? value : absl::StrCat(value, "  (", why, ")");
  };
  Row("value tier", with_why(Short(g.value_tier()), g.value_tier_why()));
  if (g.value_tier() != g.computed_value_tier()) {
    Row("  computed", Short(g.computed_value_tier()));
  }
  Row("ABC class", Short(g.abc()));
  Row("prospect grade",
      with_why(Short(g.prospect_grade()), g.prospect_grade_why()));
  Row("value class", with_why(Short(g.value_class()), g.value_class_why()));
  Row("wallet quadrant",
      with_why(absl::StrFormat("%s, share of wallet %.2f",
                               Short(g.wallet_quadrant()), g.share_of_wallet()),
               g.wallet_why()));
  Row("stars", with_why(absl::StrCat(g.stars()), g.stars_why()));
  if (g.stars() != g.computed_stars()) {
    Row("  computed", absl::StrCat(g.computed_stars()));
  }
  const v1::StarComponents& sc = g.star_components();
  Row("  current value",
      absl::StrFormat("%.2f = gross profit %.2f, sales volume %.2f, "
                      "marketing cost %.2f",
                      sc.current_value(), sc.gross_profit(), sc.sales_volume(),
                      sc.marketing_cost()));
  Row("  future value",
      absl::StrFormat("%.2f = industry position %.2f, tenure %.2f, "
                      "satisfaction %.2f",
                      sc.future_value(), sc.industry_position(), sc.tenure(),
                      sc.satisfaction()));
  Row("  total", absl::StrFormat("%.2f", sc.total()));
  Row("customer class", Short(g.customer_class()));
  if (g.customer_class() != g.computed_customer_class()) {
    Row("  computed", Short(g.computed_customer_class()));
  }
  Row("revenue window", Money(g.revenue_window()));
  Row("revenue prior window", Money(g.revenue_prior_window()));
  Row("revenue lifetime", Money(g.revenue_total()));
  Row("net profit lifetime", Money(g.net_profit_total()));
  for (const v1::ManualOverride& o : g.overrides()) {
    Row("override", absl::StrCat(Ts(o.at()), " by ", o.actor(), ": ",
                                 o.regrade().ShortDebugString()));
  }
  for (const v1::GradeChange& h : g.history()) {
    Row("history", absl::StrCat(Ts(h.at()), " ", h.dimension(), " ", h.from(),
                                " -> ", h.to(), "  (", h.why(), ")"));
  }

  const v1::LifecycleView& l = v.lifecycle();
  std::printf("\nlifecycle\n");
  Row("stage",
      absl::StrCat(Short(l.stage()), l.stage_why().empty() ? "" : "  (",
                   l.stage_why(), l.stage_why().empty() ? "" : ")"));
  Row("since", Ts(l.stage_since()));
  Row("time in stage", Duration(l.time_in_stage_seconds()));
  Row("orders", absl::StrCat(l.orders(), " (first ", Ts(l.first_order_at()),
                             ", last ", Ts(l.last_order_at()), ")"));
  Row("RFM", absl::StrCat(l.rfm_r(), "/", l.rfm_f(), "/", l.rfm_m(), "  ",
                          population::RfmSegmentLabel(l.rfm_segment())));
  for (const v1::StageChange& h : l.history()) {
    Row("history", absl::StrCat(Ts(h.at()), " ", Short(h.from()), " -> ",
                                Short(h.to()), "  (", h.why(), ")"));
  }

  const v1::SatisfactionView& s = v.satisfaction();
  std::printf("\nsatisfaction\n");
  Row("CSAT",
      absl::StrFormat("%.1f%% of %d answers", s.csat(), s.csat_answers()));
  Row("NPS", absl::StrFormat("%.1f of %d answers", s.nps(), s.nps_answers()));
  Row("complaints",
      absl::StrFormat("%d opened, %d resolved, %d open, %d SLA breaches",
                      s.complaints_opened(), s.complaints_resolved(),
                      s.open_complaints_size(), s.sla_breaches()));
  Row("avg resolution hours",
      absl::StrFormat("%.1f", s.avg_resolution_hours()));
  for (const v1::OpenComplaint& oc : s.open_complaints()) {
    Row("open complaint",
        absl::StrCat(oc.complaint_id(), " ", Short(oc.severity()), " opened ",
                     Ts(oc.opened_at()), " due ", Ts(oc.due_at()),
                     oc.breached() ? " BREACHED" : ""));
  }
  Row("four degrees",
      absl::StrFormat("satisfaction %.1f, loyalty %.1f, contribution %.1f, "
                      "dependence %.1f",
                      s.satisfaction_degree(), s.loyalty_degree(),
                      s.contribution_degree(), s.dependence_degree()));
}

// The record of `customer_id` from whichever store under the data dir
// holds it (each store is asked; a customer lives in one partition), with
// that partition. kNotFound when none does or there is no store.
absl::StatusOr<v1::StoredCustomer> FindInEveryStore(
    const store::StoreResources& resources, const GlobalFlags& g,
    const std::string& customer_id, int32_t* partition) {
  auto stores = population::OpenPartitionStores(resources, StoreDir(g),
                                                /*read_only=*/true);
  if (!stores.ok()) {
    if (!absl::IsNotFound(stores.status())) return stores.status();
    return absl::NotFoundError(absl::StrCat("customer ", customer_id,
                                            ": not found (no event log and ",
                                            "no store in ", StoreDir(g), ")"));
  }
  for (const auto& s : *stores) {
    CRM_ASSIGN_OR_RETURN(std::optional<std::string> value,
                         s->GetCustomer(customer_id));
    if (!value.has_value()) continue;
    *partition = s->partition();
    v1::StoredCustomer record;
    if (!record.ParseFromString(*value)) {
      return absl::DataLossError(absl::StrCat(
          "partition ", s->partition(), ": stored record of customer ",
          customer_id, " is not a valid crm.v1.StoredCustomer"));
    }
    store::HistoryReader history(*s);
    CRM_RETURN_IF_ERROR(history.Complete(&record));
    return record;
  }
  return absl::NotFoundError(absl::StrCat("customer ", customer_id,
                                          ": not found in any store under ",
                                          StoreDir(g)));
}

struct GetFlags {
  std::string customer_id;
  std::string as_of;
};

int RunGet(const GetFlags& flags, const GlobalFlags& g) {
  auto rules = LoadRules(g);
  if (!rules.ok()) return ReportError("get", rules.status());
  absl::Time as_of = absl::InfinitePast();
  if (!flags.as_of.empty() &&
      !ParseTimeFlag("get", "--as-of", flags.as_of, &as_of)) {
    return kExitUsage;
  }
  // The log routes the id to its partition and rebuilds past states. A
  // store without its log (a copied store, a replay's output) is searched
  // partition by partition instead.
  auto log = OpenEventLog(g, g.topic, 0, LogAccess::kRead);
  if (!log.ok() && !absl::IsNotFound(log.status())) {
    return ReportError("get", log.status());
  }
  const bool have_log = log.ok();
  store::StoreResources resources(QueryStoreOptions());
  v1::CustomerState state;
  std::string source = "stored views";
  int32_t partition = -1;
  auto found = [&]() -> absl::StatusOr<v1::StoredCustomer> {
    if (!have_log)
      return FindInEveryStore(resources, g, flags.customer_id, &partition);
    partition = log::PartitionFor(flags.customer_id, (*log)->partitions());
    const std::string dir =
        absl::StrFormat("%s/p-%04d", StoreDir(g), partition);
    auto opened = store::PartitionStore::OpenReadOnly(resources, dir);
    if (!opened.ok()) {
      if (absl::IsNotFound(opened.status()) ||
          absl::IsInvalidArgument(opened.status())) {
        return absl::NotFoundError(absl::StrCat(
            "customer ", flags.customer_id, ": not found (its partition ",
            partition, " has no store in ", StoreDir(g), ")"));
      }
      return opened.status();
    }
    store::PartitionStore* raw = opened->get();
    return query::GetCustomer(absl::MakeConstSpan(&raw, 1),
                              (*log)->partitions(), flags.customer_id);
  }();
  const bool rebuild = found.ok() && as_of != absl::InfinitePast() &&
                       as_of < FromProto(found->state().facts().as_of());
  if (!found.ok() && !absl::IsNotFound(found.status())) {
    return ReportError("get", found.status());
  }
  if (found.ok() && !rebuild) {
    state = found->state();
    if (as_of != absl::InfinitePast()) {
      projections::AdvanceTo(as_of, *rules, &state);
      source = "stored views, advanced to --as-of";
    }
  } else if ((found.ok() || as_of != absl::InfinitePast()) && !have_log) {
    return ReportError(
        "get", absl::FailedPreconditionError(
                   absl::StrCat("--as-of before the stored state of ",
                                flags.customer_id, " needs the event log, and ",
                                g.data_dir, " has none for topic ", g.topic)));
  } else if (found.ok() || as_of != absl::InfinitePast()) {
    // Before the stored state (or not stored yet): rebuild from the log.
    auto rebuilt =
        query::RebuildFromLog(**log, flags.customer_id, as_of, *rules);
    if (!rebuilt.ok()) {
      if (absl::IsNotFound(rebuilt.status())) {
        std::fprintf(stderr, "crm get: error: %s\n",
                     std::string(rebuilt.status().message()).c_str());
        return kExitNotFound;
      }
      return ReportError("get", rebuilt.status());
    }
    state = std::move(*rebuilt);
    source = "rebuilt from the log up to --as-of";
  } else {
    std::fprintf(stderr, "crm get: error: %s\n",
                 std::string(found.status().message()).c_str());
    return kExitNotFound;
  }
  if (g.json) {
    std::printf("%s\n", query::ToJsonLine(state.views()).c_str());
    return kExitOk;
  }
  PrintViews(state, partition, source);
  return kExitOk;
}

struct ListFlags {
  std::string tier, prospect, abc, value_class, customer_class, stage, rfm;
  std::string region, manager, follow_up_before, as_of, sort = "revenue";
  double satisfaction_below = -1;
  int limit = 50;
  bool no_index = false;
};

template <typename E>
bool SetEnum(const std::string& value, const char* flag,
             std::optional<E>* out) {
  if (value.empty()) return true;
  auto n = query::ParseEnumShortName(google::protobuf::GetEnumDescriptor<E>(),
                                     value, flag);
  if (!n.ok()) {
    std::fprintf(stderr, "crm list: error: %s\n",
                 std::string(n.status().message()).c_str());
    return false;
  }
  *out = static_cast<E>(*n);
  return true;
}

int RunList(const ListFlags& flags, const GlobalFlags& g) {
  auto rules = LoadRules(g);
  if (!rules.ok()) return ReportError("list", rules.status());
  query::ListOptions o;
  query::ListFilter& f = o.filter;
  if (!SetEnum(flags.tier, "--tier", &f.value_tier) ||
      !SetEnum(flags.prospect, "--prospect", &f.prospect_grade) ||
      !SetEnum(flags.abc, "--abc", &f.abc) ||
      !SetEnum(flags.value_class, "--value-class", &f.value_class) ||
      !SetEnum(flags.customer_class, "--class", &f.customer_class) ||
      !SetEnum(flags.stage, "--stage", &f.stage) ||
      !SetEnum(flags.rfm, "--rfm", &f.rfm_segment)) {
    return kExitUsage;
  }
  if (!flags.region.empty()) f.region = flags.region;
  if (!flags.manager.empty()) f.account_manager = flags.manager;
  if (flags.satisfaction_below >= 0) {
    f.satisfaction_below = flags.satisfaction_below;
  }
  if (!flags.follow_up_before.empty()) {
    absl::Time t;
    if (!ParseTimeFlag("list", "--follow-up-before", flags.follow_up_before,
                       &t)) {
      return kExitUsage;
    }
    f.follow_up_before = t;
  }
  if (!flags.as_of.empty() &&
      !ParseTimeFlag("list", "--as-of", flags.as_of, &o.as_of)) {
    return kExitUsage;
  }
  auto sort = query::ParseListSort(flags.sort);
  if (!sort.ok()) return ReportError("list", sort.status());
  o.sort = *sort;
  o.limit = static_cast<size_t>(flags.limit);
  o.use_index = !flags.no_index;

  store::StoreResources resources(QueryStoreOptions());
  auto stores = population::OpenPartitionStores(resources, StoreDir(g),
                                                /*read_only=*/true);
  if (!stores.ok()) return ReportError("list", stores.status());
  auto result = query::List(Raw(*stores), *rules, o);
  if (!result.ok()) return ReportError("list", result.status());
  if (g.json) {
    for (const v1::CustomerState& st : result->rows) {
      std::printf("%s\n", query::ToJsonLine(st.views()).c_str());
    }
    return kExitOk;
  }
  const std::string of =
      result->matched_complete
          ? absl::StrCat(" of ",
                         WithCommas(static_cast<int64_t>(result->matched)))
          : "";
  std::printf("%s%s matching customer(s), as of %s, by %s (%s)\n",
              WithCommas(static_cast<int64_t>(result->rows.size())).c_str(),
              of.c_str(), FormatRfc3339(result->as_of).c_str(),
              flags.sort.c_str(), result->served_by.c_str());
  std::printf(
      "%-10s %-24s %-8s %-9s %-7s %-3s %-6s %-9s %-10s %-10s %14s %6s\n",
      "customer", "name", "tier", "prospect", "value", "abc", "class", "stage",
      "region", "manager", "revenue", "satis");
  for (const v1::CustomerState& st : result->rows) {
    const v1::CustomerViews& v = st.views();
    std::printf(
        "%-10s %-24s %-8s %-9s %-7s %-3s %-6s %-9s %-10s %-10s %14s %6.1f\n",
        st.customer_id().c_str(),
        v.card().profile().name().substr(0, 24).c_str(),
        Short(v.grade().value_tier()).c_str(),
        Short(v.grade().prospect_grade()).c_str(),
        Short(v.grade().value_class()).c_str(), Short(v.grade().abc()).c_str(),
        Short(v.grade().customer_class()).c_str(),
        Short(v.lifecycle().stage()).c_str(),
        v.card().profile().region().c_str(),
        v.card().profile().account_manager().c_str(),
        FormatMinorUnits(v.grade().revenue_window().minor_units()).c_str(),
        v.satisfaction().satisfaction_degree());
  }
  if (result->rows.empty()) std::printf("(no customers)\n");
  return kExitOk;
}

struct DumpFlags {
  std::string out;
};

int RunDump(const DumpFlags& flags, const GlobalFlags& g) {
  store::StoreResources resources(QueryStoreOptions());
  auto stores = population::OpenPartitionStores(resources, StoreDir(g),
                                                /*read_only=*/true);
  if (!stores.ok()) return ReportError("dump", stores.status());
  FILE* out = stdout;
  if (!flags.out.empty()) {
    out = std::fopen(flags.out.c_str(), "w");
    if (out == nullptr) {
      return ReportError("dump", absl::UnavailableError(absl::StrCat(
                                     "--out ", flags.out, ": cannot write")));
    }
  }
  std::string line;
  absl::Status s = query::ForEachCustomerById(
      Raw(*stores), [&](int32_t, const v1::StoredCustomer& rec) {
        line = query::ToJsonLine(rec.state().views());
        line.push_back('\n');
        if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
          return absl::UnavailableError("write failed");
        }
        return absl::OkStatus();
      });
  if (out != stdout && std::fclose(out) != 0 && s.ok()) {
    s = absl::UnavailableError(absl::StrCat("--out ", flags.out, ": close"));
  }
  if (!s.ok()) return ReportError("dump", s);
  return kExitOk;
}

}  // namespace

void RegisterGet(CLI::App& app, CommandContext& ctx) {
  CLI::App* sub = app.add_subcommand("get", "Show one customer's views");
  auto flags = std::make_shared<GetFlags>();
  sub->add_option("customer", flags->customer_id, "Customer id")->required();
  sub->add_option("--as-of", flags->as_of,
                  "Event time to show the views at (RFC 3339); before the "
                  "stored state the customer is rebuilt from the log");
  sub->footer(
      "Card, grade (with the why of each class, the star components and "
      "overrides), lifecycle and satisfaction of one customer, read from its "
      "partition's store only. --json prints protobuf's JSON mapping of "
      "crm.v1.CustomerViews. Exit code 7 when the customer is unknown. "
      "Read-only: safe while `crm run` runs.");
  sub->callback([&ctx, flags] { ctx.exit_code = RunGet(*flags, ctx.global); });
}

void RegisterList(CLI::App& app, CommandContext& ctx) {
  CLI::App* sub = app.add_subcommand("list", "List customers by filters");
  auto flags = std::make_shared<ListFlags>();
  sub->add_option("--tier", flags->tier, "Value tier: VIP, LARGE, ...");
  sub->add_option("--prospect", flags->prospect, "Prospect grade A-D");
  sub->add_option("--abc", flags->abc, "ABC class A, B, C");
  sub->add_option("--value-class", flags->value_class, "MVC, MGC, BZC, NORMAL");
  sub->add_option("--class", flags->customer_class,
                  "Customer class: KEY, ORDINARY, SPECIAL");
  sub->add_option("--stage", flags->stage, "Lifecycle stage, e.g. AT_RISK");
  sub->add_option("--rfm", flags->rfm, "RFM segment, e.g. CHAMPIONS");
  sub->add_option("--region", flags->region, "Sales region code");
  sub->add_option("--manager", flags->manager, "Account manager id");
  sub->add_option("--satisfaction-below", flags->satisfaction_below,
                  "Satisfaction degree (0-100) below this");
  sub->add_option("--follow-up-before", flags->follow_up_before,
                  "Next follow-up due before this time (RFC 3339)");
  sub->add_option("--sort", flags->sort,
                  "revenue (window, highest first), at-risk (lifetime "
                  "revenue of AT_RISK/CHURNED customers), satisfaction "
                  "(lowest first), id")
      ->check(CLI::IsMember({"revenue", "at-risk", "satisfaction", "id"}))
      ->capture_default_str();
  sub->add_option("--limit", flags->limit, "Rows to show at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--as-of", flags->as_of,
                  "Event time to list at (RFC 3339); default: the latest "
                  "event time in the stores");
  sub->add_flag("--no-index", flags->no_index,
                "Scan every customer even when an index applies (same rows)");
  sub->footer(
      "Filters combine (all must hold); enum values are case-insensitive. "
      "--region, --manager, --abc and --rfm are served by the stores' "
      "secondary indexes (the most selective one given, the others "
      "re-checked); the other filters scan every customer. "
      "Ties are broken by customer id. --json prints one crm.v1."
      "CustomerViews per line. Read-only: safe while `crm run` runs.");
  sub->callback([&ctx, flags] { ctx.exit_code = RunList(*flags, ctx.global); });
}

void RegisterDump(CLI::App& app, CommandContext& ctx) {
  CLI::App* sub =
      app.add_subcommand("dump", "Every customer's views as JSON lines");
  auto flags = std::make_shared<DumpFlags>();
  sub->add_option("--out", flags->out, "Write to FILE instead of stdout");
  sub->footer(
      "One crm.v1.CustomerViews per line (protobuf JSON mapping), in "
      "ascending customer id across all partition stores, as stored (no "
      "as-of advance). For diffing and export. Read-only: safe while `crm "
      "run` runs.");
  sub->callback([&ctx, flags] { ctx.exit_code = RunDump(*flags, ctx.global); });
}

}  // namespace crm::cli
