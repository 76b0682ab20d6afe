#include "projections/projector.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/base/status_macros.h"
#include "engine/base/time_util.h"
#include "projections/card/card.h"
#include "projections/enum_names.h"
#include "projections/grade/grade.h"
#include "projections/grade/revenue_ledger.h"
#include "projections/lifecycle/lifecycle.h"
#include "projections/rules/rules.h"
#include "projections/rules/text.h"
#include "projections/rules/units.h"
#include "projections/satisfaction/satisfaction.h"

namespace crm::projections {
namespace {

// Grade dimensions, as GradeChange.dimension names them.
enum class Dim {
  kNone,
  kValueTier,
  kProspect,
  kValueClass,
  kWallet,
  kStars,
  kClass,
  kAbc
};

absl::string_view DimName(Dim d) {
  switch (d) {
    case Dim::kValueTier:
      return "value_tier";
    case Dim::kProspect:
      return "prospect_grade";
    case Dim::kValueClass:
      return "value_class";
    case Dim::kWallet:
      return "wallet_quadrant";
    case Dim::kStars:
      return "stars";
    case Dim::kClass:
      return "customer_class";
    case Dim::kAbc:
      return "abc";
    default:
      return "";
  }
}

uint32_t Bit(Dim d) { return 1u << static_cast<int>(d); }

// A timestamp field as absl::Time; InfinitePast() when unset.
absl::Time TimeOr(bool has, const google::protobuf::Timestamp& ts) {
  return has ? TimeOf(ts) : absl::InfinitePast();
}

// *m = MakeMoney(minor, currency), keeping the currency's allocation.
void SetMoney(int64_t minor, const std::string& currency, v1::Money* m) {
  m->set_minor_units(minor);
  SetString(currency, m->currency(), [m] { return m->mutable_currency(); });
}

// Collects transitions as Transition messages (ApplyEvent, AdvanceTo,
// ApplyPopulationEntry).
class VectorSink : public TransitionSink {
 public:
  explicit VectorSink(std::vector<v1::Transition>* out) : out_(out) {}
  void Raise(const TransitionRef& t) override {
    BuildTransition(t, &out_->emplace_back());
  }

 private:
  std::vector<v1::Transition>* out_;
};

// Shared state of one ApplyEvent / AdvanceTo / ApplyPopulationEntry call.
struct Run {
  Run(const v1::Rules& r, v1::CustomerState* s, TransitionSink* k)
      : rules(r), state(s), sink(k) {}

