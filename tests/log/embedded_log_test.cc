#include "engine/log/embedded_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/log/record_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/temp_dir.h"

namespace crm::log {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Rec {
  std::string key;
  std::string value;
};

std::vector<Rec> MakeRecords(int n, int keys, int first = 0) {
  std::vector<Rec> out;
  for (int i = first; i < first + n; ++i) {
    out.push_back({absl::StrCat("cust-", i % keys), absl::StrCat("event-", i)});
  }
  return out;
}

absl::Status AppendAll(EventLog& log, const std::vector<Rec>& recs,
                       size_t batch) {
  for (size_t i = 0; i < recs.size(); i += batch) {
    std::vector<RecordRef> refs;
    for (size_t j = i; j < std::min(recs.size(), i + batch); ++j) {
      refs.push_back({recs[j].key, recs[j].value});
    }
    absl::Status s = log.Append(refs);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// Everything from `offset` to the end offset, or the first error.
absl::StatusOr<std::vector<LogRecord>> ReadFrom(EventLog& log, int32_t p,
                                                int64_t offset) {
  auto end = log.EndOffset(p);
  if (!end.ok()) return end.status();
  auto reader = log.OpenReader(p, offset);
  if (!reader.ok()) return reader.status();
  std::vector<LogRecord> out;
  while ((*reader)->position() < *end) {
    auto n = (*reader)->Poll(&out, 37, absl::ZeroDuration());
    if (!n.ok()) return n.status();
    if (*n == 0) return absl::InternalError("reader stopped before the end");
  }
  return out;
}

uint64_t FileSize(const std::string& path) {
  return std::filesystem::file_size(path);
}

class EmbeddedLogTest : public ::testing::Test {
 protected:
  EmbeddedLogOptions Options(int32_t partitions) {
    EmbeddedLogOptions o;
    o.partitions = partitions;
    o.clock = &clock_;
    o.info_log = [this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    };
    return o;
  }
  std::string Dir() const { return dir_.File("log"); }
  std::vector<std::string> Lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }
  void ClearLines() {
    absl::MutexLock lock(&mu_);
    lines_.clear();
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  absl::Mutex mu_;
  std::vector<std::string> lines_;
};

TEST_F(EmbeddedLogTest, RoundTripAcrossPartitionsAndSegments) {
  EmbeddedLogOptions opts = Options(4);
  opts.segment_bytes = 1024;
  opts.index_interval_bytes = 100;
  auto log = EmbeddedLog::Open(Dir(), opts);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->partitions(), 4);
  const std::vector<Rec> recs = MakeRecords(600, 37);
  ASSERT_TRUE(AppendAll(**log, recs, 50).ok());

  const int64_t ts = absl::ToUnixMillis(clock_.Now());
  int64_t total = 0;
  for (int32_t p = 0; p < 4; ++p) {
    std::vector<Rec> expected;
    for (const Rec& r : recs) {
      if (PartitionFor(r.key, 4) == p) expected.push_back(r);
    }
    auto end = (*log)->EndOffset(p);
    ASSERT_TRUE(end.ok());
    EXPECT_EQ(*end, static_cast<int64_t>(expected.size()));
    auto got = ReadFrom(**log, p, 0);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ((*got)[i].partition, p);
      EXPECT_EQ((*got)[i].offset, static_cast<int64_t>(i));
      EXPECT_EQ((*got)[i].timestamp_ms, ts);
      EXPECT_EQ((*got)[i].key, expected[i].key);
      EXPECT_EQ((*got)[i].value, expected[i].value);
    }
    total += *end;
    // Several segments, each named by its base offset.
    std::vector<std::string> segs = (*log)->SegmentPaths(p);
    EXPECT_GT(segs.size(), 2u);
    EXPECT_EQ(segs[0],
              absl::StrCat(Dir(), "/", p, "/00000000000000000000.log"));
    for (size_t s = 1; s < segs.size(); ++s) {
      EXPECT_GT(segs[s], segs[s - 1]);
    }
  }
  EXPECT_EQ(total, 600);
  EXPECT_EQ((*log)->stats().records_appended, 600);
  EXPECT_TRUE(Lines().empty());
}

TEST_F(EmbeddedLogTest, RecordsLargerThanEveryBuffer) {
  // 5 MiB values exceed the 4 MiB recovery scan buffer, the 1 MiB reader
  // buffer and the archive's 1 MiB read buffer.
  const std::string big_a(5 << 20, 'a');
  const std::string big_b = std::string(5 << 20, 'b') + "end";
  {
    auto log = EmbeddedLog::Open(Dir(), Options(1));
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append({{"k", "small"}, {"k", big_a}}).ok());
    ASSERT_TRUE((*log)->Append({{"k", big_b}, {"k", "tail"}}).ok());
  }
  auto log = EmbeddedLog::Open(Dir(), Options(1));
  ASSERT_TRUE(log.ok()) << log.status();
  auto got = ReadFrom(**log, 0, 1);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].value, big_a);
  EXPECT_EQ((*got)[1].value, big_b);
  EXPECT_EQ((*got)[2].value, "tail");
  EXPECT_TRUE(Lines().empty());
  // A follower scans them with its own (smaller) buffer.
  EmbeddedLogOptions fopts = Options(1);
  fopts.read_only = true;
  auto follower = EmbeddedLog::Open(Dir(), fopts);
  ASSERT_TRUE(follower.ok()) << follower.status();
  auto followed = ReadFrom(**follower, 0, 0);
  ASSERT_TRUE(followed.ok()) << followed.status();
  ASSERT_EQ(followed->size(), 4u);
  EXPECT_EQ((*followed)[2].value, big_b);
}

