#include "engine/log/record_format.h"

#include "engine/log/crc32c.h"

namespace crm::log::internal {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the on-disk format is little-endian; add byte swaps");

size_t EncodeRecord(int32_t partition, int64_t offset, int64_t timestamp_ms,
                    absl::string_view key, absl::string_view value, char* dst) {
  const uint32_t body =
      static_cast<uint32_t>(kBodyFixedBytes + key.size() + value.size());
  StoreU32(dst, body);
  StoreU32(dst + 8, static_cast<uint32_t>(partition));
  StoreU64(dst + 12, static_cast<uint64_t>(offset));
  StoreU64(dst + 20, static_cast<uint64_t>(timestamp_ms));
  StoreU32(dst + 28, static_cast<uint32_t>(key.size()));
  if (!key.empty()) std::memcpy(dst + 32, key.data(), key.size());
  if (!value.empty()) {
    std::memcpy(dst + 32 + key.size(), value.data(), value.size());
  }
  const uint32_t crc = Crc32cExtend(Crc32c(dst, 4), dst + 8, body);
  StoreU32(dst + 4, crc);
  return kFrameHeaderBytes + body;
}

void AppendRecord(int32_t partition, int64_t offset, int64_t timestamp_ms,
                  absl::string_view key, absl::string_view value,
                  std::string* out) {
  const size_t old = out->size();
  out->resize(old + EncodedSize(key.size(), value.size()));
  EncodeRecord(partition, offset, timestamp_ms, key, value, out->data() + old);
}

DecodeResult DecodeRecord(const char* p, size_t avail, bool verify_crc,
                          RecordView* out) {
  if (avail < kFrameHeaderBytes) return DecodeResult::kTruncated;
  const uint32_t body = LoadU32(p);
  if (body < kBodyFixedBytes || body > kMaxBodyBytes) {
    return DecodeResult::kBadLength;
  }
  if (avail - kFrameHeaderBytes < body) return DecodeResult::kTruncated;
  if (verify_crc) {
    const uint32_t crc = Crc32cExtend(Crc32c(p, 4), p + 8, body);
    if (crc != LoadU32(p + 4)) return DecodeResult::kBadCrc;
  }
  const uint32_t key_len = LoadU32(p + 28);
  if (key_len > body - kBodyFixedBytes) return DecodeResult::kBadLength;
  out->partition = static_cast<int32_t>(LoadU32(p + 8));
  out->offset = static_cast<int64_t>(LoadU64(p + 12));
  out->timestamp_ms = static_cast<int64_t>(LoadU64(p + 20));
  out->key = absl::string_view(p + 32, key_len);
  out->value =
      absl::string_view(p + 32 + key_len, body - kBodyFixedBytes - key_len);
  out->encoded_size = kFrameHeaderBytes + body;
  return DecodeResult::kOk;
}

const char* DecodeResultName(DecodeResult r) {
  switch (r) {
    case DecodeResult::kOk:
      return "ok";
    case DecodeResult::kTruncated:
      return "truncated record";
    case DecodeResult::kBadLength:
      return "impossible record length";
    case DecodeResult::kBadCrc:
      return "CRC mismatch";
  }
  return "unknown";
}

}  // namespace crm::log::internal