  const v1::Rules& rules;
  v1::CustomerState* state;
  TransitionSink* sink;               // null: transitions only counted
  size_t raised = 0;                  // transitions raised
  absl::string_view event_id;         // empty: time-driven
  Dim manual_dimension = Dim::kNone;  // dimension regraded by this event
  // What this event's body changed that a stored why may name.
  bool orders_changed = false;  // net orders
  bool wallet_changed = false;  // the wallet estimate
  bool opportunities_changed = false;
  std::string population_why;   // set by ApplyPopulationEntry
  internal::CalendarYear year;  // the last year follow-ups used
};

void Emit(Run& run, v1::TransitionKind kind, absl::string_view dimension,
          absl::string_view from, absl::string_view to, absl::Time at,
          absl::string_view why, absl::string_view subject = {}) {
  ++run.raised;
  if (run.sink == nullptr) return;
  TransitionRef t;
  t.customer_id = run.state->customer_id();
  t.kind = kind;
  t.dimension = dimension;
  t.from = from;
  t.to = to;
  t.at = at;
  t.rules_version = run.rules.version();
  t.why = why;
  t.event_id = run.event_id;
  t.subject_id = subject;
  run.sink->Raise(t);
}

// Records a grade dimension change in the history and as a transition.
void RecordGradeChange(Run& run, Dim dim, absl::string_view from,
                       absl::string_view to, absl::Time at,
                       absl::string_view why) {
  const absl::string_view dimension = DimName(dim);
  v1::GradeChange* c =
      run.state->mutable_views()->mutable_grade()->add_history();
  SetString(dimension, c->dimension(), [c] { return c->mutable_dimension(); });
  SetString(from, c->from(), [c] { return c->mutable_from(); });
  SetString(to, c->to(), [c] { return c->mutable_to(); });
  SetTimestamp(at, c->mutable_at());
  SetString(why, c->why(), [c] { return c->mutable_why(); });
  c->set_rules_version(run.rules.version());
  Emit(run, v1::TRANSITION_KIND_GRADE_CHANGED, dimension, from, to, at, why);
}

// True when a change of `dim` from `from` to `to` is recorded: the value
// names differ, or the current event regraded `dim` (recorded even if
// unchanged). `name` gives an enum value's name; names are compared only
// when the values differ.
template <typename Name>
bool ShouldRecord(const Run& run, Dim dim, int from, int to, Name name) {
  if (dim == run.manual_dimension) return true;
  return from != to && name(from) != name(to);
}

// The grade dimension a regrade targets.
Dim RegradeDim(const v1::CustomerRegraded& r) {
  switch (r.target_case()) {
    case v1::CustomerRegraded::kValueTier:
      return Dim::kValueTier;
    case v1::CustomerRegraded::kCustomerClass:
      return Dim::kClass;
    case v1::CustomerRegraded::kStars:
      return Dim::kStars;
    default:
      return Dim::kNone;
  }
}

const v1::ManualOverride* FindOverride(const v1::GradeView& g, Dim dim) {
  for (const auto& o : g.overrides()) {
    if (RegradeDim(o.regrade()) == dim) return &o;
  }
  return nullptr;
}

LifecycleFacts LifecycleFactsOf(const v1::CustomerState& s) {
  const auto& lc = s.views().lifecycle();
  LifecycleFacts f;
  f.net_orders = static_cast<int64_t>(lc.orders());
  f.lead = s.facts().lead();
  f.first_order_at = TimeOr(lc.has_first_order_at(), lc.first_order_at());
  f.last_order_at = TimeOr(lc.has_last_order_at(), lc.last_order_at());
  f.won_back_at = TimeOr(s.facts().has_won_back_at(), s.facts().won_back_at());
  return f;
}

// The yearly part of FollowUpInputsOf: all NextFollowUpDeadline reads.
FollowUpInputs YearlyFollowUpInputsOf(const v1::CustomerState& s) {
  const auto& card = s.views().card();
  const auto& f = s.facts();
  FollowUpInputs in;
  in.last_birthday_visit_at =
      TimeOr(f.has_last_birthday_visit_at(), f.last_birthday_visit_at());
  in.last_holiday_visit_at =
      TimeOr(f.has_last_holiday_visit_at(), f.last_holiday_visit_at());
  const auto& b = card.profile().birthday();
  in.has_birthday = card.profile().has_birthday() && b.month() >= 1 &&
                    b.month() <= 12 && b.day() >= 1 && b.day() <= 31;
  in.birthday_month = b.month();
  in.birthday_day = b.day();
  return in;
}

FollowUpInputs FollowUpInputsOf(const v1::CustomerState& s) {
  const auto& card = s.views().card();
  const auto& f = s.facts();
  FollowUpInputs in;
  in.customer_class = s.views().grade().customer_class();
  in.registered_at = TimeOr(card.has_registered_at(), card.registered_at());
  in.last_visit_at =
      TimeOr(card.visits().has_last_at(), card.visits().last_at());
  in.explicit_follow_up_at =
      TimeOr(f.has_explicit_follow_up_at(), f.explicit_follow_up_at());
  in.last_birthday_visit_at =
      TimeOr(f.has_last_birthday_visit_at(), f.last_birthday_visit_at());
  in.last_holiday_visit_at =
      TimeOr(f.has_last_holiday_visit_at(), f.last_holiday_visit_at());
  const auto& b = card.profile().birthday();
  in.has_birthday = card.profile().has_birthday() && b.month() >= 1 &&
                    b.month() <= 12 && b.day() >= 1 && b.day() <= 31;
  in.birthday_month = b.month();
  in.birthday_day = b.day();
  return in;
}

int64_t WholeDays(absl::Duration d) {
  return d <= absl::ZeroDuration() ? 0 : absl::ToInt64Hours(d) / 24;
}

// Earliest scheduled change strictly after `after` if it is at or before
// `bound`; otherwise some time after `bound`. Ledger and follow-up deadlines
// fall on a day start after `after`'s day, so they are not looked for when
// `bound` comes before the next day.
absl::Time NextDeadline(const v1::CustomerState& s, const v1::Rules& rules,
                        absl::Time after, absl::Time bound,
                        internal::CalendarYear* year) {
  absl::Time next = NextStageDeadline(LifecycleFactsOf(s), rules, after);
  next = std::min(next, NextSlaDeadline(s.views().satisfaction(), after));
  if (bound >= DayStart(DayNumber(after) + 1)) {
    next = std::min(next, NextLedgerDeadline(s.facts(), rules, after));
    next = std::min(next, internal::NextFollowUpDeadline(
                              YearlyFollowUpInputsOf(s), rules, after, year));
  }
  for (const auto& o : s.views().grade().overrides()) {
    if (!o.regrade().has_expires_at()) continue;
    const absl::Time t = TimeOf(o.regrade().expires_at());
    if (t > after && t < next) next = t;
  }
  return next;
}

std::string StarsName(uint32_t stars) { return absl::StrCat(stars); }

// Recomputes every view at `t` and records what changed.
void Evaluate(Run& run, absl::Time t) {
  v1::CustomerState* s = run.state;
  const v1::Rules& rules = run.rules;
  v1::ProjectionFacts* facts = s->mutable_facts();
  v1::CustomerViews* views = s->mutable_views();
  v1::GradeView* grade = views->mutable_grade();
  v1::LifecycleView* lc = views->mutable_lifecycle();
  v1::SatisfactionView* sat = views->mutable_satisfaction();
  v1::CustomerCard* card = views->mutable_card();
  const std::string& currency = rules.currency();

  PruneLedger(t, rules, facts);

  // Overrides that lapse at or before t.
  uint32_t expired = 0;  // Bit(dim) of each
  {
    auto* overrides = grade->mutable_overrides();
    for (int i = overrides->size() - 1; i >= 0; --i) {
      const auto& r = overrides->Get(i).regrade();
      if (r.has_expires_at() && TimeOf(r.expires_at()) <= t) {
        expired |= Bit(RegradeDim(r));
        overrides->DeleteSubrange(i, 1);
      }
    }
  }
  // The why recorded for a change of `dim`; `computed` is the classifier's.
  TextBuffer manual_why;
  auto why_for = [&](Dim dim, absl::string_view computed) -> absl::string_view {
    if (const v1::ManualOverride* o = FindOverride(*grade, dim)) {
      manual_why.Clear();
      manual_why.Append("manual: ").Append(o->regrade().reason());
      return manual_why.view();
    }
    if ((expired & Bit(dim)) != 0) return "override expired";
    if (!run.population_why.empty() &&
        (dim == Dim::kClass || dim == Dim::kAbc)) {
      return run.population_why;
    }
    return computed;
  };

  // SLA breaches whose due time has come.
  if (sat->open_complaints_size() > 0) {
    for (const SlaBreach& b : MarkBreaches(t, sat)) {
      Emit(run, v1::TRANSITION_KIND_SLA_BREACHED,
           v1::ComplaintSeverity_Name(b.severity), "open", "breached", b.due_at,
           absl::StrCat("not resolved within ",
                        absl::ToInt64Hours(SlaWindow(b.severity, rules)), "h"),
           b.complaint_id);
    }
  }

  // A why stored by the previous evaluation is reused when the inputs it
  // names are unchanged; the views record the rules version, and a version
  // names one set of rules (projector.h).
  const bool same_rules = grade->rules_version() == rules.version();
  // Then every view's customer id, rules version and money currency were
  // set by that evaluation already (they never change for a customer).
  const bool settled = same_rules && grade->customer_id() == s->customer_id();

  // Lifecycle. Only LOYAL / ACTIVE name the net orders, which only this
  // event's body can have changed.
  const LifecycleFacts lf = LifecycleFactsOf(*s);
  const v1::LifecycleStage stage = internal::StageAt(lf, rules, t);
  const bool stage_why_kept =
      same_rules && stage == lc->stage() &&
      !(run.orders_changed && (stage == v1::LIFECYCLE_STAGE_LOYAL ||
                               stage == v1::LIFECYCLE_STAGE_ACTIVE));
  TextBuffer stage_why;
  if (!stage_why_kept) internal::AppendStageWhy(stage, lf, rules, &stage_why);
  if (stage != lc->stage()) {
    v1::StageChange* c = lc->add_history();
    c->set_from(lc->stage());
    c->set_to(stage);
    SetTimestamp(t, c->mutable_at());
    c->mutable_why()->assign(stage_why.view().data(), stage_why.view().size());
    c->set_rules_version(rules.version());
    Emit(run, v1::TRANSITION_KIND_LIFECYCLE_STAGE_CHANGED, "lifecycle",
         internal::LifecycleStageName(lc->stage()),
         internal::LifecycleStageName(stage), t, stage_why.view());
    lc->set_stage(stage);
    SetTimestamp(t, lc->mutable_stage_since());
  }
  if (!stage_why_kept) {
    SetString(stage_why.view(), lc->stage_why(),
              [lc] { return lc->mutable_stage_why(); });
  }

  // Grade facts at t.
  const int64_t w = rules.value_tier().window_days();
  const int64_t last_day = DayOf(t);
  WindowSums window, prior;
  SumAdjacentWindows(*facts, last_day, w, &window, &prior);
  const int64_t share_days = rules.wallet().share_window_days();
  const WindowSums share =
      share_days == w ? window
                      : SumDays(*facts, last_day - share_days + 1, last_day);
  const int64_t tenure_days =
      WholeDays(t - TimeOr(card->has_registered_at(), card->registered_at()));

  sat->set_satisfaction_degree(SatisfactionDegree(*sat, rules));
  sat->set_loyalty_degree(
      LoyaltyDegree(static_cast<int64_t>(lc->orders()), tenure_days, rules));

  GradeFacts gf;  // opportunities are read from the state directly
  gf.has_orders = lc->orders() > 0;
  gf.revenue_window = window.revenue;
  gf.revenue_prior_window = prior.revenue;
  gf.gross_profit_window = window.gross_profit;
  gf.marketing_cost_window = window.marketing_cost;
  gf.revenue_share_window = share.revenue;
  gf.has_wallet = facts->has_wallet();
  gf.category_spend = facts->category_spend_minor();
  gf.planned_purchases = facts->planned_purchases_minor();
  gf.industry_position = card->profile().industry_position();
  gf.tenure_days = tenure_days;
  gf.satisfaction_degree = sat->satisfaction_degree();

  // Each why is reused when the dimension's value and the stored inputs
  // its text names are unchanged (see same_rules).
  const v1::ValueTier tier = internal::ValueTierOf(gf, rules);
  const bool tier_why_kept =
      same_rules && tier == grade->computed_value_tier() &&
      (tier == v1::VALUE_TIER_UNSPECIFIED ||
       grade->revenue_window().minor_units() == window.revenue);
  TextBuffer tier_buf;
  if (!tier_why_kept) internal::AppendValueTierWhy(tier, gf, rules, &tier_buf);
  const absl::string_view tier_why =
      tier_why_kept ? absl::string_view(grade->value_tier_why())
                    : tier_buf.view();

  // Without orders the why names the best open opportunity, which only this
  // event's body can have changed.
  const bool prospect_why_kept =
      same_rules &&
      (gf.has_orders
           ? grade->prospect_grade() == v1::PROSPECT_GRADE_UNSPECIFIED
           : grade->prospect_grade() != v1::PROSPECT_GRADE_UNSPECIFIED &&
                 !run.opportunities_changed);
  TextBuffer prospect_buf;
  const v1::ProspectGrade prospect =
      internal::ProspectOf(gf.has_orders, facts->opportunities(), rules,
                           prospect_why_kept ? nullptr : &prospect_buf);
  const absl::string_view prospect_why =
      prospect_why_kept ? absl::string_view(grade->prospect_grade_why())
                        : prospect_buf.view();

  const v1::ValueClass vclass = internal::ValueClassOf(gf, rules);
  bool vclass_why_kept = same_rules && vclass == grade->value_class();
  if (vclass_why_kept) {
    switch (vclass) {
      case v1::VALUE_CLASS_BZC:
        vclass_why_kept =
            grade->net_profit_window().minor_units() == window.net_profit();
        break;
      case v1::VALUE_CLASS_MVC:
        vclass_why_kept =
            grade->revenue_window().minor_units() == window.revenue;
        break;
      case v1::VALUE_CLASS_MGC:
        vclass_why_kept =
            grade->revenue_window().minor_units() == window.revenue &&
            grade->revenue_prior_window().minor_units() == prior.revenue;
        break;
      default:
        break;
    }
  }
  TextBuffer vclass_buf;
  if (!vclass_why_kept) {
    internal::AppendValueClassWhy(vclass, gf, rules, &vclass_buf);
  }
  const absl::string_view vclass_why =
      vclass_why_kept ? absl::string_view(grade->value_class_why())
                      : vclass_buf.view();

  // The wallet why names the share revenue (stored as revenue_window when
  // the windows are equal) and the estimate (changed only by this body).
  double wallet_share = 0;
  const bool wallet_inputs_kept =
      same_rules && (!gf.has_wallet ||
                     (!run.wallet_changed && share_days == w &&
                      grade->revenue_window().minor_units() == window.revenue));
  TextBuffer wallet_buf;
  const v1::WalletQuadrant wallet = internal::WalletOf(
      gf, rules, &wallet_share, wallet_inputs_kept ? nullptr : &wallet_buf);
  const bool wallet_why_kept =
      wallet_inputs_kept && wallet == grade->wallet_quadrant();
  if (wallet_inputs_kept && !wallet_why_kept) {
    internal::WalletOf(gf, rules, &wallet_share, &wallet_buf);
  }
  const absl::string_view wallet_why =
      wallet_why_kept ? absl::string_view(grade->wallet_why())
                      : wallet_buf.view();

  // Stars: the components go straight into the view (nothing below reads
  // the previous ones); the previous computed rating drives hysteresis.
  // With the same total, the held rating and its why are the same again.
  v1::StarComponents* components = grade->mutable_star_components();
  const double previous_total = components->total();
  const uint32_t previous_stars = grade->computed_stars();
  uint32_t computed_stars = 0;
  bool stars_why_kept = false;
  TextBuffer stars_buf;
  if (!gf.has_orders) {
    components->Clear();
    stars_why_kept = same_rules && previous_stars == 0;
    if (!stars_why_kept) stars_buf.Append("no order");
  } else {
    const uint32_t rated = internal::ScoreStars(gf, rules, components);
    const double total = components->total();
    const uint32_t held =
        StarsWithHysteresis(total, previous_stars, rules.stars());
    stars_why_kept = same_rules && previous_stars != 0 &&
                     held == previous_stars &&
                     std::memcmp(&total, &previous_total, sizeof total) == 0;
    if (stars_why_kept) {
    } else if (held != rated) {
      internal::AppendHysteresisWhy(total, rules.stars().hysteresis(), held,
                                    &stars_buf);
    } else {
      internal::AppendStarsWhy(total, rated, &stars_buf);
    }
    computed_stars = held;
  }
  const absl::string_view stars_why =
      stars_why_kept ? absl::string_view(grade->stars_why()) : stars_buf.view();
  sat->set_dependence_degree(DependenceDegree(gf.has_wallet, wallet_share));

  // Effective values: an active override wins.
  v1::ValueTier eff_tier = tier;
  uint32_t eff_stars = computed_stars;
  v1::CustomerClass eff_class = grade->computed_customer_class();
  if (grade->overrides_size() > 0) {
    if (const auto* o = FindOverride(*grade, Dim::kValueTier)) {
      eff_tier = o->regrade().value_tier();
    }
    if (const auto* o = FindOverride(*grade, Dim::kStars)) {
      eff_stars = o->regrade().stars();
    }
    if (const auto* o = FindOverride(*grade, Dim::kClass)) {
      eff_class = o->regrade().customer_class();
    }
  }

  auto tier_name = internal::ValueTierName;
  if (ShouldRecord(run, Dim::kValueTier, grade->value_tier(), eff_tier,
                   tier_name)) {
    RecordGradeChange(run, Dim::kValueTier, tier_name(grade->value_tier()),
                      tier_name(eff_tier), t,
                      why_for(Dim::kValueTier, tier_why));
  }
  auto prospect_name = internal::ProspectGradeName;
  if (ShouldRecord(run, Dim::kProspect, grade->prospect_grade(), prospect,
                   prospect_name)) {
    RecordGradeChange(run, Dim::kProspect,
                      prospect_name(grade->prospect_grade()),
                      prospect_name(prospect), t, prospect_why);
  }
  auto vclass_name = internal::ValueClassName;
  if (ShouldRecord(run, Dim::kValueClass, grade->value_class(), vclass,
                   vclass_name)) {
    RecordGradeChange(run, Dim::kValueClass, vclass_name(grade->value_class()),
                      vclass_name(vclass), t, vclass_why);
  }
  auto wallet_name = internal::WalletQuadrantName;
  if (ShouldRecord(run, Dim::kWallet, grade->wallet_quadrant(), wallet,
                   wallet_name)) {
    RecordGradeChange(run, Dim::kWallet, wallet_name(grade->wallet_quadrant()),
                      wallet_name(wallet), t, wallet_why);
  }
  if (eff_stars != grade->stars() || run.manual_dimension == Dim::kStars) {
    RecordGradeChange(run, Dim::kStars, StarsName(grade->stars()),
                      StarsName(eff_stars), t, why_for(Dim::kStars, stars_why));
  }
  auto class_name = internal::CustomerClassName;
  if (ShouldRecord(run, Dim::kClass, grade->customer_class(), eff_class,
                   class_name)) {
    RecordGradeChange(run, Dim::kClass, class_name(grade->customer_class()),
                      class_name(eff_class), t,
                      why_for(Dim::kClass, "population pass"));
  }

  if (!settled) {
    SetString(s->customer_id(), grade->customer_id(),
              [grade] { return grade->mutable_customer_id(); });
  }
  grade->set_value_tier(eff_tier);
  grade->set_computed_value_tier(tier);
  if (!tier_why_kept) {
    SetString(tier_why, grade->value_tier_why(),
              [grade] { return grade->mutable_value_tier_why(); });
  }
  grade->set_prospect_grade(prospect);
  if (!prospect_why_kept) {
    SetString(prospect_why, grade->prospect_grade_why(),
              [grade] { return grade->mutable_prospect_grade_why(); });
  }
  grade->set_value_class(vclass);
  if (!vclass_why_kept) {
    SetString(vclass_why, grade->value_class_why(),
              [grade] { return grade->mutable_value_class_why(); });
  }
  if (wallet != grade->wallet_quadrant()) {  // the strategy follows it
    SetString(internal::WalletStrategyText(wallet), grade->wallet_strategy(),
              [grade] { return grade->mutable_wallet_strategy(); });
  }
  grade->set_wallet_quadrant(wallet);
  grade->set_share_of_wallet(wallet_share);
  if (!wallet_why_kept) {
    SetString(wallet_why, grade->wallet_why(),
              [grade] { return grade->mutable_wallet_why(); });
  }
  grade->set_stars(eff_stars);
  grade->set_computed_stars(computed_stars);
  if (!stars_why_kept) {
    SetString(stars_why, grade->stars_why(),
              [grade] { return grade->mutable_stars_why(); });
  }
  grade->set_customer_class(eff_class);
  if (settled) {
    grade->mutable_revenue_window()->set_minor_units(window.revenue);
    grade->mutable_revenue_prior_window()->set_minor_units(prior.revenue);
    grade->mutable_gross_profit_window()->set_minor_units(window.gross_profit);
    grade->mutable_marketing_cost_window()->set_minor_units(
        window.marketing_cost);
    grade->mutable_net_profit_window()->set_minor_units(window.net_profit());
  } else {
    SetMoney(window.revenue, currency, grade->mutable_revenue_window());
    SetMoney(prior.revenue, currency, grade->mutable_revenue_prior_window());
    SetMoney(window.gross_profit, currency,
             grade->mutable_gross_profit_window());
    SetMoney(window.marketing_cost, currency,
             grade->mutable_marketing_cost_window());
    SetMoney(window.net_profit(), currency, grade->mutable_net_profit_window());
    {
      v1::Money* money = grade->mutable_revenue_total();
      SetString(currency, money->currency(),
                [money] { return money->mutable_currency(); });
    }
    {
      v1::Money* money = grade->mutable_net_profit_total();
      SetString(currency, money->currency(),
                [money] { return money->mutable_currency(); });
    }
    SetString(rules.version(), grade->rules_version(),
              [grade] { return grade->mutable_rules_version(); });
  }
  SetTimestamp(t, grade->mutable_as_of());

  // Card follow-up (after the class is settled).
  const char* reason = "";
  const absl::Time follow_up = internal::NextFollowUpAt(
      FollowUpInputsOf(*s), rules, t, &reason, &run.year);
  if (follow_up == absl::InfiniteFuture()) {
    card->clear_next_follow_up_at();
    card->clear_next_follow_up_reason();
  } else {
    SetTimestamp(follow_up, card->mutable_next_follow_up_at());
    SetString(reason, card->next_follow_up_reason(),
              [card] { return card->mutable_next_follow_up_reason(); });
  }
  if (!settled) {
    SetString(rules.version(), card->rules_version(),
              [card] { return card->mutable_rules_version(); });
    SetString(s->customer_id(), lc->customer_id(),
              [lc] { return lc->mutable_customer_id(); });
    SetString(rules.version(), lc->rules_version(),
              [lc] { return lc->mutable_rules_version(); });
    SetString(s->customer_id(), sat->customer_id(),
              [sat] { return sat->mutable_customer_id(); });
    SetString(rules.version(), sat->rules_version(),
              [sat] { return sat->mutable_rules_version(); });
  }
  SetTimestamp(t, sat->mutable_as_of());
}

// Sets the state's as_of and the lifecycle's time in stage.
void SetAsOf(absl::Time t, v1::CustomerState* s) {
  SetTimestamp(t, s->mutable_facts()->mutable_as_of());
  v1::LifecycleView* lc = s->mutable_views()->mutable_lifecycle();
  if (s->facts().seen()) {
    SetTimestamp(t, lc->mutable_as_of());
    lc->set_time_in_stage_seconds(
        lc->has_stage_since()
            ? absl::ToInt64Seconds(t - TimeOf(lc->stage_since()))
            : 0);
  }
}

// True when evaluating at `t` would record nothing: no SLA breach, no
// override lapsing, and the stage, every effective and computed grade value
// and the held star rating as stored. Then an evaluation at `t` followed by
// another one in the same call (which rewrites every view field) leaves the
// same state as the later one alone; the ledger is pruned at `t` all the
// same, since pruning decides which orders later events can match. Pure.
bool NothingRecordedAt(const Run& run, absl::Time t) {
  const v1::CustomerState& s = *run.state;
  const v1::Rules& rules = run.rules;
  const v1::ProjectionFacts& facts = s.facts();
  const v1::GradeView& grade = s.views().grade();
  const v1::SatisfactionView& sat = s.views().satisfaction();
  const v1::CustomerCard& card = s.views().card();
  if (grade.overrides_size() > 0) return false;
  for (const auto& c : sat.open_complaints()) {
    if (!c.breached() && TimeOf(c.due_at()) <= t) return false;
  }
  const LifecycleFacts lf = LifecycleFactsOf(s);
  if (internal::StageAt(lf, rules, t) != s.views().lifecycle().stage()) {
    return false;
  }
  if (grade.customer_class() != grade.computed_customer_class()) return false;

  // As Evaluate computes them.
  const int64_t w = rules.value_tier().window_days();
  const int64_t last_day = DayOf(t);
  WindowSums window, prior;
  SumAdjacentWindows(facts, last_day, w, &window, &prior);
  const int64_t share_days = rules.wallet().share_window_days();
  const WindowSums share =
      share_days == w ? window
                      : SumDays(facts, last_day - share_days + 1, last_day);
  GradeFacts gf;
  gf.has_orders = s.views().lifecycle().orders() > 0;
  gf.revenue_window = window.revenue;
  gf.revenue_prior_window = prior.revenue;
  gf.gross_profit_window = window.gross_profit;
  gf.marketing_cost_window = window.marketing_cost;
  gf.revenue_share_window = share.revenue;
  gf.has_wallet = facts.has_wallet();
  gf.category_spend = facts.category_spend_minor();
  gf.planned_purchases = facts.planned_purchases_minor();
  gf.industry_position = card.profile().industry_position();
  gf.tenure_days =
      WholeDays(t - TimeOr(card.has_registered_at(), card.registered_at()));
  gf.satisfaction_degree = SatisfactionDegree(sat, rules);

  const v1::ValueTier tier = internal::ValueTierOf(gf, rules);
  if (tier != grade.computed_value_tier() || tier != grade.value_tier()) {
    return false;
  }
  if (internal::ProspectOf(gf.has_orders, facts.opportunities(), rules,
                           nullptr) != grade.prospect_grade()) {
    return false;
  }
  if (internal::ValueClassOf(gf, rules) != grade.value_class()) return false;
  double share_of_wallet = 0;
  if (internal::WalletOf(gf, rules, &share_of_wallet, nullptr) !=
      grade.wallet_quadrant()) {
    return false;
  }
  uint32_t held = 0;
  if (gf.has_orders) {
    v1::StarComponents components;
    internal::ScoreStars(gf, rules, &components);
    held = StarsWithHysteresis(components.total(), grade.computed_stars(),
                               rules.stars());
  }
  return held == grade.computed_stars() && held == grade.stars();
}

// Evaluates at every deadline in (as_of, target], then sets the as_of. With
// `evaluation_follows` (the caller evaluates again before returning), a
// deadline at which nothing is recorded is only pruned at.
void Advance(Run& run, absl::Time target, bool evaluation_follows) {
  v1::CustomerState* s = run.state;
  absl::Time cur = TimeOf(s->facts().as_of());
  if (target <= cur) return;
  if (s->facts().seen()) {
    for (;;) {
      const absl::Time d = NextDeadline(*s, run.rules, cur, target, &run.year);
      if (d > target) break;
      if (evaluation_follows) {
        PruneLedger(d, run.rules, s->mutable_facts());
        if (NothingRecordedAt(run, d)) {
          cur = d;
          continue;
        }
      }
      Evaluate(run, d);
      cur = d;
    }
  }
  SetAsOf(target, s);
}

std::string CurrencyError(const v1::Envelope& e, absl::string_view field,
                          const v1::Money& m, const v1::Rules& rules) {
  if (m.minor_units() == 0 || m.currency() == rules.currency()) return "";
  return absl::StrCat("event ", e.event_id(), ": ", field,
                      ".currency: must be \"", rules.currency(),
                      "\" (the rules currency), got \"", m.currency(), "\"");
}

// Upserts or closes an opportunity.
void ApplyOpportunity(const v1::OpportunityUpdated& o, absl::Time at,
                      v1::ProjectionFacts* facts) {
  auto* opps = facts->mutable_opportunities();
  for (int i = 0; i < opps->size(); ++i) {
    if (opps->Get(i).opportunity_id() == o.opportunity_id()) {
      opps->DeleteSubrange(i, 1);
      break;
    }
  }
  if (o.stage() == v1::OPPORTUNITY_STAGE_CLOSED_WON ||
      o.stage() == v1::OPPORTUNITY_STAGE_CLOSED_LOST) {
    return;
  }
  v1::OpenOpportunity rec;
  rec.set_opportunity_id(o.opportunity_id());
  rec.set_stage(o.stage());
  rec.set_win_probability_pct(o.win_probability_pct());
  rec.set_expected_amount_minor(o.expected_amount().minor_units());
  SetTimestamp(at, rec.mutable_updated_at());
  *opps->Add() = std::move(rec);
  std::sort(opps->begin(), opps->end(),
            [](const v1::OpenOpportunity& a, const v1::OpenOpportunity& b) {
              return a.opportunity_id() < b.opportunity_id();
            });
  while (opps->size() > kMaxOpenOpportunities) {
    int oldest = 0;
    for (int i = 1; i < opps->size(); ++i) {
      if (TimeOf(opps->Get(i).updated_at()) <
          TimeOf(opps->Get(oldest).updated_at())) {
        oldest = i;
      }
    }
    opps->DeleteSubrange(oldest, 1);
  }
}

void AddTotals(const LedgerDelta& d, const std::string& currency,
               v1::GradeView* g) {
  SetMoney(g->revenue_total().minor_units() + d.sums.revenue, currency,
           g->mutable_revenue_total());
  SetMoney(g->net_profit_total().minor_units() + d.sums.net_profit(), currency,
           g->mutable_net_profit_total());
}

// Applies the event's own facts (not the derived views).
void ApplyBody(Run& run, const v1::Envelope& e) {
  v1::CustomerState* s = run.state;
  v1::ProjectionFacts* facts = s->mutable_facts();
  v1::CustomerViews* views = s->mutable_views();
  v1::LifecycleView* lc = views->mutable_lifecycle();
  const absl::Time at = TimeOf(e.occurred_at());
  const std::string& currency = run.rules.currency();

  SetString(e.customer_id(), s->customer_id(),
            [s] { return s->mutable_customer_id(); });
  facts->set_seen(true);
  ApplyToCard(e, views->mutable_card());

  run.orders_changed = e.body_case() == v1::Envelope::kOrderPlaced ||
                       e.body_case() == v1::Envelope::kOrderCancelled;
  run.wallet_changed = e.body_case() == v1::Envelope::kWalletEstimated;
  run.opportunities_changed =
      e.body_case() == v1::Envelope::kOpportunityUpdated;
  switch (e.body_case()) {
    case v1::Envelope::kLeadQualified:
      facts->set_lead(true);
      break;
    case v1::Envelope::kOpportunityUpdated:
      facts->set_lead(true);
      ApplyOpportunity(e.opportunity_updated(), at, facts);
      break;
    case v1::Envelope::kVisitLogged: {
      const auto& v = e.visit_logged();
      if (v.has_next_follow_up_at()) {
        *facts->mutable_explicit_follow_up_at() = v.next_follow_up_at();
      } else {
        facts->clear_explicit_follow_up_at();
      }
      if (v.kind() == v1::VISIT_KIND_BIRTHDAY &&
          TimeOf(facts->last_birthday_visit_at()) < at) {
        SetTimestamp(at, facts->mutable_last_birthday_visit_at());
      }
      if (v.kind() == v1::VISIT_KIND_HOLIDAY &&
          TimeOf(facts->last_holiday_visit_at()) < at) {
        SetTimestamp(at, facts->mutable_last_holiday_visit_at());
      }
      break;
    }
    case v1::Envelope::kOrderPlaced: {
      const LedgerDelta d = LedgerAddOrder(e.order_placed(), at, facts);
      if (!d.applied) break;
      const absl::Time prev_last =
          TimeOr(lc->has_last_order_at(), lc->last_order_at());
      facts->set_orders_placed(facts->orders_placed() + 1);
      lc->set_orders(lc->orders() + 1);
      if (!lc->has_first_order_at() || at < TimeOf(lc->first_order_at())) {
        SetTimestamp(at, lc->mutable_first_order_at());
      }
      if (prev_last == absl::InfinitePast() || prev_last < at) {
        SetTimestamp(at, lc->mutable_last_order_at());
        if (IsWinBack(prev_last, at, run.rules)) {
          SetTimestamp(at, facts->mutable_won_back_at());
        }
      }
      AddTotals(d, currency, views->mutable_grade());
      break;
    }
    case v1::Envelope::kOrderCancelled: {
      const LedgerDelta d =
          LedgerCancelOrder(e.order_cancelled().order_id(), facts);
      if (!d.applied) {
        facts->set_unmatched_adjustments(facts->unmatched_adjustments() + 1);
        break;
      }
      facts->set_orders_cancelled(facts->orders_cancelled() + 1);
      if (lc->orders() > 0) lc->set_orders(lc->orders() - 1);
      const absl::Time latest = LatestKeptOrderTime(*facts);
      if (lc->orders() > 0 && latest != absl::InfinitePast()) {
        SetTimestamp(latest, lc->mutable_last_order_at());
      }
      AddTotals(d, currency, views->mutable_grade());
      break;
    }
    case v1::Envelope::kOrderReturned: {
      const auto& r = e.order_returned();
      const LedgerDelta d = LedgerReturnOrder(
          r.order_id(), r.refund_amount().minor_units(), at, facts);
      if (!d.matched) {
        facts->set_unmatched_adjustments(facts->unmatched_adjustments() + 1);
      }
      if (d.applied) AddTotals(d, currency, views->mutable_grade());
      break;
    }
    case v1::Envelope::kComplaintOpened:
    case v1::Envelope::kComplaintResolved:
    case v1::Envelope::kSurveyAnswered:
      for (const SlaBreach& b :
           ApplyToSatisfaction(e, run.rules, views->mutable_satisfaction())) {
        Emit(run, v1::TRANSITION_KIND_SLA_BREACHED,
             v1::ComplaintSeverity_Name(b.severity), "open", "breached",
             b.due_at, "resolved after the SLA due time", b.complaint_id);
      }
      break;
    case v1::Envelope::kWalletEstimated:
      facts->set_has_wallet(true);
      facts->set_category_spend_minor(
          e.wallet_estimated().category_spend().minor_units());
      facts->set_planned_purchases_minor(
          e.wallet_estimated().planned_purchases().minor_units());
      break;
    case v1::Envelope::kCustomerRegraded: {
      const auto& r = e.customer_regraded();
      const Dim dim = RegradeDim(r);
      auto* overrides = views->mutable_grade()->mutable_overrides();
      for (int i = 0; i < overrides->size(); ++i) {
        if (RegradeDim(overrides->Get(i).regrade()) == dim) {
          overrides->DeleteSubrange(i, 1);
          break;
        }
      }
      v1::ManualOverride* o = overrides->Add();
      *o->mutable_regrade() = r;
      *o->mutable_at() = e.occurred_at();
      o->set_actor(e.actor());
      o->set_event_id(e.event_id());
      run.manual_dimension = dim;
      break;
    }
    default:
      break;
  }

  // Credit class: payments change the standing, orders the typical order.
  switch (e.body_case()) {
    case v1::Envelope::kPaymentReceived:
    case v1::Envelope::kOrderPlaced:
    case v1::Envelope::kOrderCancelled:
    case v1::Envelope::kOrderReturned: {
      v1::CreditStanding* credit = views->mutable_card()->mutable_credit();
      if (credit->payments() == 0 && credit->outstanding().minor_units() <= 0 &&
          credit->credit_class() == v1::CREDIT_CLASS_UNRATED) {
        break;  // nothing to rate, nothing rated before
      }
      TextBuffer why;
      credit->set_credit_class(RateCreditTo(
          *credit, lc->orders(), views->grade().revenue_total().minor_units(),
          run.rules, &why));
      SetString(why.view(), credit->credit_why(),
                [credit] { return credit->mutable_credit_why(); });
      break;
    }
    default:
      break;
  }
}

}  // namespace

absl::Status ValidateEventForProjection(const v1::Envelope& e,
                                        const v1::Rules& rules,
                                        const v1::CustomerState& state) {
  // The message prefix, built only on error.
  auto ev = [&e]() { return absl::StrCat("event ", e.event_id(), ": "); };
  if (e.customer_id().empty()) {
    return absl::InvalidArgumentError(ev() + "customer_id: must be set");
  }
  if (!state.customer_id().empty() && state.customer_id() != e.customer_id()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ev(), "customer_id: must be \"", state.customer_id(),
        "\" (the state's customer), got \"", e.customer_id(), "\""));
  }
  if (!e.has_occurred_at()) {
    return absl::InvalidArgumentError(ev() + "occurred_at: must be set");
  }
  std::string err;
  auto money = [&](absl::string_view field, const v1::Money& m) {
    if (m.minor_units() == 0 || m.currency() == rules.currency()) return;
    if (err.empty()) err = CurrencyError(e, field, m, rules);
  };
  auto required = [&](absl::string_view field, const std::string& v) {
    if (err.empty() && v.empty())
      err = absl::StrCat(ev(), field, ": must be set");
  };
  switch (e.body_case()) {
    case v1::Envelope::BODY_NOT_SET:
      return absl::InvalidArgumentError(ev() + "body: must be set");
    case v1::Envelope::kOpportunityUpdated:
      required("opportunity_updated.opportunity_id",
               e.opportunity_updated().opportunity_id());
      money("opportunity_updated.expected_amount",
            e.opportunity_updated().expected_amount());
      break;
    case v1::Envelope::kOrderPlaced: {
      const auto& o = e.order_placed();
      required("order_placed.order_id", o.order_id());
      money("order_placed.amount", o.amount());
      money("order_placed.gross_profit", o.gross_profit());
      money("order_placed.discount", o.discount());
      money("order_placed.financing_cost", o.financing_cost());
      break;
    }
    case v1::Envelope::kOrderCancelled:
      required("order_cancelled.order_id", e.order_cancelled().order_id());
      break;
    case v1::Envelope::kOrderReturned:
      required("order_returned.order_id", e.order_returned().order_id());
      money("order_returned.refund_amount", e.order_returned().refund_amount());
      break;
    case v1::Envelope::kPaymentReceived:
      money("payment_received.amount", e.payment_received().amount());
      money("payment_received.outstanding", e.payment_received().outstanding());
      break;
    case v1::Envelope::kComplaintOpened:
      required("complaint_opened.complaint_id",
               e.complaint_opened().complaint_id());
      break;
    case v1::Envelope::kComplaintResolved:
      required("complaint_resolved.complaint_id",
               e.complaint_resolved().complaint_id());
      break;
    case v1::Envelope::kWalletEstimated:
      money("wallet_estimated.category_spend",
            e.wallet_estimated().category_spend());
      money("wallet_estimated.planned_purchases",
            e.wallet_estimated().planned_purchases());
      break;
    case v1::Envelope::kCustomerRegraded: {
      const auto& r = e.customer_regraded();
      switch (r.target_case()) {
        case v1::CustomerRegraded::TARGET_NOT_SET:
          err = ev() + "customer_regraded.target: exactly one must be set";
          break;
        case v1::CustomerRegraded::kStars:
          if (r.stars() < 1 || r.stars() > 5) {
            err = absl::StrCat(
                ev(), "customer_regraded.stars: must be 1..5, got ", r.stars());
          }
          break;
        case v1::CustomerRegraded::kValueTier:
          if (r.value_tier() == v1::VALUE_TIER_UNSPECIFIED) {
            err =
                ev() + "customer_regraded.value_tier: must not be UNSPECIFIED";
          }
          break;
        case v1::CustomerRegraded::kCustomerClass:
          if (r.customer_class() == v1::CUSTOMER_CLASS_UNSPECIFIED) {
            err = ev() +
                  "customer_regraded.customer_class: must not be UNSPECIFIED";
          }
          break;
      }
      break;
    }
    default:
      break;
  }
  if (!err.empty()) return absl::InvalidArgumentError(err);
  return absl::OkStatus();
}

