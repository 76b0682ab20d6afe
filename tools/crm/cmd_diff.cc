// crm diff: migration matrices between two stores of the same history
// (production and a replay, or two replays), at one common as-of.

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "engine/base/exit_codes.h"
#include "engine/base/time_util.h"
#include "engine/replay/diff.h"
#include "engine/replay/replay.h"
#include "tools/crm/command.h"
#include "tools/crm/replay_wiring.h"
#include "tools/crm/wiring.h"

namespace crm::cli {
namespace {

namespace fs = std::filesystem;

struct DiffFlags {
  std::string a, b;
  std::string as_of;
  std::string dimension;  // filter of the moved list
  std::string from, to;
  int limit = 20;
};

struct Side {
  std::string arg;
  std::string store_dir;
  std::string rules_file;  // "" = the global rules
  v1::Rules rules;
};

// A data dir (DIR/store/TOPIC), a replay of one rule set (the same, with
// DIR/rules.textproto), or a store dir (p-NNNN folders).
absl::Status ResolveSide(const GlobalFlags& g, Side* side) {
  std::error_code ec;
  const fs::path dir(side->arg);
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(side->arg, ": no such directory"));
  }
  const fs::path store = replay::TargetStoreDir(side->arg, g.topic);
  side->store_dir = fs::is_directory(store, ec) ? store.string() : dir.string();
  if (fs::exists(dir / kReplayIncompleteMarker, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        side->arg, ": holds a replay that did not finish; replay it again"));
  }
  if (fs::exists(dir / "rules.textproto", ec)) {
    side->rules_file = (dir / "rules.textproto").string();
  }
  GlobalFlags local = g;
  if (!side->rules_file.empty()) local.rules = side->rules_file;
  auto rules = LoadRules(local);
  if (!rules.ok()) return rules.status();
  side->rules = std::move(*rules);
  return absl::OkStatus();
}

bool Matches(const std::string& filter, const std::string& value) {
  return filter.empty() ||
         absl::AsciiStrToLower(filter) == absl::AsciiStrToLower(value);
}

