// crm export --to FILE: copy the event log (embedded or Kafka) into one
// archive file in the embedded log's record format.

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "engine/base/exit_codes.h"
#include "engine/log/archive.h"
#include "tools/crm/command.h"
#include "tools/crm/wiring.h"

namespace crm::cli {
namespace {

struct ExportFlags {
  std::string to;
  bool overwrite = false;
};

int RunExport(const ExportFlags& flags, const GlobalFlags& g) {
  auto log = OpenEventLog(g, g.topic, 0, LogAccess::kRead);
  if (!log.ok()) return ReportError("export", log.status());
  log::ExportOptions options;
  options.writer.overwrite = flags.overwrite;
  const absl::Time start = absl::Now();
  if (ShowProgress(g)) {
    options.progress = [start](const log::ArchiveProgress& p) {
      const double pct =
          p.total_records > 0 ? 100.0 * p.records / p.total_records : 100.0;
      std::fprintf(stderr,
                   "\r\033[K  export: partition %d, %s of %s records "
                   "(%.0f%%), %s, %.0f records/s",
                   p.partition, WithCommas(p.records).c_str(),
                   WithCommas(p.total_records).c_str(), pct,
                   HumanBytes(static_cast<double>(p.bytes)).c_str(),
                   Rate(p.records, absl::Now() - start));
    };
  }
  auto result = log::ExportToArchive(**log, flags.to, options);
  if (ShowProgress(g)) std::fprintf(stderr, "\r\033[K");
  if (!result.ok()) return ReportError("export", result.status());
  const absl::Duration elapsed = absl::Now() - start;
  std::fprintf(stderr,
               "export: %s records of %d partitions to %s (%s), %.2f s, %.0f "
               "records/s\n",
               WithCommas(result->records).c_str(), (*log)->partitions(),
               flags.to.c_str(),
               HumanBytes(static_cast<double>(result->bytes)).c_str(),
               absl::ToDoubleSeconds(elapsed), Rate(result->records, elapsed));
  return kExitOk;
}

struct ImportFlags {
  std::string file;
  int32_t partitions = 0;
};

int RunImport(const ImportFlags& flags, const GlobalFlags& g) {
  auto archive = log::ArchiveReader::Open(flags.file);
  if (!archive.ok()) return ReportError("import", archive.status());
  auto log = OpenEventLog(g, g.topic, flags.partitions, LogAccess::kWrite);
  if (!log.ok()) return ReportError("import", log.status());
  log::ImportOptions options;
  const absl::Time start = absl::Now();
  if (ShowProgress(g)) {
    options.progress = [start](const log::ArchiveProgress& p) {
      const double pct =
          p.total_records > 0 ? 100.0 * p.records / p.total_records : 100.0;
      std::fprintf(stderr,
                   "\r\033[K  import: %s of %s records (%.0f%%), %.0f "
                   "records/s",
                   WithCommas(p.records).c_str(),
                   WithCommas(p.total_records).c_str(), pct,
                   Rate(p.records, absl::Now() - start));
    };
  }
  auto result = log::ImportArchive(**archive, **log, options);
  if (ShowProgress(g)) std::fprintf(stderr, "\r\033[K");
  if (!result.ok()) return ReportError("import", result.status());
  const absl::Duration elapsed = absl::Now() - start;
  std::fprintf(stderr,
               "import: %s records from %s into %s, %.2f s, %.0f "
               "records/s\n",
               WithCommas(result->records).c_str(), flags.file.c_str(),
               g.topic.c_str(), absl::ToDoubleSeconds(elapsed),
               Rate(result->records, elapsed));
  return kExitOk;
}

}  // namespace

void RegisterExport(CLI::App& app, CommandContext& ctx) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* sub =
      app.add_subcommand("export", "Copy the log into an archive file");
  sub->footer(
      "Copies every record of every partition of the event log (the "
      "embedded log in --data-dir, or the Kafka topic with --brokers) up to "
      "its end at the start of the export into one archive file, in the "
      "embedded log's CRC-checked record format; each record keeps its "
      "partition and offset. The file appears only when complete. `crm "
      "import` and `crm replay` read it.");
  sub->add_option("--to", flags->to, "Archive file to write")->required();
  sub->add_flag("--overwrite", flags->overwrite, "Replace an existing file");
  sub->callback(
      [flags, &ctx] { ctx.exit_code = RunExport(*flags, ctx.global); });
}

void RegisterImport(CLI::App& app, CommandContext& ctx) {
  auto flags = std::make_shared<ImportFlags>();
  CLI::App* sub =
      app.add_subcommand("import", "Append an archive file to the log");
  sub->footer(
      "Appends every record of an archive (from `crm export`) to the event "
      "log, in archive order; records are partitioned again by key, so "
      "per-customer order survives a different partition count. Importing "
      "twice is safe: the projector applies each event_id once.");
  sub->add_option("file", flags->file, "Archive file")->required();
  sub->add_option("--partitions", flags->partitions,
                  "Partitions of a new log (default 8)");
  sub->callback(
      [flags, &ctx] { ctx.exit_code = RunImport(*flags, ctx.global); });
}

}  // namespace crm::cli