TEST_F(EmbeddedLogTest, PerKeyOrderIsPreserved) {
  auto log = EmbeddedLog::Open(Dir(), Options(3));
  ASSERT_TRUE(log.ok());
  const std::vector<Rec> recs = MakeRecords(300, 11);
  ASSERT_TRUE(AppendAll(**log, recs, 17).ok());
  std::map<std::string, std::vector<std::string>> want, got;
  for (const Rec& r : recs) want[r.key].push_back(r.value);
  for (int32_t p = 0; p < 3; ++p) {
    auto all = ReadFrom(**log, p, 0);
    ASSERT_TRUE(all.ok());
    for (const LogRecord& r : *all) got[r.key].push_back(r.value);
  }
  EXPECT_EQ(got, want);
}

TEST_F(EmbeddedLogTest, ReaderResumesExactlyFromAnyOffset) {
  EmbeddedLogOptions opts = Options(1);
  opts.segment_bytes = 700;
  opts.index_interval_bytes = 128;
  auto log = EmbeddedLog::Open(Dir(), opts);
  ASSERT_TRUE(log.ok());
  const std::vector<Rec> recs = MakeRecords(120, 5);
  ASSERT_TRUE(AppendAll(**log, recs, 9).ok());
  for (int64_t from = 0; from <= 120; ++from) {
    auto reader = (*log)->OpenReader(0, from);
    ASSERT_TRUE(reader.ok());
    EXPECT_EQ((*reader)->position(), from);
    auto got = ReadFrom(**log, 0, from);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), static_cast<size_t>(120 - from));
    for (size_t i = 0; i < got->size(); ++i) {
      EXPECT_EQ((*got)[i].offset, from + static_cast<int64_t>(i));
      EXPECT_EQ((*got)[i].value, recs[from + i].value);
    }
  }
  auto past = (*log)->OpenReader(0, 121);
  EXPECT_EQ(past.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(
      past.status().message(),
      absl::StrCat("offset 121 outside [0, 120] of partition 0 in ", Dir()));
  EXPECT_EQ((*log)->OpenReader(0, -1).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*log)->OpenReader(1, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*log)->EndOffset(-1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(EmbeddedLogTest, PollAtTheEndReturnsZeroAndKeepsPosition) {
  auto log = EmbeddedLog::Open(Dir(), Options(1));
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(AppendAll(**log, MakeRecords(3, 1), 3).ok());
  auto reader = (*log)->OpenReader(0, 3);
  ASSERT_TRUE(reader.ok());
  std::vector<LogRecord> out;
  auto n = (*reader)->Poll(&out, 10, absl::ZeroDuration());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ((*reader)->position(), 3);
  ASSERT_TRUE(AppendAll(**log, MakeRecords(1, 1, 3), 1).ok());
  n = (*reader)->Poll(&out, 10, absl::ZeroDuration());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(out[0].offset, 3);
  EXPECT_EQ(out[0].value, "event-3");
  EXPECT_EQ((*reader)->position(), 4);
}

TEST_F(EmbeddedLogTest, PollViewsMatchesPollAcrossSegments) {
  EmbeddedLogOptions opts = Options(1);
  opts.segment_bytes = 500;
  auto log = EmbeddedLog::Open(Dir(), opts);
  ASSERT_TRUE(log.ok());
  const std::vector<Rec> recs = MakeRecords(100, 3);
  ASSERT_TRUE(AppendAll(**log, recs, 8).ok());
  auto reader = (*log)->OpenReader(0, 10);
  ASSERT_TRUE(reader.ok());
  std::vector<LogRecord> seen;
  while ((*reader)->position() < 100) {
    auto n = (*reader)->PollViews(
        7, absl::ZeroDuration(), [&](const LogRecordView& v) {
          seen.push_back({v.partition, v.offset, v.timestamp_ms,
                          std::string(v.key), std::string(v.value)});
        });
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_GT(*n, 0u);
    ASSERT_LE(*n, 7u);
  }
  ASSERT_EQ(seen.size(), 90u);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].offset, static_cast<int64_t>(10 + i));
    EXPECT_EQ(seen[i].key, recs[10 + i].key);
    EXPECT_EQ(seen[i].value, recs[10 + i].value);
  }
}

