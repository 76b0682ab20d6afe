#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/base/clock.h"
#include "engine/log/event_log.h"

namespace crm::log {

// When appended records are forced to stable storage.
enum class FsyncPolicy {
  // Append returns only after fdatasync of every partition file it wrote;
  // readers see a record only once it is synced. A crash loses nothing
  // acknowledged.
  kEveryAppend,
  // A background thread syncs every `fsync_interval`; Append returns after
  // write(2) and readers see records once synced (so consumers never get
  // ahead of what survives a crash). A crash may lose up to one interval of
  // acknowledged records.
  kInterval,
  // Never fsync while running (the OS writes back when it likes); readers
  // see records after write(2); Close() still syncs. A crash may lose
  // anything not yet written back. For tests and benchmarks.
  kNever,
};

// How an EmbeddedLog is opened.
struct EmbeddedLogOptions {
  // Partition count. 0 adopts the count stored in an existing log and gives
  // a new log kDefaultPartitions; any other value must equal the stored
  // count (kFailedPrecondition otherwise) and is used for a new log.
  // Default: 0
  int32_t partitions = 0;
  static constexpr int32_t kDefaultPartitions = 8;

  // Create the directory and an empty log when `dir` holds none; otherwise
  // Open returns kNotFound. Default: true
  bool create_if_missing = true;

  // Follow a log that another EmbeddedLog writes (typically another
  // process, e.g. `crm run` while `crm ingest` appends): takes no LOCK,
  // recovers nothing, Append is kFailedPrecondition, and readers see the
  // records the writer has made visible (synced, under kEveryAppend and
  // kInterval), polling for more every 5 ms while they wait. The log must
  // exist. Default: false
  bool read_only = false;

  // Check every frame of every segment on open (and build the seek index).
  // false checks only each partition's newest segment; older ones are
  // checked when first read or sought into (kDataLoss then), which makes
  // opening a large log cost one segment per partition. Default: true
  bool verify_sealed_segments_on_open = true;

  // A partition starts a new segment file once its active one holds at
  // least this many bytes (a segment may exceed it by one Append batch).
  // Default: 128 MiB
  uint64_t segment_bytes = uint64_t{128} << 20;

  // See FsyncPolicy. Default: kEveryAppend
  FsyncPolicy fsync = FsyncPolicy::kEveryAppend;
  // Period of the background sync under kInterval. Default: 100 ms
  absl::Duration fsync_interval = absl::Milliseconds(100);

  // Under kEveryAppend, helper threads that fdatasync the partitions of one
  // Append in parallel: concurrent syncs let the file system commit them in
  // one journal transaction (on ext4 8 partitions sync in ~1/3 of the
  // sequential time). Capped at partitions - 1; 0 syncs one after another
  // on the caller's thread. Default: 7
  int sync_threads = 7;

  // One in-memory sparse index entry (offset -> byte position) per this
  // many bytes of a segment; a seek scans at most this much. Default: 4 KiB
  uint32_t index_interval_bytes = 4096;

  // Bytes each PartitionReader reads per pread(2). Default: 1 MiB
  size_t reader_buffer_bytes = size_t{1} << 20;

  // Source of the append timestamps. Not owned; must outlive the log.
  // Default: nullptr (the system clock)
  const Clock* clock = nullptr;

