// crm regrade: the population pass (ABC, key / ordinary / special with the
// account-manager coverage, RFM quintiles) over every partition store of
// the data directory, written back into the stored views; see
// engine/population/README.md. The projector must not be running.

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "engine/base/exit_codes.h"
#include "engine/base/time_util.h"
#include "engine/population/population_pass.h"
#include "engine/query/query.h"
#include "engine/store/partition_store.h"
#include "tools/crm/command.h"
#include "tools/crm/wiring.h"

namespace crm::cli {
namespace {

struct RegradeFlags {
  std::string as_of;  // RFC 3339; empty: the latest event time stored
  bool dry_run = false;
};

std::string CutsJson(const google::protobuf::RepeatedField<int64_t>& cuts) {
  return absl::StrCat("[", absl::StrJoin(cuts, ","), "]");
}

std::string PointJson(bool has, const population::RankPoint& p) {
  if (!has) return "null";
  return absl::StrCat("{\"customerId\":", JsonQuoted(p.customer_id()),
                      ",\"revenueWindowMinor\":", p.revenue_window_minor(),
                      ",\"rank\":", p.rank(), "}");
}

int RunRegrade(const RegradeFlags& flags, const GlobalFlags& g) {
  population::PassOptions options;
  options.dry_run = flags.dry_run;
  if (!flags.as_of.empty()) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, flags.as_of, &options.as_of,
                         &err)) {
      std::fprintf(stderr,
                   "crm regrade: error: --as-of: expected an RFC 3339 time "
                   "such as 2026-03-31T23:59:59Z, got \"%s\" (%s)\n",
                   flags.as_of.c_str(), err.c_str());
      return kExitUsage;
    }
  }
  auto rules = LoadRules(g);
  if (!rules.ok()) return ReportError("regrade", rules.status());
  store::StoreOptions store_options;
  store_options.block_cache_bytes = 32 << 20;
  store::StoreResources resources(store_options);
  auto stores = population::OpenPartitionStores(resources, StoreDir(g),
                                                /*read_only=*/false);
  if (!stores.ok()) return ReportError("regrade", stores.status());
  std::vector<store::PartitionStore*> raw;
  for (auto& s : *stores) raw.push_back(s.get());
  auto pass = population::RunPopulationPass(raw, *rules, options);
  if (!pass.ok()) return ReportError("regrade", pass.status());
  std::string path;
  if (!flags.dry_run) {
    auto written = population::WritePassRecord(
        population::PassRecordDir(g.data_dir, g.topic), pass->record);
    if (!written.ok()) return ReportError("regrade", written.status());
    path = *written;
  }

  const population::PassRecord& r = pass->record;
  const v1::PopulationResult& s = r.summary();
  uint64_t changed = 0, transitions = 0;
  for (const auto& p : r.partitions()) {
    changed += p.customers_changed();
    transitions += p.transitions();
  }
  std::map<int, double> share;  // ABC class -> share of window revenue
  for (const auto& e : pass->population.entries()) {
    share[e.abc()] += e.revenue_share();
  }
  const uint64_t no_abc = r.customers() - r.abc_a() - r.abc_b() - r.abc_c();
  const std::string as_of = FormatRfc3339(FromProto(s.as_of()));

  if (g.json) {
    std::string out = absl::StrCat(
        "{\"asOf\":", JsonQuoted(as_of),
        ",\"rulesVersion\":", JsonQuoted(s.rules_version()),
        ",\"customers\":", r.customers(), ",\"transacted\":", r.transacted(),
        ",\"partitions\":", r.partitions_size(),
        ",\"totalRevenueMinor\":", s.total_revenue_minor(),
        ",\"abc\":{\"A\":", r.abc_a(), ",\"B\":", r.abc_b(),
        ",\"C\":", r.abc_c(), ",\"none\":", no_abc,
        ",\"lastA\":", PointJson(r.has_abc_a_last(), r.abc_a_last()),
        ",\"lastB\":", PointJson(r.has_abc_b_last(), r.abc_b_last()),
        "},\"classes\":{\"key\":", s.key_customers(),
        ",\"ordinary\":", s.ordinary_customers(),
        ",\"special\":", s.special_customers(),
        ",\"lastKey\":", PointJson(r.has_key_last(), r.key_last()),
        ",\"firstSpecial\":",
        PointJson(r.has_special_first(), r.special_first()),
        "},\"rfmCuts\":{\"r\":", CutsJson(s.rfm_cuts().r()),
        ",\"f\":", CutsJson(s.rfm_cuts().f()),
        ",\"m\":", CutsJson(s.rfm_cuts().m()), "},\"rfmSegments\":{");
    for (int i = 0; i < r.rfm_segments_size(); ++i) {
      absl::StrAppend(
          &out, i ? "," : "",
          JsonQuoted(population::RfmSegmentLabel(r.rfm_segments(i).segment())),
          ":", r.rfm_segments(i).customers());
    }
    absl::StrAppend(&out, "},\"coverage\":[");
    for (int i = 0; i < s.coverage_size(); ++i) {
      const auto& c = s.coverage(i);
      absl::StrAppend(&out, i ? "," : "",
                      "{\"accountManager\":", JsonQuoted(c.account_manager()),
                      ",\"key\":", c.key_customers(),
                      ",\"ordinary\":", c.ordinary_customers(),
                      ",\"special\":", c.special_customers(),
                      ",\"managersRequired\":", c.managers_required(), "}");
    }
    absl::StrAppend(
        &out, "],\"managersRequired\":", s.managers_required(),
        ",\"customersChanged\":", changed, ",\"transitions\":", transitions,
        ",\"otherRulesVersion\":", pass->other_rules_version,
        ",\"dryRun\":", flags.dry_run ? "true" : "false",
        ",\"record\":", path.empty() ? "null" : JsonQuoted(path),
        ",\"ltvModel\":", query::ToJsonLine(s.ltv_model()),
        ",\"resultDigest\":",
        JsonQuoted(absl::StrFormat("%016x", r.result_digest())), "}\n");
    std::fputs(out.c_str(), stdout);
    return kExitOk;
  }

  const std::string currency = rules->currency();
  std::printf(
      "population pass as of %s, rules %s: %s customers in %d "
      "partition store(s)%s\n",
      as_of.c_str(), s.rules_version().c_str(),
      WithCommas(r.customers()).c_str(), r.partitions_size(),
      flags.dry_run ? " (dry run: nothing written)" : "");
  if (pass->other_rules_version > 0) {
    std::printf(
        "note: %s customer(s) were projected under another rules "
        "version and were re-evaluated under %s\n",
        WithCommas(pass->other_rules_version).c_str(),
        s.rules_version().c_str());
  }
  std::printf("\nABC by window revenue (total %s %s)\n",
              FormatMinorUnits(s.total_revenue_minor()).c_str(),
              currency.c_str());
  std::printf("  %-6s %10s %8s  %s\n", "class", "customers", "revenue",
              "cut-off: last customer of the class (window revenue)");
  auto abc_row = [&](const char* name, uint64_t n, int cls, bool has,
                     const population::RankPoint& p) {
    std::printf(
        "  %-6s %10s %7.1f%%  %s\n", name, WithCommas(n).c_str(),
        share[cls] * 100,
        has ? absl::StrCat(p.customer_id(), " (",
                           FormatMinorUnits(p.revenue_window_minor()), ")")
                  .c_str()
            : "-");
  };
  abc_row("A", r.abc_a(), v1::ABC_CLASS_A, r.has_abc_a_last(), r.abc_a_last());
  abc_row("B", r.abc_b(), v1::ABC_CLASS_B, r.has_abc_b_last(), r.abc_b_last());
  abc_row("C", r.abc_c(), v1::ABC_CLASS_C, false, r.abc_a_last());
  std::printf("  %-6s %10s %8s  %s\n", "none", WithCommas(no_abc).c_str(), "",
              "no revenue in the window");

  std::printf("\ncustomer class (%s customers with an order)\n",
              WithCommas(r.transacted()).c_str());
  std::printf("  %-9s %10s\n  %-9s %10s\n  %-9s %10s\n", "key",
              WithCommas(s.key_customers()).c_str(), "ordinary",
              WithCommas(s.ordinary_customers()).c_str(), "special",
              WithCommas(s.special_customers()).c_str());

  std::printf("\nRFM cut points (scores change at these values)\n");
  std::printf(
      "  %-22s [%s]\n  %-22s [%s]\n  %-22s [%s]\n", "R: days since order",
      absl::StrJoin(s.rfm_cuts().r(), ", ").c_str(), "F: orders in window",
      absl::StrJoin(s.rfm_cuts().f(), ", ").c_str(), "M: revenue (minor)",
      absl::StrJoin(s.rfm_cuts().m(), ", ").c_str());
  std::printf("\nRFM segments\n");
  for (const auto& seg : r.rfm_segments()) {
    std::printf("  %-20s %10s\n",
                population::RfmSegmentLabel(seg.segment()).c_str(),
                WithCommas(seg.customers()).c_str());
  }

  const v1::LtvModel& m = s.ltv_model();
  std::printf(
      "\nlifetime value (BG/NBD + Gamma-Gamma, %lld-day unit, %lld "
      "units ahead)\n",
      static_cast<long long>(m.time_unit_days()),
      static_cast<long long>(m.horizon_units()));
  if (!m.fitted()) {
    std::printf("  not fitted: %s\n", m.not_fitted_why().c_str());
  } else {
    std::printf(
        "  BG/NBD      r %.4g  alpha %.4g  a %.4g  b %.4g  (%s customers, "
        "%s repeat)\n",
        m.r(), m.alpha(), m.a(), m.b(), WithCommas(m.fit_customers()).c_str(),
        WithCommas(m.fit_repeat_customers()).c_str());
    if (m.spend_fitted()) {
      std::printf(
          "  Gamma-Gamma p %.4g  q %.4g  gamma %.4g  (margin %.3g, "
          "discount %.4g per unit)\n",
          m.p(), m.q(), m.gamma(), m.margin(), m.discount_per_period());
    } else {
      std::printf("  Gamma-Gamma not fitted: %s (no lifetime values)\n",
                  m.spend_not_fitted_why().c_str());
    }
  }

  const auto& cr = rules->classes();
  std::printf(
      "\naccount-manager coverage (key 1:%u, ordinary 1:%u, special "
      "1:%u)\n",
      cr.key_customers_per_manager(), cr.ordinary_customers_per_manager(),
      cr.special_customers_per_manager());
  std::printf("  %-20s %8s %9s %8s %9s\n", "account manager", "key", "ordinary",
              "special", "managers");
  for (const auto& c : s.coverage()) {
    std::printf("  %-20s %8s %9s %8s %9s\n",
                c.account_manager().empty() ? "(unassigned)"
                                            : c.account_manager().c_str(),
                WithCommas(c.key_customers()).c_str(),
                WithCommas(c.ordinary_customers()).c_str(),
                WithCommas(c.special_customers()).c_str(),
                WithCommas(c.managers_required()).c_str());
  }
  std::printf("  %-20s %8s %9s %8s %9s\n", "total",
              WithCommas(s.key_customers()).c_str(),
              WithCommas(s.ordinary_customers()).c_str(),
              WithCommas(s.special_customers()).c_str(),
              WithCommas(s.managers_required()).c_str());

  std::printf(
      "\n%s %s customer record(s), %s transition(s) %s the outbox; "
      "log offsets unchanged\n",
      flags.dry_run ? "would change" : "changed", WithCommas(changed).c_str(),
      WithCommas(transitions).c_str(), flags.dry_run ? "for" : "in");
  if (!path.empty()) std::printf("record: %s\n", path.c_str());
  return kExitOk;
}

}  // namespace

