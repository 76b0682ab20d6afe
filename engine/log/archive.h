#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/log/event_log.h"

namespace crm::log {

namespace internal {
class File;
struct ArchivePartitionInfo;
}  // namespace internal

// How an ArchiveWriter writes.
struct ArchiveWriterOptions {
  // Replace an existing file at the path (on Finish). Otherwise Create
  // returns kAlreadyExists. Default: false
  bool overwrite = false;
  // Bytes buffered before each write(2). Default: 1 MiB
  size_t buffer_bytes = size_t{1} << 20;
};

// Writes one archive file: every record of every partition of a log, each
// keeping its partition and offset (format in engine/log/README.md). The
// data goes to PATH.tmp; Finish() seals it with an end marker, syncs it and
// renames it to PATH, so PATH only ever holds a complete archive. Dropping
// the writer without Finish() removes PATH.tmp.
// Owned by one thread; not thread-safe.
class ArchiveWriter {
 public:
  // Errors: kInvalidArgument for partitions < 1, kAlreadyExists when PATH
  // exists and !overwrite, I/O errors.
  static absl::StatusOr<std::unique_ptr<ArchiveWriter>> Create(
      const std::string& path, int32_t partitions,
      ArchiveWriterOptions options = {});
  ~ArchiveWriter();
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  // Adds one record. Records of one partition must come in increasing
  // offset order (gaps allowed); partitions may interleave.
  // kInvalidArgument for a partition outside [0, partitions()), a negative
  // offset or one not above the partition's previous; kFailedPrecondition
  // after Finish().
  absl::Status Add(int32_t partition, int64_t offset, int64_t timestamp_ms,
                   absl::string_view key, absl::string_view value);
  absl::Status Add(const LogRecord& r) {
    return Add(r.partition, r.offset, r.timestamp_ms, r.key, r.value);
  }

  // Writes the end marker, fdatasyncs, renames PATH.tmp to PATH and syncs
  // the directory. Afterwards Add fails.
  absl::Status Finish();

  int32_t partitions() const { return partitions_; }
  int64_t records() const { return records_; }
  // Bytes of the file so far (header and frames, buffered ones included).
  uint64_t bytes() const { return bytes_; }
  const std::string& path() const { return path_; }

 private:
  ArchiveWriter(std::string path, int32_t partitions,
                ArchiveWriterOptions options);
  absl::Status Flush();

  const std::string path_;
  const std::string tmp_path_;
  const int32_t partitions_;
  const ArchiveWriterOptions options_;
  std::unique_ptr<internal::File> file_;
  std::string buf_;
  std::vector<int64_t> last_offset_;  // per partition; -1 = none yet
  // Where each partition's records lie, kept as they are added and
  // written into the end marker, so a reader need not scan for it.
  std::vector<internal::ArchivePartitionInfo> info_;
  int64_t records_ = 0;
  uint64_t bytes_ = 0;
  bool finished_ = false;
  absl::Status failed_;
};

// How ArchiveReader::Open checks an archive.
struct ArchiveOpenOptions {
  // Read and check every frame (CRC, lengths, per-partition offset order)
  // before returning, so a damaged archive fails here, before anything is
  // read from it. Off, Open reads only the header and the end marker,
  // whose value holds where each partition lies (written by ArchiveWriter
  // since 2026-12-03; an archive without it, or with a damaged one, is
  // scanned as with the check on), and each frame is checked when a
  // reader reads it (Poll: kDataLoss naming the file and byte offset).
  // For a caller that fails cleanly on a damaged record anyway (a replay
  // into scratch stores). Default: true
  bool check_frames = true;
};

// Reads an archive file as a read-only EventLog, so the projector and replay
// can use an archive wherever they take a log. Open() checks every frame
// (CRC, lengths, per-partition offset order, the end marker; see
// ArchiveOpenOptions) and keeps a small per-partition index; readers pread
// the file.
// Owned by its creator; thread-safe (readers are independent and may
// outlive it).
class ArchiveReader final : public EventLog {
 public:
  // Errors: kDataLoss for anything but a complete, intact archive (message
  // names the file and byte offset), I/O errors (kNotFound if missing).
  static absl::StatusOr<std::unique_ptr<ArchiveReader>> Open(
      const std::string& path, ArchiveOpenOptions options = {});
  ~ArchiveReader() override;

