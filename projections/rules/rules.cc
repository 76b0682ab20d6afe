#include "projections/rules/rules.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "engine/base/status_macros.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace crm::projections {
namespace {

// Collects the first TextFormat parse error with its position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) {
      // TextFormat reports 0-based lines and columns.
      error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
    }
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// Accumulates violations as "<field>: <message>".
class Violations {
 public:
  void Add(std::string field, std::string message) {
    items_.push_back(absl::StrCat(field, ": ", message));
  }
  // Positive integer window or count.
  void Positive(const std::string& field, int64_t v) {
    if (v <= 0) Add(field, absl::StrCat("must be > 0, got ", v));
  }
  void NonNegative(const std::string& field, double v) {
    if (!(v >= 0)) Add(field, absl::StrCat("must be >= 0, got ", v));
  }
  void NonNegativeInt(const std::string& field, int64_t v) {
    if (v < 0) Add(field, absl::StrCat("must be >= 0, got ", v));
  }
  // `v` must be < `bound` (another field's value, named `bound_name`).
  void Less(const std::string& field, int64_t v, const std::string& bound_name,
            int64_t bound) {
    if (!(v < bound)) {
      Add(field,
          absl::StrCat("must be < ", bound_name, " (", bound, "), got ", v));
    }
  }
  void Score(const std::string& field, double v) {
    if (!(v >= 0 && v <= 100)) {
      Add(field, absl::StrCat("must be in [0, 100], got ", v));
    }
  }
  absl::Status ToStatus() const {
    if (items_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(items_, "; "));
  }

 private:
  std::vector<std::string> items_;
};

// Weights must each be >= 0 and sum to 1 within 1e-9.
void CheckWeights(Violations& v, const std::string& names,
                  const std::vector<std::pair<std::string, double>>& weights) {
  double sum = 0;
  for (const auto& [name, w] : weights) {
    v.NonNegative(absl::StrCat("stars.", name), w);
    sum += w;
  }
  if (!(std::fabs(sum - 1.0) <= 1e-9)) {
    v.Add(absl::StrCat("stars.", names),
          absl::StrCat("weights must sum to 1 (within 1e-9), got ", sum));
  }
}

bool ValidMonthDay(int month, int day) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  return month >= 1 && month <= 12 && day >= 1 && day <= kDays[month - 1];
}

}  // namespace

absl::StatusOr<v1::Rules> ParseRules(absl::string_view text,
                                     absl::string_view source) {
  v1::Rules rules;
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &rules)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", errors.error()));
  }
  absl::Status valid = ValidateRules(rules);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", valid.message()));
  }
  return rules;
}

absl::StatusOr<v1::Rules> LoadRulesFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("rules file ", path, ": cannot be opened"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseRules(buffer.str(), path);
}

