#pragma once

// The record framing shared by segment files and archive files (see
// README.md, "On-disk format"). All integers little-endian:
//
//   [0, 4)   u32 body_length        bytes of the body, 24 + key + value
//   [4, 8)   u32 crc                CRC-32C of bytes [0, 4) then the body
//   [8, 12)  i32 partition
//   [12, 20) i64 offset
//   [20, 28) i64 timestamp_ms       append time, ms since the Unix epoch
//   [28, 32) u32 key_length
//   [32, ..) key bytes, then value bytes (value length = body_length - 24 -
//            key_length)
//
// Stateless functions; thread-safe.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace crm::log::internal {

inline constexpr size_t kFrameHeaderBytes = 8;  // body_length + crc
inline constexpr size_t kBodyFixedBytes = 24;   // partition..key_length
inline constexpr size_t kRecordOverheadBytes =
    kFrameHeaderBytes + kBodyFixedBytes;
// Bodies above this are "impossible lengths" (corruption), not records.
inline constexpr uint32_t kMaxBodyBytes = 64u << 20;

// A decoded record; key and value point into the decoded buffer.
struct RecordView {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  absl::string_view key;
  absl::string_view value;
  size_t encoded_size = 0;  // bytes of the whole frame
};

enum class DecodeResult {
  kOk,
  kTruncated,  // the buffer ends inside the frame
  kBadLength,  // body_length or key_length impossible
  kBadCrc,     // checksum mismatch
};

inline size_t EncodedSize(size_t key_size, size_t value_size) {
  return kRecordOverheadBytes + key_size + value_size;
}

// Writes one frame at `dst`, which must have EncodedSize() bytes. Returns
// the frame size.
size_t EncodeRecord(int32_t partition, int64_t offset, int64_t timestamp_ms,
                    absl::string_view key, absl::string_view value, char* dst);

// Appends one frame to `out`.
void AppendRecord(int32_t partition, int64_t offset, int64_t timestamp_ms,
                  absl::string_view key, absl::string_view value,
                  std::string* out);

// Decodes the frame at the start of [p, p + avail). With verify_crc false
// the checksum is not computed (used only to skip frames already checked).
DecodeResult DecodeRecord(const char* p, size_t avail, bool verify_crc,
                          RecordView* out);

// Human-readable reason for a failed decode, for kDataLoss messages.
const char* DecodeResultName(DecodeResult r);

inline uint32_t LoadU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t LoadU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void StoreU32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void StoreU64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }

}  // namespace crm::log::internal
