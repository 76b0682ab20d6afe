#include "engine/event/reader.h"

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/event/codec.h"
#include "engine/event/csv.h"
#include "engine/event/json_decoder.h"
#include "engine/event/json_util.h"
#include "engine/event/validator.h"

namespace crm::event {

absl::StatusOr<InputFormat> ParseInputFormat(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "auto") return InputFormat::kAuto;
  if (n == "jsonl" || n == "json" || n == "ndjson") {
    return InputFormat::kJsonLines;
  }
  if (n == "csv") return InputFormat::kCsv;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown input format \"", name, "\", expected auto, jsonl or csv"));
}

absl::StatusOr<InputFormat> FormatForPath(absl::string_view path) {
  if (path == "-") return InputFormat::kJsonLines;
  const std::string p = absl::AsciiStrToLower(path);
  for (const char* ext : {".jsonl", ".ndjson", ".json"}) {
    if (absl::EndsWith(p, ext)) return InputFormat::kJsonLines;
  }
  if (absl::EndsWith(p, ".csv")) return InputFormat::kCsv;
  return absl::InvalidArgumentError(absl::StrCat(
      path,
      ": cannot tell the format from the extension (expected .jsonl, "
      ".ndjson, .json or .csv); give --format jsonl or --format csv"));
}

std::string ErrorField(absl::string_view message) {
  const size_t colon = message.find(": ");
  if (colon == absl::string_view::npos || colon == 0) return "";
  const absl::string_view head = message.substr(0, colon);
  for (char c : head) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '[' ||
          c == ']')) {
      return "";
    }
  }
  return std::string(head);
}

// Physical lines of a file, stdin or a string, without their line break
// (and without a '\r' before it). Lines longer than a cap are measured but
// not kept, so one huge line cannot exhaust memory.
class RecordReader::LineSource {
 public:
  LineSource(FILE* file, bool owned) : file_(file), owned_(owned) {
    buffer_.resize(64 << 10);
  }
  explicit LineSource(std::string contents) : buffer_(std::move(contents)) {
    end_ = buffer_.size();
    eof_ = true;
  }
  ~LineSource() {
    if (owned_ && file_ != nullptr) std::fclose(file_);
  }

  // Next line into `*line` (at most `cap` + 1 bytes of it are kept);
  // `*length` = its full length. False at the end of input.
  absl::StatusOr<bool> Next(std::string* line, size_t cap, size_t* length) {
    line->clear();
    *length = 0;
    bool any = false;
    while (true) {
      if (pos_ < end_) {
        any = true;
        const char* start = buffer_.data() + pos_;
        const size_t avail = end_ - pos_;
        const void* nl = std::memchr(start, '\n', avail);
        const size_t take =
            nl == nullptr ? avail : static_cast<const char*>(nl) - start;
        *length += take;
        if (line->size() <= cap) {
          line->append(start, std::min(take, cap + 1 - line->size()));
        }
        pos_ += take;
        if (nl != nullptr) {
          ++pos_;
          break;
        }
      }
      if (eof_) {
        if (!any) return false;
        break;
      }
      CRM_RETURN_IF_ERROR(Fill());
    }
    if (*length <= cap && !line->empty() && line->back() == '\r') {
      line->pop_back();
      --*length;
    }
    return true;
  }

 private:
  absl::Status Fill() {
    pos_ = 0;
    end_ = std::fread(buffer_.data(), 1, buffer_.size(), file_);
    if (end_ < buffer_.size()) {
      if (std::ferror(file_)) {
        return absl::UnavailableError(
            absl::StrCat("read error: ", std::strerror(errno)));
      }
      eof_ = true;
    }
    return absl::OkStatus();
  }

  FILE* file_ = nullptr;
  bool owned_ = false;
  std::string buffer_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
};

class RecordReader::Impl {
 public:
  Impl(InputFormat format, std::unique_ptr<LineSource> lines,
       const ReaderOptions& options)
      : format_(format),
        lines_(std::move(lines)),
        options_(options),
        decoder_(crm::v1::Envelope::descriptor()) {}

