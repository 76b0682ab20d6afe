#pragma once

#include "absl/status/status.h"
#include "crm/v1/events.pb.h"

namespace crm::event {

// Checks one event against the rules documented in events.proto. OK, or
// kInvalidArgument whose message names the field path and what was
// expected, e.g. "order_placed.amount.minor_units: must be >= 0, got -5".
// The caller adds the record's location (file:line or event_id).
absl::Status Validate(const crm::v1::Envelope& event);

}  // namespace crm::event