TEST_F(EmbeddedLogTest, ReaderOutlivesTheLog) {
  std::unique_ptr<PartitionReader> reader;
  {
    auto log = EmbeddedLog::Open(Dir(), Options(1));
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(AppendAll(**log, MakeRecords(5, 1), 5).ok());
    auto r = (*log)->OpenReader(0, 0);
    ASSERT_TRUE(r.ok());
    reader = *std::move(r);
  }
  std::vector<LogRecord> out;
  auto n = reader->Poll(&out, 10, absl::ZeroDuration());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(out.back().value, "event-4");
}

TEST_F(EmbeddedLogTest, ConcurrentReaderSeesEveryRecordInOrder) {
  EmbeddedLogOptions opts = Options(1);
  opts.segment_bytes = 4096;  // rolls while the reader reads
  auto log = EmbeddedLog::Open(Dir(), opts);
  ASSERT_TRUE(log.ok());
  constexpr int kRecords = 3000;
  std::vector<LogRecord> seen;
  absl::Status reader_status;
  std::thread reader_thread([&] {
    auto reader = (*log)->OpenReader(0, 0);
    if (!reader.ok()) {
      reader_status = reader.status();
      return;
    }
    while (seen.size() < kRecords) {
      auto n = (*reader)->Poll(&seen, 64, absl::Milliseconds(50));
      if (!n.ok()) {
        reader_status = n.status();
        return;
      }
      // Only whole records that Append already acknowledged are visible.
      auto end = (*log)->EndOffset(0);
      if (!end.ok() || *end < static_cast<int64_t>(seen.size())) {
        reader_status = absl::InternalError(
            absl::StrCat("saw ", seen.size(), " with end ", *end));
        return;
      }
    }
  });
  const std::vector<Rec> recs = MakeRecords(kRecords, 1);
  ASSERT_TRUE(AppendAll(**log, recs, 7).ok());
  reader_thread.join();
  ASSERT_TRUE(reader_status.ok()) << reader_status;
  ASSERT_EQ(seen.size(), static_cast<size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_EQ(seen[i].offset, i);
    EXPECT_EQ(seen[i].value, recs[i].value);
  }
  EXPECT_GT((*log)->SegmentPaths(0).size(), 10u);
}

TEST_F(EmbeddedLogTest, ConcurrentAppendersKeepDenseOffsets) {
  EmbeddedLogOptions opts = Options(2);
  opts.segment_bytes = 2048;
  auto log = EmbeddedLog::Open(Dir(), opts);
  ASSERT_TRUE(log.ok());
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      std::vector<Rec> recs;
      for (int i = 0; i < 500; ++i) {
        recs.push_back(
            {absl::StrCat("w", w, "-", i % 3), absl::StrCat("w", w, "-", i)});
      }
      if (!AppendAll(**log, recs, 10).ok()) ++failures;
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::map<std::string, std::vector<std::string>> by_key;
  int64_t total = 0;
  for (int32_t p = 0; p < 2; ++p) {
    auto all = ReadFrom(**log, p, 0);
    ASSERT_TRUE(all.ok()) << all.status();
    for (size_t i = 0; i < all->size(); ++i) {
      EXPECT_EQ((*all)[i].offset, static_cast<int64_t>(i));
      by_key[(*all)[i].key].push_back((*all)[i].value);
    }
    total += static_cast<int64_t>(all->size());
  }
  EXPECT_EQ(total, 2000);
  // Each writer's records of one key stay in its order.
  for (const auto& [key, values] : by_key) {
    for (size_t i = 1; i < values.size(); ++i) {
      const int prev =
          std::stoi(values[i - 1].substr(values[i - 1].find('-') + 1));
      const int cur = std::stoi(values[i].substr(values[i].find('-') + 1));
      EXPECT_LT(prev, cur) << key;
    }
  }
}

