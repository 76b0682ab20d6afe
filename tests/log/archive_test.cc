#include "engine/log/archive.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/log/embedded_log.h"
#include "engine/log/record_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/temp_dir.h"

namespace crm::log {
namespace {

using ::testing::HasSubstr;

// What a projector does with any EventLog: read every partition from its
// first offset to its end.
absl::StatusOr<std::vector<LogRecord>> ReadPartition(EventLog& log, int32_t p,
                                                     int64_t from) {
  auto end = log.EndOffset(p);
  if (!end.ok()) return end.status();
  auto reader = log.OpenReader(p, from);
  if (!reader.ok()) return reader.status();
  std::vector<LogRecord> out;
  while ((*reader)->position() < *end) {
    auto n = (*reader)->Poll(&out, 13, absl::ZeroDuration());
    if (!n.ok()) return n.status();
    if (*n == 0) return absl::InternalError("stopped before the end");
  }
  return out;
}

bool SameRecord(const LogRecord& a, const LogRecord& b) {
  return a.partition == b.partition && a.offset == b.offset &&
         a.timestamp_ms == b.timestamp_ms && a.key == b.key &&
         a.value == b.value;
}

class ArchiveTest : public ::testing::Test {
 protected:
  std::unique_ptr<EmbeddedLog> MakeLog(const std::string& name,
                                       int32_t partitions, int records) {
    EmbeddedLogOptions opts;
    opts.partitions = partitions;
    opts.segment_bytes = 2048;
    opts.clock = &clock_;
    auto log = EmbeddedLog::Open(dir_.File(name), opts);
    EXPECT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < records; i += 10) {
      std::vector<std::string> keys, values;
      for (int j = i; j < i + 10 && j < records; ++j) {
        keys.push_back(absl::StrCat("cust-", j % 17));
        values.push_back(absl::StrCat("event-", j));
      }
      std::vector<RecordRef> refs;
      for (size_t k = 0; k < keys.size(); ++k) {
        refs.push_back({keys[k], values[k]});
      }
      EXPECT_TRUE((*log)->Append(refs).ok());
      clock_.Advance(absl::Milliseconds(5));
    }
    return *std::move(log);
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
};

TEST_F(ArchiveTest, WriterAndReaderRoundTrip) {
  const std::string path = dir_.File("a.crmarchive");
  std::vector<LogRecord> written;
  {
    auto w = ArchiveWriter::Create(path, 3);
    ASSERT_TRUE(w.ok()) << w.status();
    // Partitions interleaved, partition 1 with gaps and a late start,
    // partition 2 empty.
    for (int i = 0; i < 50; ++i) {
      LogRecord r;
      r.partition = i % 2;
      r.offset = r.partition == 0 ? i / 2 : 100 + 3 * (i / 2);
      r.timestamp_ms = 1000 + i;
      r.key = absl::StrCat("k", i);
      r.value = std::string(i * 7, static_cast<char>('a' + i % 26));
      ASSERT_TRUE((*w)->Add(r).ok());
      written.push_back(r);
    }
    EXPECT_FALSE(std::filesystem::exists(path));  // only PATH.tmp so far
    ASSERT_TRUE((*w)->Finish().ok());
    EXPECT_EQ((*w)->records(), 50);
    EXPECT_EQ((*w)->bytes(), std::filesystem::file_size(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto a = ArchiveReader::Open(path);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->partitions(), 3);
  EXPECT_EQ((*a)->record_count(), 50);
  EXPECT_EQ(*(*a)->BeginOffset(0), 0);
  EXPECT_EQ(*(*a)->EndOffset(0), 25);
  EXPECT_EQ(*(*a)->BeginOffset(1), 100);
  EXPECT_EQ(*(*a)->EndOffset(1), 100 + 3 * 24 + 1);
  EXPECT_EQ(*(*a)->BeginOffset(2), 0);
  EXPECT_EQ(*(*a)->EndOffset(2), 0);
  for (int32_t p = 0; p < 2; ++p) {
    auto got = ReadPartition(**a, p, *(*a)->BeginOffset(p));
    ASSERT_TRUE(got.ok()) << got.status();
    std::vector<LogRecord> want;
    for (const LogRecord& r : written) {
      if (r.partition == p) want.push_back(r);
    }
    ASSERT_EQ(got->size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_TRUE(SameRecord((*got)[i], want[i])) << p << " " << i;
    }
  }
  // The default PollViews (Poll and forward) works on an archive.
  {
    auto reader = (*a)->OpenReader(0, 20);
    ASSERT_TRUE(reader.ok());
    std::vector<int64_t> offsets;
    auto n = (*reader)->PollViews(
        100, absl::ZeroDuration(),
        [&](const LogRecordView& v) { offsets.push_back(v.offset); });
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 5u);
    EXPECT_EQ(offsets, (std::vector<int64_t>{20, 21, 22, 23, 24}));
  }
  // Resume in the middle, including between gapped offsets.
  auto mid = ReadPartition(**a, 1, 104);
  ASSERT_TRUE(mid.ok());
  ASSERT_FALSE(mid->empty());
  EXPECT_EQ(mid->front().offset, 106);
  EXPECT_EQ(mid->size(), 23u);
  EXPECT_EQ((*a)->OpenReader(1, 99).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*a)->OpenReader(0, 26).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*a)->OpenReader(3, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status append = (*a)->Append({{"k", "v"}});
  EXPECT_EQ(append.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(append.message(), absl::StrCat("archive ", path, " is read-only"));
}

TEST_F(ArchiveTest, WriterRejectsBadInput) {
  const std::string path = dir_.File("b.crmarchive");
  auto w = ArchiveWriter::Create(path, 2);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Add(0, 5, 0, "k", "v").ok());
  EXPECT_EQ((*w)->Add(0, 5, 0, "k", "v").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*w)->Add(0, 4, 0, "k", "v").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*w)->Add(2, 0, 0, "k", "v").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*w)->Add(-1, 0, 0, "k", "v").code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*w)->Add(1, 0, 0, "k", "v").ok());
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_EQ((*w)->Add(1, 1, 0, "k", "v").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ArchiveWriter::Create(path, 2).status().code(),
            absl::StatusCode::kAlreadyExists);
  ArchiveWriterOptions overwrite;
  overwrite.overwrite = true;
  EXPECT_TRUE(ArchiveWriter::Create(path, 2, overwrite).ok());
  EXPECT_EQ(ArchiveWriter::Create(dir_.File("c"), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ArchiveTest, AbandonedWriterLeavesNoFile) {
  const std::string path = dir_.File("abandoned.crmarchive");
  {
    auto w = ArchiveWriter::Create(path, 1);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Add(0, 0, 0, "k", "v").ok());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(ArchiveTest, ExportThenReadAsLogThenImport) {
  auto source = MakeLog("src", 4, 400);
  const std::string path = dir_.File("export.crmarchive");
  std::vector<ArchiveProgress> calls;
  ExportOptions eo;
  eo.batch_records = 32;
  eo.progress = [&](const ArchiveProgress& p) { calls.push_back(p); };
  auto done = ExportToArchive(*source, path, eo);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->records, 400);
  EXPECT_EQ(done->total_records, 400);
  EXPECT_EQ(done->bytes, std::filesystem::file_size(path));
  ASSERT_FALSE(calls.empty());
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_GE(calls[i].records, calls[i - 1].records);
    EXPECT_GE(calls[i].partition, calls[i - 1].partition);
  }
  EXPECT_EQ(calls.back().records, 400);

  // The archive as an EventLog gives back exactly the source's records.
  auto archive = ArchiveReader::Open(path);
  ASSERT_TRUE(archive.ok()) << archive.status();
  EventLog& as_log = **archive;
  ASSERT_EQ(as_log.partitions(), 4);
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(*as_log.EndOffset(p), *source->EndOffset(p));
    auto want = ReadPartition(*source, p, 0);
    auto got = ReadPartition(as_log, p, 0);
    ASSERT_TRUE(want.ok() && got.ok());
    ASSERT_EQ(got->size(), want->size());
    for (size_t i = 0; i < want->size(); ++i) {
      EXPECT_TRUE(SameRecord((*got)[i], (*want)[i])) << p << " " << i;
    }
  }

  // Import into a log with the same partition count: same partitions, same
  // order, fresh offsets from 0.
  EmbeddedLogOptions same;
  same.partitions = 4;
  auto dest = EmbeddedLog::Open(dir_.File("dest"), same);
  ASSERT_TRUE(dest.ok());
  int import_calls = 0;
  ImportOptions io;
  io.batch_records = 64;
  io.progress = [&](const ArchiveProgress&) { ++import_calls; };
  auto imported = ImportArchive(path, **dest, io);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->records, 400);
  EXPECT_EQ(imported->total_records, 400);
  EXPECT_EQ(import_calls, 7);  // ceil(400 / 64)
  for (int32_t p = 0; p < 4; ++p) {
    auto want = ReadPartition(*source, p, 0);
    auto got = ReadPartition(**dest, p, 0);
    ASSERT_TRUE(want.ok() && got.ok());
    ASSERT_EQ(got->size(), want->size());
    for (size_t i = 0; i < want->size(); ++i) {
      EXPECT_EQ((*got)[i].offset, static_cast<int64_t>(i));
      EXPECT_EQ((*got)[i].key, (*want)[i].key);
      EXPECT_EQ((*got)[i].value, (*want)[i].value);
    }
  }

  // Import into another partition count: per-key order survives.
  EmbeddedLogOptions three;
  three.partitions = 3;
  auto other = EmbeddedLog::Open(dir_.File("other"), three);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(ImportArchive(**archive, **other).ok());
  std::map<std::string, std::vector<std::string>> want_by_key, got_by_key;
  for (int32_t p = 0; p < 4; ++p) {
    auto recs = ReadPartition(*source, p, 0);
    ASSERT_TRUE(recs.ok());
    for (const LogRecord& r : *recs) want_by_key[r.key].push_back(r.value);
  }
  int64_t total = 0;
  for (int32_t p = 0; p < 3; ++p) {
    auto recs = ReadPartition(**other, p, 0);
    ASSERT_TRUE(recs.ok());
    for (const LogRecord& r : *recs) {
      EXPECT_EQ(PartitionFor(r.key, 3), p);
      got_by_key[r.key].push_back(r.value);
      ++total;
    }
  }
  EXPECT_EQ(total, 400);
  EXPECT_EQ(got_by_key, want_by_key);
}