absl::Status ValidateRules(const v1::Rules& r) {
  Violations v;
  if (r.version().empty()) v.Add("version", "must be set, got \"\"");
  {
    const std::string& c = r.currency();
    bool ok = c.size() == 3;
    for (char ch : c) ok = ok && ch >= 'A' && ch <= 'Z';
    if (!ok) {
      v.Add("currency", absl::StrCat("must be a 3-letter upper-case ISO 4217 "
                                     "code, got \"",
                                     c, "\""));
    }
  }

  const auto& vt = r.value_tier();
  v.Positive("value_tier.window_days", vt.window_days());
  v.Less("value_tier.large_min_minor", vt.large_min_minor(), "vip_min_minor",
         vt.vip_min_minor());
  v.Less("value_tier.medium_min_minor", vt.medium_min_minor(),
         "large_min_minor", vt.large_min_minor());
  v.Positive("value_tier.medium_min_minor", vt.medium_min_minor());

  const auto& abc = r.abc();
  if (abc.a_max_cumulative_pct() == 0) {
    v.Add("abc.a_max_cumulative_pct", "must be > 0, got 0");
  }
  v.Less("abc.a_max_cumulative_pct", abc.a_max_cumulative_pct(),
         "b_max_cumulative_pct", abc.b_max_cumulative_pct());
  v.Less("abc.b_max_cumulative_pct", abc.b_max_cumulative_pct(), "100", 100);

  const auto& p = r.prospect();
  if (p.a_min_win_pct() > 100) {
    v.Add("prospect.a_min_win_pct",
          absl::StrCat("must be <= 100, got ", p.a_min_win_pct()));
  }
  v.Less("prospect.b_min_win_pct", p.b_min_win_pct(), "a_min_win_pct",
         p.a_min_win_pct());
  v.Less("prospect.c_min_win_pct", p.c_min_win_pct(), "b_min_win_pct",
         p.b_min_win_pct());
  for (const auto& [name, stage] :
       std::vector<std::pair<std::string, v1::OpportunityStage>>{
           {"a_min_stage", p.a_min_stage()},
           {"b_min_stage", p.b_min_stage()},
           {"c_min_stage", p.c_min_stage()}}) {
    if (stage > v1::OPPORTUNITY_STAGE_NEGOTIATION) {
      v.Add(absl::StrCat("prospect.", name),
            absl::StrCat("must be an open stage (at most "
                         "OPPORTUNITY_STAGE_NEGOTIATION), got ",
                         v1::OpportunityStage_Name(stage)));
    }
  }
  if (p.b_min_stage() > p.a_min_stage()) {
    v.Add("prospect.b_min_stage",
          absl::StrCat("must be <= a_min_stage (",
                       v1::OpportunityStage_Name(p.a_min_stage()), "), got ",
                       v1::OpportunityStage_Name(p.b_min_stage())));
  }
  if (p.c_min_stage() > p.b_min_stage()) {
    v.Add("prospect.c_min_stage",
          absl::StrCat("must be <= b_min_stage (",
                       v1::OpportunityStage_Name(p.b_min_stage()), "), got ",
                       v1::OpportunityStage_Name(p.c_min_stage())));
  }

  const auto& vc = r.value_class();
  v.Positive("value_class.mvc_min_revenue_minor", vc.mvc_min_revenue_minor());
  if (vc.mgc_min_growth_pct() <= 100) {
    v.Add("value_class.mgc_min_growth_pct",
          absl::StrCat("must be > 100, got ", vc.mgc_min_growth_pct()));
  }
  v.NonNegativeInt("value_class.mgc_min_revenue_minor",
                   vc.mgc_min_revenue_minor());

  const auto& w = r.wallet();
  if (w.high_share_min_pct() < 1 || w.high_share_min_pct() > 100) {
    v.Add("wallet.high_share_min_pct",
          absl::StrCat("must be in [1, 100], got ", w.high_share_min_pct()));
  }
  v.Positive("wallet.large_volume_min_minor", w.large_volume_min_minor());
  v.Positive("wallet.share_window_days", w.share_window_days());

  const auto& s = r.stars();
  CheckWeights(v, "current_weight + future_weight",
               {{"current_weight", s.current_weight()},
                {"future_weight", s.future_weight()}});
  CheckWeights(v,
               "gross_profit_weight + sales_volume_weight + "
               "marketing_cost_weight",
               {{"gross_profit_weight", s.gross_profit_weight()},
                {"sales_volume_weight", s.sales_volume_weight()},
                {"marketing_cost_weight", s.marketing_cost_weight()}});
  CheckWeights(v,
               "industry_position_weight + tenure_weight + "
               "satisfaction_weight",
               {{"industry_position_weight", s.industry_position_weight()},
                {"tenure_weight", s.tenure_weight()},
                {"satisfaction_weight", s.satisfaction_weight()}});
  v.Positive("stars.gross_profit_full_minor", s.gross_profit_full_minor());
  v.Positive("stars.sales_volume_full_minor", s.sales_volume_full_minor());
  if (!(s.marketing_cost_zero_ratio() > 0)) {
    v.Add("stars.marketing_cost_zero_ratio",
          absl::StrCat("must be > 0, got ", s.marketing_cost_zero_ratio()));
  }
  v.Positive("stars.tenure_full_days", s.tenure_full_days());
  if (s.star_floors_size() != 4) {
    v.Add("stars.star_floors",
          absl::StrCat("must have exactly 4 floors (for 2..5 stars), got ",
                       s.star_floors_size()));
  } else {
    for (int i = 0; i < 4; ++i) {
      const double f = s.star_floors(i);
      const std::string field = absl::StrCat("stars.star_floors[", i, "]");
      if (!(f > 0 && f <= 100)) {
        v.Add(field, absl::StrCat("must be in (0, 100], got ", f));
      } else if (i > 0 && !(f > s.star_floors(i - 1))) {
        v.Add(field, absl::StrCat("must be > star_floors[", i - 1, "] (",
                                  s.star_floors(i - 1), "), got ", f));
      }
    }
  }
  v.Score("stars.leader_score", s.leader_score());
  v.Score("stars.major_score", s.major_score());
  v.Score("stars.average_score", s.average_score());
  v.Score("stars.minor_score", s.minor_score());
  v.Score("stars.unknown_position_score", s.unknown_position_score());
  v.NonNegative("stars.hysteresis", s.hysteresis());

  const auto& c = r.classes();
  if (c.key_pct() + c.special_pct() > 100) {
    v.Add("classes.special_pct",
          absl::StrCat("must be <= 100 - key_pct (", 100 - int64_t{c.key_pct()},
                       "), got ", c.special_pct()));
  }
  v.Positive("classes.key_customers_per_manager",
             c.key_customers_per_manager());
  v.Positive("classes.ordinary_customers_per_manager",
             c.ordinary_customers_per_manager());
  v.Positive("classes.special_customers_per_manager",
             c.special_customers_per_manager());

  const auto& l = r.lifecycle();
  if (l.loyal_min_orders() < 2) {
    v.Add("lifecycle.loyal_min_orders",
          absl::StrCat("must be >= 2, got ", l.loyal_min_orders()));
  }
  v.Positive("lifecycle.new_days", l.new_days());
  v.Positive("lifecycle.at_risk_after_days", l.at_risk_after_days());
  if (l.at_risk_after_days() > 0) {
    if (!(l.churned_after_days() > l.at_risk_after_days())) {
      v.Add(
          "lifecycle.churned_after_days",
          absl::StrCat("must be > at_risk_after_days (", l.at_risk_after_days(),
                       "), got ", l.churned_after_days()));
    }
  }
  v.Positive("lifecycle.won_back_days", l.won_back_days());

  v.Positive("rfm.window_days", r.rfm().window_days());

  const auto& sat = r.satisfaction();
  int seen[5] = {0, 0, 0, 0, 0};
  for (int i = 0; i < sat.sla_size(); ++i) {
    const auto& rule = sat.sla(i);
    const std::string field = absl::StrCat("satisfaction.sla[", i, "]");
    if (rule.severity() < v1::COMPLAINT_SEVERITY_LOW ||
        rule.severity() > v1::COMPLAINT_SEVERITY_CRITICAL) {
      v.Add(field + ".severity",
            absl::StrCat("must be LOW..CRITICAL, got ",
                         v1::ComplaintSeverity_Name(rule.severity())));
      continue;
    }
    if (++seen[rule.severity()] == 2) {
      v.Add(field + ".severity",
            absl::StrCat("duplicate ",
                         v1::ComplaintSeverity_Name(rule.severity())));
    }
    v.Positive(field + ".resolve_within_hours", rule.resolve_within_hours());
  }
  for (int sev = v1::COMPLAINT_SEVERITY_LOW;
       sev <= v1::COMPLAINT_SEVERITY_CRITICAL; ++sev) {
    if (seen[sev] == 0) {
      v.Add("satisfaction.sla",
            absl::StrCat("missing a rule for ",
                         v1::ComplaintSeverity_Name(
                             static_cast<v1::ComplaintSeverity>(sev))));
    }
  }
  v.NonNegative("satisfaction.open_complaint_penalty",
                sat.open_complaint_penalty());
  v.NonNegative("satisfaction.sla_breach_penalty", sat.sla_breach_penalty());
  v.Positive("satisfaction.loyalty_full_repeat_orders",
             sat.loyalty_full_repeat_orders());
  v.Positive("satisfaction.loyalty_full_tenure_days",
             sat.loyalty_full_tenure_days());

  const auto& f = r.follow_up();
  v.Positive("follow_up.key_return_visit_days", f.key_return_visit_days());
  v.Positive("follow_up.ordinary_return_visit_days",
             f.ordinary_return_visit_days());
  v.Positive("follow_up.special_return_visit_days",
             f.special_return_visit_days());
  v.NonNegativeInt("follow_up.birthday_lead_days", f.birthday_lead_days());
  v.NonNegativeInt("follow_up.holiday_lead_days", f.holiday_lead_days());
  for (int i = 0; i < f.holidays_size(); ++i) {
    const auto& d = f.holidays(i);
    if (d.year() != 0 || !ValidMonthDay(d.month(), d.day())) {
      v.Add(absl::StrCat("follow_up.holidays[", i, "]"),
            absl::StrCat("must be a yearly date (year 0, valid month/day), "
                         "got ",
                         d.year(), "-", d.month(), "-", d.day()));
    }
  }

  const v1::LtvRules ltv = EffectiveLtvRules(r);
  if (ltv.time_unit_days() < 1 || ltv.time_unit_days() > 365) {
    v.Add("ltv.time_unit_days",
          absl::StrCat("must be in [1, 365], got ", ltv.time_unit_days()));
  }
  if (ltv.horizon_units() < 1 || ltv.horizon_units() > 520) {
    v.Add("ltv.horizon_units",
          absl::StrCat("must be in [1, 520], got ", ltv.horizon_units()));
  }
  if (!(ltv.annual_discount_rate() >= 0 && ltv.annual_discount_rate() < 1)) {
    v.Add("ltv.annual_discount_rate",
          absl::StrCat("must be in [0, 1), got ", ltv.annual_discount_rate()));
  }
  if (!(ltv.margin() > 0 && ltv.margin() <= 1)) {
    v.Add("ltv.margin", absl::StrCat("must be in (0, 1], got ", ltv.margin()));
  }
  if (ltv.min_customers() < 10) {
    v.Add("ltv.min_customers",
          absl::StrCat("must be >= 10, got ", ltv.min_customers()));
  }
  if (ltv.fit_max_customers() < ltv.min_customers()) {
    v.Add("ltv.fit_max_customers",
          absl::StrCat("must be >= min_customers (", ltv.min_customers(),
                       "), got ", ltv.fit_max_customers()));
  }

  const v1::CreditRules cr = EffectiveCreditRules(r);
  auto ascending = [&](const char* what, uint32_t aaa, uint32_t aa, uint32_t a,
                       uint32_t b) {
    const uint32_t vals[4] = {aaa, aa, a, b};
    const char* names[4] = {"aaa", "aa", "a", "b"};
    for (int i = 1; i < 4; ++i) {
      if (vals[i] < vals[i - 1]) {
        v.Add(absl::StrCat("credit.", names[i], "_max_", what),
              absl::StrCat("must be >= ", names[i - 1], "_max_", what, " (",
                           vals[i - 1], "), got ", vals[i]));
      }
    }
  };
  ascending("days_late", cr.aaa_max_days_late(), cr.aa_max_days_late(),
            cr.a_max_days_late(), cr.b_max_days_late());
  ascending("late_pct", cr.aaa_max_late_pct(), cr.aa_max_late_pct(),
            cr.a_max_late_pct(), cr.b_max_late_pct());
  if (cr.b_max_late_pct() > 100) {
    v.Add("credit.b_max_late_pct",
          absl::StrCat("must be <= 100, got ", cr.b_max_late_pct()));
  }
  ascending("outstanding_pct", cr.aaa_max_outstanding_pct(),
            cr.aa_max_outstanding_pct(), cr.a_max_outstanding_pct(),
            cr.b_max_outstanding_pct());
  const v1::PopulationSchedule& ps = r.population_schedule();
  if (ps.every_days() > 3660) {
    v.Add(
        "population_schedule.every_days",
        absl::StrCat("must be in [0, 3660] (0 = off), got ", ps.every_days()));
  }
  if (!ScheduleAnchor(ps).ok()) {
    v.Add("population_schedule.anchor",
          absl::StrCat("must be an RFC 3339 time such as "
                       "\"2026-01-01T00:00:00Z\", got \"",
                       ps.anchor(), "\""));
  }
  return v.ToStatus();
}