TEST_F(EmbeddedLogTest, ReopenKeepsEverythingAndContinuesOffsets) {
  const std::vector<Rec> first = MakeRecords(200, 13);
  const std::vector<Rec> second = MakeRecords(100, 13, 200);
  {
    EmbeddedLogOptions opts = Options(3);
    opts.segment_bytes = 2000;
    auto log = EmbeddedLog::Open(Dir(), opts);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(AppendAll(**log, first, 20).ok());
    ASSERT_TRUE((*log)->Close().ok());
    EXPECT_EQ((*log)->Append({{"k", "v"}}).code(),
              absl::StatusCode::kFailedPrecondition);
  }
  EmbeddedLogOptions opts = Options(0);  // adopt the stored count
  opts.segment_bytes = 2000;
  auto log = EmbeddedLog::Open(Dir(), opts);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->partitions(), 3);
  ASSERT_TRUE(AppendAll(**log, second, 20).ok());
  std::vector<Rec> all = first;
  all.insert(all.end(), second.begin(), second.end());
  for (int32_t p = 0; p < 3; ++p) {
    std::vector<std::string> want;
    for (const Rec& r : all) {
      if (PartitionFor(r.key, 3) == p) want.push_back(r.value);
    }
    auto got = ReadFrom(**log, p, 0);
    ASSERT_TRUE(got.ok());
    std::vector<std::string> values;
    for (size_t i = 0; i < got->size(); ++i) {
      EXPECT_EQ((*got)[i].offset, static_cast<int64_t>(i));
      values.push_back((*got)[i].value);
    }
    EXPECT_EQ(values, want);
  }
  EXPECT_TRUE(Lines().empty());
}

TEST_F(EmbeddedLogTest, PartitionCountMismatchNamesBoth) {
  ASSERT_TRUE(EmbeddedLog::Open(Dir(), Options(4)).ok());
  auto log = EmbeddedLog::Open(Dir(), Options(6));
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      log.status().message(),
      absl::StrCat("embedded log ", Dir(),
                   " has 4 partitions; it was opened with partitions = 6"));
  auto same = EmbeddedLog::Open(Dir(), Options(4));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ((*same)->partitions(), 4);
}

TEST_F(EmbeddedLogTest, SecondOpenOfTheSameDirectoryIsRefused) {
  auto first = EmbeddedLog::Open(Dir(), Options(2));
  ASSERT_TRUE(first.ok());
  auto second = EmbeddedLog::Open(Dir(), Options(2));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(),
            absl::StrCat("embedded log ", Dir(), " is in use (", Dir(),
                         "/LOCK is locked by pid ", ::getpid(), ")"));
  first->reset();
  EXPECT_TRUE(EmbeddedLog::Open(Dir(), Options(2)).ok());
}

TEST_F(EmbeddedLogTest, FollowerReadsWhatTheWriterMadeVisible) {
  EmbeddedLogOptions wopts = Options(2);
  wopts.segment_bytes = 600;
  auto writer = EmbeddedLog::Open(Dir(), wopts);
  ASSERT_TRUE(writer.ok());
  const std::vector<Rec> first = MakeRecords(60, 7);
  ASSERT_TRUE(AppendAll(**writer, first, 6).ok());

  EmbeddedLogOptions fopts = Options(0);
  fopts.read_only = true;
  auto follower = EmbeddedLog::Open(Dir(), fopts);
  ASSERT_TRUE(follower.ok()) << follower.status();
  EXPECT_EQ((*follower)->partitions(), 2);
  const int32_t p = PartitionFor("cust-0", 2);
  const int64_t end = *(*writer)->EndOffset(p);
  EXPECT_EQ(*(*follower)->EndOffset(p), end);
  auto reader = (*follower)->OpenReader(p, 0);
  ASSERT_TRUE(reader.ok());
  std::vector<LogRecord> got;
  while ((*reader)->position() < end) {
    ASSERT_TRUE((*reader)->Poll(&got, 50, absl::ZeroDuration()).ok());
  }
  // More appends, across segment rolls, reach the waiting follower.
  const std::vector<Rec> second = MakeRecords(60, 7, 60);
  ASSERT_TRUE(AppendAll(**writer, second, 6).ok());
  const int64_t end2 = *(*writer)->EndOffset(p);
  ASSERT_GT(end2, end);
  while ((*reader)->position() < end2) {
    ASSERT_TRUE((*reader)->Poll(&got, 50, absl::Seconds(1)).ok());
  }
  std::vector<std::string> want;
  for (const auto* batch : {&first, &second}) {
    for (const Rec& r : *batch) {
      if (PartitionFor(r.key, 2) == p) want.push_back(r.value);
    }
  }
  std::vector<std::string> values;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].offset, static_cast<int64_t>(i));
    values.push_back(got[i].value);
  }
  EXPECT_EQ(values, want);
  EXPECT_GT((*follower)->SegmentPaths(p).size(), 2u);
  absl::Status append = (*follower)->Append({{"k", "v"}});
  EXPECT_EQ(append.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(append.message(),
            absl::StrCat("embedded log ", Dir(), " is open read-only"));
}