int RunDiff(const DiffFlags& flags, const GlobalFlags& g) {
  Side a, b;
  a.arg = flags.a;
  b.arg = flags.b;
  for (Side* s : {&a, &b}) {
    if (absl::Status st = ResolveSide(g, s); !st.ok()) {
      return ReportError("diff", st);
    }
  }
  if (!flags.dimension.empty()) {
    bool known = false;
    for (int d = 0; d < replay::kDimensions; ++d) {
      known |= flags.dimension ==
               replay::DimensionName(static_cast<replay::Dimension>(d));
    }
    if (!known) {
      std::fprintf(stderr,
                   "crm diff: error: --dimension: expected value_tier, abc, "
                   "lifecycle, rfm or class, got \"%s\"\n",
                   flags.dimension.c_str());
      return kExitUsage;
    }
  }
  // One common as-of: the later of the two sides' latest state times.
  auto la = replay::LatestStateTime(a.store_dir);
  if (!la.ok()) return ReportError("diff", la.status());
  auto lb = replay::LatestStateTime(b.store_dir);
  if (!lb.ok()) return ReportError("diff", lb.status());
  absl::Time as_of = std::max(*la, *lb);
  if (!flags.as_of.empty()) {
    auto t = ParseTimeFlag("--as-of", flags.as_of);
    if (!t.ok()) return ReportError("diff", t.status());
    if (*t < as_of) {
      return ReportError(
          "diff", absl::InvalidArgumentError(absl::StrCat(
                      "--as-of ", FormatRfc3339(*t),
                      " is before the latest stored state (",
                      FormatRfc3339(as_of), "); states cannot go back")));
    }
    as_of = *t;
  }
  auto rows_a = replay::LoadRows(a.store_dir, a.rules, as_of);
  if (!rows_a.ok()) return ReportError("diff", rows_a.status());
  auto rows_b = replay::LoadRows(b.store_dir, b.rules, as_of);
  if (!rows_b.ok()) return ReportError("diff", rows_b.status());
  const replay::DiffResult r =
      replay::Compare(*rows_a, *rows_b, a.rules, b.rules);

  std::vector<const replay::Move*> moves;
  int64_t moves_matching = 0;
  for (const replay::Move& m : r.moves) {
    if (!Matches(flags.dimension, replay::DimensionName(m.dimension)) ||
        !Matches(flags.from, replay::ValueLabel(m.dimension, m.from)) ||
        !Matches(flags.to, replay::ValueLabel(m.dimension, m.to))) {
      continue;
    }
    ++moves_matching;
    if (flags.limit < 0 || static_cast<int64_t>(moves.size()) < flags.limit) {
      moves.push_back(&m);
    }
  }
  const std::string at = FormatRfc3339(as_of);

  if (g.json) {
    std::string out = absl::StrCat(
        "{\"asOf\":", JsonQuoted(at), ",\"a\":{\"dir\":", JsonQuoted(a.arg),
        ",\"rulesVersion\":", JsonQuoted(a.rules.version()),
        ",\"customers\":", r.a.customers,
        ",\"gradeChanges\":", r.a.grade_changes,
        ",\"stageChanges\":", r.a.stage_changes,
        ",\"slaBreaches\":", r.a.sla_breaches, ",\"transitions\":",
        r.a.grade_changes + r.a.stage_changes + r.a.sla_breaches,
        ",\"managersRequired\":", r.a.managers,
        "},\"b\":{\"dir\":", JsonQuoted(b.arg),
        ",\"rulesVersion\":", JsonQuoted(b.rules.version()),
        ",\"customers\":", r.b.customers,
        ",\"gradeChanges\":", r.b.grade_changes,
        ",\"stageChanges\":", r.b.stage_changes,
        ",\"slaBreaches\":", r.b.sla_breaches, ",\"transitions\":",
        r.b.grade_changes + r.b.stage_changes + r.b.sla_breaches,
        ",\"managersRequired\":", r.b.managers,
        "},\"customersMoved\":", r.customers_moved, ",\"matrices\":{");
    for (size_t d = 0; d < r.matrices.size(); ++d) {
      const replay::Matrix& m = r.matrices[d];
      absl::StrAppend(&out, d ? "," : "",
                      JsonQuoted(DimensionName(m.dimension)),
                      ":{\"moved\":", m.moved, ",\"cells\":[");
      bool first = true;
      for (const auto& [key, cell] : m.cells) {
        absl::StrAppend(
            &out, first ? "" : ",",
            "{\"from\":", JsonQuoted(ValueLabel(m.dimension, key.first)),
            ",\"to\":", JsonQuoted(ValueLabel(m.dimension, key.second)),
            ",\"customers\":", cell.customers,
            ",\"revenueMinor\":", cell.revenue_minor, "}");
        first = false;
      }
      absl::StrAppend(&out, "]}");
    }
    absl::StrAppend(&out, "},\"managers\":[");
    bool first = true;
    for (const replay::ManagerLoad& m : r.managers) {
      if (m.managers_a == m.managers_b && m.a == m.b) continue;
      absl::StrAppend(&out, first ? "" : ",",
                      "{\"accountManager\":", JsonQuoted(m.account_manager),
                      ",\"a\":{\"key\":", m.a[0], ",\"ordinary\":", m.a[1],
                      ",\"special\":", m.a[2], ",\"managers\":", m.managers_a,
                      "},\"b\":{\"key\":", m.b[0], ",\"ordinary\":", m.b[1],
                      ",\"special\":", m.b[2], ",\"managers\":", m.managers_b,
                      "}}");
      first = false;
    }
    absl::StrAppend(&out, "],\"movesMatching\":", moves_matching,
                    ",\"moves\":[");
    for (size_t i = 0; i < moves.size(); ++i) {
      const replay::Move& m = *moves[i];
      absl::StrAppend(&out, i ? "," : "",
                      "{\"customerId\":", JsonQuoted(m.customer_id),
                      ",\"dimension\":", JsonQuoted(DimensionName(m.dimension)),
                      ",\"from\":", JsonQuoted(ValueLabel(m.dimension, m.from)),
                      ",\"to\":", JsonQuoted(ValueLabel(m.dimension, m.to)),
                      ",\"revenueMinor\":", m.revenue_minor, "}");
    }
    absl::StrAppend(&out, "]}\n");
    std::fputs(out.c_str(), stdout);
    return kExitOk;
  }

  std::printf("diff as of %s (both sides advanced to it on copies)\n",
              at.c_str());
  std::printf("  A: %s (rules %s, %s customers)\n", a.arg.c_str(),
              a.rules.version().c_str(), WithCommas(r.a.customers).c_str());
  std::printf("  B: %s (rules %s, %s customers)\n", b.arg.c_str(),
              b.rules.version().c_str(), WithCommas(r.b.customers).c_str());
  std::printf("  %s customer(s) moved in at least one dimension\n",
              WithCommas(r.customers_moved).c_str());
  const std::string currency = b.rules.currency();
  for (const replay::Matrix& m : r.matrices) {
    std::vector<int> from_values, to_values;
    for (const auto& [key, cell] : m.cells) {
      if (std::find(from_values.begin(), from_values.end(), key.first) ==
          from_values.end()) {
        from_values.push_back(key.first);
      }
      if (std::find(to_values.begin(), to_values.end(), key.second) ==
          to_values.end()) {
        to_values.push_back(key.second);
      }
    }
    std::sort(from_values.begin(), from_values.end());
    std::sort(to_values.begin(), to_values.end());
    std::printf(
        "\n%s: A (rows) x B (columns), customers / lifetime revenue %s; %s "
        "moved\n",
        DimensionName(m.dimension), currency.c_str(),
        WithCommas(m.moved).c_str());
    std::printf("  %-18s", "");
    for (int t : to_values) {
      std::printf(" %20s", ValueLabel(m.dimension, t).c_str());
    }
    std::printf("\n");
    for (int f : from_values) {
      std::printf("  %-18s", ValueLabel(m.dimension, f).c_str());
      for (int t : to_values) {
        auto it = m.cells.find({f, t});
        if (it == m.cells.end()) {
          std::printf(" %20s", ".");
        } else {
          std::printf(" %20s",
                      absl::StrCat(WithCommas(it->second.customers), " / ",
                                   FormatMinorUnits(it->second.revenue_minor))
                          .c_str());
        }
      }
      std::printf("\n");
    }
  }
  std::printf(
      "\naccount managers required (key 1:%u / ordinary 1:%u / special 1:%u "
      "in A; 1:%u / 1:%u / 1:%u in B): A %s, B %s (%+lld)\n",
      a.rules.classes().key_customers_per_manager(),
      a.rules.classes().ordinary_customers_per_manager(),
      a.rules.classes().special_customers_per_manager(),
      b.rules.classes().key_customers_per_manager(),
      b.rules.classes().ordinary_customers_per_manager(),
      b.rules.classes().special_customers_per_manager(),
      WithCommas(r.a.managers).c_str(), WithCommas(r.b.managers).c_str(),
      static_cast<long long>(r.b.managers - r.a.managers));
  int shown = 0;
  for (const replay::ManagerLoad& m : r.managers) {
    if (m.managers_a == m.managers_b) continue;
    if (shown++ == 0) {
      std::printf("  %-20s %22s %22s\n", "account manager",
                  "A key/ord/spec = mgrs", "B key/ord/spec = mgrs");
    }
    if (flags.limit >= 0 && shown > flags.limit) continue;
    std::printf(
        "  %-20s %22s %22s\n",
        m.account_manager.empty() ? "(unassigned)" : m.account_manager.c_str(),
        absl::StrCat(m.a[0], "/", m.a[1], "/", m.a[2], " = ", m.managers_a)
            .c_str(),
        absl::StrCat(m.b[0], "/", m.b[1], "/", m.b[2], " = ", m.managers_b)
            .c_str());
  }
  std::printf(
      "\ntransitions raised (stored histories): A %s grade + %s stage + %s "
      "SLA = %s; B %s + %s + %s = %s\n",
      WithCommas(r.a.grade_changes).c_str(),
      WithCommas(r.a.stage_changes).c_str(),
      WithCommas(r.a.sla_breaches).c_str(),
      WithCommas(r.a.grade_changes + r.a.stage_changes + r.a.sla_breaches)
          .c_str(),
      WithCommas(r.b.grade_changes).c_str(),
      WithCommas(r.b.stage_changes).c_str(),
      WithCommas(r.b.sla_breaches).c_str(),
      WithCommas(r.b.grade_changes + r.b.stage_changes + r.b.sla_breaches)
          .c_str());
  std::printf("\ncustomers that moved (%s move(s)%s, showing %zu)\n",
              WithCommas(moves_matching).c_str(),
              flags.dimension.empty() && flags.from.empty() && flags.to.empty()
                  ? ""
                  : " matching the filter",
              moves.size());
  for (const replay::Move* m : moves) {
    std::printf("  %-16s %-11s %-18s -> %-18s %s\n", m->customer_id.c_str(),
                DimensionName(m->dimension),
                ValueLabel(m->dimension, m->from).c_str(),
                ValueLabel(m->dimension, m->to).c_str(),
                FormatMinorUnits(m->revenue_minor).c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterDiff(CLI::App& app, CommandContext& ctx) {
  CLI::App* sub = app.add_subcommand(
      "diff", "Migration matrices between two stores (production vs replay)");
  auto flags = std::make_shared<DiffFlags>();
  sub->add_option("DIR_A", flags->a,
                  "Old side: a data directory, a replay's --out, or a store "
                  "directory (p-NNNN folders)")
      ->required();
  sub->add_option("DIR_B", flags->b, "New side, the same kinds")->required();
  sub->add_option("--as-of", flags->as_of,
                  "Compare at this event time (RFC 3339); default: the later "
                  "of the two sides' latest state times");
  sub->add_option("--dimension", flags->dimension,
                  "Moved list: only value_tier, abc, lifecycle, rfm or class");
  sub->add_option("--from", flags->from, "Moved list: only from this value");
  sub->add_option("--to", flags->to, "Moved list: only to this value");
  sub->add_option("--limit", flags->limit,
                  "Moved customers (and account managers) shown; -1: all")
      ->capture_default_str();
  sub->footer(
      "Both sides are read-only and compared at one event time: every state "
      "is advanced to it on a copy with its side's rules (a replay's "
      "DIR/rules.textproto, else --rules or the built-in rules). Revenue is "
      "each customer's lifetime net revenue. Account-manager load uses each "
      "side's coverage ratios. Transitions are counted from the stored "
      "grade and lifecycle histories and SLA breaches.");
  sub->callback([&ctx, flags] { ctx.exit_code = RunDiff(*flags, ctx.global); });
}

}  // namespace crm::cli
