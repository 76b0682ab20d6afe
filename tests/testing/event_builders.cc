#include "tests/testing/event_builders.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crm::testing {

using ::crm::v1::Envelope;

crm::v1::Money MakeMoney(int64_t minor_units, absl::string_view currency) {
  crm::v1::Money m;
  m.set_minor_units(minor_units);
  m.set_currency(std::string(currency));
  return m;
}

google::protobuf::Timestamp MakeTimestamp(int64_t seconds, int32_t nanos) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(seconds);
  ts.set_nanos(nanos);
  return ts;
}

Envelope MakeEnvelope(absl::string_view event_id,
                      absl::string_view customer_id) {
  Envelope e;
  e.set_event_id(std::string(event_id));
  e.set_customer_id(std::string(customer_id));
  *e.mutable_occurred_at() = MakeTimestamp(kBuiltOccurredAtSeconds);
  *e.mutable_recorded_at() = MakeTimestamp(kBuiltOccurredAtSeconds + 60, 250);
  e.set_channel(crm::v1::CHANNEL_FIELD_SALES);
  e.set_actor("rep-017");
  e.set_schema_version(1);
  return e;
}

namespace {

void FillProfile(crm::v1::CustomerProfile* p) {
  p->set_name("Müller Lebensmittel GmbH");
  p->set_relationship_type(crm::v1::RELATIONSHIP_TYPE_BUSINESS);
  p->set_ownership(crm::v1::OWNERSHIP_PRIVATE);
  p->set_business_nature(crm::v1::BUSINESS_NATURE_RETAIL);
  p->set_location_type(crm::v1::LOCATION_TYPE_COMMERCIAL_CENTRE);
  p->set_region("north");
  p->set_industry("retail-food");
  p->set_account_manager("am-042");
  p->mutable_birthday()->set_year(1998);
  p->mutable_birthday()->set_month(2);
  p->mutable_birthday()->set_day(28);
  p->set_industry_position(crm::v1::INDUSTRY_POSITION_MAJOR);
  crm::v1::Contact* c = p->add_contacts();
  c->set_name("Anna Müller");
  c->set_role("purchasing manager");
  c->set_phone("+49 30 1234567");
  c->set_email("anna@mueller.example");
  c = p->add_contacts();
  c->set_name("Jonas \"JB\" Berg");
  c->set_role("owner");
}

}  // namespace

Envelope CustomerRegisteredEvent() {
  Envelope e = MakeEnvelope("evt-reg-1");
  e.set_channel(crm::v1::CHANNEL_WEB);
  FillProfile(e.mutable_customer_registered()->mutable_profile());
  return e;
}

Envelope ProfileUpdatedEvent() {
  Envelope e = MakeEnvelope("evt-prof-1");
  e.set_channel(crm::v1::CHANNEL_API);
  FillProfile(e.mutable_profile_updated()->mutable_profile());
  return e;
}

Envelope VisitLoggedEvent() {
  Envelope e = MakeEnvelope("evt-visit-1");
  auto* b = e.mutable_visit_logged();
  b->set_kind(crm::v1::VISIT_KIND_ON_SITE);
  b->set_duration_minutes(45);
  b->set_notes("Discussed spring assortment;\nasked for a quote, \"urgent\".");
  *b->mutable_next_follow_up_at() =
      MakeTimestamp(kBuiltOccurredAtSeconds + 14 * 86400, 500000000);
  return e;
}

Envelope CallLoggedEvent() {
  Envelope e = MakeEnvelope("evt-call-1");
  e.set_channel(crm::v1::CHANNEL_CALL_CENTRE);
  auto* b = e.mutable_call_logged();
  b->set_direction(crm::v1::CALL_DIRECTION_OUTBOUND);
  b->set_duration_seconds(312);
  b->set_outcome(crm::v1::CALL_OUTCOME_CONNECTED);
  return e;
}

Envelope LeadQualifiedEvent() {
  Envelope e = MakeEnvelope("evt-lead-1");
  e.set_channel(crm::v1::CHANNEL_WEB);
  auto* b = e.mutable_lead_qualified();
  b->set_source("spring-campaign");
  b->set_score(72);
  return e;
}

Envelope OpportunityUpdatedEvent() {
  Envelope e = MakeEnvelope("evt-opp-1");
  auto* b = e.mutable_opportunity_updated();
  b->set_opportunity_id("opp-9");
  b->set_stage(crm::v1::OPPORTUNITY_STAGE_PROPOSAL);
  b->set_win_probability_pct(40);
  *b->mutable_expected_amount() = MakeMoney(1250000);
  *b->mutable_expected_close_at() =
      MakeTimestamp(kBuiltOccurredAtSeconds + 30 * 86400);
  return e;
}