TEST_F(ArchiveTest, RecordsLargerThanTheReadBuffer) {
  const std::string path = dir_.File("big.crmarchive");
  const std::string big(3 << 20, 'z');
  {
    auto w = ArchiveWriter::Create(path, 1);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Add(0, 0, 0, "k", "small").ok());
    ASSERT_TRUE((*w)->Add(0, 1, 0, "k", big).ok());
    ASSERT_TRUE((*w)->Add(0, 2, 0, "k", "tail").ok());
    ASSERT_TRUE((*w)->Finish().ok());
  }
  auto a = ArchiveReader::Open(path);
  ASSERT_TRUE(a.ok()) << a.status();
  auto got = ReadPartition(**a, 0, 0);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[1].value, big);
  EXPECT_EQ((*got)[2].value, "tail");
}

TEST_F(ArchiveTest, ExportOfAnEmptyLog) {
  auto source = MakeLog("empty", 2, 0);
  const std::string path = dir_.File("empty.crmarchive");
  auto done = ExportToArchive(*source, path);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->records, 0);
  auto a = ArchiveReader::Open(path);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->record_count(), 0);
  EXPECT_EQ(*(*a)->EndOffset(1), 0);
  auto got = ReadPartition(**a, 1, 0);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
}

class ArchiveDamageTest : public ArchiveTest {
 protected:
  void SetUp() override {
    path_ = dir_.File("d.crmarchive");
    auto w = ArchiveWriter::Create(path_, 2);
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE((*w)->Add(i % 2, i / 2, i, absl::StrCat("k", i),
                            absl::StrCat("value-", i))
                      .ok());
    }
    ASSERT_TRUE((*w)->Finish().ok());
    pristine_ = testing::ReadFile(path_);
    for (uint64_t at = 20; at < pristine_.size();
         at += 8 + internal::LoadU32(pristine_.data() + at)) {
      frames_.push_back(at);
    }
    ASSERT_EQ(frames_.size(), 11u);  // ten records and the end marker
  }
  std::string path_;
  std::string pristine_;
  std::vector<uint64_t> frames_;
};

