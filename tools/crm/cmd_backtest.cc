// crm backtest: classify with the events up to a cutoff (a replay --until
// into a temporary scratch store, with the population pass), then judge the
// classes by what the log says happened in the horizon after it.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "engine/base/exit_codes.h"
#include "engine/base/time_util.h"
#include "engine/replay/backtest.h"
#include "engine/replay/diff.h"
#include "engine/replay/replay.h"
#include "tools/crm/command.h"
#include "tools/crm/heap.h"
#include "tools/crm/replay_wiring.h"
#include "tools/crm/wiring.h"

namespace crm::cli {
namespace {

namespace fs = std::filesystem;

struct BacktestFlags {
  std::string rules;
  std::string cutoff;
  std::string horizon;
  std::string source;
  std::string keep;  // keep the cutoff store here instead of a temp dir
};

// "90d", "12w", or an absl duration ("2160h").
bool ParseHorizon(const std::string& s, absl::Duration* out) {
  if (s.size() > 1 && (s.back() == 'd' || s.back() == 'w')) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(s.substr(0, s.size() - 1), &n) || n <= 0) {
      return false;
    }
    *out = absl::Hours(24 * n * (s.back() == 'w' ? 7 : 1));
    return true;
  }
  return absl::ParseDuration(s, out) && *out > absl::ZeroDuration();
}

std::string ClassesJson(const std::vector<replay::ClassOutcome>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", "{\"class\":", JsonQuoted(v[i].label),
                    ",\"customers\":", v[i].customers,
                    ",\"churned\":", v[i].churned,
                    ",\"revenueMinor\":", v[i].revenue_minor, "}");
  }
  return out + "]";
}

void PrintClasses(const char* title,
                  const std::vector<replay::ClassOutcome>& v) {
  std::printf("\n%s\n  %-12s %10s %10s %8s %18s %16s\n", title, "class",
              "customers", "churned", "churn", "horizon revenue",
              "per customer");
  for (const auto& c : v) {
    std::printf(
        "  %-12s %10s %10s %7.1f%% %18s %16s\n", c.label.c_str(),
        WithCommas(c.customers).c_str(), WithCommas(c.churned).c_str(),
        c.customers ? 100.0 * c.churned / c.customers : 0.0,
        FormatMinorUnits(c.revenue_minor).c_str(),
        FormatMinorUnits(c.customers ? c.revenue_minor / c.customers : 0)
            .c_str());
  }
}

