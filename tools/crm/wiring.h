#pragma once

// How the crm program turns the common flags into real objects: which event
// log, which store directory, which rules. The only place that knows both
// the embedded log and Kafka.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/v1/rules.pb.h"
#include "engine/log/event_log.h"
#include "tools/crm/command.h"

namespace crm::cli {

// Topics next to the event topic.
std::string DeadLetterTopic(const GlobalFlags& g);  // "<topic>.dlq"
inline constexpr char kTransitionsTopic[] = "crm.transitions";

// How a command uses a log.
enum class LogAccess {
  // Append (and read); create the log/topic when missing. On the embedded
  // log only one writer per directory at a time.
  kWrite,
  // Read only; the log must exist. On the embedded log a follower: takes
  // no lock, so `crm run` reads while `crm ingest` appends.
  kRead,
};

// Opens `topic`: on Kafka when --brokers is given (kWrite creates a missing
// topic with `partitions`), else the embedded log in DATA_DIR/log/TOPIC
// (kWrite creates it with `partitions`, or the default count; an existing
// log keeps its count). partitions = 0 means "the existing count, or the
// default for a new log".
absl::StatusOr<std::unique_ptr<log::EventLog>> OpenEventLog(
    const GlobalFlags& g, const std::string& topic, int32_t partitions,
    LogAccess access);

// DATA_DIR/store/TOPIC: the worker's partition stores.
std::string StoreDir(const GlobalFlags& g);

// --rules FILE, or the built-in defaults (deploy/rules/default.textproto).
absl::StatusOr<v1::Rules> LoadRules(const GlobalFlags& g);

// "crm CMD: error: MESSAGE" on stderr; returns the exit code for `s`.
int ReportError(const std::string& command, const absl::Status& s);

// True when progress output should be drawn (stderr is a terminal and
// --quiet was not given).
bool ShowProgress(const GlobalFlags& g);

// "12.3 MB", "1.2 GB".
std::string HumanBytes(double bytes);
// "1,234,567".
std::string WithCommas(int64_t n);
// "12,345.67" from minor units (two decimals).
std::string FormatMinorUnits(int64_t minor);
// `s` as a quoted JSON string.
std::string JsonQuoted(absl::string_view s);
// Events per second over `elapsed`, 0 when elapsed is 0.
double Rate(int64_t count, absl::Duration elapsed);

}  // namespace crm::cli