TEST_F(EmbeddedLogTest, FollowerSeesOnlySyncedRecords) {
  EmbeddedLogOptions wopts = Options(1);
  wopts.fsync = FsyncPolicy::kInterval;
  wopts.fsync_interval = absl::Hours(1);
  auto writer = EmbeddedLog::Open(Dir(), wopts);
  ASSERT_TRUE(writer.ok());
  EmbeddedLogOptions fopts = Options(1);
  fopts.read_only = true;
  auto follower = EmbeddedLog::Open(Dir(), fopts);
  ASSERT_TRUE(follower.ok());
  ASSERT_TRUE(AppendAll(**writer, MakeRecords(10, 1), 10).ok());
  EXPECT_EQ(*(*follower)->EndOffset(0), 0);
  ASSERT_TRUE((*writer)->Sync().ok());
  EXPECT_EQ(*(*follower)->EndOffset(0), 10);
  auto got = ReadFrom(**follower, 0, 4);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 6u);
  EXPECT_EQ((*got)[0].value, "event-4");
}

TEST_F(EmbeddedLogTest, FollowerOfAMissingLogIsNotFound) {
  EmbeddedLogOptions fopts = Options(0);
  fopts.read_only = true;
  EXPECT_EQ(EmbeddedLog::Open(Dir(), fopts).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EmbeddedLogTest, NewLogWithoutCountGetsTheDefault) {
  auto log = EmbeddedLog::Open(Dir(), Options(0));
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->partitions(), EmbeddedLogOptions::kDefaultPartitions);
  EXPECT_EQ(testing::ReadFile(Dir() + "/META"),
            "crm-embedded-log 1\npartitions 8\n");
}

TEST_F(EmbeddedLogTest, MissingLogWithoutCreateIsNotFound) {
  EmbeddedLogOptions opts = Options(2);
  opts.create_if_missing = false;
  auto log = EmbeddedLog::Open(Dir(), opts);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(log.status().message()), HasSubstr(Dir() + "/META"));
}

TEST_F(EmbeddedLogTest, CorruptMetadataIsDataLoss) {
  ASSERT_TRUE(EmbeddedLog::Open(Dir(), Options(2)).ok());
  testing::WriteFile(Dir() + "/META", "crm-embedded-log 1\npartitions x\n");
  auto log = EmbeddedLog::Open(Dir(), Options(2));
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(log.status().message()),
              StartsWith(Dir() + "/META: "));
}

// Writes `n` records of one key to a one-partition log with small segments
// and returns the frame start positions of the newest segment's records.
class RecoveryTest : public EmbeddedLogTest {
 protected:
  void Build(int n, uint64_t segment_bytes) {
    EmbeddedLogOptions opts = Options(1);
    opts.segment_bytes = segment_bytes;
    auto log = EmbeddedLog::Open(Dir(), opts);
    ASSERT_TRUE(log.ok());
    recs_ = MakeRecords(n, 1);
    ASSERT_TRUE(AppendAll(**log, recs_, 1).ok());
    segments_ = (*log)->SegmentPaths(0);
    ASSERT_TRUE((*log)->Close().ok());
    for (const auto& s : segments_) pristine_.push_back(testing::ReadFile(s));
  }
  void Restore() {
    for (size_t i = 0; i < segments_.size(); ++i) {
      testing::WriteFile(segments_[i], pristine_[i]);
    }
  }
  // Frame positions in segment `seg`.
  std::vector<uint64_t> Frames(size_t seg) {
    std::vector<uint64_t> pos;
    const std::string& bytes = pristine_[seg];
    for (uint64_t at = 0; at < bytes.size();
         at +=
         internal::kFrameHeaderBytes + internal::LoadU32(bytes.data() + at)) {
      pos.push_back(at);
    }
    return pos;
  }
  std::vector<Rec> recs_;
  std::vector<std::string> segments_;
  std::vector<std::string> pristine_;
};

