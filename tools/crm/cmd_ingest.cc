// crm ingest FILE...: validate files and append them to the event log, all
// or nothing per file.

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "engine/base/exit_codes.h"
#include "engine/ingest/ingest.h"
#include "tools/crm/command.h"
#include "tools/crm/wiring.h"

namespace crm::cli {
namespace {

struct IngestFlags {
  std::vector<std::string> files;
  bool skip_invalid = false;
  std::string reject_file;
  std::string format = "auto";
  int32_t partitions = 0;
  size_t batch = 10000;
};

constexpr char kIngestHelp[] =
    "Validate event files and append them to the event log.\n"
    "Reads JSON lines or CSV (as `crm validate` does; '-' is stdin). Every "
    "record of a file is validated before anything is written: a file with "
    "any invalid record is rejected whole, with one line per bad record "
    "(FILE:LINE: FIELD: reason), and nothing of it reaches the log. With "
    "--skip-invalid the valid records are written and the bad ones listed "
    "(and written to --reject-file).\n"
    "Goes to the embedded log in --data-dir (created with --partitions "
    "partitions if missing), or to Kafka with --brokers. Ingesting the same "
    "file twice is safe: the projector applies each event_id once.\n"
    "Exit status: 0 all written, 1 a file rejected, 2 bad command line, "
    "3 a file or the log unavailable.";

void PrintRejection(const ingest::Rejection& r, FILE* out) {
  std::string line = absl::StrFormat("%s:%d: %s", r.source, r.line, r.message);
  if (!r.event_id.empty()) line += " [event_id " + r.event_id + "]";
  std::fprintf(out, "%s\n", line.c_str());
}

int RunIngest(const IngestFlags& flags, const GlobalFlags& g) {
  auto format = event::ParseInputFormat(flags.format);
  if (!format.ok()) return ReportError("ingest", format.status());
  auto log = OpenEventLog(g, g.topic, flags.partitions, LogAccess::kWrite);
  if (!log.ok()) return ReportError("ingest", log.status());

  std::unique_ptr<std::ofstream> rejects;
  if (!flags.reject_file.empty()) {
    rejects = std::make_unique<std::ofstream>(flags.reject_file);
    if (!*rejects) {
      return ReportError("ingest", absl::UnavailableError(absl::StrCat(
                                       "cannot write ", flags.reject_file)));
    }
  }

  ingest::IngestOptions options;
  options.skip_invalid = flags.skip_invalid;
  options.append_batch = flags.batch;
  options.reader.format = *format;
  const bool progress = ShowProgress(g);
  const absl::Time start = absl::Now();
  if (progress) {
    options.progress = [start](const ingest::IngestProgress& p) {
      std::fprintf(stderr, "\r  %s: %s records read (%.0f/s)   ",
                   p.source.c_str(), WithCommas(p.records).c_str(),
                   Rate(p.records, absl::Now() - start));
    };
  }

  int64_t records = 0, appended = 0, bytes = 0, invalid = 0;
  int rejected_files = 0;
  int exit_code = kExitOk;
  for (const std::string& file : flags.files) {
    auto result = ingest::IngestFile(file, **log, options);
    if (progress) std::fprintf(stderr, "\r\033[K");
    if (!result.ok()) {
      exit_code = ReportError("ingest", result.status());
      if (exit_code == kExitInvalidInput) exit_code = kExitUnavailable;
      break;  // the log or a file failed: stop here, say what was done
    }
    records += result->records;
    appended += result->appended;
    bytes += result->bytes;
    invalid += static_cast<int64_t>(result->rejections.size());
    for (const auto& r : result->rejections) {
      PrintRejection(r, stderr);
      if (rejects != nullptr) {
        std::string line =
            absl::StrFormat("%s:%d: %s\n", r.source, r.line, r.message);
        *rejects << line;
      }
    }
    if (result->rejected) {
      ++rejected_files;
      std::fprintf(
          stderr, "%s: rejected, nothing written (%s invalid of %s records)\n",
          result->source.c_str(),
          WithCommas(static_cast<int64_t>(result->rejections.size())).c_str(),
          WithCommas(result->records).c_str());
      exit_code = kExitInvalidInput;
    }
  }
  const absl::Duration elapsed = absl::Now() - start;
  std::fprintf(stderr,
               "ingest: %s of %s records written (%s), %s invalid, %d of %zu "
               "files rejected, %.2f s, %.0f records/s\n",
               WithCommas(appended).c_str(), WithCommas(records).c_str(),
               HumanBytes(static_cast<double>(bytes)).c_str(),
               WithCommas(invalid).c_str(), rejected_files, flags.files.size(),
               absl::ToDoubleSeconds(elapsed), Rate(records, elapsed));
  return exit_code;
}

}  // namespace

void RegisterIngest(CLI::App& app, CommandContext& ctx) {
  auto flags = std::make_shared<IngestFlags>();
  CLI::App* sub = app.add_subcommand("ingest",
                                     "Validate files and append "
                                     "them to the log (all or "
                                     "nothing per file)");
  sub->footer(kIngestHelp);
  sub->add_option("files", flags->files,
                  "Event files (JSON lines or CSV; - = stdin)")
      ->required();
  sub->add_flag("--skip-invalid", flags->skip_invalid,
                "Write the valid records of a file that has invalid ones");
  sub->add_option("--reject-file", flags->reject_file,
                  "Also write the rejected records' errors to this file");
  sub->add_option("--format", flags->format, "auto, jsonl or csv")
      ->capture_default_str();
  sub->add_option("--partitions", flags->partitions,
                  "Partitions of a new log (default 8)");
  sub->add_option("--batch", flags->batch,
                  "Records per append (one fsync each on the embedded log)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->callback(
      [flags, &ctx] { ctx.exit_code = RunIngest(*flags, ctx.global); });
}

}  // namespace crm::cli
