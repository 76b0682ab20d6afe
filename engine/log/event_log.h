#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace crm::log {

// A record to append: key = customer_id, value = a serialized
// crm.v1.Envelope. Views into caller-owned bytes, valid during the call.
struct RecordRef {
  absl::string_view key;
  absl::string_view value;
};

// A record read back from one partition.
struct LogRecord {
  int32_t partition = 0;
  int64_t offset = 0;        // position in the partition, from 0, dense
  int64_t timestamp_ms = 0;  // append time (not event time); info only
  std::string key;
  std::string value;
};

// A record as views of bytes kept elsewhere: of a reader's own buffer,
// valid only during the callback that receives it (see
// PartitionReader::PollViews), or of LogRecords (ViewsOf) or a caller's
// buffer, valid as long as those.
struct LogRecordView {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  absl::string_view key;
  absl::string_view value;
};

// Views of `records` into `out` (replacing what it held).
inline void ViewsOf(absl::Span<const LogRecord> records,
                    std::vector<LogRecordView>* out) {
  out->resize(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const LogRecord& r = records[i];
    (*out)[i] =
        LogRecordView{r.partition, r.offset, r.timestamp_ms, r.key, r.value};
  }
}

// Reads one partition in offset order from a start offset. Owned and used by
// one thread.
class PartitionReader {
 public:
  virtual ~PartitionReader() = default;

  // Appends up to `max_records` records to `out`, waiting up to `timeout`
  // for the first one. Returns how many were appended (0 at the end of the
  // log once the timeout passed). Errors: kDataLoss for a corrupt stored
  // record (message names file and offset), kUnavailable when the source
  // cannot be reached.
  virtual absl::StatusOr<size_t> Poll(std::vector<LogRecord>* out,
                                      size_t max_records,
                                      absl::Duration timeout) = 0;

  // Offset of the next record Poll() will return.
  virtual int64_t position() const = 0;

  // Like Poll(), but passes each record to `fn` as views into the reader's
  // buffer instead of copying it into a LogRecord (a decoder can parse
  // straight from the log's buffer). Same return value and errors.
  // Optional: the default polls into a vector and forwards.
  virtual absl::StatusOr<size_t> PollViews(
      size_t max_records, absl::Duration timeout,
      absl::FunctionRef<void(const LogRecordView&)> fn) {
    std::vector<LogRecord> batch;
    absl::StatusOr<size_t> n = Poll(&batch, max_records, timeout);
    if (!n.ok()) return n;
    for (const LogRecord& r : batch) {
      fn(LogRecordView{r.partition, r.offset, r.timestamp_ms, r.key, r.value});
    }
    return n;
  }
};

// The event log: a topic of N partitions, records keyed by customer_id.
// Two implementations: the embedded durable log (engine/log) and Kafka
// (engine/kafka). Append and reading are thread-safe unless an
// implementation says otherwise.
class EventLog {
 public:
  virtual ~EventLog() = default;

  // Number of partitions; fixed for the life of the object.
  virtual int32_t partitions() const = 0;

  // Appends every record to partition PartitionFor(key, partitions()),
  // keeping the order of records with the same key. OK means every record is
  // durable (embedded: written under the fsync policy; Kafka: acknowledged
  // by acks=all). An error means some records may have been written and
  // others not; a retry of the whole batch is safe because consumers
  // deduplicate by event_id. kUnavailable: broker or disk unreachable.
  virtual absl::Status Append(absl::Span<const RecordRef> records) = 0;

  // Offset one past the last record of `partition`.
  virtual absl::StatusOr<int64_t> EndOffset(int32_t partition) = 0;

  // Offset of the first kept record of `partition` (equal to EndOffset when
  // it holds none). Optional: the default says 0, right for a log that
  // never drops records.
  virtual absl::StatusOr<int64_t> BeginOffset(int32_t partition) {
    (void)partition;
    return 0;
  }

  // A reader of `partition` starting at `offset` (0 <= offset <= end).
  // kOutOfRange if offset is past the end or before the first kept record.
  virtual absl::StatusOr<std::unique_ptr<PartitionReader>> OpenReader(
      int32_t partition, int64_t offset) = 0;
};

// Kafka's default partitioner for keyed records (murmur2 of the key bytes,
// as the Java client and librdkafka's "murmur2_random" do), so every
// producer agrees on where a customer lives: (murmur2(key) & 0x7fffffff) % n.
int32_t PartitionFor(absl::string_view key, int32_t partitions);

// The murmur2 hash Kafka uses (seed 0x9747b28c).
uint32_t Murmur2(absl::string_view key);

}  // namespace crm::log