TEST_F(RecoveryTest, EveryTruncationOfTheLastRecordDropsExactlyIt) {
  for (uint64_t segment_bytes : {uint64_t{1} << 20, uint64_t{300}}) {
    SCOPED_TRACE(segment_bytes);
    std::filesystem::remove_all(Dir());
    recs_.clear();
    segments_.clear();
    pristine_.clear();
    Build(20, segment_bytes);
    const size_t last = segments_.size() - 1;
    if (segment_bytes == 300) {
      ASSERT_GE(segments_.size(), 3u);
    }
    const std::vector<uint64_t> frames = Frames(last);
    const uint64_t start = frames.back();
    const uint64_t full = pristine_[last].size();
    for (uint64_t cut = start; cut < full; ++cut) {
      SCOPED_TRACE(cut);
      Restore();
      std::filesystem::resize_file(segments_[last], cut);
      ClearLines();
      auto log = EmbeddedLog::Open(Dir(), Options(1));
      ASSERT_TRUE(log.ok()) << log.status();
      EXPECT_EQ(*(*log)->EndOffset(0), 19);
      auto got = ReadFrom(**log, 0, 0);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->size(), 19u);
      for (int i = 0; i < 19; ++i) {
        EXPECT_EQ((*got)[i].offset, i);
        EXPECT_EQ((*got)[i].value, recs_[i].value);
      }
      EXPECT_EQ(FileSize(segments_[last]), start);
      if (cut == start) {
        EXPECT_TRUE(Lines().empty());
      } else {
        EXPECT_THAT(Lines(),
                    ElementsAre(absl::StrCat(
                        "crm log: ", segments_[last], ": dropped ", cut - start,
                        " bytes of torn tail at byte offset ", start,
                        " (truncated record)")));
      }
      for (size_t s = 0; s < last; ++s) {
        EXPECT_EQ(testing::ReadFile(segments_[s]), pristine_[s]);
      }
      // The log goes on from the dropped record's offset.
      ASSERT_TRUE((*log)->Append({{"cust-0", "again"}}).ok());
      auto again = ReadFrom(**log, 0, 19);
      ASSERT_TRUE(again.ok());
      ASSERT_EQ(again->size(), 1u);
      EXPECT_EQ((*again)[0].offset, 19);
      EXPECT_EQ((*again)[0].value, "again");
    }
  }
}

TEST_F(RecoveryTest, BadCrcInTheFinalRecordIsATornTail) {
  Build(10, 1 << 20);
  const uint64_t start = Frames(0).back();
  std::string bytes = pristine_[0];
  bytes[bytes.size() - 1] ^= 0x40;
  testing::WriteFile(segments_[0], bytes);
  auto log = EmbeddedLog::Open(Dir(), Options(1));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(*(*log)->EndOffset(0), 9);
  EXPECT_THAT(
      Lines(),
      ElementsAre(absl::StrCat(
          "crm log: ", segments_[0], ": dropped ", bytes.size() - start,
          " bytes of torn tail at byte offset ", start, " (CRC mismatch)")));
}

TEST_F(RecoveryTest, ZeroFilledTailIsDropped) {
  Build(5, 1 << 20);
  testing::WriteFile(segments_[0], pristine_[0] + std::string(4096, '\0'));
  auto log = EmbeddedLog::Open(Dir(), Options(1));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(*(*log)->EndOffset(0), 5);
  EXPECT_EQ(FileSize(segments_[0]), pristine_[0].size());
  EXPECT_THAT(Lines(),
              ElementsAre(absl::StrCat(
                  "crm log: ", segments_[0],
                  ": dropped 4096 bytes of torn tail at byte offset ",
                  pristine_[0].size(), " (impossible record length)")));
}

TEST_F(RecoveryTest, FlippedByteInAMiddleRecordIsDataLoss) {
  Build(10, 1 << 20);
  const std::vector<uint64_t> frames = Frames(0);
  const uint64_t bad = frames[4];
  const uint64_t next = frames[5];
  // A flipped value byte: exact message.
  {
    std::string bytes = pristine_[0];
    bytes[next - 1] ^= 0x01;
    testing::WriteFile(segments_[0], bytes);
    auto log = EmbeddedLog::Open(Dir(), Options(1));
    EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(log.status().message(),
              absl::StrCat(segments_[0], ": corrupt record at byte offset ",
                           bad, " (CRC mismatch; a valid record follows at ",
                           "byte offset ", next, ")"));
  }
  // Any flipped byte of that record, length and CRC fields included.
  for (uint64_t i = bad; i < next; ++i) {
    SCOPED_TRACE(i);
    std::string bytes = pristine_[0];
    bytes[i] ^= 0x10;
    testing::WriteFile(segments_[0], bytes);
    auto log = EmbeddedLog::Open(Dir(), Options(1));
    EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(
        std::string(log.status().message()),
        StartsWith(absl::StrCat(
            segments_[0], ": corrupt record at byte offset ", bad, " (")));
  }
  // Nothing was truncated by the refused opens.
  EXPECT_EQ(FileSize(segments_[0]), pristine_[0].size());
  EXPECT_TRUE(Lines().empty());
}

