#include "engine/log/event_log.h"
#include "gtest/gtest.h"

namespace crm::log {
namespace {

// Expected values from Kafka's own UtilsTest.testMurmur2, so every producer
// (Java, librdkafka, ours) puts a customer on the same partition.
TEST(PartitionerTest, Murmur2MatchesKafka) {
  EXPECT_EQ(static_cast<int32_t>(Murmur2("21")), -973932308);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("foobar")), -790332482);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("a-little-bit-long-string")),
            -985981536);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("a-little-bit-longer-string")),
            -1486304829);
  EXPECT_EQ(static_cast<int32_t>(
                Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")),
            -58897971);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("abc")), 479470107);
}

TEST(PartitionerTest, PartitionIsPositiveModulo) {
  // -973932308 & 0x7fffffff = 1173551340; % 6 = 0
  EXPECT_EQ(PartitionFor("21", 6), 1173551340 % 6);
  EXPECT_EQ(PartitionFor("anything", 1), 0);
  for (int i = 0; i < 1000; ++i) {
    int32_t p = PartitionFor("c" + std::to_string(i), 7);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 7);
  }
}

}  // namespace
}  // namespace crm::log