Envelope OrderPlacedEvent() {
  Envelope e = MakeEnvelope("evt-order-1");
  e.set_channel(crm::v1::CHANNEL_ERP);
  auto* b = e.mutable_order_placed();
  b->set_order_id("ord-1001");
  *b->mutable_amount() = MakeMoney(259900);
  *b->mutable_gross_profit() = MakeMoney(-1500);
  *b->mutable_discount() = MakeMoney(10000);
  *b->mutable_financing_cost() = MakeMoney(1200);
  b->set_quantity(12);
  b->set_product_category("beverages");
  return e;
}

Envelope OrderCancelledEvent() {
  Envelope e = MakeEnvelope("evt-cancel-1");
  e.set_channel(crm::v1::CHANNEL_ERP);
  auto* b = e.mutable_order_cancelled();
  b->set_order_id("ord-1001");
  b->set_reason("duplicate order");
  return e;
}

Envelope OrderReturnedEvent() {
  Envelope e = MakeEnvelope("evt-return-1");
  e.set_channel(crm::v1::CHANNEL_STORE);
  auto* b = e.mutable_order_returned();
  b->set_order_id("ord-1001");
  *b->mutable_refund_amount() = MakeMoney(21658);
  b->set_quantity(1);
  b->set_reason("damaged");
  return e;
}

Envelope PaymentReceivedEvent() {
  Envelope e = MakeEnvelope("evt-pay-1");
  e.set_channel(crm::v1::CHANNEL_ERP);
  auto* b = e.mutable_payment_received();
  b->set_invoice_id("ord-1001");
  *b->mutable_amount() = MakeMoney(200000);
  b->set_days_late(3);
  *b->mutable_outstanding() = MakeMoney(59900);
  return e;
}

Envelope ComplaintOpenedEvent() {
  Envelope e = MakeEnvelope("evt-compl-1");
  e.set_channel(crm::v1::CHANNEL_EMAIL);
  auto* b = e.mutable_complaint_opened();
  b->set_complaint_id("cmp-77");
  b->set_severity(crm::v1::COMPLAINT_SEVERITY_HIGH);
  b->set_category(crm::v1::COMPLAINT_CATEGORY_DELIVERY);
  b->set_raised_via(crm::v1::CHANNEL_EMAIL);
  b->set_summary("Delivery arrived two days late.");
  return e;
}

Envelope ComplaintResolvedEvent() {
  Envelope e = MakeEnvelope("evt-resolved-1");
  e.set_channel(crm::v1::CHANNEL_CALL_CENTRE);
  auto* b = e.mutable_complaint_resolved();
  b->set_complaint_id("cmp-77");
  b->set_resolution(crm::v1::COMPLAINT_RESOLUTION_SATISFIED);
  return e;
}

Envelope SurveyAnsweredEvent() {
  Envelope e = MakeEnvelope("evt-survey-1");
  e.set_channel(crm::v1::CHANNEL_EMAIL);
  auto* b = e.mutable_survey_answered();
  b->set_survey_id("srv-2026q1");
  b->set_csat(4);
  b->set_nps(0);  // present and zero: a real answer, not "unset"
  return e;
}

Envelope WalletEstimatedEvent() {
  Envelope e = MakeEnvelope("evt-wallet-1");
  e.set_channel(crm::v1::CHANNEL_API);
  auto* b = e.mutable_wallet_estimated();
  *b->mutable_category_spend() = MakeMoney(5000000);
  *b->mutable_planned_purchases() = MakeMoney(0);
  return e;
}

Envelope CustomerRegradedEvent() {
  Envelope e = MakeEnvelope("evt-regrade-1");
  e.set_channel(crm::v1::CHANNEL_API);
  auto* b = e.mutable_customer_regraded();
  b->set_stars(5);
  b->set_reason("strategic account, board decision");
  *b->mutable_expires_at() =
      MakeTimestamp(kBuiltOccurredAtSeconds + 90 * 86400);
  return e;
}

