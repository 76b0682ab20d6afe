#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace crm::log {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// every record in the embedded log and archive files. Uses the SSE4.2 crc32
// instruction when the CPU has it and a slicing-by-8 table otherwise; both
// give the same value. Stateless and thread-safe.

// Returns the CRC-32C of `crc`'s data followed by `data[0, n)`. Start a fresh
// checksum with crc = 0: Crc32c("123456789") == 0xE3069283.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) {
  return Crc32cExtend(0, data, n);
}
inline uint32_t Crc32c(absl::string_view s) {
  return Crc32cExtend(0, s.data(), s.size());
}

namespace internal {
// The portable table-driven implementation, exposed for tests.
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);
// True when the hardware path is used.
bool Crc32cHardwareAvailable();
}  // namespace internal

}  // namespace crm::log
