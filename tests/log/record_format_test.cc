#include "engine/log/record_format.h"

#include <string>

#include "engine/log/crc32c.h"
#include "gtest/gtest.h"

namespace crm::log::internal {
namespace {

TEST(RecordFormatTest, LayoutIsByteExact) {
  std::string out;
  AppendRecord(3, 0x0102030405060708, 1767225600123, "key", "value", &out);
  ASSERT_EQ(out.size(), 32u + 3 + 5);
  EXPECT_EQ(LoadU32(out.data()), 24u + 3 + 5);  // body length
  EXPECT_EQ(LoadU32(out.data() + 8), 3u);       // partition
  EXPECT_EQ(out.substr(12, 8),
            std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));  // LE
  EXPECT_EQ(static_cast<int64_t>(LoadU64(out.data() + 20)), 1767225600123);
  EXPECT_EQ(LoadU32(out.data() + 28), 3u);  // key length
  EXPECT_EQ(out.substr(32), "keyvalue");
  // CRC-32C of the length field followed by the body.
  const std::string covered = out.substr(0, 4) + out.substr(8);
  EXPECT_EQ(LoadU32(out.data() + 4), Crc32c(covered));
}

TEST(RecordFormatTest, DecodeRoundTrip) {
  std::string out;
  AppendRecord(1, 42, 7, "c-1", std::string(300, 'x'), &out);
  AppendRecord(1, 43, 8, "", "", &out);
  RecordView rec;
  ASSERT_EQ(DecodeRecord(out.data(), out.size(), true, &rec),
            DecodeResult::kOk);
  EXPECT_EQ(rec.partition, 1);
  EXPECT_EQ(rec.offset, 42);
  EXPECT_EQ(rec.timestamp_ms, 7);
  EXPECT_EQ(rec.key, "c-1");
  EXPECT_EQ(rec.value, std::string(300, 'x'));
  EXPECT_EQ(rec.encoded_size, 32u + 3 + 300);
  const size_t second = rec.encoded_size;
  ASSERT_EQ(DecodeRecord(out.data() + second, out.size() - second, true, &rec),
            DecodeResult::kOk);
  EXPECT_EQ(rec.offset, 43);
  EXPECT_EQ(rec.key, "");
  EXPECT_EQ(rec.value, "");
  EXPECT_EQ(rec.encoded_size, 32u);
}

TEST(RecordFormatTest, EveryPrefixIsTruncated) {
  std::string out;
  AppendRecord(0, 1, 2, "k", "v", &out);
  RecordView rec;
  for (size_t n = 0; n < out.size(); ++n) {
    EXPECT_EQ(DecodeRecord(out.data(), n, true, &rec), DecodeResult::kTruncated)
        << n;
  }
}

TEST(RecordFormatTest, EveryFlippedBitIsDetected) {
  std::string good;
  AppendRecord(0, 1, 2, "key", "value", &good);
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      RecordView rec;
      EXPECT_NE(DecodeRecord(bad.data(), bad.size(), true, &rec),
                DecodeResult::kOk)
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST(RecordFormatTest, ImpossibleLengths) {
  std::string out;
  AppendRecord(0, 1, 2, "key", "value", &out);
  RecordView rec;
  std::string small = out;
  StoreU32(small.data(), 23);  // below the fixed body
  EXPECT_EQ(DecodeRecord(small.data(), small.size(), true, &rec),
            DecodeResult::kBadLength);
  std::string huge = out;
  StoreU32(huge.data(), kMaxBodyBytes + 1);
  EXPECT_EQ(DecodeRecord(huge.data(), huge.size(), true, &rec),
            DecodeResult::kBadLength);
  std::string zeros(64, '\0');
  EXPECT_EQ(DecodeRecord(zeros.data(), zeros.size(), true, &rec),
            DecodeResult::kBadLength);
}

}  // namespace
}  // namespace crm::log::internal
