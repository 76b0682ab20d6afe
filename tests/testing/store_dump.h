#pragma once

#include <string>

namespace crm::testing {

// Every partition store under `store_dir` (p-0000, p-0001, ...), as text:
// per partition its next offset, then every customer record's key and
// escaped bytes in key order, then every history entry (key and bytes).
// Two stores with equal dumps hold
// byte-identical views. Opens the stores read-only; fails the test (and
// returns what it has) on errors.
std::string DumpStores(const std::string& store_dir);

}  // namespace crm::testing