  // The partition count stored in the archive header.
  int32_t partitions() const override { return partitions_; }
  // Always kFailedPrecondition: an archive is read-only.
  absl::Status Append(absl::Span<const RecordRef> records) override;
  // Last archived offset of `partition` + 1 (0 when it has none).
  absl::StatusOr<int64_t> EndOffset(int32_t partition) override;
  // First archived offset of `partition` (EndOffset when it has none).
  absl::StatusOr<int64_t> BeginOffset(int32_t partition) override;
  // kOutOfRange unless BeginOffset <= offset <= EndOffset. The reader
  // returns the records with offset >= `offset`. At the end, Poll sleeps
  // for its timeout (nothing will ever arrive) and returns 0.
  absl::StatusOr<std::unique_ptr<PartitionReader>> OpenReader(
      int32_t partition, int64_t offset) override;

  // Records of all partitions.
  int64_t record_count() const { return record_count_; }
  const std::string& path() const { return path_; }

  // Calls `fn` with consecutive batches of up to `batch_records` records in
  // file order (per-key order preserved) until the end or `fn` fails.
  absl::Status Scan(
      size_t batch_records,
      const std::function<absl::Status(absl::Span<const LogRecord>)>& fn) const;

 private:
  ArchiveReader() = default;
  // The partition layout from the end marker's value; false when the
  // archive has none or it does not check out (then Open scans).
  bool LoadLayout(uint64_t size);

  std::string path_;
  int32_t partitions_ = 0;
  int64_t record_count_ = 0;
  uint64_t data_end_ = 0;  // position of the end marker
  std::shared_ptr<internal::File> file_;
  std::vector<std::shared_ptr<const internal::ArchivePartitionInfo>> parts_;
};

// Progress of an export or import, passed to the callback after each batch.
struct ArchiveProgress {
  int32_t partition = -1;     // export: the partition being copied
  int64_t records = 0;        // records copied so far
  int64_t total_records = 0;  // records to copy in all
  uint64_t bytes = 0;         // export: archive bytes written so far
};

struct ExportOptions {
  // Called after every batch. Default: none
  std::function<void(const ArchiveProgress&)> progress;
  // Records per Poll. Default: 4096
  size_t batch_records = 4096;
  // Timeout of each Poll. Default: 1 s
  absl::Duration poll_timeout = absl::Seconds(1);
  // Consecutive empty polls before giving up on a partition whose reader
  // has not reached the end offset taken at the start (kUnavailable).
  // Default: 30
  int max_empty_polls = 30;
  ArchiveWriterOptions writer;
};

// Copies every record of `source` up to its end offsets at the time of the
// call into a new archive at `path`, partition after partition; the
// archive has source.partitions() partitions and each record keeps its
// partition, offset and timestamp. Returns the final progress. On error no
// file is left at `path` (unless it existed and !overwrite).
absl::StatusOr<ArchiveProgress> ExportToArchive(
    EventLog& source, const std::string& path,
    const ExportOptions& options = {});

struct ImportOptions {
  // Called after every batch. Default: none
  std::function<void(const ArchiveProgress&)> progress;
  // Records per Append. Default: 1000
  size_t batch_records = 1000;
};

// Appends every record of the archive to `dest` in file order (records are
// re-partitioned by key with PartitionFor, so per-key order survives any
// partition count; offsets and timestamps are the destination's). An error
// midway leaves a prefix appended; re-importing duplicates records, which
// consumers drop by event_id.
absl::StatusOr<ArchiveProgress> ImportArchive(
    const ArchiveReader& archive, EventLog& dest,
    const ImportOptions& options = {});
absl::StatusOr<ArchiveProgress> ImportArchive(
    const std::string& path, EventLog& dest, const ImportOptions& options = {});

}  // namespace crm::log