TEST_F(ArchiveDamageTest, FlippedByteIsDataLossNamingFileAndOffset) {
  std::string bytes = pristine_;
  bytes[frames_[5] + 35] ^= 0x04;
  testing::WriteFile(path_, bytes);
  auto a = ArchiveReader::Open(path_);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(a.status().message(),
            absl::StrCat(path_, ": corrupt record at byte offset ", frames_[5],
                         " (CRC mismatch)"));
}

TEST_F(ArchiveDamageTest, TruncationIsDataLoss) {
  // Inside a record.
  testing::WriteFile(path_, pristine_.substr(0, frames_[7] + 3));
  auto a = ArchiveReader::Open(path_);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(a.status().message(),
            absl::StrCat(path_, ": corrupt record at byte offset ", frames_[7],
                         " (truncated record)"));
  // Exactly at a record boundary: the missing end marker tells.
  testing::WriteFile(path_, pristine_.substr(0, frames_[7]));
  a = ArchiveReader::Open(path_);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(a.status().message(),
            absl::StrCat(path_,
                         ": archive truncated: no end marker (file ends at "
                         "byte offset ",
                         frames_[7], ")"));
}

TEST_F(ArchiveDamageTest, NotAnArchive) {
  testing::WriteFile(path_, "hello, world, this is not an archive");
  auto a = ArchiveReader::Open(path_);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(a.status().message()),
              HasSubstr(path_ + ": not a crm archive"));
  std::string bytes = pristine_;
  bytes[12] ^= 1;  // partition count, covered by the header CRC
  testing::WriteFile(path_, bytes);
  a = ArchiveReader::Open(path_);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(a.status().message(),
            absl::StrCat(path_, ": corrupt archive header at byte offset 0"));
  EXPECT_EQ(ArchiveReader::Open(dir_.File("missing")).status().code(),
            absl::StatusCode::kNotFound);
}

