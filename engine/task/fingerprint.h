#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"

namespace crm::task {

// A stable 64-bit fingerprint of an event id (FNV-1a 64, then the
// splitmix64 finalizer to spread the bits). Stored on disk, so it must
// never change. Two distinct ids of one customer share a fingerprint with
// probability about n^2 / 2^65 for n events of that customer.
inline uint64_t EventFingerprint(absl::string_view event_id) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : event_id) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

}  // namespace crm::task