namespace {

// ApplyEvent's work, into run.sink (or only counted).
absl::Status ApplyEventTo(Run& run, const v1::Envelope& event) {
  v1::CustomerState* state = run.state;
  absl::Status valid = ValidateEventForProjection(event, run.rules, *state);
  if (!valid.ok()) return valid;
  const absl::Time at = TimeOf(event.occurred_at());
  if (state->customer_id().empty()) state->set_customer_id(event.customer_id());
  Advance(run, at, /*evaluation_follows=*/true);
  const absl::Time eval_at = std::max(at, TimeOf(state->facts().as_of()));
  run.event_id = event.event_id();
  ApplyBody(run, event);
  Evaluate(run, eval_at);
  SetAsOf(eval_at, state);
  return absl::OkStatus();
}

}  // namespace

void BuildTransition(const TransitionRef& ref, v1::Transition* t) {
  // Empty strings are left unset: the same message.
  SetString(ref.customer_id, t->customer_id(),
            [t] { return t->mutable_customer_id(); });
  t->set_kind(ref.kind);
  SetString(ref.dimension, t->dimension(),
            [t] { return t->mutable_dimension(); });
  SetString(ref.from, t->from(), [t] { return t->mutable_from(); });
  SetString(ref.to, t->to(), [t] { return t->mutable_to(); });
  SetTimestamp(ref.at, t->mutable_at());
  SetString(ref.rules_version, t->rules_version(),
            [t] { return t->mutable_rules_version(); });
  SetString(ref.why, t->why(), [t] { return t->mutable_why(); });
  SetString(ref.event_id, t->event_id(), [t] { return t->mutable_event_id(); });
  SetString(ref.subject_id, t->subject_id(),
            [t] { return t->mutable_subject_id(); });
}