v1::LtvRules EffectiveLtvRules(const v1::Rules& rules) {
  v1::LtvRules out = rules.ltv();
  if (!out.has_time_unit_days()) out.set_time_unit_days(7);
  if (!out.has_horizon_units()) out.set_horizon_units(52);
  if (!out.has_annual_discount_rate()) out.set_annual_discount_rate(0.10);
  if (!out.has_margin()) out.set_margin(1.0);
  if (!out.has_min_customers()) out.set_min_customers(100);
  if (!out.has_fit_max_customers()) out.set_fit_max_customers(20000);
  return out;
}

absl::StatusOr<absl::Time> ScheduleAnchor(
    const v1::PopulationSchedule& schedule) {
  if (schedule.anchor().empty()) return absl::UnixEpoch();
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, schedule.anchor(), &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("population_schedule.anchor: ", err));
  }
  return t;
}

absl::Time NextPassBoundary(const v1::Rules& rules, absl::Time t) {
  const v1::PopulationSchedule& ps = rules.population_schedule();
  const absl::StatusOr<absl::Time> anchor = ScheduleAnchor(ps);
  if (ps.every_days() == 0 || !anchor.ok() || t == absl::InfiniteFuture()) {
    return absl::InfiniteFuture();
  }
  const absl::Duration every = absl::Hours(24) * ps.every_days();
  // Before any event a log holds: the boundary at or before both the
  // anchor and the epoch.
  if (t == absl::InfinitePast()) {
    t = std::min(*anchor, absl::UnixEpoch()) - every;
  }
  // floor((t - anchor) / every) + 1 periods after the anchor, in whole
  // periods so the boundaries never drift.
  const absl::Duration since = t - *anchor;
  absl::Duration rest;
  int64_t k = absl::IDivDuration(since, every, &rest);
  if (*anchor + every * k > t) --k;  // IDivDuration truncates toward zero
  return *anchor + every * (k + 1);
}