// With check_frames off, Open takes the partition layout from the end
// marker: the same offsets, index and records as the scan finds.
TEST_F(ArchiveTest, LayoutFromTheEndMarkerEqualsTheScan) {
  const std::string path = dir_.File("layout.crmarchive");
  {
    auto w = ArchiveWriter::Create(path, 4);
    ASSERT_TRUE(w.ok()) << w.status();
    // Partitions 0 and 1 interleaved, over several 64 KiB index steps;
    // partition 2 after them; partition 3 empty.
    for (int i = 0; i < 600; ++i) {
      ASSERT_TRUE((*w)->Add(i % 2, 10 + i / 2, i, absl::StrCat("k", i),
                            std::string(700 + i % 13, 'v'))
                      .ok());
    }
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE((*w)->Add(2, 5 * i, i, "k", absl::StrCat("v", i)).ok());
    }
    ASSERT_TRUE((*w)->Finish().ok());
  }
  auto scanned = ArchiveReader::Open(path);
  ASSERT_TRUE(scanned.ok()) << scanned.status();
  ArchiveOpenOptions fast_options;
  fast_options.check_frames = false;
  auto fast = ArchiveReader::Open(path, fast_options);
  ASSERT_TRUE(fast.ok()) << fast.status();
  EXPECT_EQ((*fast)->record_count(), 640);
  EXPECT_EQ((*fast)->record_count(), (*scanned)->record_count());
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(*(*fast)->BeginOffset(p), *(*scanned)->BeginOffset(p)) << p;
    EXPECT_EQ(*(*fast)->EndOffset(p), *(*scanned)->EndOffset(p)) << p;
    for (int64_t from : {*(*scanned)->BeginOffset(p), int64_t{200}}) {
      if (from > *(*scanned)->EndOffset(p)) continue;
      auto a = ReadPartition(**fast, p, from);
      auto b = ReadPartition(**scanned, p, from);
      ASSERT_TRUE(a.ok()) << a.status();
      ASSERT_TRUE(b.ok()) << b.status();
      ASSERT_EQ(a->size(), b->size()) << p << " from " << from;
      for (size_t i = 0; i < a->size(); ++i) {
        EXPECT_TRUE(SameRecord((*a)[i], (*b)[i])) << p << " " << i;
      }
    }
  }
  EXPECT_EQ(ReadPartition(**fast, 0, 10)->size(), 300u);
  EXPECT_EQ(ReadPartition(**fast, 1, 200)->size(), 110u);
  EXPECT_EQ(ReadPartition(**fast, 2, 0)->size(), 40u);
  std::vector<LogRecord> scan_all;
  ASSERT_TRUE((*fast)
                  ->Scan(64,
                         [&](absl::Span<const LogRecord> batch) {
                           scan_all.insert(scan_all.end(), batch.begin(),
                                           batch.end());
                           return absl::OkStatus();
                         })
                  .ok());
  EXPECT_EQ(scan_all.size(), 640u);
}

