#include "engine/log/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace crm::log {
namespace {

// Test vectors from RFC 3720 (iSCSI), appendix B.4, and the usual check
// value of CRC-32C.
TEST(Crc32cTest, MatchesStandardVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
  std::string descending(32, '\0');
  for (int i = 0; i < 32; ++i) descending[i] = static_cast<char>(31 - i);
  EXPECT_EQ(Crc32c(descending), 0x113FDB5Cu);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(Crc32cTest, PortableAndDispatchedAgreeAtEveryLengthAndAlignment) {
  std::string data(1024 + 16, '\0');
  uint32_t x = 12345;
  for (char& c : data) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 16);
  }
  for (size_t align = 0; align < 8; ++align) {
    for (size_t n = 0; n <= 1024; n += (n < 64 ? 1 : 37)) {
      const char* p = data.data() + align;
      ASSERT_EQ(Crc32c(p, n), internal::Crc32cExtendPortable(0, p, n))
          << "align " << align << " n " << n;
    }
  }
}

TEST(Crc32cTest, ExtendEqualsOneShot) {
  const std::string a = "the quick brown fox ";
  const std::string b = "jumps over the lazy dog";
  EXPECT_EQ(Crc32cExtend(Crc32c(a), b.data(), b.size()), Crc32c(a + b));
  EXPECT_EQ(internal::Crc32cExtendPortable(Crc32c(a), b.data(), b.size()),
            Crc32c(a + b));
}

}  // namespace
}  // namespace crm::log
