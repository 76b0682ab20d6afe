#pragma once

// A generated multi-channel history as log records: each envelope of
// crm::generator encoded with event::EncodeBinary and keyed by its customer.

#include <cstdint>
#include <string>
#include <vector>

namespace crm::testing {

struct GeneratedHistory {
  std::vector<std::string> keys;    // customer ids
  std::vector<std::string> values;  // binary envelopes, in generator order
};

// Every event of `customers` customers over `months` months from `seed`.
// Fails the calling test (and returns what it has) on bad options.
GeneratedHistory GenerateHistory(int customers, int months, uint64_t seed);

}  // namespace crm::testing