TEST_F(RecoveryTest, DamageInAnOlderSegmentIsDataLoss) {
  Build(20, 300);
  ASSERT_GE(segments_.size(), 3u);
  // Cut the last record of the oldest segment: not a torn tail, since newer
  // segments exist.
  const uint64_t start = Frames(0).back();
  std::filesystem::resize_file(segments_[0], pristine_[0].size() - 1);
  auto log = EmbeddedLog::Open(Dir(), Options(1));
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(log.status().message(),
            absl::StrCat(segments_[0], ": corrupt record at byte offset ",
                         start, " (truncated record; not the newest segment)"));
}

TEST_F(RecoveryTest, UnverifiedSealedSegmentsAreCheckedWhenRead) {
  Build(20, 300);
  ASSERT_GE(segments_.size(), 3u);
  EmbeddedLogOptions lazy = Options(1);
  lazy.verify_sealed_segments_on_open = false;
  {
    // Clean: the same records and every seek, with indexes built lazily.
    auto log = EmbeddedLog::Open(Dir(), lazy);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int64_t from = 0; from <= 20; ++from) {
      auto got = ReadFrom(**log, 0, from);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->size(), static_cast<size_t>(20 - from));
      for (size_t i = 0; i < got->size(); ++i) {
        EXPECT_EQ((*got)[i].value, recs_[from + i].value);
      }
    }
  }
  // A flipped byte in the oldest segment: the lazy open succeeds, reading
  // or seeking into that segment is kDataLoss naming file and offset.
  const uint64_t bad = Frames(0)[1];
  std::string bytes = pristine_[0];
  bytes[bad + 35] ^= 0x08;
  testing::WriteFile(segments_[0], bytes);
  auto strict = EmbeddedLog::Open(Dir(), Options(1));
  EXPECT_EQ(strict.status().code(), absl::StatusCode::kDataLoss);
  auto log = EmbeddedLog::Open(Dir(), lazy);
  ASSERT_TRUE(log.ok()) << log.status();
  const std::string want = absl::StrCat(
      segments_[0], ": corrupt record at byte offset ", bad, " (CRC mismatch");
  auto seek = (*log)->OpenReader(0, 2);
  EXPECT_EQ(seek.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(seek.status().message()), StartsWith(want));
  auto from_start = ReadFrom(**log, 0, 0);
  EXPECT_EQ(from_start.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(from_start.status().message()), StartsWith(want));
  // Later segments are still readable.
  const int64_t later =
      std::stoll(std::filesystem::path(segments_[2]).stem().string());
  auto tail = ReadFrom(**log, 0, later);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_EQ(tail->size(), static_cast<size_t>(20 - later));
}

TEST_F(RecoveryTest, CorruptionAfterOpenIsDataLossOnRead) {
  Build(10, 1 << 20);
  auto log = EmbeddedLog::Open(Dir(), Options(1));
  ASSERT_TRUE(log.ok());
  const uint64_t bad = Frames(0)[6];
  {
    const int fd = ::open(segments_[0].c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const char x = static_cast<char>(pristine_[0][bad + 40] ^ 0x01);
    ASSERT_EQ(::pwrite(fd, &x, 1, static_cast<off_t>(bad + 40)), 1);
    ::close(fd);
  }
  auto reader = (*log)->OpenReader(0, 0);
  ASSERT_TRUE(reader.ok());
  std::vector<LogRecord> out;
  auto n = (*reader)->Poll(&out, 100, absl::ZeroDuration());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 6u);  // the records before the damage
  EXPECT_EQ((*reader)->position(), 6);
  n = (*reader)->Poll(&out, 100, absl::ZeroDuration());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(n.status().message(),
            absl::StrCat(segments_[0], ": corrupt record at byte offset ", bad,
                         " (CRC mismatch)"));
  EXPECT_EQ(out.size(), 6u);
}

TEST_F(EmbeddedLogTest, FsyncEveryAppendSyncsEachPartitionWritten) {
  auto log = EmbeddedLog::Open(Dir(), Options(4));
  ASSERT_TRUE(log.ok());
  // Keys of two distinct partitions.
  std::string a = "a", b;
  for (int i = 0; b.empty(); ++i) {
    std::string k = absl::StrCat("b", i);
    if (PartitionFor(k, 4) != PartitionFor(a, 4)) b = k;
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*log)->Append({{a, "1"}, {b, "2"}, {a, "3"}}).ok());
  }
  EmbeddedLogStats s = (*log)->stats();
  EXPECT_EQ(s.write_calls, 6);  // one write per partition per Append
  EXPECT_EQ(s.fsyncs, 6);
  EXPECT_EQ(s.records_appended, 9);
  ASSERT_TRUE((*log)->Close().ok());
  EXPECT_EQ((*log)->stats().fsyncs, 6);  // nothing left to sync
}

