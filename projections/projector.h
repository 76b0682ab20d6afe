#pragma once

// The per-customer projector: applies one event (or elapsed event time) to a
// crm.v1.CustomerState, updating the card, grade, lifecycle and satisfaction
// views together and returning the derived transitions (grade changed,
// lifecycle stage changed, SLA breached).
//
// Pure and deterministic: no I/O, no clock, no globals. Time comes only from
// events' occurred_at and explicit as_of arguments. The views are recomputed
// at "evaluation points" only: every applied event, and every scheduled
// deadline (a lifecycle window ending, an SLA due time, an override expiring,
// revenue leaving a rolling window, a birthday or holiday passing). So the
// state after a sequence of calls does not depend on how calls were batched
// or whether AdvanceTo was called in between: AdvanceTo(t1); AdvanceTo(t2)
// leaves the same state as AdvanceTo(t2).
//
// A rules version names one set of rules: the views record the version they
// were computed with, and a why stored by a previous evaluation under the
// same version is reused while its inputs are unchanged. Evaluating a state
// with different rules under the same version is not supported.
//
// Not thread-safe per state; distinct states may be used concurrently.

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/events.pb.h"
#include "crm/v1/rules.pb.h"
#include "crm/v1/views.pb.h"

namespace crm::projections {

// Open opportunities kept per customer (oldest updated dropped first).
inline constexpr int kMaxOpenOpportunities = 50;

// Checks what the projector relies on: a body, occurred_at, a customer id
// equal to the state's (if the state has one), the ids an event refers to,
// a regrade target in range, and every non-zero amount in the rules
// currency. kInvalidArgument naming the event and field, e.g. "event e7:
// order_placed.amount.currency: must be
// \"USD\" (the rules currency), got \"EUR\"".
absl::Status ValidateEventForProjection(const v1::Envelope& event,
                                        const v1::Rules& rules,
                                        const v1::CustomerState& state);

// Applies `event` to `state`: first AdvanceTo(event.occurred_at), then the
// event, then re-evaluates every view at max(occurred_at, state as_of) (a
// late event is applied at the state's current time). Returns every
// transition in the order it happened (those caused by elapsed time first,
// with empty event_id). On error (ValidateEventForProjection) the state is
// unchanged. Rules must be valid (ValidateRules). Deduplication by event_id
// is the caller's job.
absl::StatusOr<std::vector<v1::Transition>> ApplyEvent(
    const v1::Envelope& event, const v1::Rules& rules,
    v1::CustomerState* state);

// A transition as the projections raise it, before it is a message: the
// fields of v1::Transition, strings viewing the state, the rules and the
// event (valid only during TransitionSink::Raise).
struct TransitionRef {
  absl::string_view customer_id;
  v1::TransitionKind kind = v1::TRANSITION_KIND_UNSPECIFIED;
  absl::string_view dimension;
  absl::string_view from;
  absl::string_view to;
  absl::Time at;
  absl::string_view rules_version;
  absl::string_view why;
  absl::string_view event_id;
  absl::string_view subject_id;
};

// The Transition message ApplyEvent returns for `ref` (fields set in *t,
// which should be empty).
void BuildTransition(const TransitionRef& ref, v1::Transition* t);

// Takes each transition as it is raised, for a caller that encodes them
// itself rather than collect messages (the partition task's outbox).
class TransitionSink {
 public:
  virtual ~TransitionSink() = default;
  virtual void Raise(const TransitionRef& t) = 0;
};

// ApplyEvent with each transition handed to sink->Raise, in the order
// ApplyEvent returns them; a null sink only counts them. Returns how many
// were raised. The same state and errors as ApplyEvent; on error nothing
// was raised (the event is rejected before it is applied). A replay's
// scratch store passes no sink: its histories hold the same changes.
absl::StatusOr<size_t> ApplyEventToSink(const v1::Envelope& event,
                                        const v1::Rules& rules,
                                        v1::CustomerState* state,
                                        TransitionSink* sink);

// Applies elapsed event time up to `as_of`: evaluates the views at each
// scheduled deadline in (state as_of, as_of] in order, then sets the state's
// as_of (and time in stage) to `as_of`. No-op when as_of is not after the
// state's. Idempotent. Returns the transitions that happened.
//
// The state's as_of never moves back, and a later late event is applied at
// it; so persist an advanced state only when `as_of` itself comes from the
// log (e.g. a sweep to the partition's latest event time), and answer
// ad-hoc "as of" queries on a copy. Then live runs and replays agree.
std::vector<v1::Transition> AdvanceTo(absl::Time as_of, const v1::Rules& rules,
                                      v1::CustomerState* state);

// The customer's input to the population pass at `as_of` (normally the
// state's as_of after AdvanceTo(as_of)): window revenue, account manager and
// RFM recency / frequency / monetary.
v1::PopulationFacts ExtractPopulationFacts(const v1::CustomerState& state,
                                           const v1::Rules& rules,
                                           absl::Time as_of);

// Stores the customer's population result (ABC, computed class, RFM scores
// and segment, contribution degree): AdvanceTo(as_of), set them, and
// re-evaluate the views. kInvalidArgument if the entry is for another
// customer. Returns the transitions (ABC and class changes with why
// "population pass").
absl::StatusOr<std::vector<v1::Transition>> ApplyPopulationEntry(
    const v1::PopulationEntry& entry, absl::Time as_of, const v1::Rules& rules,
    v1::CustomerState* state);

}  // namespace crm::projections