int RunBacktest(const BacktestFlags& flags, const GlobalFlags& g) {
  GlobalFlags local = g;
  if (!flags.rules.empty()) local.rules = flags.rules;
  auto rules = LoadRules(local);
  if (!rules.ok()) return ReportError("backtest", rules.status());
  auto cutoff = ParseTimeFlag("--cutoff", flags.cutoff);
  if (!cutoff.ok()) return ReportError("backtest", cutoff.status());
  absl::Duration horizon;
  if (!ParseHorizon(flags.horizon, &horizon)) {
    std::fprintf(stderr,
                 "crm backtest: error: --horizon: expected a positive "
                 "duration such as 90d, 12w or 2160h, got \"%s\"\n",
                 flags.horizon.c_str());
    return kExitUsage;
  }
  auto source = OpenReplaySource(g, flags.source);
  if (!source.ok()) return ReportError("backtest", source.status());

  std::string dir = flags.keep;
  bool temporary = false;
  if (dir.empty()) {
    std::string tmpl =
        (fs::temp_directory_path() / "crm-backtest-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return ReportError(
          "backtest",
          absl::UnavailableError("cannot create a temporary directory"));
    }
    dir = tmpl;
    temporary = true;
  } else if (absl::Status s = PrepareReplayDir(dir, false); !s.ok()) {
    return ReportError("backtest", s);
  }
  auto cleanup = [&] {
    std::error_code ec;
    if (temporary) fs::remove_all(dir, ec);
  };
  BackHeapWithHugePages();  // a replay, as crm replay does by default
  replay::ReplayOptions options;
  options.topic = g.topic;
  options.until = *cutoff;
  options.population_pass = true;
  if (ShowProgress(g)) {
    options.progress = [](const replay::ReplayProgress& p) {
      std::fprintf(stderr, "\r\033[K  backtest: replaying %s of %s records",
                   WithCommas(p.records).c_str(),
                   WithCommas(p.total_records).c_str());
    };
  }
  replay::Target target{&*rules, dir};
  auto replayed = replay::Replay(**source, {&target, 1}, options);
  if (ShowProgress(g)) std::fprintf(stderr, "\r\033[K");
  if (!replayed.ok()) {
    cleanup();
    return ReportError("backtest", replayed.status());
  }
  std::error_code ec;
  fs::remove(fs::path(dir) / kReplayIncompleteMarker, ec);
  auto rows =
      replay::LoadRows(replay::TargetStoreDir(dir, g.topic), *rules, *cutoff);
  if (!rows.ok()) {
    cleanup();
    return ReportError("backtest", rows.status());
  }
  auto outcomes = replay::ScanOrders(**source, *cutoff, *cutoff + horizon);
  cleanup();
  if (!outcomes.ok()) return ReportError("backtest", outcomes.status());
  const replay::BacktestResult r = replay::Evaluate(*rows, *outcomes);

  const std::string from = FormatRfc3339(*cutoff);
  const std::string to = FormatRfc3339(*cutoff + horizon);
  if (g.json) {
    std::printf(
        "%s\n",
        absl::StrCat(
            "{\"rulesVersion\":", JsonQuoted(rules->version()),
            ",\"cutoff\":", JsonQuoted(from),
            ",\"horizonEnd\":", JsonQuoted(to), ",\"customers\":", r.customers,
            ",\"churned\":", r.churned, ",\"revenueMinor\":", r.revenue_minor,
            ",\"valueTier\":", ClassesJson(r.value_tier), ",\"abc\":",
            ClassesJson(r.abc), ",\"lifecycle\":", ClassesJson(r.lifecycle),
            ",\"liftAOverC\":", absl::StrFormat("%.4f", r.lift_a_over_c),
            ",\"atRisk\":", r.at_risk, ",\"atRiskChurned\":", r.at_risk_churned,
            ",\"precision\":", absl::StrFormat("%.4f", r.precision),
            ",\"recall\":", absl::StrFormat("%.4f", r.recall), "}")
            .c_str());
    return kExitOk;
  }
  std::printf(
      "backtest of rules %s: classes as of %s (%s records replayed), "
      "outcomes in (%s, %s]\n",
      rules->version().c_str(), from.c_str(),
      WithCommas(replayed->records - replayed->after_until).c_str(),
      from.c_str(), to.c_str());
  std::printf(
      "%s customers with an order by the cutoff; %s churned (no order in "
      "the horizon, %.1f%%); horizon revenue %s %s\n",
      WithCommas(r.customers).c_str(), WithCommas(r.churned).c_str(),
      r.customers ? 100.0 * r.churned / r.customers : 0.0,
      FormatMinorUnits(r.revenue_minor).c_str(), rules->currency().c_str());
  PrintClasses("value tier at the cutoff", r.value_tier);
  PrintClasses("ABC class at the cutoff", r.abc);
  PrintClasses("lifecycle stage at the cutoff", r.lifecycle);
  std::printf("\nlift of A over C (horizon revenue per customer): %.2f\n",
              r.lift_a_over_c);
  std::printf(
      "at risk as a churn predictor: %s at risk, %s of them churned; "
      "precision %.1f%%, recall %.1f%%\n",
      WithCommas(r.at_risk).c_str(), WithCommas(r.at_risk_churned).c_str(),
      100 * r.precision, 100 * r.recall);
  return kExitOk;
}

}  // namespace

void RegisterBacktest(CLI::App& app, CommandContext& ctx) {
  CLI::App* sub = app.add_subcommand(
      "backtest",
      "Judge rules by outcomes: classes at a cutoff vs what followed");
  auto flags = std::make_shared<BacktestFlags>();
  sub->add_option("--rules", flags->rules,
                  "Rules textproto to judge; default: the global --rules or "
                  "the built-in rules");
  sub->add_option("--cutoff", flags->cutoff,
                  "Classify with the events up to this time (RFC 3339)")
      ->required();
  sub->add_option("--horizon", flags->horizon,
                  "Outcome window after the cutoff: 90d, 12w, 2160h")
      ->required();
  sub->add_option("--source", flags->source,
                  "embedded, kafka, or an archive file; as crm replay");
  sub->add_option("--keep", flags->keep,
                  "Keep the cutoff replay in this new directory");
  sub->footer(
      "Replays the log up to --cutoff into a temporary scratch store (states "
      "advanced to the cutoff, population pass at the cutoff), then reads "
      "the log again for the orders placed in (cutoff, cutoff + horizon]. "
      "Counted: customers with an order by the cutoff. Churned: no order in "
      "the horizon. Revenue: the amounts of the orders placed in the "
      "horizon (later cancellations and refunds not deducted).");
  sub->callback(
      [&ctx, flags] { ctx.exit_code = RunBacktest(*flags, ctx.global); });
}

}  // namespace crm::cli