Envelope EventOfKind(Envelope::BodyCase body) {
  switch (body) {
    case Envelope::kCustomerRegistered:
      return CustomerRegisteredEvent();
    case Envelope::kProfileUpdated:
      return ProfileUpdatedEvent();
    case Envelope::kVisitLogged:
      return VisitLoggedEvent();
    case Envelope::kCallLogged:
      return CallLoggedEvent();
    case Envelope::kLeadQualified:
      return LeadQualifiedEvent();
    case Envelope::kOpportunityUpdated:
      return OpportunityUpdatedEvent();
    case Envelope::kOrderPlaced:
      return OrderPlacedEvent();
    case Envelope::kOrderCancelled:
      return OrderCancelledEvent();
    case Envelope::kOrderReturned:
      return OrderReturnedEvent();
    case Envelope::kPaymentReceived:
      return PaymentReceivedEvent();
    case Envelope::kComplaintOpened:
      return ComplaintOpenedEvent();
    case Envelope::kComplaintResolved:
      return ComplaintResolvedEvent();
    case Envelope::kSurveyAnswered:
      return SurveyAnsweredEvent();
    case Envelope::kWalletEstimated:
      return WalletEstimatedEvent();
    case Envelope::kCustomerRegraded:
      return CustomerRegradedEvent();
    case Envelope::BODY_NOT_SET:
      break;
  }
  return MakeEnvelope();
}

std::vector<Envelope> AllEventKinds() {
  std::vector<Envelope> out;
  const auto* oneof = Envelope::descriptor()->FindOneofByName("body");
  for (int i = 0; i < oneof->field_count(); ++i) {
    out.push_back(EventOfKind(
        static_cast<Envelope::BodyCase>(oneof->field(i)->number())));
  }
  return out;
}

std::vector<Envelope> RealisticEvents(int n, uint32_t seed) {
  // Weights per kind, roughly what a sales organisation records.
  struct Kind {
    Envelope::BodyCase body;
    int weight;
  };
  static constexpr Kind kKinds[] = {
      {Envelope::kVisitLogged, 20},       {Envelope::kCallLogged, 20},
      {Envelope::kOrderPlaced, 18},       {Envelope::kPaymentReceived, 14},
      {Envelope::kOpportunityUpdated, 5}, {Envelope::kSurveyAnswered, 5},
      {Envelope::kComplaintOpened, 3},    {Envelope::kComplaintResolved, 3},
      {Envelope::kLeadQualified, 3},      {Envelope::kCustomerRegistered, 2},
      {Envelope::kProfileUpdated, 2},     {Envelope::kOrderReturned, 2},
      {Envelope::kOrderCancelled, 1},     {Envelope::kWalletEstimated, 1},
      {Envelope::kCustomerRegraded, 1},
  };
  int total = 0;
  for (const Kind& k : kKinds) total += k.weight;
  std::mt19937 rng(seed);
  std::vector<Envelope> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    int pick = static_cast<int>(rng() % total);
    Envelope::BodyCase body = Envelope::kVisitLogged;
    for (const Kind& k : kKinds) {
      if (pick < k.weight) {
        body = k.body;
        break;
      }
      pick -= k.weight;
    }
    Envelope e = EventOfKind(body);
    e.set_event_id(absl::StrFormat("e%07d%04x", i, rng() & 0xFFFF));
    e.set_customer_id(absl::StrFormat("c%05d", rng() % 50000));
    const int64_t t = kBuiltOccurredAtSeconds - (rng() % (365 * 86400));
    *e.mutable_occurred_at() = MakeTimestamp(t);
    // Most channels send neither a recording time nor an actor.
    if (rng() % 4 == 0) {
      *e.mutable_recorded_at() = MakeTimestamp(t + 30 + rng() % 3600);
    } else {
      e.clear_recorded_at();
    }
    if (rng() % 4 != 0) e.clear_actor();
    e.clear_schema_version();
    if (body == Envelope::kVisitLogged) {
      e.mutable_visit_logged()->set_duration_minutes(5 + rng() % 120);
      e.mutable_visit_logged()->clear_notes();
      *e.mutable_visit_logged()->mutable_next_follow_up_at() =
          MakeTimestamp(t + 7 * 86400);
    } else if (body == Envelope::kOrderPlaced) {
      auto* o = e.mutable_order_placed();
      o->set_order_id(absl::StrCat("o", i));
      const int64_t amount = 1000 + rng() % 500000;
      o->mutable_amount()->set_minor_units(amount);
      o->mutable_gross_profit()->set_minor_units(amount / 5);
      o->clear_discount();
      o->clear_financing_cost();
      o->set_quantity(1 + rng() % 40);
    } else if (body == Envelope::kPaymentReceived) {
      auto* p = e.mutable_payment_received();
      p->set_invoice_id(absl::StrCat("o", i));
      p->mutable_amount()->set_minor_units(1000 + rng() % 500000);
      p->set_days_late(rng() % 30);
    } else if (body == Envelope::kCustomerRegraded) {
      *e.mutable_customer_regraded()->mutable_expires_at() =
          MakeTimestamp(t + 90 * 86400);
    } else if (body == Envelope::kOpportunityUpdated) {
      *e.mutable_opportunity_updated()->mutable_expected_close_at() =
          MakeTimestamp(t + 30 * 86400);
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace crm::testing
