#include "engine/store/store_log.h"

#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace crm::store {
namespace {

uint64_t SizeOf(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

TEST(StoreLoggerTest, LogIsRolledIntoOneOldFileWhenFull) {
  testing::TempDir tmp;
  const std::string dir = tmp.path().string();
  constexpr uint64_t kMax = 4096;
  auto logger = StoreLogger::Open(dir, rocksdb::WARN_LEVEL, kMax);
  ASSERT_NE(logger, nullptr);
  const std::string line(100, 'x');
  for (int i = 0; i < 1000; ++i) {
    rocksdb::Log(rocksdb::WARN_LEVEL, logger.get(), "line %d %s", i,
                 line.c_str());
    // Never more than the limit and one line in LOG, or in LOG.old.
    ASSERT_LT(SizeOf(dir + "/LOG"), kMax + 200) << "after line " << i;
    ASSERT_LT(SizeOf(dir + "/LOG.old"), kMax + 200) << "after line " << i;
  }
  logger.reset();
  const std::string log = testing::ReadFile(dir + "/LOG");
  const std::string old = testing::ReadFile(dir + "/LOG.old");
  // The newest line is in LOG, and the line just before LOG's first ends
  // LOG.old: nothing between them was lost.
  EXPECT_NE(log.find("line 999 " + line + "\n"), std::string::npos);
  const size_t at = log.find("line ");
  ASSERT_NE(at, std::string::npos);
  const int first = std::stoi(log.substr(at + 5));
  ASSERT_GT(first, 0);
  const std::string last_old =
      "line " + std::to_string(first - 1) + " " + line + "\n";
  ASSERT_GE(old.size(), last_old.size());
  EXPECT_EQ(old.substr(old.size() - last_old.size()), last_old);
  EXPECT_GT(SizeOf(dir + "/LOG.old"), kMax - 200);
  size_t files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    (void)f;
    ++files;
  }
  EXPECT_EQ(files, 2u);
}

TEST(StoreLoggerTest, AFullLogIsRolledAtOpenAndASmallOneAppendedTo) {
  testing::TempDir tmp;
  const std::string dir = tmp.path().string();
  testing::WriteFile(dir + "/LOG", "earlier\n");
  {
    auto logger = StoreLogger::Open(dir, rocksdb::WARN_LEVEL, 4096);
    ASSERT_NE(logger, nullptr);
    rocksdb::Log(rocksdb::WARN_LEVEL, logger.get(), "now");
  }
  const std::string log = testing::ReadFile(dir + "/LOG");
  EXPECT_EQ(log.rfind("earlier\n", 0), 0u) << log;
  EXPECT_NE(log.find("now\n"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(dir + "/LOG.old"));

  testing::WriteFile(dir + "/LOG", std::string(5000, 'y') + "\n");
  {
    auto logger = StoreLogger::Open(dir, rocksdb::WARN_LEVEL, 4096);
    ASSERT_NE(logger, nullptr);
    rocksdb::Log(rocksdb::WARN_LEVEL, logger.get(), "later");
  }
  EXPECT_EQ(SizeOf(dir + "/LOG.old"), 5001u);
  const std::string rolled = testing::ReadFile(dir + "/LOG");
  EXPECT_EQ(rolled.find('y'), std::string::npos) << rolled;
  EXPECT_NE(rolled.find("later\n"), std::string::npos) << rolled;
}

TEST(StoreLoggerTest, LinesBelowTheLevelAreNotWritten) {
  testing::TempDir tmp;
  const std::string dir = tmp.path().string();
  {
    auto logger = StoreLogger::Open(dir, rocksdb::WARN_LEVEL);
    ASSERT_NE(logger, nullptr);
    rocksdb::Log(rocksdb::INFO_LEVEL, logger.get(), "chatter");
    rocksdb::Log(rocksdb::ERROR_LEVEL, logger.get(), "trouble %d", 7);
  }
  const std::string log = testing::ReadFile(dir + "/LOG");
  EXPECT_EQ(log.find("chatter"), std::string::npos) << log;
  EXPECT_NE(log.find("trouble 7\n"), std::string::npos) << log;
}

}  // namespace
}  // namespace crm::store