// An end marker without a layout (as archives were written before it) or
// with a damaged one: Open scans, as with the check on.
TEST_F(ArchiveDamageTest, WithoutAUsableLayoutOpenScans) {
  ArchiveOpenOptions fast;
  fast.check_frames = false;
  std::string old = pristine_.substr(0, frames_.back());
  internal::AppendRecord(-1, 10, 0, "", "", &old);
  testing::WriteFile(path_, old);
  auto a = ArchiveReader::Open(path_, fast);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->record_count(), 10);
  EXPECT_EQ(ReadPartition(**a, 1, 0)->size(), 5u);
  // A flipped byte in the layout fails the marker's CRC: the scan reports
  // the end marker.
  std::string bytes = pristine_;
  bytes[frames_.back() + 40] ^= 0x10;
  testing::WriteFile(path_, bytes);
  a = ArchiveReader::Open(path_, fast);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(a.status().message(),
            absl::StrCat(path_, ": corrupt record at byte offset ",
                         frames_.back(), " (CRC mismatch)"));
}

// Without the check a damaged frame is found when it is read: Poll fails
// naming it (here for both partitions: they interleave, so partition 0's
// reader passes over it too).
TEST_F(ArchiveDamageTest, UncheckedOpenFindsADamagedFrameWhenRead) {
  std::string bytes = pristine_;
  bytes[frames_[5] + 35] ^= 0x04;  // record 5: partition 1, offset 2
  testing::WriteFile(path_, bytes);
  ArchiveOpenOptions fast;
  fast.check_frames = false;
  auto a = ArchiveReader::Open(path_, fast);
  ASSERT_TRUE(a.ok()) << a.status();
  for (int32_t p : {0, 1}) {
    auto damaged = ReadPartition(**a, p, 0);
    EXPECT_EQ(damaged.status().code(), absl::StatusCode::kDataLoss) << p;
    EXPECT_EQ(damaged.status().message(),
              absl::StrCat(path_, ": corrupt record at byte offset ",
                           frames_[5], " (CRC mismatch)"));
  }
  // With the check (the default), Open itself refuses it.
  EXPECT_EQ(ArchiveReader::Open(path_).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace crm::log
