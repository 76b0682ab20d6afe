#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace crm {

// A source of wall-clock time for the runtime (metrics, timeouts, progress
// output). Projections never take one: their time comes from events or an
// explicit as-of. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The real clock. Stateless; one instance may be shared.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace crm