  absl::StatusOr<bool> Next(Record* r) {
    r->status = absl::OkStatus();
    r->event.Clear();
    r->decoded = false;
    if (format_ == InputFormat::kCsv && !schema_.has_value()) {
      CRM_ASSIGN_OR_RETURN(bool have, ReadHeader());
      if (!have) return false;
    }
    size_t length = 0;
    CRM_ASSIGN_OR_RETURN(
        bool have, lines_->Next(&line_, options_.max_record_bytes, &length));
    if (!have) return false;
    r->line = ++line_number_;
    StripBom();
    if (format_ == InputFormat::kCsv) {
      CRM_RETURN_IF_ERROR(JoinQuotedLines(&length, r));
      if (!r->status.ok()) return true;
    }
    if (length > options_.max_record_bytes) {
      r->status = absl::InvalidArgumentError(
          absl::StrCat("record is ", length, " bytes, over the limit of ",
                       options_.max_record_bytes, " bytes (",
                       options_.max_record_bytes == (1 << 20)
                           ? std::string("1 MiB")
                           : absl::StrCat(options_.max_record_bytes, " bytes"),
                       ")"));
      return true;
    }
    if (absl::StripAsciiWhitespace(line_).empty()) {
      r->status = absl::InvalidArgumentError(
          format_ == InputFormat::kCsv ? "empty line, expected a CSV record"
                                       : "empty line, expected a JSON object");
      return true;
    }
    const long bad = FirstInvalidUtf8(line_);
    if (bad >= 0) {
      r->status = absl::InvalidArgumentError(
          absl::StrCat("invalid UTF-8 at byte ", bad + 1, " of the record"));
      return true;
    }
    if (format_ == InputFormat::kCsv) {
      absl::StatusOr<std::vector<std::string>> cells = SplitCsvRecord(line_);
      if (!cells.ok()) {
        r->status = cells.status();
        return true;
      }
      absl::StatusOr<std::string> json = schema_->RowToJson(*cells);
      if (!json.ok()) {
        r->status = json.status();
        return true;
      }
      json_ = std::move(json).value();
      DecodeAndValidate(json_, r);
      if (!r->status.ok()) AddColumn(r);
      return true;
    }
    DecodeAndValidate(line_, r);
    return true;
  }

 private:
  void StripBom() {
    if (line_number_ == 1 && absl::StartsWith(line_, "\xEF\xBB\xBF")) {
      line_.erase(0, 3);
    }
  }

