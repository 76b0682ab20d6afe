#pragma once

// Builders of crm.v1.Envelope events for tests and benchmarks: one valid,
// fully populated event of every kind, and realistic mixed streams. Tests
// start from a valid event and break one field. Stateless free functions;
// thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "crm/v1/events.pb.h"

namespace crm::testing {

// 2026-03-01T09:30:00Z, the occurred_at of every built event.
inline constexpr int64_t kBuiltOccurredAtSeconds = 1772357400;

// Money of `minor_units` in `currency`.
crm::v1::Money MakeMoney(int64_t minor_units,
                         absl::string_view currency = "EUR");

// A Timestamp `seconds` after the epoch.
google::protobuf::Timestamp MakeTimestamp(int64_t seconds, int32_t nanos = 0);

// An envelope with the common fields set (event_id, customer_id,
// occurred_at, recorded_at a minute later, channel, actor,
// schema_version 1) and no body.
crm::v1::Envelope MakeEnvelope(absl::string_view event_id = "evt-0001",
                               absl::string_view customer_id = "cust-0001");

// One valid event per kind, every documented field set.
crm::v1::Envelope CustomerRegisteredEvent();
crm::v1::Envelope ProfileUpdatedEvent();
crm::v1::Envelope VisitLoggedEvent();
crm::v1::Envelope CallLoggedEvent();
crm::v1::Envelope LeadQualifiedEvent();
crm::v1::Envelope OpportunityUpdatedEvent();
crm::v1::Envelope OrderPlacedEvent();
crm::v1::Envelope OrderCancelledEvent();
crm::v1::Envelope OrderReturnedEvent();
crm::v1::Envelope PaymentReceivedEvent();
crm::v1::Envelope ComplaintOpenedEvent();
crm::v1::Envelope ComplaintResolvedEvent();
crm::v1::Envelope SurveyAnsweredEvent();
crm::v1::Envelope WalletEstimatedEvent();
crm::v1::Envelope CustomerRegradedEvent();

// The valid event of `body` (one of the functions above).
crm::v1::Envelope EventOfKind(crm::v1::Envelope::BodyCase body);

// One valid event of every kind, in field-number order of the body.
std::vector<crm::v1::Envelope> AllEventKinds();

// `n` valid events of mixed kinds in a realistic proportion (mostly visits,
// calls, orders and payments), with distinct ids, customers and times,
// deterministic for a `seed`. About 200 bytes each as JSON.
std::vector<crm::v1::Envelope> RealisticEvents(int n, uint32_t seed = 1);

}  // namespace crm::testing