absl::StatusOr<std::vector<v1::Transition>> ApplyEvent(
    const v1::Envelope& event, const v1::Rules& rules,
    v1::CustomerState* state) {
  std::vector<v1::Transition> out;
  VectorSink sink(&out);
  Run run(rules, state, &sink);
  CRM_RETURN_IF_ERROR(ApplyEventTo(run, event));
  return out;
}

absl::StatusOr<size_t> ApplyEventToSink(const v1::Envelope& event,
                                        const v1::Rules& rules,
                                        v1::CustomerState* state,
                                        TransitionSink* sink) {
  Run run(rules, state, sink);
  CRM_RETURN_IF_ERROR(ApplyEventTo(run, event));
  return run.raised;
}

std::vector<v1::Transition> AdvanceTo(absl::Time as_of, const v1::Rules& rules,
                                      v1::CustomerState* state) {
  std::vector<v1::Transition> out;
  VectorSink sink(&out);
  Run run(rules, state, &sink);
  Advance(run, as_of, /*evaluation_follows=*/false);
  return out;
}

v1::PopulationFacts ExtractPopulationFacts(const v1::CustomerState& state,
                                           const v1::Rules& rules,
                                           absl::Time as_of) {
  v1::PopulationFacts p;
  const auto& lc = state.views().lifecycle();
  p.set_customer_id(state.customer_id());
  p.set_account_manager(state.views().card().profile().account_manager());
  p.set_revenue_window_minor(
      SumWindow(state.facts(), as_of, rules.value_tier().window_days())
          .revenue);
  p.set_has_orders(lc.orders() > 0);
  if (p.has_orders()) {
    p.set_recency_days(WholeDays(as_of - TimeOf(lc.last_order_at())));
    const WindowSums rfm =
        SumWindow(state.facts(), as_of, rules.rfm().window_days());
    p.set_frequency(rfm.orders);
    p.set_monetary_minor(rfm.revenue);
    // Lifetime-value inputs in model units (weeks by default).
    const double unit = absl::ToDoubleSeconds(
        absl::Hours(24) * EffectiveLtvRules(rules).time_unit_days());
    const absl::Time first = TimeOf(lc.first_order_at());
    const absl::Time last = TimeOf(lc.last_order_at());
    v1::LtvInputs* in = p.mutable_ltv();
    in->set_x(static_cast<double>(lc.orders() - 1));
    if (lc.orders() > 1) {
      in->set_t_x(std::max(0.0, absl::ToDoubleSeconds(last - first) / unit));
    }
    in->set_t(std::max(0.0, absl::ToDoubleSeconds(as_of - first) / unit));
    in->set_mean_value(
        std::max(0.0, static_cast<double>(
                          state.views().grade().revenue_total().minor_units()) /
                          static_cast<double>(lc.orders())));
  }
  return p;
}