  // A CSV record continues on the next line while a quoted field is open.
  absl::Status JoinQuotedLines(size_t* length, Record* r) {
    while (*length <= options_.max_record_bytes && CsvRecordIsOpen(line_)) {
      size_t more = 0;
      CRM_ASSIGN_OR_RETURN(
          bool have, lines_->Next(&next_, options_.max_record_bytes, &more));
      if (!have) {
        r->status = absl::InvalidArgumentError(
            "unterminated quoted field at the end of the input");
        return absl::OkStatus();
      }
      ++line_number_;
      *length += 1 + more;
      if (*length <= options_.max_record_bytes) {
        line_.push_back('\n');
        line_.append(next_);
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> ReadHeader() {
    size_t length = 0;
    CRM_ASSIGN_OR_RETURN(
        bool have, lines_->Next(&line_, options_.max_record_bytes, &length));
    if (!have) return false;
    ++line_number_;
    StripBom();
    Record unused;
    CRM_RETURN_IF_ERROR(JoinQuotedLines(&length, &unused));
    auto fail = [](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("CSV header: ", why));
    };
    if (!unused.status.ok()) return fail(unused.status.message());
    if (length > options_.max_record_bytes)
      return fail("longer than the record limit");
    if (absl::StripAsciiWhitespace(line_).empty()) {
      return fail("empty, expected field paths such as event_id,customer_id");
    }
    absl::StatusOr<std::vector<std::string>> cells = SplitCsvRecord(line_);
    if (!cells.ok()) return fail(cells.status().message());
    absl::StatusOr<CsvSchema> schema = CsvSchema::FromHeader(*cells);
    if (!schema.ok()) return fail(schema.status().message());
    schema_.emplace(std::move(schema).value());
    return true;
  }

  void DecodeAndValidate(absl::string_view json, Record* r) {
    if (options_.json_parser == JsonParser::kFast) {
      r->status = decoder_.Decode(json, &r->event);
    } else {
      r->status = DecodeJsonTo(json, &r->event);
    }
    if (!r->status.ok()) return;
    r->decoded = true;
    if (options_.validate) r->status = Validate(r->event);
  }

  // Names the CSV column of the field an error is about.
  void AddColumn(Record* r) {
    const std::string field = ErrorField(r->status.message());
    const int column = field.empty() ? -1 : schema_->ColumnOf(field);
    if (column >= 0) {
      r->status = absl::Status(
          r->status.code(),
          absl::StrCat(r->status.message(), " (column ", column + 1, ")"));
    }
  }

  InputFormat format_;
  std::unique_ptr<LineSource> lines_;
  ReaderOptions options_;
  FastJsonDecoder decoder_;
  std::optional<CsvSchema> schema_;
  int64_t line_number_ = 0;
  std::string line_;
  std::string next_;
  std::string json_;
};

RecordReader::RecordReader(std::string source, InputFormat format,
                           std::unique_ptr<LineSource> lines,
                           const ReaderOptions& options)
    : source_(std::move(source)),
      format_(format),
      impl_(std::make_unique<Impl>(format, std::move(lines), options)) {}

RecordReader::~RecordReader() = default;

absl::StatusOr<std::unique_ptr<RecordReader>> RecordReader::Open(
    const std::string& path, const ReaderOptions& options) {
  InputFormat format = options.format;
  if (format == InputFormat::kAuto) {
    CRM_ASSIGN_OR_RETURN(format, FormatForPath(path));
  }
  std::unique_ptr<LineSource> lines;
  if (path == "-") {
    lines = std::make_unique<LineSource>(stdin, /*owned=*/false);
  } else {
    FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
      const int err = errno;
      const std::string message =
          absl::StrCat(path, ": cannot open: ", std::strerror(err));
      if (err == ENOENT) return absl::NotFoundError(message);
      if (err == EACCES) return absl::PermissionDeniedError(message);
      return absl::UnavailableError(message);
    }
    lines = std::make_unique<LineSource>(file, /*owned=*/true);
  }
  return std::unique_ptr<RecordReader>(
      new RecordReader(path, format, std::move(lines), options));
}

absl::StatusOr<std::unique_ptr<RecordReader>> RecordReader::FromString(
    std::string source, std::string contents, const ReaderOptions& options) {
  InputFormat format = options.format;
  if (format == InputFormat::kAuto) {
    CRM_ASSIGN_OR_RETURN(format, FormatForPath(source));
  }
  return std::unique_ptr<RecordReader>(new RecordReader(
      std::move(source), format,
      std::make_unique<LineSource>(std::move(contents)), options));
}

absl::StatusOr<bool> RecordReader::Next(Record* record) {
  record->source = source_;
  absl::StatusOr<bool> more = impl_->Next(record);
  if (!more.ok()) {
    // Name the input: "FILE: read error: ..." or "FILE:1: CSV header: ...".
    const bool header =
        more.status().code() == absl::StatusCode::kInvalidArgument;
    return absl::Status(
        more.status().code(),
        absl::StrCat(source_, header ? ":1: " : ": ", more.status().message()));
  }
  return more;
}

absl::Status ForEachRecord(const std::string& path,
                           const ReaderOptions& options,
                           const std::function<void(const Record&)>& fn) {
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<RecordReader> reader,
                       RecordReader::Open(path, options));
  Record record;
  while (true) {
    CRM_ASSIGN_OR_RETURN(bool more, reader->Next(&record));
    if (!more) return absl::OkStatus();
    fn(record);
  }
}

}  // namespace crm::event
