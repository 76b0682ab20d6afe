#pragma once

// Small event and time builders for the projections tests (local to these
// suites on purpose).

#include <cstdint>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "crm/v1/events.pb.h"
#include "engine/base/time_util.h"

namespace crm::projections::testing {

// 00:00 UTC of a civil day, plus an optional offset.
inline absl::Time Day(int y, int m, int d,
                      absl::Duration plus = absl::ZeroDuration()) {
  return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone()) + plus;
}

inline v1::Money Usd(int64_t minor) {
  v1::Money m;
  m.set_minor_units(minor);
  m.set_currency("USD");
  return m;
}

// Builds one Envelope; each setter fills the body.
class Event {
 public:
  Event(std::string event_id, absl::Time at, std::string customer = "c1") {
    e_.set_event_id(std::move(event_id));
    e_.set_customer_id(std::move(customer));
    *e_.mutable_occurred_at() = ToProto(at);
    e_.set_channel(v1::CHANNEL_API);
    e_.set_actor("tester");
  }
  Event& Registered(const std::string& name, const std::string& manager = "") {
    auto* p = e_.mutable_customer_registered()->mutable_profile();
    p->set_name(name);
    p->set_account_manager(manager);
    return *this;
  }
  Event& Profile(const v1::CustomerProfile& p) {
    *e_.mutable_profile_updated()->mutable_profile() = p;
    return *this;
  }
  Event& Order(const std::string& id, int64_t amount, int64_t gross_profit = 0,
               int64_t discount = 0, int64_t financing = 0) {
    auto* o = e_.mutable_order_placed();
    o->set_order_id(id);
    *o->mutable_amount() = Usd(amount);
    *o->mutable_gross_profit() = Usd(gross_profit);
    *o->mutable_discount() = Usd(discount);
    *o->mutable_financing_cost() = Usd(financing);
    o->set_quantity(1);
    return *this;
  }
  Event& Cancel(const std::string& id) {
    e_.mutable_order_cancelled()->set_order_id(id);
    return *this;
  }
  Event& Return(const std::string& id, int64_t refund) {
    auto* r = e_.mutable_order_returned();
    r->set_order_id(id);
    *r->mutable_refund_amount() = Usd(refund);
    return *this;
  }
  Event& Payment(const std::string& invoice, int64_t amount, uint32_t days_late,
                 int64_t outstanding) {
    auto* p = e_.mutable_payment_received();
    p->set_invoice_id(invoice);
    *p->mutable_amount() = Usd(amount);
    p->set_days_late(days_late);
    *p->mutable_outstanding() = Usd(outstanding);
    return *this;
  }
  Event& Lead() {
    e_.mutable_lead_qualified()->set_source("web");
    return *this;
  }
  Event& Opportunity(const std::string& id, v1::OpportunityStage stage,
                     uint32_t win_pct) {
    auto* o = e_.mutable_opportunity_updated();
    o->set_opportunity_id(id);
    o->set_stage(stage);
    o->set_win_probability_pct(win_pct);
    return *this;
  }
  Event& Visit(v1::VisitKind kind) {
    e_.mutable_visit_logged()->set_kind(kind);
    return *this;
  }
  Event& VisitWithFollowUp(absl::Time follow_up) {
    auto* v = e_.mutable_visit_logged();
    v->set_kind(v1::VISIT_KIND_ON_SITE);
    *v->mutable_next_follow_up_at() = ToProto(follow_up);
    return *this;
  }
  Event& Call() {
    auto* c = e_.mutable_call_logged();
    c->set_direction(v1::CALL_DIRECTION_OUTBOUND);
    c->set_outcome(v1::CALL_OUTCOME_CONNECTED);
    return *this;
  }
  Event& Complaint(const std::string& id, v1::ComplaintSeverity severity) {
    auto* c = e_.mutable_complaint_opened();
    c->set_complaint_id(id);
    c->set_severity(severity);
    c->set_category(v1::COMPLAINT_CATEGORY_DELIVERY);
    return *this;
  }
  Event& Resolved(
      const std::string& id,
      v1::ComplaintResolution resolution = v1::COMPLAINT_RESOLUTION_SATISFIED) {
    auto* r = e_.mutable_complaint_resolved();
    r->set_complaint_id(id);
    r->set_resolution(resolution);
    return *this;
  }
  Event& Csat(uint32_t score) {
    e_.mutable_survey_answered()->set_survey_id("s");
    e_.mutable_survey_answered()->set_csat(score);
    return *this;
  }
  Event& NpsScore(uint32_t score) {
    e_.mutable_survey_answered()->set_survey_id("s");
    e_.mutable_survey_answered()->set_nps(score);
    return *this;
  }
  Event& Wallet(int64_t spend, int64_t planned) {
    *e_.mutable_wallet_estimated()->mutable_category_spend() = Usd(spend);
    *e_.mutable_wallet_estimated()->mutable_planned_purchases() = Usd(planned);
    return *this;
  }
  Event& RegradeTier(v1::ValueTier tier, const std::string& reason,
                     absl::Time expires = absl::InfinitePast()) {
    auto* r = e_.mutable_customer_regraded();
    r->set_value_tier(tier);
    r->set_reason(reason);
    if (expires != absl::InfinitePast())
      *r->mutable_expires_at() = ToProto(expires);
    return *this;
  }
  Event& RegradeStars(uint32_t stars, const std::string& reason) {
    auto* r = e_.mutable_customer_regraded();
    r->set_stars(stars);
    r->set_reason(reason);
    return *this;
  }
  Event& RegradeClass(v1::CustomerClass c, const std::string& reason) {
    auto* r = e_.mutable_customer_regraded();
    r->set_customer_class(c);
    r->set_reason(reason);
    return *this;
  }
  const v1::Envelope& envelope() const { return e_; }
  operator const v1::Envelope&() const { return e_; }  // NOLINT

 private:
  v1::Envelope e_;
};

}  // namespace crm::projections::testing
