#include "engine/event/validator.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/testing/event_builders.h"

namespace crm::event {
namespace {

using ::crm::testing::MakeMoney;
using ::crm::testing::MakeTimestamp;
using ::crm::v1::Envelope;
namespace b = ::crm::testing;

constexpr int64_t kT = crm::testing::kBuiltOccurredAtSeconds;

struct Case {
  std::string name;
  std::function<Envelope()> make;
  std::string message;  // "" = valid
};

// Each case breaks (or stretches) one rule of events.proto on a valid event.
std::vector<Case> Cases() {
  return {
      // --- Envelope
      {"event_id empty",
       [] {
         auto e = b::CallLoggedEvent();
         e.clear_event_id();
         return e;
       },
       "event_id: required, got empty string"},
      {"event_id 128 chars ok",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_event_id(std::string(128, 'a'));
         return e;
       },
       ""},
      {"event_id too long",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_event_id(std::string(129, 'a'));
         return e;
       },
       "event_id: must be at most 128 characters, got 129"},
      {"event_id not printable",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_event_id("ab\tc");
         return e;
       },
       "event_id: must be printable ASCII, got byte 0x09 at offset 2"},
      {"event_id non-ASCII",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_event_id("é");
         return e;
       },
       "event_id: must be printable ASCII, got byte 0xC3 at offset 0"},
      // Ids are checked eight bytes at a time, then byte by byte: bad bytes
      // at the edges of the printable range, inside a word and in the tail.
      {"event_id of every printable byte",
       [] {
         auto e = b::CallLoggedEvent();
         std::string id;
         for (int c = 0x20; c <= 0x7E; ++c) id.push_back(static_cast<char>(c));
         e.set_event_id(id);
         return e;
       },
       ""},
      {"event_id with DEL in a word",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_event_id("abcdefghij\x7Fklmnop");
         return e;
       },
       "event_id: must be printable ASCII, got byte 0x7F at offset 10"},
      {"event_id with 0x1F in a word",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_event_id("abcdefgh\x1Fjklmnop");
         return e;
       },
       "event_id: must be printable ASCII, got byte 0x1F at offset 8"},
      {"event_id with 0x80 in the tail",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_event_id("abcdefgh~ \x80");
         return e;
       },
       "event_id: must be printable ASCII, got byte 0x80 at offset 10"},
      {"event_id with 0xFF first in a word",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_event_id(std::string(1, '\xFF') + "bcdefgh");
         return e;
       },
       "event_id: must be printable ASCII, got byte 0xFF at offset 0"},
      {"customer_id empty",
       [] {
         auto e = b::CallLoggedEvent();
         e.clear_customer_id();
         return e;
       },
       "customer_id: required, got empty string"},
      {"customer_id too long",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_customer_id(std::string(65, 'c'));
         return e;
       },
       "customer_id: must be at most 64 characters, got 65"},
      {"customer_id DEL",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_customer_id("c\x7f");
         return e;
       },
       "customer_id: must be printable ASCII, got byte 0x7F at offset 1"},
      {"occurred_at missing",
       [] {
         auto e = b::CallLoggedEvent();
         e.clear_occurred_at();
         return e;
       },
       "occurred_at: required, got unset"},
      {"occurred_at before 1970",
       [] {
         auto e = b::CallLoggedEvent();
         *e.mutable_occurred_at() = MakeTimestamp(-1);
         e.clear_recorded_at();
         return e;
       },
       "occurred_at: must be >= 1970-01-01T00:00:00Z and < "
       "2100-01-01T00:00:00Z, got 1969-12-31T23:59:59Z"},
      {"occurred_at epoch ok",
       [] {
         auto e = b::CallLoggedEvent();
         *e.mutable_occurred_at() = MakeTimestamp(0);
         return e;
       },
       ""},
      {"occurred_at 2100",
       [] {
         auto e = b::CallLoggedEvent();
         *e.mutable_occurred_at() = MakeTimestamp(4102444800);
         e.clear_recorded_at();
         return e;
       },
       "occurred_at: must be >= 1970-01-01T00:00:00Z and < "
       "2100-01-01T00:00:00Z, got 2100-01-01T00:00:00Z"},
      {"occurred_at nanos negative",
       [] {
         auto e = b::CallLoggedEvent();
         e.mutable_occurred_at()->set_nanos(-1);
         return e;
       },
       "occurred_at.nanos: must be 0..999999999, got -1"},
      {"occurred_at nanos too big",
       [] {
         auto e = b::CallLoggedEvent();
         e.mutable_occurred_at()->set_nanos(1000000000);
         return e;
       },
       "occurred_at.nanos: must be 0..999999999, got 1000000000"},
      {"recorded_at before occurred_at",
       [] {
         auto e = b::CallLoggedEvent();
         *e.mutable_recorded_at() = MakeTimestamp(kT - 1);
         return e;
       },
       "recorded_at: must not be before occurred_at (2026-03-01T09:30:00Z), "
       "got 2026-03-01T09:29:59Z"},
      {"recorded_at equal ok",
       [] {
         auto e = b::CallLoggedEvent();
         *e.mutable_recorded_at() = MakeTimestamp(kT);
         return e;
       },
       ""},
      {"recorded_at bad nanos",
       [] {
         auto e = b::CallLoggedEvent();
         e.mutable_recorded_at()->set_nanos(-5);
         return e;
       },
       "recorded_at.nanos: must be 0..999999999, got -5"},
      {"channel unset",
       [] {
         auto e = b::CallLoggedEvent();
         e.clear_channel();
         return e;
       },
       "channel: required, got CHANNEL_UNSPECIFIED"},
      {"channel unknown",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_channel(static_cast<crm::v1::Channel>(99));
         return e;
       },
       "channel: must be a known Channel value, got 99"},
      {"actor too long",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_actor(std::string(129, 'x'));
         return e;
       },
       "actor: must be at most 128 characters, got 129"},
      {"actor counts characters not bytes",
       [] {
         auto e = b::CallLoggedEvent();
         std::string s;
         for (int i = 0; i < 128; ++i) s += "ü";
         e.set_actor(s);
         return e;
       },
       ""},
      {"actor of 129 two-byte characters too long",
       [] {
         auto e = b::CallLoggedEvent();
         std::string s;
         for (int i = 0; i < 129; ++i) s += "ü";
         e.set_actor(s);
         return e;
       },
       "actor: must be at most 128 characters, got 129"},
      {"schema_version 0 ok",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_schema_version(0);
         return e;
       },
       ""},
      {"schema_version 2",
       [] {
         auto e = b::CallLoggedEvent();
         e.set_schema_version(2);
         return e;
       },
       "schema_version: must be 0 or 1 (this reader knows v1), got 2"},
      {"body missing", [] { return b::MakeEnvelope(); },
       "body: required (one event, e.g. order_placed), got none"},
      // --- CustomerRegistered / ProfileUpdated
      {"registered without profile",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()->clear_profile();
         return e;
       },
       "customer_registered.profile: required, got unset"},
      {"registered without name",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()->mutable_profile()->clear_name();
         return e;
       },
       "customer_registered.profile.name: required, got empty string"},
      {"profile name too long",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()->mutable_profile()->set_name(
             std::string(201, 'n'));
         return e;
       },
       "customer_registered.profile.name: must be at most 200 characters, got "
       "201"},
      {"profile unknown relationship type",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()
             ->mutable_profile()
             ->set_relationship_type(static_cast<crm::v1::RelationshipType>(9));
         return e;
       },
       "customer_registered.profile.relationship_type: must be a known "
       "RelationshipType value, got 9"},
      {"profile unknown ownership",
       [] {
         auto e = b::ProfileUpdatedEvent();
         e.mutable_profile_updated()->mutable_profile()->set_ownership(
             static_cast<crm::v1::Ownership>(-3));
         return e;
       },
       "profile_updated.profile.ownership: must be a known Ownership value, "
       "got -3"},
      {"profile unknown business nature",
       [] {
         auto e = b::ProfileUpdatedEvent();
         e.mutable_profile_updated()->mutable_profile()->set_business_nature(
             static_cast<crm::v1::BusinessNature>(7));
         return e;
       },
       "profile_updated.profile.business_nature: must be a known "
       "BusinessNature value, got 7"},
      {"profile unknown location type",
       [] {
         auto e = b::ProfileUpdatedEvent();
         e.mutable_profile_updated()->mutable_profile()->set_location_type(
             static_cast<crm::v1::LocationType>(5));
         return e;
       },
       "profile_updated.profile.location_type: must be a known LocationType "
       "value, got 5"},
      {"profile unknown industry position",
       [] {
         auto e = b::ProfileUpdatedEvent();
         e.mutable_profile_updated()->mutable_profile()->set_industry_position(
             static_cast<crm::v1::IndustryPosition>(5));
         return e;
       },
       "profile_updated.profile.industry_position: must be a known "
       "IndustryPosition value, got 5"},
      {"birthday month 13",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()
             ->mutable_profile()
             ->mutable_birthday()
             ->set_month(13);
         return e;
       },
       "customer_registered.profile.birthday.month: must be 1..12, got 13"},
      {"birthday month 0",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()
             ->mutable_profile()
             ->mutable_birthday()
             ->set_month(0);
         return e;
       },
       "customer_registered.profile.birthday.month: must be 1..12, got 0"},
      {"birthday 29 Feb non-leap",
       [] {
         auto e = b::CustomerRegisteredEvent();
         auto* d = e.mutable_customer_registered()
                       ->mutable_profile()
                       ->mutable_birthday();
         d->set_year(1900);
         d->set_month(2);
         d->set_day(29);
         return e;
       },
       "customer_registered.profile.birthday.day: must be 1..28 for 1900-02, "
       "got 29"},
      {"birthday 29 Feb leap ok",
       [] {
         auto e = b::CustomerRegisteredEvent();
         auto* d = e.mutable_customer_registered()
                       ->mutable_profile()
                       ->mutable_birthday();
         d->set_year(2000);
         d->set_month(2);
         d->set_day(29);
         return e;
       },
       ""},
      {"birthday 29 Feb year unknown ok",
       [] {
         auto e = b::CustomerRegisteredEvent();
         auto* d = e.mutable_customer_registered()
                       ->mutable_profile()
                       ->mutable_birthday();
         d->set_year(0);
         d->set_month(2);
         d->set_day(29);
         return e;
       },
       ""},
      {"birthday 31 April year unknown",
       [] {
         auto e = b::CustomerRegisteredEvent();
         auto* d = e.mutable_customer_registered()
                       ->mutable_profile()
                       ->mutable_birthday();
         d->set_year(0);
         d->set_month(4);
         d->set_day(31);
         return e;
       },
       "customer_registered.profile.birthday.day: must be 1..30 for month 4, "
       "got 31"},
      {"birthday day 0",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()
             ->mutable_profile()
             ->mutable_birthday()
             ->set_day(0);
         return e;
       },
       "customer_registered.profile.birthday.day: must be 1..28 for 1998-02, "
       "got 0"},
      {"birthday year 1899",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()
             ->mutable_profile()
             ->mutable_birthday()
             ->set_year(1899);
         return e;
       },
       "customer_registered.profile.birthday.year: must be 0 (unknown) or "
       "1900..2100, got 1899"},
      {"birthday year 2101",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()
             ->mutable_profile()
             ->mutable_birthday()
             ->set_year(2101);
         return e;
       },
       "customer_registered.profile.birthday.year: must be 0 (unknown) or "
       "1900..2100, got 2101"},
      {"contact without name",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()
             ->mutable_profile()
             ->mutable_contacts(1)
             ->clear_name();
         return e;
       },
       "customer_registered.profile.contacts[1].name: required, got empty "
       "string"},
      {"contact name too long",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()
             ->mutable_profile()
             ->mutable_contacts(0)
             ->set_name(std::string(201, 'a'));
         return e;
       },
       "customer_registered.profile.contacts[0].name: must be at most 200 "
       "characters, got 201"},
      {"contact phone too long",
       [] {
         auto e = b::CustomerRegisteredEvent();
         e.mutable_customer_registered()
             ->mutable_profile()
             ->mutable_contacts(0)
             ->set_phone(std::string(41, '1'));
         return e;
       },
       "customer_registered.profile.contacts[0].phone: must be at most 40 "
       "characters, got 41"},
      {"contact email without @",
       [] {
         auto e = b::ProfileUpdatedEvent();
         e.mutable_profile_updated()
             ->mutable_profile()
             ->mutable_contacts(0)
             ->set_email("anna.mueller.example");
         return e;
       },
       "profile_updated.profile.contacts[0].email: must contain '@', got "
       "\"anna.mueller.example\""},
      {"profile_updated without profile",
       [] {
         auto e = b::ProfileUpdatedEvent();
         e.mutable_profile_updated()->clear_profile();
         return e;
       },
       "profile_updated.profile: required, got unset"},
      {"profile_updated with empty profile",
       [] {
         auto e = b::ProfileUpdatedEvent();
         e.mutable_profile_updated()->mutable_profile()->Clear();
         return e;
       },
       "profile_updated.profile: must set at least one field, got none"},
      {"profile_updated with only region ok",
       [] {
         auto e = b::ProfileUpdatedEvent();
         e.mutable_profile_updated()->mutable_profile()->Clear();
         e.mutable_profile_updated()->mutable_profile()->set_region("south");
         return e;
       },
       ""},
      // --- VisitLogged
      {"visit kind unset",
       [] {
         auto e = b::VisitLoggedEvent();
         e.mutable_visit_logged()->clear_kind();
         return e;
       },
       "visit_logged.kind: required, got VISIT_KIND_UNSPECIFIED"},
      {"visit kind unknown",
       [] {
         auto e = b::VisitLoggedEvent();
         e.mutable_visit_logged()->set_kind(static_cast<crm::v1::VisitKind>(6));
         return e;
       },
       "visit_logged.kind: must be a known VisitKind value, got 6"},
      {"visit too long",
       [] {
         auto e = b::VisitLoggedEvent();
         e.mutable_visit_logged()->set_duration_minutes(1441);
         return e;
       },
       "visit_logged.duration_minutes: must be 0..1440, got 1441"},
      {"visit notes too long",
       [] {
         auto e = b::VisitLoggedEvent();
         e.mutable_visit_logged()->set_notes(std::string(4001, 'n'));
         return e;
       },
       "visit_logged.notes: must be at most 4000 characters, got 4001"},
      {"visit follow-up not after",
       [] {
         auto e = b::VisitLoggedEvent();
         *e.mutable_visit_logged()->mutable_next_follow_up_at() =
             MakeTimestamp(kT);
         return e;
       },
       "visit_logged.next_follow_up_at: must be after occurred_at "
       "(2026-03-01T09:30:00Z), got 2026-03-01T09:30:00Z"},
      {"visit follow-up bad nanos",
       [] {
         auto e = b::VisitLoggedEvent();
         e.mutable_visit_logged()->mutable_next_follow_up_at()->set_nanos(-1);
         return e;
       },
       "visit_logged.next_follow_up_at.nanos: must be 0..999999999, got -1"},
      // --- CallLogged
      {"call direction unset",
       [] {
         auto e = b::CallLoggedEvent();
         e.mutable_call_logged()->clear_direction();
         return e;
       },
       "call_logged.direction: required, got CALL_DIRECTION_UNSPECIFIED"},
      {"call outcome unknown",
       [] {
         auto e = b::CallLoggedEvent();
         e.mutable_call_logged()->set_outcome(
             static_cast<crm::v1::CallOutcome>(17));
         return e;
       },
       "call_logged.outcome: must be a known CallOutcome value, got 17"},
      {"call outcome unset",
       [] {
         auto e = b::CallLoggedEvent();
         e.mutable_call_logged()->clear_outcome();
         return e;
       },
       "call_logged.outcome: required, got CALL_OUTCOME_UNSPECIFIED"},
      {"call too long",
       [] {
         auto e = b::CallLoggedEvent();
         e.mutable_call_logged()->set_duration_seconds(86401);
         return e;
       },
       "call_logged.duration_seconds: must be 0..86400, got 86401"},
      // --- LeadQualified
      {"lead score 101",
       [] {
         auto e = b::LeadQualifiedEvent();
         e.mutable_lead_qualified()->set_score(101);
         return e;
       },
       "lead_qualified.score: must be 0..100, got 101"},
      // --- OpportunityUpdated
      {"opportunity id missing",
       [] {
         auto e = b::OpportunityUpdatedEvent();
         e.mutable_opportunity_updated()->clear_opportunity_id();
         return e;
       },
       "opportunity_updated.opportunity_id: required, got empty string"},
      {"opportunity stage unset",
       [] {
         auto e = b::OpportunityUpdatedEvent();
         e.mutable_opportunity_updated()->clear_stage();
         return e;
       },
       "opportunity_updated.stage: required, got "
       "OPPORTUNITY_STAGE_UNSPECIFIED"},
      {"win probability 101",
       [] {
         auto e = b::OpportunityUpdatedEvent();
         e.mutable_opportunity_updated()->set_win_probability_pct(101);
         return e;
       },
       "opportunity_updated.win_probability_pct: must be 0..100, got 101"},
      {"expected amount negative",
       [] {
         auto e = b::OpportunityUpdatedEvent();
         *e.mutable_opportunity_updated()->mutable_expected_amount() =
             MakeMoney(-1);
         return e;
       },
       "opportunity_updated.expected_amount.minor_units: must be >= 0, got -1"},
      {"expected close bad nanos",
       [] {
         auto e = b::OpportunityUpdatedEvent();
         e.mutable_opportunity_updated()
             ->mutable_expected_close_at()
             ->set_nanos(2000000000);
         return e;
       },
       "opportunity_updated.expected_close_at.nanos: must be 0..999999999, "
       "got 2000000000"},
      // --- OrderPlaced
      {"order id missing",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->clear_order_id();
         return e;
       },
       "order_placed.order_id: required, got empty string"},
      {"order amount missing",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->clear_amount();
         return e;
       },
       "order_placed.amount: required, got unset"},
      {"order amount negative",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->mutable_amount()->set_minor_units(-5);
         return e;
       },
       "order_placed.amount.minor_units: must be >= 0, got -5"},
      {"order amount without currency",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->mutable_amount()->clear_currency();
         return e;
       },
       "order_placed.amount.currency: required, got empty string"},
      {"order amount zero still needs currency",
       [] {
         auto e = b::OrderPlacedEvent();
         auto* o = e.mutable_order_placed();
         *o->mutable_amount() = MakeMoney(0, "");
         o->clear_gross_profit();
         return e;
       },
       "order_placed.amount.currency: required, got empty string"},
      {"currency lower case",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->mutable_amount()->set_currency("eur");
         return e;
       },
       "order_placed.amount.currency: must be 3 upper-case letters (ISO "
       "4217), got \"eur\""},
      {"currency four letters",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->mutable_amount()->set_currency("EURO");
         return e;
       },
       "order_placed.amount.currency: must be 3 upper-case letters (ISO "
       "4217), got \"EURO\""},
      {"two currencies in one event",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->mutable_discount()->set_currency("USD");
         return e;
       },
       "order_placed.discount.currency: must match order_placed.amount."
       "currency (EUR); one currency per event, got \"USD\""},
      {"gross profit above amount",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->mutable_gross_profit()->set_minor_units(
             259901);
         return e;
       },
       "order_placed.gross_profit.minor_units: must be <= "
       "order_placed.amount.minor_units (259900), got 259901"},
      {"gross profit equal to amount ok",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->mutable_gross_profit()->set_minor_units(
             259900);
         return e;
       },
       ""},
      {"gross profit nonzero without currency",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->mutable_gross_profit()->clear_currency();
         return e;
       },
       "order_placed.gross_profit.currency: required when minor_units != 0, "
       "got empty string"},
      {"zero discount without currency ok",
       [] {
         auto e = b::OrderPlacedEvent();
         *e.mutable_order_placed()->mutable_discount() = MakeMoney(0, "");
         return e;
       },
       ""},
      {"discount negative",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->mutable_discount()->set_minor_units(-1);
         return e;
       },
       "order_placed.discount.minor_units: must be >= 0, got -1"},
      {"financing cost negative",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->mutable_financing_cost()->set_minor_units(
             -7);
         return e;
       },
       "order_placed.financing_cost.minor_units: must be >= 0, got -7"},
      {"quantity zero",
       [] {
         auto e = b::OrderPlacedEvent();
         e.mutable_order_placed()->set_quantity(0);
         return e;
       },
       "order_placed.quantity: must be >= 1, got 0"},
      // --- OrderCancelled / OrderReturned
      {"cancel without order id",
       [] {
         auto e = b::OrderCancelledEvent();
         e.mutable_order_cancelled()->clear_order_id();
         return e;
       },
       "order_cancelled.order_id: required, got empty string"},
      {"return without order id",
       [] {
         auto e = b::OrderReturnedEvent();
         e.mutable_order_returned()->clear_order_id();
         return e;
       },
       "order_returned.order_id: required, got empty string"},
      {"refund negative",
       [] {
         auto e = b::OrderReturnedEvent();
         e.mutable_order_returned()->mutable_refund_amount()->set_minor_units(
             -100);
         return e;
       },
       "order_returned.refund_amount.minor_units: must be >= 0, got -100"},
      // --- PaymentReceived
      {"payment without invoice",
       [] {
         auto e = b::PaymentReceivedEvent();
         e.mutable_payment_received()->clear_invoice_id();
         return e;
       },
       "payment_received.invoice_id: required, got empty string"},
      {"payment without amount",
       [] {
         auto e = b::PaymentReceivedEvent();
         e.mutable_payment_received()->clear_amount();
         return e;
       },
       "payment_received.amount: required, got unset"},
      {"payment zero",
       [] {
         auto e = b::PaymentReceivedEvent();
         e.mutable_payment_received()->mutable_amount()->set_minor_units(0);
         return e;
       },
       "payment_received.amount.minor_units: must be > 0, got 0"},
      {"payment very late",
       [] {
         auto e = b::PaymentReceivedEvent();
         e.mutable_payment_received()->set_days_late(3651);
         return e;
       },
       "payment_received.days_late: must be 0..3650, got 3651"},
      {"outstanding negative",
       [] {
         auto e = b::PaymentReceivedEvent();
         e.mutable_payment_received()->mutable_outstanding()->set_minor_units(
             -1);
         return e;
       },
       "payment_received.outstanding.minor_units: must be >= 0, got -1"},
      {"outstanding other currency",
       [] {
         auto e = b::PaymentReceivedEvent();
         e.mutable_payment_received()->mutable_outstanding()->set_currency(
             "CNY");
         return e;
       },
       "payment_received.outstanding.currency: must match "
       "payment_received.amount.currency (EUR); one currency per event, got "
       "\"CNY\""},
      // --- Complaints
      {"complaint id missing",
       [] {
         auto e = b::ComplaintOpenedEvent();
         e.mutable_complaint_opened()->clear_complaint_id();
         return e;
       },
       "complaint_opened.complaint_id: required, got empty string"},
      {"complaint severity unset",
       [] {
         auto e = b::ComplaintOpenedEvent();
         e.mutable_complaint_opened()->clear_severity();
         return e;
       },
       "complaint_opened.severity: required, got "
       "COMPLAINT_SEVERITY_UNSPECIFIED"},
      {"complaint category unknown",
       [] {
         auto e = b::ComplaintOpenedEvent();
         e.mutable_complaint_opened()->set_category(
             static_cast<crm::v1::ComplaintCategory>(6));
         return e;
       },
       "complaint_opened.category: must be a known ComplaintCategory value, "
       "got 6"},
      {"complaint raised_via unset ok",
       [] {
         auto e = b::ComplaintOpenedEvent();
         e.mutable_complaint_opened()->clear_raised_via();
         return e;
       },
       ""},
      {"complaint raised_via unknown",
       [] {
         auto e = b::ComplaintOpenedEvent();
         e.mutable_complaint_opened()->set_raised_via(
             static_cast<crm::v1::Channel>(8));
         return e;
       },
       "complaint_opened.raised_via: must be a known Channel value, got 8"},
      {"complaint summary too long",
       [] {
         auto e = b::ComplaintOpenedEvent();
         e.mutable_complaint_opened()->set_summary(std::string(4001, 's'));
         return e;
       },
       "complaint_opened.summary: must be at most 4000 characters, got 4001"},
      {"resolved without id",
       [] {
         auto e = b::ComplaintResolvedEvent();
         e.mutable_complaint_resolved()->clear_complaint_id();
         return e;
       },
       "complaint_resolved.complaint_id: required, got empty string"},
      {"resolution unset",
       [] {
         auto e = b::ComplaintResolvedEvent();
         e.mutable_complaint_resolved()->clear_resolution();
         return e;
       },
       "complaint_resolved.resolution: required, got "
       "COMPLAINT_RESOLUTION_UNSPECIFIED"},
      // --- SurveyAnswered
      {"survey id missing",
       [] {
         auto e = b::SurveyAnsweredEvent();
         e.mutable_survey_answered()->clear_survey_id();
         return e;
       },
       "survey_answered.survey_id: required, got empty string"},
      {"survey without scores",
       [] {
         auto e = b::SurveyAnsweredEvent();
         e.mutable_survey_answered()->clear_csat();
         e.mutable_survey_answered()->clear_nps();
         return e;
       },
       "survey_answered: must set csat or nps, got neither"},
      {"csat 0",
       [] {
         auto e = b::SurveyAnsweredEvent();
         e.mutable_survey_answered()->set_csat(0);
         return e;
       },
       "survey_answered.csat: must be 1..5, got 0"},
      {"csat 6",
       [] {
         auto e = b::SurveyAnsweredEvent();
         e.mutable_survey_answered()->set_csat(6);
         return e;
       },
       "survey_answered.csat: must be 1..5, got 6"},
      {"nps 11",
       [] {
         auto e = b::SurveyAnsweredEvent();
         e.mutable_survey_answered()->set_nps(11);
         return e;
       },
       "survey_answered.nps: must be 0..10, got 11"},
      {"nps only ok",
       [] {
         auto e = b::SurveyAnsweredEvent();
         e.mutable_survey_answered()->clear_csat();
         return e;
       },
       ""},
      // --- WalletEstimated
      {"category spend negative",
       [] {
         auto e = b::WalletEstimatedEvent();
         e.mutable_wallet_estimated()
             ->mutable_category_spend()
             ->set_minor_units(-1);
         return e;
       },
       "wallet_estimated.category_spend.minor_units: must be >= 0, got -1"},
      {"planned purchases negative",
       [] {
         auto e = b::WalletEstimatedEvent();
         e.mutable_wallet_estimated()
             ->mutable_planned_purchases()
             ->set_minor_units(-2);
         return e;
       },
       "wallet_estimated.planned_purchases.minor_units: must be >= 0, got -2"},
      // --- CustomerRegraded
      {"regrade without target",
       [] {
         auto e = b::CustomerRegradedEvent();
         e.mutable_customer_regraded()->clear_target();
         return e;
       },
       "customer_regraded.target: must set one of value_tier, "
       "customer_class, stars, got none"},
      {"regrade stars 0",
       [] {
         auto e = b::CustomerRegradedEvent();
         e.mutable_customer_regraded()->set_stars(0);
         return e;
       },
       "customer_regraded.stars: must be 1..5, got 0"},
      {"regrade stars 6",
       [] {
         auto e = b::CustomerRegradedEvent();
         e.mutable_customer_regraded()->set_stars(6);
         return e;
       },
       "customer_regraded.stars: must be 1..5, got 6"},
      {"regrade value tier unspecified",
       [] {
         auto e = b::CustomerRegradedEvent();
         e.mutable_customer_regraded()->set_value_tier(
             crm::v1::VALUE_TIER_UNSPECIFIED);
         return e;
       },
       "customer_regraded.value_tier: required, got VALUE_TIER_UNSPECIFIED"},
      {"regrade customer class unknown",
       [] {
         auto e = b::CustomerRegradedEvent();
         e.mutable_customer_regraded()->set_customer_class(
             static_cast<crm::v1::CustomerClass>(4));
         return e;
       },
       "customer_regraded.customer_class: must be a known CustomerClass "
       "value, got 4"},
      {"regrade value tier ok",
       [] {
         auto e = b::CustomerRegradedEvent();
         e.mutable_customer_regraded()->set_value_tier(crm::v1::VALUE_TIER_VIP);
         return e;
       },
       ""},
      {"regrade without reason",
       [] {
         auto e = b::CustomerRegradedEvent();
         e.mutable_customer_regraded()->clear_reason();
         return e;
       },
       "customer_regraded.reason: required, got empty string"},
      {"regrade reason too long",
       [] {
         auto e = b::CustomerRegradedEvent();
         e.mutable_customer_regraded()->set_reason(std::string(1001, 'r'));
         return e;
       },
       "customer_regraded.reason: must be at most 1000 characters, got 1001"},
      {"regrade expires before occurred",
       [] {
         auto e = b::CustomerRegradedEvent();
         *e.mutable_customer_regraded()->mutable_expires_at() =
             MakeTimestamp(kT - 86400);
         return e;
       },
       "customer_regraded.expires_at: must be after occurred_at "
       "(2026-03-01T09:30:00Z), got 2026-02-28T09:30:00Z"},
  };
}

class ValidatorRuleTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidatorRuleTest, GivesExactOutcome) {
  const Case& c = GetParam();
  const absl::Status status = Validate(c.make());
  if (c.message.empty()) {
    EXPECT_TRUE(status.ok()) << status;
  } else {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), c.message);
  }
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name;
  for (char ch : info.param.name) {
    name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Rules, ValidatorRuleTest, ::testing::ValuesIn(Cases()),
                         CaseName);

TEST(ValidatorTest, EveryBuiltEventIsValid) {
  for (const Envelope& e : crm::testing::AllEventKinds()) {
    EXPECT_TRUE(Validate(e).ok()) << e.DebugString() << Validate(e);
  }
  for (const Envelope& e : crm::testing::RealisticEvents(500, 7)) {
    EXPECT_TRUE(Validate(e).ok()) << e.DebugString() << Validate(e);
  }
}

// Every byte value at every offset of a 19-byte id (two words and a tail of
// three): accepted exactly when printable ASCII, else named with its offset.
TEST(ValidatorTest, EveryByteAtEveryOffsetOfAnId) {
  for (size_t at = 0; at < 19; ++at) {
    for (int c = 0; c < 256; ++c) {
      auto e = b::CallLoggedEvent();
      std::string id(19, 'k');
      id[at] = static_cast<char>(c);
      e.set_event_id(id);
      const absl::Status s = Validate(e);
      if (c >= 0x20 && c <= 0x7E) {
        EXPECT_TRUE(s.ok()) << "byte " << c << " at " << at << ": " << s;
      } else {
        EXPECT_EQ(s.message(),
                  absl::StrFormat("event_id: must be printable ASCII, got "
                                  "byte 0x%02X at offset %d",
                                  c, at))
            << "byte " << c << " at " << at;
      }
    }
  }
}

}  // namespace
}  // namespace crm::event
