#include "projections/projector.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/base/time_util.h"
#include "projections/card/card.h"
#include "projections/grade/grade.h"
#include "projections/grade/revenue_ledger.h"
#include "projections/lifecycle/lifecycle.h"
#include "projections/rules/units.h"
#include "projections/satisfaction/satisfaction.h"

namespace crm::projections {
namespace {

constexpr char kDimValueTier[] = "value_tier";
constexpr char kDimProspect[] = "prospect_grade";
constexpr char kDimValueClass[] = "value_class";
constexpr char kDimWallet[] = "wallet_quadrant";
constexpr char kDimStars[] = "stars";
constexpr char kDimClass[] = "customer_class";
constexpr char kDimAbc[] = "abc";

// A timestamp field as absl::Time; InfinitePast() when unset.
absl::Time TimeOr(bool has, const google::protobuf::Timestamp& ts) {
  return has ? FromProto(ts) : absl::InfinitePast();
}

// Shared state of one ApplyEvent / AdvanceTo / ApplyPopulationEntry call.
struct Run {
  const v1::Rules& rules;
  v1::CustomerState* state;
  std::vector<v1::Transition>* out;
  std::string event_id;          // empty: time-driven
  std::string manual_dimension;  // dimension regraded by this event
  std::string manual_why;
  std::string population_why;  // set by ApplyPopulationEntry
};

void Emit(Run& run, v1::TransitionKind kind, const std::string& dimension,
          const std::string& from, const std::string& to, absl::Time at,
          const std::string& why, const std::string& subject = "") {
  v1::Transition t;
  t.set_customer_id(run.state->customer_id());
  t.set_kind(kind);
  t.set_dimension(dimension);
  t.set_from(from);
  t.set_to(to);
  *t.mutable_at() = ToProto(at);
  t.set_rules_version(run.rules.version());
  t.set_why(why);
  t.set_event_id(run.event_id);
  t.set_subject_id(subject);
  run.out->push_back(std::move(t));
}

// Records a grade dimension change in the history and as a transition. A
// dimension regraded by the current event is recorded even if unchanged.
void GradeChanged(Run& run, const std::string& dimension,
                  const std::string& from, const std::string& to, absl::Time at,
                  const std::string& why) {
  if (from == to && dimension != run.manual_dimension) return;
  v1::GradeChange* c =
      run.state->mutable_views()->mutable_grade()->add_history();
  c->set_dimension(dimension);
  c->set_from(from);
  c->set_to(to);
  *c->mutable_at() = ToProto(at);
  c->set_why(why);
  c->set_rules_version(run.rules.version());
  Emit(run, v1::TRANSITION_KIND_GRADE_CHANGED, dimension, from, to, at, why);
}

// The grade dimension a regrade targets.
std::string RegradeDimension(const v1::CustomerRegraded& r) {
  switch (r.target_case()) {
    case v1::CustomerRegraded::kValueTier:
      return kDimValueTier;
    case v1::CustomerRegraded::kCustomerClass:
      return kDimClass;
    case v1::CustomerRegraded::kStars:
      return kDimStars;
    default:
      return "";
  }
}

const v1::ManualOverride* FindOverride(const v1::GradeView& g,
                                       const std::string& dimension) {
  for (const auto& o : g.overrides()) {
    if (RegradeDimension(o.regrade()) == dimension) return &o;
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

// Earliest scheduled change strictly after `after`.
absl::Time NextDeadline(const v1::CustomerState& s, const v1::Rules& rules,
                        absl::Time after) {
  absl::Time next = NextLedgerDeadline(s.facts(), rules, after);
  next = std::min(next, NextStageDeadline(LifecycleFactsOf(s), rules, after));
  next = std::min(next, NextSlaDeadline(s.views().satisfaction(), after));
  next =
      std::min(next, NextFollowUpDeadline(FollowUpInputsOf(s), rules, after));
  for (const auto& o : s.views().grade().overrides()) {
    if (!o.regrade().has_expires_at()) continue;
    const absl::Time t = FromProto(o.regrade().expires_at());
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
  std::vector<std::string> expired;
  {
    auto* overrides = grade->mutable_overrides();
    for (int i = overrides->size() - 1; i >= 0; --i) {
      const auto& r = overrides->Get(i).regrade();
      if (r.has_expires_at() && FromProto(r.expires_at()) <= t) {
        expired.push_back(RegradeDimension(r));
        overrides->DeleteSubrange(i, 1);
      }
    }
  }
  auto why_for = [&](const std::string& dim, const std::string& computed) {
    if (const v1::ManualOverride* o = FindOverride(*grade, dim)) {
      return absl::StrCat("manual: ", o->regrade().reason());
    }
    if (std::find(expired.begin(), expired.end(), dim) != expired.end()) {
      return std::string("override expired");
    }
    if (!run.population_why.empty() && (dim == kDimClass || dim == kDimAbc)) {
      return run.population_why;
    }
    return computed;
  };

  // SLA breaches whose due time has come.
  for (const SlaBreach& b : MarkBreaches(t, sat)) {
    Emit(run, v1::TRANSITION_KIND_SLA_BREACHED,
         v1::ComplaintSeverity_Name(b.severity), "open", "breached", b.due_at,
         absl::StrCat("not resolved within ",
                      absl::ToInt64Hours(SlaWindow(b.severity, rules)), "h"),
         b.complaint_id);
  }

  // Lifecycle.
  const Classified<v1::LifecycleStage> stage =
      ClassifyStage(LifecycleFactsOf(*s), rules, t);
  if (stage.value != lc->stage()) {
    v1::StageChange* c = lc->add_history();
    c->set_from(lc->stage());
    c->set_to(stage.value);
    *c->mutable_at() = ToProto(t);
    c->set_why(stage.why);
    c->set_rules_version(rules.version());
    Emit(run, v1::TRANSITION_KIND_LIFECYCLE_STAGE_CHANGED, "lifecycle",
         v1::LifecycleStage_Name(lc->stage()),
         v1::LifecycleStage_Name(stage.value), t, stage.why);
    lc->set_stage(stage.value);
    *lc->mutable_stage_since() = ToProto(t);
  }
  lc->set_stage_why(stage.why);

  // Grade facts at t.
  const WindowSums window =
      SumWindow(*facts, t, rules.value_tier().window_days());
  const WindowSums prior =
      SumWindow(*facts, t, rules.value_tier().window_days(), 1);
  const WindowSums share =
      SumWindow(*facts, t, rules.wallet().share_window_days());
  const int64_t tenure_days =
      WholeDays(t - TimeOr(card->has_registered_at(), card->registered_at()));

  sat->set_satisfaction_degree(SatisfactionDegree(*sat, rules));
  sat->set_loyalty_degree(
      LoyaltyDegree(static_cast<int64_t>(lc->orders()), tenure_days, rules));

  GradeFacts gf;
  gf.has_orders = lc->orders() > 0;
  gf.revenue_window = window.revenue;
  gf.revenue_prior_window = prior.revenue;
  gf.gross_profit_window = window.gross_profit;
  gf.marketing_cost_window = window.marketing_cost;
  gf.revenue_share_window = share.revenue;
  gf.has_wallet = facts->has_wallet();
  gf.category_spend = facts->category_spend_minor();
  gf.planned_purchases = facts->planned_purchases_minor();
  gf.opportunities.assign(facts->opportunities().begin(),
                          facts->opportunities().end());
  gf.industry_position = card->profile().industry_position();
  gf.tenure_days = tenure_days;
  gf.satisfaction_degree = sat->satisfaction_degree();

  const auto tier = ClassifyValueTier(gf, rules);
  const auto prospect = ClassifyProspect(gf, rules);
  const auto vclass = ClassifyValueClass(gf, rules);
  const WalletResult wallet = ClassifyWallet(gf, rules);
  StarResult stars = RateStars(gf, rules);
  if (stars.stars != 0) {
    const uint32_t held = StarsWithHysteresis(
        stars.components.total(), grade->computed_stars(), rules.stars());
    if (held != stars.stars) {
      stars.why = absl::StrCat(
          "total score ", stars.components.total(), " within hysteresis ",
          rules.stars().hysteresis(), " of the floor: keeps ", held);
      stars.stars = held;
    }
  }
  sat->set_dependence_degree(DependenceDegree(gf.has_wallet, wallet.share));

  // Effective values: an active override wins.
  v1::ValueTier eff_tier = tier.value;
  if (const auto* o = FindOverride(*grade, kDimValueTier)) {
    eff_tier = o->regrade().value_tier();
  }
  uint32_t eff_stars = stars.stars;
  if (const auto* o = FindOverride(*grade, kDimStars)) {
    eff_stars = o->regrade().stars();
  }
  v1::CustomerClass eff_class = grade->computed_customer_class();
  if (const auto* o = FindOverride(*grade, kDimClass)) {
    eff_class = o->regrade().customer_class();
  }

  GradeChanged(run, kDimValueTier, v1::ValueTier_Name(grade->value_tier()),
               v1::ValueTier_Name(eff_tier), t,
               why_for(kDimValueTier, tier.why));
  GradeChanged(run, kDimProspect,
               v1::ProspectGrade_Name(grade->prospect_grade()),
               v1::ProspectGrade_Name(prospect.value), t, prospect.why);
  GradeChanged(run, kDimValueClass, v1::ValueClass_Name(grade->value_class()),
               v1::ValueClass_Name(vclass.value), t, vclass.why);
  GradeChanged(run, kDimWallet,
               v1::WalletQuadrant_Name(grade->wallet_quadrant()),
               v1::WalletQuadrant_Name(wallet.quadrant), t, wallet.why);
  GradeChanged(run, kDimStars, StarsName(grade->stars()), StarsName(eff_stars),
               t, why_for(kDimStars, stars.why));
  GradeChanged(run, kDimClass, v1::CustomerClass_Name(grade->customer_class()),
               v1::CustomerClass_Name(eff_class), t,
               why_for(kDimClass, "population pass"));

  grade->set_customer_id(s->customer_id());
  grade->set_value_tier(eff_tier);
  grade->set_computed_value_tier(tier.value);
  grade->set_value_tier_why(tier.why);
  grade->set_prospect_grade(prospect.value);
  grade->set_prospect_grade_why(prospect.why);
  grade->set_value_class(vclass.value);
  grade->set_value_class_why(vclass.why);
  grade->set_wallet_quadrant(wallet.quadrant);
  grade->set_share_of_wallet(wallet.share);
  grade->set_wallet_strategy(wallet.strategy);
  grade->set_wallet_why(wallet.why);
  grade->set_stars(eff_stars);
  grade->set_computed_stars(stars.stars);
  *grade->mutable_star_components() = stars.components;
  grade->set_stars_why(stars.why);
  grade->set_customer_class(eff_class);
  *grade->mutable_revenue_window() = MakeMoney(window.revenue, currency);
  *grade->mutable_revenue_prior_window() = MakeMoney(prior.revenue, currency);
  *grade->mutable_gross_profit_window() =
      MakeMoney(window.gross_profit, currency);
  *grade->mutable_marketing_cost_window() =
      MakeMoney(window.marketing_cost, currency);
  *grade->mutable_net_profit_window() =
      MakeMoney(window.net_profit(), currency);
  grade->mutable_revenue_total()->set_currency(currency);
  grade->mutable_net_profit_total()->set_currency(currency);
  grade->set_rules_version(rules.version());
  *grade->mutable_as_of() = ToProto(t);

  // Card follow-up (after the class is settled).
  const FollowUp fu = NextFollowUp(FollowUpInputsOf(*s), rules, t);
  if (fu.at == absl::InfiniteFuture()) {
    card->clear_next_follow_up_at();
    card->clear_next_follow_up_reason();
  } else {
    *card->mutable_next_follow_up_at() = ToProto(fu.at);
    card->set_next_follow_up_reason(fu.reason);
  }
  card->set_rules_version(rules.version());
  lc->set_customer_id(s->customer_id());
  lc->set_rules_version(rules.version());
  sat->set_customer_id(s->customer_id());
  sat->set_rules_version(rules.version());
  *sat->mutable_as_of() = ToProto(t);
}

// Sets the state's as_of and the lifecycle's time in stage.
void SetAsOf(absl::Time t, v1::CustomerState* s) {
  *s->mutable_facts()->mutable_as_of() = ToProto(t);
  v1::LifecycleView* lc = s->mutable_views()->mutable_lifecycle();
  if (s->facts().seen()) {
    *lc->mutable_as_of() = ToProto(t);
    lc->set_time_in_stage_seconds(
        lc->has_stage_since()
            ? absl::ToInt64Seconds(t - FromProto(lc->stage_since()))
            : 0);
  }
}

void Advance(Run& run, absl::Time target) {
  v1::CustomerState* s = run.state;
  absl::Time cur = FromProto(s->facts().as_of());
  if (target <= cur) return;
  if (s->facts().seen()) {
    for (;;) {
      const absl::Time d = NextDeadline(*s, run.rules, cur);
      if (d > target) break;
      Evaluate(run, d);
      cur = d;
    }
  }
  SetAsOf(target, s);
}

std::string CurrencyError(const v1::Envelope& e, const std::string& field,
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
  *rec.mutable_updated_at() = ToProto(at);
  *opps->Add() = std::move(rec);
  std::sort(opps->begin(), opps->end(),
            [](const v1::OpenOpportunity& a, const v1::OpenOpportunity& b) {
              return a.opportunity_id() < b.opportunity_id();
            });
  while (opps->size() > kMaxOpenOpportunities) {
    int oldest = 0;
    for (int i = 1; i < opps->size(); ++i) {
      if (FromProto(opps->Get(i).updated_at()) <
          FromProto(opps->Get(oldest).updated_at())) {
        oldest = i;
      }
    }
    opps->DeleteSubrange(oldest, 1);
  }
}

void AddTotals(const LedgerDelta& d, const std::string& currency,
               v1::GradeView* g) {
  g->mutable_revenue_total()->set_minor_units(g->revenue_total().minor_units() +
                                              d.sums.revenue);
  g->mutable_revenue_total()->set_currency(currency);
  g->mutable_net_profit_total()->set_minor_units(
      g->net_profit_total().minor_units() + d.sums.net_profit());
  g->mutable_net_profit_total()->set_currency(currency);
}

// Applies the event's own facts (not the derived views).
void ApplyBody(Run& run, const v1::Envelope& e) {
  v1::CustomerState* s = run.state;
  v1::ProjectionFacts* facts = s->mutable_facts();
  v1::CustomerViews* views = s->mutable_views();
  v1::LifecycleView* lc = views->mutable_lifecycle();
  const absl::Time at = FromProto(e.occurred_at());
  const std::string& currency = run.rules.currency();

  s->set_customer_id(e.customer_id());
  facts->set_seen(true);
  ApplyToCard(e, views->mutable_card());

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
          FromProto(facts->last_birthday_visit_at()) < at) {
        *facts->mutable_last_birthday_visit_at() = ToProto(at);
      }
      if (v.kind() == v1::VISIT_KIND_HOLIDAY &&
          FromProto(facts->last_holiday_visit_at()) < at) {
        *facts->mutable_last_holiday_visit_at() = ToProto(at);
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
      if (!lc->has_first_order_at() || at < FromProto(lc->first_order_at())) {
        *lc->mutable_first_order_at() = ToProto(at);
      }
      if (prev_last == absl::InfinitePast() || prev_last < at) {
        *lc->mutable_last_order_at() = ToProto(at);
        if (IsWinBack(prev_last, at, run.rules)) {
          *facts->mutable_won_back_at() = ToProto(at);
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
        *lc->mutable_last_order_at() = ToProto(latest);
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
      const std::string dim = RegradeDimension(r);
      auto* overrides = views->mutable_grade()->mutable_overrides();
      for (int i = 0; i < overrides->size(); ++i) {
        if (RegradeDimension(overrides->Get(i).regrade()) == dim) {
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
}

}  // namespace

absl::Status ValidateEventForProjection(const v1::Envelope& e,
                                        const v1::Rules& rules,
                                        const v1::CustomerState& state) {
  const std::string ev = absl::StrCat("event ", e.event_id(), ": ");
  if (e.customer_id().empty()) {
    return absl::InvalidArgumentError(ev + "customer_id: must be set");
  }
  if (!state.customer_id().empty() && state.customer_id() != e.customer_id()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ev, "customer_id: must be \"", state.customer_id(),
        "\" (the state's customer), got \"", e.customer_id(), "\""));
  }
  if (!e.has_occurred_at()) {
    return absl::InvalidArgumentError(ev + "occurred_at: must be set");
  }
  std::string err;
  auto money = [&](const std::string& field, const v1::Money& m) {
    if (err.empty()) err = CurrencyError(e, field, m, rules);
  };
  auto required = [&](const std::string& field, const std::string& v) {
    if (err.empty() && v.empty()) err = ev + field + ": must be set";
  };
  switch (e.body_case()) {
    case v1::Envelope::BODY_NOT_SET:
      return absl::InvalidArgumentError(ev + "body: must be set");
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
          err = ev + "customer_regraded.target: exactly one must be set";
          break;
        case v1::CustomerRegraded::kStars:
          if (r.stars() < 1 || r.stars() > 5) {
            err = absl::StrCat(
                ev, "customer_regraded.stars: must be 1..5, got ", r.stars());
          }
          break;
        case v1::CustomerRegraded::kValueTier:
          if (r.value_tier() == v1::VALUE_TIER_UNSPECIFIED) {
            err = ev + "customer_regraded.value_tier: must not be UNSPECIFIED";
          }
          break;
        case v1::CustomerRegraded::kCustomerClass:
          if (r.customer_class() == v1::CUSTOMER_CLASS_UNSPECIFIED) {
            err = ev +
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

absl::StatusOr<std::vector<v1::Transition>> ApplyEvent(
    const v1::Envelope& event, const v1::Rules& rules,
    v1::CustomerState* state) {
  absl::Status valid = ValidateEventForProjection(event, rules, *state);
  if (!valid.ok()) return valid;
  std::vector<v1::Transition> out;
  Run run{rules, state, &out, "", "", "", ""};
  const absl::Time at = FromProto(event.occurred_at());
  if (state->customer_id().empty()) state->set_customer_id(event.customer_id());
  Advance(run, at);
  const absl::Time eval_at = std::max(at, FromProto(state->facts().as_of()));
  run.event_id = event.event_id();
  ApplyBody(run, event);
  Evaluate(run, eval_at);
  SetAsOf(eval_at, state);
  return out;
}

std::vector<v1::Transition> AdvanceTo(absl::Time as_of, const v1::Rules& rules,
                                      v1::CustomerState* state) {
  std::vector<v1::Transition> out;
  Run run{rules, state, &out, "", "", "", ""};
  Advance(run, as_of);
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
    p.set_recency_days(WholeDays(as_of - FromProto(lc.last_order_at())));
    const WindowSums rfm =
        SumWindow(state.facts(), as_of, rules.rfm().window_days());
    p.set_frequency(rfm.orders);
    p.set_monetary_minor(rfm.revenue);
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
  Run run{rules, state, &out, "", "", "", ""};
  Advance(run, as_of);
  const absl::Time t = FromProto(state->facts().as_of());
  run.population_why = absl::StrCat("population pass rank ", entry.rank());
  v1::GradeView* grade = state->mutable_views()->mutable_grade();
  GradeChanged(run, kDimAbc, v1::AbcClass_Name(grade->abc()),
               v1::AbcClass_Name(entry.abc()), t, run.population_why);
  grade->set_abc(entry.abc());
  grade->set_computed_customer_class(entry.customer_class());
  v1::LifecycleView* lc = state->mutable_views()->mutable_lifecycle();
  lc->set_rfm_r(entry.rfm_r());
  lc->set_rfm_f(entry.rfm_f());
  lc->set_rfm_m(entry.rfm_m());
  lc->set_rfm_segment(entry.rfm_segment());
  state->mutable_views()->mutable_satisfaction()->set_contribution_degree(
      entry.contribution_degree());
  if (state->facts().seen()) Evaluate(run, t);
  return out;
}

}  // namespace crm::projections