absl::StatusOr<std::vector<v1::Transition>> ApplyPopulationEntry(
    const v1::PopulationEntry& entry, absl::Time as_of, const v1::Rules& rules,
    v1::CustomerState* state) {
  if (entry.customer_id() != state->customer_id()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "population entry: customer_id: must be \"", state->customer_id(),
        "\" (the state's customer), got \"", entry.customer_id(), "\""));
  }
  std::vector<v1::Transition> out;
  VectorSink sink(&out);
  Run run(rules, state, &sink);
  Advance(run, as_of, /*evaluation_follows=*/true);
  const absl::Time t = TimeOf(state->facts().as_of());
  run.population_why = absl::StrCat("population pass rank ", entry.rank());
  v1::GradeView* grade = state->mutable_views()->mutable_grade();
  auto abc_name = internal::AbcClassName;
  if (ShouldRecord(run, Dim::kAbc, grade->abc(), entry.abc(), abc_name)) {
    RecordGradeChange(run, Dim::kAbc, abc_name(grade->abc()),
                      abc_name(entry.abc()), t, run.population_why);
  }
  grade->set_abc(entry.abc());
  grade->set_computed_customer_class(entry.customer_class());
  v1::LifecycleView* lc = state->mutable_views()->mutable_lifecycle();
  lc->set_rfm_r(entry.rfm_r());
  lc->set_rfm_f(entry.rfm_f());
  lc->set_rfm_m(entry.rfm_m());
  lc->set_rfm_segment(entry.rfm_segment());
  state->mutable_views()->mutable_satisfaction()->set_contribution_degree(
      entry.contribution_degree());
  if (entry.ltv_computed()) {
    lc->set_expected_purchases(entry.expected_purchases());
    lc->set_probability_alive(entry.probability_alive());
    if (entry.lifetime_value_computed()) {
      SetMoney(entry.lifetime_value_minor(), rules.currency(),
               lc->mutable_lifetime_value());
    } else {
      lc->clear_lifetime_value();
    }
    *lc->mutable_ltv_as_of() = entry.ltv_as_of();
    lc->set_ltv_horizon_days(entry.ltv_horizon_days());
  } else {
    lc->clear_expected_purchases();
    lc->clear_probability_alive();
    lc->clear_lifetime_value();
    lc->clear_ltv_as_of();
    lc->clear_ltv_horizon_days();
  }
  if (state->facts().seen()) Evaluate(run, t);
  return out;
}

}  // namespace crm::projections
