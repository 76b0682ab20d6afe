#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/event/reader.h"
#include "engine/log/event_log.h"

namespace crm::ingest {

// One rejected record, as reported to the user: "FILE:LINE: FIELD: reason".
struct Rejection {
  std::string source;
  int64_t line = 0;
  std::string event_id;  // when the record decoded far enough
  std::string message;   // the reader's / validator's message
};

struct IngestProgress {
  std::string source;
  int64_t records = 0;  // read so far in this file
  int64_t bytes = 0;    // of encoded events buffered so far
};

struct IngestOptions {
  // Write the valid records of a file that has invalid ones (and report the
  // invalid ones) instead of rejecting the whole file. Default: false
  bool skip_invalid = false;
  // Records per EventLog::Append (one fsync each on the embedded log).
  // Default: 10,000
  size_t append_batch = 10000;
  // Bytes of encoded events held in memory per file before spilling to a
  // spool file next to `spool_dir`. Default: 512 MiB
  size_t memory_budget_bytes = size_t{512} << 20;
  // Directory for spool files of files larger than the memory budget.
  // Default: the system temp directory
  std::string spool_dir;
  // How to read the files (format, parser, size cap). Validation is always
  // on.
  event::ReaderOptions reader;
  // Called every `progress_every` records while reading. Default: none
  std::function<void(const IngestProgress&)> progress;
  int64_t progress_every = 100000;
};

// What happened to one input file.
struct FileResult {
  std::string source;
  int64_t records = 0;    // records read (valid + invalid)
  int64_t appended = 0;   // records written to the log
  int64_t bytes = 0;      // encoded bytes written
  bool rejected = false;  // nothing written because of invalid records
  std::vector<Rejection> rejections;
};

// Reads `path` ("-" = stdin; JSON lines or CSV), validates every record,
// and appends the valid events to `log` keyed by customer_id. All or
// nothing: if any record is invalid, nothing of the file is written
// (unless options.skip_invalid) and every bad record is in the result.
// Validation finishes before the first append, so a rejected file leaves
// the log untouched.
//
// Returns an error only when the file or the log fails (kNotFound,
// kUnavailable, ...); invalid records are not an error of this call. If an
// append fails midway, a prefix of the file may be in the log; ingesting
// the file again is safe because the projector drops events whose
// event_id it has applied.
absl::StatusOr<FileResult> IngestFile(const std::string& path,
                                      log::EventLog& log,
                                      const IngestOptions& options = {});

}  // namespace crm::ingest
