#pragma once

// Streaming reader of event files: JSON lines (one crm.v1.Envelope JSON
// object per line) or CSV (header row of field paths, see csv.h). Yields
// every record with where it came from and either the decoded (and, by
// default, validated) event or an error naming the field. Used by
// `crm validate` and `crm ingest`.

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/v1/events.pb.h"

namespace crm::event {

enum class InputFormat {
  kAuto,       // by file extension; stdin ("-") is JSON lines
  kJsonLines,  // .jsonl, .ndjson, .json
  kCsv,        // .csv
};

// Which JSON parser turns a line into an Envelope. Both implement protobuf's
// JSON mapping; kFast is the default (see json_decoder.h), kProtobuf is the
// reference google::protobuf::util::JsonStringToMessage.
enum class JsonParser { kFast, kProtobuf };

// "auto", "jsonl" (also "json", "ndjson") or "csv"; kInvalidArgument else.
absl::StatusOr<InputFormat> ParseInputFormat(absl::string_view name);

// The format of `path` from its extension ("-" = stdin = JSON lines).
// kInvalidArgument when the extension says nothing.
absl::StatusOr<InputFormat> FormatForPath(absl::string_view path);

struct ReaderOptions {
  // Input format. Default: from the extension.
  InputFormat format = InputFormat::kAuto;
  // Largest record accepted, in bytes (a longer one is reported, skipped,
  // and reading goes on). Default: 1 MiB
  size_t max_record_bytes = 1 << 20;
  // JSON parser. Default: the fast one.
  JsonParser json_parser = JsonParser::kFast;
  // Also run Validate() (validator.h) on every decoded event.
  // Default: true
  bool validate = true;
};

// One record of an input.
struct Record {
  // The input's name as given ("-" for stdin).
  std::string source;
  // 1-based line where the record starts.
  int64_t line = 0;
  // OK, or kInvalidArgument: "FIELD: reason" (the field path first, as the
  // validator writes it), or a reason alone when no field is involved
  // ("empty line, expected a JSON object").
  absl::Status status;
  // The event; complete when status is OK. When only validation failed it
  // holds the decoded event (event_id may be known).
  crm::v1::Envelope event;
  // True when `event` was decoded (status OK or a validation error).
  bool decoded = false;
};

// The field path an error message starts with ("order_placed.amount" of
// "order_placed.amount: required, got unset"), or "" when it names none.
std::string ErrorField(absl::string_view message);

// Reads records one at a time from a file, stdin or a string. Owns its
// input; not thread-safe (one reader per thread).
class RecordReader {
 public:
  // Opens `path` ("-" = stdin). kNotFound when it does not exist,
  // kPermissionDenied or kUnavailable when it cannot be read,
  // kInvalidArgument when the format cannot be told from the extension.
  static absl::StatusOr<std::unique_ptr<RecordReader>> Open(
      const std::string& path, const ReaderOptions& options = {});

  // Reads `contents` as if it were a file named `source`.
  static absl::StatusOr<std::unique_ptr<RecordReader>> FromString(
      std::string source, std::string contents,
      const ReaderOptions& options = {});

  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Fills `*record` with the next record; false at the end of input. An
  // error means the rest of the input cannot be read: kUnavailable for an
  // I/O error ("FILE: read error: ..."), kInvalidArgument
  // "FILE:1: CSV header: ..." for a bad CSV header.
  absl::StatusOr<bool> Next(Record* record);

  const std::string& source() const { return source_; }
  InputFormat format() const { return format_; }

 private:
  class LineSource;
  class Impl;
  RecordReader(std::string source, InputFormat format,
               std::unique_ptr<LineSource> lines, const ReaderOptions& options);

  std::string source_;
  InputFormat format_;
  std::unique_ptr<Impl> impl_;
};

// Reads every record of `path`, calling `fn` for each. Returns what Open()
// or Next() returned on a fatal error, else OK (bad records are passed to
// `fn`, not returned).
absl::Status ForEachRecord(const std::string& path,
                           const ReaderOptions& options,
                           const std::function<void(const Record&)>& fn);

}  // namespace crm::event