TEST_F(EmbeddedLogTest, FsyncEveryAppendWithoutHelperThreads) {
  EmbeddedLogOptions opts = Options(4);
  opts.sync_threads = 0;
  auto log = EmbeddedLog::Open(Dir(), opts);
  ASSERT_TRUE(log.ok());
  const std::vector<Rec> recs = MakeRecords(40, 40);
  ASSERT_TRUE(AppendAll(**log, recs, 40).ok());
  int touched = 0;
  for (int32_t p = 0; p < 4; ++p) touched += *(*log)->EndOffset(p) > 0;
  ASSERT_EQ(touched, 4);
  EXPECT_EQ((*log)->stats().fsyncs, 4);
  EXPECT_EQ((*log)->stats().write_calls, 4);
}

TEST_F(EmbeddedLogTest, FsyncEveryAppendSyncsSealedSegmentOnRoll) {
  EmbeddedLogOptions opts = Options(1);
  opts.segment_bytes = 1;  // every Append after the first rolls
  auto log = EmbeddedLog::Open(Dir(), opts);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*log)->Append({{"k", "v"}}).ok());
  EmbeddedLogStats s = (*log)->stats();
  EXPECT_EQ(s.segments_rolled, 2);
  EXPECT_EQ(s.fsyncs, 3 + 2);
  EXPECT_EQ((*log)->SegmentPaths(0),
            (std::vector<std::string>{Dir() + "/0/00000000000000000000.log",
                                      Dir() + "/0/00000000000000000001.log",
                                      Dir() + "/0/00000000000000000002.log"}));
}

TEST_F(EmbeddedLogTest, FsyncNeverSyncsOnlyOnClose) {
  EmbeddedLogOptions opts = Options(1);
  opts.fsync = FsyncPolicy::kNever;
  opts.segment_bytes = 1;
  auto log = EmbeddedLog::Open(Dir(), opts);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*log)->Append({{"k", "v"}}).ok());
  EXPECT_EQ((*log)->stats().fsyncs, 0);
  EXPECT_EQ((*log)->stats().write_calls, 3);
  EXPECT_EQ(*(*log)->EndOffset(0), 3);  // visible without a sync
  ASSERT_TRUE((*log)->Close().ok());
  EXPECT_EQ((*log)->stats().fsyncs, 3);  // each of the three segments
}

TEST_F(EmbeddedLogTest, FsyncIntervalLeavesAppendsToTheBackgroundSync) {
  {
    EmbeddedLogOptions opts = Options(2);
    opts.fsync = FsyncPolicy::kInterval;
    opts.fsync_interval = absl::Hours(1);  // never fires during the test
    auto log = EmbeddedLog::Open(Dir(), opts);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(AppendAll(**log, MakeRecords(10, 1), 5).ok());
    const int32_t p = PartitionFor("cust-0", 2);
    EXPECT_EQ((*log)->stats().fsyncs, 0);
    EXPECT_EQ((*log)->stats().write_calls, 2);
    // Written but not yet synced: not visible to readers.
    EXPECT_EQ(*(*log)->EndOffset(p), 0);
    ASSERT_TRUE((*log)->Sync().ok());
    EXPECT_EQ((*log)->stats().fsyncs, 1);
    EXPECT_EQ(*(*log)->EndOffset(p), 10);
    auto got = ReadFrom(**log, p, 0);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->size(), 10u);
    ASSERT_TRUE((*log)->Sync().ok());
    EXPECT_EQ((*log)->stats().fsyncs, 1);  // nothing new
  }
  std::filesystem::remove_all(Dir());
  EmbeddedLogOptions opts = Options(2);
  opts.fsync = FsyncPolicy::kInterval;
  opts.fsync_interval = absl::Milliseconds(1);
  auto log = EmbeddedLog::Open(Dir(), opts);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(AppendAll(**log, MakeRecords(10, 1), 10).ok());
  // The background thread syncs on its own; wait for it (no time bound is
  // asserted, the loop only gives up after a minute).
  const absl::Time give_up = absl::Now() + absl::Minutes(1);
  const int32_t p = PartitionFor("cust-0", 2);
  auto reader = (*log)->OpenReader(p, 0);
  ASSERT_TRUE(reader.ok());
  std::vector<LogRecord> out;
  while (out.size() < 10 && absl::Now() < give_up) {
    ASSERT_TRUE((*reader)->Poll(&out, 100, absl::Milliseconds(10)).ok());
  }
  EXPECT_EQ(out.size(), 10u);  // visible once the background sync ran
  EXPECT_EQ((*log)->stats().fsyncs, 1);
}

}  // namespace
}  // namespace crm::log
