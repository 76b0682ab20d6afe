#include "tools/crm/wiring.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/base/exit_codes.h"
#include "engine/base/status_macros.h"
#include "engine/event/json_util.h"
#include "engine/kafka/kafka_log.h"
#include "engine/log/embedded_log.h"
#include "projections/rules/rules.h"

namespace crm::cli {

std::string DeadLetterTopic(const GlobalFlags& g) {
  return absl::StrCat(g.topic, ".dlq");
}

absl::StatusOr<std::unique_ptr<log::EventLog>> OpenEventLog(
    const GlobalFlags& g, const std::string& topic, int32_t partitions,
    LogAccess access) {
  const bool create = access == LogAccess::kWrite;
  if (!g.brokers.empty()) {
    kafka::KafkaOptions options;
    options.brokers = g.brokers;
    options.topic = topic;
    options.properties = g.kafka_props;
    if (create) {
      options.create_partitions =
          partitions > 0 ? partitions
                         : log::EmbeddedLogOptions::kDefaultPartitions;
    }
    CRM_ASSIGN_OR_RETURN(auto kafka_log, kafka::KafkaLog::Open(options));
    return std::unique_ptr<log::EventLog>(std::move(kafka_log));
  }
  if (!g.kafka_props.empty()) {
    return absl::InvalidArgumentError(
        "-X: librdkafka properties need --brokers (no Kafka without it)");
  }
  log::EmbeddedLogOptions options;
  options.partitions = partitions;
  options.create_if_missing = create;
  options.read_only = access == LogAccess::kRead;
  auto embedded =
      log::EmbeddedLog::Open(log::EmbeddedLogDir(g.data_dir, topic), options);
  if (!embedded.ok() &&
      embedded.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(
        absl::StrCat("no event log for topic ", topic, " in ", g.data_dir,
                     " (ingest or import events first, or pass --data-dir)"));
  }
  CRM_RETURN_IF_ERROR(embedded.status());
  return std::unique_ptr<log::EventLog>(std::move(*embedded));
}

std::string StoreDir(const GlobalFlags& g) {
  return absl::StrCat(g.data_dir, "/store/", g.topic);
}

absl::StatusOr<v1::Rules> LoadRules(const GlobalFlags& g) {
  if (g.rules.empty()) return projections::DefaultRules();
  return projections::LoadRulesFile(g.rules);
}

int ReportError(const std::string& command, const absl::Status& s) {
  std::fprintf(stderr, "crm %s: error: %s\n", command.c_str(),
               std::string(s.message()).c_str());
  return ExitCodeFor(s);
}

bool ShowProgress(const GlobalFlags& g) {
  return !g.quiet && isatty(STDERR_FILENO) == 1;
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  return absl::StrFormat(u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
}

std::string WithCommas(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

std::string FormatMinorUnits(int64_t minor) {
  const int64_t whole = minor / 100;
  const int64_t cents = (minor < 0 ? -minor : minor) % 100;
  return absl::StrFormat("%s%s.%02d", minor < 0 && whole == 0 ? "-" : "",
                         WithCommas(whole), cents);
}

std::string JsonQuoted(absl::string_view s) {
  std::string out;
  event::AppendJsonString(s, &out);
  return out;
}

double Rate(int64_t count, absl::Duration elapsed) {
  const double secs = absl::ToDoubleSeconds(elapsed);
  return secs > 0 ? static_cast<double>(count) / secs : 0;
}

}  // namespace crm::cli