void RegisterRegrade(CLI::App& app, CommandContext& ctx) {
  CLI::App* sub = app.add_subcommand(
      "regrade", "Population pass: ABC, RFM quintiles, key/ordinary/special");
  auto flags = std::make_shared<RegradeFlags>();
  sub->add_option("--as-of", flags->as_of,
                  "Event time to classify at (RFC 3339); default: the latest "
                  "event time in the stores. Not earlier than that.");
  sub->add_flag("--dry-run", flags->dry_run,
                "Classify and report; write nothing");
  sub->footer(
      "Classifies every customer of every partition store in the data "
      "directory together, at one event time: ABC by cumulative window "
      "revenue, key / ordinary / special and the account managers that "
      "implies, RFM quintile scores and segments. Writes each customer's "
      "classes into its stored views (its state is not advanced in time), "
      "puts the resulting grade changes in the store's outbox (published to "
      "crm.transitions by the next `crm run`), keeps every log offset, and "
      "records the cut points in DATA_DIR/population/TOPIC/<as-of>.binpb "
      "(and latest.binpb). Running it again at the same as-of changes "
      "nothing. Stop `crm run` first: it holds the stores.");
  sub->callback(
      [&ctx, flags] { ctx.exit_code = RunRegrade(*flags, ctx.global); });
}

}  // namespace crm::cli
