#pragma once

// The outbox record of one transition, written straight from the
// projections' TransitionRef: the bytes of
// OutboxRecord{transition: BuildTransition(ref)} serialized, without
// building either message (a partition task writes one per grade, stage or
// SLA change, about one for every three events).

#include <string>

#include "projections/projector.h"

namespace crm::task {

// Appends the record's bytes to *out.
void AppendTransitionRecord(const projections::TransitionRef& t,
                            std::string* out);

}  // namespace crm::task