v1::CreditRules EffectiveCreditRules(const v1::Rules& rules) {
  v1::CreditRules out = rules.credit();
  if (!out.has_aaa_max_days_late()) out.set_aaa_max_days_late(0);
  if (!out.has_aa_max_days_late()) out.set_aa_max_days_late(7);
  if (!out.has_a_max_days_late()) out.set_a_max_days_late(30);
  if (!out.has_b_max_days_late()) out.set_b_max_days_late(60);
  if (!out.has_aaa_max_late_pct()) out.set_aaa_max_late_pct(0);
  if (!out.has_aa_max_late_pct()) out.set_aa_max_late_pct(10);
  if (!out.has_a_max_late_pct()) out.set_a_max_late_pct(25);
  if (!out.has_b_max_late_pct()) out.set_b_max_late_pct(50);
  if (!out.has_aaa_max_outstanding_pct()) out.set_aaa_max_outstanding_pct(100);
  if (!out.has_aa_max_outstanding_pct()) out.set_aa_max_outstanding_pct(200);
  if (!out.has_a_max_outstanding_pct()) out.set_a_max_outstanding_pct(400);
  if (!out.has_b_max_outstanding_pct()) out.set_b_max_outstanding_pct(800);
  return out;
}

v1::Rules DefaultRules() {
  v1::Rules r;
  r.set_version("2026-12-default");
  r.set_currency("USD");

  auto* vt = r.mutable_value_tier();
  vt->set_window_days(365);
  vt->set_vip_min_minor(100'000'000);   // 1,000,000.00
  vt->set_large_min_minor(20'000'000);  //   200,000.00
  vt->set_medium_min_minor(2'000'000);  //    20,000.00

  auto* abc = r.mutable_abc();
  abc->set_a_max_cumulative_pct(80);
  abc->set_b_max_cumulative_pct(95);

  auto* p = r.mutable_prospect();
  p->set_a_min_win_pct(75);
  p->set_b_min_win_pct(50);
  p->set_c_min_win_pct(25);
  p->set_a_min_stage(v1::OPPORTUNITY_STAGE_NEGOTIATION);
  p->set_b_min_stage(v1::OPPORTUNITY_STAGE_PROPOSAL);
  p->set_c_min_stage(v1::OPPORTUNITY_STAGE_QUALIFICATION);

  auto* vc = r.mutable_value_class();
  vc->set_mvc_min_revenue_minor(50'000'000);
  vc->set_mgc_min_growth_pct(150);
  vc->set_mgc_min_revenue_minor(1'000'000);
  vc->set_bzc_below_net_profit_minor(0);

  auto* w = r.mutable_wallet();
  w->set_high_share_min_pct(50);
  w->set_large_volume_min_minor(10'000'000);
  w->set_share_window_days(365);

  auto* s = r.mutable_stars();
  s->set_current_weight(0.6);
  s->set_future_weight(0.4);
  s->set_gross_profit_weight(0.5);
  s->set_sales_volume_weight(0.3);
  s->set_marketing_cost_weight(0.2);
  s->set_industry_position_weight(0.4);
  s->set_tenure_weight(0.3);
  s->set_satisfaction_weight(0.3);
  s->set_gross_profit_full_minor(20'000'000);
  s->set_sales_volume_full_minor(100'000'000);
  s->set_marketing_cost_zero_ratio(0.2);
  s->set_tenure_full_days(1825);
  for (double f : {20.0, 40.0, 60.0, 80.0}) s->add_star_floors(f);
  s->set_leader_score(100);
  s->set_major_score(75);
  s->set_average_score(50);
  s->set_minor_score(25);
  s->set_unknown_position_score(50);
  s->set_hysteresis(2);

  auto* c = r.mutable_classes();
  c->set_key_pct(25);
  c->set_special_pct(5);
  c->set_key_customers_per_manager(1);
  c->set_ordinary_customers_per_manager(2);
  c->set_special_customers_per_manager(4);

  auto* l = r.mutable_lifecycle();
  l->set_loyal_min_orders(5);
  l->set_new_days(90);
  l->set_at_risk_after_days(90);
  l->set_churned_after_days(180);
  l->set_won_back_days(90);

  r.mutable_rfm()->set_window_days(365);

  auto* sat = r.mutable_satisfaction();
  for (const auto& [sev, hours] :
       std::vector<std::pair<v1::ComplaintSeverity, int64_t>>{
           {v1::COMPLAINT_SEVERITY_LOW, 120},
           {v1::COMPLAINT_SEVERITY_MEDIUM, 72},
           {v1::COMPLAINT_SEVERITY_HIGH, 24},
           {v1::COMPLAINT_SEVERITY_CRITICAL, 4}}) {
    auto* rule = sat->add_sla();
    rule->set_severity(sev);
    rule->set_resolve_within_hours(hours);
  }
  sat->set_open_complaint_penalty(10);
  sat->set_sla_breach_penalty(5);
  sat->set_loyalty_full_repeat_orders(10);
  sat->set_loyalty_full_tenure_days(1095);

  auto* f = r.mutable_follow_up();
  f->set_key_return_visit_days(30);
  f->set_ordinary_return_visit_days(90);
  f->set_special_return_visit_days(180);
  f->set_birthday_lead_days(7);
  for (const auto& [month, day] :
       std::vector<std::pair<int, int>>{{1, 1}, {12, 25}}) {
    auto* h = f->add_holidays();
    h->set_month(month);
    h->set_day(day);
  }
  f->set_holiday_lead_days(14);

  *r.mutable_ltv() = EffectiveLtvRules(r);
  *r.mutable_credit() = EffectiveCreditRules(r);
  return r;
}

}  // namespace crm::projections
