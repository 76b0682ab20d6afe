// crm validate FILE...: checks every record of every file and reports each
// bad one; writes nothing anywhere.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/exit_codes.h"
#include "engine/event/json_util.h"
#include "engine/event/reader.h"
#include "tools/crm/command.h"

namespace crm::cli {
namespace {

struct ValidateFlags {
  std::vector<std::string> files;
  std::string format = "auto";
  std::string parser = "fast";
  size_t max_record_bytes = 1 << 20;
};

constexpr char kValidateHelp[] =
    "Check event records, report every bad one, write nothing.\n"
    "Reads JSON lines (.jsonl, .ndjson, .json: one crm.v1.Envelope JSON "
    "object per line, protobuf JSON mapping) or CSV (.csv: a header row of "
    "field paths such as event_id,occurred_at,order_placed.amount."
    "minor_units); '-' reads JSON lines from stdin.\n"
    "Checks: JSON/CSV syntax, UTF-8, records over the size limit, empty "
    "lines, unknown fields, wrong value types, and every rule of "
    "events.proto: ids present, printable ASCII and not too long, an event "
    "body present, required enums set and known, amounts not negative, "
    "currencies (3 upper-case letters, one per event), scores in range, "
    "timestamps in 1970..2099 and in order, dates real, string length "
    "limits.\n"
    "Prints one line per bad record: FILE:LINE: FIELD: reason [event_id], "
    "then a summary; with --json, one JSON object per bad record and a "
    "summary object. Exit status: 0 all valid, 1 some record invalid, 2 bad "
    "command line, 3 a file could not be read.";

// Counters over all files.
struct Totals {
  int64_t records = 0;
  int64_t invalid = 0;
  int files = 0;
  int unreadable = 0;
};

void PrintBadRecord(const event::Record& r, bool json) {
  const std::string message(r.status.message());
  const std::string event_id = r.decoded ? r.event.event_id() : "";
  if (json) {
    std::string out = "{\"file\":";
    event::AppendJsonString(r.source, &out);
    absl::StrAppend(&out, ",\"line\":", r.line);
    if (!event_id.empty()) {
      out += ",\"event_id\":";
      event::AppendJsonString(event_id, &out);
    }
    const std::string field = event::ErrorField(message);
    if (!field.empty()) {
      out += ",\"field\":";
      event::AppendJsonString(field, &out);
    }
    out += ",\"error\":";
    event::AppendJsonString(message, &out);
    out += "}\n";
    std::fputs(out.c_str(), stdout);
    return;
  }
  std::string line = absl::StrCat(r.source, ":", r.line, ": ", message);
  if (!event_id.empty()) absl::StrAppend(&line, " [event_id ", event_id, "]");
  line += "\n";
  std::fputs(line.c_str(), stdout);
}

void PrintFileError(const std::string& file, const absl::Status& status,
                    bool json) {
  if (json) {
    std::string out = "{\"file\":";
    event::AppendJsonString(file, &out);
    out += ",\"error\":";
    event::AppendJsonString(status.message(), &out);
    out += "}\n";
    std::fputs(out.c_str(), stdout);
    return;
  }
  const std::string message(status.message());
  // Reader messages about a whole file already start with its name.
  const std::string line = message.rfind(file + ":", 0) == 0
                               ? message + "\n"
                               : absl::StrCat(file, ":", message, "\n");
  std::fputs(line.c_str(), stderr);
}

int RunValidate(const ValidateFlags& flags, const GlobalFlags& global) {
  event::ReaderOptions options;
  absl::StatusOr<event::InputFormat> format =
      event::ParseInputFormat(flags.format);
  if (!format.ok()) {
    std::fprintf(stderr, "crm validate: --format: %s\n",
                 std::string(format.status().message()).c_str());
    return kExitUsage;
  }
  options.format = *format;
  if (flags.parser == "fast") {
    options.json_parser = event::JsonParser::kFast;
  } else if (flags.parser == "protobuf") {
    options.json_parser = event::JsonParser::kProtobuf;
  } else {
    std::fprintf(stderr,
                 "crm validate: --json-parser: expected fast or protobuf, got "
                 "\"%s\"\n",
                 flags.parser.c_str());
    return kExitUsage;
  }
  options.max_record_bytes = flags.max_record_bytes;

  Totals totals;
  bool bad_header = false;
  bool usage_error = false;
  for (const std::string& file : flags.files) {
    ++totals.files;
    absl::StatusOr<std::unique_ptr<event::RecordReader>> reader =
        event::RecordReader::Open(file, options);
    if (!reader.ok()) {
      PrintFileError(file, reader.status(), global.json);
      if (reader.status().code() == absl::StatusCode::kInvalidArgument) {
        usage_error = true;  // format unknown from the name: needs --format
      } else {
        ++totals.unreadable;
      }
      continue;
    }
    event::Record record;
    while (true) {
      absl::StatusOr<bool> more = (*reader)->Next(&record);
      if (!more.ok()) {
        if (more.status().code() == absl::StatusCode::kInvalidArgument) {
          // A bad CSV header: the file's records cannot be read.
          PrintFileError(file, more.status(), global.json);
          bad_header = true;
        } else {
          PrintFileError(file, more.status(), global.json);
          ++totals.unreadable;
        }
        break;
      }
      if (!*more) break;
      ++totals.records;
      if (!record.status.ok()) {
        ++totals.invalid;
        PrintBadRecord(record, global.json);
      }
    }
  }

  if (global.json) {
    std::printf(
        "{\"summary\":true,\"files\":%d,\"records\":%lld,\"invalid\":%lld,"
        "\"unreadable_files\":%d}\n",
        totals.files, static_cast<long long>(totals.records),
        static_cast<long long>(totals.invalid), totals.unreadable);
  } else {
    std::printf(
        "%lld records, %lld invalid, in %d file%s%s\n",
        static_cast<long long>(totals.records),
        static_cast<long long>(totals.invalid), totals.files,
        totals.files == 1 ? "" : "s",
        totals.unreadable > 0
            ? absl::StrCat(" (", totals.unreadable, " unreadable)").c_str()
            : "");
  }
  std::fflush(stdout);
  if (totals.unreadable > 0) return kExitUnavailable;
  if (usage_error) return kExitUsage;
  if (totals.invalid > 0 || bad_header) return kExitInvalidInput;
  return kExitOk;
}

}  // namespace

void RegisterValidate(CLI::App& app, CommandContext& ctx) {
  auto flags = std::make_shared<ValidateFlags>();
  CLI::App* sub = app.add_subcommand("validate", kValidateHelp);
  sub->add_option("files", flags->files,
                  "Event files (.jsonl/.ndjson/.json or .csv); '-' = stdin")
      ->required();
  sub->add_option("--format", flags->format,
                  "Input format: auto (by extension), jsonl or csv")
      ->capture_default_str();
  sub->add_option("--json-parser", flags->parser,
                  "JSON parser: fast (simdjson) or protobuf (reference)")
      ->capture_default_str();
  sub->add_option("--max-record-bytes", flags->max_record_bytes,
                  "Largest record accepted, in bytes")
      ->capture_default_str();
  sub->callback(
      [flags, &ctx] { ctx.exit_code = RunValidate(*flags, ctx.global); });
}

}  // namespace crm::cli