  // Receives one line per recovery action (e.g. a truncated torn tail).
  // Default: empty (lines go to stderr)
  std::function<void(absl::string_view line)> info_log;
};

// Counters since Open, for monitoring and tests. Monotonic.
struct EmbeddedLogStats {
  int64_t records_appended = 0;
  int64_t write_calls = 0;  // write(2) calls on segment files
  int64_t bytes_written = 0;
  int64_t fsyncs = 0;  // fdatasync(2) calls on segment files
  int64_t segments_rolled = 0;
};

namespace internal {
struct Partition;
struct Counters;
class SyncPool;
class File;
}  // namespace internal

// The embedded durable event log: a topic of N partitions stored under one
// directory as append-only segment files of CRC-checked records (format in
// engine/log/README.md). Opening recovers each partition: a torn tail of the
// newest segment is truncated, any other damage is kDataLoss.
//
// Owned by the process that opened it. One writing EmbeddedLog per
// directory at a time: Open takes an exclusive flock(2) on DIR/LOCK, held
// until the object is destroyed, so a second writer (another process, or
// the same one) gets kFailedPrecondition instead of recovering a tail that
// is being written. Followers (read_only) take no lock.
// Thread-safe: Append, EndOffset, OpenReader and Sync may be called
// concurrently; readers may outlive the log object.
class EmbeddedLog final : public EventLog {
 public:
  // Opens or creates the log in `dir` (e.g. EmbeddedLogDir(data_dir,
  // topic)). Errors: kFailedPrecondition for a partition-count mismatch
  // (message names both counts), kDataLoss for a corrupt segment or
  // metadata file (message names file and byte offset), kNotFound when the
  // log is missing and !create_if_missing, I/O errors as FromErrno maps
  // them.
  static absl::StatusOr<std::unique_ptr<EmbeddedLog>> Open(
      const std::string& dir, EmbeddedLogOptions options = {});

  // Calls Close() and drops its status.
  ~EmbeddedLog() override;

  int32_t partitions() const override {
    return static_cast<int32_t>(parts_.size());
  }

  // Writes each partition's share of `records` with one write(2), then syncs
  // per the fsync policy. Records of one call with the same key keep their
  // order; concurrent calls are serialized per partition. After a failed
  // write or fsync the partition refuses further appends (the same error)
  // until the log is reopened and recovered. kFailedPrecondition after
  // Close(); kInvalidArgument for a record above 64 MiB.
  absl::Status Append(absl::Span<const RecordRef> records) override;

  // One past the last record visible to readers: synced under
  // kEveryAppend and kInterval, written under kNever. kInvalidArgument for
  // a bad partition.
  absl::StatusOr<int64_t> EndOffset(int32_t partition) override;

  // First kept offset (the oldest segment's base offset; 0 today, as the
  // log never deletes segments).
  absl::StatusOr<int64_t> BeginOffset(int32_t partition) override;

  // A reader from `offset`. Seeks with the per-segment base offsets and the
  // sparse index, then scans at most index_interval_bytes. kOutOfRange when
  // offset < first kept offset or offset > EndOffset(); kInvalidArgument
  // for a bad partition.
  absl::StatusOr<std::unique_ptr<PartitionReader>> OpenReader(
      int32_t partition, int64_t offset) override;

  // Makes every record written so far durable now, whatever the policy.
  absl::Status Sync();

  // Stops the background sync, syncs everything (under every policy) and
  // refuses later Appends with kFailedPrecondition. Idempotent. Must not
  // race with Append. Open readers keep working.
  absl::Status Close();

  EmbeddedLogStats stats() const;
  const std::string& dir() const { return dir_; }
  // Segment files of `partition`, oldest first (tools and tests).
  std::vector<std::string> SegmentPaths(int32_t partition) const;

 private:
  EmbeddedLog(std::string dir, EmbeddedLogOptions options);
  absl::Status SyncPartition(internal::Partition* p);
  void SyncLoop();

  const std::string dir_;
  const EmbeddedLogOptions options_;
  SystemClock system_clock_;
  const Clock* clock_;
  std::vector<std::shared_ptr<internal::Partition>> parts_;
  std::unique_ptr<internal::Counters> counters_;
  std::unique_ptr<internal::SyncPool> sync_pool_;  // kEveryAppend only
  std::unique_ptr<internal::File> lock_file_;      // DIR/LOCK, flock()ed
  std::atomic<bool> closed_{false};
  absl::Mutex close_mu_;
  bool close_done_ = false;  // guarded by close_mu_
  absl::Notification stop_sync_;
  std::thread sync_thread_;
};

// The directory of topic `topic` in a data directory: DATA_DIR/log/TOPIC.
std::string EmbeddedLogDir(absl::string_view data_dir, absl::string_view topic);

}  // namespace crm::log
